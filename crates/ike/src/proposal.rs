//! Proposals and policy: what sras accepts and offers in phase 1 and phase 2, as named
//! profiles an operator picks, and the selection of one transform from a peer's offer with a
//! reason for every refusal (RFC 2408 §4.2, RFC 2409 §5 and App. A, RFC 2407 §4.5).

use core::fmt;
use core::time::Duration;

use sras_esp::{Encryption, Integrity};

use crate::crypto::{CipherAlgorithm, DhGroup, HashAlgorithm};
use crate::wire::{
    Attribute, AttributeValue, Proposal, ProtocolId, SaPayload, Transform, DOI_IPSEC,
    SIT_IDENTITY_ONLY,
};

/// RFC 2409 App. A phase 1 attribute classes and values.
pub(crate) mod p1 {
    pub(crate) const ENCRYPTION: u16 = 1;
    pub(crate) const HASH: u16 = 2;
    pub(crate) const AUTH_METHOD: u16 = 3;
    pub(crate) const GROUP: u16 = 4;
    pub(crate) const LIFE_TYPE: u16 = 11;
    pub(crate) const LIFE_DURATION: u16 = 12;
    pub(crate) const KEY_LENGTH: u16 = 14;
    pub(crate) const ENC_3DES: u64 = 5;
    pub(crate) const ENC_AES: u64 = 7;
    pub(crate) const HASH_MD5: u64 = 1;
    pub(crate) const HASH_SHA1: u64 = 2;
    pub(crate) const HASH_SHA256: u64 = 4;
    pub(crate) const HASH_SHA384: u64 = 5;
    pub(crate) const HASH_SHA512: u64 = 6;
    pub(crate) const AUTH_PSK: u64 = 1;
    pub(crate) const AUTH_RSA_SIG: u64 = 3;
    pub(crate) const LIFE_SECONDS: u64 = 1;
    pub(crate) const LIFE_KILOBYTES: u64 = 2;
    /// The phase 1 transform ID KEY_IKE (RFC 2407 §4.4.2).
    pub(crate) const KEY_IKE: u8 = 1;
}

/// RFC 2407 §4.5 phase 2 attribute classes and values, §4.4.4 ESP transform IDs.
pub(crate) mod p2 {
    pub(crate) const LIFE_TYPE: u16 = 1;
    pub(crate) const LIFE_DURATION: u16 = 2;
    pub(crate) const GROUP: u16 = 3;
    pub(crate) const ENCAPSULATION: u16 = 4;
    pub(crate) const AUTH_ALG: u16 = 5;
    pub(crate) const KEY_LENGTH: u16 = 6;
    pub(crate) const ESN: u16 = 11;
    pub(crate) const LIFE_SECONDS: u64 = 1;
    pub(crate) const LIFE_KILOBYTES: u64 = 2;
    pub(crate) const ENCAP_TUNNEL: u64 = 1;
    pub(crate) const ENCAP_TRANSPORT: u64 = 2;
    pub(crate) const ENCAP_UDP_TUNNEL: u64 = 3;
    pub(crate) const ENCAP_UDP_TRANSPORT: u64 = 4;
    pub(crate) const ENCAP_UDP_TUNNEL_DRAFT: u64 = 61443;
    pub(crate) const ENCAP_UDP_TRANSPORT_DRAFT: u64 = 61444;
    pub(crate) const AUTH_HMAC_MD5: u64 = 1;
    pub(crate) const AUTH_HMAC_SHA1: u64 = 2;
    pub(crate) const AUTH_HMAC_SHA256: u64 = 5;
    pub(crate) const AUTH_HMAC_SHA384: u64 = 6;
    pub(crate) const AUTH_HMAC_SHA512: u64 = 7;
    pub(crate) const ESP_3DES: u8 = 3;
    pub(crate) const ESP_NULL: u8 = 11;
    pub(crate) const ESP_AES_CBC: u8 = 12;
    pub(crate) const ESP_AES_GCM_16: u8 = 20;
}

/// Phase 1 authentication method (RFC 2409 App. A "Authentication Method").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// Pre-shared key (1).
    PreSharedKey,
    /// RSA signatures (3).
    RsaSignature,
}

impl AuthMethod {
    const fn value(self) -> u64 {
        match self {
            Self::PreSharedKey => p1::AUTH_PSK,
            Self::RsaSignature => p1::AUTH_RSA_SIG,
        }
    }
}

/// One phase 1 suite: cipher, hash (also the PRF), Diffie-Hellman group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Phase1Suite {
    /// Encryption of phase 1 payloads.
    pub cipher: CipherAlgorithm,
    /// Hash algorithm; its HMAC is the PRF (RFC 2409 §4).
    pub hash: HashAlgorithm,
    /// Diffie-Hellman group.
    pub group: DhGroup,
}

/// One phase 2 (ESP) suite, as sras-esp implements it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Phase2Suite {
    /// ESP encryption transform.
    pub encryption: Encryption,
    /// ESP integrity transform (`None` with GCM).
    pub integrity: Integrity,
}

