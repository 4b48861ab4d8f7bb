//! A table of named timers (quinn `connection/timer.rs`).
//!
//! A machine declares `enum Timer { Retransmit, Hello, .. }`, implements [`TimerKind`] for it,
//! and keeps a [`TimerTable`]. `poll_timeout` is [`TimerTable::next_timeout`]; `handle_timeout`
//! walks [`TimerTable::expire`] and `match`es each fired timer in one place.

use std::time::Instant;

/// A closed set of timers, each with a slot index below `N`.
pub trait TimerKind: Copy + 'static {
    /// Every timer, in the order they are checked when several expire together.
    const VALUES: &'static [Self];
    /// The slot of this timer: unique, below the table size.
    fn index(self) -> usize;
}

/// Deadlines for the `N` timers of kind `T`.
#[derive(Debug, Clone)]
pub struct TimerTable<T, const N: usize> {
    data: [Option<Instant>; N],
    _kind: core::marker::PhantomData<T>,
}

impl<T: TimerKind, const N: usize> Default for TimerTable<T, N> {
    fn default() -> Self {
        Self {
            data: [None; N],
            _kind: core::marker::PhantomData,
        }
    }
}

impl<T: TimerKind, const N: usize> TimerTable<T, N> {
    /// Arms `timer` to fire at `at`, replacing any earlier deadline.
    pub fn set(&mut self, timer: T, at: Instant) {
        self.data[timer.index()] = Some(at);
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: T) {
        self.data[timer.index()] = None;
    }

    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: T) -> Option<Instant> {
        self.data[timer.index()]
    }

    /// Whether `timer` is armed.
    pub fn is_armed(&self, timer: T) -> bool {
        self.get(timer).is_some()
    }

    /// Disarms every timer.
    pub fn stop_all(&mut self) {
        self.data = [None; N];
    }

    /// The earliest deadline of all armed timers.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.data.iter().filter_map(|&x| x).min()
    }

    /// Disarms and returns the first timer (in `T::VALUES` order) whose deadline is at or before
    /// `now`. Call in a loop until `None`.
    pub fn expire(&mut self, now: Instant) -> Option<T> {
        for &t in T::VALUES {
            if matches!(self.data[t.index()], Some(at) if at <= now) {
                self.data[t.index()] = None;
                return Some(t);
            }
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests own the clock
mod tests {
    use super::*;
    use std::time::Duration;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum T {
        A,
        B,
    }
    impl TimerKind for T {
        const VALUES: &'static [Self] = &[Self::A, Self::B];
        fn index(self) -> usize {
            self as usize
        }
    }

    #[test]
    fn min_and_expire() {
        let t0 = Instant::now();
        let mut t: TimerTable<T, 2> = TimerTable::default();
        assert_eq!(t.next_timeout(), None);
        t.set(T::B, t0 + Duration::from_secs(1));
        t.set(T::A, t0 + Duration::from_secs(2));
        assert_eq!(t.next_timeout(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.expire(t0), None);
        assert_eq!(t.expire(t0 + Duration::from_secs(3)), Some(T::A));
        assert_eq!(t.expire(t0 + Duration::from_secs(3)), Some(T::B));
        assert_eq!(t.expire(t0 + Duration::from_secs(3)), None);
    }
}
