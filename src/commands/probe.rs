use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Result;
use warp::layout::Layout;

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
            Probe::Alive => warp::hooks::ALIVE,
            Probe::Ready => warp::hooks::READY,
        }
    }
}

pub fn run(probe: Probe, args: ProbeArgs) -> Result<()> {
    let name = probe.hook();
    let fail = |message: String| -> anyhow::Error { ExitWith { code: 1, message: format!("{name}: {message}") }.into() };
    let host = match args.host {
        // A server listening everywhere answers on loopback.
        Some(IpAddr::V4(ip)) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(IpAddr::V6(ip)) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        Some(ip) => ip,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let addr = SocketAddr::new(host, start::listen_port(args.port)?);
    let path = args.path.as_deref().unwrap_or("/");
    let status = warp::probe::status(addr, path, args.timeout.0).map_err(|e| fail(e.to_string()))?;
    if matches!(probe, Probe::Ready) && status >= 500 {
        return Err(fail(format!("{addr} answered GET {path} with {status}: not ready")));
    }
    // The app's own hook has the last word; without one, no Python starts.
    let layout = Layout::discover(args.src.as_deref())?;
    if layout.hook(name).exists() {
        let reporter = ui::reporter();
        let env = warp::hooks::runtime_env(&layout, reporter.as_ref())?;
        warp::hooks::run(&layout, name, &env, reporter.as_ref()).map_err(|e| fail(format!("{e:#}")))?;
    }
    Ok(())
}
