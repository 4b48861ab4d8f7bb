//! The IPsec filter rules of seed 001 §4 and the per-packet check of §3.3, as scenarios.
//!
//! Addresses: the LNS at 198.51.100.1 (R-IPAddr1), a second LNS address 198.51.100.2
//! (R-IPAddr2), a LAC at 192.0.2.10 (I-IPAddr), and a NAT whose public address is
//! 203.0.113.7 with several L2TP/IPsec clients behind it.

use std::net::{IpAddr, SocketAddr};

use proptest::prelude::*;
use sras_esp::raw::strip_ipv4;
use sras_esp::sad::{EspSad, SaRef};
use sras_esp::spd::{
    Action, AddrMatch, Admission, Direction, Floated, Flow, L2tpRole, PolicyViolation, PortMatch,
    Rule, Selector, Spd, TunnelRef, TUNNEL_PRIORITY,
};
use sras_esp::udp_encap::{classify, Udp4500, NAT_KEEPALIVE};
use sras_esp::{peek_spi, Encryption, InboundSa, Integrity, OutboundSa, SaParams, Spi};
use sras_testkit::pcap::{ip_packet, udp_segment};
use sras_testkit::VirtualClock;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const LNS: &str = "198.51.100.1:1701";
const LAC: &str = "192.0.2.10:1701";
const NAT: &str = "203.0.113.7:1701";

/// A rule in the seed's notation: "Inbound: From R, to I, UDP, src Any-Port, dst 1701
/// => Protect(SA 1)".
fn describe(r: &Rule) -> String {
    let addr = |a: AddrMatch| match a {
        AddrMatch::Any => "Any-Addr".to_owned(),
        AddrMatch::Exact(a) => a.to_string(),
        AddrMatch::Prefix(a, l) => format!("{a}/{l}"),
    };
    let port = |p: PortMatch| match p {
        PortMatch::Any => "Any-Port".to_owned(),
        PortMatch::Exact(p) => p.to_string(),
    };
    let s = &r.selector;
    let (dir, from, to, sport, dport) = match r.direction {
        Direction::Inbound => (
            "Inbound",
            s.remote_addr,
            s.local_addr,
            s.remote_port,
            s.local_port,
        ),
        Direction::Outbound => (
            "Outbound",
            s.local_addr,
            s.remote_addr,
            s.local_port,
            s.remote_port,
        ),
    };
    let proto = match s.protocol {
        Some(17) => "UDP".to_owned(),
        Some(p) => p.to_string(),
        None => "any".to_owned(),
    };
    let action = match r.action {
        Action::Protect(SaRef(n)) => format!("Protect(SA {n})"),
        a => format!("{a:?}"),
    };
    format!(
        "{dir}: From {}, to {}, {proto}, src {}, dst {} => {action}",
        addr(from),
        addr(to),
        port(sport),
        port(dport)
    )
}

fn tunnel_rules(spd: &Spd, t: TunnelRef) -> Vec<String> {
    spd.tunnel_rules(t).iter().map(describe).collect()
}

