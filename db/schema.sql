--
-- PostgreSQL database dump
--



SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: switchboard_append_outcome; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.switchboard_append_outcome AS ENUM (
    'accepted',
    'duplicate',
    'invalid_api_key',
    'agent_not_found',
    'agent_has_no_phone',
    'conversation_not_found',
    'concurrency_limited',
    'rate_limited',
    'suppressed',
    'contact_limited'
);


--
-- Name: TYPE switchboard_append_outcome; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TYPE public.switchboard_append_outcome IS 'What switchboard_append_attempt did: accepted, or why not.';


--
-- Name: switchboard_appended; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.switchboard_appended AS (
	outcome public.switchboard_append_outcome,
	trace_id uuid,
	conversation_id uuid,
	attempt_number integer,
	status text,
	scheduled_for timestamp with time zone,
	agent_id bigint,
	batch_id bigint,
	rate_remaining integer,
	rate_reset_seconds double precision,
	retry_after_seconds double precision,
	current_calls integer
);


--
-- Name: TYPE switchboard_appended; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TYPE public.switchboard_appended IS 'The answer of switchboard_append_attempt: the outcome, the attempt (accepted or duplicate), and the limit that refused it.';


--
-- Name: switchboard_accept_calls(jsonb, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_accept_calls(p_calls jsonb, p_idempotency_ttl_seconds integer) RETURNS TABLE(ordinal integer, rate_limit integer, max_calls integer, appended public.switchboard_appended)
    LANGUAGE plpgsql
    AS $$
DECLARE
  c record;
  v_key_hash text;
  v_tenant tenants%ROWTYPE;
  v_refused switchboard_appended;
BEGIN
  v_refused.outcome := 'invalid_api_key';
  FOR c IN
    SELECT e.ordinality::integer AS ordinal, x.*
    FROM jsonb_array_elements(p_calls) WITH ORDINALITY AS e(call, ordinality),
      jsonb_to_record(e.call) AS x(key_hash text, agent_id bigint, trace_id uuid, new_conversation_id uuid,
        conversation_id uuid, conversation_attempt integer, customer_phone text, parameters jsonb, metadata text,
        idempotency_key text, retry_context jsonb, scheduled_for_epoch double precision, traceparent text,
        recipient_timezone text, blocked_reason text)
  LOOP
    IF v_key_hash IS DISTINCT FROM c.key_hash THEN
      v_key_hash := c.key_hash;
      SELECT t.* INTO v_tenant
      FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id
      WHERE k.key_hash = decode(c.key_hash, 'hex') AND k.revoked_at IS NULL;
    END IF;
    IF v_tenant.tenant_id IS NULL THEN
      RETURN QUERY SELECT c.ordinal, NULL::integer, NULL::integer, v_refused;
      CONTINUE;
    END IF;
    RETURN QUERY SELECT c.ordinal, v_tenant.number_rate_limit, v_tenant.max_concurrent_calls,
      switchboard_append_attempt(v_tenant.tenant_id, c.agent_id, c.trace_id, c.new_conversation_id,
        c.conversation_id, c.conversation_attempt, c.customer_phone, c.parameters, c.metadata, c.idempotency_key,
        p_idempotency_ttl_seconds, c.retry_context, to_timestamp(c.scheduled_for_epoch), NULL, c.traceparent,
        v_tenant.number_rate_limit, v_tenant.number_rate_period_seconds,
        coalesce(v_tenant.number_rate_burst, v_tenant.number_rate_limit), v_tenant.max_concurrent_calls, true,
        c.recipient_timezone, c.blocked_reason);
  END LOOP;
END
$$;


--
-- Name: FUNCTION switchboard_accept_calls(p_calls jsonb, p_idempotency_ttl_seconds integer); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_accept_calls(p_calls jsonb, p_idempotency_ttl_seconds integer) IS 'Records a batch of calls in one transaction, each as switchboard_append_attempt does, after checking its API key; one row per call, by ordinal, with its tenant''s limits.';


--
-- Name: switchboard_active_statuses(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_active_statuses() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY['initiated', 'dispatching', 'dispatched', 'ringing', 'in_progress']::text[] $$;


--
-- Name: FUNCTION switchboard_active_statuses(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_active_statuses() IS 'Statuses that hold a line or are about to: counted against a tenant''s max_concurrent_calls.';


--
-- Name: switchboard_add_batch_recipients(bigint, bigint, jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_add_batch_recipients(p_tenant_id bigint, p_batch_id bigint, p_recipients jsonb) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_batch batches%ROWTYPE;
  v_start timestamptz;
  v_count integer;
BEGIN
  SELECT * INTO STRICT v_batch FROM batches b WHERE b.tenant_id = p_tenant_id AND b.batch_id = p_batch_id;
  v_start := coalesce(v_batch.scheduled_for, v_batch.created_at);
  WITH r AS (
    -- Each new chain's state is its request's context.
    SELECT x.*, coalesce(nullif(x.retry_context -> 'collected_data', 'null'::jsonb), '{}'::jsonb) AS collected_data,
      x.retry_context ->> 'retry_language' AS language, x.retry_context ->> 'retry_stage_id' AS stage_id
    FROM jsonb_to_recordset(p_recipients) AS x(trace_id uuid, conversation_id uuid, customer_phone text,
      parameters jsonb, metadata text, retry_context jsonb)
  ), chains AS (
    INSERT INTO conversations (tenant_id, conversation_id, agent_id, customer_phone, attempt_count,
      collected_data, language, stage_id, batch_id)
    SELECT p_tenant_id, r.conversation_id, v_batch.agent_id, r.customer_phone, 1, r.collected_data, r.language,
      r.stage_id, p_batch_id
    FROM r
  )
  INSERT INTO call_attempts (tenant_id, trace_id, conversation_id, attempt_number, agent_id, customer_phone,
    parameters, metadata, retry_context, effective_retry_context, status, scheduled_for, due_at, batch_id)
  SELECT p_tenant_id, r.trace_id, r.conversation_id, 1, v_batch.agent_id, r.customer_phone, r.parameters,
    r.metadata, r.retry_context,
    switchboard_effective_context(r.collected_data, r.language, r.stage_id, r.retry_context ->> 'retry_initial_message'),
    'scheduled', v_start, v_start, p_batch_id
  FROM r;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;


--
-- Name: FUNCTION switchboard_add_batch_recipients(p_tenant_id bigint, p_batch_id bigint, p_recipients jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_add_batch_recipients(p_tenant_id bigint, p_batch_id bigint, p_recipients jsonb) IS 'Writes a chunk of a batch''s recipients: a chain and a scheduled first attempt each, at the batch''s start.';


--
-- Name: switchboard_add_webhook_target(bigint, bigint, text, text, text[], boolean, boolean, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_add_webhook_target(p_tenant_id bigint, p_agent_id bigint, p_url text, p_secret text, p_events text[], p_include_transcript boolean, p_include_recording boolean, p_limit integer) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
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
$$;


--
-- Name: FUNCTION switchboard_add_webhook_target(p_tenant_id bigint, p_agent_id bigint, p_url text, p_secret text, p_events text[], p_include_transcript boolean, p_include_recording boolean, p_limit integer); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_add_webhook_target(p_tenant_id bigint, p_agent_id bigint, p_url text, p_secret text, p_events text[], p_include_transcript boolean, p_include_recording boolean, p_limit integer) IS 'Adds a webhook target to an agent, at most p_limit per agent (taken under the agent''s row lock).';


--
-- Name: switchboard_admit_dispatch(bigint, uuid, bigint, text, boolean, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_admit_dispatch(p_tenant_id bigint, p_trace_id uuid, p_agent_id bigint, p_customer_phone text, p_limits_pending boolean, p_compliance_pending boolean, OUT o_decision text, OUT o_retry_at timestamp with time zone, OUT o_reason text) RETURNS record
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_tenant tenants%ROWTYPE;
  v_active integer;
  v_interval interval;
  v_burst integer;
  v_allowed boolean;
  v_tat timestamptz;
  v_batch batches%ROWTYPE;
  v_check record;
BEGIN
  -- A batch's attempt: its batch must be open, and below its max_concurrency. The batch row's
  -- lock makes the batch's admissions take turns (two dispatchers cannot both take its last slot)
  -- and orders them with pause and cancel, which take the same lock. NO KEY UPDATE: attempts that
  -- reference the batch take KEY SHARE, which this must not wait for.
  SELECT b.* INTO v_batch FROM call_attempts a JOIN batches b ON b.tenant_id = a.tenant_id AND b.batch_id = a.batch_id
  WHERE a.tenant_id = p_tenant_id AND a.trace_id = p_trace_id AND p_limits_pending
  FOR NO KEY UPDATE OF b;
  IF FOUND THEN
    IF v_batch.status = 'canceled' THEN
      UPDATE call_attempts a SET status = 'canceled', ended_at = now(), updated_at = now(),
        lease_owner = NULL, lease_expires_at = NULL
      WHERE a.tenant_id = p_tenant_id AND a.trace_id = p_trace_id AND a.status = 'dispatching';
      o_decision := 'canceled';
      RETURN;
    END IF;
    IF v_batch.status <> ALL (switchboard_open_batch_statuses()) THEN
      o_decision := 'deferred';
      o_retry_at := now() + interval '5 seconds';
      RETURN;
    END IF;
    IF v_batch.max_concurrency IS NOT NULL THEN
      SELECT count(*) INTO v_active
      FROM call_attempts a
      WHERE a.tenant_id = p_tenant_id AND a.batch_id = v_batch.batch_id AND a.trace_id <> p_trace_id
        AND a.status = ANY (switchboard_active_statuses())
        AND (a.status <> 'dispatching' OR a.scheduled_for IS NULL OR a.limits_charged_at IS NOT NULL);
      IF v_active >= v_batch.max_concurrency THEN
      o_decision := 'deferred';
      o_retry_at := now() + interval '1 second';
      RETURN;
      END IF;
    END IF;
  END IF;

  -- The number's compliance, under its lock (a bigint key: apart from the two-key locks above).
  IF p_compliance_pending THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('switchboard.number:' || p_tenant_id || ':' || p_customer_phone, 0));
    SELECT * INTO v_check FROM switchboard_compliance_check(p_tenant_id, p_agent_id, p_customer_phone, now());
    IF 'opt_out' = ANY (v_check.o_reasons) OR 'suppressed' = ANY (v_check.o_reasons) THEN
      o_decision := 'suppressed';
      o_reason := CASE WHEN 'opt_out' = ANY (v_check.o_reasons) THEN 'opt_out' ELSE 'suppressed' END;
      RETURN;
    END IF;
    IF v_check.o_next_allowed_at IS NOT NULL THEN
      o_decision := 'deferred';
      o_retry_at := v_check.o_next_allowed_at;
      o_reason := 'contact_limit';
      RETURN;
    END IF;
  END IF;

  SELECT * INTO v_tenant FROM tenants t WHERE t.tenant_id = p_tenant_id;
  IF p_limits_pending AND v_tenant.max_concurrent_calls > 0 THEN
    -- The same lock as intake's (switchboard_append_attempt).
    PERFORM pg_advisory_xact_lock(hashtext('switchboard.active_calls'), hashint8(p_tenant_id));
    SELECT count(*) INTO v_active
    FROM call_attempts a
    WHERE a.tenant_id = p_tenant_id AND a.trace_id <> p_trace_id
      -- Intake counts every active status (switchboard_active_statuses). Here, an attempt that is
      -- dispatching only holds a line once its limits are charged: a scheduled attempt claimed by a
      -- dispatcher but not yet admitted (this one, or another being admitted beside it) has taken
      -- nothing yet, and counting it would let claimed-but-waiting attempts lock each other out.
      AND a.status = ANY (switchboard_active_statuses())
      AND (a.status <> 'dispatching' OR a.scheduled_for IS NULL OR a.limits_charged_at IS NOT NULL);
    IF v_active >= v_tenant.max_concurrent_calls THEN
      o_decision := 'deferred';
      o_retry_at := now() + interval '1 second';
      RETURN;
    END IF;
  END IF;
  IF p_limits_pending AND v_tenant.number_rate_limit > 0 THEN
    v_interval := make_interval(secs => v_tenant.number_rate_period_seconds::double precision / v_tenant.number_rate_limit);
    v_burst := coalesce(v_tenant.number_rate_burst, v_tenant.number_rate_limit);
    SELECT s.o_allowed, s.o_tat INTO v_allowed, v_tat
    FROM switchboard_take_number_slot(p_tenant_id, p_customer_phone, v_interval, v_burst) s;
    IF NOT v_allowed THEN
      o_decision := 'deferred';
      o_retry_at := v_tat + v_interval - v_burst * v_interval;
      RETURN;
    END IF;
  END IF;
  UPDATE call_attempts a SET limits_charged_at = now() WHERE a.tenant_id = p_tenant_id AND a.trace_id = p_trace_id;
  o_decision := 'admitted';
END
$$;


--
-- Name: FUNCTION switchboard_admit_dispatch(p_tenant_id bigint, p_trace_id uuid, p_agent_id bigint, p_customer_phone text, p_limits_pending boolean, p_compliance_pending boolean, OUT o_decision text, OUT o_retry_at timestamp with time zone, OUT o_reason text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_admit_dispatch(p_tenant_id bigint, p_trace_id uuid, p_agent_id bigint, p_customer_phone text, p_limits_pending boolean, p_compliance_pending boolean, OUT o_decision text, OUT o_retry_at timestamp with time zone, OUT o_reason text) IS 'Dispatch admission: admitted (its limits and the contact charged), deferred until o_retry_at (o_reason for a compliance rule), suppressed (o_reason), or canceled with its batch.';


--
-- Name: switchboard_admit_dispatches(bigint[], uuid[], bigint[], text[], boolean[], boolean[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_admit_dispatches(p_tenant_ids bigint[], p_trace_ids uuid[], p_agent_ids bigint[], p_customer_phones text[], p_limits_pending boolean[], p_compliance_pending boolean[]) RETURNS TABLE(o_trace_id uuid, o_decision text, o_retry_at timestamp with time zone, o_reason text)
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_key bigint;
  v_attempt record;
BEGIN
  PERFORM FROM batches b
  WHERE (b.tenant_id, b.batch_id) IN (
    SELECT a.tenant_id, a.batch_id
    FROM unnest(p_tenant_ids, p_trace_ids, p_limits_pending) r (tenant_id, trace_id, pending)
    JOIN call_attempts a ON a.tenant_id = r.tenant_id AND a.trace_id = r.trace_id
    WHERE r.pending AND a.batch_id IS NOT NULL)
  ORDER BY b.batch_id
  FOR NO KEY UPDATE OF b;

  FOR v_key IN
    SELECT DISTINCT hashtextextended('switchboard.number:' || r.tenant_id || ':' || r.phone, 0)
    FROM unnest(p_tenant_ids, p_customer_phones, p_compliance_pending) r (tenant_id, phone, pending)
    WHERE r.pending
    ORDER BY 1
  LOOP
    PERFORM pg_advisory_xact_lock(v_key);
  END LOOP;

  FOR v_key IN
    SELECT t.tenant_id FROM tenants t
    WHERE t.max_concurrent_calls > 0 AND t.tenant_id IN (
      SELECT r.tenant_id FROM unnest(p_tenant_ids, p_limits_pending) r (tenant_id, pending) WHERE r.pending)
    ORDER BY t.tenant_id
  LOOP
    PERFORM pg_advisory_xact_lock(hashtext('switchboard.active_calls'), hashint8(v_key));
  END LOOP;

  FOR v_attempt IN
    SELECT r.* FROM unnest(p_tenant_ids, p_trace_ids, p_agent_ids, p_customer_phones, p_limits_pending,
      p_compliance_pending) r (tenant_id, trace_id, agent_id, phone, limits_pending, compliance_pending)
    ORDER BY r.tenant_id, r.phone, r.trace_id
  LOOP
    SELECT v_attempt.trace_id, d.o_decision, d.o_retry_at, d.o_reason
    INTO o_trace_id, o_decision, o_retry_at, o_reason
    FROM switchboard_admit_dispatch(v_attempt.tenant_id, v_attempt.trace_id, v_attempt.agent_id, v_attempt.phone,
      v_attempt.limits_pending, v_attempt.compliance_pending) d;
    RETURN NEXT;
  END LOOP;
END
$$;


--
-- Name: FUNCTION switchboard_admit_dispatches(p_tenant_ids bigint[], p_trace_ids uuid[], p_agent_ids bigint[], p_customer_phones text[], p_limits_pending boolean[], p_compliance_pending boolean[]); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_admit_dispatches(p_tenant_ids bigint[], p_trace_ids uuid[], p_agent_ids bigint[], p_customer_phones text[], p_limits_pending boolean[], p_compliance_pending boolean[]) IS 'Dispatch admission of several claimed attempts in one transaction, their locks taken first in one order; a decision per trace id (see switchboard_admit_dispatch).';


--
-- Name: switchboard_append_attempt(bigint, bigint, uuid, uuid, uuid, integer, text, jsonb, text, text, integer, jsonb, timestamp with time zone, bigint, text, integer, integer, integer, integer, boolean, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_append_attempt(p_tenant_id bigint, p_agent_id bigint, p_trace_id uuid, p_new_conversation_id uuid, p_conversation_id uuid, p_conversation_attempt integer, p_customer_phone text, p_parameters jsonb, p_metadata text, p_idempotency_key text, p_idempotency_ttl_seconds integer, p_retry_context jsonb, p_scheduled_for timestamp with time zone, p_batch_id bigint, p_traceparent text, p_rate_limit integer, p_rate_period_seconds integer, p_rate_burst integer, p_max_concurrent_calls integer, p_check_compliance boolean, p_recipient_timezone text DEFAULT NULL::text, p_blocked_reason text DEFAULT NULL::text) RETURNS public.switchboard_appended
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_result switchboard_appended;
  v_phone text;
  v_rate_interval interval;
  v_tat timestamptz;
  v_allowed boolean;
  v_active integer;
  v_chain conversations;
  v_check record;
BEGIN
  SELECT a.phone_number INTO v_phone
  FROM agents a WHERE a.tenant_id = p_tenant_id AND a.agent_id = p_agent_id;
  IF NOT FOUND THEN
    v_result.outcome := 'agent_not_found';
    RETURN v_result;
  END IF;
  IF coalesce(v_phone, '') = '' THEN
    v_result.outcome := 'agent_has_no_phone';
    RETURN v_result;
  END IF;

  IF p_conversation_id IS NOT NULL THEN
    PERFORM FROM conversations c
    WHERE c.tenant_id = p_tenant_id AND c.conversation_id = p_conversation_id
      AND c.attempt_count >= coalesce(p_conversation_attempt, 1);
    IF NOT FOUND THEN
      v_result.outcome := 'conversation_not_found';
      RETURN v_result;
    END IF;
  END IF;

  IF p_idempotency_key IS NOT NULL THEN
    INSERT INTO idempotency_keys AS k (tenant_id, agent_id, idempotency_key, trace_id, expires_at)
    VALUES (p_tenant_id, p_agent_id, p_idempotency_key, p_trace_id,
      now() + make_interval(secs => p_idempotency_ttl_seconds))
    ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO UPDATE
      SET trace_id = excluded.trace_id, created_at = now(), expires_at = excluded.expires_at
      WHERE k.expires_at <= now();
    IF NOT FOUND THEN
      SELECT 'duplicate', a.trace_id, a.conversation_id, a.attempt_number, a.status, a.scheduled_for, a.agent_id,
        a.batch_id
      INTO v_result.outcome, v_result.trace_id, v_result.conversation_id, v_result.attempt_number, v_result.status,
        v_result.scheduled_for, v_result.agent_id, v_result.batch_id
      FROM idempotency_keys k
      JOIN call_attempts a ON a.tenant_id = k.tenant_id AND a.trace_id = k.trace_id
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      RETURN v_result;
    END IF;
  END IF;

  IF p_check_compliance THEN
    SELECT * INTO v_check
    FROM switchboard_compliance_check(p_tenant_id, p_agent_id, p_customer_phone, coalesce(p_scheduled_for, now()));
    IF 'suppressed' = ANY (v_check.o_reasons) OR 'opt_out' = ANY (v_check.o_reasons)
      OR (p_scheduled_for IS NULL AND v_check.o_next_allowed_at IS NOT NULL) THEN
      DELETE FROM idempotency_keys k
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      IF v_check.o_next_allowed_at IS NULL OR p_scheduled_for IS NOT NULL THEN
        v_result.outcome := 'suppressed';
      ELSE
        v_result.outcome := 'contact_limited';
        v_result.scheduled_for := v_check.o_next_allowed_at;
        v_result.retry_after_seconds := extract(epoch FROM v_check.o_next_allowed_at - now());
      END IF;
      RETURN v_result;
    END IF;
  END IF;

  IF p_scheduled_for IS NULL AND p_max_concurrent_calls > 0 THEN
    -- One tenant's limited intakes take turns, so two of them cannot both take the last slot.
    -- (hashint8: tenant ids are bigint; two tenants sharing a hash only take turns too.)
    PERFORM pg_advisory_xact_lock(hashtext('switchboard.active_calls'), hashint8(p_tenant_id));
    SELECT count(*) INTO v_active
    FROM call_attempts a
    WHERE a.tenant_id = p_tenant_id AND a.status = ANY (switchboard_active_statuses());
    IF v_active >= p_max_concurrent_calls THEN
      DELETE FROM idempotency_keys k
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      v_result.outcome := 'concurrency_limited';
      v_result.current_calls := v_active;
      RETURN v_result;
    END IF;
  END IF;

  IF p_scheduled_for IS NULL AND p_rate_limit > 0 THEN
    v_rate_interval := make_interval(secs => p_rate_period_seconds::double precision / p_rate_limit);
    SELECT s.o_allowed, s.o_tat INTO v_allowed, v_tat
    FROM switchboard_take_number_slot(p_tenant_id, p_customer_phone, v_rate_interval, p_rate_burst) s;
    IF NOT v_allowed THEN
      DELETE FROM idempotency_keys k
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      v_result.outcome := 'rate_limited';
      v_result.rate_remaining := 0;
      v_result.rate_reset_seconds := extract(epoch FROM v_tat - now());
      v_result.retry_after_seconds := extract(epoch FROM v_tat + v_rate_interval - p_rate_burst * v_rate_interval - now());
      RETURN v_result;
    END IF;
    v_result.rate_remaining := floor(extract(epoch FROM now() + p_rate_burst * v_rate_interval - v_tat)
      / extract(epoch FROM v_rate_interval))::integer;
    v_result.rate_reset_seconds := extract(epoch FROM v_tat - now());
  END IF;

  IF p_conversation_id IS NULL THEN
    v_chain.conversation_id := p_new_conversation_id;
    v_chain.attempt_count := 1;
    v_chain.collected_data := coalesce(nullif(p_retry_context -> 'collected_data', 'null'::jsonb), '{}'::jsonb);
    v_chain.language := p_retry_context ->> 'retry_language';
    v_chain.stage_id := p_retry_context ->> 'retry_stage_id';
    INSERT INTO conversations (tenant_id, conversation_id, agent_id, customer_phone, attempt_count,
      collected_data, language, stage_id, batch_id)
    VALUES (p_tenant_id, p_new_conversation_id, p_agent_id, p_customer_phone, 1, v_chain.collected_data,
      v_chain.language, v_chain.stage_id, p_batch_id);
  ELSE
    v_chain := switchboard_thread_chain(p_tenant_id, p_conversation_id, p_retry_context, true);
  END IF;
  v_result.conversation_id := v_chain.conversation_id;
  v_result.attempt_number := v_chain.attempt_count;

  v_result.outcome := 'accepted';
  v_result.trace_id := p_trace_id;
  v_result.status := switchboard_waiting_status(p_scheduled_for);
  v_result.scheduled_for := p_scheduled_for;
  v_result.agent_id := p_agent_id;
  v_result.batch_id := p_batch_id;
  v_result.retry_after_seconds := 0;
  INSERT INTO call_attempts (tenant_id, trace_id, conversation_id, attempt_number, agent_id, customer_phone,
    parameters, metadata, idempotency_key, retry_context, effective_retry_context, status, scheduled_for, due_at,
    batch_id, traceparent, recipient_timezone, blocked_reason)
  VALUES (p_tenant_id, p_trace_id, v_result.conversation_id, v_result.attempt_number, p_agent_id, p_customer_phone,
    p_parameters, p_metadata, p_idempotency_key, p_retry_context,
    switchboard_effective_context(v_chain.collected_data, v_chain.language, v_chain.stage_id,
      p_retry_context ->> 'retry_initial_message'),
    v_result.status, p_scheduled_for,
    coalesce(p_scheduled_for, now()), p_batch_id, p_traceparent, p_recipient_timezone, p_blocked_reason);
  IF p_blocked_reason IS NOT NULL THEN
    INSERT INTO call_events (tenant_id, trace_id, event_id, status, blocked_reason, deferred_until)
    VALUES (p_tenant_id, p_trace_id, 'deferred-' || switchboard_uuid_v7(), v_result.status, p_blocked_reason,
      p_scheduled_for);
  END IF;
  RETURN v_result;
END
$$;


--
-- Name: FUNCTION switchboard_append_attempt(p_tenant_id bigint, p_agent_id bigint, p_trace_id uuid, p_new_conversation_id uuid, p_conversation_id uuid, p_conversation_attempt integer, p_customer_phone text, p_parameters jsonb, p_metadata text, p_idempotency_key text, p_idempotency_ttl_seconds integer, p_retry_context jsonb, p_scheduled_for timestamp with time zone, p_batch_id bigint, p_traceparent text, p_rate_limit integer, p_rate_period_seconds integer, p_rate_burst integer, p_max_concurrent_calls integer, p_check_compliance boolean, p_recipient_timezone text, p_blocked_reason text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_append_attempt(p_tenant_id bigint, p_agent_id bigint, p_trace_id uuid, p_new_conversation_id uuid, p_conversation_id uuid, p_conversation_attempt integer, p_customer_phone text, p_parameters jsonb, p_metadata text, p_idempotency_key text, p_idempotency_ttl_seconds integer, p_retry_context jsonb, p_scheduled_for timestamp with time zone, p_batch_id bigint, p_traceparent text, p_rate_limit integer, p_rate_period_seconds integer, p_rate_burst integer, p_max_concurrent_calls integer, p_check_compliance boolean, p_recipient_timezone text, p_blocked_reason text) IS 'Appends an attempt to a chain (a new one, or the next of an existing one) for intake, retries and batches; or answers why not.';


--
-- Name: switchboard_cancelable_statuses(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_cancelable_statuses() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY['scheduled', 'initiated']::text[] $$;


--
-- Name: FUNCTION switchboard_cancelable_statuses(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_cancelable_statuses() IS 'Statuses CancelCall may end: not yet handed to a dispatcher.';


--
-- Name: switchboard_compliance_check(bigint, bigint, text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_compliance_check(p_tenant_id bigint, p_agent_id bigint, p_phone text, p_at timestamp with time zone, OUT o_allowed boolean, OUT o_reasons text[], OUT o_next_allowed_at timestamp with time zone) RETURNS record
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
  v_source text;
  v_limits jsonb;
  v_limit record;
  v_nth timestamptz;
  v_quiet_from timestamptz;
BEGIN
  o_reasons := ARRAY[]::text[];
  SELECT s.source INTO v_source FROM suppressions s
  WHERE s.tenant_id = p_tenant_id AND s.phone_number = p_phone AND s.agent_id IN (0, p_agent_id)
    AND (s.expires_at IS NULL OR s.expires_at > p_at)
  ORDER BY s.source = 'opt_out' DESC
  LIMIT 1;
  IF FOUND THEN
    o_reasons := o_reasons || CASE WHEN v_source = 'opt_out' THEN 'opt_out' ELSE 'suppressed' END;
  END IF;

  SELECT coalesce(g.contact_limits, t.contact_limits) INTO v_limits
  FROM tenants t LEFT JOIN agents g ON g.tenant_id = t.tenant_id AND g.agent_id = p_agent_id
  WHERE t.tenant_id = p_tenant_id;
  IF v_limits IS NOT NULL THEN
    -- Each cap: the max_attempts-th latest contact in the window ends its hold window_hours later.
    FOR v_limit IN
      SELECT x.max_attempts, make_interval(secs => x.window_hours * 3600) AS span
      FROM jsonb_to_recordset(coalesce(v_limits -> 'limits', '[]'::jsonb)) AS x(max_attempts integer, window_hours double precision)
      WHERE x.max_attempts > 0
    LOOP
      SELECT c.contacted_at INTO v_nth FROM (
        SELECT coalesce(a.limits_charged_at, a.dispatched_at) AS contacted_at FROM call_attempts a
        WHERE a.tenant_id = p_tenant_id AND a.customer_phone = p_phone
          AND coalesce(a.limits_charged_at, a.dispatched_at) IS NOT NULL
          AND coalesce(a.limits_charged_at, a.dispatched_at) > p_at - v_limit.span
          AND coalesce(a.limits_charged_at, a.dispatched_at) <= p_at
        ORDER BY 1 DESC OFFSET v_limit.max_attempts - 1 LIMIT 1
      ) c;
      IF v_nth IS NOT NULL THEN
        o_next_allowed_at := greatest(o_next_allowed_at, v_nth + v_limit.span);
      END IF;
    END LOOP;
    -- The quiet time after a conversation (a completed call).
    IF (v_limits ->> 'quiet_hours_after_conversation')::double precision > 0 THEN
      SELECT max(a.ended_at) INTO v_quiet_from FROM call_attempts a
      WHERE a.tenant_id = p_tenant_id AND a.customer_phone = p_phone
        AND coalesce(a.limits_charged_at, a.dispatched_at) IS NOT NULL AND a.status = 'completed';
      IF v_quiet_from + make_interval(secs => (v_limits ->> 'quiet_hours_after_conversation')::double precision * 3600) > p_at THEN
        o_next_allowed_at := greatest(o_next_allowed_at,
          v_quiet_from + make_interval(secs => (v_limits ->> 'quiet_hours_after_conversation')::double precision * 3600));
      END IF;
    END IF;
    IF o_next_allowed_at IS NOT NULL THEN
      o_reasons := o_reasons || 'contact_limit'::text;
    END IF;
  END IF;
  o_allowed := cardinality(o_reasons) = 0;
END
$$;


--
-- Name: FUNCTION switchboard_compliance_check(p_tenant_id bigint, p_agent_id bigint, p_phone text, p_at timestamp with time zone, OUT o_allowed boolean, OUT o_reasons text[], OUT o_next_allowed_at timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_compliance_check(p_tenant_id bigint, p_agent_id bigint, p_phone text, p_at timestamp with time zone, OUT o_allowed boolean, OUT o_reasons text[], OUT o_next_allowed_at timestamp with time zone) IS 'Whether a call to a number may start at a time by the tenant''s suppressions and caps: the reasons if not, and when the caps allow it.';


--
-- Name: switchboard_create_batch(bigint, bigint, text, integer, timestamp with time zone, integer, text, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_create_batch(p_tenant_id bigint, p_agent_id bigint, p_name text, p_max_concurrency integer, p_scheduled_for timestamp with time zone, p_total_recipients integer, p_idempotency_key text, p_idempotency_ttl_seconds integer) RETURNS TABLE(outcome text, batch_id bigint)
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_phone text;
  v_batch bigint;
BEGIN
  SELECT a.phone_number INTO v_phone FROM agents a WHERE a.tenant_id = p_tenant_id AND a.agent_id = p_agent_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'agent_not_found', NULL::bigint;
    RETURN;
  END IF;
  IF coalesce(v_phone, '') = '' THEN
    RETURN QUERY SELECT 'agent_has_no_phone', NULL::bigint;
    RETURN;
  END IF;

  v_batch := nextval(pg_get_serial_sequence('batches', 'batch_id'));
  IF p_idempotency_key IS NOT NULL THEN
    INSERT INTO batch_idempotency_keys AS k (tenant_id, agent_id, idempotency_key, batch_id, expires_at)
    VALUES (p_tenant_id, p_agent_id, p_idempotency_key, v_batch,
      now() + make_interval(secs => p_idempotency_ttl_seconds))
    ON CONFLICT ON CONSTRAINT batch_idempotency_keys_pkey DO UPDATE
      SET batch_id = excluded.batch_id, created_at = now(), expires_at = excluded.expires_at
      WHERE k.expires_at <= now();
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'duplicate', k.batch_id FROM batch_idempotency_keys k
      WHERE k.tenant_id = p_tenant_id AND k.agent_id = p_agent_id AND k.idempotency_key = p_idempotency_key;
      RETURN;
    END IF;
  END IF;

  INSERT INTO batches (tenant_id, batch_id, agent_id, name, max_concurrency, scheduled_for, total_recipients)
  VALUES (p_tenant_id, v_batch, p_agent_id, p_name, p_max_concurrency, p_scheduled_for, p_total_recipients);
  RETURN QUERY SELECT 'created', v_batch;
END
$$;


--
-- Name: FUNCTION switchboard_create_batch(p_tenant_id bigint, p_agent_id bigint, p_name text, p_max_concurrency integer, p_scheduled_for timestamp with time zone, p_total_recipients integer, p_idempotency_key text, p_idempotency_ttl_seconds integer); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_create_batch(p_tenant_id bigint, p_agent_id bigint, p_name text, p_max_concurrency integer, p_scheduled_for timestamp with time zone, p_total_recipients integer, p_idempotency_key text, p_idempotency_ttl_seconds integer) IS 'Writes a batch''s row (its recipients follow, switchboard_add_batch_recipients, in the same transaction); or says why not (the agent; an idempotency key already used, naming its batch).';


--
-- Name: switchboard_dialed_statuses(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_dialed_statuses() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY['dispatched', 'ringing', 'in_progress']::text[] $$;


--
-- Name: FUNCTION switchboard_dialed_statuses(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_dialed_statuses() IS 'Statuses of an attempt with the dialer and not final: the reaper watches these.';


--
-- Name: switchboard_due_statuses(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_due_statuses() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY['scheduled', 'initiated']::text[] $$;


--
-- Name: FUNCTION switchboard_due_statuses(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_due_statuses() IS 'Statuses that wait for a dispatcher to claim the attempt when due.';


--
-- Name: switchboard_effective_context(jsonb, text, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_effective_context(p_collected_data jsonb, p_language text, p_stage_id text, p_initial_message text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  SELECT jsonb_build_object('collected_data', coalesce(p_collected_data, '{}'::jsonb))
    || CASE WHEN p_initial_message IS NULL THEN '{}'::jsonb
      ELSE jsonb_build_object('retry_initial_message', p_initial_message) END
    || CASE WHEN p_language IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('retry_language', p_language) END
    || CASE WHEN p_stage_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('retry_stage_id', p_stage_id) END
$$;


--
-- Name: FUNCTION switchboard_effective_context(p_collected_data jsonb, p_language text, p_stage_id text, p_initial_message text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_effective_context(p_collected_data jsonb, p_language text, p_stage_id text, p_initial_message text) IS 'The retry_context an attempt is dialed with: its chain''s threaded state and its own initial message.';


--
-- Name: switchboard_end_suppressed(bigint, text[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_end_suppressed(p_tenant_id bigint, p_phones text[]) RETURNS TABLE(trace_id uuid, conversation_id uuid)
    LANGUAGE sql
    AS $$
  WITH ended AS (
    UPDATE call_attempts a SET status = 'suppressed', ended_at = now(), updated_at = now(),
      lease_owner = NULL, lease_expires_at = NULL,
      blocked_reason = CASE WHEN s.source = 'opt_out' THEN 'opt_out' ELSE 'suppressed' END
    FROM suppressions s
    WHERE s.tenant_id = p_tenant_id AND s.phone_number = ANY (p_phones)
      AND a.tenant_id = p_tenant_id AND a.customer_phone = s.phone_number
      AND (s.agent_id = 0 OR a.agent_id = s.agent_id)
      AND (s.expires_at IS NULL OR (s.expires_at > now() AND a.due_at < s.expires_at))
      AND (a.status = ANY (switchboard_due_statuses()) OR (a.status = 'dispatching' AND a.lease_expires_at <= now()))
    RETURNING a.trace_id, a.conversation_id, a.blocked_reason
  ), logged AS (
    INSERT INTO call_events (tenant_id, trace_id, event_id, status, blocked_reason)
    SELECT p_tenant_id, ended.trace_id, 'suppressed-' || ended.trace_id, 'suppressed', ended.blocked_reason
    FROM ended
  )
  SELECT ended.trace_id, ended.conversation_id FROM ended;
$$;


--
-- Name: FUNCTION switchboard_end_suppressed(p_tenant_id bigint, p_phones text[]); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_end_suppressed(p_tenant_id bigint, p_phones text[]) IS 'Ends the tenant''s waiting attempts to suppressed numbers (suppressed, an event each); answers them.';


--
-- Name: switchboard_open_batch_statuses(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_open_batch_statuses() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY['pending', 'running']::text[] $$;


--
-- Name: FUNCTION switchboard_open_batch_statuses(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_open_batch_statuses() IS 'Batch statuses whose attempts may be dispatched (once the batch''s start has come).';


--
-- Name: switchboard_set_chain_created_at(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_set_chain_created_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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
$$;


--
-- Name: FUNCTION switchboard_set_chain_created_at(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_set_chain_created_at() IS 'Copies the chain''s created_at onto a new attempt (call_attempts.chain_created_at).';


--
-- Name: switchboard_statuses(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_statuses() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY['scheduled', 'initiated', 'dispatching', 'dispatched', 'ringing', 'in_progress', 'completed', 'no_answer', 'busy', 'failed', 'unreachable', 'voicemail', 'canceled', 'suppressed']::text[] $$;


--
-- Name: FUNCTION switchboard_statuses(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_statuses() IS 'Every attempt status, in lifecycle order.';


--
-- Name: switchboard_supersede_attempt(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_supersede_attempt() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  UPDATE call_attempts a SET is_latest = false
  WHERE a.tenant_id = NEW.tenant_id AND a.conversation_id = NEW.conversation_id
    AND a.attempt_number = NEW.attempt_number - 1 AND a.is_latest;
  RETURN NULL;
END
$$;


--
-- Name: FUNCTION switchboard_supersede_attempt(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_supersede_attempt() IS 'Clears is_latest on the attempt a new one follows (written under the chain''s row lock).';


--
-- Name: switchboard_suppress_numbers(bigint, jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_suppress_numbers(p_tenant_id bigint, p_entries jsonb) RETURNS TABLE(trace_id uuid, conversation_id uuid)
    LANGUAGE plpgsql
    AS $$
BEGIN
  INSERT INTO suppressions AS s (tenant_id, phone_number, agent_id, reason, source, trace_id, expires_at)
  SELECT DISTINCT ON (x.phone_number, coalesce(x.agent_id, 0)) p_tenant_id, x.phone_number, coalesce(x.agent_id, 0),
    x.reason, x.source, x.trace_id, x.expires_at
  FROM jsonb_to_recordset(p_entries) AS x(phone_number text, agent_id bigint, reason text, source text,
    trace_id uuid, expires_at timestamptz)
  ORDER BY x.phone_number, coalesce(x.agent_id, 0)
  ON CONFLICT ON CONSTRAINT suppressions_pkey DO UPDATE
    SET reason = excluded.reason, source = excluded.source, trace_id = excluded.trace_id,
      expires_at = excluded.expires_at, created_at = now();
  RETURN QUERY SELECT e.trace_id, e.conversation_id
  FROM switchboard_end_suppressed(p_tenant_id, ARRAY(SELECT x ->> 'phone_number' FROM jsonb_array_elements(p_entries) x)) e;
END
$$;


--
-- Name: FUNCTION switchboard_suppress_numbers(p_tenant_id bigint, p_entries jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_suppress_numbers(p_tenant_id bigint, p_entries jsonb) IS 'Writes suppression entries and ends the tenant''s waiting attempts to those numbers (suppressed, with an event each); answers the attempts it ended.';


--
-- Name: switchboard_take_number_slot(bigint, text, interval, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_take_number_slot(p_tenant_id bigint, p_customer_phone text, p_interval interval, p_burst integer, OUT o_allowed boolean, OUT o_tat timestamp with time zone) RETURNS record
    LANGUAGE plpgsql
    AS $$
BEGIN
  INSERT INTO number_rate_limits AS r (tenant_id, customer_phone, tat)
  VALUES (p_tenant_id, p_customer_phone, now() + p_interval)
  ON CONFLICT ON CONSTRAINT number_rate_limits_pkey DO UPDATE
    SET tat = greatest(r.tat, now()) + p_interval
    WHERE greatest(r.tat, now()) + p_interval - p_burst * p_interval <= now()
  RETURNING r.tat INTO o_tat;
  o_allowed := FOUND;
  IF NOT o_allowed THEN
    SELECT r.tat INTO o_tat FROM number_rate_limits r
    WHERE r.tenant_id = p_tenant_id AND r.customer_phone = p_customer_phone;
  END IF;
END
$$;


--
-- Name: FUNCTION switchboard_take_number_slot(p_tenant_id bigint, p_customer_phone text, p_interval interval, p_burst integer, OUT o_allowed boolean, OUT o_tat timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_take_number_slot(p_tenant_id bigint, p_customer_phone text, p_interval interval, p_burst integer, OUT o_allowed boolean, OUT o_tat timestamp with time zone) IS 'GCRA per (tenant, number): takes a call if allowed; returns whether, and the theoretical arrival time.';


--
-- Name: switchboard_terminal_statuses(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_terminal_statuses() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY['completed', 'no_answer', 'busy', 'failed', 'unreachable', 'voicemail', 'canceled', 'suppressed']::text[] $$;


--
-- Name: FUNCTION switchboard_terminal_statuses(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_terminal_statuses() IS 'Final statuses: nothing moves the attempt again.';


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: conversations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.conversations (
    tenant_id bigint NOT NULL,
    conversation_id uuid NOT NULL,
    agent_id bigint NOT NULL,
    customer_phone text NOT NULL,
    attempt_count integer NOT NULL,
    collected_data jsonb DEFAULT '{}'::jsonb NOT NULL,
    language text,
    stage_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    batch_id bigint,
    CONSTRAINT conversations_attempt_count_check CHECK ((attempt_count >= 0))
);


--
-- Name: TABLE conversations; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.conversations IS 'Conversation chains: the attempts to reach one customer about one thing, and the state threaded between them.';


--
-- Name: COLUMN conversations.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversations.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN conversations.conversation_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversations.conversation_id IS 'Chain id (UUIDv7, so ordering by it orders by creation).';


--
-- Name: COLUMN conversations.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversations.agent_id IS 'The agent of the first attempt.';


--
-- Name: COLUMN conversations.customer_phone; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversations.customer_phone IS 'The number the first attempt called.';


--
-- Name: COLUMN conversations.attempt_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversations.attempt_count IS 'Attempts so far; attempts are numbered 1..attempt_count without gaps.';


--
-- Name: COLUMN conversations.collected_data; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversations.collected_data IS 'Threaded state: everything collected so far, merged key by key.';


--
-- Name: COLUMN conversations.language; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversations.language IS 'Threaded state: the last language (BCP 47).';


--
-- Name: COLUMN conversations.stage_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversations.stage_id IS 'Threaded state: the last conversation stage reached.';


--
-- Name: COLUMN conversations.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversations.created_at IS 'When the first attempt was accepted.';


--
-- Name: COLUMN conversations.updated_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversations.updated_at IS 'When an attempt was last added or the state last changed.';


--
-- Name: COLUMN conversations.batch_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversations.batch_id IS 'The batch the chain was created by; NULL for single calls.';


--
-- Name: switchboard_thread_chain(bigint, uuid, jsonb, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_thread_chain(p_tenant_id bigint, p_conversation_id uuid, p_context jsonb, p_appending boolean) RETURNS public.conversations
    LANGUAGE sql
    AS $$
  UPDATE conversations c
  SET attempt_count = c.attempt_count + CASE WHEN p_appending THEN 1 ELSE 0 END,
    collected_data = c.collected_data || coalesce(nullif(p_context -> 'collected_data', 'null'::jsonb), '{}'::jsonb),
    language = coalesce(p_context ->> 'retry_language', c.language),
    stage_id = coalesce(p_context ->> 'retry_stage_id', c.stage_id),
    updated_at = now()
  WHERE c.tenant_id = p_tenant_id AND c.conversation_id = p_conversation_id
  RETURNING c.*
$$;


--
-- Name: FUNCTION switchboard_thread_chain(p_tenant_id bigint, p_conversation_id uuid, p_context jsonb, p_appending boolean); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_thread_chain(p_tenant_id bigint, p_conversation_id uuid, p_context jsonb, p_appending boolean) IS 'Merges a retry_context (or a report''s collected_data and stage) into its chain, counting an appended attempt; answers the chain.';


--
-- Name: switchboard_uuid_v7(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_uuid_v7() RETURNS uuid
    LANGUAGE sql
    AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;


--
-- Name: FUNCTION switchboard_uuid_v7(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_uuid_v7() IS 'A time-ordered version 7 UUID.';


--
-- Name: switchboard_waiting_status(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.switchboard_waiting_status(p_scheduled_for timestamp with time zone) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN p_scheduled_for IS NULL THEN 'initiated' ELSE 'scheduled' END $$;


--
-- Name: FUNCTION switchboard_waiting_status(p_scheduled_for timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.switchboard_waiting_status(p_scheduled_for timestamp with time zone) IS 'The status an attempt waits in: scheduled when given a time, else initiated.';


--
-- Name: agents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agents (
    tenant_id bigint NOT NULL,
    agent_id bigint NOT NULL,
    name text,
    phone_number text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    retry_policy jsonb,
    calling_window jsonb,
    contact_limits jsonb,
    recipient_hours jsonb,
    CONSTRAINT agents_agent_id_check CHECK ((agent_id > 0))
);


--
-- Name: TABLE agents; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.agents IS 'Voice agents that place calls, numbered by the tenant.';


--
-- Name: COLUMN agents.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.agents.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN agents.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.agents.agent_id IS 'The agent id clients send as agent_id; unique within the tenant.';


--
-- Name: COLUMN agents.name; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.agents.name IS 'Display name.';


--
-- Name: COLUMN agents.phone_number; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.agents.phone_number IS 'The E.164 number the agent calls from; NULL means it cannot place calls.';


--
-- Name: COLUMN agents.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.agents.created_at IS 'When the agent was created.';


--
-- Name: COLUMN agents.updated_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.agents.updated_at IS 'When the agent was last changed.';


--
-- Name: COLUMN agents.retry_policy; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.agents.retry_policy IS 'When a finished attempt earns another: {"max_attempts", "retry_on": [statuses], "delays_seconds": [...]}; NULL means never.';


--
-- Name: COLUMN agents.calling_window; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.agents.calling_window IS 'When the agent may call: {"timezone", "days": ["mon", ...], "start": "HH:MM", "end": "HH:MM"}; NULL means any time.';


--
-- Name: COLUMN agents.contact_limits; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.agents.contact_limits IS 'The agent''s own attempt caps per number, replacing its tenant''s; NULL: the tenant''s.';


--
-- Name: COLUMN agents.recipient_hours; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.agents.recipient_hours IS 'The agent''s own recipient hours, in place of the tenant''s; NULL: the tenant''s.';


--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_keys (
    key_hash bytea NOT NULL,
    tenant_id bigint NOT NULL,
    key_prefix text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone
);


--
-- Name: TABLE api_keys; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.api_keys IS 'API keys of tenants. Only the SHA-256 of a key is stored, never the key.';


--
-- Name: COLUMN api_keys.key_hash; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.api_keys.key_hash IS 'SHA-256 of the whole key (sk_ and 32 characters).';


--
-- Name: COLUMN api_keys.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.api_keys.tenant_id IS 'The tenant the key authenticates.';


--
-- Name: COLUMN api_keys.key_prefix; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.api_keys.key_prefix IS 'The first 7 characters of the key, to tell keys apart without revealing them.';


--
-- Name: COLUMN api_keys.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.api_keys.created_at IS 'When the key was issued.';


--
-- Name: COLUMN api_keys.revoked_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.api_keys.revoked_at IS 'When the key was revoked; a revoked key authenticates nothing.';


--
-- Name: batch_idempotency_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.batch_idempotency_keys (
    tenant_id bigint NOT NULL,
    agent_id bigint NOT NULL,
    idempotency_key text NOT NULL,
    batch_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);


--
-- Name: TABLE batch_idempotency_keys; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.batch_idempotency_keys IS 'Idempotency keys of batch uploads: a key names its first batch until expires_at.';


--
-- Name: COLUMN batch_idempotency_keys.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_idempotency_keys.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN batch_idempotency_keys.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_idempotency_keys.agent_id IS 'The agent of the upload; keys are per agent, as for calls.';


--
-- Name: COLUMN batch_idempotency_keys.idempotency_key; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_idempotency_keys.idempotency_key IS 'The key the client sent.';


--
-- Name: COLUMN batch_idempotency_keys.batch_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_idempotency_keys.batch_id IS 'The batch the key''s first upload created.';


--
-- Name: COLUMN batch_idempotency_keys.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_idempotency_keys.created_at IS 'When the key was first used.';


--
-- Name: COLUMN batch_idempotency_keys.expires_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_idempotency_keys.expires_at IS 'After this, the key may create a new batch.';


--
-- Name: batch_progress; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.batch_progress AS
SELECT
    NULL::bigint AS tenant_id,
    NULL::bigint AS batch_id,
    NULL::bigint AS agent_id,
    NULL::text AS name,
    NULL::text AS batch_status,
    NULL::integer AS total_recipients,
    NULL::bigint AS waiting_count,
    NULL::bigint AS in_progress_count,
    NULL::bigint AS completed_count,
    NULL::bigint AS no_answer_count,
    NULL::bigint AS busy_count,
    NULL::bigint AS failed_count,
    NULL::bigint AS unreachable_count,
    NULL::bigint AS canceled_count,
    NULL::bigint AS finished_count,
    NULL::numeric AS success_rate,
    NULL::timestamp with time zone AS first_dial_at,
    NULL::timestamp with time zone AS last_dial_at,
    NULL::timestamp with time zone AS created_at,
    NULL::bigint AS pending_retry_count,
    NULL::numeric AS avg_duration_seconds,
    NULL::bigint AS voicemail_count,
    NULL::bigint AS socket_failure_count,
    NULL::bigint AS suppressed_count,
    NULL::bigint AS deferred_contact_limit_count,
    NULL::bigint AS deferred_outside_hours_count;


--
-- Name: VIEW batch_progress; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON VIEW public.batch_progress IS 'One row per batch: its contacts counted by where their chain''s latest attempt stands, success rate, first and last dial. Filter by tenant_id.';


--
-- Name: COLUMN batch_progress.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN batch_progress.batch_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.batch_id IS 'The batch.';


--
-- Name: COLUMN batch_progress.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.agent_id IS 'The agent placing the batch''s calls.';


--
-- Name: COLUMN batch_progress.name; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.name IS 'The batch''s name.';


--
-- Name: COLUMN batch_progress.batch_status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.batch_status IS 'pending, running, paused, completed or canceled.';


--
-- Name: COLUMN batch_progress.total_recipients; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.total_recipients IS 'Contacts in the batch.';


--
-- Name: COLUMN batch_progress.waiting_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.waiting_count IS 'Contacts whose latest attempt waits for dispatch (scheduled or initiated): not yet called, or a retry due later.';


--
-- Name: COLUMN batch_progress.in_progress_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.in_progress_count IS 'Contacts whose latest attempt is being dispatched, dialed, ringing or talking.';


--
-- Name: COLUMN batch_progress.completed_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.completed_count IS 'Contacts whose latest attempt completed.';


--
-- Name: COLUMN batch_progress.no_answer_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.no_answer_count IS 'Contacts whose latest attempt was not answered.';


--
-- Name: COLUMN batch_progress.busy_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.busy_count IS 'Contacts whose latest attempt found the line busy.';


--
-- Name: COLUMN batch_progress.failed_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.failed_count IS 'Contacts whose latest attempt failed.';


--
-- Name: COLUMN batch_progress.unreachable_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.unreachable_count IS 'Contacts whose latest attempt could not reach the number.';


--
-- Name: COLUMN batch_progress.canceled_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.canceled_count IS 'Contacts whose latest attempt was canceled.';


--
-- Name: COLUMN batch_progress.finished_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.finished_count IS 'Contacts whose latest attempt is final (a retry not yet made counts as waiting).';


--
-- Name: COLUMN batch_progress.success_rate; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.success_rate IS 'Completed as a percentage of finished contacts; NULL before any finished.';


--
-- Name: COLUMN batch_progress.first_dial_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.first_dial_at IS 'When the batch''s first attempt was handed to the dialer.';


--
-- Name: COLUMN batch_progress.last_dial_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.last_dial_at IS 'When its most recent attempt was handed to the dialer.';


--
-- Name: COLUMN batch_progress.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.created_at IS 'When the upload was accepted.';


--
-- Name: COLUMN batch_progress.pending_retry_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.pending_retry_count IS 'Contacts waiting for an automatic retry (their latest attempt is a retry not yet dialed); also counted in waiting_count.';


--
-- Name: COLUMN batch_progress.avg_duration_seconds; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.avg_duration_seconds IS 'Average duration of the contacts'' latest calls that reported one.';


--
-- Name: COLUMN batch_progress.voicemail_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.voicemail_count IS 'Contacts whose latest attempt reached a machine.';


--
-- Name: COLUMN batch_progress.socket_failure_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.socket_failure_count IS 'Contacts whose latest attempt failed because the dialer could not be reached (failure_type socket_failure).';


--
-- Name: COLUMN batch_progress.suppressed_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.suppressed_count IS 'Contacts whose latest attempt a compliance rule ended (suppressed).';


--
-- Name: COLUMN batch_progress.deferred_contact_limit_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.deferred_contact_limit_count IS 'Waiting contacts whose latest attempt the number''s caps deferred (also in waiting_count).';


--
-- Name: COLUMN batch_progress.deferred_outside_hours_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batch_progress.deferred_outside_hours_count IS 'Waiting contacts whose latest attempt the recipient''s hours deferred (also in waiting_count).';


--
-- Name: batches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.batches (
    tenant_id bigint NOT NULL,
    batch_id bigint NOT NULL,
    agent_id bigint NOT NULL,
    name text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    max_concurrency integer,
    scheduled_for timestamp with time zone,
    total_recipients integer NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    CONSTRAINT batches_max_concurrency_check CHECK ((max_concurrency > 0)),
    CONSTRAINT batches_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'running'::text, 'paused'::text, 'completed'::text, 'canceled'::text]))),
    CONSTRAINT batches_total_recipients_check CHECK ((total_recipients > 0))
);


--
-- Name: TABLE batches; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.batches IS 'Batch calls (campaigns): one row per upload; each recipient is a conversation chain carrying batch_id.';


--
-- Name: COLUMN batches.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batches.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN batches.batch_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batches.batch_id IS 'The batch id clients see (an integer).';


--
-- Name: COLUMN batches.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batches.agent_id IS 'The agent placing every call of the batch.';


--
-- Name: COLUMN batches.name; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batches.name IS 'The name the client gave.';


--
-- Name: COLUMN batches.status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batches.status IS 'pending (not started), running, paused, completed (every chain final) or canceled.';


--
-- Name: COLUMN batches.max_concurrency; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batches.max_concurrency IS 'At most this many of the batch''s attempts active at once; NULL: only the tenant''s limits.';


--
-- Name: COLUMN batches.scheduled_for; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batches.scheduled_for IS 'When the batch starts; NULL: at once.';


--
-- Name: COLUMN batches.total_recipients; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batches.total_recipients IS 'Recipients accepted (rejected rows are not counted).';


--
-- Name: COLUMN batches.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batches.created_at IS 'When the upload was accepted.';


--
-- Name: COLUMN batches.updated_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batches.updated_at IS 'When the status last changed.';


--
-- Name: COLUMN batches.completed_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.batches.completed_at IS 'When the batch became completed or canceled.';


--
-- Name: batches_batch_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.batches ALTER COLUMN batch_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.batches_batch_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: call_attempts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.call_attempts (
    tenant_id bigint NOT NULL,
    trace_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    attempt_number integer NOT NULL,
    agent_id bigint NOT NULL,
    customer_phone text NOT NULL,
    parameters jsonb NOT NULL,
    metadata text,
    idempotency_key text,
    retry_context jsonb,
    effective_retry_context jsonb NOT NULL,
    status text NOT NULL,
    scheduled_for timestamp with time zone,
    due_at timestamp with time zone NOT NULL,
    lease_owner text,
    lease_expires_at timestamp with time zone,
    dispatched_at timestamp with time zone,
    ended_at timestamp with time zone,
    failure_reason text,
    results jsonb,
    duration_seconds double precision,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    limits_charged_at timestamp with time zone,
    traceparent text,
    batch_id bigint,
    transcript jsonb,
    recording_url text,
    answered_by text,
    failure_type text,
    chain_created_at timestamp with time zone NOT NULL,
    is_latest boolean DEFAULT true NOT NULL,
    blocked_reason text,
    recipient_timezone text,
    CONSTRAINT call_attempts_answered_by_check CHECK ((answered_by = ANY (ARRAY['human'::text, 'machine'::text, 'unknown'::text]))),
    CONSTRAINT call_attempts_attempt_number_check CHECK ((attempt_number > 0)),
    CONSTRAINT call_attempts_duration_in_range CHECK (((duration_seconds >= (0)::double precision) AND (duration_seconds <= (604800)::double precision))),
    CONSTRAINT call_attempts_failure_type_check CHECK ((failure_type = ANY (ARRAY['socket_failure'::text, 'telephony_failed'::text, 'other'::text]))),
    CONSTRAINT call_attempts_status_check CHECK ((status = ANY (public.switchboard_statuses())))
);


--
-- Name: TABLE call_attempts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.call_attempts IS 'One row per call attempt: what was asked, the context it carried, and what happened.';


--
-- Name: COLUMN call_attempts.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN call_attempts.trace_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.trace_id IS 'Attempt id returned to clients as trace_id (UUIDv7).';


--
-- Name: COLUMN call_attempts.conversation_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.conversation_id IS 'The chain this attempt belongs to.';


--
-- Name: COLUMN call_attempts.attempt_number; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.attempt_number IS 'Position in the chain: 1, 2, 3 ... without gaps.';


--
-- Name: COLUMN call_attempts.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.agent_id IS 'The agent placing the call.';


--
-- Name: COLUMN call_attempts.customer_phone; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.customer_phone IS 'Destination number (E.164), from the customer_phone parameter.';


--
-- Name: COLUMN call_attempts.parameters; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.parameters IS 'The request''s parameters as a JSON array of {name, value}.';


--
-- Name: COLUMN call_attempts.metadata; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.metadata IS 'Opaque client metadata, passed through unchanged.';


--
-- Name: COLUMN call_attempts.idempotency_key; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.idempotency_key IS 'The idempotency key the request carried, if any.';


--
-- Name: COLUMN call_attempts.retry_context; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.retry_context IS 'retry_context exactly as the request gave it.';


--
-- Name: COLUMN call_attempts.effective_retry_context; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.effective_retry_context IS 'The chain state overridden by the request''s context: what the dialer receives.';


--
-- Name: COLUMN call_attempts.status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.status IS 'scheduled, initiated, dispatching, dispatched, ringing, in_progress, or a final status: completed, no_answer, busy, failed, unreachable, voicemail (a machine answered), canceled, suppressed (a compliance rule forbade the dial).';


--
-- Name: COLUMN call_attempts.scheduled_for; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.scheduled_for IS 'When the client asked the call to happen; NULL for an immediate call.';


--
-- Name: COLUMN call_attempts.due_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.due_at IS 'When the dispatcher may next take the attempt.';


--
-- Name: COLUMN call_attempts.lease_owner; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.lease_owner IS 'The dispatcher replica holding the attempt while dispatching.';


--
-- Name: COLUMN call_attempts.lease_expires_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.lease_expires_at IS 'When that lease lapses and another replica may take the attempt.';


--
-- Name: COLUMN call_attempts.dispatched_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.dispatched_at IS 'When a dialer accepted the attempt.';


--
-- Name: COLUMN call_attempts.ended_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.ended_at IS 'When the attempt reached a terminal status.';


--
-- Name: COLUMN call_attempts.failure_reason; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.failure_reason IS 'Why the attempt failed, when it did.';


--
-- Name: COLUMN call_attempts.results; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.results IS 'Outcome results reported by the voice runtime.';


--
-- Name: COLUMN call_attempts.duration_seconds; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.duration_seconds IS 'Talk time reported by the voice runtime.';


--
-- Name: COLUMN call_attempts.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.created_at IS 'When the attempt was accepted.';


--
-- Name: COLUMN call_attempts.updated_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.updated_at IS 'When the attempt last changed.';


--
-- Name: COLUMN call_attempts.limits_charged_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.limits_charged_at IS 'When a scheduled attempt met the per-number and tenant limits at dispatch (immediate calls meet them at intake).';


--
-- Name: COLUMN call_attempts.traceparent; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.traceparent IS 'The W3C traceparent the call was placed with (HTTP header or gRPC metadata), if any and well formed.';


--
-- Name: COLUMN call_attempts.batch_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.batch_id IS 'The batch of the attempt''s chain; NULL for single calls.';


--
-- Name: COLUMN call_attempts.transcript; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.transcript IS 'The conversation as reported: [{role: agent|human, message}], in order.';


--
-- Name: COLUMN call_attempts.recording_url; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.recording_url IS 'Where the call''s recording is (https), as reported.';


--
-- Name: COLUMN call_attempts.answered_by; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.answered_by IS 'Who picked up, as the voice runtime judged: human, machine or unknown.';


--
-- Name: COLUMN call_attempts.failure_type; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.failure_type IS 'For a failed call: socket_failure (the dialer could not be reached), telephony_failed or other.';


--
-- Name: COLUMN call_attempts.chain_created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.chain_created_at IS 'Its chain''s created_at (copied when written): the order chains are listed in.';


--
-- Name: COLUMN call_attempts.is_latest; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.is_latest IS 'Whether this is its chain''s latest attempt (attempt_number = conversations.attempt_count).';


--
-- Name: COLUMN call_attempts.blocked_reason; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.blocked_reason IS 'Why compliance last held the attempt back or ended it: suppressed, opt_out, contact_limit, outside_recipient_hours, unknown_timezone.';


--
-- Name: COLUMN call_attempts.recipient_timezone; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_attempts.recipient_timezone IS 'The recipient''s IANA zone as the caller gave it (else the number''s prefix decides); retries keep it.';


--
-- Name: call_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.call_events (
    tenant_id bigint NOT NULL,
    trace_id uuid NOT NULL,
    event_id text NOT NULL,
    status text NOT NULL,
    collected_data jsonb,
    stage_id text,
    results jsonb,
    duration_seconds double precision,
    failure_reason text,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    transcript jsonb,
    recording_url text,
    answered_by text,
    failure_type text,
    blocked_reason text,
    deferred_until timestamp with time zone,
    request_id uuid,
    CONSTRAINT call_events_duration_in_range CHECK (((duration_seconds >= (0)::double precision) AND (duration_seconds <= (604800)::double precision)))
);


--
-- Name: TABLE call_events; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.call_events IS 'Append-only log of every progress or outcome report about an attempt.';


--
-- Name: COLUMN call_events.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN call_events.trace_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.trace_id IS 'The attempt reported on.';


--
-- Name: COLUMN call_events.event_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.event_id IS 'The reporter''s id for the event; a repeat is ignored.';


--
-- Name: COLUMN call_events.status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.status IS 'The status the event reports.';


--
-- Name: COLUMN call_events.collected_data; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.collected_data IS 'Data collected during the call, merged into the chain state.';


--
-- Name: COLUMN call_events.stage_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.stage_id IS 'The stage the conversation reached.';


--
-- Name: COLUMN call_events.results; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.results IS 'Outcome results.';


--
-- Name: COLUMN call_events.duration_seconds; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.duration_seconds IS 'Talk time.';


--
-- Name: COLUMN call_events.failure_reason; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.failure_reason IS 'Why the call failed, for failure statuses.';


--
-- Name: COLUMN call_events.received_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.received_at IS 'When Switchboard recorded the event.';


--
-- Name: COLUMN call_events.transcript; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.transcript IS 'The transcript the report carried, if any.';


--
-- Name: COLUMN call_events.recording_url; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.recording_url IS 'The recording URL the report carried, if any.';


--
-- Name: COLUMN call_events.answered_by; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.answered_by IS 'Who answered, as the report said.';


--
-- Name: COLUMN call_events.failure_type; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.failure_type IS 'The failure type the report carried.';


--
-- Name: COLUMN call_events.blocked_reason; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.blocked_reason IS 'A compliance decision''s reason (the event is Switchboard''s own): suppressed, opt_out, contact_limit, outside_recipient_hours, unknown_timezone.';


--
-- Name: COLUMN call_events.deferred_until; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.deferred_until IS 'For a deferral: when the attempt is due again.';


--
-- Name: COLUMN call_events.request_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.call_events.request_id IS 'The report''s own id, fresh per request: a read-back after a lost reply answers recorded only for its own row.';


--
-- Name: compliance_decisions; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.compliance_decisions AS
 SELECT e.tenant_id,
    e.trace_id,
    a.conversation_id,
    a.attempt_number,
    a.agent_id,
    a.batch_id,
    a.customer_phone,
        CASE
            WHEN (e.status = 'suppressed'::text) THEN 'suppressed'::text
            ELSE 'deferred'::text
        END AS decision,
    e.blocked_reason AS reason,
    e.deferred_until,
    e.received_at AS decided_at
   FROM (public.call_events e
     JOIN public.call_attempts a ON (((a.tenant_id = e.tenant_id) AND (a.trace_id = e.trace_id))))
  WHERE (e.blocked_reason IS NOT NULL);


--
-- Name: VIEW compliance_decisions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON VIEW public.compliance_decisions IS 'Every recorded compliance decision (deferral or suppression) with its reason, for analysts.';


--
-- Name: COLUMN compliance_decisions.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.compliance_decisions.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN compliance_decisions.trace_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.compliance_decisions.trace_id IS 'The attempt decided on.';


--
-- Name: COLUMN compliance_decisions.conversation_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.compliance_decisions.conversation_id IS 'Its chain.';


--
-- Name: COLUMN compliance_decisions.attempt_number; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.compliance_decisions.attempt_number IS 'Its place in the chain.';


--
-- Name: COLUMN compliance_decisions.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.compliance_decisions.agent_id IS 'The agent placing it.';


--
-- Name: COLUMN compliance_decisions.batch_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.compliance_decisions.batch_id IS 'Its batch; NULL for single calls.';


--
-- Name: COLUMN compliance_decisions.customer_phone; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.compliance_decisions.customer_phone IS 'The number, E.164.';


--
-- Name: COLUMN compliance_decisions.decision; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.compliance_decisions.decision IS 'deferred (due again at deferred_until) or suppressed (ended for good).';


--
-- Name: COLUMN compliance_decisions.reason; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.compliance_decisions.reason IS 'suppressed, opt_out, contact_limit, outside_recipient_hours or unknown_timezone.';


--
-- Name: COLUMN compliance_decisions.deferred_until; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.compliance_decisions.deferred_until IS 'For a deferral: when the attempt is due again.';


--
-- Name: COLUMN compliance_decisions.decided_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.compliance_decisions.decided_at IS 'When the decision was recorded.';


--
-- Name: conversation_chains; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.conversation_chains AS
 SELECT a.tenant_id,
    a.conversation_id,
    a.attempt_number,
    c.attempt_count AS chain_length,
    (a.attempt_number = c.attempt_count) AS is_latest_attempt,
    a.trace_id,
    previous.trace_id AS previous_trace_id,
    previous.status AS previous_status,
    a.agent_id,
    a.customer_phone,
    a.status,
    (a.status = ANY (public.switchboard_terminal_statuses())) AS is_finished,
    a.failure_reason,
    a.results,
    a.duration_seconds,
    a.scheduled_for,
    a.created_at,
    a.dispatched_at,
    a.ended_at,
    (a.ended_at - a.created_at) AS time_to_outcome,
    a.effective_retry_context,
    (a.effective_retry_context -> 'collected_data'::text) AS effective_collected_data,
    a.retry_context AS requested_retry_context,
    a.metadata,
    c.collected_data AS chain_collected_data,
    c.language AS chain_language,
    c.stage_id AS chain_stage_id,
    a.batch_id,
    a.failure_type,
    a.answered_by,
    a.recording_url,
    a.transcript,
    c.created_at AS chain_created_at
   FROM ((public.call_attempts a
     JOIN public.conversations c ON (((c.tenant_id = a.tenant_id) AND (c.conversation_id = a.conversation_id))))
     LEFT JOIN public.call_attempts previous ON (((previous.tenant_id = a.tenant_id) AND (previous.conversation_id = a.conversation_id) AND (previous.attempt_number = (a.attempt_number - 1)))));


--
-- Name: VIEW conversation_chains; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON VIEW public.conversation_chains IS 'One row per attempt with its chain, its place in it, the previous attempt, outcome, timings and context. Filter by tenant_id.';


--
-- Name: COLUMN conversation_chains.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN conversation_chains.conversation_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.conversation_id IS 'The chain.';


--
-- Name: COLUMN conversation_chains.attempt_number; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.attempt_number IS 'Position of this attempt in the chain.';


--
-- Name: COLUMN conversation_chains.chain_length; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.chain_length IS 'Attempts in the chain so far.';


--
-- Name: COLUMN conversation_chains.is_latest_attempt; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.is_latest_attempt IS 'Whether this is the chain''s last attempt so far.';


--
-- Name: COLUMN conversation_chains.trace_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.trace_id IS 'The attempt.';


--
-- Name: COLUMN conversation_chains.previous_trace_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.previous_trace_id IS 'The attempt before this one in the chain.';


--
-- Name: COLUMN conversation_chains.previous_status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.previous_status IS 'How the previous attempt ended (or where it stands).';


--
-- Name: COLUMN conversation_chains.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.agent_id IS 'The agent placing the call.';


--
-- Name: COLUMN conversation_chains.customer_phone; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.customer_phone IS 'Destination number.';


--
-- Name: COLUMN conversation_chains.status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.status IS 'The attempt''s status.';


--
-- Name: COLUMN conversation_chains.is_finished; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.is_finished IS 'Whether the status is terminal.';


--
-- Name: COLUMN conversation_chains.failure_reason; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.failure_reason IS 'Why the attempt failed, when it did.';


--
-- Name: COLUMN conversation_chains.results; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.results IS 'Outcome results.';


--
-- Name: COLUMN conversation_chains.duration_seconds; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.duration_seconds IS 'Talk time.';


--
-- Name: COLUMN conversation_chains.scheduled_for; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.scheduled_for IS 'Requested time, for scheduled calls.';


--
-- Name: COLUMN conversation_chains.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.created_at IS 'When the attempt was accepted.';


--
-- Name: COLUMN conversation_chains.dispatched_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.dispatched_at IS 'When a dialer took it.';


--
-- Name: COLUMN conversation_chains.ended_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.ended_at IS 'When it reached a terminal status.';


--
-- Name: COLUMN conversation_chains.time_to_outcome; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.time_to_outcome IS 'From acceptance to terminal status.';


--
-- Name: COLUMN conversation_chains.effective_retry_context; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.effective_retry_context IS 'The context the dialer received.';


--
-- Name: COLUMN conversation_chains.effective_collected_data; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.effective_collected_data IS 'collected_data of the effective context.';


--
-- Name: COLUMN conversation_chains.requested_retry_context; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.requested_retry_context IS 'The context the request gave.';


--
-- Name: COLUMN conversation_chains.metadata; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.metadata IS 'Opaque client metadata.';


--
-- Name: COLUMN conversation_chains.chain_collected_data; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.chain_collected_data IS 'The chain''s threaded collected_data now.';


--
-- Name: COLUMN conversation_chains.chain_language; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.chain_language IS 'The chain''s threaded language now.';


--
-- Name: COLUMN conversation_chains.chain_stage_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.chain_stage_id IS 'The chain''s threaded stage now.';


--
-- Name: COLUMN conversation_chains.batch_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.batch_id IS 'The batch of the attempt''s chain; NULL for single calls.';


--
-- Name: COLUMN conversation_chains.failure_type; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.failure_type IS 'For a failed call: socket_failure, telephony_failed or other.';


--
-- Name: COLUMN conversation_chains.answered_by; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.answered_by IS 'Who picked up: human, machine or unknown.';


--
-- Name: COLUMN conversation_chains.recording_url; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.recording_url IS 'Where the call''s recording is, as reported.';


--
-- Name: COLUMN conversation_chains.transcript; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.transcript IS 'The conversation as reported: [{role, message}].';


--
-- Name: COLUMN conversation_chains.chain_created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.conversation_chains.chain_created_at IS 'When the chain''s first attempt was accepted: the order chains are listed in.';


--
-- Name: event_deliveries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.event_deliveries (
    tenant_id bigint NOT NULL,
    delivery_id uuid NOT NULL,
    trace_id uuid,
    event_type text NOT NULL,
    target_url text NOT NULL,
    payload jsonb NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    delivered_at timestamp with time zone,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    agent_id bigint,
    batch_id bigint,
    target_id bigint
);


--
-- Name: TABLE event_deliveries; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.event_deliveries IS 'Outbox of outcome events for webhook subscribers, written with the status change.';


--
-- Name: COLUMN event_deliveries.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN event_deliveries.delivery_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.delivery_id IS 'The event_id subscribers receive.';


--
-- Name: COLUMN event_deliveries.trace_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.trace_id IS 'The attempt the event is about; NULL for a batch event.';


--
-- Name: COLUMN event_deliveries.event_type; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.event_type IS 'call.completed, call.no_answer, call.busy, call.failed, call.unreachable, call.canceled, batch.completed or batch.canceled.';


--
-- Name: COLUMN event_deliveries.target_url; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.target_url IS 'Where the event is POSTed.';


--
-- Name: COLUMN event_deliveries.payload; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.payload IS 'The signed envelope as sent.';


--
-- Name: COLUMN event_deliveries.attempts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.attempts IS 'Delivery tries so far.';


--
-- Name: COLUMN event_deliveries.next_attempt_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.next_attempt_at IS 'When the next try is due.';


--
-- Name: COLUMN event_deliveries.delivered_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.delivered_at IS 'When a subscriber acknowledged the event.';


--
-- Name: COLUMN event_deliveries.last_error; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.last_error IS 'Why the last try failed.';


--
-- Name: COLUMN event_deliveries.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.created_at IS 'When the event was written.';


--
-- Name: COLUMN event_deliveries.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.agent_id IS 'The agent whose webhook receives the event (its secret signs it).';


--
-- Name: COLUMN event_deliveries.batch_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.batch_id IS 'For batch.completed and batch.canceled, the batch; NULL for call events.';


--
-- Name: COLUMN event_deliveries.target_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.event_deliveries.target_id IS 'The target the row is for (its secret signs it); deliveries written before targets have the agent''s first.';


--
-- Name: idempotency_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.idempotency_keys (
    tenant_id bigint NOT NULL,
    agent_id bigint NOT NULL,
    idempotency_key text NOT NULL,
    trace_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);


--
-- Name: TABLE idempotency_keys; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.idempotency_keys IS 'Idempotency keys consumed by accepted calls, kept until expires_at and then purged.';


--
-- Name: COLUMN idempotency_keys.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.idempotency_keys.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN idempotency_keys.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.idempotency_keys.agent_id IS 'Keys are scoped to (tenant, agent, key).';


--
-- Name: COLUMN idempotency_keys.idempotency_key; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.idempotency_keys.idempotency_key IS 'The client''s key.';


--
-- Name: COLUMN idempotency_keys.trace_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.idempotency_keys.trace_id IS 'The attempt the key created.';


--
-- Name: COLUMN idempotency_keys.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.idempotency_keys.created_at IS 'When the key was consumed.';


--
-- Name: COLUMN idempotency_keys.expires_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.idempotency_keys.expires_at IS 'When the key may be used again.';


--
-- Name: number_rate_limits; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.number_rate_limits (
    tenant_id bigint NOT NULL,
    customer_phone text NOT NULL,
    tat timestamp with time zone NOT NULL
);


--
-- Name: TABLE number_rate_limits; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.number_rate_limits IS 'GCRA state of the per-number call limit, shared by every replica.';


--
-- Name: COLUMN number_rate_limits.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.number_rate_limits.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN number_rate_limits.customer_phone; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.number_rate_limits.customer_phone IS 'The limited number (E.164).';


--
-- Name: COLUMN number_rate_limits.tat; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.number_rate_limits.tat IS 'Theoretical arrival time: a call is allowed while tat + interval - burst * interval <= now.';


--
-- Name: schema_definitions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_definitions (
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: TABLE schema_definitions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.schema_definitions IS 'Function and view definitions (db/functions) in force, by file name.';


--
-- Name: COLUMN schema_definitions.name; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.schema_definitions.name IS 'The file''s name without .sql.';


--
-- Name: COLUMN schema_definitions.checksum; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.schema_definitions.checksum IS 'SHA-256 of the file as applied.';


--
-- Name: COLUMN schema_definitions.applied_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.schema_definitions.applied_at IS 'When it was last applied.';


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL,
    checksum text
);


--
-- Name: TABLE schema_migrations; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.schema_migrations IS 'Migrations applied to this database, by version.';


--
-- Name: COLUMN schema_migrations.version; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.schema_migrations.version IS 'The NNNN of the migration file.';


--
-- Name: COLUMN schema_migrations.name; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.schema_migrations.name IS 'The migration file''s name after the number.';


--
-- Name: COLUMN schema_migrations.applied_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.schema_migrations.applied_at IS 'When it was applied.';


--
-- Name: COLUMN schema_migrations.checksum; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.schema_migrations.checksum IS 'SHA-256 of the migration file as applied: an edited file stops start-up.';


--
-- Name: suppressions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.suppressions (
    tenant_id bigint NOT NULL,
    phone_number text NOT NULL,
    agent_id bigint DEFAULT 0 NOT NULL,
    reason text,
    source text NOT NULL,
    trace_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone,
    CONSTRAINT suppressions_agent_id_check CHECK ((agent_id >= 0)),
    CONSTRAINT suppressions_source_check CHECK ((source = ANY (ARRAY['api'::text, 'import'::text, 'opt_out'::text])))
);


--
-- Name: TABLE suppressions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.suppressions IS 'Do-not-call entries: the number is not dialed for the tenant (agent_id 0) or for one agent, until expires_at if set.';


--
-- Name: COLUMN suppressions.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.suppressions.tenant_id IS 'The tenant whose list holds the entry.';


--
-- Name: COLUMN suppressions.phone_number; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.suppressions.phone_number IS 'The number not to dial, E.164.';


--
-- Name: COLUMN suppressions.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.suppressions.agent_id IS '0: every agent of the tenant (scope tenant); otherwise the one agent (scope agent).';


--
-- Name: COLUMN suppressions.reason; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.suppressions.reason IS 'Why, as the client gave it.';


--
-- Name: COLUMN suppressions.source; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.suppressions.source IS 'api, import (a CSV upload) or opt_out (the runtime heard "stop calling" on trace_id).';


--
-- Name: COLUMN suppressions.trace_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.suppressions.trace_id IS 'For an opt-out: the attempt on which the number asked not to be called.';


--
-- Name: COLUMN suppressions.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.suppressions.created_at IS 'When the entry was written (or last replaced).';


--
-- Name: COLUMN suppressions.expires_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.suppressions.expires_at IS 'When the entry stops applying; NULL: never.';


--
-- Name: tenants; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tenants (
    tenant_id bigint NOT NULL,
    name text NOT NULL,
    number_rate_limit integer DEFAULT 5 NOT NULL,
    number_rate_period_seconds integer DEFAULT 3600 NOT NULL,
    number_rate_burst integer,
    max_concurrent_calls integer DEFAULT 10 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    contact_limits jsonb,
    recipient_hours jsonb,
    outside_hours text DEFAULT 'defer'::text NOT NULL,
    unknown_timezone text DEFAULT 'tenant_zone'::text NOT NULL,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    CONSTRAINT tenants_max_concurrent_calls_check CHECK ((max_concurrent_calls >= 0)),
    CONSTRAINT tenants_number_rate_burst_check CHECK ((number_rate_burst > 0)),
    CONSTRAINT tenants_number_rate_limit_check CHECK ((number_rate_limit >= 0)),
    CONSTRAINT tenants_number_rate_period_seconds_check CHECK ((number_rate_period_seconds > 0)),
    CONSTRAINT tenants_outside_hours_known CHECK ((outside_hours = ANY (ARRAY['defer'::text, 'reject'::text]))),
    CONSTRAINT tenants_unknown_timezone_known CHECK ((unknown_timezone = ANY (ARRAY['tenant_zone'::text, 'refuse'::text])))
);


--
-- Name: TABLE tenants; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.tenants IS 'Customers of Switchboard; every other row belongs to one.';


--
-- Name: COLUMN tenants.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.tenant_id IS 'Tenant id, the leading key column of every tenant table.';


--
-- Name: COLUMN tenants.name; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.name IS 'Display name.';


--
-- Name: COLUMN tenants.number_rate_limit; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.number_rate_limit IS 'Calls allowed to one customer number per period (GCRA); 0 turns the limit off.';


--
-- Name: COLUMN tenants.number_rate_period_seconds; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.number_rate_period_seconds IS 'The period of number_rate_limit, in seconds (default one hour).';


--
-- Name: COLUMN tenants.number_rate_burst; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.number_rate_burst IS 'Calls allowed to one number at once; NULL means number_rate_limit.';


--
-- Name: COLUMN tenants.max_concurrent_calls; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.max_concurrent_calls IS 'Active attempts (initiated through in_progress) allowed at once; 0 turns the limit off.';


--
-- Name: COLUMN tenants.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.created_at IS 'When the tenant was created.';


--
-- Name: COLUMN tenants.contact_limits; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.contact_limits IS 'Attempt caps per number (SwitchboardCore ContactLimits); NULL: none.';


--
-- Name: COLUMN tenants.recipient_hours; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.recipient_hours IS 'Calling hours in the recipient''s zone: {"days": [...], "start": "HH:MM", "end": "HH:MM"}, narrowed by the country''s limits; NULL: none.';


--
-- Name: COLUMN tenants.outside_hours; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.outside_hours IS 'A call placed now outside the recipient''s hours: defer (scheduled for the next opening) or reject (422).';


--
-- Name: COLUMN tenants.unknown_timezone; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.unknown_timezone IS 'A number whose zone is unknown: tenant_zone (checked in the tenant''s timezone) or refuse.';


--
-- Name: COLUMN tenants.timezone; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.timezone IS 'The tenant''s IANA zone, for numbers of unknown zone.';


--
-- Name: tenants_tenant_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.tenants ALTER COLUMN tenant_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.tenants_tenant_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: webhook_targets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_targets (
    tenant_id bigint NOT NULL,
    target_id bigint NOT NULL,
    agent_id bigint NOT NULL,
    url text NOT NULL,
    secret text,
    events text[],
    include_transcript boolean DEFAULT false NOT NULL,
    include_recording boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_targets_url_check CHECK (((url ~ '^https?://'::text) AND (length(url) <= 2048)))
);


--
-- Name: TABLE webhook_targets; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.webhook_targets IS 'Where an agent''s events are POSTed: up to 5 targets per agent, each subscribed to its own event types.';


--
-- Name: COLUMN webhook_targets.tenant_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.webhook_targets.tenant_id IS 'Owning tenant.';


--
-- Name: COLUMN webhook_targets.target_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.webhook_targets.target_id IS 'The target''s id (agents webhooks list|remove).';


--
-- Name: COLUMN webhook_targets.agent_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.webhook_targets.agent_id IS 'The agent whose events the target receives.';


--
-- Name: COLUMN webhook_targets.url; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.webhook_targets.url IS 'Where events are POSTed (http or https).';


--
-- Name: COLUMN webhook_targets.secret; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.webhook_targets.secret IS 'HMAC-SHA256 key that signs the target''s events (needed in the clear to sign; not readable by analysts).';


--
-- Name: COLUMN webhook_targets.events; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.webhook_targets.events IS 'Event types delivered (call.completed, call.socket_failure, batch.completed, ...); NULL means all.';


--
-- Name: COLUMN webhook_targets.include_transcript; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.webhook_targets.include_transcript IS 'Whether outcome events carry data.transcript.';


--
-- Name: COLUMN webhook_targets.include_recording; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.webhook_targets.include_recording IS 'Whether outcome events carry data.call.recording_url (null otherwise).';


--
-- Name: COLUMN webhook_targets.created_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.webhook_targets.created_at IS 'When the target was added.';


--
-- Name: webhook_targets_target_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.webhook_targets ALTER COLUMN target_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.webhook_targets_target_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: agents agents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agents
    ADD CONSTRAINT agents_pkey PRIMARY KEY (tenant_id, agent_id);


--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (key_hash);


--
-- Name: batch_idempotency_keys batch_idempotency_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.batch_idempotency_keys
    ADD CONSTRAINT batch_idempotency_keys_pkey PRIMARY KEY (tenant_id, agent_id, idempotency_key);


--
-- Name: batches batches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.batches
    ADD CONSTRAINT batches_pkey PRIMARY KEY (tenant_id, batch_id);


--
-- Name: call_attempts call_attempts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.call_attempts
    ADD CONSTRAINT call_attempts_pkey PRIMARY KEY (tenant_id, trace_id);


--
-- Name: call_attempts call_attempts_tenant_id_conversation_id_attempt_number_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.call_attempts
    ADD CONSTRAINT call_attempts_tenant_id_conversation_id_attempt_number_key UNIQUE (tenant_id, conversation_id, attempt_number);


--
-- Name: call_events call_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.call_events
    ADD CONSTRAINT call_events_pkey PRIMARY KEY (tenant_id, trace_id, event_id);


--
-- Name: conversations conversations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.conversations
    ADD CONSTRAINT conversations_pkey PRIMARY KEY (tenant_id, conversation_id);


--
-- Name: event_deliveries event_deliveries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_deliveries
    ADD CONSTRAINT event_deliveries_pkey PRIMARY KEY (tenant_id, delivery_id);


--
-- Name: idempotency_keys idempotency_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (tenant_id, agent_id, idempotency_key);


--
-- Name: number_rate_limits number_rate_limits_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.number_rate_limits
    ADD CONSTRAINT number_rate_limits_pkey PRIMARY KEY (tenant_id, customer_phone);


--
-- Name: schema_definitions schema_definitions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_definitions
    ADD CONSTRAINT schema_definitions_pkey PRIMARY KEY (name);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: suppressions suppressions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.suppressions
    ADD CONSTRAINT suppressions_pkey PRIMARY KEY (tenant_id, phone_number, agent_id);


--
-- Name: tenants tenants_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tenants
    ADD CONSTRAINT tenants_pkey PRIMARY KEY (tenant_id);


--
-- Name: webhook_targets webhook_targets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_targets
    ADD CONSTRAINT webhook_targets_pkey PRIMARY KEY (tenant_id, target_id);


--
-- Name: webhook_targets webhook_targets_tenant_id_agent_id_url_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_targets
    ADD CONSTRAINT webhook_targets_tenant_id_agent_id_url_key UNIQUE (tenant_id, agent_id, url);


--
-- Name: api_keys_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX api_keys_tenant ON public.api_keys USING btree (tenant_id);


--
-- Name: batches_agent; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX batches_agent ON public.batches USING btree (tenant_id, agent_id, batch_id);


--
-- Name: batches_open; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX batches_open ON public.batches USING btree (tenant_id, batch_id) WHERE (status = ANY (public.switchboard_open_batch_statuses()));


--
-- Name: call_attempts_active; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX call_attempts_active ON public.call_attempts USING btree (tenant_id) WHERE (status = ANY (public.switchboard_active_statuses()));


--
-- Name: call_attempts_batch; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX call_attempts_batch ON public.call_attempts USING btree (tenant_id, batch_id) WHERE (batch_id IS NOT NULL);


--
-- Name: call_attempts_batch_active; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX call_attempts_batch_active ON public.call_attempts USING btree (tenant_id, batch_id) WHERE ((status = ANY (public.switchboard_active_statuses())) AND (batch_id IS NOT NULL));


--
-- Name: call_attempts_batch_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX call_attempts_batch_due ON public.call_attempts USING btree (tenant_id, batch_id, due_at) WHERE ((status = ANY (public.switchboard_due_statuses())) AND (batch_id IS NOT NULL));


--
-- Name: call_attempts_chain_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX call_attempts_chain_status ON public.call_attempts USING btree (tenant_id, status, chain_created_at, conversation_id) WHERE is_latest;


--
-- Name: call_attempts_contacts; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX call_attempts_contacts ON public.call_attempts USING btree (tenant_id, customer_phone, COALESCE(limits_charged_at, dispatched_at)) WHERE (COALESCE(limits_charged_at, dispatched_at) IS NOT NULL);


--
-- Name: call_attempts_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX call_attempts_due ON public.call_attempts USING btree (due_at) WHERE ((status = ANY (public.switchboard_due_statuses())) AND (batch_id IS NULL));


--
-- Name: call_attempts_lease; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX call_attempts_lease ON public.call_attempts USING btree (lease_expires_at) WHERE (status = 'dispatching'::text);


--
-- Name: call_attempts_number_waiting; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX call_attempts_number_waiting ON public.call_attempts USING btree (tenant_id, customer_phone) WHERE ((status = ANY (public.switchboard_due_statuses())) OR (status = 'dispatching'::text));


--
-- Name: call_attempts_silent; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX call_attempts_silent ON public.call_attempts USING btree (updated_at) WHERE (status = ANY (public.switchboard_dialed_statuses()));


--
-- Name: conversations_agent; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX conversations_agent ON public.conversations USING btree (tenant_id, agent_id, created_at, conversation_id);


--
-- Name: conversations_batch; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX conversations_batch ON public.conversations USING btree (tenant_id, batch_id, created_at, conversation_id) WHERE (batch_id IS NOT NULL);


--
-- Name: conversations_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX conversations_created ON public.conversations USING btree (tenant_id, created_at, conversation_id);


--
-- Name: conversations_phone; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX conversations_phone ON public.conversations USING btree (tenant_id, customer_phone, created_at, conversation_id);


--
-- Name: event_deliveries_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX event_deliveries_due ON public.event_deliveries USING btree (next_attempt_at) WHERE (delivered_at IS NULL);


--
-- Name: idempotency_keys_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idempotency_keys_expiry ON public.idempotency_keys USING btree (tenant_id, expires_at);


--
-- Name: batch_progress _RETURN; Type: RULE; Schema: public; Owner: -
--

CREATE OR REPLACE VIEW public.batch_progress AS
 SELECT b.tenant_id,
    b.batch_id,
    b.agent_id,
    b.name,
    b.status AS batch_status,
    b.total_recipients,
    count(a.trace_id) FILTER (WHERE (a.status = ANY (ARRAY['scheduled'::text, 'initiated'::text]))) AS waiting_count,
    count(a.trace_id) FILTER (WHERE (a.status = ANY (ARRAY['dispatching'::text, 'dispatched'::text, 'ringing'::text, 'in_progress'::text]))) AS in_progress_count,
    count(a.trace_id) FILTER (WHERE (a.status = 'completed'::text)) AS completed_count,
    count(a.trace_id) FILTER (WHERE (a.status = 'no_answer'::text)) AS no_answer_count,
    count(a.trace_id) FILTER (WHERE (a.status = 'busy'::text)) AS busy_count,
    count(a.trace_id) FILTER (WHERE (a.status = 'failed'::text)) AS failed_count,
    count(a.trace_id) FILTER (WHERE (a.status = 'unreachable'::text)) AS unreachable_count,
    count(a.trace_id) FILTER (WHERE (a.status = 'canceled'::text)) AS canceled_count,
    count(a.trace_id) FILTER (WHERE (a.status = ANY (public.switchboard_terminal_statuses()))) AS finished_count,
    round(((100.0 * (count(a.trace_id) FILTER (WHERE (a.status = 'completed'::text)))::numeric) / (NULLIF(count(a.trace_id) FILTER (WHERE (a.status = ANY (public.switchboard_terminal_statuses()))), 0))::numeric), 2) AS success_rate,
    ( SELECT min(d.dispatched_at) AS min
           FROM public.call_attempts d
          WHERE ((d.tenant_id = b.tenant_id) AND (d.batch_id = b.batch_id))) AS first_dial_at,
    ( SELECT max(d.dispatched_at) AS max
           FROM public.call_attempts d
          WHERE ((d.tenant_id = b.tenant_id) AND (d.batch_id = b.batch_id))) AS last_dial_at,
    b.created_at,
    count(a.trace_id) FILTER (WHERE ((a.status = ANY (ARRAY['scheduled'::text, 'initiated'::text])) AND (a.attempt_number > 1))) AS pending_retry_count,
    round((avg(a.duration_seconds))::numeric, 2) AS avg_duration_seconds,
    count(a.trace_id) FILTER (WHERE (a.status = 'voicemail'::text)) AS voicemail_count,
    count(a.trace_id) FILTER (WHERE (a.failure_type = 'socket_failure'::text)) AS socket_failure_count,
    count(a.trace_id) FILTER (WHERE (a.status = 'suppressed'::text)) AS suppressed_count,
    count(a.trace_id) FILTER (WHERE ((a.status = ANY (ARRAY['scheduled'::text, 'initiated'::text])) AND (a.blocked_reason = 'contact_limit'::text))) AS deferred_contact_limit_count,
    count(a.trace_id) FILTER (WHERE ((a.status = ANY (ARRAY['scheduled'::text, 'initiated'::text])) AND (a.blocked_reason = 'outside_recipient_hours'::text))) AS deferred_outside_hours_count
   FROM ((public.batches b
     LEFT JOIN public.conversations c ON (((c.tenant_id = b.tenant_id) AND (c.batch_id = b.batch_id))))
     LEFT JOIN public.call_attempts a ON (((a.tenant_id = c.tenant_id) AND (a.conversation_id = c.conversation_id) AND (a.attempt_number = c.attempt_count))))
  GROUP BY b.tenant_id, b.batch_id;


--
-- Name: call_attempts call_attempts_chain_created_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER call_attempts_chain_created_at BEFORE INSERT ON public.call_attempts FOR EACH ROW EXECUTE FUNCTION public.switchboard_set_chain_created_at();


--
-- Name: call_attempts call_attempts_supersede; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER call_attempts_supersede AFTER INSERT ON public.call_attempts FOR EACH ROW WHEN ((new.attempt_number > 1)) EXECUTE FUNCTION public.switchboard_supersede_attempt();


--
-- Name: agents agents_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agents
    ADD CONSTRAINT agents_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(tenant_id);


--
-- Name: api_keys api_keys_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(tenant_id);


--
-- Name: batch_idempotency_keys batch_idempotency_keys_tenant_id_batch_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.batch_idempotency_keys
    ADD CONSTRAINT batch_idempotency_keys_tenant_id_batch_id_fkey FOREIGN KEY (tenant_id, batch_id) REFERENCES public.batches(tenant_id, batch_id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: batches batches_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.batches
    ADD CONSTRAINT batches_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(tenant_id);


--
-- Name: call_attempts call_attempts_tenant_id_batch_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.call_attempts
    ADD CONSTRAINT call_attempts_tenant_id_batch_id_fkey FOREIGN KEY (tenant_id, batch_id) REFERENCES public.batches(tenant_id, batch_id);


--
-- Name: call_attempts call_attempts_tenant_id_conversation_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.call_attempts
    ADD CONSTRAINT call_attempts_tenant_id_conversation_id_fkey FOREIGN KEY (tenant_id, conversation_id) REFERENCES public.conversations(tenant_id, conversation_id);


--
-- Name: call_events call_events_tenant_id_trace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.call_events
    ADD CONSTRAINT call_events_tenant_id_trace_id_fkey FOREIGN KEY (tenant_id, trace_id) REFERENCES public.call_attempts(tenant_id, trace_id);


--
-- Name: conversations conversations_tenant_id_batch_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.conversations
    ADD CONSTRAINT conversations_tenant_id_batch_id_fkey FOREIGN KEY (tenant_id, batch_id) REFERENCES public.batches(tenant_id, batch_id);


--
-- Name: suppressions suppressions_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.suppressions
    ADD CONSTRAINT suppressions_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(tenant_id);


--
-- Name: webhook_targets webhook_targets_tenant_id_agent_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_targets
    ADD CONSTRAINT webhook_targets_tenant_id_agent_id_fkey FOREIGN KEY (tenant_id, agent_id) REFERENCES public.agents(tenant_id, agent_id) ON DELETE CASCADE;


--
-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA public TO switchboard_analyst;


--
-- Name: TABLE conversations; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.conversations TO switchboard_analyst;


--
-- Name: COLUMN agents.tenant_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(tenant_id) ON TABLE public.agents TO switchboard_analyst;


--
-- Name: COLUMN agents.agent_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(agent_id) ON TABLE public.agents TO switchboard_analyst;


--
-- Name: COLUMN agents.name; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(name) ON TABLE public.agents TO switchboard_analyst;


--
-- Name: COLUMN agents.phone_number; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(phone_number) ON TABLE public.agents TO switchboard_analyst;


--
-- Name: COLUMN agents.created_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(created_at) ON TABLE public.agents TO switchboard_analyst;


--
-- Name: COLUMN agents.updated_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(updated_at) ON TABLE public.agents TO switchboard_analyst;


--
-- Name: COLUMN agents.retry_policy; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(retry_policy) ON TABLE public.agents TO switchboard_analyst;


--
-- Name: COLUMN agents.calling_window; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(calling_window) ON TABLE public.agents TO switchboard_analyst;


--
-- Name: TABLE batch_idempotency_keys; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.batch_idempotency_keys TO switchboard_analyst;


--
-- Name: TABLE batch_progress; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.batch_progress TO switchboard_analyst;


--
-- Name: TABLE batches; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.batches TO switchboard_analyst;


--
-- Name: TABLE call_attempts; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.call_attempts TO switchboard_analyst;


--
-- Name: TABLE call_events; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.call_events TO switchboard_analyst;


--
-- Name: TABLE compliance_decisions; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.compliance_decisions TO switchboard_analyst;


--
-- Name: TABLE conversation_chains; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.conversation_chains TO switchboard_analyst;


--
-- Name: TABLE event_deliveries; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.event_deliveries TO switchboard_analyst;


--
-- Name: COLUMN suppressions.tenant_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(tenant_id) ON TABLE public.suppressions TO switchboard_analyst;


--
-- Name: COLUMN suppressions.phone_number; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(phone_number) ON TABLE public.suppressions TO switchboard_analyst;


--
-- Name: COLUMN suppressions.agent_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(agent_id) ON TABLE public.suppressions TO switchboard_analyst;


--
-- Name: COLUMN suppressions.reason; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(reason) ON TABLE public.suppressions TO switchboard_analyst;


--
-- Name: COLUMN suppressions.source; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(source) ON TABLE public.suppressions TO switchboard_analyst;


--
-- Name: COLUMN suppressions.trace_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(trace_id) ON TABLE public.suppressions TO switchboard_analyst;


--
-- Name: COLUMN suppressions.created_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(created_at) ON TABLE public.suppressions TO switchboard_analyst;


--
-- Name: COLUMN suppressions.expires_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(expires_at) ON TABLE public.suppressions TO switchboard_analyst;


--
-- Name: TABLE tenants; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.tenants TO switchboard_analyst;


--
-- Name: COLUMN webhook_targets.tenant_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(tenant_id) ON TABLE public.webhook_targets TO switchboard_analyst;


--
-- Name: COLUMN webhook_targets.target_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(target_id) ON TABLE public.webhook_targets TO switchboard_analyst;


--
-- Name: COLUMN webhook_targets.agent_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(agent_id) ON TABLE public.webhook_targets TO switchboard_analyst;


--
-- Name: COLUMN webhook_targets.url; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(url) ON TABLE public.webhook_targets TO switchboard_analyst;


--
-- Name: COLUMN webhook_targets.events; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(events) ON TABLE public.webhook_targets TO switchboard_analyst;


--
-- Name: COLUMN webhook_targets.include_transcript; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(include_transcript) ON TABLE public.webhook_targets TO switchboard_analyst;


--
-- Name: COLUMN webhook_targets.include_recording; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(include_recording) ON TABLE public.webhook_targets TO switchboard_analyst;


--
-- Name: COLUMN webhook_targets.created_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(created_at) ON TABLE public.webhook_targets TO switchboard_analyst;


--
-- PostgreSQL database dump complete
--


