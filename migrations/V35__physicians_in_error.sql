-- A physician recorded by mistake (the wrong doctor, the wrong person) is flagged entered in
-- error with its reason, as the other entries of the medical file are: ending it would leave a
-- physician who never followed the person in their history.
ALTER TABLE physicians
    ADD COLUMN error_at      timestamptz,
    ADD COLUMN error_by      uuid,
    -- Sealed, under the row's key version.
    ADD COLUMN error_reason  bytea,
    ADD CONSTRAINT physicians_error_by_fkey FOREIGN KEY (tenant_id, error_by) REFERENCES users (tenant_id, id),
    ADD CONSTRAINT physicians_error_whole CHECK ((error_at IS NULL) = (error_by IS NULL)
                                                 AND (error_at IS NULL) = (error_reason IS NULL));

-- One attending physician (médecin traitant) in force per person, held by the database: two
-- professionals recording one at the same moment cannot both succeed (the use case's check
-- reads a snapshot that does not see the other's). A merge ends the duplicate's one when the
-- record kept has its own.
CREATE UNIQUE INDEX physicians_one_attending ON physicians (tenant_id, resident_id)
    WHERE role = 'attending' AND until IS NULL AND error_at IS NULL;

GRANT UPDATE (error_at, error_by, error_reason) ON physicians TO dui_app;
