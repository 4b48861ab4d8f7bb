//! The event loop around the sans-IO L2TP endpoint and the PPP links in its sessions, in the
//! shape of quinn's `ConnectionDriver` (STYLE.md 2.5).
//!
//! One task on a current-thread runtime owns the [`Endpoint`], its UDP socket and one
//! [`sras_ppp::Link`] per established session. It sleeps in `select!` on the socket, the next
//! deadline (the earliest of the endpoint's, every link's and the client's own) and the
//! signals. After every wake it calls the matching `handle_*`, then drains the links
//! (`poll_transmit` frames go out through [`Endpoint::encapsulate`], `poll_event` is logged and
//! acted on) and the endpoint (`poll_transmit`, `poll_event`) until nothing moves, then re-reads
//! the deadline and re-arms the sleep only if it changed. The clock is read in one place, [`now`].
//!
//! The same loop serves both roles: `sras server` (an LNS that takes tunnels and calls and runs
//! the PPP server in each: authentication against the local users, an address from the pool)
//! and `sras connect` (a LAC that opens one tunnel, places one incoming call, logs in over PPP,
//! pings the server and, on request, closes everything cleanly). Closing, in either role, sends
//! the StopCCNs and keeps driving until the endpoint is quiescent (every StopCCN acknowledged)
//! or [`CLOSE_GRACE`] has passed.
//!
//! Modules: [`l2tp`] (endpoint events), [`ppp`] (links, authentication, the ICMP echo
//! responder, the client's pings), [`io`] (sockets); [`ike`] is the separate loop of
//! `sras ike` around the IKEv1 endpoint.

mod control;
pub(crate) mod ike;
mod io;
mod l2tp;
mod ppp;
mod sec;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sras_core::{RateLimiter, Transmit};
use sras_l2tp::wire::{self, ResultCode};
use sras_l2tp::{
    CallDirection, Endpoint, Error, Received, SessionHandle, SessionId, TunnelHandle, TunnelId,
};
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{debug, info, warn};

use self::io::Io;
use self::l2tp::is_sccrq;
pub(crate) use self::ppp::PppSetup;
pub(crate) use self::sec::SecSetup;

/// How long closing waits for the peers to acknowledge our StopCCNs.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(3);
/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;
/// Where a packet read from the TUN device starts in its buffer: room before it for the PPP
/// header, the largest L2TP data header and the IP/UDP/ESP headers, so that it is framed,
/// encapsulated and sealed in place (no copy, no allocation).
const TUN_OFFSET: usize =
    sras_stack::HEADROOM + sras_l2tp::DATA_HEADER_MAX + sras_ppp::PPP_HEADER_LEN;
/// Datagrams or packets read from one data socket (or the TUN device) per wake-up.
const BATCH: usize = 64;
/// A TUN packet's buffer: the offset, the largest packet, and room after it for the ESP trailer.
const TUN_BUF: usize = TUN_OFFSET + MAX_DATAGRAM + sras_stack::TAILROOM;

/// The one function of the daemon that reads the clock (clippy.toml forbids `Instant::now`
/// elsewhere: the protocol crates take `now` from here).
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// The wall clock in seconds since the Unix epoch, read once at start-up for the IKE endpoint's
/// certificate validity checks (`set_unix_time`; the endpoint advances it with `now`).
#[allow(clippy::disallowed_methods)]
pub(crate) fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
    /// Once the PPP link is up and the pings are done, close everything cleanly and finish
    /// (successfully if a ping was answered).
    pub(crate) exit_when_established: bool,
    /// Give up if the PPP link is not up within this long.
    pub(crate) timeout: Duration,
}

/// How the driver finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// As asked: a signal, or the link came up and a ping was answered with
    /// `--exit-when-established`.
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
    /// The daemon's number for it (`sras sessions`, `sras disconnect ID`), never reused.
    id: u64,
    /// When it was established.
    since: Instant,
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
    /// When to give up if PPP is not up.
    establish_deadline: Instant,
    /// The L2TP session is established.
    established: bool,
    /// The PPP link is up (IPCP opened).
    ppp_up: bool,
    /// The pings, once the link is up.
    ping: Option<ppp::Ping>,
    /// We closed the PPP link (LCP Terminate-Request) and wait for it to finish before CDN and
    /// StopCCN: the outcome to finish with, and how long to wait.
    ppp_closing: Option<Closing>,
}

#[derive(Debug)]
struct Closing {
    deadline: Instant,
    outcome: Outcome,
}

