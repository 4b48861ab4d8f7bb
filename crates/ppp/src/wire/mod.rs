//! PPP wire formats: the frame as carried in L2TP (RFC 1661 §2, RFC 1662 §3.2), control
//! packets (RFC 1661 §5), configuration options (RFC 1661 §6, RFC 1332, RFC 1877, RFC 5072),
//! and the authentication packets of PAP (RFC 1334), CHAP (RFC 1994), MS-CHAP (RFC 2433,
//! RFC 2759) and EAP (RFC 3748) with EAP-MD5 and EAP-MSCHAPv2.
//!
//! Invariants (smoltcp `wire/mod.rs`):
//!
//! - nothing here panics on any input, and no length read off the wire is trusted: every
//!   field is read through a bounded [`sras_core::Reader`] and every length is checked against
//!   what the packet holds; malformed input is a typed [`WireError`];
//! - names, messages and identities have no fixed limit: they are plain data bounded by the
//!   packet that carries them (ROBUSTNESS.md 28, pppd CVE-2020-8597);
//! - the option loop always terminates: every option consumes at least its 2-octet header, and
//!   the first malformed option ends the iteration (ROBUSTNESS.md 29);
//! - parsing a frame, a control packet or an option list does not allocate (borrowed views);
//!   typed options and authentication packets own their bytes; [`write_frame_header`] emits a
//!   frame header into a caller buffer without allocating (the IP data path);
//! - `parse(encode(x)) == x` for every `x` that `parse` accepts (checked by the fuzz targets
//!   in `fuzz/` and the proptests here);
//! - encoders never panic: a field longer than its length field can express is truncated to
//!   the longest value that fits (values the parsers return always fit);
//! - duplicate options are passed through as they come: whether to reject them is the option
//!   policy's decision (`lcp.rs`, `ipcp.rs`).
//!
//! Layout: [`Protocol`], [`parse_frame`] and the frame header writers (frame.rs); [`Packet`]
//! and [`code`] (packet.rs); [`RawOption`], [`options`], [`LcpOption`], [`IpcpOption`],
//! [`Ipv6cpOption`] (options.rs); [`PapPacket`] (pap.rs); [`ChapPacket`],
//! [`MsChapV1Response`], [`MsChapV2Response`] (chap.rs); [`EapPacket`], [`EapType`],
//! [`EapMd5`], [`EapMsChapV2`] (eap.rs).

mod chap;
mod eap;
mod frame;
mod options;
mod packet;
mod pap;

#[cfg(any(test, feature = "__fuzzing"))]
mod fuzz_support;

pub use chap::{
    md5_value, ChapPacket, MsChapV1Response, MsChapV2Response, MD5_VALUE_LEN, MSCHAP_RESPONSE_LEN,
};
pub use eap::{EapMd5, EapMsChapV2, EapPacket, EapType, MSCHAPV2_CHALLENGE_LEN};
pub use frame::{
    encode_frame, frame_header_len, parse_frame, write_frame_header, Protocol, ADDRESS, CONTROL,
    MAX_FRAME_HEADER_LEN,
};
pub use options::{
    encode_option, options, IpcpOption, Ipv6cpOption, LcpOption, OptionIter, RawOption, CHAP_MD5,
    CHAP_MSCHAPV1, CHAP_MSCHAPV2, OPTION_HEADER_LEN, OPTION_MAX_DATA,
};
pub use packet::{code, Packet, PACKET_HEADER_LEN, PACKET_MAX_DATA};
pub use pap::PapPacket;

#[cfg(any(test, feature = "__fuzzing"))]
pub use fuzz_support::{fuzz_auth, fuzz_frame, fuzz_options};

use sras_core::DecodeError;

