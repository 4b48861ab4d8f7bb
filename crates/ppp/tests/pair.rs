//! Server and client PPP links against each other in memory (sras-testkit): every
//! authentication method, success and failure, option conflicts, loss, timeouts, keepalives.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use sras_core::Transmit;
use sras_ppp::{AuthMethod, DownReason, Event, Link, LinkConfig, Received, Role, Verdict};
use sras_testkit::{LinkConfig as Net, Network, Node};
use zeroize::Zeroizing;

const SERVER: &str = "10.0.0.1:1";
const CLIENT: &str = "10.0.0.2:1";
const SECOND: Duration = Duration::from_secs(1);
const POOL_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A link as a network node: a frame is a datagram. The server side answers its own
/// authentication requests from a one-user store.
struct PppNode {
    link: Link,
    peer: SocketAddr,
    users: Vec<(&'static str, &'static str)>,
    events: Vec<Event>,
    ip: Vec<Vec<u8>>,
}

impl PppNode {
    fn new(config: LinkConfig, peer: &str) -> Self {
        Self {
            link: Link::new(config),
            peer: addr(peer),
            users: vec![("alice", "wonderland")],
            events: Vec::new(),
            ip: Vec::new(),
        }
    }

    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.link.poll_event() {
            if let Event::AuthRequested(r) = &e {
                let pw = self
                    .users
                    .iter()
                    .find(|(u, _)| r.user.ends_with(u))
                    .map(|(_, p)| *p);
                let verdict = match pw {
                    Some(p) => r.accept_with_password(p, Some(POOL_IP)),
                    None => Verdict::Reject {
                        message: Some("no such user".into()),
                    },
                };
                let id = r.id;
                self.events.push(e);
                self.link.complete_auth(now, id, verdict);
                continue;
            }
            self.events.push(e);
        }
    }

    fn up(&self) -> Option<&sras_ppp::LinkInfo> {
        self.events.iter().find_map(|e| match e {
            Event::LinkUp(i) => Some(i),
            _ => None,
        })
    }

    fn down(&self) -> Option<&DownReason> {
        self.events.iter().find_map(|e| match e {
            Event::LinkDown { reason } => Some(reason),
            _ => None,
        })
    }
}

