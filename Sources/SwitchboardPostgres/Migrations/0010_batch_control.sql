-- Batch calls (#10), the client's side: idempotent uploads in chunks, pause/resume/cancel, and
-- completion and its webhook. (The metrics' extra counts are in batch_progress as 0012 writes it.)

-- A batch whose attempts may be dispatched (Core: BatchStatus.isOpen), spelled once, as 0007
-- spells the attempt status sets. The partial index of open batches is made with it.
CREATE FUNCTION switchboard_open_batch_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT ARRAY['pending', 'running']::text[] $function$;
COMMENT ON FUNCTION switchboard_open_batch_statuses IS 'Batch statuses whose attempts may be dispatched (once the batch''s start has come).';
DROP INDEX batches_open;
CREATE INDEX batches_open ON batches (tenant_id, batch_id) WHERE status = ANY (switchboard_open_batch_statuses());

-- An upload's idempotency key, kept as a call's is (24 h, per agent).
CREATE TABLE batch_idempotency_keys (
  tenant_id bigint NOT NULL,
  agent_id bigint NOT NULL,
  idempotency_key text NOT NULL,
  batch_id bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, agent_id, idempotency_key),
  -- Deferred: the key is claimed before its batch is written (a duplicate then writes nothing).
  FOREIGN KEY (tenant_id, batch_id) REFERENCES batches DEFERRABLE INITIALLY DEFERRED
);
COMMENT ON TABLE batch_idempotency_keys IS 'Idempotency keys of batch uploads: a key names its first batch until expires_at.';
COMMENT ON COLUMN batch_idempotency_keys.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN batch_idempotency_keys.agent_id IS 'The agent of the upload; keys are per agent, as for calls.';
COMMENT ON COLUMN batch_idempotency_keys.idempotency_key IS 'The key the client sent.';
COMMENT ON COLUMN batch_idempotency_keys.batch_id IS 'The batch the key''s first upload created.';
COMMENT ON COLUMN batch_idempotency_keys.created_at IS 'When the key was first used.';
COMMENT ON COLUMN batch_idempotency_keys.expires_at IS 'After this, the key may create a new batch.';

-- A batch's completion is an outbox event too: it names no attempt.
ALTER TABLE event_deliveries ALTER COLUMN trace_id DROP NOT NULL;
ALTER TABLE event_deliveries ADD COLUMN batch_id bigint;
COMMENT ON COLUMN event_deliveries.trace_id IS 'The attempt the event is about; NULL for a batch event.';
COMMENT ON COLUMN event_deliveries.batch_id IS 'For batch.completed and batch.canceled, the batch; NULL for call events.';
COMMENT ON COLUMN event_deliveries.event_type IS 'call.completed, call.no_answer, call.busy, call.failed, call.unreachable, call.canceled, batch.completed or batch.canceled.';

-- The batch write, in steps of one transaction: switchboard_create_batch writes the batch row
-- (claiming the upload's idempotency key first: concurrent uploads with one key wait on its
-- unique index; all but one find it taken, name its batch and write nothing), then
-- switchboard_add_batch_recipients writes the recipients a chunk at a time, so that no statement
-- (and no buffer in the service) holds 100,000 of them at once. 0008's one-statement function goes.
DROP FUNCTION switchboard_create_batch(bigint, bigint, text, integer, timestamptz, jsonb);
CREATE FUNCTION switchboard_create_batch(
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

-- A chunk of a batch's recipients: a chain and a first attempt each. The rows come checked,
-- with their ids and their effective context made by the service (Core's ThreadedState: a new
-- chain is the request's context). Attempts go in scheduled at the batch's start, so that
-- dispatch admission applies the tenant's limits to them: deferred, never refused.
CREATE FUNCTION switchboard_add_batch_recipients(p_tenant_id bigint, p_batch_id bigint, p_recipients jsonb)
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
    SELECT * FROM jsonb_to_recordset(p_recipients) AS x(trace_id uuid, conversation_id uuid, customer_phone text,
      parameters jsonb, metadata text, retry_context jsonb, effective_retry_context jsonb)
  ), chains AS (
    INSERT INTO conversations (tenant_id, conversation_id, agent_id, customer_phone, attempt_count,
      collected_data, language, stage_id, batch_id)
    SELECT p_tenant_id, r.conversation_id, v_batch.agent_id, r.customer_phone, 1,
      r.effective_retry_context -> 'collected_data', r.effective_retry_context ->> 'retry_language',
      r.effective_retry_context ->> 'retry_stage_id', p_batch_id
    FROM r
  )
  INSERT INTO call_attempts (tenant_id, trace_id, conversation_id, attempt_number, agent_id, customer_phone,
    parameters, metadata, retry_context, effective_retry_context, status, scheduled_for, due_at, batch_id)
  SELECT p_tenant_id, r.trace_id, r.conversation_id, 1, v_batch.agent_id, r.customer_phone, r.parameters,
    r.metadata, r.retry_context, r.effective_retry_context, 'scheduled', v_start, v_start, p_batch_id
  FROM r;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$function$;
COMMENT ON FUNCTION switchboard_add_batch_recipients IS 'Writes a chunk of a batch''s recipients: a chain and a scheduled first attempt each, at the batch''s start.';

-- switchboard_admit_dispatch as 0009 wrote it, except that an attempt of a canceled batch is
-- canceled here (a claim may have taken it just before the cancel): nothing else would end it.
CREATE OR REPLACE FUNCTION switchboard_admit_dispatch(p_tenant_id bigint, p_trace_id uuid, p_customer_phone text)
RETURNS timestamptz
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
BEGIN
  -- A batch's attempt: its batch must be open, and below its max_concurrency. The batch row's
  -- lock makes the batch's admissions take turns (two dispatchers cannot both take its last slot)
  -- and orders them with pause and cancel, which take the same lock. NO KEY UPDATE: attempts that
  -- reference the batch take KEY SHARE, which this must not wait for.
  SELECT b.* INTO v_batch FROM call_attempts a JOIN batches b ON b.tenant_id = a.tenant_id AND b.batch_id = a.batch_id
  WHERE a.tenant_id = p_tenant_id AND a.trace_id = p_trace_id
  FOR NO KEY UPDATE OF b;
  IF FOUND THEN
    IF v_batch.status = 'canceled' THEN
      UPDATE call_attempts a SET status = 'canceled', ended_at = now(), updated_at = now(),
        lease_owner = NULL, lease_expires_at = NULL
      WHERE a.tenant_id = p_tenant_id AND a.trace_id = p_trace_id AND a.status = 'dispatching';
      RETURN now();
    END IF;
    IF v_batch.status <> ALL (switchboard_open_batch_statuses()) THEN
      RETURN now() + interval '5 seconds';
    END IF;
    IF v_batch.max_concurrency IS NOT NULL THEN
      SELECT count(*) INTO v_active
      FROM call_attempts a
      WHERE a.tenant_id = p_tenant_id AND a.batch_id = v_batch.batch_id AND a.trace_id <> p_trace_id
        AND a.status = ANY (switchboard_active_statuses())
        AND (a.status <> 'dispatching' OR a.scheduled_for IS NULL OR a.limits_charged_at IS NOT NULL);
      IF v_active >= v_batch.max_concurrency THEN
        RETURN now() + interval '1 second';
      END IF;
    END IF;
  END IF;

  SELECT * INTO v_tenant FROM tenants t WHERE t.tenant_id = p_tenant_id;
  IF v_tenant.max_concurrent_calls > 0 THEN
    PERFORM pg_advisory_xact_lock(hashtext('switchboard.active_calls'), p_tenant_id::integer);
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
      RETURN now() + interval '1 second';
    END IF;
  END IF;
  IF v_tenant.number_rate_limit > 0 THEN
    v_interval := make_interval(secs => v_tenant.number_rate_period_seconds::double precision / v_tenant.number_rate_limit);
    v_burst := coalesce(v_tenant.number_rate_burst, v_tenant.number_rate_limit);
    SELECT s.o_allowed, s.o_tat INTO v_allowed, v_tat
    FROM switchboard_take_number_slot(p_tenant_id, p_customer_phone, v_interval, v_burst) s;
    IF NOT v_allowed THEN
      RETURN v_tat + v_interval - v_burst * v_interval;
    END IF;
  END IF;
  UPDATE call_attempts a SET limits_charged_at = now() WHERE a.tenant_id = p_tenant_id AND a.trace_id = p_trace_id;
  RETURN NULL;
END
$function$;

DO $role$
BEGIN
  GRANT SELECT ON batch_idempotency_keys TO switchboard_analyst;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
  RAISE NOTICE 'switchboard_analyst grants not changed: %', SQLERRM;
END
$role$;
