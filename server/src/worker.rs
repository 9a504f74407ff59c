//! A worker process's server: a poller thread of Rust and a pool of Python threads.
//!
//! The poller (the thread that called [`serve`], with the GIL released) accepts
//! connections and reads until a request head is complete, so slow clients never hold a
//! Python thread while they dawdle over their headers. Complete requests go through a
//! queue to the pool, whose threads attach to Python only to call the app. A finished
//! keep-alive connection comes back to the poller to wait for its next request.

use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::net::{TcpListener, UnixStream};
use mio::{Events, Interest, Poll, Token, Waker};
use pyo3::prelude::*;
use slab::Slab;
use warp_worker_config::WorkerConfig;

use crate::body::Body;
use crate::conn::Conn;
use crate::exchange::{Exchange, RequestFacts};
use warp_http::{error_response, parse_head, HttpError, Limits, RequestHead};
use crate::log;
use crate::wsgi::call;
use crate::wsgi::environ::Constants;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
const SIGNALS: Token = Token(usize::MAX - 3);

/// Bytes of an unread request body the server reads and drops to keep a connection alive;
/// beyond it the connection is closed instead.
const DISCARD_ALLOWANCE: u64 = 256 * 1024;

/// A request waiting for a Python thread.
struct Job {
    conn: Conn,
    head: RequestHead,
}

/// What the poller and the pool share.
struct Shared {
    config: WorkerConfig,
    limits: Limits,
    app: Py<PyAny>,
    constants: Constants,
    /// Connections the pool hands back for their next request.
    returned: Mutex<Vec<Conn>>,
    waker: Waker,
    stopping: AtomicBool,
    /// Requests queued or being served.
    busy: AtomicUsize,
}

/// Serve `app` until SIGTERM or SIGINT; returns whether every request finished in time.
pub fn serve(py: Python<'_>, app: Py<PyAny>, config: WorkerConfig, constants: Constants) -> PyResult<bool> {
    // SAFETY: the master passes the listening socket at `listen_fd`, open and owned by
    // nobody else in this process; from here on the listener owns it.
    let std_listener = unsafe { std::net::TcpListener::from_raw_fd(config.listen_fd) };
    std_listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(std_listener);
    let poll = Poll::new()?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let (signal_rx, signal_tx) = std::os::unix::net::UnixStream::pair()?;
    for signal in [libc::SIGTERM, libc::SIGINT] {
        signal_hook::low_level::pipe::register(signal, signal_tx.try_clone()?)?;
    }
    signal_rx.set_nonblocking(true)?;
    let mut signal_rx = UnixStream::from_std(signal_rx);
    poll.registry().register(&mut signal_rx, SIGNALS, Interest::READABLE)?;
    let waker = Waker::new(poll.registry(), WAKER)?;

    let limits = Limits { max_body: config.limit_request_body, ..Limits::default() };
    let threads = config.threads.max(1);
    let shared = Arc::new(Shared {
        config,
        limits,
        app,
        constants,
        returned: Mutex::new(Vec::new()),
        waker,
        stopping: AtomicBool::new(false),
        busy: AtomicUsize::new(0),
    });
    let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
    let pool: Vec<_> = (0..threads)
        .map(|i| {
            let shared = shared.clone();
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("warp-request-{i}"))
                .spawn(move || request_thread(&shared, &queue))
        })
        .collect::<Result<_, _>>()?;
    drop(queue);

    let clean = py.detach(|| {
        let mut poller = Poller { poll, listener: Some(listener), conns: Slab::new(), jobs, shared: shared.clone() };
        let result = poller.run(&mut signal_rx);
        drop(poller); // closes the queue: idle request threads end
        result
    })?;
    let joined = py.detach(|| {
        let deadline = Instant::now() + Duration::from_millis(200);
        while pool.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        pool.iter().all(|t| t.is_finished())
    });
    if joined {
        for thread in pool {
            let _ = thread.join();
        }
    }
    Ok(clean && joined)
}

struct Poller {
    poll: Poll,
    listener: Option<TcpListener>,
    conns: Slab<Conn>,
    jobs: Sender<Job>,
    shared: Arc<Shared>,
}

