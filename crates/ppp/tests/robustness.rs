//! ROBUSTNESS.md §5, cases 28-31 (PPP), plus the RFC 1661 behaviours around them: one test
//! per case, each feeding a [`Link`] the frames the case names (built with `sras_ppp::wire`) and
//! asserting what goes back on the wire (decoded with `sras_ppp::wire`), the events, the phase
//! and the deadlines afterwards.
//!
//! Most tests drive one link directly from a scripted peer ([`Ut`]); re-authentication puts a
//! real client against the server on a `sras_testkit::Network`. Everything runs in virtual time.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use sras_core::Transmit;
use sras_ppp::link::Error;
use sras_ppp::wire::{
    code, encode_frame, parse_frame, ChapPacket, EapMd5, EapMsChapV2, EapPacket, EapType,
    LcpOption, MsChapV2Response, Packet, PapPacket, Protocol,
};
use sras_ppp::{AuthMethod, DownReason, Event, Link, LinkConfig, Phase, Received, Role, Verdict};
use sras_testkit::{LinkConfig as Net, Network, Node, VirtualClock};
use zeroize::Zeroizing;

const SECOND: Duration = Duration::from_secs(1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const POOL_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// The scripted peer's magic number.
const PEER_MAGIC: u32 = 0x1122_3344;

// ----- the link under test, driven by a scripted peer -------------------------------------

/// A control packet the link sent, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    protocol: Protocol,
    code: u8,
    id: u8,
    data: Vec<u8>,
}

/// A link in virtual time, with everything it reported.
struct Ut {
    link: Link,
    clock: VirtualClock,
    events: Vec<Event>,
    /// The link's magic number, once [`Ut::establish_lcp`] saw it.
    magic: Option<u32>,
}

fn server_config(methods: &[AuthMethod]) -> LinkConfig {
    LinkConfig {
        role: Role::Server,
        auth_methods: methods.to_vec(),
        local_ipv4: Some(SERVER_IP),
        rng_seed: [7; 32],
        ..LinkConfig::default()
    }
}

fn client_config(methods: &[AuthMethod]) -> LinkConfig {
    LinkConfig {
        role: Role::Client,
        auth_methods: methods.to_vec(),
        user: "alice".into(),
        password: Zeroizing::new("wonderland".into()),
        rng_seed: [8; 32],
        ..LinkConfig::default()
    }
}

/// A PPP frame (address/control, 2-octet protocol) carrying one control packet.
fn frame(protocol: Protocol, code: u8, id: u8, data: &[u8]) -> Vec<u8> {
    let mut packet = Vec::new();
    Packet::encode(code, id, data, &mut packet);
    raw_frame(protocol, &packet)
}

/// A PPP frame around an Information field given verbatim.
fn raw_frame(protocol: Protocol, information: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    encode_frame(protocol, false, false, information, &mut f);
    f
}

fn lcp_options(options: &[LcpOption]) -> Vec<u8> {
    let mut v = Vec::new();
    for o in options {
        o.encode(&mut v);
    }
    v
}

/// The Magic-Number in an LCP option list.
fn magic_in(options: &[u8]) -> Option<u32> {
    sras_ppp::wire::options(options)
        .flatten()
        .find_map(|raw| match LcpOption::parse(&raw) {
            Ok(LcpOption::MagicNumber(m)) => Some(m),
            _ => None,
        })
}

/// An IPv4 header (no payload), checksum left zero: the link never looks inside.
fn ipv4_packet() -> Vec<u8> {
    let (s, d) = (POOL_IP.octets(), SERVER_IP.octets());
    let mut p = vec![0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0];
    p.extend_from_slice(&s);
    p.extend_from_slice(&d);
    p
}

impl Ut {
    fn new(config: LinkConfig) -> Self {
        Self {
            link: Link::new(config),
            clock: VirtualClock::new(),
            events: Vec::new(),
            magic: None,
        }
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.link.poll_event() {
            self.events.push(e);
        }
    }

    fn open(&mut self) {
        let now = self.now();
        self.link.open(now);
        self.drain_events();
    }

    /// Feeds a whole frame; an IP packet comes back owned.
    fn feed_frame(&mut self, f: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let now = self.now();
        let r = match self.link.handle_frame(now, f) {
            Ok(Received::Control) => Ok(None),
            Ok(Received::Ipv4(p) | Received::Ipv6(p)) => Ok(Some(p.to_vec())),
            Err(e) => Err(e),
        };
        self.drain_events();
        r
    }

    /// Feeds one control packet; control frames are always taken (`Received::Control`) or
    /// discarded for the phase.
    fn feed(&mut self, protocol: Protocol, code: u8, id: u8, data: &[u8]) -> Result<(), Error> {
        self.feed_frame(&frame(protocol, code, id, data)).map(|ip| {
            assert_eq!(ip, None, "a control frame came back as IP");
        })
    }

    /// Feeds a control packet given whole (Code, Identifier, Length, Data), e.g. one built by
    /// a `wire` encoder or one whose Length lies.
    fn feed_packet(&mut self, protocol: Protocol, packet: &[u8]) -> Result<(), Error> {
        self.feed_frame(&raw_frame(protocol, packet)).map(|_| ())
    }

    /// Everything sent since the last call, decoded.
    fn take(&mut self) -> Vec<Sent> {
        let mut v = Vec::new();
        while let Some(f) = self.link.poll_transmit() {
            let (protocol, info) = parse_frame(&f).expect("the link sends well-formed frames");
            let p = Packet::parse(info).expect("the link sends well-formed control packets");
            assert_eq!(p.len(), info.len(), "no padding in what we send");
            v.push(Sent {
                protocol,
                code: p.code,
                id: p.identifier,
                data: p.data.to_vec(),
            });
        }
        v
    }

    /// The one packet sent since the last call, which must be `protocol`/`code`.
    fn take_one(&mut self, protocol: Protocol, code: u8) -> Sent {
        let sent = self.take();
        assert!(
            sent.len() == 1 && sent[0].protocol == protocol && sent[0].code == code,
            "expected exactly one {protocol:?} code {code}, got {sent:?}"
        );
        sent.into_iter().next().unwrap()
    }

