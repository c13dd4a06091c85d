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
