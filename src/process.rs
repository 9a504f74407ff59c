//! Running child processes whose output the user should see and errors should quote.
//!
//! Output is passed on line by line as it arrives (stdout and stderr alike) and the last
//! lines are kept, so a failure can show what the child said without a second run.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;

/// How many of a child's last output lines a failure quotes.
pub const TAIL_LINES: usize = 25;

/// What a finished child left behind.
pub struct Finished {
    pub status: ExitStatus,
    /// Standard output, when the caller asked for it to be captured instead of passed on.
    pub stdout: String,
    /// The last [`TAIL_LINES`] lines the child printed (both streams).
    pub tail: Vec<String>,
}

/// A child that ran and did not succeed.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed: {program} {status}{}", render_tail(.tail))]
pub struct ChildFailed {
    /// The task the child was doing, such as "installing from requirements.txt".
    pub what: String,
    /// The child as the user knows it: "pip", ".warp/action_hooks/build".
    pub program: String,
    pub status: StatusText,
    pub tail: Vec<String>,
}

/// An exit status as a person reads it: "exited with code 3", "was killed by signal 9".
#[derive(Debug, Clone, Copy)]
pub struct StatusText(pub ExitStatus);

impl fmt::Display for StatusText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::os::unix::process::ExitStatusExt;
        match (self.0.code(), self.0.signal()) {
            (Some(code), _) => write!(f, "exited with code {code}"),
            (None, Some(sig)) => write!(f, "was killed by signal {sig}"),
            _ => write!(f, "ended with {}", self.0),
        }
    }
}

fn render_tail(tail: &[String]) -> String {
    if tail.is_empty() {
        return String::new();
    }
    let mut out = String::from("; its last output:");
    for line in tail {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

impl Finished {
    /// Turn an unsuccessful run of `program` into a [`ChildFailed`] naming the task.
    pub fn check(self, what: &str, program: &str) -> Result<Finished, ChildFailed> {
        if self.status.success() {
            Ok(self)
        } else {
            Err(ChildFailed { what: what.to_owned(), program: program.to_owned(), status: StatusText(self.status), tail: self.tail })
        }
    }
}

/// Run `cmd` to completion, handing every output line to `on_line` as it arrives.
///
/// With `capture_stdout`, standard output is collected into [`Finished::stdout`] instead of
/// being passed on (used for hooks whose output is data, such as `build-env`).
pub fn run(cmd: &mut Command, capture_stdout: bool, on_line: &(dyn Fn(&str) + Sync)) -> io::Result<Finished> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take().expect("stdout was piped");
    let stderr = child.stderr.take().expect("stderr was piped");
    let tail = Mutex::new(VecDeque::with_capacity(TAIL_LINES));
    let remember = |line: &str| {
        let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_owned());
    };
    let pass_on = |line: &str| {
        remember(line);
        on_line(line);
    };
    let mut captured = String::new();
    let status = std::thread::scope(|scope| -> io::Result<ExitStatus> {
        let err_reader = scope.spawn(|| each_line(stderr, pass_on));
        if capture_stdout {
            each_line(stdout, |line| {
                remember(line);
                captured.push_str(line);
                captured.push('\n');
            })?;
        } else {
            each_line(stdout, pass_on)?;
        }
        err_reader.join().unwrap_or(Ok(()))?;
        child.wait()
    })?;
    let tail = tail.into_inner().unwrap_or_else(|e| e.into_inner()).into();
    Ok(Finished { status, stdout: captured, tail })
}

fn each_line(stream: impl Read, mut f: impl FnMut(&str)) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&buf);
        f(line.trim_end_matches(['\n', '\r']));
    }
}

/// What `git -C dir ARGS` prints, trimmed; `None` when git is missing, fails or prints
/// nothing (a folder that is no repository, a repository without commits).
pub fn git_text(dir: &std::path::Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}
