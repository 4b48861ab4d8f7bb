//! The authenticator side (server): challenges the peer, hands what it proves to the caller as
//! an [`AuthRequest`], and answers with the caller's [`Verdict`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;
use zeroize::Zeroizing;

use super::crypto::{format_mschap_failure, format_mschapv2_success, MsChapFailure};
use super::{AuthMethod, AuthRequest, Credentials, Verdict};
use crate::wire::{
    ChapPacket, EapMd5, EapMsChapV2, EapPacket, EapType, MsChapV1Response, MsChapV2Response,
    Packet, PapPacket, Protocol,
};

/// What the authenticator wants done.
#[derive(Debug)]
pub(crate) enum Output {
    /// Send this control packet (Code, Identifier, Length, Data) with this protocol.
    Send(Protocol, Vec<u8>),
    /// Decide this login.
    Request(AuthRequest),
    /// The peer is authenticated as this user.
    Success(String),
    /// Authentication failed, for this reason (logged, and the link goes down).
    Failure(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Challenge (or EAP request) sent, or waiting for a PAP request.
    WaitResponse,
    /// The caller is deciding request `id`.
    Verifying(u64),
    /// EAP-MSCHAPv2: our Success-Request went out; waiting for the peer's Success-Response.
    WaitSuccessAck,
    /// Finished: `true` when the peer is authenticated.
    Done(bool),
}

/// Which EAP exchange is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EapStage {
    Identity,
    Md5,
    MsChapV2,
}

/// One authentication exchange as authenticator.
#[derive(Debug)]
pub(crate) struct Authenticator {
    method: AuthMethod,
    name: Vec<u8>,
    identifier: u8,
    challenge: Vec<u8>,
    step: Step,
    eap: EapStage,
    /// The EAP-MSCHAPv2 identifier (inside the type data).
    ms_id: u8,
    user: String,
    retries: u32,
    max_retries: u32,
    restart: Duration,
    deadline: Option<Instant>,
    last_sent: Option<(Protocol, Vec<u8>)>,
    /// The PAP answer, kept to answer a retransmitted request the same way.
    pap_answer: Option<Vec<u8>>,
    pub(crate) out: VecDeque<Output>,
}

impl Authenticator {
    pub(crate) fn new(method: AuthMethod, name: &str, restart: Duration, max_retries: u32) -> Self {
        Self {
            method,
            name: name.as_bytes().to_vec(),
            identifier: 0,
            challenge: Vec::new(),
            step: Step::WaitResponse,
            eap: EapStage::Identity,
            ms_id: 0,
            user: String::new(),
            retries: 0,
            max_retries,
            restart,
            deadline: None,
            last_sent: None,
            pap_answer: None,
            out: VecDeque::new(),
        }
    }

    pub(crate) fn method(&self) -> AuthMethod {
        self.method
    }

    /// Starts the exchange: a Challenge or EAP Request/Identity, or (PAP) waiting for the peer.
    /// Called again on the same authenticator for a re-authentication.
    ///
    /// The first Identifier is random and, on a re-authentication, never the previous round's
    /// (RFC 1994 §4.1: "The Identifier field MUST be changed each time a Challenge is sent"):
    /// a peer answers a Challenge carrying the Identifier it last answered with its cached
    /// Response (a retransmission, §4.1), which would not match the new challenge value.
    pub(crate) fn start(&mut self, now: Instant, rng: &mut StdRng, timeout: Duration) {
        let mut identifier: u8 = rng.random();
        if matches!(self.step, Step::Done(_)) && identifier == self.identifier {
            identifier = identifier.wrapping_add(1);
        }
        self.identifier = identifier;
        self.retries = 0;
        self.step = Step::WaitResponse;
        match self.method {
            AuthMethod::Pap => self.deadline = Some(now + timeout),
            AuthMethod::ChapMd5 | AuthMethod::MsChapV2 => {
                self.challenge = rng.random::<[u8; 16]>().to_vec();
                self.send_challenge(now);
            }
            AuthMethod::MsChapV1 => {
                self.challenge = rng.random::<[u8; 8]>().to_vec();
                self.send_challenge(now);
            }
            AuthMethod::Eap => {
                self.eap = EapStage::Identity;
                let p = EapPacket::Request {
                    type_: EapType::Identity,
                    data: Vec::new(),
                };
                let mut v = Vec::new();
                p.encode(self.identifier, &mut v);
                self.send_reliable(now, Protocol::Eap, v);
            }
        }
    }

