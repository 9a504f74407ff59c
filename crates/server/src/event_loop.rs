//! The worker's event loop: accepting, reading request heads, and the periodic checks.
//!
//! A health check (`--health-path`) is answered here as soon as its head is in; see
//! [`crate::health`]. Request bodies are received here too, before a thread is taken; see
//! [`crate::intake`]. Every [`TICK`] it also cuts off connections whose request head is
//! overdue (slowloris: `--header-timeout`), whose body falls below its minimum rate, whose client takes its
//! response too slowly (see [`crate::outbox`], which it sends), or that sat idle past the
//! socket timeout, answers 503 to requests
//! that waited for a thread past the queue timeout, and asks the [`Watchdog`] whether the
//! worker should be replaced.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, UnixStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::time::TimeSpec;
use slab::Slab;
use warp_http::{parse_head_into, HttpError};
use warp_worker_config::control::{Reason, Report};

use crate::conn::Conn;
use crate::conn_events;
use crate::control::{Control, Order};
use crate::handoff::{self, Passed};
use crate::health;
use crate::intake::{self, Intake, IntakeError};
use crate::log;
use crate::outbox::{self, Sent};
use crate::outgoing::Wait;
use crate::watchdog::Watchdog;
use crate::worker::{close, lock, refuse, unavailable, Entry, Job, Shared};
use crate::wsgi::events;

const LISTENER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
const CONTROL: Token = Token(usize::MAX - 3);
/// A request thread asks for the checks to run now.
pub const WAKE: Token = Token(usize::MAX - 4);
/// Connections a stopping worker passes on.
const HANDOFF: Token = Token(usize::MAX - 5);
/// The connections have news (see [`crate::conn_events`]).
const CONNS: Token = Token(usize::MAX - 6);

/// How often the periodic checks run.
const TICK: Duration = Duration::from_millis(250);

/// How long a stopping worker waits for the first request of a connection it accepted.
const FIRST_REQUEST_GRACE: Duration = Duration::from_millis(500);

/// How often the event loop looks up while the worker is stopping.
const STOP_TICK: Duration = Duration::from_millis(20);

pub struct EventLoop<'a> {
    poll: Poll,
    listener: Option<TcpListener>,
    signals: UnixStream,
    control: Option<Control>,
    /// Where the worker this one replaces passes its connections, while it stops.
    handoff: Option<handoff::Receiver>,
    shared: &'a Shared,
    watchdog: Watchdog,
    last_tick: Instant,
    /// The connections are left to a request thread that reads them (see
    /// [`crate::conn_events`]).
    conns_left: bool,
    /// Connections the request threads handed over, being sent (kept for its capacity).
    handed: Vec<(usize, Box<Conn>)>,
    /// Why this worker asked the master to replace it.
    retiring: Option<Reason>,
}

/// An order to stop: within how long, and why (the `shutdown_reason` of
/// `process_stopping`, mod_wsgi's names).
struct Stop {
    within: Duration,
    reason: &'static str,
}

/// The reason of a stop signal, or of a master that is gone.
const SHUTDOWN: &str = "shutdown_signal";

impl<'a> EventLoop<'a> {
    pub fn new(poll: Poll, mut listener: TcpListener, mut control: Option<Control>, shared: &'a Shared) -> std::io::Result<Self> {
        let registry = poll.registry();
        registry.register(&mut listener, LISTENER, Interest::READABLE)?;
        let (signal_rx, signal_tx) = std::os::unix::net::UnixStream::pair()?;
        for signal in [libc::SIGTERM, libc::SIGINT] {
            signal_hook::low_level::pipe::register(signal, signal_tx.try_clone()?)?;
        }
        signal_rx.set_nonblocking(true)?;
        let mut signals = UnixStream::from_std(signal_rx);
        registry.register(&mut signals, SIGNALS, Interest::READABLE)?;
        if let Some(control) = &mut control {
            registry.register(&mut control.stream, CONTROL, Interest::READABLE)?;
        }
        registry.register(&mut SourceFd(&shared.conn_events.fd()), CONNS, Interest::READABLE)?;
        Ok(EventLoop {
            poll,
            listener: Some(listener),
            signals,
            control,
            handoff: None,
            shared,
            watchdog: Watchdog::new(),
            last_tick: Instant::now(),
            conns_left: false,
            handed: Vec::new(),
            retiring: None,
        })
    }

