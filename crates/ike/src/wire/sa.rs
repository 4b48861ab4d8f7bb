//! The Security Association payload with its Proposal and Transform payloads and data
//! attributes (RFC 2408 §3.3-3.6; IPsec DOI RFC 2407 §4.6.1).
//!
//! SA payload body (after the generic header):
//!
//! ```text
//! !              Domain of Interpretation  (DOI)                  !
//! !                           Situation                           ~
//! ```
//!
//! Proposal payload (RFC 2408 §3.5), chained with Next Payload 2 (more) / 0 (last):
//!
//! ```text
//! ! Next Payload  !   RESERVED    !         Payload Length        !
//! !  Proposal #   !  Protocol-Id  !    SPI Size   !# of Transforms!
//! !                        SPI (variable)                         !
//! ```
//!
//! Transform payload (RFC 2408 §3.6), chained with Next Payload 3 (more) / 0 (last):
//!
//! ```text
//! ! Next Payload  !   RESERVED    !         Payload Length        !
//! !  Transform #  !  Transform-Id !           RESERVED2           !
//! ~                        SA Attributes                          ~
//! ```
//!
//! Data attribute (RFC 2408 §3.3):
//!
//! ```text
//! !A!       Attribute Type        !    AF=0  Attribute Length     !
//! !                               !    AF=1  Attribute Value      !
//! .                   AF=0  Attribute Value                       .
//! ```

use sras_core::{Reader, Writer};

use super::{Error, GENERIC_HEADER_LEN};

/// The IPsec DOI (RFC 2407 §4.2).
pub const DOI_IPSEC: u32 = 1;

/// SIT_IDENTITY_ONLY, the only situation sras supports (RFC 2407 §4.2, §4.6.1).
pub const SIT_IDENTITY_ONLY: u32 = 1;

/// SIT_SECRECY and SIT_INTEGRITY (RFC 2407 §4.2): labeled-domain fields follow the
/// Situation, which this codec does not parse.
const SIT_LABELED: u32 = 0x2 | 0x4;

/// Cap on proposals in one SA payload.
pub const MAX_PROPOSALS: usize = 64;
/// Cap on transforms in one proposal.
pub const MAX_TRANSFORMS: usize = 64;
/// Cap on data attributes in one transform.
pub const MAX_ATTRIBUTES: usize = 32;

/// Next Payload of a proposal that is followed by another (RFC 2408 §3.5).
const NEXT_PROPOSAL: u8 = 2;
/// Next Payload of a transform that is followed by another (RFC 2408 §3.6).
const NEXT_TRANSFORM: u8 = 3;

/// Attribute Format bit: set for TV (basic) attributes (RFC 2408 §3.3).
const AF: u16 = 0x8000;

sras_core::wire_enum! {
    /// Protocol identifiers (RFC 2407 §4.4.1; RFC 2408 §3.5).
    pub enum ProtocolId(u8) {
        /// PROTO_ISAKMP: phase 1 (RFC 2407 §4.4.1).
        Isakmp = 1,
        /// PROTO_IPSEC_AH (RFC 2407 §4.4.1).
        IpsecAh = 2,
        /// PROTO_IPSEC_ESP (RFC 2407 §4.4.1).
        IpsecEsp = 3,
        /// PROTO_IPCOMP (RFC 2407 §4.4.1).
        IpComp = 4,
    }
}

/// A Security Association payload body (RFC 2408 §3.4, RFC 2407 §4.6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaPayload {
    /// Domain of Interpretation ([`DOI_IPSEC`]).
    pub doi: u32,
    /// Situation ([`SIT_IDENTITY_ONLY`]).
    pub situation: u32,
    /// The proposals in wire order. Proposals sharing a number form one logical proposal
    /// (an AND, e.g. AH and ESP; RFC 2408 §3.5, §4.2).
    pub proposals: Vec<Proposal>,
}

