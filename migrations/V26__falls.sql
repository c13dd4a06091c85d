-- The falls register. A fall is recorded once; a correction is a new row that amends the first
-- (it replaces what the first says: a fracture confirmed the next day, a wrong time); a fall
-- recorded by mistake is flagged on its first row, with a reason, and no longer counts. What is
-- said about the fall (circumstances, activity, care given, who was told, what 'other' means)
-- is sealed; the time, the place, how the person was found and the consequences stay in clear
-- for the counts (two falls within twelve months: chutes répétées) and the quality lists.
CREATE TABLE falls (
    tenant_id              uuid NOT NULL,
    id                     uuid NOT NULL,
    resident_id            uuid NOT NULL,
    -- Where the person was supported: the establishment of their stay (a correction keeps the
    -- first row's).
    establishment_id       uuid NOT NULL,
    -- The first row of the fall, which this one corrects.
    amends                 uuid,
    occurred_at            timestamptz NOT NULL,
    place                  text NOT NULL CONSTRAINT falls_place_valid
        CHECK (place IN ('room', 'bathroom', 'corridor', 'dining_room', 'outside', 'other')),
    discovery              text NOT NULL CONSTRAINT falls_discovery_valid CHECK (discovery IN ('witnessed', 'found_on_floor')),
    consequences           text[] NOT NULL CONSTRAINT falls_consequences_valid
        CHECK (cardinality(consequences) > 0 AND consequences <@ ARRAY['none', 'bruise', 'wound', 'fracture_suspected',
               'head_injury', 'hospital_transfer', 'death', 'other']::text[]
               AND (NOT 'none' = ANY(consequences) OR cardinality(consequences) = 1)),
    physician_informed_at  timestamptz,
    family_informed_at     timestamptz,
    -- Sealed: place detail, circumstances, activity, consequences' detail, care given, who was told.
    details                bytea NOT NULL,
    dek_version            integer NOT NULL,
    recorded_by            uuid NOT NULL,
    recorded_at            timestamptz NOT NULL DEFAULT now(),
    -- Entered in error (on a first row only): flagged, never deleted; the reason sealed.
    error_at               timestamptz,
    error_by               uuid,
    error_reason           bytea,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, error_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, amends) REFERENCES falls (tenant_id, id),
    CONSTRAINT falls_error_shape CHECK ((error_at IS NULL) = (error_by IS NULL)
                                        AND (error_at IS NULL) = (error_reason IS NULL)),
    CONSTRAINT falls_error_on_first CHECK (amends IS NULL OR error_at IS NULL),
    CONSTRAINT falls_informed_after CHECK ((physician_informed_at IS NULL OR physician_informed_at >= occurred_at)
                                           AND (family_informed_at IS NULL OR family_informed_at >= occurred_at))
);
-- A person's register by time; an establishment's by time (quality lists); a fall's corrections.
CREATE INDEX falls_by_resident ON falls (tenant_id, resident_id, occurred_at);
CREATE INDEX falls_by_establishment ON falls (tenant_id, establishment_id, occurred_at);
CREATE INDEX falls_corrections ON falls (tenant_id, amends) WHERE amends IS NOT NULL;
CREATE INDEX falls_dek_version ON falls (tenant_id, dek_version);

SELECT dui_isolate_tenant_table('falls');

GRANT SELECT, INSERT ON falls TO dui_app;
-- An error flag (resealing the row's details with its reason, under one key version);
-- re-encryption; a merge moves the rows to the record kept.
GRANT UPDATE (error_at, error_by, error_reason, details, dek_version, resident_id) ON falls TO dui_app;
