//! The typed payload bodies other than SA (RFC 2408 §3.8-3.15, RFC 2407 §4.6.2-4.6.3,
//! RFC 3947 §5.2, and the IKE fragmentation vendor extension). Each `decode` takes the body
//! without the 4-byte generic header and each `encode` appends it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sras_core::{Reader, Writer};

use super::{Error, ProtocolId};

sras_core::wire_enum! {
    /// Identification types of the IPsec DOI (RFC 2407 §4.6.2.1).
    pub enum IdType(u8) {
        /// ID_IPV4_ADDR: a 4-byte IPv4 address.
        Ipv4Addr = 1,
        /// ID_FQDN: a fully-qualified domain name, no terminator.
        Fqdn = 2,
        /// ID_USER_FQDN: `user@fqdn`, no terminator.
        UserFqdn = 3,
        /// ID_IPV4_ADDR_SUBNET: an IPv4 address and a 4-byte mask.
        Ipv4AddrSubnet = 4,
        /// ID_IPV6_ADDR: a 16-byte IPv6 address.
        Ipv6Addr = 5,
        /// ID_IPV6_ADDR_SUBNET: an IPv6 address and a 16-byte mask.
        Ipv6AddrSubnet = 6,
        /// ID_IPV4_ADDR_RANGE: two IPv4 addresses, first and last.
        Ipv4AddrRange = 7,
        /// ID_IPV6_ADDR_RANGE: two IPv6 addresses, first and last.
        Ipv6AddrRange = 8,
        /// ID_DER_ASN1_DN: a DER-encoded X.500 Distinguished Name.
        DerAsn1Dn = 9,
        /// ID_DER_ASN1_GN: a DER-encoded X.500 GeneralName.
        DerAsn1Gn = 10,
        /// ID_KEY_ID: opaque bytes.
        KeyId = 11,
    }
}

impl IdType {
    /// The data length this type requires, for the address types (RFC 2407 §4.6.2.2-4.6.2.12).
    pub const fn fixed_len(self) -> Option<usize> {
        match self {
            Self::Ipv4Addr => Some(4),
            Self::Ipv4AddrSubnet | Self::Ipv4AddrRange => Some(8),
            Self::Ipv6Addr => Some(16),
            Self::Ipv6AddrSubnet | Self::Ipv6AddrRange => Some(32),
            _ => None,
        }
    }
}

/// An Identification payload body of the IPsec DOI (RFC 2407 §4.6.2; RFC 2408 §3.8).
///
/// ```text
/// !   ID Type     !  Protocol ID  !             Port              !
/// ~                     Identification Data                       ~
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identification {
    /// ID Type.
    pub id_type: IdType,
    /// IP protocol (e.g. 17 for UDP; 0 = any). In phase 1 either 0 or 17 (RFC 2407 §4.6.2).
    pub protocol: u8,
    /// Port (0 = any; 500 in phase 1 with protocol 17, RFC 2407 §4.6.2; 1701 for L2TP in
    /// phase 2, RFC 3193 §5.1).
    pub port: u16,
    /// Identification Data.
    pub data: Vec<u8>,
}

