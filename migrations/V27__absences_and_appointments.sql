-- Absences and appointments: when a person is away from their establishment (a
-- hospitalisation, a stay with family, a consultation outside) and the appointments that may
-- take them out. Where they are and why is sealed; kinds, times and transports stay in clear for
-- the day's lists. Nothing is deleted: a return is recorded on the absence, a cancellation too.

CREATE TABLE absences (
    tenant_id            uuid NOT NULL,
    id                   uuid NOT NULL,
    resident_id          uuid NOT NULL,
    -- The establishment of the person's stay when it was recorded: whose lists show it, and
    -- whose care team reads it.
    establishment_id     uuid NOT NULL,
    kind                 text NOT NULL
        CONSTRAINT absences_kind_valid CHECK (kind IN ('hospitalisation', 'family_stay', 'consultation', 'other')),
    starts_at            timestamptz NOT NULL,
    -- Unknown when null (an emergency hospitalisation).
    expected_return_at   timestamptz,
    returned_at          timestamptz,
    transport            text NOT NULL
        CONSTRAINT absences_transport_valid CHECK (transport IN ('ambulance', 'vsl', 'taxi', 'family', 'none')),
    -- Sealed: where (a hospital and its service, an address) and why.
    details              bytea NOT NULL,
    dek_version          integer NOT NULL,
    recorded_by          uuid NOT NULL,
    recorded_at          timestamptz NOT NULL DEFAULT now(),
    return_recorded_by   uuid,
    return_recorded_at   timestamptz,
    cancelled_at         timestamptz,
    cancelled_by         uuid,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, return_recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, cancelled_by) REFERENCES users (tenant_id, id),
    CONSTRAINT absences_expected_after_start CHECK (expected_return_at IS NULL OR expected_return_at > starts_at),
    CONSTRAINT absences_return_after_start CHECK (returned_at IS NULL OR returned_at >= starts_at),
    CONSTRAINT absences_return_shape CHECK (
        (returned_at IS NULL) = (return_recorded_by IS NULL) AND (returned_at IS NULL) = (return_recorded_at IS NULL)),
    CONSTRAINT absences_cancel_shape CHECK ((cancelled_at IS NULL) = (cancelled_by IS NULL)),
    -- An absence that took place is not cancelled afterwards, nor one cancelled ended.
    CONSTRAINT absences_ended_or_cancelled CHECK (returned_at IS NULL OR cancelled_at IS NULL)
);
-- A person's absences in time order; and whether they are away at an instant (the check of a
-- task record, the day's tasks).
CREATE INDEX absences_by_resident ON absences (tenant_id, resident_id, starts_at);
-- Who is away in an establishment: the absences without a return (few at any time)...
CREATE INDEX absences_open ON absences (tenant_id, establishment_id, starts_at)
    WHERE returned_at IS NULL AND cancelled_at IS NULL;
-- ...and those ended, by their return (a day's list reads the returns of that day on).
CREATE INDEX absences_by_return ON absences (tenant_id, establishment_id, returned_at) WHERE returned_at IS NOT NULL;
CREATE INDEX absences_dek_version ON absences (tenant_id, dek_version);

-- An appointment: a consultation, an examination, a visit. One outside the establishment makes
-- the matching absence (`absence_id`), in the same operation, so that the person's care is
-- suspended while they are out.
CREATE TABLE appointments (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL,
    resident_id        uuid NOT NULL,
    establishment_id   uuid NOT NULL,
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz,
    outside            boolean NOT NULL,
    transport          text NOT NULL
        CONSTRAINT appointments_transport_valid CHECK (transport IN ('ambulance', 'vsl', 'taxi', 'family', 'none')),
    -- Sealed: with whom (a professional, a service), where, who goes with the person, notes.
    details            bytea NOT NULL,
    dek_version        integer NOT NULL,
    status             text NOT NULL DEFAULT 'planned'
        CONSTRAINT appointments_status_valid CHECK (status IN ('planned', 'done', 'cancelled')),
    absence_id         uuid,
    recorded_by        uuid NOT NULL,
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    status_changed_at  timestamptz,
    status_changed_by  uuid,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, absence_id) REFERENCES absences (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, status_changed_by) REFERENCES users (tenant_id, id),
    CONSTRAINT appointments_ends_after_start CHECK (ends_at IS NULL OR ends_at > starts_at),
    CONSTRAINT appointments_status_shape CHECK (
        (status = 'planned') = (status_changed_at IS NULL) AND (status_changed_at IS NULL) = (status_changed_by IS NULL)),
    CONSTRAINT appointments_absence_outside CHECK (absence_id IS NULL OR outside)
);
-- One appointment per absence it made.
CREATE UNIQUE INDEX appointments_one_absence ON appointments (tenant_id, absence_id) WHERE absence_id IS NOT NULL;
CREATE INDEX appointments_by_resident ON appointments (tenant_id, resident_id, starts_at);
-- The day's appointments of an establishment.
CREATE INDEX appointments_by_day ON appointments (tenant_id, establishment_id, starts_at);
CREATE INDEX appointments_dek_version ON appointments (tenant_id, dek_version);

SELECT dui_isolate_tenant_table('absences');
SELECT dui_isolate_tenant_table('appointments');

GRANT SELECT, INSERT ON absences, appointments TO dui_app;
-- A return and a cancellation are recorded on the row; re-encryption reseals; a merge moves
-- the rows to the record kept.
GRANT UPDATE (returned_at, return_recorded_by, return_recorded_at, cancelled_at, cancelled_by, details, dek_version,
              resident_id) ON absences TO dui_app;
GRANT UPDATE (status, status_changed_at, status_changed_by, details, dek_version, resident_id) ON appointments TO dui_app;
