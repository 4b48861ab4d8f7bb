//! Configuration options of Configure-Request/Ack/Nak/Reject (RFC 1661 §6): the raw
//! Type-Length-Data walk and the typed options of LCP (RFC 1661 §6, RFC 1662 §7.1), IPCP
//! (RFC 1332 §3, RFC 1877 §1) and IPv6CP (RFC 5072 §4).
//!
//! ```text
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |    Length     |    Data ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::iter::FusedIterator;
use std::net::Ipv4Addr;

use super::WireError;

/// Length of an option's Type and Length fields (RFC 1661 §6).
pub const OPTION_HEADER_LEN: usize = 2;

/// The most Data one option can carry: its one-octet Length counts the header too.
pub const OPTION_MAX_DATA: usize = u8::MAX as usize - OPTION_HEADER_LEN;

/// The CHAP Algorithm octet of the Authentication-Protocol option for CHAP with MD5
/// (RFC 1994 §3).
pub const CHAP_MD5: u8 = 5;
/// The CHAP Algorithm octet for MS-CHAP version 1 (RFC 2433 §2).
pub const CHAP_MSCHAPV1: u8 = 0x80;
/// The CHAP Algorithm octet for MS-CHAP version 2 (RFC 2759 §2).
pub const CHAP_MSCHAPV2: u8 = 0x81;

/// One option as it came: its Type and its Data (Length - 2 octets), borrowed from the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// The Type field.
    pub kind: u8,
    /// The Data field.
    pub data: &'a [u8],
}

impl RawOption<'_> {
    /// The option's Length field (header included).
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(&self) -> usize {
        OPTION_HEADER_LEN + self.data.len()
    }

    /// Appends the option unchanged (to echo it in a Configure-Ack or Configure-Reject).
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_option(self.kind, self.data, out);
    }
}

/// Iterator over an options list; see [`options`].
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    list: &'a [u8],
    offset: usize,
    done: bool,
}

impl<'a> OptionIter<'a> {
    /// Offset in the list of the next option (the list length once the walk is complete).
    pub const fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<RawOption<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let offset = self.offset;
        let rest = self.list.get(offset..).unwrap_or_default();
        let (kind, length) = match *rest {
            [] => {
                self.done = true;
                return None;
            }
            [_] => {
                self.done = true;
                return Some(Err(WireError::Truncated {
                    needed: OPTION_HEADER_LEN,
                    remaining: 1,
                }));
            }
            [kind, length, ..] => (kind, length),
        };
        let n = usize::from(length);
        //= https://www.rfc-editor.org/rfc/rfc1661#section-6
        //# The Length field is one octet, and indicates the length of this
        //# Configuration Option including the Type, Length and Data fields.
        if n < OPTION_HEADER_LEN {
            self.done = true;
            return Some(Err(WireError::OptionTooShort { offset, length }));
        }
        if n > rest.len() {
            self.done = true;
            return Some(Err(WireError::OptionPastEnd {
                offset,
                length,
                remaining: rest.len(),
            }));
        }
        self.offset += n;
        Some(Ok(RawOption {
            kind,
            data: &rest[OPTION_HEADER_LEN..n],
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        let left = self.list.len().saturating_sub(self.offset);
        (0, Some(left.div_ceil(OPTION_HEADER_LEN)))
    }
}

impl FusedIterator for OptionIter<'_> {}

/// Walks the options list of a Configure-* packet (RFC 1661 §6), in order, duplicates
/// included. An option with a Length below 2 or running past the end of the list (or a lone
/// trailing octet) yields one error and ends the iteration: every step consumes at least 2
/// octets, so the walk always terminates (ROBUSTNESS.md 29, xl2tpd #93 analogue).
pub fn options(list: &[u8]) -> OptionIter<'_> {
    OptionIter {
        list,
        offset: 0,
        done: false,
    }
}

/// Appends one option (RFC 1661 §6). Data beyond [`OPTION_MAX_DATA`] octets is truncated.
pub fn encode_option(kind: u8, data: &[u8], out: &mut Vec<u8>) {
    encode_with(kind, out, |out| out.extend_from_slice(data));
}

/// Appends an option whose Data `f` writes in place; truncates the Data to
/// [`OPTION_MAX_DATA`] and fills in the Length.
fn encode_with(kind: u8, out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[kind, 0]);
    f(out);
    out.truncate(at + OPTION_HEADER_LEN + OPTION_MAX_DATA);
    out[at + 1] = (out.len() - at) as u8;
}

