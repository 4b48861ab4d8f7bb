//! The event loop around the sans-IO L2TP endpoint, in the shape of quinn's `ConnectionDriver`
//! (STYLE.md 2.5).
//!
//! One task on a current-thread runtime owns the [`Endpoint`] and its UDP socket. It sleeps in
//! `select!` on the socket, the next deadline and the signals. After every wake it calls the
//! matching `handle_*`, then drains `poll_transmit` (send) and `poll_event` (log, act) until
//! both are empty, then re-reads the deadline and re-arms the sleep only if it changed. The
//! clock is read in one place, [`now`].
//!
//! The same loop serves both roles: `sras server` (an LNS that takes tunnels and calls) and
//! `sras connect` (a LAC that opens one tunnel, places one incoming call and, on request,
//! closes both cleanly once the call is up).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sras_core::{RateLimiter, Seq16, Transmit};
use sras_l2tp::wire::ResultCode;
use sras_l2tp::{
    CallDirection, CloseReason, Endpoint, Error, Event, Received, SessionHandle, SessionId,
    TunnelHandle, TunnelId,
};
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::peek::{self, Peek};

/// How long closing waits for the peers to acknowledge our StopCCN.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(3);
/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// RFC 2661 §4.4.2 StopCCN result codes.
const STOPCCN_GENERAL_REQUEST: u16 = 1;
const STOPCCN_SHUTTING_DOWN: u16 = 6;
/// RFC 2661 §4.4.2 CDN result code 3: "Session disconnected for administrative reasons".
const CDN_ADMINISTRATIVE: u16 = 3;

/// The one function of the daemon that reads the clock (clippy.toml forbids `Instant::now`
/// elsewhere: the protocol crates take `now` from here).
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// A Result Code AVP value (RFC 2661 §4.4.2) without an error code.
fn result_code(result: u16, message: &str) -> ResultCode {
    ResultCode {
        result,
        error: None,
        message: Some(message.to_owned()),
    }
}

/// What the driver is for.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    /// `sras server`: answer tunnels and incoming calls until a signal.
    Server {
        /// Every tunnel is redirected here ("Try Another"): only logged by the driver.
        redirect: Option<IpAddr>,
    },
    /// `sras connect`: open a tunnel to `server` and place an incoming call.
    Client(ClientOptions),
}

/// Options of `sras connect`.
#[derive(Debug, Clone)]
pub(crate) struct ClientOptions {
    /// The LNS.
    pub(crate) server: SocketAddr,
    /// Close everything cleanly and finish once the session is up.
    pub(crate) exit_when_established: bool,
    /// Give up if the session is not up within this long.
    pub(crate) timeout: Duration,
}

/// How the driver finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// As asked: a signal, or the session came up with `--exit-when-established`.
    Done,
    /// Something failed; the reason, for the operator.
    Failed(String),
}

/// Our StopCCN for a tunnel, as far as the daemon can see it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Not asked to close.
    NotAsked,
    /// `close_tunnel` was called; the Ns of the StopCCN once it was seen leaving.
    Sent(Option<Seq16>),
    /// The peer's Nr covered our StopCCN.
    Acked,
}

#[derive(Debug)]
struct TunnelEntry {
    remote: SocketAddr,
    local_id: Option<TunnelId>,
    peer_id: TunnelId,
    stop: Stop,
    closed: bool,
}

#[derive(Debug)]
struct SessionEntry {
    tunnel: TunnelHandle,
    local_id: SessionId,
    peer_id: SessionId,
    frames_rx: u64,
    bytes_rx: u64,
}

#[derive(Debug)]
struct Client {
    opts: ClientOptions,
    tunnel: Option<TunnelHandle>,
    session: Option<SessionHandle>,
    establish_deadline: Instant,
    established: bool,
}

#[derive(Debug)]
struct Closing {
    deadline: Instant,
    outcome: Outcome,
}

