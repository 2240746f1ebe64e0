-- Dispatch pacing for batch calls (#10). A single call is claimed before any batch's attempt:
-- due single calls have an index of their own, so 10,000 due batch rows never stand in front of
-- one. A batch's attempts are claimed only while the batch is open and up to its free capacity,
-- and admission checks that capacity again under the batch's row lock.
DROP INDEX call_attempts_due;
CREATE INDEX call_attempts_due ON call_attempts (due_at)
  WHERE status = ANY (switchboard_due_statuses()) AND batch_id IS NULL;
CREATE INDEX call_attempts_batch_due ON call_attempts (tenant_id, batch_id, due_at)
  WHERE status = ANY (switchboard_due_statuses()) AND batch_id IS NOT NULL;
CREATE INDEX call_attempts_batch_active ON call_attempts (tenant_id, batch_id)
  WHERE status = ANY (switchboard_active_statuses()) AND batch_id IS NOT NULL;
CREATE INDEX batches_open ON batches (tenant_id, batch_id) WHERE status IN ('pending', 'running');

-- switchboard_admit_dispatch as 0007 wrote it, with the batch's rule first.
-- switchboard_admit_dispatch: db/functions/admit_dispatch.sql
