//! The master process: bind once, run N workers on the shared socket, keep them running.
//!
//! A worker is the venv's python running `-m warp_server`; it inherits the listening socket
//! and a control channel (see `warp_worker_config::control`), and gets its settings as
//! JSON. Each worker slot holds the worker serving it and, while one is being replaced,
//! its successor: the old worker is told to stop only once the new one reports ready, so
//! the socket is never unserved and a reload whose new code fails to load leaves the old
//! code serving. With the order to stop, the old worker gets one end of a handoff channel
//! whose other end goes to the successor: the connections on which the old worker has not
//! started a request move over through it. Replacement happens on SIGHUP, on a change of
//! the source (with `--reload-on-changes`), and when a worker asks for it (a stuck
//! request, a recycling limit). A worker that dies is replaced after a pause that grows
//! while workers keep dying young, so a broken app does not spin; one that does not load
//! the app within the startup timeout is killed and retried. SIGTERM, SIGINT and SIGQUIT stop every worker
//! within the shutdown timeout. As PID 1 in a container the master also reaps orphans.
//! With `--metrics-port` each worker also gets a scoreboard the master reads its counts
//! from, and the master serves them (see [`super::monitor`]).
//!
//! Binding is a step of its own ([`listen`]), so that with port 0 the banner and the
//! workers' `SERVER_PORT` show the port the kernel chose. The port file, when asked for,
//! is written once the first worker reports ready, so whoever waits for it can connect at
//! once; a stale one is removed before binding, and ours on the way out.

use std::io::{IoSlice, Read};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use warp_worker_config::control::{Report, STOP, TAKEOVER};
use warp_worker_config::scoreboard::Scoreboard;
use warp_worker_config::{LogLevel, WorkerConfig, CONFIG_VAR};

use crate::appenv::AppEnv;
use crate::process::StatusText;
use crate::start::serve::monitor::{self, board::Board};
use crate::start::serve::pid1;
use crate::start::serve::privileges::{self, Credentials};
use crate::start::serve::watch;

/// A worker that lived less than this is taken to have failed at startup.
const YOUNG: Duration = Duration::from_secs(2);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Time a stopping worker gets beyond its own deadline to exit before it is killed.
const EXIT_MARGIN: Duration = Duration::from_secs(2);

/// Everything the master needs.
pub struct Plan {
    /// The venv's interpreter.
    pub python: PathBuf,
    pub env: AppEnv,
    pub bind: SocketAddr,
    pub backlog: i32,
    pub processes: usize,
    /// How long a new worker may take to load the app and report ready.
    pub startup_timeout: Duration,
    /// Reload the workers when a file under this folder changes.
    pub watch: Option<PathBuf>,
    /// Who the workers run as, when the master was started as root.
    pub credentials: Option<Credentials>,
    /// Where to write the port once the first worker is ready.
    pub port_file: Option<PathBuf>,
    /// Where to serve metrics and the status page (`--metrics-port`).
    pub metrics: Option<SocketAddr>,
    /// Settings for every worker; `listen_fd`, `control_fd`, `scoreboard_fd` and
    /// `worker_id` are filled in per worker.
    pub worker: WorkerConfig,
}

struct Worker {
    child: Child,
    /// The master's end of the control channel.
    control: UnixStream,
    started: Instant,
    ready: bool,
    /// Killed for overrunning a deadline, and not yet reaped.
    killed: bool,
    /// The worker closed its end of the channel (it is exiting): nothing more to read.
    hung_up: bool,
}

impl Worker {
    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }
}

/// One of the N places a worker serves from.
#[derive(Default)]
struct Slot {
    /// The worker serving (or, at first, loading).
    current: Option<Worker>,
    /// Its successor, loading.
    next: Option<Worker>,
    /// When to start a worker for this slot after a failure.
    due: Option<Instant>,
}

/// A worker told to stop, and when it is killed if it has not.
struct Leaving {
    worker: Worker,
    deadline: Instant,
}

struct Master {
    plan: Plan,
    listen_fd: i32,
    /// What the workers' scoreboards say, with `--metrics-port`.
    board: Option<Arc<Board>>,
    slots: Vec<Slot>,
    leaving: Vec<Leaving>,
    backoff: Duration,
    port_file: Option<PortFile>,
}

