//! The option-negotiation automaton of RFC 1661 §4, generic over the option policy of one
//! control protocol (LCP, IPCP, IPv6CP).
//!
//! Two layers:
//!
//! - [`transition`]: the §4.1 table as a pure function, `(state, event) -> (actions, next)`,
//!   one `on_*` function per event (table.rs) and an exhaustive snapshot of its 160 cells
//!   (`transitions.txt`, checked by the tests);
//! - [`ControlProtocol`]: the automaton with its packets, counters and Restart timer, sans-IO
//!   in the quinn shape. The [`Protocol`] it is generic over judges options and never sees
//!   identifiers, timers or states (except in [`Protocol::handle_code`]).
//!
//! ```text
//! cp.up(now); cp.open(now)                     // events Up and Open
//! cp.handle_packet(now, &information_field)?   // Code, Identifier, Length, Data
//! cp.handle_timeout(now)                       // TO+ / TO-
//! cp.close(now, b"reason"); cp.down(now); cp.protocol_rejected(now)
//! while let Some(p) = cp.poll_packet() { .. }  // add the PPP protocol field and send
//! while let Some(e) = cp.poll_event() { .. }   // tlu / tld / tls / tlf
//! cp.poll_timeout()                            // when to call handle_timeout
//! ```
//!
//! Invariants, checked by the proptest in tests.rs:
//!
//! - nothing panics on any input; a packet shorter than its header, with a Length below 4 or
//!   above what was received, or an Ack/Nak/Reject that does not answer our latest
//!   Configure-Request, is counted in [`Stats`] and discarded without touching the automaton
//!   (§5: "silently discarded without affecting the automaton");
//! - the Restart timer is armed exactly in Closing, Stopping, Req-Sent, Ack-Rcvd and Ack-Sent
//!   (§4.1: only scr, str and zrc start it; leaving those states stops it);
//! - every [`LayerEvent::Up`] is followed by exactly one [`LayerEvent::Down`] before the next
//!   Up, and the layer is up exactly in [`State::Opened`];
//! - memory is bounded: the output queues hold at most [`MAX_QUEUED_PACKETS`] packets and
//!   [`MAX_QUEUED_EVENTS`] events (the oldest are dropped and counted), packets we build never
//!   exceed the 16-bit Length, and a Code-Reject fits [`CODE_REJECT_MRU`].
//!
//! Counters (§4.6), and what this automaton adds for loop avoidance (§4.5, ROBUSTNESS 31):
//!
//! - the restart counter: `irc` sets Max-Terminate when the same cell sends a
//!   Terminate-Request, Max-Configure otherwise; each scr and str decrements it; the timer
//!   expiring with the counter above zero is TO+, at zero TO-. TO- while configuring is
//!   Max-Configure: the automaton [gave up](ControlProtocol::gave_up);
//! - Max-Failure, sent side (§4.6): after `max_failure` consecutive Configure-Naks sent without
//!   a Configure-Ack, a Nak verdict becomes a Configure-Reject of the peer's options of the Nak'd
//!   types, copied verbatim from its request; options the policy would have appended (absent
//!   from the request) are no longer asked for. If nothing is left to reject, the negotiation
//!   cannot converge and the automaton gives up;
//! - Max-Failure, received side (pppd's "max-nak-loops"): after `max_failure` consecutive
//!   Configure-Naks received, a further Nak is handed to [`Protocol::on_reject`] instead of
//!   [`Protocol::on_nak`]: we stop asking for the options the peer keeps refusing. Without
//!   this, a peer that Naks forever would loop forever, since every valid Nak re-initialises
//!   the restart counter (RCN is `irc,scr`);
//! - loop bound (§4.5): after `max_failure + max_configure` consecutive Configure-Naks or
//!   -Rejects in either direction without an Ack, the automaton gives up.
//!
//! Giving up (those bounds, or [`Protocol::on_reject`] returning `false`) is the Close event
//! with a Terminate-Request saying why: a clean stop that ends in [`LayerEvent::Finished`] with
//! [`ControlProtocol::gave_up`] true.
//!
//! Identifiers (§5.1, §5.5): every new Configure-Request, Terminate-Request and Code-Reject takes
//! the next identifier. A retransmission by timeout keeps it if the contents did not change and
//! no valid reply has been received for it; otherwise it takes a new one. Configure-Ack, -Nak,
//! -Reject, Terminate-Ack and Echo-Reply copy the identifier of the packet they answer.
//! Configure-Ack/Nak/Reject are accepted, while configuring (Req-Sent, Ack-Rcvd, Ack-Sent,
//! Opened), only if they carry the identifier of our latest Configure-Request and no valid reply
//! to it arrived yet (a duplicate is stale); an Ack must repeat our options exactly (§5.2), a
//! Reject must list a subsequence of them, unmodified (§5.4), a Nak must be a well-formed option
//! list. In Closed and Stopped no request is outstanding, and any Ack/Nak/Reject is answered
//! with a Terminate-Ack as the table says ("Upon reception of other packets, a Terminate-Ack is
//! sent", §4.2 Stopped).
//!
//! Codes: 1 to 7 are the automaton's. Code-Reject of codes 1 to 7 is RXJ-, of any other code
//! RXJ+. Codes from 8 go to [`Protocol::handle_code`]: [`CodeAction::Handled`] and
//! [`CodeAction::Reply`] are RXR (the reply is sent only where the table says `ser`, in
//! Opened), [`CodeAction::Unknown`] is RUC (Code-Reject), [`CodeAction::ProtocolRejected`] is
//! RXJ+ (the peer rejected a protocol we can do without; the catastrophic case, LCP itself,
//! reaches the automaton as [`ControlProtocol::protocol_rejected`], RXJ-). No packet is
//! processed in Initial and Starting, where every receive event is illegal.
//!
//! [`Protocol::reset`] is called when a negotiation starts afresh: before the first
//! Configure-Request sent from Starting, Closed, Stopped or Opened (so after every tls and
//! tld), and, when a peer's Configure-Request restarts the negotiation (Stopped and Opened),
//! before that request is judged (pppd's order), so the verdict is not forgotten.

