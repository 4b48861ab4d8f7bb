//! Shared fixtures of the L2TP integration tests: an [`Endpoint`] as a testkit [`Node`].
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sras_core::Transmit;
use sras_l2tp::{Config, Endpoint, Error, Event, Received, SessionHandle};
use sras_testkit::Node;

/// An endpoint plus everything it reported.
pub struct L2tpNode {
    pub ep: Endpoint,
    pub events: Vec<Event>,
    pub data: Vec<(SessionHandle, Vec<u8>)>,
    pub errors: Vec<Error>,
}

impl L2tpNode {
    pub fn new(config: Config) -> Self {
        Self {
            ep: Endpoint::new(config),
            events: Vec::new(),
            data: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
    }

    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }

    pub fn sessions_up(&self) -> usize {
        self.count(|e| matches!(e, Event::SessionEstablished { .. }))
    }

    pub fn tunnels_up(&self) -> usize {
        self.count(|e| matches!(e, Event::TunnelEstablished { .. }))
    }

    pub fn established_sessions(&self) -> Vec<SessionHandle> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::SessionEstablished { session, .. } => Some(*session),
                _ => None,
            })
            .collect()
    }
}

impl Node for L2tpNode {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, _to: SocketAddr, data: &[u8]) {
        match self.ep.handle_datagram(now, from, data) {
            Ok(Received::Data { session, payload }) => self.data.push((session, payload.to_vec())),
            Ok(Received::Control) => {}
            Err(e) => self.errors.push(e),
        }
        self.drain();
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.drain();
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ep.poll_transmit()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.ep.poll_timeout()
    }
}

pub const LAC: &str = "192.0.2.10:1701";
pub const LNS: &str = "192.0.2.1:1701";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn lns_config(seed: u8) -> Config {
    Config {
        host_name: "lns".into(),
        rng_seed: [seed; 32],
        ..Config::default()
    }
}

pub fn lac_config(seed: u8) -> Config {
    Config {
        host_name: "lac".into(),
        accept_tunnels: false,
        rng_seed: [seed; 32],
        ..Config::default()
    }
}

/// Wraps `payload` with headroom, encapsulates it for `session`, returns the datagram.
pub fn encap(ep: &mut Endpoint, session: SessionHandle, payload: &[u8]) -> (SocketAddr, Vec<u8>) {
    let mut buf = vec![0u8; sras_l2tp::DATA_HEADER_MAX + payload.len()];
    buf[sras_l2tp::DATA_HEADER_MAX..].copy_from_slice(payload);
    let out = ep
        .encapsulate(
            session,
            &mut buf,
            sras_l2tp::DATA_HEADER_MAX..sras_l2tp::DATA_HEADER_MAX + payload.len(),
        )
        .unwrap();
    (out.destination, buf[out.range].to_vec())
}

pub const SECOND: Duration = Duration::from_secs(1);
