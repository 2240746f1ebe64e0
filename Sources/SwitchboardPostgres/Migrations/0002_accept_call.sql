-- The per-number limit (GCRA): takes one call for (tenant, number) if the limit allows it. The
-- row lock of the upsert makes concurrent takers queue. o_tat is the theoretical arrival time
-- after the call (allowed) or as it stands (refused): a call is allowed again at
-- o_tat + interval - burst * interval.
-- switchboard_take_number_slot: db/functions/take_number_slot.sql

-- Accepting a call in one statement, so intake costs one round trip and is atomic: either the
-- attempt is recorded with everything it consumes (idempotency key, rate-limit token, attempt
-- number), or nothing changes. Rules that need no database are checked by the service before.
-- switchboard_accept_call: db/functions/accept_call.sql