mod table;
#[cfg(test)]
mod tests;

pub use table::{is_legal, transition, Action, Event, State};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sras_core::{Reader, TimerKind, TimerTable, Writer};
use thiserror::Error;

/// The codes the automaton itself interprets (RFC 1661 §5).
mod code {
    pub(super) const CONFIGURE_REQUEST: u8 = 1;
    pub(super) const CONFIGURE_ACK: u8 = 2;
    pub(super) const CONFIGURE_NAK: u8 = 3;
    pub(super) const CONFIGURE_REJECT: u8 = 4;
    pub(super) const TERMINATE_REQUEST: u8 = 5;
    pub(super) const TERMINATE_ACK: u8 = 6;
    pub(super) const CODE_REJECT: u8 = 7;
}

/// Code, Identifier and Length.
const HEADER_LEN: usize = 4;

/// The most data a packet can carry: its Length field is 16 bits.
const MAX_DATA: usize = u16::MAX as usize - HEADER_LEN;

/// The largest Code-Reject we send, header included (RFC 1661 §5.6: "truncated to comply with
/// the peer's established MRU"; 1500 is the default MRU, §6.1).
pub const CODE_REJECT_MRU: usize = 1500;

/// The most Terminate-Request data we keep from [`ControlProtocol::close`].
const MAX_TERMINATE_DATA: usize = CODE_REJECT_MRU - HEADER_LEN;

/// Packets kept for [`ControlProtocol::poll_packet`]; beyond this the oldest is dropped.
pub const MAX_QUEUED_PACKETS: usize = 32;

/// Events kept for [`ControlProtocol::poll_event`]; beyond this the oldest is dropped.
pub const MAX_QUEUED_EVENTS: usize = 32;

//= https://www.rfc-editor.org/rfc/rfc1661#section-4.6
//# The Restart timer MUST be configurable, but SHOULD default to three (3) seconds.
/// Default Restart timer.
pub const DEFAULT_RESTART: Duration = Duration::from_secs(3);
//# Max-Configure MUST be configurable, but SHOULD default to ten (10) transmissions.
/// Default Max-Configure.
pub const DEFAULT_MAX_CONFIGURE: u32 = 10;
//# Max-Terminate MUST be configurable, but SHOULD default to two (2) transmissions.
/// Default Max-Terminate.
pub const DEFAULT_MAX_TERMINATE: u32 = 2;
//# Max-Failure MUST be configurable, but SHOULD default to five (5) transmissions.
/// Default Max-Failure.
pub const DEFAULT_MAX_FAILURE: u32 = 5;

/// What a protocol says about the peer's Configure-Request (RFC 1661 §5.1-5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestVerdict {
    /// Every option is acceptable: Configure-Ack (RCR+).
    Ack,
    /// Some values are not acceptable: Configure-Nak with this option list (RCR-).
    Nak(Vec<u8>),
    /// Some options are not recognised or not negotiable: Configure-Reject with this option
    /// list, copied unmodified from the request (RCR-).
    Reject(Vec<u8>),
}

/// What to do with a packet whose code is not one of 1 to 7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeAction {
    /// Taken care of, nothing to send (RXR).
    Handled,
    /// Answer with this code and data, with the identifier of the packet (RXR; sent only in
    /// Opened, where the table's RXR cell is `ser`).
    Reply {
        /// The code of the answer (Echo-Reply, 10).
        code: u8,
        /// Its data.
        data: Vec<u8>,
    },
    /// Not a code of this protocol: Code-Reject (RUC).
    Unknown,
    /// The peer Protocol-Rejected a protocol we can do without (RXJ+).
    ProtocolRejected,
}