/// Seed 001 §4.2.2 and §4.2.4, the initiator's side: sras is the LAC, and the LNS answers
/// the SCCRQ from a new port.
#[test]
fn lns_answers_from_a_new_port() {
    let (lac, lns) = (sa(LAC), sa(LNS));
    let (t, sa1) = (TunnelRef(1), SaRef(1));
    let mut spd = Spd::new();

    // Initial filters needed to protect the SCCRQ (§4.2.2, Initiator Filters).
    spd.install_l2tp_tunnel(t, L2tpRole::Initiator, lac, lns, sa1)
        .unwrap();
    assert_eq!(
        tunnel_rules(&spd, t),
        [
            "Outbound: From 192.0.2.10, to 198.51.100.1, UDP, src 1701, dst 1701 => Protect(SA 1)",
            "Inbound: From 198.51.100.1, to 192.0.2.10, UDP, src 1701, dst 1701 => Protect(SA 1)",
            "Inbound: From 198.51.100.1, to 192.0.2.10, UDP, src Any-Port, dst 1701 => Protect(SA 1)",
        ]
    );
    // The SCCRQ goes out through SA 1.
    assert_eq!(spd.check_outbound_l2tp(t, lac, lns), Ok(sa1));

    // The SCCRP comes back from port 40000, through SA 1: Inbound-2 (Any-Port) admits it.
    let r_port = sa("198.51.100.1:40000");
    assert_eq!(
        spd.check_inbound_l2tp(Some(sa1), r_port, lac),
        Ok(Admission::Tunnel(t))
    );
    // The same SCCRP in cleartext is refused (§3.3 [1]).
    assert!(matches!(
        spd.check_inbound_l2tp(None, r_port, lac),
        Err(PolicyViolation::Cleartext { .. })
    ));

    // The responder negotiated a new Phase 2 (SA 2) for its new port; L2TP injects the
    // filters for R-Port (§4.2.4). The result is the seed's final initiator filter set.
    let sa2 = SaRef(2);
    let (kind, orphans) = spd.float_tunnel(t, r_port, Some(sa2)).unwrap();
    assert_eq!(kind, Floated::Port);
    assert!(orphans.is_empty(), "SA 1 still protects the 1701 filters");
    assert_eq!(
        tunnel_rules(&spd, t),
        [
            "Outbound: From 192.0.2.10, to 198.51.100.1, UDP, src 1701, dst 40000 => Protect(SA 2)",
            "Inbound: From 198.51.100.1, to 192.0.2.10, UDP, src 40000, dst 1701 => Protect(SA 2)",
            "Outbound: From 192.0.2.10, to 198.51.100.1, UDP, src 1701, dst 1701 => Protect(SA 1)",
            "Inbound: From 198.51.100.1, to 192.0.2.10, UDP, src 1701, dst 1701 => Protect(SA 1)",
            "Inbound: From 198.51.100.1, to 192.0.2.10, UDP, src Any-Port, dst 1701 => Protect(SA 1)",
        ]
    );
    assert_eq!(spd.tunnel(t).unwrap().remote, r_port);
    assert_eq!(spd.check_outbound_l2tp(t, lac, r_port), Ok(sa2));
    assert_eq!(spd.check_outbound_l2tp(t, lac, lns), Ok(sa1));
    assert_eq!(
        spd.check_inbound_l2tp(Some(sa2), r_port, lac),
        Ok(Admission::Tunnel(t))
    );
    assert_eq!(
        spd.check_inbound_for_tunnel(t, Some(sa2), r_port, lac),
        Ok(())
    );
    // From R-Port the filters now demand SA 2.
    assert!(matches!(
        spd.check_inbound_l2tp(Some(sa1), r_port, lac),
        Err(PolicyViolation::WrongSa { arrived, expected, .. }) if arrived == sa1 && expected == sa2
    ));
    assert!(matches!(
        spd.check_inbound_for_tunnel(t, Some(sa1), r_port, lac),
        Err(PolicyViolation::WrongSa { .. })
    ));

    // The tunnel is established (SCCCN): the residual filters and SA go (§4.2.4).
    assert_eq!(spd.settle_tunnel(t).unwrap(), [sa1]);
    assert_eq!(
        tunnel_rules(&spd, t),
        [
            "Outbound: From 192.0.2.10, to 198.51.100.1, UDP, src 1701, dst 40000 => Protect(SA 2)",
            "Inbound: From 198.51.100.1, to 192.0.2.10, UDP, src 40000, dst 1701 => Protect(SA 2)",
        ]
    );
    assert!(spd.tunnels_of_sa(sa1).is_empty());
    // Port 1701 of the LNS is no longer part of the tunnel, through either SA.
    assert!(matches!(
        spd.check_inbound_l2tp(Some(sa2), lns, lac),
        Err(PolicyViolation::OutsideTunnelFilters { .. })
    ));
    assert!(matches!(
        spd.check_inbound_l2tp(Some(sa1), lns, lac),
        Err(PolicyViolation::Discarded { rule: None, .. })
    ));
    assert!(matches!(
        spd.check_outbound_l2tp(t, lac, lns),
        Err(PolicyViolation::OutsideTunnelFilters { .. })
    ));
}

/// The same float without a new Phase 2, as Windows, xl2tpd and SoftEther peers do it:
/// the SA's selectors already cover the LNS's ports, so SA 1 keeps protecting.
#[test]
fn lns_floats_its_port_within_one_sa() {
    let (lac, lns, r_port) = (sa(LAC), sa(LNS), sa("198.51.100.1:40000"));
    let (t, sa1) = (TunnelRef(7), SaRef(1));
    let mut spd = Spd::new();
    spd.install_l2tp_tunnel(t, L2tpRole::Initiator, lac, lns, sa1)
        .unwrap();
    assert_eq!(
        spd.float_tunnel(t, r_port, None).unwrap(),
        (Floated::Port, vec![])
    );
    assert_eq!(
        spd.float_tunnel(t, r_port, None).unwrap(),
        (Floated::Unchanged, vec![])
    );
    assert_eq!(spd.check_outbound_l2tp(t, lac, r_port), Ok(sa1));
    assert_eq!(spd.settle_tunnel(t).unwrap(), []);
    assert_eq!(spd.tunnel_rules(t).len(), 2);
    assert_eq!(
        spd.check_inbound_l2tp(Some(sa1), r_port, lac),
        Ok(Admission::Tunnel(t))
    );
    // A packet through the right SA from the old port: not the tunnel's any more.
    assert!(matches!(
        spd.check_inbound_l2tp(Some(sa1), lns, lac),
        Err(PolicyViolation::OutsideTunnelFilters { sa, .. }) if sa == sa1
    ));
}

