-- Documents attached to a person's record: directives anticipées, the designation of the
-- personne de confiance, the contrat de séjour, identity document scans, hospital letters,
-- prescriptions, wound photos. PDF, JPEG or PNG, the type decided from the content. The title
-- and the content are sealed with the tenant's keys; the kind, dates, type, size and hash stay
-- in clear for the lists and for integrity checks. Nothing is deleted: a document added by
-- mistake is flagged entered in error with its reason.

CREATE TABLE documents (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    resident_id       uuid NOT NULL,
    -- Where it was added: the establishment of the person's stay (whose team reads it).
    establishment_id  uuid NOT NULL,
    kind              text NOT NULL CONSTRAINT documents_kind_valid CHECK (kind IN (
                          'advance_directives', 'trusted_person_designation', 'residence_contract',
                          'identity_document', 'hospital_letter', 'prescription', 'wound_photo', 'other')),
    -- Sealed: the title.
    details           bytea NOT NULL,
    dek_version       integer NOT NULL,
    document_date     date,
    -- Decided from the content's first bytes, never from a name or a declared type.
    content_type      text NOT NULL CONSTRAINT documents_content_type_valid
                          CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    size_bytes        bigint NOT NULL CONSTRAINT documents_size_positive CHECK (size_bytes > 0),
    -- SHA-256 of the content (the plaintext), in hexadecimal: a download can be checked, and the
    -- same file sent twice recognised.
    sha256            text NOT NULL CONSTRAINT documents_sha256_shape CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- How many rows of document_chunks hold the content: the last one was sealed as the last, so
    -- a content cut short, or extended, does not open.
    chunk_count       integer NOT NULL CONSTRAINT documents_chunk_count_positive CHECK (chunk_count > 0),
    recorded_by       uuid NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    -- Entered in error: flagged, never deleted; the reason sealed.
    error_at          timestamptz,
    error_by          uuid,
    error_reason      bytea,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, resident_id) REFERENCES residents (tenant_id, id),
    FOREIGN KEY (tenant_id, establishment_id) REFERENCES establishments (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, error_by) REFERENCES users (tenant_id, id),
    CONSTRAINT documents_error_shape CHECK ((error_at IS NULL) = (error_by IS NULL)
                                           AND (error_at IS NULL) = (error_reason IS NULL))
);
-- A person's documents, newest first (ids are time-ordered).
CREATE INDEX documents_by_resident ON documents (tenant_id, resident_id, id);
CREATE INDEX documents_dek_version ON documents (tenant_id, dek_version);

-- A document's content, in chunks of a fixed size each sealed on its own, so that neither an
-- upload nor a download holds the whole file in memory. A chunk's id is its place (derived from
-- the document, its index and whether it is the last), which its seal is bound to: chunks
-- cannot be reordered, moved to another document, dropped or added without failing to open.
-- The chunks are written as an upload arrives, before the document's row that counts them (in
-- the same transaction): the reference to the document is checked at commit.
CREATE TABLE document_chunks (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    document_id  uuid NOT NULL,
    chunk_index  integer NOT NULL CONSTRAINT document_chunks_index_valid CHECK (chunk_index >= 0),
    -- Sealed: the bytes of the chunk.
    content      bytea NOT NULL,
    dek_version  integer NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT document_chunks_one_per_index UNIQUE (tenant_id, document_id, chunk_index),
    FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX document_chunks_dek_version ON document_chunks (tenant_id, dek_version);
-- Sealed bytes do not compress: stored out of line without trying.
ALTER TABLE document_chunks ALTER COLUMN content SET STORAGE EXTERNAL;

SELECT dui_isolate_tenant_table('documents');
SELECT dui_isolate_tenant_table('document_chunks');

GRANT SELECT, INSERT ON documents, document_chunks TO dui_app;
-- An error flag (resealing the title with the reason, under one key version); re-encryption
-- reseals; a merge moves a document to the record kept (its chunks follow the document).
GRANT UPDATE (error_at, error_by, error_reason, details, dek_version, resident_id) ON documents TO dui_app;
GRANT UPDATE (content, dek_version) ON document_chunks TO dui_app;
