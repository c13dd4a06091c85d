-- Each call to the INSi teleservice about a record: who asked, when, what the service answered
-- and, when it found the person, the INS and the INS traits it gave (sealed). A professional then
-- confirms the identity found (`confirmed_at`): only then do the INS and the traits reach the
-- record, with an identity event that names the call.
CREATE TABLE insi_calls (
    tenant_id     uuid NOT NULL,
    -- The message id sent to the service.
    id            uuid NOT NULL,
    resident_id   uuid NOT NULL,
    kind          text NOT NULL CONSTRAINT insi_calls_kind_valid CHECK (kind IN ('retrieve')),
    outcome       text NOT NULL CONSTRAINT insi_calls_outcome_valid
                       CHECK (outcome IN ('found', 'none_found', 'several', 'failed')),
    -- Sealed: the INS and the traits found.
    answer        bytea,
    dek_version   integer NOT NULL,
    requested_by  uuid,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    confirmed_by  uuid,
    confirmed_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, requested_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, confirmed_by) REFERENCES users (tenant_id, id),
    CONSTRAINT insi_calls_answer_when_found CHECK ((outcome = 'found') = (answer IS NOT NULL)),
    CONSTRAINT insi_calls_confirmed_when_found CHECK (confirmed_at IS NULL OR outcome = 'found')
);
CREATE INDEX insi_calls_by_resident ON insi_calls (tenant_id, resident_id, requested_at);
CREATE INDEX insi_calls_dek_version ON insi_calls (tenant_id, dek_version);
SELECT dui_isolate_tenant_table('insi_calls');
GRANT SELECT, INSERT ON insi_calls TO dui_app;
GRANT UPDATE (resident_id, answer, dek_version, confirmed_by, confirmed_at) ON insi_calls TO dui_app;

-- The identity event that took an INS from the service names the call.
ALTER TABLE identity_events ADD COLUMN insi_call_id uuid,
    ADD FOREIGN KEY (tenant_id, insi_call_id) REFERENCES insi_calls (tenant_id, id);
