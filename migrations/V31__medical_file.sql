-- The person's medical file: medical history and active problems, vaccinations, and the
-- physicians who follow the person. History, problems and vaccinations are read only by the
-- health professionals of the team (the medical scope); the physicians by the care team, who
-- call them. What is said about the person (a problem, its CIM-10 code and onset; a vaccine, its
-- batch; who a physician is) is sealed; kinds and dates stay in clear for the lists. Nothing is
-- deleted: a problem is resolved, a physician stops following the person, a mistake is flagged
-- entered in error with its reason.

CREATE TABLE medical_problems (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    -- Where it was recorded: the establishment of the person's stay (whose team reads it).
    establishment_id  uuid NOT NULL,
    kind              text NOT NULL CONSTRAINT medical_problems_kind_valid CHECK (kind IN ('history', 'active_problem')),
    -- Sealed: the text, its CIM-10 code, its onset.
    details           bytea NOT NULL,
    dek_version       integer NOT NULL,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    resolved_on       date,
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
    CONSTRAINT medical_problems_resolution_shape CHECK ((resolved_on IS NULL) = (resolved_by IS NULL)),
    CONSTRAINT medical_problems_error_shape CHECK ((error_at IS NULL) = (error_by IS NULL)
                                                  AND (error_at IS NULL) = (error_reason IS NULL))
);
CREATE INDEX medical_problems_by_resident ON medical_problems (tenant_id, resident_id, id);
CREATE INDEX medical_problems_dek_version ON medical_problems (tenant_id, dek_version);

CREATE TABLE vaccinations (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    given_on          date NOT NULL,
    -- Sealed: the vaccine, its code, the dose, the batch, who gave it.
    details           bytea NOT NULL,
    dek_version       integer NOT NULL,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    error_at          timestamptz,
    error_by          uuid,
    error_reason      bytea,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, error_by) REFERENCES users (tenant_id, id),
    CONSTRAINT vaccinations_error_shape CHECK ((error_at IS NULL) = (error_by IS NULL)
                                              AND (error_at IS NULL) = (error_reason IS NULL))
);
CREATE INDEX vaccinations_by_resident ON vaccinations (tenant_id, resident_id, id);
CREATE INDEX vaccinations_dek_version ON vaccinations (tenant_id, dek_version);

-- The physicians who follow the person. One attending physician (médecin traitant) in force at
-- a time: the use case refuses a second one (a merge may bring two, which the team then ends).
CREATE TABLE physicians (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    role              text NOT NULL CONSTRAINT physicians_role_valid CHECK (role IN ('attending', 'specialist')),
    -- Sealed: name, speciality, RPPS number, phone, e-mail.
    details           bytea NOT NULL,
    dek_version       integer NOT NULL,
    since             date NOT NULL,
    until             date,
    ended_by          uuid,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, ended_by) REFERENCES users (tenant_id, id),
    CONSTRAINT physicians_period_valid CHECK (until IS NULL OR until >= since),
    CONSTRAINT physicians_ended_shape CHECK ((until IS NULL) = (ended_by IS NULL))
);
CREATE INDEX physicians_by_resident ON physicians (tenant_id, resident_id, id);
CREATE INDEX physicians_dek_version ON physicians (tenant_id, dek_version);

SELECT dui_isolate_tenant_table('medical_problems');
SELECT dui_isolate_tenant_table('vaccinations');
SELECT dui_isolate_tenant_table('physicians');

GRANT SELECT, INSERT ON medical_problems, vaccinations, physicians TO dui_app;
-- A resolution, an end, an error flag (resealing the row's details with its reason, under one
-- key version); re-encryption reseals; a merge moves the rows to the record kept.
GRANT UPDATE (resolved_on, resolved_by, error_at, error_by, error_reason, details, dek_version, resident_id)
    ON medical_problems TO dui_app;
GRANT UPDATE (error_at, error_by, error_reason, details, dek_version, resident_id) ON vaccinations TO dui_app;
GRANT UPDATE (until, ended_by, details, dek_version, resident_id) ON physicians TO dui_app;