impl Identification {
    /// Decodes an Identification body (RFC 2407 §4.6.2).
    ///
    /// Errors: fewer than 4 bytes; address types whose data is not their fixed length
    /// ([`Error::InvalidIdInformation`]). Other types take any data, even empty.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let id_type = IdType::from(r.u8()?);
        let protocol = r.u8()?;
        let port = r.u16()?;
        let data = r.rest().to_vec();
        if let Some(n) = id_type.fixed_len() {
            if data.len() != n {
                return Err(Error::InvalidIdInformation {
                    id_type: id_type.value(),
                    len: data.len(),
                });
            }
        }
        Ok(Self {
            id_type,
            protocol,
            port,
            data,
        })
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u8(self.id_type.value());
        w.u8(self.protocol);
        w.u16(self.port);
        w.bytes(&self.data);
    }

    /// An ID_IPV4_ADDR identification.
    pub fn ipv4(addr: Ipv4Addr, protocol: u8, port: u16) -> Self {
        Self {
            id_type: IdType::Ipv4Addr,
            protocol,
            port,
            data: addr.octets().to_vec(),
        }
    }

    /// An ID_IPV6_ADDR identification.
    pub fn ipv6(addr: Ipv6Addr, protocol: u8, port: u16) -> Self {
        Self {
            id_type: IdType::Ipv6Addr,
            protocol,
            port,
            data: addr.octets().to_vec(),
        }
    }

    /// An ID_IPV4_ADDR or ID_IPV6_ADDR identification (an IPv4-mapped IPv6 address stays
    /// IPv6).
    pub fn ip(addr: IpAddr, protocol: u8, port: u16) -> Self {
        match addr {
            IpAddr::V4(a) => Self::ipv4(a, protocol, port),
            IpAddr::V6(a) => Self::ipv6(a, protocol, port),
        }
    }

    /// An ID_FQDN identification.
    pub fn fqdn(name: &str) -> Self {
        Self {
            id_type: IdType::Fqdn,
            protocol: 0,
            port: 0,
            data: name.as_bytes().to_vec(),
        }
    }

    /// The address of an ID_IPV4_ADDR or ID_IPV6_ADDR identification with the right data
    /// length; `None` for every other type.
    pub fn to_ip(&self) -> Option<IpAddr> {
        match self.id_type {
            IdType::Ipv4Addr => <[u8; 4]>::try_from(&self.data[..])
                .ok()
                .map(|a| IpAddr::V4(a.into())),
            IdType::Ipv6Addr => <[u8; 16]>::try_from(&self.data[..])
                .ok()
                .map(|a| IpAddr::V6(a.into())),
            _ => None,
        }
    }
}

sras_core::wire_enum! {
    /// Certificate encodings (RFC 2408 §3.9).
    pub enum CertEncoding(u8) {
        /// PKCS #7 wrapped X.509 certificate.
        Pkcs7 = 1,
        /// PGP Certificate.
        Pgp = 2,
        /// DNS Signed Key.
        DnsSignedKey = 3,
        /// X.509 Certificate - Signature: a DER certificate (what sras sends and accepts).
        X509Signature = 4,
        /// X.509 Certificate - Key Exchange.
        X509KeyExchange = 5,
        /// Kerberos Tokens.
        KerberosToken = 6,
        /// Certificate Revocation List (CRL).
        Crl = 7,
        /// Authority Revocation List (ARL).
        Arl = 8,
        /// SPKI Certificate.
        Spki = 9,
        /// X.509 Certificate - Attribute.
        X509Attribute = 10,
    }
}

/// A Certificate payload body (RFC 2408 §3.9): Cert Encoding, Certificate Data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// Cert Encoding.
    pub encoding: CertEncoding,
    /// Certificate Data (a DER certificate for [`CertEncoding::X509Signature`]).
    pub data: Vec<u8>,
}

impl Certificate {
    /// Decodes the body. Errors: empty.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let encoding = CertEncoding::from(r.u8()?);
        Ok(Self {
            encoding,
            data: r.rest().to_vec(),
        })
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.encoding.value());
        out.extend_from_slice(&self.data);
    }
}

/// A Certificate Request payload body (RFC 2408 §3.10): Cert. Type, Certificate Authority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRequest {
    /// Cert. Type requested.
    pub encoding: CertEncoding,
    /// Certificate Authority: for X.509, the DER Distinguished Name of an acceptable CA;
    /// empty for "any" (RFC 2408 §3.10).
    pub authority: Vec<u8>,
}

impl CertificateRequest {
    /// Decodes the body. Errors: empty.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let encoding = CertEncoding::from(r.u8()?);
        Ok(Self {
            encoding,
            authority: r.rest().to_vec(),
        })
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.encoding.value());
        out.extend_from_slice(&self.authority);
    }
}

