//! Endpoint configuration: policy, credentials, timers and limits.

use core::time::Duration;
use std::net::IpAddr;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::cert::{Certificate, PrivateKey, TrustStore};
use crate::crypto::DhGroup;
use crate::proposal::{AuthMethod, Encapsulation, Profile};
use crate::wire::Identification;

/// Which peers a pre-shared key is for (seed 001 §5.1.4: keys per peer; a group key shared
/// by every peer lets any holder impersonate the gateway to the others, so it is warned about).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSelector {
    /// The peer's address as seen by us (after NAT). Main Mode can only select by address:
    /// the peer's ID arrives encrypted under a key derived from the PSK.
    Address(IpAddr),
    /// The peer's phase 1 ID data (Aggressive Mode sends it in clear; Main Mode checks it after
    /// the exchange when the key was chosen by address or as the group key).
    Id(Vec<u8>),
    /// Every peer: a group key.
    Any,
}

/// A pre-shared key for some peers.
#[derive(Clone)]
pub struct PskEntry {
    /// The peers this key is for.
    pub peer: PeerSelector,
    /// The key.
    pub secret: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for PskEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PskEntry")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// Our certificate, its key and the CAs we trust for peers.
#[derive(Clone)]
pub struct CertConfig {
    /// Our certificate.
    pub certificate: Certificate,
    /// Intermediates sent after it.
    pub chain: Vec<Certificate>,
    /// Its private key.
    pub key: Arc<PrivateKey>,
    /// The CAs peers' certificates must chain to.
    pub trust: TrustStore,
}

impl core::fmt::Debug for CertConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CertConfig")
            .field("subject", &self.certificate.subject_string())
            .finish_non_exhaustive()
    }
}

/// Dead peer detection (RFC 3706).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpdConfig {
    /// Idle time before an R-U-THERE is sent (and the interval between them).
    pub delay: Duration,
    /// Time without any answer after which the peer is declared dead.
    pub timeout: Duration,
}

/// What an initiator asks for in Quick Mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildRequest {
    /// Transport (L2TP/IPsec) or tunnel mode; UDP encapsulation follows NAT detection.
    pub mode: sras_esp::Mode,
    /// Protocol of both ID payloads (17 = UDP; 0 = any).
    pub protocol: u8,
    /// Our port in IDci (1701 for L2TP; 0 = any).
    pub local_port: u16,
    /// The peer's port in IDcr.
    pub remote_port: u16,
}

impl Default for ChildRequest {
    /// L2TP/IPsec: transport mode, UDP/1701 both ways (RFC 3193 §5).
    fn default() -> Self {
        Self {
            mode: sras_esp::Mode::Transport,
            protocol: 17,
            local_port: 1701,
            remote_port: 1701,
        }
    }
}

impl ChildRequest {
    pub(crate) const fn encapsulation(&self, udp: bool) -> Encapsulation {
        match (self.mode, udp) {
            (sras_esp::Mode::Transport, false) => Encapsulation::Transport,
            (sras_esp::Mode::Transport, true) => Encapsulation::UdpTransport,
            (sras_esp::Mode::Tunnel, false) => Encapsulation::Tunnel,
            (sras_esp::Mode::Tunnel, true) => Encapsulation::UdpTunnel,
        }
    }
}

/// Configuration of an [`crate::Endpoint`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Acceptable and offered suites.
    pub profile: Profile,
    /// Pre-shared keys.
    pub psk: Vec<PskEntry>,
    /// Certificate authentication, if configured.
    pub certificate: Option<CertConfig>,
    /// Our phase 1 ID; by default ID_IPV4_ADDR/ID_IPV6_ADDR of our address with PSKs and
    /// ID_DER_ASN1_DN of our certificate with signatures.
    pub local_id: Option<Identification>,
    /// Answer Aggressive Mode (its PSK hash can be attacked offline; off by default).
    pub aggressive_mode: bool,
    /// NAT traversal (RFC 3947 and the drafts).
    pub nat_traversal: bool,
    /// Pretend to be behind a NAT so the peer always encapsulates ESP in UDP/4500.
    pub force_encapsulation: bool,
    /// Dead peer detection; `None` answers R-U-THERE but never asks.
    pub dpd: Option<DpdConfig>,
    /// Our phase 1 lifetime (offered, and the longest accepted).
    pub phase1_lifetime: Duration,
    /// Our phase 2 lifetime (offered, and the longest accepted: longer offers are answered
    /// with RESPONDER-LIFETIME).
    pub phase2_lifetime: Duration,
    /// Rekey this long before expiry (at most a quarter of the lifetime).
    pub rekey_margin: Duration,
    /// Initiator: PFS group for Quick Mode.
    pub pfs: Option<DhGroup>,
    /// First retransmission interval; doubled each time.
    pub retransmit_initial: Duration,
    /// Retransmissions before an exchange fails.
    pub retransmit_tries: u32,
    /// Responder SAs not yet established, in all.
    pub max_half_open: usize,
    /// Responder SAs not yet established, per peer address.
    pub max_half_open_per_peer: usize,
    /// Time a responder SA may take to be established.
    pub half_open_timeout: Duration,
    /// The IKE port (500).
    pub ike_port: u16,
    /// The NAT-T port (4500); datagrams on it carry the non-ESP marker.
    pub natt_port: u16,
    /// Put encryption keys in the events (debug key logs for Wireshark).
    pub export_keys: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            profile: Profile::compatible(),
            psk: Vec::new(),
            certificate: None,
            local_id: None,
            aggressive_mode: false,
            nat_traversal: true,
            force_encapsulation: false,
            dpd: Some(DpdConfig {
                delay: Duration::from_secs(30),
                timeout: Duration::from_secs(120),
            }),
            phase1_lifetime: Duration::from_secs(8 * 3600),
            phase2_lifetime: Duration::from_secs(3600),
            rekey_margin: Duration::from_secs(540),
            pfs: None,
            retransmit_initial: Duration::from_secs(2),
            retransmit_tries: 5,
            max_half_open: 1024,
            max_half_open_per_peer: 32,
            half_open_timeout: Duration::from_secs(30),
            ike_port: 500,
            natt_port: 4500,
            export_keys: false,
        }
    }
}

impl Config {
    /// The authentication methods this configuration can answer with.
    pub(crate) fn auth_methods(&self) -> Vec<AuthMethod> {
        let mut v = Vec::new();
        if !self.psk.is_empty() {
            v.push(AuthMethod::PreSharedKey);
        }
        if self.certificate.is_some() {
            v.push(AuthMethod::RsaSignature);
        }
        v
    }

    /// The key for a peer: by address, then by ID (if known), then the group key.
    pub(crate) fn find_psk(&self, addr: IpAddr, id: Option<&[u8]>) -> Option<&PskEntry> {
        self.psk
            .iter()
            .find(|e| e.peer == PeerSelector::Address(addr))
            .or_else(|| {
                id.and_then(|id| {
                    self.psk
                        .iter()
                        .find(|e| matches!(&e.peer, PeerSelector::Id(x) if x == id))
                })
            })
            .or_else(|| self.psk.iter().find(|e| e.peer == PeerSelector::Any))
    }

    /// The margin before expiry at which to rekey a lifetime of `life`.
    pub(crate) fn margin(&self, life: Duration) -> Duration {
        self.rekey_margin.min(life / 4)
    }
}