/// The option policy of one control protocol (LCP, IPCP, IPv6CP).
pub trait Protocol {
    /// PPP protocol number (0xc021 LCP, 0x8021 IPCP, 0x8057 IPv6CP).
    fn protocol(&self) -> u16;

    /// Appends the options of our next Configure-Request (called for every scr, including
    /// retransmissions after a Nak/Reject changed them).
    fn build_request(&mut self, out: &mut Vec<u8>);

    /// Judges the options of the peer's Configure-Request (the whole options list; the protocol
    /// parses it).
    fn check_request(&mut self, options: &[u8]) -> RequestVerdict;

    /// Our request was acknowledged with these options (identical to what we sent: the
    /// automaton checks the identifier and the bytes, RFC 1661 §5.2).
    fn on_ack(&mut self, options: &[u8]);

    /// The peer Nak'd: adjust what `build_request` will ask for.
    fn on_nak(&mut self, options: &[u8]);

    /// The peer Rejected these options: stop asking for them. Return false if we cannot do
    /// without one (the automaton then closes). Also called with the options of a Nak once the
    /// peer has Nak'd Max-Failure times in a row.
    fn on_reject(&mut self, options: &[u8]) -> bool;

    /// Codes other than 1-7 (LCP uses 8 Protocol-Reject, 9 Echo-Request, 10 Echo-Reply,
    /// 11 Discard-Request, 12 Identification, 13 Time-Remaining). Default: Unknown.
    fn handle_code(&mut self, state: State, code: u8, identifier: u8, data: &[u8]) -> CodeAction {
        let _ = (state, code, identifier, data);
        CodeAction::Unknown
    }

    /// Negotiation starts afresh (before the first Configure-Request of a negotiation, so after
    /// tls and tld): forget per-negotiation state.
    fn reset(&mut self) {}
}

/// Timer and counter settings (RFC 1661 §4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Restart timer (default 3 s).
    pub restart: Duration,
    /// Configure-Requests sent without a valid reply before giving up (default 10).
    pub max_configure: u32,
    /// Terminate-Requests sent without a Terminate-Ack before finishing anyway (default 2).
    pub max_terminate: u32,
    /// Configure-Naks in a row before they become Configure-Rejects (default 5).
    pub max_failure: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            restart: DEFAULT_RESTART,
            max_configure: DEFAULT_MAX_CONFIGURE,
            max_terminate: DEFAULT_MAX_TERMINATE,
            max_failure: DEFAULT_MAX_FAILURE,
        }
    }
}

/// Layer events for the link: the tlu, tld, tls and tlf actions of RFC 1661 §4.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerEvent {
    /// tlu: the automaton entered Opened.
    Up,
    /// tld: the automaton left Opened.
    Down,
    /// tls: the automaton entered Starting and needs the lower layer.
    Started,
    /// tlf: the automaton entered Initial, Closed or Stopped and no longer needs the lower
    /// layer. [`ControlProtocol::gave_up`] tells whether negotiation failed.
    Finished,
}

/// Why a control packet was discarded. The automaton is unaffected by any of these.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FsmError {
    /// Shorter than the 4-octet header.
    #[error("control packet truncated: {received} bytes")]
    Truncated {
        /// Bytes received.
        received: usize,
    },
    /// The Length field is below 4 or above the bytes received (RFC 1661 §5).
    #[error("control packet Length {length} with {received} bytes received")]
    BadLength {
        /// The Length field.
        length: u16,
        /// Bytes received.
        received: usize,
    },
    /// Received in Initial or Starting, where no receive event is legal.
    #[error("control packet received in state {state}")]
    NotReady {
        /// The state.
        state: State,
    },
    /// A Configure-Ack/Nak/Reject that does not answer our latest Configure-Request, or
    /// answers one already answered (RFC 1661 §5.2-5.4).
    #[error("stale identifier {identifier} for code {code}")]
    StaleIdentifier {
        /// The code of the packet.
        code: u8,
        /// Its identifier.
        identifier: u8,
    },
    /// A Configure-Ack whose options differ from our request (RFC 1661 §5.2).
    #[error("Configure-Ack options differ from the request")]
    AckMismatch,
    /// A Configure-Nak whose option list is malformed, or a Configure-Reject listing options we
    /// did not request (RFC 1661 §5.3, §5.4).
    #[error("malformed or unrequested options in code {code}")]
    BadOptions {
        /// The code of the packet.
        code: u8,
    },
    /// A Code-Reject without the rejected packet.
    #[error("empty Code-Reject")]
    EmptyCodeReject,
}

