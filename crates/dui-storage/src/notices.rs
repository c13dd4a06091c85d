//! The listener: one connection outside the pool that receives what other processes (other
//! servers, `dui` commands) announce on commit, and drops what this process has cached about it.
//!
//! * `dui_tenant_keys` (payload: the tenant): the tenant's keys were rotated or destroyed; its
//!   unwrapped keyring goes, so that new values are sealed with the new key at once.
//! * `dui_principals` (payload: the tenant): a tenant, user, membership or external identity of
//!   the tenant changed (triggers announce it, whoever writes); the tenant's cached principals go.
//! * `dui_outbox` (payload: the channel): a message was put in the outbox; the outbox workers
//!   wake up.
//!
//! A payload that is not a tenant id drops everything of that kind. While the listener is not
//! listening, principals are not cached at all and keyrings only for their lifetime.

use std::sync::Arc;
use std::time::Duration;

use dui_domain::TenantId;

use crate::Db;
use crate::keystore::KeyStore;
use crate::pool::Tls;
use crate::principals::PrincipalCache;

pub(crate) const KEYS_CHANNEL: &str = "dui_tenant_keys";
pub(crate) const PRINCIPALS_CHANNEL: &str = "dui_principals";
pub(crate) const OUTBOX_CHANNEL: &str = "dui_outbox";

/// How often the listener checks that its connection still answers (and how long it waits).
const HEARTBEAT: Duration = Duration::from_secs(5);

/// What the notices invalidate.
struct Caches {
    keys: Arc<KeyStore>,
    principals: Arc<PrincipalCache>,
    outbox: Arc<tokio::sync::Notify>,
}

impl Caches {
    fn notice(&self, channel: &str, payload: &str) {
        let tenant = payload.parse::<uuid::Uuid>().ok().map(TenantId::from_uuid);
        match (channel, tenant) {
            (KEYS_CHANNEL, Some(tenant)) => {
                tracing::debug!(%tenant, "keys changed elsewhere");
                self.keys.forget(tenant);
            }
            (KEYS_CHANNEL, None) => self.keys.forget_all(),
            (PRINCIPALS_CHANNEL, Some(tenant)) => self.principals.changed(tenant),
            (PRINCIPALS_CHANNEL, None) => self.principals.forget_all(),
            (OUTBOX_CHANNEL, _) => self.outbox.notify_waiters(),
            _ => {}
        }
    }
}

/// Listens on one connection until it fails.
async fn listen<S, T>(caches: &Caches, client: tokio_postgres::Client, mut connection: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let subscribe = async {
        let listen = format!("LISTEN {KEYS_CHANNEL}; LISTEN {PRINCIPALS_CHANNEL}; LISTEN {OUTBOX_CHANNEL}");
        match client.batch_execute(&listen).await {
            Ok(()) => {
                // Notices may have been missed while not listening; from now on none is.
                caches.keys.forget_all();
                caches.principals.set_listening(true);
                caches.outbox.notify_waiters();
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for changes");
                caches.keys.forget_all();
                return;
            }
        }
        // A connection can die without a word (a network partition, a failover): the
        // heartbeat finds out within seconds, where TCP keepalives take minutes, and listening
        // stops until a new connection listens (the caches are bypassed meanwhile).
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            match tokio::time::timeout(HEARTBEAT, client.simple_query("SELECT 1")).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "the change listener's connection failed its heartbeat");
                    return;
                }
                Err(_) => {
                    tracing::warn!("the change listener's connection did not answer its heartbeat");
                    return;
                }
            }
        }
    };
    let receive = async {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(notice)) => {
                    caches.notice(notice.channel(), notice.payload());
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "the change listener lost its connection");
                    break;
                }
            }
        }
    };
    tokio::select! {
        () = subscribe => {}
        () = receive => {}
    }
    caches.principals.set_listening(false);
}

/// Turns the principal cache off when dropped.
struct NotListening(Arc<PrincipalCache>);

impl Drop for NotListening {
    fn drop(&mut self) {
        self.0.set_listening(false);
    }
}

impl Db {
    /// Whether the listener receives change notices now (principals are cached only then).
    pub fn listening(&self) -> bool {
        self.principals.listening()
    }

    /// Listens for changes committed by other processes and drops what they make stale: a
    /// tenant's keyring when its keys change (`dui keys rotate-dek`, a shredding), a tenant's
    /// cached principals when its users or memberships change. Reconnects by itself; while it
    /// cannot listen, principals are read at every request and keyrings live their lifetime.
    /// The connection's `application_name` ends in `-listener`.
    pub fn spawn_listener(&self) -> tokio::task::JoinHandle<()> {
        let caches =
            Caches { keys: self.keys.clone(), principals: self.principals.clone(), outbox: self.outbox_bell.clone() };
        let mut config = self.listen_config.clone();
        let name = format!("{}-listener", config.get_application_name().unwrap_or("dui"));
        config.application_name(&name);
        let tls = self.tls.clone();
        tokio::spawn(async move {
            // Stopped (the task aborted), it no longer receives notices: the cache must know.
            let _stopped = NotListening(caches.principals.clone());
            loop {
                let failed = match &tls {
                    Tls::Plain => match config.connect(tokio_postgres::NoTls).await {
                        Ok((client, connection)) => {
                            listen(&caches, client, connection).await;
                            None
                        }
                        Err(error) => Some(error),
                    },
                    Tls::Verified(connector) => match config.connect(connector.clone()).await {
                        Ok((client, connection)) => {
                            listen(&caches, client, connection).await;
                            None
                        }
                        Err(error) => Some(error),
                    },
                };
                if let Some(error) = failed {
                    tracing::debug!(%error, "the change listener cannot connect yet");
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    }
}