/// Seed 001 §4.2.3: the responder chose a new IP address (StopCCN "try another"); the
/// initiator moves the tunnel's filters to R-IPAddr2 under a new Phase 1 and Phase 2.
#[test]
fn responder_chooses_new_address() {
    let (lac, lns) = (sa(LAC), sa(LNS));
    let (t, sa1, sa2) = (TunnelRef(3), SaRef(1), SaRef(2));
    let mut spd = Spd::new();
    spd.install_l2tp_tunnel(t, L2tpRole::Initiator, lac, lns, sa1)
        .unwrap();
    let lns2 = sa("198.51.100.2:1701");
    let (kind, orphans) = spd.float_tunnel(t, lns2, Some(sa2)).unwrap();
    assert_eq!((kind, orphans), (Floated::Address, vec![sa1]));
    assert_eq!(
        tunnel_rules(&spd, t),
        [
            "Outbound: From 192.0.2.10, to 198.51.100.2, UDP, src 1701, dst 1701 => Protect(SA 2)",
            "Inbound: From 198.51.100.2, to 192.0.2.10, UDP, src 1701, dst 1701 => Protect(SA 2)",
            "Inbound: From 198.51.100.2, to 192.0.2.10, UDP, src Any-Port, dst 1701 => Protect(SA 2)",
        ]
    );
    // Nothing is left for R-IPAddr1.
    let flow = Flow::udp(lns, lac);
    assert_eq!(spd.lookup(Direction::Inbound, &flow), None);
    assert!(matches!(
        spd.check_inbound_l2tp(None, lns, lac),
        Err(PolicyViolation::Discarded { rule: None, .. })
    ));
}

/// sras is the LNS; a LAC behind a NAT is seen from a changed address and port.
#[test]
fn lac_behind_nat_with_a_changed_port() {
    let lns = sa(LNS);
    let mut spd = Spd::new();
    // Responder filters: the standing Any-Addr filter (§4.2.2 Inbound-2), IPsec required.
    let listener = spd.add_l2tp_listener(AddrMatch::Exact(lns.ip()), Action::RequireIpsec);

    // A macOS-style client proposes port 0 in its Quick Mode IDs and sends L2TP from an
    // ephemeral port: the tunnel's filters start with Any-Port for the peer.
    let (t, sa1) = (TunnelRef(1), SaRef(1));
    spd.install_l2tp_tunnel(t, L2tpRole::Responder, lns, sa("203.0.113.7:0"), sa1)
        .unwrap();
    assert_eq!(
        tunnel_rules(&spd, t),
        [
            "Outbound: From 198.51.100.1, to 203.0.113.7, UDP, src 1701, dst Any-Port => Protect(SA 1)",
            "Inbound: From 203.0.113.7, to 198.51.100.1, UDP, src Any-Port, dst 1701 => Protect(SA 1)",
        ]
    );
    let first = sa("203.0.113.7:50123");
    assert_eq!(
        spd.check_inbound_l2tp(Some(sa1), first, lns),
        Ok(Admission::Tunnel(t))
    );
    // The SCCRQ named the port: narrow to it.
    assert_eq!(spd.float_tunnel(t, first, None).unwrap().0, Floated::Port);
    spd.settle_tunnel(t).unwrap();
    assert_eq!(
        tunnel_rules(&spd, t),
        [
            "Outbound: From 198.51.100.1, to 203.0.113.7, UDP, src 1701, dst 50123 => Protect(SA 1)",
            "Inbound: From 203.0.113.7, to 198.51.100.1, UDP, src 50123, dst 1701 => Protect(SA 1)",
        ]
    );
    // Another port through the same SA is not this tunnel.
    assert!(matches!(
        spd.check_inbound_l2tp(Some(sa1), sa("203.0.113.7:50124"), lns),
        Err(PolicyViolation::OutsideTunnelFilters { .. })
    ));

    // The NAT rebinds: IKE sees the peer's authenticated ESP from 203.0.113.99, and in
    // transport mode the decrypted L2TP carries the new outer address. Its port too has
    // changed (the client reopened its socket).
    let moved = sa("203.0.113.99:50200");
    let (kind, orphans) = spd.float_tunnel(t, moved, None).unwrap();
    assert_eq!((kind, orphans), (Floated::Address, vec![]));
    assert_eq!(
        spd.check_inbound_l2tp(Some(sa1), moved, lns),
        Ok(Admission::Tunnel(t))
    );
    assert_eq!(spd.check_outbound_l2tp(t, lns, moved), Ok(sa1));
    // The old mapping is dead, even through the right SA.
    assert!(matches!(
        spd.check_inbound_l2tp(Some(sa1), first, lns),
        Err(PolicyViolation::OutsideTunnelFilters { .. })
    ));
    // In cleartext the new address hits the tunnel's filter, the old one the listener.
    assert!(matches!(
        spd.check_inbound_l2tp(None, moved, lns),
        Err(PolicyViolation::Cleartext { rule: Some(_), .. })
    ));
    assert_eq!(
        spd.check_inbound_l2tp(None, first, lns),
        Err(PolicyViolation::Cleartext {
            src: first,
            dst: lns,
            rule: Some(listener)
        })
    );
}

