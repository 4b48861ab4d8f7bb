//! Certificates for IKEv1 RSA-signature authentication: parsing, path validation (RFC 5280 §6),
//! the IKEv1 signature (RFC 2409 §5.1) against an OpenSSL known answer, forged signatures
//! (ROBUSTNESS 43), ID matching (RFC 2407 §4.6.2) and the bounded cache.
//!
//! Fixtures: tests/data/certs, made by generate.sh.
#![allow(missing_docs)]

use std::path::PathBuf;

use base64ct::{Base64, Encoding};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, RsaPrivateKey};
use sras_ike::cert::{
    end_entity_index, id_matches, verify_ikev1, CertCache, CertError, Certificate, KeyAlgorithm,
    PrivateKey, TrustStore, ID_DER_ASN1_DN, ID_FQDN, ID_IPV4_ADDR, ID_IPV6_ADDR, ID_USER_FQDN,
};

/// 2100-01-01T00:00:00Z: inside the 100-year validity of the fixtures.
const NOW: u64 = 4_102_444_800;
/// 2200-01-01: after every fixture's notAfter.
const LATER: u64 = 7_258_118_400;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/certs")
        .join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(path(name)).unwrap()
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap()
}

fn cert(name: &str) -> Certificate {
    let mut certs = Certificate::from_pem(&text(name)).unwrap();
    assert_eq!(certs.len(), 1, "{name}");
    certs.remove(0)
}

fn certs(name: &str) -> Vec<Certificate> {
    Certificate::from_pem(&text(name)).unwrap()
}

fn key(name: &str) -> PrivateKey {
    PrivateKey::from_pem(&text(name)).unwrap()
}

/// The DER body of the first PEM block of a file.
fn pem_der(name: &str) -> Vec<u8> {
    let body: String = text(name)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    Base64::decode_vec(&body).unwrap()
}

fn store() -> TrustStore {
    TrustStore::new(vec![cert("ca.pem")])
}

const CERT_FILES: &[&str] = &[
    "ca.pem",
    "intermediate.pem",
    "sub-intermediate.pem",
    "server.pem",
    "client.pem",
    "expired.pem",
    "other-ca.pem",
    "impostor-ca.pem",
    "other-client.pem",
    "by-leaf.pem",
    "deep.pem",
    "critical-ext.pem",
    "pss.pem",
    "ec-ca.pem",
    "ec-leaf.pem",
    "ec-key-leaf.pem",
    "long-leaf8.pem",
    "long-leaf9.pem",
];

// ---- parsing ----

#[test]
fn every_fixture_parses() {
    for name in CERT_FILES {
        let c = cert(name);
        assert_eq!(c.der(), pem_der(name), "{name}");
        assert_eq!(Certificate::from_der(c.der()).unwrap(), c);
    }
    assert_eq!(certs("long-chain.pem").len(), 9);
}

#[test]
fn names_and_keys() {
    let server = cert("server.pem");
    assert_eq!(server.subject_string(), "C=CH, O=sras, CN=sras-server");
    assert_eq!(
        server.issuer_string(),
        "C=CH, O=sras, CN=sras Test Intermediate CA"
    );
    assert_eq!(
        cert("client.pem").subject_string(),
        "C=CH, O=sras, OU=users, CN=client"
    );
    let intermediate = cert("intermediate.pem");
    assert_eq!(server.issuer_der(), intermediate.subject_der());
    assert_eq!(intermediate.issuer_der(), cert("ca.pem").subject_der());
    // The subject is a DER Name: SEQUENCE, and it occurs in the certificate as is.
    assert_eq!(server.subject_der()[0], 0x30);
    assert!(server
        .der()
        .windows(server.subject_der().len())
        .any(|w| w == server.subject_der()));
    assert_eq!(server.public_key().algorithm(), KeyAlgorithm::Rsa);
    assert_eq!(server.public_key().bits(), 2048);
    assert_eq!(server.public_key().signature_len(), 256);
    assert_eq!(
        cert("ec-ca.pem").public_key().algorithm(),
        KeyAlgorithm::EcdsaP256
    );
    assert!(cert("ca.pem").is_ca());
    assert!(cert("ca.pem").is_self_issued());
    assert!(!server.is_ca());
    assert!(!format!("{server:?}").is_empty());
}

