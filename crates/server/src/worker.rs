//! A worker process's server: an event loop of Rust and T request threads that run the app.
//!
//! The event loop ([`crate::event_loop`], on the thread that called [`serve`], with the GIL
//! released) accepts connections and reads until a request head is complete, so slow
//! clients never hold a request thread while they dawdle over their headers. Complete
//! requests go through the [`Queue`] to the request threads, which attach to Python only to
//! call the app, then write the response without the GIL. Under load the thread that
//! finished a request reads the connections itself (see [`crate::conn_events`]), so the
//! next request reaches Python with no other thread woken.
//!
//! Idle connections live in a slab. A request thread owns its connection while serving it;
//! afterwards it puts it back itself (re-arming it in `epoll` only if the client sent
//! something meanwhile), so the event loop is never woken just to take a connection back.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Interest, Poll, Registry, Token, Waker};
use pyo3::prelude::*;
use slab::Slab;
use warp_http::{error_response, parse_head_into, HttpError, Limits, RequestHead};
use warp_worker_config::scoreboard::Scoreboard;
use warp_worker_config::WorkerConfig;

use crate::activity::Activity;
use crate::body::{Body, Stored};
use crate::conn::Conn;
use crate::conn_events::{self, ConnEvents};
use crate::control::Control;
use crate::event_loop::{self, EventLoop, Reader, WAKE};
use crate::exchange::{Exchange, RequestFacts};
use crate::handoff;
use crate::health;
use crate::inherited::Inherited;
use crate::intake;
use crate::log;
use crate::metrics::{Finished, Metrics};
use crate::outgoing::Outgoing;
use crate::queue::Queue;
use crate::recorder::Recorder;
use crate::static_files::StaticFiles;
use crate::wsgi::call;
use crate::wsgi::environ::{Constants, Peer};
use crate::wsgi::events::Timing;
use crate::wsgi::objects::Slot;

/// Bytes of an unread request body the server reads and drops to keep a connection alive;
/// beyond it the connection is closed instead.
const DISCARD_ALLOWANCE: u64 = 256 * 1024;

/// A connection slot: waiting for its next request, or being served by a thread.
pub enum Entry {
    Idle(Box<Conn>),
    /// `stirred`: the client sent something while the thread served, which the poller
    /// reported then and will not report again.
    Busy {
        stirred: bool,
    },
}

/// A request ready for the app: its head is parsed into `conn.head`.
pub struct Job {
    pub key: usize,
    pub conn: Box<Conn>,
    /// When its head was complete: the start of its wait for a thread.
    pub queued: Instant,
}

/// What the event loop and the request threads share.
pub struct Shared {
    pub config: WorkerConfig,
    pub limits: Limits,
    app: Py<PyAny>,
    constants: Constants,
    /// Where connections are registered: the poller of [`Shared::conn_events`].
    pub registry: Registry,
    pub conn_events: ConnEvents,
    pub conns: Mutex<Slab<Entry>>,
    pub jobs: Queue<Job>,
    pub stopping: AtomicBool,
    /// Once stopping: where connections with no request started go, when a successor takes
    /// them (see [`crate::handoff`]).
    pub handoff: OnceLock<handoff::Sender>,
    /// Requests queued or being served.
    pub busy: AtomicUsize,
    pub activity: Arc<Activity>,
    pub metrics: Arc<Metrics>,
    /// Wakes the event loop to run its checks at once, or to send a response.
    pub waker: Waker,
    /// Responses left to the event loop to send.
    pub outgoing: Outgoing<(usize, Box<Conn>)>,
    static_files: StaticFiles,
    recorder: Option<Recorder>,
}

