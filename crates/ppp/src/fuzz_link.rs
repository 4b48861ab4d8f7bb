//! The stateful fuzz target (`fuzz/fuzz_targets/ppp_link.rs`): arbitrary frame sequences,
//! with time passing, fed to a server link whose authentication requests are answered at once
//! (accepting the one known password). Compiled only for tests and with `__fuzzing`.
//!
//! Input: the first byte picks the authentication method the server asks for; then records:
//! - `0x80 | n`: let `n` × 250 ms pass (`handle_timeout`);
//! - `0`, `len` (u16, big-endian), `len` bytes: a PPP frame from the peer.
//!
//! Checked after every step: no panic, every frame the link sends parses, the deadline is sane.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::auth::{AuthMethod, Verdict};
use crate::link::{Event, Link, LinkConfig, Role};
use crate::wire::parse_frame;

/// The password the fuzz server accepts (for user "alice").
pub const FUZZ_PASSWORD: &str = "wonderland";

/// The method for a selector byte.
pub fn fuzz_method(selector: u8) -> AuthMethod {
    [
        AuthMethod::MsChapV2,
        AuthMethod::ChapMd5,
        AuthMethod::Pap,
        AuthMethod::MsChapV1,
        AuthMethod::Eap,
    ][usize::from(selector % 5)]
}

/// The server configuration of the target (and of its recorded seeds).
pub fn fuzz_server_config(selector: u8) -> LinkConfig {
    LinkConfig {
        role: Role::Server,
        auth_methods: vec![fuzz_method(selector)],
        local_ipv4: Some(Ipv4Addr::new(198, 51, 100, 1)),
        dns: [Some(Ipv4Addr::new(198, 51, 100, 53)), None],
        ipv6: selector & 0x10 != 0,
        reauth_interval: (selector & 0x20 != 0).then_some(Duration::from_secs(5)),
        rng_seed: [3; 32],
        ..LinkConfig::default()
    }
}

/// Runs one input against a fresh server link opened at `start`; returns the events it emitted.
pub fn fuzz_link_at(start: Instant, data: &[u8]) -> Vec<Event> {
    let mut events = Vec::new();
    let Some((&selector, mut rest)) = data.split_first() else {
        return events;
    };
    let mut link = Link::new(fuzz_server_config(selector));
    let mut now = start;
    link.open(now);
    loop {
        while let Some(frame) = link.poll_transmit() {
            assert!(
                parse_frame(&frame).is_ok(),
                "sent an unparseable frame {frame:02x?}"
            );
        }
        while let Some(e) = link.poll_event() {
            if let Event::AuthRequested(r) = &e {
                let verdict = if r.user == "alice" {
                    r.accept_with_password(FUZZ_PASSWORD, Some(Ipv4Addr::new(198, 51, 100, 10)))
                } else {
                    Verdict::Reject { message: None }
                };
                link.complete_auth(now, r.id, verdict);
            }
            events.push(e);
        }
        if let Some(at) = link.poll_timeout() {
            assert!(
                at + Duration::from_secs(3600) > now,
                "deadline far in the past"
            );
        }
        let Some((&op, tail)) = rest.split_first() else {
            break;
        };
        if op & 0x80 != 0 {
            now += Duration::from_millis(250) * u32::from(op & 0x7f);
            link.handle_timeout(now);
            rest = tail;
        } else {
            let Some(len) = tail
                .get(..2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            else {
                break;
            };
            let Some(frame) = tail.get(2..2 + len) else {
                break;
            };
            let _ = link.handle_frame(now, frame);
            rest = &tail[2 + len..];
        }
    }
    events
}

/// Runs one input (the fuzz entry point).
pub fn fuzz_link(data: &[u8]) {
    #[allow(clippy::disallowed_methods)] // the harness is the caller: it owns the clock
    let start = Instant::now();
    fuzz_link_at(start, data);
}

/// Appends a frame record of the input format.
pub fn fuzz_record(frame: &[u8], out: &mut Vec<u8>) {
    let n = frame.len().min(usize::from(u16::MAX));
    out.push(0);
    out.extend_from_slice(&(n as u16).to_be_bytes());
    out.extend_from_slice(&frame[..n]);
}
