//! warp's embedded WSGI server, loaded by the app's own Python as `warp_server._native`.
//!
//! The HTTP/1.1 protocol itself is the `warp-http` crate.
//!
//! - [`conn`], [`body`], [`exchange`]: a connection, a request body, a response on the wire.
//! - [`worker`]: the poller thread and the pool of Python threads.
//! - [`wsgi`]: environ, `start_response`, `wsgi.input` and the app call (PEP 3333).
//! - `module`: the Python entry points.
//!
//! The master process (the `warp` binary) binds the socket and supervises workers; this
//! crate is what runs inside each worker.

pub mod body;
pub mod conn;
pub mod exchange;
pub mod log;
mod queue;
mod module;
pub mod worker;
pub mod wsgi;
