//! Phase 1: Main Mode (both roles) and Aggressive Mode (responder), RFC 2409 §5, with NAT
//! detection (RFC 3947 §3), pre-shared keys and RSA signatures.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use zeroize::Zeroizing;

use crate::cert::{end_entity_index, id_matches, verify_ikev1, Certificate};
use crate::config::ChildRequest;
use crate::crypto::{ct_eq, keymat, Phase1Cipher};
use crate::endpoint::{DownReason, Dropped, Endpoint, Event, FlightRef, Inbound, Phase1Info};
use crate::proposal::{choose_phase1, describe_phase1, offer_phase1, AuthMethod};
use crate::sa::{IsakmpSa, P1Crypto, P1State, Role, SaId};
use crate::wire::vendor::{self, NatTraversal};
use crate::wire::{
    split_payloads, CertEncoding, CertificateRequest, ExchangeType, Flags, Header, IdType,
    Identification, Notification, NotifyType, PayloadType, ProtocolId, SaPayload, DOI_IPSEC,
    HEADER_LEN,
};

/// Nonce length we send (RFC 2409 §5: 8 to 256 bytes).
pub(crate) const NONCE_LEN: usize = 32;

/// NAT-D hash (RFC 3947 §3.2): HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash.
pub(crate) fn nat_d(sa: &IsakmpSa, addr: SocketAddr) -> Vec<u8> {
    let ip: Vec<u8> = match addr.ip() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    sa.hash()
        .hash(&[&sa.cky_i, &sa.cky_r, &ip, &addr.port().to_be_bytes()])
        .as_ref()
        .to_vec()
}

fn nonce_ok(n: &[u8]) -> bool {
    (8..=256).contains(&n.len())
}

impl Endpoint {
    /// Decrypts a message's body with `iv`; returns the plaintext and the next IV (the last
    /// ciphertext block, RFC 2409 App. B).
    pub(crate) fn decrypt(
        cipher: &Phase1Cipher,
        iv: &[u8],
        header: &Header,
        msg: &[u8],
    ) -> Result<(Inbound, Vec<u8>), Dropped> {
        let body = header.body(msg);
        let bs = cipher.block_len();
        if body.is_empty() || !body.len().is_multiple_of(bs) {
            return Err(Dropped::BadAuth(format!(
                "ciphertext of {} bytes",
                body.len()
            )));
        }
        let next_iv = body[body.len() - bs..].to_vec();
        let mut plain = body.to_vec();
        cipher.decrypt(iv, &mut plain)?;
        let payloads = split_payloads(header.next_payload, &plain)
            .map_err(|e| Dropped::BadAuth(format!("after decryption: {e}")))?;
        Ok((Inbound { plain, payloads }, next_iv))
    }

    /// Encodes and encrypts a message; returns it and the next IV.
    pub(crate) fn encrypt(
        cipher: &Phase1Cipher,
        iv: &[u8],
        header: &Header,
        items: &[(PayloadType, &[u8])],
    ) -> Result<(Vec<u8>, Vec<u8>), Dropped> {
        let (first, mut body) = crate::wire::encode_payloads(items);
        let bs = cipher.block_len();
        let pad = (bs - body.len() % bs) % bs;
        body.resize(body.len() + pad, 0);
        cipher.encrypt(iv, &mut body)?;
        let next_iv = body[body.len() - bs..].to_vec();
        let h = Header {
            next_payload: first,
            flags: header.flags.with(Flags::ENCRYPTION),
            length: u32::try_from(HEADER_LEN + body.len()).unwrap_or(u32::MAX),
            ..*header
        };
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        h.encode(&mut out);
        out.extend_from_slice(&body);
        Ok((out, next_iv))
    }

    pub(crate) fn plain(header: &Header, msg: &[u8]) -> Result<Inbound, Dropped> {
        if header.flags.contains(Flags::ENCRYPTION) {
            return Err(Dropped::Unexpected("encrypted before keys exist".into()));
        }
        let plain = header.body(msg).to_vec();
        let payloads = split_payloads(header.next_payload, &plain)?;
        Ok(Inbound { plain, payloads })
    }

    fn header_for(sa: &IsakmpSa, exchange: ExchangeType, message_id: u32) -> Header {
        Header {
            initiator_cookie: sa.cky_i,
            responder_cookie: sa.cky_r,
            next_payload: PayloadType::None,
            version: crate::wire::ISAKMP_VERSION,
            exchange_type: exchange,
            flags: Flags::NONE,
            message_id,
            length: 0,
        }
    }