impl Node for PppNode {
    fn handle_datagram(&mut self, now: Instant, _from: SocketAddr, _to: SocketAddr, data: &[u8]) {
        if let Ok(Received::Ipv4(p)) = self.link.handle_frame(now, data) {
            self.ip.push(p.to_vec());
        }
        self.drain(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.link.handle_timeout(now);
        self.drain(now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.link.poll_transmit().map(|payload| Transmit {
            destination: self.peer,
            source: None,
            payload,
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.link.poll_timeout()
    }
}

fn server(methods: Vec<AuthMethod>) -> LinkConfig {
    LinkConfig {
        role: Role::Server,
        auth_methods: methods,
        local_ipv4: Some(Ipv4Addr::new(198, 51, 100, 1)),
        dns: [Some(Ipv4Addr::new(198, 51, 100, 53)), None],
        rng_seed: [1; 32],
        ..LinkConfig::default()
    }
}

fn client(methods: Vec<AuthMethod>, password: &str) -> LinkConfig {
    LinkConfig {
        role: Role::Client,
        auth_methods: methods,
        user: "alice".into(),
        password: Zeroizing::new(password.into()),
        rng_seed: [2; 32],
        ..LinkConfig::default()
    }
}

fn run(seed: u64, link: Net, s: LinkConfig, c: LinkConfig) -> Network<PppNode> {
    let mut net = Network::new(seed, link);
    net.add(addr(SERVER), PppNode::new(s, CLIENT));
    net.add(addr(CLIENT), PppNode::new(c, SERVER));
    let now = net.now();
    for i in [0, 1] {
        net.node_mut(i).link.open(now);
        net.node_mut(i).drain(now);
    }
    net.drive_until(120 * SECOND, |n| {
        (n.node(0).up().is_some() && n.node(1).up().is_some())
            || n.node(0).down().is_some()
            || n.node(1).down().is_some()
    });
    net
}

fn assert_up(net: &Network<PppNode>, method: AuthMethod) {
    let s = net.node(0).up().unwrap_or_else(|| {
        panic!(
            "server not up: {:?}\nclient: {:?}",
            net.node(0).events,
            net.node(1).events
        )
    });
    let c = net
        .node(1)
        .up()
        .unwrap_or_else(|| panic!("client not up: {:?}", net.node(1).events));
    assert_eq!(s.peer, POOL_IP);
    assert_eq!(c.local, POOL_IP);
    assert_eq!(c.peer, Ipv4Addr::new(198, 51, 100, 1));
    assert_eq!(c.dns[0], Some(Ipv4Addr::new(198, 51, 100, 53)));
    for n in [0, 1] {
        assert!(
            net.node(n)
                .events
                .iter()
                .any(|e| matches!(e, Event::Authenticated { method: m, .. } if *m == method)),
            "node {n}: {:?}",
            net.node(n).events
        );
    }
}

#[test]
fn every_method_succeeds() {
    for m in [
        AuthMethod::Pap,
        AuthMethod::ChapMd5,
        AuthMethod::MsChapV1,
        AuthMethod::MsChapV2,
        AuthMethod::Eap,
    ] {
        let net = run(
            1,
            Net::default(),
            server(vec![m]),
            client(vec![m], "wonderland"),
        );
        assert_up(&net, m);
    }
}

#[test]
fn eap_md5_when_the_client_does_not_do_mschapv2() {
    // The server proposes EAP-MSCHAPv2; a client allowing only EAP and CHAP-MD5 Naks to EAP-MD5.
    let net = run(
        2,
        Net::default(),
        server(vec![AuthMethod::Eap]),
        client(vec![AuthMethod::Eap, AuthMethod::ChapMd5], "wonderland"),
    );
    assert_up(&net, AuthMethod::Eap);
}

#[test]
fn every_method_fails_with_a_wrong_password() {
    for m in [
        AuthMethod::Pap,
        AuthMethod::ChapMd5,
        AuthMethod::MsChapV1,
        AuthMethod::MsChapV2,
        AuthMethod::Eap,
    ] {
        let mut net = run(3, Net::default(), server(vec![m]), client(vec![m], "wrong"));
        net.run_for(10 * SECOND);
        assert!(
            matches!(net.node(0).down(), Some(DownReason::AuthFailed(_))),
            "{m:?} server: {:?}",
            net.node(0).events
        );
        assert!(
            net.node(1).down().is_some(),
            "{m:?} client: {:?}",
            net.node(1).events
        );
        assert!(net.node(0).up().is_none() && net.node(1).up().is_none());
    }
}

#[test]
fn server_falls_back_to_the_method_the_client_naks_for() {
    // The server asks MS-CHAPv2 first; the client only does CHAP-MD5 and Naks.
    let net = run(
        4,
        Net::default(),
        server(vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5]),
        client(vec![AuthMethod::ChapMd5], "wonderland"),
    );
    assert_up(&net, AuthMethod::ChapMd5);
}

#[test]
fn no_common_method_ends_the_link() {
    let net = run(
        5,
        Net::default(),
        server(vec![AuthMethod::MsChapV2]),
        client(vec![AuthMethod::Pap], "wonderland"),
    );
    assert!(net.node(0).up().is_none());
    assert!(net.node(0).down().is_some() || net.node(1).down().is_some());
}

#[test]
fn comes_up_under_loss_duplication_and_reordering() {
    let lossy = Net::with_latency(Duration::from_millis(20))
        .loss(0.2)
        .duplicate(0.1)
        .reorder(0.2);
    for seed in 10..60 {
        let net = run(
            seed,
            lossy,
            server(vec![AuthMethod::MsChapV2]),
            client(vec![AuthMethod::MsChapV2], "wonderland"),
        );
        assert_up(&net, AuthMethod::MsChapV2);
    }
}

#[test]
fn ip_flows_once_up_and_echo_detects_a_dead_peer() {
    let mut net = run(
        6,
        Net::default(),
        server(vec![AuthMethod::MsChapV2]),
        client(vec![AuthMethod::MsChapV2], "wonderland"),
    );
    assert_up(&net, AuthMethod::MsChapV2);
    // An IPv4 packet from the client reaches the server as a borrowed packet.
    let pkt = [
        0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 198, 51, 100, 10, 198, 51, 100, 1,
    ];
    let mut buf = vec![0u8; sras_ppp::PPP_HEADER_LEN + pkt.len()];
    buf[sras_ppp::PPP_HEADER_LEN..].copy_from_slice(&pkt);
    let end = buf.len();
    let r = net
        .node_mut(1)
        .link
        .encapsulate_ip(&mut buf, sras_ppp::PPP_HEADER_LEN..end, false)
        .unwrap();
    net.inject(addr(CLIENT), addr(SERVER), buf[r].to_vec());
    net.run_for(SECOND);
    assert_eq!(net.node(0).ip, vec![pkt.to_vec()]);
    // Keepalives pass while both answer...
    net.run_for(200 * SECOND);
    assert!(net.node(0).down().is_none() && net.node(1).down().is_none());
    assert!(net.node(0).link.stats().echo_requests >= 5);
    // ...and the server declares the client dead once it falls silent.
    net.set_filter(|d| {
        if d.src == addr(CLIENT) {
            sras_testkit::Verdict::Drop
        } else {
            sras_testkit::Verdict::Pass
        }
    });
    net.run_for(200 * SECOND);
    assert_eq!(net.node(0).down(), Some(&DownReason::EchoTimeout));
}

#[test]
fn client_close_terminates_both_ends() {
    let mut net = run(
        7,
        Net::default(),
        server(vec![AuthMethod::Pap]),
        client(vec![AuthMethod::Pap], "wonderland"),
    );
    assert_up(&net, AuthMethod::Pap);
    let now = net.now();
    net.node_mut(1).link.close(now, "user disconnected");
    net.run_for(10 * SECOND);
    assert!(
        matches!(net.node(0).down(), Some(DownReason::TerminatedByPeer(m)) if m == "user disconnected"),
        "{:?}",
        net.node(0).events
    );
    assert!(matches!(net.node(1).down(), Some(DownReason::Closed(_))));
}

#[test]
fn ipv6cp_negotiates_interface_identifiers() {
    let mut s = server(vec![AuthMethod::MsChapV2]);
    s.ipv6 = true;
    let mut c = client(vec![AuthMethod::MsChapV2], "wonderland");
    c.ipv6 = true;
    let mut net = run(8, Net::default(), s, c);
    net.run_for(5 * SECOND);
    let ids = |n: usize| {
        net.node(n).events.iter().find_map(|e| match e {
            Event::Ipv6Up { local_id, peer_id } => Some((*local_id, *peer_id)),
            _ => None,
        })
    };
    let (sl, sp) = ids(0).expect("server IPv6 up");
    let (cl, cp) = ids(1).expect("client IPv6 up");
    assert_eq!((sl, sp), (cp, cl));
    assert_ne!(sl, sp);
}

#[test]
fn ipv6cp_is_protocol_rejected_when_off() {
    let s = server(vec![AuthMethod::MsChapV2]);
    let mut c = client(vec![AuthMethod::MsChapV2], "wonderland");
    c.ipv6 = true;
    let mut net = run(9, Net::default(), s, c);
    net.run_for(10 * SECOND);
    assert!(net.node(0).link.stats().protocol_rejects >= 1);
    assert!(net.node(1).up().is_some() && net.node(1).down().is_none());
}
