//! The IKEv1 key derivations of RFC 2409 §5 (SKEYID and its three children, HASH_I/HASH_R),
//! §5.5 (Quick Mode KEYMAT) and Appendix B (cipher key expansion, IVs).
//!
//! Every function takes plain byte slices, so that known-answer tests from a captured
//! exchange can feed hex-decoded values directly. `prf` is the HMAC of the negotiated hash
//! algorithm (RFC 2409 §4: no PRF attribute is ever negotiated in practice); "0", "1", "2"
//! in the formulas are single octets.

use zeroize::Zeroizing;

use super::cipher::CipherAlgorithm;
use super::hash::{Digest, HashAlgorithm};

/// SKEYID for pre-shared key authentication (RFC 2409 §5):
/// `SKEYID = prf(pre-shared-key, Ni_b | Nr_b)`.
///
/// `ni_b`, `nr_b`: the bodies of the initiator's and responder's Nonce payloads.
pub fn skeyid_psk(prf: HashAlgorithm, psk: &[u8], ni_b: &[u8], nr_b: &[u8]) -> Digest {
    prf.prf(psk, &[ni_b, nr_b])
}

/// SKEYID for signature authentication (RFC 2409 §5):
/// `SKEYID = prf(Ni_b | Nr_b, g^xy)`.
///
/// `gxy`: the full-length Diffie-Hellman shared secret ([`super::SharedSecret`]).
pub fn skeyid_sig(prf: HashAlgorithm, ni_b: &[u8], nr_b: &[u8], gxy: &[u8]) -> Digest {
    let key = Zeroizing::new([ni_b, nr_b].concat());
    prf.prf(&key, &[gxy])
}

/// The phase 1 keying material (RFC 2409 §5 and Appendix B). Secrets are zeroized on drop;
/// `Debug` prints none of them.
pub struct Phase1Keys {
    /// SKEYID (authentication-method specific, [`skeyid_psk`] or [`skeyid_sig`]).
    pub skeyid: Digest,
    /// SKEYID_d: keying material for non-ISAKMP SAs (Quick Mode [`keymat`]).
    pub skeyid_d: Digest,
    /// SKEYID_a: the key of the phase 2 and Informational HASH payloads.
    pub skeyid_a: Digest,
    /// SKEYID_e: the source of the ISAKMP SA's cipher key ([`Self::ka`]).
    pub skeyid_e: Digest,
    /// Ka, the phase 1 cipher key ([`expand_ka`] of SKEYID_e).
    pub ka: Zeroizing<Vec<u8>>,
    /// The IV of the first encrypted message of phase 1 (Appendix B):
    /// `hash(g^xi | g^xr)` truncated to the cipher's block length.
    pub iv: Vec<u8>,
}

impl std::fmt::Debug for Phase1Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phase1Keys")
            .field("ka_len", &self.ka.len())
            .field("iv_len", &self.iv.len())
            .finish_non_exhaustive()
    }
}

/// Derives the phase 1 keys from SKEYID (RFC 2409 §5 and Appendix B):
///
/// - `SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)`
/// - `SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)`
/// - `SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)`
/// - `Ka` = SKEYID_e truncated to `key_len` bytes, or expanded when shorter (Appendix B,
///   [`expand_ka`]);
/// - `IV = hash(g^xi | g^xr)` truncated to `cipher`'s block length (Appendix B).
///
/// `key_len` is the cipher key length in bytes, normally `cipher.key_len()` (the Key Length
/// attribute for AES). `gxi`, `gxr`: the initiator's and responder's KE payload bodies. The
/// hash of the IV is `prf`'s underlying hash.
#[allow(clippy::too_many_arguments)]
pub fn derive_phase1(
    prf: HashAlgorithm,
    skeyid: Digest,
    gxy: &[u8],
    cky_i: &[u8; 8],
    cky_r: &[u8; 8],
    cipher: CipherAlgorithm,
    key_len: usize,
    gxi: &[u8],
    gxr: &[u8],
) -> Phase1Keys {
    let k = skeyid.as_bytes();
    let skeyid_d = prf.prf(k, &[gxy, cky_i, cky_r, &[0]]);
    let skeyid_a = prf.prf(k, &[skeyid_d.as_bytes(), gxy, cky_i, cky_r, &[1]]);
    let skeyid_e = prf.prf(k, &[skeyid_a.as_bytes(), gxy, cky_i, cky_r, &[2]]);
    let ka = expand_ka(prf, skeyid_e.as_bytes(), key_len);
    let h = prf.hash(&[gxi, gxr]);
    let iv = h.as_bytes()[..cipher.block_len().min(h.len())].to_vec();
    Phase1Keys {
        skeyid,
        skeyid_d,
        skeyid_a,
        skeyid_e,
        ka,
        iv,
    }
}