/// Counters of one automaton.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Packets given to `handle_packet`.
    pub received: u64,
    /// Packets queued for sending.
    pub sent: u64,
    /// Packets with a bad header or bad options, discarded.
    pub malformed: u64,
    /// Configure-Ack/Nak/Reject with a stale identifier, discarded.
    pub stale: u64,
    /// Packets received in Initial or Starting, discarded.
    pub not_ready: u64,
    /// Events that hit a `-` cell of the table.
    pub illegal_events: u64,
    /// Crossed connections (the `x` cells).
    pub crossed: u64,
    /// Configure-Requests retransmitted with the same identifier.
    pub retransmissions: u64,
    /// Configure-Naks turned into Configure-Rejects by Max-Failure.
    pub naks_converted: u64,
    /// Received Configure-Naks treated as Rejects by Max-Failure.
    pub naks_as_rejects: u64,
    /// Code-Rejects sent.
    pub code_rejects: u64,
    /// Negotiations abandoned (Max-Configure, Max-Failure, loop bound, essential option
    /// rejected).
    pub gave_up: u64,
    /// Packets or events dropped because the caller did not poll.
    pub queue_overflows: u64,
}

/// The one timer of the automaton.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// RFC 1661 §4.6 Restart timer: retransmits Configure- and Terminate-Requests.
    Restart,
}

impl TimerKind for Timer {
    const VALUES: &'static [Self] = &[Self::Restart];
    fn index(self) -> usize {
        0
    }
}

/// A request we sent and may retransmit: its identifier and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    identifier: u8,
    data: Vec<u8>,
}

/// The reply an action sends, decided before the transition runs.
#[derive(Debug, Default)]
enum Reply<'a> {
    #[default]
    None,
    /// sca: the peer's options, verbatim.
    Ack(&'a [u8]),
    /// scn: Configure-Nak or Configure-Reject.
    Negative { code: u8, options: Vec<u8> },
    /// ser: a protocol's answer (Echo-Reply).
    Echo { code: u8, data: Vec<u8> },
}

/// What a received packet brings to the actions of its transition.
#[derive(Debug, Default)]
struct Input<'a> {
    /// The packet's identifier (copied by sca, scn, sta, ser).
    identifier: u8,
    /// The packet up to its Length (copied by scj).
    packet: &'a [u8],
    reply: Reply<'a>,
    /// The negotiation was already restarted for this event (do not reset again on scr).
    restarted: bool,
}

