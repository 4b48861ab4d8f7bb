//! Cross-module tests of the wire layer: hand-checked exchanges (pppd, Windows), the
//! ROBUSTNESS.md 28-30 trigger inputs, the fuzz checks over the seed corpus and random bytes,
//! and proptest round trips of every type (STYLE.md 2.6).
//!
//! The seed corpus (`fuzz/corpus/ppp_*/seed-*`) is built here from hand-written bytes by
//! [`seeds`]; `corpus_matches_seeds` keeps the files and this list in step. To rewrite the
//! files after changing a seed:
//! `cargo test -p sras-ppp wire::tests::write_seed_corpus -- --ignored`.

use std::net::Ipv4Addr;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus");

/// The ppp fuzz targets and the seeds of each.
const TARGETS: [&str; 3] = ["ppp_frame", "ppp_options", "ppp_auth"];

// ---------------------------------------------------------------------------------------
// Hand-checked bytes.

/// A control packet: Code, Identifier, Length (computed here), Data.
fn pkt(code: u8, id: u8, data: &[u8]) -> Vec<u8> {
    let len = 4 + data.len();
    let mut v = vec![code, id, (len >> 8) as u8, len as u8];
    v.extend_from_slice(data);
    v
}

/// A frame: ff 03, the two-octet protocol, the information.
fn frame(protocol: u16, info: &[u8]) -> Vec<u8> {
    let mut v = vec![0xff, 0x03];
    v.extend_from_slice(&protocol.to_be_bytes());
    v.extend_from_slice(info);
    v
}

/// The options of pppd's LCP Configure-Request as authenticator requiring MS-CHAPv2
/// (pppd `lcp_addci` order; logged as `[LCP ConfReq id=0x1 <mru 1400> <asyncmap 0x0>
/// <auth chap MS-v2> <magic 0x5c2f7e1a> <pcomp> <accomp>]`).
const PPPD_LCP_OPTIONS: [u8; 25] = [
    0x01, 0x04, 0x05, 0x78, // MRU 1400
    0x02, 0x06, 0x00, 0x00, 0x00, 0x00, // ACCM 0
    0x03, 0x05, 0xc2, 0x23, 0x81, // Auth-Protocol CHAP, MS-CHAPv2
    0x05, 0x06, 0x5c, 0x2f, 0x7e, 0x1a, // Magic-Number
    0x07, 0x02, // PFC
    0x08, 0x02, // ACFC
];

/// The whole frame: ff 03 c0 21, Configure-Request id 1, Length 4 + 25 = 29 (0x1d).
const PPPD_LCP_FRAME: [u8; 33] = [
    0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x1d, 0x01, 0x04, 0x05, 0x78, 0x02, 0x06, 0x00, 0x00,
    0x00, 0x00, 0x03, 0x05, 0xc2, 0x23, 0x81, 0x05, 0x06, 0x5c, 0x2f, 0x7e, 0x1a, 0x07, 0x02, 0x08,
    0x02,
];

/// A Windows-style IPCP Configure-Request: IP-Address 0.0.0.0, Primary DNS, Primary NBNS,
/// Secondary DNS, Secondary NBNS, all 0.0.0.0 (asking the server to assign them).
const IPCP_OPTIONS: [u8; 30] = [
    0x03, 0x06, 0, 0, 0, 0, // IP-Address
    0x81, 0x06, 0, 0, 0, 0, // Primary-DNS
    0x82, 0x06, 0, 0, 0, 0, // Primary-NBNS
    0x83, 0x06, 0, 0, 0, 0, // Secondary-DNS
    0x84, 0x06, 0, 0, 0, 0, // Secondary-NBNS
];

/// IPCP frame: ff 03 80 21, Configure-Request id 5, Length 4 + 30 = 34 (0x22).
const IPCP_FRAME_HEAD: [u8; 8] = [0xff, 0x03, 0x80, 0x21, 0x01, 0x05, 0x00, 0x22];

/// The LCP Configure-Request of `/work/shared/peers/pcap/loopback-l2tp-ppp-esp-malformed.pcap`
/// (frame 2): MRU 1500, Magic-Number 0x438be36f.
const LOOPBACK_LCP_FRAME: [u8; 18] = [
    0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x0e, 0x01, 0x04, 0x05, 0xdc, 0x05, 0x06, 0x43, 0x8b,
    0xe3, 0x6f,
];

const USER: &[u8] = b"User";

/// RFC 2759 §9.2 values.
fn mschapv2_value() -> Vec<u8> {
    let mut v = chap::tests::PEER_CHALLENGE.to_vec();
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&chap::tests::NT_RESPONSE);
    v.push(0);
    v
}

fn value_name(value: &[u8], name: &[u8]) -> Vec<u8> {
    let mut v = vec![value.len() as u8];
    v.extend_from_slice(value);
    v.extend_from_slice(name);
    v
}

/// EAP-MSCHAPv2 type data with MS-Length computed here.
fn ms(opcode: u8, id: u8, body: &[u8]) -> Vec<u8> {
    let len = 4 + body.len();
    let mut v = vec![opcode, id, (len >> 8) as u8, len as u8];
    v.extend_from_slice(body);
    v
}

