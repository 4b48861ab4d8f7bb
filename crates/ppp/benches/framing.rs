//! PPP data-path cost: the header written in place before a 1400-byte IPv4 packet
//! (`encapsulate_ip`), and a 1400-byte IPv4 frame taken in the Network phase (`handle_frame`,
//! borrowed payload). Figures go in crates/ppp/README.md.
#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn benches`

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sras_ppp::{AuthMethod, Event, Link, LinkConfig, Received, Role, PPP_HEADER_LEN};
use zeroize::Zeroizing;

/// A server and a client link negotiated to the Network phase (MS-CHAPv2, IPCP up).
fn established(now: Instant) -> (Link, Link) {
    let mut server = Link::new(LinkConfig {
        role: Role::Server,
        auth_methods: vec![AuthMethod::MsChapV2],
        local_ipv4: Some(Ipv4Addr::new(198, 51, 100, 1)),
        rng_seed: [1; 32],
        ..LinkConfig::default()
    });
    let mut client = Link::new(LinkConfig {
        role: Role::Client,
        auth_methods: vec![AuthMethod::MsChapV2],
        user: "alice".into(),
        password: Zeroizing::new("wonderland".into()),
        rng_seed: [2; 32],
        ..LinkConfig::default()
    });
    server.open(now);
    client.open(now);
    let mut up = 0;
    for _ in 0..20 {
        while let Some(f) = server.poll_transmit() {
            let _ = client.handle_frame(now, &f);
        }
        while let Some(f) = client.poll_transmit() {
            let _ = server.handle_frame(now, &f);
        }
        while let Some(e) = server.poll_event() {
            match e {
                Event::AuthRequested(r) => {
                    let v =
                        r.accept_with_password("wonderland", Some(Ipv4Addr::new(198, 51, 100, 10)));
                    server.complete_auth(now, r.id, v);
                }
                Event::LinkUp(_) => up += 1,
                _ => {}
            }
        }
        while let Some(e) = client.poll_event() {
            if let Event::LinkUp(_) = e {
                up += 1;
            }
        }
    }
    assert_eq!(up, 2, "links not up");
    (server, client)
}

fn bench(c: &mut Criterion) {
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let (mut server, mut client) = established(now);
    // A 1400-byte IPv4 packet (header and payload; the link never looks inside).
    let mut packet = vec![0x5a; 1400];
    packet[0] = 0x45;
    let mut buf = vec![0u8; PPP_HEADER_LEN + packet.len()];
    buf[PPP_HEADER_LEN..].copy_from_slice(&packet);
    let range = PPP_HEADER_LEN..buf.len();

    let mut g = c.benchmark_group("ppp-framing");
    g.throughput(Throughput::Bytes(1400));
    g.bench_function("encapsulate_ip-1400", |b| {
        b.iter(|| {
            let r = client
                .encapsulate_ip(black_box(&mut buf), range.clone(), false)
                .unwrap();
            black_box(r);
        })
    });
    let r = client
        .encapsulate_ip(&mut buf, range.clone(), false)
        .unwrap();
    let frame = buf[r].to_vec();
    g.bench_function("handle_frame-ipv4-1400", |b| {
        b.iter(|| match server.handle_frame(now, black_box(&frame)) {
            Ok(Received::Ipv4(p)) => {
                black_box(p.len());
            }
            other => panic!("{other:?}"),
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
