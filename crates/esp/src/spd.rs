//! The Security Policy Database as L2TP/IPsec needs it (seed 001 §3.3 and §4; RFC 3193).
//!
//! # Rules
//!
//! A [`Rule`] is one of the seed's filter statements: a direction, a [`Selector`] ("From
//! I-IPAddr, to R-IPAddr1, UDP, src Any-Port, dst 1701") and an [`Action`]: protect with a
//! given SA, require some IPsec, bypass or discard. Rules are searched first match, highest
//! priority (lowest number) first, as the seed lists its filters (§4.2.1: "listed from
//! highest priority to lowest priority").
//!
//! Two kinds of rules live here:
//!
//! - **Generic rules** ([`Spd::add_rule`], [`Spd::add_l2tp_listener`]): a short, operator-
//!   configured list, e.g. the responder's "Inbound: From Any-Addr, to R-IPAddr1, UDP, src
//!   Any-Port, dst 1701" that requires IPsec for every L2TP packet.
//! - **Tunnel filter sets** ([`Spd::install_l2tp_tunnel`], [`Spd::float_tunnel`],
//!   [`Spd::settle_tunnel`], [`Spd::remove_tunnel`]): the filters L2TP injects for one
//!   tunnel and binds to its SA (§4.2.2 to §4.2.4). They all sit at [`TUNNEL_PRIORITY`], so
//!   generic rules above it override them (an operator's Discard) and generic rules below
//!   it are the fallbacks the seed lists last (the Any-Addr inbound filter).
//!
//! Tunnel operations and the per-packet check take one hash probe (tunnels are indexed by
//! handle, by SA and by remote address) plus a walk over a handful of rules; only the
//! generic list is searched linearly.
//!
//! # The per-packet check (seed 001 §3.3)
//!
//! > When a packet arrives from a tunnel which requires security, L2TP MUST:
//! >
//! > \[1\]  Check to ensure that the packet was decrypted and/or authenticated
//! >      by IPsec. \[...\]
//! >
//! > \[2\]  Verify that the IP addresses and UDP port values in the packet
//! >      match the socket information which was used to setup the L2TP
//! >      tunnel.
//!
//! (seed 001 §3.3)
//!
//! [`Spd::check_inbound_l2tp`] answers both for an L2TP packet, given the SA that opened it
//! (or `None` for cleartext): the tunnel filter sets bound to that SA are searched first,
//! so several clients behind one NAT, whose decrypted L2TP packets all read
//! `NAT:1701 -> server:1701`, are told apart by their SAs. That is where the Linux stack
//! fails (CLIENTS.md §3 item 2): its policy for that 5-tuple can point at one SA only, so
//! the last client's Quick Mode steals the others' traffic. A plain first-match
//! [`Spd::lookup`] reproduces that ambiguity; the tunnel-indexed operations do not.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

use crate::sad::SaRef;

/// The L2TP port (RFC 2661 §8.1).
pub const L2TP_PORT: u16 = 1701;

/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// The priority of every tunnel filter. Generic rules with a lower number are searched
/// before all tunnel filters, the others after.
pub const TUNNEL_PRIORITY: u32 = 1000;

/// The priority [`Spd::add_l2tp_listener`] gives its rule: after the tunnel filters.
pub const LISTENER_PRIORITY: u32 = 2000;

/// The caller's handle of one L2TP tunnel's filter set. sras-stack creates one when the
/// Quick Mode protecting an L2TP control connection completes (seed 001 §4.2.2: "IKE should
/// inject a specific filter set [...] and associate this filter set with the phase 2 SA")
/// and keeps it until the tunnel is torn down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TunnelRef(pub u32);

/// Names one rule of an [`Spd`], for removal and for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u64);

/// Which traffic a rule filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Packets arriving: source is the remote end.
    Inbound,
    /// Packets leaving: source is the local end.
    Outbound,
}

/// An address field of a selector (seed 001 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrMatch {
    /// Any-Addr.
    Any,
    /// One address.
    Exact(IpAddr),
    /// A prefix: the address with its host bits cleared, and the prefix length.
    Prefix(IpAddr, u8),
}

impl AddrMatch {
    /// A prefix match; `None` if `len` exceeds the address length (32 or 128). Host bits
    /// of `addr` are cleared.
    pub fn prefix(addr: IpAddr, len: u8) -> Option<Self> {
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (len <= max).then(|| Self::Prefix(mask(addr, len), len))
    }

    /// Whether `addr` matches.
    pub fn matches(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        match *self {
            Self::Any => true,
            Self::Exact(a) => a.to_canonical() == addr,
            Self::Prefix(p, len) => p.is_ipv4() == addr.is_ipv4() && mask(addr, len) == p,
        }
    }

    /// Whether every address `other` matches, this matches too.
    pub fn contains(&self, other: &Self) -> bool {
        match (*self, *other) {
            (Self::Any, _) => true,
            (_, Self::Any) => false,
            (_, Self::Exact(a)) => self.matches(a),
            (Self::Exact(_), Self::Prefix(..)) => false,
            (Self::Prefix(p, len), Self::Prefix(q, qlen)) => {
                p.is_ipv4() == q.is_ipv4() && qlen >= len && mask(q, len) == p
            }
        }
    }
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

/// A port field of a selector (seed 001 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortMatch {
    /// Any-Port.
    Any,
    /// One port.
    Exact(u16),
}