/// The bound listening sockets, before any worker runs: the app's, and the metrics'.
pub struct Listener {
    app: socket2::Socket,
    metrics: Option<std::net::TcpListener>,
}

/// Bind the plan's addresses. With port 0 the kernel picks a free port, and the plan is
/// updated to say which (its address and the workers' `SERVER_PORT`; the metrics address).
pub fn listen(plan: &mut Plan) -> Result<Listener> {
    if let Some(path) = &plan.port_file {
        PortFile::remove_stale(path)?;
    }
    let socket = bind(plan.bind, plan.backlog)?;
    let bound = socket.local_addr().ok().and_then(|a| a.as_socket()).context("cannot read the address the socket is bound to")?;
    plan.bind.set_port(bound.port());
    plan.worker.server_port = bound.port();
    let metrics = plan.metrics.map(monitor::bind).transpose()?;
    if let Some(listener) = &metrics {
        plan.metrics = Some(listener.local_addr().context("cannot read the address the metrics listener is bound to")?);
    }
    Ok(Listener { app: socket, metrics })
}

/// Start the workers on `listener`, and supervise them until told to stop.
pub fn run(plan: Plan, listener: Listener) -> Result<()> {
    let board = match listener.metrics {
        Some(metrics) => {
            let board = Arc::new(Board::new(plan.processes, plan.worker.threads.max(1)));
            monitor::spawn(metrics, board.clone())?;
            Some(board)
        }
        None => None,
    };
    let listener = listener.app;
    // Each signal sets its flag and writes a byte to wake the loop below.
    let (mut wake, wake_writer) = UnixStream::pair().context("cannot create the signal pipe")?;
    wake.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let hangup = Arc::new(AtomicBool::new(false));
    let changed = Arc::new(AtomicBool::new(false));
    for (signal, flag) in [(libc::SIGTERM, &stop), (libc::SIGINT, &stop), (libc::SIGQUIT, &stop), (libc::SIGHUP, &hangup)] {
        signal_hook::flag::register(signal, flag.clone()).context("cannot install signal handlers")?;
    }
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGCHLD] {
        signal_hook::low_level::pipe::register(signal, wake_writer.try_clone()?).context("cannot install signal handlers")?;
    }
    // From here a stop is graceful, also for PID 1.
    pid1::handled();
    if let Some(root) = plan.watch.clone() {
        let (changed, wake_writer) = (changed.clone(), wake_writer.try_clone()?);
        let records = plan.worker.recorder.iter().map(|recorder| PathBuf::from(&recorder.dir)).collect();
        watch::spawn(root, records, move || {
            changed.store(true, Ordering::SeqCst);
            // A full pipe already means "wake up".
            let _ = std::io::Write::write(&mut &wake_writer, b"w");
        })?;
    }
    let port_file = plan.port_file.clone().map(|path| PortFile { path, written: None });
    let mut master =
        Master { listen_fd: listener.as_raw_fd(), board, slots: Vec::new(), leaving: Vec::new(), backoff: FIRST_BACKOFF, plan, port_file };
    for id in 0..master.plan.processes {
        let worker = master.spawn(id)?;
        master.slots.push(Slot { current: Some(worker), ..Slot::default() });
    }
    loop {
        master.wait(&wake)?;
        drain(&mut wake);
        if stop.load(Ordering::SeqCst) {
            return master.stop();
        }
        if hangup.swap(false, Ordering::SeqCst) {
            master.reload("SIGHUP", "graceful_signal");
        }
        if changed.swap(false, Ordering::SeqCst) {
            master.reload("source changed", "source_changed");
        }
        if let Err(e) = master.read_reports() {
            master.stop()?;
            return Err(e);
        }
        master.reap();
        master.enforce_deadlines();
        master.start_due();
    }
}

fn bind(addr: SocketAddr, backlog: i32) -> Result<socket2::Socket> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).context("cannot create a socket")?;
    socket.set_reuse_address(true)?;
    socket
        .bind(&addr.into())
        .with_context(|| format!("cannot listen on {addr}: is another server using that port? pick one with --port"))?;
    socket.listen(backlog).with_context(|| format!("cannot listen on {addr}"))?;
    inheritable(socket.as_raw_fd()).context("cannot share the socket with workers")?;
    Ok(socket)
}

/// The port file: one line with the port number.
struct PortFile {
    path: PathBuf,
    /// What this master wrote, removed when it ends (unless another master has since
    /// written its own).
    written: Option<String>,
}

