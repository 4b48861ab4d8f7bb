//! Diffie-Hellman for IKEv1: the MODP groups of RFC 2409 §6.2 (group 2) and RFC 3526
//! (groups 5, 14, 15, 16), and the ECP groups of RFC 5903 (19: P-256, 20: P-384).
//!
//! - MODP: `g^x mod p` with g = 2, by crypto-bigint's constant-time Montgomery
//!   exponentiation (fixed-window, constant-time table lookup; the time depends only on the
//!   exponent's fixed bit length, never on its value). The Montgomery parameters of each
//!   group are computed once per process. Public values and `g^xy` are the full modulus
//!   length, left-padded with zeros (RFC 2409 §5: `g^xy` is used as is; strongSwan pads).
//!   Private exponents are random, short (the primes are safe primes, RFC 3526 §8): at
//!   least twice the group's strength, i.e. the exponent sizes of RFC 3526 §8's "Strength
//!   Estimate 1" (180, 220, 260, 300 bits for groups 5, 14, 15, 16) rounded up to whole
//!   64-bit words, and never under 256 bits: 256 bits for groups 2, 5 and 14, 320 for 15,
//!   384 for 16. (strongSwan's `opt_exp` is larger for 14-16: 384, 384, 512; the cost of
//!   an exponentiation is linear in this length.)
//! - ECP: aws-lc-rs ECDH. RFC 5903 §7: the public value is `x | y` (each coordinate the
//!   field size, no 0x04 point-format octet) and the shared secret is `x` alone. The
//!   private scalar is drawn from the caller's RNG (so seeded tests are reproducible) and
//!   handed to aws-lc-rs, which refuses 0 and values not below the group order (drawn
//!   again, a chance of about 2^-32 for P-256).
//!
//! Peer values are validated (RFC 2409 does not say how; these are the checks of NIST
//! SP 800-56A §5.6.2.3 that apply): MODP `1 < y < p-1` and exact length, ECP exact length
//! and a point on the curve. A bad value is [`CryptoError::InvalidPublicValue`].

use std::sync::OnceLock;

use aws_lc_rs::agreement;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use zeroize::{Zeroize, Zeroizing};

use super::{from_hex, CryptoError};

/// A Diffie-Hellman group (the Group Description attribute, RFC 2409 Appendix A; the IANA
/// "Group Description" registry numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DhGroup {
    /// Group 2: the 1024-bit MODP group (RFC 2409 §6.2).
    Modp1024,
    /// Group 5: the 1536-bit MODP group (RFC 3526 §2).
    Modp1536,
    /// Group 14: the 2048-bit MODP group (RFC 3526 §3).
    Modp2048,
    /// Group 15: the 3072-bit MODP group (RFC 3526 §4).
    Modp3072,
    /// Group 16: the 4096-bit MODP group (RFC 3526 §5).
    Modp4096,
    /// Group 19: the 256-bit random ECP group, NIST P-256 (RFC 5903 §3.1).
    Ecp256,
    /// Group 20: the 384-bit random ECP group, NIST P-384 (RFC 5903 §3.2).
    Ecp384,
}

