//! Users, memberships, external identities, and the principal loaded on every request.

use std::sync::LazyLock;

use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::people::{
    ExternalIdentity, Membership, NewUser, Profession, Role, User, UserChanges, UserKind, UserStatus,
};
use dui_domain::scope::Grant;
use dui_domain::tenant::TenantStatus;
use dui_domain::{EstablishmentId, IdentityProviderId, MembershipId, TenantId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::feature::{Feature, Table};
use dui_domain::audit::AuditAction;

use crate::access::WHO_CTE;
use crate::args;
use crate::idempotency::{Create, create_once};
use crate::principals::{Principal, PrincipalKey};
use crate::rows::{all, one, parse, parse_opt};
use crate::sql::{Args, Sql, Stmt};
use crate::trace::Trace;
use crate::tx::{Mode, Tx};
use crate::{Db, StoreError, StoreResult};

pub(crate) const USER_COLUMNS: &str =
    "id, kind, family_name, given_name, profession, rpps, adeli, email, status, created_at, updated_at";
pub(crate) const MEMBERSHIP_COLUMNS: &str = "id, user_id, establishment_id, role, started_at, ended_at";

pub(crate) fn user(row: &Row) -> StoreResult<User> {
    Ok(User {
        id: UserId::from_uuid(row.try_get("id")?),
        kind: parse(row, "kind", UserKind::parse)?,
        family_name: row.try_get("family_name")?,
        given_name: row.try_get("given_name")?,
        profession: parse_opt(row, "profession", Profession::parse)?,
        rpps: row.try_get("rpps")?,
        adeli: row.try_get("adeli")?,
        email: row.try_get("email")?,
        status: parse(row, "status", UserStatus::parse)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) fn membership(row: &Row) -> StoreResult<Membership> {
    Ok(Membership {
        id: MembershipId::from_uuid(row.try_get("id")?),
        user_id: UserId::from_uuid(row.try_get("user_id")?),
        establishment_id: row.try_get::<_, Option<Uuid>>("establishment_id")?.map(EstablishmentId::from_uuid),
        role: parse(row, "role", Role::parse)?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

pub(crate) fn external_identity(row: &Row) -> StoreResult<ExternalIdentity> {
    Ok(ExternalIdentity {
        provider_id: IdentityProviderId::from_uuid(row.try_get("provider_id")?),
        subject: row.try_get("subject")?,
        user_id: UserId::from_uuid(row.try_get("user_id")?),
        created_at: row.try_get("created_at")?,
    })
}

/// The tenant's status, the user's, and the user's current memberships, in one statement.
/// `(USER_ID)` is the expression designating the user.
const PRINCIPAL: &str = "SELECT t.status AS tenant_status, u.id AS user_id, u.status AS user_status, \
        coalesce(array_agg(m.establishment_id) FILTER (WHERE m.id IS NOT NULL), '{}') AS establishments, \
        coalesce(array_agg(m.role) FILTER (WHERE m.id IS NOT NULL), '{}') AS roles \
     FROM tenants t \
     LEFT JOIN users u ON u.tenant_id = t.id AND u.id = (USER_ID) \
     LEFT JOIN memberships m ON m.tenant_id = u.tenant_id AND m.user_id = u.id AND m.ended_at IS NULL \
     WHERE t.id = :tenant GROUP BY t.status, u.id, u.status";

static PRINCIPAL_BY_ID: Stmt = LazyLock::new(|| Sql::new(&PRINCIPAL.replace("(USER_ID)", ":user_id")));

static PRINCIPAL_BY_SUBJECT: Stmt = LazyLock::new(|| {
    Sql::new(&PRINCIPAL.replace(
        "(USER_ID)",
        "(SELECT x.user_id FROM user_external_identities x \
          WHERE x.tenant_id = :tenant AND x.provider_id = :provider AND x.subject = :subject)",
    ))
});

const INSERT_USER: &str = "INSERT INTO users (tenant_id, id, kind, family_name, given_name, profession, rpps, adeli, email) \
     VALUES (:tenant, :id, :kind, :family_name, :given_name, :profession, :rpps, :adeli, :email) \
     RETURNING id, kind, family_name, given_name, profession, rpps, adeli, email, status, created_at, updated_at";

static CREATE_USER: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, x AS ({INSERT_USER}), trace AS ({trace}) SELECT * FROM x",
        trace = Trace::administered("x")
    ))
});

static CREATE_FIRST_USER: Stmt = LazyLock::new(|| Sql::new(INSERT_USER));

static TENANT_WIDE_MEMBERSHIP: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "INSERT INTO memberships (tenant_id, id, user_id, establishment_id, role) \
         VALUES (:tenant, :id, :user_id, NULL, :role) RETURNING {MEMBERSHIP_COLUMNS}"
    ))
});

