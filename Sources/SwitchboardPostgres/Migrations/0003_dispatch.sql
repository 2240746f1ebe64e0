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
CREATE FUNCTION switchboard_uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE
AS $function$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$function$;
COMMENT ON FUNCTION switchboard_uuid_v7 IS 'A time-ordered version 7 UUID.';

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
CREATE FUNCTION switchboard_admit_dispatch(p_tenant_id bigint, p_trace_id uuid, p_customer_phone text)
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
BEGIN
  SELECT * INTO v_tenant FROM tenants t WHERE t.tenant_id = p_tenant_id;
  IF v_tenant.max_concurrent_calls > 0 THEN
    PERFORM pg_advisory_xact_lock(hashtext('switchboard.active_calls'), p_tenant_id::integer);
    SELECT count(*) INTO v_active
    FROM call_attempts a
    WHERE a.tenant_id = p_tenant_id AND a.trace_id <> p_trace_id
      AND (a.status IN ('initiated', 'dispatched', 'ringing', 'in_progress')
        OR (a.status = 'dispatching' AND (a.scheduled_for IS NULL OR a.limits_charged_at IS NOT NULL)));
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
COMMENT ON FUNCTION switchboard_admit_dispatch IS 'Charges a scheduled attempt''s limits at dispatch; NULL when it may go, else when to try again.';
