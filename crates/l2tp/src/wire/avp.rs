//! Attribute Value Pairs (RFC 2661 §4.1, §4.4): the AVP header, the typed AVPs of §4.4 and
//! the Result Code AVP.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |M|H| rsvd  |      Length       |           Vendor ID           |
//! |         Attribute Type        |        Attribute Value...
//! ```

use sras_core::Reader;

use super::{hidden, SessionId, TunnelId, WireError};

const AVP_M: u16 = 0x8000;
const AVP_H: u16 = 0x4000;
const AVP_RESERVED: u16 = 0x3C00;
/// The first reserved flag bit, set only when re-emitting an AVP that was unrecognized
/// because of its reserved bits (see [`Avp::Unknown`]).
const AVP_RESERVED_FIRST: u16 = 0x2000;
const AVP_LENGTH_MASK: u16 = 0x03FF;

/// Length of the AVP header: flags and Length, Vendor ID, Attribute Type (RFC 2661 §4.1:
/// "The minimum Length of an AVP is 6").
pub const AVP_HEADER_LEN: usize = 6;

/// Largest AVP Length (RFC 2661 §4.1: the field "is 10 bits, permitting a maximum of 1023
/// octets of data in a single AVP"; the 1023 includes the 6-octet header).
pub const AVP_MAX_LEN: usize = 1023;

/// Largest attribute value that fits in one AVP.
const AVP_MAX_VALUE: usize = AVP_MAX_LEN - AVP_HEADER_LEN;

sras_core::wire_enum! {
    /// AVP attribute types of vendor 0 (RFC 2661 §4.4, IANA registry §10.1).
    pub enum AvpType(u16) {
        /// Message Type (§4.4.1).
        MessageType = 0,
        /// Result Code (§4.4.2).
        ResultCode = 1,
        /// Protocol Version (§4.4.3).
        ProtocolVersion = 2,
        /// Framing Capabilities (§4.4.3).
        FramingCapabilities = 3,
        /// Bearer Capabilities (§4.4.3).
        BearerCapabilities = 4,
        /// Tie Breaker (§4.4.3).
        TieBreaker = 5,
        /// Firmware Revision (§4.4.3).
        FirmwareRevision = 6,
        /// Host Name (§4.4.3).
        HostName = 7,
        /// Vendor Name (§4.4.3).
        VendorName = 8,
        /// Assigned Tunnel ID (§4.4.3).
        AssignedTunnelId = 9,
        /// Receive Window Size (§4.4.3).
        ReceiveWindowSize = 10,
        /// Challenge (§4.4.3).
        Challenge = 11,
        /// Q.931 Cause Code (§4.4.4).
        Q931CauseCode = 12,
        /// Challenge Response (§4.4.3).
        ChallengeResponse = 13,
        /// Assigned Session ID (§4.4.4).
        AssignedSessionId = 14,
        /// Call Serial Number (§4.4.4).
        CallSerialNumber = 15,
        /// Minimum BPS (§4.4.4).
        MinimumBps = 16,
        /// Maximum BPS (§4.4.4).
        MaximumBps = 17,
        /// Bearer Type (§4.4.4).
        BearerType = 18,
        /// Framing Type (§4.4.4).
        FramingType = 19,
        /// Called Number (§4.4.4).
        CalledNumber = 21,
        /// Calling Number (§4.4.4).
        CallingNumber = 22,
        /// Sub-Address (§4.4.4).
        SubAddress = 23,
        /// (Tx) Connect Speed (§4.4.4).
        TxConnectSpeed = 24,
        /// Physical Channel ID (§4.4.4).
        PhysicalChannelId = 25,
        /// Initial Received LCP CONFREQ (§4.4.5).
        InitialReceivedLcpConfReq = 26,
        /// Last Sent LCP CONFREQ (§4.4.5).
        LastSentLcpConfReq = 27,
        /// Last Received LCP CONFREQ (§4.4.5).
        LastReceivedLcpConfReq = 28,
        /// Proxy Authen Type (§4.4.5).
        ProxyAuthenType = 29,
        /// Proxy Authen Name (§4.4.5).
        ProxyAuthenName = 30,
        /// Proxy Authen Challenge (§4.4.5).
        ProxyAuthenChallenge = 31,
        /// Proxy Authen ID (§4.4.5).
        ProxyAuthenId = 32,
        /// Proxy Authen Response (§4.4.5).
        ProxyAuthenResponse = 33,
        /// Call Errors (§4.4.6).
        CallErrors = 34,
        /// ACCM (§4.4.6).
        Accm = 35,
        /// Random Vector (§4.4.1).
        RandomVector = 36,
        /// Private Group ID (§4.4.4).
        PrivateGroupId = 37,
        /// Rx Connect Speed (§4.4.4).
        RxConnectSpeed = 38,
        /// Sequencing Required (§4.4.4).
        SequencingRequired = 39,
    }
}

/// Result Code values (RFC 2661 §4.4.2). StopCCN and CDN share the numbering space, so the
/// constants overlap: the first group is for StopCCN, the second for CDN.
pub mod result {
    // StopCCN (§4.4.2).
    /// StopCCN 1: general request to clear control connection (§4.4.2).
    pub const GENERAL_REQUEST: u16 = 1;
    /// StopCCN 2: general error, Error Code indicates the problem (§4.4.2).
    pub const GENERAL_ERROR: u16 = 2;
    /// StopCCN 3: control channel already exists (§4.4.2).
    pub const ALREADY_EXISTS: u16 = 3;
    /// StopCCN 4: requester is not authorized to establish a control channel (§4.4.2).
    pub const NOT_AUTHORIZED: u16 = 4;
    /// StopCCN 5: the protocol version of the requester is not supported; Error Code
    /// indicates the highest version supported (§4.4.2).
    pub const BAD_PROTOCOL_VERSION: u16 = 5;
    /// StopCCN 6: requester is being shut down (§4.4.2).
    pub const SHUTTING_DOWN: u16 = 6;
    /// StopCCN 7: finite state machine error (§4.4.2).
    pub const FSM_ERROR: u16 = 7;

