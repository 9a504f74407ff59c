//! Fuzzes reading and writing HTTP dates: neither may panic, a date that was read must be
//! written as an IMF-fixdate that reads back as the same time, and any time must be
//! written as one that reads back as its whole second (clamped to 1970..=9999).
//!
//! Input: the date text; its first eight bytes are also taken as seconds since 1970.

#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use warp_http::{http_date, parse_http_date};

/// 9999-12-31T23:59:59Z, the last second an IMF-fixdate can hold.
const LAST_SECOND: u64 = 253_402_300_799;

/// `time` written as an HTTP date and read back.
fn round_trip(time: SystemTime) -> Option<SystemTime> {
    let written = http_date(time);
    let written = std::str::from_utf8(&written).expect("an HTTP date is ASCII");
    parse_http_date(written)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(time) = parse_http_date(text) {
            assert_eq!(round_trip(time), Some(time), "{text:?}");
        }
    }
    if let Some(secs) = data.get(..8).and_then(|bytes| bytes.try_into().ok()).map(u64::from_le_bytes) {
        if let Some(time) = UNIX_EPOCH.checked_add(Duration::from_secs(secs)) {
            let whole = UNIX_EPOCH + Duration::from_secs(secs.min(LAST_SECOND));
            assert_eq!(round_trip(time), Some(whole), "{secs} s");
        }
    }
});
