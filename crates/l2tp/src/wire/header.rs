//! The L2TP header (RFC 2661 §3.1), shared by control and data messages.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//! |           Tunnel ID           |           Session ID          |
//! |             Ns (opt)          |             Nr (opt)          |
//! |      Offset Size (opt)        |    Offset pad... (opt)
//! ```

use std::ops::Range;

use sras_core::{Reader, Seq16};

use super::{SessionId, TunnelId, WireError};

//= https://www.rfc-editor.org/rfc/rfc2661#section-3.1
//# The Type (T) bit indicates the type of message. It is set to 0 for a
//# data message and 1 for a control message.
const FLAG_T: u16 = 0x8000;
//# If the Length (L) bit is 1, the Length field is present.
const FLAG_L: u16 = 0x4000;
//# If the Sequence (S) bit is set to 1 the Ns and Nr fields are present.
const FLAG_S: u16 = 0x0800;
//# If the Offset (O) bit is 1, the Offset Size field is present.
const FLAG_O: u16 = 0x0200;
//# If the Priority (P) bit is 1, this data message should receive
//# preferential treatment in its local queuing and transmission.
const FLAG_P: u16 = 0x0100;
const VERSION_MASK: u16 = 0x000F;

/// The only header version this crate speaks (RFC 2661 §3.1: "Ver MUST be 2").
pub const VERSION: u8 = 2;

/// Smallest possible header: flags and version, Tunnel ID, Session ID (RFC 2661 §3.1).
pub const HEADER_MIN_LEN: usize = 6;

/// Length of a control-message header: flags, Length, Tunnel ID, Session ID, Ns, Nr
/// (RFC 2661 §3.1: L=1, S=1, O=0 on every control message).
pub const CONTROL_HEADER_LEN: usize = 12;

/// Byte offset of the Nr field in a control-message header (RFC 2661 §3.1), for patching the
/// current Nr into a retransmission (§5.8).
pub const CONTROL_NR_OFFSET: usize = 10;

/// An L2TP header (RFC 2661 §3.1). Optional fields are `Some` exactly when their flag bit is
/// set. Reserved bits are ignored on receipt and sent as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// T: a control message (§3.1).
    pub control: bool,
    /// L set: the Length field, the total length of the message in octets (§3.1).
    pub length: Option<u16>,
    /// Tunnel ID of the recipient (§3.1).
    pub tunnel_id: TunnelId,
    /// Session ID of the recipient (§3.1).
    pub session_id: SessionId,
    /// S set: (Ns, Nr) (§3.1, §5.8; Nr is reserved in data messages, §5.4).
    pub sequence: Option<(Seq16, Seq16)>,
    /// O set: the Offset Size field; that many pad octets follow the header (§3.1).
    pub offset_size: Option<u16>,
    /// P: preferential treatment of a data message (§3.1).
    pub priority: bool,
}

impl Header {
    /// A control-message header (RFC 2661 §3.1: T=1, L=1, S=1, O=0, P=0) with the given
    /// Length field.
    pub const fn control(
        length: u16,
        tunnel_id: TunnelId,
        session_id: SessionId,
        ns: Seq16,
        nr: Seq16,
    ) -> Self {
        Self {
            control: true,
            length: Some(length),
            tunnel_id,
            session_id,
            sequence: Some((ns, nr)),
            offset_size: None,
            priority: false,
        }
    }