impl PortMatch {
    /// `Exact(port)`, or `Any` for port 0: a Quick Mode ID's port 0 means any (seed 001
    /// §4.2.1, "Any-Port").
    pub fn from_port(port: u16) -> Self {
        if port == 0 {
            Self::Any
        } else {
            Self::Exact(port)
        }
    }

    /// Whether `port` matches.
    pub fn matches(&self, port: u16) -> bool {
        match *self {
            Self::Any => true,
            Self::Exact(p) => p == port,
        }
    }

    /// Whether every port `other` matches, this matches too.
    pub fn contains(&self, other: &Self) -> bool {
        match (*self, *other) {
            (Self::Any, _) => true,
            (Self::Exact(a), Self::Exact(b)) => a == b,
            (Self::Exact(_), Self::Any) => false,
        }
    }
}

/// The traffic a rule applies to, seen from this host: local and remote addresses and
/// ports, and the IP protocol. Inbound, the remote end is the source; outbound, the
/// destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Selector {
    /// Our address.
    pub local_addr: AddrMatch,
    /// The peer's address.
    pub remote_addr: AddrMatch,
    /// The IP protocol (`Some(17)` for L2TP), `None` for any.
    pub protocol: Option<u8>,
    /// Our port.
    pub local_port: PortMatch,
    /// The peer's port.
    pub remote_port: PortMatch,
}

impl Selector {
    /// A UDP selector.
    pub fn udp(
        local_addr: AddrMatch,
        local_port: PortMatch,
        remote_addr: AddrMatch,
        remote_port: PortMatch,
    ) -> Self {
        Self {
            local_addr,
            remote_addr,
            protocol: Some(IPPROTO_UDP),
            local_port,
            remote_port,
        }
    }

    /// Whether a packet of `flow` travelling in `direction` matches.
    pub fn matches(&self, direction: Direction, flow: &Flow) -> bool {
        let (local, remote) = flow.local_remote(direction);
        self.protocol.is_none_or(|p| p == flow.protocol)
            && self.local_addr.matches(local.ip())
            && self.remote_addr.matches(remote.ip())
            && self.local_port.matches(local.port())
            && self.remote_port.matches(remote.port())
    }

    /// Whether every packet `other` matches, this matches too: for checking that the
    /// Quick Mode IDs a peer proposes are a subset of a rule (seed 001 §4.2.2: "The quick
    /// mode IDs sent by the initiator will be a subset of the Inbound-1 filter at the
    /// responder").
    pub fn contains(&self, other: &Self) -> bool {
        let proto = match (self.protocol, other.protocol) {
            (None, _) => true,
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
        };
        proto
            && self.local_addr.contains(&other.local_addr)
            && self.remote_addr.contains(&other.remote_addr)
            && self.local_port.contains(&other.local_port)
            && self.remote_port.contains(&other.remote_port)
    }
}

/// A packet's 5-tuple as it travels: source, destination and IP protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// The IP protocol.
    pub protocol: u8,
    /// The source address and port.
    pub src: SocketAddr,
    /// The destination address and port.
    pub dst: SocketAddr,
}

impl Flow {
    /// A UDP packet from `src` to `dst`.
    pub fn udp(src: SocketAddr, dst: SocketAddr) -> Self {
        Self {
            protocol: IPPROTO_UDP,
            src,
            dst,
        }
    }

    /// (local, remote) for a packet travelling in `direction`, IPv4-mapped addresses
    /// made plain IPv4.
    fn local_remote(&self, direction: Direction) -> (SocketAddr, SocketAddr) {
        let (l, r) = match direction {
            Direction::Inbound => (self.dst, self.src),
            Direction::Outbound => (self.src, self.dst),
        };
        (canonical(l), canonical(r))
    }
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// What a rule does with the traffic it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Protect with this flow's SAs: outbound, seal with its SA; inbound, accept only what
    /// arrived through one of its SAs.
    Protect(SaRef),
    /// Require IPsec without naming the SA: the responder's initial "From Any-Addr"
    /// filter (seed 001 §4.2.2), satisfied by whatever SA Quick Mode set up for the peer.
    /// Cleartext is refused; outbound there is no SA to use, so it acts as Discard.
    RequireIpsec,
    /// Let the packet pass, protected or not.
    Bypass,
    /// Drop the packet.
    Discard,
}

/// One filter statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its name in this SPD.
    pub id: RuleId,
    /// The traffic direction it filters.
    pub direction: Direction,
    /// The traffic it matches.
    pub selector: Selector,
    /// What it does.
    pub action: Action,
    /// Search order: lower first; rules of equal priority in the order they were added.
    pub priority: u32,
    /// The tunnel filter set it belongs to, `None` for a generic rule.
    pub tunnel: Option<TunnelRef>,
}