/// CLIENTS.md §3 item 2: several Windows clients behind one NAT, all sending L2TP from port
/// 1701. Decrypted, their packets read the same 5-tuple, `203.0.113.7:1701 ->
/// 198.51.100.1:1701`; only the SA tells them apart. The Linux stack keeps one policy per
/// 5-tuple, so the last client's SA takes every client's traffic.
#[test]
fn several_clients_behind_one_nat_each_bound_to_their_own_sa() {
    let (lns, nat) = (sa(LNS), sa(NAT));
    let mut spd = Spd::new();
    spd.add_l2tp_listener(AddrMatch::Exact(lns.ip()), Action::RequireIpsec);
    let clients: Vec<(TunnelRef, SaRef)> = (1..=3).map(|i| (TunnelRef(i), SaRef(10 + i))).collect();
    for &(t, s) in &clients {
        spd.install_l2tp_tunnel(t, L2tpRole::Responder, lns, nat, s)
            .unwrap();
    }

    // Each client's L2TP is admitted into its own tunnel, by its own SA, and each tunnel's
    // replies go out through its own SA.
    for &(t, s) in &clients {
        assert_eq!(
            spd.check_inbound_l2tp(Some(s), nat, lns),
            Ok(Admission::Tunnel(t))
        );
        assert_eq!(spd.check_inbound_for_tunnel(t, Some(s), nat, lns), Ok(()));
        assert_eq!(spd.check_outbound_l2tp(t, lns, nat), Ok(s));
        assert_eq!(spd.tunnels_of_sa(s), [t]);
    }
    // A single first-match over the 5-tuple, as a kernel SPD does, cannot tell them apart:
    // every reply would leave through the first client's SA.
    let reply = Flow::udp(lns, nat);
    assert_eq!(
        spd.lookup(Direction::Outbound, &reply).unwrap().action,
        Action::Protect(SaRef(11))
    );
    // A client cannot inject into another client's tunnel: through client 2's SA the
    // packet belongs to tunnel 2 only.
    assert!(matches!(
        spd.check_inbound_for_tunnel(TunnelRef(1), Some(SaRef(12)), nat, lns),
        Err(PolicyViolation::WrongSa {
            arrived: SaRef(12),
            expected: SaRef(11),
            ..
        })
    ));

    // A client elsewhere, with its own SA, spoofing the NAT's address: right addresses for
    // tunnel 1, wrong SA (§3.3 [2]).
    let (t9, s9) = (TunnelRef(9), SaRef(99));
    spd.install_l2tp_tunnel(t9, L2tpRole::Responder, lns, sa("192.0.2.99:1701"), s9)
        .unwrap();
    assert!(matches!(
        spd.check_inbound_l2tp(Some(s9), nat, lns),
        Err(PolicyViolation::WrongSa {
            arrived: SaRef(99),
            expected: SaRef(11),
            ..
        })
    ));

    // Client 1 disconnects: its SA is no longer needed; the others carry on.
    assert_eq!(spd.remove_tunnel(TunnelRef(1)), Some(vec![SaRef(11)]));
    for &(t, s) in &clients[1..] {
        assert_eq!(
            spd.check_inbound_l2tp(Some(s), nat, lns),
            Ok(Admission::Tunnel(t))
        );
    }
    // A fourth client behind the same NAT, its Quick Mode just done and its SA not yet
    // bound to a tunnel: the first match is now tunnel 2's filter, which names another
    // SA. sras-stack binds the SA when Quick Mode completes, before any L2TP arrives.
    assert!(matches!(
        spd.check_inbound_l2tp(Some(SaRef(14)), nat, lns),
        Err(PolicyViolation::WrongSa {
            expected: SaRef(12),
            ..
        })
    ));
    spd.install_l2tp_tunnel(TunnelRef(4), L2tpRole::Responder, lns, nat, SaRef(14))
        .unwrap();
    assert_eq!(
        spd.check_inbound_l2tp(Some(SaRef(14)), nat, lns),
        Ok(Admission::Tunnel(TunnelRef(4)))
    );
}

