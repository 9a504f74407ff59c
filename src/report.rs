//! Progress reporting as a trait: libraries say what happens, the CLI decides how it looks.
//!
//! Nothing in the library knows about terminals. The CLI implements [`Reporter`] with
//! spinners on a terminal and plain lines elsewhere; tests read the plain lines.

use std::time::{Duration, Instant};

/// Receives the events of a long-running command.
pub trait Reporter: Sync {
    /// A step begins; it ends with [`Reporter::step_done`] or the command's error.
    fn step(&self, what: &str);
    /// The current step finished; `outcome` is a short past-tense summary.
    fn step_done(&self, outcome: &str, elapsed: Duration);
    /// A line that the app's own code (an action hook, a Django command) printed: always shown.
    fn output(&self, line: &str);
    /// A line of a tool's chatter (an installer's): shown only as live progress.
    fn detail(&self, line: &str);
    /// Something the user should act on, but that does not stop the command.
    fn warn(&self, message: &str);
    /// A plain informational line.
    fn info(&self, message: &str);
}

/// Run `f` as the step `what`, timed: `f` returns its value and what it did.
pub fn step<T>(reporter: &dyn Reporter, what: &str, f: impl FnOnce() -> anyhow::Result<(T, String)>) -> anyhow::Result<T> {
    reporter.step(what);
    let started = Instant::now();
    let (value, outcome) = f()?;
    reporter.step_done(&outcome, started.elapsed());
    Ok(value)
}
