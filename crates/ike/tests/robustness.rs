//! ROBUSTNESS.md §5 cases 32-38, 42 and 43 (with §3 N1-N3 and D1-D3) against the IKEv1
//! endpoint, through its public API and the `__fuzzing` forging helpers: hostile datagrams are
//! dropped and counted, unauthenticated input gets no answer (or one bounded answer), protected
//! messages without a valid HASH change nothing, and state stays bounded.
//!
//! Pairs are driven by hand (no network model) so a test can hold, cut or forge any message;
//! an Aggressive Mode and a Main Mode initiator are written here from `sras_ike::wire` and
//! `sras_ike::crypto` to send what the endpoint itself never would.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sras_core::Transmit;
use sras_ike::cert::{Certificate, PrivateKey, TrustStore};
use sras_ike::crypto::keymat::{self, Phase1Keys};
use sras_ike::crypto::{CipherAlgorithm, DhGroup, DhPrivateKey, HashAlgorithm, Phase1Cipher};
use sras_ike::fuzzing::HashMode;
use sras_ike::proposal::{offer_phase1, offer_phase2, phase1_transform};
use sras_ike::wire::{
    encode_message, encode_payloads, split_payloads, Attribute, CertEncoding, Delete, ExchangeType,
    Flags, FragmentPayload, Header, IdType, Identification, Notification, NotifyType, PayloadType,
    Proposal, ProtocolId, SaPayload, Transform, DOI_IPSEC, HEADER_LEN, ISAKMP_VERSION,
    SIT_IDENTITY_ONLY,
};
use sras_ike::{
    AuthMethod, CertConfig, ChildRequest, Config, DownReason, DpdConfig, Dropped, Encapsulation,
    Endpoint, Event, PeerSelector, Phase1Suite, Profile, PskEntry, NON_ESP_MARKER,
};
use support::*;
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------------------------
// A hand-driven pair

#[allow(clippy::disallowed_methods)] // tests own the clock
fn start() -> Instant {
    Instant::now()
}

fn s500() -> SocketAddr {
    addr(SERVER, 500)
}

fn s4500() -> SocketAddr {
    addr(SERVER, 4500)
}

fn c500() -> SocketAddr {
    addr(CLIENT, 500)
}

/// Which way a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToServer,
    ToClient,
}

fn pass_all(_: Dir, _: &Transmit) -> bool {
    true
}

fn drop_all(_: Dir, _: &Transmit) -> bool {
    false
}

/// A server and a client endpoint, driven by hand at a virtual time.
struct Pair {
    server: Endpoint,
    client: Endpoint,
    s_events: Vec<Event>,
    c_events: Vec<Event>,
    /// Every datagram the server sent, in order.
    s_sent: Vec<Transmit>,
    now: Instant,
}

impl Pair {
    fn new(server: Config, client: Config) -> Self {
        Self {
            server: Endpoint::new(Arc::new(server), [1; 32]),
            client: Endpoint::new(Arc::new(client), [2; 32]),
            s_events: Vec::new(),
            c_events: Vec::new(),
            s_sent: Vec::new(),
            now: start(),
        }
    }

    /// Main Mode and Quick Mode completed.
    fn established(server: Config, client: Config) -> Self {
        let mut p = Self::new(server, client);
        p.connect();
        p.pump();
        assert_eq!(
            p.phase2_up(Dir::ToServer),
            1,
            "server {:?}",
            p.server.stats()
        );
        assert_eq!(
            p.phase2_up(Dir::ToClient),
            1,
            "client {:?}",
            p.client.stats()
        );
        p
    }

    fn connect(&mut self) {
        self.client
            .connect(self.now, c500(), s500(), ChildRequest::default());
    }

    fn set_unix_time(&mut self) {
        self.server.set_unix_time(self.now, UNIX_NOW);
        self.client.set_unix_time(self.now, UNIX_NOW);
    }

    fn drain(&mut self) {
        while let Some(e) = self.server.poll_event() {
            self.s_events.push(e);
        }
        while let Some(e) = self.client.poll_event() {
            self.c_events.push(e);
        }
    }

    fn pump(&mut self) {
        self.pump_with(&mut pass_all);
    }

    /// Delivers datagrams both ways until both sides are quiet; `pass` decides for each.
    fn pump_with(&mut self, pass: &mut dyn FnMut(Dir, &Transmit) -> bool) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                if pass(Dir::ToServer, &t) {
                    let _ = self.server.handle_datagram(
                        self.now,
                        t.destination,
                        t.source.unwrap(),
                        &t.payload,
                    );
                }
            }
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                self.s_sent.push(t.clone());
                if pass(Dir::ToClient, &t) {
                    let _ = self.client.handle_datagram(
                        self.now,
                        t.destination,
                        t.source.unwrap(),
                        &t.payload,
                    );
                }
            }
            self.drain();
            if !moved {
                return;
            }
        }
        panic!("the pair never went quiet");
    }

    /// Runs both sides' timers (and the traffic they cause, through `pass`) up to `until`.
    fn run_until(&mut self, until: Instant, pass: &mut dyn FnMut(Dir, &Transmit) -> bool) {
        for _ in 0..100_000 {
            self.pump_with(pass);
            let next = [self.server.poll_timeout(), self.client.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.server.handle_timeout(self.now);
                    self.client.handle_timeout(self.now);
                }
                _ => {
                    self.now = self.now.max(until);
                    self.pump_with(pass);
                    return;
                }
            }
        }
        panic!("a timer stays due after handle_timeout");
    }

    fn run_for(&mut self, d: Duration, pass: &mut dyn FnMut(Dir, &Transmit) -> bool) {
        let until = self.now + d;
        self.run_until(until, pass);
    }

    /// Hands `bytes` to the server as from the client's port 500; returns the result and what
    /// the server sent in answer (not delivered).
    fn send(&mut self, bytes: &[u8]) -> (Result<(), Dropped>, Vec<Transmit>) {
        self.send_from(c500(), s500(), bytes)
    }

    fn send_from(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        bytes: &[u8],
    ) -> (Result<(), Dropped>, Vec<Transmit>) {
        let r = self.server.handle_datagram(self.now, to, from, bytes);
        let mut out = Vec::new();
        while let Some(t) = self.server.poll_transmit() {
            self.s_sent.push(t.clone());
            out.push(t);
        }
        self.drain();
        (r, out)
    }

    fn cookies(&self) -> ([u8; 8], [u8; 8]) {
        let c = self.client.established_cookies();
        assert_eq!(c.len(), 1, "one established ISAKMP SA on the client");
        c[0]
    }

    /// A protected message of a new exchange under the pair's ISAKMP SA, as the client would
    /// send it.
    fn forge(
        &self,
        exchange: ExchangeType,
        mid: u32,
        items: &[(PayloadType, &[u8])],
        mode: HashMode,
    ) -> Vec<u8> {
        self.client
            .forge_protected(self.cookies(), exchange, mid, items, mode)
            .expect("forged")
    }

    fn events(&self, side: Dir) -> &[Event] {
        match side {
            Dir::ToServer => &self.s_events,
            Dir::ToClient => &self.c_events,
        }
    }

    /// Phase 2 SAs reported up on the server (`ToServer`) or the client (`ToClient`).
    fn phase2_up(&self, side: Dir) -> usize {
        self.events(side)
            .iter()
            .filter(|e| matches!(e, Event::Phase2Up(_)))
            .count()
    }

    fn phase1_up(&self, side: Dir) -> usize {
        self.events(side)
            .iter()
            .filter(|e| matches!(e, Event::Phase1Up(_)))
            .count()
    }

    fn phase1_down(&self, side: Dir, why: &DownReason) -> usize {
        self.events(side)
            .iter()
            .filter(|e| matches!(e, Event::Phase1Down { reason, .. } if reason == why))
            .count()
    }

    fn phase2_down(&self, side: Dir, why: &DownReason) -> usize {
        self.events(side)
            .iter()
            .filter(|e| matches!(e, Event::Phase2Down { reason, .. } if reason == why))
            .count()
    }

    fn any_phase1_down(&self, side: Dir) -> usize {
        self.events(side)
            .iter()
            .filter(|e| matches!(e, Event::Phase1Down { .. }))
            .count()
    }

    fn any_phase2_down(&self, side: Dir) -> usize {
        self.events(side)
            .iter()
            .filter(|e| matches!(e, Event::Phase2Down { .. }))
            .count()
    }
}

/// The ISAKMP header of a datagram (after the non-ESP marker on port 4500).
fn header_of(t: &Transmit) -> Header {
    let bytes = if t.source.is_some_and(|s| s.port() == 4500) {
        &t.payload[4..]
    } else {
        &t.payload[..]
    };
    Header::decode(bytes).expect("we only send valid headers")
}

/// The first message of a fresh client (Main Mode message 1 offering the whole profile).
fn client_mm1(seed: u8) -> Vec<u8> {
    let mut c = Endpoint::new(Arc::new(psk_config()), [seed; 32]);
    c.connect(start(), c500(), s500(), ChildRequest::default());
    c.poll_transmit().unwrap().payload
}

fn with_cookie(msg: &[u8], cky_i: [u8; 8]) -> Vec<u8> {
    let mut m = msg.to_vec();
    m[..8].copy_from_slice(&cky_i);
    m
}

fn set_length(msg: &mut [u8], len: u32) {
    msg[24..28].copy_from_slice(&len.to_be_bytes());
}

fn plain_header(cky_i: [u8; 8], cky_r: [u8; 8], exchange: ExchangeType, message_id: u32) -> Header {
    Header {
        initiator_cookie: cky_i,
        responder_cookie: cky_r,
        next_payload: PayloadType::None,
        version: ISAKMP_VERSION,
        exchange_type: exchange,
        flags: Flags::NONE,
        message_id,
        length: 0,
    }
}

fn spi16(cookies: ([u8; 8], [u8; 8])) -> Vec<u8> {
    [cookies.0, cookies.1].concat()
}

