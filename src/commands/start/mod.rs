use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use warp::start::detect::{self, App};
use warp::env_vars;
use warp::layout::Layout;
use warp::start::serve::{external, foreground, install, pid1, privileges, setup, supervisor};
use warp_worker_config::{AccessLogFormat, LogLevel, WorkerConfig};

use super::ExitWith;
use crate::cli::{self, Processes, ServerType, StartArgs};
use crate::ui;

mod report;
mod static_dirs;

use report::{banner, explain};
use static_dirs::{django_static, static_folders};

pub fn run(args: StartArgs) -> Result<()> {
    // As PID 1, a stop signal must not be lost while the deploy hooks and detection run.
    pid1::exit_on_stop()?;
    // Settings are checked before anything is looked at or run.
    let trust_proxy_headers = proxy_headers(&args)?;
    let credentials = privileges::resolve(args.user.as_deref(), args.group.as_deref(), args.allow_root)?;
    let layout = Layout::discover(args.src.as_deref())?;
    let (mut url_aliases, document_root) = static_folders(&args, &layout.src)?;
    let reporter = ui::reporter();
    // --setup-only and --explain start nothing, so the deploy hooks wait for the real start.
    let env = if args.setup_only || args.explain {
        warp::appenv::hooks::runtime_env(&layout, reporter.as_ref())?
    } else {
        warp::appenv::hooks::deploy(&layout, reporter.as_ref())?
    };
    let python = layout.venv.join("bin").join("python");
    let detection = detect::detect(&detect::Input { src: &layout.src, python: &python, env: &env }, args.app.as_deref())?;
    let wsgi = match &detection.app {
        App::Wsgi(wsgi) => Some(wsgi),
        App::Program(program) if args.server != ServerType::Warp => bail!(
            "{program} starts its own server, so --server {} does not apply: leave out --server (and WARP_SERVER_TYPE), or name a WSGI app as `warp start SRC module:callable`",
            server_name(args.server)
        ),
        App::Program(_) => None,
    };
    if let Some(django) = wsgi.and_then(|w| w.django.as_ref()) {
        // A project serving its files through WhiteNoise's middleware keeps doing so under
        // servers that need WhiteNoise for it anyway.
        let wrapped_anyway = django.whitenoise_middleware && matches!(args.server, ServerType::Gunicorn | ServerType::Waitress);
        if !wrapped_anyway {
            django_static(django, &mut url_aliases, reporter.as_ref())?;
        }
    }

    let container = env_vars::get(env_vars::APP_ROOT).is_some();
    let host = args.host.unwrap_or(if container { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) });
    let port = listen_port(args.port)?;
    let processes = match args.processes {
        Processes::Count(n) => n,
        Processes::Auto => allowed_cpus(),
    };
    let bind = SocketAddr::new(host, port);
    let app = wsgi.map(|w| w.target.spec(&layout.src)).unwrap_or_default();
    let mut worker = worker_config(&args, &layout, app, bind, processes, container, trust_proxy_headers);
    (worker.url_aliases, worker.document_root) = (url_aliases, document_root);
    let plan = supervisor::Plan {
        python,
        env,
        bind,
        backlog: args.listen_backlog,
        processes,
        startup_timeout: args.timeouts.startup_timeout.0,
        watch: args.reload_on_changes.then(|| layout.src.clone()),
        credentials,
        worker,
    };
    if let (true, Some(dir)) = (args.setup_only, args.server_root.as_deref()) {
        let settings = settings(&args, &plan, &layout.src)?;
        reporter.info(&setup::write(&setup::Setup { dir, src: &layout.src, settings, plan: &plan })?);
        return Ok(());
    }
    let paths = external::Paths { src: &layout.src, venv: &layout.venv };
    let launch = match (&detection.app, external_server(args.server)) {
        (App::Wsgi(wsgi), Some(server)) => Some(external::launch(server, &plan, wsgi, &paths)?),
        _ => None,
    };
    if args.explain {
        drop(reporter);
        println!("{}", explain(&detection, &plan, &layout.src, launch.as_ref()));
        return Ok(());
    }
    for warning in &detection.warnings {
        reporter.warn(warning);
    }
    match (&detection.app, launch) {
        (App::Program(program), _) => {
            reporter.info(&format!("warp: running {program} in {} (the app's own server; PORT={port})", layout.src.display()));
            drop(reporter);
            let mut cmd = Command::new(&program.argv[0]);
            cmd.args(&program.argv[1..]);
            let port = vec![(env_vars::PORT.to_owned(), port.to_string().into())];
            foreground(cmd, &port, &plan, plan.credentials.as_ref(), &layout.src, &program.to_string())
        }
        (App::Wsgi(wsgi), Some(launch)) => {
            reporter.info(&format!("warp: serving {} with {}: {}", wsgi.target, server_name(args.server), launch.shown()));
            for note in &launch.notes {
                reporter.warn(note);
            }
            drop(reporter);
            launch.prepare()?;
            let mut cmd = Command::new(&launch.program);
            cmd.args(&launch.args);
            // Servers that switch user themselves bind first, so they get to keep port 80.
            let credentials = if launch.switches_user { None } else { plan.credentials.as_ref() };
            foreground(cmd, &launch.env, &plan, credentials, &layout.src, server_name(args.server))
        }
        (App::Wsgi(_), None) => {
            install::install(&plan.python).context("cannot install warp's server module into the venv")?;
            reporter.info(&banner(&plan, &layout.src));
            drop(reporter);
            supervisor::run(plan)
        }
    }
}

