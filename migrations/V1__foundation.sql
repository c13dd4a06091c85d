-- Foundation: platform tables (tenants, operators, identity providers) and the tenant's
-- structure and people (establishments, units, users, memberships).
--
-- Conventions every later migration follows (a test checks them against the live schema):
-- * A tenant-owned table has `tenant_id` first in its primary key and in every foreign key to
--   another tenant-owned table, so no row can point at another tenant's row and the schema can be
--   distributed by tenant_id.
-- * Row-level security is ENABLEd and FORCEd on every tenant-owned table with the policy
--   `tenant_isolation`, which compares tenant_id to the transaction-local setting app.tenant_id.
--   When the setting is absent or empty no row is visible and no row can be written.
-- * The application role `dui_app` gets only the privileges it needs; it owns nothing, so it
--   cannot disable row-level security. Nothing is hard-deleted in normal operation, so it has no
--   DELETE privilege except where a row is a mere link.

-- The tenant of the current transaction, or NULL. A plain SQL function so the planner inlines it
-- and uses it as an index condition.
CREATE FUNCTION dui_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

-- ---------------------------------------------------------------------------------------------
-- Platform level. No row-level security: these rows describe tenants, not their residents, and
-- platform operators administer them.
-- ---------------------------------------------------------------------------------------------