fn delete_isakmp(cookies: ([u8; 8], [u8; 8])) -> Vec<u8> {
    let mut b = Vec::new();
    Delete {
        doi: DOI_IPSEC,
        protocol: ProtocolId::Isakmp,
        spi_size: 16,
        spis: vec![spi16(cookies)],
    }
    .encode(&mut b);
    b
}

fn delete_esp(spi: u32) -> Vec<u8> {
    let mut b = Vec::new();
    Delete {
        doi: DOI_IPSEC,
        protocol: ProtocolId::IpsecEsp,
        spi_size: 4,
        spis: vec![spi.to_be_bytes().to_vec()],
    }
    .encode(&mut b);
    b
}

fn notify(notify_type: NotifyType, protocol: ProtocolId, spi: Vec<u8>, data: Vec<u8>) -> Vec<u8> {
    let mut b = Vec::new();
    Notification {
        doi: DOI_IPSEC,
        protocol,
        notify_type,
        spi,
        data,
    }
    .encode(&mut b);
    b
}

fn id_bytes(id: &Identification) -> Vec<u8> {
    let mut b = Vec::new();
    id.encode(&mut b);
    b
}

/// The payloads of a valid Quick Mode message 1 (after its HASH) for transport-mode L2TP.
struct QuickOffer {
    sa: Vec<u8>,
    ni: Vec<u8>,
    idci: Vec<u8>,
    idcr: Vec<u8>,
}

impl QuickOffer {
    fn new(profile: &Profile) -> Self {
        Self {
            sa: offer_phase2(
                profile,
                [0x11, 0x22, 0x33, 0x44],
                Encapsulation::Transport,
                false,
                None,
                Duration::from_secs(3600),
            )
            .to_vec(),
            ni: vec![7; 32],
            idci: id_bytes(&Identification::ip(CLIENT.parse().unwrap(), 17, 1701)),
            idcr: id_bytes(&Identification::ip(SERVER.parse().unwrap(), 17, 1701)),
        }
    }

    fn items(&self) -> Vec<(PayloadType, &[u8])> {
        vec![
            (PayloadType::Sa, &self.sa),
            (PayloadType::Nonce, &self.ni),
            (PayloadType::Identification, &self.idci),
            (PayloadType::Identification, &self.idcr),
        ]
    }
}

fn quick_mode_sent(sent: &[Transmit]) -> usize {
    sent.iter()
        .filter(|t| header_of(t).exchange_type == ExchangeType::QuickMode)
        .count()
}

// ---------------------------------------------------------------------------------------------
// Hand-written initiators (Aggressive Mode, and Main Mode with arbitrary message 5 payloads)

/// What an initiator written from the codec and the key derivations holds.
struct Manual {
    rng: StdRng,
    cky_i: [u8; 8],
    cky_r: [u8; 8],
    suite: Phase1Suite,
    sai_b: Vec<u8>,
    dh: DhPrivateKey,
    ni: Vec<u8>,
    nr: Vec<u8>,
    gxr: Vec<u8>,
    keys: Option<Phase1Keys>,
}

/// The payloads of a message: (type, body).
fn payloads_of(msg: &[u8]) -> (Header, Vec<(PayloadType, Vec<u8>)>) {
    let h = Header::decode(msg).expect("header");
    let body = h.body(msg);
    let ps = split_payloads(h.next_payload, body).expect("payload chain");
    (
        h,
        ps.iter().map(|p| (p.kind, p.body(body).to_vec())).collect(),
    )
}

fn first_of(ps: &[(PayloadType, Vec<u8>)], kind: PayloadType) -> Vec<u8> {
    ps.iter()
        .find(|p| p.0 == kind)
        .map(|p| p.1.clone())
        .unwrap_or_else(|| panic!("no {kind:?} payload"))
}

impl Manual {
    fn new(seed: u64, suite: Phase1Suite, auth: AuthMethod) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let profile = Profile {
            ciphers: vec![suite.cipher],
            hashes: vec![suite.hash],
            groups: vec![suite.group],
            ..Profile::compatible()
        };
        let offer = offer_phase1(&profile, auth, Duration::from_secs(3600));
        assert_eq!(offer.proposals[0].transforms.len(), 1);
        let dh = suite.group.generate(&mut rng).unwrap();
        let mut cky_i = [0u8; 8];
        rng.fill_bytes(&mut cky_i);
        let mut ni = vec![0u8; 32];
        rng.fill_bytes(&mut ni);
        Self {
            rng,
            cky_i,
            cky_r: [0; 8],
            suite,
            sai_b: offer.to_vec(),
            dh,
            ni,
            nr: Vec::new(),
            gxr: Vec::new(),
            keys: None,
        }
    }

    fn header(&self, exchange: ExchangeType) -> Header {
        plain_header(self.cky_i, self.cky_r, exchange, 0)
    }

    fn gxi(&self) -> Vec<u8> {
        self.dh.public_value().to_vec()
    }

    fn keys(&self) -> &Phase1Keys {
        self.keys.as_ref().expect("keys derived")
    }

    /// SKEYID and the phase 1 keys once both nonces and KE values are known.
    fn derive(&mut self, psk: Option<&[u8]>) {
        let gxy = self.dh.agree(&self.gxr).expect("peer KE");
        let h = self.suite.hash;
        let skeyid = match psk {
            Some(k) => keymat::skeyid_psk(h, k, &self.ni, &self.nr),
            None => keymat::skeyid_sig(h, &self.ni, &self.nr, gxy.as_bytes()),
        };
        let c = self.suite.cipher;
        self.keys = Some(keymat::derive_phase1(
            h,
            skeyid,
            gxy.as_bytes(),
            &self.cky_i,
            &self.cky_r,
            c,
            c.key_len(),
            &self.gxi(),
            &self.gxr,
        ));
    }

    fn hash_i(&self, idii_b: &[u8]) -> Vec<u8> {
        let k = self.keys();
        keymat::hash_i(
            self.suite.hash,
            k.skeyid.as_bytes(),
            &self.gxi(),
            &self.gxr,
            &self.cky_i,
            &self.cky_r,
            &self.sai_b,
            idii_b,
        )
        .as_bytes()
        .to_vec()
    }

    fn hash_r(&self, idir_b: &[u8]) -> Vec<u8> {
        let k = self.keys();
        keymat::hash_r(
            self.suite.hash,
            k.skeyid.as_bytes(),
            &self.gxi(),
            &self.gxr,
            &self.cky_i,
            &self.cky_r,
            &self.sai_b,
            idir_b,
        )
        .as_bytes()
        .to_vec()
    }

    // --- Aggressive Mode (RFC 2409 §5.4) ---

    fn am1(&self, idii_b: &[u8]) -> Vec<u8> {
        let gxi = self.gxi();
        encode_message(
            &self.header(ExchangeType::Aggressive),
            &[
                (PayloadType::Sa, &self.sai_b),
                (PayloadType::KeyExchange, &gxi),
                (PayloadType::Nonce, &self.ni),
                (PayloadType::Identification, idii_b),
            ],
        )
    }

    /// Reads AM2 and checks HASH_R; returns the responder's ID.
    fn read_am2(&mut self, msg: &[u8], psk: &[u8]) -> Identification {
        let (h, ps) = payloads_of(msg);
        assert_eq!(h.exchange_type, ExchangeType::Aggressive);
        assert!(!h.flags.contains(Flags::ENCRYPTION));
        self.cky_r = h.responder_cookie;
        let sa = SaPayload::decode(&first_of(&ps, PayloadType::Sa)).unwrap();
        assert_eq!(
            (sa.proposals.len(), sa.proposals[0].transforms.len()),
            (1, 1),
            "AM2 chooses one transform"
        );
        self.gxr = first_of(&ps, PayloadType::KeyExchange);
        self.nr = first_of(&ps, PayloadType::Nonce);
        let idir_b = first_of(&ps, PayloadType::Identification);
        self.derive(Some(psk));
        assert_eq!(
            first_of(&ps, PayloadType::Hash),
            self.hash_r(&idir_b),
            "HASH_R of AM2"
        );
        Identification::decode(&idir_b).unwrap()
    }

    /// AM3: HASH_I in clear (RFC 2409 §5.4 allows either).
    fn am3(&self, idii_b: &[u8]) -> Vec<u8> {
        let hash = self.hash_i(idii_b);
        encode_message(
            &self.header(ExchangeType::Aggressive),
            &[(PayloadType::Hash, &hash)],
        )
    }

    // --- Main Mode (RFC 2409 §5), no NAT-T ---

    fn mm1(&self) -> Vec<u8> {
        encode_message(
            &self.header(ExchangeType::IdentityProtection),
            &[(PayloadType::Sa, &self.sai_b)],
        )
    }

    fn read_mm2(&mut self, msg: &[u8]) {
        let (h, ps) = payloads_of(msg);
        assert_eq!(h.exchange_type, ExchangeType::IdentityProtection);
        self.cky_r = h.responder_cookie;
        first_of(&ps, PayloadType::Sa);
    }

    fn mm3(&self) -> Vec<u8> {
        let gxi = self.gxi();
        encode_message(
            &self.header(ExchangeType::IdentityProtection),
            &[
                (PayloadType::KeyExchange, &gxi),
                (PayloadType::Nonce, &self.ni),
            ],
        )
    }

    fn read_mm4(&mut self, msg: &[u8], psk: Option<&[u8]>) {
        let (_, ps) = payloads_of(msg);
        self.gxr = first_of(&ps, PayloadType::KeyExchange);
        self.nr = first_of(&ps, PayloadType::Nonce);
        self.derive(psk);
    }

    /// MM5 with any payloads, encrypted under the phase 1 key with the first IV.
    fn mm5(&self, items: &[(PayloadType, &[u8])]) -> Vec<u8> {
        let k = self.keys();
        let cipher = Phase1Cipher::new(self.suite.cipher, &k.ka).unwrap();
        let (first, mut body) = encode_payloads(items);
        let bs = cipher.block_len();
        body.resize(body.len().div_ceil(bs) * bs, 0);
        cipher.encrypt(&k.iv, &mut body).unwrap();
        let h = Header {
            next_payload: first,
            flags: Flags::ENCRYPTION,
            length: u32::try_from(HEADER_LEN + body.len()).unwrap(),
            ..self.header(ExchangeType::IdentityProtection)
        };
        let mut out = Vec::new();
        h.encode(&mut out);
        out.extend_from_slice(&body);
        out
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill_bytes(&mut v);
        v
    }
}

