//! Keys and the IKEv1 RSA signature (RFC 2409 §5.1).
//!
//! RFC 2409 §5.1 signs HASH_I/HASH_R with the negotiated signature algorithm; for RSA every
//! IKEv1 implementation (strongSwan's `SIGN_RSA_EMSA_PKCS1_NULL`, Windows, macOS, racoon) uses
//! PKCS#1 v1.5 block type 1 (RFC 8017 §9.2 EMSA-PKCS1-v1_5) over the raw hash bytes *without*
//! the DigestInfo prefix: `EM = 00 01 FF..FF 00 HASH`.
//!
//! Verification recomputes the whole expected EM and compares it (the rsa crate's
//! `Pkcs1v15Sign::new_unprefixed`), so the forgeries of CVE-2006-4339 and CVE-2018-16151/16152
//! (garbage after the hash, short padding, a DigestInfo smuggled in) fail.

use std::fmt;

use aws_lc_rs::signature::{self as aws, UnparsedPublicKey};
use der::asn1::ObjectIdentifier as Oid;
use der::Decode;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use super::{pem, CertError, Certificate, SignatureAlgorithm};

const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");

/// The kind of a certificate's public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA (RFC 8017), 1024 to 8192 bits: usable for IKEv1 SIG payloads.
    Rsa,
    /// ECDSA on P-256: verifies certificates only.
    EcdsaP256,
    /// ECDSA on P-384: verifies certificates only.
    EcdsaP384,
    /// Anything else (DSA, Ed25519, RSA outside 1024..=8192 bits, malformed keys).
    Unsupported,
}

#[derive(Clone)]
enum Kind {
    Rsa(RsaPublicKey),
    EcP256,
    EcP384,
    Unsupported,
}

/// A certificate's subject public key (RFC 5280 §4.1.2.7).
#[derive(Clone)]
pub struct PublicKey {
    kind: Kind,
    /// The subjectPublicKey BIT STRING contents: an RSAPublicKey (RFC 8017 A.1.1) or an
    /// uncompressed EC point (RFC 5480 §2.2), the form aws-lc-rs verifies with.
    raw: Box<[u8]>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{}", self.algorithm(), self.bits())
    }
}

impl PublicKey {
    pub(super) fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Self {
        let Some(raw) = spki.subject_public_key.as_bytes() else {
            return Self {
                kind: Kind::Unsupported,
                raw: Box::default(),
            };
        };
        let alg = &spki.algorithm;
        let kind = if alg.oid == RSA_ENCRYPTION {
            // RFC 3279 §2.3.1: parameters NULL.
            match RsaPublicKey::from_pkcs1_der(raw) {
                Ok(key) if alg.parameters.as_ref().is_none_or(|p| p.is_null()) => Kind::Rsa(key),
                _ => Kind::Unsupported,
            }
        } else if alg.oid == EC_PUBLIC_KEY {
            // RFC 5480 §2.1.1: namedCurve; the point must be uncompressed.
            let curve = alg
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<Oid>().ok());
            match (curve, raw.first()) {
                (Some(SECP256R1), Some(4)) if raw.len() == 65 => Kind::EcP256,
                (Some(SECP384R1), Some(4)) if raw.len() == 97 => Kind::EcP384,
                _ => Kind::Unsupported,
            }
        } else {
            Kind::Unsupported
        };
        Self {
            kind,
            raw: raw.into(),
        }
    }

    /// The key's algorithm.
    #[must_use]
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.kind {
            Kind::Rsa(_) => KeyAlgorithm::Rsa,
            Kind::EcP256 => KeyAlgorithm::EcdsaP256,
            Kind::EcP384 => KeyAlgorithm::EcdsaP384,
            Kind::Unsupported => KeyAlgorithm::Unsupported,
        }
    }

    /// The key size in bits (the modulus for RSA, the curve for ECDSA; 0 if unsupported).
    #[must_use]
    pub fn bits(&self) -> usize {
        match &self.kind {
            Kind::Rsa(key) => key.n().bits() as usize,
            Kind::EcP256 => 256,
            Kind::EcP384 => 384,
            Kind::Unsupported => 0,
        }
    }

    /// The size of this key's IKEv1 signatures in bytes (the modulus length; 0 if not RSA).
    #[must_use]
    pub fn signature_len(&self) -> usize {
        match &self.kind {
            Kind::Rsa(key) => key.size(),
            _ => 0,
        }
    }

    /// Verifies a certificate signature made with this key (RFC 5280 §4.1.1.3).
    pub(super) fn verify_certificate_signature(
        &self,
        alg: SignatureAlgorithm,
        tbs: &[u8],
        signature: &[u8],
    ) -> Result<(), CertError> {
        let verifier: &'static dyn aws::VerificationAlgorithm = match (&self.kind, alg) {
            (_, SignatureAlgorithm::Unsupported) | (Kind::Unsupported, _) => {
                return Err(CertError::UnsupportedAlgorithm);
            }
            (Kind::Rsa(_), SignatureAlgorithm::RsaSha1) => {
                &aws::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            (Kind::Rsa(_), SignatureAlgorithm::RsaSha256) => &aws::RSA_PKCS1_2048_8192_SHA256,
            (Kind::Rsa(_), SignatureAlgorithm::RsaSha384) => &aws::RSA_PKCS1_2048_8192_SHA384,
            (Kind::Rsa(_), SignatureAlgorithm::RsaSha512) => &aws::RSA_PKCS1_2048_8192_SHA512,
            (Kind::EcP256, SignatureAlgorithm::EcdsaSha256) => &aws::ECDSA_P256_SHA256_ASN1,
            (Kind::EcP256, SignatureAlgorithm::EcdsaSha384) => &aws::ECDSA_P256_SHA384_ASN1,
            (Kind::EcP384, SignatureAlgorithm::EcdsaSha256) => &aws::ECDSA_P384_SHA256_ASN1,
            (Kind::EcP384, SignatureAlgorithm::EcdsaSha384) => &aws::ECDSA_P384_SHA384_ASN1,
            // An RSA signature from an EC key or the reverse.
            _ => return Err(CertError::BadSignature),
        };
        UnparsedPublicKey::new(verifier, &self.raw)
            .verify(tbs, signature)
            .map_err(|_| CertError::BadSignature)
    }
}