/// Seed 001 §3.3 [1]: L2TP that did not come through IPsec, where IPsec is required.
#[test]
fn cleartext_l2tp_is_dropped() {
    let lns = sa(LNS);
    let mut spd = Spd::new();
    let listener = spd.add_l2tp_listener(AddrMatch::Exact(lns.ip()), Action::RequireIpsec);
    let stranger = sa("192.0.2.50:1701");
    assert_eq!(
        spd.check_inbound_l2tp(None, stranger, lns),
        Err(PolicyViolation::Cleartext {
            src: stranger,
            dst: lns,
            rule: Some(listener)
        })
    );
    // The SCCRQ of a client whose SA is not (yet) bound to a tunnel: the listener
    // requires IPsec, and it has it.
    assert_eq!(
        spd.check_inbound_l2tp(Some(SaRef(5)), stranger, lns),
        Ok(Admission::Generic {
            rule: Some(listener),
            protected_by: Some(SaRef(5))
        })
    );
    // Not L2TP's port: nothing matches, and the default is to discard.
    assert_eq!(
        spd.check_inbound_l2tp(None, stranger, sa("198.51.100.1:1702")),
        Err(PolicyViolation::Discarded {
            src: stranger,
            dst: sa("198.51.100.1:1702"),
            rule: None
        })
    );
    // An operator's discard rule above the tunnels wins even over IPsec.
    let (t, s) = (TunnelRef(1), SaRef(1));
    let banned = sa("192.0.2.66:1701");
    spd.install_l2tp_tunnel(t, L2tpRole::Responder, lns, banned, s)
        .unwrap();
    assert_eq!(
        spd.check_inbound_l2tp(Some(s), banned, lns),
        Ok(Admission::Tunnel(t))
    );
    let ban = spd.add_rule(
        Direction::Inbound,
        Selector {
            local_addr: AddrMatch::Any,
            remote_addr: AddrMatch::prefix(ip("192.0.2.64"), 30).unwrap(),
            protocol: None,
            local_port: PortMatch::Any,
            remote_port: PortMatch::Any,
        },
        Action::Discard,
        TUNNEL_PRIORITY - 1,
    );
    assert_eq!(
        spd.check_inbound_l2tp(Some(s), banned, lns),
        Err(PolicyViolation::Discarded {
            src: banned,
            dst: lns,
            rule: Some(ban)
        })
    );
    assert!(spd.remove_rule(ban).is_some());
    assert_eq!(
        spd.check_inbound_l2tp(Some(s), banned, lns),
        Ok(Admission::Tunnel(t))
    );

    // Where no IPsec is mandated (an LNS for LACs without IPsec), cleartext passes.
    let open = Spd::with_default(Action::Bypass);
    assert_eq!(
        open.check_inbound_l2tp(None, stranger, lns),
        Ok(Admission::Generic {
            rule: None,
            protected_by: None
        })
    );
}

