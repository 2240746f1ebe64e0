-- Issue #20: a reported duration of 1e200 made avg() in batch_progress overflow (22003), which
-- failed batch completion for every tenant and that tenant's batch metrics. Reports are now held
-- to RecordContract.maxDurationSeconds (a week); rows stored before are cleared (NaN sorts above
-- every number in PostgreSQL, so the comparison catches it too), and the tables keep the rule.
UPDATE call_attempts SET duration_seconds = NULL
WHERE duration_seconds > 604800 OR duration_seconds < 0;

UPDATE call_events SET duration_seconds = NULL
WHERE duration_seconds > 604800 OR duration_seconds < 0;

ALTER TABLE call_attempts ADD CONSTRAINT call_attempts_duration_in_range
  CHECK (duration_seconds BETWEEN 0 AND 604800);

ALTER TABLE call_events ADD CONSTRAINT call_events_duration_in_range
  CHECK (duration_seconds BETWEEN 0 AND 604800);
