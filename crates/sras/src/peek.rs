//! A read-only look at L2TP headers (RFC 2661 §3.1) for the daemon's own bookkeeping.
//!
//! The endpoint owns all protocol decisions; this module only reads a few header fields so the
//! daemon can log the local Tunnel ID (which the endpoint's events do not carry) and tell when
//! the StopCCN it asked for at shut-down has been acknowledged (RFC 2661 §5.8: its Ns is covered
//! by a later Nr from the peer). Nothing here is trusted for anything but logs and the decision
//! to stop waiting: a wrong answer costs at most the 3 s grace period.

use sras_core::Seq16;
use sras_l2tp::TunnelId;

/// Flag bits of the first header word (RFC 2661 §3.1).
const FLAG_T: u16 = 0x8000;
const FLAG_L: u16 = 0x4000;
const FLAG_S: u16 = 0x0800;
const FLAG_O: u16 = 0x0200;
const VERSION_MASK: u16 = 0x000f;
/// AVP header bits (RFC 2661 §4.1).
const AVP_HIDDEN: u16 = 0x4000;
const AVP_LEN_MASK: u16 = 0x03ff;

/// Message Type values the daemon cares about (RFC 2661 §3.2).
pub(crate) const SCCRQ: u16 = 1;
/// Stop-Control-Connection-Notification.
pub(crate) const STOPCCN: u16 = 4;

/// What the header of an L2TP datagram says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peek {
    /// A control message (T bit) rather than data.
    pub(crate) control: bool,
    /// The Tunnel ID field: the receiver's ID for the tunnel.
    pub(crate) tunnel_id: TunnelId,
    /// Ns and Nr, when present (always in control messages).
    pub(crate) ns_nr: Option<(Seq16, Seq16)>,
    /// The Message Type AVP value of a control message; `None` for a ZLB or data.
    pub(crate) message_type: Option<u16>,
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

/// Reads the header of `d`; `None` if it is not an L2TPv2 header.
pub(crate) fn peek(d: &[u8]) -> Option<Peek> {
    let flags = be16(d, 0)?;
    if flags & VERSION_MASK != 2 {
        return None;
    }
    let control = flags & FLAG_T != 0;
    let mut at = 2;
    if flags & FLAG_L != 0 {
        at += 2;
    }
    let tunnel_id = TunnelId(be16(d, at)?);
    at += 4; // Tunnel ID, Session ID
    let ns_nr = if flags & FLAG_S != 0 {
        let ns = be16(d, at)?;
        let nr = be16(d, at + 2)?;
        at += 4;
        Some((Seq16(ns), Seq16(nr)))
    } else {
        None
    };
    if flags & FLAG_O != 0 {
        at += 2 + usize::from(be16(d, at)?);
    }
    // The first AVP of a control message is the Message Type (§3.2), never hidden.
    let message_type = if control {
        match (be16(d, at), be16(d, at + 2), be16(d, at + 4)) {
            (Some(h), Some(0), Some(0)) if h & AVP_HIDDEN == 0 && h & AVP_LEN_MASK == 8 => {
                be16(d, at + 6)
            }
            _ => None,
        }
    } else {
        None
    };
    Some(Peek {
        control,
        tunnel_id,
        ns_nr,
        message_type,
    })
}

/// Whether `nr` from the peer acknowledges our message numbered `ns` (§5.8: Nr is the next
/// Ns the peer expects, so it acknowledges everything before it).
pub(crate) fn acknowledges(nr: Seq16, ns: Seq16) -> bool {
    nr.is_after(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A StopCCN header: T, L, S set, version 2; length 20; tunnel 0x1234, session 0; Ns 3, Nr 5;
    /// then the Message Type AVP (M bit, length 8, vendor 0, type 0, value 4).
    const STOPCCN_MSG: [u8; 20] = [
        0xc8, 0x02, 0x00, 0x14, 0x12, 0x34, 0x00, 0x00, 0x00, 0x03, 0x00, 0x05, 0x80, 0x08, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x04,
    ];

    #[test]
    fn control_message() {
        let p = peek(&STOPCCN_MSG).unwrap();
        assert!(p.control);
        assert_eq!(p.tunnel_id, TunnelId(0x1234));
        assert_eq!(p.ns_nr, Some((Seq16(3), Seq16(5))));
        assert_eq!(p.message_type, Some(STOPCCN));
    }

    #[test]
    fn zlb_and_truncation() {
        let p = peek(&STOPCCN_MSG[..12]).unwrap();
        assert_eq!(p.message_type, None);
        assert_eq!(p.ns_nr, Some((Seq16(3), Seq16(5))));
        for n in 0..11 {
            let p = peek(&STOPCCN_MSG[..n]);
            assert!(p.is_none(), "{n}: {p:?}");
        }
    }

    #[test]
    fn data_message_and_other_versions() {
        // Data: no flags but version 2; tunnel 7, session 9, then a PPP frame.
        let p = peek(&[0x00, 0x02, 0x00, 0x07, 0x00, 0x09, 0xff, 0x03]).unwrap();
        assert!(!p.control);
        assert_eq!(p.tunnel_id, TunnelId(7));
        assert_eq!(p.ns_nr, None);
        // Offset present: skipped.
        let p = peek(&[0x02, 0x02, 0x00, 0x07, 0x00, 0x09, 0x00, 0x01, 0x00]).unwrap();
        assert_eq!(p.tunnel_id, TunnelId(7));
        // L2TPv3 (version 3) and L2F (version 1) are not ours.
        assert!(peek(&[0xc8, 0x03, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0]).is_none());
        assert!(peek(&[0xc8, 0x01, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0]).is_none());
    }

    #[test]
    fn hidden_first_avp_is_not_a_message_type() {
        let mut m = STOPCCN_MSG;
        m[12] |= 0x40;
        assert_eq!(peek(&m).unwrap().message_type, None);
    }

    #[test]
    fn acknowledgement_wraps() {
        assert!(acknowledges(Seq16(4), Seq16(3)));
        assert!(!acknowledges(Seq16(3), Seq16(3)));
        assert!(acknowledges(Seq16(0), Seq16(65535)));
        assert!(!acknowledges(Seq16(65535), Seq16(0)));
    }
}
