//! EAP packets (RFC 3748 §4, same format as RFC 2284 §2.2), EAP-MD5 (RFC 3748 §5.4) and
//! EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2-02 §2, [MS-CHAP] §2.2).
//!
//! ```text
//! Request (Code 1) / Response (Code 2):
//! | Code | Identifier | Length | Type | Type-Data ...
//! Success (Code 3) / Failure (Code 4):
//! | Code | Identifier | Length (4) |
//!
//! EAP-MSCHAPv2 Type-Data (Type 26):
//! | OpCode | MS-CHAPv2-ID | MS-Length | Value-Size | Value | Name ...   Challenge, Response
//! | OpCode | MS-CHAPv2-ID | MS-Length | Message ...        Success, Failure from the server
//! | OpCode |                                               Success, Failure from the peer
//! ```

use sras_core::Reader;

use super::chap::{read_value_name, write_value_name};
use super::{packet, MsChapV2Response, Packet, WireError};

/// Length of the EAP-MSCHAPv2 Challenge value (RFC 2759 §3, draft-kamath §2.1).
pub const MSCHAPV2_CHALLENGE_LEN: usize = 16;

sras_core::wire_enum! {
    /// EAP method types (RFC 3748 §5, IANA "EAP Method Types").
    pub enum EapType(u8) {
        /// Identity (RFC 3748 §5.1).
        Identity = 1,
        /// Notification (RFC 3748 §5.2).
        Notification = 2,
        /// Legacy Nak, in Responses only (RFC 3748 §5.3.1).
        Nak = 3,
        /// MD5-Challenge (RFC 3748 §5.4).
        Md5Challenge = 4,
        /// One-Time Password (RFC 3748 §5.5).
        Otp = 5,
        /// Generic Token Card (RFC 3748 §5.6).
        Gtc = 6,
        /// EAP-TLS (RFC 5216).
        Tls = 13,
        /// EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2).
        MsChapV2 = 26,
        /// Expanded Types: Vendor-Id and Vendor-Type lead the type data (RFC 3748 §5.7).
        Expanded = 254,
    }
}

/// An EAP packet (RFC 3748 §4). The Identifier stays in the [`Packet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EapPacket {
    /// Request, Code 1 (§4.1).
    Request {
        /// The Type (§5).
        type_: EapType,
        /// The Type-Data (see [`EapMd5`], [`EapMsChapV2`]; for Identity and Notification the
        /// text, of any length).
        data: Vec<u8>,
    },
    /// Response, Code 2 (§4.1).
    Response {
        /// The Type (§5).
        type_: EapType,
        /// The Type-Data.
        data: Vec<u8>,
    },
    /// Success, Code 3 (§4.2).
    Success,
    /// Failure, Code 4 (§4.2).
    Failure,
}

impl EapPacket {
    /// Code of Request (RFC 3748 §4.1).
    pub const REQUEST: u8 = 1;
    /// Code of Response (RFC 3748 §4.1).
    pub const RESPONSE: u8 = 2;
    /// Code of Success (RFC 3748 §4.2).
    pub const SUCCESS: u8 = 3;
    /// Code of Failure (RFC 3748 §4.2).
    pub const FAILURE: u8 = 4;

    /// Parses an EAP packet (its Code, Identifier and Length are the [`Packet`]'s: RFC 3748
    /// §4 and RFC 1661 §5 share the header).
    ///
    /// Errors: a Request or Response without a Type: [`WireError::Truncated`]; Code not 1-4
    /// (including 5 Initiate and 6 Finish of RFC 6696): [`WireError::UnknownCode`]. Data in
    /// a Success or Failure (§4.2: Length 4) is ignored. Type-Data is bounded only by the
    /// packet: a 1000-octet Identity is data (ROBUSTNESS.md 28, pppd CVE-2020-8597).
    pub fn parse(packet: &Packet<'_>) -> Result<Self, WireError> {
        let typed = |data: &[u8]| match data {
            [t, rest @ ..] => Ok((EapType::from(*t), rest.to_vec())),
            [] => Err(WireError::Truncated {
                needed: 1,
                remaining: 0,
            }),
        };
        Ok(match packet.code {
            Self::REQUEST => {
                let (type_, data) = typed(packet.data)?;
                Self::Request { type_, data }
            }
            Self::RESPONSE => {
                let (type_, data) = typed(packet.data)?;
                Self::Response { type_, data }
            }
            Self::SUCCESS => Self::Success,
            Self::FAILURE => Self::Failure,
            code => return Err(WireError::UnknownCode { what: "EAP", code }),
        })
    }

