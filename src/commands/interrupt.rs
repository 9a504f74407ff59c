//! Ctrl-C during a build in containers.

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use warp::image::engine::Engine;

/// SIGINT and SIGTERM while an image is built: the engine runs the build's containers, not
/// warp, so they would outlive it. A thread removes them, then ends warp as the signal ends
/// a process; meanwhile the build itself may fail (its container gone), and that failure is
/// not reported: [`Interrupt::settle`] waits for the thread instead.
pub struct Interrupt {
    /// Held by the thread from the signal to the end of the process.
    handling: Arc<Mutex<()>>,
}

impl Interrupt {
    /// Handle them for the build containers labelled `owner_label` with this process's pid.
    pub fn install(owner_label: &'static str) -> Result<Interrupt> {
        let mut signals = Signals::new([SIGINT, SIGTERM]).context("cannot install signal handlers")?;
        let handling = Arc::new(Mutex::new(()));
        let shared = handling.clone();
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let _handling = shared.lock().unwrap_or_else(|e| e.into_inner());
                let pid = std::process::id().to_string();
                let removed = Engine::connect().and_then(|engine| engine.remove_containers_labelled(owner_label, &pid));
                match removed {
                    Ok(0) => eprintln!("warp: interrupted"),
                    Ok(_) => eprintln!("warp: interrupted: the build container was removed"),
                    Err(err) => eprintln!("warp: interrupted, and the build container could not be removed: {err}"),
                }
                std::process::exit(128 + signal);
            }
        });
        Ok(Interrupt { handling })
    }

    /// The build's result, unless a signal came: then the thread holds the lock until it
    /// ends the process, and this never returns.
    pub fn settle<T>(self, result: Result<T>) -> Result<T> {
        let _handling = self.handling.lock().unwrap_or_else(|e| e.into_inner());
        result
    }
}
