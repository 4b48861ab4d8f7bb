//! The texts in the Message field of MS-CHAP Success and Failure packets (RFC 2759 §5, §6;
//! RFC 2433 §8).
//!
//! The parsers take the raw Message bytes, never panic, and are lenient in what they accept
//! (RFC 2433 §8: "Implementations should accept but ignore additional text they do not
//! recognize"); the formatters write exactly what the RFCs show.

use super::hex;

/// RFC 2759 §6, RFC 2433 §8: ERROR_RESTRICTED_LOGON_HOURS.
pub const ERROR_RESTRICTED_LOGON_HOURS: u32 = 646;
/// RFC 2759 §6, RFC 2433 §8: ERROR_ACCT_DISABLED.
pub const ERROR_ACCT_DISABLED: u32 = 647;
/// RFC 2759 §6, RFC 2433 §8: ERROR_PASSWD_EXPIRED (the peer may change its password).
pub const ERROR_PASSWD_EXPIRED: u32 = 648;
/// RFC 2759 §6, RFC 2433 §8: ERROR_NO_DIALIN_PERMISSION.
pub const ERROR_NO_DIALIN_PERMISSION: u32 = 649;
/// RFC 2759 §6, RFC 2433 §8: ERROR_AUTHENTICATION_FAILURE, the usual one.
pub const ERROR_AUTHENTICATION_FAILURE: u32 = 691;
/// RFC 2759 §6, RFC 2433 §8: ERROR_CHANGING_PASSWORD.
pub const ERROR_CHANGING_PASSWORD: u32 = 709;

/// The MS-CHAPv2 password-change protocol version a server announces in "V=" (RFC 2759 §6:
/// "For MS-CHAP-V2, this value SHOULD always be 3").
const MSCHAPV2_VERSION: u32 = 3;

/// An MS-CHAP Failure message (RFC 2759 §6; RFC 2433 §8 for version 1):
/// `"E=eeeeeeeeee R=r C=cccccccccccccccccccccccccccccccc V=vvvvvvvvvv M=<msg>"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MsChapFailure {
    /// "E=": the decimal error code, e.g. [`ERROR_AUTHENTICATION_FAILURE`]; codes not in the
    /// RFC's list are kept as they are.
    pub error: u32,
    /// "R=": whether the peer may retry with new credentials ('1'), in answer to `challenge`.
    pub retry: bool,
    /// "C=": the MS-CHAPv2 authenticator's new 16-octet challenge (32 hex digits). `None` if
    /// absent or not 32 digits, e.g. the optional 8-octet MS-CHAPv1 one, which
    /// [`mschapv1_failure_challenge`] reads.
    pub challenge: Option<[u8; 16]>,
    /// "V=": the password-change protocol version (3 for MS-CHAPv2; RFC 2433 §8: assume 1 if
    /// absent).
    pub version: Option<u32>,
    /// "M=": the human-readable text, everything after "M=" to the end.
    pub message: Option<String>,
}

impl MsChapFailure {
    /// What an MS-CHAPv2 authenticator sends when the credentials are wrong (RFC 2759 §9.1.3,
    /// §9.1.4): E=691, R as given, the new challenge for a retry, V=3.
    pub fn authentication_failure(
        retry: bool,
        challenge: [u8; 16],
        message: Option<String>,
    ) -> Self {
        Self {
            error: ERROR_AUTHENTICATION_FAILURE,
            retry,
            challenge: Some(challenge),
            version: Some(MSCHAPV2_VERSION),
            message,
        }
    }
}

