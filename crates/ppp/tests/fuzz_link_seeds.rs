//! Seeds for the stateful fuzz target `ppp_link`: a real client's side of a login for every
//! method, recorded in the target's input format. Each committed seed must still bring the
//! fuzz server to LinkUp (so the corpus reaches deep states); `SRAS_WRITE_FUZZ_SEEDS=1`
//! rewrites them after a protocol change. Random and mutated inputs run the target too.

use std::path::PathBuf;
use std::time::Instant;

use sras_ppp::fuzzing::{
    fuzz_link, fuzz_link_at, fuzz_method, fuzz_record, fuzz_server_config, FUZZ_PASSWORD,
};
use sras_ppp::{Event, Link, LinkConfig, Role, Verdict};
use zeroize::Zeroizing;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/ppp_link")
}

#[allow(clippy::disallowed_methods)]
fn t0() -> Instant {
    Instant::now()
}

/// What the client sends while logging in to the fuzz server with method `selector`.
fn record(selector: u8) -> Vec<u8> {
    let now = t0();
    let mut server = Link::new(fuzz_server_config(selector));
    let mut client = Link::new(LinkConfig {
        role: Role::Client,
        auth_methods: vec![fuzz_method(selector)],
        user: "alice".into(),
        password: Zeroizing::new(FUZZ_PASSWORD.into()),
        ipv6: selector & 0x10 != 0,
        rng_seed: [4; 32],
        ..LinkConfig::default()
    });
    let mut input = vec![selector];
    server.open(now);
    client.open(now);
    let mut up = false;
    for _ in 0..50 {
        while let Some(f) = server.poll_transmit() {
            let _ = client.handle_frame(now, &f);
        }
        while let Some(f) = client.poll_transmit() {
            fuzz_record(&f, &mut input);
            let _ = server.handle_frame(now, &f);
            while let Some(e) = server.poll_event() {
                match e {
                    Event::AuthRequested(r) => {
                        let v = r.accept_with_password(
                            FUZZ_PASSWORD,
                            Some("198.51.100.10".parse().unwrap()),
                        );
                        assert!(matches!(v, Verdict::Accept(_)));
                        server.complete_auth(now, r.id, v);
                    }
                    Event::LinkUp(_) => up = true,
                    _ => {}
                }
            }
        }
        while client.poll_event().is_some() {}
    }
    assert!(up, "recording for selector {selector} did not reach LinkUp");
    input.push(0x80 | 0x7f);
    input
}

#[test]
fn seeds_replay_to_link_up() {
    std::fs::create_dir_all(corpus()).unwrap();
    for selector in [0u8, 1, 2, 3, 4, 0x10, 0x21] {
        let recorded = record(selector);
        let path = corpus().join(format!("seed-login-{selector:02x}"));
        if std::env::var_os("SRAS_WRITE_FUZZ_SEEDS").is_some() || !path.exists() {
            std::fs::write(&path, &recorded).unwrap();
        }
        let committed = std::fs::read(&path).unwrap();
        assert_eq!(
            committed, recorded,
            "{path:?} is stale: rerun with SRAS_WRITE_FUZZ_SEEDS=1"
        );
        let events = fuzz_link_at(t0(), &committed);
        assert!(
            events.iter().any(|e| matches!(e, Event::LinkUp(_))),
            "selector {selector}: {events:?}"
        );
    }
}

#[test]
fn random_and_mutated_inputs_never_panic() {
    use proptest::prelude::*;
    proptest!(ProptestConfig::with_cases(256), |(data: Vec<u8>)| { fuzz_link(&data); });
    let bases: Vec<Vec<u8>> = (0u8..5).map(record).collect();
    proptest!(ProptestConfig::with_cases(1024), |(which in 0usize..5, flips in proptest::collection::vec((0usize..4096, any::<u8>()), 1..6))| {
        let mut d = bases[which].clone();
        for (i, b) in flips {
            let n = d.len();
            d[i % n] ^= b;
        }
        fuzz_link(&d);
    });
}
