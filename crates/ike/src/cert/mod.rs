//! X.509 certificates for IKEv1 authentication with RSA signatures (RFC 2409 §5.1).
//!
//! Main Mode with certificates, as Windows, macOS and strongSwan use it: each side sends its
//! certificate (CERT payload, encoding X.509 Signature = 4), the CAs it trusts (CERTREQ
//! payloads naming [`TrustStore::authorities`]), its identity (ID payload, usually
//! `ID_DER_ASN1_DN`, RFC 2407 §4.6.2) and a SIG payload: the PKCS#1 v1.5 block type 1 signature
//! of HASH_I or HASH_R *without* a DigestInfo ([`PrivateKey::sign_ikev1`], [`verify_ikev1`]).
//!
//! - [`Certificate`]: a parsed certificate (RFC 5280 §4.1), immutable and cheap to clone;
//! - [`TrustStore`]: the CAs the operator configured and path validation (RFC 5280 §6);
//! - [`id_matches`]: does an ID payload name the certificate's subject?
//! - [`CertCache`]: a bounded cache of validated peer certificates.
//!
//! Out of scope: revocation (CRLs, OCSP), name constraints and certificate policies (a CA
//! certificate with a critical extension this module does not process is refused, as RFC 5280
//! §4.2 requires), ECDSA signatures in IKE (ECDSA keys may sign certificates, not SIG payloads).
//!
//! Sans-IO: every function that needs the time takes it as seconds since the Unix epoch.

mod cache;
mod identity;
mod key;
mod name;
mod pem;
mod store;
mod tlv;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use der::asn1::ObjectIdentifier;
use der::Decode;
use x509_cert::ext::pkix::{name::GeneralName, BasicConstraints, KeyUsage, SubjectAltName};

pub use cache::CertCache;
pub use identity::{
    end_entity_index, id_matches, ID_DER_ASN1_DN, ID_FQDN, ID_IPV4_ADDR, ID_IPV6_ADDR, ID_USER_FQDN,
};
pub use key::{verify_ikev1, KeyAlgorithm, PrivateKey, PublicKey};
pub use store::{TrustStore, MAX_INTERMEDIATES, MAX_PATH_LEN};

/// The largest certificate accepted, in bytes (a CERT payload carries at most 65531).
pub const MAX_CERT_LEN: usize = 16 * 1024;

/// Why a certificate, key or signature was refused.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum CertError {
    /// Not a well-formed DER X.509 certificate or key (RFC 5280 §4.1), or too large.
    #[error("malformed certificate or key")]
    Parse,
    /// The key is not one this module can use for the operation (IKE signatures need RSA).
    #[error("unsupported key type or size")]
    UnsupportedKey,
    /// The certificate is signed with an algorithm this module does not verify.
    #[error("unsupported signature algorithm")]
    UnsupportedAlgorithm,
    /// A certificate on the path is past its notAfter.
    #[error("certificate expired")]
    Expired,
    /// A certificate on the path is before its notBefore.
    #[error("certificate not yet valid")]
    NotYetValid,
    /// No path leads to a configured CA.
    #[error("certificate issuer unknown")]
    UnknownIssuer,
    /// A certificate's or a SIG payload's signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// An issuer on the path is not a CA (basicConstraints cA, keyUsage keyCertSign).
    #[error("issuer is not a CA")]
    NotCa,
    /// The path is longer than allowed (8 intermediates, or an issuer's pathLenConstraint).
    #[error("certificate chain too long")]
    ChainTooLong,
    /// A certificate on the path has a critical extension this module does not process.
    #[error("unsupported critical extension")]
    UnsupportedCriticalExtension,
    /// The peer's identity does not match its certificate.
    #[error("identity does not match the certificate")]
    IdMismatch,
    /// No usable PEM block (or an encrypted key).
    #[error("malformed or unsupported PEM")]
    Pem,
    /// The private key operation failed (the hash is too long for the modulus).
    #[error("signing failed")]
    Sign,
}

/// The signature algorithm of a certificate (RFC 5280 §4.1.1.2, RFC 4055, RFC 5758).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignatureAlgorithm {
    RsaSha1,
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
    Unsupported,
}

mod oid {
    use der::asn1::ObjectIdentifier as Oid;

