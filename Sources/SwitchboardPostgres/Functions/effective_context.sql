-- The context an attempt is dialed with: its chain's threaded state (collected_data, language,
-- stage) and the attempt's own initial message. Core's ThreadedState.effectiveContext states
-- the same; ContractTableTests holds the two equal.
CREATE OR REPLACE FUNCTION switchboard_effective_context(
  p_collected_data jsonb, p_language text, p_stage_id text, p_initial_message text
) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$
  SELECT jsonb_build_object('collected_data', coalesce(p_collected_data, '{}'::jsonb))
    || CASE WHEN p_initial_message IS NULL THEN '{}'::jsonb
      ELSE jsonb_build_object('retry_initial_message', p_initial_message) END
    || CASE WHEN p_language IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('retry_language', p_language) END
    || CASE WHEN p_stage_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('retry_stage_id', p_stage_id) END
$function$;
COMMENT ON FUNCTION switchboard_effective_context IS 'The retry_context an attempt is dialed with: its chain''s threaded state and its own initial message.';