/// The Data of `raw` as exactly `N` octets, else [`WireError::OptionValue`] with `reason`.
fn exact<const N: usize>(raw: &RawOption<'_>, reason: &'static str) -> Result<[u8; N], WireError> {
    raw.data.try_into().map_err(|_| WireError::OptionValue {
        option: raw.kind,
        reason,
    })
}

/// A Protocol (2 octets) followed by protocol-specific data, the Data of option types
/// whose Length is at least 4 (RFC 1661 §6.2, §6.3; RFC 1332 §3.2; RFC 5072 §4.2).
fn protocol_and_data(
    raw: &RawOption<'_>,
    reason: &'static str,
) -> Result<(u16, Vec<u8>), WireError> {
    match raw.data {
        [hi, lo, rest @ ..] => Ok((u16::from_be_bytes([*hi, *lo]), rest.to_vec())),
        _ => Err(WireError::OptionValue {
            option: raw.kind,
            reason,
        }),
    }
}

fn encode_protocol_and_data(kind: u8, protocol: u16, data: &[u8], out: &mut Vec<u8>) {
    encode_with(kind, out, |out| {
        out.extend_from_slice(&protocol.to_be_bytes());
        out.extend_from_slice(data);
    });
}

/// An LCP configuration option (RFC 1661 §6, RFC 1662 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LcpOption {
    /// Maximum-Receive-Unit, type 1, Length 4 (§6.1).
    Mru(u16),
    /// Async-Control-Character-Map, type 2, Length 6 (RFC 1662 §7.1); meaningless on L2TP.
    Accm(u32),
    /// Authentication-Protocol, type 3, Length >= 4 (§6.2): the protocol (0xc023 PAP, 0xc223
    /// CHAP, 0xc227 EAP) and its data; for CHAP the Algorithm octet ([`CHAP_MD5`],
    /// [`CHAP_MSCHAPV1`], [`CHAP_MSCHAPV2`], RFC 1994 §3).
    AuthProtocol {
        /// The authentication protocol.
        protocol: u16,
        /// Protocol-specific data.
        data: Vec<u8>,
    },
    /// Quality-Protocol, type 4, Length >= 4 (§6.3).
    QualityProtocol {
        /// The quality protocol (0xc025 LQR).
        protocol: u16,
        /// Protocol-specific data (LQR: the Reporting-Period).
        data: Vec<u8>,
    },
    /// Magic-Number, type 5, Length 6 (§6.4).
    MagicNumber(u32),
    /// Protocol-Field-Compression, type 7, Length 2 (§6.5).
    Pfc,
    /// Address-and-Control-Field-Compression, type 8, Length 2 (§6.6).
    Acfc,
    /// Any other type, Data as received. Known types never parse to this variant.
    Unknown {
        /// The Type field.
        kind: u8,
        /// The Data field.
        data: Vec<u8>,
    },
}

impl LcpOption {
    /// Type of Maximum-Receive-Unit (RFC 1661 §6.1).
    pub const MRU: u8 = 1;
    /// Type of Async-Control-Character-Map (RFC 1662 §7.1).
    pub const ACCM: u8 = 2;
    /// Type of Authentication-Protocol (RFC 1661 §6.2).
    pub const AUTH_PROTOCOL: u8 = 3;
    /// Type of Quality-Protocol (RFC 1661 §6.3).
    pub const QUALITY_PROTOCOL: u8 = 4;
    /// Type of Magic-Number (RFC 1661 §6.4).
    pub const MAGIC_NUMBER: u8 = 5;
    /// Type of Protocol-Field-Compression (RFC 1661 §6.5).
    pub const PFC: u8 = 7;
    /// Type of Address-and-Control-Field-Compression (RFC 1661 §6.6).
    pub const ACFC: u8 = 8;

    /// Types the option with the length its RFC requires (ROBUSTNESS.md 29); an unknown type
    /// is [`LcpOption::Unknown`]. Error: [`WireError::OptionValue`].
    pub fn parse(raw: &RawOption<'_>) -> Result<Self, WireError> {
        Ok(match raw.kind {
            Self::MRU => Self::Mru(u16::from_be_bytes(exact(raw, "MRU length must be 4")?)),
            Self::ACCM => Self::Accm(u32::from_be_bytes(exact(raw, "ACCM length must be 6")?)),
            Self::AUTH_PROTOCOL => {
                let (protocol, data) = protocol_and_data(raw, "Auth-Protocol length must be >= 4")?;
                Self::AuthProtocol { protocol, data }
            }
            Self::QUALITY_PROTOCOL => {
                let (protocol, data) =
                    protocol_and_data(raw, "Quality-Protocol length must be >= 4")?;
                Self::QualityProtocol { protocol, data }
            }
            Self::MAGIC_NUMBER => Self::MagicNumber(u32::from_be_bytes(exact(
                raw,
                "Magic-Number length must be 6",
            )?)),
            Self::PFC => {
                exact::<0>(raw, "PFC length must be 2")?;
                Self::Pfc
            }
            Self::ACFC => {
                exact::<0>(raw, "ACFC length must be 2")?;
                Self::Acfc
            }
            kind => Self::Unknown {
                kind,
                data: raw.data.to_vec(),
            },
        })
    }

