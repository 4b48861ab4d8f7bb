//! PAP packets (RFC 1334 §2.2).
//!
//! ```text
//! Authenticate-Request (Code 1):
//! | Code | Identifier | Length | Peer-ID Length | Peer-Id ... | Passwd-Length | Password ...
//! Authenticate-Ack (2) / Authenticate-Nak (3):
//! | Code | Identifier | Length | Msg-Length | Message ...
//! ```

use sras_core::Reader;

use super::{packet, read_len8, write_len8, Packet, WireError};

/// A PAP packet (RFC 1334 §2.2). The Identifier stays in the [`Packet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PapPacket {
    /// Authenticate-Request, Code 1 (§2.2.1).
    Request {
        /// The Peer-Id (the user name).
        peer_id: Vec<u8>,
        /// The Password, in the clear.
        password: Vec<u8>,
    },
    /// Authenticate-Ack, Code 2 (§2.2.2).
    Ack {
        /// The Message (may be empty).
        message: Vec<u8>,
    },
    /// Authenticate-Nak, Code 3 (§2.2.2).
    Nak {
        /// The Message (may be empty).
        message: Vec<u8>,
    },
}

impl PapPacket {
    /// Code of Authenticate-Request (RFC 1334 §2.2.1).
    pub const REQUEST: u8 = 1;
    /// Code of Authenticate-Ack (RFC 1334 §2.2.2).
    pub const ACK: u8 = 2;
    /// Code of Authenticate-Nak (RFC 1334 §2.2.2).
    pub const NAK: u8 = 3;

    /// Parses the Data of a PAP packet by its Code.
    ///
    /// Errors: a Peer-ID Length or Passwd-Length running past the packet
    /// (ROBUSTNESS.md 30): [`WireError::FieldPastEnd`]; a missing length octet in a Request:
    /// [`WireError::Truncated`]; Code not 1-3: [`WireError::UnknownCode`]. Lenient where
    /// peers are (pppd `upap_rauthack`): an Ack or Nak without its Msg-Length octet has an
    /// empty message, and octets after the last field are ignored.
    pub fn parse(packet: &Packet<'_>) -> Result<Self, WireError> {
        let mut r = Reader::new(packet.data);
        Ok(match packet.code {
            Self::REQUEST => {
                //= https://www.rfc-editor.org/rfc/rfc1334#section-2.2.1
                //# The Peer-ID Length field is one octet and indicates the length of
                //# the Peer-ID field.
                let peer_id = read_len8(&mut r, "PAP Peer-ID")?.to_vec();
                let password = read_len8(&mut r, "PAP Password")?.to_vec();
                Self::Request { peer_id, password }
            }
            Self::ACK => Self::Ack {
                message: read_message(&mut r)?,
            },
            Self::NAK => Self::Nak {
                message: read_message(&mut r)?,
            },
            code => return Err(WireError::UnknownCode { what: "PAP", code }),
        })
    }

    /// The Code of this packet.
    pub const fn code(&self) -> u8 {
        match self {
            Self::Request { .. } => Self::REQUEST,
            Self::Ack { .. } => Self::ACK,
            Self::Nak { .. } => Self::NAK,
        }
    }

    /// Appends the whole packet (Code, `identifier`, Length, Data). Fields longer than 255
    /// octets are truncated to 255.
    pub fn encode(&self, identifier: u8, out: &mut Vec<u8>) {
        let at = packet::begin(self.code(), identifier, out);
        match self {
            Self::Request { peer_id, password } => {
                write_len8(peer_id, out);
                write_len8(password, out);
            }
            Self::Ack { message } | Self::Nak { message } => write_len8(message, out),
        }
        packet::finish(at, out);
    }
}

/// The Msg-Length and Message of an Ack or Nak; none at all is an empty message.
fn read_message(r: &mut Reader<'_>) -> Result<Vec<u8>, WireError> {
    if !r.any_left() {
        return Ok(Vec::new());
    }
    Ok(read_len8(r, "PAP Message")?.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Authenticate-Request id 1: Peer-Id "alice", Password "secret".
    const REQUEST: [u8; 17] = [
        1, 1, 0, 17, 5, b'a', b'l', b'i', b'c', b'e', 6, b's', b'e', b'c', b'r', b'e', b't',
    ];

    #[test]
    fn request() {
        let p = Packet::parse(&REQUEST).unwrap();
        let pap = PapPacket::parse(&p).unwrap();
        assert_eq!(
            pap,
            PapPacket::Request {
                peer_id: b"alice".to_vec(),
                password: b"secret".to_vec()
            }
        );
        let mut v = Vec::new();
        pap.encode(1, &mut v);
        assert_eq!(v, REQUEST);
    }

    #[test]
    fn ack_and_nak() {
        // pppd's Ack: "Login ok".
        let ack = [
            2, 1, 0, 13, 8, b'L', b'o', b'g', b'i', b'n', b' ', b'o', b'k',
        ];
        let pap = PapPacket::parse(&Packet::parse(&ack).unwrap()).unwrap();
        assert_eq!(
            pap,
            PapPacket::Ack {
                message: b"Login ok".to_vec()
            }
        );
        let mut v = Vec::new();
        pap.encode(1, &mut v);
        assert_eq!(v, ack);
        // A bare Nak without Msg-Length.
        assert_eq!(
            PapPacket::parse(&Packet::parse(&[3, 4, 0, 4]).unwrap()),
            Ok(PapPacket::Nak { message: vec![] })
        );
        let mut v = Vec::new();
        PapPacket::Nak { message: vec![] }.encode(4, &mut v);
        assert_eq!(v, [3, 4, 0, 5, 0]);
    }

    #[test]
    fn lengths_past_the_end() {
        // ROBUSTNESS 30: Peer-ID Length past the end.
        let mut d = REQUEST;
        d[4] = 13;
        assert_eq!(
            PapPacket::parse(&Packet::parse(&d).unwrap()),
            Err(WireError::FieldPastEnd {
                field: "PAP Peer-ID",
                length: 13,
                remaining: 12
            })
        );
        // Passwd-Length past the end.
        let mut d = REQUEST;
        d[10] = 7;
        assert_eq!(
            PapPacket::parse(&Packet::parse(&d).unwrap()),
            Err(WireError::FieldPastEnd {
                field: "PAP Password",
                length: 7,
                remaining: 6
            })
        );
        // No Passwd-Length at all.
        assert!(matches!(
            PapPacket::parse(&Packet {
                code: 1,
                identifier: 1,
                data: &REQUEST[4..10]
            }),
            Err(WireError::Truncated { .. })
        ));
        // Msg-Length past the end.
        assert!(matches!(
            PapPacket::parse(&Packet::parse(&[2, 1, 0, 6, 9, b'x']).unwrap()),
            Err(WireError::FieldPastEnd { .. })
        ));
        assert_eq!(
            PapPacket::parse(&Packet::parse(&[4, 1, 0, 4]).unwrap()),
            Err(WireError::UnknownCode {
                what: "PAP",
                code: 4
            })
        );
    }

    #[test]
    fn trailing_octets_are_ignored() {
        let mut d = REQUEST.to_vec();
        d.extend_from_slice(&[0xee, 0xee]);
        d[3] = 19;
        assert!(matches!(
            PapPacket::parse(&Packet::parse(&d).unwrap()),
            Ok(PapPacket::Request { .. })
        ));
    }
}
