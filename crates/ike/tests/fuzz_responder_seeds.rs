//! Seeds for the stateful fuzz target `ike_responder`: real exchanges recorded in the target's
//! input format (`Endpoint::fuzz_responder`). The test checks each committed seed is still what
//! the recording gives and still drives the responder as deep as it did (so the corpus keeps
//! reaching Quick Mode, Informational and DPD states), and runs the target over every file of
//! the corpus; `SRAS_WRITE_FUZZ_SEEDS=1` rewrites the seeds after a protocol change.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use sras_ike::crypto::{keymat, CipherAlgorithm, DhGroup, HashAlgorithm};
use sras_ike::fuzzing::HashMode;
use sras_ike::proposal::{offer_phase1, offer_phase2};
use sras_ike::wire::{
    encode_message, split_payloads, Delete, ExchangeType, Flags, FragmentPayload, Header,
    Identification, Notification, NotifyType, PayloadType, ProtocolId, DOI_IPSEC, ISAKMP_VERSION,
};
use sras_ike::{
    AuthMethod, ChildRequest, DownReason, Encapsulation, Endpoint, Event, Profile, Stats,
};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/ike_responder")
}

#[allow(clippy::disallowed_methods)] // tests own the clock
fn start() -> Instant {
    Instant::now()
}

/// The harness's addresses (see `Endpoint::fuzz_responder`).
fn server_addr(port: u16) -> SocketAddr {
    SocketAddr::new("192.0.2.1".parse().unwrap(), port)
}

fn client_addr(port: u16) -> SocketAddr {
    SocketAddr::new("192.0.2.3".parse().unwrap(), port)
}

/// What the client sends, recorded as datagram records (source 0/1 by its port, kind by the
/// destination port), while the two endpoints talk until quiet. `inside` is the client's own
/// address when a NAT maps it to the harness's 192.0.2.3.
fn pump(
    now: Instant,
    server: &mut Endpoint,
    client: &mut Endpoint,
    inside: Option<&str>,
    input: &mut Vec<u8>,
) {
    let outside = |a: SocketAddr| SocketAddr::new(client_addr(0).ip(), a.port());
    let inward =
        |a: SocketAddr| inside.map_or(a, |ip| SocketAddr::new(ip.parse().unwrap(), a.port()));
    for _ in 0..32 {
        let mut moved = false;
        while let Some(t) = client.poll_transmit() {
            moved = true;
            let from = outside(t.source.unwrap());
            let source = u8::from(from.port() == 4500);
            let (kind, bytes) = if t.destination.port() == 4500 {
                (1, &t.payload[4..])
            } else {
                (0, &t.payload[..])
            };
            Endpoint::fuzz_responder_datagram(input, source, kind, bytes);
            let _ = server.handle_datagram(now, t.destination, from, &t.payload);
        }
        while let Some(t) = server.poll_transmit() {
            moved = true;
            let _ =
                client.handle_datagram(now, inward(t.destination), t.source.unwrap(), &t.payload);
        }
        if !moved {
            return;
        }
    }
    panic!("no end to the exchange");
}

fn events(ep: &mut Endpoint) -> Vec<Event> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

/// A client's Main Mode and Quick Mode (behind a NAT with `inside`), a few seconds of quiet, then
/// its Deletes.
fn record_client(inside: Option<&str>) -> Vec<u8> {
    let now = start();
    let (mut server, _) = Endpoint::fuzz_responder_endpoints(now, false);
    let (_, mut client) = Endpoint::fuzz_responder_endpoints(now, false);
    let mut input = vec![0];
    let local = inside.map_or(client_addr(500), |ip| {
        SocketAddr::new(ip.parse().unwrap(), 500)
    });
    client.connect(now, local, server_addr(500), ChildRequest::default());
    pump(now, &mut server, &mut client, inside, &mut input);
    let up: Vec<_> = events(&mut server)
        .into_iter()
        .filter_map(|e| {
            if let Event::Phase2Up(c) = e {
                Some(c.encapsulation)
            } else {
                None
            }
        })
        .collect();
    let want = if inside.is_some() {
        Encapsulation::UdpTransport
    } else {
        Encapsulation::Transport
    };
    assert_eq!(up, vec![want], "the recording reached Quick Mode");
    input.push(0x80 | 5);
    let later = now + Duration::from_secs(5);
    server.handle_timeout(later);
    client.handle_timeout(later);
    pump(later, &mut server, &mut client, inside, &mut input);
    client.delete_all(later);
    pump(later, &mut server, &mut client, inside, &mut input);
    assert_eq!(server.sa_count(), 0, "the Deletes reached the server");
    input
}

