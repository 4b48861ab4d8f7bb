//! The `[ike]` section: IKEv1 key management (sras-ike) for `sras ike`.
//!
//! Like the rest of the file it is checked completely before anything starts: every value, the
//! pre-shared keys, and the certificate, its key and the CAs (read and parsed here, so that a
//! missing or broken file is a configuration error naming its key).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use sras_esp::{Encryption, Integrity};
use sras_ike::cert::{Certificate, PrivateKey, TrustStore};
use sras_ike::crypto::DhGroup;
use sras_ike::{CertConfig, DpdConfig, PeerSelector, Phase2Suite, Profile, PskEntry};
use zeroize::Zeroizing;

use super::{invalid, ranged, text_field, ConfigError, Secret};

/// Ranges of the numeric keys (documented in docs/configuration.md).
const PORT: (i64, i64) = (1, 65_535);
const DPD_DELAY: (i64, i64) = (0, 3_600);
const DPD_TIMEOUT: (i64, i64) = (1, 86_400);
const PHASE1_LIFETIME: (i64, i64) = (60, 86_400);
const PHASE2_LIFETIME: (i64, i64) = (60, 86_400);
/// Longest pre-shared key accepted.
const MAX_PSK_LEN: usize = 1024;

/// `[ike]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIke {
    listen: Option<String>,
    port: Option<i64>,
    natt_port: Option<i64>,
    profile: Option<String>,
    aggressive_mode: Option<bool>,
    nat_traversal: Option<bool>,
    force_encapsulation: Option<bool>,
    keylog: Option<String>,
    dpd_delay: Option<i64>,
    dpd_timeout: Option<i64>,
    phase1_lifetime: Option<i64>,
    phase2_lifetime: Option<i64>,
    /// `"none"` or a group number: checked by hand for a better message than serde's.
    pfs: Option<toml::Value>,
    sha256_96: Option<bool>,
    esp: Option<Vec<String>>,
    psk: Option<Vec<RawPsk>>,
    certificate: Option<RawCertificate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPsk {
    peer: String,
    secret: String,
}

impl fmt::Debug for RawPsk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawPsk {{ peer: {:?}, secret: <redacted> }}", self.peer)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCertificate {
    cert: String,
    key: String,
    ca: Vec<String>,
}

/// `[ike]`, validated, with the certificate files loaded.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IkeConfig {
    /// Address of the UDP sockets (`port` and `natt_port`).
    pub(crate) listen: IpAddr,
    /// The IKE port (500).
    pub(crate) port: u16,
    /// The NAT-T port (4500).
    pub(crate) natt_port: u16,
    /// Suites accepted and offered, by name.
    #[serde(serialize_with = "profile_name")]
    pub(crate) profile: Profile,
    /// Answer Aggressive Mode.
    pub(crate) aggressive_mode: bool,
    /// NAT traversal (RFC 3947).
    pub(crate) nat_traversal: bool,
    /// Pretend a NAT so that ESP always goes in UDP/4500.
    pub(crate) force_encapsulation: bool,
    /// Debug: the file the phase 1 and ESP keys are appended to (Wireshark).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) keylog: Option<String>,
    /// Seconds of silence before an R-U-THERE; 0 = we never ask.
    pub(crate) dpd_delay: u64,
    /// Seconds without an answer after which the peer is dead.
    pub(crate) dpd_timeout: u64,
    /// Seconds.
    pub(crate) phase1_lifetime: u64,
    /// Seconds.
    pub(crate) phase2_lifetime: u64,
    /// Initiator: Quick Mode PFS group.
    pub(crate) pfs: Pfs,
    /// The Android/old Linux truncated HMAC-SHA2-256.
    pub(crate) sha256_96: bool,
    /// `ike.esp`: the ESP suites, by strongSwan name, when narrowed from the profile's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) esp: Option<Vec<String>>,
    /// `[[ike.psk]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) psk: Vec<IkePsk>,
    /// `[ike.certificate]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) certificate: Option<IkeCertificate>,
}

fn profile_name<S: Serializer>(p: &Profile, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.name)
}

/// `pfs`: none, or a Diffie-Hellman group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pfs(pub(crate) Option<DhGroup>);

impl Serialize for Pfs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_str("none"),
            Some(g) => s.serialize_i64(g.id().into()),
        }
    }
}

