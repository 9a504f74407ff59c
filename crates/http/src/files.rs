//! Serving files, the protocol half: which file a URL names (never one outside its folder),
//! what a request's conditional and range headers call for, validators and content types.
//!
//! What it does:
//! - [`route`] picks the folder a path falls under (the longest URL prefix, compared a
//!   whole segment at a time, so `/static` takes `/static/x` but not `/staticx`) and
//!   [`resolve`] maps the path to a file relative to that folder, refusing every way out of
//!   it ([`Target`]);
//! - [`evaluate`] turns If-None-Match, If-Modified-Since, Range and If-Range into the answer
//!   (200, 206, 304 or 416, see [`Answer`]) for a file described by its [`Validators`];
//! - [`content_type`] names a file's media type from its extension.
//!
//! What it does NOT do: touch the file system. Whether the file exists, is a folder, or is
//! a symlink leading out of the folder is for the server to check (it canonicalizes the path
//! and checks the file it opened), and the server writes the response.
//!
//! ```
//! use warp_http::files::{evaluate, resolve, Answer, ByteRange, Conditions, Target, Validators};
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! let target = resolve("/static", "/static/css/site.css");
//! assert_eq!(target, Target::File { rel: "css/site.css".into(), trailing_slash: false });
//! assert_eq!(resolve("/static", "/static/%2e%2e/app.py"), Target::Refused);
//!
//! let file = Validators::new(10, UNIX_EPOCH + Duration::from_secs(1), 42);
//! let ask = Conditions { range: Some("bytes=2-5"), ..Conditions::default() };
//! assert_eq!(evaluate(&ask, &file, true), Answer::Part(ByteRange { start: 2, end: 5 }));
//! let ask = Conditions { if_none_match: Some(&file.etag), ..Conditions::default() };
//! assert_eq!(evaluate(&ask, &file, true), Answer::NotModified);
//! ```

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{http_date, list_elements, parse_http_date, trim_ows};

/// Where a request path leads under a folder's URL prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Not under the prefix: another folder, or the app, answers it.
    Elsewhere,
    /// A file or folder inside the folder.
    File {
        /// The decoded path relative to the folder, made only of plain names (no `..`, no
        /// root); empty for the folder itself.
        rel: PathBuf,
        /// The URL ends with `/` (or `/.`): it names a folder.
        trailing_slash: bool,
    },
    /// 404: an attempt to leave the folder: a `..` segment however it is encoded (`%2e%2e`),
    /// an encoded slash (`%2f`, which would turn one segment into several) or a backslash.
    /// Answered as if the file did not exist, so nothing is learned about what lies outside.
    Refused,
    /// 400: no file can have this name: a malformed escape (`%zz`, `%4`), a NUL byte, or
    /// bytes that are not UTF-8 once decoded.
    Invalid,
}

impl Target {
    /// The status that refuses the request (404 or 400); `None` for a file or elsewhere.
    pub fn refusal(&self) -> Option<u16> {
        match self {
            Target::Refused => Some(404),
            Target::Invalid => Some(400),
            Target::Elsewhere | Target::File { .. } => None,
        }
    }
}

/// One segment of a path, decoded and classified.
enum Segment<'a> {
    /// Empty (`//`) or `.`: nothing.
    Skip,
    /// `..`.
    Up,
    /// A plain name.
    Name(Cow<'a, str>),
    /// A name that would reach past its segment (`/` or `\` inside it).
    Escape,
    /// Not a name at all.
    Invalid,
}

fn segment(raw: &str) -> Segment<'_> {
    let Some(name) = strict_decode(raw) else {
        return Segment::Invalid;
    };
    match &*name {
        "" | "." => Segment::Skip,
        ".." => Segment::Up,
        s if s.contains('\0') => Segment::Invalid,
        s if s.contains(['/', '\\']) => Segment::Escape,
        _ => Segment::Name(name),
    }
}