/// The helper client's (deterministic) SA: cookies and its first IPsec SA's inbound SPI.
fn helper_sa() -> (([u8; 8], [u8; 8]), u32, Endpoint) {
    let (_, client) = Endpoint::fuzz_responder_endpoints(start(), true);
    let cookies = client.established_cookies()[0];
    let spi = client.children()[0].1 .0;
    (cookies, spi, client)
}

fn spi16(c: ([u8; 8], [u8; 8])) -> Vec<u8> {
    [c.0, c.1].concat()
}

fn notify(notify_type: NotifyType, spi: Vec<u8>, data: Vec<u8>) -> Vec<u8> {
    let mut b = Vec::new();
    Notification {
        doi: DOI_IPSEC,
        protocol: ProtocolId::Isakmp,
        notify_type,
        spi,
        data,
    }
    .encode(&mut b);
    b
}

fn delete(protocol: ProtocolId, spi_size: u8, spi: Vec<u8>) -> Vec<u8> {
    let mut b = Vec::new();
    Delete {
        doi: DOI_IPSEC,
        protocol,
        spi_size,
        spis: vec![spi],
    }
    .encode(&mut b);
    b
}

/// DPD both ways through the helper, forged R-U-THERE and ACKs, then the helper falls silent
/// and is declared dead.
fn record_dpd() -> Vec<u8> {
    let (cookies, _, _) = helper_sa();
    let mut input = vec![1, 0x80 | 11, 0x40, 0x80 | 11, 0x40];
    let there = notify(
        NotifyType::DpdRUThere,
        spi16(cookies),
        5u32.to_be_bytes().to_vec(),
    );
    let ack = notify(
        NotifyType::DpdRUThereAck,
        spi16(cookies),
        0xffff_fff0u32.to_be_bytes().to_vec(),
    );
    let other = notify(
        NotifyType::DpdRUThere,
        vec![0x42; 16],
        6u32.to_be_bytes().to_vec(),
    );
    Endpoint::fuzz_responder_protected(
        &mut input,
        false,
        HashMode::Correct,
        0x0d0d_0001,
        &[(PayloadType::Notification, &there)],
    );
    Endpoint::fuzz_responder_protected(
        &mut input,
        false,
        HashMode::Correct,
        0x0d0d_0002,
        &[(PayloadType::Notification, &ack)],
    );
    Endpoint::fuzz_responder_protected(
        &mut input,
        false,
        HashMode::Correct,
        0x0d0d_0003,
        &[(PayloadType::Notification, &other)],
    );
    Endpoint::fuzz_responder_protected(
        &mut input,
        false,
        HashMode::Wrong,
        0x0d0d_0004,
        &[(PayloadType::Notification, &there)],
    );
    // The helper falls silent: probes go unanswered for 60 s.
    input.push(0x40);
    input.extend_from_slice(&[0x80 | 5; 12]);
    input.push(0x40);
    input
}

