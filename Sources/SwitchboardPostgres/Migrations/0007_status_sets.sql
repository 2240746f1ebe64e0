-- Status classes, each spelled once. SwitchboardCore's CallStatus states the same sets
-- (isTerminal, isActive, isAwaitingDispatch, isWithDialer, isCancelable) and StatusSetTests fails
-- when the two disagree. IMMUTABLE, so partial indexes may use them and the planner folds each
-- call to a constant: a query written with the function matches an index written with it.
CREATE FUNCTION switchboard_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT ARRAY['scheduled', 'initiated', 'dispatching', 'dispatched', 'ringing', 'in_progress', 'completed', 'no_answer', 'busy', 'failed', 'unreachable', 'canceled']::text[] $function$;
COMMENT ON FUNCTION switchboard_statuses IS 'Every attempt status, in lifecycle order.';
CREATE FUNCTION switchboard_terminal_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT ARRAY['completed', 'no_answer', 'busy', 'failed', 'unreachable', 'canceled']::text[] $function$;
COMMENT ON FUNCTION switchboard_terminal_statuses IS 'Final statuses: nothing moves the attempt again.';
CREATE FUNCTION switchboard_active_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT ARRAY['initiated', 'dispatching', 'dispatched', 'ringing', 'in_progress']::text[] $function$;
COMMENT ON FUNCTION switchboard_active_statuses IS 'Statuses that hold a line or are about to: counted against a tenant''s max_concurrent_calls.';
CREATE FUNCTION switchboard_due_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT ARRAY['scheduled', 'initiated']::text[] $function$;
COMMENT ON FUNCTION switchboard_due_statuses IS 'Statuses that wait for a dispatcher to claim the attempt when due.';
CREATE FUNCTION switchboard_dialed_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT ARRAY['dispatched', 'ringing', 'in_progress']::text[] $function$;
COMMENT ON FUNCTION switchboard_dialed_statuses IS 'Statuses of an attempt with the dialer and not final: the reaper watches these.';
CREATE FUNCTION switchboard_cancelable_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT ARRAY['scheduled', 'initiated']::text[] $function$;
COMMENT ON FUNCTION switchboard_cancelable_statuses IS 'Statuses CancelCall may end: not yet handed to a dispatcher.';

ALTER TABLE call_attempts DROP CONSTRAINT call_attempts_status_check;
ALTER TABLE call_attempts ADD CONSTRAINT call_attempts_status_check CHECK (status = ANY (switchboard_statuses()));

DROP INDEX call_attempts_due;
CREATE INDEX call_attempts_due ON call_attempts (due_at) WHERE status = ANY (switchboard_due_statuses());
DROP INDEX call_attempts_active;
CREATE INDEX call_attempts_active ON call_attempts (tenant_id) WHERE status = ANY (switchboard_active_statuses());
DROP INDEX call_attempts_silent;
CREATE INDEX call_attempts_silent ON call_attempts (updated_at) WHERE status = ANY (switchboard_dialed_statuses());

-- conversation_chains: db/functions/conversation_chains.sql

-- The two functions that count active calls, as 0002 and 0003 wrote them but for the status set
-- (and admission's difference said where it is). The merge in switchboard_accept_call is
-- ThreadedState.threading(_:) and effectiveContext(initialMessage:) in SwitchboardCore;
-- ContractTableTests compares the two.
-- switchboard_accept_call: db/functions/accept_call.sql

-- switchboard_admit_dispatch: db/functions/admit_dispatch.sql
