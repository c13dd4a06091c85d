-- Servers keep each user's principal (the tenant's and the user's status, the user's current
-- memberships) between requests, and must drop it as soon as any of it changes, whoever changes
-- it: another server, a `dui` command, an operator in psql. Every change to the tables it is read
-- from announces, on commit, the tenant concerned on the channel `dui_principals`. PostgreSQL
-- delivers a transaction's notices only if it commits, and once per distinct payload.

CREATE FUNCTION dui_principals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('dui_principals', OLD.tenant_id::text);
    ELSE
        PERFORM pg_notify('dui_principals', NEW.tenant_id::text);
        IF TG_OP = 'UPDATE' AND OLD.tenant_id IS DISTINCT FROM NEW.tenant_id THEN
            PERFORM pg_notify('dui_principals', OLD.tenant_id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION dui_tenant_principals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('dui_principals', OLD.id::text);
    ELSE
        PERFORM pg_notify('dui_principals', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER principals_changed AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION dui_principals_changed();
CREATE TRIGGER principals_changed AFTER INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION dui_principals_changed();
CREATE TRIGGER principals_changed AFTER INSERT OR UPDATE OR DELETE ON user_external_identities
    FOR EACH ROW EXECUTE FUNCTION dui_principals_changed();
CREATE TRIGGER principals_changed AFTER UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION dui_tenant_principals_changed();
