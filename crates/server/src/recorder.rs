//! `--enable-recorder DIR`: each request the app serves and its response, kept in a file of
//! its own in DIR, in the format of [`warp_worker_config::record`].
//!
//! The request's head, peer and time are taken when a thread takes the request. Its body
//! is copied from where it waits when the event loop received it whole (memory, or its
//! temporary file), else as it is read off the connection, by the app or to drop what the
//! app left. The response's head is copied as it is written, with what the server adds;
//! its body as it is queued, and a file sent with sendfile is read for its first bytes.
//! A copy stops at [`BODY_CAP`] bytes, past which bytes are only counted. Once the
//! response is handed over, the record is written under a temporary name in DIR and
//! renamed, so that a reader never sees half of one; only its owner, the workers' user, may
//! read it.
//!
//! What it does NOT record: requests the app never sees (static files, the health path,
//! requests refused as malformed or after waiting too long for a thread), and a request
//! answered 504 by the request timeout, whose objects the event loop takes from its thread.
//!
//! Off, it costs an `Option` check where each copy would be made.

use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use warp_http::RequestHead;
use warp_worker_config::record::{self, Record, Secrets, BODY_CAP};

use crate::body::{Body, Stored};
use crate::log;
use crate::wsgi::environ::latin1;

/// Where a worker's records go, and how many it has written.
pub struct Recorder {
    dir: PathBuf,
    secrets: Secrets,
    pid: u32,
    count: AtomicU64,
}

/// The record of one request, filled in as it is served.
pub struct Recording {
    id: String,
    time: SystemTime,
    queued: Instant,
    peer: SocketAddr,
    secrets: Secrets,
    /// Its body is the placeholder of an empty one while a streamed body is being read.
    request: record::Request,
    /// A streamed request body is copied by the body's reader instead.
    streamed: bool,
    /// Its body is the placeholder of an empty one until the record is written.
    response: Option<record::Response>,
    response_body: Capture,
    from_file: bool,
}

/// The first [`BODY_CAP`] bytes of a body, and how many it had.
#[derive(Default)]
pub struct Capture {
    kept: Vec<u8>,
    size: u64,
}

impl Capture {
    pub fn add(&mut self, data: &[u8]) {
        let room = BODY_CAP.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&data[..data.len().min(room)]);
        self.size += data.len() as u64;
    }

    /// `len` bytes of the regular file `file` from `offset`, of which those that fit are
    /// read. A read that fails keeps what it read: the bytes are counted either way.
    fn add_file(&mut self, file: impl AsFd, offset: u64, len: u64) {
        let want = usize::try_from(len).unwrap_or(usize::MAX).min(BODY_CAP.saturating_sub(self.kept.len()));
        let start = self.kept.len();
        self.kept.resize(start + want, 0);
        let mut got = 0;
        while got < want {
            let at = i64::try_from(offset + got as u64).unwrap_or(i64::MAX);
            match nix::sys::uio::pread(&file, &mut self.kept[start + got..], at) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        self.kept.truncate(start + got);
        self.size += len;
    }

    pub fn into_body(self) -> record::Body {
        record::Body::new(self.kept, self.size)
    }
}

impl Recorder {
    pub fn new(settings: &warp_worker_config::Recorder) -> Recorder {
        Recorder {
            dir: PathBuf::from(&settings.dir),
            secrets: if settings.keep_secrets { Secrets::Kept } else { Secrets::Masked },
            pid: std::process::id(),
            count: AtomicU64::new(0),
        }
    }

    /// Begin the record of the request `head` from `peer`, in whole since `queued`. Its body
    /// is `stored` when the event loop received it, else `body` copies it as it is read.
    pub fn begin(&self, head: &RequestHead, peer: SocketAddr, queued: Instant, stored: Option<&Stored>, body: &mut Body) -> Box<Recording> {
        let time = SystemTime::now().checked_sub(queued.elapsed()).unwrap_or_else(SystemTime::now);
        let request_body = match stored {
            Some(stored) => {
                let first = stored.first(BODY_CAP).unwrap_or_else(|err| {
                    log::error(&format!("--enable-recorder: cannot read the request body back from its temporary file: {err}"));
                    Vec::new()
                });
                record::Body::new(first, stored.len())
            }
            None => {
                body.capture = Some(Capture::default());
                record::Body::new(Vec::new(), 0)
            }
        };
        let headers = head.headers().map(|(name, value)| (name.to_owned(), recorded(self.secrets, name, &latin1(value)))).collect();
        Box::new(Recording {
            id: record::id(time, self.pid, self.count.fetch_add(1, Ordering::Relaxed) + 1),
            time,
            queued,
            peer,
            secrets: self.secrets,
            request: record::Request {
                method: head.method().to_owned(),
                target: head.target().to_owned(),
                version: head.version.as_str().to_owned(),
                headers,
                body: request_body,
            },
            streamed: stored.is_none(),
            response: None,
            response_body: Capture::default(),
            from_file: false,
        })
    }

