//! What the driver does with the L2TP endpoint's events, and the log formatting they share.

use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use sras_l2tp::wire::{self, MessageType, ResultCode};
use sras_l2tp::{CloseReason, Event, SessionHandle, TunnelHandle, TunnelId};
use tracing::{debug, info};

use super::{Closing, Driver, Outcome, SessionEntry, TunnelEntry, CLOSE_GRACE};

impl Driver {
    pub(super) fn on_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::TunnelEstablished {
                tunnel,
                remote,
                peer_host_name,
                peer_tunnel_id,
            } => {
                let (local_id, peer_id) = self
                    .endpoint
                    .tunnel_ids(tunnel)
                    .unwrap_or((TunnelId(0), peer_tunnel_id));
                info!(
                    peer = %remote,
                    peer_host = ?peer_host_name,
                    local_tid = local_id.0,
                    peer_tid = peer_id.0,
                    "tunnel established"
                );
                self.tunnels.insert(
                    tunnel,
                    TunnelEntry {
                        remote,
                        local_id,
                        peer_id,
                    },
                );
            }
            Event::TunnelClosed { tunnel, reason } => {
                let entry = self.tunnels.remove(&tunnel);
                let ids = entry
                    .as_ref()
                    .map(|t| (t.local_id, t.peer_id))
                    .or_else(|| self.endpoint.tunnel_ids(tunnel));
                // A tunnel that never came up is only known to the client, by its server.
                let client_server = self
                    .client
                    .as_ref()
                    .filter(|c| c.tunnel == Some(tunnel))
                    .map(|c| c.opts.server);
                let remote = entry
                    .as_ref()
                    .map(|t| t.remote)
                    .or_else(|| self.endpoint.tunnel_remote(tunnel))
                    .or(client_server);
                info!(
                    peer = %Addr(remote),
                    local_tid = %Id(ids.map(|i| i.0 .0)),
                    peer_tid = %Id(ids.map(|i| i.1 .0)),
                    reason = %Reason(&reason),
                    "tunnel closed"
                );
                // Each session had its own SessionClosed first; this catches any link left over.
                let gone: Vec<SessionHandle> = self
                    .sessions
                    .iter()
                    .filter(|(_, s)| s.tunnel == tunnel)
                    .map(|(h, _)| *h)
                    .collect();
                self.sessions.retain(|_, s| s.tunnel != tunnel);
                if let Some(r) = remote {
                    self.sec_tunnel_closed(now, r);
                }
                self.client_tunnel_closed(now, tunnel, &reason);
                for s in gone {
                    self.ppp_session_gone(now, s);
                }
            }
            Event::TunnelRedirected { tunnel, to } => {
                info!(to = %to, "redirected by the server (StopCCN \"Try Another\"): opening a tunnel there");
                if let Some(t) = self.tunnels.get_mut(&tunnel) {
                    t.remote = to;
                }
            }
            Event::SessionEstablished {
                session,
                tunnel,
                info,
            } => {
                let t = self.tunnels.get(&tunnel);
                let tids = t
                    .map(|t| (t.local_id, t.peer_id))
                    .or_else(|| self.endpoint.tunnel_ids(tunnel));
                info!(
                    peer = %Addr(t.map(|t| t.remote).or_else(|| self.endpoint.tunnel_remote(tunnel))),
                    local_tid = %Id(tids.map(|i| i.0 .0)),
                    peer_tid = %Id(tids.map(|i| i.1 .0)),
                    local_sid = info.local_id.0,
                    peer_sid = info.peer_id.0,
                    call_serial = info.call_serial,
                    direction = ?info.direction,
                    "session established"
                );
                debug!(
                    local_sid = info.local_id.0,
                    tx_connect_speed = info.tx_connect_speed,
                    calling_number = ?info.calling_number,
                    called_number = ?info.called_number,
                    "session details"
                );
                let line = format!(
                    "ESTABLISHED tunnel={}/{} session={}/{}",
                    Id(tids.map(|i| i.0 .0)),
                    Id(tids.map(|i| i.1 .0)),
                    info.local_id.0,
                    info.peer_id.0
                );
                self.last_session_id += 1;
                self.sessions.insert(
                    session,
                    SessionEntry {
                        id: self.last_session_id,
                        since: now,
                        tunnel,
                        local_id: info.local_id,
                        peer_id: info.peer_id,
                        frames_rx: 0,
                        bytes_rx: 0,
                    },
                );
                if self.client.is_some() {
                    self.client_session_established(now, session, &line);
                } else {
                    self.ppp_start(now, session);
                }
            }
            Event::SessionClosed {
                session,
                tunnel: _,
                reason,
            } => {
                let s = self.sessions.remove(&session);
                let ids = s
                    .as_ref()
                    .map(|s| (s.local_id, s.peer_id))
                    .or_else(|| self.endpoint.session_ids(session));
                info!(
                    local_sid = %Id(ids.map(|i| i.0 .0)),
                    peer_sid = %Id(ids.map(|i| i.1 .0).filter(|&p| p != 0)),
                    frames_rx = s.as_ref().map_or(0, |s| s.frames_rx),
                    bytes_rx = s.as_ref().map_or(0, |s| s.bytes_rx),
                    reason = %Reason(&reason),
                    "session closed"
                );
                self.client_session_closed(now, session, &reason);
                self.ppp_session_gone(now, session);
                if let Some(tunnel) = s.map(|s| s.tunnel) {
                    self.close_if_empty(now, tunnel);
                }
            }
            Event::LinkInfoSet {
                session,
                send_accm,
                receive_accm,
            } => {
                let s = self.sessions.get(&session);
                debug!(
                    local_sid = %Id(s.map(|s| s.local_id.0)),
                    send_accm = format_args!("{send_accm:#010x}"),
                    receive_accm = format_args!("{receive_accm:#010x}"),
                    "Set-Link-Info received"
                );
            }
            Event::WanErrorNotified { session } => {
                let s = self.sessions.get(&session);
                info!(local_sid = %Id(s.map(|s| s.local_id.0)), "WAN-Error-Notify received");
            }
            other => debug!(event = ?other, "event"),
        }
    }

    fn client_session_established(&mut self, now: Instant, session: SessionHandle, line: &str) {
        let Some(c) = &mut self.client else { return };
        if c.session != Some(session) || c.established {
            return;
        }
        c.established = true;
        println!("{line}");
        info!("L2TP session up: starting PPP (LCP)");
        // The ICCN that established the call on our side must reach the LNS before our first
        // LCP Configure-Request (data leaves before control in `flush`): the LNS drops data
        // for a call it has not seen established, and LCP would wait for its 3 s restart.
        while let Some(t) = self.endpoint.poll_transmit() {
            self.out.push_back(t);
        }
        self.ppp_start(now, session);
    }

    fn client_session_closed(
        &mut self,
        now: Instant,
        session: SessionHandle,
        reason: &CloseReason,
    ) {
        let Some(c) = &mut self.client else { return };
        if c.session != Some(session) {
            return;
        }
        c.session = None;
        // Closed with its tunnel: the TunnelClosed event that follows says why.
        if self.closing.is_none() && !matches!(reason, CloseReason::TunnelClosed) {
            let what = if c.ppp_up {
                "session closed"
            } else if c.established {
                "session closed before the PPP link was up"
            } else {
                "session closed before it was established"
            };
            let outcome = Outcome::Failed(format!("{what}: {}", Reason(reason)));
            self.close_client(now, outcome, wire::result::GENERAL_REQUEST, "call ended");
        }
    }

    fn client_tunnel_closed(&mut self, now: Instant, tunnel: TunnelHandle, reason: &CloseReason) {
        let Some(c) = &mut self.client else { return };
        if c.tunnel != Some(tunnel) {
            return;
        }
        c.tunnel = None;
        c.session = None;
        if self.closing.is_none() {
            let what = if c.ppp_up {
                "tunnel closed"
            } else if c.established {
                "tunnel closed before the PPP link was up"
            } else {
                "tunnel closed before the session was established"
            };
            // Nothing left to close: finish once the endpoint has acknowledged what it must.
            self.closing = Some(Closing {
                deadline: now + CLOSE_GRACE,
                outcome: Outcome::Failed(format!("{what}: {}", Reason(reason))),
            });
        }
    }
}

