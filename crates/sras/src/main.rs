//! `sras`: the daemon and command-line tool of the sras remote-access server (DESIGN.md).
//!
//! This crate is the only one with sockets, a runtime, signals, configuration files and logs;
//! the protocols live in the sans-IO crates it drives ([`driver`]). Today it runs plain L2TP
//! (RFC 2661) over UDP with PPP in each session: `sras server` is an LNS that authenticates
//! users and hands out addresses, `sras connect` a LAC that logs in and pings the server.
//! `sras ike` runs IKEv1 alone (sras-ike): it negotiates ISAKMP and IPsec SAs as responder or,
//! with `--connect`, as initiator, without L2TP and without processing ESP yet. The TUN device
//! comes later.
//!
//! Exit status: 0 success, 1 runtime failure, 2 invalid configuration or usage.

mod config;
mod control;
mod driver;
mod icmp;
mod keylog;
mod mmsg;
mod pool;
mod rawesp;
mod tun;
mod usercmd;
mod users;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};
use rand::rngs::OsRng;
use rand::TryRngCore;
use tokio::net::UdpSocket;
use tracing::{error, info, warn};
use zeroize::Zeroizing;

use crate::config::{method_name, Config, ConfigError, Role};
use crate::driver::{ClientOptions, Driver, Mode, Outcome, PppSetup};
use crate::pool::Pool;