fn fast_suite() -> Phase1Suite {
    Phase1Suite {
        cipher: CipherAlgorithm::AesCbc256,
        hash: HashAlgorithm::Sha256,
        group: DhGroup::Ecp256,
    }
}

/// The single answer the server sent, with the non-ESP marker removed.
fn only(sent: Vec<Transmit>) -> Vec<u8> {
    assert_eq!(sent.len(), 1, "one answer expected, got {}", sent.len());
    sent.into_iter().next().unwrap().payload
}

// ---------------------------------------------------------------------------------------------
// Case 32: bad ISAKMP headers

#[test]
fn case32_bad_headers_are_dropped_silently() {
    let mm1 = client_mm1(9);
    let mut p = Pair::new(psk_config(), psk_config());
    let mut variants: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut short_len = mm1.clone();
    set_length(&mut short_len, 27);
    variants.push(("length 27", short_len));
    let mut zero_len = mm1.clone();
    set_length(&mut zero_len, 0);
    variants.push(("length 0", zero_len));
    let mut long_len = mm1.clone();
    set_length(&mut long_len, u32::try_from(mm1.len()).unwrap() + 1);
    variants.push(("length past the datagram", long_len));
    let mut huge_len = mm1.clone();
    set_length(&mut huge_len, u32::MAX);
    variants.push(("length 2^32-1", huge_len));
    let mut v2 = mm1.clone();
    v2[17] = 0x20;
    variants.push(("major version 2 (IKEv2)", v2));
    let mut v0 = mm1.clone();
    v0[17] = 0x00;
    variants.push(("major version 0", v0));
    variants.push(("27 bytes", mm1[..27].to_vec()));
    variants.push(("empty", Vec::new()));
    variants.push(("NAT keepalive 0xff on port 500", vec![0xff]));
    for (what, bytes) in variants {
        let before = p.server.stats();
        let (r, sent) = p.send(&bytes);
        assert!(matches!(r, Err(Dropped::Malformed(_))), "{what}: {r:?}");
        assert!(
            sent.is_empty(),
            "{what}: answered an unauthenticated bad header"
        );
        assert_eq!(p.server.stats().malformed, before.malformed + 1, "{what}");
        assert_eq!(p.server.sa_count(), 0, "{what}");
    }
    // The untouched message is accepted: the variants failed for their header alone.
    let (r, sent) = p.send(&mm1);
    assert_eq!(r, Ok(()));
    assert_eq!(sent.len(), 1);
    assert_eq!(p.server.sa_count(), 1);
}

#[test]
fn case32_bad_header_for_an_established_sa_changes_nothing() {
    let mut p = Pair::established(psk_config(), psk_config());
    let cookies = p.cookies();
    let offer = QuickOffer::new(&Profile::compatible());
    let good = p.forge(
        ExchangeType::QuickMode,
        0x0102_0304,
        &offer.items(),
        HashMode::Correct,
    );
    let mut long = good.clone();
    set_length(&mut long, u32::try_from(good.len()).unwrap() + 16);
    let mut v2 = good.clone();
    v2[17] = 0x20;
    for bytes in [long, v2, good[..20].to_vec()] {
        let before = p.server.stats().malformed;
        let (r, sent) = p.send(&bytes);
        assert!(matches!(r, Err(Dropped::Malformed(_))), "{r:?}");
        assert!(sent.is_empty());
        assert_eq!(p.server.stats().malformed, before + 1);
    }
    assert_eq!(p.server.established_count(), 1);
    assert_eq!(p.server.children().len(), 1);
    assert_eq!(p.client.established_cookies(), vec![cookies]);
    // The same exchange with a good header still works: nothing was consumed.
    let (r, sent) = p.send(&good);
    assert_eq!(r, Ok(()));
    assert_eq!(quick_mode_sent(&sent), 1);
}

#[test]
fn n1_n3_natt_port_framing() {
    let mm1 = client_mm1(9);
    let mut p = Pair::new(psk_config(), psk_config());
    let c4500 = addr(CLIENT, 4500);
    // N3: on 4500, IKE carries the 4-byte non-ESP marker; shorter datagrams, a keepalive (N2)
    // or IKE without the marker are dropped and counted, never answered.
    for (what, bytes) in [
        ("keepalive 0xff", vec![0xff]),
        ("3 bytes", vec![0, 0, 0]),
        ("marker only", vec![0; 4]),
        ("no marker", mm1.clone()),
    ] {
        let before = p.server.stats().malformed;
        let (r, sent) = p.send_from(c4500, s4500(), &bytes);
        assert!(matches!(r, Err(Dropped::Malformed(_))), "{what}: {r:?}");
        assert!(sent.is_empty(), "{what}");
        assert_eq!(p.server.stats().malformed, before + 1, "{what}");
    }
    assert_eq!(p.server.sa_count(), 0);
    // With the marker the message is IKE, and the answer carries the marker too.
    let framed = [&NON_ESP_MARKER[..], &mm1].concat();
    let (r, sent) = p.send_from(c4500, s4500(), &framed);
    assert_eq!(r, Ok(()));
    let t = &sent[0];
    assert_eq!((t.destination, t.source), (c4500, Some(s4500())));
    assert_eq!(t.payload[..4], NON_ESP_MARKER);
    assert_eq!(header_of(t).exchange_type, ExchangeType::IdentityProtection);
}

// ---------------------------------------------------------------------------------------------
// Case 33: bad payload chains

/// A Main Mode message 1 whose chain after the header is `chain`, first payload `first`.
fn mm1_with_chain(first: PayloadType, chain: &[u8]) -> Vec<u8> {
    let h = Header {
        next_payload: first,
        length: u32::try_from(HEADER_LEN + chain.len()).unwrap(),
        ..plain_header([0x33; 8], [0; 8], ExchangeType::IdentityProtection, 0)
    };
    let mut out = Vec::new();
    h.encode(&mut out);
    out.extend_from_slice(chain);
    out
}

/// A generic payload header.
fn gph(next: PayloadType, len: u16) -> [u8; 4] {
    let l = len.to_be_bytes();
    [next.value(), 0, l[0], l[1]]
}

#[test]
fn case33_bad_payload_chains_are_dropped() {
    let sa = offer_phase1(
        &Profile::compatible(),
        AuthMethod::PreSharedKey,
        Duration::from_secs(3600),
    )
    .to_vec();
    let sa_len = u16::try_from(4 + sa.len()).unwrap();
    let sa_then = |next: PayloadType| [&gph(next, sa_len)[..], &sa].concat();
    let mut variants: Vec<(&str, Vec<u8>)> = Vec::new();
    // SA, then a payload of Payload Length 0.
    variants.push((
        "zero-length payload",
        mm1_with_chain(
            PayloadType::Sa,
            &[
                sa_then(PayloadType::VendorId),
                gph(PayloadType::None, 0).to_vec(),
            ]
            .concat(),
        ),
    ));
    variants.push((
        "payload length 3",
        mm1_with_chain(
            PayloadType::Sa,
            &[
                sa_then(PayloadType::VendorId),
                gph(PayloadType::None, 3).to_vec(),
            ]
            .concat(),
        ),
    ));
    // A chain that never ends: every payload names another Vendor ID, up to the end.
    let mut looped = sa_then(PayloadType::VendorId);
    for _ in 0..8 {
        looped.extend_from_slice(&gph(PayloadType::VendorId, 4));
    }
    variants.push((
        "next-payload loop to the end of the message",
        mm1_with_chain(PayloadType::Sa, &looped),
    ));
    // A Vendor ID whose length runs past the end.
    variants.push((
        "payload past the end",
        mm1_with_chain(
            PayloadType::Sa,
            &[
                sa_then(PayloadType::VendorId),
                gph(PayloadType::None, 40).to_vec(),
                vec![1; 8],
            ]
            .concat(),
        ),
    ));
    variants.push((
        "SA payload past the end",
        mm1_with_chain(
            PayloadType::Sa,
            &[gph(PayloadType::None, sa_len + 1).to_vec(), sa.clone()].concat(),
        ),
    ));
    variants.push((
        "first payload named but absent",
        mm1_with_chain(PayloadType::Sa, &[]),
    ));
    // 100 payloads (the codec's cap is 64).
    let mut many = sa_then(PayloadType::VendorId);
    for i in 0..99 {
        let next = if i == 98 {
            PayloadType::None
        } else {
            PayloadType::VendorId
        };
        many.extend_from_slice(&gph(next, 8));
        many.extend_from_slice(&[i; 4]);
    }
    variants.push(("100 payloads", mm1_with_chain(PayloadType::Sa, &many)));
    let mut p = Pair::new(psk_config(), psk_config());
    for (what, bytes) in variants {
        let before = p.server.stats();
        let (r, sent) = p.send(&bytes);
        assert!(matches!(r, Err(Dropped::Malformed(_))), "{what}: {r:?}");
        assert!(sent.is_empty(), "{what}: answered");
        assert_eq!(p.server.stats().malformed, before.malformed + 1, "{what}");
        assert_eq!(p.server.sa_count(), 0, "{what}");
    }
    // The same SA payload alone is a good message 1.
    let (r, _) = p.send(&mm1_with_chain(
        PayloadType::Sa,
        &sa_then(PayloadType::None),
    ));
    assert_eq!(r, Ok(()));
}

