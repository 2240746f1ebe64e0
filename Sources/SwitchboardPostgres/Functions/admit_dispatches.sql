-- Dispatch admission of the attempts one dispatcher claimed in the last couple of milliseconds,
-- in one transaction (one commit for all of them; a commit each halved dispatch when every
-- attempt needed a check). The locks their admissions take are taken first, each kind in one
-- order: the batch rows by id, then the numbers' locks by key, then the tenants' by id. Two
-- dispatchers admitting at once therefore never wait on each other in a cycle (one admission
-- alone takes them in the same kind order). Then each attempt is admitted by
-- switchboard_admit_dispatch in (tenant, number) order, which also orders the per-number rate
-- rows, and sees the ones admitted before it (a batch's or tenant's last slot goes once).
CREATE OR REPLACE FUNCTION switchboard_admit_dispatches(
  p_tenant_ids bigint[], p_trace_ids uuid[], p_agent_ids bigint[], p_customer_phones text[],
  p_limits_pending boolean[], p_compliance_pending boolean[]
) RETURNS TABLE (o_trace_id uuid, o_decision text, o_retry_at timestamptz, o_reason text)
LANGUAGE plpgsql
AS $function$
DECLARE
  v_key bigint;
  v_attempt record;
BEGIN
  PERFORM FROM batches b
  WHERE (b.tenant_id, b.batch_id) IN (
    SELECT a.tenant_id, a.batch_id
    FROM unnest(p_tenant_ids, p_trace_ids, p_limits_pending) r (tenant_id, trace_id, pending)
    JOIN call_attempts a ON a.tenant_id = r.tenant_id AND a.trace_id = r.trace_id
    WHERE r.pending AND a.batch_id IS NOT NULL)
  ORDER BY b.batch_id
  FOR NO KEY UPDATE OF b;

  FOR v_key IN
    SELECT DISTINCT hashtextextended('switchboard.number:' || r.tenant_id || ':' || r.phone, 0)
    FROM unnest(p_tenant_ids, p_customer_phones, p_compliance_pending) r (tenant_id, phone, pending)
    WHERE r.pending
    ORDER BY 1
  LOOP
    PERFORM pg_advisory_xact_lock(v_key);
  END LOOP;

  FOR v_key IN
    SELECT t.tenant_id FROM tenants t
    WHERE t.max_concurrent_calls > 0 AND t.tenant_id IN (
      SELECT r.tenant_id FROM unnest(p_tenant_ids, p_limits_pending) r (tenant_id, pending) WHERE r.pending)
    ORDER BY t.tenant_id
  LOOP
    PERFORM pg_advisory_xact_lock(hashtext('switchboard.active_calls'), hashint8(v_key));
  END LOOP;

  FOR v_attempt IN
    SELECT r.* FROM unnest(p_tenant_ids, p_trace_ids, p_agent_ids, p_customer_phones, p_limits_pending,
      p_compliance_pending) r (tenant_id, trace_id, agent_id, phone, limits_pending, compliance_pending)
    ORDER BY r.tenant_id, r.phone, r.trace_id
  LOOP
    SELECT v_attempt.trace_id, d.o_decision, d.o_retry_at, d.o_reason
    INTO o_trace_id, o_decision, o_retry_at, o_reason
    FROM switchboard_admit_dispatch(v_attempt.tenant_id, v_attempt.trace_id, v_attempt.agent_id, v_attempt.phone,
      v_attempt.limits_pending, v_attempt.compliance_pending) d;
    RETURN NEXT;
  END LOOP;
END
$function$;
COMMENT ON FUNCTION switchboard_admit_dispatches IS 'Dispatch admission of several claimed attempts in one transaction, their locks taken first in one order; a decision per trace id (see switchboard_admit_dispatch).';
