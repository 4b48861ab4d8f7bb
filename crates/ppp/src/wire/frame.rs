//! The PPP frame as L2TP carries it (RFC 2661 §5.4 carries "PPP frames" without HDLC flags,
//! transparency or FCS): the optional Address and Control fields (RFC 1662 §3.2), the
//! Protocol field (RFC 1661 §2, compressible per §6.5) and the Information field.
//!
//! ```text
//! +----------+----------+----------+-------------+---------+
//! | Address  | Control  | Protocol | Information | Padding |
//! |   0xff   |   0x03   | 8/16 bits|      *      |    *    |
//! +----------+----------+----------+-------------+---------+
//!  (absent under ACFC)     (8 bits under PFC)
//! ```

use super::WireError;

/// The Address field value (RFC 1662 §3.1: "All-Stations address").
pub const ADDRESS: u8 = 0xff;
/// The Control field value (RFC 1662 §3.1: Unnumbered Information).
pub const CONTROL: u8 = 0x03;
/// The longest frame header: Address, Control and a two-octet Protocol.
pub const MAX_FRAME_HEADER_LEN: usize = 4;

sras_core::wire_enum! {
    /// PPP protocol numbers (RFC 1661 §2, IANA "PPP DLL Protocol Numbers").
    pub enum Protocol(u16) {
        /// Internet Protocol version 4 (RFC 1332 §2).
        Ipv4 = 0x0021,
        /// Internet Protocol version 6 (RFC 5072 §3).
        Ipv6 = 0x0057,
        /// Van Jacobson compressed TCP/IP (RFC 1332 §4).
        VjCompressed = 0x002d,
        /// Van Jacobson uncompressed TCP/IP (RFC 1332 §4).
        VjUncompressed = 0x002f,
        /// Multilink PPP (RFC 1990).
        Mp = 0x003d,
        /// Link Control Protocol (RFC 1661 §5).
        Lcp = 0xc021,
        /// Password Authentication Protocol (RFC 1334 §2).
        Pap = 0xc023,
        /// Link Quality Report (RFC 1989).
        Lqr = 0xc025,
        /// Bandwidth Allocation Control Protocol (RFC 2125).
        Bacp = 0xc02b,
        /// Challenge Handshake Authentication Protocol (RFC 1994 §4).
        Chap = 0xc223,
        /// Extensible Authentication Protocol (RFC 3748 §4, RFC 2284).
        Eap = 0xc227,
        /// IP Control Protocol (RFC 1332 §2).
        Ipcp = 0x8021,
        /// IPv6 Control Protocol (RFC 5072 §3).
        Ipv6cp = 0x8057,
        /// Compression Control Protocol (RFC 1962 §2).
        Ccp = 0x80fd,
        /// Encryption Control Protocol (RFC 1968).
        Ecp = 0x8053,
        /// IPX Control Protocol (RFC 1552).
        Ipxcp = 0x802b,
    }
}

impl Protocol {
    /// A network-layer datagram: values 0x0xxx to 0x3xxx (RFC 1661 §2).
    pub const fn is_network(self) -> bool {
        self.value() < 0x4000
    }

    /// A control protocol: an NCP (0x8xxx to 0xbxxx) or a link-layer control protocol
    /// (0xcxxx to 0xfxxx) (RFC 1661 §2). All of them use the Code/Identifier/Length packet
    /// format of §5 (PAP, CHAP and EAP included).
    pub const fn is_control(self) -> bool {
        self.value() >= 0x8000
    }

    /// A Network Control Protocol: values 0x8xxx to 0xbxxx (RFC 1661 §2).
    pub const fn is_ncp(self) -> bool {
        matches!(self.value(), 0x8000..=0xbfff)
    }

    /// A link-layer control protocol (LCP, PAP, CHAP, EAP, ...): 0xcxxx to 0xfxxx (RFC 1661 §2).
    pub const fn is_link_control(self) -> bool {
        self.value() >= 0xc000
    }

    /// Whether the value obeys RFC 1661 §2 ("the least significant bit of the least
    /// significant octet MUST equal 1 ... the least significant bit of the most significant
    /// octet equals 0") and is not the reserved 0x00ff (RFC 1662 §3.2).
    pub const fn is_valid(self) -> bool {
        let v = self.value();
        v & 0x0001 == 1 && v & 0x0100 == 0 && v != 0x00ff
    }

    /// Whether this protocol may be sent with a one-octet protocol field under PFC: values
    /// below 0x100 (RFC 1661 §6.5).
    pub const fn is_compressible(self) -> bool {
        self.value() < 0x100
    }
}

