//! ISAKMP codec tests (RFC 2408 §3, RFC 2407 §4, RFC 3947 §5.2): proptest round trips for
//! every payload type, arbitrary bytes through every decoder, a real strongSwan Main Mode
//! message 1 decoded field by field, IKE fragment reassembly in any order, ROBUSTNESS cases
//! 32-34, and the fuzz seed corpus (`fuzz/corpus/ike_*`; `SRAS_WRITE_FUZZ_SEEDS=1` rewrites
//! it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sras_ike::fragment::{FragmentLimits, Reassembler};
use sras_ike::wire::attr::{
    AuthenticationMethod, EncryptionAlgorithm, GroupDescription, HashAlgorithm, LifeType, Phase1,
    KEY_IKE,
};
use sras_ike::wire::{
    encode_message, encode_payloads, fuzz_parse, fuzz_roundtrip, split_payloads, vendor, Attribute,
    AttributeValue, CertEncoding, Certificate, CertificateRequest, Delete, Error, ExchangeType,
    Flags, FragmentPayload, Header, IdType, Identification, NatOa, Notification, NotifyType,
    PayloadType, Proposal, ProtocolId, SaPayload, Transform, DOI_IPSEC, HEADER_LEN, ISAKMP_VERSION,
    MAX_PAYLOADS, SIT_IDENTITY_ONLY,
};

// ---------------------------------------------------------------------------------------------
// strategies

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

fn attribute() -> impl Strategy<Value = Attribute> {
    (
        0u16..0x8000,
        prop_oneof![
            any::<u16>().prop_map(AttributeValue::Basic),
            bytes(40).prop_map(AttributeValue::Variable),
        ],
    )
        .prop_map(|(kind, value)| Attribute { kind, value })
}

fn transform() -> impl Strategy<Value = Transform> {
    (
        any::<u8>(),
        any::<u8>(),
        proptest::collection::vec(attribute(), 0..8),
    )
        .prop_map(|(number, id, attributes)| Transform {
            number,
            id,
            attributes,
        })
}

fn proposal() -> impl Strategy<Value = Proposal> {
    (
        any::<u8>(),
        any::<u8>(),
        bytes(16),
        proptest::collection::vec(transform(), 0..6),
    )
        .prop_map(|(number, protocol, spi, transforms)| Proposal {
            number,
            protocol: ProtocolId::from(protocol),
            spi,
            transforms,
        })
}

fn sa_payload() -> impl Strategy<Value = SaPayload> {
    (
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec(proposal(), 1..6),
    )
        .prop_map(|(doi, situation, proposals)| SaPayload {
            doi,
            // SIT_SECRECY / SIT_INTEGRITY are refused under the IPsec DOI.
            situation: if doi == DOI_IPSEC {
                situation & !6
            } else {
                situation
            },
            proposals,
        })
}