/// sras: an L2TP/IPsec remote-access server and client.
///
/// `sras server`: IKEv1 responder, ESP (raw and in UDP/4500), L2TP LNS reached only through
/// ESP, PPP with local users, an address pool and a TUN device. `sras connect`: the mirror
/// image. Logs go to stderr; set the level with -v or RUST_LOG.
#[derive(Debug, Parser)]
#[command(name = "sras", version, propagate_version = true)]
struct Cli {
    /// More log output: -v for debug, -vv for trace. RUST_LOG, when set, takes precedence.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the L2TP/IPsec server (IKE on UDP 500/4500, ESP, L2TP LNS, PPP, TUN).
    ///
    /// Answers IKEv1 (pre-shared keys or certificates), accepts L2TP tunnels and calls only
    /// through the ESP SA each was set up through, runs PPP in each call: authenticates the
    /// user ([[users]] and the users file, `sras user`), hands out an address from ppp.pool
    /// and routes IP between the client and a TUN device. Plain L2TP without IPsec only with
    /// l2tp.plain = true (testing). Without -c: the built-in defaults (a published test key
    /// and user, warned). `sras sessions` and `sras disconnect` talk to it over control.socket.
    /// SIGTERM or SIGINT closes every link and tunnel (LCP Terminate, CDN, StopCCN), deletes
    /// every SA (IKE Delete) and exits.
    Server {
        /// Configuration file (TOML, see docs/configuration.md); without it the built-in
        /// defaults are used.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Connect to an L2TP/IPsec server: IKE, then a tunnel and a call through ESP, PPP login, TUN.
    ///
    /// With an [ike] section (or no -c: the built-in test key) IPsec comes first, and the
    /// TUN device comes up with the address PPP gave and tun.routes.
    /// Prints `ESTABLISHED tunnel=<local>/<peer> session=<local>/<peer>` once the L2TP session
    /// is up, `PPP UP local=<ip> peer=<ip> dns=<ips>` once PPP is, then pings the peer address
    /// (client.ping_count) and prints `PING <peer>: <replies>/<sent> replies`. Runs until the
    /// link goes down or a signal arrives; with --exit-when-established it then closes the link,
    /// the session and the tunnel cleanly and exits 0 if a ping was answered.
    Connect {
        /// Configuration file (TOML, see docs/configuration.md): [l2tp] and [client].
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Server to connect to, as IP, IP:PORT, HOST or HOST:PORT (port 1701 if left out);
        /// overrides client.server.
        #[arg(long, value_name = "ADDR")]
        server: Option<String>,
        /// Once PPP is up and the pings are done: close the link (LCP), the session (CDN) and
        /// the tunnel (StopCCN), and exit 0 if at least one ping was answered (1 otherwise).
        #[arg(long)]
        exit_when_established: bool,
        /// Give up (exit 1) if the PPP link is not up within this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
    },
    /// Run IKEv1 alone (no L2TP): answer peers, or with --connect initiate to one.
    ///
    /// Listens on ike.listen, UDP ike.port (500) and ike.natt_port (4500), and negotiates ISAKMP
    /// SAs (Main Mode; Aggressive Mode if enabled) and IPsec SAs (Quick Mode, ESP in transport
    /// mode for UDP/1701, as L2TP/IPsec uses them), with NAT traversal and dead peer detection.
    /// Logs `IKE phase1 established` and `IKE phase2 established ... spi_in=0x... spi_out=0x...`.
    /// ESP itself is not processed yet. SIGTERM or SIGINT deletes every SA (Delete notifications
    /// to the peers) and exits 0.
    Ike {
        /// Configuration file (TOML, see docs/configuration.md) with an [ike] section.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Initiate Main Mode and Quick Mode (L2TP/IPsec: transport mode, UDP/1701) to this peer,
        /// an IP address or host name (its port is ike.port), from ike.listen.
        #[arg(long, value_name = "ADDR")]
        connect: Option<String>,
    },
    /// List the running server's sessions (over its control socket).
    ///
    /// One line per established session: its ID, the user, the address it was given, the
    /// peer's address (its IKE address with IPsec), the ESP suite, the uptime and the bytes
    /// received. Talks to `sras server` over control.socket (root, or the user running it).
    Sessions {
        /// The server's configuration file, for control.socket.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The control socket; overrides the configuration (default /run/sras/control.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Disconnect one session of the running server (over its control socket).
    ///
    /// The server ends the session as it would for any other reason: LCP Terminate-Request,
    /// CDN, then StopCCN once its tunnel has no other session, and the peer's IPsec SAs are
    /// deleted after that. ID is the first column of `sras sessions`.
    Disconnect {
        /// The session's ID, as `sras sessions` shows it.
        id: u64,
        /// The server's configuration file, for control.socket.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The control socket; overrides the configuration (default /run/sras/control.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Manage the server's users file (auth.users_file): add, delete or list users.
    ///
    /// The server reads the file besides [[users]] and re-reads it when it changes, so changes
    /// take effect at the next login without a restart. Passwords are stored so that PAP,
    /// CHAP-MD5, MS-CHAPv1 and MS-CHAPv2 all work (in clear, as pppd's chap-secrets): the file
    /// is written with mode 0600, and the server refuses it if group or others may read it.
    User {
        #[command(subcommand)]
        action: UserAction,
        /// The server's configuration file, for auth.users_file.
        #[arg(short, long, value_name = "FILE", global = true)]
        config: Option<PathBuf>,
        /// The users file; overrides the configuration (default /var/lib/sras/users.toml).
        #[arg(long, value_name = "PATH", global = true)]
        file: Option<PathBuf>,
    },
    /// Validate a configuration file and print the effective configuration (defaults filled
    /// in, the secret redacted). Exits 2 if it is invalid, naming the key.
    CheckConfig {
        /// Configuration file to check.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// `sras user ...`.
#[derive(Debug, Subcommand)]
enum UserAction {
    /// Add a user (the password is prompted for twice, or read from standard input).
    Add {
        /// The user name the client logs in with (a "DOMAIN\" prefix it sends is ignored).
        name: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// Change the password of an existing user instead of refusing.
        #[arg(long)]
        replace: bool,
    },
    /// Delete a user (their sessions stay up until they end; new logins are refused).
    Del {
        /// The user name.
        name: String,
    },
    /// List the user names (never the passwords).
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match cli.command {
        Command::CheckConfig { config } => check_config(&config),
        Command::Server { config } => {
            let cfg = match config {
                Some(path) => Config::load(&path),
                None => Ok(Config::builtin()),
            };
            with_config(cfg, server)
        }
        Command::Connect {
            config,
            server,
            exit_when_established,
            timeout,
        } => {
            let cfg = match config {
                Some(path) => Config::load(&path),
                None => Ok(Config::builtin()),
            };
            with_config(cfg, |cfg| {
                connect(
                    cfg,
                    server.as_deref(),
                    exit_when_established,
                    Duration::from_secs(timeout),
                )
            })
        }
        Command::Ike { config, connect } => {
            with_config(Config::load(&config), |cfg| ike(&cfg, connect.as_deref()))
        }
        Command::User {
            action,
            config,
            file,
        } => user_command(&action, config.as_deref(), file),
        Command::Sessions { config, socket } => {
            control_request(config.as_deref(), socket, &control::Command::Sessions)
        }
        Command::Disconnect { id, config, socket } => {
            control_request(config.as_deref(), socket, &control::Command::Disconnect(id))
        }
    }
}

/// `sras user add|del|list`: prints what was done (or the names) and exits 0, or 1 with why
/// not (2 for a bad configuration).
fn user_command(
    action: &UserAction,
    config: Option<&std::path::Path>,
    file: Option<PathBuf>,
) -> ExitCode {
    let path = match (file, config) {
        (Some(p), _) => p,
        (None, Some(c)) => match Config::load(c) {
            Ok(cfg) => cfg.auth.users_file,
            Err(e) => return config_error(&e),
        },
        (None, None) => PathBuf::from(config::DEFAULT_USERS_FILE),
    };
    let r = match action {
        UserAction::Add {
            name,
            password_stdin,
            replace,
        } => usercmd::add(&path, name, *password_stdin, *replace).map(|m| format!("{m}\n")),
        UserAction::Del { name } => usercmd::del(&path, name).map(|m| format!("{m}\n")),
        UserAction::List => usercmd::list(&path),
    };
    match r {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sras: {e}");
            ExitCode::from(1)
        }
    }
}

/// `sras sessions` / `sras disconnect`: one request to the server's control socket; prints
/// the answer and exits 0, or 1 with the server's (or the connection's) error.
fn control_request(
    config: Option<&std::path::Path>,
    socket: Option<PathBuf>,
    command: &control::Command,
) -> ExitCode {
    let path = match (socket, config) {
        (Some(p), _) => p,
        (None, Some(c)) => match Config::load(c) {
            Ok(cfg) => cfg.control_socket(),
            Err(e) => return config_error(&e),
        },
        (None, None) => PathBuf::from(control::DEFAULT_SOCKET),
    };
    match control::request(&path, command) {
        Ok(answer) => match answer.strip_prefix("ok\n") {
            Some(rest) => {
                print!("{rest}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("sras: {}", answer.trim_end());
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("sras: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

fn config_error(e: &ConfigError) -> ExitCode {
    error!("{e}");
    ExitCode::from(2)
}

fn with_config(cfg: Result<Config, ConfigError>, run: impl FnOnce(Config) -> ExitCode) -> ExitCode {
    match cfg {
        Ok(cfg) => run(cfg),
        Err(e) => config_error(&e),
    }
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match Config::load(path) {
        Ok(cfg) => {
            print!(
                "# effective configuration of {} (defaults filled in, secret redacted)\n{}",
                path.display(),
                cfg.to_toml()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Also on stderr without the log prefix, for scripts and people.
            eprintln!("sras: {e}");
            ExitCode::from(2)
        }
    }
}

/// A 32-byte RNG seed from the operating system, for the endpoint's IDs and challenges.
fn os_seed() -> Result<Zeroizing<[u8; 32]>, String> {
    let mut seed = Zeroizing::new([0u8; 32]);
    OsRng
        .try_fill_bytes(&mut seed[..])
        .map_err(|e| format!("cannot read the OS random number generator: {e}"))?;
    Ok(seed)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Binds the L2TP socket, explaining the usual reason it fails.
async fn bind(addr: SocketAddr, what: &str) -> Result<UdpSocket, String> {
    UdpSocket::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "cannot bind UDP {addr} ({what}): address already in use; another L2TP daemon (xl2tpd, or the L2TP setup of strongSwan/Libreswan) may hold the port: stop it, or set {what} to another address"
        ),
        std::io::ErrorKind::PermissionDenied => {
            format!("cannot bind UDP {addr} ({what}): permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)")
        }
        _ => format!("cannot bind UDP {addr} ({what}): {e}"),
    })
}

fn finish(result: Result<Outcome, String>) -> ExitCode {
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Failed(reason)) | Err(reason) => {
            error!("{reason}");
            ExitCode::FAILURE
        }
    }
}

/// The IPsec side of `server` and `connect` from `[ike]`: the layer with its IKE endpoint,
/// and the key log.
fn ipsec_setup(cfg: &Config) -> Result<Option<driver::SecSetup>, String> {
    let Some(ike) = &cfg.ike else {
        return Ok(None);
    };
    let seed = os_seed()?;
    let keylog = match &ike.keylog {
        None => None,
        Some(path) => {
            warn!(path = %path, "ike.keylog is set: IKE and ESP keys are written to this file (debugging only)");
            Some(
                keylog::KeyLog::open(std::path::Path::new(path))
                    .map_err(|e| format!("cannot open ike.keylog {path:?}: {e}"))?,
            )
        }
    };
    let mut ipsec = sras_stack::Ipsec::new(std::sync::Arc::new(ike.endpoint_config()), *seed);
    let unix = driver::unix_time();
    ipsec.ike().set_unix_time(driver::now(), unix);
    ike_warnings(ike, unix);
    if ike
        .psk
        .iter()
        .any(|p| p.secret.as_str() == config::TEST_PSK)
    {
        warn!("THE BUILT-IN TEST PRE-SHARED KEY {:?} IS ACTIVE (no [ike] in the configuration): anybody can set up IPsec with this server. Configure [ike] with your own [[ike.psk]] or certificate before any real use", config::TEST_PSK);
    }
    info!(
        listen = %ike.listen,
        port = ike.port,
        natt_port = ike.natt_port,
        profile = ike.profile.name,
        psk = ike.psk.len(),
        certificate = ike.certificate.is_some(),
        nat_traversal = ike.nat_traversal,
        force_encapsulation = ike.force_encapsulation,
        "IPsec (IKEv1, ESP) under L2TP"
    );
    Ok(Some(driver::SecSetup {
        ipsec,
        listen: ike.listen,
        port: ike.port,
        natt_port: ike.natt_port,
        keylog,
    }))
}

/// The smallest network that holds the whole pool (routed into the TUN device).
fn covering_prefix(
    first: std::net::Ipv4Addr,
    last: std::net::Ipv4Addr,
) -> (std::net::Ipv4Addr, u8) {
    let (a, b) = (u32::from(first), u32::from(last));
    let len = (a ^ b).leading_zeros() as u8;
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    (std::net::Ipv4Addr::from(a & mask), len)
}

fn server(cfg: Config) -> ExitCode {
    let result = (|| {
        let seed = os_seed()?;
        let endpoint = sras_l2tp::Endpoint::new(cfg.endpoint_config(Role::Server, *seed));
        let sec = ipsec_setup(&cfg)?;
        if sec.is_none() && !cfg.l2tp.plain {
            return Err("no [ike] section: configure IPsec ([ike] with [[ike.psk]] or [ike.certificate]), or set l2tp.plain = true to run L2TP without IPsec (troubleshooting only: not a VPN)".to_owned());
        }
        runtime()?.block_on(async {
            let socket = if cfg.l2tp.plain {
                bind(cfg.l2tp.listen, "l2tp.listen").await?
            } else {
                // Not read: L2TP arrives only through ESP. Bound for the driver's plain path.
                bind(SocketAddr::from(([127, 0, 0, 1], 0)), "internal").await?
            };
            let l = &cfg.l2tp;
            if l.plain {
                warn!("l2tp.plain = true: L2TP is accepted WITHOUT IPsec on l2tp.listen: for troubleshooting only (tunnel and PPP traffic cross the network unencrypted and unauthenticated by IPsec)");
            }
            info!(
                listen = %socket.local_addr().map_err(|e| e.to_string())?,
                host_name = %l.host_name,
                secret = if l.secret.is_some() { "set" } else { "none" },
                challenge = l.challenge,
                hide_avps = l.hide_avps,
                hello_interval_secs = l.hello_interval_secs,
                "L2TP server (LNS) listening"
            );
            if let Some(to) = l.redirect {
                info!(to = %to, "every tunnel request will be redirected (StopCCN \"Try Another\")");
            }
            let p = &cfg.ppp;
            let users = cfg.user_store()?;
            info!(
                local_ip = %p.local_ip,
                pool = %p.pool,
                dns = ?p.dns,
                nbns = ?p.nbns,
                auth = %methods(&p.auth.0),
                mru = p.mru,
                echo_interval_secs = p.echo_interval_secs,
                users = users.len(),
                users_file = %cfg.auth.users_file.display(),
                "PPP server settings"
            );
            if users.is_builtin() {
                warn!(
                    "NO USERS CONFIGURED: the built-in test user {:?} is active and its password is published in docs/configuration.md; anybody can log in. Add users (`sras user add NAME`, or [[users]]) before any real use: the test user goes away with the first one",
                    config::TEST_USER
                );
            }
            if p.auth.0.contains(&sras_ppp::AuthMethod::Pap) {
                warn!("ppp.auth allows PAP: the password crosses the network in the clear (nothing protects it without IPsec)");
            }
            let ppp = PppSetup {
                link: cfg.link_config(Role::Server),
                users: Some(users),
                pool: Some(Pool::new(p.pool)),
                pool6: p.ipv6_prefix.map(pool::Prefix6Pool::new),
                ping_count: 0,
                rng_seed: *os_seed()?,
            };
            let mut driver =
                Driver::new(endpoint, socket, Mode::Server { redirect: l.redirect }, ppp)
                    .map_err(|e| e.to_string())?;
            if let Some(sec) = sec {
                driver = driver.with_ipsec(sec, l.plain).await?;
            }
            if cfg.tun.enabled {
                let plan = driver::TunPlan {
                    name: cfg.tun.name.clone(),
                    mtu: cfg.tun.mtu,
                    routes: vec![covering_prefix(p.pool.first(), p.pool.last())],
                    routes6: p.ipv6_prefix.iter().map(|x| (x.network(), x.len())).collect(),
                    address6: p.ipv6_prefix.map(|x| x.server_address()),
                };
                driver = driver.with_tun(plan, Some(p.local_ip))?;
            } else {
                warn!("tun.enabled = false: no TUN device; the server only answers pings to its own PPP address");
            }
            if let Some(source) = l.float_source {
                driver.bind_source(source)?;
                info!(source = %source, "new tunnels are answered from this address (RFC 3193 §4)");
            }
            if cfg.control.enabled {
                match driver.listen_control(&cfg.control.socket) {
                    Ok(()) => {}
                    // Another server holds the default path (several in namespaces on one
                    // host): run without `sras sessions` rather than not at all.
                    Err(e) if !cfg.control.explicit => {
                        warn!("{e}; running without a control socket (set control.socket)");
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(driver.run().await)
        })
    })();
    finish(result)
}

fn connect(
    cfg: Config,
    server_arg: Option<&str>,
    exit_when_established: bool,
    timeout: Duration,
) -> ExitCode {
    let server = match server_arg {
        Some(s) => match config::normalize_server("--server", s) {
            Ok(s) => s,
            Err(e) => return config_error(&e),
        },
        None => match &cfg.client.server {
            Some(s) => s.clone(),
            None => {
                error!("no server to connect to: pass --server ADDR or set server in the [client] section");
                return ExitCode::from(2);
            }
        },
    };
    let result = (|| {
        let seed = os_seed()?;
        let endpoint = sras_l2tp::Endpoint::new(cfg.endpoint_config(Role::Client, *seed));
        runtime()?.block_on(async {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host(server.as_str())
                .await
                .map_err(|e| format!("cannot resolve the server {server}: {e}"))?
                .collect();
            // Prefer an address of the family we bind.
            let want_v4 = cfg.client.bind.is_ipv4();
            let server_addr = addrs
                .iter()
                .find(|a| a.is_ipv4() == want_v4)
                .or(addrs.first())
                .copied()
                .ok_or_else(|| format!("the server {server} resolves to no address"))?;
            let socket = bind(cfg.client.bind, "client.bind").await?;
            let sec = ipsec_setup(&cfg)?;
            if sec.is_none() {
                warn!("no [ike] section: plain L2TP without IPsec, for testing only");
            }
            info!(
                server = %server_addr,
                local = %socket.local_addr().map_err(|e| e.to_string())?,
                host_name = %cfg.l2tp.host_name,
                secret = if cfg.l2tp.secret.is_some() { "set" } else { "none" },
                challenge = cfg.l2tp.challenge,
                hide_avps = cfg.l2tp.hide_avps,
                "L2TP client (LAC) starting"
            );
            let c = &cfg.client;
            info!(
                user = ?c.user,
                auth = %methods(&c.auth.0),
                ping_count = c.ping_count,
                "PPP client settings"
            );
            if c.builtin_user {
                warn!(
                    "client.user is not set: logging in as the built-in test user {:?} (docs/configuration.md)",
                    config::TEST_USER
                );
            }
            let opts = ClientOptions {
                server: server_addr,
                exit_when_established,
                timeout,
            };
            let ppp = PppSetup {
                link: cfg.link_config(Role::Client),
                users: None,
                pool: None,
                pool6: None,
                ping_count: c.ping_count,
                rng_seed: *os_seed()?,
            };
            let mut driver = Driver::new(endpoint, socket, Mode::Client(opts), ppp)
                .map_err(|e| e.to_string())?;
            if let Some(sec) = sec {
                driver = driver.with_ipsec(sec, false).await?;
            }
            if cfg.tun.enabled {
                let plan = driver::TunPlan {
                    name: cfg.tun.name.clone(),
                    mtu: cfg.tun.mtu,
                    routes: cfg.tun.parsed_routes.clone(),
                    routes6: cfg.tun.parsed_routes6.clone(),
                    address6: None,
                };
                driver = driver.with_tun(plan, None)?;
            }
            Ok(driver.run().await)
        })
    })();
    finish(result)
}

/// The peer of `sras ike --connect`: an IP address, or a host name resolved at start.
fn ike_peer_arg(s: &str) -> Result<Result<IpAddr, String>, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Ok(ip));
    }
    // A host name, checked as client.server is; no port.
    if s.contains([':', '[']) || config::normalize_server("--connect", s).is_err() {
        return Err(format!(
            "--connect {s:?}: must be the peer's IP address or host name, without a port (the peer's IKE port is ike.port)"
        ));
    }
    Ok(Err(s.to_owned()))
}

/// Resolves the `--connect` peer to an address of the family of `listen`.
async fn ike_peer(
    arg: Result<IpAddr, String>,
    port: u16,
    listen: IpAddr,
) -> Result<SocketAddr, String> {
    let ip = match arg {
        Ok(ip) => ip,
        Err(host) => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| format!("cannot resolve the peer {host}: {e}"))?
                .collect();
            addrs
                .iter()
                .find(|a| a.is_ipv4() == listen.is_ipv4())
                .or(addrs.first())
                .map(SocketAddr::ip)
                .ok_or_else(|| format!("the peer {host} resolves to no address"))?
        }
    };
    // A specific IPv4 listen address cannot reach an IPv6 peer, and the other way round ("::"
    // is dual-stack and reaches both).
    let reachable = ip.is_ipv4() == listen.is_ipv4() || listen == IpAddr::from([0u16; 8]);
    if !reachable {
        return Err(format!(
            "--connect {ip}: not reachable from ike.listen = {listen} (another address family)"
        ));
    }
    Ok(SocketAddr::new(ip, port))
}

fn ike(cfg: &Config, connect: Option<&str>) -> ExitCode {
    let Some(ike) = &cfg.ike else {
        error!("the configuration has no [ike] section: `sras ike` needs one, with [[ike.psk]] or [ike.certificate] (docs/configuration.md)");
        return ExitCode::from(2);
    };
    let peer_arg = match connect.map(ike_peer_arg).transpose() {
        Ok(a) => a,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = (|| {
        let seed = os_seed()?;
        let keylog = match &ike.keylog {
            None => None,
            Some(path) => Some(
                keylog::KeyLog::open(std::path::Path::new(path))
                    .map_err(|e| format!("cannot open ike.keylog {path:?}: {e}"))?,
            ),
        };
        let mut endpoint =
            sras_ike::Endpoint::new(std::sync::Arc::new(ike.endpoint_config()), *seed);
        let unix = driver::unix_time();
        endpoint.set_unix_time(driver::now(), unix);
        runtime()?.block_on(async {
            let peer = match peer_arg {
                Some(a) => Some(ike_peer(a, ike.port, ike.listen).await?),
                None => None,
            };
            let setup = driver::ike::IkeSetup {
                listen: ike.listen,
                port: ike.port,
                natt_port: ike.natt_port,
                connect: peer,
                keylog,
            };
            let driver = driver::ike::IkeDriver::bind(endpoint, setup).await?;
            let (a, b) = driver.local_addrs();
            let show = |a: Option<SocketAddr>| a.map_or_else(|| "?".to_owned(), |a| a.to_string());
            info!(
                ike = %show(a),
                natt = %show(b),
                profile = ike.profile.name,
                psk = ike.psk.len(),
                certificate = ike.certificate.as_ref().map_or_else(|| "none".to_owned(), |c| c.loaded.certificate.subject_string()),
                aggressive_mode = ike.aggressive_mode,
                nat_traversal = ike.nat_traversal,
                force_encapsulation = ike.force_encapsulation,
                dpd_delay_s = ike.dpd_delay,
                dpd_timeout_s = ike.dpd_timeout,
                phase1_lifetime_s = ike.phase1_lifetime,
                phase2_lifetime_s = ike.phase2_lifetime,
                pfs = ?ike.pfs.0,
                sha256_96 = ike.sha256_96,
                "IKE listening"
            );
            info!("sras ike negotiates SAs only: ESP is not processed yet (no L2TP, no data path)");
            ike_warnings(ike, unix);
            Ok(driver.run().await)
        })
    })();
    finish(result)
}

/// Start-up warnings about risky `[ike]` settings.
fn ike_warnings(ike: &config::IkeConfig, unix: u64) {
    if let Some(path) = &ike.keylog {
        warn!(keylog = %path, "ike.keylog is set: the IKE and ESP keys of every SA are written to this file (debug only: whoever reads it can decrypt the traffic)");
    }
    if ike.aggressive_mode {
        warn!("ike.aggressive_mode is on: Aggressive Mode exposes a hash of the pre-shared key to offline guessing by anyone who starts an exchange");
    }
    if ike.has_group_key() {
        warn!("a group pre-shared key ([[ike.psk]] peer = \"*\") is configured: any peer that knows it can impersonate this gateway to the other peers; prefer a key per peer");
    }
    if let Some(c) = &ike.certificate {
        if let Err(e) = c.loaded.certificate.check_validity(unix) {
            warn!(cert = %c.cert, error = %e, "ike.certificate.cert is not valid now: peers will refuse it");
        }
    }
}

/// Authentication methods by their configuration names, for the logs.
fn methods(list: &[sras_ppp::AuthMethod]) -> String {
    list.iter()
        .map(|m| method_name(*m))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent_and_documented() {
        Cli::command().debug_assert();
        for sub in Cli::command().get_subcommands() {
            assert!(sub.get_about().is_some(), "{} has no help", sub.get_name());
            for arg in sub.get_arguments() {
                assert!(
                    arg.get_help().is_some(),
                    "{} {} has no help",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
    }
}
