use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const A: &str = "10.0.0.1:1701";
const B: &str = "10.0.0.2:1701";

/// Sends `count` numbered pings, one per `interval`, and records the numbers of the pongs.
struct Pinger {
    peer: SocketAddr,
    count: u32,
    sent: u32,
    interval: Duration,
    next: Option<Instant>,
    pongs: Vec<u32>,
    outbox: VecDeque<Transmit>,
}

impl Pinger {
    fn new(peer: SocketAddr, count: u32, interval: Duration, start: Instant) -> Self {
        Self {
            peer,
            count,
            sent: 0,
            interval,
            next: Some(start),
            pongs: Vec::new(),
            outbox: VecDeque::new(),
        }
    }
}

/// Answers every datagram with the same bytes, from the address it was sent to.
#[derive(Default)]
struct Echo {
    seen: Vec<u32>,
    outbox: VecDeque<Transmit>,
}

fn num(data: &[u8]) -> u32 {
    u32::from_be_bytes(data[..4].try_into().unwrap())
}

/// One type for both roles (a `Network<N>` holds one node type).
enum Peer {
    Pinger(Pinger),
    Echo(Echo),
}

impl Peer {
    fn pinger(&self) -> &Pinger {
        match self {
            Self::Pinger(p) => p,
            Self::Echo(_) => panic!("not a pinger"),
        }
    }
    fn echo(&self) -> &Echo {
        match self {
            Self::Echo(e) => e,
            Self::Pinger(_) => panic!("not an echo"),
        }
    }
}

