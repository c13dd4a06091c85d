-- Prescriptions: the medication circuit's first piece. A prescription (transcribed from a paper
-- one, received, or given verbally and confirmed) is a lineage of versions, never edited: a
-- change is a new version that supersedes the one it replaces, a stop ends the version in force.
-- The administration rounds to come name a version and a line number of it.
--
-- What is prescribed (the prescriber, each line's drug as the referential described it then, its
-- dose, route and schedule) and the safety flags computed at the version (an allergy matched, a
-- substance prescribed twice) are sealed; the status, dates and whether anything was flagged stay
-- in clear for the lists. Nothing refers to the drug referential: it is national data that
-- changes, and a version keeps what the drug was when it was prescribed.

CREATE TABLE prescriptions (
    tenant_id         uuid NOT NULL,
    -- The version's id (what an administration will name).
    id                uuid NOT NULL,
    -- The lineage: the same for every version of one prescription.
    prescription_id   uuid NOT NULL,
    resident_id       uuid NOT NULL,
    -- Where it was recorded: the establishment of the person's stay (whose team reads it).
    establishment_id  uuid NOT NULL,
    version           integer NOT NULL CONSTRAINT prescriptions_version_positive CHECK (version >= 1),
    -- The version it replaces (none for version 1).
    replaces          uuid,
    status            text NOT NULL
                      CONSTRAINT prescriptions_status_valid CHECK (status IN ('active', 'superseded', 'stopped')),
    prescribed_on     date NOT NULL,
    valid_until       date,
    -- Whether a safety flag was raised at this version (the flags themselves are sealed).
    flagged           boolean NOT NULL,
    -- Sealed: prescriber, source, lines (drug, dose, route, schedule...), safety flags.
    content           bytea NOT NULL,
    dek_version       integer NOT NULL,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    -- Superseded or stopped: when and by whom.
    ended_at          timestamptz,
    ended_by          uuid,
    -- Stopped: on which day, and why (sealed).
    stopped_on        date,
    stop_reason       bytea,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, ended_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, replaces) REFERENCES prescriptions (tenant_id, id),
    CONSTRAINT prescriptions_one_version_number UNIQUE (tenant_id, prescription_id, version),
    CONSTRAINT prescriptions_validity CHECK (valid_until IS NULL OR valid_until >= prescribed_on),
    CONSTRAINT prescriptions_first_replaces_nothing CHECK ((version = 1) = (replaces IS NULL)),
    CONSTRAINT prescriptions_ended_shape CHECK ((status = 'active') = (ended_at IS NULL)
                                                AND (ended_at IS NULL) = (ended_by IS NULL)),
    CONSTRAINT prescriptions_stop_shape CHECK ((status = 'stopped') = (stopped_on IS NOT NULL)
                                               AND (stopped_on IS NULL) = (stop_reason IS NULL))
);
-- One version in force per prescription: two changes made at once from the same version cannot
-- both supersede it.
CREATE UNIQUE INDEX prescriptions_one_active ON prescriptions (tenant_id, prescription_id) WHERE status = 'active';
-- A person's prescriptions, and those in force (the safety checks of a new version read them).
CREATE INDEX prescriptions_by_resident ON prescriptions (tenant_id, resident_id, status, id);
CREATE INDEX prescriptions_dek_version ON prescriptions (tenant_id, dek_version);

SELECT dui_isolate_tenant_table('prescriptions');

GRANT SELECT, INSERT ON prescriptions TO dui_app;
-- A supersession or a stop (resealing the content with the reason, under one key version);
-- re-encryption reseals; a merge moves the rows to the record kept.
GRANT UPDATE (status, ended_at, ended_by, stopped_on, stop_reason, content, dek_version, resident_id)
    ON prescriptions TO dui_app;
