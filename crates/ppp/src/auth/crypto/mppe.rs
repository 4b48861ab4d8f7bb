//! MPPE start keys from MS-CHAP credentials (RFC 3079) and the MPPE key-change hash
//! (RFC 3078 §7.3).
//!
//! The start keys ([`MppeKeys`]) are what the RADIUS MS-MPPE-Send-Key and MS-MPPE-Recv-Key
//! attributes carry (RFC 2548 §2.4.2, §2.4.3). The MPPE layer turns a start key into the first
//! session key with [`mppe_get_new_key_from_sha`] (start key as both inputs), reduces it with
//! [`MppeKeyStrength::reduce`] for 40 or 56 bits, and keys RC4 with it; RC4 is not here.

use core::fmt;

use sha1::{Digest, Sha1};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::ct_eq;

/// RFC 3079 §2.4 SHApad1 / §3.4 SHSpad1.
const SHS_PAD1: [u8; 40] = [0x00; 40];
/// RFC 3079 §2.4 SHApad2 / §3.4 SHSpad2.
const SHS_PAD2: [u8; 40] = [0xf2; 40];
/// RFC 3079 §3.4 Magic1.
const MAGIC1: &[u8; 27] = b"This is the MPPE Master Key";
/// RFC 3079 §3.4 Magic2.
const MAGIC2: &[u8; 84] =
    b"On the client side, this is the send key; on the server side, it is the receive key.";
/// RFC 3079 §3.4 Magic3.
const MAGIC3: &[u8; 84] =
    b"On the client side, this is the receive key; on the server side, it is the send key.";

/// The longest MPPE key, in octets (128 bits).
const MAX_KEY_LEN: usize = 16;

/// SHA-1 of the concatenation of `parts`, in a buffer that is zeroized on drop.
fn sha1(parts: &[&[u8]]) -> Zeroizing<[u8; 20]> {
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part);
    }
    let mut digest = Zeroizing::new([0u8; 20]);
    hasher.finalize_into((&mut *digest).into());
    digest
}

/// The two 128-bit MPPE start keys of one end of the link (RFC 3079 §3.3 MasterSendKey and
/// MasterReceiveKey; for MS-CHAPv1, §2.3, the same key both ways).
///
/// As RADIUS carries them in MS-MPPE-Send-Key and MS-MPPE-Recv-Key (RFC 2548 §2.4.2, §2.4.3):
/// `send` encrypts what this end sends, `receive` decrypts what it receives. The server's `send`
/// is the client's `receive` and the other way round. For 40- and 56-bit MPPE, the first 8
/// octets are the key (RFC 3079 §3.1, §3.2).
///
/// Zeroized on drop; compared in constant time; `Debug` does not print the keys.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MppeKeys {
    /// The key for the direction this end sends in.
    pub send: [u8; 16],
    /// The key for the direction this end receives in.
    pub receive: [u8; 16],
}

impl fmt::Debug for MppeKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MppeKeys").finish_non_exhaustive()
    }
}

impl PartialEq for MppeKeys {
    fn eq(&self, other: &Self) -> bool {
        // Non-short-circuiting `&`: both halves are always compared.
        ct_eq(&self.send, &other.send) & ct_eq(&self.receive, &other.receive)
    }
}

impl Eq for MppeKeys {}

/// The MPPE key strengths (RFC 3078 §2.1 CCP option bits L, M and S; RFC 3079 §2, §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MppeKeyStrength {
    /// 40-bit: an 8-octet key whose first three octets are fixed (RFC 3079 §3.1).
    Bits40,
    /// 56-bit: an 8-octet key whose first octet is fixed (RFC 3079 §3.2).
    Bits56,
    /// 128-bit: a 16-octet key (RFC 3079 §3.3).
    Bits128,
}

