CREATE OR REPLACE FUNCTION switchboard_create_batch(
  p_tenant_id bigint, p_agent_id bigint, p_name text, p_max_concurrency integer, p_scheduled_for timestamptz,
  p_total_recipients integer, p_idempotency_key text, p_idempotency_ttl_seconds integer
) RETURNS TABLE (outcome text, batch_id bigint)
LANGUAGE plpgsql
AS $function$
DECLARE
  v_phone text;
  v_batch bigint;
BEGIN
  SELECT a.phone_number INTO v_phone FROM agents a WHERE a.tenant_id = p_tenant_id AND a.agent_id = p_agent_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'agent_not_found', NULL::bigint;
    RETURN;
  END IF;
  IF coalesce(v_phone, '') = '' THEN
    RETURN QUERY SELECT 'agent_has_no_phone', NULL::bigint;
    RETURN;
  END IF;

  v_batch := nextval(pg_get_serial_sequence('batches', 'batch_id'));
  IF p_idempotency_key IS NOT NULL THEN
    INSERT INTO batch_idempotency_keys AS k (tenant_id, agent_id, idempotency_key, batch_id, expires_at)
    VALUES (p_tenant_id, p_agent_id, p_idempotency_key, v_batch,
      now() + make_interval(secs => p_idempotency_ttl_seconds))
    ON CONFLICT ON CONSTRAINT batch_idempotency_keys_pkey DO UPDATE
      SET batch_id = excluded.batch_id, created_at = now(), expires_at = excluded.expires_at
      WHERE k.expires_at <= now();
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'duplicate', k.batch_id FROM batch_idempotency_keys k
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      RETURN;
    END IF;
  END IF;

  INSERT INTO batches (tenant_id, batch_id, agent_id, name, max_concurrency, scheduled_for, total_recipients)
  VALUES (p_tenant_id, v_batch, p_agent_id, p_name, p_max_concurrency, p_scheduled_for, p_total_recipients);
  RETURN QUERY SELECT 'created', v_batch;
END
$function$;
COMMENT ON FUNCTION switchboard_create_batch IS 'Writes a batch''s row (its recipients follow, switchboard_add_batch_recipients, in the same transaction); or says why not (the agent; an idempotency key already used, naming its batch).';