/// One `[[ike.psk]]` entry.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IkePsk {
    /// The peer as written (normalized): an IP address, `id:<text>` or `*`.
    pub(crate) peer: String,
    /// The key (never logged, printed as `<redacted>`).
    pub(crate) secret: Secret,
    /// `peer`, parsed.
    #[serde(skip)]
    pub(crate) selector: PeerSelector,
}

/// `[ike.certificate]`: the paths as written, and what they hold.
#[derive(Clone, Serialize)]
pub(crate) struct IkeCertificate {
    /// Our certificate (PEM; further certificates are the chain).
    pub(crate) cert: String,
    /// Its private key (PEM).
    pub(crate) key: String,
    /// CA files for the peers' certificates (PEM).
    pub(crate) ca: Vec<String>,
    /// The loaded certificate, chain, key and trust store.
    #[serde(skip)]
    pub(crate) loaded: CertConfig,
}

impl fmt::Debug for IkeCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IkeCertificate")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("ca", &self.ca)
            .field("loaded", &self.loaded)
            .finish()
    }
}

impl IkeConfig {
    pub(super) fn from_raw(r: RawIke) -> Result<Self, ConfigError> {
        let d = sras_ike::Config::default();

        let listen = match &r.listen {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(s) => s.parse().map_err(|_| {
                invalid(
                    "ike.listen",
                    format!("{s:?}"),
                    "must be an IP address without port (the ports are ike.port and ike.natt_port), such as \"0.0.0.0\" or \"192.0.2.1\"",
                )
            })?,
        };
        let port = ranged("ike.port", r.port, d.ike_port.into(), PORT)? as u16;
        let natt_port = ranged("ike.natt_port", r.natt_port, d.natt_port.into(), PORT)? as u16;
        if natt_port == port {
            return Err(invalid(
                "ike.natt_port",
                natt_port,
                format!("must differ from ike.port ({port})"),
            ));
        }

        let profile_text = r.profile.as_deref().unwrap_or("compatible");
        let mut profile = Profile::by_name(profile_text).ok_or_else(|| {
            invalid(
                "ike.profile",
                format!("{profile_text:?}"),
                format!("must be one of {}", quoted(Profile::NAMES)),
            )
        })?;
        let sha256_96 = r.sha256_96.unwrap_or(false);
        profile.sha256_96 = sha256_96;
        if let Some(list) = &r.esp {
            profile.esp = esp_from_raw(list, &profile)?;
        }

        let nat_traversal = r.nat_traversal.unwrap_or(d.nat_traversal);
        let force_encapsulation = r.force_encapsulation.unwrap_or(d.force_encapsulation);
        if force_encapsulation && !nat_traversal {
            return Err(invalid(
                "ike.force_encapsulation",
                true,
                "requires ike.nat_traversal = true (UDP encapsulation is negotiated by NAT traversal)",
            ));
        }

        let keylog = match r.keylog {
            Some(p) if p.is_empty() => {
                return Err(invalid(
                    "ike.keylog",
                    "\"\"",
                    "must be a file path; leave the key out for no key log",
                ))
            }
            other => other,
        };

        let (dd, dt) = d.dpd.map_or((30, 120), |x| {
            (x.delay.as_secs() as i64, x.timeout.as_secs() as i64)
        });
        let dpd_delay = ranged("ike.dpd_delay", r.dpd_delay, dd, DPD_DELAY)?;
        let dpd_timeout = ranged("ike.dpd_timeout", r.dpd_timeout, dt, DPD_TIMEOUT)?;
        if dpd_timeout < dpd_delay {
            return Err(invalid(
                "ike.dpd_timeout",
                dpd_timeout,
                format!("must not be below ike.dpd_delay ({dpd_delay} s): the peer is declared dead only after at least one probe"),
            ));
        }
        let phase1_lifetime = ranged(
            "ike.phase1_lifetime",
            r.phase1_lifetime,
            d.phase1_lifetime.as_secs() as i64,
            PHASE1_LIFETIME,
        )?;
        let phase2_lifetime = ranged(
            "ike.phase2_lifetime",
            r.phase2_lifetime,
            d.phase2_lifetime.as_secs() as i64,
            PHASE2_LIFETIME,
        )?;

        let pfs = pfs_from_raw(r.pfs.as_ref(), &profile)?;

        let psk = match r.psk {
            None => Vec::new(),
            Some(list) => psks_from_raw(list)?,
        };
        let certificate = r.certificate.map(certificate_from_raw).transpose()?;
        if psk.is_empty() && certificate.is_none() {
            return Err(invalid(
                "ike.psk",
                "(missing)",
                "[ike] needs at least one [[ike.psk]] entry or an [ike.certificate] to authenticate peers",
            ));
        }

        Ok(Self {
            listen,
            port,
            natt_port,
            profile,
            aggressive_mode: r.aggressive_mode.unwrap_or(d.aggressive_mode),
            nat_traversal,
            force_encapsulation,
            keylog,
            dpd_delay: dpd_delay as u64,
            dpd_timeout: dpd_timeout as u64,
            phase1_lifetime: phase1_lifetime as u64,
            phase2_lifetime: phase2_lifetime as u64,
            pfs,
            sha256_96,
            esp: r.esp,
            psk,
            certificate,
        })
    }

