-- Switchboard schema. Every table carries tenant_id and every primary and unique key starts
-- with it, except tenants and api_keys, which are looked up before the tenant is known.

CREATE TABLE tenants (
  tenant_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  number_rate_limit integer NOT NULL DEFAULT 5 CHECK (number_rate_limit >= 0),
  number_rate_period_seconds integer NOT NULL DEFAULT 3600 CHECK (number_rate_period_seconds > 0),
  number_rate_burst integer CHECK (number_rate_burst > 0),
  max_concurrent_calls integer NOT NULL DEFAULT 10 CHECK (max_concurrent_calls >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tenants IS 'Customers of Switchboard; every other row belongs to one.';
COMMENT ON COLUMN tenants.tenant_id IS 'Tenant id, the leading key column of every tenant table.';
COMMENT ON COLUMN tenants.name IS 'Display name.';
COMMENT ON COLUMN tenants.number_rate_limit IS 'Calls allowed to one customer number per period (GCRA); 0 turns the limit off.';
COMMENT ON COLUMN tenants.number_rate_period_seconds IS 'The period of number_rate_limit, in seconds (default one hour).';
COMMENT ON COLUMN tenants.number_rate_burst IS 'Calls allowed to one number at once; NULL means number_rate_limit.';
COMMENT ON COLUMN tenants.max_concurrent_calls IS 'Active attempts (initiated through in_progress) allowed at once; 0 turns the limit off.';
COMMENT ON COLUMN tenants.created_at IS 'When the tenant was created.';

CREATE TABLE api_keys (
  key_hash bytea PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenants,
  key_prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
COMMENT ON TABLE api_keys IS 'API keys of tenants. Only the SHA-256 of a key is stored, never the key.';
COMMENT ON COLUMN api_keys.key_hash IS 'SHA-256 of the whole key (sk_ and 32 characters).';
COMMENT ON COLUMN api_keys.tenant_id IS 'The tenant the key authenticates.';
COMMENT ON COLUMN api_keys.key_prefix IS 'The first 7 characters of the key, to tell keys apart without revealing them.';
COMMENT ON COLUMN api_keys.created_at IS 'When the key was issued.';
COMMENT ON COLUMN api_keys.revoked_at IS 'When the key was revoked; a revoked key authenticates nothing.';

CREATE TABLE agents (
  tenant_id bigint NOT NULL REFERENCES tenants,
  agent_id bigint NOT NULL CHECK (agent_id > 0),
  name text,
  phone_number text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, agent_id)
);
COMMENT ON TABLE agents IS 'Voice agents that place calls, numbered by the tenant.';
COMMENT ON COLUMN agents.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN agents.agent_id IS 'The agent id clients send as agent_id; unique within the tenant.';
COMMENT ON COLUMN agents.name IS 'Display name.';
COMMENT ON COLUMN agents.phone_number IS 'The E.164 number the agent calls from; NULL means it cannot place calls.';
COMMENT ON COLUMN agents.created_at IS 'When the agent was created.';
COMMENT ON COLUMN agents.updated_at IS 'When the agent was last changed.';

-- Chains reference agents without a foreign key: the accept function checks the agent, and a
-- KEY SHARE lock per call on one hot agent row would serialize intake through MultiXacts.
CREATE TABLE conversations (
  tenant_id bigint NOT NULL,
  conversation_id uuid NOT NULL,
  agent_id bigint NOT NULL,
  customer_phone text NOT NULL,
  attempt_count integer NOT NULL CHECK (attempt_count >= 0),
  collected_data jsonb NOT NULL DEFAULT '{}',
  language text,
  stage_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, conversation_id)
);
CREATE INDEX conversations_agent ON conversations (tenant_id, agent_id, conversation_id);
COMMENT ON TABLE conversations IS 'Conversation chains: the attempts to reach one customer about one thing, and the state threaded between them.';
COMMENT ON COLUMN conversations.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN conversations.conversation_id IS 'Chain id (UUIDv7, so ordering by it orders by creation).';
COMMENT ON COLUMN conversations.agent_id IS 'The agent of the first attempt.';
COMMENT ON COLUMN conversations.customer_phone IS 'The number the first attempt called.';
COMMENT ON COLUMN conversations.attempt_count IS 'Attempts so far; attempts are numbered 1..attempt_count without gaps.';
COMMENT ON COLUMN conversations.collected_data IS 'Threaded state: everything collected so far, merged key by key.';
COMMENT ON COLUMN conversations.language IS 'Threaded state: the last language (BCP 47).';
COMMENT ON COLUMN conversations.stage_id IS 'Threaded state: the last conversation stage reached.';
COMMENT ON COLUMN conversations.created_at IS 'When the first attempt was accepted.';
COMMENT ON COLUMN conversations.updated_at IS 'When an attempt was last added or the state last changed.';

CREATE TABLE call_attempts (
  tenant_id bigint NOT NULL,
  trace_id uuid NOT NULL,
  conversation_id uuid NOT NULL,
  attempt_number integer NOT NULL CHECK (attempt_number > 0),
  agent_id bigint NOT NULL,
  customer_phone text NOT NULL,
  parameters jsonb NOT NULL,
  metadata text,
  idempotency_key text,
  retry_context jsonb,
  effective_retry_context jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('scheduled', 'initiated', 'dispatching', 'dispatched', 'ringing',
    'in_progress', 'completed', 'no_answer', 'busy', 'failed', 'unreachable', 'canceled')),
  scheduled_for timestamptz,
  due_at timestamptz NOT NULL,
  lease_owner text,
  lease_expires_at timestamptz,
  dispatched_at timestamptz,
  ended_at timestamptz,
  failure_reason text,
  results jsonb,
  duration_seconds double precision,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, trace_id),
  UNIQUE (tenant_id, conversation_id, attempt_number),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations
);
CREATE INDEX call_attempts_due ON call_attempts (due_at) WHERE status IN ('scheduled', 'initiated');
CREATE INDEX call_attempts_active ON call_attempts (tenant_id)
  WHERE status IN ('initiated', 'dispatching', 'dispatched', 'ringing', 'in_progress');
