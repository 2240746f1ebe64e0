-- The reaper finds attempts whose voice runtime fell silent by the time of their last change.
CREATE INDEX call_attempts_silent ON call_attempts (updated_at)
  WHERE status IN ('dispatched', 'ringing', 'in_progress');