/// Which end of the L2TP control connection this host is (seed 001 §4.2.1): the filter
/// sets differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L2tpRole {
    /// We sent the SCCRQ (a LAC, or the sras client): the responder may float its port.
    Initiator,
    /// We answered the SCCRQ (the LNS).
    Responder,
}

/// A tunnel filter set's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelInfo {
    /// Our end.
    pub role: L2tpRole,
    /// Our address and L2TP port.
    pub local: SocketAddr,
    /// The peer's current address and port (port 0: not yet known, Any-Port).
    pub remote: SocketAddr,
    /// The SA flow the current rules protect with.
    pub sa: SaRef,
}

/// How [`Spd::float_tunnel`] changed a tunnel's filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floated {
    /// Nothing: same address, port and SA.
    Unchanged,
    /// The peer's port changed (seed 001 §4.2.4): filters for the new port were injected
    /// above the old ones, which stay until [`Spd::settle_tunnel`].
    Port,
    /// The peer's address changed (a NAT rebinding, or seed 001 §4.2.3): the tunnel's
    /// filters were replaced by a set for the new address.
    Address,
}

/// Where an inbound L2TP packet was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// By a tunnel's filters, through that tunnel's SA and with its addresses and ports.
    Tunnel(TunnelRef),
    /// By a generic rule (`None`: the default action), e.g. the responder's Any-Addr
    /// filter for the SCCRQ that opens a tunnel, or a bypass for cleartext L2TP where no
    /// IPsec is mandated.
    Generic {
        /// The rule, `None` for the SPD's default action.
        rule: Option<RuleId>,
        /// The SA the packet came through, if any.
        protected_by: Option<SaRef>,
    },
}

/// An inbound or outbound L2TP packet that policy refuses: drop it and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// Cleartext where a rule requires IPsec (seed 001 §3.3 \[1\]).
    #[error("cleartext {src} -> {dst} where IPsec is required (rule {rule:?})")]
    Cleartext {
        /// Source.
        src: SocketAddr,
        /// Destination.
        dst: SocketAddr,
        /// The rule requiring protection, `None` for the default action.
        rule: Option<RuleId>,
    },
    /// The addresses and ports belong to a rule protecting with another SA (seed 001 §3.3
    /// \[2\]): spoofed into another tunnel.
    #[error("{src} -> {dst} arrived through SA {arrived:?}, policy requires SA {expected:?}")]
    WrongSa {
        /// Source.
        src: SocketAddr,
        /// Destination.
        dst: SocketAddr,
        /// The SA it came through.
        arrived: SaRef,
        /// The SA the matching rule names.
        expected: SaRef,
        /// That rule, `None` for the default action.
        rule: Option<RuleId>,
    },
    /// Through an SA bound to tunnels, none of whose filters admit these addresses and
    /// ports (seed 001 §3.3 \[2\]).
    #[error("{src} -> {dst} arrived through SA {sa:?}, whose tunnel filters do not admit it")]
    OutsideTunnelFilters {
        /// Source.
        src: SocketAddr,
        /// Destination.
        dst: SocketAddr,
        /// The SA it came through (or, outbound, the tunnel's SA).
        sa: SaRef,
    },
    /// A Discard rule (or the default action) matched.
    #[error("{src} -> {dst} discarded by rule {rule:?}")]
    Discarded {
        /// Source.
        src: SocketAddr,
        /// Destination.
        dst: SocketAddr,
        /// The rule, `None` for the default action.
        rule: Option<RuleId>,
    },
    /// No filter set for this tunnel.
    #[error("no filters for tunnel {0:?}")]
    UnknownTunnel(TunnelRef),
}

/// Why an SPD operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SpdError {
    /// The tunnel already has a filter set.
    #[error("tunnel {0:?} already has filters")]
    TunnelExists(TunnelRef),
    /// The tunnel has no filter set.
    #[error("no filters for tunnel {0:?}")]
    UnknownTunnel(TunnelRef),
    /// A tunnel's addresses must be specific (not 0.0.0.0 or ::).
    #[error("unspecified address {0} for a tunnel filter")]
    UnspecifiedAddress(IpAddr),
    /// Local and remote addresses of different IP versions.
    #[error("local {local} and remote {remote} differ in IP version")]
    FamilyMismatch {
        /// Local.
        local: SocketAddr,
        /// Remote.
        remote: SocketAddr,
    },
}

#[derive(Debug, Clone)]
struct TunnelFilters {
    info: TunnelInfo,
    /// Highest priority first.
    rules: Vec<Rule>,
}

impl TunnelFilters {
    fn sas(&self) -> Vec<SaRef> {
        let mut v: Vec<SaRef> = self
            .rules
            .iter()
            .filter_map(|r| match r.action {
                Action::Protect(sa) => Some(sa),
                _ => None,
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn first(&self, direction: Direction, flow: &Flow) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.direction == direction && r.selector.matches(direction, flow))
    }
}

/// The SPD: generic rules plus one filter set per L2TP tunnel.
#[derive(Debug, Clone)]
pub struct Spd {
    /// Sorted by priority, stable.
    generic: Vec<Rule>,
    tunnels: HashMap<TunnelRef, TunnelFilters>,
    /// Tunnels whose rules protect with an SA, in installation order.
    by_sa: HashMap<SaRef, Vec<TunnelRef>>,
    /// Tunnels by their peer's address, in installation order.
    by_remote: HashMap<IpAddr, Vec<TunnelRef>>,
    default: Action,
    next_rule: u64,
}

impl Default for Spd {
    fn default() -> Self {
        Self::new()
    }
}

impl Spd {
    /// An empty SPD whose default action (when no rule matches) is Discard: with IPsec
    /// mandated, what no rule admits is dropped.
    pub fn new() -> Self {
        Self::with_default(Action::Discard)
    }

