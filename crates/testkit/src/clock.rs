//! A virtual clock: an [`Instant`] taken once, then moved only by the test.

use std::time::{Duration, Instant};

/// Virtual time for sans-IO tests.
///
/// The base [`Instant`] is read from the system clock once, in [`VirtualClock::new`]; after that
/// time moves only through [`advance`](Self::advance) and [`set`](Self::set), and never
/// backwards. Everything a test observes is therefore independent of how fast the machine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualClock {
    start: Instant,
    now: Instant,
}

impl VirtualClock {
    /// A clock whose start and current time are the real [`Instant`] of this call.
    ///
    /// This is the only place in the test harness that reads the system clock: an `Instant`
    /// cannot be made any other way, and only differences from it are ever used.
    #[allow(clippy::disallowed_methods)]
    pub fn new() -> Self {
        Self::starting_at(Instant::now())
    }

    /// A clock starting at `start` (to share one time base between several clocks).
    pub const fn starting_at(start: Instant) -> Self {
        Self { start, now: start }
    }

    /// The current virtual time.
    pub const fn now(&self) -> Instant {
        self.now
    }

    /// The instant the clock started at.
    pub const fn start(&self) -> Instant {
        self.start
    }

    /// Virtual time elapsed since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Moves time forward by `d` and returns the new time.
    pub fn advance(&mut self, d: Duration) -> Instant {
        self.now += d;
        self.now
    }

    /// Moves time to `t`.
    ///
    /// # Panics
    ///
    /// If `t` is before the current time: virtual time never goes backwards.
    pub fn set(&mut self, t: Instant) {
        assert!(
            t >= self.now,
            "virtual time cannot go backwards: now is +{:?}, asked for +{:?}",
            self.elapsed(),
            t.saturating_duration_since(self.start)
        );
        self.now = t;
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_forward_only() {
        let mut c = VirtualClock::new();
        let t0 = c.now();
        assert_eq!(c.start(), t0);
        assert_eq!(
            c.advance(Duration::from_secs(2)),
            t0 + Duration::from_secs(2)
        );
        c.set(t0 + Duration::from_secs(5));
        assert_eq!(c.elapsed(), Duration::from_secs(5));
        c.set(c.now());
        assert_eq!(c.elapsed(), Duration::from_secs(5));
    }

    #[test]
    #[should_panic(expected = "backwards")]
    fn refuses_to_go_back() {
        let mut c = VirtualClock::new();
        c.advance(Duration::from_secs(1));
        c.set(c.start());
    }
}
