//! The checks of the fuzz targets (`fuzz/fuzz_targets/ike_*.rs`) as plain functions, so that
//! `cargo test` runs them over proptest inputs and the seed corpus too (STYLE.md 2.6; hickory
//! `fuzz/fuzz_targets/message.rs`).
//!
//! Compiled only for tests and with the `__fuzzing` feature. These functions panic (assert)
//! when a property fails: that is how a fuzzer reports a finding.

use std::time::{Duration, Instant};

use crate::fragment::{FragmentLimits, Reassembler};

use super::{
    encode_payloads, split_payloads, vendor, Certificate, CertificateRequest, Delete,
    FragmentPayload, Header, Identification, NatOa, Notification, PayloadType, SaPayload,
    HEADER_LEN,
};

/// Decodes `body` as every typed payload (whatever `kind` says: a fuzzer should reach every
/// decoder), and checks the round trip of each that decodes.
fn every_decoder(body: &[u8]) {
    macro_rules! round_trip {
        ($t:ty) => {
            if let Ok(v) = <$t>::decode(body) {
                let mut out = Vec::new();
                v.encode(&mut out);
                let again = <$t>::decode(&out);
                assert_eq!(again.as_ref(), Ok(&v), "{} round trip", stringify!($t));
                let mut out2 = Vec::new();
                v.encode(&mut out2);
                assert_eq!(out, out2);
            }
        };
    }
    round_trip!(SaPayload);
    round_trip!(Identification);
    round_trip!(Certificate);
    round_trip!(CertificateRequest);
    round_trip!(Notification);
    round_trip!(Delete);
    round_trip!(NatOa);
    round_trip!(FragmentPayload);
    if let Ok(sa) = SaPayload::decode(body) {
        for p in &sa.proposals {
            for t in &p.transforms {
                for a in &t.attributes {
                    let _ = a.value.as_u64();
                }
            }
        }
    }
    if let Ok(id) = Identification::decode(body) {
        let _ = id.to_ip();
    }
    let _ = vendor::describe(body);
    let _ = vendor::supports_fragmentation(body);
    let _ = vendor::nat_traversal(body);
}

/// A fixed starting instant for the reassembler.
#[allow(clippy::disallowed_methods)]
fn start() -> Instant {
    Instant::now()
}

/// Parses `data` every way the IKE endpoint does (RFC 2408 §3): the header, the payload chain
/// of the body and of `data` itself (first type = `data[0]`), every typed decoder on every
/// body, and Fragment payloads through a [`Reassembler`] with small limits. Never panics.
pub fn fuzz_parse(data: &[u8]) {
    let mut reassembler = Reassembler::new(FragmentLimits {
        max_fragments: 8,
        max_message: 4096,
        max_pending: 4,
        timeout: Duration::from_secs(30),
    });
    let now = start();
    let mut chains: Vec<(PayloadType, &[u8])> = Vec::new();
    let mut cookie = [0u8; 8];
    if let Ok(h) = Header::decode(data) {
        cookie = h.initiator_cookie;
        chains.push((h.next_payload, h.body(data)));
    }
    if let Some((&first, rest)) = data.split_first() {
        chains.push((PayloadType::from(first), rest));
    }
    for (i, (first, body)) in chains.into_iter().enumerate() {
        if let Ok(payloads) = split_payloads(first, body) {
            for p in &payloads {
                let b = p.body(body);
                assert_eq!(b.len(), p.body.len());
                let _ = p.whole(body);
                every_decoder(b);
                if p.kind == PayloadType::Fragment {
                    if let Ok(f) = FragmentPayload::decode(b) {
                        let later = now + Duration::from_secs(i as u64 * 20);
                        if let Ok(Some(m)) = reassembler.insert(later, cookie, &f) {
                            assert!(m.len() <= 4096);
                            let _ = Header::decode(&m);
                        }
                        reassembler.handle_timeout(later);
                        assert!(reassembler.held_bytes() <= 4 * 4096);
                    }
                }
            }
        }
    }
    every_decoder(data);
    let _ = reassembler.poll_timeout();
}

/// Round trip (RFC 2408 §3): a header that decodes re-encodes to the same 28 bytes; a payload
/// chain that splits re-encodes (with [`encode_payloads`]) to a chain that splits into the
/// same types and bodies; every typed payload that decodes re-encodes to bytes that decode
/// equal.
pub fn fuzz_roundtrip(data: &[u8]) {
    if let Ok(h) = Header::decode(data) {
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(&out[..], &data[..HEADER_LEN]);
        chain_round_trip(h.next_payload, h.body(data));
    }
    if let Some((&first, rest)) = data.split_first() {
        chain_round_trip(PayloadType::from(first), rest);
    }
    every_decoder(data);
}

fn chain_round_trip(first: PayloadType, body: &[u8]) {
    let Ok(payloads) = split_payloads(first, body) else {
        return;
    };
    let items: Vec<(PayloadType, &[u8])> =
        payloads.iter().map(|p| (p.kind, p.body(body))).collect();
    let (first2, bytes) = encode_payloads(&items);
    assert_eq!(
        first2,
        if items.is_empty() {
            PayloadType::None
        } else {
            first
        }
    );
    let again = split_payloads(first2, &bytes).expect("re-encoded chain splits");
    assert_eq!(again.len(), payloads.len());
    for (a, p) in again.iter().zip(&payloads) {
        assert_eq!(a.kind, p.kind);
        assert_eq!(a.body(&bytes), p.body(body));
        every_decoder(p.body(body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_never_panics(data: Vec<u8>) {
            fuzz_parse(&data);
        }

        #[test]
        fn round_trips(data: Vec<u8>) {
            fuzz_roundtrip(&data);
        }
    }
}