/// An RSA private key, zeroized on drop (by the rsa crate).
pub struct PrivateKey {
    key: RsaPrivateKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(RSA/{})", self.key.n().bits())
    }
}

impl PrivateKey {
    /// Reads the first key of a PEM text: PKCS#8 `PRIVATE KEY` (RFC 5958) or PKCS#1
    /// `RSA PRIVATE KEY` (RFC 8017 A.1.2). Other blocks (certificates) are skipped.
    ///
    /// # Errors
    /// [`CertError::Pem`] if there is no key block or the key is encrypted;
    /// [`CertError::UnsupportedKey`] for a key that is not RSA; [`CertError::Parse`] if the key
    /// is malformed.
    pub fn from_pem(pem: &str) -> Result<Self, CertError> {
        for block in pem::blocks(pem)? {
            match block.label.as_str() {
                "PRIVATE KEY" => return Self::from_pkcs8(&block.der),
                "RSA PRIVATE KEY" if !block.has_headers => {
                    return RsaPrivateKey::from_pkcs1_der(&block.der)
                        .map(|key| Self { key })
                        .map_err(|_| CertError::Parse);
                }
                "EC PRIVATE KEY" | "DSA PRIVATE KEY" | "OPENSSH PRIVATE KEY" => {
                    return Err(CertError::UnsupportedKey);
                }
                "RSA PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => return Err(CertError::Pem),
                _ => {}
            }
        }
        Err(CertError::Pem)
    }

    /// Reads a DER key: PKCS#8 PrivateKeyInfo (RFC 5958) or PKCS#1 RSAPrivateKey.
    ///
    /// # Errors
    /// [`CertError::UnsupportedKey`] for a PKCS#8 key that is not RSA; [`CertError::Parse`]
    /// otherwise.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        match Self::from_pkcs8(der) {
            Err(CertError::Parse) => RsaPrivateKey::from_pkcs1_der(der)
                .map(|key| Self { key })
                .map_err(|_| CertError::Parse),
            other => other,
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, CertError> {
        let info = rsa::pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|_| CertError::Parse)?;
        if info.algorithm.oid != RSA_ENCRYPTION {
            return Err(CertError::UnsupportedKey);
        }
        RsaPrivateKey::try_from(info)
            .map(|key| Self { key })
            .map_err(|_| CertError::Parse)
    }

    /// The modulus size in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.key.n().bits() as usize
    }

    /// The IKEv1 SIG payload body (RFC 2409 §5.1): the PKCS#1 v1.5 block type 1 signature of
    /// `hash` (HASH_I or HASH_R) with no DigestInfo, as long as the modulus.
    ///
    /// Deterministic and without blinding: the rsa crate computes with crypto-bigint in
    /// constant time.
    ///
    /// # Errors
    /// [`CertError::Sign`] if `hash` is empty or longer than the modulus allows (k − 11).
    pub fn sign_ikev1(&self, hash: &[u8]) -> Result<Vec<u8>, CertError> {
        if hash.is_empty() {
            return Err(CertError::Sign);
        }
        self.key
            .sign(Pkcs1v15Sign::new_unprefixed(), hash)
            .map_err(|_| CertError::Sign)
    }

    /// Whether `cert` carries this key's public half.
    #[must_use]
    pub fn matches(&self, cert: &Certificate) -> bool {
        match &cert.public_key().kind {
            Kind::Rsa(public) => public == self.key.as_public_key(),
            _ => false,
        }
    }
}

/// Verifies an IKEv1 SIG payload (RFC 2409 §5.1) over `hash` with the certificate's RSA key:
/// the signature must be exactly as long as the modulus and decode to exactly
/// `00 01 FF..FF 00 hash` (at least 8 bytes of FF).
///
/// # Errors
/// [`CertError::UnsupportedKey`] if the certificate's key is not RSA;
/// [`CertError::BadSignature`] otherwise.
pub fn verify_ikev1(cert: &Certificate, hash: &[u8], signature: &[u8]) -> Result<(), CertError> {
    let Kind::Rsa(key) = &cert.public_key().kind else {
        return Err(CertError::UnsupportedKey);
    };
    if hash.is_empty() {
        return Err(CertError::BadSignature);
    }
    key.verify(Pkcs1v15Sign::new_unprefixed(), hash, signature)
        .map_err(|_| CertError::BadSignature)
}
