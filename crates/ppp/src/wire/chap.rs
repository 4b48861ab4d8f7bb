//! CHAP packets (RFC 1994 §4) and the MS-CHAP Response values (RFC 2433 §2, RFC 2759 §4).
//!
//! ```text
//! Challenge (Code 1) / Response (Code 2):
//! | Code | Identifier | Length | Value-Size | Value ... | Name ...
//! Success (Code 3) / Failure (Code 4):
//! | Code | Identifier | Length | Message ...
//! ```

use sras_core::Reader;

use super::{packet, read_len8, write_len8, Packet, WireError};

/// Length of a CHAP-MD5 (and EAP-MD5) Response Value: an MD5 digest (RFC 1994 §4.1).
pub const MD5_VALUE_LEN: usize = 16;

/// Length of an MS-CHAP Response Value, version 1 (RFC 2433 §2) and 2 (RFC 2759 §4).
pub const MSCHAP_RESPONSE_LEN: usize = 49;

/// A CHAP packet (RFC 1994 §4). The Identifier stays in the [`Packet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChapPacket {
    /// Challenge, Code 1 (§4.1).
    Challenge {
        /// The challenge Value (MS-CHAPv1: 8 octets; MS-CHAPv2: 16).
        value: Vec<u8>,
        /// The Name of the authenticator.
        name: Vec<u8>,
    },
    /// Response, Code 2 (§4.1).
    Response {
        /// The response Value (MD5: 16 octets, see [`md5_value`]; MS-CHAP: 49, see
        /// [`MsChapV1Response`] and [`MsChapV2Response`]).
        value: Vec<u8>,
        /// The Name of the peer (the user name).
        name: Vec<u8>,
    },
    /// Success, Code 3 (§4.2); MS-CHAPv2 puts `S=<auth string> M=<message>` here.
    Success {
        /// The Message.
        message: Vec<u8>,
    },
    /// Failure, Code 4 (§4.2); MS-CHAP puts "E=... R=... C=... V=... M=..." here.
    Failure {
        /// The Message.
        message: Vec<u8>,
    },
}

impl ChapPacket {
    /// Code of Challenge (RFC 1994 §4.1).
    pub const CHALLENGE: u8 = 1;
    /// Code of Response (RFC 1994 §4.1).
    pub const RESPONSE: u8 = 2;
    /// Code of Success (RFC 1994 §4.2).
    pub const SUCCESS: u8 = 3;
    /// Code of Failure (RFC 1994 §4.2).
    pub const FAILURE: u8 = 4;

    /// Parses the Data of a CHAP packet by its Code.
    ///
    /// Errors: a Challenge or Response without Value-Size: [`WireError::Truncated`]; a
    /// Value-Size running past the packet: [`WireError::FieldPastEnd`]; Code not 1-4:
    /// [`WireError::UnknownCode`]. The Value length a method needs (16 for MD5, 49 for
    /// MS-CHAP, ROBUSTNESS.md 30) is checked by [`md5_value`], [`MsChapV1Response::parse`]
    /// and [`MsChapV2Response::parse`]. The Name is the rest of the packet, of any length.
    pub fn parse(packet: &Packet<'_>) -> Result<Self, WireError> {
        let mut r = Reader::new(packet.data);
        Ok(match packet.code {
            Self::CHALLENGE => {
                let (value, name) = read_value_name(&mut r, "CHAP Value")?;
                Self::Challenge { value, name }
            }
            Self::RESPONSE => {
                let (value, name) = read_value_name(&mut r, "CHAP Value")?;
                Self::Response { value, name }
            }
            Self::SUCCESS => Self::Success {
                message: packet.data.to_vec(),
            },
            Self::FAILURE => Self::Failure {
                message: packet.data.to_vec(),
            },
            code => return Err(WireError::UnknownCode { what: "CHAP", code }),
        })
    }

    /// The Code of this packet.
    pub const fn code(&self) -> u8 {
        match self {
            Self::Challenge { .. } => Self::CHALLENGE,
            Self::Response { .. } => Self::RESPONSE,
            Self::Success { .. } => Self::SUCCESS,
            Self::Failure { .. } => Self::FAILURE,
        }
    }