#[test]
fn pem_bundles_and_line_endings() {
    let bundle =
        text("intermediate.pem") + "some text\n" + &text("ca.pem") + &text("server.key.pem");
    let parsed = Certificate::from_pem(&bundle).unwrap();
    assert_eq!(parsed, vec![cert("intermediate.pem"), cert("ca.pem")]);
    let crlf = text("server.pem").replace('\n', "\r\n");
    assert_eq!(
        Certificate::from_pem(&crlf).unwrap(),
        vec![cert("server.pem")]
    );
    assert_eq!(
        Certificate::from_pem(&text("server.key.pem")),
        Err(CertError::Pem)
    );
    assert_eq!(Certificate::from_pem(""), Err(CertError::Pem));
    let unterminated = text("server.pem").replace("-----END CERTIFICATE-----", "");
    assert_eq!(Certificate::from_pem(&unterminated), Err(CertError::Pem));
    let bad_base64 = text("server.pem").replacen("MII", "M*I", 1);
    assert_eq!(Certificate::from_pem(&bad_base64), Err(CertError::Pem));
}

#[test]
fn pkcs7_wrapped_chain() {
    let p7 = bytes("chain.p7b");
    let chain = Certificate::from_pkcs7(&p7).unwrap();
    assert_eq!(chain, vec![cert("intermediate.pem"), cert("server.pem")]);
    let server = cert("server.pem");
    let ee = end_entity_index(&chain, ID_DER_ASN1_DN, server.subject_der()).unwrap();
    assert_eq!(ee, 1);
    let mut rest = chain.clone();
    let ee = rest.remove(ee);
    assert_eq!(store().validate(&ee, &rest, NOW), Ok(&cert("ca.pem")));
    // Malformed containers.
    assert_eq!(Certificate::from_pkcs7(&[]), Err(CertError::Parse));
    assert_eq!(Certificate::from_pkcs7(server.der()), Err(CertError::Parse));
    assert_eq!(
        Certificate::from_pkcs7(&p7[..p7.len() - 1]),
        Err(CertError::Parse)
    );
    for i in 0..p7.len() {
        let mut changed = p7.clone();
        changed[i] ^= 0x01;
        let _ = Certificate::from_pkcs7(&changed);
        let _ = Certificate::from_pkcs7(&p7[..i]);
    }
}

#[test]
fn choosing_the_end_entity() {
    let server = cert("server.pem");
    let client = cert("client.pem");
    let im = cert("intermediate.pem");
    let dn = server.subject_der().to_vec();
    assert_eq!(end_entity_index(&[], ID_DER_ASN1_DN, &dn), None);
    assert_eq!(
        end_entity_index(&[server.clone(), im.clone()], ID_DER_ASN1_DN, &dn),
        Some(0)
    );
    assert_eq!(
        end_entity_index(&[im.clone(), server.clone()], ID_DER_ASN1_DN, &dn),
        Some(1)
    );
    // The one matching the ID wins; without a match, the first non-CA.
    let both = [im.clone(), client.clone(), server.clone()];
    assert_eq!(end_entity_index(&both, ID_DER_ASN1_DN, &dn), Some(2));
    assert_eq!(end_entity_index(&both, ID_FQDN, b"nowhere.test"), Some(1));
    // Only CAs: the first.
    assert_eq!(
        end_entity_index(&[im, cert("ca.pem")], ID_DER_ASN1_DN, &dn),
        Some(0)
    );
}

#[test]
fn malformed_der_is_refused() {
    let der = cert("server.pem").der().to_vec();
    assert_eq!(Certificate::from_der(&[]), Err(CertError::Parse));
    assert_eq!(
        Certificate::from_der(&der[..der.len() - 1]).err(),
        Some(CertError::Parse)
    );
    let mut trailing = der.clone();
    trailing.push(0);
    assert_eq!(
        Certificate::from_der(&trailing).err(),
        Some(CertError::Parse)
    );
    assert_eq!(
        Certificate::from_der(&vec![0x30; 70_000]).err(),
        Some(CertError::Parse)
    );
    // Every truncation and every single-byte change either parses or fails cleanly.
    for i in 0..der.len() {
        let _ = Certificate::from_der(&der[..i]);
        let mut changed = der.clone();
        changed[i] ^= 0x80;
        let _ = Certificate::from_der(&changed);
    }
}

#[test]
fn private_keys() {
    let server_key = key("server.key.pem"); // PKCS#8
    let client_key = key("client.key.pem"); // PKCS#1
    assert!(text("client.key.pem").contains("BEGIN RSA PRIVATE KEY"));
    assert_eq!(server_key.bits(), 2048);
    assert!(server_key.matches(&cert("server.pem")));
    assert!(server_key.matches(&cert("ec-leaf.pem"))); // same key, other issuer
    assert!(!server_key.matches(&cert("client.pem")));
    assert!(client_key.matches(&cert("client.pem")));
    assert!(!client_key.matches(&cert("ec-ca.pem")));
    // DER forms
    assert!(PrivateKey::from_der(&pem_der("server.key.pem"))
        .unwrap()
        .matches(&cert("server.pem")));
    assert!(PrivateKey::from_der(&pem_der("client.key.pem"))
        .unwrap()
        .matches(&cert("client.pem")));
    // A key after a certificate in the same file.
    let combined = text("server.pem") + &text("server.key.pem");
    assert!(PrivateKey::from_pem(&combined)
        .unwrap()
        .matches(&cert("server.pem")));
    // Not RSA, not a key, not DER.
    assert_eq!(
        PrivateKey::from_pem(&text("ec-ca.key.pem")).err(),
        Some(CertError::UnsupportedKey)
    );
    assert_eq!(
        PrivateKey::from_der(&pem_der("ec-ca.key.pem")).err(),
        Some(CertError::UnsupportedKey)
    );
    assert_eq!(
        PrivateKey::from_pem(&text("server.pem")).err(),
        Some(CertError::Pem)
    );
    assert_eq!(
        PrivateKey::from_der(b"not a key").err(),
        Some(CertError::Parse)
    );
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert_eq!(PrivateKey::from_pem(encrypted).err(), Some(CertError::Pem));
    // Debug never shows the key.
    assert_eq!(format!("{server_key:?}"), "PrivateKey(RSA/2048)");
}

