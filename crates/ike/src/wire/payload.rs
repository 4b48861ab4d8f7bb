//! The generic payload header and payload chains (RFC 2408 §3.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Next Payload  !   RESERVED    !         Payload Length        !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::ops::Range;

use sras_core::{Reader, Writer};

use super::{Error, Header, HEADER_LEN};

/// Length of the generic payload header (RFC 2408 §3.2).
pub const GENERIC_HEADER_LEN: usize = 4;

/// Bound on the number of payloads in one message. A Main Mode message carries at most about
/// a dozen (SA, KE, nonce, NAT-D ×2, several vendor IDs, certificates and requests); 64
/// leaves room without letting a datagram of zero-length payloads cost unbounded work.
pub const MAX_PAYLOADS: usize = 64;

/// Largest payload body: the 16-bit Payload Length counts the 4-byte generic header
/// (RFC 2408 §3.2).
pub const MAX_PAYLOAD_BODY: usize = u16::MAX as usize - GENERIC_HEADER_LEN;

sras_core::wire_enum! {
    /// Next Payload types (RFC 2408 §3.1; RFC 3947 §3.2, §4; IANA "ISAKMP Next Payload Types").
    pub enum PayloadType(u8) {
        /// NONE: the last payload of a chain (RFC 2408 §3.1).
        None = 0,
        /// Security Association (RFC 2408 §3.4).
        Sa = 1,
        /// Proposal (RFC 2408 §3.5), only inside an SA payload.
        Proposal = 2,
        /// Transform (RFC 2408 §3.6), only inside a Proposal payload.
        Transform = 3,
        /// Key Exchange (RFC 2408 §3.7).
        KeyExchange = 4,
        /// Identification (RFC 2408 §3.8, RFC 2407 §4.6.2).
        Identification = 5,
        /// Certificate (RFC 2408 §3.9).
        Certificate = 6,
        /// Certificate Request (RFC 2408 §3.10).
        CertificateRequest = 7,
        /// Hash (RFC 2408 §3.11).
        Hash = 8,
        /// Signature (RFC 2408 §3.12).
        Signature = 9,
        /// Nonce (RFC 2408 §3.13).
        Nonce = 10,
        /// Notification (RFC 2408 §3.14).
        Notification = 11,
        /// Delete (RFC 2408 §3.15).
        Delete = 12,
        /// Vendor ID (RFC 2408 §3.16).
        VendorId = 13,
        /// NAT Discovery (RFC 3947 §3.2).
        NatD = 20,
        /// NAT Original Address (RFC 3947 §5.2).
        NatOa = 21,
        /// NAT-D of draft-ietf-ipsec-nat-t-ike-02/03 (a private-use value, RFC 3947 §3.2's
        /// predecessor).
        NatDDraft = 130,
        /// NAT-OA of draft-ietf-ipsec-nat-t-ike-02/03.
        NatOaDraft = 131,
        /// The Cisco/Microsoft IKE fragment payload (private use; see [`FragmentPayload`](super::FragmentPayload)).
        Fragment = 132,
    }
}

/// One payload of a chain (RFC 2408 §3.2): its type, where its generic header starts in the
/// buffer given to [`split_payloads`], and the range of its body (after the 4-byte generic
/// header) in that buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawPayload {
    /// The payload type (the Next Payload field of the previous header).
    pub kind: PayloadType,
    /// Offset of the generic header.
    pub start: usize,
    /// The body's byte range.
    pub body: Range<usize>,
}

impl RawPayload {
    /// The body's bytes in `buf` (the buffer given to [`split_payloads`]); empty if `buf` is
    /// not that buffer and the range does not fit.
    pub fn body<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.body.clone()).unwrap_or(&[])
    }

    /// The whole payload (generic header and body) in `buf`, e.g. for the HASH computations
    /// of RFC 2409 §5 that cover the SA body or §5.5 that cover whole payloads.
    pub fn whole<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start..self.body.end).unwrap_or(&[])
    }
}

