//! Anti-replay window (RFC 4303 §3.4.3) with extended sequence numbers (Appendix A).
//!
//! The bitmap is a ring of 64-bit words indexed by `sequence / 64` (the RFC 6479 layout):
//! sliding the window clears whole words instead of shifting bits, so an update costs O(1)
//! for in-order traffic whatever the window size. It is allocated once, in [`ReplayWindow::new`].
//!
//! The window is split in two steps on purpose (E3): [`ReplayWindow::check`] before the ICV
//! is verified, [`ReplayWindow::update`] only after the packet proved authentic and
//! well-formed, so a forged packet with a sequence number far ahead cannot move the window.

use crate::error::ReplayError;

/// Window size used when none is configured: 1024 bits, well above the RFC's 32/64 and
/// enough for reordering at multi-gigabit rates.
pub const DEFAULT_REPLAY_WINDOW: u32 = 1024;

/// Largest window accepted (bits): 128 Ki, a 16 KiB bitmap per inbound SA.
pub const MAX_REPLAY_WINDOW: u32 = 1 << 17;

/// The window size assumed for ESN inference when anti-replay is disabled: half the
/// 32-bit space, i.e. "the nearest" epoch.
const INFERENCE_WINDOW_WHEN_DISABLED: u64 = 1 << 31;

/// Anti-replay window over 64-bit (ESN) or 32-bit sequence numbers.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    /// Window size in bits; 0 disables the checks (the top is still tracked for ESN).
    bits: u32,
    /// Highest sequence number accepted so far; 0 before the first packet.
    top: u64,
    /// Ring of words; its length is a power of two, at least `bits / 64 + 1` (rounded up).
    map: Box<[u64]>,
}

impl core::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("bits", &self.bits)
            .field("top", &self.top)
            .finish_non_exhaustive()
    }
}

impl ReplayWindow {
    /// A window of `bits` sequence numbers (clamped to [`MAX_REPLAY_WINDOW`]); `0` disables
    /// anti-replay (tests only: RFC 4303 §3.4.3 wants it on by default).
    #[must_use]
    pub fn new(bits: u32) -> Self {
        let bits = bits.min(MAX_REPLAY_WINDOW);
        let words = if bits == 0 {
            1
        } else {
            (bits as usize).div_ceil(64) + 1
        };
        Self {
            bits,
            top: 0,
            map: vec![0; words.next_power_of_two()].into_boxed_slice(),
        }
    }

    /// Window size in bits (0: disabled).
    #[must_use]
    pub const fn bits(&self) -> u32 {
        self.bits
    }

    /// The highest sequence number accepted so far (0: none yet).
    #[must_use]
    pub const fn top(&self) -> u64 {
        self.top
    }

    /// Infers the full 64-bit sequence number of a packet that carries only the low 32
    /// bits (RFC 4303 Appendix A2.2): the high half is the top's, or one more when the low
    /// half has wrapped past the window, or one less when the packet is from just before a
    /// wrap the top has already crossed. When the top is still in the first epoch, "one
    /// less" does not exist and the packet is placed in epoch 0 (it will then fail the ICV).
    #[must_use]
    pub fn infer_esn(&self, low: u32) -> u64 {
        let w = if self.bits == 0 {
            INFERENCE_WINDOW_WHEN_DISABLED
        } else {
            u64::from(self.bits)
        };
        let tl = self.top & 0xffff_ffff;
        let th = self.top >> 32;
        let seql = u64::from(low);
        //= https://www.rfc-editor.org/rfc/rfc4303#appendix-A2.2
        //# If (Tl >= W - 1)                  Case A
        //#     If (Seql >= Tl - W + 1)         Seqh = Th
        //#     else                            Seqh = Th + 1
        //# If (Tl < W - 1)                   Case B
        //#     If (Seql >= Tl - W + 1)         Seqh = Th - 1
        //#     else                            Seqh = Th
        let seqh = if tl + 1 >= w {
            if seql + w > tl {
                th
            } else {
                th.wrapping_add(1) & 0xffff_ffff
            }
        } else {
            // Tl - W + 1 modulo 2^32: a number in the upper part of the 32-bit space.
            let lower_edge = (tl + (1 << 32) + 1 - w) & 0xffff_ffff;
            if seql >= lower_edge {
                th.saturating_sub(1)
            } else {
                th
            }
        };
        (seqh << 32) | seql
    }

    /// Whether `seq` may be accepted: right of the window, or inside it and not yet seen.
    /// Changes nothing: call [`update`](Self::update) once the packet proved authentic.
    ///
    /// # Errors
    ///
    /// [`ReplayError::Replayed`] when seen before, [`ReplayError::OutsideWindow`] when left
    /// of the window or zero (the first packet carries 1, RFC 4303 §3.3.3).
    pub fn check(&self, seq: u64) -> Result<(), ReplayError> {
        if self.bits == 0 {
            return Ok(());
        }
        if seq == 0 {
            return Err(ReplayError::OutsideWindow);
        }
        if seq > self.top {
            return Ok(());
        }
        if self.top - seq >= u64::from(self.bits) {
            return Err(ReplayError::OutsideWindow);
        }
        if self.map[self.word(seq)] & Self::bit(seq) != 0 {
            return Err(ReplayError::Replayed);
        }
        Ok(())
    }

