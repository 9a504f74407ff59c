//! Parsing a request head: request line and header fields, from bytes to a [`RequestHead`].
//!
//! What it does: finds the end of the head in the bytes received so far, checks the
//! syntax with `httparse`, and applies the rules of RFC 9112 that decide how the body is
//! framed and whether the request is trustworthy at all. Everything ambiguous is refused
//! rather than guessed at, because a front proxy that guesses differently would let a
//! second request hide inside the first (request smuggling).
//!
//! What it does NOT do: read from a socket, decode the body (see
//! [`ChunkedDecoder`](super::ChunkedDecoder)), percent-decode the target, or interpret
//! header values beyond those that frame the message (Host, Content-Length,
//! Transfer-Encoding, Connection, Expect).

use std::ops::Range;

use super::{list_elements, parse_decimal, HttpError};

/// How much of a request the server accepts before refusing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The request line and all header fields together, in bytes (431 or 414 beyond it).
    pub max_head_bytes: usize,
    /// Header fields in one request (431 beyond it).
    pub max_headers: usize,
    /// Body bytes, declared by Content-Length or decoded from chunks (413 beyond it).
    pub max_body: u64,
}

impl Default for Limits {
    /// 64 KiB of head, 100 header fields, 10 MiB of body (DESIGN.md section 4).
    fn default() -> Self {
        Self { max_head_bytes: 64 * 1024, max_headers: 100, max_body: 10 * 1024 * 1024 }
    }
}

/// The HTTP versions the server speaks; others are refused with 505.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Version {
    /// HTTP/1.0: connections close after each response unless the client asks otherwise.
    Http10,
    /// HTTP/1.1: persistent connections, chunked transfer coding, `100 Continue`.
    #[default]
    Http11,
}

impl Version {
    /// The version as it appears on the wire (and in WSGI's `SERVER_PROTOCOL`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyKind {
    /// No body: no framing header, or `Content-Length: 0`.
    #[default]
    Empty,
    /// Exactly this many bytes follow the head (never 0, never above `Limits::max_body`).
    Length(u64),
    /// A chunked body follows; decode it with [`ChunkedDecoder`](super::ChunkedDecoder).
    Chunked,
}

/// A parsed request head, owning copies of the bytes it refers to.
///
/// The method, target and field names are ASCII; field values are the raw bytes sent
/// (they may be latin-1), with surrounding whitespace removed. Reuse one `RequestHead` per
/// connection through [`parse_head_into`] and parsing allocates nothing once its buffers
/// have grown to the size of a typical request.
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    /// The request's HTTP version; responses are written with the same one.
    pub version: Version,
    /// How the body is framed.
    pub body: BodyKind,
    /// Whether the client lets the connection stay open after the response (RFC 9112
    /// section 9.3): HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
    /// `Connection: keep-alive`.
    pub keep_alive: bool,
    /// Whether the client waits for `100 Continue` before sending the body: an HTTP/1.1
    /// request with a body and `Expect: 100-continue`.
    pub expect_continue: bool,
    /// Method, then target, then every field name, back to back.
    text: String,
    method_end: usize,
    target_end: usize,
    /// Every field value, back to back.
    values: Vec<u8>,
    fields: Vec<Field>,
}

/// Where one header field's name (in `text`) and value (in `values`) are.
#[derive(Debug, Clone)]
struct Field {
    name: Range<usize>,
    value: Range<usize>,
}

impl RequestHead {
    /// The method, as sent (methods are case-sensitive).
    pub fn method(&self) -> &str {
        &self.text[..self.method_end]
    }

    /// The request target exactly as sent: path and query, still percent-encoded.
    pub fn target(&self) -> &str {
        &self.text[self.method_end..self.target_end]
    }

    /// The path part of the target, still percent-encoded. For an absolute-form target
    /// (`http://host/p?q`) this is the path after the authority (`/p`); for `*` it is `*`.
    pub fn path(&self) -> &str {
        let (before_query, _) = split_query(self.target());
        match scheme_len(before_query.as_bytes()) {
            Some(scheme) => {
                let after_scheme = &before_query[scheme + "://".len()..];
                after_scheme.find('/').map_or("/", |slash| &after_scheme[slash..])
            }
            None => before_query,
        }
    }

    /// The query string without its `?`; empty when there is none (WSGI's `QUERY_STRING`).
    pub fn query(&self) -> &str {
        split_query(self.target()).1
    }