/// Walks the generic-payload chain (RFC 2408 §3.2) of `buf` (the bytes after the ISAKMP
/// header, decrypted) starting with `first` (the header's Next Payload).
///
/// Errors: a Payload Length below 4 ([`Error::PayloadTooShort`]), a payload running past the
/// end ([`Error::PayloadPastEnd`]), more than [`MAX_PAYLOADS`] ([`Error::TooManyPayloads`]).
/// The RESERVED octet is ignored. Unknown payload types are returned as
/// [`PayloadType::Unknown`]: whether they are an error (INVALID-PAYLOAD-TYPE, RFC 2408 §5.2)
/// is the caller's decision. Trailing bytes after the last payload (Next Payload = NONE) are
/// allowed (CBC padding, RFC 2409 Appendix B) and ignored.
pub fn split_payloads(first: PayloadType, buf: &[u8]) -> Result<Vec<RawPayload>, Error> {
    let mut out = Vec::new();
    let mut kind = first;
    let mut r = Reader::new(buf);
    while kind != PayloadType::None {
        if out.len() == MAX_PAYLOADS {
            return Err(Error::TooManyPayloads(MAX_PAYLOADS));
        }
        let start = r.used();
        let remaining = r.left();
        if remaining < GENERIC_HEADER_LEN {
            return Err(Error::PayloadPastEnd {
                offset: start,
                length: GENERIC_HEADER_LEN,
                remaining,
            });
        }
        let next = PayloadType::from(r.u8()?);
        let _reserved = r.u8()?;
        let length = usize::from(r.u16()?);
        if length < GENERIC_HEADER_LEN {
            return Err(Error::PayloadTooShort {
                offset: start,
                length,
            });
        }
        if length > remaining {
            return Err(Error::PayloadPastEnd {
                offset: start,
                length,
                remaining,
            });
        }
        r.take(length - GENERIC_HEADER_LEN)?;
        out.push(RawPayload {
            kind,
            start,
            body: start + GENERIC_HEADER_LEN..start + length,
        });
        kind = next;
    }
    Ok(out)
}

/// Encodes a chain (RFC 2408 §3.2): each item's generic header gets the next item's type as
/// Next Payload (NONE for the last) and its body's length plus 4. Returns the type of the
/// first payload (NONE for an empty chain), for the ISAKMP header, and the bytes.
///
/// A body longer than [`MAX_PAYLOAD_BODY`] cannot be represented and is cut to that length.
pub fn encode_payloads(items: &[(PayloadType, &[u8])]) -> (PayloadType, Vec<u8>) {
    let total: usize = items
        .iter()
        .map(|(_, b)| GENERIC_HEADER_LEN + b.len().min(MAX_PAYLOAD_BODY))
        .sum();
    let mut out = Vec::with_capacity(total);
    let mut w = Writer::new(&mut out);
    for (i, (_, body)) in items.iter().enumerate() {
        let next = items.get(i + 1).map_or(PayloadType::None, |(k, _)| *k);
        let body = body.get(..MAX_PAYLOAD_BODY).unwrap_or(body);
        w.u8(next.value());
        w.u8(0);
        w.u16((GENERIC_HEADER_LEN + body.len()) as u16);
        w.bytes(body);
    }
    let first = items.first().map_or(PayloadType::None, |(k, _)| *k);
    (first, out)
}