COMMENT ON TABLE call_attempts IS 'One row per call attempt: what was asked, the context it carried, and what happened.';
COMMENT ON COLUMN call_attempts.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN call_attempts.trace_id IS 'Attempt id returned to clients as trace_id (UUIDv7).';
COMMENT ON COLUMN call_attempts.conversation_id IS 'The chain this attempt belongs to.';
COMMENT ON COLUMN call_attempts.attempt_number IS 'Position in the chain: 1, 2, 3 ... without gaps.';
COMMENT ON COLUMN call_attempts.agent_id IS 'The agent placing the call.';
COMMENT ON COLUMN call_attempts.customer_phone IS 'Destination number (E.164), from the customer_phone parameter.';
COMMENT ON COLUMN call_attempts.parameters IS 'The request''s parameters as a JSON array of {name, value}.';
COMMENT ON COLUMN call_attempts.metadata IS 'Opaque client metadata, passed through unchanged.';
COMMENT ON COLUMN call_attempts.idempotency_key IS 'The idempotency key the request carried, if any.';
COMMENT ON COLUMN call_attempts.retry_context IS 'retry_context exactly as the request gave it.';
COMMENT ON COLUMN call_attempts.effective_retry_context IS 'The chain state overridden by the request''s context: what the dialer receives.';
COMMENT ON COLUMN call_attempts.status IS 'scheduled, initiated, dispatching, dispatched, ringing, in_progress, then completed, no_answer, busy, failed, unreachable or canceled.';
COMMENT ON COLUMN call_attempts.scheduled_for IS 'When the client asked the call to happen; NULL for an immediate call.';
COMMENT ON COLUMN call_attempts.due_at IS 'When the dispatcher may next take the attempt.';
COMMENT ON COLUMN call_attempts.lease_owner IS 'The dispatcher replica holding the attempt while dispatching.';
COMMENT ON COLUMN call_attempts.lease_expires_at IS 'When that lease lapses and another replica may take the attempt.';
COMMENT ON COLUMN call_attempts.dispatched_at IS 'When a dialer accepted the attempt.';
COMMENT ON COLUMN call_attempts.ended_at IS 'When the attempt reached a terminal status.';
COMMENT ON COLUMN call_attempts.failure_reason IS 'Why the attempt failed, when it did.';
COMMENT ON COLUMN call_attempts.results IS 'Outcome results reported by the voice runtime.';
COMMENT ON COLUMN call_attempts.duration_seconds IS 'Talk time reported by the voice runtime.';
COMMENT ON COLUMN call_attempts.created_at IS 'When the attempt was accepted.';
COMMENT ON COLUMN call_attempts.updated_at IS 'When the attempt last changed.';

