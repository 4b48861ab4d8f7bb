//! A classic libpcap file writer for raw IP packets, with IPv4/IPv6 + UDP builders.
//!
//! Files use the microsecond format (magic `a1b2c3d4`, version 2.4) and
//! [`LINKTYPE_RAW`]: each record is an IPv4 or IPv6 packet with no link-layer header.
//! Timestamps are virtual durations since the start of a test (they show as 1970 dates).
//! Built headers carry correct IPv4 header checksums and UDP checksums, so Wireshark's
//! checksum validation (`-o ip.check_checksum:TRUE -o udp.check_checksum:TRUE`) passes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// `LINKTYPE_RAW`: records begin with an IPv4 or IPv6 header.
pub const LINKTYPE_RAW: u32 = 101;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IP protocol number of ESP (RFC 4303).
pub const IPPROTO_ESP: u8 = 50;
/// The snapshot length written in the file header.
pub const SNAPLEN: u32 = 262_144;

const MAGIC: u32 = 0xa1b2_c3d4;
const TTL: u8 = 64;

/// Writes a classic pcap file of raw IP packets.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    frames: usize,
}

impl PcapWriter<BufWriter<File>> {
    /// Creates (or truncates) the file at `path` and writes the pcap header.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::new(BufWriter::new(File::create(path)?))
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the pcap global header to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&MAGIC.to_ne_bytes());
        h.extend_from_slice(&2u16.to_ne_bytes()); // version major
        h.extend_from_slice(&4u16.to_ne_bytes()); // version minor
        h.extend_from_slice(&0i32.to_ne_bytes()); // thiszone
        h.extend_from_slice(&0u32.to_ne_bytes()); // sigfigs
        h.extend_from_slice(&SNAPLEN.to_ne_bytes());
        h.extend_from_slice(&LINKTYPE_RAW.to_ne_bytes());
        out.write_all(&h)?;
        Ok(Self { out, frames: 0 })
    }

    /// Writes one record holding a raw IPv4 or IPv6 packet, stamped `ts` after the start.
    pub fn write_ip(&mut self, ts: Duration, packet: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(ts.as_secs()).map_err(|_| invalid("timestamp beyond 2106"))?;
        let len = u32::try_from(packet.len()).map_err(|_| invalid("packet too long"))?;
        let mut h = Vec::with_capacity(16);
        h.extend_from_slice(&secs.to_ne_bytes());
        h.extend_from_slice(&ts.subsec_micros().to_ne_bytes());
        h.extend_from_slice(&len.to_ne_bytes()); // incl_len
        h.extend_from_slice(&len.to_ne_bytes()); // orig_len
        self.out.write_all(&h)?;
        self.out.write_all(packet)?;
        self.frames += 1;
        Ok(())
    }

    /// Writes a UDP datagram from `src` to `dst` (both IPv4 or both IPv6).
    pub fn write_udp(
        &mut self,
        ts: Duration,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> io::Result<()> {
        let p = udp_packet(src, dst, payload)?;
        self.write_ip(ts, &p)
    }

    /// Writes an ESP packet (IP protocol 50, not UDP-encapsulated) from `src` to `dst`.
    pub fn write_esp(
        &mut self,
        ts: Duration,
        src: IpAddr,
        dst: IpAddr,
        esp: &[u8],
    ) -> io::Result<()> {
        let p = ip_packet(src, dst, IPPROTO_ESP, esp)?;
        self.write_ip(ts, &p)
    }

    /// Writes `payload` as an IP packet with protocol number `protocol`.
    pub fn write_ip_payload(
        &mut self,
        ts: Duration,
        src: IpAddr,
        dst: IpAddr,
        protocol: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        let p = ip_packet(src, dst, protocol, payload)?;
        self.write_ip(ts, &p)
    }

    /// Records written so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The Internet checksum (RFC 1071) of `data`: the ones' complement of the ones' complement sum.
pub fn internet_checksum(data: &[u8]) -> u16 {
    !fold(sum_words(0, data))
}

fn sum_words(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if let [last] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(*last) << 8);
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Builds an IPv4 (20-byte header, DF set, TTL 64, correct header checksum) or IPv6
/// (40-byte header, hop limit 64) packet carrying `payload` as protocol `protocol`.
///
/// Fails if the addresses are of different families or the payload does not fit.
pub fn ip_packet(src: IpAddr, dst: IpAddr, protocol: u8, payload: &[u8]) -> io::Result<Vec<u8>> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(20 + payload.len())
                .map_err(|_| invalid("IPv4 packet over 65535 bytes"))?;
            let mut p = Vec::with_capacity(usize::from(total));
            p.extend_from_slice(&[0x45, 0]);
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0x40, 0]); // identification 0, DF (RFC 6864 atomic datagram)
            p.extend_from_slice(&[TTL, protocol, 0, 0]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            let sum = internet_checksum(&p);
            p[10..12].copy_from_slice(&sum.to_be_bytes());
            p.extend_from_slice(payload);
            Ok(p)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let len = u16::try_from(payload.len())
                .map_err(|_| invalid("IPv6 payload over 65535 bytes"))?;
            let mut p = Vec::with_capacity(40 + payload.len());
            p.extend_from_slice(&[0x60, 0, 0, 0]);
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&[protocol, TTL]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(payload);
            Ok(p)
        }
        _ => Err(invalid(
            "source and destination are of different IP versions",
        )),
    }
}