/// Encodes a whole plaintext message: `header` with its Next Payload and Length set from the
/// chain, then the chain ([`encode_payloads`]). For an encrypted message encode the chain
/// alone, encrypt it, and write the header with the ciphertext's length.
pub fn encode_message(header: &Header, items: &[(PayloadType, &[u8])]) -> Vec<u8> {
    let (first, body) = encode_payloads(items);
    let header = Header {
        next_payload: first,
        length: u32::try_from(HEADER_LEN + body.len()).unwrap_or(u32::MAX),
        ..*header
    };
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    header.encode(&mut out);
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_round_trip() {
        let items: [(PayloadType, &[u8]); 3] = [
            (PayloadType::Sa, &[1, 2, 3]),
            (PayloadType::VendorId, &[]),
            (PayloadType::Nonce, &[9; 16]),
        ];
        let (first, bytes) = encode_payloads(&items);
        assert_eq!(first, PayloadType::Sa);
        assert_eq!(bytes.len(), 3 * 4 + 3 + 16);
        assert_eq!(&bytes[..4], &[13, 0, 0, 7]);
        let ps = split_payloads(first, &bytes).unwrap();
        assert_eq!(ps.len(), 3);
        for (p, (k, b)) in ps.iter().zip(items) {
            assert_eq!(p.kind, k);
            assert_eq!(p.body(&bytes), b);
        }
        assert_eq!(ps[1].whole(&bytes), &[10, 0, 0, 4]);
        assert_eq!(encode_payloads(&[]), (PayloadType::None, vec![]));
        assert_eq!(split_payloads(PayloadType::None, &[1, 2, 3]), Ok(vec![]));
    }

    #[test]
    fn trailing_padding_is_ignored() {
        let (first, mut bytes) = encode_payloads(&[(PayloadType::Hash, &[7; 20])]);
        bytes.extend_from_slice(&[0; 7]);
        let ps = split_payloads(first, &bytes).unwrap();
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].body, 4..24);
    }

    /// ROBUSTNESS case 33: a zero-length payload (and lengths 1 to 3).
    #[test]
    fn robustness_33_payload_too_short() {
        for len in 0..4u8 {
            let bytes = [0, 0, 0, len, 0, 0, 0, 0];
            assert_eq!(
                split_payloads(PayloadType::Sa, &bytes),
                Err(Error::PayloadTooShort {
                    offset: 0,
                    length: usize::from(len)
                })
            );
        }
    }

    /// ROBUSTNESS case 33: a payload past the end, and a chain announcing a next payload that
    /// is not there.
    #[test]
    fn robustness_33_payload_past_end() {
        let bytes = [0, 0, 0, 9, 1, 2, 3, 4];
        assert_eq!(
            split_payloads(PayloadType::Nonce, &bytes),
            Err(Error::PayloadPastEnd {
                offset: 0,
                length: 9,
                remaining: 8
            })
        );
        let bytes = [10, 0, 0, 4, 0, 0];
        assert_eq!(
            split_payloads(PayloadType::Nonce, &bytes),
            Err(Error::PayloadPastEnd {
                offset: 4,
                length: 4,
                remaining: 2
            })
        );
        assert!(matches!(
            split_payloads(PayloadType::Nonce, &[]),
            Err(Error::PayloadPastEnd { .. })
        ));
    }

    /// ROBUSTNESS case 33: more than MAX_PAYLOADS payloads.
    #[test]
    fn robustness_33_too_many_payloads() {
        let bodies = [[0u8; 0]; MAX_PAYLOADS + 1];
        let items: Vec<(PayloadType, &[u8])> = bodies
            .iter()
            .map(|b| (PayloadType::VendorId, &b[..]))
            .collect();
        let (first, bytes) = encode_payloads(&items);
        assert_eq!(
            split_payloads(first, &bytes),
            Err(Error::TooManyPayloads(MAX_PAYLOADS))
        );
        let (first, bytes) = encode_payloads(&items[..MAX_PAYLOADS]);
        assert_eq!(
            split_payloads(first, &bytes).map(|v| v.len()),
            Ok(MAX_PAYLOADS)
        );
    }

    #[test]
    fn encode_message_sets_header() {
        let h = Header {
            initiator_cookie: [1; 8],
            responder_cookie: [2; 8],
            next_payload: PayloadType::None,
            version: super::super::ISAKMP_VERSION,
            exchange_type: super::super::ExchangeType::Informational,
            flags: super::super::Flags::NONE,
            message_id: 7,
            length: 0,
        };
        let m = encode_message(&h, &[(PayloadType::Notification, &[0; 12])]);
        let d = Header::decode(&m).unwrap();
        assert_eq!(d.next_payload, PayloadType::Notification);
        assert_eq!(d.length as usize, m.len());
        assert_eq!(m.len(), 28 + 16);
    }
}
