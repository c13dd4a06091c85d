-- Transmissions: the kinds of professional notes, their unit, amendments and errors, and the
-- hand-over feed with per-user read markers.

-- The shifts of an establishment, in its local time: the hand-over feed starts, by default, at
-- the start of the previous shift. Most EHPAD work 7:00 / 14:00 / 21:00; overseas
-- establishments have their own time zone.
ALTER TABLE establishments
    ADD COLUMN timezone text NOT NULL DEFAULT 'Europe/Paris'
        CONSTRAINT establishments_timezone_length CHECK (length(timezone) BETWEEN 1 AND 64),
    ADD COLUMN shift_starts time[] NOT NULL DEFAULT '{07:00,14:00,21:00}'
        CONSTRAINT establishments_shift_starts_valid CHECK (cardinality(shift_starts) BETWEEN 1 AND 6);

-- Kinds: transmission ciblée (a target and Données / Actions / Résultats), observation,
-- incident (with its type and severity, in clear for statistics), free note. What the note says
-- stays sealed in `body` (a JSON object; older notes hold a plain string, read as a free note).
ALTER TABLE notes
    ADD COLUMN kind text NOT NULL DEFAULT 'free'
        CONSTRAINT notes_kind_valid CHECK (kind IN ('targeted', 'observation', 'incident', 'free')),
    ADD COLUMN unit_id uuid,
    ADD COLUMN incident_type text
        CONSTRAINT notes_incident_type_valid CHECK (incident_type IN ('fall', 'runaway', 'aggression',
            'medication_error', 'choking', 'pressure_ulcer', 'self_harm', 'property_damage', 'other')),
    ADD COLUMN severity text
        CONSTRAINT notes_severity_valid CHECK (severity IN ('minor', 'moderate', 'major', 'critical')),
    -- The note this one corrects. The original is never changed: both stay readable.
    ADD COLUMN amends uuid,
    -- A note written on the wrong person, or by mistake, is flagged, never deleted. The reason
    -- is sealed (it may name the person it was meant for).
    ADD COLUMN error_at timestamptz,
    ADD COLUMN error_by uuid,
    ADD COLUMN error_reason bytea,
    ADD CONSTRAINT notes_incident_shape CHECK ((kind = 'incident') = (incident_type IS NOT NULL AND severity IS NOT NULL)),
    ADD CONSTRAINT notes_error_shape CHECK ((error_at IS NULL) = (error_by IS NULL) AND (error_at IS NULL) = (error_reason IS NULL)),
    ADD FOREIGN KEY (tenant_id, unit_id) REFERENCES units (tenant_id, id),
    ADD FOREIGN KEY (tenant_id, amends) REFERENCES notes (tenant_id, id),
    ADD FOREIGN KEY (tenant_id, error_by) REFERENCES users (tenant_id, id);

-- The hand-over feed: a unit's or an establishment's notes, newest first by id (UUIDv7, written
-- time), from a point in time: an index range, whatever the years of history behind it.
CREATE INDEX notes_by_unit ON notes (tenant_id, unit_id, id DESC) WHERE unit_id IS NOT NULL;
CREATE INDEX notes_by_establishment ON notes (tenant_id, establishment_id, id DESC);
-- A note's amendments.
CREATE INDEX notes_amendments ON notes (tenant_id, amends) WHERE amends IS NOT NULL;

GRANT UPDATE (error_at, error_by, error_reason) ON notes TO dui_app;

-- Where each user stopped reading a feed (a unit, or a whole establishment): "unread since my
-- last shift".
CREATE TABLE read_markers (
    tenant_id         uuid NOT NULL,
    user_id           uuid NOT NULL,
    -- The feed: the unit's id, or the establishment's for its whole feed.
    feed_id           uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    unit_id           uuid,
    -- The newest note read (a UUIDv7: its time is when it was written).
    read_up_to        uuid NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, feed_id),
    CONSTRAINT read_markers_feed_shape CHECK (feed_id = coalesce(unit_id, establishment_id)),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, unit_id) REFERENCES units (tenant_id, id)
);
ALTER TABLE read_markers ENABLE ROW LEVEL SECURITY;
ALTER TABLE read_markers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON read_markers USING (tenant_id = dui_current_tenant())
    WITH CHECK (tenant_id = dui_current_tenant());
GRANT SELECT, INSERT, UPDATE ON read_markers TO dui_app;
