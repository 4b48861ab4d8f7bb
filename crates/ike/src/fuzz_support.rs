//! Internals for the fuzz targets and the robustness tests (quinn's `#[cfg(fuzzing)]`):
//! forging protected messages under an established ISAKMP SA, as its peer would send them, and
//! the stateful responder harness of the `ike_responder` fuzz target ([`Endpoint::fuzz_responder`]).

use core::time::Duration;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use sras_core::Transmit;
use zeroize::Zeroizing;

use crate::config::{ChildRequest, Config, DpdConfig, PeerSelector, PskEntry};
use crate::crypto::{keymat, DhGroup};
use crate::endpoint::{Endpoint, Event, Stats, NON_ESP_MARKER};
use crate::proposal::Profile;
use crate::quick::chain_with_hash;
use crate::wire::{encode_payloads, ExchangeType, Header, PayloadType};

/// What to put in the HASH payload of a forged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashMode {
    /// The correct HASH(1) (RFC 2409 §5.5/§5.7) over the payloads after it.
    Correct,
    /// No HASH payload at all.
    Omitted,
    /// A HASH payload with an empty body.
    Empty,
    /// A HASH payload with one bit of the correct value flipped.
    Wrong,
}

impl Endpoint {
    /// The cookies of the ISAKMP SAs this endpoint has established.
    pub fn established_cookies(&self) -> Vec<([u8; 8], [u8; 8])> {
        let mut v: Vec<_> = self
            .sas
            .values()
            .filter(|s| s.is_established())
            .map(|s| (s.cky_i, s.cky_r))
            .collect();
        v.sort_unstable();
        v
    }

    /// A protected message of a new exchange (`message_id` ≠ 0: Quick Mode message 1 or an
    /// Informational) under the ISAKMP SA with `cookies`, encrypted and hashed as the peer of
    /// this endpoint would send it (both sides share the keys and the IV rules of RFC 2409
    /// App. B). Returns the whole ISAKMP message, or `None` without such an SA.
    pub fn forge_protected(
        &self,
        cookies: ([u8; 8], [u8; 8]),
        exchange: ExchangeType,
        message_id: u32,
        after_hash: &[(PayloadType, &[u8])],
        mode: HashMode,
    ) -> Option<Vec<u8>> {
        let id = *self.by_cookies.get(&cookies)?;
        let (prf, ska) = self.skeyid_a(id)?;
        let correct = |rest: &[u8]| {
            keymat::hash_with_message_id(prf, &ska, message_id, &[rest])
                .as_ref()
                .to_vec()
        };
        let chain = match mode {
            HashMode::Correct => chain_with_hash(correct, after_hash),
            HashMode::Empty => chain_with_hash(|_| Vec::new(), after_hash),
            HashMode::Wrong => chain_with_hash(
                |rest| {
                    let mut h = correct(rest);
                    h[0] ^= 1;
                    h
                },
                after_hash,
            ),
            HashMode::Omitted => encode_payloads(after_hash).1,
        };
        let iv = self.exchange_iv(id, message_id)?;
        let (mut bytes, _) = self
            .encrypt_chain(id, message_id, exchange, &iv, chain)
            .ok()?;
        if mode == HashMode::Omitted {
            // The header's Next Payload must name the first payload actually there.
            bytes[16] = after_hash.first().map_or(0, |p| p.0.value());
        }
        Some(bytes)
    }
}

// ---------------------------------------------------------------------------------------------
// The stateful responder fuzz target (`fuzz/fuzz_targets/ike_responder.rs`, rustls
// `fuzzers/server.rs`): datagram sequences, with time passing, fed to a responder endpoint.

const fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port)
}

/// The responder's addresses: IKE and NAT-T ports.
const FUZZ_SERVER: [SocketAddr; 2] = [v4(192, 0, 2, 1, 500), v4(192, 0, 2, 1, 4500)];

/// The four peers a fuzz input speaks as. Sources 0 and 1 are the helper client's ports.
const FUZZ_SOURCES: [SocketAddr; 4] = [
    v4(192, 0, 2, 3, 500),
    v4(192, 0, 2, 3, 4500),
    v4(198, 51, 100, 7, 500),
    SocketAddr::new(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
        500,
    ),
];

/// Seeds of the two endpoints' random numbers.
const FUZZ_SERVER_SEED: [u8; 32] = [0x5e; 32];
const FUZZ_CLIENT_SEED: [u8; 32] = [0xc1; 32];

/// The fuzz inputs' datagram kinds (bits 2-3 of a datagram record's op byte).
const KIND_RAW_500: u8 = 0;
const KIND_RAW_4500: u8 = 1;
const KIND_INFORMATIONAL: u8 = 2;
const KIND_QUICK: u8 = 3;

/// Rekeys and new Main Modes the helper starts per input, at most.
const HELPER_BUDGET: u8 = 8;