/// Why the loop woke up.
enum Wake {
    Datagram(std::io::Result<(usize, SocketAddr)>),
    Extra(SocketAddr, Vec<u8>),
    Timer,
    Signal(&'static str),
}

/// The driver: the endpoint, its sockets, and what the daemon remembers for its logs.
pub(crate) struct Driver {
    endpoint: Endpoint,
    io: Io,
    mode: Mode,
    client: Option<Client>,
    tunnels: HashMap<TunnelHandle, TunnelEntry>,
    sessions: HashMap<SessionHandle, SessionEntry>,
    /// The Tunnel ID field of the control message being handled: our ID for its tunnel, which
    /// the `TunnelEstablished` event it may cause does not carry.
    rx_tunnel_id: Option<TunnelId>,
    closing: Option<Closing>,
    drop_log: RateLimiter,
}

impl Driver {
    /// A driver for `endpoint` on `socket`.
    pub(crate) fn new(endpoint: Endpoint, socket: UdpSocket, mode: Mode) -> std::io::Result<Self> {
        Ok(Self {
            endpoint,
            io: Io::new(socket)?,
            mode,
            client: None,
            tunnels: HashMap::new(),
            sessions: HashMap::new(),
            rx_tunnel_id: None,
            closing: None,
            drop_log: RateLimiter::new(10, Duration::from_secs(1)),
        })
    }

    /// Runs until a signal (server), or until the call is done (client).
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
        if let Err(reason) = self.start(now()) {
            return Outcome::Failed(reason);
        }
        self.flush().await;

        let mut buf = vec![0u8; MAX_DATAGRAM];
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        // The deadline a timer wake already handled: if it comes back unchanged, do not spin.
        let mut fired: Option<Instant> = None;
        loop {
            let t = now();
            self.check_deadlines(t);
            if let Some(outcome) = self.finished(t) {
                self.flush().await;
                self.log_stats();
                return outcome;
            }
            let mut deadline = self.next_deadline();
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
                r = self.io.primary.recv_from(&mut buf) => Wake::Datagram(r),
                Some((remote, data)) = self.io.extra_rx.recv() => Wake::Extra(remote, data),
                () = &mut sleep, if armed.is_some() => Wake::Timer,
                _ = sigterm.recv() => Wake::Signal("SIGTERM"),
                _ = sigint.recv() => Wake::Signal("SIGINT"),
            };