/// A Proposal payload (RFC 2408 §3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Proposal #.
    pub number: u8,
    /// Protocol-Id.
    pub protocol: ProtocolId,
    /// SPI (empty in phase 1 proposals: RFC 2409 §5 uses the cookies; 4 bytes for ESP/AH).
    pub spi: Vec<u8>,
    /// The transforms, in preference order (RFC 2408 §3.5).
    pub transforms: Vec<Transform>,
}

/// A Transform payload (RFC 2408 §3.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transform {
    /// Transform #.
    pub number: u8,
    /// Transform-Id: [`attr::KEY_IKE`](super::attr::KEY_IKE) in phase 1, an
    /// [`attr::EspTransformId`](super::attr::EspTransformId) for ESP.
    pub id: u8,
    /// SA Attributes.
    pub attributes: Vec<Attribute>,
}

/// A data attribute (RFC 2408 §3.3): AF bit set = TV (basic, 2-byte value), clear = TLV
/// (variable length).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute Type, without the AF bit (a class of [`attr::Phase1`](super::attr::Phase1)
    /// or [`attr::Phase2`](super::attr::Phase2)).
    pub kind: u16,
    /// The value and its format.
    pub value: AttributeValue,
}

/// The value of a data attribute (RFC 2408 §3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeValue {
    /// TV format (AF = 1): a 16-bit value.
    Basic(u16),
    /// TLV format (AF = 0): up to 65 535 bytes.
    Variable(Vec<u8>),
}

impl AttributeValue {
    /// The value as a number: [`Basic`](Self::Basic), or [`Variable`](Self::Variable) of 1 to
    /// 8 bytes big-endian (life durations may be a 4-byte TLV, RFC 2409 Appendix A); `None`
    /// otherwise.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Basic(v) => Some(u64::from(*v)),
            Self::Variable(b) if (1..=8).contains(&b.len()) => {
                Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
            }
            Self::Variable(_) => None,
        }
    }
}

impl Attribute {
    /// A basic (TV) attribute.
    pub const fn basic(kind: u16, v: u16) -> Self {
        Self {
            kind,
            value: AttributeValue::Basic(v),
        }
    }

    /// A variable (TLV) attribute.
    pub const fn variable(kind: u16, v: Vec<u8>) -> Self {
        Self {
            kind,
            value: AttributeValue::Variable(v),
        }
    }

    /// A number: TV if it fits 16 bits, else TLV with a minimal 4- or 8-byte value
    /// (RFC 2408 §3.3, RFC 2409 Appendix A for life durations).
    pub fn number(kind: u16, v: u64) -> Self {
        if let Ok(v) = u16::try_from(v) {
            Self::basic(kind, v)
        } else if let Ok(v) = u32::try_from(v) {
            Self::variable(kind, v.to_be_bytes().to_vec())
        } else {
            Self::variable(kind, v.to_be_bytes().to_vec())
        }
    }

    /// Reads one attribute (RFC 2408 §3.3).
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let t = r.u16()?;
        let kind = t & !AF;
        let value = if t & AF != 0 {
            AttributeValue::Basic(r.u16()?)
        } else {
            let len = usize::from(r.u16()?);
            AttributeValue::Variable(r.take(len)?.to_vec())
        };
        Ok(Self { kind, value })
    }

    /// Appends the attribute. A variable value longer than 65 535 bytes is cut to that.
    fn write(&self, w: &mut Writer<'_>) {
        let kind = self.kind & !AF;
        match &self.value {
            AttributeValue::Basic(v) => {
                w.u16(kind | AF);
                w.u16(*v);
            }
            AttributeValue::Variable(b) => {
                let b = b.get(..usize::from(u16::MAX)).unwrap_or(b);
                w.u16(kind);
                w.u16(b.len() as u16);
                w.bytes(b);
            }
        }
    }
}