fn eap_typed(code: u8, id: u8, type_: u8, data: &[u8]) -> Vec<u8> {
    let mut d = vec![type_];
    d.extend_from_slice(data);
    pkt(code, id, &d)
}

fn pap_request(peer_id: &[u8], password: &[u8]) -> Vec<u8> {
    let mut d = vec![peer_id.len() as u8];
    d.extend_from_slice(peer_id);
    d.push(password.len() as u8);
    d.extend_from_slice(password);
    pkt(1, 1, &d)
}

/// ROBUSTNESS 28: EAP packets with a 1000-octet name.
fn name_1000() -> Vec<u8> {
    (0..1000).map(|i| b'a' + (i % 26) as u8).collect()
}

fn case28_eap_identity_1000() -> Vec<u8> {
    eap_typed(2, 1, 1, &name_1000())
}

fn case28_eap_md5_name_1000() -> Vec<u8> {
    eap_typed(2, 2, 4, &value_name(&[0x11; 16], &name_1000()))
}

fn case28_eap_mschapv2_name_1000() -> Vec<u8> {
    eap_typed(
        2,
        3,
        26,
        &ms(2, 3, &value_name(&mschapv2_value(), &name_1000())),
    )
}

/// ROBUSTNESS 29 option lists.
const CASE29_LENGTH_0: [u8; 6] = [0x07, 0x02, 0x01, 0x00, 0x05, 0xdc];
const CASE29_LENGTH_1: [u8; 6] = [0x07, 0x02, 0x01, 0x01, 0x05, 0xdc];
const CASE29_PAST_END: [u8; 8] = [0x01, 0x04, 0x05, 0xdc, 0x05, 0x0a, 0x01, 0x02];
const CASE29_IP_ADDRESS_LEN_4: [u8; 4] = [0x03, 0x04, 0x0a, 0x00];
const CASE29_IP_ADDRESS_LEN_8: [u8; 8] = [0x03, 0x08, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00];
const CASE29_DUPLICATES: [u8; 12] = [
    0x01, 0x04, 0x05, 0xdc, 0x01, 0x04, 0x05, 0x78, 0x07, 0x02, 0x07, 0x02,
];

/// ROBUSTNESS 30 packets.
fn case30_chap_md5_value_15() -> Vec<u8> {
    pkt(2, 1, &value_name(&[0x22; 15], b"bob"))
}

fn case30_chap_md5_value_17() -> Vec<u8> {
    pkt(2, 1, &value_name(&[0x22; 17], b"bob"))
}

fn case30_mschapv2_value_48() -> Vec<u8> {
    pkt(2, 1, &value_name(&mschapv2_value()[..48], USER))
}

fn case30_mschapv2_value_50() -> Vec<u8> {
    let mut v = mschapv2_value();
    v.push(0);
    pkt(2, 1, &value_name(&v, USER))
}

fn case30_pap_peer_id_past_end() -> Vec<u8> {
    let mut p = pap_request(b"alice", b"secret");
    p[4] = 200;
    p
}

fn case30_pap_password_past_end() -> Vec<u8> {
    let mut p = pap_request(b"alice", b"secret");
    p[10] = 7;
    p
}

