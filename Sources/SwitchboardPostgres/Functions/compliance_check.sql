-- Whether a call of agent p_agent_id to p_phone may start at p_at, by the tenant's compliance
-- rules: the number's suppression (the tenant's or the agent's entry, unexpired), then its caps
-- (the agent's contact_limits, or else the tenant's). Writes nothing. The one place these rules
-- are read: intake (switchboard_append_attempt), dispatch admission (switchboard_admit_dispatch)
-- and POST /v1/compliance/check all ask here.
--
-- o_reasons: 'suppressed' or 'opt_out' (the entry's source decides which), 'contact_limit'.
-- o_next_allowed_at: for caps only, the earliest time every cap allows a call (NULL when allowed
-- now or when suppressed, which no time lifts but expires_at).
CREATE OR REPLACE FUNCTION switchboard_compliance_check(
  p_tenant_id bigint, p_agent_id bigint, p_phone text, p_at timestamptz,
  OUT o_allowed boolean, OUT o_reasons text[], OUT o_next_allowed_at timestamptz
)
LANGUAGE plpgsql STABLE
AS $function$
DECLARE
  v_source text;
  v_limits jsonb;
  v_limit record;
  v_nth timestamptz;
  v_quiet_from timestamptz;
BEGIN
  o_reasons := ARRAY[]::text[];
  SELECT s.source INTO v_source FROM suppressions s
  WHERE s.tenant_id = p_tenant_id AND s.phone_number = p_phone AND s.agent_id IN (0, p_agent_id)
    AND (s.expires_at IS NULL OR s.expires_at > p_at)
  ORDER BY s.source = 'opt_out' DESC
  LIMIT 1;
  IF FOUND THEN
    o_reasons := o_reasons || CASE WHEN v_source = 'opt_out' THEN 'opt_out' ELSE 'suppressed' END;
  END IF;

  SELECT coalesce(g.contact_limits, t.contact_limits) INTO v_limits
  FROM tenants t LEFT JOIN agents g ON g.tenant_id = t.tenant_id AND g.agent_id = p_agent_id
  WHERE t.tenant_id = p_tenant_id;
  IF v_limits IS NOT NULL THEN
    -- Each cap: the max_attempts-th latest contact in the window ends its hold window_hours later.
    FOR v_limit IN
      SELECT x.max_attempts, make_interval(secs => x.window_hours * 3600) AS span
      FROM jsonb_to_recordset(coalesce(v_limits -> 'limits', '[]'::jsonb)) AS x(max_attempts integer, window_hours double precision)
      WHERE x.max_attempts > 0
    LOOP
      SELECT c.contacted_at INTO v_nth FROM (
        SELECT coalesce(a.limits_charged_at, a.dispatched_at) AS contacted_at FROM call_attempts a
        WHERE a.tenant_id = p_tenant_id AND a.customer_phone = p_phone
          AND coalesce(a.limits_charged_at, a.dispatched_at) IS NOT NULL
          AND coalesce(a.limits_charged_at, a.dispatched_at) > p_at - v_limit.span
          AND coalesce(a.limits_charged_at, a.dispatched_at) <= p_at
        ORDER BY 1 DESC OFFSET v_limit.max_attempts - 1 LIMIT 1
      ) c;
      IF v_nth IS NOT NULL THEN
        o_next_allowed_at := greatest(o_next_allowed_at, v_nth + v_limit.span);
      END IF;
    END LOOP;
    -- The quiet time after a conversation (a completed call).
    IF (v_limits ->> 'quiet_hours_after_conversation')::double precision > 0 THEN
      SELECT max(a.ended_at) INTO v_quiet_from FROM call_attempts a
      WHERE a.tenant_id = p_tenant_id AND a.customer_phone = p_phone
        AND coalesce(a.limits_charged_at, a.dispatched_at) IS NOT NULL AND a.status = 'completed';
      IF v_quiet_from + make_interval(secs => (v_limits ->> 'quiet_hours_after_conversation')::double precision * 3600) > p_at THEN
        o_next_allowed_at := greatest(o_next_allowed_at,
          v_quiet_from + make_interval(secs => (v_limits ->> 'quiet_hours_after_conversation')::double precision * 3600));
      END IF;
    END IF;
    IF o_next_allowed_at IS NOT NULL THEN
      o_reasons := o_reasons || 'contact_limit'::text;
    END IF;
  END IF;
  o_allowed := cardinality(o_reasons) = 0;
END
$function$;
COMMENT ON FUNCTION switchboard_compliance_check IS 'Whether a call to a number may start at a time by the tenant''s suppressions and caps: the reasons if not, and when the caps allow it.';
