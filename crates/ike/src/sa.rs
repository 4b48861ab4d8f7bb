//! One ISAKMP SA (phase 1) with its exchanges and the IPsec SAs negotiated under it.

use core::time::Duration;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use sras_esp::Spi;
use zeroize::Zeroizing;

use crate::config::ChildRequest;
use crate::crypto::keymat::{self, Phase1Keys};
use crate::crypto::{CipherAlgorithm, CryptoError, DhPrivateKey, HashAlgorithm, Phase1Cipher};
use crate::proposal::{AuthMethod, Encapsulation, Phase1Suite};
use crate::wire::vendor::NatTraversal;
use crate::wire::{ExchangeType, Identification};

/// Identifies an ISAKMP SA inside an [`crate::Endpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaId(pub u64);

/// Who started the phase 1 exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent message 1.
    Initiator,
    /// The peer sent message 1.
    Responder,
}

/// Phase 1 progress (RFC 2409 §5: Main Mode messages 1-6, Aggressive Mode 1-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum P1State {
    /// Initiator, Main Mode: sent MM1, waiting for MM2.
    MmI1,
    /// Initiator: sent MM3, waiting for MM4.
    MmI3,
    /// Initiator: sent MM5, waiting for MM6.
    MmI5,
    /// Responder: nothing processed yet.
    New,
    /// Responder: sent MM2, waiting for MM3.
    MmR2,
    /// Responder: sent MM4, waiting for MM5.
    MmR4,
    /// Responder, Aggressive Mode: sent AM2, waiting for AM3.
    AmR2,
    /// Authenticated; Quick Mode and Informational exchanges may run.
    Established,
    /// Deleted or expired: kept only for its IPsec SAs, which outlive it (RFC 2409 §5.5).
    Gone,
}

/// The last message of an exchange in each direction, to answer retransmissions.
#[derive(Debug, Default)]
pub(crate) struct Flight {
    /// Digest of the last message received.
    pub(crate) last_in: Option<[u8; 32]>,
    /// The last message sent (whole UDP payload), its destination, its source port.
    pub(crate) last_out: Option<(Vec<u8>, SocketAddr, u16)>,
    /// When it was last sent.
    pub(crate) sent_at: Option<Instant>,
    /// Timer-driven retransmission: when, and how many were sent so far.
    pub(crate) retransmit_at: Option<Instant>,
    pub(crate) tries: u32,
    /// Retransmissions triggered by duplicates.
    pub(crate) echoes: u32,
}

/// A Quick Mode exchange in progress.
pub(crate) struct QuickExchange {
    pub(crate) role: Role,
    /// CBC IV chain of this exchange (RFC 2409 App. B).
    pub(crate) iv: Vec<u8>,
    pub(crate) flight: Flight,
    pub(crate) ni: Vec<u8>,
    pub(crate) nr: Vec<u8>,
    pub(crate) dh: Option<DhPrivateKey>,
    /// Our inbound SPI.
    pub(crate) spi_in: [u8; 4],
    pub(crate) request: ChildRequest,
    /// The SA this one rekeys.
    pub(crate) replaces: Option<Spi>,
    /// Responder: the negotiated SA, installed when QM3 arrives.
    pub(crate) pending: Option<Box<crate::endpoint::ChildSa>>,
    /// Finished (initiator sent QM3 / responder got QM3): kept to answer duplicates.
    pub(crate) done: bool,
    pub(crate) expires: Instant,
}

/// An IPsec SA pair negotiated under this ISAKMP SA.
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub(crate) spi_in: Spi,
    pub(crate) spi_out: Spi,
    pub(crate) encapsulation: Encapsulation,
    pub(crate) request: ChildRequest,
    pub(crate) role: Role,
    /// Initiator: when to start the rekey.
    pub(crate) rekey_at: Option<Instant>,
    /// Hard expiry.
    pub(crate) expires: Instant,
    /// A rekey was started or a newer SA replaced this one.
    pub(crate) rekeyed: bool,
}

/// Dead peer detection state (RFC 3706 §5).
#[derive(Debug, Default)]
pub(crate) struct Dpd {
    pub(crate) peer_supports: bool,
    pub(crate) seq: u32,
    /// Sequence number of the R-U-THERE awaiting its ACK.
    pub(crate) pending: Option<u32>,
    /// When the next R-U-THERE is due.
    pub(crate) next_probe: Option<Instant>,
}

/// Phase 1 keying material once the DH exchange is done.
pub(crate) struct P1Crypto {
    pub(crate) keys: Phase1Keys,
    /// The cipher; its key schedule is built per message (IKE messages are rare after phase
    /// 1, and a held schedule would triple the SA's size).
    pub(crate) alg: CipherAlgorithm,
    /// Phase 1 CBC chain; after the last phase 1 message it is the "last phase 1 CBC output
    /// block" from which every later exchange's IV is derived (App. B).
    pub(crate) iv: Vec<u8>,
}

impl P1Crypto {
    pub(crate) fn cipher(&self) -> Result<Phase1Cipher, CryptoError> {
        Phase1Cipher::new(self.alg, &self.keys.ka)
    }
}

