//! `--url-alias URL PATH` and `--document-root DIR`: files answered from Rust with
//! sendfile, before Python is involved (no GIL, no app thread).
//!
//! A URL under an alias is always answered from its folder: the file, or a folder's
//! `index.html` (a folder URL without its final `/` is redirected to it, so relative links in
//! the page work), else 404. Methods other than GET and HEAD get 405, a name no file can have
//! 400 (see `warp_http::files::Target`). The document root answers only a GET or HEAD of a
//! URL that names a regular file in it; everything else, folders included, goes to the app,
//! as with mod_wsgi-express's document root.
//!
//! A file is served only when its real path (symlinks resolved) lies inside its folder: the
//! path is canonicalized and checked, opened without following a final symlink, and the
//! opened file's own path is checked again through `/proc/self/fd`, so a folder swapped for a
//! symlink between the check and the open is caught too.
//!
//! What it does NOT do: decide anything about the protocol. Paths, validators, conditional
//! requests, ranges and content types are `warp_http::files`; this module does the file
//! system and the writing.

use std::borrow::Cow;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use warp_http::files::{self, Answer, Conditions, Target, Validators};
use warp_http::{cached_http_date, Framing, RequestHead, ResponseHead};
use warp_worker_config::UrlAlias;

use crate::conn::Conn;
use crate::log;
use crate::outbox;

/// The folders static URLs are answered from, canonicalized once per worker.
pub struct StaticFiles {
    /// The `--url-alias` URL prefixes, in the order given.
    urls: Vec<String>,
    /// `roots[i]` is the canonical folder of `urls[i]`.
    roots: Vec<PathBuf>,
    /// The canonical `--document-root`.
    document_root: Option<PathBuf>,
}

/// A request answered from the static folders (a file, or a refusal).
#[derive(Debug, Clone, Copy)]
pub struct Answered {
    /// The status sent.
    pub status: u16,
    /// Body bytes sent.
    pub sent: u64,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
}

impl StaticFiles {
    /// Built once per worker from the config; canonicalizes the folders.
    pub fn new(aliases: &[UrlAlias], document_root: Option<&str>) -> io::Result<StaticFiles> {
        let canonical =
            |path: &str| std::fs::canonicalize(path).map_err(|e| io::Error::new(e.kind(), format!("static folder {path}: {e}")));
        Ok(StaticFiles {
            urls: aliases.iter().map(|alias| alias.url.clone()).collect(),
            roots: aliases.iter().map(|alias| canonical(&alias.path)).collect::<io::Result<_>>()?,
            document_root: document_root.map(canonical).transpose()?,
        })
    }

    /// No alias and no document root: every request goes to the app.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty() && self.document_root.is_none()
    }

    /// `None`: the URL is not static, the app serves it. `Some`: answered (status, body
    /// bytes handed over, whether the connection may be kept alive). What the client does
    /// not take at once waits in the connection's outbox.
    pub fn respond(&self, head: &RequestHead, conn: &mut Conn, keep_alive: bool) -> Option<Answered> {
        let answered = self.answer(head, conn, keep_alive)?;
        Some(match conn.send_out(outbox::SLICE) {
            Ok(()) => answered,
            Err(_) => Answered { keep_alive: false, ..answered },
        })
    }

    fn answer(&self, head: &RequestHead, conn: &mut Conn, keep_alive: bool) -> Option<Answered> {
        if self.is_empty() {
            return None;
        }
        let path = head.path();
        let mut reply = Reply { head, conn, keep_alive };
        if let Some((index, target)) = files::route(&self.urls, path) {
            return Some(reply.alias(&self.roots[index], target));
        }
        let root = self.document_root.as_deref()?;
        if !matches!(head.method(), "GET" | "HEAD") {
            return None;
        }
        let Target::File { rel, trailing_slash: false } = files::resolve("/", path) else {
            return None;
        };
        match find(root, &rel) {
            Some(Found::File(file, meta)) => Some(reply.file(&file, &meta, &rel)),
            _ => None,
        }
    }
}