/// Formats an MS-CHAPv2 Success message (RFC 2759 §5): `"S=<auth_string> M=<message>"`.
///
/// `authenticator_response` is the 42-character "S=..." of
/// [`super::generate_authenticator_response`] (or of a RADIUS MS-CHAP2-Success attribute,
/// RFC 2548 §2.3.3); a bare 40-digit string gets its "S=" added and lowercase digits are
/// uppercased. " M=" is always written, with an empty text if `message` is empty.
pub fn format_mschapv2_success(authenticator_response: &str, message: &str) -> String {
    let auth = authenticator_response.trim_ascii();
    let digits = auth
        .strip_prefix("S=")
        .or_else(|| auth.strip_prefix("s="))
        .unwrap_or(auth);
    let mut out = String::with_capacity(digits.len() + 5 + message.len());
    out.push_str("S=");
    if digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        // RFC 2759 §5: "The hexadecimal digits A-F (if present) MUST be uppercase."
        out.extend(digits.chars().map(|c| c.to_ascii_uppercase()));
    } else {
        out.push_str(digits);
    }
    out.push_str(" M=");
    out.push_str(message);
    out
}

/// Finds the authenticator response in an MS-CHAPv2 Success message (RFC 2759 §5) and returns
/// it as "S=" followed by 40 uppercase hex digits, the form
/// [`super::generate_authenticator_response`] produces, for
/// [`super::check_authenticator_response`].
///
/// Lenient: the first "S=" (or "s=") followed by 40 hex digits of either case counts, wherever
/// it is and whatever follows it. So a missing " M=", spaces before or after "S=", a NUL
/// terminator, and the Windows Server 2019 form without the space (`"S=<40 hex>M=..."`,
/// ppp-project/ppp#156) are all accepted. `None` if there is no such value: RFC 2759 §5 says the
/// peer "MUST end the session" then.
pub fn parse_mschapv2_success(message: &[u8]) -> Option<String> {
    let mut rest = message;
    while let Some(at) = rest.iter().position(|&c| c == b'S' || c == b's') {
        let after_s = &rest[at + 1..];
        if let Some(digits) = value_after_equals(after_s) {
            if hex::leading_digits(digits) >= 40 {
                let mut out = String::with_capacity(42);
                out.push_str("S=");
                for &c in &digits[..40] {
                    out.push(char::from(c.to_ascii_uppercase()));
                }
                return Some(out);
            }
        }
        rest = after_s;
    }
    None
}

/// After a key letter: optional spaces, '=', optional spaces; the rest.
fn value_after_equals(text: &[u8]) -> Option<&[u8]> {
    let text = text.trim_ascii_start();
    let text = text.strip_prefix(b"=")?;
    Some(text.trim_ascii_start())
}

/// Formats an MS-CHAP Failure message (RFC 2759 §6): `"E=691 R=0 C=<32 hex> V=3 M=<msg>"`.
///
/// "E=" and "R=" are always written; "C=" (uppercase hex), "V=" and "M=" only when present,
/// in that order.
pub fn format_mschap_failure(f: &MsChapFailure) -> String {
    use core::fmt::Write as _;

    let mut out = String::with_capacity(64 + f.message.as_ref().map_or(0, String::len));
    // Writing into a String cannot fail.
    let _ = write!(out, "E={} R={}", f.error, u8::from(f.retry));
    if let Some(challenge) = &f.challenge {
        out.push_str(" C=");
        hex::encode_upper_into(challenge, &mut out);
    }
    if let Some(version) = f.version {
        let _ = write!(out, " V={version}");
    }
    if let Some(message) = &f.message {
        out.push_str(" M=");
        out.push_str(message);
    }
    out
}

/// Parses an MS-CHAP Failure message (RFC 2759 §6, RFC 2433 §8).
///
/// `None` unless there is an "E=" with a decimal code that fits a `u32`: a Failure without one
/// (a plain CHAP-style text) is still a failure, just not an MS-CHAP formatted one.
///
/// Lenient: fields are "X=value" tokens separated by whitespace, in any order, either case of
/// key letter; the first of each counts; unknown tokens are ignored. "M=" takes the rest of the
/// message (trailing NULs dropped, invalid UTF-8 replaced). "R=1" means retry, anything else
/// not; "C=" must be 32 hex digits to count; "V=" must be decimal.
pub fn parse_mschap_failure(message: &[u8]) -> Option<MsChapFailure> {
    let fields = Fields::parse(message);
    let error = parse_decimal(fields.e?)?;
    let challenge = fields.c.and_then(|c| {
        let n = hex::leading_digits(c);
        hex::decode::<16>(&c[..n])
    });
    Some(MsChapFailure {
        error,
        retry: fields.r.is_some_and(|r| r.first() == Some(&b'1')),
        challenge,
        version: fields.v.and_then(parse_decimal),
        message: fields
            .m
            .map(|m| String::from_utf8_lossy(trim_trailing_nuls(m)).into_owned()),
    })
}

