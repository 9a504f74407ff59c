//! Writing responses: the head a WSGI app asked for, body framing, fixed responses.
//!
//! What it does: validates the status and headers a WSGI app passed to `start_response`
//! (PEP 3333: latin-1, no control characters, no hop-by-hop fields), decides how the body
//! is framed ([`Framing`]) and whether the connection stays open, and writes the head
//! with `Date`, `Server`, `Content-Length` / `Transfer-Encoding` and `Connection` added
//! as needed. It also writes chunks, the last chunk, `100 Continue` and the error
//! responses for refused requests.
//!
//! What it does NOT do: send anything, count body bytes, or talk to Python. The server
//! follows the returned [`ResponsePlan`]: never more than `Framing::Length` bytes (and
//! closing the connection if fewer were sent), chunks for `Framing::Chunked`, nothing for
//! `Framing::NoBody`, and a close after `Framing::UntilClose`.

use super::{cached_http_date, is_token, parse_decimal, trim_ows, HttpError, Version};

/// The interim response that tells a client waiting on `Expect: 100-continue` to send
/// its body.
pub const CONTINUE_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The zero-size chunk and empty trailer section that end a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// What is wrong with the response head a WSGI app gave; the server logs the message and
/// answers 500 instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderProblem {
    /// The status is not three digits (100-599), a space and a reason phrase.
    #[error(
        "invalid response status {0:?}: expected three digits (100-599), a space and a \
         reason phrase of latin-1 characters without control characters"
    )]
    Status(String),
    /// A 1xx status: a WSGI app can only give the final response.
    #[error("response status {0:?} is interim (1xx); a WSGI app must give a final status")]
    InterimStatus(String),
    /// The header name is not an RFC 9110 token.
    #[error("response header name {0:?} is not a valid token")]
    Name(String),
    /// The header value contains CR, LF, NUL or another control character.
    #[error(
        "response header {0:?} has a control character (CR, LF, NUL, ...) in its value; \
         PEP 3333 forbids them"
    )]
    ControlCharacter(String),
    /// The header value has a character above U+00FF.
    #[error(
        "response header {0:?} has a character outside latin-1 in its value; WSGI header \
         values must be latin-1 (encode others, e.g. RFC 8187 or percent-encoding)"
    )]
    NotLatin1(String),
    /// A hop-by-hop field, which only the server may set.
    #[error("response header {0:?} is hop-by-hop; PEP 3333 forbids WSGI apps to set it")]
    HopByHop(String),
    /// Content-Length is not a decimal number.
    #[error("response header Content-Length has an invalid value {0:?}")]
    ContentLength(String),
    /// More than one Content-Length field.
    #[error("response has more than one Content-Length header")]
    DuplicateContentLength,
}

/// Checks one header a WSGI app gave: a token name, a latin-1 value without control
/// characters (HTAB aside), and not hop-by-hop.
pub fn check_app_header(name: &str, value: &str) -> Result<(), HeaderProblem> {
    if !is_token(name.as_bytes()) {
        return Err(HeaderProblem::Name(name.to_owned()));
    }
    if is_hop_by_hop(name) {
        return Err(HeaderProblem::HopByHop(name.to_owned()));
    }
    check_text(value).map_err(|fault| match fault {
        TextFault::Control => HeaderProblem::ControlCharacter(name.to_owned()),
        TextFault::NotLatin1 => HeaderProblem::NotLatin1(name.to_owned()),
    })
}

/// The fields that describe one connection rather than the message (RFC 9110 section
/// 7.6.1, plus the ones PEP 3333 lists).
const HOP_BY_HOP: [&str; 9] =
    ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding", "upgrade"];

fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|hop| hop.len() == name.len() && hop.eq_ignore_ascii_case(name))
}

enum TextFault {
    Control,
    NotLatin1,
}

/// A field value or reason phrase: HTAB, SP, visible ASCII and obs-text, which on the
/// Python side are the latin-1 characters that are not controls.
fn check_text(text: &str) -> Result<(), TextFault> {
    if text.bytes().all(|b| matches!(b, b'\t' | b' '..=b'~')) {
        return Ok(());
    }
    for c in text.chars() {
        if c > '\u{ff}' {
            return Err(TextFault::NotLatin1);
        }
        if (c < ' ' && c != '\t') || c == '\u{7f}' {
            return Err(TextFault::Control);
        }
    }
    Ok(())
}

/// Writes text already accepted by [`check_text`] as latin-1: one byte per character.
fn put_latin1(text: &str, out: &mut Vec<u8>) {
    if text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
    } else {
        out.extend(text.chars().map(|c| u8::try_from(c).unwrap_or(b'?')));
    }
}

