//! The server's IPv4 address pool (`ppp.pool`): each PPP link gets a free address when its user
//! is accepted, and gives it back when the link or its session ends.
//!
//! Addresses are handed out round-robin from a cursor, so a just-released address is the last
//! to be reused (a client that reconnects at once does not meet its previous session's traffic).
//! Leases are kept in a set: memory grows with the addresses in use, not with the pool's size.

use std::collections::HashSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// An inclusive range of IPv4 addresses, written `"FIRST-LAST"` (`"198.51.100.10-198.51.100.250"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolRange {
    first: u32,
    last: u32,
}

impl PoolRange {
    /// The range `first..=last`; `None` if `last` is below `first`.
    pub(crate) fn new(first: Ipv4Addr, last: Ipv4Addr) -> Option<Self> {
        let (first, last) = (u32::from(first), u32::from(last));
        (first <= last).then_some(Self { first, last })
    }

    /// The first address.
    pub(crate) fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.first)
    }

    /// The last address.
    pub(crate) fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.last)
    }

    /// How many addresses the range holds.
    pub(crate) fn size(&self) -> u64 {
        u64::from(self.last - self.first) + 1
    }

    /// Whether `a` is in the range.
    pub(crate) fn contains(&self, a: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&u32::from(a))
    }
}

impl FromStr for PoolRange {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s
            .split_once('-')
            .ok_or("must be two IPv4 addresses joined by '-'")?;
        let first: Ipv4Addr = a
            .trim()
            .parse()
            .map_err(|_| "the first address is not an IPv4 address")?;
        let last: Ipv4Addr = b
            .trim()
            .parse()
            .map_err(|_| "the last address is not an IPv4 address")?;
        Self::new(first, last).ok_or("the last address is below the first")
    }
}

impl fmt::Display for PoolRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first(), self.last())
    }
}

impl Serialize for PoolRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The addresses of a [`PoolRange`] and which of them are leased.
#[derive(Debug)]
pub(crate) struct Pool {
    range: PoolRange,
    leased: HashSet<u32>,
    /// Where the next search starts.
    cursor: u32,
}

impl Pool {
    /// A pool with every address of `range` free.
    pub(crate) fn new(range: PoolRange) -> Self {
        Self {
            range,
            leased: HashSet::new(),
            cursor: range.first,
        }
    }

    /// Leases a free address, or `None` if every address is taken.
    pub(crate) fn allocate(&mut self) -> Option<Ipv4Addr> {
        if self.leased.len() as u64 >= self.range.size() {
            return None;
        }
        // A free address exists, so this finds one within `leased.len() + 1` steps.
        let mut a = self.cursor;
        loop {
            let next = if a == self.range.last {
                self.range.first
            } else {
                a + 1
            };
            if self.leased.insert(a) {
                self.cursor = next;
                return Some(Ipv4Addr::from(a));
            }
            a = next;
        }
    }

    /// Returns `a` to the pool; false if it was not leased (or is not from this pool).
    pub(crate) fn release(&mut self, a: Ipv4Addr) -> bool {
        self.leased.remove(&u32::from(a))
    }

    /// How many addresses are leased.
    pub(crate) fn in_use(&self) -> usize {
        self.leased.len()
    }

    /// The range.
    pub(crate) fn range(&self) -> PoolRange {
        self.range
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_ranges() {
        let r: PoolRange = "198.51.100.10-198.51.100.20".parse().unwrap();
        assert_eq!(r.first(), ip("198.51.100.10"));
        assert_eq!(r.last(), ip("198.51.100.20"));
        assert_eq!(r.size(), 11);
        assert_eq!(r.to_string(), "198.51.100.10-198.51.100.20");
        assert!(r.contains(ip("198.51.100.10")) && r.contains(ip("198.51.100.20")));
        assert!(!r.contains(ip("198.51.100.9")) && !r.contains(ip("198.51.100.21")));
        // Spaces around the dash, a single address, a range across an octet boundary.
        let r: PoolRange = "10.0.0.255 - 10.0.1.1".parse().unwrap();
        assert_eq!(r.size(), 3);
        let r: PoolRange = "10.0.0.1-10.0.0.1".parse().unwrap();
        assert_eq!(r.size(), 1);
        let all: PoolRange = "0.0.0.0-255.255.255.255".parse().unwrap();
        assert_eq!(all.size(), 1 << 32);
    }

    #[test]
    fn rejects_bad_ranges() {
        for bad in [
            "",
            "198.51.100.10",
            "198.51.100.10-",
            "-198.51.100.10",
            "198.51.100.20-198.51.100.10",
            "198.51.100.10-198.51.100.300",
            "198.51.100.0/24",
            "2001:db8::1-2001:db8::9",
        ] {
            assert!(bad.parse::<PoolRange>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn allocates_every_address_once_then_runs_out() {
        let mut p = Pool::new("192.0.2.10-192.0.2.13".parse().unwrap());
        let mut got: Vec<Ipv4Addr> = (0..4).map(|_| p.allocate().unwrap()).collect();
        assert_eq!(p.allocate(), None);
        assert_eq!(p.in_use(), 4);
        got.sort();
        assert_eq!(
            got,
            ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"].map(ip)
        );
    }

    #[test]
    fn released_addresses_come_back_last() {
        let mut p = Pool::new("192.0.2.10-192.0.2.12".parse().unwrap());
        let a = p.allocate().unwrap();
        let b = p.allocate().unwrap();
        assert_eq!((a, b), (ip("192.0.2.10"), ip("192.0.2.11")));
        assert!(p.release(a));
        assert!(!p.release(a), "released twice");
        assert!(!p.release(ip("203.0.113.1")), "not from this pool");
        // The cursor moves on: .12 first, then the wrap-around finds .10 free again.
        assert_eq!(p.allocate(), Some(ip("192.0.2.12")));
        assert_eq!(p.allocate(), Some(ip("192.0.2.10")));
        assert_eq!(p.allocate(), None);
        assert!(p.release(b));
        assert_eq!(p.allocate(), Some(b));
        assert_eq!(p.in_use(), 3);
    }

    #[test]
    fn single_address_pool() {
        let mut p = Pool::new("192.0.2.7-192.0.2.7".parse().unwrap());
        assert_eq!(p.allocate(), Some(ip("192.0.2.7")));
        assert_eq!(p.allocate(), None);
        assert!(p.release(ip("192.0.2.7")));
        assert_eq!(p.allocate(), Some(ip("192.0.2.7")));
    }

    #[test]
    fn pool_at_the_top_of_the_address_space_wraps_without_overflow() {
        let mut p = Pool::new("255.255.255.253-255.255.255.255".parse().unwrap());
        for _ in 0..3 {
            assert!(p.allocate().is_some());
        }
        assert_eq!(p.allocate(), None);
        assert!(p.release(ip("255.255.255.254")));
        assert_eq!(p.allocate(), Some(ip("255.255.255.254")));
    }

    #[test]
    fn many_leases_and_releases_stay_consistent() {
        let range: PoolRange = "10.1.0.0-10.1.3.255".parse().unwrap();
        let mut p = Pool::new(range);
        let mut held = Vec::new();
        for round in 0..5000u32 {
            if round % 3 == 2 && !held.is_empty() {
                let a = held.swap_remove((round as usize * 7) % held.len());
                assert!(p.release(a));
            } else if let Some(a) = p.allocate() {
                assert!(range.contains(a));
                assert!(!held.contains(&a), "{a} leased twice");
                held.push(a);
            } else {
                assert_eq!(held.len() as u64, range.size());
            }
            assert_eq!(p.in_use(), held.len());
        }
    }
}
