//! Memory held per tunnel and per session, measured with a counting allocator (not timed).
//! The goal (issue: 100,000 sessions must fit) is under 1 KiB of state per session.

mod common;

use common::*;
use sras_l2tp::{CallDirection, Endpoint};

#[global_allocator]
static A: sras_testkit::CountingAllocator = sras_testkit::CountingAllocator;

fn live() -> isize {
    sras_testkit::live_bytes()
}

/// Pumps datagrams between the two endpoints until neither sends.
fn pump(now: std::time::Instant, lac: &mut Endpoint, lns: &mut Endpoint) {
    loop {
        let mut moved = false;
        while let Some(t) = lac.poll_transmit() {
            let _ = lns.handle_datagram(now, addr(LAC), &t.payload);
            moved = true;
        }
        while let Some(t) = lns.poll_transmit() {
            let _ = lac.handle_datagram(now, addr(LNS), &t.payload);
            moved = true;
        }
        while lac.poll_event().is_some() {}
        while lns.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
}

#[test]
fn memory_per_tunnel_and_session() {
    #[allow(clippy::disallowed_methods)]
    let now = std::time::Instant::now();
    let mut lac = Endpoint::new(lac_config(1));
    let mut lns = Endpoint::new(lns_config(2));
    let before = live();
    let t = lac.connect(now, addr(LNS)).unwrap();
    pump(now, &mut lac, &mut lns);
    let per_tunnel = live() - before;

    const N: usize = 20_000;
    let before = live();
    for i in 0..N {
        lac.open_session(now, t, CallDirection::Incoming).unwrap();
        if i % 4 == 3 {
            pump(now, &mut lac, &mut lns);
        }
    }
    pump(now, &mut lac, &mut lns);
    assert_eq!(lns.session_count(), N);
    assert_eq!(lac.session_count(), N);
    let per_session_both = (live() - before) as f64 / N as f64;
    // Both endpoints hold one session each: half is one endpoint's state.
    let per_session = per_session_both / 2.0;
    println!("MEMORY l2tp: tunnel (both ends, established) {per_tunnel} B; session {per_session:.0} B per endpoint");
    assert!(
        per_session < 1024.0,
        "per-session state {per_session:.0} B exceeds the 1 KiB goal"
    );
}
