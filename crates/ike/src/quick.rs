//! Quick Mode (RFC 2409 §5.5): IPsec SAs for ESP in transport or tunnel mode, with NAT-OA
//! (RFC 3947 §5), optional PFS, rekeying and the RESPONDER-LIFETIME notify (RFC 2407 §4.6.3.1).

use core::time::Duration;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use rand::RngCore;
use sras_esp::{Lifetime, SaParams, Spi};

use crate::config::ChildRequest;
use crate::crypto::{ct_eq, keymat, DhPrivateKey};
use crate::endpoint::{ChildSa, Dropped, Endpoint, Event, FlightRef, Inbound, Selectors};
use crate::phase1::NONCE_LEN;
use crate::proposal::{
    accepted_phase2, choose_phase2, offer_phase2, parse_responder_lifetime,
    responder_lifetime_data, ChosenPhase2, Encapsulation,
};
use crate::sa::{Child, QuickExchange, Role, SaId};
use crate::wire::vendor::NatTraversal;
use crate::wire::{
    encode_payloads, ExchangeType, Flags, Header, Identification, NatOa, Notification, NotifyType,
    PayloadType, ProtocolId, SaPayload, DOI_IPSEC, GENERIC_HEADER_LEN,
};

/// Concurrent Quick Mode exchanges per ISAKMP SA.
const MAX_QUICK: usize = 16;
/// How long a finished exchange is kept to answer duplicates.
const QUICK_LINGER: Duration = Duration::from_secs(30);

/// A payload chain that starts with a HASH computed over the rest: returns the chain.
pub(crate) fn chain_with_hash(
    hash: impl FnOnce(&[u8]) -> Vec<u8>,
    after: &[(PayloadType, &[u8])],
) -> Vec<u8> {
    let (next, rest) = encode_payloads(after);
    let h = hash(&rest);
    let mut out = Vec::with_capacity(GENERIC_HEADER_LEN + h.len() + rest.len());
    out.push(next.value());
    out.push(0);
    out.extend_from_slice(
        &u16::try_from(GENERIC_HEADER_LEN + h.len())
            .unwrap_or(0)
            .to_be_bytes(),
    );
    out.extend_from_slice(&h);
    out.extend_from_slice(&rest);
    out
}

fn nat_oa_type(natt: Option<NatTraversal>) -> PayloadType {
    match natt {
        Some(NatTraversal::Draft) => PayloadType::NatOaDraft,
        _ => PayloadType::NatOa,
    }
}

fn nat_oa(addr: IpAddr) -> Vec<u8> {
    let mut b = Vec::new();
    NatOa { address: addr }.encode(&mut b);
    b
}

impl Endpoint {
    /// Encrypts a chain that already starts with its HASH payload.
    pub(crate) fn encrypt_chain(
        &self,
        id: SaId,
        message_id: u32,
        exchange: ExchangeType,
        iv: &[u8],
        chain: Vec<u8>,
    ) -> Result<(Vec<u8>, Vec<u8>), Dropped> {
        let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
        let c = sa.crypto.as_ref().ok_or(Dropped::UnknownSa)?;
        let bs = c.alg.block_len();
        if chain.is_empty() {
            return Err(Dropped::Unexpected("an empty message".into()));
        }
        let mut body = chain;
        let pad = (bs - body.len() % bs) % bs;
        body.resize(body.len() + pad, 0);
        c.cipher()?.encrypt(iv, &mut body)?;
        let next_iv = body[body.len() - bs..].to_vec();
        let header = Header {
            initiator_cookie: sa.cky_i,
            responder_cookie: sa.cky_r,
            next_payload: PayloadType::Hash,
            version: crate::wire::ISAKMP_VERSION,
            exchange_type: exchange,
            flags: Flags::ENCRYPTION,
            message_id,
            length: u32::try_from(crate::wire::HEADER_LEN + body.len()).unwrap_or(u32::MAX),
        };
        let mut out = Vec::with_capacity(crate::wire::HEADER_LEN + body.len());
        header.encode(&mut out);
        out.extend_from_slice(&body);
        Ok((out, next_iv))
    }