/// A named set of acceptable suites: `modern`, `compatible` (the default) or `legacy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The name used in configuration and logs.
    pub name: &'static str,
    /// Phase 1 ciphers, in our order of preference (what we offer as initiator).
    pub ciphers: Vec<CipherAlgorithm>,
    /// Phase 1 hashes.
    pub hashes: Vec<HashAlgorithm>,
    /// Diffie-Hellman groups.
    pub groups: Vec<DhGroup>,
    /// Phase 2 suites, in our order of preference.
    pub esp: Vec<Phase2Suite>,
    /// Read HMAC-SHA2-256 in phase 2 as the 96-bit truncation of old Android and Linux
    /// ("sha2-truncbug"); both sides must agree, so this is off unless asked for.
    pub sha256_96: bool,
}

/// Most phase 1 transforms an initiator offers (36 bytes each: message 1 with its Vendor IDs
/// stays under 1400 bytes, so no IP fragment has to cross a NAT).
pub const MAX_OFFERED_TRANSFORMS: usize = 32;

const AES: [CipherAlgorithm; 2] = [CipherAlgorithm::AesCbc256, CipherAlgorithm::AesCbc128];

fn esp_suites(encs: &[Encryption], integs: &[Integrity]) -> Vec<Phase2Suite> {
    let mut v = Vec::new();
    for &encryption in encs {
        if encryption.is_aead() {
            v.push(Phase2Suite {
                encryption,
                integrity: Integrity::None,
            });
            continue;
        }
        for &integrity in integs {
            v.push(Phase2Suite {
                encryption,
                integrity,
            });
        }
    }
    v
}

impl Profile {
    /// AES with SHA-1/SHA-2, groups 14-16, 19, 20; ESP AES-GCM and AES-CBC. Every current
    /// Windows, macOS and iOS client has a transform in it.
    #[must_use]
    pub fn modern() -> Self {
        Self {
            name: "modern",
            ciphers: AES.to_vec(),
            hashes: vec![
                HashAlgorithm::Sha256,
                HashAlgorithm::Sha384,
                HashAlgorithm::Sha512,
                HashAlgorithm::Sha1,
            ],
            groups: vec![
                DhGroup::Ecp256,
                DhGroup::Ecp384,
                DhGroup::Modp2048,
                DhGroup::Modp3072,
                DhGroup::Modp4096,
            ],
            esp: esp_suites(
                &[
                    Encryption::AesGcm256,
                    Encryption::AesGcm128,
                    Encryption::AesCbc256,
                    Encryption::AesCbc128,
                ],
                &[
                    Integrity::HmacSha256_128,
                    Integrity::HmacSha384_192,
                    Integrity::HmacSha512_256,
                    Integrity::HmacSha1_96,
                ],
            ),
            sha256_96: false,
        }
    }

    /// `modern` plus AES-192, 3DES and MODP-1536 (group 5): the default.
    #[must_use]
    pub fn compatible() -> Self {
        let mut p = Self::modern();
        p.name = "compatible";
        p.ciphers = vec![
            CipherAlgorithm::AesCbc256,
            CipherAlgorithm::AesCbc128,
            CipherAlgorithm::AesCbc192,
            CipherAlgorithm::TripleDesCbc,
        ];
        p.groups.push(DhGroup::Modp1536);
        p.esp = esp_suites(
            &[
                Encryption::AesGcm256,
                Encryption::AesGcm128,
                Encryption::AesCbc256,
                Encryption::AesCbc128,
                Encryption::AesCbc192,
                Encryption::TripleDesCbc,
            ],
            &[
                Integrity::HmacSha256_128,
                Integrity::HmacSha384_192,
                Integrity::HmacSha512_256,
                Integrity::HmacSha1_96,
            ],
        );
        p
    }

    /// `compatible` plus MD5 and MODP-1024 (group 2): Android's built-in client and old
    /// routers offer nothing else.
    #[must_use]
    pub fn legacy() -> Self {
        let mut p = Self::compatible();
        p.name = "legacy";
        p.hashes.push(HashAlgorithm::Md5);
        p.groups.push(DhGroup::Modp1024);
        p.esp = esp_suites(
            &[
                Encryption::AesGcm256,
                Encryption::AesGcm128,
                Encryption::AesCbc256,
                Encryption::AesCbc128,
                Encryption::AesCbc192,
                Encryption::TripleDesCbc,
            ],
            &[
                Integrity::HmacSha256_128,
                Integrity::HmacSha384_192,
                Integrity::HmacSha512_256,
                Integrity::HmacSha1_96,
                Integrity::HmacMd5_96,
            ],
        );
        p
    }

