-- Identity events also record the corrections of traits or INS, at any status, with the values
-- they replaced (sealed, like the reason): a status change is `status`, a correction
-- `correction` (its to_status is the status after it, lowered to PROV when a retrieved identity's
-- strict traits were corrected by hand).
ALTER TABLE identity_events
    ADD COLUMN kind text NOT NULL DEFAULT 'status'
        CONSTRAINT identity_events_kind_valid CHECK (kind IN ('status', 'correction')),
    -- Sealed: the traits and INS before a correction.
    ADD COLUMN previous bytea,
    ADD CONSTRAINT identity_events_correction_keeps_previous CHECK (kind = 'status' OR previous IS NOT NULL);

-- Re-encryption rewrites the replaced values too.
GRANT UPDATE (previous) ON identity_events TO dui_app;
