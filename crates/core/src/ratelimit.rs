//! A token bucket for rate-limited log lines about bad input: a flood of garbage costs a
//! counter increment, not a log line each.

use std::time::{Duration, Instant};

/// Allows `burst` events, refilled at one per `interval`.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    interval: Duration,
    burst: u32,
    tokens: u32,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimiter {
    /// A limiter allowing `burst` at once and one more per `interval`.
    pub const fn new(burst: u32, interval: Duration) -> Self {
        Self {
            interval,
            burst,
            tokens: burst,
            last: None,
            suppressed: 0,
        }
    }

    /// Whether an event at `now` may be logged. When it may, returns how many were suppressed
    /// since the last allowed one.
    pub fn check(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            None => self.last = Some(now),
            Some(last) if !self.interval.is_zero() => {
                let elapsed = now.saturating_duration_since(last);
                let refill = (elapsed.as_nanos() / self.interval.as_nanos())
                    .min(u128::from(self.burst)) as u32;
                if refill > 0 {
                    self.tokens = (self.tokens + refill).min(self.burst);
                    self.last = Some(now);
                }
            }
            Some(_) => self.tokens = self.burst,
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            Some(core::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests own the clock
mod tests {
    use super::*;

    #[test]
    fn limits_and_refills() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(2, Duration::from_secs(1));
        assert_eq!(r.check(t0), Some(0));
        assert_eq!(r.check(t0), Some(0));
        assert_eq!(r.check(t0), None);
        assert_eq!(r.check(t0), None);
        assert_eq!(r.check(t0 + Duration::from_secs(1)), Some(2));
    }
}
