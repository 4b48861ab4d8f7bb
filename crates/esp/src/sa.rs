//! ESP security associations: one direction each, a synchronous in-place transform
//! (boringtun's shape, STYLE.md 2.1 rule 2): [`OutboundSa::seal`] and [`InboundSa::open`] work
//! on the caller's buffer, allocate nothing and copy nothing beyond the header and trailer
//! they write.
//!
//! Inbound order (RFC 4303 §3.4): length checks, SPI, replay pre-check on the (ESN-inferred)
//! sequence number, ICV verification in constant time, decryption, padding / Pad Length /
//! Next Header validation, and only then the window moves (E3) and the counters count.

use core::ops::Range;
use std::time::{Duration, Instant};

use zeroize::Zeroize;

use crate::crypto::{Mac, OpenCipher, SealCipher};
use crate::error::Counter;
use crate::esp::{
    self, Trailer, HEADER_LEN, NEXT_HEADER_IPV4, NEXT_HEADER_IPV6, NEXT_HEADER_NONE, TRAILER_LEN,
};
use crate::replay::{ReplayWindow, DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW};
use crate::{Encryption, Error, Integrity, Mode, Spi};

/// How many sequence numbers before the end of the space [`OutboundSa::needs_rekey`] turns
/// true: 2^26 (67 million packets, about a minute at a million packets per second, time
/// enough for a Quick Mode rekey) before 2^32 - 1 (or 2^64 - 1 with ESN).
pub const REKEY_SEQUENCE_MARGIN: u64 = 1 << 26;

/// Everything one direction of an SA needs. The keys are zeroized when this is dropped.
#[derive(Clone)]
pub struct SaParams {
    /// SPI of this SA (chosen by the receiver).
    pub spi: Spi,
    /// Encryption transform.
    pub encryption: Encryption,
    /// Encryption key; for GCM the key followed by the 4-byte salt (RFC 4106 §8.1).
    pub enc_key: Vec<u8>,
    /// Integrity transform ([`Integrity::None`] with GCM).
    pub integrity: Integrity,
    /// Integrity key (empty with GCM).
    pub auth_key: Vec<u8>,
    /// Transport or tunnel mode.
    pub mode: Mode,
    /// Extended (64-bit) sequence numbers (RFC 4303 §2.2.1, RFC 4304).
    pub esn: bool,
    /// Anti-replay window in bits (inbound); 1024 by default, at most
    /// [`MAX_REPLAY_WINDOW`]; 0 disables anti-replay (only for tests).
    pub replay_window: u32,
    /// Soft and hard lifetimes.
    pub lifetime: Lifetime,
}

impl SaParams {
    /// Parameters in transport mode, without ESN, with the default replay window and no
    /// lifetime; set the other fields as needed.
    #[must_use]
    pub fn new(
        spi: Spi,
        encryption: Encryption,
        enc_key: Vec<u8>,
        integrity: Integrity,
        auth_key: Vec<u8>,
    ) -> Self {
        Self {
            spi,
            encryption,
            enc_key,
            integrity,
            auth_key,
            mode: Mode::Transport,
            esn: false,
            replay_window: DEFAULT_REPLAY_WINDOW,
            lifetime: Lifetime::default(),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        if self.spi.0 == 0 {
            return Err(Error::Unsupported("SPI 0 is reserved (RFC 4303 §2.1)"));
        }
        if self.replay_window > MAX_REPLAY_WINDOW {
            return Err(Error::Unsupported("replay window larger than 131072 bits"));
        }
        self.encryption.check_pair(self.integrity)
    }
}

impl Drop for SaParams {
    fn drop(&mut self) {
        self.enc_key.zeroize();
        self.auth_key.zeroize();
    }
}

impl core::fmt::Debug for SaParams {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SaParams")
            .field("spi", &self.spi)
            .field("encryption", &self.encryption)
            .field("integrity", &self.integrity)
            .field("mode", &self.mode)
            .field("esn", &self.esn)
            .field("replay_window", &self.replay_window)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// SA lifetimes (RFC 4301 §4.4.2.1): soft ones ask for a rekey, hard ones end the SA.
/// Bytes and packets count the inner payloads this SA sealed or opened; time runs from
/// `new()`. A hard limit refuses packets once reached (the packet that crosses it passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifetime {
    /// Soft byte limit.
    pub soft_bytes: Option<u64>,
    /// Hard byte limit.
    pub hard_bytes: Option<u64>,
    /// Soft packet limit.
    pub soft_packets: Option<u64>,
    /// Hard packet limit.
    pub hard_packets: Option<u64>,
    /// Soft time limit.
    pub soft_time: Option<Duration>,
    /// Hard time limit.
    pub hard_time: Option<Duration>,
}

/// A lifetime crossed (RFC 4301 §4.4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LifetimeEvent {
    /// Time to rekey: a soft limit was reached (or, outbound, the sequence numbers are
    /// within [`REKEY_SEQUENCE_MARGIN`] of the end).
    Soft,
    /// The SA is dead: a hard limit was reached (or, outbound, the sequence numbers are
    /// exhausted); seal and open now fail.
    Hard,
}

