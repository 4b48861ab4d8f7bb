//! An independent decoder reads our wire format: a full LAC-LNS exchange (tunnel setup,
//! sessions, data, session and tunnel teardown) is captured to a pcap and tshark must decode
//! every frame as L2TP with zero malformed packets and zero expert errors.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use sras_l2tp::wire::{result, ResultCode};
use sras_l2tp::{CallDirection, Config, Event};
use sras_testkit::{scratch_file, tshark, tshark_fields, LinkConfig, Network};

/// An LCP Echo-Request in address/control-framed PPP, as a data message would carry.
const LCP_ECHO: [u8; 12] = [
    0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x12, 0x34, 0x56, 0x78,
];

fn full_exchange(name: &str, lac: Config, lns: Config) -> std::path::PathBuf {
    let mut net = Network::new(21, LinkConfig::with_latency(Duration::from_millis(5)));
    net.add(addr(LAC), L2tpNode::new(lac));
    net.add(addr(LNS), L2tpNode::new(lns));
    let now = net.now();
    let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    for _ in 0..3 {
        net.node_mut(0)
            .ep
            .open_session(now, t, CallDirection::Incoming)
            .unwrap();
    }
    assert!(
        net.drive_until(10 * SECOND, |n| n.node(0).sessions_up() == 3
            && n.node(1).sessions_up() == 3)
    );
    for s in net.node(0).established_sessions() {
        let (to, d) = encap(&mut net.node_mut(0).ep, s, &LCP_ECHO);
        net.inject(addr(LAC), to, d);
    }
    for s in net.node(1).established_sessions() {
        let (to, d) = encap(&mut net.node_mut(1).ep, s, &LCP_ECHO);
        net.inject(addr(LNS), to, d);
    }
    net.run_for(SECOND);
    // Let a Hello go by, then close one session and the tunnel.
    net.run_for(61 * SECOND);
    let s = net.node(0).established_sessions()[0];
    let now = net.now();
    net.node_mut(0)
        .ep
        .close_session(
            now,
            s,
            ResultCode::new(result::ADMINISTRATIVE, Some(0), Some("user hung up")),
        )
        .unwrap();
    net.run_for(SECOND);
    let now = net.now();
    net.node_mut(0)
        .ep
        .close_tunnel(now, t, ResultCode::new(result::GENERAL_REQUEST, None, None))
        .unwrap();
    assert!(net.drive_until(10 * SECOND, |n| n
        .node(1)
        .count(|e| matches!(e, Event::TunnelClosed { .. }))
        == 1));
    net.run_for(5 * SECOND);
    let path = scratch_file(name);
    net.write_pcap(&path).unwrap();
    path
}

fn check(path: &std::path::Path) {
    let report = tshark(path, &[]);
    report.assert_clean();
    assert_eq!(
        report.frames_with("l2tp"),
        report.frames,
        "every frame decodes as L2TP"
    );
    let types: BTreeSet<String> = tshark_fields(path, &[], &["l2tp.avp.message_type"])
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
    // SCCRQ 1, SCCRP 2, SCCCN 3, StopCCN 4, Hello 6, ICRQ 10, ICRP 11, ICCN 12, CDN 14
    for t in ["1", "2", "3", "4", "6", "10", "11", "12", "14"] {
        assert!(
            types.iter().any(|s| s.split(',').any(|x| x == t)),
            "message type {t} missing from {types:?}"
        );
    }
    let ppp = tshark_fields(path, &[], &["ppp.protocol"])
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .count();
    assert_eq!(ppp, 6, "six data messages decode as PPP");
}

#[test]
fn tshark_decodes_a_full_exchange() {
    check(&full_exchange(
        "l2tp-full.pcap",
        lac_config(1),
        lns_config(2),
    ));
}

#[test]
fn tshark_decodes_a_full_exchange_with_challenge_and_hidden_avps() {
    let secret = Some(b"s3cret".to_vec());
    let lac = Config {
        secret: secret.clone(),
        challenge: true,
        hide_avps: true,
        ..lac_config(3)
    };
    let lns = Config {
        secret,
        challenge: true,
        hide_avps: true,
        ..lns_config(4)
    };
    let path = full_exchange("l2tp-hidden.pcap", lac, lns);
    check(&path);
    let hidden = tshark_fields(&path, &[], &["l2tp.avp.hidden"])
        .into_iter()
        .flatten()
        .filter(|s| s.contains("True") || s.contains('1'))
        .count();
    assert!(hidden > 0, "hidden AVPs present in the capture");
}
