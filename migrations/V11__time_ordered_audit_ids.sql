-- Audit events were identified by random (version 4) UUIDs. Every audited request inserted one
-- into the primary key (tenant_id, id) at a random place, and the chainer did the same in
-- audit_chain's (tenant_id, event_id): after each checkpoint, nearly every such insert was the
-- first change of its index page and wrote the whole 8 kB page to the WAL. Measured under load,
-- about 1.2 kB of WAL per event chained and 5 kB per request, and a chainer pass every two
-- seconds whose megabytes of WAL held every other commit back behind its flush.
--
-- Time-ordered (version 7, RFC 9562) identifiers put new events at the right end of both
-- indexes, like the other tables' ids, which the application makes with version 7 already.
-- PostgreSQL 15 has no generator for them: this one takes a random UUID, writes the Unix time in
-- milliseconds over its first 48 bits, and turns its version from 4 into 7 (the version nibble,
-- bits 48-51 counted from the most significant, 0100 -> 0111). The variant bits stay as they are.
CREATE FUNCTION dui_uuid_v7() RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
    AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
    $$;
GRANT EXECUTE ON FUNCTION dui_uuid_v7() TO dui_app;
