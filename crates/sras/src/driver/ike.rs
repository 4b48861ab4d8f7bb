//! The event loop of `sras ike`: the sans-IO IKEv1 [`Endpoint`] on its two UDP sockets, the IKE
//! port (500) and the NAT-T port (4500), in the shape of the L2TP driver.
//!
//! One task on a current-thread runtime owns the endpoint and both sockets. It sleeps in
//! `select!` on the sockets, the endpoint's next deadline and the signals; after every wake it
//! calls the matching `handle_*`, then drains `poll_transmit` (the source port of a
//! [`Transmit`] picks the socket; on the NAT-T port the payload already starts with the non-ESP
//! marker) and `poll_event` (logged, and written to the key log when there is one).
//!
//! On the NAT-T port only IKE goes to the endpoint: [`classify`] sorts out NAT-keepalives and
//! ESP-in-UDP, which are counted and dropped (ESP is not processed by `sras ike` yet).
//!
//! The endpoint needs our own address (NAT detection hashes it, and it is our phase 1 ID). With
//! a specific `ike.listen` that is it; with `0.0.0.0` (or `::`) it is the address the kernel
//! sends from to that peer, found once per peer by connecting an unbound UDP socket to it (the
//! address our answers leave from, so what the peer sees).
//!
//! A first SIGTERM or SIGINT deletes every SA (Delete notifications go out at once), keeps the
//! loop running for [`CLOSE_GRACE`] so they leave and late answers are taken, and finishes. A
//! second signal finishes at once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use sras_core::{RateLimiter, Transmit};
use sras_esp::udp_encap::{classify, Udp4500};
use sras_ike::wire::{IdType, Identification};
use sras_ike::{ChildRequest, ChildSa, DownReason, Endpoint, Event, Phase1Info, SaId};
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{debug, error, info, warn};

use super::{now, Outcome, MAX_DATAGRAM};
use crate::keylog::{esp_line, ikev1_line, KeyLog};

/// How long shutting down keeps the loop running after the Deletes went out.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_millis(200);
/// Peers whose local address is remembered (with `listen` unspecified); the cache is cleared
/// when it grows beyond this.
const MAX_LOCAL_CACHE: usize = 4096;

/// What `sras ike` runs with, besides the endpoint.
pub(crate) struct IkeSetup {
    /// `ike.listen`.
    pub(crate) listen: IpAddr,
    /// `ike.port`.
    pub(crate) port: u16,
    /// `ike.natt_port`.
    pub(crate) natt_port: u16,
    /// `--connect`: the peer to initiate to (its IKE port).
    pub(crate) connect: Option<SocketAddr>,
    /// `ike.keylog`, opened.
    pub(crate) keylog: Option<KeyLog>,
}

/// What arrived on the NAT-T port that was not IKE.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    /// ESP in UDP (RFC 3948), dropped: not processed yet.
    esp: u64,
    /// NAT-keepalives (RFC 3948 §2.3).
    keepalives: u64,
    /// Neither IKE, ESP nor a keepalive.
    invalid: u64,
}

/// Why the loop woke up.
enum Wake {
    Ike(std::io::Result<(usize, SocketAddr)>),
    Natt(std::io::Result<(usize, SocketAddr)>),
    Timer,
    Signal(&'static str),
}

/// The driver of `sras ike`.
pub(crate) struct IkeDriver {
    endpoint: Endpoint,
    ike: UdpSocket,
    natt: UdpSocket,
    listen: IpAddr,
    port: u16,
    natt_port: u16,
    /// Our address towards each peer (only with `listen` unspecified).
    locals: HashMap<IpAddr, IpAddr>,
    connect: Option<SocketAddr>,
    /// The ISAKMP SA `--connect` started.
    initiated: Option<SaId>,
    keylog: Option<KeyLog>,
    /// When shutting down: when to finish.
    closing: Option<Instant>,
    counters: Counters,
    drop_log: RateLimiter,
    send_log: RateLimiter,
}

/// Binds one UDP socket, explaining the usual reasons it fails.
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

/// The address as IPv4 if it is an IPv4-mapped IPv6 address (a dual-stack socket's view).
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// A short text for a phase 1 ID, for the logs.
pub(crate) fn id_text(id: &Identification) -> String {
    let data = &id.data;
    match id.id_type {
        IdType::Ipv4Addr if data.len() == 4 => {
            Ipv4Addr::new(data[0], data[1], data[2], data[3]).to_string()
        }
        IdType::Ipv6Addr if data.len() == 16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(data);
            Ipv6Addr::from(b).to_string()
        }
        IdType::Fqdn | IdType::UserFqdn | IdType::KeyId => {
            format!("{:?}", String::from_utf8_lossy(data))
        }
        t => format!("{t:?} ({} bytes)", data.len()),
    }
}

