-- switchboard_admit_dispatch answers its decision by name (db/functions/admit_dispatch.sql):
-- admitted, deferred until a time, or canceled with its batch (which it signalled by answering
-- now() before). The answer's shape changes, so the old function goes first.
DROP FUNCTION IF EXISTS switchboard_admit_dispatch(bigint, uuid, text);
