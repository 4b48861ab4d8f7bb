//! The ISAKMP codec (RFC 2408 §3) with the IPsec DOI (RFC 2407 §4) and the IKEv1 extensions
//! sras speaks: NAT traversal (RFC 3947), dead peer detection (RFC 3706) and the
//! Cisco/Microsoft IKE fragmentation vendor extension.
//!
//! Invariants (smoltcp `wire/mod.rs`):
//!
//! - nothing here panics on any input, and no length read off the wire is trusted: every
//!   field is read through a bounded [`sras_core::Reader`];
//! - every loop is bounded: a payload chain by [`MAX_PAYLOADS`], proposals, transforms,
//!   attributes and SPIs by [`MAX_PROPOSALS`], [`MAX_TRANSFORMS`], [`MAX_ATTRIBUTES`] and
//!   [`MAX_DELETE_SPIS`];
//! - `decode(encode(x)) == x` for every value `decode` returns (checked by the proptests in
//!   `tests/codec.rs` and the `ike_roundtrip` fuzz target);
//! - the codec only checks syntax: which payloads a message must carry, nonce lengths, and
//!   whether a proposal is acceptable are the state machines' business.
//!
//! Layout: [`Header`] and the generic payload chain ([`split_payloads`], [`encode_payloads`],
//! RFC 2408 §3.1-3.2); the SA payload with its proposals, transforms and data attributes
//! ([`SaPayload`], RFC 2408 §3.3-3.6, RFC 2407 §4.6.1) and the attribute registries
//! ([`attr`]); the other typed payloads ([`Identification`], [`Certificate`],
//! [`CertificateRequest`], [`Notification`], [`Delete`], [`NatOa`], [`FragmentPayload`]);
//! the known Vendor IDs ([`vendor`]). The KE, Hash, Signature, Nonce, Vendor ID and NAT-D
//! bodies are opaque bytes: [`RawPayload::body`] is all there is to them.

pub mod attr;
mod header;
mod payload;
mod payloads;
mod sa;
pub mod vendor;

#[cfg(any(test, feature = "__fuzzing"))]
mod fuzz_support;

pub use header::{ExchangeType, Flags, Header, HEADER_LEN, ISAKMP_VERSION};
pub use payload::{
    encode_message, encode_payloads, split_payloads, PayloadType, RawPayload, GENERIC_HEADER_LEN,
    MAX_PAYLOADS, MAX_PAYLOAD_BODY,
};
pub use payloads::{
    CertEncoding, Certificate, CertificateRequest, Delete, FragmentPayload, IdType, Identification,
    NatOa, Notification, NotifyType, MAX_DELETE_SPIS,
};
pub use sa::{
    Attribute, AttributeValue, Proposal, ProtocolId, SaPayload, Transform, DOI_IPSEC,
    MAX_ATTRIBUTES, MAX_PROPOSALS, MAX_TRANSFORMS, SIT_IDENTITY_ONLY,
};

#[cfg(any(test, feature = "__fuzzing"))]
pub use fuzz_support::{fuzz_parse, fuzz_roundtrip};

use sras_core::DecodeError;

/// Why bytes are not a valid ISAKMP message or payload (RFC 2408 §3, §5).
///
/// Every variant means "this message cannot be processed". Whether the peer hears about it
/// (a Notification of [`Error::notify_type`]) or the datagram is dropped silently (RFC 2408
/// §5.1 for a bad header) is the state machine's decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before a field.
    #[error("truncated: needed {needed} bytes, {remaining} remaining")]
    Truncated {
        /// Bytes the field needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// The header's major version is not 1 (RFC 2408 §5.1: INVALID-MAJOR-VERSION).
    #[error("unsupported ISAKMP major version {0}")]
    MajorVersion(u8),
    /// The header's Length is below 28 or above the datagram (RFC 2408 §3.1, §5.1).
    #[error("bad ISAKMP length {length} (datagram {datagram} bytes)")]
    BadLength {
        /// The Length field.
        length: usize,
        /// The bytes actually received.
        datagram: usize,
    },
    /// A payload whose Payload Length is below its 4-byte generic header (RFC 2408 §3.2).
    #[error("payload at offset {offset}: length {length} < 4")]
    PayloadTooShort {
        /// Offset of the payload in the chain.
        offset: usize,
        /// Its Payload Length field.
        length: usize,
    },
    /// A payload running past the end of the message (RFC 2408 §3.2).
    #[error("payload at offset {offset}: length {length} > {remaining} remaining")]
    PayloadPastEnd {
        /// Offset of the payload in the chain.
        offset: usize,
        /// Its Payload Length field (or 4 when even the generic header does not fit).
        length: usize,
        /// Bytes left from the payload on.
        remaining: usize,
    },
    /// More payloads in one message than [`MAX_PAYLOADS`].
    #[error("more than {0} payloads")]
    TooManyPayloads(usize),
    /// More elements of a kind than this codec accepts (proposals, transforms, attributes,
    /// SPIs).
    #[error("more than {limit} {what}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The cap.
        limit: usize,
    },
    /// A proposal or transform chain inside an SA payload is inconsistent (RFC 2408 §3.5,
    /// §3.6, §5.4: BAD-PROPOSAL-SYNTAX).
    #[error("bad proposal syntax: {0}")]
    BadProposalSyntax(&'static str),
    /// An IPsec DOI situation other than SIT_IDENTITY_ONLY (RFC 2407 §4.6.1: secrecy and
    /// integrity labels are not supported).
    #[error("situation {0:#x} not supported")]
    SituationNotSupported(u32),
    /// Identification data of the wrong length for its ID type (RFC 2407 §4.6.2).
    #[error("ID type {id_type}: {len} bytes of data")]
    InvalidIdInformation {
        /// The ID type.
        id_type: u8,
        /// The data length seen.
        len: usize,
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

impl Error {
    /// The Notify Message Type that reports this error to the peer (RFC 2408 §3.14.1, §5).
    pub const fn notify_type(&self) -> NotifyType {
        match self {
            Self::MajorVersion(_) => NotifyType::InvalidMajorVersion,
            Self::BadProposalSyntax(_) | Self::TooMany { .. } => NotifyType::BadProposalSyntax,
            Self::SituationNotSupported(_) => NotifyType::SituationNotSupported,
            Self::InvalidIdInformation { .. } => NotifyType::InvalidIdInformation,
            _ => NotifyType::PayloadMalformed,
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Truncated { needed, remaining } => Self::Truncated { needed, remaining },
            DecodeError::TrailingData(what) => Self::TrailingData(what),
            DecodeError::InvalidValue { what, value } => Self::InvalidValue { what, value },
            other => Self::Decode(other),
        }
    }
}
