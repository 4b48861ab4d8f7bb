//! AH (RFC 4302) in transport mode over IPv4, with the integrity transforms of ESP.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Next Header   |  Payload Len  |          RESERVED             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Security Parameters Index (SPI)               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Sequence Number Field                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                Integrity Check Value-ICV (variable)           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The ICV covers the whole IP packet (RFC 4302 §3.3.3.1): the IPv4 header with its mutable
//! fields (DSCP/ECN, flags and fragment offset, TTL, header checksum) taken as zero, the AH
//! header with the ICV taken as zero, the payload, and with ESN the high half of the
//! sequence number after it. Every ICV length of [`Integrity`] is a multiple of 4, so no ICV
//! padding is needed (§3.3.3.2.1).
//!
//! Only IPv4 headers without options are handled (L2TP/IPsec peers send none); packets with
//! options or fragments are refused with [`Error::Unsupported`] and counted as malformed.
//! Tunnel mode and IPv6 are not offered.

use core::ops::Range;
use std::time::Instant;

use crate::crypto::Mac;
use crate::replay::ReplayWindow;
use crate::sa::{
    esn_high, range_ok, LifetimeTracker, Opened, Overhead, SaParams, SaStats, SendSequence,
};
use crate::{Encryption, Error, Integrity, LifetimeEvent, Mode, Spi};

/// IP protocol number of AH.
pub const IP_PROTOCOL_AH: u8 = 51;
/// AH header without the ICV: Next Header, Payload Len, Reserved, SPI, Sequence Number.
pub const AH_FIXED_LEN: usize = 12;
/// IPv4 header without options.
const IPV4_HEADER_LEN: usize = 20;
/// Zeros standing in for the ICV while it is computed (§3.3.3.1).
const ZERO_ICV: [u8; crate::crypto::MAX_ICV_LEN] = [0; crate::crypto::MAX_ICV_LEN];

fn check_params(p: &SaParams) -> Result<(), Error> {
    if p.spi.0 == 0 {
        return Err(Error::Unsupported("SPI 0 is reserved (RFC 4302 §2.4)"));
    }
    if p.encryption != Encryption::Null || !p.enc_key.is_empty() {
        return Err(Error::Unsupported(
            "AH has no encryption: use Encryption::Null",
        ));
    }
    if p.integrity == Integrity::None {
        return Err(Error::Unsupported("AH needs an integrity transform"));
    }
    if p.mode != Mode::Transport {
        return Err(Error::Unsupported("AH: transport mode only"));
    }
    if p.replay_window > crate::replay::MAX_REPLAY_WINDOW {
        return Err(Error::Unsupported("replay window larger than 131072 bits"));
    }
    Ok(())
}

/// The IPv4 header with the fields AH treats as mutable set to zero (RFC 4302 §3.3.3.1.1.1):
/// DSCP/ECN, flags and fragment offset, TTL, header checksum.
fn immutable_header(ip: &[u8]) -> [u8; IPV4_HEADER_LEN] {
    let mut h = [0u8; IPV4_HEADER_LEN];
    h.copy_from_slice(&ip[..IPV4_HEADER_LEN]);
    h[1] = 0;
    h[6] = 0;
    h[7] = 0;
    h[8] = 0;
    h[10] = 0;
    h[11] = 0;
    h
}