    /// An empty SPD with `default` as the action when no rule matches (Bypass where L2TP
    /// without IPsec is allowed).
    pub fn with_default(default: Action) -> Self {
        Self {
            generic: Vec::new(),
            tunnels: HashMap::new(),
            by_sa: HashMap::new(),
            by_remote: HashMap::new(),
            default,
            next_rule: 1,
        }
    }

    /// The action when no rule matches.
    pub fn default_action(&self) -> Action {
        self.default
    }

    fn rule_id(&mut self) -> RuleId {
        let id = RuleId(self.next_rule);
        self.next_rule += 1;
        id
    }

    /// Adds a generic rule; among rules of equal priority it comes last.
    pub fn add_rule(
        &mut self,
        direction: Direction,
        selector: Selector,
        action: Action,
        priority: u32,
    ) -> RuleId {
        let id = self.rule_id();
        let at = self.generic.partition_point(|r| r.priority <= priority);
        self.generic.insert(
            at,
            Rule {
                id,
                direction,
                selector,
                action,
                priority,
                tunnel: None,
            },
        );
        id
    }

    /// The responder's standing L2TP filter (seed 001 §4.2.2, Inbound-2; §4.2.5):
    /// "Inbound: From Any-Addr, to R-IPAddr1, UDP, src Any-Port, dst 1701" with `action`
    /// (normally [`Action::RequireIpsec`]), below the tunnel filters.
    pub fn add_l2tp_listener(&mut self, local: AddrMatch, action: Action) -> RuleId {
        self.add_rule(
            Direction::Inbound,
            Selector::udp(
                local,
                PortMatch::Exact(L2TP_PORT),
                AddrMatch::Any,
                PortMatch::Any,
            ),
            action,
            LISTENER_PRIORITY,
        )
    }

    /// Removes a generic rule.
    pub fn remove_rule(&mut self, id: RuleId) -> Option<Rule> {
        let i = self.generic.iter().position(|r| r.id == id)?;
        Some(self.generic.remove(i))
    }

    /// First match for a packet of `flow` travelling in `direction`: generic rules above
    /// [`TUNNEL_PRIORITY`], then the filters of the tunnels whose peer is the packet's remote
    /// address (in installation order), then the other generic rules. `None`: the default
    /// action applies.
    ///
    /// Several tunnels with the same peer address and ports (clients behind one NAT) make
    /// this ambiguous: the first tunnel's rule wins, as in a kernel SPD. Use the tunnel
    /// operations ([`Spd::check_inbound_l2tp`], [`Spd::check_outbound_l2tp`]) for L2TP.
    pub fn lookup(&self, direction: Direction, flow: &Flow) -> Option<&Rule> {
        self.generic_before(direction, flow)
            .or_else(|| self.tunnel_lookup(direction, flow))
            .or_else(|| self.generic_after(direction, flow))
    }

    fn generic_before(&self, direction: Direction, flow: &Flow) -> Option<&Rule> {
        self.generic
            .iter()
            .take_while(|r| r.priority < TUNNEL_PRIORITY)
            .find(|r| r.direction == direction && r.selector.matches(direction, flow))
    }

    fn generic_after(&self, direction: Direction, flow: &Flow) -> Option<&Rule> {
        self.generic
            .iter()
            .skip_while(|r| r.priority < TUNNEL_PRIORITY)
            .find(|r| r.direction == direction && r.selector.matches(direction, flow))
    }

    fn tunnel_lookup(&self, direction: Direction, flow: &Flow) -> Option<&Rule> {
        let (_, remote) = flow.local_remote(direction);
        self.by_remote
            .get(&remote.ip())?
            .iter()
            .filter_map(|t| self.tunnels.get(t))
            .find_map(|t| t.first(direction, flow))
    }

    /// Every rule, generic and tunnel: the generic rules above [`TUNNEL_PRIORITY`], the
    /// tunnel filter sets (each in its order, the sets in no particular order), then the
    /// other generic rules. For listing and statistics; [`Spd::lookup`] searches.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        let before = self
            .generic
            .iter()
            .take_while(|r| r.priority < TUNNEL_PRIORITY);
        let after = self
            .generic
            .iter()
            .skip_while(|r| r.priority < TUNNEL_PRIORITY);
        before
            .chain(self.tunnels.values().flat_map(|t| t.rules.iter()))
            .chain(after)
    }

    /// Number of rules, generic and tunnel.
    pub fn len(&self) -> usize {
        self.generic.len() + self.tunnels.values().map(|t| t.rules.len()).sum::<usize>()
    }

