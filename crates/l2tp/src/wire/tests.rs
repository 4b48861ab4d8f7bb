//! Cross-module tests of the wire layer: the fuzz checks over the seed corpus and random
//! bytes, and proptest round trips of [`Header`] and [`ControlMessage`] (STYLE.md 2.6,
//! ROBUSTNESS.md 50).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::Union;
use sras_core::Seq16;

use super::*;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus");

fn corpus_files() -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for target in std::fs::read_dir(CORPUS).expect("fuzz/corpus exists") {
        let target = target.expect("corpus entry").path();
        if !target.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&target).expect("corpus target dir") {
            let path = f.expect("corpus file").path();
            if path.is_file() {
                let data = std::fs::read(&path).expect("readable corpus file");
                files.push((path, data));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn fuzz_checks_over_the_corpus() {
    let files = corpus_files();
    assert!(
        files.len() >= 20,
        "seed corpus missing: {} files under {CORPUS}",
        files.len()
    );
    for (path, data) in &files {
        let run = std::panic::catch_unwind(|| {
            fuzz_parse(data);
            fuzz_roundtrip(data);
        });
        assert!(run.is_ok(), "fuzz check failed on {}", path.display());
    }
}

/// The seeds named after ROBUSTNESS cases give the errors those cases expect.
#[test]
fn corpus_robustness_seeds() {
    let files = corpus_files();
    let seed = |name: &str| -> &[u8] {
        &files
            .iter()
            .find(|(p, _)| p.ends_with(format!("l2tp_parse/{name}")))
            .unwrap_or_else(|| panic!("seed {name} missing"))
            .1
    };
    let body = |d: &[u8]| -> Result<ControlMessage, WireError> {
        let (_, p) = Header::parse(d)?;
        ControlMessage::parse(&d[p], None)
    };
    assert!(matches!(
        body(seed("seed-case01-avp-length-0")),
        Err(WireError::AvpTooShort { length: 0, .. })
    ));
    assert!(matches!(
        body(seed("seed-case02-host-name-length-3")),
        Err(WireError::AvpTooShort { length: 3, .. })
    ));
    assert!(matches!(
        body(seed("seed-case03-avp-past-end")),
        Err(WireError::AvpPastEnd { .. })
    ));
    assert!(matches!(
        body(seed("seed-case03-length-past-datagram")),
        Err(WireError::BadLength { .. })
    ));
    assert!(
        body(seed("seed-case04-reserved-bits-m1")).is_ok_and(|m| m.unknown_mandatory().is_some())
    );
    assert_eq!(body(seed("seed-case05-hidden-without-rv")).ok(), None);
    assert!(matches!(
        ControlMessage::parse(
            &seed("seed-case05-hidden-without-rv")[12..],
            Some(FUZZ_SECRET)
        ),
        Err(WireError::HiddenWithoutRandomVector)
    ));
    assert!(matches!(
        ControlMessage::parse(
            &seed("seed-case06-hidden-length-too-big")[12..],
            Some(FUZZ_SECRET)
        ),
        Err(WireError::HiddenLength { .. })
    ));
    assert_eq!(
        body(seed("seed-case07-first-avp-not-message-type")),
        Err(WireError::MissingMessageType)
    );
    assert_eq!(
        body(seed("seed-case07-message-type-hidden")),
        Err(WireError::MessageTypeHidden)
    );
    assert_eq!(
        body(seed("seed-case07-body-too-short")),
        Err(WireError::MissingMessageType)
    );
    assert_eq!(
        body(seed("seed-case08-unknown-type-m1")).map(|m| m.message_type),
        Ok(MessageType::Unknown(200))
    );
    let m0 = seed("seed-case08-unknown-type-m0");
    assert_eq!(
        body(m0).map(|m| m.message_type),
        Ok(MessageType::Unknown(200))
    );
    assert!(!message_type_mandatory(&m0[12..]));
    assert!(message_type_mandatory(
        &seed("seed-case08-unknown-type-m1")[12..]
    ));
    assert!(body(seed("seed-case09-vendor-m1-icrq")).is_ok_and(|m| m.unknown_mandatory().is_some()));
    assert_eq!(
        body(seed("seed-case10-tunnel-id-0")).map(|m| m.assigned_tunnel_id()),
        Ok(Some(TunnelId(0)))
    );
    assert_eq!(
        body(seed("seed-case11-missing-host-name")).map(|m| m.missing_required()),
        Ok(Some(AvpType::HostName))
    );
    assert!(matches!(
        body(seed("seed-case11-short-framing-caps")),
        Err(WireError::AvpValue {
            avp: AvpType::FramingCapabilities,
            ..
        })
    ));
    assert_eq!(
        body(seed("seed-case12-stopccn-result-8")).map(|m| m.result_code().cloned()),
        Ok(Some(ResultCode::new(1, None, None)))
    );
    assert_eq!(
        Header::parse(seed("seed-case13-version-3")),
        Err(WireError::Version(3))
    );
    assert_eq!(
        Header::parse(seed("seed-case13-t1-l0")),
        Err(WireError::ControlHeaderFlags)
    );
    assert_eq!(
        Header::parse(seed("seed-case13-t1-s0")),
        Err(WireError::ControlHeaderFlags)
    );
    assert!(matches!(
        Header::parse(seed("seed-case13-short-control")),
        Err(WireError::Truncated { .. })
    ));
    let softether = body(seed("seed-softether-sccrp")).expect("SoftEther SCCRP parses");
    assert_eq!(softether.message_type, MessageType::Sccrp);
    assert_eq!(softether.host_name(), Some(&b"vm"[..]));
    let hidden = seed("seed-hidden-icrq");
    let (_, p) = Header::parse(hidden).expect("header");
    let m = ControlMessage::parse(&hidden[p], Some(FUZZ_SECRET))
        .expect("hidden seed parses with the fuzz secret");
    assert_eq!(m.assigned_session_id(), Some(SessionId(0x0102)));
    // Two Random Vectors, a padded hidden subformat and a three-block hidden value, all
    // built by fuzz/make_seeds.py from the §4.3 text with Python's hashlib.
    let two = seed("seed-hidden-two-vectors-padded");
    let (_, p) = Header::parse(two).expect("header");
    let m = ControlMessage::parse(&two[p], Some(FUZZ_SECRET)).expect("two-vector seed parses");
    assert_eq!(m.assigned_session_id(), Some(SessionId(9)));
    assert_eq!(m.call_serial_number(), Some(1));
    assert_eq!(
        m.calling_number(),
        Some(&b"a-calling-number-longer-than-two-md5-blocks-0123456789"[..])
    );
    assert_eq!(ControlMessage::parse(&two[12..], Some(b"other")).ok(), None);
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn arb_nonempty(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 1..=max)
}

fn arb_result_code() -> impl Strategy<Value = ResultCode> {
    (
        any::<u16>(),
        any::<Option<u16>>(),
        proptest::option::of("\\PC{0,12}"),
    )
        .prop_map(|(r, e, m)| ResultCode::new(r, e, m.as_deref()))
}

fn arb_avp() -> impl Strategy<Value = Avp> {
    let u32s = |f: fn(u32) -> Avp| any::<u32>().prop_map(f).boxed();
    let bytes = |f: fn(Vec<u8>) -> Avp| arb_bytes(40).prop_map(f).boxed();
    Union::new(vec![
        arb_result_code().prop_map(Avp::ResultCode).boxed(),
        any::<(u8, u8)>()
            .prop_map(|(version, revision)| Avp::ProtocolVersion { version, revision })
            .boxed(),
        u32s(Avp::FramingCapabilities),
        u32s(Avp::BearerCapabilities),
        any::<u64>().prop_map(Avp::TieBreaker).boxed(),
        any::<u16>().prop_map(Avp::FirmwareRevision).boxed(),
        arb_nonempty(40).prop_map(Avp::HostName).boxed(),
        bytes(Avp::VendorName),
        any::<u16>()
            .prop_map(|x| Avp::AssignedTunnelId(TunnelId(x)))
            .boxed(),
        any::<u16>().prop_map(Avp::ReceiveWindowSize).boxed(),
        arb_nonempty(40).prop_map(Avp::Challenge).boxed(),
        (any::<u16>(), any::<u8>(), arb_bytes(20))
            .prop_map(|(cause, message, advisory)| Avp::Q931CauseCode {
                cause,
                message,
                advisory,
            })
            .boxed(),
        any::<[u8; 16]>().prop_map(Avp::ChallengeResponse).boxed(),
        any::<u16>()
            .prop_map(|x| Avp::AssignedSessionId(SessionId(x)))
            .boxed(),
        u32s(Avp::CallSerialNumber),
        u32s(Avp::MinimumBps),
        u32s(Avp::MaximumBps),
        u32s(Avp::BearerType),
        u32s(Avp::FramingType),
        bytes(Avp::CalledNumber),
        bytes(Avp::CallingNumber),
        bytes(Avp::SubAddress),
        u32s(Avp::TxConnectSpeed),
        u32s(Avp::RxConnectSpeed),
        u32s(Avp::PhysicalChannelId),
        bytes(Avp::PrivateGroupId),
        Just(Avp::SequencingRequired).boxed(),
        bytes(Avp::InitialReceivedLcpConfReq),
        bytes(Avp::LastSentLcpConfReq),
        bytes(Avp::LastReceivedLcpConfReq),
        any::<u16>().prop_map(Avp::ProxyAuthenType).boxed(),
        bytes(Avp::ProxyAuthenName),
        bytes(Avp::ProxyAuthenChallenge),
        any::<u8>().prop_map(Avp::ProxyAuthenId).boxed(),
        bytes(Avp::ProxyAuthenResponse),
        any::<[u32; 6]>()
            .prop_map(
                |[crc, framing, hardware_overruns, buffer_overruns, timeout, alignment]| {
                    Avp::CallErrors {
                        crc,
                        framing,
                        hardware_overruns,
                        buffer_overruns,
                        timeout,
                        alignment,
                    }
                },
            )
            .boxed(),
        any::<(u32, u32)>()
            .prop_map(|(send, receive)| Avp::Accm { send, receive })
            .boxed(),
        // Vendor AVPs, unknown vendor-0 types, and vendor-0 known types (reserved bits).
        (
            any::<bool>(),
            prop_oneof![Just(0u16), any::<u16>()],
            any::<u16>(),
            arb_bytes(40),
        )
            .prop_map(
                |(mandatory, vendor_id, attribute_type, value)| Avp::Unknown {
                    mandatory,
                    vendor_id,
                    attribute_type,
                    value,
                },
            )
            .boxed(),
    ])
}

fn arb_message_type() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        proptest::sample::select(MessageType::KNOWN),
        any::<u16>().prop_map(MessageType::from),
    ]
}