/// Worst-case bytes [`OutboundSa::seal`] adds around the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Overhead {
    /// Before the payload: SPI, Sequence Number, IV (ESP); the AH header and ICV (AH).
    pub header: usize,
    /// After the payload at most: padding (alignment - 1), Pad Length, Next Header, ICV.
    pub trailer_max: usize,
}

/// Counters of one SA direction. Every inbound packet moves exactly one of `packets`,
/// `replayed`, `auth_failed`, `malformed` (caller mistakes and expired SAs move none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SaStats {
    /// Packets sealed or opened successfully.
    pub packets: u64,
    /// Inner payload bytes of those packets.
    pub bytes: u64,
    /// Inbound packets refused as replayed or left of the window.
    pub replayed: u64,
    /// Inbound packets whose ICV did not verify.
    pub auth_failed: u64,
    /// Inbound packets refused as malformed (length, SPI, padding, next header).
    pub malformed: u64,
}

impl SaStats {
    pub(crate) fn count(&mut self, e: &Error) {
        match e.counter() {
            Some(Counter::Replayed) => self.replayed += 1,
            Some(Counter::AuthFailed) => self.auth_failed += 1,
            Some(Counter::Malformed) => self.malformed += 1,
            None => {}
        }
    }
}

/// A packet [`InboundSa::open`] accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The inner payload in the caller's buffer: transport mode the upper-layer segment,
    /// tunnel mode the inner IP packet (TFC padding removed, RFC 4303 §2.7).
    pub payload: Range<usize>,
    /// Next Header: the payload's IP protocol. 59 is a dummy packet (RFC 4303 §2.6) the
    /// caller drops.
    pub next_header: u8,
    /// The full (ESN-inferred) sequence number.
    pub sequence: u64,
}

/// Soft/hard bookkeeping shared by every SA type.
#[derive(Debug, Clone)]
pub(crate) struct LifetimeTracker {
    limits: Lifetime,
    soft_at: Option<Instant>,
    hard_at: Option<Instant>,
    reported: Option<LifetimeEvent>,
}

impl LifetimeTracker {
    pub(crate) fn new(limits: Lifetime, now: Instant) -> Self {
        Self {
            limits,
            soft_at: limits.soft_time.and_then(|d| now.checked_add(d)),
            hard_at: limits.hard_time.and_then(|d| now.checked_add(d)),
            reported: None,
        }
    }

    #[inline]
    pub(crate) fn hard(&self, now: Instant, stats: &SaStats) -> bool {
        self.hard_at.is_some_and(|t| now >= t)
            || self.limits.hard_bytes.is_some_and(|b| stats.bytes >= b)
            || self.limits.hard_packets.is_some_and(|p| stats.packets >= p)
    }

    fn soft(&self, now: Instant, stats: &SaStats) -> bool {
        self.soft_at.is_some_and(|t| now >= t)
            || self.limits.soft_bytes.is_some_and(|b| stats.bytes >= b)
            || self.limits.soft_packets.is_some_and(|p| stats.packets >= p)
    }

    pub(crate) fn level(
        &self,
        now: Instant,
        stats: &SaStats,
        extra_soft: bool,
        extra_hard: bool,
    ) -> Option<LifetimeEvent> {
        if extra_hard || self.hard(now, stats) {
            Some(LifetimeEvent::Hard)
        } else if extra_soft || self.soft(now, stats) {
            Some(LifetimeEvent::Soft)
        } else {
            None
        }
    }

