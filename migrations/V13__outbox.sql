-- The outbox: everything that leaves the system (documents to the national shared record,
-- secure messages) is first a row here, written in the transaction of the change that caused
-- it, then sent by a worker. A message is sent at least once and, through its idempotency key
-- that the recipient sees on every attempt, taken into account once.
--
-- States: pending (waiting for its next attempt) -> sending (leased by a worker until
-- lease_until) -> sent | pending again (a retryable failure, after a backoff) | failed (a
-- permanent failure, or its attempts used up). A person may retry a failed message (pending
-- again) or cancel one that is not being sent.

CREATE TABLE outbox_messages (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    -- The person it is about, when it is about one; the establishment it leaves from.
    resident_id       uuid,
    establishment_id  uuid,
    -- Where it goes (a transport: 'dmp', 'mssante', ...) and what it is ('dmp.document', ...).
    channel           text NOT NULL CONSTRAINT outbox_messages_channel_format CHECK (channel ~ '^[a-z][a-z0-9_]{1,30}$'),
    kind              text NOT NULL CONSTRAINT outbox_messages_kind_format CHECK (kind ~ '^[a-z][a-z0-9_.]{1,60}$'),
    -- Stable across attempts: the recipient recognises a message it already took.
    idempotency_key   text NOT NULL CONSTRAINT outbox_messages_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    content_type      text NOT NULL CONSTRAINT outbox_messages_content_type_length CHECK (length(content_type) BETWEEN 1 AND 200),
    -- Sealed: what is sent is clinical data.
    payload           bytea NOT NULL,
    dek_version       integer NOT NULL,
    status            text NOT NULL DEFAULT 'pending'
                          CONSTRAINT outbox_messages_status_valid CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts          integer NOT NULL DEFAULT 0,
    -- Attempts allowed before the message fails, counted from `budget_from` (a manual retry
    -- gives a new budget).
    max_attempts      integer NOT NULL CONSTRAINT outbox_messages_max_attempts_positive CHECK (max_attempts > 0),
    budget_from       integer NOT NULL DEFAULT 0,
    -- Pending: when it may be tried; sending: when the lease ends (and another worker may take it).
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    lease_owner       uuid,
    last_error        text,
    -- What the recipient answered (its id of the document or message).
    receipt           text,
    created_by        uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz,
    cancelled_by      uuid,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, cancelled_by) REFERENCES users (tenant_id, id),
    CONSTRAINT outbox_messages_key_unique UNIQUE (tenant_id, channel, idempotency_key),
    CONSTRAINT outbox_messages_lease_shape CHECK ((status = 'sending') = (lease_owner IS NOT NULL)),
    CONSTRAINT outbox_messages_sent_shape CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX outbox_messages_due ON outbox_messages (tenant_id, channel, next_attempt_at)
    WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_messages_by_resident ON outbox_messages (tenant_id, resident_id, id) WHERE resident_id IS NOT NULL;
CREATE INDEX outbox_messages_by_status ON outbox_messages (tenant_id, status, id);
CREATE INDEX outbox_messages_dek_version ON outbox_messages (tenant_id, dek_version);

-- Every attempt, as it went: started by which worker, ended how. An attempt without an end was
-- abandoned (its worker stopped); the next one says so.
CREATE TABLE outbox_attempts (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    message_id   uuid NOT NULL,
    attempt      integer NOT NULL CONSTRAINT outbox_attempts_attempt_positive CHECK (attempt > 0),
    worker       uuid NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at  timestamptz,
    outcome      text CONSTRAINT outbox_attempts_outcome_valid
                     CHECK (outcome IN ('sent', 'retryable', 'permanent', 'abandoned')),
    error        text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES outbox_messages (tenant_id, id),
    CONSTRAINT outbox_attempts_once UNIQUE (tenant_id, message_id, attempt),
    CONSTRAINT outbox_attempts_end_shape CHECK ((finished_at IS NULL) = (outcome IS NULL))
);

-- What every tenant table gets, written once for the migrations from here on: row-level
-- security enabled and forced (the owner too), and the tenant_isolation policy.
CREATE FUNCTION dui_isolate_tenant_table(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (tenant_id = dui_current_tenant()) '
                   'WITH CHECK (tenant_id = dui_current_tenant())', t);
END
$$;
REVOKE ALL ON FUNCTION dui_isolate_tenant_table(regclass) FROM PUBLIC;

SELECT dui_isolate_tenant_table('outbox_messages');
SELECT dui_isolate_tenant_table('outbox_attempts');

GRANT SELECT, INSERT ON outbox_messages, outbox_attempts TO dui_app;
GRANT UPDATE (status, attempts, max_attempts, budget_from, next_attempt_at, lease_owner, last_error, receipt,
              updated_at, sent_at, cancelled_by, payload, dek_version, resident_id) ON outbox_messages TO dui_app;
GRANT UPDATE (finished_at, outcome, error) ON outbox_attempts TO dui_app;

-- The doorbell: which tenant has messages of which channel due, and from when. Workers look here
-- first, outside any tenant, then lease inside the tenant (under its row-level security). It
-- holds no personal data. Kept by a trigger whoever writes messages; `rung` counts the rings so
-- that a worker moves a bell later only if nobody rang it since it looked.
CREATE TABLE outbox_due (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    channel    text NOT NULL,
    due_at     timestamptz NOT NULL,
    rung       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, channel)
);
CREATE INDEX outbox_due_by_time ON outbox_due (due_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_due TO dui_app;

CREATE FUNCTION dui_outbox_ring() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN ('pending', 'sending') THEN
        INSERT INTO outbox_due (tenant_id, channel, due_at, rung) VALUES (NEW.tenant_id, NEW.channel, NEW.next_attempt_at, 1)
        ON CONFLICT (tenant_id, channel)
        DO UPDATE SET due_at = least(outbox_due.due_at, EXCLUDED.due_at), rung = outbox_due.rung + 1;
        IF NEW.status = 'pending' THEN
            PERFORM pg_notify('dui_outbox', NEW.channel);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_ring AFTER INSERT OR UPDATE OF status, next_attempt_at ON outbox_messages
    FOR EACH ROW EXECUTE FUNCTION dui_outbox_ring();
