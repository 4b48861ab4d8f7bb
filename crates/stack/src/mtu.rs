//! MTU and TCP MSS for PPP inside L2TP inside ESP (seed 001 §3.2): what fits in the path
//! MTU once every header is counted, and the MSS clamp on TCP SYNs that keeps TCP inside it
//! without fragmentation.

/// The L2TP data header at most (flags, length, tunnel and session IDs, Ns/Nr): RFC 2661 §3.1.
pub const L2TP_DATA_HEADER_MAX: usize = 12;
/// PPP in L2TP: Address and Control (FF 03, which peers send though RFC 2661 §5.4 allows leaving
/// them out) and a 2-byte Protocol field.
pub const PPP_HEADER: usize = 4;
/// The smallest MRU sras offers (RFC 1661 §6.1: 576 is what every peer must take).
pub const MIN_MRU: u16 = 576;
/// The lowest outer path MTU an ICMP message may lower a peer's to (Linux's `min_pmtu` is 552):
/// a forged "fragmentation needed" cannot shrink the tunnel to nothing.
pub const MIN_PATH_MTU: u16 = 576;

/// An ICMP "fragmentation needed and DF set" (RFC 792, RFC 1191 §4) about a packet we sent:
/// the next-hop MTU and what the quoted header says about that packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragNeeded {
    /// The next-hop MTU (RFC 1191 §4); for an old router that sends 0, the next lower plateau
    /// of RFC 1191 §7 below the quoted packet's length.
    pub mtu: u16,
    /// The quoted packet's source (us) and destination (the peer).
    pub source: std::net::Ipv4Addr,
    /// The quoted packet's destination.
    pub destination: std::net::Ipv4Addr,
    /// ESP: the quoted SPI (raw ESP, IP protocol 50).
    pub spi: Option<u32>,
    /// UDP (ESP in UDP/4500): the quoted source and destination ports.
    pub ports: Option<(u16, u16)>,
}

/// RFC 1191 §7's plateau table, for routers that leave the next-hop MTU at 0.
const PLATEAUS: [u16; 9] = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296];

/// Parses an IPv4 packet (as a raw ICMP socket delivers it, IP header included) as an ICMP
/// "fragmentation needed" quoting an ESP or UDP packet; `None` for anything else, never panics.
#[must_use]
pub fn parse_frag_needed(packet: &[u8]) -> Option<FragNeeded> {
    let ihl = usize::from(*packet.first()? & 0x0f) * 4;
    if packet[0] >> 4 != 4 || ihl < 20 || *packet.get(9)? != 1 {
        return None;
    }
    let icmp = packet.get(ihl..)?;
    // Type 3 (destination unreachable), code 4 (fragmentation needed and DF set).
    if icmp.len() < 8 + 20 || icmp[0] != 3 || icmp[1] != 4 {
        return None;
    }
    let quoted = &icmp[8..];
    let qihl = usize::from(quoted[0] & 0x0f) * 4;
    if quoted[0] >> 4 != 4 || qihl < 20 {
        return None;
    }
    let first8 = quoted.get(qihl..qihl + 8)?;
    let ip = |b: &[u8]| std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    let (spi, ports) = match quoted[9] {
        50 => (
            Some(u32::from_be_bytes([
                first8[0], first8[1], first8[2], first8[3],
            ])),
            None,
        ),
        17 => (
            None,
            Some((
                u16::from_be_bytes([first8[0], first8[1]]),
                u16::from_be_bytes([first8[2], first8[3]]),
            )),
        ),
        _ => return None,
    };
    let mut mtu = u16::from_be_bytes([icmp[6], icmp[7]]);
    if mtu == 0 {
        let total = u16::from_be_bytes([quoted[2], quoted[3]]);
        mtu = PLATEAUS.into_iter().find(|&p| p < total)?;
    }
    Some(FragNeeded {
        mtu,
        source: ip(&quoted[12..16]),
        destination: ip(&quoted[16..20]),
        spi,
        ports,
    })
}

/// The PPP MRU for a path MTU of `path_mtu` when ESP (outer IP, NAT-T UDP, ESP header,
/// IV, padding, trailer and ICV, inner UDP) adds `esp_overhead` bytes
/// ([`crate::PeerInfo::overhead`]): what is left after L2TP and PPP, clamped to
/// [`MIN_MRU`]..=`cap`.
#[must_use]
pub fn ppp_mru(path_mtu: u16, esp_overhead: usize, cap: u16) -> u16 {
    let used = esp_overhead + L2TP_DATA_HEADER_MAX + PPP_HEADER;
    let left = usize::from(path_mtu).saturating_sub(used);
    let left = u16::try_from(left).unwrap_or(u16::MAX);
    left.clamp(MIN_MRU, cap.max(MIN_MRU))
}

