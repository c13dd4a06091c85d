-- Nutrition and hydration: a person's diet and the textures of their foods and drinks (a new
-- version at each change), and the food and fluid watch (surveillance alimentaire et hydrique)
-- with what the person ate and drank at each meal.
--
-- Diets and textures are codes in clear: kitchens and meal services list them by unit. Who
-- decided by name, the other diet in words and comments are sealed. A watch's reason is sealed;
-- its dates and thresholds are in clear. What was eaten and drunk is sealed, like the values of
-- measurements; the day and the meal stay in clear. Nothing is deleted: a diet is followed by
-- the next version, a watch is ended, a meal recorded again corrects the earlier record.

CREATE TABLE diet_prescriptions (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    diets             text[] NOT NULL CONSTRAINT diet_prescriptions_diets_valid
        CHECK (cardinality(diets) BETWEEN 1 AND 6
               AND diets <@ ARRAY['normal', 'diabetic', 'low_salt', 'enriched', 'gluten_free', 'other']::text[]),
    food_texture      text NOT NULL CONSTRAINT diet_prescriptions_food_texture_valid
        CHECK (food_texture IN ('normal', 'hache', 'mouline', 'mixe', 'lisse', 'iddsi_7', 'iddsi_7_easy_to_chew',
                                'iddsi_6', 'iddsi_5', 'iddsi_4', 'iddsi_3')),
    drink_texture     text NOT NULL CONSTRAINT diet_prescriptions_drink_texture_valid
        CHECK (drink_texture IN ('iddsi_0', 'iddsi_1', 'iddsi_2', 'iddsi_3', 'iddsi_4', 'gelled')),
    starts_on         date NOT NULL,
    decided_by        text NOT NULL CONSTRAINT diet_prescriptions_decided_by_valid
        CHECK (decided_by IN ('attending_physician', 'coordinating_physician', 'dietitian', 'speech_therapist',
                              'nurse', 'team')),
    -- Sealed: the other diet in words, who decided by name, comments.
    details           bytea NOT NULL,
    dek_version       integer NOT NULL,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id)
);
-- A person's versions, the latest first (ids are time-ordered). No number per person: a merge
-- brings two series together, and the order of recording numbers them.
CREATE INDEX diet_prescriptions_by_resident ON diet_prescriptions (tenant_id, resident_id, id);
CREATE INDEX diet_prescriptions_dek_version ON diet_prescriptions (tenant_id, dek_version);

-- A food and fluid watch. One in progress at a time is the use case's rule, not an index: two
-- records merged may each bring one.
CREATE TABLE nutrition_watches (
    tenant_id              uuid NOT NULL,
    id                     uuid NOT NULL,
    resident_id            uuid NOT NULL,
    establishment_id       uuid NOT NULL,
    covers                 text NOT NULL CONSTRAINT nutrition_watches_covers_valid CHECK (covers IN ('food', 'fluids', 'both')),
    -- Sealed: why the person is watched.
    reason                 bytea NOT NULL,
    dek_version            integer NOT NULL,
    started_on             date NOT NULL,
    planned_end_on         date,
    -- The alerts' thresholds (see dui_domain::nutrition).
    hydration_threshold_ml smallint NOT NULL CONSTRAINT nutrition_watches_threshold_range
        CHECK (hydration_threshold_ml BETWEEN 500 AND 3000),
    food_alert_days        smallint NOT NULL CONSTRAINT nutrition_watches_food_days_range CHECK (food_alert_days BETWEEN 2 AND 7),
    started_by             uuid NOT NULL,
    started_at             timestamptz NOT NULL DEFAULT now(),
    ended_on               date,
    ended_by               uuid,
    ended_at               timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, started_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, ended_by) REFERENCES users (tenant_id, id),
    CONSTRAINT nutrition_watches_planned_after_start CHECK (planned_end_on >= started_on),
    CONSTRAINT nutrition_watches_ended_after_start CHECK (ended_on >= started_on),
    CONSTRAINT nutrition_watches_end_shape CHECK ((ended_on IS NULL) = (ended_at IS NULL) AND (ended_at IS NULL) = (ended_by IS NULL))
);
CREATE INDEX nutrition_watches_by_resident ON nutrition_watches (tenant_id, resident_id, started_on);
CREATE INDEX nutrition_watches_dek_version ON nutrition_watches (tenant_id, dek_version);

-- What the person ate and drank at one meal of a watched day. A meal recorded again is a
-- correction: the latest record counts, the earlier ones stay.
CREATE TABLE nutrition_intakes (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    watch_id          uuid NOT NULL,
    day               date NOT NULL,
    meal              text NOT NULL CONSTRAINT nutrition_intakes_meal_valid
        CHECK (meal IN ('breakfast', 'lunch', 'snack', 'dinner', 'night')),
    -- Sealed: how much was eaten, mL drunk, a comment.
    figures           bytea NOT NULL,
    dek_version       integer NOT NULL,
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, watch_id) REFERENCES nutrition_watches (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id)
);
-- A person's days, for the totals and the chart.
CREATE INDEX nutrition_intakes_by_resident ON nutrition_intakes (tenant_id, resident_id, day);
CREATE INDEX nutrition_intakes_by_watch ON nutrition_intakes (tenant_id, watch_id, day);
CREATE INDEX nutrition_intakes_dek_version ON nutrition_intakes (tenant_id, dek_version);

SELECT dui_isolate_tenant_table('diet_prescriptions');
SELECT dui_isolate_tenant_table('nutrition_watches');
SELECT dui_isolate_tenant_table('nutrition_intakes');

GRANT SELECT, INSERT ON diet_prescriptions, nutrition_watches, nutrition_intakes TO dui_app;
-- Re-encryption reseals; a merge moves the rows to the record kept; a watch is ended.
GRANT UPDATE (details, dek_version, resident_id) ON diet_prescriptions TO dui_app;
GRANT UPDATE (reason, dek_version, resident_id, ended_on, ended_by, ended_at) ON nutrition_watches TO dui_app;
GRANT UPDATE (figures, dek_version, resident_id) ON nutrition_intakes TO dui_app;
