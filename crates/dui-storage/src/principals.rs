//! The cache of principals: what authentication reads about a token's user (the tenant's and the
//! user's status, the user's current memberships), kept so that a request of a known user needs
//! no look-up of its own.
//!
//! A cached principal must never outlive a change to what it was read from. Three mechanisms
//! keep it so:
//!
//! * **Notices.** Triggers on `tenants`, `users`, `memberships` and `user_external_identities`
//!   announce, on commit, the tenant whose principals changed (channel `dui_principals`), to
//!   every server. The listener drops that tenant's entries as the notice arrives. This process's
//!   own changes drop them at once too, before their request is answered.
//! * **Generations.** A look-up notes the generation before it reads and stores its result only
//!   if no notice came in between: a result read before a change cannot be stored after the
//!   notice of that change.
//! * **Only while listening.** The cache answers only while the listener's `LISTEN` is in force.
//!   When its connection is lost the cache is emptied and bypassed until it listens again; a
//!   heartbeat every few seconds finds a connection that died without a word (a partition, a
//!   failover), and a lifetime (`ttl`) bounds the rest.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dui_domain::TenantId;

use dui_domain::people::{Role, UserStatus};
use dui_domain::scope::Grant;
use dui_domain::tenant::TenantStatus;
use dui_domain::{EstablishmentId, IdentityProviderId, UserId};

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

/// The most principals kept; past it, the expired go, then everything (a rare, cheap reset).
const CAPACITY: usize = 100_000;

#[derive(Debug)]
struct Entry {
    principal: Principal,
    loaded_at: Instant,
}

#[derive(Debug, Default)]
struct State {
    /// Whether notices are being received (the listener's `LISTEN` is in force).
    listening: bool,
    /// Moves on at every notice, connection loss and reconnection.
    generation: u64,
    entries: HashMap<(TenantId, PrincipalKey), Entry>,
}

impl State {
    /// Drops the entries `keep` refuses, and makes looks-up in flight stale.
    fn invalidate(&mut self, keep: impl FnMut(&(TenantId, PrincipalKey), &mut Entry) -> bool) {
        self.generation += 1;
        self.entries.retain(keep);
    }
}

/// Principals by tenant and key. See the module's documentation for why it stays true.
#[derive(Debug)]
pub(crate) struct PrincipalCache {
    ttl: Duration,
    state: Mutex<State>,
}

/// A look-up's ticket: the generation when it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

impl PrincipalCache {
    /// A cache whose entries live `ttl` at most; a zero `ttl` turns it off.
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached principal, when notices are being received and it is young enough.
    pub(crate) fn get(&self, tenant: TenantId, key: &PrincipalKey) -> Option<Principal> {
        let state = self.state();
        if !state.listening {
            return None;
        }
        let entry = state.entries.get(&(tenant, key.clone()))?;
        (entry.loaded_at.elapsed() < self.ttl).then(|| entry.principal.clone())
    }

    /// Whether notices are being received.
    pub(crate) fn listening(&self) -> bool {
        self.state().listening
    }

