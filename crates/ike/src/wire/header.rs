//! The ISAKMP header (RFC 2408 §3.1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                          Initiator                            !
//! !                            Cookie                             !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                          Responder                            !
//! !                            Cookie                             !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !  Next Payload ! MjVer ! MnVer ! Exchange Type !     Flags     !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                          Message ID                           !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                            Length                             !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use sras_core::{Reader, Writer};

use super::{Error, PayloadType};

/// Length of the ISAKMP header (RFC 2408 §3.1).
pub const HEADER_LEN: usize = 28;

/// The version octet sras sends: major 1, minor 0 (RFC 2408 §3.1, RFC 2409 §5).
pub const ISAKMP_VERSION: u8 = 0x10;

sras_core::wire_enum! {
    /// Exchange types (RFC 2408 §3.1, §4.1; RFC 2409 §5, §9; IANA "ISAKMP Exchange Types").
    pub enum ExchangeType(u8) {
        /// Base exchange (RFC 2408 §4.4).
        Base = 1,
        /// Identity Protection exchange (RFC 2408 §4.5), IKE Main Mode (RFC 2409 §5).
        IdentityProtection = 2,
        /// Authentication Only exchange (RFC 2408 §4.6).
        AuthenticationOnly = 3,
        /// Aggressive exchange (RFC 2408 §4.7, RFC 2409 §5).
        Aggressive = 4,
        /// Informational exchange (RFC 2408 §4.8, RFC 2409 §5.7).
        Informational = 5,
        /// Transaction exchange, ISAKMP Mode Config (draft-dukes-ike-mode-cfg).
        Transaction = 6,
        /// IKE Quick Mode (RFC 2409 §5.5).
        QuickMode = 32,
        /// IKE New Group Mode (RFC 2409 §6).
        NewGroupMode = 33,
    }
}

/// The Flags octet of the header (RFC 2408 §3.1). Unknown bits are kept as received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u8);

impl Flags {
    /// No flag set.
    pub const NONE: Self = Self(0);
    /// E: the payloads after the header are encrypted (RFC 2408 §3.1).
    pub const ENCRYPTION: Self = Self(0x01);
    /// C: the Commit bit, for key exchange synchronization (RFC 2408 §3.1, §4.8).
    pub const COMMIT: Self = Self(0x02);
    /// A: Authentication Only, for the Informational exchange (RFC 2408 §3.1).
    pub const AUTHENTICATION_ONLY: Self = Self(0x04);

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with the bits of `other` set.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// `self` with the bits of `other` cleared.
    #[must_use]
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

impl core::ops::BitOr for Flags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.with(rhs)
    }
}

/// The ISAKMP header (RFC 2408 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Initiator Cookie: chosen by the initiator of the ISAKMP SA (RFC 2408 §2.5.3, §3.1).
    pub initiator_cookie: [u8; 8],
    /// Responder Cookie: zero in the first message of an exchange (RFC 2408 §3.1).
    pub responder_cookie: [u8; 8],
    /// Next Payload: the type of the first payload after the header (RFC 2408 §3.1).
    pub next_payload: PayloadType,
    /// Major version (high nibble) and minor version (low nibble) (RFC 2408 §3.1).
    pub version: u8,
    /// Exchange Type (RFC 2408 §3.1).
    pub exchange_type: ExchangeType,
    /// Flags (RFC 2408 §3.1).
    pub flags: Flags,
    /// Message ID: zero in phase 1, random in phase 2 and informational exchanges
    /// (RFC 2408 §3.1, RFC 2409 §5.5).
    pub message_id: u32,
    /// Length of the whole message, header included (RFC 2408 §3.1).
    pub length: u32,
}

impl Header {
    /// Decodes the 28-byte header at the start of `buf` (RFC 2408 §3.1).
    ///
    /// Errors (ROBUSTNESS case 32; the caller drops the datagram silently, RFC 2408 §5.1):
    /// fewer than 28 bytes: [`Error::Truncated`]; a major version other than 1:
    /// [`Error::MajorVersion`]; Length below 28 or above `buf.len()`: [`Error::BadLength`].
    /// The minor version is not checked; bytes past Length are the caller's to ignore.
    pub fn decode(buf: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(buf);
        let mut h = r.sub(HEADER_LEN)?;
        let initiator_cookie = h.array()?;
        let responder_cookie = h.array()?;
        let next_payload = PayloadType::from(h.u8()?);
        let version = h.u8()?;
        //= https://www.rfc-editor.org/rfc/rfc2408#section-5.1
        //# If the Major Version in the ISAKMP header is greater than the
        //# current major version, the message is discarded
        if version >> 4 != ISAKMP_VERSION >> 4 {
            return Err(Error::MajorVersion(version >> 4));
        }
        let exchange_type = ExchangeType::from(h.u8()?);
        let flags = Flags(h.u8()?);
        let message_id = h.u32()?;
        let length = h.u32()?;
        if (length as usize) < HEADER_LEN || length as usize > buf.len() {
            return Err(Error::BadLength {
                length: length as usize,
                datagram: buf.len(),
            });
        }
        Ok(Self {
            initiator_cookie,
            responder_cookie,
            next_payload,
            version,
            exchange_type,
            flags,
            message_id,
            length,
        })
    }