/// Reads a substructure header (RFC 2408 §3.2 layout) and returns (Next Payload, body
/// reader). `what` names the substructure in errors.
fn sub_payload<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<(u8, Reader<'a>), Error> {
    if r.left() < GENERIC_HEADER_LEN {
        return Err(Error::BadProposalSyntax(what));
    }
    let next = r.u8()?;
    let _reserved = r.u8()?;
    let len = usize::from(r.u16()?);
    if len < GENERIC_HEADER_LEN || len - GENERIC_HEADER_LEN > r.left() {
        return Err(Error::BadProposalSyntax(what));
    }
    Ok((next, r.sub(len - GENERIC_HEADER_LEN)?))
}

/// Writes a substructure: a generic header whose length is patched after `body` ran.
fn write_sub(w: &mut Writer<'_>, next: u8, body: impl FnOnce(&mut Writer<'_>)) {
    let start = w.len();
    w.u8(next);
    w.u8(0);
    w.u16(0);
    body(w);
    let len = u16::try_from(w.len() - start).unwrap_or(u16::MAX);
    w.patch_u16(start + 2, len);
}

impl Transform {
    fn read(mut r: Reader<'_>) -> Result<Self, Error> {
        let number = r
            .u8()
            .map_err(|_| Error::BadProposalSyntax("transform header"))?;
        let id = r
            .u8()
            .map_err(|_| Error::BadProposalSyntax("transform header"))?;
        let _reserved2 = r
            .u16()
            .map_err(|_| Error::BadProposalSyntax("transform header"))?;
        let mut attributes = Vec::new();
        while r.any_left() {
            if attributes.len() == MAX_ATTRIBUTES {
                return Err(Error::TooMany {
                    what: "attributes in a transform",
                    limit: MAX_ATTRIBUTES,
                });
            }
            attributes
                .push(Attribute::read(&mut r).map_err(|_| Error::BadProposalSyntax("attribute"))?);
        }
        Ok(Self {
            number,
            id,
            attributes,
        })
    }

    fn write(&self, w: &mut Writer<'_>, last: bool) {
        write_sub(w, if last { 0 } else { NEXT_TRANSFORM }, |w| {
            w.u8(self.number);
            w.u8(self.id);
            w.u16(0);
            for a in &self.attributes {
                a.write(w);
            }
        });
    }
}

impl Proposal {
    fn read(mut r: Reader<'_>) -> Result<Self, Error> {
        let hdr = |_| Error::BadProposalSyntax("proposal header");
        let number = r.u8().map_err(hdr)?;
        let protocol = ProtocolId::from(r.u8().map_err(hdr)?);
        let spi_size = usize::from(r.u8().map_err(hdr)?);
        let count = usize::from(r.u8().map_err(hdr)?);
        let spi = r
            .take(spi_size)
            .map_err(|_| Error::BadProposalSyntax("SPI past the proposal"))?
            .to_vec();
        let mut transforms = Vec::new();
        if r.any_left() {
            loop {
                if transforms.len() == MAX_TRANSFORMS {
                    return Err(Error::TooMany {
                        what: "transforms in a proposal",
                        limit: MAX_TRANSFORMS,
                    });
                }
                let (next, body) = sub_payload(&mut r, "transform length")?;
                transforms.push(Transform::read(body)?);
                match next {
                    0 => break,
                    NEXT_TRANSFORM => {}
                    _ => return Err(Error::BadProposalSyntax("transform next payload")),
                }
            }
        }
        if r.any_left() {
            return Err(Error::BadProposalSyntax("data after the last transform"));
        }
        //= https://www.rfc-editor.org/rfc/rfc2408#section-3.5
        //# # Of Transforms (1 octet) - Specifies the number of transforms for
        //# the Proposal.
        if transforms.len() != count {
            return Err(Error::BadProposalSyntax("# of transforms"));
        }
        Ok(Self {
            number,
            protocol,
            spi,
            transforms,
        })
    }