/// Why the loop woke up.
enum Wake {
    Datagram(std::io::Result<(usize, SocketAddr)>),
    Ike(std::io::Result<(usize, SocketAddr)>),
    Natt(std::io::Result<(usize, SocketAddr)>),
    RawEsp(std::io::Result<(usize, std::net::Ipv4Addr)>),
    Icmp(std::io::Result<(usize, std::net::Ipv4Addr)>),
    Tun(std::io::Result<usize>),
    Extra(SocketAddr, Vec<u8>),
    Control(crate::control::Request),
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
    /// The PPP links and what they need (users, pool, RNG).
    ppp: ppp::Ppp,
    /// Data messages ready to send (PPP frames already in their L2TP header).
    out: VecDeque<Transmit>,
    /// IPsec under L2TP (`[ike]`), if configured.
    sec: Option<sec::Sec>,
    /// L2TP outside IPsec is accepted and sent (`l2tp.plain`).
    plain: bool,
    /// The TUN device, once there is one.
    tun: Option<crate::tun::Tun>,
    /// How to create it (the client creates it when PPP is up, with its address).
    tun_plan: Option<TunPlan>,
    /// The control socket (`sras sessions`, `sras disconnect`), server only.
    control: Option<crate::control::Control>,
    /// The last session number given.
    last_session_id: u64,
    /// Tunnels to close once their last session is gone (`sras disconnect`).
    close_when_empty: Vec<TunnelHandle>,
}

/// The `[tun]` settings the driver creates its device from.
#[derive(Debug, Clone)]
pub(crate) struct TunPlan {
    /// Interface name (may hold `%d`).
    pub(crate) name: String,
    /// MTU.
    pub(crate) mtu: u16,
    /// Routes into the device (client: `tun.routes`; server: the pool).
    pub(crate) routes: Vec<(std::net::Ipv4Addr, u8)>,
    /// IPv6 routes (client: `tun.routes`, once IPv6 is up; server: `ppp.ipv6_prefix`).
    pub(crate) routes6: Vec<(std::net::Ipv6Addr, u8)>,
    /// Server: our IPv6 address on the device.
    pub(crate) address6: Option<std::net::Ipv6Addr>,
}

/// The next control request; never ready without a control socket.
async fn recv_control(c: Option<&mut crate::control::Control>) -> Option<crate::control::Request> {
    match c {
        Some(c) => c.recv().await,
        None => std::future::pending().await,
    }
}