static USER_BY_ID: Stmt =
    LazyLock::new(|| Sql::new(&format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = :tenant AND id = :id")));

static USERS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = :tenant AND (:after::uuid IS NULL OR id > :after) \
         ORDER BY id LIMIT :limit"
    ))
});

static UPDATE_USER: Stmt = LazyLock::new(|| {
    // For the nullable fields, a flag says whether to touch the column, so that null can be set.
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         x AS (UPDATE users SET \
                 family_name = coalesce(:family_name, family_name), given_name = coalesce(:given_name, given_name), \
                 profession = CASE WHEN :set_profession THEN :profession ELSE profession END, \
                 rpps = CASE WHEN :set_rpps THEN :rpps ELSE rpps END, \
                 adeli = CASE WHEN :set_adeli THEN :adeli ELSE adeli END, \
                 email = CASE WHEN :set_email THEN :email ELSE email END, \
                 status = coalesce(:status, status), updated_at = now() \
               WHERE tenant_id = :tenant AND id = :id RETURNING {USER_COLUMNS}), \
         trace AS ({trace}) SELECT * FROM x",
        trace = Trace::administered("x")
    ))
});

static ADD_MEMBERSHIP: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         x AS (INSERT INTO memberships (tenant_id, id, user_id, establishment_id, role) \
               SELECT u.tenant_id, :id, u.id, :establishment, :role FROM users u \
               WHERE u.tenant_id = :tenant AND u.id = :user_id \
               AND (:establishment::uuid IS NULL OR EXISTS (SELECT 1 FROM establishments e \
                    WHERE e.tenant_id = :tenant AND e.id = :establishment)) \
               RETURNING {MEMBERSHIP_COLUMNS}), \
         trace AS ({trace}) SELECT * FROM x",
        trace = Trace::administered("x")
    ))
});

static MEMBERSHIP_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE tenant_id = :tenant AND id = :id"))
});

static MEMBERSHIPS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE tenant_id = :tenant AND user_id = :user_id \
         ORDER BY ended_at DESC NULLS FIRST, started_at DESC, id"
    ))
});

static END_MEMBERSHIP: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         x AS (UPDATE memberships SET ended_at = coalesce(ended_at, greatest(now(), started_at)) \
               WHERE tenant_id = :tenant AND id = :id RETURNING {MEMBERSHIP_COLUMNS}), \
         trace AS ({trace}) SELECT * FROM x",
        trace = Trace::administered("x")
    ))
});

static UNLINK_PREVIOUS: Stmt = LazyLock::new(|| {
    Sql::new(
        "DELETE FROM user_external_identities WHERE tenant_id = :tenant AND provider_id = :provider AND user_id = :user_id",
    )
});

static LINK: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         x AS (INSERT INTO user_external_identities (tenant_id, provider_id, subject, user_id) \
               SELECT u.tenant_id, :provider, :subject, u.id FROM users u WHERE u.tenant_id = :tenant AND u.id = :user_id \
               RETURNING provider_id, subject, user_id, created_at, user_id AS id), \
         trace AS ({trace}) SELECT * FROM x",
        trace = Trace::administered("x")
    ))
});

static EXTERNAL_IDENTITIES: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT provider_id, subject, user_id, created_at FROM user_external_identities \
         WHERE tenant_id = :tenant AND user_id = :user_id ORDER BY created_at",
    )
});

static UNLINK: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         x AS (DELETE FROM user_external_identities WHERE tenant_id = :tenant AND provider_id = :provider \
               AND user_id = :user_id RETURNING user_id AS id), \
         trace AS ({trace}) SELECT * FROM x",
        trace = Trace::administered("x")
    ))
});

/// A user to insert, bound as [`INSERT_USER`] names them.
fn user_args<'a>(
    id: &'a Uuid,
    kind: &'a &'static str,
    profession: &'a Option<&'static str>,
    new: &'a NewUser,
) -> Args<'a> {
    args! { id: id, kind: kind, family_name: &new.family_name, given_name: &new.given_name, profession: profession,
    rpps: &new.rpps, adeli: &new.adeli, email: &new.email }
}