impl DhGroup {
    /// Every supported group, in the order of their identifiers.
    pub const ALL: &'static [Self] = &[
        Self::Modp1024,
        Self::Modp1536,
        Self::Modp2048,
        Self::Modp3072,
        Self::Modp4096,
        Self::Ecp256,
        Self::Ecp384,
    ];

    /// The group's number (the Group Description attribute value; IKEv2 uses the same).
    pub const fn id(self) -> u16 {
        match self {
            Self::Modp1024 => 2,
            Self::Modp1536 => 5,
            Self::Modp2048 => 14,
            Self::Modp3072 => 15,
            Self::Modp4096 => 16,
            Self::Ecp256 => 19,
            Self::Ecp384 => 20,
        }
    }

    /// The group numbered `id`, if supported.
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|g| g.id() == id)
    }

    /// Length in bytes of a public value (the KE payload body): the modulus length for
    /// MODP, twice the coordinate length for ECP (RFC 5903 §7).
    pub const fn public_len(self) -> usize {
        match self {
            Self::Modp1024 => 128,
            Self::Modp1536 => 192,
            Self::Modp2048 => 256,
            Self::Modp3072 => 384,
            Self::Modp4096 => 512,
            Self::Ecp256 => 64,
            Self::Ecp384 => 96,
        }
    }

    /// Length in bytes of the shared secret `g^xy`: the modulus length for MODP, one
    /// coordinate for ECP (RFC 5903 §7).
    pub const fn shared_len(self) -> usize {
        match self {
            Self::Ecp256 => 32,
            Self::Ecp384 => 48,
            _ => self.public_len(),
        }
    }

    /// Whether this is an elliptic curve group.
    pub const fn is_ecp(self) -> bool {
        matches!(self, Self::Ecp256 | Self::Ecp384)
    }

    /// Length in bits of a generated MODP private exponent (see the module docs: RFC 3526
    /// §8, at least 256); for ECP, the scalar length.
    pub const fn private_bits(self) -> u32 {
        match self {
            Self::Modp1024 | Self::Modp1536 | Self::Modp2048 | Self::Ecp256 => 256,
            Self::Modp3072 => 320,
            Self::Modp4096 | Self::Ecp384 => 384,
        }
    }

    /// Generates a key pair, the private value drawn from `rng`.
    pub fn generate(self, rng: &mut dyn rand::RngCore) -> Result<DhPrivateKey, CryptoError> {
        let mut secret = Zeroizing::new(vec![0u8; (self.private_bits() / 8) as usize]);
        // A rejected draw (zero, or an ECP scalar not below the order) is redrawn; 64
        // consecutive rejections mean a broken RNG.
        for _ in 0..64 {
            rng.fill_bytes(&mut secret);
            match self.private_from_bytes(&secret) {
                Err(CryptoError::InvalidKeyLength) => continue,
                other => return other,
            }
        }
        Err(CryptoError::Internal)
    }

    /// A private key from its bytes, for known-answer tests and for [`Self::generate`].
    ///
    /// MODP: a big-endian exponent of 1 to [`Self::public_len`] bytes, not zero. ECP: the
    /// big-endian scalar, exactly the coordinate length (32 or 48 bytes), in `[1, n-1]`.
    /// Anything else is [`CryptoError::InvalidKeyLength`].
    pub fn private_from_bytes(self, secret: &[u8]) -> Result<DhPrivateKey, CryptoError> {
        match self.ecdh_algorithm() {
            Some(alg) => ecp_private(self, alg, secret),
            None => modp_private(self, secret),
        }
    }

    fn ecdh_algorithm(self) -> Option<&'static agreement::Algorithm> {
        match self {
            Self::Ecp256 => Some(&agreement::ECDH_P256),
            Self::Ecp384 => Some(&agreement::ECDH_P384),
            _ => None,
        }
    }
}

/// A Diffie-Hellman private key with its public value. The private part is zeroized on
/// drop (aws-lc-rs clears its EC keys itself); `Debug` prints only the group.
pub struct DhPrivateKey {
    group: DhGroup,
    secret: Secret,
    public: Vec<u8>,
}

enum Secret {
    /// The exponent, at the precision of its byte length rounded up to whole limbs.
    Modp(BoxedUint),
    Ecp(agreement::PrivateKey),
}

impl Drop for DhPrivateKey {
    fn drop(&mut self) {
        if let Secret::Modp(x) = &mut self.secret {
            x.as_mut_words().zeroize();
        }
    }
}

impl std::fmt::Debug for DhPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhPrivateKey")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl DhPrivateKey {
    /// The group.
    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// The public value to send in the KE payload: exactly [`DhGroup::public_len`] bytes
    /// (MODP: `g^x mod p`, big-endian, left-padded with zeros; ECP: `x | y`).
    pub fn public_value(&self) -> &[u8] {
        &self.public
    }

    /// The shared secret `g^xy` from the peer's public value (the peer's KE payload body).
    ///
    /// The peer value is validated: MODP, exactly [`DhGroup::public_len`] bytes and
    /// `1 < y < p-1` (excluding the elements of order 1 and 2); ECP, exactly
    /// [`DhGroup::public_len`] bytes forming a point on the curve (checked by aws-lc-rs).
    /// Otherwise [`CryptoError::InvalidPublicValue`]. The result is [`DhGroup::shared_len`]
    /// bytes: MODP left-padded to the modulus length, ECP the x coordinate (RFC 5903 §7).
    pub fn agree(&self, peer_public: &[u8]) -> Result<SharedSecret, CryptoError> {
        if peer_public.len() != self.group.public_len() {
            return Err(CryptoError::InvalidPublicValue);
        }
        match &self.secret {
            Secret::Modp(x) => modp_agree(self.group, x, peer_public),
            Secret::Ecp(key) => {
                let alg = key.algorithm();
                let mut point = Vec::with_capacity(peer_public.len() + 1);
                point.push(0x04); // SEC 1 §2.3.3 uncompressed point
                point.extend_from_slice(peer_public);
                let peer = agreement::UnparsedPublicKey::new(alg, point);
                agreement::agree(key, &peer, CryptoError::InvalidPublicValue, |x| {
                    Ok(SharedSecret(Zeroizing::new(x.to_vec())))
                })
            }
        }
    }
}

