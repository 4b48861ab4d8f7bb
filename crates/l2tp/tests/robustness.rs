//! ROBUSTNESS.md §5, cases 1-27 (L2TP): one test per case, each feeding the input the case
//! names and asserting the behaviour it expects — the typed [`Error`], the [`Stats`] counter
//! that moved, what goes back on the wire (decoded with `sras_l2tp::wire`), and which tunnels
//! and sessions exist afterwards.
//!
//! Most cases drive one LNS [`Endpoint`] directly with crafted datagrams from a scripted peer
//! ([`Peer`]); cases 14, 21, 22, 23 and 24 put two real endpoints on a `sras_testkit::Network`.
//! Everything runs in virtual time.
//!
//! [`Stats`]: sras_l2tp::Stats

mod common;

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::*;
use sras_core::{Seq16, Transmit};
use sras_l2tp::wire::{
    encode_control, error, result, Avp, ControlMessage, Header, MessageType, ResultCode, WireError,
    CONTROL_HEADER_LEN,
};
use sras_l2tp::{
    CallDirection, CloseReason, Config, Endpoint, Error, Event, Received, SessionHandle, SessionId,
    TunnelHandle, TunnelId,
};
use sras_testkit::{LinkConfig, Network, VirtualClock};

// ----- the LNS under test, driven directly ------------------------------------------------

/// What `handle_datagram` returned, owned.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Control,
    Data(SessionHandle, Vec<u8>),
}

/// An endpoint in virtual time, with everything it reported.
struct Lns {
    ep: Endpoint,
    clock: VirtualClock,
    events: Vec<Event>,
}

impl Lns {
    fn new(config: Config) -> Self {
        Self {
            ep: Endpoint::new(config),
            clock: VirtualClock::new(),
            events: Vec::new(),
        }
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
    }

    fn feed(&mut self, from: SocketAddr, datagram: &[u8]) -> Result<Got, Error> {
        let now = self.now();
        let r = match self.ep.handle_datagram(now, from, datagram) {
            Ok(Received::Control) => Ok(Got::Control),
            Ok(Received::Data { session, payload }) => Ok(Got::Data(session, payload.to_vec())),
            Err(e) => Err(e),
        };
        self.drain_events();
        r
    }

    fn tx(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.ep.poll_transmit()).collect()
    }

    /// Lets time run to `elapsed` since the start, firing every deadline on the way; returns
    /// what was sent, stamped with the time it was sent.
    fn run_to(&mut self, elapsed: Duration) -> Vec<(Duration, Transmit)> {
        let until = self.clock.start() + elapsed;
        let mut out = Vec::new();
        while let Some(t) = self.ep.poll_timeout() {
            if t > until {
                break;
            }
            let t = t.max(self.now());
            self.clock.set(t);
            self.ep.handle_timeout(t);
            self.drain_events();
            while let Some(x) = self.ep.poll_transmit() {
                out.push((self.elapsed(), x));
            }
        }
        if until > self.now() {
            self.clock.set(until);
        }
        out
    }

    fn run_for(&mut self, d: Duration) -> Vec<(Duration, Transmit)> {
        let to = self.elapsed() + d;
        self.run_to(to)
    }

    fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }

    fn tunnel_closed(&self) -> Option<&CloseReason> {
        self.events.iter().find_map(|e| match e {
            Event::TunnelClosed { reason, .. } => Some(reason),
            _ => None,
        })
    }
}

// ----- a scripted peer (the LAC) -----------------------------------------------------------

/// A decoded datagram from the endpoint.
#[derive(Debug)]
struct Reply {
    hdr: Header,
    /// `None` for a ZLB.
    msg: Option<ControlMessage>,
}

impl Reply {
    fn kind(&self) -> Option<MessageType> {
        self.msg.as_ref().map(|m| m.message_type)
    }
    fn ns(&self) -> u16 {
        self.hdr.sequence.unwrap().0 .0
    }
    fn nr(&self) -> u16 {
        self.hdr.sequence.unwrap().1 .0
    }
    fn is_zlb(&self) -> bool {
        self.msg.is_none()
    }
    fn result(&self) -> &ResultCode {
        self.msg
            .as_ref()
            .and_then(ControlMessage::result_code)
            .expect("a Result Code AVP")
    }
}

fn decode(t: &Transmit, secret: Option<&[u8]>) -> Reply {
    let (hdr, range) = Header::parse(&t.payload).expect("the endpoint sends valid headers");
    assert!(hdr.control, "only control messages are sent here");
    let body = &t.payload[range];
    let msg = (!body.is_empty())
        .then(|| ControlMessage::parse(body, secret).expect("the endpoint sends valid messages"));
    Reply { hdr, msg }
}

fn decode_all(tx: &[Transmit]) -> Vec<Reply> {
    tx.iter().map(|t| decode(t, None)).collect()
}

/// A LAC played by the test: keeps its Ns/Nr and the LNS's Tunnel ID.
#[derive(Debug, Clone)]
struct Peer {
    addr: SocketAddr,
    /// Our Assigned Tunnel ID.
    tid: u16,
    /// The LNS's Tunnel ID (0 until the SCCRP).
    lns_tid: u16,
    /// Ns of our next message.
    ns: u16,
    /// Next Ns expected from the LNS.
    nr: u16,
}

impl Peer {
    fn new(addr: SocketAddr, tid: u16) -> Self {
        Self {
            addr,
            tid,
            lns_tid: 0,
            ns: 0,
            nr: 0,
        }
    }

    /// The next message, in sequence.
    fn send(&mut self, session: u16, m: &ControlMessage) -> Vec<u8> {
        let d = raw(self.lns_tid, session, self.ns, self.nr, m);
        self.ns = self.ns.wrapping_add(1);
        d
    }

    /// A ZLB acknowledging everything received.
    fn zlb(&self) -> Vec<u8> {
        let mut v = Vec::new();
        encode_control(
            TunnelId(self.lns_tid),
            SessionId(0),
            Seq16(self.ns),
            Seq16(self.nr),
            None,
            None,
            &mut v,
        );
        v
    }

    /// Decodes the LNS's datagrams, advancing our Nr over the messages in sequence.
    fn take(&mut self, tx: &[Transmit]) -> Vec<Reply> {
        let replies = decode_all(tx);
        for r in &replies {
            if !r.is_zlb() && r.ns() == self.nr {
                self.nr = self.nr.wrapping_add(1);
            }
        }
        replies
    }
}

/// One control datagram.
fn raw(tid: u16, sid: u16, ns: u16, nr: u16, m: &ControlMessage) -> Vec<u8> {
    let mut v = Vec::new();
    encode_control(
        TunnelId(tid),
        SessionId(sid),
        Seq16(ns),
        Seq16(nr),
        Some(m),
        None,
        &mut v,
    );
    v
}

fn sccrq(tid: u16) -> ControlMessage {
    ControlMessage::new(MessageType::Sccrq)
        .with(Avp::ProtocolVersion {
            version: 1,
            revision: 0,
        })
        .with(Avp::HostName(b"lac".to_vec()))
        .with(Avp::FramingCapabilities(3))
        .with(Avp::AssignedTunnelId(TunnelId(tid)))
}

fn icrq(sid: u16) -> ControlMessage {
    ControlMessage::new(MessageType::Icrq)
        .with(Avp::AssignedSessionId(SessionId(sid)))
        .with(Avp::CallSerialNumber(u32::from(sid)))
}

fn iccn() -> ControlMessage {
    ControlMessage::new(MessageType::Iccn)
        .with(Avp::TxConnectSpeed(10_000_000))
        .with(Avp::FramingType(1))
}

fn hello() -> ControlMessage {
    ControlMessage::new(MessageType::Hello)
}

fn stopccn(tid: u16, rc: ResultCode) -> ControlMessage {
    ControlMessage::new(MessageType::StopCcn)
        .with(Avp::AssignedTunnelId(TunnelId(tid)))
        .with(Avp::ResultCode(rc))
}

fn cdn(sid: u16, rc: ResultCode) -> ControlMessage {
    ControlMessage::new(MessageType::Cdn)
        .with(Avp::ResultCode(rc))
        .with(Avp::AssignedSessionId(SessionId(sid)))
}

fn vendor_avp(mandatory: bool) -> Avp {
    Avp::Unknown {
        mandatory,
        vendor_id: 311,
        attribute_type: 7,
        value: vec![1, 2, 3],
    }
}

/// One raw AVP (RFC 2661 §4.1): flags (M, H, reserved) in the top bits of the first octet.
fn avp_bytes(flags: u8, vendor: u16, kind: u16, value: &[u8]) -> Vec<u8> {
    let len = (6 + value.len()) as u16;
    let mut v = vec![flags | (len >> 8) as u8, len as u8];
    v.extend_from_slice(&vendor.to_be_bytes());
    v.extend_from_slice(&kind.to_be_bytes());
    v.extend_from_slice(value);
    v
}

/// Sets the header Length field to the datagram's size.
fn fix_length(d: &mut [u8]) {
    let len = d.len() as u16;
    d[2..4].copy_from_slice(&len.to_be_bytes());
}

/// Appends raw AVP bytes to a control datagram.
fn append(mut d: Vec<u8>, bytes: &[u8]) -> Vec<u8> {
    d.extend_from_slice(bytes);
    fix_length(&mut d);
    d
}

/// (offset in the datagram, Length) of every AVP of a well-formed control datagram, with its
/// vendor and type.
fn avps(d: &[u8]) -> Vec<(usize, usize, u16, u16)> {
    let mut out = Vec::new();
    let mut at = CONTROL_HEADER_LEN;
    while at + 6 <= d.len() {
        let len = usize::from(u16::from_be_bytes([d[at] & 3, d[at + 1]]));
        let vendor = u16::from_be_bytes([d[at + 2], d[at + 3]]);
        let kind = u16::from_be_bytes([d[at + 4], d[at + 5]]);
        out.push((at, len, vendor, kind));
        if len < 6 {
            break;
        }
        at += len;
    }
    out
}

/// The offset of the (vendor 0) AVP of type `kind`.
fn avp_at(d: &[u8], kind: u16) -> usize {
    avps(d)
        .into_iter()
        .find(|a| a.2 == 0 && a.3 == kind)
        .map(|a| a.0)
        .expect("AVP present")
}

/// Sets the 10-bit Length of the AVP at `at`.
fn set_avp_len(d: &mut [u8], at: usize, len: u16) {
    d[at] = (d[at] & 0xfc) | (len >> 8) as u8;
    d[at + 1] = len as u8;
}

const HOST_NAME: u16 = 7;
const VENDOR_NAME: u16 = 8;
const FRAMING_CAPABILITIES: u16 = 3;
const ASSIGNED_SESSION_ID: u16 = 14;

fn new_lns() -> Lns {
    Lns::new(lns_config(2))
}

fn lac_addr() -> SocketAddr {
    addr(LAC)
}

/// SCCRQ, SCCRP, SCCCN: returns the LNS's handle of the tunnel.
fn establish(lns: &mut Lns, peer: &mut Peer) -> TunnelHandle {
    let d = peer.send(0, &sccrq(peer.tid));
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let tx = lns.tx();
    let replies = peer.take(&tx);
    let sccrp = replies
        .iter()
        .find(|r| r.kind() == Some(MessageType::Sccrp))
        .expect("SCCRP");
    assert_eq!(sccrp.hdr.tunnel_id, TunnelId(peer.tid));
    peer.lns_tid = sccrp.msg.as_ref().unwrap().assigned_tunnel_id().unwrap().0;
    let d = peer.send(0, &ControlMessage::new(MessageType::Scccn));
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let tx = lns.tx();
    peer.take(&tx);
    lns.events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::TunnelEstablished {
                tunnel,
                peer_tunnel_id,
                ..
            } if peer_tunnel_id.0 == peer.tid => Some(*tunnel),
            _ => None,
        })
        .expect("tunnel established")
}

/// ICRQ, ICRP, ICCN: returns the session and the LNS's Session ID.
fn open_call(lns: &mut Lns, peer: &mut Peer, peer_sid: u16) -> (SessionHandle, u16) {
    let d = peer.send(0, &icrq(peer_sid));
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let tx = lns.tx();
    let replies = peer.take(&tx);
    let icrp = replies
        .iter()
        .find(|r| r.kind() == Some(MessageType::Icrp))
        .expect("ICRP");
    assert_eq!(icrp.hdr.session_id, SessionId(peer_sid));
    let lns_sid = icrp.msg.as_ref().unwrap().assigned_session_id().unwrap().0;
    let d = peer.send(lns_sid, &iccn());
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let tx = lns.tx();
    peer.take(&tx);
    let s = lns
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::SessionEstablished { session, info, .. } if info.local_id.0 == lns_sid => {
                Some(*session)
            }
            _ => None,
        })
        .expect("session established");
    (s, lns_sid)
}

