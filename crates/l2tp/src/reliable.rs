//! The reliable control channel of RFC 2661 §5.8.
//!
//! Every control message but the ZLB carries a sequence number `Ns`; `Nr` acknowledges every
//! message of the peer before it. This module owns that bookkeeping for one tunnel and knows
//! nothing of message contents: the tunnel hands it encoded datagrams (their Ns and Nr fields
//! are patched here) and asks it to classify what arrives.
//!
//! - Sending: messages queue in Ns order; at most the peer's Receive Window Size are in flight.
//!   Nr is written when a datagram leaves, so a retransmission carries the *current* Nr (R2).
//! - Retransmission: the first timeout is `initial`, doubled each time up to `cap` (1, 2, 4, 8,
//!   8 s by default); after `max_retries` retransmissions the channel is dead and the caller
//!   clears the tunnel (R3).
//! - Receiving: the next expected Ns is delivered; an earlier one is a duplicate, re-acknowledged
//!   but not processed (R4); a later one within our window is held and delivered in order; one
//!   beyond it, or an Nr acknowledging something never sent, is dropped without touching any
//!   state (ROBUSTNESS case 17).
//! - Acknowledgement: a message we send carries Nr; when nothing goes out, a ZLB does (R1).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sras_core::Seq16;

use crate::wire::{encode_control, SessionId, TunnelId, CONTROL_HEADER_LEN, CONTROL_NR_OFFSET};

/// Byte offset of Ns in a control header.
const NS_OFFSET: usize = CONTROL_NR_OFFSET - 2;

/// Peer window assumed when the peer sends no Receive Window Size AVP (§5.8).
pub const DEFAULT_PEER_WINDOW: u16 = 4;

/// How far behind the next expected Ns a message may be and still be a duplicate, which is
/// re-acknowledged (§5.8). A peer retransmits only what it has outstanding, at most our
/// receive window (more if it ignores it, hence the margin); anything further back is not a
/// retransmission and is dropped like a message beyond the window (ROBUSTNESS case 17).
const DUPLICATE_HORIZON: i32 = 1024;

/// What an arriving control message is, for the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The next message in order: process it now.
    Deliver,
    /// Already delivered: acknowledge again, do not process (§5.8).
    Duplicate,
    /// Ahead of order but inside our window: held until the gap fills.
    Held,
    /// A ZLB: its Nr was taken; nothing to process.
    Ack,
    /// Ns beyond our window or Nr acknowledging what we never sent: dropped, nothing changed.
    OutOfWindow,
}

/// Retransmission policy (§5.8).
#[derive(Debug, Clone, Copy)]
pub struct RetransmitPolicy {
    /// First timeout.
    pub initial: Duration,
    /// Largest timeout (at least 8 s if capped, per §5.8).
    pub cap: Duration,
    /// Retransmissions before the channel is declared dead.
    pub max_retries: u32,
}

/// One tunnel's control channel.
#[derive(Debug)]
pub struct ControlChannel {
    /// Ns of the next message we queue.
    next_ns: Seq16,
    /// Ns we expect next from the peer: our Nr.
    expected: Seq16,
    /// Peer's Receive Window Size: how many of ours may be unacknowledged.
    peer_window: u16,
    /// Our Receive Window Size: how far ahead we hold the peer's messages.
    local_window: u16,
    /// Sent, not yet acknowledged, in Ns order.
    in_flight: VecDeque<Vec<u8>>,
    /// Queued behind a full window, in Ns order.
    waiting: VecDeque<Vec<u8>>,
    /// Peer messages held out of order: (Ns, datagram body).
    held: Vec<(Seq16, Vec<u8>)>,
    /// Datagrams ready to go out now (first sends and retransmissions).
    outbox: VecDeque<Vec<u8>>,
    /// The peer's tunnel ID, for the ZLBs we build.
    peer_tunnel: TunnelId,
    /// An acknowledgement is owed.
    ack_owed: bool,
    policy: RetransmitPolicy,
    timeout: Duration,
    retries: u32,
    retransmit_at: Option<Instant>,
    dead: bool,
}

impl ControlChannel {
    /// A channel whose first received message is expected with Ns = `first_peer_ns`.
    pub fn new(policy: RetransmitPolicy, local_window: u16, first_peer_ns: Seq16) -> Self {
        Self {
            next_ns: Seq16(0),
            expected: first_peer_ns,
            peer_window: DEFAULT_PEER_WINDOW,
            local_window: local_window.max(1),
            in_flight: VecDeque::new(),
            waiting: VecDeque::new(),
            held: Vec::new(),
            outbox: VecDeque::new(),
            peer_tunnel: TunnelId(0),
            ack_owed: false,
            policy,
            timeout: policy.initial,
            retries: 0,
            retransmit_at: None,
            dead: false,
        }
    }

