//! End-to-end tests of the `sras` binary: a real server and a real client over loopback UDP,
//! and `check-config` on good and bad files.
// These tests wait on real processes, so they read the real clock.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const SRAS: &str = env!("CARGO_BIN_EXE_sras");

/// A file in a fresh temporary directory of this test.
fn temp_file(test: &str, name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sras-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// A UDP port free on 127.0.0.1 right now.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `sras server`, its stderr collected line by line.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(config: &Path) -> Self {
        Self::spawn(&["server".as_ref(), "-c".as_ref(), config.as_os_str()])
    }

    /// Starts `sras ARGS` (a long-running command) and waits for its "listening" log line.
    fn spawn(args: &[&std::ffi::OsStr]) -> Self {
        let mut child = Command::new(SRAS)
            .args(args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sras");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut s = Self {
            child,
            lines,
            seen: Vec::new(),
        };
        s.wait_for("listening", Duration::from_secs(20));
        s
    }

    /// Waits until a log line contains `needle`.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "sras never logged {needle:?}; log:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// SIGTERM, then the exit status (the server must exit 0 within the grace period).
    fn terminate(mut self) -> (i32, Vec<String>) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "sras did not exit after SIGTERM; log:\n{}",
                    self.seen.join("\n")
                );
            }
            thread::sleep(Duration::from_millis(50));
        };
        self.seen.extend(self.lines.try_iter());
        (status.code().unwrap_or(-1), std::mem::take(&mut self.seen))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(config: &PathBuf, port: u16) -> Output {
    Command::new(SRAS)
        .args(["connect", "-c"])
        .arg(config)
        .args([
            "--server",
            &format!("127.0.0.1:{port}"),
            "--exit-when-established",
            "--timeout",
            "20",
        ])
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .output()
        .expect("run sras connect")
}

/// `ESTABLISHED tunnel=<n>/<n> session=<n>/<n>` with every ID non-zero.
fn assert_established_line(line: &str) {
    let rest = line
        .strip_prefix("ESTABLISHED tunnel=")
        .unwrap_or_else(|| panic!("not an ESTABLISHED line: {line:?}"));
    let (tunnel, session) = rest
        .split_once(" session=")
        .unwrap_or_else(|| panic!("{line:?}"));
    for pair in [tunnel, session] {
        let (a, b) = pair.split_once('/').unwrap_or_else(|| panic!("{line:?}"));
        for id in [a, b] {
            let id: u16 = id
                .parse()
                .unwrap_or_else(|_| panic!("not an ID: {id:?} in {line:?}"));
            assert_ne!(id, 0, "{line:?}");
        }
    }
}

/// What a successful `sras connect --exit-when-established` prints: the ESTABLISHED line, the
/// PPP UP line (its fields returned), and the ping tally.
fn assert_connect_output(stdout: &str, dns: &str, pings: &str) -> (String, String) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "stdout: {stdout:?}");
    assert_established_line(lines[0]);
    let up = lines[1]
        .strip_prefix("PPP UP ")
        .unwrap_or_else(|| panic!("stdout: {stdout:?}"));
    let fields: Vec<(&str, &str)> = up
        .split(' ')
        .map(|f| f.split_once('=').unwrap_or_else(|| panic!("{up:?}")))
        .collect();
    assert_eq!(
        fields.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        ["local", "peer", "dns"],
        "{up:?}"
    );
    let (local, peer) = (fields[0].1.to_owned(), fields[1].1.to_owned());
    assert_eq!(fields[2].1, dns, "{up:?}");
    assert_eq!(
        lines[2],
        format!("PING {peer}: {pings} replies"),
        "stdout: {stdout:?}"
    );
    (local, peer)
}