// ---- path validation ----

#[test]
fn chain_through_an_intermediate() {
    let store = store();
    let ca = cert("ca.pem");
    let intermediate = cert("intermediate.pem");
    assert_eq!(
        store.validate(
            &cert("server.pem"),
            std::slice::from_ref(&intermediate),
            NOW
        ),
        Ok(&ca)
    );
    assert_eq!(
        store.validate(
            &cert("client.pem"),
            std::slice::from_ref(&intermediate),
            NOW
        ),
        Ok(&ca)
    );
    // Order and extra certificates do not matter; a peer that also sends the root is fine.
    let noisy = vec![
        cert("other-ca.pem"),
        ca.clone(),
        cert("expired.pem"),
        intermediate.clone(),
    ];
    assert_eq!(store.validate(&cert("server.pem"), &noisy, NOW), Ok(&ca));
    // The intermediate itself validates against the root alone.
    assert_eq!(store.validate(&intermediate, &[], NOW), Ok(&ca));
    // So does a leaf when the intermediate is configured as a CA.
    let both = TrustStore::new(vec![cert("other-ca.pem"), intermediate.clone()]);
    assert_eq!(
        both.validate(&cert("server.pem"), &[], NOW),
        Ok(&intermediate)
    );
}

#[test]
fn chain_with_ecdsa_issuer() {
    let store = TrustStore::new(vec![cert("ec-ca.pem")]);
    assert_eq!(
        store.validate(&cert("ec-leaf.pem"), &[], NOW),
        Ok(&cert("ec-ca.pem"))
    );
    // An ECDSA end-entity key validates, but cannot make IKEv1 signatures here.
    let leaf = cert("ec-key-leaf.pem");
    assert!(store_with_intermediate().validate(&leaf, &[], NOW).is_ok());
    assert_eq!(
        verify_ikev1(&leaf, &[0; 20], &[0; 64]),
        Err(CertError::UnsupportedKey)
    );
}

fn store_with_intermediate() -> TrustStore {
    TrustStore::new(vec![cert("intermediate.pem")])
}

#[test]
fn unknown_issuer() {
    let store = store();
    assert_eq!(
        store.validate(&cert("server.pem"), &[], NOW),
        Err(CertError::UnknownIssuer)
    );
    assert_eq!(
        store.validate(&cert("other-client.pem"), &[cert("intermediate.pem")], NOW),
        Err(CertError::UnknownIssuer)
    );
    assert_eq!(
        TrustStore::default().validate(&cert("server.pem"), &[], NOW),
        Err(CertError::UnknownIssuer)
    );
    let other = TrustStore::new(vec![cert("other-ca.pem")]);
    assert_eq!(
        other.validate(&cert("other-client.pem"), &[], NOW),
        Ok(&cert("other-ca.pem"))
    );
}

#[test]
fn validity_periods() {
    let store = store();
    let im = [cert("intermediate.pem")];
    assert_eq!(
        store.validate(&cert("expired.pem"), &im, NOW),
        Err(CertError::Expired)
    );
    // 2000-06-01: inside expired.pem's period, but before its issuer's.
    assert_eq!(
        store.validate(&cert("expired.pem"), &im, 959_817_600),
        Err(CertError::NotYetValid)
    );
    let server = cert("server.pem");
    assert_eq!(
        store.validate(&server, &im, server.not_before() - 1),
        Err(CertError::NotYetValid)
    );
    assert_eq!(store.validate(&server, &im, LATER), Err(CertError::Expired));
    assert!(store
        .validate(
            &server,
            &im,
            server.not_before().max(cert("ca.pem").not_before())
        )
        .is_ok());
    assert_eq!(server.check_validity(0), Err(CertError::NotYetValid));
}