    /// The `sras-ike` endpoint configuration.
    pub(crate) fn endpoint_config(&self) -> sras_ike::Config {
        sras_ike::Config {
            profile: self.profile.clone(),
            psk: self
                .psk
                .iter()
                .map(|p| PskEntry {
                    peer: p.selector.clone(),
                    secret: Zeroizing::new(p.secret.as_bytes().to_vec()),
                })
                .collect(),
            certificate: self.certificate.as_ref().map(|c| c.loaded.clone()),
            aggressive_mode: self.aggressive_mode,
            nat_traversal: self.nat_traversal,
            force_encapsulation: self.force_encapsulation,
            dpd: (self.dpd_delay > 0).then(|| DpdConfig {
                delay: Duration::from_secs(self.dpd_delay),
                timeout: Duration::from_secs(self.dpd_timeout),
            }),
            phase1_lifetime: Duration::from_secs(self.phase1_lifetime),
            phase2_lifetime: Duration::from_secs(self.phase2_lifetime),
            pfs: self.pfs.0,
            ike_port: self.port,
            natt_port: self.natt_port,
            export_keys: self.keylog.is_some(),
            ..sras_ike::Config::default()
        }
    }

    /// Whether a group key (`peer = "*"`) is configured.
    pub(crate) fn has_group_key(&self) -> bool {
        self.psk.iter().any(|p| p.selector == PeerSelector::Any)
    }
}

/// strongSwan's name of an ESP suite (`aes128gcm16`, `aes256-sha256`, `3des-sha1`).
pub(crate) fn esp_suite_name(s: &Phase2Suite) -> String {
    let enc = match s.encryption {
        Encryption::Null => "null",
        Encryption::AesCbc128 => "aes128",
        Encryption::AesCbc192 => "aes192",
        Encryption::AesCbc256 => "aes256",
        Encryption::TripleDesCbc => "3des",
        Encryption::AesGcm128 => "aes128gcm16",
        Encryption::AesGcm256 => "aes256gcm16",
    };
    let integ = match s.integrity {
        Integrity::None => return enc.to_string(),
        Integrity::HmacMd5_96 => "md5",
        Integrity::HmacSha1_96 => "sha1",
        Integrity::HmacSha256_128 | Integrity::HmacSha256_96 => "sha256",
        Integrity::HmacSha384_192 => "sha384",
        Integrity::HmacSha512_256 => "sha512",
    };
    format!("{enc}-{integ}")
}

