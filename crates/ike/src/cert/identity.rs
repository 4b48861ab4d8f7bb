//! Does the peer's ID payload (RFC 2407 §4.6.2) name its certificate?
//!
//! RFC 2409 §5.1 authenticates the ID payload with the signature; the certificate must then
//! vouch for that identity, or a peer with any valid certificate could claim any identity.

use super::{name, AltName, Certificate};

/// `ID_IPV4_ADDR` (RFC 2407 §4.6.2.1): four bytes.
pub const ID_IPV4_ADDR: u8 = 1;
/// `ID_FQDN`: a domain name, no terminator.
pub const ID_FQDN: u8 = 2;
/// `ID_USER_FQDN`: `user@domain`.
pub const ID_USER_FQDN: u8 = 3;
/// `ID_IPV6_ADDR`: sixteen bytes.
pub const ID_IPV6_ADDR: u8 = 5;
/// `ID_DER_ASN1_DN`: the DER of an X.500 Distinguished Name.
pub const ID_DER_ASN1_DN: u8 = 9;

/// Whether the identity `(id_type, id_data)` of an ID payload (RFC 2407 §4.6.2) names `cert`:
///
/// - `ID_DER_ASN1_DN` (9): the subject, byte for byte, or the same RDNs with the same text
///   values whatever their string types (ASCII case and repeated spaces ignored);
/// - `ID_IPV4_ADDR` (1) / `ID_IPV6_ADDR` (5): an iPAddress subjectAltName;
/// - `ID_FQDN` (2): a dNSName subjectAltName, ASCII case ignored, a trailing dot tolerated;
/// - `ID_USER_FQDN` (3): an rfc822Name subjectAltName (the domain part's case ignored).
///
/// Any other type (subnets, ranges, KEY_ID) is `false`.
#[must_use]
pub fn id_matches(cert: &Certificate, id_type: u8, id_data: &[u8]) -> bool {
    match id_type {
        ID_DER_ASN1_DN => !id_data.is_empty() && name::same_name(cert.subject_der(), id_data),
        ID_IPV4_ADDR | ID_IPV6_ADDR => {
            let len = if id_type == ID_IPV4_ADDR { 4 } else { 16 };
            id_data.len() == len
                && cert
                    .alt_names()
                    .iter()
                    .any(|n| matches!(n, AltName::Ip(ip) if ip == id_data))
        }
        ID_FQDN => {
            let Ok(fqdn) = std::str::from_utf8(id_data) else {
                return false;
            };
            let fqdn = fqdn.strip_suffix('.').unwrap_or(fqdn);
            !fqdn.is_empty()
                && cert.alt_names().iter().any(|n| match n {
                    AltName::Dns(dns) => dns
                        .strip_suffix('.')
                        .unwrap_or(dns)
                        .eq_ignore_ascii_case(fqdn),
                    _ => false,
                })
        }
        ID_USER_FQDN => {
            let Ok(user) = std::str::from_utf8(id_data) else {
                return false;
            };
            cert.alt_names().iter().any(|n| match n {
                AltName::Email(email) => same_mailbox(email, user),
                _ => false,
            })
        }
        _ => false,
    }
}

/// Which of the certificates a peer sent is its own: the first that is not a CA and matches
/// its ID payload, else the first that is not a CA, else the first (RFC 2408 §3.9 sets no
/// order; most peers send the end entity first, a PKCS#7 container may hold it anywhere).
/// `None` for an empty list. The others are the intermediates for [`super::TrustStore::validate`].
#[must_use]
pub fn end_entity_index(certs: &[Certificate], id_type: u8, id_data: &[u8]) -> Option<usize> {
    certs
        .iter()
        .position(|c| !c.is_ca() && id_matches(c, id_type, id_data))
        .or_else(|| certs.iter().position(|c| !c.is_ca()))
        .or_else(|| (!certs.is_empty()).then_some(0))
}

/// RFC 5280 §7.5: the local part is compared exactly, the host part without case.
fn same_mailbox(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((local_a, host_a)), Some((local_b, host_b))) => {
            !local_a.is_empty() && local_a == local_b && host_a.eq_ignore_ascii_case(host_b)
        }
        _ => false,
    }
}
