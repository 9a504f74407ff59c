use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Result;
use warp::layout::Layout;
use warp::process::ChildFailed;

use super::{start, ExitWith};
use crate::cli::ProbeArgs;
use crate::ui;

/// Which probe: `alive` takes any HTTP answer, `ready` one below 500.
#[derive(Clone, Copy)]
pub enum Probe {
    Alive,
    Ready,
}

impl Probe {
    fn hook(self) -> &'static str {
        match self {
            Probe::Alive => warp::appenv::hooks::ALIVE,
            Probe::Ready => warp::appenv::hooks::READY,
        }
    }
}

/// Probe the server, then the app's hook. A probe runs every few seconds: success prints
/// nothing, failure one line, and without a hook no Python starts.
pub fn run(probe: Probe, args: ProbeArgs) -> Result<()> {
    let name = probe.hook();
    let fail = |message: String| -> anyhow::Error { ExitWith { code: 1, message: format!("warp {name}: {message}") }.into() };
    if args.timeout.0.is_zero() {
        return Err(ExitWith { code: 2, message: format!("warp {name}: --timeout 0 leaves the server no time to answer: give seconds, such as 1 or 0.5") }.into());
    }
    let host = match args.host {
        // A server listening everywhere answers on loopback.
        Some(IpAddr::V4(ip)) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(IpAddr::V6(ip)) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        Some(ip) => ip,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let addr = SocketAddr::new(host, start::listen_port(args.port)?);
    let path = args.path.as_deref().unwrap_or("/");
    let status = warp::start::probe::status(addr, path, args.timeout.0).map_err(|e| fail(e.to_string()))?;
    if matches!(probe, Probe::Ready) && status >= 500 {
        return Err(fail(format!("{addr} answered GET {path} with {status}: not ready")));
    }
    // The app's own hook has the last word.
    let layout = Layout::discover(args.src.as_deref())?;
    if layout.hook(name).exists() {
        // Only warnings (a hook that is not executable) are shown; the hook's output is
        // quoted only when it fails.
        let reporter = ui::warnings_only();
        let env = warp::appenv::hooks::runtime_env(&layout, reporter.as_ref()).map_err(|e| fail(one_line(&e)))?;
        warp::appenv::hooks::run(&layout, name, &env, reporter.as_ref()).map_err(|e| fail(one_line(&e)))?;
    }
    Ok(())
}

/// A failure as one line: a hook that failed by what it last printed.
fn one_line(err: &anyhow::Error) -> String {
    match err.chain().find_map(|cause| cause.downcast_ref::<ChildFailed>()) {
        Some(failed) => {
            let last = failed.tail.iter().rev().map(|line| line.trim()).find(|line| !line.is_empty());
            match last {
                Some(line) => format!("the {} {}: {line}", failed.what, failed.status),
                None => format!("the {} {} without printing anything", failed.what, failed.status),
            }
        }
        None => format!("{err:#}"),
    }
}