    /// Serve until told to stop and the running requests are done, or the stop deadline
    /// passed. Returns that deadline.
    pub fn run(mut self) -> std::io::Result<Instant> {
        if let Some(control) = &mut self.control {
            control.report(Report::Ready);
        }
        let mut events = Events::with_capacity(256);
        let mut deadline: Option<Instant> = None;
        let mut stopped_at = Instant::now();
        loop {
            self.send_handed();
            self.watch_conns();
            let timeout = match (self.shared.outgoing.wait(), deadline) {
                (Wait::Not, _) => Duration::ZERO,
                (Wait::Nap(nap), _) => {
                    nap_on(&self.poll, nap);
                    Duration::ZERO
                }
                _ if self.conns_left => conn_events::FRESH,
                (Wait::Sleep, Some(_)) => STOP_TICK,
                (Wait::Sleep, None) => TICK,
            };
            let polled = self.poll.poll(&mut events, Some(timeout));
            self.shared.outgoing.wake();
            if let Err(e) = polled {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            for event in events.iter() {
                let stop = match event.token() {
                    LISTENER => {
                        self.accept();
                        None
                    }
                    SIGNALS => {
                        let mut sink = [0u8; 64];
                        while std::io::Read::read(&mut self.signals, &mut sink).is_ok_and(|n| n > 0) {}
                        Some(Stop { within: self.shared.config.shutdown_timeout, reason: SHUTDOWN })
                    }
                    CONTROL => self.obey(),
                    HANDOFF => {
                        self.take_in();
                        None
                    }
                    WAKE => {
                        self.check_health();
                        None
                    }
                    CONNS => {
                        self.shared.conn_events.drain(Duration::ZERO, |key| readable(self.shared, key, Reader::EventLoop));
                        None
                    }
                    // Connections are the nested poller's.
                    Token(_) => None,
                };
                if let (Some(stop), None) = (stop, deadline) {
                    stopped_at = Instant::now();
                    deadline = Some(stopped_at + stop.within);
                    self.begin_stop(stop.reason);
                }
            }
            if self.last_tick.elapsed() >= TICK {
                self.last_tick = Instant::now();
                self.tick();
            }
            if let Some(deadline) = deadline {
                // Read first: a request thread hands its connection over before it counts
                // its request done.
                let busy = self.shared.busy.load(Ordering::SeqCst);
                self.send_handed();
                self.pass_unstarted();
                let grace_over = stopped_at.elapsed() >= FIRST_REQUEST_GRACE;
                // A body on its way, or a response, belongs to a request the client already
                // made: it may still be served before the deadline.
                let idle = self.close_idle(|conn| !conn.mid_request() && (grace_over || (conn.served > 0 && conn.buf.is_empty())));
                if busy == 0 && idle == 0 {
                    return Ok(deadline);
                }
                if Instant::now() >= deadline {
                    log::error(&format!("stop timeout: {busy} request(s) still running; leaving them"));
                    return Ok(deadline);
                }
            }
        }
    }

    /// Send the responses the request threads handed over (see [`crate::outgoing`]).
    fn send_handed(&mut self) {
        let shared = self.shared;
        shared.outgoing.take(&mut self.handed);
        for (key, conn) in self.handed.drain(..) {
            let mut conns = lock(&shared.conns);
            // Only the thread that served it takes a busy connection out of the slab.
            let Some(entry) = conns.get_mut(key) else { continue };
            let stirred = matches!(entry, Entry::Busy { stirred: true });
            *entry = Entry::Idle(conn);
            send_rest(shared, conns, key, Armed::Readable { stirred }, Reader::EventLoop);
        }
    }

    /// Leave the connections to the request thread that reads them between requests, as
    /// long as one does; take them back once none has for [`conn_events::FRESH`].
    fn watch_conns(&mut self) {
        let events = &self.shared.conn_events;
        let tended = events.tended();
        if tended == self.conns_left {
            return;
        }
        let mut source = SourceFd(&events.fd());
        let registry = self.poll.registry();
        if tended {
            // Said first, so that a thread going idle from now on wakes this loop.
            events.set_left(true);
            self.conns_left = registry.deregister(&mut source).is_ok();
            events.set_left(self.conns_left);
        } else if registry.register(&mut source, CONNS, Interest::READABLE).is_ok() {
            // Registering reports what is pending already.
            events.set_left(false);
            self.conns_left = false;
        }
    }

    /// Act on what the master said; returns how long a stop it ordered may take.
    fn obey(&mut self) -> Option<Stop> {
        let orders = self.control.as_mut().map(Control::read).unwrap_or_default();
        let mut stop: Option<Stop> = None;
        for order in orders {
            let this = match order {
                Order::Stop(passing) => {
                    // Set before the worker counts as stopping, so that no thread closes a
                    // connection the successor could take.
                    if let Some(fd) = passing {
                        let _ = self.shared.handoff.set(handoff::Sender::new(fd));
                    }
                    // Replaced as it asked, or else reloaded.
                    let reason = self.retiring.map_or("graceful_signal", Reason::as_str);
                    Stop { within: self.shared.config.graceful_timeout, reason }
                }
                Order::TakeOver(fd) => {
                    self.take_over(fd);
                    continue;
                }
                Order::MasterGone => {
                    log::error("the master process is gone; stopping");
                    // Nobody would read further reports.
                    self.control = None;
                    Stop { within: self.shared.config.shutdown_timeout, reason: SHUTDOWN }
                }
            };
            stop = Some(match stop {
                Some(before) if before.within <= this.within => before,
                _ => this,
            });
        }
        stop
    }

    /// Listen for the connections of the worker this one replaces.
    fn take_over(&mut self, fd: OwnedFd) {
        let receiver = handoff::Receiver::new(fd);
        match self.poll.registry().register(&mut SourceFd(&receiver.fd()), HANDOFF, Interest::READABLE) {
            Ok(()) => self.handoff = Some(receiver),
            Err(e) => log::error(&format!("cannot take over the connections of the worker this one replaces: {e}")),
        }
    }

    /// Serve the connections the stopping worker passed, each as if it had been accepted
    /// here and its bytes read here.
    fn take_in(&mut self) {
        let Some(receiver) = &mut self.handoff else { return };
        let mut taken = 0;
        let ended = loop {
            match receiver.receive() {
                Ok(Some(passed)) => {
                    taken += 1;
                    adopt(self.shared, passed);
                }
                Ok(None) => break true,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
                Err(e) => {
                    log::error(&format!("taking over connections failed: {e}"));
                    break true;
                }
            }
        };
        if taken > 0 {
            log::info(&format!("took over {taken} connection(s) from the worker this one replaces"));
        }
        if ended {
            let _ = self.poll.registry().deregister(&mut SourceFd(&receiver.fd()));
            self.handoff = None;
        }
    }

    /// Pass every connection with no request started to the successor, when there is one:
    /// idle ones, and requests still waiting for a thread. What cannot be passed now stays
    /// here, to be tried again.
    fn pass_unstarted(&self) {
        let shared = self.shared;
        let Some(sender) = shared.handoff.get() else { return };
        let mut passed = 0;
        {
            let mut conns = lock(&shared.conns);
            let idle: Vec<usize> =
                conns.iter().filter(|(_, entry)| matches!(entry, Entry::Idle(conn) if !conn.mid_request())).map(|(key, _)| key).collect();
            for key in idle {
                let Entry::Idle(conn) = &conns[key] else { continue };
                if sender.pass(conn, None, None).is_ok() {
                    if let Entry::Idle(mut conn) = conns.remove(key) {
                        let _ = shared.registry.deregister(&mut conn.stream);
                    }
                    passed += 1;
                }
            }
        }
        for job in shared.jobs.take_if(|_| true) {
            match pass_request(shared, job) {
                Ok(()) => passed += 1,
                Err(job) => shared.jobs.push(job),
            }
        }
        if passed > 0 {
            log::info(&format!("passed {passed} connection(s) with no request started to the successor"));
        }
    }

    fn accept(&mut self) {
        let Some(listener) = &self.listener else { return };
        loop {
            match listener.accept() {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    admit(self.shared, &mut lock(&self.shared.conns), Box::new(Conn::new(stream, peer)));
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

    /// Stop accepting. With a successor to take them, pass it every connection with no
    /// request started ([`EventLoop::pass_unstarted`]). Without one, close idle keep-alive
    /// connections, serving any whose next request already arrived; requests already queued
    /// or running are finished, and connections that have not sent their first request yet
    /// stay a moment ([`FIRST_REQUEST_GRACE`]): their clients connected before the stop and
    /// are sending it now.
    fn begin_stop(&mut self, reason: &'static str) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        events::process_stopping(reason);
        // Connections already waiting in the listen queue were accepted by the kernel on
        // this server's behalf: take them in, so their requests are served, not reset.
        self.accept();
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let keys: Vec<usize> = lock(&self.shared.conns).iter().map(|(key, _)| key).collect();
        for key in keys {
            readable(self.shared, key, Reader::EventLoop);
        }
        self.pass_unstarted();
        self.close_idle(|conn| !conn.mid_request() && conn.served > 0 && conn.buf.is_empty());
    }

    /// Close the idle connections `pick` selects (a partly received head or body is
    /// answered 408); returns how many idle connections remain.
    fn close_idle(&self, pick: impl Fn(&Conn) -> bool) -> usize {
        let shared = self.shared;
        let (picked, left) = {
            let mut conns = lock(&shared.conns);
            let keys: Vec<usize> =
                conns.iter().filter(|(_, entry)| matches!(entry, Entry::Idle(conn) if pick(conn))).map(|(key, _)| key).collect();
            let picked: Vec<Box<Conn>> = keys
                .into_iter()
                .filter_map(|key| match conns.remove(key) {
                    Entry::Idle(conn) => Some(conn),
                    Entry::Busy { .. } => None,
                })
                .collect();
            let left = conns.iter().filter(|(_, entry)| matches!(entry, Entry::Idle(_))).count();
            (picked, left)
        };
        for mut conn in picked {
            let _ = shared.registry.deregister(&mut conn.stream);
            let err = if !conn.outbox.is_empty() {
                log::info(&format!("a client ({}) took the response too slowly (--write-min-rate); closing its connection", conn.peer));
                continue;
            } else if conn.intake.is_some() {
                HttpError::request_timeout("the request body arrived too slowly (--body-timeout, --body-min-rate)")
            } else if !conn.buf.is_empty() {
                HttpError::request_timeout("the request head did not arrive in time")
            } else {
                continue;
            };
            refuse(&mut conn, &err, shared.config.socket_timeout);
        }
        left
    }

    fn tick(&mut self) {
        let shared = self.shared;
        let config = &shared.config;
        self.close_idle(|conn| match &conn.intake {
            _ if !conn.outbox.is_empty() => conn.outbox.overdue(config.socket_timeout, config.write_min_rate),
            Some(intake) => intake.overdue(config),
            // A head on its way (bound by both timeouts), or a connection waiting for its
            // next request.
            None if !conn.buf.is_empty() && !config.header_timeout.is_zero() => {
                conn.since.elapsed() >= config.header_timeout.min(config.socket_timeout)
            }
            None => conn.since.elapsed() >= config.socket_timeout,
        });
        let queue_timeout = shared.config.queue_timeout;
        for job in shared.jobs.take_if(|job: &Job| job.queued.elapsed() >= queue_timeout) {
            unavailable(shared, job, "the request waited too long for the app (queue timeout)");
        }
        self.check_health();
        self.answer_overdue();
    }

    /// Answer 504 for each request past the request timeout whose response has not begun,
    /// and close its connection (one whose response began is closed): its client need not
    /// wait for a thread that may never come back. The thread finds its request's objects
    /// empty when it does.
    fn answer_overdue(&self) {
        let shared = self.shared;
        for overdue in shared.activity.overdue(shared.config.request_timeout) {
            let Some((key, request)) = overdue.request else { continue };
            // The thread holds the objects' lock only for socket I/O, bounded by the socket
            // timeout: never wait for it here.
            let Ok(mut objects) = request.try_lock() else { continue };
            let Some(mut exchange) = objects.take() else { continue };
            drop(objects);
            if exchange.head_sent() {
                log::error(&format!(
                    "closed the connection of {} (request timeout, response begun); its thread is still running",
                    overdue.what
                ));
            } else {
                let err = HttpError::gateway_timeout("the app did not answer within the request timeout");
                refuse(&mut exchange.conn, &err, shared.config.socket_timeout);
                log::error(&format!("answered 504 for {} (request timeout); its thread is still running", overdue.what));
            }
            close(shared, key, exchange.conn);
        }
    }

    /// Ask the master for a replacement when the watchdog finds a reason.
    fn check_health(&mut self) {
        let shared = self.shared;
        if let Some(reason) = self.watchdog.check(&shared.config, &shared.activity, shared.busy.load(Ordering::SeqCst)) {
            self.retiring = Some(reason);
            if let Some(control) = &mut self.control {
                control.report(Report::Retire(reason));
            }
        }
    }
}

/// Wait up to `nap` for news on `poll`, to the nanosecond (`Poll::poll` rounds a timeout
/// up to a millisecond); the caller then polls without waiting.
fn nap_on(poll: &Poll, nap: Duration) {
    // SAFETY: the descriptor is `poll`'s own, open for as long as `poll` is borrowed here,
    // which outlasts `fds`.
    let fd = unsafe { BorrowedFd::borrow_raw(poll.as_raw_fd()) };
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    // An interruption or a failure only cuts the nap short.
    let _ = ppoll(&mut fds, Some(TimeSpec::from_duration(nap)), None);
}

/// Who reads a connection, and so who is there to take the request it queues.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    EventLoop,
    /// A request thread between requests (see [`crate::conn_events`]): it takes the next
    /// request itself, so queueing one wakes no other thread.
    ServingThread,
}

/// A connection has data (or closed): read it, and queue the request once its head (and,
/// when bodies are buffered, its body) is in.
pub fn readable(shared: &Shared, key: usize, reader: Reader) {
    let mut conns = lock(&shared.conns);
    let conn = match conns.get_mut(key) {
        Some(Entry::Idle(conn)) => conn,
        // The thread serving it re-arms it when done, since this report is not repeated.
        Some(Entry::Busy { stirred }) => {
            *stirred = true;
            return;
        }
        // Closed already.
        None => return,
    };
    if conn.outbox.is_empty() {
        read_request(shared, conns, key, reader);
    } else {
        send_rest(shared, conns, key, Armed::Writable, reader);
    }
}

/// What a connection whose outbox is sent is registered with the poller for.
#[derive(Clone, Copy)]
enum Armed {
    Writable,
    /// As while its request was served: `stirred` when the client sent something
    /// meanwhile, which the poller will not report again.
    Readable {
        stirred: bool,
    },
}

/// Send what the socket takes of the connection's outbox; once it is out, go on to the
/// next request.
fn send_rest(shared: &Shared, mut conns: MutexGuard<'_, Slab<Entry>>, key: usize, armed: Armed, reader: Reader) {
    let Some(Entry::Idle(conn)) = conns.get_mut(key) else { return };
    match conn.outbox.write_to(&conn.stream, outbox::SLICE) {
        // The rest when the client has taken some.
        Ok(Sent::Blocked) if matches!(armed, Armed::Writable) => {}
        // The rest when the client has taken some, or after the other connections' turns:
        // asking again reports the socket writable anew.
        Ok(Sent::Blocked | Sent::Budget) => {
            if shared.registry.reregister(&mut conn.stream, Token(key), Interest::WRITABLE).is_err() {
                conns.remove(key);
            }
        }
        Ok(Sent::All) if conn.outbox.keep_alive && shared.keeps_connections() => {
            // Out: on to the next request, which may be here already.
            conn.since = Instant::now();
            match armed {
                // The poller reports the next request when it comes, unless it is here:
                // pipelined behind this one, or sent while it was served.
                Armed::Readable { stirred: false } if conn.buf.is_empty() => {}
                Armed::Readable { .. } => read_request(shared, conns, key, reader),
                // Registering anew reports what is here already.
                Armed::Writable => {
                    if shared.registry.reregister(&mut conn.stream, Token(key), Interest::READABLE).is_ok() {
                        read_request(shared, conns, key, reader);
                    } else {
                        conns.remove(key);
                    }
                }
            }
        }
        Ok(Sent::All) | Err(_) => {
            if let Entry::Idle(mut conn) = conns.remove(key) {
                let _ = shared.registry.deregister(&mut conn.stream);
            }
        }
    }
}

/// Read what the connection has, and queue its request once the head (and, when bodies
/// are buffered, the body) is in.
fn read_request(shared: &Shared, mut conns: MutexGuard<'_, Slab<Entry>>, key: usize, reader: Reader) {
    let Some(Entry::Idle(conn)) = conns.get_mut(key) else { return };
    let was_empty = conn.buf.is_empty();
    let open = match conn.read_available() {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    };
    if let Some(intake) = &mut conn.intake {
        let taken = intake.absorb(&mut conn.buf);
        return body_taken(shared, conns, key, taken, open, reader);
    }
    if was_empty && !conn.buf.is_empty() {
        // A new request head began: it has the socket timeout to arrive whole.
        conn.since = Instant::now();
    }
    let parsed = {
        let Conn { buf, head, .. } = &mut **conn;
        parse_head_into(buf, &shared.limits, head)
    };
    match parsed {
        // Answered here, so it needs no free thread.
        Ok(Some(_)) if health::is_check(shared, &conn.head) => {
            if let Entry::Idle(mut conn) = conns.remove(key) {
                drop(conns);
                let _ = shared.registry.deregister(&mut conn.stream);
                let head = std::mem::take(&mut conn.head);
                health::answer(shared, &mut conn, &head);
            }
        }
        Ok(Some(used)) => {
            conn.buf.drain(..used);
            if intake::wanted(&shared.config, &conn.head) {
                let head = std::mem::take(&mut conn.head);
                let taken = intake::begin(conn, &head, shared.limits.max_body);
                conn.head = head;
                body_taken(shared, conns, key, taken, open, reader);
            } else {
                queue(shared, conns, key, reader);
            }
        }
        Ok(None) if open => {}
        Ok(None) => {
            if let Entry::Idle(mut conn) = conns.remove(key) {
                let _ = shared.registry.deregister(&mut conn.stream);
            }
        }
        Err(err) => drop_refused(shared, conns, key, &err),
    }
}

/// After part of a request body was taken in: queue the request once the body is whole,
/// refuse it when the body is bad, and drop a connection closed before its body was sent.
fn body_taken(
    shared: &Shared,
    mut conns: MutexGuard<'_, Slab<Entry>>,
    key: usize,
    taken: Result<bool, IntakeError>,
    open: bool,
    reader: Reader,
) {
    match taken {
        Ok(true) => queue(shared, conns, key, reader),
        Ok(false) if open => {}
        Ok(false) => {
            if let Entry::Idle(mut conn) = conns.remove(key) {
                let _ = shared.registry.deregister(&mut conn.stream);
                log::info(&format!("a client ({}) closed its connection before sending the whole request body", conn.peer));
            }
        }
        Err(err) => drop_refused(shared, conns, key, &err.response()),
    }
}

/// Hand the connection's complete request to the request threads, or, while the worker
/// stops, to its successor.
fn queue(shared: &Shared, mut conns: MutexGuard<'_, Slab<Entry>>, key: usize, reader: Reader) {
    let Entry::Idle(conn) = std::mem::replace(&mut conns[key], Entry::Busy { stirred: false }) else { return };
    drop(conns);
    shared.busy.fetch_add(1, Ordering::SeqCst);
    let job = match pass_request(shared, Job { key, conn, queued: Instant::now() }) {
        Ok(()) => return,
        Err(job) => job,
    };
    match reader {
        Reader::EventLoop => shared.jobs.push(job),
        Reader::ServingThread => shared.jobs.push_own(job),
    }
}

/// Pass a queued request to the successor (see [`crate::handoff`]); gives it back when
/// there is none or it cannot be passed now.
fn pass_request(shared: &Shared, mut job: Job) -> Result<(), Job> {
    let Some(sender) = shared.handoff.get() else { return Err(job) };
    let body = job.conn.intake.as_deref().map(Intake::stored);
    if sender.pass(&job.conn, Some(&job.conn.head), body).is_err() {
        return Err(job);
    }
    let _ = shared.registry.deregister(&mut job.conn.stream);
    lock(&shared.conns).try_remove(job.key);
    shared.busy.fetch_sub(1, Ordering::SeqCst);
    Ok(())
}

/// Take a connection in: registered with the poller and kept in `conns` under its token.
/// Returns that token.
fn admit(shared: &Shared, conns: &mut Slab<Entry>, mut conn: Box<Conn>) -> Option<usize> {
    let entry = conns.vacant_entry();
    let key = entry.key();
    shared.registry.register(&mut conn.stream, Token(key), Interest::READABLE).ok()?;
    entry.insert(Entry::Idle(conn));
    Some(key)
}

/// Carry on with a connection the stopping worker passed: its queued request goes to a
/// thread; otherwise its bytes are parsed as if just read.
fn adopt(shared: &Shared, passed: Passed) {
    let Passed { mut conn, request } = passed;
    if let Some((head, stored)) = request {
        if !matches!(parse_head_into(&head, &shared.limits, &mut conn.head), Ok(Some(_))) {
            // The other worker parsed it: only different limits could refuse it now.
            return;
        }
        conn.intake = Some(Box::new(Intake::whole(stored)));
        let mut conns = lock(&shared.conns);
        if let Some(key) = admit(shared, &mut conns, conn) {
            queue(shared, conns, key, Reader::EventLoop);
        }
        return;
    }
    let key = admit(shared, &mut lock(&shared.conns), conn);
    if let Some(key) = key {
        readable(shared, key, Reader::EventLoop);
    }
}

/// Answer the connection's request with `err` and close it.
fn drop_refused(shared: &Shared, mut conns: MutexGuard<'_, Slab<Entry>>, key: usize, err: &HttpError) {
    if let Entry::Idle(mut conn) = conns.remove(key) {
        drop(conns);
        let _ = shared.registry.deregister(&mut conn.stream);
        refuse(&mut conn, err, shared.config.socket_timeout);
    }
}