impl Shared {
    /// Whether a connection may stay open after its response: always, except while the
    /// worker stops with no successor to pass it to.
    pub fn keeps_connections(&self) -> bool {
        !self.stopping.load(Ordering::SeqCst) || self.handoff.get().is_some()
    }
}

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Serve `app` until told to stop (SIGTERM, SIGINT, the master); returns whether every
/// request finished in time.
pub fn serve(py: Python<'_>, app: Py<PyAny>, config: WorkerConfig, constants: Constants, inherited: Inherited) -> PyResult<bool> {
    inherited.listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(inherited.listener);
    let control = inherited.control.map(Control::new).transpose()?;
    let poll = Poll::new()?;
    let (conn_events, registry) = ConnEvents::new()?;

    let static_files = StaticFiles::new(&config.url_aliases, config.document_root.as_deref())?;
    let limits = Limits { max_body: config.limit_request_body, ..Limits::default() };
    let threads = config.threads.max(1);
    let activity = Arc::new(Activity::new(threads));
    let scoreboard = inherited.scoreboard.map(|fd| Scoreboard::open(fd, threads)).transpose()?;
    let recorder = config.recorder.as_ref().map(Recorder::new);
    let shared = Arc::new(Shared {
        config,
        limits,
        app,
        constants,
        registry,
        conn_events,
        conns: Mutex::new(Slab::new()),
        jobs: Queue::new(),
        stopping: AtomicBool::new(false),
        handoff: OnceLock::new(),
        busy: AtomicUsize::new(0),
        metrics: Metrics::install(threads, activity.clone(), scoreboard),
        activity,
        waker: Waker::new(poll.registry(), WAKE)?,
        outgoing: Outgoing::default(),
        static_files,
        recorder,
    });
    let pool: Vec<_> = (0..threads)
        .map(|i| {
            let shared = shared.clone();
            std::thread::Builder::new().name(format!("warp-request-{i}")).spawn(move || request_thread(&shared, i))
        })
        .collect::<Result<_, _>>()?;

    let clean = py.detach(|| -> std::io::Result<bool> {
        let deadline = EventLoop::new(poll, listener, control, &shared)?.run()?;
        // The requests still running get until the stop deadline; a thread stuck past it
        // is left behind, and the caller ends the process without it.
        shared.jobs.close();
        while pool.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Requests still waiting for a thread (every one stuck) are told to come back.
        for job in shared.jobs.take_if(|_| true) {
            unavailable(&shared, job, "the server is restarting");
        }
        Ok(pool.iter().all(|t| t.is_finished()))
    })?;
    Ok(clean)
}

/// Answer a malformed or unservable request with its 4xx/5xx; the caller closes the
/// connection.
pub fn refuse(conn: &mut Conn, err: &HttpError, timeout: Duration) {
    let mut out = Vec::new();
    error_response(err, &mut out);
    // Best effort, and briefly: the client may be gone, or hostile.
    let _ = conn.write_all(&out, timeout.min(Duration::from_millis(100)));
    log::info(&format!("refused a request from {}: {err}", conn.peer));
}

/// Answer a queued request with 503 without calling the app, and close its connection.
pub fn unavailable(shared: &Shared, mut job: Job, detail: &'static str) {
    let err = HttpError::service_unavailable(detail);
    let mut out = Vec::new();
    error_response(&err, &mut out);
    let _ = job.conn.write_all(&out, Duration::from_millis(100));
    log::access(
        shared.config.access_log,
        &log::AccessEntry { peer: job.conn.peer, head: &job.conn.head, status: 503, bytes: 0, elapsed: job.queued.elapsed() },
    );
    close(shared, job.key, job.conn);
    shared.busy.fetch_sub(1, Ordering::SeqCst);
}

fn request_thread(shared: &Shared, index: usize) {
    // Attach once for the thread's whole life and detach at once: the thread keeps its
    // Python thread state, so each request re-enters Python cheaply instead of creating
    // and destroying one (with its frame stack, an mmap and munmap) every time.
    Python::attach(|py| {
        // As threading would for a thread of its own: coverage, profilers and debuggers
        // that hook every thread see this one too.
        let hooked = py.import("warp_server.hooks").and_then(|hooks| hooks.call_method0("thread_started"));
        if let Err(err) = hooked {
            err.print(py);
        }
        py.detach(|| serve_jobs(shared, index))
    });
}