    pub(crate) const SHA1_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.5");
    pub(crate) const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub(crate) const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
    pub(crate) const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
    pub(crate) const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub(crate) const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");

    pub(crate) const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
    pub(crate) const KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
    pub(crate) const SUBJECT_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.17");
    /// Extensions that carry nothing path validation must act on; a critical one is accepted.
    pub(crate) const HARMLESS: &[Oid] = &[
        Oid::new_unwrap("2.5.29.14"),             // subjectKeyIdentifier
        Oid::new_unwrap("2.5.29.35"),             // authorityKeyIdentifier
        Oid::new_unwrap("2.5.29.37"),             // extKeyUsage
        Oid::new_unwrap("2.5.29.18"),             // issuerAltName
        Oid::new_unwrap("2.5.29.31"),             // cRLDistributionPoints
        Oid::new_unwrap("1.3.6.1.5.5.7.1.1"),     // authorityInfoAccess
        Oid::new_unwrap("1.3.6.1.4.1.311.20.2"),  // Microsoft certificate template name
        Oid::new_unwrap("1.3.6.1.4.1.311.21.7"),  // Microsoft certificate template
        Oid::new_unwrap("1.3.6.1.4.1.311.21.10"), // Microsoft application policies
    ];
}

/// A subjectAltName entry that an IKE identity can name (RFC 5280 §4.2.1.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AltName {
    Dns(String),
    Email(String),
    Ip(Vec<u8>),
}

struct Inner {
    der: Box<[u8]>,
    tbs: Range<usize>,
    issuer: Range<usize>,
    subject: Range<usize>,
    fingerprint: [u8; 32],
    signature_algorithm: SignatureAlgorithm,
    signature: Box<[u8]>,
    not_before: u64,
    not_after: u64,
    /// basicConstraints: (cA, pathLenConstraint); `None` when absent.
    basic_constraints: Option<(bool, Option<u8>)>,
    /// keyUsage keyCertSign; `None` when keyUsage is absent.
    key_cert_sign: Option<bool>,
    alt_names: Vec<AltName>,
    unsupported_critical: bool,
    subject_string: String,
    issuer_string: String,
    public_key: PublicKey,
}

/// A parsed X.509 certificate (RFC 5280 §4.1). Cloning shares the parsed data.
#[derive(Clone)]
pub struct Certificate {
    inner: Arc<Inner>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.inner.subject_string)
            .field("issuer", &self.inner.issuer_string)
            .field("not_after", &self.inner.not_after)
            .field("key", &self.inner.public_key)
            .finish()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.inner.der == other.inner.der
    }
}

impl Eq for Certificate {}

impl Certificate {
    /// Parses a DER certificate (the body of a CERT payload with encoding 4, RFC 2408 §3.9).
    ///
    /// Parsing checks the structure only; trust is [`TrustStore::validate`]'s job.
    ///
    /// # Errors
    /// [`CertError::Parse`] if the DER is malformed, has trailing bytes, is larger than
    /// [`MAX_CERT_LEN`], or repeats an extension (RFC 5280 §4.2).
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        if der.len() > MAX_CERT_LEN {
            return Err(CertError::Parse);
        }
        let cert = x509_cert::Certificate::from_der(der).map_err(|_| CertError::Parse)?;
        let tbs_cert = cert.tbs_certificate();
        // RFC 5280 §4.1.1.2: signatureAlgorithm MUST equal tbsCertificate.signature.
        if cert.signature_algorithm() != tbs_cert.signature() {
            return Err(CertError::Parse);
        }
        let layout = tlv::layout(der).ok_or(CertError::Parse)?;
        let signature_algorithm = signature_algorithm(cert.signature_algorithm());
        let signature = cert.signature().as_bytes().ok_or(CertError::Parse)?.into();
        let validity = tbs_cert.validity();
        let not_before = validity.not_before.to_unix_duration().as_secs();
        let not_after = validity.not_after.to_unix_duration().as_secs();