/// The optional 8-octet challenge of an MS-CHAPv1 Failure message (RFC 2433 §8: "C=" with 16
/// hex digits). `None` if there is none, in which case the peer answers "the previous challenge
/// value plus decimal 23 in the first octet".
pub fn mschapv1_failure_challenge(message: &[u8]) -> Option<[u8; 8]> {
    let c = Fields::parse(message).c?;
    let n = hex::leading_digits(c);
    hex::decode::<8>(&c[..n])
}

/// The raw values of the fields of a Failure message.
#[derive(Default)]
struct Fields<'a> {
    e: Option<&'a [u8]>,
    r: Option<&'a [u8]>,
    c: Option<&'a [u8]>,
    v: Option<&'a [u8]>,
    m: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    fn parse(message: &'a [u8]) -> Self {
        let mut fields = Self::default();
        let mut rest = message;
        loop {
            rest = rest.trim_ascii_start();
            let [key, b'=', tail @ ..] = rest else {
                // Not a field: skip the token.
                let Some(end) = rest.iter().position(u8::is_ascii_whitespace) else {
                    break;
                };
                rest = &rest[end..];
                continue;
            };
            if key.eq_ignore_ascii_case(&b'M') {
                fields.m = Some(tail);
                break;
            }
            let end = tail
                .iter()
                .position(u8::is_ascii_whitespace)
                .unwrap_or(tail.len());
            let (value, next) = tail.split_at(end);
            let slot = match key.to_ascii_uppercase() {
                b'E' => &mut fields.e,
                b'R' => &mut fields.r,
                b'C' => &mut fields.c,
                b'V' => &mut fields.v,
                _ => {
                    rest = next;
                    continue;
                }
            };
            slot.get_or_insert(value);
            rest = next;
        }
        fields
    }
}

/// The leading decimal digits of `text` as a `u32`; `None` if there are none or they overflow.
fn parse_decimal(text: &[u8]) -> Option<u32> {
    let digits = text.iter().take_while(|c| c.is_ascii_digit());
    let mut value: Option<u32> = None;
    for &d in digits {
        value = Some(
            value
                .unwrap_or(0)
                .checked_mul(10)?
                .checked_add(u32::from(d - b'0'))?,
        );
    }
    value
}

