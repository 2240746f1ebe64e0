-- What the voice runtime reports of a call beside its outcome (#11): the transcript, where the
-- recording is, who answered, and why a failed call failed. On the attempt (its latest report
-- wins) and in the event log (each report as sent).
ALTER TABLE call_attempts
  ADD COLUMN transcript jsonb,
  ADD COLUMN recording_url text,
  ADD COLUMN answered_by text CHECK (answered_by IN ('human', 'machine', 'unknown')),
  ADD COLUMN failure_type text CHECK (failure_type IN ('socket_failure', 'telephony_failed', 'other'));
COMMENT ON COLUMN call_attempts.transcript IS 'The conversation as reported: [{role: agent|human, message}], in order.';
COMMENT ON COLUMN call_attempts.recording_url IS 'Where the call''s recording is (https), as reported.';
COMMENT ON COLUMN call_attempts.answered_by IS 'Who picked up, as the voice runtime judged: human, machine or unknown.';
COMMENT ON COLUMN call_attempts.failure_type IS 'For a failed call: socket_failure (the dialer could not be reached), telephony_failed or other.';

ALTER TABLE call_events
  ADD COLUMN transcript jsonb,
  ADD COLUMN recording_url text,
  ADD COLUMN answered_by text,
  ADD COLUMN failure_type text;
COMMENT ON COLUMN call_events.transcript IS 'The transcript the report carried, if any.';
COMMENT ON COLUMN call_events.recording_url IS 'The recording URL the report carried, if any.';
COMMENT ON COLUMN call_events.answered_by IS 'Who answered, as the report said.';
COMMENT ON COLUMN call_events.failure_type IS 'The failure type the report carried.';