fn identification() -> impl Strategy<Value = Identification> {
    (any::<u8>(), any::<u8>(), any::<u16>(), bytes(64)).prop_map(|(t, protocol, port, data)| {
        let id_type = IdType::from(t);
        let data = match id_type.fixed_len() {
            Some(n) => data
                .into_iter()
                .chain(std::iter::repeat(0))
                .take(n)
                .collect(),
            None => data,
        };
        Identification {
            id_type,
            protocol,
            port,
            data,
        }
    })
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<[u8; 16]>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

fn header() -> impl Strategy<Value = Header> {
    (
        any::<[u8; 8]>(),
        any::<[u8; 8]>(),
        any::<u8>(),
        0u8..16,
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        28u32..200,
    )
        .prop_map(|(i, r, np, minor, x, f, m, length)| Header {
            initiator_cookie: i,
            responder_cookie: r,
            next_payload: PayloadType::from(np),
            version: 0x10 | minor,
            exchange_type: ExchangeType::from(x),
            flags: Flags(f),
            message_id: m,
            length,
        })
}

/// Checks `decode(encode(v)) == v` for a payload type with `decode(&[u8])` / `encode(&mut Vec)`.
macro_rules! check_round_trip {
    ($t:ty, $v:expr) => {{
        let v: $t = $v;
        let mut out = Vec::new();
        v.encode(&mut out);
        prop_assert_eq!(<$t>::decode(&out), Ok(v));
    }};
}

/// Checks that arbitrary bytes never panic the decoder, and that whatever decodes re-encodes
/// to bytes that decode equal.
macro_rules! check_stable {
    ($t:ty, $b:expr) => {{
        if let Ok(v) = <$t>::decode($b) {
            let mut out = Vec::new();
            v.encode(&mut out);
            prop_assert_eq!(<$t>::decode(&out), Ok(v));
        }
    }};
}

proptest! {
    #[test]
    fn header_round_trip(h in header()) {
        let mut out = Vec::new();
        h.encode(&mut out);
        prop_assert_eq!(out.len(), HEADER_LEN);
        out.resize(h.length as usize, 0);
        prop_assert_eq!(Header::decode(&out), Ok(h));
    }

    #[test]
    fn chain_round_trip(items in proptest::collection::vec((1u8..=255, bytes(64)), 0..=MAX_PAYLOADS), pad in bytes(16)) {
        let items: Vec<(PayloadType, &[u8])> =
            items.iter().map(|(k, b)| (PayloadType::from(*k), &b[..])).collect();
        let (first, mut chain) = encode_payloads(&items);
        chain.extend_from_slice(&pad);
        let split = split_payloads(first, &chain).unwrap();
        prop_assert_eq!(split.len(), items.len());
        for (p, (k, b)) in split.iter().zip(&items) {
            prop_assert_eq!(p.kind, *k);
            prop_assert_eq!(p.body(&chain), *b);
        }
    }

    #[test]
    fn sa_round_trip(sa in sa_payload()) {
        check_round_trip!(SaPayload, sa);
    }

    #[test]
    fn attribute_number(kind in 0u16..0x8000, v: u64) {
        let a = Attribute::number(kind, v);
        prop_assert_eq!(a.value.as_u64(), Some(v));
        let t = Transform { number: 1, id: KEY_IKE, attributes: vec![a] };
        let sa = SaPayload {
            doi: DOI_IPSEC,
            situation: SIT_IDENTITY_ONLY,
            proposals: vec![Proposal { number: 1, protocol: ProtocolId::Isakmp, spi: vec![], transforms: vec![t] }],
        };
        check_round_trip!(SaPayload, sa);
    }

    #[test]
    fn identification_round_trip(id in identification()) {
        check_round_trip!(Identification, id);
    }

    #[test]
    fn certificate_round_trip(e: u8, data in bytes(300)) {
        check_round_trip!(Certificate, Certificate { encoding: CertEncoding::from(e), data: data.clone() });
        check_round_trip!(CertificateRequest, CertificateRequest { encoding: CertEncoding::from(e), authority: data });
    }

    #[test]
    fn notification_round_trip(doi: u32, p: u8, t: u16, spi in bytes(32), data in bytes(64)) {
        check_round_trip!(Notification, Notification {
            doi,
            protocol: ProtocolId::from(p),
            notify_type: NotifyType::from(t),
            spi,
            data,
        });
    }

    #[test]
    fn delete_round_trip(doi: u32, p: u8, spi_size in 0u8..=20, n in 0usize..=20, seed: u8) {
        let spis = (0..n)
            .map(|i| (0..spi_size).map(|j| seed ^ (i as u8) ^ j).collect())
            .collect();
        check_round_trip!(Delete, Delete { doi, protocol: ProtocolId::from(p), spi_size, spis });
    }

    #[test]
    fn nat_oa_round_trip(address in ip()) {
        check_round_trip!(NatOa, NatOa { address });
        let id = Identification::ip(address, 0, 0);
        prop_assert_eq!(id.to_ip(), Some(address));
    }

    #[test]
    fn fragment_round_trip(id: u16, number: u8, last: bool, data in bytes(100)) {
        check_round_trip!(FragmentPayload, FragmentPayload { id, number, last, data });
    }

    #[test]
    fn arbitrary_bytes_are_stable(b in bytes(200)) {
        let _ = Header::decode(&b);
        if let Some((&first, rest)) = b.split_first() {
            let _ = split_payloads(PayloadType::from(first), rest);
        }
        check_stable!(SaPayload, &b);
        check_stable!(Identification, &b);
        check_stable!(Certificate, &b);
        check_stable!(CertificateRequest, &b);
        check_stable!(Notification, &b);
        check_stable!(Delete, &b);
        check_stable!(NatOa, &b);
        check_stable!(FragmentPayload, &b);
        let _ = vendor::describe(&b);
        fuzz_parse(&b);
        fuzz_roundtrip(&b);
    }

    /// Arbitrary bytes shaped like an SA payload (valid DOI/situation, then a proposal
    /// header), so the proposal and transform parsers are reached often.
    #[test]
    fn sa_shaped_bytes_are_stable(tail in bytes(120), np in prop_oneof![Just(0u8), Just(2u8)], len in 8u16..128) {
        let mut b = vec![0, 0, 0, 1, 0, 0, 0, 1, np, 0];
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(&tail);
        check_stable!(SaPayload, &b);
    }

    /// A message cut into fragments and delivered in any order, with duplicates, reassembles
    /// to the original (the Cisco/Microsoft fragmentation extension).
    #[test]
    fn fragments_reassemble_in_any_order(
        msg in proptest::collection::vec(any::<u8>(), 1..2000),
        n in 1usize..=16,
        order in Just(()).prop_perturb(|_, mut rng| {
            let mut v: Vec<usize> = (0..40).collect();
            for i in (1..v.len()).rev() { v.swap(i, rng.random_range(0..=i)); }
            v
        }),
        dup in 0usize..40,
    ) {
        let n = n.min(msg.len());
        let chunk = msg.len().div_ceil(n);
        let frags: Vec<FragmentPayload> = msg
            .chunks(chunk)
            .enumerate()
            .map(|(i, c)| FragmentPayload { id: 7, number: i as u8 + 1, last: false, data: c.to_vec() })
            .collect();
        let count = frags.len();
        let mut frags = frags;
        if let Some(l) = frags.last_mut() { l.last = true; }
        let mut seq: Vec<usize> = order.into_iter().filter(|&i| i < count).collect();
        seq.insert(dup % seq.len().max(1), dup % count);
        let mut r = Reassembler::new(FragmentLimits::default());
        let t = t0();
        let mut done = None;
        for i in seq {
            if let Some(m) = r.insert(t, [1; 8], &frags[i]).unwrap() {
                prop_assert_eq!(r.pending(), 0);
                done = Some(m);
                break;
            }
        }
        prop_assert_eq!(done, Some(msg));
    }
}

#[allow(clippy::disallowed_methods)]
fn t0() -> Instant {
    Instant::now()
}

// ---------------------------------------------------------------------------------------------
// a real Main Mode message 1

/// Main Mode message 1 as strongSwan 5.x sends it (layout from RFC 2408 §3.1-3.6 and
/// RFC 2409 Appendix A, built by hand): one ISAKMP proposal with two transforms (AES-CBC-128
/// / SHA2-256 / PSK / MODP-2048 and 3DES / SHA-1 / PSK / MODP-1024, each with a TV Life Type
/// and a TLV Life Duration of 10800 s), then the vendor IDs XAuth, DPD, FRAGMENTATION and the
/// four NAT-T VIDs.
fn strongswan_main_mode_1() -> Vec<u8> {
    let mut m = Vec::new();
    // Header: cookies, next = SA, version 1.0, Identity Protection, no flags, ID 0, length.
    m.extend_from_slice(&[0x8a, 0x3d, 0x52, 0x19, 0x4e, 0x77, 0x06, 0x11]);
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&[0x01, 0x10, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
    // SA payload: next = VID, length 4 + 8 + 8 + 2 * 40 = 100.
    m.extend_from_slice(&[0x0d, 0x00, 0x00, 100]);
    m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]); // DOI IPsec, SIT_IDENTITY_ONLY
                                                    // Proposal #1: last, length 8 + 2 * 40, ISAKMP, SPI size 0, 2 transforms.
    m.extend_from_slice(&[0x00, 0x00, 0x00, 88, 0x01, 0x01, 0x00, 0x02]);
    // Transform #1 (next = transform), KEY_IKE, length 8 + 6 * 4 + 8 = 40.
    m.extend_from_slice(&[0x03, 0x00, 0x00, 40, 0x01, 0x01, 0x00, 0x00]);
    m.extend_from_slice(&[0x80, 0x01, 0x00, 0x07]); // Encryption: AES-CBC
    m.extend_from_slice(&[0x80, 0x0e, 0x00, 0x80]); // Key Length: 128
    m.extend_from_slice(&[0x80, 0x02, 0x00, 0x04]); // Hash: SHA2-256
    m.extend_from_slice(&[0x80, 0x03, 0x00, 0x01]); // Auth: PSK
    m.extend_from_slice(&[0x80, 0x04, 0x00, 0x0e]); // Group: MODP-2048
    m.extend_from_slice(&[0x80, 0x0b, 0x00, 0x01]); // Life Type: seconds
    m.extend_from_slice(&[0x00, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x2a, 0x30]); // Life: 10800 (TLV)
                                                                            // Transform #2 (last), KEY_IKE, length 40.
    m.extend_from_slice(&[0x00, 0x00, 0x00, 40, 0x02, 0x01, 0x00, 0x00]);
    m.extend_from_slice(&[0x80, 0x01, 0x00, 0x05]); // 3DES
    m.extend_from_slice(&[0x80, 0x02, 0x00, 0x02]); // SHA
    m.extend_from_slice(&[0x80, 0x03, 0x00, 0x01]); // PSK
    m.extend_from_slice(&[0x80, 0x04, 0x00, 0x02]); // MODP-1024
    m.extend_from_slice(&[0x80, 0x0b, 0x00, 0x01]);
    m.extend_from_slice(&[0x00, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x2a, 0x30]);
    m.extend_from_slice(&[0x80, 0x0e, 0x00, 0x00]); // a Key Length of 0 to fill 40 bytes
    let vids: [&[u8]; 7] = [
        vendor::XAUTH,
        vendor::DPD,
        vendor::FRAGMENTATION,
        vendor::RFC3947,
        vendor::NAT_T_DRAFT_03,
        vendor::NAT_T_DRAFT_02,
        vendor::NAT_T_DRAFT_02_N,
    ];
    for (i, v) in vids.iter().enumerate() {
        let next = if i + 1 == vids.len() { 0 } else { 0x0d };
        m.extend_from_slice(&[next, 0, 0, 4 + v.len() as u8]);
        m.extend_from_slice(v);
    }
    let len = m.len() as u32;
    m[24..28].copy_from_slice(&len.to_be_bytes());
    m
}