/// The status code of a WSGI status line such as `"200 OK"`.
fn parse_status(status: &str) -> Result<u16, HeaderProblem> {
    let invalid = || HeaderProblem::Status(status.to_owned());
    let (code, reason) = status.split_at_checked(3).ok_or_else(invalid)?;
    let reason = reason.strip_prefix(' ').ok_or_else(invalid)?;
    let code = parse_decimal(code.as_bytes())
        .and_then(|code| u16::try_from(code).ok())
        .filter(|code| (100..=599).contains(code))
        .ok_or_else(invalid)?;
    check_text(reason).map_err(|_| invalid())?;
    if code < 200 {
        return Err(HeaderProblem::InterimStatus(status.to_owned()));
    }
    Ok(code)
}

/// How the response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body bytes at all (HEAD, 204, 304): discard what the app produces.
    NoBody,
    /// Exactly this many bytes; send no more, and close the connection if fewer came.
    Length(u64),
    /// Each piece through [`encode_chunk`], then [`LAST_CHUNK`].
    Chunked,
    /// Raw bytes, the end marked by closing the connection (HTTP/1.0 without a length).
    UntilClose,
}

/// What the server must do after writing the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePlan {
    /// The status code sent (for the access log and metrics).
    pub status: u16,
    /// How to send the body.
    pub framing: Framing,
    /// Whether the connection stays open for another request afterwards.
    pub keep_alive: bool,
}

/// Everything needed to write a response head; [`encode`](Self::encode) writes it.
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'a, N, V> {
    /// The status the app gave, such as `"200 OK"`.
    pub status: &'a str,
    /// The headers the app gave, in order.
    pub headers: &'a [(N, V)],
    /// The request's version; the response is written with the same one.
    pub version: Version,
    /// Whether the server would keep the connection open: the request allows it and the
    /// server is not stopping. The framing may still force a close.
    pub keep_alive: bool,
    /// The request was HEAD: the head is what GET would get, without a body.
    pub head_request: bool,
    /// The body's length when the server already has all of it (a one-element list), so
    /// it can be sent with a Content-Length rather than chunked.
    pub body_length: Option<u64>,
    /// The value of the Date header, from [`cached_http_date`] or [`http_date`](crate::http_date).
    pub date: &'a [u8; 29],
}

impl<N: AsRef<str>, V: AsRef<str>> ResponseHead<'_, N, V> {
    /// Appends the response head to `out` and says how to send the body. On error, `out`
    /// is left as it was.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<ResponsePlan, HeaderProblem> {
        let start = out.len();
        let result = self.write(out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<ResponsePlan, HeaderProblem> {
        let status = parse_status(self.status)?;
        // 204 and 304 never have content (RFC 9110 sections 15.3.5 and 15.4.5).
        let body_allowed = status != 204 && status != 304;

        out.extend_from_slice(self.version.as_str().as_bytes());
        out.push(b' ');
        put_latin1(self.status, out);
        out.extend_from_slice(b"\r\n");

        let mut app_length = None;
        let mut has_date = false;
        let mut has_server = false;
        for (name, value) in self.headers {
            let (name, value) = (name.as_ref(), value.as_ref());
            check_app_header(name, value)?;
            match name.len() {
                4 if name.eq_ignore_ascii_case("date") => has_date = true,
                6 if name.eq_ignore_ascii_case("server") => has_server = true,
                14 if name.eq_ignore_ascii_case("content-length") => {
                    let length = parse_decimal(trim_ows(value.as_bytes())).ok_or_else(|| HeaderProblem::ContentLength(value.to_owned()))?;
                    if app_length.replace(length).is_some() {
                        return Err(HeaderProblem::DuplicateContentLength);
                    }
                    // A 204 must not carry one (RFC 9110 section 8.6); 304 may (it
                    // describes the representation).
                    if status == 204 {
                        continue;
                    }
                }
                _ => {}
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            put_latin1(value, out);
            out.extend_from_slice(b"\r\n");
        }

        if !has_date {
            out.extend_from_slice(b"Date: ");
            out.extend_from_slice(self.date);
            out.extend_from_slice(b"\r\n");
        }
        if !has_server {
            out.extend_from_slice(b"Server: warp\r\n");
        }

        let framing = match (body_allowed, app_length, self.body_length) {
            (false, _, _) => Framing::NoBody,
            (true, Some(length), _) => Framing::Length(length),
            (true, None, Some(length)) => {
                out.extend_from_slice(b"Content-Length: ");
                put_decimal(length, out);
                out.extend_from_slice(b"\r\n");
                Framing::Length(length)
            }
            // A HEAD response describes the GET one but has no body to frame.
            (true, None, None) if self.head_request => Framing::NoBody,
            (true, None, None) if self.version == Version::Http11 => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                Framing::Chunked
            }
            (true, None, None) => Framing::UntilClose,
        };
        let framing = if self.head_request { Framing::NoBody } else { framing };

        let keep_alive = self.keep_alive && framing != Framing::UntilClose;
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if self.version == Version::Http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");

        Ok(ResponsePlan { status, framing, keep_alive })
    }
}