/// The phase 1 cipher key from SKEYID_e (RFC 2409 Appendix B): if SKEYID_e has at least
/// `len` bytes, its first `len` bytes; otherwise the first `len` bytes of `K1 | K2 | K3 ...`
/// where `K1 = prf(SKEYID_e, 0)` (one zero octet) and `K(n+1) = prf(SKEYID_e, Kn)`.
pub fn expand_ka(prf: HashAlgorithm, skeyid_e: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + prf.output_len()));
    if skeyid_e.len() >= len {
        out.extend_from_slice(&skeyid_e[..len]);
        return out;
    }
    let mut k = prf.prf(skeyid_e, &[&[0]]);
    loop {
        out.extend_from_slice(k.as_bytes());
        if out.len() >= len {
            break;
        }
        k = prf.prf(skeyid_e, &[k.as_bytes()]);
    }
    out.truncate(len);
    out
}

/// The IV of the first message of a Quick Mode or Informational exchange (RFC 2409
/// Appendix B): `hash(last phase 1 CBC output block | M-ID)` truncated to `block_len`, with
/// M-ID in network byte order. Later messages of the same exchange chain on the last
/// ciphertext block of the previous message.
pub fn message_iv(
    hash: HashAlgorithm,
    last_block: &[u8],
    message_id: u32,
    block_len: usize,
) -> Vec<u8> {
    let h = hash.hash(&[last_block, &message_id.to_be_bytes()]);
    h.as_bytes()[..block_len.min(h.len())].to_vec()
}

/// Quick Mode keying material (RFC 2409 §5.5):
/// `KEYMAT = K1 | K2 | K3 | ...` truncated to `len` bytes, where
///
/// - `K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)`
/// - `K(n+1) = prf(SKEYID_d, Kn | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)`
///
/// `gxy_qm`: the Quick Mode Diffie-Hellman secret when PFS is used. `protocol` is the
/// protocol ID of the proposal (3 for ESP), `spi` the SPI of the SA being keyed — the one
/// chosen by its receiver (so the inbound SA uses our SPI). `ni_b`, `nr_b`: the Quick Mode
/// nonce bodies. For ESP, `len` is the encryption key length plus the integrity key length;
/// the encryption key is taken first (RFC 2409 §5.5 via RFC 2401).
#[allow(clippy::too_many_arguments)]
pub fn keymat(
    prf: HashAlgorithm,
    skeyid_d: &[u8],
    gxy_qm: Option<&[u8]>,
    protocol: u8,
    spi: [u8; 4],
    ni_b: &[u8],
    nr_b: &[u8],
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let gxy = gxy_qm.unwrap_or(&[]);
    let protocol = [protocol];
    let mut out = Zeroizing::new(Vec::with_capacity(len + prf.output_len()));
    let mut k = prf.prf(skeyid_d, &[gxy, &protocol, &spi, ni_b, nr_b]);
    loop {
        out.extend_from_slice(k.as_bytes());
        if out.len() >= len {
            break;
        }
        k = prf.prf(skeyid_d, &[k.as_bytes(), gxy, &protocol, &spi, ni_b, nr_b]);
    }
    out.truncate(len);
    out
}