sras_core::wire_enum! {
    /// Notify Message Types (RFC 2408 §3.14.1; RFC 2407 §4.6.3; RFC 3706 §5.3; IANA).
    pub enum NotifyType(u16) {
        /// INVALID-PAYLOAD-TYPE (RFC 2408 §3.14.1).
        InvalidPayloadType = 1,
        /// DOI-NOT-SUPPORTED.
        DoiNotSupported = 2,
        /// SITUATION-NOT-SUPPORTED.
        SituationNotSupported = 3,
        /// INVALID-COOKIE.
        InvalidCookie = 4,
        /// INVALID-MAJOR-VERSION.
        InvalidMajorVersion = 5,
        /// INVALID-MINOR-VERSION.
        InvalidMinorVersion = 6,
        /// INVALID-EXCHANGE-TYPE.
        InvalidExchangeType = 7,
        /// INVALID-FLAGS.
        InvalidFlags = 8,
        /// INVALID-MESSAGE-ID.
        InvalidMessageId = 9,
        /// INVALID-PROTOCOL-ID.
        InvalidProtocolId = 10,
        /// INVALID-SPI.
        InvalidSpi = 11,
        /// INVALID-TRANSFORM-ID.
        InvalidTransformId = 12,
        /// ATTRIBUTES-NOT-SUPPORTED.
        AttributesNotSupported = 13,
        /// NO-PROPOSAL-CHOSEN.
        NoProposalChosen = 14,
        /// BAD-PROPOSAL-SYNTAX.
        BadProposalSyntax = 15,
        /// PAYLOAD-MALFORMED.
        PayloadMalformed = 16,
        /// INVALID-KEY-INFORMATION.
        InvalidKeyInformation = 17,
        /// INVALID-ID-INFORMATION.
        InvalidIdInformation = 18,
        /// INVALID-CERT-ENCODING.
        InvalidCertEncoding = 19,
        /// INVALID-CERTIFICATE.
        InvalidCertificate = 20,
        /// CERT-TYPE-UNSUPPORTED.
        CertTypeUnsupported = 21,
        /// INVALID-CERT-AUTHORITY.
        InvalidCertAuthority = 22,
        /// INVALID-HASH-INFORMATION.
        InvalidHashInformation = 23,
        /// AUTHENTICATION-FAILED.
        AuthenticationFailed = 24,
        /// INVALID-SIGNATURE.
        InvalidSignature = 25,
        /// ADDRESS-NOTIFICATION.
        AddressNotification = 26,
        /// NOTIFY-SA-LIFETIME.
        NotifySaLifetime = 27,
        /// CERTIFICATE-UNAVAILABLE.
        CertificateUnavailable = 28,
        /// UNSUPPORTED-EXCHANGE-TYPE.
        UnsupportedExchangeType = 29,
        /// UNEQUAL-PAYLOAD-LENGTHS.
        UnequalPayloadLengths = 30,
        /// CONNECTED (RFC 2408 §3.14.1, status).
        Connected = 16384,
        /// RESPONDER-LIFETIME (RFC 2407 §4.6.3.1).
        ResponderLifetime = 24576,
        /// REPLAY-STATUS (RFC 2407 §4.6.3.2).
        ReplayStatus = 24577,
        /// INITIAL-CONTACT (RFC 2407 §4.6.3.3).
        InitialContact = 24578,
        /// R-U-THERE (RFC 3706 §5.3).
        DpdRUThere = 36136,
        /// R-U-THERE-ACK (RFC 3706 §5.3).
        DpdRUThereAck = 36137,
    }
}

impl NotifyType {
    /// Whether this is an error type (1-16383; RFC 2408 §3.14.1), as opposed to a status.
    pub const fn is_error(self) -> bool {
        let v = self.value();
        v >= 1 && v < 16384
    }
}