/// Percent-decoding that refuses what is not well formed: a `%` not followed by two hex
/// digits (`percent-encoding` would keep it as it is), or a result that is not UTF-8.
fn strict_decode(raw: &str) -> Option<Cow<'_, str>> {
    let escapes_well_formed =
        raw.match_indices('%').all(|(at, _)| raw.as_bytes().get(at + 1..at + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
    if !escapes_well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(raw).decode_utf8().ok()
}

/// Map `path` (as sent: percent-encoded, without the query) under the URL `prefix`.
///
/// The prefix is literal (not percent-encoded) and matches whole segments: `/static` (or
/// `/static/`) takes `/static`, `/static/` and `/static/...`, not `/staticx`. Empty and `.`
/// segments are ignored, so `/static//a/./b` is `a/b`. Problems in the part under the prefix
/// refuse the request ([`Target::Refused`], [`Target::Invalid`]); a path that does not
/// decode to the prefix is [`Target::Elsewhere`].
pub fn resolve(prefix: &str, path: &str) -> Target {
    let Some(rest) = path.strip_prefix('/') else {
        return Target::Elsewhere;
    };
    let mut raw = rest.split('/');
    for want in prefix.split('/').filter(|s| !s.is_empty() && *s != ".") {
        loop {
            let Some(next) = raw.next() else {
                return Target::Elsewhere;
            };
            match segment(next) {
                Segment::Skip => {}
                Segment::Name(name) if name == want => break,
                _ => return Target::Elsewhere,
            }
        }
    }
    let mut rel = PathBuf::new();
    for next in raw {
        match segment(next) {
            Segment::Skip => {}
            Segment::Name(name) => rel.push(&*name),
            Segment::Up | Segment::Escape => return Target::Refused,
            Segment::Invalid => return Target::Invalid,
        }
    }
    let trailing_slash = matches!(rest.rsplit('/').next().map(segment), Some(Segment::Skip));
    Target::File { rel, trailing_slash }
}

/// The prefix among `prefixes` that `path` falls under, by index, with the file it names.
/// The longest prefix (in segments) wins, and the first given among equals; `None` when the
/// path is under none of them.
pub fn route<S: AsRef<str>>(prefixes: &[S], path: &str) -> Option<(usize, Target)> {
    let depth = |prefix: &str| prefix.split('/').filter(|s| !s.is_empty() && *s != ".").count();
    let mut best: Option<(usize, usize, Target)> = None;
    for (index, prefix) in prefixes.iter().enumerate() {
        let prefix = prefix.as_ref();
        let deep = depth(prefix);
        if best.as_ref().is_some_and(|(_, best_deep, _)| *best_deep >= deep) {
            continue;
        }
        match resolve(prefix, path) {
            Target::Elsewhere => {}
            target => best = Some((index, deep, target)),
        }
    }
    best.map(|(index, _, target)| (index, target))
}

/// A byte range of a file, both ends inclusive and inside the file.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct ByteRange {
    /// The first byte's offset.
    pub start: u64,
    /// The last byte's offset (not one past it).
    pub end: u64,
}

impl ByteRange {
    /// Bytes in the range (never zero).
    pub fn count(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// What a Range header asks of a file.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum RangeAnswer {
    /// No usable range: send the whole file with 200. Several ranges are answered so too
    /// (RFC 9110 lets a server ignore Range), as are malformed ones and other units.
    Whole,
    /// 206 with this part.
    Part(ByteRange),
    /// 416: the range starts past the end of the file (or asks for its last 0 bytes).
    Unsatisfiable,
}

/// Read a Range header for a file of `len` bytes: `bytes=a-b`, `bytes=a-` or `bytes=-n`
/// (RFC 9110 section 14.1.2). The end is clipped to the file; a start past it is
/// unsatisfiable.
pub fn parse_range(header: &str, len: u64) -> RangeAnswer {
    let Some((unit, spec)) = header.split_once('=') else {
        return RangeAnswer::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeAnswer::Whole;
    };
    let number = |s: &str| {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // More digits than fit are still a number, only a large one.
        Some(s.parse::<u64>().unwrap_or(u64::MAX))
    };
    if first.trim().is_empty() {
        return match number(last) {
            None => RangeAnswer::Whole,
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(_) if len == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Part(ByteRange { start: len.saturating_sub(n), end: len - 1 }),
        };
    }
    let Some(start) = number(first) else {
        return RangeAnswer::Whole;
    };
    let end = if last.trim().is_empty() {
        u64::MAX
    } else {
        match number(last) {
            Some(end) if end >= start => end,
            _ => return RangeAnswer::Whole,
        }
    };
    if start >= len {
        return RangeAnswer::Unsatisfiable;
    }
    RangeAnswer::Part(ByteRange { start, end: end.min(len - 1) })
}

/// What identifies the version of a file the server would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// The file's size in bytes.
    pub len: u64,
    /// Its modification time.
    pub modified: SystemTime,
    /// The strong entity tag built from size, modification time and inode, quotes included.
    pub etag: String,
}

