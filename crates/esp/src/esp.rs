//! ESP wire format (RFC 4303 §2): the fixed header read and written by field accessors
//! (smoltcp's `wire/ipsec_esp.rs` `Packet`/`Repr` shape), and the trailer (padding, Pad
//! Length, Next Header).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Security Parameters Index (SPI)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Sequence Number                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    IV (CBC: 16 or 8; GCM: 8)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                Payload Data (encrypted)                       |
//! +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               |     Padding 1, 2, 3, ... (0-255 bytes)        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                               |  Pad Length   | Next Header   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Integrity Check Value (ICV, variable)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! If [`Packet::check_len`] returned `Ok`, no accessor panics. Parsing untrusted input goes
//! through [`Packet::new_checked`].

use crate::{Error, Spi};

/// Length of the fixed header: SPI and Sequence Number.
pub const HEADER_LEN: usize = 8;
/// Length of the fixed part of the trailer: Pad Length and Next Header.
pub const TRAILER_LEN: usize = 2;
/// Next Header of a dummy packet (RFC 4303 §2.6): "no next header"; receivers drop these.
pub const NEXT_HEADER_NONE: u8 = 59;
/// Next Header of an IPv4 packet (tunnel mode).
pub const NEXT_HEADER_IPV4: u8 = 4;
/// Next Header of an IPv6 packet (tunnel mode).
pub const NEXT_HEADER_IPV6: u8 = 41;
/// IP protocol number of ESP.
pub const IP_PROTOCOL_ESP: u8 = 50;

mod field {
    use core::ops::Range;
    pub(super) const SPI: Range<usize> = 0..4;
    pub(super) const SEQUENCE_NUMBER: Range<usize> = 4..8;
}

/// A read/write view of an ESP header over a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer and checks that the header fits.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when the buffer is shorter than [`HEADER_LEN`].
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the header fits, so that no accessor panics.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when the buffer is shorter than [`HEADER_LEN`].
    pub fn check_len(&self) -> Result<(), Error> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Security Parameters Index.
    pub fn spi(&self) -> Spi {
        Spi(read_u32(&self.buffer.as_ref()[field::SPI]))
    }

    /// The (low 32 bits of the) Sequence Number.
    pub fn sequence_number(&self) -> u32 {
        read_u32(&self.buffer.as_ref()[field::SEQUENCE_NUMBER])
    }

    /// Everything after the header: IV, ciphertext, ICV.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the SPI.
    pub fn set_spi(&mut self, spi: Spi) {
        self.buffer.as_mut()[field::SPI].copy_from_slice(&spi.0.to_be_bytes());
    }

    /// Sets the Sequence Number (low 32 bits).
    pub fn set_sequence_number(&mut self, seq: u32) {
        self.buffer.as_mut()[field::SEQUENCE_NUMBER].copy_from_slice(&seq.to_be_bytes());
    }

    /// Everything after the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// The fixed ESP header as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Security Parameters Index.
    pub spi: Spi,
    /// Sequence Number as sent (low 32 bits with ESN).
    pub sequence_number: u32,
}

impl Repr {
    /// Reads the header of a checked packet.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when the header does not fit.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self, Error> {
        packet.check_len()?;
        Ok(Self {
            spi: packet.spi(),
            sequence_number: packet.sequence_number(),
        })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into a packet of at least [`HEADER_LEN`] bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_spi(self.spi);
        packet.set_sequence_number(self.sequence_number);
    }
}

/// Reads the SPI off the front of an ESP packet without any key, for the SAD lookup. `None`
/// when the packet cannot even hold the SPI and Sequence Number.
#[must_use]
pub fn peek_spi(packet: &[u8]) -> Option<Spi> {
    if packet.len() < HEADER_LEN {
        return None;
    }
    Some(Spi(read_u32(&packet[field::SPI])))
}

/// Padding bytes needed after `payload_len` bytes so that payload, padding and the 2-byte
/// trailer fill whole multiples of `align` (RFC 4303 §2.4). `align` is a power of two.
#[must_use]
pub const fn padding_len(payload_len: usize, align: usize) -> usize {
    let used = (payload_len + TRAILER_LEN) & (align - 1);
    if used == 0 {
        0
    } else {
        align - used
    }
}

/// Writes the monotonic padding 1, 2, 3, ... (RFC 4303 §2.4), the Pad Length and the Next
/// Header into `trailer`, which is exactly `pad_len + 2` bytes.
///
/// # Panics
///
/// When `trailer` is shorter than 2 bytes or longer than 257 (Pad Length is one byte).
pub fn write_trailer(trailer: &mut [u8], next_header: u8) {
    let pad_len = trailer.len() - TRAILER_LEN;
    assert!(pad_len <= 255, "ESP padding is at most 255 bytes");
    for (i, b) in trailer[..pad_len].iter_mut().enumerate() {
        *b = (i + 1) as u8;
    }
    trailer[pad_len] = pad_len as u8;
    trailer[pad_len + 1] = next_header;
}

