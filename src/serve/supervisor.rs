//! The master process: bind once, run N workers on the shared socket, keep them running.
//!
//! A worker is the venv's python running `-m warp_server`; it inherits the listening socket
//! and gets its settings as JSON. A worker that dies is replaced (after a pause that grows
//! while workers keep dying young, so a broken app does not spin). SIGTERM, SIGINT and
//! SIGQUIT stop the workers gracefully within the shutdown timeout; SIGHUP replaces every
//! worker, starting the new one before stopping the old, so the socket is never unserved.
//! As PID 1 in a container the master also reaps orphans it did not start.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use warp_worker_config::{WorkerConfig, CONFIG_VAR};

use crate::appenv::AppEnv;
use crate::process::StatusText;

/// A worker that lived less than this is taken to have failed at startup.
const YOUNG: Duration = Duration::from_secs(2);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Everything the master needs.
pub struct Plan {
    /// The venv's interpreter.
    pub python: PathBuf,
    pub env: AppEnv,
    pub bind: SocketAddr,
    pub backlog: i32,
    pub processes: usize,
    /// Settings for every worker; `listen_fd` and `worker_id` are filled in per worker.
    pub worker: WorkerConfig,
}

/// A running worker, or the time its replacement is due.
enum Slot {
    Running { child: Child, started: Instant },
    Waiting { due: Instant },
}

struct Master {
    plan: Plan,
    slots: Vec<Slot>,
    /// Workers told to stop (on reload), waited for but not replaced.
    retiring: Vec<Child>,
    backoff: Duration,
}

/// Bind, start the workers, and supervise them until told to stop.
pub fn run(plan: Plan) -> Result<()> {
    let listener = bind(plan.bind, plan.backlog)?;
    // Each signal sets its flag and writes a byte to wake the loop below.
    let (mut wake, wake_writer) = UnixStream::pair().context("cannot create the signal pipe")?;
    wake.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let hangup = Arc::new(AtomicBool::new(false));
    for (signal, flag) in [
        (libc::SIGTERM, &stop),
        (libc::SIGINT, &stop),
        (libc::SIGQUIT, &stop),
        (libc::SIGHUP, &hangup),
    ] {
        signal_hook::flag::register(signal, flag.clone()).context("cannot install signal handlers")?;
    }
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGCHLD] {
        signal_hook::low_level::pipe::register(signal, wake_writer.try_clone()?).context("cannot install signal handlers")?;
    }
    let mut master = Master { slots: Vec::new(), retiring: Vec::new(), backoff: FIRST_BACKOFF, plan };
    master.plan.worker.listen_fd = listener.as_raw_fd();
    for id in 0..master.plan.processes {
        let child = master.spawn(id)?;
        master.slots.push(Slot::Running { child, started: Instant::now() });
    }
    loop {
        let timeout = master.next_due().map(|due| due.saturating_duration_since(Instant::now()));
        wait_readable(&wake, timeout)?;
        drain(&mut wake);
        if stop.load(Ordering::SeqCst) {
            return master.stop();
        }
        if hangup.swap(false, Ordering::SeqCst) {
            master.reload();
        }
        master.reap();
        master.respawn_due();
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
    // Workers inherit the socket across exec.
    nix::fcntl::fcntl(socket.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()))
        .context("cannot share the socket with workers")?;
    Ok(socket)
}

fn wait_readable(stream: &UnixStream, timeout: Option<Duration>) -> Result<()> {
    let timeout = match timeout {
        None => PollTimeout::NONE,
        Some(t) => PollTimeout::try_from(t.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX),
    };
    let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, timeout) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(e) => Err(e).context("waiting for signals failed"),
    }
}

fn drain(stream: &mut UnixStream) {
    let mut sink = [0u8; 64];
    while std::io::Read::read(stream, &mut sink).is_ok_and(|n| n > 0) {}
}

