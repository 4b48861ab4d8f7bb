//! Round-trip target (hickory `fuzz/fuzz_targets/message.rs`): whatever decodes (the ISAKMP
//! header, a payload chain, the SA payload with its proposals, transforms and attributes, and
//! every other typed payload; RFC 2408 §3) must encode to bytes that decode back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sras_ike::wire::fuzz_roundtrip;

fuzz_target!(|data: &[u8]| {
    fuzz_roundtrip(data);
});