    fn send_challenge(&mut self, now: Instant) {
        let mut v = Vec::new();
        ChapPacket::Challenge {
            value: self.challenge.clone(),
            name: self.name.clone(),
        }
        .encode(self.identifier, &mut v);
        self.send_reliable(now, Protocol::Chap, v);
    }

    fn send_reliable(&mut self, now: Instant, protocol: Protocol, packet: Vec<u8>) {
        self.out.push_back(Output::Send(protocol, packet.clone()));
        self.last_sent = Some((protocol, packet));
        self.deadline = Some(now + self.restart);
    }

    fn send(&mut self, protocol: Protocol, packet: Vec<u8>) {
        self.out.push_back(Output::Send(protocol, packet));
    }

    fn fail(&mut self, reason: String) {
        self.step = Step::Done(false);
        self.deadline = None;
        self.out.push_back(Output::Failure(reason));
    }

    fn request(&mut self, id: u64, method: AuthMethod, user: &[u8], credentials: Credentials) {
        self.user = String::from_utf8_lossy(user).into_owned();
        self.step = Step::Verifying(id);
        self.deadline = None;
        self.out.push_back(Output::Request(AuthRequest {
            id,
            method,
            user: self.user.clone(),
            credentials,
        }));
    }

    /// A PAP, CHAP or EAP packet from the peer. `next_id` numbers a new [`AuthRequest`].
    pub(crate) fn handle(
        &mut self,
        now: Instant,
        rng: &mut StdRng,
        protocol: Protocol,
        packet: &Packet<'_>,
        next_id: &mut u64,
    ) {
        match (self.method, protocol) {
            (AuthMethod::Pap, Protocol::Pap) => self.on_pap(packet, next_id),
            (AuthMethod::ChapMd5 | AuthMethod::MsChapV1 | AuthMethod::MsChapV2, Protocol::Chap) => {
                self.on_chap(packet, next_id);
            }
            (AuthMethod::Eap, Protocol::Eap) => self.on_eap(now, rng, packet, next_id),
            // Anything else (e.g. EAP when PAP was negotiated) is ignored (ROBUSTNESS 28).
            _ => {}
        }
    }

    fn on_pap(&mut self, packet: &Packet<'_>, next_id: &mut u64) {
        let (peer_id, password) = match PapPacket::parse(packet) {
            Ok(PapPacket::Request { peer_id, password }) => (peer_id, password),
            Err(e) if packet.code == PapPacket::REQUEST && self.step == Step::WaitResponse => {
                // RFC 1334 §2.2.1: a Peer-ID Length or Passwd-Length past the end of the
                // packet. Nothing can be checked, and nothing is asked of the caller
                // (ROBUSTNESS 30): the Nak answers this request, and the link ends.
                self.identifier = packet.identifier;
                return self.reject_malformed(&format!("PAP Authenticate-Request malformed: {e}"));
            }
            _ => return,
        };
        match self.step {
            Step::WaitResponse => {
                self.identifier = packet.identifier;
                *next_id += 1;
                let credentials = Credentials::Pap {
                    password: Zeroizing::new(password),
                };
                self.request(*next_id, AuthMethod::Pap, &peer_id, credentials);
            }
            // A retransmitted request (our answer was lost): answer it again the same way.
            Step::Done(_) => {
                if let Some(mut a) = self.pap_answer.clone() {
                    if let Some(b) = a.get_mut(1) {
                        *b = packet.identifier;
                    }
                    self.send(Protocol::Pap, a);
                }
            }
            _ => {}
        }
    }