/// The outcome of judging a peer's Configure-Request.
enum Judged {
    Ack,
    Negative { code: u8, options: Vec<u8> },
    GiveUp(&'static [u8]),
}

/// The RFC 1661 automaton for one control protocol.
#[derive(Debug)]
pub struct ControlProtocol<P: Protocol> {
    /// The option policy.
    pub protocol: P,
    config: Config,
    state: State,
    /// §4.6 restart counter.
    restart_count: u32,
    timers: TimerTable<Timer, 1>,
    /// The last identifier we allocated.
    identifier: u8,
    /// Our latest Configure-Request.
    request: Option<Sent>,
    /// A valid Ack/Nak/Reject answered `request`.
    reply_seen: bool,
    /// Our latest Terminate-Request.
    terminate: Option<Sent>,
    /// Data of the next Terminate-Request.
    terminate_data: Vec<u8>,
    /// Configure-Naks sent in a row without a Configure-Ack (Max-Failure).
    naks_sent: u32,
    /// Configure-Naks/Rejects sent in a row without a Configure-Ack (loop bound).
    negatives_sent: u32,
    /// Configure-Naks received in a row without a Configure-Ack (Max-Failure).
    naks_received: u32,
    /// Configure-Naks/Rejects received in a row without a Configure-Ack (loop bound).
    negatives_received: u32,
    gave_up: bool,
    packets: VecDeque<Vec<u8>>,
    events: VecDeque<LayerEvent>,
    stats: Stats,
}

impl<P: Protocol> ControlProtocol<P> {
    /// An automaton in the Initial state.
    pub fn new(protocol: P, config: Config) -> Self {
        Self {
            protocol,
            config,
            state: State::Initial,
            restart_count: 0,
            timers: TimerTable::default(),
            identifier: 0,
            request: None,
            reply_seen: false,
            terminate: None,
            terminate_data: Vec::new(),
            naks_sent: 0,
            negatives_sent: 0,
            naks_received: 0,
            negatives_received: 0,
            gave_up: false,
            packets: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Whether the last negotiation was abandoned: Max-Configure reached (TO- while
    /// configuring), Max-Failure converted a Nak into a Reject or a received Nak into a reject,
    /// the loop bound was hit, or an option we cannot do without was rejected. Cleared when a
    /// new negotiation starts and on tlu. Read it on [`LayerEvent::Finished`] for the reason.
    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    /// The lower layer is up (event Up).
    pub fn up(&mut self, now: Instant) {
        self.run(now, Event::Up, &Input::default());
    }

    /// The lower layer is down (event Down).
    pub fn down(&mut self, now: Instant) {
        self.run(now, Event::Down, &Input::default());
    }

    /// Administrative Open (event Open).
    pub fn open(&mut self, now: Instant) {
        self.run(now, Event::Open, &Input::default());
    }

    /// Administrative Close (event Close). `reason` is the data of the Terminate-Request
    /// (truncated to fit a 1500-octet packet).
    pub fn close(&mut self, now: Instant, reason: &[u8]) {
        self.set_terminate_data(reason);
        self.run(now, Event::Close, &Input::default());
    }

    /// The peer Protocol-Rejected this protocol (RXJ-: for LCP this is fatal; for an NCP it
    /// ends the NCP). The link calls it.
    pub fn protocol_rejected(&mut self, now: Instant) {
        self.set_terminate_data(b"");
        self.run(now, Event::RxjMinus, &Input::default());
    }

    /// The Restart timer, if due: TO+ while the restart counter is above zero, TO- at zero.
    /// One expiry per call; call again when [`poll_timeout`](Self::poll_timeout) is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(Timer::Restart) = self.timers.expire(now) {
            let event = if self.restart_count > 0 {
                Event::TimeoutPlus
            } else {
                Event::TimeoutMinus
            };
            if event == Event::TimeoutMinus
                && matches!(self.state, State::ReqSent | State::AckRcvd | State::AckSent)
            {
                // Max-Configure: the peer never answered.
                self.gave_up = true;
                self.stats.gave_up += 1;
            }
            self.run(now, event, &Input::default());
        }
    }

    /// One control packet: the PPP Information field (Code, Identifier, Length, Data; octets
    /// beyond Length are padding). An error means the packet was discarded and counted; the
    /// automaton is unchanged.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) -> Result<(), FsmError> {
        self.stats.received += 1;
        let Header {
            code,
            identifier,
            data,
            packet,
        } = match parse_header(packet) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        };
        if matches!(self.state, State::Initial | State::Starting) {
            self.stats.not_ready += 1;
            return Err(FsmError::NotReady { state: self.state });
        }
        let input = Input {
            identifier,
            packet,
            ..Input::default()
        };
        match code {
            code::CONFIGURE_REQUEST => {
                self.on_configure_request(now, input, data);
                Ok(())
            }
            code::CONFIGURE_ACK => self.on_configure_ack(now, input, data),
            code::CONFIGURE_NAK | code::CONFIGURE_REJECT => {
                self.on_configure_nak(now, code, input, data)
            }
            code::TERMINATE_REQUEST => {
                self.run(now, Event::Rtr, &input);
                Ok(())
            }
            code::TERMINATE_ACK => {
                self.run(now, Event::Rta, &input);
                Ok(())
            }
            code::CODE_REJECT => {
                let Some(&rejected) = data.first() else {
                    self.stats.malformed += 1;
                    return Err(FsmError::EmptyCodeReject);
                };
                //= https://www.rfc-editor.org/rfc/rfc1661#section-5.6
                //# Upon reception of the Code-Reject of a code which is fundamental
                //# to this version of the protocol, the implementation SHOULD report
                //# the problem and drop the connection
                let event = if (code::CONFIGURE_REQUEST..=code::CODE_REJECT).contains(&rejected) {
                    self.set_terminate_data(b"");
                    Event::RxjMinus
                } else {
                    Event::RxjPlus
                };
                self.run(now, event, &input);
                Ok(())
            }
            _ => {
                let (event, reply) = match self
                    .protocol
                    .handle_code(self.state, code, identifier, data)
                {
                    CodeAction::Handled => (Event::Rxr, Reply::None),
                    CodeAction::Reply { code, data } => (Event::Rxr, Reply::Echo { code, data }),
                    CodeAction::Unknown => (Event::Ruc, Reply::None),
                    CodeAction::ProtocolRejected => (Event::RxjPlus, Reply::None),
                };
                self.run(now, event, &Input { reply, ..input });
                Ok(())
            }
        }
    }

    /// Next packet to send: Code, Identifier, Length, Data (the caller adds the PPP protocol
    /// field). Changes after any `handle_*`, `up`, `down`, `open`, `close` or
    /// `protocol_rejected` call.
    pub fn poll_packet(&mut self) -> Option<Vec<u8>> {
        self.packets.pop_front()
    }

