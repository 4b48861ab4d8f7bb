//! Control messages (RFC 2661 §3.2, §6): a Message Type AVP followed by typed AVPs, with
//! hidden AVPs (§4.3) unhidden on parse and hidden on encode; tunnel authentication (§5.1.1).

use md5::{Digest, Md5};
use sras_core::{Reader, Seq16};

use super::avp::{write_message_type, RawAvp};
use super::header::Header;
use super::{hidden, Avp, AvpType, ResultCode, SessionId, TunnelId, WireError};

sras_core::wire_enum! {
    /// Control message types (RFC 2661 §3.2; values 0, 5 and 13 are reserved).
    pub enum MessageType(u16) {
        /// Start-Control-Connection-Request (§6.1).
        Sccrq = 1,
        /// Start-Control-Connection-Reply (§6.2).
        Sccrp = 2,
        /// Start-Control-Connection-Connected (§6.3).
        Scccn = 3,
        /// Stop-Control-Connection-Notification (§6.4).
        StopCcn = 4,
        /// Hello (§6.5).
        Hello = 6,
        /// Outgoing-Call-Request (§6.9).
        Ocrq = 7,
        /// Outgoing-Call-Reply (§6.10).
        Ocrp = 8,
        /// Outgoing-Call-Connected (§6.11).
        Occn = 9,
        /// Incoming-Call-Request (§6.6).
        Icrq = 10,
        /// Incoming-Call-Reply (§6.7).
        Icrp = 11,
        /// Incoming-Call-Connected (§6.8).
        Iccn = 12,
        /// Call-Disconnect-Notify (§6.12).
        Cdn = 14,
        /// WAN-Error-Notify (§6.13).
        Wen = 15,
        /// Set-Link-Info (§6.14).
        Sli = 16,
    }
}

impl MessageType {
    /// Whether this message belongs to a session rather than to the tunnel (RFC 2661 §3.2:
    /// Call Management, Error Reporting and PPP Session Control, OCRQ through SLI). Matters
    /// for §4.1: an unrecognized M=1 AVP in a session message terminates only that session.
    /// Unknown types are tunnel messages (§4.4.1: the tunnel is cleared).
    pub fn is_session_message(self) -> bool {
        matches!(
            self,
            Self::Ocrq
                | Self::Ocrp
                | Self::Occn
                | Self::Icrq
                | Self::Icrp
                | Self::Iccn
                | Self::Cdn
                | Self::Wen
                | Self::Sli
        )
    }

    /// The AVPs §6.x says MUST be present besides Message Type, in the RFC's order.
    fn required(self) -> &'static [AvpType] {
        use AvpType as T;
        match self {
            //= https://www.rfc-editor.org/rfc/rfc2661#section-6.1
            //# The following AVPs MUST be present in the SCCRQ:
            //# Message Type AVP, Protocol Version, Host Name, Framing Capabilities,
            //# Assigned Tunnel ID
            Self::Sccrq => &[
                T::ProtocolVersion,
                T::HostName,
                T::FramingCapabilities,
                T::AssignedTunnelId,
            ],
            //= https://www.rfc-editor.org/rfc/rfc2661#section-6.2
            //# Message Type, Protocol Version, Framing Capabilities, Host Name, Assigned Tunnel ID
            Self::Sccrp => &[
                T::ProtocolVersion,
                T::FramingCapabilities,
                T::HostName,
                T::AssignedTunnelId,
            ],
            Self::StopCcn => &[T::AssignedTunnelId, T::ResultCode],
            Self::Icrq => &[T::AssignedSessionId, T::CallSerialNumber],
            Self::Icrp | Self::Ocrp => &[T::AssignedSessionId],
            Self::Iccn | Self::Occn => &[T::TxConnectSpeed, T::FramingType],
            Self::Ocrq => &[
                T::AssignedSessionId,
                T::CallSerialNumber,
                T::MinimumBps,
                T::MaximumBps,
                T::BearerType,
                T::FramingType,
                T::CalledNumber,
            ],
            Self::Cdn => &[T::ResultCode, T::AssignedSessionId],
            Self::Wen => &[T::CallErrors],
            Self::Sli => &[T::Accm],
            Self::Scccn | Self::Hello | Self::Unknown(_) => &[],
        }
    }
}

/// A control message (RFC 2661 §3.2, §6): its type and its AVPs in wire order.
///
/// Random Vector AVPs received stay in `avps` (hidden AVPs after them have been unhidden).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlMessage {
    /// The Message Type AVP (§4.4.1).
    pub message_type: MessageType,
    /// Every other AVP, in order (§4.4).
    pub avps: Vec<Avp>,
}

impl ControlMessage {
    /// An empty message of type `message_type` (RFC 2661 §6).
    pub fn new(message_type: MessageType) -> Self {
        Self {
            message_type,
            avps: Vec::new(),
        }
    }

    /// Appends an AVP (builder; RFC 2661 §4.4).
    #[must_use]
    pub fn with(mut self, avp: Avp) -> Self {
        self.avps.push(avp);
        self
    }