    /// Write the record of a request whose response was handed over at `ended`; `body` is
    /// its request body, read to where the server left it.
    pub fn write(&self, recording: Box<Recording>, body: &mut Body, ended: Instant) {
        let Recording { id, time, queued, peer, secrets, mut request, streamed, response, response_body, from_file } = *recording;
        if streamed {
            request.body = body.capture.take().unwrap_or_default().into_body();
            request.body.unfinished = !body.is_complete();
        }
        let response = response.map(|mut response| {
            response.body = record::Body { file: from_file, ..response_body.into_body() };
            response
        });
        let record = Record {
            warp_record: record::FORMAT,
            time: record::time(time),
            duration_ms: (ended.saturating_duration_since(queued).as_secs_f64() * 1e6).round() / 1e3,
            pid: self.pid,
            peer: peer.to_string(),
            secrets,
            request,
            response,
            id,
        };
        let path = self.dir.join(format!("{}.json", record.id));
        // A dot name: `warp recorder` reads only whole records.
        let temporary = self.dir.join(format!(".{}.json.tmp", record.id));
        // Only the workers' user reads it: bodies hold what forms post, passwords included.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .and_then(|mut file| file.write_all(record.to_json().as_bytes()))
            .and_then(|()| std::fs::rename(&temporary, &path));
        if let Err(err) = written {
            let _ = std::fs::remove_file(&temporary);
            log::error(&format!("--enable-recorder: cannot write {}: {err}", path.display()));
        }
    }
}

impl Recording {
    /// The response's head as it went on the wire: its status line and headers, ending
    /// with the blank line.
    pub fn response_head(&mut self, wire: &[u8]) {
        let text = latin1(wire);
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let (version, status) = status_line.split_once(' ').unwrap_or((status_line, ""));
        let (code, reason) = status.split_once(' ').unwrap_or((status, ""));
        let headers = lines
            .take_while(|line| !line.is_empty())
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| (name.to_owned(), recorded(self.secrets, name, value)))
            .collect();
        self.response = Some(record::Response {
            version: version.to_owned(),
            status: code.parse().unwrap_or(0),
            reason: reason.to_owned(),
            headers,
            body: record::Body::new(Vec::new(), 0),
        });
    }

    /// A piece of the response's body, as queued to be sent.
    pub fn response_body(&mut self, data: &[u8]) {
        self.response_body.add(data);
    }

    /// A piece of the response's body sent from a file: `len` bytes of `file` from `offset`.
    pub fn response_file(&mut self, file: impl AsFd, offset: u64, len: u64) {
        self.from_file = true;
        self.response_body.add_file(file, offset, len);
    }
}

/// The value of header `name` as a record keeps it.
fn recorded(secrets: Secrets, name: &str, value: &str) -> String {
    match secrets {
        Secrets::Masked => record::mask(name, value).unwrap_or_else(|| value.to_owned()),
        Secrets::Kept => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_keeps_the_first_bytes_and_counts_them_all() {
        let mut capture = Capture::default();
        capture.add(&[b'a'; 1000]);
        capture.add(&vec![b'b'; BODY_CAP]);
        let body = capture.into_body();
        assert_eq!((body.size, body.cut), (1000 + BODY_CAP as u64, true));
        let kept = body.bytes().unwrap();
        assert_eq!(kept.len(), BODY_CAP);
        assert!(kept[..1000].iter().all(|&b| b == b'a') && kept[1000..].iter().all(|&b| b == b'b'));
    }

    #[test]
    fn a_file_is_read_for_what_fits_from_its_offset() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789").unwrap();
        let mut capture = Capture::default();
        capture.add(&vec![b'x'; BODY_CAP - 3]);
        capture.add_file(&file, 2, 8);
        assert_eq!(capture.size, BODY_CAP as u64 - 3 + 8);
        assert_eq!(&capture.kept[BODY_CAP - 3..], b"234");
    }

    #[test]
    fn the_response_head_is_read_from_the_wire_with_its_secrets_masked() {
        let recorder = Recorder::new(&warp_worker_config::Recorder { dir: String::new(), keep_secrets: false });
        let (head, _) =
            warp_http::parse_head(b"GET / HTTP/1.1\r\nHost: h\r\nCookie: sid=abc\r\n\r\n", &Default::default()).unwrap().unwrap();
        let mut body = Body::new(head.body, false, 0);
        let mut recording = recorder.begin(&head, "127.0.0.1:1".parse().unwrap(), Instant::now(), None, &mut body);
        assert_eq!(recording.request.headers[1], ("Cookie".to_owned(), "sid=****".to_owned()));
        recording.response_head(b"HTTP/1.1 404 Not Found\r\nSet-Cookie: sid=abc; Path=/\r\nContent-Length: 0\r\n\r\n");
        let response = recording.response.unwrap();
        assert_eq!((response.version.as_str(), response.status, response.reason.as_str()), ("HTTP/1.1", 404, "Not Found"));
        assert_eq!(response.headers[0].1, "sid=****; Path=/");
        assert_eq!(response.headers[1], ("Content-Length".to_owned(), "0".to_owned()));
    }
}
