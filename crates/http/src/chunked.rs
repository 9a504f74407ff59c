//! Decoding a chunked request body (RFC 9112 section 7.1), incrementally.
//!
//! What it does: turns the chunked framing into the body's bytes, from input fragments of
//! any size (one byte at a time gives the same result as everything at once), skipping
//! chunk extensions and trailer fields, and stops exactly after the last chunk's
//! terminating blank line so a pipelined request behind it is left untouched. Anything
//! a lenient parser might read differently (a lone LF, whitespace after a size, a missing
//! CRLF after data) is refused with 400 rather than guessed at.
//!
//! What it does NOT do: read the socket, hand trailer fields to anyone (WSGI has no place
//! for them), or buffer anything between calls beyond a few counters.

use super::{is_tchar, HttpError};

/// A chunk-size line (size, extensions, line end) longer than this is refused: extensions
/// carry nothing we use, and an unbounded line would let a client feed us forever.
const MAX_SIZE_LINE: usize = 4096;

/// The trailer section (all trailer lines and the final blank line) may not exceed this.
const MAX_TRAILER_BYTES: usize = 16 * 1024;

/// What one call to [`ChunkedDecoder::decode`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used. Always all of them unless `done`: the decoder keeps its place
    /// itself, so the caller never feeds the same bytes twice.
    pub consumed: usize,
    /// The body is complete; bytes after `consumed` belong to the next request.
    pub done: bool,
}

/// Where the decoder is in the chunked grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The hex digits of a chunk size.
    Size,
    /// Whitespace after the size, allowed only before a `;` (RFC 9112's BWS).
    SizeWhitespace,
    /// Chunk extensions, skipped up to the line's CR.
    Extension,
    /// The LF ending a chunk-size line.
    SizeLf,
    /// Chunk data; `ChunkedDecoder::size` bytes remain.
    Data,
    /// The CR after chunk data.
    DataCr,
    /// The LF after chunk data.
    DataLf,
    /// The start of a trailer line, or the CR of the final blank line.
    TrailerStart,
    /// A trailer field name, up to its colon.
    TrailerName,
    /// A trailer field value, up to its CR.
    TrailerValue,
    /// The LF ending a trailer line.
    TrailerLf,
    /// The LF of the final blank line.
    EndLf,
    /// The body is complete.
    Done,
}

/// An incremental decoder for one chunked body. Create one per request.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// The chunk size being read, then the data bytes still to come.
    size: u64,
    /// Whether the current size has at least one digit.
    has_digits: bool,
    /// Bytes of the current chunk-size line so far.
    line_len: usize,
    /// Bytes of the trailer section so far.
    trailer_len: usize,
    /// Body bytes announced by the chunk sizes so far.
    total: u64,
    max_body: u64,
}

impl ChunkedDecoder {
    /// A decoder for a body of at most `max_body` decoded bytes (413 beyond it).
    pub fn new(max_body: u64) -> Self {
        Self { state: State::Size, size: 0, has_digits: false, line_len: 0, trailer_len: 0, total: 0, max_body }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Body bytes announced so far (decoded, or in the chunk being received).
    pub fn body_len(&self) -> u64 {
        self.total
    }

    /// Decodes as much of `input` as belongs to the body, appending the body's bytes to
    /// `out`. After an error the body cannot be resynchronised: answer with the error and
    /// close the connection.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Decoded, HttpError> {
        let mut pos = 0;
        while pos < input.len() {
            match self.state {
                State::Done => break,
                State::Data => {
                    let available = &input[pos..];
                    let take = usize::try_from(self.size).map_or(available.len(), |remaining| remaining.min(available.len()));
                    out.extend_from_slice(&available[..take]);
                    pos += take;
                    self.size -= take as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                }
                _ => {
                    self.state = self.step(input[pos])?;
                    pos += 1;
                }
            }
        }
        Ok(Decoded { consumed: pos, done: self.is_done() })
    }