    /// Moves virtual time by `d`, firing every deadline on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now() + d;
        while let Some(t) = self.link.poll_timeout().filter(|t| *t <= end) {
            if t > self.now() {
                self.clock.set(t);
            }
            let now = self.now();
            self.link.handle_timeout(now);
            self.drain_events();
        }
        self.clock.set(end);
    }

    fn auth_requests(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::AuthRequested(_)))
            .count()
    }

    fn down(&self) -> Option<&DownReason> {
        self.events.iter().find_map(|e| match e {
            Event::LinkDown { reason } => Some(reason),
            _ => None,
        })
    }

    fn is_up(&self) -> bool {
        self.events.iter().any(|e| matches!(e, Event::LinkUp(_)))
    }

    /// LCP with a scripted peer: the link's Configure-Request is acknowledged as sent, and the
    /// peer asks for `peer_options` (which the link must Ack). Returns the link's magic number
    /// and its request's options.
    fn establish_lcp(&mut self, peer_options: &[u8]) -> (u32, Vec<u8>) {
        self.open();
        let req = self.take_one(Protocol::Lcp, code::CONFIGURE_REQUEST);
        self.feed(Protocol::Lcp, code::CONFIGURE_ACK, req.id, &req.data)
            .unwrap();
        assert!(self.take().is_empty());
        self.feed(Protocol::Lcp, code::CONFIGURE_REQUEST, 1, peer_options)
            .unwrap();
        let magic = magic_in(&req.data).expect("a magic number");
        self.magic = Some(magic);
        (magic, req.data)
    }

    /// A server brought to the Network phase by a scripted PAP peer, with IPCP negotiating
    /// (its Configure-Request sent, not yet answered). Returns that request.
    fn server_in_network_phase() -> (Self, Sent) {
        let mut ut = Self::new(server_config(&[AuthMethod::Pap]));
        ut.establish_lcp(&lcp_options(&[LcpOption::MagicNumber(PEER_MAGIC)]));
        let ack = ut.take_one(Protocol::Lcp, code::CONFIGURE_ACK);
        assert_eq!(ack.id, 1);
        assert_eq!(ut.link.phase(), Phase::Authenticate);
        let mut pap = Vec::new();
        PapPacket::Request {
            peer_id: b"alice".to_vec(),
            password: b"wonderland".to_vec(),
        }
        .encode(9, &mut pap);
        ut.feed_packet(Protocol::Pap, &pap).unwrap();
        let request = ut.take_request();
        let now = ut.now();
        ut.link.complete_auth(now, request, accept_with_pool());
        ut.drain_events();
        let sent = ut.take();
        assert_eq!(sent[0].protocol, Protocol::Pap);
        assert_eq!(sent[0].code, PapPacket::ACK);
        assert_eq!(sent[1].protocol, Protocol::Ipcp);
        assert_eq!(sent[1].code, code::CONFIGURE_REQUEST);
        assert_eq!(ut.link.phase(), Phase::Network);
        (ut, sent[1].clone())
    }

    /// The id of the one AuthRequested event so far.
    fn take_request(&mut self) -> u64 {
        let ids: Vec<u64> = self
            .events
            .iter()
            .filter_map(|e| match e {
                Event::AuthRequested(r) => Some(r.id),
                _ => None,
            })
            .collect();
        assert_eq!(ids.len(), 1, "{:?}", self.events);
        ids[0]
    }

    /// A server whose IPCP is open with a scripted peer at [`POOL_IP`].
    fn server_up() -> Self {
        let (mut ut, req) = Self::server_in_network_phase();
        ut.feed(Protocol::Ipcp, code::CONFIGURE_ACK, req.id, &req.data)
            .unwrap();
        let ours = ip_address_option(POOL_IP);
        ut.feed(Protocol::Ipcp, code::CONFIGURE_REQUEST, 1, &ours)
            .unwrap();
        let ack = ut.take_one(Protocol::Ipcp, code::CONFIGURE_ACK);
        assert_eq!(ack.data, ours);
        assert!(ut.is_up(), "{:?}", ut.events);
        ut
    }

    /// Answers a Terminate-Request among `sent` with a Terminate-Ack.
    fn ack_terminate(&mut self, sent: &[Sent]) {
        let t = sent
            .iter()
            .find(|s| s.protocol == Protocol::Lcp && s.code == code::TERMINATE_REQUEST)
            .unwrap_or_else(|| panic!("no Terminate-Request in {sent:?}"));
        self.feed(Protocol::Lcp, code::TERMINATE_ACK, t.id, &[])
            .unwrap();
    }

    /// Nothing is armed and nothing more is sent, however long we wait.
    fn assert_quiet(&mut self) {
        assert_eq!(self.link.poll_timeout(), None, "a deadline is left armed");
        self.advance(600 * SECOND);
        assert_eq!(self.take(), vec![], "sent after the end");
        assert_eq!(self.link.phase(), Phase::Dead);
    }
}

fn accept_with_pool() -> Verdict {
    Verdict::Accept(sras_ppp::Accept {
        peer_ip: Some(POOL_IP),
        ..sras_ppp::Accept::default()
    })
}

fn ip_address_option(a: Ipv4Addr) -> Vec<u8> {
    let mut v = vec![3, 6];
    v.extend_from_slice(&a.octets());
    v
}

/// A well-formed MS-CHAPv2 Response value (the numbers do not matter to the link).
fn mschapv2_value() -> [u8; 49] {
    MsChapV2Response {
        peer_challenge: [0x11; 16],
        nt_response: [0x22; 24],
        flags: 0,
    }
    .encode()
}

// ----- 28: EAP with a 1000-byte Name, EAP when EAP was not negotiated ----------------------

/// The server (EAP negotiated) takes an Identity and an EAP-MSCHAPv2 Response whose Name is
/// 1000 octets: the exchange goes on and the request carries the whole name; nothing panics.
#[test]
fn robustness_28_server_takes_eap_responses_with_a_1000_byte_name() {
    let mut ut = Ut::new(server_config(&[AuthMethod::Eap]));
    ut.establish_lcp(&lcp_options(&[LcpOption::MagicNumber(PEER_MAGIC)]));
    let sent = ut.take();
    let identity = sent
        .iter()
        .find(|s| s.protocol == Protocol::Eap)
        .expect("EAP Request/Identity");
    assert_eq!(identity.code, EapPacket::REQUEST);
    assert_eq!(identity.data, [EapType::Identity.value()]);

    let long = vec![b'n'; 1000];
    let mut p = Vec::new();
    EapPacket::Response {
        type_: EapType::Identity,
        data: long.clone(),
    }
    .encode(identity.id, &mut p);
    ut.feed_packet(Protocol::Eap, &p).unwrap();
    let challenge = ut.take_one(Protocol::Eap, EapPacket::REQUEST);
    assert_eq!(challenge.data[0], EapType::MsChapV2.value());
    let Ok(EapMsChapV2::Challenge { id, .. }) = EapMsChapV2::parse(&challenge.data[1..]) else {
        panic!("not an EAP-MSCHAPv2 Challenge: {challenge:?}");
    };

    let mut d = Vec::new();
    EapMsChapV2::Response {
        id,
        response: MsChapV2Response::parse(&mschapv2_value()).unwrap(),
        name: long.clone(),
    }
    .encode(&mut d);
    let mut p = Vec::new();
    EapPacket::Response {
        type_: EapType::MsChapV2,
        data: d,
    }
    .encode(challenge.id, &mut p);
    assert!(p.len() > 1000);
    ut.feed_packet(Protocol::Eap, &p).unwrap();
    let request = ut.events.iter().find_map(|e| match e {
        Event::AuthRequested(r) => Some(r.clone()),
        _ => None,
    });
    let request = request.expect("a well-formed response is decided by the caller");
    assert_eq!(request.method, AuthMethod::Eap);
    assert_eq!(request.user.as_bytes(), &long[..]);
}