#[test]
fn decodes_strongswan_main_mode_1() {
    let m = strongswan_main_mode_1();
    let h = Header::decode(&m).unwrap();
    assert_eq!(h.next_payload, PayloadType::Sa);
    assert_eq!(h.version, ISAKMP_VERSION);
    assert_eq!(h.exchange_type, ExchangeType::IdentityProtection);
    assert_eq!(h.flags, Flags::NONE);
    assert_eq!(h.responder_cookie, [0; 8]);
    assert_eq!(h.length as usize, m.len());
    let body = h.body(&m);
    let ps = split_payloads(h.next_payload, body).unwrap();
    let kinds: Vec<_> = ps.iter().map(|p| p.kind).collect();
    assert_eq!(kinds[0], PayloadType::Sa);
    assert_eq!(kinds[1..], [PayloadType::VendorId; 7]);

    let sa = SaPayload::decode(ps[0].body(body)).unwrap();
    assert_eq!((sa.doi, sa.situation), (DOI_IPSEC, SIT_IDENTITY_ONLY));
    assert_eq!(sa.proposals.len(), 1);
    let p = &sa.proposals[0];
    assert_eq!(
        (p.number, p.protocol, p.spi.len()),
        (1, ProtocolId::Isakmp, 0)
    );
    assert_eq!(p.transforms.len(), 2);
    let t = &p.transforms[0];
    assert_eq!((t.number, t.id), (1, KEY_IKE));
    let get = |t: &Transform, c: Phase1| t.attribute(c.value()).and_then(AttributeValue::as_u64);
    assert_eq!(
        get(t, Phase1::EncryptionAlgorithm),
        Some(u64::from(EncryptionAlgorithm::AesCbc.value()))
    );
    assert_eq!(get(t, Phase1::KeyLength), Some(128));
    assert_eq!(
        get(t, Phase1::HashAlgorithm),
        Some(u64::from(HashAlgorithm::Sha2_256.value()))
    );
    assert_eq!(
        get(t, Phase1::AuthenticationMethod).map(|v| AuthenticationMethod::from(v as u16)),
        Some(AuthenticationMethod::PreSharedKey)
    );
    assert_eq!(
        get(t, Phase1::GroupDescription).map(|v| GroupDescription::from(v as u16)),
        Some(GroupDescription::Modp2048)
    );
    assert_eq!(
        get(t, Phase1::LifeType),
        Some(u64::from(LifeType::Seconds.value()))
    );
    assert_eq!(
        t.attribute(Phase1::LifeDuration.value()),
        Some(&AttributeValue::Variable(vec![0, 0, 0x2a, 0x30]))
    );
    assert_eq!(get(t, Phase1::LifeDuration), Some(10_800));
    let t2 = &p.transforms[1];
    assert_eq!(get(t2, Phase1::EncryptionAlgorithm), Some(5));
    assert_eq!(get(t2, Phase1::GroupDescription), Some(2));

    let names: Vec<_> = ps[1..]
        .iter()
        .map(|p| vendor::describe(p.body(body)))
        .collect();
    assert_eq!(
        names,
        [
            Some("XAUTH"),
            Some("DPD (RFC 3706)"),
            Some("FRAGMENTATION"),
            Some("NAT-T (RFC 3947)"),
            Some("draft-ietf-ipsec-nat-t-ike-03"),
            Some("draft-ietf-ipsec-nat-t-ike-02"),
            Some("draft-ietf-ipsec-nat-t-ike-02\\n"),
        ]
    );
    assert!(vendor::supports_fragmentation(ps[3].body(body)));

    // Re-encoding the decoded message gives the same bytes.
    let sa_body = sa.to_vec();
    assert_eq!(sa_body, ps[0].body(body));
    let mut items: Vec<(PayloadType, &[u8])> = vec![(PayloadType::Sa, &sa_body)];
    items.extend(ps[1..].iter().map(|p| (p.kind, p.body(body))));
    assert_eq!(encode_message(&h, &items), m);
}