/// Receives on an optional UDP socket; never ready without one.
async fn recv_opt(s: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match s {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// Receives on the raw ESP socket if there is one.
async fn recv_raw(
    s: Option<&crate::rawesp::RawEsp>,
    buf: &mut [u8],
) -> std::io::Result<(usize, std::net::Ipv4Addr)> {
    match s {
        Some(s) => s.recv(buf).await,
        None => std::future::pending().await,
    }
}

/// Reads the TUN device if there is one.
async fn recv_tun(t: Option<&crate::tun::Tun>, buf: &mut [u8]) -> std::io::Result<usize> {
    match t {
        Some(t) => t.recv(buf).await,
        None => std::future::pending().await,
    }
}

impl Driver {
    /// A driver for `endpoint` on `socket`.
    pub(crate) fn new(
        endpoint: Endpoint,
        socket: UdpSocket,
        mode: Mode,
        ppp: PppSetup,
    ) -> std::io::Result<Self> {
        Ok(Self {
            endpoint,
            io: Io::new(socket)?,
            mode,
            client: None,
            tunnels: HashMap::new(),
            sessions: HashMap::new(),
            closing: None,
            drop_log: RateLimiter::new(10, Duration::from_secs(1)),
            ppp: ppp::Ppp::new(ppp),
            out: VecDeque::new(),
            sec: None,
            plain: true,
            tun: None,
            tun_plan: None,
            control: None,
            last_session_id: 0,
            close_when_empty: Vec::new(),
        })
    }

    /// Puts IPsec under L2TP: binds the IKE, NAT-T and raw ESP sockets. With `plain` false,
    /// L2TP outside IPsec is neither accepted nor sent.
    pub(crate) async fn with_ipsec(mut self, setup: SecSetup, plain: bool) -> Result<Self, String> {
        self.sec = Some(sec::Sec::bind(setup).await?);
        self.plain = plain;
        Ok(self)
    }

    /// Creates the TUN device now (server: with `local`, our PPP address, and routes for the
    /// pool) or, with `local` None, when the client's PPP link is up.
    pub(crate) fn with_tun(
        mut self,
        plan: TunPlan,
        local: Option<std::net::Ipv4Addr>,
    ) -> Result<Self, String> {
        if let Some(addr) = local {
            let setup = crate::tun::TunSetup {
                name: plan.name.clone(),
                mtu: plan.mtu,
                address: Some(addr),
                peer: None,
                routes: plan.routes.clone(),
                address6: plan.address6,
                routes6: plan.routes6.clone(),
            };
            let tun = crate::tun::Tun::create(&setup).map_err(|e| {
                format!("cannot create the TUN device {:?} (tun.name; needs root or CAP_NET_ADMIN and /dev/net/tun; tun.enabled = false runs without one): {e}", plan.name)
            })?;
            info!(device = tun.name(), address = %addr, mtu = plan.mtu, routes = ?plan.routes, address6 = ?plan.address6, routes6 = ?plan.routes6, "TUN device up");
            self.tun = Some(tun);
        }
        self.tun_plan = Some(plan);
        Ok(self)
    }

    /// Listens on the control socket at `path` (must run inside the runtime).
    pub(crate) fn listen_control(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.control = Some(crate::control::Control::bind(path)?);
        Ok(())
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
        let mut buf_ike = vec![0u8; MAX_DATAGRAM];
        let mut buf_natt = vec![0u8; MAX_DATAGRAM];
        let mut buf_raw = vec![0u8; MAX_DATAGRAM];
        let mut buf_tun = vec![0u8; TUN_BUF];
        let mut buf_icmp = vec![0u8; 1500];
        // Datagrams after the first of a burst come in batches (recvmmsg).
        let mut rx_batch = crate::mmsg::RecvBatch::new();
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
                // The L2TP side is closed: now the IPsec SAs, with Deletes to every peer.
                self.sec_close_all(t);
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

            let plain = self.plain;
            let wake = tokio::select! {
                r = self.io.primary.recv_from(&mut buf), if plain => Wake::Datagram(r),
                r = recv_opt(self.sec.as_ref().map(|s| &s.ike), &mut buf_ike) => Wake::Ike(r),
                r = recv_opt(self.sec.as_ref().map(|s| &s.natt), &mut buf_natt) => Wake::Natt(r),
                r = recv_raw(self.sec.as_ref().and_then(|s| s.raw.as_ref()), &mut buf_raw) => Wake::RawEsp(r),
                r = recv_raw(self.sec.as_ref().and_then(|s| s.icmp.as_ref()), &mut buf_icmp) => Wake::Icmp(r),
                r = recv_tun(self.tun.as_ref(), &mut buf_tun[TUN_OFFSET..TUN_OFFSET + MAX_DATAGRAM]) => Wake::Tun(r),
                Some((remote, data)) = self.io.extra_rx.recv() => Wake::Extra(remote, data),
                Some(r) = recv_control(self.control.as_mut()) => Wake::Control(r),
                () = &mut sleep, if armed.is_some() => Wake::Timer,
                _ = sigterm.recv() => Wake::Signal("SIGTERM"),
                _ = sigint.recv() => Wake::Signal("SIGINT"),
            };

            let t = now();
            fired = None;
            match wake {
                Wake::Datagram(Ok((len, remote))) => self.on_datagram(t, remote, &buf[..len]),
                Wake::Ike(Ok((len, remote))) => {
                    self.on_ike_datagram(t, false, remote, &mut buf_ike[..len]);
                }
                // The data sockets are drained (up to BATCH datagrams) before the loop goes
                // back to select!: one wake-up and one flush per burst, not per packet.
                Wake::Natt(Ok((len, remote))) => {
                    self.on_ike_datagram(t, true, remote, &mut buf_natt[..len]);
                    let fd = self.sec.as_ref().map(|s| {
                        use std::os::fd::AsRawFd;
                        s.natt.as_raw_fd()
                    });
                    for _ in 0..BATCH / crate::mmsg::BATCH {
                        let Some(Ok(n)) = fd.map(|fd| rx_batch.recv(fd)) else {
                            break;
                        };
                        for i in 0..n {
                            let (bytes, from) = rx_batch.get_mut(i);
                            if !bytes.is_empty() {
                                self.on_ike_datagram(t, true, from, bytes);
                            }
                        }
                        if n < crate::mmsg::BATCH {
                            break;
                        }
                    }
                }
                Wake::RawEsp(Ok((len, _))) => {
                    self.on_raw_esp(t, &mut buf_raw[..len]);
                    let fd = self
                        .sec
                        .as_ref()
                        .and_then(|s| s.raw.as_ref())
                        .map(crate::rawesp::RawEsp::raw_fd);
                    for _ in 0..BATCH / crate::mmsg::BATCH {
                        let Some(Ok(n)) = fd.map(|fd| rx_batch.recv(fd)) else {
                            break;
                        };
                        for i in 0..n {
                            let (bytes, _) = rx_batch.get_mut(i);
                            if !bytes.is_empty() {
                                self.on_raw_esp(t, bytes);
                            }
                        }
                        if n < crate::mmsg::BATCH {
                            break;
                        }
                    }
                }
                Wake::Tun(Ok(len)) => {
                    self.on_tun_packet(t, &mut buf_tun, TUN_OFFSET..TUN_OFFSET + len);
                    for _ in 1..BATCH {
                        let Some(r) = self.tun.as_ref().map(|d| {
                            d.try_recv(&mut buf_tun[TUN_OFFSET..TUN_OFFSET + MAX_DATAGRAM])
                        }) else {
                            break;
                        };
                        let Ok(len) = r else { break };
                        self.on_tun_packet(t, &mut buf_tun, TUN_OFFSET..TUN_OFFSET + len);
                    }
                }
                Wake::Icmp(Ok((len, _))) => self.on_icmp(&buf_icmp[..len]),
                Wake::Datagram(Err(e))
                | Wake::Icmp(Err(e))
                | Wake::Ike(Err(e))
                | Wake::Natt(Err(e))
                | Wake::RawEsp(Err(e))
                | Wake::Tun(Err(e)) => {
                    // ICMP errors from earlier sends surface here (ECONNREFUSED): not fatal.
                    if self.drop_log.check(t).is_some() {
                        debug!(error = %e, "UDP receive error");
                    }
                }
                Wake::Extra(remote, data) => self.on_datagram(t, remote, &data),
                Wake::Control(r) => self.on_control(t, r),
                Wake::Timer => {
                    fired = armed;
                    armed = None;
                    self.endpoint.handle_timeout(t);
                    if let Some(sec) = self.sec.as_mut() {
                        sec.ipsec.handle_timeout(t);
                    }
                    self.links_timeout(t);
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
        if let Some(sec) = self.sec.as_mut() {
            // IKE first; the tunnel opens when IPsec is up (client_ipsec_up).
            let ike_port = sec.local_for(opts.server.ip(), false).port();
            let remote = SocketAddr::new(opts.server.ip(), ike_port);
            let local = sec.local_for(opts.server.ip(), false);
            sec.ipsec.connect(now, local, remote);
            info!(server = %remote, %local, "IKE connecting (Main Mode, then Quick Mode for L2TP: UDP/1701, transport mode)");
            self.client = Some(Client {
                establish_deadline: now + opts.timeout,
                opts,
                tunnel: None,
                session: None,
                established: false,
                ppp_up: false,
                ping: None,
                ppp_closing: None,
            });
            return Ok(());
        }
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
            ppp_up: false,
            ping: None,
            ppp_closing: None,
        });
        Ok(())
    }

    /// A datagram on the plain L2TP socket (only read with `l2tp.plain`).
    fn on_datagram(&mut self, now: Instant, remote: SocketAddr, data: &[u8]) {
        if self.is_ipsec_peer(remote) {
            // Seed 001 §3.3: a peer whose tunnels IPsec protects never talks in the clear.
            if let Some(suppressed) = self.drop_log.check(now) {
                warn!(peer = %remote, suppressed, "cleartext L2TP from an IPsec peer dropped");
            }
            return;
        }
        self.on_l2tp(now, remote, data);
    }

    /// An L2TP datagram from `remote` (a peer key when it came through IPsec).
    fn on_l2tp(&mut self, now: Instant, remote: SocketAddr, data: &[u8]) {
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
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.frames_rx += 1;
                    s.bytes_rx += payload.len() as u64;
                }
                self.on_ppp_frame(now, session, payload);
            }
            Err(e) => self.on_dropped(now, remote, &e),
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
        if let Some(c) = self.client.as_mut().filter(|c| c.ppp_closing.is_some()) {
            // Second signal while waiting for the Terminate-Ack: end the call now.
            let outcome = c.ppp_closing.take().map_or(Outcome::Done, |pc| pc.outcome);
            self.close_client(now, outcome, wire::result::SHUTTING_DOWN, "shutting down");
            return;
        }
        info!(signal = name, "shutting down");
        match &mut self.client {
            Some(c) if c.ppp_up && c.session.is_some() => {
                // The PPP link first (LCP Terminate-Request), the call and the tunnel once the
                // peer acknowledged it (client_link_down) or CLOSE_GRACE passed (client_timers):
                // a CDN right behind the Terminate-Request makes the peer's pppd resend it
                // after the SAs are gone, in the clear.
                c.ping = None;
                c.ppp_closing = Some(Closing {
                    deadline: now + CLOSE_GRACE,
                    outcome: Outcome::Done,
                });
                self.close_links(now, "shutting down");
            }
            Some(c) => {
                let outcome = if c.ppp_up || !c.opts.exit_when_established {
                    Outcome::Done
                } else {
                    Outcome::Failed(format!("interrupted by {name} before the PPP link was up"))
                };
                self.close_links(now, "shutting down");
                self.close_client(now, outcome, wire::result::SHUTTING_DOWN, "shutting down");
            }
            None => {
                // LCP Terminate-Requests first, so that they leave before the CDNs and StopCCNs.
                self.close_links(now, "shutting down");
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

    /// Client: LCP Terminate-Request (if the link is still there), CDN for the call (if any),
    /// StopCCN for the tunnel, then wait for the acks.
    fn close_client(&mut self, now: Instant, outcome: Outcome, stop_result: u16, message: &str) {
        let Some(c) = &mut self.client else { return };
        let (session, tunnel) = (c.session, c.tunnel);
        c.ping = None;
        c.ppp_closing = None;
        // Closing first: a link that ends at once reports LinkDown, which must not close again.
        self.closing = Some(Closing {
            deadline: now + CLOSE_GRACE,
            outcome,
        });
        if let Some(s) = session {
            self.close_link(now, s, message);
            // The Terminate-Request goes into the session while it is still established.
            self.pump_links(now);
        }
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
    }

    fn check_deadlines(&mut self, now: Instant) {
        self.client_timers(now);
        self.sec_timers(now);
        let Some(c) = &self.client else { return };
        if !c.ppp_up && self.closing.is_none() && now >= c.establish_deadline {
            let what = if c.established {
                "L2TP session up, but no PPP link"
            } else {
                "no session established"
            };
            let reason = format!(
                "{what} with {} within {} s",
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

    /// Client: IPsec to the server is up: open the tunnel to the peer key and place the call.
    fn client_ipsec_up(&mut self, now: Instant, peer: SocketAddr) {
        let Some(c) = &self.client else { return };
        if c.tunnel.is_some() || self.closing.is_some() {
            return;
        }
        let tunnel = match self.endpoint.connect(now, peer) {
            Ok(t) => t,
            Err(e) => {
                warn!(error = %e, "cannot open the L2TP tunnel");
                return;
            }
        };
        info!(server = %peer, "opening tunnel (SCCRQ) through IPsec");
        let session = self
            .endpoint
            .open_session(now, tunnel, CallDirection::Incoming)
            .ok();
        if let Some(c) = &mut self.client {
            c.tunnel = Some(tunnel);
            c.session = session;
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let closing = self.closing.as_ref().map(|c| c.deadline);
        let establish = self
            .client
            .as_ref()
            .filter(|c| !c.ppp_up && self.closing.is_none())
            .map(|c| c.establish_deadline);
        [
            self.endpoint.poll_timeout(),
            closing,
            establish,
            self.links_deadline(),
            self.client_deadline(),
            self.sec_deadline(),
        ]
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

    /// Drains the links (their frames into [`Driver::out`], their events acted on), sends the
    /// data messages and what the endpoint queued, and handles the endpoint's events, until
    /// nothing moves. Data messages go first: a link's LCP Terminate-Request leaves before the
    /// CDN that follows it.
    async fn flush(&mut self) {
        loop {
            let mut progress = false;
            self.pump_links(now());
            while let Some(t) = self.out.pop_front() {
                progress = true;
                self.send_l2tp(now(), &t).await;
            }
            while let Some(t) = self.endpoint.poll_transmit() {
                progress = true;
                self.send_l2tp(now(), &t).await;
            }
            self.flush_batches(now());
            if self.send_backlog(now()).await {
                progress = true;
            }
            if self.pump_sec(now()).await {
                progress = true;
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
