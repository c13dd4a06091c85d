-- The resident record (stays, assignments, contacts, consents, identity-status events,
-- emergency access) and the audit trail.

-- The owner runs migrations and is bound by the tenant policies too (FORCE): to move existing
-- rows it lifts FORCE on the tables it rewrites, inside this transaction only.
ALTER TABLE residents NO FORCE ROW LEVEL SECURITY;
ALTER TABLE notes NO FORCE ROW LEVEL SECURITY;

-- ---------------------------------------------------------------------------------------------
-- Residents: optimistic concurrency, and merged duplicates.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE residents ADD COLUMN row_version integer NOT NULL DEFAULT 1;
ALTER TABLE residents ADD COLUMN record_status text NOT NULL DEFAULT 'active'
    CONSTRAINT residents_record_status_valid CHECK (record_status IN ('active', 'merged'));
ALTER TABLE residents ADD COLUMN merged_into uuid;
ALTER TABLE residents ADD CONSTRAINT residents_merged_into_fkey
    FOREIGN KEY (tenant_id, merged_into) REFERENCES residents (tenant_id, id);
ALTER TABLE residents ADD CONSTRAINT residents_merged_has_target
    CHECK ((record_status = 'merged') = (merged_into IS NOT NULL));

-- ---------------------------------------------------------------------------------------------
-- Stays: who is supported where. Access to a record follows them.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE stays (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    unit_id           uuid,
    mode              text NOT NULL CONSTRAINT stays_mode_valid
                          CHECK (mode IN ('permanent', 'temporary', 'day_care', 'at_home')),
    admitted_on       date NOT NULL,
    admission_mode    text NOT NULL CONSTRAINT stays_admission_mode_valid
                          CHECK (admission_mode IN ('new', 'transfer', 'return', 'other')),
    discharged_on     date,
    discharge_mode    text CONSTRAINT stays_discharge_mode_valid
                          CHECK (discharge_mode IN ('home', 'other_establishment', 'hospital', 'death', 'transfer', 'other')),
    -- The stay this one continues, for a transfer between establishments of the tenant.
    transferred_from  uuid,
    row_version       integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, unit_id) REFERENCES units (tenant_id, id),
    FOREIGN KEY (tenant_id, transferred_from) REFERENCES stays (tenant_id, id),
    CONSTRAINT stays_discharge_after_admission CHECK (discharged_on IS NULL OR discharged_on >= admitted_on),
    CONSTRAINT stays_discharge_has_mode CHECK ((discharged_on IS NULL) = (discharge_mode IS NULL))
);
-- A resident's stays, and the access check (which looks for a current or recent stay).
CREATE INDEX stays_by_resident ON stays (tenant_id, resident_id, admitted_on DESC);
-- Residents currently in an establishment or unit.
CREATE INDEX stays_current_by_establishment ON stays (tenant_id, establishment_id, resident_id) WHERE discharged_on IS NULL;
CREATE INDEX stays_by_unit ON stays (tenant_id, unit_id) WHERE unit_id IS NOT NULL;

-- Every existing record becomes a current stay in its admitting establishment.
INSERT INTO stays (tenant_id, id, resident_id, establishment_id, mode, admitted_on, admission_mode)
SELECT tenant_id, gen_random_uuid(), id, establishment_id, 'permanent', created_at::date, 'new' FROM residents;
DROP INDEX residents_by_establishment;
ALTER TABLE residents DROP COLUMN establishment_id;

