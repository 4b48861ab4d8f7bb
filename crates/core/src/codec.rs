//! Byte codec: a bounded, borrowed [`Reader`] and an appending [`Writer`].
//!
//! Every read is checked against what is left: a length read off the wire can never make the
//! reader run past its slice, and nothing here panics on any input.

use thiserror::Error;

/// Why bytes could not be decoded. Protocol crates wrap this in their own richer errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before a field: `needed` more bytes were wanted, `remaining` were left.
    #[error("truncated: needed {needed} bytes, {remaining} remaining")]
    Truncated {
        /// Bytes the field needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// Bytes were left over after a complete structure.
    #[error("{0}: trailing data")]
    TrailingData(&'static str),
    /// A field held a value its structure does not allow.
    #[error("{what}: invalid value {value}")]
    InvalidValue {
        /// The field.
        what: &'static str,
        /// The value seen.
        value: u64,
    },
}

/// A cursor over borrowed bytes (rustls `Reader`).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    offs: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, positioned at its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, offs: 0 }
    }

    /// Bytes consumed so far.
    pub fn used(&self) -> usize {
        self.offs
    }

    /// Bytes left.
    pub fn left(&self) -> usize {
        self.buf.len() - self.offs
    }

    /// Whether any byte is left.
    pub fn any_left(&self) -> bool {
        self.offs < self.buf.len()
    }

    /// The unread bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        &self.buf[self.offs..]
    }

    /// Consumes and returns every unread byte.
    pub fn rest(&mut self) -> &'a [u8] {
        let r = &self.buf[self.offs..];
        self.offs = self.buf.len();
        r
    }

    /// Consumes exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let remaining = self.left();
        if n > remaining {
            return Err(DecodeError::Truncated {
                needed: n,
                remaining,
            });
        }
        let r = &self.buf[self.offs..self.offs + n];
        self.offs += n;
        Ok(r)
    }

    /// Consumes `n` bytes and returns a reader bounded to them (for length-prefixed elements).
    pub fn sub(&mut self, n: usize) -> Result<Self, DecodeError> {
        self.take(n).map(Reader::new)
    }

    /// Consumes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian 24-bit value.
    pub fn u24(&mut self) -> Result<u32, DecodeError> {
        let b = self.array::<3>()?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    /// Reads a big-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian u64.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Fails with [`DecodeError::TrailingData`] if bytes are left.
    pub fn expect_empty(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.any_left() {
            Err(DecodeError::TrailingData(what))
        } else {
            Ok(())
        }
    }
}

/// Appends big-endian fields to a `Vec<u8>`.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// A writer appending to `buf`.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Self { buf }
    }

    /// Current length of the underlying buffer (an offset for later patching).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the underlying buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Appends a byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Appends a big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends a big-endian 24-bit value (the top byte of `v` is ignored).
    pub fn u24(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes()[1..]);
    }

    /// Appends a big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends a big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// Overwrites a big-endian u16 at `at` (a length field written before its contents were known).
    /// Does nothing if `at` is out of range.
    pub fn patch_u16(&mut self, at: usize, v: u16) {
        if let Some(dst) = self.buf.get_mut(at..at + 2) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// The underlying buffer.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        self.buf
    }
}

/// A wire structure that can be read from a [`Reader`] and appended to a buffer (rustls `Codec`).
pub trait Codec<'a>: Sized {
    /// The error `read` returns.
    type Error: From<DecodeError>;
    /// Appends the wire form of `self`.
    fn encode(&self, w: &mut Writer<'_>);
    /// Reads one value, consuming exactly its bytes.
    fn read(r: &mut Reader<'a>) -> Result<Self, Self::Error>;

    /// The wire form as a new vector.
    fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut Writer::new(&mut v));
        v
    }

    /// Reads a value that must fill `bytes` exactly.
    fn read_all(bytes: &'a [u8], what: &'static str) -> Result<Self, Self::Error> {
        let mut r = Reader::new(bytes);
        let v = Self::read(&mut r)?;
        r.expect_empty(what)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_are_bounded() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(
            r.u16(),
            Err(DecodeError::Truncated {
                needed: 2,
                remaining: 1
            })
        );
        assert_eq!(r.u8(), Ok(3));
        assert!(!r.any_left());
        assert!(r.take(usize::MAX).is_err());
    }

    #[test]
    fn sub_reader_is_bounded() {
        let mut r = Reader::new(&[0, 0, 0, 5, 9]);
        let mut s = r.sub(4).unwrap();
        assert_eq!(s.u32(), Ok(5));
        assert!(s.u8().is_err());
        assert_eq!(r.u8(), Ok(9));
    }

    proptest! {
        #[test]
        fn writer_reader_round_trip(a: u8, b: u16, c in 0u32..(1 << 24), d: u32, e: u64, tail: Vec<u8>) {
            let mut v = Vec::new();
            let mut w = Writer::new(&mut v);
            w.u8(a); w.u16(b); w.u24(c); w.u32(d); w.u64(e); w.bytes(&tail);
            let mut r = Reader::new(&v);
            prop_assert_eq!(r.u8()?, a);
            prop_assert_eq!(r.u16()?, b);
            prop_assert_eq!(r.u24()?, c);
            prop_assert_eq!(r.u32()?, d);
            prop_assert_eq!(r.u64()?, e);
            prop_assert_eq!(r.rest(), &tail[..]);
        }

        #[test]
        fn arbitrary_takes_never_panic(buf: Vec<u8>, ns in proptest::collection::vec(0usize..64, 0..16)) {
            let mut r = Reader::new(&buf);
            for n in ns { let _ = r.take(n); }
            prop_assert!(r.used() <= buf.len());
        }
    }
}