/// Rounds of [`Harness::pump`] before it gives up (a ping-pong must end).
const PUMP_ROUNDS: usize = 32;

/// The responder's configuration (`server`), or the helper client's. One fast group keeps the
/// executions cheap (the codec and the state machines are the target, not the bignum
/// arithmetic), and the helper offers a single suite.
fn fuzz_config(server: bool) -> Config {
    let compatible = Profile::compatible();
    let profile = if server {
        Profile {
            groups: vec![DhGroup::Ecp256],
            ..compatible
        }
    } else {
        Profile {
            ciphers: vec![compatible.ciphers[0]],
            hashes: vec![compatible.hashes[0]],
            groups: vec![DhGroup::Ecp256],
            esp: compatible.esp[..1].to_vec(),
            ..compatible
        }
    };
    Config {
        profile,
        psk: vec![PskEntry {
            peer: PeerSelector::Any,
            secret: Zeroizing::new(b"sras-fuzz-psk".to_vec()),
        }],
        aggressive_mode: server,
        dpd: Some(DpdConfig {
            delay: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        }),
        phase1_lifetime: Duration::from_secs(3600),
        phase2_lifetime: Duration::from_secs(1200),
        rekey_margin: Duration::from_secs(300),
        max_half_open: 8,
        max_half_open_per_peer: 4,
        ..Config::default()
    }
}

fn hash_mode(bits: u8) -> HashMode {
    match bits & 3 {
        0 => HashMode::Correct,
        1 => HashMode::Omitted,
        2 => HashMode::Empty,
        _ => HashMode::Wrong,
    }
}

/// The responder under test, the helper client, and what is in flight to the helper.
struct Harness {
    server: Endpoint,
    client: Endpoint,
    to_client: Vec<Transmit>,
    /// The responder's events (the first 256).
    events: Vec<Event>,
    /// Rekeys and new Main Modes the helper may still start.
    helper_budget: u8,
    now: Instant,
    max_half_open: usize,
}

impl Harness {
    fn new(established: bool) -> Self {
        #[allow(clippy::disallowed_methods)] // the fuzz harness is the caller; it owns the clock
        let now = Instant::now();
        let (server, client) = Endpoint::fuzz_responder_endpoints(now, established);
        Self {
            server,
            client,
            to_client: Vec::new(),
            events: Vec::new(),
            helper_budget: HELPER_BUDGET,
            now,
            max_half_open: fuzz_config(true).max_half_open,
        }
    }

    /// Checks and routes everything the server sent.
    fn drain_server(&mut self) {
        while let Some(t) = self.server.poll_transmit() {
            assert!(
                FUZZ_SOURCES.contains(&t.destination),
                "transmit to {} nobody sent from",
                t.destination
            );
            let framed = t.source.is_some_and(|s| s.port() == FUZZ_SERVER[1].port());
            if let Some(s) = t.source {
                assert!(FUZZ_SERVER.contains(&s), "transmit from {s}");
            }
            let ike = if framed {
                assert_eq!(
                    t.payload.get(..4),
                    Some(&NON_ESP_MARKER[..]),
                    "IKE on 4500 without the non-ESP marker"
                );
                &t.payload[4..]
            } else {
                &t.payload[..]
            };
            assert!(
                Header::decode(ike).is_ok(),
                "sent a message whose header does not parse"
            );
            if t.destination.ip() == FUZZ_SOURCES[0].ip() && self.to_client.len() < 64 {
                self.to_client.push(t);
            }
        }
        while let Some(e) = self.server.poll_event() {
            if self.events.len() < 256 {
                self.events.push(e);
            }
        }
        while self.client.poll_event().is_some() {}
        let stats = self.server.stats();
        let bound =
            self.max_half_open + usize::try_from(stats.phase1_established).unwrap_or(usize::MAX);
        assert!(
            self.server.sa_count() <= bound,
            "{} SAs held, bound {bound}",
            self.server.sa_count()
        );
    }

