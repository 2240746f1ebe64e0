-- Each report's transaction marks its event row with a fresh id of its own, so a report whose
-- reply was lost can tell its own committed row from one a concurrent replay of the same event_id
-- wrote (recorded, against duplicate).
ALTER TABLE call_events ADD COLUMN request_id uuid;
COMMENT ON COLUMN call_events.request_id IS 'The report''s own id, fresh per request: a read-back after a lost reply answers recorded only for its own row.';