/// An established tunnel with two established sessions (peer Session IDs 1 and 2).
fn up_with_two_sessions() -> (Lns, Peer, TunnelHandle, [(SessionHandle, u16); 2]) {
    let mut lns = new_lns();
    let mut peer = Peer::new(lac_addr(), 0x4242);
    let t = establish(&mut lns, &mut peer);
    let a = open_call(&mut lns, &mut peer, 1);
    let b = open_call(&mut lns, &mut peer, 2);
    assert_eq!(lns.ep.session_count(), 2);
    (lns, peer, t, [a, b])
}

/// A data message from the peer to the LNS's session.
fn data(peer: &Peer, lns_sid: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x40, 0x02, 0, 0];
    v.extend_from_slice(&peer.lns_tid.to_be_bytes());
    v.extend_from_slice(&lns_sid.to_be_bytes());
    v.extend_from_slice(payload);
    fix_length(&mut v);
    v
}

/// The endpoint cleared the tunnel with a StopCCN carrying `result`/`error`, and every
/// session with it.
fn assert_stopccn(lns: &Lns, replies: &[Reply], peer: &Peer, res: u16, err: Option<u16>) {
    let stop: Vec<_> = replies
        .iter()
        .filter(|r| r.kind() == Some(MessageType::StopCcn))
        .collect();
    assert_eq!(stop.len(), 1, "one StopCCN: {replies:?}");
    assert_eq!(
        stop[0].hdr.tunnel_id,
        TunnelId(peer.tid),
        "to the peer's tunnel"
    );
    let rc = stop[0].result();
    assert_eq!((rc.result, rc.error), (res, err), "{rc:?}");
    // A6: the StopCCN carries the Assigned Tunnel ID we first sent.
    assert_eq!(
        stop[0].msg.as_ref().unwrap().assigned_tunnel_id(),
        Some(TunnelId(peer.lns_tid))
    );
    assert!(
        matches!(lns.tunnel_closed(), Some(CloseReason::Local(r)) if r.result == res && r.error == err),
        "{:?}",
        lns.events
    );
    assert_eq!(
        lns.ep.session_count(),
        0,
        "a StopCCN clears every session (§6.4)"
    );
}

// ----- L2TP parsing -----------------------------------------------------------------------

/// Case 1: an AVP with Length 0 in an SCCRQ is rejected (the parse loop terminates), no
/// tunnel is created and nothing is sent. Inside an established tunnel the same malformation
/// clears the tunnel (§7.1).
#[test]
fn case01_avp_length_zero_in_sccrq() {
    let mut lns = new_lns();
    let peer = Peer::new(lac_addr(), 0x1111);
    for kind in [HOST_NAME, FRAMING_CAPABILITIES] {
        let mut d = raw(0, 0, 0, 0, &sccrq(peer.tid));
        let at = avp_at(&d, kind);
        set_avp_len(&mut d, at, 0);
        let r = lns.feed(peer.addr, &d);
        assert!(
            matches!(
                r,
                Err(Error::Malformed(WireError::AvpTooShort { length: 0, .. }))
            ),
            "{r:?}"
        );
    }
    // A body of zeros after a valid Message Type: AVP Length 0 at once.
    let d = append(
        raw(0, 0, 0, 0, &ControlMessage::new(MessageType::Sccrq)),
        &[0; 64],
    );
    assert!(matches!(
        lns.feed(peer.addr, &d),
        Err(Error::Malformed(WireError::AvpTooShort { .. }))
    ));
    assert_eq!(lns.ep.stats().malformed, 3);
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert!(lns.tx().is_empty(), "no reply to garbage");
    assert!(lns.events.is_empty());

    // The same inside an established tunnel: malformed, the tunnel is cleared with a StopCCN.
    let (mut lns, mut peer, _, _) = up_with_two_sessions();
    let mut d = peer.send(0, &hello().with(Avp::FirmwareRevision(1)));
    let at = avp_at(&d, 6);
    set_avp_len(&mut d, at, 0);
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    assert_eq!(lns.ep.stats().malformed, 1);
    let tx = lns.tx();
    let replies = peer.take(&tx);
    assert_stopccn(
        &lns,
        &replies,
        &peer,
        result::GENERAL_ERROR,
        Some(error::BAD_LENGTH),
    );
    assert!(
        replies.iter().all(|r| r.nr() == peer.ns),
        "the StopCCN acknowledges the bad message"
    );
}

/// Case 2: Host Name and Vendor Name AVPs with Length 1-5 are malformed (no underflow, no
/// reply, no tunnel). Length 6 (an empty Host Name, §4.4.3 needs 1 octet) is refused with a
/// StopCCN naming the AVP; an empty Vendor Name is fine.
#[test]
fn case02_string_avp_length_one_to_five() {
    let mut lns = new_lns();
    let mut n = 0;
    for kind in [HOST_NAME, VENDOR_NAME] {
        for len in 1..=5u16 {
            let m = sccrq(0x2000 + len).with(Avp::VendorName(b"vendor".to_vec()));
            let mut d = raw(0, 0, 0, 0, &m);
            let at = avp_at(&d, kind);
            set_avp_len(&mut d, at, len);
            let r = lns.feed(lac_addr(), &d);
            n += 1;
            assert!(
                matches!(r, Err(Error::Malformed(WireError::AvpTooShort { length, .. })) if length == usize::from(len)),
                "type {kind} length {len}: {r:?}"
            );
        }
    }
    assert_eq!(lns.ep.stats().malformed, n);
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert!(lns.tx().is_empty());

    // Empty Host Name: malformed, refused with a StopCCN (Result 2) naming Host Name.
    let m = ControlMessage::new(MessageType::Sccrq)
        .with(Avp::ProtocolVersion {
            version: 1,
            revision: 0,
        })
        .with(Avp::HostName(b"x".to_vec()))
        .with(Avp::FramingCapabilities(3))
        .with(Avp::AssignedTunnelId(TunnelId(0x2222)));
    let mut d = raw(0, 0, 0, 0, &m);
    let at = avp_at(&d, HOST_NAME);
    d.remove(at + 6);
    set_avp_len(&mut d, at, 6);
    fix_length(&mut d);
    let r = lns.feed(lac_addr(), &d);
    assert!(
        matches!(r, Err(Error::Malformed(WireError::AvpValue { .. }))),
        "{r:?}"
    );
    let replies = decode_all(&lns.tx());
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].kind(), Some(MessageType::StopCcn));
    assert_eq!(replies[0].hdr.tunnel_id, TunnelId(0x2222));
    assert_eq!(replies[0].result().result, result::GENERAL_ERROR);
    assert!(
        replies[0]
            .result()
            .message
            .as_deref()
            .unwrap_or("")
            .contains("HostName"),
        "{:?}",
        replies[0].result()
    );
    assert_eq!(
        lns.count(|e| matches!(e, Event::TunnelEstablished { .. })),
        0
    );

    // An empty Vendor Name is valid.
    let mut lns = new_lns();
    let mut peer = Peer::new(lac_addr(), 0x2323);
    let d = peer.send(0, &sccrq(peer.tid).with(Avp::VendorName(Vec::new())));
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    assert_eq!(peer.take(&lns.tx())[0].kind(), Some(MessageType::Sccrp));
}

/// Case 3: an AVP running past the end of the message, or a header Length above the
/// datagram, is discarded and counted as malformed. A bad header Length is dropped silently
/// even on a live tunnel (nothing in it can be trusted); an AVP past the end of a message in
/// sequence clears the tunnel (§7.1).
#[test]
fn case03_avp_length_past_end_of_message() {
    let mut lns = new_lns();
    // AVP past the end.
    let mut d = raw(0, 0, 0, 0, &sccrq(0x3333));
    let at = avp_at(&d, HOST_NAME);
    set_avp_len(&mut d, at, 200);
    let r = lns.feed(lac_addr(), &d);
    assert!(
        matches!(
            r,
            Err(Error::Malformed(WireError::AvpPastEnd { length: 200, .. }))
        ),
        "{r:?}"
    );
    // The last AVP cut short by the datagram.
    let mut d = raw(0, 0, 0, 0, &sccrq(0x3333));
    d.pop();
    fix_length(&mut d);
    let r = lns.feed(lac_addr(), &d);
    assert!(
        matches!(r, Err(Error::Malformed(WireError::AvpPastEnd { .. }))),
        "{r:?}"
    );
    // Header Length larger than the datagram.
    let mut d = raw(0, 0, 0, 0, &sccrq(0x3333));
    let len = d.len() as u16 + 10;
    d[2..4].copy_from_slice(&len.to_be_bytes());
    let r = lns.feed(lac_addr(), &d);
    assert!(
        matches!(r, Err(Error::Malformed(WireError::BadLength { .. }))),
        "{r:?}"
    );
    assert_eq!(lns.ep.stats().malformed, 3);
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert!(lns.tx().is_empty());

    // On a live tunnel: a bad header Length is dropped and changes nothing...
    let (mut lns, mut peer, t, _) = up_with_two_sessions();
    let mut d = raw(peer.lns_tid, 0, peer.ns, peer.nr, &hello());
    let len = d.len() as u16 + 1;
    d[2..4].copy_from_slice(&len.to_be_bytes());
    assert!(matches!(
        lns.feed(peer.addr, &d),
        Err(Error::Malformed(WireError::BadLength { .. }))
    ));
    assert!(lns.tx().is_empty());
    assert!(lns.ep.tunnel_is_established(t));
    assert_eq!(lns.ep.stats().malformed, 1);
    // ...and the Ns it carried is still expected: the real Hello is delivered.
    let d = peer.send(0, &hello());
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert!(replies.len() == 1 && replies[0].is_zlb() && replies[0].nr() == peer.ns);
    // An AVP past the end of a message in sequence clears the tunnel.
    let mut d = peer.send(0, &hello().with(Avp::FirmwareRevision(1)));
    let at = avp_at(&d, 6);
    set_avp_len(&mut d, at, 9);
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    assert_eq!(lns.ep.stats().malformed, 2);
    let replies = peer.take(&lns.tx());
    assert_stopccn(
        &lns,
        &replies,
        &peer,
        result::GENERAL_ERROR,
        Some(error::BAD_LENGTH),
    );
}

/// Case 4: an AVP with a reserved flag bit and M=1 is an unrecognized mandatory AVP (§4.1):
/// in a tunnel message, StopCCN Result 2 / Error 8; in a session message, CDN 2/8 for that
/// session only.
#[test]
fn case04_reserved_flag_bits_with_m_bit() {
    // Firmware Revision (type 6) with M=1 and a reserved bit.
    let reserved = avp_bytes(0x80 | 0x10, 0, 6, &[1, 0]);

    // In an SCCRQ: refused with StopCCN 2/8 to the peer's tunnel, never established.
    let mut lns = new_lns();
    let d = append(raw(0, 0, 0, 0, &sccrq(0x4444)), &reserved);
    assert_eq!(lns.feed(lac_addr(), &d), Ok(Got::Control));
    let replies = decode_all(&lns.tx());
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].kind(), Some(MessageType::StopCcn));
    assert_eq!(replies[0].hdr.tunnel_id, TunnelId(0x4444));
    assert_eq!(replies[0].nr(), 1, "the StopCCN acknowledges the SCCRQ");
    let rc = replies[0].result();
    assert_eq!(
        (rc.result, rc.error),
        (result::GENERAL_ERROR, Some(error::UNKNOWN_MANDATORY_AVP))
    );
    assert_eq!(
        lns.count(|e| matches!(e, Event::TunnelEstablished { .. })),
        0
    );

    // In a Hello (tunnel message): the whole tunnel goes.
    let (mut lns, mut peer, _, _) = up_with_two_sessions();
    let d = append(peer.send(0, &hello()), &reserved);
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_stopccn(
        &lns,
        &replies,
        &peer,
        result::GENERAL_ERROR,
        Some(error::UNKNOWN_MANDATORY_AVP),
    );
    assert_eq!(
        lns.count(|e| matches!(
            e,
            Event::SessionClosed {
                reason: CloseReason::TunnelClosed,
                ..
            }
        )),
        2
    );

    // In an ICRQ (session message): CDN 2/8 to that call only.
    let (mut lns, mut peer, t, [(a, _), (b, _)]) = up_with_two_sessions();
    let d = append(peer.send(0, &icrq(3)), &reserved);
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].kind(), Some(MessageType::Cdn));
    assert_eq!(replies[0].hdr.session_id, SessionId(3));
    let rc = replies[0].result();
    assert_eq!(
        (rc.result, rc.error),
        (result::CDN_ERROR, Some(error::UNKNOWN_MANDATORY_AVP))
    );
    assert!(lns.ep.tunnel_is_established(t));
    assert_eq!(lns.ep.session_count(), 2);
    assert!(lns.ep.session_is_established(a) && lns.ep.session_is_established(b));

    // In an ICCN of an existing session: that session gets the CDN, the other stays.
    let d = peer.send(0, &icrq(4));
    lns.feed(peer.addr, &d).unwrap();
    let replies = peer.take(&lns.tx());
    let lns_sid = replies[0]
        .msg
        .as_ref()
        .unwrap()
        .assigned_session_id()
        .unwrap()
        .0;
    assert_eq!(lns.ep.session_count(), 3);
    let d = append(peer.send(lns_sid, &iccn()), &reserved);
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].kind(), Some(MessageType::Cdn));
    assert_eq!(replies[0].hdr.session_id, SessionId(4));
    assert_eq!(
        replies[0].result().error,
        Some(error::UNKNOWN_MANDATORY_AVP)
    );
    assert_eq!(lns.ep.session_count(), 2);
    assert!(lns.ep.session_is_established(a) && lns.ep.session_is_established(b));
    assert!(lns.ep.tunnel_is_established(t));
}

