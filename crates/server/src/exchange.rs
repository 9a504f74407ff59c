//! One request and its response on a connection: the state the WSGI objects share.
//!
//! The response head is written only when the first non-empty body chunk (or the end of
//! the response) arrives, so a late `start_response` or an `exc_info` replacement still
//! decides the status. Never more than a declared Content-Length goes out; if fewer bytes
//! came, the connection is closed so the client cannot mistake the end. Likewise a chunk
//! whose bytes did not all go out (a file that shrank while sent) is never followed by
//! anything: no end of chunk, no last chunk, no next response; the connection is closed.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use crate::body::{Body, BodyError, Stored};
use crate::conn::{Conn, IoError};
use crate::outbox::{self, PyBytesRef};
use crate::recorder::Recording;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use warp_http::{cached_http_date, encode_chunk_header, Framing, HeaderProblem, ResponseHead, ResponsePlan, Version, LAST_CHUNK};
use warp_worker_config::WorkerConfig;

/// Facts about the request that shape the response.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts {
    pub version: Version,
    /// The client allows keep-alive and the server is not stopping.
    pub keep_alive: bool,
    pub head_request: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the app's response is invalid: {0}")]
    App(#[from] HeaderProblem),
    #[error("the app sent a body before calling start_response")]
    NoStatus,
    #[error(transparent)]
    Io(#[from] IoError),
}

pub struct Exchange {
    pub conn: Box<Conn>,
    pub body: Body,
    /// Where the body is read from when the event loop received it whole; else the
    /// connection.
    stored: Option<Stored>,
    pub timeout: Duration,
    /// Bytes per second the client must take while the thread waits for it.
    min_rate: u64,
    /// `--body-timeout` and `--body-min-rate`, for a body read as it arrives.
    body_pace: (Duration, u64),
    began: Instant,
    /// A read of the body waited past its allowance: the client gets 408 if the app fails.
    pub body_too_slow: bool,
    pub facts: RequestFacts,
    /// Status and headers from the latest `start_response`.
    pub status: Option<String>,
    pub headers: Vec<(String, String)>,
    /// Set once the head went out.
    plan: Option<ResponsePlan>,
    /// Body bytes written (after framing decisions, before chunk encoding).
    pub sent: u64,
    /// A chunk header promised more bytes than went out: the response cannot be completed,
    /// and nothing more may be written on the connection.
    cut_short: bool,
    /// `--enable-recorder`: the record of this request, which the response goes into as it
    /// is queued.
    pub recording: Option<Box<Recording>>,
}

impl Exchange {
    pub fn new(
        conn: Box<Conn>,
        body: Body,
        stored: Option<Stored>,
        config: &WorkerConfig,
        facts: RequestFacts,
        recording: Option<Box<Recording>>,
    ) -> Exchange {
        let (timeout, min_rate) = (config.socket_timeout, config.write_min_rate);
        let body_pace = (config.body_timeout, config.body_min_rate);
        Exchange {
            conn,
            body,
            stored,
            timeout,
            min_rate,
            body_pace,
            began: Instant::now(),
            body_too_slow: false,
            facts,
            status: None,
            headers: Vec::new(),
            plan: None,
            sent: 0,
            cut_short: false,
            recording,
        }
    }

    /// Up to `max` bytes of the request body (all that remain when `None`).
    pub fn read_body(&mut self, max: Option<usize>) -> Result<Vec<u8>, BodyError> {
        let wait = self.body_wait();
        let read = match &mut self.stored {
            Some(stored) => self.body.read(stored, max, wait),
            None => self.body.read(&mut *self.conn, max, wait),
        };
        self.note_slow_body(read)
    }

    /// One line of the request body, or up to `max` bytes of it.
    pub fn read_body_line(&mut self, max: Option<usize>) -> Result<Vec<u8>, BodyError> {
        let wait = self.body_wait();
        let read = match &mut self.stored {
            Some(stored) => self.body.read_line(stored, max, wait),
            None => self.body.read_line(&mut *self.conn, max, wait),
        };
        self.note_slow_body(read)
    }

    /// How long a read of a streamed body may wait for the client: the socket timeout, and
    /// no longer than what is left of the body's allowance (`--body-timeout`, plus a second
    /// for every `--body-min-rate` bytes read), as for a buffered body.
    fn body_wait(&self) -> Duration {
        let (allowance, rate) = self.body_pace;
        if allowance.is_zero() || self.stored.is_some() {
            return self.timeout;
        }
        let earned = match rate {
            0 => Duration::ZERO,
            rate => Duration::from_secs_f64(self.body.delivered as f64 / rate as f64),
        };
        (self.began + allowance + earned).saturating_duration_since(Instant::now()).min(self.timeout)
    }

    fn note_slow_body(&mut self, read: Result<Vec<u8>, BodyError>) -> Result<Vec<u8>, BodyError> {
        if let Err(BodyError::Io(IoError::Timeout(_))) = read {
            self.body_too_slow = true;
        }
        read
    }

    pub fn head_sent(&self) -> bool {
        self.plan.is_some()
    }

    /// The status code sent, once the head went out.
    pub fn status_code(&self) -> Option<u16> {
        self.plan.map(|p| p.status)
    }

    /// Queue a piece of the body (and the head, the first time) in the output buffer.
    /// `whole` says this is the entire body, so it can go out with a Content-Length.
    /// Returns whether the buffer should be written now: not when the piece completes a
    /// declared Content-Length, since then the response is done and the write can wait
    /// until the app's objects are released (one write, without the GIL).
    pub fn stage(&mut self, data: &[u8], whole: bool) -> Result<bool, SendError> {
        self.stage_piece(data, whole, None)
    }

    /// [`Exchange::stage`] for an app's `bytes` object: a large one is queued as it is,
    /// not copied.
    pub fn stage_bytes(&mut self, bytes: &Bound<'_, PyBytes>, whole: bool) -> Result<bool, SendError> {
        let data = bytes.as_bytes();
        self.stage_piece(data, whole, (data.len() >= outbox::SHARE_FROM).then_some(bytes))
    }

    fn stage_piece(&mut self, data: &[u8], whole: bool, shared: Option<&Bound<'_, PyBytes>>) -> Result<bool, SendError> {
        if (data.is_empty() && !whole) || self.cut_short {
            return Ok(false);
        }
        let plan = self.ensure_head(whole.then_some(data.len() as u64))?;
        match plan.framing {
            Framing::NoBody => return Ok(false),
            Framing::Length(limit) => {
                let room = usize::try_from(limit.saturating_sub(self.sent)).unwrap_or(usize::MAX);
                let data = &data[..data.len().min(room)];
                self.put(data, shared);
                self.sent += data.len() as u64;
                return Ok(self.sent < limit);
            }
            Framing::Chunked if data.is_empty() => return Ok(false),
            Framing::Chunked => {
                encode_chunk_header(data.len(), &mut self.conn.out);
                self.put(data, shared);
                self.conn.out.extend_from_slice(b"\r\n");
            }
            Framing::UntilClose => self.put(data, shared),
        }
        self.sent += data.len() as u64;
        Ok(true)
    }

    /// Add `data` to the response after what is queued: copied into the output buffer, or,
    /// when it is the start of `shared`, queued as that object.
    fn put(&mut self, data: &[u8], shared: Option<&Bound<'_, PyBytes>>) {
        if let Some(recording) = &mut self.recording {
            recording.response_body(data);
        }
        match shared {
            None => self.conn.out.extend_from_slice(data),
            Some(bytes) => {
                self.conn.seal_out(0);
                self.conn.outbox.push_python(PyBytesRef::new(bytes, data.len()));
            }
        }
    }

    /// Queue a piece of the body and write it out now.
    pub fn send(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.stage(data, false)?;
        self.flush()
    }

    /// Send the bytes of a regular file of `size` bytes from `offset` on, with sendfile(2),
    /// from `fd`, a descriptor of the server's own: the rest of the file goes out after the
    /// request, as the client reads it.
    pub fn send_file(&mut self, fd: OwnedFd, offset: u64, size: u64) -> Result<(), SendError> {
        let len = size.saturating_sub(offset);
        let plan = self.ensure_head((!self.head_sent()).then_some(len))?;
        let len = match plan.framing {
            Framing::NoBody => 0,
            Framing::Length(limit) => len.min(limit.saturating_sub(self.sent)),
            Framing::Chunked | Framing::UntilClose => len,
        };
        if len == 0 || self.cut_short {
            return self.flush();
        }
        if plan.framing == Framing::Chunked {
            encode_chunk_header(usize::try_from(len).unwrap_or(usize::MAX), &mut self.conn.out);
        }
        if let Some(recording) = &mut self.recording {
            recording.response_file(&fd, offset, len);
        }
        self.conn.seal_out(0);
        self.conn.outbox.push_file(fd, i64::try_from(offset).unwrap_or(i64::MAX), len);
        self.sent += len;
        if plan.framing == Framing::Chunked {
            self.conn.out.extend_from_slice(b"\r\n");
        }
        self.flush()
    }

    /// Queue the end of the response (the head too, if nothing was sent). Returns whether
    /// the connection may serve another request. The caller writes the buffer with
    /// [`Exchange::flush`].
    pub fn finish(&mut self) -> Result<bool, SendError> {
        if self.cut_short {
            return Ok(false);
        }
        let plan = self.ensure_head(Some(0))?;
        let complete = match plan.framing {
            Framing::Chunked => {
                self.conn.out.extend_from_slice(LAST_CHUNK);
                true
            }
            Framing::Length(limit) => self.sent == limit,
            Framing::NoBody => true,
            Framing::UntilClose => false,
        };
        Ok(plan.keep_alive && complete)
    }

    /// Write what is queued, while the app goes on producing: what the client does not take
    /// at once waits in the outbox, and only past [`outbox::LIMIT`] bytes does the thread
    /// wait for the client, as long as it keeps `--write-min-rate`.
    pub fn flush(&mut self) -> Result<(), SendError> {
        // Mid-response the thread is this client's anyway: all the socket takes goes now.
        let written = self.conn.send_out(u64::MAX);
        self.check(written)?;
        while self.conn.outbox.held() > outbox::LIMIT {
            let conn = &mut *self.conn;
            let deadline = conn.outbox.deadline(self.timeout, self.min_rate).unwrap_or_else(Instant::now);
            let waited = conn.wait_writable(deadline.min(Instant::now() + self.timeout), self.timeout);
            let written = waited.and_then(|()| conn.outbox.write_to(&conn.stream, u64::MAX).map(drop));
            self.check(written)?;
        }
        Ok(())
    }

    /// Once the request is over: write what the socket takes now, up to
    /// [`outbox::SLICE`], and leave the rest in the outbox, for the event loop to send, so
    /// that the thread goes on to the next request. With `send` false the event loop sends
    /// all of it (see [`crate::outgoing`]).
    pub fn release(&mut self, send: bool) -> Result<(), SendError> {
        if !send {
            self.conn.defer_out();
            return Ok(());
        }
        let written = self.conn.send_out(outbox::SLICE);
        self.check(written)
    }

    /// Whether a file that shrank cut the response short: the connection must close.
    pub fn is_cut_short(&self) -> bool {
        self.cut_short
    }

    /// A file that shrank while it was sent cut the response short: nothing more may be
    /// written, and the connection is closed at the end. After any other failure nothing
    /// is left to send.
    fn check(&mut self, written: Result<(), IoError>) -> Result<(), SendError> {
        match written {
            Ok(()) => Ok(()),
            Err(IoError::Shrank) => {
                self.cut_short = true;
                self.conn.out.clear();
                Ok(())
            }
            Err(e) => {
                // The client is gone or too slow: nothing more goes to it.
                self.conn.outbox.discard();
                Err(e.into())
            }
        }
    }

    /// Write the head into `out` if it has not gone out yet.
    fn ensure_head(&mut self, body_length: Option<u64>) -> Result<ResponsePlan, SendError> {
        if let Some(plan) = self.plan {
            return Ok(plan);
        }
        let status = self.status.as_deref().ok_or(SendError::NoStatus)?;
        let date = cached_http_date();
        let start = self.conn.out.len();
        let plan = ResponseHead {
            status,
            headers: &self.headers,
            version: self.facts.version,
            keep_alive: self.facts.keep_alive,
            head_request: self.facts.head_request,
            body_length,
            date: &date,
        }
        .encode(&mut self.conn.out)?;
        if let Some(recording) = &mut self.recording {
            recording.response_head(&self.conn.out[start..]);
        }
        self.plan = Some(plan);
        Ok(plan)
    }
}
