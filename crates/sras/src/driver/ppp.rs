//! The PPP link in each established L2TP session (sras-ppp), until `sras-stack` composes them.
//!
//! - Server: every session that reaches SessionEstablished gets a [`Link`] in the server role,
//!   opened at once. `Event::AuthRequested` is answered from the local users ([`Users`]) with an
//!   address leased from the [`Pool`]; `LinkDown` ends the call (CDN) and frees the address; the
//!   end of the session (`SessionClosed`) is the link's `lower_down`.
//! - Client: the one session's link in the client role. `LinkUp` prints `PPP UP ...`, then
//!   [`Ping`] sends ICMP echo requests to the server's address, one a second, and prints the
//!   tally; with `--exit-when-established` the link is closed (LCP), then the call and tunnel.
//! - IP: packets from a peer go to the TUN device (server: only from the address leased to
//!   that peer; TCP SYNs get their MSS clamped); packets read from the TUN device go to the
//!   session the destination address is leased to (server) or to the one link (client). An
//!   ICMP echo request to our own PPP address is answered in user space ([`icmp`]) when there
//!   is no TUN device (`tun.enabled = false`).
//! - IPv6 (`ppp.ipv6_prefix`, `client.ipv6`): once IPv6CP is open the server leases the link a
//!   /64 and advertises it (Router Advertisement, answered solicitations, repeated every
//!   [`RA_INTERVAL`]); the client solicits, takes the prefix with its IPv6CP interface
//!   identifier as its address on the TUN device, and adds the IPv6 `tun.routes`. IPv6 from a
//!   peer is forwarded only from inside its /64; packets from the TUN device go to the link
//!   whose /64 holds the destination; too large ones get a Packet Too Big ([`icmp6`]).
//!
//! Packets from the TUN device are framed, encapsulated and sealed in place in the buffer they
//! were read into ([`Driver::send_ip_in_place`]). Control frames and the client's pings leave
//! through [`Driver::queue_data`]: the L2TP data header is written in place before the frame
//! ([`Endpoint::encapsulate`](sras_l2tp::Endpoint::encapsulate)) and the datagram queued in
//! [`Driver::out`].

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sras_core::{RateLimiter, Transmit};
use sras_l2tp::wire;
use sras_l2tp::{SessionHandle, DATA_HEADER_MAX};
use sras_ppp::{
    AuthRequest, DownReason, Event, Link, LinkConfig, LinkInfo, Received, Verdict, PPP_HEADER_LEN,
};
use sras_stack::icmp6;
use tracing::{debug, info, warn};

use super::{result_code, Closing, Driver, Outcome, CLOSE_GRACE};
use crate::config::method_name;
use crate::icmp;
use crate::pool::{Pool, Prefix6Pool};
use crate::users::Users;

/// Room before an IP packet for the PPP header and the largest L2TP data header.
const HEADROOM: usize = DATA_HEADER_MAX + PPP_HEADER_LEN;
/// The client's echo requests go one a second, like `ping`, the first one a second after the
/// link came up: a peer may still be configuring its interface when IPCP opens (pppd drops IP
/// until its ip-pre-up script has run and the interface is up).
const PING_INTERVAL: Duration = Duration::from_secs(1);
/// How long the client waits for the reply to its last echo request.
const PING_WAIT: Duration = Duration::from_secs(2);
/// Echo data bytes, as `ping` sends by default.
const PING_DATA_LEN: usize = 56;
/// PPP frames kept for sessions whose link has not started yet (all sessions together), their
/// largest size, and how long they are kept.
const EARLY_FRAMES: usize = 32;
const EARLY_FRAME_MAX: usize = 256;
const EARLY_FRAME_AGE: Duration = Duration::from_secs(2);
/// Unsolicited Router Advertisements: one when IPv6CP opens, then every 10 minutes (RFC 4861
/// §6.2.1 MaxRtrAdvInterval default), advertising us as a router for three intervals.
const RA_INTERVAL: Duration = Duration::from_secs(600);
const ROUTER_LIFETIME: u16 = 1800;
/// The client's Router Solicitations (RFC 4861 §10: 3, 4 s apart).
const RS_INTERVAL: Duration = Duration::from_secs(4);
const MAX_RS: u8 = 3;
/// The message of a refused login (the same for an unknown user and a wrong password).
const AUTH_FAILED: &str = "Authentication failed";

/// What the PPP side of the driver is given at start-up.
pub(crate) struct PppSetup {
    /// The configuration each link starts from (its `rng_seed` is drawn per link).
    pub(crate) link: LinkConfig,
    /// Server: the local users.
    pub(crate) users: Option<Users>,
    /// Server: the address pool.
    pub(crate) pool: Option<Pool>,
    /// Server: the IPv6 /64s (`ppp.ipv6_prefix`).
    pub(crate) pool6: Option<Prefix6Pool>,
    /// Client: echo requests to send once the link is up.
    pub(crate) ping_count: u32,
    /// Seeds the RNG of link seeds and ping identifiers.
    pub(crate) rng_seed: [u8; 32],
}

/// The links and what they share.
pub(super) struct Ppp {
    link: LinkConfig,
    users: Option<Users>,
    pool: Option<Pool>,
    pool6: Option<Prefix6Pool>,
    ping_count: u16,
    rng: StdRng,
    links: HashMap<SessionHandle, PppSession>,
    /// Server: the session each leased address belongs to (packets from the TUN device).
    by_lease: HashMap<Ipv4Addr, SessionHandle>,
    /// Server: the session each leased /64 (its upper 64 bits) belongs to.
    by_prefix: HashMap<u64, SessionHandle>,
    /// Links that may have frames or events to drain.
    dirty: Vec<SessionHandle>,
    /// Control frames that arrived before their session's link started.
    early: Vec<(SessionHandle, Instant, Vec<u8>)>,
    log: RateLimiter,
    /// ICMP errors we send (RFC 1812 §4.3.2.8: rate-limited).
    icmp_log: RateLimiter,
}

impl Ppp {
    pub(super) fn new(setup: PppSetup) -> Self {
        Self {
            link: setup.link,
            users: setup.users,
            pool: setup.pool,
            pool6: setup.pool6,
            ping_count: setup.ping_count.min(u32::from(u16::MAX)) as u16,
            rng: StdRng::from_seed(setup.rng_seed),
            links: HashMap::new(),
            by_lease: HashMap::new(),
            by_prefix: HashMap::new(),
            dirty: Vec::new(),
            early: Vec::new(),
            log: RateLimiter::new(10, Duration::from_secs(1)),
            icmp_log: RateLimiter::new(100, Duration::from_secs(1)),
        }
    }
}