    /// The profile called `name`.
    #[must_use]
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "modern" => Some(Self::modern()),
            "compatible" => Some(Self::compatible()),
            "legacy" => Some(Self::legacy()),
            _ => None,
        }
    }

    /// The names [`Self::by_name`] knows.
    pub const NAMES: &'static [&'static str] = &["modern", "compatible", "legacy"];

    /// Phase 1 suites in preference order (what an initiator offers): first the two
    /// preferred ciphers with SHA-256 and SHA-1 over every group (what current clients and
    /// servers pick), then the other combinations; at most [`MAX_OFFERED_TRANSFORMS`] so that
    /// message 1 stays within one unfragmented datagram.
    #[must_use]
    pub fn phase1_suites(&self) -> Vec<Phase1Suite> {
        let mut v = Vec::new();
        let common: Vec<HashAlgorithm> = [HashAlgorithm::Sha256, HashAlgorithm::Sha1]
            .into_iter()
            .filter(|h| self.hashes.contains(h))
            .collect();
        for &group in &self.groups {
            for &cipher in self.ciphers.iter().take(2) {
                for &hash in &common {
                    v.push(Phase1Suite {
                        cipher,
                        hash,
                        group,
                    });
                }
            }
        }
        for &cipher in &self.ciphers {
            for &hash in &self.hashes {
                for &group in &self.groups {
                    let s = Phase1Suite {
                        cipher,
                        hash,
                        group,
                    };
                    if !v.contains(&s) {
                        v.push(s);
                    }
                }
            }
        }
        v.truncate(MAX_OFFERED_TRANSFORMS);
        v
    }

    fn accepts_phase1(&self, s: &Phase1Suite) -> Result<(), String> {
        if !self.ciphers.contains(&s.cipher) {
            return Err(format!(
                "cipher {:?} not in profile {}",
                s.cipher, self.name
            ));
        }
        if !self.hashes.contains(&s.hash) {
            return Err(format!("hash {:?} not in profile {}", s.hash, self.name));
        }
        if !self.groups.contains(&s.group) {
            return Err(format!("group {:?} not in profile {}", s.group, self.name));
        }
        Ok(())
    }
}

/// A lifetime offered or accepted (seconds and/or kilobytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LifeLimits {
    /// Time limit.
    pub seconds: Option<u64>,
    /// Volume limit in kilobytes.
    pub kilobytes: Option<u64>,
}

impl LifeLimits {
    /// The time limit as a duration, or `default`.
    #[must_use]
    pub fn duration_or(&self, default: Duration) -> Duration {
        self.seconds.map_or(default, Duration::from_secs)
    }
}

/// Reads LifeType/LifeDuration pairs (RFC 2408 App. A: a type is followed by its duration).
fn read_life(
    attrs: &[Attribute],
    type_class: u16,
    duration_class: u16,
    secs: u64,
    kb: u64,
) -> Result<LifeLimits, String> {
    let mut life = LifeLimits::default();
    let mut current: Option<u64> = None;
    for a in attrs {
        if a.kind == type_class {
            current = a.value.as_u64();
        } else if a.kind == duration_class {
            let v = a
                .value
                .as_u64()
                .ok_or("life duration longer than 8 bytes")?;
            // strongSwan with rekey=no offers 0: no limit of its own; ours applies.
            if v == 0 {
                continue;
            }
            match current {
                Some(t) if t == secs => life.seconds = Some(v),
                Some(t) if t == kb => life.kilobytes = Some(v),
                Some(t) => return Err(format!("unknown life type {t}")),
                None => return Err("life duration without a life type".into()),
            }
        }
    }
    Ok(life)
}

/// A phase 1 transform the responder chose, with what it needs to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenPhase1 {
    /// The suite.
    pub suite: Phase1Suite,
    /// Authentication method.
    pub auth: AuthMethod,
    /// The peer's lifetime.
    pub life: LifeLimits,
    /// The reply's SA payload: the chosen proposal with only the chosen transform.
    pub reply: SaPayload,
}

fn attr(a: &[Attribute], class: u16) -> Option<&AttributeValue> {
    a.iter().find(|x| x.kind == class).map(|x| &x.value)
}

fn attr_u64(a: &[Attribute], class: u16) -> Option<u64> {
    attr(a, class).and_then(AttributeValue::as_u64)
}

