-- A new final status (#11): `voicemail`, the call reached a machine; retryable by `retry_on`.
-- The status sets are re-spelled with it (the order is CallStatus's). The column's CHECK and the
-- views read the functions, so they follow; no partial index is built on these two sets.
CREATE OR REPLACE FUNCTION switchboard_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT ARRAY['scheduled', 'initiated', 'dispatching', 'dispatched', 'ringing', 'in_progress', 'completed', 'no_answer', 'busy', 'failed', 'unreachable', 'voicemail', 'canceled']::text[] $function$;
CREATE OR REPLACE FUNCTION switchboard_terminal_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT ARRAY['completed', 'no_answer', 'busy', 'failed', 'unreachable', 'voicemail', 'canceled']::text[] $function$;
COMMENT ON COLUMN call_attempts.status IS 'scheduled, initiated, dispatching, dispatched, ringing, in_progress, or a final status: completed, no_answer, busy, failed, unreachable, voicemail (a machine answered), canceled.';

-- batch_progress as 0008 wrote it, with what the metrics route answers besides: contacts waiting
-- for a retry, the average call length, contacts a machine answered, and socket failures.
-- batch_progress: db/functions/batch_progress.sql
