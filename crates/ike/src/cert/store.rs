//! The configured CAs and certification path validation (RFC 5280 §6.1, the parts IKE needs).

use super::{sha256, CertError, Certificate};

/// The most intermediates a path may have between the end entity and a configured CA.
pub const MAX_PATH_LEN: usize = 8;

/// The most intermediates considered from a peer (extra CERT payloads are ignored).
pub const MAX_INTERMEDIATES: usize = 16;

/// The most certificate signatures one validation verifies: bounds the work a peer can cause
/// with many intermediates that share a name.
const MAX_SIGNATURE_CHECKS: u32 = 32;

/// The CAs an operator configured: the trust anchors of path validation (RFC 5280 §6.1.1 (d)).
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    cas: Vec<Certificate>,
    /// SHA-256 over the CAs' fingerprints: tells a [`super::CertCache`] that the store changed.
    digest: [u8; 32],
}

/// A validated path: the anchor used and the time window in which every certificate of the
/// path is valid.
pub(super) struct Validated<'a> {
    pub(super) anchor: &'a Certificate,
    pub(super) not_before: u64,
    pub(super) not_after: u64,
}

struct Search<'a> {
    intermediates: &'a [Certificate],
    now: u64,
    used: Vec<usize>,
    budget: u32,
}

impl TrustStore {
    /// A store of `cas`. Duplicates are dropped; every CA is used as a trust anchor, and must
    /// itself be a valid CA at validation time (basicConstraints cA, validity).
    #[must_use]
    pub fn new(cas: Vec<Certificate>) -> Self {
        let mut unique: Vec<Certificate> = Vec::with_capacity(cas.len());
        for ca in cas {
            if !unique.contains(&ca) {
                unique.push(ca);
            }
        }
        let fingerprints: Vec<u8> = unique.iter().flat_map(|c| *c.fingerprint()).collect();
        Self {
            cas: unique,
            digest: sha256(&fingerprints),
        }
    }

    /// Whether no CA is configured (certificate authentication is then impossible).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cas.is_empty()
    }

    /// The configured CAs.
    #[must_use]
    pub fn cas(&self) -> &[Certificate] {
        &self.cas
    }

    /// The DER subject Names of the CAs, one per CERTREQ payload (RFC 2408 §3.10, encoding
    /// X.509 Signature = 4, Certificate Authority = the DN, as strongSwan and Windows send).
    pub fn authorities(&self) -> impl Iterator<Item = &[u8]> {
        self.cas.iter().map(Certificate::subject_der)
    }

    pub(super) fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// Validates `end_entity` up to one of the CAs through `intermediates` (in any order,
    /// as CERT payloads arrive; the first [`MAX_INTERMEDIATES`] are considered), at `now_unix`
    /// (RFC 5280 §6.1): every link is an issuer/subject DN match and a signature; every
    /// certificate is within its validity; every issuer has basicConstraints cA and, if it has
    /// keyUsage, keyCertSign, and its pathLenConstraint holds; at most [`MAX_PATH_LEN`]
    /// intermediates; no certificate has an unprocessed critical extension. Returns the CA.
    ///
    /// A peer that also sends the root CA is fine: configured CAs are tried first at each step.
    ///
    /// # Errors
    /// [`CertError::Expired`], [`CertError::NotYetValid`], [`CertError::UnknownIssuer`],
    /// [`CertError::BadSignature`], [`CertError::NotCa`], [`CertError::ChainTooLong`],
    /// [`CertError::UnsupportedAlgorithm`], [`CertError::UnsupportedCriticalExtension`]: when
    /// several paths fail, the error of the last one tried.
    pub fn validate(
        &self,
        end_entity: &Certificate,
        intermediates: &[Certificate],
        now_unix: u64,
    ) -> Result<&Certificate, CertError> {
        self.validate_path(end_entity, intermediates, now_unix)
            .map(|v| v.anchor)
    }

    pub(super) fn validate_path(
        &self,
        end_entity: &Certificate,
        intermediates: &[Certificate],
        now: u64,
    ) -> Result<Validated<'_>, CertError> {
        end_entity.check_validity(now)?;
        if end_entity.has_unsupported_critical() {
            return Err(CertError::UnsupportedCriticalExtension);
        }
        let intermediates = &intermediates[..intermediates.len().min(MAX_INTERMEDIATES)];
        let mut search = Search {
            intermediates,
            now,
            used: Vec::new(),
            budget: MAX_SIGNATURE_CHECKS,
        };
        let anchor = self.extend(end_entity, &mut search)?;
        // The window in which the whole path is valid, for caching.
        let path = std::iter::once(end_entity)
            .chain(search.used.iter().map(|&i| &intermediates[i]))
            .chain(std::iter::once(anchor));
        let not_before = path.clone().map(Certificate::not_before).max().unwrap_or(0);
        let not_after = path.map(Certificate::not_after).min().unwrap_or(0);
        Ok(Validated {
            anchor,
            not_before,
            not_after,
        })
    }

    /// Finds an issuer for `cert` (at position `search.used.len()` above the end entity),
    /// depth first: configured CAs, then unused intermediates.
    fn extend<'s>(
        &'s self,
        cert: &Certificate,
        search: &mut Search<'_>,
    ) -> Result<&'s Certificate, CertError> {
        let mut error = CertError::UnknownIssuer;
        for ca in self
            .cas
            .iter()
            .filter(|ca| ca.subject_der() == cert.issuer_der())
        {
            match check_link(cert, ca, search) {
                Ok(()) => return Ok(ca),
                Err(e) => error = e,
            }
        }
        let intermediates = search.intermediates;
        for (i, issuer) in intermediates.iter().enumerate() {
            if issuer.subject_der() != cert.issuer_der() || search.used.contains(&i) {
                continue;
            }
            if search.used.len() >= MAX_PATH_LEN {
                return Err(CertError::ChainTooLong);
            }
            if let Err(e) = check_link(cert, issuer, search) {
                error = e;
                continue;
            }
            search.used.push(i);
            match self.extend(issuer, search) {
                Ok(ca) => return Ok(ca),
                Err(e) => error = e,
            }
            search.used.pop();
        }
        Err(error)
    }
}

/// Checks that `issuer` may have issued `cert` and did (RFC 5280 §6.1.3, §6.1.4 (k), (l),
/// (m), (n)). `search.used.len()` intermediates lie between `issuer` and the end entity.
fn check_link(
    cert: &Certificate,
    issuer: &Certificate,
    search: &mut Search<'_>,
) -> Result<(), CertError> {
    issuer.check_validity(search.now)?;
    if !issuer.is_ca() || !issuer.may_sign_certificates() {
        return Err(CertError::NotCa);
    }
    if issuer.has_unsupported_critical() {
        return Err(CertError::UnsupportedCriticalExtension);
    }
    if issuer
        .path_len_constraint()
        .is_some_and(|max| search.used.len() > usize::from(max))
    {
        return Err(CertError::ChainTooLong);
    }
    if search.budget == 0 {
        return Err(CertError::ChainTooLong);
    }
    search.budget -= 1;
    cert.verify_signed_by(issuer.public_key())
}
