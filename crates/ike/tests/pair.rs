//! In-memory initiator/responder pairs: Main Mode + Quick Mode with pre-shared keys for every
//! profile, NAT-T (real NAT and forced), loss and duplication, DPD, Delete, rekeying.

mod support;

use std::time::Duration;

use sras_ike::{ChildRequest, Config, DownReason, DpdConfig, Encapsulation, Profile};
use sras_testkit::{LinkConfig, Network};
use support::*;

fn establish(
    server: Config,
    client: Config,
    link: LinkConfig,
    seed: u64,
) -> (Network<IkeNode>, usize, usize) {
    let mut net = Network::new(seed, link);
    let (s, c) = add_pair(
        &mut net,
        IkeNode::new(server, 1),
        IkeNode::new(client, 2),
        CLIENT,
    );
    let now = net.now();
    net.node_mut(c).ep.connect(
        now,
        addr(CLIENT, 500),
        addr(SERVER, 500),
        ChildRequest::default(),
    );
    let ok = net.drive_until(5 * MINUTE, |n| {
        !n.node(s).children_up().is_empty() && !n.node(c).children_up().is_empty()
    });
    assert!(
        ok,
        "no SA pair: server {:?} client {:?}",
        net.node(s).ep.stats(),
        net.node(c).ep.stats()
    );
    (net, s, c)
}

#[test]
fn psk_main_mode_and_quick_mode() {
    let (net, s, c) = establish(psk_config(), psk_config(), LinkConfig::ideal(), 1);
    let (server, client) = (net.node(s), net.node(c));
    assert_eq!(server.phase1_up(), 1);
    assert_eq!(client.phase1_up(), 1);
    assert_children_agree(server, client);
    let child = server.children_up()[0];
    assert_eq!(child.encapsulation, Encapsulation::Transport);
    assert_eq!(
        (
            child.selectors.protocol,
            child.selectors.local_port,
            child.selectors.remote_port
        ),
        (17, 1701, 1701)
    );
    // Exactly six Main Mode and three Quick Mode messages crossed.
    assert_eq!(net.stats().delivered, 9, "{:?}", net.stats());
}

#[test]
fn every_profile_negotiates_its_first_suite() {
    for (i, p) in [Profile::modern(), Profile::compatible(), Profile::legacy()]
        .into_iter()
        .enumerate()
    {
        let cfg = || Config {
            profile: p.clone(),
            ..psk_config()
        };
        let (net, s, c) = establish(cfg(), cfg(), LinkConfig::ideal(), 10 + i as u64);
        assert_children_agree(net.node(s), net.node(c));
        let child = net.node(s).children_up()[0];
        assert_eq!(child.inbound.encryption, p.esp[0].encryption, "{}", p.name);
    }
}

#[test]
fn each_phase1_suite_of_the_legacy_profile_works_alone() {
    // One run per cipher x hash x group, the initiator offering just that suite.
    let legacy = Profile::legacy();
    let mut n = 0;
    let mut all = Vec::new();
    for &cipher in &legacy.ciphers {
        for &hash in &legacy.hashes {
            for &group in &legacy.groups {
                all.push(sras_ike::Phase1Suite {
                    cipher,
                    hash,
                    group,
                });
            }
        }
    }
    for (i, suite) in all.into_iter().enumerate() {
        // Keep the run short: every cipher and hash with MODP-1024, every group with AES-128/SHA1.
        let cheap = suite.group == sras_ike::crypto::DhGroup::Modp1024;
        let probe = suite.cipher == sras_ike::crypto::CipherAlgorithm::AesCbc128
            && suite.hash == sras_ike::crypto::HashAlgorithm::Sha1;
        if !(cheap || probe) {
            continue;
        }
        let only = Profile {
            ciphers: vec![suite.cipher],
            hashes: vec![suite.hash],
            groups: vec![suite.group],
            ..legacy.clone()
        };
        let client = Config {
            profile: only,
            ..psk_config()
        };
        let server = Config {
            profile: legacy.clone(),
            ..psk_config()
        };
        let (net, s, c) = establish(server, client, LinkConfig::ideal(), 100 + i as u64);
        assert_children_agree(net.node(s), net.node(c));
        n += 1;
    }
    assert!(n >= 20, "{n} suites");
}

