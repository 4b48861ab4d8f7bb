//! Round-trip target (hickory `fuzz/fuzz_targets/message.rs`, ROBUSTNESS.md 50): whatever
//! parses (header, control message, with and without hiding, RFC 2661 §3.1, §4) must encode
//! to bytes that parse back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sras_l2tp::fuzzing::fuzz_roundtrip;

fuzz_target!(|data: &[u8]| {
    fuzz_roundtrip(data);
});
