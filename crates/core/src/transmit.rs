use std::net::SocketAddr;

/// A datagram a sans-IO machine wants sent. The caller sends `payload` to `destination`,
/// from `source` when given (a floated local port or address, RFC 3193 §4), else from the
/// socket the peer's traffic arrived on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send.
    pub destination: SocketAddr,
    /// The local address to send from, if the machine chose one.
    pub source: Option<SocketAddr>,
    /// The datagram (UDP payload).
    pub payload: Vec<u8>,
}