/// HASH_I, the initiator's phase 1 authenticator (RFC 2409 §5):
/// `HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)`.
///
/// `sai_b`: the initiator's whole SA payload body (minus the generic header); `idii_b`: the
/// initiator's ID payload body (minus the generic header).
#[allow(clippy::too_many_arguments)]
pub fn hash_i(
    prf: HashAlgorithm,
    skeyid: &[u8],
    gxi: &[u8],
    gxr: &[u8],
    cky_i: &[u8; 8],
    cky_r: &[u8; 8],
    sai_b: &[u8],
    idii_b: &[u8],
) -> Digest {
    prf.prf(skeyid, &[gxi, gxr, cky_i, cky_r, sai_b, idii_b])
}

/// HASH_R, the responder's phase 1 authenticator (RFC 2409 §5):
/// `HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)`.
///
/// The arguments are in the same order as [`hash_i`] (initiator's values first); the swap
/// happens inside. `sai_b` is still the *initiator's* SA payload body.
#[allow(clippy::too_many_arguments)]
pub fn hash_r(
    prf: HashAlgorithm,
    skeyid: &[u8],
    gxi: &[u8],
    gxr: &[u8],
    cky_i: &[u8; 8],
    cky_r: &[u8; 8],
    sai_b: &[u8],
    idir_b: &[u8],
) -> Digest {
    prf.prf(skeyid, &[gxr, gxi, cky_r, cky_i, sai_b, idir_b])
}

/// The HASH payload of a Quick Mode message 1 or 2, or of an Informational exchange
/// (RFC 2409 §5.5, §5.7): `prf(SKEYID_a, M-ID | parts...)` with M-ID in network byte order.
///
/// - Quick Mode HASH(1): `parts` = the message after the HASH payload (SA | Ni [| KE]
///   [| IDci | IDcr]), headers included;
/// - Quick Mode HASH(2): `parts` = `Ni_b`, then the message after the HASH payload;
/// - Informational HASH(1): `parts` = the Notification or Delete payload (with header).
pub fn hash_with_message_id(
    prf: HashAlgorithm,
    skeyid_a: &[u8],
    message_id: u32,
    parts: &[&[u8]],
) -> Digest {
    let mid = message_id.to_be_bytes();
    let mut all: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
    all.push(&mid);
    all.extend_from_slice(parts);
    prf.prf(skeyid_a, &all)
}

