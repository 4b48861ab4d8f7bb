//! A Configure-* options list (RFC 1661 §6, ROBUSTNESS.md 29): the walk terminates and stops
//! at its first malformed option; every option typed as LCP, IPCP and IPv6CP re-encodes byte
//! for byte and parses back equal. The checks are `sras_ppp::wire::fuzz_options`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sras_ppp::wire::fuzz_options;

fuzz_target!(|data: &[u8]| {
    fuzz_options(data);
});
