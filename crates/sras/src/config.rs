//! The configuration file: one TOML document, validated up front (DESIGN.md, "Conventions").
//!
//! Parsing happens in two steps. [`RawFile`] mirrors the file with every key optional and
//! `deny_unknown_fields`, so a typo is an error that names the key. [`Config::from_raw`] then
//! fills in defaults and checks every value, and the first bad one becomes a
//! [`ConfigError::Invalid`] naming the key, the value and what would be valid. Numbers are read
//! as `i64` so that an out-of-range value gets the same kind of message as any other.
//!
//! Every key is documented in `docs/configuration.md`; keep the two in step.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use sras_ppp::AuthMethod;
use zeroize::Zeroizing;

use crate::pool::{PoolRange, Prefix6};

mod auth;
pub(crate) use auth::DEFAULT_USERS_FILE;
mod control;
mod ike;

pub(crate) use self::ike::IkeConfig;

/// The UDP port of L2TP (RFC 2661 §8.1), used when an address leaves it out.
pub(crate) const L2TP_PORT: u16 = 1701;

/// Ranges of the numeric keys (documented in docs/configuration.md).
const RECEIVE_WINDOW: (i64, i64) = (1, 256);
const HELLO_INTERVAL_SECS: (i64, i64) = (0, 86_400);
const RETRANSMIT_INITIAL_MS: (i64, i64) = (100, 30_000);
/// RFC 2661 §5.8: "if capped, [the timeout] must be capped at no less than 8 seconds".
const RETRANSMIT_CAP_SECS: (i64, i64) = (8, 3_600);
const MAX_RETRANSMITS: (i64, i64) = (1, 100);
/// Tunnel and Session IDs are 16 bits and never zero, so 65 535 is the most either can number.
const MAX_IDS: i64 = 65_535;
/// PPP MRU: at least the IPv4 minimum datagram every host must take (RFC 791), at most what fits
/// in an Ethernet-sized path.
const MRU: (i64, i64) = (576, 1500);
const ECHO_INTERVAL_SECS: (i64, i64) = (0, 3_600);
const ECHO_FAILURES: (i64, i64) = (1, 100);
const PING_COUNT: (i64, i64) = (0, 1_000);

/// The built-in test user (docs/configuration.md): what `sras server` accepts, and what
/// `sras connect` logs in as, when no `[[users]]` / `client.user` is configured. Public
/// knowledge: a server that keeps it lets anybody in.
pub(crate) const TEST_USER: &str = "sras-test";
/// The built-in test user's password.
pub(crate) const TEST_PASSWORD: &str = "sras-test-password";
/// The pre-shared key of the built-in defaults (published: testing only, warned at start).
pub(crate) const TEST_PSK: &str = "sras-test-psk";
/// The configuration with no file: IPsec with the built-in test key for any peer.
const BUILTIN: &str = "[[ike.psk]]\npeer = \"*\"\nsecret = \"sras-test-psk\"\n";

/// Every authentication method, by its configuration name, in the client's default order.
const METHODS: [(&str, AuthMethod); 5] = [
    ("mschapv2", AuthMethod::MsChapV2),
    ("chap-md5", AuthMethod::ChapMd5),
    ("mschapv1", AuthMethod::MsChapV1),
    ("pap", AuthMethod::Pap),
    ("eap", AuthMethod::Eap),
];

/// The configuration name of an authentication method (also used in logs).
pub(crate) fn method_name(m: AuthMethod) -> &'static str {
    METHODS
        .iter()
        .find(|(_, x)| *x == m)
        .map_or("unknown", |(n, _)| n)
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type (the TOML parser's message names
    /// the key and shows the line).
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A value out of range or inconsistent with another key.
    #[error("invalid configuration: {key} = {value}: {expected}")]
    Invalid {
        /// The key, with its section (`l2tp.receive_window`, `users[1].name`).
        key: String,
        /// The value as written (secrets are never shown).
        value: String,
        /// What would be valid.
        expected: String,
    },
}

fn invalid(
    key: impl Into<String>,
    value: impl fmt::Display,
    expected: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The file as written.

/// The file as written: every key optional, no unknown keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    l2tp: Option<RawL2tp>,
    client: Option<RawClient>,
    ppp: Option<RawPpp>,
    users: Option<Vec<RawUser>>,
    ike: Option<ike::RawIke>,
    tun: Option<RawTun>,
    control: Option<control::RawControl>,
    auth: Option<auth::RawAuth>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTun {
    enabled: Option<bool>,
    name: Option<String>,
    mtu: Option<i64>,
    routes: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawL2tp {
    listen: Option<String>,
    host_name: Option<String>,
    vendor_name: Option<String>,
    secret: Option<String>,
    challenge: Option<bool>,
    hide_avps: Option<bool>,
    receive_window: Option<i64>,
    hello_interval_secs: Option<i64>,
    retransmit_initial_ms: Option<i64>,
    retransmit_cap_secs: Option<i64>,
    max_retransmits: Option<i64>,
    data_length_bit: Option<bool>,
    redirect: Option<String>,
    float_source: Option<String>,
    plain: Option<bool>,
    limits: Option<RawLimits>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_tunnels: Option<i64>,
    max_half_open: Option<i64>,
    max_half_open_per_source: Option<i64>,
    max_sessions_per_tunnel: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    server: Option<String>,
    bind: Option<String>,
    user: Option<String>,
    password: Option<String>,
    auth: Option<Vec<String>>,
    ping_count: Option<i64>,
    ipv6: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPpp {
    local_ip: Option<String>,
    pool: Option<String>,
    dns: Option<Vec<String>>,
    nbns: Option<Vec<String>>,
    auth: Option<Vec<String>>,
    mru: Option<i64>,
    echo_interval_secs: Option<i64>,
    echo_failures: Option<i64>,
    ipv6_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: String,
    password: String,
}

impl fmt::Debug for RawUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RawUser {{ name: {:?}, password: <redacted> }}",
            self.name
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The validated configuration.

/// A shared secret: zeroized on drop, never printed.
#[derive(Clone)]
pub(crate) struct Secret(Zeroizing<String>);

impl Secret {
    /// A secret from text (tests, built-in defaults).
    pub(crate) fn new(s: &str) -> Self {
        Self(Zeroizing::new(s.to_owned()))
    }

    /// The secret's bytes, for the endpoint.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The secret as text (passwords).
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// The whole validated configuration, every default filled in.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Config {
    /// `[l2tp]`: the L2TP endpoint, for both `server` and `connect`.
    pub(crate) l2tp: L2tpConfig,
    /// `[client]`: what `connect` connects to.
    pub(crate) client: ClientConfig,
    /// `[ppp]`: the PPP links in the sessions (addresses, authentication, keepalives).
    pub(crate) ppp: PppConfig,
    /// `[[users]]`: the server's local users. Empty in the file means the built-in test user.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) users: Vec<User>,
    /// `[ike]`: IKEv1 for `sras ike`; `None` when the section is left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ike: Option<IkeConfig>,
    /// `[tun]`: the TUN device IP packets leave and enter through.
    pub(crate) tun: TunConfig,
    /// `[control]`: the server's control socket.
    pub(crate) control: control::ControlConfig,
    /// `[auth]`: the users file.
    pub(crate) auth: auth::AuthConfig,
}

/// `[tun]`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TunConfig {
    /// Create the device (without it the server only answers pings to its own PPP address).
    pub(crate) enabled: bool,
    /// Interface name; `%d` is replaced by the kernel with the first free number.
    pub(crate) name: String,
    /// MTU of the device.
    pub(crate) mtu: u16,
    /// Client: networks routed into the tunnel, as `address/prefix`.
    pub(crate) routes: Vec<String>,
    /// `routes`, parsed: the IPv4 networks.
    #[serde(skip)]
    pub(crate) parsed_routes: Vec<(Ipv4Addr, u8)>,
    /// `routes`, parsed: the IPv6 networks (used once IPv6 is up).
    #[serde(skip)]
    pub(crate) parsed_routes6: Vec<(Ipv6Addr, u8)>,
}

impl TunConfig {
    fn from_raw(r: RawTun) -> Result<Self, ConfigError> {
        let name = r.name.unwrap_or_else(|| "sras%d".to_owned());
        // IFNAMSIZ is 16 with the NUL; the kernel takes letters, digits and a few signs.
        let name_ok = !name.is_empty()
            && name.len() <= 15
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '%'));
        if !name_ok {
            return Err(invalid(
                "tun.name",
                format!("{name:?}"),
                "must be 1-15 characters: letters, digits, '-', '_', '.', and \"%d\" for a number",
            ));
        }
        let mtu = ranged("tun.mtu", r.mtu, 1400, (576, 9000))? as u16;
        let mut parsed_routes = Vec::new();
        let mut parsed_routes6 = Vec::new();
        let routes = r.routes.unwrap_or_default();
        for (i, route) in routes.iter().enumerate() {
            let v4 = route.split_once('/').and_then(|(a, p)| {
                let a: Ipv4Addr = a.parse().ok()?;
                let p: u8 = p.parse().ok().filter(|p| *p <= 32)?;
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                Some((Ipv4Addr::from(u32::from(a) & mask), p))
            });
            let v6 = route.split_once('/').and_then(|(a, p)| {
                let a: Ipv6Addr = a.parse().ok()?;
                let p: u8 = p.parse().ok().filter(|p| *p <= 128)?;
                let mask = if p == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(p))
                };
                Some((Ipv6Addr::from(u128::from(a) & mask), p))
            });
            match (v4, v6) {
                (Some(r), _) => parsed_routes.push(r),
                (None, Some(r)) => parsed_routes6.push(r),
                (None, None) => {
                    return Err(invalid(
                        format!("tun.routes[{i}]"),
                        format!("{route:?}"),
                        "must be an IPv4 or IPv6 network as address/prefix, such as \"10.0.0.0/8\" or \"2001:db8::/32\" (0.0.0.0/0 or ::/0 for everything)",
                    ))
                }
            }
        }
        Ok(Self {
            enabled: r.enabled.unwrap_or(true),
            name,
            mtu,
            routes,
            parsed_routes,
            parsed_routes6,
        })
    }
}

