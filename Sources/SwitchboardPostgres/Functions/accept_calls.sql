CREATE OR REPLACE FUNCTION switchboard_accept_calls(p_calls jsonb, p_idempotency_ttl_seconds integer)
RETURNS TABLE (
  ordinal integer,
  outcome text,
  trace_id uuid,
  conversation_id uuid,
  attempt_number integer,
  status text,
  scheduled_for timestamptz,
  agent_id bigint,
  rate_limit integer,
  rate_remaining integer,
  rate_reset_seconds double precision,
  retry_after_seconds double precision,
  current_calls integer,
  max_calls integer
)
LANGUAGE plpgsql
AS $function$
DECLARE
  c record;
  v_key_hash text;
  v_tenant tenants%ROWTYPE;
BEGIN
  FOR c IN
    SELECT e.ordinality::integer AS ordinal, x.*
    FROM jsonb_array_elements(p_calls) WITH ORDINALITY AS e(call, ordinality),
      jsonb_to_record(e.call) AS x(key_hash text, agent_id bigint, trace_id uuid, new_conversation_id uuid,
        conversation_id uuid, conversation_attempt integer, customer_phone text, parameters jsonb, metadata text,
        idempotency_key text, retry_context jsonb, scheduled_for_epoch double precision, traceparent text)
  LOOP
    IF v_key_hash IS DISTINCT FROM c.key_hash THEN
      v_key_hash := c.key_hash;
      SELECT t.* INTO v_tenant
      FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id
      WHERE k.key_hash = decode(c.key_hash, 'hex') AND k.revoked_at IS NULL;
    END IF;
    IF v_tenant.tenant_id IS NULL THEN
      RETURN QUERY SELECT c.ordinal, 'invalid_api_key', NULL::uuid, NULL::uuid, NULL::integer, NULL::text,
        NULL::timestamptz, NULL::bigint, NULL::integer, NULL::integer, NULL::double precision,
        NULL::double precision, NULL::integer, NULL::integer;
      CONTINUE;
    END IF;
    RETURN QUERY
    SELECT c.ordinal, a.outcome, a.trace_id, a.conversation_id, a.attempt_number, a.status, a.scheduled_for,
      a.agent_id, v_tenant.number_rate_limit, a.rate_remaining, a.rate_reset_seconds, a.retry_after_seconds,
      a.current_calls, v_tenant.max_concurrent_calls
    FROM switchboard_accept_call(v_tenant.tenant_id, c.agent_id, c.trace_id, c.new_conversation_id,
      c.conversation_id, c.conversation_attempt, c.customer_phone, c.parameters, c.metadata, c.idempotency_key,
      p_idempotency_ttl_seconds, c.retry_context, to_timestamp(c.scheduled_for_epoch), v_tenant.number_rate_limit,
      v_tenant.number_rate_period_seconds, coalesce(v_tenant.number_rate_burst, v_tenant.number_rate_limit),
      v_tenant.max_concurrent_calls) a;
    -- Only an accepted call has a row under its new trace id: nothing else is touched.
    IF c.traceparent IS NOT NULL THEN
      UPDATE call_attempts SET traceparent = c.traceparent
      WHERE call_attempts.tenant_id = v_tenant.tenant_id AND call_attempts.trace_id = c.trace_id;
    END IF;
  END LOOP;
END
$function$;
COMMENT ON FUNCTION switchboard_accept_calls IS 'Records a batch of call attempts in one transaction, each as switchboard_accept_call would, after checking its API key; one row per call, by ordinal; keeps each accepted call''s traceparent.';