/// The port to listen on (or probe): the flag or WARP_PORT, else PORT, else 8080 in a
/// container and 8000 elsewhere.
pub(super) fn listen_port(explicit: Option<u16>) -> Result<u16> {
    Ok(match explicit {
        Some(port) => port,
        None => match env_vars::get(env_vars::PORT) {
            Some(text) => text.parse().with_context(|| format!("PORT is {text:?}, which is not a port number"))?,
            None if env_vars::get(env_vars::APP_ROOT).is_some() => 8080,
            None => 8000,
        },
    })
}

/// Run a program that is the server in the app's environment (plus `extra`) and folder, as
/// `credentials` when given; its exit status becomes warp's.
fn foreground(
    mut cmd: Command,
    extra: &[(String, std::ffi::OsString)],
    plan: &supervisor::Plan,
    credentials: Option<&privileges::Credentials>,
    src: &Path,
    what: &str,
) -> Result<()> {
    cmd.current_dir(src);
    plan.env.apply(&mut cmd);
    cmd.envs(extra.iter().map(|(k, v)| (k, v)));
    if let Some(creds) = credentials {
        privileges::apply(&mut cmd, creds);
    }
    match foreground::run(cmd, plan.worker.shutdown_timeout)? {
        0 => Ok(()),
        code => Err(ExitWith { code: u8::try_from(code).unwrap_or(1), message: format!("{what} exited with status {code}") }.into()),
    }
}

fn server_name(server: ServerType) -> &'static str {
    external_server(server).map_or("warp", external::Server::name)
}

fn external_server(server: ServerType) -> Option<external::Server> {
    match server {
        ServerType::Warp => None,
        ServerType::Gunicorn => Some(external::Server::Gunicorn),
        ServerType::Waitress => Some(external::Server::Waitress),
        ServerType::ModWsgi => Some(external::Server::ModWsgi),
        ServerType::Uwsgi => Some(external::Server::Uwsgi),
    }
}

