//! Registries of SA attribute classes and values, and transform identifiers.
//!
//! - phase 1 (the ISAKMP SA): attribute classes [`Phase1`] and their values
//!   ([`EncryptionAlgorithm`], [`HashAlgorithm`], [`AuthenticationMethod`],
//!   [`GroupDescription`], [`LifeType`]) from RFC 2409 Appendix A and the IANA "IPSEC
//!   Registry"; the only phase 1 transform ID is [`KEY_IKE`] (RFC 2407 §4.4.2);
//! - phase 2 (IPsec SAs): attribute classes [`Phase2`] and their values ([`LifeType`] again,
//!   [`EncapsulationMode`], [`AuthenticationAlgorithm`]) from RFC 2407 §4.5, RFC 3947 §5.1 and
//!   RFC 4304; ESP transform IDs [`EspTransformId`] from RFC 2407 §4.4.4 and IANA.
//!
//! Attribute values are read with [`AttributeValue::as_u64`](super::AttributeValue::as_u64)
//! and compared with `From<u16>` of these enums.

sras_core::wire_enum! {
    /// Phase 1 attribute classes (RFC 2409 Appendix A). B = basic (TV), V = variable (TLV).
    pub enum Phase1(u16) {
        /// Encryption Algorithm (B), values [`EncryptionAlgorithm`].
        EncryptionAlgorithm = 1,
        /// Hash Algorithm (B), values [`HashAlgorithm`].
        HashAlgorithm = 2,
        /// Authentication Method (B), values [`AuthenticationMethod`].
        AuthenticationMethod = 3,
        /// Group Description (B), values [`GroupDescription`].
        GroupDescription = 4,
        /// Group Type (B).
        GroupType = 5,
        /// Group Prime/Irreducible Polynomial (V).
        GroupPrime = 6,
        /// Group Generator One (V).
        GroupGeneratorOne = 7,
        /// Group Generator Two (V).
        GroupGeneratorTwo = 8,
        /// Group Curve A (V).
        GroupCurveA = 9,
        /// Group Curve B (V).
        GroupCurveB = 10,
        /// Life Type (B), values [`LifeType`].
        LifeType = 11,
        /// Life Duration (V, or B when it fits 16 bits): seconds or kilobytes.
        LifeDuration = 12,
        /// PRF (B).
        Prf = 13,
        /// Key Length (B), in bits, for variable-key-length ciphers (AES).
        KeyLength = 14,
        /// Field Size (B).
        FieldSize = 15,
        /// Group Order (V).
        GroupOrder = 16,
    }
}

sras_core::wire_enum! {
    /// Phase 1 Encryption Algorithm values (RFC 2409 Appendix A; RFC 3602 §5 for AES).
    pub enum EncryptionAlgorithm(u16) {
        /// DES-CBC.
        DesCbc = 1,
        /// IDEA-CBC.
        IdeaCbc = 2,
        /// Blowfish-CBC.
        BlowfishCbc = 3,
        /// RC5-R16-B64-CBC.
        Rc5R16B64Cbc = 4,
        /// 3DES-CBC.
        TripleDesCbc = 5,
        /// CAST-CBC.
        CastCbc = 6,
        /// AES-CBC (with a Key Length attribute).
        AesCbc = 7,
    }
}

sras_core::wire_enum! {
    /// Phase 1 Hash Algorithm values (RFC 2409 Appendix A; IANA, RFC 4868 for SHA-2).
    pub enum HashAlgorithm(u16) {
        /// MD5.
        Md5 = 1,
        /// SHA (SHA-1).
        Sha = 2,
        /// Tiger.
        Tiger = 3,
        /// SHA2-256.
        Sha2_256 = 4,
        /// SHA2-384.
        Sha2_384 = 5,
        /// SHA2-512.
        Sha2_512 = 6,
    }
}