/// Case 5: a hidden AVP with no preceding Random Vector, or H=1 with no secret configured, is
/// malformed: no tunnel from an SCCRQ, and a live tunnel is cleared. (That nothing is
/// decrypted is the codec's: `WireError::HiddenWithoutSecret` is returned before unhiding.)
#[test]
fn case05_hidden_avp_without_random_vector_or_secret() {
    // Assigned Session ID hidden (H=1, M=1), no Random Vector before it.
    let hidden = avp_bytes(0xc0, 0, ASSIGNED_SESSION_ID, &[0x12, 0x34, 0x56, 0x78]);

    // No secret configured.
    let mut lns = new_lns();
    let d = append(raw(0, 0, 0, 0, &sccrq(0x5555)), &hidden);
    let r = lns.feed(lac_addr(), &d);
    assert_eq!(r, Err(Error::Malformed(WireError::HiddenWithoutSecret)));
    assert_eq!(lns.ep.stats().malformed, 1);
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert!(lns.tx().is_empty());
    let (mut lns, mut peer, _, _) = up_with_two_sessions();
    let d = append(
        peer.send(
            0,
            &ControlMessage::new(MessageType::Icrq).with(Avp::CallSerialNumber(9)),
        ),
        &hidden,
    );
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    assert_eq!(lns.ep.stats().malformed, 1);
    let replies = peer.take(&lns.tx());
    assert_stopccn(
        &lns,
        &replies,
        &peer,
        result::GENERAL_ERROR,
        Some(error::BAD_LENGTH),
    );

    // A secret, but no Random Vector.
    let config = Config {
        secret: Some(b"s3cret".to_vec()),
        ..lns_config(5)
    };
    let mut lns = Lns::new(config.clone());
    let d = append(raw(0, 0, 0, 0, &sccrq(0x5556)), &hidden);
    assert_eq!(
        lns.feed(lac_addr(), &d),
        Err(Error::Malformed(WireError::HiddenWithoutRandomVector))
    );
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert!(lns.tx().is_empty());
    // A Random Vector *after* the hidden AVP does not count.
    let rv = avp_bytes(0x80, 0, 36, &[7; 16]);
    let d = append(append(raw(0, 0, 0, 0, &sccrq(0x5557)), &hidden), &rv);
    assert_eq!(
        lns.feed(lac_addr(), &d),
        Err(Error::Malformed(WireError::HiddenWithoutRandomVector))
    );
    let mut peer = Peer::new(lac_addr(), 0x5558);
    establish(&mut lns, &mut peer);
    let (_, _) = open_call(&mut lns, &mut peer, 1);
    let d = append(peer.send(0, &hello()), &hidden);
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_stopccn(
        &lns,
        &replies,
        &peer,
        result::GENERAL_ERROR,
        Some(error::BAD_LENGTH),
    );
    assert_eq!(lns.ep.stats().malformed, 3);
}

/// Case 6: a hidden AVP whose decrypted Original Length exceeds the hidden value length − 2
/// is rejected: no tunnel from an SCCRQ, a live tunnel is cleared, and a well-formed hidden
/// message right after is accepted (no state of the bad one leaks into later parsing).
#[test]
fn case06_hidden_avp_original_length_too_big() {
    let secret = b"s3cret".to_vec();
    let config = Config {
        secret: Some(secret.clone()),
        ..lns_config(6)
    };
    let rv = [9u8; 16];
    let hide = Some((&secret[..], &rv));
    // Cuts the last octet of the hidden value of AVP `kind`: Original Length (2) now exceeds
    // the 1 octet left after it.
    let cut = |mut d: Vec<u8>, kind: u16| {
        let (at, len, ..) = avps(&d)
            .into_iter()
            .find(|a| a.2 == 0 && a.3 == kind)
            .unwrap();
        assert_eq!(d[at] & 0x40, 0x40, "hidden");
        d.remove(at + len - 1);
        set_avp_len(&mut d, at, (len - 1) as u16);
        fix_length(&mut d);
        d
    };

    // An SCCRQ whose hidden Assigned Tunnel ID is cut.
    let mut lns = Lns::new(config.clone());
    let mut d = Vec::new();
    encode_control(
        TunnelId(0),
        SessionId(0),
        Seq16(0),
        Seq16(0),
        Some(&sccrq(0x6666)),
        hide,
        &mut d,
    );
    let d = cut(d, 9);
    let r = lns.feed(lac_addr(), &d);
    assert!(
        matches!(
            r,
            Err(Error::Malformed(WireError::HiddenLength {
                avp: 9,
                original: 2,
                available: 1
            }))
        ),
        "{r:?}"
    );
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert!(lns.tx().is_empty());

    // The same peer then sends a good hidden SCCRQ: accepted.
    let mut peer = Peer::new(lac_addr(), 0x6666);
    let mut d = Vec::new();
    encode_control(
        TunnelId(0),
        SessionId(0),
        Seq16(0),
        Seq16(0),
        Some(&sccrq(peer.tid)),
        hide,
        &mut d,
    );
    peer.ns = 1;
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_eq!(replies[0].kind(), Some(MessageType::Sccrp));
    peer.lns_tid = replies[0]
        .msg
        .as_ref()
        .unwrap()
        .assigned_tunnel_id()
        .unwrap()
        .0;
    let d = peer.send(0, &ControlMessage::new(MessageType::Scccn));
    lns.feed(peer.addr, &d).unwrap();
    peer.take(&lns.tx());
    assert_eq!(
        lns.count(|e| matches!(e, Event::TunnelEstablished { .. })),
        1
    );

    // In the tunnel: an ICRQ whose hidden Assigned Session ID is cut clears the tunnel.
    let mut d = Vec::new();
    encode_control(
        TunnelId(peer.lns_tid),
        SessionId(0),
        Seq16(peer.ns),
        Seq16(peer.nr),
        Some(&icrq(1)),
        hide,
        &mut d,
    );
    peer.ns += 1;
    let d = cut(d, ASSIGNED_SESSION_ID);
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_stopccn(
        &lns,
        &replies,
        &peer,
        result::GENERAL_ERROR,
        Some(error::BAD_LENGTH),
    );
    assert_eq!(lns.ep.stats().malformed, 2);
}

/// Case 7: first AVP not Message Type, Message Type hidden, or a body too short for it: no
/// tunnel is allocated (and nothing is sent); inside a tunnel, StopCCN Result 2 saying the
/// Message Type is missing.
#[test]
fn case07_first_avp_not_message_type() {
    let good = raw(0, 0, 0, 0, &sccrq(0x7777));
    let header = &good[..CONTROL_HEADER_LEN];
    let body = &good[CONTROL_HEADER_LEN..];
    let mt_len = 8;
    // Host Name first, then Message Type.
    let mut swapped = header.to_vec();
    swapped.extend_from_slice(&body[mt_len..]);
    swapped.extend_from_slice(&body[..mt_len]);
    // Message Type hidden.
    let mut hidden = good.clone();
    hidden[CONTROL_HEADER_LEN] |= 0x40;
    // Bodies of 1..=7 octets.
    let shorts: Vec<Vec<u8>> = (1..8)
        .map(|n| {
            let mut d = good[..CONTROL_HEADER_LEN + n].to_vec();
            fix_length(&mut d);
            d
        })
        .collect();

    let mut lns = new_lns();
    for d in [&swapped, &hidden].into_iter().chain(shorts.iter()) {
        let r = lns.feed(lac_addr(), d);
        assert!(matches!(r, Err(Error::UnknownTunnel(TunnelId(0)))), "{r:?}");
    }
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert!(lns.tx().is_empty());
    assert_eq!(lns.ep.stats().unknown_id, 2 + shorts.len() as u64);

    // Inside a tunnel each of them clears it with a StopCCN.
    for bad in [&swapped, &hidden, &shorts[3]] {
        let (mut lns, mut peer, _, _) = up_with_two_sessions();
        let mut d = bad.clone();
        d[4..6].copy_from_slice(&peer.lns_tid.to_be_bytes());
        d[8..10].copy_from_slice(&peer.ns.to_be_bytes());
        d[10..12].copy_from_slice(&peer.nr.to_be_bytes());
        peer.ns += 1;
        assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
        assert_eq!(lns.ep.stats().malformed, 1);
        let replies = peer.take(&lns.tx());
        assert_stopccn(
            &lns,
            &replies,
            &peer,
            result::GENERAL_ERROR,
            Some(error::BAD_LENGTH),
        );
        let stop = replies
            .iter()
            .find(|r| r.kind() == Some(MessageType::StopCcn))
            .unwrap();
        assert!(
            stop.result()
                .message
                .as_deref()
                .unwrap_or("")
                .contains("Message Type"),
            "{:?}",
            stop.result()
        );
    }
}

/// Case 8: an unknown Message Type with M=1 clears the tunnel (StopCCN 2/8, §4.4.1); with
/// M=0 it is ignored (acknowledged) and the tunnel stays up.
#[test]
fn case08_unknown_message_type() {
    let unknown = |m: bool| avp_bytes(if m { 0x80 } else { 0 }, 0, 0, &99u16.to_be_bytes());

    // M=0: ignored, acknowledged, the tunnel and sessions stay.
    let (mut lns, mut peer, t, [(a, _), (b, _)]) = up_with_two_sessions();
    let mut d = raw(peer.lns_tid, 0, peer.ns, peer.nr, &hello());
    d.truncate(CONTROL_HEADER_LEN);
    let d = append(
        append(d, &unknown(false)),
        &avp_bytes(0x80, 0, 7, b"whatever"),
    );
    peer.ns += 1;
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].is_zlb() && replies[0].nr() == peer.ns,
        "acknowledged: {replies:?}"
    );
    assert!(lns.ep.tunnel_is_established(t));
    assert!(lns.ep.session_is_established(a) && lns.ep.session_is_established(b));
    assert_eq!(lns.ep.stats().malformed, 0);
    assert!(lns.tunnel_closed().is_none());
    // The channel still works.
    let d = peer.send(0, &hello());
    lns.feed(peer.addr, &d).unwrap();
    assert!(peer.take(&lns.tx())[0].nr() == peer.ns);

    // M=1: the tunnel is cleared.
    let mut d = raw(peer.lns_tid, 0, peer.ns, peer.nr, &hello());
    d.truncate(CONTROL_HEADER_LEN);
    let d = append(d, &unknown(true));
    peer.ns += 1;
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_stopccn(
        &lns,
        &replies,
        &peer,
        result::GENERAL_ERROR,
        Some(error::UNKNOWN_MANDATORY_AVP),
    );
}