    /// Appends the whole packet (Code, `identifier`, Length, Data). A Value longer than 255
    /// octets is truncated to 255, and the packet to the 16-bit Length.
    pub fn encode(&self, identifier: u8, out: &mut Vec<u8>) {
        let at = packet::begin(self.code(), identifier, out);
        match self {
            Self::Challenge { value, name } | Self::Response { value, name } => {
                write_value_name(value, name, out);
            }
            Self::Success { message } | Self::Failure { message } => {
                out.extend_from_slice(message);
            }
        }
        packet::finish(at, out);
    }
}

/// Value-Size, Value, then Name to the end (RFC 1994 §4.1; EAP-MD5, RFC 3748 §5.4;
/// EAP-MSCHAPv2 Challenge and Response).
pub(super) fn read_value_name(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<(Vec<u8>, Vec<u8>), WireError> {
    //= https://www.rfc-editor.org/rfc/rfc1994#section-4.1
    //# This field is one octet and indicates the length of the Value
    //# field.
    let value = read_len8(r, field)?.to_vec();
    //# The Name field is one or more octets representing the
    //# identification of the system transmitting the packet.  There are
    //# no limitations on the content of this field.
    let name = r.rest().to_vec();
    Ok((value, name))
}

/// Appends Value-Size, Value (at most 255 octets) and Name.
pub(super) fn write_value_name(value: &[u8], name: &[u8], out: &mut Vec<u8>) {
    write_len8(value, out);
    out.extend_from_slice(name);
}

/// The Value of a CHAP-MD5 or EAP-MD5 Response as a digest: exactly 16 octets (RFC 1994 §4.1,
/// ROBUSTNESS.md 30), else [`WireError::ValueLength`].
pub fn md5_value(value: &[u8]) -> Result<[u8; MD5_VALUE_LEN], WireError> {
    value.try_into().map_err(|_| WireError::ValueLength {
        what: "MD5 Response",
        length: value.len(),
        expected: MD5_VALUE_LEN,
    })
}

fn mschap_value(value: &[u8], what: &'static str) -> Result<[u8; MSCHAP_RESPONSE_LEN], WireError> {
    value.try_into().map_err(|_| WireError::ValueLength {
        what,
        length: value.len(),
        expected: MSCHAP_RESPONSE_LEN,
    })
}

fn array<const N: usize>(v: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&v[..N]);
    a
}

/// The Value of an MS-CHAP version 2 Response (RFC 2759 §4): Peer-Challenge (16), Reserved
/// (8, zero), NT-Response (24), Flags (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsChapV2Response {
    /// The peer's 16-octet random challenge.
    pub peer_challenge: [u8; 16],
    /// GenerateNTResponse() of the password, user name and both challenges (§8.1).
    pub nt_response: [u8; 24],
    /// The Flags octet (§4: "reserved for future use and MUST be zero"), kept as received.
    pub flags: u8,
}

impl MsChapV2Response {
    /// Parses a Response Value: exactly 49 octets (ROBUSTNESS.md 30), else
    /// [`WireError::ValueLength`]. The Reserved octets are ignored (pppd does the same).
    pub fn parse(value: &[u8]) -> Result<Self, WireError> {
        let v = mschap_value(value, "MS-CHAPv2 Response")?;
        Ok(Self {
            peer_challenge: array(&v[..16]),
            nt_response: array(&v[24..48]),
            flags: v[48],
        })
    }

    /// The 49-octet Response Value, Reserved octets zero.
    pub fn encode(&self) -> [u8; MSCHAP_RESPONSE_LEN] {
        let mut v = [0u8; MSCHAP_RESPONSE_LEN];
        v[..16].copy_from_slice(&self.peer_challenge);
        v[24..48].copy_from_slice(&self.nt_response);
        v[48] = self.flags;
        v
    }
}

