-- Search that scales (#11): chains are listed newest first, by (created_at, conversation_id), and
-- paged by a cursor on that pair. Every filter has an index that starts with tenant_id and ends
-- with that order, so a page costs the same at the top as 500 pages deep.

DROP INDEX conversations_agent;
DROP INDEX conversations_batch;
CREATE INDEX conversations_created ON conversations (tenant_id, created_at, conversation_id);
CREATE INDEX conversations_agent ON conversations (tenant_id, agent_id, created_at, conversation_id);
CREATE INDEX conversations_batch ON conversations (tenant_id, batch_id, created_at, conversation_id)
  WHERE batch_id IS NOT NULL;
CREATE INDEX conversations_phone ON conversations (tenant_id, customer_phone, created_at, conversation_id);

-- A chain's status is its latest attempt's, which changes with every report: kept on the attempt
-- alone (a copy on the chain would be one more write per status change, on the dispatch path).
-- To list chains by status in chain order, each attempt carries its chain's creation time (set
-- once when written) and whether it is its chain's latest (cleared when the next one is written:
-- one more write per retry, none per status change).
ALTER TABLE call_attempts ADD COLUMN chain_created_at timestamptz, ADD COLUMN is_latest boolean NOT NULL DEFAULT true;
UPDATE call_attempts a SET chain_created_at = c.created_at, is_latest = (a.attempt_number = c.attempt_count)
FROM conversations c WHERE c.tenant_id = a.tenant_id AND c.conversation_id = a.conversation_id;
ALTER TABLE call_attempts ALTER COLUMN chain_created_at SET NOT NULL;
COMMENT ON COLUMN call_attempts.chain_created_at IS 'Its chain''s created_at (copied when written): the order chains are listed in.';
COMMENT ON COLUMN call_attempts.is_latest IS 'Whether this is its chain''s latest attempt (attempt_number = conversations.attempt_count).';

CREATE FUNCTION switchboard_set_chain_created_at() RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
  IF NEW.chain_created_at IS NULL THEN
    SELECT c.created_at INTO NEW.chain_created_at FROM conversations c
    WHERE c.tenant_id = NEW.tenant_id AND c.conversation_id = NEW.conversation_id;
    -- A chain written by the same statement (a batch's chunk) is not visible yet; it was created
    -- now(), as this attempt was.
    NEW.chain_created_at := coalesce(NEW.chain_created_at, NEW.created_at);
  END IF;
  RETURN NEW;
END
$function$;
COMMENT ON FUNCTION switchboard_set_chain_created_at IS 'Copies the chain''s created_at onto a new attempt (call_attempts.chain_created_at).';
CREATE TRIGGER call_attempts_chain_created_at BEFORE INSERT ON call_attempts
  FOR EACH ROW EXECUTE FUNCTION switchboard_set_chain_created_at();

CREATE FUNCTION switchboard_supersede_attempt() RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
  UPDATE call_attempts a SET is_latest = false
  WHERE a.tenant_id = NEW.tenant_id AND a.conversation_id = NEW.conversation_id
    AND a.attempt_number = NEW.attempt_number - 1 AND a.is_latest;
  RETURN NULL;
END
$function$;
COMMENT ON FUNCTION switchboard_supersede_attempt IS 'Clears is_latest on the attempt a new one follows (written under the chain''s row lock).';
CREATE TRIGGER call_attempts_supersede AFTER INSERT ON call_attempts
  FOR EACH ROW WHEN (NEW.attempt_number > 1) EXECUTE FUNCTION switchboard_supersede_attempt();

-- Chains by the status of their latest attempt, in chain order: one entry per chain.
CREATE INDEX call_attempts_chain_status ON call_attempts (tenant_id, status, chain_created_at, conversation_id)
  WHERE is_latest;

-- The analysts' view, as 0007 wrote it, with each attempt's batch, record and its chain's
-- creation time at the end.
CREATE OR REPLACE VIEW conversation_chains AS
SELECT
  a.tenant_id,
  a.conversation_id,
  a.attempt_number,
  c.attempt_count AS chain_length,
  a.attempt_number = c.attempt_count AS is_latest_attempt,
  a.trace_id,
  previous.trace_id AS previous_trace_id,
  previous.status AS previous_status,
  a.agent_id,
  a.customer_phone,
  a.status,
  a.status = ANY (switchboard_terminal_statuses()) AS is_finished,
  a.failure_reason,
  a.results,
  a.duration_seconds,
  a.scheduled_for,
  a.created_at,
  a.dispatched_at,
  a.ended_at,
  a.ended_at - a.created_at AS time_to_outcome,
  a.effective_retry_context,
  a.effective_retry_context -> 'collected_data' AS effective_collected_data,
  a.retry_context AS requested_retry_context,
  a.metadata,
  c.collected_data AS chain_collected_data,
  c.language AS chain_language,
  c.stage_id AS chain_stage_id,
  a.batch_id,
  a.failure_type,
  a.answered_by,
  a.recording_url,
  a.transcript,
  c.created_at AS chain_created_at
FROM call_attempts a
JOIN conversations c ON c.tenant_id = a.tenant_id AND c.conversation_id = a.conversation_id
LEFT JOIN call_attempts previous
  ON previous.tenant_id = a.tenant_id
  AND previous.conversation_id = a.conversation_id
  AND previous.attempt_number = a.attempt_number - 1;
COMMENT ON COLUMN conversation_chains.batch_id IS 'The batch of the attempt''s chain; NULL for single calls.';
COMMENT ON COLUMN conversation_chains.failure_type IS 'For a failed call: socket_failure, telephony_failed or other.';
COMMENT ON COLUMN conversation_chains.answered_by IS 'Who picked up: human, machine or unknown.';
COMMENT ON COLUMN conversation_chains.recording_url IS 'Where the call''s recording is, as reported.';
COMMENT ON COLUMN conversation_chains.transcript IS 'The conversation as reported: [{role, message}].';
COMMENT ON COLUMN conversation_chains.chain_created_at IS 'When the chain''s first attempt was accepted: the order chains are listed in.';