/// Case 9: an unknown vendor AVP with M=1 in an ICRQ gets that call a CDN (2/8) and leaves the
/// other sessions up; in a Hello it clears the tunnel (StopCCN 2/8); with M=0 it is ignored.
#[test]
fn case09_unknown_vendor_avp() {
    let (mut lns, mut peer, t, [(a, _), (b, _)]) = up_with_two_sessions();
    // M=1 in an ICRQ.
    let d = peer.send(0, &icrq(3).with(vendor_avp(true)));
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].kind(), Some(MessageType::Cdn));
    assert_eq!(replies[0].hdr.session_id, SessionId(3));
    let rc = replies[0].result();
    assert_eq!(
        (rc.result, rc.error),
        (result::CDN_ERROR, Some(error::UNKNOWN_MANDATORY_AVP))
    );
    assert_eq!(lns.ep.session_count(), 2);
    assert!(lns.ep.session_is_established(a) && lns.ep.session_is_established(b));
    // M=0 in an ICRQ: ignored, the call proceeds (ICRP).
    let d = peer.send(0, &icrq(5).with(vendor_avp(false)));
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_eq!(replies[0].kind(), Some(MessageType::Icrp));
    assert_eq!(lns.ep.session_count(), 3);
    // M=0 in a Hello: acknowledged.
    let d = peer.send(0, &hello().with(vendor_avp(false)));
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert!(replies
        .iter()
        .all(|r| r.kind() != Some(MessageType::StopCcn)));
    assert!(lns.ep.tunnel_is_established(t));
    // M=1 in a Hello: the tunnel goes.
    let d = peer.send(0, &hello().with(vendor_avp(true)));
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_stopccn(
        &lns,
        &replies,
        &peer,
        result::GENERAL_ERROR,
        Some(error::UNKNOWN_MANDATORY_AVP),
    );
    assert_eq!(lns.count(|e| matches!(e, Event::SessionClosed { .. })), 2);
}

/// Case 10: SCCRQ with Assigned Tunnel ID 0 gets StopCCN 2/3, ICRQ with Assigned Session ID 0
/// gets CDN 2/3; the IDs we assign are never 0.
#[test]
fn case10_assigned_id_zero() {
    let mut lns = new_lns();
    let d = raw(0, 0, 0, 0, &sccrq(0));
    assert_eq!(lns.feed(lac_addr(), &d), Ok(Got::Control));
    let replies = decode_all(&lns.tx());
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].kind(), Some(MessageType::StopCcn));
    assert_eq!(
        replies[0].hdr.tunnel_id,
        TunnelId(0),
        "the peer's tunnel is unknown"
    );
    let rc = replies[0].result();
    assert_eq!(
        (rc.result, rc.error),
        (result::GENERAL_ERROR, Some(error::OUT_OF_RANGE))
    );
    let ours = replies[0]
        .msg
        .as_ref()
        .unwrap()
        .assigned_tunnel_id()
        .unwrap();
    assert_ne!(ours, TunnelId(0));
    assert_eq!(
        lns.count(|e| matches!(e, Event::TunnelEstablished { .. })),
        0
    );

    let (mut lns, mut peer, t, _) = up_with_two_sessions();
    let d = peer.send(0, &icrq(0));
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].kind(), Some(MessageType::Cdn));
    let rc = replies[0].result();
    assert_eq!(
        (rc.result, rc.error),
        (result::CDN_ERROR, Some(error::OUT_OF_RANGE))
    );
    assert_eq!(lns.ep.session_count(), 2);
    assert!(lns.ep.tunnel_is_established(t));

    // Local IDs are never 0: many tunnels and sessions.
    let config = Config {
        max_half_open: 100_000,
        max_half_open_per_source: 100_000,
        ..lns_config(10)
    };
    let mut lns = Lns::new(config);
    let mut peer = Peer::new(lac_addr(), 1);
    for tid in 1..=500u16 {
        let d = raw(0, 0, 0, 0, &sccrq(tid));
        lns.feed(lac_addr(), &d).unwrap();
        for r in decode_all(&lns.tx()) {
            assert_ne!(r.msg.unwrap().assigned_tunnel_id(), Some(TunnelId(0)));
        }
    }
    peer.tid = 501;
    establish(&mut lns, &mut peer);
    for sid in 1..=500u16 {
        let d = peer.send(0, &icrq(sid));
        lns.feed(peer.addr, &d).unwrap();
        for r in peer.take(&lns.tx()) {
            if let Some(m) = r.msg {
                assert_ne!(m.assigned_session_id(), Some(SessionId(0)));
            }
        }
        let d = peer.zlb();
        lns.feed(peer.addr, &d).unwrap();
    }
    assert_eq!(lns.ep.session_count(), 500);
}

/// Case 11: an SCCRQ missing Host Name, Framing Capabilities or Protocol Version, or with a
/// short Framing Capabilities AVP, gets a StopCCN with Result 2 whose message names the AVP.
#[test]
fn case11_sccrq_missing_mandatory_avps() {
    let full = sccrq(0x1100);
    for (kind, name) in [
        (HOST_NAME, "HostName"),
        (FRAMING_CAPABILITIES, "FramingCapabilities"),
        (2, "ProtocolVersion"),
    ] {
        let mut lns = new_lns();
        let mut m = full.clone();
        m.avps.retain(|a| a.avp_type().value() != kind);
        let d = raw(0, 0, 0, 0, &m);
        assert_eq!(lns.feed(lac_addr(), &d), Ok(Got::Control));
        let replies = decode_all(&lns.tx());
        assert_eq!(replies.len(), 1, "{name}");
        assert_eq!(replies[0].kind(), Some(MessageType::StopCcn));
        assert_eq!(replies[0].hdr.tunnel_id, TunnelId(0x1100));
        assert_eq!(replies[0].nr(), 1, "acknowledges the SCCRQ");
        let rc = replies[0].result();
        assert_eq!(rc.result, result::GENERAL_ERROR);
        assert!(
            rc.message.as_deref().unwrap_or("").contains(name),
            "{name}: {rc:?}"
        );
        assert_eq!(
            lns.count(|e| matches!(e, Event::TunnelEstablished { .. })),
            0
        );
        // The refusal is delivered reliably, then forgotten.
        lns.run_for(60 * SECOND);
        assert_eq!(lns.ep.tunnel_count(), 0);
    }
    // Framing Capabilities of 3 octets.
    let mut lns = new_lns();
    let mut d = raw(0, 0, 0, 0, &full);
    let at = avp_at(&d, FRAMING_CAPABILITIES);
    d.remove(at + 6);
    set_avp_len(&mut d, at, 9);
    fix_length(&mut d);
    let r = lns.feed(lac_addr(), &d);
    assert!(
        matches!(r, Err(Error::Malformed(WireError::AvpValue { .. }))),
        "{r:?}"
    );
    let replies = decode_all(&lns.tx());
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].kind(), Some(MessageType::StopCcn));
    let rc = replies[0].result();
    assert_eq!(rc.result, result::GENERAL_ERROR);
    assert!(
        rc.message
            .as_deref()
            .unwrap_or("")
            .contains("FramingCapabilities"),
        "{rc:?}"
    );
}

/// Case 12: a StopCCN or CDN whose Result Code AVP is 8 octets (result only) is processed
/// normally and only acknowledged (§6.4, §6.12).
#[test]
fn case12_result_code_of_eight_bytes() {
    let (mut lns, mut peer, t, [(a, lns_sid_a), (b, _)]) = up_with_two_sessions();
    // CDN with Result 3 only.
    let d = peer.send(
        lns_sid_a,
        &cdn(1, ResultCode::new(result::ADMINISTRATIVE, None, None)),
    );
    let rc_at = avp_at(&d, 1);
    assert_eq!(
        avps(&d).iter().find(|x| x.0 == rc_at).unwrap().1,
        8,
        "an 8-octet Result Code AVP"
    );
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert!(
        replies.len() == 1 && replies[0].is_zlb(),
        "only an acknowledgement: {replies:?}"
    );
    assert!(lns.events.iter().any(|e| matches!(e,
        Event::SessionClosed { session, reason: CloseReason::Peer(r), .. }
            if *session == a && r.result == result::ADMINISTRATIVE && r.error.is_none())));
    assert_eq!(lns.ep.session_count(), 1);
    assert!(lns.ep.session_is_established(b));

    // StopCCN with Result 1 only.
    let d = peer.send(
        0,
        &stopccn(
            peer.tid,
            ResultCode::new(result::GENERAL_REQUEST, None, None),
        ),
    );
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
    let replies = peer.take(&lns.tx());
    assert!(
        replies.len() == 1 && replies[0].is_zlb(),
        "only an acknowledgement: {replies:?}"
    );
    assert!(
        matches!(lns.tunnel_closed(), Some(CloseReason::Peer(r)) if *r == ResultCode::new(1, None, None))
    );
    assert!(!lns.ep.tunnel_is_established(t));
    assert_eq!(lns.ep.session_count(), 0);
    assert_eq!(lns.ep.stats().malformed, 0);
}

/// Case 13: Ver=3, T=1 with L=0 or S=0, or a datagram shorter than a control header is
/// discarded silently and counted; nothing changes on a live tunnel.
#[test]
fn case13_bad_header_is_silently_discarded() {
    let (mut lns, peer, t, _) = up_with_two_sessions();
    let good = raw(peer.lns_tid, 0, peer.ns, peer.nr, &hello());
    let before = lns.ep.stats().clone();

    let mut v3 = good.clone();
    v3[1] = (v3[1] & 0xf0) | 3;
    assert_eq!(
        lns.feed(peer.addr, &v3),
        Err(Error::Malformed(WireError::Version(3)))
    );
    assert_eq!(lns.ep.stats().bad_version, before.bad_version + 1);

    let mut no_l = good.clone();
    no_l[0] &= !0x40;
    let mut no_s = good.clone();
    no_s[0] &= !0x08;
    for d in [no_l, no_s] {
        assert_eq!(
            lns.feed(peer.addr, &d),
            Err(Error::Malformed(WireError::ControlHeaderFlags))
        );
    }
    let mut shorts = 0;
    for n in 0..CONTROL_HEADER_LEN {
        let r = lns.feed(peer.addr, &good[..n]);
        assert!(matches!(r, Err(Error::Malformed(_))), "{n} octets: {r:?}");
        shorts += 1;
    }
    assert_eq!(lns.ep.stats().malformed, before.malformed + 2 + shorts);
    assert!(lns.tx().is_empty(), "no reply, no amplification");
    assert!(lns.ep.tunnel_is_established(t));
    assert_eq!(lns.ep.session_count(), 2);
    assert_eq!(lns.ep.stats().control_rx, before.control_rx);
    // The Ns was not consumed: the real Hello is delivered.
    lns.feed(peer.addr, &good).unwrap();
    assert_eq!(lns.ep.stats().control_rx, before.control_rx + 1);
}

// ----- L2TP reliable delivery and state ---------------------------------------------------

fn pair(seed: u64, lac: Config, lns: Config) -> Network<L2tpNode> {
    let mut net = Network::new(seed, LinkConfig::with_latency(Duration::from_millis(10)));
    net.add(addr(LAC), L2tpNode::new(lac));
    net.add(addr(LNS), L2tpNode::new(lns));
    net
}

/// Decodes a captured control datagram (None for data messages or garbage).
fn decode_captured(payload: &[u8]) -> Option<(Header, Option<ControlMessage>)> {
    let (h, r) = Header::parse(payload).ok()?;
    if !h.control {
        return None;
    }
    let body = &payload[r];
    Some((
        h,
        (!body.is_empty())
            .then(|| ControlMessage::parse(body, None).ok())
            .flatten(),
    ))
}

