//! The UDP sockets of the driver.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sras_core::{RateLimiter, Transmit};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::MAX_DATAGRAM;

/// The sockets: the one the endpoint listens on, plus any bound for a [`Transmit::source`]
/// that names another local address (RFC 3193 §4 port float), each with a receive task.
pub(super) struct Io {
    pub(super) primary: UdpSocket,
    local: SocketAddr,
    extra: HashMap<SocketAddr, Arc<UdpSocket>>,
    unusable: HashSet<SocketAddr>,
    extra_tx: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    pub(super) extra_rx: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
    send_log: RateLimiter,
}

impl Io {
    pub(super) fn new(primary: UdpSocket) -> std::io::Result<Self> {
        let local = primary.local_addr()?;
        let (extra_tx, extra_rx) = mpsc::channel(256);
        Ok(Self {
            primary,
            local,
            extra: HashMap::new(),
            unusable: HashSet::new(),
            extra_tx,
            extra_rx,
            send_log: RateLimiter::new(10, Duration::from_secs(1)),
        })
    }

    /// Whether the primary socket already sends from `src`.
    pub(super) fn is_primary(&self, src: SocketAddr) -> bool {
        src == self.local
            || (src.port() == self.local.port()
                && (src.ip().is_unspecified() || self.local.ip().is_unspecified()))
    }

    pub(super) async fn send(&mut self, now: Instant, t: &Transmit) {
        let extra = match t.source {
            Some(src) if !self.is_primary(src) => self.extra_socket(src),
            _ => None,
        };
        let result = match &extra {
            Some(s) => s.send_to(&t.payload, t.destination).await,
            None => self.primary.send_to(&t.payload, t.destination).await,
        };
        if let Err(e) = result {
            if let Some(suppressed) = self.send_log.check(now) {
                warn!(to = %t.destination, error = %e, suppressed, "UDP send failed");
            }
        }
    }

    /// The socket bound to `src`, binding it on first use; `None` (logged once) if it cannot be.
    fn extra_socket(&mut self, src: SocketAddr) -> Option<Arc<UdpSocket>> {
        if let Some(s) = self.extra.get(&src) {
            return Some(Arc::clone(s));
        }
        if self.unusable.contains(&src) {
            return None;
        }
        match self.bind_extra(src) {
            Ok(s) => Some(s),
            Err(e) => {
                warn!(local = %src, fallback = %self.local, error = %e, "cannot send from this local address; using the listening socket");
                self.unusable.insert(src);
                None
            }
        }
    }

    /// Binds a socket to `src` and starts the task that feeds what it receives to the loop.
    pub(super) fn bind_extra(&mut self, src: SocketAddr) -> std::io::Result<Arc<UdpSocket>> {
        let s = std::net::UdpSocket::bind(src)?;
        s.set_nonblocking(true)?;
        let s = Arc::new(UdpSocket::from_std(s)?);
        info!(local = %src, "bound an extra UDP socket for a floated local address (RFC 3193 §4)");
        let (rx_sock, tx) = (Arc::clone(&s), self.extra_tx.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                match rx_sock.recv_from(&mut buf).await {
                    Ok((n, remote)) => {
                        if tx.send((remote, buf[..n].to_vec())).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        debug!(local = %src, error = %e, "UDP receive error");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
        self.extra.insert(src, Arc::clone(&s));
        Ok(s)
    }
}
