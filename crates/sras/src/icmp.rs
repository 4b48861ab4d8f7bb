//! ICMP echo (RFC 792) in user space, until sras has a TUN device: the server answers pings to
//! its own PPP address, and `sras connect` pings the server's PPP address to prove the link.
//!
//! Everything here checks what it reads (IPv4 version, header length, total length, header
//! checksum, fragmentation, ICMP checksum) and never panics on any input: a packet that is not a
//! well-formed, unfragmented echo for us is [`Ignored`] with the reason.

use std::net::Ipv4Addr;

/// The IPv4 header without options (RFC 791 §3.1).
const IPV4_HEADER: usize = 20;
/// The ICMP echo header: type, code, checksum, identifier, sequence number (RFC 792).
const ECHO_HEADER: usize = 8;
/// IP protocol number of ICMP.
const PROTO_ICMP: u8 = 1;
/// ICMP types (RFC 792).
const ECHO_REPLY: u8 = 0;
const ECHO_REQUEST: u8 = 8;
/// Time to live of what we send (RFC 1700's recommended default).
const TTL: u8 = 64;

/// Why a packet was not an echo we answer or were waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Ignored {
    /// Shorter than its headers, or its lengths disagree.
    #[error("truncated or inconsistent lengths")]
    Truncated,
    /// Not IP version 4.
    #[error("not IPv4")]
    NotIpv4,
    /// The IPv4 header checksum is wrong.
    #[error("bad IPv4 header checksum")]
    BadHeaderChecksum,
    /// A fragment (reassembly is the TUN's job, later).
    #[error("fragment")]
    Fragment,
    /// Not ICMP.
    #[error("not ICMP (protocol {0})")]
    NotIcmp(u8),
    /// The ICMP checksum is wrong.
    #[error("bad ICMP checksum")]
    BadIcmpChecksum,
    /// ICMP, but not the type we look for.
    #[error("ICMP type {0}, code {1}")]
    OtherIcmp(u8, u8),
    /// Not addressed to us (or not from whom we expect).
    #[error("for {0}, not us")]
    NotForUs(Ipv4Addr),
    /// From an address nobody can answer (0.0.0.0, loopback, multicast, broadcast).
    #[error("from the martian address {0}")]
    Martian(Ipv4Addr),
    /// An echo reply that does not answer our requests (another identifier).
    #[error("echo reply with identifier {0:#06x}, not ours")]
    NotOurs(u16),
}