/// Whether `datagram` is an SCCRQ (only for the redirect log line).
pub(super) fn is_sccrq(datagram: &[u8]) -> bool {
    match wire::Header::parse(datagram) {
        Ok((h, body)) => {
            h.control
                && datagram
                    .get(body)
                    .and_then(wire::peek_message_type)
                    .is_some_and(|m| m == MessageType::Sccrq)
        }
        Err(_) => false,
    }
}

/// An optional number in a log line: `?` when unknown.
pub(super) struct Id(Option<u16>);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("?"),
        }
    }
}

/// An optional address in a log line.
pub(super) struct Addr(Option<SocketAddr>);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("?"),
        }
    }
}

/// A close reason for the log (peer-supplied text is escaped).
pub(super) struct Reason<'a>(&'a CloseReason);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            CloseReason::Peer(rc) => write!(f, "closed by the peer ({})", Rc(rc)),
            CloseReason::Local(rc) => write!(f, "closed by us ({})", Rc(rc)),
            CloseReason::Timeout => f.write_str("peer unreachable (retransmissions exhausted)"),
            CloseReason::TunnelClosed => f.write_str("its tunnel closed"),
            CloseReason::TieBreakerLost => f.write_str("lost the tie-breaker to the peer's tunnel"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A Result Code AVP for the log.
pub(super) struct Rc<'a>(&'a ResultCode);

impl fmt::Display for Rc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "result {}", self.0.result)?;
        if let Some(e) = self.0.error {
            write!(f, ", error {e}")?;
        }
        if let Some(m) = &self.0.message {
            write!(f, ", {m:?}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sccrq_is_recognized() {
        // T, L, S, version 2; length 20; tunnel 0, session 0; Ns 0, Nr 0; Message Type AVP = 1.
        let sccrq = [
            0xc8, 0x02, 0x00, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x08, 0, 0, 0, 0, 0x00, 0x01,
        ];
        assert!(is_sccrq(&sccrq));
        let mut stopccn = sccrq;
        stopccn[19] = 4;
        assert!(!is_sccrq(&stopccn));
        assert!(!is_sccrq(&sccrq[..12]));
        assert!(!is_sccrq(&[0x00, 0x02, 0, 1, 0, 1, 0xff, 0x03]));
    }
}