/// A Notification payload body (RFC 2408 §3.14).
///
/// ```text
/// !              Domain of Interpretation  (DOI)                  !
/// !  Protocol-ID  !   SPI Size    !      Notify Message Type      !
/// ~                Security Parameter Index (SPI)                 ~
/// ~                       Notification Data                       ~
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// Domain of Interpretation ([`DOI_IPSEC`](super::DOI_IPSEC); some peers send 0).
    pub doi: u32,
    /// Protocol-ID.
    pub protocol: ProtocolId,
    /// Notify Message Type.
    pub notify_type: NotifyType,
    /// SPI (the two cookies, 16 bytes, for ISAKMP; RFC 3706 §5.3 for DPD).
    pub spi: Vec<u8>,
    /// Notification Data (a 4-byte sequence number for DPD, RFC 3706 §5.3).
    pub data: Vec<u8>,
}

impl Notification {
    /// Decodes the body. Errors: shorter than 8 bytes, or an SPI Size past the end.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let doi = r.u32()?;
        let protocol = ProtocolId::from(r.u8()?);
        let spi_size = usize::from(r.u8()?);
        let notify_type = NotifyType::from(r.u16()?);
        let spi = r.take(spi_size)?.to_vec();
        Ok(Self {
            doi,
            protocol,
            notify_type,
            spi,
            data: r.rest().to_vec(),
        })
    }

    /// Appends the body. An SPI longer than 255 bytes is cut to that.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let spi = self.spi.get(..usize::from(u8::MAX)).unwrap_or(&self.spi);
        let mut w = Writer::new(out);
        w.u32(self.doi);
        w.u8(self.protocol.value());
        w.u8(spi.len() as u8);
        w.u16(self.notify_type.value());
        w.bytes(spi);
        w.bytes(&self.data);
    }
}

/// Cap on the SPIs of one Delete payload.
pub const MAX_DELETE_SPIS: usize = 256;

/// A Delete payload body (RFC 2408 §3.15).
///
/// ```text
/// !              Domain of Interpretation  (DOI)                  !
/// !  Protocol-Id  !   SPI Size    !           # of SPIs           !
/// ~               Security Parameter Index(es) (SPI)              ~
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delete {
    /// Domain of Interpretation.
    pub doi: u32,
    /// Protocol-Id.
    pub protocol: ProtocolId,
    /// SPI Size (16 for ISAKMP: the two cookies; 4 for ESP and AH).
    pub spi_size: u8,
    /// The SPIs, each `spi_size` bytes.
    pub spis: Vec<Vec<u8>>,
}

impl Delete {
    /// Decodes the body.
    ///
    /// Errors: shorter than 8 bytes; more than [`MAX_DELETE_SPIS`] SPIs
    /// ([`Error::TooMany`]); `# of SPIs × SPI Size` different from the bytes left
    /// ([`Error::InvalidValue`]).
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let doi = r.u32()?;
        let protocol = ProtocolId::from(r.u8()?);
        let spi_size = r.u8()?;
        let count = usize::from(r.u16()?);
        if count > MAX_DELETE_SPIS {
            return Err(Error::TooMany {
                what: "SPIs in a Delete",
                limit: MAX_DELETE_SPIS,
            });
        }
        if count * usize::from(spi_size) != r.left() {
            return Err(Error::InvalidValue {
                what: "Delete SPI bytes",
                value: r.left() as u64,
            });
        }
        let mut spis = Vec::with_capacity(count);
        for _ in 0..count {
            spis.push(r.take(usize::from(spi_size))?.to_vec());
        }
        Ok(Self {
            doi,
            protocol,
            spi_size,
            spis,
        })
    }

    /// Appends the body. Each SPI is written as exactly `spi_size` bytes (cut or padded with
    /// zeros), so the result always decodes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let size = usize::from(self.spi_size);
        let mut w = Writer::new(out);
        w.u32(self.doi);
        w.u8(self.protocol.value());
        w.u8(self.spi_size);
        w.u16(u16::try_from(self.spis.len()).unwrap_or(u16::MAX));
        for spi in self.spis.iter().take(usize::from(u16::MAX)) {
            let s = spi.get(..size).unwrap_or(spi);
            w.bytes(s);
            for _ in s.len()..size {
                w.u8(0);
            }
        }
    }
}

