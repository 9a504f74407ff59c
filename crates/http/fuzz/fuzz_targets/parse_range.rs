//! Fuzzes the Range header reader: it must never panic, a part must lie inside the file,
//! and a part written back as `bytes=start-end` must read as itself.
//!
//! Input: the file's length in decimal, a newline, the header value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warp_http::files::{parse_range, RangeAnswer};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some((len, header)) = text.split_once('\n') else { return };
    let Ok(len) = len.parse::<u64>() else { return };
    if let RangeAnswer::Part(part) = parse_range(header, len) {
        assert!(part.start <= part.end && part.end < len, "{header:?} of {len} bytes gave {part:?}");
        let plain = format!("bytes={}-{}", part.start, part.end);
        assert_eq!(parse_range(&plain, len), RangeAnswer::Part(part), "{header:?} of {len} bytes");
    }
});