/// One ISAKMP SA.
pub(crate) struct IsakmpSa {
    pub(crate) id: SaId,
    pub(crate) role: Role,
    pub(crate) mode: ExchangeType,
    pub(crate) state: P1State,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) cky_i: [u8; 8],
    pub(crate) cky_r: [u8; 8],
    pub(crate) suite: Option<Phase1Suite>,
    pub(crate) auth: AuthMethod,
    pub(crate) lifetime: Duration,
    /// The initiator's SA payload body (SAi_b of HASH_I/HASH_R).
    pub(crate) sai_b: Vec<u8>,
    pub(crate) dh: Option<DhPrivateKey>,
    pub(crate) gxi: Vec<u8>,
    pub(crate) gxr: Vec<u8>,
    pub(crate) ni: Vec<u8>,
    pub(crate) nr: Vec<u8>,
    pub(crate) psk: Option<Zeroizing<Vec<u8>>>,
    /// g^xy, kept during phase 1 so a responder can try the keys of several peers.
    pub(crate) gxy: Option<Zeroizing<Vec<u8>>>,
    pub(crate) group_key: bool,
    pub(crate) crypto: Option<Box<P1Crypto>>,
    pub(crate) peer_id: Option<Identification>,
    /// The subject of the peer's certificate, once verified.
    pub(crate) peer_subject: Option<String>,
    /// Responder Aggressive Mode: our ID body sent in AM2.
    pub(crate) our_id_b: Vec<u8>,
    pub(crate) natt: Option<NatTraversal>,
    pub(crate) peer_behind_nat: bool,
    pub(crate) local_behind_nat: bool,
    pub(crate) peer_fragmentation: bool,
    pub(crate) peer_certreq: bool,
    pub(crate) initial_contact: bool,
    /// Phase 1 (message ID 0) retransmission state.
    pub(crate) flight: Flight,
    pub(crate) quick: HashMap<u32, QuickExchange>,
    pub(crate) children: Vec<Child>,
    pub(crate) dpd: Dpd,
    pub(crate) last_heard: Instant,
    pub(crate) established: Option<Instant>,
    pub(crate) expires: Option<Instant>,
    pub(crate) rekey_at: Option<Instant>,
    /// Initiator: the children to negotiate once established.
    pub(crate) wanted: Vec<ChildRequest>,
    /// A newer ISAKMP SA with the same peer replaced this one (after our rekey).
    pub(crate) replaced: bool,
    /// The ISAKMP SA this one rekeys (initiator).
    pub(crate) replaces: Option<SaId>,
    /// Digests of recent protected Informational messages: a replay changes nothing, not
    /// even the liveness DPD measures (ROBUSTNESS 42).
    pub(crate) recent_info: std::collections::VecDeque<[u8; 32]>,
    /// The deadline currently registered in the endpoint's timer heap.
    pub(crate) deadline: Option<Instant>,
    /// A responder SA not established by then is dropped (half-open timeout).
    pub(crate) give_up_at: Option<Instant>,
}

impl IsakmpSa {
    pub(crate) fn new(
        id: SaId,
        role: Role,
        mode: ExchangeType,
        local: SocketAddr,
        remote: SocketAddr,
        cky_i: [u8; 8],
        now: Instant,
    ) -> Self {
        Self {
            id,
            role,
            mode,
            state: if matches!(role, Role::Initiator) {
                P1State::MmI1
            } else {
                P1State::New
            },
            local,
            remote,
            cky_i,
            cky_r: [0; 8],
            suite: None,
            auth: AuthMethod::PreSharedKey,
            lifetime: Duration::from_secs(3600),
            sai_b: Vec::new(),
            dh: None,
            gxi: Vec::new(),
            gxr: Vec::new(),
            ni: Vec::new(),
            nr: Vec::new(),
            psk: None,
            gxy: None,
            group_key: false,
            crypto: None,
            peer_id: None,
            peer_subject: None,
            our_id_b: Vec::new(),
            natt: None,
            peer_behind_nat: false,
            local_behind_nat: false,
            peer_fragmentation: false,
            peer_certreq: false,
            initial_contact: false,
            flight: Flight::default(),
            quick: HashMap::new(),
            children: Vec::new(),
            dpd: Dpd::default(),
            last_heard: now,
            established: None,
            expires: None,
            rekey_at: None,
            wanted: Vec::new(),
            replaced: false,
            replaces: None,
            deadline: None,
            give_up_at: None,
            recent_info: std::collections::VecDeque::new(),
        }
    }

    pub(crate) fn hash(&self) -> HashAlgorithm {
        self.suite.map_or(HashAlgorithm::Sha1, |s| s.hash)
    }

    pub(crate) fn is_established(&self) -> bool {
        self.state == P1State::Established
    }

    /// Whether ESP and IKE go in UDP/4500.
    pub(crate) fn udp_encapsulation(&self) -> bool {
        self.natt.is_some() && (self.peer_behind_nat || self.local_behind_nat)
    }

    /// The next moment something must happen to this SA.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let mut d: Option<Instant> = None;
        let mut take = |t: Option<Instant>| {
            if let Some(t) = t {
                d = Some(d.map_or(t, |x| x.min(t)));
            }
        };
        take(self.flight.retransmit_at);
        take(self.give_up_at);
        take(self.expires);
        take(self.rekey_at);
        take(self.dpd.next_probe);
        for q in self.quick.values() {
            take(q.flight.retransmit_at);
            take(Some(q.expires));
        }
        for c in &self.children {
            take(Some(c.expires));
            if !c.rekeyed {
                take(c.rekey_at);
            }
        }
        d
    }

    /// KEYMAT for the SA with `spi` (RFC 2409 §5.5), encryption key first.
    pub(crate) fn keymat(
        &self,
        gxy: Option<&[u8]>,
        spi: [u8; 4],
        ni: &[u8],
        nr: &[u8],
        len: usize,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let c = self.crypto.as_ref()?;
        Some(keymat::keymat(
            self.hash(),
            c.keys.skeyid_d.as_ref(),
            gxy,
            3,
            spi,
            ni,
            nr,
            len,
        ))
    }
}
