-- Dispatch, outcome events, retry policies, calling windows and outcome webhooks.

ALTER TABLE agents
  ADD COLUMN retry_policy jsonb,
  ADD COLUMN calling_window jsonb,
  ADD COLUMN webhook_url text,
  ADD COLUMN webhook_secret text,
  ADD COLUMN webhook_events text[];
COMMENT ON COLUMN agents.retry_policy IS 'When a finished attempt earns another: {"max_attempts", "retry_on": [statuses], "delays_seconds": [...]}; NULL means never.';
COMMENT ON COLUMN agents.calling_window IS 'When the agent may call: {"timezone", "days": ["mon", ...], "start": "HH:MM", "end": "HH:MM"}; NULL means any time.';
COMMENT ON COLUMN agents.webhook_url IS 'Where outcome events (call.completed, call.no_answer, ...) are POSTed; NULL means nowhere.';
COMMENT ON COLUMN agents.webhook_secret IS 'HMAC-SHA256 key that signs outcome events (needed in the clear to sign; not readable by analysts).';
COMMENT ON COLUMN agents.webhook_events IS 'Event types delivered; NULL means all.';

ALTER TABLE event_deliveries ADD COLUMN agent_id bigint;
COMMENT ON COLUMN event_deliveries.agent_id IS 'The agent whose webhook receives the event (its secret signs it).';

CREATE INDEX call_attempts_lease ON call_attempts (lease_expires_at) WHERE status = 'dispatching';

-- A version 7 UUID made in the database, for attempts it creates itself (automatic retries).
-- switchboard_uuid_v7: db/functions/uuid_v7.sql

DO $role$
BEGIN
  -- Column grants leave webhook secrets out (revoking the table grant revokes column grants too).
  REVOKE SELECT ON agents FROM switchboard_analyst;
  GRANT SELECT (tenant_id, agent_id, name, phone_number, created_at, updated_at, retry_policy, calling_window,
    webhook_url, webhook_events) ON agents TO switchboard_analyst;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
  RAISE NOTICE 'switchboard_analyst grants not changed: %', SQLERRM;
END
$role$;

ALTER TABLE call_attempts ADD COLUMN limits_charged_at timestamptz;
COMMENT ON COLUMN call_attempts.limits_charged_at IS 'When a scheduled attempt met the per-number and tenant limits at dispatch (immediate calls meet them at intake).';

-- Admits a scheduled attempt at dispatch time: the tenant's active-call limit and the per-number
-- GCRA limit, as at intake. Returns NULL when it may go now, else when to try again.
-- switchboard_admit_dispatch: db/functions/admit_dispatch.sql
