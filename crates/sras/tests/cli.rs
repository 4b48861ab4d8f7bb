//! End-to-end tests of the `sras` binary: a real server and a real client over loopback UDP,
//! and `check-config` on good and bad files.
// These tests wait on real processes, so they read the real clock.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::PathBuf;
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
    fn start(config: &PathBuf) -> Self {
        let mut child = Command::new(SRAS)
            .args(["server", "-c"])
            .arg(config)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sras server");
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
                    "server never logged {needle:?}; log:\n{}",
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
                    "server did not exit after SIGTERM; log:\n{}",
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
fn assert_established_line(stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {stdout:?}");
    let rest = lines[0]
        .strip_prefix("ESTABLISHED tunnel=")
        .unwrap_or_else(|| panic!("stdout: {stdout:?}"));
    let (tunnel, session) = rest
        .split_once(" session=")
        .unwrap_or_else(|| panic!("stdout: {stdout:?}"));
    for pair in [tunnel, session] {
        let (a, b) = pair
            .split_once('/')
            .unwrap_or_else(|| panic!("stdout: {stdout:?}"));
        for id in [a, b] {
            let id: u16 = id
                .parse()
                .unwrap_or_else(|_| panic!("not an ID: {id:?} in {stdout:?}"));
            assert_ne!(id, 0, "stdout: {stdout:?}");
        }
    }
}

fn server_and_client(test: &str, extra: &str) {
    let port = free_port();
    let server_cfg = temp_file(
        test,
        "server.toml",
        &format!("[l2tp]\nlisten = \"127.0.0.1:{port}\"\nhost_name = \"test-lns\"\nhello_interval_secs = 0\n{extra}"),
    );
    let client_cfg = temp_file(
        test,
        "client.toml",
        &format!("[l2tp]\nhost_name = \"test-lac\"\nhello_interval_secs = 0\n{extra}"),
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
    assert_established_line(&stdout);
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
    for f in ["server.toml", "client.toml"] {
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
        &format!("[l2tp]\nlisten = \"127.0.0.1:{port}\"\n"),
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
