//! Raw ESP (IP protocol 50) framing for the raw-socket path, when no NAT sits between the
//! peers and ESP is not UDP-encapsulated.
//!
//! # Receiving
//!
//! A Linux raw IPv4 socket (`socket(AF_INET, SOCK_RAW, IPPROTO_ESP)`) delivers each
//! datagram with its IPv4 header, as it came off the wire: total length in network byte
//! order, options included, after the kernel has verified the header checksum and
//! reassembled fragments. [`strip_ipv4`] checks that header (version, IHL, total length,
//! protocol, no fragment bits) and returns the addresses and the ESP packet. (Older BSDs
//! handed raw sockets a header with `ip_len` in host order minus the header length; sras
//! targets Linux and does not undo that.)
//!
//! A raw IPv6 socket never delivers the IPv6 header (RFC 3542 §3): the datagram is the ESP
//! packet itself, the source comes from `recvmsg`'s address and the destination from an
//! `IPV6_PKTINFO` control message. Nothing here is needed for it.
//!
//! # Sending
//!
//! Building the IPv4 header for sending is the kernel's job: with `IP_HDRINCL` off (the
//! default for a protocol-50 raw socket) `sendto(fd, esp, dst)` prepends a header with
//! protocol 50, the route's source address, an identification and the header checksum,
//! and fragments or sets DF according to `IP_MTU_DISCOVER`. The ESP transform's output is
//! sent as it is.

use std::net::Ipv4Addr;
use std::ops::Range;

use thiserror::Error;

/// IP protocol number of ESP (RFC 4303 §2).
pub const IPPROTO_ESP: u8 = 50;

/// The IPv4 header without options (RFC 791 §3.1).
pub const IPV4_MIN_HEADER_LEN: usize = 20;

/// An ESP packet taken out of a raw IPv4 datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEsp<'a> {
    /// The IPv4 source: the peer.
    pub src: Ipv4Addr,
    /// The IPv4 destination: one of our addresses.
    pub dst: Ipv4Addr,
    /// The ESP packet, from the SPI to the end of the ICV (within the total length).
    pub esp: &'a [u8],
    /// Where `esp` starts in the datagram: the IPv4 header length, options included.
    pub header_len: usize,
}

impl RawEsp<'_> {
    /// The range of the ESP packet within the datagram given to [`strip_ipv4`], for
    /// opening it in place.
    pub fn range(&self) -> Range<usize> {
        self.header_len..self.header_len + self.esp.len()
    }
}

/// Why a raw datagram is not an IPv4 ESP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RawError {
    /// Shorter than the header it claims (or than the minimal header).
    #[error("datagram of {len} bytes, IPv4 header needs {needed}")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes the header needs.
        needed: usize,
    },
    /// The version field is not 4.
    #[error("IP version {0}, expected 4")]
    NotIpv4(u8),
    /// IHL below 5 (a header shorter than 20 bytes).
    #[error("IPv4 header length field {0} below 5")]
    BadHeaderLength(u8),
    /// The total length is below the header length or beyond the bytes received.
    #[error(
        "IPv4 total length {total} with a {header_len}-byte header, {received} bytes received"
    )]
    BadTotalLength {
        /// The total length field.
        total: usize,
        /// The header length.
        header_len: usize,
        /// Bytes received.
        received: usize,
    },
    /// The protocol field is not ESP (50).
    #[error("IP protocol {0}, expected ESP (50)")]
    NotEsp(u8),
    /// A fragment: the kernel reassembles before raw delivery, so this is not one of ours.
    #[error("IPv4 fragment (offset {offset}, more fragments {more})")]
    Fragment {
        /// Fragment offset in 8-byte units.
        offset: u16,
        /// The MF flag.
        more: bool,
    },
}

