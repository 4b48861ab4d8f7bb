//! The L2TP endpoint: demultiplexes datagrams to tunnels and sessions, runs the control
//! connection (RFC 2661 §7.2) and session (§7.3-§7.5) state machines, and carries data.
//!
//! One [`Endpoint`] holds any number of tunnels, as initiator and responder, LAC and LNS. Each
//! tunnel owns a [`ControlChannel`] (§5.8) and the sessions it carries. Lookups from a
//! datagram's Tunnel ID and Session ID to state are O(1) hash lookups; handles are slab
//! indices with a generation, so a stale handle never reaches a new tunnel.
//!
//! Invariants:
//! - Every local Tunnel ID and (Tunnel ID, Session ID) is non-zero and unique while its state
//!   exists, including the retention period after a StopCCN (§5.8), so late retransmits are
//!   acknowledged and an ID is never reused early.
//! - A datagram is only ever taken from the address and port its tunnel belongs to, except the
//!   SCCRP of a tunnel we opened, which may come from a new port (RFC 3193 §4).
//! - Nothing arriving makes the endpoint allocate without bound: half-open tunnels are capped
//!   overall and per source, held out-of-order messages by the receive window.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sras_core::{Seq16, TimerKind, TimerTable, Transmit};

use crate::reliable::{ControlChannel, RetransmitPolicy, Verdict};
use crate::slab::Slab;
use crate::wire::{
    challenge_response, encode_control, error as error_code, result as result_code, Avp,
    ControlMessage, Header, MessageType, ResultCode, SessionId, TunnelId, WireError,
};

/// The largest data-message header [`Endpoint::encapsulate`] writes: flags and version (2),
/// Length (2), Tunnel ID (2), Session ID (2), Ns and Nr (4), Offset Size (2). Leave this much
/// headroom before the payload.
pub const DATA_HEADER_MAX: usize = 14;

/// Endpoint configuration. Defaults follow RFC 2661 and what xl2tpd/accel-ppp operators expect.
#[derive(Debug, Clone)]
pub struct Config {
    /// Host Name AVP we send (§4.4.3).
    pub host_name: String,
    /// Vendor Name AVP we send, if any.
    pub vendor_name: Option<String>,
    /// Tunnel secret shared with peers: enables tunnel authentication and hidden AVPs (§4.3, §5.1.1).
    pub secret: Option<Vec<u8>>,
    /// Send a Challenge and require the peer's Challenge Response (needs `secret`).
    pub challenge: bool,
    /// Hide the AVPs that may be hidden in what we send (needs `secret`).
    pub hide_avps: bool,
    /// Receive Window Size we advertise (§5.8): how many unacknowledged messages we hold.
    pub receive_window: u16,
    /// First retransmission timeout (§5.8), doubled on each retry.
    pub retransmit_initial: Duration,
    /// Cap on the retransmission timeout; the RFC requires at least 8 s if capped.
    pub retransmit_cap: Duration,
    /// Retransmissions after which the tunnel and its sessions are cleared (§5.8; default 5).
    pub max_retransmits: u32,
    /// Send a Hello after this long without receiving anything (§6.5); `None` disables.
    pub hello_interval: Option<Duration>,
    /// How long a closed tunnel keeps its state to acknowledge late retransmits (§5.8).
    pub retention: Duration,
    /// Accept tunnels that peers open (SCCRQ) — the LNS, or a LAC that answers.
    pub accept_tunnels: bool,
    /// Accept incoming calls (ICRQ): the LNS role.
    pub accept_incoming_calls: bool,
    /// Accept outgoing-call requests (OCRQ): the LAC role.
    pub accept_outgoing_calls: bool,
    /// Answer every SCCRQ with StopCCN "Try Another" naming this address (seed 001 §4).
    pub redirect: Option<IpAddr>,
    /// Follow a "Try Another" StopCCN as initiator, at most this many times per tunnel.
    pub max_redirects: u32,
    /// Send a Tie Breaker AVP in our SCCRQ (§4.4.3).
    pub tie_breaker: bool,
    /// Cap on tunnels in any state.
    pub max_tunnels: usize,
    /// Cap on responder tunnels not yet established, overall.
    pub max_half_open: usize,
    /// Cap on responder tunnels not yet established, per source address.
    pub max_half_open_per_source: usize,
    /// Cap on sessions per tunnel.
    pub max_sessions_per_tunnel: usize,
    /// Use the L bit (Length) on data messages we send (xl2tpd's "length bit").
    pub data_length_bit: bool,
    /// Use Ns/Nr on data messages (§5.4) when the peer asks (Sequencing Required) or always.
    pub data_sequencing: bool,
    /// Answer new tunnels from this local address instead of the one the SCCRQ came to: the
    /// responder "may choose a new port" (RFC 3193 §4, seed 001 §4). Every datagram of such a
    /// tunnel, control and data, then carries this source; the caller must be able to send
    /// from it and receive on it.
    pub float_source: Option<SocketAddr>,
    /// Seed for the endpoint's RNG (IDs, challenges, random vectors). The daemon seeds it from
    /// the OS; tests fix it for determinism.
    pub rng_seed: [u8; 32],
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host_name: "sras".into(),
            vendor_name: Some("sras".into()),
            secret: None,
            challenge: false,
            hide_avps: false,
            receive_window: 8,
            retransmit_initial: Duration::from_secs(1),
            retransmit_cap: Duration::from_secs(8),
            max_retransmits: 5,
            hello_interval: Some(Duration::from_secs(60)),
            retention: Duration::from_secs(31),
            accept_tunnels: true,
            accept_incoming_calls: true,
            accept_outgoing_calls: true,
            redirect: None,
            max_redirects: 3,
            tie_breaker: false,
            max_tunnels: 65_000,
            max_half_open: 1024,
            max_half_open_per_source: 8,
            max_sessions_per_tunnel: 65_000,
            data_length_bit: true,
            data_sequencing: false,
            float_source: None,
            rng_seed: [0; 32],
        }
    }
}

/// A tunnel of this endpoint (an index with a generation, so stale handles miss).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TunnelHandle(pub(crate) u32, pub(crate) u32);

/// A session of this endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionHandle(pub(crate) u32, pub(crate) u32);

/// Who placed the call a session carries (§7.3-§7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    /// Incoming call: ICRQ/ICRP/ICCN (LAC to LNS).
    Incoming,
    /// Outgoing call: OCRQ/OCRP/OCCN (LNS to LAC).
    Outgoing,
}

/// What is known about an established session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Who placed the call.
    pub direction: CallDirection,
    /// Our Session ID.
    pub local_id: SessionId,
    /// The peer's Session ID.
    pub peer_id: SessionId,
    /// Call Serial Number.
    pub call_serial: u32,
    /// Tx Connect Speed reported in ICCN/OCCN.
    pub tx_connect_speed: u32,
    /// Calling Number, if the peer sent one.
    pub calling_number: Option<String>,
    /// Called Number, if the peer sent one.
    pub called_number: Option<String>,
}

/// Why a tunnel or session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer sent StopCCN or CDN with this result.
    Peer(ResultCode),
    /// We closed it, sending this result (a command, or a protocol error we detected).
    Local(ResultCode),
    /// Retransmissions were exhausted: the peer is unreachable (§5.8).
    Timeout,
    /// The session's tunnel went away (a StopCCN clears all sessions, §6.4).
    TunnelClosed,
    /// We lost a tie-breaker and discarded our tunnel (§4.4.3).
    TieBreakerLost,
}

/// Something that happened, in the past tense.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The control connection is up.
    TunnelEstablished {
        /// The tunnel.
        tunnel: TunnelHandle,
        /// The peer's address (after any port float).
        remote: SocketAddr,
        /// The peer's Host Name AVP.
        peer_host_name: String,
        /// The peer's Tunnel ID.
        peer_tunnel_id: TunnelId,
    },
    /// The control connection is gone, with all its sessions (each gets its own event first).
    TunnelClosed {
        /// The tunnel.
        tunnel: TunnelHandle,
        /// Why.
        reason: CloseReason,
    },
    /// A "Try Another" StopCCN was followed: a new SCCRQ went to `to` (seed 001 §4).
    TunnelRedirected {
        /// The tunnel.
        tunnel: TunnelHandle,
        /// Where it went.
        to: SocketAddr,
    },
    /// A session reached the established state: PPP may run.
    SessionEstablished {
        /// The session.
        session: SessionHandle,
        /// Its tunnel.
        tunnel: TunnelHandle,
        /// What the call setup said.
        info: SessionInfo,
    },
    /// A session is gone.
    SessionClosed {
        /// The session.
        session: SessionHandle,
        /// Its tunnel.
        tunnel: TunnelHandle,
        /// Why.
        reason: CloseReason,
    },
    /// The LNS sent Set-Link-Info (§6.14).
    LinkInfoSet {
        /// The session.
        session: SessionHandle,
        /// Send ACCM.
        send_accm: u32,
        /// Receive ACCM.
        receive_accm: u32,
    },
    /// The LAC sent WAN-Error-Notify (§6.13).
    WanErrorNotified {
        /// The session.
        session: SessionHandle,
    },
}

/// Where a data message written by [`Endpoint::encapsulate`] goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTransmit {
    /// The peer.
    pub destination: SocketAddr,
    /// The local address to send from, when the tunnel floated to one (RFC 3193 §4).
    pub source: Option<SocketAddr>,
    /// The datagram's bytes in the caller's buffer: header and payload.
    pub range: Range<usize>,
}

/// What a datagram turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<'a> {
    /// A control message (or ZLB), consumed by the state machines.
    Control,
    /// A data message for an established session: the PPP frame, borrowed from the datagram.
    Data {
        /// The session it belongs to.
        session: SessionHandle,
        /// The PPP frame.
        payload: &'a [u8],
    },
}

