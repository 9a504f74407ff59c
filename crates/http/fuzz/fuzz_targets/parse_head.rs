//! Fuzzes the request-head parser: it must never panic, and feeding the input in two
//! pieces must agree with feeding it whole (a prefix is either incomplete or already
//! decided the same way).

#![no_main]

use libfuzzer_sys::fuzz_target;
use warp_http::{parse_head, HttpError, Limits};

/// Small limits, so the fuzzer reaches the 413/414/431 paths with short inputs.
const LIMITS: Limits = Limits { max_head_bytes: 2048, max_headers: 16, max_body: 1 << 16 };

fn outcome(buf: &[u8]) -> Result<Option<usize>, HttpError> {
    match parse_head(buf, &LIMITS)? {
        None => Ok(None),
        Some((head, consumed)) => {
            assert!(consumed <= buf.len());
            // Every accessor must work on whatever was accepted.
            let _ = (head.method(), head.path(), head.query(), head.header("host"));
            assert!(head.headers().len() <= LIMITS.max_headers);
            Ok(Some(consumed))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = outcome(data);
    let split = data.first().map_or(0, |&b| usize::from(b) * data.len() / 256);
    let prefix = outcome(&data[..split]);
    assert!(prefix == Ok(None) || prefix == whole, "prefix {prefix:?} vs whole {whole:?}");
    if let Ok(Some(consumed)) = whole {
        assert_eq!(outcome(&data[..consumed]), whole, "the head alone parses the same");
    }
});
