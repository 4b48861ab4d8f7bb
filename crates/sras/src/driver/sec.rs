//! IPsec under the L2TP endpoint (sras-stack's [`Ipsec`]): the IKE and NAT-T sockets, the raw
//! ESP socket, sealing every L2TP datagram for its peer, and the teardown rules of RFC 3193
//! §3.1 and seed 000 §5 both ways.
//!
//! - The IPsec layer reports a peer's first SA pair (`PeerUp`): the client opens its tunnel to
//!   the peer key then. A peer's last SA gone (`PeerDown`: Delete, DPD, expiry) aborts every L2TP
//!   tunnel of that peer at once (nothing can reach it any more), which ends the PPP sessions and
//!   frees their addresses.
//! - An L2TP tunnel closed (`TunnelClosed`): once the peer has no other open tunnel, after
//!   [`CLOSE_DELAY`] (so that the StopCCN and its acknowledgement still pass), its IPsec and
//!   ISAKMP SAs are deleted with Delete notifications.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use sras_core::{RateLimiter, Transmit};
use sras_stack::{Destination, Event, Ipsec, SealError, HEADROOM, TAILROOM};
use tokio::net::UdpSocket;
use tracing::{debug, error, info, warn};

use super::ike::id_text;
use super::{Driver, MAX_DATAGRAM};
use crate::keylog::{esp_line, ikev1_line, KeyLog};
use crate::mmsg::SendBatch;
use crate::rawesp::RawEsp;

/// How long after its last tunnel closed a peer's SAs are deleted: longer than pppd's 3 s
/// LCP Terminate-Request restart timer, so that a client's late Terminate-Request still goes
/// through ESP instead of leaving in the clear once its SAs are gone.
const CLOSE_DELAY: Duration = Duration::from_secs(5);

/// ESP packets with an unknown SPI kept, and for how long, in case their SA is about to be
/// installed (the last Quick Mode message and the first ESP packet race).
const EARLY_ESP: usize = 16;
const EARLY_ESP_AGE: Duration = Duration::from_secs(2);

/// Keeps an ESP packet whose SPI is not known yet (the oldest goes when full).
fn hold_early(sec: &mut Sec, now: Instant, buf: &[u8], remote: Option<SocketAddr>) {
    if buf.len() > 2048 {
        return;
    }
    if sec.early.len() == EARLY_ESP {
        sec.early.pop_front();
    }
    sec.early.push_back((now, buf.to_vec(), remote));
}

/// What the IPsec side is started with.
pub(crate) struct SecSetup {
    /// The layer (with its IKE endpoint configured).
    pub(crate) ipsec: Ipsec,
    /// `ike.listen`.
    pub(crate) listen: IpAddr,
    /// `ike.port`.
    pub(crate) port: u16,
    /// `ike.natt_port`.
    pub(crate) natt_port: u16,
    /// `ike.keylog`, opened.
    pub(crate) keylog: Option<KeyLog>,
}

/// The IPsec side of the driver.
pub(super) struct Sec {
    pub(super) ipsec: Ipsec,
    pub(super) ike: UdpSocket,
    pub(super) natt: UdpSocket,
    pub(super) raw: Option<RawEsp>,
    /// Raw ICMP: the outer path's "fragmentation needed" (seed 001 §3.2).
    pub(super) icmp: Option<RawEsp>,
    listen: IpAddr,
    port: u16,
    natt_port: u16,
    locals: HashMap<IpAddr, IpAddr>,
    keylog: Option<KeyLog>,
    /// Peers whose last tunnel closed, and when to delete their SAs.
    pending_close: Vec<(SocketAddr, Instant)>,
    /// Scratch for sealing: one datagram with room for ESP around it.
    buf: Vec<u8>,
    /// Sealed datagrams the fast path found no room for in the socket, sent by `flush`.
    backlog: std::collections::VecDeque<(Vec<u8>, Destination)>,
    /// ESP with an SPI not installed yet (NAT-T: the peer's address), for a moment.
    early: std::collections::VecDeque<(Instant, Vec<u8>, Option<SocketAddr>)>,
    /// Sealed datagrams of this wake-up, sent together (sendmmsg) by `flush_batches`.
    batch_natt: SendBatch,
    batch_raw: SendBatch,
    log: RateLimiter,
}