-- Home-help staff see the people they are assigned to.
CREATE TABLE assignments (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    resident_id  uuid NOT NULL,
    user_id      uuid NOT NULL,
    starts_on    date NOT NULL,
    ends_on      date,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    CONSTRAINT assignments_ends_after_start CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE INDEX assignments_by_resident ON assignments (tenant_id, resident_id, user_id);
CREATE INDEX assignments_by_user ON assignments (tenant_id, user_id);

-- ---------------------------------------------------------------------------------------------
-- Contacts, consents, identity-status events.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE contacts (
    tenant_id           uuid NOT NULL,
    id                  uuid NOT NULL,
    resident_id         uuid NOT NULL,
    kind                text NOT NULL CONSTRAINT contacts_kind_valid
                            CHECK (kind IN ('relative', 'carer', 'trusted_person', 'legal_representative', 'other')),
    -- For a legal representative: the protection measure.
    protection_measure  text CONSTRAINT contacts_protection_measure_valid CHECK (protection_measure IN
                            ('tutelle', 'curatelle', 'curatelle_renforcee', 'sauvegarde_de_justice',
                             'habilitation_familiale', 'mandat_protection_future')),
    -- Sealed: names, relationship, phones, e-mail, address.
    details             bytea NOT NULL,
    emergency_contact   boolean NOT NULL DEFAULT false,
    ended_at            timestamptz,
    row_version         integer NOT NULL DEFAULT 1,
    dek_version         integer NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    CONSTRAINT contacts_measure_for_representatives CHECK (protection_measure IS NULL OR kind = 'legal_representative')
);
CREATE INDEX contacts_by_resident ON contacts (tenant_id, resident_id);
CREATE INDEX contacts_dek_version ON contacts (tenant_id, dek_version);

-- Consents and oppositions. A decision is never edited: a new one supersedes it, or it is revoked.
CREATE TABLE consents (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL,
    resident_id    uuid NOT NULL,
    kind           text NOT NULL CONSTRAINT consents_kind_valid CHECK (kind IN
                       ('dmp_feeding', 'sharing_outside_team', 'mssante_messages_to_person', 'image_rights', 'other')),
    decision       text NOT NULL CONSTRAINT consents_decision_valid CHECK (decision IN ('granted', 'refused')),
    expressed_on   date NOT NULL,
    expressed_by   text NOT NULL CONSTRAINT consents_expressed_by_valid CHECK (expressed_by IN ('person', 'legal_representative')),
    recorded_by    uuid NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    revoked_by     uuid,
    -- Sealed: the label of an 'other' consent, and any comment.
    details        bytea,
    dek_version    integer NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, revoked_by) REFERENCES users (tenant_id, id),
    CONSTRAINT consents_revocation_complete CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX consents_by_resident ON consents (tenant_id, resident_id, kind, recorded_at DESC);
CREATE INDEX consents_dek_version ON consents (tenant_id, dek_version);

-- Every change of identity status, with its evidence. The status on the record is the last one.
CREATE TABLE identity_events (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL,
    resident_id        uuid NOT NULL,
    from_status        text CONSTRAINT identity_events_from_valid CHECK (from_status IN ('PROV', 'RECUP', 'VALI', 'QUAL')),
    to_status          text NOT NULL CONSTRAINT identity_events_to_valid CHECK (to_status IN ('PROV', 'RECUP', 'VALI', 'QUAL')),
    -- The identity document checked, if one was.
    document           text CONSTRAINT identity_events_document_valid CHECK (document IN
                           ('passport', 'national_identity_card', 'residence_permit', 'birth_certificate_extract',
                            'family_record_book')),
    -- Whether the INS was fetched or verified with the INSi service.
    insi_lookup        boolean NOT NULL DEFAULT false,
    -- Sealed: the reason or comment.
    details            bytea,
    recorded_by        uuid,
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    dek_version        integer NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id)
);
CREATE INDEX identity_events_by_resident ON identity_events (tenant_id, resident_id, recorded_at);
CREATE INDEX identity_events_dek_version ON identity_events (tenant_id, dek_version);
-- Existing records: their creation is their first event.
INSERT INTO identity_events (tenant_id, id, resident_id, from_status, to_status, insi_lookup, recorded_at, dek_version)
SELECT tenant_id, gen_random_uuid(), id, NULL, identity_status, identity_status = 'RECUP', created_at, dek_version FROM residents;

-- Break-the-glass: opening a record outside one's scope, with a written reason, for a time.
CREATE TABLE emergency_accesses (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    resident_id     uuid NOT NULL,
    user_id         uuid NOT NULL,
    -- Sealed: the reason given, and the reviewer's comment.
    reason          bytea NOT NULL,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    reviewed_by     uuid,
    reviewed_at     timestamptz,
    review_outcome  text CONSTRAINT emergency_accesses_outcome_valid CHECK (review_outcome IN ('justified', 'unjustified')),
    review_comment  bytea,
    dek_version     integer NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, reviewed_by) REFERENCES users (tenant_id, id),
    CONSTRAINT emergency_accesses_expiry_after_opening CHECK (expires_at > opened_at),
    CONSTRAINT emergency_accesses_review_complete CHECK ((reviewed_at IS NULL) = (review_outcome IS NULL))
);
CREATE INDEX emergency_accesses_active ON emergency_accesses (tenant_id, resident_id, user_id, expires_at);
CREATE INDEX emergency_accesses_to_review ON emergency_accesses (tenant_id, opened_at) WHERE reviewed_at IS NULL;
CREATE INDEX emergency_accesses_dek_version ON emergency_accesses (tenant_id, dek_version);