/// Decodes one phase 1 transform (RFC 2409 App. A) into a suite and auth method.
pub(crate) fn parse_phase1_transform(
    t: &Transform,
) -> Result<(Phase1Suite, AuthMethod, LifeLimits), String> {
    if t.id != p1::KEY_IKE {
        return Err(format!("transform id {} is not KEY_IKE", t.id));
    }
    let a = &t.attributes;
    let key_len = attr_u64(a, p1::KEY_LENGTH);
    let cipher = match (attr_u64(a, p1::ENCRYPTION), key_len) {
        (Some(p1::ENC_3DES), None | Some(192)) => CipherAlgorithm::TripleDesCbc,
        (Some(p1::ENC_AES), Some(128)) => CipherAlgorithm::AesCbc128,
        (Some(p1::ENC_AES), Some(192)) => CipherAlgorithm::AesCbc192,
        (Some(p1::ENC_AES), Some(256)) => CipherAlgorithm::AesCbc256,
        (Some(p1::ENC_AES), None) => return Err("AES without a key length".into()),
        (Some(e), k) => return Err(format!("encryption {e} key length {k:?} unsupported")),
        (None, _) => return Err("no encryption algorithm".into()),
    };
    let hash = match attr_u64(a, p1::HASH) {
        Some(p1::HASH_MD5) => HashAlgorithm::Md5,
        Some(p1::HASH_SHA1) => HashAlgorithm::Sha1,
        Some(p1::HASH_SHA256) => HashAlgorithm::Sha256,
        Some(p1::HASH_SHA384) => HashAlgorithm::Sha384,
        Some(p1::HASH_SHA512) => HashAlgorithm::Sha512,
        Some(h) => return Err(format!("hash {h} unsupported")),
        None => return Err("no hash algorithm".into()),
    };
    let auth = match attr_u64(a, p1::AUTH_METHOD) {
        Some(p1::AUTH_PSK) => AuthMethod::PreSharedKey,
        Some(p1::AUTH_RSA_SIG) => AuthMethod::RsaSignature,
        Some(m) => return Err(format!("authentication method {m} unsupported")),
        None => return Err("no authentication method".into()),
    };
    let group = match attr_u64(a, p1::GROUP) {
        Some(g) => u16::try_from(g)
            .ok()
            .and_then(DhGroup::from_id)
            .ok_or_else(|| format!("DH group {g} unsupported"))?,
        None => return Err("no DH group".into()),
    };
    let life = read_life(
        a,
        p1::LIFE_TYPE,
        p1::LIFE_DURATION,
        p1::LIFE_SECONDS,
        p1::LIFE_KILOBYTES,
    )?;
    Ok((
        Phase1Suite {
            cipher,
            hash,
            group,
        },
        auth,
        life,
    ))
}

/// Why no proposal was chosen: one line per refused transform, for the log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Refusal {
    /// `"#n: reason"` per transform or proposal.
    pub reasons: Vec<String>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reasons.is_empty() {
            return f.write_str("no proposal");
        }
        f.write_str(&self.reasons.join("; "))
    }
}

/// Responder: picks the first of the peer's phase 1 transforms (its order of preference) the
/// profile accepts with one of `auths` (RFC 2408 §4.2).
pub fn choose_phase1(
    profile: &Profile,
    auths: &[AuthMethod],
    sa: &SaPayload,
) -> Result<ChosenPhase1, Refusal> {
    let mut refusal = Refusal::default();
    if sa.doi != DOI_IPSEC || sa.situation != SIT_IDENTITY_ONLY {
        refusal.reasons.push(format!(
            "DOI {} situation {} unsupported",
            sa.doi, sa.situation
        ));
        return Err(refusal);
    }
    for p in &sa.proposals {
        if p.protocol != ProtocolId::Isakmp {
            refusal.reasons.push(format!(
                "proposal {}: protocol {:?} is not ISAKMP",
                p.number, p.protocol
            ));
            continue;
        }
        for t in &p.transforms {
            match parse_phase1_transform(t) {
                Err(e) => refusal.reasons.push(format!("#{}: {e}", t.number)),
                Ok((suite, auth, life)) => {
                    if let Err(e) = profile.accepts_phase1(&suite) {
                        refusal.reasons.push(format!(
                            "#{} {}: {e}",
                            t.number,
                            describe_phase1(&suite)
                        ));
                    } else if !auths.contains(&auth) {
                        refusal.reasons.push(format!(
                            "#{} {}: authentication {auth:?} not configured",
                            t.number,
                            describe_phase1(&suite)
                        ));
                    } else {
                        let reply = SaPayload {
                            doi: sa.doi,
                            situation: sa.situation,
                            proposals: vec![Proposal {
                                number: p.number,
                                protocol: p.protocol,
                                spi: p.spi.clone(),
                                transforms: vec![t.clone()],
                            }],
                        };
                        return Ok(ChosenPhase1 {
                            suite,
                            auth,
                            life,
                            reply,
                        });
                    }
                }
            }
        }
    }
    Err(refusal)
}

/// `AES-CBC-256/SHA1/MODP2048`, for logs.
#[must_use]
pub fn describe_phase1(s: &Phase1Suite) -> String {
    format!("{:?}/{:?}/{:?}", s.cipher, s.hash, s.group)
}

/// Initiator: the phase 1 SA payload offering every suite of the profile, one transform each.
#[must_use]
pub fn offer_phase1(profile: &Profile, auth: AuthMethod, lifetime: Duration) -> SaPayload {
    let transforms = profile
        .phase1_suites()
        .into_iter()
        .enumerate()
        .map(|(i, s)| phase1_transform(u8::try_from(i + 1).unwrap_or(u8::MAX), &s, auth, lifetime))
        .collect();
    SaPayload {
        doi: DOI_IPSEC,
        situation: SIT_IDENTITY_ONLY,
        proposals: vec![Proposal {
            number: 1,
            protocol: ProtocolId::Isakmp,
            spi: Vec::new(),
            transforms,
        }],
    }
}

