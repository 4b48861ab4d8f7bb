//! 16-bit serial-number arithmetic for L2TP Ns/Nr.
//!
//! RFC 2661 §5.8: "sequence numbers ... wrap to 0 after 65535"; comparisons are modulo 2^16,
//! with a value "less than" another when it lies in the 32767 values before it (RFC 1982 style).
//! `Seq16` has no `Ord`: serial numbers have no total order.

/// A 16-bit sequence number (Ns or Nr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq16(pub u16);

impl Seq16 {
    /// The next number, wrapping 65535 to 0.
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0.wrapping_add(1))
    }

    /// `self + n`, wrapping.
    #[must_use]
    pub const fn add(self, n: u16) -> Self {
        Self(self.0.wrapping_add(n))
    }

    /// Signed distance from `other` to `self`: positive when `self` is after `other`.
    /// Exactly half-way (32768) counts as "after" and is never produced by a sane peer.
    pub const fn distance_from(self, other: Self) -> i32 {
        self.0.wrapping_sub(other.0) as i16 as i32
    }

    /// Whether `self` comes strictly before `other` modulo 2^16.
    pub const fn is_before(self, other: Self) -> bool {
        self.distance_from(other) < 0
    }

    /// Whether `self` comes strictly after `other` modulo 2^16.
    pub const fn is_after(self, other: Self) -> bool {
        self.distance_from(other) > 0
    }
}

impl From<u16> for Seq16 {
    fn from(v: u16) -> Self {
        Self(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps() {
        assert_eq!(Seq16(65535).next(), Seq16(0));
        assert!(Seq16(65535).is_before(Seq16(0)));
        assert!(Seq16(0).is_after(Seq16(65535)));
        assert!(Seq16(65530).is_before(Seq16(4)));
        assert_eq!(Seq16(3).distance_from(Seq16(65534)), 5);
    }

    proptest! {
        #[test]
        fn before_after_antisymmetric(a: u16, d in 1u16..32767) {
            let x = Seq16(a);
            let y = x.add(d);
            prop_assert!(x.is_before(y));
            prop_assert!(y.is_after(x));
            prop_assert!(!y.is_before(x));
            prop_assert_eq!(y.distance_from(x), i32::from(d));
        }
    }
}
