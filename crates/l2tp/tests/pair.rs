//! LAC and LNS endpoints against each other in memory (sras-testkit): establishment under
//! loss, duplication and reordering, data both ways, teardown from either side.

mod common;

use std::time::Duration;

use common::*;
use sras_l2tp::wire::{result, ResultCode};
use sras_l2tp::{CallDirection, CloseReason, Config, Event};
use sras_testkit::{LinkConfig, Network};

fn network(seed: u64, link: LinkConfig, lac: Config, lns: Config) -> Network<L2tpNode> {
    let mut net = Network::new(seed, link);
    net.add(addr(LAC), L2tpNode::new(lac));
    net.add(addr(LNS), L2tpNode::new(lns));
    net
}

fn clean() -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(10),
        ..LinkConfig::default()
    }
}

#[test]
fn tunnel_and_session_establish() {
    let mut net = network(1, clean(), lac_config(1), lns_config(2));
    let now = net.now();
    let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    net.node_mut(0)
        .ep
        .open_session(now, t, CallDirection::Incoming)
        .unwrap();
    assert!(
        net.drive_until(10 * SECOND, |n| n.node(0).sessions_up() == 1
            && n.node(1).sessions_up() == 1)
    );
    assert_eq!(net.node(0).tunnels_up(), 1);
    assert_eq!(net.node(1).tunnels_up(), 1);
    let Some(Event::TunnelEstablished { peer_host_name, .. }) = net
        .node(0)
        .events
        .iter()
        .find(|e| matches!(e, Event::TunnelEstablished { .. }))
    else {
        unreachable!()
    };
    assert_eq!(peer_host_name, "lns");
}

#[test]
fn hundred_sessions_at_20_percent_loss_with_duplicates_and_reordering() {
    let link = LinkConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(30),
        loss: 0.20,
        duplicate: 0.10,
        reorder: 0.20,
        ..LinkConfig::default()
    };
    // At 20% loss in each direction a message and its ack both survive one try with p = 0.64;
    // ten retransmissions keep the odds of a spurious tunnel loss negligible.
    let lac = Config {
        max_retransmits: 10,
        ..lac_config(3)
    };
    let lns = Config {
        max_retransmits: 10,
        ..lns_config(4)
    };
    for seed in [11, 12, 13] {
        let mut net = network(seed, link, lac.clone(), lns.clone());
        let now = net.now();
        let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
        for _ in 0..100 {
            net.node_mut(0)
                .ep
                .open_session(now, t, CallDirection::Incoming)
                .unwrap();
        }
        let ok = net.drive_until(600 * SECOND, |n| {
            n.node(0).sessions_up() == 100 && n.node(1).sessions_up() == 100
        });
        assert!(
            ok,
            "seed {seed}: lac {} lns {} sessions up; lac errors {:?}",
            net.node(0).sessions_up(),
            net.node(1).sessions_up(),
            &net.node(0).errors[..net.node(0).errors.len().min(5)]
        );
        assert_eq!(net.node(0).ep.session_count(), 100);
        assert_eq!(net.node(1).ep.session_count(), 100);
        assert!(net.node(0).ep.stats().retransmits + net.node(1).ep.stats().retransmits > 0);
        assert!(net.node(0).ep.stats().duplicates + net.node(1).ep.stats().duplicates > 0);

        // Data both ways on every session: what arrives is intact and in the right session.
        let lac_sessions = net.node(0).established_sessions();
        for (i, s) in lac_sessions.iter().enumerate() {
            let payload = format!("up-{i}").into_bytes();
            let (to, dgram) = encap(&mut net.node_mut(0).ep, *s, &payload);
            net.inject(addr(LAC), to, dgram);
        }
        let lns_sessions = net.node(1).established_sessions();
        for (i, s) in lns_sessions.iter().enumerate() {
            let payload = format!("down-{i}").into_bytes();
            let (to, dgram) = encap(&mut net.node_mut(1).ep, *s, &payload);
            net.inject(addr(LNS), to, dgram);
        }
        net.run_for(5 * SECOND);
        let up = &net.node(1).data;
        let down = &net.node(0).data;
        assert!(
            up.len() >= 60 && down.len() >= 60,
            "data delivered: up {} down {}",
            up.len(),
            down.len()
        );
        for (s, p) in up {
            assert!(p.starts_with(b"up-"));
            assert!(lns_sessions.contains(s));
        }
        for (s, p) in down {
            assert!(p.starts_with(b"down-"));
            assert!(lac_sessions.contains(s));
        }
    }
}

