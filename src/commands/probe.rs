use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Result;
use warp::appenv::AppEnv;
use warp::layout::Layout;
use warp::process::ChildFailed;
use warp::settings::{self, ConfigFile, Id, Scope, Sources};
use warp::start::plan;

use super::ExitWith;
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
    if args.timeout.is_zero() {
        return Err(ExitWith {
            code: 2,
            message: format!("warp {name}: --timeout 0 leaves the server no time to answer: give seconds, such as 1 or 0.5"),
        }
        .into());
    }
    // The same settings as `warp start`, from the same places: the app's environment
    // files, .warp/config.yaml and the deploy-env hook's output when there is a hook to run.
    let layout = Layout::discover(args.src.as_deref())?;
    let config = ConfigFile::load(&layout.src, layout.legacy_dir())?;
    let has_hook = layout.hook(name).exists();
    // Only warnings (a hook that is not executable) are shown; the hook's output is quoted
    // only when it fails.
    let reporter = ui::warnings_only();
    let env = if has_hook {
        warp::appenv::hooks::runtime_env(&layout, reporter.as_ref()).map_err(|e| fail(one_line(&e)))?
    } else {
        AppEnv::from_files(&layout)?
    };
    let settings = settings::resolve(&Sources { flags: &args.settings.flags, env: &env, config: &config }, &[Scope::Probe])?;
    let bind = plan::bind(&settings);
    let host = match bind.ip() {
        // A server listening everywhere answers on loopback.
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(host, bind.port());
    let path = args.path.as_deref().or(settings.text(Id::HealthPath)).unwrap_or("/");
    let status = warp::start::probe::status(addr, path, args.timeout).map_err(|e| fail(e.to_string()))?;
    if matches!(probe, Probe::Ready) && status >= 500 {
        return Err(fail(format!("{addr} answered GET {path} with {status}: not ready")));
    }
    // The app's own hook has the last word.
    if has_hook {
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
