//! The transaction of an operation: one connection, one tenant, as few round trips as the work
//! allows.
//!
//! A [`Tx`] takes no connection and sends nothing until its first statement; that statement
//! goes out in one pipeline with `BEGIN` and the tenant setting that row-level security reads
//! (tokio-postgres sends requests made concurrently on one connection without waiting, and
//! PostgreSQL runs them in order). [`Tx::finish`] sends the last statement with the `COMMIT`.
//! An operation of one statement therefore costs one round trip, and one of three costs three.
//!
//! Statements are [`Sql`] with named parameters; the names every resident statement shares
//! (the tenant, the user, what they reach, the request's identity: see [`crate::who::Who`])
//! are bound by the transaction from its caller's scope, the others by the call.
//!
//! Dropped while open (an error returned early, a request cancelled), a transaction is rolled
//! back on its connection before the connection goes back to the pool.

use std::sync::Arc;

use deadpool_postgres::Object;
use dui_crypto::Keyring;
use dui_domain::TenantId;
use dui_domain::scope::TenantScope;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::sql::{Args, Sql, Value};
use crate::who::Who;
use crate::{Db, StoreError, StoreResult};

pub(crate) const SET_TENANT: &str = "SELECT set_config('app.tenant_id', $1, true)";

/// How a transaction reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reads and writes (every read of resident data writes its trace).
    Write,
    /// Reads only.
    Read,
    /// Reads and writes, every statement seeing one snapshot (REPEATABLE READ).
    Snapshot,
    /// Reads only, on one snapshot, however long the reading takes.
    ReadSnapshot,
}

impl Mode {
    fn begin(self) -> &'static str {
        match self {
            Mode::Write => "BEGIN",
            Mode::Read => "BEGIN READ ONLY",
            Mode::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            Mode::ReadSnapshot => "BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ",
        }
    }
}

/// A transaction bound to one tenant, on behalf of a user's scope or of the system; or, for the
/// platform's own tables, bound to none (row-level security then shows no tenant's row).
pub struct Tx<'a> {
    db: &'a Db,
    tenant: TenantId,
    /// `None` for a platform transaction: `:tenant` is not bound.
    tenant_uuid: Option<uuid::Uuid>,
    tenant_text: String,
    scope: Option<&'a TenantScope>,
    who: Option<Who>,
    mode: Mode,
    conn: Option<Object>,
    /// `BEGIN` was sent and neither `COMMIT` nor `ROLLBACK` yet.
    open: bool,
}

impl Tx<'_> {
    /// After a commit: a person's writing transaction (reads write their trace) tells the
    /// chainer that the tenant's trail has new events.
    fn committed(&self) {
        if self.scope.is_some() && matches!(self.mode, Mode::Write | Mode::Snapshot) {
            self.db.note_audited(self.tenant);
        }
    }
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("tenant", &self.tenant).field("mode", &self.mode).field("open", &self.open).finish()
    }
}

impl Db {
    /// A transaction on behalf of `scope`: its statements may name the caller's parameters.
    pub fn begin<'a>(&'a self, scope: &'a TenantScope, mode: Mode) -> Tx<'a> {
        let mut tx = self.begin_for_tenant(scope.tenant_id(), mode);
        tx.who = Some(self.who(scope));
        tx.scope = Some(scope);
        tx
    }

    /// A transaction of the system's own work for `tenant` (keys, the chainer, exports).
    pub fn begin_for_tenant(&self, tenant: TenantId, mode: Mode) -> Tx<'_> {
        Tx {
            db: self,
            tenant,
            tenant_uuid: Some(tenant.as_uuid()),
            tenant_text: tenant.to_string(),
            scope: None,
            who: None,
            mode,
            conn: None,
            open: false,
        }
    }
}

impl Db {
    /// A transaction on the platform's tables (tenants, operators, identity providers, the
    /// operators' trail), for platform operators and the console: no tenant is set.
    pub fn begin_platform(&self, mode: Mode) -> Tx<'_> {
        Tx {
            db: self,
            tenant: TenantId::from_uuid(uuid::Uuid::nil()),
            tenant_uuid: None,
            tenant_text: String::new(),
            scope: None,
            who: None,
            mode,
            conn: None,
            open: false,
        }
    }
}