/// Checks the IPv4 header a raw ESP socket delivers and returns the addresses and the ESP
/// packet (RFC 791 §3.1). Bytes past the total length are ignored. Never panics.
pub fn strip_ipv4(datagram: &[u8]) -> Result<RawEsp<'_>, RawError> {
    let Some(h) = datagram.get(..IPV4_MIN_HEADER_LEN) else {
        return Err(RawError::Truncated {
            len: datagram.len(),
            needed: IPV4_MIN_HEADER_LEN,
        });
    };
    let version = h[0] >> 4;
    if version != 4 {
        return Err(RawError::NotIpv4(version));
    }
    let ihl = h[0] & 0x0f;
    if ihl < 5 {
        return Err(RawError::BadHeaderLength(ihl));
    }
    let header_len = usize::from(ihl) * 4;
    if datagram.len() < header_len {
        return Err(RawError::Truncated {
            len: datagram.len(),
            needed: header_len,
        });
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if total < header_len || total > datagram.len() {
        return Err(RawError::BadTotalLength {
            total,
            header_len,
            received: datagram.len(),
        });
    }
    let frag = u16::from_be_bytes([h[6], h[7]]);
    let (more, offset) = (frag & 0x2000 != 0, frag & 0x1fff);
    if more || offset != 0 {
        return Err(RawError::Fragment { offset, more });
    }
    if h[9] != IPPROTO_ESP {
        return Err(RawError::NotEsp(h[9]));
    }
    Ok(RawEsp {
        src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
        dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
        esp: &datagram[header_len..total],
        header_len,
    })
}

#[cfg(test)]
mod tests {
    use sras_testkit::pcap::ip_packet;

    use super::*;

    const ESP: [u8; 16] = [
        0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0,
    ];

    fn datagram() -> Vec<u8> {
        ip_packet(
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            IPPROTO_ESP,
            &ESP,
        )
        .unwrap()
    }

    #[test]
    fn strips_the_header() {
        let d = datagram();
        let r = strip_ipv4(&d).unwrap();
        assert_eq!(r.src, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(r.dst, Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(r.esp, ESP);
        assert_eq!(r.range(), 20..36);
        assert_eq!(&d[r.range()], ESP);
    }

    #[test]
    fn options_and_trailing_bytes() {
        // IHL 6: one 4-byte option word (NOP NOP NOP EOL), and 3 bytes past the total length.
        let mut d = datagram();
        d.splice(20..20, [1, 1, 1, 0]);
        d[0] = 0x46;
        d[2..4].copy_from_slice(&40u16.to_be_bytes());
        d.extend_from_slice(&[9, 9, 9]);
        let r = strip_ipv4(&d).unwrap();
        assert_eq!(r.header_len, 24);
        assert_eq!(r.esp, ESP);
    }

    #[test]
    fn refusals() {
        let d = datagram();
        assert_eq!(
            strip_ipv4(&d[..19]),
            Err(RawError::Truncated {
                len: 19,
                needed: 20
            })
        );
        let mut v6 = d.clone();
        v6[0] = 0x65;
        assert_eq!(strip_ipv4(&v6), Err(RawError::NotIpv4(6)));
        let mut ihl = d.clone();
        ihl[0] = 0x44;
        assert_eq!(strip_ipv4(&ihl), Err(RawError::BadHeaderLength(4)));
        let mut big = d.clone();
        big[0] = 0x4f; // 60-byte header in a 36-byte datagram
        assert_eq!(
            strip_ipv4(&big),
            Err(RawError::Truncated {
                len: 36,
                needed: 60
            })
        );
        let mut long = d.clone();
        long[2..4].copy_from_slice(&37u16.to_be_bytes());
        assert_eq!(
            strip_ipv4(&long),
            Err(RawError::BadTotalLength {
                total: 37,
                header_len: 20,
                received: 36
            })
        );
        let mut short = d.clone();
        short[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert!(matches!(
            strip_ipv4(&short),
            Err(RawError::BadTotalLength { total: 19, .. })
        ));
        let mut udp = d.clone();
        udp[9] = 17;
        assert_eq!(strip_ipv4(&udp), Err(RawError::NotEsp(17)));
        let mut mf = d.clone();
        mf[6] = 0x20; // MF
        assert_eq!(
            strip_ipv4(&mf),
            Err(RawError::Fragment {
                offset: 0,
                more: true
            })
        );
        let mut off = d.clone();
        off[6..8].copy_from_slice(&0x4003u16.to_be_bytes()); // DF + offset 3
        assert_eq!(
            strip_ipv4(&off),
            Err(RawError::Fragment {
                offset: 3,
                more: false
            })
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(d in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            if let Ok(r) = strip_ipv4(&d) {
                proptest::prop_assert_eq!(&d[r.range()], r.esp);
            }
        }
    }
}