/// The Value of an MS-CHAP version 1 Response (RFC 2433 §2): LM-Response (24), NT-Response
/// (24), the "use Windows NT compatible challenge response" flag (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsChapV1Response {
    /// The LAN Manager compatible response (deprecated: "SHOULD be zero-filled").
    pub lm_response: [u8; 24],
    /// The Windows NT compatible response, NTChallengeResponse() (RFC 2433 §A.5).
    pub nt_response: [u8; 24],
    /// The flag: the NT-Response is to be used (it "SHOULD always be set").
    pub use_nt: bool,
}

impl MsChapV1Response {
    /// Parses a Response Value: exactly 49 octets (ROBUSTNESS.md 30), else
    /// [`WireError::ValueLength`]. The flag is bit 0 of the last octet (RFC 2433 §2); the
    /// other bits are ignored.
    pub fn parse(value: &[u8]) -> Result<Self, WireError> {
        let v = mschap_value(value, "MS-CHAPv1 Response")?;
        Ok(Self {
            lm_response: array(&v[..24]),
            nt_response: array(&v[24..48]),
            use_nt: v[48] & 1 == 1,
        })
    }

    /// The 49-octet Response Value.
    pub fn encode(&self) -> [u8; MSCHAP_RESPONSE_LEN] {
        let mut v = [0u8; MSCHAP_RESPONSE_LEN];
        v[..24].copy_from_slice(&self.lm_response);
        v[24..48].copy_from_slice(&self.nt_response);
        v[48] = u8::from(self.use_nt);
        v
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// RFC 2759 §9.2: PeerChallenge and NT-Response for user "User", password "clientPass".
    pub(in crate::wire) const PEER_CHALLENGE: [u8; 16] = [
        0x21, 0x40, 0x23, 0x24, 0x25, 0x5E, 0x26, 0x2A, 0x28, 0x29, 0x5F, 0x2B, 0x3A, 0x33, 0x7C,
        0x7E,
    ];
    pub(in crate::wire) const NT_RESPONSE: [u8; 24] = [
        0x82, 0x30, 0x9E, 0xCD, 0x8D, 0x70, 0x8B, 0x5E, 0xA0, 0x8F, 0xAA, 0x39, 0x81, 0xCD, 0x83,
        0x54, 0x42, 0x33, 0x11, 0x4A, 0x3D, 0x85, 0xD6, 0xDF,
    ];
    /// RFC 2759 §9.2: the AuthenticatorChallenge.
    pub(in crate::wire) const AUTH_CHALLENGE: [u8; 16] = [
        0x5B, 0x5D, 0x7C, 0x7D, 0x7B, 0x3F, 0x2F, 0x3E, 0x3C, 0x2C, 0x60, 0x21, 0x32, 0x26, 0x26,
        0x28,
    ];

    /// An MS-CHAPv2 Response packet, id 0x2a, with the §9.2 values and Name "User":
    /// Length 4 + 1 + 49 + 4 = 58.
    fn mschapv2_response_packet() -> Vec<u8> {
        let mut p = vec![2, 0x2a, 0, 58, 49];
        p.extend_from_slice(&PEER_CHALLENGE);
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&NT_RESPONSE);
        p.push(0);
        p.extend_from_slice(b"User");
        p
    }

    #[test]
    fn mschapv2_response() {
        let bytes = mschapv2_response_packet();
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(p.identifier, 0x2a);
        let chap = ChapPacket::parse(&p).unwrap();
        let ChapPacket::Response { value, name } = &chap else {
            panic!("not a response: {chap:?}")
        };
        assert_eq!(name, b"User");
        let r = MsChapV2Response::parse(value).unwrap();
        assert_eq!(r.peer_challenge, PEER_CHALLENGE);
        assert_eq!(r.nt_response, NT_RESPONSE);
        assert_eq!(r.flags, 0);
        assert_eq!(&r.encode()[..], &value[..]);
        let mut v = Vec::new();
        chap.encode(0x2a, &mut v);
        assert_eq!(v, bytes);
    }

