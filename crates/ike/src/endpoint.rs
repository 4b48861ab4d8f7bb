//! The IKEv1 endpoint: every ISAKMP SA of one node, as a sans-IO state machine (quinn shape).
//!
//! The caller feeds datagrams ([`Endpoint::handle_datagram`]) and timeouts
//! ([`Endpoint::handle_timeout`]) with the current time, and drains
//! [`Endpoint::poll_transmit`], [`Endpoint::poll_event`] and [`Endpoint::poll_timeout`].
//! Negotiated IPsec SAs come out as [`Event::Phase2Up`] with everything sras-esp needs.

use core::cmp::Reverse;
use core::time::Duration;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sras_core::{RateLimiter, Transmit};
use sras_esp::{SaParams, Spi};
use zeroize::Zeroizing;

use crate::config::{ChildRequest, Config};
use crate::crypto::{CryptoError, HashAlgorithm};
use crate::fragment::{FragmentLimits, Reassembler};
use crate::proposal::{AuthMethod, Encapsulation, Phase1Suite};
use crate::sa::{Flight, IsakmpSa, P1State, Role, SaId};
use crate::wire::{
    split_payloads, ExchangeType, Flags, FragmentPayload, Header, Identification, PayloadType,
    RawPayload,
};

/// The non-ESP marker before IKE on the NAT-T port (RFC 3948 §2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// Why an SA went away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// The peer sent a Delete.
    PeerDeleted,
    /// We deleted it (operator, shutdown, or the L2TP tunnel above it closed).
    LocalDelete,
    /// No answer to dead peer detection.
    DeadPeer,
    /// Its lifetime ran out.
    Expired,
    /// A rekeyed SA, or a new SA after INITIAL-CONTACT, took its place.
    Replaced,
    /// The negotiation failed (timeout, no proposal, authentication).
    Failed(String),
}

/// Phase 1 facts for logs and the layers above.
#[derive(Debug, Clone)]
pub struct Phase1Info {
    /// The SA.
    pub sa: SaId,
    /// Our role.
    pub role: Role,
    /// Main or Aggressive Mode.
    pub exchange: ExchangeType,
    /// Our address (port 4500 after floating).
    pub local: SocketAddr,
    /// The peer's address.
    pub remote: SocketAddr,
    /// Initiator and responder cookies.
    pub cookies: ([u8; 8], [u8; 8]),
    /// Negotiated suite.
    pub suite: Phase1Suite,
    /// Authentication method.
    pub auth: AuthMethod,
    /// The peer's phase 1 ID.
    pub peer_id: Identification,
    /// The subject of the peer's certificate (signature authentication), for logs.
    pub peer_subject: Option<String>,
    /// The peer is behind a NAT / we are (or pretend to be).
    pub nat: (bool, bool),
    /// The key the peer was authenticated with was the group key.
    pub group_key: bool,
    /// Lifetime.
    pub lifetime: Duration,
    /// The phase 1 encryption key, if [`Config::export_keys`] (Wireshark's
    /// `ikev1_decryption_table`).
    pub encryption_key: Option<Zeroizing<Vec<u8>>>,
}

/// Traffic selectors from the Quick Mode IDs (RFC 2407 §4.6.2), resolved to addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selectors {
    /// Our address (or subnet base in tunnel mode).
    pub local: IpAddr,
    /// The peer's address.
    pub remote: IpAddr,
    /// IP protocol (17 for L2TP; 0 = any).
    pub protocol: u8,
    /// Our port (1701; 0 = any).
    pub local_port: u16,
    /// The peer's port (1701, or 0 = any, which Apple proposes).
    pub remote_port: u16,
}

/// A negotiated IPsec SA pair.
#[derive(Debug)]
pub struct ChildSa {
    /// The ISAKMP SA it was negotiated under.
    pub phase1: SaId,
    /// Inbound SA (our SPI).
    pub inbound: SaParams,
    /// Outbound SA (the peer's SPI).
    pub outbound: SaParams,
    /// Mode and UDP encapsulation.
    pub encapsulation: Encapsulation,
    /// Our IKE address (ESP in UDP uses our NAT-T port).
    pub local: SocketAddr,
    /// The peer's IKE address (ESP in UDP goes to its NAT-T port).
    pub remote: SocketAddr,
    /// Traffic selectors.
    pub selectors: Selectors,
    /// The peer's original address from NAT-OA (RFC 3947 §5.2), for transport-mode checksums.
    pub peer_original: Option<IpAddr>,
    /// Lifetime.
    pub lifetime: Duration,
    /// The SA (inbound SPI) this one rekeys; the caller keeps both until the old one goes.
    pub replaces: Option<Spi>,
}

