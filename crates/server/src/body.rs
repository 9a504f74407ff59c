//! Reading a request body for `wsgi.input`: sized or chunked, with `100 Continue` sent the
//! first time the app asks for the body, and EOF exactly at the body's end.

use std::time::Duration;

use crate::conn::{Conn, IoError};
use warp_http::{BodyKind, ChunkedDecoder, HttpError, CONTINUE_100};

/// Why a body read failed.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("malformed request body: {0}")]
    Http(#[from] HttpError),
}

/// The state of one request's body.
pub struct Body {
    framing: Framing,
    /// Decoded bytes not yet handed to the app, from `pos` on.
    pending: Vec<u8>,
    pos: usize,
    /// `100 Continue` is owed before the first read from the client.
    continue_owed: bool,
    /// Bytes handed to the app, for the access log and `input_length`.
    pub delivered: u64,
}

enum Framing {
    Length { remaining: u64 },
    Chunked { decoder: ChunkedDecoder, done: bool },
    Done,
}

impl Body {
    pub fn new(kind: BodyKind, expect_continue: bool, max_body: u64) -> Body {
        let framing = match kind {
            BodyKind::Empty => Framing::Done,
            BodyKind::Length(n) => Framing::Length { remaining: n },
            BodyKind::Chunked => Framing::Chunked { decoder: ChunkedDecoder::new(max_body), done: false },
        };
        Body { framing, pending: Vec::new(), pos: 0, continue_owed: expect_continue, delivered: 0 }
    }

    /// Whether every byte of the body has been read from the client.
    pub fn is_complete(&self) -> bool {
        matches!(self.framing, Framing::Done | Framing::Chunked { done: true, .. })
    }

    fn buffered(&self) -> &[u8] {
        &self.pending[self.pos..]
    }

    /// Up to `max` bytes (all that remain when `None`); empty at the end of the body.
    pub fn read(&mut self, conn: &mut Conn, max: Option<usize>, timeout: Duration) -> Result<Vec<u8>, BodyError> {
        while max.is_none_or(|m| self.buffered().len() < m) && self.fill(conn, timeout)? {}
        let take = max.map_or(self.buffered().len(), |m| m.min(self.buffered().len()));
        Ok(self.take(take))
    }

    /// One line including its `\n`, or up to `max` bytes of it; empty at the end of the body.
    pub fn read_line(&mut self, conn: &mut Conn, max: Option<usize>, timeout: Duration) -> Result<Vec<u8>, BodyError> {
        let mut searched = 0;
        loop {
            let buffered = self.buffered();
            if let Some(i) = memchr::memchr(b'\n', &buffered[searched..]) {
                let end = searched + i + 1;
                return Ok(self.take(max.map_or(end, |m| m.min(end))));
            }
            searched = buffered.len();
            if max.is_some_and(|m| searched >= m) || !self.fill(conn, timeout)? {
                let end = max.map_or(searched, |m| m.min(searched));
                return Ok(self.take(end));
            }
        }
    }

    /// Read and discard what the app left unread, so the next request on the connection
    /// starts at the right byte. Returns false when more than `allowance` bytes remain, in
    /// which case the connection should be closed rather than drained.
    pub fn discard_rest(&mut self, conn: &mut Conn, allowance: u64, timeout: Duration) -> Result<bool, BodyError> {
        if self.continue_owed {
            // The client is still waiting for permission: it will not send the body, and
            // the next bytes it sends are a new request.
            self.framing = Framing::Done;
            return Ok(true);
        }
        let mut discarded = 0u64;
        while !self.is_complete() {
            if let Framing::Length { remaining } = self.framing {
                if remaining > allowance.saturating_sub(discarded) {
                    return Ok(false);
                }
            }
            self.fill(conn, timeout)?;
            discarded += self.buffered().len() as u64;
            if discarded > allowance {
                return Ok(false);
            }
            self.pending.clear();
            self.pos = 0;
        }
        Ok(true)
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let out = self.pending[self.pos..self.pos + n].to_vec();
        self.pos += n;
        self.delivered += n as u64;
        if self.pos == self.pending.len() {
            self.pending.clear();
            self.pos = 0;
        }
        out
    }

    /// Decode more of the body into `pending`. Returns false at the end of the body.
    fn fill(&mut self, conn: &mut Conn, timeout: Duration) -> Result<bool, BodyError> {
        if self.is_complete() {
            return Ok(false);
        }
        if self.continue_owed {
            self.continue_owed = false;
            if conn.buf.is_empty() {
                conn.write_all(CONTINUE_100, timeout)?;
            }
        }
        loop {
            match &mut self.framing {
                Framing::Done => return Ok(false),
                Framing::Length { remaining } => {
                    if conn.buf.is_empty() {
                        conn.read_more(timeout)?;
                    }
                    let n = conn.buf.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    self.pending.extend_from_slice(&conn.buf[..n]);
                    conn.buf.drain(..n);
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.framing = Framing::Done;
                    }
                    return Ok(true);
                }
                Framing::Chunked { decoder, done } => {
                    let before = self.pending.len();
                    let decoded = decoder.decode(&conn.buf, &mut self.pending)?;
                    conn.buf.drain(..decoded.consumed);
                    *done = decoded.done;
                    if self.pending.len() > before || *done {
                        return Ok(self.pending.len() > before);
                    }
                    conn.read_more(timeout)?;
                }
            }
        }
    }
}
