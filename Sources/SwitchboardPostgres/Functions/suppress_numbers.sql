-- Writes suppression entries (an API call, a chunk of an import, or a spoken opt-out) and ends,
-- in the same transaction, every attempt of the tenant to those numbers in each entry's scope
-- that waits for a dispatcher: `suppressed`, with the reason and an event each. Answers the
-- attempts it ended, for their outcome webhooks.
--
-- The guarantee that no dial starts once the suppression is answered rests on this and on
-- PostgresCompliance.settle: this UPDATE locks each waiting attempt of the number, so a claim
-- that took one first is waited for (and the attempt is then dispatching, which settle waits
-- out), and a claim that comes after finds it ended or, for an attempt written meanwhile, sees
-- the entry and sends the attempt through admission (switchboard_admit_dispatch), which ends it.
--
-- p_entries: [{phone_number, agent_id (0: the tenant), reason, source, trace_id, expires_at}],
-- checked by the service. A number already suppressed in a scope is replaced by the new entry.
CREATE OR REPLACE FUNCTION switchboard_suppress_numbers(p_tenant_id bigint, p_entries jsonb)
RETURNS TABLE (trace_id uuid, conversation_id uuid)
LANGUAGE plpgsql
AS $function$
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
$function$;
COMMENT ON FUNCTION switchboard_suppress_numbers IS 'Writes suppression entries and ends the tenant''s waiting attempts to those numbers (suppressed, with an event each); answers the attempts it ended.';