impl Node for Pinger {
    fn handle_datagram(&mut self, _now: Instant, _from: SocketAddr, _to: SocketAddr, data: &[u8]) {
        self.pongs.push(num(data));
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.outbox.push_back(Transmit {
            destination: self.peer,
            source: None,
            payload: self.sent.to_be_bytes().to_vec(),
        });
        self.sent += 1;
        self.next = (self.sent < self.count).then(|| now + self.interval);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}

impl Node for Echo {
    fn handle_datagram(&mut self, _now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        self.seen.push(num(data));
        self.outbox.push_back(Transmit {
            destination: from,
            source: Some(to),
            payload: data.to_vec(),
        });
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

impl Node for Peer {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        match self {
            Self::Pinger(p) => p.handle_datagram(now, from, to, data),
            Self::Echo(e) => e.handle_datagram(now, from, to, data),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Self::Pinger(p) => p.handle_timeout(now),
            Self::Echo(e) => e.handle_timeout(now),
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            Self::Pinger(p) => p.poll_transmit(),
            Self::Echo(e) => e.poll_transmit(),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Self::Pinger(p) => p.poll_timeout(),
            Self::Echo(e) => e.poll_timeout(),
        }
    }
}

/// A pinger (node 0, `A`) and an echo (node 1, `B`).
fn ping_pong(seed: u64, link: LinkConfig, count: u32, interval: Duration) -> Network<Peer> {
    let mut net = Network::new(seed, link);
    let start = net.now();
    net.add(
        addr(A),
        Peer::Pinger(Pinger::new(addr(B), count, interval, start)),
    );
    net.add(addr(B), Peer::Echo(Echo::default()));
    net
}

#[test]
fn round_trip_takes_two_latencies_and_time_jumps_to_timeouts() {
    let ms = Duration::from_millis;
    let mut net = ping_pong(
        1,
        LinkConfig::with_latency(ms(25)),
        3,
        Duration::from_secs(1),
    );
    // Step 1: the pinger's timeout (due at start) fires and the ping leaves; time jumps to its arrival.
    assert!(net.step());
    assert_eq!(net.elapsed(), ms(25));
    assert!(net.step());
    assert_eq!(net.elapsed(), ms(50));
    assert!(net.step());
    // Nothing in flight: straight to the next timeout.
    assert_eq!(net.elapsed(), ms(1000));
    while net.step() {}
    assert_eq!(net.elapsed(), ms(2050));
    assert_eq!(net.node(0).pinger().pongs, [0, 1, 2]);
    let times: Vec<_> = net.capture().iter().map(|c| c.time).collect();
    assert_eq!(
        times,
        [ms(25), ms(50), ms(1025), ms(1050), ms(2025), ms(2050)]
    );
    assert_eq!(net.capture()[0].src, addr(A));
    assert_eq!(net.capture()[1].src, addr(B));
    assert_eq!(net.next_event(), None);
    assert_eq!(
        net.stats(),
        NetStats {
            sent: 6,
            delivered: 6,
            ..NetStats::default()
        }
    );
}

#[test]
fn run_until_stops_at_the_deadline() {
    let ms = Duration::from_millis;
    let mut net = ping_pong(
        1,
        LinkConfig::with_latency(ms(25)),
        3,
        Duration::from_secs(1),
    );
    let next = net.run_for(ms(1010));
    assert_eq!(net.elapsed(), ms(1010));
    assert_eq!(next, Some(net.start() + ms(1025)));
    assert_eq!(net.in_flight(), 1);
    assert_eq!(net.run_for(Duration::from_secs(10)), None);
    assert_eq!(net.elapsed(), ms(11_010));
}

#[test]
fn drive_until_respects_the_limit() {
    let ms = Duration::from_millis;
    let mut net = ping_pong(
        1,
        LinkConfig::with_latency(ms(25)),
        5,
        Duration::from_secs(1),
    );
    assert!(
        net.drive_until(Duration::from_secs(10), |n| n.node(0).pinger().pongs.len()
            == 2)
    );
    assert_eq!(net.elapsed(), ms(1050));
    assert!(!net.drive_until(ms(500), |n| n.node(0).pinger().pongs.len() == 3));
    assert!(net.elapsed() <= ms(1550));
    // Idle network: false without waiting for the limit.
    assert!(
        net.drive_until(Duration::from_secs(60), |n| n.node(0).pinger().pongs.len()
            == 5)
    );
    assert!(!net.drive_until(Duration::from_secs(60), |_| false));
    assert_eq!(net.elapsed(), ms(4050));
}

/// Loss, duplication and reordering rates match the configuration within a few standard
/// deviations over 20 000 pings (fixed seed, so the result is the same on every run).
#[test]
fn link_statistics_match_configuration() {
    const N: u32 = 20_000;
    let ms = Duration::from_millis;
    let lossy = LinkConfig::with_latency(ms(20))
        .loss(0.1)
        .duplicate(0.05)
        .reorder(0.1);
    let mut net = ping_pong(7, LinkConfig::with_latency(ms(20)), N, ms(1));
    net.set_link_between(addr(A), addr(B), lossy);
    net.set_capture(false);
    net.run_for(Duration::from_secs(60));
    assert!(net.capture().is_empty());

    let s = net.stats();
    let sent = f64::from(N);
    let near = |got: u64, p: f64, n: f64, what: &str| {
        let expect = p * n;
        let sd = (n * p * (1.0 - p)).sqrt();
        assert!(
            (got as f64 - expect).abs() < 5.0 * sd,
            "{what}: got {got}, expected {expect:.0} ± {:.0}",
            5.0 * sd
        );
    };
    near(s.lost, 0.1, sent, "lost");
    let survived = sent - s.lost as f64;
    near(s.duplicated, 0.05, survived, "duplicated");
    let copies = survived + s.duplicated as f64;
    near(s.reordered, 0.1, copies, "reordered");

    let echo = net.node(1).echo();
    assert_eq!(echo.seen.len() as u64, N as u64 - s.lost + s.duplicated);
    // The way back is perfect: every arrival was echoed back once, in order.
    assert_eq!(net.node(0).pinger().pongs, echo.seen);
    // Arrivals out of order actually happen (up to 40 ms extra delay, 1 ms spacing).
    let mut max = 0;
    let late = echo
        .seen
        .iter()
        .filter(|&&n| {
            let late = n < max;
            max = max.max(n);
            late
        })
        .count();
    assert!(late > (N / 50) as usize, "only {late} late arrivals");
    assert_eq!(s.delivered, 2 * echo.seen.len() as u64);
    assert_eq!(s.sent, N as u64 + echo.seen.len() as u64);
}

#[test]
fn jitter_alone_keeps_order() {
    let ms = Duration::from_millis;
    let mut net = ping_pong(
        3,
        LinkConfig::with_latency(ms(10)).jitter(ms(50)),
        2000,
        ms(1),
    );
    net.run_for(Duration::from_secs(10));
    let seen = &net.node(1).echo().seen;
    assert_eq!(seen.len(), 2000);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    let times: Vec<_> = net.capture().iter().map(|c| c.time).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn same_seed_same_capture() {
    let ms = Duration::from_millis;
    let link = LinkConfig::with_latency(ms(5))
        .jitter(ms(3))
        .loss(0.2)
        .duplicate(0.1)
        .reorder(0.2);
    let run = |seed| {
        let mut net = ping_pong(seed, link, 500, ms(2));
        net.run_for(Duration::from_secs(5));
        (net.take_capture(), net.stats())
    };
    let (a, sa) = run(42);
    let (b, sb) = run(42);
    assert_eq!(sa, sb);
    assert_eq!(a, b);
    let (c, _) = run(43);
    assert_ne!(a, c);
}

#[test]
fn drop_next_drops_exactly_n() {
    let ms = Duration::from_millis;
    let mut net = ping_pong(1, LinkConfig::with_latency(ms(1)), 6, ms(10));
    net.drop_next(addr(A), addr(B), 2);
    net.drop_next(addr(B), addr(A), 1);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.node(1).echo().seen, [2, 3, 4, 5]);
    assert_eq!(net.node(0).pinger().pongs, [3, 4, 5]);
    assert_eq!(net.stats().dropped, 3);
}

#[test]
fn unroutable_datagrams_are_counted() {
    let mut net = ping_pong(1, LinkConfig::default(), 1, Duration::from_secs(1));
    net.inject(addr(A), addr("10.9.9.9:1701"), vec![0, 0, 0, 9]);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.stats().unroutable, 1);
    assert_eq!(net.capture().len(), 2);
}

#[test]
fn filter_rewrites_and_drops() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&seen);
    let mut net = ping_pong(1, LinkConfig::default(), 4, Duration::from_millis(100));
    net.set_filter(move |d| {
        log.borrow_mut().push((d.src, d.dst));
        if d.dst == addr(B) {
            let n = num(&d.payload);
            if n == 1 {
                return Verdict::Drop;
            }
            d.payload = (n + 100).to_be_bytes().to_vec();
        }
        Verdict::Pass
    });
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.node(1).echo().seen, [100, 102, 103]);
    assert_eq!(net.stats().filtered, 1);
    assert_eq!(seen.borrow().len(), 7);
    net.clear_filter();
}

