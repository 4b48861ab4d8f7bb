//! The raw ESP socket: IP protocol 50 over IPv4 (RFC 4303 §2), for peers not behind a NAT.
//!
//! `socket(AF_INET, SOCK_RAW, IPPROTO_ESP)` without `IP_HDRINCL`: the kernel writes the IPv4
//! header of what we send, and hands us every ESP datagram with its IPv4 header (stripped by
//! [`sras_esp::raw::strip_ipv4`]). The kernels sras runs on have no ESP of their own, so nothing
//! else consumes these packets. Needs root or `CAP_NET_RAW`.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

/// IP protocol number of ESP.
const IPPROTO_ESP: i32 = 50;

/// A raw IPv4 socket for ESP.
pub(crate) struct RawEsp {
    /// A datagram socket as far as tokio is concerned: recv_from/send_to work the same.
    socket: UdpSocket,
}

impl RawEsp {
    /// Opens the socket, bound to `local` (0.0.0.0 = every address). Call inside a runtime.
    pub(crate) fn bind(local: Ipv4Addr) -> std::io::Result<Self> {
        Self::bind_protocol(local, IPPROTO_ESP)
    }

    /// A raw IPv4 socket for ICMP: every ICMP message the host receives, IP header included
    /// (the outer path's "fragmentation needed").
    pub(crate) fn bind_icmp(local: Ipv4Addr) -> std::io::Result<Self> {
        Self::bind_protocol(local, 1)
    }

    fn bind_protocol(local: Ipv4Addr, protocol: i32) -> std::io::Result<Self> {
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(protocol)))?;
        s.set_nonblocking(true)?;
        s.bind(&SocketAddr::V4(SocketAddrV4::new(local, 0)).into())?;
        // Bursts of ESP must not be dropped by a small default buffer.
        let _ = s.set_recv_buffer_size(4 << 20);
        let _ = s.set_send_buffer_size(4 << 20);
        let socket = UdpSocket::from_std(std::net::UdpSocket::from(s))?;
        Ok(Self { socket })
    }

    /// Receives one datagram, IPv4 header included; returns its length and source.
    pub(crate) async fn recv(&self, buf: &mut [u8]) -> std::io::Result<(usize, Ipv4Addr)> {
        let (n, from) = self.socket.recv_from(buf).await?;
        let src = match from {
            SocketAddr::V4(a) => *a.ip(),
            SocketAddr::V6(a) => a.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
        };
        Ok((n, src))
    }

    /// The socket's descriptor, for batched I/O ([`crate::mmsg`]).
    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.socket.as_raw_fd()
    }

    /// Sends `esp` (from the SPI) to `dst` as one IPv4 packet with protocol 50.
    pub(crate) async fn send_to(&self, esp: &[u8], dst: Ipv4Addr) -> std::io::Result<()> {
        self.socket
            .send_to(esp, SocketAddr::V4(SocketAddrV4::new(dst, 0)))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_goes_out_and_comes_back_with_its_ipv4_header() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let raw = RawEsp::bind(Ipv4Addr::LOCALHOST)
                .expect("raw ESP socket (the tests run as root: CI provides it)");
            let mut esp = vec![0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1];
            esp.extend((0..32u8).map(|i| i.wrapping_mul(7)));
            raw.send_to(&esp, Ipv4Addr::LOCALHOST).await.unwrap();
            let mut buf = vec![0u8; 2048];
            let (n, src) =
                tokio::time::timeout(std::time::Duration::from_secs(5), raw.recv(&mut buf))
                    .await
                    .expect("our own ESP packet comes back on loopback")
                    .unwrap();
            assert_eq!(src, Ipv4Addr::LOCALHOST);
            assert_eq!(buf[9], 50, "IPv4 protocol field: ESP");
            let parsed = sras_esp::raw::strip_ipv4(&buf[..n]).unwrap();
            assert_eq!(parsed.esp, &esp[..]);
        });
    }
}
