//! The connections the server accepts: once a request's first byte arrives, its headers must be
//! complete within a few seconds (a client that trickles them — slowloris — is closed), while a
//! kept-alive connection may wait idle longer (as long as the proxies in front keep theirs);
//! the server holds at most so many connections at once, and one client address at most so
//! many of them, so that one client cannot take the file descriptors and the memory the others
//! need. A connection over a cap is closed at once.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// The limits on connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From a request's first byte, the time its headers may take; past it, the connection is
    /// closed.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may wait idle for its next request.
    pub keep_alive_idle: Duration,
    /// Connections open at once, all clients together.
    pub max_connections: usize,
    /// Connections open at once from one client address; 0: no cap (behind a reverse proxy,
    /// every connection comes from the proxy's address).
    pub max_per_client: usize,
    /// The most a request's line and headers may take. Past it the answer is `431` and the
    /// connection closes. Without it, hyper let a header of 100 kB through to the handlers
    /// when it arrived in one read.
    pub max_header_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(5),
            keep_alive_idle: Duration::from_secs(75),
            max_connections: 10_000,
            max_per_client: 256,
            max_header_bytes: 64 * 1024,
        }
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

/// Where a connection is in its current request, as far as its headers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests: nothing of the next one has arrived.
    Idle,
    /// The headers are arriving; `newlines` counts the line ends in a row (carriage returns
    /// aside): two end the headers.
    Head { newlines: u8 },
    /// The headers are complete: the body, the handling and the answer are bounded elsewhere
    /// (body limit, request timeout).
    Body,
}

/// A connection whose request headers must be complete within `limit` of their first byte.
/// Reading them is watched for the end of the headers (an empty line); writing the answer ends
/// the request, so the next byte read starts the next one.
pub(crate) struct HeadDeadline<S> {
    inner: S,
    limit: Duration,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
}

impl<S> HeadDeadline<S> {
    pub(crate) fn new(inner: S, limit: Duration) -> Self {
        Self { inner, limit, phase: Phase::Idle, deadline: Box::pin(tokio::time::sleep(limit)) }
    }

    fn saw(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let newlines = match self.phase {
                Phase::Body => return,
                Phase::Idle => {
                    self.deadline.as_mut().reset(Instant::now() + self.limit);
                    0
                }
                Phase::Head { newlines } => newlines,
            };
            let newlines = match byte {
                b'\n' => newlines + 1,
                b'\r' => newlines,
                _ => 0,
            };
            self.phase = if newlines >= 2 { Phase::Body } else { Phase::Head { newlines } };
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadDeadline<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            this.saw(&buf.filled()[before..]);
        }
        if matches!(this.phase, Phase::Head { .. }) && this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the request headers took too long")));
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadDeadline<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.phase = Phase::Idle;
        Pin::new(&mut this.inner).poll_write(cx, bytes)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.phase = Phase::Idle;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_headers_end_at_an_empty_line_and_the_body_is_not_scanned() {
        let mut watched = HeadDeadline::new((), Duration::from_secs(5));
        watched.saw(b"GET / HTTP/1.1\r\nHost: dui\r\n");
        assert_eq!(watched.phase, Phase::Head { newlines: 1 });
        watched.saw(b"\r");
        assert_eq!(watched.phase, Phase::Head { newlines: 1 });
        watched.saw(b"\n{\"a\":\"\n\n\"}");
        assert_eq!(watched.phase, Phase::Body, "the body is not scanned");
        // Bare line feeds end headers too.
        watched.phase = Phase::Head { newlines: 0 };
        watched.saw(b"GET / HTTP/1.1\nHost: dui\n\n");
        assert_eq!(watched.phase, Phase::Body);
    }

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