/// Parses a PPP frame as carried in L2TP (RFC 2661 §5.4, RFC 1662 §3.2, RFC 1661 §2, §6.5).
///
/// If the frame starts with 0xff 0x03 these are the Address and Control fields and are
/// skipped; otherwise they were compressed away (ACFC, RFC 1662 §3.2: "If not, it is assumed
/// that the fields were compressed"). The Protocol field is one octet when its first octet is
/// odd (PFC, RFC 1661 §6.5), else two. Returns the protocol and the Information field,
/// padding included (each protocol tells its padding apart, §2).
///
/// Both forms are accepted whether or not ACFC or PFC was negotiated (§6.5: "MUST NOT
/// distinguish between them"); the link may discard what it did not negotiate (§6.6 MAY).
///
/// Errors: no protocol field: [`WireError::Truncated`]; a value with an even low octet, or
/// the reserved 0x00ff: [`WireError::BadProtocol`], with the offset of the Information field
/// for a Protocol-Reject.
pub fn parse_frame(frame: &[u8]) -> Result<(Protocol, &[u8]), WireError> {
    //= https://www.rfc-editor.org/rfc/rfc1662#section-3.2
    //# On reception, the Address and Control fields are decompressed by
    //# examining the first two octets.  If they contain the values 0xff
    //# and 0x03, they are assumed to be the Address and Control fields.
    let start = if frame.starts_with(&[ADDRESS, CONTROL]) {
        2
    } else {
        0
    };
    let rest = &frame[start..];
    let (value, len) = match *rest {
        [] => {
            return Err(WireError::Truncated {
                needed: 1,
                remaining: 0,
            })
        }
        //= https://www.rfc-editor.org/rfc/rfc1661#section-6.5
        //# When negotiated, PPP
        //# implementations MUST accept PPP packets with either double-octet
        //# or single-octet Protocol fields
        [first, ..] if first & 1 == 1 => (u16::from(first), 1),
        [_] => {
            return Err(WireError::Truncated {
                needed: 2,
                remaining: 1,
            })
        }
        [hi, lo, ..] => (u16::from_be_bytes([hi, lo]), 2),
    };
    let protocol = Protocol::from(value);
    let offset = start + len;
    //= https://www.rfc-editor.org/rfc/rfc1661#section-2
    //# Frames received which don't comply with these rules MUST be
    //# treated as having an unrecognized Protocol.
    if !protocol.is_valid() {
        return Err(WireError::BadProtocol {
            protocol: value,
            offset,
        });
    }
    Ok((protocol, &frame[offset..]))
}

/// Whether the Address and Control fields are sent: always for LCP (RFC 1661 §6.6: "MUST NOT
/// be compressed when sending any LCP packet"), else unless `acfc`.
const fn sends_address_control(protocol: Protocol, acfc: bool) -> bool {
    !acfc || matches!(protocol, Protocol::Lcp)
}

/// Whether the Protocol field is sent as one octet: under `pfc` for values below 0x100 only
/// (RFC 1661 §6.5; LCP, 0xc021, is never compressed).
const fn sends_short_protocol(protocol: Protocol, pfc: bool) -> bool {
    pfc && protocol.is_compressible()
}

/// Length of the frame header for sending `protocol`: the Address and Control fields unless
/// `acfc` (never omitted for LCP, RFC 1661 §6.6), then the Protocol field, one octet under
/// `pfc` for values below 0x100 (§6.5), else two.
pub const fn frame_header_len(protocol: Protocol, acfc: bool, pfc: bool) -> usize {
    (if sends_address_control(protocol, acfc) {
        2
    } else {
        0
    }) + if sends_short_protocol(protocol, pfc) {
        1
    } else {
        2
    }
}

/// Writes the frame header of [`frame_header_len`] into `dst[..len]` without allocating (the
/// IP data path) and returns `len`; [`WireError::Truncated`] if `dst` is shorter.
pub fn write_frame_header(
    protocol: Protocol,
    acfc: bool,
    pfc: bool,
    dst: &mut [u8],
) -> Result<usize, WireError> {
    let n = frame_header_len(protocol, acfc, pfc);
    let Some(dst) = dst.get_mut(..n) else {
        return Err(WireError::Truncated {
            needed: n,
            remaining: dst.len(),
        });
    };
    let mut header = [0u8; MAX_FRAME_HEADER_LEN];
    let mut k = 0;
    if sends_address_control(protocol, acfc) {
        header[..2].copy_from_slice(&[ADDRESS, CONTROL]);
        k = 2;
    }
    let value = protocol.value().to_be_bytes();
    if sends_short_protocol(protocol, pfc) {
        header[k] = value[1];
    } else {
        header[k..k + 2].copy_from_slice(&value);
    }
    dst.copy_from_slice(&header[..n]);
    Ok(n)
}

