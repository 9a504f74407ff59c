//! `--url-alias URL PATH` and `--document-root DIR`: files answered from Rust, with
//! sendfile, before Python is involved.
//!
//! A URL under an alias is always answered from its folder (404 when the file is
//! missing). The document root only answers URLs that name a regular file in it; anything
//! else goes to the app, as with mod_wsgi-express. A file is served only when its real
//! path (symlinks resolved) lies inside the folder.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use warp_http::files::{self, RangeAnswer, Target};
use warp_http::{cached_http_date, RequestHead, Version};
use warp_worker_config::UrlAlias;

use crate::conn::Conn;

struct Mount {
    url: String,
    root: PathBuf,
    /// The document root: URLs that name no file go to the app.
    falls_through: bool,
}

pub struct StaticFiles {
    /// Longest URL prefix first, the document root last.
    mounts: Vec<Mount>,
}

/// A request answered from a file.
pub struct Answered {
    pub status: u16,
    pub sent: u64,
    pub keep_alive: bool,
}

/// The file a URL leads to, or the status that refuses it.
enum Lookup {
    Found(File, PathBuf),
    NotHere,
    Status(u16),
}

impl StaticFiles {
    pub fn new(aliases: &[UrlAlias], document_root: Option<&str>) -> io::Result<StaticFiles> {
        let mount = |url: &str, path: &str, falls_through| -> io::Result<Mount> {
            let root = std::fs::canonicalize(path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
            Ok(Mount { url: url.trim_end_matches('/').to_owned(), root, falls_through })
        };
        let mut mounts = aliases.iter().map(|a| mount(&a.url, &a.path, false)).collect::<io::Result<Vec<_>>>()?;
        mounts.sort_by_key(|m| std::cmp::Reverse(m.url.len()));
        if let Some(root) = document_root {
            mounts.push(mount("/", root, true)?);
        }
        Ok(StaticFiles { mounts })
    }

    /// Answer the request if its URL is a static one; `None` sends it to the app.
    pub fn respond(&self, head: &RequestHead, conn: &mut Conn, keep_alive: bool, timeout: Duration) -> Option<Answered> {
        let path = head.path();
        for mount in &self.mounts {
            let (file, name) = match lookup(mount, path) {
                Lookup::Found(file, name) => (file, name),
                Lookup::NotHere => continue,
                Lookup::Status(_) if mount.falls_through => return None,
                Lookup::Status(status) => return Some(small(conn, head, status, keep_alive, timeout)),
            };
            let method = head.method();
            if method != "GET" && method != "HEAD" {
                if mount.falls_through {
                    return None;
                }
                return Some(small(conn, head, 405, keep_alive, timeout));
            }
            return Some(send(conn, head, &file, &name, keep_alive, timeout));
        }
        None
    }
}

fn lookup(mount: &Mount, path: &str) -> Lookup {
    let rel = match files::resolve(&mount.url, path) {
        Target::Elsewhere => return Lookup::NotHere,
        Target::Refused => return Lookup::Status(404),
        Target::File(rel) => rel,
    };
    let Ok(mut real) = std::fs::canonicalize(mount.root.join(&rel)) else { return Lookup::Status(404) };
    if real.is_dir() {
        let Ok(index) = std::fs::canonicalize(real.join("index.html")) else { return Lookup::Status(404) };
        real = index;
    }
    // Symlinks are followed only while they stay inside the folder.
    if !real.starts_with(&mount.root) {
        return Lookup::Status(404);
    }
    match File::open(&real) {
        Ok(file) if file.metadata().is_ok_and(|m| m.is_file()) => Lookup::Found(file, real),
        _ => Lookup::Status(404),
    }
}

/// The status line and the headers every answer has.
fn head_start(out: &mut Vec<u8>, head: &RequestHead, status: u16, keep_alive: bool) {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        304 => "Not Modified",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Range Not Satisfiable",
    };
    out.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\nServer: warp\r\nDate: ").as_bytes());
    out.extend_from_slice(&cached_http_date());
    out.extend_from_slice(b"\r\n");
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if head.version == Version::Http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
}

/// A 404 or 405 with a one-line body.
fn small(conn: &mut Conn, head: &RequestHead, status: u16, keep_alive: bool, timeout: Duration) -> Answered {
    let body = if status == 405 { "Method Not Allowed: static files answer GET and HEAD\n" } else { "Not Found\n" };
    let mut out = Vec::new();
    head_start(&mut out, head, status, keep_alive);
    if status == 405 {
        out.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    out.extend_from_slice(format!("Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    let head_only = head.method() == "HEAD";
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    let ok = conn.write_all(&out, timeout).is_ok();
    Answered { status, sent: if head_only { 0 } else { body.len() as u64 }, keep_alive: keep_alive && ok }
}

fn send(conn: &mut Conn, head: &RequestHead, file: &File, name: &Path, keep_alive: bool, timeout: Duration) -> Answered {
    let Ok(meta) = file.metadata() else { return small(conn, head, 404, keep_alive, timeout) };
    let len = meta.len();
    let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
    let etag = files::etag(len, modified, meta.ino());
    let header = |name| head.header(name).and_then(|v| std::str::from_utf8(v).ok());
    let validators = format!("ETag: {etag}\r\nLast-Modified: {}\r\n", files::last_modified(modified));
    let mut out = Vec::new();
    if files::not_modified(header("if-none-match"), header("if-modified-since"), &etag, modified) {
        head_start(&mut out, head, 304, keep_alive);
        out.extend_from_slice(validators.as_bytes());
        out.extend_from_slice(b"\r\n");
        let ok = conn.write_all(&out, timeout).is_ok();
        return Answered { status: 304, sent: 0, keep_alive: keep_alive && ok };
    }
    let range = match header("range") {
        Some(range) if files::range_still_valid(header("if-range"), &etag, modified) => files::parse_range(range, len),
        _ => RangeAnswer::Whole,
    };
    let (status, start, count) = match range {
        RangeAnswer::Whole => (200, 0, len),
        RangeAnswer::Part(part) => (206, part.start, part.count()),
        RangeAnswer::Unsatisfiable => (416, 0, 0),
    };
    head_start(&mut out, head, status, keep_alive);
    let content_type = files::content_type(&name.to_string_lossy());
    out.extend_from_slice(format!("Content-Type: {content_type}\r\nAccept-Ranges: bytes\r\n{validators}").as_bytes());
    match status {
        206 => out.extend_from_slice(format!("Content-Range: bytes {start}-{}/{len}\r\n", start + count - 1).as_bytes()),
        416 => out.extend_from_slice(format!("Content-Range: bytes */{len}\r\n").as_bytes()),
        _ => {}
    }
    out.extend_from_slice(format!("Content-Length: {count}\r\n\r\n").as_bytes());
    if conn.write_all(&out, timeout).is_err() {
        return Answered { status, sent: 0, keep_alive: false };
    }
    if head.method() == "HEAD" || count == 0 {
        return Answered { status, sent: 0, keep_alive };
    }
    let offset = i64::try_from(start).unwrap_or(i64::MAX);
    match conn.send_file(file.as_fd(), offset, count, timeout) {
        // A file that shrank meanwhile sent fewer bytes than announced: close, so the
        // client cannot mistake the end.
        Ok(sent) => Answered { status, sent, keep_alive: keep_alive && sent == count },
        Err(_) => Answered { status, sent: 0, keep_alive: false },
    }
}
