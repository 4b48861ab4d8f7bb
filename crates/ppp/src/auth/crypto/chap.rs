//! CHAP with MD5 (RFC 1994).

use md5::{Digest, Md5};

/// The CHAP-MD5 Response Value (RFC 1994 §4.1, with MD5 as the algorithm, §2):
/// MD5(Identifier ++ secret ++ Challenge Value).
///
/// The authenticator computes the same value from its copy of the secret and compares it with
/// the Response it received (RFC 1994 §4.1: "the Value is ... the one-way hash calculated over a
/// stream of octets consisting of the Identifier, followed by (concatenated with) the "secret",
/// followed by (concatenated with) the Challenge Value"). EAP-MD5 (RFC 3748 §5.4) uses the same
/// function.
pub fn chap_md5_response(identifier: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    Md5::new()
        .chain_update([identifier])
        .chain_update(secret)
        .chain_update(challenge)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently:
    // python3 -c 'import hashlib; print(hashlib.md5(bytes([0x2a]) + b"s3cret" + bytes(range(16))).hexdigest())'
    const IDENTIFIER: u8 = 0x2a;
    const SECRET: &[u8] = b"s3cret";
    const CHALLENGE: [u8; 16] = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
        0x0f,
    ];
    const RESPONSE: [u8; 16] = [
        0xb0, 0xd9, 0x09, 0x21, 0xe9, 0x95, 0x0a, 0xbd, 0x1a, 0x7e, 0x76, 0xdc, 0x7a, 0x01, 0xbc,
        0x64,
    ];

    #[test]
    fn chap_md5_known_answer() {
        //= https://www.rfc-editor.org/rfc/rfc1994#section-4.1
        //# The Response Value is the one-way hash calculated over a stream of
        //# octets consisting of the Identifier, followed by (concatenated
        //# with) the "secret", followed by (concatenated with) the Challenge
        //# Value.
        assert_eq!(chap_md5_response(IDENTIFIER, SECRET, &CHALLENGE), RESPONSE);
    }

    #[test]
    fn chap_md5_depends_on_every_input() {
        let base = chap_md5_response(IDENTIFIER, SECRET, &CHALLENGE);
        assert_ne!(chap_md5_response(IDENTIFIER + 1, SECRET, &CHALLENGE), base);
        assert_ne!(chap_md5_response(IDENTIFIER, b"s3creT", &CHALLENGE), base);
        assert_ne!(chap_md5_response(IDENTIFIER, SECRET, &CHALLENGE[1..]), base);
    }

    #[test]
    fn chap_md5_empty_inputs() {
        // MD5 of the single octet 0x00.
        // python3 -c 'import hashlib; print(hashlib.md5(b"\x00").hexdigest())'
        const MD5_OF_ZERO: [u8; 16] = [
            0x93, 0xb8, 0x85, 0xad, 0xfe, 0x0d, 0xa0, 0x89, 0xcd, 0xf6, 0x34, 0x90, 0x4f, 0xd5,
            0x9f, 0x71,
        ];
        assert_eq!(chap_md5_response(0, b"", b""), MD5_OF_ZERO);
    }
}
