-- A merge is an identity event of the record kept: who merged which record into it, when, and
-- why (the reason sealed in `details`, as for the other events).
ALTER TABLE identity_events DROP CONSTRAINT identity_events_kind_valid,
    DROP CONSTRAINT identity_events_correction_keeps_previous;
ALTER TABLE identity_events
    ADD CONSTRAINT identity_events_kind_valid CHECK (kind IN ('status', 'correction', 'merge')),
    ADD CONSTRAINT identity_events_correction_keeps_previous CHECK (kind <> 'correction' OR previous IS NOT NULL),
    -- For a merge: the record merged into this one.
    ADD COLUMN merged_record_id uuid,
    ADD CONSTRAINT identity_events_merge_names_the_record CHECK ((kind = 'merge') = (merged_record_id IS NOT NULL)),
    ADD CONSTRAINT identity_events_merged_record_fkey FOREIGN KEY (tenant_id, merged_record_id)
        REFERENCES residents (tenant_id, id);

-- The identity events a merge moved keep the record they were written about: they stay in the
-- history of the record kept, but the evidence of one person's record never stands for the
-- other's (nor does the duplicate's first event void the record kept's evidence).
ALTER TABLE identity_events
    ADD COLUMN merged_from uuid,
    ADD CONSTRAINT identity_events_merged_from_fkey FOREIGN KEY (tenant_id, merged_from)
        REFERENCES residents (tenant_id, id);
GRANT UPDATE (merged_from) ON identity_events TO dui_app;
