-- Do-not-call (#22): suppression lists, a final status `suppressed`, attempt caps per number, and
-- the reason of every compliance decision. The functions that apply them are in db/functions
-- (compliance_check, suppress_numbers, admit_dispatch, append_attempt).

-- A number no call of the tenant (agent_id 0) or of one agent may dial. One row per number and
-- scope: a second entry for the same scope replaces the first.
CREATE TABLE suppressions (
  tenant_id bigint NOT NULL REFERENCES tenants (tenant_id),
  phone_number text NOT NULL,
  agent_id bigint NOT NULL DEFAULT 0 CHECK (agent_id >= 0),
  reason text,
  source text NOT NULL CHECK (source IN ('api', 'import', 'opt_out')),
  trace_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  PRIMARY KEY (tenant_id, phone_number, agent_id)
);
COMMENT ON TABLE suppressions IS 'Do-not-call entries: the number is not dialed for the tenant (agent_id 0) or for one agent, until expires_at if set.';
COMMENT ON COLUMN suppressions.tenant_id IS 'The tenant whose list holds the entry.';
COMMENT ON COLUMN suppressions.phone_number IS 'The number not to dial, E.164.';
COMMENT ON COLUMN suppressions.agent_id IS '0: every agent of the tenant (scope tenant); otherwise the one agent (scope agent).';
COMMENT ON COLUMN suppressions.reason IS 'Why, as the client gave it.';
COMMENT ON COLUMN suppressions.source IS 'api, import (a CSV upload) or opt_out (the runtime heard "stop calling" on trace_id).';
COMMENT ON COLUMN suppressions.trace_id IS 'For an opt-out: the attempt on which the number asked not to be called.';
COMMENT ON COLUMN suppressions.created_at IS 'When the entry was written (or last replaced).';
COMMENT ON COLUMN suppressions.expires_at IS 'When the entry stops applying; NULL: never.';

-- The new final status, after canceled in CallStatus's order. Not retryable.
CREATE OR REPLACE FUNCTION switchboard_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT ARRAY['scheduled', 'initiated', 'dispatching', 'dispatched', 'ringing', 'in_progress', 'completed', 'no_answer', 'busy', 'failed', 'unreachable', 'voicemail', 'canceled', 'suppressed']::text[] $function$;
CREATE OR REPLACE FUNCTION switchboard_terminal_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT ARRAY['completed', 'no_answer', 'busy', 'failed', 'unreachable', 'voicemail', 'canceled', 'suppressed']::text[] $function$;
COMMENT ON COLUMN call_attempts.status IS 'scheduled, initiated, dispatching, dispatched, ringing, in_progress, or a final status: completed, no_answer, busy, failed, unreachable, voicemail (a machine answered), canceled, suppressed (a compliance rule forbade the dial).';

ALTER TABLE call_attempts ADD COLUMN blocked_reason text;
COMMENT ON COLUMN call_attempts.blocked_reason IS 'Why compliance last held the attempt back or ended it: suppressed, opt_out, contact_limit.';
ALTER TABLE call_events ADD COLUMN blocked_reason text, ADD COLUMN deferred_until timestamptz;
COMMENT ON COLUMN call_events.blocked_reason IS 'A compliance decision''s reason (the event is Switchboard''s own): suppressed, opt_out, contact_limit.';
COMMENT ON COLUMN call_events.deferred_until IS 'For a deferral: when the attempt is due again.';

-- Attempt caps per number: {"limits": [{"max_attempts", "window_hours"}], "quiet_hours_after_conversation"}.
-- An agent's own replaces its tenant's.
ALTER TABLE tenants ADD COLUMN contact_limits jsonb;
ALTER TABLE agents ADD COLUMN contact_limits jsonb;
COMMENT ON COLUMN tenants.contact_limits IS 'Attempt caps per number (SwitchboardCore ContactLimits); NULL: none.';
COMMENT ON COLUMN agents.contact_limits IS 'The agent''s own attempt caps per number, replacing its tenant''s; NULL: the tenant''s.';

-- A number's contacts: attempts handed to a dialer (charged at admission, or dispatched), which
-- the caps count, and whose completed ones start the quiet time.
CREATE INDEX call_attempts_contacts ON call_attempts (tenant_id, customer_phone, (coalesce(limits_charged_at, dispatched_at)))
  WHERE coalesce(limits_charged_at, dispatched_at) IS NOT NULL;
-- A number's attempts not yet with the dialer, which a suppression ends and then waits for.
CREATE INDEX call_attempts_number_waiting ON call_attempts (tenant_id, customer_phone)
  WHERE status = ANY (switchboard_due_statuses()) OR status = 'dispatching';

-- Admission answers why it deferred or ended an attempt, and is told which checks are pending.
DROP FUNCTION IF EXISTS switchboard_admit_dispatch(bigint, uuid, text);
-- Intake checks compliance inside the append; the outcome gains its refusals.
DROP FUNCTION IF EXISTS switchboard_append_attempt(bigint, bigint, uuid, uuid, uuid, integer, text, jsonb, text, text,
  integer, jsonb, timestamptz, bigint, text, integer, integer, integer, integer);
ALTER TYPE switchboard_append_outcome ADD VALUE 'suppressed';
ALTER TYPE switchboard_append_outcome ADD VALUE 'contact_limited';

DO $role$
BEGIN
  GRANT SELECT (tenant_id, phone_number, agent_id, reason, source, trace_id, created_at, expires_at) ON suppressions TO switchboard_analyst;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
  RAISE NOTICE 'switchboard_analyst grants not changed: %', SQLERRM;
END
$role$;
