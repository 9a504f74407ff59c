//! The protocol side of serving static files: which file a URL names (never one outside
//! its folder), byte ranges, conditional requests, validators and content types. The
//! server does the I/O.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cgi::percent_decode;
use crate::http_date;

/// Where a request path leads, given the folder's URL prefix.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// Not under the prefix.
    Elsewhere,
    /// The file, relative to the folder (empty for the folder itself).
    File(PathBuf),
    /// An attempt to leave the folder (`..`), or a path no file can have (NUL, `\`).
    Refused,
}

/// Map `path` (as sent, percent-encoded, without the query) under the URL `prefix`.
/// `/static` matches `/static` and `/static/...`, not `/staticx`.
pub fn resolve(prefix: &str, path: &str) -> Target {
    let prefix = prefix.trim_end_matches('/');
    let Some(rest) = path.strip_prefix(prefix) else { return Target::Elsewhere };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Target::Elsewhere;
    }
    let decoded = percent_decode(rest.as_bytes());
    let Ok(decoded) = std::str::from_utf8(&decoded) else { return Target::Refused };
    let mut file = PathBuf::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Target::Refused,
            s if s.contains(['\0', '\\']) => return Target::Refused,
            s => file.push(s),
        }
    }
    Target::File(file)
}

/// A byte range to send, inclusive bounds resolved against the file's length.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// Bytes in the range (never zero).
    pub fn count(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// What a Range header asks of a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No (usable) range: send the whole file with 200. Several ranges are answered so too.
    Whole,
    /// 206 with this part.
    Part(ByteRange),
    /// 416: no part of the file is in the range.
    Unsatisfiable,
}

pub fn parse_range(header: &str, len: u64) -> RangeAnswer {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return RangeAnswer::Whole };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeAnswer::Whole };
    let number = |s: &str| if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) { None } else { s.parse::<u64>().ok() };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(n) if len > 0 => RangeAnswer::Part(ByteRange { start: len.saturating_sub(n), end: len - 1 }),
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Whole,
        },
        (start, end) => {
            let Some(start) = number(start) else { return RangeAnswer::Whole };
            let end = if end.is_empty() { Some(u64::MAX) } else { number(end) };
            match end {
                None => RangeAnswer::Whole,
                Some(end) if end < start => RangeAnswer::Whole,
                Some(_) if start >= len => RangeAnswer::Unsatisfiable,
                Some(end) => RangeAnswer::Part(ByteRange { start, end: end.min(len - 1) }),
            }
        }
    }
}

/// A strong validator from what changes when the file does.
pub fn etag(len: u64, modified: SystemTime, inode: u64) -> String {
    let nanos = modified.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("\"{len:x}-{nanos:x}-{inode:x}\"")
}

/// Last-Modified: the time as an HTTP date.
pub fn last_modified(modified: SystemTime) -> String {
    String::from_utf8_lossy(&http_date(modified)).into_owned()
}

/// Whether the client's copy is current (answer 304). If-None-Match, when present,
/// decides alone (RFC 9110 section 13.2.2); weak comparison, as GET and HEAD allow.
pub fn not_modified(if_none_match: Option<&str>, if_modified_since: Option<&str>, etag: &str, modified: SystemTime) -> bool {
    if let Some(list) = if_none_match {
        return list.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag);
    }
    match if_modified_since.and_then(parse_http_date) {
        // HTTP dates have whole seconds: a file changed within the same second is current.
        Some(since) => whole_seconds(modified) <= since,
        None => false,
    }
}

/// Whether an If-Range allows answering with a part: it must name the current version.
pub fn range_still_valid(if_range: Option<&str>, etag: &str, modified: SystemTime) -> bool {
    match if_range.map(str::trim) {
        None => true,
        Some(tag) if tag.starts_with('"') => tag == etag,
        Some(date) => parse_http_date(date).is_some_and(|at| at == whole_seconds(modified)),
    }
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(time.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs())
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); other formats are not current.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let day: u64 = day.parse().ok()?;
    let month = MONTHS.iter().position(|m| m == month)? as u64 + 1;
    let year: u64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day) || year < 1970 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), for years from 1970.
    let (y, mo) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(UNIX_EPOCH + Duration::from_secs(days * 86_400 + h * 3600 + m * 60 + s))
}

/// The Content-Type for a file name, by extension.
pub fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/vnd.microsoft.icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_under_their_prefix_only() {
        assert_eq!(resolve("/static", "/static/css/a.css"), Target::File("css/a.css".into()));
        assert_eq!(resolve("/static/", "/static/a%20b.txt"), Target::File("a b.txt".into()));
        assert_eq!(resolve("/static", "/static"), Target::File("".into()));
        assert_eq!(resolve("/static", "/staticx/a"), Target::Elsewhere);
        assert_eq!(resolve("/static", "/other"), Target::Elsewhere);
        assert_eq!(resolve("/", "/a/./b"), Target::File("a/b".into()));
    }

    #[test]
    fn traversal_is_refused_however_it_is_spelled() {
        for path in ["/static/../wsgi.py", "/static/%2e%2e/wsgi.py", "/static/%2e%2e%2fwsgi.py", "/static/a/..%2F..%2Fx", "/static/a%00.txt", "/static/..\\x", "/static/%ff"] {
            assert_eq!(resolve("/static", path), Target::Refused, "{path}");
        }
    }

    #[test]
    fn ranges() {
        let part = |start, end| RangeAnswer::Part(ByteRange { start, end });
        assert_eq!(parse_range("bytes=0-9", 100), part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), part(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), part(0, 99));
        assert_eq!(parse_range("bytes=50-5000", 100), part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeAnswer::Whole);
        assert_eq!(parse_range("bytes=9-1", 100), RangeAnswer::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeAnswer::Whole);
        assert_eq!(parse_range("bytes=x-1", 100), RangeAnswer::Whole);
    }

    #[test]
    fn http_dates_round_trip() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(last_modified(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        let now = whole_seconds(SystemTime::now());
        assert_eq!(parse_http_date(&last_modified(now)), Some(now));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
    }

    #[test]
    fn conditionals() {
        let modified = UNIX_EPOCH + Duration::from_millis(784_111_777_500);
        let tag = etag(10, modified, 7);
        assert!(not_modified(Some(&tag), None, &tag, modified));
        assert!(not_modified(Some(&format!("\"x\", W/{tag}")), None, &tag, modified));
        assert!(not_modified(Some("*"), None, &tag, modified));
        assert!(!not_modified(Some("\"other\""), Some("Sun, 06 Nov 1994 08:49:37 GMT"), &tag, modified));
        assert!(not_modified(None, Some("Sun, 06 Nov 1994 08:49:37 GMT"), &tag, modified));
        assert!(!not_modified(None, Some("Sun, 06 Nov 1994 08:49:36 GMT"), &tag, modified));
        assert!(range_still_valid(Some(&tag), &tag, modified));
        assert!(!range_still_valid(Some("\"old\""), &tag, modified));
        assert!(range_still_valid(Some("Sun, 06 Nov 1994 08:49:37 GMT"), &tag, modified));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("a.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("logo.png"), "image/png");
        assert_eq!(content_type("README"), "application/octet-stream");
    }
}