    /// The state after `byte`, for every state but `Data` and `Done`.
    fn step(&mut self, byte: u8) -> Result<State, HttpError> {
        match self.state {
            State::Size | State::SizeWhitespace | State::Extension => self.size_line(byte),
            State::SizeLf => self.size_line_end(byte),
            State::DataCr => expect(byte, b'\r', State::DataLf, MISSING_DATA_CRLF),
            State::DataLf => {
                self.start_size_line();
                expect(byte, b'\n', State::Size, MISSING_DATA_CRLF)
            }
            State::TrailerStart | State::TrailerName | State::TrailerValue | State::TrailerLf | State::EndLf => self.trailer(byte),
            State::Data | State::Done => Ok(self.state),
        }
    }

    fn start_size_line(&mut self) {
        self.size = 0;
        self.has_digits = false;
        self.line_len = 0;
    }

    /// chunk-size [ BWS ";" chunk-ext ] CR
    fn size_line(&mut self, byte: u8) -> Result<State, HttpError> {
        self.line_len += 1;
        if self.line_len > MAX_SIZE_LINE {
            return Err(HttpError::bad_request("chunk-size line (extensions) too long"));
        }
        match (self.state, byte) {
            (State::Size, _) if byte.is_ascii_hexdigit() => {
                let digit = u64::from(char::from(byte).to_digit(16).unwrap_or_default());
                self.size = self
                    .size
                    .checked_mul(16)
                    .and_then(|size| size.checked_add(digit))
                    .ok_or(HttpError::bad_request("chunk size overflows"))?;
                self.has_digits = true;
                Ok(State::Size)
            }
            _ if !self.has_digits => Err(HttpError::bad_request("invalid chunk size")),
            (State::Size | State::SizeWhitespace, b' ' | b'\t') => Ok(State::SizeWhitespace),
            (State::Size | State::SizeWhitespace, b';') => Ok(State::Extension),
            (State::Size | State::Extension, b'\r') => Ok(State::SizeLf),
            (State::Extension, b'\n') => Err(BARE_LF),
            (State::Extension, _) if !is_control(byte) => Ok(State::Extension),
            (State::Extension, _) => Err(HttpError::bad_request("control byte in a chunk extension")),
            _ => Err(HttpError::bad_request("invalid chunk size")),
        }
    }

    fn size_line_end(&mut self, byte: u8) -> Result<State, HttpError> {
        if byte != b'\n' {
            return Err(BARE_CR);
        }
        if self.size == 0 {
            return Ok(State::TrailerStart);
        }
        // Refused before the data arrives, so a client cannot make us read it.
        self.total = self
            .total
            .checked_add(self.size)
            .filter(|&total| total <= self.max_body)
            .ok_or(HttpError::content_too_large("chunked body is above the body limit"))?;
        Ok(State::Data)
    }

    /// *( field-line CRLF ) CRLF, with each field line checked just enough that no parser
    /// could mistake where the trailer section ends.
    fn trailer(&mut self, byte: u8) -> Result<State, HttpError> {
        self.trailer_len += 1;
        if self.trailer_len > MAX_TRAILER_BYTES {
            return Err(HttpError::header_fields_too_large("trailer section too large"));
        }
        match (self.state, byte) {
            (State::TrailerStart, b'\r') => Ok(State::EndLf),
            (State::TrailerStart | State::TrailerName, _) if is_tchar(byte) => Ok(State::TrailerName),
            (State::TrailerName, b':') => Ok(State::TrailerValue),
            (State::TrailerValue, b'\r') => Ok(State::TrailerLf),
            (State::TrailerValue, _) if !is_control(byte) => Ok(State::TrailerValue),
            (State::TrailerLf, b'\n') => Ok(State::TrailerStart),
            (State::EndLf, b'\n') => Ok(State::Done),
            (State::TrailerLf | State::EndLf, _) => Err(BARE_CR),
            (_, b'\n') => Err(BARE_LF),
            _ => Err(HttpError::bad_request("malformed trailer field")),
        }
    }
}