    fn on_chap(&mut self, packet: &Packet<'_>, next_id: &mut u64) {
        if packet.code != ChapPacket::RESPONSE || packet.identifier != self.identifier {
            return; // not a response to the current challenge (RFC 1994 §4.1)
        }
        let (value, name) = match ChapPacket::parse(packet) {
            Ok(ChapPacket::Response { value, name }) => (value, name),
            Err(e) if self.step == Step::WaitResponse => {
                // RFC 1994 §4.1: a Response without Value-Size, or whose Value runs past the
                // packet. Fails like a Value of the wrong size (ROBUSTNESS 30).
                return self.reject_malformed(&format!("CHAP Response malformed: {e}"));
            }
            _ => return,
        };
        match self.step {
            Step::WaitResponse => {}
            Step::Done(_) => {
                // Our Success/Failure was lost: the peer answers the same challenge again.
                if let Some((p, v)) = self.last_sent.clone() {
                    self.send(p, v);
                }
                return;
            }
            _ => return,
        }
        let credentials = match self.method {
            AuthMethod::ChapMd5 => match <[u8; 16]>::try_from(value.as_slice()) {
                Ok(response) => Credentials::Chap {
                    identifier: self.identifier,
                    challenge: self.challenge.clone(),
                    response,
                },
                Err(_) => return self.reject_malformed("CHAP-MD5 response value is not 16 octets"),
            },
            AuthMethod::MsChapV1 => match MsChapV1Response::parse(&value) {
                Ok(r) if r.use_nt => Credentials::MsChapV1 {
                    challenge: self.challenge.as_slice().try_into().unwrap_or([0; 8]),
                    nt_response: r.nt_response,
                },
                _ => {
                    return self
                        .reject_malformed("MS-CHAPv1 response is not a 49-octet NT response")
                }
            },
            _ => match MsChapV2Response::parse(&value) {
                Ok(r) => Credentials::MsChapV2 {
                    authenticator_challenge: self
                        .challenge
                        .as_slice()
                        .try_into()
                        .unwrap_or([0; 16]),
                    peer_challenge: r.peer_challenge,
                    nt_response: r.nt_response,
                },
                Err(_) => {
                    return self.reject_malformed("MS-CHAPv2 response value is not 49 octets")
                }
            },
        };
        *next_id += 1;
        self.request(*next_id, self.method, &name, credentials);
    }

    /// Malformed credentials: fail without asking anyone (ROBUSTNESS 30).
    fn reject_malformed(&mut self, reason: &str) {
        self.answer_failure(Some("Malformed response"));
        self.fail(reason.to_owned());
    }