/// A NAT-OA payload body (RFC 3947 §5.2): the original address of the sender of an
/// UDP-encapsulated transport-mode SA.
///
/// ```text
/// !   ID Type     !   RESERVED    !            RESERVED           !
/// ~           IPv4 (4 octets) or IPv6 address (16 octets)         ~
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatOa {
    /// The original address.
    pub address: IpAddr,
}

impl NatOa {
    /// Decodes the body. Errors: an ID type other than ID_IPV4_ADDR / ID_IPV6_ADDR, or an
    /// address of the wrong length ([`Error::InvalidIdInformation`]). Reserved bytes are
    /// ignored.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let id_type = r.u8()?;
        let _reserved = r.take(3)?;
        let rest = r.rest();
        let address = match (IdType::from(id_type), rest.len()) {
            (IdType::Ipv4Addr, 4) => <[u8; 4]>::try_from(rest).ok().map(|a| IpAddr::V4(a.into())),
            (IdType::Ipv6Addr, 16) => <[u8; 16]>::try_from(rest)
                .ok()
                .map(|a| IpAddr::V6(a.into())),
            _ => None,
        };
        address
            .map(|address| Self { address })
            .ok_or(Error::InvalidIdInformation {
                id_type,
                len: rest.len(),
            })
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self.address {
            IpAddr::V4(a) => {
                out.extend_from_slice(&[IdType::Ipv4Addr.value(), 0, 0, 0]);
                out.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                out.extend_from_slice(&[IdType::Ipv6Addr.value(), 0, 0, 0]);
                out.extend_from_slice(&a.octets());
            }
        }
    }
}

/// Flag of the last fragment of a message.
const FRAGMENT_LAST: u8 = 0x01;

/// A Fragment payload body ([`PayloadType::Fragment`](super::PayloadType::Fragment)), the
/// Cisco/Microsoft IKE fragmentation vendor extension, as strongSwan
/// (`src/libcharon/encoding/payloads/fragment_payload.c`) and libreswan implement it. A
/// message is cut into fragments, each sent as an ISAKMP message of its own carrying only
/// this payload; see [`crate::fragment`].
///
/// ```text
/// !         Fragment ID           !  Fragment Num !     Flags     !
/// ~                       Fragment Data                           ~
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentPayload {
    /// Fragment ID: the same for every fragment of one message.
    pub id: u16,
    /// Fragment Number, from 1.
    pub number: u8,
    /// Flags bit 0x01: this is the last fragment. Other flag bits are ignored.
    pub last: bool,
    /// Fragment Data: the `number`-th slice of the whole message.
    pub data: Vec<u8>,
}

