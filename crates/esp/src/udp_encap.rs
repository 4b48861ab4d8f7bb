//! UDP encapsulation of ESP for NAT traversal (RFC 3948) on port 4500.
//!
//! Port 4500 carries three things, told apart by their first bytes (RFC 3948 §2):
//!
//! ```text
//! ff                               NAT-keepalive (§2.3): one octet, ignored, never liveness
//! 00 00 00 00 | ISAKMP header ...  IKE after the four-byte non-ESP marker (§2.2)
//! SPI (≠ 0)   | sequence | ...     ESP (§2.1)
//! ```
//!
//! [`classify`] sorts a UDP/4500 payload into these; the helpers below add and remove the
//! non-ESP marker for IKE messages.
//!
//! # The outer UDP checksum (RFC 3948 §2.1)
//!
//! RFC 3948 §2.1 has the sender transmit the UDP checksum as zero (SHOULD) and the
//! receiver not depend on it being zero (MUST NOT). Neither half falls in this crate: the
//! UDP header belongs to the daemon's socket.
//! On Linux an ordinary UDP socket computes the checksum on send (the `SO_NO_CHECK` socket
//! option would send zero over IPv4; computing it is allowed and costs nothing with
//! offload), and on receipt the kernel verifies a non-zero checksum and drops bad datagrams
//! before the socket sees them, while it accepts a zero checksum over IPv4. Over IPv6 a zero
//! UDP checksum is not allowed (RFC 8200 §8.1), and the kernel always computes one. So the
//! daemon needs no code for it; it must only never set `UDP_ENCAP_ESPINUDP` on its socket
//! (DESIGN.md: the kernel would take the ESP).
//!
//! # Inner checksums in transport mode (RFC 3948 §3.1.2)
//!
//! In transport mode behind a NAT, the TCP or UDP checksum inside ESP was computed by the
//! sender over its *original* addresses, which the NAT then rewrote in the outer (and only)
//! IP header. [`fix_transport_checksum`] repairs it incrementally (RFC 1624) from the
//! original addresses IKE learned in the NAT-OA payloads (RFC 3947 §5.2), and
//! [`zero_udp_checksum`] is the UDP alternative the RFC allows. sras itself reads the L2TP
//! inside ESP straight from the decrypted bytes and does not verify the inner UDP checksum
//! (the ESP integrity check is stronger, as Linux XFRM also assumes by marking such packets
//! `CHECKSUM_UNNECESSARY`), so these are needed only when a decapsulated transport-mode
//! packet is handed to another stack.

use std::net::IpAddr;
use std::ops::Range;

use thiserror::Error;

/// The UDP port of NAT-traversal IKE and UDP-encapsulated ESP (RFC 3948 §1, RFC 3947 §4).
pub const NAT_T_PORT: u16 = 4500;

/// The non-ESP marker: four zero octets in place of an SPI, before an IKE message on port
/// 4500 (RFC 3948 §2.2). SPI 0 is reserved (RFC 4303 §2.1), so no ESP packet starts so.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// A NAT-keepalive packet: the single octet `0xFF` (RFC 3948 §2.3).
pub const NAT_KEEPALIVE: [u8; 1] = [0xff];

/// The fixed ISAKMP header (RFC 2408 §3.1): the smallest IKE message.
pub const ISAKMP_HEADER_LEN: usize = 28;

/// SPI and sequence number: the smallest UDP payload that can be ESP (RFC 3948 §2.1).
pub const ESP_HEADER_LEN: usize = 8;

/// What a UDP/4500 payload is (RFC 3948 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Udp4500<'a> {
    /// A NAT-keepalive (RFC 3948 §2.3): drop it. It only refreshes the NAT mapping and
    /// proves nothing about the peer (anyone can send one octet), so it must not count as
    /// liveness for DPD or an SA's idle timer.
    Keepalive,
    /// An IKE message: the bytes after the non-ESP marker, starting with the ISAKMP header.
    Ike(&'a [u8]),
    /// An ESP packet (SPI ≠ 0), starting at the SPI.
    Esp(&'a [u8]),
    /// Neither: drop and count.
    Invalid(InvalidUdp4500),
}

/// Why a UDP/4500 payload is none of keepalive, IKE or ESP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InvalidUdp4500 {
    /// An empty UDP payload.
    #[error("empty UDP/4500 payload")]
    Empty,
    /// Shorter than an ESP header (and not the one-octet keepalive).
    #[error("UDP/4500 payload of {len} bytes: shorter than an ESP header")]
    TooShort {
        /// The payload length.
        len: usize,
    },
    /// The non-ESP marker, but too short for the ISAKMP header after it.
    #[error("non-ESP marker followed by {ike_len} bytes: shorter than an ISAKMP header")]
    IkeTooShort {
        /// Bytes after the marker.
        ike_len: usize,
    },
}

