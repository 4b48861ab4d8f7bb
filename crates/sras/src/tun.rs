//! The TUN device (Linux `/dev/net/tun`, `IFF_TUN | IFF_NO_PI`): one IP packet per read or
//! write, no packet-information header.
//!
//! The device is created with the one `TUNSETIFF` ioctl (the only `unsafe` of the daemon);
//! its MTU, address, state and routes are set with iproute2's `ip` command, which every Linux
//! distribution ships. It is not persistent: it and its routes disappear when the [`Tun`] is
//! dropped (the file descriptor closed), so nothing outlives the daemon.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::process::Command;

use tokio::io::unix::AsyncFd;

/// What to create.
#[derive(Debug, Clone)]
pub(crate) struct TunSetup {
    /// Interface name; `%d` is replaced by the kernel with the first free number.
    pub(crate) name: String,
    /// MTU.
    pub(crate) mtu: u16,
    /// Our address on the device, as address/32.
    pub(crate) address: Option<Ipv4Addr>,
    /// The point-to-point peer, if any.
    pub(crate) peer: Option<Ipv4Addr>,
    /// Networks routed into the device.
    pub(crate) routes: Vec<(Ipv4Addr, u8)>,
    /// Our IPv6 address on the device, as address/128 (server: `ppp.ipv6_prefix`'s `::1`).
    pub(crate) address6: Option<Ipv6Addr>,
    /// IPv6 networks routed into the device.
    pub(crate) routes6: Vec<(Ipv6Addr, u8)>,
}

/// An open TUN device.
pub(crate) struct Tun {
    fd: AsyncFd<File>,
    name: String,
}

const IFF_TUN: i16 = 0x0001;
const IFF_NO_PI: i16 = 0x1000;
/// `_IOW('T', 202, int)`.
const TUNSETIFF: u64 = 0x4004_54ca;

/// Attaches `file` (an open `/dev/net/tun`) to a new TUN interface named `name`; returns the
/// name the kernel gave it.
#[allow(unsafe_code)]
fn tunsetiff(file: &File, name: &str) -> std::io::Result<String> {
    // struct ifreq: 16 bytes of name, then the flags (a short) in a 24-byte union.
    let mut ifr = [0u8; 40];
    let n = name.as_bytes();
    if n.len() > 15 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "interface name longer than 15 bytes",
        ));
    }
    ifr[..n.len()].copy_from_slice(n);
    ifr[16..18].copy_from_slice(&(IFF_TUN | IFF_NO_PI).to_ne_bytes());
    // SAFETY: TUNSETIFF reads and writes a struct ifreq (40 bytes on Linux); `ifr` is that many
    // bytes, lives across the call, and the descriptor is open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, ifr.as_mut_ptr()) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let end = ifr[..16].iter().position(|&b| b == 0).unwrap_or(16);
    Ok(String::from_utf8_lossy(&ifr[..end]).into_owned())
}

/// Registers the device with the runtime's reactor.
#[allow(unsafe_code)]
fn register(file: File) -> std::io::Result<AsyncFd<File>> {
    // SAFETY: the AsyncFd owns the File, so the descriptor stays open exactly as long as it is
    // registered (it is deregistered before the File closes it on drop).
    unsafe { AsyncFd::register(file) }.map_err(|e| e.into_parts().1)
}

