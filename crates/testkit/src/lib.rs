//! Development-only test harness for the sras protocol crates.
//!
//! - [`VirtualClock`]: time that moves only when the test says so;
//! - [`Network`]: sans-IO [`Node`]s joined by a seeded link model (latency, jitter, loss,
//!   duplication, reordering), with deterministic loss injection ([`Network::drop_next`]),
//!   a rewrite/drop hook ([`Network::set_filter`]) and a capture of every delivery;
//! - [`pcap`]: a classic libpcap writer of IPv4/IPv6 + UDP (and ESP) packets;
//! - [`tshark()`]: decode a capture with Wireshark's dissectors and count malformed frames
//!   and expert errors, to prove our bytes are what an independent implementation expects.
//!
//! Everything here is deterministic for a given seed: no wall clock (one [`std::time::Instant`]
//! is taken as the time base), no global RNG, nodes visited in index order.
//!
//! ```
//! use std::time::Duration;
//! use sras_testkit::{LinkConfig, Network, Probe};
//!
//! let (a, b) = ("192.0.2.1:1701".parse().unwrap(), "192.0.2.2:1701".parse().unwrap());
//! let mut net = Network::new(1, LinkConfig::with_latency(Duration::from_millis(20)));
//! let pa = net.add(a, Probe::new());
//! let pb = net.add(b, Probe::new());
//! net.drop_next(a, b, 1); // the first datagram from a to b is lost
//! net.node_mut(pa).send(b, b"one".to_vec());
//! net.node_mut(pa).send(b, b"two".to_vec());
//! assert!(net.drive_until(Duration::from_secs(1), |n| !n.node(pb).received.is_empty()));
//! assert_eq!(net.node(pb).received[0].payload, b"two");
//! assert_eq!(net.elapsed(), Duration::from_millis(20));
//! ```
#![deny(unsafe_code)] // allowed only in `alloc` (a test allocator)

mod alloc;
mod clock;
mod net;
pub mod pcap;
mod tshark;

use std::path::PathBuf;

pub use alloc::{live_bytes, CountingAllocator};
pub use clock::VirtualClock;
pub use net::{
    AnyNode, Captured, Datagram, LinkConfig, NetStats, Network, Node, Probe, Received, Verdict,
};
pub use pcap::PcapWriter;
pub use tshark::{tshark, tshark_fields, TsharkReport};

/// A path for a scratch file (a pcap to hand to [`tshark()`]):
/// `$TMPDIR/sras-testkit/<pid>-<name>`. The directory is created; the file is not, and is
/// left behind for inspection.
///
/// # Panics
///
/// If the directory cannot be created.
pub fn scratch_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("sras-testkit");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir.join(format!("{}-{name}", std::process::id()))
}