    pub(crate) fn poll(
        &mut self,
        now: Instant,
        stats: &SaStats,
        extra_soft: bool,
        extra_hard: bool,
    ) -> Option<LifetimeEvent> {
        let level = self.level(now, stats, extra_soft, extra_hard)?;
        if self.reported.is_some_and(|r| r >= level) {
            return None;
        }
        self.reported = Some(level);
        Some(level)
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self.reported {
            Some(LifetimeEvent::Hard) => None,
            Some(LifetimeEvent::Soft) => self.hard_at,
            None => match (self.soft_at, self.hard_at) {
                (Some(s), Some(h)) => Some(s.min(h)),
                (s, h) => s.or(h),
            },
        }
    }
}

/// Outbound sequence counter (RFC 4303 §3.3.3): starts at 0 so the first packet carries 1,
/// never wraps.
#[derive(Debug, Clone)]
pub(crate) struct SendSequence {
    last: u64,
    max: u64,
}

impl SendSequence {
    pub(crate) const fn new(esn: bool) -> Self {
        Self {
            last: 0,
            max: if esn { u64::MAX } else { u32::MAX as u64 },
        }
    }

    /// The next number, or `SequenceExhausted`: the last one is `max`, then nothing.
    #[inline]
    pub(crate) fn next(&mut self) -> Result<u64, Error> {
        if self.last >= self.max {
            return Err(Error::SequenceExhausted);
        }
        self.last += 1;
        Ok(self.last)
    }

    pub(crate) const fn needs_rekey(&self) -> bool {
        self.last >= self.max - REKEY_SEQUENCE_MARGIN
    }

    pub(crate) const fn exhausted(&self) -> bool {
        self.last >= self.max
    }

    pub(crate) const fn last(&self) -> u64 {
        self.last
    }

    #[cfg(any(test, feature = "__fuzzing"))]
    pub(crate) fn set_last(&mut self, last: u64) {
        self.last = last.min(self.max);
    }
}

/// Bytes of the ICV input that follow the packet: the ESN high half (RFC 4303 §2.2.1).
#[inline]
pub(crate) fn esn_high(seq: u64) -> [u8; 4] {
    ((seq >> 32) as u32).to_be_bytes()
}