impl Master {
    fn spawn(&self, id: usize) -> Result<Child> {
        let mut config = self.plan.worker.clone();
        config.worker_id = id;
        let json = serde_json::to_string(&config).context("cannot encode worker settings")?;
        let mut cmd = Command::new(&self.plan.python);
        cmd.args(["-m", "warp_server"]).current_dir(&config.src).env(CONFIG_VAR, json);
        self.plan.env.apply(&mut cmd);
        cmd.spawn().with_context(|| format!("cannot start a worker with {}", self.plan.python.display()))
    }

    fn next_due(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|slot| match slot {
                Slot::Waiting { due } => Some(*due),
                Slot::Running { .. } => None,
            })
            .min()
    }

    /// Collect every exited child: workers are scheduled for replacement, orphans (when we
    /// are PID 1) are simply reaped.
    fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(status) => {
                    let Some(pid) = status.pid() else { return };
                    self.retiring.retain(|c| c.id() != pid.as_raw() as u32);
                    self.worker_exited(pid, status);
                }
            }
        }
    }

    fn worker_exited(&mut self, pid: Pid, status: WaitStatus) {
        let Some(index) = self.slots.iter().position(|s| matches!(s, Slot::Running { child, .. } if child.id() == pid.as_raw() as u32)) else {
            return;
        };
        let Slot::Running { started, .. } = &self.slots[index] else { return };
        let lived = started.elapsed();
        let text = match status {
            WaitStatus::Exited(_, code) => StatusText(std::process::ExitStatus::from_raw(code << 8)).to_string(),
            WaitStatus::Signaled(_, signal, _) => format!("was killed by {signal}"),
            other => format!("ended ({other:?})"),
        };
        self.backoff = if lived < YOUNG { (self.backoff * 2).min(MAX_BACKOFF) } else { FIRST_BACKOFF };
        let pause = if lived < YOUNG { self.backoff } else { Duration::ZERO };
        eprintln!(
            "[warp] [error] worker {index} (pid {pid}) {text} after {:.1}s; starting a new one in {:.1}s",
            lived.as_secs_f64(),
            pause.as_secs_f64()
        );
        self.slots[index] = Slot::Waiting { due: Instant::now() + pause };
    }

    fn respawn_due(&mut self) {
        let now = Instant::now();
        for id in 0..self.slots.len() {
            if matches!(self.slots[id], Slot::Waiting { due } if due <= now) {
                match self.spawn(id) {
                    Ok(child) => self.slots[id] = Slot::Running { child, started: Instant::now() },
                    Err(e) => {
                        eprintln!("[warp] [error] {e:#}; trying again in {:.1}s", MAX_BACKOFF.as_secs_f64());
                        self.slots[id] = Slot::Waiting { due: now + MAX_BACKOFF };
                    }
                }
            }
        }
    }

    /// Replace every worker: the new one starts before the old one is told to stop.
    fn reload(&mut self) {
        eprintln!("[warp] [info] SIGHUP: replacing every worker");
        for id in 0..self.slots.len() {
            let Ok(fresh) = self.spawn(id) else { continue };
            let old = std::mem::replace(&mut self.slots[id], Slot::Running { child: fresh, started: Instant::now() });
            if let Slot::Running { child, .. } = old {
                let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
                self.retiring.push(child);
            }
        }
    }

    /// Stop every worker gracefully, forcibly after the shutdown timeout (plus a margin
    /// for the worker's own exit).
    fn stop(mut self) -> Result<()> {
        let mut children: Vec<Child> = std::mem::take(&mut self.retiring);
        for slot in std::mem::take(&mut self.slots) {
            if let Slot::Running { child, .. } = slot {
                children.push(child);
            }
        }
        for child in &children {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        }
        let deadline = Instant::now() + self.plan.worker.shutdown_timeout + Duration::from_secs(1);
        while !children.is_empty() {
            children.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
            if Instant::now() >= deadline {
                for child in &mut children {
                    eprintln!("[warp] [error] worker pid {} did not stop in time: killing it", child.id());
                    let _ = child.kill();
                    let _ = child.wait();
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}
