-- Search that scales (#11): chains are listed newest first, by (created_at, conversation_id), and
-- paged by a cursor on that pair. Every filter has an index that starts with tenant_id and ends
-- with that order, so a page costs the same at the top as 500 pages deep.

DROP INDEX conversations_agent;
DROP INDEX conversations_batch;
CREATE INDEX conversations_created ON conversations (tenant_id, created_at, conversation_id);
CREATE INDEX conversations_agent ON conversations (tenant_id, agent_id, created_at, conversation_id);
CREATE INDEX conversations_batch ON conversations (tenant_id, batch_id, created_at, conversation_id)
  WHERE batch_id IS NOT NULL;
CREATE INDEX conversations_phone ON conversations (tenant_id, customer_phone, created_at, conversation_id);

-- A chain's status is its latest attempt's, which changes with every report: kept on the attempt
-- alone (a copy on the chain would be one more write per status change, on the dispatch path).
-- To list chains by status in chain order, each attempt carries its chain's creation time (set
-- once when written) and whether it is its chain's latest (cleared when the next one is written:
-- one more write per retry, none per status change).
ALTER TABLE call_attempts ADD COLUMN chain_created_at timestamptz, ADD COLUMN is_latest boolean NOT NULL DEFAULT true;
UPDATE call_attempts a SET chain_created_at = c.created_at, is_latest = (a.attempt_number = c.attempt_count)
FROM conversations c WHERE c.tenant_id = a.tenant_id AND c.conversation_id = a.conversation_id;
ALTER TABLE call_attempts ALTER COLUMN chain_created_at SET NOT NULL;
COMMENT ON COLUMN call_attempts.chain_created_at IS 'Its chain''s created_at (copied when written): the order chains are listed in.';
COMMENT ON COLUMN call_attempts.is_latest IS 'Whether this is its chain''s latest attempt (attempt_number = conversations.attempt_count).';

-- switchboard_set_chain_created_at: db/functions/set_chain_created_at.sql

-- switchboard_supersede_attempt: db/functions/supersede_attempt.sql

-- Chains by the status of their latest attempt, in chain order: one entry per chain.
CREATE INDEX call_attempts_chain_status ON call_attempts (tenant_id, status, chain_created_at, conversation_id)
  WHERE is_latest;

-- The analysts' view, as 0007 wrote it, with each attempt's batch, record and its chain's
-- creation time at the end.
-- conversation_chains: db/functions/conversation_chains.sql