impl Poller {
    /// The event loop; returns whether the shutdown finished within its timeout.
    fn run(&mut self, signals: &mut UnixStream) -> std::io::Result<bool> {
        let mut events = Events::with_capacity(1024);
        let mut stop_deadline: Option<Instant> = None;
        loop {
            let timeout = stop_deadline.map(|_| Duration::from_millis(20));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => self.take_back(),
                    SIGNALS => {
                        let mut sink = [0u8; 64];
                        while std::io::Read::read(signals, &mut sink).is_ok_and(|n| n > 0) {}
                        if stop_deadline.is_none() {
                            stop_deadline = Some(Instant::now() + self.shared.config.shutdown_timeout);
                            self.begin_stop();
                        }
                    }
                    Token(key) => self.readable(key),
                }
            }
            if let Some(deadline) = stop_deadline {
                self.take_back();
                if self.shared.busy.load(Ordering::SeqCst) == 0 {
                    return Ok(true);
                }
                if Instant::now() >= deadline {
                    log::error(&format!(
                        "shutdown timeout: {} request(s) still running after {:?}",
                        self.shared.busy.load(Ordering::SeqCst),
                        self.shared.config.shutdown_timeout
                    ));
                    return Ok(false);
                }
            }
        }
    }

    fn accept(&mut self) {
        let Some(listener) = &self.listener else { return };
        loop {
            match listener.accept() {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let entry = self.conns.vacant_entry();
                    let mut conn = Conn::new(stream, peer);
                    if self.poll.registry().register(&mut conn.stream, Token(entry.key()), Interest::READABLE).is_ok() {
                        entry.insert(conn);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and friends: log and let the next readiness event retry.
                    log::error(&format!("accept failed: {e}"));
                    return;
                }
            }
        }
    }

    /// Stop accepting; close idle connections that have no request in their buffer.
    fn begin_stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            // A request may already be on its way: read what arrived before closing.
            self.readable(key);
            if let Some(mut conn) = self.conns.try_remove(key) {
                let _ = self.poll.registry().deregister(&mut conn.stream);
            }
        }
    }

    fn take_back(&mut self) {
        let returned = std::mem::take(&mut *self.shared.returned.lock().unwrap_or_else(|e| e.into_inner()));
        for mut conn in returned {
            if self.shared.stopping.load(Ordering::SeqCst) {
                continue; // dropped: closed
            }
            let entry = self.conns.vacant_entry();
            // Registering reports data that is already waiting, so nothing is missed.
            if self.poll.registry().register(&mut conn.stream, Token(entry.key()), Interest::READABLE).is_ok() {
                entry.insert(conn);
            }
        }
    }

    fn readable(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else { return };
        let closed = match conn.read_available() {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        };
        match parse_head(&conn.buf, &self.shared.limits) {
            Ok(Some((head, used))) => {
                let mut conn = self.conns.remove(key);
                let _ = self.poll.registry().deregister(&mut conn.stream);
                conn.buf.drain(..used);
                self.shared.busy.fetch_add(1, Ordering::SeqCst);
                if let Err(crossbeam_channel::SendError(job)) = self.jobs.send(Job { conn, head }) {
                    drop(job);
                    self.shared.busy.fetch_sub(1, Ordering::SeqCst);
                }
            }
            Ok(None) if closed => self.close(key),
            Ok(None) => {}
            Err(err) => {
                let mut conn = self.conns.remove(key);
                let _ = self.poll.registry().deregister(&mut conn.stream);
                refuse(&mut conn, &err, self.shared.config.socket_timeout);
            }
        }
    }

    fn close(&mut self, key: usize) {
        if let Some(mut conn) = self.conns.try_remove(key) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
    }
}

/// Answer a malformed request with its 4xx/5xx and close the connection.
fn refuse(conn: &mut Conn, err: &HttpError, timeout: Duration) {
    let mut out = Vec::new();
    error_response(err, &mut out);
    // Best effort: the client may already be gone. A short timeout keeps a hostile
    // client from holding the poller.
    let _ = conn.write_all(&out, timeout.min(Duration::from_millis(100)));
    log::info(&format!("refused a request from {}: {err}", conn.peer));
}

fn request_thread(shared: &Shared, queue: &Receiver<Job>) {
    while let Ok(Job { mut conn, mut head }) = queue.recv() {
        loop {
            let (back, keep_alive) = serve_one(shared, conn, &head);
            conn = back;
            if !keep_alive || shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            // Pipelined requests are served in order on this thread.
            match parse_head(&conn.buf, &shared.limits) {
                Ok(Some((next, used))) => {
                    conn.buf.drain(..used);
                    head = next;
                }
                Ok(None) => {
                    shared.returned.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
                    let _ = shared.waker.wake();
                    break;
                }
                Err(err) => {
                    refuse(&mut conn, &err, shared.config.socket_timeout);
                    break;
                }
            }
        }
        shared.busy.fetch_sub(1, Ordering::SeqCst);
        if shared.stopping.load(Ordering::SeqCst) {
            let _ = shared.waker.wake();
        }
    }
}

/// Serve one request; returns the connection and whether it may carry another.
fn serve_one(shared: &Shared, conn: Conn, head: &RequestHead) -> (Conn, bool) {
    let config = &shared.config;
    let facts = RequestFacts {
        version: head.version,
        keep_alive: head.keep_alive && !shared.stopping.load(Ordering::SeqCst),
        head_request: head.method() == "HEAD",
    };
    let body = Body::new(head.body, head.expect_continue, shared.limits.max_body);
    let exchange = Exchange::new(conn, body, config.socket_timeout, facts);
    let served = Python::attach(|py| call::serve(py, &shared.app, &shared.constants, head, exchange));
    let mut exchange = served.exchange;
    let mut keep_alive = served.keep_alive;
    if keep_alive {
        // The next request starts after this one's body, read or not.
        keep_alive = matches!(exchange.body.discard_rest(&mut exchange.conn, DISCARD_ALLOWANCE, config.socket_timeout), Ok(true));
    }
    if config.access_log {
        log::access(exchange.conn.peer, head, exchange.status_code().unwrap_or(0), exchange.sent);
    }
    let mut conn = exchange.conn;
    conn.served += 1;
    (conn, keep_alive)
}