    /// Parses the AVPs of a control message body, the payload [`Header::parse`] returns
    /// (RFC 2661 §4.1, §4.3, §4.4).
    ///
    /// - The Message Type AVP MUST be first, vendor 0, reserved bits clear, value 2 octets
    ///   (else [`WireError::MissingMessageType`], also for a body under 8 octets), and not
    ///   hidden ([`WireError::MessageTypeHidden`]). An unknown type parses as
    ///   [`MessageType::Unknown`] whatever its M bit: that bit decides between clearing the
    ///   tunnel (M=1) and ignoring the message (M=0) (§4.4.1); read it with
    ///   [`message_type_mandatory`].
    /// - Every AVP consumes at least 6 octets, so the loop terminates; a Length under 6 is
    ///   [`WireError::AvpTooShort`], past the end [`WireError::AvpPastEnd`].
    /// - Hidden AVPs are unhidden with `secret` and the most recent preceding Random Vector
    ///   of this message ([`WireError::HiddenWithoutSecret`],
    ///   [`WireError::HiddenWithoutRandomVector`], [`WireError::HiddenLength`]).
    /// - A known AVP with a wrong-size or forbidden value is [`WireError::AvpValue`]; AVPs
    ///   with reserved flag bits, vendor AVPs and unknown types are [`Avp::Unknown`].
    pub fn parse(body: &[u8], secret: Option<&[u8]>) -> Result<Self, WireError> {
        //= https://www.rfc-editor.org/rfc/rfc2661#section-4.4.1
        //# The Message Type AVP MUST be the first AVP in a message,
        //# immediately following the control message header
        if body.len() < 8 {
            return Err(WireError::MissingMessageType);
        }
        let mut r = Reader::new(body);
        let first = RawAvp::read(&mut r)?;
        if first.vendor_id != 0
            || first.attribute_type != AvpType::MessageType.value()
            || first.reserved
        {
            return Err(WireError::MissingMessageType);
        }
        //# This AVP may not be hidden (the H-bit MUST be 0).
        if first.hidden {
            return Err(WireError::MessageTypeHidden);
        }
        let [a, b] = first.value else {
            return Err(WireError::MissingMessageType);
        };
        let message_type = MessageType::from(u16::from_be_bytes([*a, *b]));

        let mut avps = Vec::new();
        // The value of the most recent Random Vector AVP (§4.3), owned because it may itself
        // have been hidden.
        let mut random_vector: Option<Vec<u8>> = None;
        while r.any_left() {
            let raw = RawAvp::read(&mut r)?;
            let unknown = |value: Vec<u8>| Avp::Unknown {
                mandatory: raw.mandatory,
                vendor_id: raw.vendor_id,
                attribute_type: raw.attribute_type,
                value,
            };
            //= https://www.rfc-editor.org/rfc/rfc2661#section-4.1
            //# An AVP received with a reserved bit set to 1 MUST be treated as an
            //# unrecognized AVP.
            if raw.reserved {
                avps.push(unknown(raw.value.to_vec()));
                continue;
            }
            let value = if raw.hidden {
                //= https://www.rfc-editor.org/rfc/rfc2661#section-4.3
                //# The H bit MUST only be set if a shared secret exists between the LAC
                //# and LNS.
                let secret = secret.ok_or(WireError::HiddenWithoutSecret)?;
                //# On receipt, the random vector is taken from the last Random Vector
                //# AVP encountered in the message prior to the AVP to be unhidden.
                let rv = random_vector
                    .as_deref()
                    .ok_or(WireError::HiddenWithoutRandomVector)?;
                hidden::unhide(raw.attribute_type, secret, rv, raw.value)?
            } else {
                raw.value.to_vec()
            };
            let avp = if raw.vendor_id == 0 {
                match Avp::decode(AvpType::from(raw.attribute_type), &value) {
                    Some(typed) => typed?,
                    None => unknown(value),
                }
            } else {
                unknown(value)
            };
            if let Avp::RandomVector(rv) = &avp {
                random_vector = Some(rv.clone());
            }
            avps.push(avp);
        }
        Ok(Self { message_type, avps })
    }

    /// Appends the AVPs (RFC 2661 §4.1, §4.4): Message Type first (M=1), then `avps` in
    /// order with the M bits of [`Avp::mandatory`].
    ///
    /// With `hiding = Some((secret, random_vector))`, a Random Vector AVP carrying
    /// `random_vector` is written right after Message Type and every AVP that
    /// [`Avp::may_hide`] is hidden with it (§4.3; no padding). Random Vector AVPs already
    /// in `avps` are then left out, so the parsed result is this message with them removed
    /// and the new one first.
    pub fn encode(&self, out: &mut Vec<u8>, hiding: Option<(&[u8], &[u8; 16])>) {
        write_message_type(out, self.message_type.value());
        let hiding = hiding.map(|(secret, rv)| (secret, &rv[..]));
        if let Some((_, rv)) = hiding {
            //= https://www.rfc-editor.org/rfc/rfc2661#section-4.3
            //# This Random Vector AVP must be placed in the message by the sender
            //# before any hidden AVPs.
            Avp::RandomVector(rv.to_vec()).encode(out, None);
        }
        for avp in &self.avps {
            if hiding.is_some() && matches!(avp, Avp::RandomVector(_)) {
                continue;
            }
            avp.encode(out, hiding);
        }
    }

    /// The first AVP RFC 2661 §6.x requires in this message type that is missing
    /// (ROBUSTNESS A7): SCCRQ (§6.1) and SCCRP (§6.2) Protocol Version, Host Name, Framing
    /// Capabilities, Assigned Tunnel ID; StopCCN (§6.4) Assigned Tunnel ID, Result Code; ICRQ
    /// (§6.6) Assigned Session ID, Call Serial Number; ICRP (§6.7) and OCRP (§6.10) Assigned
    /// Session ID; ICCN (§6.8) and OCCN (§6.11) (Tx) Connect Speed, Framing Type; OCRQ (§6.9)
    /// Assigned Session ID, Call Serial Number, Minimum BPS, Maximum BPS, Bearer Type,
    /// Framing Type, Called Number; CDN (§6.12) Result Code, Assigned Session ID; WEN (§6.13)
    /// Call Errors; SLI (§6.14) ACCM. SCCCN, Hello and unknown types require none.
    pub fn missing_required(&self) -> Option<AvpType> {
        self.message_type
            .required()
            .iter()
            .copied()
            .find(|&t| self.get(t).is_none())
    }

