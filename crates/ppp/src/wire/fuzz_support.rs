//! The checks of the fuzz targets (`fuzz/fuzz_targets/ppp_*.rs`) as plain functions, so that
//! `cargo test` runs them over the seed corpus and over proptest inputs too (STYLE.md 2.6;
//! hickory `fuzz/fuzz_targets/message.rs`, rustls `fuzzers/message.rs`).
//!
//! Compiled only for tests and with the `__fuzzing` feature. These functions panic (assert)
//! when a property fails: that is how a fuzzer reports a finding.

use std::fmt::Debug;

use super::{
    encode_frame, frame_header_len, md5_value, options, parse_frame, write_frame_header,
    ChapPacket, EapMd5, EapMsChapV2, EapPacket, EapType, IpcpOption, Ipv6cpOption, LcpOption,
    MsChapV1Response, MsChapV2Response, Packet, PapPacket, Protocol, RawOption, WireError, ADDRESS,
    CONTROL, MAX_FRAME_HEADER_LEN,
};

/// A PPP frame as an L2TP data message carries it (RFC 2661 §5.4, RFC 1661 §2): parses the
/// frame; re-encodes it under every ACFC/PFC combination and parses it back; re-encoding
/// with the compression the input used gives the input back (LCP aside, which is never sent
/// compressed); then parses the Information field as its protocol's packet ([`fuzz_auth`]'s
/// checks for PAP, CHAP and EAP, [`fuzz_options`]' for the options of LCP, IPCP and IPv6CP
/// Configure-* packets).
///
/// # Panics
///
/// When a property fails.
pub fn fuzz_frame(data: &[u8]) {
    let (protocol, info) = match parse_frame(data) {
        Ok(x) => x,
        Err(WireError::BadProtocol { offset, protocol }) => {
            assert!(offset <= data.len(), "BadProtocol offset past the frame");
            assert!(
                !Protocol::from(protocol).is_valid(),
                "valid protocol refused"
            );
            return;
        }
        Err(_) => return,
    };
    assert!(
        protocol.is_valid(),
        "parse_frame returned an invalid protocol"
    );
    let header = data.len() - info.len();
    assert!((1..=MAX_FRAME_HEADER_LEN).contains(&header));
    assert_eq!(&data[header..], info, "information is not the frame's tail");

    let acfc_in = !data.starts_with(&[ADDRESS, CONTROL]);
    let pfc_in = header == if acfc_in { 1 } else { 3 };
    for (acfc, pfc) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut f = Vec::new();
        encode_frame(protocol, acfc, pfc, info, &mut f);
        let n = frame_header_len(protocol, acfc, pfc);
        assert_eq!(f.len(), n + info.len(), "frame_header_len disagrees");
        assert_eq!(parse_frame(&f), Ok((protocol, info)), "frame round trip");
        let mut buf = [0u8; MAX_FRAME_HEADER_LEN + 1];
        assert_eq!(write_frame_header(protocol, acfc, pfc, &mut buf), Ok(n));
        assert_eq!(
            &buf[..n],
            &f[..n],
            "write_frame_header and encode_frame differ"
        );
        assert_eq!(
            write_frame_header(protocol, acfc, pfc, &mut buf[..n - 1]),
            Err(WireError::Truncated {
                needed: n,
                remaining: n - 1
            })
        );
        if (acfc, pfc) == (acfc_in, pfc_in) && !(protocol == Protocol::Lcp && acfc_in) {
            assert_eq!(f, data, "re-encoded frame differs from the received one");
        }
    }

    if protocol.is_control() {
        if let Ok(packet) = Packet::parse(info) {
            check_packet(info, &packet);
            match protocol {
                Protocol::Pap | Protocol::Chap | Protocol::Eap => check_auth(&packet),
                _ if (1..=4).contains(&packet.code) => check_options(packet.data),
                _ => {}
            }
        }
    }
}

