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
-- switchboard_create_batch: db/functions/create_batch.sql

-- A chunk of a batch's recipients: a chain and a first attempt each. The rows come checked,
-- with their ids and their effective context made by the service (Core's ThreadedState: a new
-- chain is the request's context). Attempts go in scheduled at the batch's start, so that
-- dispatch admission applies the tenant's limits to them: deferred, never refused.
-- switchboard_add_batch_recipients: db/functions/add_batch_recipients.sql

-- switchboard_admit_dispatch as 0009 wrote it, except that an attempt of a canceled batch is
-- canceled here (a claim may have taken it just before the cancel): nothing else would end it.
-- switchboard_admit_dispatch: db/functions/admit_dispatch.sql

DO $role$
BEGIN
  GRANT SELECT ON batch_idempotency_keys TO switchboard_analyst;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
  RAISE NOTICE 'switchboard_analyst grants not changed: %', SQLERRM;
END
$role$;