/// Clamps the MSS option of a TCP SYN in the IPv4 packet `packet` to what an MTU of `mtu`
/// leaves (mtu - 40), fixing the TCP checksum incrementally (RFC 1624). Returns whether the
/// packet changed. Anything that is not an unfragmented IPv4 TCP SYN with a well-formed MSS
/// option is left alone; never panics.
pub fn clamp_mss_ipv4(packet: &mut [u8], mtu: u16) -> bool {
    let Some(&vihl) = packet.first() else {
        return false;
    };
    if vihl >> 4 != 4 || packet.len() < 20 || packet[9] != 6 {
        return false;
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    // A later fragment holds no TCP header.
    let frag_offset = u16::from_be_bytes([packet[6], packet[7]]) & 0x1fff;
    if ihl < 20 || frag_offset != 0 {
        return false;
    }
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]])).min(packet.len());
    let Some(tcp) = packet.get_mut(ihl..total) else {
        return false;
    };
    if tcp.len() < 20 || tcp[13] & 0x02 == 0 {
        return false;
    }
    clamp_tcp_mss(tcp, mtu.saturating_sub(40))
}

/// Clamps the MSS option of a TCP SYN in the IPv6 packet `packet` to what an MTU of `mtu`
/// leaves (mtu - 60: the IPv6 header is 40 bytes), as [`clamp_mss_ipv4`] does. Only TCP right
/// after the fixed header is looked at (a SYN with extension headers goes as it came).
pub fn clamp_mss_ipv6(packet: &mut [u8], mtu: u16) -> bool {
    if packet.len() < 40 || packet[0] >> 4 != 6 || packet[6] != 6 {
        return false;
    }
    let payload = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    let end = (40 + payload).min(packet.len());
    let tcp = &mut packet[40..end];
    if tcp.len() < 20 || tcp[13] & 0x02 == 0 {
        return false;
    }
    clamp_tcp_mss(tcp, mtu.saturating_sub(60))
}

