//! Running a program that is the server itself: the app's own script, a Procfile line, or
//! another WSGI server.
//!
//! warp does not become the program: it stays as a small supervisor, because a program is
//! often more than one process. A Procfile line such as `flask db upgrade; gunicorn app:app`
//! runs under `/bin/sh -c`, and a SIGTERM that reaches only the shell ends the shell while
//! gunicorn goes on serving, orphaned, with the port still bound. So:
//!
//! - The program runs in a process group of its own, and every signal warp gets that a
//!   server acts on is passed to that whole group, as a terminal does with Ctrl-C.
//! - A stop signal (SIGTERM, SIGINT, SIGQUIT) gives the program the shutdown timeout (and a
//!   short margin, so a server given the same timeout ends by itself first); then the group
//!   gets SIGKILL.
//! - When the program's first process ends by itself, whatever it left in its group gets
//!   SIGTERM, then SIGKILL after the shutdown timeout: nothing of the program outlives warp.
//! - warp's exit status is the first process's (128 + the signal's number when a signal
//!   ended it).
//! - warp is the reaper of the program's orphans (a child subreaper; as PID 1 it is anyway:
//!   the kernel gives PID 1 every orphan and no default signal actions, so a program that
//!   never handles SIGTERM still stops on `docker stop`).
//!
//! At a terminal, where warp runs in the foreground, the program's group is made the
//! terminal's foreground group: Ctrl-C and Ctrl-Z reach the program directly and it can read
//! the terminal (a debugger's prompt). warp takes the terminal back when the program ends
//! or is stopped; Ctrl-Z stops warp too, and `fg` continues both.

use std::io::{IsTerminal, Stdin};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::signal::{kill, pthread_sigmask, raise, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpgrp, setpgid, tcgetpgrp, tcsetpgrp, Pid};

/// The signals passed on to the program: those used to stop, reload or query a server.
const FORWARDED: [i32; 7] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH];
/// Those of them that stop it.
const STOP: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];
/// Time a stopping program gets beyond the shutdown timeout before it is killed.
const EXIT_MARGIN: Duration = Duration::from_secs(1);

/// Run `cmd` as the program, supervised, until it and its process group have ended;
/// returns the exit code warp should end with. A stop gets `shutdown_timeout`.
pub fn run(mut cmd: Command, shutdown_timeout: Duration) -> Result<i32> {
    // Registered before the spawn, so a signal arriving in between is not lost.
    let mut signals = FORWARDED.to_vec();
    signals.push(libc::SIGCHLD);
    let mut signals = signal_hook::iterator::Signals::new(signals).context("cannot install signal handlers")?;
    // Stop signals are the program's from here on (see `pid1`).
    super::pid1::handled();
    nix::sys::prctl::set_child_subreaper(true).context("cannot become the reaper of the program's orphans")?;
    let terminal = Terminal::in_foreground();
    cmd.process_group(0);
    if terminal.is_some() {
        take_terminal_at_exec(&mut cmd);
    }
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            // The child may have taken the terminal before its exec failed.
            if let Some(terminal) = &terminal {
                terminal.reclaim();
            }
            return Err(e).with_context(|| format!("cannot run {}", cmd.get_program().to_string_lossy()));
        }
    };
    let group = Pid::from_raw(i32::try_from(child.id()).context("a child's pid is out of range")?);
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if sender.send(signal).is_err() {
                break;
            }
        }
    });
    let mut program = Program { group, terminal, shutdown_timeout, status: None, stopping: Stopping::No };
    let code = program.supervise(&received);
    if let Some(terminal) = &program.terminal {
        terminal.take_back(group);
    }
    code
}

/// The program's process group, led by its first process.
struct Program {
    group: Pid,
    terminal: Option<Terminal>,
    shutdown_timeout: Duration,
    /// The exit code of the first process, once it has ended.
    status: Option<i32>,
    stopping: Stopping,
}

/// How far the group is in being stopped.
enum Stopping {
    No,
    /// Told to stop: killed at this instant unless it has ended.
    KillAt(Instant),
    /// Killed: what is left is only waiting to be reaped.
    Killed,
}

