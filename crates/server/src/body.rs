//! Reading a request body for `wsgi.input`: sized or chunked, with `100 Continue` sent the
//! first time the app asks for the body, and EOF exactly at the body's end.
//!
//! The reader takes its bytes from a [`Source`]: the client's connection in the server,
//! any [`std::io::Read`] in the unit tests below. It is generic over it, so the server's
//! path compiles to direct calls on the connection.

use std::time::Duration;

use crate::conn::{Conn, IoError};
use crate::recorder::Capture;
use warp_http::{BodyKind, ChunkedDecoder, HttpError, CONTINUE_100};

/// Where a request body's bytes come from.
pub trait Source {
    /// Bytes received and not yet consumed: the part of the body that came with the head,
    /// then what [`Source::read_more`] appends. The reader drains what it takes.
    fn buffer(&mut self) -> &mut Vec<u8>;
    /// Append at least one byte to the buffer, waiting up to `timeout`;
    /// [`IoError::Closed`] when the client has nothing more to send.
    fn read_more(&mut self, timeout: Duration) -> Result<usize, IoError>;
    /// Send `100 Continue`, the go-ahead a client that sent `Expect: 100-continue` waits
    /// for before it sends the body.
    fn send_continue(&mut self, timeout: Duration) -> Result<(), IoError>;
}

impl Source for Conn {
    fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    fn read_more(&mut self, timeout: Duration) -> Result<usize, IoError> {
        Conn::read_more(self, timeout)
    }

    fn send_continue(&mut self, timeout: Duration) -> Result<(), IoError> {
        self.write_all(CONTINUE_100, timeout)
    }
}

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
    /// `--enable-recorder`: a copy of the body's first bytes as they are read, when it is
    /// read from the client.
    pub capture: Option<Capture>,
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
        Body { framing, pending: Vec::new(), pos: 0, continue_owed: expect_continue, delivered: 0, capture: None }
    }

    /// Whether every byte of the body has been read from the client.
    pub fn is_complete(&self) -> bool {
        matches!(self.framing, Framing::Done | Framing::Chunked { done: true, .. })
    }

    fn buffered(&self) -> &[u8] {
        &self.pending[self.pos..]
    }

    /// Up to `max` bytes (all that remain when `None`); empty at the end of the body.
    pub fn read(&mut self, conn: &mut impl Source, max: Option<usize>, timeout: Duration) -> Result<Vec<u8>, BodyError> {
        while max.is_none_or(|m| self.buffered().len() < m) && self.fill(conn, timeout)? {}
        let take = max.map_or(self.buffered().len(), |m| m.min(self.buffered().len()));
        Ok(self.take(take))
    }

    /// One line including its `\n`, or up to `max` bytes of it; empty at the end of the body.
    pub fn read_line(&mut self, conn: &mut impl Source, max: Option<usize>, timeout: Duration) -> Result<Vec<u8>, BodyError> {
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
    pub fn discard_rest(&mut self, conn: &mut impl Source, allowance: u64, timeout: Duration) -> Result<bool, BodyError> {
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
            if let Some(capture) = &mut self.capture {
                capture.add(&self.pending[self.pos..]);
            }
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
        if let Some(capture) = &mut self.capture {
            capture.add(&out);
        }
        self.pos += n;
        self.delivered += n as u64;
        if self.pos == self.pending.len() {
            self.pending.clear();
            self.pos = 0;
        }
        out
    }

    /// Decode more of the body into `pending`, waiting for the client when the buffer holds
    /// none of it. Returns false at the end of the body.
    fn fill(&mut self, conn: &mut impl Source, timeout: Duration) -> Result<bool, BodyError> {
        if self.is_complete() {
            return Ok(false);
        }
        if self.continue_owed {
            self.continue_owed = false;
            if conn.buffer().is_empty() {
                conn.send_continue(timeout)?;
            }
        }
        loop {
            let before = self.pending.len();
            self.absorb(conn.buffer())?;
            if self.pending.len() > before {
                return Ok(true);
            }
            if self.is_complete() {
                return Ok(false);
            }
            conn.read_more(timeout)?;
        }
    }

    /// Decode what `wire` holds of the body into `pending`, draining it, without waiting.
    fn absorb(&mut self, wire: &mut Vec<u8>) -> Result<(), HttpError> {
        match &mut self.framing {
            Framing::Done => {}
            Framing::Length { remaining } => {
                let n = wire.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                self.pending.extend_from_slice(&wire[..n]);
                wire.drain(..n);
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.framing = Framing::Done;
                }
            }
            Framing::Chunked { decoder, done } => {
                let decoded = decoder.decode(wire, &mut self.pending)?;
                wire.drain(..decoded.consumed);
                *done = decoded.done;
            }
        }
        Ok(())
    }

    /// The decoded bytes that `wire` holds, drained from it without waiting: for the event
    /// loop, which receives a whole body before the app is called. The client is taken to
    /// have been told to go ahead.
    pub fn receive(&mut self, wire: &mut Vec<u8>) -> Result<Vec<u8>, HttpError> {
        self.continue_owed = false;
        self.absorb(wire)?;
        let mut out = std::mem::take(&mut self.pending);
        out.drain(..self.pos);
        self.pos = 0;
        Ok(out)
    }
}