/// Every seed: (target, file name, bytes).
fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let ipcp_frame = [&IPCP_FRAME_HEAD[..], &IPCP_OPTIONS[..]].concat();
    let ipv6cp_options = [1, 10, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55];
    let chap_challenge = pkt(1, 0x2a, &value_name(&chap::tests::AUTH_CHALLENGE, b"sras"));
    let chap_response = pkt(2, 0x2a, &value_name(&mschapv2_value(), USER));
    let chap_md5 = pkt(2, 9, &value_name(&[0x33; 16], b"bob"));
    let chap_success = pkt(3, 0x2a, b"S=407A5589115FD0D6209F510FE9C04566932CDA56 M=OK");
    let chap_failure = pkt(4, 0x2a, b"E=691 R=1 C=5B5D7C7D7B3F2F3E3C2C602132262628 V=3");
    let eap_identity = eap_typed(2, 1, 1, b"alice");
    let eap_md5_challenge = eap_typed(1, 2, 4, &value_name(&[0x44; 16], b"srv"));
    let eap_ms_challenge = eap_typed(
        1,
        3,
        26,
        &ms(1, 3, &value_name(&chap::tests::AUTH_CHALLENGE, b"sras")),
    );
    let eap_ms_response = eap_typed(2, 3, 26, &ms(2, 3, &value_name(&mschapv2_value(), USER)));
    let eap_ms_success = eap_typed(
        1,
        4,
        26,
        &ms(3, 3, b"S=407A5589115FD0D6209F510FE9C04566932CDA56"),
    );
    let eap_ms_success_ack = eap_typed(2, 4, 26, &[3]);
    let eap_nak = eap_typed(2, 2, 3, &[26, 4]);
    let lcp = |id, opts: &[u8]| frame(0xc021, &pkt(1, id, opts));
    let ipcp = |opts: &[u8]| frame(0x8021, &pkt(1, 7, opts));
    let (pap, chap, eap) = (
        |p: &[u8]| frame(0xc023, p),
        |p: &[u8]| frame(0xc223, p),
        |p: &[u8]| frame(0xc227, p),
    );
    let padded_ack = [frame(0xc021, &pkt(2, 1, &PPPD_LCP_OPTIONS)), vec![0; 5]].concat();
    let ip = [
        0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
    ];

    let mut s = Vec::new();
    let mut frames = |name, bytes| s.push(("ppp_frame", name, bytes));
    frames(
        "seed-lcp-confreq-loopback-pcap",
        LOOPBACK_LCP_FRAME.to_vec(),
    );
    frames("seed-lcp-confreq-pppd-mschapv2", PPPD_LCP_FRAME.to_vec());
    frames(
        "seed-lcp-confreq-no-address-control",
        PPPD_LCP_FRAME[2..].to_vec(),
    );
    frames("seed-lcp-confack-padded", padded_ack);
    frames(
        "seed-lcp-echo-request",
        frame(0xc021, &pkt(9, 3, &[0x5c, 0x2f, 0x7e, 0x1a])),
    );
    frames(
        "seed-lcp-protocol-reject",
        frame(0xc021, &pkt(8, 4, &[0x80, 0xfd, 1, 1, 0, 4])),
    );
    frames(
        "seed-lcp-terminate-request",
        frame(0xc021, &pkt(5, 5, b"bye")),
    );
    frames("seed-ipcp-confreq-dns", ipcp_frame);
    frames(
        "seed-ipcp-confnak",
        frame(
            0x8021,
            &pkt(3, 5, &[3, 6, 10, 0, 0, 2, 0x81, 6, 10, 0, 0, 1]),
        ),
    );
    frames(
        "seed-ipv6cp-confreq",
        frame(0x8057, &pkt(1, 1, &ipv6cp_options)),
    );
    frames(
        "seed-ccp-confreq-mppe",
        frame(0x80fd, &pkt(1, 1, &[0x12, 6, 1, 0, 0, 0x40])),
    );
    frames("seed-ipv4-acfc-pfc", [&[0x21][..], &ip].concat());
    frames(
        "seed-ipv6-address-control",
        frame(0x0057, &[0x60, 0, 0, 0, 0, 0, 59, 64]),
    );
    frames("seed-pap-request", pap(&pap_request(b"alice", b"secret")));
    frames("seed-chap-challenge", chap(&chap_challenge));
    frames("seed-chap-response-mschapv2", chap(&chap_response));
    frames("seed-eap-mschapv2-response", eap(&eap_ms_response));
    frames("seed-bad-protocol-even", frame(0xc022, &pkt(1, 1, &[])));
    frames("seed-bad-protocol-00ff", vec![0xff, 0x05, 0x01]);
    frames(
        "seed-packet-length-past-end",
        frame(0xc021, &[1, 1, 0, 200, 1, 4, 5, 0xdc]),
    );
    frames("seed-packet-length-3", frame(0xc021, &[1, 1, 0, 3]));
    frames(
        "seed-case28-eap-md5-name-1000",
        eap(&case28_eap_md5_name_1000()),
    );
    frames("seed-case29-lcp-option-length-0", lcp(1, &CASE29_LENGTH_0));
    frames("seed-case29-lcp-option-length-1", lcp(2, &CASE29_LENGTH_1));
    frames("seed-case29-lcp-option-past-end", lcp(3, &CASE29_PAST_END));
    frames("seed-case29-lcp-duplicates", lcp(4, &CASE29_DUPLICATES));
    frames(
        "seed-case29-ipcp-address-length-4",
        ipcp(&CASE29_IP_ADDRESS_LEN_4),
    );
    frames(
        "seed-case29-ipcp-address-length-8",
        ipcp(&CASE29_IP_ADDRESS_LEN_8),
    );
    frames(
        "seed-case30-chap-md5-value-15",
        chap(&case30_chap_md5_value_15()),
    );
    frames(
        "seed-case30-mschapv2-value-48",
        chap(&case30_mschapv2_value_48()),
    );
    frames(
        "seed-case30-pap-peer-id-past-end",
        pap(&case30_pap_peer_id_past_end()),
    );

    let mut lists = |name, bytes| s.push(("ppp_options", name, bytes));
    lists("seed-lcp-pppd-mschapv2", PPPD_LCP_OPTIONS.to_vec());
    lists("seed-ipcp-address-dns-nbns", IPCP_OPTIONS.to_vec());
    lists("seed-ipv6cp-interface-id", ipv6cp_options.to_vec());
    lists(
        "seed-ipcp-vj-compression",
        vec![2, 6, 0, 0x2d, 15, 1, 1, 10, 10, 0, 0, 1, 10, 0, 0, 2],
    );
    lists(
        "seed-lcp-unknown-and-lqr",
        vec![
            0x11, 4, 0x05, 0xdc, 4, 8, 0xc0, 0x25, 0, 0, 0x0b, 0xb8, 0x13, 3, 0,
        ],
    );
    lists("seed-lone-trailing-octet", vec![7, 2, 8]);
    lists("seed-case29-length-0", CASE29_LENGTH_0.to_vec());
    lists("seed-case29-length-1", CASE29_LENGTH_1.to_vec());
    lists("seed-case29-past-end", CASE29_PAST_END.to_vec());
    lists(
        "seed-case29-ip-address-length-4",
        CASE29_IP_ADDRESS_LEN_4.to_vec(),
    );
    lists(
        "seed-case29-ip-address-length-8",
        CASE29_IP_ADDRESS_LEN_8.to_vec(),
    );
    lists("seed-case29-duplicates", CASE29_DUPLICATES.to_vec());

    let mut auth = |name, bytes| s.push(("ppp_auth", name, bytes));
    auth("seed-pap-request", pap_request(b"alice", b"secret"));
    auth("seed-pap-ack", pkt(2, 1, b"\x08Login ok"));
    auth("seed-pap-nak-bare", pkt(3, 1, &[]));
    auth("seed-chap-challenge", chap_challenge);
    auth("seed-chap-response-mschapv2", chap_response);
    auth("seed-chap-response-md5", chap_md5);
    auth("seed-chap-success", chap_success);
    auth("seed-chap-failure", chap_failure);
    auth("seed-eap-request-identity", eap_typed(1, 1, 1, &[]));
    auth("seed-eap-response-identity", eap_identity);
    auth("seed-eap-response-nak", eap_nak);
    auth("seed-eap-md5-challenge", eap_md5_challenge);
    auth("seed-eap-mschapv2-challenge", eap_ms_challenge);
    auth("seed-eap-mschapv2-response", eap_ms_response);
    auth("seed-eap-mschapv2-success", eap_ms_success);
    auth("seed-eap-mschapv2-success-ack", eap_ms_success_ack);
    auth("seed-eap-success", pkt(3, 4, &[]));
    auth("seed-mschapv2-response-value", mschapv2_value());
    auth("seed-case28-eap-identity-1000", case28_eap_identity_1000());
    auth("seed-case28-eap-md5-name-1000", case28_eap_md5_name_1000());
    auth(
        "seed-case28-eap-mschapv2-name-1000",
        case28_eap_mschapv2_name_1000(),
    );
    auth("seed-case30-chap-md5-value-15", case30_chap_md5_value_15());
    auth("seed-case30-chap-md5-value-17", case30_chap_md5_value_17());
    auth("seed-case30-mschapv2-value-48", case30_mschapv2_value_48());
    auth("seed-case30-mschapv2-value-50", case30_mschapv2_value_50());
    auth(
        "seed-case30-pap-peer-id-past-end",
        case30_pap_peer_id_past_end(),
    );
    auth(
        "seed-case30-pap-password-past-end",
        case30_pap_password_past_end(),
    );
    s
}

