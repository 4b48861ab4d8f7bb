//! L2TP over IPsec in memory: an sras-stack client and server (IKE, ESP in UDP, the L2TP
//! endpoints above them) over a seeded lossy network; the tunnel, a session and data messages
//! both ways; the per-packet binding of tunnels to SAs (seed 001 §3.3) with three clients behind
//! one NAT; teardown tied both ways (seed 001 §3.1).
#![allow(missing_docs)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sras_core::Transmit;
use sras_ike::{PeerSelector, PskEntry};
use sras_l2tp::{CallDirection, Received, SessionHandle};
use sras_stack::{Destination, Event, Ipsec, HEADROOM, TAILROOM};
use sras_testkit::{LinkConfig, Network, Node, Verdict};

const SERVER: &str = "192.0.2.1";

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

fn ike_config() -> sras_ike::Config {
    sras_ike::Config {
        psk: vec![PskEntry {
            peer: PeerSelector::Any,
            secret: zeroize_vec(b"sras-stack-test-psk"),
        }],
        // The test network carries UDP only: ESP goes in UDP/4500 even without a NAT.
        force_encapsulation: true,
        ..sras_ike::Config::default()
    }
}

fn zeroize_vec(b: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    zeroize::Zeroizing::new(b.to_vec())
}

/// One side: the IPsec layer and an L2TP endpoint above it, as the daemon composes them.
struct Side {
    ipsec: Ipsec,
    l2tp: sras_l2tp::Endpoint,
    client: bool,
    out: VecDeque<Transmit>,
    /// PPP frames received, by session.
    frames: Vec<(SessionHandle, Vec<u8>)>,
    sessions_up: Vec<SessionHandle>,
    peers_up: Vec<SocketAddr>,
    peers_down: Vec<SocketAddr>,
    tunnels_closed: usize,
    l2tp_refused: u64,
}

impl Side {
    fn new(client: bool, seed: u8) -> Self {
        let l2tp = sras_l2tp::Endpoint::new(sras_l2tp::Config {
            accept_tunnels: !client,
            rng_seed: [seed; 32],
            ..sras_l2tp::Config::default()
        });
        Self {
            ipsec: Ipsec::new(Arc::new(ike_config()), [seed; 32]),
            l2tp,
            client,
            out: VecDeque::new(),
            frames: Vec::new(),
            sessions_up: Vec::new(),
            peers_up: Vec::new(),
            peers_down: Vec::new(),
            tunnels_closed: 0,
            l2tp_refused: 0,
        }
    }

    /// Seals one L2TP datagram for `to` and queues it.
    fn send_l2tp(&mut self, now: Instant, to: SocketAddr, l2tp: &[u8]) {
        let mut buf = vec![0u8; HEADROOM + l2tp.len() + TAILROOM];
        buf[HEADROOM..HEADROOM + l2tp.len()].copy_from_slice(l2tp);
        match self
            .ipsec
            .seal_l2tp(now, to, &mut buf, HEADROOM..HEADROOM + l2tp.len())
        {
            Ok(s) => {
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
            // No SA any more (the StopCCN after an IPsec Delete): dropped, counted, never
            // sent in the clear.
            Err(sras_stack::SealError::NoSa(_)) => {}
            Err(e) => panic!("seal failed: {e}"),
        }
    }

    /// Sends a PPP frame in `session`.
    fn send_frame(&mut self, now: Instant, session: SessionHandle, frame: &[u8]) {
        let mut buf = vec![0u8; 64 + frame.len()];
        buf[64..].copy_from_slice(frame);
        let t = self
            .l2tp
            .encapsulate(session, &mut buf, 64..64 + frame.len())
            .expect("encapsulate");
        let dgram = buf[t.range].to_vec();
        self.send_l2tp(now, t.destination, &dgram);
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
                        self.peers_up.push(info.peer);
                        if self.client {
                            let t = self.l2tp.connect(now, info.peer).unwrap();
                            self.l2tp
                                .open_session(now, t, CallDirection::Incoming)
                                .unwrap();
                        }
                    }
                    Event::PeerDown { peer, .. } => {
                        self.peers_down.push(peer);
                        self.l2tp.close_tunnels_of(now, peer);
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
                        self.sessions_up.push(session)
                    }
                    sras_l2tp::Event::TunnelClosed { tunnel: _, .. } => {
                        self.tunnels_closed += 1;
                    }
                    _ => {}
                }
            }
            if !progress {
                break;
            }
        }
    }
}

