//! The MS-CHAP hash functions: RFC 2759 §8 (MS-CHAPv2) and RFC 2433 Appendix A (MS-CHAPv1).

use des::cipher::{BlockEncrypt, KeyInit};
use des::Des;
use md4::Md4;
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

use super::{ct_eq, hex};

/// RFC 2759 §8.7 Magic1: "Magic server to client signing constant".
const MAGIC1: &[u8; 39] = b"Magic server to client signing constant";
/// RFC 2759 §8.7 Magic2: "Pad to make it do more than one iteration".
const MAGIC2: &[u8; 41] = b"Pad to make it do more than one iteration";
/// RFC 2433 §A.3 DesHash: the known text that LmPasswordHash encrypts.
const LM_STD_TEXT: &[u8; 8] = b"KGS!@#$%";
/// RFC 2433 §6: LAN Manager passwords are limited to 14 OEM characters.
const LM_PASSWORD_LEN: usize = 14;

/// NtPasswordHash (RFC 2759 §8.3, RFC 2433 §A.6): MD4 of the password in UTF-16LE, without a
/// terminating zero.
///
/// The password is given as UTF-8 and converted; no length limit is applied (RFC 2759 allows
/// "0 to (theoretically) 256" characters; longer passwords are simply hashed).
pub fn nt_password_hash(password: &str) -> [u8; 16] {
    // A UTF-16 string never has more code units than its UTF-8 form has bytes, so this buffer
    // never reallocates and leaves no unzeroized copy behind.
    let mut unicode = Zeroizing::new(Vec::with_capacity(password.len() * 2));
    for unit in password.encode_utf16() {
        unicode.extend_from_slice(&unit.to_le_bytes());
    }
    Md4::digest(unicode.as_slice()).into()
}

/// HashNtPasswordHash (RFC 2759 §8.4): MD4 of the 16-octet NT password hash.
///
/// This "PasswordHashHash" is what the authenticator response (§8.7) and the MPPE keys
/// (RFC 3079 §2.3, §3.4) are derived from.
pub fn hash_nt_password_hash(hash: &[u8; 16]) -> [u8; 16] {
    Md4::digest(hash).into()
}

/// ChallengeHash (RFC 2759 §8.2): the first 8 octets of
/// SHA1(PeerChallenge ++ AuthenticatorChallenge ++ UserName).
///
/// `user_name` is the user name only: the caller strips any "DOMAIN\\" prefix, since "only the
/// user name (as presented by the peer and excluding any prepended domain name)" is hashed.
pub fn challenge_hash(
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
) -> [u8; 8] {
    let digest = Sha1::new()
        .chain_update(peer_challenge)
        .chain_update(authenticator_challenge)
        .chain_update(user_name)
        .finalize();
    let mut challenge = [0u8; 8];
    challenge.copy_from_slice(&digest[..8]);
    challenge
}

/// ChallengeResponse (RFC 2759 §8.5, RFC 2433 §A.7): the 16-octet password hash, zero-padded to
/// 21 octets, is cut into three 7-octet DES keys (parity bits inserted as in §8.6) which each
/// encrypt the 8-octet challenge; the three ciphertexts are the 24-octet response.
///
/// With the NT password hash this is the NT-Response; with [`lm_password_hash`] it is the
/// deprecated LAN Manager response (RFC 2433 §A.1).
pub fn challenge_response(challenge: &[u8; 8], password_hash: &[u8; 16]) -> [u8; 24] {
    let mut z_password_hash = Zeroizing::new([0u8; 21]);
    z_password_hash[..16].copy_from_slice(password_hash);
    let (keys, _) = z_password_hash.as_chunks::<7>();
    let mut response = [0u8; 24];
    let (blocks, _) = response.as_chunks_mut::<8>();
    for (block, key) in blocks.iter_mut().zip(keys) {
        *block = des_encrypt(challenge, key);
    }
    response
}

