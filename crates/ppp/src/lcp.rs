//! LCP (RFC 1661 §5, §6): the option policy the automaton consults, plus Echo and
//! Protocol-Reject handling.
//!
//! What sras negotiates: MRU (offered from the tunnel overhead the caller gives), the
//! authentication protocol (server: asks in the configured order; client: accepts what it is
//! configured for and Naks the rest with its preference), Magic-Number (loopback detection),
//! and it accepts the peer's PFC, ACFC and ACCM (the ACCM is meaningless on L2TP and ignored).

use crate::auth::AuthMethod;
use crate::fsm::{CodeAction, Protocol, RequestVerdict, State};
use crate::wire::{self, code, LcpOption, RawOption, CHAP_MD5, CHAP_MSCHAPV1, CHAP_MSCHAPV2};

/// Smallest MRU we accept from a peer (RFC 1661 §6.1 implies 64; IPv4 needs 68; we ask 576
/// of nothing but never refuse a working value).
pub(crate) const MIN_MRU: u16 = 128;

/// The Auth-Protocol option value (RFC 1661 §6.2) for a method.
pub(crate) fn auth_option(method: AuthMethod) -> LcpOption {
    let (protocol, data) = match method {
        AuthMethod::Pap => (0xc023, vec![]),
        AuthMethod::ChapMd5 => (0xc223, vec![CHAP_MD5]),
        AuthMethod::MsChapV1 => (0xc223, vec![CHAP_MSCHAPV1]),
        AuthMethod::MsChapV2 => (0xc223, vec![CHAP_MSCHAPV2]),
        AuthMethod::Eap => (0xc227, vec![]),
    };
    LcpOption::AuthProtocol { protocol, data }
}

/// The method an Auth-Protocol option names, if we know it.
pub(crate) fn auth_method(protocol: u16, data: &[u8]) -> Option<AuthMethod> {
    match (protocol, data) {
        (0xc023, []) => Some(AuthMethod::Pap),
        (0xc227, []) => Some(AuthMethod::Eap),
        (0xc223, [CHAP_MD5]) => Some(AuthMethod::ChapMd5),
        (0xc223, [CHAP_MSCHAPV1]) => Some(AuthMethod::MsChapV1),
        (0xc223, [CHAP_MSCHAPV2]) => Some(AuthMethod::MsChapV2),
        _ => None,
    }
}

/// What LCP settled, for the link.
#[derive(Debug, Clone, Default)]
pub(crate) struct LcpResult {
    /// The MRU the peer asked for (what we may send), default 1500.
    pub(crate) peer_mru: u16,
    /// The MRU we offered and the peer acknowledged.
    pub(crate) our_mru: u16,
    /// The method we (server) authenticate the peer with.
    pub(crate) we_require: Option<AuthMethod>,
    /// The method the peer (our server) requires of us (client).
    pub(crate) peer_requires: Option<AuthMethod>,
    /// The peer's magic number.
    pub(crate) peer_magic: u32,
}

/// LCP's option policy.
#[derive(Debug)]
pub(crate) struct Lcp {
    /// Methods we ask for as authenticator, in order; empty for a client.
    require: Vec<AuthMethod>,
    /// Methods we accept as peer, in preference order.
    accept: Vec<AuthMethod>,
    /// MRU we offer.
    mru: u16,
    /// Our magic number (changed when loopback is suspected).
    pub(crate) magic: u32,
    /// Next auth method index to ask for.
    auth_index: usize,
    /// Options the peer rejected: we stop asking for them.
    rejected_mru: bool,
    rejected_magic: bool,
    /// Consecutive Configure-Requests carrying our own magic number (loopback, §6.4).
    loopback_count: u32,
    pub(crate) result: LcpResult,
    /// Outstanding echo requests since the last reply.
    pub(crate) echo_outstanding: u32,
    /// A Protocol-Reject arrived for this protocol number.
    pub(crate) protocol_rejects: Vec<u16>,
    /// Fresh magic numbers on demand (the link's RNG feeds it).
    pub(crate) next_magic: u32,
}

impl Lcp {
    pub(crate) fn new(
        require: Vec<AuthMethod>,
        accept: Vec<AuthMethod>,
        mru: u16,
        magic: u32,
    ) -> Self {
        Self {
            require,
            accept,
            mru,
            magic,
            auth_index: 0,
            rejected_mru: false,
            rejected_magic: false,
            loopback_count: 0,
            result: LcpResult {
                peer_mru: 1500,
                our_mru: 1500,
                ..LcpResult::default()
            },
            echo_outstanding: 0,
            protocol_rejects: Vec::new(),
            next_magic: magic ^ 0x5a5a_5a5a,
        }
    }

    fn current_auth(&self) -> Option<AuthMethod> {
        self.require.get(self.auth_index).copied()
    }

    /// The method to ask for after the peer Nak'd the current one for a method we do not
    /// allow: the next one, or the last one again once the list is exhausted.
    ///
    /// Never past the end: an authenticator that ran out of methods must not stop asking,
    /// or the peer's Ack of an Auth-Protocol-less request would take the link to the Network
    /// phase unauthenticated (RFC 1661 §3.5: "Advancement from the Authentication phase to
    /// the Network-Layer Protocol phase MUST NOT occur until authentication has completed").
    /// Asking again, the peer keeps Nak'ing; Max-Failure then hands its Nak to
    /// [`Protocol::on_reject`], which refuses to drop authentication, and LCP gives up.
    fn next_auth_index(&self) -> usize {
        (self.auth_index + 1).min(self.require.len().saturating_sub(1))
    }
}

impl Protocol for Lcp {
    fn protocol(&self) -> u16 {
        0xc021
    }

