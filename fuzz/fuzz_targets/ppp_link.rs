//! Stateful target: arbitrary PPP frame sequences (with time passing) fed to a server link
//! that authenticates and assigns addresses. Input format: `sras_ppp::fuzzing::fuzz_link`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sras_ppp::fuzzing::fuzz_link(data);
});