            let t = now();
            fired = None;
            match wake {
                Wake::Datagram(Ok((len, remote))) => self.on_datagram(t, remote, &buf[..len]),
                Wake::Datagram(Err(e)) => {
                    // ICMP errors from earlier sends surface here (ECONNREFUSED): not fatal.
                    if self.drop_log.check(t).is_some() {
                        debug!(error = %e, "UDP receive error");
                    }
                }
                Wake::Extra(remote, data) => self.on_datagram(t, remote, &data),
                Wake::Timer => {
                    fired = armed;
                    armed = None;
                    self.rx_tunnel_id = None;
                    self.endpoint.handle_timeout(t);
                }
                Wake::Signal(name) => self.on_signal(t, name),
            }
            self.flush().await;
        }
    }

    /// Client: open the tunnel and place the call (sent once the tunnel is up).
    fn start(&mut self, now: Instant) -> Result<(), String> {
        let Mode::Client(opts) = &self.mode else {
            return Ok(());
        };
        let opts = opts.clone();
        let tunnel = self
            .endpoint
            .connect(now, opts.server)
            .map_err(|e| format!("cannot open a tunnel to {}: {e}", opts.server))?;
        info!(server = %opts.server, "opening tunnel (SCCRQ)");
        let session = self
            .endpoint
            .open_session(now, tunnel, CallDirection::Incoming)
            .map_err(|e| format!("cannot place a call in the tunnel to {}: {e}", opts.server))?;
        self.client = Some(Client {
            establish_deadline: now + opts.timeout,
            opts,
            tunnel: Some(tunnel),
            session: Some(session),
            established: false,
        });
        Ok(())
    }

    fn on_datagram(&mut self, now: Instant, remote: SocketAddr, data: &[u8]) {
        let p = peek::peek(data);
        self.rx_tunnel_id = p.filter(|p| p.control).map(|p| p.tunnel_id);
        match self.endpoint.handle_datagram(now, remote, data) {
            Ok(Received::Control) => {
                if let Some(p) = p {
                    self.note_received(remote, &p);
                }
            }
            Ok(Received::Data { session, payload }) => {
                let len = payload.len();
                self.on_ppp_frame(session, len);
            }
            Err(e) => self.on_dropped(now, remote, &e),
        }
    }

    /// Logs redirects and notices acknowledgements of our StopCCNs.
    fn note_received(&mut self, remote: SocketAddr, p: &Peek) {
        if let (Mode::Server { redirect: Some(to) }, Some(peek::SCCRQ)) =
            (&self.mode, p.message_type)
        {
            info!(peer = %remote, to = %to, "redirecting tunnel request (StopCCN \"Try Another\")");
        }
        let Some((_, nr)) = p.ns_nr else { return };
        let found = self
            .tunnels
            .iter_mut()
            .find(|(_, t)| t.local_id == Some(p.tunnel_id) && t.remote.ip() == remote.ip());
        if let Some((&handle, entry)) = found {
            if let Stop::Sent(Some(ns)) = entry.stop {
                if peek::acknowledges(nr, ns) {
                    debug!(peer = %remote, local_tid = p.tunnel_id.0, "StopCCN acknowledged");
                    entry.stop = Stop::Acked;
                    if entry.closed {
                        self.tunnels.remove(&handle);
                    }
                }
            }
        }
    }

    /// Remembers the Ns of the StopCCNs we send, to see them acknowledged.
    fn note_transmit(&mut self, t: &Transmit) {
        let Some(p) = peek::peek(&t.payload) else {
            return;
        };
        if p.message_type != Some(peek::STOPCCN) {
            return;
        }
        let Some((ns, _)) = p.ns_nr else { return };
        for entry in self.tunnels.values_mut() {
            if entry.peer_id == p.tunnel_id && entry.remote == t.destination {
                if let Stop::NotAsked | Stop::Sent(_) = entry.stop {
                    entry.stop = Stop::Sent(Some(ns));
                }
            }
        }
    }

    fn on_ppp_frame(&mut self, session: SessionHandle, len: usize) {
        if let Some(s) = self.sessions.get_mut(&session) {
            s.frames_rx += 1;
            s.bytes_rx += len as u64;
            debug!(
                local_sid = s.local_id.0,
                len,
                frames = s.frames_rx,
                "PPP frame received (PPP is not implemented yet: dropped)"
            );
        } else {
            debug!(
                len,
                "PPP frame for a session not (yet) logged as established: dropped"
            );
        }
    }

    fn on_dropped(&mut self, now: Instant, remote: SocketAddr, e: &Error) {
        let Some(suppressed) = self.drop_log.check(now) else {
            return;
        };
        match e {
            Error::Malformed(_) | Error::WrongPeer { .. } | Error::LimitReached(_) => {
                warn!(peer = %remote, error = %e, suppressed, "datagram dropped");
            }
            _ => debug!(peer = %remote, error = %e, suppressed, "datagram dropped"),
        }
    }

    fn on_signal(&mut self, now: Instant, name: &str) {
        if let Some(c) = &mut self.closing {
            warn!(
                signal = name,
                "second signal: exiting without waiting for acknowledgements"
            );
            c.deadline = now;
            return;
        }
        info!(signal = name, "shutting down");
        match &self.client {
            Some(c) => {
                let outcome = if c.established || !c.opts.exit_when_established {
                    Outcome::Done
                } else {
                    Outcome::Failed(format!(
                        "interrupted by {name} before the session was established"
                    ))
                };
                self.close_client(now, outcome, STOPCCN_SHUTTING_DOWN, "shutting down");
            }
            None => {
                let handles: Vec<TunnelHandle> = self
                    .tunnels
                    .iter()
                    .filter(|(_, t)| !t.closed)
                    .map(|(h, _)| *h)
                    .collect();
                if !handles.is_empty() {
                    info!(
                        tunnels = handles.len(),
                        "closing tunnels (StopCCN result 6, shutting down)"
                    );
                }
                for h in handles {
                    self.close_tunnel(now, h, STOPCCN_SHUTTING_DOWN, "shutting down");
                }
                self.closing = Some(Closing {
                    deadline: now + CLOSE_GRACE,
                    outcome: Outcome::Done,
                });
            }
        }
    }

    fn close_tunnel(&mut self, now: Instant, tunnel: TunnelHandle, result: u16, message: &str) {
        match self
            .endpoint
            .close_tunnel(now, tunnel, result_code(result, message))
        {
            Ok(()) => {
                if let Some(t) = self.tunnels.get_mut(&tunnel) {
                    t.stop = Stop::Sent(None);
                }
            }
            Err(e) => debug!(error = %e, "close_tunnel refused"),
        }
    }

    /// Client: CDN for the call (if any), StopCCN for the tunnel, then wait for the ack.
    fn close_client(
        &mut self,
        now: Instant,
        outcome: Outcome,
        stop_result: u16,
        stop_message: &str,
    ) {
        let Some(c) = &self.client else { return };
        let (session, tunnel) = (c.session, c.tunnel);
        if let Some(s) = session {
            if let Err(e) =
                self.endpoint
                    .close_session(now, s, result_code(CDN_ADMINISTRATIVE, stop_message))
            {
                debug!(error = %e, "close_session refused");
            }
        }
        if let Some(t) = tunnel {
            self.close_tunnel(now, t, stop_result, stop_message);
        }
        self.closing = Some(Closing {
            deadline: now + CLOSE_GRACE,
            outcome,
        });
    }

    fn check_deadlines(&mut self, now: Instant) {
        let Some(c) = &self.client else { return };
        if !c.established && self.closing.is_none() && now >= c.establish_deadline {
            let reason = format!(
                "no session established with {} within {} s",
                c.opts.server,
                c.opts.timeout.as_secs()
            );
            warn!("{reason}");
            self.close_client(
                now,
                Outcome::Failed(reason),
                STOPCCN_GENERAL_REQUEST,
                "giving up",
            );
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let closing = self.closing.as_ref().map(|c| c.deadline);
        let establish = self
            .client
            .as_ref()
            .filter(|c| !c.established && self.closing.is_none())
            .map(|c| c.establish_deadline);
        [self.endpoint.poll_timeout(), closing, establish]
            .into_iter()
            .flatten()
            .min()
    }

    /// When closing, whether we are done: every StopCCN acknowledged, or the grace period over.
    fn finished(&mut self, now: Instant) -> Option<Outcome> {
        let c = self.closing.as_ref()?;
        let waiting = self
            .tunnels
            .values()
            .filter(|t| matches!(t.stop, Stop::Sent(_)))
            .count();
        if waiting > 0 && now < c.deadline && self.endpoint.tunnel_count() > 0 {
            return None;
        }
        if waiting > 0 && self.endpoint.tunnel_count() > 0 {
            warn!(
                tunnels = waiting,
                "StopCCN not acknowledged within {} s; exiting anyway",
                CLOSE_GRACE.as_secs()
            );
        } else {
            debug!("every StopCCN acknowledged");
        }
        self.closing.take().map(|c| c.outcome)
    }

    /// Sends what the endpoint queued and handles its events, until neither has anything.
    async fn flush(&mut self) {
        loop {
            let mut progress = false;
            while let Some(t) = self.endpoint.poll_transmit() {
                progress = true;
                self.note_transmit(&t);
                self.io.send(now(), &t).await;
            }
            while let Some(e) = self.endpoint.poll_event() {
                progress = true;
                self.on_event(now(), e);
            }
            if !progress {
                break;
            }
        }
    }

    fn on_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::TunnelEstablished {
                tunnel,
                remote,
                peer_host_name,
                peer_tunnel_id,
            } => {
                let local_id = self.rx_tunnel_id;
                info!(
                    peer = %remote,
                    peer_host = ?peer_host_name,
                    local_tid = %Id(local_id.map(|t| t.0)),
                    peer_tid = peer_tunnel_id.0,
                    "tunnel established"
                );
                self.tunnels.insert(
                    tunnel,
                    TunnelEntry {
                        remote,
                        local_id,
                        peer_id: peer_tunnel_id,
                        stop: Stop::NotAsked,
                        closed: false,
                    },
                );
            }
            Event::TunnelClosed { tunnel, reason } => {
                let entry = self.tunnels.get(&tunnel);
                info!(
                    peer = %Addr(entry.map(|t| t.remote).or_else(|| self.endpoint.tunnel_remote(tunnel))),
                    local_tid = %Id(entry.and_then(|t| t.local_id).map(|t| t.0)),
                    peer_tid = %Id(entry.map(|t| t.peer_id.0)),
                    reason = %Reason(&reason),
                    "tunnel closed"
                );
                // Keep what we need to see our own StopCCN acknowledged while closing.
                let keep = self.closing.is_some()
                    && matches!(reason, CloseReason::Local(_))
                    && entry.is_some_and(|t| matches!(t.stop, Stop::Sent(_)));
                if keep {
                    if let Some(t) = self.tunnels.get_mut(&tunnel) {
                        t.closed = true;
                    }
                } else {
                    self.tunnels.remove(&tunnel);
                }
                self.sessions.retain(|_, s| s.tunnel != tunnel);
                self.client_tunnel_closed(now, tunnel, &reason);
            }
            Event::TunnelRedirected { tunnel, to } => {
                info!(to = %to, "redirected by the server (StopCCN \"Try Another\"): opening a tunnel there");
                if let Some(t) = self.tunnels.get_mut(&tunnel) {
                    t.remote = to;
                }
            }
            Event::SessionEstablished {
                session,
                tunnel,
                info,
            } => {
                let t = self.tunnels.get(&tunnel);
                info!(
                    peer = %Addr(t.map(|t| t.remote)),
                    local_tid = %Id(t.and_then(|t| t.local_id).map(|t| t.0)),
                    peer_tid = %Id(t.map(|t| t.peer_id.0)),
                    local_sid = info.local_id.0,
                    peer_sid = info.peer_id.0,
                    call_serial = info.call_serial,
                    direction = ?info.direction,
                    "session established"
                );
                debug!(
                    local_sid = info.local_id.0,
                    tx_connect_speed = info.tx_connect_speed,
                    calling_number = ?info.calling_number,
                    called_number = ?info.called_number,
                    "session details"
                );
                let line = format!(
                    "ESTABLISHED tunnel={}/{} session={}/{}",
                    Id(t.and_then(|t| t.local_id).map(|t| t.0)),
                    Id(t.map(|t| t.peer_id.0)),
                    info.local_id.0,
                    info.peer_id.0
                );
                self.sessions.insert(
                    session,
                    SessionEntry {
                        tunnel,
                        local_id: info.local_id,
                        peer_id: info.peer_id,
                        frames_rx: 0,
                        bytes_rx: 0,
                    },
                );
                self.client_session_established(now, session, &line);
            }
            Event::SessionClosed {
                session,
                tunnel: _,
                reason,
            } => {
                let s = self.sessions.remove(&session);
                info!(
                    local_sid = %Id(s.as_ref().map(|s| s.local_id.0)),
                    peer_sid = %Id(s.as_ref().map(|s| s.peer_id.0)),
                    frames_rx = s.as_ref().map_or(0, |s| s.frames_rx),
                    bytes_rx = s.as_ref().map_or(0, |s| s.bytes_rx),
                    reason = %Reason(&reason),
                    "session closed"
                );
                self.client_session_closed(now, session, &reason);
            }
            Event::LinkInfoSet {
                session,
                send_accm,
                receive_accm,
            } => {
                let s = self.sessions.get(&session);
                debug!(
                    local_sid = %Id(s.map(|s| s.local_id.0)),
                    send_accm = format_args!("{send_accm:#010x}"),
                    receive_accm = format_args!("{receive_accm:#010x}"),
                    "Set-Link-Info received"
                );
            }
            Event::WanErrorNotified { session } => {
                let s = self.sessions.get(&session);
                info!(local_sid = %Id(s.map(|s| s.local_id.0)), "WAN-Error-Notify received");
            }
            other => debug!(event = ?other, "event"),
        }
    }

    fn client_session_established(&mut self, now: Instant, session: SessionHandle, line: &str) {
        let Some(c) = &mut self.client else { return };
        if c.session != Some(session) || c.established {
            return;
        }
        c.established = true;
        if c.opts.exit_when_established {
            println!("{line}");
            info!("closing the session and the tunnel (--exit-when-established)");
            self.close_client(now, Outcome::Done, STOPCCN_GENERAL_REQUEST, "done");
        } else {
            info!("connected; PPP is not implemented yet, so the session carries no traffic (Ctrl-C to disconnect)");
        }
    }

    fn client_session_closed(
        &mut self,
        now: Instant,
        session: SessionHandle,
        reason: &CloseReason,
    ) {
        let Some(c) = &mut self.client else { return };
        if c.session != Some(session) {
            return;
        }
        c.session = None;
        if self.closing.is_none() {
            let what = if c.established {
                "session closed"
            } else {
                "session closed before it was established"
            };
            let outcome = Outcome::Failed(format!("{what}: {}", Reason(reason)));
            self.close_client(now, outcome, STOPCCN_GENERAL_REQUEST, "call ended");
        }
    }

    fn client_tunnel_closed(&mut self, now: Instant, tunnel: TunnelHandle, reason: &CloseReason) {
        let Some(c) = &mut self.client else { return };
        if c.tunnel != Some(tunnel) {
            return;
        }
        c.tunnel = None;
        c.session = None;
        if self.closing.is_none() {
            let what = if c.established {
                "tunnel closed"
            } else {
                "tunnel closed before the session was established"
            };
            self.closing = Some(Closing {
                deadline: now,
                outcome: Outcome::Failed(format!("{what}: {}", Reason(reason))),
            });
        }
    }

    fn log_stats(&self) {
        let s = self.endpoint.stats();
        debug!(
            control_rx = s.control_rx,
            data_rx = s.data_rx,
            data_tx = s.data_tx,
            retransmits = s.retransmits,
            duplicates = s.duplicates,
            malformed = s.malformed,
            bad_version = s.bad_version,
            unknown_id = s.unknown_id,
            wrong_peer = s.wrong_peer,
            out_of_window = s.out_of_window,
            limited = s.limited,
            "endpoint counters"
        );
    }
}