    // CDN (§4.4.2).
    /// CDN 1: call disconnected due to loss of carrier (§4.4.2).
    pub const LOST_CARRIER: u16 = 1;
    /// CDN 2: call disconnected for the reason indicated in Error Code (§4.4.2).
    pub const CDN_ERROR: u16 = 2;
    /// CDN 3: call disconnected for administrative reasons (§4.4.2).
    pub const ADMINISTRATIVE: u16 = 3;
    /// CDN 4: lack of appropriate facilities, temporary condition (§4.4.2).
    pub const TEMP_NO_FACILITIES: u16 = 4;
    /// CDN 5: lack of appropriate facilities, permanent condition (§4.4.2).
    pub const PERM_NO_FACILITIES: u16 = 5;
    /// CDN 6: invalid destination (§4.4.2).
    pub const INVALID_DESTINATION: u16 = 6;
    /// CDN 7: call failed due to no carrier detected (§4.4.2).
    pub const NO_CARRIER: u16 = 7;
    /// CDN 8: call failed due to detection of a busy signal (§4.4.2).
    pub const BUSY: u16 = 8;
    /// CDN 9: call failed due to lack of a dial tone (§4.4.2).
    pub const NO_DIAL_TONE: u16 = 9;
    /// CDN 10: call was not established within time allotted by LAC (§4.4.2).
    pub const TIMEOUT: u16 = 10;
    /// CDN 11: call was connected but no appropriate framing was detected (§4.4.2).
    pub const NO_FRAMING: u16 = 11;
}

/// General Error Code values (RFC 2661 §4.4.2).
pub mod error {
    /// 0: no general error (§4.4.2).
    pub const NO_ERROR: u16 = 0;
    /// 1: no control connection exists yet for this LAC-LNS pair (§4.4.2).
    pub const NO_CONTROL_CONNECTION: u16 = 1;
    /// 2: length is wrong (§4.4.2).
    pub const BAD_LENGTH: u16 = 2;
    /// 3: one of the field values was out of range or reserved field was non-zero (§4.4.2).
    pub const OUT_OF_RANGE: u16 = 3;
    /// 4: insufficient resources to handle this operation now (§4.4.2).
    pub const INSUFFICIENT_RESOURCES: u16 = 4;
    /// 5: the Session ID is invalid in this context (§4.4.2).
    pub const INVALID_SESSION_ID: u16 = 5;
    /// 6: a generic vendor-specific error occurred in the LAC (§4.4.2).
    pub const VENDOR_SPECIFIC: u16 = 6;
    /// 7: try another LNS (§4.4.2).
    pub const TRY_ANOTHER: u16 = 7;
    /// 8: session or tunnel shut down due to receipt of an unknown AVP with the M-bit set
    /// (§4.4.2); the Error Message SHOULD name the attribute.
    pub const UNKNOWN_MANDATORY_AVP: u16 = 8;
}

/// The Result Code AVP (RFC 2661 §4.4.2): Result Code, then optional Error Code and Error
/// Message. "The Length is 8 if there is no Error Code or Message": an 8-byte AVP is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultCode {
    /// Result Code: see [`result`] (§4.4.2).
    pub result: u16,
    /// Error Code, if present: see [`error`] (§4.4.2).
    pub error: Option<u16>,
    /// Error Message, if present (§4.4.2: UTF-8; invalid octets received are replaced with
    /// U+FFFD). Never `Some("")`.
    pub message: Option<String>,
}

impl ResultCode {
    /// A Result Code AVP value (RFC 2661 §4.4.2), normalized so that it encodes and parses
    /// back unchanged: an empty message is `None`, and a message without an error code gets
    /// Error Code 0 ([`error::NO_ERROR`]), because the message can only follow an Error Code.
    pub fn new(result: u16, error: Option<u16>, message: Option<&str>) -> Self {
        let message = message.filter(|m| !m.is_empty()).map(str::to_owned);
        let error = match (error, &message) {
            (None, Some(_)) => Some(error::NO_ERROR),
            (e, _) => e,
        };
        Self {
            result,
            error,
            message,
        }
    }

    fn decode(v: &[u8]) -> Result<Self, WireError> {
        let bad = |reason| WireError::AvpValue {
            avp: AvpType::ResultCode,
            reason,
        };
        match v {
            [a, b] => Ok(Self {
                result: u16::from_be_bytes([*a, *b]),
                error: None,
                message: None,
            }),
            [a, b, c, d, msg @ ..] => Ok(Self {
                result: u16::from_be_bytes([*a, *b]),
                error: Some(u16::from_be_bytes([*c, *d])),
                message: (!msg.is_empty()).then(|| String::from_utf8_lossy(msg).into_owned()),
            }),
            [_, _, _] => Err(bad("3 octets: a partial Error Code")),
            _ => Err(bad("shorter than the 2-octet Result Code")),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.result.to_be_bytes());
        let message = self.message.as_deref().unwrap_or("");
        if self.error.is_some() || !message.is_empty() {
            out.extend_from_slice(&self.error.unwrap_or(error::NO_ERROR).to_be_bytes());
            out.extend_from_slice(message.as_bytes());
        }
    }
}

