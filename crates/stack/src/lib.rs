//! The L2TP/IPsec composition of sras as a sans-IO library: the IKEv1 endpoint (sras-ike) and
//! the ESP SAs it negotiates (sras-esp), bound to the L2TP tunnels they protect (RFC 3193 §3,
//! §4; seed 001; the Secure Remote Access Server of seed 000).
//!
//! [`Ipsec`] sits between the sockets and the L2TP endpoint. Inbound it takes IKE datagrams
//! (UDP 500, and UDP 4500 behind the non-ESP marker) and ESP packets (raw protocol 50, or in
//! UDP/4500), opens ESP in place, and hands the L2TP datagram inside to the caller together
//! with the *peer key*: the address the L2TP endpoint knows this peer by. Outbound it seals the
//! L2TP datagrams the caller addresses to a peer key, in place.
//!
//! The peer key is what binds a tunnel to its SA (seed 001 §3.3): it is derived from the SA a
//! packet came through, never from addresses inside the packet — the peer's outer address and
//! NAT-T port when ESP is in UDP, its address and L2TP port otherwise. Several clients behind one
//! NAT, all sending L2TP from port 1701, arrive through different SAs with different NAT-T
//! ports and so are different peers, each with its own tunnels. An L2TP packet that names a
//! tunnel of another peer fails the L2TP endpoint's own peer check: a tunnel set up through
//! one SA is unreachable through any other.
//!
//! The contract of the other sras protocol crates holds: no sockets, clocks or threads; the
//! caller passes `now`, drains [`Ipsec::poll_transmit`], [`Ipsec::poll_event`] and
//! [`Ipsec::poll_timeout`].
#![forbid(unsafe_code)]

pub mod icmp6;
pub mod ipsec;
pub mod mtu;

pub use ipsec::{
    Delivered, Destination, DropReason, Event, Ipsec, PeerInfo, SealError, Sealed, Stats, HEADROOM,
    TAILROOM,
};