    #[test]
    fn mschapv2_challenge_and_success() {
        // Challenge id 1, 16-octet value, Name "sras".
        let mut c = vec![1, 1, 0, 25, 16];
        c.extend_from_slice(&AUTH_CHALLENGE);
        c.extend_from_slice(b"sras");
        let chap = ChapPacket::parse(&Packet::parse(&c).unwrap()).unwrap();
        assert_eq!(
            chap,
            ChapPacket::Challenge {
                value: AUTH_CHALLENGE.to_vec(),
                name: b"sras".to_vec()
            }
        );
        let mut v = Vec::new();
        chap.encode(1, &mut v);
        assert_eq!(v, c);
        // Success with the §9.2 authenticator response.
        let msg = b"S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Access granted";
        let mut s = vec![3, 1, 0, 4 + msg.len() as u8];
        s.extend_from_slice(msg);
        let chap = ChapPacket::parse(&Packet::parse(&s).unwrap()).unwrap();
        assert_eq!(
            chap,
            ChapPacket::Success {
                message: msg.to_vec()
            }
        );
        let mut v = Vec::new();
        chap.encode(1, &mut v);
        assert_eq!(v, s);
        // Failure "E=691 R=0 V=3".
        let f = [
            4, 1, 0, 17, b'E', b'=', b'6', b'9', b'1', b' ', b'R', b'=', b'0', b' ', b'V', b'=',
            b'3',
        ];
        assert_eq!(
            ChapPacket::parse(&Packet::parse(&f).unwrap()),
            Ok(ChapPacket::Failure {
                message: f[4..].to_vec()
            })
        );
    }

    #[test]
    fn md5_response() {
        // Response id 9, MD5 value 00..0f, Name "bob".
        let mut r = vec![2, 9, 0, 24, 16];
        r.extend(0u8..16);
        r.extend_from_slice(b"bob");
        let chap = ChapPacket::parse(&Packet::parse(&r).unwrap()).unwrap();
        let ChapPacket::Response { value, name } = &chap else {
            panic!("{chap:?}")
        };
        assert_eq!(name, b"bob");
        let want: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(md5_value(value), Ok(want));
    }

    #[test]
    fn value_lengths() {
        // ROBUSTNESS 30: CHAP-MD5 Response Value not 16, MS-CHAPv2 Response not 49.
        for n in [0, 15, 17, 49] {
            assert_eq!(
                md5_value(&vec![0; n]),
                Err(WireError::ValueLength {
                    what: "MD5 Response",
                    length: n,
                    expected: 16
                })
            );
        }
        for n in [0, 16, 48, 50] {
            assert_eq!(
                MsChapV2Response::parse(&vec![0; n]),
                Err(WireError::ValueLength {
                    what: "MS-CHAPv2 Response",
                    length: n,
                    expected: 49
                })
            );
            assert!(MsChapV1Response::parse(&vec![0; n]).is_err());
        }
        // Value-Size past the end; missing Value-Size.
        assert_eq!(
            ChapPacket::parse(&Packet::parse(&[2, 1, 0, 7, 16, 1, 2]).unwrap()),
            Err(WireError::FieldPastEnd {
                field: "CHAP Value",
                length: 16,
                remaining: 2
            })
        );
        assert!(matches!(
            ChapPacket::parse(&Packet::parse(&[1, 1, 0, 4]).unwrap()),
            Err(WireError::Truncated { .. })
        ));
        assert_eq!(
            ChapPacket::parse(&Packet::parse(&[5, 1, 0, 4]).unwrap()),
            Err(WireError::UnknownCode {
                what: "CHAP",
                code: 5
            })
        );
    }

    #[test]
    fn mschapv1_response() {
        let mut v = [0u8; 49];
        v[24..48].copy_from_slice(&NT_RESPONSE);
        v[48] = 1;
        let r = MsChapV1Response::parse(&v).unwrap();
        assert_eq!(
            r,
            MsChapV1Response {
                lm_response: [0; 24],
                nt_response: NT_RESPONSE,
                use_nt: true
            }
        );
        assert_eq!(r.encode(), v);
    }

    #[test]
    fn reserved_octets_are_ignored() {
        let mut v = [0u8; 49];
        v[16..24].fill(0xee);
        let r = MsChapV2Response::parse(&v).unwrap();
        assert_eq!(r.encode()[16..24], [0; 8]);
    }
}
