//! The whole exchange in memory, as the daemon composes it: IKE (Main Mode, Quick Mode), ESP in
//! UDP/4500, the L2TP tunnel and call through it, PPP (LCP, MS-CHAPv2, IPCP) in the call, then
//! an ICMP echo from the client to the server's PPP address and its reply; then the client's
//! disconnect (LCP Terminate, CDN, StopCCN) and the SAs deleted on both sides (seed 001 §3.1).
//! Over a seeded lossy network with a virtual clock: deterministic, and milliseconds of wall time.
#![allow(missing_docs)]

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sras_core::Transmit;
use sras_ike::{PeerSelector, PskEntry};
use sras_l2tp::{CallDirection, Received, SessionHandle};
use sras_ppp::{AuthMethod, Link, LinkConfig as PppConfig, Role, Verdict};
use sras_stack::{Destination, Event, Ipsec, HEADROOM, TAILROOM};
use sras_testkit::{LinkConfig, Network, Node};

const SERVER: &str = "192.0.2.1";
const CLIENT: &str = "192.0.2.3";
const SERVER_PPP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const CLIENT_PPP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const USER: &str = "alice";
const PASSWORD: &str = "wonder land 7";
const ECHO_ID: u16 = 0x5151;
const ECHO_DATA: &[u8] = b"sras full exchange";

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

fn ike_config() -> sras_ike::Config {
    sras_ike::Config {
        psk: vec![PskEntry {
            peer: PeerSelector::Any,
            secret: zeroize::Zeroizing::new(b"full-exchange-psk".to_vec()),
        }],
        // The test network carries UDP only: ESP goes in UDP/4500 even without a NAT.
        force_encapsulation: true,
        ..sras_ike::Config::default()
    }
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet carrying the ICMP message `icmp` (its checksum is filled in here).
fn ipv4_icmp(src: Ipv4Addr, dst: Ipv4Addr, mut icmp: Vec<u8>) -> Vec<u8> {
    icmp[2..4].fill(0);
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, 1, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let c = checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&icmp);
    p
}