#[test]
fn wrong_psk_fails_without_sa() {
    let mut client = psk_config();
    client.psk[0].secret = zeroize::Zeroizing::new(b"not the key".to_vec());
    let mut net = Network::new(3, LinkConfig::ideal());
    let (s, c) = add_pair(
        &mut net,
        IkeNode::new(psk_config(), 1),
        IkeNode::new(client, 2),
        CLIENT,
    );
    let now = net.now();
    net.node_mut(c).ep.connect(
        now,
        addr(CLIENT, 500),
        addr(SERVER, 500),
        ChildRequest::default(),
    );
    net.run_for(5 * MINUTE);
    assert_eq!(net.node(s).phase1_up(), 0);
    assert_eq!(net.node(c).phase1_up(), 0);
    assert!(net.node(s).ep.stats().bad_auth >= 1);
    // Both sides gave up and hold nothing.
    assert_eq!(net.node(s).ep.sa_count(), 0);
    assert_eq!(net.node(c).ep.sa_count(), 0);
}

#[test]
fn nat_between_floats_to_4500_and_encapsulates() {
    let mut net = Network::new(4, LinkConfig::ideal());
    let (s, c) = add_pair(
        &mut net,
        IkeNode::new(psk_config(), 1),
        IkeNode::new(psk_config(), 2),
        "10.0.0.2",
    );
    net.set_filter(nat("10.0.0.2", "203.0.113.9"));
    let now = net.now();
    net.node_mut(c).ep.connect(
        now,
        addr("10.0.0.2", 500),
        addr(SERVER, 500),
        ChildRequest::default(),
    );
    assert!(
        net.drive_until(MINUTE, |n| !n.node(s).children_up().is_empty()
            && !n.node(c).children_up().is_empty())
    );
    let (server, client) = (net.node(s), net.node(c));
    assert_children_agree(server, client);
    let sc = server.children_up()[0];
    assert_eq!(sc.encapsulation, Encapsulation::UdpTransport);
    assert_eq!(
        sc.remote,
        addr("203.0.113.9", 1501),
        "the server follows the NAT mapping of port 4500"
    );
    assert_eq!(sc.local.port(), 4500);
    assert_eq!(
        sc.peer_original,
        Some("10.0.0.2".parse().unwrap()),
        "NAT-OA gives the client's own address"
    );
}

#[test]
fn forced_encapsulation_without_nat() {
    let server = Config {
        force_encapsulation: true,
        ..psk_config()
    };
    let (net, s, c) = establish(server, psk_config(), LinkConfig::ideal(), 5);
    assert_children_agree(net.node(s), net.node(c));
    assert_eq!(
        net.node(s).children_up()[0].encapsulation,
        Encapsulation::UdpTransport
    );
    assert_eq!(net.node(c).children_up()[0].remote.port(), 4500);
}

#[test]
fn nat_traversal_off_means_raw_esp() {
    let off = || Config {
        nat_traversal: false,
        ..psk_config()
    };
    let (net, s, c) = establish(off(), off(), LinkConfig::ideal(), 6);
    assert_eq!(
        net.node(s).children_up()[0].encapsulation,
        Encapsulation::Transport
    );
    assert_children_agree(net.node(s), net.node(c));
}

#[test]
fn survives_loss_duplication_and_reordering() {
    for seed in 0..20 {
        let link = LinkConfig::with_latency(Duration::from_millis(20))
            .loss(0.2)
            .duplicate(0.1)
            .reorder(0.2);
        let (net, s, c) = establish(psk_config(), psk_config(), link, 1000 + seed);
        assert_children_agree(net.node(s), net.node(c));
        assert_eq!(net.node(s).phase1_up(), 1, "seed {seed}");
    }
}

#[test]
fn delete_from_the_client_reaches_the_server() {
    let (mut net, s, c) = establish(psk_config(), psk_config(), LinkConfig::ideal(), 7);
    let now = net.now();
    net.node_mut(c).ep.delete_all(now);
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.node(s).phase2_down(&DownReason::PeerDeleted), 1);
    assert_eq!(net.node(s).phase1_down(&DownReason::PeerDeleted), 1);
    assert_eq!(net.node(s).ep.sa_count(), 0);
    assert_eq!(net.node(c).ep.sa_count(), 0);
}

