-- For analysts: every compliance decision Switchboard recorded on an attempt, one row each. A
-- deferral (`deferred`, until deferred_until) or an ending (`suppressed`), with its reason and
-- the attempt's tenant, agent, number, chain and batch. Refusals at intake (403, 422, 429) and batch
-- rows rejected at upload write nothing; they are counted by
-- switchboard_compliance_blocked_total{reason}.
CREATE OR REPLACE VIEW compliance_decisions AS
SELECT
  e.tenant_id,
  e.trace_id,
  a.conversation_id,
  a.attempt_number,
  a.agent_id,
  a.batch_id,
  a.customer_phone,
  CASE WHEN e.status = 'suppressed' THEN 'suppressed' ELSE 'deferred' END AS decision,
  e.blocked_reason AS reason,
  e.deferred_until,
  e.received_at AS decided_at
FROM call_events e
JOIN call_attempts a ON a.tenant_id = e.tenant_id AND a.trace_id = e.trace_id
WHERE e.blocked_reason IS NOT NULL;
COMMENT ON VIEW compliance_decisions IS 'Every recorded compliance decision (deferral or suppression) with its reason, for analysts.';
COMMENT ON COLUMN compliance_decisions.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN compliance_decisions.trace_id IS 'The attempt decided on.';
COMMENT ON COLUMN compliance_decisions.conversation_id IS 'Its chain.';
COMMENT ON COLUMN compliance_decisions.attempt_number IS 'Its place in the chain.';
COMMENT ON COLUMN compliance_decisions.agent_id IS 'The agent placing it.';
COMMENT ON COLUMN compliance_decisions.batch_id IS 'Its batch; NULL for single calls.';
COMMENT ON COLUMN compliance_decisions.customer_phone IS 'The number, E.164.';
COMMENT ON COLUMN compliance_decisions.decision IS 'deferred (due again at deferred_until) or suppressed (ended for good).';
COMMENT ON COLUMN compliance_decisions.reason IS 'suppressed, opt_out, contact_limit, outside_recipient_hours or unknown_timezone.';
COMMENT ON COLUMN compliance_decisions.deferred_until IS 'For a deferral: when the attempt is due again.';
COMMENT ON COLUMN compliance_decisions.decided_at IS 'When the decision was recorded.';

DO $role$
BEGIN
  GRANT SELECT ON compliance_decisions TO switchboard_analyst;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
  RAISE NOTICE 'switchboard_analyst grants not changed: %', SQLERRM;
END
$role$;
