-- A chunk of a batch's recipients: a new chain and its scheduled first attempt each, at the
-- batch's start, so that dispatch admission applies the tenant's limits to them: deferred, never
-- refused. The rows come checked, with their ids made by the service. A new chain's state is the
-- request's context, as switchboard_append_attempt writes it; this is that append set-wise
-- (measured: 137 µs a recipient against 330 µs through switchboard_append_attempt one by one).
CREATE OR REPLACE FUNCTION switchboard_add_batch_recipients(p_tenant_id bigint, p_batch_id bigint, p_recipients jsonb)
RETURNS integer
LANGUAGE plpgsql
AS $function$
DECLARE
  v_batch batches%ROWTYPE;
  v_start timestamptz;
  v_count integer;
BEGIN
  SELECT * INTO STRICT v_batch FROM batches b WHERE b.tenant_id = p_tenant_id AND b.batch_id = p_batch_id;
  v_start := coalesce(v_batch.scheduled_for, v_batch.created_at);
  WITH r AS (
    -- Each new chain's state is its request's context.
    SELECT x.*, coalesce(nullif(x.retry_context -> 'collected_data', 'null'::jsonb), '{}'::jsonb) AS collected_data,
      x.retry_context ->> 'retry_language' AS language, x.retry_context ->> 'retry_stage_id' AS stage_id
    FROM jsonb_to_recordset(p_recipients) AS x(trace_id uuid, conversation_id uuid, customer_phone text,
      parameters jsonb, metadata text, retry_context jsonb)
  ), chains AS (
    INSERT INTO conversations (tenant_id, conversation_id, agent_id, customer_phone, attempt_count,
      collected_data, language, stage_id, batch_id)
    SELECT p_tenant_id, r.conversation_id, v_batch.agent_id, r.customer_phone, 1, r.collected_data, r.language,
      r.stage_id, p_batch_id
    FROM r
  )
  INSERT INTO call_attempts (tenant_id, trace_id, conversation_id, attempt_number, agent_id, customer_phone,
    parameters, metadata, retry_context, effective_retry_context, status, scheduled_for, due_at, batch_id)
  SELECT p_tenant_id, r.trace_id, r.conversation_id, 1, v_batch.agent_id, r.customer_phone, r.parameters,
    r.metadata, r.retry_context,
    switchboard_effective_context(r.collected_data, r.language, r.stage_id, r.retry_context ->> 'retry_initial_message'),
    'scheduled', v_start, v_start, p_batch_id
  FROM r;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$function$;
COMMENT ON FUNCTION switchboard_add_batch_recipients IS 'Writes a chunk of a batch''s recipients: a chain and a scheduled first attempt each, at the batch''s start.';
