//! L2TP wire formats (RFC 2661 §3, §4): the header, AVPs, hidden AVPs and control messages.
//!
//! Invariants (smoltcp `wire/mod.rs`):
//!
//! - nothing here panics on any input, and no length read off the wire is trusted: every
//!   field is read through a bounded [`sras_core::Reader`];
//! - parsing a control message allocates (typed AVP values own their bytes), but parsing a
//!   header does not, and [`Header::write`] emits a data header into a caller buffer without
//!   allocating (the data path);
//! - an AVP loop always terminates: every AVP consumes at least its 6-byte header;
//! - `parse(encode(m)) == m` for every message `parse` accepts (checked by the fuzz targets
//!   in `fuzz/` and by the proptests here), with or without hiding;
//! - secrets are plain `&[u8]` and are never logged or stored.
//!
//! Layout: [`Header`] (§3.1), [`MessageType`] (§3.2), [`Avp`] and [`AvpType`] (§4.1, §4.4),
//! hiding (§4.3), [`ControlMessage`] (§6), tunnel authentication (§5.1.1).

mod avp;
mod header;
mod hidden;
mod ids;
mod message;

#[cfg(any(test, feature = "__fuzzing"))]
mod fuzz_support;

pub use avp::{error, result, Avp, AvpType, ResultCode, AVP_HEADER_LEN, AVP_MAX_LEN};
pub use header::{Header, CONTROL_HEADER_LEN, CONTROL_NR_OFFSET, HEADER_MIN_LEN, VERSION};
pub use ids::{SessionId, TunnelId};
pub use message::{
    challenge_response, encode_control, message_type_mandatory, peek_message_type, ControlMessage,
    MessageType,
};

#[cfg(any(test, feature = "__fuzzing"))]
pub use fuzz_support::{fuzz_parse, fuzz_roundtrip, FUZZ_RANDOM_VECTOR, FUZZ_SECRET};

use sras_core::DecodeError;

/// Why bytes are not a valid L2TP header or control message (RFC 2661 §3.1, §4).
///
/// Every variant means "drop the datagram" at the wire level; which of them also clear a
/// tunnel or a session (§4.1, §4.4.1, §7.1) is the endpoint's decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended before a field (§3.1: a header shorter than its flags say; §4.1: an AVP
    /// header cut short).
    #[error("truncated: needed {needed} bytes, {remaining} remaining")]
    Truncated {
        /// Bytes the field needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// Ver is not 2 (§3.1: "Packets received with an unknown Ver field MUST be discarded").
    #[error("unsupported L2TP version {0}")]
    Version(u8),
    /// A control message (T=1) without L=1 and S=1, or with O=1 (§3.1).
    #[error("control message with L=0, S=0 or O=1")]
    ControlHeaderFlags,
    /// The Length field is shorter than the header or longer than the datagram, or the Offset
    /// Pad runs past the end of the message (§3.1).
    #[error("bad length {length} (datagram {datagram} bytes)")]
    BadLength {
        /// The length claimed (the Length field, or the header plus the Offset Pad).
        length: usize,
        /// The bytes actually available.
        datagram: usize,
    },
    /// An AVP whose Length is below the 6-byte AVP header (§4.1).
    #[error("AVP at offset {offset}: length {length} < 6")]
    AvpTooShort {
        /// Offset of the AVP in the message body.
        offset: usize,
        /// Its Length field.
        length: usize,
    },
    /// An AVP whose Length runs past the end of the message (§4.1).
    #[error("AVP at offset {offset}: length {length} > {remaining} remaining")]
    AvpPastEnd {
        /// Offset of the AVP in the message body.
        offset: usize,
        /// Its Length field.
        length: usize,
        /// Bytes left in the body from the AVP on.
        remaining: usize,
    },
    /// The body is empty or too short for a Message Type AVP, its first AVP is not (vendor 0,
    /// type 0) with reserved bits clear, or the Message Type value is not 2 bytes (§4.4.1).
    #[error("first AVP is not a valid Message Type")]
    MissingMessageType,
    /// The Message Type AVP has H=1 (§4.4.1: "the H-bit MUST be 0").
    #[error("Message Type AVP is hidden")]
    MessageTypeHidden,
    /// A hidden AVP (H=1) but no shared secret is configured (§4.3).
    #[error("hidden AVP but no shared secret")]
    HiddenWithoutSecret,
    /// A hidden AVP not preceded by a Random Vector AVP in the same message (§4.3).
    #[error("hidden AVP without a preceding Random Vector")]
    HiddenWithoutRandomVector,
    /// A hidden AVP whose decrypted Original Length exceeds its value length minus 2 (§4.3):
    /// the wrong secret, or a forged AVP.
    #[error("hidden AVP {avp}: original length {original} > {available} available")]
    HiddenLength {
        /// The attribute type of the hidden AVP.
        avp: u16,
        /// The decrypted Length of Original Value.
        original: usize,
        /// The bytes available after the 2-byte length.
        available: usize,
    },
    /// A known AVP whose value has the wrong size or a value the RFC forbids (§4.4.x).
    #[error("AVP {avp:?}: {reason}")]
    AvpValue {
        /// The AVP.
        avp: AvpType,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Bytes were left over after a complete structure.
    #[error("{0}: trailing data")]
    TrailingData(&'static str),
    /// A field held a value its structure does not allow.
    #[error("{what}: invalid value {value}")]
    InvalidValue {
        /// The field.
        what: &'static str,
        /// The value seen.
        value: u64,
    },
    /// Any other decoding failure of the shared codec.
    #[error("decode: {0}")]
    Decode(DecodeError),
}

impl From<DecodeError> for WireError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Truncated { needed, remaining } => Self::Truncated { needed, remaining },
            DecodeError::TrailingData(what) => Self::TrailingData(what),
            DecodeError::InvalidValue { what, value } => Self::InvalidValue { what, value },
            other => Self::Decode(other),
        }
    }
}

#[cfg(test)]
mod tests;