impl Db {
    /// The principal of a request: from the cache while it is kept coherent (see
    /// [`crate::principals`]), otherwise one statement, one round trip.
    pub async fn load_principal(&self, tenant: TenantId, key: &PrincipalKey) -> StoreResult<Principal> {
        if let Some(principal) = self.principals.get(tenant, key) {
            return Ok(principal);
        }
        let ticket = self.principals.ticket();
        let principal = self.read_principal(tenant, key).await?;
        self.principals.put(tenant, key, &principal, ticket);
        Ok(principal)
    }

    async fn read_principal(&self, tenant: TenantId, key: &PrincipalKey) -> StoreResult<Principal> {
        // The user is looked up under the tenant's own context: row-level security applies to
        // authentication too.
        let tx = self.begin_for_tenant(tenant, Mode::Read);
        let rows = match key {
            PrincipalKey::User(user) => {
                let user = user.as_uuid();
                tx.finish(&PRINCIPAL_BY_ID, &args! { user_id: &user }).await?
            }
            PrincipalKey::External { provider, subject } => {
                let provider = provider.as_uuid();
                tx.finish(&PRINCIPAL_BY_SUBJECT, &args! { provider: &provider, subject: subject }).await?
            }
        };
        let Some(row) = rows.first() else {
            return Err(StoreError::NotFound);
        };
        let tenant_status = parse(row, "tenant_status", TenantStatus::parse)?;
        let user = match row.try_get::<_, Option<Uuid>>("user_id")? {
            Some(id) => Some((UserId::from_uuid(id), parse(row, "user_status", UserStatus::parse)?)),
            None => None,
        };
        let establishments: Vec<Option<Uuid>> = row.try_get("establishments")?;
        let roles: Vec<String> = row.try_get("roles")?;
        let grants = establishments
            .into_iter()
            .zip(roles)
            .map(|(establishment, role)| {
                Ok(Grant {
                    establishment: establishment.map(EstablishmentId::from_uuid),
                    role: Role::parse(&role).ok_or(StoreError::Corrupt { column: "memberships.role", value: role })?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Principal { tenant_status, user, grants })
    }
}

/// Creates a user, and commits.
pub async fn create_user(tx: Tx<'_>, key: Option<&IdempotencyKey>, new: &NewUser) -> StoreResult<Created<User>> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let id = Uuid::now_v7();
    let (kind, profession) = (new.kind.as_str(), new.profession.map(Profession::as_str));
    let args = user_args(&id, &kind, &profession, new).action(AuditAction::UserCreate);
    let created =
        create_once(tx, key, Create { id, insert: &CREATE_USER, args, reload: &USER_BY_ID, map: &user }).await;
    db.principals.changed(tenant);
    created
}

/// Creates a user with a tenant-wide `role` (the transaction goes on): the first administrator
/// of a new tenant (platform operators do this, and record it in their own trail), or the
/// demo's accounts.
pub async fn create_user_with_role(tx: &mut Tx<'_>, new: &NewUser, role: Role) -> StoreResult<(User, Membership)> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let id = Uuid::now_v7();
    let (kind, profession) = (new.kind.as_str(), new.profession.map(Profession::as_str));
    let created = user(&tx.query_one(&CREATE_FIRST_USER, &user_args(&id, &kind, &profession, new)).await?)?;
    let (membership, role) = (Uuid::now_v7(), role.as_str());
    let args = args! { id: &membership, user_id: &id, role: &role };
    let granted = one(tx.query(&TENANT_WIDE_MEMBERSHIP, &args).await?, self::membership)?;
    db.principals.changed(tenant);
    Ok((created, granted))
}

/// The tenant's users.
pub async fn list_users(tx: Tx<'_>, page: PageRequest) -> StoreResult<Page<User>> {
    let limit = page.fetch_limit();
    let rows = tx.finish(&USERS, &args! { after: &page.after, limit: &limit }).await?;
    Ok(Page::from_rows(all(&rows, user)?, page, |u| u.id.as_uuid()))
}

/// One user of the tenant.
pub async fn get_user(tx: &mut Tx<'_>, id: UserId) -> StoreResult<User> {
    let id = id.as_uuid();
    one(tx.query(&USER_BY_ID, &args! { id: &id }).await?, user)
}

/// Changes a user, and commits.
pub async fn update_user(tx: Tx<'_>, id: UserId, changes: &UserChanges) -> StoreResult<User> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let id = id.as_uuid();
    let profession = changes.profession.map(|p| p.map(Profession::as_str));
    // Whether each nullable field is set, and its value.
    let set = |field: &Option<Option<String>>| (field.is_some(), field.clone().flatten());
    let ((set_rpps, rpps), (set_adeli, adeli), (set_email, email)) =
        (set(&changes.rpps), set(&changes.adeli), set(&changes.email));
    let (set_profession, profession) = (profession.is_some(), profession.flatten());
    let status = changes.status.map(UserStatus::as_str);
    let args = args! {
        id: &id, family_name: &changes.family_name, given_name: &changes.given_name,
        set_profession: &set_profession, profession: &profession, set_rpps: &set_rpps, rpps: &rpps,
        set_adeli: &set_adeli, adeli: &adeli, set_email: &set_email, email: &email, status: &status
    }
    .action(AuditAction::UserUpdate);
    let rows = tx.finish(&UPDATE_USER, &args).await;
    db.principals.changed(tenant);
    one(rows?, user)
}

/// Gives `user` the `role` in `establishment` (tenant-wide when `None`), and commits. Both must
/// exist in the tenant; `NotFound` otherwise.
pub async fn add_membership(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    user_id: UserId,
    establishment: Option<EstablishmentId>,
    role: Role,
) -> StoreResult<Created<Membership>> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let id = Uuid::now_v7();
    let (user_id, establishment, role) = (user_id.as_uuid(), establishment.map(|e| e.as_uuid()), role.as_str());
    let args = args! { id: &id, user_id: &user_id, establishment: &establishment, role: &role }
        .action(AuditAction::MembershipCreate);
    let created =
        create_once(tx, key, Create { id, insert: &ADD_MEMBERSHIP, args, reload: &MEMBERSHIP_BY_ID, map: &membership })
            .await;
    db.principals.changed(tenant);
    created
}

/// The memberships of a user, current first, then ended ones (most recent first).
pub async fn list_memberships(tx: &mut Tx<'_>, user_id: UserId) -> StoreResult<Vec<Membership>> {
    let user_id = user_id.as_uuid();
    all(&tx.query(&MEMBERSHIPS, &args! { user_id: &user_id }).await?, membership)
}

/// One membership of the tenant.
pub async fn get_membership(tx: &mut Tx<'_>, id: MembershipId) -> StoreResult<Membership> {
    let id = id.as_uuid();
    one(tx.query(&MEMBERSHIP_BY_ID, &args! { id: &id }).await?, membership)
}

/// Ends a current membership, and commits. Ending an ended one returns it unchanged, so a
/// retried request gets the same answer.
pub async fn end_membership(tx: Tx<'_>, id: MembershipId) -> StoreResult<Membership> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let id = id.as_uuid();
    let rows = tx.finish(&END_MEMBERSHIP, &args! { id: &id }.action(AuditAction::MembershipEnd)).await;
    db.principals.changed(tenant);
    one(rows?, membership)
}

/// Links a user to a provider's subject, replacing the user's previous subject for that
/// provider, and commits.
pub async fn link_external_identity(
    mut tx: Tx<'_>,
    user_id: UserId,
    provider: IdentityProviderId,
    subject: &str,
) -> StoreResult<ExternalIdentity> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let (user_id, provider) = (user_id.as_uuid(), provider.as_uuid());
    tx.query(&UNLINK_PREVIOUS, &args! { provider: &provider, user_id: &user_id }).await?;
    let args =
        args! { provider: &provider, subject: &subject, user_id: &user_id }.action(AuditAction::ExternalIdentityLink);
    let rows = tx.finish(&LINK, &args).await;
    db.principals.changed(tenant);
    one(rows?, external_identity)
}

/// A user's external identities.
pub async fn list_external_identities(tx: &mut Tx<'_>, user_id: UserId) -> StoreResult<Vec<ExternalIdentity>> {
    let user_id = user_id.as_uuid();
    all(&tx.query(&EXTERNAL_IDENTITIES, &args! { user_id: &user_id }).await?, external_identity)
}

/// Unlinks a user from a provider, and commits; `NotFound` when they were not linked.
pub async fn unlink_external_identity(tx: Tx<'_>, user_id: UserId, provider: IdentityProviderId) -> StoreResult<()> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let (user_id, provider) = (user_id.as_uuid(), provider.as_uuid());
    let args = args! { provider: &provider, user_id: &user_id }.action(AuditAction::ExternalIdentityUnlink);
    let rows = tx.finish(&UNLINK, &args).await;
    db.principals.changed(tenant);
    if rows?.is_empty() { Err(StoreError::NotFound) } else { Ok(()) }
}

/// The tenant's people: users, their memberships, their external identities.
pub(crate) const FEATURE: Feature = Feature {
    name: "people",
    tables: &[
        Table::of_tenant("users", "id"),
        Table::of_tenant("memberships", "id"),
        Table::of_tenant("user_external_identities", "provider_id, subject"),
    ],
};