    /// Starts our numbering at `ns` (tests of wraparound; §5.8 says 0 for a new tunnel).
    pub fn set_next_ns(&mut self, ns: Seq16) {
        self.next_ns = ns;
    }

    /// Sets the peer's Receive Window Size (from its SCCRQ/SCCRP; 0 is refused by the caller).
    pub fn set_peer_window(&mut self, window: u16) {
        self.peer_window = window.max(1);
    }

    /// Sets the peer's tunnel ID once known.
    pub fn set_peer_tunnel(&mut self, id: TunnelId) {
        self.peer_tunnel = id;
    }

    /// Our Nr: the next Ns we expect.
    pub fn expected(&self) -> Seq16 {
        self.expected
    }

    /// The Ns the next queued message gets.
    pub fn next_ns(&self) -> Seq16 {
        self.next_ns
    }

    /// Whether retransmissions were exhausted.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Whether everything we sent was acknowledged and nothing waits.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty() && self.waiting.is_empty()
    }

    /// Messages sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Queues an encoded control datagram (header + AVPs); its Ns is assigned here.
    pub fn enqueue(&mut self, now: Instant, mut datagram: Vec<u8>) {
        if datagram.len() < CONTROL_HEADER_LEN || self.dead {
            return;
        }
        datagram[NS_OFFSET..NS_OFFSET + 2].copy_from_slice(&self.next_ns.0.to_be_bytes());
        self.next_ns = self.next_ns.next();
        self.waiting.push_back(datagram);
        self.fill_window(now);
    }

    fn fill_window(&mut self, now: Instant) {
        while self.in_flight.len() < usize::from(self.peer_window) {
            let Some(d) = self.waiting.pop_front() else {
                break;
            };
            self.outbox.push_back(d.clone());
            self.in_flight.push_back(d);
            if self.retransmit_at.is_none() {
                self.retransmit_at = Some(now + self.timeout);
            }
        }
    }

    /// Classifies an arriving control message with header `ns`/`nr`; `zlb` when it has no AVPs.
    /// A `Held` message's body is kept and returned later by [`ControlChannel::take_next`].
    pub fn on_receive(
        &mut self,
        now: Instant,
        ns: Seq16,
        nr: Seq16,
        zlb: bool,
        body: &[u8],
    ) -> Verdict {
        // Validate before changing anything (ROBUSTNESS 17): too far ahead, or too far behind
        // to be a retransmission (whose Nr must not be taken either).
        let ahead = ns.distance_from(self.expected);
        if !zlb && (ahead >= i32::from(self.local_window) || ahead < -DUPLICATE_HORIZON) {
            return Verdict::OutOfWindow;
        }
        let Some(acked) = self.acked_count(nr) else {
            return Verdict::OutOfWindow;
        };
        self.apply_ack(now, acked);
        if zlb {
            return Verdict::Ack;
        }
        match ahead {
            0 => {
                self.expected = self.expected.next();
                self.ack_owed = true;
                Verdict::Deliver
            }
            a if a < 0 => {
                self.ack_owed = true;
                Verdict::Duplicate
            }
            _ => {
                if !self.held.iter().any(|(s, _)| *s == ns) {
                    self.held.push((ns, body.to_vec()));
                }
                Verdict::Held
            }
        }
    }

    /// The next held message now in order, if any (call after each `Deliver` until `None`).
    pub fn take_next(&mut self) -> Option<Vec<u8>> {
        let i = self.held.iter().position(|(s, _)| *s == self.expected)?;
        let (_, body) = self.held.swap_remove(i);
        self.expected = self.expected.next();
        self.ack_owed = true;
        Some(body)
    }

    /// How many in-flight messages `nr` acknowledges, or `None` if it acknowledges one never sent.
    fn acked_count(&self, nr: Seq16) -> Option<usize> {
        let oldest = self
            .next_ns
            .add(0u16.wrapping_sub((self.in_flight.len() + self.waiting.len()) as u16));
        let n = nr.distance_from(oldest);
        if n < 0 {
            // An old Nr (reordered or duplicate packet): acknowledges nothing new.
            return Some(0);
        }
        let n = n as usize;
        (n <= self.in_flight.len()).then_some(n)
    }

    fn apply_ack(&mut self, now: Instant, n: usize) {
        if n == 0 {
            return;
        }
        self.in_flight.drain(..n);
        self.retries = 0;
        self.timeout = self.policy.initial;
        self.retransmit_at = None;
        self.fill_window(now);
        if !self.in_flight.is_empty() && self.retransmit_at.is_none() {
            self.retransmit_at = Some(now + self.timeout);
        }
    }

    /// When [`ControlChannel::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retransmit_at
    }

    /// Retransmits on timeout; returns how many datagrams were retransmitted. Marks the
    /// channel dead once `max_retries` retransmissions went unanswered.
    pub fn handle_timeout(&mut self, now: Instant) -> usize {
        match self.retransmit_at {
            Some(at) if at <= now => {}
            _ => return 0,
        }
        if self.in_flight.is_empty() {
            self.retransmit_at = None;
            return 0;
        }
        if self.retries >= self.policy.max_retries {
            self.dead = true;
            self.retransmit_at = None;
            self.outbox.clear();
            return 0;
        }
        self.retries += 1;
        self.timeout = (self.timeout * 2).min(self.policy.cap);
        self.retransmit_at = Some(now + self.timeout);
        for d in &self.in_flight {
            self.outbox.push_back(d.clone());
        }
        self.in_flight.len()
    }

    /// Re-sends the oldest unacknowledged message now, without touching the backoff. Returns
    /// whether there was one. (The endpoint answers a duplicate with a ZLB only and leaves
    /// resending to the timer, which would otherwise send the same message twice.)
    pub fn resend_oldest(&mut self) -> bool {
        match self.in_flight.front() {
            Some(d) => {
                self.outbox.push_back(d.clone());
                true
            }
            None => false,
        }
    }

    /// The next datagram to send, with the current Nr written in. When an acknowledgement is
    /// owed and nothing else goes out, a ZLB.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if let Some(mut d) = self.outbox.pop_front() {
            d[CONTROL_NR_OFFSET..CONTROL_NR_OFFSET + 2]
                .copy_from_slice(&self.expected.0.to_be_bytes());
            self.ack_owed = false;
            return Some(d);
        }
        if self.ack_owed {
            self.ack_owed = false;
            return Some(self.zlb());
        }
        None
    }

    /// A ZLB acknowledgement: Ns is the next we will send (not consumed), Nr the next we expect.
    pub fn zlb(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(CONTROL_HEADER_LEN);
        encode_control(
            self.peer_tunnel,
            SessionId(0),
            self.next_ns,
            self.expected,
            None,
            None,
            &mut v,
        );
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetransmitPolicy = RetransmitPolicy {
        initial: Duration::from_secs(1),
        cap: Duration::from_secs(8),
        max_retries: 5,
    };

    /// A control datagram carrying one Hello AVP; Ns/Nr are patched by the channel.
    fn msg() -> Vec<u8> {
        vec![
            0xc8, 0x02, 0x00, 0x14, 0, 1, 0, 0, 0, 0, 0, 0, 0x80, 0x08, 0, 0, 0, 0, 0, 6,
        ]
    }

    fn ns_nr(d: &[u8]) -> (u16, u16) {
        (
            u16::from_be_bytes([d[8], d[9]]),
            u16::from_be_bytes([d[10], d[11]]),
        )
    }

    fn drain(c: &mut ControlChannel) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| c.poll_transmit()).collect()
    }

    #[test]
    fn retransmission_schedule_is_1_2_4_8_8_then_dead() {
        let t0 = sras_testkit::VirtualClock::new().now();
        let mut c = ControlChannel::new(POLICY, 4, Seq16(0));
        c.enqueue(t0, msg());
        assert_eq!(drain(&mut c).len(), 1);
        let mut at = Vec::new();
        let mut now = t0;
        while let Some(next) = c.poll_timeout() {
            now = next;
            if c.handle_timeout(now) > 0 {
                at.push(now.duration_since(t0).as_secs());
                // R2: the same Ns each time.
                assert_eq!(ns_nr(&drain(&mut c)[0]).0, 0);
            }
        }
        assert_eq!(at, vec![1, 3, 7, 15, 23]);
        assert!(c.is_dead());
        assert_eq!(now.duration_since(t0).as_secs(), 31);
    }

    #[test]
    fn retransmission_carries_current_nr() {
        let t0 = sras_testkit::VirtualClock::new().now();
        let mut c = ControlChannel::new(POLICY, 4, Seq16(0));
        c.enqueue(t0, msg());
        drain(&mut c);
        assert_eq!(
            c.on_receive(t0, Seq16(0), Seq16(0), false, b"x"),
            Verdict::Deliver
        );
        assert_eq!(
            c.on_receive(t0, Seq16(1), Seq16(0), false, b"y"),
            Verdict::Deliver
        );
        drain(&mut c); // the owed ZLB
        c.handle_timeout(t0 + Duration::from_secs(1));
        assert_eq!(ns_nr(&drain(&mut c)[0]), (0, 2));
    }

    #[test]
    fn window_limits_in_flight() {
        let t0 = sras_testkit::VirtualClock::new().now();
        let mut c = ControlChannel::new(POLICY, 4, Seq16(0));
        c.set_peer_window(1);
        for _ in 0..3 {
            c.enqueue(t0, msg());
        }
        assert_eq!(drain(&mut c).len(), 1);
        assert_eq!(c.in_flight(), 1);
        // ack of Ns 0 releases Ns 1
        assert_eq!(
            c.on_receive(t0, Seq16(0), Seq16(1), true, b""),
            Verdict::Ack
        );
        let out = drain(&mut c);
        assert_eq!(out.len(), 1);
        assert_eq!(ns_nr(&out[0]).0, 1);
    }

    #[test]
    fn default_peer_window_is_four() {
        let t0 = sras_testkit::VirtualClock::new().now();
        let mut c = ControlChannel::new(POLICY, 4, Seq16(0));
        for _ in 0..10 {
            c.enqueue(t0, msg());
        }
        assert_eq!(drain(&mut c).len(), 4);
    }

    #[test]
    fn duplicates_and_out_of_order() {
        let t0 = sras_testkit::VirtualClock::new().now();
        let mut c = ControlChannel::new(POLICY, 4, Seq16(0));
        assert_eq!(
            c.on_receive(t0, Seq16(1), Seq16(0), false, b"one"),
            Verdict::Held
        );
        assert_eq!(
            c.on_receive(t0, Seq16(1), Seq16(0), false, b"one"),
            Verdict::Held
        );
        assert_eq!(
            c.on_receive(t0, Seq16(0), Seq16(0), false, b"zero"),
            Verdict::Deliver
        );
        assert_eq!(c.take_next().as_deref(), Some(&b"one"[..]));
        assert_eq!(c.take_next(), None);
        assert_eq!(
            c.on_receive(t0, Seq16(0), Seq16(0), false, b"zero"),
            Verdict::Duplicate
        );
        // The owed acknowledgement is a ZLB with Nr 2.
        let out = drain(&mut c);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), CONTROL_HEADER_LEN);
        assert_eq!(ns_nr(&out[0]), (0, 2));
    }

    #[test]
    fn beyond_window_and_bogus_nr_change_nothing() {
        let t0 = sras_testkit::VirtualClock::new().now();
        let mut c = ControlChannel::new(POLICY, 4, Seq16(0));
        c.enqueue(t0, msg());
        drain(&mut c);
        assert_eq!(
            c.on_receive(t0, Seq16(4), Seq16(0), false, b"far"),
            Verdict::OutOfWindow
        );
        assert_eq!(
            c.on_receive(t0, Seq16(40000), Seq16(0), false, b"far"),
            Verdict::OutOfWindow
        );
        // Nr 5 acknowledges four messages never sent.
        assert_eq!(
            c.on_receive(t0, Seq16(0), Seq16(5), false, b"x"),
            Verdict::OutOfWindow
        );
        assert_eq!(c.in_flight(), 1);
        assert_eq!(c.expected(), Seq16(0));
        assert!(drain(&mut c).is_empty());
    }

    /// ROBUSTNESS 18: both sides start at Ns 65530 and exchange 20 messages each.
    #[test]
    fn wraparound_from_65530() {
        let t0 = sras_testkit::VirtualClock::new().now();
        let mut a = ControlChannel::new(POLICY, 4, Seq16(65530));
        let mut b = ControlChannel::new(POLICY, 4, Seq16(65530));
        a.set_next_ns(Seq16(65530));
        b.set_next_ns(Seq16(65530));
        let (mut got_a, mut got_b) = (0, 0);
        for _ in 0..20 {
            a.enqueue(t0, msg());
            b.enqueue(t0, msg());
            for d in drain(&mut a) {
                let (ns, nr) = ns_nr(&d);
                if b.on_receive(t0, Seq16(ns), Seq16(nr), d.len() == CONTROL_HEADER_LEN, &d)
                    == Verdict::Deliver
                {
                    got_b += 1;
                }
            }
            for d in drain(&mut b) {
                let (ns, nr) = ns_nr(&d);
                if a.on_receive(t0, Seq16(ns), Seq16(nr), d.len() == CONTROL_HEADER_LEN, &d)
                    == Verdict::Deliver
                {
                    got_a += 1;
                }
            }
            // Flush the ZLBs each owes.
            for d in drain(&mut a) {
                let (ns, nr) = ns_nr(&d);
                b.on_receive(t0, Seq16(ns), Seq16(nr), true, &d);
            }
        }
        for d in drain(&mut b) {
            let (ns, nr) = ns_nr(&d);
            a.on_receive(t0, Seq16(ns), Seq16(nr), true, &d);
        }
        assert_eq!((got_a, got_b), (20, 20));
        assert_eq!(a.expected(), Seq16(65530u16.wrapping_add(20)));
        assert!(a.is_idle() && b.is_idle());
        assert_eq!(a.poll_timeout(), None);
    }
}