#[test]
fn delete_of_one_child_from_the_server() {
    let (mut net, s, c) = establish(psk_config(), psk_config(), LinkConfig::ideal(), 8);
    let spi = net.node(s).children_up()[0].inbound.spi;
    let now = net.now();
    net.node_mut(s).ep.delete_child(now, spi);
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.node(c).phase2_down(&DownReason::PeerDeleted), 1);
    assert!(net.node(c).live_spis().is_empty());
    // The ISAKMP SA stays.
    assert_eq!(net.node(c).ep.established_count(), 1);
}

#[test]
fn dead_peer_detected_both_ways() {
    let dpd = Some(DpdConfig {
        delay: Duration::from_secs(10),
        timeout: Duration::from_secs(30),
    });
    let cfg = || Config {
        dpd,
        ..psk_config()
    };
    let (mut net, s, c) = establish(cfg(), cfg(), LinkConfig::ideal(), 9);
    // Idle but alive: probes are answered, nothing dies.
    net.run_for(3 * MINUTE);
    assert_eq!(net.node(s).phase1_down(&DownReason::DeadPeer), 0);
    assert_eq!(net.node(c).phase1_down(&DownReason::DeadPeer), 0);
    // The link dies.
    net.set_filter(|_| sras_testkit::Verdict::Drop);
    let t0 = net.now();
    net.drive_until(5 * MINUTE, |n| {
        n.node(s).phase1_down(&DownReason::DeadPeer) == 1
            && n.node(c).phase1_down(&DownReason::DeadPeer) == 1
    });
    let took = net.now() - t0;
    assert_eq!(net.node(s).phase1_down(&DownReason::DeadPeer), 1);
    assert_eq!(net.node(c).phase1_down(&DownReason::DeadPeer), 1);
    assert_eq!(net.node(s).phase2_down(&DownReason::DeadPeer), 1);
    assert!(took <= Duration::from_secs(10 + 30 + 10), "took {took:?}");
    assert_eq!(net.node(s).ep.sa_count(), 0);
}

#[test]
fn rekeys_before_expiry_under_loss_without_a_gap() {
    let cfg = || Config {
        phase1_lifetime: Duration::from_secs(600),
        phase2_lifetime: Duration::from_secs(120),
        rekey_margin: Duration::from_secs(30),
        ..psk_config()
    };
    let link = LinkConfig::with_latency(Duration::from_millis(30)).loss(0.1);
    let (mut net, s, c) = establish(cfg(), cfg(), link, 11);
    for _ in 0..60 {
        net.run_for(Duration::from_secs(30));
        // At every point both sides hold a common, working SA pair.
        let (ss, cs) = (net.node(s).live_spis(), net.node(c).live_spis());
        let common = ss
            .iter()
            .any(|(i, o)| cs.iter().any(|(ci, co)| ci == o && co == i));
        assert!(
            common,
            "no common SA at {:?}: server {ss:?} client {cs:?}",
            net.elapsed()
        );
    }
    // 30 minutes at 2-minute lifetimes: about 15 rekeys, and phase 1 rekeyed too.
    assert!(
        net.node(c).children_up().len() >= 12,
        "{}",
        net.node(c).children_up().len()
    );
    assert!(net.node(c).phase1_up() >= 3, "{}", net.node(c).phase1_up());
    assert_children_agree(net.node(s), net.node(c));
    // Old SAs are removed, not accumulated, and the server's IPsec SAs moved to the client's
    // new ISAKMP SA when the old one was deleted.
    assert!(
        net.node(s).live_spis().len() <= 2,
        "{:?}",
        net.node(s).live_spis()
    );
    assert!(
        net.node(s).ep.sa_count() <= 2,
        "{}",
        net.node(s).ep.sa_count()
    );
    assert!(net.node(s).phase1_down(&DownReason::PeerDeleted) >= 2);
}

