//! The MTU code of sras-stack on hostile packets: `parse_frag_needed` on anything a raw ICMP
//! socket can deliver, and `clamp_mss_ipv4`/`clamp_mss_ipv6` on anything the TUN device can (seed 001 §3.2).
//! Neither may panic; a clamp may change nothing but the MSS option and the TCP checksum, and
//! the checksum must stay valid when it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sras_stack::mtu::{clamp_mss_ipv4, clamp_mss_ipv6, parse_frag_needed, MIN_PATH_MTU};

fuzz_target!(|data: &[u8]| {
    if let Some(f) = parse_frag_needed(data) {
        assert!(f.spi.is_some() != f.ports.is_some());
        let _ = f.mtu.max(MIN_PATH_MTU);
    }
    let Some((&mtu_byte, packet)) = data.split_first() else {
        return;
    };
    let mtu = 576 + u16::from(mtu_byte) * 4;
    for clamp in [clamp_mss_ipv4, clamp_mss_ipv6] {
        let mut p = packet.to_vec();
        if !clamp(&mut p, mtu) {
            assert_eq!(p, packet);
        } else {
            let differing = p.iter().zip(packet).filter(|(a, b)| a != b).count();
            assert!(differing <= 4, "clamp changed {differing} bytes");
        }
    }
});
