//! The peer side (client): answers the authenticator's challenge with configured credentials
//! and checks that the server, too, knew the password (the MS-CHAPv2 authenticator response).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;
use zeroize::Zeroizing;

use super::crypto::{
    chap_md5_response, check_authenticator_response, generate_authenticator_response,
    generate_nt_response, mschapv1_nt_response, nt_password_hash, parse_mschap_failure,
    parse_mschapv2_success,
};
use super::{user_without_domain, AuthMethod};
use crate::wire::{
    ChapPacket, EapMd5, EapMsChapV2, EapPacket, EapType, MsChapV1Response, MsChapV2Response,
    Packet, PapPacket, Protocol,
};

/// What the peer wants done.
#[derive(Debug)]
pub(crate) enum Output {
    Send(Protocol, Vec<u8>),
    Success,
    Failure(String),
}

/// One authentication exchange as peer.
#[derive(Debug)]
pub(crate) struct Peer {
    method: AuthMethod,
    user: Vec<u8>,
    password: Zeroizing<String>,
    done: Option<bool>,
    /// Our last answer and the identifier it answered: a retransmitted challenge gets it again.
    last: Option<(Protocol, u8, Vec<u8>)>,
    /// The data of the request `last` answered (a challenge or EAP request).
    last_request: Option<Vec<u8>>,
    /// The authenticator response we expect (MS-CHAPv2, RFC 2759 §8.7).
    expected_s: Option<String>,
    retries: u32,
    max_retries: u32,
    restart: Duration,
    deadline: Option<Instant>,
    /// EAP inner methods we do: EAP-MSCHAPv2, EAP-MD5.
    eap_mschapv2: bool,
    eap_md5: bool,
    /// Our last EAP method response went out (MD5 response, or the MSCHAPv2 Success-Response):
    /// only the EAP Success is missing.
    eap_final_sent: bool,
    pub(crate) out: VecDeque<Output>,
}

impl Peer {
    /// `accepted` is the client's configured method list: when it names MS-CHAPv2 or CHAP-MD5,
    /// EAP is limited to their EAP forms; otherwise EAP may use either.
    pub(crate) fn new(
        method: AuthMethod,
        accepted: &[AuthMethod],
        user: &str,
        password: &str,
        restart: Duration,
        max_retries: u32,
    ) -> Self {
        let v2 = accepted.contains(&AuthMethod::MsChapV2);
        let md5 = accepted.contains(&AuthMethod::ChapMd5);
        let (eap_mschapv2, eap_md5) = if v2 || md5 { (v2, md5) } else { (true, true) };
        Self {
            eap_mschapv2,
            eap_md5,
            eap_final_sent: false,
            last_request: None,
            method,
            user: user.as_bytes().to_vec(),
            password: Zeroizing::new(password.to_owned()),
            done: None,
            last: None,
            expected_s: None,
            retries: 0,
            max_retries,
            restart,
            deadline: None,
            out: VecDeque::new(),
        }
    }

    /// PAP: send the request; the others wait for the challenge, up to `timeout`.
    pub(crate) fn start(&mut self, now: Instant, rng: &mut StdRng, timeout: Duration) {
        if self.method == AuthMethod::Pap {
            let id: u8 = rng.random();
            let mut v = Vec::new();
            PapPacket::Request {
                peer_id: self.user.clone(),
                password: self.password.as_bytes().to_vec(),
            }
            .encode(id, &mut v);
            self.last = Some((Protocol::Pap, id, v.clone()));
            self.out.push_back(Output::Send(Protocol::Pap, v));
            self.deadline = Some(now + self.restart);
        } else {
            self.deadline = Some(now + timeout);
        }
    }

    fn finish(&mut self, ok: bool, reason: String) {
        if self.done.is_some() {
            return;
        }
        self.done = Some(ok);
        self.deadline = None;
        self.out.push_back(if ok {
            Output::Success
        } else {
            Output::Failure(reason)
        });
    }

    /// Sends an answer and keeps it: a retransmitted challenge gets it again, and so does our
    /// own timer while no Success or Failure arrives (a lost Success must not strand the link).
    fn answer(&mut self, now: Instant, protocol: Protocol, identifier: u8, packet: Vec<u8>) {
        self.last = Some((protocol, identifier, packet.clone()));
        self.out.push_back(Output::Send(protocol, packet));
        self.retries = 0;
        self.deadline = Some(now + self.restart);
    }