/// What the endpoint tells its caller.
#[derive(Debug)]
pub enum Event {
    /// An ISAKMP SA is established.
    Phase1Up(Box<Phase1Info>),
    /// An ISAKMP SA went away (its IPsec SAs are reported separately).
    Phase1Down {
        /// The SA.
        sa: SaId,
        /// The peer.
        remote: SocketAddr,
        /// Why.
        reason: DownReason,
    },
    /// An IPsec SA pair is ready: install it in sras-esp.
    Phase2Up(Box<ChildSa>),
    /// An IPsec SA pair must be removed.
    Phase2Down {
        /// The ISAKMP SA.
        phase1: SaId,
        /// Our SPI.
        inbound: Spi,
        /// The peer's SPI.
        outbound: Spi,
        /// Why.
        reason: DownReason,
    },
}

/// Counters of what the endpoint refused or did (every drop moves exactly one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams whose header or payload chain did not parse.
    pub malformed: u64,
    /// Messages for cookies we do not know.
    pub unknown_sa: u64,
    /// Messages that do not fit the state (wrong exchange, missing payload, bad nonce...).
    pub unexpected: u64,
    /// Messages that did not decrypt or whose HASH/SIG did not verify.
    pub bad_auth: u64,
    /// New responder SAs refused by the half-open limits.
    pub half_open_refused: u64,
    /// Phase 1 proposals refused.
    pub no_proposal: u64,
    /// Duplicates answered by resending our last message.
    pub echoed: u64,
    /// Duplicates ignored.
    pub duplicates: u64,
    /// Timer-driven retransmissions.
    pub retransmits: u64,
    /// Fragments refused by the reassembler.
    pub fragments_dropped: u64,
    /// Phase 1 SAs established.
    pub phase1_established: u64,
    /// Phase 2 SAs established.
    pub phase2_established: u64,
}

/// Why a datagram was not processed (also counted in [`Stats`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Dropped {
    /// Not a valid ISAKMP message.
    #[error("malformed: {0}")]
    Malformed(String),
    /// No SA for these cookies.
    #[error("unknown SA")]
    UnknownSa,
    /// Not acceptable in the current state.
    #[error("unexpected: {0}")]
    Unexpected(String),
    /// Decryption or authentication failed.
    #[error("authentication: {0}")]
    BadAuth(String),
    /// A retransmission (answered or ignored).
    #[error("duplicate")]
    Duplicate,
    /// Limits.
    #[error("refused: {0}")]
    Refused(String),
}

impl From<crate::wire::Error> for Dropped {
    fn from(e: crate::wire::Error) -> Self {
        Self::Malformed(e.to_string())
    }
}

impl From<CryptoError> for Dropped {
    fn from(e: CryptoError) -> Self {
        Self::BadAuth(e.to_string())
    }
}

/// A received message after decryption: header, plaintext chain, payload index.
pub(crate) struct Inbound {
    pub(crate) plain: Vec<u8>,
    pub(crate) payloads: Vec<RawPayload>,
}

impl Inbound {
    pub(crate) fn first(&self, kind: PayloadType) -> Option<&[u8]> {
        self.payloads
            .iter()
            .find(|p| p.kind == kind)
            .map(|p| p.body(&self.plain))
    }

    pub(crate) fn all(&self, kind: PayloadType) -> impl Iterator<Item = &[u8]> {
        self.payloads
            .iter()
            .filter(move |p| p.kind == kind)
            .map(|p| p.body(&self.plain))
    }

    /// The bytes after the first payload (which must be the HASH), to the end of the last
    /// payload (padding excluded): what HASH(1)/HASH(2) cover (RFC 2409 §5.5, §5.7).
    pub(crate) fn after_hash(&self) -> Option<&[u8]> {
        let first = self.payloads.first()?;
        if first.kind != PayloadType::Hash {
            return None;
        }
        let end = self.payloads.last()?.body.end;
        self.plain.get(first.body.end..end)
    }
}