fn corpus_files() -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for target in TARGETS {
        let dir = std::path::Path::new(CORPUS).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for f in entries {
            let path = f.expect("corpus entry").path();
            if path.is_file() {
                let data = std::fs::read(&path).expect("readable corpus file");
                files.push((path, data));
            }
        }
    }
    files.sort();
    files
}

/// Writes the seed files from `seeds()` (after changing a seed: `SRAS_WRITE_FUZZ_SEEDS=1`).
fn write_seed_corpus() {
    for (target, name, bytes) in seeds() {
        let dir = std::path::Path::new(CORPUS).join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        std::fs::write(dir.join(name), bytes).expect("write seed");
    }
}

#[test]
fn corpus_matches_seeds() {
    if std::env::var_os("SRAS_WRITE_FUZZ_SEEDS").is_some() {
        write_seed_corpus();
    }
    let files = corpus_files();
    for (target, name, bytes) in seeds() {
        let path = std::path::Path::new(CORPUS).join(target).join(name);
        let found = files.iter().find(|(p, _)| *p == path);
        assert!(
            found.is_some_and(|(_, d)| *d == bytes),
            "seed {target}/{name} missing or stale: rerun with SRAS_WRITE_FUZZ_SEEDS=1"
        );
    }
}

#[test]
fn fuzz_checks_over_the_corpus() {
    let files = corpus_files();
    assert!(
        files.len() >= seeds().len(),
        "seed corpus missing: {} files under {CORPUS}",
        files.len()
    );
    for (path, data) in &files {
        let run = std::panic::catch_unwind(|| {
            fuzz_frame(data);
            fuzz_options(data);
            fuzz_auth(data);
        });
        assert!(run.is_ok(), "fuzz check failed on {}", path.display());
    }
}

// ---------------------------------------------------------------------------------------
// Real exchanges.

#[test]
fn pppd_lcp_configure_request() {
    let (protocol, info) = parse_frame(&PPPD_LCP_FRAME).unwrap();
    assert_eq!(protocol, Protocol::Lcp);
    let p = Packet::parse(info).unwrap();
    assert_eq!(
        (p.code, p.identifier, p.len()),
        (code::CONFIGURE_REQUEST, 1, 29)
    );
    assert_eq!(p.data, PPPD_LCP_OPTIONS);
    let typed: Vec<LcpOption> = options(p.data)
        .map(|o| LcpOption::parse(&o.unwrap()).unwrap())
        .collect();
    assert_eq!(
        typed,
        vec![
            LcpOption::Mru(1400),
            LcpOption::Accm(0),
            LcpOption::AuthProtocol {
                protocol: 0xc223,
                data: vec![CHAP_MSCHAPV2]
            },
            LcpOption::MagicNumber(0x5c2f_7e1a),
            LcpOption::Pfc,
            LcpOption::Acfc,
        ]
    );
    // Build it back: options, packet, frame.
    let mut opts = Vec::new();
    for o in &typed {
        o.encode(&mut opts);
    }
    assert_eq!(opts, PPPD_LCP_OPTIONS);
    let mut info = Vec::new();
    Packet::encode(code::CONFIGURE_REQUEST, 1, &opts, &mut info);
    let mut f = Vec::new();
    encode_frame(Protocol::Lcp, true, true, &info, &mut f);
    assert_eq!(f, PPPD_LCP_FRAME);
}

