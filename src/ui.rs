//! How progress looks: a spinner per step on a terminal, plain lines anywhere else.
//!
//! Everything goes to stderr, so a command's real output on stdout stays clean.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use warp::env_vars;
use warp::report::Reporter;

/// The reporter the CLI hands to the library.
pub fn reporter() -> Box<dyn Reporter> {
    if std::io::stderr().is_terminal() && env_vars::get(warp::settings::var(warp::settings::Id::NoProgress)).is_none() {
        Box::new(Terminal { bar: Mutex::new(None) })
    } else {
        Box::new(Plain { step: Mutex::new(None) })
    }
}

/// A reporter for commands that must stay quiet when all is well (the probes): warnings
/// only, everything else dropped.
pub fn warnings_only() -> Box<dyn Reporter> {
    Box::new(WarningsOnly)
}

pub fn seconds(elapsed: Duration) -> String {
    format!("{:.2}s", elapsed.as_secs_f64())
}

fn eprint_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Plain lines for logs: a step's line is printed when it ends, or before the first line of
/// output it produces, so output always sits under the step it belongs to.
struct Plain {
    /// The current step, and whether its header has been printed.
    step: Mutex<Option<(String, bool)>>,
}

impl Reporter for Plain {
    fn step(&self, what: &str) {
        *self.step.lock().unwrap_or_else(|e| e.into_inner()) = Some((what.to_owned(), false));
    }

    fn step_done(&self, outcome: &str, elapsed: Duration) {
        let step = self.step.lock().unwrap_or_else(|e| e.into_inner()).take();
        match step {
            Some((what, false)) => eprint_line(&format!("{what}: {outcome} ({})", seconds(elapsed))),
            _ => eprint_line(&format!("  => {outcome} ({})", seconds(elapsed))),
        }
    }

    fn output(&self, line: &str) {
        let mut step = self.step.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((what, shown @ false)) = step.as_mut() {
            eprint_line(&format!("{what}:"));
            *shown = true;
        }
        eprint_line(&format!("  | {line}"));
    }

    fn detail(&self, _: &str) {}

    fn warn(&self, message: &str) {
        eprint_line(&format!("warning: {message}"));
    }

    fn info(&self, message: &str) {
        eprint_line(message);
    }
}

struct WarningsOnly;

impl Reporter for WarningsOnly {
    fn step(&self, _: &str) {}
    fn step_done(&self, _: &str, _: Duration) {}
    fn output(&self, _: &str) {}
    fn detail(&self, _: &str) {}
    fn warn(&self, message: &str) {
        eprint_line(&format!("warning: {message}"));
    }
    fn info(&self, _: &str) {}
}

/// A spinner for the current step; finished steps stay on screen as one line each.
struct Terminal {
    bar: Mutex<Option<(ProgressBar, String)>>,
}

impl Terminal {
    fn above(&self, line: &str) {
        match &*self.bar.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((bar, _)) => bar.println(line),
            None => eprint_line(line),
        }
    }
}

impl Reporter for Terminal {
    fn step(&self, what: &str) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner:.cyan} {prefix} {wide_msg:.dim}").expect("valid template"));
        bar.set_prefix(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(100));
        *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some((bar, what.to_owned()));
    }

    fn step_done(&self, outcome: &str, elapsed: Duration) {
        if let Some((bar, what)) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
            eprint_line(&format!("\u{2713} {what}: {outcome} ({})", seconds(elapsed)));
        }
    }

    fn output(&self, line: &str) {
        self.above(&format!("  | {line}"));
    }

    fn detail(&self, line: &str) {
        if let Some((bar, _)) = &*self.bar.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.set_message(line.trim().to_owned());
        }
    }

    fn warn(&self, message: &str) {
        self.above(&format!("warning: {message}"));
    }

    fn info(&self, message: &str) {
        self.above(message);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Some((bar, _)) = self.bar.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}
