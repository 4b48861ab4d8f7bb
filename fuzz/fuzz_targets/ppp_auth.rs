//! A PAP, CHAP or EAP control packet (RFC 1334, RFC 1994, RFC 3748; ROBUSTNESS.md 28, 30),
//! and the input as MS-CHAP Response, EAP-MD5 and EAP-MSCHAPv2 data: parse, encode, reparse
//! equal. The checks are `sras_ppp::wire::fuzz_auth`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sras_ppp::wire::fuzz_auth;

fuzz_target!(|data: &[u8]| {
    fuzz_auth(data);
});
