//! Internals for the fuzz targets and the robustness tests (quinn's `#[cfg(fuzzing)]`):
//! forging protected messages under an established ISAKMP SA, as its peer would send them.

use crate::crypto::keymat;
use crate::endpoint::Endpoint;
use crate::quick::chain_with_hash;
use crate::wire::{encode_payloads, ExchangeType, PayloadType};

/// What to put in the HASH payload of a forged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashMode {
    /// The correct HASH(1) (RFC 2409 §5.5/§5.7) over the payloads after it.
    Correct,
    /// No HASH payload at all.
    Omitted,
    /// A HASH payload with an empty body.
    Empty,
    /// A HASH payload with one bit of the correct value flipped.
    Wrong,
}

impl Endpoint {
    /// The cookies of the ISAKMP SAs this endpoint has established.
    pub fn established_cookies(&self) -> Vec<([u8; 8], [u8; 8])> {
        let mut v: Vec<_> = self.sas.values().filter(|s| s.is_established()).map(|s| (s.cky_i, s.cky_r)).collect();
        v.sort_unstable();
        v
    }

    /// A protected message of a new exchange (`message_id` ≠ 0: Quick Mode message 1 or an
    /// Informational) under the ISAKMP SA with `cookies`, encrypted and hashed as the peer of
    /// this endpoint would send it (both sides share the keys and the IV rules of RFC 2409
    /// App. B). Returns the whole ISAKMP message, or `None` without such an SA.
    pub fn forge_protected(
        &self,
        cookies: ([u8; 8], [u8; 8]),
        exchange: ExchangeType,
        message_id: u32,
        after_hash: &[(PayloadType, &[u8])],
        mode: HashMode,
    ) -> Option<Vec<u8>> {
        let id = *self.by_cookies.get(&cookies)?;
        let (prf, ska) = self.skeyid_a(id)?;
        let correct = |rest: &[u8]| keymat::hash_with_message_id(prf, &ska, message_id, &[rest]).as_ref().to_vec();
        let chain = match mode {
            HashMode::Correct => chain_with_hash(correct, after_hash),
            HashMode::Empty => chain_with_hash(|_| Vec::new(), after_hash),
            HashMode::Wrong => chain_with_hash(
                |rest| {
                    let mut h = correct(rest);
                    h[0] ^= 1;
                    h
                },
                after_hash,
            ),
            HashMode::Omitted => encode_payloads(after_hash).1,
        };
        let iv = self.exchange_iv(id, message_id)?;
        let (mut bytes, _) = self.encrypt_chain(id, message_id, exchange, &iv, chain).ok()?;
        if mode == HashMode::Omitted {
            // The header's Next Payload must name the first payload actually there.
            bytes[16] = after_hash.first().map_or(0, |p| p.0.value());
        }
        Some(bytes)
    }
}