/// A typed AVP (RFC 2661 §4.4). The Message Type AVP is not one of them: it is
/// [`ControlMessage::message_type`](super::ControlMessage::message_type).
///
/// Received M bits of recognized AVPs are not kept (the RFC fixes them per attribute, and an
/// AVP we recognize is processed whatever its M bit says); [`Avp::mandatory`] gives the bit
/// we send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Avp {
    /// Result Code (§4.4.2).
    ResultCode(ResultCode),
    /// Protocol Version (§4.4.3): 1.0 for RFC 2661.
    ProtocolVersion {
        /// Ver.
        version: u8,
        /// Rev.
        revision: u8,
    },
    /// Framing Capabilities (§4.4.3): bit 0 S (synchronous), bit 1 A (asynchronous).
    FramingCapabilities(u32),
    /// Bearer Capabilities (§4.4.3): bit 0 D (digital), bit 1 A (analog).
    BearerCapabilities(u32),
    /// Tie Breaker (§4.4.3).
    TieBreaker(u64),
    /// Firmware Revision (§4.4.3).
    FirmwareRevision(u16),
    /// Host Name (§4.4.3): at least 1 octet.
    HostName(Vec<u8>),
    /// Vendor Name (§4.4.3).
    VendorName(Vec<u8>),
    /// Assigned Tunnel ID (§4.4.3). Zero parses (the endpoint refuses it with Error Code 3).
    AssignedTunnelId(TunnelId),
    /// Receive Window Size (§4.4.3).
    ReceiveWindowSize(u16),
    /// Challenge (§4.4.3): at least 1 octet.
    Challenge(Vec<u8>),
    /// Q.931 Cause Code (§4.4.4).
    Q931CauseCode {
        /// Cause Code.
        cause: u16,
        /// Cause Msg.
        message: u8,
        /// Advisory Msg (optional, may be empty).
        advisory: Vec<u8>,
    },
    /// Challenge Response (§4.4.3): 16 octets.
    ChallengeResponse([u8; 16]),
    /// Assigned Session ID (§4.4.4). Zero parses (the endpoint refuses it).
    AssignedSessionId(SessionId),
    /// Call Serial Number (§4.4.4).
    CallSerialNumber(u32),
    /// Minimum BPS (§4.4.4).
    MinimumBps(u32),
    /// Maximum BPS (§4.4.4).
    MaximumBps(u32),
    /// Bearer Type (§4.4.4).
    BearerType(u32),
    /// Framing Type (§4.4.4).
    FramingType(u32),
    /// Called Number (§4.4.4).
    CalledNumber(Vec<u8>),
    /// Calling Number (§4.4.4).
    CallingNumber(Vec<u8>),
    /// Sub-Address (§4.4.4).
    SubAddress(Vec<u8>),
    /// (Tx) Connect Speed (§4.4.4).
    TxConnectSpeed(u32),
    /// Rx Connect Speed (§4.4.4).
    RxConnectSpeed(u32),
    /// Physical Channel ID (§4.4.4).
    PhysicalChannelId(u32),
    /// Private Group ID (§4.4.4).
    PrivateGroupId(Vec<u8>),
    /// Sequencing Required (§4.4.4): no value.
    SequencingRequired,
    /// Initial Received LCP CONFREQ (§4.4.5).
    InitialReceivedLcpConfReq(Vec<u8>),
    /// Last Sent LCP CONFREQ (§4.4.5).
    LastSentLcpConfReq(Vec<u8>),
    /// Last Received LCP CONFREQ (§4.4.5).
    LastReceivedLcpConfReq(Vec<u8>),
    /// Proxy Authen Type (§4.4.5).
    ProxyAuthenType(u16),
    /// Proxy Authen Name (§4.4.5).
    ProxyAuthenName(Vec<u8>),
    /// Proxy Authen Challenge (§4.4.5).
    ProxyAuthenChallenge(Vec<u8>),
    /// Proxy Authen ID (§4.4.5): the low octet of the 2-octet field (the high one is
    /// reserved and ignored on receipt).
    ProxyAuthenId(u8),
    /// Proxy Authen Response (§4.4.5).
    ProxyAuthenResponse(Vec<u8>),
    /// Call Errors (§4.4.6). The 2 reserved octets are ignored on receipt.
    CallErrors {
        /// CRC Errors.
        crc: u32,
        /// Framing Errors.
        framing: u32,
        /// Hardware Overruns.
        hardware_overruns: u32,
        /// Buffer Overruns.
        buffer_overruns: u32,
        /// Time-out Errors.
        timeout: u32,
        /// Alignment Errors.
        alignment: u32,
    },
    /// ACCM (§4.4.6). The 2 reserved octets are ignored on receipt.
    Accm {
        /// Send ACCM.
        send: u32,
        /// Receive ACCM.
        receive: u32,
    },
    /// Random Vector (§4.4.1).
    RandomVector(Vec<u8>),
    /// Anything not recognized (§4.1): vendor AVPs (`vendor_id != 0`), unknown attribute
    /// types, a Message Type AVP that is not first, and any AVP with reserved flag bits set
    /// (§4.1: "MUST be treated as an unrecognized AVP"), whose received M bit is kept. The
    /// value is as received (hidden or not: an unrecognized AVP is not unhidden, except a
    /// vendor or unknown-type AVP with H=1, which is unhidden like any other).
    ///
    /// Encoding: written as is, never hidden. One whose vendor is 0 and whose type this crate
    /// recognizes can only have come from an AVP with reserved bits set; it is re-emitted
    /// with the first reserved bit set so that it stays unrecognized when parsed again.
    Unknown {
        /// M bit as received.
        mandatory: bool,
        /// Vendor ID.
        vendor_id: u16,
        /// Attribute Type.
        attribute_type: u16,
        /// Attribute Value.
        value: Vec<u8>,
    },
}