impl Ppp {
    /// The user and the leased address of `session`'s link, as far as known.
    pub(super) fn summary(&self, session: SessionHandle) -> (Option<&str>, Option<Ipv4Addr>) {
        self.links
            .get(&session)
            .map_or((None, None), |p| (p.user.as_deref(), p.lease))
    }

    /// Server: the /64 leased to `session`'s link, as `prefix/64`.
    pub(super) fn prefix6(&self, session: SessionHandle) -> Option<String> {
        let x = self.links.get(&session)?.v6.as_ref()?.prefix?;
        Some(format!("{}/64", icmp6::address(x, [0; 8])))
    }

    /// The largest IP packet `session` sends in one ESP packet (an ICMP said so).
    pub(super) fn set_path_limit(&mut self, session: SessionHandle, limit: u16) {
        if let Some(p) = self.links.get_mut(&session) {
            p.path_limit = Some(limit);
        }
    }

    /// Whether `session` has a PPP link.
    pub(super) fn has_link(&self, session: SessionHandle) -> bool {
        self.links.contains_key(&session)
    }
}

/// One session's link and what the daemon remembers of it.
struct PppSession {
    /// Server: the session's number, where it came from and through what (for the
    /// `disconnected` line), set at LinkUp.
    origin: Option<(u64, String, String, Instant)>,
    /// The largest IP packet the outer path takes in one ESP packet, once an ICMP
    /// "fragmentation needed" said so (below the peer's MRU).
    path_limit: Option<u16>,
    link: Link,
    /// Our Session ID, for the logs.
    local_sid: u16,
    /// The user, once authenticated.
    user: Option<String>,
    /// Server: the address leased to the peer.
    lease: Option<Ipv4Addr>,
    /// Set by LinkUp.
    up: Option<LinkInfo>,
    /// ICMP echo requests answered.
    echo_answered: u64,
    /// IP packets dropped (no TUN yet).
    ip_dropped: u64,
    /// IPv6, once IPv6CP is open.
    v6: Option<V6Link>,
}

/// A link's IPv6 (RFC 5072): interface identifiers and the /64 it lives in.
struct V6Link {
    local_id: [u8; 8],
    peer_id: [u8; 8],
    /// Server: the /64 leased to the peer; client: the one the server advertised.
    prefix: Option<u64>,
    /// Server: the next unsolicited Router Advertisement; client: the next solicitation.
    timer: Option<Instant>,
    /// Client: solicitations sent.
    solicited: u8,
}

/// The client's pings to the server's PPP address.
#[derive(Debug)]
pub(super) struct Ping {
    ident: u16,
    local: Ipv4Addr,
    peer: Ipv4Addr,
    count: u16,
    sent: u16,
    replies: u16,
    /// When each sequence number (1-based, index seq - 1) was sent and whether it was answered.
    sent_at: Vec<Instant>,
    answered: Vec<bool>,
    next_send: Option<Instant>,
    wait_until: Option<Instant>,
}

impl Ping {
    fn new(ident: u16, local: Ipv4Addr, peer: Ipv4Addr, count: u16, now: Instant) -> Self {
        Self {
            ident,
            local,
            peer,
            count,
            sent: 0,
            replies: 0,
            sent_at: Vec::with_capacity(count.into()),
            answered: Vec::with_capacity(count.into()),
            next_send: Some(now + PING_INTERVAL),
            wait_until: None,
        }
    }

    /// The next echo request, if one is due.
    fn due(&mut self, now: Instant) -> Option<Vec<u8>> {
        let at = self.next_send.filter(|&t| now >= t)?;
        self.sent += 1;
        self.sent_at.push(now);
        self.answered.push(false);
        if self.sent < self.count {
            self.next_send = Some((at + PING_INTERVAL).max(now));
        } else {
            self.next_send = None;
            self.wait_until = Some(now + PING_WAIT);
        }
        let data: Vec<u8> = (0..PING_DATA_LEN).map(|i| i as u8).collect();
        Some(icmp::echo_request(
            self.local, self.peer, self.ident, self.sent, &data,
        ))
    }

    /// A reply to `seq`: its round-trip time, or `None` for a duplicate or unknown number.
    fn on_reply(&mut self, now: Instant, seq: u16) -> Option<Duration> {
        let i = usize::from(seq.checked_sub(1)?);
        let answered = self.answered.get_mut(i)?;
        if *answered {
            return None;
        }
        *answered = true;
        self.replies += 1;
        Some(now.saturating_duration_since(self.sent_at[i]))
    }

    fn done(&self, now: Instant) -> bool {
        self.sent == self.count
            && (self.replies == self.count || self.wait_until.is_some_and(|w| now >= w))
    }

    fn deadline(&self) -> Option<Instant> {
        self.next_send.or(self.wait_until)
    }
}

impl Driver {
    /// A session is established: its link starts (LCP Configure-Request).
    pub(super) fn ppp_start(&mut self, now: Instant, session: SessionHandle) {
        let mut config = self.ppp.link.clone();
        config.rng_seed = self.ppp.rng.random();
        // Seed 001 §3.2: what fits in a 1500-byte path once ESP, UDP, L2TP and PPP are counted.
        let remote = self
            .endpoint
            .session_tunnel(session)
            .and_then(|t| self.endpoint.tunnel_remote(t));
        if let Some(info) = remote.and_then(|r| self.sec.as_ref()?.ipsec.peer_info(r)) {
            let mru = sras_stack::mtu::ppp_mru(1500, info.overhead, config.mru);
            debug!(mru, overhead = info.overhead, "PPP MRU for this IPsec peer");
            config.mru = mru;
        }
        let role = config.role;
        let mut link = Link::new(config);
        link.open(now);
        let local_sid = self.sessions.get(&session).map_or(0, |s| s.local_id.0);
        debug!(local_sid, role = ?role, "PPP link opened (LCP)");
        self.ppp.links.insert(
            session,
            PppSession {
                link,
                local_sid,
                user: None,
                lease: None,
                up: None,
                echo_answered: 0,
                ip_dropped: 0,
                v6: None,
                path_limit: None,
                origin: None,
            },
        );
        self.ppp.dirty.push(session);
        // Frames that came before the link, if they are recent.
        let early: Vec<Vec<u8>> = {
            let e = &mut self.ppp.early;
            let mut mine = Vec::new();
            e.retain(|(s, at, f)| {
                let fresh = now.saturating_duration_since(*at) < EARLY_FRAME_AGE;
                if *s == session && fresh {
                    mine.push(f.clone());
                }
                *s != session && fresh
            });
            mine
        };
        for f in early {
            self.on_ppp_frame(now, session, &f);
        }
    }

    /// The session is gone: its link ends (`lower_down`), which frees its address.
    pub(super) fn ppp_session_gone(&mut self, now: Instant, session: SessionHandle) {
        if let Some(p) = self.ppp.links.get_mut(&session) {
            p.link.lower_down(now);
            self.ppp.dirty.push(session);
        }
    }

