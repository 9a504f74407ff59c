//! Request bodies received by the event loop before the app is called
//! (`--buffer-request-body`, on by default).
//!
//! A Python thread is taken only once the whole body is in, so `wsgi.input` never waits on
//! the network: a client that trickles its body holds a socket and some memory (or disk,
//! past [`IN_MEMORY`]), never a thread. A malformed or oversized chunked body is answered
//! 400 or 413 here, before the app runs. The body must keep a minimum rate, as Apache's
//! mod_reqtimeout has it: it gets `--body-timeout` seconds, and one second more for every
//! `--body-min-rate` bytes received; a slower client gets 408.

use std::time::{Duration, Instant};

use warp_http::{BodyKind, HttpError, RequestHead, CONTINUE_100};
use warp_worker_config::WorkerConfig;

use crate::body::{Body, Stored};
use crate::conn::Conn;

/// Bytes of a body held in memory; a larger one goes to an unlinked temporary file.
pub const IN_MEMORY: usize = 1024 * 1024;

pub struct Intake {
    body: Body,
    stored: Stored,
    began: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The body's framing is malformed (400) or it is larger than the limit (413).
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("the request body could not be stored: {0}")]
    Store(#[from] std::io::Error),
}

impl IntakeError {
    /// What the client is told.
    pub fn response(&self) -> HttpError {
        match self {
            IntakeError::Http(err) => *err,
            IntakeError::Store(_) => HttpError::service_unavailable("the request body could not be stored"),
        }
    }
}

/// Whether a request's body is received before the app runs.
pub fn wanted(config: &WorkerConfig, head: &RequestHead) -> bool {
    config.buffer_request_body && head.body != BodyKind::Empty
}

/// Start receiving the body of `head` on `conn`, with what already arrived; returns whether
/// it is all in. A client that waits for `100 Continue` is told to go ahead at once.
pub fn begin(conn: &mut Conn, head: &RequestHead, max_body: u64) -> Result<bool, IntakeError> {
    if head.expect_continue && conn.buf.is_empty() {
        // 25 bytes on a connection with nothing in flight: the send buffer takes them. If
        // not, the client sends the body anyway once its own wait is over.
        let _ = conn.write_all(CONTINUE_100, Duration::from_millis(100));
    }
    let intake = conn.intake.insert(Box::new(Intake {
        body: Body::new(head.body, false, max_body),
        stored: Stored::default(),
        began: Instant::now(),
    }));
    intake.absorb(&mut conn.buf)
}

impl Intake {
    /// Take in what `wire` holds of the body; returns whether it is all in.
    pub fn absorb(&mut self, wire: &mut Vec<u8>) -> Result<bool, IntakeError> {
        let data = self.body.receive(wire)?;
        self.stored.append(&data, IN_MEMORY)?;
        Ok(self.body.is_complete())
    }

    /// Whether the body is arriving slower than `config` allows.
    pub fn overdue(&self, config: &WorkerConfig) -> bool {
        if config.body_timeout.is_zero() {
            return false;
        }
        let earned = match config.body_min_rate {
            0 => Duration::ZERO,
            rate => Duration::from_secs_f64(self.stored.len() as f64 / rate as f64),
        };
        self.began.elapsed() > config.body_timeout + earned
    }

    /// A body received whole by another process.
    pub fn whole(stored: Stored) -> Intake {
        Intake { body: Body::new(BodyKind::Empty, false, 0), stored, began: Instant::now() }
    }

    /// The body received so far.
    pub fn stored(&self) -> &Stored {
        &self.stored
    }

    /// The whole body, for the app.
    pub fn into_stored(self) -> Stored {
        self.stored
    }
}