async fn bind(addr: SocketAddr, what: &str) -> Result<UdpSocket, String> {
    UdpSocket::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "cannot bind UDP {addr} ({what}): address already in use; another IKE daemon (strongSwan charon, Libreswan pluto, racoon) may hold the port: stop it, or set ike.listen to another address"
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "cannot bind UDP {addr} ({what}): permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        ),
        _ => format!("cannot bind UDP {addr} ({what}): {e}"),
    })
}

impl Sec {
    pub(super) async fn bind(setup: SecSetup) -> Result<Self, String> {
        let ike = bind(
            SocketAddr::new(setup.listen, setup.port),
            "ike.listen, ike.port",
        )
        .await?;
        let natt = bind(
            SocketAddr::new(setup.listen, setup.natt_port),
            "ike.listen, ike.natt_port",
        )
        .await?;
        let raw_local = match setup.listen {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        let raw = match RawEsp::bind(raw_local) {
            Ok(r) => Some(r),
            Err(e) => {
                warn!(error = %e, "cannot open the raw ESP socket (IP protocol 50; needs root or CAP_NET_RAW): only ESP in UDP (NAT-T) will work");
                None
            }
        };
        let icmp = match raw.as_ref().map(|_| RawEsp::bind_icmp(raw_local)) {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                warn!(error = %e, "cannot open a raw ICMP socket: the outer path MTU will not follow ICMP fragmentation-needed");
                None
            }
            None => None,
        };
        Ok(Self {
            ipsec: setup.ipsec,
            ike,
            natt,
            raw,
            icmp,
            listen: setup.listen,
            port: setup.port,
            natt_port: setup.natt_port,
            locals: HashMap::new(),
            keylog: setup.keylog,
            pending_close: Vec::new(),
            buf: vec![0u8; HEADROOM + MAX_DATAGRAM + TAILROOM],
            backlog: std::collections::VecDeque::new(),
            early: std::collections::VecDeque::new(),
            batch_natt: SendBatch::new(),
            batch_raw: SendBatch::new(),
            log: RateLimiter::new(10, Duration::from_secs(1)),
        })
    }

    /// Our address towards `remote` (see the `sras ike` driver).
    pub(super) fn local_ip_for(&mut self, remote: IpAddr) -> IpAddr {
        if !self.listen.is_unspecified() {
            return self.listen;
        }
        if let Some(a) = self.locals.get(&remote) {
            return *a;
        }
        let any: IpAddr = if remote.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        let found = std::net::UdpSocket::bind(SocketAddr::new(any, 0))
            .and_then(|s| {
                s.connect(SocketAddr::new(remote, self.port))?;
                s.local_addr()
            })
            .map(|a| a.ip());
        let ip = found.unwrap_or(self.listen);
        if self.locals.len() >= 4096 {
            self.locals.clear();
        }
        self.locals.insert(remote, ip);
        ip
    }

    /// Our IKE address (port `ike.port` or `natt`) towards `remote`.
    pub(super) fn local_for(&mut self, remote: IpAddr, natt: bool) -> SocketAddr {
        let port = if natt { self.natt_port } else { self.port };
        SocketAddr::new(self.local_ip_for(remote), port)
    }

    /// Sends one IKE datagram on the socket its source port names.
    async fn send_ike(&mut self, t: &Transmit, now: Instant) {
        let natt = t.source.is_some_and(|s| s.port() == self.natt_port);
        let socket = if natt { &self.natt } else { &self.ike };
        if let Err(e) = socket.send_to(&t.payload, t.destination).await {
            if self.log.check(now).is_some() {
                warn!(to = %t.destination, error = %e, "IKE send failed");
            }
        }
    }

    fn keylog(&mut self, line: &str) {
        let Some(k) = &mut self.keylog else { return };
        if let Err(e) = k.write(line) {
            error!(error = %e, "cannot write to ike.keylog; no more keys are logged");
            self.keylog = None;
        }
    }
}

impl Driver {
    /// Whether L2TP datagrams to `remote` go through IPsec.
    pub(super) fn is_ipsec_peer(&self, remote: SocketAddr) -> bool {
        self.sec
            .as_ref()
            .is_some_and(|s| s.ipsec.peer_info(remote).is_some())
    }