    /// Delivers messages between the helper and the server until both are quiet.
    fn pump(&mut self) {
        for _ in 0..PUMP_ROUNDS {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                if FUZZ_SERVER.contains(&t.destination) {
                    let from = t.source.unwrap_or(FUZZ_SOURCES[0]);
                    let _ = self
                        .server
                        .handle_datagram(self.now, t.destination, from, &t.payload);
                }
            }
            self.drain_server();
            for t in core::mem::take(&mut self.to_client) {
                moved = true;
                let from = t.source.unwrap_or(FUZZ_SERVER[0]);
                let _ = self
                    .client
                    .handle_datagram(self.now, t.destination, from, &t.payload);
            }
            if !moved {
                return;
            }
        }
    }

    fn time_passes(&mut self, d: Duration) {
        self.now += d;
        self.server.handle_timeout(self.now);
        self.client.handle_timeout(self.now);
        self.drain_server();
        if let Some(at) = self.server.poll_timeout() {
            assert!(at > self.now, "a timer stays due after handle_timeout");
        }
    }

    fn helper(&mut self, action: u8) {
        let newest = self.client.children().last().map(|c| c.1);
        if matches!(action, 1 | 3) {
            // Each costs Diffie-Hellman work on both sides: a few per input reach every state.
            if self.helper_budget == 0 {
                return;
            }
            self.helper_budget -= 1;
        }
        match action {
            1 => {
                if let Some(spi) = newest {
                    self.client.rekey_child_now(self.now, spi);
                }
            }
            2 => self.client.delete_all(self.now),
            3 => {
                self.client.connect(
                    self.now,
                    FUZZ_SOURCES[0],
                    FUZZ_SERVER[0],
                    ChildRequest::default(),
                );
            }
            4 => {
                if let Some(spi) = newest {
                    self.client.delete_child(self.now, spi);
                }
            }
            _ => self.pump(),
        }
    }

    fn datagram(&mut self, op: u8, bytes: &[u8]) {
        let from = FUZZ_SOURCES[usize::from(op & 3)];
        let natt = from.port() == FUZZ_SERVER[1].port();
        let (to, message) = match (op >> 2) & 3 {
            KIND_RAW_500 => (FUZZ_SERVER[0], bytes.to_vec()),
            KIND_RAW_4500 => (FUZZ_SERVER[1], [&NON_ESP_MARKER[..], bytes].concat()),
            kind => {
                let exchange = if kind == KIND_QUICK {
                    ExchangeType::QuickMode
                } else {
                    ExchangeType::Informational
                };
                let Some(forged) = self.forge(exchange, hash_mode(op >> 4), bytes) else {
                    return;
                };
                if natt {
                    (FUZZ_SERVER[1], [&NON_ESP_MARKER[..], &forged].concat())
                } else {
                    (FUZZ_SERVER[0], forged)
                }
            }
        };
        let _ = self.server.handle_datagram(self.now, to, from, &message);
        self.drain_server();
    }

    /// A protected message of the helper's first ISAKMP SA: `spec` is the message ID (u32)
    /// then items `type (u8), length (u16), body`.
    fn forge(&self, exchange: ExchangeType, mode: HashMode, spec: &[u8]) -> Option<Vec<u8>> {
        let cookies = *self.client.established_cookies().first()?;
        let mid = u32::from_be_bytes(spec.get(..4)?.try_into().ok()?);
        let mut rest = &spec[4..];
        let mut items: Vec<(PayloadType, &[u8])> = Vec::new();
        while let [kind, l0, l1, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*l0, *l1]));
            let Some(body) = tail.get(..len) else { break };
            items.push((PayloadType::from(*kind), body));
            rest = &tail[len..];
            if items.len() == crate::wire::MAX_PAYLOADS {
                break;
            }
        }
        if items.is_empty() && mode == HashMode::Omitted {
            // Nothing to encrypt: `forge_protected` would hand an empty chain to the cipher.
            return None;
        }
        self.client
            .forge_protected(cookies, exchange, mid, &items, mode)
    }

    /// Far in the future every SA has expired or timed out: nothing may be left.
    fn finish(&mut self) {
        let end = self.now + Duration::from_secs(4 * 3600);
        let mut rounds = 0;
        while let Some(t) = self.server.poll_timeout().filter(|t| *t <= end) {
            rounds += 1;
            assert!(rounds < 100_000, "timers never settle");
            self.now = self.now.max(t);
            self.server.handle_timeout(self.now);
            self.to_client.clear();
            self.drain_server();
        }
        self.server.handle_timeout(end);
        self.drain_server();
        assert_eq!(self.server.sa_count(), 0, "SAs left 4 hours later");
        assert!(
            self.server.children().is_empty(),
            "IPsec SAs left 4 hours later"
        );
    }
}

impl Endpoint {
    /// The stateful fuzz target's starting point: its responder and its helper client. With
    /// `established`, the client has completed Main Mode and Quick Mode with the responder at
    /// `now` (everything deterministic: fixed seeds, no loss).
    pub fn fuzz_responder_endpoints(now: Instant, established: bool) -> (Self, Self) {
        let mut server = Self::new(Arc::new(fuzz_config(true)), FUZZ_SERVER_SEED);
        let mut client = Self::new(Arc::new(fuzz_config(false)), FUZZ_CLIENT_SEED);
        if established {
            client.connect(
                now,
                FUZZ_SOURCES[0],
                FUZZ_SERVER[0],
                ChildRequest::default(),
            );
            for _ in 0..PUMP_ROUNDS {
                let mut moved = false;
                while let Some(t) = client.poll_transmit() {
                    moved = true;
                    let _ = server.handle_datagram(
                        now,
                        t.destination,
                        t.source.unwrap_or(FUZZ_SOURCES[0]),
                        &t.payload,
                    );
                }
                while let Some(t) = server.poll_transmit() {
                    moved = true;
                    let _ = client.handle_datagram(
                        now,
                        t.destination,
                        t.source.unwrap_or(FUZZ_SERVER[0]),
                        &t.payload,
                    );
                }
                if !moved {
                    break;
                }
            }
            while server.poll_event().is_some() {}
            while client.poll_event().is_some() {}
        }
        (server, client)
    }