/// An AVP as it sits on the wire (RFC 2661 §4.1), value still hidden if H=1.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawAvp<'a> {
    /// M bit.
    pub(crate) mandatory: bool,
    /// H bit.
    pub(crate) hidden: bool,
    /// Any of the four reserved flag bits.
    pub(crate) reserved: bool,
    /// Vendor ID.
    pub(crate) vendor_id: u16,
    /// Attribute Type.
    pub(crate) attribute_type: u16,
    /// Attribute Value (Length − 6 octets).
    pub(crate) value: &'a [u8],
}

impl<'a> RawAvp<'a> {
    /// Reads one AVP header and its value (RFC 2661 §4.1). Consumes at least 6 bytes on
    /// success. Offsets in errors are relative to the start of `r` (the message body).
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Self, WireError> {
        let offset = r.used();
        let remaining = r.left();
        if remaining < AVP_HEADER_LEN {
            // Report the Length field if there is one: a runt AVP at the end of a message.
            if let Ok(word) = r.clone().u16() {
                let length = usize::from(word & AVP_LENGTH_MASK);
                if length < AVP_HEADER_LEN {
                    return Err(WireError::AvpTooShort { offset, length });
                }
                return Err(WireError::AvpPastEnd {
                    offset,
                    length,
                    remaining,
                });
            }
            return Err(WireError::Truncated {
                needed: AVP_HEADER_LEN,
                remaining,
            });
        }
        let word = r.u16()?;
        let length = usize::from(word & AVP_LENGTH_MASK);
        //= https://www.rfc-editor.org/rfc/rfc2661#section-4.1
        //# The minimum Length of an AVP is 6.
        if length < AVP_HEADER_LEN {
            return Err(WireError::AvpTooShort { offset, length });
        }
        if length > remaining {
            return Err(WireError::AvpPastEnd {
                offset,
                length,
                remaining,
            });
        }
        let vendor_id = r.u16()?;
        let attribute_type = r.u16()?;
        let value = r.take(length - AVP_HEADER_LEN)?;
        Ok(Self {
            mandatory: word & AVP_M != 0,
            hidden: word & AVP_H != 0,
            reserved: word & AVP_RESERVED != 0,
            vendor_id,
            attribute_type,
            value,
        })
    }
}

/// Appends an AVP header and value. `value.len()` must be at most [`AVP_MAX_VALUE`].
fn write_avp(out: &mut Vec<u8>, flags: u16, vendor_id: u16, attribute_type: u16, value: &[u8]) {
    let length = (AVP_HEADER_LEN + value.len()) as u16 & AVP_LENGTH_MASK;
    out.extend_from_slice(&(flags | length).to_be_bytes());
    out.extend_from_slice(&vendor_id.to_be_bytes());
    out.extend_from_slice(&attribute_type.to_be_bytes());
    out.extend_from_slice(value);
}

/// Appends the Message Type AVP (RFC 2661 §4.4.1: first, M=1, H=0, Length 8).
pub(crate) fn write_message_type(out: &mut Vec<u8>, message_type: u16) {
    write_avp(
        out,
        AVP_M,
        0,
        AvpType::MessageType.value(),
        &message_type.to_be_bytes(),
    );
}

fn fixed<const N: usize>(avp: AvpType, v: &[u8]) -> Result<[u8; N], WireError> {
    v.try_into().map_err(|_| WireError::AvpValue {
        avp,
        reason: match N {
            2 => "value must be 2 octets",
            4 => "value must be 4 octets",
            8 => "value must be 8 octets",
            10 => "value must be 10 octets",
            16 => "value must be 16 octets",
            26 => "value must be 26 octets",
            _ => "wrong value size",
        },
    })
}

fn u16_of(avp: AvpType, v: &[u8]) -> Result<u16, WireError> {
    fixed::<2>(avp, v).map(u16::from_be_bytes)
}

fn u32_of(avp: AvpType, v: &[u8]) -> Result<u32, WireError> {
    fixed::<4>(avp, v).map(u32::from_be_bytes)
}

