//! Users, memberships, external identities, and the principal loaded on every request.

use std::sync::LazyLock;

use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::people::{
    ExternalIdentity, Membership, NewUser, Profession, Role, User, UserChanges, UserKind, UserStatus,
};
use dui_domain::scope::{Grant, TenantScope};
use dui_domain::tenant::TenantStatus;
use dui_domain::{EstablishmentId, IdentityProviderId, MembershipId, TenantId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::feature::{Feature, Table, TenantExport};
use crate::idempotency::CreateStatement;
use crate::rows::{all, one, parse, parse_opt};
use crate::tx::Params;
use crate::tx::TenantTx;
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

/// How a token designates its user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalKey {
    /// The server's own tokens carry the user id.
    User(UserId),
    /// An external provider's token carries its subject.
    External { provider: IdentityProviderId, subject: String },
}

/// One current membership, as loaded for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipGrant {
    pub establishment: Option<EstablishmentId>,
    pub role: Role,
}

/// What authentication needs to know about a token's user: whether the tenant and the user may
/// work, and the user's current memberships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_status: TenantStatus,
    /// `None` when no such user exists in the tenant.
    pub user: Option<(UserId, UserStatus)>,
    pub grants: Vec<Grant>,
}

const INSERT_USER: &str = "INSERT INTO users (tenant_id, id, kind, family_name, given_name, profession, rpps, adeli, email) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     RETURNING id, kind, family_name, given_name, profession, rpps, adeli, email, status, created_at, updated_at";

/// The parameters of [`INSERT_USER`].
struct UserInsert<'a> {
    tenant: Uuid,
    id: Uuid,
    kind: &'static str,
    profession: Option<&'static str>,
    new: &'a NewUser,
}

impl<'a> UserInsert<'a> {
    fn new(tenant: TenantId, new: &'a NewUser) -> Self {
        Self {
            tenant: tenant.as_uuid(),
            id: Uuid::now_v7(),
            kind: new.kind.as_str(),
            profession: new.profession.map(Profession::as_str),
            new,
        }
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 9] {
        [
            &self.tenant,
            &self.id,
            &self.kind,
            &self.new.family_name,
            &self.new.given_name,
            &self.profession,
            &self.new.rpps,
            &self.new.adeli,
            &self.new.email,
        ]
    }
}

/// The tenant's status, the user's, and the user's current memberships, in one statement.
/// `(USER_ID)` is the expression designating the user.
const PRINCIPAL: &str = "SELECT t.status AS tenant_status, u.id AS user_id, u.status AS user_status, \
        coalesce(array_agg(m.establishment_id) FILTER (WHERE m.id IS NOT NULL), '{}') AS establishments, \
        coalesce(array_agg(m.role) FILTER (WHERE m.id IS NOT NULL), '{}') AS roles \
     FROM tenants t \
     LEFT JOIN users u ON u.tenant_id = t.id AND u.id = (USER_ID) \
     LEFT JOIN memberships m ON m.tenant_id = u.tenant_id AND m.user_id = u.id AND m.ended_at IS NULL \
     WHERE t.id = $1 GROUP BY t.status, u.id, u.status";

static PRINCIPAL_BY_ID: LazyLock<String> = LazyLock::new(|| PRINCIPAL.replace("(USER_ID)", "$2"));