    fn write(&self, w: &mut Writer<'_>, last: bool) {
        write_sub(w, if last { 0 } else { NEXT_PROPOSAL }, |w| {
            let spi = self.spi.get(..usize::from(u8::MAX)).unwrap_or(&self.spi);
            let transforms = self
                .transforms
                .get(..usize::from(u8::MAX))
                .unwrap_or(&self.transforms);
            w.u8(self.number);
            w.u8(self.protocol.value());
            w.u8(spi.len() as u8);
            w.u8(transforms.len() as u8);
            w.bytes(spi);
            for (i, t) in transforms.iter().enumerate() {
                t.write(w, i + 1 == transforms.len());
            }
        });
    }
}

impl SaPayload {
    /// Decodes an SA payload body (without the generic header; RFC 2408 §3.4-3.6).
    ///
    /// Errors: a Situation with the SIT_SECRECY or SIT_INTEGRITY bits under the IPsec DOI
    /// ([`Error::SituationNotSupported`]); no proposal, a proposal or transform whose length
    /// or Next Payload is inconsistent, a `# of Transforms` that does not match, bytes after
    /// the last proposal or transform ([`Error::BadProposalSyntax`]); more than
    /// [`MAX_PROPOSALS`], [`MAX_TRANSFORMS`] or [`MAX_ATTRIBUTES`] ([`Error::TooMany`]).
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let doi = r.u32()?;
        let situation = r.u32()?;
        if doi == DOI_IPSEC && situation & SIT_LABELED != 0 {
            return Err(Error::SituationNotSupported(situation));
        }
        let mut proposals = Vec::new();
        loop {
            if proposals.len() == MAX_PROPOSALS {
                return Err(Error::TooMany {
                    what: "proposals in an SA",
                    limit: MAX_PROPOSALS,
                });
            }
            let (next, pr) = sub_payload(&mut r, "proposal length")?;
            proposals.push(Proposal::read(pr)?);
            match next {
                0 => break,
                NEXT_PROPOSAL => {}
                _ => return Err(Error::BadProposalSyntax("proposal next payload")),
            }
        }
        if r.any_left() {
            return Err(Error::BadProposalSyntax("data after the last proposal"));
        }
        Ok(Self {
            doi,
            situation,
            proposals,
        })
    }

    /// Appends the SA payload body (without the generic header). Proposals and transforms
    /// are chained with Next Payload 2 / 3 and 0 for the last, with their lengths.
    ///
    /// Values past what the wire can hold (more than 255 transforms or SPI bytes, a payload
    /// over 65 535 bytes) are cut; keep within [`MAX_TRANSFORMS`] and friends.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u32(self.doi);
        w.u32(self.situation);
        for (i, p) in self.proposals.iter().enumerate() {
            p.write(&mut w, i + 1 == self.proposals.len());
        }
    }

    /// The encoded body as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

