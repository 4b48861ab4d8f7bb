//! Batched datagram I/O: `recvmmsg` and `sendmmsg` (Linux), so that a burst of ESP costs one
//! system call each way instead of one per packet. The buffers are allocated once, with the
//! batch; nothing is allocated per packet.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Datagrams per system call.
pub(crate) const BATCH: usize = 32;
/// Room per datagram: an ESP packet of a 9000-byte TUN MTU, reassembled, fits.
pub(crate) const SLOT: usize = 9216;

fn to_sockaddr(a: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid (unspecified) value.
    #[allow(unsafe_code)]
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage, which is aligned for it.
            #[allow(unsafe_code)]
            unsafe {
                std::ptr::write((&raw mut ss).cast::<libc::sockaddr_in>(), sin);
            }
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage, which is aligned for it.
            #[allow(unsafe_code)]
            unsafe {
                std::ptr::write((&raw mut ss).cast::<libc::sockaddr_in6>(), sin6);
            }
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

fn from_sockaddr(ss: &libc::sockaddr_storage) -> SocketAddr {
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            #[allow(unsafe_code)]
            let sin = unsafe { &*(std::ptr::from_ref(ss).cast::<libc::sockaddr_in>()) };
            SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(sin.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            #[allow(unsafe_code)]
            let sin6 = unsafe { &*(std::ptr::from_ref(ss).cast::<libc::sockaddr_in6>()) };
            SocketAddr::V6(SocketAddrV6::new(
                sin6.sin6_addr.s6_addr.into(),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            ))
        }
        _ => SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
    }
}

/// Datagrams to send, gathered, then sent with one `sendmmsg`.
pub(crate) struct SendBatch {
    data: Vec<u8>,
    lens: Vec<usize>,
    addrs: Vec<(libc::sockaddr_storage, libc::socklen_t)>,
}

impl std::fmt::Debug for SendBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SendBatch({} queued)", self.lens.len())
    }
}

impl SendBatch {
    pub(crate) fn new() -> Self {
        Self {
            data: vec![0; BATCH * SLOT],
            lens: Vec::with_capacity(BATCH),
            addrs: Vec::with_capacity(BATCH),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.lens.len() == BATCH
    }

    /// Queues `bytes` for `to`; false (nothing queued) when full or too large.
    pub(crate) fn push(&mut self, bytes: &[u8], to: SocketAddr) -> bool {
        let i = self.lens.len();
        if i == BATCH || bytes.len() > SLOT {
            return false;
        }
        self.data[i * SLOT..i * SLOT + bytes.len()].copy_from_slice(bytes);
        self.lens.push(bytes.len());
        self.addrs.push(to_sockaddr(to));
        true
    }

    /// Sends what is queued on `fd` (non-blocking): returns how many went; the rest stay
    /// queued, in order (`WouldBlock` when none could go).
    pub(crate) fn send(&mut self, fd: RawFd) -> io::Result<usize> {
        let n = self.lens.len();
        if n == 0 {
            return Ok(0);
        }
        let mut iovs: [libc::iovec; BATCH] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        // SAFETY: mmsghdr is plain data; all-zero is valid.
        #[allow(unsafe_code)]
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..n {
            iovs[i].iov_base = self.data[i * SLOT..].as_mut_ptr().cast();
            iovs[i].iov_len = self.lens[i];
            hdrs[i].msg_hdr.msg_name = (&raw mut self.addrs[i].0).cast();
            hdrs[i].msg_hdr.msg_namelen = self.addrs[i].1;
            hdrs[i].msg_hdr.msg_iov = &raw mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: hdrs[..n] point at live buffers, addresses and iovecs owned by this frame
        // and self; the kernel only reads them.
        #[allow(unsafe_code)]
        let sent =
            unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let sent = sent as usize;
        // Keep the unsent ones, in order, at the front.
        if sent < n {
            self.data.copy_within(sent * SLOT..n * SLOT, 0);
        }
        self.lens.drain(..sent);
        self.addrs.drain(..sent);
        Ok(sent)
    }

    /// Takes what is still queued (after a `send` that could not send it all), in order.
    pub(crate) fn take_pending(&mut self) -> Vec<(Vec<u8>, SocketAddr)> {
        let out = (0..self.lens.len())
            .map(|i| {
                (
                    self.data[i * SLOT..i * SLOT + self.lens[i]].to_vec(),
                    from_sockaddr(&self.addrs[i].0),
                )
            })
            .collect();
        self.lens.clear();
        self.addrs.clear();
        out
    }
}

/// Buffers for one `recvmmsg`.
pub(crate) struct RecvBatch {
    data: Vec<u8>,
    lens: [usize; BATCH],
    addrs: [libc::sockaddr_storage; BATCH],
    count: usize,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecvBatch({} received)", self.count)
    }
}

impl RecvBatch {
    pub(crate) fn new() -> Self {
        Self {
            data: vec![0; BATCH * SLOT],
            lens: [0; BATCH],
            // SAFETY: sockaddr_storage is plain data; all-zero is valid.
            #[allow(unsafe_code)]
            addrs: unsafe { std::mem::zeroed() },
            count: 0,
        }
    }

    /// Receives up to [`BATCH`] waiting datagrams from `fd` without blocking; returns how many
    /// (`WouldBlock` when none was waiting). A datagram longer than [`SLOT`] is cut short and
    /// reported with length 0 (the caller drops it).
    pub(crate) fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let mut iovs: [libc::iovec; BATCH] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        // SAFETY: mmsghdr is plain data; all-zero is valid.
        #[allow(unsafe_code)]
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..BATCH {
            iovs[i].iov_base = self.data[i * SLOT..].as_mut_ptr().cast();
            iovs[i].iov_len = SLOT;
            hdrs[i].msg_hdr.msg_name = (&raw mut self.addrs[i]).cast();
            hdrs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdrs[i].msg_hdr.msg_iov = &raw mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at a SLOT-sized part of self.data and at an address
        // slot of self, both alive and exclusively borrowed for the call.
        #[allow(unsafe_code)]
        let got = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            self.count = 0;
            return Err(io::Error::last_os_error());
        }
        self.count = got as usize;
        for (len, h) in self.lens.iter_mut().zip(&hdrs).take(self.count) {
            let truncated = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            *len = if truncated { 0 } else { h.msg_len as usize };
        }
        Ok(self.count)
    }

    /// Datagram `i` of the last `recv`: its bytes and its source.
    pub(crate) fn get_mut(&mut self, i: usize) -> (&mut [u8], SocketAddr) {
        let from = from_sockaddr(&self.addrs[i]);
        let len = self.lens[i];
        (&mut self.data[i * SLOT..i * SLOT + len], from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_batch_goes_out_and_comes_back_in_order() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let mut out = SendBatch::new();
        for i in 0..BATCH {
            assert!(out.push(&vec![i as u8; 100 + i], to));
        }
        assert!(out.is_full() && !out.push(b"x", to));
        assert_eq!(out.send(tx.as_raw_fd()).unwrap(), BATCH);
        assert!(out.is_empty());
        let mut inb = RecvBatch::new();
        let mut seen = 0;
        while seen < BATCH {
            let n = inb.recv(rx.as_raw_fd()).unwrap();
            for i in 0..n {
                let (bytes, from) = inb.get_mut(i);
                assert_eq!(from, tx.local_addr().unwrap());
                assert_eq!(bytes.len(), 100 + seen);
                assert!(bytes.iter().all(|&b| b == seen as u8));
                seen += 1;
            }
        }
        let e = inb.recv(rx.as_raw_fd()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
}