/// One phase 1 transform with its attributes (RFC 2409 App. A).
#[must_use]
pub fn phase1_transform(
    number: u8,
    s: &Phase1Suite,
    auth: AuthMethod,
    lifetime: Duration,
) -> Transform {
    let (enc, key_len) = match s.cipher {
        CipherAlgorithm::TripleDesCbc => (p1::ENC_3DES, None),
        CipherAlgorithm::AesCbc128 => (p1::ENC_AES, Some(128)),
        CipherAlgorithm::AesCbc192 => (p1::ENC_AES, Some(192)),
        CipherAlgorithm::AesCbc256 => (p1::ENC_AES, Some(256)),
    };
    let hash = match s.hash {
        HashAlgorithm::Md5 => p1::HASH_MD5,
        HashAlgorithm::Sha1 => p1::HASH_SHA1,
        HashAlgorithm::Sha256 => p1::HASH_SHA256,
        HashAlgorithm::Sha384 => p1::HASH_SHA384,
        HashAlgorithm::Sha512 => p1::HASH_SHA512,
    };
    let mut attributes = vec![Attribute::number(p1::ENCRYPTION, enc)];
    if let Some(k) = key_len {
        attributes.push(Attribute::number(p1::KEY_LENGTH, k));
    }
    attributes.extend([
        Attribute::number(p1::HASH, hash),
        Attribute::number(p1::AUTH_METHOD, auth.value()),
        Attribute::number(p1::GROUP, u64::from(s.group.id())),
        Attribute::number(p1::LIFE_TYPE, p1::LIFE_SECONDS),
        Attribute::number(p1::LIFE_DURATION, lifetime.as_secs()),
    ]);
    Transform {
        number,
        id: p1::KEY_IKE,
        attributes,
    }
}

/// Encapsulation mode of a phase 2 SA (RFC 2407 §4.5, RFC 3947 §5, draft values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encapsulation {
    /// Transport mode, raw ESP.
    Transport,
    /// Tunnel mode, raw ESP.
    Tunnel,
    /// Transport mode in UDP/4500 (3, or 61444 from draft clients).
    UdpTransport,
    /// Tunnel mode in UDP/4500 (4, or 61443 from draft clients).
    UdpTunnel,
}

impl Encapsulation {
    /// Whether ESP goes in UDP.
    #[must_use]
    pub const fn is_udp(self) -> bool {
        matches!(self, Self::UdpTransport | Self::UdpTunnel)
    }

    /// ESP mode for sras-esp.
    #[must_use]
    pub const fn mode(self) -> sras_esp::Mode {
        match self {
            Self::Transport | Self::UdpTransport => sras_esp::Mode::Transport,
            Self::Tunnel | Self::UdpTunnel => sras_esp::Mode::Tunnel,
        }
    }

    /// The wire value; `draft` selects the NAT-T draft numbers (61443/61444).
    #[must_use]
    pub const fn value(self, draft: bool) -> u64 {
        match (self, draft) {
            (Self::Tunnel, _) => p2::ENCAP_TUNNEL,
            (Self::Transport, _) => p2::ENCAP_TRANSPORT,
            (Self::UdpTunnel, false) => p2::ENCAP_UDP_TUNNEL,
            (Self::UdpTransport, false) => p2::ENCAP_UDP_TRANSPORT,
            (Self::UdpTunnel, true) => p2::ENCAP_UDP_TUNNEL_DRAFT,
            (Self::UdpTransport, true) => p2::ENCAP_UDP_TRANSPORT_DRAFT,
        }
    }

    fn from_value(v: u64) -> Option<Self> {
        Some(match v {
            p2::ENCAP_TUNNEL => Self::Tunnel,
            p2::ENCAP_TRANSPORT => Self::Transport,
            p2::ENCAP_UDP_TUNNEL | p2::ENCAP_UDP_TUNNEL_DRAFT => Self::UdpTunnel,
            p2::ENCAP_UDP_TRANSPORT | p2::ENCAP_UDP_TRANSPORT_DRAFT => Self::UdpTransport,
            _ => return None,
        })
    }
}

/// A phase 2 transform the responder chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenPhase2 {
    /// The ESP suite.
    pub suite: Phase2Suite,
    /// Encapsulation mode as offered.
    pub encapsulation: Encapsulation,
    /// PFS group, if the offer carried one.
    pub pfs: Option<DhGroup>,
    /// The peer's lifetime.
    pub life: LifeLimits,
    /// The peer's SPI (our outbound SPI).
    pub peer_spi: [u8; 4],
    /// The chosen proposal and transform (SPI still the peer's; the caller puts its own).
    pub proposal: Proposal,
}