/// Sorts a UDP/4500 payload into keepalive, IKE or ESP (RFC 3948 §2, §3).
///
/// Never panics. Lengths beyond the minimum are not checked here: the ESP transform and the
/// IKE parser check their own.
pub fn classify(payload: &[u8]) -> Udp4500<'_> {
    match payload {
        [] => Udp4500::Invalid(InvalidUdp4500::Empty),
        [0xff] => Udp4500::Keepalive,
        [0, 0, 0, 0, ike @ ..] => {
            if ike.len() < ISAKMP_HEADER_LEN {
                Udp4500::Invalid(InvalidUdp4500::IkeTooShort { ike_len: ike.len() })
            } else {
                Udp4500::Ike(ike)
            }
        }
        p if p.len() < ESP_HEADER_LEN => {
            Udp4500::Invalid(InvalidUdp4500::TooShort { len: p.len() })
        }
        esp => Udp4500::Esp(esp),
    }
}

/// The IKE message inside a UDP/4500 payload, if it is one (marker and at least an ISAKMP
/// header).
pub fn strip_non_esp_marker(payload: &[u8]) -> Option<&[u8]> {
    match classify(payload) {
        Udp4500::Ike(ike) => Some(ike),
        _ => None,
    }
}

/// `ike` with the non-ESP marker in front, to send on port 4500 (RFC 3948 §2.2).
/// Allocates: for the IKE control path.
pub fn with_non_esp_marker(ike: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(NON_ESP_MARKER.len() + ike.len());
    out.extend_from_slice(&NON_ESP_MARKER);
    out.extend_from_slice(ike);
    out
}

/// Writes the non-ESP marker into the four bytes before `ike` in `buf` and returns the range
/// of the UDP payload (marker and message): the in-place form of [`with_non_esp_marker`].
pub fn prepend_non_esp_marker(
    buf: &mut [u8],
    ike: Range<usize>,
) -> Result<Range<usize>, EncapError> {
    let start = ike
        .start
        .checked_sub(NON_ESP_MARKER.len())
        .ok_or(EncapError::NoHeadroom {
            needed: NON_ESP_MARKER.len(),
            available: ike.start,
        })?;
    if ike.end > buf.len() || ike.start > ike.end {
        return Err(EncapError::RangeOutOfBuffer {
            end: ike.end,
            len: buf.len(),
        });
    }
    buf[start..ike.start].copy_from_slice(&NON_ESP_MARKER);
    Ok(start..ike.end)
}

/// Errors of the in-place helpers of this module (marker and checksum fix-ups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncapError {
    /// Not enough room before the data for the header to prepend.
    #[error("{needed} bytes of headroom needed, {available} available")]
    NoHeadroom {
        /// Bytes needed.
        needed: usize,
        /// Bytes there were.
        available: usize,
    },
    /// A range reaches past the end of the buffer (or is reversed).
    #[error("range ends at {end}, buffer holds {len} bytes")]
    RangeOutOfBuffer {
        /// End of the range.
        end: usize,
        /// Buffer length.
        len: usize,
    },
    /// The TCP or UDP header is cut short.
    #[error("{protocol} header truncated: {len} bytes, {needed} needed")]
    Truncated {
        /// `"TCP"` or `"UDP"`.
        protocol: &'static str,
        /// Bytes present.
        len: usize,
        /// Bytes needed for the checksum field.
        needed: usize,
    },
    /// Original and received addresses are of different IP versions.
    #[error("original address {original} and received address {received} differ in IP version")]
    FamilyMismatch {
        /// The address from NAT-OA.
        original: IpAddr,
        /// The address in the received packet.
        received: IpAddr,
    },
}

