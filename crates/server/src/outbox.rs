//! A connection's response bytes that the client has not taken yet: buffers and ranges of
//! files, written in order without ever waiting.
//!
//! A request thread hands its response here and goes on; what the socket does not take at
//! once is sent by the event loop as the client reads, files with sendfile(2). A slow reader
//! so costs the unsent part of one response and a socket, never a Python thread. While the
//! app is still producing, the thread waits only when more than [`LIMIT`] bytes are waiting.
//! A response that goes out slower than `--write-min-rate` (after `--socket-timeout`) is cut
//! off.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::conn::IoError;
use crate::log;

/// Bytes of a streamed response that may wait for the client before the thread producing
/// it waits too.
pub const LIMIT: u64 = 1024 * 1024;

/// Bytes written for one connection before the others get their turn: a client whose
/// kernel buffer takes megabytes at once would otherwise hold the thread sending to it
/// (the event loop, or a request thread between requests) while it copies them.
pub const SLICE: u64 = 256 * 1024;

/// How far a write got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Everything queued went out.
    All,
    /// The socket takes no more now: the poller says when it does.
    Blocked,
    /// The budget was spent with the socket still taking more: the caller asks the poller
    /// again, so that the rest goes after the other connections' turns.
    Budget,
}

/// Responses pieces at least this large are queued as the app's own `bytes` objects rather
/// than copied: a large response a slow client reads then costs no memory of its own.
pub const SHARE_FROM: usize = 64 * 1024;

enum Segment {
    Bytes { data: Buffer, at: usize },
    File { fd: OwnedFd, offset: i64, len: u64 },
}

enum Buffer {
    Owned(Vec<u8>),
    Python(PyBytesRef),
}

impl Buffer {
    fn as_slice(&self) -> &[u8] {
        match self {
            Buffer::Owned(data) => data,
            Buffer::Python(bytes) => bytes.as_slice(),
        }
    }
}

/// The first bytes of a Python `bytes` object, readable without the GIL.
pub struct PyBytesRef {
    _owner: Py<PyBytes>,
    ptr: *const u8,
    len: usize,
}

// SAFETY: the pointer is into the storage of `_owner`, a `bytes` object: immutable, kept
// inline in the object, which never moves and stays alive while `_owner` holds its
// reference. Reading it needs no GIL and races with nothing, from any thread; `Py` itself
// is `Send`, and dropping it without the GIL defers the decref to pyo3's pool.
unsafe impl Send for PyBytesRef {}

impl PyBytesRef {
    /// The first `len` bytes of `bytes` (all of them at most).
    pub fn new(bytes: &Bound<'_, PyBytes>, len: usize) -> PyBytesRef {
        let data = bytes.as_bytes();
        PyBytesRef { _owner: bytes.clone().unbind(), ptr: data.as_ptr(), len: len.min(data.len()) }
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` and `len` describe a prefix of the object's bytes, valid while
        // `_owner` lives (see the `Send` impl above).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// At most the first `len` bytes of `data`.
fn prefix(data: &[u8], len: usize) -> &[u8] {
    &data[..data.len().min(len)]
}

#[derive(Default)]
pub struct Outbox {
    queue: VecDeque<Segment>,
    /// Bytes held in memory (the app's own objects included), not counting files.
    held: u64,
    /// When the response's first unsent bytes were queued, and what went out since.
    began: Option<Instant>,
    sent: u64,
    /// Once everything is out: the connection may carry another request.
    pub keep_alive: bool,
}

impl Outbox {
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Bytes waiting in memory.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Queue bytes after everything queued before, from `at` on.
    pub fn push_bytes(&mut self, data: Vec<u8>, at: usize) {
        self.push(Buffer::Owned(data), at);
    }

    /// Queue the app's own bytes after everything queued before.
    pub fn push_python(&mut self, bytes: PyBytesRef) {
        self.push(Buffer::Python(bytes), 0);
    }

    fn push(&mut self, data: Buffer, at: usize) {
        let len = data.as_slice().len().saturating_sub(at);
        if len == 0 {
            return;
        }
        self.began.get_or_insert_with(Instant::now);
        self.held += len as u64;
        self.queue.push_back(Segment::Bytes { data, at });
    }

    /// Queue `len` bytes of the file `fd` from `offset`.
    pub fn push_file(&mut self, fd: OwnedFd, offset: i64, len: u64) {
        if len == 0 {
            return;
        }
        self.began.get_or_insert_with(Instant::now);
        self.queue.push_back(Segment::File { fd, offset, len });
    }

    /// Write what the socket takes now, `budget` bytes at most. After an error nothing is
    /// left to send: the connection must be closed.
    pub fn write_to(&mut self, stream: &TcpStream, budget: u64) -> Result<Sent, IoError> {
        let written = self.write_some(stream, budget);
        if written.is_err() {
            self.discard();
        }
        written
    }

    /// Drop what is left to send.
    pub fn discard(&mut self) {
        self.queue.clear();
        self.held = 0;
        self.began = None;
        self.sent = 0;
    }

    fn write_some(&mut self, stream: &TcpStream, budget: u64) -> Result<Sent, IoError> {
        let mut left = budget;
        while let Some(front) = self.queue.front_mut() {
            if left == 0 {
                return Ok(Sent::Budget);
            }
            let cap = usize::try_from(left).unwrap_or(usize::MAX);
            let written = match front {
                Segment::Bytes { data, at } => match (&*stream).write(prefix(&data.as_slice()[*at..], cap)) {
                    Ok(0) => return Err(IoError::Closed),
                    Ok(n) => {
                        *at += n;
                        self.held -= n as u64;
                        if *at == data.as_slice().len() {
                            self.queue.pop_front();
                        }
                        n as u64
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Sent::Blocked),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                    Err(e) => return Err(e.into()),
                },
                Segment::File { fd, offset, len } => {
                    let count = usize::try_from((*len).min(1 << 30)).unwrap_or(1 << 30).min(cap);
                    match nix::sys::sendfile::sendfile(stream.as_fd(), fd.as_fd(), Some(offset), count) {
                        // The file is shorter than when its size was taken: the bytes
                        // promised cannot be sent, and nothing may follow them.
                        Ok(0) => {
                            log::error(&format!(
                                "a file shrank while it was sent: {len} promised bytes never existed; closing the connection"
                            ));
                            return Err(IoError::Shrank);
                        }
                        Ok(n) => {
                            *len -= n as u64;
                            if *len == 0 {
                                self.queue.pop_front();
                            }
                            n as u64
                        }
                        Err(nix::errno::Errno::EAGAIN) => return Ok(Sent::Blocked),
                        Err(nix::errno::Errno::EINTR) => 0,
                        Err(e) => return Err(IoError::Os(e.into())),
                    }
                }
            };
            self.sent += written;
            left = left.saturating_sub(written);
        }
        self.began = None;
        self.sent = 0;
        Ok(Sent::All)
    }

    /// Whether the response goes out slower than allowed: `grace`, plus a second for every
    /// `min_rate` bytes sent (zero: `grace` is the whole allowance).
    pub fn overdue(&self, grace: Duration, min_rate: u64) -> bool {
        self.deadline(grace, min_rate).is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// When the response must be out, by the rule of [`Outbox::overdue`].
    pub fn deadline(&self, grace: Duration, min_rate: u64) -> Option<Instant> {
        let earned = match min_rate {
            0 => Duration::ZERO,
            rate => Duration::from_secs_f64(self.sent as f64 / rate as f64),
        };
        self.began.map(|began| began + grace + earned)
    }
}