/// The end of a decrypted ESP payload: Pad Length and Next Header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Trailer {
    /// Pad Length.
    pub pad_len: u8,
    /// Next Header (IP protocol number of the payload).
    pub next_header: u8,
}

impl Trailer {
    /// Reads and validates the trailer of a decrypted `plaintext` (payload, padding, Pad
    /// Length, Next Header). Returns the trailer and the payload length. The padding must
    /// be 1, 2, 3, ... as RFC 4303 §2.4 says the receiver SHOULD check.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when shorter than the 2-byte trailer, [`Error::BadPadding`]
    /// when the Pad Length exceeds the plaintext or the padding bytes are wrong.
    pub fn parse(plaintext: &[u8]) -> Result<(Self, usize), Error> {
        let n = plaintext.len();
        if n < TRAILER_LEN {
            return Err(Error::Truncated);
        }
        let t = Self {
            pad_len: plaintext[n - 2],
            next_header: plaintext[n - 1],
        };
        let pad = usize::from(t.pad_len);
        let Some(payload_len) = (n - TRAILER_LEN).checked_sub(pad) else {
            return Err(Error::BadPadding);
        };
        // The padding is authentic here (the ICV was verified before decryption), so a
        // data-dependent early exit leaks nothing an attacker could not compute.
        let ok = plaintext[payload_len..n - TRAILER_LEN]
            .iter()
            .enumerate()
            .all(|(i, &b)| usize::from(b) == i + 1);
        if ok {
            Ok((t, payload_len))
        } else {
            Err(Error::BadPadding)
        }
    }
}

fn read_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3602 §4 case 5: the first 24 bytes of the ESP packet (SPI 0x4321, sequence 1,
    /// then the IV).
    static PACKET_BYTES: [u8; 24] = [
        0x00, 0x00, 0x43, 0x21, 0x00, 0x00, 0x00, 0x01, 0xe9, 0x6e, 0x8c, 0x08, 0xab, 0x46, 0x57,
        0x63, 0xfd, 0x09, 0x8d, 0x45, 0xdd, 0x3f, 0xf8, 0x93,
    ];

    fn repr() -> Repr {
        Repr {
            spi: Spi(0x4321),
            sequence_number: 1,
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_unchecked(&PACKET_BYTES[..]);
        assert_eq!(p.spi(), Spi(0x4321));
        assert_eq!(p.sequence_number(), 1);
        assert_eq!(p.payload(), &PACKET_BYTES[8..]);
    }

    #[test]
    fn test_construct() {
        let mut bytes = [0xa5u8; 24];
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.set_spi(Spi(0x4321));
        p.set_sequence_number(1);
        p.payload_mut().copy_from_slice(&PACKET_BYTES[8..]);
        assert_eq!(bytes, PACKET_BYTES);
    }

    #[test]
    fn test_check_len() {
        assert_eq!(
            Packet::new_checked(&PACKET_BYTES[..7]).map(|_| ()),
            Err(Error::Truncated)
        );
        assert!(Packet::new_checked(&PACKET_BYTES[..8]).is_ok());
        assert_eq!(peek_spi(&PACKET_BYTES[..7]), None);
        assert_eq!(peek_spi(&PACKET_BYTES), Some(Spi(0x4321)));
    }

    #[test]
    fn test_parse() {
        let p = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(Repr::parse(&p), Ok(repr()));
    }

    #[test]
    fn test_emit() {
        let mut bytes = [0u8; 8];
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        repr().emit(&mut p);
        assert_eq!(bytes, PACKET_BYTES[..8]);
    }

    #[test]
    fn test_buffer_len() {
        assert_eq!(repr().buffer_len(), HEADER_LEN);
    }

    #[test]
    fn padding_and_trailer() {
        // RFC 3602 case 5: 64 bytes of payload pad to 80 with 14 bytes of padding.
        assert_eq!(padding_len(64, 16), 14);
        assert_eq!(padding_len(14, 16), 0);
        assert_eq!(padding_len(0, 4), 2);
        assert_eq!(padding_len(2, 4), 0);
        let mut t = [0u8; 16];
        write_trailer(&mut t, 1);
        assert_eq!(t, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 14, 1]);
        let mut pt = [0xffu8; 20];
        pt[4..].copy_from_slice(&t);
        assert_eq!(
            Trailer::parse(&pt),
            Ok((
                Trailer {
                    pad_len: 14,
                    next_header: 1
                },
                4
            ))
        );
        pt[10] ^= 1;
        assert_eq!(Trailer::parse(&pt), Err(Error::BadPadding));
        assert_eq!(Trailer::parse(&[3, 4]), Err(Error::BadPadding));
        assert_eq!(Trailer::parse(&[0]), Err(Error::Truncated));
        assert_eq!(
            Trailer::parse(&[0, 6]),
            Ok((
                Trailer {
                    pad_len: 0,
                    next_header: 6
                },
                0
            ))
        );
    }
}