impl PortFile {
    /// A file left by an earlier run would give a waiting script the wrong port.
    fn remove_stale(path: &Path) -> Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e)
                .with_context(|| format!("cannot remove the old port file {}: remove it, or choose another --port-file", path.display())),
            _ => Ok(()),
        }
    }

    /// Write beside the final name and rename, so a reader sees the whole line or nothing.
    fn write(&mut self, port: u16) -> Result<()> {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = self.path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let line = format!("{port}\n");
        let written = std::fs::write(&temp, &line).and_then(|()| std::fs::rename(&temp, &self.path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written.with_context(|| {
            format!("cannot write the port file {}: choose a --port-file in a folder warp can write to", self.path.display())
        })?;
        self.written = Some(line);
        Ok(())
    }
}

impl Drop for PortFile {
    fn drop(&mut self) {
        if self.written.is_some() && std::fs::read_to_string(&self.path).ok() == self.written {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Tell `old` to stop, and give it and its `successor` the two ends of a handoff channel,
/// through which `old` passes the connections it has not started a request on. Without the
/// channel (no socket pair to be had) `old` simply stops.
fn hand_over(old: &Worker, successor: &Worker) {
    let pair = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).ok();
    let passing = pair.and_then(|(ours, theirs)| send_line(&successor.control, TAKEOVER, Some(theirs)).ok().map(|()| ours));
    let _ = send_line(&old.control, STOP, passing);
}

/// Send a control line, with a descriptor when given (which is then closed here).
fn send_line(stream: &UnixStream, line: &[u8], fd: Option<OwnedFd>) -> nix::Result<()> {
    let fds: Vec<RawFd> = fd.iter().map(AsRawFd::as_raw_fd).collect();
    let rights = [ControlMessage::ScmRights(&fds)];
    let cmsgs = if fds.is_empty() { &rights[..0] } else { &rights[..] };
    sendmsg::<()>(stream.as_raw_fd(), &[IoSlice::new(line)], cmsgs, MsgFlags::empty(), None).map(drop)
}

/// Let a descriptor survive exec, so a worker inherits it.
fn inheritable(fd: i32) -> nix::Result<i32> {
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()))
}

fn drain(stream: &mut UnixStream) {
    let mut sink = [0u8; 64];
    while stream.read(&mut sink).is_ok_and(|n| n > 0) {}
}

impl Master {
    fn say(&self, level: LogLevel, message: &str) {
        if level >= self.plan.worker.log_level {
            eprintln!("[warp] [{}] {message}", level.as_str());
        }
    }

    fn spawn(&self, id: usize) -> Result<Worker> {
        let (control, worker_end) = UnixStream::pair().context("cannot create a worker's control channel")?;
        control.set_nonblocking(true)?;
        inheritable(worker_end.as_raw_fd()).context("cannot share the control channel with a worker")?;
        let mut config = self.plan.worker.clone();
        config.worker_id = id;
        config.listen_fd = self.listen_fd;
        config.control_fd = worker_end.as_raw_fd();
        let scoreboard = match &self.board {
            Some(board) => {
                let (scoreboard, fd) = Scoreboard::create(board.threads()).context("cannot create a worker's scoreboard")?;
                inheritable(fd.as_raw_fd()).context("cannot share the scoreboard with a worker")?;
                config.scoreboard_fd = fd.as_raw_fd();
                Some((scoreboard, fd))
            }
            None => None,
        };
        let json = serde_json::to_string(&config).context("cannot encode worker settings")?;
        let mut cmd = Command::new(&self.plan.python);
        cmd.args(["-m", "warp_server"]).current_dir(&config.src).env(CONFIG_VAR, json);
        self.plan.env.apply(&mut cmd);
        if let Some(creds) = &self.plan.credentials {
            privileges::apply(&mut cmd, creds);
        }
        let child = cmd.spawn().with_context(|| match &self.plan.credentials {
            Some(creds) => format!(
                "cannot start a worker as {} with {}: that user needs read and execute access to the venv, its Python and the app",
                creds.name,
                self.plan.python.display()
            ),
            None => format!("cannot start a worker with {}", self.plan.python.display()),
        })?;
        // The worker has its copy; ours closes here, so the worker's end sees EOF when the
        // master goes away.
        drop(worker_end);
        if let (Some(board), Some((scoreboard, _fd))) = (&self.board, scoreboard) {
            board.attach(id, child.id() as i32, scoreboard);
        }
        Ok(Worker { child, control, started: Instant::now(), ready: false, killed: false, hung_up: false })
    }

    fn workers(&self) -> impl Iterator<Item = &Worker> {
        self.slots.iter().flat_map(|slot| slot.current.iter().chain(slot.next.iter())).chain(self.leaving.iter().map(|l| &l.worker))
    }

    /// Sleep until a signal, a report from a worker, or the next deadline.
    fn wait(&self, wake: &UnixStream) -> Result<()> {
        let now = Instant::now();
        let startup = self.workers().filter(|w| !w.ready && !w.killed).map(|w| w.started + self.plan.startup_timeout);
        let deadline = self.slots.iter().filter_map(|slot| slot.due).chain(self.leaving.iter().map(|l| l.deadline)).chain(startup).min();
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(at) => {
                PollTimeout::try_from(at.saturating_duration_since(now).as_millis().clamp(1, 60_000) as i32).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds: Vec<PollFd<'_>> = std::iter::once(wake.as_fd())
            .chain(self.workers().filter(|w| !w.hung_up).map(|w| w.control.as_fd()))
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(e).context("waiting for signals failed"),
        }
    }

    /// Act on what the workers said: a ready successor takes over its slot; a worker
    /// asking to retire gets a successor. The first worker ready writes the port file.
    fn read_reports(&mut self) -> Result<()> {
        for id in 0..self.slots.len() {
            for role in [Role::Current, Role::Next] {
                let Some(worker) = self.slots[id].get_mut(role) else { continue };
                for report in read_lines(worker) {
                    match report.parse::<Report>() {
                        Ok(Report::Ready) => self.ready(id, role),
                        Ok(Report::Retire(reason)) if role == Role::Current => {
                            let pid = self.slots[id].current.as_ref().map(Worker::pid);
                            self.restarted(id, pid, reason.as_str());
                            self.say(
                                LogLevel::Info,
                                &format!(
                                    "worker {id} (pid {}) asks to be replaced ({}); starting its successor",
                                    fmt_pid(pid),
                                    reason.as_str()
                                ),
                            );
                            self.start_successor(id);
                        }
                        Ok(Report::Retire(_)) => {}
                        Err(e) => self.say(LogLevel::Warning, &format!("worker {id}: {e}")),
                    }
                }
            }
        }
        // Leaving workers may still write; their reports no longer matter.
        for leaving in &mut self.leaving {
            read_lines(&mut leaving.worker);
        }
        let any_ready = self.workers().any(|w| w.ready);
        match &mut self.port_file {
            Some(file) if any_ready && file.written.is_none() => file.write(self.plan.bind.port()),
            _ => Ok(()),
        }
    }

    fn ready(&mut self, id: usize, role: Role) {
        let graceful = self.plan.worker.graceful_timeout;
        let slot = &mut self.slots[id];
        let Some(worker) = slot.get_mut(role) else { return };
        worker.ready = true;
        let (pid, took) = (worker.pid(), worker.started.elapsed());
        self.backoff = FIRST_BACKOFF;
        if role == Role::Current {
            self.say(LogLevel::Info, &format!("worker {id} (pid {pid}) ready in {:.2}s", took.as_secs_f64()));
            return;
        }
        let successor = slot.next.take();
        let old = std::mem::replace(&mut slot.current, successor);
        let Some(old) = old else {
            self.say(LogLevel::Info, &format!("worker {id} (pid {pid}) ready in {:.2}s", took.as_secs_f64()));
            return;
        };
        self.say(
            LogLevel::Info,
            &format!(
                "worker {id} (pid {pid}) ready in {:.2}s; pid {} stops accepting and finishes its requests",
                took.as_secs_f64(),
                old.pid()
            ),
        );
        if old.ready {
            if let Some(successor) = &self.slots[id].current {
                hand_over(&old, successor);
            }
            self.leaving.push(Leaving { worker: old, deadline: Instant::now() + graceful + EXIT_MARGIN });
        } else {
            // Still loading: nothing in flight to wait for.
            let _ = kill(old.pid(), Signal::SIGKILL);
            self.leaving.push(Leaving { worker: old, deadline: Instant::now() + EXIT_MARGIN });
        }
    }

    /// Start a successor for slot `id` unless one is loading already.
    fn start_successor(&mut self, id: usize) {
        if self.slots[id].next.is_some() {
            return;
        }
        match self.spawn(id) {
            Ok(worker) if self.slots[id].current.is_some() => self.slots[id].next = Some(worker),
            Ok(worker) => self.slots[id].current = Some(worker),
            Err(e) => {
                self.say(LogLevel::Error, &format!("{e:#}; trying again in {:.1}s", MAX_BACKOFF.as_secs_f64()));
                self.slots[id].due = Some(Instant::now() + MAX_BACKOFF);
            }
        }
    }

    /// A worker of slot `id` is being replaced, for the metrics.
    fn restarted(&self, id: usize, pid: Option<Pid>, reason: &'static str) {
        if let (Some(board), Some(pid)) = (&self.board, pid) {
            board.restart(id, pid.as_raw(), reason);
        }
    }

    /// Replace every worker, each old one serving until its successor is ready.
    fn reload(&mut self, why: &str, reason: &'static str) {
        self.say(LogLevel::Info, &format!("{why}: replacing every worker"));
        for id in 0..self.slots.len() {
            self.restarted(id, self.slots[id].current.as_ref().map(Worker::pid), reason);
            if let Some(mut stale) = self.slots[id].next.take() {
                // A successor loading the old code: start over with the new.
                let _ = stale.child.kill();
                self.leaving.push(Leaving { worker: stale, deadline: Instant::now() + EXIT_MARGIN });
            }
            self.start_successor(id);
        }
    }

    /// Collect every exited child: workers are scheduled for replacement, orphans (when we
    /// are PID 1) are simply reaped.
    fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(status) => {
                    let Some(pid) = status.pid() else { return };
                    self.exited(pid, status);
                }
            }
        }
    }

    fn exited(&mut self, pid: Pid, status: WaitStatus) {
        if let Some(board) = &self.board {
            board.detach(pid.as_raw());
        }
        if let Some(at) = self.leaving.iter().position(|l| l.worker.pid() == pid) {
            self.leaving.swap_remove(at);
            return;
        }
        let found = self.slots.iter().enumerate().find_map(|(id, slot)| {
            [Role::Current, Role::Next].into_iter().find(|role| slot.get(*role).is_some_and(|w| w.pid() == pid)).map(|role| (id, role))
        });
        let Some((id, role)) = found else { return };
        let Some(worker) = self.slots[id].take(role) else { return };
        let lived = worker.started.elapsed();
        let text = match status {
            WaitStatus::Exited(_, code) => StatusText(std::process::ExitStatus::from_raw(code << 8)).to_string(),
            WaitStatus::Signaled(_, signal, _) => format!("was killed by {signal}"),
            other => format!("ended ({other:?})"),
        };
        let reason = match (worker.ready, worker.killed) {
            (true, _) => "crashed",
            (false, true) => "startup_timeout",
            (false, false) => "failed_to_start",
        };
        self.restarted(id, Some(pid), reason);
        let failed_young = !worker.ready || lived < YOUNG;
        self.backoff = if failed_young { (self.backoff * 2).min(MAX_BACKOFF) } else { FIRST_BACKOFF };
        let pause = if failed_young { self.backoff } else { Duration::ZERO };
        let what = if worker.ready { "" } else { " before it was ready" };
        let slot = &mut self.slots[id];
        if role == Role::Current {
            // A loading successor takes the slot over as it is.
            slot.current = slot.next.take();
        }
        // A dead successor is retried while the old worker goes on serving.
        let again = slot.current.is_none() || role == Role::Next;
        if again {
            slot.due = Some(Instant::now() + pause);
        }
        let then = if again { format!("; starting another in {:.1}s", pause.as_secs_f64()) } else { String::new() };
        self.say(LogLevel::Error, &format!("worker {id} (pid {pid}) {text}{what} after {:.1}s{then}", lived.as_secs_f64()));
    }

    /// Kill workers that overran: loading past the startup timeout, or stopping past
    /// their deadline. Reaping them then schedules their replacements.
    fn enforce_deadlines(&mut self) {
        let now = Instant::now();
        let startup = self.plan.startup_timeout;
        let mut late = Vec::new();
        for (id, slot) in self.slots.iter_mut().enumerate() {
            for worker in slot.current.iter_mut().chain(slot.next.iter_mut()) {
                if !worker.ready && !worker.killed && now >= worker.started + startup {
                    late.push(format!(
                        "worker {id} (pid {}) did not load the app within the startup timeout ({}s); killing it",
                        worker.pid(),
                        startup.as_secs_f64()
                    ));
                    let _ = worker.child.kill();
                    worker.killed = true;
                }
            }
        }
        for leaving in &mut self.leaving {
            if now >= leaving.deadline {
                late.push(format!("worker pid {} did not stop in time; killing it", leaving.worker.pid()));
                let _ = leaving.worker.child.kill();
                leaving.deadline = now + EXIT_MARGIN;
            }
        }
        for message in late {
            self.say(LogLevel::Error, &message);
        }
    }

    fn start_due(&mut self) {
        let now = Instant::now();
        for id in 0..self.slots.len() {
            if self.slots[id].due.is_some_and(|due| due <= now) {
                self.slots[id].due = None;
                self.start_successor(id);
            }
        }
    }

    /// Stop every worker gracefully, forcibly after the shutdown timeout (plus a margin
    /// for the worker's own exit).
    fn stop(mut self) -> Result<()> {
        // Nobody should start talking to a server on its way out.
        drop(self.port_file.take());
        // Whole workers, not just their processes: their control channels stay open, so
        // they stop for the signal rather than for a vanished master.
        let mut workers: Vec<Worker> = self.leaving.drain(..).map(|l| l.worker).collect();
        for slot in std::mem::take(&mut self.slots) {
            workers.extend(slot.current.into_iter().chain(slot.next));
        }
        for worker in &workers {
            let _ = kill(worker.pid(), Signal::SIGTERM);
        }
        let deadline = Instant::now() + self.plan.worker.shutdown_timeout + Duration::from_secs(1);
        while !workers.is_empty() {
            workers.retain_mut(|w| matches!(w.child.try_wait(), Ok(None)));
            if Instant::now() >= deadline {
                for worker in &mut workers {
                    self.say(LogLevel::Error, &format!("worker pid {} did not stop in time: killing it", worker.pid()));
                    let _ = worker.child.kill();
                    let _ = worker.child.wait();
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Current,
    Next,
}

impl Slot {
    fn get(&self, role: Role) -> Option<&Worker> {
        match role {
            Role::Current => self.current.as_ref(),
            Role::Next => self.next.as_ref(),
        }
    }

    fn get_mut(&mut self, role: Role) -> Option<&mut Worker> {
        match role {
            Role::Current => self.current.as_mut(),
            Role::Next => self.next.as_mut(),
        }
    }

    fn take(&mut self, role: Role) -> Option<Worker> {
        match role {
            Role::Current => self.current.take(),
            Role::Next => self.next.take(),
        }
    }
}

/// The lines a worker has written since the last look. Each report is one short write,
/// so lines do not arrive split.
fn read_lines(worker: &mut Worker) -> Vec<String> {
    let mut text = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match worker.control.read(&mut buf) {
            Ok(0) => {
                worker.hung_up = true;
                break;
            }
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&text).lines().map(str::to_owned).collect()
}

fn fmt_pid(pid: Option<Pid>) -> String {
    pid.map_or_else(|| "?".to_owned(), |p| p.to_string())
}

#[cfg(test)]
mod tests {
    use super::PortFile;

    #[test]
    fn the_port_file_is_one_line_replaced_whole_and_removed_only_while_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("port");
        std::fs::write(&path, "1\n").unwrap();
        PortFile::remove_stale(&path).unwrap();
        assert!(!path.exists());
        PortFile::remove_stale(&path).unwrap();

        let mut file = PortFile { path: path.clone(), written: None };
        file.write(8123).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "8123\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["port"], "no temporary file is left");
        drop(file);
        assert!(!path.exists(), "removed when the master ends");

        // Another master wrote its own since: that one stays.
        let mut file = PortFile { path: path.clone(), written: None };
        file.write(8123).unwrap();
        std::fs::write(&path, "9000\n").unwrap();
        drop(file);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "9000\n");

        let mut nowhere = PortFile { path: dir.path().join("missing/port"), written: None };
        let err = nowhere.write(8123).unwrap_err();
        assert!(format!("{err:#}").starts_with("cannot write the port file "), "{err:#}");
        assert!(nowhere.written.is_none());
    }
}
