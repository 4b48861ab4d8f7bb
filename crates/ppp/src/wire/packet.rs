//! The control packet of LCP, the NCPs, PAP, CHAP and EAP (RFC 1661 §5, RFC 1334 §2.2,
//! RFC 1994 §4, RFC 3748 §4).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Code      |  Identifier   |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Data ...
//! ```

use sras_core::Reader;

use super::WireError;

/// Length of the Code, Identifier and Length fields (RFC 1661 §5).
pub const PACKET_HEADER_LEN: usize = 4;

/// The most Data a packet can carry: the 16-bit Length counts the 4-octet header too.
pub const PACKET_MAX_DATA: usize = u16::MAX as usize - PACKET_HEADER_LEN;

/// LCP and NCP codes (RFC 1661 §5, RFC 1570 §2, RFC 1962 §2).
pub mod code {
    /// Configure-Request (RFC 1661 §5.1).
    pub const CONFIGURE_REQUEST: u8 = 1;
    /// Configure-Ack (RFC 1661 §5.2).
    pub const CONFIGURE_ACK: u8 = 2;
    /// Configure-Nak (RFC 1661 §5.3).
    pub const CONFIGURE_NAK: u8 = 3;
    /// Configure-Reject (RFC 1661 §5.4).
    pub const CONFIGURE_REJECT: u8 = 4;
    /// Terminate-Request (RFC 1661 §5.5).
    pub const TERMINATE_REQUEST: u8 = 5;
    /// Terminate-Ack (RFC 1661 §5.5).
    pub const TERMINATE_ACK: u8 = 6;
    /// Code-Reject (RFC 1661 §5.6).
    pub const CODE_REJECT: u8 = 7;
    /// Protocol-Reject, LCP only (RFC 1661 §5.7).
    pub const PROTOCOL_REJECT: u8 = 8;
    /// Echo-Request, LCP only (RFC 1661 §5.8).
    pub const ECHO_REQUEST: u8 = 9;
    /// Echo-Reply, LCP only (RFC 1661 §5.8).
    pub const ECHO_REPLY: u8 = 10;
    /// Discard-Request, LCP only (RFC 1661 §5.9).
    pub const DISCARD_REQUEST: u8 = 11;
    /// Identification, LCP only (RFC 1570 §2.1).
    pub const IDENTIFICATION: u8 = 12;
    /// Time-Remaining, LCP only (RFC 1570 §2.2).
    pub const TIME_REMAINING: u8 = 13;
    /// Reset-Request, CCP only (RFC 1962 §2.1).
    pub const RESET_REQUEST: u8 = 14;
    /// Reset-Ack, CCP only (RFC 1962 §2.1).
    pub const RESET_ACK: u8 = 15;
}

/// A control packet (RFC 1661 §5): Code, Identifier, and the Data the Length field covers.
/// Borrowed from the Information field; octets past Length are padding and are not part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The Code: see [`code`] for LCP and the NCPs; PAP, CHAP and EAP have their own.
    pub code: u8,
    /// The Identifier, matching replies to requests.
    pub identifier: u8,
    /// The Data field (Length - 4 octets).
    pub data: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parses the control packet at the start of a frame's Information field (RFC 1661 §5).
    ///
    /// Errors: fewer than 4 octets: [`WireError::Truncated`]; a Length below 4 or above the
    /// octets received: [`WireError::BadLength`] (§5: "Packets with a Length greater than the
    /// received length MUST be silently discarded"). Octets past Length are ignored (§5:
    /// "treated as padding and are ignored on reception").
    pub fn parse(info: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(info);
        let code = r.u8()?;
        let identifier = r.u8()?;
        let length = usize::from(r.u16()?);
        if length < PACKET_HEADER_LEN || length > info.len() {
            return Err(WireError::BadLength {
                length,
                available: info.len(),
            });
        }
        Ok(Self {
            code,
            identifier,
            data: &info[PACKET_HEADER_LEN..length],
        })
    }

    /// The encoded length of this packet (its Length field).
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(&self) -> usize {
        PACKET_HEADER_LEN + self.data.len()
    }

    /// Appends a control packet (RFC 1661 §5). `data` beyond [`PACKET_MAX_DATA`] octets is
    /// truncated (it could not be described by the Length field).
    pub fn encode(code: u8, identifier: u8, data: &[u8], out: &mut Vec<u8>) {
        let data = &data[..data.len().min(PACKET_MAX_DATA)];
        out.push(code);
        out.push(identifier);
        out.extend_from_slice(&((PACKET_HEADER_LEN + data.len()) as u16).to_be_bytes());
        out.extend_from_slice(data);
    }

    /// Appends this packet, as [`Packet::encode`] does.
    pub fn write(&self, out: &mut Vec<u8>) {
        Self::encode(self.code, self.identifier, self.data, out);
    }
}

/// Starts a packet whose Data is written in place after the call: pushes Code, Identifier and
/// a placeholder Length and returns the offset to pass to [`finish`].
pub(super) fn begin(code: u8, identifier: u8, out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[code, identifier, 0, 0]);
    at
}

/// Completes a packet started with [`begin`]: truncates its Data to [`PACKET_MAX_DATA`] and
/// writes the Length field.
pub(super) fn finish(at: usize, out: &mut Vec<u8>) {
    out.truncate(at + PACKET_HEADER_LEN + PACKET_MAX_DATA);
    let len = (out.len() - at) as u16;
    out[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LCP Echo-Request id 7, magic 0x01020304, data "hi", with 3 octets of padding.
    const ECHO: [u8; 13] = [9, 7, 0, 10, 1, 2, 3, 4, b'h', b'i', 0, 0, 0];

    #[test]
    fn deconstruct() {
        let p = Packet::parse(&ECHO).unwrap();
        assert_eq!(p.code, code::ECHO_REQUEST);
        assert_eq!(p.identifier, 7);
        assert_eq!(p.data, &[1, 2, 3, 4, b'h', b'i']);
        assert_eq!(p.len(), 10);
    }

    #[test]
    fn construct() {
        let mut v = Vec::new();
        Packet::encode(code::ECHO_REQUEST, 7, &[1, 2, 3, 4, b'h', b'i'], &mut v);
        assert_eq!(v, ECHO[..10]);
        let mut w = Vec::new();
        Packet::parse(&ECHO).unwrap().write(&mut w);
        assert_eq!(w, v);
    }

    #[test]
    fn bad_lengths() {
        for n in 0..4 {
            assert!(matches!(
                Packet::parse(&ECHO[..n]),
                Err(WireError::Truncated { .. })
            ));
        }
        for length in [0u16, 3, 14, 0xffff] {
            let mut d = ECHO;
            d[2..4].copy_from_slice(&length.to_be_bytes());
            assert_eq!(
                Packet::parse(&d),
                Err(WireError::BadLength {
                    length: usize::from(length),
                    available: 13
                })
            );
        }
        // Length exactly 4: empty Data.
        assert_eq!(Packet::parse(&[5, 1, 0, 4]).map(|p| p.data.len()), Ok(0));
    }

    #[test]
    fn oversized_data_is_truncated() {
        let big = vec![0u8; PACKET_MAX_DATA + 10];
        let mut v = Vec::new();
        Packet::encode(1, 1, &big, &mut v);
        assert_eq!(v.len(), usize::from(u16::MAX));
        assert_eq!(Packet::parse(&v).map(|p| p.data.len()), Ok(PACKET_MAX_DATA));
        let mut w = vec![0xaa];
        let at = begin(1, 1, &mut w);
        w.extend_from_slice(&big);
        finish(at, &mut w);
        assert_eq!(&w[1..], &v[..]);
    }
}