    /// Appends the 28-byte header, every field as it is (RFC 2408 §3.1).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.bytes(&self.initiator_cookie);
        w.bytes(&self.responder_cookie);
        w.u8(self.next_payload.value());
        w.u8(self.version);
        w.u8(self.exchange_type.value());
        w.u8(self.flags.0);
        w.u32(self.message_id);
        w.u32(self.length);
    }

    /// The message's payload bytes: `buf[28..length]` (after [`Header::decode`] accepted `buf`,
    /// this never fails; otherwise an empty slice).
    pub fn body<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(HEADER_LEN..self.length as usize).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            initiator_cookie: [1, 2, 3, 4, 5, 6, 7, 8],
            responder_cookie: [0; 8],
            next_payload: PayloadType::Sa,
            version: ISAKMP_VERSION,
            exchange_type: ExchangeType::IdentityProtection,
            flags: Flags::NONE,
            message_id: 0,
            length: 28,
        }
    }

    #[test]
    fn round_trip() {
        let h = sample();
        let mut v = Vec::new();
        h.encode(&mut v);
        assert_eq!(v.len(), HEADER_LEN);
        assert_eq!(Header::decode(&v), Ok(h));
        assert_eq!(h.body(&v), &[] as &[u8]);
    }

    /// ROBUSTNESS case 32: a header length below 28 or past the datagram, a short datagram.
    #[test]
    fn robustness_32_bad_lengths() {
        let mut v = Vec::new();
        Header {
            length: 27,
            ..sample()
        }
        .encode(&mut v);
        assert_eq!(
            Header::decode(&v),
            Err(Error::BadLength {
                length: 27,
                datagram: 28
            })
        );
        v.clear();
        Header {
            length: 29,
            ..sample()
        }
        .encode(&mut v);
        assert_eq!(
            Header::decode(&v),
            Err(Error::BadLength {
                length: 29,
                datagram: 28
            })
        );
        v.clear();
        Header {
            length: u32::MAX,
            ..sample()
        }
        .encode(&mut v);
        assert!(matches!(Header::decode(&v), Err(Error::BadLength { .. })));
        assert!(matches!(
            Header::decode(&v[..27]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(Header::decode(&[]), Err(Error::Truncated { .. })));
        // Bytes past Length are allowed (and ignored by `body`).
        v.clear();
        sample().encode(&mut v);
        v.extend_from_slice(&[0xAA; 4]);
        let h = Header::decode(&v).unwrap();
        assert!(h.body(&v).is_empty());
    }

    /// ROBUSTNESS case 32: major version 2 (an IKEv2 message) is refused; minor versions pass.
    #[test]
    fn robustness_32_major_version() {
        let mut v = Vec::new();
        Header {
            version: 0x20,
            ..sample()
        }
        .encode(&mut v);
        assert_eq!(Header::decode(&v), Err(Error::MajorVersion(2)));
        assert_eq!(
            Error::MajorVersion(2).notify_type(),
            super::super::NotifyType::InvalidMajorVersion
        );
        v.clear();
        Header {
            version: 0x11,
            ..sample()
        }
        .encode(&mut v);
        assert_eq!(Header::decode(&v).map(|h| h.version), Ok(0x11));
    }

    #[test]
    fn flags() {
        let f = Flags::ENCRYPTION | Flags::COMMIT;
        assert!(f.contains(Flags::ENCRYPTION));
        assert!(f.contains(Flags::COMMIT));
        assert!(!f.contains(Flags::AUTHENTICATION_ONLY));
        assert_eq!(f.without(Flags::COMMIT), Flags::ENCRYPTION);
        assert!(Flags::NONE.contains(Flags::NONE));
    }
}