    /// The Code of this packet.
    pub const fn code(&self) -> u8 {
        match self {
            Self::Request { .. } => Self::REQUEST,
            Self::Response { .. } => Self::RESPONSE,
            Self::Success => Self::SUCCESS,
            Self::Failure => Self::FAILURE,
        }
    }

    /// Appends the whole packet (Code, `identifier`, Length, Type, Type-Data), truncated to
    /// the 16-bit Length.
    pub fn encode(&self, identifier: u8, out: &mut Vec<u8>) {
        let at = packet::begin(self.code(), identifier, out);
        if let Self::Request { type_, data } | Self::Response { type_, data } = self {
            out.push(type_.value());
            out.extend_from_slice(data);
        }
        packet::finish(at, out);
    }
}

/// EAP-MD5 Type-Data (RFC 3748 §5.4): Value-Size, Value, Name, as CHAP (RFC 1994 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EapMd5 {
    /// The challenge, or the response (16 octets, see [`super::md5_value`]).
    pub value: Vec<u8>,
    /// The Name (optional in EAP: may be empty; any length the packet holds).
    pub name: Vec<u8>,
}

impl EapMd5 {
    /// Parses EAP-MD5 Type-Data. Errors: no Value-Size: [`WireError::Truncated`]; Value-Size
    /// past the end: [`WireError::FieldPastEnd`].
    pub fn parse(data: &[u8]) -> Result<Self, WireError> {
        let (value, name) = read_value_name(&mut Reader::new(data), "EAP-MD5 Value")?;
        Ok(Self { value, name })
    }

    /// Appends the Type-Data (a Value longer than 255 octets is truncated).
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_value_name(&self.value, &self.name, out);
    }
}

/// EAP-MSCHAPv2 Type-Data (draft-kamath-pppext-eap-mschapv2-02 §2, [MS-CHAP] §2.2): an
/// MS-CHAPv2 packet (RFC 2759) with its Code as OpCode, its Identifier as MS-CHAPv2-ID and its
/// Length as MS-Length (the Type-Data length); the peer acknowledges Success and Failure with
/// the OpCode alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EapMsChapV2 {
    /// Challenge, OpCode 1 (authenticator to peer): Value-Size 16.
    Challenge {
        /// MS-CHAPv2-ID.
        id: u8,
        /// The 16-octet authenticator challenge.
        challenge: [u8; 16],
        /// The authenticator's Name.
        name: Vec<u8>,
    },
    /// Response, OpCode 2 (peer to authenticator): Value-Size 49.
    Response {
        /// MS-CHAPv2-ID.
        id: u8,
        /// The Response Value (RFC 2759 §4).
        response: MsChapV2Response,
        /// The peer's Name (the user name).
        name: Vec<u8>,
    },
    /// Success request, OpCode 3: `S=<auth string> M=<message>` (RFC 2759 §5).
    Success {
        /// MS-CHAPv2-ID.
        id: u8,
        /// The Message.
        message: Vec<u8>,
    },
    /// Failure request, OpCode 4: `E=eeeeeeeeee R=r C=cccc V=vvvvvvvvvv M=<msg>` (§6).
    Failure {
        /// MS-CHAPv2-ID.
        id: u8,
        /// The Message.
        message: Vec<u8>,
    },
    /// The peer's Success response: the OpCode 3 alone.
    SuccessAck,
    /// The peer's Failure response: the OpCode 4 alone.
    FailureAck,
}

impl EapMsChapV2 {
    /// OpCode of Challenge.
    pub const CHALLENGE: u8 = 1;
    /// OpCode of Response.
    pub const RESPONSE: u8 = 2;
    /// OpCode of Success.
    pub const SUCCESS: u8 = 3;
    /// OpCode of Failure.
    pub const FAILURE: u8 = 4;
    /// OpCode of Change-Password (not supported: parses to [`WireError::UnknownCode`]).
    pub const CHANGE_PASSWORD: u8 = 7;
    /// Length of OpCode, MS-CHAPv2-ID and MS-Length.
    pub const HEADER_LEN: usize = 4;