/// The client (EAP negotiated) answers an EAP-MD5 and an EAP-MSCHAPv2 Request whose Name is
/// 1000 octets with well-formed Responses naming itself (pppd CVE-2020-8597 overflowed here),
/// and ignores an EAP-MD5 Request whose Value-Size runs past the packet.
#[test]
fn robustness_28_client_answers_eap_requests_with_a_1000_byte_name() {
    let mut ut = Ut::new(client_config(&[AuthMethod::Eap]));
    ut.open();
    let req = ut.take_one(Protocol::Lcp, code::CONFIGURE_REQUEST);
    ut.feed(Protocol::Lcp, code::CONFIGURE_ACK, req.id, &req.data)
        .unwrap();
    let ours = lcp_options(&[
        LcpOption::AuthProtocol {
            protocol: 0xc227,
            data: vec![],
        },
        LcpOption::MagicNumber(PEER_MAGIC),
    ]);
    ut.feed(Protocol::Lcp, code::CONFIGURE_REQUEST, 1, &ours)
        .unwrap();
    ut.take_one(Protocol::Lcp, code::CONFIGURE_ACK);
    assert_eq!(ut.link.phase(), Phase::Authenticate);

    let long = vec![b'n'; 1000];
    // EAP-MD5 Challenge: Value-Size 16, Value, Name (1000 octets).
    let mut d = Vec::new();
    EapMd5 {
        value: vec![0x33; 16],
        name: long.clone(),
    }
    .encode(&mut d);
    let mut p = Vec::new();
    EapPacket::Request {
        type_: EapType::Md5Challenge,
        data: d,
    }
    .encode(20, &mut p);
    ut.feed_packet(Protocol::Eap, &p).unwrap();
    let r = ut.take_one(Protocol::Eap, EapPacket::RESPONSE);
    assert_eq!(r.id, 20);
    assert_eq!(r.data[0], EapType::Md5Challenge.value());
    let md5 = EapMd5::parse(&r.data[1..]).unwrap();
    assert_eq!((md5.value.len(), &md5.name[..]), (16, &b"alice"[..]));

    // EAP-MSCHAPv2 Challenge with a 1000-octet Name.
    let mut d = Vec::new();
    EapMsChapV2::Challenge {
        id: 5,
        challenge: [0x44; 16],
        name: long,
    }
    .encode(&mut d);
    let mut p = Vec::new();
    EapPacket::Request {
        type_: EapType::MsChapV2,
        data: d,
    }
    .encode(21, &mut p);
    ut.feed_packet(Protocol::Eap, &p).unwrap();
    let r = ut.take_one(Protocol::Eap, EapPacket::RESPONSE);
    let Ok(EapMsChapV2::Response { id: 5, name, .. }) = EapMsChapV2::parse(&r.data[1..]) else {
        panic!("not an EAP-MSCHAPv2 Response: {r:?}");
    };
    assert_eq!(name, b"alice");

    // EAP-MD5 whose Value-Size (255) runs past the packet: ignored, nothing sent.
    let p = frame(Protocol::Eap, EapPacket::REQUEST, 22, &[4, 255, 1, 2, 3]);
    ut.feed_frame(&p).unwrap();
    assert_eq!(ut.take(), vec![]);
    assert!(ut.down().is_none());
}

/// EAP on a link that negotiated something else is ignored (no answer, no AuthRequested), and
/// the negotiated method still works afterwards; before LCP opens it is discarded.
#[test]
fn robustness_28_eap_when_not_negotiated_is_ignored() {
    // Server asking MS-CHAPv2.
    let mut ut = Ut::new(server_config(&[AuthMethod::MsChapV2]));
    assert_eq!(
        ut.feed(Protocol::Eap, EapPacket::RESPONSE, 1, &[1, b'x']),
        Err(Error::Discarded(
            "authentication outside the Authenticate phase"
        ))
    );
    ut.establish_lcp(&lcp_options(&[LcpOption::MagicNumber(PEER_MAGIC)]));
    let sent = ut.take();
    let challenge = sent
        .iter()
        .find(|s| s.protocol == Protocol::Chap)
        .expect("a CHAP Challenge")
        .clone();
    let long = vec![b'n'; 1000];
    let mut identity = vec![EapType::Identity.value()];
    identity.extend_from_slice(&long);
    for (c, data) in [
        (EapPacket::RESPONSE, identity.clone()),
        (EapPacket::REQUEST, identity),
        (EapPacket::RESPONSE, vec![EapType::MsChapV2.value(), 2, 0]),
        (EapPacket::SUCCESS, vec![]),
    ] {
        ut.feed(Protocol::Eap, c, challenge.id, &data).unwrap();
        assert_eq!(ut.take(), vec![], "EAP code {c} answered");
    }
    assert_eq!(ut.auth_requests(), 0);
    assert_eq!(ut.link.phase(), Phase::Authenticate);
    // The CHAP exchange is unaffected.
    let mut p = Vec::new();
    ChapPacket::Response {
        value: mschapv2_value().to_vec(),
        name: b"alice".to_vec(),
    }
    .encode(challenge.id, &mut p);
    ut.feed_packet(Protocol::Chap, &p).unwrap();
    assert_eq!(ut.auth_requests(), 1);

    // Client that agreed to PAP.
    let mut ut = Ut::new(client_config(&[AuthMethod::Pap]));
    ut.open();
    let req = ut.take_one(Protocol::Lcp, code::CONFIGURE_REQUEST);
    ut.feed(Protocol::Lcp, code::CONFIGURE_ACK, req.id, &req.data)
        .unwrap();
    let ours = lcp_options(&[
        LcpOption::AuthProtocol {
            protocol: 0xc023,
            data: vec![],
        },
        LcpOption::MagicNumber(PEER_MAGIC),
    ]);
    ut.feed(Protocol::Lcp, code::CONFIGURE_REQUEST, 1, &ours)
        .unwrap();
    let sent = ut.take();
    assert!(sent.iter().any(|s| s.protocol == Protocol::Pap));
    ut.feed(
        Protocol::Eap,
        EapPacket::REQUEST,
        3,
        &[EapType::Identity.value()],
    )
    .unwrap();
    ut.feed(Protocol::Eap, EapPacket::SUCCESS, 3, &[]).unwrap();
    assert_eq!(ut.take(), vec![]);
    assert!(!ut
        .events
        .iter()
        .any(|e| matches!(e, Event::Authenticated { .. })));
}

