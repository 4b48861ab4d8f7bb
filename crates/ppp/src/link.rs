//! A PPP link: the phases of RFC 1661 §3 (Dead, Establish, Authenticate, Network, Terminate)
//! over LCP, one authentication exchange, IPCP and optionally IPv6CP, with the sans-IO surface
//! of DESIGN.md.
//!
//! ```text
//! link.open(now)                                  // the L2TP session is up: LCP starts
//! link.handle_frame(now, &ppp_frame)?             // Received::Control | Ipv4(&pkt) | Ipv6(&pkt)
//! link.handle_timeout(now)
//! link.complete_auth(now, request_id, verdict)    // server: answer Event::AuthRequested
//! link.close(now, "reason") / link.lower_down(now)
//! while let Some(frame) = link.poll_transmit() { .. } // PPP frames for the L2TP session
//! while let Some(event) = link.poll_event() { .. }    // AuthRequested, Authenticated, LinkUp, LinkDown
//! link.encapsulate_ip(buf, range, ipv6)           // data path: PPP header in place
//! ```

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sras_core::{TimerKind, TimerTable};
use zeroize::Zeroizing;

use crate::auth::authenticator::{self, Authenticator};
use crate::auth::peer::{self, Peer};
use crate::auth::{AuthMethod, AuthRequest, Verdict};
use crate::fsm::{self, ControlProtocol, LayerEvent, State};
use crate::ipcp::{Ipcp, Ipv6cp};
use crate::lcp::Lcp;
use crate::wire::{
    code, encode_frame, parse_frame, write_frame_header, Packet, Protocol, WireError,
};

/// Bytes [`Link::encapsulate_ip`] writes before an IP packet: address, control, protocol.
pub const PPP_HEADER_LEN: usize = 4;

/// Which end of the link this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The LNS side: authenticates the peer and assigns its address.
    Server,
    /// The client side: authenticates itself and takes an address.
    Client,
}

/// Whether PPP-level encryption (CCP/ECP, MPPE) is required, allowed or prohibited (seed 001
/// §5.2, seed 002 §5.4). sras never negotiates CCP or ECP: under IPsec it is redundant. A
/// `Require` policy on a link that IPsec does not protect refuses to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncryptionPolicy {
    /// Encryption must be present: satisfied only by IPsec underneath.
    Require,
    /// Either way.
    #[default]
    Allow,
    /// PPP encryption is refused (CCP/ECP are Protocol-Rejected).
    Prohibit,
}

/// Link configuration.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Server or client.
    pub role: Role,
    /// MRU to offer; the server derives it from the tunnel overhead (seed 001 §3.2).
    pub mru: u16,
    /// Server: methods to ask for, in order. Client: methods accepted, in preference order.
    pub auth_methods: Vec<AuthMethod>,
    /// Our name in CHAP Challenges and EAP.
    pub name: String,
    /// Client: user name and password.
    pub user: String,
    /// Client: password.
    pub password: Zeroizing<String>,
    /// Server: our address on the link. Client: the address to ask for (None: 0.0.0.0).
    pub local_ipv4: Option<Ipv4Addr>,
    /// Server: DNS servers to offer (RFC 1877).
    pub dns: [Option<Ipv4Addr>; 2],
    /// Server: NBNS (WINS) servers to offer (RFC 1877).
    pub nbns: [Option<Ipv4Addr>; 2],
    /// Negotiate IPv6CP (RFC 5072).
    pub ipv6: bool,
    /// LCP Echo-Request interval in the Network phase; None disables keepalives.
    pub echo_interval: Option<Duration>,
    /// Unanswered echoes after which the peer is declared dead.
    pub echo_failures: u32,
    /// CHAP re-authentication interval (server, CHAP family only); None disables.
    pub reauth_interval: Option<Duration>,
    /// How long the peer may take to authenticate.
    pub auth_timeout: Duration,
    /// Restart timer and counters of the RFC 1661 automaton.
    pub fsm: fsm::Config,
    /// PPP encryption policy, and whether IPsec protects the link below.
    pub encryption: EncryptionPolicy,
    /// IPsec protects the L2TP tunnel carrying this link.
    pub ipsec_protected: bool,
    /// RNG seed (magic numbers, challenges, identifiers); the caller draws it from the OS.
    pub rng_seed: [u8; 32],
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            role: Role::Server,
            mru: 1400,
            auth_methods: vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5],
            name: "sras".into(),
            user: String::new(),
            password: Zeroizing::new(String::new()),
            local_ipv4: None,
            dns: [None, None],
            nbns: [None, None],
            ipv6: false,
            echo_interval: Some(Duration::from_secs(30)),
            echo_failures: 4,
            reauth_interval: None,
            auth_timeout: Duration::from_secs(30),
            fsm: fsm::Config::default(),
            encryption: EncryptionPolicy::Allow,
            ipsec_protected: false,
            rng_seed: [0; 32],
        }
    }
}