// ---------------------------------------------------------------------------------------------
// ROBUSTNESS 32-34

/// ROBUSTNESS case 32: a header length below 28 or above the datagram, major version 2.
#[test]
fn robustness_32_header() {
    let mut m = strongswan_main_mode_1();
    let n = m.len();
    assert!(matches!(
        Header::decode(&m[..n - 1]),
        Err(Error::BadLength { .. })
    ));
    m[24..28].copy_from_slice(&27u32.to_be_bytes());
    assert_eq!(
        Header::decode(&m),
        Err(Error::BadLength {
            length: 27,
            datagram: n
        })
    );
    m[24..28].copy_from_slice(&(n as u32).to_be_bytes());
    m[17] = 0x20;
    assert_eq!(Header::decode(&m), Err(Error::MajorVersion(2)));
    assert_eq!(
        Error::MajorVersion(2).notify_type(),
        NotifyType::InvalidMajorVersion
    );
    assert!(matches!(
        Header::decode(&m[..HEADER_LEN - 1]),
        Err(Error::Truncated { .. })
    ));
}

/// ROBUSTNESS case 33: a zero-length payload, a payload past the end, more than MAX_PAYLOADS.
#[test]
fn robustness_33_payload_chain() {
    let m = strongswan_main_mode_1();
    let h = Header::decode(&m).unwrap();
    let body = h.body(&m).to_vec();
    // The second payload (first VID, at offset 100) gets length 0, then a length past the end.
    let mut b = body.clone();
    b[102..104].copy_from_slice(&[0, 0]);
    assert_eq!(
        split_payloads(h.next_payload, &b),
        Err(Error::PayloadTooShort {
            offset: 100,
            length: 0
        })
    );
    assert_eq!(
        Error::PayloadTooShort {
            offset: 0,
            length: 0
        }
        .notify_type(),
        NotifyType::PayloadMalformed
    );
    let mut b = body.clone();
    b[102..104].copy_from_slice(&[0xff, 0xff]);
    assert!(matches!(
        split_payloads(h.next_payload, &b),
        Err(Error::PayloadPastEnd {
            offset: 100,
            length: 0xffff,
            ..
        })
    ));
    // A chain that ends with a Next Payload but no payload.
    let last = body.len() - 4 - vendor::NAT_T_DRAFT_02_N.len();
    let mut b = body.clone();
    b[last] = PayloadType::Nonce.value();
    assert!(matches!(
        split_payloads(h.next_payload, &b),
        Err(Error::PayloadPastEnd { .. })
    ));
    // 65 empty vendor IDs.
    let many = vec![(PayloadType::VendorId, &[][..]); MAX_PAYLOADS + 1];
    let (first, chain) = encode_payloads(&many);
    assert_eq!(
        split_payloads(first, &chain),
        Err(Error::TooManyPayloads(MAX_PAYLOADS))
    );
}