    /// All header fields in the order received: the name as spelled by the client, the raw
    /// value bytes.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &[u8])> + DoubleEndedIterator + '_ {
        self.fields.iter().map(|field| self.field(field))
    }

    /// The first value of the field named `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers().find(|(field, _)| is_named(field, name)).map(|(_, value)| value)
    }

    /// Every value of the field named `name` (compared case-insensitively), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers().filter(move |(field, _)| is_named(field, name)).map(|(_, value)| value)
    }

    /// The head as it would be sent again, for another process to parse: the request line
    /// and every field, in order, with the values trimmed as parsed.
    pub fn write_wire(&self, out: &mut Vec<u8>) {
        for piece in [self.method(), " ", self.target(), " ", self.version.as_str(), "\r\n"] {
            out.extend_from_slice(piece.as_bytes());
        }
        for (name, value) in self.headers() {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }

    fn field(&self, field: &Field) -> (&str, &[u8]) {
        (&self.text[field.name.clone()], &self.values[field.value.clone()])
    }

    /// Replaces the contents with a request httparse accepted and [`examine`] approved,
    /// keeping the allocations.
    fn fill(&mut self, request: &Parsed<'_>, facts: Facts) {
        let Facts { version, body, keep_alive, expect_continue } = facts;
        *self = Self {
            version,
            body,
            keep_alive,
            expect_continue,
            text: std::mem::take(&mut self.text),
            method_end: 0,
            target_end: 0,
            values: std::mem::take(&mut self.values),
            fields: std::mem::take(&mut self.fields),
        };
        self.text.clear();
        self.values.clear();
        self.fields.clear();

        let names: usize = request.headers.iter().map(|h| h.name.len()).sum();
        let values: usize = request.headers.iter().map(|h| h.value.len()).sum();
        self.text.reserve(request.method.len() + request.target.len() + names);
        self.values.reserve(values);
        self.fields.reserve(request.headers.len());

        self.text.push_str(request.method);
        self.method_end = self.text.len();
        self.text.push_str(request.target);
        self.target_end = self.text.len();
        for header in request.headers {
            let name = self.text.len()..self.text.len() + header.name.len();
            self.text.push_str(header.name);
            let value = self.values.len()..self.values.len() + header.value.len();
            self.values.extend_from_slice(header.value);
            self.fields.push(Field { name, value });
        }
    }
}

/// Field names compare case-insensitively; comparing lengths first makes misses cheap.
fn is_named(field: &str, name: &str) -> bool {
    field.len() == name.len() && field.eq_ignore_ascii_case(name)
}

/// Parses the request head at the start of `buf`.
///
/// Returns `Ok(None)` while the head is incomplete, `Ok(Some((head, consumed)))` once it
/// is complete, where `consumed` counts the head's bytes including the blank line (and
/// any empty lines before the request line); the body, if any, starts at
/// `buf[consumed..]`. Allocates only for the returned head; prefer [`parse_head_into`]
/// on a connection that serves many requests.
///
/// Each call parses `buf` from its start, so call it when new bytes arrived, not in a loop.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<(RequestHead, usize)>, HttpError> {
    let mut head = RequestHead::default();
    Ok(parse_head_into(buf, limits, &mut head)?.map(|consumed| (head, consumed)))
}

/// Like [`parse_head`], writing into `head` and reusing its allocations. `head` is only
/// changed when the result is `Ok(Some(consumed))`.
pub fn parse_head_into(buf: &[u8], limits: &Limits, head: &mut RequestHead) -> Result<Option<usize>, HttpError> {
    // Parsing only the allowed window makes the limit exact and bounds the work per call.
    let window = &buf[..buf.len().min(limits.max_head_bytes)];

    // httparse needs a slot per header field; the stack covers the default limit, so the
    // common case allocates nothing here.
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let mut heap = Vec::new();
    let slots = if limits.max_headers <= STACK_HEADERS {
        &mut stack[..limits.max_headers]
    } else {
        heap.resize(limits.max_headers, httparse::EMPTY_HEADER);
        &mut heap[..]
    };

    let mut request = httparse::Request::new(slots);
    match request.parse(window) {
        Ok(httparse::Status::Complete(consumed)) => {
            reject_bare_lf(&window[..consumed])?;
            let parsed = Parsed::from_httparse(&request)?;
            let facts = examine(&parsed, limits)?;
            head.fill(&parsed, facts);
            return Ok(Some(consumed));
        }
        Ok(httparse::Status::Partial) => {}
        Err(httparse::Error::Version) => wait_or_refuse_version(window)?,
        Err(error) => return Err(syntax_error(error)),
    }

    if buf.len() <= limits.max_head_bytes {
        Ok(None)
    } else if request_line(window).1 {
        Err(HttpError::header_fields_too_large("the request head is larger than the limit"))
    } else {
        Err(HttpError::uri_too_long("the request line is longer than the head limit"))
    }
}

/// Enough httparse slots on the stack for the default `Limits::max_headers`.
const STACK_HEADERS: usize = 128;

/// What httparse found, with the options it leaves open already settled.
struct Parsed<'a> {
    method: &'a str,
    target: &'a str,
    version: Version,
    headers: &'a [httparse::Header<'a>],
}

impl<'r> Parsed<'r> {
    fn from_httparse<'b: 'r>(request: &'r httparse::Request<'_, 'b>) -> Result<Self, HttpError> {
        // httparse fills all three before reporting a complete head; the error is only a
        // guard against that changing.
        let (Some(method), Some(target), Some(minor)) = (request.method, request.path, request.version) else {
            return Err(HttpError::bad_request("malformed request line"));
        };
        let version = if minor == 0 { Version::Http10 } else { Version::Http11 };
        Ok(Self { method, target, version, headers: request.headers })
    }
}