#[test]
fn lac_closes_tunnel_and_lns_clears_everything() {
    let mut net = network(2, clean(), lac_config(5), lns_config(6));
    let now = net.now();
    let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    for _ in 0..3 {
        net.node_mut(0)
            .ep
            .open_session(now, t, CallDirection::Incoming)
            .unwrap();
    }
    assert!(
        net.drive_until(10 * SECOND, |n| n.node(1).sessions_up() == 3
            && n.node(0).sessions_up() == 3)
    );
    let now = net.now();
    net.node_mut(0)
        .ep
        .close_tunnel(
            now,
            t,
            ResultCode::new(result::GENERAL_REQUEST, None, Some("bye")),
        )
        .unwrap();
    assert!(net.drive_until(10 * SECOND, |n| n
        .node(1)
        .events
        .iter()
        .any(|e| matches!(e, Event::TunnelClosed { reason: CloseReason::Peer(r), .. } if r.result == result::GENERAL_REQUEST))));
    assert_eq!(
        net.node(1).count(|e| matches!(
            e,
            Event::SessionClosed {
                reason: CloseReason::TunnelClosed,
                ..
            }
        )),
        3
    );
    assert_eq!(net.node(1).ep.session_count(), 0);
    // State is retained for late retransmits (§5.8), then released.
    assert_eq!(net.node(1).ep.tunnel_count(), 1);
    net.run_for(40 * SECOND);
    assert_eq!(net.node(0).ep.tunnel_count(), 0);
    assert_eq!(net.node(1).ep.tunnel_count(), 0);
}

#[test]
fn lns_closes_session_then_lac_closes_tunnel() {
    let mut net = network(3, clean(), lac_config(7), lns_config(8));
    let now = net.now();
    let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    net.node_mut(0)
        .ep
        .open_session(now, t, CallDirection::Incoming)
        .unwrap();
    net.node_mut(0)
        .ep
        .open_session(now, t, CallDirection::Incoming)
        .unwrap();
    assert!(
        net.drive_until(10 * SECOND, |n| n.node(1).sessions_up() == 2
            && n.node(0).sessions_up() == 2)
    );
    let s = net.node(1).established_sessions()[0];
    let now = net.now();
    net.node_mut(1)
        .ep
        .close_session(now, s, ResultCode::new(result::ADMINISTRATIVE, None, None))
        .unwrap();
    assert!(
        net.drive_until(10 * SECOND, |n| n.node(0).count(|e| matches!(
            e,
            Event::SessionClosed {
                reason: CloseReason::Peer(_),
                ..
            }
        )) == 1)
    );
    assert_eq!(net.node(0).ep.session_count(), 1);
    assert_eq!(net.node(1).ep.session_count(), 1);
    // The LNS closes the tunnel this time.
    let lns_tunnel = net.node(1).events.iter().find_map(|e| match e {
        Event::TunnelEstablished { tunnel, .. } => Some(*tunnel),
        _ => None,
    });
    let now = net.now();
    net.node_mut(1)
        .ep
        .close_tunnel(
            now,
            lns_tunnel.unwrap(),
            ResultCode::new(result::SHUTTING_DOWN, None, None),
        )
        .unwrap();
    assert!(net.drive_until(10 * SECOND, |n| n
        .node(0)
        .count(|e| matches!(e, Event::TunnelClosed { .. }))
        == 1));
    net.run_for(40 * SECOND);
    assert_eq!(
        net.node(0).ep.tunnel_count() + net.node(1).ep.tunnel_count(),
        0
    );
}

#[test]
fn outgoing_call_from_lns() {
    // The LNS places an outgoing call (OCRQ/OCRP/OCCN) in a tunnel the LAC opened.
    let mut net = network(4, clean(), lac_config(9), lns_config(10));
    let now = net.now();
    net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    assert!(net.drive_until(10 * SECOND, |n| n.node(1).tunnels_up() == 1));
    let lns_tunnel = net.node(1).events.iter().find_map(|e| match e {
        Event::TunnelEstablished { tunnel, .. } => Some(*tunnel),
        _ => None,
    });
    let now = net.now();
    net.node_mut(1)
        .ep
        .open_session(now, lns_tunnel.unwrap(), CallDirection::Outgoing)
        .unwrap();
    assert!(
        net.drive_until(10 * SECOND, |n| n.node(1).sessions_up() == 1
            && n.node(0).sessions_up() == 1)
    );
    let Some(Event::SessionEstablished { info, .. }) = net
        .node(0)
        .events
        .iter()
        .find(|e| matches!(e, Event::SessionEstablished { .. }))
    else {
        unreachable!()
    };
    assert_eq!(info.direction, CallDirection::Outgoing);
}

