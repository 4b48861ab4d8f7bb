//! Hiding of AVP attribute values (RFC 2661 §4.3).
//!
//! The hidden value is the Hidden AVP Subformat (Length of Original Value, 2 octets; the
//! original value; optional padding) XORed with an MD5 keystream:
//!
//! ```text
//! b1 = MD5(Attribute Type (2 octets, network order) + S + RV)   c(1) = p1 xor b1
//! bi = MD5(S + c(i-1))                                            c(i) = pi xor bi
//! ```
//!
//! where S is the shared secret and RV the value of the most recent preceding Random Vector
//! AVP. The last block may be short: only the octets present are XORed and the AVP length is
//! not padded (§4.3). We send no padding.

use md5::{Digest, Md5};

use super::WireError;

const BLOCK: usize = 16;

/// XORs `buf` with the §4.3 keystream in place. `encrypt` says whether `buf` holds the
/// plaintext subformat (the chaining input is then the XOR result) or the ciphertext.
fn apply(attribute_type: u16, secret: &[u8], random_vector: &[u8], buf: &mut [u8], encrypt: bool) {
    //= https://www.rfc-editor.org/rfc/rfc2661#section-4.3
    //# Next, An MD5 hash is performed on the concatenation of:
    //# + the 2 octet Attribute number of the AVP
    //# + the shared secret
    //# + an arbitrary length random vector
    let mut b: [u8; BLOCK] = Md5::new()
        .chain_update(attribute_type.to_be_bytes())
        .chain_update(secret)
        .chain_update(random_vector)
        .finalize()
        .into();
    let mut blocks = buf.chunks_mut(BLOCK).peekable();
    while let Some(block) = blocks.next() {
        let mut cipher = [0u8; BLOCK];
        let cipher = &mut cipher[..block.len()];
        if !encrypt {
            cipher.copy_from_slice(block);
        }
        for (x, k) in block.iter_mut().zip(b) {
            *x ^= k;
        }
        if encrypt {
            cipher.copy_from_slice(block);
        }
        if blocks.peek().is_some() {
            //# If the Subformat is longer than 16 octets, a second one-way MD5 hash
            //# is calculated over a stream of octets consisting of the shared secret
            //# followed by the result of the first XOR.
            b = Md5::new()
                .chain_update(secret)
                .chain_update(&*cipher)
                .finalize()
                .into();
        }
    }
}

/// Appends the hidden form of `value` for an AVP of `attribute_type` (RFC 2661 §4.3): the
/// Hidden AVP Subformat without padding, XORed with the keystream. Appends
/// `2 + value.len()` octets. `value` must be at most 65535 octets (AVP values are ≤ 1017).
pub(crate) fn hide(
    attribute_type: u16,
    secret: &[u8],
    random_vector: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) {
    let at = out.len();
    let original = u16::try_from(value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&original.to_be_bytes());
    out.extend_from_slice(&value[..usize::from(original)]);
    apply(attribute_type, secret, random_vector, &mut out[at..], true);
}

