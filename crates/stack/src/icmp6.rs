//! The few ICMPv6 messages sras sends and reads itself for IPv6 over PPP:
//!
//! - Router Solicitation and Advertisement (RFC 4861 §4.1, §4.2, §6): the server advertises
//!   each link's /64 with the autonomous flag (stateless autoconfiguration, RFC 4862), as
//!   accel-ppp and pppd's radvd set-ups do, so that Windows, macOS and Linux clients form their
//!   address from the prefix and the interface identifier IPv6CP gave them (RFC 5072 §4.1);
//!   the client solicits and takes the prefix.
//! - Packet Too Big (RFC 4443 §3.2) for a packet larger than the link's MTU: IPv6 routers never
//!   fragment, so the sender learns the tunnel's MTU from us (RFC 8201).
//!
//! Parsing never trusts a length and never panics; anything malformed is `None`.

use std::net::Ipv6Addr;

/// The Internet checksum (RFC 1071) of `data`: 0 over data that holds a correct checksum.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// IPv6 next header: ICMPv6.
const NEXT_ICMPV6: u8 = 58;
/// The fixed IPv6 header.
const IPV6_HEADER: usize = 40;
/// ICMPv6 types.
const PACKET_TOO_BIG: u8 = 2;
const ROUTER_SOLICITATION: u8 = 133;
const ROUTER_ADVERTISEMENT: u8 = 134;
/// Neighbor Discovery option types (RFC 4861 §4.6).
const OPT_PREFIX_INFORMATION: u8 = 3;
const OPT_MTU: u8 = 5;
/// RFC 4443 §2.4 (c): an error message holds as much of the packet as fits in 1280 bytes.
const MIN_MTU: usize = 1280;
/// ff02::1, all nodes on the link (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// ff02::2, all routers on the link (RFC 4291 §2.7.1).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// The link-local address of interface identifier `id` (RFC 4291 §2.5.6).
pub fn link_local(id: [u8; 8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a[0] = 0xfe;
    a[1] = 0x80;
    a[8..].copy_from_slice(&id);
    Ipv6Addr::from(a)
}

/// The address of `prefix` (the upper 64 bits) and interface identifier `id`.
pub fn address(prefix: u64, id: [u8; 8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&prefix.to_be_bytes());
    a[8..].copy_from_slice(&id);
    Ipv6Addr::from(a)
}

/// The upper 64 bits of `a`: the /64 it is in.
pub fn prefix64(a: &[u8; 16]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&a[..8]);
    u64::from_be_bytes(b)
}

/// Source and destination of an IPv6 packet (at least the fixed header long).
pub fn addresses(packet: &[u8]) -> Option<([u8; 16], [u8; 16])> {
    if packet.len() < IPV6_HEADER || packet[0] >> 4 != 6 {
        return None;
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&packet[8..24]);
    dst.copy_from_slice(&packet[24..40]);
    Some((src, dst))
}

/// Whether `a` is link-local unicast (fe80::/10) or multicast (ff00::/8): never forwarded.
pub fn is_link_scope(a: &[u8; 16]) -> bool {
    a[0] == 0xff || (a[0] == 0xfe && a[1] & 0xc0 == 0x80)
}

/// The ICMPv6 checksum (RFC 4443 §2.3) over the pseudo-header (RFC 8200 §8.1) and `icmp`.
fn checksum6(src: &Ipv6Addr, dst: &Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut data = Vec::with_capacity(40 + icmp.len());
    data.extend_from_slice(&src.octets());
    data.extend_from_slice(&dst.octets());
    data.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, NEXT_ICMPV6]);
    data.extend_from_slice(icmp);
    checksum(&data)
}