impl MppeKeyStrength {
    /// The key length in octets, the "SessionKeyLength" of RFC 3078 §7.3 and RFC 3079 §3.4:
    /// 8 for 40- and 56-bit keys, 16 for 128-bit keys.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Bits40 | Self::Bits56 => 8,
            Self::Bits128 => 16,
        }
    }

    /// Reduces the effective strength of a freshly derived session key (RFC 3079 §3.1, §3.2;
    /// RFC 3078 §7.3): for 40 bits the first three octets become D1 26 9E, for 56 bits the first
    /// becomes D1; octets past [`Self::key_len`] are zeroed. 128-bit keys are left alone.
    pub fn reduce(self, key: &mut [u8; 16]) {
        //= https://www.rfc-editor.org/rfc/rfc3078#section-7.3
        //# For 40-bit session keys the most significant three octets of the new
        //# session key are now set to 0xD1, 0x26 and 0x9E respectively; for 56-
        //# bit keys, the most significant octet is set to 0xD1.
        match self {
            Self::Bits40 => key[..3].copy_from_slice(&[0xd1, 0x26, 0x9e]),
            Self::Bits56 => key[0] = 0xd1,
            Self::Bits128 => {}
        }
        key[self.key_len()..].zeroize();
    }
}

/// GetMasterKey (RFC 3079 §3.4): the first 16 octets of
/// SHA1(PasswordHashHash ++ NT-Response ++ Magic1), from the MS-CHAPv2 exchange.
pub fn mppe_master_key(password_hash_hash: &[u8; 16], nt_response: &[u8; 24]) -> [u8; 16] {
    let digest = sha1(&[password_hash_hash, nt_response, MAGIC1]);
    let mut master_key = [0u8; 16];
    master_key.copy_from_slice(&digest[..16]);
    master_key
}

/// GetAsymmetricStartKey (RFC 3079 §3.4): the first `key_len` octets of
/// SHA1(MasterKey ++ SHSpad1 ++ Magic ++ SHSpad2), where Magic is Magic3 for the server's send
/// key and the client's receive key, and Magic2 for the other two.
///
/// `key_len` is 8 (40- and 56-bit MPPE) or 16 (128-bit); the result is always 16 octets, of
/// which those past `key_len` are zero. A `key_len` above 16 counts as 16. Since the key is a
/// prefix of the digest, the 8-octet key is the first half of the 16-octet one.
pub fn mppe_asymmetric_start_key(
    master_key: &[u8; 16],
    key_len: usize,
    is_send: bool,
    is_server: bool,
) -> [u8; 16] {
    //= https://www.rfc-editor.org/rfc/rfc3079#section-3.4
    //# if (IsSend) {
    //#    if (IsServer) {
    //#       s = Magic3
    //#    } else {
    //#       s = Magic2
    //#    }
    //# } else {
    //#    if (IsServer) {
    //#       s = Magic2
    //#    } else {
    //#       s = Magic3
    //#    }
    //# }
    let magic = if is_send == is_server { MAGIC3 } else { MAGIC2 };
    let digest = sha1(&[master_key, &SHS_PAD1, magic, &SHS_PAD2]);
    let len = key_len.min(MAX_KEY_LEN);
    let mut key = [0u8; 16];
    key[..len].copy_from_slice(&digest[..len]);
    key
}

/// Both 128-bit MPPE start keys of one end after MS-CHAPv2 (RFC 3079 §3.3): GetMasterKey, then
/// GetAsymmetricStartKey for each direction, for the server (`is_server`, the authenticator)
/// or the client (the peer).
///
/// These are the values of MS-MPPE-Send-Key and MS-MPPE-Recv-Key (RFC 2548 §2.4.2, §2.4.3) when
/// `is_server` is true.
pub fn mppe_keys_mschapv2(
    password_hash_hash: &[u8; 16],
    nt_response: &[u8; 24],
    is_server: bool,
) -> MppeKeys {
    let master_key = Zeroizing::new(mppe_master_key(password_hash_hash, nt_response));
    MppeKeys {
        send: mppe_asymmetric_start_key(&master_key, MAX_KEY_LEN, true, is_server),
        receive: mppe_asymmetric_start_key(&master_key, MAX_KEY_LEN, false, is_server),
    }
}

