//! Known Vendor ID payload values (RFC 2408 §3.16), as sent on the wire.
//!
//! Values checked against strongSwan's `src/libcharon/sa/ikev1/tasks/isakmp_vendor.c`. Most
//! are the MD5 of a string, given in each doc comment. Some carry a version or capability
//! suffix: compare those by prefix ([`describe`] does).

/// NAT-Traversal, RFC 3947 §3.1: MD5("RFC 3947").
pub const RFC3947: &[u8] = &[
    0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f,
];

/// NAT-T draft 03: MD5("draft-ietf-ipsec-nat-t-ike-03").
pub const NAT_T_DRAFT_03: &[u8] = &[
    0x7d, 0x94, 0x19, 0xa6, 0x53, 0x10, 0xca, 0x6f, 0x2c, 0x17, 0x9d, 0x92, 0x15, 0x52, 0x9d, 0x56,
];

/// NAT-T draft 02: MD5("draft-ietf-ipsec-nat-t-ike-02").
pub const NAT_T_DRAFT_02: &[u8] = &[
    0xcd, 0x60, 0x46, 0x43, 0x35, 0xdf, 0x21, 0xf8, 0x7c, 0xfd, 0xb2, 0xfc, 0x68, 0xb6, 0xa4, 0x48,
];

/// NAT-T draft 02 with a trailing newline: MD5("draft-ietf-ipsec-nat-t-ike-02\n") (sent by
/// Windows and Mac OS X among others).
pub const NAT_T_DRAFT_02_N: &[u8] = &[
    0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e, 0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b, 0x1f,
];

/// NAT-T draft 00: MD5("draft-ietf-ipsec-nat-t-ike-00").
pub const NAT_T_DRAFT_00: &[u8] = &[
    0x44, 0x85, 0x15, 0x2d, 0x18, 0xb6, 0xbb, 0xcd, 0x0b, 0xe8, 0xa8, 0x46, 0x95, 0x79, 0xdd, 0xcc,
];

/// Dead Peer Detection, RFC 3706 §5.1 (the last two bytes are the version, 1.0).
pub const DPD: &[u8] = &[
    0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00,
];

/// The first 16 bytes of the IKE fragmentation vendor ID (Cisco, also sent by Windows).
pub const FRAGMENTATION_PREFIX: &[u8] = &[
    0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3,
];

/// IKE fragmentation as strongSwan sends it: [`FRAGMENTATION_PREFIX`] and a 4-byte
/// capability word 0x80000000 (fragmentation of Main and Aggressive Mode messages). Windows
/// sends the 16-byte prefix alone; both forms mean support ([`supports_fragmentation`]).
pub const FRAGMENTATION: &[u8] = &[
    0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3,
    0x80, 0x00, 0x00, 0x00,
];

/// Capability bit of [`FRAGMENTATION`]: fragmentation of Main and Aggressive Mode messages.
const FRAGMENTATION_IKE: u32 = 0x8000_0000;

/// Microsoft Windows: MD5("MS NT5 ISAKMPOAKLEY") followed by a 4-byte version (e.g. 9 for
/// Windows 8 and later). Compare by prefix.
pub const MS_NT5_ISAKMPOAKLEY: &[u8] = &[
    0x1e, 0x2b, 0x51, 0x69, 0x05, 0x99, 0x1c, 0x7d, 0x7c, 0x96, 0xfc, 0xbf, 0xb5, 0x87, 0xe4, 0x61,
];

/// XAUTH: the first 8 bytes of MD5("draft-ietf-ipsra-isakmp-xauth-06.txt").
pub const XAUTH: &[u8] = &[0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12];

/// Cisco Unity, version 1.0 (the last two bytes are the version). Compare the first 14 bytes.
pub const CISCO_UNITY: &[u8] = &[
    0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9, 0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00,
];

/// strongSwan: MD5("strongSwan").
pub const STRONGSWAN: &[u8] = &[
    0x88, 0x2f, 0xe5, 0x6d, 0x6f, 0xd2, 0x0d, 0xbc, 0x22, 0x51, 0x61, 0x3b, 0x2e, 0xbe, 0x5b, 0xeb,
];

/// The NAT-T variants a peer may announce, best first (RFC 3947, then the drafts).
pub const NAT_T: &[&[u8]] = &[RFC3947, NAT_T_DRAFT_03, NAT_T_DRAFT_02, NAT_T_DRAFT_02_N];

/// Which NAT traversal a Vendor ID announces (RFC 3947 §3.1 and its drafts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NatTraversal {
    /// RFC 3947: NAT-D = 20, NAT-OA = 21, encapsulation modes 3/4.
    Rfc3947,
    /// draft-ietf-ipsec-nat-t-ike-02/03: NAT-D = 130, NAT-OA = 131, modes 61443/61444.
    Draft,
}

