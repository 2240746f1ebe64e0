-- The status an attempt waits for a dispatcher in: `scheduled` when it was asked for a time,
-- else `initiated`. Accept (switchboard_append_attempt) and postpone both ask here.
CREATE OR REPLACE FUNCTION switchboard_waiting_status(p_scheduled_for timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT CASE WHEN p_scheduled_for IS NULL THEN 'initiated' ELSE 'scheduled' END $function$;
COMMENT ON FUNCTION switchboard_waiting_status IS 'The status an attempt waits in: scheduled when given a time, else initiated.';
