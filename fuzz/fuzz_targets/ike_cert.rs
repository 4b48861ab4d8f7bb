//! Certificate parsing as a peer's CERT payload reaches it: X.509 DER, a PKCS#7 chain, PEM
//! text, then what the endpoint does with a parsed certificate (ID matching, path validation
//! against the test CA, an IKEv1 signature check). Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sras_ike::cert::{id_matches, verify_ikev1, Certificate, TrustStore};

const CA: &str = include_str!("../../crates/ike/tests/data/certs/ca.pem");

fuzz_target!(|data: &[u8]| {
    let trust = TrustStore::new(Certificate::from_pem(CA).unwrap_or_default());
    let mut certs = Certificate::from_pkcs7(data).unwrap_or_default();
    if let Ok(c) = Certificate::from_der(data) {
        certs.push(c);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        certs.extend(Certificate::from_pem(text).unwrap_or_default());
    }
    for c in &certs {
        let _ = c.subject_string();
        let _ = id_matches(c, 9, c.subject_der());
        let _ = id_matches(c, 1, &data[..data.len().min(4)]);
        let _ = trust.validate(c, &certs, 1_800_000_000);
        let _ = verify_ikev1(c, &[0u8; 20], data);
    }
});