    fn on_eap(&mut self, now: Instant, rng: &mut StdRng, packet: &Packet<'_>, next_id: &mut u64) {
        let Ok(EapPacket::Response { type_, data }) = EapPacket::parse(packet) else {
            return;
        };
        if packet.identifier != self.identifier {
            return;
        }
        match (self.step, self.eap, type_) {
            (Step::WaitResponse, EapStage::Identity, EapType::Identity) => {
                self.user = String::from_utf8_lossy(&data).into_owned();
                self.identifier = self.identifier.wrapping_add(1);
                self.challenge = rng.random::<[u8; 16]>().to_vec();
                self.eap = EapStage::MsChapV2;
                self.send_eap_challenge(now);
            }
            (Step::WaitResponse, _, EapType::Nak) => {
                // The peer wants another method (RFC 3748 §5.3.1): switch if it names one we do.
                let next = if data.contains(&EapType::MsChapV2.value())
                    && self.eap != EapStage::MsChapV2
                {
                    Some(EapStage::MsChapV2)
                } else if data.contains(&EapType::Md5Challenge.value()) && self.eap != EapStage::Md5
                {
                    Some(EapStage::Md5)
                } else {
                    None
                };
                match next {
                    Some(stage) => {
                        self.eap = stage;
                        self.identifier = self.identifier.wrapping_add(1);
                        self.send_eap_challenge(now);
                    }
                    None => {
                        self.answer_failure(None);
                        self.fail("EAP: no method in common".into());
                    }
                }
            }
            (Step::WaitResponse, EapStage::Md5, EapType::Md5Challenge) => {
                let Ok(m) = EapMd5::parse(&data) else {
                    return self.reject_malformed("EAP-MD5 response malformed");
                };
                let Ok(response) = <[u8; 16]>::try_from(m.value.as_slice()) else {
                    return self.reject_malformed("EAP-MD5 response value is not 16 octets");
                };
                *next_id += 1;
                let user = self.user.clone();
                let credentials = Credentials::Chap {
                    identifier: self.identifier,
                    challenge: self.challenge.clone(),
                    response,
                };
                self.request(*next_id, AuthMethod::Eap, user.as_bytes(), credentials);
            }
            (Step::WaitResponse, EapStage::MsChapV2, EapType::MsChapV2) => {
                match EapMsChapV2::parse(&data) {
                    Ok(EapMsChapV2::Response { response, name, .. }) => {
                        *next_id += 1;
                        let credentials = Credentials::MsChapV2 {
                            authenticator_challenge: self
                                .challenge
                                .as_slice()
                                .try_into()
                                .unwrap_or([0; 16]),
                            peer_challenge: response.peer_challenge,
                            nt_response: response.nt_response,
                        };
                        self.request(*next_id, AuthMethod::Eap, &name, credentials);
                    }
                    _ => self.reject_malformed("EAP-MSCHAPv2 response malformed"),
                }
            }
            (Step::WaitSuccessAck, _, EapType::MsChapV2) => {
                let mut v = Vec::new();
                EapPacket::Success.encode(self.identifier, &mut v);
                self.send(Protocol::Eap, v);
                self.step = Step::Done(true);
                self.deadline = None;
                let user = self.user.clone();
                self.out.push_back(Output::Success(user));
            }
            _ => {}
        }
    }

    fn send_eap_challenge(&mut self, now: Instant) {
        let (type_, mut data) = (self.eap_type(), Vec::new());
        match self.eap {
            EapStage::Md5 => EapMd5 {
                value: self.challenge.clone(),
                name: self.name.clone(),
            }
            .encode(&mut data),
            _ => {
                self.ms_id = self.identifier;
                EapMsChapV2::Challenge {
                    id: self.ms_id,
                    challenge: self.challenge.as_slice().try_into().unwrap_or([0; 16]),
                    name: self.name.clone(),
                }
                .encode(&mut data);
            }
        }
        let mut v = Vec::new();
        EapPacket::Request { type_, data }.encode(self.identifier, &mut v);
        self.send_reliable(now, Protocol::Eap, v);
    }

    fn eap_type(&self) -> EapType {
        match self.eap {
            EapStage::Md5 => EapType::Md5Challenge,
            EapStage::MsChapV2 => EapType::MsChapV2,
            EapStage::Identity => EapType::Identity,
        }
    }

