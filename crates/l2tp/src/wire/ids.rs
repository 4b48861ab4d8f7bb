//! Identifier newtypes (STYLE.md 2.4: never a bare u16 for a wire identifier).

/// A Tunnel ID (RFC 2661 §3.1): local significance, chosen by the receiver of traffic.
/// Zero means "not yet assigned" (§4.4.3 Assigned Tunnel ID MUST NOT be 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TunnelId(pub u16);

/// A Session ID (RFC 2661 §3.1), scoped to its tunnel; zero means "the tunnel itself".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SessionId(pub u16);