    /// Whether there is no rule at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of tunnel filter sets.
    pub fn tunnel_count(&self) -> usize {
        self.tunnels.len()
    }

    /// A tunnel's state.
    pub fn tunnel(&self, tunnel: TunnelRef) -> Option<TunnelInfo> {
        self.tunnels.get(&tunnel).map(|t| t.info)
    }

    /// A tunnel's filters, highest priority first.
    pub fn tunnel_rules(&self, tunnel: TunnelRef) -> &[Rule] {
        self.tunnels
            .get(&tunnel)
            .map(|t| &t.rules[..])
            .unwrap_or_default()
    }

    /// The tunnels whose filters protect with `sa`.
    pub fn tunnels_of_sa(&self, sa: SaRef) -> &[TunnelRef] {
        self.by_sa.get(&sa).map(|v| &v[..]).unwrap_or_default()
    }

    fn tunnel_rule(
        &mut self,
        tunnel: TunnelRef,
        direction: Direction,
        local: SocketAddr,
        remote_ip: IpAddr,
        remote_port: PortMatch,
        sa: SaRef,
    ) -> Rule {
        Rule {
            id: self.rule_id(),
            direction,
            selector: Selector::udp(
                AddrMatch::Exact(local.ip()),
                PortMatch::from_port(local.port()),
                AddrMatch::Exact(remote_ip),
                remote_port,
            ),
            action: Action::Protect(sa),
            priority: TUNNEL_PRIORITY,
            tunnel: Some(tunnel),
        }
    }

    /// The filters for a tunnel between `local` and `remote` (port 0: Any-Port), per role:
    /// seed 001 §4.2.2 ("Initial filters needed to protect the SCCRQ").
    fn initial_rules(
        &mut self,
        tunnel: TunnelRef,
        role: L2tpRole,
        local: SocketAddr,
        remote: SocketAddr,
        sa: SaRef,
    ) -> Vec<Rule> {
        let port = PortMatch::from_port(remote.port());
        let mut rules = vec![
            // Outbound-1: From <local>, to <remote>, UDP, src <local port>, dst <remote port>
            self.tunnel_rule(tunnel, Direction::Outbound, local, remote.ip(), port, sa),
            // Inbound-1:  From <remote>, to <local>, UDP, src <remote port>, dst <local port>
            self.tunnel_rule(tunnel, Direction::Inbound, local, remote.ip(), port, sa),
        ];
        if role == L2tpRole::Initiator && port != PortMatch::Any {
            //= seed 001 §4.2.2
            //# Inbound-2:  From R-IPAddr1, to I-IPAddr,  UDP, src Any-Port, dst I-Port
            //# [...] needed to handle the potential port change which may occur as the
            //# result of the responder changing its port number.
            rules.push(self.tunnel_rule(
                tunnel,
                Direction::Inbound,
                local,
                remote.ip(),
                PortMatch::Any,
                sa,
            ));
        }
        rules
    }

    fn check_endpoints(local: SocketAddr, remote: SocketAddr) -> Result<(), SpdError> {
        for a in [local.ip(), remote.ip()] {
            if a.is_unspecified() {
                return Err(SpdError::UnspecifiedAddress(a));
            }
        }
        if local.is_ipv4() != remote.is_ipv4() {
            return Err(SpdError::FamilyMismatch { local, remote });
        }
        Ok(())
    }

    /// Installs the filters of one L2TP tunnel protected by `sa`, between our `local`
    /// address and L2TP port and the peer's `remote` (seed 001 §4.2.2; port 0 for a peer
    /// port not yet known, from a Quick Mode ID of port 0):
    ///
    /// ```text
    /// Responder (LNS)   Outbound-1: From local, to remote, UDP, src local port, dst remote port
    ///                   Inbound-1:  From remote, to local, UDP, src remote port, dst local port
    /// Initiator (LAC)   the same, plus
    ///                   Inbound-2:  From remote, to local, UDP, src Any-Port, dst local port
    /// ```
    ///
    /// all protected by `sa`. The responder's "From Any-Addr" filter is the generic
    /// [`Spd::add_l2tp_listener`].
    pub fn install_l2tp_tunnel(
        &mut self,
        tunnel: TunnelRef,
        role: L2tpRole,
        local: SocketAddr,
        remote: SocketAddr,
        sa: SaRef,
    ) -> Result<(), SpdError> {
        if self.tunnels.contains_key(&tunnel) {
            return Err(SpdError::TunnelExists(tunnel));
        }
        let (local, remote) = (canonical(local), canonical(remote));
        Self::check_endpoints(local, remote)?;
        let rules = self.initial_rules(tunnel, role, local, remote, sa);
        let filters = TunnelFilters {
            info: TunnelInfo {
                role,
                local,
                remote,
                sa,
            },
            rules,
        };
        self.tunnels.insert(tunnel, filters);
        self.reindex(tunnel, None, &[]);
        Ok(())
    }

