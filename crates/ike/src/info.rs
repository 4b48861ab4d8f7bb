//! Informational exchanges (RFC 2408 §4.8, RFC 2409 §5.7): Delete, notifications, dead peer
//! detection (RFC 3706), all protected by HASH(1) under the phase 1 keys.

use std::net::SocketAddr;
use std::time::Instant;

use rand::RngCore;
use sras_esp::Spi;

use crate::crypto::keymat;
use crate::endpoint::{DownReason, Dropped, Endpoint};
use crate::quick::chain_with_hash;
use crate::sa::{P1State, SaId};
use crate::wire::{
    Delete, ExchangeType, Flags, Header, Notification, NotifyType, PayloadType, ProtocolId,
    DOI_IPSEC,
};

impl Endpoint {
    /// Sends one protected Informational message carrying `kind`/`body`.
    pub(crate) fn send_informational(&mut self, id: SaId, kind: PayloadType, body: &[u8]) {
        let Some(sa) = self.sas.get(&id).filter(|s| s.crypto.is_some()) else {
            return;
        };
        let (local, remote) = (sa.local, sa.remote);
        let mid = loop {
            let m = self.rng.next_u32();
            if m != 0 {
                break m;
            }
        };
        let Some((prf, ska)) = self.skeyid_a(id) else {
            return;
        };
        let chain = chain_with_hash(
            |rest| {
                keymat::hash_with_message_id(prf, &ska, mid, &[rest])
                    .as_ref()
                    .to_vec()
            },
            &[(kind, body)],
        );
        let Some(iv) = self.exchange_iv(id, mid) else {
            return;
        };
        let Ok((bytes, _)) = self.encrypt_chain(id, mid, ExchangeType::Informational, &iv, chain)
        else {
            return;
        };
        self.send_raw(local, remote, &bytes);
    }

    /// A protected notification about this SA.
    pub(crate) fn send_notify(
        &mut self,
        _now: Instant,
        id: SaId,
        notify_type: NotifyType,
        protocol: ProtocolId,
        spi: Vec<u8>,
        data: Vec<u8>,
    ) {
        let mut b = Vec::new();
        Notification {
            doi: DOI_IPSEC,
            protocol,
            notify_type,
            spi,
            data,
        }
        .encode(&mut b);
        self.send_informational(id, PayloadType::Notification, &b);
    }

    fn cookies_spi(&self, id: SaId) -> Vec<u8> {
        let Some(sa) = self.sas.get(&id) else {
            return Vec::new();
        };
        let mut spi = sa.cky_i.to_vec();
        spi.extend_from_slice(&sa.cky_r);
        spi
    }

    /// Delete for the ISAKMP SA itself (RFC 2408 §3.15: SPI = the two cookies).
    pub(crate) fn send_delete_isakmp(&mut self, _now: Instant, id: SaId) {
        let spi = self.cookies_spi(id);
        let mut b = Vec::new();
        Delete {
            doi: DOI_IPSEC,
            protocol: ProtocolId::Isakmp,
            spi_size: 16,
            spis: vec![spi],
        }
        .encode(&mut b);
        self.send_informational(id, PayloadType::Delete, &b);
        tracing::info!(sa = id.0, "IKE phase1 delete sent");
    }

    /// Delete for IPsec SAs: our inbound SPIs, which the peer knows as its outbound ones.
    pub(crate) fn send_delete_esp(&mut self, _now: Instant, id: SaId, spis: &[Spi]) {
        let mut b = Vec::new();
        Delete {
            doi: DOI_IPSEC,
            protocol: ProtocolId::IpsecEsp,
            spi_size: 4,
            spis: spis.iter().map(|s| s.0.to_be_bytes().to_vec()).collect(),
        }
        .encode(&mut b);
        self.send_informational(id, PayloadType::Delete, &b);
    }

