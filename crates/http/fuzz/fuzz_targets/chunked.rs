//! Fuzzes the chunked body decoder: it must never panic, and any fragmentation of the
//! input must give the same body, the same bytes consumed and the same verdict.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warp_http::{ChunkedDecoder, HttpError};

const MAX_BODY: u64 = 1 << 16;

/// Decodes `input` in pieces of `piece` bytes: the body, then the bytes consumed and
/// whether the body ended, or the error.
fn decode(input: &[u8], piece: usize) -> (Vec<u8>, Result<(usize, bool), HttpError>) {
    let mut decoder = ChunkedDecoder::new(MAX_BODY);
    let mut body = Vec::new();
    let mut pos = 0;
    for fragment in input.chunks(piece.max(1)) {
        match decoder.decode(fragment, &mut body) {
            Err(error) => return (body, Err(error)),
            Ok(decoded) => {
                pos += decoded.consumed;
                if decoded.done {
                    return (body, Ok((pos, true)));
                }
                assert_eq!(decoded.consumed, fragment.len());
            }
        }
    }
    assert!(body.len() as u64 <= MAX_BODY);
    (body, Ok((pos, false)))
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, input)) = data.split_first() else { return };
    let whole = decode(input, input.len());
    assert_eq!(decode(input, usize::from(piece % 16)), whole);
    assert_eq!(decode(input, 1), whole);
});