/// RFC 1661 §3 phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started, or finished.
    Dead,
    /// LCP negotiating.
    Establish,
    /// Authenticating.
    Authenticate,
    /// NCPs and IP.
    Network,
    /// LCP terminating.
    Terminate,
}

/// Addresses and sizes agreed by the time IP may flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Our address.
    pub local: Ipv4Addr,
    /// The peer's address.
    pub peer: Ipv4Addr,
    /// DNS servers (offered as server, received as client).
    pub dns: [Option<Ipv4Addr>; 2],
    /// NBNS servers.
    pub nbns: [Option<Ipv4Addr>; 2],
    /// The largest frame we accept (our MRU).
    pub mru: u16,
    /// The largest frame the peer accepts (what we may send).
    pub peer_mru: u16,
}

/// Why the link went down.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownReason {
    /// We closed it (a command).
    Closed(String),
    /// The peer sent Terminate-Request, with this text.
    TerminatedByPeer(String),
    /// No Echo-Reply after the configured failures: the peer is dead.
    EchoTimeout,
    /// Authentication failed, for this reason.
    AuthFailed(String),
    /// Negotiation gave up (Max-Configure or Max-Failure) in this protocol.
    NegotiationFailed(&'static str),
    /// The layer below (the L2TP session) went away.
    LowerDown,
    /// Encryption is required and nothing provides it.
    EncryptionRequired,
}

/// Something that happened, in the past tense.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Server: decide this login with [`Link::complete_auth`].
    AuthRequested(AuthRequest),
    /// Authentication succeeded (server: the peer proved itself; client: the server accepted us).
    Authenticated {
        /// The user (server: as the peer named itself; client: our user).
        user: String,
        /// The method.
        method: AuthMethod,
    },
    /// IPCP is open: IPv4 may flow.
    LinkUp(LinkInfo),
    /// IPv6CP is open: IPv6 may flow.
    Ipv6Up {
        /// Our interface identifier.
        local_id: [u8; 8],
        /// The peer's.
        peer_id: [u8; 8],
    },
    /// The link is down for good.
    LinkDown {
        /// Why.
        reason: DownReason,
    },
}