    /// Next layer event. Changes after the same calls as [`poll_packet`](Self::poll_packet).
    pub fn poll_event(&mut self) -> Option<LayerEvent> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the Restart timer, armed exactly
    /// in Closing, Stopping, Req-Sent, Ack-Rcvd and Ack-Sent. Changes after the same calls as
    /// [`poll_packet`](Self::poll_packet).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// RCR+ or RCR-.
    fn on_configure_request<'a>(&mut self, now: Instant, mut input: Input<'a>, options: &'a [u8]) {
        let event = match self.state {
            State::Stopped | State::ReqSent | State::AckRcvd | State::AckSent | State::Opened => {
                if matches!(self.state, State::Stopped | State::Opened) {
                    // The peer restarts the negotiation: reset before judging (module docs).
                    self.start_negotiation();
                    input.restarted = true;
                }
                let verdict = self.protocol.check_request(options);
                match self.judge(verdict, options) {
                    Judged::Ack => {
                        input.reply = Reply::Ack(options);
                        Event::RcrPlus
                    }
                    Judged::Negative { code, options } => {
                        input.reply = Reply::Negative { code, options };
                        Event::RcrMinus
                    }
                    Judged::GiveUp(reason) => return self.give_up(now, reason),
                }
            }
            // Closed answers sta, Closing and Stopping ignore it: RCR+ and RCR- agree there.
            _ => Event::RcrPlus,
        };
        self.run(now, event, &input);
    }

    /// Applies Max-Failure and the loop bound to the policy's verdict.
    fn judge(&mut self, verdict: RequestVerdict, request: &[u8]) -> Judged {
        let (code, options) = match verdict {
            RequestVerdict::Ack => {
                self.naks_sent = 0;
                self.negatives_sent = 0;
                return Judged::Ack;
            }
            RequestVerdict::Nak(nak) if self.naks_sent >= self.config.max_failure => {
                //= https://www.rfc-editor.org/rfc/rfc1661#section-4.6
                //# Any further Configure-Nak packets for peer requested
                //# options are converted to Configure-Reject packets, and locally
                //# desired options are no longer appended.
                self.stats.naks_converted += 1;
                self.gave_up = true;
                let reject = nak_to_reject(request, &nak);
                if reject.is_empty() {
                    return Judged::GiveUp(b"Configuration not converging");
                }
                (code::CONFIGURE_REJECT, reject)
            }
            RequestVerdict::Nak(nak) => {
                self.naks_sent += 1;
                (code::CONFIGURE_NAK, nak)
            }
            RequestVerdict::Reject(reject) => (code::CONFIGURE_REJECT, reject),
        };
        if self.negatives_sent >= self.loop_bound() {
            return Judged::GiveUp(b"Configuration not converging");
        }
        self.negatives_sent += 1;
        Judged::Negative { code, options }
    }

    /// RCA.
    fn on_configure_ack(
        &mut self,
        now: Instant,
        input: Input<'_>,
        options: &[u8],
    ) -> Result<(), FsmError> {
        if self.configuring() {
            self.check_reply(code::CONFIGURE_ACK, input.identifier)?;
            if self.request.as_ref().is_none_or(|r| r.data != options) {
                self.stats.malformed += 1;
                return Err(FsmError::AckMismatch);
            }
            self.reply_seen = true;
            self.naks_received = 0;
            self.negatives_received = 0;
            self.protocol.on_ack(options);
        }
        self.run(now, Event::Rca, &input);
        Ok(())
    }

    /// RCN, for a Configure-Nak or Configure-Reject.
    fn on_configure_nak(
        &mut self,
        now: Instant,
        code: u8,
        input: Input<'_>,
        options: &[u8],
    ) -> Result<(), FsmError> {
        if self.configuring() {
            self.check_reply(code, input.identifier)?;
            let valid = match (&self.request, code) {
                (Some(r), code::CONFIGURE_REJECT) => is_subsequence(options, &r.data),
                _ => split_options(options).all(|o| o.is_some()),
            };
            if !valid {
                self.stats.malformed += 1;
                return Err(FsmError::BadOptions { code });
            }
            self.reply_seen = true;
            if self.negatives_received >= self.loop_bound() {
                self.give_up(now, b"Configuration not converging");
                return Ok(());
            }
            self.negatives_received += 1;
            let acceptable = if code == code::CONFIGURE_REJECT {
                self.protocol.on_reject(options)
            } else if self.naks_received >= self.config.max_failure {
                // Max-Failure, received side: stop asking for what the peer keeps refusing.
                self.stats.naks_as_rejects += 1;
                self.gave_up = true;
                self.protocol.on_reject(options)
            } else {
                self.naks_received += 1;
                self.protocol.on_nak(options);
                true
            };
            if !acceptable {
                self.give_up(now, b"Required option rejected");
                return Ok(());
            }
        }
        self.run(now, Event::Rcn, &input);
        Ok(())
    }

    /// Whether a Configure-Request of ours may be outstanding (the states where Ack, Nak and
    /// Reject are matched against it).
    fn configuring(&self) -> bool {
        matches!(
            self.state,
            State::ReqSent | State::AckRcvd | State::AckSent | State::Opened
        )
    }

    /// §5.2-5.4: the identifier must be our latest request's, not answered yet.
    fn check_reply(&mut self, code: u8, identifier: u8) -> Result<(), FsmError> {
        match &self.request {
            Some(r) if r.identifier == identifier && !self.reply_seen => Ok(()),
            _ => {
                self.stats.stale += 1;
                Err(FsmError::StaleIdentifier { code, identifier })
            }
        }
    }

    fn loop_bound(&self) -> u32 {
        self.config
            .max_failure
            .saturating_add(self.config.max_configure)
    }

    /// Abandons the negotiation: the Close event, with a Terminate-Request saying why.
    fn give_up(&mut self, now: Instant, reason: &'static [u8]) {
        self.gave_up = true;
        self.stats.gave_up += 1;
        self.set_terminate_data(reason);
        self.run(now, Event::Close, &Input::default());
    }

    /// A negotiation starts afresh.
    fn start_negotiation(&mut self) {
        self.protocol.reset();
        self.naks_sent = 0;
        self.negatives_sent = 0;
        self.naks_received = 0;
        self.negatives_received = 0;
        self.gave_up = false;
    }

    fn set_terminate_data(&mut self, data: &[u8]) {
        self.terminate_data.clear();
        self.terminate_data
            .extend_from_slice(&data[..data.len().min(MAX_TERMINATE_DATA)]);
    }

    /// Takes `event` through the table and performs the actions of its cell.
    fn run(&mut self, now: Instant, event: Event, input: &Input<'_>) {
        let from = self.state;
        let Some(cell) = table::cell(from, event) else {
            // §4.4 Illegal-Event: "No transition is taken".
            self.stats.illegal_events += 1;
            return;
        };
        if cell.note == Some('x') {
            self.stats.crossed += 1;
        }
        let retransmit = event == Event::TimeoutPlus;
        for &action in cell.actions {
            match action {
                Action::Tlu => {
                    self.gave_up = false;
                    self.push_event(LayerEvent::Up);
                }
                Action::Tld => self.push_event(LayerEvent::Down),
                Action::Tls => self.push_event(LayerEvent::Started),
                Action::Tlf => self.push_event(LayerEvent::Finished),
                Action::Irc => {
                    self.restart_count = if cell.actions.contains(&Action::Str) {
                        self.config.max_terminate
                    } else {
                        self.config.max_configure
                    };
                }
                Action::Zrc => {
                    self.restart_count = 0;
                    self.arm(now);
                }
                Action::Scr => {
                    let fresh = !matches!(from, State::ReqSent | State::AckRcvd | State::AckSent);
                    if fresh && !input.restarted {
                        self.start_negotiation();
                    }
                    self.send_configure_request(now, retransmit);
                }
                Action::Sca => {
                    if let Reply::Ack(options) = input.reply {
                        self.send(code::CONFIGURE_ACK, input.identifier, options);
                    }
                }
                Action::Scn => {
                    if let Reply::Negative { code, options } = &input.reply {
                        self.send(*code, input.identifier, options);
                    }
                }
                Action::Str => self.send_terminate_request(now, retransmit),
                Action::Sta => self.send(code::TERMINATE_ACK, input.identifier, &[]),
                Action::Scj => {
                    let identifier = self.next_identifier();
                    let rejected =
                        &input.packet[..input.packet.len().min(CODE_REJECT_MRU - HEADER_LEN)];
                    self.stats.code_rejects += 1;
                    self.send(code::CODE_REJECT, identifier, rejected);
                }
                Action::Ser => {
                    if let Reply::Echo { code, data } = &input.reply {
                        self.send(*code, input.identifier, data);
                    }
                }
            }
        }
        self.state = cell.next;
        if !self.state.restart_timer_runs() {
            //= https://www.rfc-editor.org/rfc/rfc1661#section-4.1
            //# The Restart timer is stopped when transitioning
            //# from any state where the timer is running to a state where the timer
            //# is not running.
            self.timers.stop(Timer::Restart);
        }
    }

    /// scr. A retransmission by timeout keeps the identifier if nothing changed (§5.1).
    fn send_configure_request(&mut self, now: Instant, retransmit: bool) {
        let mut options = Vec::new();
        self.protocol.build_request(&mut options);
        options.truncate(MAX_DATA);
        let same = retransmit
            && !self.reply_seen
            && self.request.as_ref().is_some_and(|r| r.data == options);
        let identifier = match &self.request {
            Some(r) if same => {
                self.stats.retransmissions += 1;
                r.identifier
            }
            _ => self.next_identifier(),
        };
        self.send(code::CONFIGURE_REQUEST, identifier, &options);
        self.request = Some(Sent {
            identifier,
            data: options,
        });
        self.reply_seen = false;
        self.restart_count = self.restart_count.saturating_sub(1);
        self.arm(now);
    }

    /// str. A retransmission by timeout keeps the identifier if the data did not change (§5.5).
    fn send_terminate_request(&mut self, now: Instant, retransmit: bool) {
        let identifier = match &self.terminate {
            Some(t) if retransmit && t.data == self.terminate_data => t.identifier,
            _ => self.next_identifier(),
        };
        let data = self.terminate_data.clone();
        self.send(code::TERMINATE_REQUEST, identifier, &data);
        self.terminate = Some(Sent { identifier, data });
        self.restart_count = self.restart_count.saturating_sub(1);
        self.arm(now);
    }

    /// (Re)starts the Restart timer.
    fn arm(&mut self, now: Instant) {
        let at = now
            .checked_add(self.config.restart)
            .or_else(|| now.checked_add(Duration::from_secs(3600)))
            .unwrap_or(now);
        self.timers.set(Timer::Restart, at);
    }

    fn next_identifier(&mut self) -> u8 {
        self.identifier = self.identifier.wrapping_add(1);
        self.identifier
    }

    /// Queues a packet: Code, Identifier, Length, Data.
    fn send(&mut self, code: u8, identifier: u8, data: &[u8]) {
        let data = &data[..data.len().min(MAX_DATA)];
        let mut packet = Vec::with_capacity(HEADER_LEN + data.len());
        let mut w = Writer::new(&mut packet);
        w.u8(code);
        w.u8(identifier);
        w.u16(u16::try_from(HEADER_LEN + data.len()).unwrap_or(u16::MAX));
        w.bytes(data);
        if self.packets.len() >= MAX_QUEUED_PACKETS {
            self.packets.pop_front();
            self.stats.queue_overflows += 1;
        }
        self.packets.push_back(packet);
        self.stats.sent += 1;
    }

    fn push_event(&mut self, event: LayerEvent) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
            self.stats.queue_overflows += 1;
        }
        self.events.push_back(event);
    }
}

