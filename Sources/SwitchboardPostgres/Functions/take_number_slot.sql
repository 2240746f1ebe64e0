CREATE OR REPLACE FUNCTION switchboard_take_number_slot(
  p_tenant_id bigint, p_customer_phone text, p_interval interval, p_burst integer,
  OUT o_allowed boolean, OUT o_tat timestamptz
)
LANGUAGE plpgsql
AS $function$
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
$function$;
COMMENT ON FUNCTION switchboard_take_number_slot IS 'GCRA per (tenant, number): takes a call if allowed; returns whether, and the theoretical arrival time.';
