-- The drug referential: the specialities authorised in France, their presentations and their
-- compositions, imported from the national public drug database (BDPM) by `dui drugs import`.
-- It is national public data, the same for every tenant of the installation and saying nothing
-- of anyone: platform-level tables, without tenant_id or row-level security. The application
-- role only reads them; the import writes them as the owner role, in one transaction.

-- Each import that changed the referential: its files (name, size, SHA-256, modification time)
-- and the hash of their contents together, which tells a re-import of the same files.
CREATE TABLE drug_imports (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    imported_at    timestamptz NOT NULL DEFAULT now(),
    content_sha256 text NOT NULL CONSTRAINT drug_imports_hash_valid CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    files          jsonb NOT NULL,
    specialities   integer NOT NULL,
    presentations  integer NOT NULL,
    compositions   integer NOT NULL,
    substances     integer NOT NULL,
    rejected       integer NOT NULL
);

CREATE TABLE drug_specialities (
    cis                    text PRIMARY KEY CONSTRAINT drug_specialities_cis_valid CHECK (cis ~ '^[0-9]{8}$'),
    denomination           text NOT NULL,
    -- The denomination as allergies' substances are normalised (lower case, no accents,
    -- punctuation as single spaces), and its words: the search matches a prefix of the first
    -- (a btree with text_pattern_ops) or whole words of the second (a GIN index).
    search_name            text NOT NULL,
    search_words           text[] NOT NULL,
    form                   text NOT NULL,
    routes                 text[] NOT NULL,
    authorisation_status   text NOT NULL,
    procedure              text NOT NULL,
    marketed               boolean NOT NULL,
    authorised_on          date,
    bdm_status             text,
    eu_number              text,
    holders                text[] NOT NULL,
    enhanced_surveillance  boolean NOT NULL,
    -- No longer listed by the latest import: kept (a prescription may name it), shown last.
    withdrawn              boolean NOT NULL DEFAULT false,
    -- The rank of the search's order (listed before withdrawn, marketed first, then by name and
    -- CIS), set by each import: the search's pages continue after a rank.
    sort_key               bigint NOT NULL DEFAULT 0,
    -- The latest import that listed it.
    import_id              bigint NOT NULL REFERENCES drug_imports (id)
);

CREATE INDEX drug_specialities_by_name ON drug_specialities (search_name text_pattern_ops);
CREATE INDEX drug_specialities_by_word ON drug_specialities USING gin (search_words);
CREATE INDEX drug_specialities_by_rank ON drug_specialities (sort_key);

-- A speciality's presentations (boxes): replaced by each import that lists the speciality.
CREATE TABLE drug_presentations (
    cip13                  text PRIMARY KEY CONSTRAINT drug_presentations_cip13_valid CHECK (cip13 ~ '^[0-9]{13}$'),
    cis                    text NOT NULL REFERENCES drug_specialities (cis),
    cip7                   text NOT NULL CONSTRAINT drug_presentations_cip7_valid CHECK (cip7 ~ '^[0-9]{7}$'),
    label                  text NOT NULL,
    status                 text NOT NULL,
    marketed               boolean NOT NULL,
    declared_on            date,
    collectivity_approval  boolean,
    reimbursement_rate     text,
    price                  text
);

CREATE INDEX drug_presentations_by_cis ON drug_presentations (cis);
CREATE INDEX drug_presentations_by_cip7 ON drug_presentations (cip7);

-- A speciality's composition, line by line as published (SA and FT both kept): replaced by
-- each import that lists the speciality.
CREATE TABLE drug_compositions (
    cis               text NOT NULL REFERENCES drug_specialities (cis),
    line              integer NOT NULL,
    element           text NOT NULL,
    substance_code    text NOT NULL,
    substance         text NOT NULL,
    dosage            text,
    dosage_reference  text,
    nature            text NOT NULL CONSTRAINT drug_compositions_nature_valid CHECK (nature IN ('SA', 'FT')),
    link              integer,
    PRIMARY KEY (cis, line)
);

CREATE INDEX drug_compositions_by_substance ON drug_compositions (substance_code);

-- The substances the compositions name, by code, with the normalised name an allergy's
-- substance is compared with.
CREATE TABLE drug_substances (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    normalised  text NOT NULL
);

CREATE INDEX drug_substances_by_name ON drug_substances (normalised);

GRANT SELECT ON drug_imports, drug_specialities, drug_presentations, drug_compositions, drug_substances TO dui_app;