/// Case 14: every acknowledgement from the peer is lost: the same Ns is retransmitted after 1,
/// 2, 4, 8, 8 s with the current Nr, then (after 5 retries, configurable) the tunnel and all
/// its sessions are cleared with events and nothing more is sent.
#[test]
fn case14_every_ack_dropped() {
    let mut net = pair(14, lac_config(141), lns_config(142));
    let now = net.now();
    let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    for _ in 0..2 {
        net.node_mut(0)
            .ep
            .open_session(now, t, CallDirection::Incoming)
            .unwrap();
    }
    assert!(
        net.drive_until(10 * SECOND, |n| n.node(0).sessions_up() == 2
            && n.node(1).sessions_up() == 2)
    );
    net.run_for(2 * SECOND);
    // From now on nothing from the LNS reaches the LAC.
    net.set_filter(|d| {
        if d.src == addr(LNS) {
            sras_testkit::Verdict::Drop
        } else {
            sras_testkit::Verdict::Pass
        }
    });
    net.take_capture();
    let t0 = net.elapsed();
    let now = net.now();
    net.node_mut(0)
        .ep
        .open_session(now, t, CallDirection::Incoming)
        .unwrap();
    assert!(net.drive_until(60 * SECOND, |n| n
        .node(0)
        .count(|e| matches!(e, Event::TunnelClosed { .. }))
        == 1));
    let cleared = net.elapsed() - t0;
    // ICRQ sent at t0, retransmitted at +1, +3, +7, +15, +23; declared dead at +31.
    let icrqs: Vec<_> = net
        .capture()
        .iter()
        .filter(|c| c.src == addr(LAC))
        .filter_map(|c| decode_captured(&c.payload).map(|(h, m)| (c.time - t0, h, m)))
        .filter(|(_, _, m)| {
            m.as_ref()
                .is_some_and(|m| m.message_type == MessageType::Icrq)
        })
        .collect();
    let times: Vec<u64> = icrqs.iter().map(|(t, ..)| t.as_millis() as u64).collect();
    assert_eq!(
        times,
        vec![10, 1010, 3010, 7010, 15010, 23010],
        "sent +10 ms latency"
    );
    let intervals: Vec<u64> = times.windows(2).map(|w| (w[1] - w[0]) / 1000).collect();
    assert_eq!(intervals, vec![1, 2, 4, 8, 8]);
    let first = icrqs[0].1.sequence;
    assert!(
        icrqs.iter().all(|(_, h, _)| h.sequence == first),
        "same Ns and Nr every time"
    );
    assert_eq!(
        cleared.as_secs(),
        31,
        "cleared 8 s after the 5th retransmission"
    );
    let lac = net.node(0);
    assert!(matches!(
        lac.events.last(),
        Some(Event::TunnelClosed {
            reason: CloseReason::Timeout,
            ..
        })
    ));
    assert_eq!(
        lac.count(|e| matches!(
            e,
            Event::SessionClosed {
                reason: CloseReason::TunnelClosed,
                ..
            }
        )),
        3
    );
    assert_eq!(lac.ep.tunnel_count(), 0);
    assert_eq!(lac.ep.session_count(), 0);
    // Nothing is sent once the peer is declared unreachable (no StopCCN).
    let n = net.capture().len();
    net.run_for(60 * SECOND);
    assert!(net.capture()[n..].iter().all(|c| c.src != addr(LAC)));
    // The LNS, whose ICRP was never acknowledged either, gave up too.
    assert!(net.node(1).events.iter().any(|e| matches!(
        e,
        Event::TunnelClosed {
            reason: CloseReason::Timeout,
            ..
        }
    )));
    assert_eq!(net.node(1).ep.session_count(), 0);

    // Directly: the retransmission carries the *current* Nr, and max_retransmits is honoured.
    let config = Config {
        max_retransmits: 2,
        ..lns_config(143)
    };
    let mut lns = Lns::new(config);
    let mut peer = Peer::new(lac_addr(), 0x1414);
    establish(&mut lns, &mut peer);
    let d = peer.send(0, &icrq(1));
    lns.feed(peer.addr, &d).unwrap();
    let icrp = &peer.take(&lns.tx())[0];
    assert_eq!(icrp.kind(), Some(MessageType::Icrp));
    let (icrp_ns, icrp_nr) = (icrp.ns(), icrp.nr());
    let t1 = lns.elapsed();
    // The peer sends a Hello that does not acknowledge the ICRP (Nr stays behind).
    lns.run_for(Duration::from_millis(500));
    let d = raw(peer.lns_tid, 0, peer.ns, icrp_ns, &hello());
    peer.ns += 1;
    lns.feed(peer.addr, &d).unwrap();
    let replies = peer.take(&lns.tx());
    assert!(replies.len() == 1 && replies[0].is_zlb());
    let sent = lns.run_for(20 * SECOND);
    let resent: Vec<_> = sent
        .iter()
        .map(|(at, t)| (*at - t1, decode(t, None)))
        .collect();
    assert_eq!(resent.len(), 2, "max_retransmits = 2: {resent:?}");
    assert_eq!(resent[0].0, SECOND);
    assert_eq!(resent[1].0, 3 * SECOND);
    for (_, r) in &resent {
        assert_eq!(r.kind(), Some(MessageType::Icrp));
        assert_eq!(r.ns(), icrp_ns, "same Ns");
        assert_eq!(
            r.nr(),
            icrp_nr + 1,
            "the current Nr, acknowledging the Hello"
        );
    }
    assert!(matches!(lns.tunnel_closed(), Some(CloseReason::Timeout)));
    assert_eq!(
        lns.count(|e| matches!(e, Event::SessionClosed { .. })),
        0,
        "the call was never announced"
    );
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert_eq!(lns.ep.stats().retransmits, 2);
}

/// Case 15: a replayed control message (same Ns) is not processed again — no second session or
/// tunnel — but is acknowledged with a ZLB; an answer still unacknowledged is resent by the
/// retransmission timer only, once.
#[test]
fn case15_replayed_message_is_acked_not_reprocessed() {
    let mut lns = new_lns();
    let mut peer = Peer::new(lac_addr(), 0x1515);
    establish(&mut lns, &mut peer);
    let d = peer.send(0, &icrq(1));
    lns.feed(peer.addr, &d).unwrap();
    let first = peer.take(&lns.tx());
    assert_eq!(first[0].kind(), Some(MessageType::Icrp));
    let control_rx = lns.ep.stats().control_rx;
    // Replayed before we acknowledged the ICRP: acknowledged with a ZLB; the ICRP itself is
    // the retransmission timer's to resend, once.
    lns.feed(peer.addr, &d).unwrap();
    let again = decode_all(&lns.tx());
    assert!(
        again.len() == 1 && again[0].is_zlb() && again[0].nr() == peer.ns,
        "{again:?}"
    );
    assert_eq!(lns.ep.session_count(), 1);
    let resent = lns.run_for(Duration::from_millis(1500));
    assert_eq!(resent.len(), 1);
    let r = decode(&resent[0].1, None);
    assert_eq!((r.kind(), r.ns()), (Some(MessageType::Icrp), first[0].ns()));
    // Acknowledged, then replayed: a ZLB.
    lns.feed(peer.addr, &peer.zlb()).unwrap();
    assert!(lns.tx().is_empty());
    for _ in 0..3 {
        lns.feed(peer.addr, &d).unwrap();
        let z = decode_all(&lns.tx());
        assert!(
            z.len() == 1 && z[0].is_zlb() && z[0].nr() == peer.ns,
            "{z:?}"
        );
    }
    assert_eq!(lns.ep.session_count(), 1);
    assert_eq!(lns.ep.stats().duplicates, 4);
    assert_eq!(lns.ep.stats().control_rx, control_rx);
    // A replayed SCCRQ and SCCCN: no second tunnel.
    let d = raw(0, 0, 0, 0, &sccrq(peer.tid));
    lns.feed(peer.addr, &d).unwrap();
    let z = decode_all(&lns.tx());
    assert!(z.len() == 1 && z[0].is_zlb(), "{z:?}");
    let d = raw(
        peer.lns_tid,
        0,
        1,
        1,
        &ControlMessage::new(MessageType::Scccn),
    );
    lns.feed(peer.addr, &d).unwrap();
    assert!(decode_all(&lns.tx())[0].is_zlb());
    assert_eq!(lns.ep.tunnel_count(), 1);
    assert_eq!(
        lns.count(|e| matches!(e, Event::TunnelEstablished { .. })),
        1
    );
    assert_eq!(lns.ep.stats().duplicates, 6);
}

/// Case 16: Ns = expected+1 delivered before expected (within the window) is held, then both
/// are processed in order; the state is the one in-order delivery gives.
#[test]
fn case16_reordered_within_window() {
    let run = |reorder: bool| {
        let mut lns = new_lns();
        let mut peer = Peer::new(lac_addr(), 0x1616);
        establish(&mut lns, &mut peer);
        let first = peer.send(0, &icrq(1));
        let second = peer.send(0, &icrq(2));
        let mut out = Vec::new();
        if reorder {
            assert_eq!(lns.feed(peer.addr, &second), Ok(Got::Control));
            assert!(lns.tx().is_empty(), "held, not processed");
            assert_eq!(lns.ep.session_count(), 0);
            // Held once, even if it comes again.
            assert_eq!(lns.feed(peer.addr, &second), Ok(Got::Control));
            assert!(lns.tx().is_empty());
            assert_eq!(lns.feed(peer.addr, &first), Ok(Got::Control));
            out.extend(peer.take(&lns.tx()));
        } else {
            for d in [&first, &second] {
                assert_eq!(lns.feed(peer.addr, d), Ok(Got::Control));
                out.extend(peer.take(&lns.tx()));
            }
        }
        let replies: Vec<_> = out
            .into_iter()
            .filter_map(|r| {
                let (sid, ns) = (r.hdr.session_id, r.ns());
                r.msg.map(|m| (sid, ns, m))
            })
            .collect();
        let sessions: Vec<_> = lns.events.iter().map(|e| format!("{e:?}")).collect();
        (
            replies,
            lns.ep.session_count(),
            lns.ep.stats().control_rx,
            lns.ep.stats().out_of_window,
            sessions,
        )
    };
    let in_order = run(false);
    let reordered = run(true);
    assert_eq!(in_order.1, 2);
    assert_eq!(in_order.0.len(), 2);
    assert_eq!(
        in_order.0[0].0,
        SessionId(1),
        "ICRP for the first call first"
    );
    assert_eq!(in_order, reordered);
}

/// Case 17: Ns far beyond the window (or too far behind to be a retransmission), or an Nr
/// acknowledging a message never sent, is dropped and counted; the retransmission queue and
/// the expected Ns are untouched.
#[test]
fn case17_out_of_window_and_bogus_nr() {
    let mut lns = new_lns();
    let mut peer = Peer::new(lac_addr(), 0x1717);
    establish(&mut lns, &mut peer);
    let d = peer.send(0, &icrq(1));
    lns.feed(peer.addr, &d).unwrap();
    let icrp = peer.take(&lns.tx()).remove(0);
    assert_eq!(icrp.kind(), Some(MessageType::Icrp));
    let deadline = lns.ep.poll_timeout();
    let t1 = lns.elapsed();

    // Ns at the edge of our window (8) and far beyond; an Nr for messages never sent.
    let window = lns.ep.config().receive_window;
    let mut cases = vec![
        raw(peer.lns_tid, 0, peer.ns + window, peer.nr, &icrq(2)),
        raw(
            peer.lns_tid,
            0,
            peer.ns.wrapping_add(30_000),
            peer.nr,
            &icrq(2),
        ),
        raw(peer.lns_tid, 0, peer.ns, peer.nr + 5, &icrq(2)),
        // Beyond the window *and* acknowledging the ICRP: the ack must not be taken either.
        raw(peer.lns_tid, 0, peer.ns + 100, peer.nr, &hello()),
    ];
    // Far *behind* (not a plausible retransmission) while acknowledging the ICRP.
    cases.push(raw(
        peer.lns_tid,
        0,
        peer.ns.wrapping_add(40_000),
        peer.nr,
        &hello(),
    ));
    // A ZLB whose Nr acknowledges messages never sent.
    let mut bogus_zlb = peer.zlb();
    bogus_zlb[10..12].copy_from_slice(&(peer.nr + 3).to_be_bytes());
    cases.push(bogus_zlb);
    for (i, d) in cases.iter().enumerate() {
        assert_eq!(lns.feed(peer.addr, d), Err(Error::OutOfWindow), "case {i}");
    }
    assert_eq!(lns.ep.stats().out_of_window, cases.len() as u64);
    assert!(lns.tx().is_empty(), "dropped without reply");
    assert_eq!(lns.ep.session_count(), 1);
    assert_eq!(
        lns.ep.poll_timeout(),
        deadline,
        "retransmission timer untouched"
    );
    // The ICRP is still in flight: retransmitted on schedule.
    let sent = lns.run_to(t1 + Duration::from_millis(1500));
    assert_eq!(sent.len(), 1);
    let r = decode(&sent[0].1, None);
    assert_eq!((r.kind(), r.ns()), (Some(MessageType::Icrp), icrp.ns()));
    // The expected Ns is unchanged: the real next message is delivered, nothing was held.
    let d = peer.send(0, &icrq(2));
    lns.feed(peer.addr, &d).unwrap();
    assert_eq!(lns.ep.session_count(), 2);
    let replies = peer.take(&lns.tx());
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.kind() == Some(MessageType::Icrp))
            .count(),
        1
    );
}