    /// A PPP frame from an established session.
    pub(super) fn on_ppp_frame(&mut self, now: Instant, session: SessionHandle, frame: &[u8]) {
        let Some(p) = self.ppp.links.get_mut(&session) else {
            // The peer's first LCP frames may overtake the ICCN that establishes the call
            // here (they travel apart): kept, a few, for the link about to start.
            let early = &mut self.ppp.early;
            early.retain(|(_, at, _)| now.saturating_duration_since(*at) < EARLY_FRAME_AGE);
            if frame.len() <= EARLY_FRAME_MAX && early.len() < EARLY_FRAMES {
                early.push((session, now, frame.to_vec()));
            } else if let Some(suppressed) = self.ppp.log.check(now) {
                debug!(
                    len = frame.len(),
                    suppressed, "PPP frame for a session without a link: dropped"
                );
            }
            return;
        };
        let result = p.link.handle_frame(now, frame);
        let local_sid = p.local_sid;
        self.ppp.dirty.push(session);
        match result {
            Ok(Received::Control) => {}
            Ok(Received::Ipv4(packet)) => self.on_ipv4(now, session, packet),
            Ok(Received::Ipv6(packet)) => self.on_ipv6(now, session, packet),
            Err(e) => {
                if let Some(suppressed) = self.ppp.log.check(now) {
                    debug!(local_sid, error = %e, suppressed, "PPP frame not taken");
                }
            }
        }
    }

    /// An IPv4 packet from a link: an echo request to our address is answered, a reply to the
    /// client's pings counted, anything else dropped.
    fn on_ipv4(&mut self, now: Instant, session: SessionHandle, packet: &[u8]) {
        let Some(info) = self.ppp.links.get(&session).and_then(|p| p.up.clone()) else {
            self.drop_ip(now, session, packet.len(), &"before LinkUp");
            return;
        };
        if self.tun.is_some() && !self.is_client_ping_reply(session, packet) {
            self.ipv4_to_tun(now, session, &info, packet);
            return;
        }
        let why = match icmp::echo_reply(packet, info.local) {
            Ok(reply) if reply.len() <= usize::from(info.peer_mru) => {
                if let Some(p) = self.ppp.links.get_mut(&session) {
                    p.echo_answered += 1;
                }
                debug!(
                    len = packet.len(),
                    "ICMP echo request to our PPP address answered"
                );
                self.send_ip(session, &reply);
                return;
            }
            Ok(_) => {
                let why = "echo reply larger than the peer's MRU";
                self.drop_ip(now, session, packet.len(), &why);
                return;
            }
            Err(why) => why,
        };
        if let Some(c) = self.client.as_mut().filter(|c| c.session == Some(session)) {
            if let Some(ping) = &mut c.ping {
                if let Ok((seq, _)) =
                    icmp::parse_echo_reply(packet, ping.peer, ping.local, ping.ident)
                {
                    match ping.on_reply(now, seq) {
                        Some(rtt) => info!(
                            from = %ping.peer,
                            seq,
                            time_ms = format_args!("{:.1}", rtt.as_secs_f64() * 1000.0),
                            "ICMP echo reply"
                        ),
                        None => debug!(seq, "duplicate or unexpected ICMP echo reply"),
                    }
                    return;
                }
            }
        }
        self.drop_ip(now, session, packet.len(), &why);
    }

    /// Whether `packet` answers the client's own pings (counted by the driver, not the TUN).
    fn is_client_ping_reply(&self, session: SessionHandle, packet: &[u8]) -> bool {
        let Some(c) = self.client.as_ref().filter(|c| c.session == Some(session)) else {
            return false;
        };
        c.ping
            .as_ref()
            .is_some_and(|p| icmp::parse_echo_reply(packet, p.peer, p.local, p.ident).is_ok())
    }