#[test]
fn case33_parse_of_a_64k_datagram_of_tiny_payloads_is_bounded() {
    // 16,377 empty Vendor ID payloads: a 64 KiB datagram that would be 16k loop iterations.
    let n = (65_535 - HEADER_LEN) / 4;
    let mut chain = Vec::with_capacity(n * 4);
    for i in 0..n {
        chain.extend_from_slice(&gph(
            if i + 1 == n {
                PayloadType::None
            } else {
                PayloadType::VendorId
            },
            4,
        ));
    }
    let msg = mm1_with_chain(PayloadType::VendorId, &chain);
    assert!(msg.len() <= 65_535);
    let mut p = Pair::new(psk_config(), psk_config());
    #[allow(clippy::disallowed_methods)]
    let t = Instant::now();
    for _ in 0..100 {
        let (r, sent) = p.send(&msg);
        assert!(matches!(r, Err(Dropped::Malformed(_))), "{r:?}");
        assert!(sent.is_empty());
    }
    println!("100 × 64 KiB datagram of empty payloads: {:?}", t.elapsed());
    assert_eq!(p.server.sa_count(), 0);
    assert_eq!(p.server.stats().malformed, 100);
}

// ---------------------------------------------------------------------------------------------
// Case 34: IKE fragments

/// The message cut into `n` fragments (ISAKMP messages carrying one Fragment payload each).
fn fragments(msg: &[u8], id: u16, n: usize) -> Vec<Vec<u8>> {
    let h = Header::decode(msg).unwrap();
    let size = msg.len().div_ceil(n);
    msg.chunks(size)
        .enumerate()
        .map(|(i, data)| {
            let f = FragmentPayload {
                id,
                number: u8::try_from(i + 1).unwrap(),
                last: i + 1 == msg.len().div_ceil(size),
                data: data.to_vec(),
            };
            fragment_message(&h, &f)
        })
        .collect()
}

fn fragment_message(h: &Header, f: &FragmentPayload) -> Vec<u8> {
    let mut body = Vec::new();
    f.encode(&mut body);
    encode_message(
        &plain_header(h.initiator_cookie, h.responder_cookie, h.exchange_type, 0),
        &[(PayloadType::Fragment, &body)],
    )
}

fn is_mm5(t: &Transmit) -> bool {
    let h = header_of(t);
    h.exchange_type == ExchangeType::IdentityProtection && h.flags.contains(Flags::ENCRYPTION)
}

/// A pair stopped with the server waiting for Main Mode message 5, which is returned.
fn hold_mm5(server: Config) -> (Pair, Vec<u8>) {
    let mut p = Pair::new(server, psk_config());
    p.connect();
    let mut mm5 = None;
    p.pump_with(&mut |dir, t| {
        if dir == Dir::ToServer && is_mm5(t) {
            mm5.get_or_insert_with(|| t.payload.clone());
            return false;
        }
        true
    });
    let mm5 = mm5.expect("the client sent MM5");
    assert_eq!(p.server.sa_count(), 1);
    assert_eq!(p.phase1_up(Dir::ToServer), 0);
    (p, mm5)
}

#[test]
fn case34_fragmented_main_mode_5_completes_main_mode() {
    let (mut p, mm5) = hold_mm5(psk_config());
    let mut frags = fragments(&mm5, 1, 3);
    assert_eq!(frags.len(), 3);
    // Out of order: the last first.
    frags.rotate_right(1);
    for (i, f) in frags.iter().enumerate() {
        let (r, sent) = p.send(f);
        assert_eq!(r, Ok(()), "fragment {i}");
        if i < 2 {
            assert!(sent.is_empty(), "answered before the message was whole");
        } else {
            assert_eq!(sent.len(), 1, "MM6");
            let _ = p.client.handle_datagram(
                p.now,
                sent[0].destination,
                sent[0].source.unwrap(),
                &sent[0].payload,
            );
        }
    }
    assert_eq!(p.phase1_up(Dir::ToServer), 1);
    assert_eq!(p.server.stats().fragments_dropped, 0);
    p.pump();
    assert_eq!(p.phase1_up(Dir::ToClient), 1);
    assert_eq!(p.phase2_up(Dir::ToServer), 1);
    assert_eq!(p.phase2_up(Dir::ToClient), 1);
}

#[test]
fn case34_bad_fragments_are_refused_and_counted() {
    let server = Config {
        half_open_timeout: Duration::from_secs(300),
        ..psk_config()
    };
    let (mut p, mm5) = hold_mm5(server);
    let h = Header::decode(&mm5).unwrap();
    let frag = |id: u16, number: u8, last: bool, data: Vec<u8>| {
        fragment_message(
            &h,
            &FragmentPayload {
                id,
                number,
                last,
                data,
            },
        )
    };
    let piece = mm5[..16].to_vec();

    let refused = |p: &mut Pair, what: &str, bytes: &[u8]| {
        let before = p.server.stats().fragments_dropped;
        let (r, sent) = p.send(bytes);
        assert!(r.is_err(), "{what}: accepted");
        assert!(sent.is_empty(), "{what}: answered");
        assert_eq!(
            p.server.stats().fragments_dropped,
            before + 1,
            "{what}: not counted"
        );
    };
    refused(
        &mut p,
        "fragment number 0",
        &frag(2, 0, false, piece.clone()),
    );
    refused(
        &mut p,
        "fragment number 17 (> 16)",
        &frag(2, 17, false, piece.clone()),
    );
    refused(
        &mut p,
        "fragment number 255, last",
        &frag(2, 255, true, piece.clone()),
    );
    // More than 64 KiB in all: the second piece overflows and the reassembly is dropped.
    let (r, _) = p.send(&frag(3, 1, false, vec![0xaa; 40_000]));
    assert_eq!(r, Ok(()));
    refused(
        &mut p,
        "reassembly > 64 KiB",
        &frag(3, 2, false, vec![0xbb; 30_000]),
    );
    // Fragments of a known SA from another address, and of unknown cookies.
    let before = p.server.stats().fragments_dropped;
    let (r, sent) = p.send_from(
        addr("198.51.100.7", 500),
        s500(),
        &frag(4, 1, true, mm5.clone()),
    );
    assert_eq!(r, Err(Dropped::UnknownSa));
    assert!(sent.is_empty());
    assert_eq!(p.server.stats().fragments_dropped, before + 1);
    let stranger = Header {
        initiator_cookie: [0x5a; 8],
        responder_cookie: [0xa5; 8],
        ..h
    };
    let before = p.server.stats();
    let (r, sent) = p.send(&fragment_message(
        &stranger,
        &FragmentPayload {
            id: 1,
            number: 1,
            last: true,
            data: mm5.clone(),
        },
    ));
    assert_eq!(r, Err(Dropped::UnknownSa));
    assert!(sent.is_empty());
    assert_eq!(
        p.server.stats().fragments_dropped,
        before.fragments_dropped + 1
    );
    // A fragment whose reassembled content is itself a fragment: not reassembled again.
    let inner = frag(5, 1, true, mm5.clone());
    let before = p.server.stats().fragments_dropped;
    let (r, sent) = p.send(&frag(6, 1, true, inner));
    assert!(r.is_err());
    assert!(sent.is_empty());
    assert_eq!(p.server.stats().fragments_dropped, before + 1);

    // Missing last fragment: the first two of the real MM5 wait, time out, and a late last
    // fragment alone does not complete anything.
    let real = fragments(&mm5, 7, 3);
    for f in &real[..2] {
        let (r, sent) = p.send(f);
        assert_eq!(r, Ok(()));
        assert!(sent.is_empty());
    }
    p.now += Duration::from_secs(31);
    p.server.handle_timeout(p.now);
    let (_, sent) = p.send(&real[2]);
    assert!(
        sent.is_empty(),
        "reassembled from fragments that had timed out"
    );
    assert_eq!(p.phase1_up(Dir::ToServer), 0);
    // Through all of that the SA waited unharmed: the whole MM5, fragmented once more, works.
    for f in fragments(&mm5, 8, 3) {
        let _ = p.send(&f);
    }
    assert_eq!(p.phase1_up(Dir::ToServer), 1);
}

#[test]
fn case34_duplicate_fragment_is_dropped_and_counted() {
    let (mut p, mm5) = hold_mm5(psk_config());
    let real = fragments(&mm5, 9, 3);
    let (r, _) = p.send(&real[0]);
    assert_eq!(r, Ok(()));
    let before = p.server.stats().fragments_dropped;
    let (_, sent) = p.send(&real[0]);
    assert!(sent.is_empty());
    // A duplicate is not stored twice: the message still completes exactly once.
    for f in &real[1..] {
        let _ = p.send(f);
    }
    assert_eq!(p.phase1_up(Dir::ToServer), 1);
    assert_eq!(
        p.server.stats().fragments_dropped,
        before + 1,
        "the duplicate fragment is counted as dropped"
    );
}

// ---------------------------------------------------------------------------------------------
// Case 35: Delete and Notify for the same ISAKMP SA

#[test]
fn case35_double_delete_deletes_once() {
    let mut p = Pair::established(psk_config(), psk_config());
    let cookies = p.cookies();
    let del = delete_isakmp(cookies);
    let dpd = notify(
        NotifyType::DpdRUThere,
        ProtocolId::Isakmp,
        spi16(cookies),
        7u32.to_be_bytes().to_vec(),
    );
    let ic = notify(
        NotifyType::InitialContact,
        ProtocolId::Isakmp,
        spi16(cookies),
        Vec::new(),
    );
    let items: [(PayloadType, &[u8]); 4] = [
        (PayloadType::Delete, &del),
        (PayloadType::Delete, &del),
        (PayloadType::Notification, &dpd),
        (PayloadType::Notification, &ic),
    ];
    let msg = p.forge(
        ExchangeType::Informational,
        0x3535_0001,
        &items,
        HashMode::Correct,
    );
    let (r, sent) = p.send(&msg);
    assert_eq!(r, Ok(()));
    assert!(
        sent.is_empty(),
        "nothing after the Delete is acted on (no R-U-THERE-ACK): {sent:?}"
    );
    assert_eq!(p.phase1_down(Dir::ToServer, &DownReason::PeerDeleted), 1);
    assert_eq!(p.any_phase1_down(Dir::ToServer), 1);
    assert_eq!(p.server.established_count(), 0);
    // The IPsec SA outlives its ISAKMP SA (RFC 2409 §5.5), reported nowhere as down.
    assert_eq!(p.any_phase2_down(Dir::ToServer), 0);
    assert_eq!(p.server.children().len(), 1);
    // The same message again, and a later Delete: unknown cookies now, nothing happens.
    let (r, sent) = p.send(&msg);
    assert_eq!(r, Err(Dropped::UnknownSa));
    assert!(sent.is_empty());
    let again = p.forge(
        ExchangeType::Informational,
        0x3535_0002,
        &[(PayloadType::Delete, &del)],
        HashMode::Correct,
    );
    let (r, _) = p.send(&again);
    assert_eq!(r, Err(Dropped::UnknownSa));
    assert_eq!(p.any_phase1_down(Dir::ToServer), 1);
    assert_eq!(p.phase1_up(Dir::ToServer), 1);
}

