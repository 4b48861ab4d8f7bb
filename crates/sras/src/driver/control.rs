//! Answers the control socket ([`crate::control`]): `sras sessions` lists the established
//! sessions from the driver's own tables; `sras disconnect ID` ends one as the server would for
//! any other reason: LCP Terminate-Request, then CDN, then (the tunnel's last session gone)
//! StopCCN, and the peer's SAs deleted after that (seed 000 §5, RFC 3193 §3.1).

use std::fmt::Write as _;
use std::time::Instant;

use sras_l2tp::TunnelHandle;
use tracing::info;

use super::{result_code, Driver};
use crate::control::{Command, Request};
use sras_l2tp::wire;

impl Driver {
    pub(super) fn on_control(&mut self, now: Instant, r: Request) {
        let answer = match r.command {
            Command::Sessions => self.sessions_table(now),
            Command::Disconnect(id) => self.disconnect(now, id),
        };
        // The client may have gone; nothing to do then.
        let _ = r.reply.send(answer);
    }

    /// `ok`, a header line, and one line per session, oldest first.
    fn sessions_table(&self, now: Instant) -> String {
        let mut rows: Vec<_> = self.sessions.iter().collect();
        rows.sort_by_key(|(_, s)| s.id);
        let mut out = String::from("ok\n");
        let _ = writeln!(
            out,
            "{:<6} {:<20} {:<15} {:<21} {:<28} {:>9} {:>12}  IPV6",
            "ID", "USER", "ADDRESS", "PEER", "IPSEC", "UPTIME", "RX BYTES"
        );
        for (handle, s) in rows {
            let (user, lease) = self.ppp.summary(*handle);
            let (peer, ipsec) = self.where_from(*handle);
            let up = now.saturating_duration_since(s.since).as_secs();
            let _ = writeln!(
                out,
                "{:<6} {:<20} {:<15} {:<21} {:<28} {:>9} {:>12}  {}",
                s.id,
                user.unwrap_or("-"),
                lease.map_or_else(|| "-".into(), |a| a.to_string()),
                peer,
                ipsec,
                format!("{}:{:02}:{:02}", up / 3600, up / 60 % 60, up % 60),
                s.bytes_rx,
                self.ppp.prefix6(*handle).as_deref().unwrap_or("-")
            );
        }
        out
    }

    /// Where `session` comes from (the peer's IKE address and port with IPsec, its L2TP address
    /// without) and through what (the ESP suite, `nat-t` when ESP goes in UDP).
    pub(super) fn where_from(&self, session: sras_l2tp::SessionHandle) -> (String, String) {
        let remote = self
            .sessions
            .get(&session)
            .and_then(|s| self.tunnels.get(&s.tunnel))
            .map(|t| t.remote);
        let info = remote.and_then(|r| self.sec.as_ref()?.ipsec.peer_info(r));
        let peer = match (&info, remote) {
            (Some(i), _) if i.udp => i.ike_remote.to_string(),
            (Some(i), _) => i.ike_remote.ip().to_string(),
            (None, Some(r)) => r.to_string(),
            (None, None) => "-".into(),
        };
        let ipsec = match &info {
            Some(i) => format!(
                "{:?}/{:?}{}",
                i.encryption,
                i.integrity,
                if i.udp { " nat-t" } else { "" }
            ),
            None => "none (plain L2TP)".into(),
        };
        (peer, ipsec)
    }

    /// The daemon's number of `session` and how long it has been up.
    pub(super) fn session_number(
        &self,
        session: sras_l2tp::SessionHandle,
        now: Instant,
    ) -> (u64, u64) {
        self.sessions.get(&session).map_or((0, 0), |s| {
            (s.id, now.saturating_duration_since(s.since).as_secs())
        })
    }

    /// Closes the PPP link of session `id` (its LinkDown sends the CDN); the tunnel goes once it
    /// has no session left.
    fn disconnect(&mut self, now: Instant, id: u64) -> String {
        let Some((&handle, s)) = self.sessions.iter().find(|(_, s)| s.id == id) else {
            return format!("error: no session {id} (see `sras sessions`)\n");
        };
        let tunnel = s.tunnel;
        let (user, _) = self.ppp.summary(handle);
        info!(
            session = id,
            user = user.unwrap_or("-"),
            "disconnecting (control socket)"
        );
        if !self.close_when_empty.contains(&tunnel) {
            self.close_when_empty.push(tunnel);
        }
        if !self.ppp.has_link(handle) {
            // No PPP link (not started yet): the call itself.
            let rc = result_code(
                wire::result::ADMINISTRATIVE,
                "disconnected by the administrator",
            );
            let _ = self.endpoint.close_session(now, handle, rc);
        } else {
            self.close_link(now, handle, "disconnected by the administrator");
        }
        format!("ok\ndisconnecting session {id}\n")
    }

    /// After a session closed: its tunnel goes too when it was marked by `disconnect` and has no
    /// other session.
    pub(super) fn close_if_empty(&mut self, now: Instant, tunnel: TunnelHandle) {
        let Some(i) = self.close_when_empty.iter().position(|&t| t == tunnel) else {
            return;
        };
        if self.sessions.values().any(|s| s.tunnel == tunnel) {
            return;
        }
        self.close_when_empty.swap_remove(i);
        let rc = result_code(wire::result::GENERAL_REQUEST, "last session disconnected");
        let _ = self.endpoint.close_tunnel(now, tunnel, rc);
    }
}