fn trim_trailing_nuls(text: &[u8]) -> &[u8] {
    let end = text.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::crypto::check_authenticator_response;
    use proptest::prelude::*;

    //= https://www.rfc-editor.org/rfc/rfc2759#section-9.2
    //# 42-octet AuthenticatorResponse:
    //# "S=407A5589115FD0D6209F510FE9C04566932CDA56"
    const AUTH: &str = "S=407A5589115FD0D6209F510FE9C04566932CDA56";

    const CHALLENGE: [u8; 16] = [
        0x5B, 0x5D, 0x7C, 0x7D, 0x7B, 0x3F, 0x2F, 0x3E, 0x3C, 0x2C, 0x60, 0x21, 0x32, 0x26, 0x26,
        0x28,
    ];

    #[test]
    fn success_format() {
        //= https://www.rfc-editor.org/rfc/rfc2759#section-5
        //# "S=<auth_string> M=<message>"
        assert_eq!(
            format_mschapv2_success(AUTH, "Access granted"),
            "S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Access granted"
        );
        assert_eq!(
            format_mschapv2_success(&AUTH[2..], ""),
            "S=407A5589115FD0D6209F510FE9C04566932CDA56 M="
        );
        assert_eq!(
            format_mschapv2_success(" s=407a5589115fd0d6209f510fe9c04566932cda56 ", "ok"),
            "S=407A5589115FD0D6209F510FE9C04566932CDA56 M=ok"
        );
    }

    #[test]
    fn success_parse_well_formed() {
        let msg = format_mschapv2_success(AUTH, "Access granted");
        assert_eq!(
            parse_mschapv2_success(msg.as_bytes()).as_deref(),
            Some(AUTH)
        );
    }

    #[test]
    fn success_parse_tolerant() {
        let cases: &[&[u8]] = &[
            // No M= at all.
            b"S=407A5589115FD0D6209F510FE9C04566932CDA56",
            // Lowercase hex, and lowercase s.
            b"S=407a5589115fd0d6209f510fe9c04566932cda56 M=ok",
            b"s=407a5589115fd0d6209f510fe9c04566932cda56",
            // Extra spaces around.
            b"  S= 407A5589115FD0D6209F510FE9C04566932CDA56   M=  ok  ",
            b"S = 407A5589115FD0D6209F510FE9C04566932CDA56",
            // Windows Server 2019 (ppp-project/ppp#156): no space before M=.
            b"S=407A5589115FD0D6209F510FE9C04566932CDA56M=Success. Logging you in...",
            // Junk after the value.
            b"S=407A5589115FD0D6209F510FE9C04566932CDA56\x00\x01junk",
            b"S=407A5589115FD0D6209F510FE9C04566932CDA56;M=x",
            // NUL-terminated.
            b"S=407A5589115FD0D6209F510FE9C04566932CDA56 M=ok\x00",
            // Non-ASCII message.
            "S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Zugriff gewährt ✓".as_bytes(),
            // Junk before.
            b"\r\nServer says S=407A5589115FD0D6209F510FE9C04566932CDA56",
        ];
        for case in cases {
            let parsed = parse_mschapv2_success(case);
            assert_eq!(
                parsed.as_deref(),
                Some(AUTH),
                "{:?}",
                String::from_utf8_lossy(case)
            );
            assert!(check_authenticator_response(
                AUTH,
                &parsed.unwrap_or_default()
            ));
        }
    }

    #[test]
    fn success_parse_rejects() {
        let cases: &[&[u8]] = &[
            b"",
            b"S",
            b"S=",
            b"M=Access granted",
            // Truncated value.
            b"S=407A5589115FD0D6209F510FE9C04566932CDA5",
            b"S=407A5589115FD0D6209F510FE9C04566932CDA5 M=ok",
            // A non-hex digit inside.
            b"S=407A5589115FD0D6209F510FE9C0456693XCDA56",
            // Hex without S=.
            b"407A5589115FD0D6209F510FE9C04566932CDA56",
            b"T=407A5589115FD0D6209F510FE9C04566932CDA56",
            // Truncated in the middle of a multi-byte character.
            &"S=é".as_bytes()[..3],
            b"\xff\xfe\xfd",
        ];
        for case in cases {
            assert_eq!(
                parse_mschapv2_success(case),
                None,
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn success_parse_takes_first_valid_value() {
        // "Says" has an 's' not followed by '='; the real value comes later.
        let msg = b"Says S=407A5589115FD0D6209F510FE9C04566932CDA56";
        assert_eq!(parse_mschapv2_success(msg).as_deref(), Some(AUTH));
        // A too-short S= first, then a good one.
        let msg = b"S=12 S=407A5589115FD0D6209F510FE9C04566932CDA56";
        assert_eq!(parse_mschapv2_success(msg).as_deref(), Some(AUTH));
    }

    #[test]
    fn failure_format() {
        //= https://www.rfc-editor.org/rfc/rfc2759#section-6
        //# "E=eeeeeeeeee R=r C=cccccccccccccccccccccccccccccccc V=vvvvvvvvvv
        //# M=<msg>"
        let f = MsChapFailure::authentication_failure(
            false,
            CHALLENGE,
            Some("Authentication failed".into()),
        );
        assert_eq!(
            format_mschap_failure(&f),
            "E=691 R=0 C=5B5D7C7D7B3F2F3E3C2C602132262628 V=3 M=Authentication failed"
        );
        let bare = MsChapFailure {
            error: ERROR_PASSWD_EXPIRED,
            retry: true,
            challenge: None,
            version: None,
            message: None,
        };
        assert_eq!(format_mschap_failure(&bare), "E=648 R=1");
    }

    #[test]
    fn failure_round_trip() {
        let f = MsChapFailure::authentication_failure(
            true,
            CHALLENGE,
            Some("Authentication failed, E=1 R=0 inside".into()),
        );
        assert_eq!(
            parse_mschap_failure(format_mschap_failure(&f).as_bytes()),
            Some(f)
        );
    }

    #[test]
    fn failure_parse_rfc_examples() {
        // RFC 2759 §9.1.3, §9.1.4, §9.1.6: bare codes with no challenge.
        let f = parse_mschap_failure(b"E=691 R=0").unwrap();
        assert_eq!(
            (f.error, f.retry, f.challenge, f.version),
            (691, false, None, None)
        );
        let f = parse_mschap_failure(b"E=691 R=1").unwrap();
        assert!(f.retry);
        let f = parse_mschap_failure(b"E=648 R=0 V=3").unwrap();
        assert_eq!((f.error, f.version), (ERROR_PASSWD_EXPIRED, Some(3)));
    }

    #[test]
    fn failure_parse_windows_style() {
        let f = parse_mschap_failure(
            b"E=691 R=1 C=5b5d7c7d7b3f2f3e3c2c602132262628 V=3 M=Authentication failure\0",
        )
        .unwrap();
        assert_eq!(f.error, ERROR_AUTHENTICATION_FAILURE);
        assert!(f.retry);
        assert_eq!(f.challenge, Some(CHALLENGE));
        assert_eq!(f.version, Some(3));
        assert_eq!(f.message.as_deref(), Some("Authentication failure"));
    }

    #[test]
    fn failure_parse_tolerant() {
        // Any order, extra spaces, unknown tokens, lowercase keys.
        let f = parse_mschap_failure(b"  v=3   x=y junk e=709 r=0   M=no").unwrap();
        assert_eq!(f.error, ERROR_CHANGING_PASSWORD);
        assert_eq!(f.version, Some(3));
        assert!(!f.retry);
        assert_eq!(f.message.as_deref(), Some("no"));
        // Duplicates: the first counts.
        assert_eq!(parse_mschap_failure(b"E=646 E=647").unwrap().error, 646);
        // Trailing junk after the digits.
        assert_eq!(parse_mschap_failure(b"E=647;").unwrap().error, 647);
        // Non-UTF-8 message.
        let f = parse_mschap_failure(b"E=691 R=0 M=\xff\xfe").unwrap();
        assert_eq!(f.message.as_deref(), Some("\u{fffd}\u{fffd}"));
        // Empty message.
        let f = parse_mschap_failure(b"E=691 M=").unwrap();
        assert_eq!(f.message.as_deref(), Some(""));
        // A bad challenge is dropped, not fatal.
        let f = parse_mschap_failure(b"E=691 R=1 C=5B5D V=3").unwrap();
        assert_eq!(f.challenge, None);
        assert_eq!(f.version, Some(3));
        let f = parse_mschap_failure(b"E=691 C=5B5D7C7D7B3F2F3E3C2C60213226262").unwrap();
        assert_eq!(f.challenge, None);
    }

    #[test]
    fn failure_parse_rejects() {
        for case in [
            &b""[..],
            b"Authentication failed",
            b"E=",
            b"E=abc R=1",
            b"E=4294967296",
            b"R=1 C=5B5D7C7D7B3F2F3E3C2C602132262628",
            // E= inside the message does not count.
            b"M=E=691",
        ] {
            assert_eq!(
                parse_mschap_failure(case),
                None,
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
        assert_eq!(
            parse_mschap_failure(b"E=4294967295").map(|f| f.error),
            Some(u32::MAX)
        );
    }

    #[test]
    fn mschapv1_failure() {
        //= https://www.rfc-editor.org/rfc/rfc2433#section-8
        //# "E=eeeeeeeeee R=r C=cccccccccccccccc V=vvvvvvvvvv"
        let msg = b"E=691 R=1 C=102DB5DF085D3041 V=2";
        assert_eq!(
            mschapv1_failure_challenge(msg),
            Some([0x10, 0x2D, 0xB5, 0xDF, 0x08, 0x5D, 0x30, 0x41])
        );
        let f = parse_mschap_failure(msg).unwrap();
        assert_eq!(
            (f.error, f.retry, f.challenge, f.version),
            (691, true, None, Some(2))
        );
        assert_eq!(mschapv1_failure_challenge(b"E=691 R=1"), None);
        // A v2 challenge is not a v1 one.
        assert_eq!(
            mschapv1_failure_challenge(b"E=691 C=5B5D7C7D7B3F2F3E3C2C602132262628"),
            None
        );
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            [
                ERROR_RESTRICTED_LOGON_HOURS,
                ERROR_ACCT_DISABLED,
                ERROR_PASSWD_EXPIRED,
                ERROR_NO_DIALIN_PERMISSION,
                ERROR_AUTHENTICATION_FAILURE,
                ERROR_CHANGING_PASSWORD
            ],
            [646, 647, 648, 649, 691, 709]
        );
    }

    fn failure_strategy() -> impl Strategy<Value = MsChapFailure> {
        (
            any::<u32>(),
            any::<bool>(),
            proptest::option::of(any::<[u8; 16]>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of("\\PC*"),
        )
            .prop_map(
                |(error, retry, challenge, version, message)| MsChapFailure {
                    error,
                    retry,
                    challenge,
                    version,
                    message,
                },
            )
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_mschapv2_success(&bytes);
            let _ = parse_mschap_failure(&bytes);
            let _ = mschapv1_failure_challenge(&bytes);
        }

        #[test]
        fn parsers_never_panic_on_text(text in "[ESRCVMsercvm= 0-9A-Fa-f\\PC]{0,120}") {
            let _ = parse_mschapv2_success(text.as_bytes());
            let _ = parse_mschap_failure(text.as_bytes());
        }

        #[test]
        fn success_round_trip(auth in any::<[u8; 20]>(), message in "\\PC*") {
            let mut s = String::from("S=");
            hex::encode_upper_into(&auth, &mut s);
            let formatted = format_mschapv2_success(&s, &message);
            prop_assert_eq!(parse_mschapv2_success(formatted.as_bytes()), Some(s));
        }

        #[test]
        fn success_truncated_never_panics(auth in any::<[u8; 20]>(), cut in 0usize..60) {
            let mut s = String::from("S=");
            hex::encode_upper_into(&auth, &mut s);
            let formatted = format_mschapv2_success(&s, "ok");
            let cut = cut.min(formatted.len());
            let parsed = parse_mschapv2_success(&formatted.as_bytes()[..cut]);
            prop_assert_eq!(parsed.is_some(), cut >= 42);
        }

        #[test]
        fn failure_round_trip_any(f in failure_strategy()) {
            let formatted = format_mschap_failure(&f);
            prop_assert_eq!(parse_mschap_failure(formatted.as_bytes()), Some(f));
        }

        #[test]
        fn failure_truncated_never_panics(f in failure_strategy(), cut in 0usize..120) {
            let formatted = format_mschap_failure(&f);
            let bytes = formatted.as_bytes();
            let _ = parse_mschap_failure(&bytes[..cut.min(bytes.len())]);
        }
    }
}
