-- Wounds and pressure ulcers: a wound as found, its assessments over time and its care protocol
-- (the dressing plan), whose dressings are tasks of the daily care plan.
--
-- Codes, dates and the stage of a pressure ulcer stay in clear: the establishment's list of open
-- pressure ulcers and its quality indicator (those acquired in the establishment apart from
-- those present on admission) are read from them. What is said of a wound — the site in words,
-- the description, each assessment's findings (sizes, wound bed, exudate, pain, signs of
-- infection, observations), the protocol — is sealed. Nothing is deleted: a wound is closed
-- with an outcome (one recorded by mistake is closed as entered in error), a protocol is ended
-- by the next version.

CREATE TABLE wounds (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    -- Where it was recorded: the establishment of the person's stay (the indicator's).
    establishment_id  uuid NOT NULL,
    kind              text NOT NULL CONSTRAINT wounds_kind_valid
        CHECK (kind IN ('pressure_ulcer', 'skin_tear', 'surgical', 'leg_ulcer', 'burn', 'other')),
    site              text NOT NULL CONSTRAINT wounds_site_valid
        CHECK (site IN ('sacrum', 'heel_left', 'heel_right', 'hip_left', 'hip_right', 'ischium', 'elbow',
                        'occiput', 'malleolus', 'leg', 'foot', 'other')),
    origin            text NOT NULL CONSTRAINT wounds_origin_valid CHECK (origin IN ('acquired', 'present_on_admission')),
    opened_on         date NOT NULL,
    -- The NPUAP/EPUAP stage when found; pressure ulcers only, and always for them.
    stage             text CONSTRAINT wounds_stage_valid
        CHECK (stage IN ('stage_1', 'stage_2', 'stage_3', 'stage_4', 'unstageable', 'deep_tissue_injury')),
    -- Sealed: the site in words, the description.
    details           bytea NOT NULL,
    dek_version       integer NOT NULL,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    closed_on         date,
    outcome           text CONSTRAINT wounds_outcome_valid
        CHECK (outcome IN ('healed', 'discharged', 'deceased', 'entered_in_error')),
    closed_by         uuid,
    closed_at         timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, closed_by) REFERENCES users (tenant_id, id),
    CONSTRAINT wounds_stage_of_pressure_ulcers CHECK ((kind = 'pressure_ulcer') = (stage IS NOT NULL)),
    CONSTRAINT wounds_closure_shape CHECK (
        (closed_at IS NULL) = (closed_on IS NULL) AND (closed_at IS NULL) = (outcome IS NULL)
        AND (closed_at IS NULL) = (closed_by IS NULL)),
    CONSTRAINT wounds_closed_after_opened CHECK (closed_on >= opened_on)
);
-- A person's wounds.
CREATE INDEX wounds_by_resident ON wounds (tenant_id, resident_id, opened_on);
-- An establishment's open pressure ulcers (the indicator, read daily).
CREATE INDEX wounds_open_pressure_ulcers ON wounds (tenant_id, establishment_id)
    WHERE kind = 'pressure_ulcer' AND closed_at IS NULL;
CREATE INDEX wounds_dek_version ON wounds (tenant_id, dek_version);

-- An assessment of a wound. The stage (pressure ulcers) is in clear: the latest one is the
-- wound's stage in lists. The resident is repeated from the wound so that the person's export
-- and a merge reach the rows directly.
CREATE TABLE wound_assessments (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    wound_id          uuid NOT NULL,
    resident_id       uuid NOT NULL,
    assessed_on       date NOT NULL,
    stage             text CONSTRAINT wound_assessments_stage_valid
        CHECK (stage IN ('stage_1', 'stage_2', 'stage_3', 'stage_4', 'unstageable', 'deep_tissue_injury')),
    -- Sealed: sizes, wound bed, exudate, pain, signs of infection, observations.
    findings          bytea NOT NULL,
    dek_version       integer NOT NULL,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, wound_id) REFERENCES wounds (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id)
);
-- A wound's assessments in time order; the latest stage.
CREATE INDEX wound_assessments_by_wound ON wound_assessments (tenant_id, wound_id, assessed_on, recorded_at);
CREATE INDEX wound_assessments_by_resident ON wound_assessments (tenant_id, resident_id);
CREATE INDEX wound_assessments_dek_version ON wound_assessments (tenant_id, dek_version);

-- A version of a wound's care protocol: products, frequency, instructions and the schedule that
-- makes its dressings tasks of the day, sealed together (as a plan's actions are). In force from
-- `recorded_at` until `ended_at` (the next version, or the wound's closure): at most one at a
-- time per wound.
CREATE TABLE wound_protocols (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    wound_id          uuid NOT NULL,
    resident_id       uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    content           bytea NOT NULL,
    dek_version       integer NOT NULL,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    ended_at          timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, wound_id) REFERENCES wounds (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    CONSTRAINT wound_protocols_ended_after_start CHECK (ended_at >= recorded_at)
);
CREATE UNIQUE INDEX wound_protocols_one_in_force ON wound_protocols (tenant_id, wound_id) WHERE ended_at IS NULL;
-- The protocols in force in an establishment on a day: the day's dressings.
CREATE INDEX wound_protocols_by_establishment ON wound_protocols (tenant_id, establishment_id, recorded_at);
CREATE INDEX wound_protocols_by_resident ON wound_protocols (tenant_id, resident_id);
CREATE INDEX wound_protocols_dek_version ON wound_protocols (tenant_id, dek_version);

SELECT dui_isolate_tenant_table('wounds');
SELECT dui_isolate_tenant_table('wound_assessments');
SELECT dui_isolate_tenant_table('wound_protocols');

GRANT SELECT, INSERT ON wounds, wound_assessments, wound_protocols TO dui_app;
-- Closing a wound; re-encryption reseals; a merge moves the rows to the record kept.
GRANT UPDATE (closed_on, outcome, closed_by, closed_at, details, dek_version, resident_id) ON wounds TO dui_app;
GRANT UPDATE (findings, dek_version, resident_id) ON wound_assessments TO dui_app;
-- A new version (or the closure) ends the protocol in force.
GRANT UPDATE (ended_at, content, dek_version, resident_id) ON wound_protocols TO dui_app;

-- A dressing is recorded as the plan's tasks are: done, not done (why) or refused, per
-- occurrence, amended, never deleted. The record names the protocol version instead of a plan
-- version; `action_id` is then the wound (stable across the protocol's versions, as an action
-- across the plan's).
ALTER TABLE care_task_records
    ALTER COLUMN plan_version_id DROP NOT NULL,
    ADD COLUMN wound_protocol_id uuid,
    ADD CONSTRAINT care_task_records_wound_protocol_fkey FOREIGN KEY (tenant_id, wound_protocol_id)
        REFERENCES wound_protocols (tenant_id, id),
    ADD CONSTRAINT care_task_records_one_source CHECK ((plan_version_id IS NULL) <> (wound_protocol_id IS NULL));
CREATE INDEX care_task_records_by_protocol ON care_task_records (tenant_id, wound_protocol_id)
    WHERE wound_protocol_id IS NOT NULL;
