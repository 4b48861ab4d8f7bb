//! The Security Association Database (RFC 4301 §4.4.2).
//!
//! Inbound SAs are found by the SPI of an arriving packet, and optionally by its destination
//! address too; outbound SAs by an [`SaRef`], the handle that SPD rules name in their
//! `Protect` action. Both lookups are one hash probe.
//!
//! The table is generic over the SA values (`Sad<I, O>`), so it holds the ESP transforms
//! ([`EspSad`]), AH ones, or anything a test needs.
//!
//! # Handles
//!
//! An [`SaRef`] names one protected flow: the SA pair one Quick Mode negotiated for a
//! traffic selector, and, across rekeying, its successors. Inbound SAs carry the `SaRef`
//! they belong to, so after `open` the caller knows which flow a packet came through, and
//! during the overlap of a rekey the old and the new inbound SA both answer with the same
//! `SaRef`; the outbound side holds one SA per `SaRef`, replaced at rekey
//! ([`Sad::insert_outbound`] returns the old one).
//!
//! # Inbound lookup (RFC 4301 §4.1, §4.4.2)
//!
//! RFC 4301 has the receiver look for the "longest" match: SPI, destination and source
//! (multicast only), then SPI and destination, then the SPI alone.
//!
//! sras keeps unicast SAs only, so the first step (for multicast) does not apply: an inbound
//! SA is entered with a destination or without one, and [`Sad::inbound_mut`] prefers the
//! former. The SPI space is ours (the receiver chooses inbound SPIs, RFC 4303
//! §2.1), so a single SPI space per table is the normal case.
//!
//! The hash of an SPI is a multiplication, not a keyed hash: inbound SPIs are chosen at
//! random by this host, and a peer can only make us look SPIs up, not insert them, so it
//! cannot build collision chains.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use thiserror::Error;

use crate::Spi;

/// The handle of one protected flow: the SAs (and their rekeyed successors) that SPD rules
/// with [`Action::Protect`](crate::spd::Action::Protect) name. Opaque to this crate: handed
/// out by [`Sad::allocate_ref`] or chosen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaRef(pub u32);

/// SPIs 1 to 255 are reserved by IANA, and 0 for local use (RFC 4303 §2.1): never the SPI of
/// an SA on the wire.
pub const SPI_RESERVED_MAX: u32 = 255;

/// A multiplicative hasher for SPI keys (see the module documentation).
#[derive(Default, Clone, Copy)]
struct SpiHasher(u64);

impl Hasher for SpiHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type SpiMap<V> = HashMap<u32, V, BuildHasherDefault<SpiHasher>>;

/// Why an SA could not be entered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SadError {
    /// An inbound SA with this SPI and destination is already in the table.
    #[error("inbound SPI {spi:#010x} (destination {dst:?}) already in use")]
    DuplicateSpi {
        /// The SPI.
        spi: u32,
        /// The destination it was entered with.
        dst: Option<IpAddr>,
    },
    /// SPI 0 to 255 are reserved (RFC 4303 §2.1).
    #[error("SPI {0} is reserved (0 to 255)")]
    ReservedSpi(u32),
}

#[derive(Debug)]
struct InboundEntry<I> {
    dst: Option<IpAddr>,
    sa_ref: SaRef,
    sa: I,
}

/// An inbound SA found by [`Sad::inbound_mut`].
#[derive(Debug)]
pub struct InboundMatch<'a, I> {
    /// The flow it belongs to: what the SPD's per-packet check compares.
    pub sa_ref: SaRef,
    /// The destination it was entered with (`None`: any).
    pub dst: Option<IpAddr>,
    /// The SA.
    pub sa: &'a mut I,
}

/// One inbound SA as the iterators show it.
#[derive(Debug)]
pub struct InboundItem<'a, I> {
    /// Its SPI.
    pub spi: Spi,
    /// The destination it was entered with.
    pub dst: Option<IpAddr>,
    /// The flow it belongs to.
    pub sa_ref: SaRef,
    /// The SA.
    pub sa: &'a I,
}

/// What [`Sad::remove_ref`] took out.
#[derive(Debug)]
pub struct RemovedRef<I, O> {
    /// The inbound SAs of the flow, with their SPIs.
    pub inbound: Vec<(Spi, I)>,
    /// Its outbound SA.
    pub outbound: Option<O>,
}

