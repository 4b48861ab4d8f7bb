//! Parse-only target (quinn `fuzz/fuzz_targets/packet.rs`): an L2TP datagram (RFC 2661 §3.1)
//! through `Header::parse`, then its body (and the raw input as a body) through
//! `ControlMessage::parse` with and without a shared secret (§4.3). Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sras_l2tp::fuzzing::fuzz_parse;

fuzz_target!(|data: &[u8]| {
    fuzz_parse(data);
});
