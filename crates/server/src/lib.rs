//! warp's embedded WSGI server, loaded by the app's own Python as `warp_server._native`.
//!
//! The HTTP/1.1 protocol itself is the `warp-http` crate.
//!
//! - [`conn`], [`body`], [`exchange`]: a connection, a request body, a response on the wire;
//!   [`intake`]: request bodies received whole before the app runs; [`outbox`]: responses
//!   handed over, for the event loop to send as the client reads; `outgoing`: how they are
//!   handed over, and when a request thread leaves a whole response to the event loop.
//! - [`worker`]: the pool of Python threads; `event_loop`: accepting, reading heads and the
//!   periodic checks; `conn_events`: the connections' readiness, read by a serving thread
//!   between requests under load; `watchdog` and `activity`: when to ask the master for a
//!   replacement; `metrics`: mod_wsgi's process and request metrics, and the scoreboard the master reads; `control`: the channel to the master, `handoff`: connections a stopping
//!   worker passes its successor (`rights`: descriptors received with a message),
//!   `inherited`: checking the descriptors the master passed; `static_files`:
//!   `--url-alias` and `--document-root`; `health`: `--health-path`, answered without the
//!   app; `recorder`: `--enable-recorder`, a file per request and its response.
//! - [`wsgi`]: environ, `start_response`, `wsgi.input` and the app call (PEP 3333).
//! - `module`: the Python entry points.
//!
//! The master process (the `warp` binary) binds the socket and supervises workers; this
//! crate is what runs inside each worker.

mod activity;
pub mod body;
mod clock;
pub mod conn;
mod conn_events;
mod control;
mod event_loop;
pub mod exchange;
mod handoff;
mod health;
mod inherited;
pub mod intake;
pub mod log;
mod metrics;
mod module;
pub mod outbox;
mod outgoing;
mod queue;
mod recorder;
mod rights;
mod static_files;
mod watchdog;
pub mod worker;
pub mod wsgi;