/// An IKEv1 endpoint.
pub struct Endpoint {
    pub(crate) config: Arc<Config>,
    pub(crate) rng: StdRng,
    pub(crate) sas: HashMap<SaId, IsakmpSa>,
    next_id: u64,
    pub(crate) by_cookies: HashMap<([u8; 8], [u8; 8]), SaId>,
    /// Initiator SAs waiting for the responder cookie, by our cookie.
    pub(crate) by_icookie: HashMap<[u8; 8], SaId>,
    /// Responder SAs by the initiator's cookie and address (duplicate message 1).
    pub(crate) half_open: HashMap<([u8; 8], SocketAddr), SaId>,
    half_open_per_ip: HashMap<IpAddr, usize>,
    timers: BinaryHeap<Reverse<(Instant, SaId)>>,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    fragments: Reassembler,
    pub(crate) stats: Stats,
    pub(crate) log_limit: RateLimiter,
    pub(crate) notify_limit: RateLimiter,
    /// (instant, Unix seconds) pair for certificate validity checks.
    wall_clock: Option<(Instant, u64)>,
}

impl Endpoint {
    /// An endpoint; `seed` seeds its random numbers (cookies, nonces, SPIs, DH secrets), so
    /// the daemon passes 32 bytes from the OS and tests a fixed value.
    #[must_use]
    pub fn new(config: Arc<Config>, seed: [u8; 32]) -> Self {
        Self {
            config,
            rng: StdRng::from_seed(seed),
            sas: HashMap::new(),
            next_id: 1,
            by_cookies: HashMap::new(),
            by_icookie: HashMap::new(),
            half_open: HashMap::new(),
            half_open_per_ip: HashMap::new(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            fragments: Reassembler::new(FragmentLimits::default()),
            stats: Stats::default(),
            log_limit: RateLimiter::new(10, Duration::from_secs(1)),
            notify_limit: RateLimiter::new(20, Duration::from_millis(100)),
            wall_clock: None,
        }
    }

    /// Tells the endpoint the Unix time at `now`, for certificate validity (RFC 5280 §6.1.3);
    /// without it no certificate is valid.
    pub fn set_unix_time(&mut self, now: Instant, unix_secs: u64) {
        self.wall_clock = Some((now, unix_secs));
    }

    pub(crate) fn unix_time(&self, now: Instant) -> u64 {
        self.wall_clock.map_or(0, |(at, secs)| {
            secs + now.saturating_duration_since(at).as_secs()
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Number of ISAKMP SAs held (any state).
    #[must_use]
    pub fn sa_count(&self) -> usize {
        self.sas.len()
    }

    /// ISAKMP SAs held (any state) with a peer at `ip`.
    #[must_use]
    pub fn sa_count_for(&self, ip: IpAddr) -> usize {
        self.sas
            .values()
            .filter(|s| s.remote.ip().to_canonical() == ip.to_canonical())
            .count()
    }

    /// Established ISAKMP SAs.
    #[must_use]
    pub fn established_count(&self) -> usize {
        self.sas.values().filter(|s| s.is_established()).count()
    }

    /// Live IPsec SA pairs (inbound SPI, outbound SPI) under every ISAKMP SA.
    #[must_use]
    pub fn children(&self) -> Vec<(SaId, Spi, Spi)> {
        let mut v: Vec<_> = self
            .sas
            .values()
            .flat_map(|s| s.children.iter().map(|c| (s.id, c.spi_in, c.spi_out)))
            .collect();
        v.sort_by_key(|x| (x.0, x.1 .0));
        v
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let sa = self.timers.peek().map(|Reverse((t, _))| *t);
        match (sa, self.fragments.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn alloc_id(&mut self) -> SaId {
        let id = SaId(self.next_id);
        self.next_id += 1;
        id
    }

    pub(crate) fn random_cookie(&mut self) -> [u8; 8] {
        loop {
            let mut c = [0u8; 8];
            self.rng.fill_bytes(&mut c);
            if c != [0; 8] {
                return c;
            }
        }
    }

    pub(crate) fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill_bytes(&mut v);
        v
    }

    /// A random SPI for an inbound SA: never 0-255 (RFC 4303 §2.1 reserves them).
    pub(crate) fn random_spi(&mut self) -> [u8; 4] {
        loop {
            let v = self.rng.next_u32();
            if v > 255 {
                return v.to_be_bytes();
            }
        }
    }

    /// Re-registers the SA's deadline in the timer heap if it changed.
    pub(crate) fn reschedule(&mut self, id: SaId) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let d = sa.next_deadline();
        if d != sa.deadline {
            sa.deadline = d;
            if let Some(t) = d {
                self.timers.push(Reverse((t, id)));
            }
        }
    }

    /// Handles one UDP payload received on `local` from `remote`. On the NAT-T port the
    /// payload starts with the non-ESP marker; the caller has already taken ESP and
    /// keepalives away (sras_esp::udp_encap::classify).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        payload: &[u8],
    ) -> Result<(), Dropped> {
        let data = if local.port() == self.config.natt_port {
            match payload.strip_prefix(&NON_ESP_MARKER) {
                Some(d) => d,
                None => {
                    self.stats.malformed += 1;
                    return Err(Dropped::Malformed(
                        "no non-ESP marker on the NAT-T port".into(),
                    ));
                }
            }
        } else {
            payload
        };
        let r = self.handle_message(now, local, remote, data, 0);
        if let Err(e) = &r {
            match e {
                Dropped::Malformed(_) => self.stats.malformed += 1,
                Dropped::UnknownSa => self.stats.unknown_sa += 1,
                Dropped::Unexpected(_) => self.stats.unexpected += 1,
                Dropped::BadAuth(_) => self.stats.bad_auth += 1,
                Dropped::Duplicate | Dropped::Refused(_) => {}
            }
            if self.log_limit.check(now).is_some() {
                tracing::debug!(%remote, error = %e, "IKE message dropped");
            }
        }
        r
    }

    fn handle_message(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
        depth: u8,
    ) -> Result<(), Dropped> {
        // RFC 2408 §5.1: a bad header is dropped silently (ROBUSTNESS 32).
        let header = Header::decode(data)?;
        let msg = data
            .get(..header.length as usize)
            .ok_or_else(|| Dropped::Malformed("length".into()))?;
        if header.next_payload == PayloadType::Fragment {
            return self.handle_fragment(now, local, remote, &header, msg, depth);
        }
        if header.responder_cookie == [0; 8] {
            return self.handle_first(now, local, remote, &header, msg);
        }
        let key = (header.initiator_cookie, header.responder_cookie);
        let id = match self.by_cookies.get(&key) {
            Some(id) => *id,
            None => {
                // Our MM1 being answered: learn the responder cookie.
                let id = *self
                    .by_icookie
                    .get(&header.initiator_cookie)
                    .ok_or(Dropped::UnknownSa)?;
                let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
                if sa.state != P1State::MmI1
                    || header.exchange_type != ExchangeType::IdentityProtection
                    || sa.remote.ip() != remote.ip()
                {
                    return Err(Dropped::UnknownSa);
                }
                id
            }
        };
        let r = self.dispatch(now, id, local, remote, &header, msg);
        self.reschedule(id);
        r
    }

    fn dispatch(
        &mut self,
        now: Instant,
        id: SaId,
        local: SocketAddr,
        remote: SocketAddr,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        match header.exchange_type {
            ExchangeType::IdentityProtection | ExchangeType::Aggressive
                if header.message_id == 0 =>
            {
                self.phase1_message(now, id, local, remote, header, msg)
            }
            ExchangeType::QuickMode if header.message_id != 0 => {
                self.quick_message(now, id, local, remote, header, msg)
            }
            ExchangeType::Informational => self.informational(now, id, local, remote, header, msg),
            t => Err(Dropped::Unexpected(format!(
                "exchange {t:?} with message id {}",
                header.message_id
            ))),
        }
    }

    fn handle_fragment(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        header: &Header,
        msg: &[u8],
        depth: u8,
    ) -> Result<(), Dropped> {
        // Only fragments of an SA we hold, from its peer (ROBUSTNESS 34: unknown cookies dropped).
        let known = self
            .by_cookies
            .get(&(header.initiator_cookie, header.responder_cookie))
            .and_then(|id| self.sas.get(id));
        if depth > 0 || known.is_none_or(|sa| sa.remote.ip() != remote.ip()) {
            self.stats.fragments_dropped += 1;
            return Err(Dropped::UnknownSa);
        }
        let payloads = split_payloads(header.next_payload, header.body(msg))?;
        let body = header.body(msg);
        let first = payloads
            .first()
            .ok_or_else(|| Dropped::Malformed("empty fragment".into()))?;
        let frag = FragmentPayload::decode(first.body(body))?;
        let dropped_before = self.fragments.dropped();
        let r = self.fragments.insert(now, header.initiator_cookie, &frag);
        // One count per datagram refused or ignored as a duplicate.
        if r.is_err() || self.fragments.dropped() != dropped_before {
            self.stats.fragments_dropped += 1;
        }
        match r {
            Ok(Some(whole)) => self.handle_message(now, local, remote, &whole, depth + 1),
            Ok(None) => Ok(()),
            Err(e) => Err(Dropped::Refused(e.to_string())),
        }
    }

    /// Message 1 of Main or Aggressive Mode from a new peer, or its retransmission.
    fn handle_first(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        if header.message_id != 0 || header.flags.contains(Flags::ENCRYPTION) {
            return Err(Dropped::Unexpected(
                "message 1 with a message ID or encrypted".into(),
            ));
        }
        if let Some(&id) = self.half_open.get(&(header.initiator_cookie, remote)) {
            let r = self.phase1_message(now, id, local, remote, header, msg);
            self.reschedule(id);
            return r;
        }
        match header.exchange_type {
            ExchangeType::IdentityProtection => {}
            ExchangeType::Aggressive if self.config.aggressive_mode => {}
            ExchangeType::Aggressive => {
                self.stats.no_proposal += 1;
                return Err(Dropped::Refused("Aggressive Mode is disabled".into()));
            }
            t => {
                return Err(Dropped::Unexpected(format!(
                    "exchange {t:?} without a responder cookie"
                )))
            }
        }
        // Half-open limits (ROBUSTNESS 37): refuse before spending anything on the peer.
        let per_ip = self
            .half_open_per_ip
            .get(&remote.ip())
            .copied()
            .unwrap_or(0);
        if self.half_open.len() >= self.config.max_half_open
            || per_ip >= self.config.max_half_open_per_peer
        {
            self.stats.half_open_refused += 1;
            return Err(Dropped::Refused("half-open limit".into()));
        }
        let id = self.alloc_id();
        let mut sa = IsakmpSa::new(
            id,
            Role::Responder,
            header.exchange_type,
            local,
            remote,
            header.initiator_cookie,
            now,
        );
        sa.give_up_at = Some(now + self.config.half_open_timeout);
        self.sas.insert(id, sa);
        let r = self.phase1_message(now, id, local, remote, header, msg);
        match self.sas.get(&id) {
            Some(sa) if r.is_ok() => {
                self.half_open.insert((header.initiator_cookie, remote), id);
                *self.half_open_per_ip.entry(remote.ip()).or_insert(0) += 1;
                self.by_cookies.insert((sa.cky_i, sa.cky_r), id);
            }
            _ => {
                self.sas.remove(&id);
            }
        }
        self.reschedule(id);
        r
    }

    /// The responder SA is established (or gone): it no longer counts as half-open.
    pub(crate) fn leave_half_open(&mut self, id: SaId) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        sa.give_up_at = None;
        if sa.role == Role::Responder && self.half_open.remove(&(sa.cky_i, sa.remote)).is_some() {
            if let Some(n) = self.half_open_per_ip.get_mut(&sa.remote.ip()) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.half_open_per_ip.remove(&sa.remote.ip());
                }
            }
        }
    }