/// A request body received whole before the app runs: in memory up to a threshold, beyond
/// it in an unlinked temporary file, so a large upload costs disk rather than memory and
/// leaves nothing behind whatever becomes of the process.
#[derive(Default)]
pub struct Stored {
    /// The body while it is held in memory; once the app reads it, what was read from the file
    /// and not yet taken.
    buf: Vec<u8>,
    file: Option<std::fs::File>,
    len: u64,
    /// How far the app has read into the file.
    read_from: u64,
}

/// Bytes read from a spilled body per read.
const FILE_CHUNK: usize = 64 * 1024;

impl Stored {
    /// Add decoded body bytes, moving everything to a temporary file once the total passes
    /// `in_memory` bytes.
    pub fn append(&mut self, data: &[u8], in_memory: usize) -> std::io::Result<()> {
        use std::io::Write;
        if self.file.is_none() && self.buf.len() + data.len() > in_memory {
            let mut file = tempfile::tempfile()?;
            file.write_all(&self.buf)?;
            self.buf = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(file) => file.write_all(data)?,
            None => self.buf.extend_from_slice(data),
        }
        self.len += data.len() as u64;
        Ok(())
    }

    /// A body received by another process, the `len` bytes of `file`.
    pub fn from_file(file: std::fs::File, len: u64) -> Stored {
        Stored { buf: Vec::new(), file: Some(file), len, read_from: 0 }
    }

    /// The whole body as a file of its own, to pass to another process: the spilled file
    /// itself, or one in memory with the bytes held.
    pub fn to_fd(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::io::Write;
        if let Some(file) = &self.file {
            return Ok(file.try_clone()?.into());
        }
        let fd = nix::sys::memfd::memfd_create(c"warp-request-body", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)?;
        let mut file = std::fs::File::from(fd);
        file.write_all(&self.buf)?;
        Ok(file.into())
    }

    /// The body's first `n` bytes (all of it, when shorter), read from wherever it is.
    pub fn first(&self, n: usize) -> std::io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let Some(file) = &self.file else { return Ok(self.buf[..self.buf.len().min(n)].to_vec()) };
        let mut first = vec![0; usize::try_from(self.len).unwrap_or(usize::MAX).min(n)];
        file.read_exact_at(&mut first, 0)?;
        Ok(first)
    }

    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How the body reads for the app: exactly its length.
    pub fn framing(&self) -> BodyKind {
        if self.len == 0 {
            BodyKind::Empty
        } else {
            BodyKind::Length(self.len)
        }
    }
}

impl Source for Stored {
    fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// The next part of a spilled body; a body in memory is in the buffer already.
    fn read_more(&mut self, _timeout: Duration) -> Result<usize, IoError> {
        use std::os::unix::fs::FileExt;
        let Some(file) = &self.file else { return Err(IoError::Closed) };
        let start = self.buf.len();
        self.buf.resize(start + FILE_CHUNK, 0);
        let read = file.read_at(&mut self.buf[start..], self.read_from);
        self.buf.truncate(start + *read.as_ref().unwrap_or(&0));
        match read? {
            0 => Err(IoError::Closed),
            n => {
                self.read_from += n as u64;
                Ok(n)
            }
        }
    }

    fn send_continue(&mut self, _timeout: Duration) -> Result<(), IoError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    const T: Duration = Duration::from_secs(1);

    /// A client as the body reader sees it: bytes that came with the head in `buf`, the rest
    /// read from `reader` at most `per_read` bytes at a time.
    struct Client<R> {
        reader: R,
        buf: Vec<u8>,
        per_read: usize,
        continues: usize,
    }

    impl<'a> Client<&'a [u8]> {
        /// `with_head` already received, `later` still to come in reads of `per_read` bytes.
        fn new(with_head: &[u8], later: &'a [u8], per_read: usize) -> Self {
            Client { reader: later, buf: with_head.to_vec(), per_read, continues: 0 }
        }
    }

    impl<R: Read> Source for Client<R> {
        fn buffer(&mut self) -> &mut Vec<u8> {
            &mut self.buf
        }

