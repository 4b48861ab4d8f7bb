//! Stateful target: datagram sequences (raw on ports 500 and 4500, or protected messages forged
//! under an ISAKMP SA a helper client established first), with time passing, fed to an IKEv1
//! responder. The input format and the invariants are documented in
//! `sras_ike::Endpoint::fuzz_responder`; seeds are recorded exchanges
//! (`crates/ike/tests/fuzz_responder_seeds.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = sras_ike::Endpoint::fuzz_responder(data);
});
