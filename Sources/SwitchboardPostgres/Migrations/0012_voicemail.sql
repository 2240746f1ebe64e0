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
CREATE OR REPLACE VIEW batch_progress AS
SELECT
  b.tenant_id,
  b.batch_id,
  b.agent_id,
  b.name,
  b.status AS batch_status,
  b.total_recipients,
  count(a.trace_id) FILTER (WHERE a.status IN ('scheduled', 'initiated')) AS waiting_count,
  count(a.trace_id) FILTER (WHERE a.status IN ('dispatching', 'dispatched', 'ringing', 'in_progress')) AS in_progress_count,
  count(a.trace_id) FILTER (WHERE a.status = 'completed') AS completed_count,
  count(a.trace_id) FILTER (WHERE a.status = 'no_answer') AS no_answer_count,
  count(a.trace_id) FILTER (WHERE a.status = 'busy') AS busy_count,
  count(a.trace_id) FILTER (WHERE a.status = 'failed') AS failed_count,
  count(a.trace_id) FILTER (WHERE a.status = 'unreachable') AS unreachable_count,
  count(a.trace_id) FILTER (WHERE a.status = 'canceled') AS canceled_count,
  count(a.trace_id) FILTER (WHERE a.status = ANY (switchboard_terminal_statuses())) AS finished_count,
  round(100.0 * count(a.trace_id) FILTER (WHERE a.status = 'completed')
    / nullif(count(a.trace_id) FILTER (WHERE a.status = ANY (switchboard_terminal_statuses())), 0), 2) AS success_rate,
  (SELECT min(d.dispatched_at) FROM call_attempts d WHERE d.tenant_id = b.tenant_id AND d.batch_id = b.batch_id)
    AS first_dial_at,
  (SELECT max(d.dispatched_at) FROM call_attempts d WHERE d.tenant_id = b.tenant_id AND d.batch_id = b.batch_id)
    AS last_dial_at,
  b.created_at,
  count(a.trace_id) FILTER (WHERE a.status IN ('scheduled', 'initiated') AND a.attempt_number > 1) AS pending_retry_count,
  round(avg(a.duration_seconds)::numeric, 2) AS avg_duration_seconds,
  count(a.trace_id) FILTER (WHERE a.status = 'voicemail') AS voicemail_count,
  count(a.trace_id) FILTER (WHERE a.failure_type = 'socket_failure') AS socket_failure_count
FROM batches b
LEFT JOIN conversations c ON c.tenant_id = b.tenant_id AND c.batch_id = b.batch_id
LEFT JOIN call_attempts a
  ON a.tenant_id = c.tenant_id AND a.conversation_id = c.conversation_id AND a.attempt_number = c.attempt_count
GROUP BY b.tenant_id, b.batch_id;
COMMENT ON COLUMN batch_progress.pending_retry_count IS 'Contacts waiting for an automatic retry (their latest attempt is a retry not yet dialed); also counted in waiting_count.';
COMMENT ON COLUMN batch_progress.avg_duration_seconds IS 'Average duration of the contacts'' latest calls that reported one.';
COMMENT ON COLUMN batch_progress.voicemail_count IS 'Contacts whose latest attempt reached a machine.';
COMMENT ON COLUMN batch_progress.socket_failure_count IS 'Contacts whose latest attempt failed because the dialer could not be reached (failure_type socket_failure).';