#[test]
fn responder_lifetime_notify_shortens_a_long_offer() {
    let server = Config {
        phase2_lifetime: Duration::from_secs(900),
        ..psk_config()
    };
    let client = Config {
        phase2_lifetime: Duration::from_secs(28_800),
        ..psk_config()
    };
    let (net, s, c) = establish(server, client, LinkConfig::ideal(), 12);
    assert_eq!(
        net.node(s).children_up()[0].lifetime,
        Duration::from_secs(900)
    );
    assert_eq!(
        net.node(c).children_up()[0].lifetime,
        Duration::from_secs(900),
        "the client honours RESPONDER-LIFETIME"
    );
}

#[test]
fn pfs_quick_mode() {
    let client = Config {
        pfs: Some(sras_ike::crypto::DhGroup::Modp2048),
        ..psk_config()
    };
    let (net, s, c) = establish(psk_config(), client, LinkConfig::ideal(), 13);
    assert_children_agree(net.node(s), net.node(c));
}

#[test]
fn gcm_esp_when_both_prefer_it() {
    let (net, s, c) = establish(psk_config(), psk_config(), LinkConfig::ideal(), 14);
    assert_eq!(
        net.node(s).children_up()[0].inbound.encryption,
        sras_esp::Encryption::AesGcm256
    );
    assert_children_agree(net.node(s), net.node(c));
}

fn establish_certs(
    server: Config,
    client: Config,
    link: LinkConfig,
    seed: u64,
    client_ip: &str,
) -> (Network<IkeNode>, usize, usize, bool) {
    let mut net = Network::new(seed, link);
    let (s, c) = add_pair(
        &mut net,
        IkeNode::new(server, 1),
        IkeNode::new(client, 2),
        client_ip,
    );
    let now = net.now();
    net.node_mut(s).ep.set_unix_time(now, UNIX_NOW);
    net.node_mut(c).ep.set_unix_time(now, UNIX_NOW);
    net.node_mut(c).ep.connect(
        now,
        addr(client_ip, 500),
        addr(SERVER, 500),
        ChildRequest::default(),
    );
    let ok = net.drive_until(2 * MINUTE, |n| {
        !n.node(s).children_up().is_empty() && !n.node(c).children_up().is_empty()
    });
    (net, s, c, ok)
}

