//! Complete Main Mode + Quick Mode exchanges in memory (PSK, transport mode, L2TP selectors):
//! both endpoints' full work per exchange (DH on both sides, keys, 9 messages encrypted and
//! decrypted), with ECP-256 and MODP-2048. Per-second figures go in crates/ike/README.md.

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn benches`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sras_ike::crypto::{CipherAlgorithm, DhGroup, HashAlgorithm};
use sras_ike::{ChildRequest, Config, Endpoint, Event, PeerSelector, Profile, PskEntry};
use zeroize::Zeroizing;

fn config(group: DhGroup) -> Config {
    let base = Profile::compatible();
    let profile = Profile {
        ciphers: vec![CipherAlgorithm::AesCbc128],
        hashes: vec![HashAlgorithm::Sha256],
        groups: vec![group],
        ..base
    };
    Config {
        profile,
        psk: vec![PskEntry {
            peer: PeerSelector::Any,
            secret: Zeroizing::new(b"bench-psk".to_vec()),
        }],
        ..Config::default()
    }
}

/// Runs one exchange between fresh endpoints; returns once both hold the IPsec SA pair.
fn exchange(server: &mut Endpoint, client: &mut Endpoint, now: Instant) {
    let (s, c): (SocketAddr, SocketAddr) = (
        "192.0.2.1:500".parse().unwrap(),
        "192.0.2.3:500".parse().unwrap(),
    );
    client.connect(now, c, s, ChildRequest::default());
    let (mut s_up, mut c_up) = (false, false);
    for _ in 0..20 {
        while let Some(t) = client.poll_transmit() {
            let _ = server.handle_datagram(now, t.source.unwrap_or(s), c, &t.payload);
        }
        while let Some(t) = server.poll_transmit() {
            let _ = client.handle_datagram(now, t.source.unwrap_or(c), s, &t.payload);
        }
        while let Some(e) = server.poll_event() {
            s_up |= matches!(e, Event::Phase2Up(_));
        }
        while let Some(e) = client.poll_event() {
            c_up |= matches!(e, Event::Phase2Up(_));
        }
        if s_up && c_up {
            return;
        }
    }
    panic!("exchange did not complete");
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("main_mode_quick_mode");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    for (name, group) in [("ecp256", DhGroup::Ecp256), ("modp2048", DhGroup::Modp2048)] {
        let cfg = Arc::new(config(group));
        let mut seed = 0u8;
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    seed = seed.wrapping_add(1);
                    (
                        Endpoint::new(cfg.clone(), [seed; 32]),
                        Endpoint::new(cfg.clone(), [seed ^ 0x55; 32]),
                    )
                },
                |(mut server, mut client)| {
                    #[allow(clippy::disallowed_methods)]
                    let now = Instant::now();
                    exchange(&mut server, &mut client, now);
                    (server, client)
                },
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