/// GCM additional data (RFC 4106 §5): SPI ‖ Sequence Number, or SPI ‖ ESN high ‖ low.
#[inline]
fn gcm_aad(spi: Spi, seq: u64, esn: bool) -> ([u8; 12], usize) {
    let mut aad = [0u8; 12];
    aad[..4].copy_from_slice(&spi.0.to_be_bytes());
    if esn {
        aad[4..12].copy_from_slice(&seq.to_be_bytes());
        (aad, 12)
    } else {
        aad[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        (aad, 8)
    }
}

/// Checks that `range` lies inside a buffer of `len` bytes.
#[inline]
pub(crate) fn range_ok(range: &Range<usize>, len: usize) -> bool {
    range.start <= range.end && range.end <= len
}

/// The sending side of an ESP SA.
pub struct OutboundSa {
    spi: Spi,
    encryption: Encryption,
    integrity: Integrity,
    mode: Mode,
    esn: bool,
    cipher: SealCipher,
    mac: Mac,
    header_len: usize,
    icv_len: usize,
    align: usize,
    seq: SendSequence,
    lifetime: LifetimeTracker,
    stats: SaStats,
}

impl core::fmt::Debug for OutboundSa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OutboundSa")
            .field("spi", &self.spi)
            .field("encryption", &self.encryption)
            .field("integrity", &self.integrity)
            .field("mode", &self.mode)
            .field("esn", &self.esn)
            .field("last_sequence", &self.seq.last())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl OutboundSa {
    /// Keys the SA (all key schedules are built here, once).
    ///
    /// # Errors
    ///
    /// [`Error::KeyLength`], [`Error::WeakKey`], [`Error::Unsupported`] for SPI 0 or a
    /// suite pair ESP does not allow ([`Encryption::check_pair`]).
    pub fn new(params: SaParams, now: Instant) -> Result<Self, Error> {
        params.validate()?;
        let mac = Mac::new(params.integrity, &params.auth_key)?;
        let cipher = SealCipher::new(params.encryption, &params.enc_key, params.spi)?;
        let e = params.encryption;
        Ok(Self {
            spi: params.spi,
            encryption: e,
            integrity: params.integrity,
            mode: params.mode,
            esn: params.esn,
            cipher,
            header_len: HEADER_LEN + e.iv_len(),
            icv_len: e.aead_icv_len() + mac.icv_len(),
            mac,
            align: e.alignment(),
            seq: SendSequence::new(params.esn),
            lifetime: LifetimeTracker::new(params.lifetime, now),
            stats: SaStats::default(),
        })
    }

    /// Bytes [`seal`](Self::seal) needs before the payload (exactly) and after it (at most).
    #[must_use]
    pub const fn overhead(&self) -> Overhead {
        Overhead {
            header: self.header_len,
            trailer_max: self.align - 1 + TRAILER_LEN + self.icv_len,
        }
    }

    /// Length of the ESP packet for a payload of `payload_len` bytes.
    #[must_use]
    pub const fn sealed_len(&self, payload_len: usize) -> usize {
        self.header_len
            + payload_len
            + esp::padding_len(payload_len, self.align)
            + TRAILER_LEN
            + self.icv_len
    }

    /// Encrypts in place. `buf[payload]` is the inner packet (transport mode: the
    /// upper-layer segment, e.g. UDP; tunnel mode: a whole IP packet, `next_header` 4 or
    /// 41); the ESP header goes into the [`overhead`](Self::overhead)`().header` bytes
    /// before it and the trailer after it. Returns the ESP packet's range in `buf`.
    ///
    /// The sequence number is consumed even if a later step fails, so none is ever used
    /// twice.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] (no room before or after, or a range outside `buf`),
    /// [`Error::SequenceExhausted`] (rekey: [`needs_rekey`](Self::needs_rekey) said so long
    /// before), [`Error::LifetimeExpired`], [`Error::Crypto`].
    pub fn seal(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        payload: Range<usize>,
        next_header: u8,
    ) -> Result<Range<usize>, Error> {
        let hl = self.header_len;
        if !range_ok(&payload, buf.len()) || payload.start < hl {
            return Err(Error::BufferTooSmall);
        }
        let plen = payload.len();
        let pad = esp::padding_len(plen, self.align);
        let ct_end = payload.end + pad + TRAILER_LEN;
        let end = ct_end + self.icv_len;
        if end > buf.len() {
            return Err(Error::BufferTooSmall);
        }
        if self.lifetime.hard(now, &self.stats) {
            return Err(Error::LifetimeExpired);
        }
        let seq = self.seq.next()?;
        let start = payload.start - hl;

        let (head, rest) = buf[start..end].split_at_mut(hl);
        let (ct, icv) = rest.split_at_mut(ct_end - payload.start);
        head[..4].copy_from_slice(&self.spi.0.to_be_bytes());
        head[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        esp::write_trailer(&mut ct[plen..], next_header);
        let (aad, aad_len) = gcm_aad(self.spi, seq, self.esn);
        self.cipher
            .seal(seq, &mut head[HEADER_LEN..], &aad[..aad_len], ct, icv)?;
        if !matches!(self.mac, Mac::None) {
            let hi = esn_high(seq);
            let tail: &[u8] = if self.esn { &hi } else { &[] };
            let tag = self.mac.compute(&[&buf[start..ct_end], tail]);
            buf[ct_end..end].copy_from_slice(tag.as_slice());
        }
        self.stats.packets += 1;
        self.stats.bytes += plen as u64;
        Ok(start..end)
    }

    /// True once the sequence numbers are within [`REKEY_SEQUENCE_MARGIN`] of exhaustion
    /// (ROBUSTNESS 40): time to negotiate the replacement SA.
    #[must_use]
    pub const fn needs_rekey(&self) -> bool {
        self.seq.needs_rekey()
    }

    /// The lifetime state now: `Hard` once a hard limit is reached or the sequence numbers
    /// are exhausted, `Soft` once a soft limit is reached or [`needs_rekey`](Self::needs_rekey).
    #[must_use]
    pub fn lifetime(&self, now: Instant) -> Option<LifetimeEvent> {
        self.lifetime.level(
            now,
            &self.stats,
            self.seq.needs_rekey(),
            self.seq.exhausted(),
        )
    }

    /// Each lifetime event once, in order (`Soft`, then `Hard`; only `Hard` when both were
    /// crossed since the last poll). Its answer can change after [`seal`](Self::seal) and
    /// when `now` passes [`poll_timeout`](Self::poll_timeout).
    pub fn poll_lifetime(&mut self, now: Instant) -> Option<LifetimeEvent> {
        self.lifetime.poll(
            now,
            &self.stats,
            self.seq.needs_rekey(),
            self.seq.exhausted(),
        )
    }

    /// When a time lifetime not yet reported by [`poll_lifetime`](Self::poll_lifetime)
    /// expires.
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

    /// The last sequence number used (0 before the first packet).
    #[must_use]
    pub const fn last_sequence(&self) -> u64 {
        self.seq.last()
    }

    /// Test hook (ROBUSTNESS 40): pretend `last` sequence numbers were already used.
    #[cfg(any(test, feature = "__fuzzing"))]
    #[doc(hidden)]
    pub fn set_sequence_for_test(&mut self, last: u64) {
        self.seq.set_last(last);
    }

    /// Test hook (RFC 3602 §4 packet vectors): use this IV instead of the generated one.
    #[cfg(any(test, feature = "__fuzzing"))]
    #[doc(hidden)]
    pub fn force_iv_for_test(&mut self, iv: &[u8]) {
        if let Some(g) = self.cipher.iv_generator_mut() {
            g.force(iv);
        }
    }
}

/// The receiving side of an ESP SA.
pub struct InboundSa {
    spi: Spi,
    encryption: Encryption,
    integrity: Integrity,
    mode: Mode,
    esn: bool,
    cipher: OpenCipher,
    mac: Mac,
    header_len: usize,
    icv_len: usize,
    block_len: usize,
    window: ReplayWindow,
    lifetime: LifetimeTracker,
    stats: SaStats,
}

impl core::fmt::Debug for InboundSa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InboundSa")
            .field("spi", &self.spi)
            .field("encryption", &self.encryption)
            .field("integrity", &self.integrity)
            .field("mode", &self.mode)
            .field("esn", &self.esn)
            .field("window", &self.window)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl InboundSa {
    /// Keys the SA and allocates its replay window (the only allocations it makes).
    ///
    /// # Errors
    ///
    /// As [`OutboundSa::new`]; also [`Error::Unsupported`] for a window above
    /// [`MAX_REPLAY_WINDOW`].
    pub fn new(params: SaParams, now: Instant) -> Result<Self, Error> {
        params.validate()?;
        let mac = Mac::new(params.integrity, &params.auth_key)?;
        let cipher = OpenCipher::new(params.encryption, &params.enc_key)?;
        let e = params.encryption;
        Ok(Self {
            spi: params.spi,
            encryption: e,
            integrity: params.integrity,
            mode: params.mode,
            esn: params.esn,
            cipher,
            header_len: HEADER_LEN + e.iv_len(),
            icv_len: e.aead_icv_len() + mac.icv_len(),
            mac,
            block_len: e.block_len(),
            window: ReplayWindow::new(params.replay_window),
            lifetime: LifetimeTracker::new(params.lifetime, now),
            stats: SaStats::default(),
        })
    }

    /// Verifies and decrypts in place the ESP packet `buf[packet]` (starting at the SPI).
    /// Order: lengths and SPI → replay pre-check of the (ESN-inferred) sequence number →
    /// ICV in constant time → decryption → padding, Pad Length and Next Header (RFC 4303
    /// §2.4) → only then the replay window moves (E3) and `packets`/`bytes` count. Every
    /// refusal moves one counter of [`stats`](Self::stats) ([`Error::counter`]).
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`], [`Error::BadLength`], [`Error::WrongSpi`], [`Error::Replayed`],
    /// [`Error::OutsideWindow`], [`Error::AuthenticationFailed`], [`Error::BadPadding`],
    /// [`Error::BadNextHeader`] and [`Error::BadInnerPacket`] (tunnel mode),
    /// [`Error::LifetimeExpired`], [`Error::BufferTooSmall`] (range outside `buf`).
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
        match self.open_inner(&mut buf[packet]) {
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
                self.stats.count(&e);
                Err(e)
            }
        }
    }

    /// `open` on the packet alone; returns the payload range relative to the packet.
    #[inline]
    fn open_inner(&mut self, pkt: &mut [u8]) -> Result<(Range<usize>, u8, u64), Error> {
        let hl = self.header_len;
        let len = pkt.len();
        if len < hl + TRAILER_LEN + self.icv_len {
            return Err(Error::Truncated);
        }
        let ct_len = len - hl - self.icv_len;
        if !ct_len.is_multiple_of(self.block_len) {
            return Err(Error::BadLength);
        }
        let p = esp::Packet::new_unchecked(&*pkt);
        let spi = p.spi();
        if spi != self.spi {
            return Err(Error::WrongSpi {
                expected: self.spi,
                got: spi,
            });
        }
        let low = p.sequence_number();
        let seq = if self.esn {
            self.window.infer_esn(low)
        } else {
            u64::from(low)
        };
        self.window.check(seq)?;

        if let OpenCipher::Gcm { .. } = self.cipher {
            let (aad, aad_len) = gcm_aad(self.spi, seq, self.esn);
            let (head, body) = pkt.split_at_mut(hl);
            self.cipher
                .open_aead(&head[HEADER_LEN..], &aad[..aad_len], body)?;
        } else {
            let hi = esn_high(seq);
            let tail: &[u8] = if self.esn { &hi } else { &[] };
            let (authed, icv) = pkt.split_at(len - self.icv_len);
            if !self.mac.verify(&[authed, tail], icv) {
                return Err(Error::AuthenticationFailed);
            }
            let (head, body) = pkt.split_at_mut(hl);
            self.cipher
                .decrypt(&head[HEADER_LEN..], &mut body[..ct_len])?;
        }

        let plaintext = &pkt[hl..hl + ct_len];
        let (trailer, mut plen) = Trailer::parse(plaintext)?;
        if self.mode == Mode::Tunnel {
            plen = inner_len(trailer.next_header, &plaintext[..plen])?;
        }
        self.window.update(seq);
        Ok((hl..hl + plen, trailer.next_header, seq))
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

    /// Test hook: the anti-replay window, to start it near a wrap.
    #[cfg(any(test, feature = "__fuzzing"))]
    #[doc(hidden)]
    pub fn replay_window_mut(&mut self) -> &mut ReplayWindow {
        &mut self.window
    }

    /// The lifetime state now (`Hard`: [`open`](Self::open) refuses packets).
    #[must_use]
    pub fn lifetime(&self, now: Instant) -> Option<LifetimeEvent> {
        self.lifetime.level(now, &self.stats, false, false)
    }

    /// Each lifetime event once, in order; can change after [`open`](Self::open) and when
    /// `now` passes [`poll_timeout`](Self::poll_timeout).
    pub fn poll_lifetime(&mut self, now: Instant) -> Option<LifetimeEvent> {
        self.lifetime.poll(now, &self.stats, false, false)
    }

    /// When a time lifetime not yet reported by [`poll_lifetime`](Self::poll_lifetime)
    /// expires.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.lifetime.poll_timeout()
    }
}

/// Tunnel mode: the inner packet's length from its own IP header (anything after it is TFC
/// padding, RFC 4303 §2.7), after checking the Next Header is an IP version (§3.1.2) that
/// matches the packet.
fn inner_len(next_header: u8, payload: &[u8]) -> Result<usize, Error> {
    let n = payload.len();
    let total = match next_header {
        NEXT_HEADER_IPV4 => {
            if n < 20 || payload[0] >> 4 != 4 {
                return Err(Error::BadInnerPacket);
            }
            usize::from(u16::from_be_bytes([payload[2], payload[3]]))
        }
        NEXT_HEADER_IPV6 => {
            if n < 40 || payload[0] >> 4 != 6 {
                return Err(Error::BadInnerPacket);
            }
            40 + usize::from(u16::from_be_bytes([payload[4], payload[5]]))
        }
        NEXT_HEADER_NONE => return Ok(n),
        other => return Err(Error::BadNextHeader(other)),
    };
    if total < 20 || total > n {
        return Err(Error::BadInnerPacket);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Instant {
        #[allow(clippy::disallowed_methods)]
        Instant::now()
    }

    fn params(enc: Encryption, integ: Integrity) -> SaParams {
        SaParams::new(
            Spi(0x1000),
            enc,
            (0..enc.key_len() as u8)
                .map(|i| i.wrapping_mul(7) + 1)
                .collect(),
            integ,
            (0..integ.key_len() as u8).map(|i| i ^ 0x5c).collect(),
        )
    }

    #[test]
    fn overhead_and_sealed_len() {
        let t = now();
        let sa = OutboundSa::new(params(Encryption::AesCbc128, Integrity::HmacSha1_96), t).unwrap();
        assert_eq!(
            sa.overhead(),
            Overhead {
                header: 24,
                trailer_max: 29
            }
        );
        // 1400 + 2 -> 1408 (16-aligned), + 24 header + 12 ICV.
        assert_eq!(sa.sealed_len(1400), 24 + 1408 + 12);
        let sa = OutboundSa::new(params(Encryption::AesGcm128, Integrity::None), t).unwrap();
        assert_eq!(
            sa.overhead(),
            Overhead {
                header: 16,
                trailer_max: 21
            }
        );
    }

    #[test]
    fn rejects_bad_params() {
        let t = now();
        let mut p = params(Encryption::AesCbc128, Integrity::HmacSha1_96);
        p.enc_key.pop();
        assert_eq!(
            OutboundSa::new(p, t).map(|_| ()),
            Err(Error::KeyLength {
                expected: 16,
                got: 15
            })
        );
        let mut p = params(Encryption::AesCbc128, Integrity::HmacSha1_96);
        p.spi = Spi(0);
        assert!(matches!(InboundSa::new(p, t), Err(Error::Unsupported(_))));
        let p = params(Encryption::AesGcm128, Integrity::HmacSha1_96);
        assert!(matches!(InboundSa::new(p, t), Err(Error::Unsupported(_))));
        // 3DES with K1 == K2 degenerates to single DES.
        let mut p = params(Encryption::TripleDesCbc, Integrity::HmacSha1_96);
        p.enc_key = [[1u8; 8], [1u8; 8], [2u8; 8]].concat();
        assert_eq!(InboundSa::new(p, t).map(|_| ()), Err(Error::WeakKey));
    }

    #[test]
    fn inner_len_rules() {
        let mut v4 = [0u8; 30];
        v4[0] = 0x45;
        v4[3] = 28;
        assert_eq!(inner_len(4, &v4), Ok(28));
        assert_eq!(inner_len(41, &v4), Err(Error::BadInnerPacket));
        assert_eq!(inner_len(17, &v4), Err(Error::BadNextHeader(17)));
        assert_eq!(inner_len(59, &v4), Ok(30));
        v4[3] = 31;
        assert_eq!(inner_len(4, &v4), Err(Error::BadInnerPacket));
        let mut v6 = [0u8; 48];
        v6[0] = 0x60;
        v6[5] = 8;
        assert_eq!(inner_len(41, &v6), Ok(48));
    }

    #[test]
    fn lifetime_tracker_reports_once() {
        let t0 = now();
        let mut lt = LifetimeTracker::new(
            Lifetime {
                soft_time: Some(Duration::from_secs(10)),
                hard_time: Some(Duration::from_secs(20)),
                ..Lifetime::default()
            },
            t0,
        );
        let s = SaStats::default();
        assert_eq!(lt.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(lt.poll(t0, &s, false, false), None);
        let t = t0 + Duration::from_secs(10);
        assert_eq!(lt.poll(t, &s, false, false), Some(LifetimeEvent::Soft));
        assert_eq!(lt.poll(t, &s, false, false), None);
        assert_eq!(lt.poll_timeout(), Some(t0 + Duration::from_secs(20)));
        let t = t0 + Duration::from_secs(25);
        assert!(lt.hard(t, &s));
        assert_eq!(lt.poll(t, &s, false, false), Some(LifetimeEvent::Hard));
        assert_eq!(lt.poll(t, &s, false, false), None);
        assert_eq!(lt.poll_timeout(), None);
    }
}