    /// Sends one L2TP datagram: sealed in ESP if IPsec protects (or must protect) its peer,
    /// in the clear only where `l2tp.plain` allows it.
    pub(super) async fn send_l2tp(&mut self, now: Instant, t: &Transmit) {
        let plain_ok = self.plain && !self.is_ipsec_peer(t.destination);
        let Some(sec) = self.sec.as_mut().filter(|_| !plain_ok) else {
            if self.plain {
                self.io.send(now, t).await;
            }
            return;
        };
        let len = t.payload.len();
        if len > MAX_DATAGRAM {
            return;
        }
        sec.buf[HEADROOM..HEADROOM + len].copy_from_slice(&t.payload);
        let sealed =
            sec.ipsec
                .seal_l2tp(now, t.destination, &mut sec.buf, HEADROOM..HEADROOM + len);
        match sealed {
            Ok(s) => {
                let bytes = &sec.buf[s.range];
                let r = match s.destination {
                    Destination::Udp { destination, .. } => {
                        sec.natt.send_to(bytes, destination).await.map(|_| ())
                    }
                    Destination::Esp { destination, .. } => match (&sec.raw, destination) {
                        (Some(raw), IpAddr::V4(d)) => raw.send_to(bytes, d).await,
                        _ => Err(std::io::Error::other("no raw ESP socket")),
                    },
                };
                if let Err(e) = r {
                    if sec.log.check(now).is_some() {
                        warn!(to = %t.destination, error = %e, "ESP send failed");
                    }
                }
            }
            Err(SealError::NoSa(_)) => {
                if sec.log.check(now).is_some() {
                    debug!(to = %t.destination, "L2TP datagram dropped: no IPsec SA for this peer (never sent in the clear)");
                }
            }
            Err(e) => {
                if sec.log.check(now).is_some() {
                    warn!(to = %t.destination, error = %e, "L2TP datagram not sealed");
                }
            }
        }
    }

    /// Data-plane fast path: seals the L2TP datagram at `buf[range]` in place for `to` (which
    /// needs [`HEADROOM`] before it and [`TAILROOM`] after it) and sends it if the socket takes
    /// it now; a full socket keeps it for [`Driver::flush`] in order. False when the datagram
    /// is not for an IPsec peer (the caller sends it the plain way).
    pub(super) fn send_sealed_now(
        &mut self,
        now: Instant,
        to: SocketAddr,
        buf: &mut [u8],
        range: std::ops::Range<usize>,
    ) -> bool {
        let plain_ok = self.plain && !self.is_ipsec_peer(to);
        let Some(sec) = self.sec.as_mut().filter(|_| !plain_ok) else {
            return !self.plain;
        };
        let sealed = match sec.ipsec.seal_l2tp(now, to, buf, range) {
            Ok(s) => s,
            Err(e) => {
                if sec.log.check(now).is_some() {
                    debug!(to = %to, error = %e, "L2TP datagram not sealed (never sent in the clear)");
                }
                return true;
            }
        };
        let bytes = &buf[sealed.range];
        if sec.backlog.is_empty() {
            // Gathered for one sendmmsg at the end of the wake-up (or now, when full).
            let queued = match sealed.destination {
                Destination::Udp { destination, .. } => sec.batch_natt.push(bytes, destination),
                Destination::Esp {
                    destination: IpAddr::V4(d),
                    ..
                } if sec.raw.is_some() => {
                    sec.batch_raw.push(bytes, SocketAddr::new(IpAddr::V4(d), 0))
                }
                Destination::Esp { .. } => return true,
            };
            if queued {
                if sec.batch_natt.is_full() || sec.batch_raw.is_full() {
                    self.flush_batches(now);
                }
                return true;
            }
        }
        sec.backlog.push_back((bytes.to_vec(), sealed.destination));
        true
    }