/// Every setting of this start, resolved, as the `WARP_*` variables that reproduce it, and
/// the other variables its outcome depends on (which venv, container defaults).
fn settings(args: &StartArgs, plan: &supervisor::Plan, src: &Path) -> Result<Vec<(&'static str, String)>> {
    // Every flag, named so that a new one cannot be left out of warp.env unnoticed: the
    // values themselves come resolved from the plan.
    let StartArgs {
        src: _,
        app: _,
        server,
        health_path: _,
        host: _,
        port: _,
        listen_backlog: _,
        processes: _,
        threads: _,
        timeouts: cli::Timeouts { startup_timeout: _, queue_timeout: _, request_timeout: _, socket_timeout: _, shutdown_timeout: _, graceful_timeout: _ },
        recycling: cli::Recycling { maximum_requests: _, restart_interval: _, inactivity_timeout: _, memory_limit: _ },
        limit_request_body: _,
        reload_on_changes: _,
        url_alias: _,
        document_root: _,
        trust_proxy_header: _,
        trust_proxy: _,
        user,
        group,
        allow_root,
        access_log: _,
        log_level: _,
        // Where and whether to write warp.env, not how the server runs.
        explain: _,
        setup_only: _,
        server_root: _,
    } = args;
    let w = &plan.worker;
    let secs = |d: std::time::Duration| d.as_secs_f64().to_string();
    if let Some(alias) = w.url_aliases.iter().find(|a| a.url.contains(char::is_whitespace) || a.path.contains(char::is_whitespace)) {
        bail!(
            "--url-alias {} {} holds a space, which WARP_URL_ALIAS (space-separated URL=PATH pairs) cannot hold: rename the folder, or use --document-root",
            alias.url,
            alias.path
        );
    }
    let mut out = vec![
        ("WARP_SRC", src.to_string_lossy().into_owned()),
        ("WARP_SERVER_TYPE", server_name(*server).to_owned()),
        ("WARP_HOST", plan.bind.ip().to_string()),
        ("WARP_PORT", plan.bind.port().to_string()),
        ("WARP_LISTEN_BACKLOG", plan.backlog.to_string()),
        ("WARP_PROCESSES", plan.processes.to_string()),
        ("WARP_THREADS", w.threads.to_string()),
        ("WARP_STARTUP_TIMEOUT", secs(plan.startup_timeout)),
        ("WARP_QUEUE_TIMEOUT", secs(w.queue_timeout)),
        ("WARP_REQUEST_TIMEOUT", secs(w.request_timeout)),
        ("WARP_SOCKET_TIMEOUT", secs(w.socket_timeout)),
        ("WARP_SHUTDOWN_TIMEOUT", secs(w.shutdown_timeout)),
        ("WARP_GRACEFUL_TIMEOUT", secs(w.graceful_timeout)),
        ("WARP_MAXIMUM_REQUESTS", w.maximum_requests.to_string()),
        ("WARP_RESTART_INTERVAL", secs(w.restart_interval)),
        ("WARP_INACTIVITY_TIMEOUT", secs(w.inactivity_timeout)),
        ("WARP_LIMIT_REQUEST_BODY", w.limit_request_body.to_string()),
        ("WARP_RELOAD_ON_CHANGES", plan.watch.is_some().to_string()),
        ("WARP_ACCESS_LOG", match w.access_log { AccessLogFormat::Off => "off", AccessLogFormat::Combined => "on", AccessLogFormat::Json => "json" }.to_owned()),
        ("WARP_LOG_LEVEL", w.log_level.as_str().to_owned()),
        ("WARP_ALLOW_ROOT", allow_root.to_string()),
    ];
    let optional = [
        // A program that is its own server is found again at each start.
        ("WARP_APP", (!w.app.is_empty()).then(|| w.app.clone())),
        ("WARP_HEALTH_PATH", w.health_path.clone()),
        ("WARP_MEMORY_LIMIT", (w.memory_limit > 0).then(|| w.memory_limit.to_string())),
        ("WARP_URL_ALIAS", (!w.url_aliases.is_empty()).then(|| w.url_aliases.iter().map(|a| format!("{}={}", a.url, a.path)).collect::<Vec<_>>().join(" "))),
        ("WARP_DOCUMENT_ROOT", w.document_root.clone()),
        ("WARP_TRUST_PROXY_HEADER", (!w.trust_proxy_headers.is_empty()).then(|| w.trust_proxy_headers.join(","))),
        ("WARP_TRUST_PROXY", (!w.trusted_proxies.is_empty()).then(|| w.trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))),
        ("WARP_USER", user.clone()),
        ("WARP_GROUP", group.clone()),
        // Not settings of warp start, but they decide which venv it uses and what it finds.
        (env_vars::VIRTUAL_ENV, env_vars::get(env_vars::VIRTUAL_ENV)),
        (env_vars::APP_ROOT, env_vars::get(env_vars::APP_ROOT)),
        (env_vars::WARP_SERVER_MODULE, env_vars::get(env_vars::WARP_SERVER_MODULE)),
    ];
    out.extend(optional.into_iter().filter_map(|(name, value)| value.map(|v| (name, v))));
    Ok(out)
}