/// What a path inside a folder is, once checked.
enum Found {
    /// A regular file, open.
    File(File, Metadata),
    Folder,
}

/// `rel` under `root`, if it exists there, lies inside it once symlinks are resolved, and is
/// a regular file or a folder.
fn find(root: &Path, rel: &Path) -> Option<Found> {
    let real = std::fs::canonicalize(root.join(rel)).ok()?;
    if !real.starts_with(root) {
        return None;
    }
    // The canonical path has no symlink left, unless one was put there since: refuse it
    // then. O_NONBLOCK: opening a FIFO must not wait for a writer.
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(&real).ok()?;
    if !opened_inside(&file, root) {
        return None;
    }
    let meta = file.metadata().ok()?;
    if meta.is_file() {
        Some(Found::File(file, meta))
    } else if meta.is_dir() {
        Some(Found::Folder)
    } else {
        None
    }
}

/// Whether the file opened is still inside `root`: the kernel's own path for the open file,
/// which no rename or symlink swap after the open can change.
fn opened_inside(file: &File, root: &Path) -> bool {
    match std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
        Ok(path) => path.starts_with(root),
        // Without /proc, the check of the canonical path before the open is all there is.
        Err(_) => true,
    }
}

/// One static answer being written.
struct Reply<'a> {
    head: &'a RequestHead,
    conn: &'a mut Conn,
    keep_alive: bool,
}

type Headers<'a> = Vec<(&'static str, Cow<'a, str>)>;