/// Seed 001 §3.1: once the tunnel is gone, "the L2TP tunnel state and any associated
/// filters can now be safely removed" — and the SAs should be deleted.
#[test]
fn teardown_leaves_no_rule_behind() {
    let (lns, nat) = (sa(LNS), sa(NAT));
    let mut spd = Spd::new();
    spd.add_l2tp_listener(AddrMatch::Exact(lns.ip()), Action::RequireIpsec);
    let generic = spd.len();
    spd.install_l2tp_tunnel(TunnelRef(1), L2tpRole::Responder, lns, nat, SaRef(1))
        .unwrap();
    spd.install_l2tp_tunnel(TunnelRef(2), L2tpRole::Initiator, sa(LAC), lns, SaRef(2))
        .unwrap();
    spd.float_tunnel(TunnelRef(2), sa("198.51.100.1:40000"), Some(SaRef(3)))
        .unwrap();
    assert_eq!(spd.tunnel_count(), 2);
    assert!(spd.len() > generic);

    assert_eq!(spd.remove_tunnel(TunnelRef(1)), Some(vec![SaRef(1)]));
    let mut freed = spd.remove_tunnel(TunnelRef(2)).unwrap();
    freed.sort();
    assert_eq!(freed, [SaRef(2), SaRef(3)]);
    assert_eq!(spd.remove_tunnel(TunnelRef(2)), None);

    assert_eq!(spd.tunnel_count(), 0);
    assert_eq!(spd.len(), generic);
    assert!(spd.rules().all(|r| r.tunnel.is_none()));
    for s in 1..=3 {
        assert!(spd.tunnels_of_sa(SaRef(s)).is_empty());
    }
    assert!(spd.tunnel_rules(TunnelRef(1)).is_empty());
    // The old flows meet only the generic rules now.
    assert_ne!(
        spd.check_inbound_l2tp(Some(SaRef(1)), nat, lns),
        Ok(Admission::Tunnel(TunnelRef(1)))
    );
    assert_eq!(
        spd.check_outbound_l2tp(TunnelRef(1), lns, nat),
        Err(PolicyViolation::UnknownTunnel(TunnelRef(1)))
    );
    assert_eq!(spd.lookup(Direction::Outbound, &Flow::udp(lns, nat)), None);
    // The handle can be used again.
    spd.install_l2tp_tunnel(TunnelRef(1), L2tpRole::Responder, lns, nat, SaRef(4))
        .unwrap();
    assert_eq!(spd.tunnel_rules(TunnelRef(1)).len(), 2);
}

#[test]
fn refusals() {
    let mut spd = Spd::new();
    let (lns, nat) = (sa(LNS), sa(NAT));
    spd.install_l2tp_tunnel(TunnelRef(1), L2tpRole::Responder, lns, nat, SaRef(1))
        .unwrap();
    assert!(spd
        .install_l2tp_tunnel(TunnelRef(1), L2tpRole::Responder, lns, nat, SaRef(1))
        .is_err());
    assert!(spd
        .install_l2tp_tunnel(
            TunnelRef(2),
            L2tpRole::Responder,
            sa("0.0.0.0:1701"),
            nat,
            SaRef(1)
        )
        .is_err());
    assert!(spd
        .install_l2tp_tunnel(
            TunnelRef(2),
            L2tpRole::Responder,
            lns,
            sa("[2001:db8::1]:1701"),
            SaRef(1)
        )
        .is_err());
    assert!(spd.float_tunnel(TunnelRef(5), nat, None).is_err());
    assert!(spd.settle_tunnel(TunnelRef(5)).is_err());
    assert_eq!(
        spd.check_inbound_for_tunnel(TunnelRef(5), None, nat, lns),
        Err(PolicyViolation::UnknownTunnel(TunnelRef(5)))
    );
    // IPv4-mapped IPv6 addresses from a dual-stack socket are the IPv4 ones.
    assert_eq!(
        spd.check_inbound_l2tp(
            Some(SaRef(1)),
            sa("[::ffff:203.0.113.7]:1701"),
            sa("[::ffff:198.51.100.1]:1701")
        ),
        Ok(Admission::Tunnel(TunnelRef(1)))
    );
}

#[derive(Debug, Clone)]
enum Op {
    Install(u8, bool, u8, u16, u8),
    Float(u8, u8, u16, Option<u8>),
    Settle(u8),
    Remove(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..6u8, any::<bool>(), 0..4u8, 0..3u16, 0..6u8)
            .prop_map(|(t, i, a, p, s)| Op::Install(t, i, a, p, s)),
        (0..6u8, 0..4u8, 0..3u16, proptest::option::of(0..6u8))
            .prop_map(|(t, a, p, s)| Op::Float(t, a, p, s)),
        (0..6u8).prop_map(Op::Settle),
        (0..6u8).prop_map(Op::Remove),
    ]
}

fn peer(a: u8, p: u16) -> SocketAddr {
    SocketAddr::from(([203, 0, 113, 1 + a], [0, 1701, 40000][usize::from(p)]))
}