#[test]
fn loopback_pcap_lcp_configure_request() {
    let (protocol, info) = parse_frame(&LOOPBACK_LCP_FRAME).unwrap();
    assert_eq!(protocol, Protocol::Lcp);
    let p = Packet::parse(info).unwrap();
    let typed: Vec<_> = options(p.data)
        .map(|o| LcpOption::parse(&o.unwrap()))
        .collect();
    assert_eq!(
        typed,
        vec![
            Ok(LcpOption::Mru(1500)),
            Ok(LcpOption::MagicNumber(0x438b_e36f))
        ]
    );
}

#[test]
fn ipcp_request_with_dns() {
    let f = [&IPCP_FRAME_HEAD[..], &IPCP_OPTIONS[..]].concat();
    let (protocol, info) = parse_frame(&f).unwrap();
    assert_eq!(protocol, Protocol::Ipcp);
    let p = Packet::parse(info).unwrap();
    assert_eq!((p.code, p.identifier, p.len()), (1, 5, 34));
    let zero = Ipv4Addr::UNSPECIFIED;
    let typed: Vec<_> = options(p.data)
        .map(|o| IpcpOption::parse(&o.unwrap()).unwrap())
        .collect();
    assert_eq!(
        typed,
        vec![
            IpcpOption::IpAddress(zero),
            IpcpOption::PrimaryDns(zero),
            IpcpOption::PrimaryNbns(zero),
            IpcpOption::SecondaryDns(zero),
            IpcpOption::SecondaryNbns(zero),
        ]
    );
    // The server's Configure-Nak: address 10.0.0.2, DNS 10.0.0.1.
    let mut nak = Vec::new();
    IpcpOption::IpAddress(Ipv4Addr::new(10, 0, 0, 2)).encode(&mut nak);
    IpcpOption::PrimaryDns(Ipv4Addr::new(10, 0, 0, 1)).encode(&mut nak);
    assert_eq!(nak, [3, 6, 10, 0, 0, 2, 0x81, 6, 10, 0, 0, 1]);
    let mut out = Vec::new();
    Packet::encode(code::CONFIGURE_NAK, 5, &nak, &mut out);
    let mut fr = Vec::new();
    encode_frame(Protocol::Ipcp, false, false, &out, &mut fr);
    assert_eq!(&fr[..8], &[0xff, 0x03, 0x80, 0x21, 3, 5, 0, 16]);
}

#[test]
fn ipv6cp_interface_identifier() {
    let opts = [1, 10, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55];
    let o = Ipv6cpOption::parse(&options(&opts).next().unwrap().unwrap()).unwrap();
    assert_eq!(
        o,
        Ipv6cpOption::InterfaceIdentifier([0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55])
    );
    let mut v = Vec::new();
    o.encode(&mut v);
    assert_eq!(v, opts);
}

// ---------------------------------------------------------------------------------------
// ROBUSTNESS.md 28-30.

fn eap(bytes: &[u8]) -> EapPacket {
    EapPacket::parse(&Packet::parse(bytes).unwrap()).unwrap()
}

#[test]
fn robustness_28_eap_identity_with_1000_byte_name() {
    let EapPacket::Response { type_, data } = eap(&case28_eap_identity_1000()) else {
        panic!("not a response")
    };
    assert_eq!(type_, EapType::Identity);
    assert_eq!(data, name_1000());
}

#[test]
fn robustness_28_eap_md5_with_1000_byte_name() {
    let EapPacket::Response { type_, data } = eap(&case28_eap_md5_name_1000()) else {
        panic!("not a response")
    };
    assert_eq!(type_, EapType::Md5Challenge);
    let m = EapMd5::parse(&data).unwrap();
    assert_eq!(m.name, name_1000());
    assert_eq!(md5_value(&m.value), Ok([0x11; 16]));
}

#[test]
fn robustness_28_eap_mschapv2_with_1000_byte_name() {
    let EapPacket::Response { type_, data } = eap(&case28_eap_mschapv2_name_1000()) else {
        panic!("not a response")
    };
    assert_eq!(type_, EapType::MsChapV2);
    let EapMsChapV2::Response { id, response, name } = EapMsChapV2::parse(&data).unwrap() else {
        panic!("not an EAP-MSCHAPv2 response")
    };
    assert_eq!((id, name), (3, name_1000()));
    assert_eq!(response.nt_response, chap::tests::NT_RESPONSE);
}