/// Case 18: Ns wraps from 65535 to 0 without false duplicates or stalls. Our own Ns cannot be
/// started at 65530 through the public API (the channel-level test `wraparound_from_65530` in
/// reliable.rs starts both sides there); here the peer starts at 65530 and exchanges 20
/// messages each way, then the LNS's own Ns is wrapped by 65 536 exchanges.
#[test]
fn case18_ns_wraparound() {
    let mut lns = new_lns();
    let mut peer = Peer::new(lac_addr(), 0x1818);
    peer.ns = 65530;
    establish(&mut lns, &mut peer);
    for i in 0..20u16 {
        let d = peer.send(0, &icrq(100 + i));
        assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
        let replies = peer.take(&lns.tx());
        assert_eq!(replies.len(), 1, "message {i}: {replies:?}");
        assert_eq!(replies[0].kind(), Some(MessageType::Icrp));
        assert_eq!(replies[0].nr(), peer.ns, "acknowledges across the wrap");
    }
    assert_eq!(peer.ns, 65530u16.wrapping_add(22));
    assert_eq!(lns.ep.session_count(), 20);
    let s = lns.ep.stats();
    assert_eq!((s.duplicates, s.out_of_window), (0, 0));

    // The LNS's own Ns: each ICRQ with Assigned Session ID 0 costs one CDN and no state.
    let mut d = raw(peer.lns_tid, 0, 0, 0, &icrq(0));
    let mut wrapped = false;
    for i in 0..65_540u32 {
        d[8..10].copy_from_slice(&peer.ns.to_be_bytes());
        d[10..12].copy_from_slice(&peer.nr.to_be_bytes());
        peer.ns = peer.ns.wrapping_add(1);
        lns.feed(peer.addr, &d).unwrap();
        let t = lns.ep.poll_transmit().expect("a CDN");
        assert!(lns.ep.poll_transmit().is_none());
        let cdn_ns = u16::from_be_bytes([t.payload[8], t.payload[9]]);
        let cdn_nr = u16::from_be_bytes([t.payload[10], t.payload[11]]);
        assert_eq!((cdn_ns, cdn_nr), (peer.nr, peer.ns), "exchange {i}");
        wrapped |= cdn_ns == 0;
        peer.nr = peer.nr.wrapping_add(1);
    }
    assert!(wrapped, "the LNS's Ns went through 65535 to 0");
    // Everything acknowledged: nothing left to retransmit.
    lns.feed(peer.addr, &peer.zlb()).unwrap();
    let s = lns.ep.stats();
    assert_eq!((s.duplicates, s.out_of_window, s.retransmits), (0, 0, 0));
    assert!(lns.run_for(10 * SECOND).is_empty());
}

/// Case 19: the peer's Receive Window Size bounds what we have outstanding: RWS=1 one message,
/// no RWS four, RWS 16 sixteen; RWS=0 is refused (StopCCN 2/3).
#[test]
fn case19_peer_receive_window() {
    let outstanding = |rws: Option<u16>| {
        let mut lns = new_lns();
        let mut peer = Peer::new(lac_addr(), 0x1919);
        let mut m = sccrq(peer.tid);
        if let Some(w) = rws {
            m = m.with(Avp::ReceiveWindowSize(w));
        }
        let d = peer.send(0, &m);
        lns.feed(peer.addr, &d).unwrap();
        let sccrp = peer.take(&lns.tx()).remove(0);
        peer.lns_tid = sccrp.msg.unwrap().assigned_tunnel_id().unwrap().0;
        let d = peer.send(0, &ControlMessage::new(MessageType::Scccn));
        lns.feed(peer.addr, &d).unwrap();
        peer.take(&lns.tx());
        // 20 ICRQs (8 at a time: our own window), none of the ICRPs acknowledged.
        let mut seen = Vec::new();
        for sid in 1..=20 {
            let d = raw(peer.lns_tid, 0, peer.ns, peer.nr, &icrq(sid));
            peer.ns += 1;
            lns.feed(peer.addr, &d).unwrap();
            seen.extend(
                decode_all(&lns.tx())
                    .into_iter()
                    .filter(|r| !r.is_zlb())
                    .map(|r| r.ns()),
            );
        }
        let first = seen.len();
        // Retransmission re-sends only what is in flight.
        let re = lns.run_for(Duration::from_millis(1100));
        assert_eq!(re.len(), first, "retransmits what is outstanding");
        // Acknowledging one releases one.
        let first_ns = seen[0];
        let d = raw(peer.lns_tid, 0, peer.ns, first_ns.wrapping_add(1), &hello());
        peer.ns += 1;
        lns.feed(peer.addr, &d).unwrap();
        let released = decode_all(&lns.tx())
            .into_iter()
            .filter(|r| !r.is_zlb())
            .count();
        assert_eq!(lns.ep.session_count(), 20);
        (first, released)
    };
    assert_eq!(outstanding(Some(1)), (1, 1));
    assert_eq!(outstanding(None), (4, 1));
    assert_eq!(outstanding(Some(4)), (4, 1));
    assert_eq!(outstanding(Some(16)), (16, 1));

    let mut lns = new_lns();
    let d = raw(0, 0, 0, 0, &sccrq(0x1920).with(Avp::ReceiveWindowSize(0)));
    lns.feed(lac_addr(), &d).unwrap();
    let replies = decode_all(&lns.tx());
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].kind(), Some(MessageType::StopCcn));
    let rc = replies[0].result();
    assert_eq!(
        (rc.result, rc.error),
        (result::GENERAL_ERROR, Some(error::OUT_OF_RANGE))
    );
    assert_eq!(
        lns.count(|e| matches!(e, Event::TunnelEstablished { .. })),
        0
    );
}

/// Case 20: after a clean StopCCN the peer's retransmitted StopCCN (2 s later) is acknowledged
/// from retained state; the Tunnel ID stays taken for the retention interval, then is freed.
#[test]
fn case20_stopccn_retransmit_acked_from_retained_state() {
    let config = Config {
        max_half_open: 5000,
        max_half_open_per_source: 5000,
        ..lns_config(20)
    };
    let mut lns = Lns::new(config);
    let mut peer = Peer::new(lac_addr(), 0x2020);
    let t = establish(&mut lns, &mut peer);
    open_call(&mut lns, &mut peer, 1);
    let closed_at = lns.elapsed();
    let stop = peer.send(
        0,
        &stopccn(
            peer.tid,
            ResultCode::new(result::GENERAL_REQUEST, None, None),
        ),
    );
    lns.feed(peer.addr, &stop).unwrap();
    let z = peer.take(&lns.tx());
    assert!(z.len() == 1 && z[0].is_zlb() && z[0].nr() == peer.ns);
    assert!(matches!(lns.tunnel_closed(), Some(CloseReason::Peer(_))));
    assert_eq!(lns.ep.session_count(), 0);
    assert_eq!(lns.ep.tunnel_count(), 1, "retained");

    // 2 s later the peer (whose ack was lost) retransmits its StopCCN: acknowledged again.
    lns.run_for(2 * SECOND);
    assert_eq!(lns.feed(peer.addr, &stop), Ok(Got::Control));
    let z = decode_all(&lns.tx());
    assert!(
        z.len() == 1 && z[0].is_zlb() && z[0].nr() == peer.ns,
        "{z:?}"
    );
    assert_eq!(lns.ep.stats().duplicates, 1);
    assert_eq!(
        lns.count(|e| matches!(e, Event::TunnelClosed { .. })),
        1,
        "closed once"
    );

    // While retained, new tunnels never get its ID.
    for tid in 1..=2000u16 {
        let d = raw(0, 0, 0, 0, &sccrq(tid));
        lns.feed(addr("198.51.100.1:1701"), &d).unwrap();
        for r in decode_all(&lns.tx()) {
            assert_ne!(
                r.msg.unwrap().assigned_tunnel_id(),
                Some(TunnelId(peer.lns_tid))
            );
        }
    }
    // Still retained just before the end of the retention interval (31 s)...
    let retention = lns.ep.config().retention;
    lns.run_to(closed_at + retention - Duration::from_millis(100));
    assert!(lns.ep.tunnel_ids(t).is_some());
    assert_eq!(lns.feed(peer.addr, &stop), Ok(Got::Control));
    lns.tx();
    // ...and gone after it.
    lns.run_to(closed_at + retention + SECOND);
    assert!(lns.ep.tunnel_ids(t).is_none());
    assert_eq!(
        lns.feed(peer.addr, &stop),
        Err(Error::UnknownTunnel(TunnelId(peer.lns_tid)))
    );
}

/// Case 21: a silent peer gets a Hello after the keepalive period; the Hello unacknowledged
/// after the retry budget takes the tunnel down with its sessions (events for each). Junk
/// from the peer's address that the channel rejects does not count as a sign of life.
#[test]
fn case21_silent_peer_hello_timeout() {
    let lac = Config {
        hello_interval: None,
        ..lac_config(211)
    };
    let mut net = pair(21, lac, lns_config(212));
    let now = net.now();
    let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    for _ in 0..2 {
        net.node_mut(0)
            .ep
            .open_session(now, t, CallDirection::Incoming)
            .unwrap();
    }
    assert!(net.drive_until(10 * SECOND, |n| n.node(1).sessions_up() == 2));
    net.run_for(SECOND);
    // An idle but live peer: Hellos every 60 s, acknowledged, the tunnel stays.
    net.take_capture();
    net.run_for(200 * SECOND);
    let hellos = net
        .capture()
        .iter()
        .filter(|c| c.src == addr(LNS))
        .filter_map(|c| decode_captured(&c.payload))
        .filter(|(_, m)| {
            m.as_ref()
                .is_some_and(|m| m.message_type == MessageType::Hello)
        })
        .count();
    assert_eq!(hellos, 3);
    assert_eq!(
        net.node(1)
            .count(|e| matches!(e, Event::TunnelClosed { .. })),
        0
    );

    // The peer goes silent.
    net.set_filter(|d| {
        if d.src == addr(LAC) {
            sras_testkit::Verdict::Drop
        } else {
            sras_testkit::Verdict::Pass
        }
    });
    let last_rx = net
        .capture()
        .iter()
        .filter(|c| c.src == addr(LAC))
        .map(|c| c.time)
        .max()
        .unwrap();
    net.take_capture();
    assert!(net.drive_until(200 * SECOND, |n| n
        .node(1)
        .count(|e| matches!(e, Event::TunnelClosed { .. }))
        == 1));
    let down = net.elapsed();
    let hello_times: Vec<Duration> = net
        .capture()
        .iter()
        .filter(|c| c.src == addr(LNS))
        .filter(|c| {
            decode_captured(&c.payload)
                .is_some_and(|(_, m)| m.is_some_and(|m| m.message_type == MessageType::Hello))
        })
        .map(|c| c.time - Duration::from_millis(10))
        .collect();
    assert_eq!(
        hello_times.len(),
        6,
        "one Hello and 5 retransmissions: {hello_times:?}"
    );
    assert_eq!(
        hello_times[0],
        last_rx + 60 * SECOND,
        "keepalive after 60 s of silence"
    );
    let offsets: Vec<u64> = hello_times
        .iter()
        .map(|t| (*t - hello_times[0]).as_secs())
        .collect();
    assert_eq!(offsets, vec![0, 1, 3, 7, 15, 23]);
    assert_eq!((down - hello_times[0]).as_secs(), 31);
    let lns = net.node(1);
    assert!(lns.events.iter().any(|e| matches!(
        e,
        Event::TunnelClosed {
            reason: CloseReason::Timeout,
            ..
        }
    )));
    assert_eq!(
        lns.count(|e| matches!(
            e,
            Event::SessionClosed {
                reason: CloseReason::TunnelClosed,
                ..
            }
        )),
        2
    );
    assert_eq!(lns.ep.session_count(), 0);
    assert_eq!(lns.ep.tunnel_count(), 0);

    // Directly: junk from the peer's address (out of window) is not a sign of life: the Hello
    // still goes out 60 s after the last valid message, and the silent peer is still cleared.
    let mut lns = new_lns();
    let mut peer = Peer::new(lac_addr(), 0x2121);
    establish(&mut lns, &mut peer);
    let last_valid = lns.elapsed();
    let mut sent = Vec::new();
    for _ in 0..12 {
        sent.extend(lns.run_for(10 * SECOND));
        let junk = raw(
            peer.lns_tid,
            0,
            peer.ns.wrapping_add(500),
            peer.nr,
            &hello(),
        );
        let expect = match lns.tunnel_closed() {
            None => Err(Error::OutOfWindow),
            Some(_) => Err(Error::UnknownTunnel(TunnelId(peer.lns_tid))),
        };
        assert_eq!(lns.feed(peer.addr, &junk), expect);
        sent.extend(lns.tx().into_iter().map(|t| (lns.elapsed(), t)));
    }
    let hellos: Vec<Duration> = sent
        .iter()
        .filter(|(_, t)| decode(t, None).kind() == Some(MessageType::Hello))
        .map(|(at, _)| *at - last_valid)
        .collect();
    assert_eq!(hellos.first(), Some(&(60 * SECOND)), "{hellos:?}");
    assert!(
        matches!(lns.tunnel_closed(), Some(CloseReason::Timeout)),
        "{:?}",
        lns.events
    );
}

