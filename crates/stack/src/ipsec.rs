//! [`Ipsec`]: IKE and ESP below the L2TP endpoint, one peer per IPsec SA set (seed 001 §3).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use sras_core::Transmit;
use sras_esp::udp_encap::{classify, Udp4500};
use sras_esp::{Encryption, InboundSa, Integrity, OutboundSa, Spi};
use sras_ike::{ChildRequest, ChildSa, DownReason, Endpoint, SaId};
use tracing::debug;

/// The L2TP port (RFC 2661 §8.1), ours inside ESP.
pub const L2TP_PORT: u16 = 1701;
/// IP protocol number of UDP, the Next Header of transport-mode ESP carrying L2TP.
const IPPROTO_UDP: u8 = 17;
/// UDP header length.
const UDP_HEADER: usize = 8;
/// Bytes [`Ipsec::seal_l2tp`] needs before the L2TP datagram: the inner UDP header, the ESP
/// header and the largest IV (AES: 16).
pub const HEADROOM: usize = UDP_HEADER + 8 + 16;
/// Bytes it needs after it: padding to 16, Pad Length, Next Header, the largest ICV (32).
pub const TAILROOM: usize = 15 + 2 + 32;

/// Where a sealed packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// ESP in UDP (RFC 3948): send the bytes as the payload of a UDP datagram from `source`
    /// (our NAT-T port) to `destination` (the peer's).
    Udp {
        /// Our address and NAT-T port.
        source: SocketAddr,
        /// The peer's outer address and NAT-T port.
        destination: SocketAddr,
    },
    /// Raw ESP (IP protocol 50) from `source` to `destination`.
    Esp {
        /// Our address.
        source: IpAddr,
        /// The peer's address.
        destination: IpAddr,
    },
}

/// A packet [`Ipsec::seal_l2tp`] sealed in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The ESP packet's bytes in the caller's buffer (from the SPI).
    pub range: Range<usize>,
    /// Where it goes.
    pub destination: Destination,
}

/// Why [`Ipsec::seal_l2tp`] did not seal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// No IPsec SA protects this peer (gone, or never there): the datagram is dropped, never
    /// sent in the clear.
    #[error("no IPsec SA for L2TP peer {0}")]
    NoSa(SocketAddr),
    /// Not enough room around the payload, or the datagram is too long for UDP.
    #[error("buffer too small")]
    BufferTooSmall,
    /// ESP refused (sequence numbers exhausted, lifetime expired, crypto).
    #[error("ESP: {0}")]
    Esp(sras_esp::Error),
}

/// An L2TP datagram that came through an IPsec SA, opened in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The peer key: the address to hand to the L2TP endpoint as the datagram's source, and to
    /// address its answers to (see the crate documentation).
    pub peer: SocketAddr,
    /// The L2TP datagram (the UDP payload) in the caller's buffer.
    pub payload: Range<usize>,
}

/// Why a packet was dropped. Every drop moves one counter of [`Stats`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// No inbound SA with this SPI.
    #[error("unknown SPI {0}")]
    UnknownSpi(Spi),
    /// ESP refused the packet (authentication, replay, padding, lifetime).
    #[error("ESP: {0}")]
    Esp(sras_esp::Error),
    /// Through the right SA but from another outer address or port than the SA's peer
    /// (seed 001 §3.3).
    #[error("SA {spi} belongs to {expected}, packet from {got}")]
    WrongOuterAddress {
        /// The SA.
        spi: Spi,
        /// Its peer.
        expected: SocketAddr,
        /// The packet's source.
        got: SocketAddr,
    },
    /// Inside the SA something other than UDP to our L2TP port from the negotiated peer port
    /// (the SA's selectors, RFC 3193 §5: only L2TP is protected).
    #[error("outside the SA's selectors (protocol {protocol}, ports {src_port}->{dst_port})")]
    OutsideSelectors {
        /// Next Header.
        protocol: u8,
        /// UDP source port (0 if not UDP).
        src_port: u16,
        /// UDP destination port.
        dst_port: u16,
    },
    /// A truncated or inconsistent inner UDP header.
    #[error("bad inner UDP header")]
    BadUdp,
    /// Not ESP, IKE or a keepalive on the NAT-T port.
    #[error("invalid datagram on the NAT-T port")]
    InvalidNatt,
    /// IKE refused it (counted in the IKE endpoint's own stats too).
    #[error("IKE: {0}")]
    Ike(String),
}