impl FragmentPayload {
    /// Decodes the body. Errors: shorter than 4 bytes. Fragment number 0 is decoded as is
    /// (the reassembler refuses it).
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let id = r.u16()?;
        let number = r.u8()?;
        let flags = r.u8()?;
        Ok(Self {
            id,
            number,
            last: flags & FRAGMENT_LAST != 0,
            data: r.rest().to_vec(),
        })
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u16(self.id);
        w.u8(self.number);
        w.u8(if self.last { FRAGMENT_LAST } else { 0 });
        w.bytes(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identification() {
        let id = Identification::ipv4(Ipv4Addr::new(192, 0, 2, 1), 17, 500);
        let mut v = Vec::new();
        id.encode(&mut v);
        assert_eq!(v, [1, 17, 0x01, 0xf4, 192, 0, 2, 1]);
        let d = Identification::decode(&v).unwrap();
        assert_eq!(d, id);
        assert_eq!(d.to_ip(), Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
        assert_eq!(
            Identification::decode(&[1, 17, 1, 0xf4, 1, 2, 3]),
            Err(Error::InvalidIdInformation { id_type: 1, len: 3 })
        );
        let f = Identification::fqdn("vpn.example");
        assert_eq!(f.to_ip(), None);
        let v6 = Identification::ip(IpAddr::V6(Ipv6Addr::LOCALHOST), 0, 0);
        assert_eq!(v6.to_ip(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert!(Identification::decode(&[2, 0, 0]).is_err());
        assert_eq!(
            Identification::decode(&[2, 0, 0, 0]).map(|i| i.data),
            Ok(vec![])
        );
    }

    #[test]
    fn notification_dpd() {
        // R-U-THERE (RFC 3706 §5.3): DOI 1, protocol ISAKMP, SPI = the cookies, seq number.
        let n = Notification {
            doi: 1,
            protocol: ProtocolId::Isakmp,
            notify_type: NotifyType::DpdRUThere,
            spi: vec![7; 16],
            data: vec![0, 0, 0, 42],
        };
        let mut v = Vec::new();
        n.encode(&mut v);
        assert_eq!(&v[..8], &[0, 0, 0, 1, 1, 16, 0x8d, 0x28]);
        assert_eq!(Notification::decode(&v), Ok(n));
        assert!(Notification::decode(&[0, 0, 0, 1, 1, 16, 0, 14, 1]).is_err());
        assert!(NotifyType::NoProposalChosen.is_error());
        assert!(!NotifyType::InitialContact.is_error());
    }

    #[test]
    fn delete() {
        let d = Delete {
            doi: 1,
            protocol: ProtocolId::IpsecEsp,
            spi_size: 4,
            spis: vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]],
        };
        let mut v = Vec::new();
        d.encode(&mut v);
        assert_eq!(v.len(), 8 + 8);
        assert_eq!(Delete::decode(&v), Ok(d));
        // count * size != remaining
        assert!(matches!(
            Delete::decode(&v[..15]),
            Err(Error::InvalidValue { .. })
        ));
        // count over the cap
        let big = [0, 0, 0, 1, 3, 0, 1, 1];
        assert!(matches!(Delete::decode(&big), Err(Error::TooMany { .. })));
    }

    #[test]
    fn nat_oa() {
        for a in [
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ] {
            let n = NatOa { address: a };
            let mut v = Vec::new();
            n.encode(&mut v);
            assert_eq!(NatOa::decode(&v), Ok(n));
        }
        assert!(NatOa::decode(&[1, 0, 0, 0, 1, 2, 3]).is_err());
        assert!(NatOa::decode(&[2, 0, 0, 0, 1, 2, 3, 4]).is_err());
    }

    #[test]
    fn fragment_and_certs() {
        let f = FragmentPayload {
            id: 1,
            number: 2,
            last: true,
            data: vec![9; 5],
        };
        let mut v = Vec::new();
        f.encode(&mut v);
        assert_eq!(&v[..4], &[0, 1, 2, 1]);
        assert_eq!(FragmentPayload::decode(&v), Ok(f));
        assert!(FragmentPayload::decode(&[0, 1, 2]).is_err());
        let c = Certificate {
            encoding: CertEncoding::X509Signature,
            data: vec![0x30, 0],
        };
        let mut v = Vec::new();
        c.encode(&mut v);
        assert_eq!(Certificate::decode(&v), Ok(c));
        assert!(Certificate::decode(&[]).is_err());
        let cr = CertificateRequest {
            encoding: CertEncoding::X509Signature,
            authority: vec![],
        };
        let mut v = Vec::new();
        cr.encode(&mut v);
        assert_eq!(v, [4]);
        assert_eq!(CertificateRequest::decode(&v), Ok(cr));
    }
}