impl Transform {
    /// The first attribute of type `kind`, if any.
    pub fn attribute(&self, kind: u16) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|a| a.kind == kind)
            .map(|a| &a.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SaPayload {
        SaPayload {
            doi: DOI_IPSEC,
            situation: SIT_IDENTITY_ONLY,
            proposals: vec![
                Proposal {
                    number: 1,
                    protocol: ProtocolId::Isakmp,
                    spi: vec![],
                    transforms: vec![
                        Transform {
                            number: 1,
                            id: 1,
                            attributes: vec![
                                Attribute::basic(1, 7),
                                Attribute::basic(14, 256),
                                Attribute::number(12, 86_400),
                            ],
                        },
                        Transform {
                            number: 2,
                            id: 1,
                            attributes: vec![Attribute::basic(1, 5)],
                        },
                    ],
                },
                Proposal {
                    number: 2,
                    protocol: ProtocolId::IpsecEsp,
                    spi: vec![1, 2, 3, 4],
                    transforms: vec![],
                },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let sa = sample();
        let v = sa.to_vec();
        assert_eq!(SaPayload::decode(&v), Ok(sa));
    }

    #[test]
    fn attribute_numbers() {
        assert_eq!(
            Attribute::number(12, 3600).value,
            AttributeValue::Basic(3600)
        );
        let a = Attribute::number(12, 86_400);
        assert_eq!(a.value, AttributeValue::Variable(vec![0, 1, 0x51, 0x80]));
        assert_eq!(a.value.as_u64(), Some(86_400));
        let a = Attribute::number(12, 1 << 40);
        assert_eq!(a.value.as_u64(), Some(1 << 40));
        assert!(matches!(&a.value, AttributeValue::Variable(b) if b.len() == 8));
        assert_eq!(AttributeValue::Variable(vec![]).as_u64(), None);
        assert_eq!(AttributeValue::Variable(vec![1; 9]).as_u64(), None);
    }

    #[test]
    fn tv_and_tlv_layout() {
        let t = Transform {
            number: 1,
            id: 1,
            attributes: vec![
                Attribute::basic(1, 7),
                Attribute::variable(12, vec![0, 1, 0x51, 0x80]),
            ],
        };
        let mut v = Vec::new();
        t.write(&mut Writer::new(&mut v), true);
        assert_eq!(
            v,
            [0, 0, 0, 20, 1, 1, 0, 0, 0x80, 1, 0, 7, 0, 12, 0, 4, 0, 1, 0x51, 0x80]
        );
    }

    #[test]
    fn rejects_bad_syntax() {
        let good = sample().to_vec();
        // No proposal at all.
        assert!(matches!(
            SaPayload::decode(&good[..8]),
            Err(Error::BadProposalSyntax(_))
        ));
        // Truncated DOI / situation.
        assert!(matches!(
            SaPayload::decode(&good[..5]),
            Err(Error::Truncated { .. })
        ));
        // Trailing data after the last proposal.
        let mut v = good.clone();
        v.push(0);
        assert!(matches!(
            SaPayload::decode(&v),
            Err(Error::BadProposalSyntax(_))
        ));
        // Wrong # of transforms.
        let mut v = good.clone();
        v[8 + 7] = 3;
        assert_eq!(
            SaPayload::decode(&v),
            Err(Error::BadProposalSyntax("# of transforms"))
        );
        // Proposal next payload not 2/0.
        let mut v = good.clone();
        v[8] = 3;
        assert!(matches!(
            SaPayload::decode(&v),
            Err(Error::BadProposalSyntax(_))
        ));
        // Proposal length past the SA.
        let mut v = good.clone();
        v[8 + 2] = 0xff;
        assert!(matches!(
            SaPayload::decode(&v),
            Err(Error::BadProposalSyntax(_))
        ));
        // Labeled situation.
        let mut v = good;
        v[7] = 3;
        assert_eq!(SaPayload::decode(&v), Err(Error::SituationNotSupported(3)));
    }

    #[test]
    fn caps() {
        let mut sa = sample();
        sa.proposals[0].transforms[0].attributes = vec![Attribute::basic(1, 1); MAX_ATTRIBUTES + 1];
        assert!(matches!(
            SaPayload::decode(&sa.to_vec()),
            Err(Error::TooMany { .. })
        ));
        let mut sa = sample();
        sa.proposals[0].transforms =
            vec![sa.proposals[0].transforms[1].clone(); MAX_TRANSFORMS + 1];
        assert!(matches!(
            SaPayload::decode(&sa.to_vec()),
            Err(Error::TooMany { .. })
        ));
        let mut sa = sample();
        sa.proposals = vec![sa.proposals[1].clone(); MAX_PROPOSALS + 1];
        assert!(matches!(
            SaPayload::decode(&sa.to_vec()),
            Err(Error::TooMany { .. })
        ));
        sa.proposals.truncate(MAX_PROPOSALS);
        assert_eq!(
            SaPayload::decode(&sa.to_vec()).map(|s| s.proposals.len()),
            Ok(MAX_PROPOSALS)
        );
    }
}