/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// The peer's original addresses as IKE learned them from the NAT-OA payloads
/// (RFC 3947 §5.2: NAT-OAi and NAT-OAr), seen from the receiver: the source and destination
/// the sender used when it computed the inner checksum. `None` where no NAT-OA was sent or
/// the address was not translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OriginalAddresses {
    /// The sender's own address before its NAT rewrote it.
    pub src: Option<IpAddr>,
    /// The address the sender sent to, before a NAT in front of us rewrote it.
    pub dst: Option<IpAddr>,
}

/// What [`fix_transport_checksum`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumFixup {
    /// Nothing to do: the addresses did not change, or the UDP checksum is zero (none, IPv4).
    Unchanged,
    /// The checksum was updated incrementally.
    Adjusted,
    /// Not TCP or UDP: there is no checksum over the addresses to fix.
    NotTcpOrUdp,
}

/// RFC 1624 equation 3: the Internet checksum `checksum` of data in which the 16-bit words
/// `old` have been replaced by `new`, without summing the data again.
/// `old` and `new` must have the same even length (addresses: 4 or 16 bytes).
///
/// `HC' = ~(~HC + ~m + m')`, in ones' complement arithmetic.
pub fn checksum_adjust(checksum: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    let mut sum = u32::from(!checksum);
    for (o, n) in old.chunks(2).zip(new.chunks(2)) {
        sum += u32::from(!word(o));
        sum += u32::from(word(n));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn word(b: &[u8]) -> u16 {
    match *b {
        [hi, lo] => u16::from_be_bytes([hi, lo]),
        [hi] => u16::from_be_bytes([hi, 0]),
        _ => 0,
    }
}

fn octets(a: IpAddr) -> ([u8; 16], usize) {
    let mut out = [0; 16];
    match a {
        IpAddr::V4(v4) => {
            out[..4].copy_from_slice(&v4.octets());
            (out, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    }
}

/// Repairs the checksum of the TCP or UDP segment `segment` (the bytes after the ESP
/// header, `protocol` being ESP's next header) after transport-mode decapsulation behind a
/// NAT (RFC 3948 §3.1.2, the incremental method): the sender computed it over
/// `original`'s addresses, the packet now carries `received_src` and `received_dst`.
///
/// For each address that NAT-OA gave and that differs from the received one, the original
/// is taken out of the checksum and the received one put in (RFC 1624), so that the segment
/// verifies against the IP header it now travels with. A zero UDP checksum over IPv4 (none
/// computed) is left alone; an update that comes to zero is sent as `0xFFFF` (RFC 768).
pub fn fix_transport_checksum(
    protocol: u8,
    segment: &mut [u8],
    original: OriginalAddresses,
    received_src: IpAddr,
    received_dst: IpAddr,
) -> Result<ChecksumFixup, EncapError> {
    // RFC 3948 §3.1.2: where the received and the original address are the same, the
    // subtraction and the addition cancel out and are skipped.
    let (name, offset) = match protocol {
        IPPROTO_TCP => ("TCP", 16),
        IPPROTO_UDP => ("UDP", 6),
        _ => return Ok(ChecksumFixup::NotTcpOrUdp),
    };
    let needed = if protocol == IPPROTO_TCP { 20 } else { 8 };
    if segment.len() < needed {
        return Err(EncapError::Truncated {
            protocol: name,
            len: segment.len(),
            needed,
        });
    }
    let pairs = [(original.src, received_src), (original.dst, received_dst)];
    for (orig, recv) in pairs {
        if let Some(orig) = orig {
            if orig.is_ipv4() != recv.is_ipv4() {
                return Err(EncapError::FamilyMismatch {
                    original: orig,
                    received: recv,
                });
            }
        }
    }
    let mut sum = u16::from_be_bytes([segment[offset], segment[offset + 1]]);
    if protocol == IPPROTO_UDP && sum == 0 && received_src.is_ipv4() {
        return Ok(ChecksumFixup::Unchanged);
    }
    let mut changed = false;
    for (orig, recv) in pairs {
        let Some(orig) = orig else { continue };
        if orig == recv {
            continue;
        }
        let (o, n) = (octets(orig), octets(recv));
        sum = checksum_adjust(sum, &o.0[..o.1], &n.0[..n.1]);
        changed = true;
    }
    if !changed {
        return Ok(ChecksumFixup::Unchanged);
    }
    if protocol == IPPROTO_UDP && sum == 0 {
        sum = 0xffff;
    }
    segment[offset..offset + 2].copy_from_slice(&sum.to_be_bytes());
    Ok(ChecksumFixup::Adjusted)
}

/// Sets the checksum of the UDP datagram `segment` to zero, "no checksum" over IPv4: the
/// other transport-mode fix-up RFC 3948 §3.1.2 allows for UDP. Not valid over IPv6
/// (RFC 8200 §8.1), where [`fix_transport_checksum`] must be used.
pub fn zero_udp_checksum(segment: &mut [u8]) -> Result<(), EncapError> {
    match segment.get_mut(6..8) {
        Some(c) => {
            c.copy_from_slice(&[0, 0]);
            Ok(())
        }
        None => Err(EncapError::Truncated {
            protocol: "UDP",
            len: segment.len(),
            needed: 8,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use sras_testkit::pcap::{internet_checksum, udp_segment};

    use super::*;

    fn ike_message() -> Vec<u8> {
        // An ISAKMP header: initiator cookie, zero responder cookie, next payload SA (1),
        // version 1.0, exchange Main Mode (2), flags 0, message id 0, length 28.
        let mut h = vec![0x11; 8];
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&[1, 0x10, 2, 0, 0, 0, 0, 0, 0, 0, 0, 28]);
        h
    }

    #[test]
    fn keepalive_is_one_ff_octet() {
        assert_eq!(classify(&NAT_KEEPALIVE), Udp4500::Keepalive);
        assert_eq!(classify(&[0xff]), Udp4500::Keepalive);
        // Two octets are not a keepalive, and too short for ESP.
        assert_eq!(
            classify(&[0xff, 0xff]),
            Udp4500::Invalid(InvalidUdp4500::TooShort { len: 2 })
        );
        assert_eq!(classify(&[]), Udp4500::Invalid(InvalidUdp4500::Empty));
    }

    #[test]
    fn ike_after_marker() {
        let ike = ike_message();
        let wire = with_non_esp_marker(&ike);
        assert_eq!(&wire[..4], &[0, 0, 0, 0]);
        assert_eq!(classify(&wire), Udp4500::Ike(&ike));
        assert_eq!(strip_non_esp_marker(&wire), Some(&ike[..]));
        // A marker with less than an ISAKMP header behind it is not IKE.
        assert_eq!(
            classify(&wire[..31]),
            Udp4500::Invalid(InvalidUdp4500::IkeTooShort { ike_len: 27 })
        );
        assert_eq!(strip_non_esp_marker(&wire[..31]), None);
        assert_eq!(
            classify(&[0, 0, 0, 0, 0, 0, 0, 1]),
            Udp4500::Invalid(InvalidUdp4500::IkeTooShort { ike_len: 4 })
        );
        // ESP is not IKE.
        assert_eq!(strip_non_esp_marker(&[0, 0, 0, 1, 0, 0, 0, 1]), None);
    }

    #[test]
    fn esp_has_a_nonzero_spi() {
        let esp = [0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1];
        assert_eq!(classify(&esp), Udp4500::Esp(&esp));
        // SPI 0x000000ff is not the marker: still ESP by form (the SAD will refuse it).
        let esp = [0, 0, 0, 0xff, 0, 0, 0, 1, 9];
        assert_eq!(classify(&esp), Udp4500::Esp(&esp));
        assert_eq!(
            classify(&esp[..7]),
            Udp4500::Invalid(InvalidUdp4500::TooShort { len: 7 })
        );
        // A lone byte other than ff.
        assert_eq!(
            classify(&[0xfe]),
            Udp4500::Invalid(InvalidUdp4500::TooShort { len: 1 })
        );
    }

    #[test]
    fn prepend_marker_in_place() {
        let ike = ike_message();
        let mut buf = vec![0xaa; 8 + ike.len()];
        buf[8..].copy_from_slice(&ike);
        let r = prepend_non_esp_marker(&mut buf, 8..8 + ike.len()).unwrap();
        assert_eq!(r, 4..8 + ike.len());
        assert_eq!(buf[r.clone()], with_non_esp_marker(&ike)[..]);
        assert_eq!(&buf[..4], &[0xaa; 4]);
        assert_eq!(
            prepend_non_esp_marker(&mut buf, 3..10),
            Err(EncapError::NoHeadroom {
                needed: 4,
                available: 3
            })
        );
        let len = buf.len();
        assert_eq!(
            prepend_non_esp_marker(&mut buf, 4..len + 1),
            Err(EncapError::RangeOutOfBuffer { end: len + 1, len })
        );
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// Does `seg` verify as UDP or TCP (`proto`) between `src` and `dst`?
    fn verifies(proto: u8, src: IpAddr, dst: IpAddr, seg: &[u8]) -> bool {
        let mut ph = Vec::new();
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                ph.extend_from_slice(&s.octets());
                ph.extend_from_slice(&d.octets());
                ph.extend_from_slice(&[0, proto]);
                ph.extend_from_slice(&(seg.len() as u16).to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                ph.extend_from_slice(&s.octets());
                ph.extend_from_slice(&d.octets());
                ph.extend_from_slice(&(seg.len() as u32).to_be_bytes());
                ph.extend_from_slice(&[0, 0, 0, proto]);
            }
            _ => unreachable!(),
        }
        ph.extend_from_slice(seg);
        internet_checksum(&ph) == 0
    }

    /// The L2TP Hello of the tshark tests.
    const HELLO: [u8; 20] = [
        0xc8, 0x02, 0x00, 0x14, 0x12, 0x34, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, //
        0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06,
    ];

    #[test]
    fn udp_fixup_matches_a_fresh_checksum() {
        // A Windows client at 192.168.1.10 behind a NAT (public 203.0.113.7) sends L2TP to
        // the server at 198.51.100.1; NAT-OAi told us 192.168.1.10.
        let (orig, public, server) = (
            sa("192.168.1.10:1701"),
            sa("203.0.113.7:1701"),
            sa("198.51.100.1:1701"),
        );
        let mut seg = udp_segment(orig, server, &HELLO).unwrap();
        assert!(verifies(IPPROTO_UDP, orig.ip(), server.ip(), &seg));
        assert!(!verifies(IPPROTO_UDP, public.ip(), server.ip(), &seg));
        let oa = OriginalAddresses {
            src: Some(orig.ip()),
            dst: None,
        };
        let r = fix_transport_checksum(IPPROTO_UDP, &mut seg, oa, public.ip(), server.ip());
        assert_eq!(r, Ok(ChecksumFixup::Adjusted));
        assert!(verifies(IPPROTO_UDP, public.ip(), server.ip(), &seg));
        assert_eq!(seg, udp_segment(public, server, &HELLO).unwrap());
    }

    #[test]
    fn both_addresses_translated() {
        // Both ends behind NATs (NAT-OAi and NAT-OAr).
        let (o_src, o_dst) = (sa("10.0.0.2:1701"), sa("10.9.9.9:1701"));
        let (r_src, r_dst) = (sa("203.0.113.7:1701"), sa("198.51.100.1:1701"));
        let mut seg = udp_segment(o_src, o_dst, b"data").unwrap();
        let oa = OriginalAddresses {
            src: Some(o_src.ip()),
            dst: Some(o_dst.ip()),
        };
        fix_transport_checksum(IPPROTO_UDP, &mut seg, oa, r_src.ip(), r_dst.ip()).unwrap();
        assert_eq!(seg, udp_segment(r_src, r_dst, b"data").unwrap());
    }

    #[test]
    fn unchanged_cases() {
        let (s, d) = (sa("10.0.0.2:1701"), sa("10.0.0.1:1701"));
        let seg0 = udp_segment(s, d, b"x").unwrap();
        let mut seg = seg0.clone();
        let same = OriginalAddresses {
            src: Some(s.ip()),
            dst: Some(d.ip()),
        };
        assert_eq!(
            fix_transport_checksum(IPPROTO_UDP, &mut seg, same, s.ip(), d.ip()),
            Ok(ChecksumFixup::Unchanged)
        );
        assert_eq!(
            fix_transport_checksum(
                IPPROTO_UDP,
                &mut seg,
                OriginalAddresses::default(),
                s.ip(),
                d.ip()
            ),
            Ok(ChecksumFixup::Unchanged)
        );
        assert_eq!(seg, seg0);
        // A zero UDP checksum over IPv4 means none: left alone.
        zero_udp_checksum(&mut seg).unwrap();
        let nat = OriginalAddresses {
            src: Some("192.168.0.1".parse().unwrap()),
            dst: None,
        };
        assert_eq!(
            fix_transport_checksum(IPPROTO_UDP, &mut seg, nat, s.ip(), d.ip()),
            Ok(ChecksumFixup::Unchanged)
        );
        assert_eq!(&seg[6..8], &[0, 0]);
        // ICMP (1) has no pseudo-header checksum.
        assert_eq!(
            fix_transport_checksum(1, &mut seg, nat, s.ip(), d.ip()),
            Ok(ChecksumFixup::NotTcpOrUdp)
        );
    }

    #[test]
    fn tcp_fixup() {
        // A TCP SYN with a checksum computed over the original addresses.
        let (o, r, dst): (IpAddr, IpAddr, IpAddr) = (
            "192.168.1.10".parse().unwrap(),
            "203.0.113.7".parse().unwrap(),
            "198.51.100.1".parse().unwrap(),
        );
        let mut seg = vec![
            0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ];
        let sum = tcp_checksum(o, dst, &seg);
        seg[16..18].copy_from_slice(&sum.to_be_bytes());
        assert!(verifies(IPPROTO_TCP, o, dst, &seg));
        let oa = OriginalAddresses {
            src: Some(o),
            dst: None,
        };
        fix_transport_checksum(IPPROTO_TCP, &mut seg, oa, r, dst).unwrap();
        assert!(verifies(IPPROTO_TCP, r, dst, &seg));
        assert_eq!(
            fix_transport_checksum(IPPROTO_TCP, &mut seg[..19], oa, r, dst),
            Err(EncapError::Truncated {
                protocol: "TCP",
                len: 19,
                needed: 20
            })
        );
    }

    fn tcp_checksum(src: IpAddr, dst: IpAddr, seg: &[u8]) -> u16 {
        let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
            unreachable!()
        };
        let mut ph = Vec::new();
        ph.extend_from_slice(&s.octets());
        ph.extend_from_slice(&d.octets());
        ph.extend_from_slice(&[0, IPPROTO_TCP]);
        ph.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        ph.extend_from_slice(seg);
        internet_checksum(&ph)
    }

    #[test]
    fn ipv6_fixup_and_family_mismatch() {
        let (o, r, d) = (
            sa("[fd00::10]:1701"),
            sa("[2001:db8::7]:1701"),
            sa("[2001:db8::1]:1701"),
        );
        let mut seg = udp_segment(o, d, &HELLO).unwrap();
        let oa = OriginalAddresses {
            src: Some(o.ip()),
            dst: None,
        };
        fix_transport_checksum(IPPROTO_UDP, &mut seg, oa, r.ip(), d.ip()).unwrap();
        assert_eq!(seg, udp_segment(r, d, &HELLO).unwrap());
        let v4 = OriginalAddresses {
            src: Some("10.0.0.1".parse().unwrap()),
            dst: None,
        };
        assert!(matches!(
            fix_transport_checksum(IPPROTO_UDP, &mut seg, v4, r.ip(), d.ip()),
            Err(EncapError::FamilyMismatch { .. })
        ));
        assert!(zero_udp_checksum(&mut seg[..7]).is_err());
    }

    #[test]
    fn rfc1624_example() {
        //= https://www.rfc-editor.org/rfc/rfc1624#section-4
        // HC = 0xDD2F, m = 0x5555 changed to m' = 0x3285: HC' = 0x0000.
        assert_eq!(
            checksum_adjust(0xdd2f, &[0x55, 0x55], &[0x32, 0x85]),
            0x0000
        );
    }

    proptest::proptest! {
        #[test]
        fn incremental_equals_recomputed(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            o in proptest::num::u32::ANY, r in proptest::num::u32::ANY,
            d in proptest::num::u32::ANY, sp in 1u16.., dp in 1u16..,
        ) {
            let d = SocketAddr::from((std::net::Ipv4Addr::from(d), dp));
            let orig = SocketAddr::from((std::net::Ipv4Addr::from(o), sp));
            let recv = SocketAddr::from((std::net::Ipv4Addr::from(r), sp));
            let mut seg = udp_segment(orig, d, &payload).unwrap();
            let oa = OriginalAddresses { src: Some(orig.ip()), dst: None };
            fix_transport_checksum(IPPROTO_UDP, &mut seg, oa, recv.ip(), d.ip()).unwrap();
            proptest::prop_assert_eq!(seg, udp_segment(recv, d, &payload).unwrap());
        }
    }
}