/// ROBUSTNESS case 34: the reassembler bounds what unauthenticated fragments can hold.
#[test]
fn robustness_34_fragment_flood() {
    let limits = FragmentLimits::default();
    let mut r = Reassembler::new(limits);
    let t = t0();
    // Many distinct reassemblies, each with the maximum of data, never completing.
    for id in 0..1000u16 {
        for number in 1..=limits.max_fragments {
            let f = FragmentPayload {
                id,
                number,
                last: false,
                data: vec![0; 8000],
            };
            let _ = r.insert(t + Duration::from_millis(u64::from(id)), [id as u8; 8], &f);
        }
        assert!(r.pending() <= limits.max_pending);
        assert!(r.held_bytes() <= limits.max_pending * limits.max_message);
    }
    assert!(r.dropped() > 0);
    r.handle_timeout(t + limits.timeout + Duration::from_secs(2));
    assert_eq!(r.pending(), 0);
    assert_eq!(r.held_bytes(), 0);
}

// ---------------------------------------------------------------------------------------------
// fuzz seeds

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn message(x: ExchangeType, flags: Flags, id: u32, items: &[(PayloadType, &[u8])]) -> Vec<u8> {
    let h = Header {
        initiator_cookie: [0x11; 8],
        responder_cookie: [0x22; 8],
        next_payload: PayloadType::None,
        version: ISAKMP_VERSION,
        exchange_type: x,
        flags,
        message_id: id,
        length: 0,
    };
    encode_message(&h, items)
}