/// Runs `ip ARGS`, turning a failure into an error that names the command.
fn ip(args: &[&str]) -> std::io::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run `ip` (iproute2): {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    Err(std::io::Error::other(format!(
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

impl Tun {
    /// Creates the device, sets its MTU and address, brings it up and adds the routes.
    /// Must be called inside a tokio runtime.
    pub(crate) fn create(setup: &TunSetup) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")?;
        let name = tunsetiff(&file, &setup.name)?;
        let mtu = setup.mtu.to_string();
        ip(&["link", "set", "dev", &name, "mtu", &mtu])?;
        // No kernel-made link-local address, so no router solicitations or MLD reports of the
        // kernel's own into the tunnel: sras speaks Neighbor Discovery on the link itself
        // (icmp6). A kernel without IPv6 refuses this; nothing else depends on it.
        let _ = ip(&["link", "set", "dev", &name, "addrgenmode", "none"]);
        if let Some(a) = setup.address {
            let local = format!("{a}/32");
            match setup.peer {
                Some(p) => {
                    let peer = format!("{p}/32");
                    ip(&["addr", "add", &local, "peer", &peer, "dev", &name])?;
                }
                None => ip(&["addr", "add", &local, "dev", &name])?,
            }
        }
        ip(&["link", "set", "dev", &name, "up"])?;
        let tun = Self {
            fd: register(file)?,
            name,
        };
        for (net, prefix) in &setup.routes {
            tun.add_route(*net, *prefix)?;
        }
        if let Some(a) = setup.address6 {
            tun.add_address6(a, 128)?;
        }
        for (net, prefix) in &setup.routes6 {
            tun.add_route6(*net, *prefix)?;
        }
        Ok(tun)
    }

    /// The interface name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Reads one IP packet.
    pub(crate) async fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|f| f.get_ref().read(buf)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Reads one IP packet if one is waiting (`WouldBlock` if not).
    pub(crate) fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.fd.get_ref().read(buf)
    }

    /// Writes one IP packet without waiting: `Ok(false)` if the device queue is full.
    pub(crate) fn try_send(&self, packet: &[u8]) -> std::io::Result<bool> {
        match self.fd.get_ref().write(packet) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Routes `net/prefix` into the device (replacing a route to the same network).
    pub(crate) fn add_route(&self, net: Ipv4Addr, prefix: u8) -> std::io::Result<()> {
        let dst = format!("{net}/{prefix}");
        ip(&["route", "replace", &dst, "dev", &self.name])
    }

    /// Adds the IPv6 address `a/prefix` to the device (`nodad`: a point-to-point link whose
    /// other end takes only its own /64 has no one to collide with).
    pub(crate) fn add_address6(&self, a: Ipv6Addr, prefix: u8) -> std::io::Result<()> {
        let local = format!("{a}/{prefix}");
        ip(&["-6", "addr", "replace", &local, "dev", &self.name, "nodad"])
    }

    /// Routes the IPv6 network `net/prefix` into the device.
    pub(crate) fn add_route6(&self, net: Ipv6Addr, prefix: u8) -> std::io::Result<()> {
        let dst = format!("{net}/{prefix}");
        ip(&["-6", "route", "replace", &dst, "dev", &self.name])
    }

    /// Removes the route to `net/prefix` through the device; a missing route is fine.
    #[allow(dead_code)]
    pub(crate) fn remove_route(&self, net: Ipv4Addr, prefix: u8) -> std::io::Result<()> {
        let dst = format!("{net}/{prefix}");
        let _ = ip(&["route", "del", &dst, "dev", &self.name]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An IPv4 header checksum (RFC 791).
    fn checksum(h: &[u8]) -> u16 {
        let mut sum: u32 = h
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn packets_cross_the_device_both_ways() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let tun = Tun::create(&TunSetup {
                name: "srastest%d".into(),
                mtu: 1400,
                address: Some(Ipv4Addr::new(10, 213, 0, 1)),
                peer: Some(Ipv4Addr::new(10, 213, 0, 2)),
                routes: vec![(Ipv4Addr::new(10, 213, 1, 0), 24)],
                address6: Some("fd00:213::1".parse().unwrap()),
                routes6: vec![("fd00:213:1::".parse().unwrap(), 48)],
            })
            .expect("TUN device (the tests run as root: CI provides /dev/net/tun)");
            assert!(tun.name().starts_with("srastest"));
            // Out: a datagram routed into the device.
            let s = std::net::UdpSocket::bind("10.213.0.1:0").unwrap();
            s.send_to(b"into the tunnel", "10.213.1.5:9").unwrap();
            let mut buf = vec![0u8; 2048];
            let n = loop {
                let n = tokio::time::timeout(Duration::from_secs(5), tun.recv(&mut buf))
                    .await
                    .expect("the datagram reaches the device")
                    .unwrap();
                // Skip anything else the kernel sends (IPv6 router solicitations...).
                if buf[0] >> 4 == 4 && buf[9] == 17 {
                    break n;
                }
            };
            assert_eq!(&buf[16..20], &[10, 213, 1, 5]);
            assert_eq!(&buf[n - 15..n], b"into the tunnel");
            // In: a datagram written to the device reaches a local socket.
            let rx = std::net::UdpSocket::bind("10.213.0.1:40001").unwrap();
            rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let payload = b"out of the tunnel";
            let mut p = vec![
                0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 10, 213, 1, 5, 10, 213, 0, 1,
            ];
            let total = (20 + 8 + payload.len()) as u16;
            p[2..4].copy_from_slice(&total.to_be_bytes());
            let c = checksum(&p);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            p.extend_from_slice(&9999u16.to_be_bytes());
            p.extend_from_slice(&40001u16.to_be_bytes());
            p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            p.extend_from_slice(&[0, 0]); // no UDP checksum
            p.extend_from_slice(payload);
            assert!(tun.try_send(&p).unwrap());
            let mut got = [0u8; 64];
            let (m, from) = rx
                .recv_from(&mut got)
                .expect("the packet reaches the socket");
            assert_eq!(&got[..m], payload);
            assert_eq!(from, "10.213.1.5:9999".parse().unwrap());
            // IPv6: the device's address and route work, and the kernel sends nothing of
            // its own (no link-local address, so no router solicitation or MLD report).
            let s6 = std::net::UdpSocket::bind("[fd00:213::1]:0").unwrap();
            s6.send_to(b"v6 into the tunnel", "[fd00:213:1::5]:9")
                .unwrap();
            let n = tokio::time::timeout(Duration::from_secs(5), tun.recv(&mut buf))
                .await
                .expect("the IPv6 datagram reaches the device")
                .unwrap();
            assert_eq!(buf[0] >> 4, 6, "the first packet out is ours");
            assert_eq!(buf[6], 17);
            assert_eq!(
                &buf[24..40],
                &"fd00:213:1::5".parse::<Ipv6Addr>().unwrap().octets()
            );
            assert_eq!(&buf[n - 18..n], b"v6 into the tunnel");
        });
    }
}
