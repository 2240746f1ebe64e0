-- Threads what a request or a report says into its chain, under the chain's row lock (this
-- UPDATE takes it): collected_data merges key by key (a key given replaces the chain's), a
-- language or stage given replaces the chain's, and an append counts one more attempt. The only
-- place a chain's state changes after it is written; Core's ThreadedState.threading states the
-- same rules and ContractTableTests holds the two equal.
CREATE OR REPLACE FUNCTION switchboard_thread_chain(
  p_tenant_id bigint, p_conversation_id uuid, p_context jsonb, p_appending boolean
) RETURNS conversations
LANGUAGE sql
AS $function$
  UPDATE conversations c
  SET attempt_count = c.attempt_count + CASE WHEN p_appending THEN 1 ELSE 0 END,
    collected_data = c.collected_data || coalesce(nullif(p_context -> 'collected_data', 'null'::jsonb), '{}'::jsonb),
    language = coalesce(p_context ->> 'retry_language', c.language),
    stage_id = coalesce(p_context ->> 'retry_stage_id', c.stage_id),
    updated_at = now()
  WHERE c.tenant_id = p_tenant_id AND c.conversation_id = p_conversation_id
  RETURNING c.*
$function$;
COMMENT ON FUNCTION switchboard_thread_chain IS 'Merges a retry_context (or a report''s collected_data and stage) into its chain, counting an appended attempt; answers the chain.';