    /// The Type field.
    pub const fn kind(&self) -> u8 {
        match self {
            Self::Mru(_) => Self::MRU,
            Self::Accm(_) => Self::ACCM,
            Self::AuthProtocol { .. } => Self::AUTH_PROTOCOL,
            Self::QualityProtocol { .. } => Self::QUALITY_PROTOCOL,
            Self::MagicNumber(_) => Self::MAGIC_NUMBER,
            Self::Pfc => Self::PFC,
            Self::Acfc => Self::ACFC,
            Self::Unknown { kind, .. } => *kind,
        }
    }

    /// Appends the option (Type, Length, Data).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let kind = self.kind();
        match self {
            Self::Mru(v) => encode_option(kind, &v.to_be_bytes(), out),
            Self::Accm(v) | Self::MagicNumber(v) => encode_option(kind, &v.to_be_bytes(), out),
            Self::AuthProtocol { protocol, data } | Self::QualityProtocol { protocol, data } => {
                encode_protocol_and_data(kind, *protocol, data, out);
            }
            Self::Pfc | Self::Acfc => encode_option(kind, &[], out),
            Self::Unknown { data, .. } => encode_option(kind, data, out),
        }
    }
}

/// An IPCP configuration option (RFC 1332 §3, RFC 1877 §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpcpOption {
    /// IP-Addresses, type 1, Length 10 (RFC 1332 §3.1, deprecated): the two addresses as
    /// received (8 octets).
    IpAddresses(Vec<u8>),
    /// IP-Compression-Protocol, type 2, Length >= 4 (RFC 1332 §3.2): 0x002d is Van Jacobson.
    IpCompression {
        /// The compression protocol.
        protocol: u16,
        /// Protocol-specific data (VJ: Max-Slot-Id, Comp-Slot-Id).
        data: Vec<u8>,
    },
    /// IP-Address, type 3, Length 6 (RFC 1332 §3.3); 0.0.0.0 asks the peer to assign one.
    IpAddress(Ipv4Addr),
    /// Primary-DNS-Server-Address, type 129, Length 6 (RFC 1877 §1.1).
    PrimaryDns(Ipv4Addr),
    /// Primary-NBNS-Server-Address, type 130, Length 6 (RFC 1877 §1.2).
    PrimaryNbns(Ipv4Addr),
    /// Secondary-DNS-Server-Address, type 131, Length 6 (RFC 1877 §1.3).
    SecondaryDns(Ipv4Addr),
    /// Secondary-NBNS-Server-Address, type 132, Length 6 (RFC 1877 §1.4).
    SecondaryNbns(Ipv4Addr),
    /// Any other type, Data as received. Known types never parse to this variant.
    Unknown {
        /// The Type field.
        kind: u8,
        /// The Data field.
        data: Vec<u8>,
    },
}

impl IpcpOption {
    /// Type of IP-Addresses (RFC 1332 §3.1).
    pub const IP_ADDRESSES: u8 = 1;
    /// Type of IP-Compression-Protocol (RFC 1332 §3.2).
    pub const IP_COMPRESSION: u8 = 2;
    /// Type of IP-Address (RFC 1332 §3.3).
    pub const IP_ADDRESS: u8 = 3;
    /// Type of Primary-DNS-Server-Address (RFC 1877 §1.1).
    pub const PRIMARY_DNS: u8 = 129;
    /// Type of Primary-NBNS-Server-Address (RFC 1877 §1.2).
    pub const PRIMARY_NBNS: u8 = 130;
    /// Type of Secondary-DNS-Server-Address (RFC 1877 §1.3).
    pub const SECONDARY_DNS: u8 = 131;
    /// Type of Secondary-NBNS-Server-Address (RFC 1877 §1.4).
    pub const SECONDARY_NBNS: u8 = 132;