impl Validators {
    /// The validators of a file of `len` bytes last modified at `modified`, with inode
    /// `inode`: a file replaced by another (even of the same size and time) gets a new tag.
    pub fn new(len: u64, modified: SystemTime, inode: u64) -> Validators {
        let nanos = modified.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        Validators { len, modified, etag: format!("\"{len:x}-{nanos:x}-{inode:x}\"") }
    }

    /// The Last-Modified value: the modification time as an IMF-fixdate.
    pub fn last_modified(&self) -> String {
        String::from_utf8_lossy(&http_date(self.modified)).into_owned()
    }
}

/// The request fields that decide the answer; each `None` when absent. A field sent on
/// several lines is passed as its values joined with `, `.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    /// If-None-Match: entity tags, or `*`.
    pub if_none_match: Option<&'a str>,
    /// If-Modified-Since: an HTTP date.
    pub if_modified_since: Option<&'a str>,
    /// Range.
    pub range: Option<&'a str>,
    /// If-Range: an entity tag or an HTTP date.
    pub if_range: Option<&'a str>,
}

/// How to answer a GET or HEAD for a file.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Answer {
    /// 304: the client's copy is current.
    NotModified,
    /// 200 with the whole file.
    Whole,
    /// 206 with this part.
    Part(ByteRange),
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// The answer to a GET (`get`) or HEAD for `file`, following RFC 9110 section 13.2.2:
/// If-None-Match first (If-Modified-Since is then ignored), then Range, which If-Range
/// disables unless it names the current version. Range applies to GET only; a HEAD gets
/// the head of the 200.
pub fn evaluate(conditions: &Conditions<'_>, file: &Validators, get: bool) -> Answer {
    if not_modified(conditions, file) {
        return Answer::NotModified;
    }
    let Some(range) = conditions.range.filter(|_| get) else {
        return Answer::Whole;
    };
    if !range_still_valid(conditions.if_range, file) {
        return Answer::Whole;
    }
    match parse_range(range, file.len) {
        RangeAnswer::Whole => Answer::Whole,
        RangeAnswer::Part(part) => Answer::Part(part),
        RangeAnswer::Unsatisfiable => Answer::Unsatisfiable,
    }
}

/// Whether the client's copy is current. If-None-Match, when present, decides alone, with
/// the weak comparison GET and HEAD allow (`W/"x"` matches `"x"`); otherwise
/// If-Modified-Since, at the one-second resolution of HTTP dates.
fn not_modified(conditions: &Conditions<'_>, file: &Validators) -> bool {
    if let Some(list) = conditions.if_none_match {
        let ours = weak(&file.etag);
        return list_elements(list.as_bytes()).any(|tag| tag == b"*" || weak(&String::from_utf8_lossy(tag)) == ours);
    }
    match conditions.if_modified_since.and_then(parse_http_date) {
        // A file changed within the same second as the date is still current: HTTP
        // dates have no finer resolution.
        Some(since) => whole_seconds(file.modified) <= since,
        None => false,
    }
}

