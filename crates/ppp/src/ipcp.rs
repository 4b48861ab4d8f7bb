//! IPCP (RFC 1332) with the DNS and NBNS options of RFC 1877, and IPv6CP (RFC 5072).
//!
//! Server role: we offer our own address, give the peer the address it was assigned (Nak with
//! it whatever the peer asks for), and hand out DNS/NBNS servers when configured (Reject the
//! options otherwise). Client role: we ask for 0.0.0.0 and take what the server Naks, and ask
//! for DNS servers the same way. Van Jacobson compression is always refused (Reject).

use std::net::Ipv4Addr;

use crate::fsm::{Protocol, RequestVerdict};
use crate::wire::{self, IpcpOption, Ipv6cpOption};

/// IPCP option numbers (RFC 1332 §3, RFC 1877 §1).
const IP_ADDRESS: u8 = 3;
const PRIMARY_DNS: u8 = 129;
const PRIMARY_NBNS: u8 = 130;
const SECONDARY_DNS: u8 = 131;
const SECONDARY_NBNS: u8 = 132;

/// What IPCP settled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct IpcpResult {
    pub(crate) local: Option<Ipv4Addr>,
    pub(crate) peer: Option<Ipv4Addr>,
    pub(crate) dns: [Option<Ipv4Addr>; 2],
    pub(crate) nbns: [Option<Ipv4Addr>; 2],
}

/// IPCP's option policy.
#[derive(Debug)]
pub(crate) struct Ipcp {
    server: bool,
    /// Our address (server: configured; client: what we ask for, 0.0.0.0 until Nak'd).
    local: Ipv4Addr,
    /// The address the peer must get (server), from the authentication verdict or a pool.
    assigned_peer: Option<Ipv4Addr>,
    /// Servers to hand out (server role) or that we were given (client role), by option:
    /// primary DNS, primary NBNS, secondary DNS, secondary NBNS.
    offer: [(u8, Option<Ipv4Addr>); 4],
    /// Client: which of the four name-server options we still ask for.
    asking: [bool; 4],
    pub(crate) result: IpcpResult,
}

impl Ipcp {
    pub(crate) fn server(
        local: Ipv4Addr,
        dns: [Option<Ipv4Addr>; 2],
        nbns: [Option<Ipv4Addr>; 2],
    ) -> Self {
        Self {
            server: true,
            local,
            assigned_peer: None,
            offer: [
                (PRIMARY_DNS, dns[0]),
                (PRIMARY_NBNS, nbns[0]),
                (SECONDARY_DNS, dns[1]),
                (SECONDARY_NBNS, nbns[1]),
            ],
            asking: [false; 4],
            result: IpcpResult::default(),
        }
    }

    pub(crate) fn client(requested: Option<Ipv4Addr>) -> Self {
        Self {
            server: false,
            local: requested.unwrap_or(Ipv4Addr::UNSPECIFIED),
            assigned_peer: None,
            offer: [
                (PRIMARY_DNS, None),
                (PRIMARY_NBNS, None),
                (SECONDARY_DNS, None),
                (SECONDARY_NBNS, None),
            ],
            // Windows asks for DNS and NBNS; a Linux client asks for DNS (usepeerdns).
            asking: [true, false, true, false],
            result: IpcpResult::default(),
        }
    }

    /// Sets the address the peer gets (server role), before IPCP opens.
    pub(crate) fn assign_peer(&mut self, peer: Option<Ipv4Addr>) {
        self.assigned_peer = peer;
    }

    fn slot(kind: u8) -> Option<usize> {
        match kind {
            PRIMARY_DNS => Some(0),
            PRIMARY_NBNS => Some(1),
            SECONDARY_DNS => Some(2),
            SECONDARY_NBNS => Some(3),
            _ => None,
        }
    }

