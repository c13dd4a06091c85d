-- Verifications of a record's INS with its traits through the INSi teleservice: a call of kind
-- 'verify', whose outcome says whether the INS and the traits belong together ('verified') or
-- not ('mismatch'). A mismatch lowers the identity (RECUP to PROV, QUAL to VALI) and withdraws
-- the INS, with an identity event that names the call; it stays an identity-vigilance alert
-- until a later verification or a confirmed retrieval settles it.
ALTER TABLE insi_calls DROP CONSTRAINT insi_calls_kind_valid,
    ADD CONSTRAINT insi_calls_kind_valid CHECK (kind IN ('retrieve', 'verify')),
    DROP CONSTRAINT insi_calls_outcome_valid,
    ADD CONSTRAINT insi_calls_outcome_valid CHECK (
        (kind = 'retrieve' AND outcome IN ('found', 'none_found', 'several', 'failed'))
        OR (kind = 'verify' AND outcome IN ('verified', 'mismatch', 'failed')));

-- When a search found an INS that another record of the tenant held at the time: a probable
-- duplicate, shown in the identity-vigilance list until the search is confirmed or superseded.
ALTER TABLE insi_calls ADD COLUMN held_by uuid,
    ADD FOREIGN KEY (tenant_id, held_by) REFERENCES residents (tenant_id, id);
CREATE INDEX insi_calls_by_kind ON insi_calls (tenant_id, kind, outcome, requested_at);
GRANT UPDATE (held_by) ON insi_calls TO dui_app;
