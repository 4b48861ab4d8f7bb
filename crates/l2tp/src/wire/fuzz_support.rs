//! The checks of the fuzz targets (`fuzz/fuzz_targets/l2tp_*.rs`) as plain functions, so
//! that `cargo test` runs them over the seed corpus and over proptest inputs too (STYLE.md
//! 2.6; hickory `fuzz/fuzz_targets/message.rs`, rustls `fuzzers/message.rs`).
//!
//! Compiled only for tests and with the `__fuzzing` feature. These functions panic (assert)
//! when a property fails: that is how a fuzzer reports a finding.

use super::{encode_control, peek_message_type, Avp, ControlMessage, Header, WireError};

/// The shared secret the fuzz targets parse and hide with (RFC 2661 §4.3). Corpus seeds with
/// hidden AVPs are hidden under it.
pub const FUZZ_SECRET: &[u8] = b"fuzz-secret";

/// The Random Vector the round-trip target hides with (RFC 2661 §4.3).
pub const FUZZ_RANDOM_VECTOR: [u8; 16] = *b"fuzz-random-vect";

/// Reserved bits of the two header flag octets (RFC 2661 §3.1), ignored on receipt.
const HEADER_RESERVED: [u8; 2] = [0x34, 0xf0];

/// Parses `data` every way the endpoint does (RFC 2661 §3.1, §4): as a datagram (header, then
/// the control body with and without a secret) and as a bare control body. Never panics.
pub fn fuzz_parse(data: &[u8]) {
    let _ = peek_message_type(data);
    if let Ok((header, payload)) = Header::parse(data) {
        let _ = header.len();
        if let Some(body) = data.get(payload) {
            parse_body(body);
        }
    }
    parse_body(data);
}

fn parse_body(body: &[u8]) {
    let _ = peek_message_type(body);
    for secret in [None, Some(FUZZ_SECRET)] {
        if let Ok(m) = ControlMessage::parse(body, secret) {
            let _ = m.missing_required();
            let _ = m.unknown_mandatory();
            let _ = m.message_type.is_session_message();
            for a in &m.avps {
                let _ = (a.avp_type(), a.mandatory(), a.may_hide());
            }
        }
    }
}

/// Round trip (RFC 2661 §3.1, §4): whatever parses must encode to bytes that parse back to
/// the same value. For a header: re-encoding gives the received header bytes (reserved bits
/// aside) and the same payload. For a control body (the datagram's, and `data` taken as a
/// bare body), parsed with and without [`FUZZ_SECRET`]: encoding in the clear parses back
/// equal; encoding hidden under [`FUZZ_SECRET`] and [`FUZZ_RANDOM_VECTOR`] parses back to the
/// message with its Random Vectors replaced by ours; [`encode_control`] gives a datagram that
/// parses back to the same header fields and message.
///
/// # Panics
///
/// When a property fails.
pub fn fuzz_roundtrip(data: &[u8]) {
    if let Ok((header, payload)) = Header::parse(data) {
        roundtrip_header(data, header, payload.clone());
        if header.control {
            roundtrip_body(&data[payload], Some(header));
        }
    }
    roundtrip_body(data, None);
}

fn roundtrip_header(data: &[u8], header: Header, payload: std::ops::Range<usize>) {
    let n = header.len();
    let mut encoded = Vec::new();
    header.encode(&mut encoded);
    assert_eq!(encoded.len(), n, "Header::encode length");
    let mut written = vec![0u8; n + 3];
    assert_eq!(header.write(&mut written), Ok(n), "Header::write");
    assert_eq!(&written[..n], &encoded[..], "write and encode differ");
    assert_eq!(
        header.write(&mut written[..n - 1]),
        Err(WireError::Truncated {
            needed: n,
            remaining: n - 1
        })
    );

    let mut received = data[..n].to_vec();
    received[0] &= !HEADER_RESERVED[0];
    received[1] &= !HEADER_RESERVED[1];
    assert_eq!(
        encoded, received,
        "re-encoded header differs from the received one"
    );

    // Header, the received Offset Pad, the payload: the same datagram minus trailing bytes.
    encoded.extend_from_slice(&data[n..payload.end]);
    let (again, again_payload) = Header::parse(&encoded).expect("re-encoded header must parse");
    assert_eq!(again, header);
    assert_eq!(&encoded[again_payload], &data[payload]);
}

fn roundtrip_body(body: &[u8], header: Option<Header>) {
    for secret in [None, Some(FUZZ_SECRET)] {
        let Ok(m) = ControlMessage::parse(body, secret) else {
            continue;
        };
        assert_eq!(
            peek_message_type(body),
            Some(m.message_type),
            "peek disagrees with parse"
        );

        let mut clear = Vec::new();
        m.encode(&mut clear, None);
        assert_eq!(
            ControlMessage::parse(&clear, None).as_ref(),
            Ok(&m),
            "clear round trip"
        );
        let mut clear_again = Vec::new();
        ControlMessage::parse(&clear, None)
            .expect("parsed above")
            .encode(&mut clear_again, None);
        assert_eq!(clear_again, clear, "clear encoding is not a fixpoint");

        let mut hidden = Vec::new();
        m.encode(&mut hidden, Some((FUZZ_SECRET, &FUZZ_RANDOM_VECTOR)));
        let mut expect = m.clone();
        expect.avps.retain(|a| !matches!(a, Avp::RandomVector(_)));
        expect
            .avps
            .insert(0, Avp::RandomVector(FUZZ_RANDOM_VECTOR.to_vec()));
        assert_eq!(
            ControlMessage::parse(&hidden, Some(FUZZ_SECRET)),
            Ok(expect),
            "hidden round trip"
        );

        if let Some(h) = header {
            let (ns, nr) = h.sequence.unwrap_or_default();
            let mut datagram = Vec::new();
            encode_control(
                h.tunnel_id,
                h.session_id,
                ns,
                nr,
                Some(&m),
                None,
                &mut datagram,
            );
            if datagram.len() <= usize::from(u16::MAX) {
                let (h2, p2) = Header::parse(&datagram).expect("encode_control header must parse");
                assert_eq!(
                    (h2.tunnel_id, h2.session_id, h2.sequence),
                    (h.tunnel_id, h.session_id, h.sequence)
                );
                assert_eq!(h2.length, u16::try_from(datagram.len()).ok());
                assert_eq!(
                    ControlMessage::parse(&datagram[p2], None).as_ref(),
                    Ok(&m),
                    "encode_control round trip"
                );
            }
        }
    }
}