/// Recovers the original value of a hidden AVP (RFC 2661 §4.3).
///
/// Errors: a hidden value shorter than the 2-octet length: [`WireError::Truncated`]; a
/// decrypted Original Length above the octets that follow it (wrong secret or forgery):
/// [`WireError::HiddenLength`]. Padding after the original value is discarded.
pub(crate) fn unhide(
    attribute_type: u16,
    secret: &[u8],
    random_vector: &[u8],
    hidden: &[u8],
) -> Result<Vec<u8>, WireError> {
    if hidden.len() < 2 {
        return Err(WireError::Truncated {
            needed: 2,
            remaining: hidden.len(),
        });
    }
    let mut plain = hidden.to_vec();
    apply(attribute_type, secret, random_vector, &mut plain, false);
    let original = usize::from(u16::from_be_bytes([plain[0], plain[1]]));
    let available = plain.len() - 2;
    if original > available {
        return Err(WireError::HiddenLength {
            avp: attribute_type,
            original,
            available,
        });
    }
    plain.truncate(2 + original);
    plain.drain(..2);
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Known answers computed independently with Python's hashlib from the §4.3 text:
    //
    //   import hashlib, struct
    //   def hide(t, s, rv, v):
    //       p = struct.pack('!H', len(v)) + v; out = b''; b = hashlib.md5(struct.pack('!H', t) + s + rv).digest()
    //       for i in range(0, len(p), 16):
    //           c = bytes(x ^ y for x, y in zip(p[i:i+16], b)); out += c; b = hashlib.md5(s + c).digest()
    //       return out
    const SECRET: &[u8] = b"testsecret";
    const RV: [u8; 16] = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
        0x0f,
    ];

    /// hide(9, b"testsecret", bytes(range(16)), b"\x12\x34"): Assigned Tunnel ID 0x1234.
    const KAT_SHORT: [u8; 4] = [0x09, 0x95, 0x53, 0x4a];
    /// hide(7, b"testsecret", bytes(range(16)), b"a-host-name-longer-than-thirty-two-octets"):
    /// three blocks, the last one partial.
    const KAT_LONG: &str =
        "081d25a90d4346dead782b08a9c5f60c13c69c3c1da51995ef813ad33a29001aca5066870906e72505fb94";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn known_answer_short() {
        let mut out = Vec::new();
        hide(9, SECRET, &RV, &[0x12, 0x34], &mut out);
        assert_eq!(out, KAT_SHORT);
        assert_eq!(unhide(9, SECRET, &RV, &KAT_SHORT), Ok(vec![0x12, 0x34]));
    }

    #[test]
    fn known_answer_multi_block() {
        let value = b"a-host-name-longer-than-thirty-two-octets";
        let mut out = Vec::new();
        hide(7, SECRET, &RV, value, &mut out);
        assert_eq!(out, hex(KAT_LONG));
        assert_eq!(unhide(7, SECRET, &RV, &out).as_deref(), Ok(&value[..]));
    }

    #[test]
    fn padding_is_discarded() {
        // A peer that pads: subformat = len 2 + value + 5 random octets, hidden as a whole.
        let mut sub = vec![0x00, 0x02, 0xab, 0xcd, 1, 2, 3, 4, 5];
        apply(14, SECRET, &RV, &mut sub, true);
        assert_eq!(unhide(14, SECRET, &RV, &sub), Ok(vec![0xab, 0xcd]));
    }

    #[test]
    fn original_length_too_big() {
        // ROBUSTNESS 6: Original Length 3 with only 2 octets after it.
        let mut sub = vec![0x00, 0x03, 0xab, 0xcd];
        apply(14, SECRET, &RV, &mut sub, true);
        assert_eq!(
            unhide(14, SECRET, &RV, &sub),
            Err(WireError::HiddenLength {
                avp: 14,
                original: 3,
                available: 2
            })
        );
        assert_eq!(
            unhide(14, SECRET, &RV, &[0x01]),
            Err(WireError::Truncated {
                needed: 2,
                remaining: 1
            })
        );
    }

    #[test]
    fn wrong_secret_does_not_recover_the_value() {
        let mut out = Vec::new();
        hide(9, SECRET, &RV, &[0x12, 0x34], &mut out);
        assert_ne!(unhide(9, b"other", &RV, &out), Ok(vec![0x12, 0x34]));
    }

    proptest! {
        #[test]
        fn round_trip(t: u16, secret in proptest::collection::vec(any::<u8>(), 0..40),
                      rv in proptest::collection::vec(any::<u8>(), 0..40),
                      value in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut out = Vec::new();
            hide(t, &secret, &rv, &value, &mut out);
            prop_assert_eq!(out.len(), value.len() + 2);
            prop_assert_eq!(unhide(t, &secret, &rv, &out)?, value);
        }

        #[test]
        fn unhide_never_panics(t: u16, hidden in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = unhide(t, SECRET, &RV, &hidden);
        }
    }
}
