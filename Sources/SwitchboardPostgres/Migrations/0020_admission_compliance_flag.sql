-- switchboard_admit_dispatch takes p_compliance_pending (the claim saw caps or an entry for the
-- number): without it, admission skips the number's lock and the compliance check. The new
-- signature is created from db/functions/admit_dispatch.sql.
DROP FUNCTION IF EXISTS switchboard_admit_dispatch(bigint, uuid, bigint, text, boolean);