    /// An IPv4 packet from the link into the TUN device. The server takes only the peer's
    /// own address as the source (no spoofing from behind a client), and clamps the MSS of
    /// TCP SYNs to the link's MTU (seed 001 §3.2).
    fn ipv4_to_tun(
        &mut self,
        now: Instant,
        session: SessionHandle,
        info: &LinkInfo,
        packet: &[u8],
    ) {
        let src = packet
            .get(12..16)
            .map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]));
        if self.client.is_none() && src != Some(info.peer) {
            self.drop_ip(
                now,
                session,
                packet.len(),
                &"source is not the peer's address",
            );
            return;
        }
        // Only a TCP SYN is rewritten (its MSS); everything else goes as it came.
        let ihl = usize::from(packet[0] & 0x0f) * 4;
        let syn = packet.get(9) == Some(&6) && packet.get(ihl + 13).is_some_and(|f| f & 0x02 != 0);
        let mut owned = Vec::new();
        let buf: &[u8] = if syn {
            owned.extend_from_slice(packet);
            sras_stack::mtu::clamp_mss_ipv4(&mut owned, info.peer_mru.min(info.mru));
            &owned
        } else {
            packet
        };
        self.write_tun(now, session, buf);
    }

    /// Writes an IP packet from `session` into the TUN device.
    fn write_tun(&mut self, now: Instant, session: SessionHandle, packet: &[u8]) {
        if let Some(tun) = &self.tun {
            match tun.try_send(packet) {
                Ok(true) => {}
                Ok(false) => self.drop_ip(now, session, packet.len(), &"TUN queue full"),
                Err(e) => self.drop_ip(now, session, packet.len(), &e),
            }
        }
    }

    /// An IPv6 packet from a link. Neighbor Discovery is ours (server: Router Solicitations
    /// answered; client: Router Advertisements taken); other link-scope traffic stays on the
    /// link; the rest goes to the TUN device, on the server only from inside the peer's /64.
    fn on_ipv6(&mut self, now: Instant, session: SessionHandle, packet: &[u8]) {
        let Some(p) = self.ppp.links.get(&session) else {
            return;
        };
        let Some(v6) = p.v6.as_ref() else {
            self.drop_ip(now, session, packet.len(), &"IPv6 before IPv6CP is up");
            return;
        };
        let Some((src, dst)) = icmp6::addresses(packet) else {
            self.drop_ip(now, session, packet.len(), &"not an IPv6 packet");
            return;
        };
        let server = self.client.is_none();
        let prefix = v6.prefix;
        let mtu = p.up.as_ref().map(|i| i.peer_mru.min(i.mru));
        if icmp6::is_link_scope(&dst) {
            if server && icmp6::is_router_solicitation(packet) {
                // Before IPCP is up the advertisement waits for LinkUp (it carries the MTU).
                debug!(local_sid = p.local_sid, "router solicitation");
                self.send_ra(session);
            } else if let Some(ra) = (!server)
                .then(|| icmp6::parse_router_advertisement(packet))
                .flatten()
            {
                self.on_router_advertisement(now, session, &ra);
            } else {
                self.drop_ip(now, session, packet.len(), &"IPv6 to a link-scope address");
            }
            return;
        }
        if server && prefix != Some(icmp6::prefix64(&src)) {
            self.drop_ip(
                now,
                session,
                packet.len(),
                &"IPv6 source outside the peer's /64",
            );
            return;
        }
        let Some(mtu) = mtu.filter(|_| self.tun.is_some()) else {
            self.drop_ip(now, session, packet.len(), &"no TUN device, or IPCP not up");
            return;
        };
        // Only a TCP SYN is rewritten (its MSS); everything else goes as it came.
        let syn = packet[6] == 6 && packet.get(40 + 13).is_some_and(|f| f & 0x02 != 0);
        if syn {
            let mut owned = packet.to_vec();
            sras_stack::mtu::clamp_mss_ipv6(&mut owned, mtu);
            self.write_tun(now, session, &owned);
        } else {
            self.write_tun(now, session, packet);
        }
    }

    /// Server: advertises the link's /64 to the peer (to all nodes: the only node there).
    fn send_ra(&mut self, session: SessionHandle) {
        let Some(p) = self.ppp.links.get(&session) else {
            return;
        };
        let (Some(v6), Some(info)) = (p.v6.as_ref(), p.up.as_ref()) else {
            return;
        };
        let Some(prefix) = v6.prefix else {
            return;
        };
        let ra = icmp6::router_advertisement(
            icmp6::link_local(v6.local_id),
            icmp6::ALL_NODES,
            prefix,
            info.peer_mru.min(info.mru),
            ROUTER_LIFETIME,
        );
        self.send_ip6(session, &ra);
    }

    /// Client: the server's Router Advertisement; its /64 with our interface identifier is our
    /// address.
    fn on_router_advertisement(
        &mut self,
        now: Instant,
        session: SessionHandle,
        ra: &icmp6::Advertisement,
    ) {
        let Some(v6) = self.ppp.links.get_mut(&session).and_then(|p| p.v6.as_mut()) else {
            return;
        };
        let Some(prefix) = ra.prefix else {
            debug!("router advertisement without an autonomous /64 prefix: ignored");
            return;
        };
        v6.timer = None;
        if v6.prefix == Some(prefix) {
            return;
        }
        v6.prefix = Some(prefix);
        let address = icmp6::address(prefix, v6.local_id);
        info!(%address, mtu = ?ra.mtu, "IPv6 address from the server's router advertisement");
        let _ = now;
        self.client_configure_v6(session);
    }

    /// Client: puts the IPv6 address and routes on the TUN device, once both exist.
    fn client_configure_v6(&mut self, session: SessionHandle) {
        let Some((prefix, id)) = self
            .ppp
            .links
            .get(&session)
            .and_then(|p| p.v6.as_ref())
            .and_then(|v| Some((v.prefix?, v.local_id)))
        else {
            return;
        };
        let (Some(tun), Some(plan)) = (&self.tun, &self.tun_plan) else {
            return;
        };
        let address = icmp6::address(prefix, id);
        let result = tun.add_address6(address, 64).and_then(|()| {
            plan.routes6
                .iter()
                .try_for_each(|(net, len)| tun.add_route6(*net, *len))
        });
        match result {
            Ok(()) => {
                info!(device = tun.name(), %address, routes6 = ?plan.routes6, "IPv6 up on the TUN device");
                println!("IPV6 UP address={address}");
            }
            Err(e) => warn!(error = %e, %address, "cannot configure IPv6 on the TUN device"),
        }
    }

    /// Server: a link's IPv6CP opened: it gets a /64 and is told so. Client: it solicits.
    fn on_ipv6_up(
        &mut self,
        now: Instant,
        session: SessionHandle,
        local_id: [u8; 8],
        peer_id: [u8; 8],
    ) {
        let server = self.client.is_none();
        let Ppp {
            links,
            pool6,
            by_prefix,
            ..
        } = &mut self.ppp;
        let Some(p) = links.get_mut(&session) else {
            return;
        };
        let sid = p.local_sid;
        if p.v6.is_some() {
            return;
        }
        let prefix = if server {
            match pool6.as_mut().and_then(Prefix6Pool::allocate) {
                Some(x) => {
                    by_prefix.insert(x, session);
                    Some(x)
                }
                None => {
                    warn!(
                        local_sid = sid,
                        "PPP IPv6CP up but no /64 is free in ppp.ipv6_prefix: no IPv6 on this link"
                    );
                    return;
                }
            }
        } else {
            None
        };
        p.v6 = Some(V6Link {
            local_id,
            peer_id,
            prefix,
            timer: Some(now + if server { RA_INTERVAL } else { RS_INTERVAL }),
            solicited: u8::from(!server),
        });
        info!(
            local_sid = sid,
            local = %icmp6::link_local(local_id),
            peer = %icmp6::link_local(peer_id),
            prefix = %prefix.map_or_else(|| "from the server".to_owned(), |x| format!("{}/64", icmp6::address(x, [0; 8]))),
            "PPP IPv6CP up"
        );
        if server {
            self.send_ra(session);
        } else {
            self.send_ip6(
                session,
                &icmp6::router_solicitation(icmp6::link_local(local_id)),
            );
        }
    }

    /// Router Advertisements and Solicitations that are due.
    fn v6_timers(&mut self, now: Instant) {
        let server = self.client.is_none();
        let due: Vec<SessionHandle> = self
            .ppp
            .links
            .iter()
            .filter(|(_, p)| {
                p.v6.as_ref()
                    .and_then(|v| v.timer)
                    .is_some_and(|t| t <= now)
            })
            .map(|(s, _)| *s)
            .collect();
        for s in due {
            let Some(v6) = self.ppp.links.get_mut(&s).and_then(|p| p.v6.as_mut()) else {
                continue;
            };
            if server {
                v6.timer = Some(now + RA_INTERVAL);
                self.send_ra(s);
            } else if v6.solicited < MAX_RS {
                v6.solicited += 1;
                v6.timer = Some(now + RS_INTERVAL);
                let src = icmp6::link_local(v6.local_id);
                self.send_ip6(s, &icmp6::router_solicitation(src));
            } else {
                v6.timer = None;
                warn!("no router advertisement from the server after {MAX_RS} solicitations: no IPv6 address");
            }
        }
    }

    /// A packet read from the TUN device: to the session of its destination (server), or
    /// to the one link (client).
    /// `buf[range]` is the packet, with [`super::TUN_OFFSET`] bytes of room before it and
    /// [`sras_stack::TAILROOM`] after it for the headers and trailer it is sent in.
    pub(super) fn on_tun_packet(&mut self, now: Instant, buf: &mut [u8], range: Range<usize>) {
        let packet = &mut buf[range.clone()];
        if packet.first().is_some_and(|b| b >> 4 == 6) {
            self.on_tun_packet6(now, buf, range);
            return;
        }
        if packet.first().is_none_or(|b| b >> 4 != 4) || packet.len() < 20 {
            return;
        }
        let session = if let Some(c) = &self.client {
            c.session
        } else {
            let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
            self.ppp.by_lease.get(&dst).copied()
        };
        let Some(session) = session else {
            if let Some(suppressed) = self.ppp.log.check(now) {
                debug!(
                    len = packet.len(),
                    suppressed, "packet from the TUN device for no session: dropped"
                );
            }
            return;
        };
        let Some((peer_mru, mru, limit, router)) = self.ppp.links.get(&session).and_then(|p| {
            let i = p.up.as_ref()?;
            let router = if self.client.is_some() {
                i.peer
            } else {
                i.local
            };
            Some((i.peer_mru, i.mru, p.path_limit, router))
        }) else {
            return;
        };
        let fits = limit.unwrap_or(peer_mru).min(peer_mru);
        let dont_fragment = packet[6] & 0x40 != 0;
        if packet.len() > usize::from(fits)
            && (dont_fragment || packet.len() > usize::from(peer_mru))
        {
            // RFC 1191: the sender learns the tunnel's MTU from us, as from any router.
            if dont_fragment && self.ppp.icmp_log.check(now).is_some() {
                if let (Some(reply), Some(tun)) =
                    (icmp::frag_needed(packet, router, fits), &self.tun)
                {
                    let _ = tun.try_send(&reply);
                }
            }
            self.drop_ip(now, session, packet.len(), &"larger than the link MTU");
            return;
        }
        sras_stack::mtu::clamp_mss_ipv4(packet, fits.min(mru));
        self.send_ip_in_place(now, session, buf, range, false);
    }

    /// An IPv6 packet read from the TUN device: to the link whose /64 holds the destination
    /// (server) or to the one link (client). IPv6 is never fragmented on the way: a packet
    /// larger than the link takes is answered with Packet Too Big.
    fn on_tun_packet6(&mut self, now: Instant, buf: &mut [u8], range: Range<usize>) {
        let Some((_, dst)) = icmp6::addresses(&buf[range.clone()]) else {
            return;
        };
        let session = match &self.client {
            Some(c) => c.session,
            None => self.ppp.by_prefix.get(&icmp6::prefix64(&dst)).copied(),
        };
        let found = session.and_then(|s| {
            let p = self.ppp.links.get(&s)?;
            let (i, v6) = (p.up.as_ref()?, p.v6.as_ref()?);
            v6.prefix?;
            Some((s, i.peer_mru, i.mru, p.path_limit, v6.peer_id))
        });
        let Some((session, peer_mru, mru, limit, peer_id)) = found else {
            if let Some(suppressed) = self.ppp.log.check(now) {
                debug!(
                    len = range.len(),
                    suppressed, "IPv6 packet from the TUN device for no link: dropped"
                );
            }
            return;
        };
        let fits = limit.unwrap_or(peer_mru).min(peer_mru);
        if range.len() > usize::from(fits) {
            if self.ppp.icmp_log.check(now).is_some() {
                // From an address the sender can route back to: ours in the prefix (server),
                // the server's link-local address on the link (client, a local sender).
                let from = match (&self.client, &self.ppp.pool6) {
                    (None, Some(pool6)) => pool6.prefix().server_address(),
                    _ => icmp6::link_local(peer_id),
                };
                if let (Some(e), Some(tun)) = (
                    icmp6::packet_too_big(&buf[range.clone()], from, fits),
                    &self.tun,
                ) {
                    let _ = tun.try_send(&e);
                }
            }
            self.drop_ip(now, session, range.len(), &"larger than the link MTU");
            return;
        }
        sras_stack::mtu::clamp_mss_ipv6(&mut buf[range.clone()], fits.min(mru));
        self.send_ip_in_place(now, session, buf, range, true);
    }

    /// Sends the IPv4 packet at `buf[range]` over `session`: the PPP header, the L2TP data
    /// header and ESP are written around it in place, and the datagram sent at once when the
    /// socket takes it. Plain L2TP (or a full socket) takes the queued path.
    fn send_ip_in_place(
        &mut self,
        now: Instant,
        session: SessionHandle,
        buf: &mut [u8],
        range: Range<usize>,
        ipv6: bool,
    ) {
        let Some(p) = self.ppp.links.get_mut(&session) else {
            return;
        };
        let frame = match p.link.encapsulate_ip(buf, range, ipv6) {
            Ok(f) => f,
            Err(e) => {
                debug!(local_sid = p.local_sid, error = %e, "cannot frame an IP packet");
                return;
            }
        };
        let t = match self.endpoint.encapsulate(session, buf, frame) {
            Ok(t) => t,
            Err(e) => {
                debug!(error = %e, "PPP frame not sent (session not established)");
                return;
            }
        };
        if self.send_sealed_now(now, t.destination, buf, t.range.clone()) {
            return;
        }
        self.out.push_back(Transmit {
            destination: t.destination,
            source: t.source,
            payload: buf[t.range].to_vec(),
        });
    }

    /// Addresses leased now.
    pub(super) fn pool_in_use(&self) -> usize {
        self.ppp.pool.as_ref().map_or(0, Pool::in_use)
    }

    /// IPv6 /64s leased now.
    pub(super) fn prefixes_in_use(&self) -> usize {
        self.ppp.pool6.as_ref().map_or(0, Prefix6Pool::in_use)
    }

    /// Counts and drops an IP packet.
    fn drop_ip(
        &mut self,
        now: Instant,
        session: SessionHandle,
        len: usize,
        why: &dyn fmt::Display,
    ) {
        let Some(p) = self.ppp.links.get_mut(&session) else {
            return;
        };
        p.ip_dropped += 1;
        let (local_sid, dropped) = (p.local_sid, p.ip_dropped);
        if let Some(suppressed) = self.ppp.log.check(now) {
            debug!(
                local_sid,
                len,
                why = %why,
                dropped,
                suppressed,
                "IP packet dropped"
            );
        }
    }

    /// Sends an IPv4 packet over `session`'s link.
    fn send_ip(&mut self, session: SessionHandle, packet: &[u8]) {
        self.send_ip_framed(session, packet, false);
    }

    /// Sends an IPv6 packet over `session`'s link.
    fn send_ip6(&mut self, session: SessionHandle, packet: &[u8]) {
        self.send_ip_framed(session, packet, true);
    }

    fn send_ip_framed(&mut self, session: SessionHandle, packet: &[u8], ipv6: bool) {
        let Some(p) = self.ppp.links.get_mut(&session) else {
            return;
        };
        let mut buf = vec![0u8; HEADROOM + packet.len()];
        buf[HEADROOM..].copy_from_slice(packet);
        let end = buf.len();
        match p.link.encapsulate_ip(&mut buf, HEADROOM..end, ipv6) {
            Ok(frame) => self.queue_data(session, buf, frame),
            Err(e) => debug!(local_sid = p.local_sid, error = %e, "cannot frame an IP packet"),
        }
    }

    /// Sends a PPP frame in `session`.
    fn send_frame(&mut self, session: SessionHandle, frame: &[u8]) {
        let mut buf = vec![0u8; DATA_HEADER_MAX + frame.len()];
        buf[DATA_HEADER_MAX..].copy_from_slice(frame);
        let end = buf.len();
        self.queue_data(session, buf, DATA_HEADER_MAX..end);
    }

    /// Writes the L2TP data header before `buf[payload]` and queues the datagram.
    fn queue_data(&mut self, session: SessionHandle, mut buf: Vec<u8>, payload: Range<usize>) {
        match self.endpoint.encapsulate(session, &mut buf, payload) {
            Ok(t) => {
                buf.truncate(t.range.end);
                buf.drain(..t.range.start);
                self.out.push_back(Transmit {
                    destination: t.destination,
                    source: t.source,
                    payload: buf,
                });
            }
            Err(e) => debug!(error = %e, "PPP frame not sent (session not established)"),
        }
    }

    /// Moves the frames of every link that may have some into [`Driver::out`] and acts on their
    /// events, until they are quiet.
    pub(super) fn pump_links(&mut self, now: Instant) {
        while let Some(s) = self.ppp.dirty.pop() {
            while let Some(p) = self.ppp.links.get_mut(&s) {
                let frames: Vec<Vec<u8>> = std::iter::from_fn(|| p.link.poll_transmit()).collect();
                let events: Vec<Event> = std::iter::from_fn(|| p.link.poll_event()).collect();
                if frames.is_empty() && events.is_empty() {
                    break;
                }
                for f in &frames {
                    self.send_frame(s, f);
                }
                for e in events {
                    self.on_link_event(now, s, e);
                }
            }
        }
    }

    /// Lets time pass for the links that are due.
    pub(super) fn links_timeout(&mut self, now: Instant) {
        for (s, p) in &mut self.ppp.links {
            if p.link.poll_timeout().is_some_and(|d| d <= now) {
                p.link.handle_timeout(now);
                self.ppp.dirty.push(*s);
            }
        }
        self.v6_timers(now);
    }

    /// The earliest deadline of any link.
    pub(super) fn links_deadline(&self) -> Option<Instant> {
        self.ppp
            .links
            .values()
            .flat_map(|p| [p.link.poll_timeout(), p.v6.as_ref().and_then(|v| v.timer)])
            .flatten()
            .min()
    }

    /// Starts closing `session`'s link (LCP Terminate-Request).
    pub(super) fn close_link(&mut self, now: Instant, session: SessionHandle, reason: &str) {
        if let Some(p) = self.ppp.links.get_mut(&session) {
            p.link.close(now, reason);
            self.ppp.dirty.push(session);
        }
    }

    /// Starts closing every link, and queues their Terminate-Requests.
    pub(super) fn close_links(&mut self, now: Instant, reason: &str) {
        let all: Vec<SessionHandle> = self.ppp.links.keys().copied().collect();
        for s in all {
            self.close_link(now, s, reason);
        }
        self.pump_links(now);
    }

    fn on_link_event(&mut self, now: Instant, session: SessionHandle, event: Event) {
        match event {
            Event::AuthRequested(r) => self.on_auth_request(now, session, &r),
            Event::Authenticated { user, method } => {
                let Some(p) = self.ppp.links.get_mut(&session) else {
                    return;
                };
                info!(
                    local_sid = p.local_sid,
                    user = ?user,
                    method = method_name(method),
                    "PPP authenticated"
                );
                p.user = Some(user);
            }
            Event::LinkUp(info) => {
                let Some(p) = self.ppp.links.get_mut(&session) else {
                    return;
                };
                info!(
                    local_sid = p.local_sid,
                    user = ?p.user.as_deref().unwrap_or(""),
                    local = %info.local,
                    peer = %info.peer,
                    dns = %Servers(&info.dns),
                    nbns = %Servers(&info.nbns),
                    mru = info.mru,
                    peer_mru = info.peer_mru,
                    "PPP link up"
                );
                if p.lease.is_some_and(|a| a != info.peer) {
                    warn!(local_sid = p.local_sid, leased = %Servers(&[p.lease, None]), peer = %info.peer, "PPP peer address differs from the leased one");
                }
                p.up = Some(info.clone());
                if self.client.is_none() {
                    // The one line per connection: who, from where, through what, which address.
                    let user = p.user.clone().unwrap_or_default();
                    let (from, ipsec) = self.where_from(session);
                    let (id, _) = self.session_number(session, now);
                    info!(session = id, user = %user, from = %from, ipsec = %ipsec, address = %info.peer, "connected");
                    if let Some(p) = self.ppp.links.get_mut(&session) {
                        p.origin = Some((id, from, ipsec, now));
                    }
                }
                // IPv6CP may have opened first: its advertisement waited for the MTU.
                if self.client.is_none() {
                    self.send_ra(session);
                }
                // A path MTU an ICMP lowered before this session holds for it too.
                if let Some(limit) = self.path_limit_for(session) {
                    self.ppp.set_path_limit(session, limit);
                }
                self.client_link_up(now, session, &info);
            }
            Event::Ipv6Up { local_id, peer_id } => self.on_ipv6_up(now, session, local_id, peer_id),
            Event::LinkDown { reason } => self.on_link_down(now, session, &reason),
            other => debug!(event = ?other, "PPP event"),
        }
    }

    /// Server: decides a login from the local users and leases the peer an address.
    fn on_auth_request(&mut self, now: Instant, session: SessionHandle, r: &AuthRequest) {
        let Ppp {
            users,
            pool,
            links,
            dirty,
            by_lease,
            ..
        } = &mut self.ppp;
        let Some(p) = links.get_mut(&session) else {
            return;
        };
        let method = method_name(r.method);
        let sid = p.local_sid;
        let reject = |message: &str| Verdict::Reject {
            message: Some(message.to_owned()),
        };
        let verdict = match users.as_mut().map(|u| u.lookup(now, &r.user)) {
            None => {
                warn!(
                    local_sid = sid,
                    "PPP authentication request on a client link: refused"
                );
                reject(AUTH_FAILED)
            }
            Some(None) => {
                warn!(local_sid = sid, user = ?r.user, method, "PPP login refused: unknown user");
                reject(AUTH_FAILED)
            }
            Some(Some(u)) if !r.verify_password(u.password.as_str()) => {
                warn!(local_sid = sid, user = ?r.user, method, "PPP login refused: wrong password");
                reject(AUTH_FAILED)
            }
            Some(Some(u)) => match p.lease.or_else(|| pool.as_mut().and_then(Pool::allocate)) {
                None => {
                    let (range, in_use) = pool
                        .as_ref()
                        .map_or((String::new(), 0), |p| (p.range().to_string(), p.in_use()));
                    warn!(local_sid = sid, user = ?r.user, method, pool = %range, in_use, "PPP login refused: the address pool is exhausted");
                    reject("No address available")
                }
                Some(a) => {
                    p.lease = Some(a);
                    by_lease.insert(a, session);
                    info!(local_sid = sid, user = ?r.user, method, peer_ip = %a, "PPP login accepted");
                    r.accept_with_password(u.password.as_str(), Some(a))
                }
            },
        };
        // The name the peer gave, for the link's later log lines (Authenticated confirms it).
        p.user = Some(r.user.clone());
        p.link.complete_auth(now, r.id, verdict);
        dirty.push(session);
    }

    fn on_link_down(&mut self, now: Instant, session: SessionHandle, reason: &DownReason) {
        let Some(p) = self.ppp.links.remove(&session) else {
            return;
        };
        if let (Some(a), Some(pool)) = (p.lease, &mut self.ppp.pool) {
            pool.release(a);
            self.ppp.by_lease.remove(&a);
        }
        if let (Some(x), Some(pool6)) = (p.v6.as_ref().and_then(|v| v.prefix), &mut self.ppp.pool6)
        {
            pool6.release(x);
            self.ppp.by_prefix.remove(&x);
        }
        let stats = p.link.stats();
        if let Some((id, from, ipsec, since)) = &p.origin {
            let secs = now.saturating_duration_since(*since).as_secs();
            info!(
                session = id,
                user = %p.user.as_deref().unwrap_or(""),
                from = %from,
                ipsec = %ipsec,
                address = %Servers(&[p.lease, None]),
                duration_s = secs,
                ip_rx = stats.ip_rx,
                ip_tx = stats.ip_tx,
                reason = %Down(reason),
                "disconnected"
            );
        }
        info!(
            local_sid = p.local_sid,
            user = ?p.user.as_deref().unwrap_or(""),
            reason = %Down(reason),
            released = %Servers(&[p.lease, None]),
            ip_rx = stats.ip_rx,
            ip_tx = stats.ip_tx,
            echo_answered = p.echo_answered,
            ip_dropped = p.ip_dropped,
            "PPP link down"
        );
        if self.client.is_some() {
            self.client_link_down(now, session, reason);
            return;
        }
        // Server: the call ends with the link, unless the session went first.
        if matches!(reason, DownReason::LowerDown) || !self.endpoint.session_is_established(session)
        {
            return;
        }
        let (result, message) = cdn_for(reason);
        if let Err(e) = self
            .endpoint
            .close_session(now, session, result_code(result, &message))
        {
            debug!(error = %e, "close_session refused");
        }
    }

    // ----- client -------------------------------------------------------------------------

    fn client_link_up(&mut self, now: Instant, session: SessionHandle, info: &LinkInfo) {
        let ident: u16 = self.ppp.rng.random();
        let count = self.ppp.ping_count;
        let Some(c) = self.client.as_mut().filter(|c| c.session == Some(session)) else {
            return;
        };
        if c.ppp_up {
            return;
        }
        c.ppp_up = true;
        if self.tun.is_none() {
            if let Some(plan) = self.tun_plan.clone() {
                let setup = crate::tun::TunSetup {
                    name: plan.name.clone(),
                    mtu: plan.mtu.min(info.peer_mru),
                    address: Some(info.local),
                    peer: Some(info.peer),
                    routes: plan.routes.clone(),
                    address6: None,
                    routes6: Vec::new(),
                };
                match crate::tun::Tun::create(&setup) {
                    Ok(t) => {
                        info!(device = t.name(), local = %info.local, peer = %info.peer, routes = ?plan.routes, "TUN device up");
                        self.tun = Some(t);
                        // IPv6 may have come first.
                        self.client_configure_v6(session);
                    }
                    Err(e) => {
                        warn!(error = %e, device = %plan.name, "cannot create the TUN device: IP goes nowhere")
                    }
                }
            }
        }
        let Some(c) = self.client.as_mut().filter(|c| c.session == Some(session)) else {
            return;
        };
        println!(
            "PPP UP local={} peer={} dns={}",
            info.local,
            info.peer,
            Servers(&info.dns)
        );
        if count == 0 {
            self.client_pings_done(now);
        } else {
            info!(peer = %info.peer, count, "pinging the server's PPP address");
            c.ping = Some(Ping::new(ident, info.local, info.peer, count, now));
        }
    }

    fn client_link_down(&mut self, now: Instant, session: SessionHandle, reason: &DownReason) {
        let Some(c) = self.client.as_mut().filter(|c| c.session == Some(session)) else {
            return;
        };
        c.ping = None;
        if let Some(closing) = c.ppp_closing.take() {
            // Our own close finished: now the call and the tunnel.
            self.close_client(now, closing.outcome, wire::result::GENERAL_REQUEST, "done");
            return;
        }
        // When the session or tunnel went first, their events say why.
        if self.closing.is_some() || matches!(reason, DownReason::LowerDown) {
            return;
        }
        let outcome = Outcome::Failed(format!("PPP link down: {}", Down(reason)));
        self.close_client(now, outcome, wire::result::GENERAL_REQUEST, "PPP link down");
    }

    /// Client: sends the echo requests that are due, finishes the pings, gives up waiting for
    /// the link to close.
    pub(super) fn client_timers(&mut self, now: Instant) {
        let Some(c) = &mut self.client else { return };
        if c.ppp_closing.as_ref().is_some_and(|pc| now >= pc.deadline) {
            let outcome = c.ppp_closing.take().map_or(Outcome::Done, |pc| pc.outcome);
            warn!(
                "the PPP link did not finish closing within {} s (no LCP Terminate-Ack); ending the call anyway",
                CLOSE_GRACE.as_secs()
            );
            self.close_client(now, outcome, wire::result::GENERAL_REQUEST, "done");
            return;
        }
        let Some(session) = c.session else { return };
        let Some(ping) = &mut c.ping else { return };
        let request = ping.due(now);
        let done = ping.done(now);
        if let Some(r) = request {
            self.send_ip(session, &r);
        }
        if done {
            self.client_pings_done(now);
        }
    }

    /// Client: the earliest of its own deadlines (next ping, end of the pings, end of closing).
    pub(super) fn client_deadline(&self) -> Option<Instant> {
        let c = self.client.as_ref()?;
        [
            c.ping.as_ref().and_then(Ping::deadline),
            c.ppp_closing.as_ref().map(|pc| pc.deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn client_pings_done(&mut self, now: Instant) {
        let Some(c) = &mut self.client else { return };
        let ping = c.ping.take();
        if let Some(p) = &ping {
            println!("PING {}: {}/{} replies", p.peer, p.replies, p.sent);
            info!(peer = %p.peer, sent = p.sent, replies = p.replies, "pings done");
        }
        if !c.opts.exit_when_established {
            info!("connected (Ctrl-C to disconnect)");
            return;
        }
        let outcome = match &ping {
            Some(p) if p.replies == 0 => Outcome::Failed(format!(
                "no reply from {} to {} ICMP echo requests",
                p.peer, p.sent
            )),
            _ => Outcome::Done,
        };
        info!("closing the PPP link, then the session and the tunnel (--exit-when-established)");
        c.ppp_closing = Some(Closing {
            deadline: now + CLOSE_GRACE,
            outcome,
        });
        if let Some(s) = c.session {
            self.close_link(now, s, "done");
        }
    }
}

/// The CDN result for a link that went down (RFC 2661 §4.4.2): 1, loss of carrier, when the
/// peer left or died; 3, administrative, when we ended it.
fn cdn_for(reason: &DownReason) -> (u16, String) {
    let result = match reason {
        DownReason::TerminatedByPeer(_) | DownReason::EchoTimeout => wire::result::LOST_CARRIER,
        _ => wire::result::ADMINISTRATIVE,
    };
    (result, format!("PPP: {}", Down(reason)))
}

/// A link's down reason for logs and CDN messages (peer text escaped).
struct Down<'a>(&'a DownReason);

impl fmt::Display for Down<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            DownReason::Closed(r) if r.is_empty() => f.write_str("closed"),
            DownReason::Closed(r) => write!(f, "closed ({r})"),
            DownReason::TerminatedByPeer(r) if r.is_empty() => {
                f.write_str("terminated by the peer")
            }
            DownReason::TerminatedByPeer(r) => write!(f, "terminated by the peer ({r:?})"),
            DownReason::EchoTimeout => f.write_str("the peer stopped answering LCP echo requests"),
            DownReason::AuthFailed(r) => write!(f, "authentication failed ({r:?})"),
            DownReason::NegotiationFailed(p) => write!(f, "{p} negotiation failed"),
            DownReason::LowerDown => f.write_str("the L2TP session ended"),
            DownReason::EncryptionRequired => {
                f.write_str("encryption required but nothing provides it")
            }
            other => write!(f, "{other:?}"),
        }
    }
}