    fn our_vendor_ids(&self, natt: Option<&[u8]>) -> Vec<&'static [u8]> {
        let mut v: Vec<&'static [u8]> = Vec::new();
        match natt {
            Some(peer) if self.config.nat_traversal => {
                // Answer with the variant the peer offered that we prefer.
                if let Some(x) = vendor::NAT_T.iter().find(|x| **x == peer) {
                    v.push(x);
                }
            }
            None if self.config.nat_traversal => v.extend_from_slice(vendor::NAT_T),
            _ => {}
        }
        v.push(vendor::DPD);
        v.push(vendor::FRAGMENTATION);
        v
    }

    /// Reads the peer's Vendor IDs; returns the NAT-T VID we answer with.
    fn read_vendor_ids(&mut self, id: SaId, msg: &Inbound) -> Option<&'static [u8]> {
        let mut best: Option<&'static [u8]> = None;
        let natt_on = self.config.nat_traversal;
        let sa = self.sas.get_mut(&id)?;
        for vid in msg.all(PayloadType::VendorId) {
            if natt_on {
                if let Some(v) = vendor::NAT_T.iter().position(|x| *x == vid) {
                    // NAT_T is ordered by preference.
                    if best.is_none_or(|b| {
                        vendor::NAT_T
                            .iter()
                            .position(|x| *x == b)
                            .is_some_and(|p| v < p)
                    }) {
                        best = Some(vendor::NAT_T[v]);
                    }
                }
            }
            if vendor::supports_dpd(vid) {
                sa.dpd.peer_supports = true;
            }
            if vendor::supports_fragmentation(vid) {
                sa.peer_fragmentation = true;
            }
        }
        sa.natt = best.and_then(vendor::nat_traversal);
        best
    }

    fn nat_d_type(sa: &IsakmpSa) -> PayloadType {
        match sa.natt {
            Some(NatTraversal::Draft) => PayloadType::NatDDraft,
            _ => PayloadType::NatD,
        }
    }

    /// NAT-D payloads we send: the peer's address as we see it, then ours (a random value
    /// when pretending to be behind a NAT).
    fn our_nat_d(&mut self, id: SaId) -> Vec<Vec<u8>> {
        let force = self.config.force_encapsulation;
        let Some(sa) = self.sas.get(&id) else {
            return Vec::new();
        };
        if sa.natt.is_none() {
            return Vec::new();
        }
        let remote = nat_d(sa, sa.remote);
        let local = if force {
            let n = remote.len();
            self.random_bytes(n)
        } else {
            nat_d(sa, sa.local)
        };
        vec![remote, local]
    }

    /// Reads the peer's NAT-D payloads (RFC 3947 §3.2): the first is our address as the
    /// peer sees it, the others the peer's own.
    fn detect_nat(&mut self, id: SaId, msg: &Inbound) {
        let force = self.config.force_encapsulation;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if sa.natt.is_none() {
            return;
        }
        let kind = Self::nat_d_type(sa);
        let hashes: Vec<&[u8]> = msg.all(kind).collect();
        if hashes.is_empty() {
            sa.natt = None;
            return;
        }
        let ours = nat_d(sa, sa.local);
        let theirs = nat_d(sa, sa.remote);
        sa.local_behind_nat = force || !ct_eq(hashes[0], &ours);
        sa.peer_behind_nat = !hashes[1..].iter().any(|h| ct_eq(h, &theirs));
    }

    fn our_id(&self, sa: &IsakmpSa) -> Identification {
        if let Some(id) = &self.config.local_id {
            return id.clone();
        }
        match (&self.config.certificate, sa.auth) {
            (Some(c), AuthMethod::RsaSignature) => Identification {
                id_type: IdType::DerAsn1Dn,
                protocol: 17,
                port: self.config.ike_port,
                data: c.certificate.subject_der().to_vec(),
            },
            _ => Identification::ip(sa.local.ip(), 17, self.config.ike_port),
        }
    }

    fn certreqs(&self) -> Vec<Vec<u8>> {
        let Some(c) = &self.config.certificate else {
            return Vec::new();
        };
        c.trust
            .cas()
            .iter()
            .map(|ca| {
                let mut b = Vec::new();
                CertificateRequest {
                    encoding: CertEncoding::X509Signature,
                    authority: ca.subject_der().to_vec(),
                }
                .encode(&mut b);
                b
            })
            .collect()
    }

    fn our_certs(&self) -> Vec<Vec<u8>> {
        let Some(c) = &self.config.certificate else {
            return Vec::new();
        };
        core::iter::once(&c.certificate)
            .chain(c.chain.iter())
            .map(|cert| {
                let mut b = Vec::new();
                crate::wire::Certificate {
                    encoding: CertEncoding::X509Signature,
                    data: cert.der().to_vec(),
                }
                .encode(&mut b);
                b
            })
            .collect()
    }

    /// Computes DH, SKEYID and the phase 1 keys once both KE and nonces are known.
    fn derive_keys(&mut self, id: SaId, peer_ke: &[u8]) -> Result<(), Dropped> {
        let Some(sa) = self.sas.get(&id) else {
            return Err(Dropped::UnknownSa);
        };
        let suite = sa
            .suite
            .ok_or_else(|| Dropped::Unexpected("no suite".into()))?;
        let gxy = match &sa.gxy {
            Some(g) => g.clone(),
            None => {
                let dh = sa
                    .dh
                    .as_ref()
                    .ok_or_else(|| Dropped::Unexpected("no DH".into()))?;
                let g = dh
                    .agree(peer_ke)
                    .map_err(|e| Dropped::Unexpected(format!("KE: {e}")))?;
                Zeroizing::new(g.as_ref().to_vec())
            }
        };
        let skeyid = match sa.auth {
            AuthMethod::PreSharedKey => {
                let psk = sa
                    .psk
                    .as_ref()
                    .ok_or_else(|| Dropped::Refused("no pre-shared key for this peer".into()))?;
                keymat::skeyid_psk(suite.hash, psk, &sa.ni, &sa.nr)
            }
            AuthMethod::RsaSignature => {
                keymat::skeyid_sig(suite.hash, &sa.ni, &sa.nr, gxy.as_ref())
            }
        };
        let keys = keymat::derive_phase1(
            suite.hash,
            skeyid,
            gxy.as_ref(),
            &sa.cky_i,
            &sa.cky_r,
            suite.cipher,
            suite.cipher.key_len(),
            &sa.gxi,
            &sa.gxr,
        );
        // Checks the key now; the schedule itself is built per message (P1Crypto::cipher).
        Phase1Cipher::new(suite.cipher, &keys.ka)?;
        let iv = keys.iv.clone();
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        sa.crypto = Some(Box::new(P1Crypto {
            keys,
            alg: suite.cipher,
            iv,
        }));
        sa.gxy = Some(gxy);
        Ok(())
    }

    /// Responder, MM5 with pre-shared keys: the key chosen by address (or the group key)
    /// did not decrypt and verify, so try the keys configured per peer ID, checking that the
    /// ID inside is the one the key is for (seed 001 §5.1.4: per-peer keys in Main Mode).
    fn try_id_keys(
        &mut self,
        now: Instant,
        id: SaId,
        header: &Header,
        msg: &[u8],
    ) -> Option<(Inbound, Vec<u8>, Identification)> {
        let ke = self.sas.get(&id)?.gxi.clone();
        let candidates: Vec<(Vec<u8>, Zeroizing<Vec<u8>>)> = self
            .config
            .psk
            .iter()
            .filter_map(|e| match &e.peer {
                crate::config::PeerSelector::Id(x) => Some((x.clone(), e.secret.clone())),
                _ => None,
            })
            .take(64)
            .collect();
        for (want, secret) in candidates {
            self.sas.get_mut(&id)?.psk = Some(secret);
            if self.derive_keys(id, &ke).is_err() {
                continue;
            }
            let sa = self.sas.get(&id)?;
            let c = sa.crypto.as_ref()?;
            let Ok((m, next_iv)) = c
                .cipher()
                .map_err(Dropped::from)
                .and_then(|k| Self::decrypt(&k, &c.iv, header, msg))
            else {
                continue;
            };
            match self.verify_peer(now, id, &m, true) {
                Ok(peer) if peer.data == want => {
                    self.sas.get_mut(&id)?.group_key = false;
                    return Some((m, next_iv, peer));
                }
                _ => continue,
            }
        }
        None
    }

    fn choose_psk(&mut self, id: SaId, peer_id: Option<&[u8]>) -> Result<(), Dropped> {
        let Some(sa) = self.sas.get(&id) else {
            return Err(Dropped::UnknownSa);
        };
        if sa.auth != AuthMethod::PreSharedKey {
            return Ok(());
        }
        let remote = sa.remote.ip();
        let entry = self.config.find_psk(remote, peer_id).cloned();
        let Some(entry) = entry else {
            tracing::warn!(%remote, "IKE no pre-shared key for this peer");
            return Err(Dropped::Refused("no pre-shared key".into()));
        };
        let group = entry.peer == crate::config::PeerSelector::Any;
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        sa.psk = Some(entry.secret.clone());
        sa.group_key = group;
        Ok(())
    }

    /// HASH_I or HASH_R over the stored exchange values.
    fn auth_hash(sa: &IsakmpSa, initiator: bool, id_b: &[u8]) -> Option<crate::crypto::Digest> {
        let c = sa.crypto.as_ref()?;
        let prf = sa.hash();
        let skeyid = c.keys.skeyid.as_ref();
        Some(if initiator {
            keymat::hash_i(
                prf, skeyid, &sa.gxi, &sa.gxr, &sa.cky_i, &sa.cky_r, &sa.sai_b, id_b,
            )
        } else {
            keymat::hash_r(
                prf, skeyid, &sa.gxi, &sa.gxr, &sa.cky_i, &sa.cky_r, &sa.sai_b, id_b,
            )
        })
    }

    /// Our authentication payloads: HASH, or CERT(s) and SIG.
    fn our_auth(
        &self,
        sa: &IsakmpSa,
        initiator: bool,
        id_b: &[u8],
    ) -> Result<Vec<(PayloadType, Vec<u8>)>, Dropped> {
        let hash = Self::auth_hash(sa, initiator, id_b)
            .ok_or_else(|| Dropped::Unexpected("no keys".into()))?;
        match sa.auth {
            AuthMethod::PreSharedKey => Ok(vec![(PayloadType::Hash, hash.as_ref().to_vec())]),
            AuthMethod::RsaSignature => {
                let c = self
                    .config
                    .certificate
                    .as_ref()
                    .ok_or_else(|| Dropped::Refused("no certificate".into()))?;
                let sig = c
                    .key
                    .sign_ikev1(hash.as_ref())
                    .map_err(|e| Dropped::Refused(format!("signing: {e}")))?;
                let mut v: Vec<_> = self
                    .our_certs()
                    .into_iter()
                    .map(|b| (PayloadType::Certificate, b))
                    .collect();
                v.push((PayloadType::Signature, sig));
                Ok(v)
            }
        }
    }

    /// Checks the peer's HASH or SIG (with its certificate chain) over its ID.
    fn verify_peer(
        &mut self,
        now: Instant,
        id: SaId,
        msg: &Inbound,
        initiator: bool,
    ) -> Result<Identification, Dropped> {
        let id_b = msg
            .first(PayloadType::Identification)
            .ok_or_else(|| Dropped::Unexpected("no ID".into()))?;
        let peer_id = Identification::decode(id_b)?;
        let Some(sa) = self.sas.get(&id) else {
            return Err(Dropped::UnknownSa);
        };
        let expected = Self::auth_hash(sa, initiator, id_b)
            .ok_or_else(|| Dropped::Unexpected("no keys".into()))?;
        match sa.auth {
            AuthMethod::PreSharedKey => {
                let got = msg
                    .first(PayloadType::Hash)
                    .ok_or_else(|| Dropped::BadAuth("no HASH".into()))?;
                if !ct_eq(got, expected.as_ref()) {
                    return Err(Dropped::BadAuth(
                        "HASH mismatch (wrong pre-shared key?)".into(),
                    ));
                }
            }
            AuthMethod::RsaSignature => {
                let c = self
                    .config
                    .certificate
                    .as_ref()
                    .ok_or_else(|| Dropped::Refused("no certificate config".into()))?;
                let mut certs = Vec::new();
                for body in msg.all(PayloadType::Certificate).take(8) {
                    let p = crate::wire::Certificate::decode(body)?;
                    let parsed = match p.encoding {
                        CertEncoding::X509Signature => {
                            Certificate::from_der(&p.data).map(|c| vec![c])
                        }
                        // strongSwan and some Windows versions may send the chain as PKCS#7.
                        CertEncoding::Pkcs7 => Certificate::from_pkcs7(&p.data),
                        _ => continue,
                    };
                    certs
                        .extend(parsed.map_err(|e| Dropped::BadAuth(format!("certificate: {e}")))?);
                }
                // The peer's own certificate is the one its ID names, wherever it came.
                let ee_at = end_entity_index(&certs, peer_id.id_type.value(), &peer_id.data)
                    .ok_or_else(|| Dropped::BadAuth("no certificate".into()))?;
                let ee = certs.swap_remove(ee_at);
                let (ee, chain) = (&ee, certs.as_slice());
                let unix = self.unix_time(now);
                c.trust.validate(ee, chain, unix).map_err(|e| {
                    Dropped::BadAuth(format!("certificate {}: {e}", ee.subject_string()))
                })?;
                if !id_matches(ee, peer_id.id_type.value(), &peer_id.data) {
                    return Err(Dropped::BadAuth(format!(
                        "ID does not match certificate {}",
                        ee.subject_string()
                    )));
                }
                let sig = msg
                    .first(PayloadType::Signature)
                    .ok_or_else(|| Dropped::BadAuth("no SIG".into()))?;
                verify_ikev1(ee, expected.as_ref(), sig)
                    .map_err(|e| Dropped::BadAuth(format!("signature: {e}")))?;
                let subject = ee.subject_string();
                if let Some(sa) = self.sas.get_mut(&id) {
                    sa.peer_subject = Some(subject);
                }
            }
        }
        Ok(peer_id)
    }

    /// Sends a plaintext phase 1 message and records it.
    fn send_phase1_plain(
        &mut self,
        now: Instant,
        id: SaId,
        items: &[(PayloadType, &[u8])],
        retransmit: bool,
    ) {
        let Some(sa) = self.sas.get(&id) else { return };
        let header = Self::header_for(sa, sa.mode, 0);
        let bytes = crate::wire::encode_message(&header, items);
        let (local, remote) = (sa.local, sa.remote);
        let payload = self.send_raw(local, remote, &bytes);
        let rt = retransmit.then_some(self.config.retransmit_initial);
        if let Some(sa) = self.sas.get_mut(&id) {
            Self::remember(&mut sa.flight, payload, remote, local.port(), now, rt);
        }
    }

    /// Encrypts and sends a phase 1 message under the phase 1 IV chain.
    fn send_phase1_encrypted(
        &mut self,
        now: Instant,
        id: SaId,
        items: &[(PayloadType, &[u8])],
        retransmit: bool,
    ) -> Result<(), Dropped> {
        let Some(sa) = self.sas.get(&id) else {
            return Err(Dropped::UnknownSa);
        };
        let header = Self::header_for(sa, sa.mode, 0);
        let c = sa
            .crypto
            .as_ref()
            .ok_or_else(|| Dropped::Unexpected("no keys".into()))?;
        let (bytes, next_iv) = Self::encrypt(&c.cipher()?, &c.iv, &header, items)?;
        let (local, remote) = (sa.local, sa.remote);
        let payload = self.send_raw(local, remote, &bytes);
        let rt = retransmit.then_some(self.config.retransmit_initial);
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        if let Some(c) = sa.crypto.as_mut() {
            c.iv = next_iv;
        }
        Self::remember(&mut sa.flight, payload, remote, local.port(), now, rt);
        Ok(())
    }

    /// An unencrypted notification to a peer that has no SA with us (NO_PROPOSAL_CHOSEN),
    /// rate-limited: it answers unauthenticated input.
    fn send_plain_notify(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        cky_i: [u8; 8],
        notify_type: NotifyType,
    ) {
        if self.notify_limit.check(now).is_none() {
            return;
        }
        let n = Notification {
            doi: DOI_IPSEC,
            protocol: ProtocolId::Isakmp,
            notify_type,
            spi: Vec::new(),
            data: Vec::new(),
        };
        let mut body = Vec::new();
        n.encode(&mut body);
        let header = Header {
            initiator_cookie: cky_i,
            responder_cookie: [0; 8],
            next_payload: PayloadType::None,
            version: crate::wire::ISAKMP_VERSION,
            exchange_type: ExchangeType::Informational,
            flags: Flags::NONE,
            message_id: 0,
            length: 0,
        };
        let bytes = crate::wire::encode_message(&header, &[(PayloadType::Notification, &body)]);
        self.send_raw(local, remote, &bytes);
    }

    /// Initiator: Main Mode message 1.
    pub(crate) fn initiate_main_mode(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        wanted: Vec<ChildRequest>,
    ) -> SaId {
        let id = self.alloc_id();
        let cky_i = self.random_cookie();
        let mut sa = IsakmpSa::new(
            id,
            Role::Initiator,
            ExchangeType::IdentityProtection,
            local,
            remote,
            cky_i,
            now,
        );
        sa.wanted = wanted;
        sa.auth = if self.config.certificate.is_some() {
            AuthMethod::RsaSignature
        } else {
            AuthMethod::PreSharedKey
        };
        let offer = offer_phase1(&self.config.profile, sa.auth, self.config.phase1_lifetime);
        offer.encode(&mut sa.sai_b);
        let sai_b = sa.sai_b.clone();
        self.sas.insert(id, sa);
        self.by_icookie.insert(cky_i, id);
        let vids = self.our_vendor_ids(None);
        let mut items: Vec<(PayloadType, &[u8])> = vec![(PayloadType::Sa, &sai_b)];
        items.extend(vids.iter().map(|v| (PayloadType::VendorId, *v)));
        self.send_phase1_plain(now, id, &items, true);
        tracing::debug!(sa = id.0, %remote, "IKE main mode initiated");
        id
    }

    /// A phase 1 message (message ID 0) for an SA we hold.
    pub(crate) fn phase1_message(
        &mut self,
        now: Instant,
        id: SaId,
        local: SocketAddr,
        remote: SocketAddr,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        let digest = Self::digest(msg);
        let Some(sa) = self.sas.get(&id) else {
            return Err(Dropped::UnknownSa);
        };
        if sa.flight.last_in == Some(digest) {
            return self.echo(now, FlightRef::Phase1(id));
        }
        if header.exchange_type != sa.mode {
            return Err(Dropped::Unexpected(format!(
                "exchange {:?} in a {:?} SA",
                header.exchange_type, sa.mode
            )));
        }
        let r = match sa.state {
            P1State::New if sa.mode == ExchangeType::Aggressive => self.am_r1(now, id, header, msg),
            P1State::New => self.mm_r1(now, id, header, msg),
            P1State::MmR2 => self.mm_r3(now, id, header, msg),
            P1State::MmR4 => self.mm_r5(now, id, local, remote, header, msg),
            P1State::AmR2 => self.am_r3(now, id, local, remote, header, msg),
            P1State::MmI1 => self.mm_i2(now, id, header, msg),
            P1State::MmI3 => self.mm_i4(now, id, header, msg),
            P1State::MmI5 => self.mm_i6(now, id, header, msg),
            P1State::Established | P1State::Gone => {
                Err(Dropped::Unexpected("phase 1 message after phase 1".into()))
            }
        };
        if r.is_ok() {
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.flight.last_in = Some(digest);
                sa.last_heard = now;
            }
        }
        r
    }

    /// Responder: the transform chosen from message 1's offer, or NO_PROPOSAL_CHOSEN (rate
    /// limited) and a log line with the reason for every refused transform.
    fn choose_or_refuse(
        &mut self,
        now: Instant,
        id: SaId,
        header: &Header,
        offer: &SaPayload,
    ) -> Result<crate::proposal::ChosenPhase1, Dropped> {
        let (local, remote) = self
            .sas
            .get(&id)
            .map(|s| (s.local, s.remote))
            .ok_or(Dropped::UnknownSa)?;
        choose_phase1(&self.config.profile, &self.config.auth_methods(), offer).map_err(|refusal| {
            self.stats.no_proposal += 1;
            if self.log_limit.check(now).is_some() {
                tracing::info!(%remote, profile = self.config.profile.name, exchange = ?header.exchange_type, "IKE no proposal chosen: {refusal}");
            }
            self.send_plain_notify(now, local, remote, header.initiator_cookie, NotifyType::NoProposalChosen);
            Dropped::Refused("no proposal chosen".into())
        })
    }

    /// Responder, MM1: choose a transform, answer with MM2 (no DH work yet: a spoofed MM1
    /// costs us one small message).
    fn mm_r1(
        &mut self,
        now: Instant,
        id: SaId,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        let m = Self::plain(header, msg)?;
        let sa_b = m
            .first(PayloadType::Sa)
            .ok_or_else(|| Dropped::Unexpected("MM1 without SA".into()))?;
        let offer = SaPayload::decode(sa_b)?;
        let chosen = self.choose_or_refuse(now, id, header, &offer)?;
        let natt_vid = self.read_vendor_ids(id, &m);
        let cky_r = self.random_cookie();
        let lifetime = chosen
            .life
            .duration_or(self.config.phase1_lifetime)
            .min(self.config.phase1_lifetime);
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        sa.cky_r = cky_r;
        sa.suite = Some(chosen.suite);
        sa.auth = chosen.auth;
        sa.lifetime = lifetime;
        sa.sai_b = sa_b.to_vec();
        sa.state = P1State::MmR2;
        let mut reply = Vec::new();
        chosen.reply.encode(&mut reply);
        let vids = self.our_vendor_ids(natt_vid.or(Some(&[])));
        let mut items: Vec<(PayloadType, &[u8])> = vec![(PayloadType::Sa, &reply)];
        items.extend(vids.iter().map(|v| (PayloadType::VendorId, *v)));
        self.send_phase1_plain(now, id, &items, false);
        tracing::debug!(
            sa = id.0,
            suite = describe_phase1(&chosen.suite),
            "IKE MM2 sent"
        );
        Ok(())
    }

    /// Responder, MM3: KE and nonce in, keys derived, MM4 out.
    fn mm_r3(
        &mut self,
        now: Instant,
        id: SaId,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        let m = Self::plain(header, msg)?;
        let ke = m
            .first(PayloadType::KeyExchange)
            .ok_or_else(|| Dropped::Unexpected("MM3 without KE".into()))?;
        let ni = m
            .first(PayloadType::Nonce)
            .filter(|n| nonce_ok(n))
            .ok_or_else(|| Dropped::Unexpected("MM3 nonce".into()))?;
        let group = self
            .sas
            .get(&id)
            .and_then(|s| s.suite)
            .map(|s| s.group)
            .ok_or(Dropped::UnknownSa)?;
        if ke.len() != group.public_len() {
            return Err(Dropped::Unexpected(format!(
                "KE of {} bytes for {group:?}",
                ke.len()
            )));
        }
        let id_keys = self
            .config
            .psk
            .iter()
            .any(|e| matches!(e.peer, crate::config::PeerSelector::Id(_)));
        let have_key = match self.choose_psk(id, None) {
            Ok(()) => true,
            // Keys per ID only: chosen in MM5, once the ID can be read (try_id_keys).
            Err(_) if id_keys => false,
            Err(e) => return Err(e),
        };
        let dh = group.generate(&mut self.rng)?;
        let nr = self.random_bytes(NONCE_LEN);
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        sa.gxi = ke.to_vec();
        sa.gxr = dh.public_value().to_vec();
        sa.dh = Some(dh);
        sa.ni = ni.to_vec();
        sa.nr = nr;
        sa.peer_certreq = m.first(PayloadType::CertificateRequest).is_some();
        if have_key {
            self.derive_keys(id, ke)?;
        } else {
            let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
            let dh = sa.dh.as_ref().ok_or(Dropped::UnknownSa)?;
            let g = dh
                .agree(ke)
                .map_err(|e| Dropped::Unexpected(format!("KE: {e}")))?;
            sa.gxy = Some(Zeroizing::new(g.as_ref().to_vec()));
        }
        self.detect_nat(id, &m);
        let natd = self.our_nat_d(id);
        let certreqs = if self
            .sas
            .get(&id)
            .is_some_and(|s| s.auth == AuthMethod::RsaSignature)
        {
            self.certreqs()
        } else {
            Vec::new()
        };
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        sa.state = P1State::MmR4;
        let (gxr, nr) = (sa.gxr.clone(), sa.nr.clone());
        let natd_type = Self::nat_d_type(sa);
        let mut items: Vec<(PayloadType, &[u8])> =
            vec![(PayloadType::KeyExchange, &gxr), (PayloadType::Nonce, &nr)];
        items.extend(
            certreqs
                .iter()
                .map(|c| (PayloadType::CertificateRequest, c.as_slice())),
        );
        items.extend(natd.iter().map(|h| (natd_type, h.as_slice())));
        self.send_phase1_plain(now, id, &items, false);
        Ok(())
    }

    /// Moves the SA to the address a protected message came from (NAT-T floating to 4500,
    /// or a NAT rebinding), RFC 3947 §4.
    fn follow_peer(&mut self, id: SaId, local: SocketAddr, remote: SocketAddr) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if sa.natt.is_some() && (sa.local != local || sa.remote != remote) {
            tracing::debug!(sa = id.0, from = %sa.remote, to = %remote, "IKE peer floated");
            sa.local = local;
            sa.remote = remote;
        }
    }

    /// Responder, MM5: authenticate the initiator, answer MM6, established.
    fn mm_r5(
        &mut self,
        now: Instant,
        id: SaId,
        local: SocketAddr,
        remote: SocketAddr,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        if !header.flags.contains(Flags::ENCRYPTION) {
            return Err(Dropped::Unexpected("MM5 not encrypted".into()));
        }
        let first = {
            let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
            match sa.crypto.as_ref() {
                Some(c) => c
                    .cipher()
                    .map_err(Dropped::from)
                    .and_then(|k| Self::decrypt(&k, &c.iv, header, msg)),
                None => Err(Dropped::BadAuth("no key chosen yet".into())),
            }
        };
        let verified =
            first.and_then(|(m, iv)| self.verify_peer(now, id, &m, true).map(|p| (m, iv, p)));
        let psk = self
            .sas
            .get(&id)
            .is_some_and(|s| s.auth == AuthMethod::PreSharedKey);
        let (m, next_iv, peer_id) = match verified {
            Ok(v) => v,
            Err(e) if psk => self.try_id_keys(now, id, header, msg).ok_or(e)?,
            Err(e) => return Err(e),
        };
        let initial_contact = m
            .all(PayloadType::Notification)
            .filter_map(|b| Notification::decode(b).ok())
            .any(|n| n.notify_type == NotifyType::InitialContact);
        self.follow_peer(id, local, remote);
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        if let Some(c) = sa.crypto.as_mut() {
            c.iv = next_iv;
        }
        sa.peer_id = Some(peer_id);
        sa.initial_contact = initial_contact;
        let our_id = self.our_id(self.sas.get(&id).ok_or(Dropped::UnknownSa)?);
        let mut id_b = Vec::new();
        our_id.encode(&mut id_b);
        let auth = self.our_auth(self.sas.get(&id).ok_or(Dropped::UnknownSa)?, false, &id_b)?;
        let mut items: Vec<(PayloadType, &[u8])> = vec![(PayloadType::Identification, &id_b)];
        items.extend(auth.iter().map(|(k, b)| (*k, b.as_slice())));
        self.send_phase1_encrypted(now, id, &items, false)?;
        self.phase1_established(now, id);
        Ok(())
    }

    /// Responder, AM1: everything at once; AM2 carries our KE, nonce, ID and HASH_R.
    fn am_r1(
        &mut self,
        now: Instant,
        id: SaId,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        let m = Self::plain(header, msg)?;
        let sa_b = m
            .first(PayloadType::Sa)
            .ok_or_else(|| Dropped::Unexpected("AM1 without SA".into()))?;
        let ke = m
            .first(PayloadType::KeyExchange)
            .ok_or_else(|| Dropped::Unexpected("AM1 without KE".into()))?;
        let ni = m
            .first(PayloadType::Nonce)
            .filter(|n| nonce_ok(n))
            .ok_or_else(|| Dropped::Unexpected("AM1 nonce".into()))?;
        let idii_b = m
            .first(PayloadType::Identification)
            .ok_or_else(|| Dropped::Unexpected("AM1 without ID".into()))?;
        let peer_id = Identification::decode(idii_b)?;
        let offer = SaPayload::decode(sa_b)?;
        let chosen = self.choose_or_refuse(now, id, header, &offer)?;
        if ke.len() != chosen.suite.group.public_len() {
            return Err(Dropped::Unexpected("KE length".into()));
        }
        let natt_vid = self.read_vendor_ids(id, &m);
        let cky_r = self.random_cookie();
        let dh = chosen.suite.group.generate(&mut self.rng)?;
        let nr = self.random_bytes(NONCE_LEN);
        let lifetime = chosen
            .life
            .duration_or(self.config.phase1_lifetime)
            .min(self.config.phase1_lifetime);
        {
            let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
            sa.cky_r = cky_r;
            sa.suite = Some(chosen.suite);
            sa.auth = chosen.auth;
            sa.lifetime = lifetime;
            sa.sai_b = sa_b.to_vec();
            sa.gxi = ke.to_vec();
            sa.gxr = dh.public_value().to_vec();
            sa.dh = Some(dh);
            sa.ni = ni.to_vec();
            sa.nr = nr;
            sa.peer_id = Some(peer_id.clone());
        }
        self.choose_psk(id, Some(&peer_id.data))?;
        self.derive_keys(id, ke)?;
        self.detect_nat(id, &m);
        let our_id = self.our_id(self.sas.get(&id).ok_or(Dropped::UnknownSa)?);
        let mut id_b = Vec::new();
        our_id.encode(&mut id_b);
        let auth = self.our_auth(self.sas.get(&id).ok_or(Dropped::UnknownSa)?, false, &id_b)?;
        let natd = self.our_nat_d(id);
        let vids = self.our_vendor_ids(natt_vid.or(Some(&[])));
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        sa.state = P1State::AmR2;
        sa.our_id_b = id_b.clone();
        let (gxr, nr) = (sa.gxr.clone(), sa.nr.clone());
        let natd_type = Self::nat_d_type(sa);
        let mut reply = Vec::new();
        chosen.reply.encode(&mut reply);
        let mut items: Vec<(PayloadType, &[u8])> = vec![
            (PayloadType::Sa, &reply),
            (PayloadType::KeyExchange, &gxr),
            (PayloadType::Nonce, &nr),
            (PayloadType::Identification, &id_b),
        ];
        items.extend(auth.iter().map(|(k, b)| (*k, b.as_slice())));
        items.extend(vids.iter().map(|v| (PayloadType::VendorId, *v)));
        items.extend(natd.iter().map(|h| (natd_type, h.as_slice())));
        self.send_phase1_plain(now, id, &items, false);
        Ok(())
    }

    /// Responder, AM3: the initiator's HASH_I (encrypted or not), NAT-D.
    fn am_r3(
        &mut self,
        now: Instant,
        id: SaId,
        local: SocketAddr,
        remote: SocketAddr,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        let (m, next_iv) = if header.flags.contains(Flags::ENCRYPTION) {
            let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
            let c = sa.crypto.as_ref().ok_or(Dropped::UnknownSa)?;
            let (m, iv) = Self::decrypt(&c.cipher()?, &c.iv, header, msg)?;
            (m, Some(iv))
        } else {
            (Self::plain(header, msg)?, None)
        };
        let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
        let peer_id = sa.peer_id.clone().ok_or(Dropped::UnknownSa)?;
        let mut idii_b = Vec::new();
        peer_id.encode(&mut idii_b);
        // AM3 has no ID: verify against the AM1 ID.
        let expected = Self::auth_hash(sa, true, &idii_b).ok_or(Dropped::UnknownSa)?;
        match sa.auth {
            AuthMethod::PreSharedKey => {
                let got = m
                    .first(PayloadType::Hash)
                    .ok_or_else(|| Dropped::BadAuth("no HASH".into()))?;
                if !ct_eq(got, expected.as_ref()) {
                    return Err(Dropped::BadAuth("HASH_I mismatch".into()));
                }
            }
            AuthMethod::RsaSignature => {
                return Err(Dropped::Refused(
                    "Aggressive Mode with signatures is not supported".into(),
                ))
            }
        }
        // NAT-D of AM3 (RFC 3947 §3.2).
        if self.sas.get(&id).is_some_and(|s| s.natt.is_some()) {
            self.detect_nat(id, &m);
        }
        self.follow_peer(id, local, remote);
        if let (Some(iv), Some(sa)) = (next_iv, self.sas.get_mut(&id)) {
            if let Some(c) = sa.crypto.as_mut() {
                c.iv = iv;
            }
        }
        self.phase1_established(now, id);
        Ok(())
    }

    /// Initiator, MM2: the responder's choice; MM3 out.
    fn mm_i2(
        &mut self,
        now: Instant,
        id: SaId,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        let m = Self::plain(header, msg)?;
        let sa_b = m
            .first(PayloadType::Sa)
            .ok_or_else(|| Dropped::Unexpected("MM2 without SA".into()))?;
        let answer = SaPayload::decode(sa_b)?;
        let auth = self
            .sas
            .get(&id)
            .map(|s| s.auth)
            .ok_or(Dropped::UnknownSa)?;
        if answer.proposals.len() != 1 || answer.proposals[0].transforms.len() != 1 {
            return Err(Dropped::Unexpected("MM2 must choose one transform".into()));
        }
        let chosen = choose_phase1(&self.config.profile, &[auth], &answer)
            .map_err(|r| Dropped::Unexpected(format!("MM2 choice: {r}")))?;
        self.read_vendor_ids(id, &m);
        let group = chosen.suite.group;
        let dh = group.generate(&mut self.rng)?;
        let ni = self.random_bytes(NONCE_LEN);
        let lifetime = chosen.life.duration_or(self.config.phase1_lifetime);
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        sa.cky_r = header.responder_cookie;
        sa.suite = Some(chosen.suite);
        sa.lifetime = lifetime;
        sa.gxi = dh.public_value().to_vec();
        sa.dh = Some(dh);
        sa.ni = ni;
        sa.state = P1State::MmI3;
        let cookies = (sa.cky_i, sa.cky_r);
        self.by_icookie.remove(&cookies.0);
        self.by_cookies.insert(cookies, id);
        let natd = self.our_nat_d(id);
        let certreqs = if auth == AuthMethod::RsaSignature {
            self.certreqs()
        } else {
            Vec::new()
        };
        let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
        let (gxi, ni) = (sa.gxi.clone(), sa.ni.clone());
        let natd_type = Self::nat_d_type(sa);
        let mut items: Vec<(PayloadType, &[u8])> =
            vec![(PayloadType::KeyExchange, &gxi), (PayloadType::Nonce, &ni)];
        items.extend(
            certreqs
                .iter()
                .map(|c| (PayloadType::CertificateRequest, c.as_slice())),
        );
        items.extend(natd.iter().map(|h| (natd_type, h.as_slice())));
        self.send_phase1_plain(now, id, &items, true);
        Ok(())
    }

    /// Initiator, MM4: keys; float to 4500 if a NAT is in the way; MM5 out.
    fn mm_i4(
        &mut self,
        now: Instant,
        id: SaId,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        let m = Self::plain(header, msg)?;
        let ke = m
            .first(PayloadType::KeyExchange)
            .ok_or_else(|| Dropped::Unexpected("MM4 without KE".into()))?;
        let nr = m
            .first(PayloadType::Nonce)
            .filter(|n| nonce_ok(n))
            .ok_or_else(|| Dropped::Unexpected("MM4 nonce".into()))?;
        let group = self
            .sas
            .get(&id)
            .and_then(|s| s.suite)
            .map(|s| s.group)
            .ok_or(Dropped::UnknownSa)?;
        if ke.len() != group.public_len() {
            return Err(Dropped::Unexpected("KE length".into()));
        }
        self.choose_psk(id, None)?;
        {
            let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
            sa.gxr = ke.to_vec();
            sa.nr = nr.to_vec();
        }
        self.derive_keys(id, ke)?;
        self.detect_nat(id, &m);
        let natt_port = self.config.natt_port;
        let first_contact = {
            let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
            let peer = sa.remote.ip();
            !self
                .sas
                .values()
                .any(|o| o.id != id && o.remote.ip() == peer && o.is_established())
        };
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        if sa.udp_encapsulation() {
            sa.local = SocketAddr::new(sa.local.ip(), natt_port);
            sa.remote = SocketAddr::new(sa.remote.ip(), natt_port);
        }
        sa.state = P1State::MmI5;
        let our_id = self.our_id(self.sas.get(&id).ok_or(Dropped::UnknownSa)?);
        let mut id_b = Vec::new();
        our_id.encode(&mut id_b);
        let auth = self.our_auth(self.sas.get(&id).ok_or(Dropped::UnknownSa)?, true, &id_b)?;
        let mut ic = Vec::new();
        if first_contact {
            let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
            let mut spi = sa.cky_i.to_vec();
            spi.extend_from_slice(&sa.cky_r);
            Notification {
                doi: DOI_IPSEC,
                protocol: ProtocolId::Isakmp,
                notify_type: NotifyType::InitialContact,
                spi,
                data: Vec::new(),
            }
            .encode(&mut ic);
        }
        let mut items: Vec<(PayloadType, &[u8])> = vec![(PayloadType::Identification, &id_b)];
        items.extend(auth.iter().map(|(k, b)| (*k, b.as_slice())));
        if !ic.is_empty() {
            items.push((PayloadType::Notification, &ic));
        }
        self.send_phase1_encrypted(now, id, &items, true)
    }

    /// Initiator, MM6: authenticate the responder; established; Quick Modes start.
    fn mm_i6(
        &mut self,
        now: Instant,
        id: SaId,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        let (m, next_iv) = {
            let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
            if !header.flags.contains(Flags::ENCRYPTION) {
                return Err(Dropped::Unexpected("MM6 not encrypted".into()));
            }
            let c = sa.crypto.as_ref().ok_or(Dropped::UnknownSa)?;
            Self::decrypt(&c.cipher()?, &c.iv, header, msg)?
        };
        let peer_id = self.verify_peer(now, id, &m, false)?;
        let sa = self.sas.get_mut(&id).ok_or(Dropped::UnknownSa)?;
        if let Some(c) = sa.crypto.as_mut() {
            c.iv = next_iv;
        }
        sa.peer_id = Some(peer_id);
        sa.flight.retransmit_at = None;
        self.phase1_established(now, id);
        Ok(())
    }

    /// Common end of phase 1 for both roles and modes.
    fn phase1_established(&mut self, now: Instant, id: SaId) {
        self.leave_half_open(id);
        let dpd = self.config.dpd;
        let export = self.config.export_keys;
        let margin_of = |l| self.config.margin(l);
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        sa.state = P1State::Established;
        sa.established = Some(now);
        sa.expires = Some(now + sa.lifetime);
        if sa.role == Role::Initiator {
            sa.rekey_at = Some(now + sa.lifetime - margin_of(sa.lifetime));
        }
        if let Some(d) = dpd.filter(|_| sa.dpd.peer_supports) {
            sa.dpd.next_probe = Some(now + d.delay);
        }
        // What only phase 1 needed goes: the SA stays small for its hours of life.
        sa.dh = None;
        sa.psk = None;
        sa.gxy = None;
        for v in [
            &mut sa.sai_b,
            &mut sa.gxi,
            &mut sa.gxr,
            &mut sa.ni,
            &mut sa.nr,
            &mut sa.our_id_b,
        ] {
            *v = Vec::new();
        }
        let Some(suite) = sa.suite else { return };
        let info = Phase1Info {
            sa: id,
            role: sa.role,
            exchange: sa.mode,
            local: sa.local,
            remote: sa.remote,
            cookies: (sa.cky_i, sa.cky_r),
            suite,
            auth: sa.auth,
            peer_subject: sa.peer_subject.clone(),
            peer_id: sa.peer_id.clone().unwrap_or(Identification {
                id_type: IdType::KeyId,
                protocol: 0,
                port: 0,
                data: Vec::new(),
            }),
            nat: (sa.peer_behind_nat, sa.local_behind_nat),
            group_key: sa.group_key,
            lifetime: sa.lifetime,
            encryption_key: if export {
                sa.crypto.as_ref().map(|c| c.keys.ka.clone())
            } else {
                None
            },
        };
        let (initial_contact, replaces, remote) = (sa.initial_contact, sa.replaces, sa.remote);
        let wanted = core::mem::take(&mut sa.wanted);
        self.stats.phase1_established += 1;
        tracing::info!(
            sa = id.0,
            %remote,
            role = ?info.role,
            suite = describe_phase1(&suite),
            auth = ?info.auth,
            nat = ?info.nat,
            group_key = info.group_key,
            "IKE phase1 established"
        );
        if info.group_key {
            tracing::warn!(%remote, "IKE peer authenticated with the group pre-shared key: any holder of it can impersonate this gateway to other peers (seed 001 §5.1.4)");
        }
        self.events.push_back(Event::Phase1Up(Box::new(info)));
        if initial_contact {
            self.initial_contact(now, id);
        }
        if let Some(old) = replaces {
            self.adopt_children(id, old);
            if let Some(o) = self.sas.get_mut(&old) {
                o.replaced = true;
            }
            self.delete_phase1(now, old, DownReason::Replaced, true);
        } else {
            self.adopt_orphans(id);
        }
        for request in wanted {
            self.initiate_quick_mode(now, id, request, None);
        }
    }

    /// INITIAL-CONTACT (RFC 2407 §4.6.3.3): the peer rebooted; every other SA with the same
    /// peer address and ID is stale.
    fn initial_contact(&mut self, now: Instant, id: SaId) {
        let Some(sa) = self.sas.get(&id) else { return };
        let (ip, pid) = (sa.remote.ip(), sa.peer_id.clone());
        let stale: Vec<SaId> = self
            .sas
            .values()
            .filter(|o| o.id != id && o.remote.ip() == ip && o.peer_id == pid)
            .map(|o| o.id)
            .collect();
        for old in stale {
            tracing::info!(sa = old.0, %ip, "IKE INITIAL-CONTACT: deleting the peer's old SAs");
            self.delete_phase1(now, old, DownReason::Replaced, false);
        }
    }

    /// Moves the IPsec SAs of `old` under `new` (phase 1 rekey).
    pub(crate) fn adopt_children(&mut self, new: SaId, old: SaId) {
        let kids = self
            .sas
            .get_mut(&old)
            .map(|o| core::mem::take(&mut o.children))
            .unwrap_or_default();
        if let Some(n) = self.sas.get_mut(&new) {
            n.children.extend(kids);
        }
    }

    /// IPsec SAs whose ISAKMP SA with this peer expired or was deleted find a new home, so
    /// they can be deleted and rekeyed properly.
    fn adopt_orphans(&mut self, id: SaId) {
        let Some(sa) = self.sas.get(&id) else { return };
        let (ip, pid) = (sa.remote.ip(), sa.peer_id.clone());
        let orphans: Vec<SaId> = self
            .sas
            .values()
            .filter(|o| o.state == P1State::Gone && o.remote.ip() == ip && o.peer_id == pid)
            .map(|o| o.id)
            .collect();
        for old in orphans {
            self.adopt_children(id, old);
            self.forget(old);
        }
    }
}