    /// Parses the header at the start of `datagram` (RFC 2661 §3.1).
    ///
    /// Returns the header and the byte range of the payload inside `datagram`: it starts after
    /// the header and the Offset Pad and ends at Length (when L is set) or at the end of the
    /// datagram. Bytes past Length are ignored.
    ///
    /// Errors: fewer than 6 bytes, or fewer than the flags announce: [`WireError::Truncated`];
    /// Ver ≠ 2: [`WireError::Version`] (checked first, so L2F and L2TPv3 packets are told
    /// apart); T=1 with L=0, S=0 or O=1: [`WireError::ControlHeaderFlags`]; Length below the
    /// header length or above the datagram, or an Offset Pad running past the end:
    /// [`WireError::BadLength`]. Reserved bits are ignored.
    pub fn parse(datagram: &[u8]) -> Result<(Self, Range<usize>), WireError> {
        if datagram.len() < HEADER_MIN_LEN {
            return Err(WireError::Truncated {
                needed: HEADER_MIN_LEN,
                remaining: datagram.len(),
            });
        }
        let mut r = Reader::new(datagram);
        let flags = r.u16()?;
        //= https://www.rfc-editor.org/rfc/rfc2661#section-3.1
        //# Packets received with an unknown Ver field MUST be discarded.
        let version = (flags & VERSION_MASK) as u8;
        if version != VERSION {
            return Err(WireError::Version(version));
        }
        let control = flags & FLAG_T != 0;
        let has_length = flags & FLAG_L != 0;
        let has_sequence = flags & FLAG_S != 0;
        let has_offset = flags & FLAG_O != 0;
        //# This bit MUST be set to 1 for control messages.
        //# The S bit MUST be set to 1 for control messages.
        //# The O bit MUST be set to 0 (zero) for control messages.
        if control && (!has_length || !has_sequence || has_offset) {
            return Err(WireError::ControlHeaderFlags);
        }
        let header_len = Self::len_for(has_length, has_sequence, has_offset);
        if datagram.len() < header_len {
            return Err(WireError::Truncated {
                needed: header_len,
                remaining: datagram.len(),
            });
        }
        let length = if has_length { Some(r.u16()?) } else { None };
        let tunnel_id = TunnelId(r.u16()?);
        let session_id = SessionId(r.u16()?);
        let sequence = if has_sequence {
            Some((Seq16(r.u16()?), Seq16(r.u16()?)))
        } else {
            None
        };
        let offset_size = if has_offset { Some(r.u16()?) } else { None };

        let end = match length {
            Some(l) => {
                let l = usize::from(l);
                if l < header_len || l > datagram.len() {
                    return Err(WireError::BadLength {
                        length: l,
                        datagram: datagram.len(),
                    });
                }
                l
            }
            None => datagram.len(),
        };
        //# If the offset field is present, the L2TP header ends after the last octet of the
        //# offset padding.
        let start = header_len + offset_size.map_or(0, usize::from);
        if start > end {
            return Err(WireError::BadLength {
                length: start,
                datagram: end,
            });
        }
        let header = Self {
            control,
            length,
            tunnel_id,
            session_id,
            sequence,
            offset_size,
            priority: flags & FLAG_P != 0,
        };
        Ok((header, start..end))
    }

    const fn len_for(has_length: bool, has_sequence: bool, has_offset: bool) -> usize {
        HEADER_MIN_LEN
            + if has_length { 2 } else { 0 }
            + if has_sequence { 4 } else { 0 }
            + if has_offset { 2 } else { 0 }
    }

    /// Encoded length of this header (RFC 2661 §3.1): flags through the Offset Size field,
    /// without the Offset Pad octets.
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(&self) -> usize {
        Self::len_for(
            self.length.is_some(),
            self.sequence.is_some(),
            self.offset_size.is_some(),
        )
    }

    /// The flags-and-version word (RFC 2661 §3.1), reserved bits 0.
    const fn flags(&self) -> u16 {
        let mut f = VERSION as u16;
        if self.control {
            f |= FLAG_T;
        }
        if self.length.is_some() {
            f |= FLAG_L;
        }
        if self.sequence.is_some() {
            f |= FLAG_S;
        }
        if self.offset_size.is_some() {
            f |= FLAG_O;
        }
        if self.priority {
            f |= FLAG_P;
        }
        f
    }

