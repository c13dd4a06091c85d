-- Care: needs assessments, the projet personnalisé and its versions, the traceability of
-- scheduled care (plan de soins) and measurements. What is said about the person is sealed;
-- codes, dates and results used for lists and funding (the GIR) stay in clear.

-- A needs assessment with one instrument (AGGIR, MNA, Braden...). Draft until validated, then
-- immutable: a correction is a new assessment that supersedes it.
CREATE TABLE assessments (
    tenant_id           uuid NOT NULL,
    id                  uuid NOT NULL,
    resident_id         uuid NOT NULL,
    establishment_id    uuid NOT NULL,
    instrument          text NOT NULL CONSTRAINT assessments_instrument_format CHECK (instrument ~ '^[a-z0-9-]{2,40}$'),
    instrument_version  text NOT NULL CONSTRAINT assessments_version_length CHECK (length(instrument_version) BETWEEN 1 AND 20),
    scope               text NOT NULL DEFAULT 'care_team'
        CONSTRAINT assessments_scope_valid CHECK (scope IN ('whole_team', 'care_team', 'medical', 'social')),
    assessed_on         date NOT NULL,
    assessor_id         uuid NOT NULL,
    status              text NOT NULL DEFAULT 'draft' CONSTRAINT assessments_status_valid CHECK (status IN ('draft', 'validated')),
    -- Sealed: the answers as given.
    answers             bytea NOT NULL,
    dek_version         integer NOT NULL,
    -- The outcome, in clear: the GIR is what funding and lists need; scores in half points.
    gir                 smallint CONSTRAINT assessments_gir_range CHECK (gir BETWEEN 1 AND 6),
    gir_group           text,
    gir_rank            smallint,
    score_halves        integer,
    band                text,
    supersedes          uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    validated_at        timestamptz,
    validated_by        uuid,
    row_version         integer NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, assessor_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, validated_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, supersedes) REFERENCES assessments (tenant_id, id),
    CONSTRAINT assessments_validation_shape CHECK ((status = 'validated') = (validated_at IS NOT NULL AND validated_by IS NOT NULL))
);
-- A resident's assessments by instrument, newest first; the GIR history.
CREATE INDEX assessments_by_resident ON assessments (tenant_id, resident_id, instrument, assessed_on DESC, id DESC);
CREATE INDEX assessments_corrections ON assessments (tenant_id, supersedes) WHERE supersedes IS NOT NULL;
CREATE INDEX assessments_dek_version ON assessments (tenant_id, dek_version);

-- Validated means immutable. Re-encryption may reseal the answers (a new key version, the same
-- plaintext); nothing else of a validated assessment changes.
CREATE FUNCTION assessments_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'validated' AND (
        NEW.status IS DISTINCT FROM OLD.status OR NEW.assessed_on IS DISTINCT FROM OLD.assessed_on
        OR NEW.gir IS DISTINCT FROM OLD.gir OR NEW.score_halves IS DISTINCT FROM OLD.score_halves
        OR NEW.band IS DISTINCT FROM OLD.band
        OR NEW.scope IS DISTINCT FROM OLD.scope OR NEW.validated_at IS DISTINCT FROM OLD.validated_at
        OR (NEW.answers IS DISTINCT FROM OLD.answers AND NEW.dek_version = OLD.dek_version)) THEN
        RAISE EXCEPTION 'a validated assessment cannot change' USING ERRCODE = 'check_violation',
            CONSTRAINT = 'assessments_validated_immutable';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER assessments_immutable BEFORE UPDATE ON assessments FOR EACH ROW EXECUTE FUNCTION assessments_immutable();

-- The projet personnalisé: one plan per person, a series of versions. A review makes a new
-- version; every version stays; at most one is active, at most one is a draft.
CREATE TABLE care_plan_versions (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    plan_id           uuid NOT NULL,
    resident_id       uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    version           integer NOT NULL CONSTRAINT care_plan_versions_version_positive CHECK (version > 0),
    status            text NOT NULL DEFAULT 'draft'
        CONSTRAINT care_plan_versions_status_valid CHECK (status IN ('draft', 'active', 'superseded', 'closed')),
    -- Sealed: expectations, needs, objectives, actions, the review.
    content           bytea NOT NULL,
    -- Sealed: who validated (name), when, how.
    validation        bytea,
    dek_version       integer NOT NULL,
    review_due_on     date,
    created_by        uuid NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    activated_at      timestamptz,
    activated_by      uuid,
    ended_at          timestamptz,
    row_version       integer NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT care_plan_versions_number_unique UNIQUE (tenant_id, plan_id, version),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, activated_by) REFERENCES users (tenant_id, id),
    CONSTRAINT care_plan_versions_activation_shape CHECK ((status = 'draft') = (activated_at IS NULL))
);
CREATE UNIQUE INDEX care_plan_versions_one_active ON care_plan_versions (tenant_id, resident_id) WHERE status = 'active';
CREATE UNIQUE INDEX care_plan_versions_one_draft ON care_plan_versions (tenant_id, plan_id) WHERE status = 'draft';
CREATE INDEX care_plan_versions_by_resident ON care_plan_versions (tenant_id, resident_id, version DESC);
-- The due-for-review list of an establishment.
CREATE INDEX care_plan_versions_due ON care_plan_versions (tenant_id, establishment_id, review_due_on) WHERE status = 'active';
CREATE INDEX care_plan_versions_dek_version ON care_plan_versions (tenant_id, dek_version);

