-- Ends every attempt of the tenant to these numbers that waits for a dispatcher (or whose claim
-- lapsed) and that an unexpired entry covers: `suppressed`, blocked_reason opt_out or
-- suppressed by the entry's source, and an event each. Answers them. The suppression write runs
-- it, and its settle again (PostgresCompliance.settle) for an attempt a claim let go meanwhile.
CREATE OR REPLACE FUNCTION switchboard_end_suppressed(p_tenant_id bigint, p_phones text[])
RETURNS TABLE (trace_id uuid, conversation_id uuid)
LANGUAGE sql
AS $function$
  WITH ended AS (
    UPDATE call_attempts a SET status = 'suppressed', ended_at = now(), updated_at = now(),
      lease_owner = NULL, lease_expires_at = NULL,
      blocked_reason = CASE WHEN s.source = 'opt_out' THEN 'opt_out' ELSE 'suppressed' END
    FROM suppressions s
    WHERE s.tenant_id = p_tenant_id AND s.phone_number = ANY (p_phones)
      AND a.tenant_id = p_tenant_id AND a.customer_phone = s.phone_number
      AND (s.agent_id = 0 OR a.agent_id = s.agent_id)
      AND (s.expires_at IS NULL OR (s.expires_at > now() AND a.due_at < s.expires_at))
      AND (a.status = ANY (switchboard_due_statuses()) OR (a.status = 'dispatching' AND a.lease_expires_at <= now()))
    RETURNING a.trace_id, a.conversation_id, a.blocked_reason
  ), logged AS (
    INSERT INTO call_events (tenant_id, trace_id, event_id, status, blocked_reason)
    SELECT p_tenant_id, ended.trace_id, 'suppressed-' || ended.trace_id, 'suppressed', ended.blocked_reason
    FROM ended
  )
  SELECT ended.trace_id, ended.conversation_id FROM ended;
$function$;
COMMENT ON FUNCTION switchboard_end_suppressed IS 'Ends the tenant''s waiting attempts to suppressed numbers (suppressed, an event each); answers them.';
