//! The IKEv1 hash functions and their HMAC PRFs (RFC 2409 §4: "the HMAC version of the
//! negotiated hash algorithm is used as a default prf"), as required by the Hash Algorithm
//! attribute (RFC 2409 Appendix A: 1 MD5, 2 SHA, 4 SHA2-256, 5 SHA2-384, 6 SHA2-512).
//!
//! SHA-1 and SHA-2 (digests and HMACs) are aws-lc-rs; MD5 and HMAC-MD5 are RustCrypto's
//! `md-5` and `hmac`, which aws-lc-rs lacks.

use ::hmac::Mac as _;
use aws_lc_rs::{digest as aws_digest, hmac as aws_hmac};
use md5::Digest as _;
use zeroize::Zeroize;

/// Longest output of any [`HashAlgorithm`] (SHA-512).
pub const MAX_OUTPUT_LEN: usize = 64;

/// A hash algorithm negotiated for phase 1 (the Hash Algorithm attribute, RFC 2409
/// Appendix A), also used as `prf` through its HMAC (RFC 2409 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// MD5 (RFC 1321); HMAC-MD5 (RFC 2104).
    Md5,
    /// SHA-1 (FIPS 180-4); HMAC-SHA1.
    Sha1,
    /// SHA-256 (FIPS 180-4); HMAC-SHA-256 (RFC 4868 for its use in IPsec).
    Sha256,
    /// SHA-384; HMAC-SHA-384.
    Sha384,
    /// SHA-512; HMAC-SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// Every algorithm, weakest first.
    pub const ALL: &'static [Self] = &[
        Self::Md5,
        Self::Sha1,
        Self::Sha256,
        Self::Sha384,
        Self::Sha512,
    ];

    /// Length of the hash (and of the HMAC) output in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Input block length of the hash in bytes (64 for MD5, SHA-1 and SHA-256; 128 for
    /// SHA-384 and SHA-512).
    pub const fn block_len(self) -> usize {
        match self {
            Self::Md5 | Self::Sha1 | Self::Sha256 => 64,
            Self::Sha384 | Self::Sha512 => 128,
        }
    }

    fn aws_digest(self) -> Option<&'static aws_digest::Algorithm> {
        match self {
            Self::Md5 => None,
            Self::Sha1 => Some(&aws_digest::SHA1_FOR_LEGACY_USE_ONLY),
            Self::Sha256 => Some(&aws_digest::SHA256),
            Self::Sha384 => Some(&aws_digest::SHA384),
            Self::Sha512 => Some(&aws_digest::SHA512),
        }
    }

    fn aws_hmac(self) -> Option<aws_hmac::Algorithm> {
        match self {
            Self::Md5 => None,
            Self::Sha1 => Some(aws_hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
            Self::Sha256 => Some(aws_hmac::HMAC_SHA256),
            Self::Sha384 => Some(aws_hmac::HMAC_SHA384),
            Self::Sha512 => Some(aws_hmac::HMAC_SHA512),
        }
    }

    /// `H(parts[0] | parts[1] | ...)`: the hash of the concatenation of `parts`.
    pub fn hash(self, parts: &[&[u8]]) -> Digest {
        match self.aws_digest() {
            Some(alg) => {
                let mut ctx = aws_digest::Context::new(alg);
                for p in parts {
                    ctx.update(p);
                }
                Digest::from_slice(ctx.finish().as_ref())
            }
            None => {
                let mut h = md5::Md5::new();
                for p in parts {
                    h.update(p);
                }
                let mut out = h.finalize();
                let d = Digest::from_slice(&out);
                out.as_mut_slice().zeroize();
                d
            }
        }
    }

    /// `prf(key, parts[0] | parts[1] | ...)` = HMAC-H(key, concatenation of `parts`)
    /// (RFC 2104): the IKEv1 prf when no PRF attribute is negotiated (RFC 2409 §4).
    ///
    /// Any key length is accepted (HMAC hashes keys longer than the block length).
    pub fn prf(self, key: &[u8], parts: &[&[u8]]) -> Digest {
        match self.aws_hmac() {
            Some(alg) => {
                let key = aws_hmac::Key::new(alg, key);
                let mut ctx = aws_hmac::Context::with_key(&key);
                for p in parts {
                    ctx.update(p);
                }
                Digest::from_slice(ctx.sign().as_ref())
            }
            None => {
                // HMAC accepts keys of any length: `new_from_slice` cannot fail.
                let mut mac =
                    <::hmac::Hmac<md5::Md5> as ::hmac::digest::KeyInit>::new_from_slice(key)
                        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
                for p in parts {
                    mac.update(p);
                }
                let mut out = mac.finalize().into_bytes();
                let d = Digest::from_slice(&out);
                out.as_mut_slice().zeroize();
                d
            }
        }
    }
}