    /// Parses EAP-MSCHAPv2 Type-Data (the Type-Data of an [`EapPacket`] of Type 26).
    ///
    /// A Success or Failure of exactly one octet is the peer's acknowledgement
    /// ([`EapMsChapV2::SuccessAck`], [`EapMsChapV2::FailureAck`]); with the 4-octet header it
    /// is the authenticator's request (an authenticator receiving that in a Response may treat
    /// it as the acknowledgement). MS-Length is not enforced: the EAP Length bounds the data,
    /// and some servers send a wrong MS-Length (wpa_supplicant ignores it by default for the
    /// same reason, `eap_mschapv2_check_mslen`).
    ///
    /// Errors: empty, or shorter than the 4-octet header: [`WireError::Truncated`]; a
    /// Value-Size past the end: [`WireError::FieldPastEnd`]; a Challenge Value not 16 octets
    /// or a Response Value not 49 (ROBUSTNESS.md 30): [`WireError::ValueLength`]; OpCode 7
    /// (Change-Password) or unknown: [`WireError::UnknownCode`].
    pub fn parse(data: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(data);
        let opcode = r.u8()?;
        match (opcode, data.len()) {
            (Self::SUCCESS, 1) => return Ok(Self::SuccessAck),
            (Self::FAILURE, 1) => return Ok(Self::FailureAck),
            (Self::CHALLENGE..=Self::FAILURE, _) => {}
            (code, _) => {
                return Err(WireError::UnknownCode {
                    what: "EAP-MSCHAPv2 OpCode",
                    code,
                })
            }
        }
        if data.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated {
                needed: Self::HEADER_LEN,
                remaining: data.len(),
            });
        }
        let id = r.u8()?;
        let _ms_length = r.u16()?;
        Ok(match opcode {
            Self::CHALLENGE => {
                let (value, name) = read_value_name(&mut r, "EAP-MSCHAPv2 Value")?;
                let challenge =
                    value
                        .as_slice()
                        .try_into()
                        .map_err(|_| WireError::ValueLength {
                            what: "EAP-MSCHAPv2 Challenge",
                            length: value.len(),
                            expected: MSCHAPV2_CHALLENGE_LEN,
                        })?;
                Self::Challenge {
                    id,
                    challenge,
                    name,
                }
            }
            Self::RESPONSE => {
                let (value, name) = read_value_name(&mut r, "EAP-MSCHAPv2 Value")?;
                Self::Response {
                    id,
                    response: MsChapV2Response::parse(&value)?,
                    name,
                }
            }
            Self::SUCCESS => Self::Success {
                id,
                message: r.rest().to_vec(),
            },
            _ => Self::Failure {
                id,
                message: r.rest().to_vec(),
            },
        })
    }

    /// The OpCode.
    pub const fn opcode(&self) -> u8 {
        match self {
            Self::Challenge { .. } => Self::CHALLENGE,
            Self::Response { .. } => Self::RESPONSE,
            Self::Success { .. } | Self::SuccessAck => Self::SUCCESS,
            Self::Failure { .. } | Self::FailureAck => Self::FAILURE,
        }
    }

    /// Appends the Type-Data, MS-Length filled in.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.push(self.opcode());
        let id = match self {
            Self::Challenge { id, .. }
            | Self::Response { id, .. }
            | Self::Success { id, .. }
            | Self::Failure { id, .. } => *id,
            Self::SuccessAck | Self::FailureAck => return,
        };
        out.extend_from_slice(&[id, 0, 0]);
        match self {
            Self::Challenge {
                challenge, name, ..
            } => write_value_name(challenge, name, out),
            Self::Response { response, name, .. } => {
                write_value_name(&response.encode(), name, out);
            }
            Self::Success { message, .. } | Self::Failure { message, .. } => {
                out.extend_from_slice(message);
            }
            Self::SuccessAck | Self::FailureAck => {}
        }
        //= https://www.rfc-editor.org/internet-drafts/draft-kamath-pppext-eap-mschapv2-02#section-2
        //# The MS-Length field is two octets and MUST be set to the value of the
        //# EAP Length field minus 5.
        let ms_length = u16::try_from(out.len() - at).unwrap_or(u16::MAX);
        out[at + 2..at + 4].copy_from_slice(&ms_length.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::super::chap::tests::{AUTH_CHALLENGE, NT_RESPONSE, PEER_CHALLENGE};
    use super::*;

    fn eap(bytes: &[u8]) -> Result<EapPacket, WireError> {
        EapPacket::parse(&Packet::parse(bytes)?)
    }

    #[test]
    fn identity() {
        // Request/Identity id 1 (no data), Response/Identity id 1 "alice".
        assert_eq!(
            eap(&[1, 1, 0, 5, 1]),
            Ok(EapPacket::Request {
                type_: EapType::Identity,
                data: vec![]
            })
        );
        let resp = [2, 1, 0, 10, 1, b'a', b'l', b'i', b'c', b'e'];
        let p = eap(&resp).unwrap();
        assert_eq!(
            p,
            EapPacket::Response {
                type_: EapType::Identity,
                data: b"alice".to_vec()
            }
        );
        let mut v = Vec::new();
        p.encode(1, &mut v);
        assert_eq!(v, resp);
    }

    #[test]
    fn success_failure() {
        assert_eq!(eap(&[3, 7, 0, 4]), Ok(EapPacket::Success));
        assert_eq!(eap(&[4, 7, 0, 4]), Ok(EapPacket::Failure));
        let mut v = Vec::new();
        EapPacket::Failure.encode(7, &mut v);
        assert_eq!(v, [4, 7, 0, 4]);
        assert_eq!(
            eap(&[5, 1, 0, 4]),
            Err(WireError::UnknownCode {
                what: "EAP",
                code: 5
            })
        );
        assert!(matches!(
            eap(&[1, 1, 0, 4]),
            Err(WireError::Truncated { .. })
        ));
        // Unknown types keep their number.
        assert_eq!(
            eap(&[2, 1, 0, 6, 99, 0]),
            Ok(EapPacket::Response {
                type_: EapType::Unknown(99),
                data: vec![0]
            })
        );
    }

    #[test]
    fn md5() {
        // Request/MD5-Challenge id 2, Length 4 + 1 + 1 + 16 + 3 = 25: Value-Size 16, value,
        // Name "srv".
        let mut d = vec![1, 2, 0, 25, 4, 16];
        d.extend_from_slice(&AUTH_CHALLENGE);
        d.extend_from_slice(b"srv");
        let EapPacket::Request { type_, data } = eap(&d).unwrap() else {
            panic!()
        };
        assert_eq!(type_, EapType::Md5Challenge);
        let m = EapMd5::parse(&data).unwrap();
        assert_eq!(
            m,
            EapMd5 {
                value: AUTH_CHALLENGE.to_vec(),
                name: b"srv".to_vec()
            }
        );
        let mut v = Vec::new();
        m.encode(&mut v);
        assert_eq!(v, data);
        assert!(matches!(
            EapMd5::parse(&[17, 0]),
            Err(WireError::FieldPastEnd { .. })
        ));
        assert!(matches!(
            EapMd5::parse(&[]),
            Err(WireError::Truncated { .. })
        ));
    }

    /// hostapd's EAP-MSCHAPv2 Challenge: OpCode 1, ID 0x2a, MS-Length 4+1+16+4 = 25, Value-Size
    /// 16, challenge, Name "sras".
    fn mschapv2_challenge() -> Vec<u8> {
        let mut d = vec![1, 0x2a, 0, 25, 16];
        d.extend_from_slice(&AUTH_CHALLENGE);
        d.extend_from_slice(b"sras");
        d
    }

    #[test]
    fn mschapv2_challenge_and_response() {
        let d = mschapv2_challenge();
        let c = EapMsChapV2::parse(&d).unwrap();
        assert_eq!(
            c,
            EapMsChapV2::Challenge {
                id: 0x2a,
                challenge: AUTH_CHALLENGE,
                name: b"sras".to_vec()
            }
        );
        let mut v = Vec::new();
        c.encode(&mut v);
        assert_eq!(v, d);

        // Response: MS-Length 4+1+49+4 = 58.
        let mut r = vec![2, 0x2a, 0, 58, 49];
        r.extend_from_slice(&PEER_CHALLENGE);
        r.extend_from_slice(&[0; 8]);
        r.extend_from_slice(&NT_RESPONSE);
        r.push(0);
        r.extend_from_slice(b"User");
        let resp = EapMsChapV2::parse(&r).unwrap();
        assert_eq!(
            resp,
            EapMsChapV2::Response {
                id: 0x2a,
                response: MsChapV2Response {
                    peer_challenge: PEER_CHALLENGE,
                    nt_response: NT_RESPONSE,
                    flags: 0
                },
                name: b"User".to_vec()
            }
        );
        let mut v = Vec::new();
        resp.encode(&mut v);
        assert_eq!(v, r);
        // Inside the EAP packet: Response id 5, Type 26.
        let mut e = Vec::new();
        EapPacket::Response {
            type_: EapType::MsChapV2,
            data: r.clone(),
        }
        .encode(5, &mut e);
        assert_eq!(&e[..5], &[2, 5, 0, 63, 26]);
        assert_eq!(&e[5..], &r[..]);
    }

    #[test]
    fn mschapv2_success_failure() {
        let msg = b"S=407A5589115FD0D6209F510FE9C04566932CDA56 M=OK";
        let mut d = vec![3, 0x2a, 0, 4 + msg.len() as u8];
        d.extend_from_slice(msg);
        let s = EapMsChapV2::parse(&d).unwrap();
        assert_eq!(
            s,
            EapMsChapV2::Success {
                id: 0x2a,
                message: msg.to_vec()
            }
        );
        let mut v = Vec::new();
        s.encode(&mut v);
        assert_eq!(v, d);
        assert_eq!(EapMsChapV2::parse(&[3]), Ok(EapMsChapV2::SuccessAck));
        assert_eq!(EapMsChapV2::parse(&[4]), Ok(EapMsChapV2::FailureAck));
        let mut v = Vec::new();
        EapMsChapV2::FailureAck.encode(&mut v);
        assert_eq!(v, [4]);
        assert_eq!(
            EapMsChapV2::parse(&[4, 1, 0, 4]),
            Ok(EapMsChapV2::Failure {
                id: 1,
                message: vec![]
            })
        );
    }

    #[test]
    fn mschapv2_malformed() {
        assert!(matches!(
            EapMsChapV2::parse(&[]),
            Err(WireError::Truncated { .. })
        ));
        assert_eq!(
            EapMsChapV2::parse(&[1, 2, 0]),
            Err(WireError::Truncated {
                needed: 4,
                remaining: 3
            })
        );
        assert_eq!(
            EapMsChapV2::parse(&[7, 1, 0, 4]),
            Err(WireError::UnknownCode {
                what: "EAP-MSCHAPv2 OpCode",
                code: 7
            })
        );
        // Challenge value of 8 octets.
        let mut d = vec![1, 1, 0, 13, 8];
        d.extend_from_slice(&[0; 8]);
        assert_eq!(
            EapMsChapV2::parse(&d),
            Err(WireError::ValueLength {
                what: "EAP-MSCHAPv2 Challenge",
                length: 8,
                expected: 16
            })
        );
        // Response value of 48 octets (ROBUSTNESS 30).
        let mut d = vec![2, 1, 0, 53, 48];
        d.extend_from_slice(&[0; 48]);
        assert_eq!(
            EapMsChapV2::parse(&d),
            Err(WireError::ValueLength {
                what: "MS-CHAPv2 Response",
                length: 48,
                expected: 49
            })
        );
        // Value-Size past the end.
        assert!(matches!(
            EapMsChapV2::parse(&[2, 1, 0, 6, 49, 0]),
            Err(WireError::FieldPastEnd { .. })
        ));
        // A wrong MS-Length is tolerated.
        let mut d = mschapv2_challenge();
        d[2..4].copy_from_slice(&[0xff, 0xff]);
        assert!(matches!(
            EapMsChapV2::parse(&d),
            Ok(EapMsChapV2::Challenge { .. })
        ));
    }
}
