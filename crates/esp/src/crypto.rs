//! The ciphers and MACs of one SA direction, keyed once in `new()` so that a packet costs
//! no allocation and no key schedule.
//!
//! Everything is aws-lc-rs (AES-GCM, AES-CBC, 3DES-CBC behind its `legacy-des` feature,
//! HMAC-SHA1/SHA2, the constant-time compare) except HMAC-MD5, which aws-lc-rs lacks and
//! RustCrypto's `hmac` + `md-5` provide. No cipher is written here.
//!
//! CBC IVs (RFC 3602 §2.1, RFC 2451 §2.2: unpredictable) are the first method of NIST
//! SP 800-38A Appendix C: the block cipher applied to a nonce. The nonce is the 64-bit
//! sequence number, which never repeats within an SA, and the cipher is AES-128 (ECB, one
//! block) under a per-SA IV key derived as HMAC-SHA-256(encryption key, "sras-esp CBC IV
//! key" ‖ SPI), truncated to 16 bytes. Without the SA's keys the IVs are unpredictable; with
//! a separate key they are unrelated to the data ciphertext; and no RNG is needed on the
//! data path (the crate stays deterministic and testable, STYLE.md 2.1 rule 1).

use ::hmac::Mac as _;
use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    self, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::constant_time;
use aws_lc_rs::hmac as aws_hmac;
use aws_lc_rs::iv::FixedLength;
use zeroize::Zeroize;

use crate::suite::{GCM_ICV_LEN, GCM_SALT_LEN};
use crate::{Encryption, Error, Integrity, Spi};

/// Longest ICV of any integrity transform (HMAC-SHA2-512-256).
pub(crate) const MAX_ICV_LEN: usize = 32;
/// Longest explicit IV (AES-CBC).
pub(crate) const MAX_IV_LEN: usize = 16;

/// Label of the CBC IV key derivation (see the module docs).
const IV_KEY_LABEL: &[u8] = b"sras-esp CBC IV key";

/// A keyed integrity transform. Variants hold their key state inline (no pointer to chase
/// on the data path); one SA direction is a few KiB.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Mac {
    None,
    /// aws-lc-rs HMAC (SHA-1, SHA-2); the key holds the precomputed inner/outer states.
    Aws {
        key: aws_hmac::Key,
        icv_len: usize,
    },
    /// HMAC-MD5 (RustCrypto); cloned per packet (a stack copy of the keyed state).
    Md5(::hmac::Hmac<md5::Md5>),
}

/// An ICV on the stack.
pub(crate) struct Icv {
    bytes: [u8; MAX_ICV_LEN],
    len: usize,
}

