//! The arithmetic of PPP authentication: CHAP-MD5 (RFC 1994), MS-CHAPv1 (RFC 2433),
//! MS-CHAPv2 (RFC 2759), the MS-CHAP Success and Failure message texts, and the MPPE start
//! keys derived from MS-CHAP (RFC 3079).
//!
//! Pure functions: no state, no clock, no randomness (challenges come from the caller). The
//! hashes and the cipher are the RustCrypto crates (`md-5`, `md4`, `sha1`, `des`); nothing here
//! implements a primitive by hand.
//!
//! Invariants:
//! - Nothing here panics, whatever the input: the message parsers take arbitrary bytes (they
//!   are fuzzed with proptest) and the fixed-size arithmetic uses arrays.
//! - Secrets that pass through a temporary buffer (the UTF-16 password, intermediate password
//!   hashes) are zeroized when the buffer drops; [`MppeKeys`] zeroizes itself on drop. Values
//!   returned as plain arrays are the caller's to protect.
//! - Comparisons of authenticator responses and of MPPE keys take the same time whatever the
//!   contents.
//!
//! Passwords are `&str` and are hashed as UTF-16LE (RFC 2759 §8.3 "Unicode"), as Windows does;
//! pppd instead widens each byte of its secret, so the two agree only on ASCII passwords.

mod chap;
mod hex;
mod message;
mod mppe;
mod mschap;

pub use chap::chap_md5_response;
pub use message::{
    format_mschap_failure, format_mschapv2_success, mschapv1_failure_challenge,
    parse_mschap_failure, parse_mschapv2_success, MsChapFailure, ERROR_ACCT_DISABLED,
    ERROR_AUTHENTICATION_FAILURE, ERROR_CHANGING_PASSWORD, ERROR_NO_DIALIN_PERMISSION,
    ERROR_PASSWD_EXPIRED, ERROR_RESTRICTED_LOGON_HOURS,
};
pub use mppe::{
    mppe_asymmetric_start_key, mppe_get_new_key_from_sha, mppe_keys_mschapv1, mppe_keys_mschapv2,
    mppe_master_key, mppe_start_key_mschapv1, MppeKeyStrength, MppeKeys,
};
pub use mschap::{
    challenge_hash, challenge_response, check_authenticator_response,
    generate_authenticator_response, generate_nt_response, generate_nt_response_from_hash,
    hash_nt_password_hash, lm_password_hash, mschapv1_nt_response, nt_password_hash,
};

/// Constant-time equality of two byte strings (lengths are not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && core::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}