/// The Tie Breaker value of a captured SCCRQ.
fn tie_breaker_of(payload: &[u8]) -> Option<u64> {
    decode_captured(payload)?
        .1
        .filter(|m| m.message_type == MessageType::Sccrq)?
        .tie_breaker()
}

/// Case 22: simultaneous SCCRQs with Tie Breakers: the lower value wins and the loser
/// silently discards its tunnel; equal values make both discard.
#[test]
fn case22_simultaneous_sccrq_tie_breaker() {
    let a_addr = addr(LAC);
    let b_addr = addr(LNS);
    let node = |seed| Config {
        tie_breaker: true,
        accept_tunnels: true,
        ..lns_config(seed)
    };
    for seed in [1u8, 2, 3, 4] {
        let mut net = pair(22, node(seed), node(seed + 100));
        let now = net.now();
        let ta = net.node_mut(0).ep.connect(now, b_addr).unwrap();
        let tb = net.node_mut(1).ep.connect(now, a_addr).unwrap();
        net.run_for(10 * SECOND);
        let tbs: Vec<(SocketAddr, u64)> = net
            .capture()
            .iter()
            .filter_map(|c| tie_breaker_of(&c.payload).map(|v| (c.src, v)))
            .collect();
        assert_eq!(tbs.len(), 2, "one SCCRQ each, never retransmitted: {tbs:?}");
        let va = tbs.iter().find(|x| x.0 == a_addr).unwrap().1;
        let vb = tbs.iter().find(|x| x.0 == b_addr).unwrap().1;
        assert_ne!(va, vb);
        let (winner, w_handle, loser, l_handle) = if va < vb {
            (0, ta, 1, tb)
        } else {
            (1, tb, 0, ta)
        };
        assert!(
            net.node(winner).ep.tunnel_is_established(w_handle),
            "seed {seed}"
        );
        assert!(net.node(loser).events.iter().any(|e| matches!(e,
            Event::TunnelClosed { tunnel, reason: CloseReason::TieBreakerLost } if *tunnel == l_handle)));
        assert!(
            net.node(loser).ep.tunnel_ids(l_handle).is_none(),
            "discarded"
        );
        for i in [0, 1] {
            assert_eq!(net.node(i).tunnels_up(), 1);
            assert_eq!(net.node(i).ep.tunnel_count(), 1);
        }
        // Silently: no StopCCN anywhere.
        assert!(net.capture().iter().all(|c| decode_captured(&c.payload)
            .and_then(|(_, m)| m)
            .is_none_or(|m| m.message_type != MessageType::StopCcn)));
    }

    // Equal values: both discard. The same RNG seed on both sides draws the same Tie Breaker.
    let mut net = pair(22, node(5), node(5));
    let now = net.now();
    net.node_mut(0).ep.connect(now, b_addr).unwrap();
    net.node_mut(1).ep.connect(now, a_addr).unwrap();
    net.run_for(60 * SECOND);
    for i in [0, 1] {
        assert_eq!(net.node(i).tunnels_up(), 0);
        assert_eq!(net.node(i).ep.tunnel_count(), 0);
        assert!(net.node(i).events.iter().any(|e| matches!(
            e,
            Event::TunnelClosed {
                reason: CloseReason::TieBreakerLost,
                ..
            }
        )));
    }
    let tbs: Vec<u64> = net
        .capture()
        .iter()
        .filter_map(|c| tie_breaker_of(&c.payload))
        .collect();
    assert!(tbs.len() == 2 && tbs[0] == tbs[1], "{tbs:?}");
    assert_eq!(
        net.capture().len(),
        2,
        "only the two SCCRQs, nothing in reply"
    );
}

// ----- flooding, spoofing and collisions --------------------------------------------------

/// A tiny deterministic generator for spoofed addresses and IDs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Case 23: 10 000 SCCRQs in one second from random spoofed sources and tunnel IDs: half-open
/// tunnels stay within the global and per-source caps (also for SCCRQs that are refused), the
/// replies are bounded, and an established tunnel keeps passing data and Hellos.
#[test]
fn case23_sccrq_flood() {
    const MAX_HALF_OPEN: usize = 256;
    const PER_SOURCE: usize = 8;
    let lns = Config {
        max_half_open: MAX_HALF_OPEN,
        max_half_open_per_source: PER_SOURCE,
        ..lns_config(231)
    };
    let lac = Config {
        hello_interval: None,
        ..lac_config(232)
    };
    let mut net = pair(23, lac, lns);
    // Count what the LNS sends to anyone but the real LAC.
    let to_spoofed = Rc::new(Cell::new(0u64));
    let to_one_source = Rc::new(Cell::new(0u64));
    let single = addr("203.0.113.77:1701").ip();
    {
        let (spoofed, one) = (to_spoofed.clone(), to_one_source.clone());
        net.set_filter(move |d| {
            if d.src == addr(LNS) && d.dst != addr(LAC) {
                spoofed.set(spoofed.get() + 1);
                if d.dst.ip() == single {
                    one.set(one.get() + 1);
                }
            }
            sras_testkit::Verdict::Pass
        });
    }
    let now = net.now();
    let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    net.node_mut(0)
        .ep
        .open_session(now, t, CallDirection::Incoming)
        .unwrap();
    assert!(
        net.drive_until(10 * SECOND, |n| n.node(0).sessions_up() == 1
            && n.node(1).sessions_up() == 1)
    );
    let lac_s = net.node(0).established_sessions()[0];
    let lns_s = net.node(1).established_sessions()[0];
    net.set_capture(false);

    let mut rng = XorShift(0x2323_2323);
    let mut max_tunnels = 0;
    let mut delivered_up = 0;
    for i in 0..10_000u32 {
        let r = rng.next();
        let src = match i % 10 {
            // Every tenth from one source, with a new tunnel ID each time.
            0 => SocketAddr::new(single, 1024 + (r as u16 % 60_000)),
            _ => SocketAddr::from((
                [10, (r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8],
                (r >> 32) as u16,
            )),
        };
        let tid = (r >> 48) as u16 | 1;
        // A third are refused (no Host Name): their StopCCN state must count as half-open too.
        let mut m = sccrq(tid);
        if i % 3 == 1 {
            m.avps.retain(|a| !matches!(a, Avp::HostName(_)));
        }
        net.inject(src, addr(LNS), raw(0, 0, 0, 0, &m));
        if i % 100 == 0 {
            // Data keeps flowing both ways during the flood.
            let (to, d) = encap(&mut net.node_mut(0).ep, lac_s, b"up");
            net.inject(addr(LAC), to, d);
            let (to, d) = encap(&mut net.node_mut(1).ep, lns_s, b"down");
            net.inject(addr(LNS), to, d);
            delivered_up += 1;
        }
        net.run_for(Duration::from_micros(100));
        max_tunnels = max_tunnels.max(net.node(1).ep.tunnel_count());
    }
    net.run_for(SECOND);
    let lns = net.node(1);
    assert!(
        max_tunnels <= 1 + MAX_HALF_OPEN,
        "{max_tunnels} tunnels held"
    );
    assert!(
        lns.ep.stats().limited >= 10_000 - MAX_HALF_OPEN as u64,
        "{:?}",
        lns.ep.stats()
    );
    // At most one reply and 5 retransmissions for each half-open tunnel ever admitted.
    assert!(
        to_spoofed.get() <= (MAX_HALF_OPEN * 6) as u64,
        "{} replies to spoofed sources",
        to_spoofed.get()
    );
    assert!(
        to_one_source.get() <= (PER_SOURCE * 6) as u64,
        "{} replies to one source",
        to_one_source.get()
    );
    assert_eq!(net.node(1).data.len(), delivered_up);
    assert_eq!(net.node(0).data.len(), delivered_up);
    assert!(net.node(1).ep.session_is_established(lns_s));

    // The half-open state expires; the established tunnel stays, with Hellos, for minutes.
    net.set_capture(true);
    net.run_for(150 * SECOND);
    let lns = net.node(1);
    assert_eq!(
        lns.ep.tunnel_count(),
        1,
        "only the established tunnel is left"
    );
    assert!(lns.ep.session_is_established(lns_s));
    let hellos = net
        .capture()
        .iter()
        .filter(|c| c.src == addr(LNS) && c.dst == addr(LAC))
        .filter(|c| {
            decode_captured(&c.payload)
                .is_some_and(|(_, m)| m.is_some_and(|m| m.message_type == MessageType::Hello))
        })
        .count();
    assert_eq!(hellos, 2, "Hellos at 60 s and 120 s, acknowledged");
    assert_eq!(
        net.node(1)
            .count(|e| matches!(e, Event::TunnelClosed { .. })),
        0
    );
    assert_eq!(
        net.node(0)
            .count(|e| matches!(e, Event::TunnelClosed { .. })),
        0
    );
    // New tunnels are admitted again.
    let now = net.now();
    net.add(addr("192.0.2.20:1701"), L2tpNode::new(lac_config(233)));
    net.node_mut(2).ep.connect(now, addr(LNS)).unwrap();
    assert!(net.drive_until(10 * SECOND, |n| n.node(2).tunnels_up() == 1));

    // Directly: 1000 SCCRQs from one address, each refused (no Host Name) or not, leave at
    // most the per-source cap of state and replies.
    for refused in [false, true] {
        let mut lns = new_lns();
        let per_source = lns.ep.config().max_half_open_per_source;
        let mut replies = 0;
        for i in 0..1000u16 {
            let mut m = sccrq(i + 1);
            if refused {
                m.avps.retain(|a| !matches!(a, Avp::HostName(_)));
            }
            let r = lns.feed(SocketAddr::new(single, 2000 + i), &raw(0, 0, 0, 0, &m));
            if i as usize >= per_source {
                assert_eq!(r, Err(Error::LimitReached("half-open tunnels")));
            }
            replies += lns.tx().len();
        }
        assert_eq!(lns.ep.tunnel_count(), per_source, "refused: {refused}");
        assert_eq!(replies, per_source);
        assert_eq!(lns.ep.stats().limited, 1000 - per_source as u64);
        // All expire; then the source may try again.
        lns.run_for(100 * SECOND);
        assert_eq!(lns.ep.tunnel_count(), 0);
        assert_eq!(
            lns.feed(
                SocketAddr::new(single, 1999),
                &raw(0, 0, 0, 0, &sccrq(4242))
            ),
            Ok(Got::Control)
        );
    }
}

/// Case 24: the LAC retransmits an identical SCCRQ (its SCCRP was lost): it maps to the
/// existing half-open tunnel, the same SCCRP is sent again, and no second tunnel appears.
#[test]
fn case24_retransmitted_sccrq_maps_to_existing_tunnel() {
    // Directly: the copy is acknowledged, and the one SCCRP is retransmitted once, unchanged.
    let mut lns = new_lns();
    let d = raw(0, 0, 0, 0, &sccrq(0x2424));
    lns.feed(lac_addr(), &d).unwrap();
    let first = lns.tx();
    assert_eq!(first.len(), 1);
    lns.run_for(Duration::from_millis(500));
    lns.feed(lac_addr(), &d).unwrap();
    let ack = decode_all(&lns.tx());
    assert!(
        ack.len() == 1 && ack[0].is_zlb() && ack[0].hdr.tunnel_id == TunnelId(0x2424),
        "{ack:?}"
    );
    let resent = lns.run_for(SECOND);
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].1, first[0], "the same SCCRP, byte for byte");
    assert_eq!(lns.ep.tunnel_count(), 1);
    assert_eq!(lns.ep.stats().duplicates, 1);
    // The same SCCRQ from another port is another LAC: a second tunnel.
    lns.feed(addr("192.0.2.10:1702"), &d).unwrap();
    assert_eq!(lns.ep.tunnel_count(), 2);

    // Two endpoints, the first SCCRP lost.
    let mut net = pair(24, lac_config(241), lns_config(242));
    net.drop_next(addr(LNS), addr(LAC), 1);
    let now = net.now();
    let t = net.node_mut(0).ep.connect(now, addr(LNS)).unwrap();
    net.node_mut(0)
        .ep
        .open_session(now, t, CallDirection::Incoming)
        .unwrap();
    assert!(
        net.drive_until(10 * SECOND, |n| n.node(0).sessions_up() == 1
            && n.node(1).sessions_up() == 1)
    );
    assert_eq!(net.stats().dropped, 1);
    let sccrqs = net
        .capture()
        .iter()
        .filter(|c| c.src == addr(LAC))
        .filter(|c| {
            decode_captured(&c.payload)
                .is_some_and(|(_, m)| m.is_some_and(|m| m.message_type == MessageType::Sccrq))
        })
        .count();
    assert_eq!(sccrqs, 2, "the SCCRQ was retransmitted");
    let ids: Vec<TunnelId> = net
        .capture()
        .iter()
        .filter(|c| c.src == addr(LNS))
        .filter_map(|c| decode_captured(&c.payload)?.1)
        .filter(|m| m.message_type == MessageType::Sccrp)
        .filter_map(|m| m.assigned_tunnel_id())
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "one SCCRP retransmitted (the first was lost): {ids:?}"
    );
    assert_eq!(net.node(1).ep.tunnel_count(), 1);
    assert_eq!(net.node(1).tunnels_up(), 1);
    assert!(net.node(1).ep.stats().duplicates >= 1);
}