/// The request's framing and connection facts, or why it must be refused.
struct Facts {
    version: Version,
    body: BodyKind,
    keep_alive: bool,
    expect_continue: bool,
}

fn examine(request: &Parsed<'_>, limits: &Limits) -> Result<Facts, HttpError> {
    check_target(request.method, request.target)?;

    let mut hosts = 0usize;
    let mut content_length: Option<u64> = None;
    let mut transfer_coding = TransferCoding::default();
    let mut close = false;
    let mut keep_alive = false;
    let mut continue_expected = false;

    for header in request.headers {
        let name = header.name.as_bytes();
        let value = header.value;
        // Dispatching on the length first keeps the common, irrelevant fields cheap.
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => hosts += 1,
            6 if name.eq_ignore_ascii_case(b"expect") => {
                continue_expected |= list_elements(value).any(|e| e.eq_ignore_ascii_case(b"100-continue"));
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for option in list_elements(value) {
                    close |= option.eq_ignore_ascii_case(b"close");
                    keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                let length = parse_content_length(value)?;
                // Identical repeats are harmless (some clients and proxies send them);
                // different ones leave the body length ambiguous.
                if content_length.is_some_and(|previous| previous != length) {
                    return Err(HttpError::bad_request("conflicting Content-Length values"));
                }
                content_length = Some(length);
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => transfer_coding.add(value),
            _ => {}
        }
    }

    if hosts > 1 {
        return Err(HttpError::bad_request("more than one Host header field"));
    }
    if hosts == 0 && request.version == Version::Http11 {
        return Err(HttpError::bad_request("an HTTP/1.1 request must have a Host header field"));
    }

    let body = match (transfer_coding.present, content_length) {
        (true, _) if request.version == Version::Http10 => {
            return Err(HttpError::bad_request("Transfer-Encoding in an HTTP/1.0 request"));
        }
        (true, Some(_)) => {
            return Err(HttpError::bad_request("both Content-Length and Transfer-Encoding: the body length is ambiguous"));
        }
        (true, None) => transfer_coding.body()?,
        (false, Some(length)) if length > limits.max_body => {
            return Err(HttpError::content_too_large("Content-Length is above the body limit"));
        }
        (false, Some(0) | None) => BodyKind::Empty,
        (false, Some(length)) => BodyKind::Length(length),
    };

    let keep_alive = match request.version {
        Version::Http11 => !close,
        Version::Http10 => keep_alive && !close,
    };
    // A client must not expect 100-continue without a body (RFC 9110 section 10.1.1), and
    // HTTP/1.0 has no 1xx responses.
    let expect_continue = continue_expected && request.version == Version::Http11 && body != BodyKind::Empty;

    Ok(Facts { version: request.version, body, keep_alive, expect_continue })
}

/// `Content-Length` is `1*DIGIT`; a comma-separated list of equal values is what a proxy
/// produces when it combines repeated fields (RFC 9110 section 8.6), so it is accepted.
fn parse_content_length(value: &[u8]) -> Result<u64, HttpError> {
    let mut length = None;
    for element in list_elements(value) {
        let parsed = parse_decimal(element).ok_or(HttpError::bad_request("invalid Content-Length"))?;
        if length.is_some_and(|previous| previous != parsed) {
            return Err(HttpError::bad_request("conflicting Content-Length values"));
        }
        length = Some(parsed);
    }
    length.ok_or(HttpError::bad_request("invalid Content-Length"))
}

/// The transfer codings of a request, across all its Transfer-Encoding fields, in order.
#[derive(Default)]
struct TransferCoding {
    present: bool,
    codings: usize,
    chunked: usize,
    last_is_chunked: bool,
}

impl TransferCoding {
    fn add(&mut self, value: &[u8]) {
        self.present = true;
        // Empty list elements are ignored as RFC 9110 section 5.6.1 asks.
        for coding in list_elements(value).filter(|coding| !coding.is_empty()) {
            self.codings += 1;
            self.last_is_chunked = coding.eq_ignore_ascii_case(b"chunked");
            self.chunked += usize::from(self.last_is_chunked);
        }
    }

    /// Only `chunked`, alone, frames a body we can read. When chunked is present but not
    /// last (or repeated) the length cannot be determined at all: 400 (RFC 9112 section
    /// 6.3). Otherwise a coding we do not implement is 501 (RFC 9112 section 6.1).
    fn body(&self) -> Result<BodyKind, HttpError> {
        if self.codings == 0 {
            Err(HttpError::bad_request("empty Transfer-Encoding"))
        } else if self.chunked > 0 && !self.last_is_chunked {
            Err(HttpError::bad_request("chunked is not the final transfer coding"))
        } else if self.chunked > 1 {
            Err(HttpError::bad_request("chunked applied more than once"))
        } else if self.codings > 1 || !self.last_is_chunked {
            Err(HttpError::not_implemented("unsupported transfer coding (only chunked is)"))
        } else {
            Ok(BodyKind::Chunked)
        }
    }
}

/// The four request-target forms of RFC 9112 section 3.2, each only where it belongs.
fn check_target(method: &str, target: &str) -> Result<(), HttpError> {
    let bytes = target.as_bytes();
    let acceptable = match bytes.first() {
        Some(b'/') => true,
        Some(b'*') if bytes.len() == 1 => method == "OPTIONS",
        _ if method == "CONNECT" => true,
        _ => scheme_len(bytes).is_some(),
    };
    if acceptable {
        Ok(())
    } else {
        Err(HttpError::bad_request("malformed request target"))
    }
}

/// The length of the scheme when `target` is in absolute form (`scheme://...`).
fn scheme_len(target: &[u8]) -> Option<usize> {
    let end = memchr::memmem::find(target, b"://")?;
    let (first, rest) = target[..end].split_first()?;
    let valid = first.is_ascii_alphabetic() && rest.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some(end)
}

fn split_query(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

/// httparse accepts a lone LF as a line ending (RFC 9112 section 2.2 allows it). We do
/// not: a front proxy that does not would read the bytes after it as part of a field
/// value while we read them as a new field, which is how headers get smuggled.
fn reject_bare_lf(head: &[u8]) -> Result<(), HttpError> {
    match memchr::memchr_iter(b'\n', head).find(|&lf| lf == 0 || head[lf - 1] != b'\r') {
        Some(_) => Err(HttpError::bad_request("line ending without CR (bare LF)")),
        None => Ok(()),
    }
}

fn syntax_error(error: httparse::Error) -> HttpError {
    match error {
        httparse::Error::HeaderName => {
            HttpError::bad_request("invalid header field name (whitespace before the colon, obs-fold or a bad byte)")
        }
        httparse::Error::HeaderValue => HttpError::bad_request("invalid byte in a header field value (CR, NUL or a control)"),
        httparse::Error::NewLine => HttpError::bad_request("malformed line ending"),
        httparse::Error::TooManyHeaders => HttpError::header_fields_too_large("more header fields than the limit"),
        _ => HttpError::bad_request("malformed request line"),
    }
}

/// The request line after any leading empty lines, without its line ending, and whether
/// its end has arrived.
fn request_line(buf: &[u8]) -> (&[u8], bool) {
    let mut rest = buf;
    while let Some(tail) = rest.strip_prefix(b"\r\n").or_else(|| rest.strip_prefix(b"\n")) {
        rest = tail;
    }
    match memchr::memchr(b'\n', rest) {
        Some(end) => {
            let line = &rest[..end];
            (line.strip_suffix(b"\r").unwrap_or(line), true)
        }
        None => (rest, false),
    }
}

/// httparse rejects every version but 1.0 and 1.1 alike. A well-formed other version
/// (`HTTP/2.0`, `HTTP/0.9`) deserves 505, anything else 400; and since httparse rejects
/// as soon as it sees `HTTP/2`, a version still arriving may yet become a well-formed one,
/// in which case this returns `Ok` so the caller waits for more bytes.
fn wait_or_refuse_version(window: &[u8]) -> Result<(), HttpError> {
    const SHAPE: &[u8; 8] = b"HTTP/#.#";
    let fits_shape = |version: &[u8]| {
        version.len() <= SHAPE.len()
            && version.iter().zip(SHAPE).all(|(&b, &want)| match want {
                b'#' => b.is_ascii_digit(),
                _ => b == want,
            })
    };
    let is_version = |version: &[u8]| version.len() == SHAPE.len() && fits_shape(version);

    let (line, complete) = request_line(window);
    let version = line.splitn(3, |&b| b == b' ').nth(2).unwrap_or_default();
    if complete {
        if is_version(version) {
            return Err(HttpError::version_not_supported("only HTTP/1.0 and HTTP/1.1 are served"));
        }
    } else {
        let may_become_version = match version.strip_suffix(b"\r") {
            Some(before_cr) => is_version(before_cr),
            None => fits_shape(version),
        };
        if may_become_version {
            return Ok(());
        }
    }
    Err(HttpError::bad_request("malformed HTTP version"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{seed_corpus, Rng};

    fn parse(raw: &[u8]) -> Result<Option<(RequestHead, usize)>, HttpError> {
        parse_head(raw, &Limits::default())
    }

    fn head(raw: &[u8]) -> RequestHead {
        match parse(raw) {
            Ok(Some((head, consumed))) => {
                assert_eq!(consumed, raw.len(), "the whole input is the head");
                head
            }
            other => panic!("expected a complete head for {:?}, got {other:?}", show(raw)),
        }
    }

    fn status(raw: &[u8]) -> u16 {
        match parse(raw) {
            Err(error) => error.status,
            other => panic!("expected an error for {:?}, got {other:?}", show(raw)),
        }
    }

    fn show(raw: &[u8]) -> String {
        String::from_utf8_lossy(raw).into_owned()
    }

    /// A minimal valid HTTP/1.1 request with `extra` header lines (each ending in CRLF).
    fn with_headers(extra: &str) -> Vec<u8> {
        format!("POST /submit HTTP/1.1\r\nHost: example.com\r\n{extra}\r\n").into_bytes()
    }

    #[test]
    fn a_head_written_again_parses_to_the_same_head() {
        let raw = b"POST /a?b=1 HTTP/1.0\r\nHost:  example.com \r\nContent-Length: 5\r\nX-Latin: caf\xe9\r\nConnection: keep-alive\r\n\r\n";
        let first = head(raw);
        let mut wire = Vec::new();
        first.write_wire(&mut wire);
        let again = head(&wire);
        assert_eq!((again.method(), again.target(), again.version), (first.method(), first.target(), first.version));
        assert_eq!((again.body, again.keep_alive), (first.body, first.keep_alive));
        assert!(again.headers().eq(first.headers()));
        assert_eq!(again.header("host"), Some(&b"example.com"[..]));
    }

    #[test]
    fn parses_request_line_and_headers() {
        let head = head(b"GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nX-Thing: v\r\n\r\n");
        assert_eq!(head.method(), "GET");
        assert_eq!(head.target(), "/a/b?x=1&y=2");
        assert_eq!(head.path(), "/a/b");
        assert_eq!(head.query(), "x=1&y=2");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.body, BodyKind::Empty);
        assert!(head.keep_alive);
        assert!(!head.expect_continue);
        let headers: Vec<_> = head.headers().collect();
        assert_eq!(headers, [("Host", &b"example.com"[..]), ("X-Thing", &b"v"[..])]);
    }

    #[test]
    fn query_is_empty_without_question_mark() {
        let head = head(b"GET /plain HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(head.path(), "/plain");
        assert_eq!(head.query(), "");
    }

    #[test]
    fn consumed_stops_at_the_blank_line() {
        let raw = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
        let (head, consumed) = parse(raw).unwrap().unwrap();
        assert_eq!(&raw[consumed..], b"hello");
        assert_eq!(head.body, BodyKind::Length(5));
    }

    #[test]
    fn incomplete_head_is_none() {
        for raw in [&b""[..], b"GET", b"GET / HTTP/1.1\r\nHost: h\r\n", b"GET / HTTP/1.1\r\nHost: h\r\n\r"] {
            assert_eq!(parse(raw).unwrap().map(|(_, n)| n), None, "{:?}", show(raw));
        }
    }

    #[test]
    fn byte_by_byte_feeding_completes_exactly_at_the_end() {
        let raw = b"GET /x HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\nNEXT";
        let end = raw.len() - 4;
        for len in 0..=raw.len() {
            let result = parse(&raw[..len]).unwrap().map(|(_, n)| n);
            assert_eq!(result, (len >= end).then_some(end), "prefix of {len} bytes");
        }
    }

    #[test]
    fn leading_empty_lines_are_skipped_and_counted() {
        let raw = b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
        let (head, consumed) = parse(raw).unwrap().unwrap();
        assert_eq!(head.method(), "GET");
        assert_eq!(consumed, raw.len());
    }

    #[test]
    fn names_keep_their_spelling_and_values_their_bytes() {
        let head = head(b"GET / HTTP/1.1\r\nHost: h\r\nX-LaTiN: caf\xe9\r\n\r\n");
        assert_eq!(head.headers().nth(1), Some(("X-LaTiN", &b"caf\xe9"[..])));
    }

    #[test]
    fn header_lookup_ignores_case_and_sees_repeats() {
        let head = head(b"GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\naccept: b\r\n\r\n");
        assert_eq!(head.header("ACCEPT"), Some(&b"a"[..]));
        assert_eq!(head.header_values("accept").collect::<Vec<_>>(), [b"a", b"b"]);
        assert_eq!(head.header("missing"), None);
    }

    #[test]
    fn header_values_are_trimmed() {
        let head = head(b"GET / HTTP/1.1\r\nHost: h\r\nX: \t padded \t\r\n\r\n");
        assert_eq!(head.header("x"), Some(&b"padded"[..]));
    }

    #[test]
    fn parse_head_into_reuses_and_resets() {
        let limits = Limits::default();
        let mut head = RequestHead::default();
        let first = b"POST /long/path HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX: 1\r\n\r\n";
        assert_eq!(parse_head_into(first, &limits, &mut head), Ok(Some(first.len())));
        let second = b"GET /s HTTP/1.0\r\n\r\n";
        assert_eq!(parse_head_into(second, &limits, &mut head), Ok(Some(second.len())));
        assert_eq!((head.method(), head.target(), head.headers().len()), ("GET", "/s", 0));
        assert_eq!((head.version, head.body, head.keep_alive), (Version::Http10, BodyKind::Empty, false));
    }

    #[test]
    fn head_is_untouched_while_incomplete() {
        let limits = Limits::default();
        let mut head = RequestHead::default();
        let full = b"GET /kept HTTP/1.1\r\nHost: h\r\n\r\n";
        parse_head_into(full, &limits, &mut head).unwrap();
        assert_eq!(parse_head_into(b"GET /other", &limits, &mut head), Ok(None));
        assert_eq!(head.target(), "/kept");
    }

    // --- limits ---

    #[test]
    fn oversized_incomplete_head_is_431() {
        let limits = Limits { max_head_bytes: 64, ..Limits::default() };
        let mut raw = b"GET / HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
        raw.resize(65, b'a');
        assert_eq!(parse_head(&raw, &limits).unwrap_err().status, 431);
        assert_eq!(parse_head(&raw[..64], &limits).map(|r| r.is_none()), Ok(true));
    }

    #[test]
    fn oversized_request_line_is_414() {
        let limits = Limits { max_head_bytes: 64, ..Limits::default() };
        let mut raw = b"GET /".to_vec();
        raw.resize(100, b'a');
        assert_eq!(parse_head(&raw, &limits).unwrap_err().status, 414);
    }

    #[test]
    fn head_within_limit_is_accepted_with_more_bytes_buffered() {
        let raw = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        let limits = Limits { max_head_bytes: raw.len(), ..Limits::default() };
        let mut buffered = raw.to_vec();
        buffered.extend_from_slice(&[b'x'; 1000]);
        assert_eq!(parse_head(&buffered, &limits).unwrap().map(|(_, n)| n), Some(raw.len()));
    }

    #[test]
    fn more_headers_than_the_limit_is_431() {
        let limits = Limits { max_headers: 3, ..Limits::default() };
        let ok = with_headers("A: 1\r\nB: 2\r\n");
        assert!(parse_head(&ok, &limits).unwrap().is_some());
        let too_many = with_headers("A: 1\r\nB: 2\r\nC: 3\r\n");
        assert_eq!(parse_head(&too_many, &limits).unwrap_err().status, 431);
    }

    #[test]
    fn header_limit_above_the_stack_slots_works() {
        let limits = Limits { max_headers: STACK_HEADERS + 10, ..Limits::default() };
        let extra: String = (0..STACK_HEADERS + 5).map(|i| format!("X-{i}: v\r\n")).collect();
        let head = parse_head(&with_headers(&extra), &limits).unwrap().unwrap().0;
        assert_eq!(head.headers().len(), STACK_HEADERS + 6);
    }

    #[test]
    fn content_length_above_max_body_is_413() {
        let limits = Limits { max_body: 100, ..Limits::default() };
        let at_limit = with_headers("Content-Length: 100\r\n");
        assert_eq!(parse_head(&at_limit, &limits).unwrap().unwrap().0.body, BodyKind::Length(100));
        let above = with_headers("Content-Length: 101\r\n");
        assert_eq!(parse_head(&above, &limits).unwrap_err().status, 413);
    }

    // --- request line ---

    #[test]
    fn malformed_request_line_is_400() {
        for raw in [
            &b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n"[..],
            b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
            b"GET /\r\nHost: h\r\n\r\n",
            b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
            b" GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1\rHost: h\r\n\r\n",
            b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
        ] {
            assert_eq!(status(raw), 400, "{:?}", show(raw));
        }
    }

    #[test]
    fn non_utf8_target_is_400() {
        assert_eq!(status(b"GET /\xff\xfe HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    }

    #[test]
    fn other_well_formed_versions_are_505() {
        for version in ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.0"] {
            let raw = format!("GET / {version}\r\nHost: h\r\n\r\n");
            assert_eq!(status(raw.as_bytes()), 505, "{version}");
        }
    }

    #[test]
    fn garbage_versions_are_400() {
        for version in ["HTTP/1", "HTTP/2", "http/1.1", "HTTP/1.1x", "HTTP/1.10", "HTTP/11.1", "FOO"] {
            let raw = format!("GET / {version}\r\nHost: h\r\n\r\n");
            assert_eq!(status(raw.as_bytes()), 400, "{version}");
        }
    }

    #[test]
    fn unsupported_version_still_arriving_waits() {
        for partial in ["GET / HTTP/2", "GET / HTTP/2.", "GET / HTTP/2.0", "GET / HTTP/2.0\r"] {
            assert_eq!(parse(partial.as_bytes()).map(|r| r.is_none()), Ok(true), "{partial}");
        }
    }

    #[test]
    fn http10_is_accepted_without_host() {
        let head = head(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(head.version, Version::Http10);
    }

    #[test]
    fn absolute_form_target_yields_its_path() {
        let head = head(b"GET http://example.com/p/q?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
        assert_eq!((head.path(), head.query()), ("/p/q", "x=1"));
        let bare = self::head(b"GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
        assert_eq!(bare.path(), "/");
    }

    #[test]
    fn asterisk_target_only_for_options() {
        assert_eq!(head(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").path(), "*");
        assert_eq!(status(b"GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    }

    #[test]
    fn authority_form_only_for_connect() {
        assert_eq!(head(b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n").target(), "h:443");
        assert_eq!(status(b"GET h:443 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    }

    // --- header syntax ---

    #[test]
    fn obs_fold_is_400() {
        assert_eq!(status(&with_headers("X: a\r\n  folded\r\n")), 400);
        assert_eq!(status(&with_headers("X: a\r\n\tfolded\r\n")), 400);
    }

    #[test]
    fn space_before_first_header_is_400() {
        assert_eq!(status(b"GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400);
    }

    #[test]
    fn nul_in_header_value_is_400() {
        assert_eq!(status(&with_headers("X: a\0b\r\n")), 400);
    }

    #[test]
    fn cr_in_header_value_is_400() {
        assert_eq!(status(&with_headers("X: a\rb\r\n")), 400);
    }

    #[test]
    fn lf_in_header_value_is_400() {
        // A lone LF would end the line for a lenient parser and start a new field.
        assert_eq!(status(&with_headers("X: a\nTransfer-Encoding: chunked\r\n")), 400);
        assert_eq!(status(&with_headers("X: a\nb\r\n")), 400);
    }

    #[test]
    fn control_byte_in_header_value_is_400() {
        assert_eq!(status(&with_headers("X: a\x01b\r\n")), 400);
        assert_eq!(status(&with_headers("X: a\x7fb\r\n")), 400);
    }

    #[test]
    fn bare_lf_line_endings_are_400() {
        assert_eq!(status(b"GET / HTTP/1.1\nHost: h\n\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: h\r\n\n"), 400);
        assert_eq!(status(b"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    }

    #[test]
    fn whitespace_before_colon_is_400() {
        assert_eq!(status(&with_headers("Content-Length : 5\r\n")), 400);
        assert_eq!(status(&with_headers("X\t: 5\r\n")), 400);
    }

    #[test]
    fn invalid_header_name_is_400() {
        assert_eq!(status(&with_headers(": empty\r\n")), 400);
        assert_eq!(status(&with_headers("Bad(Name): v\r\n")), 400);
        assert_eq!(status(&with_headers("NoColon\r\n")), 400);
    }

    // --- body framing ---

    #[test]
    fn invalid_content_length_is_400() {
        for value in ["abc", "-1", "+1", "", "1 2", "0x10", "1.0", "18446744073709551616", "5,"] {
            let raw = with_headers(&format!("Content-Length: {value}\r\n"));
            assert_eq!(status(&raw), 400, "Content-Length: {value:?}");
        }
    }

    #[test]
    fn content_length_zero_is_an_empty_body() {
        assert_eq!(head(&with_headers("Content-Length: 0\r\n")).body, BodyKind::Empty);
    }

    #[test]
    fn identical_content_lengths_are_collapsed() {
        let repeated = with_headers("Content-Length: 7\r\nContent-Length: 7\r\n");
        assert_eq!(head(&repeated).body, BodyKind::Length(7));
        let listed = with_headers("Content-Length: 7, 7\r\n");
        assert_eq!(head(&listed).body, BodyKind::Length(7));
    }

    #[test]
    fn differing_content_lengths_are_400() {
        assert_eq!(status(&with_headers("Content-Length: 7\r\nContent-Length: 8\r\n")), 400);
        assert_eq!(status(&with_headers("Content-Length: 7, 8\r\n")), 400);
    }

    #[test]
    fn content_length_with_transfer_encoding_is_400() {
        let raw = with_headers("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n");
        assert_eq!(status(&raw), 400);
        let reversed = with_headers("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n");
        assert_eq!(status(&reversed), 400);
    }

    #[test]
    fn chunked_transfer_encoding_is_accepted_in_any_case() {
        assert_eq!(head(&with_headers("Transfer-Encoding: chunked\r\n")).body, BodyKind::Chunked);
        assert_eq!(head(&with_headers("transfer-encoding: CHUNKED\r\n")).body, BodyKind::Chunked);
    }

    #[test]
    fn unknown_transfer_coding_is_501() {
        for value in ["gzip, chunked", "identity", "chunkedx", "gzip", "chunked;ext=1"] {
            let raw = with_headers(&format!("Transfer-Encoding: {value}\r\n"));
            assert_eq!(status(&raw), 501, "Transfer-Encoding: {value}");
        }
    }

    #[test]
    fn codings_from_repeated_fields_are_combined() {
        let raw = with_headers("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n");
        assert_eq!(status(&raw), 501);
        let ok = with_headers("Transfer-Encoding: ,\r\nTransfer-Encoding: chunked\r\n");
        assert_eq!(head(&ok).body, BodyKind::Chunked);
    }

    #[test]
    fn chunked_not_last_is_400() {
        assert_eq!(status(&with_headers("Transfer-Encoding: chunked, gzip\r\n")), 400);
        let split = with_headers("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n");
        assert_eq!(status(&split), 400);
    }

    #[test]
    fn chunked_twice_is_400() {
        assert_eq!(status(&with_headers("Transfer-Encoding: chunked, chunked\r\n")), 400);
    }

    #[test]
    fn empty_transfer_encoding_is_400() {
        assert_eq!(status(&with_headers("Transfer-Encoding: \r\n")), 400);
    }

    #[test]
    fn transfer_encoding_in_http10_is_400() {
        assert_eq!(status(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
    }

    // --- Host ---

    #[test]
    fn missing_host_in_http11_is_400() {
        assert_eq!(status(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), 400);
    }

    #[test]
    fn several_host_headers_are_400() {
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"), 400);
    }

    // --- connection management ---

    #[test]
    fn http11_keeps_alive_unless_close() {
        assert!(head(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").keep_alive);
        assert!(!head(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!head(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n").keep_alive);
    }

    #[test]
    fn http10_closes_unless_keep_alive() {
        assert!(!head(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(head(b"GET / HTTP/1.0\r\nConnection: te,keep-alive\r\n\r\n").keep_alive);
        assert!(!head(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
    }

    #[test]
    fn expect_continue_needs_http11_and_a_body() {
        let with_body = with_headers("Content-Length: 3\r\nExpect: 100-Continue\r\n");
        assert!(head(&with_body).expect_continue);
        let chunked = with_headers("Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n");
        assert!(head(&chunked).expect_continue);
        assert!(!head(&with_headers("Expect: 100-continue\r\n")).expect_continue);
        let http10 = b"POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
        assert!(!head(http10).expect_continue);
    }

    #[test]
    fn fuzz_seed_corpus_is_refused_or_accepted_as_named() {
        let seeds = seed_corpus("parse_head");
        assert!(seeds.len() >= 40);
        for (name, bytes) in seeds {
            let result = parse(&bytes);
            if name.starts_with("valid_") {
                assert!(matches!(result, Ok(Some(_))), "{name}: {result:?}");
            } else {
                assert!(result.is_err(), "{name} should be refused: {result:?}");
            }
        }
    }

    // --- robustness ---

    /// A plausible request head built from parts that exercise every rule, then bent by
    /// a few random mutations, so valid, subtly invalid and incomplete heads all occur.
    fn random_head(rng: &mut Rng) -> Vec<u8> {
        const LINES: &[&str] = &[
            "GET / HTTP/1.1",
            "POST /p?q=1 HTTP/1.1",
            "GET / HTTP/1.0",
            "OPTIONS * HTTP/1.1",
            "GET http://h/x HTTP/1.1",
            "PUT /up HTTP/1.1",
            "GET / HTTP/2.0",
            "GET  / HTTP/1.1",
        ];
        const FIELDS: &[&str] = &[
            "Content-Length: 5",
            "Content-Length: 5, 5",
            "Content-Length: 0",
            "Transfer-Encoding: chunked",
            "Connection: close",
            "Connection: keep-alive",
            "Expect: 100-continue",
            "X-Latin: caf\u{e9}",
            "Accept: */*",
            "Cookie: a=b; c=d",
        ];
        const BAD_FIELDS: &[&str] = &[
            "Host: other",
            "Content-Length: 7",
            "Content-Length: x",
            " folded",
            "Bad Name: v",
            "Transfer-Encoding: gzip, chunked",
            "Transfer-Encoding: chunked, gzip",
        ];
        const MUTATIONS: &[&[u8]] = &[b"\r", b"\n", b"\0", b" ", b"\t", b":", b",", b"\xe9"];

        let mut head = String::new();
        if rng.below(8) == 0 {
            head.push_str("\r\n");
        }
        head.push_str(LINES[rng.below(LINES.len())]);
        head.push_str("\r\n");
        if rng.below(8) != 0 {
            head.push_str("Host: h\r\n");
        }
        for _ in 0..rng.below(5) {
            let fields = if rng.below(6) == 0 { BAD_FIELDS } else { FIELDS };
            head.push_str(fields[rng.below(fields.len())]);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut raw = head.into_bytes();
        let mutations = if rng.below(2) == 0 { 0 } else { 1 + rng.below(2) };
        for _ in 0..mutations {
            let at = rng.below(raw.len());
            match rng.below(3) {
                0 => {
                    raw.remove(at);
                }
                1 => raw[at] = MUTATIONS[rng.below(MUTATIONS.len())][0],
                _ => {
                    let piece = MUTATIONS[rng.below(MUTATIONS.len())];
                    raw.splice(at..at, piece.iter().copied());
                }
            }
        }
        raw
    }

    #[test]
    fn random_input_fed_byte_by_byte_matches_whole_input() {
        let limits = Limits { max_head_bytes: 200, max_headers: 8, max_body: 1000 };
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for _ in 0..3000 {
            let raw = random_head(&mut rng);
            let whole = parse_head(&raw, &limits).map(|r| r.map(|(_, n)| n));
            // The first answer that is not "incomplete" must be the one the whole input gets.
            let first = (0..=raw.len())
                .map(|len| parse_head(&raw[..len], &limits).map(|r| r.map(|(_, n)| n)))
                .find(|result| *result != Ok(None))
                .unwrap_or(Ok(None));
            assert_eq!(first, whole, "input {:?}", show(&raw));
            if let Ok(Some(consumed)) = whole {
                assert!(consumed <= raw.len());
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(0xdead_beef_0bad_cafe);
        let limits = Limits { max_head_bytes: 512, max_headers: 4, max_body: 10 };
        for _ in 0..20_000 {
            let len = rng.below(300);
            let raw: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
            let _ = parse_head(&raw, &limits);
            let mixed = random_head(&mut rng);
            if let Ok(Some((head, _))) = parse_head(&mixed, &limits) {
                let _ = (head.path(), head.query(), head.headers().count());
            }
        }
    }
}
