//! Diffie-Hellman cost per exchange side: `generate` (draw the private value, compute the
//! public value), `agree` (validate the peer value, compute `g^xy`) and both together, for
//! the groups a Main Mode (+ PFS Quick Mode) uses: ECP-256/384 (aws-lc-rs) and MODP
//! 1024/2048/3072 (crypto-bigint, constant-time Montgomery exponentiation).
//!
//! `cargo bench -p sras-ike --bench dh -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn benches`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::SeedableRng;
use sras_ike::crypto::DhGroup;

const GROUPS: [DhGroup; 5] = [
    DhGroup::Ecp256,
    DhGroup::Ecp384,
    DhGroup::Modp1024,
    DhGroup::Modp2048,
    DhGroup::Modp3072,
];

fn bench_dh(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for group in GROUPS {
        let name = format!("{group:?}");
        // Warm the per-group precomputation (MODP Montgomery parameters) outside the timing.
        let peer = group.generate(&mut rng).unwrap();
        let mine = group.generate(&mut rng).unwrap();
        let peer_public = peer.public_value().to_vec();

        let mut g = c.benchmark_group(format!("dh/{name}"));
        g.bench_function("generate", |b| {
            b.iter(|| black_box(group.generate(&mut rng).unwrap()))
        });
        g.bench_function("agree", |b| {
            b.iter(|| black_box(mine.agree(black_box(&peer_public)).unwrap()))
        });
        g.bench_function("generate+agree", |b| {
            b.iter(|| {
                let k = group.generate(&mut rng).unwrap();
                black_box(k.agree(black_box(&peer_public)).unwrap())
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench_dh);
criterion_main!(benches);
