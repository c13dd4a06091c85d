-- What the hand-over tells besides the notes: the events of the day that the team must know at
-- the change of shift (a task refused or not done, an abnormal measurement, an admission, a
-- discharge; falls, alerts, absences as their features come). Each is written in the
-- transaction of the change it reports, links to its source (`source_type`, `source_id`) and is
-- read under the same confidentiality scopes as notes. A derived log: never changed.
CREATE TABLE handover_events (
    tenant_id         uuid NOT NULL,
    -- UUIDv7: in time order, as note ids, so one read marker serves both.
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    unit_id           uuid,
    kind              text NOT NULL CONSTRAINT handover_events_kind_shape CHECK (kind ~ '^[a-z_]{1,40}$'),
    source_type       text NOT NULL CONSTRAINT handover_events_source_type_shape CHECK (source_type ~ '^[a-z_]{1,40}$'),
    source_id         uuid NOT NULL,
    scope             text NOT NULL
        CONSTRAINT handover_events_scope_valid CHECK (scope IN ('whole_team', 'care_team', 'medical', 'social')),
    -- Sealed: what the hand-over says of it ("Toilette refusée : ...", "T° 38,6 °C").
    summary           bytea NOT NULL,
    dek_version       integer NOT NULL,
    occurred_at       timestamptz NOT NULL,
    recorded_by       uuid,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, unit_id) REFERENCES units (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id)
);
CREATE INDEX handover_events_by_unit ON handover_events (tenant_id, unit_id, id) WHERE unit_id IS NOT NULL;
CREATE INDEX handover_events_by_establishment ON handover_events (tenant_id, establishment_id, id);
CREATE INDEX handover_events_by_resident ON handover_events (tenant_id, resident_id, id);
CREATE INDEX handover_events_dek_version ON handover_events (tenant_id, dek_version);
SELECT dui_isolate_tenant_table('handover_events');
GRANT SELECT, INSERT ON handover_events TO dui_app;
-- A merge moves the duplicate's events to the record kept; re-encryption reseals.
GRANT UPDATE (resident_id, summary, dek_version) ON handover_events TO dui_app;
