CREATE OR REPLACE FUNCTION switchboard_supersede_attempt() RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
  UPDATE call_attempts a SET is_latest = false
  WHERE a.tenant_id = NEW.tenant_id AND a.conversation_id = NEW.conversation_id
    AND a.attempt_number = NEW.attempt_number - 1 AND a.is_latest;
  RETURN NULL;
END
$function$;
COMMENT ON FUNCTION switchboard_supersede_attempt IS 'Clears is_latest on the attempt a new one follows (written under the chain''s row lock).';
CREATE OR REPLACE TRIGGER call_attempts_supersede AFTER INSERT ON call_attempts
  FOR EACH ROW WHEN (NEW.attempt_number > 1) EXECUTE FUNCTION switchboard_supersede_attempt();
