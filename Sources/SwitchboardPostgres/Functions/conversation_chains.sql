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
COMMENT ON VIEW conversation_chains IS 'One row per attempt with its chain, its place in it, the previous attempt, outcome, timings and context. Filter by tenant_id.';
COMMENT ON COLUMN conversation_chains.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN conversation_chains.conversation_id IS 'The chain.';
COMMENT ON COLUMN conversation_chains.attempt_number IS 'Position of this attempt in the chain.';
COMMENT ON COLUMN conversation_chains.chain_length IS 'Attempts in the chain so far.';
COMMENT ON COLUMN conversation_chains.is_latest_attempt IS 'Whether this is the chain''s last attempt so far.';
COMMENT ON COLUMN conversation_chains.trace_id IS 'The attempt.';
COMMENT ON COLUMN conversation_chains.previous_trace_id IS 'The attempt before this one in the chain.';
COMMENT ON COLUMN conversation_chains.previous_status IS 'How the previous attempt ended (or where it stands).';
COMMENT ON COLUMN conversation_chains.agent_id IS 'The agent placing the call.';
COMMENT ON COLUMN conversation_chains.customer_phone IS 'Destination number.';
COMMENT ON COLUMN conversation_chains.status IS 'The attempt''s status.';
COMMENT ON COLUMN conversation_chains.is_finished IS 'Whether the status is terminal.';
COMMENT ON COLUMN conversation_chains.failure_reason IS 'Why the attempt failed, when it did.';
COMMENT ON COLUMN conversation_chains.results IS 'Outcome results.';
COMMENT ON COLUMN conversation_chains.duration_seconds IS 'Talk time.';
COMMENT ON COLUMN conversation_chains.scheduled_for IS 'Requested time, for scheduled calls.';
COMMENT ON COLUMN conversation_chains.created_at IS 'When the attempt was accepted.';
COMMENT ON COLUMN conversation_chains.dispatched_at IS 'When a dialer took it.';
COMMENT ON COLUMN conversation_chains.ended_at IS 'When it reached a terminal status.';
COMMENT ON COLUMN conversation_chains.time_to_outcome IS 'From acceptance to terminal status.';
COMMENT ON COLUMN conversation_chains.effective_retry_context IS 'The context the dialer received.';
COMMENT ON COLUMN conversation_chains.effective_collected_data IS 'collected_data of the effective context.';
COMMENT ON COLUMN conversation_chains.requested_retry_context IS 'The context the request gave.';
COMMENT ON COLUMN conversation_chains.metadata IS 'Opaque client metadata.';
COMMENT ON COLUMN conversation_chains.chain_collected_data IS 'The chain''s threaded collected_data now.';
COMMENT ON COLUMN conversation_chains.chain_language IS 'The chain''s threaded language now.';
COMMENT ON COLUMN conversation_chains.chain_stage_id IS 'The chain''s threaded stage now.';
COMMENT ON COLUMN conversation_chains.batch_id IS 'The batch of the attempt''s chain; NULL for single calls.';
COMMENT ON COLUMN conversation_chains.failure_type IS 'For a failed call: socket_failure, telephony_failed or other.';
COMMENT ON COLUMN conversation_chains.answered_by IS 'Who picked up: human, machine or unknown.';
COMMENT ON COLUMN conversation_chains.recording_url IS 'Where the call''s recording is, as reported.';
COMMENT ON COLUMN conversation_chains.transcript IS 'The conversation as reported: [{role, message}].';
COMMENT ON COLUMN conversation_chains.chain_created_at IS 'When the chain''s first attempt was accepted: the order chains are listed in.';

DO $role$
BEGIN
  GRANT SELECT ON conversation_chains TO switchboard_analyst;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
  RAISE NOTICE 'switchboard_analyst grants not changed: %', SQLERRM;
END
$role$;