/// Quick Mode forged and real, rekeys, Deletes of IPsec and ISAKMP SAs, a second Main Mode.
fn record_quick_and_delete() -> Vec<u8> {
    let (cookies, spi, _) = helper_sa();
    let mut input = vec![1];
    let sa = offer_phase2(
        &Profile::compatible(),
        [0x11, 0x22, 0x33, 0x44],
        Encapsulation::Transport,
        false,
        None,
        Duration::from_secs(600),
    )
    .to_vec();
    let ni = [7u8; 32];
    let mut idci = Vec::new();
    Identification::ip(client_addr(0).ip(), 17, 1701).encode(&mut idci);
    let mut idcr = Vec::new();
    Identification::ip(server_addr(0).ip(), 17, 1701).encode(&mut idcr);
    let qm1: [(PayloadType, &[u8]); 4] = [
        (PayloadType::Sa, &sa),
        (PayloadType::Nonce, &ni),
        (PayloadType::Identification, &idci),
        (PayloadType::Identification, &idcr),
    ];
    Endpoint::fuzz_responder_protected(&mut input, true, HashMode::Correct, 0x0e0e_0001, &qm1);
    Endpoint::fuzz_responder_protected(&mut input, true, HashMode::Wrong, 0x0e0e_0002, &qm1);
    Endpoint::fuzz_responder_protected(&mut input, true, HashMode::Omitted, 0x0e0e_0003, &qm1);
    input.extend_from_slice(&[0x41, 0x40, 0x44, 0x40]);
    let del_esp = delete(ProtocolId::IpsecEsp, 4, spi.to_be_bytes().to_vec());
    let ic = notify(NotifyType::InitialContact, spi16(cookies), Vec::new());
    Endpoint::fuzz_responder_protected(
        &mut input,
        false,
        HashMode::Correct,
        0x0e0e_0004,
        &[
            (PayloadType::Delete, &del_esp),
            (PayloadType::Notification, &ic),
        ],
    );
    input.extend_from_slice(&[0x43, 0x40]);
    let del = delete(ProtocolId::Isakmp, 16, spi16(cookies));
    let there = notify(
        NotifyType::DpdRUThere,
        spi16(cookies),
        9u32.to_be_bytes().to_vec(),
    );
    Endpoint::fuzz_responder_protected(
        &mut input,
        false,
        HashMode::Empty,
        0x0e0e_0005,
        &[(PayloadType::Delete, &del)],
    );
    Endpoint::fuzz_responder_protected(
        &mut input,
        false,
        HashMode::Correct,
        0x0e0e_0006,
        &[
            (PayloadType::Delete, &del),
            (PayloadType::Delete, &del),
            (PayloadType::Notification, &there),
        ],
    );
    input.extend_from_slice(&[0x42, 0x40, 0x80 | 60]);
    input
}

/// A protected R-U-THERE in three fragments (out of order), and bad fragments around it.
fn record_fragments() -> Vec<u8> {
    let (cookies, _, client) = helper_sa();
    let there = notify(
        NotifyType::DpdRUThere,
        spi16(cookies),
        77u32.to_be_bytes().to_vec(),
    );
    let msg = client
        .forge_protected(
            cookies,
            ExchangeType::Informational,
            0x0f0f_0001,
            &[(PayloadType::Notification, &there)],
            HashMode::Correct,
        )
        .unwrap();
    let frag = |id: u16, number: u8, last: bool, data: &[u8]| {
        let mut body = Vec::new();
        FragmentPayload {
            id,
            number,
            last,
            data: data.to_vec(),
        }
        .encode(&mut body);
        let h = Header {
            initiator_cookie: cookies.0,
            responder_cookie: cookies.1,
            next_payload: PayloadType::None,
            version: ISAKMP_VERSION,
            exchange_type: ExchangeType::Informational,
            flags: Flags::NONE,
            message_id: 0,
            length: 0,
        };
        encode_message(&h, &[(PayloadType::Fragment, &body)])
    };
    let third = msg.len().div_ceil(3);
    let parts: Vec<&[u8]> = msg.chunks(third).collect();
    let mut input = vec![1];
    for bytes in [
        frag(1, 0, false, parts[0]),
        frag(1, 17, true, parts[0]),
        frag(2, 3, true, parts[2]),
        frag(2, 1, false, parts[0]),
        frag(2, 1, false, parts[0]),
        frag(2, 2, false, parts[1]),
        frag(3, 1, false, parts[0]),
    ] {
        Endpoint::fuzz_responder_datagram(&mut input, 0, 0, &bytes);
    }
    input.extend_from_slice(&[0x40, 0x80 | 31]);
    input
}