#[test]
fn issuer_must_be_a_ca() {
    // by-leaf.pem is signed by server.pem, which is CA:FALSE.
    let chain = [cert("server.pem"), cert("intermediate.pem")];
    assert_eq!(
        store().validate(&cert("by-leaf.pem"), &chain, NOW),
        Err(CertError::NotCa)
    );
    // Configuring a leaf as a CA does not make it one.
    let leaf_store = TrustStore::new(vec![cert("server.pem")]);
    assert_eq!(
        leaf_store.validate(&cert("by-leaf.pem"), &[], NOW),
        Err(CertError::NotCa)
    );
}

#[test]
fn tampered_signatures() {
    let store = store();
    let im = [cert("intermediate.pem")];
    let der = cert("server.pem").der().to_vec();
    // The last byte is in the signature.
    let mut sig = der.clone();
    *sig.last_mut().unwrap() ^= 1;
    assert_eq!(
        store.validate(&Certificate::from_der(&sig).unwrap(), &im, NOW),
        Err(CertError::BadSignature)
    );
    // A changed subject: the signed TBS no longer matches.
    let at = der.windows(11).position(|w| w == b"sras-server").unwrap();
    let mut tbs = der.clone();
    tbs[at] = b'S';
    let forged = Certificate::from_der(&tbs).unwrap();
    assert_eq!(forged.subject_string(), "C=CH, O=sras, CN=Sras-server");
    assert_eq!(
        store.validate(&forged, &im, NOW),
        Err(CertError::BadSignature)
    );
    // A tampered intermediate.
    let mut im_der = cert("intermediate.pem").der().to_vec();
    *im_der.last_mut().unwrap() ^= 1;
    let bad_im = [Certificate::from_der(&im_der).unwrap()];
    assert_eq!(
        store.validate(&cert("server.pem"), &bad_im, NOW),
        Err(CertError::BadSignature)
    );
    // A CA with the right name and another key; next to the real one, the real one is found.
    let impostor = cert("impostor-ca.pem");
    assert_eq!(impostor.subject_der(), cert("ca.pem").subject_der());
    let fooled = TrustStore::new(vec![impostor.clone()]);
    assert_eq!(
        fooled.validate(&cert("server.pem"), &im, NOW),
        Err(CertError::BadSignature)
    );
    let both = TrustStore::new(vec![impostor, cert("ca.pem")]);
    assert_eq!(
        both.validate(&cert("server.pem"), &im, NOW),
        Ok(&cert("ca.pem"))
    );
}

#[test]
fn path_length() {
    let store = store();
    // intermediate.pem has pathlen:0, so sub-intermediate cannot be under it.
    let chain = [cert("sub-intermediate.pem"), cert("intermediate.pem")];
    assert_eq!(
        store.validate(&cert("deep.pem"), &chain, NOW),
        Err(CertError::ChainTooLong)
    );
    // Eight intermediates are allowed, nine are not.
    let long = certs("long-chain.pem");
    assert_eq!(
        store.validate(&cert("long-leaf8.pem"), &long, NOW),
        Ok(&cert("ca.pem"))
    );
    assert_eq!(
        store.validate(&cert("long-leaf9.pem"), &long, NOW),
        Err(CertError::ChainTooLong)
    );
    // Reversed order, same result.
    let reversed: Vec<_> = long.iter().rev().cloned().collect();
    assert_eq!(
        store.validate(&cert("long-leaf8.pem"), &reversed, NOW),
        Ok(&cert("ca.pem"))
    );
}

#[test]
fn unsupported_critical_extension_and_algorithm() {
    let store = store();
    let im = [cert("intermediate.pem")];
    assert_eq!(
        store.validate(&cert("critical-ext.pem"), &im, NOW),
        Err(CertError::UnsupportedCriticalExtension)
    );
    // RSASSA-PSS certificate signatures are not accepted (ROBUSTNESS 43: no PSS parameters
    // to get wrong).
    assert_eq!(
        store.validate(&cert("pss.pem"), &im, NOW),
        Err(CertError::UnsupportedAlgorithm)
    );
}

#[test]
fn authorities_for_certreq() {
    let ca = cert("ca.pem");
    let other = cert("other-ca.pem");
    let store = TrustStore::new(vec![ca.clone(), other.clone(), ca.clone()]);
    assert!(!store.is_empty());
    assert_eq!(store.cas().len(), 2);
    let names: Vec<&[u8]> = store.authorities().collect();
    assert_eq!(names, vec![ca.subject_der(), other.subject_der()]);
    assert!(TrustStore::default().is_empty());
    assert_eq!(TrustStore::new(Vec::new()).authorities().count(), 0);
}

// ---- the IKEv1 signature ----

