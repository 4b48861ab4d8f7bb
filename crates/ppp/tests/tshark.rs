//! An independent decoder reads our wire format: a full server/client exchange (LCP, the
//! authentication, IPCP, an IPv4 packet each way, LCP Terminate) is captured to a pcap with each
//! PPP frame in an L2TP data message over UDP 1701, and tshark must decode every frame as PPP
//! with zero malformed packets and zero expert errors. One run per authentication method.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sras_core::Transmit;
use sras_ppp::{
    AuthMethod, DownReason, Event, Link, LinkConfig, Received, Role, Verdict, PPP_HEADER_LEN,
};
use sras_testkit::pcap::internet_checksum;
use sras_testkit::{
    scratch_file, tshark, tshark_fields, LinkConfig as Net, Network, Node, PcapWriter,
};
use zeroize::Zeroizing;

const SERVER: &str = "192.0.2.1:1701";
const CLIENT: &str = "192.0.2.2:1701";
const SECOND: Duration = Duration::from_secs(1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const POOL_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// The L2TP Tunnel and Session IDs each end assigned (a data message carries the receiver's).
const SERVER_IDS: (u16, u16) = (0x1111, 0x2222);
const CLIENT_IDS: (u16, u16) = (0x3333, 0x4444);

/// Lets tshark check the IP and UDP checksums the pcap writer computes.
const CHECKSUMS: [&str; 4] = [
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
];

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A link as a network node: a frame is a datagram; the server answers its own requests.
struct PppNode {
    link: Link,
    peer: SocketAddr,
    events: Vec<Event>,
    ip: Vec<Vec<u8>>,
}

impl PppNode {
    fn new(config: LinkConfig, peer: &str) -> Self {
        Self {
            link: Link::new(config),
            peer: addr(peer),
            events: Vec::new(),
            ip: Vec::new(),
        }
    }

    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.link.poll_event() {
            if let Event::AuthRequested(r) = &e {
                let (id, verdict) = (r.id, r.accept_with_password("wonderland", Some(POOL_IP)));
                assert!(matches!(verdict, Verdict::Accept(_)));
                self.events.push(e);
                self.link.complete_auth(now, id, verdict);
                continue;
            }
            self.events.push(e);
        }
    }

    fn up(&self) -> bool {
        self.events.iter().any(|e| matches!(e, Event::LinkUp(_)))
    }

    fn down(&self) -> Option<&DownReason> {
        self.events.iter().find_map(|e| match e {
            Event::LinkDown { reason } => Some(reason),
            _ => None,
        })
    }

    /// An IPv4 packet framed by this link, ready to send.
    fn frame_ip(&mut self, packet: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; PPP_HEADER_LEN + packet.len()];
        buf[PPP_HEADER_LEN..].copy_from_slice(packet);
        let end = buf.len();
        let r = self
            .link
            .encapsulate_ip(&mut buf, PPP_HEADER_LEN..end, false)
            .unwrap();
        buf[r].to_vec()
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

/// An ICMP Echo Request from `src` to `dst`, checksums computed.
fn icmp_echo(src: Ipv4Addr, dst: Ipv4Addr, seq: u16) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(b"sras ppp tshark check");
    let c = internet_checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let total = u16::try_from(20 + icmp.len()).unwrap();
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0, 0, 64, 1, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = internet_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&icmp);
    ip
}

/// Runs the exchange with `method` and writes it as L2TP data messages over UDP 1701.
fn full_exchange(method: AuthMethod) -> PathBuf {
    let server = LinkConfig {
        role: Role::Server,
        auth_methods: vec![method],
        local_ipv4: Some(SERVER_IP),
        dns: [Some(Ipv4Addr::new(198, 51, 100, 53)), None],
        rng_seed: [11; 32],
        ..LinkConfig::default()
    };
    let client = LinkConfig {
        role: Role::Client,
        auth_methods: vec![method],
        user: "alice".into(),
        password: Zeroizing::new("wonderland".into()),
        rng_seed: [12; 32],
        ..LinkConfig::default()
    };
    let mut net = Network::new(41, Net::with_latency(Duration::from_millis(5)));
    net.add(addr(SERVER), PppNode::new(server, CLIENT));
    net.add(addr(CLIENT), PppNode::new(client, SERVER));
    let now = net.now();
    for i in [0, 1] {
        net.node_mut(i).link.open(now);
        net.node_mut(i).drain(now);
    }
    assert!(
        net.drive_until(30 * SECOND, |n| n.node(0).up() && n.node(1).up()),
        "{method:?}: server {:?}, client {:?}",
        n_events(&net, 0),
        n_events(&net, 1)
    );
    // An IPv4 packet each way.
    let up = net.node_mut(1).frame_ip(&icmp_echo(POOL_IP, SERVER_IP, 1));
    net.inject(addr(CLIENT), addr(SERVER), up);
    let down = net.node_mut(0).frame_ip(&icmp_echo(SERVER_IP, POOL_IP, 2));
    net.inject(addr(SERVER), addr(CLIENT), down);
    net.run_for(SECOND);
    assert_eq!(net.node(0).ip.len(), 1);
    assert_eq!(net.node(1).ip.len(), 1);
    // Let an LCP Echo go by, then the client hangs up.
    net.run_for(31 * SECOND);
    let now = net.now();
    net.node_mut(1).link.close(now, "user disconnected");
    net.run_for(10 * SECOND);
    assert!(
        matches!(net.node(0).down(), Some(DownReason::TerminatedByPeer(_))),
        "{method:?}: {:?}",
        n_events(&net, 0)
    );

    let path = scratch_file(&format!("ppp-{method:?}.pcap").to_lowercase());
    let mut w = PcapWriter::create(&path).unwrap();
    for c in net.capture() {
        let (tunnel, session) = if c.dst == addr(SERVER) {
            SERVER_IDS
        } else {
            CLIENT_IDS
        };
        // L2TP data message (RFC 2661 §3.1): flags 0, version 2, Tunnel ID, Session ID.
        let mut d = vec![0x00, 0x02];
        d.extend_from_slice(&tunnel.to_be_bytes());
        d.extend_from_slice(&session.to_be_bytes());
        d.extend_from_slice(&c.payload);
        w.write_udp(c.time, c.src, c.dst, &d).unwrap();
    }
    w.flush().unwrap();
    path
}

