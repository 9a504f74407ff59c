use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use warp::env_vars;
use warp::layout::Layout;
use warp::serve::{install, supervisor};
use warp_worker_config::WorkerConfig;

use crate::cli::{Processes, StartArgs};
use crate::ui;

pub fn run(args: StartArgs) -> Result<()> {
    let layout = Layout::discover(args.src.as_deref())?;
    let reporter = ui::reporter();
    let env = warp::hooks::runtime_env(&layout, reporter.as_ref())?;
    let app = match args.app {
        Some(app) => app,
        None if layout.src.join("wsgi.py").is_file() => "wsgi.py".to_owned(),
        None => bail!(
            "no app found in {}: looked for wsgi.py; pass the app as `warp start SRC module:callable` or a file",
            layout.src.display()
        ),
    };
    let python = layout.venv.join("bin").join("python");
    install::install(&python).context("cannot install warp's server module into the venv")?;

    let container = env_vars::get(env_vars::APP_ROOT).is_some();
    let host = args.host.unwrap_or(if container { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) });
    let port = match args.port {
        Some(port) => port,
        None => match env_vars::get(env_vars::PORT) {
            Some(text) => text.parse().with_context(|| format!("PORT is {text:?}, which is not a port number"))?,
            None if container => 8080,
            None => 8000,
        },
    };
    let processes = match args.processes {
        Processes::Count(n) => n,
        Processes::Auto => allowed_cpus(),
    };
    let threads = usize::from(args.threads);
    let seconds = |value: f64, flag: &str| {
        Duration::try_from_secs_f64(value).map_err(|_| anyhow::anyhow!("--{flag} must be a number of seconds, not {value}"))
    };
    let worker = WorkerConfig {
        app: app.clone(),
        src: layout.src.to_string_lossy().into_owned(),
        listen_fd: -1,
        threads,
        processes,
        server_name: host.to_string(),
        server_port: port,
        limit_request_body: args.limit_request_body,
        socket_timeout: seconds(args.socket_timeout, "socket-timeout")?,
        shutdown_timeout: seconds(args.shutdown_timeout, "shutdown-timeout")?,
        access_log: args.access_log.unwrap_or(container),
        worker_id: 0,
    };
    let bind = SocketAddr::new(host, port);
    let shown_host = if host.is_unspecified() { "localhost".to_owned() } else { bind.ip().to_string() };
    reporter.info(&format!(
        "warp: serving {app} from {src}\n  url:       http://{shown_host}:{port}/ (listening on {bind})\n  python:    {python}\n  capacity:  {processes} process(es) x {threads} thread(s) = {capacity}\n  timeouts:  socket {socket:?}, shutdown {shutdown:?}\n  request body limit: {limit} bytes\n  logs:      errors to stderr{access}",
        src = layout.src.display(),
        python = python.display(),
        capacity = processes * threads,
        socket = worker.socket_timeout,
        shutdown = worker.shutdown_timeout,
        limit = worker.limit_request_body,
        access = if worker.access_log { ", access log to stdout" } else { "" },
    ));
    drop(reporter);
    supervisor::run(supervisor::Plan { python, env, bind, backlog: args.listen_backlog, processes, worker })
}

/// CPUs this process may use: the cgroup v2 quota when one is set, else the affinity mask.
fn allowed_cpus() -> usize {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let quota = std::fs::read_to_string("/sys/fs/cgroup/cpu.max").ok().and_then(|text| {
        let mut parts = text.split_whitespace();
        let quota: f64 = parts.next()?.parse().ok()?;
        let period: f64 = parts.next()?.parse().ok()?;
        Some((quota / period).ceil().max(1.0) as usize)
    });
    quota.map_or(available, |q| q.min(available))
}
