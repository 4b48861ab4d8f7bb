//! The stateful fuzz target (`fuzz/fuzz_targets/l2tp_lns.rs`, rustls `fuzzers/server.rs`):
//! arbitrary datagram sequences, from several sources and with time passing, fed to an LNS.
//! Compiled only for tests and with the `__fuzzing` feature.
//!
//! Input format, a sequence of records:
//! - `0x80 | n`: let `n` × 250 ms pass (`handle_timeout`);
//! - `op` (bit 7 clear), `len` (u16, big-endian), `len` bytes: a datagram from source `op & 3`.
//!
//! Invariants checked after every step: no panic, the tunnel count within the configured
//! limit, and every transmit addressed to a source that sent us something.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::{Config, Endpoint};

/// The four peers a fuzz input can speak as.
pub const FUZZ_SOURCES: [&str; 4] = [
    "192.0.2.10:1701",
    "192.0.2.11:1701",
    "192.0.2.10:40000",
    "[2001:db8::1]:1701",
];

/// The LNS configuration the stateful target runs (and seeds are recorded against).
pub fn fuzz_lns_config(secret: bool) -> Config {
    Config {
        host_name: "fuzz-lns".into(),
        secret: secret.then(|| crate::wire::FUZZ_SECRET.to_vec()),
        challenge: secret,
        hide_avps: secret,
        max_tunnels: 16,
        max_half_open: 8,
        max_half_open_per_source: 4,
        max_sessions_per_tunnel: 64,
        rng_seed: [7; 32],
        ..Config::default()
    }
}

/// Runs one input. The first byte's low bit picks the configuration with a tunnel secret.
pub fn fuzz_lns(data: &[u8]) {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let config = fuzz_lns_config(first & 1 == 1);
    let max_tunnels = config.max_tunnels;
    let mut ep = Endpoint::new(config);
    let sources: Vec<SocketAddr> = FUZZ_SOURCES
        .iter()
        .map(|s| s.parse().unwrap_or_else(|_| unreachable!()))
        .collect();
    #[allow(clippy::disallowed_methods)] // the fuzz harness is the caller; it owns the clock
    let mut now = Instant::now();
    while let Some((&op, tail)) = rest.split_first() {
        if op & 0x80 != 0 {
            now += Duration::from_millis(250) * u32::from(op & 0x7f);
            ep.handle_timeout(now);
            rest = tail;
        } else {
            let Some(len) = tail
                .get(..2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            else {
                break;
            };
            let Some(datagram) = tail.get(2..2 + len) else {
                break;
            };
            let _ = ep.handle_datagram(now, sources[usize::from(op & 3)], datagram);
            rest = &tail[2 + len..];
        }
        while let Some(t) = ep.poll_transmit() {
            assert!(
                sources.contains(&t.destination),
                "transmit to {} nobody sent from",
                t.destination
            );
            assert!(t.payload.len() >= crate::wire::CONTROL_HEADER_LEN);
        }
        while ep.poll_event().is_some() {}
        assert!(ep.tunnel_count() <= max_tunnels);
        if let Some(at) = ep.poll_timeout() {
            // Deadlines never lie in the past by more than one step.
            assert!(at + Duration::from_secs(32) >= now);
        }
    }
}

/// Encodes a datagram record of the input format.
pub fn fuzz_record(source: u8, datagram: &[u8], out: &mut Vec<u8>) {
    out.push(source & 3);
    out.extend_from_slice(&(datagram.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    out.extend_from_slice(&datagram[..datagram.len().min(usize::from(u16::MAX))]);
}