#[test]
fn case35_delete_with_an_esp_delete_and_notify_in_one_message() {
    let mut p = Pair::established(psk_config(), psk_config());
    let cookies = p.cookies();
    let (_, spi_in, _) = p.client.children()[0];
    let items_del = delete_isakmp(cookies);
    let esp = delete_esp(spi_in.0);
    let ic = notify(
        NotifyType::InitialContact,
        ProtocolId::Isakmp,
        spi16(cookies),
        Vec::new(),
    );
    let items: [(PayloadType, &[u8]); 4] = [
        (PayloadType::Delete, &esp),
        (PayloadType::Delete, &items_del),
        (PayloadType::Delete, &esp),
        (PayloadType::Notification, &ic),
    ];
    let msg = p.forge(
        ExchangeType::Informational,
        0x3535_0003,
        &items,
        HashMode::Correct,
    );
    let (r, sent) = p.send(&msg);
    assert_eq!(r, Ok(()));
    assert!(sent.is_empty());
    assert_eq!(p.phase2_down(Dir::ToServer, &DownReason::PeerDeleted), 1);
    assert_eq!(p.any_phase2_down(Dir::ToServer), 1);
    assert_eq!(p.phase1_down(Dir::ToServer, &DownReason::PeerDeleted), 1);
    assert_eq!(p.any_phase1_down(Dir::ToServer), 1);
    assert_eq!(p.server.sa_count(), 0);
    assert!(p.server.children().is_empty());
}

#[test]
fn case35_delete_without_a_valid_hash_is_ignored() {
    let mut p = Pair::established(psk_config(), psk_config());
    let cookies = p.cookies();
    let del = delete_isakmp(cookies);
    for (i, mode) in [HashMode::Omitted, HashMode::Empty, HashMode::Wrong]
        .into_iter()
        .enumerate()
    {
        let msg = p.forge(
            ExchangeType::Informational,
            0x3535_1000 + u32::try_from(i).unwrap(),
            &[(PayloadType::Delete, &del)],
            mode,
        );
        let before = p.server.stats().bad_auth;
        let (r, sent) = p.send(&msg);
        assert!(matches!(r, Err(Dropped::BadAuth(_))), "{mode:?}: {r:?}");
        assert!(sent.is_empty(), "{mode:?}");
        assert_eq!(p.server.stats().bad_auth, before + 1, "{mode:?}");
        assert_eq!(p.server.established_count(), 1, "{mode:?}: SA deleted");
        assert_eq!(p.any_phase1_down(Dir::ToServer), 0, "{mode:?}");
    }
    // An unprotected Delete (no encryption, no HASH) is ignored too.
    let plain = encode_message(
        &plain_header(
            cookies.0,
            cookies.1,
            ExchangeType::Informational,
            0x3535_2000,
        ),
        &[(PayloadType::Delete, &del)],
    );
    let (r, _) = p.send(&plain);
    assert!(r.is_err());
    assert_eq!(p.server.established_count(), 1);
    // The control: with the right HASH the Delete works.
    let ok = p.forge(
        ExchangeType::Informational,
        0x3535_3000,
        &[(PayloadType::Delete, &del)],
        HashMode::Correct,
    );
    assert_eq!(p.send(&ok).0, Ok(()));
    assert_eq!(p.phase1_down(Dir::ToServer, &DownReason::PeerDeleted), 1);
}

// ---------------------------------------------------------------------------------------------
// Case 36: unacceptable proposals

/// `t` with attribute `kind` set to `value` (added if absent), or removed with `None`.
fn with_attr(mut t: Transform, kind: u16, value: Option<u64>) -> Transform {
    t.attributes.retain(|a| a.kind != kind);
    if let Some(v) = value {
        t.attributes.push(Attribute::number(kind, v));
    }
    t
}

fn mm1_offering(cky_i: [u8; 8], exchange: ExchangeType, transforms: Vec<Transform>) -> Vec<u8> {
    let sa = SaPayload {
        doi: DOI_IPSEC,
        situation: SIT_IDENTITY_ONLY,
        proposals: vec![Proposal {
            number: 1,
            protocol: ProtocolId::Isakmp,
            spi: Vec::new(),
            transforms,
        }],
    };
    encode_message(
        &plain_header(cky_i, [0; 8], exchange, 0),
        &[(PayloadType::Sa, &sa.to_vec())],
    )
}

/// Whether `sent` is nothing or one plaintext NO-PROPOSAL-CHOSEN notification.
fn nothing_or_no_proposal(sent: &[Transmit]) -> bool {
    match sent {
        [] => true,
        [t] => {
            let (h, ps) = payloads_of(&t.payload);
            h.exchange_type == ExchangeType::Informational
                && !h.flags.contains(Flags::ENCRYPTION)
                && ps.iter().any(|(k, b)| {
                    *k == PayloadType::Notification
                        && Notification::decode(b)
                            .is_ok_and(|n| n.notify_type == NotifyType::NoProposalChosen)
                })
        }
        _ => false,
    }
}

#[test]
fn case36_unsupported_phase1_transforms_are_refused() {
    const ENC: u16 = 1;
    const AUTH: u16 = 3;
    const GROUP: u16 = 4;
    const KEY_LEN: u16 = 14;
    let suite = Phase1Suite {
        cipher: CipherAlgorithm::AesCbc128,
        hash: HashAlgorithm::Sha1,
        group: DhGroup::Modp2048,
    };
    let base = phase1_transform(
        1,
        &suite,
        AuthMethod::PreSharedKey,
        Duration::from_secs(3600),
    );
    let des = with_attr(with_attr(base.clone(), ENC, Some(1)), KEY_LEN, None);
    let aes100 = with_attr(base.clone(), KEY_LEN, Some(100));
    let aes_no_len = with_attr(base.clone(), KEY_LEN, None);
    let group1 = with_attr(base.clone(), GROUP, Some(1));
    let rsa_enc = with_attr(base.clone(), AUTH, Some(4));
    let xauth = with_attr(base.clone(), AUTH, Some(65_001));
    let unknown_auth = with_attr(base.clone(), AUTH, Some(999));
    let not_ike = Transform {
        id: 7,
        ..base.clone()
    };
    let no_enc = with_attr(base.clone(), ENC, None);
    let rsa_sig = with_attr(base.clone(), AUTH, Some(3)); // not configured (PSK only)
    let all = vec![
        des.clone(),
        aes100.clone(),
        aes_no_len.clone(),
        group1.clone(),
        rsa_enc.clone(),
        xauth.clone(),
        unknown_auth.clone(),
        not_ike.clone(),
    ];
    let cases: Vec<(&str, Vec<Transform>)> = vec![
        ("DES", vec![des]),
        ("AES key length 100", vec![aes100]),
        ("AES without key length", vec![aes_no_len]),
        ("group 1", vec![group1]),
        ("RSA encryption", vec![rsa_enc]),
        ("XAUTHInitPreShared", vec![xauth]),
        ("auth method 999", vec![unknown_auth]),
        ("transform id 7", vec![not_ike]),
        ("no encryption attribute", vec![no_enc]),
        ("RSA signatures without a certificate", vec![rsa_sig]),
        ("all of them", all),
        ("no transform", Vec::new()),
    ];
    let mut p = Pair::new(psk_config(), psk_config());
    for (i, (what, transforms)) in cases.into_iter().enumerate() {
        let before = p.server.stats();
        p.now += Duration::from_secs(1);
        let (r, sent) = p.send(&mm1_offering(
            [u8::try_from(i + 1).unwrap(); 8],
            ExchangeType::IdentityProtection,
            transforms,
        ));
        assert!(r.is_err(), "{what}: accepted");
        assert!(nothing_or_no_proposal(&sent), "{what}: {sent:?}");
        assert_eq!(p.server.sa_count(), 0, "{what}");
        if what != "no transform" {
            assert_eq!(
                p.server.stats().no_proposal,
                before.no_proposal + 1,
                "{what}"
            );
        }
    }
    // The control: the base transform alone is accepted.
    let (r, sent) = p.send(&mm1_offering(
        [0x77; 8],
        ExchangeType::IdentityProtection,
        vec![base],
    ));
    assert_eq!(r, Ok(()));
    assert_eq!(
        header_of(&sent[0]).exchange_type,
        ExchangeType::IdentityProtection
    );
}