#[test]
fn sign_and_verify_round_trip() {
    for (key_file, cert_file) in [
        ("server.key.pem", "server.pem"),
        ("client.key.pem", "client.pem"),
    ] {
        let key = key(key_file);
        let cert = cert(cert_file);
        for len in [16, 20, 32, 48, 64] {
            let hash: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            let sig = key.sign_ikev1(&hash).unwrap();
            assert_eq!(sig.len(), 256);
            assert_eq!(verify_ikev1(&cert, &hash, &sig), Ok(()));
            let mut other_hash = hash.clone();
            other_hash[0] ^= 1;
            assert_eq!(
                verify_ikev1(&cert, &other_hash, &sig),
                Err(CertError::BadSignature)
            );
            assert_eq!(
                verify_ikev1(&cert, &hash[1..], &sig),
                Err(CertError::BadSignature)
            );
            let mut bad = sig.clone();
            bad[100] ^= 1;
            assert_eq!(
                verify_ikev1(&cert, &hash, &bad),
                Err(CertError::BadSignature)
            );
        }
    }
    let sig = key("server.key.pem").sign_ikev1(&[1; 20]).unwrap();
    assert_eq!(
        verify_ikev1(&cert("client.pem"), &[1; 20], &sig),
        Err(CertError::BadSignature)
    );
    assert_eq!(key("server.key.pem").sign_ikev1(&[]), Err(CertError::Sign));
    assert_eq!(
        key("server.key.pem").sign_ikev1(&[0; 246]),
        Err(CertError::Sign)
    );
    assert!(key("server.key.pem").sign_ikev1(&[0; 245]).is_ok());
}

/// OpenSSL's `pkeyutl -sign -pkeyopt rsa_padding_mode:pkcs1` without a digest: PKCS#1 v1.5
/// type 1 over the raw hash, no DigestInfo; what strongSwan, Windows and macOS send.
#[test]
fn known_answer_from_openssl() {
    let hash = bytes("kat-hash.bin");
    assert_eq!(hash.len(), 20);
    for (key_file, cert_file, sig_file) in [
        ("server.key.pem", "server.pem", "kat-server.sig"),
        ("client.key.pem", "client.pem", "kat-client.sig"),
    ] {
        let expected = bytes(sig_file);
        assert_eq!(
            key(key_file).sign_ikev1(&hash).unwrap(),
            expected,
            "{key_file}"
        );
        assert_eq!(verify_ikev1(&cert(cert_file), &hash, &expected), Ok(()));
    }
}

// ---- ROBUSTNESS 43: forged PKCS#1 v1.5 signatures ----

struct NoRng;

impl rsa::rand_core::TryRng for NoRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        unreachable!()
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unreachable!()
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
        unreachable!()
    }
}

impl rsa::rand_core::TryCryptoRng for NoRng {}

/// The raw private-key operation on an encoded message: a signature whose public-key
/// recovery yields exactly `em`.
fn raw_sign(key: &RsaPrivateKey, em: &[u8]) -> Vec<u8> {
    let k = key.size();
    assert_eq!(em.len(), k);
    let m = BoxedUint::from_be_slice(em, key.n_bits_precision()).unwrap();
    let s = rsa::hazmat::rsa_decrypt_and_check(key, None::<&mut NoRng>, &m).unwrap();
    let bytes = s.to_be_bytes();
    bytes[bytes.len() - k..].to_vec()
}

/// `00 01 FF.. 00 t`.
fn em(k: usize, t: &[u8]) -> Vec<u8> {
    let mut em = vec![0xff; k];
    em[0] = 0;
    em[1] = 1;
    em[k - t.len() - 1] = 0;
    em[k - t.len()..].copy_from_slice(t);
    em
}

const SHA1_DIGEST_INFO: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];