    /// Updates `by_sa` and `by_remote` for `tunnel` after its rules changed from
    /// (`old_remote`, `old_sas`) to its current state (or after its removal).
    fn reindex(&mut self, tunnel: TunnelRef, old_remote: Option<IpAddr>, old_sas: &[SaRef]) {
        let (new_remote, new_sas) = match self.tunnels.get(&tunnel) {
            Some(t) => (Some(t.info.remote.ip()), t.sas()),
            None => (None, Vec::new()),
        };
        for sa in old_sas.iter().filter(|s| !new_sas.contains(s)) {
            if let Some(v) = self.by_sa.get_mut(sa) {
                v.retain(|t| *t != tunnel);
                if v.is_empty() {
                    self.by_sa.remove(sa);
                }
            }
        }
        for sa in new_sas.iter().filter(|s| !old_sas.contains(s)) {
            self.by_sa.entry(*sa).or_default().push(tunnel);
        }
        if old_remote != new_remote {
            if let Some(old) = old_remote {
                if let Some(v) = self.by_remote.get_mut(&old) {
                    v.retain(|t| *t != tunnel);
                    if v.is_empty() {
                        self.by_remote.remove(&old);
                    }
                }
            }
            if let Some(new) = new_remote {
                self.by_remote.entry(new).or_default().push(tunnel);
            }
        }
    }

    /// The peer of `tunnel` moved to `new_remote`, and, when `sa` is given, a new Phase 2
    /// protects it there (seed 001 §4.2.4: the responder negotiates one for its new port).
    ///
    /// - **New port, same address** (seed 001 §4.2.4; e.g. the LNS answers the SCCRQ from
    ///   a port other than 1701): filters for the new port are injected above the tunnel's
    ///   others,
    ///
    ///   ```text
    ///   Outbound: From local, to remote, UDP, src local port, dst new port
    ///   Inbound:  From remote, to local, UDP, src new port,   dst local port
    ///   ```
    ///
    ///   protected by `sa` (or the tunnel's current SA), and the earlier ones stay below
    ///   them (the seed's Outbound-2, Inbound-2, Inbound-3) until [`Spd::settle_tunnel`].
    /// - **New address** (a NAT rebinding the peer to a new public address, seen by IKE
    ///   through authenticated packets; or the initiator following a StopCCN "try another",
    ///   §4.2.3): the old address is gone, so the tunnel's filters are replaced by the
    ///   initial set for the new address.
    ///
    /// Returns the SAs no tunnel's filters name any more (to delete, seed 001 §3.1).
    pub fn float_tunnel(
        &mut self,
        tunnel: TunnelRef,
        new_remote: SocketAddr,
        sa: Option<SaRef>,
    ) -> Result<(Floated, Vec<SaRef>), SpdError> {
        let new_remote = canonical(new_remote);
        let t = self
            .tunnels
            .get(&tunnel)
            .ok_or(SpdError::UnknownTunnel(tunnel))?;
        let info = t.info;
        Self::check_endpoints(info.local, new_remote)?;
        let sa = sa.unwrap_or(info.sa);
        let old_sas = t.sas();
        let kind = if new_remote.ip() != info.remote.ip() {
            Floated::Address
        } else if new_remote.port() != info.remote.port() || sa != info.sa {
            Floated::Port
        } else {
            return Ok((Floated::Unchanged, Vec::new()));
        };
        match kind {
            Floated::Address => {
                let rules = self.initial_rules(tunnel, info.role, info.local, new_remote, sa);
                let t = self.tunnels.get_mut(&tunnel).expect("looked up above");
                t.rules = rules;
            }
            _ => {
                let port = PortMatch::from_port(new_remote.port());
                let out = self.tunnel_rule(
                    tunnel,
                    Direction::Outbound,
                    info.local,
                    new_remote.ip(),
                    port,
                    sa,
                );
                let inb = self.tunnel_rule(
                    tunnel,
                    Direction::Inbound,
                    info.local,
                    new_remote.ip(),
                    port,
                    sa,
                );
                let t = self.tunnels.get_mut(&tunnel).expect("looked up above");
                // A port floated back to: drop the filters it had, to inject them on top.
                t.rules.retain(|r| {
                    !((r.selector == out.selector && r.direction == Direction::Outbound)
                        || (r.selector == inb.selector && r.direction == Direction::Inbound))
                });
                t.rules.splice(0..0, [out, inb]);
            }
        }
        let t = self.tunnels.get_mut(&tunnel).expect("looked up above");
        t.info.remote = new_remote;
        t.info.sa = sa;
        self.reindex(tunnel, Some(info.remote.ip()), &old_sas);
        Ok((kind, self.orphans(&old_sas)))
    }