// ----- 29: malformed Configure-Requests ---------------------------------------------------

/// LCP Configure-Requests with an option of length 0 or 1, an option past the end, a wrong
/// typed length, or a duplicate are Configure-Rejected (never Acked); a good request then
/// opens LCP.
#[test]
fn robustness_29_malformed_lcp_configure_requests_are_rejected() {
    let mut ut = Ut::new(server_config(&[AuthMethod::MsChapV2]));
    ut.open();
    let req = ut.take_one(Protocol::Lcp, code::CONFIGURE_REQUEST);
    let bad: [(&str, &[u8]); 7] = [
        ("length 0", &[1, 0, 5, 0xdc]),
        ("length 1", &[5, 6, 0, 0, 0, 1, 1, 1]),
        ("past the end", &[1, 4, 5, 0xdc, 5, 10, 1, 2, 3, 4]),
        ("lone type octet", &[1, 4, 5, 0xdc, 5]),
        ("MRU length 3", &[1, 3, 5]),
        ("Magic-Number length 4", &[5, 4, 0, 1]),
        ("duplicate MRU", &[1, 4, 5, 0xdc, 1, 4, 5, 0xd0]),
    ];
    for (i, (what, options)) in bad.iter().enumerate() {
        let id = 10 + i as u8;
        ut.feed(Protocol::Lcp, code::CONFIGURE_REQUEST, id, options)
            .unwrap();
        let sent = ut.take();
        assert!(
            sent.iter().all(|s| s.code != code::CONFIGURE_ACK),
            "{what}: Acked: {sent:?}"
        );
        let reject = sent
            .iter()
            .find(|s| s.code == code::CONFIGURE_REJECT)
            .unwrap_or_else(|| panic!("{what}: no Configure-Reject in {sent:?}"));
        assert_eq!(reject.id, id, "{what}");
        assert!(!reject.data.is_empty(), "{what}");
    }
    // Of a duplicate, only the second is rejected (copied verbatim, RFC 1661 §5.4).
    ut.feed(
        Protocol::Lcp,
        code::CONFIGURE_REQUEST,
        30,
        &[1, 4, 5, 0xdc, 1, 4, 5, 0xd0],
    )
    .unwrap();
    let r = ut.take_one(Protocol::Lcp, code::CONFIGURE_REJECT);
    assert_eq!(r.data, [1, 4, 5, 0xd0]);
    assert_eq!(ut.link.phase(), Phase::Establish);

    // A good request is Acked and, with ours acknowledged, LCP opens.
    let good = lcp_options(&[LcpOption::Mru(1400), LcpOption::MagicNumber(PEER_MAGIC)]);
    ut.feed(Protocol::Lcp, code::CONFIGURE_REQUEST, 31, &good)
        .unwrap();
    let sent = ut.take();
    let ack = sent
        .iter()
        .find(|s| s.code == code::CONFIGURE_ACK)
        .unwrap_or_else(|| panic!("good request not Acked: {sent:?}"));
    assert_eq!((ack.id, &ack.data), (31, &good));
    // The server's own request may have been refreshed meanwhile; Ack the latest.
    let latest = sent
        .iter()
        .rev()
        .find(|s| s.code == code::CONFIGURE_REQUEST)
        .cloned()
        .unwrap_or(req);
    ut.feed(Protocol::Lcp, code::CONFIGURE_ACK, latest.id, &latest.data)
        .unwrap();
    assert_eq!(ut.link.phase(), Phase::Authenticate);
    assert!(ut.take().iter().any(|s| s.protocol == Protocol::Chap));
}

/// IPCP Configure-Requests with an option of length 0 or 1, past the end, an IP-Address whose
/// length is not 6, or a duplicate IP-Address are Configure-Rejected (never Acked, IPCP stays
/// down); a good request then brings IP up.
#[test]
fn robustness_29_malformed_ipcp_configure_requests_are_rejected() {
    let (mut ut, req) = Ut::server_in_network_phase();
    let pool = POOL_IP.octets();
    let dup = [ip_address_option(POOL_IP), ip_address_option(POOL_IP)].concat();
    let bad: [(&str, Vec<u8>); 7] = [
        ("length 0", vec![3, 0, 1, 2, 3, 4]),
        ("length 1", vec![3, 1, 1, 2, 3, 4]),
        ("past the end", vec![3, 6, pool[0], pool[1]]),
        ("IP-Address length 4", vec![3, 4, pool[0], pool[1]]),
        (
            "IP-Address length 8",
            vec![3, 8, pool[0], pool[1], pool[2], pool[3], 0, 0],
        ),
        ("Primary-DNS length 2", vec![129, 2]),
        ("duplicate IP-Address", dup.clone()),
    ];
    for (i, (what, options)) in bad.iter().enumerate() {
        let id = 10 + i as u8;
        ut.feed(Protocol::Ipcp, code::CONFIGURE_REQUEST, id, options)
            .unwrap();
        let sent = ut.take();
        assert!(
            sent.iter().all(|s| s.code != code::CONFIGURE_ACK),
            "{what}: Acked: {sent:?}"
        );
        let reject = sent
            .iter()
            .find(|s| s.protocol == Protocol::Ipcp && s.code == code::CONFIGURE_REJECT)
            .unwrap_or_else(|| panic!("{what}: no Configure-Reject in {sent:?}"));
        assert_eq!(reject.id, id, "{what}");
        if *what == "duplicate IP-Address" {
            assert_eq!(reject.data, ip_address_option(POOL_IP), "only the second");
        }
    }
    assert!(!ut.is_up());
    // A good request is Acked; with ours acknowledged, IP is up at the pool address.
    let good = ip_address_option(POOL_IP);
    ut.feed(Protocol::Ipcp, code::CONFIGURE_REQUEST, 40, &good)
        .unwrap();
    let ack = ut.take_one(Protocol::Ipcp, code::CONFIGURE_ACK);
    assert_eq!((ack.id, ack.data), (40, good));
    ut.feed(Protocol::Ipcp, code::CONFIGURE_ACK, req.id, &req.data)
        .unwrap();
    let info = ut.events.iter().find_map(|e| match e {
        Event::LinkUp(i) => Some(i.clone()),
        _ => None,
    });
    let info = info.expect("IPCP up");
    assert_eq!((info.local, info.peer), (SERVER_IP, POOL_IP));
}

