-- Alerts and allergies: what anyone caring for the person must know first. What is said about
-- the person (the substance as typed and normalised, its code, the reaction; an alert's label
-- and detail; why an entry was made in error) is sealed; kinds, severities, scopes and times
-- stay in clear, for the lists and for ordering the most severe first. Nothing is deleted: an
-- allergy is resolved, an alert ends, a mistake is flagged entered in error with its reason.

-- Allergies and intolerances. The normalised substance is sealed with the rest: a medication
-- check compares one person's few allergies with a prescription, which needs no index across
-- records (a blind index can be added, made from the sealed value, when a use needs one).
CREATE TABLE allergies (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    -- Where it was recorded: the establishment of the person's stay.
    establishment_id  uuid NOT NULL,
    kind              text NOT NULL CONSTRAINT allergies_kind_valid CHECK (kind IN ('allergy', 'intolerance')),
    severity          text NOT NULL
        CONSTRAINT allergies_severity_valid CHECK (severity IN ('mild', 'moderate', 'severe', 'life_threatening')),
    source            text NOT NULL CONSTRAINT allergies_source_valid
        CHECK (source IN ('declared_by_person', 'family', 'medical_record', 'observed')),
    -- Who may read it, as for notes (no social scope: it is care data).
    scope             text NOT NULL DEFAULT 'care_team'
        CONSTRAINT allergies_scope_valid CHECK (scope IN ('whole_team', 'care_team', 'medical')),
    -- Sealed: the substance (as typed, normalised, its code) and the reaction.
    details           bytea NOT NULL,
    dek_version       integer NOT NULL,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at       timestamptz,
    resolved_by       uuid,
    -- Entered in error: flagged, never deleted; the reason sealed.
    error_at          timestamptz,
    error_by          uuid,
    error_reason      bytea,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, resolved_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, error_by) REFERENCES users (tenant_id, id),
    CONSTRAINT allergies_resolution_shape CHECK ((resolved_at IS NULL) = (resolved_by IS NULL)),
    CONSTRAINT allergies_error_shape CHECK ((error_at IS NULL) = (error_by IS NULL)
                                            AND (error_at IS NULL) = (error_reason IS NULL))
);
-- A person's allergies, the ones in force first to be found.
CREATE INDEX allergies_by_resident ON allergies (tenant_id, resident_id, id);
CREATE INDEX allergies_dek_version ON allergies (tenant_id, dek_version);

-- Major alerts, from a closed list. Isolation precautions say which (contact, droplet,
-- airborne), in clear: what every professional entering the room must do.
CREATE TABLE major_alerts (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    kind              text NOT NULL CONSTRAINT major_alerts_kind_valid CHECK (kind IN ('swallowing_disorder', 'fall_risk',
        'wandering_risk', 'anticoagulant_treatment', 'implanted_device', 'isolation_precautions', 'advance_directives',
        'other')),
    precautions       text[] NOT NULL DEFAULT '{}'
        CONSTRAINT major_alerts_precautions_valid CHECK (precautions <@ ARRAY['contact', 'droplet', 'airborne']::text[]
            AND (kind = 'isolation_precautions') = (cardinality(precautions) > 0)),
    scope             text NOT NULL DEFAULT 'care_team'
        CONSTRAINT major_alerts_scope_valid CHECK (scope IN ('whole_team', 'care_team', 'medical')),
    -- Sealed: the label (for 'other') and the detail.
    details           bytea NOT NULL,
    dek_version       integer NOT NULL,
    starts_at         timestamptz NOT NULL,
    -- When it ends (given when recorded, or when someone ends it); in force until then.
    ends_at           timestamptz,
    ended_by          uuid,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    error_at          timestamptz,
    error_by          uuid,
    error_reason      bytea,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, ended_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, error_by) REFERENCES users (tenant_id, id),
    CONSTRAINT major_alerts_period_valid CHECK (ends_at IS NULL OR ends_at > starts_at),
    CONSTRAINT major_alerts_ended_shape CHECK (ended_by IS NULL OR ends_at IS NOT NULL),
    CONSTRAINT major_alerts_error_shape CHECK ((error_at IS NULL) = (error_by IS NULL)
                                               AND (error_at IS NULL) = (error_reason IS NULL))
);
CREATE INDEX major_alerts_by_resident ON major_alerts (tenant_id, resident_id, id);
CREATE INDEX major_alerts_dek_version ON major_alerts (tenant_id, dek_version);

SELECT dui_isolate_tenant_table('allergies');
SELECT dui_isolate_tenant_table('major_alerts');

GRANT SELECT, INSERT ON allergies, major_alerts TO dui_app;
-- A resolution, an end, an error flag; re-encryption reseals (an error flag reseals the row's
-- details with its reason, under one key version); a merge moves the rows to the record kept.
GRANT UPDATE (resolved_at, resolved_by, error_at, error_by, error_reason, details, dek_version, resident_id)
    ON allergies TO dui_app;
GRANT UPDATE (ends_at, ended_by, error_at, error_by, error_reason, details, dek_version, resident_id)
    ON major_alerts TO dui_app;