/// `ike.esp`: the profile's ESP suites narrowed to these, in this order (what an initiator
/// offers first; what a responder accepts).
fn esp_from_raw(list: &[String], profile: &Profile) -> Result<Vec<Phase2Suite>, ConfigError> {
    let valid = || {
        let names: Vec<String> = profile.esp.iter().map(esp_suite_name).collect();
        format!(
            "must be ESP suites of profile {:?}: {}",
            profile.name,
            names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if list.is_empty() {
        return Err(invalid("ike.esp", "[]", valid()));
    }
    let mut out: Vec<Phase2Suite> = Vec::with_capacity(list.len());
    for (i, name) in list.iter().enumerate() {
        let suite = profile
            .esp
            .iter()
            .find(|s| esp_suite_name(s) == name.to_ascii_lowercase())
            .ok_or_else(|| invalid(format!("ike.esp[{i}]"), format!("{name:?}"), valid()))?;
        if out.contains(suite) {
            return Err(invalid(
                format!("ike.esp[{i}]"),
                format!("{name:?}"),
                "is listed twice",
            ));
        }
        out.push(*suite);
    }
    Ok(out)
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn pfs_from_raw(v: Option<&toml::Value>, profile: &Profile) -> Result<Pfs, ConfigError> {
    let groups = || {
        let mut ids: Vec<u16> = profile.groups.iter().map(|g| g.id()).collect();
        ids.sort_unstable();
        ids.iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let expected = || {
        format!(
            "must be \"none\" or the number of a Diffie-Hellman group of profile {:?}: {}",
            profile.name,
            groups()
        )
    };
    match v {
        None => Ok(Pfs(None)),
        Some(toml::Value::String(s)) if s == "none" => Ok(Pfs(None)),
        Some(toml::Value::Integer(n)) => {
            let group = u16::try_from(*n).ok().and_then(DhGroup::from_id);
            match group {
                Some(g) if profile.groups.contains(&g) => Ok(Pfs(Some(g))),
                _ => Err(invalid("ike.pfs", n, expected())),
            }
        }
        Some(other) => Err(invalid("ike.pfs", other, expected())),
    }
}

fn psks_from_raw(list: Vec<RawPsk>) -> Result<Vec<IkePsk>, ConfigError> {
    if list.is_empty() {
        return Err(invalid(
            "ike.psk",
            "[]",
            "must have at least one entry; leave it out to use only [ike.certificate]",
        ));
    }
    let mut out: Vec<IkePsk> = Vec::with_capacity(list.len());
    for (i, p) in list.into_iter().enumerate() {
        let key = format!("ike.psk[{i}].peer");
        let (peer, selector) = peer_selector(&key, &p.peer)?;
        if out.iter().any(|x| x.selector == selector) {
            return Err(invalid(key, format!("{:?}", p.peer), "is listed twice"));
        }
        let secret = Secret(Zeroizing::new(p.secret));
        if secret.0.is_empty() {
            return Err(invalid(
                format!("ike.psk[{i}].secret"),
                "\"\"",
                "must not be empty",
            ));
        }
        if secret.0.len() > MAX_PSK_LEN {
            return Err(invalid(
                format!("ike.psk[{i}].secret"),
                "<redacted>",
                format!("must be at most {MAX_PSK_LEN} bytes"),
            ));
        }
        out.push(IkePsk {
            peer,
            secret,
            selector,
        });
    }
    Ok(out)
}

/// Parses `peer`: an IP address, `id:<text>` or `*`; returns it normalized and parsed.
fn peer_selector(key: &str, s: &str) -> Result<(String, PeerSelector), ConfigError> {
    if s == "*" {
        return Ok(("*".to_owned(), PeerSelector::Any));
    }
    if let Some(id) = s.strip_prefix("id:") {
        text_field(key, id, false).map_err(|e| match e {
            ConfigError::Invalid { expected, .. } => invalid(
                key,
                format!("{s:?}"),
                format!("the ID after \"id:\" {expected}"),
            ),
            e => e,
        })?;
        return Ok((s.to_owned(), PeerSelector::Id(id.as_bytes().to_vec())));
    }
    match s.parse::<IpAddr>() {
        Ok(ip) => Ok((ip.to_string(), PeerSelector::Address(ip))),
        Err(_) => Err(invalid(
            key,
            format!("{s:?}"),
            "must be the peer's IP address (\"192.0.2.3\"), \"id:<ID>\" for the ID it sends (\"id:client.example.net\"), or \"*\" for a group key every peer may use",
        )),
    }
}

/// Reads a PEM file named by `key`, zeroizing our copy of its text.
fn read_pem(key: &str, path: &str) -> Result<Zeroizing<String>, ConfigError> {
    if path.is_empty() {
        return Err(invalid(key, "\"\"", "must be a file path"));
    }
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|e| {
            invalid(
                key,
                format!("{path:?}"),
                format!("cannot read the file: {e}"),
            )
        })
}

fn certificate_from_raw(r: RawCertificate) -> Result<IkeCertificate, ConfigError> {
    let pem = read_pem("ike.certificate.cert", &r.cert)?;
    let mut certs = Certificate::from_pem(&pem).map_err(|e| {
        invalid(
            "ike.certificate.cert",
            format!("{:?}", r.cert),
            format!(
                "must hold a PEM certificate (the first one is ours, the others its chain): {e}"
            ),
        )
    })?;
    let certificate = certs.remove(0);
    let chain = certs;

    let pem = read_pem("ike.certificate.key", &r.key)?;
    let key = PrivateKey::from_pem(&pem).map_err(|e| {
        invalid(
            "ike.certificate.key",
            format!("{:?}", r.key),
            format!("must hold an unencrypted RSA private key in PEM (PKCS#8 \"PRIVATE KEY\" or PKCS#1 \"RSA PRIVATE KEY\"): {e}"),
        )
    })?;
    if !key.matches(&certificate) {
        return Err(invalid(
            "ike.certificate.key",
            format!("{:?}", r.key),
            format!(
                "is not the key of ike.certificate.cert ({:?}, subject {})",
                r.cert,
                certificate.subject_string()
            ),
        ));
    }

    if r.ca.is_empty() {
        return Err(invalid(
            "ike.certificate.ca",
            "[]",
            "must name at least one PEM file of CA certificates (the peers' certificates must chain to one)",
        ));
    }
    let mut cas = Vec::new();
    for (i, path) in r.ca.iter().enumerate() {
        let k = format!("ike.certificate.ca[{i}]");
        let pem = read_pem(&k, path)?;
        let found = Certificate::from_pem(&pem).map_err(|e| {
            invalid(
                &k,
                format!("{path:?}"),
                format!("must hold PEM CA certificates: {e}"),
            )
        })?;
        if let Some(c) = found.iter().find(|c| !c.is_ca()) {
            return Err(invalid(
                &k,
                format!("{path:?}"),
                format!(
                    "holds a certificate that is not a CA (basicConstraints cA): {}",
                    c.subject_string()
                ),
            ));
        }
        cas.extend(found);
    }

    Ok(IkeCertificate {
        cert: r.cert,
        key: r.key,
        ca: r.ca,
        loaded: CertConfig {
            certificate,
            chain,
            key: Arc::new(key),
            trust: TrustStore::new(cas),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    const PSK: &str = "[[ike.psk]]\npeer = \"192.0.2.3\"\nsecret = \"hunter2-psk\"\n";

    fn parse(text: &str) -> IkeConfig {
        Config::parse(text, "t")
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .ike
            .expect("[ike]")
    }

    fn err(text: &str) -> String {
        match Config::parse(text, "test.toml") {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// A certificate fixture of sras-ike's tests.
    fn fixture(name: &str) -> String {
        format!(
            "{}/../ike/tests/data/certs/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    #[test]
    fn absent_section_is_none_and_the_builtin_defaults_have_the_test_key() {
        assert!(Config::parse("", "t").unwrap().ike.is_none());
        let builtin = Config::builtin().ike.expect("IPsec on by default");
        assert_eq!(builtin.psk.len(), 1);
        assert_eq!(builtin.psk[0].peer, "*");
        assert_eq!(builtin.psk[0].secret.as_str(), crate::config::TEST_PSK);
    }

    #[test]
    fn defaults_and_endpoint_config() {
        let c = parse(&format!("[ike]\n{PSK}"));
        assert_eq!(c.listen, IpAddr::from([0, 0, 0, 0]));
        assert_eq!((c.port, c.natt_port), (500, 4500));
        assert_eq!(c.profile.name, "compatible");
        assert!(!c.aggressive_mode && c.nat_traversal && !c.force_encapsulation);
        assert_eq!((c.dpd_delay, c.dpd_timeout), (30, 120));
        assert_eq!((c.phase1_lifetime, c.phase2_lifetime), (28_800, 3_600));
        assert_eq!(c.pfs, Pfs(None));
        assert!(c.keylog.is_none() && !c.sha256_96 && c.certificate.is_none());
        assert!(!c.has_group_key());

        let e = c.endpoint_config();
        assert_eq!(e.profile, Profile::compatible());
        assert_eq!(e.psk.len(), 1);
        assert_eq!(
            e.psk[0].peer,
            PeerSelector::Address("192.0.2.3".parse().unwrap())
        );
        assert_eq!(e.psk[0].secret.as_slice(), b"hunter2-psk");
        assert_eq!(
            e.dpd,
            Some(DpdConfig {
                delay: Duration::from_secs(30),
                timeout: Duration::from_secs(120)
            })
        );
        assert_eq!(e.phase1_lifetime, Duration::from_secs(28_800));
        assert_eq!(e.phase2_lifetime, Duration::from_secs(3_600));
        assert_eq!((e.ike_port, e.natt_port), (500, 4500));
        assert!(e.pfs.is_none() && !e.export_keys && e.certificate.is_none());
        assert!(e.local_id.is_none());
    }

    #[test]
    fn every_key_maps() {
        let c = parse("[ike]\nlisten = \"192.0.2.1\"\nport = 15000\nnatt_port = 15001\nprofile = \"legacy\"\naggressive_mode = true\nnat_traversal = true\nforce_encapsulation = true\nkeylog = \"/tmp/k\"\ndpd_delay = 0\ndpd_timeout = 5\nphase1_lifetime = 3600\nphase2_lifetime = 600\npfs = 2\nsha256_96 = true\n[[ike.psk]]\npeer = \"id:client.example.net\"\nsecret = \"a\"\n[[ike.psk]]\npeer = \"*\"\nsecret = \"b\"\n[[ike.psk]]\npeer = \"2001:db8::1\"\nsecret = \"c\"\n");
        assert!(c.has_group_key());
        let e = c.endpoint_config();
        assert_eq!(e.profile.name, "legacy");
        assert!(e.profile.sha256_96);
        assert!(e.aggressive_mode && e.nat_traversal && e.force_encapsulation && e.export_keys);
        assert_eq!(e.dpd, None, "dpd_delay = 0: we never ask");
        assert_eq!(e.phase1_lifetime, Duration::from_secs(3600));
        assert_eq!(e.phase2_lifetime, Duration::from_secs(600));
        assert_eq!(e.pfs, Some(DhGroup::Modp1024));
        assert_eq!((e.ike_port, e.natt_port), (15000, 15001));
        let peers: Vec<_> = e.psk.iter().map(|p| p.peer.clone()).collect();
        assert_eq!(
            peers,
            [
                PeerSelector::Id(b"client.example.net".to_vec()),
                PeerSelector::Any,
                PeerSelector::Address("2001:db8::1".parse().unwrap()),
            ]
        );
        assert_eq!(
            parse(&format!("[ike]\npfs = 19\n{PSK}")).pfs,
            Pfs(Some(DhGroup::Ecp256))
        );
        assert_eq!(
            parse(&format!("[ike]\npfs = \"none\"\n{PSK}")).pfs,
            Pfs(None)
        );
    }

    #[test]
    fn esp_narrows_the_profile_in_order() {
        let c = parse("[ike]\nesp = [\"aes128-sha1\", \"AES128GCM16\"]\n[[ike.psk]]\npeer = \"*\"\nsecret = \"a\"\n");
        let names: Vec<String> = c.profile.esp.iter().map(esp_suite_name).collect();
        assert_eq!(names, ["aes128-sha1", "aes128gcm16"]);
        let e = err("[ike]\nesp = [\"aes128-md5\"]\n[[ike.psk]]\npeer = \"*\"\nsecret = \"a\"\n");
        assert!(
            e.contains("ike.esp[0]") && e.contains("\"aes128-sha1\""),
            "{e}"
        );
        let e = err("[ike]\nesp = []\n[[ike.psk]]\npeer = \"*\"\nsecret = \"a\"\n");
        assert!(e.contains("ike.esp"), "{e}");
        let e = err("[ike]\nesp = [\"aes128gcm16\", \"aes128gcm16\"]\n[[ike.psk]]\npeer = \"*\"\nsecret = \"a\"\n");
        assert!(e.contains("ike.esp[1]") && e.contains("twice"), "{e}");
        // Every profile suite has a name that maps back to it.
        for p in [Profile::legacy()] {
            for s in &p.esp {
                assert_eq!(esp_from_raw(&[esp_suite_name(s)], &p).unwrap(), vec![*s]);
            }
        }
    }

    #[test]
    fn errors_name_the_key_the_value_and_what_is_valid() {
        for (text, key, hint) in [
            (
                "profile = \"foo\"\n",
                "ike.profile = \"foo\"",
                "\"modern\", \"compatible\", \"legacy\"",
            ),
            (
                "listen = \"0.0.0.0:500\"\n",
                "ike.listen = \"0.0.0.0:500\"",
                "without port",
            ),
            ("port = 0\n", "ike.port = 0", "1..=65535"),
            ("natt_port = 70000\n", "ike.natt_port = 70000", "1..=65535"),
            (
                "port = 4500\n",
                "ike.natt_port = 4500",
                "differ from ike.port",
            ),
            (
                "nat_traversal = false\nforce_encapsulation = true\n",
                "ike.force_encapsulation = true",
                "nat_traversal",
            ),
            ("keylog = \"\"\n", "ike.keylog", "file path"),
            (
                "dpd_delay = 60\ndpd_timeout = 30\n",
                "ike.dpd_timeout = 30",
                "ike.dpd_delay (60 s)",
            ),
            ("dpd_delay = 4000\n", "ike.dpd_delay = 4000", "0..=3600"),
            ("dpd_timeout = 0\n", "ike.dpd_timeout = 0", "1..=86400"),
            (
                "phase1_lifetime = 10\n",
                "ike.phase1_lifetime = 10",
                "60..=86400",
            ),
            (
                "phase2_lifetime = 100000\n",
                "ike.phase2_lifetime = 100000",
                "60..=86400",
            ),
            (
                "pfs = \"14\"\n",
                "ike.pfs = \"14\"",
                "\"none\" or the number",
            ),
            ("pfs = 2\n", "ike.pfs = 2", "profile \"compatible\""),
            ("pfs = 21\n", "ike.pfs = 21", "14"),
        ] {
            let e = err(&format!("[ike]\n{text}{PSK}"));
            assert!(e.contains(key) && e.contains(hint), "{text:?}: {e}");
        }
        for (psk, key, hint) in [
            (
                "peer = \"not an ip\"\nsecret = \"x\"\n",
                "ike.psk[0].peer = \"not an ip\"",
                "\"id:<ID>\"",
            ),
            (
                "peer = \"192.0.2.3/32\"\nsecret = \"x\"\n",
                "ike.psk[0].peer",
                "IP address",
            ),
            (
                "peer = \"id:\"\nsecret = \"x\"\n",
                "ike.psk[0].peer = \"id:\"",
                "must not be empty",
            ),
            (
                "peer = \"*\"\nsecret = \"\"\n",
                "ike.psk[0].secret = \"\"",
                "must not be empty",
            ),
        ] {
            let e = err(&format!("[ike]\n[[ike.psk]]\n{psk}"));
            assert!(e.contains(key) && e.contains(hint), "{psk:?}: {e}");
        }
        let e = err(&format!("[ike]\n{PSK}{PSK}"));
        assert!(e.contains("ike.psk[1].peer") && e.contains("twice"), "{e}");
        let long = "k".repeat(1025);
        let e = err(&format!(
            "[ike]\n[[ike.psk]]\npeer = \"*\"\nsecret = \"{long}\"\n"
        ));
        assert!(e.contains("ike.psk[0].secret") && !e.contains(&long), "{e}");
        let e = err("[ike]\n");
        assert!(
            e.contains("ike.psk") && e.contains("[ike.certificate]"),
            "{e}"
        );
        let e = err("[ike]\npsk = []\n");
        assert!(e.contains("ike.psk = []"), "{e}");
        let e = err(&format!("[ike]\nagressive_mode = true\n{PSK}"));
        assert!(e.contains("agressive_mode"), "{e}");
        let e = err("[ike]\n[[ike.psk]]\npeer = \"*\"\nsecret = \"x\"\nkey = \"y\"\n");
        assert!(e.contains("unknown field") && e.contains("key"), "{e}");
    }

    #[test]
    fn secrets_are_redacted_and_the_effective_config_round_trips() {
        let c = Config::parse(
            &format!("[ike]\nlisten = \"192.0.2.1\"\npfs = 14\n{PSK}[[ike.psk]]\npeer = \"id:a b\"\nsecret = \"hunter2-id\"\n"),
            "t",
        )
        .unwrap();
        for shown in [format!("{c:?}"), c.to_toml()] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        let shown = c.to_toml();
        assert!(
            shown.contains("[ike]")
                && shown.contains("pfs = 14")
                && shown.contains("peer = \"id:a b\""),
            "{shown}"
        );
        assert!(shown.contains("secret = \"<redacted>\""), "{shown}");
        let again = Config::parse(&shown, "shown").unwrap();
        assert_eq!(again.to_toml(), shown);
    }

    fn cert_section(cert: &str, key: &str, ca: &str) -> String {
        format!("[ike]\n[ike.certificate]\ncert = \"{cert}\"\nkey = \"{key}\"\nca = [\"{ca}\"]\n")
    }

    #[test]
    fn certificate_is_loaded_and_checked() {
        let c = parse(&cert_section(
            &fixture("server.pem"),
            &fixture("server.key.pem"),
            &fixture("ca.pem"),
        ));
        let cert = c.certificate.as_ref().unwrap();
        assert!(cert
            .loaded
            .certificate
            .subject_string()
            .contains("sras-server"));
        assert!(cert.loaded.chain.is_empty());
        assert_eq!(cert.loaded.trust.cas().len(), 1);
        assert!(c.endpoint_config().certificate.is_some());
        assert!(c.endpoint_config().psk.is_empty());
        let shown = Config::parse(
            &cert_section(
                &fixture("server.pem"),
                &fixture("server.key.pem"),
                &fixture("ca.pem"),
            ),
            "t",
        )
        .unwrap()
        .to_toml();
        assert!(
            shown.contains("[ike.certificate]") && shown.contains("server.key.pem"),
            "{shown}"
        );
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");

        // A chain file (the client's certificate, then the intermediate) and a PKCS#1 key.
        let dir = std::env::temp_dir().join(format!("sras-ike-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chain = dir.join("client-chain.pem");
        let pem = |n: &str| std::fs::read_to_string(fixture(n)).unwrap();
        std::fs::write(&chain, pem("client.pem") + &pem("intermediate.pem")).unwrap();
        let c = parse(&cert_section(
            chain.to_str().unwrap(),
            &fixture("client.key.pem"),
            &fixture("ca.pem"),
        ));
        let loaded = &c.certificate.unwrap().loaded;
        assert!(loaded.certificate.subject_string().contains("CN=client"));
        assert_eq!(loaded.chain.len(), 1);
        assert!(loaded.chain[0].is_ca());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn certificate_errors_name_the_key() {
        let missing = fixture("no-such-file.pem");
        for (text, key, hint) in [
            (
                cert_section(&missing, &fixture("server.key.pem"), &fixture("ca.pem")),
                "ike.certificate.cert",
                "cannot read",
            ),
            (
                cert_section(&fixture("server.pem"), &missing, &fixture("ca.pem")),
                "ike.certificate.key",
                "cannot read",
            ),
            (
                cert_section(
                    &fixture("server.pem"),
                    &fixture("server.pem"),
                    &fixture("ca.pem"),
                ),
                "ike.certificate.key",
                "RSA private key",
            ),
            (
                cert_section(
                    &fixture("server.key.pem"),
                    &fixture("server.key.pem"),
                    &fixture("ca.pem"),
                ),
                "ike.certificate.cert",
                "PEM certificate",
            ),
            (
                cert_section(
                    &fixture("server.pem"),
                    &fixture("client.key.pem"),
                    &fixture("ca.pem"),
                ),
                "ike.certificate.key",
                "not the key of",
            ),
            (
                cert_section(
                    &fixture("server.pem"),
                    &fixture("ec-ca.key.pem"),
                    &fixture("ca.pem"),
                ),
                "ike.certificate.key",
                "RSA",
            ),
            (
                cert_section(&fixture("server.pem"), &fixture("server.key.pem"), &missing),
                "ike.certificate.ca[0]",
                "cannot read",
            ),
            (
                cert_section(
                    &fixture("server.pem"),
                    &fixture("server.key.pem"),
                    &fixture("client.pem"),
                ),
                "ike.certificate.ca[0]",
                "not a CA",
            ),
        ] {
            let e = err(&text);
            assert!(
                e.contains(&format!("{key} = ")) && e.contains(hint),
                "{text:?}: {e}"
            );
        }
        let e = err(&format!(
            "[ike]\n[ike.certificate]\ncert = \"{}\"\nkey = \"{}\"\nca = []\n",
            fixture("server.pem"),
            fixture("server.key.pem")
        ));
        assert!(e.contains("ike.certificate.ca = []"), "{e}");
    }
}
