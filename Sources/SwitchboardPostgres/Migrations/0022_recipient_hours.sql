-- Calling hours in the recipient's own time (#23). A tenant (or one agent) sets recipient_hours,
-- checked in the number's zones (RecipientHoursPolicy, in Core: at intake and in the dispatcher
-- beside the agent's calling window). The tenant decides what a call placed now outside them
-- does (outside_hours) and where a number of unknown zone is taken to be (unknown_timezone, with
-- the tenant's own timezone). A call may name its recipient's zone; a retry keeps it.
ALTER TABLE tenants
  ADD COLUMN recipient_hours jsonb,
  ADD COLUMN outside_hours text NOT NULL DEFAULT 'defer'
    CONSTRAINT tenants_outside_hours_known CHECK (outside_hours IN ('defer', 'reject')),
  ADD COLUMN unknown_timezone text NOT NULL DEFAULT 'tenant_zone'
    CONSTRAINT tenants_unknown_timezone_known CHECK (unknown_timezone IN ('tenant_zone', 'refuse')),
  ADD COLUMN timezone text NOT NULL DEFAULT 'UTC';
COMMENT ON COLUMN tenants.recipient_hours IS 'Calling hours in the recipient''s zone: {"days": [...], "start": "HH:MM", "end": "HH:MM"}, narrowed by the country''s limits; NULL: none.';
COMMENT ON COLUMN tenants.outside_hours IS 'A call placed now outside the recipient''s hours: defer (scheduled for the next opening) or reject (422).';
COMMENT ON COLUMN tenants.unknown_timezone IS 'A number whose zone is unknown: tenant_zone (checked in the tenant''s timezone) or refuse.';
COMMENT ON COLUMN tenants.timezone IS 'The tenant''s IANA zone, for numbers of unknown zone.';
ALTER TABLE agents ADD COLUMN recipient_hours jsonb;
COMMENT ON COLUMN agents.recipient_hours IS 'The agent''s own recipient hours, in place of the tenant''s; NULL: the tenant''s.';
ALTER TABLE call_attempts ADD COLUMN recipient_timezone text;
COMMENT ON COLUMN call_attempts.recipient_timezone IS 'The recipient''s IANA zone as the caller gave it (else the number''s prefix decides); retries keep it.';
COMMENT ON COLUMN call_attempts.blocked_reason IS 'Why compliance last held the attempt back or ended it: suppressed, opt_out, contact_limit, outside_recipient_hours, unknown_timezone.';
COMMENT ON COLUMN call_events.blocked_reason IS 'A compliance decision''s reason (the event is Switchboard''s own): suppressed, opt_out, contact_limit, outside_recipient_hours, unknown_timezone.';
-- switchboard_append_attempt takes p_recipient_timezone and p_blocked_reason; the new signature
-- is created from its file.
DROP FUNCTION IF EXISTS switchboard_append_attempt(bigint, bigint, uuid, uuid, uuid, integer, text, jsonb, text, text,
  integer, jsonb, timestamptz, bigint, text, integer, integer, integer, integer, boolean);