-- One organisme gestionnaire (OG) per tenant.
CREATE TABLE tenants (
    id                uuid PRIMARY KEY,
    name              text NOT NULL CONSTRAINT tenants_name_length CHECK (length(name) BETWEEN 1 AND 200),
    finess_juridique  text NOT NULL CONSTRAINT tenants_finess_juridique_format
                          CHECK (finess_juridique ~ '^([0-9]{2}|2[AB])[0-9]{7}$'),
    status            text NOT NULL DEFAULT 'active' CONSTRAINT tenants_status_valid
                          CHECK (status IN ('active', 'suspended')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- A legal body is one tenant: a second tenant for the same FINESS juridique is a mistake.
    CONSTRAINT tenants_finess_juridique_unique UNIQUE (finess_juridique)
);

-- People who run the platform. They manage tenants; they are never members of one.
CREATE TABLE platform_operators (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CONSTRAINT platform_operators_name_length CHECK (length(name) BETWEEN 1 AND 200),
    status      text NOT NULL DEFAULT 'active' CONSTRAINT platform_operators_status_valid
                    CHECK (status IN ('active', 'disabled')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT platform_operators_name_unique UNIQUE (name)
);

-- External OpenID Connect issuers (Pro Santé Connect, an OG's own IdP). A token names its issuer
-- and audience before anything is verified, so this look-up happens before the tenant is known:
-- the pair (issuer, audience) designates exactly one tenant.
CREATE TABLE identity_providers (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    label          text NOT NULL CONSTRAINT identity_providers_label_length CHECK (length(label) BETWEEN 1 AND 200),
    issuer         text NOT NULL CONSTRAINT identity_providers_issuer_format CHECK (issuer ~ '^https?://'),
    audience       text NOT NULL CONSTRAINT identity_providers_audience_length CHECK (length(audience) BETWEEN 1 AND 500),
    jwks_url       text NOT NULL CONSTRAINT identity_providers_jwks_url_format CHECK (jwks_url ~ '^https?://'),
    subject_claim  text NOT NULL DEFAULT 'sub' CONSTRAINT identity_providers_subject_claim_format
                       CHECK (subject_claim ~ '^[A-Za-z0-9_.:-]{1,100}$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT identity_providers_issuer_audience_unique UNIQUE (issuer, audience),
    -- Lets tenant-owned rows reference a provider together with their tenant.
    CONSTRAINT identity_providers_tenant_id_id_unique UNIQUE (tenant_id, id)
);

-- ---------------------------------------------------------------------------------------------
-- Tenant level.
-- ---------------------------------------------------------------------------------------------

-- Establishments and services, one FINESS géographique each.
CREATE TABLE establishments (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    finess      text NOT NULL CONSTRAINT establishments_finess_format CHECK (finess ~ '^([0-9]{2}|2[AB])[0-9]{7}$'),
    name        text NOT NULL CONSTRAINT establishments_name_length CHECK (length(name) BETWEEN 1 AND 200),
    category    text NOT NULL CONSTRAINT establishments_category_valid CHECK (category IN
                    ('ehpad', 'ssiad', 'saad', 'spasad', 'ime', 'sessad', 'mas', 'fam', 'esat', 'chrs', 'csapa', 'other')),
    status      text NOT NULL DEFAULT 'open' CONSTRAINT establishments_status_valid CHECK (status IN ('open', 'closed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT establishments_finess_unique UNIQUE (tenant_id, finess)
);

-- Units of an establishment: wings, floors, home-help rounds.
CREATE TABLE units (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    establishment_id  uuid NOT NULL,
    name              text NOT NULL CONSTRAINT units_name_length CHECK (length(name) BETWEEN 1 AND 120),
    status            text NOT NULL DEFAULT 'open' CONSTRAINT units_status_valid CHECK (status IN ('open', 'closed')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    CONSTRAINT units_name_unique UNIQUE (tenant_id, establishment_id, name)
);

-- Professionals and service accounts. Their names are not resident data and stay in clear.
CREATE TABLE users (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    kind         text NOT NULL DEFAULT 'person' CONSTRAINT users_kind_valid CHECK (kind IN ('person', 'service')),
    family_name  text NOT NULL CONSTRAINT users_family_name_length CHECK (length(family_name) BETWEEN 1 AND 100),
    given_name   text NOT NULL CONSTRAINT users_given_name_length CHECK (length(given_name) <= 100),
    profession   text,
    rpps         text CONSTRAINT users_rpps_format CHECK (rpps ~ '^[0-9]{11}$'),
    adeli        text CONSTRAINT users_adeli_format CHECK (adeli ~ '^([0-9]{2}|2[AB])[0-9]{7}$'),
    email        text,
    status       text NOT NULL DEFAULT 'active' CONSTRAINT users_status_valid CHECK (status IN ('active', 'disabled')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
-- A professional exists once per tenant.
CREATE UNIQUE INDEX users_rpps_unique ON users (tenant_id, rpps) WHERE rpps IS NOT NULL;
CREATE UNIQUE INDEX users_adeli_unique ON users (tenant_id, adeli) WHERE adeli IS NOT NULL;

-- A user's role in one establishment, or tenant-wide when establishment_id is NULL. Ending a
-- membership sets ended_at; the row stays, as later audits need to know who could see what when.
CREATE TABLE memberships (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    user_id           uuid NOT NULL,
    establishment_id  uuid,
    role              text NOT NULL CONSTRAINT memberships_role_valid CHECK (role IN
                          ('tenant_admin', 'director', 'coordinating_physician', 'nurse', 'care_assistant',
                           'psychologist', 'social_worker', 'educator', 'home_helper', 'administrative_staff')),
    started_at        timestamptz NOT NULL DEFAULT now(),
    ended_at          timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    CONSTRAINT memberships_tenant_admin_is_tenant_wide CHECK (role <> 'tenant_admin' OR establishment_id IS NULL),
    CONSTRAINT memberships_ended_after_start CHECK (ended_at IS NULL OR ended_at >= started_at)
);
-- One current membership per user, place and role.
CREATE UNIQUE INDEX memberships_current_unique
    ON memberships (tenant_id, user_id, coalesce(establishment_id, '00000000-0000-0000-0000-000000000000'), role)
    WHERE ended_at IS NULL;
-- Loading a user's grants on every request.
CREATE INDEX memberships_by_user ON memberships (tenant_id, user_id) WHERE ended_at IS NULL;

-- Which external identity (issuer subject) is which user.
CREATE TABLE user_external_identities (
    tenant_id    uuid NOT NULL,
    provider_id  uuid NOT NULL,
    subject      text NOT NULL CONSTRAINT user_external_identities_subject_length CHECK (length(subject) BETWEEN 1 AND 255),
    user_id      uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, provider_id, subject),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES identity_providers (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    CONSTRAINT user_external_identities_one_per_provider UNIQUE (tenant_id, provider_id, user_id)
);

-- ---------------------------------------------------------------------------------------------
-- Row-level security on every tenant-owned table.
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['establishments', 'units', 'users', 'memberships', 'user_external_identities'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = dui_current_tenant()) '
                       'WITH CHECK (tenant_id = dui_current_tenant())', t);
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Privileges of the application role.
-- ---------------------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO dui_app;
GRANT EXECUTE ON FUNCTION dui_current_tenant() TO dui_app;
GRANT SELECT, INSERT, UPDATE ON tenants, platform_operators, identity_providers TO dui_app;
GRANT DELETE ON identity_providers TO dui_app;
GRANT SELECT, INSERT, UPDATE ON establishments, units, users, memberships TO dui_app;
GRANT SELECT, INSERT, DELETE ON user_external_identities TO dui_app;