/// A control packet's header, with its data and the packet itself cut at Length (octets
/// beyond it are padding, RFC 1661 §5).
struct Header<'a> {
    code: u8,
    identifier: u8,
    data: &'a [u8],
    packet: &'a [u8],
}

/// Splits a control packet, checking Length against the bytes received.
fn parse_header(packet: &[u8]) -> Result<Header<'_>, FsmError> {
    let received = packet.len();
    let mut r = Reader::new(packet);
    let (Ok(code), Ok(identifier), Ok(length)) = (r.u8(), r.u8(), r.u16()) else {
        return Err(FsmError::Truncated { received });
    };
    let len = usize::from(length);
    if len < HEADER_LEN || len > received {
        return Err(FsmError::BadLength { length, received });
    }
    Ok(Header {
        code,
        identifier,
        data: &packet[HEADER_LEN..len],
        packet: &packet[..len],
    })
}

/// The options of a list, each whole (Type, Length, Data); `None` for a malformed option (Length
/// below 2 or past the end), after which the iteration stops.
fn split_options(list: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    let mut r = Reader::new(list);
    let mut failed = false;
    core::iter::from_fn(move || {
        if failed || !r.any_left() {
            return None;
        }
        let rest = r.peek_rest();
        let len = rest.get(1).map_or(0, |&l| usize::from(l));
        match r.take(len) {
            Ok(option) if len >= 2 => Some(Some(option)),
            _ => {
                failed = true;
                Some(None)
            }
        }
    })
}

/// Whether every option of `reject` appears, unmodified and in order, in `request` (§5.4).
fn is_subsequence(reject: &[u8], request: &[u8]) -> bool {
    let mut requested = split_options(request);
    split_options(reject)
        .all(|option| option.is_some_and(|option| requested.by_ref().any(|r| r == Some(option))))
}

/// Max-Failure (§4.6): the options of `request` whose types `nak` names, verbatim, in order.
fn nak_to_reject(request: &[u8], nak: &[u8]) -> Vec<u8> {
    let mut types = [false; 256];
    for option in split_options(nak).map_while(|o| o) {
        types[usize::from(option[0])] = true;
    }
    let mut reject = Vec::new();
    for option in split_options(request).map_while(|o| o) {
        if types[usize::from(option[0])] {
            reject.extend_from_slice(option);
        }
    }
    reject
}