impl IkeDriver {
    /// Binds `listen` on both ports.
    pub(crate) async fn bind(endpoint: Endpoint, setup: IkeSetup) -> Result<Self, String> {
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
        Ok(Self {
            endpoint,
            ike,
            natt,
            listen: setup.listen,
            port: setup.port,
            natt_port: setup.natt_port,
            locals: HashMap::new(),
            connect: setup.connect,
            initiated: None,
            keylog: setup.keylog,
            closing: None,
            counters: Counters::default(),
            drop_log: RateLimiter::new(10, Duration::from_secs(1)),
            send_log: RateLimiter::new(10, Duration::from_secs(1)),
        })
    }

    /// The addresses the sockets are bound to.
    pub(crate) fn local_addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        (self.ike.local_addr().ok(), self.natt.local_addr().ok())
    }

    /// Our address towards `remote`: `listen`, or when that is unspecified the address the
    /// kernel sends from to `remote`.
    fn local_ip_for(&mut self, remote: IpAddr) -> IpAddr {
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
        let ip = match found {
            Ok(ip) => ip,
            Err(e) => {
                warn!(peer = %remote, error = %e, "cannot find our address towards the peer (no route?); NAT detection will see a NAT");
                return self.listen;
            }
        };
        if self.locals.len() >= MAX_LOCAL_CACHE {
            self.locals.clear();
        }
        self.locals.insert(remote, ip);
        ip
    }

    /// Runs until a signal.
    pub(crate) async fn run(mut self) -> Outcome {
        let (mut sigterm, mut sigint) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            (Err(e), _) | (_, Err(e)) => {
                return Outcome::Failed(format!("cannot install signal handlers: {e}"))
            }
        };
        if let Some(peer) = self.connect {
            let t = now();
            let local = SocketAddr::new(self.local_ip_for(peer.ip()), self.port);
            let sa = self
                .endpoint
                .connect(t, local, peer, ChildRequest::default());
            self.initiated = Some(sa);
            info!(sa = sa.0, %local, %peer, "IKE connecting (Main Mode, then Quick Mode for UDP/1701 in transport mode)");
        }

        let mut buf_ike = vec![0u8; MAX_DATAGRAM];
        let mut buf_natt = vec![0u8; MAX_DATAGRAM];
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        // The deadline a timer wake already handled: if it comes back unchanged, do not spin.
        let mut fired: Option<Instant> = None;
        loop {
            self.flush().await;
            let t = now();
            if self.closing.is_some_and(|c| t >= c) {
                self.log_stats();
                return Outcome::Done;
            }
            let mut deadline = [self.endpoint.poll_timeout(), self.closing]
                .into_iter()
                .flatten()
                .min();
            if deadline.is_some() && deadline == fired {
                deadline = deadline.map(|d| d.max(t + Duration::from_millis(1)));
            }
            if deadline != armed {
                if let Some(d) = deadline {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(d));
                }
                armed = deadline;
            }

            let wake = tokio::select! {
                r = self.ike.recv_from(&mut buf_ike) => Wake::Ike(r),
                r = self.natt.recv_from(&mut buf_natt) => Wake::Natt(r),
                () = &mut sleep, if armed.is_some() => Wake::Timer,
                _ = sigterm.recv() => Wake::Signal("SIGTERM"),
                _ = sigint.recv() => Wake::Signal("SIGINT"),
            };

            let t = now();
            fired = None;
            match wake {
                Wake::Ike(Ok((len, remote))) => self.on_datagram(t, false, remote, &buf_ike[..len]),
                Wake::Natt(Ok((len, remote))) => {
                    self.on_datagram(t, true, remote, &buf_natt[..len]);
                }
                Wake::Ike(Err(e)) | Wake::Natt(Err(e)) => {
                    // ICMP errors from earlier sends surface here (ECONNREFUSED): not fatal.
                    if self.drop_log.check(t).is_some() {
                        debug!(error = %e, "UDP receive error");
                    }
                }
                Wake::Timer => {
                    fired = armed;
                    armed = None;
                    self.endpoint.handle_timeout(t);
                }
                Wake::Signal(name) => self.on_signal(t, name),
            }
        }
    }

    fn on_datagram(&mut self, now: Instant, natt: bool, remote: SocketAddr, data: &[u8]) {
        let remote = canonical(remote);
        if natt {
            match classify(data) {
                Udp4500::Ike(_) => {}
                Udp4500::Keepalive => {
                    self.counters.keepalives += 1;
                    return;
                }
                Udp4500::Esp(_) => {
                    self.counters.esp += 1;
                    if let Some(suppressed) = self.drop_log.check(now) {
                        debug!(peer = %remote, len = data.len(), suppressed, "ESP in UDP dropped: sras ike does not process ESP");
                    }
                    return;
                }
                Udp4500::Invalid(e) => {
                    self.counters.invalid += 1;
                    if let Some(suppressed) = self.drop_log.check(now) {
                        debug!(peer = %remote, error = %e, suppressed, "datagram on the NAT-T port dropped");
                    }
                    return;
                }
            }
        }
        let port = if natt { self.natt_port } else { self.port };
        let local = SocketAddr::new(self.local_ip_for(remote.ip()), port);
        // Dropped messages are counted in the endpoint's stats and logged by it (debug).
        let _ = self.endpoint.handle_datagram(now, local, remote, data);
    }

    fn on_signal(&mut self, now: Instant, name: &str) {
        if self.closing.is_some() {
            warn!(signal = name, "second signal: exiting at once");
            self.closing = Some(now);
            return;
        }
        info!(
            signal = name,
            sas = self.endpoint.sa_count(),
            "shutting down: deleting every SA"
        );
        self.endpoint.delete_all(now);
        self.closing = Some(now + CLOSE_GRACE);
    }

    /// Sends what the endpoint queued and handles its events, until nothing moves.
    async fn flush(&mut self) {
        loop {
            let mut progress = false;
            while let Some(t) = self.endpoint.poll_transmit() {
                progress = true;
                self.send(&t).await;
            }
            while let Some(e) = self.endpoint.poll_event() {
                progress = true;
                self.on_event(e);
            }
            if !progress {
                break;
            }
        }
    }

    async fn send(&mut self, t: &Transmit) {
        let natt = t.source.is_some_and(|s| s.port() == self.natt_port);
        let socket = if natt { &self.natt } else { &self.ike };
        // A dual-stack IPv6 socket reaches IPv4 peers at their mapped address.
        let destination = match t.destination {
            SocketAddr::V4(v4) if self.listen.is_ipv6() => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            d => d,
        };
        if let Err(e) = socket.send_to(&t.payload, destination).await {
            if let Some(suppressed) = self.send_log.check(now()) {
                warn!(to = %t.destination, error = %e, suppressed, "UDP send failed");
            }
        }
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Phase1Up(info) => self.phase1_up(&info),
            Event::Phase1Down { sa, remote, reason } => {
                if Some(sa) == self.initiated && matches!(reason, DownReason::Failed(_)) {
                    error!(sa = sa.0, peer = %remote, ?reason, "IKE connection failed");
                } else {
                    info!(sa = sa.0, peer = %remote, ?reason, "IKE SA down");
                }
            }
            Event::Phase2Up(child) => self.phase2_up(&child),
            Event::Phase2Down {
                phase1,
                inbound,
                outbound,
                reason,
            } => {
                info!(sa = phase1.0, spi_in = %inbound, spi_out = %outbound, ?reason, "IPsec SA down");
            }
        }
    }

    fn phase1_up(&mut self, p: &Phase1Info) {
        info!(
            sa = p.sa.0,
            local = %p.local,
            peer = %p.remote,
            peer_id = %p.peer_subject.clone().unwrap_or_else(|| id_text(&p.peer_id)),
            role = ?p.role,
            exchange = ?p.exchange,
            auth = ?p.auth,
            peer_behind_nat = p.nat.0,
            local_behind_nat = p.nat.1,
            lifetime_s = p.lifetime.as_secs(),
            "IKE SA up"
        );
        if let Some(k) = &p.encryption_key {
            let line = ikev1_line(&p.cookies.0, k);
            self.keylog(&line);
        }
    }

    fn phase2_up(&mut self, c: &ChildSa) {
        let s = &c.selectors;
        info!(
            sa = c.phase1.0,
            spi_in = %c.inbound.spi,
            spi_out = %c.outbound.spi,
            local = %c.local,
            peer = %c.remote,
            encapsulation = ?c.encapsulation,
            protocol = s.protocol,
            local_port = s.local_port,
            peer_port = s.remote_port,
            peer_original = ?c.peer_original,
            rekeys = ?c.replaces,
            "IPsec SA up (negotiated only: sras ike does not process ESP)"
        );
        if self.keylog.is_some() {
            let (us, peer) = (c.local.ip().to_canonical(), c.remote.ip().to_canonical());
            let inbound = esp_line(peer, us, &c.inbound);
            let outbound = esp_line(us, peer, &c.outbound);
            self.keylog(&inbound);
            self.keylog(&outbound);
        }
    }

    fn keylog(&mut self, line: &str) {
        let Some(k) = &mut self.keylog else { return };
        if let Err(e) = k.write(line) {
            error!(error = %e, "cannot write to ike.keylog; no more keys are logged");
            self.keylog = None;
        }
    }

    fn log_stats(&self) {
        let s = self.endpoint.stats();
        let c = self.counters;
        debug!(
            phase1_established = s.phase1_established,
            phase2_established = s.phase2_established,
            malformed = s.malformed,
            unknown_sa = s.unknown_sa,
            unexpected = s.unexpected,
            bad_auth = s.bad_auth,
            half_open_refused = s.half_open_refused,
            no_proposal = s.no_proposal,
            echoed = s.echoed,
            duplicates = s.duplicates,
            retransmits = s.retransmits,
            fragments_dropped = s.fragments_dropped,
            esp_in_udp_dropped = c.esp,
            keepalives = c.keepalives,
            natt_invalid = c.invalid,
            "IKE endpoint counters"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(id_type: IdType, data: &[u8]) -> Identification {
        Identification {
            id_type,
            protocol: 17,
            port: 500,
            data: data.to_vec(),
        }
    }

    #[test]
    fn ids_for_the_logs() {
        assert_eq!(id_text(&id(IdType::Ipv4Addr, &[192, 0, 2, 3])), "192.0.2.3");
        let mut v6 = [0u8; 16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[15] = 1;
        assert_eq!(id_text(&id(IdType::Ipv6Addr, &v6)), "2001::1");
        assert_eq!(
            id_text(&id(IdType::Fqdn, b"vpn.example.net")),
            "\"vpn.example.net\""
        );
        assert_eq!(
            id_text(&id(IdType::UserFqdn, b"a\nb")),
            "\"a\\nb\"",
            "escaped"
        );
        assert_eq!(
            id_text(&id(IdType::DerAsn1Dn, &[0x30, 0])),
            "DerAsn1Dn (2 bytes)"
        );
    }

    #[test]
    fn mapped_addresses_become_ipv4() {
        let a: SocketAddr = "[::ffff:192.0.2.1]:500".parse().unwrap();
        assert_eq!(canonical(a), "192.0.2.1:500".parse::<SocketAddr>().unwrap());
        let b: SocketAddr = "[2001:db8::1]:500".parse().unwrap();
        assert_eq!(canonical(b), b);
    }
}