sras_core::wire_enum! {
    /// Phase 1 Authentication Method values (RFC 2409 Appendix A; the XAUTH values from
    /// draft-beaulieu-ike-xauth-02 §7.2, as IANA lists them).
    pub enum AuthenticationMethod(u16) {
        /// Pre-shared key.
        PreSharedKey = 1,
        /// DSS signatures.
        DssSignatures = 2,
        /// RSA signatures.
        RsaSignatures = 3,
        /// Encryption with RSA.
        RsaEncryption = 4,
        /// Revised encryption with RSA.
        RevisedRsaEncryption = 5,
        /// XAUTHInitPreShared.
        XauthInitPreShared = 65001,
        /// XAUTHRespPreShared.
        XauthRespPreShared = 65002,
        /// XAUTHInitDSS.
        XauthInitDss = 65003,
        /// XAUTHRespDSS.
        XauthRespDss = 65004,
        /// XAUTHInitRSA.
        XauthInitRsa = 65005,
        /// XAUTHRespRSA.
        XauthRespRsa = 65006,
        /// XAUTHInitRSAEncryption.
        XauthInitRsaEncryption = 65007,
        /// XAUTHRespRSAEncryption.
        XauthRespRsaEncryption = 65008,
        /// XAUTHInitRSARevisedEncryption.
        XauthInitRsaRevisedEncryption = 65009,
        /// XAUTHRespRSARevisedEncryption.
        XauthRespRsaRevisedEncryption = 65010,
    }
}

sras_core::wire_enum! {
    /// Group Description values, phase 1 and phase 2 (RFC 2409 §6 and Appendix A; RFC 3526;
    /// RFC 5903 for ECP; IANA).
    pub enum GroupDescription(u16) {
        /// 768-bit MODP group (RFC 2409 §6.1).
        Modp768 = 1,
        /// 1024-bit MODP group (RFC 2409 §6.2).
        Modp1024 = 2,
        /// 1536-bit MODP group (RFC 3526 §2).
        Modp1536 = 5,
        /// 2048-bit MODP group (RFC 3526 §3).
        Modp2048 = 14,
        /// 3072-bit MODP group (RFC 3526 §4).
        Modp3072 = 15,
        /// 4096-bit MODP group (RFC 3526 §5).
        Modp4096 = 16,
        /// 6144-bit MODP group (RFC 3526 §6).
        Modp6144 = 17,
        /// 8192-bit MODP group (RFC 3526 §7).
        Modp8192 = 18,
        /// 256-bit random ECP group (RFC 5903 §3.1).
        Ecp256 = 19,
        /// 384-bit random ECP group (RFC 5903 §3.2).
        Ecp384 = 20,
        /// 521-bit random ECP group (RFC 5903 §3.3).
        Ecp521 = 21,
    }
}

sras_core::wire_enum! {
    /// Life Type values (RFC 2409 Appendix A for phase 1; RFC 2407 §4.5 SA Life Type for
    /// phase 2: the same values).
    pub enum LifeType(u16) {
        /// Seconds.
        Seconds = 1,
        /// Kilobytes.
        Kilobytes = 2,
    }
}

/// The phase 1 transform ID KEY_IKE (RFC 2407 §4.4.2).
pub const KEY_IKE: u8 = 1;

sras_core::wire_enum! {
    /// Phase 2 (IPsec DOI) SA attribute classes (RFC 2407 §4.5; RFC 4304 §2 for ESN).
    pub enum Phase2(u16) {
        /// SA Life Type (B), values [`LifeType`].
        SaLifeType = 1,
        /// SA Life Duration (V, or B when it fits 16 bits).
        SaLifeDuration = 2,
        /// Group Description (B), values [`GroupDescription`]: PFS.
        GroupDescription = 3,
        /// Encapsulation Mode (B), values [`EncapsulationMode`].
        EncapsulationMode = 4,
        /// Authentication Algorithm (B), values [`AuthenticationAlgorithm`].
        AuthenticationAlgorithm = 5,
        /// Key Length (B), in bits.
        KeyLength = 6,
        /// Key Rounds (B).
        KeyRounds = 7,
        /// Compress Dictionary Size (B).
        CompressDictionarySize = 8,
        /// Compress Private Algorithm (V).
        CompressPrivateAlgorithm = 9,
        /// ECN Tunnel (B) (RFC 3168 §9.2.1).
        EcnTunnel = 10,
        /// Extended (64-bit) Sequence Number (B), value 1 (RFC 4304 §2).
        ExtendedSequenceNumbers = 11,
    }
}