/// Why a datagram or command was not taken. Every variant is counted in [`Stats`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The datagram does not parse as L2TP (see the wire error).
    #[error("malformed: {0}")]
    Malformed(#[from] WireError),
    /// No tunnel with this ID.
    #[error("unknown tunnel {0:?}")]
    UnknownTunnel(TunnelId),
    /// No session with this ID in the tunnel.
    #[error("unknown session {0:?} in tunnel {1:?}")]
    UnknownSession(SessionId, TunnelId),
    /// The tunnel exists but the datagram came from another address or port (RFC 3193 §3.3).
    #[error("tunnel {tunnel:?} belongs to {expected}, datagram from {got}")]
    WrongPeer {
        /// The tunnel.
        tunnel: TunnelId,
        /// Its peer.
        expected: SocketAddr,
        /// Where this came from.
        got: SocketAddr,
    },
    /// Data for a session that is not established.
    #[error("session not established")]
    SessionNotEstablished,
    /// Ns outside the receive window, or Nr acknowledging what was never sent (§5.8).
    #[error("sequence out of window")]
    OutOfWindow,
    /// A configured limit refused a new tunnel or session.
    #[error("limit reached: {0}")]
    LimitReached(&'static str),
    /// The handle is stale or the command does not fit the state.
    #[error("invalid handle or state")]
    InvalidState,
    /// The buffer given to `encapsulate` has too little headroom or room.
    #[error("buffer too small")]
    BufferTooSmall,
}

/// Counters, by what happened (never reset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams that did not parse.
    pub malformed: u64,
    /// Datagrams with a version other than 2 (silently discarded, §3.1).
    pub bad_version: u64,
    /// Datagrams for tunnels or sessions we do not have.
    pub unknown_id: u64,
    /// Datagrams from the wrong address or port for their tunnel.
    pub wrong_peer: u64,
    /// Control messages received more than once (re-acknowledged, not re-processed).
    pub duplicates: u64,
    /// Control messages outside the receive window, or with a bad Nr.
    pub out_of_window: u64,
    /// Control messages retransmitted.
    pub retransmits: u64,
    /// Tunnels or sessions refused by a limit.
    pub limited: u64,
    /// Control messages received and processed.
    pub control_rx: u64,
    /// Data messages received and delivered.
    pub data_rx: u64,
    /// Data messages sent.
    pub data_tx: u64,
}

/// Protocol Version AVP value we speak (§4.4.3): version 1, revision 0.
const PROTOCOL_VERSION: (u8, u8) = (1, 0);
/// Framing Capabilities (§4.4.3): synchronous and asynchronous.
const FRAMING_CAPABILITIES: u32 = 0x3;
/// Framing Type for calls we place (§4.4.5): synchronous (HDLC framing stripped).
const FRAMING_TYPE_SYNC: u32 = 0x1;
/// Tx Connect Speed we report for virtual calls (§4.4.5), 100 Mbit/s.
const TX_CONNECT_SPEED: u32 = 100_000_000;

/// A multiplicative hasher for the endpoint's integer keys. The keys are IDs this endpoint
/// chose at random, so a peer cannot make them collide.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(n)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u32(u32::from(n));
    }
}

type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Which side opened the control connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Initiator,
    Responder,
}

/// Control connection states (§7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TunnelState {
    /// Initiator: SCCRQ sent.
    WaitCtlReply,
    /// Responder: SCCRP sent.
    WaitCtlConn,
    /// Up.
    Established,
    /// StopCCN sent or received; state kept to acknowledge retransmits (§5.8).
    Closing,
}

/// Named timers of a tunnel (the retransmission timer lives in its [`ControlChannel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TunnelTimer {
    /// Send a Hello if nothing arrived for the keepalive interval (§6.5).
    Hello,
    /// End of the post-StopCCN retention period (§5.8).
    Retention,
}

impl TimerKind for TunnelTimer {
    const VALUES: &'static [Self] = &[Self::Hello, Self::Retention];
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug)]
struct Tunnel {
    local_id: TunnelId,
    peer_id: TunnelId,
    remote: SocketAddr,
    role: Role,
    state: TunnelState,
    channel: ControlChannel,
    our_challenge: Option<[u8; 16]>,
    tie_breaker: Option<u64>,
    peer_host_name: String,
    /// Session slots, each knowing its position here for O(1) removal.
    sessions: Vec<u32>,
    redirects: u32,
    last_rx: Instant,
    timers: TimerTable<TunnelTimer, 2>,
    /// Counted in the half-open limits: a responder tunnel that never got established,
    /// including one refused or failed while its StopCCN is retained (until removed).
    half_open: bool,
    /// The application holds a handle (it opened the tunnel, or saw it established).
    announced: bool,
    /// (peer address, peer's Assigned Tunnel ID) of the SCCRQ that created it (responder).
    sccrq_key: Option<(SocketAddr, TunnelId)>,
    /// The local address we send this tunnel's datagrams from, if not the default.
    source: Option<SocketAddr>,
    /// The deadline last pushed to the endpoint's heap.
    scheduled: Option<Instant>,
}

/// Session states (§7.3-§7.5), merged for both directions and roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionState {
    /// Our request waits for the tunnel to come up.
    WaitTunnel,
    /// We sent ICRQ or OCRQ.
    WaitReply,
    /// We sent ICRP, or received OCRP.
    WaitConnect,
    /// Up.
    Established,
}

/// Numbers from the call request, kept only until the session is announced.
#[derive(Debug, Clone, Default)]
struct CallNumbers {
    calling: Option<String>,
    called: Option<String>,
}

#[derive(Debug)]
struct Session {
    tunnel: u32,
    /// Position in the tunnel's `sessions`.
    pos: u32,
    local_id: SessionId,
    peer_id: SessionId,
    direction: CallDirection,
    state: SessionState,
    call_serial: u32,
    announced: bool,
    numbers: Option<Box<CallNumbers>>,
    // Cached for the data path, valid once established.
    remote: SocketAddr,
    source: Option<SocketAddr>,
    peer_tunnel: TunnelId,
    data_seq: bool,
    data_ns: Seq16,
    data_nr: Seq16,
}

fn session_key(tunnel: TunnelId, session: SessionId) -> u32 {
    (u32::from(tunnel.0) << 16) | u32::from(session.0)
}

fn peer_session_key(tunnel_slot: u32, peer: SessionId) -> u64 {
    (u64::from(tunnel_slot) << 16) | u64::from(peer.0)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn rc(result: u16, error: Option<u16>, message: &str) -> ResultCode {
    ResultCode::new(result, error, Some(message))
}

/// The error code that describes a malformed message (§4.4.2).
fn error_for(e: &WireError) -> u16 {
    match e {
        WireError::AvpValue { .. } => error_code::OUT_OF_RANGE,
        _ => error_code::BAD_LENGTH,
    }
}

/// Reads the address a "Try Another" StopCCN names (seed 001 §4): an IP address in ASCII,
/// optionally with a port.
fn parse_try_another(message: Option<&str>, default_port: u16) -> Option<SocketAddr> {
    let text = message?.trim().trim_end_matches('\0');
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some(sa);
    }
    text.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, default_port))
}

/// Finds the Assigned Tunnel ID in a raw AVP list without trusting anything else in it, for
/// answering an SCCRQ too broken to parse (ROBUSTNESS case 11).
fn scan_assigned_tunnel_id(body: &[u8]) -> Option<TunnelId> {
    let mut at = 0usize;
    while body.len().saturating_sub(at) >= 6 {
        let flags = body[at];
        let len = usize::from(u16::from_be_bytes([body[at] & 0x03, body[at + 1]]));
        if len < 6 || at + len > body.len() {
            return None;
        }
        let vendor = u16::from_be_bytes([body[at + 2], body[at + 3]]);
        let kind = u16::from_be_bytes([body[at + 4], body[at + 5]]);
        if vendor == 0 && kind == 9 && len == 8 && flags & 0x40 == 0 {
            let id = u16::from_be_bytes([body[at + 6], body[at + 7]]);
            return (id != 0).then_some(TunnelId(id));
        }
        at += len;
    }
    None
}

/// The first reason to refuse an SCCRQ, with the peer tunnel to answer (§6.1 required AVPs,
/// §4.4.3 Assigned Tunnel ID and Receive Window Size, §4.1 unknown mandatory AVPs, §4.4.3
/// Protocol Version); `None` when it is acceptable.
fn sccrq_refusal(msg: &ControlMessage) -> Option<(Option<TunnelId>, ResultCode)> {
    let peer = msg.assigned_tunnel_id();
    let general = |error, text: &str| rc(result_code::GENERAL_ERROR, Some(error), text);
    if let Some(missing) = msg.missing_required() {
        let text = format!("missing mandatory AVP {missing:?}");
        return Some((
            peer.filter(|p| p.0 != 0),
            general(error_code::BAD_LENGTH, &text),
        ));
    }
    if peer == Some(TunnelId(0)) {
        return Some((
            None,
            general(error_code::OUT_OF_RANGE, "Assigned Tunnel ID 0"),
        ));
    }
    if msg.unknown_mandatory().is_some() {
        return Some((
            peer,
            general(error_code::UNKNOWN_MANDATORY_AVP, "unknown mandatory AVP"),
        ));
    }
    if msg.protocol_version() != Some(PROTOCOL_VERSION) {
        let result = ResultCode::new(
            result_code::BAD_PROTOCOL_VERSION,
            None,
            Some("protocol version 1.0 only"),
        );
        return Some((peer, result));
    }
    if msg.receive_window_size() == Some(0) {
        return Some((
            peer,
            general(error_code::OUT_OF_RANGE, "Receive Window Size 0"),
        ));
    }
    None
}

