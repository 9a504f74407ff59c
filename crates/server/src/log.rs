//! The worker's logs: errors to stderr, the access log (combined format) to stdout.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use pyo3::prelude::*;

use warp_http::RequestHead;
use warp_worker_config::{AccessLogFormat, LogLevel};

/// The least severity written, as `LogLevel as u8`; set once when the worker starts.
static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);

pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

fn enabled(level: LogLevel) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// An error line: `[warp] [error] [pid N] message`.
pub fn error(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "[warp] [error] [pid {}] {message}", std::process::id());
}

/// An informational line.
pub fn info(message: &str) {
    if !enabled(LogLevel::Info) {
        return;
    }
    let _ = writeln!(std::io::stderr().lock(), "[warp] [info] [pid {}] {message}", std::process::id());
}

/// The app raised: say which request, then Python's own traceback.
pub fn app_error(py: Python<'_>, head: &RequestHead, err: &PyErr) {
    error(&format!("exception in the app while serving {} {}:", head.method(), head.target()));
    err.display(py);
}

/// What the access log says about one request.
pub struct AccessEntry<'a> {
    pub peer: SocketAddr,
    pub head: &'a RequestHead,
    pub status: u16,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// One access-log line: Apache's combined format, or a JSON object with the same facts
/// (and the time taken) for log collectors.
pub fn access(format: AccessLogFormat, entry: &AccessEntry<'_>) {
    let head = entry.head;
    let header = |name| head.header(name).map(|v| String::from_utf8_lossy(v).into_owned());
    let line = match format {
        AccessLogFormat::Off => return,
        AccessLogFormat::Combined => {
            let quoted = |name| header(name).map_or_else(|| "-".to_owned(), |v| v.replace('"', "\\\""));
            format!(
                "{} - - [{}] \"{} {} {}\" {} {} \"{}\" \"{}\"\n",
                entry.peer.ip(),
                time_local(),
                head.method(),
                head.target(),
                head.version.as_str(),
                entry.status,
                if entry.bytes == 0 { "-".to_owned() } else { entry.bytes.to_string() },
                quoted("referer"),
                quoted("user-agent"),
            )
        }
        AccessLogFormat::Json => {
            let mut line = serde_json::json!({
                "time": time_local(),
                "remote_addr": entry.peer.ip().to_string(),
                "method": head.method(),
                "uri": head.target(),
                "protocol": head.version.as_str(),
                "status": entry.status,
                "bytes": entry.bytes,
                "duration_ms": (entry.elapsed.as_secs_f64() * 1e6).round() / 1e3,
                "referer": header("referer"),
                "user_agent": header("user-agent"),
            })
            .to_string();
            line.push('\n');
            line
        }
    };
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