fn parse_phase2_transform(
    t: &Transform,
    sha256_96: bool,
) -> Result<(Phase2Suite, Encapsulation, Option<DhGroup>, LifeLimits), String> {
    let a = &t.attributes;
    let key_len = attr_u64(a, p2::KEY_LENGTH);
    let encryption = match (t.id, key_len) {
        (p2::ESP_3DES, None | Some(192)) => Encryption::TripleDesCbc,
        (p2::ESP_AES_CBC, Some(128)) => Encryption::AesCbc128,
        (p2::ESP_AES_CBC, Some(192)) => Encryption::AesCbc192,
        (p2::ESP_AES_CBC, Some(256)) => Encryption::AesCbc256,
        (p2::ESP_AES_GCM_16, Some(128)) => Encryption::AesGcm128,
        (p2::ESP_AES_GCM_16, Some(256)) => Encryption::AesGcm256,
        (p2::ESP_NULL, None) => Encryption::Null,
        (id, k) => return Err(format!("ESP transform {id} key length {k:?} unsupported")),
    };
    let integrity = match attr_u64(a, p2::AUTH_ALG) {
        None if encryption.is_aead() => Integrity::None,
        None => return Err("no authentication algorithm".into()),
        Some(p2::AUTH_HMAC_MD5) => Integrity::HmacMd5_96,
        Some(p2::AUTH_HMAC_SHA1) => Integrity::HmacSha1_96,
        Some(p2::AUTH_HMAC_SHA256) if sha256_96 => Integrity::HmacSha256_96,
        Some(p2::AUTH_HMAC_SHA256) => Integrity::HmacSha256_128,
        Some(p2::AUTH_HMAC_SHA384) => Integrity::HmacSha384_192,
        Some(p2::AUTH_HMAC_SHA512) => Integrity::HmacSha512_256,
        Some(x) => return Err(format!("authentication algorithm {x} unsupported")),
    };
    if encryption.is_aead() && integrity != Integrity::None {
        return Err("GCM with an authentication algorithm".into());
    }
    let encapsulation = match attr_u64(a, p2::ENCAPSULATION) {
        None => Encapsulation::Tunnel,
        Some(v) => Encapsulation::from_value(v)
            .ok_or_else(|| format!("encapsulation mode {v} unsupported"))?,
    };
    let pfs = match attr_u64(a, p2::GROUP) {
        None => None,
        Some(g) => Some(
            u16::try_from(g)
                .ok()
                .and_then(DhGroup::from_id)
                .ok_or_else(|| format!("PFS group {g} unsupported"))?,
        ),
    };
    if attr_u64(a, p2::ESN).is_some_and(|v| v != 0) {
        return Err("extended sequence numbers not offered by sras".into());
    }
    let life = read_life(
        a,
        p2::LIFE_TYPE,
        p2::LIFE_DURATION,
        p2::LIFE_SECONDS,
        p2::LIFE_KILOBYTES,
    )?;
    Ok((
        Phase2Suite {
            encryption,
            integrity,
        },
        encapsulation,
        pfs,
        life,
    ))
}

/// Responder: picks the first acceptable ESP transform of the peer's phase 2 offer.
/// Bundles (several protocols under one proposal number, e.g. AH+ESP) are refused.
pub fn choose_phase2(profile: &Profile, sa: &SaPayload) -> Result<ChosenPhase2, Refusal> {
    let mut refusal = Refusal::default();
    if sa.doi != DOI_IPSEC {
        refusal.reasons.push(format!("DOI {} unsupported", sa.doi));
        return Err(refusal);
    }
    for p in &sa.proposals {
        if sa.proposals.iter().filter(|q| q.number == p.number).count() > 1 {
            refusal
                .reasons
                .push(format!("proposal {}: SA bundles unsupported", p.number));
            continue;
        }
        if p.protocol != ProtocolId::IpsecEsp {
            refusal.reasons.push(format!(
                "proposal {}: protocol {:?} is not ESP",
                p.number, p.protocol
            ));
            continue;
        }
        let Ok(peer_spi) = <[u8; 4]>::try_from(p.spi.as_slice()) else {
            refusal.reasons.push(format!(
                "proposal {}: SPI of {} bytes",
                p.number,
                p.spi.len()
            ));
            continue;
        };
        for t in &p.transforms {
            match parse_phase2_transform(t, profile.sha256_96) {
                Err(e) => refusal.reasons.push(format!("#{}: {e}", t.number)),
                Ok((suite, encapsulation, pfs, life)) => {
                    if !profile.esp.contains(&suite) {
                        refusal.reasons.push(format!(
                            "#{} {:?}/{:?}: not in profile {}",
                            t.number, suite.encryption, suite.integrity, profile.name
                        ));
                    } else if pfs.is_some_and(|g| !profile.groups.contains(&g)) {
                        refusal.reasons.push(format!(
                            "#{}: PFS group {pfs:?} not in profile {}",
                            t.number, profile.name
                        ));
                    } else {
                        let proposal = Proposal {
                            number: p.number,
                            protocol: p.protocol,
                            spi: p.spi.clone(),
                            transforms: vec![t.clone()],
                        };
                        return Ok(ChosenPhase2 {
                            suite,
                            encapsulation,
                            pfs,
                            life,
                            peer_spi,
                            proposal,
                        });
                    }
                }
            }
        }
    }
    Err(refusal)
}