/// One `[[users]]` entry.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct User {
    /// The login name, as the client sends it (without any "DOMAIN\\" prefix).
    pub(crate) name: String,
    /// The password (never logged, printed as `<redacted>`).
    pub(crate) password: Secret,
}

/// A list of authentication methods, written with their configuration names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthMethods(pub(crate) Vec<AuthMethod>);

impl Serialize for AuthMethods {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|m| method_name(*m)))
    }
}

/// `[ppp]`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PppConfig {
    /// Server: our address on every link.
    pub(crate) local_ip: Ipv4Addr,
    /// Server: the addresses handed to clients.
    pub(crate) pool: PoolRange,
    /// Server: DNS servers offered (RFC 1877), at most 2.
    pub(crate) dns: Vec<Ipv4Addr>,
    /// Server: NBNS (WINS) servers offered (RFC 1877), at most 2.
    pub(crate) nbns: Vec<Ipv4Addr>,
    /// Server: the methods asked for, in order.
    pub(crate) auth: AuthMethods,
    /// MRU we offer (both roles).
    pub(crate) mru: u16,
    /// LCP Echo-Request interval in seconds; 0 = off (both roles).
    pub(crate) echo_interval_secs: u64,
    /// Unanswered echoes after which the peer is declared dead (both roles).
    pub(crate) echo_failures: u32,
    /// Server: IPv6 on (IPv6CP); each link gets a /64 of this prefix by Router Advertisement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ipv6_prefix: Option<Prefix6>,
}

/// `[l2tp]`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct L2tpConfig {
    /// UDP address the server listens on.
    pub(crate) listen: SocketAddr,
    /// Host Name AVP we send.
    pub(crate) host_name: String,
    /// Vendor Name AVP we send; empty means none is sent.
    pub(crate) vendor_name: String,
    /// Tunnel secret (tunnel authentication, hidden AVPs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) secret: Option<Secret>,
    /// Challenge the peer (RFC 2661 §5.1.1).
    pub(crate) challenge: bool,
    /// Hide the AVPs that may be hidden (RFC 2661 §4.3).
    pub(crate) hide_avps: bool,
    /// Receive Window Size we advertise.
    pub(crate) receive_window: u16,
    /// Hello interval in seconds; 0 disables Hellos.
    pub(crate) hello_interval_secs: u64,
    /// First retransmission timeout, milliseconds.
    pub(crate) retransmit_initial_ms: u64,
    /// Cap on the retransmission timeout, seconds.
    pub(crate) retransmit_cap_secs: u64,
    /// Retransmissions before a tunnel is given up.
    pub(crate) max_retransmits: u32,
    /// Set the L bit on data messages.
    pub(crate) data_length_bit: bool,
    /// Answer every SCCRQ with StopCCN "Try Another" naming this address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) redirect: Option<IpAddr>,
    /// Answer new tunnels from this local address (RFC 3193 §4 port float).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) float_source: Option<SocketAddr>,
    /// Accept L2TP outside IPsec on `listen` (troubleshooting only: not a VPN; warned).
    pub(crate) plain: bool,
    /// `[l2tp.limits]`.
    pub(crate) limits: Limits,
}

/// `[l2tp.limits]`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Limits {
    /// Tunnels in any state.
    pub(crate) max_tunnels: usize,
    /// Responder tunnels not yet established.
    pub(crate) max_half_open: usize,
    /// Responder tunnels not yet established, per source address.
    pub(crate) max_half_open_per_source: usize,
    /// Sessions in one tunnel.
    pub(crate) max_sessions_per_tunnel: usize,
}

/// `[client]`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClientConfig {
    /// The server, as `host:port` (the port filled in), resolved when `connect` starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) server: Option<String>,
    /// Local UDP address `connect` sends from.
    pub(crate) bind: SocketAddr,
    /// The PPP user name `connect` logs in with.
    pub(crate) user: String,
    /// Its password (zeroized, never logged, printed as `<redacted>`).
    pub(crate) password: Secret,
    /// The authentication methods `connect` accepts, in preference order.
    pub(crate) auth: AuthMethods,
    /// ICMP echo requests sent to the server's PPP address once the link is up.
    pub(crate) ping_count: u32,
    /// Ask for IPv6 too (IPv6CP, then an address from the server's Router Advertisement).
    pub(crate) ipv6: bool,
    /// `user` was left out: the built-in test user is used.
    #[serde(skip)]
    pub(crate) builtin_user: bool,
}