        fn read_more(&mut self, _timeout: Duration) -> Result<usize, IoError> {
            let mut chunk = vec![0; self.per_read];
            match self.reader.read(&mut chunk)? {
                0 => Err(IoError::Closed),
                n => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    Ok(n)
                }
            }
        }

        fn send_continue(&mut self, _timeout: Duration) -> Result<(), IoError> {
            self.continues += 1;
            Ok(())
        }
    }

    fn sized(n: u64) -> Body {
        Body::new(BodyKind::Length(n), false, u64::MAX)
    }

    fn chunked(max_body: u64) -> Body {
        Body::new(BodyKind::Chunked, false, max_body)
    }

    /// `read(None)` until the end, one call.
    fn read_all(body: &mut Body, client: &mut impl Source) -> Vec<u8> {
        body.read(client, None, T).expect("the body reads")
    }

    #[test]
    fn a_sized_body_ends_at_its_length_and_leaves_the_next_request() {
        for per_read in [1, 3, 4096] {
            let mut client = Client::new(b"", b"hello worldGET /next", per_read);
            let mut body = sized(11);
            assert_eq!(read_all(&mut body, &mut client), b"hello world", "{per_read} bytes per read");
            assert!(body.is_complete());
            assert_eq!(body.read(&mut client, None, T).unwrap(), b"", "EOF at the end, and it stays there");
            assert_eq!(body.delivered, 11);
            // What was read past the body stays for the next request; nothing more is read.
            let mut rest = client.buf.clone();
            rest.extend(client.reader);
            assert_eq!(rest, b"GET /next");
        }
    }

    #[test]
    fn a_body_that_came_with_the_head_is_read_without_waiting_for_more() {
        // The source would fail any read: everything is already buffered.
        let mut client = Client::new(b"abcdefGET /", b"", 1);
        let mut body = sized(6);
        assert_eq!(body.read(&mut client, Some(4), T).unwrap(), b"abcd");
        assert_eq!(body.read(&mut client, Some(4), T).unwrap(), b"ef");
        assert_eq!(body.read(&mut client, Some(4), T).unwrap(), b"");
        assert_eq!(client.buf, b"GET /");
    }

    #[test]
    fn sized_reads_return_at_most_their_size_across_short_reads() {
        let mut client = Client::new(b"", b"0123456789", 3);
        let mut body = sized(10);
        let mut parts = Vec::new();
        loop {
            let part = body.read(&mut client, Some(4), T).unwrap();
            if part.is_empty() {
                break;
            }
            parts.push(part);
        }
        assert_eq!(parts, [&b"0123"[..], b"4567", b"89"]);
    }

    #[test]
    fn lines_are_split_at_newlines_and_at_their_size_limit() {
        let mut client = Client::new(b"", b"a\nbbbb\ncc", 1);
        let mut body = sized(9);
        assert_eq!(body.read_line(&mut client, None, T).unwrap(), b"a\n");
        assert_eq!(body.read_line(&mut client, Some(2), T).unwrap(), b"bb");
        assert_eq!(body.read_line(&mut client, None, T).unwrap(), b"bb\n");
        assert_eq!(body.read_line(&mut client, None, T).unwrap(), b"cc", "the last line has no newline");
        assert_eq!(body.read_line(&mut client, None, T).unwrap(), b"");
        assert_eq!(body.delivered, 9);
    }

    #[test]
    fn a_chunked_body_is_decoded_and_the_bytes_after_its_last_chunk_are_left() {
        let wire = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nGET /next";
        for per_read in [1, 2, 7, 4096] {
            let mut client = Client::new(b"", wire, per_read);
            let mut body = chunked(u64::MAX);
            assert_eq!(read_all(&mut body, &mut client), b"hello world", "{per_read} bytes per read");
            assert!(body.is_complete());
            let mut rest = client.buf.clone();
            rest.extend(client.reader);
            assert_eq!(rest, b"GET /next");
        }
    }

    #[test]
    fn a_chunked_body_over_the_limit_is_refused_with_413() {
        let mut client = Client::new(b"", b"4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n", 4096);
        let mut body = chunked(6);
        match body.read(&mut client, None, T) {
            Err(BodyError::Http(err)) => assert_eq!(err.status, 413),
            other => panic!("expected 413, got {other:?}"),
        }
    }

    #[test]
    fn malformed_chunk_framing_is_refused_with_400() {
        // The data is longer than its size line says: no CRLF where one must be.
        let mut client = Client::new(b"", b"3\r\nabcd\r\n0\r\n\r\n", 4096);
        match chunked(u64::MAX).read(&mut client, None, T) {
            Err(BodyError::Http(err)) => assert_eq!(err.status, 400),
            other => panic!("expected 400, got {other:?}"),
        }
    }

    #[test]
    fn a_client_that_closes_mid_body_is_an_error_not_a_short_body() {
        let mut client = Client::new(b"", b"1234", 2);
        assert!(matches!(sized(10).read(&mut client, None, T), Err(BodyError::Io(IoError::Closed))));
        let mut client = Client::new(b"", b"5\r\nhel", 2);
        assert!(matches!(chunked(u64::MAX).read(&mut client, None, T), Err(BodyError::Io(IoError::Closed))));
        // Bytes that did arrive are handed over before the error surfaces.
        let mut client = Client::new(b"", b"1234", 2);
        let mut body = sized(10);
        assert_eq!(body.read(&mut client, Some(4), T).unwrap(), b"1234");
        assert!(body.read(&mut client, Some(4), T).is_err());
    }

    #[test]
    fn an_empty_body_reads_nothing_from_the_client() {
        let mut client = Client::new(b"GET /next", b"more", 1);
        let mut body = Body::new(BodyKind::Empty, false, u64::MAX);
        assert_eq!(body.read(&mut client, None, T).unwrap(), b"");
        assert_eq!(body.read_line(&mut client, None, T).unwrap(), b"");
        assert_eq!(client.buf, b"GET /next");
    }

    #[test]
    fn continue_is_sent_once_and_only_when_the_body_is_read_and_not_already_coming() {
        let mut client = Client::new(b"", b"body", 4096);
        let mut body = Body::new(BodyKind::Length(4), true, u64::MAX);
        assert_eq!(client.continues, 0, "not before the app asks for the body");
        assert_eq!(body.read(&mut client, Some(2), T).unwrap(), b"bo");
        assert_eq!(body.read(&mut client, Some(2), T).unwrap(), b"dy");
        assert_eq!(client.continues, 1);

        // The client sent the body without waiting: no go-ahead needed.
        let mut client = Client::new(b"body", b"", 4096);
        let mut body = Body::new(BodyKind::Length(4), true, u64::MAX);
        assert_eq!(read_all(&mut body, &mut client), b"body");
        assert_eq!(client.continues, 0);
    }

    #[test]
    fn an_unread_body_the_client_was_never_invited_to_send_is_not_waited_for() {
        // The bytes after the head are the next request, not the body.
        let mut client = Client::new(b"GET /next", b"", 4096);
        let mut body = Body::new(BodyKind::Length(1000), true, u64::MAX);
        assert!(body.discard_rest(&mut client, 0, T).unwrap());
        assert_eq!((client.continues, &client.buf[..]), (0, &b"GET /next"[..]));
    }

    #[test]
    fn an_unread_body_is_discarded_up_to_the_allowance() {
        let mut client = Client::new(b"", b"0123456789GET /next", 3);
        let mut body = sized(10);
        assert_eq!(body.read(&mut client, Some(2), T).unwrap(), b"01");
        assert!(body.discard_rest(&mut client, 8, T).unwrap());
        let mut rest = client.buf.clone();
        rest.extend(client.reader);
        assert_eq!(rest, b"GET /next");
        assert_eq!(body.delivered, 2, "discarded bytes were not delivered");

        // More left than allowed: the caller closes the connection instead.
        let mut client = Client::new(b"", b"0123456789", 3);
        assert!(!sized(10).discard_rest(&mut client, 4, T).unwrap());
        let wire = b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
        assert!(!chunked(u64::MAX).discard_rest(&mut Client::new(b"", wire, 4096), 4, T).unwrap());
        assert!(chunked(u64::MAX).discard_rest(&mut Client::new(b"", wire, 4096), 6, T).unwrap());
    }

    #[test]
    fn the_recorder_s_copy_has_what_the_app_read_and_what_was_dropped_after() {
        let mut client = Client::new(b"", b"0123456789GET /next", 3);
        let mut body = sized(10);
        body.capture = Some(Capture::default());
        assert_eq!(body.read(&mut client, Some(4), T).unwrap(), b"0123");
        assert!(body.discard_rest(&mut client, 100, T).unwrap());
        let copy = body.capture.take().unwrap().into_body();
        assert_eq!((copy.size, copy.bytes().unwrap().as_ref()), (10, &b"0123456789"[..]));
    }

    #[test]
    fn a_stored_body_gives_its_first_bytes_from_memory_or_from_its_file() {
        let mut stored = Stored::default();
        stored.append(b"hello ", 8).unwrap();
        assert_eq!(stored.first(3).unwrap(), b"hel");
        stored.append(b"world", 8).unwrap();
        assert!(stored.file.is_some(), "past 8 bytes the body is in a file");
        assert_eq!(stored.first(5).unwrap(), b"hello");
        assert_eq!(stored.first(100).unwrap(), b"hello world");
    }
}
