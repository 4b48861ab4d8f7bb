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