    /// Taken before reading a principal from the database.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.state().generation)
    }

    /// Keeps a principal read under `ticket`, unless a notice (or a loss of the listener) came
    /// since: what was read may then already be out of date.
    pub(crate) fn put(&self, tenant: TenantId, key: &PrincipalKey, principal: &Principal, ticket: Ticket) -> bool {
        if self.ttl.is_zero() {
            return false;
        }
        let mut state = self.state();
        if !state.listening || state.generation != ticket.0 {
            return false;
        }
        if state.entries.len() >= CAPACITY {
            let ttl = self.ttl;
            state.entries.retain(|_, e| e.loaded_at.elapsed() < ttl);
            if state.entries.len() >= CAPACITY {
                state.entries.clear();
            }
        }
        let entry = Entry { principal: principal.clone(), loaded_at: Instant::now() };
        state.entries.insert((tenant, key.clone()), entry);
        true
    }

    /// A tenant's principals changed: its entries go, and looks-up in flight do not store theirs.
    pub(crate) fn changed(&self, tenant: TenantId) {
        self.state().invalidate(|(t, _), _| *t != tenant);
    }

    /// Everything goes (a notice that names no tenant).
    pub(crate) fn forget_all(&self) {
        self.state().invalidate(|_, _| false);
    }

    /// Notices are received from now on (called once `LISTEN` is in force), or no longer (the
    /// listener's connection is lost). Either way what is cached goes: notices may have been
    /// missed.
    pub(crate) fn set_listening(&self, listening: bool) {
        let mut state = self.state();
        state.listening = listening;
        state.invalidate(|_, _| false);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use dui_domain::people::UserStatus;
    use dui_domain::tenant::TenantStatus;
    use dui_domain::{IdentityProviderId, UserId};

    use super::*;

    fn principal(status: UserStatus) -> Principal {
        Principal { tenant_status: TenantStatus::Active, user: Some((id::<UserId>(), status)), grants: Vec::new() }
    }

    fn id<T: From<uuid::Uuid>>() -> T {
        uuid::Uuid::new_v4().into()
    }

    fn listening(ttl: Duration) -> PrincipalCache {
        let cache = PrincipalCache::new(ttl);
        cache.set_listening(true);
        cache
    }

    #[test]
    fn keeps_and_returns_a_principal_while_listening() {
        let cache = listening(Duration::from_secs(30));
        let (tenant, key) = (id::<TenantId>(), PrincipalKey::User(id::<UserId>()));
        let read = principal(UserStatus::Disabled);
        assert!(cache.put(tenant, &key, &read, cache.ticket()));
        assert_eq!(cache.get(tenant, &key), Some(read));
        assert_eq!(cache.get(id::<TenantId>(), &key), None, "another tenant's key is not found");
        assert_eq!(cache.get(tenant, &PrincipalKey::User(id::<UserId>())), None);
    }

    #[test]
    fn nothing_is_kept_or_returned_when_not_listening() {
        let cache = PrincipalCache::new(Duration::from_secs(30));
        let (tenant, key) = (id::<TenantId>(), PrincipalKey::User(id::<UserId>()));
        assert!(!cache.put(tenant, &key, &principal(UserStatus::Active), cache.ticket()));
        cache.set_listening(true);
        assert!(cache.put(tenant, &key, &principal(UserStatus::Active), cache.ticket()));
        cache.set_listening(false);
        assert_eq!(cache.get(tenant, &key), None);
        assert_eq!(cache.len(), 0, "losing the listener empties the cache");
    }

    #[test]
    fn a_result_read_before_a_change_is_not_kept_after_its_notice() {
        let cache = listening(Duration::from_secs(30));
        let (tenant, key) = (id::<TenantId>(), PrincipalKey::User(id::<UserId>()));
        let ticket = cache.ticket();
        // The look-up reads; meanwhile a change commits and its notice arrives.
        cache.changed(tenant);
        assert!(!cache.put(tenant, &key, &principal(UserStatus::Active), ticket));
        assert_eq!(cache.get(tenant, &key), None);
        // Nor one read before the listener came back.
        let ticket = cache.ticket();
        cache.set_listening(false);
        cache.set_listening(true);
        assert!(!cache.put(tenant, &key, &principal(UserStatus::Active), ticket));
    }

    #[test]
    fn a_notice_drops_its_tenant_only() {
        let cache = listening(Duration::from_secs(30));
        let (one, other) = (id::<TenantId>(), id::<TenantId>());
        let key = PrincipalKey::External { provider: id::<IdentityProviderId>(), subject: "s".into() };
        assert!(cache.put(one, &key, &principal(UserStatus::Active), cache.ticket()));
        assert!(cache.put(other, &key, &principal(UserStatus::Active), cache.ticket()));
        cache.changed(one);
        assert_eq!(cache.get(one, &key), None);
        assert!(cache.get(other, &key).is_some());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn entries_expire_and_a_zero_lifetime_keeps_nothing() {
        let cache = listening(Duration::from_millis(20));
        let (tenant, key) = (id::<TenantId>(), PrincipalKey::User(id::<UserId>()));
        assert!(cache.put(tenant, &key, &principal(UserStatus::Active), cache.ticket()));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.get(tenant, &key), None);
        let off = listening(Duration::ZERO);
        assert!(!off.put(tenant, &key, &principal(UserStatus::Active), off.ticket()));
        assert_eq!(off.get(tenant, &key), None);
    }

    #[test]
    fn stays_within_its_capacity() {
        let cache = listening(Duration::from_secs(30));
        let tenant = id::<TenantId>();
        for _ in 0..CAPACITY + 10 {
            assert!(cache.put(
                tenant,
                &PrincipalKey::User(id::<UserId>()),
                &principal(UserStatus::Active),
                cache.ticket()
            ));
        }
        assert!(cache.len() <= CAPACITY);
    }
}