fn body<T>(v: &T, f: impl Fn(&T, &mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(v, &mut out);
    out
}

/// The seed inputs of `ike_parse` and `ike_roundtrip`: valid messages of every exchange the
/// codec serves and the ROBUSTNESS cases.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mm1 = strongswan_main_mode_1();
    let mut out = vec![("main-mode-1-strongswan", mm1.clone())];

    let nonce = [0x5a; 32];
    let ke = [0x33; 256];
    let natd = [0x44; 20];
    out.push((
        "main-mode-3",
        message(
            ExchangeType::IdentityProtection,
            Flags::NONE,
            0,
            &[
                (PayloadType::KeyExchange, &ke),
                (PayloadType::Nonce, &nonce),
                (PayloadType::NatD, &natd),
                (PayloadType::NatD, &natd),
            ],
        ),
    ));
    let id = body(
        &Identification::ipv4(Ipv4Addr::new(192, 0, 2, 10), 17, 500),
        Identification::encode,
    );
    let cert = body(
        &Certificate {
            encoding: CertEncoding::X509Signature,
            data: vec![0x30, 0x82, 0, 4, 1, 2, 3, 4],
        },
        Certificate::encode,
    );
    let creq = body(
        &CertificateRequest {
            encoding: CertEncoding::X509Signature,
            authority: vec![0x30, 0],
        },
        CertificateRequest::encode,
    );
    let notify_ic = body(
        &Notification {
            doi: 1,
            protocol: ProtocolId::Isakmp,
            notify_type: NotifyType::InitialContact,
            spi: vec![0x11; 16],
            data: vec![],
        },
        Notification::encode,
    );
    out.push((
        "main-mode-5-plaintext",
        message(
            ExchangeType::IdentityProtection,
            Flags::NONE,
            0,
            &[
                (PayloadType::Identification, &id),
                (PayloadType::Certificate, &cert),
                (PayloadType::CertificateRequest, &creq),
                (PayloadType::Signature, &[0x77; 64]),
                (PayloadType::Notification, &notify_ic),
            ],
        ),
    ));
    let qm_sa = SaPayload {
        doi: DOI_IPSEC,
        situation: SIT_IDENTITY_ONLY,
        proposals: vec![Proposal {
            number: 1,
            protocol: ProtocolId::IpsecEsp,
            spi: vec![0xc0, 0xff, 0xee, 0x01],
            transforms: vec![Transform {
                number: 1,
                id: 12,
                attributes: vec![
                    Attribute::basic(1, 1),
                    Attribute::number(2, 3600),
                    Attribute::basic(4, 61444),
                    Attribute::basic(5, 2),
                    Attribute::basic(6, 128),
                ],
            }],
        }],
    }
    .to_vec();
    let id_l2tp = body(
        &Identification::ipv4(Ipv4Addr::new(10, 0, 0, 2), 17, 1701),
        Identification::encode,
    );
    let nat_oa = body(
        &NatOa {
            address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        },
        NatOa::encode,
    );
    out.push((
        "quick-mode-1-plaintext",
        message(
            ExchangeType::QuickMode,
            Flags::NONE,
            0x1234_5678,
            &[
                (PayloadType::Hash, &[0x66; 20]),
                (PayloadType::Sa, &qm_sa),
                (PayloadType::Nonce, &nonce),
                (PayloadType::Identification, &id_l2tp),
                (PayloadType::Identification, &id_l2tp),
                (PayloadType::NatOaDraft, &nat_oa),
                (PayloadType::NatOa, &nat_oa),
            ],
        ),
    ));
    let dpd = body(
        &Notification {
            doi: 1,
            protocol: ProtocolId::Isakmp,
            notify_type: NotifyType::DpdRUThere,
            spi: vec![0x11; 16],
            data: vec![0, 0, 0, 7],
        },
        Notification::encode,
    );
    let del = body(
        &Delete {
            doi: 1,
            protocol: ProtocolId::IpsecEsp,
            spi_size: 4,
            spis: vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]],
        },
        Delete::encode,
    );
    out.push((
        "informational-plaintext",
        message(
            ExchangeType::Informational,
            Flags::NONE,
            9,
            &[
                (PayloadType::Hash, &[0x66; 20]),
                (PayloadType::Notification, &dpd),
                (PayloadType::Delete, &del),
            ],
        ),
    ));
    out.push((
        "encrypted",
        message(ExchangeType::IdentityProtection, Flags::ENCRYPTION, 0, &[])
            .into_iter()
            .chain([0xab; 48])
            .collect(),
    ));
    // Main Mode 1 in three fragments (with its header as the data of fragment 1).
    let chunk = mm1.len().div_ceil(3);
    for (i, c) in mm1.chunks(chunk).enumerate() {
        let f = body(
            &FragmentPayload {
                id: 1,
                number: i as u8 + 1,
                last: i == 2,
                data: c.to_vec(),
            },
            FragmentPayload::encode,
        );
        let name = ["fragment-1", "fragment-2", "fragment-3-last"][i];
        out.push((
            name,
            message(
                ExchangeType::IdentityProtection,
                Flags::NONE,
                0,
                &[(PayloadType::Fragment, &f)],
            ),
        ));
    }
    // Bare payload bodies, for the decoders reached through `data` itself.
    out.push((
        "body-sa",
        SaPayload::decode(&mm1[32..128])
            .map(|s| s.to_vec())
            .unwrap_or_default(),
    ));
    out.push(("body-delete", del));
    // ROBUSTNESS cases.
    let mut bad = mm1.clone();
    bad[24..28].copy_from_slice(&27u32.to_be_bytes());
    out.push(("case32-length-below-header", bad));
    let mut bad = mm1.clone();
    bad[24..28].copy_from_slice(&(mm1.len() as u32 + 1).to_be_bytes());
    out.push(("case32-length-past-datagram", bad));
    let mut bad = mm1.clone();
    bad[17] = 0x20;
    out.push(("case32-major-version-2", bad));
    let mut bad = mm1.clone();
    bad[28 + 102..28 + 104].copy_from_slice(&[0, 0]);
    out.push(("case33-zero-length-payload", bad));
    let mut bad = mm1.clone();
    bad[28 + 102..28 + 104].copy_from_slice(&[0xff, 0xff]);
    out.push(("case33-payload-past-end", bad));
    let many = vec![(PayloadType::VendorId, &[][..]); MAX_PAYLOADS + 1];
    out.push((
        "case33-too-many-payloads",
        message(ExchangeType::IdentityProtection, Flags::NONE, 0, &many),
    ));
    out
}

