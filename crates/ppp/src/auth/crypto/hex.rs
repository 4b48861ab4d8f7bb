//! Hexadecimal text as MS-CHAP writes it (RFC 2759 §5: uppercase A-F; we read either case).

const UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `bytes` to `out` as uppercase hexadecimal.
pub(super) fn encode_upper_into(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(UPPER[usize::from(b >> 4)]));
        out.push(char::from(UPPER[usize::from(b & 0x0f)]));
    }
}

/// The value of one hexadecimal digit, either case.
pub(super) fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes exactly `2 * N` hexadecimal digits (either case); `None` on any other length or on a
/// non-digit.
pub(super) fn decode<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *o = (digit(*hi)? << 4) | digit(*lo)?;
    }
    Some(out)
}

/// The number of hexadecimal digits at the start of `text`.
pub(super) fn leading_digits(text: &[u8]) -> usize {
    text.iter().take_while(|c| c.is_ascii_hexdigit()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_is_uppercase() {
        let mut s = String::new();
        encode_upper_into(&[0x00, 0x9f, 0xab, 0xff], &mut s);
        assert_eq!(s, "009FABFF");
    }

    #[test]
    fn decode_either_case_exact_length() {
        assert_eq!(decode::<2>(b"aBcD"), Some([0xab, 0xcd]));
        assert_eq!(decode::<2>(b"abc"), None);
        assert_eq!(decode::<2>(b"abcde"), None);
        assert_eq!(decode::<2>(b"abcg"), None);
        assert_eq!(decode::<0>(b""), Some([]));
    }

    #[test]
    fn leading_digits_stops_at_non_hex() {
        assert_eq!(leading_digits(b"0aF9 M="), 4);
        assert_eq!(leading_digits(b"xyz"), 0);
        assert_eq!(leading_digits("é".as_bytes()), 0);
    }
}
