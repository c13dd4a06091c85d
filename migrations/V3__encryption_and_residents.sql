-- Encryption at rest: the tenants' wrapped keys; and the first records holding sealed fields,
-- residents (identity, INS) and professional notes.
--
-- Sealed columns (bytea) hold values in dui's sealed-field format (dui-crypto): AES-256-GCM
-- under the tenant's data key of the version named in the value, bound to tenant, table,
-- column and row. A database dump or a backup shows none of them in clear. `dek_version` on each
-- row with sealed columns is the data-key version all of them were sealed with; the
-- re-encryption job looks rows up by it after a rotation.

-- A shredded tenant's keys are destroyed: its sealed data can no longer be read by anyone.
ALTER TABLE tenants DROP CONSTRAINT tenants_status_valid;
ALTER TABLE tenants ADD CONSTRAINT tenants_status_valid CHECK (status IN ('active', 'suspended', 'shredded'));

-- Each tenant's keys, wrapped by a key-encryption key (KEK) of the server's configuration. The
-- KEKs themselves never reach the database.
CREATE TABLE tenant_keys (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    purpose       text NOT NULL CONSTRAINT tenant_keys_purpose_valid CHECK (purpose IN ('data', 'index')),
    version       integer NOT NULL CONSTRAINT tenant_keys_version_positive CHECK (version > 0),
    kek_version   integer NOT NULL CONSTRAINT tenant_keys_kek_version_positive CHECK (kek_version > 0),
    -- NULL once destroyed (crypto-shredding).
    wrapped       bytea,
    status        text NOT NULL CONSTRAINT tenant_keys_status_valid CHECK (status IN ('active', 'retired', 'destroyed')),
    -- Encryptions reserved with this data key. Servers reserve blocks before sealing, so the
    -- count never lags behind the truth; the key is rotated well before the 2^32 bound of random
    -- 96-bit nonces (NIST SP 800-38D, 8.3).
    encryptions   bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    retired_at    timestamptz,
    destroyed_at  timestamptz,
    PRIMARY KEY (tenant_id, purpose, version),
    CONSTRAINT tenant_keys_destroyed_have_no_key CHECK ((status = 'destroyed') = (wrapped IS NULL))
);
CREATE UNIQUE INDEX tenant_keys_one_active ON tenant_keys (tenant_id, purpose) WHERE status = 'active';

-- The people supported. Identity traits and the INS are sealed; blind indexes (HMAC under the
-- tenant's index key) allow exact-match search and duplicate detection without plaintext.
CREATE TABLE residents (
    tenant_id             uuid NOT NULL,
    id                    uuid NOT NULL,
    establishment_id      uuid NOT NULL,
    identity_status       text NOT NULL CONSTRAINT residents_identity_status_valid
                              CHECK (identity_status IN ('PROV', 'RECUP', 'VALI', 'QUAL')),
    identity              bytea NOT NULL,
    ins                   bytea,
    ins_index             bytea CONSTRAINT residents_ins_index_length CHECK (length(ins_index) = 32),
    birth_identity_index  bytea NOT NULL CONSTRAINT residents_birth_identity_index_length CHECK (length(birth_identity_index) = 32),
    dek_version           integer NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    CONSTRAINT residents_ins_with_index CHECK ((ins IS NULL) = (ins_index IS NULL))
);
-- One record per INS in a tenant.
CREATE UNIQUE INDEX residents_ins_unique ON residents (tenant_id, ins_index) WHERE ins_index IS NOT NULL;
-- Duplicate detection and search by birth name and birth date.
CREATE INDEX residents_birth_identity ON residents (tenant_id, birth_identity_index);
-- Lists by establishment.
CREATE INDEX residents_by_establishment ON residents (tenant_id, establishment_id, id);
-- Rows still sealed with an old data key, after a rotation.
CREATE INDEX residents_dek_version ON residents (tenant_id, dek_version);

-- Professional notes. Never updated nor deleted: corrections will be amendments. Only the
-- re-encryption job rewrites the sealed body (same plaintext, new key).
CREATE TABLE notes (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    author_id         uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    written_at        timestamptz NOT NULL DEFAULT now(),
    facts_at          timestamptz NOT NULL,
    body              bytea NOT NULL,
    dek_version       integer NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id)
);
-- A resident's notes, newest first.
CREATE INDEX notes_by_resident ON notes (tenant_id, resident_id, written_at DESC, id DESC);
CREATE INDEX notes_dek_version ON notes (tenant_id, dek_version);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenant_keys', 'residents', 'notes'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = dui_current_tenant()) '
                       'WITH CHECK (tenant_id = dui_current_tenant())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE ON tenant_keys, residents TO dui_app;
GRANT SELECT, INSERT ON notes TO dui_app;
GRANT UPDATE (body, dek_version) ON notes TO dui_app;
