//! The control channel between the master and one worker: a socket pair, one line per
//! message.
//!
//! The worker says when it is [`Report::Ready`] (its app loaded, its socket served), and
//! when it wants to be replaced ([`Report::Retire`]); it keeps serving until the master,
//! with the replacement ready, sends [`STOP`]. The channel closing tells the worker that
//! the master is gone, so a worker never outlives its master.
//!
//! [`STOP`] and [`TAKEOVER`] may each carry one descriptor (SCM_RIGHTS, sent with the
//! line): the two ends of a `SOCK_SEQPACKET` socket pair, the handoff channel. Over it the
//! stopping worker passes its successor every connection on which it has not started a
//! request, so a request never waits for a worker that is going away.

use std::fmt;
use std::str::FromStr;

/// Master to worker: stop accepting, finish what is in flight within the graceful timeout;
/// with a descriptor, pass unstarted connections to the successor through it.
pub const STOP: &[u8] = b"stop\n";

/// Master to the successor of a stopping worker, with the other end of the handoff channel:
/// take in the connections that arrive on it.
pub const TAKEOVER: &[u8] = b"takeover\n";

/// Why a worker asks to be replaced (the names are `process_stopping`'s shutdown reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    RequestTimeout,
    MaximumRequests,
    RestartInterval,
    InactivityTimeout,
    MemoryLimit,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::RequestTimeout => "request_timeout",
            Reason::MaximumRequests => "maximum_requests",
            Reason::RestartInterval => "restart_interval",
            Reason::InactivityTimeout => "inactivity_timeout",
            Reason::MemoryLimit => "memory_limit",
        }
    }
}

/// Worker to master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    Ready,
    Retire(Reason),
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Ready => writeln!(f, "ready"),
            Report::Retire(reason) => writeln!(f, "retire {}", reason.as_str()),
        }
    }
}

impl FromStr for Report {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let reason = |name: &str| {
            [Reason::RequestTimeout, Reason::MaximumRequests, Reason::RestartInterval, Reason::InactivityTimeout, Reason::MemoryLimit]
                .into_iter()
                .find(|r| r.as_str() == name)
        };
        match line.trim().split_once(' ') {
            None if line.trim() == "ready" => Ok(Report::Ready),
            Some(("retire", name)) => reason(name).map(Report::Retire).ok_or_else(|| format!("unknown retire reason {name:?}")),
            _ => Err(format!("unknown report {line:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_survive_the_wire() {
        for report in [Report::Ready, Report::Retire(Reason::MemoryLimit), Report::Retire(Reason::RequestTimeout)] {
            assert_eq!(report.to_string().parse::<Report>(), Ok(report));
        }
        assert!("retire bored".parse::<Report>().is_err());
        assert!("hello".parse::<Report>().is_err());
    }
}
