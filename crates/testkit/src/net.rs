//! A simulated datagram network of sans-IO [`Node`]s with a virtual clock and a seeded link model.
//!
//! Each [`Network::step`] delivers the datagrams due now, fires due timeouts, sends every
//! pending transmit through the link model (latency, jitter, loss, duplication, reordering),
//! then jumps virtual time to the next event. All randomness comes from one RNG seeded in
//! [`Network::new`], and nodes are visited in index order, so a run is a pure function of
//! the seed, the nodes and the test's own actions.

use std::any::Any;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sras_core::Transmit;

use crate::clock::VirtualClock;
use crate::pcap::PcapWriter;

/// A sans-IO endpoint that the [`Network`] drives.
pub trait Node {
    /// Feed one datagram that arrived from `from` (addressed to this node's address `to`).
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]);
    /// Time has reached the instant [`poll_timeout`](Self::poll_timeout) returned (or later).
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    fn poll_timeout(&self) -> Option<Instant>;
}

impl<T: Node + ?Sized> Node for Box<T> {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        (**self).handle_datagram(now, from, to, data);
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        (**self).poll_transmit()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }
}

/// A [`Node`] that can be downcast: use `Network<Box<dyn AnyNode>>` to put nodes of different
/// types in one network and get them back with [`Network::get`] / [`Network::get_mut`].
pub trait AnyNode: Node + Any {}

impl<T: Node + Any> AnyNode for T {}

/// The behaviour of a one-way link.
///
/// Each datagram is lost with probability `loss`; a surviving one is duplicated with
/// probability `duplicate`; each copy arrives after `latency` plus a uniform random part of
/// `jitter`. Copies keep their sending order on a link (jitter alone never reorders) unless,
/// with probability `reorder`, a copy is given an extra uniform delay of up to
/// `reorder_delay` outside that order, so that it overtakes or is overtaken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Maximum random extra delay added to each copy.
    pub jitter: Duration,
    /// Probability that a datagram is lost, in `0.0..=1.0`.
    pub loss: f64,
    /// Probability that a datagram that was not lost arrives twice.
    pub duplicate: f64,
    /// Probability that a copy leaves the link's order and gets an extra random delay.
    pub reorder: f64,
    /// Maximum extra delay of a reordered copy; zero means `2 × latency + jitter`, at least 1 ms.
    pub reorder_delay: Duration,
}

impl LinkConfig {
    /// A perfect link with zero delay: everything arrives, once, in order, at the same instant.
    pub const fn ideal() -> Self {
        Self {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
        }
    }

    /// A perfect link with a fixed one-way `latency`.
    pub const fn with_latency(latency: Duration) -> Self {
        Self {
            latency,
            ..Self::ideal()
        }
    }

    /// This link with `jitter`.
    #[must_use]
    pub const fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// This link with loss probability `p`.
    #[must_use]
    pub const fn loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }

    /// This link with duplication probability `p`.
    #[must_use]
    pub const fn duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// This link with reordering probability `p` (and the default reorder delay).
    #[must_use]
    pub const fn reorder(mut self, p: f64) -> Self {
        self.reorder = p;
        self
    }

    fn validate(&self) {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            assert!(
                (0.0..=1.0).contains(&p),
                "LinkConfig::{name} must be a probability in 0..=1, got {p}"
            );
        }
    }

    fn max_reorder_delay(&self) -> Duration {
        if self.reorder_delay.is_zero() {
            (self.latency * 2 + self.jitter).max(Duration::from_millis(1))
        } else {
            self.reorder_delay
        }
    }
}

impl Default for LinkConfig {
    /// A perfect link with 10 ms latency.
    fn default() -> Self {
        Self::with_latency(Duration::from_millis(10))
    }
}

/// A datagram on the wire, as the [`Network::set_filter`] hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Source address.
    pub src: SocketAddr,
    /// Destination address (rewriting it reroutes the datagram).
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// What a filter decides about a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it on (possibly rewritten) through the link model.
    Pass,
    /// Drop it (counted in [`NetStats::filtered`]).
    Drop,
}

