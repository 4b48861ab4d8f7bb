//! The algorithms of an SA: encryption (RFC 4303 §3.2), integrity, and the mode.
//!
//! Every value here is a fixed IPsec transform with the key, IV, block and ICV sizes of its
//! RFC. [`Encryption::check_pair`] rejects the combinations ESP does not allow.

/// Security Parameters Index (RFC 4303 §2.1): with the destination it names the SA a packet
/// belongs to. Zero is reserved and never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spi(pub u32);

impl core::fmt::Display for Spi {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "0x{:08x}", self.0)
    }
}

/// ESP encryption transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encryption {
    /// No confidentiality (RFC 2410); only with an [`Integrity`] other than `None`.
    Null,
    /// AES-CBC with a 128-bit key and an explicit 16-byte IV (RFC 3602).
    AesCbc128,
    /// AES-CBC with a 192-bit key (RFC 3602).
    AesCbc192,
    /// AES-CBC with a 256-bit key (RFC 3602).
    AesCbc256,
    /// Triple DES (EDE3) in CBC mode with an explicit 8-byte IV (RFC 2451); legacy clients.
    TripleDesCbc,
    /// AES-GCM with a 128-bit key, 4-byte salt, 8-byte explicit IV and 16-byte ICV
    /// (RFC 4106); combined mode, so [`Integrity::None`].
    AesGcm128,
    /// AES-GCM with a 256-bit key (RFC 4106).
    AesGcm256,
}

impl Encryption {
    /// Every encryption transform.
    pub const ALL: [Self; 7] = [
        Self::Null,
        Self::AesCbc128,
        Self::AesCbc192,
        Self::AesCbc256,
        Self::TripleDesCbc,
        Self::AesGcm128,
        Self::AesGcm256,
    ];

    /// Key material in bytes. For GCM this includes the 4-byte salt at the end
    /// (RFC 4106 §8.1): 20 and 36.
    #[must_use]
    pub const fn key_len(self) -> usize {
        match self {
            Self::Null => 0,
            Self::AesCbc128 => 16,
            Self::AesCbc192 | Self::TripleDesCbc => 24,
            Self::AesCbc256 => 32,
            Self::AesGcm128 => 16 + GCM_SALT_LEN,
            Self::AesGcm256 => 32 + GCM_SALT_LEN,
        }
    }

    /// Length of the explicit IV carried in every packet.
    #[must_use]
    pub const fn iv_len(self) -> usize {
        match self {
            Self::Null => 0,
            Self::AesCbc128 | Self::AesCbc192 | Self::AesCbc256 => 16,
            Self::TripleDesCbc | Self::AesGcm128 | Self::AesGcm256 => 8,
        }
    }

    /// Cipher block length the plaintext must be padded to: 16 for AES-CBC, 8 for 3DES, 1
    /// for NULL and GCM (ESP then still aligns to 4 bytes, RFC 4303 §2.4).
    #[must_use]
    pub const fn block_len(self) -> usize {
        match self {
            Self::Null | Self::AesGcm128 | Self::AesGcm256 => 1,
            Self::AesCbc128 | Self::AesCbc192 | Self::AesCbc256 => 16,
            Self::TripleDesCbc => 8,
        }
    }

    /// Whether this is a combined-mode (AEAD) transform with its own ICV.
    #[must_use]
    pub const fn is_aead(self) -> bool {
        matches!(self, Self::AesGcm128 | Self::AesGcm256)
    }

    /// ICV length of the combined mode itself (16 for GCM), 0 for the others.
    #[must_use]
    pub const fn aead_icv_len(self) -> usize {
        if self.is_aead() {
            GCM_ICV_LEN
        } else {
            0
        }
    }

    /// The padding alignment: the block length, but at least 4 (RFC 4303 §2.4).
    #[must_use]
    pub const fn alignment(self) -> usize {
        let b = self.block_len();
        if b > 4 {
            b
        } else {
            4
        }
    }