/// The Diffie-Hellman shared secret `g^xy`, zeroized on drop; `Debug` prints only its
/// length.
#[derive(Clone)]
pub struct SharedSecret(Zeroizing<Vec<u8>>);

impl SharedSecret {
    /// A shared secret from its bytes (known-answer tests from captured exchanges).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for SharedSecret {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSecret")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------
// ECP (RFC 5903)

fn ecp_private(
    group: DhGroup,
    alg: &'static agreement::Algorithm,
    secret: &[u8],
) -> Result<DhPrivateKey, CryptoError> {
    if secret.len() != group.shared_len() {
        return Err(CryptoError::InvalidKeyLength);
    }
    let key = agreement::PrivateKey::from_private_key(alg, secret)
        .map_err(|_| CryptoError::InvalidKeyLength)?;
    let public = key
        .compute_public_key()
        .map_err(|_| CryptoError::Internal)?;
    // SEC 1 uncompressed: 0x04 | x | y; RFC 5903 §7 sends x | y.
    let public = match public.as_ref().split_first() {
        Some((0x04, xy)) if xy.len() == group.public_len() => xy.to_vec(),
        _ => return Err(CryptoError::Internal),
    };
    Ok(DhPrivateKey {
        group,
        secret: Secret::Ecp(key),
        public,
    })
}

// ---------------------------------------------------------------------------------------
// MODP (RFC 2409 §6.2, RFC 3526)

/// The precomputed parameters of a MODP group.
struct Modp {
    /// Montgomery parameters of p.
    params: BoxedMontyParams,
    /// The generator 2, in Montgomery form.
    generator: BoxedMontyForm,
    /// p - 1 (the upper bound, exclusive, of valid public values).
    p_minus_1: BoxedUint,
    /// Bits of p (a multiple of 64 for every group).
    bits: u32,
}

fn modp_hex(group: DhGroup) -> &'static str {
    match group {
        DhGroup::Modp1024 => MODP_1024_HEX,
        DhGroup::Modp1536 => MODP_1536_HEX,
        DhGroup::Modp2048 => MODP_2048_HEX,
        DhGroup::Modp3072 => MODP_3072_HEX,
        DhGroup::Modp4096 => MODP_4096_HEX,
        DhGroup::Ecp256 | DhGroup::Ecp384 => "",
    }
}

/// The prime p of a MODP group, big-endian (for tests and interoperability checks);
/// `None` for ECP groups.
pub fn modp_prime(group: DhGroup) -> Option<Vec<u8>> {
    if group.is_ecp() {
        return None;
    }
    from_hex(modp_hex(group))
}

fn modp(group: DhGroup) -> Result<&'static Modp, CryptoError> {
    static CACHE: [OnceLock<Option<Modp>>; 5] = [const { OnceLock::new() }; 5];
    let slot = match group {
        DhGroup::Modp1024 => 0,
        DhGroup::Modp1536 => 1,
        DhGroup::Modp2048 => 2,
        DhGroup::Modp3072 => 3,
        DhGroup::Modp4096 => 4,
        DhGroup::Ecp256 | DhGroup::Ecp384 => return Err(CryptoError::Unsupported),
    };
    CACHE[slot]
        .get_or_init(|| build_modp(group))
        .as_ref()
        .ok_or(CryptoError::Internal)
}

fn build_modp(group: DhGroup) -> Option<Modp> {
    let bytes = modp_prime(group)?;
    let bits = u32::try_from(bytes.len() * 8).ok()?;
    let p = BoxedUint::from_be_slice(&bytes, bits).ok()?;
    let p_minus_1 = p.wrapping_sub(BoxedUint::one_with_precision(bits));
    let p: Option<Odd<BoxedUint>> = p.to_odd().into();
    // p is public: the variable-time setup is fine.
    let params = BoxedMontyParams::new_vartime(p?);
    let generator = BoxedMontyForm::new(BoxedUint::from_be_slice(&[2], bits).ok()?, &params);
    Some(Modp {
        params,
        generator,
        p_minus_1,
        bits,
    })
}