/// Which side of the protocol the endpoint plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `sras server`: LNS, accepts tunnels and incoming calls.
    Server,
    /// `sras connect`: LAC, opens a tunnel and places an incoming call.
    Client,
}

impl Config {
    /// The built-in defaults: what `sras server` runs with when no file is given.
    pub(crate) fn builtin() -> Self {
        Self::parse(BUILTIN, "<built-in defaults>").expect("the built-in defaults are valid")
    }

    /// Reads and validates `path`.
    pub(crate) fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        // The file holds the secret: zeroize our copy of its text too.
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: shown.clone(),
                    source,
                })?,
            );
        Self::parse(&text, &shown)
    }

    /// Parses and validates TOML `text`; `origin` names it in errors.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawFile) -> Result<Self, ConfigError> {
        let l2tp = L2tpConfig::from_raw(raw.l2tp.unwrap_or_default())?;
        let client = ClientConfig::from_raw(raw.client.unwrap_or_default())?;
        let ppp = PppConfig::from_raw(raw.ppp.unwrap_or_default())?;
        let users = match raw.users {
            None => Vec::new(),
            Some(list) => users_from_raw(list)?,
        };
        let ike = raw.ike.map(IkeConfig::from_raw).transpose()?;
        let tun = TunConfig::from_raw(raw.tun.unwrap_or_default())?;
        let control = control::ControlConfig::from_raw(raw.control.unwrap_or_default())?;
        let auth = auth::AuthConfig::from_raw(raw.auth.unwrap_or_default())?;
        Ok(Self {
            tun,
            control,
            auth,
            l2tp,
            client,
            ppp,
            users,
            ike,
        })
    }

    /// The server's control socket path.
    pub(crate) fn control_socket(&self) -> std::path::PathBuf {
        self.control.socket.clone()
    }

    /// The server's user store: the `[[users]]` and the users file (`auth.users_file`), or
    /// the built-in test user while neither has one. An unsafe or invalid users file is an
    /// error.
    pub(crate) fn user_store(&self) -> Result<crate::users::Users, String> {
        crate::users::Users::new(self.users.clone(), Some(&self.auth.users_file))
    }

    /// The `sras-ppp` link configuration every link of `role` starts from (the caller sets
    /// `rng_seed` per link).
    pub(crate) fn link_config(&self, role: Role) -> sras_ppp::LinkConfig {
        let p = &self.ppp;
        let pair = |v: &[Ipv4Addr]| [v.first().copied(), v.get(1).copied()];
        let echo_interval =
            (p.echo_interval_secs > 0).then(|| Duration::from_secs(p.echo_interval_secs));
        let base = sras_ppp::LinkConfig {
            mru: p.mru,
            name: self.l2tp.host_name.clone(),
            echo_interval,
            echo_failures: p.echo_failures,
            ..sras_ppp::LinkConfig::default()
        };
        match role {
            Role::Server => sras_ppp::LinkConfig {
                role: sras_ppp::Role::Server,
                auth_methods: p.auth.0.clone(),
                local_ipv4: Some(p.local_ip),
                ipv6: p.ipv6_prefix.is_some(),
                dns: pair(&p.dns),
                nbns: pair(&p.nbns),
                ..base
            },
            Role::Client => sras_ppp::LinkConfig {
                role: sras_ppp::Role::Client,
                auth_methods: self.client.auth.0.clone(),
                user: self.client.user.clone(),
                password: Zeroizing::new(self.client.password.as_str().to_owned()),
                ipv6: self.client.ipv6,
                ..base
            },
        }
    }

    /// The effective configuration as TOML (the secret shown as `<redacted>`).
    pub(crate) fn to_toml(&self) -> String {
        toml::to_string(self)
            .unwrap_or_else(|e| format!("# cannot render the configuration: {e}\n"))
    }

    /// The `sras-l2tp` endpoint configuration for `role`, with the RNG seeded by `rng_seed`.
    pub(crate) fn endpoint_config(&self, role: Role, rng_seed: [u8; 32]) -> sras_l2tp::Config {
        let l = &self.l2tp;
        let server = role == Role::Server;
        sras_l2tp::Config {
            host_name: l.host_name.clone(),
            vendor_name: (!l.vendor_name.is_empty()).then(|| l.vendor_name.clone()),
            secret: l.secret.as_ref().map(|s| s.as_bytes().to_vec()),
            challenge: l.challenge,
            hide_avps: l.hide_avps,
            receive_window: l.receive_window,
            retransmit_initial: Duration::from_millis(l.retransmit_initial_ms),
            retransmit_cap: Duration::from_secs(l.retransmit_cap_secs),
            max_retransmits: l.max_retransmits,
            hello_interval: (l.hello_interval_secs > 0)
                .then(|| Duration::from_secs(l.hello_interval_secs)),
            // The server is an LNS: it takes tunnels and incoming calls. The client opens its
            // own tunnel and places its own call; it answers nothing.
            accept_tunnels: server,
            accept_incoming_calls: server,
            accept_outgoing_calls: false,
            redirect: if server { l.redirect } else { None },
            float_source: if server { l.float_source } else { None },
            max_tunnels: l.limits.max_tunnels,
            max_half_open: l.limits.max_half_open,
            max_half_open_per_source: l.limits.max_half_open_per_source,
            max_sessions_per_tunnel: l.limits.max_sessions_per_tunnel,
            data_length_bit: l.data_length_bit,
            rng_seed,
            ..sras_l2tp::Config::default()
        }
    }
}

fn ranged(
    key: &'static str,
    value: Option<i64>,
    default: i64,
    (lo, hi): (i64, i64),
) -> Result<i64, ConfigError> {
    let v = value.unwrap_or(default);
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(
            key,
            v,
            format!("must be an integer in {lo}..={hi}"),
        ))
    }
}

fn text_field(key: &str, v: &str, allow_empty: bool) -> Result<(), ConfigError> {
    if !allow_empty && v.is_empty() {
        return Err(invalid(key, "\"\"", "must not be empty"));
    }
    if v.len() > 255 {
        return Err(invalid(key, format!("{v:?}"), "must be at most 255 bytes"));
    }
    if v.chars().any(char::is_control) {
        return Err(invalid(
            key,
            format!("{v:?}"),
            "must not contain control characters",
        ));
    }
    Ok(())
}

