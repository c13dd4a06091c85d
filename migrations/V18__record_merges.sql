-- Each merge, with the rows it moved and those it ended, so that a mistaken merge can be undone:
-- kept by the record that kept the rows (`resident_id`).
CREATE TABLE record_merges (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    resident_id   uuid NOT NULL,
    duplicate_id  uuid NOT NULL,
    -- Per table, the ids of the rows moved and of those the merge ended; and the records merged
    -- into the duplicate before, which now point at the record kept ("earlier"). Ids only.
    moved         jsonb NOT NULL,
    merged_by     uuid,
    merged_at     timestamptz NOT NULL DEFAULT now(),
    undone_by     uuid,
    undone_at     timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, duplicate_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, merged_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, undone_by) REFERENCES users (tenant_id, id)
);
CREATE INDEX record_merges_by_resident ON record_merges (tenant_id, resident_id, duplicate_id, merged_at);
SELECT dui_isolate_tenant_table('record_merges');
GRANT SELECT, INSERT ON record_merges TO dui_app;
GRANT UPDATE (undone_by, undone_at) ON record_merges TO dui_app;

-- Undoing a merge is an identity event of the record kept, like the merge.
ALTER TABLE identity_events DROP CONSTRAINT identity_events_kind_valid,
    DROP CONSTRAINT identity_events_merge_names_the_record;
ALTER TABLE identity_events
    ADD CONSTRAINT identity_events_kind_valid CHECK (kind IN ('status', 'correction', 'merge', 'unmerge')),
    ADD CONSTRAINT identity_events_merge_names_the_record
        CHECK ((kind IN ('merge', 'unmerge')) = (merged_record_id IS NOT NULL));