/// Get_Start_Key (RFC 3079 §2.4): the 128-bit MS-CHAPv1 start key, the first 16 octets of
/// SHA1(NtPasswordHashHash ++ NtPasswordHashHash ++ Challenge), where Challenge is the
/// authenticator's 8-octet challenge from the first authentication.
pub fn mppe_start_key_mschapv1(password_hash_hash: &[u8; 16], challenge: &[u8; 8]) -> [u8; 16] {
    let digest = sha1(&[password_hash_hash, password_hash_hash, challenge]);
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// The 128-bit MPPE start keys after MS-CHAPv1 (RFC 3079 §2.3): [`mppe_start_key_mschapv1`]
/// in both directions ("the initial session key in both directions is derived from the
/// credentials of the peer that initiated the call", §2), so the same for either role.
///
/// The 40- and 56-bit MS-CHAPv1 keys come from the LAN Manager hash instead (§2.1, §2.2):
/// the first 8 octets of [`super::lm_password_hash`] are their start key.
pub fn mppe_keys_mschapv1(password_hash_hash: &[u8; 16], challenge: &[u8; 8]) -> MppeKeys {
    let key = Zeroizing::new(mppe_start_key_mschapv1(password_hash_hash, challenge));
    MppeKeys {
        send: *key,
        receive: *key,
    }
}

/// GetNewKeyFromSHA (RFC 3078 §7.3; Get_Key in RFC 3079 §2.4): the first `key_len` octets of
/// SHA1(StartKey ++ SHApad1 ++ SessionKey ++ SHApad2), each key taken to `key_len` octets.
///
/// With the start key as both inputs this is the first session key (RFC 3079 §2.3, §3.1-§3.3);
/// at each key change RFC 3078 §7.3 feeds the current session key, then RC4-encrypts the result
/// with itself (not done here) and, for 40 or 56 bits, applies [`MppeKeyStrength::reduce`].
/// `key_len` is 8 or 16; above 16 counts as 16; octets past `key_len` in the result are zero.
pub fn mppe_get_new_key_from_sha(
    start_key: &[u8; 16],
    session_key: &[u8; 16],
    key_len: usize,
) -> [u8; 16] {
    let len = key_len.min(MAX_KEY_LEN);
    let digest = sha1(&[&start_key[..len], &SHS_PAD1, &session_key[..len], &SHS_PAD2]);
    let mut key = [0u8; 16];
    key[..len].copy_from_slice(&digest[..len]);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::crypto::{
        generate_nt_response, hash_nt_password_hash, lm_password_hash, nt_password_hash,
    };
    use proptest::prelude::*;

    // RFC 3079 §3.5 reuses the RFC 2759 §9.2 exchange (UserName "User", Password "clientPass").
    //= https://www.rfc-editor.org/rfc/rfc3079#section-3.5.3
    //# Step 1: NtPasswordHash(Password, PasswordHash)
    const PASSWORD_HASH: [u8; 16] = [
        0x44, 0xEB, 0xBA, 0x8D, 0x53, 0x12, 0xB8, 0xD6, 0x11, 0x47, 0x44, 0x11, 0xF5, 0x69, 0x89,
        0xAE,
    ];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-3.5.3
    //# Step 2: PasswordHashHash = MD4(PasswordHash)
    const PASSWORD_HASH_HASH: [u8; 16] = [
        0x41, 0xC0, 0x0C, 0x58, 0x4B, 0xD2, 0xD9, 0x1C, 0x40, 0x17, 0xA2, 0xA1, 0x2F, 0xA5, 0x9F,
        0x3F,
    ];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-3.5.3
    //# NT-Response =
    const NT_RESPONSE: [u8; 24] = [
        0x82, 0x30, 0x9E, 0xCD, 0x8D, 0x70, 0x8B, 0x5E, 0xA0, 0x8F, 0xAA, 0x39, 0x81, 0xCD, 0x83,
        0x54, 0x42, 0x33, 0x11, 0x4A, 0x3D, 0x85, 0xD6, 0xDF,
    ];
    const AUTHENTICATOR_CHALLENGE: [u8; 16] = [
        0x5B, 0x5D, 0x7C, 0x7D, 0x7B, 0x3F, 0x2F, 0x3E, 0x3C, 0x2C, 0x60, 0x21, 0x32, 0x26, 0x26,
        0x28,
    ];
    const PEER_CHALLENGE: [u8; 16] = [
        0x21, 0x40, 0x23, 0x24, 0x25, 0x5E, 0x26, 0x2A, 0x28, 0x29, 0x5F, 0x2B, 0x3A, 0x33, 0x7C,
        0x7E,
    ];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-3.5.3
    //# Step 2: Derive the master key (GetMasterKey())
    const MASTER_KEY: [u8; 16] = [
        0xFD, 0xEC, 0xE3, 0x71, 0x7A, 0x8C, 0x83, 0x8C, 0xB3, 0x88, 0xE5, 0x27, 0xAE, 0x3C, 0xDD,
        0x31,
    ];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-3.5.3
    //# Step 3: Derive the send master session key (GetAsymmetricStartKey())
    const SEND_START_KEY_128: [u8; 16] = [
        0x8B, 0x7C, 0xDC, 0x14, 0x9B, 0x99, 0x3A, 0x1B, 0xA1, 0x18, 0xCB, 0x15, 0x3F, 0x56, 0xDC,
        0xCB,
    ];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-3.5.3
    //# Step 4: Derive the initial send session key (GetNewKeyFromSHA())
    const SEND_SESSION_KEY_128: [u8; 16] = [
        0x40, 0x5C, 0xB2, 0x24, 0x7A, 0x79, 0x56, 0xE6, 0xE2, 0x11, 0x00, 0x7A, 0xE2, 0x7B, 0x22,
        0xD4,
    ];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-3.5.1
    //# Step 4: Derive the master send session key (GetAsymmetricStartKey())
    const SEND_START_KEY_40: [u8; 8] = [0x8B, 0x7C, 0xDC, 0x14, 0x9B, 0x99, 0x3A, 0x1B];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-3.5.1
    //# Step 5: Derive the initial send session key (GetNewKeyFromSHA())
    const SEND_SESSION_KEY_40: [u8; 8] = [0xD1, 0x26, 0x9E, 0xC4, 0x9F, 0xA6, 0x2E, 0x3E];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-3.5.2
    //# Step 5: Derive the initial send session key (GetNewKeyFromSHA())
    const SEND_SESSION_KEY_56: [u8; 8] = [0xD1, 0x5C, 0x00, 0xC4, 0x9F, 0xA6, 0x2E, 0x3E];

    //= https://www.rfc-editor.org/rfc/rfc3079#section-2.5.3
    //# Challenge = 10 2d b5 df 08 5d 30 41
    const V1_CHALLENGE: [u8; 8] = [0x10, 0x2d, 0xb5, 0xdf, 0x08, 0x5d, 0x30, 0x41];
    // §2.5.3 prints InitialSessionKey twice, as "... ac ca ..." in Step 3 and "... ac c1 ..." in
    // Step 4 (a copy of it). SHA-1 gives "ac c1", and Step 5 checks out from it: Step 3 has
    // the typo.
    //= https://www.rfc-editor.org/rfc/rfc3079#section-2.5.3
    //# Step 4: Copy InitialSessionKey to CurrentSessionKey
    //#    CurrentSessionKey = a8 94 78 50 cf c0 ac c1 d1 78 9f b6 2d dc dd b0
    const V1_INITIAL_SESSION_KEY: [u8; 16] = [
        0xa8, 0x94, 0x78, 0x50, 0xcf, 0xc0, 0xac, 0xc1, 0xd1, 0x78, 0x9f, 0xb6, 0x2d, 0xdc, 0xdd,
        0xb0,
    ];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-2.5.3
    //# Step 5: GetKey(InitialSessionKey, CurrentSessionKey, 16)
    const V1_SESSION_KEY_128: [u8; 16] = [
        0x59, 0xd1, 0x59, 0xbc, 0x09, 0xf7, 0x6f, 0x1d, 0xa2, 0xa8, 0x6a, 0x28, 0xff, 0xec, 0x0b,
        0x1e,
    ];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-2.5.1
    //# Step 3: GetKey(PasswordHash, SessionKey, 8)
    //#    SessionKey = d8 08 01 53 8c ec 4a 08
    const V1_LM_GET_KEY: [u8; 8] = [0xd8, 0x08, 0x01, 0x53, 0x8c, 0xec, 0x4a, 0x08];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-2.5.1
    //# Step 4: Reduce the effective key length to 40 bits
    const V1_SESSION_KEY_40: [u8; 8] = [0xd1, 0x26, 0x9e, 0x53, 0x8c, 0xec, 0x4a, 0x08];
    //= https://www.rfc-editor.org/rfc/rfc3079#section-2.5.2
    //# Step 4: Reduce the effective key length to 56 bits
    const V1_SESSION_KEY_56: [u8; 8] = [0xd1, 0x08, 0x01, 0x53, 0x8c, 0xec, 0x4a, 0x08];

    fn widen(key8: &[u8; 8]) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(key8);
        k
    }

    #[test]
    fn rfc3079_inputs_match_rfc2759() {
        assert_eq!(nt_password_hash("clientPass"), PASSWORD_HASH);
        assert_eq!(hash_nt_password_hash(&PASSWORD_HASH), PASSWORD_HASH_HASH);
        assert_eq!(
            generate_nt_response(
                &AUTHENTICATOR_CHALLENGE,
                &PEER_CHALLENGE,
                b"User",
                "clientPass"
            ),
            NT_RESPONSE
        );
    }

    #[test]
    fn rfc3079_master_key() {
        assert_eq!(
            mppe_master_key(&PASSWORD_HASH_HASH, &NT_RESPONSE),
            MASTER_KEY
        );
    }

    #[test]
    fn rfc3079_send_start_key_128() {
        // §3.3: GetAsymmetricStartKey(MasterKey, MasterSendKey, 16, TRUE, TRUE).
        assert_eq!(
            mppe_asymmetric_start_key(&MASTER_KEY, 16, true, true),
            SEND_START_KEY_128
        );
    }

    #[test]
    fn rfc3079_send_session_key_128() {
        assert_eq!(
            mppe_get_new_key_from_sha(&SEND_START_KEY_128, &SEND_START_KEY_128, 16),
            SEND_SESSION_KEY_128
        );
    }

    #[test]
    fn rfc3079_40_and_56_bit() {
        let start = mppe_asymmetric_start_key(&MASTER_KEY, 8, true, true);
        assert_eq!(start, widen(&SEND_START_KEY_40));
        // §3.5.1 and §3.5.2 print the same start key.
        assert_eq!(start[..8], SEND_START_KEY_128[..8]);

        let mut key40 =
            mppe_get_new_key_from_sha(&start, &start, MppeKeyStrength::Bits40.key_len());
        MppeKeyStrength::Bits40.reduce(&mut key40);
        assert_eq!(key40, widen(&SEND_SESSION_KEY_40));

        let mut key56 =
            mppe_get_new_key_from_sha(&start, &start, MppeKeyStrength::Bits56.key_len());
        MppeKeyStrength::Bits56.reduce(&mut key56);
        assert_eq!(key56, widen(&SEND_SESSION_KEY_56));
    }

    #[test]
    fn rfc3079_keys_for_both_roles() {
        let server = mppe_keys_mschapv2(&PASSWORD_HASH_HASH, &NT_RESPONSE, true);
        let client = mppe_keys_mschapv2(&PASSWORD_HASH_HASH, &NT_RESPONSE, false);
        assert_eq!(server.send, SEND_START_KEY_128);
        // What one end sends with, the other receives with.
        assert_eq!(client.receive, server.send);
        assert_eq!(client.send, server.receive);
        assert_ne!(server.send, server.receive);
        assert_eq!(
            server.receive,
            mppe_asymmetric_start_key(&MASTER_KEY, 16, false, true)
        );
    }

    #[test]
    fn rfc3079_mschapv1_128() {
        assert_eq!(
            mppe_start_key_mschapv1(&PASSWORD_HASH_HASH, &V1_CHALLENGE),
            V1_INITIAL_SESSION_KEY
        );
        assert_eq!(
            mppe_get_new_key_from_sha(&V1_INITIAL_SESSION_KEY, &V1_INITIAL_SESSION_KEY, 16),
            V1_SESSION_KEY_128
        );
        let keys = mppe_keys_mschapv1(&PASSWORD_HASH_HASH, &V1_CHALLENGE);
        assert_eq!(keys.send, V1_INITIAL_SESSION_KEY);
        assert_eq!(keys.receive, V1_INITIAL_SESSION_KEY);
    }

    #[test]
    fn rfc3079_mschapv1_40_and_56() {
        let lm = lm_password_hash("clientPass");
        let mut start = [0u8; 16];
        start[..8].copy_from_slice(&lm[..8]);
        let key = mppe_get_new_key_from_sha(&start, &start, 8);
        assert_eq!(key, widen(&V1_LM_GET_KEY));
        // The 16-octet LM hash as input gives the same: only 8 octets are hashed.
        assert_eq!(mppe_get_new_key_from_sha(&lm, &lm, 8), key);

        let mut key40 = key;
        MppeKeyStrength::Bits40.reduce(&mut key40);
        assert_eq!(key40, widen(&V1_SESSION_KEY_40));
        let mut key56 = key;
        MppeKeyStrength::Bits56.reduce(&mut key56);
        assert_eq!(key56, widen(&V1_SESSION_KEY_56));
    }

    #[test]
    fn key_len_out_of_range_does_not_panic() {
        assert_eq!(
            mppe_asymmetric_start_key(&MASTER_KEY, 1000, true, true),
            SEND_START_KEY_128
        );
        assert_eq!(
            mppe_asymmetric_start_key(&MASTER_KEY, 0, true, true),
            [0; 16]
        );
        assert_eq!(
            mppe_get_new_key_from_sha(&SEND_START_KEY_128, &SEND_START_KEY_128, 17),
            SEND_SESSION_KEY_128
        );
    }

    #[test]
    fn reduce_128_is_identity() {
        let mut k = SEND_SESSION_KEY_128;
        MppeKeyStrength::Bits128.reduce(&mut k);
        assert_eq!(k, SEND_SESSION_KEY_128);
    }

    #[test]
    fn mppe_keys_debug_hides_keys_and_eq_compares() {
        let keys = mppe_keys_mschapv2(&PASSWORD_HASH_HASH, &NT_RESPONSE, true);
        let shown = format!("{keys:?}");
        assert!(!shown.contains("139"), "{shown}"); // 0x8B
        assert!(!shown.to_ascii_lowercase().contains("8b"), "{shown}");
        assert_eq!(keys.clone(), keys);
        let mut other = keys.clone();
        other.receive[15] ^= 1;
        assert_ne!(other, keys);
    }

    proptest! {
        #[test]
        fn roles_are_mirror_images(hh in any::<[u8; 16]>(), nt in any::<[u8; 24]>()) {
            let server = mppe_keys_mschapv2(&hh, &nt, true);
            let client = mppe_keys_mschapv2(&hh, &nt, false);
            prop_assert_eq!(server.send, client.receive);
            prop_assert_eq!(server.receive, client.send);
        }

        #[test]
        fn short_key_is_prefix_of_long(mk in any::<[u8; 16]>(), send: bool, server: bool) {
            let long = mppe_asymmetric_start_key(&mk, 16, send, server);
            let short = mppe_asymmetric_start_key(&mk, 8, send, server);
            prop_assert_eq!(&short[..8], &long[..8]);
            prop_assert_eq!(&short[8..], &[0u8; 8][..]);
        }
    }
}