/// An options list (RFC 1661 §6): the walk ends, never yields more options than the list has
/// room for, stops at its first error, and the options it yields re-encode to the list's
/// bytes; each option typed as LCP, IPCP and IPv6CP re-encodes byte for byte to the raw
/// option and parses back equal.
///
/// # Panics
///
/// When a property fails.
pub fn fuzz_options(data: &[u8]) {
    check_options(data);
}

/// A control packet of PAP, CHAP or EAP (RFC 1334 §2.2, RFC 1994 §4, RFC 3748 §4), and the
/// raw input as an MS-CHAP Response value, an MD5 value, EAP-MD5 and EAP-MSCHAPv2 type data:
/// whatever parses encodes to bytes that parse back equal, and encoding is a fixpoint.
///
/// # Panics
///
/// When a property fails.
pub fn fuzz_auth(data: &[u8]) {
    if let Ok(packet) = Packet::parse(data) {
        check_packet(data, &packet);
        check_auth(&packet);
    }
    check_values(data);
    check_eap_type_data(EapType::Md5Challenge, data);
    check_eap_type_data(EapType::MsChapV2, data);
}

/// `Packet::encode` of a parsed packet gives the bytes the Length covered.
fn check_packet(info: &[u8], packet: &Packet<'_>) {
    let mut v = Vec::new();
    Packet::encode(packet.code, packet.identifier, packet.data, &mut v);
    assert_eq!(v.len(), packet.len());
    assert_eq!(&v[..], &info[..packet.len()], "packet re-encoding differs");
    assert_eq!(Packet::parse(&v).as_ref(), Ok(packet), "packet round trip");
}

fn check_options(list: &[u8]) {
    let mut it = options(list);
    let mut encoded = Vec::new();
    let mut count = 0;
    let mut failed = false;
    for item in it.by_ref() {
        assert!(!failed, "option walk continued after an error");
        count += 1;
        assert!(count <= list.len() / 2 + 1, "option walk does not advance");
        match item {
            Ok(raw) => {
                raw.encode(&mut encoded);
                check_typed_option(&raw);
            }
            Err(e) => {
                failed = true;
                assert!(
                    matches!(
                        e,
                        WireError::OptionTooShort { .. }
                            | WireError::OptionPastEnd { .. }
                            | WireError::Truncated { .. }
                    ),
                    "unexpected option error {e:?}"
                );
            }
        }
    }
    assert_eq!(it.next(), None, "option walk is not fused");
    assert_eq!(
        &encoded[..],
        &list[..encoded.len()],
        "options re-encode to other bytes"
    );
    if !failed {
        assert_eq!(encoded.len(), list.len(), "a clean walk covers the list");
    }
}

fn check_typed_option(raw: &RawOption<'_>) {
    let mut want = Vec::new();
    raw.encode(&mut want);
    check_one(
        raw,
        &want,
        LcpOption::parse,
        LcpOption::kind,
        LcpOption::encode,
    );
    check_one(
        raw,
        &want,
        IpcpOption::parse,
        IpcpOption::kind,
        IpcpOption::encode,
    );
    check_one(
        raw,
        &want,
        Ipv6cpOption::parse,
        Ipv6cpOption::kind,
        Ipv6cpOption::encode,
    );
}

