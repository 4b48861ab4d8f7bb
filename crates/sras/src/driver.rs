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
//! closes both cleanly once the call is up). Closing, in either role, sends the StopCCNs and
//! keeps driving until the endpoint is quiescent (every StopCCN acknowledged) or
//! [`CLOSE_GRACE`] has passed.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sras_core::{RateLimiter, Transmit};
use sras_l2tp::wire::{self, MessageType, ResultCode};
use sras_l2tp::{
    CallDirection, CloseReason, Endpoint, Error, Event, Received, SessionHandle, SessionId,
    TunnelHandle, TunnelId,
};
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// How long closing waits for the peers to acknowledge our StopCCNs.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(3);
/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// The one function of the daemon that reads the clock (clippy.toml forbids `Instant::now`
/// elsewhere: the protocol crates take `now` from here).
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// A Result Code AVP value (RFC 2661 §4.4.2) without an error code.
fn result_code(result: u16, message: &str) -> ResultCode {
    ResultCode::new(result, None, Some(message))
}

/// What the driver is for.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    /// `sras server`: answer tunnels and incoming calls until a signal.
    Server {
        /// Every tunnel request is redirected here ("Try Another"): the driver only logs it.
        redirect: Option<std::net::IpAddr>,
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

/// What the daemon remembers of a tunnel for its logs.
#[derive(Debug)]
struct TunnelEntry {
    remote: SocketAddr,
    local_id: TunnelId,
    peer_id: TunnelId,
}

/// What the daemon remembers of a session for its logs.
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
            closing: None,
            drop_log: RateLimiter::new(10, Duration::from_secs(1)),
        })
    }

    /// Binds the extra socket for `source` now, so that a bad `l2tp.float_source` fails at
    /// start-up rather than at the first tunnel.
    pub(crate) fn bind_source(&mut self, source: SocketAddr) -> Result<(), String> {
        if self.io.is_primary(source) {
            return Ok(());
        }
        self.io
            .bind_extra(source)
            .map(|_| ())
            .map_err(|e| format!("cannot bind UDP {source} (l2tp.float_source): {e}"))
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
            self.flush().await;
            if let Some(outcome) = self.finished(t) {
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
        match self.endpoint.handle_datagram(now, remote, data) {
            Ok(Received::Control) => {
                if let Mode::Server { redirect: Some(to) } = &self.mode {
                    // The endpoint answers with StopCCN "Try Another" and reports nothing.
                    if is_sccrq(data) {
                        info!(peer = %remote, to = %to, "tunnel request redirected (StopCCN \"Try Another\")");
                    }
                }
            }
            Ok(Received::Data { session, payload }) => {
                let len = payload.len();
                self.on_ppp_frame(session, len);
            }
            Err(e) => self.on_dropped(now, remote, &e),
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
                "PPP frame for a session not logged as established: dropped"
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
                self.close_client(now, outcome, wire::result::SHUTTING_DOWN, "shutting down");
            }
            None => {
                let tunnels = self.endpoint.tunnel_count();
                if tunnels > 0 {
                    info!(
                        tunnels,
                        "closing every tunnel (StopCCN result 6, shutting down)"
                    );
                }
                self.endpoint.close_all(now);
                self.closing = Some(Closing {
                    deadline: now + CLOSE_GRACE,
                    outcome: Outcome::Done,
                });
            }
        }
    }

    /// Client: CDN for the call (if any), StopCCN for the tunnel, then wait for the acks.
    fn close_client(&mut self, now: Instant, outcome: Outcome, stop_result: u16, message: &str) {
        let Some(c) = &self.client else { return };
        let (session, tunnel) = (c.session, c.tunnel);
        if let Some(s) = session {
            let rc = result_code(wire::result::ADMINISTRATIVE, message);
            if let Err(e) = self.endpoint.close_session(now, s, rc) {
                debug!(error = %e, "close_session refused");
            }
        }
        if let Some(t) = tunnel {
            if let Err(e) = self
                .endpoint
                .close_tunnel(now, t, result_code(stop_result, message))
            {
                debug!(error = %e, "close_tunnel refused");
            }
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
            self.close_client(
                now,
                Outcome::Failed(reason),
                wire::result::GENERAL_REQUEST,
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
        let quiescent = self.endpoint.is_quiescent();
        if !quiescent && now < c.deadline {
            return None;
        }
        if quiescent {
            debug!("every StopCCN acknowledged");
        } else {
            warn!(
                "StopCCN not acknowledged within {} s; exiting anyway",
                CLOSE_GRACE.as_secs()
            );
        }
        self.closing.take().map(|c| c.outcome)
    }

    /// Sends what the endpoint queued and handles its events, until neither has anything.
    async fn flush(&mut self) {
        loop {
            let mut progress = false;
            while let Some(t) = self.endpoint.poll_transmit() {
                progress = true;
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
                let (local_id, peer_id) = self
                    .endpoint
                    .tunnel_ids(tunnel)
                    .unwrap_or((TunnelId(0), peer_tunnel_id));
                info!(
                    peer = %remote,
                    peer_host = ?peer_host_name,
                    local_tid = local_id.0,
                    peer_tid = peer_id.0,
                    "tunnel established"
                );
                self.tunnels.insert(
                    tunnel,
                    TunnelEntry {
                        remote,
                        local_id,
                        peer_id,
                    },
                );
            }
            Event::TunnelClosed { tunnel, reason } => {
                let entry = self.tunnels.remove(&tunnel);
                let ids = entry
                    .as_ref()
                    .map(|t| (t.local_id, t.peer_id))
                    .or_else(|| self.endpoint.tunnel_ids(tunnel));
                // A tunnel that never came up is only known to the client, by its server.
                let client_server = self
                    .client
                    .as_ref()
                    .filter(|c| c.tunnel == Some(tunnel))
                    .map(|c| c.opts.server);
                let remote = entry
                    .as_ref()
                    .map(|t| t.remote)
                    .or_else(|| self.endpoint.tunnel_remote(tunnel))
                    .or(client_server);
                info!(
                    peer = %Addr(remote),
                    local_tid = %Id(ids.map(|i| i.0 .0)),
                    peer_tid = %Id(ids.map(|i| i.1 .0)),
                    reason = %Reason(&reason),
                    "tunnel closed"
                );
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
                let tids = t
                    .map(|t| (t.local_id, t.peer_id))
                    .or_else(|| self.endpoint.tunnel_ids(tunnel));
                info!(
                    peer = %Addr(t.map(|t| t.remote).or_else(|| self.endpoint.tunnel_remote(tunnel))),
                    local_tid = %Id(tids.map(|i| i.0 .0)),
                    peer_tid = %Id(tids.map(|i| i.1 .0)),
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
                    Id(tids.map(|i| i.0 .0)),
                    Id(tids.map(|i| i.1 .0)),
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
                let ids = s
                    .as_ref()
                    .map(|s| (s.local_id, s.peer_id))
                    .or_else(|| self.endpoint.session_ids(session));
                info!(
                    local_sid = %Id(ids.map(|i| i.0 .0)),
                    peer_sid = %Id(ids.map(|i| i.1 .0).filter(|&p| p != 0)),
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
            self.close_client(now, Outcome::Done, wire::result::GENERAL_REQUEST, "done");
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
        // Closed with its tunnel: the TunnelClosed event that follows says why.
        if self.closing.is_none() && !matches!(reason, CloseReason::TunnelClosed) {
            let what = if c.established {
                "session closed"
            } else {
                "session closed before it was established"
            };
            let outcome = Outcome::Failed(format!("{what}: {}", Reason(reason)));
            self.close_client(now, outcome, wire::result::GENERAL_REQUEST, "call ended");
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
            // Nothing left to close: finish once the endpoint has acknowledged what it must.
            self.closing = Some(Closing {
                deadline: now + CLOSE_GRACE,
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

/// Whether `datagram` is an SCCRQ (only for the redirect log line).
fn is_sccrq(datagram: &[u8]) -> bool {
    match wire::Header::parse(datagram) {
        Ok((h, body)) => {
            h.control
                && datagram
                    .get(body)
                    .and_then(wire::peek_message_type)
                    .is_some_and(|m| m == MessageType::Sccrq)
        }
        Err(_) => false,
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

/// A Result Code AVP for the log.
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

/// The sockets: the one the endpoint listens on, plus any bound for a [`Transmit::source`]
/// that names another local address (RFC 3193 §4 port float), each with a receive task.
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
    fn bind_extra(&mut self, src: SocketAddr) -> std::io::Result<Arc<UdpSocket>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sccrq_is_recognized() {
        // T, L, S, version 2; length 20; tunnel 0, session 0; Ns 0, Nr 0; Message Type AVP = 1.
        let sccrq = [
            0xc8, 0x02, 0x00, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x08, 0, 0, 0, 0, 0x00, 0x01,
        ];
        assert!(is_sccrq(&sccrq));
        let mut stopccn = sccrq;
        stopccn[19] = 4;
        assert!(!is_sccrq(&stopccn));
        assert!(!is_sccrq(&sccrq[..12]));
        assert!(!is_sccrq(&[0x00, 0x02, 0, 1, 0, 1, 0xff, 0x03]));
    }
}