    /// Writes the header into `dst[..self.len()]` without allocating (the data path; RFC 2661
    /// §3.1). Fields are written as given, `offset_size` included, but no Offset Pad octets.
    /// Returns the number of bytes written, or [`WireError::Truncated`] if `dst` is too short.
    pub fn write(&self, dst: &mut [u8]) -> Result<usize, WireError> {
        let n = self.len();
        let Some(dst) = dst.get_mut(..n) else {
            return Err(WireError::Truncated {
                needed: n,
                remaining: dst.len(),
            });
        };
        let mut fields = [0u16; 7];
        let mut k = 0;
        let mut push = |v: u16| {
            fields[k] = v;
            k += 1;
        };
        push(self.flags());
        if let Some(l) = self.length {
            push(l);
        }
        push(self.tunnel_id.0);
        push(self.session_id.0);
        if let Some((ns, nr)) = self.sequence {
            push(ns.0);
            push(nr.0);
        }
        if let Some(o) = self.offset_size {
            push(o);
        }
        for (chunk, v) in dst.chunks_exact_mut(2).zip(fields) {
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        Ok(n)
    }

    /// Appends the header (RFC 2661 §3.1), as [`Header::write`] does.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.resize(at + self.len(), 0);
        // Cannot fail: exactly `self.len()` bytes were just made available.
        let _ = self.write(&mut out[at..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header of SoftEther's SCCRP in `/work/shared/peers/pcap/softether-sccrq-ike-mm1.pcap`
    /// (frame 2): T, L, S, Ver 2; Length 82; Tunnel 4242; Session 0; Ns 0; Nr 1.
    const SCCRP_HEADER: [u8; 12] = [
        0xc8, 0x02, 0x00, 0x52, 0x10, 0x92, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    ];

    /// A data message with L, S, O and P: flags 0x4b02, Length 20, Tunnel 7, Session 9,
    /// Ns 3, Nr 0, Offset Size 2, pad 2 bytes, then a 4-byte payload.
    const DATA_LSOP: [u8; 20] = [
        0x4b, 0x02, 0x00, 0x14, 0x00, 0x07, 0x00, 0x09, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0xee,
        0xee, 0xff, 0x03, 0xc0, 0x21,
    ];

    fn sccrp_repr() -> Header {
        Header::control(82, TunnelId(4242), SessionId(0), Seq16(0), Seq16(1))
    }

    #[test]
    fn deconstruct_control() {
        let mut dgram = SCCRP_HEADER.to_vec();
        dgram.resize(82, 0);
        let (h, payload) = Header::parse(&dgram).unwrap();
        assert_eq!(h, sccrp_repr());
        assert_eq!(payload, 12..82);
        assert_eq!(h.len(), CONTROL_HEADER_LEN);
    }

    #[test]
    fn construct_control() {
        let mut buf = [0u8; 12];
        assert_eq!(sccrp_repr().write(&mut buf), Ok(12));
        assert_eq!(buf, SCCRP_HEADER);
        let mut v = vec![0xaa];
        sccrp_repr().encode(&mut v);
        assert_eq!(&v[1..], &SCCRP_HEADER);
        assert_eq!(&buf[CONTROL_NR_OFFSET..CONTROL_NR_OFFSET + 2], &[0, 1]);
    }

    #[test]
    fn data_header_with_l_s_o_p() {
        let (h, payload) = Header::parse(&DATA_LSOP).unwrap();
        let repr = Header {
            control: false,
            length: Some(20),
            tunnel_id: TunnelId(7),
            session_id: SessionId(9),
            sequence: Some((Seq16(3), Seq16(0))),
            offset_size: Some(2),
            priority: true,
        };
        assert_eq!(h, repr);
        assert_eq!(payload, 16..20);
        assert_eq!(&DATA_LSOP[payload], &[0xff, 0x03, 0xc0, 0x21]);
        assert_eq!(repr.len(), 14);
        let mut buf = [0u8; 14];
        assert_eq!(repr.write(&mut buf), Ok(14));
        assert_eq!(buf, DATA_LSOP[..14]);
    }

    #[test]
    fn minimal_data_header() {
        // handcraft.py l2tpdata: flags 0x4002 (L, Ver 2) Length 8, Tunnel 4242, Session 1.
        let d = [0x00, 0x02, 0x10, 0x92, 0x00, 0x01, 0xff, 0x03];
        let (h, payload) = Header::parse(&d).unwrap();
        assert_eq!(h.len(), HEADER_MIN_LEN);
        assert_eq!(
            (h.control, h.length, h.sequence, h.offset_size),
            (false, None, None, None)
        );
        assert_eq!(payload, 6..8);
    }

    #[test]
    fn buffer_len_and_check_len() {
        let repr = sccrp_repr();
        let mut short = [0u8; 11];
        assert_eq!(
            repr.write(&mut short),
            Err(WireError::Truncated {
                needed: 12,
                remaining: 11
            })
        );
        for n in 0..HEADER_MIN_LEN {
            assert_eq!(
                Header::parse(&SCCRP_HEADER[..n]),
                Err(WireError::Truncated {
                    needed: 6,
                    remaining: n
                })
            );
        }
        // ROBUSTNESS 13: a control datagram shorter than 12 bytes.
        for n in HEADER_MIN_LEN..12 {
            assert_eq!(
                Header::parse(&SCCRP_HEADER[..n]),
                Err(WireError::Truncated {
                    needed: 12,
                    remaining: n
                })
            );
        }
    }

    #[test]
    fn zlb() {
        let zlb = [
            0xc8, 0x02, 0x00, 0x0c, 0x00, 0x05, 0x00, 0x00, 0x00, 0x04, 0x00, 0x07,
        ];
        let (h, payload) = Header::parse(&zlb).unwrap();
        assert_eq!(
            h,
            Header::control(12, TunnelId(5), SessionId(0), Seq16(4), Seq16(7))
        );
        assert!(payload.is_empty());
        assert_eq!(payload.start, 12);
    }

    #[test]
    fn version_3_is_rejected() {
        // ROBUSTNESS 13: Ver=3 (an L2TPv3 header), and Ver=1 (L2F).
        let mut d = SCCRP_HEADER;
        d[1] = 0x03;
        assert_eq!(Header::parse(&d), Err(WireError::Version(3)));
        d[1] = 0x01;
        assert_eq!(Header::parse(&d), Err(WireError::Version(1)));
    }

    #[test]
    fn control_flag_rules() {
        // ROBUSTNESS 13: T=1 with L=0; T=1 with S=0; T=1 with O=1.
        for flags in [0x8802u16, 0xc002, 0xca02] {
            let mut d = SCCRP_HEADER;
            d[..2].copy_from_slice(&flags.to_be_bytes());
            assert_eq!(
                Header::parse(&d),
                Err(WireError::ControlHeaderFlags),
                "{flags:#x}"
            );
        }
    }

    #[test]
    fn reserved_bits_are_ignored() {
        let mut d = SCCRP_HEADER.to_vec();
        d.resize(82, 0);
        d[0] |= 0x34; // the three reserved x bits of the first octet
        d[1] |= 0xf0;
        let (h, _) = Header::parse(&d).unwrap();
        assert_eq!(h, sccrp_repr());
    }

    #[test]
    fn bad_lengths() {
        // Length larger than the datagram (ROBUSTNESS 3).
        let mut d = SCCRP_HEADER;
        d[2..4].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(
            Header::parse(&d),
            Err(WireError::BadLength {
                length: 200,
                datagram: 12
            })
        );
        // Length smaller than the header.
        d[2..4].copy_from_slice(&11u16.to_be_bytes());
        assert_eq!(
            Header::parse(&d),
            Err(WireError::BadLength {
                length: 11,
                datagram: 12
            })
        );
        // Offset pad past Length.
        let mut d = DATA_LSOP;
        d[12..14].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            Header::parse(&d),
            Err(WireError::BadLength {
                length: 21,
                datagram: 20
            })
        );
        // Offset pad exactly to the end: empty payload.
        d[12..14].copy_from_slice(&6u16.to_be_bytes());
        assert_eq!(Header::parse(&d).map(|(_, r)| r), Ok(20..20));
    }

    #[test]
    fn bytes_past_length_are_ignored() {
        let mut d = SCCRP_HEADER.to_vec();
        d.resize(100, 0);
        let (_, payload) = Header::parse(&d).unwrap();
        assert_eq!(payload, 12..82);
    }
}