    /// The first unrecognized AVP with M=1 (RFC 2661 §4.1: it terminates the session of a
    /// session message, or the tunnel).
    pub fn unknown_mandatory(&self) -> Option<&Avp> {
        self.avps.iter().find(|a| {
            matches!(
                a,
                Avp::Unknown {
                    mandatory: true,
                    ..
                }
            )
        })
    }

    /// The first AVP of type `t` (RFC 2661 §4.4). Never an [`Avp::Unknown`] for a known `t`.
    pub fn get(&self, t: AvpType) -> Option<&Avp> {
        self.avps.iter().find(|a| a.avp_type() == t)
    }

    fn find<'a, T>(&'a self, f: impl FnMut(&'a Avp) -> Option<T>) -> Option<T> {
        self.avps.iter().find_map(f)
    }

    /// The first Assigned Tunnel ID (RFC 2661 §4.4.3).
    pub fn assigned_tunnel_id(&self) -> Option<TunnelId> {
        self.find(|a| match a {
            Avp::AssignedTunnelId(x) => Some(*x),
            _ => None,
        })
    }

    /// The first Assigned Session ID (RFC 2661 §4.4.4).
    pub fn assigned_session_id(&self) -> Option<SessionId> {
        self.find(|a| match a {
            Avp::AssignedSessionId(x) => Some(*x),
            _ => None,
        })
    }

    /// The first Host Name (RFC 2661 §4.4.3).
    pub fn host_name(&self) -> Option<&[u8]> {
        self.find(|a| match a {
            Avp::HostName(x) => Some(&x[..]),
            _ => None,
        })
    }

    /// The first Receive Window Size (RFC 2661 §4.4.3; absent means 4, §5.8).
    pub fn receive_window_size(&self) -> Option<u16> {
        self.find(|a| match a {
            Avp::ReceiveWindowSize(x) => Some(*x),
            _ => None,
        })
    }

    /// The first Challenge (RFC 2661 §4.4.3).
    pub fn challenge(&self) -> Option<&[u8]> {
        self.find(|a| match a {
            Avp::Challenge(x) => Some(&x[..]),
            _ => None,
        })
    }

    /// The first Challenge Response (RFC 2661 §4.4.3).
    pub fn challenge_response(&self) -> Option<&[u8; 16]> {
        self.find(|a| match a {
            Avp::ChallengeResponse(x) => Some(x),
            _ => None,
        })
    }

    /// The first Tie Breaker (RFC 2661 §4.4.3).
    pub fn tie_breaker(&self) -> Option<u64> {
        self.find(|a| match a {
            Avp::TieBreaker(x) => Some(*x),
            _ => None,
        })
    }

    /// The first Result Code (RFC 2661 §4.4.2).
    pub fn result_code(&self) -> Option<&ResultCode> {
        self.find(|a| match a {
            Avp::ResultCode(x) => Some(x),
            _ => None,
        })
    }

    /// The first Call Serial Number (RFC 2661 §4.4.4).
    pub fn call_serial_number(&self) -> Option<u32> {
        self.find(|a| match a {
            Avp::CallSerialNumber(x) => Some(*x),
            _ => None,
        })
    }

    /// The first (Tx) Connect Speed (RFC 2661 §4.4.4).
    pub fn tx_connect_speed(&self) -> Option<u32> {
        self.find(|a| match a {
            Avp::TxConnectSpeed(x) => Some(*x),
            _ => None,
        })
    }

    /// The first Calling Number (RFC 2661 §4.4.4).
    pub fn calling_number(&self) -> Option<&[u8]> {
        self.find(|a| match a {
            Avp::CallingNumber(x) => Some(&x[..]),
            _ => None,
        })
    }

    /// The first Called Number (RFC 2661 §4.4.4).
    pub fn called_number(&self) -> Option<&[u8]> {
        self.find(|a| match a {
            Avp::CalledNumber(x) => Some(&x[..]),
            _ => None,
        })
    }

    /// The first Protocol Version as (Ver, Rev) (RFC 2661 §4.4.3).
    pub fn protocol_version(&self) -> Option<(u8, u8)> {
        self.find(|a| match a {
            Avp::ProtocolVersion { version, revision } => Some((*version, *revision)),
            _ => None,
        })
    }

    /// Whether a Sequencing Required AVP is present (RFC 2661 §4.4.4).
    pub fn sequencing_required(&self) -> bool {
        self.get(AvpType::SequencingRequired).is_some()
    }

    /// The first ACCM as (send, receive) (RFC 2661 §4.4.6).
    pub fn accm(&self) -> Option<(u32, u32)> {
        self.find(|a| match a {
            Avp::Accm { send, receive } => Some((*send, *receive)),
            _ => None,
        })
    }
}

/// A cheap look at a control body's first AVP (RFC 2661 §4.4.1): the message type if it is a
/// well-formed Message Type AVP (vendor 0, type 0, not hidden, reserved bits clear, Length
/// 8). Does not look at the M bit or any other AVP.
pub fn peek_message_type(body: &[u8]) -> Option<MessageType> {
    match body {
        [flags, 8, 0, 0, 0, 0, a, b, ..] if flags & 0x7f == 0 => {
            Some(MessageType::from(u16::from_be_bytes([*a, *b])))
        }
        _ => None,
    }
}

/// The M bit of a control body's first AVP (RFC 2661 §4.4.1: "if the M-bit is set within
/// the Message Type AVP and the Message Type is unknown to the implementation, the tunnel
/// MUST be cleared. If the M-bit is not set, then the implementation may ignore an unknown
/// message type"). `false` for an empty body.
pub fn message_type_mandatory(body: &[u8]) -> bool {
    body.first().is_some_and(|f| f & 0x80 != 0)
}

