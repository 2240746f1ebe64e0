-- Issue #20: a retry earned by an outcome reported after its batch was canceled was created
-- anyway, and stayed scheduled for good (dispatch claims only open batches' attempts). Retries no
-- longer are; the ones already stranded end canceled, as the cancel would have ended them.
UPDATE call_attempts a SET status = 'canceled', ended_at = now(), updated_at = now(),
  lease_owner = NULL, lease_expires_at = NULL
FROM batches b
WHERE b.tenant_id = a.tenant_id AND b.batch_id = a.batch_id AND b.status = 'canceled'
  AND a.status = ANY(switchboard_cancelable_statuses());
