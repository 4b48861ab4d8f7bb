//! A PPP frame as an L2TP data message carries it (RFC 2661 §5.4, RFC 1661 §2, RFC 1662
//! §3.2): `parse_frame`, re-encoding under every ACFC/PFC combination, then the control
//! packet and its options or authentication payload. Must never panic; whatever parses must
//! round trip. The checks are `sras_ppp::wire::fuzz_frame`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sras_ppp::wire::fuzz_frame;

fuzz_target!(|data: &[u8]| {
    fuzz_frame(data);
});