fn worker_config(
    args: &StartArgs,
    layout: &Layout,
    app: String,
    bind: SocketAddr,
    processes: usize,
    container: bool,
    trust_proxy_headers: Vec<String>,
) -> WorkerConfig {
    let timeouts = &args.timeouts;
    let recycling = &args.recycling;
    WorkerConfig {
        app,
        src: layout.src.to_string_lossy().into_owned(),
        listen_fd: -1,
        control_fd: -1,
        threads: usize::from(args.threads),
        processes,
        server_name: bind.ip().to_string(),
        server_port: bind.port(),
        limit_request_body: args.limit_request_body.0,
        queue_timeout: timeouts.queue_timeout.0,
        request_timeout: timeouts.request_timeout.0,
        socket_timeout: timeouts.socket_timeout.0,
        shutdown_timeout: timeouts.shutdown_timeout.0,
        graceful_timeout: timeouts.graceful_timeout.0,
        maximum_requests: recycling.maximum_requests,
        restart_interval: recycling.restart_interval.0,
        inactivity_timeout: recycling.inactivity_timeout.0,
        memory_limit: recycling.memory_limit.map_or(0, |size| size.0),
        url_aliases: Vec::new(),
        document_root: None,
        trust_proxy_headers,
        trusted_proxies: args.trust_proxy.clone(),
        access_log: match args.access_log {
            Some(cli::AccessLog::Off) => AccessLogFormat::Off,
            Some(cli::AccessLog::On) => AccessLogFormat::Combined,
            Some(cli::AccessLog::Json) => AccessLogFormat::Json,
            None if container => AccessLogFormat::Combined,
            None => AccessLogFormat::Off,
        },
        log_level: match args.log_level {
            cli::LogLevel::Debug => LogLevel::Debug,
            cli::LogLevel::Info => LogLevel::Info,
            cli::LogLevel::Warning => LogLevel::Warning,
            cli::LogLevel::Error => LogLevel::Error,
        },
        health_path: args.health_path.clone(),
        worker_id: 0,
    }
}

/// The trusted proxy headers, lower-case; only those warp knows how to apply.
fn proxy_headers(args: &StartArgs) -> Result<Vec<String>> {
    let headers = args
        .trust_proxy_header
        .iter()
        .map(|name| {
            let name = name.trim().to_ascii_lowercase();
            match name.as_str() {
                "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-host" | "x-forwarded-port" | "x-real-ip" => Ok(name),
                _ => bail!("--trust-proxy-header {name:?} is not a proxy header warp knows: use X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-Port or X-Real-IP"),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    if !args.trust_proxy.is_empty() && headers.is_empty() {
        bail!("--trust-proxy names the proxies but no header is trusted: add --trust-proxy-header X-Forwarded-For (and -Proto, -Host as your proxy sets them)");
    }
    Ok(headers)
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
