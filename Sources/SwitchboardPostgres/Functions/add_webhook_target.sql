CREATE OR REPLACE FUNCTION switchboard_add_webhook_target(p_tenant_id bigint, p_agent_id bigint, p_url text, p_secret text,
  p_events text[], p_include_transcript boolean, p_include_recording boolean, p_limit integer)
RETURNS bigint
LANGUAGE plpgsql
AS $function$
DECLARE
  v_id bigint;
BEGIN
  PERFORM FROM agents WHERE tenant_id = p_tenant_id AND agent_id = p_agent_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF (SELECT count(*) FROM webhook_targets WHERE tenant_id = p_tenant_id AND agent_id = p_agent_id) >= p_limit THEN
    RAISE EXCEPTION 'agent % has % webhook targets already', p_agent_id, p_limit
      USING ERRCODE = 'check_violation', HINT = 'switchboard_webhook_target_limit';
  END IF;
  INSERT INTO webhook_targets (tenant_id, agent_id, url, secret, events, include_transcript, include_recording)
  VALUES (p_tenant_id, p_agent_id, p_url, p_secret, p_events, p_include_transcript, p_include_recording)
  RETURNING target_id INTO v_id;
  RETURN v_id;
END
$function$;
COMMENT ON FUNCTION switchboard_add_webhook_target IS 'Adds a webhook target to an agent, at most p_limit per agent (taken under the agent''s row lock).';