/// Up to two server addresses: `a,b`, `a`, or `none`.
struct Servers<'a>(&'a [Option<Ipv4Addr>]);

impl fmt::Display for Servers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for a in self.0.iter().flatten() {
            if any {
                f.write_str(",")?;
            }
            write!(f, "{a}")?;
            any = true;
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_display() {
        let a = Some(Ipv4Addr::new(198, 51, 100, 53));
        let b = Some(Ipv4Addr::new(198, 51, 100, 54));
        assert_eq!(Servers(&[a, b]).to_string(), "198.51.100.53,198.51.100.54");
        assert_eq!(Servers(&[a, None]).to_string(), "198.51.100.53");
        assert_eq!(Servers(&[None, b]).to_string(), "198.51.100.54");
        assert_eq!(Servers(&[None, None]).to_string(), "none");
    }

    #[test]
    fn cdn_results() {
        assert_eq!(cdn_for(&DownReason::EchoTimeout).0, 1);
        assert_eq!(cdn_for(&DownReason::TerminatedByPeer("bye".into())).0, 1);
        let (r, m) = cdn_for(&DownReason::AuthFailed("Authentication failed".into()));
        assert_eq!(r, 3);
        assert!(m.contains("authentication failed"), "{m}");
        assert_eq!(cdn_for(&DownReason::Closed("shutting down".into())).0, 3);
        assert_eq!(cdn_for(&DownReason::NegotiationFailed("LCP")).0, 3);
    }