/// The UDP header plus `payload` (without the IP header), with the checksum computed over the
/// IPv4 or IPv6 pseudo-header (a computed zero is sent as `ffff`, RFC 768 / RFC 8200 §8.1).
pub fn udp_segment(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> io::Result<Vec<u8>> {
    let len =
        u16::try_from(8 + payload.len()).map_err(|_| invalid("UDP datagram over 65535 bytes"))?;
    let mut u = Vec::with_capacity(usize::from(len));
    u.extend_from_slice(&src.port().to_be_bytes());
    u.extend_from_slice(&dst.port().to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let pseudo = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut ph = Vec::with_capacity(12);
            ph.extend_from_slice(&s.octets());
            ph.extend_from_slice(&d.octets());
            ph.extend_from_slice(&[0, IPPROTO_UDP]);
            ph.extend_from_slice(&len.to_be_bytes());
            ph
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut ph = Vec::with_capacity(40);
            ph.extend_from_slice(&s.octets());
            ph.extend_from_slice(&d.octets());
            ph.extend_from_slice(&u32::from(len).to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, IPPROTO_UDP]);
            ph
        }
        _ => {
            return Err(invalid(
                "source and destination are of different IP versions",
            ))
        }
    };
    let sum = !fold(sum_words(sum_words(0, &pseudo), &u));
    let sum = if sum == 0 { 0xffff } else { sum };
    u[6..8].copy_from_slice(&sum.to_be_bytes());
    Ok(u)
}

/// A complete IPv4 or IPv6 packet holding a UDP datagram from `src` to `dst`.
pub fn udp_packet(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> io::Result<Vec<u8>> {
    let seg = udp_segment(src, dst, payload)?;
    ip_packet(src.ip(), dst.ip(), IPPROTO_UDP, &seg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rfc1071_example() {
        //= https://www.rfc-editor.org/rfc/rfc1071#section-3
        // Bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2; the checksum is its complement.
        assert_eq!(
            internet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
    }

    #[test]
    fn ipv4_udp_checksums_verify() {
        let p = udp_packet(v4("10.0.0.1:1701"), v4("10.0.0.2:1701"), b"hello!!").unwrap();
        assert_eq!(p.len(), 20 + 8 + 7);
        assert_eq!(&p[..4], &[0x45, 0, 0, 35]);
        assert_eq!(p[9], IPPROTO_UDP);
        // A header including its checksum sums to ffff (checksum of it is 0).
        assert_eq!(internet_checksum(&p[..20]), 0);
        // UDP: pseudo header + segment sums to ffff as well.
        let mut ph = Vec::new();
        ph.extend_from_slice(&p[12..20]);
        ph.extend_from_slice(&[0, 17, 0, 15]);
        ph.extend_from_slice(&p[20..]);
        assert_eq!(internet_checksum(&ph), 0);
    }

    #[test]
    fn ipv6_udp_checksum_verifies() {
        let src: SocketAddr = "[2001:db8::1]:4500".parse().unwrap();
        let dst: SocketAddr = "[2001:db8::2]:4500".parse().unwrap();
        let p = udp_packet(src, dst, &[1, 2, 3]).unwrap();
        assert_eq!(p.len(), 40 + 8 + 3);
        assert_eq!(p[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), 11);
        assert_eq!(p[6], IPPROTO_UDP);
        let mut ph = Vec::new();
        ph.extend_from_slice(&p[8..40]);
        ph.extend_from_slice(&[0, 0, 0, 11, 0, 0, 0, 17]);
        ph.extend_from_slice(&p[40..]);
        assert_eq!(internet_checksum(&ph), 0);
    }

    #[test]
    fn mixed_families_are_refused() {
        let src: SocketAddr = "[2001:db8::1]:4500".parse().unwrap();
        assert!(udp_packet(src, v4("10.0.0.2:4500"), &[]).is_err());
        assert!(ip_packet(src.ip(), v4("10.0.0.2:1").ip(), IPPROTO_ESP, &[]).is_err());
        assert!(udp_packet(v4("1.1.1.1:1"), v4("1.1.1.2:2"), &vec![0; 65_536]).is_err());
    }

    #[test]
    fn file_layout() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_esp(
            Duration::from_micros(1_500_002),
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            &[0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1],
        )
        .unwrap();
        assert_eq!(w.frames(), 1);
        let b = w.into_inner().unwrap();
        assert_eq!(b.len(), 24 + 16 + 28);
        assert_eq!(&b[..4], &MAGIC.to_ne_bytes());
        assert_eq!(&b[20..24], &LINKTYPE_RAW.to_ne_bytes());
        assert_eq!(&b[24..28], &1u32.to_ne_bytes());
        assert_eq!(&b[28..32], &500_002u32.to_ne_bytes());
        assert_eq!(&b[32..36], &28u32.to_ne_bytes());
        assert_eq!(b[40 + 9], IPPROTO_ESP);
    }
}
