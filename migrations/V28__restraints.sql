-- Physical restraint (contention): only on a prescription, for a limited time, reassessed at
-- least every 24 hours, stopped with a reason; a renewal is a new prescription that replaces
-- the last. The reason, the conditions, the device's description, why it was stopped and what
-- each reassessment observed are sealed; the kind, the times, the prescriber (a physician is
-- named as in the staff directory) and the outcomes stay in clear for the lists.

CREATE TABLE restraints (
    tenant_id                  uuid NOT NULL,
    id                         uuid NOT NULL,
    resident_id                uuid NOT NULL,
    establishment_id           uuid NOT NULL,
    kind                       text NOT NULL
        CONSTRAINT restraints_kind_valid CHECK (kind IN ('bed_rails', 'chair_belt', 'pelvic_belt', 'wrist', 'other')),
    -- The coordinating physician who prescribed it, or the external physician whose prescription
    -- a nurse recorded.
    prescriber_id              uuid,
    external_prescriber_name   text CONSTRAINT restraints_external_name_length
        CHECK (length(external_prescriber_name) BETWEEN 1 AND 200),
    external_prescriber_rpps   text CONSTRAINT restraints_external_rpps_format CHECK (external_prescriber_rpps ~ '^[0-9]{11}$'),
    prescribed_on              date NOT NULL,
    starts_at                  timestamptz NOT NULL,
    planned_end_at             timestamptz NOT NULL,
    -- Sealed: the reason, the conditions (when, how long each time), the device when `other`.
    details                    bytea NOT NULL,
    dek_version                integer NOT NULL,
    recorded_by                uuid NOT NULL,
    recorded_at                timestamptz NOT NULL DEFAULT now(),
    -- The prescription this one renews or changes (it ended when this one started).
    replaces                   uuid,
    ended_at                   timestamptz,
    ended_by                   uuid,
    end_kind                   text CONSTRAINT restraints_end_kind_valid CHECK (end_kind IN ('stopped', 'reassessment', 'replaced')),
    -- Sealed: why it was stopped (`stopped`).
    end_reason                 bytea,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, prescriber_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, ended_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, replaces) REFERENCES restraints (tenant_id, id),
    CONSTRAINT restraints_prescriber_shape CHECK (
        (prescriber_id IS NULL) = (external_prescriber_name IS NOT NULL)
        AND (external_prescriber_name IS NULL) = (external_prescriber_rpps IS NULL)),
    -- Time-limited: at most 7 days from its start (the domain's MAX_PRESCRIPTION_DAYS).
    CONSTRAINT restraints_time_limited CHECK (planned_end_at > starts_at AND planned_end_at <= starts_at + interval '7 days'),
    CONSTRAINT restraints_end_shape CHECK (
        (ended_at IS NULL) = (ended_by IS NULL) AND (ended_at IS NULL) = (end_kind IS NULL)),
    CONSTRAINT restraints_stop_reasoned CHECK (end_kind IS DISTINCT FROM 'stopped' OR end_reason IS NOT NULL)
);
-- A prescription is replaced once.
CREATE UNIQUE INDEX restraints_replaced_once ON restraints (tenant_id, replaces) WHERE replaces IS NOT NULL;
CREATE INDEX restraints_by_resident ON restraints (tenant_id, resident_id, starts_at);
-- The establishment's restraints not ended (few at any time): the overdue list, the day's
-- reassessments...
CREATE INDEX restraints_not_ended ON restraints (tenant_id, establishment_id, starts_at) WHERE ended_at IS NULL;
-- ...and those ended, by their end (a past day's reassessments).
CREATE INDEX restraints_by_end ON restraints (tenant_id, establishment_id, ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX restraints_dek_version ON restraints (tenant_id, dek_version);

-- A reassessment: the outcome in clear (continue, stop, change), what was observed sealed (the
-- skin, agitation, the person's consent or refusal, a comment). Never changed.
CREATE TABLE restraint_reassessments (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    restraint_id      uuid NOT NULL,
    resident_id       uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    assessed_at       timestamptz NOT NULL,
    outcome           text NOT NULL CONSTRAINT restraint_reassessments_outcome_valid CHECK (outcome IN ('continue', 'stop', 'change')),
    observations      bytea NOT NULL,
    dek_version       integer NOT NULL,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, restraint_id) REFERENCES restraints (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id)
);
-- A restraint's reassessments in time order: the next one due, the day's tasks.
CREATE INDEX restraint_reassessments_by_restraint ON restraint_reassessments (tenant_id, restraint_id, assessed_at);
CREATE INDEX restraint_reassessments_by_resident ON restraint_reassessments (tenant_id, resident_id, assessed_at);
CREATE INDEX restraint_reassessments_dek_version ON restraint_reassessments (tenant_id, dek_version);

SELECT dui_isolate_tenant_table('restraints');
SELECT dui_isolate_tenant_table('restraint_reassessments');

GRANT SELECT, INSERT ON restraints, restraint_reassessments TO dui_app;
-- Ending is recorded on the row; re-encryption reseals; a merge moves the rows to the record
-- kept.
GRANT UPDATE (ended_at, ended_by, end_kind, end_reason, details, dek_version, resident_id) ON restraints TO dui_app;
GRANT UPDATE (observations, dek_version, resident_id) ON restraint_reassessments TO dui_app;
