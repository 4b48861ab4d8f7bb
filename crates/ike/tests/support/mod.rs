//! Shared pieces of the sras-ike integration tests: an endpoint as a testkit node, configs,
//! a NAT, and checks that both sides derived the same IPsec keys.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sras_core::Transmit;
use sras_esp::{InboundSa, OutboundSa, Spi};
use sras_ike::{ChildSa, Config, DownReason, Endpoint, Event, PeerSelector, PskEntry};
use sras_testkit::{Datagram, Node, Verdict};
use zeroize::Zeroizing;

pub const SERVER: &str = "192.0.2.1";
pub const CLIENT: &str = "192.0.2.3";
pub const PSK: &[u8] = b"sras-test-psk";

pub fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

/// An endpoint as a network node, with every event it emitted.
pub struct IkeNode {
    pub ep: Endpoint,
    pub events: Vec<Event>,
}

impl IkeNode {
    pub fn new(config: Config, seed: u8) -> Self {
        Self {
            ep: Endpoint::new(Arc::new(config), [seed; 32]),
            events: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
    }

    pub fn children_up(&self) -> Vec<&ChildSa> {
        self.events
            .iter()
            .filter_map(|e| {
                if let Event::Phase2Up(c) = e {
                    Some(&**c)
                } else {
                    None
                }
            })
            .collect()
    }

    pub fn phase1_up(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Phase1Up(_)))
            .count()
    }

    pub fn phase2_down(&self, why: &DownReason) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Phase2Down { reason, .. } if reason == why))
            .count()
    }

    pub fn phase1_down(&self, why: &DownReason) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Phase1Down { reason, .. } if reason == why))
            .count()
    }

    /// Inbound SPIs of the children this side currently holds.
    pub fn live_spis(&self) -> Vec<(Spi, Spi)> {
        self.ep
            .children()
            .into_iter()
            .map(|(_, i, o)| (i, o))
            .collect()
    }
}

impl Node for IkeNode {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let _ = self.ep.handle_datagram(now, to, from, data);
        self.drain();
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.drain();
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ep.poll_transmit()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.ep.poll_timeout()
    }
}

pub fn psk_config() -> Config {
    Config {
        psk: vec![PskEntry {
            peer: PeerSelector::Any,
            secret: Zeroizing::new(PSK.to_vec()),
        }],
        ..Config::default()
    }
}

/// The server's and client's nodes on the network, each with ports 500 and 4500.
pub fn add_pair<N: Node>(
    net: &mut sras_testkit::Network<N>,
    server: N,
    client: N,
    client_ip: &str,
) -> (usize, usize) {
    let s = net.add(addr(SERVER, 500), server);
    net.add_address(s, addr(SERVER, 4500));
    let c = net.add(addr(client_ip, 500), client);
    net.add_address(c, addr(client_ip, 4500));
    (s, c)
}

/// A NAT in front of `inside` (ports 500/4500 mapped to `public`:1500/1501), as a filter.
pub fn nat(inside: &'static str, public: &'static str) -> impl FnMut(&mut Datagram) -> Verdict {
    let inside_ip: IpAddr = inside.parse().unwrap();
    let public_ip: IpAddr = public.parse().unwrap();
    move |d: &mut Datagram| {
        if d.src.ip() == inside_ip {
            let port = if d.src.port() == 500 { 1500 } else { 1501 };
            d.src = SocketAddr::new(public_ip, port);
        } else if d.dst.ip() == public_ip {
            let port = match d.dst.port() {
                1500 => 500,
                1501 => 4500,
                _ => return Verdict::Drop,
            };
            d.dst = SocketAddr::new(inside_ip, port);
        }
        Verdict::Pass
    }
}

/// One side's outbound SA really talks to the other side's inbound SA: an ESP packet sealed
/// by `tx` opens with `rx` (same SPI, keys and transforms).
pub fn assert_esp_pair(tx: &ChildSa, rx: &ChildSa) {
    #[allow(clippy::disallowed_methods)]
    let t0 = Instant::now();
    assert_eq!(tx.outbound.spi, rx.inbound.spi);
    let mut out = OutboundSa::new(clone_params(&tx.outbound), t0).unwrap();
    let mut inb = InboundSa::new(clone_params(&rx.inbound), t0).unwrap();
    let payload = b"L2TP over ESP: the keys agree";
    let o = out.overhead();
    let mut buf = vec![0u8; o.header + payload.len() + o.trailer_max];
    let range = o.header..o.header + payload.len();
    buf[range.clone()].copy_from_slice(payload);
    let r = out.seal(t0, &mut buf, range, 17).unwrap();
    let mut pkt = buf[r].to_vec();
    let n = pkt.len();
    let opened = inb
        .open(t0, &mut pkt, 0..n)
        .expect("the peer's inbound SA opens our packet");
    assert_eq!(&pkt[opened.payload], payload);
}

pub fn clone_params(p: &sras_esp::SaParams) -> sras_esp::SaParams {
    let mut q = sras_esp::SaParams::new(
        p.spi,
        p.encryption,
        p.enc_key.clone(),
        p.integrity,
        p.auth_key.clone(),
    );
    q.mode = p.mode;
    q
}

/// The newest child of each side agree in both directions.
pub fn assert_children_agree(server: &IkeNode, client: &IkeNode) {
    let s = *server.children_up().last().expect("server child");
    let c = *client.children_up().last().expect("client child");
    assert_esp_pair(c, s);
    assert_esp_pair(s, c);
    assert_eq!(s.encapsulation, c.encapsulation);
}

pub const MINUTE: Duration = Duration::from_secs(60);

/// A certificate configuration from the fixtures in tests/data/certs (generate.sh).
pub fn cert_config(name: &str) -> Config {
    use sras_ike::cert::{Certificate, PrivateKey, TrustStore};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/certs/");
    let read = |f: &str| std::fs::read_to_string(format!("{dir}{f}")).unwrap();
    let certificate = Certificate::from_pem(&read(&format!("{name}.pem")))
        .unwrap()
        .remove(0);
    let chain = Certificate::from_pem(&read("intermediate.pem")).unwrap();
    let key = Arc::new(PrivateKey::from_pem(&read(&format!("{name}.key.pem"))).unwrap());
    let trust = TrustStore::new(Certificate::from_pem(&read("ca.pem")).unwrap());
    Config {
        certificate: Some(sras_ike::CertConfig {
            certificate,
            chain,
            key,
            trust,
        }),
        ..Config::default()
    }
}

/// 2027-01-15, inside every fixture's validity.
pub const UNIX_NOW: u64 = 1_800_000_000;
