//! The phase 1 (ISAKMP SA) cipher: CBC without padding, keyed once (RFC 2409 Appendix A
//! Encryption Algorithm attribute: 5 3DES-CBC, 7 AES-CBC with its Key Length attribute,
//! RFC 3602).
//!
//! The block cipher is aws-lc-rs (3DES behind its `legacy-des` feature). IKEv1 does its own
//! chaining of IVs across messages (RFC 2409 Appendix B; see [`super::keymat::message_iv`])
//! and its own padding (RFC 2408 §3.5: the payloads are padded to the block length by the
//! sender), so this type only encrypts or decrypts whole blocks under a given IV.

use aws_lc_rs::cipher::{
    self, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;

use super::CryptoError;

/// A phase 1 encryption algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CipherAlgorithm {
    /// 3DES-EDE in CBC mode (RFC 2451), 24-byte key, 8-byte block.
    TripleDesCbc,
    /// AES-128-CBC (RFC 3602).
    AesCbc128,
    /// AES-192-CBC (RFC 3602).
    AesCbc192,
    /// AES-256-CBC (RFC 3602).
    AesCbc256,
}

impl CipherAlgorithm {
    /// Every algorithm.
    pub const ALL: &'static [Self] = &[
        Self::TripleDesCbc,
        Self::AesCbc128,
        Self::AesCbc192,
        Self::AesCbc256,
    ];

    /// Key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::TripleDesCbc | Self::AesCbc192 => 24,
            Self::AesCbc128 => 16,
            Self::AesCbc256 => 32,
        }
    }

    /// Block length (and IV length) in bytes.
    pub const fn block_len(self) -> usize {
        match self {
            Self::TripleDesCbc => 8,
            _ => 16,
        }
    }

    /// The AES-CBC algorithm for a Key Length attribute in bits (RFC 3602 §5 via RFC 2409
    /// Appendix A: 128, 192 or 256).
    pub const fn aes_from_key_bits(bits: u16) -> Option<Self> {
        match bits {
            128 => Some(Self::AesCbc128),
            192 => Some(Self::AesCbc192),
            256 => Some(Self::AesCbc256),
            _ => None,
        }
    }

    #[allow(deprecated)] // DES_EDE3_FOR_LEGACY_USE_ONLY: 3DES is opt-in for legacy clients.
    fn aws(self) -> &'static cipher::Algorithm {
        match self {
            Self::TripleDesCbc => &cipher::DES_EDE3_FOR_LEGACY_USE_ONLY,
            Self::AesCbc128 => &cipher::AES_128,
            Self::AesCbc192 => &cipher::AES_192,
            Self::AesCbc256 => &cipher::AES_256,
        }
    }
}

/// A keyed phase 1 cipher: both directions, key schedules computed once. The key material
/// lives in aws-lc-rs key objects, which clear it when dropped.
pub struct Phase1Cipher {
    alg: CipherAlgorithm,
    enc: EncryptingKey,
    dec: DecryptingKey,
}