CREATE TABLE call_events (
  tenant_id bigint NOT NULL,
  trace_id uuid NOT NULL,
  event_id text NOT NULL,
  status text NOT NULL,
  collected_data jsonb,
  stage_id text,
  results jsonb,
  duration_seconds double precision,
  failure_reason text,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, trace_id, event_id),
  FOREIGN KEY (tenant_id, trace_id) REFERENCES call_attempts
);
COMMENT ON TABLE call_events IS 'Append-only log of every progress or outcome report about an attempt.';
COMMENT ON COLUMN call_events.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN call_events.trace_id IS 'The attempt reported on.';
COMMENT ON COLUMN call_events.event_id IS 'The reporter''s id for the event; a repeat is ignored.';
COMMENT ON COLUMN call_events.status IS 'The status the event reports.';
COMMENT ON COLUMN call_events.collected_data IS 'Data collected during the call, merged into the chain state.';
COMMENT ON COLUMN call_events.stage_id IS 'The stage the conversation reached.';
COMMENT ON COLUMN call_events.results IS 'Outcome results.';
COMMENT ON COLUMN call_events.duration_seconds IS 'Talk time.';
COMMENT ON COLUMN call_events.failure_reason IS 'Why the call failed, for failure statuses.';
COMMENT ON COLUMN call_events.received_at IS 'When Switchboard recorded the event.';

CREATE TABLE idempotency_keys (
  tenant_id bigint NOT NULL,
  agent_id bigint NOT NULL,
  idempotency_key text NOT NULL,
  trace_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, agent_id, idempotency_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (tenant_id, expires_at);
COMMENT ON TABLE idempotency_keys IS 'Idempotency keys consumed by accepted calls, kept until expires_at and then purged.';
COMMENT ON COLUMN idempotency_keys.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN idempotency_keys.agent_id IS 'Keys are scoped to (tenant, agent, key).';
COMMENT ON COLUMN idempotency_keys.idempotency_key IS 'The client''s key.';
COMMENT ON COLUMN idempotency_keys.trace_id IS 'The attempt the key created.';
COMMENT ON COLUMN idempotency_keys.created_at IS 'When the key was consumed.';
COMMENT ON COLUMN idempotency_keys.expires_at IS 'When the key may be used again.';

CREATE TABLE number_rate_limits (
  tenant_id bigint NOT NULL,
  customer_phone text NOT NULL,
  tat timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, customer_phone)
);
COMMENT ON TABLE number_rate_limits IS 'GCRA state of the per-number call limit, shared by every replica.';
COMMENT ON COLUMN number_rate_limits.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN number_rate_limits.customer_phone IS 'The limited number (E.164).';
COMMENT ON COLUMN number_rate_limits.tat IS 'Theoretical arrival time: a call is allowed while tat + interval - burst * interval <= now.';

CREATE TABLE event_deliveries (
  tenant_id bigint NOT NULL,
  delivery_id uuid NOT NULL,
  trace_id uuid NOT NULL,
  event_type text NOT NULL,
  target_url text NOT NULL,
  payload jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, delivery_id)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
COMMENT ON TABLE event_deliveries IS 'Outbox of outcome events for webhook subscribers, written with the status change.';
COMMENT ON COLUMN event_deliveries.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN event_deliveries.delivery_id IS 'The event_id subscribers receive.';
COMMENT ON COLUMN event_deliveries.trace_id IS 'The attempt the event is about.';
COMMENT ON COLUMN event_deliveries.event_type IS 'call.completed, call.no_answer, call.busy, call.failed, call.unreachable or call.canceled.';
COMMENT ON COLUMN event_deliveries.target_url IS 'Where the event is POSTed.';
COMMENT ON COLUMN event_deliveries.payload IS 'The signed envelope as sent.';
COMMENT ON COLUMN event_deliveries.attempts IS 'Delivery tries so far.';
COMMENT ON COLUMN event_deliveries.next_attempt_at IS 'When the next try is due.';
COMMENT ON COLUMN event_deliveries.delivered_at IS 'When a subscriber acknowledged the event.';
COMMENT ON COLUMN event_deliveries.last_error IS 'Why the last try failed.';
COMMENT ON COLUMN event_deliveries.created_at IS 'When the event was written.';

-- conversation_chains: db/functions/conversation_chains.sql

-- A read-only role for analysts (psql, BI tools). Skipped with a notice where the migrating user
-- may not create roles.
DO $role$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'switchboard_analyst') THEN
    CREATE ROLE switchboard_analyst NOLOGIN;
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO switchboard_analyst', current_schema());
  GRANT SELECT ON tenants, agents, conversations, call_attempts, call_events, event_deliveries
    TO switchboard_analyst;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'switchboard_analyst role not set up: %', SQLERRM;
END
$role$;

COMMENT ON TABLE schema_migrations IS 'Migrations applied to this database, by version.';
COMMENT ON COLUMN schema_migrations.version IS 'The NNNN of the migration file.';
COMMENT ON COLUMN schema_migrations.name IS 'The migration file''s name after the number.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When it was applied.';