impl Reply<'_> {
    fn alias(&mut self, root: &Path, target: Target) -> Answered {
        if !matches!(self.head.method(), "GET" | "HEAD") {
            return self.text("405 Method Not Allowed", "static files answer GET and HEAD only", vec![("Allow", "GET, HEAD".into())]);
        }
        let (rel, trailing_slash) = match target {
            Target::File { rel, trailing_slash } => (rel, trailing_slash),
            Target::Invalid => return self.text("400 Bad Request", "no file can have this name", Vec::new()),
            Target::Refused | Target::Elsewhere => return self.not_found(),
        };
        match find(root, &rel) {
            Some(Found::File(file, meta)) if !trailing_slash => self.file(&file, &meta, &rel),
            Some(Found::Folder) => {
                let index = rel.join("index.html");
                match find(root, &index) {
                    Some(Found::File(file, meta)) if trailing_slash => self.file(&file, &meta, &index),
                    Some(Found::File(..)) => self.add_slash(),
                    _ => self.not_found(),
                }
            }
            _ => self.not_found(),
        }
    }

    fn not_found(&mut self) -> Answered {
        self.text("404 Not Found", "no such file", Vec::new())
    }

    /// 301 to the folder's URL with its final `/`, the query kept.
    fn add_slash(&mut self) -> Answered {
        // One leading slash only: `//host/` would be read as another site.
        let mut location = format!("/{}/", self.head.path().trim_start_matches('/'));
        if !self.head.query().is_empty() {
            location.push('?');
            location.push_str(self.head.query());
        }
        self.text("301 Moved Permanently", "this is a folder, its URL ends with /", vec![("Location", location.into())])
    }

    /// A refusal or redirect with a one-line text body.
    fn text(&mut self, status: &str, detail: &str, mut headers: Headers<'_>) -> Answered {
        let body = format!("{status}: {detail}\n");
        headers.push(("Content-Type", "text/plain; charset=utf-8".into()));
        let (code, sent, keep_alive) = match self.write_head(status, &headers, body.len() as u64, body.as_bytes()) {
            Some((code, Framing::NoBody, keep_alive)) => (code, 0, keep_alive),
            Some((code, _, keep_alive)) => (code, body.len() as u64, keep_alive),
            None => (status_code(status), 0, false),
        };
        Answered { status: code, sent, keep_alive }
    }

    /// The file (or the part, or 304, or 416) the request's headers call for.
    fn file(&mut self, file: &File, meta: &Metadata, name: &Path) -> Answered {
        let validators = Validators::new(meta.len(), meta.modified().unwrap_or(UNIX_EPOCH), meta.ino());
        let head = self.head;
        let first = |name| head.header(name).and_then(|v| std::str::from_utf8(v).ok());
        let if_none_match = list(head, "if-none-match");
        let conditions = Conditions {
            if_none_match: if_none_match.as_deref(),
            if_modified_since: first("if-modified-since"),
            range: first("range"),
            if_range: first("if-range"),
        };
        let len = validators.len;
        let mut headers: Headers<'_> =
            vec![("ETag", Cow::Borrowed(validators.etag.as_str())), ("Last-Modified", validators.last_modified().into())];
        let (status, start, count) = match files::evaluate(&conditions, &validators, head.method() == "GET") {
            Answer::NotModified => ("304 Not Modified", 0, 0),
            Answer::Whole => ("200 OK", 0, len),
            Answer::Part(part) => {
                headers.push(("Content-Range", format!("bytes {}-{}/{len}", part.start, part.end).into()));
                ("206 Partial Content", part.start, part.count())
            }
            Answer::Unsatisfiable => {
                let range = vec![("Content-Range", format!("bytes */{len}").into())];
                return self.text("416 Range Not Satisfiable", "the range starts past the end of the file", range);
            }
        };
        if status != "304 Not Modified" {
            headers.push(("Content-Type", files::content_type(name)));
            headers.push(("Accept-Ranges", "bytes".into()));
        }
        let Some((code, framing, keep_alive)) = self.write_head(status, &headers, count, b"") else {
            return Answered { status: status_code(status), sent: 0, keep_alive: false };
        };
        if framing == Framing::NoBody || count == 0 {
            return Answered { status: code, sent: 0, keep_alive };
        }
        // The file goes out from the event loop as the client reads it, with a descriptor
        // of its own; one that shrinks meanwhile ends the connection there.
        let Ok(fd) = file.as_fd().try_clone_to_owned() else {
            return Answered { status: code, sent: 0, keep_alive: false };
        };
        // The file's bytes follow the head: the head goes to the outbox first.
        self.conn.seal_out(0);
        self.conn.outbox.push_file(fd, i64::try_from(start).unwrap_or(i64::MAX), count);
        Answered { status: code, sent: count, keep_alive }
    }

    /// Queue the head (and `body`, when the response has one); `None` when it cannot be
    /// encoded. Returns the status code, the framing and whether the connection stays open.
    fn write_head(
        &mut self,
        status: &str,
        headers: &[(&'static str, Cow<'_, str>)],
        length: u64,
        body: &[u8],
    ) -> Option<(u16, Framing, bool)> {
        let date = cached_http_date();
        let response = ResponseHead {
            status,
            headers,
            version: self.head.version,
            keep_alive: self.keep_alive,
            head_request: self.head.method() == "HEAD",
            body_length: Some(length),
            date: &date,
        };
        self.conn.out.clear();
        match response.encode(&mut self.conn.out) {
            Ok(plan) => {
                if plan.framing != Framing::NoBody {
                    self.conn.out.extend_from_slice(body);
                }
                Some((plan.status, plan.framing, plan.keep_alive))
            }
            Err(problem) => {
                self.conn.out.clear();
                log::error(&format!("static file response for {} not written: {problem}", self.head.target()));
                None
            }
        }
    }
}

/// The values of a list field sent on one line or several, joined as one list.
fn list<'a>(head: &'a RequestHead, name: &'a str) -> Option<Cow<'a, str>> {
    let mut values = head.header_values(name).filter_map(|v| std::str::from_utf8(v).ok());
    let first = values.next()?;
    match values.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let mut joined = format!("{first}, {second}");
            for more in values {
                joined.push_str(", ");
                joined.push_str(more);
            }
            Some(Cow::Owned(joined))
        }
    }
}

/// The code of a status line such as `"404 Not Found"`.
fn status_code(status: &str) -> u16 {
    status.get(..3).and_then(|code| code.parse().ok()).unwrap_or(500)
}
