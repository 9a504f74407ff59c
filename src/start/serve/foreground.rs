//! Running a program that is the server itself: the app's own script, or another WSGI server.
//!
//! Normally warp simply becomes the program (exec), so signals and the exit status are the
//! program's own. As PID 1, a container's first process, that is not enough: the kernel
//! gives PID 1 no default signal actions (a program that never installed a SIGTERM handler
//! would ignore `docker stop`) and makes it the parent of every orphan. So there warp stays
//! as a minimal init: it forwards signals to the program, reaps every child that exits, and
//! exits with the program's status (128 + the signal's number when a signal ended it).

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

/// The signals passed on to the program: those used to stop, reload or query a server.
const FORWARDED: [i32; 7] =
    [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH];

/// Run `cmd` in warp's place; returns the exit code warp should end with.
pub fn run(mut cmd: Command) -> Result<i32> {
    if !super::pid1::is_init() {
        let err = cmd.exec();
        return Err(err).with_context(|| format!("cannot run {}", cmd.get_program().to_string_lossy()));
    }
    // Registered before the spawn, so a signal arriving in between is not lost.
    let mut signals = signal_hook::iterator::Signals::new(FORWARDED).context("cannot install signal handlers")?;
    // Stop signals are the program's from here on (see `pid1`).
    super::pid1::handled();
    let child = cmd.spawn().with_context(|| format!("cannot run {}", cmd.get_program().to_string_lossy()))?;
    let pid = Pid::from_raw(i32::try_from(child.id()).context("a child's pid is out of range")?);
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if let Ok(signal) = Signal::try_from(signal) {
                let _ = kill(pid, signal);
            }
        }
    });
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(who, code)) if who == pid => return Ok(code),
            Ok(WaitStatus::Signaled(who, signal, _)) if who == pid => return Ok(128 + signal as i32),
            // An orphan handed to PID 1, now reaped.
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("waiting for the server process failed"),
        }
    }
}
