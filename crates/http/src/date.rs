//! HTTP dates (RFC 9110 section 5.6.7), written and read with the `httpdate` crate.
//!
//! What it does: [`http_date`] writes a time as an IMF-fixdate for the `Date` and
//! `Last-Modified` headers, clamped to the years that format can hold; [`DateCache`] and
//! [`cached_http_date`] format the current second once rather than once per response;
//! [`parse_http_date`] reads the three formats recipients must accept.
//!
//! What it does NOT do: time zones, or dates before 1970 (a header with one is read as no
//! date at all, which makes the request unconditional).

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use httpdate::HttpDate;

/// The last second IMF-fixdate can write (9999-12-31T23:59:59Z): the year has four digits.
const LAST_FORMATTABLE_SECOND: u64 = 253_402_300_799;

fn unix_seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs()).min(LAST_FORMATTABLE_SECOND)
}

/// `now` as an HTTP date (IMF-fixdate), such as `Sun, 06 Nov 1994 08:49:37 GMT`. Times
/// before 1970 give the epoch, times past 9999 the last second of 9999: `httpdate` refuses
/// both (it panics), and a server clock that far off must not take a worker down.
pub fn http_date(now: SystemTime) -> [u8; 29] {
    let text = HttpDate::from(UNIX_EPOCH + Duration::from_secs(unix_seconds(now))).to_string();
    let mut date = [0; 29];
    // IMF-fixdate has a fixed width, and the clamp above keeps the year at four digits.
    date.copy_from_slice(text.as_bytes());
    date
}

/// An HTTP date in any of the three formats recipients must accept: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`). `None` for
/// anything else: other layouts, a weekday that does not match the date, an impossible
/// date, a leap second, or a year before 1970.
///
/// An RFC 850 year `70`..`99` is read as 19xx and `00`..`69` as 20xx. RFC 9110 asks for a
/// window sliding with the current year instead, which differs only for `70` and above
/// while that is less than 50 years ahead (2070..2076 as of 2026); such a date then reads
/// as long past, so the file is sent whole, never wrongly withheld.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(text).ok()
}

/// The formatted date of the last second asked for, so a busy server formats it once a
/// second rather than once per response.
#[derive(Debug, Clone, Copy, Default)]
pub struct DateCache {
    second: Option<u64>,
    formatted: [u8; 29],
}

impl DateCache {
    /// `now` as an HTTP date, formatted again only when the second changed.
    pub fn get(&mut self, now: SystemTime) -> &[u8; 29] {
        let second = unix_seconds(now);
        if self.second != Some(second) {
            self.formatted = http_date(now);
            self.second = Some(second);
        }
        &self.formatted
    }
}

/// The current time as an HTTP date, from a per-thread [`DateCache`].
pub fn cached_http_date() -> [u8; 29] {
    thread_local! {
        static CACHE: Cell<DateCache> = Cell::new(DateCache::default());
    }
    CACHE.with(|cell| {
        let mut cache = cell.get();
        let date = *cache.get(SystemTime::now());
        cell.set(cache);
        date
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed_corpus;

    const DATE: &[u8; 29] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(&http_date(at(0)), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&http_date(at(784_111_777)), DATE);
        assert_eq!(&http_date(at(951_782_400)), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&http_date(at(1_709_251_199)), b"Thu, 29 Feb 2024 23:59:59 GMT");
        assert_eq!(&http_date(at(4_107_542_400)), b"Mon, 01 Mar 2100 00:00:00 GMT");
        // Sub-second parts are dropped, not rounded.
        assert_eq!(&http_date(at(784_111_777) + Duration::from_millis(999)), DATE);
    }

    #[test]
    fn http_dates_out_of_range_are_clamped() {
        assert_eq!(&http_date(UNIX_EPOCH - Duration::from_secs(5)), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&http_date(at(LAST_FORMATTABLE_SECOND + 1)), b"Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(&http_date(at(u64::MAX / 2)), b"Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn date_cache_formats_once_per_second() {
        let mut cache = DateCache::default();
        assert_eq!(cache.get(at(784_111_777)), DATE);
        assert_eq!(cache.get(at(784_111_777) + Duration::from_millis(999)), DATE);
        assert_eq!(cache.get(at(784_111_778)), b"Sun, 06 Nov 1994 08:49:38 GMT");
    }

    #[test]
    fn cached_date_is_current() {
        let before = http_date(SystemTime::now());
        let cached = cached_http_date();
        let after = http_date(SystemTime::now());
        assert!(cached == before || cached == after);
    }

    #[test]
    fn http_dates_in_all_three_formats() {
        let t = at(784_111_777);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(t));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(UNIX_EPOCH));
        assert_eq!(parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"), Some(at(951_782_400)));
        assert_eq!(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"), Some(at(LAST_FORMATTABLE_SECOND)));
        assert_eq!(parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT"), Some(UNIX_EPOCH));
        assert_eq!(parse_http_date("Saturday, 01-Jan-00 00:00:00 GMT"), Some(at(946_684_800)));
        let now = at(unix_seconds(SystemTime::now()));
        let formatted = String::from_utf8_lossy(&http_date(now)).into_owned();
        assert_eq!(parse_http_date(&formatted), Some(now));
    }

    #[test]
    fn anything_else_is_no_date() {
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Mon, 29 Feb 1999 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 23:59:60 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun 06 Nov 1994 08:49:37 GMT",
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "Sün, 06 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fuzz_seed_corpus_is_read_as_named() {
        let seeds = seed_corpus("parse_http_date");
        assert!(seeds.len() >= 15);
        for (name, bytes) in seeds {
            let text = String::from_utf8(bytes).expect("parse_http_date seeds are UTF-8");
            let date = parse_http_date(&text);
            assert_eq!(date.is_some(), name.starts_with("valid_"), "{name}: {text:?} gave {date:?}");
        }
    }
}