/// A datagram delivered to a node, as recorded by the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// Virtual time of delivery since the network started.
    pub time: Duration,
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// Counters of what the network did with datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Datagrams handed to the network (node transmits and [`Network::inject`]).
    pub sent: u64,
    /// Copies handed to a node.
    pub delivered: u64,
    /// Datagrams lost by the link model.
    pub lost: u64,
    /// Datagrams the link model duplicated.
    pub duplicated: u64,
    /// Copies given a reordering delay.
    pub reordered: u64,
    /// Datagrams dropped by [`Network::drop_next`].
    pub dropped: u64,
    /// Datagrams dropped by the filter.
    pub filtered: u64,
    /// Copies that arrived at an address no node owns.
    pub unroutable: u64,
}

struct InFlight {
    at: Instant,
    seq: u64,
    dgram: Datagram,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct Slot<N> {
    node: N,
    addrs: Vec<SocketAddr>,
}

type Filter = Box<dyn FnMut(&mut Datagram) -> Verdict>;

/// Steps at one instant after which [`Network`] declares a livelock.
const STUCK_LIMIT: usize = 100_000;

/// A simulated network of [`Node`]s (smoltcp's netsim, quinn's `Pair` generalised).
pub struct Network<N: Node> {
    clock: VirtualClock,
    rng: StdRng,
    nodes: Vec<Slot<N>>,
    routes: HashMap<SocketAddr, usize>,
    link: LinkConfig,
    addr_links: HashMap<(SocketAddr, SocketAddr), LinkConfig>,
    node_links: HashMap<(usize, usize), LinkConfig>,
    fifo: HashMap<(SocketAddr, SocketAddr), Instant>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    drops: HashMap<(SocketAddr, SocketAddr), usize>,
    filter: Option<Filter>,
    capturing: bool,
    capture: Vec<Captured>,
    stats: NetStats,
    step_budget: usize,
    stuck: usize,
}

impl<N: Node> Network<N> {
    /// An empty network whose every link behaves as `link`, randomised from `seed`.
    pub fn new(seed: u64, link: LinkConfig) -> Self {
        Self::with_clock(seed, link, VirtualClock::new())
    }

    /// Like [`new`](Self::new), with time starting from `clock` (to share a time base).
    pub fn with_clock(seed: u64, link: LinkConfig, clock: VirtualClock) -> Self {
        link.validate();
        Self {
            clock,
            rng: StdRng::seed_from_u64(seed),
            nodes: Vec::new(),
            routes: HashMap::new(),
            link,
            addr_links: HashMap::new(),
            node_links: HashMap::new(),
            fifo: HashMap::new(),
            in_flight: BinaryHeap::new(),
            seq: 0,
            drops: HashMap::new(),
            filter: None,
            capturing: true,
            capture: Vec::new(),
            stats: NetStats::default(),
            step_budget: 1_000_000,
            stuck: 0,
        }
    }

    /// Adds `node` owning `addr` and returns its index.
    ///
    /// # Panics
    ///
    /// If another node already owns `addr`.
    pub fn add(&mut self, addr: SocketAddr, node: N) -> usize {
        let idx = self.nodes.len();
        self.nodes.push(Slot {
            node,
            addrs: Vec::new(),
        });
        self.add_address(idx, addr);
        idx
    }

    /// Gives node `idx` another address. Its first address stays the default source.
    ///
    /// # Panics
    ///
    /// If another node already owns `addr` or `idx` is out of range.
    pub fn add_address(&mut self, idx: usize, addr: SocketAddr) {
        assert!(idx < self.nodes.len(), "no node {idx}");
        if let Some(&owner) = self.routes.get(&addr) {
            assert_eq!(owner, idx, "{addr} already belongs to node {owner}");
            return;
        }
        self.routes.insert(addr, idx);
        self.nodes[idx].addrs.push(addr);
    }

    /// Takes `addr` away from whichever node owns it (a NAT rebinding, a lost lease) and
    /// returns that node's index. Datagrams to it are then unroutable.
    pub fn remove_address(&mut self, addr: SocketAddr) -> Option<usize> {
        let idx = self.routes.remove(&addr)?;
        self.nodes[idx].addrs.retain(|a| *a != addr);
        Some(idx)
    }

    /// The node that owns `addr`.
    pub fn find(&self, addr: SocketAddr) -> Option<usize> {
        self.routes.get(&addr).copied()
    }