static PRINCIPAL_BY_SUBJECT: LazyLock<String> = LazyLock::new(|| {
    PRINCIPAL.replace(
        "(USER_ID)",
        "(SELECT x.user_id FROM user_external_identities x \
          WHERE x.tenant_id = $1 AND x.provider_id = $2 AND x.subject = $3)",
    )
});

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
        let tenant_uuid = tenant.as_uuid();
        let rows = match key {
            PrincipalKey::User(user) => self.read(tenant, &PRINCIPAL_BY_ID, &[&tenant_uuid, &user.as_uuid()]).await?,
            PrincipalKey::External { provider, subject } => {
                self.read(tenant, &PRINCIPAL_BY_SUBJECT, &[&tenant_uuid, &provider.as_uuid(), subject]).await?
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

    pub async fn create_user(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        new: &NewUser,
    ) -> StoreResult<Created<User>> {
        let insert = UserInsert::new(scope.tenant_id(), new);
        let reload = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2");
        let create = CreateStatement {
            id: insert.id,
            insert: INSERT_USER,
            params: &insert.params(),
            reload: &reload,
            map: &user,
            audit: Some(("user.create", "user")),
        };
        let created = self.create_once(scope, key, create).await;
        self.principals.changed(scope.tenant_id());
        created
    }

    /// Creates a user with a tenant-wide `role` in one transaction: the first administrator of a
    /// new tenant (platform operators do this), or the demo's accounts.
    pub async fn create_user_with_role(
        &self,
        tenant: TenantId,
        new: &NewUser,
        role: Role,
    ) -> StoreResult<(User, Membership)> {
        let mut conn = self.conn().await?;
        let tx = TenantTx::begin(&mut conn, tenant).await?;
        let insert = UserInsert::new(tenant, new);
        let row = tx.query_one(INSERT_USER, &insert.params()).await?;
        let created = user(&row)?;
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO memberships (tenant_id, id, user_id, establishment_id, role) \
                     VALUES ($1, $2, $3, NULL, $4) RETURNING {MEMBERSHIP_COLUMNS}"
                ),
                &[&insert.tenant, &Uuid::now_v7(), &insert.id, &role.as_str()],
            )
            .await?;
        let granted = membership(&row)?;
        tx.commit().await?;
        self.principals.changed(tenant);
        Ok((created, granted))
    }

    pub async fn list_users(&self, scope: &TenantScope, page: PageRequest) -> StoreResult<Page<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
        );
        let rows = self
            .read(scope.tenant_id(), &sql, &[&scope.tenant_id().as_uuid(), &page.after, &page.fetch_limit()])
            .await?;
        let items = all(&rows, user)?;
        Ok(Page::from_rows(items, page, |u| u.id.as_uuid()))
    }

    pub async fn get_user(&self, scope: &TenantScope, id: UserId) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2");
        let rows = self.read(scope.tenant_id(), &sql, &[&scope.tenant_id().as_uuid(), &id.as_uuid()]).await?;
        one(rows, user)
    }

    pub async fn update_user(&self, scope: &TenantScope, id: UserId, changes: &UserChanges) -> StoreResult<User> {
        // For the nullable fields, a flag says whether to touch the column, so that null can be set.
        let sql = format!(
            "UPDATE users SET \
               family_name = coalesce($3, family_name), given_name = coalesce($4, given_name), \
               profession = CASE WHEN $5 THEN $6 ELSE profession END, \
               rpps = CASE WHEN $7 THEN $8 ELSE rpps END, \
               adeli = CASE WHEN $9 THEN $10 ELSE adeli END, \
               email = CASE WHEN $11 THEN $12 ELSE email END, \
               status = coalesce($13, status), updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 RETURNING {USER_COLUMNS}"
        );
        let profession = changes.profession.map(|p| p.map(Profession::as_str));
        let rows = self
            .write_audited(
                scope,
                "user.update",
                "user",
                &sql,
                &[
                    &scope.tenant_id().as_uuid(),
                    &id.as_uuid(),
                    &changes.family_name,
                    &changes.given_name,
                    &profession.is_some(),
                    &profession.flatten(),
                    &changes.rpps.is_some(),
                    &changes.rpps.clone().flatten(),
                    &changes.adeli.is_some(),
                    &changes.adeli.clone().flatten(),
                    &changes.email.is_some(),
                    &changes.email.clone().flatten(),
                    &changes.status.map(UserStatus::as_str),
                ],
            )
            .await?;
        self.principals.changed(scope.tenant_id());
        one(rows, user)
    }

    /// Gives `user` the `role` in `establishment` (tenant-wide when `None`). Both must exist in
    /// the scope's tenant; `NotFound` otherwise.
    pub async fn add_membership(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        user: UserId,
        establishment: Option<EstablishmentId>,
        role: Role,
    ) -> StoreResult<Created<Membership>> {
        let id = Uuid::now_v7();
        let insert = format!(
            "INSERT INTO memberships (tenant_id, id, user_id, establishment_id, role) \
             SELECT u.tenant_id, $2, u.id, $4, $5 FROM users u \
             WHERE u.tenant_id = $1 AND u.id = $3 \
               AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM establishments e WHERE e.tenant_id = $1 AND e.id = $4)) \
             RETURNING {MEMBERSHIP_COLUMNS}"
        );
        let reload = format!("SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE tenant_id = $1 AND id = $2");
        let establishment = establishment.map(|e| e.as_uuid());
        let params: Params<'_> = &[&scope.tenant_id().as_uuid(), &id, &user.as_uuid(), &establishment, &role.as_str()];
        let created = self
            .create_once(
                scope,
                key,
                CreateStatement {
                    id,
                    insert: &insert,
                    params,
                    reload: &reload,
                    map: &membership,
                    audit: Some(("membership.create", "membership")),
                },
            )
            .await;
        self.principals.changed(scope.tenant_id());
        created
    }

    /// The memberships of a user, current first, then ended ones (most recent first).
    pub async fn list_memberships(&self, scope: &TenantScope, user: UserId) -> StoreResult<Vec<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE tenant_id = $1 AND user_id = $2 \
             ORDER BY ended_at DESC NULLS FIRST, started_at DESC, id"
        );
        let rows = self.read(scope.tenant_id(), &sql, &[&scope.tenant_id().as_uuid(), &user.as_uuid()]).await?;
        all(&rows, membership)
    }

    pub async fn get_membership(&self, scope: &TenantScope, id: MembershipId) -> StoreResult<Membership> {
        let sql = format!("SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE tenant_id = $1 AND id = $2");
        let rows = self.read(scope.tenant_id(), &sql, &[&scope.tenant_id().as_uuid(), &id.as_uuid()]).await?;
        one(rows, membership)
    }

    /// Ends a current membership. Ending an ended one is a no-op that returns it unchanged, so
    /// a retried request gets the same answer.
    pub async fn end_membership(&self, scope: &TenantScope, id: MembershipId) -> StoreResult<Membership> {
        let sql = format!(
            "UPDATE memberships SET ended_at = coalesce(ended_at, greatest(now(), started_at)) \
             WHERE tenant_id = $1 AND id = $2 RETURNING {MEMBERSHIP_COLUMNS}"
        );
        let rows = self
            .write_audited(scope, "membership.end", "membership", &sql, &[&scope.tenant_id().as_uuid(), &id.as_uuid()])
            .await?;
        self.principals.changed(scope.tenant_id());
        one(rows, membership)
    }

    /// Links a user to a provider's subject, replacing the user's previous subject for that
    /// provider.
    pub async fn link_external_identity(
        &self,
        scope: &TenantScope,
        user: UserId,
        provider: IdentityProviderId,
        subject: &str,
    ) -> StoreResult<ExternalIdentity> {
        let mut conn = self.conn().await?;
        let tx = TenantTx::begin(&mut conn, scope.tenant_id()).await?;
        let tenant = scope.tenant_id().as_uuid();
        tx.query(
            "DELETE FROM user_external_identities WHERE tenant_id = $1 AND provider_id = $2 AND user_id = $3",
            &[&tenant, &provider.as_uuid(), &user.as_uuid()],
        )
        .await?;
        let row = tx
            .query_opt(
                "INSERT INTO user_external_identities (tenant_id, provider_id, subject, user_id) \
                 SELECT u.tenant_id, $2, $3, u.id FROM users u WHERE u.tenant_id = $1 AND u.id = $4 \
                 RETURNING provider_id, subject, user_id, created_at",
                &[&tenant, &provider.as_uuid(), &subject, &user.as_uuid()],
            )
            .await?;
        let linked = row.as_ref().map(external_identity).transpose()?.ok_or(StoreError::NotFound)?;
        crate::audit::trace_in(&tx, &self.who(scope), "external_identity.link", "user", user.as_uuid()).await?;
        tx.commit().await?;
        self.principals.changed(scope.tenant_id());
        Ok(linked)
    }

    pub async fn list_external_identities(
        &self,
        scope: &TenantScope,
        user: UserId,
    ) -> StoreResult<Vec<ExternalIdentity>> {
        let rows = self
            .read(
                scope.tenant_id(),
                "SELECT provider_id, subject, user_id, created_at FROM user_external_identities \
             WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at",
                &[&scope.tenant_id().as_uuid(), &user.as_uuid()],
            )
            .await?;
        all(&rows, external_identity)
    }

    pub async fn unlink_external_identity(
        &self,
        scope: &TenantScope,
        user: UserId,
        provider: IdentityProviderId,
    ) -> StoreResult<()> {
        let rows = self
            .write_audited(
                scope,
                "external_identity.unlink",
                "user",
                "DELETE FROM user_external_identities WHERE tenant_id = $1 AND provider_id = $2 AND user_id = $3 \
             RETURNING user_id AS id",
                &[&scope.tenant_id().as_uuid(), &provider.as_uuid(), &user.as_uuid()],
            )
            .await?;
        self.principals.changed(scope.tenant_id());
        if rows.is_empty() { Err(StoreError::NotFound) } else { Ok(()) }
    }
}

/// The tenant's people: users, their memberships, their external identities.
pub(crate) const FEATURE: Feature = Feature {
    name: "people",
    tables: &[
        Table {
            name: "users",
            sealed: &[],
            reseal: false,
            tenant_export: TenantExport::Rows { order: "id", derived: &[], defaulted: &[] },
            resident: None,
        },
        Table {
            name: "memberships",
            sealed: &[],
            reseal: false,
            tenant_export: TenantExport::Rows { order: "id", derived: &[], defaulted: &[] },
            resident: None,
        },
        Table {
            name: "user_external_identities",
            sealed: &[],
            reseal: false,
            tenant_export: TenantExport::Rows { order: "provider_id, subject", derived: &[], defaulted: &[] },
            resident: None,
        },
    ],
};