/// Quick Mode HASH(3) (RFC 2409 §5.5): `prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)`.
pub fn quick_mode_hash3(
    prf: HashAlgorithm,
    skeyid_a: &[u8],
    message_id: u32,
    ni_b: &[u8],
    nr_b: &[u8],
) -> Digest {
    prf.prf(skeyid_a, &[&[0], &message_id.to_be_bytes(), ni_b, nr_b])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_ka_truncates_when_long_enough() {
        let e = [9u8; 32];
        assert_eq!(
            expand_ka(HashAlgorithm::Sha256, &e, 16).as_slice(),
            &e[..16]
        );
        assert_eq!(expand_ka(HashAlgorithm::Sha256, &e, 32).as_slice(), &e[..]);
    }

    #[test]
    fn expand_ka_expands_when_short() {
        let e = [3u8; 20];
        let p = HashAlgorithm::Sha1;
        let k1 = p.prf(&e, &[&[0]]);
        let k2 = p.prf(&e, &[k1.as_ref()]);
        let want = [k1.as_ref(), k2.as_ref()].concat();
        assert_eq!(expand_ka(p, &e, 32).as_slice(), &want[..32]);
        assert_eq!(expand_ka(p, &e, 24).as_slice(), &want[..24]);
        assert_eq!(expand_ka(p, &e, 0).len(), 0);
    }

    #[test]
    fn keymat_chain() {
        let p = HashAlgorithm::Sha1;
        let d = [1u8; 20];
        let spi = [0xc0, 0xff, 0xee, 0x01];
        let k1 = p.prf(&d, &[&[3], &spi, b"ni", b"nr"]);
        let k2 = p.prf(&d, &[k1.as_ref(), &[3], &spi, b"ni", b"nr"]);
        let k3 = p.prf(&d, &[k2.as_ref(), &[3], &spi, b"ni", b"nr"]);
        let want = [k1.as_ref(), k2.as_ref(), k3.as_ref()].concat();
        let got = keymat(p, &d, None, 3, spi, b"ni", b"nr", 52);
        assert_eq!(got.as_slice(), &want[..52]);
        let pfs = keymat(p, &d, Some(b"gxy"), 3, spi, b"ni", b"nr", 20);
        let k1 = p.prf(&d, &[b"gxy", &[3], &spi, b"ni", b"nr"]);
        assert_eq!(pfs.as_slice(), k1.as_ref());
    }

    #[test]
    fn hash_r_swaps() {
        let p = HashAlgorithm::Sha256;
        let (ci, cr) = ([1u8; 8], [2u8; 8]);
        let hi = hash_i(p, b"k", b"gi", b"gr", &ci, &cr, b"sa", b"id");
        let hr = hash_r(p, b"k", b"gi", b"gr", &ci, &cr, b"sa", b"id");
        assert_eq!(
            hi.as_ref(),
            p.prf(b"k", &[b"gigr", &ci, &cr, b"said"]).as_ref()
        );
        assert_eq!(
            hr.as_ref(),
            p.prf(b"k", &[b"grgi", &cr, &ci, b"said"]).as_ref()
        );
    }

    #[test]
    fn phase1_chain_and_iv() {
        let p = HashAlgorithm::Sha1;
        let skeyid = skeyid_psk(p, b"secret", b"ni", b"nr");
        let (ci, cr) = ([1u8; 8], [2u8; 8]);
        let keys = derive_phase1(
            p,
            skeyid.clone(),
            b"gxy",
            &ci,
            &cr,
            CipherAlgorithm::AesCbc128,
            16,
            b"gxi",
            b"gxr",
        );
        let d = p.prf(skeyid.as_ref(), &[b"gxy", &ci, &cr, &[0]]);
        let a = p.prf(skeyid.as_ref(), &[d.as_ref(), b"gxy", &ci, &cr, &[1]]);
        let e = p.prf(skeyid.as_ref(), &[a.as_ref(), b"gxy", &ci, &cr, &[2]]);
        assert_eq!(keys.skeyid_d.as_ref(), d.as_ref());
        assert_eq!(keys.skeyid_a.as_ref(), a.as_ref());
        assert_eq!(keys.skeyid_e.as_ref(), e.as_ref());
        assert_eq!(keys.ka.as_slice(), &e.as_ref()[..16]);
        assert_eq!(keys.iv, &p.hash(&[b"gxigxr"]).as_ref()[..16]);
        let iv = message_iv(p, &[5; 16], 0x0102_0304, 16);
        assert_eq!(iv, &p.hash(&[&[5; 16], &[1, 2, 3, 4]]).as_ref()[..16]);
        assert!(!format!("{keys:?}").contains(&format!("{:?}", keys.ka.as_slice())));
    }

    #[test]
    fn qm_hashes() {
        let p = HashAlgorithm::Sha1;
        let h1 = hash_with_message_id(p, b"a", 7, &[b"x", b"y"]);
        assert_eq!(h1.as_ref(), p.prf(b"a", &[&[0, 0, 0, 7], b"xy"]).as_ref());
        let h3 = quick_mode_hash3(p, b"a", 7, b"ni", b"nr");
        assert_eq!(
            h3.as_ref(),
            p.prf(b"a", &[&[0, 0, 0, 0, 7], b"ninr"]).as_ref()
        );
    }
}
