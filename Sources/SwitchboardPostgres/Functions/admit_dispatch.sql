-- Dispatch admission of a claimed attempt. When its limits are pending (p_limits_pending: a
-- scheduled attempt not yet charged): its batch's state and pacing, then its tenant's limits
-- (concurrency, per-number rate). When its compliance is pending (p_compliance_pending: the
-- claim saw caps, or an entry for the number): the number's compliance
-- (switchboard_compliance_check: suppression, caps), under the number's lock so two admissions
-- cannot both take a cap's last contact. A claim that saw neither needs no check: a suppression
-- answered after it waits for the claim's row lock and then for the dial (PostgresCompliance). Charged when all allow it. Answers the decision by name: 'admitted'; 'deferred' until
-- o_retry_at (o_reason 'contact_limit' for a cap); 'suppressed' (o_reason 'suppressed' or
-- 'opt_out'), which the dispatcher ends (AttemptTransitions.suppress); or 'canceled' when its
-- batch was canceled (a claim may have taken it just before the cancel), which ends it here.
CREATE OR REPLACE FUNCTION switchboard_admit_dispatch(
  p_tenant_id bigint, p_trace_id uuid, p_agent_id bigint, p_customer_phone text, p_limits_pending boolean,
  p_compliance_pending boolean,
  OUT o_decision text, OUT o_retry_at timestamptz, OUT o_reason text
)
LANGUAGE plpgsql
AS $function$
DECLARE
  v_tenant tenants%ROWTYPE;
  v_active integer;
  v_interval interval;
  v_burst integer;
  v_allowed boolean;
  v_tat timestamptz;
  v_batch batches%ROWTYPE;
  v_check record;
BEGIN
  -- A batch's attempt: its batch must be open, and below its max_concurrency. The batch row's
  -- lock makes the batch's admissions take turns (two dispatchers cannot both take its last slot)
  -- and orders them with pause and cancel, which take the same lock. NO KEY UPDATE: attempts that
  -- reference the batch take KEY SHARE, which this must not wait for.
  SELECT b.* INTO v_batch FROM call_attempts a JOIN batches b ON b.tenant_id = a.tenant_id AND b.batch_id = a.batch_id
  WHERE a.tenant_id = p_tenant_id AND a.trace_id = p_trace_id AND p_limits_pending
  FOR NO KEY UPDATE OF b;
  IF FOUND THEN
    IF v_batch.status = 'canceled' THEN
      UPDATE call_attempts a SET status = 'canceled', ended_at = now(), updated_at = now(),
        lease_owner = NULL, lease_expires_at = NULL
      WHERE a.tenant_id = p_tenant_id AND a.trace_id = p_trace_id AND a.status = 'dispatching';
      o_decision := 'canceled';
      RETURN;
    END IF;
    IF v_batch.status <> ALL (switchboard_open_batch_statuses()) THEN
      o_decision := 'deferred';
      o_retry_at := now() + interval '5 seconds';
      RETURN;
    END IF;
    IF v_batch.max_concurrency IS NOT NULL THEN
      SELECT count(*) INTO v_active
      FROM call_attempts a
      WHERE a.tenant_id = p_tenant_id AND a.batch_id = v_batch.batch_id AND a.trace_id <> p_trace_id
        AND a.status = ANY (switchboard_active_statuses())
        AND (a.status <> 'dispatching' OR a.scheduled_for IS NULL OR a.limits_charged_at IS NOT NULL);
      IF v_active >= v_batch.max_concurrency THEN
      o_decision := 'deferred';
      o_retry_at := now() + interval '1 second';
      RETURN;
      END IF;
    END IF;
  END IF;

  -- The number's compliance, under its lock (a bigint key: apart from the two-key locks above).
  IF p_compliance_pending THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('switchboard.number:' || p_tenant_id || ':' || p_customer_phone, 0));
    SELECT * INTO v_check FROM switchboard_compliance_check(p_tenant_id, p_agent_id, p_customer_phone, now());
    IF 'opt_out' = ANY (v_check.o_reasons) OR 'suppressed' = ANY (v_check.o_reasons) THEN
      o_decision := 'suppressed';
      o_reason := CASE WHEN 'opt_out' = ANY (v_check.o_reasons) THEN 'opt_out' ELSE 'suppressed' END;
      RETURN;
    END IF;
    IF v_check.o_next_allowed_at IS NOT NULL THEN
      o_decision := 'deferred';
      o_retry_at := v_check.o_next_allowed_at;
      o_reason := 'contact_limit';
      RETURN;
    END IF;
  END IF;

  SELECT * INTO v_tenant FROM tenants t WHERE t.tenant_id = p_tenant_id;
  IF p_limits_pending AND v_tenant.max_concurrent_calls > 0 THEN
    -- The same lock as intake's (switchboard_append_attempt).
    PERFORM pg_advisory_xact_lock(hashtext('switchboard.active_calls'), hashint8(p_tenant_id));
    SELECT count(*) INTO v_active
    FROM call_attempts a
    WHERE a.tenant_id = p_tenant_id AND a.trace_id <> p_trace_id
      -- Intake counts every active status (switchboard_active_statuses). Here, an attempt that is
      -- dispatching only holds a line once its limits are charged: a scheduled attempt claimed by a
      -- dispatcher but not yet admitted (this one, or another being admitted beside it) has taken
      -- nothing yet, and counting it would let claimed-but-waiting attempts lock each other out.
      AND a.status = ANY (switchboard_active_statuses())
      AND (a.status <> 'dispatching' OR a.scheduled_for IS NULL OR a.limits_charged_at IS NOT NULL);
    IF v_active >= v_tenant.max_concurrent_calls THEN
      o_decision := 'deferred';
      o_retry_at := now() + interval '1 second';
      RETURN;
    END IF;
  END IF;
  IF p_limits_pending AND v_tenant.number_rate_limit > 0 THEN
    v_interval := make_interval(secs => v_tenant.number_rate_period_seconds::double precision / v_tenant.number_rate_limit);
    v_burst := coalesce(v_tenant.number_rate_burst, v_tenant.number_rate_limit);
    SELECT s.o_allowed, s.o_tat INTO v_allowed, v_tat
    FROM switchboard_take_number_slot(p_tenant_id, p_customer_phone, v_interval, v_burst) s;
    IF NOT v_allowed THEN
      o_decision := 'deferred';
      o_retry_at := v_tat + v_interval - v_burst * v_interval;
      RETURN;
    END IF;
  END IF;
  UPDATE call_attempts a SET limits_charged_at = now() WHERE a.tenant_id = p_tenant_id AND a.trace_id = p_trace_id;
  o_decision := 'admitted';
END
$function$;
COMMENT ON FUNCTION switchboard_admit_dispatch IS 'Dispatch admission: admitted (its limits and the contact charged), deferred until o_retry_at (o_reason for a compliance rule), suppressed (o_reason), or canceled with its batch.';