fn non_empty(avp: AvpType, v: &[u8]) -> Result<Vec<u8>, WireError> {
    if v.is_empty() {
        Err(WireError::AvpValue {
            avp,
            reason: "must be at least 1 octet",
        })
    } else {
        Ok(v.to_vec())
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_be_bytes(a)
}

impl Avp {
    /// Decodes the (clear) value of a vendor-0 AVP of a known type (RFC 2661 §4.4.x). Returns
    /// `None` for [`AvpType::MessageType`] and unknown types: those are not typed AVPs.
    pub(crate) fn decode(t: AvpType, v: &[u8]) -> Option<Result<Self, WireError>> {
        use AvpType as T;
        let r = match t {
            T::MessageType | T::Unknown(_) => return None,
            T::ResultCode => ResultCode::decode(v).map(Self::ResultCode),
            T::ProtocolVersion => fixed::<2>(t, v)
                .map(|[version, revision]| Self::ProtocolVersion { version, revision }),
            T::FramingCapabilities => u32_of(t, v).map(Self::FramingCapabilities),
            T::BearerCapabilities => u32_of(t, v).map(Self::BearerCapabilities),
            T::TieBreaker => fixed::<8>(t, v).map(|a| Self::TieBreaker(u64::from_be_bytes(a))),
            T::FirmwareRevision => u16_of(t, v).map(Self::FirmwareRevision),
            //= https://www.rfc-editor.org/rfc/rfc2661#section-4.4.3
            //# The Host Name is of arbitrary length, but MUST be at least 1
            //# octet.
            T::HostName => non_empty(t, v).map(Self::HostName),
            T::VendorName => Ok(Self::VendorName(v.to_vec())),
            T::AssignedTunnelId => u16_of(t, v).map(|x| Self::AssignedTunnelId(TunnelId(x))),
            T::ReceiveWindowSize => u16_of(t, v).map(Self::ReceiveWindowSize),
            //# The Challenge is one or more octets of random data.
            T::Challenge => non_empty(t, v).map(Self::Challenge),
            T::Q931CauseCode => match v {
                [a, b, m, advisory @ ..] => Ok(Self::Q931CauseCode {
                    cause: u16::from_be_bytes([*a, *b]),
                    message: *m,
                    advisory: advisory.to_vec(),
                }),
                _ => Err(WireError::AvpValue {
                    avp: t,
                    reason: "shorter than Cause Code and Cause Msg (3 octets)",
                }),
            },
            T::ChallengeResponse => fixed::<16>(t, v).map(Self::ChallengeResponse),
            T::AssignedSessionId => u16_of(t, v).map(|x| Self::AssignedSessionId(SessionId(x))),
            T::CallSerialNumber => u32_of(t, v).map(Self::CallSerialNumber),
            T::MinimumBps => u32_of(t, v).map(Self::MinimumBps),
            T::MaximumBps => u32_of(t, v).map(Self::MaximumBps),
            T::BearerType => u32_of(t, v).map(Self::BearerType),
            T::FramingType => u32_of(t, v).map(Self::FramingType),
            T::CalledNumber => Ok(Self::CalledNumber(v.to_vec())),
            T::CallingNumber => Ok(Self::CallingNumber(v.to_vec())),
            T::SubAddress => Ok(Self::SubAddress(v.to_vec())),
            T::TxConnectSpeed => u32_of(t, v).map(Self::TxConnectSpeed),
            T::PhysicalChannelId => u32_of(t, v).map(Self::PhysicalChannelId),
            T::InitialReceivedLcpConfReq => Ok(Self::InitialReceivedLcpConfReq(v.to_vec())),
            T::LastSentLcpConfReq => Ok(Self::LastSentLcpConfReq(v.to_vec())),
            T::LastReceivedLcpConfReq => Ok(Self::LastReceivedLcpConfReq(v.to_vec())),
            T::ProxyAuthenType => u16_of(t, v).map(Self::ProxyAuthenType),
            T::ProxyAuthenName => Ok(Self::ProxyAuthenName(v.to_vec())),
            T::ProxyAuthenChallenge => Ok(Self::ProxyAuthenChallenge(v.to_vec())),
            T::ProxyAuthenId => fixed::<2>(t, v).map(|[_, id]| Self::ProxyAuthenId(id)),
            T::ProxyAuthenResponse => Ok(Self::ProxyAuthenResponse(v.to_vec())),
            T::CallErrors => fixed::<26>(t, v).map(|a| Self::CallErrors {
                crc: be32(&a, 2),
                framing: be32(&a, 6),
                hardware_overruns: be32(&a, 10),
                buffer_overruns: be32(&a, 14),
                timeout: be32(&a, 18),
                alignment: be32(&a, 22),
            }),
            T::Accm => fixed::<10>(t, v).map(|a| Self::Accm {
                send: be32(&a, 2),
                receive: be32(&a, 6),
            }),
            T::RandomVector => Ok(Self::RandomVector(v.to_vec())),
            T::PrivateGroupId => Ok(Self::PrivateGroupId(v.to_vec())),
            T::RxConnectSpeed => u32_of(t, v).map(Self::RxConnectSpeed),
            T::SequencingRequired => {
                if v.is_empty() {
                    Ok(Self::SequencingRequired)
                } else {
                    Err(WireError::AvpValue {
                        avp: t,
                        reason: "must have no value",
                    })
                }
            }
        };
        Some(r)
    }

    /// The attribute type (RFC 2661 §4.4). For [`Avp::Unknown`] it is always
    /// `AvpType::Unknown(attribute_type)`, even when the number is one the registry knows:
    /// such an AVP was not recognized (reserved bits, a vendor ID, or a misplaced Message
    /// Type), so [`ControlMessage::get`](super::ControlMessage::get) never returns it for a
    /// known type.
    pub fn avp_type(&self) -> AvpType {
        use AvpType as T;
        match self {
            Self::ResultCode(_) => T::ResultCode,
            Self::ProtocolVersion { .. } => T::ProtocolVersion,
            Self::FramingCapabilities(_) => T::FramingCapabilities,
            Self::BearerCapabilities(_) => T::BearerCapabilities,
            Self::TieBreaker(_) => T::TieBreaker,
            Self::FirmwareRevision(_) => T::FirmwareRevision,
            Self::HostName(_) => T::HostName,
            Self::VendorName(_) => T::VendorName,
            Self::AssignedTunnelId(_) => T::AssignedTunnelId,
            Self::ReceiveWindowSize(_) => T::ReceiveWindowSize,
            Self::Challenge(_) => T::Challenge,
            Self::Q931CauseCode { .. } => T::Q931CauseCode,
            Self::ChallengeResponse(_) => T::ChallengeResponse,
            Self::AssignedSessionId(_) => T::AssignedSessionId,
            Self::CallSerialNumber(_) => T::CallSerialNumber,
            Self::MinimumBps(_) => T::MinimumBps,
            Self::MaximumBps(_) => T::MaximumBps,
            Self::BearerType(_) => T::BearerType,
            Self::FramingType(_) => T::FramingType,
            Self::CalledNumber(_) => T::CalledNumber,
            Self::CallingNumber(_) => T::CallingNumber,
            Self::SubAddress(_) => T::SubAddress,
            Self::TxConnectSpeed(_) => T::TxConnectSpeed,
            Self::RxConnectSpeed(_) => T::RxConnectSpeed,
            Self::PhysicalChannelId(_) => T::PhysicalChannelId,
            Self::PrivateGroupId(_) => T::PrivateGroupId,
            Self::SequencingRequired => T::SequencingRequired,
            Self::InitialReceivedLcpConfReq(_) => T::InitialReceivedLcpConfReq,
            Self::LastSentLcpConfReq(_) => T::LastSentLcpConfReq,
            Self::LastReceivedLcpConfReq(_) => T::LastReceivedLcpConfReq,
            Self::ProxyAuthenType(_) => T::ProxyAuthenType,
            Self::ProxyAuthenName(_) => T::ProxyAuthenName,
            Self::ProxyAuthenChallenge(_) => T::ProxyAuthenChallenge,
            Self::ProxyAuthenId(_) => T::ProxyAuthenId,
            Self::ProxyAuthenResponse(_) => T::ProxyAuthenResponse,
            Self::CallErrors { .. } => T::CallErrors,
            Self::Accm { .. } => T::Accm,
            Self::RandomVector(_) => T::RandomVector,
            Self::Unknown { attribute_type, .. } => T::Unknown(*attribute_type),
        }
    }

    /// The M bit RFC 2661 §4.4 prescribes for this AVP when we send it. M=0: Tie Breaker,
    /// Firmware Revision, Vendor Name (§4.4.3), Rx Connect Speed, Physical Channel ID,
    /// Private Group ID (§4.4.4), the three LCP CONFREQ and five Proxy Authen AVPs (§4.4.5);
    /// every other AVP of §4.4 is M=1. For [`Avp::Unknown`]: its own M bit.
    pub fn mandatory(&self) -> bool {
        match self {
            Self::TieBreaker(_)
            | Self::FirmwareRevision(_)
            | Self::VendorName(_)
            | Self::RxConnectSpeed(_)
            | Self::PhysicalChannelId(_)
            | Self::PrivateGroupId(_)
            | Self::InitialReceivedLcpConfReq(_)
            | Self::LastSentLcpConfReq(_)
            | Self::LastReceivedLcpConfReq(_)
            | Self::ProxyAuthenType(_)
            | Self::ProxyAuthenName(_)
            | Self::ProxyAuthenChallenge(_)
            | Self::ProxyAuthenId(_)
            | Self::ProxyAuthenResponse(_) => false,
            Self::Unknown { mandatory, .. } => *mandatory,
            _ => true,
        }
    }

    /// Whether we may hide this AVP when sending (RFC 2661 §4.3, §4.4). Never: Message Type,
    /// Random Vector (§4.4.1), Result Code (§4.4.2), Protocol Version, Tie Breaker, Host
    /// Name, Receive Window Size (§4.4.3), Q.931 Cause Code, Sequencing Required (§4.4.4),
    /// whose text says "MUST NOT be hidden", nor an [`Avp::Unknown`]. Every other AVP "may be
    /// hidden".
    pub fn may_hide(&self) -> bool {
        !matches!(
            self,
            Self::RandomVector(_)
                | Self::ResultCode(_)
                | Self::ProtocolVersion { .. }
                | Self::TieBreaker(_)
                | Self::HostName(_)
                | Self::ReceiveWindowSize(_)
                | Self::Q931CauseCode { .. }
                | Self::SequencingRequired
                | Self::Unknown { .. }
        )
    }

    /// Appends the attribute value (clear) of this AVP.
    fn encode_value(&self, out: &mut Vec<u8>) {
        let mut u32s = |vals: &[u32]| {
            out.extend_from_slice(&[0, 0]);
            for v in vals {
                out.extend_from_slice(&v.to_be_bytes());
            }
        };
        match self {
            Self::CallErrors {
                crc,
                framing,
                hardware_overruns,
                buffer_overruns,
                timeout,
                alignment,
            } => {
                return u32s(&[
                    *crc,
                    *framing,
                    *hardware_overruns,
                    *buffer_overruns,
                    *timeout,
                    *alignment,
                ])
            }
            Self::Accm { send, receive } => return u32s(&[*send, *receive]),
            _ => {}
        }
        match self {
            Self::ResultCode(rc) => rc.encode(out),
            Self::ProtocolVersion { version, revision } => {
                out.extend_from_slice(&[*version, *revision])
            }
            Self::FramingCapabilities(x)
            | Self::BearerCapabilities(x)
            | Self::CallSerialNumber(x)
            | Self::MinimumBps(x)
            | Self::MaximumBps(x)
            | Self::BearerType(x)
            | Self::FramingType(x)
            | Self::TxConnectSpeed(x)
            | Self::RxConnectSpeed(x)
            | Self::PhysicalChannelId(x) => out.extend_from_slice(&x.to_be_bytes()),
            Self::TieBreaker(x) => out.extend_from_slice(&x.to_be_bytes()),
            Self::FirmwareRevision(x) | Self::ReceiveWindowSize(x) | Self::ProxyAuthenType(x) => {
                out.extend_from_slice(&x.to_be_bytes())
            }
            Self::AssignedTunnelId(id) => out.extend_from_slice(&id.0.to_be_bytes()),
            Self::AssignedSessionId(id) => out.extend_from_slice(&id.0.to_be_bytes()),
            Self::HostName(b)
            | Self::VendorName(b)
            | Self::Challenge(b)
            | Self::CalledNumber(b)
            | Self::CallingNumber(b)
            | Self::SubAddress(b)
            | Self::PrivateGroupId(b)
            | Self::InitialReceivedLcpConfReq(b)
            | Self::LastSentLcpConfReq(b)
            | Self::LastReceivedLcpConfReq(b)
            | Self::ProxyAuthenName(b)
            | Self::ProxyAuthenChallenge(b)
            | Self::ProxyAuthenResponse(b)
            | Self::RandomVector(b)
            | Self::Unknown { value: b, .. } => out.extend_from_slice(b),
            Self::Q931CauseCode {
                cause,
                message,
                advisory,
            } => {
                out.extend_from_slice(&cause.to_be_bytes());
                out.push(*message);
                out.extend_from_slice(advisory);
            }
            Self::ChallengeResponse(r) => out.extend_from_slice(r),
            Self::ProxyAuthenId(id) => out.extend_from_slice(&[0, *id]),
            Self::SequencingRequired | Self::CallErrors { .. } | Self::Accm { .. } => {}
        }
    }

    /// Appends this AVP (RFC 2661 §4.1), hidden (§4.3) with `hiding = (secret, random
    /// vector)` when [`Avp::may_hide`] allows and the hidden form fits in an AVP (otherwise it
    /// is sent in the clear, which the RFC allows for every hideable AVP).
    ///
    /// A value longer than an AVP can carry (1017 octets) is cut to 1017 octets: nothing we
    /// send comes near, and writing a corrupt Length would be worse.
    pub(crate) fn encode(&self, out: &mut Vec<u8>, hiding: Option<(&[u8], &[u8])>) {
        let mut value = Vec::new();
        self.encode_value(&mut value);
        value.truncate(AVP_MAX_VALUE);
        let (vendor_id, attribute_type, mut flags) = match self {
            Self::Unknown {
                vendor_id,
                attribute_type,
                mandatory,
                ..
            } => {
                let mut f = if *mandatory { AVP_M } else { 0 };
                if *vendor_id == 0 && AvpType::from(*attribute_type).is_known() {
                    f |= AVP_RESERVED_FIRST;
                }
                (*vendor_id, *attribute_type, f)
            }
            _ => (
                0,
                self.avp_type().value(),
                if self.mandatory() { AVP_M } else { 0 },
            ),
        };
        match hiding {
            Some((secret, rv)) if self.may_hide() && value.len() + 2 <= AVP_MAX_VALUE => {
                flags |= AVP_H;
                let mut hidden_value = Vec::with_capacity(value.len() + 2);
                hidden::hide(attribute_type, secret, rv, &value, &mut hidden_value);
                write_avp(out, flags, vendor_id, attribute_type, &hidden_value);
            }
            _ => write_avp(out, flags, vendor_id, attribute_type, &value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(bytes: &[u8]) -> Result<RawAvp<'_>, WireError> {
        RawAvp::read(&mut Reader::new(bytes))
    }

    fn enc(a: &Avp) -> Vec<u8> {
        let mut v = Vec::new();
        a.encode(&mut v, None);
        v
    }

    #[test]
    fn deconstruct_raw_avp() {
        // Host Name "vm" from SoftEther's SCCRP: M=1, Length 8, vendor 0, type 7.
        let b = [0x80, 0x08, 0x00, 0x00, 0x00, 0x07, b'v', b'm'];
        let a = raw(&b).unwrap();
        assert!(a.mandatory && !a.hidden && !a.reserved);
        assert_eq!((a.vendor_id, a.attribute_type, a.value), (0, 7, &b"vm"[..]));
        assert_eq!(
            Avp::decode(AvpType::HostName, a.value),
            Some(Ok(Avp::HostName(b"vm".to_vec())))
        );
        assert_eq!(enc(&Avp::HostName(b"vm".to_vec())), b);
    }

    #[test]
    fn avp_length_below_six() {
        // ROBUSTNESS 1 and 2: Length 0..=5.
        for len in 0u8..6 {
            let b = [0x80, len, 0x00, 0x00, 0x00, 0x07, b'v', b'm'];
            assert_eq!(
                raw(&b).unwrap_err(),
                WireError::AvpTooShort {
                    offset: 0,
                    length: usize::from(len)
                }
            );
        }
    }

    #[test]
    fn avp_past_end() {
        let b = [0x80, 0x09, 0x00, 0x00, 0x00, 0x07, b'v', b'm'];
        assert_eq!(
            raw(&b).unwrap_err(),
            WireError::AvpPastEnd {
                offset: 0,
                length: 9,
                remaining: 8
            }
        );
        assert_eq!(
            raw(&b[..4]).unwrap_err(),
            WireError::AvpPastEnd {
                offset: 0,
                length: 9,
                remaining: 4
            }
        );
        assert_eq!(
            raw(&b[..1]).unwrap_err(),
            WireError::Truncated {
                needed: 6,
                remaining: 1
            }
        );
        assert_eq!(
            raw(&[0x80, 0x03, 0]).unwrap_err(),
            WireError::AvpTooShort {
                offset: 0,
                length: 3
            }
        );
    }

    #[test]
    fn flags() {
        let b = [0x7c, 0x06, 0x00, 0x09, 0x00, 0x27];
        let a = raw(&b).unwrap();
        assert!(!a.mandatory && a.hidden && a.reserved);
        assert_eq!((a.vendor_id, a.attribute_type, a.value.len()), (9, 39, 0));
    }

    #[test]
    fn result_code_forms() {
        // ROBUSTNESS 12: an 8-byte Result Code AVP (result only) is valid.
        assert_eq!(
            Avp::decode(AvpType::ResultCode, &[0, 1]),
            Some(Ok(Avp::ResultCode(ResultCode::new(1, None, None))))
        );
        assert_eq!(
            Avp::decode(AvpType::ResultCode, &[0, 2, 0, 8]),
            Some(Ok(Avp::ResultCode(ResultCode::new(2, Some(8), None))))
        );
        assert_eq!(
            Avp::decode(AvpType::ResultCode, b"\x00\x02\x00\x06bad \xff"),
            Some(Ok(Avp::ResultCode(ResultCode {
                result: 2,
                error: Some(6),
                message: Some("bad \u{fffd}".into())
            })))
        );
        assert!(matches!(
            Avp::decode(AvpType::ResultCode, &[0, 2, 0]),
            Some(Err(WireError::AvpValue { .. }))
        ));
        assert!(matches!(
            Avp::decode(AvpType::ResultCode, &[0]),
            Some(Err(WireError::AvpValue { .. }))
        ));
        assert_eq!(ResultCode::new(1, None, Some("x")).error, Some(0));
        assert_eq!(ResultCode::new(1, Some(3), Some("")).message, None);
        let mut v = Vec::new();
        ResultCode::new(1, None, None).encode(&mut v);
        assert_eq!(v, [0, 1]);
    }

    #[test]
    fn value_sizes() {
        use AvpType as T;
        let bad = |t, v: &[u8]| matches!(Avp::decode(t, v), Some(Err(WireError::AvpValue { avp, .. })) if avp == t);
        assert!(bad(T::HostName, b""));
        assert!(bad(T::Challenge, b""));
        assert!(bad(T::FramingCapabilities, &[0, 0, 3]));
        assert!(bad(T::FramingCapabilities, &[0, 0, 0, 3, 0]));
        assert!(bad(T::AssignedTunnelId, &[1]));
        assert!(bad(T::AssignedTunnelId, &[0, 1, 2]));
        assert!(bad(T::ProtocolVersion, &[1]));
        assert!(bad(T::TieBreaker, &[0; 7]));
        assert!(bad(T::ChallengeResponse, &[0; 15]));
        assert!(bad(T::SequencingRequired, &[0]));
        assert!(bad(T::CallErrors, &[0; 24]));
        assert!(bad(T::Accm, &[0; 8]));
        assert!(bad(T::Q931CauseCode, &[0, 1]));
        assert_eq!(
            Avp::decode(T::VendorName, b""),
            Some(Ok(Avp::VendorName(Vec::new())))
        );
        assert_eq!(
            Avp::decode(T::AssignedTunnelId, &[0, 0]),
            Some(Ok(Avp::AssignedTunnelId(TunnelId(0))))
        );
        assert_eq!(Avp::decode(T::MessageType, &[0, 1]), None);
        assert_eq!(Avp::decode(T::Unknown(20), &[0, 1]), None);
    }

    #[test]
    fn structured_values() {
        use AvpType as T;
        let accm = [0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
        assert_eq!(
            Avp::decode(T::Accm, &accm),
            Some(Ok(Avp::Accm {
                send: 0xffff_ffff,
                receive: 0
            }))
        );
        let mut ce = [0u8; 26];
        for (i, b) in ce.iter_mut().enumerate() {
            *b = i as u8;
        }
        let Some(Ok(a)) = Avp::decode(T::CallErrors, &ce) else {
            panic!()
        };
        assert_eq!(
            a,
            Avp::CallErrors {
                crc: 0x0203_0405,
                framing: 0x0607_0809,
                hardware_overruns: 0x0a0b_0c0d,
                buffer_overruns: 0x0e0f_1011,
                timeout: 0x1213_1415,
                alignment: 0x1617_1819
            }
        );
        let mut expect = ce;
        expect[..2].copy_from_slice(&[0, 0]);
        assert_eq!(&enc(&a)[6..], &expect);
        assert_eq!(
            Avp::decode(T::ProxyAuthenId, &[9, 7]),
            Some(Ok(Avp::ProxyAuthenId(7)))
        );
        assert_eq!(&enc(&Avp::ProxyAuthenId(7))[6..], &[0, 7]);
        assert_eq!(
            Avp::decode(T::Q931CauseCode, &[0, 16, 0x45, b'x']),
            Some(Ok(Avp::Q931CauseCode {
                cause: 16,
                message: 0x45,
                advisory: b"x".to_vec()
            }))
        );
    }

    #[test]
    fn m_bits_as_sent() {
        assert_eq!(enc(&Avp::TieBreaker(1))[0], 0x00);
        assert_eq!(enc(&Avp::VendorName(b"x".to_vec()))[0], 0x00);
        assert_eq!(enc(&Avp::AssignedTunnelId(TunnelId(1)))[0], 0x80);
        assert_eq!(enc(&Avp::SequencingRequired), [0x80, 0x06, 0, 0, 0, 39]);
        let unknown = Avp::Unknown {
            mandatory: true,
            vendor_id: 0,
            attribute_type: 9,
            value: vec![0, 1],
        };
        assert_eq!(unknown.avp_type(), AvpType::Unknown(9));
        assert_eq!(enc(&unknown), [0xa0, 0x08, 0, 0, 0, 9, 0, 1]);
        let vendor = Avp::Unknown {
            mandatory: false,
            vendor_id: 311,
            attribute_type: 9,
            value: vec![],
        };
        assert_eq!(enc(&vendor), [0x00, 0x06, 0x01, 0x37, 0, 9]);
    }

    #[test]
    fn oversized_values_are_cut_not_corrupted() {
        let a = Avp::VendorName(vec![b'x'; 2000]);
        let v = enc(&a);
        assert_eq!(v.len(), AVP_MAX_LEN);
        assert_eq!(
            u16::from_be_bytes([v[0], v[1]]) & AVP_LENGTH_MASK,
            AVP_MAX_LEN as u16
        );
        // Too long to hide: sent in the clear.
        let mut h = Vec::new();
        Avp::VendorName(vec![b'x'; AVP_MAX_VALUE - 1]).encode(&mut h, Some((b"s", &[0; 16])));
        assert_eq!(h[0] & 0x40, 0);
        let mut h = Vec::new();
        Avp::VendorName(vec![b'x'; AVP_MAX_VALUE - 2]).encode(&mut h, Some((b"s", &[0; 16])));
        assert_eq!(h[0] & 0x40, 0x40);
        assert_eq!(h.len(), AVP_MAX_LEN);
    }
}