fn server_and_client(test: &str, extra: &str) {
    let port = free_port();
    let server_cfg = temp_file(
        test,
        "server.toml",
        &format!("[tun]\nenabled = false\n[l2tp]\nplain = true\nlisten = \"127.0.0.1:{port}\"\nhost_name = \"test-lns\"\nhello_interval_secs = 0\n{extra}"),
    );
    let client_cfg = temp_file(
        test,
        "client.toml",
        &format!("[tun]\nenabled = false\n[l2tp]\nplain = true\nhost_name = \"test-lac\"\nhello_interval_secs = 0\n{extra}"),
    );
    let mut server = Server::start(&server_cfg);

    let out = connect(&client_cfg, port);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "connect failed ({:?})\nstdout: {stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert_connect_output(&stdout, "none", "3/3");
    assert!(stderr.contains("tunnel established"), "{stderr}");
    assert!(stderr.contains("session established"), "{stderr}");
    assert!(
        !stderr.contains("not acknowledged"),
        "the StopCCN should be acknowledged:\n{stderr}"
    );

    let line = server.wait_for("session established", Duration::from_secs(5));
    assert!(line.contains("call_serial"), "{line}");
    let line = server.wait_for("tunnel established", Duration::from_secs(1));
    assert!(line.contains("test-lac"), "{line}");
    server.wait_for("tunnel closed", Duration::from_secs(5));

    let (code, log) = server.terminate();
    assert_eq!(code, 0, "server exit status; log:\n{}", log.join("\n"));
    for l in &log {
        assert!(!l.contains("s3cret-for-tests"), "secret logged: {l}");
    }
}

#[test]
fn connect_to_server_and_exit_when_established() {
    server_and_client("plain", "");
}

#[test]
fn connect_with_tunnel_authentication_and_hidden_avps() {
    server_and_client(
        "auth",
        "secret = \"s3cret-for-tests\"\nchallenge = true\nhide_avps = true\n",
    );
}

/// The built-in test user (docs/configuration.md), named explicitly on the client side.
const TEST_USER: &str = "sras-test";
const TEST_PASSWORD: &str = "sras-test-password";

/// `sras server` with `server_extra` appended to its config, `sras connect` with `client_extra`
/// appended to its `[client]` section; returns the connect output and the server's log.
fn ppp_run(test: &str, server_extra: &str, client_extra: &str) -> (Output, Vec<String>) {
    let port = free_port();
    let server_cfg = temp_file(
        test,
        "server.toml",
        &format!("[tun]\nenabled = false\n[l2tp]\nplain = true\nlisten = \"127.0.0.1:{port}\"\nhello_interval_secs = 0\n{server_extra}"),
    );
    let client_cfg = temp_file(
        test,
        "client.toml",
        &format!("[tun]\nenabled = false\n[l2tp]\nplain = true\nhello_interval_secs = 0\n[client]\n{client_extra}"),
    );
    let mut server = Server::start(&server_cfg);
    let out = connect(&client_cfg, port);
    server.wait_for("tunnel closed", Duration::from_secs(10));
    let (code, log) = server.terminate();
    assert_eq!(code, 0, "server exit status; log:\n{}", log.join("\n"));
    (out, log)
}

