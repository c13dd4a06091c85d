-- Medication administration: one row per dose recorded — given, partly given, refused, not given
-- (why) — naming the prescription's version and line it was owed by. A planned dose is named by
-- its day and slot (the moment, or the time of an every-n-hours line) and is recorded once: a
-- partial unique index holds it against two professionals recording the same dose at once. A
-- dose given if needed has no slot. A record entered in error stays, flagged, and the dose is
-- owed again.
--
-- The drug, the quantity taken, the reason and the note are sealed; the outcome, the act and the
-- times stay in clear for the plan and the counts of doses given if needed.

CREATE TABLE administrations (
    tenant_id                uuid NOT NULL,
    id                       uuid NOT NULL,
    resident_id              uuid NOT NULL,
    -- Where it was given: the establishment of the prescription (whose team reads it).
    establishment_id         uuid NOT NULL,
    prescription_version_id  uuid NOT NULL,
    -- The lineage: the doses of a drug given if needed are counted over its versions.
    prescription_id          uuid NOT NULL,
    line                     integer NOT NULL CONSTRAINT administrations_line_positive CHECK (line >= 1),
    due_on                   date,
    slot                     text CONSTRAINT administrations_slot_length CHECK (length(slot) <= 20),
    due_at                   timestamptz,
    outcome                  text NOT NULL CONSTRAINT administrations_outcome_valid
                             CHECK (outcome IN ('given', 'partly_given', 'refused', 'not_given')),
    act                      text NOT NULL CONSTRAINT administrations_act_valid
                             CHECK (act IN ('administration', 'help_with_taking')),
    given_at                 timestamptz NOT NULL,
    confirmed_warnings       boolean NOT NULL,
    -- Sealed: drug, quantity, unit, reason, note.
    details                  bytea NOT NULL,
    dek_version              integer NOT NULL,
    recorded_by              uuid NOT NULL,
    recorded_at              timestamptz NOT NULL DEFAULT now(),
    error_at                 timestamptz,
    error_by                 uuid,
    -- Sealed, under the row's key version.
    error_reason             bytea,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, prescription_version_id) REFERENCES prescriptions (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, error_by) REFERENCES users (tenant_id, id),
    CONSTRAINT administrations_planned_whole CHECK ((due_on IS NULL) = (slot IS NULL) AND (due_on IS NULL) = (due_at IS NULL)),
    CONSTRAINT administrations_error_whole CHECK ((error_at IS NULL) = (error_by IS NULL)
                                                  AND (error_at IS NULL) = (error_reason IS NULL))
);
-- Each planned dose recorded once (a record in error frees it).
CREATE UNIQUE INDEX administrations_once ON administrations (tenant_id, prescription_version_id, line, due_on, slot)
    WHERE due_on IS NOT NULL AND error_at IS NULL;
-- The day's records of an establishment (the plan), and a person's (their history).
CREATE INDEX administrations_by_day ON administrations (tenant_id, establishment_id, given_at);
CREATE INDEX administrations_by_due_day ON administrations (tenant_id, establishment_id, due_on) WHERE due_on IS NOT NULL;
CREATE INDEX administrations_by_resident ON administrations (tenant_id, resident_id, given_at);
-- The doses given if needed of a prescription, counted against its maximum.
CREATE INDEX administrations_as_needed ON administrations (tenant_id, prescription_id, given_at) WHERE due_on IS NULL;
CREATE INDEX administrations_dek_version ON administrations (tenant_id, dek_version);

SELECT dui_isolate_tenant_table('administrations');

GRANT SELECT, INSERT ON administrations TO dui_app;
-- A flag in error (resealing the details with the reason); re-encryption reseals; a merge moves
-- the rows to the record kept.
GRANT UPDATE (error_at, error_by, error_reason, details, dek_version, resident_id) ON administrations TO dui_app;