#[test]
fn case36_aggressive_mode_refused_when_disabled() {
    let mut p = Pair::new(psk_config(), psk_config());
    assert!(!p.server.config().aggressive_mode);
    let mut m = Manual::new(36, fast_suite(), AuthMethod::PreSharedKey);
    let idii = id_bytes(&Identification::fqdn("client.example"));
    let before = p.server.stats();
    let (r, sent) = p.send(&m.am1(&idii));
    assert!(matches!(r, Err(Dropped::Refused(_))), "{r:?}");
    assert!(sent.is_empty(), "no AM2, no notify: {sent:?}");
    assert_eq!(p.server.sa_count(), 0);
    assert_eq!(p.server.stats().no_proposal, before.no_proposal + 1);
    // Aggressive Mode offering only unsupported transforms, when enabled: refused as well.
    let mut q = Pair::new(
        Config {
            aggressive_mode: true,
            ..psk_config()
        },
        psk_config(),
    );
    let bad = with_attr(
        phase1_transform(
            1,
            &fast_suite(),
            AuthMethod::PreSharedKey,
            Duration::from_secs(3600),
        ),
        14,
        Some(100),
    );
    let sa = SaPayload {
        doi: DOI_IPSEC,
        situation: SIT_IDENTITY_ONLY,
        proposals: vec![Proposal {
            number: 1,
            protocol: ProtocolId::Isakmp,
            spi: Vec::new(),
            transforms: vec![bad],
        }],
    }
    .to_vec();
    let gxi = m.gxi();
    let nonce = m.random_bytes(32);
    let am1 = encode_message(
        &m.header(ExchangeType::Aggressive),
        &[
            (PayloadType::Sa, &sa),
            (PayloadType::KeyExchange, &gxi),
            (PayloadType::Nonce, &nonce),
            (PayloadType::Identification, &idii),
        ],
    );
    let (r, sent) = q.send(&am1);
    assert!(r.is_err());
    assert!(nothing_or_no_proposal(&sent), "{sent:?}");
    assert_eq!(q.server.sa_count(), 0);
    assert_eq!(q.server.stats().no_proposal, 1);
}

