CREATE OR REPLACE FUNCTION switchboard_accept_call(
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
  p_rate_limit integer,
  p_rate_period_seconds integer,
  p_rate_burst integer,
  p_max_concurrent_calls integer
) RETURNS TABLE (
  outcome text,
  trace_id uuid,
  conversation_id uuid,
  attempt_number integer,
  status text,
  scheduled_for timestamptz,
  agent_id bigint,
  rate_remaining integer,
  rate_reset_seconds double precision,
  retry_after_seconds double precision,
  current_calls integer
)
LANGUAGE plpgsql
AS $function$
DECLARE
  v_phone text;
  v_rate_interval interval;
  v_tat timestamptz;
  v_allowed boolean;
  v_active integer;
  v_remaining integer;
  v_reset double precision;
  v_conversation_id uuid;
  v_attempt integer;
  v_data jsonb;
  v_language text;
  v_stage text;
  v_effective jsonb;
  v_status text;
BEGIN
  SELECT a.phone_number INTO v_phone
  FROM agents a WHERE a.tenant_id = p_tenant_id AND a.agent_id = p_agent_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'agent_not_found', NULL::uuid, NULL::uuid, NULL::integer, NULL::text,
      NULL::timestamptz, NULL::bigint, NULL::integer, NULL::double precision, NULL::double precision, NULL::integer;
    RETURN;
  END IF;
  IF coalesce(v_phone, '') = '' THEN
    RETURN QUERY SELECT 'agent_has_no_phone', NULL::uuid, NULL::uuid, NULL::integer, NULL::text,
      NULL::timestamptz, NULL::bigint, NULL::integer, NULL::double precision, NULL::double precision, NULL::integer;
    RETURN;
  END IF;

  IF p_conversation_id IS NOT NULL THEN
    PERFORM FROM conversations c
    WHERE c.tenant_id = p_tenant_id AND c.conversation_id = p_conversation_id
      AND c.attempt_count >= coalesce(p_conversation_attempt, 1);
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'conversation_not_found', NULL::uuid, NULL::uuid, NULL::integer, NULL::text,
        NULL::timestamptz, NULL::bigint, NULL::integer, NULL::double precision, NULL::double precision, NULL::integer;
      RETURN;
    END IF;
  END IF;

  -- The key is claimed first, so a duplicate is told so even when the number is now limited.
  -- Concurrent claims of one key wait on the unique index; all but one find it taken.
  IF p_idempotency_key IS NOT NULL THEN
    INSERT INTO idempotency_keys AS k (tenant_id, agent_id, idempotency_key, trace_id, expires_at)
    VALUES (p_tenant_id, p_agent_id, p_idempotency_key, p_trace_id,
      now() + make_interval(secs => p_idempotency_ttl_seconds))
    ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO UPDATE
      SET trace_id = excluded.trace_id, created_at = now(), expires_at = excluded.expires_at
      WHERE k.expires_at <= now();
    IF NOT FOUND THEN
      RETURN QUERY
      SELECT 'duplicate', a.trace_id, a.conversation_id, a.attempt_number, a.status, a.scheduled_for,
        a.agent_id, NULL::integer, NULL::double precision, NULL::double precision, NULL::integer
      FROM idempotency_keys k
      JOIN call_attempts a ON a.tenant_id = k.tenant_id AND a.trace_id = k.trace_id
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      RETURN;
    END IF;
  END IF;

  -- Limits apply to calls placed now; scheduled calls meet them at dispatch time.
  IF p_scheduled_for IS NULL AND p_max_concurrent_calls > 0 THEN
    -- One tenant's limited intakes take turns, so two of them cannot both take the last slot.
    PERFORM pg_advisory_xact_lock(hashtext('switchboard.active_calls'), p_tenant_id::integer);
    SELECT count(*) INTO v_active
    FROM call_attempts a
    WHERE a.tenant_id = p_tenant_id
      AND a.status = ANY (switchboard_active_statuses());
    IF v_active >= p_max_concurrent_calls THEN
      DELETE FROM idempotency_keys k
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      RETURN QUERY SELECT 'concurrency_limited', NULL::uuid, NULL::uuid, NULL::integer, NULL::text,
        NULL::timestamptz, NULL::bigint, NULL::integer, NULL::double precision, NULL::double precision, v_active;
      RETURN;
    END IF;
  END IF;

  IF p_scheduled_for IS NULL AND p_rate_limit > 0 THEN
    v_rate_interval := make_interval(secs => p_rate_period_seconds::double precision / p_rate_limit);
    SELECT s.o_allowed, s.o_tat INTO v_allowed, v_tat
    FROM switchboard_take_number_slot(p_tenant_id, p_customer_phone, v_rate_interval, p_rate_burst) s;
    IF NOT v_allowed THEN
      DELETE FROM idempotency_keys k
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      RETURN QUERY SELECT 'rate_limited', NULL::uuid, NULL::uuid, NULL::integer, NULL::text,
        NULL::timestamptz, NULL::bigint, 0, extract(epoch FROM v_tat - now())::double precision,
        extract(epoch FROM v_tat + v_rate_interval - p_rate_burst * v_rate_interval - now())::double precision,
        NULL::integer;
      RETURN;
    END IF;
    v_remaining := floor(extract(epoch FROM now() + p_rate_burst * v_rate_interval - v_tat)
      / extract(epoch FROM v_rate_interval))::integer;
    v_reset := extract(epoch FROM v_tat - now());
  END IF;

  -- ThreadedState.threading(_:), under the chain's row lock. Appending takes that lock:
  -- concurrent appends get consecutive attempt numbers,
  -- and a rolled-back append leaves no gap.
  IF p_conversation_id IS NULL THEN
    v_conversation_id := p_new_conversation_id;
    v_attempt := 1;
    v_data := coalesce(p_retry_context -> 'collected_data', '{}');
    v_language := p_retry_context ->> 'retry_language';
    v_stage := p_retry_context ->> 'retry_stage_id';
    INSERT INTO conversations (tenant_id, conversation_id, agent_id, customer_phone, attempt_count,
      collected_data, language, stage_id)
    VALUES (p_tenant_id, v_conversation_id, p_agent_id, p_customer_phone, 1, v_data, v_language, v_stage);
  ELSE
    UPDATE conversations c
    SET attempt_count = c.attempt_count + 1,
      collected_data = c.collected_data || coalesce(p_retry_context -> 'collected_data', '{}'),
      language = coalesce(p_retry_context ->> 'retry_language', c.language),
      stage_id = coalesce(p_retry_context ->> 'retry_stage_id', c.stage_id),
      updated_at = now()
    WHERE c.tenant_id = p_tenant_id AND c.conversation_id = p_conversation_id
    RETURNING c.conversation_id, c.attempt_count, c.collected_data, c.language, c.stage_id
    INTO v_conversation_id, v_attempt, v_data, v_language, v_stage;
  END IF;

  -- ThreadedState.effectiveContext(initialMessage:).
  v_effective := jsonb_build_object('collected_data', v_data);
  IF p_retry_context ->> 'retry_initial_message' IS NOT NULL THEN
    v_effective := v_effective || jsonb_build_object('retry_initial_message', p_retry_context ->> 'retry_initial_message');
  END IF;
  IF v_language IS NOT NULL THEN
    v_effective := v_effective || jsonb_build_object('retry_language', v_language);
  END IF;
  IF v_stage IS NOT NULL THEN
    v_effective := v_effective || jsonb_build_object('retry_stage_id', v_stage);
  END IF;

  v_status := CASE WHEN p_scheduled_for IS NULL THEN 'initiated' ELSE 'scheduled' END;
  INSERT INTO call_attempts (tenant_id, trace_id, conversation_id, attempt_number, agent_id, customer_phone,
    parameters, metadata, idempotency_key, retry_context, effective_retry_context, status, scheduled_for, due_at)
  VALUES (p_tenant_id, p_trace_id, v_conversation_id, v_attempt, p_agent_id, p_customer_phone,
    p_parameters, p_metadata, p_idempotency_key, p_retry_context, v_effective, v_status, p_scheduled_for,
    coalesce(p_scheduled_for, now()));

  RETURN QUERY SELECT 'accepted', p_trace_id, v_conversation_id, v_attempt, v_status, p_scheduled_for,
    p_agent_id, v_remaining, v_reset, 0::double precision, NULL::integer;
END
$function$;
COMMENT ON FUNCTION switchboard_accept_call IS 'Records one call attempt atomically (agent, conversation, idempotency, limits, chain append); returns the outcome.';