    /// A PAP, CHAP or EAP packet from the authenticator.
    pub(crate) fn handle(
        &mut self,
        now: Instant,
        rng: &mut StdRng,
        protocol: Protocol,
        packet: &Packet<'_>,
    ) {
        // The same challenge again (our answer was lost): the same answer (RFC 1994 §4.1).
        // Identifier and contents must both match: a server reusing an Identifier for a new
        // challenge gets a fresh answer.
        if let Some((p, id, v)) = &self.last {
            if *p == protocol
                && *id == packet.identifier
                && packet.code == 1
                && protocol != Protocol::Pap
                && self.last_request.as_deref() == Some(packet.data)
            {
                let v = v.clone();
                self.out.push_back(Output::Send(protocol, v));
                return;
            }
        }
        if packet.code == 1 && protocol != Protocol::Pap {
            self.last_request = Some(packet.data.to_vec());
        }
        match protocol {
            Protocol::Pap if self.method == AuthMethod::Pap => match PapPacket::parse(packet) {
                Ok(PapPacket::Ack { .. }) => self.finish(true, String::new()),
                Ok(PapPacket::Nak { message }) => self.finish(
                    false,
                    format!("PAP refused: {}", String::from_utf8_lossy(&message)),
                ),
                _ => {}
            },
            Protocol::Chap
                if matches!(
                    self.method,
                    AuthMethod::ChapMd5 | AuthMethod::MsChapV1 | AuthMethod::MsChapV2
                ) =>
            {
                self.on_chap(now, rng, packet);
            }
            Protocol::Eap if self.method == AuthMethod::Eap => self.on_eap(now, rng, packet),
            _ => {}
        }
    }

    fn on_chap(&mut self, now: Instant, rng: &mut StdRng, packet: &Packet<'_>) {
        match ChapPacket::parse(packet) {
            Ok(ChapPacket::Challenge { value, .. }) => {
                let Some(response) = self.chap_value(rng, packet.identifier, &value) else {
                    return self.finish(false, "challenge of the wrong size".into());
                };
                let mut v = Vec::new();
                ChapPacket::Response {
                    value: response,
                    name: self.user.clone(),
                }
                .encode(packet.identifier, &mut v);
                self.answer(now, Protocol::Chap, packet.identifier, v);
            }
            Ok(ChapPacket::Success { message }) => {
                if self.method == AuthMethod::MsChapV2 {
                    let ok = match (&self.expected_s, parse_mschapv2_success(&message)) {
                        (Some(exp), Some(got)) => check_authenticator_response(exp, &got),
                        _ => false,
                    };
                    if !ok {
                        return self.finish(
                            false,
                            "the server's MS-CHAPv2 authenticator response is wrong".into(),
                        );
                    }
                }
                self.finish(true, String::new());
            }
            Ok(ChapPacket::Failure { message }) => {
                let text = match parse_mschap_failure(&message) {
                    Some(f) if self.method != AuthMethod::ChapMd5 => {
                        format!("error {}: {}", f.error, f.message.unwrap_or_default())
                    }
                    _ => String::from_utf8_lossy(&message).into_owned(),
                };
                self.finish(false, format!("authentication refused ({text})"));
            }
            _ => {}
        }
    }

    /// The CHAP Response value for a challenge, per method.
    fn chap_value(
        &mut self,
        rng: &mut StdRng,
        identifier: u8,
        challenge: &[u8],
    ) -> Option<Vec<u8>> {
        match self.method {
            AuthMethod::MsChapV1 => {
                let c: [u8; 8] = challenge.try_into().ok()?;
                let r = MsChapV1Response {
                    lm_response: [0; 24],
                    nt_response: mschapv1_nt_response(&c, &self.password),
                    use_nt: true,
                };
                Some(r.encode().to_vec())
            }
            AuthMethod::MsChapV2 => {
                let c: [u8; 16] = challenge.try_into().ok()?;
                Some(self.mschapv2_response(rng, &c).encode().to_vec())
            }
            _ => Some(chap_md5_response(identifier, self.password.as_bytes(), challenge).to_vec()),
        }
    }

    fn mschapv2_response(&mut self, rng: &mut StdRng, challenge: &[u8; 16]) -> MsChapV2Response {
        let peer_challenge: [u8; 16] = rng.random();
        let user = user_without_domain(&self.user).to_vec();
        let nt_response = generate_nt_response(challenge, &peer_challenge, &user, &self.password);
        let hash = nt_password_hash(&self.password);
        self.expected_s = Some(generate_authenticator_response(
            &hash,
            &nt_response,
            &peer_challenge,
            challenge,
            &user,
        ));
        MsChapV2Response {
            peer_challenge,
            nt_response,
            flags: 0,
        }
    }