impl Icv {
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Mac {
    pub(crate) fn new(integrity: Integrity, key: &[u8]) -> Result<Self, Error> {
        if key.len() != integrity.key_len() {
            return Err(Error::KeyLength {
                expected: integrity.key_len(),
                got: key.len(),
            });
        }
        let alg = match integrity {
            Integrity::None => return Ok(Self::None),
            Integrity::HmacMd5_96 => {
                let mac = <::hmac::Hmac<md5::Md5> as ::hmac::digest::KeyInit>::new_from_slice(key)
                    .map_err(|_| Error::Crypto)?;
                return Ok(Self::Md5(mac));
            }
            Integrity::HmacSha1_96 => aws_hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Integrity::HmacSha256_128 | Integrity::HmacSha256_96 => aws_hmac::HMAC_SHA256,
            Integrity::HmacSha384_192 => aws_hmac::HMAC_SHA384,
            Integrity::HmacSha512_256 => aws_hmac::HMAC_SHA512,
        };
        Ok(Self::Aws {
            key: aws_hmac::Key::new(alg, key),
            icv_len: integrity.icv_len(),
        })
    }

    pub(crate) fn icv_len(&self) -> usize {
        match self {
            Self::None => 0,
            Self::Aws { icv_len, .. } => *icv_len,
            Self::Md5(_) => 12,
        }
    }

    /// The truncated HMAC of the concatenation of `parts` (the packet, then for example the
    /// implicit ESN high half, RFC 4303 §2.2.1).
    pub(crate) fn compute(&self, parts: &[&[u8]]) -> Icv {
        let mut icv = Icv {
            bytes: [0; MAX_ICV_LEN],
            len: self.icv_len(),
        };
        match self {
            Self::None => {}
            Self::Aws { key, icv_len } => {
                let mut ctx = aws_hmac::Context::with_key(key);
                for p in parts {
                    ctx.update(p);
                }
                let tag = ctx.sign();
                icv.bytes[..*icv_len].copy_from_slice(&tag.as_ref()[..*icv_len]);
            }
            Self::Md5(mac) => {
                let mut m = mac.clone();
                for p in parts {
                    m.update(p);
                }
                let out = m.finalize().into_bytes();
                icv.bytes[..12].copy_from_slice(&out[..12]);
            }
        }
        icv
    }

    /// Verifies `received` against the ICV of `parts` in constant time.
    pub(crate) fn verify(&self, parts: &[&[u8]], received: &[u8]) -> bool {
        let icv = self.compute(parts);
        constant_time::verify_slices_are_equal(icv.as_slice(), received).is_ok()
    }
}

/// The encrypting half of an ESP transform (key schedules inline, as [`Mac`]).
#[allow(clippy::large_enum_variant)]
pub(crate) enum SealCipher {
    Null,
    Cbc {
        key: EncryptingKey,
        iv_gen: IvGenerator,
        iv_len: usize,
    },
    Gcm {
        key: LessSafeKey,
        salt: [u8; GCM_SALT_LEN],
    },
}

/// The decrypting half of an ESP transform (key schedules inline, as [`Mac`]).
#[allow(clippy::large_enum_variant)]
pub(crate) enum OpenCipher {
    Null,
    Cbc {
        key: DecryptingKey,
        iv_len: usize,
    },
    Gcm {
        key: LessSafeKey,
        salt: [u8; GCM_SALT_LEN],
    },
}

impl Drop for SealCipher {
    fn drop(&mut self) {
        if let Self::Gcm { salt, .. } = self {
            salt.zeroize();
        }
    }
}

impl Drop for OpenCipher {
    fn drop(&mut self) {
        if let Self::Gcm { salt, .. } = self {
            salt.zeroize();
        }
    }
}

fn check_key(encryption: Encryption, key: &[u8]) -> Result<(), Error> {
    if key.len() == encryption.key_len() {
        Ok(())
    } else {
        Err(Error::KeyLength {
            expected: encryption.key_len(),
            got: key.len(),
        })
    }
}

#[allow(deprecated)] // DES_EDE3_FOR_LEGACY_USE_ONLY: 3DES is opt-in for legacy clients.
fn cbc_algorithm(encryption: Encryption) -> &'static cipher::Algorithm {
    match encryption {
        Encryption::AesCbc128 => &cipher::AES_128,
        Encryption::AesCbc192 => &cipher::AES_192,
        Encryption::AesCbc256 => &cipher::AES_256,
        _ => &cipher::DES_EDE3_FOR_LEGACY_USE_ONLY,
    }
}

fn unbound_cbc(encryption: Encryption, key: &[u8]) -> Result<UnboundCipherKey, Error> {
    UnboundCipherKey::new(cbc_algorithm(encryption), key).map_err(|_| Error::Crypto)
}

fn gcm(encryption: Encryption, key: &[u8]) -> Result<(LessSafeKey, [u8; GCM_SALT_LEN]), Error> {
    let alg = if encryption == Encryption::AesGcm128 {
        &aead::AES_128_GCM
    } else {
        &aead::AES_256_GCM
    };
    let (k, s) = key.split_at(key.len() - GCM_SALT_LEN);
    let unbound = UnboundKey::new(alg, k).map_err(|_| Error::Crypto)?;
    let mut salt = [0; GCM_SALT_LEN];
    salt.copy_from_slice(s);
    Ok((LessSafeKey::new(unbound), salt))
}