    /// Records `seq` as received, sliding the window when it is the new highest. A number
    /// left of the window is ignored (it can only come from a caller that skipped
    /// [`check`](Self::check)).
    pub fn update(&mut self, seq: u64) {
        if self.bits == 0 {
            self.top = self.top.max(seq);
            return;
        }
        if seq > self.top {
            let old_block = self.top >> 6;
            let new_block = seq >> 6;
            let len = self.map.len() as u64;
            if new_block - old_block >= len {
                self.map.fill(0);
            } else {
                for b in old_block + 1..=new_block {
                    // `len` is a power of two: the mask picks the ring slot.
                    self.map[(b & (len - 1)) as usize] = 0;
                }
            }
            self.top = seq;
        } else if self.top - seq >= u64::from(self.bits) {
            return;
        }
        let w = self.word(seq);
        self.map[w] |= Self::bit(seq);
    }

    /// Test helper: moves the window as if `top` had just been received (and nothing else).
    #[cfg(any(test, feature = "__fuzzing"))]
    #[doc(hidden)]
    pub fn set_top_for_test(&mut self, top: u64) {
        self.map.fill(0);
        self.top = top;
        if top != 0 && self.bits != 0 {
            let w = self.word(top);
            self.map[w] |= Self::bit(top);
        }
    }

    fn word(&self, seq: u64) -> usize {
        ((seq >> 6) as usize) & (self.map.len() - 1)
    }

    const fn bit(seq: u64) -> u64 {
        1 << (seq & 63)
    }
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn in_order_and_duplicates() {
        let mut w = ReplayWindow::new(64);
        assert_eq!(w.check(0), Err(ReplayError::OutsideWindow));
        for s in 1..=200 {
            assert_eq!(w.check(s), Ok(()));
            w.update(s);
            assert_eq!(w.check(s), Err(ReplayError::Replayed));
        }
        assert_eq!(w.top(), 200);
        // The window is (200 - 64, 200].
        assert_eq!(w.check(137), Err(ReplayError::Replayed));
        assert_eq!(w.check(136), Err(ReplayError::OutsideWindow));
    }

    #[test]
    fn out_of_order_inside_window_once() {
        let mut w = ReplayWindow::new(1024);
        w.update(2000);
        for s in (977..2000).rev().step_by(3) {
            assert_eq!(w.check(s), Ok(()), "{s}");
            w.update(s);
            assert_eq!(w.check(s), Err(ReplayError::Replayed));
        }
        assert_eq!(w.check(976), Err(ReplayError::OutsideWindow));
        // A jump far ahead clears everything; the old ones fall out.
        w.update(1_000_000);
        assert_eq!(w.check(2000), Err(ReplayError::OutsideWindow));
        assert_eq!(w.check(999_999), Ok(()));
    }

    #[test]
    fn disabled_window_accepts_everything() {
        let mut w = ReplayWindow::new(0);
        w.update(5);
        assert_eq!(w.check(5), Ok(()));
        assert_eq!(w.check(0), Ok(()));
        assert_eq!(w.top(), 5);
    }

    #[test]
    fn esn_inference_across_the_wrap() {
        let mut w = ReplayWindow::new(1024);
        // Case B in epoch 0: nothing before it.
        assert_eq!(w.infer_esn(1), 1);
        assert_eq!(w.infer_esn(u32::MAX), u64::from(u32::MAX));
        // Top just below the wrap (case A).
        w.update(0xffff_fff0);
        assert_eq!(w.infer_esn(0xffff_ffff), 0xffff_ffff);
        assert_eq!(w.infer_esn(0xffff_fc00), 0xffff_fc00);
        assert_eq!(w.infer_esn(5), 0x1_0000_0005);
        // Top just past the wrap (case B): late packets from epoch 0 stay in epoch 0.
        w.update(0x1_0000_0005);
        assert_eq!(w.infer_esn(0xffff_fff8), 0xffff_fff8);
        assert_eq!(w.infer_esn(6), 0x1_0000_0006);
        assert_eq!(w.check(0xffff_fff8), Ok(()));
        assert_eq!(w.check(0xffff_fff0), Err(ReplayError::Replayed));
        // The last number of the space.
        w.update(u64::MAX - 1);
        assert_eq!(w.infer_esn(u32::MAX), u64::MAX);
    }

    proptest! {
        /// Against a model (a set and a top): every number is accepted exactly once while
        /// inside the window.
        #[test]
        fn matches_a_model(bits in 1u32..300, seqs in proptest::collection::vec(1u64..2000, 1..400)) {
            let mut w = ReplayWindow::new(bits);
            let mut seen = std::collections::BTreeSet::new();
            let mut top = 0u64;
            for s in seqs {
                let expect = if s > top {
                    Ok(())
                } else if top - s >= u64::from(bits) {
                    Err(ReplayError::OutsideWindow)
                } else if seen.contains(&s) {
                    Err(ReplayError::Replayed)
                } else {
                    Ok(())
                };
                prop_assert_eq!(w.check(s), expect);
                if expect.is_ok() {
                    w.update(s);
                    seen.insert(s);
                    top = top.max(s);
                }
            }
        }

        /// ESN inference recovers any number within the window of the top (A2.2).
        #[test]
        fn inference_recovers_nearby(top in 1u64..u64::MAX / 2, back in 0u64..1024, ahead in 0u64..(1u64 << 31)) {
            let mut w = ReplayWindow::new(1024);
            w.update(top);
            let behind = top.saturating_sub(back).max(1);
            prop_assert_eq!(w.infer_esn(behind as u32), behind);
            let fwd = top + ahead;
            prop_assert_eq!(w.infer_esn(fwd as u32), fwd);
        }
    }
}