/// An L2TP endpoint: any number of tunnels, as initiator and responder, LAC and LNS.
#[derive(Debug)]
pub struct Endpoint {
    config: Config,
    rng: StdRng,
    tunnels: Slab<Tunnel>,
    sessions: Slab<Session>,
    by_tunnel_id: IdMap<u16, u32>,
    by_session_key: IdMap<u32, u32>,
    by_peer_session: IdMap<u64, u32>,
    sccrq_index: HashMap<(SocketAddr, TunnelId), u32>,
    half_open_total: usize,
    half_open_by_ip: HashMap<IpAddr, usize>,
    deadlines: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
    next_call_serial: u32,
}

impl Endpoint {
    /// A new endpoint. Challenge and hiding are switched off when no secret is configured.
    pub fn new(mut config: Config) -> Self {
        if config.secret.as_ref().is_none_or(|s| s.is_empty()) {
            config.secret = None;
            config.challenge = false;
            config.hide_avps = false;
        }
        config.receive_window = config.receive_window.max(1);
        let mut rng = StdRng::from_seed(config.rng_seed);
        let next_call_serial = rng.random();
        Self {
            config,
            rng,
            tunnels: Slab::default(),
            sessions: Slab::default(),
            by_tunnel_id: IdMap::default(),
            by_session_key: IdMap::default(),
            by_peer_session: IdMap::default(),
            sccrq_index: HashMap::new(),
            half_open_total: 0,
            half_open_by_ip: HashMap::new(),
            deadlines: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            next_call_serial,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- inputs -------------------------------------------------------------------------

    /// Feeds one datagram received from `remote`. Control messages drive the state machines;
    /// a data message of an established session comes back as its PPP frame, borrowed from
    /// `datagram`. Errors are counted in [`Stats`]; nothing is sent in reply to garbage.
    pub fn handle_datagram<'a>(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        datagram: &'a [u8],
    ) -> Result<Received<'a>, Error> {
        let (hdr, range) = match Header::parse(datagram) {
            Ok(x) => x,
            Err(e) => {
                if matches!(e, WireError::Version(_)) {
                    self.stats.bad_version += 1;
                } else {
                    self.stats.malformed += 1;
                }
                return Err(e.into());
            }
        };
        if !hdr.control {
            return self.receive_data(now, remote, &hdr, &datagram[range]);
        }
        let (ns, nr) = hdr.sequence.unwrap_or_default();
        let body = &datagram[range];
        if hdr.tunnel_id.0 == 0 {
            return self.receive_new_tunnel(now, remote, ns, nr, body, datagram);
        }
        let Some(&slot) = self.by_tunnel_id.get(&hdr.tunnel_id.0) else {
            self.stats.unknown_id += 1;
            return Err(Error::UnknownTunnel(hdr.tunnel_id));
        };
        self.check_peer(slot, remote, hdr.tunnel_id)?;
        self.receive_control(now, slot, ns, nr, body, datagram)?;
        Ok(Received::Control)
    }

    /// Checks the source of a control message against its tunnel; the initiator follows a
    /// responder that answers from a new port (RFC 3193 §4).
    fn check_peer(&mut self, slot: u32, remote: SocketAddr, id: TunnelId) -> Result<(), Error> {
        let Some(t) = self.tunnels.at_mut(slot) else {
            return Err(Error::UnknownTunnel(id));
        };
        if t.remote == remote {
            return Ok(());
        }
        if t.role == Role::Initiator
            && t.state == TunnelState::WaitCtlReply
            && t.remote.ip() == remote.ip()
        {
            t.remote = remote;
            return Ok(());
        }
        self.stats.wrong_peer += 1;
        Err(Error::WrongPeer {
            tunnel: id,
            expected: t.remote,
            got: remote,
        })
    }

    fn receive_control(
        &mut self,
        now: Instant,
        slot: u32,
        ns: Seq16,
        nr: Seq16,
        body: &[u8],
        datagram: &[u8],
    ) -> Result<(), Error> {
        let Some(t) = self.tunnels.at_mut(slot) else {
            return Err(Error::InvalidState);
        };
        let verdict = t.channel.on_receive(now, ns, nr, body.is_empty(), datagram);
        if verdict != Verdict::OutOfWindow {
            // §6.5: only what the channel accepts is a sign of life; out-of-window junk from
            // the peer's address must not hold off the Hello that would find it gone.
            t.last_rx = now;
        }
        let result = match verdict {
            Verdict::OutOfWindow => {
                self.stats.out_of_window += 1;
                Err(Error::OutOfWindow)
            }
            Verdict::Duplicate => {
                self.stats.duplicates += 1;
                // §5.8: acknowledged (the channel owes a ZLB), not processed. Our answer, if it
                // was lost, is our retransmission timer's to resend: that timer started before
                // the peer's did, so resending here too only doubles every message after one
                // loss, the peer's copy being a duplicate in turn (ROBUSTNESS case 24).
                Ok(())
            }
            Verdict::Held | Verdict::Ack => Ok(()),
            Verdict::Deliver => {
                let sid = Header::parse(datagram).map_or(SessionId(0), |(h, _)| h.session_id);
                self.process(now, slot, sid, body);
                // Messages held out of order that are now in sequence.
                while let Some(next) = self
                    .tunnels
                    .at_mut(slot)
                    .and_then(|t| t.channel.take_next())
                {
                    if let Ok((h, r)) = Header::parse(&next) {
                        self.process(now, slot, h.session_id, &next[r]);
                    }
                }
                Ok(())
            }
        };
        self.after_tunnel(now, slot);
        result
    }