    /// Runs one input of the `ike_responder` fuzz target and returns the responder's counters
    /// and its first 256 events (before the final expiry). Panics only when an invariant
    /// breaks.
    ///
    /// Input: the first byte's bit 0 selects a helper client that has completed Main Mode and
    /// Quick Mode with the responder ([`Self::fuzz_responder_endpoints`]); then records:
    /// - `0x80 | n`: `n` seconds pass (`handle_timeout` on both endpoints);
    /// - `0x40 | a`: the helper acts: 1 rekeys its newest IPsec SA, 2 deletes everything, 3
    ///   starts another Main Mode (1 and 3: eight times per input at most), 4 deletes its newest
    ///   IPsec SA, anything else delivers what is in flight between it and the responder until
    ///   both are quiet;
    /// - `op` (bits 6-7 clear), a u16 length (big-endian) and that many bytes: a datagram from
    ///   source `op & 3` (192.0.2.3:500, 192.0.2.3:4500, 198.51.100.7:500,
    ///   \[2001:db8::7\]:500); bits 2-3: 0 the bytes to port 500, 1 the bytes to port 4500 after
    ///   the non-ESP marker, 2 a protected Informational and 3 a protected Quick Mode message
    ///   forged by the helper ([`Self::forge_protected`]) from the bytes (message ID u32, then
    ///   payloads `type u8, length u16, body`), with the HASH of bits 4-5 (0 correct, 1 omitted,
    ///   2 empty, 3 wrong).
    ///
    /// Invariants, after every record: every datagram sent goes to a source that exists, from
    /// one of the responder's addresses, framed for its port, with a valid header; the SAs held
    /// are at most the half-open cap plus those ever established; no timer is overdue after
    /// `handle_timeout`. At the end, four hours later, no SA is left.
    pub fn fuzz_responder(data: &[u8]) -> (Stats, Vec<Event>) {
        let Some((&flags, mut rest)) = data.split_first() else {
            return (Stats::default(), Vec::new());
        };
        let mut h = Harness::new(flags & 1 == 1);
        while let Some((&op, tail)) = rest.split_first() {
            rest = tail;
            if op & 0x80 != 0 {
                h.time_passes(Duration::from_secs(u64::from(op & 0x7f)));
            } else if op & 0x40 != 0 {
                h.helper(op & 0x3f);
                h.drain_server();
            } else {
                let Some(len) = tail
                    .get(..2)
                    .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                else {
                    break;
                };
                let Some(bytes) = tail.get(2..2 + len) else {
                    break;
                };
                rest = &tail[2 + len..];
                h.datagram(op, bytes);
            }
        }
        let stats = h.server.stats();
        let events = core::mem::take(&mut h.events);
        h.finish();
        (stats, events)
    }

    /// Appends a datagram record to a `fuzz_responder` input: `kind` 0 (port 500) or 1 (port
    /// 4500, marker added by the harness).
    pub fn fuzz_responder_datagram(out: &mut Vec<u8>, source: u8, kind: u8, bytes: &[u8]) {
        let len = bytes.len().min(usize::from(u16::MAX));
        out.push((source & 3) | ((kind & 1) << 2));
        out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&bytes[..len]);
    }

    /// Appends a protected-message record (forged by the helper client) to a `fuzz_responder`
    /// input.
    pub fn fuzz_responder_protected(
        out: &mut Vec<u8>,
        quick: bool,
        mode: HashMode,
        message_id: u32,
        items: &[(PayloadType, &[u8])],
    ) {
        let mut spec = message_id.to_be_bytes().to_vec();
        for (kind, body) in items {
            let body = &body[..body.len().min(usize::from(u16::MAX))];
            spec.push(kind.value());
            spec.extend_from_slice(&u16::try_from(body.len()).unwrap_or(u16::MAX).to_be_bytes());
            spec.extend_from_slice(body);
        }
        let kind = if quick {
            KIND_QUICK
        } else {
            KIND_INFORMATIONAL
        };
        let mode = match mode {
            HashMode::Correct => 0,
            HashMode::Omitted => 1,
            HashMode::Empty => 2,
            HashMode::Wrong => 3,
        };
        let len = spec.len().min(usize::from(u16::MAX));
        out.push((kind << 2) | (mode << 4));
        out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&spec[..len]);
    }
}
