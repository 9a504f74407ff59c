//! Stop signals that reach warp as PID 1 before anything serves.
//!
//! The kernel gives PID 1 no default signal actions: a SIGTERM it has no handler for is
//! dropped. Between the start of `warp start` and the moment the supervisor (or the runner
//! of a program that is its own server) installs its own handling, warp runs the deploy
//! hooks, detects the app and installs the server module, which can take a while; a
//! `docker stop` then would be lost, and the container killed only at the end of its grace
//! period. [`exit_on_stop`] closes that gap: until [`handled`] is called, SIGTERM, SIGINT
//! and SIGQUIT end warp at once with 128 + the signal's number, as a shell reports a
//! process killed by a signal. The kernel then ends the rest of the pid namespace (a
//! running hook included).
//!
//! Outside PID 1 the default actions already end warp, so nothing is installed there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};

/// The signals that stop `warp start`.
const STOP: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];

/// True while a stop signal should end warp at once.
static ARMED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Whether warp is the first process of its pid namespace (a container's init).
pub fn is_init() -> bool {
    std::process::id() == 1
}

/// As PID 1, make a stop signal end warp at once until [`handled`] is called.
pub fn exit_on_stop() -> Result<()> {
    if !is_init() {
        return Ok(());
    }
    let armed = ARMED.get_or_init(|| Arc::new(AtomicBool::new(true)));
    for signal in STOP {
        // A conditional shutdown calls only async-signal-safe `_exit`.
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, armed.clone()).context("cannot install signal handlers")?;
    }
    Ok(())
}

/// The caller has installed its own handling of the stop signals: from now on they no
/// longer end warp at once.
pub fn handled() {
    if let Some(armed) = ARMED.get() {
        armed.store(false, Ordering::SeqCst);
    }
}
