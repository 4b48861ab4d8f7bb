//! Errors of the ESP and AH transforms.
//!
//! Every way an inbound packet can be refused is its own variant, and each one also moves
//! exactly one counter of [`SaStats`](crate::SaStats) (see [`Error::counter`]), so the
//! daemon can count and log (rate-limited) and carry on: nothing here is fatal to an SA
//! except [`Error::SequenceExhausted`] and [`Error::LifetimeExpired`], which say the SA must
//! be replaced.

use crate::Spi;

/// Why a seal or open failed, or why an SA could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The packet is shorter than the header, IV, trailer and ICV of its SA
    /// (RFC 4303 §2; RFC 4302 §2).
    #[error("packet truncated: shorter than header, IV, trailer and ICV")]
    Truncated,
    /// A length does not add up: CBC ciphertext not a whole number of blocks (RFC 3602 §2.4),
    /// an AH Payload Length that does not match the SA's ICV (RFC 4302 §2.2), or an outer
    /// IPv4 total length that disagrees with the packet (AH).
    #[error("bad length")]
    BadLength,
    /// The packet carries another SA's SPI: the caller looked up the wrong SA.
    #[error("SPI {got} does not belong to this SA ({expected})")]
    WrongSpi {
        /// This SA's SPI.
        expected: Spi,
        /// The packet's SPI.
        got: Spi,
    },
    /// The sequence number was already received (RFC 4303 §3.4.3).
    #[error("replayed sequence number")]
    Replayed,
    /// The sequence number is left of the anti-replay window, or zero (RFC 4303 §3.4.3).
    #[error("sequence number outside the anti-replay window")]
    OutsideWindow,
    /// The ICV (HMAC or GCM tag) does not verify (RFC 4303 §3.4.4).
    #[error("integrity check failed")]
    AuthenticationFailed,
    /// Authentic, but the padding is not 1, 2, 3, ... or the Pad Length exceeds the
    /// payload (RFC 4303 §2.4).
    #[error("bad ESP padding")]
    BadPadding,
    /// Authentic, but the Next Header does not fit the SA: a tunnel-mode SA carries only
    /// IPv4 (4), IPv6 (41) or dummy packets (59) (RFC 4303 §2.6, §3.1.2).
    #[error("next header {0} not allowed on this SA")]
    BadNextHeader(u8),
    /// Authentic, but the inner IP packet of a tunnel-mode SA is malformed: wrong version
    /// for the Next Header, or an IP length longer than the decrypted payload.
    #[error("malformed inner IP packet")]
    BadInnerPacket,
    /// Every sequence number of the SA has been used: it must be rekeyed, never wrapped
    /// (RFC 4303 §3.3.3).
    #[error("sequence numbers exhausted: the SA must be rekeyed")]
    SequenceExhausted,
    /// A hard lifetime (bytes, packets or time) has been reached: the SA must not be used
    /// any more (RFC 4301 §4.4.2.1).
    #[error("hard lifetime reached")]
    LifetimeExpired,
    /// A key has the wrong length for its algorithm (GCM keys include the 4-byte salt,
    /// RFC 4106 §8.1).
    #[error("key length: expected {expected} bytes, got {got}")]
    KeyLength {
        /// What the algorithm needs.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// The key was refused by the cipher: a weak or degenerate 3DES key (RFC 2451 §2.3).
    #[error("weak key refused")]
    WeakKey,
    /// The buffer has no room for the header before the payload or the trailer after it,
    /// or the range does not lie inside the buffer.
    #[error("buffer too small for the header or trailer")]
    BufferTooSmall,
    /// A combination or feature this implementation does not offer.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The crypto library failed for a reason of its own.
    #[error("crypto backend failure")]
    Crypto,
}

/// Why [`ReplayWindow::check`](crate::ReplayWindow::check) refused a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Already received.
    #[error("replayed sequence number")]
    Replayed,
    /// Left of the window (or zero).
    #[error("sequence number outside the anti-replay window")]
    OutsideWindow,
}

impl From<ReplayError> for Error {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::Replayed => Self::Replayed,
            ReplayError::OutsideWindow => Self::OutsideWindow,
        }
    }
}

/// The [`SaStats`](crate::SaStats) counter an inbound error moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Counter {
    /// `replayed`.
    Replayed,
    /// `auth_failed`.
    AuthFailed,
    /// `malformed`.
    Malformed,
}

impl Error {
    /// Which inbound counter this error moved, if any. Caller mistakes (`BufferTooSmall`,
    /// key and configuration errors) and `LifetimeExpired` move none.
    #[must_use]
    pub const fn counter(&self) -> Option<Counter> {
        match self {
            Self::Replayed | Self::OutsideWindow => Some(Counter::Replayed),
            Self::AuthenticationFailed => Some(Counter::AuthFailed),
            Self::Truncated
            | Self::BadLength
            | Self::WrongSpi { .. }
            | Self::BadPadding
            | Self::BadNextHeader(_)
            | Self::BadInnerPacket => Some(Counter::Malformed),
            _ => None,
        }
    }
}