/// Aggressive Mode (the fuzz responder answers it) from an initiator written here.
fn record_aggressive() -> Vec<u8> {
    let now = start();
    let (mut server, _) = Endpoint::fuzz_responder_endpoints(now, false);
    let psk = server.config().psk[0].secret.to_vec();
    let suite = sras_ike::Phase1Suite {
        cipher: CipherAlgorithm::AesCbc256,
        hash: HashAlgorithm::Sha256,
        group: DhGroup::Ecp256,
    };
    let profile = Profile {
        ciphers: vec![suite.cipher],
        hashes: vec![suite.hash],
        groups: vec![suite.group],
        ..Profile::compatible()
    };
    let sai_b = offer_phase1(
        &profile,
        AuthMethod::PreSharedKey,
        Duration::from_secs(3600),
    )
    .to_vec();
    let mut rng = StdRng::seed_from_u64(1);
    let dh = suite.group.generate(&mut rng).unwrap();
    let gxi = dh.public_value().to_vec();
    let ni = [0x4e; 32];
    let cky_i = [0xa6; 8];
    let mut idii = Vec::new();
    Identification::fqdn("fuzz.example").encode(&mut idii);
    let header = |cky_r: [u8; 8]| Header {
        initiator_cookie: cky_i,
        responder_cookie: cky_r,
        next_payload: PayloadType::None,
        version: ISAKMP_VERSION,
        exchange_type: ExchangeType::Aggressive,
        flags: Flags::NONE,
        message_id: 0,
        length: 0,
    };
    let am1 = encode_message(
        &header([0; 8]),
        &[
            (PayloadType::Sa, &sai_b),
            (PayloadType::KeyExchange, &gxi),
            (PayloadType::Nonce, &ni),
            (PayloadType::Identification, &idii),
        ],
    );
    let mut input = vec![0];
    Endpoint::fuzz_responder_datagram(&mut input, 0, 0, &am1);
    server
        .handle_datagram(now, server_addr(500), client_addr(500), &am1)
        .unwrap();
    let am2 = server.poll_transmit().unwrap().payload;
    let h = Header::decode(&am2).unwrap();
    let body = h.body(&am2);
    let get = |kind: PayloadType| {
        split_payloads(h.next_payload, body)
            .unwrap()
            .into_iter()
            .find(|p| p.kind == kind)
            .unwrap()
            .body(body)
            .to_vec()
    };
    let (gxr, nr) = (get(PayloadType::KeyExchange), get(PayloadType::Nonce));
    let skeyid = keymat::skeyid_psk(suite.hash, &psk, &ni, &nr);
    let hash_i = keymat::hash_i(
        suite.hash,
        skeyid.as_bytes(),
        &gxi,
        &gxr,
        &cky_i,
        &h.responder_cookie,
        &sai_b,
        &idii,
    );
    let am3 = encode_message(
        &header(h.responder_cookie),
        &[(PayloadType::Hash, hash_i.as_bytes())],
    );
    Endpoint::fuzz_responder_datagram(&mut input, 0, 0, &am3);
    server
        .handle_datagram(now, server_addr(500), client_addr(500), &am3)
        .unwrap();
    assert_eq!(
        server.established_count(),
        1,
        "the recording established Aggressive Mode"
    );
    // Garbage on port 4500: a keepalive, a marker alone, an IKEv2 header.
    for bytes in [&[0xffu8][..], &[], &am1[..20]] {
        Endpoint::fuzz_responder_datagram(&mut input, 1, 1, bytes);
    }
    let mut v2 = am1.clone();
    v2[17] = 0x20;
    Endpoint::fuzz_responder_datagram(&mut input, 2, 0, &v2);
    input.push(0x80 | 40);
    input
}

