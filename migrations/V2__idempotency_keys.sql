-- Idempotency keys: a client that retries a create with the same Idempotency-Key header gets
-- the resource created the first time instead of a second one.
--
-- The key row is written in the same transaction as the resource it designates, so a key is
-- either absent (the create did not happen: the retry performs it) or points at the resource
-- (the create happened: the retry returns it). Concurrent retries serialise on the primary key.
CREATE TABLE idempotency_keys (
    tenant_id    uuid NOT NULL,
    -- Keys are per user: two users may well pick the same key.
    user_id      uuid NOT NULL,
    key          text NOT NULL CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 200),
    -- SHA-256 of the method, path and body: the same key with another request is refused.
    fingerprint  bytea NOT NULL CONSTRAINT idempotency_keys_fingerprint_length CHECK (length(fingerprint) = 32),
    resource_id  uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, key),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
-- The hourly clean-up of keys older than 24 hours, tenant by tenant.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (tenant_id, created_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
    USING (tenant_id = dui_current_tenant()) WITH CHECK (tenant_id = dui_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO dui_app;