fn n_events(net: &Network<PppNode>, i: usize) -> &[Event] {
    &net.node(i).events
}

/// Every value of `field` over the capture (a frame's several occurrences split).
fn values(path: &Path, field: &str) -> BTreeSet<String> {
    tshark_fields(path, &[], &[field])
        .into_iter()
        .flatten()
        .flat_map(|s| s.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Frames carrying `protocol` (as in `frame.protocols`).
fn count(path: &Path, protocol: &str) -> usize {
    tshark(path, &[]).frames_with(protocol)
}

fn check(method: AuthMethod) {
    let path = full_exchange(method);
    let report = tshark(&path, &CHECKSUMS);
    report.assert_clean();
    assert!(report.frames > 10, "{method:?}: {} frames", report.frames);
    assert_eq!(
        report.frames_with("l2tp"),
        report.frames,
        "every frame is L2TP"
    );
    assert_eq!(
        report.frames_with("ppp"),
        report.frames,
        "every frame is PPP"
    );

    // PPP protocols: LCP, the method's, IPCP, IPv4.
    let auth = match method {
        AuthMethod::Pap => "0xc023",
        AuthMethod::Eap => "0xc227",
        _ => "0xc223",
    };
    let protocols = values(&path, "ppp.protocol");
    for p in ["0xc021", auth, "0x8021", "0x0021"] {
        assert!(
            protocols.contains(p),
            "{method:?}: {p} missing from {protocols:?}"
        );
    }
    // LCP and IPCP codes: Configure-Request/Ack, Terminate-Request/Ack, Echo-Request/Reply.
    let codes = values(&path, "ppp.code");
    for c in ["1", "2", "5", "6", "9", "10"] {
        assert!(
            codes.contains(c),
            "{method:?}: code {c} missing from {codes:?}"
        );
    }
    let auth_protocols = values(&path, "lcp.opt.auth_protocol");
    assert!(
        auth_protocols.contains(auth),
        "{method:?}: Auth-Protocol {auth} not negotiated: {auth_protocols:?}"
    );
    // The method's exchange.
    match method {
        AuthMethod::Pap => {
            let c = values(&path, "pap.code");
            assert_eq!(c, ["1", "2"].map(String::from).into(), "{method:?}");
            assert!(values(&path, "pap.peer_id").contains("alice"));
        }
        AuthMethod::Eap => {
            let c = values(&path, "eap.code");
            assert_eq!(c, ["1", "2", "3"].map(String::from).into(), "{method:?}");
            assert!(values(&path, "eap.identity").contains("alice"));
            // Identity, then EAP-MSCHAPv2 (26): Challenge, Response, Success.
            let types = values(&path, "eap.type");
            assert!(types.contains("1") && types.contains("26"), "{types:?}");
            let ops = values(&path, "eap.ms_chap_v2.opcode");
            for op in ["1", "2", "3"] {
                assert!(
                    ops.contains(op),
                    "EAP-MSCHAPv2 OpCode {op} missing: {ops:?}"
                );
            }
        }
        _ => {
            let c = values(&path, "chap.code");
            assert_eq!(c, ["1", "2", "3"].map(String::from).into(), "{method:?}");
            assert!(values(&path, "chap.name").contains("alice"));
        }
    }
    // IPCP: the addresses and the DNS server.
    let ips = values(&path, "ipcp.opt.ip_address");
    for a in ["198.51.100.1", "198.51.100.10"] {
        assert!(
            ips.contains(a),
            "{method:?}: IP-Address {a} missing from {ips:?}"
        );
    }
    assert!(values(&path, "ipcp.opt.pri_dns_address").contains("198.51.100.53"));
    // The IPv4 packets decode inside PPP.
    assert_eq!(count(&path, "icmp"), 2, "{method:?}");
    assert_eq!(
        values(&path, "l2tp.tunnel"),
        ["4369", "13107"].map(String::from).into()
    );
}

#[test]
fn tshark_decodes_mschapv2() {
    check(AuthMethod::MsChapV2);
}

#[test]
fn tshark_decodes_mschapv1() {
    check(AuthMethod::MsChapV1);
}

#[test]
fn tshark_decodes_pap() {
    check(AuthMethod::Pap);
}

#[test]
fn tshark_decodes_chap_md5() {
    check(AuthMethod::ChapMd5);
}

#[test]
fn tshark_decodes_eap() {
    check(AuthMethod::Eap);
}