    fn make(kind: u8, a: Ipv4Addr) -> IpcpOption {
        match kind {
            PRIMARY_DNS => IpcpOption::PrimaryDns(a),
            PRIMARY_NBNS => IpcpOption::PrimaryNbns(a),
            SECONDARY_DNS => IpcpOption::SecondaryDns(a),
            SECONDARY_NBNS => IpcpOption::SecondaryNbns(a),
            _ => IpcpOption::IpAddress(a),
        }
    }
}

fn name_server(o: &IpcpOption) -> Option<(u8, Ipv4Addr)> {
    match *o {
        IpcpOption::PrimaryDns(a) => Some((PRIMARY_DNS, a)),
        IpcpOption::PrimaryNbns(a) => Some((PRIMARY_NBNS, a)),
        IpcpOption::SecondaryDns(a) => Some((SECONDARY_DNS, a)),
        IpcpOption::SecondaryNbns(a) => Some((SECONDARY_NBNS, a)),
        _ => None,
    }
}

impl Protocol for Ipcp {
    fn protocol(&self) -> u16 {
        0x8021
    }

    fn build_request(&mut self, out: &mut Vec<u8>) {
        IpcpOption::IpAddress(self.local).encode(out);
        if !self.server {
            for (i, &(kind, value)) in self.offer.iter().enumerate() {
                if self.asking[i] {
                    Self::make(kind, value.unwrap_or(Ipv4Addr::UNSPECIFIED)).encode(out);
                }
            }
        }
    }

    fn check_request(&mut self, options: &[u8]) -> RequestVerdict {
        let mut nak = Vec::new();
        let mut reject = Vec::new();
        let mut seen = [false; 256];
        let mut peer = None;
        for raw in wire::options(options) {
            let Ok(raw) = raw else {
                return RequestVerdict::Reject(options.to_vec());
            };
            let duplicate = std::mem::replace(&mut seen[usize::from(raw.kind)], true);
            let parsed = IpcpOption::parse(&raw);
            match parsed {
                _ if duplicate => wire::encode_option(raw.kind, raw.data, &mut reject),
                Ok(IpcpOption::IpAddress(a)) => {
                    if self.server {
                        match self.assigned_peer {
                            Some(want) if a != want => IpcpOption::IpAddress(want).encode(&mut nak),
                            Some(want) => peer = Some(want),
                            // No address to give: accept any real address the peer names.
                            None if a.is_unspecified() => {
                                wire::encode_option(raw.kind, raw.data, &mut reject)
                            }
                            None => peer = Some(a),
                        }
                    } else if a.is_unspecified() {
                        // The server does not know its own address: nothing we could suggest.
                        wire::encode_option(raw.kind, raw.data, &mut reject);
                    } else {
                        peer = Some(a);
                    }
                }
                Ok(ref o) if self.server && name_server(o).is_some() => {
                    let (kind, a) = name_server(o).unwrap_or((0, Ipv4Addr::UNSPECIFIED));
                    match Self::slot(kind).and_then(|i| self.offer[i].1) {
                        Some(ours) if ours != a => Self::make(kind, ours).encode(&mut nak),
                        Some(_) => {}
                        None => wire::encode_option(raw.kind, raw.data, &mut reject),
                    }
                }
                // VJ compression, the deprecated IP-Addresses, name servers asked of a client,
                // anything unknown or malformed (ROBUSTNESS 29: IP-Address length != 6).
                _ => wire::encode_option(raw.kind, raw.data, &mut reject),
            }
        }
        if !reject.is_empty() {
            return RequestVerdict::Reject(reject);
        }
        if !nak.is_empty() {
            return RequestVerdict::Nak(nak);
        }
        self.result.peer = peer;
        RequestVerdict::Ack
    }