    /// Types the option with the length its RFC requires (ROBUSTNESS.md 29: an IP-Address
    /// option whose Length is not 6 is an error); an unknown type is [`IpcpOption::Unknown`].
    /// Error: [`WireError::OptionValue`].
    pub fn parse(raw: &RawOption<'_>) -> Result<Self, WireError> {
        let addr = |reason| exact::<4>(raw, reason).map(Ipv4Addr::from);
        Ok(match raw.kind {
            Self::IP_ADDRESSES => {
                Self::IpAddresses(exact::<8>(raw, "IP-Addresses length must be 10")?.to_vec())
            }
            Self::IP_COMPRESSION => {
                let (protocol, data) =
                    protocol_and_data(raw, "IP-Compression-Protocol length must be >= 4")?;
                Self::IpCompression { protocol, data }
            }
            Self::IP_ADDRESS => Self::IpAddress(addr("IP-Address length must be 6")?),
            Self::PRIMARY_DNS => Self::PrimaryDns(addr("Primary-DNS length must be 6")?),
            Self::PRIMARY_NBNS => Self::PrimaryNbns(addr("Primary-NBNS length must be 6")?),
            Self::SECONDARY_DNS => Self::SecondaryDns(addr("Secondary-DNS length must be 6")?),
            Self::SECONDARY_NBNS => Self::SecondaryNbns(addr("Secondary-NBNS length must be 6")?),
            kind => Self::Unknown {
                kind,
                data: raw.data.to_vec(),
            },
        })
    }

    /// The Type field.
    pub const fn kind(&self) -> u8 {
        match self {
            Self::IpAddresses(_) => Self::IP_ADDRESSES,
            Self::IpCompression { .. } => Self::IP_COMPRESSION,
            Self::IpAddress(_) => Self::IP_ADDRESS,
            Self::PrimaryDns(_) => Self::PRIMARY_DNS,
            Self::PrimaryNbns(_) => Self::PRIMARY_NBNS,
            Self::SecondaryDns(_) => Self::SECONDARY_DNS,
            Self::SecondaryNbns(_) => Self::SECONDARY_NBNS,
            Self::Unknown { kind, .. } => *kind,
        }
    }

    /// Appends the option (Type, Length, Data).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let kind = self.kind();
        match self {
            Self::IpAddresses(data) | Self::Unknown { data, .. } => {
                encode_option(kind, data, out);
            }
            Self::IpCompression { protocol, data } => {
                encode_protocol_and_data(kind, *protocol, data, out);
            }
            Self::IpAddress(a)
            | Self::PrimaryDns(a)
            | Self::PrimaryNbns(a)
            | Self::SecondaryDns(a)
            | Self::SecondaryNbns(a) => encode_option(kind, &a.octets(), out),
        }
    }
}

/// An IPv6CP configuration option (RFC 5072 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ipv6cpOption {
    /// Interface-Identifier, type 1, Length 10 (§4.1).
    InterfaceIdentifier([u8; 8]),
    /// IPv6-Compression-Protocol, type 2, Length >= 4 (§4.2).
    Compression {
        /// The compression protocol.
        protocol: u16,
        /// Protocol-specific data.
        data: Vec<u8>,
    },
    /// Any other type, Data as received. Known types never parse to this variant.
    Unknown {
        /// The Type field.
        kind: u8,
        /// The Data field.
        data: Vec<u8>,
    },
}

impl Ipv6cpOption {
    /// Type of Interface-Identifier (RFC 5072 §4.1).
    pub const INTERFACE_IDENTIFIER: u8 = 1;
    /// Type of IPv6-Compression-Protocol (RFC 5072 §4.2).
    pub const COMPRESSION: u8 = 2;

    /// Types the option with the length its RFC requires; an unknown type is
    /// [`Ipv6cpOption::Unknown`]. Error: [`WireError::OptionValue`].
    pub fn parse(raw: &RawOption<'_>) -> Result<Self, WireError> {
        Ok(match raw.kind {
            Self::INTERFACE_IDENTIFIER => {
                Self::InterfaceIdentifier(exact(raw, "Interface-Identifier length must be 10")?)
            }
            Self::COMPRESSION => {
                let (protocol, data) =
                    protocol_and_data(raw, "IPv6-Compression-Protocol length must be >= 4")?;
                Self::Compression { protocol, data }
            }
            kind => Self::Unknown {
                kind,
                data: raw.data.to_vec(),
            },
        })
    }

    /// The Type field.
    pub const fn kind(&self) -> u8 {
        match self {
            Self::InterfaceIdentifier(_) => Self::INTERFACE_IDENTIFIER,
            Self::Compression { .. } => Self::COMPRESSION,
            Self::Unknown { kind, .. } => *kind,
        }
    }

