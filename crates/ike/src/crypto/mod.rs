//! IKEv1 cryptography: hashes and PRFs ([`hash`]), Diffie-Hellman ([`dh`]: MODP groups with
//! crypto-bigint, ECP groups with aws-lc-rs), the phase 1 cipher ([`cipher`]) and the RFC 2409
//! key derivations ([`keymat`]).
//!
//! No cipher, hash or curve arithmetic is written here: aws-lc-rs provides SHA-1/SHA-2 and
//! their HMACs, AES-CBC, 3DES-CBC and ECDH; RustCrypto `md-5` + `hmac` provide (HMAC-)MD5;
//! crypto-bigint provides the constant-time Montgomery exponentiation of MODP groups.
//! Sans-IO: randomness comes from the caller's RNG. Secrets are zeroized on drop, and no
//! function panics on peer input.

pub mod cipher;
pub mod dh;
pub mod hash;
pub mod keymat;

pub use cipher::{CipherAlgorithm, Phase1Cipher};
pub use dh::{DhGroup, DhPrivateKey, SharedSecret};
pub use hash::{Digest, HashAlgorithm};

/// An error of a cryptographic operation.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// The peer's Diffie-Hellman public value is malformed or unsafe (wrong length, out of
    /// range, not on the curve).
    #[error("invalid Diffie-Hellman public value")]
    InvalidPublicValue,
    /// A key (cipher key, DH private key) has the wrong length or value.
    #[error("invalid key length")]
    InvalidKeyLength,
    /// A buffer or IV length is not what the algorithm needs (CBC: whole blocks).
    #[error("invalid length")]
    InvalidLength,
    /// The algorithm is not supported.
    #[error("unsupported algorithm")]
    Unsupported,
    /// The cryptographic library failed unexpectedly.
    #[error("internal cryptographic error")]
    Internal,
}

/// Compares two byte strings in constant time (for the given lengths): use it for HASH
/// payloads and other authenticators. Strings of different lengths are unequal.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Decodes hexadecimal text (whitespace and `:` ignored), for known-answer tests written
/// with values copied from RFCs or logs. `None` on an odd number of digits or a non-hex
/// character.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn hex_decoding() {
        assert_eq!(from_hex("00 ff:1A\n2b"), Some(vec![0, 0xff, 0x1a, 0x2b]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex(""), Some(vec![]));
    }
}