/// Case 25: control and data packets with a valid Tunnel/Session ID from another address or
/// port are dropped (WrongPeer) and change nothing. (Binding a tunnel to the IPsec SA it
/// arrived through is the daemon's job: sras-l2tp sees the address only.)
#[test]
fn case25_valid_ids_from_wrong_peer() {
    let (mut lns, mut peer, t, [(a, sid_a), (b, _)]) = up_with_two_sessions();
    let attackers = [
        addr("203.0.113.5:1701"),
        addr("192.0.2.10:1702"),
        addr("192.0.2.11:1701"),
    ];
    let before = lns.ep.stats().clone();
    let mut n = 0;
    for from in attackers {
        // A StopCCN with the right Tunnel ID and the right Ns.
        let stop = raw(
            peer.lns_tid,
            0,
            peer.ns,
            peer.nr,
            &stopccn(peer.tid, ResultCode::new(1, None, None)),
        );
        let r = lns.feed(from, &stop);
        assert!(
            matches!(r, Err(Error::WrongPeer { got, .. }) if got == from),
            "{r:?}"
        );
        // A CDN for a session.
        let c = raw(
            peer.lns_tid,
            sid_a,
            peer.ns,
            peer.nr,
            &cdn(1, ResultCode::new(3, None, None)),
        );
        assert!(matches!(lns.feed(from, &c), Err(Error::WrongPeer { .. })));
        // Data for a session.
        assert!(matches!(
            lns.feed(from, &data(&peer, sid_a, b"evil")),
            Err(Error::WrongPeer { .. })
        ));
        n += 3;
    }
    let s = lns.ep.stats();
    assert_eq!(s.wrong_peer, before.wrong_peer + n);
    assert_eq!(
        (s.control_rx, s.data_rx),
        (before.control_rx, before.data_rx)
    );
    assert!(lns.tx().is_empty());
    assert!(lns.ep.tunnel_is_established(t));
    assert!(lns.ep.session_is_established(a) && lns.ep.session_is_established(b));
    // The real peer is unaffected: data, and its next Ns.
    assert_eq!(
        lns.feed(peer.addr, &data(&peer, sid_a, b"ok")),
        Ok(Got::Data(a, b"ok".to_vec()))
    );
    let d = peer.send(0, &hello());
    lns.feed(peer.addr, &d).unwrap();
    assert!(peer.take(&lns.tx())[0].is_zlb());

    // As initiator: an SCCRP for our tunnel from another host does not take it over.
    let mut lac = Lns::new(lac_config(25));
    let now = lac.now();
    let h = lac.ep.connect(now, addr(LNS)).unwrap();
    let (ours, _) = lac.ep.tunnel_ids(h).unwrap();
    lac.tx();
    let sccrp = ControlMessage::new(MessageType::Sccrp)
        .with(Avp::ProtocolVersion {
            version: 1,
            revision: 0,
        })
        .with(Avp::HostName(b"evil".to_vec()))
        .with(Avp::FramingCapabilities(3))
        .with(Avp::AssignedTunnelId(TunnelId(9)));
    let d = raw(ours.0, 0, 0, 1, &sccrp);
    assert!(matches!(
        lac.feed(addr("203.0.113.5:1701"), &d),
        Err(Error::WrongPeer { .. })
    ));
    assert!(!lac.ep.tunnel_is_established(h));
    assert_eq!(lac.ep.tunnel_remote(h), Some(addr(LNS)));
    // From the LNS's address but another port it is a floating port (RFC 3193 §4): accepted.
    assert_eq!(lac.feed(addr("192.0.2.1:40000"), &d), Ok(Got::Control));
    assert!(lac.ep.tunnel_is_established(h));
}

/// Case 26: a second ICRQ with an Assigned Session ID already in use in the tunnel is refused
/// with CDN 2/5; the first call is unaffected and completes.
#[test]
fn case26_duplicate_assigned_session_id() {
    let mut lns = new_lns();
    let mut peer = Peer::new(lac_addr(), 0x2626);
    let t = establish(&mut lns, &mut peer);
    let d = peer.send(0, &icrq(7));
    lns.feed(peer.addr, &d).unwrap();
    let icrp = peer.take(&lns.tx()).remove(0);
    assert_eq!(icrp.kind(), Some(MessageType::Icrp));
    let lns_sid = icrp.msg.unwrap().assigned_session_id().unwrap().0;
    // The same Assigned Session ID again (a new message, not a retransmission).
    let d = peer.send(0, &icrq(7));
    lns.feed(peer.addr, &d).unwrap();
    let replies = peer.take(&lns.tx());
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].kind(), Some(MessageType::Cdn));
    assert_eq!(replies[0].hdr.session_id, SessionId(7));
    let rc = replies[0].result();
    assert_eq!(
        (rc.result, rc.error),
        (result::CDN_ERROR, Some(error::INVALID_SESSION_ID))
    );
    assert_ne!(
        replies[0].msg.as_ref().unwrap().assigned_session_id(),
        Some(SessionId(lns_sid))
    );
    assert_eq!(lns.ep.session_count(), 1);
    // The first call completes.
    let d = peer.send(lns_sid, &iccn());
    lns.feed(peer.addr, &d).unwrap();
    peer.take(&lns.tx());
    assert_eq!(
        lns.count(
            |e| matches!(e, Event::SessionEstablished { info, .. } if info.local_id.0 == lns_sid)
        ),
        1
    );
    assert!(lns.ep.tunnel_is_established(t));
}

/// Case 27: messages out of order — ICCN before ICRQ, CDN for an unknown session, data before
/// ICCN, SCCCN twice, calls before the tunnel is up, replies nobody asked for — are
/// acknowledged and ignored; nothing crashes and the tunnel stays.
#[test]
fn case27_out_of_order_messages() {
    // Calls and Hellos before the SCCCN: ignored, the tunnel still comes up.
    let mut lns = new_lns();
    let mut peer = Peer::new(lac_addr(), 0x2727);
    let d = peer.send(0, &sccrq(peer.tid));
    lns.feed(peer.addr, &d).unwrap();
    let sccrp = peer.take(&lns.tx()).remove(0);
    peer.lns_tid = sccrp.msg.unwrap().assigned_tunnel_id().unwrap().0;
    for m in [
        icrq(1),
        iccn(),
        hello(),
        cdn(1, ResultCode::new(3, None, None)),
    ] {
        let d = peer.send(0, &m);
        assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control));
        assert!(peer.take(&lns.tx()).iter().all(Reply::is_zlb));
    }
    assert_eq!(lns.ep.session_count(), 0);
    let d = peer.send(0, &ControlMessage::new(MessageType::Scccn));
    lns.feed(peer.addr, &d).unwrap();
    peer.take(&lns.tx());
    assert_eq!(
        lns.count(|e| matches!(e, Event::TunnelEstablished { .. })),
        1
    );

    let (mut lns, mut peer, t, [(a, sid_a), (b, _)]) = up_with_two_sessions();
    let unknown_before = lns.ep.stats().unknown_id;
    // ICCN before ICRQ (no such session, by header or by Assigned Session ID).
    expect_ignored(&mut lns, &mut peer, 0, iccn());
    expect_ignored(&mut lns, &mut peer, 0x5151, iccn());
    // CDN for an unknown session.
    expect_ignored(
        &mut lns,
        &mut peer,
        0x5151,
        cdn(99, ResultCode::new(3, None, None)),
    );
    expect_ignored(
        &mut lns,
        &mut peer,
        0,
        cdn(99, ResultCode::new(3, None, None)),
    );
    // SCCCN twice, an SCCRQ and an SCCRP on the live tunnel.
    expect_ignored(
        &mut lns,
        &mut peer,
        0,
        ControlMessage::new(MessageType::Scccn),
    );
    let tid = peer.tid;
    expect_ignored(&mut lns, &mut peer, 0, sccrq(tid));
    expect_ignored(
        &mut lns,
        &mut peer,
        0,
        sccrq(tid).with_type(MessageType::Sccrp),
    );
    // Replies nobody asked for, and a second ICCN for an established session.
    expect_ignored(
        &mut lns,
        &mut peer,
        0,
        ControlMessage::new(MessageType::Icrp).with(Avp::AssignedSessionId(SessionId(5))),
    );
    expect_ignored(
        &mut lns,
        &mut peer,
        0,
        ControlMessage::new(MessageType::Ocrp).with(Avp::AssignedSessionId(SessionId(5))),
    );
    expect_ignored(&mut lns, &mut peer, sid_a, iccn());
    // An ICRQ without an Assigned Session ID has nobody to answer.
    expect_ignored(
        &mut lns,
        &mut peer,
        0,
        ControlMessage::new(MessageType::Icrq).with(Avp::CallSerialNumber(1)),
    );
    assert!(lns.ep.stats().unknown_id >= unknown_before + 6);
    assert_eq!(
        lns.count(|e| matches!(e, Event::TunnelEstablished { .. })),
        1
    );
    assert_eq!(
        lns.count(|e| matches!(e, Event::SessionEstablished { .. })),
        2
    );
    assert!(lns.ep.tunnel_is_established(t));
    assert!(lns.ep.session_is_established(a) && lns.ep.session_is_established(b));
    assert_eq!(lns.ep.session_count(), 2);

    // Data before ICCN.
    let d = peer.send(0, &icrq(3));
    lns.feed(peer.addr, &d).unwrap();
    let icrp = peer.take(&lns.tx()).remove(0);
    let sid_c = icrp.msg.unwrap().assigned_session_id().unwrap().0;
    let before = lns.ep.stats().data_rx;
    assert_eq!(
        lns.feed(peer.addr, &data(&peer, sid_c, b"early")),
        Err(Error::SessionNotEstablished)
    );
    assert_eq!(lns.ep.stats().data_rx, before);
    // Data for a session that never existed.
    assert!(matches!(
        lns.feed(peer.addr, &data(&peer, 0x7777, b"x")),
        Err(Error::UnknownSession(..))
    ));
    // A ZLB and a Hello to a tunnel that never existed.
    let mut ghost = peer.clone();
    ghost.lns_tid = peer.lns_tid.wrapping_add(1);
    assert!(matches!(
        lns.feed(peer.addr, &ghost.zlb()),
        Err(Error::UnknownTunnel(_))
    ));
    assert!(lns.tx().is_empty());
    // After the ICCN, data flows.
    let d = peer.send(sid_c, &iccn());
    lns.feed(peer.addr, &d).unwrap();
    peer.take(&lns.tx());
    assert!(matches!(
        lns.feed(peer.addr, &data(&peer, sid_c, b"now")),
        Ok(Got::Data(_, _))
    ));

    // StopCCN twice: the second is acknowledged and ignored.
    let d = peer.send(0, &stopccn(peer.tid, ResultCode::new(1, None, None)));
    lns.feed(peer.addr, &d).unwrap();
    peer.take(&lns.tx());
    expect_ignored(
        &mut lns,
        &mut peer,
        0,
        stopccn(tid, ResultCode::new(1, None, None)),
    );
    // Calls on a closing tunnel are ignored.
    expect_ignored(&mut lns, &mut peer, 0, icrq(9));
    assert_eq!(lns.count(|e| matches!(e, Event::TunnelClosed { .. })), 1);
    assert_eq!(lns.ep.session_count(), 0);
}

/// Sends `m` and expects only an acknowledgement back.
fn expect_ignored(lns: &mut Lns, peer: &mut Peer, sid: u16, m: ControlMessage) {
    let d = peer.send(sid, &m);
    assert_eq!(lns.feed(peer.addr, &d), Ok(Got::Control), "{m:?}");
    let replies = peer.take(&lns.tx());
    assert!(
        replies.len() == 1 && replies[0].is_zlb() && replies[0].nr() == peer.ns,
        "{m:?}: {replies:?}"
    );
}

/// `ControlMessage` with the same AVPs under another type (test helper).
trait WithType {
    fn with_type(self, t: MessageType) -> Self;
}

impl WithType for ControlMessage {
    fn with_type(mut self, t: MessageType) -> Self {
        self.message_type = t;
        self
    }
}