    /// Narrows a tunnel's filters to its current peer port and SA once the tunnel is
    /// established (seed 001 §4.2.4: "After the L2TP tunnel has been established, any
    /// residual SAs and their associated filters may be deleted"): what remains is
    ///
    /// ```text
    /// Outbound: From local, to remote, UDP, src local port, dst remote port
    /// Inbound:  From remote, to local, UDP, src remote port, dst local port
    /// ```
    ///
    /// protected by the current SA; the initiator's Any-Port filter and the filters of
    /// ports floated away from are gone. Returns the SAs no tunnel names any more.
    pub fn settle_tunnel(&mut self, tunnel: TunnelRef) -> Result<Vec<SaRef>, SpdError> {
        let t = self
            .tunnels
            .get(&tunnel)
            .ok_or(SpdError::UnknownTunnel(tunnel))?;
        let (info, old_sas) = (t.info, t.sas());
        let rules = self.initial_rules(
            tunnel,
            L2tpRole::Responder,
            info.local,
            info.remote,
            info.sa,
        );
        self.tunnels
            .get_mut(&tunnel)
            .expect("looked up above")
            .rules = rules;
        self.reindex(tunnel, Some(info.remote.ip()), &old_sas);
        Ok(self.orphans(&old_sas))
    }

    /// Removes a tunnel's filters at teardown (seed 001 §3.1: "The L2TP tunnel state and
    /// any associated filters can now be safely removed"). Returns the SAs no other tunnel
    /// names, which "SHOULD be deleted", or `None` if the tunnel had no filters.
    pub fn remove_tunnel(&mut self, tunnel: TunnelRef) -> Option<Vec<SaRef>> {
        let t = self.tunnels.remove(&tunnel)?;
        let old_sas = t.sas();
        self.reindex(tunnel, Some(t.info.remote.ip()), &old_sas);
        Some(self.orphans(&old_sas))
    }

    fn orphans(&self, sas: &[SaRef]) -> Vec<SaRef> {
        sas.iter()
            .copied()
            .filter(|sa| !self.by_sa.contains_key(sa))
            .collect()
    }

    /// Judges a packet by the rule that matched it (or the default action).
    fn judge(
        &self,
        rule: Option<&Rule>,
        via: Option<SaRef>,
        flow: &Flow,
    ) -> Result<Admission, PolicyViolation> {
        let (src, dst) = (flow.src, flow.dst);
        let action = rule.map_or(self.default, |r| r.action);
        let id = rule.map(|r| r.id);
        match (action, via) {
            (Action::Discard, _) => Err(PolicyViolation::Discarded { src, dst, rule: id }),
            (Action::Protect(_) | Action::RequireIpsec, None) => {
                Err(PolicyViolation::Cleartext { src, dst, rule: id })
            }
            (Action::Protect(expected), Some(arrived)) if expected != arrived => {
                Err(PolicyViolation::WrongSa {
                    src,
                    dst,
                    arrived,
                    expected,
                    rule: id,
                })
            }
            (Action::Protect(_), Some(_)) => match rule.and_then(|r| r.tunnel) {
                Some(t) => Ok(Admission::Tunnel(t)),
                None => Ok(Admission::Generic {
                    rule: id,
                    protected_by: via,
                }),
            },
            (Action::RequireIpsec | Action::Bypass, _) => Ok(Admission::Generic {
                rule: id,
                protected_by: via,
            }),
        }
    }

    /// The per-packet check of seed 001 §3.3 for an inbound L2TP packet from `src` to
    /// `dst` (the decrypted packet's addresses and UDP ports), which arrived through the SA
    /// flow `arrived_via` (from [`Sad::inbound_mut`](crate::sad::Sad::inbound_mut)), or in
    /// cleartext (`None`).
    ///
    /// 1. Generic rules above [`TUNNEL_PRIORITY`] first.
    /// 2. Through an SA bound to tunnel filter sets: the first of those tunnels whose
    ///    first matching inbound filter protects with this very SA admits the packet as
    ///    [`Admission::Tunnel`]. None does: the packet is outside what the SA was
    ///    negotiated for ([`PolicyViolation::WrongSa`] if another tunnel's filter claims
    ///    these addresses, else [`PolicyViolation::OutsideTunnelFilters`]).
    /// 3. Otherwise (cleartext, or an SA bound to no tunnel), first match over the tunnels'
    ///    filters and the generic rules: protection required and none →
    ///    [`PolicyViolation::Cleartext`]; another SA named → [`PolicyViolation::WrongSa`].
    pub fn check_inbound_l2tp(
        &self,
        arrived_via: Option<SaRef>,
        src: SocketAddr,
        dst: SocketAddr,
    ) -> Result<Admission, PolicyViolation> {
        let flow = Flow::udp(src, dst);
        let dir = Direction::Inbound;
        if let Some(r) = self.generic_before(dir, &flow) {
            return self.judge(Some(r), arrived_via, &flow);
        }
        if let Some(sa) = arrived_via {
            if let Some(tunnels) = self.by_sa.get(&sa) {
                for t in tunnels {
                    let Some(filters) = self.tunnels.get(t) else {
                        continue;
                    };
                    if let Some(r) = filters.first(dir, &flow) {
                        if r.action == Action::Protect(sa) {
                            return Ok(Admission::Tunnel(*t));
                        }
                    }
                }
                return match self.tunnel_lookup(dir, &flow) {
                    Some(r) => self.judge(Some(r), arrived_via, &flow),
                    None => Err(PolicyViolation::OutsideTunnelFilters { src, dst, sa }),
                };
            }
        }
        let rule = self
            .tunnel_lookup(dir, &flow)
            .or_else(|| self.generic_after(dir, &flow));
        self.judge(rule, arrived_via, &flow)
    }