impl L2tpConfig {
    fn from_raw(r: RawL2tp) -> Result<Self, ConfigError> {
        let d = sras_l2tp::Config::default();

        let listen = match r.listen {
            None => SocketAddr::from(([0, 0, 0, 0], L2TP_PORT)),
            Some(s) => s.parse().map_err(|_| {
                invalid(
                    "l2tp.listen",
                    format!("{s:?}"),
                    "must be an IP address and UDP port, such as \"0.0.0.0:1701\" or \"[::]:1701\"",
                )
            })?,
        };

        let host_name = r.host_name.unwrap_or_else(|| d.host_name.clone());
        text_field("l2tp.host_name", &host_name, false)?;
        let vendor_name = r
            .vendor_name
            .unwrap_or_else(|| d.vendor_name.clone().unwrap_or_default());
        text_field("l2tp.vendor_name", &vendor_name, true)?;

        let secret = r.secret.map(|s| Secret(Zeroizing::new(s)));
        if let Some(s) = &secret {
            if s.0.is_empty() {
                return Err(invalid(
                    "l2tp.secret",
                    "\"\"",
                    "must not be empty; leave the key out for no secret",
                ));
            }
            if s.0.len() > 1024 {
                return Err(invalid(
                    "l2tp.secret",
                    "<redacted>",
                    "must be at most 1024 bytes",
                ));
            }
        }
        let challenge = r.challenge.unwrap_or(false);
        if challenge && secret.is_none() {
            return Err(invalid(
                "l2tp.challenge",
                true,
                "requires l2tp.secret (tunnel authentication needs a shared secret)",
            ));
        }
        let hide_avps = r.hide_avps.unwrap_or(false);
        if hide_avps && secret.is_none() {
            return Err(invalid(
                "l2tp.hide_avps",
                true,
                "requires l2tp.secret (hidden AVPs are encrypted with it)",
            ));
        }

        let receive_window = ranged(
            "l2tp.receive_window",
            r.receive_window,
            d.receive_window.into(),
            RECEIVE_WINDOW,
        )?;
        let hello_interval_secs = ranged(
            "l2tp.hello_interval_secs",
            r.hello_interval_secs,
            d.hello_interval.map_or(0, |h| h.as_secs() as i64),
            HELLO_INTERVAL_SECS,
        )?;
        let retransmit_initial_ms = ranged(
            "l2tp.retransmit_initial_ms",
            r.retransmit_initial_ms,
            d.retransmit_initial.as_millis() as i64,
            RETRANSMIT_INITIAL_MS,
        )?;
        let retransmit_cap_secs = ranged("l2tp.retransmit_cap_secs", r.retransmit_cap_secs, d.retransmit_cap.as_secs() as i64, RETRANSMIT_CAP_SECS)
            .map_err(|e| match e {
                ConfigError::Invalid { key, value, expected } => ConfigError::Invalid {
                    key,
                    value,
                    expected: format!("{expected} (RFC 2661 §5.8: a capped retransmission timeout must be at least 8 seconds)"),
                },
                e => e,
            })?;
        if retransmit_cap_secs * 1000 < retransmit_initial_ms {
            return Err(invalid(
                "l2tp.retransmit_cap_secs",
                retransmit_cap_secs,
                format!(
                    "must not be below l2tp.retransmit_initial_ms ({retransmit_initial_ms} ms)"
                ),
            ));
        }
        let max_retransmits = ranged(
            "l2tp.max_retransmits",
            r.max_retransmits,
            d.max_retransmits.into(),
            MAX_RETRANSMITS,
        )?;

        let redirect = match r.redirect {
            None => None,
            Some(s) => Some(s.parse::<IpAddr>().map_err(|_| {
                invalid(
                    "l2tp.redirect",
                    format!("{s:?}"),
                    "must be an IP address (no port), such as \"192.0.2.10\"",
                )
            })?),
        };

        let float_source = match r.float_source {
            None => None,
            Some(s) => Some(s.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    "l2tp.float_source",
                    format!("{s:?}"),
                    "must be an IP address and UDP port to answer from, such as \"192.0.2.1:1702\"",
                )
            })?),
        };
        if let Some(fs) = float_source {
            if fs.port() == 0 || fs.ip().is_unspecified() {
                return Err(invalid(
                    "l2tp.float_source",
                    format!("\"{fs}\""),
                    "needs a specific IP address and a non-zero port (the peers send to it)",
                ));
            }
        }

        let rl = r.limits.unwrap_or_default();
        let max_tunnels = ranged(
            "l2tp.limits.max_tunnels",
            rl.max_tunnels,
            d.max_tunnels as i64,
            (1, MAX_IDS),
        )?;
        let max_half_open = ranged(
            "l2tp.limits.max_half_open",
            rl.max_half_open,
            (d.max_half_open as i64).min(max_tunnels),
            (1, max_tunnels),
        )
        .map_err(|e| explain_bound(e, "l2tp.limits.max_tunnels"))?;
        let max_half_open_per_source = ranged(
            "l2tp.limits.max_half_open_per_source",
            rl.max_half_open_per_source,
            (d.max_half_open_per_source as i64).min(max_half_open),
            (1, max_half_open),
        )
        .map_err(|e| explain_bound(e, "l2tp.limits.max_half_open"))?;
        let max_sessions_per_tunnel = ranged(
            "l2tp.limits.max_sessions_per_tunnel",
            rl.max_sessions_per_tunnel,
            d.max_sessions_per_tunnel as i64,
            (1, MAX_IDS),
        )?;

        Ok(Self {
            listen,
            host_name,
            vendor_name,
            secret,
            challenge,
            hide_avps,
            receive_window: receive_window as u16,
            hello_interval_secs: hello_interval_secs as u64,
            retransmit_initial_ms: retransmit_initial_ms as u64,
            retransmit_cap_secs: retransmit_cap_secs as u64,
            max_retransmits: max_retransmits as u32,
            data_length_bit: r.data_length_bit.unwrap_or(d.data_length_bit),
            plain: r.plain.unwrap_or(false),
            redirect,
            float_source,
            limits: Limits {
                max_tunnels: max_tunnels as usize,
                max_half_open: max_half_open as usize,
                max_half_open_per_source: max_half_open_per_source as usize,
                max_sessions_per_tunnel: max_sessions_per_tunnel as usize,
            },
        })
    }
}

/// Adds "the upper bound is `bound`" to a range error whose upper bound is another key.
fn explain_bound(e: ConfigError, bound: &str) -> ConfigError {
    match e {
        ConfigError::Invalid {
            key,
            value,
            expected,
        } => ConfigError::Invalid {
            key,
            value,
            expected: format!("{expected} (the upper bound is {bound})"),
        },
        e => e,
    }
}

impl ClientConfig {
    fn from_raw(r: RawClient) -> Result<Self, ConfigError> {
        let server = r
            .server
            .map(|s| normalize_server("client.server", &s))
            .transpose()?;
        let bind = match r.bind {
            None => SocketAddr::from(([0, 0, 0, 0], 0)),
            Some(s) => s.parse().map_err(|_| {
                invalid(
                    "client.bind",
                    format!("{s:?}"),
                    "must be an IP address and UDP port, such as \"0.0.0.0:0\" (any port)",
                )
            })?,
        };
        let builtin_user = r.user.is_none();
        let user = r.user.unwrap_or_else(|| TEST_USER.to_owned());
        text_field("client.user", &user, false)?;
        let password = match r.password {
            Some(_) if builtin_user => {
                return Err(invalid(
                    "client.password",
                    "<redacted>",
                    "requires client.user (without both, the built-in test user logs in)",
                ))
            }
            Some(p) => Secret(Zeroizing::new(p)),
            None if builtin_user => Secret::new(TEST_PASSWORD),
            None => {
                return Err(invalid(
                    "client.password",
                    "(missing)",
                    "must be set when client.user is",
                ))
            }
        };
        check_password("client.password", &password)?;
        let auth = match r.auth {
            None => AuthMethods(METHODS.iter().map(|(_, m)| *m).collect()),
            Some(list) => auth_methods("client.auth", &list)?,
        };
        let ping_count = ranged("client.ping_count", r.ping_count, 3, PING_COUNT)?;
        Ok(Self {
            server,
            bind,
            user,
            password,
            auth,
            ping_count: ping_count as u32,
            ipv6: r.ipv6.unwrap_or(false),
            builtin_user,
        })
    }
}