impl Node for Side {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let mut buf = data.to_vec();
        if let Ok(Some(d)) = self.ipsec.handle_udp(now, to, from, &mut buf) {
            match self.l2tp.handle_datagram(now, d.peer, &buf[d.payload]) {
                Ok(Received::Data { session, payload }) => {
                    self.frames.push((session, payload.to_vec()));
                }
                Ok(Received::Control) => {}
                Err(_) => self.l2tp_refused += 1,
            }
        }
        self.pump(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.ipsec.handle_timeout(now);
        self.l2tp.handle_timeout(now);
        self.pump(now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        [self.ipsec.poll_timeout(), self.l2tp.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }
}

/// Extension used by the test: close every tunnel whose peer is `peer`.
trait CloseTunnelsOf {
    fn close_tunnels_of(&mut self, now: Instant, peer: SocketAddr);
}

impl CloseTunnelsOf for sras_l2tp::Endpoint {
    fn close_tunnels_of(&mut self, now: Instant, peer: SocketAddr) {
        for t in self.tunnels_to(peer) {
            let _ = self.close_tunnel(
                now,
                t,
                sras_l2tp::wire::ResultCode::new(1, None, Some("IPsec SA gone")),
            );
        }
    }
}

fn add(net: &mut Network<Side>, ip: &str, side: Side) -> usize {
    let i = net.add(addr(ip, 500), side);
    net.add_address(i, addr(ip, 4500));
    i
}

fn connect(net: &mut Network<Side>, c: usize, ip: &str) {
    let now = net.now();
    net.node_mut(c)
        .ipsec
        .connect(now, addr(ip, 500), addr(SERVER, 500));
}

#[test]
fn tunnel_session_and_data_through_esp_under_loss() {
    for seed in 1..=8u64 {
        let lossy = LinkConfig {
            latency: Duration::from_millis(20),
            loss: 0.15,
            duplicate: 0.05,
            reorder: 0.1,
            ..LinkConfig::default()
        };
        let mut net = Network::new(seed, lossy);
        net.set_capture(true);
        let s = add(&mut net, SERVER, Side::new(false, 1));
        let c = add(&mut net, "192.0.2.3", Side::new(true, 2));
        connect(&mut net, c, "192.0.2.3");
        let ok = net.drive_until(Duration::from_secs(300), |n| {
            !n.node(s).sessions_up.is_empty() && !n.node(c).sessions_up.is_empty()
        });
        assert!(
            ok,
            "seed {seed}: no session: server {:?} client {:?}",
            net.node(s).ipsec,
            net.node(c).ipsec
        );
        // Nothing crossed in the clear: every datagram is IKE or ESP in UDP/4500.
        for d in net.capture() {
            assert!(
                d.dst.port() == 500 || d.dst.port() == 4500,
                "cleartext datagram to {}",
                d.dst
            );
        }
        // PPP frames both ways, with loss off so every one must arrive.
        net.set_link(LinkConfig::ideal());
        let now = net.now();
        let cs = net.node(c).sessions_up[0];
        let ss = net.node(s).sessions_up[0];
        for i in 0..20u8 {
            net.node_mut(c)
                .send_frame(now, cs, &[0xff, 0x03, 0x00, 0x21, i]);
            net.node_mut(s)
                .send_frame(now, ss, &[0xff, 0x03, 0x00, 0x21, 100 + i]);
        }
        net.run_for(Duration::from_secs(1));
        let got_s: Vec<u8> = net.node(s).frames.iter().map(|f| f.1[4]).collect();
        let got_c: Vec<u8> = net.node(c).frames.iter().map(|f| f.1[4]).collect();
        assert_eq!(got_s, (0..20).collect::<Vec<u8>>(), "seed {seed}");
        assert_eq!(got_c, (100..120).collect::<Vec<u8>>(), "seed {seed}");
    }
}

#[test]
fn three_clients_behind_one_nat_each_get_their_own_tunnel() {
    // Three clients, each 10.0.0.x:500/4500, behind one NAT at 203.0.113.9 (ports 1000+...).
    let mut net = Network::new(7, LinkConfig::with_latency(Duration::from_millis(5)));
    let s = add(&mut net, SERVER, Side::new(false, 1));
    let clients: Vec<usize> = (0..3)
        .map(|i| {
            add(
                &mut net,
                &format!("10.0.0.{}", i + 2),
                Side::new(true, 10 + i),
            )
        })
        .collect();
    let public: std::net::IpAddr = "203.0.113.9".parse().unwrap();
    net.set_filter(move |d| {
        if let std::net::IpAddr::V4(v4) = d.src.ip() {
            if v4.octets()[0] == 10 {
                let host = u16::from(v4.octets()[3]);
                let port = 1000 + host * 10 + u16::from(d.src.port() == 4500);
                d.src = SocketAddr::new(public, port);
                return Verdict::Pass;
            }
        }
        if d.dst.ip() == public {
            let p = d.dst.port();
            let host = (p - 1000) / 10;
            let port = if (p - 1000) % 10 == 1 { 4500 } else { 500 };
            d.dst = SocketAddr::new(format!("10.0.0.{host}").parse().unwrap(), port);
        }
        Verdict::Pass
    });
    for (i, &c) in clients.iter().enumerate() {
        connect(&mut net, c, &format!("10.0.0.{}", i + 2));
    }
    let ok = net.drive_until(Duration::from_secs(120), |n| {
        n.node(s).sessions_up.len() == 3
            && clients.iter().all(|&c| !n.node(c).sessions_up.is_empty())
    });
    assert!(ok, "server sessions {}", net.node(s).sessions_up.len());
    assert_eq!(net.node(s).l2tp.tunnel_count(), 3, "one tunnel per client");
    let peers = &net.node(s).peers_up;
    assert_eq!(peers.len(), 3);
    assert!(peers.iter().all(|p| p.ip() == public), "{peers:?}");
    // Each client's frames reach its own session only.
    let now = net.now();
    for (i, &c) in clients.iter().enumerate() {
        let cs = net.node(c).sessions_up[0];
        net.node_mut(c)
            .send_frame(now, cs, &[0xff, 0x03, 0x00, 0x21, i as u8]);
    }
    net.run_for(Duration::from_secs(1));
    let frames = &net.node(s).frames;
    assert_eq!(frames.len(), 3);
    let mut sessions: Vec<_> = frames.iter().map(|f| f.0).collect();
    sessions.sort_by_key(|h| format!("{h:?}"));
    sessions.dedup();
    assert_eq!(sessions.len(), 3, "three distinct sessions");

    // Seed 001 §3.3: client 0's L2TP packet, replayed into client 1's SA (same outer NAT
    // address, same UDP ports, a tunnel ID that exists), is refused by the tunnel binding.
    let before = net.node(s).l2tp_refused;
    let now = net.now();
    let stolen_tunnel = {
        let srv = &net.node(s);
        let t = srv.l2tp.tunnels_to(srv.peers_up[0])[0];
        srv.l2tp.tunnel_ids(t).unwrap().0
    };
    // An L2TP Hello for that tunnel, sealed by another client (whose SA is not the tunnel's).
    let mut hello = vec![
        0xc8, 0x02, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x08, 0, 0, 0, 0, 0, 6,
    ];
    hello[4..6].copy_from_slice(&stolen_tunnel.0.to_be_bytes());
    // Find which client is NOT the owner of peers_up[0] by its NAT port.
    let owner_port = net.node(s).peers_up[0].port();
    let other = clients
        .iter()
        .enumerate()
        .find(|(i, _)| 1000 + (*i as u16 + 2) * 10 + 1 != owner_port)
        .map(|(_, &c)| c)
        .unwrap();
    let other_peer = net.node(other).peers_up[0];
    net.node_mut(other).send_l2tp(now, other_peer, &hello);
    net.run_for(Duration::from_millis(100));
    assert_eq!(
        net.node(s).l2tp_refused,
        before + 1,
        "refused: wrong SA for that tunnel"
    );
    assert_eq!(net.node(s).l2tp.tunnel_count(), 3);
}

#[test]
fn ipsec_delete_tears_the_tunnel_down_and_the_last_tunnel_deletes_the_sas() {
    let mut net = Network::new(3, LinkConfig::with_latency(Duration::from_millis(5)));
    let s = add(&mut net, SERVER, Side::new(false, 1));
    let c = add(&mut net, "192.0.2.3", Side::new(true, 2));
    connect(&mut net, c, "192.0.2.3");
    assert!(net.drive_until(Duration::from_secs(60), |n| !n
        .node(s)
        .sessions_up
        .is_empty()));
    // The server closes the peer (its last tunnel went): Deletes reach the client, whose
    // L2TP tunnel closes at once.
    let now = net.now();
    let peer = net.node(s).peers_up[0];
    net.node_mut(s).ipsec.close_peer(now, peer);
    net.node_mut(s).l2tp.close_tunnels_of(now, peer);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.node(c).peers_down.len(), 1, "client saw the Delete");
    assert_eq!(net.node(c).tunnels_closed, 1);
    assert_eq!(net.node(s).ipsec.esp_sa_count(), 0);
    assert_eq!(net.node(c).ipsec.esp_sa_count(), 0);
    assert_eq!(net.node(s).ipsec.peer_count(), 0);
    assert!(
        net.node(c).ipsec.stats().no_sa >= 1,
        "the client's StopCCN had no SA: dropped"
    );
}