    fn on_eap(&mut self, now: Instant, rng: &mut StdRng, packet: &Packet<'_>) {
        let reply = |type_: EapType, data: Vec<u8>| {
            let mut v = Vec::new();
            EapPacket::Response { type_, data }.encode(packet.identifier, &mut v);
            v
        };
        match EapPacket::parse(packet) {
            Ok(EapPacket::Request { type_, data }) => {
                let v = match type_ {
                    EapType::Identity => reply(EapType::Identity, self.user.clone()),
                    EapType::Notification => reply(EapType::Notification, Vec::new()),
                    EapType::Md5Challenge if !self.eap_md5 => self.eap_nak(packet.identifier),
                    EapType::MsChapV2 if !self.eap_mschapv2 => self.eap_nak(packet.identifier),
                    EapType::Md5Challenge => {
                        let Ok(m) = EapMd5::parse(&data) else { return };
                        let value = chap_md5_response(
                            packet.identifier,
                            self.password.as_bytes(),
                            &m.value,
                        )
                        .to_vec();
                        self.eap_final_sent = true;
                        let mut d = Vec::new();
                        EapMd5 {
                            value,
                            name: self.user.clone(),
                        }
                        .encode(&mut d);
                        reply(EapType::Md5Challenge, d)
                    }
                    EapType::MsChapV2 => match EapMsChapV2::parse(&data) {
                        Ok(EapMsChapV2::Challenge { id, challenge, .. }) => {
                            let response = self.mschapv2_response(rng, &challenge);
                            let mut d = Vec::new();
                            EapMsChapV2::Response {
                                id,
                                response,
                                name: self.user.clone(),
                            }
                            .encode(&mut d);
                            reply(EapType::MsChapV2, d)
                        }
                        Ok(EapMsChapV2::Success { message, .. }) => {
                            let ok = match (&self.expected_s, parse_mschapv2_success(&message)) {
                                (Some(exp), Some(got)) => check_authenticator_response(exp, &got),
                                _ => false,
                            };
                            if !ok {
                                return self.finish(
                                    false,
                                    "the server's EAP-MSCHAPv2 authenticator response is wrong"
                                        .into(),
                                );
                            }
                            self.eap_final_sent = true;
                            let mut d = Vec::new();
                            EapMsChapV2::SuccessAck.encode(&mut d);
                            reply(EapType::MsChapV2, d)
                        }
                        Ok(EapMsChapV2::Failure { .. }) => {
                            let mut d = Vec::new();
                            EapMsChapV2::FailureAck.encode(&mut d);
                            reply(EapType::MsChapV2, d)
                        }
                        _ => return,
                    },
                    // Anything else: Nak, naming what we can do (RFC 3748 §5.3.1).
                    _ => self.eap_nak(packet.identifier),
                };
                self.answer(now, Protocol::Eap, packet.identifier, v);
            }
            Ok(EapPacket::Success) => self.finish(true, String::new()),
            Ok(EapPacket::Failure) => self.finish(false, "EAP failure".into()),
            _ => {}
        }
    }

    /// An EAP Nak naming the inner methods we do (RFC 3748 §5.3.1).
    fn eap_nak(&self, identifier: u8) -> Vec<u8> {
        let mut types = Vec::new();
        if self.eap_mschapv2 {
            types.push(EapType::MsChapV2.value());
        }
        if self.eap_md5 {
            types.push(EapType::Md5Challenge.value());
        }
        let mut v = Vec::new();
        EapPacket::Response {
            type_: EapType::Nak,
            data: types,
        }
        .encode(identifier, &mut v);
        v
    }

    /// An NCP packet arrived while we wait for the final EAP Success: RFC 3748 §4.2 lets the
    /// peer take it as the lost Success, once its own part of the exchange is complete.
    pub(crate) fn network_traffic_seen(&mut self) {
        if self.method == AuthMethod::Eap && self.done.is_none() && self.eap_final_sent {
            self.finish(true, String::new());
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match self.deadline {
            Some(d) if d <= now => {}
            _ => return,
        }
        self.deadline = None;
        if self.done.is_none() && self.last.is_some() {
            // PAP request, or a CHAP/EAP response, unanswered: send it again.
            if self.retries >= self.max_retries {
                return self.finish(false, "no answer from the authenticator".into());
            }
            self.retries += 1;
            if let Some((p, _, v)) = self.last.clone() {
                self.out.push_back(Output::Send(p, v));
            }
            self.deadline = Some(now + self.restart);
        } else if self.done.is_none() {
            self.finish(false, "the server sent no challenge".into());
        }
    }
}
