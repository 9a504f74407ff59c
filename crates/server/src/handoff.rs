//! Connections a stopping worker passes to its successor: those on which it has not started
//! a request, so that no request waits for a worker that is going away (a worker replaced
//! because a request got stuck may have no thread left to serve them at all).
//!
//! The master gives the two workers the ends of a `SOCK_SEQPACKET` socket pair (see
//! `warp_worker_config::control`). Each message is one connection: its socket and, for a
//! request whose body was received already, the body as a file (SCM_RIGHTS), with the bytes
//! read from the client and not yet consumed. The successor carries on as if it had read
//! them itself. A connection that does not fit in a message stays with the old worker.

use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use mio::net::TcpStream;
use nix::errno::Errno;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use warp_http::RequestHead;

use crate::body::Stored;
use crate::conn::Conn;
use crate::rights::{self, Received};

/// The most bytes of request head and read-ahead a message carries: well within the
/// default socket buffer, which bounds a message's size.
const MAX_PREFIX: usize = 128 * 1024;

/// Before the bytes: the body's length (`NO_BODY` without one) and the head's length.
const FIXED: usize = 8 + 4;
const NO_BODY: u64 = u64::MAX;

/// The stopping worker's end.
pub struct Sender(OwnedFd);

impl Sender {
    pub fn new(fd: OwnedFd) -> Sender {
        Sender(fd)
    }

    /// Pass `conn` on, with the request `head` it has queued and that request's `body` when
    /// it was received: the caller then drops its own copy of the connection. Fails when the
    /// connection's bytes do not fit in a message or the successor has not taken in enough
    /// of what was passed before; the connection is then the caller's still.
    pub fn pass(&self, conn: &Conn, head: Option<&RequestHead>, body: Option<&Stored>) -> io::Result<()> {
        let mut message = Vec::with_capacity(FIXED + conn.buf.len() + 512);
        message.extend_from_slice(&body.map_or(NO_BODY, Stored::len).to_le_bytes());
        message.extend_from_slice(&[0; 4]);
        if let Some(head) = head {
            head.write_wire(&mut message);
        }
        let head_len = u32::try_from(message.len() - FIXED).unwrap_or(u32::MAX);
        message[8..FIXED].copy_from_slice(&head_len.to_le_bytes());
        message.extend_from_slice(&conn.buf);
        if message.len() - FIXED > MAX_PREFIX {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the connection's unread bytes are too many to pass"));
        }
        let body_fd = body.map(Stored::to_fd).transpose()?;
        let mut fds = vec![conn.stream.as_raw_fd()];
        fds.extend(body_fd.as_ref().map(AsRawFd::as_raw_fd));
        let rights = [ControlMessage::ScmRights(&fds)];
        loop {
            match sendmsg::<()>(self.0.as_raw_fd(), &[IoSlice::new(&message)], &rights, MsgFlags::MSG_DONTWAIT, None) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The successor's end.
pub struct Receiver {
    fd: OwnedFd,
    buf: Vec<u8>,
}

/// A connection passed on.
pub struct Passed {
    /// Its bytes not yet consumed: with no body, the queued request's head comes first.
    pub conn: Box<Conn>,
    /// A request whose body was received: its head (what to parse) and its body.
    pub request: Option<(Vec<u8>, Stored)>,
}

impl Receiver {
    pub fn new(fd: OwnedFd) -> Receiver {
        Receiver { fd, buf: vec![0; FIXED + MAX_PREFIX] }
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The next connection passed: `Ok(None)` once the stopping worker is gone, `WouldBlock`
    /// until it passes another. A message that cannot be taken in is skipped, its
    /// descriptors closed.
    pub fn receive(&mut self) -> io::Result<Option<Passed>> {
        loop {
            let Received { bytes, truncated, fds } = rights::receive(self.fd.as_raw_fd(), &mut self.buf)?;
            let mut fds = fds.into_iter();
            if bytes == 0 && fds.len() == 0 {
                return Ok(None);
            }
            if truncated || bytes < FIXED {
                continue;
            }
            let Some(socket) = fds.next() else { continue };
            let body_len = u64::from_le_bytes(self.buf[..8].try_into().unwrap_or_default());
            let head_len = u32::from_le_bytes(self.buf[8..FIXED].try_into().unwrap_or_default()) as usize;
            let bytes = &self.buf[FIXED..bytes];
            let std_stream = std::net::TcpStream::from(socket);
            let Ok(peer) = std_stream.peer_addr() else { continue };
            std_stream.set_nonblocking(true)?;
            let mut conn = Box::new(Conn::new(TcpStream::from_std(std_stream), peer));
            let request = match (body_len, fds.next()) {
                (NO_BODY, _) => {
                    conn.buf.extend_from_slice(bytes);
                    None
                }
                (_, None) => continue,
                (len, Some(body)) => {
                    let (head, rest) = bytes.split_at(head_len.min(bytes.len()));
                    conn.buf.extend_from_slice(rest);
                    Some((head.to_vec(), Stored::from_file(File::from(body), len)))
                }
            };
            return Ok(Some(Passed { conn, request }));
        }
    }
}