/// GenerateNTResponse (RFC 2759 §8.1): the NT-Response field of an MS-CHAPv2 Response packet.
///
/// `user_name` excludes any domain prefix (see [`challenge_hash`]).
pub fn generate_nt_response(
    authenticator_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user_name: &[u8],
    password: &str,
) -> [u8; 24] {
    let password_hash = Zeroizing::new(nt_password_hash(password));
    generate_nt_response_from_hash(
        authenticator_challenge,
        peer_challenge,
        user_name,
        &password_hash,
    )
}

/// GenerateNTResponse (RFC 2759 §8.1) from the NT password hash (§8.3) instead of the password,
/// for stores that keep only the hash.
pub fn generate_nt_response_from_hash(
    authenticator_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user_name: &[u8],
    password_hash: &[u8; 16],
) -> [u8; 24] {
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    challenge_response(&challenge, password_hash)
}

/// GenerateAuthenticatorResponse (RFC 2759 §8.7), from the NT password hash (§8.3): the 42
/// characters "S=" followed by 40 uppercase hexadecimal digits, as the Success packet (§5) and
/// the RADIUS MS-CHAP2-Success attribute (RFC 2548 §2.3.3) carry it.
///
/// `user_name` excludes any domain prefix (see [`challenge_hash`]).
pub fn generate_authenticator_response(
    password_hash: &[u8; 16],
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
) -> String {
    let password_hash_hash = Zeroizing::new(hash_nt_password_hash(password_hash));
    let digest = Sha1::new()
        .chain_update(password_hash_hash.as_slice())
        .chain_update(nt_response)
        .chain_update(MAGIC1)
        .finalize();
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    let digest = Sha1::new()
        .chain_update(digest)
        .chain_update(challenge)
        .chain_update(MAGIC2)
        .finalize();
    let mut out = String::with_capacity(42);
    out.push_str("S=");
    hex::encode_upper_into(&digest, &mut out);
    out
}

/// CheckAuthenticatorResponse (RFC 2759 §8.8): whether the authenticator response `received`
/// (from the Success packet, e.g. via [`super::parse_mschapv2_success`]) matches `expected`
/// (from [`generate_authenticator_response`]).
///
/// Both are read leniently: surrounding whitespace, an optional "S=" (or "s=") prefix and
/// either case of hexadecimal digit are accepted. The 20 decoded octets are compared in
/// constant time. Anything that does not decode to 20 octets is a mismatch.
pub fn check_authenticator_response(expected: &str, received: &str) -> bool {
    match (
        decode_authenticator_response(expected),
        decode_authenticator_response(received),
    ) {
        (Some(e), Some(r)) => ct_eq(&e, &r),
        _ => false,
    }
}

/// The 20 octets of `"S=<40 hex>"` (prefix optional, either case).
fn decode_authenticator_response(text: &str) -> Option<[u8; 20]> {
    let text = text.trim_ascii().as_bytes();
    let digits = match text {
        [b'S' | b's', b'=', rest @ ..] => rest,
        _ => text,
    };
    hex::decode::<20>(digits)
}

/// The MS-CHAPv1 NT-Response (RFC 2433 §A.5 NtChallengeResponse): [`challenge_response`] of the
/// 8-octet challenge with [`nt_password_hash`] of the password.
pub fn mschapv1_nt_response(challenge: &[u8; 8], password: &str) -> [u8; 24] {
    let password_hash = Zeroizing::new(nt_password_hash(password));
    challenge_response(challenge, &password_hash)
}

/// LmPasswordHash (RFC 2433 §A.2): the password uppercased and zero-padded to 14 characters,
/// each 7-octet half used as a DES key to encrypt "KGS!@#$%" (§A.3 DesHash).
///
/// Only the MS-CHAPv1 40- and 56-bit MPPE keys (RFC 3079 §2.1, §2.2) and the LM-Key of the RADIUS
/// MS-CHAP-MPPE-Keys attribute (RFC 2548 §2.4.1) need it; the LAN Manager response itself is
/// deprecated (RFC 2433 §6). LAN Manager passwords are "0-to-14 OEM characters": only ASCII
/// letters are uppercased, other octets of the UTF-8 form are used as they are (the OEM code
/// page is not known here), and octets beyond the 14th are ignored.
pub fn lm_password_hash(password: &str) -> [u8; 16] {
    let mut ucase = Zeroizing::new([0u8; LM_PASSWORD_LEN]);
    for (u, b) in ucase.iter_mut().zip(password.as_bytes()) {
        *u = b.to_ascii_uppercase();
    }
    let (halves, _) = ucase.as_chunks::<7>();
    let mut hash = [0u8; 16];
    let (blocks, _) = hash.as_chunks_mut::<8>();
    for (block, key) in blocks.iter_mut().zip(halves) {
        *block = des_encrypt(LM_STD_TEXT, key);
    }
    hash
}

