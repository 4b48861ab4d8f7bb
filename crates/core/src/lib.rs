//! Shared vocabulary of the sras protocol crates.
//!
//! Deterministic and I/O-free: nothing here reads a clock, a socket or a global RNG.
//! It holds only what every protocol layer needs the same way:
//!
//! - [`codec`]: a borrowed [`Reader`] that never panics and never trusts a length, a
//!   [`Writer`], and the [`Codec`] trait (the rustls shape);
//! - [`wire_enum!`]: registries of wire values with an `Unknown(n)` catch-all (smoltcp's
//!   `enum_with_unknown!`);
//! - [`timer`]: a fixed table of named timers whose minimum is the next timeout (quinn);
//! - [`seq`]: 16-bit serial-number arithmetic for L2TP Ns/Nr (RFC 2661 §5.8, RFC 1982);
//! - [`Transmit`]: a datagram the caller must send;
//! - [`ratelimit`]: a token bucket for log lines about hostile input.
#![forbid(unsafe_code)]

pub mod codec;
pub mod ratelimit;
pub mod seq;
pub mod timer;
mod transmit;
mod wire_enum;

pub use codec::{Codec, DecodeError, Reader, Writer};
pub use ratelimit::RateLimiter;
pub use seq::Seq16;
pub use timer::{TimerKind, TimerTable};
pub use transmit::Transmit;
