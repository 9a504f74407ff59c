//! A worker process's server: an event loop of Rust and T request threads that run the app.
//!
//! The event loop (the thread that called [`serve`], with the GIL released) accepts
//! connections and reads until a request head is complete, so slow clients never hold a
//! request thread while they dawdle over their headers. Complete requests go through the
//! [`Queue`] to the request threads, which attach to Python only to call the app, then
//! write the response without the GIL.
//!
//! Idle connections live in a slab. A request thread owns its connection while serving it;
//! afterwards it puts it back and re-arms it in `epoll` itself, which reports at once if the
//! next request already arrived, so the event loop is never woken just to take a connection
//! back.

use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, UnixStream};
use mio::{Events, Interest, Poll, Registry, Token};
use pyo3::prelude::*;
use slab::Slab;
use warp_http::{error_response, parse_head_into, HttpError, Limits, RequestHead};
use warp_worker_config::WorkerConfig;

use crate::body::Body;
use crate::conn::Conn;
use crate::exchange::{Exchange, RequestFacts};
use crate::log;
use crate::queue::Queue;
use crate::wsgi::call;
use crate::wsgi::environ::Constants;

const LISTENER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);

/// Bytes of an unread request body the server reads and drops to keep a connection alive;
/// beyond it the connection is closed instead.
const DISCARD_ALLOWANCE: u64 = 256 * 1024;

/// How often the event loop looks up while the worker is stopping.
const STOP_TICK: Duration = Duration::from_millis(20);

/// A connection slot: waiting for its next request, or being served by a thread.
enum Entry {
    Idle(Box<Conn>),
    Busy,
}

/// A request ready for the app: its head is parsed into `conn.head`.
struct Job {
    key: usize,
    conn: Box<Conn>,
}

/// What the event loop and the request threads share.
struct Shared {
    config: WorkerConfig,
    limits: Limits,
    app: Py<PyAny>,
    constants: Constants,
    registry: Registry,
    conns: Mutex<Slab<Entry>>,
    jobs: Queue<Job>,
    stopping: AtomicBool,
    /// Requests queued or being served.
    busy: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Serve `app` until SIGTERM or SIGINT; returns whether every request finished in time.
pub fn serve(py: Python<'_>, app: Py<PyAny>, config: WorkerConfig, constants: Constants) -> PyResult<bool> {
    // SAFETY: the master passes the listening socket at `listen_fd`, open and owned by
    // nobody else in this process; from here on the listener owns it.
    let std_listener = unsafe { std::net::TcpListener::from_raw_fd(config.listen_fd) };
    std_listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(std_listener);
    let poll = Poll::new()?;
    let registry = poll.registry().try_clone()?;
    registry.register(&mut listener, LISTENER, Interest::READABLE)?;
    let (signal_rx, signal_tx) = std::os::unix::net::UnixStream::pair()?;
    for signal in [libc::SIGTERM, libc::SIGINT] {
        signal_hook::low_level::pipe::register(signal, signal_tx.try_clone()?)?;
    }
    signal_rx.set_nonblocking(true)?;
    let mut signals = UnixStream::from_std(signal_rx);
    registry.register(&mut signals, SIGNALS, Interest::READABLE)?;

    let limits = Limits { max_body: config.limit_request_body, ..Limits::default() };
    let threads = config.threads.max(1);
    let shutdown_timeout = config.shutdown_timeout;
    let shared = Arc::new(Shared {
        config,
        limits,
        app,
        constants,
        registry,
        conns: Mutex::new(Slab::new()),
        jobs: Queue::new(),
        stopping: AtomicBool::new(false),
        busy: AtomicUsize::new(0),
    });
    let pool: Vec<_> = (0..threads)
        .map(|i| {
            let shared = shared.clone();
            std::thread::Builder::new().name(format!("warp-request-{i}")).spawn(move || request_thread(&shared))
        })
        .collect::<Result<_, _>>()?;

    let clean = py.detach(|| -> std::io::Result<bool> {
        let mut event_loop = EventLoop { poll, listener: Some(listener), shared: &shared };
        let deadline = event_loop.run(&mut signals)?;
        // The requests still running get until the shutdown deadline; a thread stuck past
        // it is left behind, and the caller ends the process without it.
        shared.jobs.close();
        let deadline = deadline.unwrap_or_else(|| Instant::now() + shutdown_timeout);
        while pool.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(pool.iter().all(|t| t.is_finished()))
    })?;
    Ok(clean)
}

struct EventLoop<'a> {
    poll: Poll,
    listener: Option<TcpListener>,
    shared: &'a Shared,
}