    /// Removes an ISAKMP SA and all its state (its IPsec SAs must be reported first).
    pub(crate) fn forget(&mut self, id: SaId) {
        self.leave_half_open(id);
        if let Some(sa) = self.sas.remove(&id) {
            self.by_cookies.remove(&(sa.cky_i, sa.cky_r));
            if self.by_icookie.get(&sa.cky_i) == Some(&id) {
                self.by_icookie.remove(&sa.cky_i);
            }
        }
    }

    /// Sends `bytes` (a whole ISAKMP message) for the SA, from its current local address.
    pub(crate) fn send_raw(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) -> Vec<u8> {
        let mut payload = Vec::with_capacity(bytes.len() + 4);
        if local.port() == self.config.natt_port {
            payload.extend_from_slice(&NON_ESP_MARKER);
        }
        payload.extend_from_slice(bytes);
        self.transmits.push_back(Transmit {
            destination: remote,
            source: Some(local),
            payload: payload.clone(),
        });
        payload
    }

    /// Records `payload` (as returned by [`Self::send_raw`]) as the last message of a flight.
    pub(crate) fn remember(
        flight: &mut Flight,
        payload: Vec<u8>,
        remote: SocketAddr,
        local_port: u16,
        now: Instant,
        retransmit: Option<Duration>,
    ) {
        flight.last_out = Some((payload, remote, local_port));
        flight.sent_at = Some(now);
        flight.tries = 0;
        flight.echoes = 0;
        flight.retransmit_at = retransmit.map(|d| now + d);
    }

