//! The connections the server accepts: each must send its request headers within a few seconds
//! (a client that trickles them — slowloris — is closed), the server holds at most so many at
//! once, and one client address at most so many of them, so that one client cannot take the
//! file descriptors and the memory the others need. A connection over a cap is closed at once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits on connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A connection whose request headers are not complete within this time is closed (also
    /// a kept-alive connection idle for longer).
    pub header_read_timeout: Duration,
    /// Connections open at once, all clients together.
    pub max_connections: usize,
    /// Connections open at once from one client address; 0: no cap (behind a reverse proxy,
    /// every connection comes from the proxy's address).
    pub max_per_client: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { header_read_timeout: Duration::from_secs(5), max_connections: 10_000, max_per_client: 256 }
    }
}

/// Connections open per client address.
type PerClient = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// The connections open, counted as they are accepted and closed.
#[derive(Debug)]
pub(crate) struct Gate {
    limits: ConnectionLimits,
    total: Arc<Semaphore>,
    per_client: PerClient,
}

/// A connection let in; its place is given back when it is dropped.
#[derive(Debug)]
pub(crate) struct Admitted {
    _total: OwnedSemaphorePermit,
    client: Option<(IpAddr, PerClient)>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some((address, counts)) = self.client.take() {
            let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(open) = counts.get_mut(&address) {
                *open -= 1;
                if *open == 0 {
                    counts.remove(&address);
                }
            }
        }
    }
}

/// Why a connection was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Full,
    ClientFull,
}

impl Gate {
    pub(crate) fn new(limits: ConnectionLimits) -> Self {
        Self {
            limits,
            total: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            per_client: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub(crate) fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// Lets a connection from `peer` in, if the caps allow it.
    pub(crate) fn admit(&self, peer: SocketAddr) -> Result<Admitted, Refused> {
        let total = self.total.clone().try_acquire_owned().map_err(|_| Refused::Full)?;
        if self.limits.max_per_client == 0 {
            return Ok(Admitted { _total: total, client: None });
        }
        let address = canonical(peer.ip());
        let mut counts = self.per_client.lock().unwrap_or_else(|e| e.into_inner());
        let open = counts.entry(address).or_insert(0);
        if *open >= self.limits.max_per_client {
            return Err(Refused::ClientFull);
        }
        *open += 1;
        Ok(Admitted { _total: total, client: Some((address, self.per_client.clone())) })
    }
}

/// An IPv4 client seen through an IPv6 socket counts as itself.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_connections_and_give_places_back() {
        let gate = Gate::new(ConnectionLimits { max_connections: 3, max_per_client: 2, ..Default::default() });
        let (a, b): (SocketAddr, SocketAddr) = ("127.0.0.2:1000".parse().unwrap(), "127.0.0.3:1000".parse().unwrap());
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).unwrap_err(), Refused::ClientFull);
        let _third = gate.admit(b).unwrap();
        assert_eq!(gate.admit(b).unwrap_err(), Refused::Full);
        drop(first);
        assert!(gate.admit(a).is_ok(), "a closed connection gives its place back");
        // The same client through an IPv6 socket.
        let mapped: SocketAddr = "[::ffff:127.0.0.2]:1000".parse().unwrap();
        assert_eq!(canonical(mapped.ip()), a.ip());
    }
}