fn echo(kind: u8, src: Ipv4Addr, dst: Ipv4Addr, seq: u16) -> Vec<u8> {
    let mut icmp = vec![kind, 0, 0, 0];
    icmp.extend_from_slice(&ECHO_ID.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(ECHO_DATA);
    ipv4_icmp(src, dst, icmp)
}

/// One side: IPsec, the L2TP endpoint above it, and the PPP link in its one session.
struct Side {
    ipsec: Ipsec,
    l2tp: sras_l2tp::Endpoint,
    client: bool,
    out: VecDeque<Transmit>,
    session: Option<SessionHandle>,
    link: Option<Link>,
    link_up: Option<sras_ppp::LinkInfo>,
    link_down: bool,
    authenticated: Option<(String, AuthMethod)>,
    /// Client: echo replies received (sequence numbers); server: echo requests answered.
    echoes: Vec<u16>,
    tunnels_closed: usize,
    /// The peers whose SAs came up.
    peers: Vec<SocketAddr>,
}

impl Side {
    fn new(client: bool, seed: u8) -> Self {
        Self {
            ipsec: Ipsec::new(Arc::new(ike_config()), [seed; 32]),
            l2tp: sras_l2tp::Endpoint::new(sras_l2tp::Config {
                accept_tunnels: !client,
                rng_seed: [seed; 32],
                ..sras_l2tp::Config::default()
            }),
            client,
            out: VecDeque::new(),
            session: None,
            link: None,
            link_up: None,
            link_down: false,
            authenticated: None,
            echoes: Vec::new(),
            tunnels_closed: 0,
            peers: Vec::new(),
        }
    }

    fn ppp_config(&self, seed: u8) -> PppConfig {
        let mut c = PppConfig {
            role: if self.client {
                Role::Client
            } else {
                Role::Server
            },
            auth_methods: vec![AuthMethod::MsChapV2],
            rng_seed: [seed; 32],
            ..PppConfig::default()
        };
        if self.client {
            c.user = USER.into();
            c.password = zeroize::Zeroizing::new(PASSWORD.into());
        } else {
            c.local_ipv4 = Some(SERVER_PPP);
        }
        c
    }

    /// Seals one L2TP datagram for `to` and queues it (no SA: dropped, never in the clear).
    fn send_l2tp(&mut self, now: Instant, to: SocketAddr, l2tp: &[u8]) {
        let mut buf = vec![0u8; HEADROOM + l2tp.len() + TAILROOM];
        buf[HEADROOM..HEADROOM + l2tp.len()].copy_from_slice(l2tp);
        if let Ok(s) = self
            .ipsec
            .seal_l2tp(now, to, &mut buf, HEADROOM..HEADROOM + l2tp.len())
        {
            let Destination::Udp {
                source,
                destination,
            } = s.destination
            else {
                panic!("ESP in UDP expected")
            };
            self.out.push_back(Transmit {
                destination,
                source: Some(source),
                payload: buf[s.range].to_vec(),
            });
        }
    }

    /// A PPP frame into the session, as an L2TP data message.
    fn send_frame(&mut self, now: Instant, frame: &[u8]) {
        let Some(session) = self.session else { return };
        let mut buf = vec![0u8; 64 + frame.len()];
        buf[64..].copy_from_slice(frame);
        let Ok(t) = self
            .l2tp
            .encapsulate(session, &mut buf, 64..64 + frame.len())
        else {
            return;
        };
        let dgram = buf[t.range].to_vec();
        self.send_l2tp(now, t.destination, &dgram);
    }

    /// An IPv4 packet over the PPP link.
    fn send_ip(&mut self, now: Instant, packet: &[u8]) {
        let Some(link) = self.link.as_mut() else {
            return;
        };
        let mut buf = vec![0u8; sras_ppp::PPP_HEADER_LEN + packet.len()];
        buf[sras_ppp::PPP_HEADER_LEN..].copy_from_slice(packet);
        let end = buf.len();
        let frame = link
            .encapsulate_ip(&mut buf, sras_ppp::PPP_HEADER_LEN..end, false)
            .unwrap();
        let frame = buf[frame].to_vec();
        self.send_frame(now, &frame);
    }

    /// An IP packet out of the link: the server answers echo requests to its address, the
    /// client counts the replies to its own.
    fn on_ip(&mut self, now: Instant, p: &[u8]) {
        assert!(p.len() >= 28 && checksum(&p[..20]) == 0 && checksum(&p[20..]) == 0);
        let (src, dst) = (
            Ipv4Addr::new(p[12], p[13], p[14], p[15]),
            Ipv4Addr::new(p[16], p[17], p[18], p[19]),
        );
        let seq = u16::from_be_bytes([p[26], p[27]]);
        assert_eq!(u16::from_be_bytes([p[24], p[25]]), ECHO_ID);
        assert_eq!(&p[28..], ECHO_DATA);
        if self.client {
            assert_eq!((p[20], src, dst), (0, SERVER_PPP, CLIENT_PPP), "echo reply");
            self.echoes.push(seq);
        } else {
            assert_eq!(
                (p[20], src, dst),
                (8, CLIENT_PPP, SERVER_PPP),
                "echo request"
            );
            self.echoes.push(seq);
            let reply = echo(0, SERVER_PPP, CLIENT_PPP, seq);
            self.send_ip(now, &reply);
        }
    }

    fn pump(&mut self, now: Instant) {
        loop {
            let mut progress = false;
            while let Some(t) = self.ipsec.poll_transmit() {
                progress = true;
                self.out.push_back(t);
            }
            while let Some(e) = self.ipsec.poll_event() {
                progress = true;
                match e {
                    Event::PeerUp(info) => {
                        self.peers.push(info.peer);
                        if !self.client {
                            continue;
                        }
                        let t = self.l2tp.connect(now, info.peer).unwrap();
                        self.l2tp
                            .open_session(now, t, CallDirection::Incoming)
                            .unwrap();
                    }
                    Event::PeerDown { peer, .. } => {
                        for t in self.l2tp.tunnels_to(peer) {
                            let rc = sras_l2tp::wire::ResultCode::new(1, None, None);
                            let _ = self.l2tp.abort_tunnel(now, t, rc);
                        }
                    }
                    _ => {}
                }
            }
            while let Some(t) = self.l2tp.poll_transmit() {
                progress = true;
                self.send_l2tp(now, t.destination, &t.payload);
            }
            while let Some(e) = self.l2tp.poll_event() {
                progress = true;
                match e {
                    sras_l2tp::Event::SessionEstablished { session, .. } => {
                        self.session = Some(session);
                        let seed = if self.client { 3 } else { 4 };
                        let mut link = Link::new(self.ppp_config(seed));
                        link.open(now);
                        self.link = Some(link);
                    }
                    sras_l2tp::Event::SessionClosed { .. } => {
                        if let Some(l) = self.link.as_mut() {
                            l.lower_down(now);
                        }
                    }
                    sras_l2tp::Event::TunnelClosed { tunnel: _, .. } => {
                        self.tunnels_closed += 1;
                        // As the daemon does: the peer's last tunnel gone, its SAs go too (the
                        // client, finished, deletes its own: a lost Delete from the server
                        // must not leave it holding SAs).
                        {
                            let done: Vec<SocketAddr> = self
                                .peers
                                .iter()
                                .copied()
                                .filter(|p| {
                                    !self
                                        .l2tp
                                        .tunnels_to(*p)
                                        .into_iter()
                                        .any(|t| self.l2tp.tunnel_is_established(t))
                                })
                                .collect();
                            for p in done {
                                self.ipsec.close_peer(now, p);
                            }
                        }
                    }
                    _ => {}
                }
            }
            let frames: Vec<Vec<u8>> = self
                .link
                .as_mut()
                .map(|l| std::iter::from_fn(|| l.poll_transmit()).collect())
                .unwrap_or_default();
            for f in &frames {
                progress = true;
                self.send_frame(now, f);
            }
            let events: Vec<sras_ppp::Event> = self
                .link
                .as_mut()
                .map(|l| std::iter::from_fn(|| l.poll_event()).collect())
                .unwrap_or_default();
            for e in events {
                progress = true;
                self.on_link_event(now, e);
            }
            if !progress {
                break;
            }
        }
    }

    fn on_link_event(&mut self, now: Instant, e: sras_ppp::Event) {
        match e {
            sras_ppp::Event::AuthRequested(r) => {
                let verdict = if r.user == USER && r.verify_password(PASSWORD) {
                    r.accept_with_password(PASSWORD, Some(CLIENT_PPP))
                } else {
                    Verdict::Reject { message: None }
                };
                self.link
                    .as_mut()
                    .unwrap()
                    .complete_auth(now, r.id, verdict);
            }
            sras_ppp::Event::Authenticated { user, method } => {
                self.authenticated = Some((user, method));
            }
            sras_ppp::Event::LinkUp(info) => self.link_up = Some(info),
            sras_ppp::Event::LinkDown { .. } => {
                self.link_down = true;
                // The call and the tunnel end with the link (the client's disconnect).
                if let Some(s) = self.session {
                    let rc = sras_l2tp::wire::ResultCode::new(3, None, None);
                    let _ = self.l2tp.close_session(now, s, rc);
                    if self.client {
                        for t in self.l2tp.tunnels_to(addr(SERVER, 4500)) {
                            let rc = sras_l2tp::wire::ResultCode::new(1, None, None);
                            let _ = self.l2tp.close_tunnel(now, t, rc);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

impl Node for Side {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let mut buf = data.to_vec();
        if let Ok(Some(d)) = self.ipsec.handle_udp(now, to, from, &mut buf) {
            if let Ok(Received::Data { payload, .. }) =
                self.l2tp.handle_datagram(now, d.peer, &buf[d.payload])
            {
                let payload = payload.to_vec();
                let ip = match self.link.as_mut().map(|l| l.handle_frame(now, &payload)) {
                    Some(Ok(sras_ppp::Received::Ipv4(p))) => Some(p.to_vec()),
                    _ => None,
                };
                if let Some(p) = ip {
                    self.on_ip(now, &p);
                }
            }
        }
        self.pump(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.ipsec.handle_timeout(now);
        self.l2tp.handle_timeout(now);
        if let Some(l) = self.link.as_mut() {
            if l.poll_timeout().is_some_and(|t| t <= now) {
                l.handle_timeout(now);
            }
        }
        self.pump(now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.ipsec.poll_timeout(),
            self.l2tp.poll_timeout(),
            self.link.as_ref().and_then(Link::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

fn run(seed: u64, link: LinkConfig) {
    let mut net = Network::new(seed, link);
    net.set_capture(true);
    let s = net.add(addr(SERVER, 500), Side::new(false, 1));
    net.add_address(s, addr(SERVER, 4500));
    let c = net.add(addr(CLIENT, 500), Side::new(true, 2));
    net.add_address(c, addr(CLIENT, 4500));
    let now = net.now();
    net.node_mut(c)
        .ipsec
        .connect(now, addr(CLIENT, 500), addr(SERVER, 500));

    // IKE, ESP, L2TP and PPP up on both sides.
    let up = net.drive_until(Duration::from_secs(600), |n| {
        n.node(s).link_up.is_some() && n.node(c).link_up.is_some()
    });
    assert!(up, "seed {seed}: PPP not up");
    let (si, ci) = (
        net.node(s).link_up.clone().unwrap(),
        net.node(c).link_up.clone().unwrap(),
    );
    assert_eq!((si.local, si.peer), (SERVER_PPP, CLIENT_PPP), "seed {seed}");
    assert_eq!((ci.local, ci.peer), (CLIENT_PPP, SERVER_PPP), "seed {seed}");
    assert_eq!(
        net.node(s).authenticated,
        Some((USER.to_owned(), AuthMethod::MsChapV2)),
        "seed {seed}"
    );

    // The ping: resent once a second until answered (the network may lose either packet).
    for seq in 1..=30u16 {
        let now = net.now();
        let request = echo(8, CLIENT_PPP, SERVER_PPP, seq);
        net.node_mut(c).send_ip(now, &request);
        if net.drive_until(Duration::from_secs(1), |n| !n.node(c).echoes.is_empty()) {
            break;
        }
    }
    let replies = net.node(c).echoes.clone();
    assert!(!replies.is_empty(), "seed {seed}: no echo reply");
    assert!(
        net.node(s).echoes.contains(&replies[0]),
        "seed {seed}: a reply to a request the server never saw"
    );

    // Nothing in the clear: every datagram was IKE on 500 or IKE/ESP on 4500.
    for d in net.capture() {
        assert!(
            d.dst.port() == 500 || d.dst.port() == 4500,
            "seed {seed}: cleartext datagram to {}",
            d.dst
        );
    }

    // The client disconnects: LCP Terminate, CDN, StopCCN; the server deletes the SAs.
    let now = net.now();
    net.node_mut(c).link.as_mut().unwrap().close(now, "bye");
    net.node_mut(c).pump(now);
    let gone = net.drive_until(Duration::from_secs(600), |n| {
        [s, c].iter().all(|&i| {
            let x = n.node(i);
            x.ipsec.esp_sa_count() == 0
                && x.ipsec.isakmp_sa_count() == 0
                && x.l2tp.tunnel_count() == 0
        })
    });
    assert!(
        gone,
        "seed {seed}: left behind: server esp={} isakmp={} tunnels={}, client esp={} isakmp={} tunnels={}",
        net.node(s).ipsec.esp_sa_count(),
        net.node(s).ipsec.isakmp_sa_count(),
        net.node(s).l2tp.tunnel_count(),
        net.node(c).ipsec.esp_sa_count(),
        net.node(c).ipsec.isakmp_sa_count(),
        net.node(c).l2tp.tunnel_count(),
    );
    assert!(
        net.node(c).link_down && net.node(s).link_down,
        "seed {seed}"
    );
}

#[test]
fn ike_esp_l2tp_ppp_and_a_ping_lossless() {
    run(1, LinkConfig::with_latency(Duration::from_millis(10)));
}

#[test]
fn ike_esp_l2tp_ppp_and_a_ping_under_loss_duplication_and_reordering() {
    for seed in 1..=8u64 {
        run(
            seed,
            LinkConfig {
                latency: Duration::from_millis(20),
                loss: 0.1,
                duplicate: 0.05,
                reorder: 0.1,
                ..LinkConfig::default()
            },
        );
    }
}

/// Dead peer detection between two sras ends: one side vanishes (every datagram from it lost);
/// the other declares it dead and its SAs, tunnel and PPP link go, nothing left behind.
fn vanish(server_vanishes: bool) {
    let mut net = Network::new(5, LinkConfig::with_latency(Duration::from_millis(10)));
    let s = net.add(addr(SERVER, 500), Side::new(false, 1));
    net.add_address(s, addr(SERVER, 4500));
    let c = net.add(addr(CLIENT, 500), Side::new(true, 2));
    net.add_address(c, addr(CLIENT, 4500));
    let now = net.now();
    net.node_mut(c)
        .ipsec
        .connect(now, addr(CLIENT, 500), addr(SERVER, 500));
    assert!(net.drive_until(Duration::from_secs(60), |n| {
        n.node(s).link_up.is_some() && n.node(c).link_up.is_some()
    }));
    let (gone_ip, survivor) = if server_vanishes {
        (addr(SERVER, 0).ip(), c)
    } else {
        (addr(CLIENT, 0).ip(), s)
    };
    net.set_filter(move |d| {
        if d.src.ip() == gone_ip {
            sras_testkit::Verdict::Drop
        } else {
            sras_testkit::Verdict::Pass
        }
    });
    // dpd_delay 30 s, dpd_timeout 120 s (the defaults); L2TP and PPP keepalives also notice.
    let dead = net.drive_until(Duration::from_secs(400), |n| {
        let x = n.node(survivor);
        x.ipsec.esp_sa_count() == 0
            && x.ipsec.isakmp_sa_count() == 0
            && x.l2tp.tunnel_count() == 0
            && x.link_down
    });
    let x = net.node(survivor);
    assert!(
        dead,
        "esp={} isakmp={} tunnels={} link_down={}",
        x.ipsec.esp_sa_count(),
        x.ipsec.isakmp_sa_count(),
        x.l2tp.tunnel_count(),
        x.link_down
    );
}

#[test]
fn a_vanished_server_is_declared_dead_and_the_client_tears_down() {
    vanish(true);
}

#[test]
fn a_vanished_client_is_declared_dead_and_the_server_tears_down() {
    vanish(false);
}