    /// Sends the gathered datagrams, one sendmmsg per socket; what the socket had no room for
    /// goes to the backlog, in order, for `flush` to wait on.
    pub(super) fn flush_batches(&mut self, now: Instant) {
        use std::os::fd::AsRawFd;
        let Some(sec) = self.sec.as_mut() else { return };
        let natt_fd = sec.natt.as_raw_fd();
        let raw_fd = sec.raw.as_ref().map(RawEsp::raw_fd);
        for (batch, fd, udp) in [
            (&mut sec.batch_natt, Some(natt_fd), true),
            (&mut sec.batch_raw, raw_fd, false),
        ] {
            let Some(fd) = fd else { continue };
            while !batch.is_empty() {
                match batch.send(fd) {
                    Ok(_) => {}
                    Err(e) => {
                        if e.kind() != std::io::ErrorKind::WouldBlock {
                            if sec.log.check(now).is_some() {
                                warn!(error = %e, "ESP send failed");
                            }
                            // The failing datagram goes; the others still get their chance.
                            let mut rest = batch.take_pending();
                            if !rest.is_empty() {
                                rest.remove(0);
                            }
                            for (b, a) in rest {
                                let _ = batch.push(&b, a);
                            }
                            continue;
                        }
                        for (bytes, to) in batch.take_pending() {
                            let destination = if udp {
                                Destination::Udp {
                                    source: to,
                                    destination: to,
                                }
                            } else {
                                Destination::Esp {
                                    source: to.ip(),
                                    destination: to.ip(),
                                }
                            };
                            sec.backlog.push_back((bytes, destination));
                        }
                    }
                }
            }
        }
    }

    /// Sends what the fast path could not (the socket was full), in order; false when nothing
    /// was waiting.
    pub(super) async fn send_backlog(&mut self, now: Instant) -> bool {
        let Some(sec) = self.sec.as_mut() else {
            return false;
        };
        if sec.backlog.is_empty() {
            return false;
        }
        while let Some((bytes, destination)) = sec.backlog.pop_front() {
            let r = match destination {
                Destination::Udp { destination, .. } => {
                    sec.natt.send_to(&bytes, destination).await.map(|_| ())
                }
                Destination::Esp { destination, .. } => match (&sec.raw, destination) {
                    (Some(raw), IpAddr::V4(d)) => raw.send_to(&bytes, d).await,
                    _ => Err(std::io::Error::other("no raw ESP socket")),
                },
            };
            if let Err(e) = r {
                if sec.log.check(now).is_some() {
                    warn!(error = %e, "ESP send failed");
                }
            }
        }
        true
    }

