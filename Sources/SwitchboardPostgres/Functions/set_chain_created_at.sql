CREATE OR REPLACE FUNCTION switchboard_set_chain_created_at() RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
  IF NEW.chain_created_at IS NULL THEN
    SELECT c.created_at INTO NEW.chain_created_at FROM conversations c
    WHERE c.tenant_id = NEW.tenant_id AND c.conversation_id = NEW.conversation_id;
    -- A chain written by the same statement (a batch's chunk) is not visible yet; it was created
    -- now(), as this attempt was.
    NEW.chain_created_at := coalesce(NEW.chain_created_at, NEW.created_at);
  END IF;
  RETURN NEW;
END
$function$;
COMMENT ON FUNCTION switchboard_set_chain_created_at IS 'Copies the chain''s created_at onto a new attempt (call_attempts.chain_created_at).';
CREATE OR REPLACE TRIGGER call_attempts_chain_created_at BEFORE INSERT ON call_attempts
  FOR EACH ROW EXECUTE FUNCTION switchboard_set_chain_created_at();