/// The SAD: inbound SAs by SPI (and destination), outbound SAs by [`SaRef`].
#[derive(Debug)]
pub struct Sad<I, O> {
    /// By SPI; the entries of one SPI differ in destination (usually there is one).
    inbound: SpiMap<Vec<InboundEntry<I>>>,
    inbound_len: usize,
    outbound: HashMap<SaRef, O>,
    /// The inbound keys of each flow, for [`Sad::remove_ref`].
    by_ref: HashMap<SaRef, Vec<(u32, Option<IpAddr>)>>,
    next_ref: u32,
}

/// The SAD of ESP transforms.
pub type EspSad = Sad<crate::InboundSa, crate::OutboundSa>;

impl<I, O> Default for Sad<I, O> {
    fn default() -> Self {
        Self::new()
    }
}

fn canonical(a: Option<IpAddr>) -> Option<IpAddr> {
    a.map(|a| a.to_canonical())
}

impl<I, O> Sad<I, O> {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            inbound: SpiMap::default(),
            inbound_len: 0,
            outbound: HashMap::new(),
            by_ref: HashMap::new(),
            next_ref: 1,
        }
    }

    /// A fresh [`SaRef`], never handed out before by this table (wraps after 2³² - 1).
    pub fn allocate_ref(&mut self) -> SaRef {
        let r = SaRef(self.next_ref);
        self.next_ref = self.next_ref.wrapping_add(1).max(1);
        r
    }

    /// Enters an inbound SA for `spi`, bound to the destination `dst` or to any destination
    /// (`None`), as part of the flow `sa_ref`.
    pub fn insert_inbound(
        &mut self,
        spi: Spi,
        dst: Option<IpAddr>,
        sa_ref: SaRef,
        sa: I,
    ) -> Result<(), SadError> {
        let key = spi.0;
        if key <= SPI_RESERVED_MAX {
            return Err(SadError::ReservedSpi(key));
        }
        let dst = canonical(dst);
        let slot = self.inbound.entry(key).or_default();
        if slot.iter().any(|e| e.dst == dst) {
            return Err(SadError::DuplicateSpi { spi: key, dst });
        }
        slot.push(InboundEntry { dst, sa_ref, sa });
        self.inbound_len += 1;
        self.by_ref.entry(sa_ref).or_default().push((key, dst));
        Ok(())
    }

    fn position(entries: &[InboundEntry<I>], dst: IpAddr) -> Option<usize> {
        let dst = dst.to_canonical();
        entries
            .iter()
            .position(|e| e.dst == Some(dst))
            .or_else(|| entries.iter().position(|e| e.dst.is_none()))
    }

    /// The inbound SA for a packet with `spi` sent to `dst`: the one entered for that
    /// destination, else the one entered for any. One hash probe.
    pub fn inbound_mut(&mut self, spi: Spi, dst: IpAddr) -> Option<InboundMatch<'_, I>> {
        let entries = self.inbound.get_mut(&spi.0)?;
        let i = Self::position(entries, dst)?;
        let e = &mut entries[i];
        Some(InboundMatch {
            sa_ref: e.sa_ref,
            dst: e.dst,
            sa: &mut e.sa,
        })
    }

    /// Like [`Sad::inbound_mut`], read-only.
    pub fn inbound(&self, spi: Spi, dst: IpAddr) -> Option<(SaRef, &I)> {
        let entries = self.inbound.get(&spi.0)?;
        let e = &entries[Self::position(entries, dst)?];
        Some((e.sa_ref, &e.sa))
    }

    /// Whether any inbound SA uses `spi`, whatever its destination: for choosing a fresh
    /// SPI.
    pub fn contains_spi(&self, spi: Spi) -> bool {
        self.inbound.contains_key(&spi.0)
    }

    /// Removes the inbound SA entered for exactly (`spi`, `dst`).
    pub fn remove_inbound(&mut self, spi: Spi, dst: Option<IpAddr>) -> Option<(SaRef, I)> {
        let dst = canonical(dst);
        let entries = self.inbound.get_mut(&spi.0)?;
        let i = entries.iter().position(|e| e.dst == dst)?;
        let e = entries.swap_remove(i);
        if entries.is_empty() {
            self.inbound.remove(&spi.0);
        }
        self.inbound_len -= 1;
        self.unindex(e.sa_ref, spi.0, dst);
        Some((e.sa_ref, e.sa))
    }

    fn unindex(&mut self, sa_ref: SaRef, spi: u32, dst: Option<IpAddr>) {
        if let Some(keys) = self.by_ref.get_mut(&sa_ref) {
            keys.retain(|k| *k != (spi, dst));
            if keys.is_empty() {
                self.by_ref.remove(&sa_ref);
            }
        }
    }

    /// Enters the outbound SA of `sa_ref`, returning the one it replaces (at rekey).
    pub fn insert_outbound(&mut self, sa_ref: SaRef, sa: O) -> Option<O> {
        self.outbound.insert(sa_ref, sa)
    }

    /// The outbound SA of `sa_ref`.
    pub fn outbound(&self, sa_ref: SaRef) -> Option<&O> {
        self.outbound.get(&sa_ref)
    }

    /// The outbound SA of `sa_ref`, to seal with.
    pub fn outbound_mut(&mut self, sa_ref: SaRef) -> Option<&mut O> {
        self.outbound.get_mut(&sa_ref)
    }

    /// Removes the outbound SA of `sa_ref`.
    pub fn remove_outbound(&mut self, sa_ref: SaRef) -> Option<O> {
        self.outbound.remove(&sa_ref)
    }

    /// Removes every SA of the flow `sa_ref`, inbound and outbound (at teardown, seed 001
    /// §3.1).
    pub fn remove_ref(&mut self, sa_ref: SaRef) -> RemovedRef<I, O> {
        let mut inbound = Vec::new();
        for (spi, dst) in self.by_ref.remove(&sa_ref).unwrap_or_default() {
            let Some(entries) = self.inbound.get_mut(&spi) else {
                continue;
            };
            if let Some(i) = entries.iter().position(|e| e.dst == dst) {
                let e = entries.swap_remove(i);
                self.inbound_len -= 1;
                inbound.push((Spi(spi), e.sa));
            }
            if entries.is_empty() {
                self.inbound.remove(&spi);
            }
        }
        RemovedRef {
            inbound,
            outbound: self.outbound.remove(&sa_ref),
        }
    }

    /// The SPIs of the inbound SAs of `sa_ref`.
    pub fn inbound_spis(&self, sa_ref: SaRef) -> impl Iterator<Item = Spi> + '_ {
        self.by_ref
            .get(&sa_ref)
            .into_iter()
            .flatten()
            .map(|(spi, _)| Spi(*spi))
    }

    /// Every inbound SA, in no particular order (for lifetime checks and statistics).
    pub fn inbound_iter(&self) -> impl Iterator<Item = InboundItem<'_, I>> {
        self.inbound.iter().flat_map(|(spi, entries)| {
            entries.iter().map(|e| InboundItem {
                spi: Spi(*spi),
                dst: e.dst,
                sa_ref: e.sa_ref,
                sa: &e.sa,
            })
        })
    }

    /// Every inbound SA, mutable: `(spi, destination, flow, sa)`.
    pub fn inbound_iter_mut(
        &mut self,
    ) -> impl Iterator<Item = (Spi, Option<IpAddr>, SaRef, &mut I)> {
        self.inbound.iter_mut().flat_map(|(spi, entries)| {
            let spi = *spi;
            entries
                .iter_mut()
                .map(move |e| (Spi(spi), e.dst, e.sa_ref, &mut e.sa))
        })
    }

    /// Every outbound SA with its flow.
    pub fn outbound_iter(&self) -> impl Iterator<Item = (SaRef, &O)> {
        self.outbound.iter().map(|(r, sa)| (*r, sa))
    }

    /// Every outbound SA with its flow, mutable.
    pub fn outbound_iter_mut(&mut self) -> impl Iterator<Item = (SaRef, &mut O)> {
        self.outbound.iter_mut().map(|(r, sa)| (*r, sa))
    }

    /// Keeps the inbound SAs for which `keep(spi, flow, sa)` is true and returns the others
    /// (for removing SAs past their hard lifetime).
    pub fn retain_inbound(
        &mut self,
        mut keep: impl FnMut(Spi, SaRef, &mut I) -> bool,
    ) -> Vec<(Spi, SaRef, I)> {
        let mut removed = Vec::new();
        let mut gone = Vec::new();
        for (spi, entries) in &mut self.inbound {
            let mut i = 0;
            while i < entries.len() {
                let e = &mut entries[i];
                if keep(Spi(*spi), e.sa_ref, &mut e.sa) {
                    i += 1;
                } else {
                    let e = entries.swap_remove(i);
                    gone.push((e.sa_ref, *spi, e.dst));
                    removed.push((Spi(*spi), e.sa_ref, e.sa));
                }
            }
        }
        self.inbound.retain(|_, entries| !entries.is_empty());
        self.inbound_len -= removed.len();
        for (sa_ref, spi, dst) in gone {
            self.unindex(sa_ref, spi, dst);
        }
        removed
    }

    /// Keeps the outbound SAs for which `keep(flow, sa)` is true and returns the others.
    pub fn retain_outbound(
        &mut self,
        mut keep: impl FnMut(SaRef, &mut O) -> bool,
    ) -> Vec<(SaRef, O)> {
        let drop: Vec<SaRef> = self
            .outbound
            .iter_mut()
            .filter_map(|(r, sa)| (!keep(*r, sa)).then_some(*r))
            .collect();
        drop.into_iter()
            .filter_map(|r| self.outbound.remove(&r).map(|sa| (r, sa)))
            .collect()
    }

    /// Inbound SAs in the table.
    pub fn inbound_len(&self) -> usize {
        self.inbound_len
    }

    /// Outbound SAs in the table.
    pub fn outbound_len(&self) -> usize {
        self.outbound.len()
    }

    /// Whether the table holds no SA at all.
    pub fn is_empty(&self) -> bool {
        self.inbound_len == 0 && self.outbound.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestSad = Sad<&'static str, &'static str>;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn inbound_by_spi() {
        let mut sad = TestSad::new();
        let r = sad.allocate_ref();
        sad.insert_inbound(Spi(0x1000), None, r, "a").unwrap();
        let m = sad.inbound_mut(Spi(0x1000), ip("192.0.2.1")).unwrap();
        assert_eq!((m.sa_ref, *m.sa, m.dst), (r, "a", None));
        *m.sa = "a2";
        assert_eq!(sad.inbound(Spi(0x1000), ip("10.0.0.1")), Some((r, &"a2")));
        assert!(sad.inbound_mut(Spi(0x1001), ip("192.0.2.1")).is_none());
        assert!(sad.contains_spi(Spi(0x1000)));
        assert_eq!(sad.inbound_len(), 1);
    }

    #[test]
    fn destination_is_the_longer_match() {
        // RFC 4301 §4.4.2.1: SPI + destination before SPI alone.
        let mut sad = TestSad::new();
        let (r1, r2) = (sad.allocate_ref(), sad.allocate_ref());
        sad.insert_inbound(Spi(0x2000), None, r1, "any").unwrap();
        sad.insert_inbound(Spi(0x2000), Some(ip("192.0.2.2")), r2, "dst")
            .unwrap();
        assert_eq!(sad.inbound(Spi(0x2000), ip("192.0.2.2")).unwrap().1, &"dst");
        assert_eq!(sad.inbound(Spi(0x2000), ip("192.0.2.3")).unwrap().1, &"any");
        // IPv4-mapped IPv6 (a dual-stack socket) is the same address.
        assert_eq!(
            sad.inbound(Spi(0x2000), ip("::ffff:192.0.2.2")).unwrap().1,
            &"dst"
        );
        assert_eq!(
            sad.insert_inbound(Spi(0x2000), Some(ip("::ffff:192.0.2.2")), r2, "dup"),
            Err(SadError::DuplicateSpi {
                spi: 0x2000,
                dst: Some(ip("192.0.2.2"))
            })
        );
        assert_eq!(sad.remove_inbound(Spi(0x2000), None), Some((r1, "any")));
        assert!(sad.inbound(Spi(0x2000), ip("192.0.2.3")).is_none());
        assert!(sad.contains_spi(Spi(0x2000)));
        assert_eq!(
            sad.remove_inbound(Spi(0x2000), Some(ip("192.0.2.2"))),
            Some((r2, "dst"))
        );
        assert!(!sad.contains_spi(Spi(0x2000)));
        assert!(sad.is_empty());
    }

    #[test]
    fn reserved_spis_are_refused() {
        let mut sad = TestSad::new();
        for spi in [0, 1, 255] {
            assert_eq!(
                sad.insert_inbound(Spi(spi), None, SaRef(1), "x"),
                Err(SadError::ReservedSpi(spi))
            );
        }
        sad.insert_inbound(Spi(256), None, SaRef(1), "x").unwrap();
    }

    #[test]
    fn rekey_overlap_and_teardown() {
        // One flow: the old and the new inbound SA overlap; the outbound SA is replaced.
        let mut sad = TestSad::new();
        let flow = sad.allocate_ref();
        let other = sad.allocate_ref();
        assert_ne!(flow, other);
        sad.insert_inbound(Spi(0xaaaa_0001), None, flow, "in-old")
            .unwrap();
        assert_eq!(sad.insert_outbound(flow, "out-old"), None);
        sad.insert_inbound(Spi(0xaaaa_0002), None, flow, "in-new")
            .unwrap();
        assert_eq!(sad.insert_outbound(flow, "out-new"), Some("out-old"));
        sad.insert_inbound(Spi(0xbbbb_0001), None, other, "in-other")
            .unwrap();
        sad.insert_outbound(other, "out-other");
        for spi in [0xaaaa_0001, 0xaaaa_0002] {
            assert_eq!(sad.inbound(Spi(spi), ip("192.0.2.1")).unwrap().0, flow);
        }
        assert_eq!(sad.outbound(flow), Some(&"out-new"));
        let mut spis: Vec<u32> = sad.inbound_spis(flow).map(|s| s.0).collect();
        spis.sort_unstable();
        assert_eq!(spis, [0xaaaa_0001, 0xaaaa_0002]);

        let removed = sad.remove_ref(flow);
        assert_eq!(removed.inbound.len(), 2);
        assert_eq!(removed.outbound, Some("out-new"));
        assert_eq!(sad.inbound_len(), 1);
        assert_eq!(sad.outbound_len(), 1);
        assert!(sad.inbound(Spi(0xaaaa_0001), ip("192.0.2.1")).is_none());
        assert_eq!(sad.inbound_spis(flow).count(), 0);
        let removed = sad.remove_ref(flow);
        assert!(removed.inbound.is_empty() && removed.outbound.is_none());
    }

    #[test]
    fn retain_for_lifetimes() {
        let mut sad: Sad<u32, u32> = Sad::new();
        for i in 0..10u32 {
            let r = SaRef(i);
            sad.insert_inbound(Spi(0x1_0000 + i), None, r, i).unwrap();
            sad.insert_outbound(r, i);
        }
        for (_, _, _, sa) in sad.inbound_iter_mut() {
            *sa += 100;
        }
        let gone = sad.retain_inbound(|_, _, sa| *sa % 2 == 0);
        assert_eq!(gone.len(), 5);
        assert_eq!(sad.inbound_len(), 5);
        assert!(sad
            .inbound_iter()
            .all(|e| *e.sa % 2 == 0 && e.spi.0 - 0x1_0000 + 100 == *e.sa));
        assert_eq!(sad.inbound_spis(SaRef(1)).count(), 0);
        assert_eq!(sad.inbound_spis(SaRef(2)).count(), 1);
        let gone = sad.retain_outbound(|r, _| r.0 < 3);
        assert_eq!(gone.len(), 7);
        assert_eq!(sad.outbound_iter().count(), 3);
        for (_, sa) in sad.outbound_iter_mut() {
            *sa = 0;
        }
        assert_eq!(sad.outbound(SaRef(2)), Some(&0));
    }

    #[test]
    fn many_spis() {
        let mut sad: Sad<u32, ()> = Sad::new();
        for i in 0..10_000u32 {
            sad.insert_inbound(Spi(0x100 + i), None, SaRef(i), i)
                .unwrap();
        }
        for i in (0..10_000u32).step_by(7) {
            assert_eq!(sad.inbound(Spi(0x100 + i), ip("192.0.2.1")).unwrap().1, &i);
        }
        assert_eq!(sad.inbound_len(), 10_000);
    }
}
