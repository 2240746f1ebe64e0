-- Appends an attempt to a chain: a new chain's first (p_conversation_id NULL, the chain gets
-- p_new_conversation_id) or the next of an existing one. Intake (switchboard_accept_calls),
-- retries (the outcome of the attempt before) and batches (switchboard_add_batch_recipients) all
-- write attempts here, and nowhere else.
--
-- The limits apply to calls placed now (p_scheduled_for NULL) and are off at 0; a scheduled
-- attempt meets them at dispatch (switchboard_admit_dispatch). Intake (p_check_compliance)
-- refuses a suppressed number, and a call placed now to a number over its caps
-- (switchboard_compliance_check); retries meet both at dispatch. The idempotency key is claimed
-- first, so a duplicate is told so even when the number is now limited; concurrent claims of one
-- key wait on its unique index and all but one find it taken.
--
-- The next attempt of a chain threads its context into the chain (switchboard_thread_chain,
-- under the chain's row lock): concurrent appends get consecutive attempt numbers and a
-- rolled-back append leaves no gap. Its effective context is switchboard_effective_context.
--
-- p_recipient_timezone is the caller's zone for the recipient (recipient hours use it; a retry
-- keeps it). p_blocked_reason: intake deferred a call placed now to p_scheduled_for (the next
-- opening of the recipient's hours): recorded on the attempt and as a deferral event.
CREATE OR REPLACE FUNCTION switchboard_append_attempt(
  p_tenant_id bigint,
  p_agent_id bigint,
  p_trace_id uuid,
  p_new_conversation_id uuid,
  p_conversation_id uuid,
  p_conversation_attempt integer,
  p_customer_phone text,
  p_parameters jsonb,
  p_metadata text,
  p_idempotency_key text,
  p_idempotency_ttl_seconds integer,
  p_retry_context jsonb,
  p_scheduled_for timestamptz,
  p_batch_id bigint,
  p_traceparent text,
  p_rate_limit integer,
  p_rate_period_seconds integer,
  p_rate_burst integer,
  p_max_concurrent_calls integer,
  p_check_compliance boolean,
  p_recipient_timezone text DEFAULT NULL,
  p_blocked_reason text DEFAULT NULL
) RETURNS switchboard_appended
LANGUAGE plpgsql
AS $function$
DECLARE
  v_result switchboard_appended;
  v_phone text;
  v_rate_interval interval;
  v_tat timestamptz;
  v_allowed boolean;
  v_active integer;
  v_chain conversations;
  v_check record;
BEGIN
  SELECT a.phone_number INTO v_phone
  FROM agents a WHERE a.tenant_id = p_tenant_id AND a.agent_id = p_agent_id;
  IF NOT FOUND THEN
    v_result.outcome := 'agent_not_found';
    RETURN v_result;
  END IF;
  IF coalesce(v_phone, '') = '' THEN
    v_result.outcome := 'agent_has_no_phone';
    RETURN v_result;
  END IF;

  IF p_conversation_id IS NOT NULL THEN
    PERFORM FROM conversations c
    WHERE c.tenant_id = p_tenant_id AND c.conversation_id = p_conversation_id
      AND c.attempt_count >= coalesce(p_conversation_attempt, 1);
    IF NOT FOUND THEN
      v_result.outcome := 'conversation_not_found';
      RETURN v_result;
    END IF;
  END IF;

  IF p_idempotency_key IS NOT NULL THEN
    INSERT INTO idempotency_keys AS k (tenant_id, agent_id, idempotency_key, trace_id, expires_at)
    VALUES (p_tenant_id, p_agent_id, p_idempotency_key, p_trace_id,
      now() + make_interval(secs => p_idempotency_ttl_seconds))
    ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO UPDATE
      SET trace_id = excluded.trace_id, created_at = now(), expires_at = excluded.expires_at
      WHERE k.expires_at <= now();
    IF NOT FOUND THEN
      SELECT 'duplicate', a.trace_id, a.conversation_id, a.attempt_number, a.status, a.scheduled_for, a.agent_id,
        a.batch_id
      INTO v_result.outcome, v_result.trace_id, v_result.conversation_id, v_result.attempt_number, v_result.status,
        v_result.scheduled_for, v_result.agent_id, v_result.batch_id
      FROM idempotency_keys k
      JOIN call_attempts a ON a.tenant_id = k.tenant_id AND a.trace_id = k.trace_id
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      RETURN v_result;
    END IF;
  END IF;

  IF p_check_compliance THEN
    SELECT * INTO v_check
    FROM switchboard_compliance_check(p_tenant_id, p_agent_id, p_customer_phone, coalesce(p_scheduled_for, now()));
    IF 'suppressed' = ANY (v_check.o_reasons) OR 'opt_out' = ANY (v_check.o_reasons)
      OR (p_scheduled_for IS NULL AND v_check.o_next_allowed_at IS NOT NULL) THEN
      DELETE FROM idempotency_keys k
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      IF v_check.o_next_allowed_at IS NULL OR p_scheduled_for IS NOT NULL THEN
        v_result.outcome := 'suppressed';
      ELSE
        v_result.outcome := 'contact_limited';
        v_result.scheduled_for := v_check.o_next_allowed_at;
        v_result.retry_after_seconds := extract(epoch FROM v_check.o_next_allowed_at - now());
      END IF;
      RETURN v_result;
    END IF;
  END IF;

  IF p_scheduled_for IS NULL AND p_max_concurrent_calls > 0 THEN
    -- One tenant's limited intakes take turns, so two of them cannot both take the last slot.
    -- (hashint8: tenant ids are bigint; two tenants sharing a hash only take turns too.)
    PERFORM pg_advisory_xact_lock(hashtext('switchboard.active_calls'), hashint8(p_tenant_id));
    SELECT count(*) INTO v_active
    FROM call_attempts a
    WHERE a.tenant_id = p_tenant_id AND a.status = ANY (switchboard_active_statuses());
    IF v_active >= p_max_concurrent_calls THEN
      DELETE FROM idempotency_keys k
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      v_result.outcome := 'concurrency_limited';
      v_result.current_calls := v_active;
      RETURN v_result;
    END IF;
  END IF;

  IF p_scheduled_for IS NULL AND p_rate_limit > 0 THEN
    v_rate_interval := make_interval(secs => p_rate_period_seconds::double precision / p_rate_limit);
    SELECT s.o_allowed, s.o_tat INTO v_allowed, v_tat
    FROM switchboard_take_number_slot(p_tenant_id, p_customer_phone, v_rate_interval, p_rate_burst) s;
    IF NOT v_allowed THEN
      DELETE FROM idempotency_keys k
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      v_result.outcome := 'rate_limited';
      v_result.rate_remaining := 0;
      v_result.rate_reset_seconds := extract(epoch FROM v_tat - now());
      v_result.retry_after_seconds := extract(epoch FROM v_tat + v_rate_interval - p_rate_burst * v_rate_interval - now());
      RETURN v_result;
    END IF;
    v_result.rate_remaining := floor(extract(epoch FROM now() + p_rate_burst * v_rate_interval - v_tat)
      / extract(epoch FROM v_rate_interval))::integer;
    v_result.rate_reset_seconds := extract(epoch FROM v_tat - now());
  END IF;

  IF p_conversation_id IS NULL THEN
    v_chain.conversation_id := p_new_conversation_id;
    v_chain.attempt_count := 1;
    v_chain.collected_data := coalesce(nullif(p_retry_context -> 'collected_data', 'null'::jsonb), '{}'::jsonb);
    v_chain.language := p_retry_context ->> 'retry_language';
    v_chain.stage_id := p_retry_context ->> 'retry_stage_id';
    INSERT INTO conversations (tenant_id, conversation_id, agent_id, customer_phone, attempt_count,
      collected_data, language, stage_id, batch_id)
    VALUES (p_tenant_id, p_new_conversation_id, p_agent_id, p_customer_phone, 1, v_chain.collected_data,
      v_chain.language, v_chain.stage_id, p_batch_id);
  ELSE
    v_chain := switchboard_thread_chain(p_tenant_id, p_conversation_id, p_retry_context, true);
  END IF;
  v_result.conversation_id := v_chain.conversation_id;
  v_result.attempt_number := v_chain.attempt_count;

  v_result.outcome := 'accepted';
  v_result.trace_id := p_trace_id;
  v_result.status := switchboard_waiting_status(p_scheduled_for);
  v_result.scheduled_for := p_scheduled_for;
  v_result.agent_id := p_agent_id;
  v_result.batch_id := p_batch_id;
  v_result.retry_after_seconds := 0;
  INSERT INTO call_attempts (tenant_id, trace_id, conversation_id, attempt_number, agent_id, customer_phone,
    parameters, metadata, idempotency_key, retry_context, effective_retry_context, status, scheduled_for, due_at,
    batch_id, traceparent, recipient_timezone, blocked_reason)
  VALUES (p_tenant_id, p_trace_id, v_result.conversation_id, v_result.attempt_number, p_agent_id, p_customer_phone,
    p_parameters, p_metadata, p_idempotency_key, p_retry_context,
    switchboard_effective_context(v_chain.collected_data, v_chain.language, v_chain.stage_id,
      p_retry_context ->> 'retry_initial_message'),
    v_result.status, p_scheduled_for,
    coalesce(p_scheduled_for, now()), p_batch_id, p_traceparent, p_recipient_timezone, p_blocked_reason);
  IF p_blocked_reason IS NOT NULL THEN
    INSERT INTO call_events (tenant_id, trace_id, event_id, status, blocked_reason, deferred_until)
    VALUES (p_tenant_id, p_trace_id, 'deferred-' || switchboard_uuid_v7(), v_result.status, p_blocked_reason,
      p_scheduled_for);
  END IF;
  RETURN v_result;
END
$function$;
COMMENT ON FUNCTION switchboard_append_attempt IS 'Appends an attempt to a chain (a new one, or the next of an existing one) for intake, retries and batches; or answers why not.';