/// A hash or PRF output (at most [`MAX_OUTPUT_LEN`] bytes), zeroized on drop.
///
/// Its `Debug` does not print the bytes (SKEYIDs are [`Digest`]s). Compare HASH payloads with
/// [`super::ct_eq`], not `==`.
#[derive(Clone)]
pub struct Digest {
    bytes: [u8; MAX_OUTPUT_LEN],
    len: usize,
}

impl Digest {
    /// A digest holding a copy of `bytes`; `None` if longer than [`MAX_OUTPUT_LEN`].
    ///
    /// For known-answer tests that start from a given SKEYID.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        (bytes.len() <= MAX_OUTPUT_LEN).then(|| Self::from_slice(bytes))
    }

    /// `bytes` must be at most [`MAX_OUTPUT_LEN`] long (all callers pass hash outputs).
    fn from_slice(bytes: &[u8]) -> Self {
        let len = bytes.len().min(MAX_OUTPUT_LEN);
        let mut d = Self {
            bytes: [0; MAX_OUTPUT_LEN],
            len,
        };
        d.bytes[..len].copy_from_slice(&bytes[..len]);
        d
    }

    /// The output bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Output length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the output is empty (never, for a computed digest).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digest")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Drop for Digest {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for Digest {}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn output_lengths() {
        for &h in HashAlgorithm::ALL {
            assert_eq!(h.hash(&[b"x"]).len(), h.output_len());
            assert_eq!(h.prf(b"k", &[b"x"]).len(), h.output_len());
        }
    }

    #[test]
    fn parts_are_concatenated() {
        for &h in HashAlgorithm::ALL {
            assert_eq!(
                h.hash(&[b"ab", b"", b"c"]).as_ref(),
                h.hash(&[b"abc"]).as_ref()
            );
            assert_eq!(
                h.prf(b"key", &[b"a", b"bc"]).as_ref(),
                h.prf(b"key", &[b"abc"]).as_ref()
            );
        }
    }

    #[test]
    fn fips_abc() {
        let cases = [
            (HashAlgorithm::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (
                HashAlgorithm::Sha1,
                "a9993e364706816aba3e25717850c26c9cd0d89d",
            ),
            (
                HashAlgorithm::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
        ];
        for (h, want) in cases {
            assert_eq!(h.hash(&[b"abc"]).as_ref(), hex(want).as_slice(), "{h:?}");
        }
    }

    #[test]
    fn rfc2202_hmac_md5_case1() {
        let d = HashAlgorithm::Md5.prf(&[0x0b; 16], &[b"Hi There"]);
        assert_eq!(
            d.as_ref(),
            hex("9294727a3638bb1c13f48ef8158bfc9d").as_slice()
        );
    }

    #[test]
    fn debug_hides_bytes() {
        let d = HashAlgorithm::Sha1.hash(&[b"abc"]);
        let s = format!("{d:?}");
        assert!(!s.contains("a9") && s.contains("20"));
    }

    #[test]
    fn digest_new() {
        assert!(Digest::new(&[0; 65]).is_none());
        assert_eq!(Digest::new(&[1, 2]).unwrap().as_ref(), &[1, 2]);
    }
}
