//! The worker's logs: errors to stderr, the access log (combined format) to stdout.

use std::io::Write;
use std::net::SocketAddr;

use pyo3::prelude::*;

use warp_http::RequestHead;

/// An error line: `[warp] [error] [pid N] message`.
pub fn error(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "[warp] [error] [pid {}] {message}", std::process::id());
}

/// An informational line.
pub fn info(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "[warp] [info] [pid {}] {message}", std::process::id());
}

/// The app raised: say which request, then Python's own traceback.
pub fn app_error(py: Python<'_>, head: &RequestHead, err: &PyErr) {
    error(&format!("exception in the app while serving {} {}:", head.method(), head.target()));
    err.display(py);
}

/// One access-log line in Apache's combined format.
pub fn access(peer: SocketAddr, head: &RequestHead, status: u16, bytes: u64) {
    let header = |name| head.header(name).map(|v| String::from_utf8_lossy(v).replace('"', "\\\"")).unwrap_or_else(|| "-".to_owned());
    let now = time_local();
    let line = format!(
        "{} - - [{now}] \"{} {} {}\" {status} {} \"{}\" \"{}\"\n",
        peer.ip(),
        head.method(),
        head.target(),
        head.version.as_str(),
        if bytes == 0 { "-".to_owned() } else { bytes.to_string() },
        header("referer"),
        header("user-agent"),
    );
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// The time as Apache logs it, in UTC: `25/Nov/2026:00:01:02 +0000`.
fn time_local() -> String {
    let date = warp_http::cached_http_date();
    // IMF-fixdate: "Wed, 25 Nov 2026 00:01:02 GMT"
    let text = std::str::from_utf8(&date).unwrap_or_default();
    let parts: Vec<&str> = text.split(' ').collect();
    match parts.as_slice() {
        [_, day, month, year, time, _] => format!("{day}/{month}/{year}:{time} +0000"),
        _ => text.to_owned(),
    }
}
