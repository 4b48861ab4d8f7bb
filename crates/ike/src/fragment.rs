//! Reassembly of IKE fragments (the Cisco/Microsoft IKEv1 fragmentation vendor extension;
//! [`FragmentPayload`]), sans-IO: the caller passes `now` and drives the timeouts.
//!
//! A peer that announced [`vendor::FRAGMENTATION`](crate::wire::vendor::FRAGMENTATION) may
//! cut a large message (Main Mode 5 with certificates) into ISAKMP messages each carrying one
//! Fragment payload. All fragments of one message share the initiator cookie and a Fragment
//! ID; numbers run from 1, and the last one has the LAST flag. The data of fragment `k` is
//! the `k`-th slice of the original message, ISAKMP header included.
//!
//! Fragments are not authenticated, so the reassembler bounds everything an attacker can
//! make it hold (ROBUSTNESS case 34; CVE-2013-6076 was a strongSwan crash on crafted IKEv1
//! fragments): at most [`FragmentLimits::max_fragments`] per message, at most
//! [`FragmentLimits::max_message`] bytes per message, at most
//! [`FragmentLimits::max_pending`] messages at once (the oldest is evicted), each for at most
//! [`FragmentLimits::timeout`]. The worst case held is `max_pending × max_message` bytes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::wire::FragmentPayload;

/// Bounds of a [`Reassembler`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentLimits {
    /// Highest fragment number accepted (strongSwan's default is 16 for IKEv1).
    pub max_fragments: u8,
    /// Largest reassembled message, in bytes.
    pub max_message: usize,
    /// Reassemblies in progress at once; a new one evicts the oldest.
    pub max_pending: usize,
    /// How long a reassembly may wait for its missing fragments, from its first fragment.
    pub timeout: Duration,
}