fn assert_success(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "connect failed ({:?})\nstdout: {stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn ppp_login_as_the_builtin_test_user_gets_an_address_and_ping_replies() {
    let (out, log) =
        ppp_run(
            "ppp-default",
            &format!(
            "[auth]\nusers_file = \"{}\"\n[ppp]\ndns = [\"198.51.100.53\", \"198.51.100.54\"]\n",
            temp_file("ppp-default", "unused", "").with_file_name("absent.toml").display()
        ),
            &format!("user = \"{TEST_USER}\"\npassword = \"{TEST_PASSWORD}\"\n"),
        );
    let stdout = assert_success(&out);
    let (local, peer) = assert_connect_output(&stdout, "198.51.100.53,198.51.100.54", "3/3");
    // The defaults: the server is 198.51.100.1, the first client gets the pool's first address.
    assert_eq!(
        (local.as_str(), peer.as_str()),
        ("198.51.100.10", "198.51.100.1")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PPP authenticated"), "{stderr}");
    assert!(!stderr.contains("not acknowledged"), "{stderr}");

    let log = log.join("\n");
    assert!(log.contains("NO USERS CONFIGURED"), "{log}");
    for needle in [
        "PPP login accepted",
        "PPP authenticated",
        "method=\"mschapv2\"",
        "PPP link up",
        "peer=198.51.100.10",
        "echo_answered=3",
        "released=198.51.100.10",
    ] {
        assert!(log.contains(needle), "server log lacks {needle:?}:\n{log}");
    }
    assert!(
        !log.contains(TEST_PASSWORD) && !stderr.contains(TEST_PASSWORD),
        "password logged"
    );
}

#[test]
fn ppp_every_method_with_configured_users_and_a_domain_prefix() {
    for method in ["mschapv2", "chap-md5", "mschapv1", "pap", "eap"] {
        let (out, log) = ppp_run(
            &format!("ppp-{method}"),
            &format!("[ppp]\nauth = [\"{method}\"]\npool = \"10.9.0.5-10.9.0.6\"\nlocal_ip = \"10.9.0.1\"\n[[users]]\nname = \"alice\"\npassword = \"Wonder-land 1\"\n[[users]]\nname = \"bob\"\npassword = \"builder\"\n"),
            "user = \"CORP\\\\alice\"\npassword = \"Wonder-land 1\"\nping_count = 2\n",
        );
        let stdout = assert_success(&out);
        let (local, peer) = assert_connect_output(&stdout, "none", "2/2");
        assert_eq!(
            (local.as_str(), peer.as_str()),
            ("10.9.0.5", "10.9.0.1"),
            "{method}"
        );
        let log = log.join("\n");
        assert!(
            log.contains(&format!("method=\"{method}\"")) && log.contains("PPP authenticated"),
            "{method}: {log}"
        );
        assert!(!log.contains("NO USERS"), "{log}");
        assert!(!log.contains("Wonder-land"), "password logged: {log}");
    }
}

/// `sras user add|del|list` on `file`.
fn user_cmd(args: &[&str], file: &Path, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(SRAS)
        .arg("user")
        .args(args)
        .arg("--file")
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn user_add_list_del_and_the_file_is_0600() {
    use std::os::unix::fs::PermissionsExt;
    let file = temp_file("user-cmd", "unused", "").with_file_name("sub/users.toml");
    let _ = std::fs::remove_file(&file);
    let out = user_cmd(&["add", "carol", "--password-stdin"], &file, "c-pass\n");
    assert!(out.status.success(), "{out:?}");
    let out = user_cmd(&["add", "alice"], &file, "a-pass\n");
    assert!(out.status.success(), "{out:?}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(file.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    let out = user_cmd(&["list"], &file, "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alice\ncarol\n");
    // An existing name needs --replace; a missing one cannot be deleted.
    let out = user_cmd(&["add", "alice", "--password-stdin"], &file, "x\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--replace"));
    let out = user_cmd(
        &["add", "alice", "--password-stdin", "--replace"],
        &file,
        "a-pass2\n",
    );
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("a-pass2") && !text.contains("\"a-pass\""),
        "{text}"
    );
    let out = user_cmd(&["del", "carol"], &file, "");
    assert!(out.status.success(), "{out:?}");
    let out = user_cmd(&["del", "carol"], &file, "");
    assert_eq!(out.status.code(), Some(1));
    let out = user_cmd(&["list"], &file, "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alice\n");
    // Names are checked as in [[users]]; empty passwords refused.
    let out = user_cmd(&["add", "CORP\\dave", "--password-stdin"], &file, "d\n");
    assert_eq!(out.status.code(), Some(1));
    let out = user_cmd(&["add", "dave", "--password-stdin"], &file, "\n");
    assert_eq!(out.status.code(), Some(1));
    // A file others may read is refused, by the command as by the server.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = user_cmd(&["list"], &file, "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{out:?}"
    );
    for sub in ["add", "del", "list"] {
        let out = Command::new(SRAS)
            .args(["user", sub, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{sub}");
    }
}

#[test]
fn ppp_every_method_with_users_from_the_users_file() {
    let file = temp_file("ppp-users-file", "unused", "").with_file_name("users.toml");
    let _ = std::fs::remove_file(&file);
    let out = user_cmd(&["add", "erin", "--password-stdin"], &file, "Pass word 9\n");
    assert!(out.status.success(), "{out:?}");
    for method in ["mschapv2", "chap-md5", "mschapv1", "pap"] {
        let (out, log) = ppp_run(
            &format!("ppp-file-{method}"),
            &format!(
                "[auth]\nusers_file = \"{}\"\n[ppp]\nauth = [\"{method}\"]\n",
                file.display()
            ),
            "user = \"erin\"\npassword = \"Pass word 9\"\nping_count = 1\n",
        );
        assert_success(&out);
        let log = log.join("\n");
        assert!(
            log.contains(&format!("method=\"{method}\"")),
            "{method}: {log}"
        );
        assert!(
            !log.contains("NO USERS") && !log.contains("Pass word"),
            "{log}"
        );
    }
}

#[test]
fn ppp_wrong_password_fails_with_the_reason() {
    let (out, log) = ppp_run(
        "ppp-wrong",
        "",
        &format!("user = \"{TEST_USER}\"\npassword = \"not-the-password\"\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("PPP UP"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("authentication failed"), "{stderr}");
    assert!(
        !stderr.contains("not-the-password"),
        "password logged: {stderr}"
    );
    let log = log.join("\n");
    assert!(log.contains("PPP login refused: wrong password"), "{log}");
    assert!(!log.contains("not-the-password"), "password logged: {log}");
}

#[test]
fn ppp_no_common_method_fails() {
    let (out, _log) = ppp_run(
        "ppp-nomethod",
        "[ppp]\nauth = [\"pap\"]\n",
        "auth = [\"mschapv2\"]\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PPP link down"), "{stderr}");
}

#[test]
fn connect_gives_up_when_nobody_answers() {
    let port = free_port();
    let cfg = temp_file(
        "noanswer",
        "client.toml",
        "[l2tp]\nhello_interval_secs = 0\n",
    );
    let out = Command::new(SRAS)
        .args(["connect", "-c"])
        .arg(&cfg)
        .args([
            "--server",
            &format!("127.0.0.1:{port}"),
            "--exit-when-established",
            "--timeout",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

fn check_config(test: &str, contents: &str) -> Output {
    let path = temp_file(test, "c.toml", contents);
    Command::new(SRAS)
        .args(["check-config", "-c"])
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn check_config_rejects_a_bad_value_naming_the_key() {
    let out = check_config("badvalue", "[l2tp]\nretransmit_cap_secs = 2\n");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("l2tp.retransmit_cap_secs = 2"), "{err}");
    assert!(err.contains("8..="), "{err}");
}

#[test]
fn check_config_rejects_an_unknown_key_naming_it() {
    let out = check_config("badkey", "[l2tp]\nhidden_avps = true\n");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hidden_avps"), "{err}");
}

#[test]
fn check_config_prints_the_effective_config_without_the_secret() {
    let out = check_config(
        "good",
        "[l2tp]\nsecret = \"do-not-print\"\nchallenge = true\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("challenge = true") && text.contains("receive_window = 8"),
        "{text}"
    );
    assert!(
        !text.contains("do-not-print") && text.contains("<redacted>"),
        "{text}"
    );
}

#[test]
fn check_config_accepts_the_examples() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for f in ["server.toml", "client.toml", "ike.toml"] {
        let out = Command::new(SRAS)
            .args(["check-config", "-c"])
            .arg(root.join(f))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn server_reports_a_taken_port() {
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let cfg = temp_file(
        "taken",
        "server.toml",
        &format!("[tun]\nenabled = false\n[l2tp]\nplain = true\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let out = Command::new(SRAS)
        .args(["server", "-c"])
        .arg(cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("xl2tpd"),
        "{err}"
    );
}

/// Reads a child's stdout lines on a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn ppp_pool_exhaustion_refuses_and_the_address_comes_back() {
    let port = free_port();
    let server_cfg = temp_file(
        "ppp-pool",
        "server.toml",
        &format!("[tun]\nenabled = false\n[l2tp]\nplain = true\nlisten = \"127.0.0.1:{port}\"\nhello_interval_secs = 0\n[ppp]\npool = \"10.9.0.5-10.9.0.5\"\nlocal_ip = \"10.9.0.1\"\n"),
    );
    let client_cfg = temp_file(
        "ppp-pool",
        "client.toml",
        "[tun]\nenabled = false\n[l2tp]\nplain = true\nhello_interval_secs = 0\n[client]\nping_count = 1\n",
    );
    let mut server = Server::start(&server_cfg);

    // The first client takes the only address and stays connected.
    let mut first = Command::new(SRAS)
        .args(["connect", "-c"])
        .arg(&client_cfg)
        .args(["--server", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut first);
    let mut seen: Vec<String> = Vec::new();
    while !seen.iter().any(|l| l.starts_with("PING ")) {
        match lines.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => seen.push(l),
            Err(_) => {
                let _ = first.kill();
                panic!("first client: {seen:?}");
            }
        }
    }
    assert!(
        seen.iter().any(|l| l.starts_with("PPP UP local=10.9.0.5 ")),
        "{seen:?}"
    );

    // The second is refused: no address left.
    let out = connect(&client_cfg, port);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("authentication failed"), "{stderr}");
    server.wait_for("the address pool is exhausted", Duration::from_secs(5));

    // The first leaves cleanly; its address is released and the next client gets it.
    let _ = Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status();
    let status = first.wait().unwrap();
    assert!(status.success(), "first client after SIGTERM: {status:?}");
    server.wait_for("released=10.9.0.5", Duration::from_secs(10));
    let out = connect(&client_cfg, port);
    let stdout = assert_success(&out);
    let (local, _) = assert_connect_output(&stdout, "none", "1/1");
    assert_eq!(local, "10.9.0.5");
    let (code, _) = server.terminate();
    assert_eq!(code, 0);
}

// ---------------------------------------------------------------------------------------------
// `sras ike` and the [ike] section.

const IKE_PSK: &str = "ike-psk-s3cret-for-tests";

/// A certificate fixture of sras-ike's tests.
fn ike_fixture(name: &str) -> String {
    format!(
        "{}/../ike/tests/data/certs/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn check_config_prints_the_ike_section_with_the_secret_redacted() {
    let out = check_config(
        "ike-good",
        &format!("[ike]\nlisten = \"192.0.2.1\"\nprofile = \"modern\"\ndpd_delay = 10\ndpd_timeout = 40\npfs = 14\n[[ike.psk]]\npeer = \"192.0.2.3\"\nsecret = \"{IKE_PSK}\"\n[[ike.psk]]\npeer = \"id:client.example.net\"\nsecret = \"{IKE_PSK}-2\"\n"),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "[ike]",
        "listen = \"192.0.2.1\"",
        "port = 500",
        "natt_port = 4500",
        "profile = \"modern\"",
        "dpd_delay = 10",
        "dpd_timeout = 40",
        "pfs = 14",
        "phase1_lifetime = 28800",
        "[[ike.psk]]",
        "peer = \"192.0.2.3\"",
        "peer = \"id:client.example.net\"",
        "secret = \"<redacted>\"",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    assert!(!text.contains(IKE_PSK), "{text}");
}

#[test]
fn check_config_rejects_bad_ike_values_naming_the_key() {
    let psk = "[[ike.psk]]\npeer = \"*\"\nsecret = \"x\"\n";
    let missing = ike_fixture("no-such-file.pem");
    for (test, text, key) in [
        (
            "ike-profile",
            format!("[ike]\nprofile = \"foo\"\n{psk}"),
            "ike.profile = \"foo\"",
        ),
        (
            "ike-peer",
            "[ike]\n[[ike.psk]]\npeer = \"not an ip\"\nsecret = \"x\"\n".to_owned(),
            "ike.psk[0].peer = \"not an ip\"",
        ),
        (
            "ike-cert",
            format!(
                "[ike]\n[ike.certificate]\ncert = \"{missing}\"\nkey = \"{}\"\nca = [\"{}\"]\n",
                ike_fixture("server.key.pem"),
                ike_fixture("ca.pem")
            ),
            "ike.certificate.cert = ",
        ),
        (
            "ike-dpd",
            format!("[ike]\ndpd_delay = 60\ndpd_timeout = 30\n{psk}"),
            "ike.dpd_timeout = 30",
        ),
    ] {
        let out = check_config(test, &text);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(err.contains(key), "{text:?}: {err}");
    }
}

#[test]
fn ike_without_an_ike_section_exits_2() {
    let cfg = temp_file("ike-none", "c.toml", "[l2tp]\nhello_interval_secs = 0\n");
    let out = Command::new(SRAS)
        .args(["ike", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[ike]"), "{err}");
}

/// A UDP port free on both 127.0.0.1 and 127.0.0.2 right now (the two IKE nodes of a test use
/// the same ports, as real peers use 500 and 4500), other than `not`.
fn free_port_on_both(not: u16) -> u16 {
    loop {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p != not && UdpSocket::bind(("127.0.0.2", p)).is_ok() {
            return p;
        }
    }
}

/// `(spi_in, spi_out)` of an `IKE phase2 established` log line.
fn spis(line: &str) -> (String, String) {
    let field = |name: &str| {
        let at = line
            .find(&format!("{name}="))
            .unwrap_or_else(|| panic!("no {name} in {line:?}"));
        line[at + name.len() + 1..]
            .split([' ', ','])
            .next()
            .unwrap()
            .trim_matches('"')
            .to_owned()
    };
    (field("spi_in"), field("spi_out"))
}

/// A responder on 127.0.0.1 and an initiator (`--connect 127.0.0.1`) on 127.0.0.2, both with
/// `auth` (the rest of the [ike] section, `{me}` and `{peer}` replaced by the node's and the
/// peer's address): both establish phase 1 and 2; SIGTERM to the initiator sends Deletes that
/// the responder receives. Returns both logs and the initiator's key log.
fn ike_pair(test: &str, auth: &str) -> (Vec<String>, Vec<String>, String) {
    let port = free_port_on_both(0);
    let natt_port = free_port_on_both(port);
    let keylog = std::env::temp_dir()
        .join(format!("sras-cli-{}-{test}", std::process::id()))
        .join("ike-keys");
    let conf = |me: &str, peer: &str, extra: &str| {
        format!(
            "[ike]\nlisten = \"{me}\"\nport = {port}\nnatt_port = {natt_port}\n{extra}{}",
            auth.replace("{me}", me).replace("{peer}", peer)
        )
    };
    let resp_cfg = temp_file(test, "responder.toml", &conf("127.0.0.1", "127.0.0.2", ""));
    let _ = std::fs::remove_file(&keylog);
    let init_cfg = temp_file(
        test,
        "initiator.toml",
        &conf(
            "127.0.0.2",
            "127.0.0.1",
            &format!("keylog = \"{}\"\n", keylog.display()),
        ),
    );

    let mut responder = Server::spawn(&["ike".as_ref(), "-c".as_ref(), resp_cfg.as_os_str()]);
    let mut initiator = Server::spawn(&[
        "ike".as_ref(),
        "-c".as_ref(),
        init_cfg.as_os_str(),
        "--connect".as_ref(),
        "127.0.0.1".as_ref(),
    ]);
    let i_line = initiator.wait_for("IKE phase2 established", Duration::from_secs(20));
    let r_line = responder.wait_for("IKE phase2 established", Duration::from_secs(20));
    initiator.wait_for("IKE phase1 established", Duration::from_secs(1));
    responder.wait_for("IKE phase1 established", Duration::from_secs(1));
    // Our inbound SA is the peer's outbound one.
    let (i_in, i_out) = spis(&i_line);
    let (r_in, r_out) = spis(&r_line);
    assert_eq!(
        (i_in.as_str(), i_out.as_str()),
        (r_out.as_str(), r_in.as_str())
    );

    let (code, i_log) = initiator.terminate();
    assert_eq!(code, 0, "initiator exit status; log:\n{}", i_log.join("\n"));
    responder.wait_for("IKE delete received", Duration::from_secs(5));
    responder.wait_for("IKE phase2 deleted", Duration::from_secs(5));
    responder.wait_for("IKE phase1 deleted", Duration::from_secs(5));
    let (code, r_log) = responder.terminate();
    assert_eq!(code, 0, "responder exit status; log:\n{}", r_log.join("\n"));

    for needle in ["IKE phase2 deleted", "IKE phase1 deleted", "keylog"] {
        assert!(
            i_log.iter().any(|l| l.contains(needle)),
            "initiator log lacks {needle:?}:\n{}",
            i_log.join("\n")
        );
    }
    for l in i_log.iter().chain(&r_log) {
        assert!(!l.contains(IKE_PSK), "secret logged: {l}");
        assert!(!l.contains("panicked"), "{l}");
    }

    // The key log: phase 1, then both ESP SAs (inbound from the peer, outbound to it).
    let keys = std::fs::read_to_string(&keylog).unwrap();
    let lines: Vec<&str> = keys.lines().collect();
    assert_eq!(lines.len(), 3, "{keys}");
    assert!(lines[0].starts_with("ikev1:\""), "{keys}");
    let (cookie, key) = lines[0]["ikev1:".len()..].split_once(',').unwrap();
    assert_eq!(cookie.len(), 18, "{keys}");
    assert!(key.len() >= 2 + 32, "{keys}");
    assert!(
        lines[1].starts_with(&format!(
            "esp:\"IPv4\",\"127.0.0.1\",\"127.0.0.2\",\"{i_in}\",\""
        )),
        "{keys}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "esp:\"IPv4\",\"127.0.0.2\",\"127.0.0.1\",\"{i_out}\",\""
        )),
        "{keys}"
    );
    (i_log, r_log, keys)
}

#[test]
fn ike_initiator_and_responder_establish_and_delete_with_a_psk() {
    let (i_log, r_log, _) = ike_pair(
        "ike-psk",
        &format!("[[ike.psk]]\npeer = \"{{peer}}\"\nsecret = \"{IKE_PSK}\"\n"),
    );
    let r = r_log.join("\n");
    assert!(r.contains("auth=PreSharedKey"), "{r}");
    assert!(
        r.contains("IKE SA up") && r.contains("peer_id=127.0.0.2"),
        "{r}"
    );
    assert!(i_log.iter().any(|l| l.contains("IKE connecting")));
}

#[test]
fn ike_initiator_and_responder_establish_with_certificates() {
    // Each node sends its certificate and the intermediate; both trust the root.
    let dir = std::env::temp_dir().join(format!("sras-cli-{}-ike-cert", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = |n: &str| std::fs::read_to_string(ike_fixture(n)).unwrap();
    for (node, cert) in [("127.0.0.1", "server"), ("127.0.0.2", "client")] {
        std::fs::write(
            dir.join(format!("{node}.pem")),
            pem(&format!("{cert}.pem")) + &pem("intermediate.pem"),
        )
        .unwrap();
        std::fs::copy(
            ike_fixture(&format!("{cert}.key.pem")),
            dir.join(format!("{node}.key")),
        )
        .unwrap();
    }
    let (_, r_log, _) = ike_pair(
        "ike-cert",
        &format!(
            "[ike.certificate]\ncert = \"{d}/{{me}}.pem\"\nkey = \"{d}/{{me}}.key\"\nca = [\"{}\"]\n",
            ike_fixture("ca.pem"),
            d = dir.display()
        ),
    );
    let r = r_log.join("\n");
    assert!(r.contains("auth=RsaSignature"), "{r}");
}