fn serve_jobs(shared: &Shared, index: usize) {
    let config = &shared.config;
    let mut next = shared.jobs.pop();
    while let Some(job) = next {
        if job.queued.elapsed() >= shared.config.queue_timeout {
            unavailable(shared, job, "the request waited too long for the app (queue timeout)");
            next = next_job(shared);
            continue;
        }
        let Job { key, mut conn, mut queued } = job;
        let mut head = std::mem::take(&mut conn.head);
        loop {
            let stored = conn.intake.take().map(|intake| intake.into_stored());
            if let Some(stored) = &stored {
                // The app sees the decoded length, whatever the framing on the wire.
                head.body = stored.framing();
            }
            shared.activity.begin(index, &head);
            let Some((back, keep_alive)) = serve_one(shared, index, key, conn, &head, stored, queued) else {
                shared.activity.end(index);
                break;
            };
            if shared.activity.end(index) == shared.config.maximum_requests {
                // Ask for a replacement now, not at the next tick: a fast app would serve
                // many more requests by then.
                let _ = shared.waker.wake();
            }
            conn = back;
            let keep_alive = keep_alive && shared.keeps_connections();
            if !conn.outbox.is_empty() {
                // The client has not taken the whole response, or the thread left it to
                // the event loop: the event loop sends the rest as it reads, and this
                // thread is free.
                conn.outbox.keep_alive = keep_alive;
                conn.head = head;
                shared.outgoing.push((key, conn), &shared.waker);
                break;
            }
            if !keep_alive {
                close(shared, key, conn);
                break;
            }
            // Pipelined requests are served in order, on this thread; a body still to come
            // is received by the event loop.
            match parse_head_into(&conn.buf, &shared.limits, &mut head) {
                Ok(Some(used)) => {
                    conn.buf.drain(..used);
                    queued = Instant::now();
                    if intake::wanted(config, &head) {
                        match intake::begin(&mut conn, &head, shared.limits.max_body) {
                            Ok(true) => {}
                            Ok(false) => {
                                conn.head = head;
                                park(shared, key, conn);
                                break;
                            }
                            Err(err) => {
                                refuse(&mut conn, &err.response(), config.socket_timeout);
                                close(shared, key, conn);
                                break;
                            }
                        }
                    }
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
        next = next_job(shared);
    }
}

/// The next request for a thread that just finished one. It reads the connections itself
/// first when no request waits, and waits a moment for news of them (see
/// [`crate::conn_events`]); it gives them back to the event loop when none comes. While the
/// app is what requests wait for, the event loop reads them (see [`crate::outgoing`]).
fn next_job(shared: &Shared) -> Option<Job> {
    let events = &shared.conn_events;
    if shared.outgoing.leaves_sending(|| !shared.jobs.is_empty()) {
        if events.rest() {
            let _ = shared.waker.wake();
        }
        return shared.jobs.next_after_request();
    }
    for wait in [Duration::ZERO, conn_events::LINGER] {
        // Also while requests wait: this thread reads the connections once they are served.
        events.beat();
        if !shared.jobs.is_empty() {
            break;
        }
        events.drain(wait, |key| {
            shared.jobs.progressed();
            event_loop::readable(shared, key, Reader::ServingThread);
        });
    }
    if shared.jobs.is_empty() && events.rest() {
        let _ = shared.waker.wake();
    }
    shared.jobs.next_after_request()
}

/// Put a connection back to wait for its next request. The poller reports data that
/// arrives from now on by itself (the registration is edge-triggered, not one-shot); data
/// that arrived while the connection was busy was reported then, and only in that case is
/// the registration renewed, which reports it again.
fn park(shared: &Shared, key: usize, mut conn: Box<Conn>) {
    conn.since = Instant::now();
    let mut conns = lock(&shared.conns);
    let stirred = matches!(conns[key], Entry::Busy { stirred: true });
    if stirred && shared.registry.reregister(&mut conn.stream, Token(key), Interest::READABLE).is_err() {
        conns.remove(key);
        return;
    }
    conns[key] = Entry::Idle(conn);
}

pub fn close(shared: &Shared, key: usize, mut conn: Box<Conn>) {
    let _ = shared.registry.deregister(&mut conn.stream);
    lock(&shared.conns).try_remove(key);
}

/// Serve one request on thread `index`, whose head was complete at `queued` and whose body
/// is `stored` when the event loop received it; returns the connection and whether it may
/// carry another, or `None` when the request timed out and was answered for it.
fn serve_one(
    shared: &Shared,
    index: usize,
    key: usize,
    mut conn: Box<Conn>,
    head: &RequestHead,
    stored: Option<Stored>,
    queued: Instant,
) -> Option<(Box<Conn>, bool)> {
    if health::is_check(shared, head) {
        // Pipelined behind an app request: the event loop never saw it.
        health::answer(shared, &mut conn, head);
        return Some((conn, false));
    }
    let config = &shared.config;
    let started = Instant::now();
    shared.metrics.begin(index, started, head.method(), head.target());
    let facts = RequestFacts {
        version: head.version,
        keep_alive: head.keep_alive && shared.keeps_connections(),
        head_request: head.method() == "HEAD",
    };
    let buffered = stored.is_some();
    let mut body = match &stored {
        Some(stored) => Body::new(stored.framing(), false, u64::MAX),
        None => Body::new(head.body, head.expect_continue, shared.limits.max_body),
    };
    let (mut conn, mut body, status, sent, keep_alive, recording) = match shared.static_files.respond(head, &mut conn, facts.keep_alive) {
        Some(answered) => (conn, body, answered.status, answered.sent, answered.keep_alive, None),
        None => {
            let request = call::Request { head, peer: Peer { addr: conn.peer }, timing: Timing { queued, thread_id: index + 1 } };
            let recording = shared.recorder.as_ref().map(|recorder| recorder.begin(head, conn.peer, queued, stored.as_ref(), &mut body));
            let slot: Slot = Arc::new(Mutex::new(Some(Exchange::new(conn, body, stored, config, facts, recording))));
            shared.activity.watch(index, key, &slot);
            let call = shared.outgoing.call_begins();
            let served = Python::attach(|py| call::serve(py, &shared.app, &shared.constants, &request, &slot));
            shared.outgoing.call_ended(call);
            let Some(mut exchange) = served.exchange else {
                // Answered by the watchdog meanwhile, which closed the connection: counted
                // as a request with no response of the app's.
                let finished = Finished { thread: index, queued, began: started, ended: Instant::now(), status: 0, input: 0, output: 0 };
                shared.metrics.record(&finished);
                return None;
            };
            let send = !shared.outgoing.leaves_sending(|| !shared.jobs.is_empty());
            // The app's answer may say keep-alive and still be cut short here, when a file
            // it sends shrinks while the rest of it goes out.
            let whole = exchange.release(send).is_ok() && !exchange.is_cut_short();
            let status = exchange.status_code().unwrap_or(0);
            (exchange.conn, exchange.body, status, exchange.sent, served.keep_alive && whole, exchange.recording)
        }
    };
    // The next request starts after this one's body, read or not (a buffered body was
    // read off the connection whole).
    let keep_alive =
        keep_alive && (buffered || matches!(body.discard_rest(&mut *conn, DISCARD_ALLOWANCE, config.socket_timeout), Ok(true)));
    let ended = Instant::now();
    if let (Some(recorder), Some(recording)) = (&shared.recorder, recording) {
        recorder.write(recording, &mut body, ended);
    }
    shared.metrics.record(&Finished { thread: index, queued, began: started, ended, status, input: body.delivered, output: sent });
    log::access(config.access_log, &log::AccessEntry { peer: conn.peer, head, status, bytes: sent, elapsed: ended - started });
    conn.served += 1;
    Some((conn, keep_alive))
}