/// An optional number in a log line: `?` when unknown.
struct Id(Option<u16>);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("?"),
        }
    }
}

/// An optional address in a log line.
struct Addr(Option<SocketAddr>);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("?"),
        }
    }
}

/// A close reason for the log (peer-supplied text is escaped).
struct Reason<'a>(&'a CloseReason);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            CloseReason::Peer(rc) => write!(f, "closed by the peer ({})", Rc(rc)),
            CloseReason::Local(rc) => write!(f, "closed by us ({})", Rc(rc)),
            CloseReason::Timeout => f.write_str("peer unreachable (retransmissions exhausted)"),
            CloseReason::TunnelClosed => f.write_str("its tunnel closed"),
            CloseReason::TieBreakerLost => f.write_str("lost the tie-breaker to the peer's tunnel"),
            other => write!(f, "{other:?}"),
        }
    }
}

struct Rc<'a>(&'a ResultCode);

impl fmt::Display for Rc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "result {}", self.0.result)?;
        if let Some(e) = self.0.error {
            write!(f, ", error {e}")?;
        }
        if let Some(m) = &self.0.message {
            write!(f, ", {m:?}")?;
        }
        Ok(())
    }
}

/// The sockets: the one the endpoint listens on, plus any bound on demand for a
/// [`Transmit::source`] that names another local address (RFC 3193 §4 port float).
struct Io {
    primary: UdpSocket,
    local: SocketAddr,
    extra: HashMap<SocketAddr, Arc<UdpSocket>>,
    unusable: HashSet<SocketAddr>,
    extra_tx: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    extra_rx: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
    send_log: RateLimiter,
}

impl Io {
    fn new(primary: UdpSocket) -> std::io::Result<Self> {
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
    fn is_primary(&self, src: SocketAddr) -> bool {
        src == self.local
            || (src.port() == self.local.port()
                && (src.ip().is_unspecified() || self.local.ip().is_unspecified()))
    }

    async fn send(&mut self, now: Instant, t: &Transmit) {
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

    /// The socket bound to `src`, binding it (and starting its receive task) on first use.
    fn extra_socket(&mut self, src: SocketAddr) -> Option<Arc<UdpSocket>> {
        if let Some(s) = self.extra.get(&src) {
            return Some(Arc::clone(s));
        }
        if self.unusable.contains(&src) {
            return None;
        }
        let bound = std::net::UdpSocket::bind(src).and_then(|s| {
            s.set_nonblocking(true)?;
            UdpSocket::from_std(s)
        });
        match bound {
            Ok(s) => {
                let s = Arc::new(s);
                info!(local = %src, "bound an extra UDP socket to send from a floated local address");
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
                Some(s)
            }
            Err(e) => {
                warn!(local = %src, fallback = %self.local, error = %e, "cannot send from this local address; using the listening socket");
                self.unusable.insert(src);
                None
            }
        }
    }
}