proptest! {
    /// Whatever installs, floats and settles happen, every tunnel is admitted through its
    /// current SA from its current peer, and removing every tunnel leaves only the generic
    /// rules, with no SA bound.
    #[test]
    fn any_history_tears_down_cleanly(ops in proptest::collection::vec(op(), 0..40)) {
        let lns = sa(LNS);
        let mut spd = Spd::new();
        spd.add_l2tp_listener(AddrMatch::Any, Action::RequireIpsec);
        for op in ops {
            match op {
                Op::Install(t, init, a, p, s) => {
                    let role = if init { L2tpRole::Initiator } else { L2tpRole::Responder };
                    let _ = spd.install_l2tp_tunnel(TunnelRef(t.into()), role, lns, peer(a, p), SaRef(s.into()));
                }
                Op::Float(t, a, p, s) => {
                    let _ = spd.float_tunnel(TunnelRef(t.into()), peer(a, p), s.map(|s| SaRef(s.into())));
                }
                Op::Settle(t) => { let _ = spd.settle_tunnel(TunnelRef(t.into())); }
                Op::Remove(t) => { let _ = spd.remove_tunnel(TunnelRef(t.into())); }
            }
            for t in 0..6 {
                let Some(info) = spd.tunnel(TunnelRef(t)) else { continue };
                let src = if info.remote.port() == 0 { SocketAddr::new(info.remote.ip(), 5555) } else { info.remote };
                prop_assert!(spd.tunnels_of_sa(info.sa).contains(&TunnelRef(t)));
                prop_assert_eq!(spd.check_inbound_for_tunnel(TunnelRef(t), Some(info.sa), src, lns), Ok(()));
                prop_assert_eq!(spd.check_outbound_l2tp(TunnelRef(t), lns, src), Ok(info.sa));
                let cleartext = spd.check_inbound_l2tp(None, src, lns);
                prop_assert!(
                    matches!(cleartext, Err(PolicyViolation::Cleartext { .. })),
                    "cleartext admitted: {:?}", cleartext
                );
            }
        }
        for t in 0..6 {
            spd.remove_tunnel(TunnelRef(t));
        }
        prop_assert_eq!(spd.len(), 1);
        prop_assert_eq!(spd.tunnel_count(), 0);
        for s in 0..6 {
            prop_assert!(spd.tunnels_of_sa(SaRef(s)).is_empty());
        }
    }
}

/// An L2TP Hello of tunnel `tid` (RFC 2661 §6.5).
fn hello(tid: u16) -> Vec<u8> {
    let t = tid.to_be_bytes();
    vec![
        0xc8, 0x02, 0x00, 0x14, t[0], t[1], 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, //
        0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06,
    ]
}

fn params(spi: u32) -> SaParams {
    let k = |n: usize, x: u8| (0..n).map(|i| i as u8 ^ x ^ spi as u8).collect::<Vec<u8>>();
    SaParams::new(
        Spi(spi),
        Encryption::AesCbc128,
        k(16, 0x11),
        Integrity::HmacSha1_96,
        k(20, 0x22),
    )
}

/// Seals a UDP/1701 L2TP Hello of tunnel `tid` from `src` to `dst` in transport mode.
fn client_packet(
    sa: &mut OutboundSa,
    now: std::time::Instant,
    src: SocketAddr,
    dst: SocketAddr,
    tid: u16,
) -> Vec<u8> {
    let seg = udp_segment(src, dst, &hello(tid)).unwrap();
    let o = sa.overhead();
    let mut buf = vec![0; o.header + seg.len() + o.trailer_max];
    buf[o.header..o.header + seg.len()].copy_from_slice(&seg);
    let r = sa
        .seal(now, &mut buf, o.header..o.header + seg.len(), 17)
        .unwrap();
    buf[r].to_vec()
}

/// The server's inbound path for ESP that arrived from `outer_src` to `outer_dst`: SAD by
/// SPI, open, then the per-packet check on the decrypted UDP's addresses and ports
/// (transport mode: the outer addresses). Returns the admission and the L2TP tunnel id.
fn server_receive(
    sad: &mut EspSad,
    spd: &Spd,
    now: std::time::Instant,
    outer_src: IpAddr,
    outer_dst: IpAddr,
    esp: &[u8],
) -> Result<(Admission, u16), String> {
    let mut buf = esp.to_vec();
    let spi = peek_spi(&buf).ok_or("short")?;
    let m = sad.inbound_mut(spi, outer_dst).ok_or("unknown SPI")?;
    let opened =
        m.sa.open(now, &mut buf, 0..esp.len())
            .map_err(|e| e.to_string())?;
    assert_eq!(opened.next_header, 17);
    let udp = &buf[opened.payload];
    let sport = u16::from_be_bytes([udp[0], udp[1]]);
    let dport = u16::from_be_bytes([udp[2], udp[3]]);
    let admission = spd
        .check_inbound_l2tp(
            Some(m.sa_ref),
            SocketAddr::new(outer_src, sport),
            SocketAddr::new(outer_dst, dport),
        )
        .map_err(|e| e.to_string())?;
    Ok((admission, u16::from_be_bytes([udp[12], udp[13]])))
}