impl Program {
    fn supervise(&mut self, signals: &Receiver<i32>) -> Result<i32> {
        loop {
            self.reap()?;
            if let Some(code) = self.status {
                if self.group_is_empty() {
                    return Ok(code);
                }
                if matches!(self.stopping, Stopping::No) {
                    self.signal(Signal::SIGTERM);
                    self.stopping = Stopping::KillAt(Instant::now() + self.shutdown_timeout);
                }
            }
            let next = match self.stopping {
                Stopping::KillAt(at) => signals.recv_timeout(at.saturating_duration_since(Instant::now())),
                Stopping::No | Stopping::Killed => signals.recv().map_err(RecvTimeoutError::from),
            };
            match next {
                Ok(libc::SIGCHLD) => {}
                Ok(signal) => {
                    if let Ok(signal) = Signal::try_from(signal) {
                        self.signal(signal);
                    }
                    if STOP.contains(&signal) && matches!(self.stopping, Stopping::No) {
                        self.stopping = Stopping::KillAt(Instant::now() + self.shutdown_timeout + EXIT_MARGIN);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let timeout = self.shutdown_timeout.as_secs_f64();
                    eprintln!("warp: the program did not stop within the shutdown timeout ({timeout}s): killing its process group");
                    self.signal(Signal::SIGKILL);
                    self.stopping = Stopping::Killed;
                }
                Err(RecvTimeoutError::Disconnected) => anyhow::bail!("the signal handler of warp stopped"),
            }
        }
    }

    /// Reap every child that has ended: the first process, and orphans handed to warp.
    fn reap(&mut self) -> Result<()> {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG | WaitPidFlag::WUNTRACED)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == self.group => self.status = Some(code),
                Ok(WaitStatus::Signaled(pid, signal, _)) if pid == self.group => self.status = Some(128 + signal as i32),
                Ok(WaitStatus::Stopped(pid, _)) if pid == self.group => self.stopped(),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(()),
                // An orphan reaped, or one stopped.
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e).context("waiting for the program failed"),
            }
        }
    }

    /// The program was stopped (Ctrl-Z at the terminal): stop warp as well, so the shell
    /// sees its job stopped, and carry on with both when warp is continued.
    fn stopped(&self) {
        let Some(terminal) = &self.terminal else { return };
        terminal.take_back(self.group);
        let _ = raise(Signal::SIGSTOP);
        terminal.hand_over(self.group);
        self.signal(Signal::SIGCONT);
    }

    fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(-self.group.as_raw()), signal);
    }

    /// No process is left in the group. Its zombies count until reaped, and every one is
    /// warp's to reap or a live member's.
    fn group_is_empty(&self) -> bool {
        kill(Pid::from_raw(-self.group.as_raw()), None) == Err(Errno::ESRCH)
    }
}

/// The terminal on standard input, while warp is its foreground process group.
struct Terminal {
    stdin: Stdin,
    /// warp's own process group.
    own: Pid,
}

impl Terminal {
    fn in_foreground() -> Option<Terminal> {
        let stdin = std::io::stdin();
        let own = getpgrp();
        (stdin.is_terminal() && tcgetpgrp(stdin.as_fd()) == Ok(own)).then_some(Terminal { stdin, own })
    }

    /// Give the terminal to `group`, when warp has it (not after `bg`).
    fn hand_over(&self, group: Pid) {
        if tcgetpgrp(self.stdin.as_fd()) == Ok(self.own) {
            let _ = tcsetpgrp(self.stdin.as_fd(), group);
        }
    }

    /// Take the terminal back from `group`, when that group has it.
    fn take_back(&self, group: Pid) {
        if tcgetpgrp(self.stdin.as_fd()) == Ok(group) {
            self.reclaim();
        }
    }

    /// Make warp's group the terminal's foreground group again.
    fn reclaim(&self) {
        // warp is in the background now: without SIGTTOU blocked, the kernel would stop it.
        with_sigttou_blocked(|| {
            let _ = tcsetpgrp(self.stdin.as_fd(), self.own);
        });
    }
}

/// Run `f` with SIGTTOU blocked in this thread, so a process outside the terminal's
/// foreground group may set that group.
fn with_sigttou_blocked(f: impl FnOnce()) {
    let mut sigttou = SigSet::empty();
    sigttou.add(Signal::SIGTTOU);
    let mut old = SigSet::empty();
    let blocked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&sigttou), Some(&mut old)).is_ok();
    f();
    if blocked {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
}

/// Have the program make its own group the terminal's foreground group before it runs, so
/// not even its first read of the terminal comes too early.
fn take_terminal_at_exec(cmd: &mut Command) {
    let hook = || {
        // SAFETY: fd 0 is open in the child for the whole call: it is the terminal the
        // parent saw on its standard input, inherited.
        let stdin = unsafe { BorrowedFd::borrow_raw(0) };
        // Its own group first, whichever order the standard library applies process_group in.
        let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
        // As in `with_sigttou_blocked`, with the call that is async-signal-safe.
        let mut sigttou = SigSet::empty();
        sigttou.add(Signal::SIGTTOU);
        let mut old = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&sigttou), Some(&mut old))?;
        let _ = tcsetpgrp(stdin, getpgrp());
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
        Ok(())
    };
    // SAFETY: the hook runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed. It makes only system calls (setpgid, getpgrp,
    // sigprocmask, tcsetpgrp's ioctl) and sigemptyset/sigaddset on values on its stack,
    // allocating nothing and taking no lock.
    unsafe {
        cmd.pre_exec(hook);
    }
}
