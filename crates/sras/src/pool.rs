//! The server's IPv4 address pool (`ppp.pool`): each PPP link gets a free address when its user
//! is accepted, and gives it back when the link or its session ends.
//!
//! Addresses are handed out round-robin from a cursor, so a just-released address is the last
//! to be reused (a client that reconnects at once does not meet its previous session's traffic).
//! Leases are kept in a set: memory grows with the addresses in use, not with the pool's size.
//!
//! IPv6 (`ppp.ipv6_prefix`): each link whose IPv6CP opens gets a /64 of the prefix
//! ([`Prefix6Pool`]), advertised to it for stateless autoconfiguration; the first /64 is the
//! server's own (its address `prefix::1` on the TUN device).

use std::collections::HashSet;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
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

/// An IPv6 prefix of length 16 to 64, written `"ADDRESS/LENGTH"` (`"fd00:5a5a:1::/48"`): the
/// /64s handed to links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prefix6 {
    /// The upper 64 bits, host bits cleared.
    base: u64,
    len: u8,
}

impl Prefix6 {
    /// The prefix length.
    pub(crate) fn len(&self) -> u8 {
        self.len
    }

    /// The network address.
    pub(crate) fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.base) << 64)
    }

    /// How many /64s it holds.
    fn count(&self) -> u64 {
        // len is 16..=64, so the shift is 0..=48.
        1u64 << (64 - u32::from(self.len))
    }

    /// The server's own address: `::1` in the first /64.
    pub(crate) fn server_address(&self) -> Ipv6Addr {
        Ipv6Addr::from((u128::from(self.base) << 64) | 1)
    }
}

impl FromStr for Prefix6 {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, l) = s
            .split_once('/')
            .ok_or("must be an IPv6 network as address/length")?;
        let a: Ipv6Addr = a.trim().parse().map_err(|_| "the address is not IPv6")?;
        let len: u8 = l
            .trim()
            .parse()
            .ok()
            .filter(|l| (16..=64).contains(l))
            .ok_or("the length must be 16 to 64 (each link gets a /64 of it)")?;
        if a.is_multicast()
            || a.is_loopback()
            || a.is_unspecified()
            || a.segments()[0] & 0xffc0 == 0xfe80
        {
            return Err(
                "must be a global or unique-local prefix (not multicast, loopback or link-local)",
            );
        }
        let upper = (u128::from(a) >> 64) as u64;
        let mask = if len == 64 {
            u64::MAX
        } else {
            !(u64::MAX >> len)
        };
        Ok(Self {
            base: upper & mask,
            len,
        })
    }
}

impl fmt::Display for Prefix6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.len)
    }
}

impl Serialize for Prefix6 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The /64s of a [`Prefix6`] and which of them are leased (their upper 64 bits), handed out
/// round-robin like [`Pool`]. The first /64 is never leased: it is the server's.
#[derive(Debug)]
pub(crate) struct Prefix6Pool {
    prefix: Prefix6,
    leased: HashSet<u64>,
    /// Index of the next /64 to try (1..count).
    cursor: u64,
}

impl Prefix6Pool {
    /// A pool with every /64 but the first free.
    pub(crate) fn new(prefix: Prefix6) -> Self {
        Self {
            prefix,
            leased: HashSet::new(),
            cursor: 1,
        }
    }

    /// The prefix.
    pub(crate) fn prefix(&self) -> Prefix6 {
        self.prefix
    }

    /// Leases a free /64 (its upper 64 bits), or `None` if all are taken.
    pub(crate) fn allocate(&mut self) -> Option<u64> {
        let usable = self.prefix.count() - 1;
        if self.leased.len() as u64 >= usable {
            return None;
        }
        // A free /64 exists, so this finds one within `leased.len() + 1` steps.
        loop {
            let i = self.cursor;
            self.cursor = if i >= usable { 1 } else { i + 1 };
            let p = self.prefix.base | i;
            if self.leased.insert(p) {
                return Some(p);
            }
        }
    }

    /// Returns the /64 `p`; false if it was not leased.
    pub(crate) fn release(&mut self, p: u64) -> bool {
        self.leased.remove(&p)
    }

    /// How many /64s are leased.
    pub(crate) fn in_use(&self) -> usize {
        self.leased.len()
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

    #[test]
    fn ipv6_prefixes_parse_and_hand_out_each_64_once() {
        let p: Prefix6 = "fd00:5a5a:1::/62".parse().unwrap();
        assert_eq!(p.to_string(), "fd00:5a5a:1::/62");
        assert_eq!(p.server_address().to_string(), "fd00:5a5a:1::1");
        // Host bits are cleared.
        let q: Prefix6 = "fd00:5a5a:1:3::7/62".parse().unwrap();
        assert_eq!(q, p);
        let mut pool = Prefix6Pool::new(p);
        let mut got: Vec<u64> = (0..3).map(|_| pool.allocate().unwrap()).collect();
        assert_eq!(pool.allocate(), None, "the first /64 is the server's");
        got.sort();
        assert_eq!(
            got,
            vec![
                0xfd00_5a5a_0001_0001,
                0xfd00_5a5a_0001_0002,
                0xfd00_5a5a_0001_0003
            ]
        );
        assert!(pool.release(got[1]));
        assert!(!pool.release(got[1]));
        assert_eq!(pool.allocate(), Some(got[1]));
        assert_eq!(pool.in_use(), 3);
        // A /64 alone has no /64 to lease.
        let mut one = Prefix6Pool::new("2001:db8::/64".parse().unwrap());
        assert_eq!(one.allocate(), None);
        // A /16 does not overflow.
        let mut big = Prefix6Pool::new("2001::/16".parse().unwrap());
        assert_eq!(big.allocate(), Some(0x2001_0000_0000_0001));
        for bad in [
            "fd00::",
            "fd00::/65",
            "fd00::/8",
            "fe80::/64",
            "ff02::/16",
            "10.0.0.0/8",
            "::/16",
        ] {
            assert!(bad.parse::<Prefix6>().is_err(), "{bad:?} accepted");
        }
    }
}