fn check_one<T: PartialEq + Debug>(
    raw: &RawOption<'_>,
    want: &[u8],
    parse: fn(&RawOption<'_>) -> Result<T, WireError>,
    kind: fn(&T) -> u8,
    encode: fn(&T, &mut Vec<u8>),
) {
    let Ok(o) = parse(raw) else {
        return;
    };
    assert_eq!(kind(&o), raw.kind, "typed option changed its type");
    let mut v = Vec::new();
    encode(&o, &mut v);
    assert_eq!(
        &v[..],
        want,
        "typed option re-encodes to other bytes: {o:?}"
    );
    let again: Vec<_> = options(&v).collect();
    assert_eq!(again.len(), 1);
    let raw2 = again[0].clone().expect("re-encoded option walks");
    assert_eq!(parse(&raw2).as_ref(), Ok(&o), "typed option round trip");
}

/// parse(encode(x)) == x, and encode(parse(encode(x))) == encode(x).
fn roundtrip<T: PartialEq + Debug>(
    x: &T,
    encode: impl Fn(&T, &mut Vec<u8>),
    parse: impl Fn(&[u8]) -> Result<T, WireError>,
    what: &str,
) {
    let mut v = Vec::new();
    encode(x, &mut v);
    let again = parse(&v);
    assert_eq!(again.as_ref(), Ok(x), "{what} round trip");
    let mut w = Vec::new();
    if let Ok(a) = &again {
        encode(a, &mut w);
    }
    assert_eq!(v, w, "{what} encoding is not a fixpoint");
}

fn check_auth(packet: &Packet<'_>) {
    let id = packet.identifier;
    fn reparse(bytes: &[u8], code: u8, id: u8) -> Packet<'_> {
        let p = Packet::parse(bytes).expect("encoded packet parses");
        assert_eq!(
            (p.code, p.identifier),
            (code, id),
            "code or identifier changed"
        );
        p
    }
    if let Ok(pap) = PapPacket::parse(packet) {
        assert_eq!(pap.code(), packet.code);
        roundtrip(
            &pap,
            |x, out| x.encode(id, out),
            |b| PapPacket::parse(&reparse(b, pap.code(), id)),
            "PAP",
        );
    }
    if let Ok(chap) = ChapPacket::parse(packet) {
        assert_eq!(chap.code(), packet.code);
        roundtrip(
            &chap,
            |x, out| x.encode(id, out),
            |b| ChapPacket::parse(&reparse(b, chap.code(), id)),
            "CHAP",
        );
        if let ChapPacket::Challenge { value, .. } | ChapPacket::Response { value, .. } = &chap {
            check_values(value);
        }
    }
    if let Ok(eap) = EapPacket::parse(packet) {
        assert_eq!(eap.code(), packet.code);
        roundtrip(
            &eap,
            |x, out| x.encode(id, out),
            |b| EapPacket::parse(&reparse(b, eap.code(), id)),
            "EAP",
        );
        if let EapPacket::Request { type_, data } | EapPacket::Response { type_, data } = &eap {
            check_eap_type_data(*type_, data);
        }
    }
}

fn check_values(value: &[u8]) {
    if let Ok(r) = MsChapV2Response::parse(value) {
        assert_eq!(value.len(), 49);
        assert_eq!(MsChapV2Response::parse(&r.encode()), Ok(r));
        assert_eq!(&r.encode()[..16], &value[..16]);
        assert_eq!(&r.encode()[24..], &value[24..]);
    }
    if let Ok(r) = MsChapV1Response::parse(value) {
        assert_eq!(value.len(), 49);
        assert_eq!(MsChapV1Response::parse(&r.encode()), Ok(r));
        assert_eq!(&r.encode()[..48], &value[..48]);
    }
    if let Ok(d) = md5_value(value) {
        assert_eq!(&d[..], value);
    }
}

fn check_eap_type_data(type_: EapType, data: &[u8]) {
    match type_ {
        EapType::Md5Challenge => {
            if let Ok(m) = EapMd5::parse(data) {
                roundtrip(&m, EapMd5::encode, EapMd5::parse, "EAP-MD5");
                let mut v = Vec::new();
                m.encode(&mut v);
                assert_eq!(&v[..], data, "EAP-MD5 re-encodes to other bytes");
                check_values(&m.value);
            }
        }
        EapType::MsChapV2 => {
            if let Ok(m) = EapMsChapV2::parse(data) {
                roundtrip(&m, EapMsChapV2::encode, EapMsChapV2::parse, "EAP-MSCHAPv2");
            }
        }
        _ => {}
    }
}