impl Default for FragmentLimits {
    fn default() -> Self {
        Self {
            max_fragments: 16,
            max_message: 64 * 1024,
            max_pending: 64,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Why a fragment was refused. The fragment is dropped; the reassembly it belongs to goes on
/// except where noted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FragmentError {
    /// Fragment number 0 (numbers start at 1).
    #[error("fragment number 0")]
    ZeroNumber,
    /// A fragment number above [`FragmentLimits::max_fragments`].
    #[error("fragment number {number} > {max}")]
    TooManyFragments {
        /// The fragment number.
        number: u8,
        /// The limit.
        max: u8,
    },
    /// A fragment after the one flagged last, or a second, different, last fragment.
    #[error("fragment {number} inconsistent with last fragment {last}")]
    BeyondLast {
        /// The fragment number.
        number: u8,
        /// The number of the fragment flagged last.
        last: u8,
    },
    /// The message would exceed [`FragmentLimits::max_message`]; the whole reassembly is
    /// abandoned.
    #[error("reassembled message of {size} bytes > {max}")]
    MessageTooLarge {
        /// Bytes held with this fragment.
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// One message being reassembled.
#[derive(Debug)]
struct Pending {
    /// Fragment `k` at index `k - 1`.
    fragments: Vec<Option<Vec<u8>>>,
    /// Number of the fragment flagged last, once seen.
    last: Option<u8>,
    /// Fragments held.
    received: usize,
    /// Bytes held.
    size: usize,
    /// When the first fragment arrived (eviction order).
    started: Instant,
    /// When the reassembly is abandoned (`None`: `started + timeout` overflows).
    deadline: Option<Instant>,
}

/// Reassembles IKE fragments, keyed by (initiator cookie, Fragment ID).
#[derive(Debug)]
pub struct Reassembler {
    limits: FragmentLimits,
    pending: HashMap<([u8; 8], u16), Pending>,
    dropped: u64,
    abandoned: u64,
}

impl Reassembler {
    /// An empty reassembler.
    pub fn new(limits: FragmentLimits) -> Self {
        Self {
            limits,
            pending: HashMap::new(),
            dropped: 0,
            abandoned: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &FragmentLimits {
        &self.limits
    }

    /// Adds a fragment received at `now` in a message with initiator cookie `cookie`.
    ///
    /// Returns the whole message (fragments 1 to last, concatenated) once every fragment is
    /// there, and `None` while some are missing, including when a fragment repeats one
    /// already held (it is ignored). Errors drop the fragment: see [`FragmentError`].
    pub fn insert(
        &mut self,
        now: Instant,
        cookie: [u8; 8],
        frag: &FragmentPayload,
    ) -> Result<Option<Vec<u8>>, FragmentError> {
        let limits = self.limits;
        let number = frag.number;
        if number == 0 {
            self.dropped += 1;
            return Err(FragmentError::ZeroNumber);
        }
        if number > limits.max_fragments {
            self.dropped += 1;
            return Err(FragmentError::TooManyFragments {
                number,
                max: limits.max_fragments,
            });
        }
        let key = (cookie, frag.id);
        if self
            .pending
            .get(&key)
            .is_some_and(|p| p.deadline.is_some_and(|d| d <= now))
        {
            self.abandon(&key);
        }
        if !self.pending.contains_key(&key) {
            if frag.data.len() > limits.max_message {
                self.dropped += 1;
                return Err(FragmentError::MessageTooLarge {
                    size: frag.data.len(),
                    max: limits.max_message,
                });
            }
            if limits.max_pending == 0 {
                self.dropped += 1;
                return Ok(None);
            }
            while self.pending.len() >= limits.max_pending {
                let oldest = self
                    .pending
                    .iter()
                    .min_by_key(|(_, p)| p.started)
                    .map(|(k, _)| *k);
                match oldest {
                    Some(k) => self.abandon(&k),
                    None => break,
                }
            }
            self.pending.insert(
                key,
                Pending {
                    fragments: Vec::new(),
                    last: None,
                    received: 0,
                    size: 0,
                    started: now,
                    deadline: now.checked_add(limits.timeout),
                },
            );
        }
        let Some(p) = self.pending.get_mut(&key) else {
            return Ok(None);
        };
        // A fragment beyond the known last, or a second last with another number.
        let limit = match (p.last, frag.last) {
            (Some(last), true) if last != number => Some(last),
            (Some(last), _) if number > last => Some(last),
            _ => None,
        };
        if let Some(last) = limit {
            self.dropped += 1;
            return Err(FragmentError::BeyondLast { number, last });
        }
        let index = usize::from(number - 1);
        if p.fragments.get(index).is_some_and(Option::is_some) {
            self.dropped += 1;
            return Ok(None);
        }
        if frag.last {
            // Fragments already held past this one make the set inconsistent.
            if p.fragments.iter().skip(index + 1).any(Option::is_some) {
                self.dropped += 1;
                return Err(FragmentError::BeyondLast {
                    number: p.fragments.len() as u8,
                    last: number,
                });
            }
        }
        let size = p.size + frag.data.len();
        if size > limits.max_message {
            self.dropped += 1;
            self.abandon(&key);
            return Err(FragmentError::MessageTooLarge {
                size,
                max: limits.max_message,
            });
        }
        if p.fragments.len() <= index {
            p.fragments.resize(index + 1, None);
        }
        p.fragments[index] = Some(frag.data.clone());
        p.size = size;
        p.received += 1;
        if frag.last {
            p.last = Some(number);
        }
        if p.last.is_some_and(|l| usize::from(l) == p.received) {
            let done = self.pending.remove(&key);
            let message = done.map(|p| {
                let mut out = Vec::with_capacity(p.size);
                for f in p.fragments.into_iter().flatten() {
                    out.extend_from_slice(&f);
                }
                out
            });
            return Ok(message);
        }
        Ok(None)
    }

    /// Drops a reassembly, counting its fragments as dropped.
    fn abandon(&mut self, key: &([u8; 8], u16)) {
        if let Some(p) = self.pending.remove(key) {
            self.dropped += p.received as u64;
            self.abandoned += 1;
        }
    }

    /// Abandons every reassembly whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline.is_some_and(|d| d <= now))
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            self.abandon(&k);
        }
    }

    /// The earliest deadline of a reassembly in progress.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().filter_map(|p| p.deadline).min()
    }

    /// Fragments dropped so far: refused, duplicate, or held by a reassembly that was
    /// abandoned (timed out, evicted, or too large).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Reassemblies abandoned so far (timed out, evicted, or too large).
    pub fn abandoned(&self) -> u64 {
        self.abandoned
    }

    /// Reassemblies in progress.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes held by reassemblies in progress.
    pub fn held_bytes(&self) -> usize {
        self.pending.values().map(|p| p.size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

    fn frag(id: u16, number: u8, last: bool, data: &[u8]) -> FragmentPayload {
        FragmentPayload {
            id,
            number,
            last,
            data: data.to_vec(),
        }
    }

    #[test]
    fn in_order_and_out_of_order() {
        let t = t0();
        let mut r = Reassembler::new(FragmentLimits::default());
        assert_eq!(r.insert(t, C, &frag(1, 1, false, b"ab")), Ok(None));
        assert_eq!(
            r.insert(t, C, &frag(1, 2, true, b"cd")),
            Ok(Some(b"abcd".to_vec()))
        );
        assert_eq!(r.pending(), 0);
        // Last first, then the middle, then the first; a duplicate in between is ignored.
        assert_eq!(r.insert(t, C, &frag(2, 3, true, b"5")), Ok(None));
        assert_eq!(r.insert(t, C, &frag(2, 2, false, b"34")), Ok(None));
        assert_eq!(r.insert(t, C, &frag(2, 2, false, b"xx")), Ok(None));
        assert_eq!(r.dropped(), 1);
        assert_eq!(r.poll_timeout(), Some(t + Duration::from_secs(30)));
        assert_eq!(
            r.insert(t, C, &frag(2, 1, false, b"12")),
            Ok(Some(b"12345".to_vec()))
        );
        assert_eq!(r.poll_timeout(), None);
        // A single fragment that is also the last.
        assert_eq!(
            r.insert(t, C, &frag(3, 1, true, b"z")),
            Ok(Some(b"z".to_vec()))
        );
    }

    #[test]
    fn keys_are_separate() {
        let t = t0();
        let mut r = Reassembler::new(FragmentLimits::default());
        let c2 = [9; 8];
        assert_eq!(r.insert(t, C, &frag(1, 1, false, b"a")), Ok(None));
        assert_eq!(r.insert(t, c2, &frag(1, 2, true, b"B")), Ok(None));
        assert_eq!(
            r.insert(t, C, &frag(2, 1, true, b"x")),
            Ok(Some(b"x".to_vec()))
        );
        assert_eq!(
            r.insert(t, c2, &frag(1, 1, false, b"A")),
            Ok(Some(b"AB".to_vec()))
        );
        assert_eq!(
            r.insert(t, C, &frag(1, 2, true, b"b")),
            Ok(Some(b"ab".to_vec()))
        );
    }

    /// ROBUSTNESS case 34: fragment 0, numbers past the limit, inconsistent last flags, an
    /// oversized message, too many reassemblies, and timeouts.
    #[test]
    fn robustness_34() {
        let t = t0();
        let limits = FragmentLimits {
            max_fragments: 4,
            max_message: 10,
            max_pending: 2,
            timeout: Duration::from_secs(30),
        };
        let mut r = Reassembler::new(limits);
        assert_eq!(
            r.insert(t, C, &frag(1, 0, true, b"a")),
            Err(FragmentError::ZeroNumber)
        );
        assert_eq!(
            r.insert(t, C, &frag(1, 5, false, b"a")),
            Err(FragmentError::TooManyFragments { number: 5, max: 4 })
        );
        assert_eq!(r.insert(t, C, &frag(1, 255, true, b"a")).ok(), None);
        // Last is 2: fragment 3 and another last are refused, the reassembly goes on.
        assert_eq!(r.insert(t, C, &frag(1, 2, true, b"b")), Ok(None));
        assert_eq!(
            r.insert(t, C, &frag(1, 3, false, b"c")),
            Err(FragmentError::BeyondLast { number: 3, last: 2 })
        );
        assert_eq!(
            r.insert(t, C, &frag(1, 1, true, b"c")),
            Err(FragmentError::BeyondLast { number: 1, last: 2 })
        );
        assert_eq!(
            r.insert(t, C, &frag(1, 1, false, b"a")),
            Ok(Some(b"ab".to_vec()))
        );
        // A last flag below fragments already held.
        assert_eq!(r.insert(t, C, &frag(2, 3, false, b"c")), Ok(None));
        assert!(matches!(
            r.insert(t, C, &frag(2, 2, true, b"b")),
            Err(FragmentError::BeyondLast { .. })
        ));
        // Too large: the reassembly is abandoned.
        assert_eq!(r.insert(t, C, &frag(2, 1, false, b"123456")), Ok(None));
        assert_eq!(
            r.insert(t, C, &frag(2, 2, false, b"1234")),
            Err(FragmentError::MessageTooLarge { size: 11, max: 10 })
        );
        assert_eq!(r.pending(), 0);
        assert!(matches!(
            r.insert(t, C, &frag(2, 1, false, &[0; 11])),
            Err(FragmentError::MessageTooLarge { .. })
        ));
        // Eviction: the third concurrent reassembly evicts the oldest.
        let t1 = t + Duration::from_secs(1);
        let t2 = t + Duration::from_secs(2);
        assert_eq!(r.insert(t, C, &frag(10, 1, false, b"a")), Ok(None));
        assert_eq!(r.insert(t1, C, &frag(11, 1, false, b"a")), Ok(None));
        assert_eq!(r.insert(t2, C, &frag(12, 1, false, b"a")), Ok(None));
        assert_eq!(r.pending(), 2);
        assert_eq!(r.insert(t2, C, &frag(10, 2, true, b"b")), Ok(None));
        assert_eq!(r.pending(), 2);
        assert!(r.held_bytes() <= limits.max_pending * limits.max_message);
        // Timeouts.
        assert_eq!(r.poll_timeout(), Some(t2 + Duration::from_secs(30)));
        r.handle_timeout(t2 + Duration::from_secs(29));
        assert_eq!(r.pending(), 2);
        r.handle_timeout(t2 + Duration::from_secs(30));
        assert_eq!(r.pending(), 0);
        assert_eq!(r.poll_timeout(), None);
        assert!(r.abandoned() >= 4);
        // An expired reassembly is restarted by a late fragment even without handle_timeout.
        assert_eq!(r.insert(t, C, &frag(20, 1, false, b"a")), Ok(None));
        let late = t + Duration::from_secs(31);
        assert_eq!(r.insert(late, C, &frag(20, 2, true, b"b")), Ok(None));
        assert_eq!(
            r.insert(late, C, &frag(20, 1, false, b"A")),
            Ok(Some(b"Ab".to_vec()))
        );
    }

    #[test]
    fn huge_timeout_does_not_overflow() {
        let t = t0();
        let mut r = Reassembler::new(FragmentLimits {
            timeout: Duration::MAX,
            ..FragmentLimits::default()
        });
        assert_eq!(r.insert(t, C, &frag(1, 1, false, b"a")), Ok(None));
        assert_eq!(r.poll_timeout(), None);
        r.handle_timeout(t + Duration::from_secs(1000));
        assert_eq!(r.pending(), 1);
        let mut z = Reassembler::new(FragmentLimits {
            max_pending: 0,
            ..FragmentLimits::default()
        });
        assert_eq!(z.insert(t, C, &frag(1, 1, true, b"a")), Ok(None));
    }

    /// A starting instant (tests only; the library never reads the clock).
    #[allow(clippy::disallowed_methods)]
    fn t0() -> Instant {
        Instant::now()
    }
}
