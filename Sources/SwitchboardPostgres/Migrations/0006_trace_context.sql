-- W3C Trace Context: the traceparent a call was placed with, kept on its attempt and passed on to
-- the dialer webhook and the outcome webhooks. The intake statement takes it as one more member
-- of each call ("traceparent"); calls without one cost nothing more.
ALTER TABLE call_attempts ADD COLUMN traceparent text;
COMMENT ON COLUMN call_attempts.traceparent IS 'The W3C traceparent the call was placed with (HTTP header or gRPC metadata), if any and well formed.';

-- switchboard_accept_calls: db/functions/accept_calls.sql
