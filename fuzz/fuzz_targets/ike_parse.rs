//! Parse-only target (quinn `fuzz/fuzz_targets/packet.rs`): an ISAKMP datagram (RFC 2408 §3)
//! through `Header::decode` and `split_payloads`, every typed payload decoder on every body
//! (and on the raw input), and Fragment payloads through a bounded `Reassembler`. Must never
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sras_ike::wire::fuzz_parse;

fuzz_target!(|data: &[u8]| {
    fuzz_parse(data);
});