    /// The first IV of an exchange with `message_id` (RFC 2409 App. B).
    pub(crate) fn exchange_iv(&self, id: SaId, message_id: u32) -> Option<Vec<u8>> {
        let sa = self.sas.get(&id)?;
        let c = sa.crypto.as_ref()?;
        Some(keymat::message_iv(
            sa.hash(),
            &c.iv,
            message_id,
            c.alg.block_len(),
        ))
    }

    pub(crate) fn skeyid_a(&self, id: SaId) -> Option<(crate::crypto::HashAlgorithm, Vec<u8>)> {
        let sa = self.sas.get(&id)?;
        Some((
            sa.hash(),
            sa.crypto.as_ref()?.keys.skeyid_a.as_ref().to_vec(),
        ))
    }

    /// A fresh message ID not in use on this SA.
    pub(crate) fn new_message_id(&mut self, id: SaId) -> u32 {
        loop {
            let m = self.rng.next_u32();
            if m != 0 && !self.sas.get(&id).is_some_and(|s| s.quick.contains_key(&m)) {
                return m;
            }
        }
    }

    /// Initiator: Quick Mode message 1.
    pub(crate) fn initiate_quick_mode(
        &mut self,
        now: Instant,
        id: SaId,
        request: ChildRequest,
        replaces: Option<Spi>,
    ) {
        let Some(sa) = self.sas.get(&id).filter(|s| s.is_established()) else {
            return;
        };
        if sa.quick.len() >= MAX_QUICK {
            return;
        }
        let udp = sa.udp_encapsulation();
        let natt = sa.natt;
        let (local, remote) = (sa.local, sa.remote);
        let encapsulation = request.encapsulation(udp);
        let mid = self.new_message_id(id);
        let spi_in = self.random_spi();
        let ni = self.random_bytes(NONCE_LEN);
        let dh = match self.config.pfs {
            Some(g) => match g.generate(&mut self.rng) {
                Ok(k) => Some(k),
                Err(_) => return,
            },
            None => None,
        };
        let offer = offer_phase2(
            &self.config.profile,
            spi_in,
            encapsulation,
            natt == Some(NatTraversal::Draft),
            self.config.pfs,
            self.config.phase2_lifetime,
        );
        let sa_b = offer.to_vec();
        let mut idci = Vec::new();
        Identification::ip(local.ip(), request.protocol, request.local_port).encode(&mut idci);
        let mut idcr = Vec::new();
        Identification::ip(remote.ip(), request.protocol, request.remote_port).encode(&mut idcr);
        let ke = dh.as_ref().map(|k| k.public_value().to_vec());
        let mut after: Vec<(PayloadType, &[u8])> =
            vec![(PayloadType::Sa, &sa_b), (PayloadType::Nonce, &ni)];
        if let Some(ke) = &ke {
            after.push((PayloadType::KeyExchange, ke));
        }
        after.push((PayloadType::Identification, &idci));
        after.push((PayloadType::Identification, &idcr));
        let (oai, oar) = (nat_oa(local.ip()), nat_oa(remote.ip()));
        if udp && encapsulation == Encapsulation::UdpTransport {
            after.push((nat_oa_type(natt), &oai));
            after.push((nat_oa_type(natt), &oar));
        }
        let Some((prf, ska)) = self.skeyid_a(id) else {
            return;
        };
        let chain = chain_with_hash(
            |rest| {
                keymat::hash_with_message_id(prf, &ska, mid, &[rest])
                    .as_ref()
                    .to_vec()
            },
            &after,
        );
        let Some(iv) = self.exchange_iv(id, mid) else {
            return;
        };
        let Ok((bytes, next_iv)) = self.encrypt_chain(id, mid, ExchangeType::QuickMode, &iv, chain)
        else {
            return;
        };
        let payload = self.send_raw(local, remote, &bytes);
        let mut q = QuickExchange {
            role: Role::Initiator,
            iv: next_iv,
            flight: Default::default(),
            ni,
            nr: Vec::new(),
            dh,
            spi_in,
            request,
            replaces,
            pending: None,
            done: false,
            expires: now + self.config.retransmit_initial * 64,
        };
        Self::remember(
            &mut q.flight,
            payload,
            remote,
            local.port(),
            now,
            Some(self.config.retransmit_initial),
        );
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.quick.insert(mid, q);
        }
        tracing::debug!(sa = id.0, mid, "IKE quick mode initiated");
    }

    /// Starts the rekey of the child with inbound SPI `spi` (initiator role).
    pub(crate) fn rekey_child(&mut self, now: Instant, id: SaId, spi: Spi) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let Some(c) = sa.children.iter_mut().find(|c| c.spi_in == spi) else {
            return;
        };
        c.rekeyed = true;
        let request = c.request;
        if sa.is_established() {
            tracing::info!(sa = id.0, spi_in = %spi, "IKE phase2 rekey");
            self.initiate_quick_mode(now, id, request, Some(spi));
        } else if sa.role == Role::Initiator {
            // The ISAKMP SA is gone: a new Main Mode first, which then negotiates the child.
            let (local, remote) = (
                SocketAddr::new(sa.local.ip(), self.config.ike_port),
                SocketAddr::new(sa.remote.ip(), self.config.ike_port),
            );
            let new = self.initiate_main_mode(now, local, remote, vec![request]);
            self.reschedule(new);
        }
    }

    /// Retransmissions and expiry of Quick Mode exchanges.
    pub(crate) fn quick_timeouts(&mut self, now: Instant, id: SaId) {
        let max = self.config.retransmit_tries;
        let initial = self.config.retransmit_initial;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let source = Some(sa.local);
        let mut failed = Vec::new();
        let mut resend = Vec::new();
        sa.quick.retain(|mid, q| {
            if q.expires <= now {
                if !q.done {
                    failed.push((*mid, q.replaces));
                }
                return false;
            }
            if q.flight.retransmit_at.is_some_and(|t| t <= now) {
                if q.flight.tries >= max {
                    failed.push((*mid, q.replaces));
                    return false;
                }
                q.flight.tries += 1;
                q.flight.sent_at = Some(now);
                q.flight.retransmit_at = Some(now + initial * 2u32.saturating_pow(q.flight.tries));
                if let Some((p, d, _)) = &q.flight.last_out {
                    resend.push((p.clone(), *d));
                }
            }
            true
        });
        if sa.quick.is_empty() && sa.quick.capacity() > 0 {
            // Exchanges are rare: give their table back between them.
            sa.quick = std::collections::HashMap::new();
        }
        for (mid, replaces) in failed {
            tracing::info!(sa = id.0, mid, "IKE quick mode failed: no answer");
            // Let the rekey be tried again at the next timer.
            if let Some(spi) = replaces {
                if let Some(c) = sa.children.iter_mut().find(|c| c.spi_in == spi) {
                    c.rekeyed = false;
                    c.rekey_at = Some(now + initial);
                }
            }
        }
        for (payload, destination) in resend {
            self.transmits.push_back(sras_core::Transmit {
                destination,
                source,
                payload,
            });
            self.stats.retransmits += 1;
        }
    }

    /// A Quick Mode message for an SA we hold.
    pub(crate) fn quick_message(
        &mut self,
        now: Instant,
        id: SaId,
        local: SocketAddr,
        remote: SocketAddr,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        let mid = header.message_id;
        let digest = Self::digest(msg);
        let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
        if !sa.is_established() {
            return Err(Dropped::Unexpected("Quick Mode before phase 1".into()));
        }
        if !header.flags.contains(Flags::ENCRYPTION) {
            return Err(Dropped::Unexpected("Quick Mode not encrypted".into()));
        }
        let _ = (local, remote);
        match sa.quick.get(&mid) {
            Some(q) if q.flight.last_in == Some(digest) => {
                self.echo(now, FlightRef::Quick(id, mid))
            }
            Some(q) if q.done => {
                self.stats.duplicates += 1;
                Err(Dropped::Duplicate)
            }
            Some(q) if q.role == Role::Initiator => self.quick_i2(now, id, header, msg, digest),
            Some(_) => self.quick_r3(now, id, header, msg, digest),
            None => self.quick_r1(now, id, header, msg, digest),
        }
    }

    fn decrypt_with(
        &self,
        id: SaId,
        iv: &[u8],
        header: &Header,
        msg: &[u8],
    ) -> Result<(Inbound, Vec<u8>), Dropped> {
        let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
        let c = sa.crypto.as_ref().ok_or(Dropped::UnknownSa)?;
        Self::decrypt(&c.cipher()?, iv, header, msg)
    }

    /// Checks HASH(1) or HASH(2) (RFC 2409 §5.5); `ni` for HASH(2).
    fn check_quick_hash(
        &self,
        id: SaId,
        mid: u32,
        m: &Inbound,
        ni: Option<&[u8]>,
    ) -> Result<(), Dropped> {
        let got = m.first(PayloadType::Hash).filter(|_| {
            m.payloads
                .first()
                .is_some_and(|p| p.kind == PayloadType::Hash)
        });
        let got =
            got.ok_or_else(|| Dropped::BadAuth("HASH payload missing or not first".into()))?;
        let rest = m
            .after_hash()
            .ok_or_else(|| Dropped::BadAuth("HASH".into()))?;
        let (prf, ska) = self.skeyid_a(id).ok_or(Dropped::UnknownSa)?;
        let expected = match ni {
            Some(ni) => keymat::hash_with_message_id(prf, &ska, mid, &[ni, rest]),
            None => keymat::hash_with_message_id(prf, &ska, mid, &[rest]),
        };
        if got.is_empty() || !ct_eq(got, expected.as_ref()) {
            return Err(Dropped::BadAuth("Quick Mode HASH mismatch".into()));
        }
        Ok(())
    }

    /// Keys and SA parameters for a negotiated child.
    #[allow(clippy::too_many_arguments)]
    fn build_child(
        &self,
        id: SaId,
        chosen: &ChosenPhase2,
        spi_in: [u8; 4],
        gxy: Option<&[u8]>,
        ni: &[u8],
        nr: &[u8],
        request: ChildRequest,
        peer_original: Option<IpAddr>,
        lifetime: Duration,
        replaces: Option<Spi>,
    ) -> Option<ChildSa> {
        let sa = self.sas.get(&id)?;
        let enc_len = chosen.suite.encryption.key_len();
        let auth_len = chosen.suite.integrity.key_len();
        let km_in = sa.keymat(gxy, spi_in, ni, nr, enc_len + auth_len)?;
        let km_out = sa.keymat(gxy, chosen.peer_spi, ni, nr, enc_len + auth_len)?;
        let params = |spi: [u8; 4], km: &[u8]| {
            let mut p = SaParams::new(
                Spi(u32::from_be_bytes(spi)),
                chosen.suite.encryption,
                km[..enc_len].to_vec(),
                chosen.suite.integrity,
                km[enc_len..].to_vec(),
            );
            p.mode = chosen.encapsulation.mode();
            // The time limit is the IKE side's to enforce (it rekeys first); a volume limit the
            // peer offered (Windows: 250,000 KB) is the data plane's.
            p.lifetime = Lifetime {
                hard_time: Some(lifetime),
                hard_bytes: chosen.life.kilobytes.map(|kb| kb.saturating_mul(1024)),
                ..Lifetime::default()
            };
            p
        };
        let selectors = Selectors {
            local: sa.local.ip(),
            remote: sa.remote.ip(),
            protocol: request.protocol,
            local_port: request.local_port,
            remote_port: request.remote_port,
        };
        Some(ChildSa {
            phase1: id,
            inbound: params(spi_in, &km_in),
            outbound: params(chosen.peer_spi, &km_out),
            encapsulation: chosen.encapsulation,
            local: sa.local,
            remote: sa.remote,
            selectors,
            peer_original,
            lifetime,
            replaces,
        })
    }

    /// Records the child and reports it.
    fn install_child(
        &mut self,
        now: Instant,
        id: SaId,
        child: ChildSa,
        role: Role,
        request: ChildRequest,
        suite: crate::proposal::Phase2Suite,
    ) {
        let margin = self.config.margin(child.lifetime);
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let spi_in = child.inbound.spi;
        let spi_out = child.outbound.spi;
        let mut replaces = child.replaces;
        if replaces.is_none() {
            // The peer rekeyed: the newest SA with the same selectors replaces the older one.
            replaces = sa
                .children
                .iter()
                .filter(|c| c.request == request && c.encapsulation == child.encapsulation)
                .map(|c| c.spi_in)
                .next_back();
        }
        if let Some(old) = replaces {
            if let Some(c) = sa.children.iter_mut().find(|c| c.spi_in == old) {
                c.rekeyed = true;
                // The old pair lingers briefly for packets in flight, then is deleted.
                c.expires = c.expires.min(now + Duration::from_secs(30));
            }
        }
        sa.children.push(Child {
            spi_in,
            spi_out,
            encapsulation: child.encapsulation,
            request,
            role,
            rekey_at: (role == Role::Initiator).then(|| now + child.lifetime - margin),
            expires: now + child.lifetime,
            rekeyed: false,
        });
        self.stats.phase2_established += 1;
        tracing::info!(
            sa = id.0,
            remote = %child.remote,
            spi_in = format_args!("0x{:08x}", spi_in.0),
            spi_out = format_args!("0x{:08x}", spi_out.0),
            encapsulation = ?child.encapsulation,
            encryption = ?suite.encryption,
            integrity = ?suite.integrity,
            lifetime = child.lifetime.as_secs(),
            "IKE phase2 established"
        );
        let child = ChildSa { replaces, ..child };
        self.events.push_back(Event::Phase2Up(Box::new(child)));
    }

    /// Responder, QM1: verify, choose, answer QM2.
    fn quick_r1(
        &mut self,
        now: Instant,
        id: SaId,
        header: &Header,
        msg: &[u8],
        digest: [u8; 32],
    ) -> Result<(), Dropped> {
        let mid = header.message_id;
        if self
            .sas
            .get(&id)
            .is_some_and(|s| s.quick.len() >= MAX_QUICK)
        {
            return Err(Dropped::Refused("too many Quick Mode exchanges".into()));
        }
        let iv = self.exchange_iv(id, mid).ok_or(Dropped::UnknownSa)?;
        let (m, next_iv) = self.decrypt_with(id, &iv, header, msg)?;
        // ROBUSTNESS 38: no HASH, an empty one or a wrong one leaves everything unchanged.
        self.check_quick_hash(id, mid, &m, None)?;
        let sa_b = m
            .first(PayloadType::Sa)
            .ok_or_else(|| Dropped::Unexpected("QM1 without SA".into()))?;
        let ni = m
            .first(PayloadType::Nonce)
            .filter(|n| (8..=256).contains(&n.len()))
            .ok_or_else(|| Dropped::Unexpected("QM1 nonce".into()))?;
        let offer = SaPayload::decode(sa_b)?;
        let (natt, udp, local, remote) = {
            let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
            (sa.natt, sa.udp_encapsulation(), sa.local, sa.remote)
        };
        let chosen = match choose_phase2(&self.config.profile, &offer) {
            Ok(c) => c,
            Err(refusal) => {
                if self.log_limit.check(now).is_some() {
                    tracing::info!(%remote, profile = self.config.profile.name, "IKE quick mode: no proposal chosen: {refusal}");
                }
                self.send_notify(
                    now,
                    id,
                    NotifyType::NoProposalChosen,
                    ProtocolId::IpsecEsp,
                    Vec::new(),
                    Vec::new(),
                );
                return Err(Dropped::Refused("no proposal chosen".into()));
            }
        };
        if chosen.encapsulation.is_udp() && natt.is_none() {
            return Err(Dropped::Unexpected(
                "UDP encapsulation without NAT-T".into(),
            ));
        }
        let _ = udp;
        let ids: Vec<&[u8]> = m.all(PayloadType::Identification).collect();
        let (idci, idcr) = match ids.as_slice() {
            [] => (None, None),
            [a, b] => (
                Some(Identification::decode(a)?),
                Some(Identification::decode(b)?),
            ),
            _ => {
                return Err(Dropped::Unexpected(
                    "Quick Mode needs zero or two IDs".into(),
                ))
            }
        };
        // Selectors: the peer's port in IDci, ours in IDcr (RFC 2407 §4.6.2); Apple sends 0.
        let request = ChildRequest {
            mode: chosen.encapsulation.mode(),
            protocol: idci.as_ref().map_or(0, |i| i.protocol),
            local_port: idcr.as_ref().map_or(0, |i| i.port),
            remote_port: idci.as_ref().map_or(0, |i| i.port),
        };
        let peer_original = m
            .all(nat_oa_type(natt))
            .next()
            .and_then(|b| NatOa::decode(b).ok())
            .map(|o| o.address)
            .or_else(|| {
                idci.as_ref()
                    .and_then(Identification::to_ip)
                    .filter(|ip| *ip != remote.ip())
            });
        // PFS (RFC 2409 §5.5): a KE in QM1 with the group of the transform.
        let ke = m.first(PayloadType::KeyExchange);
        let (our_dh, gxy): (Option<DhPrivateKey>, Option<Vec<u8>>) = match (chosen.pfs, ke) {
            (Some(g), Some(ke)) => {
                let k = g.generate(&mut self.rng)?;
                let s = k
                    .agree(ke)
                    .map_err(|e| Dropped::Unexpected(format!("PFS KE: {e}")))?;
                let s = s.as_ref().to_vec();
                (Some(k), Some(s))
            }
            (None, None) => (None, None),
            _ => return Err(Dropped::Unexpected("PFS group and KE disagree".into())),
        };
        let ours = self.config.phase2_lifetime;
        let offered = chosen.life.seconds.map(Duration::from_secs);
        let lifetime = offered.map_or(ours, |o| o.min(ours));
        let answer_lifetime = offered.is_some_and(|o| o > ours);
        let spi_in = self.random_spi();
        let nr = self.random_bytes(NONCE_LEN);
        let replaces = None;
        let child = self
            .build_child(
                id,
                &chosen,
                spi_in,
                gxy.as_deref(),
                ni,
                &nr,
                request,
                peer_original,
                lifetime,
                replaces,
            )
            .ok_or(Dropped::UnknownSa)?;
        let mut proposal = chosen.proposal.clone();
        proposal.spi = spi_in.to_vec();
        let reply = SaPayload {
            doi: offer.doi,
            situation: offer.situation,
            proposals: vec![proposal],
        }
        .to_vec();
        let ke_out = our_dh.as_ref().map(|k| k.public_value().to_vec());
        let mut after: Vec<(PayloadType, &[u8])> =
            vec![(PayloadType::Sa, &reply), (PayloadType::Nonce, &nr)];
        if let Some(k) = &ke_out {
            after.push((PayloadType::KeyExchange, k));
        }
        for i in &ids {
            after.push((PayloadType::Identification, i));
        }
        let (oai, oar) = (nat_oa(remote.ip()), nat_oa(local.ip()));
        if chosen.encapsulation == Encapsulation::UdpTransport {
            after.push((nat_oa_type(natt), &oai));
            after.push((nat_oa_type(natt), &oar));
        }
        let lt = if answer_lifetime {
            let mut b = Vec::new();
            Notification {
                doi: DOI_IPSEC,
                protocol: ProtocolId::IpsecEsp,
                notify_type: NotifyType::ResponderLifetime,
                spi: chosen.peer_spi.to_vec(),
                data: responder_lifetime_data(ours.as_secs()),
            }
            .encode(&mut b);
            b
        } else {
            Vec::new()
        };
        if !lt.is_empty() {
            after.push((PayloadType::Notification, &lt));
        }
        let (prf, ska) = self.skeyid_a(id).ok_or(Dropped::UnknownSa)?;
        let chain = chain_with_hash(
            |rest| {
                keymat::hash_with_message_id(prf, &ska, mid, &[ni, rest])
                    .as_ref()
                    .to_vec()
            },
            &after,
        );
        let (bytes, iv_after) =
            self.encrypt_chain(id, mid, ExchangeType::QuickMode, &next_iv, chain)?;
        let payload = self.send_raw(local, remote, &bytes);
        let mut q = QuickExchange {
            role: Role::Responder,
            iv: iv_after,
            flight: Default::default(),
            ni: ni.to_vec(),
            nr,
            dh: None,
            spi_in,
            request,
            replaces,
            pending: Some(Box::new(child)),
            done: false,
            expires: now + self.config.retransmit_initial * 64,
        };
        q.flight.last_in = Some(digest);
        Self::remember(
            &mut q.flight,
            payload,
            remote,
            local.port(),
            now,
            Some(self.config.retransmit_initial),
        );
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        sa.quick.insert(mid, q);
        sa.last_heard = now;
        Ok(())
    }

    /// Responder, QM3: HASH(3) proves the initiator has the keys; install.
    fn quick_r3(
        &mut self,
        now: Instant,
        id: SaId,
        header: &Header,
        msg: &[u8],
        digest: [u8; 32],
    ) -> Result<(), Dropped> {
        let mid = header.message_id;
        let (iv, ni, nr) = {
            let q = self
                .sas
                .get(&id)
                .and_then(|s| s.quick.get(&mid))
                .ok_or(Dropped::UnknownSa)?;
            (q.iv.clone(), q.ni.clone(), q.nr.clone())
        };
        let (m, next_iv) = self.decrypt_with(id, &iv, header, msg)?;
        let got = m
            .first(PayloadType::Hash)
            .ok_or_else(|| Dropped::BadAuth("QM3 without HASH".into()))?;
        let (prf, ska) = self.skeyid_a(id).ok_or(Dropped::UnknownSa)?;
        let expected = keymat::quick_mode_hash3(prf, &ska, mid, &ni, &nr);
        if got.is_empty() || !ct_eq(got, expected.as_ref()) {
            return Err(Dropped::BadAuth("HASH(3) mismatch".into()));
        }
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        sa.last_heard = now;
        let q = sa.quick.get_mut(&mid).ok_or(Dropped::UnknownSa)?;
        q.iv = next_iv;
        q.done = true;
        q.flight.last_in = Some(digest);
        q.flight.retransmit_at = None;
        q.expires = now + QUICK_LINGER;
        let request = q.request;
        let Some(child) = q.pending.take() else {
            return Ok(());
        };
        let suite = crate::proposal::Phase2Suite {
            encryption: child.inbound.encryption,
            integrity: child.inbound.integrity,
        };
        self.install_child(now, id, *child, Role::Responder, request, suite);
        Ok(())
    }

    /// Initiator, QM2: verify, read the choice, answer QM3, install.
    fn quick_i2(
        &mut self,
        now: Instant,
        id: SaId,
        header: &Header,
        msg: &[u8],
        digest: [u8; 32],
    ) -> Result<(), Dropped> {
        let mid = header.message_id;
        let (iv, ni) = {
            let q = self
                .sas
                .get(&id)
                .and_then(|s| s.quick.get(&mid))
                .ok_or(Dropped::UnknownSa)?;
            (q.iv.clone(), q.ni.clone())
        };
        let (m, next_iv) = self.decrypt_with(id, &iv, header, msg)?;
        self.check_quick_hash(id, mid, &m, Some(&ni))?;
        let sa_b = m
            .first(PayloadType::Sa)
            .ok_or_else(|| Dropped::Unexpected("QM2 without SA".into()))?;
        let nr = m
            .first(PayloadType::Nonce)
            .filter(|n| (8..=256).contains(&n.len()))
            .ok_or_else(|| Dropped::Unexpected("QM2 nonce".into()))?
            .to_vec();
        let answer = SaPayload::decode(sa_b)?;
        let chosen = accepted_phase2(&self.config.profile, &answer)
            .map_err(|r| Dropped::Unexpected(format!("QM2 choice: {r}")))?;
        let natt = self.sas.get(&id).and_then(|s| s.natt);
        let responder_lifetime = m
            .all(PayloadType::Notification)
            .filter_map(|b| Notification::decode(b).ok())
            .find(|n| n.notify_type == NotifyType::ResponderLifetime)
            .and_then(|n| parse_responder_lifetime(&n.data));
        let (spi_in, request, replaces, dh) = {
            let q = self
                .sas
                .get_mut(&id)
                .and_then(|s| s.quick.get_mut(&mid))
                .ok_or(Dropped::UnknownSa)?;
            (q.spi_in, q.request, q.replaces, q.dh.take())
        };
        let gxy = match (dh, m.first(PayloadType::KeyExchange)) {
            (Some(k), Some(ke)) => Some(
                k.agree(ke)
                    .map_err(|e| Dropped::Unexpected(format!("PFS KE: {e}")))?
                    .as_ref()
                    .to_vec(),
            ),
            (None, None) => None,
            _ => return Err(Dropped::Unexpected("PFS KE missing or unexpected".into())),
        };
        let ours = self.config.phase2_lifetime;
        let lifetime = responder_lifetime.map_or(ours, |s| Duration::from_secs(s).min(ours));
        let peer_original = m
            .all(nat_oa_type(natt))
            .nth(1)
            .and_then(|b| NatOa::decode(b).ok())
            .map(|o| o.address);
        let child = self
            .build_child(
                id,
                &chosen,
                spi_in,
                gxy.as_deref(),
                &ni,
                &nr,
                request,
                peer_original,
                lifetime,
                replaces,
            )
            .ok_or(Dropped::UnknownSa)?;
        let (prf, ska) = self.skeyid_a(id).ok_or(Dropped::UnknownSa)?;
        let h3 = keymat::quick_mode_hash3(prf, &ska, mid, &ni, &nr);
        let (bytes, iv_after) = {
            let (_, chain) = encode_payloads(&[(PayloadType::Hash, h3.as_ref())]);
            self.encrypt_chain(id, mid, ExchangeType::QuickMode, &next_iv, chain)?
        };
        let (local, remote) = self
            .sas
            .get(&id)
            .map(|s| (s.local, s.remote))
            .ok_or(Dropped::UnknownSa)?;
        let payload = self.send_raw(local, remote, &bytes);
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        sa.last_heard = now;
        let q = sa.quick.get_mut(&mid).ok_or(Dropped::UnknownSa)?;
        q.iv = iv_after;
        q.nr = nr;
        q.done = true;
        q.expires = now + QUICK_LINGER;
        Self::remember(&mut q.flight, payload, remote, local.port(), now, None);
        q.flight.last_in = Some(digest);
        self.install_child(now, id, child, Role::Initiator, request, chosen.suite);
        Ok(())
    }
}