/// GCM nonce: salt ‖ explicit IV (RFC 4106 §4).
fn gcm_nonce(salt: &[u8; GCM_SALT_LEN], iv: &[u8]) -> Nonce {
    let mut n = [0u8; 12];
    n[..GCM_SALT_LEN].copy_from_slice(salt);
    n[GCM_SALT_LEN..].copy_from_slice(iv);
    Nonce::assume_unique_for_key(n)
}

impl SealCipher {
    pub(crate) fn new(encryption: Encryption, key: &[u8], spi: Spi) -> Result<Self, Error> {
        check_key(encryption, key)?;
        Ok(match encryption {
            Encryption::Null => Self::Null,
            Encryption::AesGcm128 | Encryption::AesGcm256 => {
                let (key, salt) = gcm(encryption, key)?;
                Self::Gcm { key, salt }
            }
            _ => Self::Cbc {
                key: EncryptingKey::cbc(unbound_cbc(encryption, key)?)
                    .map_err(|_| Error::WeakKey)?,
                iv_gen: IvGenerator::new(key, spi)?,
                iv_len: encryption.iv_len(),
            },
        })
    }

    /// Writes the explicit IV for sequence number `seq` into `iv` and encrypts `in_out` in
    /// place (CBC: whole blocks; GCM: any length, the tag goes to `tag_out`). `aad` is used by
    /// GCM only.
    pub(crate) fn seal(
        &self,
        seq: u64,
        iv: &mut [u8],
        aad: &[u8],
        in_out: &mut [u8],
        tag_out: &mut [u8],
    ) -> Result<(), Error> {
        match self {
            Self::Null => Ok(()),
            Self::Cbc {
                key,
                iv_gen,
                iv_len,
            } => {
                let block = iv_gen.iv(seq);
                iv.copy_from_slice(&block[..*iv_len]);
                let ctx = cbc_context(iv)?;
                key.less_safe_encrypt(in_out, ctx)
                    .map_err(|_| Error::Crypto)?;
                Ok(())
            }
            Self::Gcm { key, salt } => {
                //= https://www.rfc-editor.org/rfc/rfc4106#section-3.1
                //# The IV MUST be chosen by the encryptor in a manner that ensures
                //# that the same IV value is used only once for a given key.
                // The 64-bit sequence number: unique per SA (it never wraps).
                iv.copy_from_slice(&seq.to_be_bytes());
                let tag = key
                    .seal_in_place_separate_tag(gcm_nonce(salt, iv), Aad::from(aad), in_out)
                    .map_err(|_| Error::Crypto)?;
                tag_out.copy_from_slice(&tag.as_ref()[..GCM_ICV_LEN]);
                Ok(())
            }
        }
    }

    /// Test hook: the IV generator of a CBC SA.
    #[cfg(any(test, feature = "__fuzzing"))]
    pub(crate) fn iv_generator_mut(&mut self) -> Option<&mut IvGenerator> {
        match self {
            Self::Cbc { iv_gen, .. } => Some(iv_gen),
            _ => None,
        }
    }
}

fn cbc_context(iv: &[u8]) -> Result<EncryptionContext, Error> {
    Ok(match iv.len() {
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(iv);
            EncryptionContext::Iv128(FixedLength::from(b))
        }
        8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(iv);
            EncryptionContext::Iv64(FixedLength::from(b))
        }
        _ => return Err(Error::Crypto),
    })
}

impl OpenCipher {
    pub(crate) fn new(encryption: Encryption, key: &[u8]) -> Result<Self, Error> {
        check_key(encryption, key)?;
        Ok(match encryption {
            Encryption::Null => Self::Null,
            Encryption::AesGcm128 | Encryption::AesGcm256 => {
                let (key, salt) = gcm(encryption, key)?;
                Self::Gcm { key, salt }
            }
            _ => Self::Cbc {
                key: DecryptingKey::cbc(unbound_cbc(encryption, key)?)
                    .map_err(|_| Error::WeakKey)?,
                iv_len: encryption.iv_len(),
            },
        })
    }