    /// Appends the option (Type, Length, Data).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let kind = self.kind();
        match self {
            Self::InterfaceIdentifier(id) => encode_option(kind, id, out),
            Self::Compression { protocol, data } => {
                encode_protocol_and_data(kind, *protocol, data, out);
            }
            Self::Unknown { data, .. } => encode_option(kind, data, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(list: &[u8]) -> Vec<Result<RawOption<'_>, WireError>> {
        options(list).collect()
    }

    #[test]
    fn walk() {
        let list = [1, 4, 5, 0xdc, 7, 2, 0xfe, 3, 9];
        assert_eq!(
            all(&list),
            vec![
                Ok(RawOption {
                    kind: 1,
                    data: &[5, 0xdc]
                }),
                Ok(RawOption { kind: 7, data: &[] }),
                Ok(RawOption {
                    kind: 0xfe,
                    data: &[9]
                }),
            ]
        );
        assert!(all(&[]).is_empty());
        let mut it = options(&list);
        it.next();
        assert_eq!(it.offset(), 4);
    }

    #[test]
    fn malformed_lists_end_the_walk() {
        // Length 0 and 1 (ROBUSTNESS 29): one error, then nothing.
        for length in [0u8, 1] {
            let list = [7, 2, 1, length, 5, 0xdc];
            assert_eq!(
                all(&list),
                vec![
                    Ok(RawOption { kind: 7, data: &[] }),
                    Err(WireError::OptionTooShort { offset: 2, length })
                ]
            );
        }
        // Past the end.
        assert_eq!(
            all(&[5, 7, 0, 0, 0, 0]),
            vec![Err(WireError::OptionPastEnd {
                offset: 0,
                length: 7,
                remaining: 6
            })]
        );
        // A lone trailing octet.
        assert_eq!(
            all(&[8, 2, 8]),
            vec![
                Ok(RawOption { kind: 8, data: &[] }),
                Err(WireError::Truncated {
                    needed: 2,
                    remaining: 1
                })
            ]
        );
    }

    /// The option type of an [`WireError::OptionValue`].
    fn value_error<T>(r: Result<T, WireError>) -> Option<u8> {
        match r {
            Err(WireError::OptionValue { option, .. }) => Some(option),
            _ => None,
        }
    }

    #[test]
    fn typed_lengths_are_checked() {
        let bad = |kind, data: &'static [u8]| RawOption { kind, data };
        for raw in [
            bad(1, &[5]),
            bad(1, &[5, 0xdc, 0]),
            bad(2, &[0; 5]),
            bad(3, &[0xc0]),
            bad(4, &[]),
            bad(5, &[0; 3]),
            bad(7, &[0]),
            bad(8, &[0, 0]),
        ] {
            assert_eq!(
                value_error(LcpOption::parse(&raw)),
                Some(raw.kind),
                "{raw:?}"
            );
        }
        for raw in [
            bad(1, &[0; 4]),
            bad(2, &[0]),
            bad(3, &[10, 0, 0]),
            bad(3, &[10, 0, 0, 1, 0]),
            bad(129, &[]),
            bad(130, &[0; 5]),
            bad(131, &[0; 3]),
            bad(132, &[0; 6]),
        ] {
            assert_eq!(
                value_error(IpcpOption::parse(&raw)),
                Some(raw.kind),
                "{raw:?}"
            );
        }
        for raw in [bad(1, &[0; 7]), bad(1, &[0; 9]), bad(2, &[0])] {
            assert_eq!(
                value_error(Ipv6cpOption::parse(&raw)),
                Some(raw.kind),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn unknown_types_keep_their_bytes() {
        let raw = RawOption {
            kind: 13,
            data: &[6],
        };
        let o = LcpOption::parse(&raw).unwrap();
        assert_eq!(
            o,
            LcpOption::Unknown {
                kind: 13,
                data: vec![6]
            }
        );
        let mut v = Vec::new();
        o.encode(&mut v);
        assert_eq!(v, [13, 3, 6]);
    }

    #[test]
    fn oversized_data_is_truncated() {
        let mut v = Vec::new();
        encode_option(0xfe, &[1; 300], &mut v);
        assert_eq!(v.len(), 255);
        assert_eq!(v[1], 255);
        assert_eq!(
            all(&v),
            vec![Ok(RawOption {
                kind: 0xfe,
                data: &[1; OPTION_MAX_DATA]
            })]
        );
        let mut w = Vec::new();
        LcpOption::AuthProtocol {
            protocol: 0xc223,
            data: vec![2; 300],
        }
        .encode(&mut w);
        assert_eq!((w.len(), w[1], &w[2..4]), (255, 255, &[0xc2, 0x23][..]));
    }
}