/// Appends `data` as one chunk. Empty data writes nothing: an empty chunk would end the body.
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    encode_chunk_header(data.len(), out);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the size line of a chunk of `len` bytes, for a server that sends the data
/// itself (vectored writes, sendfile); the data must then be followed by CRLF. `len` must
/// not be 0.
pub fn encode_chunk_header(len: usize, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut start = digits.len();
    let mut rest = len;
    loop {
        start -= 1;
        digits[start] = HEX[rest & 0xf];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
    out.extend_from_slice(b"\r\n");
}

fn put_decimal(value: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Appends the complete response for a refused request: a short text body saying why,
/// and `Connection: close`, since the connection cannot be reused after a bad request.
pub fn error_response(err: &HttpError, out: &mut Vec<u8>) {
    let body_len = err.reason.len() + ": ".len() + err.detail.len() + "\n".len();
    out.extend_from_slice(b"HTTP/1.1 ");
    put_decimal(u64::from(err.status), out);
    out.push(b' ');
    out.extend_from_slice(err.reason.as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    put_decimal(body_len as u64, out);
    out.extend_from_slice(b"\r\nConnection: close\r\nDate: ");
    out.extend_from_slice(&cached_http_date());
    out.extend_from_slice(b"\r\nServer: warp\r\n\r\n");
    out.extend_from_slice(err.reason.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(err.detail.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8; 29] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    /// A GET over a keep-alive HTTP/1.1 connection with nothing known about the body.
    fn head<'a>(status: &'a str, headers: &'a [(&'a str, &'a str)]) -> ResponseHead<'a, &'a str, &'a str> {
        ResponseHead { status, headers, version: Version::Http11, keep_alive: true, head_request: false, body_length: None, date: DATE }
    }

    fn encode(head: &ResponseHead<'_, &str, &str>) -> (String, ResponsePlan) {
        let mut out = Vec::new();
        let plan = head.encode(&mut out).unwrap();
        assert_well_formed(&out);
        (String::from_utf8_lossy(&out).into_owned(), plan)
    }

    /// The bytes parse as one complete response head.
    fn assert_well_formed(raw: &[u8]) {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        let parsed = response.parse(raw).unwrap();
        assert_eq!(parsed, httparse::Status::Complete(raw.len()), "{raw:?}");
    }

    fn problem(head: &ResponseHead<'_, &str, &str>) -> HeaderProblem {
        let mut out = b"before".to_vec();
        let problem = head.encode(&mut out).unwrap_err();
        assert_eq!(out, b"before", "nothing written on error");
        problem
    }

    #[test]
    fn writes_status_headers_date_and_server() {
        let (text, plan) =
            encode(&ResponseHead { body_length: Some(5), ..head("200 OK", &[("Content-Type", "text/plain"), ("X-A", "1")]) });
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\n\
             Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: warp\r\nContent-Length: 5\r\n\r\n"
        );
        assert_eq!(plan, ResponsePlan { status: 200, framing: Framing::Length(5), keep_alive: true });
    }

    #[test]
    fn status_line_uses_the_request_version() {
        let (text, _) = encode(&ResponseHead { version: Version::Http10, ..head("404 Not Found", &[]) });
        assert!(text.starts_with("HTTP/1.0 404 Not Found\r\n"), "{text}");
    }

    #[test]
    fn values_are_written_as_latin1() {
        let mut out = Vec::new();
        head("200 Très bien", &[("X-Name", "café")]).encode(&mut out).unwrap();
        assert!(out.starts_with(b"HTTP/1.1 200 Tr\xe8s bien\r\n"));
        assert!(memchr::memmem::find(&out, b"X-Name: caf\xe9\r\n").is_some());
    }

    #[test]
    fn app_server_and_date_are_kept_not_duplicated() {
        let (text, _) = encode(&head("200 OK", &[("server", "mine"), ("DATE", "x")]));
        assert!(text.contains("server: mine\r\n") && text.contains("DATE: x\r\n"), "{text}");
        assert!(!text.contains("Server: warp") && !text.contains("Date: Sun"), "{text}");
    }

    #[test]
    fn app_content_length_frames_the_body() {
        let (text, plan) = encode(&ResponseHead { body_length: Some(99), ..head("200 OK", &[("Content-Length", "12")]) });
        assert_eq!(plan.framing, Framing::Length(12));
        assert_eq!(text.matches("Content-Length").count(), 1);
        assert!(!text.contains("Transfer-Encoding"));
    }

    #[test]
    fn known_body_length_adds_content_length() {
        let (text, plan) = encode(&ResponseHead { body_length: Some(0), ..head("200 OK", &[]) });
        assert!(text.contains("Content-Length: 0\r\n"));
        assert_eq!(plan.framing, Framing::Length(0));
    }

    #[test]
    fn unknown_length_over_http11_is_chunked() {
        let (text, plan) = encode(&head("200 OK", &[]));
        assert!(text.contains("Transfer-Encoding: chunked\r\n"));
        assert_eq!((plan.framing, plan.keep_alive), (Framing::Chunked, true));
    }

    #[test]
    fn unknown_length_over_http10_closes() {
        let (text, plan) = encode(&ResponseHead { version: Version::Http10, ..head("200 OK", &[]) });
        assert!(!text.contains("Transfer-Encoding"));
        assert!(text.contains("Connection: close\r\n"));
        assert_eq!((plan.framing, plan.keep_alive), (Framing::UntilClose, false));
    }

    #[test]
    fn http10_keep_alive_is_announced() {
        let (text, plan) = encode(&ResponseHead { version: Version::Http10, body_length: Some(3), ..head("200 OK", &[]) });
        assert!(text.contains("Connection: keep-alive\r\n"));
        assert!(plan.keep_alive);
    }

    #[test]
    fn closing_http11_says_close() {
        let (text, plan) = encode(&ResponseHead { keep_alive: false, ..head("200 OK", &[]) });
        assert!(text.contains("Connection: close\r\n"));
        assert!(!plan.keep_alive);
        let (open, _) = encode(&head("200 OK", &[]));
        assert!(!open.contains("Connection:"));
    }

    #[test]
    fn no_content_has_no_body_and_no_length() {
        let (text, plan) = encode(&ResponseHead { body_length: Some(0), ..head("204 No Content", &[("Content-Length", "0")]) });
        assert!(!text.contains("Content-Length") && !text.contains("Transfer-Encoding"), "{text}");
        assert_eq!((plan.framing, plan.keep_alive), (Framing::NoBody, true));
    }

    #[test]
    fn not_modified_keeps_app_length_but_has_no_body() {
        let (text, plan) = encode(&head("304 Not Modified", &[("Content-Length", "120")]));
        assert!(text.contains("Content-Length: 120\r\n"));
        assert_eq!(plan.framing, Framing::NoBody);
        let (bare, _) = encode(&ResponseHead { body_length: Some(0), ..head("304 Not Modified", &[]) });
        assert!(!bare.contains("Content-Length") && !bare.contains("Transfer-Encoding"), "{bare}");
    }

    #[test]
    fn head_response_has_no_body_and_no_chunked_framing() {
        let (text, plan) = encode(&ResponseHead { head_request: true, ..head("200 OK", &[]) });
        assert!(!text.contains("Transfer-Encoding"));
        assert_eq!((plan.framing, plan.keep_alive), (Framing::NoBody, true));
        let (known, plan) = encode(&ResponseHead { head_request: true, body_length: Some(42), ..head("200 OK", &[]) });
        assert!(known.contains("Content-Length: 42\r\n"));
        assert_eq!(plan.framing, Framing::NoBody);
        let (http10, plan) = encode(&ResponseHead { head_request: true, version: Version::Http10, ..head("200 OK", &[]) });
        assert!(http10.contains("Connection: keep-alive\r\n"));
        assert!(plan.keep_alive);
    }

    #[test]
    fn invalid_statuses_are_refused() {
        for status in [
            "200",
            "200OK",
            "20 OK",
            "2000 OK",
            "abc OK",
            "099 Low",
            "600 High",
            "200 OK\r\nX: y",
            "200 OK\n",
            "200 \0",
            "200\tOK",
            "200 €uro",
            "",
            "+20 OK",
        ] {
            assert!(matches!(problem(&head(status, &[])), HeaderProblem::Status(_)), "{status:?}");
        }
    }

    #[test]
    fn empty_reason_is_accepted() {
        assert_eq!(encode(&head("599 ", &[])).1.status, 599);
    }

    #[test]
    fn interim_status_is_refused() {
        for status in ["100 Continue", "101 Switching Protocols", "103 Early Hints"] {
            assert!(matches!(problem(&head(status, &[])), HeaderProblem::InterimStatus(_)));
        }
    }

    #[test]
    fn invalid_header_names_are_refused() {
        for name in ["", "Bad Name", "X:Y", "caf\u{e9}", "X\r\nY"] {
            assert_eq!(check_app_header(name, "v"), Err(HeaderProblem::Name(name.to_owned())));
        }
    }

    #[test]
    fn control_characters_in_values_are_refused() {
        for value in ["a\rb", "a\nb", "a\r\nX-Injected: 1", "a\0b", "a\x01b", "a\x7fb", "end\r\n"] {
            assert_eq!(check_app_header("X", value), Err(HeaderProblem::ControlCharacter("X".to_owned())), "{value:?}");
        }
    }

    #[test]
    fn non_latin1_values_are_refused() {
        assert_eq!(check_app_header("X", "€"), Err(HeaderProblem::NotLatin1("X".to_owned())));
        assert_eq!(check_app_header("X", "ÿ\u{80}\ttab"), Ok(()));
    }

    #[test]
    fn hop_by_hop_headers_are_refused() {
        for name in HOP_BY_HOP.iter().map(|h| h.to_string()).chain(["Connection".into(), "TE".into()]) {
            assert_eq!(check_app_header(&name, "x"), Err(HeaderProblem::HopByHop(name.clone())));
        }
        assert_eq!(check_app_header("Keep-Alive-Ish", "x"), Ok(()));
    }

    #[test]
    fn encode_refuses_bad_headers_and_writes_nothing() {
        let problem = problem(&head("200 OK", &[("Transfer-Encoding", "chunked")]));
        assert_eq!(problem, HeaderProblem::HopByHop("Transfer-Encoding".into()));
    }

    #[test]
    fn invalid_app_content_length_is_refused() {
        for value in ["", "-1", "12a", "1, 2", "99999999999999999999"] {
            assert_eq!(problem(&head("200 OK", &[("Content-Length", value)])), HeaderProblem::ContentLength(value.to_owned()));
        }
    }

    #[test]
    fn duplicate_app_content_length_is_refused() {
        let headers = [("Content-Length", "1"), ("content-length", "1")];
        assert_eq!(problem(&head("200 OK", &headers)), HeaderProblem::DuplicateContentLength);
    }

    #[test]
    fn problems_explain_themselves() {
        let message = HeaderProblem::HopByHop("Connection".into()).to_string();
        assert!(message.contains("Connection") && message.contains("PEP 3333"), "{message}");
    }

    #[test]
    fn chunks_are_hex_sized_and_crlf_terminated() {
        let mut out = Vec::new();
        encode_chunk(b"hello", &mut out);
        encode_chunk(&[b'x'; 26], &mut out);
        encode_chunk(b"", &mut out);
        out.extend_from_slice(LAST_CHUNK);
        let mut expected = b"5\r\nhello\r\n1a\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 26]);
        expected.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(out, expected);
    }

    #[test]
    fn chunk_header_of_large_sizes() {
        let mut out = Vec::new();
        encode_chunk_header(0x1234_abcd, &mut out);
        assert_eq!(out, b"1234abcd\r\n");
    }

    #[test]
    fn encoded_chunks_decode_back() {
        let mut wire = Vec::new();
        for piece in [&b"one"[..], b"", b"two and more", &[0u8; 300]] {
            encode_chunk(piece, &mut wire);
        }
        wire.extend_from_slice(LAST_CHUNK);
        let mut body = Vec::new();
        let decoded = crate::ChunkedDecoder::new(1 << 20).decode(&wire, &mut body).unwrap();
        assert!(decoded.done);
        assert_eq!(body.len(), 3 + 12 + 300);
    }

    #[test]
    fn error_response_is_complete_and_closes() {
        let mut out = Vec::new();
        error_response(&HttpError::bad_request("invalid Content-Length"), &mut out);
        let body = "Bad Request: invalid Content-Length\n";
        assert_well_formed(&out[..out.len() - body.len()]);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())), "{text}");
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert!(text.ends_with(&format!("\r\n\r\n{body}")), "{text}");
    }

    #[test]
    fn continue_is_an_interim_response() {
        assert_eq!(CONTINUE_100, b"HTTP/1.1 100 Continue\r\n\r\n");
    }
}