    /// Checks that ESP allows this pair: a combined mode with `Integrity::None` only, every
    /// other transform with an integrity algorithm (NULL with none would protect nothing,
    /// RFC 4303 §3.2; confidentiality-only ESP is not offered, RFC 8221 §5).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`](crate::Error::Unsupported) naming what is wrong.
    pub const fn check_pair(self, integrity: Integrity) -> Result<(), crate::Error> {
        match (self.is_aead(), integrity) {
            (true, Integrity::None) => Ok(()),
            (true, _) => Err(crate::Error::Unsupported(
                "AES-GCM carries its own ICV: integrity must be None",
            )),
            (false, Integrity::None) => Err(crate::Error::Unsupported(
                "encryption without integrity (and NULL with NULL) is not offered",
            )),
            (false, _) => Ok(()),
        }
    }
}

/// ESP/AH integrity transform (HMAC truncated to the ICV length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Integrity {
    /// None: only with a combined-mode [`Encryption`] (GCM).
    None,
    /// HMAC-MD5-96 (RFC 2403); legacy clients.
    HmacMd5_96,
    /// HMAC-SHA1-96 (RFC 2404).
    HmacSha1_96,
    /// HMAC-SHA2-256-128 (RFC 4868).
    HmacSha256_128,
    /// HMAC-SHA2-256 truncated to 96 bits, as the pre-RFC 4868 draft and Android 6/7 do;
    /// opt-in for those clients only.
    HmacSha256_96,
    /// HMAC-SHA2-384-192 (RFC 4868).
    HmacSha384_192,
    /// HMAC-SHA2-512-256 (RFC 4868).
    HmacSha512_256,
}

impl Integrity {
    /// Every integrity transform.
    pub const ALL: [Self; 7] = [
        Self::None,
        Self::HmacMd5_96,
        Self::HmacSha1_96,
        Self::HmacSha256_128,
        Self::HmacSha256_96,
        Self::HmacSha384_192,
        Self::HmacSha512_256,
    ];

    /// Key length in bytes: the hash output length (RFC 2403, 2404 §3, 4868 §2.1.1).
    #[must_use]
    pub const fn key_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::HmacMd5_96 => 16,
            Self::HmacSha1_96 => 20,
            Self::HmacSha256_128 | Self::HmacSha256_96 => 32,
            Self::HmacSha384_192 => 48,
            Self::HmacSha512_256 => 64,
        }
    }

    /// ICV length in bytes: the truncated HMAC output.
    #[must_use]
    pub const fn icv_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::HmacMd5_96 | Self::HmacSha1_96 | Self::HmacSha256_96 => 12,
            Self::HmacSha256_128 => 16,
            Self::HmacSha384_192 => 24,
            Self::HmacSha512_256 => 32,
        }
    }
}

/// ESP mode (RFC 4301 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// The payload is an upper-layer segment (L2TP/IPsec uses UDP in transport mode).
    #[default]
    Transport,
    /// The payload is a whole IP packet (Next Header 4 or 41).
    Tunnel,
}

/// GCM salt length (RFC 4106 §4).
pub(crate) const GCM_SALT_LEN: usize = 4;
/// GCM ICV length this crate uses (RFC 4106 §6: 16 is the one that MUST be supported).
pub(crate) const GCM_ICV_LEN: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(Encryption::AesGcm128.key_len(), 20);
        assert_eq!(Encryption::AesGcm256.key_len(), 36);
        assert_eq!(Encryption::TripleDesCbc.alignment(), 8);
        assert_eq!(Encryption::Null.alignment(), 4);
        assert_eq!(Encryption::AesCbc192.alignment(), 16);
        assert_eq!(Integrity::HmacSha512_256.icv_len(), 32);
        assert_eq!(Spi(0x1234).to_string(), "0x00001234");
    }

    #[test]
    fn pairs() {
        for e in Encryption::ALL {
            for i in Integrity::ALL {
                let ok = e.check_pair(i).is_ok();
                assert_eq!(ok, e.is_aead() == (i == Integrity::None), "{e:?} {i:?}");
            }
        }
    }
}
