-- One write appends an attempt to a chain, for intake, retries and batches alike
-- (switchboard_append_attempt, db/functions/append_attempt.sql). It answers one row of this type,
-- read by column name: what happened, and the attempt when there is one.
CREATE TYPE switchboard_append_outcome AS ENUM (
  'accepted', 'duplicate', 'invalid_api_key', 'agent_not_found', 'agent_has_no_phone', 'conversation_not_found',
  'concurrency_limited', 'rate_limited'
);
COMMENT ON TYPE switchboard_append_outcome IS 'What switchboard_append_attempt did: accepted, or why not.';

CREATE TYPE switchboard_appended AS (
  outcome switchboard_append_outcome,
  trace_id uuid,
  conversation_id uuid,
  attempt_number integer,
  status text,
  scheduled_for timestamptz,
  agent_id bigint,
  batch_id bigint,
  rate_remaining integer,
  rate_reset_seconds double precision,
  retry_after_seconds double precision,
  current_calls integer
);
COMMENT ON TYPE switchboard_appended IS 'The answer of switchboard_append_attempt: the outcome, the attempt (accepted or duplicate), and the limit that refused it.';

-- Replaced by switchboard_append_attempt; switchboard_accept_calls answers a new shape.
DROP FUNCTION IF EXISTS switchboard_accept_call(bigint, bigint, uuid, uuid, uuid, integer, text, jsonb, text, text,
  integer, jsonb, timestamptz, integer, integer, integer, integer);
DROP FUNCTION IF EXISTS switchboard_accept_calls(jsonb, integer);
