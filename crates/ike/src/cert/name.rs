//! Distinguished Names (RFC 5280 §4.1.2.4): the log form and the comparison of an
//! `ID_DER_ASN1_DN` identity with a certificate's subject.

use std::fmt::Write as _;

use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Tag, Tagged};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::Name;

const SHORT_NAMES: &[(Oid, &str)] = &[
    (Oid::new_unwrap("2.5.4.3"), "CN"),
    (Oid::new_unwrap("2.5.4.4"), "SN"),
    (Oid::new_unwrap("2.5.4.5"), "serialNumber"),
    (Oid::new_unwrap("2.5.4.6"), "C"),
    (Oid::new_unwrap("2.5.4.7"), "L"),
    (Oid::new_unwrap("2.5.4.8"), "ST"),
    (Oid::new_unwrap("2.5.4.9"), "street"),
    (Oid::new_unwrap("2.5.4.10"), "O"),
    (Oid::new_unwrap("2.5.4.11"), "OU"),
    (Oid::new_unwrap("2.5.4.12"), "title"),
    (Oid::new_unwrap("2.5.4.17"), "postalCode"),
    (Oid::new_unwrap("2.5.4.42"), "GN"),
    (Oid::new_unwrap("2.5.4.46"), "dnQualifier"),
    (Oid::new_unwrap("0.9.2342.19200300.100.1.1"), "UID"),
    (Oid::new_unwrap("0.9.2342.19200300.100.1.25"), "DC"),
    (Oid::new_unwrap("1.2.840.113549.1.9.1"), "E"),
];

/// `C=CH, O=sras, CN=server`: RDNs in certificate order, multi-valued ones joined with `+`,
/// control characters replaced so that a peer's name cannot forge log lines.
pub(super) fn to_string(name: &Name) -> String {
    let mut out = String::new();
    for (i, rdn) in name.iter_rdn().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            match SHORT_NAMES.iter().find(|(oid, _)| *oid == atv.oid) {
                Some((_, short)) => out.push_str(short),
                None => {
                    let _ = write!(out, "{}", atv.oid);
                }
            }
            out.push('=');
            match value_string(atv) {
                Some(s) => out.extend(s.chars().map(|c| if c.is_control() { '?' } else { c })),
                None => {
                    out.push('#');
                    for b in atv.value.value() {
                        let _ = write!(out, "{b:02x}");
                    }
                }
            }
        }
    }
    out
}

/// The text of a directory string value (RFC 5280 §4.1.2.4), whatever its string type.
fn value_string(atv: &AttributeTypeAndValue) -> Option<String> {
    let bytes = atv.value.value();
    match atv.value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            std::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        // T.61 in theory; Latin-1 in practice.
        Tag::TeletexString => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

/// Whether two attribute values are the same for matching (a simplified RFC 4518): the same
/// text whatever the string type, ASCII case and runs of spaces ignored; other values byte for
/// byte.
fn values_match(a: &AttributeTypeAndValue, b: &AttributeTypeAndValue) -> bool {
    if a.oid != b.oid {
        return false;
    }
    match (value_string(a), value_string(b)) {
        (Some(x), Some(y)) => {
            let mut x = x.split_whitespace();
            let mut y = y.split_whitespace();
            loop {
                match (x.next(), y.next()) {
                    (None, None) => return true,
                    (Some(p), Some(q)) if p.eq_ignore_ascii_case(q) => {}
                    _ => return false,
                }
            }
        }
        _ => a.value == b.value,
    }
}

/// Whether the DER Names `a` and `b` are the same name: equal bytes, or the same RDNs in the
/// same order with matching values (RFC 5280 §7.1, simplified).
pub(super) fn same_name(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let (Ok(a), Ok(b)) = (Name::from_der(a), Name::from_der(b)) else {
        return false;
    };
    a.iter_rdn().count() == b.iter_rdn().count()
        && a.iter_rdn().zip(b.iter_rdn()).all(|(x, y)| {
            x.len() == y.len()
                && x.iter()
                    .all(|atv| y.iter().any(|other| values_match(atv, other)))
        })
}