#[test]
fn robustness_28_eap_length_past_the_packet() {
    // The EAP Length claims more than was received: BadLength, not an over-read.
    let mut d = case28_eap_identity_1000();
    d[2..4].copy_from_slice(&2000u16.to_be_bytes());
    assert_eq!(
        Packet::parse(&d),
        Err(WireError::BadLength {
            length: 2000,
            available: 1005
        })
    );
}

fn first_error(list: &[u8]) -> Option<WireError> {
    options(list).find_map(Result::err)
}

#[test]
fn robustness_29_option_length_0_and_1() {
    assert_eq!(
        first_error(&CASE29_LENGTH_0),
        Some(WireError::OptionTooShort {
            offset: 2,
            length: 0
        })
    );
    assert_eq!(
        first_error(&CASE29_LENGTH_1),
        Some(WireError::OptionTooShort {
            offset: 2,
            length: 1
        })
    );
    // The walk stops there: one good option, one error, nothing else.
    assert_eq!(options(&CASE29_LENGTH_0).count(), 2);
}

#[test]
fn robustness_29_option_past_the_end() {
    assert_eq!(
        first_error(&CASE29_PAST_END),
        Some(WireError::OptionPastEnd {
            offset: 4,
            length: 10,
            remaining: 4
        })
    );
}

#[test]
fn robustness_29_ip_address_length_not_6() {
    for list in [&CASE29_IP_ADDRESS_LEN_4[..], &CASE29_IP_ADDRESS_LEN_8[..]] {
        let raw = options(list).next().unwrap().unwrap();
        assert_eq!(raw.kind, IpcpOption::IP_ADDRESS);
        assert_eq!(
            IpcpOption::parse(&raw),
            Err(WireError::OptionValue {
                option: 3,
                reason: "IP-Address length must be 6"
            })
        );
    }
}

#[test]
fn robustness_29_duplicate_options_are_passed_through() {
    let kinds: Vec<u8> = options(&CASE29_DUPLICATES)
        .map(|o| o.unwrap().kind)
        .collect();
    assert_eq!(kinds, [1, 1, 7, 7]);
    let typed: Vec<_> = options(&CASE29_DUPLICATES)
        .map(|o| LcpOption::parse(&o.unwrap()).unwrap())
        .collect();
    assert_eq!(typed[..2], [LcpOption::Mru(1500), LcpOption::Mru(1400)]);
}

fn chap_value(bytes: &[u8]) -> Vec<u8> {
    match ChapPacket::parse(&Packet::parse(bytes).unwrap()).unwrap() {
        ChapPacket::Response { value, .. } => value,
        other => panic!("not a response: {other:?}"),
    }
}

#[test]
fn robustness_30_chap_md5_value_not_16() {
    for (bytes, n) in [
        (case30_chap_md5_value_15(), 15),
        (case30_chap_md5_value_17(), 17),
    ] {
        assert_eq!(
            md5_value(&chap_value(&bytes)),
            Err(WireError::ValueLength {
                what: "MD5 Response",
                length: n,
                expected: 16
            })
        );
    }
}

#[test]
fn robustness_30_mschapv2_value_not_49() {
    for (bytes, n) in [
        (case30_mschapv2_value_48(), 48),
        (case30_mschapv2_value_50(), 50),
    ] {
        let value = chap_value(&bytes);
        assert_eq!(
            MsChapV2Response::parse(&value),
            Err(WireError::ValueLength {
                what: "MS-CHAPv2 Response",
                length: n,
                expected: 49
            })
        );
        assert!(matches!(
            MsChapV1Response::parse(&value),
            Err(WireError::ValueLength { .. })
        ));
    }
}

#[test]
fn robustness_30_pap_lengths_past_the_end() {
    let pap = |b: &[u8]| PapPacket::parse(&Packet::parse(b).unwrap());
    assert_eq!(
        pap(&case30_pap_peer_id_past_end()),
        Err(WireError::FieldPastEnd {
            field: "PAP Peer-ID",
            length: 200,
            remaining: 12
        })
    );
    assert_eq!(
        pap(&case30_pap_password_past_end()),
        Err(WireError::FieldPastEnd {
            field: "PAP Password",
            length: 7,
            remaining: 6
        })
    );
}

// ---------------------------------------------------------------------------------------
// Proptests.

fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn arb_valid_protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        proptest::sample::select(Protocol::KNOWN),
        any::<u16>()
            .prop_map(|v| Protocol::from((v | 1) & !0x0100))
            .prop_filter("0x00ff is reserved", |p| p.is_valid()),
    ]
}

fn unknown_kind(known: &'static [u8]) -> impl Strategy<Value = u8> {
    any::<u8>().prop_filter("known type", move |k| !known.contains(k))
}

fn arb_lcp_option() -> impl Strategy<Value = LcpOption> {
    prop_oneof![
        any::<u16>().prop_map(LcpOption::Mru),
        any::<u32>().prop_map(LcpOption::Accm),
        (any::<u16>(), arb_bytes(20))
            .prop_map(|(protocol, data)| LcpOption::AuthProtocol { protocol, data }),
        (any::<u16>(), arb_bytes(20))
            .prop_map(|(protocol, data)| LcpOption::QualityProtocol { protocol, data }),
        any::<u32>().prop_map(LcpOption::MagicNumber),
        Just(LcpOption::Pfc),
        Just(LcpOption::Acfc),
        (unknown_kind(&[1, 2, 3, 4, 5, 7, 8]), arb_bytes(40))
            .prop_map(|(kind, data)| LcpOption::Unknown { kind, data }),
    ]
}