    /// An ICMP message from the raw ICMP socket: a "fragmentation needed" about ESP we sent to
    /// a peer lowers that peer's path MTU, and with it what its sessions carry in one packet
    /// (seed 001 §3.2); larger packets with DF set are then answered with a "fragmentation
    /// needed" of our own, larger ones without are still sent (the kernel fragments the ESP).
    pub(super) fn on_icmp(&mut self, packet: &[u8]) {
        let Some(f) = sras_stack::mtu::parse_frag_needed(packet) else {
            return;
        };
        let Some(sec) = self.sec.as_mut() else { return };
        let Some((peer, mtu)) = sec.ipsec.path_mtu_exceeded(&f) else {
            return;
        };
        let Some(info) = sec.ipsec.peer_info(peer) else {
            return;
        };
        let limit = sras_stack::mtu::ppp_mru(mtu, info.overhead, u16::MAX);
        let sessions: Vec<_> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                self.tunnels
                    .get(&s.tunnel)
                    .is_some_and(|t| t.remote == peer)
            })
            .map(|(h, _)| *h)
            .collect();
        for s in &sessions {
            self.ppp.set_path_limit(*s, limit);
        }
        info!(
            peer = %peer,
            ike = %info.ike_remote,
            path_mtu = mtu,
            reported = f.mtu,
            ip_mtu = limit,
            sessions = sessions.len(),
            "ICMP fragmentation needed: path MTU to the peer lowered"
        );
    }

    /// The IP packet limit of `session` from its peer's path MTU, if an ICMP lowered it.
    pub(super) fn path_limit_for(&self, session: sras_l2tp::SessionHandle) -> Option<u16> {
        let tunnel = self.sessions.get(&session)?.tunnel;
        let remote = self.tunnels.get(&tunnel)?.remote;
        let info = self.sec.as_ref()?.ipsec.peer_info(remote)?;
        Some(sras_stack::mtu::ppp_mru(
            info.path_mtu?,
            info.overhead,
            u16::MAX,
        ))
    }

    /// A datagram on the IKE or NAT-T socket.
    pub(super) fn on_ike_datagram(
        &mut self,
        now: Instant,
        natt: bool,
        remote: SocketAddr,
        buf: &mut [u8],
    ) {
        let Some(sec) = self.sec.as_mut() else { return };
        let remote = SocketAddr::new(remote.ip().to_canonical(), remote.port());
        let local = sec.local_for(remote.ip(), natt);
        match sec.ipsec.handle_udp(now, local, remote, buf) {
            Ok(Some(d)) => self.on_l2tp(now, d.peer, &buf[d.payload]),
            Ok(None) => {}
            Err(sras_stack::DropReason::UnknownSpi(_)) if natt => {
                hold_early(sec, now, buf, Some(remote));
            }
            Err(e) => {
                if sec.log.check(now).is_some() {
                    debug!(peer = %remote, error = %e, "datagram dropped");
                }
            }
        }
    }

    /// A datagram from the raw ESP socket (with its IPv4 header).
    pub(super) fn on_raw_esp(&mut self, now: Instant, buf: &mut [u8]) {
        let Some(sec) = self.sec.as_mut() else { return };
        let (src, range) = match sras_esp::raw::strip_ipv4(buf) {
            Ok(r) => (r.src, r.header_len..r.header_len + r.esp.len()),
            Err(e) => {
                if sec.log.check(now).is_some() {
                    debug!(error = %e, "raw ESP datagram dropped");
                }
                return;
            }
        };
        match sec.ipsec.handle_esp(now, IpAddr::V4(src), buf, range) {
            Ok(Some(d)) => self.on_l2tp(now, d.peer, &buf[d.payload]),
            Ok(None) => {}
            Err(sras_stack::DropReason::UnknownSpi(_)) => hold_early(sec, now, buf, None),
            Err(e) => {
                if sec.log.check(now).is_some() {
                    debug!(peer = %src, error = %e, "ESP packet dropped");
                }
            }
        }
    }

    /// Sends what IKE queued and acts on the layer's events; returns whether anything moved.
    pub(super) async fn pump_sec(&mut self, now: Instant) -> bool {
        let mut progress = false;
        loop {
            let Some(sec) = self.sec.as_mut() else {
                return progress;
            };
            if let Some(t) = sec.ipsec.poll_transmit() {
                progress = true;
                sec.send_ike(&t, now).await;
                continue;
            }
            let Some(e) = sec.ipsec.poll_event() else {
                return progress;
            };
            progress = true;
            self.on_sec_event(now, e);
        }
    }

    fn on_sec_event(&mut self, now: Instant, e: Event) {
        match e {
            Event::Phase1Up(p) => {
                info!(
                    peer = %p.remote,
                    peer_id = %p.peer_subject.clone().unwrap_or_else(|| id_text(&p.peer_id)),
                    auth = ?p.auth,
                    suite = ?p.suite,
                    peer_behind_nat = p.nat.0,
                    local_behind_nat = p.nat.1,
                    "IKE SA up"
                );
                if let (Some(k), Some(sec)) = (&p.encryption_key, self.sec.as_mut()) {
                    let line = ikev1_line(&p.cookies.0, k);
                    sec.keylog(&line);
                }
            }
            Event::Phase1Down { remote, reason, .. } => {
                info!(peer = %remote, ?reason, "IKE SA down");
            }
            Event::ChildUp { peer, child } => {
                // ESP that overtook the Quick Mode message installing its SA (the initiator
                // sends both at once; they arrive on different sockets): now it can be opened.
                let early: Vec<_> = self
                    .sec
                    .as_mut()
                    .map_or_else(Vec::new, |s| s.early.drain(..).collect());
                for (at, mut buf, remote) in early {
                    if now.saturating_duration_since(at) >= EARLY_ESP_AGE {
                        continue;
                    }
                    match remote {
                        Some(r) => self.on_ike_datagram(now, true, r, &mut buf),
                        None => self.on_raw_esp(now, &mut buf),
                    }
                }
                info!(
                    peer = %peer,
                    spi_in = %child.inbound.spi,
                    spi_out = %child.outbound.spi,
                    encryption = ?child.inbound.encryption,
                    integrity = ?child.inbound.integrity,
                    encapsulation = ?child.encapsulation,
                    "IPsec SA up"
                );
                if let Some(sec) = self.sec.as_mut() {
                    if sec.keylog.is_some() {
                        let (us, them) = (
                            child.local.ip().to_canonical(),
                            child.remote.ip().to_canonical(),
                        );
                        let a = esp_line(them, us, &child.inbound);
                        let b = esp_line(us, them, &child.outbound);
                        sec.keylog(&a);
                        sec.keylog(&b);
                    }
                }
            }
            Event::ChildDown {
                peer,
                inbound,
                reason,
            } => info!(peer = %peer, spi_in = %inbound, ?reason, "IPsec SA down"),
            Event::PeerUp(info) => {
                info!(
                    peer = %info.peer,
                    ike = %info.ike_remote,
                    nat_t = info.udp,
                    encryption = ?info.encryption,
                    integrity = ?info.integrity,
                    overhead = info.overhead,
                    "IPsec up: L2TP may flow"
                );
                self.client_ipsec_up(now, info.peer);
            }
            Event::PeerDown { peer, reason } => {
                // Nothing can reach the peer any more: its tunnels end at once.
                for t in self.endpoint.tunnels_to(peer) {
                    let rc = super::result_code(
                        sras_l2tp::wire::result::GENERAL_REQUEST,
                        "IPsec SA gone",
                    );
                    let _ = self.endpoint.abort_tunnel(now, t, rc);
                }
                if let Some(sec) = self.sec.as_mut() {
                    sec.pending_close.retain(|(p, _)| *p != peer);
                }
                self.log_peer_gone(peer, &reason);
            }
        }
    }

    /// The teardown line the operator (and the interop tests) read.
    fn log_peer_gone(&self, peer: SocketAddr, reason: &sras_ike::DownReason) {
        let Some(sec) = self.sec.as_ref() else { return };
        let tunnels = self
            .endpoint
            .tunnels_to(peer)
            .into_iter()
            .filter(|t| self.endpoint.tunnel_is_established(*t))
            .count();
        let sessions = self
            .sessions
            .values()
            .filter(|s| self.endpoint.tunnel_remote(s.tunnel) == Some(peer))
            .count();
        let isakmp_sas = sec.ipsec.ike_peer_sa_count(peer.ip());
        info!(
            peer = %peer,
            ?reason,
            isakmp_sas,
            esp_sas = sec.ipsec.peer_info(peer).map_or(0, |_| 1),
            tunnels,
            sessions,
            pool_in_use = self.pool_in_use(),
            prefixes_in_use = self.prefixes_in_use(),
            "peer gone"
        );
    }

    /// An L2TP tunnel closed: if it was its peer's last, delete the peer's SAs shortly.
    pub(super) fn sec_tunnel_closed(&mut self, now: Instant, remote: SocketAddr) {
        if !self.is_ipsec_peer(remote) {
            return;
        }
        if let Some(sec) = self.sec.as_mut() {
            if !sec.pending_close.iter().any(|(p, _)| *p == remote) {
                sec.pending_close.push((remote, now + CLOSE_DELAY));
            }
        }
    }

    /// Runs the delayed SA deletions that are due.
    pub(super) fn sec_timers(&mut self, now: Instant) {
        let Some(sec) = self.sec.as_mut() else { return };
        let due: Vec<SocketAddr> = sec
            .pending_close
            .iter()
            .filter(|(_, at)| *at <= now)
            .map(|(p, _)| *p)
            .collect();
        sec.pending_close.retain(|(_, at)| *at > now);
        for peer in due {
            let open = self
                .endpoint
                .tunnels_to(peer)
                .into_iter()
                .any(|t| self.endpoint.tunnel_is_established(t));
            if !open {
                info!(peer = %peer, "last L2TP tunnel of the peer closed: deleting its IPsec and ISAKMP SAs");
                if let Some(sec) = self.sec.as_mut() {
                    sec.ipsec.close_peer(now, peer);
                }
            }
        }
    }

    /// The earliest of the IPsec side's deadlines.
    pub(super) fn sec_deadline(&self) -> Option<Instant> {
        let sec = self.sec.as_ref()?;
        [
            sec.ipsec.poll_timeout(),
            sec.pending_close.iter().map(|(_, at)| *at).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Deletes every SA (shutdown), Delete notifications to every peer.
    pub(super) fn sec_close_all(&mut self, now: Instant) {
        if let Some(sec) = self.sec.as_mut() {
            sec.ipsec.close_all(now);
        }
    }
}
