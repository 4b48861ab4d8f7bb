//! Stateful target: ESP packets on arbitrary bytes into fixed inbound SAs of every suite (ESN
//! off/on, transport and tunnel mode), through `InboundSa::open` (RFC 4303 §3.4). Checks
//! (`sras_esp::fuzzing::fuzz_open`): no panic, payload inside the packet, one counter per
//! packet, a refused packet never moves the replay window, an accepted one is refused the
//! second time, and a seal → open round trip of the first record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sras_esp::fuzzing::fuzz_open;

fuzz_target!(|data: &[u8]| {
    fuzz_open(data);
});