    /// GCM: verifies and decrypts `ciphertext_and_tag` in place. `Err` means the tag did
    /// not verify.
    pub(crate) fn open_aead(
        &self,
        iv: &[u8],
        aad: &[u8],
        ciphertext_and_tag: &mut [u8],
    ) -> Result<(), Error> {
        match self {
            Self::Gcm { key, salt } => key
                .open_in_place(gcm_nonce(salt, iv), Aad::from(aad), ciphertext_and_tag)
                .map(|_| ())
                .map_err(|_| Error::AuthenticationFailed),
            _ => Err(Error::Crypto),
        }
    }

    /// CBC/NULL: decrypts `in_out` in place (already authenticated).
    pub(crate) fn decrypt(&self, iv: &[u8], in_out: &mut [u8]) -> Result<(), Error> {
        match self {
            Self::Null => Ok(()),
            Self::Cbc { key, iv_len } => {
                debug_assert_eq!(iv.len(), *iv_len);
                let ctx = match cbc_context(iv)? {
                    EncryptionContext::Iv128(b) => DecryptionContext::Iv128(b),
                    EncryptionContext::Iv64(b) => DecryptionContext::Iv64(b),
                    _ => return Err(Error::Crypto),
                };
                key.decrypt(in_out, ctx).map_err(|_| Error::BadLength)?;
                Ok(())
            }
            Self::Gcm { .. } => Err(Error::Crypto),
        }
    }
}

/// CBC IV generator: AES-128 of the sequence number under a derived per-SA key (module docs).
pub(crate) struct IvGenerator {
    key: EncryptingKey,
    /// Test hook: the next IV to use instead of the generated one (KATs with published IVs).
    #[cfg(any(test, feature = "__fuzzing"))]
    forced: Option<[u8; MAX_IV_LEN]>,
}

impl IvGenerator {
    fn new(enc_key: &[u8], spi: Spi) -> Result<Self, Error> {
        let mut ctx =
            aws_hmac::Context::with_key(&aws_hmac::Key::new(aws_hmac::HMAC_SHA256, enc_key));
        ctx.update(IV_KEY_LABEL);
        ctx.update(&spi.0.to_be_bytes());
        let tag = ctx.sign();
        let key = UnboundCipherKey::new(&cipher::AES_128, &tag.as_ref()[..16])
            .and_then(EncryptingKey::ecb)
            .map_err(|_| Error::Crypto)?;
        Ok(Self {
            key,
            #[cfg(any(test, feature = "__fuzzing"))]
            forced: None,
        })
    }

    /// The 16-byte block whose prefix is the IV for `seq`.
    fn iv(&self, seq: u64) -> [u8; MAX_IV_LEN] {
        #[cfg(any(test, feature = "__fuzzing"))]
        if let Some(iv) = self.forced {
            return iv;
        }
        let mut block = [0u8; MAX_IV_LEN];
        block[..8].copy_from_slice(&seq.to_be_bytes());
        // One whole block in ECB mode cannot fail.
        let _ = self
            .key
            .less_safe_encrypt(&mut block, EncryptionContext::None);
        block
    }

    /// Test hook: use `iv` (padded to 16 bytes) for every following packet.
    #[cfg(any(test, feature = "__fuzzing"))]
    pub(crate) fn force(&mut self, iv: &[u8]) {
        let mut b = [0u8; MAX_IV_LEN];
        b[..iv.len()].copy_from_slice(iv);
        self.forced = Some(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iv_generator_is_deterministic_and_distinct() {
        let a = IvGenerator::new(&[7; 16], Spi(1)).unwrap();
        let b = IvGenerator::new(&[7; 16], Spi(2)).unwrap();
        assert_eq!(a.iv(1), a.iv(1));
        assert_ne!(a.iv(1), a.iv(2));
        assert_ne!(a.iv(1), b.iv(1));
    }

    #[test]
    fn mac_rfc2202_md5_case1() {
        let m = Mac::new(Integrity::HmacMd5_96, &[0x0b; 16]).unwrap();
        assert_eq!(
            m.compute(&[b"Hi", b" There"]).as_slice(),
            [0x92, 0x94, 0x72, 0x7a, 0x36, 0x38, 0xbb, 0x1c, 0x13, 0xf4, 0x8e, 0xf8]
        );
    }
}