// ----- 30: malformed credentials ----------------------------------------------------------

/// What the link did with one malformed authentication packet.
fn malformed_credentials(method: AuthMethod, packet: &dyn Fn(u8) -> (Protocol, Vec<u8>)) -> Ut {
    let mut ut = Ut::new(server_config(&[method]));
    ut.establish_lcp(&lcp_options(&[LcpOption::MagicNumber(PEER_MAGIC)]));
    let sent = ut.take();
    let id = sent
        .iter()
        .find(|s| s.protocol == Protocol::Chap)
        .map_or(77, |c| c.id);
    let (protocol, p) = packet(id);
    ut.feed_packet(protocol, &p).unwrap();
    ut
}

/// Asserts: a failure message went to the peer, no AuthRequested, then LCP terminates and the
/// link ends with `AuthFailed(reason)` naming `why`, with nothing left armed.
fn assert_malformed_fails(mut ut: Ut, what: &str, failure: (Protocol, u8), why: &str) {
    assert_eq!(
        ut.auth_requests(),
        0,
        "{what}: AuthRequested for malformed input"
    );
    let sent = ut.take();
    assert!(
        sent.iter().any(|s| (s.protocol, s.code) == failure),
        "{what}: no failure message in {sent:?}"
    );
    ut.ack_terminate(&sent);
    match ut.down() {
        Some(DownReason::AuthFailed(reason)) => {
            assert!(reason.contains(why), "{what}: reason {reason:?}")
        }
        other => panic!("{what}: {other:?}, events {:?}", ut.events),
    }
    assert_eq!(ut.auth_requests(), 0, "{what}");
    ut.assert_quiet();
}

fn chap_response(id: u8, value: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    ChapPacket::Response {
        value: value.to_vec(),
        name: b"alice".to_vec(),
    }
    .encode(id, &mut p);
    p
}

/// CHAP-MD5 Response values of 0, 15, 17 and 255 octets, and a Value-Size past the packet end.
#[test]
fn robustness_30_chap_md5_response_value_not_16() {
    let failure = (Protocol::Chap, ChapPacket::FAILURE);
    for n in [0usize, 15, 17, 255] {
        let ut = malformed_credentials(AuthMethod::ChapMd5, &|id| {
            (Protocol::Chap, chap_response(id, &vec![0x5a; n]))
        });
        assert_malformed_fails(ut, &format!("value {n}"), failure, "16 octets");
    }
    // Value-Size 200 with 5 octets left in the packet.
    let ut = malformed_credentials(AuthMethod::ChapMd5, &|id| {
        let mut p = Vec::new();
        Packet::encode(ChapPacket::RESPONSE, id, &[200, 1, 2, 3, 4, 5], &mut p);
        (Protocol::Chap, p)
    });
    assert_malformed_fails(ut, "Value-Size past the end", failure, "CHAP");
}

/// MS-CHAPv2 Response values of 16, 48 and 50 octets, and an EAP-MSCHAPv2 Response of 48.
#[test]
fn robustness_30_mschapv2_response_value_not_49() {
    let failure = (Protocol::Chap, ChapPacket::FAILURE);
    for n in [16usize, 48, 50] {
        let ut = malformed_credentials(AuthMethod::MsChapV2, &|id| {
            (Protocol::Chap, chap_response(id, &vec![0x5a; n]))
        });
        assert_malformed_fails(ut, &format!("value {n}"), failure, "49 octets");
    }
    // EAP-MSCHAPv2 with a 48-octet Response value.
    let mut ut = Ut::new(server_config(&[AuthMethod::Eap]));
    ut.establish_lcp(&lcp_options(&[LcpOption::MagicNumber(PEER_MAGIC)]));
    let identity = ut
        .take()
        .into_iter()
        .find(|s| s.protocol == Protocol::Eap)
        .unwrap();
    let mut p = Vec::new();
    EapPacket::Response {
        type_: EapType::Identity,
        data: b"alice".to_vec(),
    }
    .encode(identity.id, &mut p);
    ut.feed_packet(Protocol::Eap, &p).unwrap();
    let challenge = ut.take_one(Protocol::Eap, EapPacket::REQUEST);
    // OpCode 2, MS-CHAPv2-ID, MS-Length, Value-Size 48, Value, Name.
    let mut d = vec![2, challenge.data[2], 0, 4 + 1 + 48 + 5, 48];
    d.extend_from_slice(&[0x5a; 48]);
    d.extend_from_slice(b"alice");
    let mut p = Vec::new();
    EapPacket::Response {
        type_: EapType::MsChapV2,
        data: d,
    }
    .encode(challenge.id, &mut p);
    ut.feed_packet(Protocol::Eap, &p).unwrap();
    assert_malformed_fails(
        ut,
        "EAP-MSCHAPv2 value 48",
        (Protocol::Eap, EapPacket::FAILURE),
        "EAP-MSCHAPv2",
    );
}

/// PAP Authenticate-Requests whose Peer-ID Length or Passwd-Length runs past the packet end.
#[test]
fn robustness_30_pap_lengths_past_the_end() {
    let failure = (Protocol::Pap, PapPacket::NAK);
    let cases: [(&str, &[u8]); 3] = [
        ("Peer-ID Length past the end", &[50, b'a', b'l']),
        (
            "Passwd-Length past the end",
            &[5, b'a', b'l', b'i', b'c', b'e', 30, b'x'],
        ),
        ("no Passwd-Length", &[5, b'a', b'l', b'i', b'c', b'e']),
    ];
    for (what, data) in cases {
        let ut = malformed_credentials(AuthMethod::Pap, &|_| {
            let mut p = Vec::new();
            Packet::encode(PapPacket::REQUEST, 4, data, &mut p);
            (Protocol::Pap, p)
        });
        assert_malformed_fails(ut, what, failure, "PAP");
    }
}

// ----- 31: endless Naks, Terminate-Request mid-authentication -------------------------------