sras_core::wire_enum! {
    /// Encapsulation Mode values (RFC 2407 §4.5; RFC 3947 §5.1; the draft values of
    /// draft-ietf-ipsec-nat-t-ike-02/03, which Windows and older peers still send).
    pub enum EncapsulationMode(u16) {
        /// Tunnel.
        Tunnel = 1,
        /// Transport.
        Transport = 2,
        /// UDP-Encapsulated-Tunnel (RFC 3947 §5.1).
        UdpEncapsulatedTunnel = 3,
        /// UDP-Encapsulated-Transport (RFC 3947 §5.1).
        UdpEncapsulatedTransport = 4,
        /// UDP-Encapsulated-Tunnel of the NAT-T drafts.
        UdpEncapsulatedTunnelDraft = 61443,
        /// UDP-Encapsulated-Transport of the NAT-T drafts.
        UdpEncapsulatedTransportDraft = 61444,
    }
}

impl EncapsulationMode {
    /// Whether this is a transport mode (plain, RFC 3947 or draft UDP encapsulation).
    pub const fn is_transport(self) -> bool {
        matches!(
            self,
            Self::Transport | Self::UdpEncapsulatedTransport | Self::UdpEncapsulatedTransportDraft
        )
    }

    /// Whether this is a UDP-encapsulated mode (RFC 3947 or draft).
    pub const fn is_udp_encapsulated(self) -> bool {
        matches!(
            self,
            Self::UdpEncapsulatedTunnel
                | Self::UdpEncapsulatedTransport
                | Self::UdpEncapsulatedTunnelDraft
                | Self::UdpEncapsulatedTransportDraft
        )
    }
}

sras_core::wire_enum! {
    /// Phase 2 Authentication Algorithm values (RFC 2407 §4.5; RFC 4868 §2.4 for SHA-2).
    pub enum AuthenticationAlgorithm(u16) {
        /// HMAC-MD5.
        HmacMd5 = 1,
        /// HMAC-SHA (SHA-1).
        HmacSha = 2,
        /// DES-MAC.
        DesMac = 3,
        /// KPDK.
        Kpdk = 4,
        /// HMAC-SHA2-256 (RFC 4868).
        HmacSha2_256 = 5,
        /// HMAC-SHA2-384 (RFC 4868).
        HmacSha2_384 = 6,
        /// HMAC-SHA2-512 (RFC 4868).
        HmacSha2_512 = 7,
    }
}

sras_core::wire_enum! {
    /// ESP transform IDs (RFC 2407 §4.4.4; RFC 3602, RFC 3686, RFC 4106; IANA).
    pub enum EspTransformId(u8) {
        /// ESP_DES_IV64.
        DesIv64 = 1,
        /// ESP_DES.
        Des = 2,
        /// ESP_3DES.
        TripleDes = 3,
        /// ESP_RC5.
        Rc5 = 4,
        /// ESP_IDEA.
        Idea = 5,
        /// ESP_CAST.
        Cast = 6,
        /// ESP_BLOWFISH.
        Blowfish = 7,
        /// ESP_3IDEA.
        TripleIdea = 8,
        /// ESP_DES_IV32.
        DesIv32 = 9,
        /// ESP_RC4.
        Rc4 = 10,
        /// ESP_NULL.
        Null = 11,
        /// ESP_AES (CBC, RFC 3602), with a Key Length attribute.
        AesCbc = 12,
        /// ESP_AES-CTR (RFC 3686).
        AesCtr = 13,
        /// ESP_AES-GCM with an 8-octet ICV (RFC 4106 §8.1).
        AesGcm8 = 18,
        /// ESP_AES-GCM with a 12-octet ICV (RFC 4106 §8.1).
        AesGcm12 = 19,
        /// ESP_AES-GCM with a 16-octet ICV (RFC 4106 §8.1).
        AesGcm16 = 20,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(
            AuthenticationMethod::from(65001u16),
            AuthenticationMethod::XauthInitPreShared
        );
        assert_eq!(
            EncapsulationMode::UdpEncapsulatedTransportDraft.value(),
            61444
        );
        assert!(EncapsulationMode::UdpEncapsulatedTransportDraft.is_transport());
        assert!(!EncapsulationMode::Tunnel.is_udp_encapsulated());
        assert_eq!(EspTransformId::AesGcm16.value(), 20);
        assert_eq!(HashAlgorithm::Sha2_256.value(), 4);
        assert_eq!(Phase2::ExtendedSequenceNumbers.value(), 11);
        assert_eq!(Phase1::KeyLength.value(), 14);
    }
}
