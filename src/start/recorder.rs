//! `--enable-recorder DIR` on the master's side: the records read back for `warp recorder
//! list` and `warp recorder show` (the folder is made ready by [`super::output_dirs`]).
//!
//! The workers write the records (the server crate's `recorder` module), in the format of
//! [`warp_worker_config::record`]. What this module does NOT do: change a record, or
//! remove one; the folder is the user's to clear.

use std::borrow::Cow;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use warp_worker_config::record::{Body, Data, Record, Secrets, FORMAT};

/// Why records cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("{0} does not exist: name the folder given to warp start --enable-recorder")]
    NoFolder(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("no record {id} in {dir}: `warp recorder list {dir}` shows the ids")]
    NoRecord { dir: String, id: String },
    #[error("{path} is not a record of this warp ({reason}): it was written by another program, or by another version of warp")]
    NotARecord { path: PathBuf, reason: String },
}

/// The records in a folder, oldest first, and the files in it that looked like records
/// but could not be read as such.
pub struct Listing {
    pub records: Vec<Record>,
    pub unreadable: Vec<RecordsError>,
}

/// Every record in `dir`. Files being written (their names start with a dot) and files
/// that are not `*.json` are left out.
pub fn list(dir: &Path) -> Result<Listing, RecordsError> {
    let entries = fs::read_dir(dir).map_err(|err| match err.kind() {
        io::ErrorKind::NotFound => RecordsError::NoFolder(dir.to_owned()),
        _ => RecordsError::Read { path: dir.to_owned(), source: err },
    })?;
    let mut listing = Listing { records: Vec::new(), unreadable: Vec::new() };
    for entry in entries {
        let entry = entry.map_err(|source| RecordsError::Read { path: dir.to_owned(), source })?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        match read(&entry.path()) {
            Ok(record) => listing.records.push(record),
            Err(err) => listing.unreadable.push(err),
        }
    }
    // `time` is RFC 3339 in UTC, of fixed width: as text it sorts as time does.
    listing.records.sort_by(|a, b| (&a.time, &a.id).cmp(&(&b.time, &b.id)));
    Ok(listing)
}

/// The record `id` in `dir` (a record's file name is taken for its id too).
pub fn find(dir: &Path, id: &str) -> Result<Record, RecordsError> {
    if !dir.is_dir() {
        return Err(RecordsError::NoFolder(dir.to_owned()));
    }
    let id = id.strip_suffix(".json").unwrap_or(id);
    let no_record = || RecordsError::NoRecord { dir: dir.display().to_string(), id: id.to_owned() };
    // An id names a file in the folder, never a path out of it.
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(no_record());
    }
    let path = dir.join(format!("{id}.json"));
    if !path.is_file() {
        return Err(no_record());
    }
    read(&path)
}

fn read(path: &Path) -> Result<Record, RecordsError> {
    let text = fs::read_to_string(path).map_err(|source| RecordsError::Read { path: path.to_owned(), source })?;
    let not_a_record = |reason: String| RecordsError::NotARecord { path: path.to_owned(), reason };
    let record = Record::from_json(&text).map_err(|err| not_a_record(err.to_string()))?;
    if record.warp_record != FORMAT {
        return Err(not_a_record(format!("format {}, where this warp reads format {FORMAT}", record.warp_record)));
    }
    Ok(record)
}

/// The record as one line: time, method and target, status, duration, the request's and
/// the response's body sizes, id.
pub fn line(record: &Record) -> String {
    let request = &record.request;
    let (status, out) = match &record.response {
        Some(response) => (response.status.to_string(), response.body.size),
        None => ("-".to_owned(), 0),
    };
    format!(
        "{}  {} {}  {status}  {:.1} ms  {} B in, {out} B out  {}",
        record.time,
        printable(&request.method),
        printable(&request.target),
        record.duration_ms,
        request.body.size,
        record.id
    )
}

/// The record as the HTTP exchange it was, after a line about it: the request line, its
/// headers, a blank line and its body; then the response likewise. A body that is not
/// text is a note with its size, never its raw bytes.
pub fn show(record: &Record) -> String {
    let secrets = match record.secrets {
        Secrets::Masked => "secrets masked",
        Secrets::Kept => "secrets kept",
    };
    let mut out = format!(
        "record {}: {}, {:.1} ms, worker pid {}, client {}, {secrets}\n\n",
        record.id, record.time, record.duration_ms, record.pid, record.peer
    );
    let request = &record.request;
    message(&mut out, &format!("{} {} {}", request.method, request.target, request.version), &request.headers, &request.body);
    match &record.response {
        Some(response) => {
            let status_line = format!("{} {} {}", response.version, response.status, response.reason);
            out.push('\n');
            message(&mut out, &status_line, &response.headers, &response.body);
        }
        None => out.push_str("\n[no response went out]\n"),
    }
    out
}