/// Runs the scripted peer `answer` against every LCP Configure-Request the link sends (Terminate-
/// Requests are acknowledged) until the link is down; returns the requests seen.
fn run_lcp_script(ut: &mut Ut, mut answer: impl FnMut(&mut Ut, &Sent)) -> Vec<Sent> {
    let mut requests = Vec::new();
    for _ in 0..100 {
        if ut.down().is_some() {
            break;
        }
        let sent = ut.take();
        if sent.is_empty() {
            ut.advance(SECOND);
            continue;
        }
        for s in &sent {
            match (s.protocol, s.code) {
                (Protocol::Lcp, code::CONFIGURE_REQUEST) => {
                    requests.push(s.clone());
                    answer(ut, s);
                }
                (Protocol::Lcp, code::TERMINATE_REQUEST) => {
                    ut.feed(Protocol::Lcp, code::TERMINATE_ACK, s.id, &[])
                        .unwrap();
                }
                _ => {}
            }
        }
    }
    requests
}

/// A peer that Configure-Naks every request (MRU): Max-Failure turns its Naks into rejects, the
/// loop bound stops the negotiation, and the link ends with `NegotiationFailed("LCP")` after a
/// clean Terminate exchange, with nothing armed.
#[test]
fn robustness_31_peer_that_naks_forever() {
    let mut ut = Ut::new(server_config(&[AuthMethod::MsChapV2]));
    ut.open();
    let requests = run_lcp_script(&mut ut, |ut, req| {
        let nak = lcp_options(&[LcpOption::Mru(1000)]);
        ut.feed(Protocol::Lcp, code::CONFIGURE_NAK, req.id, &nak)
            .unwrap();
    });
    assert_eq!(
        ut.down(),
        Some(&DownReason::NegotiationFailed("LCP")),
        "{:?}",
        ut.events
    );
    let cfg = sras_ppp::fsm::Config::default();
    assert!(
        requests.len() <= (cfg.max_failure + cfg.max_configure + 1) as usize,
        "{} requests",
        requests.len()
    );
    assert!(!ut.is_up() && ut.auth_requests() == 0);
    ut.assert_quiet();
}

/// A peer that Naks the server's IPCP request forever (it wants another server address): the
/// server cannot change its own address, stops after Max-Failure, and the link ends with
/// `NegotiationFailed("IPCP")` after a clean LCP Terminate exchange.
#[test]
fn robustness_31_peer_that_naks_ipcp_forever() {
    let (mut ut, req) = Ut::server_in_network_phase();
    let nak = ip_address_option(Ipv4Addr::new(10, 0, 0, 5));
    ut.feed(Protocol::Ipcp, code::CONFIGURE_NAK, req.id, &nak)
        .unwrap();
    let mut requests = 1;
    for _ in 0..100 {
        if ut.down().is_some() {
            break;
        }
        let sent = ut.take();
        if sent.is_empty() {
            ut.advance(SECOND);
        }
        for s in &sent {
            match (s.protocol, s.code) {
                (Protocol::Ipcp, code::CONFIGURE_REQUEST) => {
                    requests += 1;
                    ut.feed(Protocol::Ipcp, code::CONFIGURE_NAK, s.id, &nak)
                        .unwrap();
                }
                (Protocol::Lcp, code::TERMINATE_REQUEST) => {
                    ut.feed(Protocol::Lcp, code::TERMINATE_ACK, s.id, &[])
                        .unwrap();
                }
                _ => {}
            }
        }
    }
    let cfg = sras_ppp::fsm::Config::default();
    assert!(requests <= (cfg.max_failure + cfg.max_configure + 1) as usize);
    assert_eq!(ut.down(), Some(&DownReason::NegotiationFailed("IPCP")));
    assert!(!ut.is_up());
    ut.assert_quiet();
}

/// A peer that Naks the authentication protocol forever (it offers PAP; the server allows only
/// MS-CHAPv2 and CHAP-MD5) and Acks anything else: the server keeps asking for authentication
/// (RFC 1661 §3.5) and gives up, never reaching the Network phase unauthenticated.
#[test]
fn robustness_31_peer_that_naks_the_auth_protocol_forever() {
    let mut ut = Ut::new(server_config(&[AuthMethod::MsChapV2, AuthMethod::ChapMd5]));
    ut.open();
    let requests = run_lcp_script(&mut ut, |ut, req| {
        let asks_auth = sras_ppp::wire::options(&req.data)
            .flatten()
            .any(|o| o.kind == LcpOption::AUTH_PROTOCOL);
        if asks_auth {
            let nak = lcp_options(&[LcpOption::AuthProtocol {
                protocol: 0xc023,
                data: vec![],
            }]);
            ut.feed(Protocol::Lcp, code::CONFIGURE_NAK, req.id, &nak)
                .unwrap();
        } else {
            ut.feed(Protocol::Lcp, code::CONFIGURE_ACK, req.id, &req.data)
                .unwrap();
            let ours = lcp_options(&[LcpOption::MagicNumber(PEER_MAGIC)]);
            ut.feed(Protocol::Lcp, code::CONFIGURE_REQUEST, 200, &ours)
                .unwrap();
        }
    });
    for r in &requests {
        assert!(
            sras_ppp::wire::options(&r.data)
                .flatten()
                .any(|o| o.kind == LcpOption::AUTH_PROTOCOL),
            "a Configure-Request without Auth-Protocol: {r:?}"
        );
    }
    assert_ne!(ut.link.phase(), Phase::Network);
    assert!(
        !ut.is_up(),
        "IP came up without authentication: {:?}",
        ut.events
    );
    assert_eq!(ut.down(), Some(&DownReason::NegotiationFailed("LCP")));
    ut.assert_quiet();
}

/// A peer that repeats a request we must Nak (MRU 64): after Max-Failure Naks the Nak becomes a
/// Configure-Reject, and the loop bound ends the negotiation cleanly.
#[test]
fn robustness_31_peer_that_repeats_an_unacceptable_request() {
    let mut ut = Ut::new(server_config(&[AuthMethod::MsChapV2]));
    ut.open();
    let mut answers = Vec::new();
    for id in 0..40u8 {
        if ut.down().is_some() {
            break;
        }
        ut.feed(
            Protocol::Lcp,
            code::CONFIGURE_REQUEST,
            id,
            &lcp_options(&[LcpOption::Mru(64)]),
        )
        .unwrap();
        let sent = ut.take();
        answers.extend(
            sent.iter()
                .filter(|s| matches!(s.code, code::CONFIGURE_NAK | code::CONFIGURE_REJECT))
                .map(|s| s.code),
        );
        if sent.iter().any(|s| s.code == code::TERMINATE_REQUEST) {
            ut.ack_terminate(&sent);
        }
    }
    let cfg = sras_ppp::fsm::Config::default();
    let naks = answers
        .iter()
        .filter(|c| **c == code::CONFIGURE_NAK)
        .count();
    assert_eq!(naks, cfg.max_failure as usize, "{answers:?}");
    assert_eq!(answers[naks], code::CONFIGURE_REJECT, "{answers:?}");
    assert!(!answers.contains(&code::CONFIGURE_ACK));
    assert_eq!(ut.down(), Some(&DownReason::NegotiationFailed("LCP")));
    ut.assert_quiet();
}

