//! The sras server and the sras client end to end in network namespaces (tests/e2e/netns.sh):
//! IKE, ESP (raw and in UDP), L2TP, PPP, TUN devices on both sides, a ping and a 100 MB TCP
//! transfer to a host behind the server with the SHA-256 compared at both ends, then the
//! client's teardown and a check that the server kept no SA, tunnel, session or address.
//! Needs root, iproute2 and python3 (CI runs as root and installs them).
#![allow(missing_docs)]

use std::process::Command;

fn run(mode: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/e2e/netns.sh");
    let out = Command::new("bash")
        .args([script, env!("CARGO_BIN_EXE_sras"), "100", mode])
        .output()
        .expect("run tests/e2e/netns.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_owned();
    println!("{stdout}");
    assert!(
        out.status.success() && last.starts_with("E2E: passed"),
        "{last}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Both modes in one test: they share the namespace names, so they must not run in parallel.
#[test]
fn server_and_client_in_namespaces_raw_esp_then_nat_t() {
    run("esp");
    run("natt");
}