#[test]
fn forged_signatures_are_refused() {
    let key = RsaPrivateKey::from_pkcs8_pem(&text("server.key.pem")).unwrap();
    let cert = cert("server.pem");
    let k = key.size();
    let hash = bytes("kat-hash.bin");

    // The raw operation reproduces the real signature: the forgeries below differ only in EM.
    let genuine = raw_sign(&key, &em(k, &hash));
    assert_eq!(genuine, bytes("kat-server.sig"));
    assert_eq!(verify_ikev1(&cert, &hash, &genuine), Ok(()));

    let mut forgeries: Vec<(&str, Vec<u8>)> = Vec::new();
    // A DigestInfo (a PKCS#1 signature as other protocols make it) where IKEv1 has none.
    forgeries.push((
        "DigestInfo prefix",
        em(k, &[&SHA1_DIGEST_INFO[..], &hash].concat()),
    ));
    // DigestInfo with non-NULL parameters, and with bytes after the OID (CVE-2018-16151).
    let mut non_null = SHA1_DIGEST_INFO.to_vec();
    non_null[11..13].copy_from_slice(&[0x04, 0x00]);
    forgeries.push((
        "non-NULL parameters",
        em(k, &[&non_null[..], &hash].concat()),
    ));
    let after_oid = [
        &[
            0x30, 0x23, 0x30, 0x0b, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0xde, 0xad, 0x05,
            0x00, 0x04, 0x14,
        ][..],
        &hash,
    ]
    .concat();
    forgeries.push(("bytes after the OID", em(k, &after_oid)));
    // Garbage in the padding (CVE-2018-16152): one FF replaced.
    let mut garbage = em(k, &hash);
    garbage[50] = 0x42;
    forgeries.push(("garbage padding", garbage));
    // Padding cut short, the hash followed by garbage (Bleichenbacher 2006).
    let mut trailing = vec![0u8; k];
    trailing[..11].copy_from_slice(&[0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]);
    trailing[11..31].copy_from_slice(&hash);
    trailing[31..].fill(0x99);
    forgeries.push(("hash followed by garbage", trailing));
    // Fewer than 8 bytes of FF: 00 01 FF*7 00 T with T = zeros || hash.
    let mut short = vec![0u8; k];
    short[1] = 1;
    short[2..9].fill(0xff);
    short[k - 20..].copy_from_slice(&hash);
    forgeries.push(("short padding", short));
    // Block type 2 (encryption) and block type 0.
    let mut bt2 = em(k, &hash);
    bt2[1] = 2;
    forgeries.push(("block type 2", bt2));
    let mut bt0 = em(k, &hash);
    bt0[1] = 0;
    forgeries.push(("block type 0", bt0));
    // No zero separator before the hash.
    let mut no_sep = em(k, &hash);
    no_sep[k - 21] = 0xff;
    forgeries.push(("no separator", no_sep));
    // A nonzero first byte.
    let mut first = em(k, &hash);
    first[0] = 1;
    forgeries.push(("nonzero first byte", first));
    // The hash right-aligned but with a longer "hash" claimed: EM for 21 bytes (00 || hash).
    forgeries.push((
        "hash with a leading zero byte",
        em(k, &[&[0u8][..], &hash].concat()),
    ));

    for (what, forged_em) in &forgeries {
        let sig = raw_sign(&key, forged_em);
        assert_eq!(
            verify_ikev1(&cert, &hash, &sig),
            Err(CertError::BadSignature),
            "{what}"
        );
    }

    // Malformed signature values.
    let n = key.n().to_be_bytes();
    let n = n[n.len() - k..].to_vec();
    let mut one = vec![0u8; k];
    one[k - 1] = 1;
    for (what, sig) in [
        ("empty", Vec::new()),
        ("one byte short", genuine[1..].to_vec()),
        ("one byte long", [&[0u8][..], &genuine].concat()),
        ("zero", vec![0u8; k]),
        ("one", one),
        ("the modulus", n.clone()),
        ("all FF", vec![0xff; k]),
        ("signature plus modulus", add_be(&genuine, &n)),
    ] {
        assert_eq!(
            verify_ikev1(&cert, &hash, &sig),
            Err(CertError::BadSignature),
            "{what}"
        );
    }
}

/// a + b over big-endian bytes of equal length, truncated to that length if it carries.
fn add_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0u16;
    for i in (0..a.len()).rev() {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    out
}

#[test]
fn pkcs1_key_verifies_too() {
    let key = RsaPrivateKey::from_pkcs1_pem(&text("client.key.pem")).unwrap();
    let cert = cert("client.pem");
    let hash = [7u8; 32];
    let mut forged = em(key.size(), &hash);
    forged[2] = 0xfe;
    assert_eq!(
        verify_ikev1(&cert, &hash, &raw_sign(&key, &forged)),
        Err(CertError::BadSignature)
    );
    assert_eq!(
        verify_ikev1(&cert, &hash, &raw_sign(&key, &em(key.size(), &hash))),
        Ok(())
    );
}

// ---- identities ----

/// A DER Name built by hand: (OID bytes, string tag, value bytes) per single-valued RDN.
fn name_der(rdns: &[(&[u8], u8, &[u8])]) -> Vec<u8> {
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        assert!(contents.len() < 128);
        [&[tag, contents.len() as u8][..], contents].concat()
    }
    let mut seq = Vec::new();
    for (oid, tag, value) in rdns {
        let atv = tlv(0x30, &[tlv(0x06, oid), tlv(*tag, value)].concat());
        seq.extend(tlv(0x31, &atv));
    }
    tlv(0x30, &seq)
}

const OID_C: &[u8] = &[0x55, 0x04, 0x06];
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const PRINTABLE: u8 = 0x13;
const UTF8: u8 = 0x0c;
const BMP: u8 = 0x1e;

