//! A bounded cache of validated peer certificates.
//!
//! Validation costs a few signature verifications; peers reconnecting with the same
//! certificate skip them. The cache holds at most `capacity` entries and evicts the oldest
//! (FIFO), so a flood of distinct certificates cannot grow memory (ROBUSTNESS 43). Failures are
//! never cached.

use std::collections::{HashMap, VecDeque};

use super::{sha256, CertError, Certificate, TrustStore, MAX_INTERMEDIATES};

struct Entry {
    cert: Certificate,
    not_before: u64,
    not_after: u64,
}

/// Validated end-entity certificates, keyed by the SHA-256 of their DER.
#[derive(Default)]
pub struct CertCache {
    capacity: usize,
    entries: HashMap<[u8; 32], Entry>,
    order: VecDeque<[u8; 32]>,
    /// The [`TrustStore`] the entries were validated with; another store empties the cache.
    store: [u8; 32],
}

impl std::fmt::Debug for CertCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertCache")
            .field("capacity", &self.capacity)
            .field("len", &self.entries.len())
            .finish()
    }
}

impl CertCache {
    /// An empty cache of at most `capacity` certificates (0 disables caching).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    /// The number of cached certificates.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The maximum number of cached certificates.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }

    /// The certificate `der`, validated with [`TrustStore::validate`] through
    /// `intermediates_der` at `now_unix`, or taken from the cache if it was validated before
    /// with the same store and `now_unix` is still inside the validity of its whole path.
    ///
    /// Intermediates that do not parse are ignored (the path search fails without them).
    ///
    /// # Errors
    /// As [`Certificate::from_der`] and [`TrustStore::validate`].
    pub fn get_or_validate(
        &mut self,
        store: &TrustStore,
        der: &[u8],
        intermediates_der: &[impl AsRef<[u8]>],
        now_unix: u64,
    ) -> Result<Certificate, CertError> {
        if self.store != *store.digest() {
            self.clear();
            self.store = *store.digest();
        }
        let key = sha256(der);
        if let Some(entry) = self.entries.get(&key) {
            if entry.cert.der() == der && (entry.not_before..=entry.not_after).contains(&now_unix) {
                return Ok(entry.cert.clone());
            }
        }
        let cert = Certificate::from_der(der)?;
        let intermediates: Vec<Certificate> = intermediates_der
            .iter()
            .take(MAX_INTERMEDIATES)
            .filter_map(|d| Certificate::from_der(d.as_ref()).ok())
            .collect();
        let validated = store.validate_path(&cert, &intermediates, now_unix)?;
        let entry = Entry {
            cert: cert.clone(),
            not_before: validated.not_before,
            not_after: validated.not_after,
        };
        if self.capacity == 0 {
            return Ok(cert);
        }
        if self.entries.insert(key, entry).is_none() {
            self.order.push_back(key);
            while self.entries.len() > self.capacity {
                match self.order.pop_front() {
                    Some(old) => {
                        self.entries.remove(&old);
                    }
                    None => break,
                }
            }
        }
        Ok(cert)
    }
}