    #[test]
    fn peer_text_is_escaped() {
        let s = Down(&DownReason::TerminatedByPeer("a\nb".into())).to_string();
        assert!(!s.contains('\n'), "{s}");
    }

    #[test]
    fn pings_go_one_a_second_and_count_distinct_replies() {
        let t0 = crate::driver::now();
        let local = Ipv4Addr::new(198, 51, 100, 10);
        let peer = Ipv4Addr::new(198, 51, 100, 1);
        let mut p = Ping::new(0x1234, local, peer, 3, t0);
        assert_eq!(p.deadline(), Some(t0 + PING_INTERVAL));
        assert!(p.due(t0).is_none(), "the first one waits a second");
        let t0 = t0 + PING_INTERVAL;
        let r1 = p.due(t0).unwrap();
        assert!(p.due(t0).is_none());
        assert_eq!(p.deadline(), Some(t0 + PING_INTERVAL));
        // The server's answer, as our responder would make it.
        let reply = icmp::echo_reply(&r1, peer).unwrap();
        let (seq, data) = icmp::parse_echo_reply(&reply, peer, local, 0x1234).unwrap();
        assert_eq!((seq, data.len()), (1, PING_DATA_LEN));
        assert!(p.on_reply(t0, 1).is_some());
        assert!(p.on_reply(t0, 1).is_none(), "duplicate");
        assert!(
            p.on_reply(t0, 0).is_none() && p.on_reply(t0, 2).is_none(),
            "not sent"
        );
        assert!(!p.done(t0));
        assert!(p.due(t0 + PING_INTERVAL).is_some());
        assert!(p.due(t0 + 2 * PING_INTERVAL).is_some());
        assert_eq!(p.sent, 3);
        assert!(p.due(t0 + 10 * PING_INTERVAL).is_none());
        let last = t0 + 2 * PING_INTERVAL;
        assert_eq!(p.deadline(), Some(last + PING_WAIT));
        assert!(!p.done(last));
        assert!(p.done(last + PING_WAIT));
        assert_eq!(p.replies, 1);
        // All answered: done at once.
        assert!(p.on_reply(last, 2).is_some() && p.on_reply(last, 3).is_some());
        assert!(p.done(last));
    }

    #[test]
    fn ping_requests_match_our_parser() {
        let t0 = crate::driver::now();
        let local = Ipv4Addr::new(10, 0, 0, 2);
        let peer = Ipv4Addr::new(10, 0, 0, 1);
        let mut p = Ping::new(7, local, peer, 1, t0);
        let req = p.due(t0 + PING_INTERVAL).unwrap();
        assert_eq!(req.len(), 20 + 8 + PING_DATA_LEN);
        assert!(icmp::echo_reply(&req, peer).is_ok());
        assert!(icmp::echo_reply(&req, local).is_err());
    }
}