-- Traceability of scheduled care: what was done, not done (why) or refused, for each
-- occurrence of a scheduled action. Never deleted: a correction is a new record that amends.
CREATE TABLE care_task_records (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    plan_version_id   uuid NOT NULL,
    action_id         uuid NOT NULL,
    -- The occurrence, in UTC (from the schedule's local time in the establishment's zone).
    scheduled_for     timestamptz NOT NULL,
    status            text NOT NULL CONSTRAINT care_task_records_status_valid CHECK (status IN ('done', 'not_done', 'refused')),
    performed_at      timestamptz NOT NULL,
    -- Sealed, for not done or refused: why (it may say anything about the person).
    reason            bytea,
    dek_version       integer,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    amends            uuid,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, plan_version_id) REFERENCES care_plan_versions (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, amends) REFERENCES care_task_records (tenant_id, id),
    CONSTRAINT care_task_records_reason_sealed CHECK ((reason IS NULL) = (dek_version IS NULL)),
    CONSTRAINT care_task_records_reason_needed CHECK (status = 'done' OR reason IS NOT NULL)
);
-- One first record per occurrence (later ones amend it).
CREATE UNIQUE INDEX care_task_records_once ON care_task_records (tenant_id, action_id, scheduled_for) WHERE amends IS NULL;
CREATE INDEX care_task_records_by_day ON care_task_records (tenant_id, establishment_id, scheduled_for);
CREATE INDEX care_task_records_amendments ON care_task_records (tenant_id, amends) WHERE amends IS NOT NULL;
CREATE INDEX care_task_records_by_resident ON care_task_records (tenant_id, resident_id, scheduled_for);
CREATE INDEX care_task_records_dek_version ON care_task_records (tenant_id, dek_version) WHERE dek_version IS NOT NULL;

-- Measurements (constantes): kind, flag and time in clear; the value sealed.
CREATE TABLE measurements (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    kind              text NOT NULL CONSTRAINT measurements_kind_format CHECK (kind ~ '^[a-z0-9_]{2,40}$'),
    measured_at       timestamptz NOT NULL,
    value             bytea NOT NULL,
    dek_version       integer NOT NULL,
    flag              text CONSTRAINT measurements_flag_valid CHECK (flag IN ('normal', 'low', 'high')),
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    -- Entered in error: flagged, never deleted.
    error_at          timestamptz,
    error_by          uuid,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, error_by) REFERENCES users (tenant_id, id),
    CONSTRAINT measurements_error_shape CHECK ((error_at IS NULL) = (error_by IS NULL))
);
-- A resident's series of one kind, for charts.
CREATE INDEX measurements_series ON measurements (tenant_id, resident_id, kind, measured_at);
CREATE INDEX measurements_dek_version ON measurements (tenant_id, dek_version);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['assessments', 'care_plan_versions', 'care_task_records', 'measurements'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = dui_current_tenant()) '
                       'WITH CHECK (tenant_id = dui_current_tenant())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT ON assessments, care_plan_versions, care_task_records, measurements TO dui_app;
-- Drafts change; validation and activation are updates; re-encryption reseals.
GRANT UPDATE (answers, dek_version, gir, gir_group, gir_rank, score_halves, band, assessed_on, scope, status,
              validated_at, validated_by, row_version) ON assessments TO dui_app;
GRANT UPDATE (content, validation, dek_version, review_due_on, status, activated_at, activated_by, ended_at,
              row_version) ON care_plan_versions TO dui_app;
GRANT UPDATE (reason, dek_version) ON care_task_records TO dui_app;
GRANT UPDATE (value, dek_version, error_at, error_by) ON measurements TO dui_app;
-- Merging a duplicate record moves its care data too.
GRANT UPDATE (resident_id) ON assessments, care_plan_versions, care_task_records, measurements TO dui_app;