type Check = fn(&Stats, &[Event]) -> bool;

fn down(events: &[Event], why: &DownReason) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Phase1Down { reason, .. } if reason == why))
        .count()
}

fn child_down(events: &[Event], why: &DownReason) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Phase2Down { reason, .. } if reason == why))
        .count()
}

#[test]
fn seeds_replay_and_reach_deep_states() {
    let seeds: [(&str, Vec<u8>, Check); 6] = [
        ("seed-main-quick", record_client(None), |s, e| {
            s.phase2_established == 1
                && down(e, &DownReason::PeerDeleted) == 1
                && child_down(e, &DownReason::PeerDeleted) == 1
        }),
        (
            "seed-main-quick-nat",
            record_client(Some("10.0.0.2")),
            |s, e| {
                e.iter().any(|e| matches!(e, Event::Phase2Up(c) if c.encapsulation == Encapsulation::UdpTransport)) && s.phase1_established == 1
            },
        ),
        ("seed-aggressive", record_aggressive(), |s, e| {
            s.phase1_established == 1
                && e.iter().any(
                    |e| matches!(e, Event::Phase1Up(i) if i.exchange == ExchangeType::Aggressive),
                )
        }),
        ("seed-dpd", record_dpd(), |s, e| {
            s.bad_auth >= 1
                && down(e, &DownReason::DeadPeer) == 1
                && child_down(e, &DownReason::DeadPeer) == 1
        }),
        ("seed-quick-delete", record_quick_and_delete(), |s, e| {
            // The pre-established pair, the helper's rekey and its second Main Mode.
            s.phase2_established >= 3
                && s.phase1_established == 2
                && s.bad_auth >= 3
                && child_down(e, &DownReason::PeerDeleted) >= 1
                && down(e, &DownReason::PeerDeleted) >= 1
        }),
        ("seed-fragments", record_fragments(), |s, _| {
            s.fragments_dropped == 3 && s.malformed == 0
        }),
    ];
    std::fs::create_dir_all(corpus()).unwrap();
    for (name, recorded, check) in &seeds {
        let path = corpus().join(name);
        if std::env::var_os("SRAS_WRITE_FUZZ_SEEDS").is_some() || !path.exists() {
            std::fs::write(&path, recorded).unwrap();
        }
        let committed = std::fs::read(&path).unwrap();
        assert_eq!(
            &committed, recorded,
            "{name} is stale: rerun with SRAS_WRITE_FUZZ_SEEDS=1"
        );
        let (stats, events) = Endpoint::fuzz_responder(&committed);
        assert!(
            check(&stats, &events),
            "{name} no longer reaches its state: {stats:?}\n{events:#?}"
        );
    }
    for entry in std::fs::read_dir(corpus()).unwrap() {
        Endpoint::fuzz_responder(&std::fs::read(entry.unwrap().path()).unwrap());
    }
}

#[test]
fn recording_is_deterministic() {
    assert_eq!(record_client(None), record_client(None));
    assert_eq!(record_quick_and_delete(), record_quick_and_delete());
}

#[test]
fn random_inputs_never_panic() {
    use proptest::prelude::*;
    proptest!(ProptestConfig::with_cases(64), |(data: Vec<u8>)| { Endpoint::fuzz_responder(&data); });
    // Mutations of real transcripts reach deeper states than random bytes.
    for base in [record_client(None), record_quick_and_delete()] {
        proptest!(ProptestConfig::with_cases(48), |(flips in proptest::collection::vec((0usize..4096, any::<u8>()), 1..6))| {
            let mut d = base.clone();
            for (i, b) in flips {
                let n = d.len();
                d[i % n] ^= b;
            }
            Endpoint::fuzz_responder(&d);
        });
    }
}