fn arb_ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn arb_ipcp_option() -> impl Strategy<Value = IpcpOption> {
    prop_oneof![
        any::<[u8; 8]>().prop_map(|a| IpcpOption::IpAddresses(a.to_vec())),
        (any::<u16>(), arb_bytes(20))
            .prop_map(|(protocol, data)| IpcpOption::IpCompression { protocol, data }),
        arb_ipv4().prop_map(IpcpOption::IpAddress),
        arb_ipv4().prop_map(IpcpOption::PrimaryDns),
        arb_ipv4().prop_map(IpcpOption::PrimaryNbns),
        arb_ipv4().prop_map(IpcpOption::SecondaryDns),
        arb_ipv4().prop_map(IpcpOption::SecondaryNbns),
        (unknown_kind(&[1, 2, 3, 129, 130, 131, 132]), arb_bytes(40))
            .prop_map(|(kind, data)| IpcpOption::Unknown { kind, data }),
    ]
}

fn arb_ipv6cp_option() -> impl Strategy<Value = Ipv6cpOption> {
    prop_oneof![
        any::<[u8; 8]>().prop_map(Ipv6cpOption::InterfaceIdentifier),
        (any::<u16>(), arb_bytes(20))
            .prop_map(|(protocol, data)| Ipv6cpOption::Compression { protocol, data }),
        (unknown_kind(&[1, 2]), arb_bytes(40))
            .prop_map(|(kind, data)| Ipv6cpOption::Unknown { kind, data }),
    ]
}

fn arb_pap() -> impl Strategy<Value = PapPacket> {
    prop_oneof![
        (arb_bytes(255), arb_bytes(255))
            .prop_map(|(peer_id, password)| PapPacket::Request { peer_id, password }),
        arb_bytes(255).prop_map(|message| PapPacket::Ack { message }),
        arb_bytes(255).prop_map(|message| PapPacket::Nak { message }),
    ]
}

fn arb_chap() -> impl Strategy<Value = ChapPacket> {
    prop_oneof![
        (arb_bytes(255), arb_bytes(300))
            .prop_map(|(value, name)| ChapPacket::Challenge { value, name }),
        (arb_bytes(255), arb_bytes(300))
            .prop_map(|(value, name)| ChapPacket::Response { value, name }),
        arb_bytes(300).prop_map(|message| ChapPacket::Success { message }),
        arb_bytes(300).prop_map(|message| ChapPacket::Failure { message }),
    ]
}

fn arb_eap() -> impl Strategy<Value = EapPacket> {
    prop_oneof![
        (any::<u8>(), arb_bytes(300)).prop_map(|(t, data)| EapPacket::Request {
            type_: EapType::from(t),
            data
        }),
        (any::<u8>(), arb_bytes(300)).prop_map(|(t, data)| EapPacket::Response {
            type_: EapType::from(t),
            data
        }),
        Just(EapPacket::Success),
        Just(EapPacket::Failure),
    ]
}

fn arb_mschapv2_response() -> impl Strategy<Value = MsChapV2Response> {
    (any::<[u8; 16]>(), any::<[u8; 24]>(), any::<u8>()).prop_map(
        |(peer_challenge, nt_response, flags)| MsChapV2Response {
            peer_challenge,
            nt_response,
            flags,
        },
    )
}

fn arb_eap_mschapv2() -> impl Strategy<Value = EapMsChapV2> {
    prop_oneof![
        (any::<u8>(), any::<[u8; 16]>(), arb_bytes(300)).prop_map(|(id, challenge, name)| {
            EapMsChapV2::Challenge {
                id,
                challenge,
                name,
            }
        }),
        (any::<u8>(), arb_mschapv2_response(), arb_bytes(300))
            .prop_map(|(id, response, name)| EapMsChapV2::Response { id, response, name }),
        (any::<u8>(), arb_bytes(300))
            .prop_map(|(id, message)| EapMsChapV2::Success { id, message }),
        (any::<u8>(), arb_bytes(300))
            .prop_map(|(id, message)| EapMsChapV2::Failure { id, message }),
        Just(EapMsChapV2::SuccessAck),
        Just(EapMsChapV2::FailureAck),
    ]
}