/// An IPv6 packet from `src` to `dst` carrying the ICMPv6 message `icmp` (its checksum field
/// at bytes 2-3 filled in here).
fn build(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, mut icmp: Vec<u8>) -> Vec<u8> {
    icmp[2] = 0;
    icmp[3] = 0;
    let c = checksum6(&src, &dst, &icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut p = Vec::with_capacity(IPV6_HEADER + icmp.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    p.extend_from_slice(&[NEXT_ICMPV6, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&icmp);
    p
}

/// The ICMPv6 message of `packet` (type, code, body after the 4-byte header, source), if it
/// is IPv6 with ICMPv6 right after the fixed header and a correct checksum.
fn parse(packet: &[u8]) -> Option<(u8, u8, &[u8], Ipv6Addr, u8)> {
    let (src, dst) = addresses(packet)?;
    if packet[6] != NEXT_ICMPV6 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    let icmp = packet.get(IPV6_HEADER..IPV6_HEADER + len)?;
    if icmp.len() < 4 {
        return None;
    }
    let (src, dst) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
    if checksum6(&src, &dst, icmp) != 0 {
        return None;
    }
    Some((icmp[0], icmp[1], &icmp[4..], src, packet[7]))
}

/// A Router Solicitation from `src` to all routers (RFC 4861 §4.1), without options (PPP has
/// no link-layer address).
pub fn router_solicitation(src: Ipv6Addr) -> Vec<u8> {
    build(
        src,
        ALL_ROUTERS,
        255,
        vec![ROUTER_SOLICITATION, 0, 0, 0, 0, 0, 0, 0],
    )
}

/// Whether `packet` is a valid Router Solicitation (RFC 4861 §6.1.1: hop limit 255, code 0,
/// at least 8 bytes).
pub fn is_router_solicitation(packet: &[u8]) -> bool {
    matches!(parse(packet), Some((ROUTER_SOLICITATION, 0, body, _, 255)) if body.len() >= 4)
}

/// What the client takes from a Router Advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    /// The first /64 prefix with the autonomous flag (upper 64 bits).
    pub prefix: Option<u64>,
    /// The MTU option.
    pub mtu: Option<u32>,
    /// Router lifetime in seconds (0: not a default router).
    pub router_lifetime: u16,
}

/// A Router Advertisement from `src` to `dst` for the link's /64 `prefix` (RFC 4861 §4.2):
/// hop limit 64 suggested, no managed or other-config flag (no DHCPv6: addresses come from
/// the prefix), `router_lifetime` seconds as a default router, a Prefix Information option
/// with the on-link and autonomous flags and infinite lifetimes (the prefix lives as long as
/// the link), and the link's MTU.
pub fn router_advertisement(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    prefix: u64,
    mtu: u16,
    router_lifetime: u16,
) -> Vec<u8> {
    let mut m = vec![ROUTER_ADVERTISEMENT, 0, 0, 0, 64, 0];
    m.extend_from_slice(&router_lifetime.to_be_bytes());
    m.extend_from_slice(&[0; 8]); // reachable time, retrans timer: unspecified
                                  // Prefix Information (RFC 4861 §4.6.2): type, length 4 (32 bytes), prefix length, L|A.
    m.extend_from_slice(&[OPT_PREFIX_INFORMATION, 4, 64, 0xc0]);
    m.extend_from_slice(&u32::MAX.to_be_bytes()); // valid lifetime: infinite
    m.extend_from_slice(&u32::MAX.to_be_bytes()); // preferred lifetime: infinite
    m.extend_from_slice(&[0; 4]);
    m.extend_from_slice(&prefix.to_be_bytes());
    m.extend_from_slice(&[0; 8]);
    // MTU (RFC 4861 §4.6.4).
    m.extend_from_slice(&[OPT_MTU, 1, 0, 0]);
    m.extend_from_slice(&u32::from(mtu).to_be_bytes());
    build(src, dst, 255, m)
}

/// A valid Router Advertisement (RFC 4861 §6.1.2: hop limit 255, code 0, link-local source,
/// options of non-zero length within the message).
pub fn parse_router_advertisement(packet: &[u8]) -> Option<Advertisement> {
    let (kind, code, body, src, hops) = parse(packet)?;
    if kind != ROUTER_ADVERTISEMENT || code != 0 || hops != 255 || body.len() < 12 {
        return None;
    }
    if !is_link_scope(&src.octets()) || src.is_multicast() {
        return None;
    }
    let mut ra = Advertisement {
        prefix: None,
        mtu: None,
        router_lifetime: u16::from_be_bytes([body[2], body[3]]),
    };
    let mut opts = &body[12..];
    while !opts.is_empty() {
        let kind = opts[0];
        let len = usize::from(*opts.get(1)?) * 8;
        if len == 0 || len > opts.len() {
            return None;
        }
        let opt = &opts[..len];
        match kind {
            OPT_PREFIX_INFORMATION if len == 32 => {
                let autonomous = opt[3] & 0x40 != 0;
                let valid = u32::from_be_bytes([opt[4], opt[5], opt[6], opt[7]]);
                if opt[2] == 64 && autonomous && valid > 0 && ra.prefix.is_none() {
                    let mut p = [0u8; 8];
                    p.copy_from_slice(&opt[16..24]);
                    ra.prefix = Some(u64::from_be_bytes(p));
                }
            }
            OPT_MTU if len == 8 => {
                ra.mtu = Some(u32::from_be_bytes([opt[4], opt[5], opt[6], opt[7]]));
            }
            _ => {}
        }
        opts = &opts[len..];
    }
    Some(ra)
}

/// Packet Too Big (RFC 4443 §3.2) from `from` to the source of `original`, quoting as much
/// of it as fits in the minimum MTU. `None` for what must not get an error (§2.4 (e)): an
/// ICMPv6 error, a packet from an unspecified, multicast or link-scope source.
pub fn packet_too_big(original: &[u8], from: Ipv6Addr, mtu: u16) -> Option<Vec<u8>> {
    let (src, _) = addresses(original)?;
    if src == [0; 16] || is_link_scope(&src) {
        return None;
    }
    // An ICMPv6 error (types below 128) right after the header gets no error.
    if original[6] == NEXT_ICMPV6 && original.get(IPV6_HEADER).is_some_and(|&t| t < 128) {
        return None;
    }
    let quoted = original.len().min(MIN_MTU - IPV6_HEADER - 8);
    let mut m = vec![PACKET_TOO_BIG, 0, 0, 0];
    m.extend_from_slice(&u32::from(mtu).to_be_bytes());
    m.extend_from_slice(&original[..quoted]);
    Some(build(from, Ipv6Addr::from(src), 64, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID_S: [u8; 8] = [0x02, 0, 0, 0, 0, 0, 0, 0x01];
    const ID_C: [u8; 8] = [0x0a, 0xbc, 0, 0, 0, 0, 0x12, 0x34];

    #[test]
    fn solicitation_and_advertisement_round_trip() {
        let rs = router_solicitation(link_local(ID_C));
        assert!(is_router_solicitation(&rs));
        let mut bad = rs.clone();
        bad[7] = 64; // not from the link
        assert!(!is_router_solicitation(&bad));
        let mut bad = rs.clone();
        bad[41] ^= 1; // checksum
        assert!(!is_router_solicitation(&bad));

        let prefix = 0xfd00_5a5a_0001_0002;
        let ra = router_advertisement(link_local(ID_S), ALL_NODES, prefix, 1400, 9000);
        assert_eq!(ra.len(), 40 + 16 + 32 + 8);
        let got = parse_router_advertisement(&ra).unwrap();
        assert_eq!(
            got,
            Advertisement {
                prefix: Some(prefix),
                mtu: Some(1400),
                router_lifetime: 9000
            }
        );
        assert_eq!(
            address(prefix, ID_C),
            "fd00:5a5a:1:2:abc::1234".parse::<Ipv6Addr>().unwrap()
        );
        assert!(!is_router_solicitation(&ra));
        assert!(parse_router_advertisement(&rs).is_none());
    }

    #[test]
    fn advertisement_from_a_global_source_or_damaged_is_refused() {
        let g: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let ra = router_advertisement(g, ALL_NODES, 1, 1400, 0);
        assert!(parse_router_advertisement(&ra).is_none());
        let ra = router_advertisement(link_local(ID_S), ALL_NODES, 1, 1400, 0);
        // Every truncation, and a zero-length option, is refused without a panic.
        for n in 0..ra.len() {
            let mut t = ra[..n].to_vec();
            if t.len() >= 6 {
                let len = (n.saturating_sub(40)) as u16;
                t[4..6].copy_from_slice(&len.to_be_bytes());
            }
            let _ = parse_router_advertisement(&t);
        }
        let mut z = ra.clone();
        z[40 + 16 + 1] = 0;
        assert!(parse_router_advertisement(&z).is_none());
    }

    #[test]
    fn packet_too_big_quotes_the_packet_and_never_answers_errors() {
        let src: Ipv6Addr = "fd00:99::2".parse().unwrap();
        let dst: Ipv6Addr = "fd00:5a5a:1:2::1".parse().unwrap();
        let mut p = vec![0x60, 0, 0, 0, 0x05, 0xa0, 6, 64];
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.resize(40 + 1440, 0xab);
        let from: Ipv6Addr = "fd00:5a5a::1".parse().unwrap();
        let e = packet_too_big(&p, from, 1400).unwrap();
        assert_eq!(e.len(), 1280, "as much as fits in the minimum MTU");
        assert_eq!(&e[24..40], &src.octets(), "back to the sender");
        let (kind, _, body, _, _) = parse(&e).expect("valid checksum");
        assert_eq!(kind, PACKET_TOO_BIG);
        assert_eq!(&body[..4], &1400u32.to_be_bytes());
        // Not about an error, not to a link-local sender.
        assert!(packet_too_big(&e, from, 1400).is_none());
        let mut ll = p.clone();
        ll[8..24].copy_from_slice(&link_local(ID_C).octets());
        assert!(packet_too_big(&ll, from, 1400).is_none());
        assert!(packet_too_big(&p[..39], from, 1400).is_none());
    }

    #[test]
    fn scopes() {
        assert!(is_link_scope(&link_local(ID_C).octets()));
        assert!(is_link_scope(&ALL_ROUTERS.octets()));
        assert!(!is_link_scope(
            &"fd00::1".parse::<Ipv6Addr>().unwrap().octets()
        ));
        assert_eq!(
            prefix64(&"fd00:1:2:3::9".parse::<Ipv6Addr>().unwrap().octets()),
            0xfd00_0001_0002_0003
        );
    }
}