    /// The per-packet check of seed 001 §3.3 once L2TP has demultiplexed the packet to a
    /// tunnel: do its addresses, ports and SA match `tunnel`'s filters (first match)?
    pub fn check_inbound_for_tunnel(
        &self,
        tunnel: TunnelRef,
        arrived_via: Option<SaRef>,
        src: SocketAddr,
        dst: SocketAddr,
    ) -> Result<(), PolicyViolation> {
        let flow = Flow::udp(src, dst);
        let filters = self
            .tunnels
            .get(&tunnel)
            .ok_or(PolicyViolation::UnknownTunnel(tunnel))?;
        if let Some(r) = self.generic_before(Direction::Inbound, &flow) {
            return self.judge(Some(r), arrived_via, &flow).map(|_| ());
        }
        match filters.first(Direction::Inbound, &flow) {
            Some(r) => self.judge(Some(r), arrived_via, &flow).map(|_| ()),
            None => Err(PolicyViolation::OutsideTunnelFilters {
                src,
                dst,
                sa: arrived_via.unwrap_or(filters.info.sa),
            }),
        }
    }

    /// The SA flow to seal an L2TP packet of `tunnel` from `src` to `dst` with: the first of
    /// the tunnel's outbound filters that matches (one hash probe, whatever the number of
    /// tunnels sharing the peer's address and ports).
    pub fn check_outbound_l2tp(
        &self,
        tunnel: TunnelRef,
        src: SocketAddr,
        dst: SocketAddr,
    ) -> Result<SaRef, PolicyViolation> {
        let flow = Flow::udp(src, dst);
        let filters = self
            .tunnels
            .get(&tunnel)
            .ok_or(PolicyViolation::UnknownTunnel(tunnel))?;
        let rule = self
            .generic_before(Direction::Outbound, &flow)
            .or_else(|| filters.first(Direction::Outbound, &flow));
        match rule.map(|r| (r.action, r.id)) {
            Some((Action::Protect(sa), _)) => Ok(sa),
            Some((_, id)) => Err(PolicyViolation::Discarded {
                src,
                dst,
                rule: Some(id),
            }),
            None => Err(PolicyViolation::OutsideTunnelFilters {
                src,
                dst,
                sa: filters.info.sa,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_matching() {
        let p = AddrMatch::prefix(ip("192.0.2.77"), 24).unwrap();
        assert_eq!(p, AddrMatch::Prefix(ip("192.0.2.0"), 24));
        assert!(p.matches(ip("192.0.2.1")));
        assert!(p.matches(ip("::ffff:192.0.2.1")));
        assert!(!p.matches(ip("192.0.3.1")));
        assert!(!p.matches(ip("2001:db8::1")));
        assert!(AddrMatch::prefix(ip("192.0.2.0"), 33).is_none());
        assert!(AddrMatch::prefix(ip("::"), 0)
            .unwrap()
            .matches(ip("2001:db8::1")));
        assert!(!AddrMatch::prefix(ip("::"), 0)
            .unwrap()
            .matches(ip("10.0.0.1")));
        assert!(AddrMatch::prefix(ip("0.0.0.0"), 0)
            .unwrap()
            .matches(ip("10.0.0.1")));
        let v6 = AddrMatch::prefix(ip("2001:db8::"), 32).unwrap();
        assert!(v6.matches(ip("2001:db8:ffff::1")));
        assert!(!v6.matches(ip("2001:db9::1")));
        assert!(AddrMatch::Exact(ip("::ffff:10.0.0.1")).matches(ip("10.0.0.1")));
        assert!(AddrMatch::Any.contains(&p));
        assert!(p.contains(&AddrMatch::Exact(ip("192.0.2.9"))));
        assert!(p.contains(&AddrMatch::prefix(ip("192.0.2.128"), 25).unwrap()));
        assert!(!p.contains(&AddrMatch::prefix(ip("192.0.0.0"), 16).unwrap()));
        assert!(!p.contains(&AddrMatch::Any));
        assert!(!AddrMatch::Exact(ip("192.0.2.9")).contains(&p));
    }

    #[test]
    fn quick_mode_ids_within_the_listener() {
        // The initiator's Quick Mode IDs (I-IPAddr:1701 -> R-IPAddr1:1701, UDP) are a
        // subset of the responder's Any-Addr filter (seed 001 §4.2.2).
        let listener = Selector::udp(
            AddrMatch::Exact(ip("198.51.100.1")),
            PortMatch::Exact(1701),
            AddrMatch::Any,
            PortMatch::Any,
        );
        let qm = Selector::udp(
            AddrMatch::Exact(ip("198.51.100.1")),
            PortMatch::Exact(1701),
            AddrMatch::Exact(ip("203.0.113.7")),
            PortMatch::from_port(0),
        );
        assert!(listener.contains(&qm));
        assert!(!qm.contains(&listener));
        let tcp = Selector {
            protocol: Some(6),
            ..qm
        };
        assert!(!listener.contains(&tcp));
        let any_proto = Selector {
            protocol: None,
            ..listener
        };
        assert!(any_proto.contains(&tcp));
    }
}