#[test]
fn case36_unsupported_esp_transforms_get_no_child() {
    let mut p = Pair::established(psk_config(), psk_config());
    let offer = QuickOffer::new(&Profile::compatible());
    let mut sa = SaPayload::decode(&offer.sa).unwrap();
    for (i, id) in [2u8, 23, 1, 250].into_iter().enumerate() {
        // ESP_DES, AES-GMAC (not configured), DES-IV64, unknown.
        for t in &mut sa.proposals[0].transforms {
            t.id = id;
        }
        let sa_b = sa.to_vec();
        let items = [
            (PayloadType::Sa, &sa_b[..]),
            (PayloadType::Nonce, &offer.ni),
            (PayloadType::Identification, &offer.idci),
            (PayloadType::Identification, &offer.idcr),
        ];
        let msg = p.forge(
            ExchangeType::QuickMode,
            0x3636_0000 + u32::try_from(i).unwrap(),
            &items,
            HashMode::Correct,
        );
        let (r, sent) = p.send(&msg);
        assert!(r.is_err(), "ESP transform {id}");
        assert_eq!(quick_mode_sent(&sent), 0, "ESP transform {id}: QM2 sent");
        // A protected NO-PROPOSAL-CHOSEN at most.
        assert!(
            sent.len() <= 1
                && sent
                    .iter()
                    .all(|t| header_of(t).exchange_type == ExchangeType::Informational),
            "{sent:?}"
        );
    }
    assert_eq!(p.phase2_up(Dir::ToServer), 1);
    assert_eq!(p.server.children().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Case 37: replayed and spoofed message 1

#[test]
fn case37_replayed_mm1_gets_one_answer() {
    let mm1 = client_mm1(37);
    let mut p = Pair::new(psk_config(), psk_config());
    let mut answers = 0;
    for _ in 0..1000 {
        let (_, sent) = p.send(&mm1);
        answers += sent.len();
    }
    assert_eq!(
        answers, 1,
        "one MM2 for 1000 copies of one MM1 at one instant"
    );
    assert_eq!(p.server.sa_count(), 1);
    assert_eq!(p.server.stats().duplicates, 999);
    // Copies spread over 25 s (within the half-open lifetime): echoes are rate-limited and
    // capped, never one per copy.
    for _ in 0..50 {
        p.now += Duration::from_millis(500);
        p.server.handle_timeout(p.now);
        let (_, sent) = p.send(&mm1);
        answers += sent.len();
    }
    assert!(answers <= 4, "{answers} answers to one MM1");
    assert_eq!(p.server.stats().retransmits, 0);
}

#[test]
fn case37_spoofed_mm1_flood_is_capped_and_expires() {
    let mm1 = client_mm1(37);
    let cfg = Config {
        max_half_open: 64,
        max_half_open_per_peer: 4,
        ..psk_config()
    };
    // 1000 spoofed sources, each its own cookie.
    let mut p = Pair::new(cfg.clone(), psk_config());
    let mut answers = 0;
    for i in 0..1000u32 {
        let src = SocketAddr::new(
            format!("10.{}.{}.{}", i >> 16, (i >> 8) & 0xff, i & 0xff)
                .parse()
                .unwrap(),
            500,
        );
        let mut cookie = [0xc0; 8];
        cookie[4..].copy_from_slice(&i.to_be_bytes());
        let (_, sent) = p.send_from(src, s500(), &with_cookie(&mm1, cookie));
        answers += sent.len();
        assert!(p.server.sa_count() <= 64);
    }
    assert_eq!(answers, 64);
    assert_eq!(p.server.sa_count(), 64);
    assert_eq!(p.server.stats().half_open_refused, 936);
    // 1000 cookies from one source: the per-peer cap.
    let mut q = Pair::new(cfg, psk_config());
    let mut answers = 0;
    for i in 0..1000u32 {
        let mut cookie = [0xd0; 8];
        cookie[4..].copy_from_slice(&i.to_be_bytes());
        let (_, sent) = q.send(&with_cookie(&mm1, cookie));
        answers += sent.len();
    }
    assert_eq!(answers, 4);
    assert_eq!(q.server.sa_count(), 4);
    assert_eq!(q.server.stats().half_open_refused, 996);
    // Ten minutes: the responder never retransmits MM2 on its own, and the half-open SAs go.
    for pair in [&mut p, &mut q] {
        let end = pair.now + Duration::from_secs(600);
        pair.run_until(end, &mut drop_all);
        let sent_after = pair.s_sent.len();
        assert_eq!(pair.server.stats().retransmits, 0);
        assert_eq!(pair.server.sa_count(), 0);
        assert_eq!(
            sent_after,
            pair.s_sent
                .iter()
                .filter(|t| header_of(t).exchange_type == ExchangeType::IdentityProtection)
                .count()
        );
    }
    assert_eq!(p.s_sent.len(), 64, "nothing sent by timers");
    assert_eq!(q.s_sent.len(), 4, "nothing sent by timers");
    // The caps were released: a new peer is answered again.
    let (r, sent) = q.send(&with_cookie(&mm1, [0xee; 8]));
    assert_eq!(r, Ok(()));
    assert_eq!(sent.len(), 1);
}

/// Owned payloads of a message to forge.
type Items = Vec<(PayloadType, Vec<u8>)>;

// ---------------------------------------------------------------------------------------------
// Case 38: protected messages with the HASH omitted, empty or wrong

#[test]
fn case38_quick_mode_without_a_valid_hash_is_refused() {
    let mut p = Pair::established(psk_config(), psk_config());
    let offer = QuickOffer::new(&Profile::compatible());
    let children = p.server.children();
    for (i, mode) in [HashMode::Omitted, HashMode::Empty, HashMode::Wrong]
        .into_iter()
        .enumerate()
    {
        let msg = p.forge(
            ExchangeType::QuickMode,
            0x3838_0000 + u32::try_from(i).unwrap(),
            &offer.items(),
            mode,
        );
        let before = p.server.stats().bad_auth;
        let (r, sent) = p.send(&msg);
        assert!(matches!(r, Err(Dropped::BadAuth(_))), "{mode:?}: {r:?}");
        assert!(sent.is_empty(), "{mode:?}: {sent:?}");
        assert_eq!(p.server.stats().bad_auth, before + 1, "{mode:?}");
    }
    // A correct HASH over garbage: refused cleanly, no QM2.
    let sa = offer.sa.clone();
    let garbage: Vec<(&str, Items)> = vec![
        (
            "SA body garbage",
            vec![
                (PayloadType::Sa, vec![0, 0]),
                (PayloadType::Nonce, offer.ni.clone()),
            ],
        ),
        ("no SA", vec![(PayloadType::Nonce, offer.ni.clone())]),
        (
            "nonce of 3 bytes",
            vec![
                (PayloadType::Sa, sa.clone()),
                (PayloadType::Nonce, vec![1, 2, 3]),
            ],
        ),
        ("no nonce", vec![(PayloadType::Sa, sa.clone())]),
        (
            "one ID",
            vec![
                (PayloadType::Sa, sa.clone()),
                (PayloadType::Nonce, offer.ni.clone()),
                (PayloadType::Identification, offer.idci.clone()),
            ],
        ),
        (
            "bad ID",
            vec![
                (PayloadType::Sa, sa.clone()),
                (PayloadType::Nonce, offer.ni.clone()),
                (PayloadType::Identification, vec![1, 2]),
                (PayloadType::Identification, offer.idcr.clone()),
            ],
        ),
        (
            "KE without PFS",
            vec![
                (PayloadType::Sa, sa.clone()),
                (PayloadType::Nonce, offer.ni.clone()),
                (PayloadType::KeyExchange, vec![5; 65]),
            ],
        ),
        (
            "phase 1 SA in QM",
            vec![
                (
                    PayloadType::Sa,
                    offer_phase1(
                        &Profile::compatible(),
                        AuthMethod::PreSharedKey,
                        Duration::from_secs(60),
                    )
                    .to_vec(),
                ),
                (PayloadType::Nonce, offer.ni.clone()),
            ],
        ),
        ("nothing", Vec::new()),
    ];
    for (i, (what, items)) in garbage.iter().enumerate() {
        let refs: Vec<(PayloadType, &[u8])> =
            items.iter().map(|(k, b)| (*k, b.as_slice())).collect();
        let msg = p.forge(
            ExchangeType::QuickMode,
            0x3838_1000 + u32::try_from(i).unwrap(),
            &refs,
            HashMode::Correct,
        );
        let (r, sent) = p.send(&msg);
        assert!(r.is_err(), "{what}: accepted");
        assert_eq!(quick_mode_sent(&sent), 0, "{what}: QM2 sent");
    }
    assert_eq!(p.phase2_up(Dir::ToServer), 1);
    assert_eq!(p.server.children(), children);
    assert_eq!(p.server.established_count(), 1);
    // The control: the same offer with the right HASH is answered.
    let ok = p.forge(
        ExchangeType::QuickMode,
        0x3838_2000,
        &offer.items(),
        HashMode::Correct,
    );
    let (r, sent) = p.send(&ok);
    assert_eq!(r, Ok(()));
    assert_eq!(quick_mode_sent(&sent), 1);
    // And the SA still works end to end: the client rekeys its child.
    let (_, spi_in, _) = p.client.children()[0];
    assert!(p.client.rekey_child_now(p.now, spi_in));
    p.pump();
    assert_eq!(p.phase2_up(Dir::ToServer), 2);
    assert_eq!(p.phase2_up(Dir::ToClient), 2);
}

#[test]
fn case38_esp_delete_without_a_valid_hash_leaves_the_child() {
    let mut p = Pair::established(psk_config(), psk_config());
    let (_, spi_in, _) = p.client.children()[0];
    let del = delete_esp(spi_in.0);
    let children = p.server.children();
    for (i, mode) in [HashMode::Omitted, HashMode::Empty, HashMode::Wrong]
        .into_iter()
        .enumerate()
    {
        let msg = p.forge(
            ExchangeType::Informational,
            0x3838_3000 + u32::try_from(i).unwrap(),
            &[(PayloadType::Delete, &del)],
            mode,
        );
        let (r, sent) = p.send(&msg);
        assert!(matches!(r, Err(Dropped::BadAuth(_))), "{mode:?}: {r:?}");
        assert!(sent.is_empty());
        assert_eq!(p.server.children(), children, "{mode:?}");
        assert_eq!(p.any_phase2_down(Dir::ToServer), 0, "{mode:?}");
    }
    let ok = p.forge(
        ExchangeType::Informational,
        0x3838_4000,
        &[(PayloadType::Delete, &del)],
        HashMode::Correct,
    );
    assert_eq!(p.send(&ok).0, Ok(()));
    assert_eq!(p.phase2_down(Dir::ToServer, &DownReason::PeerDeleted), 1);
    assert!(p.server.children().is_empty());
    assert_eq!(p.server.established_count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Case 42 and D1-D3: dead peer detection

fn dpd(delay: u64, timeout: u64) -> Option<DpdConfig> {
    Some(DpdConfig {
        delay: Duration::from_secs(delay),
        timeout: Duration::from_secs(timeout),
    })
}

fn ack(p: &Pair, mid: u32, seq: u32) -> Vec<u8> {
    let n = notify(
        NotifyType::DpdRUThereAck,
        ProtocolId::Isakmp,
        spi16(p.cookies()),
        seq.to_be_bytes().to_vec(),
    );
    p.forge(
        ExchangeType::Informational,
        mid,
        &[(PayloadType::Notification, &n)],
        HashMode::Correct,
    )
}

/// delay + timeout + one probe interval (min(delay, timeout / 3)).
const DPD_BOUND: Duration = Duration::from_secs(10 + 30 + 10);

#[test]
fn case42_link_down_both_sides_declare_the_peer_dead() {
    let cfg = || Config {
        dpd: dpd(10, 30),
        ..psk_config()
    };
    let mut p = Pair::established(cfg(), cfg());
    // Idle but alive for three minutes: probes are answered.
    p.run_for(Duration::from_secs(180), &mut pass_all);
    assert_eq!(
        p.any_phase1_down(Dir::ToServer) + p.any_phase1_down(Dir::ToClient),
        0
    );
    // The link dies.
    let t0 = p.now;
    let mut dead_at = [None, None];
    while p.now < t0 + Duration::from_secs(300) && dead_at.iter().any(Option::is_none) {
        p.run_for(Duration::from_secs(1), &mut drop_all);
        for (i, side) in [Dir::ToServer, Dir::ToClient].into_iter().enumerate() {
            if dead_at[i].is_none() && p.phase1_down(side, &DownReason::DeadPeer) > 0 {
                dead_at[i] = Some(p.now - t0);
            }
        }
    }
    println!("declared dead after {dead_at:?}");
    for (i, side) in [Dir::ToServer, Dir::ToClient].into_iter().enumerate() {
        let took =
            dead_at[i].unwrap_or_else(|| panic!("{side:?} side never declared the peer dead"));
        assert!(
            took <= DPD_BOUND + Duration::from_secs(1),
            "{side:?}: {took:?}"
        );
        assert_eq!(p.phase1_down(side, &DownReason::DeadPeer), 1, "{side:?}");
        assert_eq!(p.phase2_down(side, &DownReason::DeadPeer), 1, "{side:?}");
    }
    assert_eq!(p.server.sa_count(), 0);
    assert_eq!(p.client.sa_count(), 0);
}

#[test]
fn case42_ack_with_a_wrong_sequence_is_ignored() {
    // The server probes; the client's answers never arrive. Instead, authenticated
    // R-U-THERE-ACKs with sequence numbers the server never sent keep coming.
    let mut p = Pair::established(
        Config {
            dpd: dpd(10, 30),
            ..psk_config()
        },
        Config {
            dpd: None,
            ..psk_config()
        },
    );
    let t0 = p.now;
    let mut mid = 0x4242_0000;
    while p.now < t0 + Duration::from_secs(120)
        && p.phase1_down(Dir::ToServer, &DownReason::DeadPeer) == 0
    {
        p.run_for(Duration::from_secs(5), &mut drop_all);
        if p.server.established_count() == 1 {
            for seq in [0, u32::MAX] {
                mid += 1;
                let a = ack(&p, mid, seq);
                let (r, sent) = p.send(&a);
                assert_eq!(r, Ok(()), "a protected notification is processed");
                assert!(sent.is_empty());
            }
        }
    }
    let took = p.now - t0;
    assert_eq!(
        p.phase1_down(Dir::ToServer, &DownReason::DeadPeer),
        1,
        "wrong-sequence ACKs kept a dead peer alive for {took:?}"
    );
    assert!(took <= DPD_BOUND + Duration::from_secs(5), "{took:?}");
}

#[test]
fn case42_one_wrong_ack_then_silence() {
    // The weak form: one wrong-sequence ACK after the first probe, then nothing; the peer is
    // declared dead within the DPD bound counted from that ACK.
    let mut p = Pair::established(
        Config {
            dpd: dpd(10, 30),
            ..psk_config()
        },
        Config {
            dpd: None,
            ..psk_config()
        },
    );
    p.run_for(Duration::from_secs(11), &mut drop_all);
    let a = ack(&p, 0x4242_1000, u32::MAX);
    assert_eq!(p.send(&a).0, Ok(()));
    let t0 = p.now;
    while p.now < t0 + Duration::from_secs(120)
        && p.phase1_down(Dir::ToServer, &DownReason::DeadPeer) == 0
    {
        p.run_for(Duration::from_secs(1), &mut drop_all);
    }
    let took = p.now - t0;
    assert_eq!(p.phase1_down(Dir::ToServer, &DownReason::DeadPeer), 1);
    assert_eq!(p.phase2_down(Dir::ToServer, &DownReason::DeadPeer), 1);
    assert!(took <= DPD_BOUND + Duration::from_secs(1), "{took:?}");
}

#[test]
fn case42_replayed_ack_does_not_keep_a_dead_peer_alive() {
    // D2: the sequence number is what protects DPD against replay (RFC 3706 §7).
    let mut p = Pair::established(
        Config {
            dpd: dpd(10, 30),
            ..psk_config()
        },
        Config {
            dpd: None,
            ..psk_config()
        },
    );
    // One genuine exchange: capture the client's R-U-THERE-ACK.
    let mut acks = Vec::new();
    p.run_for(Duration::from_secs(15), &mut |dir, t| {
        if dir == Dir::ToServer && header_of(t).exchange_type == ExchangeType::Informational {
            acks.push(t.payload.clone());
        }
        true
    });
    assert!(!acks.is_empty(), "the client answered the server's probe");
    // The client goes away; an attacker replays the ACK every 5 s.
    let t0 = p.now;
    while p.now < t0 + Duration::from_secs(120)
        && p.phase1_down(Dir::ToServer, &DownReason::DeadPeer) == 0
    {
        p.run_for(Duration::from_secs(5), &mut drop_all);
        let _ = p.send(&acks[0]);
    }
    let took = p.now - t0;
    assert_eq!(
        p.phase1_down(Dir::ToServer, &DownReason::DeadPeer),
        1,
        "a replayed ACK kept a dead peer alive for {took:?}"
    );
    assert!(took <= DPD_BOUND + Duration::from_secs(5), "{took:?}");
}

#[test]
fn d1_d2_r_u_there_only_protected_and_for_our_cookies() {
    let mut p = Pair::established(psk_config(), psk_config());
    let cookies = p.cookies();
    let seq = 99u32.to_be_bytes().to_vec();
    // Unprotected R-U-THERE with our cookies: no ACK.
    let n = notify(
        NotifyType::DpdRUThere,
        ProtocolId::Isakmp,
        spi16(cookies),
        seq.clone(),
    );
    let plain = encode_message(
        &plain_header(
            cookies.0,
            cookies.1,
            ExchangeType::Informational,
            0x4141_0001,
        ),
        &[(PayloadType::Notification, &n)],
    );
    let (r, sent) = p.send(&plain);
    assert!(r.is_err());
    assert!(sent.is_empty());
    // Protected, but naming other cookies: ignored.
    let other = notify(
        NotifyType::DpdRUThere,
        ProtocolId::Isakmp,
        vec![0x42; 16],
        seq.clone(),
    );
    let (_, sent) = p.send(&p.forge(
        ExchangeType::Informational,
        0x4141_0002,
        &[(PayloadType::Notification, &other)],
        HashMode::Correct,
    ));
    assert!(sent.is_empty(), "ACKed an R-U-THERE for other cookies");
    // Protected with a bad HASH: ignored.
    let (_, sent) = p.send(&p.forge(
        ExchangeType::Informational,
        0x4141_0003,
        &[(PayloadType::Notification, &n)],
        HashMode::Wrong,
    ));
    assert!(sent.is_empty());
    // The control: protected with our cookies is ACKed, inside a protected Informational.
    let (r, sent) = p.send(&p.forge(
        ExchangeType::Informational,
        0x4141_0004,
        &[(PayloadType::Notification, &n)],
        HashMode::Correct,
    ));
    assert_eq!(r, Ok(()));
    assert_eq!(sent.len(), 1);
    let h = header_of(&sent[0]);
    assert_eq!(h.exchange_type, ExchangeType::Informational);
    assert!(h.flags.contains(Flags::ENCRYPTION));
    assert_eq!(p.server.established_count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Case 43: certificates

fn certs_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/certs/").to_string()
}

fn read_cert(name: &str) -> Certificate {
    Certificate::from_pem(&std::fs::read_to_string(format!("{}{name}", certs_dir())).unwrap())
        .unwrap()
        .remove(0)
}

/// A client configuration presenting `cert` (chain `chain`), signing with `key`.
fn client_cert_config(cert: &str, chain: &[&str], key: &str) -> Config {
    let key = Arc::new(
        PrivateKey::from_pem(&std::fs::read_to_string(format!("{}{key}", certs_dir())).unwrap())
            .unwrap(),
    );
    Config {
        certificate: Some(CertConfig {
            certificate: read_cert(cert),
            chain: chain.iter().map(|c| read_cert(c)).collect(),
            key,
            trust: TrustStore::new(vec![read_cert("ca.pem")]),
        }),
        ..Config::default()
    }
}

#[test]
fn case43_certificate_from_another_ca_is_refused() {
    for (what, client) in [
        (
            "self-signed other root",
            client_cert_config("other-ca.pem", &[], "other-ca.key.pem"),
        ),
        (
            "leaf of the other root",
            client_cert_config("other-client.pem", &["other-ca.pem"], "client.key.pem"),
        ),
    ] {
        let mut p = Pair::new(cert_config("server"), client);
        p.set_unix_time();
        p.connect();
        p.run_for(Duration::from_secs(600), &mut pass_all);
        assert_eq!(p.phase1_up(Dir::ToServer), 0, "{what}");
        assert_eq!(p.server.stats().phase1_established, 0, "{what}");
        assert!(
            p.server.stats().bad_auth >= 1,
            "{what}: {:?}",
            p.server.stats()
        );
        assert_eq!(p.server.sa_count(), 0, "{what}");
        assert_eq!(p.client.sa_count(), 0, "{what}");
    }
    // The control: the real client certificate is accepted by the same server.
    let mut p = Pair::new(cert_config("server"), cert_config("client"));
    p.set_unix_time();
    p.connect();
    p.pump();
    assert_eq!(p.phase2_up(Dir::ToServer), 1);
}

#[test]
fn case43_flood_of_distinct_certificates_stays_bounded() {
    let mut server = Endpoint::new(Arc::new(cert_config("server")), [4; 32]);
    let mut now = start();
    server.set_unix_time(now, UNIX_NOW);
    let client = read_cert("client.pem");
    let intermediate = read_cert("intermediate.pem");
    let ask =
        |server: &mut Endpoint, now: Instant, msg: &[u8]| -> (Result<(), Dropped>, Vec<Vec<u8>>) {
            let r = server.handle_datagram(now, s500(), c500(), msg);
            let mut out = Vec::new();
            while let Some(t) = server.poll_transmit() {
                out.push(t.payload);
            }
            while server.poll_event().is_some() {}
            (r, out)
        };
    let cert_payload = |c: &Certificate| {
        let mut b = Vec::new();
        sras_ike::wire::Certificate {
            encoding: CertEncoding::X509Signature,
            data: c.der().to_vec(),
        }
        .encode(&mut b);
        b
    };
    let inter_b = cert_payload(&intermediate);
    let mut max_held = 0;
    for i in 0..200u64 {
        // A distinct certificate each time: the client's with its signature altered.
        let mut der = client.der().to_vec();
        let n = der.len();
        der[n - 1] ^= u8::try_from(i % 255 + 1).unwrap();
        der[n - 2] ^= u8::try_from(i / 255).unwrap();
        let cert = if i == 0 {
            client.clone()
        } else {
            Certificate::from_der(&der).expect("still parses")
        };
        let mut m = Manual::new(
            1000 + i,
            Phase1Suite {
                cipher: CipherAlgorithm::AesCbc128,
                hash: HashAlgorithm::Sha1,
                group: DhGroup::Ecp256,
            },
            AuthMethod::RsaSignature,
        );
        let (r, out) = ask(&mut server, now, &m.mm1());
        assert_eq!(r, Ok(()), "attempt {i}: MM1");
        m.read_mm2(&only_payloads(out));
        let (r, out) = ask(&mut server, now, &m.mm3());
        assert_eq!(r, Ok(()), "attempt {i}: MM3");
        m.read_mm4(&only_payloads(out), None);
        let idii = id_bytes(&Identification {
            id_type: IdType::DerAsn1Dn,
            protocol: 17,
            port: 500,
            data: cert.subject_der().to_vec(),
        });
        let cert_b = cert_payload(&cert);
        let sig = m.random_bytes(256);
        let mm5 = m.mm5(&[
            (PayloadType::Identification, &idii),
            (PayloadType::Certificate, &cert_b),
            (PayloadType::Certificate, &inter_b),
            (PayloadType::Signature, &sig),
        ]);
        let (r, out) = ask(&mut server, now, &mm5);
        assert!(matches!(r, Err(Dropped::BadAuth(_))), "attempt {i}: {r:?}");
        assert!(out.is_empty(), "attempt {i}: answered MM5");
        max_held = max_held.max(server.sa_count());
        if i % 16 == 15 {
            now += Duration::from_secs(31);
            server.handle_timeout(now);
        }
    }
    now += Duration::from_secs(31);
    server.handle_timeout(now);
    assert_eq!(server.stats().bad_auth, 200);
    assert_eq!(server.stats().phase1_established, 0);
    assert!(max_held <= 16, "{max_held} SAs held at once");
    assert_eq!(server.sa_count(), 0);
}

fn only_payloads(out: Vec<Vec<u8>>) -> Vec<u8> {
    assert_eq!(out.len(), 1, "one answer expected");
    out.into_iter().next().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Aggressive Mode responder

fn aggressive_server(enabled: bool) -> Config {
    Config {
        aggressive_mode: enabled,
        psk: vec![PskEntry {
            peer: PeerSelector::Id(b"client.example".to_vec()),
            secret: Zeroizing::new(PSK.to_vec()),
        }],
        ..Config::default()
    }
}

#[test]
fn aggressive_mode_responder_with_a_psk_chosen_by_id() {
    let mut p = Pair::new(aggressive_server(true), psk_config());
    let mut m = Manual::new(7, fast_suite(), AuthMethod::PreSharedKey);
    let idii = id_bytes(&Identification::fqdn("client.example"));
    let (r, sent) = p.send(&m.am1(&idii));
    assert_eq!(r, Ok(()));
    let am2 = only(sent);
    let idir = m.read_am2(&am2, PSK);
    assert_eq!(
        idir.to_ip(),
        Some(SERVER.parse().unwrap()),
        "the server's ID is its address"
    );
    let (r, sent) = p.send(&m.am3(&idii));
    assert_eq!(r, Ok(()));
    assert!(sent.is_empty(), "AM3 is not answered");
    let up = p
        .s_events
        .iter()
        .find_map(|e| {
            if let Event::Phase1Up(i) = e {
                Some(i.clone())
            } else {
                None
            }
        })
        .expect("Phase1Up");
    assert_eq!(up.exchange, ExchangeType::Aggressive);
    assert_eq!(up.peer_id.data, b"client.example");
    assert!(!up.group_key);
    assert_eq!(up.cookies, (m.cky_i, m.cky_r));
    assert_eq!(p.server.established_count(), 1);
}

#[test]
fn aggressive_mode_wrong_key_or_unknown_id_fails() {
    // HASH_I computed with another key.
    let mut p = Pair::new(aggressive_server(true), psk_config());
    let mut m = Manual::new(8, fast_suite(), AuthMethod::PreSharedKey);
    let idii = id_bytes(&Identification::fqdn("client.example"));
    let am2 = only(p.send(&m.am1(&idii)).1);
    m.read_am2(&am2, PSK);
    let mut wrong = Manual { keys: None, ..m };
    wrong.derive(Some(b"not the key"));
    let (r, sent) = p.send(&wrong.am3(&idii));
    assert!(matches!(r, Err(Dropped::BadAuth(_))), "{r:?}");
    assert!(sent.is_empty());
    assert_eq!(p.phase1_up(Dir::ToServer), 0);
    // An ID with no key configured: no AM2.
    let mut q = Pair::new(aggressive_server(true), psk_config());
    let m = Manual::new(9, fast_suite(), AuthMethod::PreSharedKey);
    let (r, sent) = q.send(&m.am1(&id_bytes(&Identification::fqdn("someone.else"))));
    assert!(r.is_err());
    assert!(sent.is_empty());
    assert_eq!(q.server.sa_count(), 0);
}

#[test]
fn aggressive_mode_disabled_refuses_am1() {
    let mut p = Pair::new(aggressive_server(false), psk_config());
    let m = Manual::new(10, fast_suite(), AuthMethod::PreSharedKey);
    let (r, sent) = p.send(&m.am1(&id_bytes(&Identification::fqdn("client.example"))));
    assert!(matches!(r, Err(Dropped::Refused(_))), "{r:?}");
    assert!(sent.is_empty());
    assert_eq!(p.server.sa_count(), 0);
    assert_eq!(p.server.stats().no_proposal, 1);
}
