//! PEM text (RFC 7468): `-----BEGIN label-----`, base64, `-----END label-----`.
//!
//! Lenient about what tools differ on (line length, CRLF, text around the blocks); bodies are
//! held in zeroizing buffers because key files pass through here.

use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

use super::CertError;

/// One decoded block.
pub(super) struct Block {
    pub(super) label: String,
    /// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`) were present: a legacy encrypted key.
    pub(super) has_headers: bool,
    pub(super) der: Zeroizing<Vec<u8>>,
}

/// Decodes every block of `text`.
pub(super) fn blocks(text: &str) -> Result<Vec<Block>, CertError> {
    let mut out = Vec::new();
    let mut current: Option<(String, bool, Zeroizing<String>)> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            if current.is_some() {
                return Err(CertError::Pem);
            }
            current = Some((label.to_owned(), false, Zeroizing::new(String::new())));
        } else if let Some(label) = line
            .strip_prefix("-----END ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            let (begin, has_headers, body) = current.take().ok_or(CertError::Pem)?;
            if begin != label {
                return Err(CertError::Pem);
            }
            let der = Zeroizing::new(Base64::decode_vec(&body).map_err(|_| CertError::Pem)?);
            out.push(Block {
                label: begin,
                has_headers,
                der,
            });
        } else if let Some((_, has_headers, body)) = current.as_mut() {
            if line.contains(':') {
                *has_headers = true;
            } else {
                body.push_str(line);
            }
        }
    }
    if current.is_some() {
        return Err(CertError::Pem);
    }
    Ok(out)
}