/// Appends a whole control datagram (RFC 2661 §3.1, §6): the header (T, L, S set; Length
/// patched to the final size) and then `msg`, or nothing for a ZLB acknowledgement (§5.8).
/// `hiding` is passed to [`ControlMessage::encode`]. A message over 65535 octets (which no
/// UDP datagram can carry) gets Length 65535.
pub fn encode_control(
    tunnel_id: TunnelId,
    session_id: SessionId,
    ns: Seq16,
    nr: Seq16,
    msg: Option<&ControlMessage>,
    hiding: Option<(&[u8], &[u8; 16])>,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    Header::control(0, tunnel_id, session_id, ns, nr).encode(out);
    if let Some(m) = msg {
        m.encode(out, hiding);
    }
    let length = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
    if let Some(l) = out.get_mut(start + 2..start + 4) {
        l.copy_from_slice(&length.to_be_bytes());
    }
}

/// The Challenge Response for tunnel authentication (RFC 2661 §4.4.3, §5.1.1): the CHAP
/// response (RFC 1994) MD5(ID ++ secret ++ challenge), whose ID is the low octet of the
/// Message Type of the message carrying it: 2 for an SCCRP, 3 for an SCCCN.
pub fn challenge_response(message_type: MessageType, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    //= https://www.rfc-editor.org/rfc/rfc2661#section-4.4.3
    //# For purposes of the ID value in the CHAP response calculation, the value of the
    //# Message Type AVP for this message is used (e.g. 2 for an SCCRP, and 3 for an SCCCN).
    let id = message_type.value().to_be_bytes()[1];
    Md5::new()
        .chain_update([id])
        .chain_update(secret)
        .chain_update(challenge)
        .finalize()
        .into()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::wire::CONTROL_HEADER_LEN;

    /// SoftEther 5.01.9674's SCCRP (UDP payload of frame 2 of
    /// `/work/shared/peers/pcap/softether-sccrq-ike-mm1.pcap`): Tunnel 4242, Ns 0, Nr 1;
    /// Message Type 2, Protocol Version 1.0, Framing Capabilities 3 (M=0, against §4.4.3),
    /// Bearer Capabilities 3 (M=0, idem), Host Name "vm", Vendor Name "L2TP", Assigned Tunnel ID 1,
    /// Receive Window Size 16.
    pub(crate) const SOFTETHER_SCCRP: &str = "c8020052109200000000000180080000000000028008000000020100000a0000000300000003000a0000000400000003800800000007766d000a000000084c325450800800000009000100080000000a0010";

    /// Hand-checked SCCRQ (`handcraft.py l2tp`, frame 1 of the same capture; decoded by
    /// tshark 4.0.17): Tunnel 0, Ns 0, Nr 0; Message Type 1, Protocol Version 1.0, Framing
    /// Capabilities 3, Bearer Capabilities 0 (M=0), Host Name "rust-lac", Vendor Name
    /// "peer-test" (M=0), Assigned Tunnel ID 4242, Receive Window Size 8.
    pub(crate) const HANDCRAFT_SCCRQ: &str = "c802005d000000000000000080080000000000018008000000020100800a0000000300000003000a0000000400000000800e00000007727573742d6c6163000f00000008706565722d74657374800800000009109280080000000a0008";

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn sccrq_repr() -> ControlMessage {
        ControlMessage::new(MessageType::Sccrq)
            .with(Avp::ProtocolVersion {
                version: 1,
                revision: 0,
            })
            .with(Avp::FramingCapabilities(3))
            .with(Avp::BearerCapabilities(0))
            .with(Avp::HostName(b"rust-lac".to_vec()))
            .with(Avp::VendorName(b"peer-test".to_vec()))
            .with(Avp::AssignedTunnelId(TunnelId(4242)))
            .with(Avp::ReceiveWindowSize(8))
    }

    fn body(msg: &[u8]) -> &[u8] {
        &msg[CONTROL_HEADER_LEN..]
    }

    /// Builds one raw AVP.
    pub(crate) fn avp(flags: u8, vendor: u16, t: u16, value: &[u8]) -> Vec<u8> {
        let len = 6 + value.len() as u16;
        let mut v = vec![flags | (len >> 8) as u8, len as u8];
        v.extend_from_slice(&vendor.to_be_bytes());
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(value);
        v
    }

    pub(crate) fn mt(t: u16) -> Vec<u8> {
        avp(0x80, 0, 0, &t.to_be_bytes())
    }

    #[test]
    fn parse_softether_sccrp() {
        let d = hex(SOFTETHER_SCCRP);
        let (h, payload) = Header::parse(&d).unwrap();
        assert_eq!(
            h,
            Header::control(82, TunnelId(4242), SessionId(0), Seq16(0), Seq16(1))
        );
        assert_eq!(
            peek_message_type(&d[payload.clone()]),
            Some(MessageType::Sccrp)
        );
        let m = ControlMessage::parse(&d[payload], None).unwrap();
        assert_eq!(
            m,
            ControlMessage::new(MessageType::Sccrp)
                .with(Avp::ProtocolVersion {
                    version: 1,
                    revision: 0
                })
                .with(Avp::FramingCapabilities(3))
                .with(Avp::BearerCapabilities(3))
                .with(Avp::HostName(b"vm".to_vec()))
                .with(Avp::VendorName(b"L2TP".to_vec()))
                .with(Avp::AssignedTunnelId(TunnelId(1)))
                .with(Avp::ReceiveWindowSize(16))
        );
        assert_eq!(m.missing_required(), None);
        assert_eq!(m.unknown_mandatory(), None);
        assert_eq!(m.host_name(), Some(&b"vm"[..]));
        assert_eq!(m.assigned_tunnel_id(), Some(TunnelId(1)));
        assert_eq!(m.receive_window_size(), Some(16));
        assert_eq!(m.protocol_version(), Some((1, 0)));
        assert_eq!(m.challenge(), None);
    }

    #[test]
    fn parse_and_emit_handcrafted_sccrq() {
        let d = hex(HANDCRAFT_SCCRQ);
        let (h, payload) = Header::parse(&d).unwrap();
        assert_eq!(
            h,
            Header::control(93, TunnelId(0), SessionId(0), Seq16(0), Seq16(0))
        );
        let m = ControlMessage::parse(&d[payload], None).unwrap();
        assert_eq!(m, sccrq_repr());
        // Emit: identical bytes except the Bearer Capabilities M bit, which handcraft.py
        // clears and §4.4.3 sets.
        let mut out = Vec::new();
        encode_control(
            TunnelId(0),
            SessionId(0),
            Seq16(0),
            Seq16(0),
            Some(&m),
            None,
            &mut out,
        );
        let mut expect = d.clone();
        expect[12 + 8 + 8 + 10] |= 0x80;
        assert_eq!(out, expect);
    }

    #[test]
    fn zlb() {
        let mut out = vec![0xee];
        encode_control(
            TunnelId(5),
            SessionId(0),
            Seq16(4),
            Seq16(7),
            None,
            None,
            &mut out,
        );
        assert_eq!(
            &out[1..],
            &[0xc8, 0x02, 0x00, 0x0c, 0x00, 0x05, 0x00, 0x00, 0x00, 0x04, 0x00, 0x07]
        );
        let (_, payload) = Header::parse(&out[1..]).unwrap();
        assert!(payload.is_empty());
    }

    #[test]
    fn hidden_round_trip_and_random_vector_placement() {
        let secret = b"tunnel-secret";
        let rv = [7u8; 16];
        let m = ControlMessage::new(MessageType::Icrq)
            .with(Avp::AssignedSessionId(SessionId(77)))
            .with(Avp::CallSerialNumber(1))
            .with(Avp::CallingNumber(
                b"5551234-a-long-calling-number-over-one-block".to_vec(),
            ))
            .with(Avp::Unknown {
                mandatory: false,
                vendor_id: 9,
                attribute_type: 1,
                value: vec![1],
            });
        let mut out = Vec::new();
        m.encode(&mut out, Some((secret, &rv)));
        // Message Type, then the Random Vector, then hidden AVPs.
        assert_eq!(&out[..8], &mt(10)[..]);
        assert_eq!(&out[8..14], &[0x80, 22, 0, 0, 0, 36]);
        assert_eq!(&out[14..30], &rv);
        assert_eq!(out[30] & 0xc0, 0xc0, "Assigned Session ID is hidden, M=1");
        assert_eq!(out[40] & 0xc0, 0xc0, "Call Serial Number is hidden, M=1");
        assert_eq!(peek_message_type(&out), Some(MessageType::Icrq));
        let parsed = ControlMessage::parse(&out, Some(secret)).unwrap();
        let mut expect = m.clone();
        expect.avps.insert(0, Avp::RandomVector(rv.to_vec()));
        assert_eq!(parsed, expect);
        // Without the secret, or with the wrong one.
        assert_eq!(
            ControlMessage::parse(&out, None),
            Err(WireError::HiddenWithoutSecret)
        );
        assert!(ControlMessage::parse(&out, Some(b"wrong"))
            .is_err_and(|e| e != WireError::HiddenWithoutSecret));
        // Re-encoding the parsed message (with its Random Vector) while hiding keeps one RV.
        let mut again = Vec::new();
        parsed.encode(&mut again, Some((secret, &rv)));
        assert_eq!(again, out);
    }

    #[test]
    fn hidden_known_answer() {
        // SCCRQ body with Message Type, Random Vector 00..0f and Assigned Tunnel ID 0x1234
        // hidden under "testsecret": the hidden value is the §4.3 known answer computed with
        // Python's hashlib (see hidden.rs).
        let mut b = mt(1);
        b.extend(avp(0x80, 0, 36, &(0u8..16).collect::<Vec<_>>()));
        b.extend(avp(0xc0, 0, 9, &[0x09, 0x95, 0x53, 0x4a]));
        let m = ControlMessage::parse(&b, Some(b"testsecret")).unwrap();
        assert_eq!(m.assigned_tunnel_id(), Some(TunnelId(0x1234)));
        let mut out = Vec::new();
        ControlMessage::new(MessageType::Sccrq)
            .with(Avp::AssignedTunnelId(TunnelId(0x1234)))
            .encode(
                &mut out,
                Some((b"testsecret", &core::array::from_fn(|i| i as u8))),
            );
        assert_eq!(out, b);
    }

    #[test]
    fn most_recent_random_vector_is_used() {
        let secret = b"s";
        let mut hidden_with_rv2 = Vec::new();
        hidden::hide(14, secret, b"rv2", &[0, 9], &mut hidden_with_rv2);
        let mut b = mt(10);
        b.extend(avp(0x80, 0, 36, b"rv1"));
        b.extend(avp(0x80, 0, 36, b"rv2"));
        b.extend(avp(0xc0, 0, 14, &hidden_with_rv2));
        let m = ControlMessage::parse(&b, Some(secret)).unwrap();
        assert_eq!(m.assigned_session_id(), Some(SessionId(9)));
    }

    #[test]
    fn hidden_without_random_vector() {
        // ROBUSTNESS 5.
        let mut b = mt(1);
        b.extend(avp(0xc0, 0, 9, &[1, 2, 3, 4]));
        assert_eq!(
            ControlMessage::parse(&b, Some(b"s")),
            Err(WireError::HiddenWithoutRandomVector)
        );
        assert_eq!(
            ControlMessage::parse(&b, None),
            Err(WireError::HiddenWithoutSecret)
        );
        // A Random Vector *after* the hidden AVP does not count.
        b.extend(avp(0x80, 0, 36, &[0; 16]));
        assert_eq!(
            ControlMessage::parse(&b, Some(b"s")),
            Err(WireError::HiddenWithoutRandomVector)
        );
    }

    #[test]
    fn hidden_original_length_too_big() {
        // ROBUSTNESS 6: the hidden subformat says 3 octets but only 2 follow.
        let rv = [1u8; 16];
        let mut sub = Vec::new();
        hidden::hide(9, b"s", &rv, &[0xaa, 0xbb, 0xcc], &mut sub);
        sub.pop();
        let mut b = mt(1);
        b.extend(avp(0x80, 0, 36, &rv));
        b.extend(avp(0xc0, 0, 9, &sub));
        b.extend(avp(0x80, 0, 7, b"next"));
        assert_eq!(
            ControlMessage::parse(&b, Some(b"s")),
            Err(WireError::HiddenLength {
                avp: 9,
                original: 3,
                available: 2
            })
        );
    }

    #[test]
    fn avp_length_zero_terminates() {
        // ROBUSTNESS 1: an AVP with Length 0 inside an SCCRQ.
        let d = hex(HANDCRAFT_SCCRQ);
        let mut b = body(&d).to_vec();
        b[8 + 8 + 1] = 0; // Length of Framing Capabilities
        assert_eq!(
            ControlMessage::parse(&b, None),
            Err(WireError::AvpTooShort {
                offset: 16,
                length: 0
            })
        );
        // Also the very first AVP.
        let mut b = body(&d).to_vec();
        b[1] = 0;
        assert_eq!(
            ControlMessage::parse(&b, None),
            Err(WireError::AvpTooShort {
                offset: 0,
                length: 0
            })
        );
        // A body of nothing but zeros.
        assert_eq!(
            ControlMessage::parse(&[0; 64], None),
            Err(WireError::AvpTooShort {
                offset: 0,
                length: 0
            })
        );
    }

    #[test]
    fn string_avp_lengths_one_to_five() {
        // ROBUSTNESS 2: Host Name and Vendor Name with Length 1..=5.
        for t in [7u16, 8] {
            for len in 1u8..=5 {
                let mut b = mt(1);
                b.extend([0x80, len, 0, 0, 0, t as u8, b'a', b'b', b'c', b'd']);
                assert_eq!(
                    ControlMessage::parse(&b, None),
                    Err(WireError::AvpTooShort {
                        offset: 8,
                        length: usize::from(len)
                    })
                );
            }
        }
        // Length 6: an empty Host Name is malformed, an empty Vendor Name is fine.
        let mut b = mt(1);
        b.extend(avp(0x80, 0, 7, b""));
        assert_eq!(
            ControlMessage::parse(&b, None),
            Err(WireError::AvpValue {
                avp: AvpType::HostName,
                reason: "must be at least 1 octet"
            })
        );
        let mut b = mt(1);
        b.extend(avp(0x00, 0, 8, b""));
        assert!(ControlMessage::parse(&b, None).is_ok());
    }

    #[test]
    fn avp_past_end() {
        // ROBUSTNESS 3 (the trigger seen in loopback-l2tp-ppp-esp-malformed.pcap frame 4).
        let d = hex("c802001400000000000000008028000000000001");
        let (_, payload) = Header::parse(&d).unwrap();
        assert_eq!(
            ControlMessage::parse(&d[payload], None),
            Err(WireError::AvpPastEnd {
                offset: 0,
                length: 40,
                remaining: 8
            }),
            "8-byte body whose only AVP claims 40"
        );
        let mut b = mt(1);
        b.extend(avp(0x80, 0, 7, b"host"));
        b.truncate(b.len() - 1);
        assert_eq!(
            ControlMessage::parse(&b, None),
            Err(WireError::AvpPastEnd {
                offset: 8,
                length: 10,
                remaining: 9
            })
        );
        // A runt of 1..5 trailing octets.
        let mut b = mt(1);
        b.extend([0x80, 0x0a, 0]);
        assert_eq!(
            ControlMessage::parse(&b, None),
            Err(WireError::AvpPastEnd {
                offset: 8,
                length: 10,
                remaining: 3
            })
        );
        let mut b = mt(1);
        b.push(0x80);
        assert_eq!(
            ControlMessage::parse(&b, None),
            Err(WireError::Truncated {
                needed: 6,
                remaining: 1
            })
        );
    }

    #[test]
    fn reserved_bits_make_an_avp_unrecognized() {
        // ROBUSTNESS 4: reserved bit + M=1 on a known type -> Unknown, mandatory.
        let mut b = mt(1);
        b.extend(avp(0x80 | 0x10, 0, 9, &[0, 5]));
        let m = ControlMessage::parse(&b, None).unwrap();
        let u = Avp::Unknown {
            mandatory: true,
            vendor_id: 0,
            attribute_type: 9,
            value: vec![0, 5],
        };
        assert_eq!(m.avps, std::slice::from_ref(&u));
        assert_eq!(m.unknown_mandatory(), Some(&u));
        assert_eq!(m.assigned_tunnel_id(), None);
        assert_eq!(m.get(AvpType::AssignedTunnelId), None);
        // Also with H=1 and no secret: nothing is decrypted, it is just unrecognized.
        let mut b = mt(1);
        b.extend(avp(0x40 | 0x08, 0, 9, &[0, 5]));
        let m = ControlMessage::parse(&b, None).unwrap();
        assert!(matches!(
            m.avps[..],
            [Avp::Unknown {
                mandatory: false,
                ..
            }]
        ));
        assert_eq!(m.unknown_mandatory(), None);
    }

    #[test]
    fn vendor_avps() {
        // ROBUSTNESS 9: unknown vendor AVP with M=1 in an ICRQ; with M=0.
        let mut b = mt(10);
        b.extend(avp(0x80, 0, 14, &[0, 3]));
        b.extend(avp(0x80, 0, 15, &[0, 0, 0, 1]));
        b.extend(avp(0x80, 311, 7, b"x"));
        let m = ControlMessage::parse(&b, None).unwrap();
        assert!(m.message_type.is_session_message());
        assert!(matches!(
            m.unknown_mandatory(),
            Some(Avp::Unknown {
                vendor_id: 311,
                attribute_type: 7,
                ..
            })
        ));
        assert_eq!(m.host_name(), None);
        b[8 + 8 + 10] = 0x00;
        let m = ControlMessage::parse(&b, None).unwrap();
        assert_eq!(m.unknown_mandatory(), None);
        assert_eq!(m.missing_required(), None);
        // Unknown vendor-0 type 20 (Packet Processing Delay of the draft) in a Hello.
        let mut b = mt(6);
        b.extend(avp(0x80, 0, 20, &[0, 0]));
        let m = ControlMessage::parse(&b, None).unwrap();
        assert!(!m.message_type.is_session_message());
        assert!(m.unknown_mandatory().is_some());
    }

    #[test]
    fn message_type_rules() {
        // ROBUSTNESS 7: first AVP not Message Type, Message Type hidden, body too short.
        let mut b = avp(0x80, 0, 7, b"host");
        b.extend(mt(1));
        assert_eq!(
            ControlMessage::parse(&b, None),
            Err(WireError::MissingMessageType)
        );
        let mut b = avp(0xc0, 0, 0, &[0, 1]);
        b.extend(avp(0x80, 0, 36, &[0; 16]));
        assert_eq!(
            ControlMessage::parse(&b, Some(b"s")),
            Err(WireError::MessageTypeHidden)
        );
        for n in 0..8 {
            assert_eq!(
                ControlMessage::parse(&mt(1)[..n], None),
                Err(WireError::MissingMessageType)
            );
        }
        assert_eq!(
            ControlMessage::parse(&avp(0x80, 0, 0, &[1]), None),
            Err(WireError::MissingMessageType)
        );
        assert_eq!(
            ControlMessage::parse(&avp(0x80, 0, 0, &[0, 0, 1]), None),
            Err(WireError::MissingMessageType)
        );
        assert_eq!(
            ControlMessage::parse(&avp(0x80, 9, 0, &[0, 1]), None),
            Err(WireError::MissingMessageType)
        );
        assert_eq!(
            ControlMessage::parse(&avp(0xa0, 0, 0, &[0, 1]), None),
            Err(WireError::MissingMessageType)
        );
        // The body ends right after the Message Type: fine (SCCCN, Hello).
        assert_eq!(
            ControlMessage::parse(&mt(6), None),
            Ok(ControlMessage::new(MessageType::Hello))
        );
        // M=0 on a known type is accepted.
        assert_eq!(
            ControlMessage::parse(&avp(0x00, 0, 0, &[0, 3]), None),
            Ok(ControlMessage::new(MessageType::Scccn))
        );
        // A second Message Type later is unrecognized.
        let mut b = mt(6);
        b.extend(mt(4));
        let m = ControlMessage::parse(&b, None).unwrap();
        assert!(matches!(
            m.avps[..],
            [Avp::Unknown {
                attribute_type: 0,
                ..
            }]
        ));
        let mut again = Vec::new();
        m.encode(&mut again, None);
        assert_eq!(ControlMessage::parse(&again, None), Ok(m));
    }

    #[test]
    fn unknown_message_type() {
        // ROBUSTNESS 8: parses either way; M=1 clears the tunnel, M=0 may be ignored.
        let mut b = mt(99);
        b.extend(avp(0x80, 0, 7, b"h"));
        let m = ControlMessage::parse(&b, None).unwrap();
        assert_eq!(m.message_type, MessageType::Unknown(99));
        assert!(!m.message_type.is_session_message());
        assert_eq!(m.missing_required(), None);
        assert_eq!(peek_message_type(&b), Some(MessageType::Unknown(99)));
        assert!(message_type_mandatory(&b));
        b[0] = 0;
        assert_eq!(ControlMessage::parse(&b, None), Ok(m));
        assert!(!message_type_mandatory(&b));
        assert!(!message_type_mandatory(&[]));
        // Reserved values 0, 5, 13 are unknown too.
        for t in [0, 5, 13] {
            assert_eq!(
                ControlMessage::parse(&mt(t), None).map(|m| m.message_type),
                Ok(MessageType::Unknown(t))
            );
        }
    }

    #[test]
    fn result_code_of_eight_bytes() {
        // ROBUSTNESS 12: StopCCN and CDN with a result-only Result Code.
        let mut b = mt(4);
        b.extend(avp(0x80, 0, 9, &[0, 7]));
        b.extend(avp(0x80, 0, 1, &[0, 1]));
        let m = ControlMessage::parse(&b, None).unwrap();
        assert_eq!(m.result_code(), Some(&ResultCode::new(1, None, None)));
        assert_eq!(m.missing_required(), None);
        let mut b = mt(14);
        b.extend(avp(0x80, 0, 1, &[0, 3]));
        b.extend(avp(0x80, 0, 14, &[0, 2]));
        let m = ControlMessage::parse(&b, None).unwrap();
        assert_eq!(
            m.result_code().map(|r| r.result),
            Some(crate::wire::result::ADMINISTRATIVE)
        );
        assert_eq!(m.assigned_session_id(), Some(SessionId(2)));
    }

    #[test]
    fn zero_ids_parse() {
        // ROBUSTNESS 10 is the endpoint's: the codec hands it the 0.
        let mut b = mt(1);
        b.extend(avp(0x80, 0, 9, &[0, 0]));
        assert_eq!(
            ControlMessage::parse(&b, None)
                .unwrap()
                .assigned_tunnel_id(),
            Some(TunnelId(0))
        );
    }

    #[test]
    fn missing_required() {
        // ROBUSTNESS 11 / A7.
        let full = sccrq_repr();
        assert_eq!(full.missing_required(), None);
        for t in [
            AvpType::HostName,
            AvpType::FramingCapabilities,
            AvpType::ProtocolVersion,
            AvpType::AssignedTunnelId,
        ] {
            let mut m = full.clone();
            m.avps.retain(|a| a.avp_type() != t);
            assert_eq!(m.missing_required(), Some(t));
        }
        // Short Framing Capabilities is a value error, not a missing AVP.
        let mut b = mt(1);
        b.extend(avp(0x80, 0, 3, &[0, 0, 3]));
        assert_eq!(
            ControlMessage::parse(&b, None),
            Err(WireError::AvpValue {
                avp: AvpType::FramingCapabilities,
                reason: "value must be 4 octets"
            })
        );
        let cases: [(MessageType, &[AvpType]); 12] = [
            (MessageType::Scccn, &[]),
            (MessageType::Hello, &[]),
            (
                MessageType::StopCcn,
                &[AvpType::AssignedTunnelId, AvpType::ResultCode],
            ),
            (
                MessageType::Icrq,
                &[AvpType::AssignedSessionId, AvpType::CallSerialNumber],
            ),
            (MessageType::Icrp, &[AvpType::AssignedSessionId]),
            (
                MessageType::Iccn,
                &[AvpType::TxConnectSpeed, AvpType::FramingType],
            ),
            (MessageType::Ocrp, &[AvpType::AssignedSessionId]),
            (
                MessageType::Occn,
                &[AvpType::TxConnectSpeed, AvpType::FramingType],
            ),
            (
                MessageType::Cdn,
                &[AvpType::ResultCode, AvpType::AssignedSessionId],
            ),
            (MessageType::Wen, &[AvpType::CallErrors]),
            (MessageType::Sli, &[AvpType::Accm]),
            (
                MessageType::Ocrq,
                &[
                    AvpType::AssignedSessionId,
                    AvpType::CallSerialNumber,
                    AvpType::MinimumBps,
                ],
            ),
        ];
        for (t, first) in cases {
            assert_eq!(
                ControlMessage::new(t).missing_required(),
                first.first().copied(),
                "{t:?}"
            );
        }
    }

    #[test]
    fn accessors() {
        let m = ControlMessage::new(MessageType::Iccn)
            .with(Avp::TxConnectSpeed(10_000_000))
            .with(Avp::FramingType(1))
            .with(Avp::SequencingRequired)
            .with(Avp::TieBreaker(42))
            .with(Avp::Challenge(vec![1, 2]))
            .with(Avp::ChallengeResponse([3; 16]))
            .with(Avp::CallingNumber(b"123".to_vec()))
            .with(Avp::CalledNumber(b"456".to_vec()))
            .with(Avp::CallSerialNumber(5))
            .with(Avp::Accm {
                send: 1,
                receive: 2,
            })
            .with(Avp::TxConnectSpeed(1));
        assert_eq!(m.tx_connect_speed(), Some(10_000_000));
        assert!(m.sequencing_required());
        assert_eq!(m.tie_breaker(), Some(42));
        assert_eq!(m.challenge(), Some(&[1, 2][..]));
        assert_eq!(m.challenge_response(), Some(&[3; 16]));
        assert_eq!(m.calling_number(), Some(&b"123"[..]));
        assert_eq!(m.called_number(), Some(&b"456"[..]));
        assert_eq!(m.call_serial_number(), Some(5));
        assert_eq!(m.accm(), Some((1, 2)));
        assert_eq!(m.result_code(), None);
        assert!(!ControlMessage::new(MessageType::Hello).sequencing_required());
    }

    #[test]
    fn peek() {
        assert_eq!(peek_message_type(&mt(3)), Some(MessageType::Scccn));
        assert_eq!(peek_message_type(&avp(0xc0, 0, 0, &[0, 3])), None);
        assert_eq!(peek_message_type(&avp(0x88, 0, 0, &[0, 3])), None);
        assert_eq!(peek_message_type(&avp(0x80, 1, 0, &[0, 3])), None);
        assert_eq!(peek_message_type(&avp(0x80, 0, 0, &[0, 3, 0])), None);
        assert_eq!(peek_message_type(&mt(3)[..7]), None);
        assert_eq!(
            peek_message_type(&avp(0x00, 0, 0, &[0, 3])),
            Some(MessageType::Scccn)
        );
    }

    #[test]
    fn tunnel_authentication() {
        // MD5(0x02 ++ "secret" ++ challenge 00..0f), computed with Python's hashlib.
        let challenge: Vec<u8> = (0..16).collect();
        assert_eq!(
            challenge_response(MessageType::Sccrp, b"secret", &challenge),
            [
                0xdd, 0x41, 0x86, 0xe2, 0x19, 0x6f, 0x00, 0x12, 0x4a, 0x9d, 0x58, 0x8f, 0x02, 0x70,
                0x12, 0x59
            ]
        );
        assert_ne!(
            challenge_response(MessageType::Scccn, b"secret", &challenge),
            challenge_response(MessageType::Sccrp, b"secret", &challenge)
        );
    }

    #[test]
    fn session_messages() {
        use MessageType as M;
        for t in MessageType::KNOWN {
            let session = matches!(
                t,
                M::Ocrq
                    | M::Ocrp
                    | M::Occn
                    | M::Icrq
                    | M::Icrp
                    | M::Iccn
                    | M::Cdn
                    | M::Wen
                    | M::Sli
            );
            assert_eq!(t.is_session_message(), session, "{t:?}");
        }
    }
}