/// A whole list of typed options round trips through `options` and the typed parser.
macro_rules! options_round_trip {
    ($opts:expr, $ty:ty) => {{
        let opts: Vec<$ty> = $opts;
        let mut list = Vec::new();
        for o in &opts {
            o.encode(&mut list);
        }
        let parsed: Result<Vec<$ty>, WireError> = options(&list)
            .map(|r| r.and_then(|raw| <$ty>::parse(&raw)))
            .collect();
        prop_assert_eq!(parsed?, opts);
        fuzz_options(&list);
    }};
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(data in arb_bytes(300)) {
        fuzz_frame(&data);
        fuzz_options(&data);
        fuzz_auth(&data);
    }

    /// Random Data behind valid frame and packet headers: reaches every per-protocol parser.
    #[test]
    fn random_packets_never_panic(
        protocol in prop_oneof![proptest::sample::select(Protocol::KNOWN), arb_valid_protocol()],
        code in 0u8..16,
        id: u8,
        data in arb_bytes(300),
        acfc: bool,
        pfc: bool,
    ) {
        let mut info = Vec::new();
        Packet::encode(code, id, &data, &mut info);
        let mut f = Vec::new();
        encode_frame(protocol, acfc, pfc, &info, &mut f);
        fuzz_frame(&f);
        fuzz_auth(&info);
        fuzz_options(&data);
    }

    /// Byte flips in the seeds.
    #[test]
    fn mutated_seeds_never_panic(
        which: prop::sample::Index,
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let seeds = seeds();
        let mut d = seeds[which.index(seeds.len())].2.clone();
        for (i, x) in flips {
            let i = i.index(d.len());
            d[i] ^= x;
        }
        fuzz_frame(&d);
        fuzz_options(&d);
        fuzz_auth(&d);
    }

    #[test]
    fn frame_round_trip(
        protocol in arb_valid_protocol(),
        acfc: bool,
        pfc: bool,
        info in arb_bytes(64),
    ) {
        let mut f = Vec::new();
        encode_frame(protocol, acfc, pfc, &info, &mut f);
        prop_assert_eq!(f.len(), frame_header_len(protocol, acfc, pfc) + info.len());
        prop_assert_eq!(parse_frame(&f)?, (protocol, &info[..]));
        fuzz_frame(&f);
    }

    #[test]
    fn packet_round_trip(code: u8, id: u8, data in arb_bytes(300), padding in arb_bytes(8)) {
        let mut v = Vec::new();
        Packet::encode(code, id, &data, &mut v);
        v.extend_from_slice(&padding);
        prop_assert_eq!(Packet::parse(&v)?, Packet { code, identifier: id, data: &data });
    }

    #[test]
    fn lcp_options_round_trip(opts in vec(arb_lcp_option(), 0..10)) {
        options_round_trip!(opts, LcpOption);
    }

    #[test]
    fn ipcp_options_round_trip(opts in vec(arb_ipcp_option(), 0..10)) {
        options_round_trip!(opts, IpcpOption);
    }

    #[test]
    fn ipv6cp_options_round_trip(opts in vec(arb_ipv6cp_option(), 0..10)) {
        options_round_trip!(opts, Ipv6cpOption);
    }

    #[test]
    fn pap_round_trip(p in arb_pap(), id: u8) {
        let mut v = Vec::new();
        p.encode(id, &mut v);
        let packet = Packet::parse(&v)?;
        prop_assert_eq!((packet.code, packet.identifier), (p.code(), id));
        prop_assert_eq!(PapPacket::parse(&packet)?, p);
        fuzz_auth(&v);
    }

    #[test]
    fn chap_round_trip(p in arb_chap(), id: u8) {
        let mut v = Vec::new();
        p.encode(id, &mut v);
        let packet = Packet::parse(&v)?;
        prop_assert_eq!((packet.code, packet.identifier), (p.code(), id));
        prop_assert_eq!(ChapPacket::parse(&packet)?, p);
        fuzz_auth(&v);
    }

    #[test]
    fn eap_round_trip(p in arb_eap(), id: u8) {
        let mut v = Vec::new();
        p.encode(id, &mut v);
        let packet = Packet::parse(&v)?;
        prop_assert_eq!((packet.code, packet.identifier), (p.code(), id));
        prop_assert_eq!(EapPacket::parse(&packet)?, p);
        fuzz_auth(&v);
    }

    #[test]
    fn eap_md5_round_trip(value in arb_bytes(255), name in arb_bytes(300)) {
        let m = EapMd5 { value, name };
        let mut v = Vec::new();
        m.encode(&mut v);
        prop_assert_eq!(EapMd5::parse(&v)?, m);
    }

    #[test]
    fn eap_mschapv2_round_trip(m in arb_eap_mschapv2(), id: u8, response: bool) {
        let mut data = Vec::new();
        m.encode(&mut data);
        prop_assert_eq!(EapMsChapV2::parse(&data)?, m.clone());
        if data.len() > 1 {
            // MS-Length is the Type-Data length.
            prop_assert_eq!(usize::from(u16::from_be_bytes([data[2], data[3]])), data.len());
        }
        let p = if response {
            EapPacket::Response { type_: EapType::MsChapV2, data }
        } else {
            EapPacket::Request { type_: EapType::MsChapV2, data }
        };
        let mut v = Vec::new();
        p.encode(id, &mut v);
        fuzz_auth(&v);
    }

    #[test]
    fn mschap_responses_round_trip(
        r in arb_mschapv2_response(),
        lm: [u8; 24],
        nt: [u8; 24],
        use_nt: bool,
    ) {
        prop_assert_eq!(MsChapV2Response::parse(&r.encode())?, r);
        let v1 = MsChapV1Response { lm_response: lm, nt_response: nt, use_nt };
        prop_assert_eq!(MsChapV1Response::parse(&v1.encode())?, v1);
    }
}