impl EventLoop<'_> {
    /// Run until told to stop and the running requests are done (or the shutdown timeout
    /// passed). Returns the shutdown deadline.
    fn run(&mut self, signals: &mut UnixStream) -> std::io::Result<Option<Instant>> {
        let mut events = Events::with_capacity(256);
        let mut deadline: Option<Instant> = None;
        loop {
            let timeout = deadline.map(|_| STOP_TICK);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    SIGNALS => {
                        let mut sink = [0u8; 64];
                        while std::io::Read::read(signals, &mut sink).is_ok_and(|n| n > 0) {}
                        if deadline.is_none() {
                            deadline = Some(Instant::now() + self.shared.config.shutdown_timeout);
                            self.begin_stop();
                        }
                    }
                    Token(key) => readable(self.shared, key),
                }
            }
            if let Some(deadline) = deadline {
                let busy = self.shared.busy.load(Ordering::SeqCst);
                if busy == 0 {
                    return Ok(Some(deadline));
                }
                if Instant::now() >= deadline {
                    log::error(&format!(
                        "shutdown timeout: {busy} request(s) still running after {:?}",
                        self.shared.config.shutdown_timeout
                    ));
                    return Ok(Some(deadline));
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
                    let mut conns = lock(&self.shared.conns);
                    let entry = conns.vacant_entry();
                    let mut conn = Box::new(Conn::new(stream, peer));
                    let token = Token(entry.key());
                    if self.shared.registry.register(&mut conn.stream, token, Interest::READABLE).is_ok() {
                        entry.insert(Entry::Idle(conn));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and friends: log, and let the next readiness event retry.
                    log::error(&format!("accept failed: {e}"));
                    return;
                }
            }
        }
    }

    /// Stop accepting; close idle connections, serving any whose next request already
    /// arrived. Requests already queued or running are finished.
    fn begin_stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(mut listener) = self.listener.take() {
            let _ = self.shared.registry.deregister(&mut listener);
        }
        let keys: Vec<usize> = lock(&self.shared.conns).iter().map(|(key, _)| key).collect();
        for key in keys {
            readable(self.shared, key);
            let mut conns = lock(&self.shared.conns);
            if matches!(conns.get(key), Some(Entry::Idle(_))) {
                if let Entry::Idle(mut conn) = conns.remove(key) {
                    let _ = self.shared.registry.deregister(&mut conn.stream);
                }
            }
        }
    }
}

/// A connection has data (or closed): read it, and queue the request once its head is in.
fn readable(shared: &Shared, key: usize) {
    let mut conns = lock(&shared.conns);
    let Some(Entry::Idle(conn)) = conns.get_mut(key) else {
        // Busy: the thread serving it re-arms it when done. Gone: closed already.
        return;
    };
    let open = match conn.read_available() {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    };
    let parsed = {
        let Conn { buf, head, .. } = &mut **conn;
        parse_head_into(buf, &shared.limits, head)
    };
    match parsed {
        Ok(Some(used)) => {
            let Entry::Idle(mut conn) = std::mem::replace(&mut conns[key], Entry::Busy) else { return };
            drop(conns);
            conn.buf.drain(..used);
            shared.busy.fetch_add(1, Ordering::SeqCst);
            shared.jobs.push(Job { key, conn });
        }
        Ok(None) if open => {}
        Ok(None) => {
            if let Entry::Idle(mut conn) = conns.remove(key) {
                let _ = shared.registry.deregister(&mut conn.stream);
            }
        }
        Err(err) => {
            if let Entry::Idle(mut conn) = conns.remove(key) {
                drop(conns);
                let _ = shared.registry.deregister(&mut conn.stream);
                refuse(&mut conn, &err, shared.config.socket_timeout);
            }
        }
    }
}