fn bmp(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

#[test]
fn id_der_asn1_dn() {
    let server = cert("server.pem");
    assert!(id_matches(&server, ID_DER_ASN1_DN, server.subject_der()));
    assert!(!id_matches(
        &server,
        ID_DER_ASN1_DN,
        cert("client.pem").subject_der()
    ));
    assert!(!id_matches(&server, ID_DER_ASN1_DN, server.issuer_der()));
    assert!(!id_matches(&server, ID_DER_ASN1_DN, &[]));
    assert!(!id_matches(&server, ID_DER_ASN1_DN, b"garbage"));
    // openssl wrote C as PrintableString and O, CN as UTF8String.
    let same = name_der(&[
        (OID_C, PRINTABLE, b"CH"),
        (OID_O, UTF8, b"sras"),
        (OID_CN, UTF8, b"sras-server"),
    ]);
    assert_eq!(same, server.subject_der());
    // Other string types, case and spacing: the same name.
    let semantic = name_der(&[
        (OID_C, PRINTABLE, b"CH"),
        (OID_O, PRINTABLE, b"SRAS"),
        (OID_CN, BMP, &bmp("sras-server")),
    ]);
    assert_ne!(semantic, server.subject_der());
    assert!(id_matches(&server, ID_DER_ASN1_DN, &semantic));
    let spaced = name_der(&[
        (OID_C, PRINTABLE, b"CH"),
        (OID_O, UTF8, b" sras "),
        (OID_CN, UTF8, b"sras-server"),
    ]);
    assert!(id_matches(&server, ID_DER_ASN1_DN, &spaced));
    // Different value, order, or count: not the same.
    let other_cn = name_der(&[
        (OID_C, PRINTABLE, b"CH"),
        (OID_O, UTF8, b"sras"),
        (OID_CN, UTF8, b"sras-serve"),
    ]);
    assert!(!id_matches(&server, ID_DER_ASN1_DN, &other_cn));
    let reordered = name_der(&[
        (OID_O, UTF8, b"sras"),
        (OID_C, PRINTABLE, b"CH"),
        (OID_CN, UTF8, b"sras-server"),
    ]);
    assert!(!id_matches(&server, ID_DER_ASN1_DN, &reordered));
    let shorter = name_der(&[(OID_C, PRINTABLE, b"CH"), (OID_CN, UTF8, b"sras-server")]);
    assert!(!id_matches(&server, ID_DER_ASN1_DN, &shorter));
    let cn_only = name_der(&[(OID_CN, UTF8, b"sras-server")]);
    assert!(!id_matches(&server, ID_DER_ASN1_DN, &cn_only));
}

#[test]
fn id_addresses_and_names() {
    let server = cert("server.pem");
    let client = cert("client.pem");
    assert!(id_matches(&server, ID_IPV4_ADDR, &[192, 0, 2, 1]));
    assert!(!id_matches(&server, ID_IPV4_ADDR, &[192, 0, 2, 3]));
    assert!(!id_matches(&server, ID_IPV4_ADDR, &[192, 0, 2]));
    assert!(id_matches(&client, ID_IPV4_ADDR, &[192, 0, 2, 3]));
    let mut v4_mapped = [0u8; 16];
    v4_mapped[10..].copy_from_slice(&[0xff, 0xff, 192, 0, 2, 1]);
    assert!(!id_matches(&server, ID_IPV6_ADDR, &v4_mapped));
    assert!(!id_matches(&server, ID_IPV6_ADDR, &[192, 0, 2, 1]));

    assert!(id_matches(&server, ID_FQDN, b"vpn.example.test"));
    assert!(id_matches(&server, ID_FQDN, b"VPN.Example.TEST"));
    assert!(id_matches(&server, ID_FQDN, b"vpn.example.test."));
    assert!(!id_matches(&server, ID_FQDN, b"vpn.example.tes"));
    assert!(!id_matches(&server, ID_FQDN, b"sras-server")); // the CN is not a dNSName
    assert!(!id_matches(&server, ID_FQDN, b""));
    assert!(!id_matches(&client, ID_FQDN, b"vpn.example.test"));

    assert!(id_matches(&client, ID_USER_FQDN, b"client@example.test"));
    assert!(id_matches(&client, ID_USER_FQDN, b"client@EXAMPLE.test"));
    assert!(!id_matches(&client, ID_USER_FQDN, b"Client@example.test"));
    assert!(!id_matches(&client, ID_USER_FQDN, b"example.test"));
    assert!(!id_matches(&server, ID_USER_FQDN, b"client@example.test"));

    // Other ID types: subnets (4), ranges (7), KEY_ID (11), and unknown.
    for id_type in [0, 4, 6, 7, 8, 10, 11, 12, 255] {
        assert!(!id_matches(&server, id_type, &[192, 0, 2, 1]), "{id_type}");
        assert!(
            !id_matches(&server, id_type, server.subject_der()),
            "{id_type}"
        );
    }
}

// ---- the cache ----

#[test]
fn cache_hits_and_revalidates() {
    let store = store();
    let mut cache = CertCache::new(4);
    let im = [cert("intermediate.pem").der().to_vec()];
    let server = cert("server.pem");
    assert_eq!(
        cache.get_or_validate(&store, server.der(), &im, NOW),
        Ok(server.clone())
    );
    assert_eq!(cache.len(), 1);
    // A hit needs no intermediates: the path was proven.
    let none: [&[u8]; 0] = [];
    assert_eq!(
        cache.get_or_validate(&store, server.der(), &none, NOW),
        Ok(server.clone())
    );
    assert_eq!(cache.len(), 1);
    // Outside the path's validity the cached entry does not count.
    assert_eq!(
        cache.get_or_validate(&store, server.der(), &im, LATER),
        Err(CertError::Expired)
    );
    // Failures are not cached.
    assert_eq!(
        cache.get_or_validate(&store, cert("expired.pem").der(), &im, NOW),
        Err(CertError::Expired)
    );
    assert_eq!(
        cache.get_or_validate(&store, b"junk", &im, NOW),
        Err(CertError::Parse)
    );
    assert!(cache.len() <= 1);
    // Another store forgets what the first validated.
    let other = TrustStore::new(vec![cert("other-ca.pem")]);
    assert_eq!(
        cache.get_or_validate(&other, server.der(), &none, NOW),
        Err(CertError::UnknownIssuer)
    );
    assert!(cache.is_empty());
    // Unparsable intermediates are skipped.
    let intermediate = cert("intermediate.pem");
    let mixed: [&[u8]; 2] = [b"junk", intermediate.der()];
    assert_eq!(
        cache.get_or_validate(&store, server.der(), &mixed, NOW),
        Ok(server)
    );
    cache.clear();
    assert!(cache.is_empty());
    // Capacity 0 validates without caching.
    let mut off = CertCache::new(0);
    assert!(off
        .get_or_validate(&store, cert("client.pem").der(), &im, NOW)
        .is_ok());
    assert!(off.is_empty());
}

/// ROBUSTNESS 43: a flood of distinct, valid certificates leaves the cache at its capacity.
/// The certificates are ec-leaf.pem with a new serial number, re-signed by the ECDSA CA
/// (cheap signatures), so every one of them validates and is inserted.
#[test]
fn cache_is_bounded_under_a_flood() {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    let ca_key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pem_der("ec-ca.key.pem"))
            .unwrap();
    let rng = SystemRandom::new();
    let template = cert("ec-leaf.pem").der().to_vec();
    let (tbs, alg) = split_certificate(&template);
    let serial_end = serial_end(tbs);

    let store = TrustStore::new(vec![cert("ec-ca.pem")]);
    let mut cache = CertCache::new(64);
    let none: [&[u8]; 0] = [];
    let mut seen = std::collections::HashSet::new();
    for i in 0u32..10_000 {
        let mut tbs = tbs.to_vec();
        tbs[serial_end - 4..serial_end].copy_from_slice(&i.to_be_bytes());
        let sig = ca_key.sign(&rng, &tbs).unwrap();
        let bit_string = der_tlv(0x03, &[&[0u8][..], sig.as_ref()].concat());
        let der = der_tlv(0x30, &[&tbs[..], alg, &bit_string].concat());
        let validated = cache.get_or_validate(&store, &der, &none, NOW).unwrap();
        assert!(seen.insert(*validated.fingerprint()));
        assert!(cache.len() <= cache.capacity());
    }
    assert_eq!(cache.len(), 64);
}