#[test]
fn certificates_main_mode() {
    let (net, s, c, ok) = establish_certs(
        cert_config("server"),
        cert_config("client"),
        LinkConfig::ideal(),
        20,
        CLIENT,
    );
    assert!(
        ok,
        "server {:?} client {:?}",
        net.node(s).ep.stats(),
        net.node(c).ep.stats()
    );
    assert_children_agree(net.node(s), net.node(c));
    let up = net
        .node(s)
        .events
        .iter()
        .find_map(|e| {
            if let sras_ike::Event::Phase1Up(i) = e {
                Some(i.clone())
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(up.auth, sras_ike::AuthMethod::RsaSignature);
    // The client's ID is its certificate's subject DN.
    assert_eq!(up.peer_id.id_type, sras_ike::wire::IdType::DerAsn1Dn);
}

#[test]
fn certificates_behind_nat_under_loss() {
    let link = LinkConfig::with_latency(Duration::from_millis(10))
        .loss(0.15)
        .duplicate(0.05);
    let mut net_ok = 0;
    for seed in 0..5 {
        let mut net = Network::new(30 + seed, link);
        let (s, c) = add_pair(
            &mut net,
            IkeNode::new(cert_config("server"), 1),
            IkeNode::new(cert_config("client"), 2),
            "10.0.0.2",
        );
        net.set_filter(nat("10.0.0.2", "203.0.113.9"));
        let now = net.now();
        net.node_mut(s).ep.set_unix_time(now, UNIX_NOW);
        net.node_mut(c).ep.set_unix_time(now, UNIX_NOW);
        net.node_mut(c).ep.connect(
            now,
            addr("10.0.0.2", 500),
            addr(SERVER, 500),
            ChildRequest::default(),
        );
        if net.drive_until(3 * MINUTE, |n| {
            !n.node(s).children_up().is_empty() && !n.node(c).children_up().is_empty()
        }) {
            assert_children_agree(net.node(s), net.node(c));
            assert_eq!(
                net.node(s).children_up()[0].encapsulation,
                Encapsulation::UdpTransport
            );
            net_ok += 1;
        }
    }
    assert_eq!(net_ok, 5);
}

#[test]
fn certificate_from_an_unknown_ca_is_refused() {
    use sras_ike::cert::{Certificate, TrustStore};
    let mut server = cert_config("server");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/certs/");
    let other =
        Certificate::from_pem(&std::fs::read_to_string(format!("{dir}other-ca.pem")).unwrap())
            .unwrap();
    server.certificate.as_mut().unwrap().trust = TrustStore::new(other);
    let (net, s, _c, ok) = establish_certs(
        server,
        cert_config("client"),
        LinkConfig::ideal(),
        21,
        CLIENT,
    );
    assert!(!ok);
    assert_eq!(net.node(s).phase1_up(), 0);
    assert!(net.node(s).ep.stats().bad_auth >= 1);
}

#[test]
fn certificate_not_matching_the_id_is_refused() {
    // The client claims 192.0.2.9 but its certificate names 192.0.2.3.
    let mut client = cert_config("client");
    client.local_id = Some(sras_ike::wire::Identification::ip(
        "192.0.2.9".parse().unwrap(),
        17,
        500,
    ));
    let (net, s, _c, ok) = establish_certs(
        cert_config("server"),
        client,
        LinkConfig::ideal(),
        22,
        CLIENT,
    );
    assert!(!ok);
    assert_eq!(net.node(s).phase1_up(), 0);
}

#[test]
fn certificate_id_by_address_is_accepted() {
    let mut client = cert_config("client");
    client.local_id = Some(sras_ike::wire::Identification::ip(
        CLIENT.parse().unwrap(),
        17,
        500,
    ));
    let (net, s, c, ok) = establish_certs(
        cert_config("server"),
        client,
        LinkConfig::ideal(),
        23,
        CLIENT,
    );
    assert!(ok);
    assert_children_agree(net.node(s), net.node(c));
}

fn psk(peer: sras_ike::PeerSelector, key: &[u8]) -> sras_ike::PskEntry {
    sras_ike::PskEntry {
        peer,
        secret: zeroize::Zeroizing::new(key.to_vec()),
    }
}

#[test]
fn main_mode_keys_per_peer_id() {
    use sras_ike::PeerSelector::Id;
    let server = Config {
        psk: vec![
            psk(Id(b"bob.example".to_vec()), b"bob-key"),
            psk(Id(b"alice.example".to_vec()), b"alice-key"),
        ],
        ..Config::default()
    };
    let alice = Config {
        psk: vec![psk(sras_ike::PeerSelector::Any, b"alice-key")],
        local_id: Some(sras_ike::wire::Identification::fqdn("alice.example")),
        ..Config::default()
    };
    let (net, s, c) = establish(server.clone(), alice, LinkConfig::ideal(), 40);
    assert_children_agree(net.node(s), net.node(c));
    let up = net
        .node(s)
        .events
        .iter()
        .find_map(|e| {
            if let sras_ike::Event::Phase1Up(i) = e {
                Some(i.clone())
            } else {
                None
            }
        })
        .unwrap();
    assert!(!up.group_key);
    assert_eq!(up.peer_id.data, b"alice.example");

    // Bob's key with Alice's name does not get in.
    let mallory = Config {
        psk: vec![psk(sras_ike::PeerSelector::Any, b"bob-key")],
        local_id: Some(sras_ike::wire::Identification::fqdn("alice.example")),
        ..Config::default()
    };
    let mut net = Network::new(41, LinkConfig::ideal());
    let (s, c) = add_pair(
        &mut net,
        IkeNode::new(server, 1),
        IkeNode::new(mallory, 2),
        CLIENT,
    );
    let now = net.now();
    net.node_mut(c).ep.connect(
        now,
        addr(CLIENT, 500),
        addr(SERVER, 500),
        ChildRequest::default(),
    );
    net.run_for(3 * MINUTE);
    assert_eq!(net.node(s).phase1_up(), 0);
}
