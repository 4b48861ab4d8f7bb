//! The IPsec data plane (RFC 4301, RFC 4303, RFC 4302, RFC 3948) as a deterministic,
//! I/O-free library: ESP and AH transforms that work in place on the caller's buffer,
//! anti-replay with extended sequence numbers, SA lifetimes, the SAD and the SPD with the
//! filter operations L2TP/IPsec needs (RFC 3193 §3.3, §4), and UDP encapsulation for NAT
//! traversal. No key exchange here: sras-ike produces the keys.
//!
//! The contract, as in the other sras protocol crates: nothing here reads a clock, a socket
//! or a global RNG; the caller passes `now`. The data path is the boringtun shape
//! (STYLE.md 2.1 rule 2), a synchronous transform on the caller's buffer:
//!
//! ```text
//!   seal:  [ headroom | payload | tailroom ]  ->  [ SPI Seq IV | ciphertext pad PL NH | ICV ]
//!   open:  [ SPI Seq IV | ciphertext ... | ICV ]  ->  payload range + Next Header (in place)
//! ```
//!
//! [`OutboundSa::seal`] and [`InboundSa::open`] allocate nothing and copy nothing: keys are
//! scheduled once in `new()`, the header and trailer are written around the payload where it
//! lies, and the cipher works in place. Inbound, the anti-replay window is checked before the
//! ICV and moved only after the packet proved authentic and well-formed (RFC 4303 §3.4.3).
//!
//! | module | RFC | what |
//! | --- | --- | --- |
//! | [`suite`] | 4303 §3.2, 2410, 3602, 2451, 4106, 2403, 2404, 4868 | [`Encryption`], [`Integrity`], [`Mode`], [`Spi`] |
//! | [`sa`] | 4303 §3 | [`OutboundSa`], [`InboundSa`], lifetimes, counters |
//! | [`replay`] | 4303 §3.4.3, App. A | [`ReplayWindow`] with ESN inference |
//! | [`esp`] | 4303 §2 | header `Packet`/`Repr`, trailer, [`peek_spi`] |
//! | [`ah`] | 4302 | [`AhOutboundSa`], [`AhInboundSa`] (transport mode, IPv4) |
//! | [`sad`] | 4301 §4.4.2 | [`sad::Sad`]: inbound SAs by SPI (and destination), outbound by [`sad::SaRef`] |
//! | [`spd`] | 4301 §4.4.1; seed 001 §3.3, §4 | [`spd::Spd`]: filter rules, L2TP tunnel filter sets that float, the per-packet check |
//! | [`udp_encap`] | 3948 | UDP/4500 [`udp_encap::classify`] (keepalive, IKE, ESP), non-ESP marker, NAT-OA checksum fix-up |
//! | [`raw`] | 4303 §2, 791 | [`raw::strip_ipv4`]: the IPv4 header a raw protocol-50 socket delivers |
#![forbid(unsafe_code)]

pub mod ah;
mod crypto;
mod error;
pub mod esp;
pub mod raw;
pub mod replay;
pub mod sa;
pub mod sad;
pub mod spd;
pub mod suite;
pub mod udp_encap;

#[cfg(any(test, feature = "__fuzzing"))]
mod fuzz_support;

pub use ah::{AhInboundSa, AhOutboundSa};
pub use error::{Counter, Error, ReplayError};
pub use esp::peek_spi;
pub use replay::ReplayWindow;
pub use sa::{InboundSa, Lifetime, LifetimeEvent, Opened, OutboundSa, Overhead, SaParams, SaStats};
pub use suite::{Encryption, Integrity, Mode, Spi};

/// Internals for the fuzz targets (`fuzz/fuzz_targets/esp_open.rs`) and the tests that run
/// their checks over the seed corpus (quinn's `#[cfg(fuzzing)] pub mod fuzzing`).
#[cfg(any(test, feature = "__fuzzing"))]
pub mod fuzzing {
    pub use crate::fuzz_support::*;
}
