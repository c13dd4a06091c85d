-- A data key rotated because its encryption budget is used up is "exhausted": it no longer
-- seals, still opens what it sealed, and nothing needs resealing (the key is not suspected of
-- anything). A key rotated by an operator is "retired": what it sealed is resealed under a newer
-- key by the re-encryption job. An operator rotation retires the exhausted keys too, so the
-- retired versions are always the oldest ones.
ALTER TABLE tenant_keys DROP CONSTRAINT tenant_keys_status_valid;
ALTER TABLE tenant_keys ADD CONSTRAINT tenant_keys_status_valid
    CHECK (status IN ('active', 'exhausted', 'retired', 'destroyed'));
