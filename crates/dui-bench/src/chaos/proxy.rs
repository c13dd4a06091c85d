//! A TCP proxy between the server and PostgreSQL that can cut the network: refuse (every
//! connection closed, new ones refused, as when a database host goes away) or stall (the
//! connections stay open and nothing goes through, as when packets are dropped), then heal.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Every connection closed; new ones closed as they arrive.
    Refuse,
    /// Connections stay open; no byte goes through either way.
    Stall,
}

#[derive(Debug, Clone)]
pub struct Proxy {
    pub port: u16,
    mode: Arc<watch::Sender<Mode>>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`.
    pub async fn start(upstream: std::net::SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (mode, _) = watch::channel(Mode::Pass);
        let mode = Arc::new(mode);
        let accepting = mode.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rx = accepting.subscribe();
                if *rx.borrow() == Mode::Refuse {
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(pump(client_read, server_write, rx.clone()), pump(server_read, client_write, rx));
                });
            }
        });
        Ok(Self { port, mode })
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

/// Waits while the link is stalled; whether bytes may pass (false once it is cut).
async fn may_pass(mode: &mut watch::Receiver<Mode>) -> bool {
    loop {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Pass => return true,
            Mode::Refuse => return false,
            Mode::Stall => {
                if mode.changed().await.is_err() {
                    return false;
                }
            }
        }
    }
}

/// Copies one direction while the mode lets it; returns (closing its side) at the end of the
/// stream or when the mode turns to `Refuse`.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if !may_pass(&mut mode).await {
            break;
        }
        // Reading is cancel-safe: a mode change before anything was read loses nothing.
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = mode.changed() => continue,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                // What was read goes through, unless the link is cut meanwhile.
                if !may_pass(&mut mode).await {
                    break;
                }
                if to.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}