/// The Internet checksum of an IPv4 header (RFC 791), with the checksum field as zero.
fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum = 0u32;
    for (i, c) in h.chunks(2).enumerate() {
        if i != 5 {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Checks the outer IPv4 header of `ip`: version 4, no options, not a fragment. Returns the
/// total length field.
fn check_ipv4(ip: &[u8]) -> Result<usize, Error> {
    if ip.len() < IPV4_HEADER_LEN {
        return Err(Error::Truncated);
    }
    if ip[0] >> 4 != 4 {
        return Err(Error::Unsupported("AH: IPv4 only"));
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ihl < IPV4_HEADER_LEN {
        return Err(Error::BadLength);
    }
    if ihl != IPV4_HEADER_LEN {
        return Err(Error::Unsupported("AH: IPv4 header options"));
    }
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return Err(Error::Unsupported("AH: fragments (reassemble first)"));
    }
    Ok(usize::from(u16::from_be_bytes([ip[2], ip[3]])))
}

/// The sending side of an AH SA.
pub struct AhOutboundSa {
    spi: Spi,
    esn: bool,
    mac: Mac,
    ah_len: usize,
    seq: SendSequence,
    lifetime: LifetimeTracker,
    stats: SaStats,
}

impl core::fmt::Debug for AhOutboundSa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AhOutboundSa")
            .field("spi", &self.spi)
            .field("esn", &self.esn)
            .field("last_sequence", &self.seq.last())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl AhOutboundSa {
    /// Keys the SA. `params.encryption` must be [`Encryption::Null`] with no key, the mode
    /// transport.
    ///
    /// # Errors
    ///
    /// [`Error::KeyLength`], [`Error::Unsupported`].
    pub fn new(params: SaParams, now: Instant) -> Result<Self, Error> {
        check_params(&params)?;
        let mac = Mac::new(params.integrity, &params.auth_key)?;
        Ok(Self {
            spi: params.spi,
            esn: params.esn,
            ah_len: AH_FIXED_LEN + mac.icv_len(),
            mac,
            seq: SendSequence::new(params.esn),
            lifetime: LifetimeTracker::new(params.lifetime, now),
            stats: SaStats::default(),
        })
    }

    /// Bytes [`seal`](Self::seal) inserts: the AH header and ICV (nothing after the packet).
    #[must_use]
    pub const fn overhead(&self) -> Overhead {
        Overhead {
            header: self.ah_len,
            trailer_max: 0,
        }
    }

    /// Inserts AH into the IPv4 packet `buf[packet]` (header without options, then the
    /// upper-layer payload; its Protocol field names the payload): the IPv4 header moves
    /// [`overhead`](Self::overhead)`().header` bytes to the front, the AH header goes
    /// between it and the payload, Protocol becomes 51, Total Length and the header
    /// checksum are updated. Returns the new packet's range.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] (no headroom), [`Error::BadLength`] (Total Length not the
    /// packet's, or too long with AH), [`Error::Unsupported`] (not IPv4, options,
    /// fragment), [`Error::SequenceExhausted`], [`Error::LifetimeExpired`].
    pub fn seal(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        packet: Range<usize>,
    ) -> Result<Range<usize>, Error> {
        if !range_ok(&packet, buf.len()) || packet.start < self.ah_len {
            return Err(Error::BufferTooSmall);
        }
        let ip = &buf[packet.clone()];
        let total = check_ipv4(ip).map_err(|e| match e {
            Error::Truncated => Error::BadLength,
            e => e,
        })?;
        if total != ip.len() || total + self.ah_len > usize::from(u16::MAX) {
            return Err(Error::BadLength);
        }
        if self.lifetime.hard(now, &self.stats) {
            return Err(Error::LifetimeExpired);
        }
        let seq = self.seq.next()?;
        let start = packet.start - self.ah_len;
        buf.copy_within(packet.start..packet.start + IPV4_HEADER_LEN, start);
        let pkt = &mut buf[start..packet.end];
        let protocol = pkt[9];
        pkt[9] = IP_PROTOCOL_AH;
        pkt[2..4].copy_from_slice(&((total + self.ah_len) as u16).to_be_bytes());
        let c = ipv4_checksum(&pkt[..IPV4_HEADER_LEN]);
        pkt[10..12].copy_from_slice(&c.to_be_bytes());
        let ah = &mut pkt[IPV4_HEADER_LEN..IPV4_HEADER_LEN + self.ah_len];
        ah[0] = protocol;
        //= https://www.rfc-editor.org/rfc/rfc4302#section-2.2
        //# This 8-bit field specifies the length of AH in 32-bit words (4-byte
        //# units), minus "2".
        ah[1] = (self.ah_len / 4 - 2) as u8;
        ah[2] = 0;
        ah[3] = 0;
        ah[4..8].copy_from_slice(&self.spi.0.to_be_bytes());
        ah[8..12].copy_from_slice(&(seq as u32).to_be_bytes());
        ah[AH_FIXED_LEN..].fill(0);
        let hdr = immutable_header(pkt);
        let hi = esn_high(seq);
        let tail: &[u8] = if self.esn { &hi } else { &[] };
        let icv = self.mac.compute(&[&hdr, &pkt[IPV4_HEADER_LEN..], tail]);
        pkt[IPV4_HEADER_LEN + AH_FIXED_LEN..IPV4_HEADER_LEN + self.ah_len]
            .copy_from_slice(icv.as_slice());
        self.stats.packets += 1;
        self.stats.bytes += (total - IPV4_HEADER_LEN) as u64;
        Ok(start..packet.end)
    }

    /// True once the sequence numbers are near exhaustion (as [`crate::OutboundSa::needs_rekey`]).
    #[must_use]
    pub const fn needs_rekey(&self) -> bool {
        self.seq.needs_rekey()
    }

    /// The lifetime state now (as [`crate::OutboundSa::lifetime`]).
    #[must_use]
    pub fn lifetime(&self, now: Instant) -> Option<LifetimeEvent> {
        self.lifetime.level(
            now,
            &self.stats,
            self.seq.needs_rekey(),
            self.seq.exhausted(),
        )
    }

    /// Each lifetime event once (as [`crate::OutboundSa::poll_lifetime`]).
    pub fn poll_lifetime(&mut self, now: Instant) -> Option<LifetimeEvent> {
        self.lifetime.poll(
            now,
            &self.stats,
            self.seq.needs_rekey(),
            self.seq.exhausted(),
        )
    }

    /// When a time lifetime not yet reported expires.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.lifetime.poll_timeout()
    }

    /// Counters.
    #[must_use]
    pub const fn stats(&self) -> &SaStats {
        &self.stats
    }

    /// This SA's SPI.
    #[must_use]
    pub const fn spi(&self) -> Spi {
        self.spi
    }

    /// Test hook: pretend `last` sequence numbers were already used.
    #[cfg(any(test, feature = "__fuzzing"))]
    #[doc(hidden)]
    pub fn set_sequence_for_test(&mut self, last: u64) {
        self.seq.set_last(last);
    }
}

/// The receiving side of an AH SA.
pub struct AhInboundSa {
    spi: Spi,
    esn: bool,
    mac: Mac,
    ah_len: usize,
    window: ReplayWindow,
    lifetime: LifetimeTracker,
    stats: SaStats,
}

impl core::fmt::Debug for AhInboundSa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AhInboundSa")
            .field("spi", &self.spi)
            .field("esn", &self.esn)
            .field("window", &self.window)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl AhInboundSa {
    /// Keys the SA (parameters as [`AhOutboundSa::new`]).
    ///
    /// # Errors
    ///
    /// [`Error::KeyLength`], [`Error::Unsupported`].
    pub fn new(params: SaParams, now: Instant) -> Result<Self, Error> {
        check_params(&params)?;
        let mac = Mac::new(params.integrity, &params.auth_key)?;
        Ok(Self {
            spi: params.spi,
            esn: params.esn,
            ah_len: AH_FIXED_LEN + mac.icv_len(),
            mac,
            window: ReplayWindow::new(params.replay_window),
            lifetime: LifetimeTracker::new(params.lifetime, now),
            stats: SaStats::default(),
        })
    }

    /// Verifies the IPv4 packet `buf[packet]` carrying AH (Protocol 51), in the same order
    /// as ESP: lengths and SPI, replay pre-check, ICV in constant time, then the window
    /// moves. Nothing in the buffer changes. Returns the range of the upper-layer payload
    /// after the AH header and its Next Header; the caller drops the outer headers.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`], [`Error::BadLength`], [`Error::BadNextHeader`] (Protocol not
    /// 51), [`Error::WrongSpi`], [`Error::Replayed`], [`Error::OutsideWindow`],
    /// [`Error::AuthenticationFailed`], [`Error::Unsupported`] (options, fragments),
    /// [`Error::LifetimeExpired`], [`Error::BufferTooSmall`].
    pub fn open(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        packet: Range<usize>,
    ) -> Result<Opened, Error> {
        if !range_ok(&packet, buf.len()) {
            return Err(Error::BufferTooSmall);
        }
        if self.lifetime.hard(now, &self.stats) {
            return Err(Error::LifetimeExpired);
        }
        let start = packet.start;
        match self.open_inner(&buf[packet]) {
            Ok((payload, next_header, sequence)) => {
                self.stats.packets += 1;
                self.stats.bytes += payload.len() as u64;
                Ok(Opened {
                    payload: start + payload.start..start + payload.end,
                    next_header,
                    sequence,
                })
            }
            Err(e) => {
                match e.counter() {
                    Some(_) => self.stats.count(&e),
                    // Options and fragments: a packet we cannot check is a malformed one.
                    None => self.stats.malformed += 1,
                }
                Err(e)
            }
        }
    }

    fn open_inner(&mut self, pkt: &[u8]) -> Result<(Range<usize>, u8, u64), Error> {
        let total = check_ipv4(pkt)?;
        let ah_end = IPV4_HEADER_LEN + self.ah_len;
        if total > pkt.len() || total < IPV4_HEADER_LEN + AH_FIXED_LEN {
            return Err(Error::BadLength);
        }
        if total < ah_end {
            return Err(Error::Truncated);
        }
        let pkt = &pkt[..total];
        if pkt[9] != IP_PROTOCOL_AH {
            return Err(Error::BadNextHeader(pkt[9]));
        }
        let ah = &pkt[IPV4_HEADER_LEN..ah_end];
        if (usize::from(ah[1]) + 2) * 4 != self.ah_len {
            return Err(Error::BadLength);
        }
        let spi = Spi(u32::from_be_bytes([ah[4], ah[5], ah[6], ah[7]]));
        if spi != self.spi {
            return Err(Error::WrongSpi {
                expected: self.spi,
                got: spi,
            });
        }
        let low = u32::from_be_bytes([ah[8], ah[9], ah[10], ah[11]]);
        let seq = if self.esn {
            self.window.infer_esn(low)
        } else {
            u64::from(low)
        };
        self.window.check(seq)?;
        let hdr = immutable_header(pkt);
        let hi = esn_high(seq);
        let tail: &[u8] = if self.esn { &hi } else { &[] };
        let icv_len = self.ah_len - AH_FIXED_LEN;
        let ok = self.mac.verify(
            &[
                &hdr,
                &ah[..AH_FIXED_LEN],
                &ZERO_ICV[..icv_len],
                &pkt[ah_end..],
                tail,
            ],
            &ah[AH_FIXED_LEN..],
        );
        if !ok {
            return Err(Error::AuthenticationFailed);
        }
        self.window.update(seq);
        Ok((ah_end..total, ah[0], seq))
    }

    /// Counters.
    #[must_use]
    pub const fn stats(&self) -> &SaStats {
        &self.stats
    }

    /// This SA's SPI.
    #[must_use]
    pub const fn spi(&self) -> Spi {
        self.spi
    }

    /// The anti-replay window.
    #[must_use]
    pub const fn replay_window(&self) -> &ReplayWindow {
        &self.window
    }

    /// The lifetime state now.
    #[must_use]
    pub fn lifetime(&self, now: Instant) -> Option<LifetimeEvent> {
        self.lifetime.level(now, &self.stats, false, false)
    }

    /// Each lifetime event once.
    pub fn poll_lifetime(&mut self, now: Instant) -> Option<LifetimeEvent> {
        self.lifetime.poll(now, &self.stats, false, false)
    }

    /// When a time lifetime not yet reported expires.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.lifetime.poll_timeout()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Instant {
        #[allow(clippy::disallowed_methods)]
        Instant::now()
    }

    fn params(integrity: Integrity, esn: bool) -> SaParams {
        let mut p = SaParams::new(
            Spi(0x2000),
            Encryption::Null,
            Vec::new(),
            integrity,
            vec![0x42; integrity.key_len()],
        );
        p.esn = esn;
        p
    }

    /// An IPv4/UDP packet 10.0.0.1:1701 -> 10.0.0.2:1701 with `n` bytes of data, placed
    /// after `head` bytes of headroom.
    fn udp_packet(head: usize, n: usize) -> (Vec<u8>, Range<usize>) {
        let total = 28 + n;
        let mut buf = vec![0u8; head + total];
        let ip = &mut buf[head..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let c = ipv4_checksum(&ip[..20]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip[20..22].copy_from_slice(&1701u16.to_be_bytes());
        ip[22..24].copy_from_slice(&1701u16.to_be_bytes());
        ip[24..26].copy_from_slice(&((8 + n) as u16).to_be_bytes());
        for (i, b) in ip[28..].iter_mut().enumerate() {
            *b = i as u8;
        }
        (buf, head..head + total)
    }

    #[test]
    fn round_trip_every_integrity() {
        let t = now();
        for integ in Integrity::ALL.into_iter().skip(1) {
            for esn in [false, true] {
                let mut tx = AhOutboundSa::new(params(integ, esn), t).unwrap();
                let mut rx = AhInboundSa::new(params(integ, esn), t).unwrap();
                let head = tx.overhead().header;
                let (mut buf, range) = udp_packet(head, 100);
                let original = buf[range.clone()].to_vec();
                let sealed = tx.seal(t, &mut buf, range.clone()).unwrap();
                assert_eq!(sealed, 0..range.end);
                assert_eq!(buf[9], IP_PROTOCOL_AH);
                assert_eq!(ipv4_checksum(&buf[..20]).to_be_bytes(), [buf[10], buf[11]]);
                // Routers change the mutable fields on the way.
                buf[8] -= 3;
                buf[1] = 0x10;
                let o = rx.open(t, &mut buf, sealed.clone()).unwrap();
                assert_eq!(o.next_header, 17);
                assert_eq!(o.sequence, 1);
                assert_eq!(&buf[o.payload.clone()], &original[20..]);
                assert_eq!(
                    rx.open(t, &mut buf, sealed.clone()),
                    Err(Error::Replayed),
                    "{integ:?}"
                );
                // Any immutable bit flipped fails the ICV.
                for byte in [2usize, 4, 9, 12, 19, 20, 33, buf.len() - 1] {
                    let mut b = buf.clone();
                    b[byte] ^= 0x01;
                    let mut rx2 = AhInboundSa::new(params(integ, esn), t).unwrap();
                    assert!(rx2.open(t, &mut b, sealed.clone()).is_err(), "byte {byte}");
                }
                assert_eq!(rx.stats().packets, 1);
                assert_eq!(rx.stats().replayed, 1);
            }
        }
    }

    #[test]
    fn refuses_what_it_cannot_check() {
        let t = now();
        let mut rx = AhInboundSa::new(params(Integrity::HmacSha1_96, false), t).unwrap();
        let (mut buf, range) = udp_packet(0, 40);
        buf[9] = IP_PROTOCOL_AH;
        buf[6] = 0x20; // MF
        assert!(matches!(
            rx.open(t, &mut buf, range.clone()),
            Err(Error::Unsupported(_))
        ));
        assert_eq!(rx.stats().malformed, 1);
        assert_eq!(rx.open(t, &mut buf, 0..10), Err(Error::Truncated));
        let mut p = params(Integrity::None, false);
        p.auth_key.clear();
        assert!(matches!(
            AhOutboundSa::new(p, t),
            Err(Error::Unsupported(_))
        ));
    }
}