/// Writes (with `SRAS_WRITE_FUZZ_SEEDS=1`, or when missing) or checks the committed seeds,
/// then runs both fuzz checks over every file of both corpora.
#[test]
fn fuzz_seeds() {
    let seeds = seeds();
    for target in ["ike_parse", "ike_roundtrip"] {
        let dir = corpus(target);
        let write = std::env::var_os("SRAS_WRITE_FUZZ_SEEDS").is_some();
        if write || !dir.exists() {
            std::fs::create_dir_all(&dir).unwrap();
        }
        for (name, data) in &seeds {
            let path = dir.join(format!("seed-{name}"));
            if write || !path.exists() {
                std::fs::write(&path, data).unwrap();
            }
            assert_eq!(
                &std::fs::read(&path).unwrap(),
                data,
                "{} is stale: rerun with SRAS_WRITE_FUZZ_SEEDS=1",
                path.display()
            );
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            fuzz_parse(&data);
            fuzz_roundtrip(&data);
        }
    }
}

#[test]
fn seeds_are_what_they_claim() {
    for (name, data) in seeds() {
        let h = Header::decode(&data);
        if name.starts_with("case32") {
            assert!(h.is_err(), "{name}");
        } else if name.starts_with("case33") {
            let h = h.unwrap();
            assert!(
                split_payloads(h.next_payload, h.body(&data)).is_err(),
                "{name}"
            );
        } else if name.starts_with("body-") || name == "encrypted" {
            continue;
        } else {
            let h = h.unwrap();
            split_payloads(h.next_payload, h.body(&data)).unwrap();
        }
    }
}
