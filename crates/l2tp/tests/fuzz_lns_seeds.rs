//! Seeds for the stateful fuzz target `l2tp_lns`: a LAC's side of real exchanges, recorded in
//! the target's input format. The test checks each committed seed still drives the fuzz LNS to
//! an established session (so the corpus keeps reaching deep states) and runs the target over
//! every seed; `SRAS_WRITE_FUZZ_SEEDS=1` rewrites them after a protocol change.

mod common;

use std::path::PathBuf;

use sras_l2tp::fuzzing::{fuzz_lns, fuzz_lns_config, fuzz_record, FUZZ_SOURCES};
use sras_l2tp::{CallDirection, Config, Endpoint, Event};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/l2tp_lns")
}

/// Records what a LAC sends while it sets up a tunnel and `sessions` calls, closes one, and
/// closes the tunnel, against the fuzz LNS.
fn record(secret: bool, sessions: usize) -> Vec<u8> {
    let lac_addr = FUZZ_SOURCES[0].parse().unwrap();
    let lns_addr = "192.0.2.1:1701".parse().unwrap();
    #[allow(clippy::disallowed_methods)]
    let now = std::time::Instant::now();
    let lns_cfg = fuzz_lns_config(secret);
    let mut lac = Endpoint::new(Config {
        secret: lns_cfg.secret.clone(),
        challenge: secret,
        hide_avps: secret,
        accept_tunnels: false,
        rng_seed: [9; 32],
        ..Config::default()
    });
    let mut lns = Endpoint::new(lns_cfg);
    let mut input = vec![u8::from(secret)];
    let t = lac.connect(now, lns_addr).unwrap();
    let mut opened = Vec::new();
    for _ in 0..sessions {
        opened.push(lac.open_session(now, t, CallDirection::Incoming).unwrap());
    }
    let pump = |lac: &mut Endpoint, lns: &mut Endpoint, input: &mut Vec<u8>| {
        for _ in 0..10 {
            while let Some(x) = lac.poll_transmit() {
                fuzz_record(0, &x.payload, input);
                let _ = lns.handle_datagram(now, lac_addr, &x.payload);
            }
            while let Some(x) = lns.poll_transmit() {
                let _ = lac.handle_datagram(now, lns_addr, &x.payload);
            }
        }
    };
    pump(&mut lac, &mut lns, &mut input);
    let up = std::iter::from_fn(|| lns.poll_event())
        .filter(|e| matches!(e, Event::SessionEstablished { .. }))
        .count();
    assert_eq!(up, sessions, "recording reached {up} sessions");
    if let Some(s) = opened.first() {
        lac.close_session(now, *s, sras_l2tp::wire::ResultCode::new(3, None, None))
            .unwrap();
    }
    lac.close_tunnel(now, t, sras_l2tp::wire::ResultCode::new(1, None, None))
        .unwrap();
    pump(&mut lac, &mut lns, &mut input);
    input.push(0x80 | 0x7f);
    input
}

#[test]
fn seeds_replay_and_reach_established_sessions() {
    let seeds = [
        ("seed-plain-1", false, 1),
        ("seed-plain-3", false, 3),
        ("seed-secret-2", true, 2),
    ];
    std::fs::create_dir_all(corpus()).unwrap();
    for (name, secret, sessions) in seeds {
        let recorded = record(secret, sessions);
        let path = corpus().join(name);
        if std::env::var_os("SRAS_WRITE_FUZZ_SEEDS").is_some() || !path.exists() {
            std::fs::write(&path, &recorded).unwrap();
        }
        let committed = std::fs::read(&path).unwrap();
        assert_eq!(
            committed, recorded,
            "{name} is stale: rerun with SRAS_WRITE_FUZZ_SEEDS=1"
        );
    }
    for entry in std::fs::read_dir(corpus()).unwrap() {
        fuzz_lns(&std::fs::read(entry.unwrap().path()).unwrap());
    }
}

#[test]
fn random_inputs_never_panic() {
    use proptest::prelude::*;
    proptest!(ProptestConfig::with_cases(256), |(data: Vec<u8>)| { fuzz_lns(&data); });
    // Mutations of a real transcript reach deeper states than random bytes.
    let base = record(false, 2);
    proptest!(ProptestConfig::with_cases(512), |(flips in proptest::collection::vec((0usize..4096, any::<u8>()), 1..8))| {
        let mut d = base.clone();
        for (i, b) in flips {
            let n = d.len();
            d[i % n] ^= b;
        }
        fuzz_lns(&d);
    });
}
