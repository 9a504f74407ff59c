//! The HTTP/1.1 protocol core: parsing requests and writing responses on byte slices.
//!
//! What it does:
//! - [`parse_head`] / [`parse_head_into`] turn the bytes of a request head into a
//!   [`RequestHead`], deciding how the body is framed ([`BodyKind`]), whether the
//!   connection may stay open and whether the client waits for `100 Continue`;
//! - [`ChunkedDecoder`] decodes a chunked request body incrementally, from fragments of
//!   any size;
//! - [`ResponseHead`] validates what a WSGI app gave to `start_response` and writes the
//!   response head, choosing the framing ([`ResponsePlan`]); [`encode_chunk`],
//!   [`LAST_CHUNK`], [`error_response`] and [`CONTINUE_100`] write the rest;
//! - [`http_date`], [`cached_http_date`] and [`parse_http_date`] write and read HTTP dates;
//! - [`files`] holds the protocol side of serving static files: which file a URL names,
//!   conditional requests, byte ranges and content types.
//!
//! What it does NOT do: any I/O. No sockets, no timeouts, no buffers of its own between
//! calls: the server reads into its buffer, calls in here, and writes what comes out.
//! Malformed or ambiguous requests (smuggling attempts included) come back as an
//! [`HttpError`] carrying the status to answer with; after one, the server sends
//! [`error_response`] and closes the connection, because the byte stream can no longer be
//! trusted to be in sync.

pub mod cgi;
mod chunked;
mod date;
pub mod files;
mod request;
mod response;

pub use chunked::{ChunkedDecoder, Decoded};
pub use date::{cached_http_date, http_date, parse_http_date, DateCache};
pub use request::{parse_head, parse_head_into, BodyKind, Limits, RequestHead, Version};
pub use response::{
    check_app_header, encode_chunk, encode_chunk_header, error_response, Framing, HeaderProblem, ResponseHead, ResponsePlan, CONTINUE_100,
    LAST_CHUNK,
};

/// A request the server refuses: the status line to answer with and why.
///
/// Every `HttpError` means the connection must be closed after the error response: the
/// server can no longer tell where the next request would start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{status} {reason}: {detail}")]
pub struct HttpError {
    /// The response status code (4xx or 5xx).
    pub status: u16,
    /// The reason phrase that goes with `status`.
    pub reason: &'static str,
    /// What exactly was wrong, for the log and the response body.
    pub detail: &'static str,
}

impl HttpError {
    /// 400: the request is malformed or ambiguous.
    pub const fn bad_request(detail: &'static str) -> Self {
        Self { status: 400, reason: "Bad Request", detail }
    }

    /// 413: the body is larger than the configured limit (RFC 9110 calls it "Content Too Large").
    pub const fn content_too_large(detail: &'static str) -> Self {
        Self { status: 413, reason: "Content Too Large", detail }
    }

    /// 414: the request line alone does not fit in the head limit.
    pub const fn uri_too_long(detail: &'static str) -> Self {
        Self { status: 414, reason: "URI Too Long", detail }
    }

    /// 408: the client took longer than the socket timeout to send its request head.
    pub const fn request_timeout(detail: &'static str) -> Self {
        Self { status: 408, reason: "Request Timeout", detail }
    }

    /// 431: the head (or a chunked body's trailer section) is too large or has too many fields.
    pub const fn header_fields_too_large(detail: &'static str) -> Self {
        Self { status: 431, reason: "Request Header Fields Too Large", detail }
    }

    /// 501: the request uses something the server does not implement (a transfer coding).
    pub const fn not_implemented(detail: &'static str) -> Self {
        Self { status: 501, reason: "Not Implemented", detail }
    }

    /// 505: a well-formed HTTP version other than 1.0 and 1.1.
    pub const fn version_not_supported(detail: &'static str) -> Self {
        Self { status: 505, reason: "HTTP Version Not Supported", detail }
    }

    /// 504: the app did not answer within the request timeout.
    pub const fn gateway_timeout(detail: &'static str) -> Self {
        Self { status: 504, reason: "Gateway Timeout", detail }
    }

    /// 503: the server cannot serve the request now (it waited too long for a thread).
    pub const fn service_unavailable(detail: &'static str) -> Self {
        Self { status: 503, reason: "Service Unavailable", detail }
    }
}

/// `tchar` from RFC 9110 section 5.6.2: the bytes a field name or method may contain.
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
        | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// Whether `s` is a token (a non-empty run of `tchar`), such as a field name.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// The elements of a comma-separated field value, each with its surrounding spaces and tabs
/// removed (RFC 9110 section 5.6.1). Empty elements are kept so callers can decide about them.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

/// `value` without leading and trailing optional whitespace (spaces and tabs).
pub(crate) fn trim_ows(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &value[start..end]
}

/// A non-empty run of ASCII digits as a `u64`; `None` for anything else (signs, spaces,
/// hex, an empty string) and on overflow. This is Content-Length's `1*DIGIT`.
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        let digit = char::from(b).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
pub(crate) mod testing {
    /// The hand-written seeds of a fuzz target (`fuzz/corpus/<target>/`) as
    /// (name, bytes), named after what must come of them: `valid_*` when they must be
    /// accepted, or by the answer they must get where a target has several (each target's
    /// replay test says which). Files the fuzzer added (named by their SHA-1) are skipped:
    /// they carry no expectation.
    pub(crate) fn seed_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
        let mut seeds = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("the seed corpus is in the repository") {
            let path = entry.expect("readable corpus entry").path();
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let bytes = std::fs::read(&path).expect("readable corpus file");
            seeds.push((name, bytes));
        }
        seeds.sort();
        seeds
    }

    /// A small deterministic generator (xorshift64*) so property tests reproduce.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        pub(crate) fn byte(&mut self) -> u8 {
            self.next().to_le_bytes()[0]
        }

        /// A number in `0..n` (0 when `n` is 0).
        pub(crate) fn below(&mut self, n: usize) -> usize {
            let n = u64::try_from(n.max(1)).unwrap_or(u64::MAX);
            usize::try_from(self.next() % n).unwrap_or(0)
        }

        /// About `len` bytes drawn mostly from whole `pieces` (so the protocol's tokens
        /// show up and deep states are reached), sometimes arbitrary.
        pub(crate) fn bytes(&mut self, pieces: &[&[u8]], len: usize) -> Vec<u8> {
            let mut out = Vec::new();
            while out.len() < len {
                if self.below(4) == 0 {
                    out.push(self.byte());
                } else {
                    out.extend_from_slice(pieces[self.below(pieces.len())]);
                }
            }
            out
        }
    }
}