fn modp_private(group: DhGroup, secret: &[u8]) -> Result<DhPrivateKey, CryptoError> {
    if secret.is_empty() || secret.len() > group.public_len() {
        return Err(CryptoError::InvalidKeyLength);
    }
    let m = modp(group)?;
    let exp_bits =
        u32::try_from(secret.len().div_ceil(8) * 64).map_err(|_| CryptoError::Internal)?;
    let mut x = BoxedUint::from_be_slice(secret, exp_bits).map_err(|_| CryptoError::Internal)?;
    if bool::from(x.is_zero()) {
        x.as_mut_words().zeroize();
        return Err(CryptoError::InvalidKeyLength);
    }
    let y = m.generator.pow(&x).retrieve();
    let public = y.to_be_bytes().into_vec();
    let key = DhPrivateKey {
        group,
        secret: Secret::Modp(x),
        public,
    };
    if key.public.len() != group.public_len() {
        return Err(CryptoError::Internal);
    }
    Ok(key)
}

fn modp_agree(group: DhGroup, x: &BoxedUint, peer: &[u8]) -> Result<SharedSecret, CryptoError> {
    let m = modp(group)?;
    // The peer value is public: variable-time comparisons are fine.
    let y = BoxedUint::from_be_slice(peer, m.bits).map_err(|_| CryptoError::InvalidPublicValue)?;
    let one = BoxedUint::one_with_precision(m.bits);
    if y.cmp_vartime(&one).is_le() || y.cmp_vartime(&m.p_minus_1).is_ge() {
        return Err(CryptoError::InvalidPublicValue);
    }
    let mut z = BoxedMontyForm::new(y, &m.params).pow(x);
    let mut zz = z.retrieve();
    let mut bytes = zz.to_be_bytes();
    let out = SharedSecret(Zeroizing::new(bytes.to_vec()));
    bytes.zeroize();
    zz.as_mut_words().zeroize();
    z.as_montgomery_mut().as_mut_words().zeroize();
    if out.0.len() != group.shared_len() {
        return Err(CryptoError::Internal);
    }
    Ok(out)
}

// The primes, as printed in the RFCs (g = 2 for all).

/// RFC 2409 §6.2, the second Oakley group: `2^1024 - 2^960 - 1 + 2^64 * { [2^894 pi] +
/// 129093 }`.
const MODP_1024_HEX: &str = "\
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 \
    29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD \
    EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 \
    E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED \
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381 \
    FFFFFFFF FFFFFFFF \
";

/// RFC 3526 §2, group 5: `2^1536 - 2^1472 - 1 + 2^64 * { [2^1406 pi] + 741804 }`.
const MODP_1536_HEX: &str = "\
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 \
    29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD \
    EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 \
    E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED \
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D \
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F \
    83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D \
    670C354E 4ABC9804 F1746C08 CA237327 FFFFFFFF FFFFFFFF \
";

/// RFC 3526 §3, group 14: `2^2048 - 2^1984 - 1 + 2^64 * { [2^1918 pi] + 124476 }`.
const MODP_2048_HEX: &str = "\
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 \
    29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD \
    EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 \
    E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED \
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D \
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F \
    83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D \
    670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B \
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 \
    DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510 \
    15728E5A 8AACAA68 FFFFFFFF FFFFFFFF \
";

/// RFC 3526 §4, group 15: `2^3072 - 2^3008 - 1 + 2^64 * { [2^2942 pi] + 1690314 }`.
const MODP_3072_HEX: &str = "\
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 \
    29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD \
    EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 \
    E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED \
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D \
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F \
    83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D \
    670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B \
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 \
    DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510 \
    15728E5A 8AAAC42D AD33170D 04507A33 A85521AB DF1CBA64 \
    ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7 \
    ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B \
    F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C \
    BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31 \
    43DB5BFC E0FD108E 4B82D120 A93AD2CA FFFFFFFF FFFFFFFF \
";

