//! The settings a server worker runs with, handed over by the master as JSON.
//!
//! The master (the `warp` binary) resolves flags, variables and defaults; the worker only
//! reads the result, so both agree on every value without sharing code at run time.

use std::time::Duration;

use serde::{Deserialize, Serialize};

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
    /// Python threads calling the app.
    pub threads: usize,
    /// Number of worker processes: `wsgi.multiprocess` is true when above one.
    pub processes: usize,
    /// What `SERVER_NAME`/`SERVER_PORT` say when the request has no Host.
    pub server_name: String,
    pub server_port: u16,
    pub limit_request_body: u64,
    #[serde(with = "seconds")]
    pub socket_timeout: Duration,
    #[serde(with = "seconds")]
    pub shutdown_timeout: Duration,
    /// Write one combined-format line per request to stdout.
    pub access_log: bool,
    /// Ordinal of this worker among its siblings, for log lines.
    pub worker_id: usize,
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