impl<'a> Tx<'a> {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The scope the transaction acts for.
    ///
    /// # Errors
    ///
    /// A system transaction has none.
    pub fn scope(&self) -> StoreResult<&'a TenantScope> {
        self.scope.ok_or_else(|| StoreError::Corrupt { column: "transaction", value: "no caller's scope".to_owned() })
    }

    pub fn db(&self) -> &'a Db {
        self.db
    }

    /// A new transaction for the same caller, reading only: for what must be asked once this
    /// one has ended (why an update touched nothing).
    pub fn again(&self) -> Tx<'a> {
        Tx {
            db: self.db,
            tenant: self.tenant,
            tenant_uuid: self.tenant_uuid,
            tenant_text: self.tenant_text.clone(),
            scope: self.scope,
            who: self.who.clone(),
            mode: Mode::Read,
            conn: None,
            open: false,
        }
    }

    /// Whether the caller reaches the people of every establishment (see [`Who`]); a system
    /// transaction does.
    pub(crate) fn reaches_every_establishment(&self) -> bool {
        self.who.as_ref().is_none_or(Who::reaches_every_establishment)
    }

    /// Whether the caller oversees some establishment (see [`Who`]).
    pub(crate) fn oversees_some_establishment(&self) -> bool {
        self.who.as_ref().is_none_or(Who::oversees_some_establishment)
    }

    /// Whether statements were sent and not committed yet.
    pub fn is_open(&self) -> bool {
        self.open
    }

    async fn connection(&mut self) -> StoreResult<&Object> {
        if self.conn.is_none() {
            self.conn = Some(self.db.conn().await?);
        }
        self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))
    }

    fn values<'v>(&'v self, sql: &Sql, args: &'v Args<'_>) -> StoreResult<Vec<Value<'v>>> {
        let tenant = self.tenant_uuid.as_ref().map(|t| t as &'v (dyn ToSql + Sync));
        let who = self.who.as_ref();
        sql.bind(args, &|name| if name == "tenant" { tenant } else { who.and_then(|w| w.param(name)) })
    }

    /// Runs a statement in the transaction (beginning it with the first one).
    pub(crate) async fn query(&mut self, sql: &Sql, args: &Args<'_>) -> StoreResult<Vec<Row>> {
        self.connection().await?;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        let statement = conn.prepare_cached(sql.text()).await?;
        if self.open {
            let values = self.values(sql, args)?;
            let client: &tokio_postgres::Client = conn;
            return Ok(client.query(&statement, &values).await?);
        }
        let set_tenant = conn.prepare_cached(SET_TENANT).await?;
        // From the moment BEGIN is sent, the connection is in a transaction: even a failed
        // statement leaves it there (aborted) until a ROLLBACK. Marked before the wait, so that
        // a request dropped meanwhile (at its timeout) rolls back before its connection goes
        // back to the pool; otherwise the next request on it would run inside this transaction
        // (and commit its work, or fail on its aborted state). A ROLLBACK with no BEGIN sent
        // is harmless.
        self.open = true;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        let values = self.values(sql, args)?;
        let client: &tokio_postgres::Client = conn;
        let tenant: [&(dyn ToSql + Sync); 1] = [&self.tenant_text];
        let begun = tokio::try_join!(
            client.batch_execute(self.mode.begin()),
            client.query(&set_tenant, &tenant),
            client.query(&statement, &values),
        );
        Ok(begun?.2)
    }

    /// The one row a statement returned, if any.
    pub(crate) async fn query_opt(&mut self, sql: &Sql, args: &Args<'_>) -> StoreResult<Option<Row>> {
        let mut rows = self.query(sql, args).await?;
        match rows.len() {
            0 => Ok(None),
            1 => Ok(rows.pop()),
            n => Err(StoreError::Corrupt { column: "row count", value: format!("{n} rows where one was expected") }),
        }
    }

    /// The one row a statement returned; `NotFound` when none.
    pub(crate) async fn query_one(&mut self, sql: &Sql, args: &Args<'_>) -> StoreResult<Row> {
        self.query_opt(sql, args).await?.ok_or(StoreError::NotFound)
    }

    /// Begins the transaction now, if it has not begun.
    async fn ensure_open(&mut self) -> StoreResult<()> {
        if self.open {
            return Ok(());
        }
        self.connection().await?;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        let set_tenant = conn.prepare_cached(SET_TENANT).await?;
        let tenant: [&(dyn ToSql + Sync); 1] = [&self.tenant_text];
        let client: &tokio_postgres::Client = conn;
        let begun = tokio::try_join!(client.batch_execute(self.mode.begin()), client.query(&set_tenant, &tenant));
        self.open = true;
        begun?;
        Ok(())
    }

    /// The plan the server's connections run `sql` on — its generic plan, made once per
    /// connection (`plan_cache_mode`) — as `EXPLAIN (ANALYZE, BUFFERS)` prints it: the statement
    /// is prepared under a name with its parameters' types and executed with `args`. (An
    /// `EXPLAIN` of the statement itself would plan it for these values only.)
    pub(crate) async fn explain_generic(&mut self, sql: &Sql, args: &Args<'_>) -> StoreResult<Vec<String>> {
        self.ensure_open().await?;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        let statement = conn.prepare(sql.text()).await?;
        let types: Vec<String> = statement.params().iter().map(|t| format!("{}.{}", t.schema(), t.name())).collect();
        conn.batch_execute(&format!("PREPARE dui_explained ({}) AS {}", types.join(", "), sql.text())).await?;
        // The values as literals of their types, written by the server itself.
        let values = self.values(sql, args)?;
        let quoted: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("quote_nullable(${}::{t}::text) || '::{t}'", i + 1))
            .collect();
        let client: &tokio_postgres::Client = conn;
        let literals = client.query_one(&format!("SELECT {}", quoted.join(", ")), &values).await?;
        let literals: Vec<String> =
            (0..types.len()).map(|i| literals.try_get::<_, String>(i)).collect::<Result<_, _>>()?;
        let explained = format!("EXPLAIN (ANALYZE, BUFFERS) EXECUTE dui_explained ({})", literals.join(", "));
        let rows = client.query(&explained, &[]).await;
        conn.batch_execute("DEALLOCATE dui_explained").await?;
        rows?.iter().map(|row| Ok(row.try_get::<_, String>(0)?)).collect()
    }

    /// Runs statements without parameters (a temporary table for a bulk load).
    pub(crate) async fn batch(&mut self, sql: &str) -> StoreResult<()> {
        self.ensure_open().await?;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        Ok(conn.batch_execute(sql).await?)
    }

    /// Starts a `COPY ... FROM STDIN` in the transaction (a bulk load).
    pub(crate) async fn copy_in(&mut self, copy: &str) -> StoreResult<tokio_postgres::CopyInSink<bytes::Bytes>> {
        self.ensure_open().await?;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        Ok(conn.copy_in(copy).await?)
    }

    /// Runs a statement and hands its rows to `each` one at a time, as they arrive: for reading
    /// a whole table without holding it in memory. Returns how many rows there were.
    pub(crate) async fn for_each(
        &mut self,
        sql: &Sql,
        args: &Args<'_>,
        mut each: impl FnMut(Row) -> StoreResult<()>,
    ) -> StoreResult<u64> {
        use futures_util::StreamExt;
        self.ensure_open().await?;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        let statement = conn.prepare_cached(sql.text()).await?;
        let values = self.values(sql, args)?;
        let client: &tokio_postgres::Client = conn;
        let rows = client.query_raw(&statement, values.iter().copied()).await?;
        let mut rows = std::pin::pin!(rows);
        let mut count = 0;
        while let Some(row) = rows.next().await {
            each(row?)?;
            count += 1;
        }
        Ok(count)
    }

    /// Runs the transaction's last statement and commits, in one round trip (with `BEGIN`
    /// too when it is the only statement). The request's place is given up once the statement
    /// has answered, while the commit is flushed ([`crate::place`]).
    pub(crate) async fn finish(mut self, sql: &Sql, args: &Args<'_>) -> StoreResult<Vec<Row>> {
        self.connection().await?;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        let statement = conn.prepare_cached(sql.text()).await?;
        let values = self.values(sql, args)?;
        let client: &tokio_postgres::Client = conn;
        let rows = if self.open {
            let answers = tokio::try_join!(last(client.query(&statement, &values)), client.batch_execute("COMMIT"));
            // COMMIT was sent whatever the answer: a failed statement turns it into a rollback.
            self.open = false;
            let rows = answers?.0;
            self.committed();
            rows
        } else {
            let set_tenant = conn.prepare_cached(SET_TENANT).await?;
            let tenant: [&(dyn ToSql + Sync); 1] = [&self.tenant_text];
            let answers = tokio::try_join!(
                client.batch_execute(self.mode.begin()),
                client.query(&set_tenant, &tenant),
                last(client.query(&statement, &values)),
                client.batch_execute("COMMIT"),
            );
            let rows = answers?.2;
            self.committed();
            rows
        };
        Ok(rows)
    }

    /// Runs a read's last statement and commits, like [`Tx::finish`]; then, when `trace` says
    /// the read is recorded, records its events with those of the other reads answered meanwhile
    /// and returns once they are durable ([`crate::trail`]).
    pub(crate) async fn finish_read(
        self,
        sql: &Sql,
        args: &Args<'_>,
        trace: Option<crate::trail::ReadTrace>,
    ) -> StoreResult<Vec<Row>> {
        let db = self.db;
        let reader = trace.map(|_| self.reader()).transpose()?;
        let rows = self.finish(sql, args).await?;
        if let (Some(trace), Some(reader)) = (trace, reader) {
            db.record_reads(trace.events(&reader, &rows)?).await?;
        }
        Ok(rows)
    }

    /// Who reads, for the events of a recorded read: only a caller's transaction has one.
    fn reader(&self) -> StoreResult<crate::trail::Reader> {
        match (&self.who, self.tenant_uuid) {
            (Some(who), Some(tenant)) => Ok(who.reader(tenant)),
            _ => {
                Err(StoreError::Corrupt { column: "transaction", value: "a recorded read without a caller".to_owned() })
            }
        }
    }

    /// Runs two statements and commits, in one round trip: a read made of two result shapes
    /// (a record and its list), seen in one snapshot when the mode says so.
    pub(crate) async fn finish_pair(
        mut self,
        first: (&Sql, &Args<'_>),
        second: (&Sql, &Args<'_>),
    ) -> StoreResult<(Vec<Row>, Vec<Row>)> {
        if self.open {
            let one = self.query(first.0, first.1).await?;
            let two = self.finish(second.0, second.1).await?;
            return Ok((one, two));
        }
        self.connection().await?;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        let (a, b, set_tenant) = tokio::try_join!(
            conn.prepare_cached(first.0.text()),
            conn.prepare_cached(second.0.text()),
            conn.prepare_cached(SET_TENANT)
        )?;
        let (one_values, two_values) = (self.values(first.0, first.1)?, self.values(second.0, second.1)?);
        let tenant: [&(dyn ToSql + Sync); 1] = [&self.tenant_text];
        let client: &tokio_postgres::Client = conn;
        let (_, _, one, two, _) = tokio::try_join!(
            client.batch_execute(self.mode.begin()),
            client.query(&set_tenant, &tenant),
            client.query(&a, &one_values),
            last(client.query(&b, &two_values)),
            client.batch_execute("COMMIT"),
        )?;
        self.committed();
        Ok((one, two))
    }

    /// [`Tx::finish_three`] for a read recorded through the trail: `trace` reads the first
    /// statement's rows ([`Tx::finish_read`]).
    pub(crate) async fn finish_three_read(
        self,
        first: (&Sql, &Args<'_>),
        second: (&Sql, &Args<'_>),
        third: (&Sql, &Args<'_>),
        trace: crate::trail::ReadTrace,
    ) -> StoreResult<(Vec<Row>, Vec<Row>, Vec<Row>)> {
        let db = self.db;
        let reader = self.reader()?;
        let (one, two, three) = self.finish_three(first, second, third).await?;
        db.record_reads(trace.events(&reader, &one)?).await?;
        Ok((one, two, three))
    }

    /// Runs three statements and commits, in one round trip: a read made of three result shapes
    /// (the summary of a record: the record, its alerts, its notes), seen in one snapshot when
    /// the mode says so.
    pub(crate) async fn finish_three(
        mut self,
        first: (&Sql, &Args<'_>),
        second: (&Sql, &Args<'_>),
        third: (&Sql, &Args<'_>),
    ) -> StoreResult<(Vec<Row>, Vec<Row>, Vec<Row>)> {
        if self.open {
            let one = self.query(first.0, first.1).await?;
            let two = self.query(second.0, second.1).await?;
            let three = self.finish(third.0, third.1).await?;
            return Ok((one, two, three));
        }
        self.connection().await?;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        let (a, b, c, set_tenant) = tokio::try_join!(
            conn.prepare_cached(first.0.text()),
            conn.prepare_cached(second.0.text()),
            conn.prepare_cached(third.0.text()),
            conn.prepare_cached(SET_TENANT)
        )?;
        let (one_values, two_values, three_values) =
            (self.values(first.0, first.1)?, self.values(second.0, second.1)?, self.values(third.0, third.1)?);
        let tenant: [&(dyn ToSql + Sync); 1] = [&self.tenant_text];
        let client: &tokio_postgres::Client = conn;
        let (_, _, one, two, three, _) = tokio::try_join!(
            client.batch_execute(self.mode.begin()),
            client.query(&set_tenant, &tenant),
            client.query(&a, &one_values),
            client.query(&b, &two_values),
            last(client.query(&c, &three_values)),
            client.batch_execute("COMMIT"),
        )?;
        self.committed();
        Ok((one, two, three))
    }

    /// Commits what was done (nothing to do when nothing was sent).
    pub async fn commit(mut self) -> StoreResult<()> {
        self.commit_now().await
    }

    /// Commits what was done so far and goes on: the next statement begins a new transaction
    /// on the same connection. For what must stay whatever the operation does next — the
    /// record of a refusal.
    pub(crate) async fn commit_now(&mut self) -> StoreResult<()> {
        if !self.open {
            return Ok(());
        }
        crate::place::leave();
        self.open = false;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        conn.batch_execute("COMMIT").await?;
        self.committed();
        Ok(())
    }

    /// Rolls back what was done (nothing to do when nothing was sent).
    pub async fn rollback(mut self) -> StoreResult<()> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        let conn = self.conn.as_ref().ok_or(StoreError::Unavailable("no connection".to_owned()))?;
        Ok(conn.batch_execute("ROLLBACK").await?)
    }

    /// The tenant's keyring for opening values sealed under `needed` key versions. A keyring
    /// not cached is read through this transaction's connection when it holds one, so an
    /// operation never needs two connections at once.
    pub(crate) async fn keyring(&mut self, needed: impl IntoIterator<Item = u32>) -> StoreResult<Arc<Keyring>> {
        let needed: Vec<u32> = needed.into_iter().collect();
        if let Some(keys) = self.db.cached_keyring(self.tenant, &needed) {
            return Ok(keys);
        }
        match (&self.conn, self.open) {
            (Some(conn), true) => self.db.load_keyring_on(self.tenant, conn).await,
            _ => self.db.keyring(self.tenant, needed).await,
        }
    }

    /// The tenant's keyring for sealing `count` values, with that many encryptions reserved. A
    /// keyring not cached is read through this transaction's connection when it holds one, as
    /// [`Tx::keyring`] does: a request never holds one connection while it waits for another
    /// (with every request of a busy server doing so when the cache expired, the pool ran dry
    /// and requests waited out their acquire timeout). A reservation, once per
    /// `crypto.reservation_block` encryptions, is still its own transaction.
    pub(crate) async fn sealing_keys(&self, count: u64) -> StoreResult<Arc<Keyring>> {
        if let (Some(conn), true) = (&self.conn, self.open)
            && self.db.cached_keyring(self.tenant, &[]).is_none()
        {
            self.db.load_keyring_on(self.tenant, conn).await?;
        }
        self.db.keyring_for_sealing(self.tenant, count).await
    }
}

/// The transaction's last statement: once it has answered, only the COMMIT (already sent) is
/// left, and the request's place is given up for its flush ([`crate::place`]).
async fn last<T>(answer: impl std::future::Future<Output = T>) -> T {
    let answer = answer.await;
    crate::place::leave();
    answer
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Some(conn) = self.conn.take() else { return };
        // The connection is in a transaction: it goes back to the pool only once rolled back.
        // Without a runtime to do that on, it is closed instead.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = conn.batch_execute("ROLLBACK").await {
                        tracing::warn!(%error, "cannot roll back an abandoned transaction; the connection is dropped");
                        let _ = deadpool_postgres::Object::take(conn);
                    }
                });
            }
            Err(_) => drop(deadpool_postgres::Object::take(conn)),
        }
    }
}
