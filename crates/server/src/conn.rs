//! A client connection and the byte-level I/O on it.
//!
//! Sockets stay non-blocking for their whole life, because the poller owns them between
//! requests. A request thread that must wait (a slow body, a full send buffer) waits with
//! `poll(2)` on that one socket, bounded by the socket timeout, never holding the GIL.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use warp_http::RequestHead;

use crate::intake::Intake;
use crate::outbox::Outbox;

/// Bytes read per `read` call; also the initial buffer capacity.
const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    /// Where reads land before being appended to a connection's buffer, so the buffer
    /// never has to be grown and zeroed ahead of a read.
    static SCRATCH: std::cell::RefCell<Box<[u8; READ_CHUNK]>> = std::cell::RefCell::new(Box::new([0; READ_CHUNK]));
}

pub struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// Bytes read from the client and not yet consumed (the start of the next request, or
    /// the part of a body that arrived with the head).
    pub buf: Vec<u8>,
    /// The head of the request being served; kept between requests so parsing the next one
    /// reuses its allocations.
    pub head: RequestHead,
    /// The response being written, likewise kept for its capacity.
    pub out: Vec<u8>,
    /// Requests served on this connection so far.
    pub served: u64,
    /// Since when the connection has waited for its next request (or, once one began to
    /// arrive, for the rest of its head).
    pub since: Instant,
    /// The body of the request in `head`, while the event loop receives it.
    pub intake: Option<Box<Intake>>,
    /// Response bytes the client has not taken yet.
    pub outbox: Outbox,
}

/// Why waiting on a socket ended without data.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("client did not send or receive for {0:?}")]
    Timeout(Duration),
    #[error("client closed the connection")]
    Closed,
    /// A file being sent ended before the bytes promised for it (logged where it was found).
    #[error("a file shrank while it was sent")]
    Shrank,
    #[error(transparent)]
    Os(#[from] io::Error),
}

impl Conn {
    pub fn new(stream: TcpStream, peer: SocketAddr) -> Conn {
        Conn {
            stream,
            peer,
            buf: Vec::with_capacity(1024),
            head: RequestHead::default(),
            out: Vec::new(),
            served: 0,
            since: Instant::now(),
            intake: None,
            outbox: Outbox::default(),
        }
    }

    /// Read what the socket has now, without waiting. `Ok(0)` means the client closed.
    pub fn read_available(&mut self) -> io::Result<usize> {
        SCRATCH.with_borrow_mut(|scratch| {
            let mut total = 0;
            loop {
                match self.stream.read(&mut scratch[..]) {
                    Ok(0) => return Ok(total),
                    Ok(n) => {
                        self.buf.extend_from_slice(&scratch[..n]);
                        total += n;
                        if n < scratch.len() {
                            return Ok(total);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && total > 0 => return Ok(total),
                    Err(e) => return Err(e),
                }
            }
        })
    }

    /// Whether a request is in progress on the connection while the event loop holds it: its
    /// body arriving, or its response going out.
    pub fn mid_request(&self) -> bool {
        self.intake.is_some() || !self.outbox.is_empty()
    }

    /// Wait until the socket takes more bytes, until `deadline` at most.
    pub fn wait_writable(&self, deadline: Instant, timeout: Duration) -> Result<(), IoError> {
        wait(&self.stream, PollFlags::POLLOUT, deadline, timeout)
    }

    /// Write what `out` holds after what waits in the outbox, as far as the socket takes it
    /// now and `budget` bytes of the outbox at most; the rest waits in the outbox for the
    /// event loop. After an error nothing is left to send.
    pub fn send_out(&mut self, budget: u64) -> Result<(), IoError> {
        if !self.outbox.is_empty() {
            self.seal_out(0);
            return self.outbox.write_to(&self.stream, budget).map(drop);
        }
        // The usual case: everything goes at once, and `out` keeps its capacity.
        let mut at = 0;
        while at < self.out.len() {
            match (&self.stream).write(&self.out[at..]) {
                Ok(0) => return Err(IoError::Closed),
                Ok(n) => at += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(IoError::Os(e)),
            }
        }
        if at == self.out.len() {
            self.out.clear();
        } else {
            self.seal_out(at);
        }
        Ok(())
    }

    /// Leave what `out` holds to the event loop, which sends the outbox.
    pub fn defer_out(&mut self) {
        if !self.out.is_empty() {
            self.seal_out(0);
        }
    }

    /// Move what `out` holds from `at` on to the end of the outbox: the buffer itself goes,
    /// rather than be copied, and whatever is queued after it goes out after it.
    pub fn seal_out(&mut self, at: usize) {
        let out = std::mem::take(&mut self.out);
        self.outbox.push_bytes(out, at);
    }

    /// Append at least one byte to `buf`, waiting up to `timeout` for it.
    pub fn read_more(&mut self, timeout: Duration) -> Result<usize, IoError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_available() {
                Ok(0) => return Err(IoError::Closed),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait(&self.stream, PollFlags::POLLIN, deadline, timeout)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Write all of `data`, waiting while the send buffer is full, each wait bounded by
    /// `timeout`.
    pub fn write_all(&mut self, mut data: &[u8], timeout: Duration) -> Result<(), IoError> {
        while !data.is_empty() {
            match self.stream.write(data) {
                Ok(0) => return Err(IoError::Closed),
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait(&self.stream, PollFlags::POLLOUT, Instant::now() + timeout, timeout)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

fn wait(stream: &TcpStream, flags: PollFlags, deadline: Instant, timeout: Duration) -> Result<(), IoError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(IoError::Timeout(timeout));
        }
        let millis = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(stream.as_fd(), flags)];
        match poll(&mut fds, PollTimeout::from(millis)) {
            Ok(0) => continue,
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(IoError::Os(e.into())),
        }
    }
}