#[test]
fn tunnel_authentication_and_hidden_avps() {
    let secret = b"tunnel-secret".to_vec();
    let lac = Config {
        secret: Some(secret.clone()),
        challenge: true,
        hide_avps: true,
        ..lac_config(11)
    };
    let lns = Config {
        secret: Some(secret),
        challenge: true,
        hide_avps: true,
        ..lns_config(12)
    };
    let mut net = network(5, clean(), lac, lns);
    let now = net.now();
    let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    net.node_mut(0)
        .ep
        .open_session(now, t, CallDirection::Incoming)
        .unwrap();
    assert!(
        net.drive_until(10 * SECOND, |n| n.node(0).sessions_up() == 1
            && n.node(1).sessions_up() == 1)
    );
    // Hidden AVPs were really on the wire: some captured control message has the H bit.
    let hidden = net.capture().iter().any(|c| {
        let d = &c.payload;
        d.len() > 12 && d[0] & 0x80 != 0 && {
            let mut at = 12;
            let mut found = false;
            while at + 6 <= d.len() {
                let len = usize::from(u16::from_be_bytes([d[at] & 3, d[at + 1]]));
                if len < 6 {
                    break;
                }
                found |= d[at] & 0x40 != 0;
                at += len;
            }
            found
        }
    });
    assert!(hidden, "no hidden AVP seen on the wire");
}

#[test]
fn wrong_secret_is_refused() {
    let lac = Config {
        secret: Some(b"one".to_vec()),
        challenge: true,
        ..lac_config(13)
    };
    let lns = Config {
        secret: Some(b"two".to_vec()),
        challenge: true,
        ..lns_config(14)
    };
    let mut net = network(6, clean(), lac, lns);
    let now = net.now();
    net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    assert!(net.drive_until(10 * SECOND, |n| n
        .node(0)
        .count(|e| matches!(e, Event::TunnelClosed { .. }))
        == 1));
    let Some(Event::TunnelClosed { reason, .. }) = net
        .node(0)
        .events
        .iter()
        .find(|e| matches!(e, Event::TunnelClosed { .. }))
    else {
        unreachable!()
    };
    assert!(
        matches!(reason, CloseReason::Local(r) if r.result == result::NOT_AUTHORIZED),
        "{reason:?}"
    );
    assert_eq!(net.node(1).tunnels_up(), 0);
}

#[test]
fn try_another_redirect_is_followed() {
    let other = addr("192.0.2.2:1701");
    let mut net = Network::new(7, clean());
    net.add(addr(LAC), L2tpNode::new(lac_config(15)));
    net.add(
        addr(LNS),
        L2tpNode::new(Config {
            redirect: Some(other.ip()),
            ..lns_config(16)
        }),
    );
    net.add(other, L2tpNode::new(lns_config(17)));
    let now = net.now();
    let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    net.node_mut(0)
        .ep
        .open_session(now, t, CallDirection::Incoming)
        .unwrap();
    assert!(
        net.drive_until(20 * SECOND, |n| n.node(0).sessions_up() == 1
            && n.node(2).sessions_up() == 1)
    );
    assert!(net
        .node(0)
        .events
        .iter()
        .any(|e| matches!(e, Event::TunnelRedirected { to, .. } if *to == other)));
    assert_eq!(net.node(1).tunnels_up(), 0);
    assert_eq!(net.node(0).ep.tunnel_remote(t), Some(other));
}

#[test]
fn responder_answers_from_a_new_port_and_initiator_follows() {
    // RFC 3193 §4: the LNS answers the SCCRQ (sent to 1701) from port 1702, and the whole
    // tunnel, control and data, then runs between the LAC's port and 1702.
    let floated = addr("192.0.2.1:1702");
    let mut net = Network::new(8, clean());
    net.add(addr(LAC), L2tpNode::new(lac_config(19)));
    let lns = net.add(
        addr(LNS),
        L2tpNode::new(Config {
            float_source: Some(floated),
            ..lns_config(20)
        }),
    );
    net.add_address(lns, floated);
    let now = net.now();
    let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    net.node_mut(0)
        .ep
        .open_session(now, t, CallDirection::Incoming)
        .unwrap();
    assert!(
        net.drive_until(10 * SECOND, |n| n.node(0).sessions_up() == 1
            && n.node(1).sessions_up() == 1)
    );
    assert_eq!(net.node(0).ep.tunnel_remote(t), Some(floated));
    // After the SCCRQ, nothing went to or came from port 1701 of the LNS.
    let after_first: Vec<_> = net.capture().iter().skip(1).collect();
    assert!(after_first
        .iter()
        .all(|c| c.src != addr(LNS) && c.dst != addr(LNS)));
    let s = net.node(0).established_sessions()[0];
    let (to, d) = encap(&mut net.node_mut(0).ep, s, b"ppp");
    assert_eq!(to, floated);
    net.inject(addr(LAC), to, d);
    let ls = net.node(1).established_sessions()[0];
    let mut buf = vec![0u8; sras_l2tp::DATA_HEADER_MAX + 3];
    let out = net
        .node_mut(1)
        .ep
        .encapsulate(
            ls,
            &mut buf,
            sras_l2tp::DATA_HEADER_MAX..sras_l2tp::DATA_HEADER_MAX + 3,
        )
        .unwrap();
    assert_eq!(out.source, Some(floated));
    net.run_for(SECOND);
    assert_eq!(net.node(1).data.len(), 1);
}
