-- The chainer follows transactions instead of clocks. Each event records the id of the
-- transaction that wrote it. Every transaction id below the oldest one running at a pass (the
-- snapshot's xmin) belongs to a finished transaction, so the next pass only has to look at events
-- from that horizon on — a few seconds' worth — instead of every event of a time window wide
-- enough for late commits (30 s at each pass, 10 min every minute: a scan of everything recent).
ALTER TABLE audit_events ADD COLUMN xact xid8;
-- Set apart from ADD COLUMN so that existing events keep NULL (no table rewrite): they are
-- chained by time, as before, until none is left.
ALTER TABLE audit_events ALTER COLUMN xact SET DEFAULT pg_current_xact_id();
CREATE INDEX audit_events_by_xact ON audit_events (tenant_id, xact, id) WHERE xact IS NOT NULL;
-- Events written before this migration, for the last time-window passes over them.
CREATE INDEX audit_events_legacy ON audit_events (tenant_id, occurred_at, id) WHERE xact IS NULL;

-- Where each tenant's chainer stands: the horizon below which every event is chained, and
-- whether the events written before transaction ids were recorded are all chained. Not evidence
-- (the chain is): a lost or edited horizon makes the chainer look at more events, never skip one
-- (it still checks each against the chain), and verification reports any event left out.
CREATE TABLE audit_chain_cursors (
    tenant_id    uuid PRIMARY KEY REFERENCES tenants (id),
    horizon      xid8 NOT NULL DEFAULT '0',
    legacy_done  boolean NOT NULL DEFAULT false,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE audit_chain_cursors ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_chain_cursors FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_chain_cursors USING (tenant_id = dui_current_tenant())
    WITH CHECK (tenant_id = dui_current_tenant());
GRANT SELECT, INSERT, UPDATE ON audit_chain_cursors TO dui_app;