/// An entity tag without its weakness indicator.
fn weak(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

/// Whether an If-Range lets a Range be answered: it must name the current version with a
/// strong validator, an entity tag compared strongly or the exact Last-Modified date.
fn range_still_valid(if_range: Option<&str>, file: &Validators) -> bool {
    let Some(value) = if_range.map(trim_ows_str) else {
        return true;
    };
    if value.starts_with('"') {
        return value == file.etag;
    }
    if value.starts_with("W/") {
        return false;
    }
    parse_http_date(value).is_some_and(|at| at == whole_seconds(file.modified))
}

fn trim_ows_str(value: &str) -> &str {
    // Trimming ASCII spaces and tabs keeps UTF-8 boundaries intact.
    std::str::from_utf8(trim_ows(value.as_bytes())).unwrap_or(value)
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    let secs = time.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The media type of files whose extension is unknown.
const UNKNOWN_TYPE: &str = "application/octet-stream";

/// Extensions whose type is registered today as something other than `mime_guess`'s first
/// guess: JavaScript is `text/javascript` (RFC 9239), fonts are `font/*` (RFC 8081), XML is
/// `application/xml` (RFC 7303: a `text/` type would get a charset that overrides the one
/// its XML declaration names), icons have their IANA type, and a source map is JSON.
const REGISTERED_TYPES: &[(&str, &str)] = &[
    ("mjs", "text/javascript"),
    ("woff", "font/woff"),
    ("otf", "font/otf"),
    ("xml", "application/xml"),
    ("ico", "image/vnd.microsoft.icon"),
    ("map", "application/json"),
];

/// The Content-Type for a file, by its extension (case-insensitive), from `mime_guess`'s
/// table; text types say they are UTF-8; unknown extensions are `application/octet-stream`.
pub fn content_type(file: &Path) -> Cow<'static, str> {
    let Some(ext) = file.extension().and_then(|ext| ext.to_str()) else {
        return Cow::Borrowed(UNKNOWN_TYPE);
    };
    let essence = REGISTERED_TYPES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(ext))
        .map(|(_, essence)| *essence)
        .or_else(|| mime_guess::from_ext(ext).first_raw())
        .unwrap_or(UNKNOWN_TYPE);
    if essence.starts_with("text/") {
        Cow::Owned(format!("{essence}; charset=utf-8"))
    } else {
        Cow::Borrowed(essence)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Component;

    use super::*;
    use crate::testing::{seed_corpus, Rng};

    fn file(rel: &str, trailing_slash: bool) -> Target {
        Target::File { rel: rel.into(), trailing_slash }
    }

    #[test]
    fn paths_resolve_under_their_prefix_only() {
        assert_eq!(resolve("/static", "/static/css/a.css"), file("css/a.css", false));
        assert_eq!(resolve("/static/", "/static/a%20b.txt"), file("a b.txt", false));
        assert_eq!(resolve("/static", "/static/caf%C3%A9"), file("café", false));
        assert_eq!(resolve("/static", "/static"), file("", false));
        assert_eq!(resolve("/static", "/static/"), file("", true));
        assert_eq!(resolve("/static", "/static/docs/"), file("docs", true));
        assert_eq!(resolve("/static", "/static/docs/."), file("docs", true));
        assert_eq!(resolve("/static", "//static//a/./b"), file("a/b", false));
        assert_eq!(resolve("/static", "/%73tatic/a"), file("a", false));
        assert_eq!(resolve("/a/b", "/a/b/c"), file("c", false));
        assert_eq!(resolve("/", "/"), file("", true));
        assert_eq!(resolve("/", "/a/./b"), file("a/b", false));
    }

    #[test]
    fn other_paths_are_elsewhere() {
        for path in
            ["/staticx/a", "/staticx", "/other", "/", "", "*", "/stat", "/static%2fa", "/x/../static/a", "/%zz/static/a", "/Static/a"]
        {
            assert_eq!(resolve("/static", path), Target::Elsewhere, "{path}");
        }
        assert_eq!(resolve("/a/b", "/a/c/b"), Target::Elsewhere);
        assert_eq!(resolve("/a/b", "/a"), Target::Elsewhere);
    }

    #[test]
    fn ways_out_of_the_folder_are_404() {
        for path in [
            "/static/../wsgi.py",
            "/static/..",
            "/static/a/../../wsgi.py",
            "/static/a/../b",
            "/static/%2e%2e/wsgi.py",
            "/static/%2E%2e/wsgi.py",
            "/static/.%2e/wsgi.py",
            "/static/%2e%2e%2fwsgi.py",
            "/static/a%2f..%2f..%2fwsgi.py",
            "/static/a%2Fb",
            "/static/..\\wsgi.py",
            "/static/a%5c..%5cwsgi.py",
        ] {
            let target = resolve("/static", path);
            assert_eq!(target, Target::Refused, "{path}");
            assert_eq!(target.refusal(), Some(404));
        }
    }

    #[test]
    fn names_no_file_can_have_are_400() {
        for path in ["/static/a%00b", "/static/a%00", "/static/%zz", "/static/a%4", "/static/a%", "/static/%ff", "/static/%c3"] {
            let target = resolve("/static", path);
            assert_eq!(target, Target::Invalid, "{path}");
            assert_eq!(target.refusal(), Some(400));
        }
        assert_eq!(resolve("/static", "/static/a").refusal(), None);
    }

    #[test]
    fn the_longest_prefix_wins() {
        let prefixes = ["/static", "/static/img", "/", "/media"];
        assert_eq!(route(&prefixes, "/static/img/a.png"), Some((1, file("a.png", false))));
        assert_eq!(route(&prefixes, "/static/imgx/a.png"), Some((0, file("imgx/a.png", false))));
        assert_eq!(route(&prefixes, "/media/a"), Some((3, file("a", false))));
        assert_eq!(route(&prefixes, "/app"), Some((2, file("app", false))));
        assert_eq!(route(&["/static"], "/staticx"), None);
        assert_eq!(route(&["/a", "/a/"], "/a/x"), Some((0, file("x", false))));
        assert_eq!(route(&["/static"], "/static/%2e%2e/x"), Some((0, Target::Refused)));
        assert_eq!(route::<&str>(&[], "/static/a"), None);
    }

    #[test]
    fn no_path_leads_out_of_its_folder() {
        let pieces: &[&[u8]] =
            &[b"/", b"..", b".", b"%2e", b"%2E", b"%2f", b"%2F", b"%5c", b"\\", b"%00", b"%", b"a", b"static", b"%c3%a9", b"%ff"];
        let mut rng = Rng(0x5eed_f11e);
        for _ in 0..20_000 {
            let len = rng.below(40);
            let mut path = b"/static/".to_vec();
            path.extend(rng.bytes(pieces, len));
            let Ok(path) = String::from_utf8(path) else {
                continue;
            };
            if let Target::File { rel, .. } = resolve("/static", &path) {
                assert!(rel.components().all(|c| matches!(c, Component::Normal(_))), "{path:?} gave {rel:?}");
                let text = rel.to_string_lossy();
                assert!(!text.contains(['\\', '\0']), "{path:?} gave {rel:?}");
            }
        }
    }

    /// A seed of the `resolve` fuzz target: the prefix, a newline, the path.
    fn prefix_and_path(seed: &[u8]) -> (String, String) {
        let text = String::from_utf8(seed.to_vec()).expect("resolve seeds are UTF-8");
        let (prefix, path) = text.split_once('\n').expect("a resolve seed has a prefix line");
        (prefix.to_owned(), path.to_owned())
    }

    #[test]
    fn fuzz_seed_corpus_of_resolve_is_answered_as_named() {
        let seeds = seed_corpus("resolve");
        assert!(seeds.len() >= 20);
        for (name, bytes) in seeds {
            let (prefix, path) = prefix_and_path(&bytes);
            let target = resolve(&prefix, &path);
            let as_named = match name.split('_').next() {
                Some("valid") => matches!(target, Target::File { .. }),
                Some("refused") => target == Target::Refused,
                Some("invalid") => target == Target::Invalid,
                Some("elsewhere") => target == Target::Elsewhere,
                _ => panic!("{name}: a resolve seed is named valid_, refused_, invalid_ or elsewhere_"),
            };
            assert!(as_named, "{name}: {path:?} under {prefix:?} gave {target:?}");
        }
    }

    #[test]
    fn ranges() {
        let part = |start, end| RangeAnswer::Part(ByteRange { start, end });
        assert_eq!(parse_range("bytes=0-9", 100), part(0, 9));
        assert_eq!(parse_range("bytes=0-0", 100), part(0, 0));
        assert_eq!(parse_range("bytes=90-", 100), part(90, 99));
        assert_eq!(parse_range("bytes=99-", 100), part(99, 99));
        assert_eq!(parse_range("bytes=-10", 100), part(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), part(0, 99));
        assert_eq!(parse_range("bytes=50-5000", 100), part(50, 99));
        assert_eq!(parse_range(" Bytes = 1 - 2 ", 100), part(1, 2));
        assert_eq!(parse_range("bytes=0-99999999999999999999999", 100), part(0, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=100-200", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=99999999999999999999999-", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), RangeAnswer::Unsatisfiable);
        for whole in [
            "bytes=0-1,5-6",
            "bytes=9-1",
            "items=0-1",
            "bytes=x-1",
            "bytes=1-x",
            "bytes=-",
            "bytes=",
            "bytes=5",
            "bytes=+1-2",
            "bytes=-+2",
            "0-1",
            "",
        ] {
            assert_eq!(parse_range(whole, 100), RangeAnswer::Whole, "{whole:?}");
        }
    }

    #[test]
    fn fuzz_seed_corpus_of_parse_range_is_answered_as_named() {
        let seeds = seed_corpus("parse_range");
        assert!(seeds.len() >= 15);
        for (name, bytes) in seeds {
            let text = String::from_utf8(bytes).expect("parse_range seeds are UTF-8");
            let (len, header) = text.split_once('\n').expect("a parse_range seed has a length line");
            let answer = parse_range(header, len.parse().expect("the length line is a number"));
            let as_named = match name.split('_').next() {
                Some("part") => matches!(answer, RangeAnswer::Part(_)),
                Some("whole") => answer == RangeAnswer::Whole,
                Some("unsatisfiable") => answer == RangeAnswer::Unsatisfiable,
                _ => panic!("{name}: a parse_range seed is named part_, whole_ or unsatisfiable_"),
            };
            assert!(as_named, "{name}: {header:?} of {len} bytes gave {answer:?}");
        }
    }

    #[test]
    fn ranges_stay_inside_the_file() {
        let pieces: &[&[u8]] = &[b"bytes=", b"-", b",", b" ", b"0", b"1", b"9", b"99", b"x"];
        let mut rng = Rng(0x0bad_cafe);
        for _ in 0..20_000 {
            let len = rng.below(12);
            let header = String::from_utf8_lossy(&rng.bytes(pieces, len)).into_owned();
            let size = rng.below(200) as u64;
            if let RangeAnswer::Part(part) = parse_range(&header, size) {
                assert!(part.start <= part.end && part.end < size, "{header:?} of {size}: {part:?}");
            }
        }
    }

    #[test]
    fn last_modified_is_an_http_date() {
        let file = Validators::new(1, UNIX_EPOCH + Duration::from_millis(784_111_777_500), 1);
        assert_eq!(file.last_modified(), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn etags_change_with_size_time_and_inode() {
        let t = UNIX_EPOCH + Duration::from_nanos(1_500_000_001);
        let file = Validators::new(10, t, 7);
        assert_eq!(file.etag, "\"a-59682f01-7\"");
        assert_ne!(file.etag, Validators::new(11, t, 7).etag);
        assert_ne!(file.etag, Validators::new(10, t + Duration::from_nanos(1), 7).etag);
        assert_ne!(file.etag, Validators::new(10, t, 8).etag);
    }

    /// A file of 10 bytes modified half-way through Sun, 06 Nov 1994 08:49:37 GMT.
    fn sample() -> Validators {
        Validators::new(10, UNIX_EPOCH + Duration::from_millis(784_111_777_500), 7)
    }

    const SECOND: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

    #[test]
    fn if_none_match_decides_first() {
        let file = sample();
        let asks = |inm: &str, ims: Option<&str>| {
            let conditions = Conditions { if_none_match: Some(inm), if_modified_since: ims, ..Conditions::default() };
            evaluate(&conditions, &file, true)
        };
        assert_eq!(asks(&file.etag, None), Answer::NotModified);
        assert_eq!(asks(&format!("W/{}", file.etag), None), Answer::NotModified);
        assert_eq!(asks(&format!("\"x\" ,\t{} , \"y\"", file.etag), None), Answer::NotModified);
        assert_eq!(asks("*", None), Answer::NotModified);
        assert_eq!(asks("\"other\"", None), Answer::Whole);
        assert_eq!(asks("", None), Answer::Whole);
        // A non-matching If-None-Match overrides an If-Modified-Since that would match.
        assert_eq!(asks("\"other\"", Some(SECOND)), Answer::Whole);
        // HEAD too.
        let conditions = Conditions { if_none_match: Some(&file.etag), ..Conditions::default() };
        assert_eq!(evaluate(&conditions, &file, false), Answer::NotModified);
    }

    #[test]
    fn if_modified_since_at_second_resolution() {
        let file = sample();
        let since = |date: &str| {
            let conditions = Conditions { if_modified_since: Some(date), ..Conditions::default() };
            evaluate(&conditions, &file, true)
        };
        assert_eq!(since(SECOND), Answer::NotModified);
        assert_eq!(since("Sun, 06 Nov 1994 08:49:38 GMT"), Answer::NotModified);
        assert_eq!(since("Sunday, 06-Nov-94 08:49:37 GMT"), Answer::NotModified);
        assert_eq!(since("Sun, 06 Nov 1994 08:49:36 GMT"), Answer::Whole);
        assert_eq!(since("not a date"), Answer::Whole);
    }

    #[test]
    fn ranges_apply_to_get_and_if_range_must_name_this_version() {
        let file = sample();
        let asks = |range: &str, if_range: Option<&str>, get: bool| {
            let conditions = Conditions { range: Some(range), if_range, ..Conditions::default() };
            evaluate(&conditions, &file, get)
        };
        let part = Answer::Part(ByteRange { start: 2, end: 5 });
        assert_eq!(asks("bytes=2-5", None, true), part);
        assert_eq!(asks("bytes=2-5", None, false), Answer::Whole);
        assert_eq!(asks("bytes=10-", None, true), Answer::Unsatisfiable);
        assert_eq!(asks("bytes=0-1,3-4", None, true), Answer::Whole);
        assert_eq!(asks("bytes=2-5", Some(&file.etag), true), part);
        assert_eq!(asks("bytes=2-5", Some(" \"old\" "), true), Answer::Whole);
        let weak = format!("W/{}", file.etag);
        assert_eq!(asks("bytes=2-5", Some(&weak), true), Answer::Whole);
        assert_eq!(asks("bytes=2-5", Some(SECOND), true), part);
        assert_eq!(asks("bytes=2-5", Some("Sun, 06 Nov 1994 08:49:38 GMT"), true), Answer::Whole);
        assert_eq!(asks("bytes=2-5", Some("garbage"), true), Answer::Whole);
        // A current copy wins over a range.
        let conditions = Conditions { range: Some("bytes=2-5"), if_none_match: Some(&file.etag), ..Conditions::default() };
        assert_eq!(evaluate(&conditions, &file, true), Answer::NotModified);
    }

    #[test]
    fn content_types() {
        let of = |name: &str| content_type(Path::new(name));
        assert_eq!(of("a.CSS"), "text/css; charset=utf-8");
        assert_eq!(of("index.html"), "text/html; charset=utf-8");
        assert_eq!(of("app.mjs"), "text/javascript; charset=utf-8");
        assert_eq!(of("dir.v2/logo.png"), "image/png");
        assert_eq!(of("photo.JPEG"), "image/jpeg");
        assert_eq!(of("font.woff2"), "font/woff2");
        assert_eq!(of("app.js.map"), "application/json");
        assert_eq!(of("data.tar.gz"), "application/gzip");
        assert_eq!(of("README"), "application/octet-stream");
        assert_eq!(of("v1.2/README"), "application/octet-stream");
        assert_eq!(of(".bashrc"), "application/octet-stream");
        assert_eq!(of("x.exe"), "application/octet-stream");
        assert_eq!(of("x.unknown-extension"), "application/octet-stream");
        // The registered types where the table's first guess is an older name.
        assert_eq!(of("feed.xml"), "application/xml");
        assert_eq!(of("favicon.ico"), "image/vnd.microsoft.icon");
        assert_eq!(of("font.WOFF"), "font/woff");
        assert_eq!(of("font.otf"), "font/otf");
        // Beyond the types named above, the table knows the rest.
        assert_eq!(of("doc.odt"), "application/vnd.oasis.opendocument.text");
        assert_eq!(of("image.bmp"), "image/bmp");
        assert_eq!(of("invite.ics"), "text/calendar; charset=utf-8");
    }
}