const BARE_LF: HttpError = HttpError::bad_request("line ending without CR (bare LF) in chunked body");
const BARE_CR: HttpError = HttpError::bad_request("CR without LF in chunked body");
const MISSING_DATA_CRLF: HttpError = HttpError::bad_request("chunk data not followed by CRLF");

fn expect(byte: u8, wanted: u8, next: State, error: HttpError) -> Result<State, HttpError> {
    if byte == wanted {
        Ok(next)
    } else {
        Err(error)
    }
}

/// Control bytes other than HTAB, which a field value or extension may not contain.
fn is_control(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\t') || byte == 0x7f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{seed_corpus, Rng};

    const LIMIT: u64 = 1 << 20;

    /// Decodes `input` whole; the body and the bytes consumed.
    fn decode(input: &[u8]) -> Result<(Vec<u8>, Decoded), HttpError> {
        let mut out = Vec::new();
        let decoded = ChunkedDecoder::new(LIMIT).decode(input, &mut out)?;
        Ok((out, decoded))
    }

    /// Decodes `input` in the given fragment sizes (cycled); the body, the total consumed
    /// and whether it finished, or the error.
    fn decode_in_pieces(input: &[u8], sizes: &[usize], max_body: u64) -> (Vec<u8>, Result<(usize, bool), HttpError>) {
        let mut decoder = ChunkedDecoder::new(max_body);
        let mut out = Vec::new();
        let mut pos = 0;
        let mut sizes = sizes.iter().cycle();
        while pos < input.len() {
            let size = sizes.next().copied().unwrap_or(1).max(1);
            let end = (pos + size).min(input.len());
            match decoder.decode(&input[pos..end], &mut out) {
                Err(error) => return (out, Err(error)),
                Ok(Decoded { consumed, done }) => {
                    let fed = end - pos;
                    pos += consumed;
                    if done {
                        return (out, Ok((pos, true)));
                    }
                    assert_eq!(consumed, fed, "all input is used until done");
                }
            }
        }
        (out, Ok((pos, decoder.is_done())))
    }

    fn status(input: &[u8]) -> u16 {
        match decode(input) {
            Err(error) => error.status,
            Ok(other) => panic!("expected an error for {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn decodes_a_body() {
        let input = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let (body, decoded) = decode(input).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(decoded, Decoded { consumed: input.len(), done: true });
    }

    #[test]
    fn hex_sizes_in_either_case_with_leading_zeros() {
        let data = vec![b'x'; 0x1a];
        let mut input = b"001A\r\n".to_vec();
        input.extend_from_slice(&data);
        input.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(decode(&input).unwrap().0, data);
        input[3] = b'a';
        assert_eq!(decode(&input).unwrap().0, data);
    }

    #[test]
    fn stops_after_the_body_leaving_the_next_request() {
        let input = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let (body, decoded) = decode(input).unwrap();
        assert_eq!(body, b"abc");
        assert_eq!(&input[decoded.consumed..], b"GET / HTTP/1.1\r\n");
        assert!(decoded.done);
    }

    #[test]
    fn incomplete_body_consumes_everything_and_is_not_done() {
        let (body, decoded) = decode(b"5\r\nhel").unwrap();
        assert_eq!(body, b"hel");
        assert_eq!(decoded, Decoded { consumed: 6, done: false });
    }

    #[test]
    fn every_fragmentation_gives_the_same_result() {
        let input: &[u8] = b"4;name=value\r\nWiki\r\n5 ; x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\nrest";
        let (whole, decoded) = decode(input).unwrap();
        assert_eq!(whole, b"Wikipedia in\r\n\r\nchunks.");
        for size in 1..input.len() {
            let (out, result) = decode_in_pieces(input, &[size], LIMIT);
            assert_eq!(out, whole, "fragments of {size}");
            assert_eq!(result, Ok((decoded.consumed, true)), "fragments of {size}");
        }
        // and split once at every position
        for split in 0..input.len() {
            let (out, result) = decode_in_pieces(input, &[split.max(1), input.len()], LIMIT);
            assert_eq!((out, result), (whole.clone(), Ok((decoded.consumed, true))));
        }
    }

    #[test]
    fn a_finished_decoder_consumes_nothing() {
        let mut decoder = ChunkedDecoder::new(LIMIT);
        let mut out = Vec::new();
        decoder.decode(b"0\r\n\r\n", &mut out).unwrap();
        assert_eq!(decoder.decode(b"more", &mut out), Ok(Decoded { consumed: 0, done: true }));
        assert!(out.is_empty());
    }

    #[test]
    fn extensions_are_skipped() {
        let input = b"3;a=1;b=\"q;x\"\r\nabc\r\n0;last\r\n\r\n";
        assert_eq!(decode(input).unwrap().0, b"abc");
    }

    #[test]
    fn whitespace_before_extension_is_allowed() {
        assert_eq!(decode(b"3 \t;a\r\nabc\r\n0\r\n\r\n").unwrap().0, b"abc");
    }

    #[test]
    fn whitespace_after_size_without_extension_is_400() {
        assert_eq!(status(b"3 \r\nabc\r\n0\r\n\r\n"), 400);
        assert_eq!(status(b"3 4\r\nabc\r\n0\r\n\r\n"), 400);
    }

    #[test]
    fn overlong_extension_is_400() {
        let mut input = b"3;".to_vec();
        input.resize(MAX_SIZE_LINE + 10, b'x');
        assert_eq!(status(&input), 400);
        let mut fits = b"3;".to_vec();
        fits.resize(MAX_SIZE_LINE - 1, b'x');
        fits.extend_from_slice(b"\r\nabc\r\n0\r\n\r\n");
        assert_eq!(decode(&fits).unwrap().0, b"abc");
    }

    #[test]
    fn control_byte_in_extension_is_400() {
        assert_eq!(status(b"3;a\0\r\nabc\r\n0\r\n\r\n"), 400);
    }

    #[test]
    fn trailers_are_skipped() {
        let input = b"3\r\nabc\r\n0\r\nChecksum: 1234\r\nX-Other:\t v\r\n\r\n";
        let (body, decoded) = decode(input).unwrap();
        assert_eq!((body.as_slice(), decoded.consumed), (&b"abc"[..], input.len()));
    }

    #[test]
    fn oversized_trailers_are_431() {
        let mut input = b"0\r\nX: ".to_vec();
        input.resize(MAX_TRAILER_BYTES + 100, b'v');
        assert_eq!(status(&input), 431);
    }

    #[test]
    fn malformed_trailers_are_400() {
        for trailer in [&b" X: v\r\n"[..], b"X : v\r\n", b"NoColon\r\n", b"X: a\0b\r\n", b"X: a\rb\r\n"] {
            let mut input = b"0\r\n".to_vec();
            input.extend_from_slice(trailer);
            input.extend_from_slice(b"\r\n");
            assert_eq!(status(&input), 400, "{:?}", String::from_utf8_lossy(trailer));
        }
    }

    #[test]
    fn bad_hex_is_400() {
        for input in [&b"g\r\n"[..], b"-1\r\n", b"0x5\r\n", b"+5\r\n", b"\r\n", b";ext\r\n"] {
            assert_eq!(status(input), 400, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn overflowing_size_is_400() {
        assert_eq!(status(b"10000000000000000\r\n"), 400);
        // the largest size that fits is refused by the body limit instead
        assert_eq!(status(b"ffffffffffffffff\r\n"), 413);
    }

    #[test]
    fn missing_crlf_after_data_is_400() {
        assert_eq!(status(b"3\r\nabcd\r\n0\r\n\r\n"), 400);
        assert_eq!(status(b"3\r\nabc\rX0\r\n\r\n"), 400);
    }

    #[test]
    fn lf_only_line_endings_are_400() {
        for input in [
            &b"3\nabc\r\n0\r\n\r\n"[..],
            b"3;ext\nabc\r\n0\r\n\r\n",
            b"3\r\nabc\n0\r\n\r\n",
            b"3\r\nabc\r\n0\n\r\n",
            b"3\r\nabc\r\n0\r\n\n",
            b"3\r\nabc\r\n0\r\nX: v\n\r\n",
        ] {
            assert_eq!(status(input), 400, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn body_over_the_limit_is_413_before_its_data() {
        let mut decoder = ChunkedDecoder::new(10);
        let mut out = Vec::new();
        assert!(decoder.decode(b"6\r\nabcdef\r\n", &mut out).is_ok());
        let error = decoder.decode(b"5\r\n", &mut out).unwrap_err();
        assert_eq!(error.status, 413);
        assert_eq!(out, b"abcdef");
        let (body, _) = decode_in_pieces(b"a\r\n0123456789\r\n0\r\n\r\n", &[1], 10);
        assert_eq!(body, b"0123456789", "exactly the limit is fine");
    }

    #[test]
    fn fuzz_seed_corpus_is_refused_or_accepted_as_named() {
        let seeds = seed_corpus("chunked");
        assert!(seeds.len() >= 10);
        for (name, bytes) in seeds {
            // The fuzz target reads its first byte as the fragment size.
            let (out, result) = decode_in_pieces(&bytes[1..], &[usize::from(bytes[0])], LIMIT);
            if name.starts_with("valid") {
                assert!(matches!(result, Ok((_, true))), "{name}: {result:?}");
                assert!(!out.is_empty(), "{name}");
            } else {
                assert!(result.is_err(), "{name} should be refused: {result:?}");
            }
        }
    }

    // --- robustness ---

    /// A valid chunked encoding of random data, with random extensions and trailers.
    fn random_chunked(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
        let mut encoded = Vec::new();
        let mut body = Vec::new();
        for _ in 0..rng.below(6) {
            let data: Vec<u8> = (0..1 + rng.below(40)).map(|_| rng.byte()).collect();
            encoded.extend_from_slice(format!("{:x}", data.len()).as_bytes());
            if rng.below(3) == 0 {
                encoded.extend_from_slice(b" ;ext=\"v\"");
            }
            encoded.extend_from_slice(b"\r\n");
            encoded.extend_from_slice(&data);
            encoded.extend_from_slice(b"\r\n");
            body.extend_from_slice(&data);
        }
        encoded.extend_from_slice(b"0\r\n");
        for _ in 0..rng.below(3) {
            encoded.extend_from_slice(b"X-Trailer: value\r\n");
        }
        encoded.extend_from_slice(b"\r\n");
        (encoded, body)
    }

    #[test]
    fn random_bodies_in_random_fragments_decode_identically() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        for _ in 0..2000 {
            let (encoded, body) = random_chunked(&mut rng);
            let sizes: Vec<usize> = (0..1 + rng.below(5)).map(|_| 1 + rng.below(20)).collect();
            let (out, result) = decode_in_pieces(&encoded, &sizes, LIMIT);
            assert_eq!(out, body);
            assert_eq!(result, Ok((encoded.len(), true)));
        }
    }

    const PIECES: &[&[u8]] = &[
        b"0",
        b"5",
        b"a",
        b"F",
        b"\r\n",
        b"\r",
        b"\n",
        b";",
        b" ",
        b"hello",
        b"X: v",
        b":",
        b"\t",
        b"ffffffffffffffff",
        b"0\r\n\r\n",
        b"3\r\nabc\r\n",
    ];

    #[test]
    fn random_input_in_random_fragments_never_panics_and_agrees() {
        let mut rng = Rng(0xfeed_face_cafe_beef);
        for _ in 0..5000 {
            let len = rng.below(120);
            let input = rng.bytes(PIECES, len);
            let whole = decode_in_pieces(&input, &[input.len().max(1)], 64);
            let sizes: Vec<usize> = (0..1 + rng.below(4)).map(|_| 1 + rng.below(7)).collect();
            let fragmented = decode_in_pieces(&input, &sizes, 64);
            assert_eq!(fragmented, whole, "input {:?}", String::from_utf8_lossy(&input));
        }
    }
}
