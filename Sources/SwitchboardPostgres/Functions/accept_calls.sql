-- The stateful half of MakeCall for a batch of calls, in one statement and one transaction: each
-- call's API key is checked (the last key's tenant is reused), then the call is appended as
-- switchboard_append_attempt does, under its tenant's limits. One row per call, by ordinal.
CREATE OR REPLACE FUNCTION switchboard_accept_calls(p_calls jsonb, p_idempotency_ttl_seconds integer)
RETURNS TABLE (
  ordinal integer,
  rate_limit integer,
  max_calls integer,
  appended switchboard_appended
)
LANGUAGE plpgsql
AS $function$
DECLARE
  c record;
  v_key_hash text;
  v_tenant tenants%ROWTYPE;
  v_refused switchboard_appended;
BEGIN
  v_refused.outcome := 'invalid_api_key';
  FOR c IN
    SELECT e.ordinality::integer AS ordinal, x.*
    FROM jsonb_array_elements(p_calls) WITH ORDINALITY AS e(call, ordinality),
      jsonb_to_record(e.call) AS x(key_hash text, agent_id bigint, trace_id uuid, new_conversation_id uuid,
        conversation_id uuid, conversation_attempt integer, customer_phone text, parameters jsonb, metadata text,
        idempotency_key text, retry_context jsonb, scheduled_for_epoch double precision, traceparent text,
        recipient_timezone text, blocked_reason text)
  LOOP
    IF v_key_hash IS DISTINCT FROM c.key_hash THEN
      v_key_hash := c.key_hash;
      SELECT t.* INTO v_tenant
      FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id
      WHERE k.key_hash = decode(c.key_hash, 'hex') AND k.revoked_at IS NULL;
    END IF;
    IF v_tenant.tenant_id IS NULL THEN
      RETURN QUERY SELECT c.ordinal, NULL::integer, NULL::integer, v_refused;
      CONTINUE;
    END IF;
    RETURN QUERY SELECT c.ordinal, v_tenant.number_rate_limit, v_tenant.max_concurrent_calls,
      switchboard_append_attempt(v_tenant.tenant_id, c.agent_id, c.trace_id, c.new_conversation_id,
        c.conversation_id, c.conversation_attempt, c.customer_phone, c.parameters, c.metadata, c.idempotency_key,
        p_idempotency_ttl_seconds, c.retry_context, to_timestamp(c.scheduled_for_epoch), NULL, c.traceparent,
        v_tenant.number_rate_limit, v_tenant.number_rate_period_seconds,
        coalesce(v_tenant.number_rate_burst, v_tenant.number_rate_limit), v_tenant.max_concurrent_calls, true,
        c.recipient_timezone, c.blocked_reason);
  END LOOP;
END
$function$;
COMMENT ON FUNCTION switchboard_accept_calls IS 'Records a batch of calls in one transaction, each as switchboard_append_attempt does, after checking its API key; one row per call, by ordinal, with its tenant''s limits.';
