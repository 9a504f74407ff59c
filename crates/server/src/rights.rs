//! Receiving a message with the descriptors passed along with it (SCM_RIGHTS).

use std::io::IoSliceMut;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

/// One message received.
pub struct Received {
    /// Bytes put in the buffer; 0 with no descriptors: the other end closed.
    pub bytes: usize,
    /// The message, or its descriptors, did not fit and were cut short.
    pub truncated: bool,
    /// Descriptors of this process's own from now on, closed with the values.
    pub fds: Vec<OwnedFd>,
}

/// Receive one message from the socket `fd` into `buf`, with at most two descriptors,
/// without waiting; retried when interrupted.
pub fn receive(fd: RawFd, buf: &mut [u8]) -> Result<Received, Errno> {
    let mut space = nix::cmsg_space!([RawFd; 2]);
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        let flags = MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT;
        let msg = match recvmsg::<()>(fd, &mut iov, Some(&mut space), flags) {
            Ok(msg) => msg,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        };
        let raw: Vec<RawFd> = msg
            .cmsgs()
            .into_iter()
            .flatten()
            .filter_map(|c| match c {
                ControlMessageOwned::ScmRights(fds) => Some(fds),
                _ => None,
            })
            .flatten()
            .collect();
        // SAFETY: SCM_RIGHTS installed these descriptors in this process for this message;
        // nothing else knows or owns them.
        let fds = raw.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }).collect();
        let truncated = msg.flags.intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
        return Ok(Received { bytes: msg.bytes, truncated, fds });
    }
}
