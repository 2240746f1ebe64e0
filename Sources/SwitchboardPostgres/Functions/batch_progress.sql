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
  count(a.trace_id) FILTER (WHERE a.failure_type = 'socket_failure') AS socket_failure_count,
  count(a.trace_id) FILTER (WHERE a.status = 'suppressed') AS suppressed_count,
  count(a.trace_id) FILTER (WHERE a.status IN ('scheduled', 'initiated') AND a.blocked_reason = 'contact_limit')
    AS deferred_contact_limit_count,
  count(a.trace_id) FILTER (WHERE a.status IN ('scheduled', 'initiated') AND a.blocked_reason = 'outside_recipient_hours')
    AS deferred_outside_hours_count
FROM batches b
LEFT JOIN conversations c ON c.tenant_id = b.tenant_id AND c.batch_id = b.batch_id
LEFT JOIN call_attempts a
  ON a.tenant_id = c.tenant_id AND a.conversation_id = c.conversation_id AND a.attempt_number = c.attempt_count
GROUP BY b.tenant_id, b.batch_id;
COMMENT ON VIEW batch_progress IS 'One row per batch: its contacts counted by where their chain''s latest attempt stands, success rate, first and last dial. Filter by tenant_id.';
COMMENT ON COLUMN batch_progress.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN batch_progress.batch_id IS 'The batch.';
COMMENT ON COLUMN batch_progress.agent_id IS 'The agent placing the batch''s calls.';
COMMENT ON COLUMN batch_progress.name IS 'The batch''s name.';
COMMENT ON COLUMN batch_progress.batch_status IS 'pending, running, paused, completed or canceled.';
COMMENT ON COLUMN batch_progress.total_recipients IS 'Contacts in the batch.';
COMMENT ON COLUMN batch_progress.waiting_count IS 'Contacts whose latest attempt waits for dispatch (scheduled or initiated): not yet called, or a retry due later.';
COMMENT ON COLUMN batch_progress.in_progress_count IS 'Contacts whose latest attempt is being dispatched, dialed, ringing or talking.';
COMMENT ON COLUMN batch_progress.completed_count IS 'Contacts whose latest attempt completed.';
COMMENT ON COLUMN batch_progress.no_answer_count IS 'Contacts whose latest attempt was not answered.';
COMMENT ON COLUMN batch_progress.busy_count IS 'Contacts whose latest attempt found the line busy.';
COMMENT ON COLUMN batch_progress.failed_count IS 'Contacts whose latest attempt failed.';
COMMENT ON COLUMN batch_progress.unreachable_count IS 'Contacts whose latest attempt could not reach the number.';
COMMENT ON COLUMN batch_progress.canceled_count IS 'Contacts whose latest attempt was canceled.';
COMMENT ON COLUMN batch_progress.suppressed_count IS 'Contacts whose latest attempt a compliance rule ended (suppressed).';
COMMENT ON COLUMN batch_progress.deferred_contact_limit_count IS 'Waiting contacts whose latest attempt the number''s caps deferred (also in waiting_count).';
COMMENT ON COLUMN batch_progress.deferred_outside_hours_count IS 'Waiting contacts whose latest attempt the recipient''s hours deferred (also in waiting_count).';
COMMENT ON COLUMN batch_progress.finished_count IS 'Contacts whose latest attempt is final (a retry not yet made counts as waiting).';
COMMENT ON COLUMN batch_progress.success_rate IS 'Completed as a percentage of finished contacts; NULL before any finished.';
COMMENT ON COLUMN batch_progress.first_dial_at IS 'When the batch''s first attempt was handed to the dialer.';
COMMENT ON COLUMN batch_progress.last_dial_at IS 'When its most recent attempt was handed to the dialer.';
COMMENT ON COLUMN batch_progress.created_at IS 'When the upload was accepted.';
COMMENT ON COLUMN batch_progress.pending_retry_count IS 'Contacts waiting for an automatic retry (their latest attempt is a retry not yet dialed); also counted in waiting_count.';
COMMENT ON COLUMN batch_progress.avg_duration_seconds IS 'Average duration of the contacts'' latest calls that reported one.';
COMMENT ON COLUMN batch_progress.voicemail_count IS 'Contacts whose latest attempt reached a machine.';
COMMENT ON COLUMN batch_progress.socket_failure_count IS 'Contacts whose latest attempt failed because the dialer could not be reached (failure_type socket_failure).';

DO $role$
BEGIN
  GRANT SELECT ON batch_progress TO switchboard_analyst;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
  RAISE NOTICE 'switchboard_analyst grants not changed: %', SQLERRM;
END
$role$;