    /// An Informational message for an SA we hold.
    pub(crate) fn informational(
        &mut self,
        now: Instant,
        id: SaId,
        local: SocketAddr,
        remote: SocketAddr,
        header: &Header,
        msg: &[u8],
    ) -> Result<(), Dropped> {
        let _ = local;
        let Some(sa) = self.sas.get(&id) else {
            return Err(Dropped::UnknownSa);
        };
        if !header.flags.contains(Flags::ENCRYPTION)
            || sa.crypto.is_none()
            || header.message_id == 0
        {
            // Unprotected notifications (e.g. NO_PROPOSAL_CHOSEN during phase 1) change nothing.
            if let Ok(m) = Self::plain(header, msg) {
                for n in m
                    .all(PayloadType::Notification)
                    .filter_map(|b| Notification::decode(b).ok())
                {
                    if self.log_limit.check(now).is_some() {
                        tracing::info!(sa = id.0, %remote, notify = ?n.notify_type, "IKE unprotected notification ignored");
                    }
                }
            }
            return Err(Dropped::Unexpected("unprotected Informational".into()));
        }
        let mid = header.message_id;
        let iv = self.exchange_iv(id, mid).ok_or(Dropped::UnknownSa)?;
        let (m, _) = {
            let sa = self.sas.get(&id).ok_or(Dropped::UnknownSa)?;
            let c = sa.crypto.as_ref().ok_or(Dropped::UnknownSa)?;
            Self::decrypt(&c.cipher()?, &iv, header, msg)?
        };
        // ROBUSTNESS 35/38: a Delete or notification without a valid HASH(1) is ignored.
        let got = m.first(PayloadType::Hash).filter(|_| {
            m.payloads
                .first()
                .is_some_and(|p| p.kind == PayloadType::Hash)
        });
        let got = got.ok_or_else(|| Dropped::BadAuth("Informational without HASH".into()))?;
        let rest = m
            .after_hash()
            .ok_or_else(|| Dropped::BadAuth("HASH".into()))?;
        let (prf, ska) = self.skeyid_a(id).ok_or(Dropped::UnknownSa)?;
        let expected = keymat::hash_with_message_id(prf, &ska, mid, &[rest]);
        if got.is_empty() || !crate::crypto::ct_eq(got, expected.as_ref()) {
            return Err(Dropped::BadAuth("Informational HASH mismatch".into()));
        }
        let digest = Self::digest(msg);
        let Some(sa) = self.sas.get_mut(&id) else {
            return Err(Dropped::UnknownSa);
        };
        if sa.recent_info.contains(&digest) {
            self.stats.duplicates += 1;
            return Err(Dropped::Duplicate);
        }
        if sa.recent_info.len() >= 16 {
            sa.recent_info.pop_front();
        }
        sa.recent_info.push_back(digest);
        // Any fresh protected message proves the peer alive, except a DPD ACK that answers
        // no probe of ours (ROBUSTNESS 42).
        let only_acks = m.payloads.iter().skip(1).all(|p| {
            p.kind == PayloadType::Notification
                && Notification::decode(p.body(&m.plain))
                    .is_ok_and(|n| n.notify_type == NotifyType::DpdRUThereAck)
        });
        if !only_acks {
            sa.last_heard = now;
        }
        for p in m.payloads.iter().skip(1) {
            let body = p.body(&m.plain);
            match p.kind {
                PayloadType::Delete => {
                    let Ok(d) = Delete::decode(body) else {
                        continue;
                    };
                    if self.peer_delete(now, id, &d) {
                        // The ISAKMP SA is gone: nothing after this may touch it (CVE-2023-38712).
                        break;
                    }
                }
                PayloadType::Notification => {
                    let Ok(n) = Notification::decode(body) else {
                        continue;
                    };
                    self.peer_notify(now, id, &n);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A Delete payload; returns true if it deleted this ISAKMP SA.
    fn peer_delete(&mut self, now: Instant, id: SaId, d: &Delete) -> bool {
        match d.protocol {
            ProtocolId::Isakmp => {
                let ours = self.cookies_spi(id);
                for spi in &d.spis {
                    if *spi == ours {
                        tracing::info!(sa = id.0, "IKE delete received (ISAKMP SA)");
                        self.delete_phase1(now, id, DownReason::PeerDeleted, false);
                        return true;
                    }
                }
                false
            }
            ProtocolId::IpsecEsp | ProtocolId::IpsecAh => {
                let spis: Vec<Spi> = d
                    .spis
                    .iter()
                    .filter_map(|s| <[u8; 4]>::try_from(s.as_slice()).ok())
                    .map(|s| Spi(u32::from_be_bytes(s)))
                    .collect();
                let hit = self.sas.get(&id).is_some_and(|sa| {
                    sa.children
                        .iter()
                        .any(|c| spis.contains(&c.spi_out) || spis.contains(&c.spi_in))
                });
                if hit {
                    let shown: Vec<String> = spis.iter().map(ToString::to_string).collect();
                    tracing::info!(sa = id.0, spis = %shown.join(","), "IKE delete received (IPsec SA)");
                    self.delete_children(
                        now,
                        id,
                        |c| spis.contains(&c.spi_out) || spis.contains(&c.spi_in),
                        DownReason::PeerDeleted,
                        false,
                    );
                }
                false
            }
            _ => false,
        }
    }

    fn peer_notify(&mut self, now: Instant, id: SaId, n: &Notification) {
        match n.notify_type {
            NotifyType::DpdRUThere => {
                if n.spi != self.cookies_spi(id) || n.data.len() != 4 {
                    return;
                }
                self.send_notify(
                    now,
                    id,
                    NotifyType::DpdRUThereAck,
                    ProtocolId::Isakmp,
                    n.spi.clone(),
                    n.data.clone(),
                );
            }
            NotifyType::DpdRUThereAck => {
                let Ok(seq) = <[u8; 4]>::try_from(n.data.as_slice()).map(u32::from_be_bytes) else {
                    return;
                };
                let Some(sa) = self.sas.get_mut(&id) else {
                    return;
                };
                // ROBUSTNESS 42: an ACK with another sequence number is ignored.
                if sa.dpd.pending == Some(seq) {
                    sa.dpd.pending = None;
                    sa.last_heard = now;
                }
            }
            NotifyType::InitialContact => {
                let Some(sa) = self.sas.get(&id) else { return };
                let (ip, pid) = (sa.remote.ip(), sa.peer_id.clone());
                let stale: Vec<SaId> = self
                    .sas
                    .values()
                    .filter(|o| o.id != id && o.remote.ip() == ip && o.peer_id == pid)
                    .map(|o| o.id)
                    .collect();
                for old in stale {
                    self.delete_phase1(now, old, DownReason::Replaced, false);
                }
            }
            t => {
                if self.log_limit.check(now).is_some() {
                    tracing::info!(sa = id.0, notify = ?t, "IKE notification received");
                }
            }
        }
    }

    /// Dead peer detection (RFC 3706 §5.5): probe when the peer has been idle for the DPD
    /// delay; declare it dead when nothing came back for the DPD timeout.
    pub(crate) fn dpd_timeout(&mut self, now: Instant, id: SaId) {
        let Some(cfg) = self.config.dpd else { return };
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if sa.state != P1State::Established || !sa.dpd.peer_supports {
            sa.dpd.next_probe = None;
            return;
        }
        let Some(at) = sa.dpd.next_probe else { return };
        if at > now {
            return;
        }
        let idle = now.saturating_duration_since(sa.last_heard);
        if idle < cfg.delay {
            sa.dpd.pending = None;
            sa.dpd.next_probe = Some(sa.last_heard + cfg.delay);
            return;
        }
        if sa.dpd.pending.is_some() && idle >= cfg.timeout {
            let remote = sa.remote;
            tracing::warn!(sa = id.0, %remote, idle_s = idle.as_secs(), "IKE dpd timeout: peer dead");
            self.delete_phase1(now, id, DownReason::DeadPeer, false);
            return;
        }
        if sa.dpd.seq == 0 {
            sa.dpd.seq = self.rng.next_u32() & 0x7fff_ffff | 1;
        }
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        sa.dpd.seq = sa.dpd.seq.wrapping_add(1);
        let seq = sa.dpd.seq;
        sa.dpd.pending = Some(seq);
        let step = cfg
            .delay
            .min(cfg.timeout / 3)
            .max(core::time::Duration::from_secs(1));
        sa.dpd.next_probe = Some(now + step);
        let spi = self.cookies_spi(id);
        self.send_notify(
            now,
            id,
            NotifyType::DpdRUThere,
            ProtocolId::Isakmp,
            spi,
            seq.to_be_bytes().to_vec(),
        );
    }
}