/// Counters of the layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// ESP packets opened and delivered as L2TP.
    pub esp_rx: u64,
    /// ESP packets sealed.
    pub esp_tx: u64,
    /// Unknown SPI.
    pub unknown_spi: u64,
    /// Refused by ESP (authentication, replay, padding...).
    pub esp_refused: u64,
    /// From another outer address than the SA's peer.
    pub wrong_outer: u64,
    /// Not L2TP inside the SA.
    pub outside_selectors: u64,
    /// Bad inner UDP.
    pub bad_udp: u64,
    /// NAT-keepalives.
    pub keepalives: u64,
    /// Invalid on the NAT-T port.
    pub invalid_natt: u64,
    /// IKE datagrams the endpoint refused.
    pub ike_dropped: u64,
    /// L2TP datagrams with no SA to seal them with.
    pub no_sa: u64,
    /// IPsec SA pairs for something else than L2TP in transport mode, deleted at once.
    pub refused_children: u64,
    /// Peers whose outer path MTU an ICMP "fragmentation needed" lowered.
    pub path_mtu_lowered: u64,
}

/// What the layer tells its caller.
#[derive(Debug)]
pub enum Event {
    /// An ISAKMP SA is up (for the log and the key log).
    Phase1Up(Box<sras_ike::Phase1Info>),
    /// An ISAKMP SA went away.
    Phase1Down {
        /// The SA.
        sa: SaId,
        /// The peer's IKE address.
        remote: SocketAddr,
        /// Why.
        reason: DownReason,
    },
    /// An IPsec SA pair was installed (for the log and the key log; the keys are in it).
    ChildUp {
        /// The peer key it protects.
        peer: SocketAddr,
        /// The SA pair as IKE negotiated it.
        child: Box<ChildSa>,
    },
    /// An IPsec SA pair was removed.
    ChildDown {
        /// The peer key.
        peer: SocketAddr,
        /// Our SPI.
        inbound: Spi,
        /// Why.
        reason: DownReason,
    },
    /// A peer's first IPsec SA is up: L2TP may run with it ([`Delivered::peer`] is its key).
    /// The client starts its tunnel here.
    PeerUp(PeerInfo),
    /// A peer's last IPsec SA is gone (Delete, DPD, expiry, or [`Ipsec::close_peer`]): close
    /// every L2TP tunnel of this peer key at once.
    PeerDown {
        /// The peer key.
        peer: SocketAddr,
        /// Why the last SA went.
        reason: DownReason,
    },
}

/// Facts about a peer, for the log and the MTU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer key (see the crate documentation).
    pub peer: SocketAddr,
    /// The peer's IKE address.
    pub ike_remote: SocketAddr,
    /// Whether ESP goes in UDP (NAT-T).
    pub udp: bool,
    /// The ESP encryption.
    pub encryption: Encryption,
    /// The ESP integrity.
    pub integrity: Integrity,
    /// Bytes ESP adds to an L2TP datagram at most, outer IP header and UDP (NAT-T)
    /// included, inner UDP header included (seed 001 §3.2).
    pub overhead: usize,
    /// The outer path MTU, once an ICMP "fragmentation needed" reported one.
    pub path_mtu: Option<u16>,
}

/// One inbound SA and the peer it belongs to.
struct InboundEntry {
    sa: InboundSa,
    peer: SocketAddr,
    phase1: SaId,
}

/// One protected peer: its current outbound SA and where ESP goes.
struct Peer {
    /// Outer addresses: ours and the peer's (ports: NAT-T ports, or 0 for raw ESP).
    local: SocketAddr,
    outer: SocketAddr,
    udp: bool,
    outbound: OutboundSa,
    /// Every inbound SPI of this peer (the current one and those it rekeyed, until deleted).
    inbound: Vec<Spi>,
    /// The latest ISAKMP SA that negotiated an SA pair for it.
    phase1: SaId,
    /// The peer's L2TP port: the selector if it named one, else learned from its packets.
    l2tp_port: u16,
    /// The selector's peer port (0 = any, as Apple proposes).
    selector_port: u16,
    /// The outbound SA's suite.
    suite: (Encryption, Integrity),
    /// The outer path MTU an ICMP "fragmentation needed" reported, if any.
    path_mtu: Option<u16>,
}