    fn on_ack(&mut self, options: &[u8]) {
        self.result.local = Some(self.local);
        for raw in wire::options(options).flatten() {
            if let Some((kind, a)) = IpcpOption::parse(&raw).ok().as_ref().and_then(name_server) {
                if let Some(i) = Self::slot(kind) {
                    self.offer[i].1 = Some(a);
                }
            }
        }
        if self.server {
            self.result.dns = [self.offer[0].1, self.offer[2].1];
            self.result.nbns = [self.offer[1].1, self.offer[3].1];
        } else {
            let keep = |i: usize| self.offer[i].1.filter(|a| !a.is_unspecified());
            self.result.dns = [keep(0), keep(2)];
            self.result.nbns = [keep(1), keep(3)];
        }
    }

    fn on_nak(&mut self, options: &[u8]) {
        for raw in wire::options(options).flatten() {
            match IpcpOption::parse(&raw) {
                Ok(IpcpOption::IpAddress(a)) if !self.server => self.local = a,
                Ok(o) => {
                    if let Some((kind, a)) = name_server(&o) {
                        if let Some(i) = Self::slot(kind) {
                            if !self.server {
                                self.offer[i].1 = Some(a);
                                self.asking[i] = true;
                            }
                        }
                    }
                }
                Err(_) => {}
            }
        }
    }

    fn on_reject(&mut self, options: &[u8]) -> bool {
        for raw in wire::options(options).flatten() {
            match raw.kind {
                // We cannot run IP without an address.
                IP_ADDRESS => return false,
                k => {
                    if let Some(i) = Self::slot(k) {
                        self.asking[i] = false;
                    }
                }
            }
        }
        true
    }

    fn reset(&mut self) {
        self.result = IpcpResult::default();
    }
}

/// IPv6CP's option policy (RFC 5072 §4.1): interface identifiers, no compression.
#[derive(Debug)]
pub(crate) struct Ipv6cp {
    pub(crate) local_id: [u8; 8],
    pub(crate) peer_id: Option<[u8; 8]>,
    /// Identifier to suggest when the peer's is zero or collides with ours.
    suggest: [u8; 8],
}

impl Ipv6cp {
    pub(crate) fn new(local_id: [u8; 8], suggest: [u8; 8]) -> Self {
        Self {
            local_id,
            peer_id: None,
            suggest,
        }
    }
}

impl Protocol for Ipv6cp {
    fn protocol(&self) -> u16 {
        0x8057
    }

    fn build_request(&mut self, out: &mut Vec<u8>) {
        Ipv6cpOption::InterfaceIdentifier(self.local_id).encode(out);
    }

    fn check_request(&mut self, options: &[u8]) -> RequestVerdict {
        let mut nak = Vec::new();
        let mut reject = Vec::new();
        let mut peer = None;
        for raw in wire::options(options) {
            let Ok(raw) = raw else {
                return RequestVerdict::Reject(options.to_vec());
            };
            match Ipv6cpOption::parse(&raw) {
                Ok(Ipv6cpOption::InterfaceIdentifier(id))
                    if id == [0; 8] || id == self.local_id =>
                {
                    // §4.1: suggest a unique, non-zero identifier.
                    Ipv6cpOption::InterfaceIdentifier(self.suggest).encode(&mut nak);
                    self.suggest[7] = self.suggest[7].wrapping_add(1) | 1;
                }
                Ok(Ipv6cpOption::InterfaceIdentifier(id)) => peer = Some(id),
                _ => wire::encode_option(raw.kind, raw.data, &mut reject),
            }
        }
        if !reject.is_empty() {
            return RequestVerdict::Reject(reject);
        }
        if !nak.is_empty() {
            return RequestVerdict::Nak(nak);
        }
        self.peer_id = peer;
        RequestVerdict::Ack
    }

    fn on_ack(&mut self, _options: &[u8]) {}

    fn on_nak(&mut self, options: &[u8]) {
        for raw in wire::options(options).flatten() {
            if let Ok(Ipv6cpOption::InterfaceIdentifier(id)) = Ipv6cpOption::parse(&raw) {
                if id != [0; 8] {
                    self.local_id = id;
                }
            }
        }
    }

    fn on_reject(&mut self, _options: &[u8]) -> bool {
        false
    }
}
