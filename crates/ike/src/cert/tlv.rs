//! Byte ranges of a certificate's parts, as received: the signed TBSCertificate and the issuer
//! and subject Names (RFC 5280 §4.1). Signatures are checked over the received bytes, and ID
//! and CERTREQ payloads carry the received Names, never a re-encoding.

use std::ops::Range;

/// Where the parts of a certificate are in its DER.
pub(super) struct Layout {
    pub(super) tbs: Range<usize>,
    pub(super) issuer: Range<usize>,
    pub(super) subject: Range<usize>,
}

/// One DER element: its tag, the range of its contents, and the range of the whole element.
struct Element {
    tag: u8,
    contents: Range<usize>,
    whole: Range<usize>,
}

/// Reads the element at `at`, which must end by `end`. Definite lengths only (DER).
fn element(der: &[u8], at: usize, end: usize) -> Option<Element> {
    let tag = *der.get(at)?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags do not occur in the parts we slice
    }
    let first = *der.get(at + 1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 {
            return None;
        }
        let bytes = der.get(at + 2..at + 2 + n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, 2 + n)
    };
    let start = at + header;
    let stop = start.checked_add(len)?;
    if stop > end {
        return None;
    }
    Some(Element {
        tag,
        contents: start..stop,
        whole: at..stop,
    })
}

const SEQUENCE: u8 = 0x30;

/// Finds the TBSCertificate, issuer and subject of a certificate that x509-cert already parsed.
pub(super) fn layout(der: &[u8]) -> Option<Layout> {
    let cert = element(der, 0, der.len())?;
    if cert.tag != SEQUENCE {
        return None;
    }
    let tbs = element(der, cert.contents.start, cert.contents.end)?;
    if tbs.tag != SEQUENCE {
        return None;
    }
    let end = tbs.contents.end;
    let mut at = tbs.contents.start;
    let mut next = |expected: u8| -> Option<Element> {
        let e = element(der, at, end)?;
        if e.tag != expected {
            return None;
        }
        at = e.whole.end;
        Some(e)
    };
    // version [0] EXPLICIT (optional), serialNumber, signature
    let first = next(0xa0).or_else(|| next(0x02))?;
    if first.tag == 0xa0 {
        next(0x02)?;
    }
    next(SEQUENCE)?;
    let issuer = next(SEQUENCE)?;
    next(SEQUENCE)?; // validity
    let subject = next(SEQUENCE)?;
    Some(Layout {
        tbs: tbs.whole,
        issuer: issuer.whole,
        subject: subject.whole,
    })
}

const SET: u8 = 0x31;
const OID: u8 = 0x06;
/// id-signedData (RFC 5652 §5.1).
const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

/// The certificates of a PKCS#7 SignedData (RFC 2315 §9.1, RFC 5652 §5.1): a CERT payload
/// with encoding "PKCS #7 wrapped X.509 certificate" (RFC 2408 §3.9). At most `limit`; other
/// CertificateChoices (attribute certificates) are skipped.
pub(super) fn pkcs7_certificates(der: &[u8], limit: usize) -> Option<Vec<Range<usize>>> {
    let info = element(der, 0, der.len())?;
    if info.tag != SEQUENCE || info.whole.end != der.len() {
        return None;
    }
    let content_type = element(der, info.contents.start, info.contents.end)?;
    if content_type.tag != OID || der.get(content_type.contents.clone())? != SIGNED_DATA {
        return None;
    }
    let explicit = element(der, content_type.whole.end, info.contents.end)?;
    if explicit.tag != 0xa0 {
        return None;
    }
    let signed = element(der, explicit.contents.start, explicit.contents.end)?;
    if signed.tag != SEQUENCE {
        return None;
    }
    let end = signed.contents.end;
    let version = element(der, signed.contents.start, end)?;
    let digests = element(der, version.whole.end, end)?;
    let encap = element(der, digests.whole.end, end)?;
    if version.tag != 0x02 || digests.tag != SET || encap.tag != SEQUENCE {
        return None;
    }
    let mut out = Vec::new();
    let Some(certs) = element(der, encap.whole.end, end).filter(|e| e.tag == 0xa0) else {
        return Some(out); // no certificates
    };
    let mut at = certs.contents.start;
    while at < certs.contents.end && out.len() < limit {
        let cert = element(der, at, certs.contents.end)?;
        if cert.tag == SEQUENCE {
            out.push(cert.whole.clone());
        }
        at = cert.whole.end;
    }
    Some(out)
}