        let mut basic_constraints = None;
        let mut key_cert_sign = None;
        let mut alt_names = Vec::new();
        let mut unsupported_critical = false;
        let mut seen: Vec<&ObjectIdentifier> = Vec::new();
        for ext in tbs_cert.extensions().into_iter().flatten() {
            if seen.contains(&&ext.extn_id) {
                return Err(CertError::Parse);
            }
            seen.push(&ext.extn_id);
            let value = ext.extn_value.as_bytes();
            if ext.extn_id == oid::BASIC_CONSTRAINTS {
                let bc = BasicConstraints::from_der(value).map_err(|_| CertError::Parse)?;
                basic_constraints = Some((bc.ca, bc.path_len_constraint));
            } else if ext.extn_id == oid::KEY_USAGE {
                let ku = KeyUsage::from_der(value).map_err(|_| CertError::Parse)?;
                key_cert_sign = Some(ku.key_cert_sign());
            } else if ext.extn_id == oid::SUBJECT_ALT_NAME {
                let san = SubjectAltName::from_der(value).map_err(|_| CertError::Parse)?;
                alt_names = san.0.iter().filter_map(alt_name).collect();
            } else if ext.critical && !oid::HARMLESS.contains(&ext.extn_id) {
                unsupported_critical = true;
            }
        }

        let spki = tbs_cert.subject_public_key_info();
        let public_key = PublicKey::from_spki(spki);
        let subject_string = name::to_string(tbs_cert.subject());
        let issuer_string = name::to_string(tbs_cert.issuer());
        Ok(Self {
            inner: Arc::new(Inner {
                der: der.into(),
                tbs: layout.tbs,
                issuer: layout.issuer,
                subject: layout.subject,
                fingerprint: sha256(der),
                signature_algorithm,
                signature,
                not_before,
                not_after,
                basic_constraints,
                key_cert_sign,
                alt_names,
                unsupported_critical,
                subject_string,
                issuer_string,
                public_key,
            }),
        })
    }

    /// Parses every `CERTIFICATE` block of a PEM text (RFC 7468 §5), in order; other blocks
    /// (keys, parameters) are skipped.
    ///
    /// # Errors
    /// [`CertError::Pem`] if the text holds no certificate or a block is not valid base64;
    /// [`CertError::Parse`] if a certificate is malformed.
    pub fn from_pem(pem: &str) -> Result<Vec<Self>, CertError> {
        let certs = pem::blocks(pem)?
            .into_iter()
            .filter(|block| block.label == "CERTIFICATE" || block.label == "X509 CERTIFICATE")
            .map(|block| Self::from_der(&block.der))
            .collect::<Result<Vec<_>, _>>()?;
        if certs.is_empty() {
            return Err(CertError::Pem);
        }
        Ok(certs)
    }

    /// The certificates of a PKCS#7 SignedData (RFC 2315 §9.1): the body of a CERT payload
    /// with encoding "PKCS #7 wrapped X.509 certificate" (1, RFC 2408 §3.9), which some peers
    /// send their chain in. In the container's order, at most [`MAX_INTERMEDIATES`] + 1; pick
    /// the end entity with [`end_entity_index`].
    ///
    /// # Errors
    /// [`CertError::Parse`] if the container or a certificate in it is malformed.
    pub fn from_pkcs7(der: &[u8]) -> Result<Vec<Self>, CertError> {
        tlv::pkcs7_certificates(der, MAX_INTERMEDIATES + 1)
            .ok_or(CertError::Parse)?
            .into_iter()
            .map(|range| Self::from_der(&der[range]))
            .collect()
    }

    /// The DER encoding, as received (the body of a CERT payload).
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The DER of the subject Name: what an `ID_DER_ASN1_DN` payload carries (RFC 2407
    /// §4.6.2.1).
    #[must_use]
    pub fn subject_der(&self) -> &[u8] {
        &self.inner.der[self.inner.subject.clone()]
    }

    /// The DER of the issuer Name: what a CERTREQ payload names (RFC 2408 §3.10).
    #[must_use]
    pub fn issuer_der(&self) -> &[u8] {
        &self.inner.der[self.inner.issuer.clone()]
    }

    /// The subject for logs, in certificate order: `C=CH, O=sras, CN=server`.
    #[must_use]
    pub fn subject_string(&self) -> String {
        self.inner.subject_string.clone()
    }

    /// The issuer for logs, like [`Certificate::subject_string`].
    #[must_use]
    pub fn issuer_string(&self) -> String {
        self.inner.issuer_string.clone()
    }

    /// The subject public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.inner.public_key
    }

    /// SHA-256 of the DER: the certificate's fingerprint.
    #[must_use]
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.inner.fingerprint
    }

    /// notBefore, in seconds since the Unix epoch.
    #[must_use]
    pub fn not_before(&self) -> u64 {
        self.inner.not_before
    }

    /// notAfter, in seconds since the Unix epoch.
    #[must_use]
    pub fn not_after(&self) -> u64 {
        self.inner.not_after
    }

    /// Whether basicConstraints says cA (RFC 5280 §4.2.1.9).
    #[must_use]
    pub fn is_ca(&self) -> bool {
        matches!(self.inner.basic_constraints, Some((true, _)))
    }

    /// Whether the subject and issuer names are the same (RFC 5280 §6.1: self-issued).
    #[must_use]
    pub fn is_self_issued(&self) -> bool {
        self.subject_der() == self.issuer_der()
    }

    /// Checks the validity period against `now_unix` (RFC 5280 §6.1.3 (a)(2)).
    ///
    /// # Errors
    /// [`CertError::NotYetValid`] or [`CertError::Expired`].
    pub fn check_validity(&self, now_unix: u64) -> Result<(), CertError> {
        if now_unix < self.inner.not_before {
            Err(CertError::NotYetValid)
        } else if now_unix > self.inner.not_after {
            Err(CertError::Expired)
        } else {
            Ok(())
        }
    }

    pub(crate) fn alt_names(&self) -> &[AltName] {
        &self.inner.alt_names
    }

    pub(crate) fn has_unsupported_critical(&self) -> bool {
        self.inner.unsupported_critical
    }

    pub(crate) fn path_len_constraint(&self) -> Option<u8> {
        self.inner.basic_constraints.and_then(|(_, len)| len)
    }

    /// Whether keyUsage, if present, allows keyCertSign (RFC 5280 §4.2.1.3).
    pub(crate) fn may_sign_certificates(&self) -> bool {
        self.inner.key_cert_sign.unwrap_or(true)
    }

    /// Verifies this certificate's signature with `issuer`'s key (RFC 5280 §6.1.3 (a)(1)).
    pub(crate) fn verify_signed_by(&self, issuer: &PublicKey) -> Result<(), CertError> {
        let tbs = &self.inner.der[self.inner.tbs.clone()];
        issuer.verify_certificate_signature(
            self.inner.signature_algorithm,
            tbs,
            &self.inner.signature,
        )
    }
}