/// Answer a malformed request with its 4xx/5xx and close the connection.
fn refuse(conn: &mut Conn, err: &HttpError, timeout: Duration) {
    let mut out = Vec::new();
    error_response(err, &mut out);
    // Best effort, and briefly: the client may be gone, or hostile.
    let _ = conn.write_all(&out, timeout.min(Duration::from_millis(100)));
    log::info(&format!("refused a request from {}: {err}", conn.peer));
}

fn request_thread(shared: &Shared) {
    // Attach once for the thread's whole life and detach at once: the thread keeps its
    // Python thread state, so each request re-enters Python cheaply instead of creating
    // and destroying one (with its frame stack, an mmap and munmap) every time.
    Python::attach(|py| py.detach(|| serve_jobs(shared)));
}

fn serve_jobs(shared: &Shared) {
    let mut next = shared.jobs.pop();
    while let Some(Job { key, mut conn }) = next {
        let mut head = std::mem::take(&mut conn.head);
        loop {
            let (back, keep_alive) = serve_one(shared, conn, &head);
            conn = back;
            if !keep_alive || shared.stopping.load(Ordering::SeqCst) {
                close(shared, key, conn);
                break;
            }
            // Pipelined requests are served in order, on this thread.
            match parse_head_into(&conn.buf, &shared.limits, &mut head) {
                Ok(Some(used)) => {
                    conn.buf.drain(..used);
                }
                Ok(None) => {
                    conn.head = head;
                    park(shared, key, conn);
                    break;
                }
                Err(err) => {
                    refuse(&mut conn, &err, shared.config.socket_timeout);
                    close(shared, key, conn);
                    break;
                }
            }
        }
        shared.busy.fetch_sub(1, Ordering::SeqCst);
        next = shared.jobs.next_after_request();
    }
}

/// Put a connection back to wait for its next request. Re-arming reports data that
/// arrived while it was busy, so nothing is missed.
fn park(shared: &Shared, key: usize, conn: Box<Conn>) {
    let mut conns = lock(&shared.conns);
    conns[key] = Entry::Idle(conn);
    if let Entry::Idle(conn) = &mut conns[key] {
        if shared.registry.reregister(&mut conn.stream, Token(key), Interest::READABLE).is_err() {
            conns.remove(key);
        }
    }
}

fn close(shared: &Shared, key: usize, mut conn: Box<Conn>) {
    let _ = shared.registry.deregister(&mut conn.stream);
    lock(&shared.conns).try_remove(key);
}

/// Serve one request; returns the connection and whether it may carry another.
fn serve_one(shared: &Shared, conn: Box<Conn>, head: &RequestHead) -> (Box<Conn>, bool) {
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
    let mut keep_alive = served.keep_alive && exchange.flush().is_ok();
    if keep_alive {
        // The next request starts after this one's body, read or not.
        keep_alive = matches!(exchange.body.discard_rest(&mut exchange.conn, DISCARD_ALLOWANCE, config.socket_timeout), Ok(true));
    } else {
        let _ = exchange.flush();
    }
    if config.access_log {
        log::access(exchange.conn.peer, head, exchange.status_code().unwrap_or(0), exchange.sent);
    }
    let mut conn = exchange.conn;
    conn.served += 1;
    (conn, keep_alive)
}