/// A silent peer: Max-Configure requests, then `NegotiationFailed("LCP")`, nothing armed.
#[test]
fn robustness_31_silent_peer_exhausts_max_configure() {
    let mut ut = Ut::new(server_config(&[AuthMethod::MsChapV2]));
    ut.open();
    ut.advance(120 * SECOND);
    let sent = ut.take();
    let cfg = sras_ppp::fsm::Config::default();
    assert_eq!(
        sent.iter()
            .filter(|s| s.code == code::CONFIGURE_REQUEST)
            .count(),
        cfg.max_configure as usize
    );
    assert_eq!(ut.down(), Some(&DownReason::NegotiationFailed("LCP")));
    ut.assert_quiet();
}

/// Terminate-Request while the Challenge is outstanding: Terminate-Ack, then a clean
/// `TerminatedByPeer`; the Challenge is not retransmitted and nothing stays armed.
#[test]
fn robustness_31_terminate_request_mid_authentication() {
    let mut ut = Ut::new(server_config(&[AuthMethod::MsChapV2]));
    ut.establish_lcp(&lcp_options(&[LcpOption::MagicNumber(PEER_MAGIC)]));
    let challenge = ut
        .take()
        .into_iter()
        .find(|s| s.protocol == Protocol::Chap)
        .unwrap();
    ut.feed(Protocol::Lcp, code::TERMINATE_REQUEST, 42, b"bye")
        .unwrap();
    let ack = ut.take_one(Protocol::Lcp, code::TERMINATE_ACK);
    assert_eq!(ack.id, 42);
    assert_eq!(ut.link.phase(), Phase::Terminate);
    ut.advance(60 * SECOND);
    assert_eq!(ut.take(), vec![], "sent after the Terminate-Ack");
    assert_eq!(ut.down(), Some(&DownReason::TerminatedByPeer("bye".into())));
    // A late Response is discarded and decided by no one.
    let p = chap_response(challenge.id, &mschapv2_value());
    assert!(matches!(
        ut.feed_packet(Protocol::Chap, &p),
        Err(Error::Discarded(_))
    ));
    assert_eq!(ut.auth_requests(), 0);
    ut.assert_quiet();
}

/// Terminate-Request while the caller is deciding (RADIUS outstanding): the late verdict does
/// nothing — no Success, no IPCP — and the link ends `TerminatedByPeer`.
#[test]
fn robustness_31_terminate_request_while_the_verdict_is_pending() {
    let mut ut = Ut::new(server_config(&[AuthMethod::MsChapV2]));
    ut.establish_lcp(&lcp_options(&[LcpOption::MagicNumber(PEER_MAGIC)]));
    let challenge = ut
        .take()
        .into_iter()
        .find(|s| s.protocol == Protocol::Chap)
        .unwrap();
    let p = chap_response(challenge.id, &mschapv2_value());
    ut.feed_packet(Protocol::Chap, &p).unwrap();
    let request = ut.take_request();
    ut.feed(Protocol::Lcp, code::TERMINATE_REQUEST, 43, b"hung up")
        .unwrap();
    ut.take_one(Protocol::Lcp, code::TERMINATE_ACK);
    ut.advance(60 * SECOND);
    assert_eq!(
        ut.down(),
        Some(&DownReason::TerminatedByPeer("hung up".into()))
    );
    let now = ut.now();
    let verdict = Verdict::Accept(sras_ppp::Accept {
        peer_ip: Some(POOL_IP),
        authenticator_response: Some(format!("S={}", "0".repeat(40))),
        ..sras_ppp::Accept::default()
    });
    ut.link.complete_auth(now, request, verdict);
    ut.drain_events();
    assert_eq!(ut.take(), vec![], "sent after the link ended");
    assert!(!ut.is_up());
    assert!(!ut
        .events
        .iter()
        .any(|e| matches!(e, Event::Authenticated { .. })));
    ut.assert_quiet();
}

// ----- Protocol-Reject, Echo, loopback, phases ---------------------------------------------

/// An unknown protocol (0x8281) in the Network phase gets an LCP Protocol-Reject carrying its
/// number and information (RFC 1661 §5.7).
#[test]
fn unknown_protocol_is_protocol_rejected() {
    let mut ut = Ut::server_up();
    let info = [1u8, 2, 3, 4, 5];
    let r = ut.feed_frame(&raw_frame(Protocol::from(0x8281), &info));
    assert_eq!(r, Ok(None));
    let pr = ut.take_one(Protocol::Lcp, code::PROTOCOL_REJECT);
    assert_eq!(pr.data, [0x82, 0x81, 1, 2, 3, 4, 5]);
    assert_eq!(ut.link.stats().protocol_rejects, 1);
    assert!(ut.down().is_none());
}

/// CCP (sras never negotiates it) is Protocol-Rejected whole.
#[test]
fn ccp_configure_request_is_protocol_rejected() {
    let mut ut = Ut::server_up();
    // MPPE option (RFC 3078 §2.1): type 18, length 6, 128-bit stateless.
    let ccp = frame(
        Protocol::Ccp,
        code::CONFIGURE_REQUEST,
        1,
        &[18, 6, 1, 0, 0, 0x40],
    );
    ut.feed_frame(&ccp).unwrap();
    let pr = ut.take_one(Protocol::Lcp, code::PROTOCOL_REJECT);
    assert_eq!(pr.data[..2], [0x80, 0xfd]);
    assert_eq!(pr.data[2..], ccp[4..]);
    assert!(ut.is_up() && ut.down().is_none());
}

/// An Echo-Request is answered with an Echo-Reply: same identifier, our magic, same data.
#[test]
fn echo_request_is_answered_with_our_magic() {
    let mut ut = Ut::server_up();
    let magic = ut.magic.unwrap();
    let mut data = PEER_MAGIC.to_be_bytes().to_vec();
    data.extend_from_slice(b"ping");
    ut.feed(Protocol::Lcp, code::ECHO_REQUEST, 0x42, &data)
        .unwrap();
    let reply = ut.take_one(Protocol::Lcp, code::ECHO_REPLY);
    assert_eq!(reply.id, 0x42);
    assert_eq!(reply.data[..4], magic.to_be_bytes());
    assert_eq!(&reply.data[4..], b"ping");
}

