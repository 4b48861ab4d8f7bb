//! Memory one ISAKMP SA holds with its IPsec SAs, measured with a counting allocator (not
//! timed; the figures go in the crate README).

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sras_ike::crypto::DhGroup;
use sras_ike::{ChildRequest, Config, Endpoint, Profile};
use support::*;

#[global_allocator]
static A: sras_testkit::CountingAllocator = sras_testkit::CountingAllocator;

fn pump(now: Instant, server: &mut Endpoint, client: &mut Endpoint, s: SocketAddr) {
    loop {
        let mut moved = false;
        while let Some(t) = client.poll_transmit() {
            let _ = server.handle_datagram(
                now,
                SocketAddr::new(s.ip(), t.destination.port()),
                t.source.unwrap(),
                &t.payload,
            );
            moved = true;
        }
        while let Some(t) = server.poll_transmit() {
            let _ = client.handle_datagram(
                now,
                t.destination,
                SocketAddr::new(s.ip(), t.source.unwrap().port()),
                &t.payload,
            );
            moved = true;
        }
        while server.poll_event().is_some() {}
        while client.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
}

#[test]
fn memory_per_isakmp_sa_with_one_ipsec_sa() {
    #[allow(clippy::disallowed_methods)]
    let mut now = Instant::now();
    let cfg = Config {
        profile: Profile {
            groups: vec![DhGroup::Ecp256],
            ..Profile::compatible()
        },
        ..psk_config()
    };
    let cfg = Arc::new(cfg);
    let mut server = Endpoint::new(cfg.clone(), [1; 32]);
    let s = addr(SERVER, 500);
    // Warm up maps and caches.
    let mut warm = Endpoint::new(cfg.clone(), [3; 32]);
    warm.connect(now, addr("10.9.9.9", 500), s, ChildRequest::default());
    pump(now, &mut server, &mut warm, s);
    drop(warm);

    const N: usize = 300;
    let before = sras_testkit::live_bytes();
    let mut client = Endpoint::new(cfg.clone(), [2; 32]);
    for i in 0..N {
        let local = SocketAddr::new(
            format!("10.0.{}.{}", i / 250, i % 250 + 1).parse().unwrap(),
            500,
        );
        client.connect(now, local, s, ChildRequest::default());
        pump(now, &mut server, &mut client, s);
    }
    assert_eq!(client.children().len(), N);
    assert_eq!(server.children().len(), N + 1);
    // Finished exchanges linger to answer duplicates; measure the steady state after that.
    now += Duration::from_secs(60);
    server.handle_timeout(now);
    client.handle_timeout(now);
    pump(now, &mut server, &mut client, s);
    let with_client = sras_testkit::live_bytes() - before;
    drop(client);
    let server_only = sras_testkit::live_bytes() - before;
    let per_sa = server_only as f64 / N as f64;
    let client_per_sa = (with_client - server_only) as f64 / N as f64;
    println!("responder: {per_sa:.0} B per ISAKMP SA with one IPsec SA pair (initiator: {client_per_sa:.0} B)");
    // A loose bound: an order of magnitude above the goal would mean something is kept that
    // should not be (a whole message 1, DH values).
    assert!(per_sa < 16_384.0, "{per_sa}");
}