/// The whole inbound path with real SAs: two Windows clients behind one NAT (UDP 4500,
/// RFC 3948) and one client with raw ESP, each admitted into its own tunnel by the SA that
/// opened its packet; teardown removes the filters and, through the orphaned `SaRef`, the
/// SAs.
#[test]
fn inbound_path_with_real_sas() {
    let now = VirtualClock::new().now();
    let (server, nat) = (sa(LNS), sa(NAT));
    let mut sad = EspSad::new();
    let mut spd = Spd::new();
    spd.add_l2tp_listener(AddrMatch::Exact(server.ip()), Action::RequireIpsec);

    // Quick Mode completes for each client: SAs into the SAD, filters into the SPD.
    let mut clients = Vec::new();
    for (i, spi) in [(1u16, 0x1000_0001u32), (2, 0x1000_0002)] {
        let r = sad.allocate_ref();
        sad.insert_inbound(Spi(spi), None, r, InboundSa::new(params(spi), now).unwrap())
            .unwrap();
        let t = TunnelRef(u32::from(i));
        spd.install_l2tp_tunnel(t, L2tpRole::Responder, server, nat, r)
            .unwrap();
        clients.push((t, r, OutboundSa::new(params(spi), now).unwrap(), i));
    }
    // Each client's L2TP, as the server's 4500 socket receives it (from NAT:4000i).
    for (t, _, out, tid) in &mut clients {
        // The client computed its UDP checksum with its private address; nobody checks it.
        let private = SocketAddr::new(ip(&format!("192.168.1.{}", 10 + *tid)), 1701);
        let esp = client_packet(out, now, private, server, *tid);
        let Udp4500::Esp(esp) = classify(&esp) else {
            panic!("not ESP")
        };
        assert_eq!(
            server_receive(&mut sad, &spd, now, nat.ip(), server.ip(), esp),
            Ok((Admission::Tunnel(*t), *tid))
        );
    }
    // NAT keepalives are recognised and dropped.
    assert_eq!(classify(&NAT_KEEPALIVE), Udp4500::Keepalive);

    // A third client, not behind a NAT, over raw ESP (IP protocol 50).
    let direct = sa("192.0.2.30:1701");
    let r3 = sad.allocate_ref();
    sad.insert_inbound(
        Spi(0x1000_0003),
        Some(server.ip()),
        r3,
        InboundSa::new(params(0x1000_0003), now).unwrap(),
    )
    .unwrap();
    spd.install_l2tp_tunnel(TunnelRef(3), L2tpRole::Responder, server, direct, r3)
        .unwrap();
    let mut out3 = OutboundSa::new(params(0x1000_0003), now).unwrap();
    let esp = client_packet(&mut out3, now, direct, server, 3);
    let datagram = ip_packet(direct.ip(), server.ip(), 50, &esp).unwrap();
    let raw = strip_ipv4(&datagram).unwrap();
    assert_eq!(
        server_receive(&mut sad, &spd, now, raw.src.into(), raw.dst.into(), raw.esp),
        Ok((Admission::Tunnel(TunnelRef(3)), 3))
    );
    // Client 3 spoofing the NAT's address through its own SA (raw ESP with a forged
    // source): its SA is bound to tunnel 3 only.
    let esp = client_packet(&mut out3, now, nat, server, 1);
    let err = server_receive(&mut sad, &spd, now, nat.ip(), server.ip(), &esp).unwrap_err();
    assert!(err.contains("policy requires SA"), "{err}");

    // Client 1 hangs up: its filters go, and the SAs of its orphaned flow with them.
    let (t1, r1) = (clients[0].0, clients[0].1);
    let orphans = spd.remove_tunnel(t1).unwrap();
    assert_eq!(orphans, [r1]);
    for r in orphans {
        let removed = sad.remove_ref(r);
        assert_eq!(removed.inbound.len(), 1);
    }
    let esp = client_packet(&mut clients[0].2, now, nat, server, 1);
    assert_eq!(
        server_receive(&mut sad, &spd, now, nat.ip(), server.ip(), &esp),
        Err("unknown SPI".to_owned())
    );
    // Client 2 is unaffected.
    let esp = client_packet(&mut clients[1].2, now, nat, server, 2);
    assert_eq!(
        server_receive(&mut sad, &spd, now, nat.ip(), server.ip(), &esp),
        Ok((Admission::Tunnel(TunnelRef(2)), 2))
    );
    assert_eq!(sad.inbound_len(), 2);
}