/// Initiator: parses the responder's phase 2 answer (one proposal, one transform).
pub fn accepted_phase2(profile: &Profile, sa: &SaPayload) -> Result<ChosenPhase2, Refusal> {
    if sa.proposals.len() != 1 || sa.proposals[0].transforms.len() != 1 {
        return Err(Refusal {
            reasons: vec!["the answer must hold one proposal with one transform".into()],
        });
    }
    choose_phase2(profile, sa)
}

/// Initiator: the phase 2 offer for ESP with `spi`.
#[must_use]
pub fn offer_phase2(
    profile: &Profile,
    spi: [u8; 4],
    encapsulation: Encapsulation,
    draft: bool,
    pfs: Option<DhGroup>,
    lifetime: Duration,
) -> SaPayload {
    let transforms = profile
        .esp
        .iter()
        .take(64)
        .enumerate()
        .map(|(i, s)| {
            phase2_transform(
                u8::try_from(i + 1).unwrap_or(u8::MAX),
                s,
                encapsulation,
                draft,
                pfs,
                lifetime,
            )
        })
        .collect();
    SaPayload {
        doi: DOI_IPSEC,
        situation: SIT_IDENTITY_ONLY,
        proposals: vec![Proposal {
            number: 1,
            protocol: ProtocolId::IpsecEsp,
            spi: spi.to_vec(),
            transforms,
        }],
    }
}

/// One ESP transform with its attributes (RFC 2407 §4.5).
#[must_use]
pub fn phase2_transform(
    number: u8,
    s: &Phase2Suite,
    encapsulation: Encapsulation,
    draft: bool,
    pfs: Option<DhGroup>,
    lifetime: Duration,
) -> Transform {
    let (id, key_len) = match s.encryption {
        Encryption::Null => (p2::ESP_NULL, None),
        Encryption::TripleDesCbc => (p2::ESP_3DES, None),
        Encryption::AesCbc128 => (p2::ESP_AES_CBC, Some(128)),
        Encryption::AesCbc192 => (p2::ESP_AES_CBC, Some(192)),
        Encryption::AesCbc256 => (p2::ESP_AES_CBC, Some(256)),
        Encryption::AesGcm128 => (p2::ESP_AES_GCM_16, Some(128)),
        Encryption::AesGcm256 => (p2::ESP_AES_GCM_16, Some(256)),
    };
    let mut attributes = vec![
        Attribute::number(p2::LIFE_TYPE, p2::LIFE_SECONDS),
        Attribute::number(p2::LIFE_DURATION, lifetime.as_secs()),
        Attribute::number(p2::ENCAPSULATION, encapsulation.value(draft)),
    ];
    let auth = match s.integrity {
        Integrity::None => None,
        Integrity::HmacMd5_96 => Some(p2::AUTH_HMAC_MD5),
        Integrity::HmacSha1_96 => Some(p2::AUTH_HMAC_SHA1),
        Integrity::HmacSha256_128 | Integrity::HmacSha256_96 => Some(p2::AUTH_HMAC_SHA256),
        Integrity::HmacSha384_192 => Some(p2::AUTH_HMAC_SHA384),
        Integrity::HmacSha512_256 => Some(p2::AUTH_HMAC_SHA512),
    };
    if let Some(a) = auth {
        attributes.push(Attribute::number(p2::AUTH_ALG, a));
    }
    if let Some(k) = key_len {
        attributes.push(Attribute::number(p2::KEY_LENGTH, k));
    }
    if let Some(g) = pfs {
        attributes.push(Attribute::number(p2::GROUP, u64::from(g.id())));
    }
    Transform {
        number,
        id,
        attributes,
    }
}

/// The RESPONDER-LIFETIME notify data (RFC 2407 §4.6.3.1): SA Life Type and SA Life
/// Duration attributes (RFC 2408 §3.3 encoding).
#[must_use]
pub fn responder_lifetime_data(seconds: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for a in [
        Attribute::number(p2::LIFE_TYPE, p2::LIFE_SECONDS),
        Attribute::number(p2::LIFE_DURATION, seconds),
    ] {
        match a.value {
            AttributeValue::Basic(v) => {
                out.extend_from_slice(&(a.kind | 0x8000).to_be_bytes());
                out.extend_from_slice(&v.to_be_bytes());
            }
            AttributeValue::Variable(b) => {
                out.extend_from_slice(&a.kind.to_be_bytes());
                out.extend_from_slice(&u16::try_from(b.len()).unwrap_or(0).to_be_bytes());
                out.extend_from_slice(&b);
            }
        }
    }
    out
}

