//! The ICMPv6 code of sras-stack on anything a PPP link or the TUN device can deliver: the
//! Router Solicitation check, the Router Advertisement parser (options walked with every length
//! checked) and Packet Too Big (which quotes the packet). None may panic; an advertisement that
//! parses survives a rebuild with what was parsed; an error is never made about an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sras_stack::icmp6;

fuzz_target!(|data: &[u8]| {
    let _ = icmp6::is_router_solicitation(data);
    let _ = icmp6::addresses(data);
    if let Some(ra) = icmp6::parse_router_advertisement(data) {
        if let (Some(prefix), Some(mtu)) = (ra.prefix, ra.mtu) {
            let src = icmp6::link_local([2, 0, 0, 0, 0, 0, 0, 1]);
            let again = icmp6::router_advertisement(
                src,
                icmp6::ALL_NODES,
                prefix,
                mtu.min(u32::from(u16::MAX)) as u16,
                ra.router_lifetime,
            );
            let back = icmp6::parse_router_advertisement(&again).expect("our own advertisement");
            assert_eq!(back.prefix, Some(prefix));
            assert_eq!(back.router_lifetime, ra.router_lifetime);
        }
    }
    let from = "fd00::1".parse().unwrap();
    if let Some(e) = icmp6::packet_too_big(data, from, 1280) {
        assert!(e.len() <= 1280);
        assert!(icmp6::packet_too_big(&e, from, 1280).is_none());
    }
});