/// DesEncrypt (RFC 2759 §8.6, RFC 2433 §A.4): one DES-ECB block under a 7-octet key.
fn des_encrypt(clear: &[u8; 8], key: &[u8; 7]) -> [u8; 8] {
    let key = Zeroizing::new(des_key_with_parity(key));
    let cipher = Des::new(&(*key).into());
    let mut block = (*clear).into();
    cipher.encrypt_block(&mut block);
    block.into()
}

/// Spreads 56 key bits over 8 octets, 7 bits in the high end of each, and sets the low bit of
/// each octet for odd parity (RFC 2759 §9.3). The `des` crate ignores the parity bits; setting
/// them keeps the key equal to what the RFC shows.
fn des_key_with_parity(key: &[u8; 7]) -> [u8; 8] {
    let mut wide = [0u8; 8];
    wide[1..].copy_from_slice(key);
    let bits = u64::from_be_bytes(wide);
    let mut out = [0u8; 8];
    for (i, o) in out.iter_mut().enumerate() {
        // Bits 55..49 go into octet 0, 48..42 into octet 1, and so on.
        let shift = 49 - 7 * i;
        let seven = ((bits >> shift) & 0x7f) as u8;
        let octet = seven << 1;
        *o = if octet.count_ones().is_multiple_of(2) {
            octet | 1
        } else {
            octet
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    //= https://www.rfc-editor.org/rfc/rfc2759#section-9.2
    //# Intermediate values for user name "User" and password "clientPass".
    const USER_NAME: &[u8] = b"User";
    const PASSWORD: &str = "clientPass";
    const PASSWORD_UNICODE: [u8; 20] = [
        0x63, 0x00, 0x6C, 0x00, 0x69, 0x00, 0x65, 0x00, 0x6E, 0x00, 0x74, 0x00, 0x50, 0x00, 0x61,
        0x00, 0x73, 0x00, 0x73, 0x00,
    ];
    const AUTHENTICATOR_CHALLENGE: [u8; 16] = [
        0x5B, 0x5D, 0x7C, 0x7D, 0x7B, 0x3F, 0x2F, 0x3E, 0x3C, 0x2C, 0x60, 0x21, 0x32, 0x26, 0x26,
        0x28,
    ];
    const PEER_CHALLENGE: [u8; 16] = [
        0x21, 0x40, 0x23, 0x24, 0x25, 0x5E, 0x26, 0x2A, 0x28, 0x29, 0x5F, 0x2B, 0x3A, 0x33, 0x7C,
        0x7E,
    ];
    const CHALLENGE: [u8; 8] = [0xD0, 0x2E, 0x43, 0x86, 0xBC, 0xE9, 0x12, 0x26];
    const PASSWORD_HASH: [u8; 16] = [
        0x44, 0xEB, 0xBA, 0x8D, 0x53, 0x12, 0xB8, 0xD6, 0x11, 0x47, 0x44, 0x11, 0xF5, 0x69, 0x89,
        0xAE,
    ];
    const NT_RESPONSE: [u8; 24] = [
        0x82, 0x30, 0x9E, 0xCD, 0x8D, 0x70, 0x8B, 0x5E, 0xA0, 0x8F, 0xAA, 0x39, 0x81, 0xCD, 0x83,
        0x54, 0x42, 0x33, 0x11, 0x4A, 0x3D, 0x85, 0xD6, 0xDF,
    ];
    const PASSWORD_HASH_HASH: [u8; 16] = [
        0x41, 0xC0, 0x0C, 0x58, 0x4B, 0xD2, 0xD9, 0x1C, 0x40, 0x17, 0xA2, 0xA1, 0x2F, 0xA5, 0x9F,
        0x3F,
    ];
    const AUTHENTICATOR_RESPONSE: &str = "S=407A5589115FD0D6209F510FE9C04566932CDA56";

    //= https://www.rfc-editor.org/rfc/rfc2759#section-9.3
    //# The following example illustrates the values resulting from the use of the password
    //# "MyPw" to generate a pair of DES keys
    const MYPW_PASSWORD_HASH: [u8; 16] = [
        0xFC, 0x15, 0x6A, 0xF7, 0xED, 0xCD, 0x6C, 0x0E, 0xDD, 0xE3, 0x33, 0x7D, 0x42, 0x7F, 0x4E,
        0xAC,
    ];
    const MYPW_FIRST_RAW_KEY: [u8; 7] = [0xFC, 0x15, 0x6A, 0xF7, 0xED, 0xCD, 0x6C];
    const MYPW_FIRST_PARITY_KEY: [u8; 8] = [0xFD, 0x0B, 0x5B, 0x5E, 0x7F, 0x6E, 0x34, 0xD9];
    const MYPW_SECOND_RAW_KEY: [u8; 7] = [0x0E, 0xDD, 0xE3, 0x33, 0x7D, 0x42, 0x7F];
    const MYPW_SECOND_PARITY_KEY: [u8; 8] = [0x0E, 0x6E, 0x79, 0x67, 0x37, 0xEA, 0x08, 0xFE];

    //= https://www.rfc-editor.org/rfc/rfc2433#appendix-B.2
    //# Intermediate values for password "MyPw".
    const V1_CHALLENGE: [u8; 8] = [0x10, 0x2D, 0xB5, 0xDF, 0x08, 0x5D, 0x30, 0x41];
    const V1_NT_PASSWORD: [u8; 8] = [0x4D, 0x00, 0x79, 0x00, 0x50, 0x00, 0x77, 0x00];
    const V1_NT_CHALLENGE_RESPONSE: [u8; 24] = [
        0x4E, 0x9D, 0x3C, 0x8F, 0x9C, 0xFD, 0x38, 0x5D, 0x5B, 0xF4, 0xD3, 0x24, 0x67, 0x91, 0x95,
        0x6C, 0xA4, 0xC3, 0x51, 0xAB, 0x40, 0x9A, 0x3D, 0x61,
    ];

    // draft MS-CHAP memo (../shared/rfc/ms-chap.txt), section 10 "Hash Example", the LAN
    // Manager half of the same "MyPw" example (RFC 2433 dropped it).
    const V1_LM_PASSWORD_HASH: [u8; 16] = [
        0x75, 0xBA, 0x30, 0x19, 0x8E, 0x6D, 0x19, 0x75, 0xAA, 0xD3, 0xB4, 0x35, 0xB5, 0x14, 0x04,
        0xEE,
    ];
    const V1_LM_CHALLENGE_RESPONSE: [u8; 24] = [
        0x91, 0x88, 0x1D, 0x01, 0x52, 0xAB, 0x0C, 0x33, 0xC5, 0x24, 0x13, 0x5E, 0xC2, 0x4A, 0x95,
        0xEE, 0x64, 0xE2, 0x3C, 0xDC, 0x2D, 0x33, 0x34, 0x7D,
    ];

    //= https://www.rfc-editor.org/rfc/rfc3079#section-2.5.1
    //# Step 1: LmPasswordHash(Password, PasswordHash)
    //#    PasswordHash = 76 a1 52 93 60 96 d7 83 0e 23 90 22 74 04 af d2
    const CLIENTPASS_LM_PASSWORD_HASH: [u8; 16] = [
        0x76, 0xa1, 0x52, 0x93, 0x60, 0x96, 0xd7, 0x83, 0x0e, 0x23, 0x90, 0x22, 0x74, 0x04, 0xaf,
        0xd2,
    ];

    #[test]
    fn rfc2759_password_is_utf16le() {
        let unicode: Vec<u8> = PASSWORD.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(unicode, PASSWORD_UNICODE);
    }

    #[test]
    fn rfc2759_nt_password_hash() {
        assert_eq!(nt_password_hash(PASSWORD), PASSWORD_HASH);
    }

    #[test]
    fn rfc2759_hash_nt_password_hash() {
        assert_eq!(hash_nt_password_hash(&PASSWORD_HASH), PASSWORD_HASH_HASH);
    }

    #[test]
    fn rfc2759_challenge_hash() {
        assert_eq!(
            challenge_hash(&PEER_CHALLENGE, &AUTHENTICATOR_CHALLENGE, USER_NAME),
            CHALLENGE
        );
    }

    #[test]
    fn rfc2759_challenge_response() {
        assert_eq!(challenge_response(&CHALLENGE, &PASSWORD_HASH), NT_RESPONSE);
    }

    #[test]
    fn rfc2759_generate_nt_response() {
        assert_eq!(
            generate_nt_response(
                &AUTHENTICATOR_CHALLENGE,
                &PEER_CHALLENGE,
                USER_NAME,
                PASSWORD
            ),
            NT_RESPONSE
        );
        assert_eq!(
            generate_nt_response_from_hash(
                &AUTHENTICATOR_CHALLENGE,
                &PEER_CHALLENGE,
                USER_NAME,
                &PASSWORD_HASH
            ),
            NT_RESPONSE
        );
    }

    #[test]
    fn rfc2759_generate_authenticator_response() {
        let response = generate_authenticator_response(
            &PASSWORD_HASH,
            &NT_RESPONSE,
            &PEER_CHALLENGE,
            &AUTHENTICATOR_CHALLENGE,
            USER_NAME,
        );
        assert_eq!(response, AUTHENTICATOR_RESPONSE);
        assert_eq!(response.len(), 42);
    }

    #[test]
    fn rfc2759_check_authenticator_response() {
        //= https://www.rfc-editor.org/rfc/rfc2759#section-8.8
        //# if (MyResponse = ReceivedResponse) then set ResponseOK = TRUE
        assert!(check_authenticator_response(
            AUTHENTICATOR_RESPONSE,
            AUTHENTICATOR_RESPONSE
        ));
        // Lenient reading: lowercase, no prefix, surrounding whitespace.
        assert!(check_authenticator_response(
            AUTHENTICATOR_RESPONSE,
            &AUTHENTICATOR_RESPONSE.to_ascii_lowercase()
        ));
        assert!(check_authenticator_response(
            AUTHENTICATOR_RESPONSE,
            " 407A5589115FD0D6209F510FE9C04566932CDA56\r\n"
        ));
        // Mismatches.
        assert!(!check_authenticator_response(
            AUTHENTICATOR_RESPONSE,
            "S=407A5589115FD0D6209F510FE9C04566932CDA57"
        ));
        assert!(!check_authenticator_response(
            AUTHENTICATOR_RESPONSE,
            "S=407A5589115FD0D6209F510FE9C04566932CDA5"
        ));
        assert!(!check_authenticator_response(
            AUTHENTICATOR_RESPONSE,
            "S=407A5589115FD0D6209F510FE9C04566932CDA560"
        ));
        assert!(!check_authenticator_response(AUTHENTICATOR_RESPONSE, ""));
        assert!(!check_authenticator_response(AUTHENTICATOR_RESPONSE, "S="));
        assert!(!check_authenticator_response(
            AUTHENTICATOR_RESPONSE,
            "S=407A5589115FD0D6209F510FE9C04566932CDAZZ"
        ));
        // Two undecodable strings are not "equal".
        assert!(!check_authenticator_response("junk", "junk"));
    }

    #[test]
    fn rfc2759_des_key_parity() {
        assert_eq!(nt_password_hash("MyPw"), MYPW_PASSWORD_HASH);
        assert_eq!(MYPW_PASSWORD_HASH[..7], MYPW_FIRST_RAW_KEY);
        assert_eq!(MYPW_PASSWORD_HASH[7..14], MYPW_SECOND_RAW_KEY);
        assert_eq!(
            des_key_with_parity(&MYPW_FIRST_RAW_KEY),
            MYPW_FIRST_PARITY_KEY
        );
        assert_eq!(
            des_key_with_parity(&MYPW_SECOND_RAW_KEY),
            MYPW_SECOND_PARITY_KEY
        );
    }

    #[test]
    fn des_parity_is_odd_in_every_octet() {
        for key in [[0u8; 7], [0xff; 7], [0x55; 7], MYPW_FIRST_RAW_KEY] {
            for octet in des_key_with_parity(&key) {
                assert_eq!(octet.count_ones() % 2, 1, "{key:02x?}");
            }
        }
    }

    #[test]
    fn rfc2433_nt_password_hash_and_response() {
        let unicode: Vec<u8> = "MyPw".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(unicode, V1_NT_PASSWORD);
        assert_eq!(nt_password_hash("MyPw"), MYPW_PASSWORD_HASH);
        assert_eq!(
            mschapv1_nt_response(&V1_CHALLENGE, "MyPw"),
            V1_NT_CHALLENGE_RESPONSE
        );
    }

    #[test]
    fn ms_chap_memo_lm_hash_and_response() {
        assert_eq!(lm_password_hash("MyPw"), V1_LM_PASSWORD_HASH);
        // Case-insensitive: the password is uppercased first (RFC 2433 §A.2).
        assert_eq!(lm_password_hash("MYPW"), V1_LM_PASSWORD_HASH);
        assert_eq!(
            challenge_response(&V1_CHALLENGE, &V1_LM_PASSWORD_HASH),
            V1_LM_CHALLENGE_RESPONSE
        );
    }

    #[test]
    fn rfc3079_lm_password_hash() {
        assert_eq!(lm_password_hash(PASSWORD), CLIENTPASS_LM_PASSWORD_HASH);
    }

    #[test]
    fn lm_password_hash_truncates_at_14() {
        assert_eq!(
            lm_password_hash("abcdefghijklmn"),
            lm_password_hash("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        );
    }

    #[test]
    fn nt_password_hash_non_ascii_is_utf16() {
        // "é" is U+00E9, one UTF-16 unit: 0xE9 0x00. "😀" is U+1F600, a surrogate pair.
        let manual = |units: &[u16]| -> [u8; 16] {
            let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
            Md4::digest(&bytes).into()
        };
        assert_eq!(nt_password_hash("é"), manual(&[0x00E9]));
        assert_eq!(nt_password_hash("😀"), manual(&[0xD83D, 0xDE00]));
        assert_eq!(nt_password_hash(""), manual(&[]));
    }

    #[test]
    fn domain_is_not_hashed() {
        // The caller strips "DOMAIN\\"; hashing it gives a different challenge.
        assert_ne!(
            challenge_hash(&PEER_CHALLENGE, &AUTHENTICATOR_CHALLENGE, b"BIGCO\\User"),
            CHALLENGE
        );
    }

    proptest! {
        #[test]
        fn check_authenticator_response_never_panics(a in ".*", b in ".*") {
            let _ = check_authenticator_response(&a, &b);
        }

        #[test]
        fn authenticator_response_checks_against_itself(
            hash in any::<[u8; 16]>(),
            nt in any::<[u8; 24]>(),
            peer in any::<[u8; 16]>(),
            auth in any::<[u8; 16]>(),
            user in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let r = generate_authenticator_response(&hash, &nt, &peer, &auth, &user);
            prop_assert_eq!(r.len(), 42);
            prop_assert!(r.starts_with("S="));
            prop_assert!(r[2..].bytes().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c)));
            prop_assert!(check_authenticator_response(&r, &r));
            prop_assert!(check_authenticator_response(&r, &r.to_ascii_lowercase()));
        }

        #[test]
        fn nt_password_hash_any_password(p in "\\PC{0,300}") {
            let _ = nt_password_hash(&p);
            let _ = lm_password_hash(&p);
        }
    }
}