-- Notes get their confidentiality scope (existing notes were written for the whole team).
ALTER TABLE notes ADD COLUMN scope text NOT NULL DEFAULT 'whole_team'
    CONSTRAINT notes_scope_valid CHECK (scope IN ('whole_team', 'care_team', 'medical', 'social'));

-- Audit keys: HMAC keys chaining each tenant's audit trail, wrapped like the others.
ALTER TABLE tenant_keys DROP CONSTRAINT tenant_keys_purpose_valid;
ALTER TABLE tenant_keys ADD CONSTRAINT tenant_keys_purpose_valid CHECK (purpose IN ('data', 'index', 'audit'));

-- ---------------------------------------------------------------------------------------------
-- The audit trail. Written in the transaction of the access it records; never updated or
-- deleted. A background chainer links each tenant's events, in order, into a hash chain keyed by
-- the tenant's audit key (HMAC-SHA256): an event edited or deleted, or a link forged, breaks the
-- chain, and without the KEK nobody can forge links that verify.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE audit_events (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id        uuid,
    actor_kind      text NOT NULL CONSTRAINT audit_events_actor_kind_valid CHECK (actor_kind IN ('user', 'console', 'system')),
    action          text NOT NULL CONSTRAINT audit_events_action_format CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
    outcome         text NOT NULL CONSTRAINT audit_events_outcome_valid CHECK (outcome IN ('success', 'denied')),
    resident_id     uuid,
    resource_type   text,
    resource_id     uuid,
    request_id      text,
    client_address  inet,
    -- The access went through an emergency (break-the-glass) opening.
    emergency       boolean NOT NULL DEFAULT false,
    -- Sealed, when a reason was given (it may say anything).
    reason          bytea,
    dek_version     integer,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT audit_events_reason_sealed CHECK ((reason IS NULL) = (dek_version IS NULL))
);
-- Who saw a resident's record (GDPR access report).
CREATE INDEX audit_events_by_resident ON audit_events (tenant_id, resident_id, occurred_at) WHERE resident_id IS NOT NULL;
-- The chainer's and the export's order.
CREATE INDEX audit_events_by_time ON audit_events (tenant_id, occurred_at, id);

CREATE TABLE audit_chain (
    tenant_id   uuid NOT NULL,
    seq         bigint NOT NULL CONSTRAINT audit_chain_seq_positive CHECK (seq > 0),
    event_id    uuid NOT NULL,
    -- SHA-256 of the event's canonical encoding.
    event_hash  bytea NOT NULL,
    -- HMAC-SHA256(audit key, previous link ‖ seq ‖ event hash).
    link        bytea NOT NULL,
    chained_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, seq),
    CONSTRAINT audit_chain_event_unique UNIQUE (tenant_id, event_id)
);

-- Platform level: operators' actions, and every refused authentication.
CREATE TABLE platform_events (
    id              uuid PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    operator_id     uuid,
    action          text NOT NULL,
    tenant_id       uuid,
    resource_id     uuid,
    request_id      text,
    client_address  inet
);
CREATE INDEX platform_events_by_time ON platform_events (occurred_at);

CREATE TABLE auth_failures (
    id               uuid PRIMARY KEY,
    occurred_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason           text NOT NULL,
    -- What the token claimed (unverified), truncated.
    claimed_issuer   text,
    claimed_tenant   uuid,
    claimed_subject  text,
    request_id       text,
    client_address   inet
);
CREATE INDEX auth_failures_by_time ON auth_failures (occurred_at);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['stays', 'assignments', 'contacts', 'consents', 'identity_events',
                             'emergency_accesses', 'audit_events', 'audit_chain'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = dui_current_tenant()) '
                       'WITH CHECK (tenant_id = dui_current_tenant())', t);
    END LOOP;
END
$$;

ALTER TABLE residents FORCE ROW LEVEL SECURITY;
ALTER TABLE notes FORCE ROW LEVEL SECURITY;

GRANT SELECT, INSERT, UPDATE ON stays, assignments, contacts, emergency_accesses TO dui_app;
GRANT SELECT, INSERT ON identity_events, consents TO dui_app;
-- Revoking a consent sets its revocation; re-encryption rewrites sealed columns.
GRANT UPDATE (revoked_at, revoked_by, details, dek_version) ON consents TO dui_app;
GRANT UPDATE (details, dek_version) ON identity_events TO dui_app;
-- Merging a duplicate record moves its notes, consents and identity events to the surviving one.
GRANT UPDATE (resident_id) ON notes, consents, identity_events TO dui_app;
-- Append-only: the application role can neither update nor delete the trail.
GRANT SELECT, INSERT ON audit_events, audit_chain, platform_events, auth_failures TO dui_app;