    /// The addresses of node `idx`, the default source first.
    pub fn addresses(&self, idx: usize) -> &[SocketAddr] {
        &self.nodes[idx].addrs
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the network has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `idx`.
    pub fn node(&self, idx: usize) -> &N {
        &self.nodes[idx].node
    }

    /// Node `idx`, mutably (to call its API between steps; its transmits are collected at the
    /// next step).
    pub fn node_mut(&mut self, idx: usize) -> &mut N {
        &mut self.nodes[idx].node
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The instant the network started at.
    pub fn start(&self) -> Instant {
        self.clock.start()
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Sets the default link behaviour (for links without an override).
    pub fn set_link(&mut self, cfg: LinkConfig) {
        cfg.validate();
        self.link = cfg;
    }

    /// Overrides the link for datagrams from address `from` to address `to` (one direction).
    /// Takes precedence over [`set_link_between_nodes`](Self::set_link_between_nodes).
    pub fn set_link_between(&mut self, from: SocketAddr, to: SocketAddr, cfg: LinkConfig) {
        cfg.validate();
        self.addr_links.insert((from, to), cfg);
    }

    /// Overrides the link for datagrams from any address of node `from` to any address of node
    /// `to` (one direction).
    pub fn set_link_between_nodes(&mut self, from: usize, to: usize, cfg: LinkConfig) {
        cfg.validate();
        self.node_links.insert((from, to), cfg);
    }

    /// Removes every per-link override.
    pub fn clear_link_overrides(&mut self) {
        self.addr_links.clear();
        self.node_links.clear();
    }

    /// Drops the next `n` datagrams sent from `from` to `to` (adds to any drops still pending),
    /// before the filter and the link model see them.
    pub fn drop_next(&mut self, from: SocketAddr, to: SocketAddr, n: usize) {
        *self.drops.entry((from, to)).or_insert(0) += n;
    }

    /// Installs a hook that sees every datagram as it is sent (after
    /// [`drop_next`](Self::drop_next), before the link model) and may rewrite or drop it.
    /// Changing `dst` reroutes it.
    pub fn set_filter(&mut self, filter: impl FnMut(&mut Datagram) -> Verdict + 'static) {
        self.filter = Some(Box::new(filter));
    }

    /// Removes the filter.
    pub fn clear_filter(&mut self) {
        self.filter = None;
    }

    /// Every datagram delivered so far (while capturing was on), in delivery order.
    pub fn capture(&self) -> &[Captured] {
        &self.capture
    }

    /// Takes the capture, leaving it empty.
    pub fn take_capture(&mut self) -> Vec<Captured> {
        std::mem::take(&mut self.capture)
    }

    /// Switches capturing on (the default) or off.
    pub fn set_capture(&mut self, on: bool) {
        self.capturing = on;
    }

    /// Writes the capture as a pcap file of IP/UDP packets stamped with virtual time since the
    /// start (see [`crate::pcap`]).
    pub fn write_pcap(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let mut w = PcapWriter::create(path)?;
        for c in &self.capture {
            w.write_udp(c.time, c.src, c.dst, &c.payload)?;
        }
        w.flush()
    }

    /// What the network did so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Datagrams currently in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Sets how many steps one [`run_until`](Self::run_until) or
    /// [`drive_until`](Self::drive_until) call may take before it panics (default one million).
    pub fn set_step_budget(&mut self, steps: usize) {
        self.step_budget = steps;
    }

    /// Sends a datagram from `src` to `dst` through the filter and link model, as if a node had
    /// transmitted it (`src` need not belong to any node: spoofing is allowed).
    pub fn inject(&mut self, src: SocketAddr, dst: SocketAddr, payload: impl Into<Vec<u8>>) {
        self.send(Datagram {
            src,
            dst,
            payload: payload.into(),
        });
    }

    /// The earliest pending event: an arrival or a node's timeout (possibly already due).
    pub fn next_event(&self) -> Option<Instant> {
        let arrival = self.in_flight.peek().map(|Reverse(f)| f.at);
        self.nodes
            .iter()
            .filter_map(|s| s.node.poll_timeout())
            .chain(arrival)
            .min()
    }

    /// One step: deliver every in-flight datagram due now, fire due timeouts, collect
    /// transmits (each goes through the link model), then advance virtual time to the earliest
    /// of the next delivery and any node's timeout. Returns false if nothing is left to do.
    ///
    /// # Panics
    ///
    /// If 100 000 steps in a row happen at the same instant (a node livelocks, e.g. a timeout
    /// that stays due after `handle_timeout`).
    pub fn step(&mut self) -> bool {
        self.process();
        match self.next_event() {
            Some(t) => {
                self.advance_to(t);
                true
            }
            None => false,
        }
    }

    /// Steps until the next event would be after `deadline`, then moves time to `deadline`
    /// (if it is in the future). Returns the next pending event, `None` if the network is idle.
    ///
    /// # Panics
    ///
    /// If the step budget runs out (see [`set_step_budget`](Self::set_step_budget)).
    pub fn run_until(&mut self, deadline: Instant) -> Option<Instant> {
        let mut steps = 0;
        loop {
            self.process();
            match self.next_event() {
                Some(t) if t <= deadline => self.advance_to(t),
                next => {
                    if deadline > self.now() {
                        self.clock.set(deadline);
                        self.stuck = 0;
                    }
                    return next;
                }
            }
            steps += 1;
            self.check_budget(steps, "run_until");
        }
    }

    /// [`run_until`](Self::run_until) `d` from now.
    pub fn run_for(&mut self, d: Duration) -> Option<Instant> {
        self.run_until(self.now() + d)
    }

    /// Steps until `done` returns true (checked before the first step and after each one) and
    /// returns true, or returns false once the next event is more than `limit` of virtual time
    /// away from the call or the network is idle. Time never moves past `now + limit`.
    ///
    /// # Panics
    ///
    /// If the step budget runs out (see [`set_step_budget`](Self::set_step_budget)).
    pub fn drive_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut Self) -> bool,
    ) -> bool {
        let deadline = self.now() + limit;
        if done(self) {
            return true;
        }
        let mut steps = 0;
        loop {
            self.process();
            if done(self) {
                return true;
            }
            match self.next_event() {
                Some(t) if t <= deadline => self.advance_to(t),
                _ => return false,
            }
            steps += 1;
            self.check_budget(steps, "drive_until");
        }
    }

    fn check_budget(&self, steps: usize, what: &str) {
        assert!(
            steps <= self.step_budget,
            "{what}: step budget of {} exhausted at +{:?} ({} in flight, next event at +{:?}); \
             a node may be livelocked, or raise it with set_step_budget",
            self.step_budget,
            self.elapsed(),
            self.in_flight.len(),
            self.next_event()
                .map(|t| t.saturating_duration_since(self.start())),
        );
    }

    fn advance_to(&mut self, t: Instant) {
        if t > self.now() {
            self.clock.set(t);
            self.stuck = 0;
        } else {
            self.stuck += 1;
            assert!(
                self.stuck <= STUCK_LIMIT,
                "livelock: {STUCK_LIMIT} steps at +{:?} without time moving ({} in flight, timeouts: {:?})",
                self.elapsed(),
                self.in_flight.len(),
                self.nodes
                    .iter()
                    .map(|s| s.node.poll_timeout().map(|t| t.saturating_duration_since(self.start())))
                    .collect::<Vec<_>>(),
            );
        }
    }

    /// Everything due at the current instant: arrivals, timeouts, then transmits.
    fn process(&mut self) {
        let now = self.now();
        while self.in_flight.peek().is_some_and(|Reverse(f)| f.at <= now) {
            let Some(Reverse(f)) = self.in_flight.pop() else {
                break;
            };
            self.deliver(now, f.dgram);
        }
        for slot in &mut self.nodes {
            if slot.node.poll_timeout().is_some_and(|t| t <= now) {
                slot.node.handle_timeout(now);
            }
        }
        for idx in 0..self.nodes.len() {
            while let Some(t) = self.nodes[idx].node.poll_transmit() {
                let src = t.source.unwrap_or_else(|| {
                    *self.nodes[idx].addrs.first().unwrap_or_else(|| {
                        panic!("node {idx} transmits without a source and owns no address")
                    })
                });
                self.send(Datagram {
                    src,
                    dst: t.destination,
                    payload: t.payload,
                });
            }
        }
    }

    fn deliver(&mut self, now: Instant, d: Datagram) {
        let Some(&idx) = self.routes.get(&d.dst) else {
            self.stats.unroutable += 1;
            return;
        };
        self.stats.delivered += 1;
        self.nodes[idx]
            .node
            .handle_datagram(now, d.src, d.dst, &d.payload);
        if self.capturing {
            self.capture.push(Captured {
                time: now - self.clock.start(),
                src: d.src,
                dst: d.dst,
                payload: d.payload,
            });
        }
    }

    fn link_for(&self, src: SocketAddr, dst: SocketAddr) -> LinkConfig {
        if let Some(l) = self.addr_links.get(&(src, dst)) {
            return *l;
        }
        if let (Some(a), Some(b)) = (self.find(src), self.find(dst)) {
            if let Some(l) = self.node_links.get(&(a, b)) {
                return *l;
            }
        }
        self.link
    }

    /// The link model.
    fn send(&mut self, mut d: Datagram) {
        self.stats.sent += 1;
        if let Some(n) = self.drops.get_mut(&(d.src, d.dst)).filter(|n| **n > 0) {
            *n -= 1;
            self.stats.dropped += 1;
            return;
        }
        if let Some(f) = &mut self.filter {
            if f(&mut d) == Verdict::Drop {
                self.stats.filtered += 1;
                return;
            }
        }
        let link = self.link_for(d.src, d.dst);
        if self.rng.random_bool(link.loss) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.random_bool(link.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        let now = self.now();
        for copy in 0..copies {
            let mut at = now + link.latency + link.jitter.mul_f64(self.rng.random::<f64>());
            if self.rng.random_bool(link.reorder) {
                self.stats.reordered += 1;
                at += link.max_reorder_delay().mul_f64(self.rng.random::<f64>());
            } else {
                let last = self.fifo.entry((d.src, d.dst)).or_insert(at);
                at = at.max(*last);
                *last = at;
            }
            let dgram = if copy + 1 == copies {
                std::mem::take(&mut d.payload)
            } else {
                d.payload.clone()
            };
            self.seq += 1;
            self.in_flight.push(Reverse(InFlight {
                at,
                seq: self.seq,
                dgram: Datagram {
                    src: d.src,
                    dst: d.dst,
                    payload: dgram,
                },
            }));
        }
    }
}

impl Network<Box<dyn AnyNode>> {
    /// Node `idx` as its concrete type.
    ///
    /// # Panics
    ///
    /// If node `idx` is not a `T`.
    pub fn get<T: Any>(&self, idx: usize) -> &T {
        let node: &dyn Any = &**self.node(idx);
        node.downcast_ref()
            .unwrap_or_else(|| panic!("node {idx} is not a {}", std::any::type_name::<T>()))
    }

    /// Node `idx` as its concrete type, mutably.
    ///
    /// # Panics
    ///
    /// If node `idx` is not a `T`.
    pub fn get_mut<T: Any>(&mut self, idx: usize) -> &mut T {
        let node: &mut dyn Any = &mut **self.node_mut(idx);
        node.downcast_mut()
            .unwrap_or_else(|| panic!("node {idx} is not a {}", std::any::type_name::<T>()))
    }
}

/// A datagram a [`Probe`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// Source address.
    pub from: SocketAddr,
    /// The probe's address it was sent to.
    pub to: SocketAddr,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// A scripted [`Node`]: it records what it receives and sends what the test queues, for
/// feeding hand-built bytes to a real machine and looking at its answers.
#[derive(Debug, Default)]
pub struct Probe {
    /// Everything received, in order.
    pub received: Vec<Received>,
    outbox: std::collections::VecDeque<Transmit>,
}

impl Probe {
    /// An empty probe.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `payload` to `to`, from the probe's first address.
    pub fn send(&mut self, to: SocketAddr, payload: impl Into<Vec<u8>>) {
        self.outbox.push_back(Transmit {
            destination: to,
            source: None,
            payload: payload.into(),
        });
    }

    /// Queues `payload` to `to` from `from`.
    pub fn send_from(&mut self, from: SocketAddr, to: SocketAddr, payload: impl Into<Vec<u8>>) {
        self.outbox.push_back(Transmit {
            destination: to,
            source: Some(from),
            payload: payload.into(),
        });
    }
}

impl Node for Probe {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        self.received.push(Received {
            at: now,
            from,
            to,
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

#[cfg(test)]
mod tests;
