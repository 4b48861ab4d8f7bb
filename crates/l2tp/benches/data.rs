//! Data-message cost: encapsulation in place and decapsulation (borrowed payload) of 1400-byte
//! PPP frames on an established session. Figures go in crates/l2tp/README.md.
#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn benches`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sras_l2tp::{CallDirection, Config, Endpoint, Event, Received, SessionHandle, DATA_HEADER_MAX};

/// Runs the control exchange between a LAC and an LNS until one session is up on both.
fn established(config: Config) -> (Endpoint, Endpoint, SessionHandle, SessionHandle) {
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let (a_addr, b_addr): (SocketAddr, SocketAddr) = (
        "10.0.0.1:1701".parse().unwrap(),
        "10.0.0.2:1701".parse().unwrap(),
    );
    let mut a = Endpoint::new(Config {
        rng_seed: [1; 32],
        ..config.clone()
    });
    let mut b = Endpoint::new(Config {
        rng_seed: [2; 32],
        ..config
    });
    let t = a.connect(now, b_addr).unwrap();
    a.open_session(now, t, CallDirection::Incoming).unwrap();
    let (mut sa, mut sb) = (None, None);
    for _ in 0..20 {
        while let Some(x) = a.poll_transmit() {
            let _ = b.handle_datagram(now, a_addr, &x.payload);
        }
        while let Some(x) = b.poll_transmit() {
            let _ = a.handle_datagram(now, b_addr, &x.payload);
        }
        while let Some(e) = a.poll_event() {
            if let Event::SessionEstablished { session, .. } = e {
                sa = Some(session);
            }
        }
        while let Some(e) = b.poll_event() {
            if let Event::SessionEstablished { session, .. } = e {
                sb = Some(session);
            }
        }
    }
    (a, b, sa.unwrap(), sb.unwrap())
}

fn bench(c: &mut Criterion) {
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let lac_addr: SocketAddr = "10.0.0.1:1701".parse().unwrap();
    for (name, seq) in [("plain", false), ("sequenced", true)] {
        let (mut lac, mut lns, s, _) = established(Config {
            data_sequencing: seq,
            ..Config::default()
        });
        let payload = vec![0x5a; 1400];
        let mut buf = vec![0u8; DATA_HEADER_MAX + payload.len()];
        buf[DATA_HEADER_MAX..].copy_from_slice(&payload);
        let range = DATA_HEADER_MAX..buf.len();
        let mut g = c.benchmark_group(format!("l2tp-data-{name}"));
        g.throughput(Throughput::Bytes(1400));
        g.bench_function("encapsulate-1400", |b| {
            b.iter(|| {
                let r = lac
                    .encapsulate(s, black_box(&mut buf), range.clone())
                    .unwrap();
                black_box(r);
            })
        });
        let r = lac.encapsulate(s, &mut buf, range.clone()).unwrap().range;
        let datagram = buf[r].to_vec();
        g.bench_function("decapsulate-1400", |b| {
            b.iter(
                || match lns.handle_datagram(now, lac_addr, black_box(&datagram)) {
                    Ok(Received::Data { payload, .. }) => {
                        black_box(payload.len());
                    }
                    other => panic!("{other:?}"),
                },
            )
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