    /// A duplicate of the last message received in a flight: resend our answer, at most
    /// once per second and three times (ROBUSTNESS 37: a replayed message 1 gets one answer).
    pub(crate) fn echo(&mut self, now: Instant, which: FlightRef) -> Result<(), Dropped> {
        let Some(flight) = self.flight_mut(which) else {
            return Err(Dropped::Duplicate);
        };
        let recent = flight
            .sent_at
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1));
        if recent || flight.echoes >= 3 {
            self.stats.duplicates += 1;
            return Err(Dropped::Duplicate);
        }
        let Some((payload, remote, _)) = flight.last_out.clone() else {
            self.stats.duplicates += 1;
            return Err(Dropped::Duplicate);
        };
        flight.echoes += 1;
        flight.sent_at = Some(now);
        let source = self.sas.get(&which.sa()).map(|s| s.local);
        self.transmits.push_back(Transmit {
            destination: remote,
            source,
            payload,
        });
        self.stats.echoed += 1;
        Err(Dropped::Duplicate)
    }

    pub(crate) fn flight_mut(&mut self, which: FlightRef) -> Option<&mut Flight> {
        match which {
            FlightRef::Phase1(id) => self.sas.get_mut(&id).map(|s| &mut s.flight),
            FlightRef::Quick(id, mid) => self
                .sas
                .get_mut(&id)
                .and_then(|s| s.quick.get_mut(&mid))
                .map(|q| &mut q.flight),
        }
    }

    /// SHA-256 of a received message, to recognise retransmissions.
    pub(crate) fn digest(msg: &[u8]) -> [u8; 32] {
        let d = HashAlgorithm::Sha256.hash(&[msg]);
        let mut out = [0u8; 32];
        out.copy_from_slice(&d.as_ref()[..32]);
        out
    }

    /// Starts Main Mode with `remote`, then Quick Mode for `request` once established.
    pub fn connect(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        request: ChildRequest,
    ) -> SaId {
        let id = self.initiate_main_mode(now, local, remote, vec![request]);
        self.reschedule(id);
        id
    }

    /// Deletes every IPsec SA under `sa` and the ISAKMP SA itself, telling the peer.
    pub fn delete(&mut self, now: Instant, sa: SaId) {
        self.delete_phase1(now, sa, DownReason::LocalDelete, true);
        self.reschedule(sa);
    }

    /// Deletes one IPsec SA pair (by our inbound SPI), telling the peer.
    pub fn delete_child(&mut self, now: Instant, inbound: Spi) {
        let Some(id) = self
            .sas
            .values()
            .find(|s| s.children.iter().any(|c| c.spi_in == inbound))
            .map(|s| s.id)
        else {
            return;
        };
        self.delete_children(
            now,
            id,
            |c| c.spi_in == inbound,
            DownReason::LocalDelete,
            true,
        );
        self.reschedule(id);
    }

    /// Rekeys the IPsec SA pair with inbound SPI `inbound` now (e.g. when sras-esp reports a
    /// soft byte or sequence-number limit). Only pairs we initiated are rekeyed by us; the
    /// peer rekeys its own. Returns whether a rekey started.
    pub fn rekey_child_now(&mut self, now: Instant, inbound: Spi) -> bool {
        let found = self.sas.values().find_map(|s| {
            s.children
                .iter()
                .find(|c| c.spi_in == inbound && !c.rekeyed)
                .map(|c| (s.id, c.role))
        });
        match found {
            Some((id, Role::Initiator)) => {
                self.rekey_child(now, id, inbound);
                self.reschedule(id);
                true
            }
            _ => false,
        }
    }

    /// Deletes everything (shutdown): Deletes for every SA go out now.
    pub fn delete_all(&mut self, now: Instant) {
        let ids: Vec<SaId> = self.sas.keys().copied().collect();
        for id in ids {
            self.delete_phase1(now, id, DownReason::LocalDelete, true);
        }
    }

    /// ESP traffic arrived on an SA of `sa`: the peer is alive (RFC 3706 §5.5: DPD is
    /// traffic-based).
    pub fn traffic_received(&mut self, now: Instant, sa: SaId) {
        if let Some(s) = self.sas.get_mut(&sa) {
            s.last_heard = now;
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.fragments.handle_timeout(now);
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(sa) = self.sas.get_mut(&id) else {
                continue;
            };
            if sa.deadline != Some(t) {
                continue; // stale entry
            }
            sa.deadline = None;
            self.sa_timeout(now, id);
            self.reschedule(id);
        }
    }

    fn sa_timeout(&mut self, now: Instant, id: SaId) {
        let Some(sa) = self.sas.get(&id) else { return };
        if sa.give_up_at.is_some_and(|t| t <= now) {
            let remote = sa.remote;
            self.leave_half_open(id);
            self.forget(id);
            self.events.push_back(Event::Phase1Down {
                sa: id,
                remote,
                reason: DownReason::Failed("not established in time".into()),
            });
            return;
        }
        self.phase1_retransmit(now, id);
        self.quick_timeouts(now, id);
        self.lifetime_timeouts(now, id);
        self.dpd_timeout(now, id);
    }

    fn phase1_retransmit(&mut self, now: Instant, id: SaId) {
        let tries_max = self.config.retransmit_tries;
        let initial = self.config.retransmit_initial;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let f = &mut sa.flight;
        if f.retransmit_at.is_none_or(|t| t > now) {
            return;
        }
        if f.tries >= tries_max {
            f.retransmit_at = None;
            let remote = sa.remote;
            let children = !sa.children.is_empty();
            if children {
                sa.state = P1State::Gone;
            } else {
                self.forget(id);
            }
            self.events.push_back(Event::Phase1Down {
                sa: id,
                remote,
                reason: DownReason::Failed("no answer from the peer".into()),
            });
            return;
        }
        f.tries += 1;
        f.sent_at = Some(now);
        f.retransmit_at = Some(now + initial * 2u32.saturating_pow(f.tries));
        if let Some((payload, remote, _)) = f.last_out.clone() {
            let source = Some(sa.local);
            self.transmits.push_back(Transmit {
                destination: remote,
                source,
                payload,
            });
            self.stats.retransmits += 1;
        }
    }

    fn lifetime_timeouts(&mut self, now: Instant, id: SaId) {
        // Children first: hard expiry removes them, the soft point starts a rekey.
        let Some(sa) = self.sas.get(&id) else { return };
        let expired: Vec<Spi> = sa
            .children
            .iter()
            .filter(|c| c.expires <= now)
            .map(|c| c.spi_in)
            .collect();
        let rekey: Vec<Spi> = sa
            .children
            .iter()
            .filter(|c| !c.rekeyed && c.rekey_at.is_some_and(|t| t <= now))
            .map(|c| c.spi_in)
            .collect();
        if !expired.is_empty() {
            self.delete_children(
                now,
                id,
                |c| expired.contains(&c.spi_in),
                DownReason::Expired,
                true,
            );
        }
        for spi in rekey {
            self.rekey_child(now, id, spi);
        }
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if sa.rekey_at.is_some_and(|t| t <= now) {
            sa.rekey_at = None;
            if sa.is_established() && sa.role == Role::Initiator && !sa.replaced {
                let (local, remote) = (sa.local, sa.remote);
                let local = SocketAddr::new(local.ip(), self.config.ike_port);
                let remote = SocketAddr::new(remote.ip(), self.config.ike_port);
                tracing::info!(sa = id.0, %remote, "IKE phase1 rekey");
                let new = self.initiate_main_mode(now, local, remote, Vec::new());
                if let Some(n) = self.sas.get_mut(&new) {
                    n.replaces = Some(id);
                }
                self.reschedule(new);
            }
        }
        let Some(sa) = self.sas.get(&id) else { return };
        if sa.expires.is_some_and(|t| t <= now) {
            self.delete_phase1(now, id, DownReason::Expired, sa.is_established());
        }
    }

    /// Ends an ISAKMP SA. With `children_too` false (expiry, peer's phase 1 Delete) its IPsec
    /// SAs live on (RFC 2409 §5.5: they are independent of the ISAKMP SA) until they expire or a
    /// new ISAKMP SA with the peer takes them over.
    pub(crate) fn delete_phase1(
        &mut self,
        now: Instant,
        id: SaId,
        reason: DownReason,
        notify: bool,
    ) {
        let Some(state) = self.sas.get(&id).map(|s| s.state) else {
            return;
        };
        if matches!(
            reason,
            DownReason::LocalDelete | DownReason::DeadPeer | DownReason::Replaced
        ) {
            self.delete_children(now, id, |_| true, reason.clone(), notify);
        }
        let Some(sa) = self.sas.get(&id) else { return };
        if state == P1State::Gone {
            if sa.children.is_empty() {
                self.forget(id);
            }
            return;
        }
        if notify && state == P1State::Established {
            self.send_delete_isakmp(now, id);
        }
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let remote = sa.remote;
        sa.state = P1State::Gone;
        sa.flight = Flight::default();
        sa.quick.clear();
        sa.dpd = crate::sa::Dpd::default();
        sa.rekey_at = None;
        sa.expires = None;
        let cookies = (sa.cky_i, sa.cky_r);
        let empty = sa.children.is_empty();
        if state == P1State::Established {
            tracing::info!(sa = id.0, %remote, ?reason, "IKE phase1 deleted");
        } else {
            tracing::info!(sa = id.0, %remote, ?reason, "IKE negotiation abandoned");
        }
        self.events.push_back(Event::Phase1Down {
            sa: id,
            remote,
            reason,
        });
        self.by_cookies.remove(&cookies);
        if empty {
            self.forget(id);
            return;
        }
        self.leave_half_open(id);
        // The IPsec SAs live on: under another ISAKMP SA with the same peer if there is one
        // (after the peer rekeyed phase 1), so they can still be deleted and rekeyed.
        if let Some(heir) = self.heir(id) {
            self.adopt_children(heir, id);
            self.forget(id);
        }
    }

    /// An established ISAKMP SA with the same peer (address and ID) as `id`.
    pub(crate) fn heir(&self, id: SaId) -> Option<SaId> {
        let sa = self.sas.get(&id)?;
        self.sas
            .values()
            .filter(|o| {
                o.id != id
                    && o.is_established()
                    && o.remote.ip() == sa.remote.ip()
                    && o.peer_id == sa.peer_id
            })
            .map(|o| o.id)
            .max()
    }

    /// Removes the IPsec SAs of `id` that `which` selects, optionally telling the peer.
    pub(crate) fn delete_children(
        &mut self,
        now: Instant,
        id: SaId,
        which: impl Fn(&crate::sa::Child) -> bool,
        reason: DownReason,
        notify: bool,
    ) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let (gone, keep): (Vec<_>, Vec<_>) = sa.children.drain(..).partition(|c| which(c));
        sa.children = keep;
        let can_notify = sa.is_established();
        let orphaned = sa.state == P1State::Gone && sa.children.is_empty();
        if gone.is_empty() {
            return;
        }
        if notify && can_notify {
            let spis: Vec<Spi> = gone.iter().map(|c| c.spi_in).collect();
            self.send_delete_esp(now, id, &spis);
        }
        for c in gone {
            tracing::info!(sa = id.0, spi_in = %c.spi_in, spi_out = %c.spi_out, ?reason, "IKE phase2 deleted");
            self.events.push_back(Event::Phase2Down {
                phase1: id,
                inbound: c.spi_in,
                outbound: c.spi_out,
                reason: reason.clone(),
            });
        }
        if orphaned {
            self.forget(id);
        }
    }
}

/// Which flight a duplicate belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FlightRef {
    Phase1(SaId),
    Quick(SaId, u32),
}

impl FlightRef {
    const fn sa(self) -> SaId {
        match self {
            Self::Phase1(id) | Self::Quick(id, _) => id,
        }
    }
}
