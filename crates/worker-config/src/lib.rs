//! The settings a server worker runs with, handed over by the master as JSON.
//!
//! The master (the `warp` binary) resolves flags, variables and defaults; the worker only
//! reads the result, so both agree on every value without sharing code at run time. The
//! same goes for what the worker leaves for the master to read: [`record`] is the format of
//! `--enable-recorder`'s files.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use cidr::Cidr;

mod cidr;
pub mod control;
pub mod memory;
pub mod record;
pub mod scoreboard;
pub mod utc;

/// Name of the variable that carries the JSON settings to a worker.
pub const CONFIG_VAR: &str = "WARP_WORKER_CONFIG";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// The app: `module:callable`, or a Python file whose `application` (else `app`) is served.
    pub app: String,
    /// The app's source folder: the working directory and the first entry of `sys.path`.
    pub src: String,
    /// The inherited listening socket.
    pub listen_fd: i32,
    /// The inherited end of the worker's control channel to the master (see [`control`]).
    pub control_fd: i32,
    /// The inherited memory file this worker keeps its metrics in for the master
    /// (`--metrics-port`; see [`scoreboard`]), or -1.
    pub scoreboard_fd: i32,
    /// Python threads calling the app.
    pub threads: usize,
    /// Number of worker processes: `wsgi.multiprocess` is true when above one.
    pub processes: usize,
    /// What `SERVER_NAME`/`SERVER_PORT` say when the request has no Host.
    pub server_name: String,
    pub server_port: u16,
    pub limit_request_body: u64,
    /// A request head must arrive whole within this, once its first byte came (zero: the
    /// socket timeout).
    #[serde(with = "seconds")]
    pub header_timeout: Duration,
    /// Request bodies are received whole before the app is called.
    pub buffer_request_body: bool,
    /// A request body gets this long, and a second more per `body_min_rate` bytes received
    /// (zero: no limit).
    #[serde(with = "seconds")]
    pub body_timeout: Duration,
    /// Bytes per second (zero: the body timeout is the whole allowance).
    pub body_min_rate: u64,
    /// Bytes per second a client must take of a response that waits for it, after the
    /// socket timeout (zero: the socket timeout is the whole allowance).
    pub write_min_rate: u64,
    #[serde(with = "seconds")]
    pub queue_timeout: Duration,
    #[serde(with = "seconds")]
    pub request_timeout: Duration,
    #[serde(with = "seconds")]
    pub socket_timeout: Duration,
    #[serde(with = "seconds")]
    pub shutdown_timeout: Duration,
    #[serde(with = "seconds")]
    pub graceful_timeout: Duration,
    /// Recycling limits; zero turns each off.
    pub maximum_requests: u64,
    #[serde(with = "seconds")]
    pub restart_interval: Duration,
    #[serde(with = "seconds")]
    pub inactivity_timeout: Duration,
    /// Resident memory in bytes.
    pub memory_limit: u64,
    /// URL prefixes served from folders, longest match first.
    pub url_aliases: Vec<UrlAlias>,
    /// A folder whose files are served when the URL names one; other URLs go to the app.
    pub document_root: Option<String>,
    /// Proxy headers believed from trusted peers, lower-case (`x-forwarded-for`, ...).
    pub trust_proxy_headers: Vec<String>,
    /// The peers trusted to set them; empty means every peer.
    pub trusted_proxies: Vec<Cidr>,
    pub access_log: AccessLogFormat,
    pub log_level: LogLevel,
    /// A path answered `200 OK` by the server itself, without the app (503 while stopping).
    #[serde(default)]
    pub health_path: Option<String>,
    /// An exception in the app opens pdb post-mortem on the worker's terminal.
    #[serde(default)]
    pub debugger: bool,
    /// The folder for a cProfile file per request (`--enable-profiler`).
    #[serde(default)]
    pub profiler_dir: Option<String>,
    /// The folder for coverage.py's data (`--enable-coverage`).
    #[serde(default)]
    pub coverage_dir: Option<String>,
    /// Where and how each request is recorded (`--enable-recorder`).
    #[serde(default)]
    pub recorder: Option<Recorder>,
    /// Ordinal of this worker among its siblings, for log lines.
    pub worker_id: usize,
}

/// `--enable-recorder DIR`: a file per request and its response in `dir` (see [`record`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recorder {
    pub dir: String,
    /// `--recorder-keep-secrets`: the values of the headers that carry secrets are kept as
    /// they came, not masked.
    pub keep_secrets: bool,
}

/// A URL prefix and the folder whose files it serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UrlAlias {
    pub url: String,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogFormat {
    Off,
    /// Apache's combined format.
    Combined,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
        }
    }
}

mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(value.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}