/// Messages without Random Vector AVPs (those are only meaningful next to hidden AVPs and are
/// tested separately).
fn arb_message() -> impl Strategy<Value = ControlMessage> {
    (arb_message_type(), vec(arb_avp(), 0..12))
        .prop_map(|(message_type, avps)| ControlMessage { message_type, avps })
}

fn arb_header() -> impl Strategy<Value = (Header, Vec<u8>, Vec<u8>)> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<(u16, u16)>(),
        any::<Option<(u16, u16)>>(),
        proptest::option::of(arb_bytes(8)),
        any::<bool>(),
        arb_bytes(64),
    )
        .prop_map(
            |(control, has_length, (t, s), seq, pad, priority, payload)| {
                let (has_length, seq, pad) = if control {
                    (true, Some(seq.unwrap_or_default()), None)
                } else {
                    (has_length, seq, pad)
                };
                let mut h = Header {
                    control,
                    length: None,
                    tunnel_id: TunnelId(t),
                    session_id: SessionId(s),
                    sequence: seq.map(|(ns, nr)| (Seq16(ns), Seq16(nr))),
                    offset_size: pad.as_ref().map(|p| p.len() as u16),
                    priority,
                };
                let pad = pad.unwrap_or_default();
                if has_length {
                    h.length = Some(0);
                    h.length = Some((h.len() + pad.len() + payload.len()) as u16);
                }
                (h, pad, payload)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(data in arb_bytes(300)) {
        fuzz_parse(&data);
        fuzz_roundtrip(&data);
    }

    /// Random bytes after a valid control header and Message Type: reaches the AVP loop.
    #[test]
    fn random_avps_never_panic(t in any::<u16>(), m in any::<bool>(), tail in arb_bytes(200)) {
        let mut body = vec![if m { 0x80 } else { 0 }, 8, 0, 0, 0, 0];
        body.extend_from_slice(&t.to_be_bytes());
        body.extend_from_slice(&tail);
        let mut d = Vec::new();
        Header::control((12 + body.len()) as u16, TunnelId(1), SessionId(0), Seq16(0), Seq16(0)).encode(&mut d);
        d.extend_from_slice(&body);
        fuzz_parse(&d);
        fuzz_roundtrip(&d);
    }

    /// Byte flips in real and hidden messages.
    #[test]
    fn mutated_messages_never_panic(which in 0usize..2, flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut d = if which == 0 { message::tests::hex(message::tests::SOFTETHER_SCCRP) } else { hidden_icrq() };
        for (i, x) in flips {
            let i = i.index(d.len());
            d[i] ^= x;
        }
        fuzz_parse(&d);
        fuzz_roundtrip(&d);
    }

    #[test]
    fn header_round_trip((h, pad, payload) in arb_header()) {
        let mut d = Vec::new();
        h.encode(&mut d);
        prop_assert_eq!(d.len(), h.len());
        d.extend_from_slice(&pad);
        d.extend_from_slice(&payload);
        let (parsed, range) = Header::parse(&d)?;
        prop_assert_eq!(parsed, h);
        prop_assert_eq!(&d[range], &payload[..]);
        fuzz_roundtrip(&d);
    }

    #[test]
    fn message_round_trip(m in arb_message()) {
        let mut b = Vec::new();
        m.encode(&mut b, None);
        prop_assert_eq!(ControlMessage::parse(&b, None)?, m.clone());
        prop_assert_eq!(peek_message_type(&b), Some(m.message_type));
    }

    #[test]
    fn hidden_message_round_trip(m in arb_message(), secret in arb_bytes(32), rv in any::<[u8; 16]>()) {
        let mut b = Vec::new();
        m.encode(&mut b, Some((&secret, &rv)));
        let mut expect = m.clone();
        expect.avps.insert(0, Avp::RandomVector(rv.to_vec()));
        prop_assert_eq!(ControlMessage::parse(&b, Some(&secret))?, expect);
        // Every hideable AVP was hidden.
        let hidden_count = m.avps.iter().filter(|a| a.may_hide()).count();
        prop_assert_eq!(count_hidden(&b), hidden_count);
    }

    #[test]
    fn datagram_round_trip(m in arb_message(), t: u16, s: u16, ns: u16, nr: u16, hide: bool) {
        let mut d = Vec::new();
        let hiding = hide.then_some((FUZZ_SECRET, &FUZZ_RANDOM_VECTOR));
        encode_control(TunnelId(t), SessionId(s), Seq16(ns), Seq16(nr), Some(&m), hiding, &mut d);
        let (h, p) = Header::parse(&d)?;
        prop_assert_eq!(h, Header::control(d.len() as u16, TunnelId(t), SessionId(s), Seq16(ns), Seq16(nr)));
        let mut expect = m.clone();
        if hide {
            expect.avps.insert(0, Avp::RandomVector(FUZZ_RANDOM_VECTOR.to_vec()));
        }
        prop_assert_eq!(ControlMessage::parse(&d[p], Some(FUZZ_SECRET))?, expect);
        fuzz_roundtrip(&d);
    }
}

/// Number of AVPs with H=1 in a body.
fn count_hidden(body: &[u8]) -> usize {
    let mut r = sras_core::Reader::new(body);
    let mut n = 0;
    while let Ok(a) = avp::RawAvp::read(&mut r) {
        n += usize::from(a.hidden);
    }
    n
}

/// An ICRQ with Assigned Session ID 0x0102 and Call Serial Number hidden under
/// [`FUZZ_SECRET`], as a datagram (the `seed-hidden-icrq` corpus file).
fn hidden_icrq() -> Vec<u8> {
    let m = ControlMessage::new(MessageType::Icrq)
        .with(Avp::AssignedSessionId(SessionId(0x0102)))
        .with(Avp::CallSerialNumber(7))
        .with(Avp::CallingNumber(b"+15551234567".to_vec()));
    let mut d = Vec::new();
    encode_control(
        TunnelId(4242),
        SessionId(0),
        Seq16(1),
        Seq16(1),
        Some(&m),
        Some((FUZZ_SECRET, &FUZZ_RANDOM_VECTOR)),
        &mut d,
    );
    d
}

#[test]
fn hidden_icrq_seed_matches_encoder() {
    let files = corpus_files();
    let seed = files
        .iter()
        .find(|(p, _)| p.ends_with("l2tp_parse/seed-hidden-icrq"))
        .expect("seed-hidden-icrq");
    assert_eq!(seed.1, hidden_icrq());
}
