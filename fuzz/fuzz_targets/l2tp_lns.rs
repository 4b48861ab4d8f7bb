//! Stateful target: arbitrary datagram sequences (several sources, time passing) fed to an
//! L2TP LNS endpoint. The input format is documented in `sras_l2tp::fuzzing::fuzz_lns`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sras_l2tp::fuzzing::fuzz_lns(data);
});