/// Checks a PPP password (MS-CHAP takes at most 256 characters, RFC 2759 §8).
fn check_password(key: &str, p: &Secret) -> Result<(), ConfigError> {
    if p.0.is_empty() {
        return Err(invalid(key, "\"\"", "must not be empty"));
    }
    if p.0.chars().count() > 256 {
        return Err(invalid(
            key,
            "<redacted>",
            "must be at most 256 characters (the MS-CHAP limit, RFC 2759 §8)",
        ));
    }
    Ok(())
}

/// Parses a list of authentication method names: known, not repeated, not empty.
fn auth_methods(key: &'static str, list: &[String]) -> Result<AuthMethods, ConfigError> {
    let names = || {
        METHODS
            .iter()
            .map(|(n, _)| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if list.is_empty() {
        return Err(invalid(
            key,
            "[]",
            format!("must name at least one method of {}", names()),
        ));
    }
    let mut out = Vec::new();
    for name in list {
        let Some(&(_, m)) = METHODS.iter().find(|(n, _)| n == name) else {
            return Err(invalid(
                key,
                format!("{list:?}"),
                format!("unknown method {name:?}: each must be one of {}", names()),
            ));
        };
        if out.contains(&m) {
            return Err(invalid(
                key,
                format!("{list:?}"),
                format!("{name:?} is listed twice"),
            ));
        }
        out.push(m);
    }
    Ok(AuthMethods(out))
}

/// Whether `a` can be a host's address on a link (not 0.0.0.0, loopback, multicast, broadcast).
fn is_host_address(a: Ipv4Addr) -> bool {
    !(a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast())
}

/// Parses an IPv4 host address.
fn host_ipv4(key: &str, s: &str) -> Result<Ipv4Addr, ConfigError> {
    match s.parse::<Ipv4Addr>() {
        Ok(a) if is_host_address(a) => Ok(a),
        Ok(_) => Err(invalid(
            key,
            format!("{s:?}"),
            "must be a unicast IPv4 address (not 0.0.0.0, loopback, multicast or broadcast)",
        )),
        Err(_) => Err(invalid(
            key,
            format!("{s:?}"),
            "must be an IPv4 address, such as \"198.51.100.53\"",
        )),
    }
}

/// Parses a list of at most two name-server addresses.
fn name_servers(key: &'static str, list: &[String]) -> Result<Vec<Ipv4Addr>, ConfigError> {
    if list.len() > 2 {
        return Err(invalid(
            key,
            format!("{list:?}"),
            "must list at most 2 addresses (IPCP carries a primary and a secondary, RFC 1877)",
        ));
    }
    list.iter().map(|s| host_ipv4(key, s)).collect()
}

impl PppConfig {
    fn from_raw(r: RawPpp) -> Result<Self, ConfigError> {
        let local_ip = match &r.local_ip {
            None => DEFAULT_LOCAL_IP,
            Some(s) => host_ipv4("ppp.local_ip", s)?,
        };
        let pool_text = r.pool.as_deref().unwrap_or(DEFAULT_POOL);
        let pool: PoolRange = pool_text.parse().map_err(|why| {
            invalid(
                "ppp.pool",
                format!("{pool_text:?}"),
                format!(
                    "{why}; write it as \"FIRST-LAST\", such as \"198.51.100.10-198.51.100.250\""
                ),
            )
        })?;
        for a in [pool.first(), pool.last()] {
            if !is_host_address(a) {
                return Err(invalid(
                    "ppp.pool",
                    format!("{pool_text:?}"),
                    "must hold unicast IPv4 addresses only (not 0.0.0.0, loopback, multicast or broadcast)",
                ));
            }
        }
        if pool.contains(local_ip) {
            return Err(invalid(
                "ppp.local_ip",
                format!("\"{local_ip}\""),
                format!("must not be inside ppp.pool ({pool})"),
            ));
        }
        let dns = name_servers("ppp.dns", r.dns.as_deref().unwrap_or_default())?;
        let nbns = name_servers("ppp.nbns", r.nbns.as_deref().unwrap_or_default())?;
        let auth = match &r.auth {
            None => AuthMethods(vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5]),
            Some(list) => auth_methods("ppp.auth", list)?,
        };
        let mru = ranged("ppp.mru", r.mru, 1400, MRU)?;
        let echo_interval_secs = ranged(
            "ppp.echo_interval_secs",
            r.echo_interval_secs,
            30,
            ECHO_INTERVAL_SECS,
        )?;
        let echo_failures = ranged("ppp.echo_failures", r.echo_failures, 4, ECHO_FAILURES)?;
        let ipv6_prefix = r
            .ipv6_prefix
            .map(|t| {
                t.parse::<Prefix6>().map_err(|why| {
                    invalid(
                        "ppp.ipv6_prefix",
                        format!("{t:?}"),
                        format!("{why}; such as \"fd00:5a5a:1::/48\" (a /64 for each link)"),
                    )
                })
            })
            .transpose()?;
        Ok(Self {
            local_ip,
            pool,
            dns,
            nbns,
            auth,
            mru: mru as u16,
            echo_interval_secs: echo_interval_secs as u64,
            echo_failures: echo_failures as u32,
            ipv6_prefix,
        })
    }
}

/// The default `ppp.local_ip` (RFC 5737 TEST-NET-2: harmless until there is routing).
const DEFAULT_LOCAL_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The default `ppp.pool`.
const DEFAULT_POOL: &str = "198.51.100.10-198.51.100.250";

/// The users file (`sras user add`): `[[users]]` entries as in the configuration, checked
/// the same way; no entry at all is fine. `origin` names the file in errors.
pub(crate) fn parse_users_file(text: &str, origin: &str) -> Result<Vec<User>, ConfigError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct UsersFile {
        users: Option<Vec<RawUser>>,
    }
    let f: UsersFile = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: origin.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    match f.users {
        Some(list) if !list.is_empty() => users_from_raw(list).map_err(|e| match e {
            ConfigError::Invalid {
                key,
                value,
                expected,
            } => ConfigError::Invalid {
                key: format!("{key} in {origin}"),
                value,
                expected,
            },
            other => other,
        }),
        _ => Ok(Vec::new()),
    }
}

/// One user for the users file (`sras user add`), checked as a `[[users]]` entry is.
pub(crate) fn check_password_text(name: &str, password: &str) -> Result<User, ConfigError> {
    let raw = RawUser {
        name: name.to_owned(),
        password: password.to_owned(),
    };
    let mut users = users_from_raw(vec![raw]).map_err(|e| match e {
        ConfigError::Invalid {
            key,
            value,
            expected,
        } => ConfigError::Invalid {
            key: key.replace("users[0].", "user "),
            value,
            expected,
        },
        other => other,
    })?;
    users.pop().ok_or_else(|| invalid("user", name, "missing"))
}