/// IKE and ESP under the L2TP endpoint. See the crate documentation.
pub struct Ipsec {
    ike: Endpoint,
    natt_port: u16,
    inbound: HashMap<Spi, InboundEntry>,
    peers: HashMap<SocketAddr, Peer>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl std::fmt::Debug for Ipsec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ipsec")
            .field("peers", &self.peers.len())
            .field("inbound_sas", &self.inbound.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// The peer key of an SA pair (see the crate documentation).
fn peer_key(child: &ChildSa) -> SocketAddr {
    let ip = child.remote.ip().to_canonical();
    if child.encapsulation.is_udp() {
        SocketAddr::new(ip, child.remote.port())
    } else {
        let port = match child.selectors.remote_port {
            0 => L2TP_PORT,
            p => p,
        };
        SocketAddr::new(ip, port)
    }
}

impl Ipsec {
    /// A layer around an IKE endpoint with `config`; `seed` seeds its RNG (SPIs, cookies,
    /// nonces come from it: give a fresh random seed outside tests).
    pub fn new(config: Arc<sras_ike::Config>, seed: [u8; 32]) -> Self {
        let natt_port = config.natt_port;
        Self {
            ike: Endpoint::new(config, seed),
            natt_port,
            inbound: HashMap::new(),
            peers: HashMap::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The IKE endpoint (for its counters, the wall clock, and commands the layer does not
    /// wrap).
    pub fn ike(&mut self) -> &mut Endpoint {
        &mut self.ike
    }

    /// The layer's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Protected peers now.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Installed inbound ESP SAs now (each has an outbound twin, or had one before a rekey).
    pub fn esp_sa_count(&self) -> usize {
        self.inbound.len()
    }

    /// ISAKMP SAs the IKE endpoint holds now.
    pub fn isakmp_sa_count(&self) -> usize {
        self.ike.sa_count()
    }

    /// ISAKMP SAs the IKE endpoint holds with a peer at `ip` (any state).
    pub fn ike_peer_sa_count(&self, ip: IpAddr) -> usize {
        self.ike.sa_count_for(ip)
    }

    /// Facts about a peer.
    pub fn peer_info(&self, peer: SocketAddr) -> Option<PeerInfo> {
        let p = self.peers.get(&peer)?;
        Some(self.info_of(peer, p))
    }

    fn info_of(&self, key: SocketAddr, p: &Peer) -> PeerInfo {
        let o = p.outbound.overhead();
        let ip = if p.outer.is_ipv4() { 20 } else { 40 };
        let udp = if p.udp { UDP_HEADER } else { 0 };
        let (encryption, integrity) = p.suite;
        PeerInfo {
            peer: key,
            ike_remote: p.outer,
            udp: p.udp,
            encryption,
            integrity,
            overhead: ip + udp + o.header + o.trailer_max + UDP_HEADER,
            path_mtu: p.path_mtu,
        }
    }

    /// An ICMP "fragmentation needed" arrived ([`crate::mtu::parse_frag_needed`]): if it quotes
    /// a packet we sent to a peer (its outbound SPI over raw ESP, or its NAT-T ports), that
    /// peer's outer path MTU goes down to the reported one (never below
    /// [`crate::mtu::MIN_PATH_MTU`], never up: a forged message can only cost a few bytes per
    /// packet). Returns the peer and its path MTU when it went down.
    pub fn path_mtu_exceeded(&mut self, f: &crate::mtu::FragNeeded) -> Option<(SocketAddr, u16)> {
        let (key, p) = self.peers.iter_mut().find(|(_, p)| {
            p.outer.ip() == IpAddr::V4(f.destination)
                && match (f.spi, f.ports) {
                    (Some(spi), _) => !p.udp && p.outbound.spi().0 == spi,
                    (None, Some((sport, dport))) => {
                        p.udp && sport == p.local.port() && dport == p.outer.port()
                    }
                    (None, None) => false,
                }
        })?;
        let mtu = f.mtu.max(crate::mtu::MIN_PATH_MTU);
        if p.path_mtu.is_some_and(|m| m <= mtu) {
            return None;
        }
        p.path_mtu = Some(mtu);
        self.stats.path_mtu_lowered += 1;
        Some((*key, mtu))
    }

    /// Initiates Main Mode and Quick Mode (UDP/1701, transport mode) from `local` to the IKE
    /// address `remote` (the client). [`Event::PeerUp`] follows once ESP can flow.
    pub fn connect(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr) -> SaId {
        self.ike
            .connect(now, local, remote, ChildRequest::default())
    }

    // ----- inputs ----------------------------------------------------------------------------

    /// A datagram on an IKE socket: `local` is ours (its port tells IKE from NAT-T), `remote`
    /// the sender. IKE goes to the endpoint; ESP in UDP is opened in place in `buf[..len]`
    /// and, if it carries L2TP for a known peer, returned.
    pub fn handle_udp(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        buf: &mut [u8],
    ) -> Result<Option<Delivered>, DropReason> {
        let remote = SocketAddr::new(remote.ip().to_canonical(), remote.port());
        if local.port() == self.natt_port {
            match classify(buf) {
                Udp4500::Ike(_) => {}
                Udp4500::Keepalive => {
                    self.stats.keepalives += 1;
                    return Ok(None);
                }
                Udp4500::Esp(_) => {
                    let len = buf.len();
                    return self.open(now, Some(remote.port()), remote.ip(), buf, 0..len);
                }
                Udp4500::Invalid(_) => {
                    self.stats.invalid_natt += 1;
                    return Err(DropReason::InvalidNatt);
                }
            }
        }
        match self.ike.handle_datagram(now, local, remote, buf) {
            Ok(()) => {
                self.pump_ike(now);
                Ok(None)
            }
            Err(e) => {
                self.stats.ike_dropped += 1;
                self.pump_ike(now);
                Err(DropReason::Ike(format!("{e:?}")))
            }
        }
    }

    /// A raw ESP packet (IP protocol 50) from `src`: `buf[packet]` starts at the SPI (the IPv4
    /// header already stripped, [`sras_esp::raw::strip_ipv4`]). Opened in place.
    pub fn handle_esp(
        &mut self,
        now: Instant,
        src: IpAddr,
        buf: &mut [u8],
        packet: Range<usize>,
    ) -> Result<Option<Delivered>, DropReason> {
        self.open(now, None, src.to_canonical(), buf, packet)
    }

    fn open(
        &mut self,
        now: Instant,
        udp_port: Option<u16>,
        src: IpAddr,
        buf: &mut [u8],
        packet: Range<usize>,
    ) -> Result<Option<Delivered>, DropReason> {
        let Some(spi) = buf.get(packet.clone()).and_then(sras_esp::peek_spi) else {
            self.stats.esp_refused += 1;
            return Err(DropReason::Esp(sras_esp::Error::Truncated));
        };
        let Some(entry) = self.inbound.get_mut(&spi) else {
            self.stats.unknown_spi += 1;
            return Err(DropReason::UnknownSpi(spi));
        };
        let key = entry.peer;
        let phase1 = entry.phase1;
        let Some(peer) = self.peers.get_mut(&key) else {
            self.stats.unknown_spi += 1;
            return Err(DropReason::UnknownSpi(spi));
        };
        // Seed 001 §3.3: the SA's own peer, with the encapsulation it negotiated. The check
        // runs before decryption: it costs nothing, and a mismatch never moves the window.
        let from = SocketAddr::new(src, udp_port.unwrap_or(0));
        if src != peer.outer.ip()
            || udp_port.is_some() != peer.udp
            || (peer.udp && Some(peer.outer.port()) != udp_port)
        {
            self.stats.wrong_outer += 1;
            return Err(DropReason::WrongOuterAddress {
                spi,
                expected: peer.outer,
                got: from,
            });
        }
        let opened = match entry.sa.open(now, buf, packet) {
            Ok(o) => o,
            Err(e) => {
                self.stats.esp_refused += 1;
                return Err(DropReason::Esp(e));
            }
        };
        // Authentic: a sign of life for DPD (RFC 3706 §5.3).
        self.ike.traffic_received(now, phase1);
        let seg = opened.payload;
        if opened.next_header != IPPROTO_UDP {
            self.stats.outside_selectors += 1;
            return Err(DropReason::OutsideSelectors {
                protocol: opened.next_header,
                src_port: 0,
                dst_port: 0,
            });
        }
        let Some(h) = buf.get(seg.start..seg.start + UDP_HEADER) else {
            self.stats.bad_udp += 1;
            return Err(DropReason::BadUdp);
        };
        let src_port = u16::from_be_bytes([h[0], h[1]]);
        let dst_port = u16::from_be_bytes([h[2], h[3]]);
        let udp_len = usize::from(u16::from_be_bytes([h[4], h[5]]));
        if udp_len < UDP_HEADER || udp_len > seg.len() {
            self.stats.bad_udp += 1;
            return Err(DropReason::BadUdp);
        }
        // The inner checksum is not checked: ESP's ICV protects the segment, and a NAT on the
        // way has made it wrong anyway (RFC 3948 §3.1.2).
        let port_ok = peer.selector_port == 0 || peer.selector_port == src_port;
        if dst_port != L2TP_PORT || !port_ok || src_port == 0 {
            self.stats.outside_selectors += 1;
            return Err(DropReason::OutsideSelectors {
                protocol: IPPROTO_UDP,
                src_port,
                dst_port,
            });
        }
        // The peer's L2TP port, for our answers: it may float once (RFC 3193 §4).
        peer.l2tp_port = src_port;
        self.stats.esp_rx += 1;
        Ok(Some(Delivered {
            peer: key,
            payload: seg.start + UDP_HEADER..seg.start + udp_len,
        }))
    }

    /// Lets time pass: IKE retransmissions, DPD, rekeying, expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.ike.handle_timeout(now);
        self.pump_ike(now);
    }

    // ----- outputs ---------------------------------------------------------------------------

    /// Seals the L2TP datagram `buf[payload]` for the L2TP peer `to` in place: the inner UDP
    /// header goes into the [`HEADROOM`] bytes before it, ESP around both; `buf` needs
    /// [`TAILROOM`] bytes after it.
    pub fn seal_l2tp(
        &mut self,
        now: Instant,
        to: SocketAddr,
        buf: &mut [u8],
        payload: Range<usize>,
    ) -> Result<Sealed, SealError> {
        let Some(peer) = self.peers.get_mut(&to) else {
            self.stats.no_sa += 1;
            return Err(SealError::NoSa(to));
        };
        if payload.start < UDP_HEADER || payload.end > buf.len() || payload.start > payload.end {
            return Err(SealError::BufferTooSmall);
        }
        let udp_len = payload.len() + UDP_HEADER;
        let Ok(udp_len16) = u16::try_from(udp_len) else {
            return Err(SealError::BufferTooSmall);
        };
        let seg = payload.start - UDP_HEADER..payload.end;
        let h = &mut buf[seg.start..payload.start];
        h[0..2].copy_from_slice(&L2TP_PORT.to_be_bytes());
        h[2..4].copy_from_slice(&peer.l2tp_port.to_be_bytes());
        h[4..6].copy_from_slice(&udp_len16.to_be_bytes());
        // Zero: "no checksum" (RFC 768); ESP protects the segment, and any NAT on the way
        // would only make a real one wrong (RFC 3948 §3.1.2).
        h[6..8].copy_from_slice(&[0, 0]);
        let range = peer
            .outbound
            .seal(now, buf, seg, IPPROTO_UDP)
            .map_err(SealError::Esp)?;
        self.stats.esp_tx += 1;
        let destination = if peer.udp {
            Destination::Udp {
                source: peer.local,
                destination: peer.outer,
            }
        } else {
            Destination::Esp {
                source: peer.local.ip(),
                destination: peer.outer.ip(),
            }
        };
        Ok(Sealed { range, destination })
    }

    /// The next IKE datagram to send (on the NAT-T port the payload already starts with the
    /// non-ESP marker).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ike.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ike.poll_timeout()
    }

    // ----- commands --------------------------------------------------------------------------

    /// Ends everything protecting `peer` (its L2TP tunnels are gone: seed 001 §3.1, seed 000
    /// §5): every IPsec SA pair and the ISAKMP SA are deleted, with Delete notifications.
    /// [`Event::PeerDown`] follows at once.
    pub fn close_peer(&mut self, now: Instant, peer: SocketAddr) {
        let Some(p) = self.peers.remove(&peer) else {
            return;
        };
        for spi in &p.inbound {
            self.inbound.remove(spi);
            self.ike.delete_child(now, *spi);
        }
        self.ike.delete(now, p.phase1);
        // Any other ISAKMP SA still open to the same peer address (a rekey's predecessor).
        self.pump_ike(now);
        self.events.push_back(Event::PeerDown {
            peer,
            reason: DownReason::LocalDelete,
        });
    }

    /// Deletes every SA (shutdown): Delete notifications to every peer.
    pub fn close_all(&mut self, now: Instant) {
        let keys: Vec<SocketAddr> = self.peers.keys().copied().collect();
        for k in keys {
            self.close_peer(now, k);
        }
        self.ike.delete_all(now);
        self.pump_ike(now);
    }

    /// Drains the IKE endpoint's events: SA pairs are installed or removed, the rest is
    /// passed on.
    fn pump_ike(&mut self, now: Instant) {
        while let Some(e) = self.ike.poll_event() {
            match e {
                sras_ike::Event::Phase1Up(info) => self.events.push_back(Event::Phase1Up(info)),
                sras_ike::Event::Phase1Down { sa, remote, reason } => {
                    self.events
                        .push_back(Event::Phase1Down { sa, remote, reason });
                }
                sras_ike::Event::Phase2Up(child) => self.child_up(now, child),
                sras_ike::Event::Phase2Down {
                    inbound, reason, ..
                } => self.child_down(now, inbound, reason),
            }
        }
    }

    fn child_up(&mut self, now: Instant, child: Box<ChildSa>) {
        // L2TP/IPsec is transport mode for UDP (RFC 3193 §5); anything else is not ours.
        let l2tp = child.encapsulation.mode() == sras_esp::Mode::Transport
            && matches!(child.selectors.protocol, IPPROTO_UDP)
            && matches!(child.selectors.local_port, L2TP_PORT | 0);
        if !l2tp {
            self.stats.refused_children += 1;
            debug!(spi = %child.inbound.spi, encapsulation = ?child.encapsulation, protocol = child.selectors.protocol, "IPsec SA not for L2TP in transport mode: deleted");
            self.ike.delete_child(now, child.inbound.spi);
            return;
        }
        let key = peer_key(&child);
        let (outbound, inbound) = match (
            OutboundSa::new(child.outbound.clone(), now),
            InboundSa::new(child.inbound.clone(), now),
        ) {
            (Ok(o), Ok(i)) => (o, i),
            (Err(e), _) | (_, Err(e)) => {
                self.stats.refused_children += 1;
                debug!(error = %e, "IPsec SA not installable: deleted");
                self.ike.delete_child(now, child.inbound.spi);
                return;
            }
        };
        let udp = child.encapsulation.is_udp();
        let local_ip = child.local.ip().to_canonical();
        let (local, outer) = if udp {
            (
                SocketAddr::new(local_ip, child.local.port()),
                SocketAddr::new(key.ip(), child.remote.port()),
            )
        } else {
            (SocketAddr::new(local_ip, 0), SocketAddr::new(key.ip(), 0))
        };
        let spi_in = inbound.spi();
        self.inbound.insert(
            spi_in,
            InboundEntry {
                sa: inbound,
                peer: key,
                phase1: child.phase1,
            },
        );
        let selector_port = child.selectors.remote_port;
        let suite = (child.outbound.encryption, child.outbound.integrity);
        let new = match self.peers.get_mut(&key) {
            Some(p) => {
                // A rekey or a second SA pair: the newest carries our traffic, the older
                // ones are still accepted until IKE deletes them.
                p.outbound = outbound;
                p.inbound.push(spi_in);
                p.phase1 = child.phase1;
                p.local = local;
                p.outer = outer;
                p.suite = suite;
                false
            }
            None => {
                self.peers.insert(
                    key,
                    Peer {
                        local,
                        outer,
                        udp,
                        outbound,
                        inbound: vec![spi_in],
                        phase1: child.phase1,
                        l2tp_port: if selector_port == 0 {
                            L2TP_PORT
                        } else {
                            selector_port
                        },
                        selector_port,
                        suite,
                        path_mtu: None,
                    },
                );
                true
            }
        };
        let info = self.peers.get(&key).map(|p| self.info_of(key, p));
        self.events.push_back(Event::ChildUp { peer: key, child });
        if new {
            if let Some(info) = info {
                self.events.push_back(Event::PeerUp(info));
            }
        }
    }

    fn child_down(&mut self, now: Instant, inbound: Spi, reason: DownReason) {
        let Some(entry) = self.inbound.remove(&inbound) else {
            return;
        };
        let key = entry.peer;
        self.events.push_back(Event::ChildDown {
            peer: key,
            inbound,
            reason: reason.clone(),
        });
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.inbound.retain(|s| *s != inbound);
        if p.inbound.is_empty() {
            let phase1 = p.phase1;
            self.peers.remove(&key);
            // Its ISAKMP SA served only this peer's L2TP: it goes too (seed 000 §5), with a
            // Delete unless it is already gone. Its own events are drained by the caller's loop.
            self.ike.delete(now, phase1);
            self.events.push_back(Event::PeerDown { peer: key, reason });
        }
    }
}
