-- The tenant's settings of care, changed by its administrators. No row means the defaults (the
-- domain's `settings` module holds them; the columns' defaults repeat them for the first change).
CREATE TABLE tenant_settings (
    tenant_id                  uuid NOT NULL REFERENCES tenants (id),
    -- The roles that validate an AGGIR assessment (the GIR): in an EHPAD, the coordinating
    -- physician.
    aggir_validators           text[] NOT NULL DEFAULT '{coordinating_physician}'
        CONSTRAINT tenant_settings_aggir_validators_valid CHECK (
            cardinality(aggir_validators) > 0 AND aggir_validators <@ ARRAY['director', 'coordinating_physician',
                'nurse', 'psychologist', 'social_worker', 'educator']::text[]),
    -- A task not recorded this long after its time is missed rather than late.
    task_missed_after_minutes  integer NOT NULL DEFAULT 240
        CONSTRAINT tenant_settings_task_missed_after_range CHECK (task_missed_after_minutes BETWEEN 61 AND 1440),
    version                    integer NOT NULL DEFAULT 1,
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    updated_by                 uuid,
    PRIMARY KEY (tenant_id),
    FOREIGN KEY (tenant_id, updated_by) REFERENCES users (tenant_id, id)
);
SELECT dui_isolate_tenant_table('tenant_settings');
GRANT SELECT, INSERT ON tenant_settings TO dui_app;
GRANT UPDATE (aggir_validators, task_missed_after_minutes, version, updated_at, updated_by) ON tenant_settings TO dui_app;
