-- Generated history for the read and intake benchmarks (scripts/bench-reads, scripts/bench --fill):
-- :chains chains of tenant :tenant, five attempts each, created evenly over the last 30 days,
-- by agents 1-5, to :chains / 2 numbers (two chains each), one chain in five from one of ten
-- batches. The first four attempts of a chain ended (failed, no_answer, busy, voicemail); the
-- fifth, its latest, is completed, failed, no_answer, voicemail, scheduled or canceled.
--   psql -v tenant=1 -v chains=200000 -f scripts/fill-conversations.sql
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO agents (tenant_id, agent_id, phone_number)
SELECT :tenant, a, '+1415555010' || a FROM generate_series(1, 5) a
ON CONFLICT DO NOTHING;

INSERT INTO batches (tenant_id, agent_id, name, status, total_recipients, created_at, completed_at)
SELECT :tenant, 1, 'generated ' || b, 'completed', :chains / 50, now() - interval '30 days', now()
FROM generate_series(1, 10) b;

CREATE TEMPORARY TABLE generated_batches ON COMMIT DROP AS
SELECT batch_id, row_number() OVER (ORDER BY batch_id) - 1 AS slot
FROM batches WHERE tenant_id = :tenant AND name LIKE 'generated %' ORDER BY batch_id DESC LIMIT 10;

CREATE TEMPORARY TABLE generated_chains ON COMMIT DROP AS
SELECT i, gen_random_uuid() AS conversation_id, 1 + i % 5 AS agent_id,
  '+1415' || lpad((i % (:chains / 2))::text, 7, '0') AS phone,
  now() - interval '30 days' + (i * interval '30 days' / :chains) AS created_at,
  CASE WHEN i % 5 = 0 THEN (SELECT batch_id FROM generated_batches WHERE slot = i % 10) END AS batch_id
FROM generate_series(1, :chains) i;

INSERT INTO conversations (tenant_id, conversation_id, agent_id, customer_phone, attempt_count, created_at,
  updated_at, batch_id)
SELECT :tenant, conversation_id, agent_id, phone, 5, created_at, created_at + interval '5 hours', batch_id
FROM generated_chains;

INSERT INTO call_attempts (tenant_id, trace_id, conversation_id, attempt_number, agent_id, customer_phone,
  parameters, effective_retry_context, status, due_at, dispatched_at, ended_at, duration_seconds, created_at,
  updated_at, batch_id, chain_created_at, is_latest)
SELECT :tenant, gen_random_uuid(), c.conversation_id, n, c.agent_id, c.phone,
  jsonb_build_array(jsonb_build_object('name', 'customer_phone', 'value', c.phone)), '{"collected_data": {}}',
  s.status, c.created_at + n * interval '1 hour',
  CASE WHEN s.status NOT IN ('scheduled', 'canceled') THEN c.created_at + n * interval '1 hour' END,
  CASE WHEN s.status <> 'scheduled' THEN c.created_at + n * interval '1 hour' + interval '1 minute' END,
  CASE WHEN s.status = 'completed' THEN 45 END,
  c.created_at + n * interval '1 hour', c.created_at + n * interval '1 hour', c.batch_id, c.created_at, n = 5
FROM generated_chains c, generate_series(1, 5) n,
  LATERAL (SELECT CASE
    WHEN n < 5 THEN (ARRAY['failed', 'no_answer', 'busy', 'voicemail'])[n]
    ELSE (ARRAY['completed', 'completed', 'completed', 'failed', 'no_answer', 'voicemail', 'scheduled',
      'canceled', 'completed', 'completed'])[1 + c.i % 10]
  END AS status) s;
COMMIT;
VACUUM ANALYZE conversations;
VACUUM ANALYZE call_attempts;