fn der_tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(contents);
    out
}

/// (header length, contents length) of the element at the start of `der`.
fn header(der: &[u8]) -> (usize, usize) {
    match der[1] {
        n if n < 0x80 => (2, usize::from(n)),
        0x81 => (3, usize::from(der[2])),
        0x82 => (4, usize::from(der[2]) << 8 | usize::from(der[3])),
        _ => panic!("unexpected length"),
    }
}

/// The TBSCertificate element and the signatureAlgorithm element of a certificate.
fn split_certificate(der: &[u8]) -> (&[u8], &[u8]) {
    let (h, _) = header(der);
    let body = &der[h..];
    let (th, tl) = header(body);
    let tbs = &body[..th + tl];
    let rest = &body[th + tl..];
    let (ah, al) = header(rest);
    (tbs, &rest[..ah + al])
}

/// The end offset of the serialNumber's contents inside a TBSCertificate.
fn serial_end(tbs: &[u8]) -> usize {
    let (h, _) = header(tbs);
    let mut at = h;
    assert_eq!(tbs[at], 0xa0);
    let (vh, vl) = header(&tbs[at..]);
    at += vh + vl;
    assert_eq!(tbs[at], 0x02);
    let (sh, sl) = header(&tbs[at..]);
    assert!(sl >= 5);
    at + sh + sl
}