impl std::fmt::Debug for Phase1Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phase1Cipher")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Phase1Cipher {
    /// Keys `alg` with `key`: exactly [`CipherAlgorithm::key_len`] bytes, else
    /// [`CryptoError::InvalidKeyLength`]. A 3DES key that aws-lc-rs refuses as degenerate
    /// (K1 = K2 or K2 = K3, which reduces 3DES to single DES) is also
    /// [`CryptoError::InvalidKeyLength`] (RFC 2409 Appendix B: weak keys MUST be rejected).
    pub fn new(alg: CipherAlgorithm, key: &[u8]) -> Result<Self, CryptoError> {
        if key.len() != alg.key_len() {
            return Err(CryptoError::InvalidKeyLength);
        }
        let unbound =
            |k| UnboundCipherKey::new(alg.aws(), k).map_err(|_| CryptoError::InvalidKeyLength);
        let enc = EncryptingKey::cbc(unbound(key)?).map_err(|_| CryptoError::InvalidKeyLength)?;
        let dec = DecryptingKey::cbc(unbound(key)?).map_err(|_| CryptoError::InvalidKeyLength)?;
        Ok(Self { alg, enc, dec })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> CipherAlgorithm {
        self.alg
    }

    /// Block length (and IV length) in bytes.
    pub fn block_len(&self) -> usize {
        self.alg.block_len()
    }

    fn check(&self, iv: &[u8], buf: &[u8]) -> Result<(), CryptoError> {
        let bl = self.block_len();
        if iv.len() != bl || !buf.len().is_multiple_of(bl) {
            return Err(CryptoError::InvalidLength);
        }
        Ok(())
    }

    /// CBC-encrypts `buf` in place under `iv`, no padding added: `buf.len()` must be a
    /// multiple of the block length and `iv` one block long (else
    /// [`CryptoError::InvalidLength`]). An empty `buf` is left as is.
    ///
    /// The next IV of the exchange is the last ciphertext block (RFC 2409 Appendix B).
    pub fn encrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        self.check(iv, buf)?;
        if buf.is_empty() {
            return Ok(());
        }
        let ctx = enc_context(iv)?;
        self.enc
            .less_safe_encrypt(buf, ctx)
            .map_err(|_| CryptoError::Internal)?;
        Ok(())
    }

    /// CBC-decrypts `buf` in place under `iv`, no padding removed; same length rules as
    /// [`Self::encrypt`].
    ///
    /// The caller must save the last ciphertext block first if it needs it as the next IV.
    pub fn decrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        self.check(iv, buf)?;
        if buf.is_empty() {
            return Ok(());
        }
        let ctx = match enc_context(iv)? {
            EncryptionContext::Iv128(b) => DecryptionContext::Iv128(b),
            EncryptionContext::Iv64(b) => DecryptionContext::Iv64(b),
            _ => return Err(CryptoError::Internal),
        };
        self.dec
            .decrypt(buf, ctx)
            .map_err(|_| CryptoError::Internal)?;
        Ok(())
    }
}

fn enc_context(iv: &[u8]) -> Result<EncryptionContext, CryptoError> {
    if let Ok(b) = <[u8; 16]>::try_from(iv) {
        Ok(EncryptionContext::Iv128(FixedLength::from(b)))
    } else if let Ok(b) = <[u8; 8]>::try_from(iv) {
        Ok(EncryptionContext::Iv64(FixedLength::from(b)))
    } else {
        Err(CryptoError::InvalidLength)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(alg: CipherAlgorithm) -> Vec<u8> {
        (0..alg.key_len())
            .map(|i| (i as u8).wrapping_mul(37) ^ 0x5a)
            .collect()
    }

    #[test]
    fn degenerate_3des_key_refused() {
        assert_eq!(
            Phase1Cipher::new(CipherAlgorithm::TripleDesCbc, &[7; 24]).unwrap_err(),
            CryptoError::InvalidKeyLength
        );
    }

    #[test]
    fn lengths_checked() {
        for &alg in CipherAlgorithm::ALL {
            assert_eq!(
                Phase1Cipher::new(alg, &vec![1; alg.key_len() + 1]).unwrap_err(),
                CryptoError::InvalidKeyLength
            );
            let c = Phase1Cipher::new(alg, &key(alg)).unwrap();
            let bl = alg.block_len();
            let iv = vec![0u8; bl];
            let mut odd = vec![0u8; bl + 1];
            assert_eq!(c.encrypt(&iv, &mut odd), Err(CryptoError::InvalidLength));
            assert_eq!(c.decrypt(&iv, &mut odd), Err(CryptoError::InvalidLength));
            let mut ok = vec![0u8; 2 * bl];
            assert_eq!(
                c.encrypt(&iv[1..], &mut ok),
                Err(CryptoError::InvalidLength)
            );
            assert_eq!(c.encrypt(&iv, &mut []), Ok(()));
        }
    }

    #[test]
    fn round_trip() {
        for &alg in CipherAlgorithm::ALL {
            let c = Phase1Cipher::new(alg, &key(alg)).unwrap();
            let iv: Vec<u8> = (0..alg.block_len() as u8).collect();
            let plain: Vec<u8> = (0..(4 * alg.block_len()) as u8).collect();
            let mut buf = plain.clone();
            c.encrypt(&iv, &mut buf).unwrap();
            assert_ne!(buf, plain);
            c.decrypt(&iv, &mut buf).unwrap();
            assert_eq!(buf, plain);
        }
    }
}