#[test]
fn multi_address_node_and_explicit_source() {
    let mut net: Network<Peer> = Network::new(1, LinkConfig::default());
    let start = net.now();
    let b2 = addr("10.0.0.2:4500");
    net.add(
        addr(A),
        Peer::Pinger(Pinger::new(b2, 1, Duration::from_secs(1), start)),
    );
    let e = net.add(addr(B), Peer::Echo(Echo::default()));
    net.add_address(e, b2);
    assert_eq!(net.addresses(e), [addr(B), b2]);
    assert_eq!(net.find(b2), Some(e));
    net.run_for(Duration::from_secs(1));
    let c = net.capture();
    assert_eq!((c[0].src, c[0].dst), (addr(A), b2));
    // The echo answered from the address it was reached on.
    assert_eq!((c[1].src, c[1].dst), (b2, addr(A)));
    assert_eq!(net.remove_address(b2), Some(e));
    assert_eq!(net.find(b2), None);
}

#[test]
fn per_node_link_override() {
    let ms = Duration::from_millis;
    let mut net = ping_pong(1, LinkConfig::with_latency(ms(10)), 1, ms(1));
    net.set_link_between_nodes(1, 0, LinkConfig::with_latency(ms(100)));
    net.run_for(Duration::from_secs(1));
    let times: Vec<_> = net.capture().iter().map(|c| c.time).collect();
    assert_eq!(times, [ms(10), ms(110)]);
}

#[test]
fn probe_and_dyn_nodes() {
    let ms = Duration::from_millis;
    let mut net: Network<Box<dyn AnyNode>> = Network::new(1, LinkConfig::with_latency(ms(1)));
    let p = net.add(addr(A), Box::new(Probe::new()));
    let e = net.add(addr(B), Box::new(Echo::default()));
    net.get_mut::<Probe>(p).send(addr(B), 7u32.to_be_bytes());
    net.get_mut::<Probe>(p)
        .send_from(addr("10.0.0.1:9"), addr(B), 8u32.to_be_bytes());
    assert!(
        net.drive_until(Duration::from_secs(1), |n| n.get::<Probe>(p).received.len()
            == 1)
    );
    assert_eq!(net.get::<Echo>(e).seen, [7, 8]);
    let r = &net.get::<Probe>(p).received[0];
    assert_eq!(
        (r.from, r.to, r.payload.as_slice()),
        (addr(B), addr(A), &[0, 0, 0, 7][..])
    );
    assert_eq!(r.at - net.start(), ms(2));
    // The reply to the spoofed source went nowhere.
    net.run_for(ms(10));
    assert_eq!(net.stats().unroutable, 1);
}

#[test]
#[should_panic(expected = "is not a")]
fn wrong_downcast_panics() {
    let mut net: Network<Box<dyn AnyNode>> = Network::new(1, LinkConfig::default());
    net.add(addr(A), Box::new(Probe::new()));
    net.get::<Echo>(0);
}

/// A node whose timeout never moves: a livelock the network must report, not spin on.
struct Stuck(Instant);

impl Node for Stuck {
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.0)
    }
}

#[test]
#[should_panic(expected = "step budget")]
fn drive_until_has_a_step_budget() {
    let mut net = Network::new(1, LinkConfig::default());
    let t = net.now();
    net.add(addr(A), Stuck(t));
    net.set_step_budget(1000);
    net.drive_until(Duration::from_secs(1), |_| false);
}

#[test]
#[should_panic(expected = "livelock")]
fn step_detects_livelock() {
    let mut net = Network::new(1, LinkConfig::default());
    let t = net.now();
    net.add(addr(A), Stuck(t));
    while net.step() {}
}

#[test]
#[should_panic(expected = "probability")]
fn bad_probability_is_refused() {
    let _ = Network::<Probe>::new(1, LinkConfig::default().loss(1.5));
}

#[test]
#[should_panic(expected = "already belongs")]
fn addresses_are_unique() {
    let mut net = Network::new(1, LinkConfig::default());
    net.add(addr(A), Probe::new());
    net.add(addr(A), Probe::new());
}