/// Maps an AlgorithmIdentifier to the algorithms this module verifies. RSA parameters must be
/// NULL (RFC 4055 §5; absent is tolerated), ECDSA parameters absent (RFC 5758 §3.2).
fn signature_algorithm(alg: &x509_cert::spki::AlgorithmIdentifierOwned) -> SignatureAlgorithm {
    let null_or_absent = alg.parameters.as_ref().is_none_or(|p| p.is_null());
    let absent = alg.parameters.is_none();
    match alg.oid {
        oid::SHA1_WITH_RSA if null_or_absent => SignatureAlgorithm::RsaSha1,
        oid::SHA256_WITH_RSA if null_or_absent => SignatureAlgorithm::RsaSha256,
        oid::SHA384_WITH_RSA if null_or_absent => SignatureAlgorithm::RsaSha384,
        oid::SHA512_WITH_RSA if null_or_absent => SignatureAlgorithm::RsaSha512,
        oid::ECDSA_WITH_SHA256 if absent => SignatureAlgorithm::EcdsaSha256,
        oid::ECDSA_WITH_SHA384 if absent => SignatureAlgorithm::EcdsaSha384,
        _ => SignatureAlgorithm::Unsupported,
    }
}

fn alt_name(name: &GeneralName) -> Option<AltName> {
    match name {
        GeneralName::DnsName(s) => Some(AltName::Dns(s.to_string())),
        GeneralName::Rfc822Name(s) => Some(AltName::Email(s.to_string())),
        GeneralName::IpAddress(ip) => Some(AltName::Ip(ip.as_bytes().to_vec())),
        _ => None,
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}