/// Lowers the MSS option of the TCP SYN segment `tcp` (header first) to `want`, fixing the
/// checksum (RFC 1624). The options are walked with every length checked.
fn clamp_tcp_mss(tcp: &mut [u8], want: u16) -> bool {
    let doff = usize::from(tcp[12] >> 4) * 4;
    if doff < 20 || doff > tcp.len() {
        return false;
    }
    let mut i = 20;
    while i < doff {
        match tcp[i] {
            0 => return false,
            1 => i += 1,
            kind => {
                let Some(&len) = tcp.get(i + 1) else {
                    return false;
                };
                let len = usize::from(len);
                if len < 2 || i + len > doff {
                    return false;
                }
                if kind == 2 && len == 4 {
                    let mss = u16::from_be_bytes([tcp[i + 2], tcp[i + 3]]);
                    if mss <= want {
                        return false;
                    }
                    let sum = u16::from_be_bytes([tcp[16], tcp[17]]);
                    let new = adjust(sum, mss, want);
                    tcp[i + 2..i + 4].copy_from_slice(&want.to_be_bytes());
                    tcp[16..18].copy_from_slice(&new.to_be_bytes());
                    return true;
                }
                i += len;
            }
        }
    }
    false
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
fn adjust(checksum: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag_needed(mtu: u16, quoted_proto: u8, first8: [u8; 8], quoted_len: u16) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 198, 51, 100, 254, 192, 0, 2, 1,
        ];
        p.extend_from_slice(&[3, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&mtu.to_be_bytes());
        let len = quoted_len.to_be_bytes();
        p.extend_from_slice(&[
            0x45,
            0,
            len[0],
            len[1],
            0,
            0,
            0x40,
            0,
            64,
            quoted_proto,
            0,
            0,
        ]);
        p.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 3]);
        p.extend_from_slice(&first8);
        p
    }

    #[test]
    fn frag_needed_quoting_esp_and_udp() {
        let f =
            parse_frag_needed(&frag_needed(1300, 50, [0xc0, 1, 2, 3, 0, 0, 0, 9], 1460)).unwrap();
        assert_eq!(f.mtu, 1300);
        assert_eq!(f.spi, Some(0xc001_0203));
        assert_eq!(f.ports, None);
        assert_eq!(f.source, std::net::Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(f.destination, std::net::Ipv4Addr::new(192, 0, 2, 3));
        let f = parse_frag_needed(&frag_needed(
            1280,
            17,
            [0x11, 0x94, 0x11, 0x94, 0, 0, 0, 0],
            1460,
        ))
        .unwrap();
        assert_eq!(f.ports, Some((4500, 4500)));
        // RFC 1191 §5: an old router's 0 means the next plateau below the packet.
        let f = parse_frag_needed(&frag_needed(0, 50, [0; 8], 1460)).unwrap();
        assert_eq!(f.mtu, 1006);
    }

    #[test]
    fn anything_else_is_none_and_nothing_panics() {
        let good = frag_needed(1300, 50, [0; 8], 1460);
        assert!(parse_frag_needed(&frag_needed(1300, 6, [0; 8], 1460)).is_none());
        let mut echo = good.clone();
        echo[20] = 0;
        assert!(parse_frag_needed(&echo).is_none());
        for cut in 0..good.len() {
            assert!(parse_frag_needed(&good[..cut]).is_none(), "{cut}");
        }
        for i in 0..good.len() {
            for b in [0u8, 0x0f, 0x4f, 0xff] {
                let mut p = good.clone();
                p[i] = b;
                let _ = parse_frag_needed(&p);
            }
        }
    }

    /// The one's-complement sum over `data` (RFC 1071).
    fn csum(parts: &[&[u8]]) -> u16 {
        let mut sum = 0u32;
        for p in parts {
            for c in p.chunks(2) {
                let w = if c.len() == 2 {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], 0])
                };
                sum += u32::from(w);
            }
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    fn syn(mss: u16) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 44, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
            0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff, 0, 0, 0,
            0, // TCP
            2, 4, 0, 0, // MSS
        ];
        p[42..44].copy_from_slice(&mss.to_be_bytes());
        let pseudo = [10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 24];
        let c = csum(&[&pseudo, &p[20..]]);
        p[36..38].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn tcp_ok(p: &[u8]) -> bool {
        let pseudo = [10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 24];
        csum(&[&pseudo, &p[20..]]) == 0
    }

    #[test]
    fn mss_is_clamped_with_a_valid_checksum() {
        let mut p = syn(1460);
        assert!(tcp_ok(&p));
        assert!(clamp_mss_ipv4(&mut p, 1400));
        assert_eq!(u16::from_be_bytes([p[42], p[43]]), 1360);
        assert!(tcp_ok(&p), "incremental checksum update");
        // Already small enough: untouched.
        let mut q = syn(1200);
        assert!(!clamp_mss_ipv4(&mut q, 1400));
        assert_eq!(q, syn(1200));
    }

    #[test]
    fn non_syn_and_garbage_are_left_alone() {
        let mut p = syn(1460);
        p[33] = 0x10; // ACK only
        assert!(!clamp_mss_ipv4(&mut p, 1400));
        for n in 0..p.len() {
            let mut t = syn(1460)[..n].to_vec();
            let _ = clamp_mss_ipv4(&mut t, 1400);
        }
        let mut bad = syn(1460);
        bad[41] = 200; // option length past the header
        assert!(!clamp_mss_ipv4(&mut bad, 1400));
    }

    fn syn6(mss: u16) -> (Vec<u8>, Vec<u8>) {
        let src: [u8; 16] = [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst: [u8; 16] = [0xfd, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut p = vec![0x60, 0, 0, 0, 0, 24, 6, 64];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&[
            0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff, 0, 0, 0, 0, 2, 4,
        ]);
        p.extend_from_slice(&mss.to_be_bytes());
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src);
        pseudo.extend_from_slice(&dst);
        pseudo.extend_from_slice(&[0, 0, 0, 24, 0, 0, 0, 6]);
        let c = csum(&[&pseudo, &p[40..]]);
        p[56..58].copy_from_slice(&c.to_be_bytes());
        (p, pseudo)
    }

    #[test]
    fn ipv6_mss_is_clamped_with_a_valid_checksum() {
        let (mut p, pseudo) = syn6(1440);
        assert_eq!(csum(&[&pseudo, &p[40..]]), 0);
        assert!(clamp_mss_ipv6(&mut p, 1400));
        assert_eq!(u16::from_be_bytes([p[62], p[63]]), 1340);
        assert_eq!(csum(&[&pseudo, &p[40..]]), 0, "incremental checksum update");
        assert!(!clamp_mss_ipv6(&mut p, 1400), "already clamped");
        // Not TCP, or truncated anywhere: left alone, no panic.
        let (mut udp, _) = syn6(1440);
        udp[6] = 17;
        assert!(!clamp_mss_ipv6(&mut udp, 1400));
        let (full, _) = syn6(1440);
        for n in 0..full.len() {
            let mut t = full[..n].to_vec();
            assert!(!clamp_mss_ipv6(&mut t, 1400) || n == full.len());
        }
        // An IPv4 packet is not IPv6.
        assert!(!clamp_mss_ipv6(&mut syn(1460), 1400));
    }

    #[test]
    fn mru_counts_every_header() {
        // AES-CBC + HMAC-SHA1-96 in UDP over IPv4: 20 + 8 + (8 + 16) + (15 + 2 + 12) + 8 = 89.
        assert_eq!(ppp_mru(1500, 89, 1500), 1500 - 89 - 12 - 4);
        assert_eq!(ppp_mru(1500, 89, 1300), 1300);
        assert_eq!(ppp_mru(600, 89, 1500), MIN_MRU);
    }
}