/// The Internet checksum (RFC 1071): the one's complement of the one's-complement sum of the
/// 16-bit big-endian words of `data` (an odd last byte is padded with zero). Computed over data
/// that includes a correct checksum field, it is 0.
pub(crate) fn checksum(data: &[u8]) -> u16 {
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

/// A checked IPv4 packet carrying ICMP.
struct IcmpPacket<'a> {
    tos: u8,
    ident: u16,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    /// The ICMP message (header and data), checksum verified.
    icmp: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn addr(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

fn is_martian(a: Ipv4Addr) -> bool {
    a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast()
}

/// Checks `packet` as IPv4 + ICMP (any type). Bytes after the IPv4 total length are ignored.
fn parse(packet: &[u8]) -> Result<IcmpPacket<'_>, Ignored> {
    if packet.len() < IPV4_HEADER {
        return Err(Ignored::Truncated);
    }
    if packet[0] >> 4 != 4 {
        return Err(Ignored::NotIpv4);
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(be16(packet, 2));
    if ihl < IPV4_HEADER || total < ihl || total > packet.len() {
        return Err(Ignored::Truncated);
    }
    if checksum(&packet[..ihl]) != 0 {
        return Err(Ignored::BadHeaderChecksum);
    }
    // More Fragments set, or a non-zero offset.
    if be16(packet, 6) & 0x3fff != 0 {
        return Err(Ignored::Fragment);
    }
    if packet[9] != PROTO_ICMP {
        return Err(Ignored::NotIcmp(packet[9]));
    }
    let icmp = &packet[ihl..total];
    if icmp.len() < ECHO_HEADER {
        return Err(Ignored::Truncated);
    }
    if checksum(icmp) != 0 {
        return Err(Ignored::BadIcmpChecksum);
    }
    Ok(IcmpPacket {
        tos: packet[1],
        ident: be16(packet, 4),
        src: addr(packet, 12),
        dst: addr(packet, 16),
        icmp,
    })
}

/// Builds an IPv4 packet (20-byte header, no options) around the ICMP message `icmp`, whose
/// checksum field is filled in here.
fn build(
    tos: u8,
    ident: u16,
    dont_fragment: bool,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    icmp: &[u8],
) -> Vec<u8> {
    let total = IPV4_HEADER + icmp.len();
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, tos]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(if dont_fragment { &[0x40, 0] } else { &[0, 0] });
    p.extend_from_slice(&[TTL, PROTO_ICMP, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let c = checksum(&p[..IPV4_HEADER]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(icmp);
    p[IPV4_HEADER + 2..IPV4_HEADER + 4].fill(0);
    let c = checksum(&p[IPV4_HEADER..]);
    p[IPV4_HEADER + 2..IPV4_HEADER + 4].copy_from_slice(&c.to_be_bytes());
    p
}

/// If `packet` is an echo request to `local`, the echo reply: the addresses swapped, type 0,
/// identifier, sequence number and data as received, both checksums recomputed. The reply's
/// IPv4 header has no options (a request's options, such as Record Route, are not echoed).
pub(crate) fn echo_reply(packet: &[u8], local: Ipv4Addr) -> Result<Vec<u8>, Ignored> {
    let p = parse(packet)?;
    if p.dst != local {
        return Err(Ignored::NotForUs(p.dst));
    }
    if (p.icmp[0], p.icmp[1]) != (ECHO_REQUEST, 0) {
        return Err(Ignored::OtherIcmp(p.icmp[0], p.icmp[1]));
    }
    if is_martian(p.src) {
        return Err(Ignored::Martian(p.src));
    }
    let mut icmp = p.icmp.to_vec();
    icmp[0] = ECHO_REPLY;
    Ok(build(p.tos, p.ident, false, local, p.src, &icmp))
}

/// ICMP "fragmentation needed and DF set" (RFC 792; next-hop MTU `mtu`, RFC 1191 §4) from
/// `from` to the source of `original`, quoting its IP header and the first 8 bytes after it.
/// `None` when `original` is not an IPv4 packet worth an error (too short, a fragment after the
/// first, or itself an ICMP error).
pub(crate) fn frag_needed(original: &[u8], from: Ipv4Addr, mtu: u16) -> Option<Vec<u8>> {
    let ihl = usize::from(*original.first()? & 0x0f) * 4;
    if original[0] >> 4 != 4 || ihl < IPV4_HEADER || original.len() < ihl + 8 {
        return None;
    }
    let frag_offset = u16::from_be_bytes([original[6], original[7]]) & 0x1fff;
    // RFC 1122 §3.2.2: never an error about an ICMP error, nor about a later fragment.
    if frag_offset != 0
        || (original[9] == PROTO_ICMP && !matches!(original[ihl], 0 | 8 | 13 | 15 | 17))
    {
        return None;
    }
    let src = Ipv4Addr::new(original[12], original[13], original[14], original[15]);
    if is_martian(src) {
        return None;
    }
    let mut icmp = Vec::with_capacity(8 + ihl + 8);
    icmp.extend_from_slice(&[3, 4, 0, 0, 0, 0]);
    icmp.extend_from_slice(&mtu.to_be_bytes());
    icmp.extend_from_slice(&original[..ihl + 8]);
    Some(build(0, 0, false, from, src, &icmp))
}

/// An echo request from `src` to `dst` with `ident`, `seq` and `data` (what `ping` sends).
pub(crate) fn echo_request(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    seq: u16,
    data: &[u8],
) -> Vec<u8> {
    let mut icmp = Vec::with_capacity(ECHO_HEADER + data.len());
    icmp.extend_from_slice(&[ECHO_REQUEST, 0, 0, 0]);
    icmp.extend_from_slice(&ident.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(data);
    build(0, ident ^ seq, true, src, dst, &icmp)
}

/// If `packet` is an echo reply from `peer` to `local` with identifier `ident`, its sequence
/// number and data.
pub(crate) fn parse_echo_reply(
    packet: &[u8],
    peer: Ipv4Addr,
    local: Ipv4Addr,
    ident: u16,
) -> Result<(u16, &[u8]), Ignored> {
    let p = parse(packet)?;
    if p.dst != local {
        return Err(Ignored::NotForUs(p.dst));
    }
    if p.src != peer {
        return Err(Ignored::NotForUs(p.src));
    }
    if (p.icmp[0], p.icmp[1]) != (ECHO_REPLY, 0) {
        return Err(Ignored::OtherIcmp(p.icmp[0], p.icmp[1]));
    }
    let got = be16(p.icmp, 4);
    if got != ident {
        return Err(Ignored::NotOurs(got));
    }
    Ok((be16(p.icmp, 6), &p.icmp[ECHO_HEADER..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
    const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);

    #[test]
    fn frag_needed_quotes_the_header_and_parses_back() {
        // A 1400-byte TCP packet with DF from a host behind the server to the client.
        let mut tcp = vec![0u8; 1400];
        tcp[..20].copy_from_slice(&[
            0x45, 0, 0x05, 0x78, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 99, 2, 2, 198, 51, 100, 10,
        ]);
        let c = checksum(&tcp[..20]);
        tcp[10..12].copy_from_slice(&c.to_be_bytes());
        tcp[20..28].copy_from_slice(&[0x13, 0x89, 0x04, 0xd2, 1, 2, 3, 4]);
        let e = frag_needed(&tcp, SERVER, 1300).unwrap();
        assert_eq!(checksum(&e[..20]), 0, "IP header checksum");
        assert_eq!(checksum(&e[20..]), 0, "ICMP checksum");
        assert_eq!(&e[12..16], &SERVER.octets());
        assert_eq!(&e[16..20], &[10, 99, 2, 2]);
        assert_eq!(&e[20..22], &[3, 4]);
        assert_eq!(u16::from_be_bytes([e[26], e[27]]), 1300);
        assert_eq!(&e[28..], &tcp[..28]);
        // Never about an ICMP error, a later fragment, or garbage.
        let mut err = e.clone();
        err[12..16].copy_from_slice(&[10, 99, 2, 2]);
        assert!(frag_needed(&err, SERVER, 1300).is_none());
        let mut later = tcp.clone();
        later[7] = 1;
        assert!(frag_needed(&later, SERVER, 1300).is_none());
        for cut in 0..28 {
            assert!(frag_needed(&tcp[..cut], SERVER, 1300).is_none());
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn checksum_rfc1071_example() {
        //= https://www.rfc-editor.org/rfc/rfc1071#section-3
        // Bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (with the carries folded in).
        let data = hex("0001 f203 f4f5 f6f7");
        assert_eq!(checksum(&data), !0xddf2);
        // Appending the checksum makes the whole sum to zero.
        let mut with = data.clone();
        with.extend_from_slice(&checksum(&data).to_be_bytes());
        assert_eq!(checksum(&with), 0);
    }

    #[test]
    fn checksum_edge_cases() {
        assert_eq!(checksum(&[]), 0xffff);
        // An odd last byte is the high half of a word.
        assert_eq!(checksum(&[0x01]), !0x0100);
        assert_eq!(checksum(&[0x00, 0x01, 0x02]), !0x0201);
        // Carries fold more than once: 0xffff * 3 = 0x2fffd -> 0xffff.
        assert_eq!(checksum(&[0xff; 6]), 0);
    }

    #[test]
    fn checksum_of_a_known_ipv4_header() {
        // A UDP packet's header, checksum b861 (the usual worked example).
        let mut h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
        assert_eq!(checksum(&h), 0);
        h[10..12].fill(0);
        assert_eq!(checksum(&h), 0xb861);
    }

    /// A request as Linux `ping -c1 -s 20 127.0.0.1` sends it and the kernel's reply, captured
    /// on lo with tcpdump. ICMP has no pseudo-header, so its checksum holds whatever addresses.
    const LINUX_REQUEST: &str = "4500 0030 dfbb 4000 4001 5d0f 7f00 0001 7f00 0001 \
        0800 3b6b 168a 0001 0679 026b 0000 0000 7401 0700 0000 0000 1011 1213";
    const LINUX_REPLY_ICMP: &str =
        "0000 436b 168a 0001 0679 026b 0000 0000 7401 0700 0000 0000 1011 1213";

    #[test]
    fn reply_to_a_linux_ping_matches_the_kernel_reply() {
        let req = hex(LINUX_REQUEST);
        // Loopback is a martian on a PPP link.
        assert_eq!(
            echo_reply(&req, Ipv4Addr::LOCALHOST),
            Err(Ignored::Martian(Ipv4Addr::LOCALHOST))
        );
        // Readdress it (and fix the header checksum): the ICMP part is unchanged.
        let mut req = req;
        req[12..16].copy_from_slice(&CLIENT.octets());
        req[16..20].copy_from_slice(&SERVER.octets());
        req[10..12].fill(0);
        let c = checksum(&req[..20]);
        req[10..12].copy_from_slice(&c.to_be_bytes());

        let reply = echo_reply(&req, SERVER).unwrap();
        assert_eq!(reply.len(), req.len());
        assert_eq!(&reply[20..], &hex(LINUX_REPLY_ICMP)[..]);
        assert_eq!(checksum(&reply[..20]), 0);
        assert_eq!(&reply[12..16], &SERVER.octets());
        assert_eq!(&reply[16..20], &CLIENT.octets());
        assert_eq!((reply[0], reply[8], reply[9]), (0x45, TTL, PROTO_ICMP));
        assert_eq!(be16(&reply, 2) as usize, reply.len());
    }

    /// From the interop capture target/interop/ppp-lns-pap.pcap (tests/interop/run.sh ppp):
    /// Linux `ping` on the VM's ppp0 (pppd 2.4.9) to sras at 198.51.100.1, and the reply sras
    /// sent, which the VM's ping counted and tshark decoded without complaint.
    const PPPD_PING_REQUEST: &str = "4500005462db40004001835bc633640ac6336401\
        0800330b0bb10001427e026b00000000b486010000000000101112131415161718191a1b1c1d1e1f\
        202122232425262728292a2b2c2d2e2f3031323334353637";
    const SRAS_PING_REPLY: &str = "4500005462db00004001c35bc6336401c633640a\
        00003b0b0bb10001427e026b00000000b486010000000000101112131415161718191a1b1c1d1e1f\
        202122232425262728292a2b2c2d2e2f3031323334353637";

    /// From target/interop/ppp-lac-mschapv2.pcap: the Linux kernel's reply (pppd's ppp0 at
    /// 198.51.100.1) to `sras connect`'s echo request seq 2, identifier 0xd192.
    const LINUX_REPLY_TO_SRAS: &str = "45000054dd6f0000400148c7c6336401c633640a\
        00003758d1920002000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
        202122232425262728292a2b2c2d2e2f3031323334353637";

    #[test]
    fn captured_exchanges_with_pppd() {
        let peer = Ipv4Addr::new(198, 51, 100, 10);
        assert_eq!(
            echo_reply(&hex(PPPD_PING_REQUEST), SERVER).unwrap(),
            hex(SRAS_PING_REPLY)
        );
        let reply = hex(LINUX_REPLY_TO_SRAS);
        let (seq, data) = parse_echo_reply(&reply, SERVER, peer, 0xd192).unwrap();
        assert_eq!(seq, 2);
        assert_eq!(data, (0u8..56).collect::<Vec<_>>());
        // Our request for that sequence number, as captured (its ICMP part; the IPv4
        // identifier is derived from the ICMP identifier and sequence number).
        let ours = echo_request(peer, SERVER, 0xd192, 2, data);
        assert_eq!(
            &ours[20..],
            &hex(
                "08002f58d1920002000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
                202122232425262728292a2b2c2d2e2f3031323334353637"
            )[..]
        );
    }

    #[test]
    fn request_and_reply_round_trip() {
        for len in [0usize, 1, 7, 56, 1371] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let req = echo_request(CLIENT, SERVER, 0xbeef, 3, &data);
            assert_eq!(req.len(), 28 + len);
            assert_eq!(checksum(&req[..20]), 0);
            assert_eq!(checksum(&req[20..]), 0);
            assert_eq!(&req[20..22], &[ECHO_REQUEST, 0]);
            assert_eq!(be16(&req, 6), 0x4000, "DF, like ping");

            let reply = echo_reply(&req, SERVER).unwrap();
            assert_eq!(checksum(&reply[..20]), 0);
            assert_eq!(checksum(&reply[20..]), 0);
            let (seq, got) = parse_echo_reply(&reply, SERVER, CLIENT, 0xbeef).unwrap();
            assert_eq!((seq, got), (3, &data[..]));
            assert_eq!(
                parse_echo_reply(&reply, SERVER, CLIENT, 0xbeee),
                Err(Ignored::NotOurs(0xbeef))
            );
            // A request is not a reply, and a reply is not answered.
            assert_eq!(
                parse_echo_reply(&req, CLIENT, SERVER, 0xbeef),
                Err(Ignored::OtherIcmp(ECHO_REQUEST, 0))
            );
            assert_eq!(
                echo_reply(&reply, CLIENT),
                Err(Ignored::OtherIcmp(ECHO_REPLY, 0))
            );
        }
    }

    #[test]
    fn request_with_ip_options_gets_a_plain_header() {
        // IHL 6: a 4-byte option (NOP NOP NOP EOL) before the ICMP message.
        let plain = echo_request(CLIENT, SERVER, 1, 1, b"abcd");
        let mut req = vec![0x46];
        req.extend_from_slice(&plain[1..20]);
        req.extend_from_slice(&[1, 1, 1, 0]);
        req.extend_from_slice(&plain[20..]);
        let total = req.len() as u16;
        req[2..4].copy_from_slice(&total.to_be_bytes());
        req[10..12].fill(0);
        let c = checksum(&req[..24]);
        req[10..12].copy_from_slice(&c.to_be_bytes());
        let reply = echo_reply(&req, SERVER).unwrap();
        assert_eq!(reply[0], 0x45);
        assert_eq!(reply.len(), plain.len());
        assert_eq!(
            parse_echo_reply(&reply, SERVER, CLIENT, 1).unwrap().1,
            b"abcd"
        );
    }

    #[test]
    fn trailing_bytes_after_the_total_length_are_ignored() {
        let mut req = echo_request(CLIENT, SERVER, 9, 9, b"xyz");
        let want = echo_reply(&req, SERVER).unwrap();
        req.extend_from_slice(&[0xaa; 5]);
        assert_eq!(echo_reply(&req, SERVER).unwrap(), want);
    }

    #[test]
    fn what_is_not_answered() {
        let good = echo_request(CLIENT, SERVER, 7, 1, b"ping");
        let fix_ip = |p: &mut Vec<u8>| {
            p[10..12].fill(0);
            let c = checksum(&p[..20]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
        };
        let fix_icmp = |p: &mut Vec<u8>| {
            p[22..24].fill(0);
            let c = checksum(&p[20..]);
            p[22..24].copy_from_slice(&c.to_be_bytes());
        };

        assert_eq!(echo_reply(&good, CLIENT), Err(Ignored::NotForUs(SERVER)));
        for n in 0..28 {
            assert_eq!(
                echo_reply(&good[..n], SERVER),
                Err(Ignored::Truncated),
                "{n} bytes"
            );
        }
        let mut p = good.clone();
        p[0] = 0x65;
        assert_eq!(echo_reply(&p, SERVER), Err(Ignored::NotIpv4));
        let mut p = good.clone();
        p[0] = 0x44;
        assert_eq!(echo_reply(&p, SERVER), Err(Ignored::Truncated));
        let mut p = good.clone();
        p[2..4].copy_from_slice(&1000u16.to_be_bytes());
        fix_ip(&mut p);
        assert_eq!(echo_reply(&p, SERVER), Err(Ignored::Truncated));
        let mut p = good.clone();
        p[8] ^= 1;
        assert_eq!(echo_reply(&p, SERVER), Err(Ignored::BadHeaderChecksum));
        for flags in [0x2000u16, 0x0001, 0x6001] {
            let mut p = good.clone();
            p[6..8].copy_from_slice(&flags.to_be_bytes());
            fix_ip(&mut p);
            assert_eq!(echo_reply(&p, SERVER), Err(Ignored::Fragment), "{flags:#x}");
        }
        let mut p = good.clone();
        p[9] = 17;
        fix_ip(&mut p);
        assert_eq!(echo_reply(&p, SERVER), Err(Ignored::NotIcmp(17)));
        let mut p = good.clone();
        *p.last_mut().unwrap() ^= 0x10;
        assert_eq!(echo_reply(&p, SERVER), Err(Ignored::BadIcmpChecksum));
        let mut p = good.clone();
        p[21] = 1;
        fix_icmp(&mut p);
        assert_eq!(echo_reply(&p, SERVER), Err(Ignored::OtherIcmp(8, 1)));
        for src in [
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            Ipv4Addr::new(224, 0, 0, 1),
            Ipv4Addr::new(127, 0, 0, 2),
        ] {
            let mut p = good.clone();
            p[12..16].copy_from_slice(&src.octets());
            fix_ip(&mut p);
            assert_eq!(echo_reply(&p, SERVER), Err(Ignored::Martian(src)));
        }
        // IPv6 is not IPv4.
        let v6 = [0x60u8; 48];
        assert_eq!(echo_reply(&v6, SERVER), Err(Ignored::NotIpv4));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        // A small deterministic generator: every length up to 64, many byte patterns, and
        // mutations of a valid request at every position.
        let mut x: u32 = 0x1234_5678;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for len in 0..64 {
            for _ in 0..200 {
                let mut p: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if len > 0 {
                    p[0] = 0x45;
                }
                let _ = echo_reply(&p, SERVER);
                let _ = parse_echo_reply(&p, SERVER, CLIENT, 1);
            }
        }
        let good = echo_request(CLIENT, SERVER, 7, 1, b"0123456789");
        for i in 0..good.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut p = good.clone();
                p[i] = v;
                let _ = echo_reply(&p, SERVER);
                let _ = parse_echo_reply(&p, SERVER, CLIENT, 7);
            }
        }
    }
}