fn users_from_raw(list: Vec<RawUser>) -> Result<Vec<User>, ConfigError> {
    if list.is_empty() {
        return Err(invalid(
            "users",
            "[]",
            "must have at least one entry; leave [[users]] out to use the built-in test user",
        ));
    }
    let mut users: Vec<User> = Vec::with_capacity(list.len());
    for (i, u) in list.into_iter().enumerate() {
        text_field(&format!("users[{i}].name"), &u.name, false)?;
        if u.name.contains('\\') {
            return Err(invalid(
                format!("users[{i}].name"),
                format!("{:?}", u.name),
                "must not contain '\\' (a \"DOMAIN\\\" prefix the client sends is ignored when matching)",
            ));
        }
        if users.iter().any(|x| x.name == u.name) {
            return Err(invalid(
                format!("users[{i}].name"),
                format!("{:?}", u.name),
                "is defined twice",
            ));
        }
        let password = Secret(Zeroizing::new(u.password));
        check_password(&format!("users[{i}].password"), &password)?;
        users.push(User {
            name: u.name,
            password,
        });
    }
    Ok(users)
}

/// Checks a server address (`IP`, `IP:port`, `[v6]:port`, `host` or `host:port`) and returns it
/// as `host:port` with the L2TP port filled in. Host names are resolved later, at connect time.
pub(crate) fn normalize_server(key: &'static str, s: &str) -> Result<String, ConfigError> {
    let expected = "must be an IP address or host name with an optional UDP port (default 1701), such as \"192.0.2.1\", \"192.0.2.1:1701\", \"[2001:db8::1]:1701\" or \"lns.example.net\"";
    if let Ok(a) = s.parse::<SocketAddr>() {
        if a.port() == 0 {
            return Err(invalid(key, format!("{s:?}"), "the port must not be 0"));
        }
        return Ok(a.to_string());
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, L2TP_PORT).to_string());
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => match p.parse::<u16>() {
            Ok(p) if p != 0 => (h, p),
            _ => return Err(invalid(key, format!("{s:?}"), expected)),
        },
        None => (s, L2TP_PORT),
    };
    let valid_host = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid_host {
        return Err(invalid(key, format!("{s:?}"), expected));
    }
    Ok(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match Config::parse(text, "test.toml") {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_file_is_the_defaults() {
        let c = Config::parse("", "empty").unwrap();
        assert_eq!(c.l2tp.listen, "0.0.0.0:1701".parse().unwrap());
        assert_eq!(c.l2tp.host_name, "sras");
        assert_eq!(c.l2tp.receive_window, 8);
        assert_eq!(c.l2tp.hello_interval_secs, 60);
        assert!(c.l2tp.secret.is_none());
        assert!(c.client.server.is_none());
        let e = c.endpoint_config(Role::Server, [7; 32]);
        assert!(e.accept_tunnels && e.accept_incoming_calls && !e.accept_outgoing_calls);
        assert_eq!(e.rng_seed, [7; 32]);
        let e = c.endpoint_config(Role::Client, [0; 32]);
        assert!(!e.accept_tunnels && !e.accept_incoming_calls);
    }

    #[test]
    fn examples_are_valid() {
        let s = Config::parse(
            include_str!("../../../examples/server.toml"),
            "examples/server.toml",
        )
        .unwrap();
        assert_eq!(s.l2tp.listen.port(), 1701);
        let c = Config::parse(
            include_str!("../../../examples/client.toml"),
            "examples/client.toml",
        )
        .unwrap();
        assert!(c.client.server.is_some());
        let i = Config::parse(
            include_str!("../../../examples/ike.toml"),
            "examples/ike.toml",
        )
        .unwrap();
        assert_eq!(i.ike.unwrap().psk.len(), 2);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = err("[l2tp]\nrecieve_window = 4\n");
        assert!(e.contains("recieve_window"), "{e}");
        let e = err("[l2pt]\n");
        assert!(e.contains("l2pt"), "{e}");
        let e = err("[l2tp.limits]\nmax_tunels = 3\n");
        assert!(e.contains("max_tunels"), "{e}");
    }

    #[test]
    fn wrong_type_shows_the_line() {
        let e = err("[l2tp]\nchallenge = \"yes\"\n");
        assert!(e.contains("challenge"), "{e}");
    }

    #[test]
    fn ranges_name_the_key_value_and_range() {
        let e = err("[l2tp]\nreceive_window = 0\n");
        assert!(
            e.contains("l2tp.receive_window = 0") && e.contains("1..=256"),
            "{e}"
        );
        let e = err("[l2tp]\nreceive_window = 70000\n");
        assert!(e.contains("l2tp.receive_window = 70000"), "{e}");
        let e = err("[l2tp]\nretransmit_cap_secs = 4\n");
        assert!(
            e.contains("l2tp.retransmit_cap_secs = 4") && e.contains("8 seconds"),
            "{e}"
        );
        let e = err("[l2tp]\nretransmit_initial_ms = 20000\nretransmit_cap_secs = 10\n");
        assert!(
            e.contains("l2tp.retransmit_cap_secs = 10") && e.contains("retransmit_initial_ms"),
            "{e}"
        );
        let e = err("[l2tp]\nmax_retransmits = -1\n");
        assert!(e.contains("l2tp.max_retransmits = -1"), "{e}");
        let e = err("[l2tp]\nhello_interval_secs = 100000\n");
        assert!(e.contains("l2tp.hello_interval_secs"), "{e}");
        let e = err("[l2tp.limits]\nmax_tunnels = 10\nmax_half_open = 20\n");
        assert!(
            e.contains("l2tp.limits.max_half_open = 20") && e.contains("max_tunnels"),
            "{e}"
        );
        let e = err("[l2tp.limits]\nmax_sessions_per_tunnel = 0\n");
        assert!(e.contains("l2tp.limits.max_sessions_per_tunnel = 0"), "{e}");
    }

    #[test]
    fn small_limits_lower_the_derived_defaults() {
        let c = Config::parse("[l2tp.limits]\nmax_tunnels = 4\n", "t").unwrap();
        assert_eq!(c.l2tp.limits.max_half_open, 4);
        assert_eq!(c.l2tp.limits.max_half_open_per_source, 4);
    }

    #[test]
    fn addresses() {
        let e = err("[l2tp]\nlisten = \"1701\"\n");
        assert!(
            e.contains("l2tp.listen = \"1701\"") && e.contains("0.0.0.0:1701"),
            "{e}"
        );
        let e = err("[l2tp]\nredirect = \"192.0.2.9:1701\"\n");
        assert!(e.contains("l2tp.redirect"), "{e}");
        let e = err("[client]\nserver = \"bad host:x\"\n");
        assert!(e.contains("client.server"), "{e}");
        let e = err("[client]\nbind = \"nowhere\"\n");
        assert!(e.contains("client.bind"), "{e}");
        for (given, want) in [
            ("192.0.2.1", "192.0.2.1:1701"),
            ("192.0.2.1:17", "192.0.2.1:17"),
            ("2001:db8::1", "[2001:db8::1]:1701"),
            ("[2001:db8::1]:99", "[2001:db8::1]:99"),
            ("lns.example.net", "lns.example.net:1701"),
            ("lns:1702", "lns:1702"),
        ] {
            assert_eq!(normalize_server("k", given).unwrap(), want, "{given}");
        }
        assert!(normalize_server("k", "host:0").is_err());
        assert!(normalize_server("k", "").is_err());
    }

    #[test]
    fn secret_rules_and_redaction() {
        let e = err("[l2tp]\nchallenge = true\n");
        assert!(
            e.contains("l2tp.challenge = true") && e.contains("l2tp.secret"),
            "{e}"
        );
        let e = err("[l2tp]\nhide_avps = true\n");
        assert!(
            e.contains("l2tp.hide_avps = true") && e.contains("l2tp.secret"),
            "{e}"
        );
        let e = err("[l2tp]\nsecret = \"\"\n");
        assert!(e.contains("l2tp.secret"), "{e}");
        let long = "x".repeat(2000);
        let e = err(&format!("[l2tp]\nsecret = \"{long}\"\n"));
        assert!(e.contains("l2tp.secret") && !e.contains(&long), "{e}");

        let c = Config::parse(
            "[l2tp]\nsecret = \"hunter2\"\nchallenge = true\nhide_avps = true\n",
            "t",
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let shown = c.to_toml();
        assert!(
            !shown.contains("hunter2") && shown.contains("<redacted>"),
            "{shown}"
        );
        let e = c.endpoint_config(Role::Server, [0; 32]);
        assert_eq!(e.secret.as_deref(), Some(&b"hunter2"[..]));
        assert!(e.challenge && e.hide_avps);
    }

    #[test]
    fn effective_config_round_trips() {
        let c = Config::parse("[l2tp]\nhello_interval_secs = 0\nredirect = \"192.0.2.9\"\nvendor_name = \"\"\n[client]\nserver = \"192.0.2.1\"\n", "t")
            .unwrap();
        let shown = c.to_toml();
        let again = Config::parse(&shown, "shown").unwrap();
        assert_eq!(again.to_toml(), shown);
        let e = again.endpoint_config(Role::Server, [0; 32]);
        assert_eq!(e.hello_interval, None);
        assert_eq!(e.vendor_name, None);
        assert_eq!(e.redirect, Some("192.0.2.9".parse().unwrap()));
        assert_eq!(again.endpoint_config(Role::Client, [0; 32]).redirect, None);
    }

    #[test]
    fn float_source() {
        let c = Config::parse("[l2tp]\nfloat_source = \"192.0.2.1:1702\"\n", "t").unwrap();
        let want = Some("192.0.2.1:1702".parse().unwrap());
        assert_eq!(c.endpoint_config(Role::Server, [0; 32]).float_source, want);
        assert_eq!(c.endpoint_config(Role::Client, [0; 32]).float_source, None);
        let e = err("[l2tp]\nfloat_source = \"0.0.0.0:1702\"\n");
        assert!(e.contains("l2tp.float_source"), "{e}");
        let e = err("[l2tp]\nfloat_source = \"192.0.2.1\"\n");
        assert!(e.contains("l2tp.float_source"), "{e}");
    }

    #[test]
    fn text_fields() {
        let e = err("[l2tp]\nhost_name = \"\"\n");
        assert!(e.contains("l2tp.host_name"), "{e}");
        let e = err("[l2tp]\nhost_name = \"a\\nb\"\n");
        assert!(e.contains("l2tp.host_name") && e.contains("control"), "{e}");
    }

    #[test]
    fn ppp_and_client_defaults() {
        let c = Config::parse("", "empty").unwrap();
        let p = &c.ppp;
        assert_eq!(p.local_ip, Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(p.pool.to_string(), "198.51.100.10-198.51.100.250");
        assert!(p.dns.is_empty() && p.nbns.is_empty());
        assert_eq!(p.auth.0, [AuthMethod::MsChapV2, AuthMethod::ChapMd5]);
        assert_eq!(
            (p.mru, p.echo_interval_secs, p.echo_failures),
            (1400, 30, 4)
        );
        assert!(c.users.is_empty());
        assert_eq!(c.auth.users_file, Path::new(DEFAULT_USERS_FILE));
        let mut store = crate::users::Users::new(Vec::new(), None).unwrap();
        assert!(store.is_builtin());
        assert_eq!(store.len(), 1);
        assert_eq!(
            store
                .lookup(crate::driver::now(), TEST_USER)
                .unwrap()
                .password
                .as_str(),
            TEST_PASSWORD
        );

        let cl = &c.client;
        assert!(cl.builtin_user);
        assert_eq!(
            (cl.user.as_str(), cl.password.as_str()),
            (TEST_USER, TEST_PASSWORD)
        );
        assert_eq!(cl.auth.0.len(), 5);
        assert_eq!(cl.auth.0[0], AuthMethod::MsChapV2);
        assert_eq!(cl.ping_count, 3);
    }

    #[test]
    fn link_configs_for_both_roles() {
        let c = Config::parse(
            "[l2tp]\nhost_name = \"lns7\"\n[ppp]\nlocal_ip = \"10.0.0.1\"\npool = \"10.0.0.10-10.0.0.20\"\ndns = [\"10.0.0.53\", \"10.0.0.54\"]\nnbns = [\"10.0.0.137\"]\nauth = [\"pap\", \"eap\"]\nmru = 1300\necho_interval_secs = 0\necho_failures = 9\n[client]\nuser = \"alice\"\npassword = \"pw\"\nauth = [\"chap-md5\"]\n",
            "t",
        )
        .unwrap();
        let s = c.link_config(Role::Server);
        assert_eq!(s.role, sras_ppp::Role::Server);
        assert_eq!(s.local_ipv4, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(
            s.dns,
            [
                Some(Ipv4Addr::new(10, 0, 0, 53)),
                Some(Ipv4Addr::new(10, 0, 0, 54))
            ]
        );
        assert_eq!(s.nbns, [Some(Ipv4Addr::new(10, 0, 0, 137)), None]);
        assert_eq!(s.auth_methods, [AuthMethod::Pap, AuthMethod::Eap]);
        assert_eq!((s.mru, s.echo_interval, s.echo_failures), (1300, None, 9));
        assert_eq!(s.name, "lns7");
        let cl = c.link_config(Role::Client);
        assert_eq!(cl.role, sras_ppp::Role::Client);
        assert_eq!((cl.user.as_str(), cl.password.as_str()), ("alice", "pw"));
        assert_eq!(cl.auth_methods, [AuthMethod::ChapMd5]);
        assert_eq!(cl.local_ipv4, None);
        assert_eq!(cl.mru, 1300);
        assert!(!c.client.builtin_user);
        assert!(!s.ipv6 && !cl.ipv6, "IPv6 is off unless configured");
    }

    #[test]
    fn ipv6_is_on_with_a_prefix_or_client_ipv6() {
        let c = Config::parse(
            "[ppp]\nipv6_prefix = \"fd00:5a5a:1:7::/48\"\n[client]\nipv6 = true\n[tun]\nroutes = [\"10.1.0.0/16\", \"2001:db8:5::1/48\", \"::/0\"]\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.ppp.ipv6_prefix.unwrap().to_string(), "fd00:5a5a:1::/48");
        assert!(c.link_config(Role::Server).ipv6);
        assert!(c.link_config(Role::Client).ipv6);
        assert_eq!(c.tun.parsed_routes, [(Ipv4Addr::new(10, 1, 0, 0), 16)]);
        assert_eq!(
            c.tun.parsed_routes6,
            [
                ("2001:db8:5::".parse().unwrap(), 48),
                (Ipv6Addr::UNSPECIFIED, 0)
            ]
        );
        assert!(c.to_toml().contains("ipv6_prefix = \"fd00:5a5a:1::/48\""));
    }

    #[test]
    fn ppp_errors_name_the_key() {
        for (text, key, hint) in [
            (
                "[ppp]\npool = \"198.51.100.10\"\n",
                "ppp.pool",
                "FIRST-LAST",
            ),
            (
                "[ppp]\npool = \"198.51.100.20-198.51.100.10\"\n",
                "ppp.pool",
                "below the first",
            ),
            (
                "[ppp]\npool = \"10.0.0.1-10.0.0.x\"\n",
                "ppp.pool",
                "not an IPv4",
            ),
            (
                "[ppp]\npool = \"224.0.0.1-224.0.0.9\"\n",
                "ppp.pool",
                "unicast",
            ),
            (
                "[ppp]\nlocal_ip = \"198.51.100.12\"\n",
                "ppp.local_ip",
                "inside ppp.pool",
            ),
            ("[ppp]\nlocal_ip = \"0.0.0.0\"\n", "ppp.local_ip", "unicast"),
            (
                "[ppp]\nlocal_ip = \"2001:db8::1\"\n",
                "ppp.local_ip",
                "IPv4",
            ),
            (
                "[ppp]\ndns = [\"1.1.1.1\", \"8.8.8.8\", \"9.9.9.9\"]\n",
                "ppp.dns",
                "at most 2",
            ),
            ("[ppp]\ndns = [\"dns.example\"]\n", "ppp.dns", "IPv4"),
            (
                "[ppp]\nnbns = [\"255.255.255.255\"]\n",
                "ppp.nbns",
                "unicast",
            ),
            ("[ppp]\nauth = []\n", "ppp.auth", "at least one"),
            (
                "[ppp]\nipv6_prefix = \"fd00::/80\"\n",
                "ppp.ipv6_prefix",
                "16 to 64",
            ),
            (
                "[ppp]\nipv6_prefix = \"fe80::/64\"\n",
                "ppp.ipv6_prefix",
                "link-local",
            ),
            (
                "[ppp]\nipv6_prefix = \"10.0.0.0/8\"\n",
                "ppp.ipv6_prefix",
                "not IPv6",
            ),
            (
                "[tun]\nroutes = [\"fd00::/129\"]\n",
                "tun.routes[0]",
                "IPv4 or IPv6",
            ),
            (
                "[ppp]\nauth = [\"mschap2\"]\n",
                "ppp.auth",
                "\"mschapv2\", \"chap-md5\"",
            ),
            ("[ppp]\nauth = [\"pap\", \"pap\"]\n", "ppp.auth", "twice"),
            ("[ppp]\nmru = 100\n", "ppp.mru", "576..=1500"),
            ("[ppp]\nmru = 9000\n", "ppp.mru", "576..=1500"),
            (
                "[ppp]\necho_interval_secs = -1\n",
                "ppp.echo_interval_secs",
                "0..=3600",
            ),
            ("[ppp]\necho_failures = 0\n", "ppp.echo_failures", "1..=100"),
            (
                "[client]\nauth = [\"ntlm\"]\n",
                "client.auth",
                "unknown method",
            ),
            (
                "[client]\nping_count = 1001\n",
                "client.ping_count",
                "0..=1000",
            ),
            (
                "[client]\nuser = \"alice\"\n",
                "client.password",
                "client.user",
            ),
            (
                "[client]\nuser = \"\"\npassword = \"x\"\n",
                "client.user",
                "empty",
            ),
            (
                "[client]\nuser = \"a\"\npassword = \"\"\n",
                "client.password",
                "empty",
            ),
            (
                "[client]\npassword = \"x\"\n",
                "client.password",
                "requires client.user",
            ),
        ] {
            let e = err(text);
            assert!(
                e.contains(&format!("{key} = ")) && e.contains(hint),
                "{text:?}: {e}"
            );
        }
        let e = err("[ppp]\nlocal = \"10.0.0.1\"\n");
        assert!(e.contains("unknown field") && e.contains("local"), "{e}");
    }

    #[test]
    fn users_are_checked_and_never_shown() {
        let e = err("users = []\n");
        assert!(
            e.contains("users = []") && e.contains("built-in test user"),
            "{e}"
        );
        let e = err("[[users]]\nname = \"a\"\npassword = \"x\"\n[[users]]\nname = \"a\"\npassword = \"y\"\n");
        assert!(e.contains("users[1].name") && e.contains("twice"), "{e}");
        let e = err("[[users]]\nname = \"CORP\\\\a\"\npassword = \"x\"\n");
        assert!(e.contains("users[0].name") && e.contains("DOMAIN"), "{e}");
        let e = err("[[users]]\nname = \"a\"\npassword = \"\"\n");
        assert!(e.contains("users[0].password"), "{e}");
        let long = "p".repeat(257);
        let e = err(&format!("[[users]]\nname = \"a\"\npassword = \"{long}\"\n"));
        assert!(e.contains("users[0].password") && !e.contains(&long), "{e}");
        let e = err("[[users]]\nname = \"a\"\n");
        assert!(e.contains("password"), "{e}");

        let c = Config::parse(
            "[[users]]\nname = \"alice\"\npassword = \"hunter2-user\"\n[client]\nuser = \"bob\"\npassword = \"hunter2-client\"\n",
            "t",
        )
        .unwrap();
        let mut store = crate::users::Users::new(c.users.clone(), None).unwrap();
        assert!(!store.is_builtin());
        let now = crate::driver::now();
        assert!(
            store.lookup(now, TEST_USER).is_none(),
            "the test user is off"
        );
        assert_eq!(store.lookup(now, "EXAMPLE\\alice").unwrap().name, "alice");
        for shown in [format!("{c:?}"), c.to_toml()] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        assert!(c.to_toml().contains("name = \"alice\""));
    }

    #[test]
    fn effective_config_with_ppp_round_trips() {
        let c = Config::parse(
            "[ppp]\npool = \"10.1.0.2 - 10.1.0.9\"\nlocal_ip = \"10.1.0.1\"\ndns = [\"10.1.0.53\"]\nauth = [\"eap\", \"mschapv1\"]\n[client]\nping_count = 0\n",
            "t",
        )
        .unwrap();
        let shown = c.to_toml();
        assert!(shown.contains("pool = \"10.1.0.2-10.1.0.9\""), "{shown}");
        assert!(shown.contains("auth = [\"eap\", \"mschapv1\"]"), "{shown}");
        // The client password is shown redacted: set one, so the text parses back.
        let again = Config::parse(&shown, "shown").unwrap();
        assert_eq!(again.to_toml(), shown);
        assert_eq!(again.ppp.auth, c.ppp.auth);
        assert_eq!(again.client.ping_count, 0);
    }
}