/// Why bytes are not a valid PPP frame, packet, option or authentication message.
///
/// Every variant means "this input is malformed"; what follows (silent discard,
/// Configure-Reject, Protocol-Reject, an authentication failure with a logged reason) is the
/// link's decision (RFC 1661 §5, ROBUSTNESS.md 28-30).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended before a field: `needed` more bytes were wanted, `remaining` were left
    /// (a frame without a protocol field, a control packet shorter than its 4-octet header, an
    /// option list ending in a lone octet, a packet without the fields its Code requires).
    #[error("truncated: needed {needed} bytes, {remaining} remaining")]
    Truncated {
        /// Bytes the field needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// The Length field of a control packet is below its 4-octet header or above the bytes
    /// received (RFC 1661 §5: "Packets with a Length greater than the received length MUST be
    /// silently discarded"; RFC 3748 §4 for EAP).
    #[error("bad length {length} ({available} bytes available)")]
    BadLength {
        /// The Length field.
        length: usize,
        /// The bytes actually available.
        available: usize,
    },
    /// A protocol field that breaks RFC 1661 §2 (even low octet, odd high octet) or is the
    /// reserved 0x00ff (RFC 1662 §3.2). §2: such frames "MUST be treated as having an
    /// unrecognized Protocol": the Information field starts at `offset` in the frame, for a
    /// Protocol-Reject.
    #[error("invalid protocol field {protocol:#06x}")]
    BadProtocol {
        /// The protocol value as read (one or two octets).
        protocol: u16,
        /// Offset of the Information field in the frame.
        offset: usize,
    },
    /// An option whose Length is below the 2-octet option header (RFC 1661 §6).
    #[error("option at offset {offset}: length {length} < 2")]
    OptionTooShort {
        /// Offset of the option in the options list.
        offset: usize,
        /// Its Length field.
        length: u8,
    },
    /// An option whose Length runs past the end of the options list (RFC 1661 §6).
    #[error("option at offset {offset}: length {length} > {remaining} remaining")]
    OptionPastEnd {
        /// Offset of the option in the options list.
        offset: usize,
        /// Its Length field.
        length: u8,
        /// Bytes left in the list from the option on.
        remaining: usize,
    },
    /// A known option whose length or value its RFC does not allow (for example an
    /// IP-Address option whose Length is not 6, RFC 1332 §3.3).
    #[error("option {option}: {reason}")]
    OptionValue {
        /// The option type.
        option: u8,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A length-prefixed field (PAP Peer-ID or Password, a CHAP or EAP Value) running past the
    /// end of its packet (RFC 1334 §2.2.1, RFC 1994 §4.1).
    #[error("{field}: length {length} > {remaining} remaining")]
    FieldPastEnd {
        /// The field.
        field: &'static str,
        /// Its length, as read.
        length: usize,
        /// Bytes left in the packet for it.
        remaining: usize,
    },
    /// A value whose length its method fixes has another length (MS-CHAP Response not 49
    /// octets, RFC 2759 §4; CHAP-MD5 Response not 16 octets, RFC 1994 §4.1).
    #[error("{what}: length {length}, expected {expected}")]
    ValueLength {
        /// The value.
        what: &'static str,
        /// Its length.
        length: usize,
        /// The length its method requires.
        expected: usize,
    },
    /// A Code (or EAP-MSCHAPv2 OpCode) the protocol does not define, or that sras does not
    /// handle (EAP-MSCHAPv2 Change-Password).
    #[error("{what}: unknown code {code}")]
    UnknownCode {
        /// The protocol or field.
        what: &'static str,
        /// The value seen.
        code: u8,
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

/// Reads a one-octet length, then that many octets, as `field` (RFC 1334 §2.2, RFC 1994 §4.1).
fn read_len8<'a>(
    r: &mut sras_core::Reader<'a>,
    field: &'static str,
) -> Result<&'a [u8], WireError> {
    let n = usize::from(r.u8()?);
    let remaining = r.left();
    r.take(n).map_err(|_| WireError::FieldPastEnd {
        field,
        length: n,
        remaining,
    })
}

/// Appends a one-octet length and `v`, truncated to 255 octets.
fn write_len8(v: &[u8], out: &mut Vec<u8>) {
    let v = &v[..v.len().min(usize::from(u8::MAX))];
    out.push(v.len() as u8);
    out.extend_from_slice(v);
}

#[cfg(test)]
mod tests;