/// Reads the seconds of a RESPONDER-LIFETIME notify's data; `None` if malformed.
#[must_use]
pub fn parse_responder_lifetime(data: &[u8]) -> Option<u64> {
    let mut attrs = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let t = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
        if t & 0x8000 != 0 {
            let v = u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]);
            attrs.push(Attribute::basic(t & 0x7fff, v));
            rest = rest.get(4..)?;
        } else {
            let len = usize::from(u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]));
            let v = rest.get(4..4 + len)?.to_vec();
            attrs.push(Attribute {
                kind: t,
                value: AttributeValue::Variable(v),
            });
            rest = rest.get(4 + len..)?;
        }
    }
    read_life(
        &attrs,
        p2::LIFE_TYPE,
        p2::LIFE_DURATION,
        p2::LIFE_SECONDS,
        p2::LIFE_KILOBYTES,
    )
    .ok()?
    .seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_nest() {
        let (m, c, l) = (Profile::modern(), Profile::compatible(), Profile::legacy());
        for s in m.phase1_suites() {
            assert!(c.accepts_phase1(&s).is_ok());
        }
        for s in c.phase1_suites() {
            assert!(l.accepts_phase1(&s).is_ok());
        }
        assert!(!c.groups.contains(&DhGroup::Modp1024));
        assert!(l.groups.contains(&DhGroup::Modp1024));
        assert!(!c.hashes.contains(&HashAlgorithm::Md5));
    }

    #[test]
    fn offer_then_choose_round_trips() {
        for p in [Profile::modern(), Profile::compatible(), Profile::legacy()] {
            let offer = offer_phase1(&p, AuthMethod::PreSharedKey, Duration::from_secs(28800));
            let chosen = choose_phase1(&p, &[AuthMethod::PreSharedKey], &offer).unwrap();
            assert_eq!(chosen.suite, p.phase1_suites()[0]);
            assert_eq!(chosen.life.seconds, Some(28800));
            let offer = offer_phase2(
                &p,
                [1, 2, 3, 4],
                Encapsulation::UdpTransport,
                false,
                None,
                Duration::from_secs(3600),
            );
            let chosen = choose_phase2(&p, &offer).unwrap();
            assert_eq!(chosen.suite, p.esp[0]);
            assert_eq!(chosen.encapsulation, Encapsulation::UdpTransport);
            assert_eq!(chosen.peer_spi, [1, 2, 3, 4]);
        }
    }

    #[test]
    fn android_modp1024_needs_legacy() {
        let android = Profile {
            name: "android",
            ciphers: vec![CipherAlgorithm::AesCbc256],
            hashes: vec![HashAlgorithm::Sha1],
            groups: vec![DhGroup::Modp1024],
            esp: vec![],
            sha256_96: false,
        };
        let offer = offer_phase1(
            &android,
            AuthMethod::PreSharedKey,
            Duration::from_secs(3600),
        );
        let refusal =
            choose_phase1(&Profile::compatible(), &[AuthMethod::PreSharedKey], &offer).unwrap_err();
        assert!(
            refusal
                .to_string()
                .contains("group Modp1024 not in profile compatible"),
            "{refusal}"
        );
        assert!(choose_phase1(&Profile::legacy(), &[AuthMethod::PreSharedKey], &offer).is_ok());
    }

    #[test]
    fn a_zero_lifetime_means_none() {
        // strongSwan with rekey=no.
        let attrs = [
            Attribute::number(p1::LIFE_TYPE, p1::LIFE_SECONDS),
            Attribute::number(p1::LIFE_DURATION, 0),
        ];
        let life = read_life(
            &attrs,
            p1::LIFE_TYPE,
            p1::LIFE_DURATION,
            p1::LIFE_SECONDS,
            p1::LIFE_KILOBYTES,
        )
        .unwrap();
        assert_eq!(life.seconds, None);
        assert_eq!(
            life.duration_or(Duration::from_secs(28_800)),
            Duration::from_secs(28_800)
        );
    }

    #[test]
    fn message_1_fits_one_datagram() {
        let offer = offer_phase1(
            &Profile::legacy(),
            AuthMethod::PreSharedKey,
            Duration::from_secs(28_800),
        );
        assert!(offer.to_vec().len() <= 1200, "{}", offer.to_vec().len());
    }

    #[test]
    fn responder_lifetime_round_trips() {
        for s in [600, 3600, 86_400 * 3] {
            assert_eq!(
                parse_responder_lifetime(&responder_lifetime_data(s)),
                Some(s)
            );
        }
        assert_eq!(parse_responder_lifetime(&[0x80, 1]), None);
    }

    #[test]
    fn draft_encapsulation_values_are_read() {
        assert_eq!(
            Encapsulation::from_value(61444),
            Some(Encapsulation::UdpTransport)
        );
        assert_eq!(
            Encapsulation::from_value(61443),
            Some(Encapsulation::UdpTunnel)
        );
        assert_eq!(Encapsulation::from_value(9), None);
    }
}