/// The NAT traversal variant `vid` announces, if any. Only RFC 3947 and drafts 02/03 are
/// usable (earlier drafts used other formats).
pub fn nat_traversal(vid: &[u8]) -> Option<NatTraversal> {
    if vid == RFC3947 {
        Some(NatTraversal::Rfc3947)
    } else if vid == NAT_T_DRAFT_03 || vid == NAT_T_DRAFT_02 || vid == NAT_T_DRAFT_02_N {
        Some(NatTraversal::Draft)
    } else {
        None
    }
}

/// Whether `vid` announces IKE fragmentation: the 16-byte prefix alone (Windows), or with a
/// capability word that has the Main/Aggressive Mode bit (0x80000000) set.
pub fn supports_fragmentation(vid: &[u8]) -> bool {
    match vid.split_at_checked(FRAGMENTATION_PREFIX.len()) {
        Some((p, rest)) if p == FRAGMENTATION_PREFIX => match <[u8; 4]>::try_from(rest) {
            Ok(w) => u32::from_be_bytes(w) & FRAGMENTATION_IKE != 0,
            Err(_) => rest.is_empty(),
        },
        _ => false,
    }
}

/// Whether `vid` announces DPD (RFC 3706 §5.1).
pub fn supports_dpd(vid: &[u8]) -> bool {
    vid == DPD
}

/// A name for a known Vendor ID, for logging; `None` for an unknown one.
pub fn describe(vid: &[u8]) -> Option<&'static str> {
    const EXACT: &[(&[u8], &str)] = &[
        (RFC3947, "NAT-T (RFC 3947)"),
        (NAT_T_DRAFT_03, "draft-ietf-ipsec-nat-t-ike-03"),
        (NAT_T_DRAFT_02, "draft-ietf-ipsec-nat-t-ike-02"),
        (NAT_T_DRAFT_02_N, "draft-ietf-ipsec-nat-t-ike-02\\n"),
        (NAT_T_DRAFT_00, "draft-ietf-ipsec-nat-t-ike-00"),
        (DPD, "DPD (RFC 3706)"),
        (XAUTH, "XAUTH"),
        (STRONGSWAN, "strongSwan"),
    ];
    const PREFIX: &[(&[u8], &str)] = &[
        (FRAGMENTATION_PREFIX, "FRAGMENTATION"),
        (MS_NT5_ISAKMPOAKLEY, "MS NT5 ISAKMPOAKLEY"),
    ];
    if let Some((_, name)) = EXACT.iter().find(|(v, _)| *v == vid) {
        return Some(name);
    }
    if let Some((_, name)) = PREFIX.iter().find(|(p, _)| vid.starts_with(p)) {
        return Some(name);
    }
    if vid.len() == CISCO_UNITY.len() && vid.starts_with(&CISCO_UNITY[..14]) {
        return Some("Cisco Unity");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes() {
        assert_eq!(describe(RFC3947), Some("NAT-T (RFC 3947)"));
        assert_eq!(describe(DPD), Some("DPD (RFC 3706)"));
        let mut ms = MS_NT5_ISAKMPOAKLEY.to_vec();
        ms.extend_from_slice(&[0, 0, 0, 9]);
        assert_eq!(describe(&ms), Some("MS NT5 ISAKMPOAKLEY"));
        assert_eq!(describe(FRAGMENTATION), Some("FRAGMENTATION"));
        assert_eq!(describe(CISCO_UNITY), Some("Cisco Unity"));
        assert_eq!(describe(&[0; 16]), None);
        assert_eq!(describe(&[]), None);
    }

    #[test]
    fn capabilities() {
        assert!(supports_fragmentation(FRAGMENTATION));
        assert!(supports_fragmentation(FRAGMENTATION_PREFIX));
        let mut no = FRAGMENTATION_PREFIX.to_vec();
        no.extend_from_slice(&[0x40, 0, 0, 0]);
        assert!(!supports_fragmentation(&no));
        assert!(!supports_fragmentation(&FRAGMENTATION[..10]));
        assert_eq!(nat_traversal(RFC3947), Some(NatTraversal::Rfc3947));
        assert_eq!(nat_traversal(NAT_T_DRAFT_02_N), Some(NatTraversal::Draft));
        assert_eq!(nat_traversal(NAT_T_DRAFT_00), None);
        assert!(supports_dpd(DPD));
        assert!(NatTraversal::Rfc3947 < NatTraversal::Draft);
    }
}