/// A message: its first line, headers, a blank line, then its body or a note on it.
fn message(out: &mut String, first_line: &str, headers: &[(String, String)], body: &Body) {
    out.push_str(&printable(first_line));
    out.push('\n');
    for (name, value) in headers {
        out.push_str(&format!("{}: {}\n", printable(name), printable(value)));
    }
    out.push('\n');
    let text = match &body.data {
        Data::Text(text) if !text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) => Some(text.as_str()),
        _ => None,
    };
    let mut notes = Vec::new();
    match text {
        Some(text) => {
            out.push_str(text);
            if !text.is_empty() && !text.ends_with('\n') {
                out.push('\n');
            }
        }
        None => notes.push(format!("binary body, {} bytes", body.size)),
    }
    if body.cut {
        notes.push(format!("cut: only the first {} of its {} bytes were recorded", body.bytes().map_or(0, |kept| kept.len()), body.size));
    }
    if body.file {
        notes.push("sent from a file with sendfile".to_owned());
    }
    if body.unfinished {
        notes.push(format!("the server did not read the body to its end: {} bytes were read", body.size));
    }
    if !notes.is_empty() {
        out.push_str(&format!("[{}]\n", notes.join("; ")));
    }
}

/// `text` safe to print on a terminal: control characters (the C1 ones that latin-1 bytes
/// become included) written as escapes, so a recorded value cannot drive the terminal.
fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().map(|c| if c.is_control() && c != '\t' { c.escape_unicode().to_string() } else { c.to_string() }).collect())
}

#[cfg(test)]
mod tests {
    use warp_worker_config::record::{Request, Response};

    use super::*;

    fn record(request_body: Body, response_body: Body) -> Record {
        Record {
            warp_record: FORMAT,
            id: "20261206-061514-4242-17".to_owned(),
            time: "2026-12-06T06:15:14.123456Z".to_owned(),
            duration_ms: 12.34,
            pid: 4242,
            peer: "127.0.0.1:5000".to_owned(),
            secrets: Secrets::Masked,
            request: Request {
                method: "POST".to_owned(),
                target: "/echo".to_owned(),
                version: "HTTP/1.1".to_owned(),
                headers: vec![("Authorization".to_owned(), "Bearer ****".to_owned())],
                body: request_body,
            },
            response: Some(Response {
                version: "HTTP/1.1".to_owned(),
                status: 200,
                reason: "OK".to_owned(),
                headers: vec![("X-Odd".to_owned(), "a\u{1b}[31mb".to_owned())],
                body: response_body,
            }),
        }
    }

    #[test]
    fn a_record_shows_as_its_exchange() {
        let shown = show(&record(Body::new(b"hello".to_vec(), 5), Body::new(vec![0, 1, 2], 3)));
        assert_eq!(
            shown,
            "record 20261206-061514-4242-17: 2026-12-06T06:15:14.123456Z, 12.3 ms, worker pid 4242, client 127.0.0.1:5000, secrets masked\n\n\
             POST /echo HTTP/1.1\nAuthorization: Bearer ****\n\nhello\n\n\
             HTTP/1.1 200 OK\nX-Odd: a\\u{1b}[31mb\n\n[binary body, 3 bytes]\n"
        );
    }

    #[test]
    fn a_cut_body_says_how_much_was_kept() {
        let shown = show(&record(Body::new(b"abc".to_vec(), 10), Body { file: true, ..Body::new(Vec::new(), 0) }));
        assert!(shown.contains("\n\nabc\n[cut: only the first 3 of its 10 bytes were recorded]\n"), "{shown}");
        assert!(shown.contains("[sent from a file with sendfile]"), "{shown}");
    }

    #[test]
    fn a_record_lists_as_one_line() {
        let line = line(&record(Body::new(b"hello".to_vec(), 5), Body::new(b"echo:hello".to_vec(), 10)));
        assert_eq!(line, "2026-12-06T06:15:14.123456Z  POST /echo  200  12.3 ms  5 B in, 10 B out  20261206-061514-4242-17");
    }
}