/// What a frame turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<'a> {
    /// A control frame, consumed.
    Control,
    /// An IPv4 packet (borrowed from the frame).
    Ipv4(&'a [u8]),
    /// An IPv6 packet (borrowed from the frame).
    Ipv6(&'a [u8]),
}

/// Why a frame was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The frame does not parse.
    #[error("malformed frame: {0}")]
    Malformed(#[from] WireError),
    /// A frame the current phase does not take (RFC 1661 §3: silently discarded).
    #[error("{0} discarded in this phase")]
    Discarded(&'static str),
    /// The buffer given to `encapsulate_ip` has no room for the header.
    #[error("buffer too small")]
    BufferTooSmall,
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames that did not parse.
    pub malformed: u64,
    /// Frames discarded for the phase.
    pub discarded: u64,
    /// Protocol-Rejects we sent.
    pub protocol_rejects: u64,
    /// IP packets received.
    pub ip_rx: u64,
    /// IP packets sent.
    pub ip_tx: u64,
    /// Echo-Requests sent.
    pub echo_requests: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkTimer {
    Echo,
    Reauth,
}

impl TimerKind for LinkTimer {
    const VALUES: &'static [Self] = &[Self::Echo, Self::Reauth];
    fn index(self) -> usize {
        self as usize
    }
}

/// The link's CSPRNG (magic numbers, challenges, identifiers). Its state is 320 bytes, most of
/// them a block buffer, and an open link rarely draws (a re-authentication, a renegotiation):
/// once IP is up it is parked as a 32-octet seed drawn from it after every input, and revived
/// from that seed when next needed.
#[derive(Debug)]
struct LinkRng {
    live: Option<Box<StdRng>>,
    seed: [u8; 32],
}

impl LinkRng {
    fn new(rng: StdRng) -> Self {
        Self {
            live: Some(Box::new(rng)),
            seed: [0; 32],
        }
    }

    fn get(&mut self) -> &mut StdRng {
        let seed = self.seed;
        self.live
            .get_or_insert_with(|| Box::new(StdRng::from_seed(seed)))
    }

    fn park(&mut self) {
        if let Some(mut rng) = self.live.take() {
            self.seed = rng.random();
        }
    }
}

/// One PPP link.
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    rng: LinkRng,
    phase: Phase,
    lcp: ControlProtocol<Lcp>,
    ipcp: ControlProtocol<Ipcp>,
    // Boxed, as the two below: present on few links or on one side only, and each several
    // hundred bytes inline (tests/memory.rs).
    ipv6cp: Option<Box<ControlProtocol<Ipv6cp>>>,
    authenticator: Option<Box<Authenticator>>,
    peer: Option<Box<Peer>>,
    authenticated: bool,
    next_request: u64,
    echo_id: u8,
    timers: TimerTable<LinkTimer, 2>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    stats: Stats,
    /// Why LCP is closing, decided when the close began.
    closing_reason: Option<DownReason>,
    down: bool,
    link_up: bool,
}

impl Link {
    /// A link in the Dead phase.
    pub fn new(config: LinkConfig) -> Self {
        let mut rng = StdRng::from_seed(config.rng_seed);
        let server = config.role == Role::Server;
        let (require, accept) = if server {
            (config.auth_methods.clone(), Vec::new())
        } else {
            (Vec::new(), config.auth_methods.clone())
        };
        let magic = rng.random::<u32>() | 1;
        let lcp = ControlProtocol::new(
            Lcp::new(require, accept, config.mru, magic),
            config.fsm.clone(),
        );
        let ipcp = if server {
            Ipcp::server(
                config.local_ipv4.unwrap_or(Ipv4Addr::UNSPECIFIED),
                config.dns,
                config.nbns,
            )
        } else {
            Ipcp::client(config.local_ipv4)
        };
        let ipcp = ControlProtocol::new(ipcp, config.fsm.clone());
        let ipv6cp = config.ipv6.then(|| {
            let mut id: [u8; 8] = rng.random();
            id[0] &= !0x02; // not a universal identifier (RFC 4291 §2.5.1)
            id[7] |= 1;
            let mut suggest: [u8; 8] = rng.random();
            suggest[0] &= !0x02;
            suggest[7] |= 1;
            Box::new(ControlProtocol::new(
                Ipv6cp::new(id, suggest),
                config.fsm.clone(),
            ))
        });
        Self {
            config,
            rng: LinkRng::new(rng),
            phase: Phase::Dead,
            lcp,
            ipcp,
            ipv6cp,
            authenticator: None,
            peer: None,
            authenticated: false,
            next_request: 0,
            echo_id: 0,
            timers: TimerTable::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            closing_reason: None,
            down: false,
            link_up: false,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The layer below is up: start LCP (RFC 1661 §3.2, Up + Open).
    pub fn open(&mut self, now: Instant) {
        if self.config.encryption == EncryptionPolicy::Require && !self.config.ipsec_protected {
            self.go_down(DownReason::EncryptionRequired);
            return;
        }
        self.phase = Phase::Establish;
        self.lcp.up(now);
        self.lcp.open(now);
        self.pump(now);
    }

    /// Closes the link with an LCP Terminate-Request carrying `reason`.
    pub fn close(&mut self, now: Instant, reason: &str) {
        if self.down {
            return;
        }
        self.closing_reason
            .get_or_insert(DownReason::Closed(reason.to_owned()));
        self.phase = Phase::Terminate;
        self.lcp.close(now, reason.as_bytes());
        self.pump(now);
    }

    /// The L2TP session below is gone: the link ends at once.
    pub fn lower_down(&mut self, now: Instant) {
        self.lcp.down(now);
        self.go_down(DownReason::LowerDown);
        self.pump(now);
    }

    /// Server: the decision on an [`Event::AuthRequested`].
    pub fn complete_auth(&mut self, now: Instant, request: u64, verdict: Verdict) {
        if let (Verdict::Accept(a), Some(_)) = (&verdict, &self.authenticator) {
            if a.peer_ip.is_some() {
                self.ipcp.protocol.assign_peer(a.peer_ip);
            }
        }
        if let Some(a) = &mut self.authenticator {
            a.complete(now, request, verdict);
        }
        self.pump(now);
    }

    /// Feeds one PPP frame from the L2TP session.
    pub fn handle_frame<'a>(
        &mut self,
        now: Instant,
        frame: &'a [u8],
    ) -> Result<Received<'a>, Error> {
        let (protocol, info) = match parse_frame(frame) {
            Ok(x) => x,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e.into());
            }
        };
        let result = self.dispatch(now, protocol, info);
        if !matches!(result, Ok(Received::Ipv4(_) | Received::Ipv6(_))) {
            // An IP packet changes no state: the data path skips the pump.
            self.pump(now);
        }
        result
    }

    fn dispatch<'a>(
        &mut self,
        now: Instant,
        protocol: Protocol,
        info: &'a [u8],
    ) -> Result<Received<'a>, Error> {
        match protocol {
            Protocol::Ipv4 if self.ipcp.state() == State::Opened => {
                self.stats.ip_rx += 1;
                Ok(Received::Ipv4(info))
            }
            Protocol::Ipv6
                if self
                    .ipv6cp
                    .as_ref()
                    .is_some_and(|c| c.state() == State::Opened) =>
            {
                self.stats.ip_rx += 1;
                Ok(Received::Ipv6(info))
            }
            Protocol::Ipv4 | Protocol::Ipv6 => self.discard("IP before its NCP opened"),
            Protocol::Lcp => {
                if let Ok(p) = Packet::parse(info) {
                    if p.code == code::TERMINATE_REQUEST && self.closing_reason.is_none() {
                        self.closing_reason = Some(DownReason::TerminatedByPeer(
                            String::from_utf8_lossy(p.data).into_owned(),
                        ));
                    }
                }
                let _ = self.lcp.handle_packet(now, info);
                self.after_protocol_rejects(now);
                Ok(Received::Control)
            }
            Protocol::Pap | Protocol::Chap | Protocol::Eap => {
                // In the Network phase the finished exchange still answers duplicates (a
                // retransmitted Response whose Success was lost) and runs re-authentication.
                if !matches!(self.phase, Phase::Authenticate | Phase::Network) {
                    return self.discard("authentication outside the Authenticate phase");
                }
                let Ok(packet) = Packet::parse(info) else {
                    self.stats.malformed += 1;
                    return Ok(Received::Control);
                };
                if let Some(a) = &mut self.authenticator {
                    a.handle(
                        now,
                        self.rng.get(),
                        protocol,
                        &packet,
                        &mut self.next_request,
                    );
                } else if let Some(p) = &mut self.peer {
                    p.handle(now, self.rng.get(), protocol, &packet);
                }
                Ok(Received::Control)
            }
            Protocol::Ipcp if self.phase == Phase::Network => {
                let _ = self.ipcp.handle_packet(now, info);
                Ok(Received::Control)
            }
            Protocol::Ipv6cp if self.phase == Phase::Network && self.ipv6cp.is_some() => {
                if let Some(c) = &mut self.ipv6cp {
                    let _ = c.handle_packet(now, info);
                }
                Ok(Received::Control)
            }
            Protocol::Ipcp => {
                // A client still waiting for a lost EAP Success may take this as it (RFC 3748 §4.2);
                // the server then retransmits, and the next copy is taken.
                if let Some(p) = &mut self.peer {
                    p.network_traffic_seen();
                }
                self.discard("IPCP before the Network phase")
            }
            Protocol::Ipv6cp if self.phase != Phase::Network && self.ipv6cp.is_some() => {
                self.discard("IPv6CP before the Network phase")
            }
            // CCP, ECP (never negotiated: seed 001 §5.2), IPv6CP when IPv6 is off, and every
            // protocol we do not speak: LCP Protocol-Reject (RFC 1661 §5.7), only once LCP is open.
            _ => {
                if self.lcp.state() != State::Opened {
                    return self.discard("unknown protocol before LCP opened");
                }
                self.protocol_reject(protocol, info);
                Ok(Received::Control)
            }
        }
    }

    fn discard<'a>(&mut self, what: &'static str) -> Result<Received<'a>, Error> {
        self.stats.discarded += 1;
        Err(Error::Discarded(what))
    }

    fn protocol_reject(&mut self, protocol: Protocol, info: &[u8]) {
        self.stats.protocol_rejects += 1;
        let max = usize::from(self.lcp.protocol.result.peer_mru)
            .saturating_sub(8)
            .max(64);
        let mut data = protocol.value().to_be_bytes().to_vec();
        data.extend_from_slice(&info[..info.len().min(max)]);
        self.echo_id = self.echo_id.wrapping_add(1);
        let mut packet = Vec::new();
        Packet::encode(code::PROTOCOL_REJECT, self.echo_id, &data, &mut packet);
        self.send(Protocol::Lcp, &packet);
    }

    /// Protocol-Rejects the peer sent us (RFC 1661 §5.7): an NCP it does not speak ends.
    fn after_protocol_rejects(&mut self, now: Instant) {
        let rejected = std::mem::take(&mut self.lcp.protocol.protocol_rejects);
        for p in rejected {
            match Protocol::from(p) {
                Protocol::Ipv6cp => {
                    if let Some(c) = &mut self.ipv6cp {
                        c.protocol_rejected(now);
                    }
                }
                Protocol::Ipcp => self.ipcp.protocol_rejected(now),
                Protocol::Lcp => self.lcp.protocol_rejected(now),
                _ => {}
            }
        }
    }

    /// Lets time pass.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.lcp.handle_timeout(now);
        self.ipcp.handle_timeout(now);
        if let Some(c) = &mut self.ipv6cp {
            c.handle_timeout(now);
        }
        if let Some(a) = &mut self.authenticator {
            a.handle_timeout(now);
        }
        if let Some(p) = &mut self.peer {
            p.handle_timeout(now);
        }
        while let Some(t) = self.timers.expire(now) {
            match t {
                LinkTimer::Echo => self.on_echo_timer(now),
                LinkTimer::Reauth => self.start_auth(now),
            }
        }
        self.pump(now);
    }

    fn on_echo_timer(&mut self, now: Instant) {
        let Some(interval) = self.config.echo_interval else {
            return;
        };
        if self.lcp.state() != State::Opened || self.down {
            return;
        }
        if self.lcp.protocol.echo_outstanding >= self.config.echo_failures {
            self.go_down(DownReason::EchoTimeout);
            self.lcp.down(now);
            return;
        }
        self.lcp.protocol.echo_outstanding += 1;
        self.stats.echo_requests += 1;
        self.echo_id = self.echo_id.wrapping_add(1);
        let mut packet = Vec::new();
        Packet::encode(
            code::ECHO_REQUEST,
            self.echo_id,
            &self.lcp.protocol.magic.to_be_bytes(),
            &mut packet,
        );
        self.send(Protocol::Lcp, &packet);
        self.timers.set(LinkTimer::Echo, now + interval);
    }

    /// When to call [`Link::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.lcp.poll_timeout(),
            self.ipcp.poll_timeout(),
            self.ipv6cp.as_ref().and_then(|c| c.poll_timeout()),
            self.authenticator.as_ref().and_then(|a| a.poll_timeout()),
            self.peer.as_ref().and_then(|p| p.poll_timeout()),
            self.timers.next_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next PPP frame to send in the L2TP session.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let frame = self.out.pop_front();
        if frame.is_none() {
            // Drained: control frames come in rare bursts, so the buffer is not kept.
            self.out.shrink_to_fit();
        }
        frame
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if event.is_none() {
            // Drained: events are rare and large (an `AuthRequest`); the buffer is not kept.
            self.events.shrink_to_fit();
        }
        event
    }

    /// Writes the PPP header (address, control, protocol) for an IP packet at `packet` into the
    /// [`PPP_HEADER_LEN`] bytes before it; returns the frame's range. No allocation.
    pub fn encapsulate_ip(
        &mut self,
        buf: &mut [u8],
        packet: Range<usize>,
        ipv6: bool,
    ) -> Result<Range<usize>, Error> {
        if packet.start < PPP_HEADER_LEN || packet.end > buf.len() || packet.start > packet.end {
            return Err(Error::BufferTooSmall);
        }
        let protocol = if ipv6 { Protocol::Ipv6 } else { Protocol::Ipv4 };
        let start = packet.start - PPP_HEADER_LEN;
        write_frame_header(protocol, false, false, &mut buf[start..packet.start])?;
        self.stats.ip_tx += 1;
        Ok(start..packet.end)
    }

    fn send(&mut self, protocol: Protocol, packet: &[u8]) {
        let mut frame = Vec::with_capacity(packet.len() + PPP_HEADER_LEN);
        encode_frame(protocol, false, false, packet, &mut frame);
        self.out.push_back(frame);
    }

    fn go_down(&mut self, reason: DownReason) {
        if self.down {
            return;
        }
        self.down = true;
        self.phase = Phase::Dead;
        self.timers.stop_all();
        self.events.push_back(Event::LinkDown { reason });
    }

    /// Moves packets and events out of the sub-machines and acts on layer events, until quiet.
    fn pump(&mut self, now: Instant) {
        for _ in 0..16 {
            let mut progress = false;
            while let Some(p) = self.lcp.poll_packet() {
                self.send(Protocol::Lcp, &p);
                progress = true;
            }
            while let Some(e) = self.lcp.poll_event() {
                self.on_lcp(now, e);
                progress = true;
            }
            while let Some(o) = self.authenticator.as_mut().and_then(|a| a.out.pop_front()) {
                self.on_authenticator(now, o);
                progress = true;
            }
            while let Some(o) = self.peer.as_mut().and_then(|p| p.out.pop_front()) {
                self.on_peer(now, o);
                progress = true;
            }
            // Drained: an exchange outputs a few items once; the buffers are not kept.
            if let Some(a) = &mut self.authenticator {
                a.out.shrink_to_fit();
            }
            if let Some(p) = &mut self.peer {
                p.out.shrink_to_fit();
            }
            while let Some(p) = self.ipcp.poll_packet() {
                self.send(Protocol::Ipcp, &p);
                progress = true;
            }
            while let Some(e) = self.ipcp.poll_event() {
                self.on_ipcp(now, e);
                progress = true;
            }
            let mut v6 = Vec::new();
            if let Some(c) = &mut self.ipv6cp {
                while let Some(p) = c.poll_packet() {
                    v6.push(p);
                }
            }
            for p in v6 {
                self.send(Protocol::Ipv6cp, &p);
                progress = true;
            }
            while let Some(e) = self.ipv6cp.as_mut().and_then(|c| c.poll_event()) {
                self.on_ipv6cp(e);
                progress = true;
            }
            if !progress {
                break;
            }
        }
        if self.link_up {
            self.rng.park();
        }
    }

    fn on_lcp(&mut self, now: Instant, e: LayerEvent) {
        match e {
            LayerEvent::Up => {
                if self.down {
                    return;
                }
                self.phase = Phase::Authenticate;
                if let Some(i) = self.config.echo_interval {
                    self.timers.set(LinkTimer::Echo, now + i);
                }
                self.start_auth(now);
            }
            LayerEvent::Down => {
                // Renegotiation (a Configure-Request in Opened) or a close: the NCPs go down.
                self.ipcp.down(now);
                if let Some(c) = &mut self.ipv6cp {
                    c.down(now);
                }
                self.authenticated = false;
                self.end_auth();
                self.timers.stop_all();
                if self.phase != Phase::Terminate && !self.down {
                    // RFC 1661 §3.7: a Terminate-Request from the peer (LCP now Stopping) is
                    // the Link Termination phase, not a new Link Establishment.
                    self.phase = if self.lcp.state() == State::Stopping {
                        Phase::Terminate
                    } else {
                        Phase::Establish
                    };
                }
            }
            LayerEvent::Started => {}
            LayerEvent::Finished => {
                let reason = self.closing_reason.take().unwrap_or(if self.lcp.gave_up() {
                    DownReason::NegotiationFailed("LCP")
                } else {
                    DownReason::Closed(String::new())
                });
                self.go_down(reason);
            }
        }
    }

    /// LCP left Opened: the authentication exchange in progress, if any, ends with it.
    ///
    /// RFC 1661 §3.5 runs authentication over an open link, and §3.7 ends it with the link:
    /// nothing of the exchange may outlive LCP. Kept, an authenticator would retransmit its
    /// Challenge after our Terminate-Ack, keep [`Link::poll_timeout`] armed after
    /// [`Event::LinkDown`], and a verdict arriving late ([`Link::complete_auth`], a RADIUS
    /// answer after the peer hung up) would start IPCP on a dead link. A renegotiation (a
    /// Configure-Request in Opened) starts a fresh exchange on the next Up.
    fn end_auth(&mut self) {
        self.authenticator = None;
        self.peer = None;
    }

    /// Starts (or, for re-authentication, restarts) the authentication exchange.
    fn start_auth(&mut self, now: Instant) {
        let r = self.lcp.protocol.result.clone();
        let restart = self.config.fsm.restart;
        let retries = self.config.fsm.max_configure;
        match self.config.role {
            Role::Server => match r.we_require {
                Some(m) => {
                    // A re-authentication reuses the authenticator, so that its Challenge
                    // takes an Identifier other than the last one (RFC 1994 §4.1).
                    let mut a = self
                        .authenticator
                        .take()
                        .filter(|a| a.method() == m)
                        .unwrap_or_else(|| {
                            Box::new(Authenticator::new(m, &self.config.name, restart, retries))
                        });
                    a.start(now, self.rng.get(), self.config.auth_timeout);
                    self.authenticator = Some(a);
                }
                None => self.auth_done(now, String::new(), None),
            },
            Role::Client => match r.peer_requires {
                Some(m) => {
                    let mut p = Peer::new(
                        m,
                        &self.config.auth_methods,
                        &self.config.user,
                        &self.config.password,
                        restart,
                        retries,
                    );
                    p.start(now, self.rng.get(), self.config.auth_timeout);
                    self.peer = Some(Box::new(p));
                }
                None => self.auth_done(now, self.config.user.clone(), None),
            },
        }
    }

    fn on_authenticator(&mut self, now: Instant, o: authenticator::Output) {
        match o {
            authenticator::Output::Send(p, packet) => self.send(p, &packet),
            authenticator::Output::Request(r) => self.events.push_back(Event::AuthRequested(r)),
            authenticator::Output::Success(user) => {
                let method = self.authenticator.as_ref().map(|a| a.method());
                self.auth_done(now, user, method);
            }
            authenticator::Output::Failure(reason) => self.auth_failed(now, reason),
        }
    }

    fn on_peer(&mut self, now: Instant, o: peer::Output) {
        match o {
            peer::Output::Send(p, packet) => self.send(p, &packet),
            peer::Output::Success => {
                let method = self.lcp.protocol.result.peer_requires;
                self.auth_done(now, self.config.user.clone(), method);
            }
            peer::Output::Failure(reason) => self.auth_failed(now, reason),
        }
    }

    fn auth_done(&mut self, now: Instant, user: String, method: Option<AuthMethod>) {
        if let Some(m) = method {
            self.events
                .push_back(Event::Authenticated { user, method: m });
        }
        if self.authenticated {
            // A periodic re-authentication succeeded: nothing else changes.
            self.arm_reauth(now);
            return;
        }
        self.authenticated = true;
        self.phase = Phase::Network;
        self.arm_reauth(now);
        self.ipcp.up(now);
        self.ipcp.open(now);
        if let Some(c) = &mut self.ipv6cp {
            c.up(now);
            c.open(now);
        }
    }

    fn arm_reauth(&mut self, now: Instant) {
        let chap_family = self.authenticator.as_ref().is_some_and(|a| {
            matches!(
                a.method(),
                AuthMethod::ChapMd5 | AuthMethod::MsChapV1 | AuthMethod::MsChapV2
            )
        });
        if let (Some(i), true) = (self.config.reauth_interval, chap_family) {
            self.timers.set(LinkTimer::Reauth, now + i);
        }
    }

    fn auth_failed(&mut self, now: Instant, reason: String) {
        self.closing_reason = Some(DownReason::AuthFailed(reason.clone()));
        self.phase = Phase::Terminate;
        self.lcp.close(now, reason.as_bytes());
    }

    fn on_ipcp(&mut self, now: Instant, e: LayerEvent) {
        match e {
            LayerEvent::Up => {
                let r = self.ipcp.protocol.result;
                let info = LinkInfo {
                    local: r.local.unwrap_or(Ipv4Addr::UNSPECIFIED),
                    peer: r.peer.unwrap_or(Ipv4Addr::UNSPECIFIED),
                    dns: r.dns,
                    nbns: r.nbns,
                    mru: self.lcp.protocol.result.our_mru,
                    peer_mru: self.lcp.protocol.result.peer_mru,
                };
                self.link_up = true;
                self.events.push_back(Event::LinkUp(info));
            }
            LayerEvent::Finished if self.phase == Phase::Network && !self.down => {
                // IPCP could not be agreed: without IP the link has no use.
                let reason = if self.ipcp.gave_up() {
                    "IPCP negotiation failed"
                } else {
                    "IPCP closed"
                };
                self.closing_reason = Some(DownReason::NegotiationFailed("IPCP"));
                self.phase = Phase::Terminate;
                self.lcp.close(now, reason.as_bytes());
            }
            _ => {}
        }
    }

    fn on_ipv6cp(&mut self, e: LayerEvent) {
        if let (LayerEvent::Up, Some(c)) = (e, &self.ipv6cp) {
            if let Some(peer_id) = c.protocol.peer_id {
                self.events.push_back(Event::Ipv6Up {
                    local_id: c.protocol.local_id,
                    peer_id,
                });
            }
        }
    }
}