/// Appends a whole frame: the header of [`write_frame_header`], then `information`.
pub fn encode_frame(
    protocol: Protocol,
    acfc: bool,
    pfc: bool,
    information: &[u8],
    out: &mut Vec<u8>,
) {
    let at = out.len();
    let n = frame_header_len(protocol, acfc, pfc);
    out.resize(at + n, 0);
    // Cannot fail: exactly `n` bytes were just made available.
    let _ = write_frame_header(protocol, acfc, pfc, &mut out[at..]);
    out.extend_from_slice(information);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The LCP Configure-Request frame of
    /// `/work/shared/peers/pcap/loopback-l2tp-ppp-esp-malformed.pcap` (frame 2, the L2TP data
    /// payload): ff 03, protocol c021, Configure-Request id 1 length 14, MRU 1500,
    /// Magic-Number 0x438be36f.
    const LCP_FRAME: [u8; 18] = [
        0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x0e, 0x01, 0x04, 0x05, 0xdc, 0x05, 0x06, 0x43,
        0x8b, 0xe3, 0x6f,
    ];

    #[test]
    fn deconstruct() {
        let (p, info) = parse_frame(&LCP_FRAME).unwrap();
        assert_eq!(p, Protocol::Lcp);
        assert_eq!(info, &LCP_FRAME[4..]);
    }

    #[test]
    fn construct() {
        let mut v = vec![0xaa];
        encode_frame(Protocol::Lcp, false, false, &LCP_FRAME[4..], &mut v);
        assert_eq!(&v[1..], &LCP_FRAME);
        // ACFC and PFC never apply to LCP.
        let mut w = Vec::new();
        encode_frame(Protocol::Lcp, true, true, &LCP_FRAME[4..], &mut w);
        assert_eq!(w, LCP_FRAME);
        assert_eq!(frame_header_len(Protocol::Lcp, true, true), 4);
    }

    #[test]
    fn compressed_forms() {
        let ip = [0x45, 0x00];
        for (acfc, pfc, header) in [
            (false, false, &[0xff, 0x03, 0x00, 0x21][..]),
            (true, false, &[0x00, 0x21][..]),
            (false, true, &[0xff, 0x03, 0x21][..]),
            (true, true, &[0x21][..]),
        ] {
            assert_eq!(frame_header_len(Protocol::Ipv4, acfc, pfc), header.len());
            let mut f = Vec::new();
            encode_frame(Protocol::Ipv4, acfc, pfc, &ip, &mut f);
            assert_eq!(&f[..header.len()], header, "acfc {acfc} pfc {pfc}");
            assert_eq!(parse_frame(&f), Ok((Protocol::Ipv4, &ip[..])));
            let mut buf = [0u8; 4];
            assert_eq!(
                write_frame_header(Protocol::Ipv4, acfc, pfc, &mut buf),
                Ok(header.len())
            );
            assert_eq!(&buf[..header.len()], header);
        }
        // PFC does not apply to values >= 0x100.
        assert_eq!(frame_header_len(Protocol::Ipcp, true, true), 2);
        let mut f = Vec::new();
        encode_frame(Protocol::Ipcp, true, true, &[1], &mut f);
        assert_eq!(f, [0x80, 0x21, 0x01]);
        assert_eq!(parse_frame(&f), Ok((Protocol::Ipcp, &[1u8][..])));
    }

    #[test]
    fn write_too_short() {
        let mut buf = [0u8; 3];
        assert_eq!(
            write_frame_header(Protocol::Chap, false, false, &mut buf),
            Err(WireError::Truncated {
                needed: 4,
                remaining: 3
            })
        );
    }

    #[test]
    fn truncated() {
        assert_eq!(
            parse_frame(&[]),
            Err(WireError::Truncated {
                needed: 1,
                remaining: 0
            })
        );
        assert_eq!(
            parse_frame(&[0xff, 0x03]),
            Err(WireError::Truncated {
                needed: 1,
                remaining: 0
            })
        );
        assert_eq!(
            parse_frame(&[0xff, 0x03, 0xc0]),
            Err(WireError::Truncated {
                needed: 2,
                remaining: 1
            })
        );
        // An empty Information field is fine.
        assert_eq!(parse_frame(&[0xc0, 0x21]), Ok((Protocol::Lcp, &[][..])));
    }

    #[test]
    fn invalid_protocols() {
        // Even low octet.
        assert_eq!(
            parse_frame(&[0xff, 0x03, 0xc0, 0x22, 9]),
            Err(WireError::BadProtocol {
                protocol: 0xc022,
                offset: 4
            })
        );
        // Odd high octet is read as a one-octet protocol (PFC): 0x00c1 is valid by §2.
        assert_eq!(
            parse_frame(&[0xc1, 0x21]),
            Ok((Protocol::Unknown(0xc1), &[0x21u8][..]))
        );
        // 0x00ff is reserved (RFC 1662 §3.2).
        assert_eq!(
            parse_frame(&[0xff, 0x05]),
            Err(WireError::BadProtocol {
                protocol: 0xff,
                offset: 1
            })
        );
        // Address without Control: the 0xff is taken as the protocol octet.
        assert!(matches!(
            parse_frame(&[0xff, 0xff, 0x03]),
            Err(WireError::BadProtocol { .. })
        ));
    }

    #[test]
    fn classes() {
        assert!(Protocol::Ipv4.is_network() && !Protocol::Ipv4.is_control());
        assert!(Protocol::Ipcp.is_control() && Protocol::Ipcp.is_ncp());
        assert!(Protocol::Lcp.is_link_control() && !Protocol::Lcp.is_ncp());
        assert!(!Protocol::Unknown(0x4021).is_network() && !Protocol::Unknown(0x4021).is_control());
        for p in Protocol::KNOWN {
            assert!(p.is_valid(), "{p:?}");
        }
    }
}