/// A Configure-Request carrying our own magic number (a looped-back link, RFC 1661 §6.4) is
/// Nak'd with a different, non-zero magic number.
#[test]
fn loopback_is_detected_by_magic_number() {
    let mut ut = Ut::new(server_config(&[AuthMethod::MsChapV2]));
    ut.open();
    let req = ut.take_one(Protocol::Lcp, code::CONFIGURE_REQUEST);
    let ours = magic_in(&req.data).unwrap();
    ut.feed(
        Protocol::Lcp,
        code::CONFIGURE_REQUEST,
        5,
        &lcp_options(&[LcpOption::MagicNumber(ours)]),
    )
    .unwrap();
    let nak = ut.take_one(Protocol::Lcp, code::CONFIGURE_NAK);
    assert_eq!(nak.id, 5);
    let suggested = magic_in(&nak.data).expect("a Magic-Number in the Nak");
    assert_ne!(suggested, ours);
    assert_ne!(suggested, 0);
}

/// IP before IPCP is open is discarded in every phase (RFC 1661 §3.5, §3.6), and counted.
#[test]
fn ip_before_ipcp_opens_is_discarded() {
    let ip = raw_frame(Protocol::Ipv4, &ipv4_packet());
    let mut ut = Ut::new(server_config(&[AuthMethod::Pap]));
    assert!(matches!(ut.feed_frame(&ip), Err(Error::Discarded(_))));
    ut.open();
    assert!(matches!(ut.feed_frame(&ip), Err(Error::Discarded(_))));
    ut.take();
    let (mut ut, _) = Ut::server_in_network_phase();
    assert!(matches!(ut.feed_frame(&ip), Err(Error::Discarded(_))));
    assert!(matches!(
        ut.feed_frame(&raw_frame(Protocol::Ipv6, &[0x60, 0, 0, 0])),
        Err(Error::Discarded(_))
    ));
    assert_eq!(ut.take(), vec![]);
    assert_eq!(ut.link.stats().discarded, 2);
    assert_eq!(ut.link.stats().ip_rx, 0);
    // Once IPCP is open the same frame is taken, borrowed.
    let mut ut = Ut::server_up();
    assert_eq!(ut.feed_frame(&ip), Ok(Some(ipv4_packet())));
}

// ----- re-authentication (RFC 1994 §2) -------------------------------------------------------

/// A link as a network node; the server side answers from `password`.
struct PppNode {
    link: Link,
    peer: SocketAddr,
    password: &'static str,
    events: Vec<Event>,
}

impl PppNode {
    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.link.poll_event() {
            if let Event::AuthRequested(r) = &e {
                let verdict = r.accept_with_password(self.password, Some(POOL_IP));
                let id = r.id;
                self.events.push(e);
                self.link.complete_auth(now, id, verdict);
                continue;
            }
            self.events.push(e);
        }
    }

    fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }

    fn down(&self) -> Option<&DownReason> {
        self.events.iter().find_map(|e| match e {
            Event::LinkDown { reason } => Some(reason),
            _ => None,
        })
    }
}

impl Node for PppNode {
    fn handle_datagram(&mut self, now: Instant, _from: SocketAddr, _to: SocketAddr, data: &[u8]) {
        let _ = self.link.handle_frame(now, data);
        self.drain(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.link.handle_timeout(now);
        self.drain(now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.link.poll_transmit().map(|payload| Transmit {
            destination: self.peer,
            source: None,
            payload,
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.link.poll_timeout()
    }
}

fn reauth_pair(method: AuthMethod, interval: Duration) -> Network<PppNode> {
    let (s, c): (SocketAddr, SocketAddr) =
        ("10.0.0.1:1".parse().unwrap(), "10.0.0.2:1".parse().unwrap());
    let mut net = Network::new(31, Net::default());
    let server = LinkConfig {
        reauth_interval: Some(interval),
        ..server_config(&[method])
    };
    net.add(
        s,
        PppNode {
            link: Link::new(server),
            peer: c,
            password: "wonderland",
            events: Vec::new(),
        },
    );
    net.add(
        c,
        PppNode {
            link: Link::new(client_config(&[method])),
            peer: s,
            password: "",
            events: Vec::new(),
        },
    );
    let now = net.now();
    for i in [0, 1] {
        net.node_mut(i).link.open(now);
        net.node_mut(i).drain(now);
    }
    let up = |e: &Event| matches!(e, Event::LinkUp(_));
    assert!(net.drive_until(30 * SECOND, |n| n.node(0).count(up) == 1
        && n.node(1).count(up) == 1));
    net
}

/// CHAP re-authentication (RFC 1994 §2: "at random intervals"): every interval the server
/// challenges again and the link stays up; each round's Challenge takes a new Identifier
/// (§4.1), so the client never answers a new challenge with an old response. When the
/// password changes on the server, the next round fails and the link comes down.
#[test]
fn chap_reauthentication_succeeds_then_fails_after_a_password_change() {
    for method in [AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        let interval = 60 * SECOND;
        let mut net = reauth_pair(method, interval);
        let authenticated = |e: &Event| matches!(e, Event::Authenticated { .. });
        let requested = |e: &Event| matches!(e, Event::AuthRequested(_));
        assert_eq!(net.node(0).count(authenticated), 1);
        // Enough rounds that an 8-bit identifier drawn at random would repeat at least once.
        const ROUNDS: usize = 600;
        // Each round is armed when the previous one ends, a round trip later each time.
        net.run_for(interval * ROUNDS as u32 + 30 * SECOND);
        assert_eq!(
            net.node(0).down(),
            None,
            "{method:?}: {:?}",
            &net.node(0).events[net.node(0).events.len().saturating_sub(4)..]
        );
        assert_eq!(net.node(0).count(requested), 1 + ROUNDS, "{method:?}");
        assert_eq!(net.node(0).count(authenticated), 1 + ROUNDS, "{method:?}");
        assert!(net.node(1).down().is_none());

        net.node_mut(0).password = "changed";
        net.run_for(interval + 10 * SECOND);
        assert!(
            matches!(net.node(0).down(), Some(DownReason::AuthFailed(_))),
            "{method:?}: {:?}",
            net.node(0).down()
        );
        assert!(net.node(1).down().is_some(), "{method:?}: client still up");
        assert_eq!(net.node(0).count(requested), 2 + ROUNDS);
    }
}