    /// The caller's decision on request `id`.
    pub(crate) fn complete(&mut self, now: Instant, id: u64, verdict: Verdict) -> bool {
        if self.step != Step::Verifying(id) {
            return false;
        }
        match verdict {
            Verdict::Accept(a) => {
                let message = a.message.unwrap_or_else(|| "Access granted".into());
                match self.method {
                    AuthMethod::Pap => {
                        let mut v = Vec::new();
                        PapPacket::Ack {
                            message: message.into_bytes(),
                        }
                        .encode(self.identifier, &mut v);
                        self.pap_answer = Some(v.clone());
                        self.send(Protocol::Pap, v);
                    }
                    AuthMethod::ChapMd5 | AuthMethod::MsChapV1 => {
                        self.chap_success(message.into_bytes())
                    }
                    AuthMethod::MsChapV2 => match a.authenticator_response {
                        Some(s) => {
                            self.chap_success(format_mschapv2_success(&s, &message).into_bytes())
                        }
                        None => {
                            self.answer_failure(Some("Server error"));
                            self.fail(
                                "MS-CHAPv2 accepted without an authenticator response".into(),
                            );
                            return true;
                        }
                    },
                    AuthMethod::Eap if self.eap == EapStage::MsChapV2 => {
                        let Some(s) = a.authenticator_response else {
                            self.answer_failure(None);
                            self.fail(
                                "EAP-MSCHAPv2 accepted without an authenticator response".into(),
                            );
                            return true;
                        };
                        self.identifier = self.identifier.wrapping_add(1);
                        let mut data = Vec::new();
                        EapMsChapV2::Success {
                            id: self.ms_id,
                            message: format_mschapv2_success(&s, &message).into_bytes(),
                        }
                        .encode(&mut data);
                        let mut v = Vec::new();
                        EapPacket::Request {
                            type_: EapType::MsChapV2,
                            data,
                        }
                        .encode(self.identifier, &mut v);
                        self.send_reliable(now, Protocol::Eap, v);
                        self.step = Step::WaitSuccessAck;
                        return true;
                    }
                    AuthMethod::Eap => {
                        let mut v = Vec::new();
                        EapPacket::Success.encode(self.identifier, &mut v);
                        self.send(Protocol::Eap, v);
                    }
                }
                self.step = Step::Done(true);
                self.deadline = None;
                let user = self.user.clone();
                self.out.push_back(Output::Success(user));
            }
            Verdict::Reject { message } => {
                self.answer_failure(message.as_deref());
                let user = self.user.clone();
                self.fail(format!("user {user:?} rejected"));
            }
        }
        true
    }

    fn chap_success(&mut self, message: Vec<u8>) {
        let mut v = Vec::new();
        ChapPacket::Success { message }.encode(self.identifier, &mut v);
        self.last_sent = Some((Protocol::Chap, v.clone()));
        self.send(Protocol::Chap, v);
    }

    /// Sends the method's failure message.
    fn answer_failure(&mut self, message: Option<&str>) {
        let text = message.unwrap_or("Authentication failed");
        let mut v = Vec::new();
        match self.method {
            AuthMethod::Pap => {
                PapPacket::Nak {
                    message: text.as_bytes().to_vec(),
                }
                .encode(self.identifier, &mut v);
                self.pap_answer = Some(v.clone());
                self.send(Protocol::Pap, v);
            }
            AuthMethod::ChapMd5 => {
                ChapPacket::Failure {
                    message: text.as_bytes().to_vec(),
                }
                .encode(self.identifier, &mut v);
                self.last_sent = Some((Protocol::Chap, v.clone()));
                self.send(Protocol::Chap, v);
            }
            AuthMethod::MsChapV1 | AuthMethod::MsChapV2 => {
                // RFC 2759 §6: E=691 (authentication failure), no retry, version 3.
                let f = MsChapFailure {
                    error: 691,
                    retry: false,
                    challenge: (self.method == AuthMethod::MsChapV2).then(|| {
                        let mut c = [0u8; 16];
                        for (i, b) in c.iter_mut().enumerate() {
                            *b = self.challenge.get(i).copied().unwrap_or(0) ^ 0xa5;
                        }
                        c
                    }),
                    version: Some(3),
                    message: Some(text.to_owned()),
                };
                ChapPacket::Failure {
                    message: format_mschap_failure(&f).into_bytes(),
                }
                .encode(self.identifier, &mut v);
                self.last_sent = Some((Protocol::Chap, v.clone()));
                self.send(Protocol::Chap, v);
            }
            AuthMethod::Eap => {
                EapPacket::Failure.encode(self.identifier, &mut v);
                self.send(Protocol::Eap, v);
            }
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Retransmits the challenge, or gives up.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match self.deadline {
            Some(d) if d <= now => {}
            _ => return,
        }
        self.deadline = None;
        match (self.step, &self.last_sent) {
            (Step::WaitResponse | Step::WaitSuccessAck, Some((p, v)))
                if self.method != AuthMethod::Pap =>
            {
                if self.retries >= self.max_retries {
                    return self.fail("peer did not answer the challenge".into());
                }
                self.retries += 1;
                let (p, v) = (*p, v.clone());
                self.send_reliable(now, p, v);
            }
            (Step::WaitResponse, _) => self.fail("peer sent no authentication request".into()),
            _ => {}
        }
    }
}