/// RFC 3526 §5, group 16: `2^4096 - 2^4032 - 1 + 2^64 * { [2^3966 pi] + 240904 }`.
const MODP_4096_HEX: &str = "\
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 \
    29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD \
    EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 \
    E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED \
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D \
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F \
    83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D \
    670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B \
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 \
    DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510 \
    15728E5A 8AAAC42D AD33170D 04507A33 A85521AB DF1CBA64 \
    ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7 \
    ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B \
    F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C \
    BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31 \
    43DB5BFC E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7 \
    88719A10 BDBA5B26 99C32718 6AF4E23C 1A946834 B6150BDA \
    2583E9CA 2AD44CE8 DBBBC2DB 04DE8EF9 2E8EFC14 1FBECAA6 \
    287C5947 4E6BC05D 99B2964F A090C3A2 233BA186 515BE7ED \
    1F612970 CEE2D7AF B81BDD76 2170481C D0069127 D5B05AA9 \
    93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34063199 \
    FFFFFFFF FFFFFFFF \
";

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(0x5eed)
    }

    #[test]
    fn keys_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<DhPrivateKey>();
        check::<SharedSecret>();
        check::<super::super::Phase1Cipher>();
        check::<super::super::Digest>();
    }

    #[test]
    fn ids() {
        for &g in DhGroup::ALL {
            assert_eq!(DhGroup::from_id(g.id()), Some(g));
        }
        assert_eq!(DhGroup::from_id(1), None);
        assert_eq!(DhGroup::from_id(21), None);
        let lens: Vec<usize> = DhGroup::ALL.iter().map(|g| g.public_len()).collect();
        assert_eq!(lens, [128, 192, 256, 384, 512, 64, 96]);
    }

    #[test]
    fn agreement_is_symmetric() {
        let mut rng = rng();
        for &g in DhGroup::ALL {
            let a = g.generate(&mut rng).unwrap();
            let b = g.generate(&mut rng).unwrap();
            assert_eq!(a.group(), g);
            assert_eq!(a.public_value().len(), g.public_len());
            assert_ne!(a.public_value(), b.public_value());
            let ab = a.agree(b.public_value()).unwrap();
            let ba = b.agree(a.public_value()).unwrap();
            assert_eq!(ab.as_ref(), ba.as_ref(), "{g:?}");
            assert_eq!(ab.as_ref().len(), g.shared_len());
        }
    }

    #[test]
    fn seeded_generation_is_deterministic() {
        for &g in DhGroup::ALL {
            let a = g.generate(&mut rng()).unwrap();
            let b = g.generate(&mut rng()).unwrap();
            assert_eq!(a.public_value(), b.public_value(), "{g:?}");
        }
    }

    #[test]
    fn modp_known_small_exponents() {
        // x = 1: g^x = 2; x = 3: 8 (left-padded to the modulus length).
        for &g in &DhGroup::ALL[..5] {
            let k = g.private_from_bytes(&[1]).unwrap();
            let mut want = vec![0u8; g.public_len()];
            want[g.public_len() - 1] = 2;
            assert_eq!(k.public_value(), want.as_slice());
            // Peer value 2 with x = 3 gives 8.
            let k3 = g.private_from_bytes(&[0, 3]).unwrap();
            want[g.public_len() - 1] = 8;
            assert_eq!(k3.public_value(), want.as_slice());
            want[g.public_len() - 1] = 2;
            assert_eq!(k3.agree(&want).unwrap().as_ref()[g.public_len() - 1], 8);
        }
    }

    #[test]
    fn modp_shared_secret_is_left_padded() {
        // A secret whose top byte is zero keeps the full length: find one by trying.
        let g = DhGroup::Modp1024;
        let a = g.private_from_bytes(&[7; 32]).unwrap();
        let mut rng = rng();
        let mut seen = false;
        for _ in 0..2000 {
            let b = g.generate(&mut rng).unwrap();
            let s = a.agree(b.public_value()).unwrap();
            assert_eq!(s.as_ref().len(), 128);
            if s.as_ref()[0] == 0 {
                seen = true;
                assert_eq!(s.as_ref(), b.agree(a.public_value()).unwrap().as_ref());
                break;
            }
        }
        assert!(seen, "no secret with a leading zero byte in 2000 tries");
    }

    #[test]
    fn modp_invalid_public_values() {
        let mut rng = rng();
        for &g in &DhGroup::ALL[..5] {
            let k = g.generate(&mut rng).unwrap();
            let len = g.public_len();
            let p = modp_prime(g).unwrap();
            let mut p_minus_1 = p.clone();
            p_minus_1[len - 1] -= 1; // p ends in 0xFF
            let mut one = vec![0u8; len];
            one[len - 1] = 1;
            let bad: Vec<Vec<u8>> = vec![
                vec![0; len],
                one,
                p_minus_1,
                p.clone(),
                vec![0xff; len],
                vec![],
                p[1..].to_vec(),
                [&[0], p.as_slice()].concat(),
                vec![2; len - 1],
            ];
            for b in &bad {
                assert_eq!(
                    k.agree(b).unwrap_err(),
                    CryptoError::InvalidPublicValue,
                    "{g:?} {} bytes",
                    b.len()
                );
            }
            // 2 and p - 2 are accepted.
            let mut two = vec![0u8; len];
            two[len - 1] = 2;
            assert!(k.agree(&two).is_ok());
            let mut p_minus_2 = p.clone();
            p_minus_2[len - 1] -= 2;
            assert!(k.agree(&p_minus_2).is_ok());
        }
    }

    #[test]
    fn ecp_invalid_public_values() {
        let mut rng = rng();
        for g in [DhGroup::Ecp256, DhGroup::Ecp384] {
            let k = g.generate(&mut rng).unwrap();
            let peer = g.generate(&mut rng).unwrap();
            let len = g.public_len();
            let mut off_curve = peer.public_value().to_vec();
            off_curve[len - 1] ^= 1;
            let tagged = [&[4], peer.public_value()].concat();
            let bad: Vec<Vec<u8>> = vec![
                vec![0; len],
                vec![0xaa; len],
                off_curve,
                tagged,
                peer.public_value()[1..].to_vec(),
                vec![],
            ];
            for b in &bad {
                assert_eq!(
                    k.agree(b).unwrap_err(),
                    CryptoError::InvalidPublicValue,
                    "{g:?}"
                );
            }
            assert!(k.agree(peer.public_value()).is_ok());
        }
        // A value of the other group's length.
        let k = DhGroup::Ecp256.generate(&mut rng).unwrap();
        let other = DhGroup::Ecp384.generate(&mut rng).unwrap();
        assert_eq!(
            k.agree(other.public_value()).unwrap_err(),
            CryptoError::InvalidPublicValue
        );
    }

    #[test]
    fn invalid_private_values() {
        for &g in DhGroup::ALL {
            assert_eq!(
                g.private_from_bytes(&[]).unwrap_err(),
                CryptoError::InvalidKeyLength
            );
            assert_eq!(
                g.private_from_bytes(&vec![0; g.shared_len()]).unwrap_err(),
                CryptoError::InvalidKeyLength
            );
        }
        for g in [DhGroup::Ecp256, DhGroup::Ecp384] {
            // Not below the group order.
            assert_eq!(
                g.private_from_bytes(&vec![0xff; g.shared_len()])
                    .unwrap_err(),
                CryptoError::InvalidKeyLength
            );
            assert_eq!(
                g.private_from_bytes(&[1; 31]).unwrap_err(),
                CryptoError::InvalidKeyLength
            );
        }
        assert_eq!(
            DhGroup::Modp1024.private_from_bytes(&[1; 129]).unwrap_err(),
            CryptoError::InvalidKeyLength
        );
        assert!(DhGroup::Modp1024.private_from_bytes(&[0xff; 128]).is_ok());
    }

    /// An RNG that returns zeros only: every draw is rejected.
    struct Zeros;
    impl rand::RngCore for Zeros {
        fn next_u32(&mut self) -> u32 {
            0
        }
        fn next_u64(&mut self) -> u64 {
            0
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            dst.fill(0);
        }
    }

    #[test]
    fn broken_rng_is_an_error_not_a_hang() {
        for &g in DhGroup::ALL {
            assert_eq!(g.generate(&mut Zeros).unwrap_err(), CryptoError::Internal);
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let k = DhGroup::Ecp256.generate(&mut rng()).unwrap();
        assert_eq!(format!("{k:?}"), "DhPrivateKey { group: Ecp256, .. }");
        let s = k.agree(DhGroup::Ecp256.generate(&mut rng()).unwrap().public_value());
        assert_eq!(format!("{:?}", s.unwrap()), "SharedSecret { len: 32, .. }");
    }

    #[test]
    fn primes_are_safe_primes_with_generator_2() {
        // 2 generates the subgroup of order q = (p-1)/2: 2^q = 1 (p = 7 mod 8, so 2 is a
        // quadratic residue). With 2^(p-1) = 1 this is a Fermat check of p.
        for &g in &DhGroup::ALL[..5] {
            let m = modp(g).unwrap();
            let q = m.p_minus_1.shr_vartime(1).unwrap();
            let r = m.generator.pow(&q).retrieve();
            assert!(bool::from(r.is_one()), "{g:?}");
        }
    }
}