    /// Lets time pass: retransmissions, Hellos, the end of retention periods.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, slot, generation))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            let Some(t) = self.tunnels.get_mut(slot, generation) else {
                continue;
            };
            if t.scheduled != Some(at) {
                continue; // superseded
            }
            t.scheduled = None;
            self.tunnel_timeout(now, slot);
            self.after_tunnel(now, slot);
        }
    }

    fn tunnel_timeout(&mut self, now: Instant, slot: u32) {
        let Some(t) = self.tunnels.at_mut(slot) else {
            return;
        };
        self.stats.retransmits += t.channel.handle_timeout(now) as u64;
        if t.channel.is_dead() {
            // §5.8: the peer is unreachable; clear the tunnel and its sessions, send nothing.
            if t.state != TunnelState::Closing {
                self.close_tunnel_inner(now, slot, CloseReason::Timeout, None);
            }
            self.remove_tunnel(slot);
            return;
        }
        while let Some(timer) = self.tunnels.at_mut(slot).and_then(|t| t.timers.expire(now)) {
            match timer {
                TunnelTimer::Hello => self.on_hello_timer(now, slot),
                TunnelTimer::Retention => {
                    let Some(t) = self.tunnels.at_mut(slot) else {
                        return;
                    };
                    if t.channel.is_idle() {
                        self.remove_tunnel(slot);
                        return;
                    }
                    // Our StopCCN is still unacknowledged: wait for the ack or the channel's death.
                    t.timers
                        .set(TunnelTimer::Retention, now + self.config.retransmit_initial);
                }
            }
        }
    }

    fn on_hello_timer(&mut self, now: Instant, slot: u32) {
        let Some(interval) = self.config.hello_interval else {
            return;
        };
        let Some(t) = self.tunnels.at_mut(slot) else {
            return;
        };
        if t.state != TunnelState::Established {
            return;
        }
        let due = t.last_rx + interval;
        if now >= due {
            t.timers.set(TunnelTimer::Hello, now + interval);
            self.send(
                now,
                slot,
                SessionId(0),
                ControlMessage::new(MessageType::Hello),
            );
        } else {
            t.timers.set(TunnelTimer::Hello, due);
        }
    }

    // ----- new tunnels (SCCRQ) ------------------------------------------------------------

    fn receive_new_tunnel<'a>(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        ns: Seq16,
        nr: Seq16,
        body: &[u8],
        datagram: &[u8],
    ) -> Result<Received<'a>, Error> {
        // Only an SCCRQ may arrive without our Tunnel ID.
        if crate::wire::peek_message_type(body) != Some(MessageType::Sccrq) {
            self.stats.unknown_id += 1;
            return Err(Error::UnknownTunnel(TunnelId(0)));
        }
        if !self.config.accept_tunnels {
            self.stats.limited += 1;
            return Err(Error::LimitReached("not accepting tunnels"));
        }
        let secret = self.config.secret.as_deref();
        let msg = match ControlMessage::parse(body, secret) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                // Answer only when the peer's tunnel can be named (case 11); else drop (cases 1, 7).
                if let (WireError::AvpValue { .. }, Some(peer)) =
                    (&e, scan_assigned_tunnel_id(body))
                {
                    if self.sccrq_index.contains_key(&(remote, peer)) {
                        return Err(e.into());
                    }
                    self.refuse_sccrq(
                        now,
                        remote,
                        ns,
                        Some(peer),
                        rc(
                            result_code::GENERAL_ERROR,
                            Some(error_for(&e)),
                            &e.to_string(),
                        ),
                    )?;
                }
                return Err(e.into());
            }
        };
        let peer = msg.assigned_tunnel_id();
        // A retransmitted SCCRQ maps to the tunnel it already created (case 24).
        if let Some(p) = peer {
            if let Some(&slot) = self.sccrq_index.get(&(remote, p)) {
                self.receive_control(now, slot, ns, nr, body, datagram)?;
                return Ok(Received::Control);
            }
        }
        if let Some((to, result)) = sccrq_refusal(&msg) {
            self.refuse_sccrq(now, remote, ns, to, result)?;
            return Ok(Received::Control);
        }
        if !self.tie_break(now, remote, &msg) {
            return Ok(Received::Control);
        }
        if let Some(ip) = self.config.redirect {
            let text = ip.to_string();
            self.refuse_sccrq(
                now,
                remote,
                ns,
                peer,
                rc(
                    result_code::GENERAL_ERROR,
                    Some(error_code::TRY_ANOTHER),
                    &text,
                ),
            )?;
            return Ok(Received::Control);
        }
        let peer_challenge_response = match (msg.challenge(), self.config.secret.as_deref()) {
            (Some(c), Some(s)) => Some(challenge_response(MessageType::Sccrp, s, c)),
            (Some(_), None) => {
                self.refuse_sccrq(
                    now,
                    remote,
                    ns,
                    peer,
                    ResultCode::new(
                        result_code::NOT_AUTHORIZED,
                        None,
                        Some("challenge but no secret configured"),
                    ),
                )?;
                return Ok(Received::Control);
            }
            (None, _) => None,
        };
        if self.config.challenge && msg.challenge().is_none() {
            // We authenticate the peer through our own Challenge in the SCCRP; a peer that did
            // not challenge us is fine (xl2tpd behaves the same).
        }
        let slot = self.new_tunnel(now, remote, Role::Responder, ns, true)?;
        let peer = peer.unwrap_or_default();
        let t = self.tunnels.at_mut(slot).ok_or(Error::InvalidState)?;
        t.peer_id = peer;
        t.channel.set_peer_tunnel(peer);
        t.peer_host_name = lossy(msg.host_name().unwrap_or_default());
        if let Some(w) = msg.receive_window_size() {
            t.channel.set_peer_window(w);
        }
        t.sccrq_key = Some((remote, peer));
        t.source = self.config.float_source;
        self.sccrq_index.insert((remote, peer), slot);
        // The SCCRQ opens the channel: nothing of ours exists for its Nr to acknowledge.
        let _ = nr;
        let _ = t.channel.on_receive(now, ns, Seq16(0), false, datagram);
        self.stats.control_rx += 1;
        let mut reply = self.tunnel_message(MessageType::Sccrp, slot);
        if let Some(r) = peer_challenge_response {
            reply = reply.with(Avp::ChallengeResponse(r));
        }
        self.send(now, slot, SessionId(0), reply);
        if let Some(t) = self.tunnels.at_mut(slot) {
            t.state = TunnelState::WaitCtlConn;
        }
        self.after_tunnel(now, slot);
        Ok(Received::Control)
    }

    /// Tie-breaking (§4.4.3 Tie Breaker): returns whether the incoming SCCRQ goes on.
    fn tie_break(&mut self, now: Instant, remote: SocketAddr, msg: &ControlMessage) -> bool {
        let Some(theirs) = msg.tie_breaker() else {
            return true;
        };
        if !self.config.tie_breaker {
            // None of our SCCRQs carried one: skip the scan of every tunnel, which a flood of
            // SCCRQs with Tie Breakers would otherwise pay per message (ROBUSTNESS case 23).
            return true;
        }
        let ours = self.tunnels.indices().find(|&i| {
            self.tunnels.at(i).is_some_and(|t| {
                t.role == Role::Initiator
                    && t.state == TunnelState::WaitCtlReply
                    && t.remote.ip() == remote.ip()
                    && t.tie_breaker.is_some()
            })
        });
        let Some(slot) = ours else { return true };
        let mine = self
            .tunnels
            .at(slot)
            .and_then(|t| t.tie_breaker)
            .unwrap_or(u64::MAX);
        if mine < theirs {
            return false; // we win: their SCCRQ is discarded silently
        }
        // We lose (or tie: both discard): drop our tunnel silently.
        self.close_tunnel_inner(now, slot, CloseReason::TieBreakerLost, None);
        self.remove_tunnel(slot);
        mine != theirs
    }

    /// Answers an unacceptable SCCRQ with a StopCCN from a short-lived tunnel that exists only
    /// to deliver it reliably and acknowledge retransmits (§5.8), within the half-open limits.
    fn refuse_sccrq(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        ns: Seq16,
        peer: Option<TunnelId>,
        result: ResultCode,
    ) -> Result<(), Error> {
        let slot = self.new_tunnel(now, remote, Role::Responder, ns, true)?;
        let peer = peer.unwrap_or_default();
        if let Some(t) = self.tunnels.at_mut(slot) {
            t.peer_id = peer;
            t.channel.set_peer_tunnel(peer);
            // Consume the SCCRQ's Ns so the StopCCN acknowledges it.
            let _ = t.channel.on_receive(now, ns, Seq16(0), false, &[]);
            if peer.0 != 0 {
                t.sccrq_key = Some((remote, peer));
                self.sccrq_index.insert((remote, peer), slot);
            }
        }
        self.close_tunnel_inner(now, slot, CloseReason::Local(result.clone()), Some(result));
        self.after_tunnel(now, slot);
        Ok(())
    }

    fn new_tunnel(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        role: Role,
        first_ns: Seq16,
        half_open: bool,
    ) -> Result<u32, Error> {
        if self.tunnels.len() >= self.config.max_tunnels {
            self.stats.limited += 1;
            return Err(Error::LimitReached("tunnels"));
        }
        if half_open {
            let per_ip = self.half_open_by_ip.get(&remote.ip()).copied().unwrap_or(0);
            if self.half_open_total >= self.config.max_half_open
                || per_ip >= self.config.max_half_open_per_source
            {
                self.stats.limited += 1;
                return Err(Error::LimitReached("half-open tunnels"));
            }
            self.half_open_total += 1;
            *self.half_open_by_ip.entry(remote.ip()).or_default() += 1;
        }
        let local_id = self.fresh_tunnel_id();
        let policy = RetransmitPolicy {
            initial: self.config.retransmit_initial,
            cap: self.config.retransmit_cap,
            max_retries: self.config.max_retransmits,
        };
        let tunnel = Tunnel {
            local_id,
            peer_id: TunnelId(0),
            remote,
            role,
            state: TunnelState::WaitCtlReply,
            channel: ControlChannel::new(policy, self.config.receive_window, first_ns),
            our_challenge: None,
            tie_breaker: None,
            peer_host_name: String::new(),
            sessions: Vec::new(),
            redirects: 0,
            last_rx: now,
            timers: TimerTable::default(),
            half_open,
            announced: false,
            sccrq_key: None,
            source: None,
            scheduled: None,
        };
        let (slot, _) = self.tunnels.insert(tunnel);
        self.by_tunnel_id.insert(local_id.0, slot);
        Ok(slot)
    }

    fn fresh_tunnel_id(&mut self) -> TunnelId {
        for _ in 0..64 {
            let id: u16 = self.rng.random();
            if id != 0 && !self.by_tunnel_id.contains_key(&id) {
                return TunnelId(id);
            }
        }
        (1..=u16::MAX)
            .find(|id| !self.by_tunnel_id.contains_key(id))
            .map_or(TunnelId(0), TunnelId)
    }

    fn fresh_session_id(&mut self, tunnel: TunnelId) -> SessionId {
        for _ in 0..64 {
            let id: u16 = self.rng.random();
            if id != 0
                && !self
                    .by_session_key
                    .contains_key(&session_key(tunnel, SessionId(id)))
            {
                return SessionId(id);
            }
        }
        (1..=u16::MAX)
            .find(|&id| {
                !self
                    .by_session_key
                    .contains_key(&session_key(tunnel, SessionId(id)))
            })
            .map_or(SessionId(0), SessionId)
    }

    /// SCCRQ or SCCRP with our tunnel's parameters.
    fn tunnel_message(&mut self, kind: MessageType, slot: u32) -> ControlMessage {
        let local_id = self.tunnels.at(slot).map_or(TunnelId(0), |t| t.local_id);
        let mut m = ControlMessage::new(kind)
            .with(Avp::ProtocolVersion {
                version: PROTOCOL_VERSION.0,
                revision: PROTOCOL_VERSION.1,
            })
            .with(Avp::HostName(self.config.host_name.as_bytes().to_vec()))
            .with(Avp::FramingCapabilities(FRAMING_CAPABILITIES))
            .with(Avp::AssignedTunnelId(local_id))
            .with(Avp::ReceiveWindowSize(self.config.receive_window))
            .with(Avp::FirmwareRevision(0x0100));
        if let Some(v) = &self.config.vendor_name {
            m = m.with(Avp::VendorName(v.as_bytes().to_vec()));
        }
        if self.config.challenge {
            let c: [u8; 16] = self.rng.random();
            if let Some(t) = self.tunnels.at_mut(slot) {
                t.our_challenge = Some(c);
            }
            m = m.with(Avp::Challenge(c.to_vec()));
        }
        m
    }

    // ----- control message processing ----------------------------------------------------

    fn process(&mut self, now: Instant, slot: u32, header_sid: SessionId, body: &[u8]) {
        if body.is_empty() {
            return;
        }
        let msg = match ControlMessage::parse(body, self.config.secret.as_deref()) {
            Ok(m) => m,
            Err(e) => {
                // §7.1 / R9: an unrecoverable malformed message clears the control connection.
                self.stats.malformed += 1;
                let r = rc(
                    result_code::GENERAL_ERROR,
                    Some(error_for(&e)),
                    &e.to_string(),
                );
                self.close_tunnel_inner(now, slot, CloseReason::Local(r.clone()), Some(r));
                return;
            }
        };
        self.stats.control_rx += 1;
        if let MessageType::Unknown(_) = msg.message_type {
            // §4.1: unknown Message Type with M=1 clears the tunnel; with M=0 it is ignored.
            if body[0] & 0x80 != 0 {
                let r = rc(
                    result_code::GENERAL_ERROR,
                    Some(error_code::UNKNOWN_MANDATORY_AVP),
                    "unknown mandatory message type",
                );
                self.close_tunnel_inner(now, slot, CloseReason::Local(r.clone()), Some(r));
            }
            return;
        }
        if msg.unknown_mandatory().is_some() {
            let r = rc(
                result_code::GENERAL_ERROR,
                Some(error_code::UNKNOWN_MANDATORY_AVP),
                "unknown mandatory AVP",
            );
            if msg.message_type.is_session_message() {
                self.refuse_session_message(now, slot, header_sid, &msg, r);
            } else {
                self.close_tunnel_inner(now, slot, CloseReason::Local(r.clone()), Some(r));
            }
            return;
        }
        let state = self.tunnels.at(slot).map(|t| t.state);
        if msg.message_type.is_session_message() && state != Some(TunnelState::Established) {
            return; // FSM: no sessions before the tunnel is up, nor while it closes (case 27)
        }
        match msg.message_type {
            MessageType::Sccrp => self.on_sccrp(now, slot, &msg),
            MessageType::Scccn => self.on_scccn(now, slot, &msg),
            MessageType::StopCcn => self.on_stopccn(now, slot, &msg),
            MessageType::Icrq | MessageType::Ocrq => self.on_call_request(now, slot, &msg),
            MessageType::Icrp | MessageType::Ocrp => {
                self.on_call_reply(now, slot, header_sid, &msg)
            }
            MessageType::Iccn | MessageType::Occn => {
                self.on_call_connected(now, slot, header_sid, &msg)
            }
            MessageType::Cdn => self.on_cdn(slot, header_sid, &msg),
            MessageType::Wen | MessageType::Sli => self.on_link_status(slot, header_sid, &msg),
            // A Hello needs only the acknowledgement the channel sends; a second SCCRQ on a
            // live tunnel is a state error we ignore (case 27).
            _ => {}
        }
    }

    fn fail_tunnel(&mut self, now: Instant, slot: u32, result: ResultCode) {
        self.close_tunnel_inner(now, slot, CloseReason::Local(result.clone()), Some(result));
    }

    fn on_sccrp(&mut self, now: Instant, slot: u32, msg: &ControlMessage) {
        let Some(t) = self.tunnels.at(slot) else {
            return;
        };
        if t.role != Role::Initiator || t.state != TunnelState::WaitCtlReply {
            return;
        }
        let our_challenge = t.our_challenge;
        if let Some(missing) = msg.missing_required() {
            let text = format!("missing mandatory AVP {missing:?}");
            return self.fail_tunnel(
                now,
                slot,
                rc(
                    result_code::GENERAL_ERROR,
                    Some(error_code::BAD_LENGTH),
                    &text,
                ),
            );
        }
        if msg.protocol_version() != Some(PROTOCOL_VERSION) {
            return self.fail_tunnel(
                now,
                slot,
                ResultCode::new(result_code::BAD_PROTOCOL_VERSION, None, None),
            );
        }
        let Some(peer) = msg.assigned_tunnel_id().filter(|p| p.0 != 0) else {
            return self.fail_tunnel(
                now,
                slot,
                rc(
                    result_code::GENERAL_ERROR,
                    Some(error_code::OUT_OF_RANGE),
                    "Assigned Tunnel ID 0",
                ),
            );
        };
        if msg.receive_window_size() == Some(0) {
            return self.fail_tunnel(
                now,
                slot,
                rc(
                    result_code::GENERAL_ERROR,
                    Some(error_code::OUT_OF_RANGE),
                    "Receive Window Size 0",
                ),
            );
        }
        let secret = self.config.secret.clone();
        if let (Some(ch), Some(s)) = (our_challenge, secret.as_deref()) {
            let expected = challenge_response(MessageType::Sccrp, s, &ch);
            if msg.challenge_response() != Some(&expected) {
                // The StopCCN must reach the peer's tunnel.
                self.set_peer(slot, peer);
                return self.fail_tunnel(
                    now,
                    slot,
                    ResultCode::new(
                        result_code::NOT_AUTHORIZED,
                        None,
                        Some("challenge response"),
                    ),
                );
            }
        }
        let response = match (msg.challenge(), secret.as_deref()) {
            (Some(c), Some(s)) => Some(challenge_response(MessageType::Scccn, s, c)),
            (Some(_), None) => {
                self.set_peer(slot, peer);
                return self.fail_tunnel(
                    now,
                    slot,
                    ResultCode::new(
                        result_code::NOT_AUTHORIZED,
                        None,
                        Some("challenge but no secret configured"),
                    ),
                );
            }
            (None, _) => None,
        };
        self.set_peer(slot, peer);
        let Some(t) = self.tunnels.at_mut(slot) else {
            return;
        };
        t.peer_host_name = lossy(msg.host_name().unwrap_or_default());
        if let Some(w) = msg.receive_window_size() {
            t.channel.set_peer_window(w);
        }
        let mut scccn = ControlMessage::new(MessageType::Scccn);
        if let Some(r) = response {
            scccn = scccn.with(Avp::ChallengeResponse(r));
        }
        self.send(now, slot, SessionId(0), scccn);
        self.tunnel_up(now, slot);
    }

    fn set_peer(&mut self, slot: u32, peer: TunnelId) {
        if let Some(t) = self.tunnels.at_mut(slot) {
            t.peer_id = peer;
            t.channel.set_peer_tunnel(peer);
        }
    }

    fn on_scccn(&mut self, now: Instant, slot: u32, msg: &ControlMessage) {
        let Some(t) = self.tunnels.at(slot) else {
            return;
        };
        if t.role != Role::Responder || t.state != TunnelState::WaitCtlConn {
            return;
        }
        if let (Some(ch), Some(s)) = (t.our_challenge, self.config.secret.as_deref()) {
            let expected = challenge_response(MessageType::Scccn, s, &ch);
            if msg.challenge_response() != Some(&expected) {
                return self.fail_tunnel(
                    now,
                    slot,
                    ResultCode::new(
                        result_code::NOT_AUTHORIZED,
                        None,
                        Some("challenge response"),
                    ),
                );
            }
        }
        self.tunnel_up(now, slot);
    }

    fn tunnel_up(&mut self, now: Instant, slot: u32) {
        self.release_half_open(slot);
        let generation = self.tunnels.generation(slot);
        let Some(t) = self.tunnels.at_mut(slot) else {
            return;
        };
        t.state = TunnelState::Established;
        t.announced = true;
        if let Some(i) = self.config.hello_interval {
            t.timers.set(TunnelTimer::Hello, now + i);
        }
        let handle = TunnelHandle(slot, generation);
        self.events.push_back(Event::TunnelEstablished {
            tunnel: handle,
            remote: t.remote,
            peer_host_name: t.peer_host_name.clone(),
            peer_tunnel_id: t.peer_id,
        });
        // Calls requested while the tunnel was coming up.
        let waiting: Vec<u32> = t.sessions.clone();
        for s in waiting {
            if self
                .sessions
                .at(s)
                .is_some_and(|s| s.state == SessionState::WaitTunnel)
            {
                self.send_call_request(now, s);
            }
        }
    }

    fn release_half_open(&mut self, slot: u32) {
        let Some(t) = self.tunnels.at_mut(slot) else {
            return;
        };
        if !t.half_open {
            return;
        }
        t.half_open = false;
        self.half_open_total = self.half_open_total.saturating_sub(1);
        if let Some(n) = self.half_open_by_ip.get_mut(&t.remote.ip()) {
            *n -= 1;
            if *n == 0 {
                self.half_open_by_ip.remove(&t.remote.ip());
            }
        }
    }

    fn on_stopccn(&mut self, now: Instant, slot: u32, msg: &ControlMessage) {
        let result = msg
            .result_code()
            .cloned()
            .unwrap_or_else(|| ResultCode::new(result_code::GENERAL_REQUEST, None, None));
        let Some(t) = self.tunnels.at(slot) else {
            return;
        };
        if t.state == TunnelState::Closing {
            return;
        }
        if t.role == Role::Initiator
            && t.state == TunnelState::WaitCtlReply
            && result.result == result_code::GENERAL_ERROR
            && result.error == Some(error_code::TRY_ANOTHER)
            && t.redirects < self.config.max_redirects
        {
            if let Some(to) = parse_try_another(result.message.as_deref(), t.remote.port()) {
                return self.redirect(now, slot, to);
            }
        }
        self.close_tunnel_inner(now, slot, CloseReason::Peer(result), None);
    }

    /// Follows "Try Another" (seed 001 §4): acknowledge the StopCCN to the old peer, then
    /// start over with a new SCCRQ to the address it named.
    fn redirect(&mut self, now: Instant, slot: u32, to: SocketAddr) {
        let generation = self.tunnels.generation(slot);
        let policy = RetransmitPolicy {
            initial: self.config.retransmit_initial,
            cap: self.config.retransmit_cap,
            max_retries: self.config.max_retransmits,
        };
        let window = self.config.receive_window;
        let Some(t) = self.tunnels.at_mut(slot) else {
            return;
        };
        self.transmits.push_back(Transmit {
            destination: t.remote,
            source: None,
            payload: t.channel.zlb(),
        });
        t.channel = ControlChannel::new(policy, window, Seq16(0));
        t.remote = to;
        t.redirects += 1;
        t.peer_id = TunnelId(0);
        self.events.push_back(Event::TunnelRedirected {
            tunnel: TunnelHandle(slot, generation),
            to,
        });
        self.send_sccrq(now, slot);
    }

    fn send_sccrq(&mut self, now: Instant, slot: u32) {
        let mut m = self.tunnel_message(MessageType::Sccrq, slot);
        if self.config.tie_breaker {
            let tb: u64 = self.rng.random();
            if let Some(t) = self.tunnels.at_mut(slot) {
                t.tie_breaker = Some(tb);
            }
            m = m.with(Avp::TieBreaker(tb));
        }
        self.send(now, slot, SessionId(0), m);
    }

    // ----- sessions -----------------------------------------------------------------------

    fn new_session(
        &mut self,
        slot: u32,
        direction: CallDirection,
        state: SessionState,
    ) -> Option<u32> {
        let t = self.tunnels.at(slot)?;
        let local_tunnel = t.local_id;
        let (remote, peer_tunnel, pos) = (t.remote, t.peer_id, t.sessions.len() as u32);
        let local_id = self.fresh_session_id(local_tunnel);
        if local_id.0 == 0 {
            return None;
        }
        let call_serial = self.next_call_serial;
        self.next_call_serial = self.next_call_serial.wrapping_add(1);
        let (s, _) = self.sessions.insert(Session {
            tunnel: slot,
            pos,
            local_id,
            peer_id: SessionId(0),
            direction,
            state,
            call_serial,
            announced: false,
            numbers: None,
            remote,
            source: None,
            peer_tunnel,
            data_seq: self.config.data_sequencing,
            data_ns: Seq16(0),
            data_nr: Seq16(0),
        });
        self.by_session_key
            .insert(session_key(local_tunnel, local_id), s);
        self.tunnels.at_mut(slot)?.sessions.push(s);
        Some(s)
    }

    fn set_session_peer(&mut self, s: u32, peer: SessionId) {
        let Some(sess) = self.sessions.at_mut(s) else {
            return;
        };
        sess.peer_id = peer;
        self.by_peer_session
            .insert(peer_session_key(sess.tunnel, peer), s);
    }

    fn send_call_request(&mut self, now: Instant, s: u32) {
        let Some(sess) = self.sessions.at_mut(s) else {
            return;
        };
        sess.state = SessionState::WaitReply;
        let (slot, local_id, serial, direction) =
            (sess.tunnel, sess.local_id, sess.call_serial, sess.direction);
        let m = match direction {
            CallDirection::Incoming => ControlMessage::new(MessageType::Icrq)
                .with(Avp::AssignedSessionId(local_id))
                .with(Avp::CallSerialNumber(serial))
                .with(Avp::BearerType(0x3)),
            CallDirection::Outgoing => ControlMessage::new(MessageType::Ocrq)
                .with(Avp::AssignedSessionId(local_id))
                .with(Avp::CallSerialNumber(serial))
                .with(Avp::MinimumBps(0))
                .with(Avp::MaximumBps(TX_CONNECT_SPEED))
                .with(Avp::BearerType(0x3))
                .with(Avp::FramingType(FRAMING_TYPE_SYNC))
                .with(Avp::CalledNumber(Vec::new())),
        };
        self.send(now, slot, SessionId(0), m);
    }

    fn on_call_request(&mut self, now: Instant, slot: u32, msg: &ControlMessage) {
        let incoming = msg.message_type == MessageType::Icrq;
        let Some(peer_sid) = msg.assigned_session_id() else {
            return; // nobody to answer: ignore (case 27)
        };
        if peer_sid.0 == 0 {
            return self.send_cdn_unbound(
                now,
                slot,
                peer_sid,
                rc(
                    result_code::CDN_ERROR,
                    Some(error_code::OUT_OF_RANGE),
                    "Assigned Session ID 0",
                ),
            );
        }
        if let Some(missing) = msg.missing_required() {
            let text = format!("missing mandatory AVP {missing:?}");
            return self.send_cdn_unbound(
                now,
                slot,
                peer_sid,
                rc(result_code::CDN_ERROR, Some(error_code::BAD_LENGTH), &text),
            );
        }
        let accept = if incoming {
            self.config.accept_incoming_calls
        } else {
            self.config.accept_outgoing_calls
        };
        if !accept {
            return self.send_cdn_unbound(
                now,
                slot,
                peer_sid,
                ResultCode::new(
                    result_code::PERM_NO_FACILITIES,
                    None,
                    Some("calls of this direction not accepted"),
                ),
            );
        }
        if self
            .by_peer_session
            .contains_key(&peer_session_key(slot, peer_sid))
        {
            // Case 26: the first session with this ID is unaffected.
            return self.send_cdn_unbound(
                now,
                slot,
                peer_sid,
                rc(
                    result_code::CDN_ERROR,
                    Some(error_code::INVALID_SESSION_ID),
                    "Assigned Session ID in use",
                ),
            );
        }
        if self
            .tunnels
            .at(slot)
            .is_none_or(|t| t.sessions.len() >= self.config.max_sessions_per_tunnel)
        {
            self.stats.limited += 1;
            return self.send_cdn_unbound(
                now,
                slot,
                peer_sid,
                ResultCode::new(
                    result_code::TEMP_NO_FACILITIES,
                    Some(error_code::INSUFFICIENT_RESOURCES),
                    None,
                ),
            );
        }
        let direction = if incoming {
            CallDirection::Incoming
        } else {
            CallDirection::Outgoing
        };
        let Some(s) = self.new_session(slot, direction, SessionState::WaitConnect) else {
            return self.send_cdn_unbound(
                now,
                slot,
                peer_sid,
                ResultCode::new(
                    result_code::TEMP_NO_FACILITIES,
                    Some(error_code::INSUFFICIENT_RESOURCES),
                    None,
                ),
            );
        };
        self.set_session_peer(s, peer_sid);
        let Some(sess) = self.sessions.at_mut(s) else {
            return;
        };
        if let Some(serial) = msg.call_serial_number() {
            sess.call_serial = serial;
        }
        let calling = msg.calling_number().map(lossy);
        let called = msg.called_number().map(lossy);
        if calling.is_some() || called.is_some() {
            sess.numbers = Some(Box::new(CallNumbers { calling, called }));
        }
        let local_id = sess.local_id;
        if incoming {
            // LNS: ICRP, then wait for ICCN.
            let m = ControlMessage::new(MessageType::Icrp).with(Avp::AssignedSessionId(local_id));
            self.send(now, slot, peer_sid, m);
        } else {
            // LAC: OCRP, and since the "call" is virtual it connects at once: OCCN.
            let m = ControlMessage::new(MessageType::Ocrp).with(Avp::AssignedSessionId(local_id));
            self.send(now, slot, peer_sid, m);
            self.send(
                now,
                slot,
                peer_sid,
                self.connected_message(MessageType::Occn),
            );
            self.session_up(s, None);
        }
    }

    fn connected_message(&self, kind: MessageType) -> ControlMessage {
        let mut m = ControlMessage::new(kind)
            .with(Avp::TxConnectSpeed(TX_CONNECT_SPEED))
            .with(Avp::FramingType(FRAMING_TYPE_SYNC));
        if self.config.data_sequencing {
            m = m.with(Avp::SequencingRequired);
        }
        m
    }

    /// A session message whose session cannot be trusted: CDN to the peer's session only (case 9).
    fn refuse_session_message(
        &mut self,
        now: Instant,
        slot: u32,
        header_sid: SessionId,
        msg: &ControlMessage,
        result: ResultCode,
    ) {
        match msg.message_type {
            MessageType::Icrq | MessageType::Ocrq => {
                if let Some(peer) = msg.assigned_session_id() {
                    self.send_cdn_unbound(now, slot, peer, result);
                }
            }
            _ => {
                if let Some(s) = self.find_session(slot, header_sid, msg) {
                    self.close_session_inner(
                        now,
                        s,
                        CloseReason::Local(result.clone()),
                        Some(result),
                    );
                }
            }
        }
    }

    /// A CDN for a call we hold no state for.
    fn send_cdn_unbound(&mut self, now: Instant, slot: u32, peer: SessionId, result: ResultCode) {
        let local_tunnel = self.tunnels.at(slot).map_or(TunnelId(0), |t| t.local_id);
        let ours = self.fresh_session_id(local_tunnel);
        let m = ControlMessage::new(MessageType::Cdn)
            .with(Avp::ResultCode(result))
            .with(Avp::AssignedSessionId(ours));
        self.send(now, slot, peer, m);
    }

    /// The session a session message is about: by our Session ID in the header, or, when the
    /// peer did not know it yet (a CDN answering our ICRQ), by its Assigned Session ID.
    fn find_session(&self, slot: u32, header_sid: SessionId, msg: &ControlMessage) -> Option<u32> {
        let t = self.tunnels.at(slot)?;
        if header_sid.0 != 0 {
            return self
                .by_session_key
                .get(&session_key(t.local_id, header_sid))
                .copied();
        }
        let peer = msg.assigned_session_id()?;
        self.by_peer_session
            .get(&peer_session_key(slot, peer))
            .copied()
    }

    fn on_call_reply(
        &mut self,
        now: Instant,
        slot: u32,
        header_sid: SessionId,
        msg: &ControlMessage,
    ) {
        let Some(s) = self.find_session(slot, header_sid, msg) else {
            self.stats.unknown_id += 1;
            return;
        };
        let incoming = msg.message_type == MessageType::Icrp;
        let Some(sess) = self.sessions.at(s) else {
            return;
        };
        let expected = if incoming {
            CallDirection::Incoming
        } else {
            CallDirection::Outgoing
        };
        if sess.state != SessionState::WaitReply || sess.direction != expected {
            return; // FSM: ignore (case 27)
        }
        let Some(peer) = msg.assigned_session_id().filter(|p| p.0 != 0) else {
            let r = rc(
                result_code::CDN_ERROR,
                Some(error_code::OUT_OF_RANGE),
                "Assigned Session ID 0 or missing",
            );
            return self.close_session_inner(now, s, CloseReason::Local(r.clone()), Some(r));
        };
        self.set_session_peer(s, peer);
        if incoming {
            // LAC: the call is up on our side; ICCN completes it.
            self.send(now, slot, peer, self.connected_message(MessageType::Iccn));
            self.session_up(s, None);
        } else if let Some(sess) = self.sessions.at_mut(s) {
            sess.state = SessionState::WaitConnect;
        }
    }

    fn on_call_connected(
        &mut self,
        _now: Instant,
        slot: u32,
        header_sid: SessionId,
        msg: &ControlMessage,
    ) {
        let Some(s) = self.find_session(slot, header_sid, msg) else {
            self.stats.unknown_id += 1;
            return;
        };
        let Some(sess) = self.sessions.at(s) else {
            return;
        };
        let expected = if msg.message_type == MessageType::Iccn {
            CallDirection::Incoming
        } else {
            CallDirection::Outgoing
        };
        if sess.state != SessionState::WaitConnect || sess.direction != expected {
            return; // FSM: ICCN before ICRQ, twice, or of the wrong kind (case 27)
        }
        self.session_up(s, Some(msg));
    }

    fn session_up(&mut self, s: u32, connect: Option<&ControlMessage>) {
        let generation = self.sessions.generation(s);
        let Some(sess) = self.sessions.at_mut(s) else {
            return;
        };
        let Some(t) = self.tunnels.at(sess.tunnel) else {
            return;
        };
        sess.state = SessionState::Established;
        sess.announced = true;
        sess.remote = t.remote;
        sess.source = t.source;
        sess.peer_tunnel = t.peer_id;
        let mut tx_connect_speed = TX_CONNECT_SPEED;
        if let Some(m) = connect {
            sess.data_seq |= m.sequencing_required();
            tx_connect_speed = m.tx_connect_speed().unwrap_or(0);
        }
        let numbers = sess.numbers.take().map(|b| *b).unwrap_or_default();
        let info = SessionInfo {
            direction: sess.direction,
            local_id: sess.local_id,
            peer_id: sess.peer_id,
            call_serial: sess.call_serial,
            tx_connect_speed,
            calling_number: numbers.calling,
            called_number: numbers.called,
        };
        self.events.push_back(Event::SessionEstablished {
            session: SessionHandle(s, generation),
            tunnel: TunnelHandle(sess.tunnel, self.tunnels.generation(sess.tunnel)),
            info,
        });
    }

    fn on_cdn(&mut self, slot: u32, header_sid: SessionId, msg: &ControlMessage) {
        let Some(s) = self.find_session(slot, header_sid, msg) else {
            self.stats.unknown_id += 1;
            return; // CDN for an unknown session: acknowledged, otherwise ignored (case 27)
        };
        let result = msg
            .result_code()
            .cloned()
            .unwrap_or_else(|| ResultCode::new(result_code::CDN_ERROR, None, None));
        self.remove_session(s, CloseReason::Peer(result));
    }

    fn on_link_status(&mut self, slot: u32, header_sid: SessionId, msg: &ControlMessage) {
        let Some(s) = self.find_session(slot, header_sid, msg) else {
            self.stats.unknown_id += 1;
            return;
        };
        let session = SessionHandle(s, self.sessions.generation(s));
        if msg.message_type == MessageType::Sli {
            if let Some((send_accm, receive_accm)) = msg.accm() {
                self.events.push_back(Event::LinkInfoSet {
                    session,
                    send_accm,
                    receive_accm,
                });
            }
        } else {
            self.events.push_back(Event::WanErrorNotified { session });
        }
    }

    fn close_session_inner(
        &mut self,
        now: Instant,
        s: u32,
        reason: CloseReason,
        cdn: Option<ResultCode>,
    ) {
        let Some(sess) = self.sessions.at(s) else {
            return;
        };
        if let Some(result) = cdn {
            let (slot, peer, local) = (sess.tunnel, sess.peer_id, sess.local_id);
            // A CDN is only meaningful once the peer knows of the call.
            if sess.state != SessionState::WaitTunnel {
                let m = ControlMessage::new(MessageType::Cdn)
                    .with(Avp::ResultCode(result))
                    .with(Avp::AssignedSessionId(local));
                self.send(now, slot, peer, m);
            }
        }
        self.remove_session(s, reason);
    }

    /// Forgets a session, announcing it if the application knew it.
    fn remove_session(&mut self, s: u32, reason: CloseReason) {
        let generation = self.sessions.generation(s);
        let Some(sess) = self.sessions.remove(s) else {
            return;
        };
        let tunnel_generation = self.tunnels.generation(sess.tunnel);
        if let Some(t) = self.tunnels.at_mut(sess.tunnel) {
            self.by_session_key
                .remove(&session_key(t.local_id, sess.local_id));
            let pos = sess.pos as usize;
            if pos < t.sessions.len() && t.sessions[pos] == s {
                t.sessions.swap_remove(pos);
                if let Some(&moved) = t.sessions.get(pos) {
                    if let Some(m) = self.sessions.at_mut(moved) {
                        m.pos = pos as u32;
                    }
                }
            }
        }
        if sess.peer_id.0 != 0 {
            let key = peer_session_key(sess.tunnel, sess.peer_id);
            if self.by_peer_session.get(&key) == Some(&s) {
                self.by_peer_session.remove(&key);
            }
        }
        if sess.announced {
            self.events.push_back(Event::SessionClosed {
                session: SessionHandle(s, generation),
                tunnel: TunnelHandle(sess.tunnel, tunnel_generation),
                reason,
            });
        }
    }

    /// Ends a tunnel: its sessions go (§6.4: a StopCCN clears them without CDNs), a StopCCN
    /// is sent if `stop` says so, and state is retained for late retransmits (§5.8).
    fn close_tunnel_inner(
        &mut self,
        now: Instant,
        slot: u32,
        reason: CloseReason,
        stop: Option<ResultCode>,
    ) {
        let Some(t) = self.tunnels.at(slot) else {
            return;
        };
        if t.state == TunnelState::Closing {
            return;
        }
        let sessions = t.sessions.clone();
        for s in sessions {
            self.remove_session(s, CloseReason::TunnelClosed);
        }
        if let Some(result) = stop {
            let local = self.tunnels.at(slot).map_or(TunnelId(0), |t| t.local_id);
            let m = ControlMessage::new(MessageType::StopCcn)
                .with(Avp::AssignedTunnelId(local))
                .with(Avp::ResultCode(result));
            self.send(now, slot, SessionId(0), m);
        }
        // A tunnel that never came up stays counted as half-open until its state is released
        // (`remove_tunnel`): otherwise refused SCCRQs, each leaving a StopCCN retransmitted
        // for the retention period, would escape the half-open caps (ROBUSTNESS case 23).
        let generation = self.tunnels.generation(slot);
        let retention = self.config.retention;
        let Some(t) = self.tunnels.at_mut(slot) else {
            return;
        };
        t.state = TunnelState::Closing;
        t.timers.stop(TunnelTimer::Hello);
        t.timers.set(TunnelTimer::Retention, now + retention);
        if t.announced {
            self.events.push_back(Event::TunnelClosed {
                tunnel: TunnelHandle(slot, generation),
                reason,
            });
        }
    }

    fn remove_tunnel(&mut self, slot: u32) {
        self.release_half_open(slot);
        let Some(t) = self.tunnels.at(slot) else {
            return;
        };
        for s in t.sessions.clone() {
            self.remove_session(s, CloseReason::TunnelClosed);
        }
        let Some(t) = self.tunnels.remove(slot) else {
            return;
        };
        self.by_tunnel_id.remove(&t.local_id.0);
        if let Some(k) = t.sccrq_key {
            if self.sccrq_index.get(&k) == Some(&slot) {
                self.sccrq_index.remove(&k);
            }
        }
    }

    // ----- sending and scheduling ---------------------------------------------------------

    /// Encodes `msg` for the tunnel's peer and queues it on the reliable channel.
    ///
    /// AVPs are hidden (§4.3) in every message after the tunnel's opening pair: an SCCRQ or
    /// SCCRP goes out in the clear, because a peer can only pick the secret to unhide with once
    /// it knows which tunnel the message opens (xl2tpd, for one, loads it while answering the
    /// Challenge, after it has parsed the message).
    fn send(&mut self, now: Instant, slot: u32, session: SessionId, msg: ControlMessage) {
        let hide = self.config.hide_avps
            && !matches!(msg.message_type, MessageType::Sccrq | MessageType::Sccrp);
        let rv: Option<[u8; 16]> = hide.then(|| self.rng.random());
        let Some(t) = self.tunnels.at_mut(slot) else {
            return;
        };
        let hiding = match (&self.config.secret, &rv) {
            (Some(s), Some(rv)) => Some((s.as_slice(), rv)),
            _ => None,
        };
        let mut buf = Vec::with_capacity(128);
        encode_control(
            t.peer_id,
            session,
            Seq16(0),
            Seq16(0),
            Some(&msg),
            hiding,
            &mut buf,
        );
        t.channel.enqueue(now, buf);
    }

    /// Moves a tunnel's outgoing datagrams to the transmit queue and reschedules its deadline.
    fn after_tunnel(&mut self, _now: Instant, slot: u32) {
        let generation = self.tunnels.generation(slot);
        let Some(t) = self.tunnels.at_mut(slot) else {
            return;
        };
        while let Some(payload) = t.channel.poll_transmit() {
            self.transmits.push_back(Transmit {
                destination: t.remote,
                source: t.source,
                payload,
            });
        }
        let next = match (t.channel.poll_timeout(), t.timers.next_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if next != t.scheduled {
            t.scheduled = next;
            if let Some(at) = next {
                self.deadlines.push(Reverse((at, slot, generation)));
            }
        }
    }

    // ----- commands -----------------------------------------------------------------------

    /// Opens a control connection to `remote`: sends an SCCRQ.
    pub fn connect(&mut self, now: Instant, remote: SocketAddr) -> Result<TunnelHandle, Error> {
        let slot = self.new_tunnel(now, remote, Role::Initiator, Seq16(0), false)?;
        let generation = self.tunnels.generation(slot);
        if let Some(t) = self.tunnels.at_mut(slot) {
            t.announced = true;
        }
        self.send_sccrq(now, slot);
        self.after_tunnel(now, slot);
        Ok(TunnelHandle(slot, generation))
    }

    /// Places a call in `tunnel`: an ICRQ as LAC (`Incoming`) or an OCRQ as LNS (`Outgoing`).
    /// If the tunnel is still coming up, the request goes out once it is established.
    pub fn open_session(
        &mut self,
        now: Instant,
        tunnel: TunnelHandle,
        direction: CallDirection,
    ) -> Result<SessionHandle, Error> {
        let t = self
            .tunnels
            .get(tunnel.0, tunnel.1)
            .ok_or(Error::InvalidState)?;
        let up = match t.state {
            TunnelState::Established => true,
            TunnelState::WaitCtlReply | TunnelState::WaitCtlConn => false,
            TunnelState::Closing => return Err(Error::InvalidState),
        };
        if t.sessions.len() >= self.config.max_sessions_per_tunnel {
            self.stats.limited += 1;
            return Err(Error::LimitReached("sessions per tunnel"));
        }
        let s = self
            .new_session(tunnel.0, direction, SessionState::WaitTunnel)
            .ok_or(Error::LimitReached("session IDs"))?;
        if let Some(sess) = self.sessions.at_mut(s) {
            sess.announced = true;
        }
        if up {
            self.send_call_request(now, s);
            self.after_tunnel(now, tunnel.0);
        }
        Ok(SessionHandle(s, self.sessions.generation(s)))
    }

    /// Ends a session with a CDN carrying `result`.
    pub fn close_session(
        &mut self,
        now: Instant,
        session: SessionHandle,
        result: ResultCode,
    ) -> Result<(), Error> {
        let sess = self
            .sessions
            .get(session.0, session.1)
            .ok_or(Error::InvalidState)?;
        let slot = sess.tunnel;
        self.close_session_inner(
            now,
            session.0,
            CloseReason::Local(result.clone()),
            Some(result),
        );
        self.after_tunnel(now, slot);
        Ok(())
    }

    /// Ends a tunnel and all its sessions with a StopCCN carrying `result`.
    pub fn close_tunnel(
        &mut self,
        now: Instant,
        tunnel: TunnelHandle,
        result: ResultCode,
    ) -> Result<(), Error> {
        let t = self
            .tunnels
            .get(tunnel.0, tunnel.1)
            .ok_or(Error::InvalidState)?;
        if t.state == TunnelState::Closing {
            return Ok(());
        }
        if t.role == Role::Initiator && t.state == TunnelState::WaitCtlReply && t.peer_id.0 == 0 {
            // The peer never answered: nothing to tell it.
            self.close_tunnel_inner(now, tunnel.0, CloseReason::Local(result), None);
            self.remove_tunnel(tunnel.0);
            return Ok(());
        }
        self.close_tunnel_inner(
            now,
            tunnel.0,
            CloseReason::Local(result.clone()),
            Some(result),
        );
        self.after_tunnel(now, tunnel.0);
        Ok(())
    }

    /// Ends a tunnel whose transport is gone (its IPsec SAs were deleted, or the peer was found
    /// dead: RFC 3193 §3.1): its sessions and the tunnel close at once, with `result` as the
    /// reason, and nothing is sent or retained, since nothing could reach the peer.
    pub fn abort_tunnel(
        &mut self,
        now: Instant,
        tunnel: TunnelHandle,
        result: ResultCode,
    ) -> Result<(), Error> {
        if self.tunnels.get(tunnel.0, tunnel.1).is_none() {
            return Err(Error::InvalidState);
        }
        self.close_tunnel_inner(now, tunnel.0, CloseReason::Local(result), None);
        self.remove_tunnel(tunnel.0);
        Ok(())
    }

    /// Closes every tunnel (graceful shutdown): StopCCN with result 6, "shutting down".
    pub fn close_all(&mut self, now: Instant) {
        let slots: Vec<u32> = self.tunnels.indices().collect();
        for slot in slots {
            let generation = self.tunnels.generation(slot);
            let _ = self.close_tunnel(
                now,
                TunnelHandle(slot, generation),
                ResultCode::new(result_code::SHUTTING_DOWN, None, Some("shutting down")),
            );
        }
    }

    /// Whether every tunnel is closed and its final messages acknowledged (or given up on).
    pub fn is_quiescent(&self) -> bool {
        self.tunnels.indices().all(|i| {
            self.tunnels
                .at(i)
                .is_none_or(|t| t.state == TunnelState::Closing && t.channel.is_idle())
        })
    }

    // ----- data path ----------------------------------------------------------------------

    fn receive_data<'a>(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        hdr: &Header,
        payload: &'a [u8],
    ) -> Result<Received<'a>, Error> {
        let Some(&s) = self
            .by_session_key
            .get(&session_key(hdr.tunnel_id, hdr.session_id))
        else {
            self.stats.unknown_id += 1;
            return Err(Error::UnknownSession(hdr.session_id, hdr.tunnel_id));
        };
        let generation = self.sessions.generation(s);
        let Some(sess) = self.sessions.at_mut(s) else {
            return Err(Error::InvalidState);
        };
        if sess.state != SessionState::Established {
            self.stats.unknown_id += 1;
            return Err(Error::SessionNotEstablished);
        }
        if sess.remote != remote {
            self.stats.wrong_peer += 1;
            return Err(Error::WrongPeer {
                tunnel: hdr.tunnel_id,
                expected: sess.remote,
                got: remote,
            });
        }
        if let Some((ns, _)) = hdr.sequence {
            sess.data_nr = ns.next();
        }
        let tunnel = sess.tunnel;
        if let Some(t) = self.tunnels.at_mut(tunnel) {
            t.last_rx = now;
        }
        self.stats.data_rx += 1;
        Ok(Received::Data {
            session: SessionHandle(s, generation),
            payload,
        })
    }

    /// Writes the data-message header for `session` into `buf` just before `payload` (which
    /// needs [`DATA_HEADER_MAX`] bytes of headroom) and returns where to send the datagram and
    /// its range in `buf`. No allocation, no copy of the payload.
    pub fn encapsulate(
        &mut self,
        session: SessionHandle,
        buf: &mut [u8],
        payload: Range<usize>,
    ) -> Result<DataTransmit, Error> {
        let sess = self
            .sessions
            .get_mut(session.0, session.1)
            .ok_or(Error::InvalidState)?;
        if sess.state != SessionState::Established {
            return Err(Error::SessionNotEstablished);
        }
        if payload.start > payload.end || payload.end > buf.len() {
            return Err(Error::BufferTooSmall);
        }
        let mut hdr = Header {
            control: false,
            length: self.config.data_length_bit.then_some(0),
            tunnel_id: sess.peer_tunnel,
            session_id: sess.peer_id,
            sequence: None,
            offset_size: None,
            priority: false,
        };
        if sess.data_seq {
            hdr.sequence = Some((sess.data_ns, sess.data_nr));
        }
        let hlen = hdr.len();
        let total = hlen + payload.len();
        if payload.start < hlen || total > usize::from(u16::MAX) {
            return Err(Error::BufferTooSmall);
        }
        if hdr.length.is_some() {
            hdr.length = Some(total as u16);
        }
        let start = payload.start - hlen;
        hdr.write(&mut buf[start..payload.start])
            .map_err(|_| Error::BufferTooSmall)?;
        if sess.data_seq {
            sess.data_ns = sess.data_ns.next();
        }
        self.stats.data_tx += 1;
        Ok(DataTransmit {
            destination: sess.remote,
            source: sess.source,
            range: start..payload.end,
        })
    }

    // ----- outputs ------------------------------------------------------------------------

    /// The next datagram to send. New datagrams may appear after any `handle_*` call or command.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event. New events may appear after any `handle_*` call or command.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Endpoint::handle_timeout`] next. May be early (a superseded deadline),
    /// never late. Changes after any `handle_*` call or command.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The peer address of a tunnel.
    pub fn tunnel_remote(&self, tunnel: TunnelHandle) -> Option<SocketAddr> {
        self.tunnels.get(tunnel.0, tunnel.1).map(|t| t.remote)
    }

    /// The tunnels whose peer is `remote`, in any state (RFC 3193 §3.1: when the IPsec SAs
    /// under them go, so do they).
    pub fn tunnels_to(&self, remote: SocketAddr) -> Vec<TunnelHandle> {
        self.tunnels
            .indices()
            .filter(|&i| self.tunnels.at(i).is_some_and(|t| t.remote == remote))
            .map(|i| TunnelHandle(i, self.tunnels.generation(i)))
            .collect()
    }

    /// Our and the peer's Tunnel IDs.
    pub fn tunnel_ids(&self, tunnel: TunnelHandle) -> Option<(TunnelId, TunnelId)> {
        self.tunnels
            .get(tunnel.0, tunnel.1)
            .map(|t| (t.local_id, t.peer_id))
    }

    /// Whether the tunnel is established.
    pub fn tunnel_is_established(&self, tunnel: TunnelHandle) -> bool {
        self.tunnels
            .get(tunnel.0, tunnel.1)
            .is_some_and(|t| t.state == TunnelState::Established)
    }

    /// The tunnel a session belongs to.
    pub fn session_tunnel(&self, session: SessionHandle) -> Option<TunnelHandle> {
        let s = self.sessions.get(session.0, session.1)?;
        Some(TunnelHandle(s.tunnel, self.tunnels.generation(s.tunnel)))
    }

    /// Our and the peer's Session IDs.
    pub fn session_ids(&self, session: SessionHandle) -> Option<(SessionId, SessionId)> {
        self.sessions
            .get(session.0, session.1)
            .map(|s| (s.local_id, s.peer_id))
    }

    /// Whether the session is established.
    pub fn session_is_established(&self, session: SessionHandle) -> bool {
        self.sessions
            .get(session.0, session.1)
            .is_some_and(|s| s.state == SessionState::Established)
    }

    /// Number of tunnels held (any state, including those retained after closing).
    pub fn tunnel_count(&self) -> usize {
        self.tunnels.len()
    }

    /// Number of sessions held (any state).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }
}