    fn build_request(&mut self, out: &mut Vec<u8>) {
        if !self.rejected_mru && self.mru != 1500 {
            LcpOption::Mru(self.mru).encode(out);
        }
        if let Some(m) = self.current_auth() {
            auth_option(m).encode(out);
        }
        if !self.rejected_magic {
            LcpOption::MagicNumber(self.magic).encode(out);
        }
    }

    fn check_request(&mut self, options: &[u8]) -> RequestVerdict {
        let mut nak = Vec::new();
        let mut reject = Vec::new();
        let mut seen = [false; 256];
        let mut peer_requires = None;
        let mut peer_mru = 1500;
        let mut peer_magic = 0;
        for raw in wire::options(options) {
            let Ok(raw) = raw else {
                // A malformed option list cannot be answered option by option (ROBUSTNESS 29):
                // reject the whole list as it stands.
                return RequestVerdict::Reject(options.to_vec());
            };
            let duplicate = std::mem::replace(&mut seen[usize::from(raw.kind)], true);
            match LcpOption::parse(&raw) {
                _ if duplicate => copy_raw(&raw, &mut reject),
                Ok(LcpOption::Mru(m)) if m >= MIN_MRU => peer_mru = m,
                Ok(LcpOption::Mru(_)) => LcpOption::Mru(1500).encode(&mut nak),
                Ok(LcpOption::Accm(_) | LcpOption::Pfc | LcpOption::Acfc) => {}
                Ok(LcpOption::MagicNumber(m)) if m != 0 && m != self.magic => peer_magic = m,
                Ok(LcpOption::MagicNumber(_)) => {
                    // Zero, or our own number: maybe a looped-back link (§6.4). Suggest another.
                    self.loopback_count += 1;
                    self.next_magic = self
                        .next_magic
                        .wrapping_mul(1_103_515_245)
                        .wrapping_add(12345)
                        | 1;
                    LcpOption::MagicNumber(self.next_magic).encode(&mut nak);
                }
                Ok(LcpOption::AuthProtocol { protocol, data }) => {
                    let method = auth_method(protocol, &data);
                    match method {
                        Some(m) if self.accept.contains(&m) => peer_requires = Some(m),
                        _ => match self.accept.first() {
                            // Nak with the method we would rather use (§6.2).
                            Some(&m) => auth_option(m).encode(&mut nak),
                            None => copy_raw(&raw, &mut reject),
                        },
                    }
                }
                Ok(_) | Err(_) => copy_raw(&raw, &mut reject),
            }
        }
        if !reject.is_empty() {
            return RequestVerdict::Reject(reject);
        }
        if !nak.is_empty() {
            return RequestVerdict::Nak(nak);
        }
        self.result.peer_requires = peer_requires;
        self.result.peer_mru = peer_mru;
        self.result.peer_magic = peer_magic;
        RequestVerdict::Ack
    }

    fn on_ack(&mut self, _options: &[u8]) {
        self.result.we_require = self.current_auth();
        self.result.our_mru = if self.rejected_mru { 1500 } else { self.mru };
    }

    fn on_nak(&mut self, options: &[u8]) {
        for raw in wire::options(options).flatten() {
            match LcpOption::parse(&raw) {
                Ok(LcpOption::Mru(m)) if m >= MIN_MRU => self.mru = m,
                Ok(LcpOption::MagicNumber(_)) => {
                    self.magic = self.next_magic;
                    self.next_magic = self.next_magic.rotate_left(7) ^ 0x9e37_79b9;
                }
                Ok(LcpOption::AuthProtocol { protocol, data }) => {
                    // The peer would rather be authenticated another way: take it if we allow it,
                    // else try our next method.
                    match auth_method(protocol, &data)
                        .and_then(|m| self.require.iter().position(|x| *x == m))
                    {
                        Some(i) => self.auth_index = i,
                        None => self.auth_index = self.next_auth_index(),
                    }
                }
                _ => {}
            }
        }
    }

    fn on_reject(&mut self, options: &[u8]) -> bool {
        for raw in wire::options(options).flatten() {
            match raw.kind {
                1 => self.rejected_mru = true,
                5 => self.rejected_magic = true,
                // An authenticator cannot do without authentication.
                3 if !self.require.is_empty() => return false,
                _ => {}
            }
        }
        true
    }

    fn handle_code(&mut self, state: State, code: u8, _identifier: u8, data: &[u8]) -> CodeAction {
        match code {
            code::PROTOCOL_REJECT => {
                if let [hi, lo, ..] = data {
                    self.protocol_rejects.push(u16::from_be_bytes([*hi, *lo]));
                }
                CodeAction::Handled
            }
            code::ECHO_REQUEST if state == State::Opened => {
                // §5.8: reply with our magic number and the same data.
                let mut reply = self.magic.to_be_bytes().to_vec();
                reply.extend_from_slice(data.get(4..).unwrap_or_default());
                CodeAction::Reply {
                    code: code::ECHO_REPLY,
                    data: reply,
                }
            }
            code::ECHO_REPLY => {
                self.echo_outstanding = 0;
                CodeAction::Handled
            }
            code::ECHO_REQUEST
            | code::DISCARD_REQUEST
            | code::IDENTIFICATION
            | code::TIME_REMAINING => CodeAction::Handled,
            _ => CodeAction::Unknown,
        }
    }

    fn reset(&mut self) {
        self.auth_index = 0;
        self.echo_outstanding = 0;
    }
}

fn copy_raw(raw: &RawOption<'_>, out: &mut Vec<u8>) {
    wire::encode_option(raw.kind, raw.data, out);
}
