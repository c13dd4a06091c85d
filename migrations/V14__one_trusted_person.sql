-- A person designates one personne de confiance at a time (CASF L. 311-5-1, CSP L. 1111-6): a new
-- designation ends the former one first. Ended designations stay in the record's history.
CREATE UNIQUE INDEX contacts_one_trusted_person ON contacts (tenant_id, resident_id)
    WHERE kind = 'trusted_person' AND ended_at IS NULL;
