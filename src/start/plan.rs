//! From the resolved settings of `warp start` to what runs: the values checked against the
//! machine (users, folders), the master's plan with every worker's configuration, and the
//! settings written back as the variables that reproduce them (`warp.env`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use warp_worker_config::{AccessLogFormat, LogLevel, UrlAlias, WorkerConfig};

use crate::appenv::AppEnv;
use crate::env_vars;
use crate::layout::Layout;
use crate::settings::{self, Id, Origin, Processes, Scope, SettingError, Settings, Value};
use crate::start::serve::external::Server;
use crate::start::serve::privileges::{self, Credentials};
use crate::start::serve::supervisor::Plan;
use crate::start::static_dirs;

/// Settings checked against the machine, before anything runs.
pub struct Checked {
    /// Another server, or `None` for the embedded one.
    pub server: Option<Server>,
    pub credentials: Option<Credentials>,
    /// Static folders, absolute.
    pub url_aliases: Vec<UrlAlias>,
    pub document_root: Option<String>,
}

/// Check what the settings name: the user, the static folders, the proxies.
pub fn check(settings: &Settings, src: &Path) -> Result<Checked> {
    if !settings.cidrs(Id::TrustProxy).is_empty() && settings.list(Id::TrustProxyHeader).is_empty() {
        bail!("--trust-proxy names the proxies but no header is trusted: add --trust-proxy-header X-Forwarded-For (and -Proto, -Host as your proxy sets them)");
    }
    if settings.is_given(Id::Group) && !settings.is_given(Id::User) {
        return Err(SettingError::new("--group".to_owned(), "needs --user: name the user the workers run as too".to_owned()).into());
    }
    let server = server(settings);
    if let Some(other) = server {
        own_server_only(settings, &format!("--server {}", other.name()))?;
    }
    if let Some(file) = settings.path(Id::PortFile) {
        let folder = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !folder.is_dir() || file.file_name().is_none() {
            let message = format!("{} is not a file in an existing folder: create the folder, or name another file", file.display());
            return Err(SettingError::new(place(settings, Id::PortFile), message).into());
        }
    }
    let credentials = privileges::resolve(settings.text(Id::User), settings.text(Id::Group), settings.flag(Id::AllowRoot))?;
    let (url_aliases, document_root) = static_dirs::static_folders(settings, src)?;
    Ok(Checked { server, credentials, url_aliases, document_root })
}

/// Refuse what only warp's embedded server can do, for `what` (another server, or a
/// program that is its own server): port 0 (only the master that binds learns the port)
/// and the port file (only warp's workers say when they are ready). A usage error.
pub fn own_server_only(settings: &Settings, what: &str) -> Result<(), SettingError> {
    if settings.port(Id::Port) == 0 {
        return Err(SettingError::new(
            place(settings, Id::Port),
            format!("0 (any free port) needs warp's embedded server, which binds the port and reports it; {what} must be given a port number, such as 8000"),
        ));
    }
    if settings.is_given(Id::PortFile) {
        return Err(SettingError::new(
            place(settings, Id::PortFile),
            format!("only warp's embedded server writes a port file, and {what} serves on its own: leave the port file out"),
        ));
    }
    Ok(())
}

/// Where a setting was given, as an error names it: the flag when typed, else as
/// [`Settings::label`] says.
pub fn place(settings: &Settings, id: Id) -> String {
    match settings.entry(id).map(|e| &e.origin) {
        Some(Origin::Flag(flag)) => flag.clone(),
        _ => settings.label(id),
    }
}

/// The server the settings choose: `None` is warp's embedded one.
pub fn server(settings: &Settings) -> Option<Server> {
    match settings.text(Id::ServerType) {
        Some("gunicorn") => Some(Server::Gunicorn),
        Some("waitress") => Some(Server::Waitress),
        Some("mod_wsgi") => Some(Server::ModWsgi),
        Some("uwsgi") => Some(Server::Uwsgi),
        _ => None,
    }
}

/// The name of the server the settings choose.
pub fn server_name(server: Option<Server>) -> &'static str {
    server.map_or("warp", Server::name)
}

/// The address to listen on (or probe).
pub fn bind(settings: &Settings) -> SocketAddr {
    SocketAddr::new(settings.ip(Id::Host), settings.port(Id::Port))
}

/// What the master runs: `app` is the embedded server's app spec (empty for a program).
pub fn plan(settings: &Settings, layout: &Layout, env: AppEnv, app: String, checked: Checked) -> Plan {
    let bind = bind(settings);
    let processes = match settings.processes(Id::Processes) {
        Processes::Count(n) => n,
        Processes::Auto => allowed_cpus(),
    };
    let worker = WorkerConfig {
        app,
        src: layout.src.to_string_lossy().into_owned(),
        listen_fd: -1,
        control_fd: -1,
        threads: settings.count(Id::Threads) as usize,
        processes,
        server_name: bind.ip().to_string(),
        server_port: bind.port(),
        limit_request_body: settings.count(Id::LimitRequestBody),
        queue_timeout: settings.seconds(Id::QueueTimeout),
        request_timeout: settings.seconds(Id::RequestTimeout),
        socket_timeout: settings.seconds(Id::SocketTimeout),
        shutdown_timeout: settings.seconds(Id::ShutdownTimeout),
        graceful_timeout: settings.seconds(Id::GracefulTimeout),
        maximum_requests: settings.count(Id::MaximumRequests),
        restart_interval: settings.seconds(Id::RestartInterval),
        inactivity_timeout: settings.seconds(Id::InactivityTimeout),
        memory_limit: settings.count(Id::MemoryLimit),
        url_aliases: checked.url_aliases,
        document_root: checked.document_root,
        trust_proxy_headers: settings.list(Id::TrustProxyHeader).to_vec(),
        trusted_proxies: settings.cidrs(Id::TrustProxy).to_vec(),
        access_log: match settings.text(Id::AccessLog) {
            Some("on") => AccessLogFormat::Combined,
            Some("json") => AccessLogFormat::Json,
            _ => AccessLogFormat::Off,
        },
        log_level: match settings.text(Id::LogLevel) {
            Some("debug") => LogLevel::Debug,
            Some("warning") => LogLevel::Warning,
            Some("error") => LogLevel::Error,
            _ => LogLevel::Info,
        },
        health_path: settings.text(Id::HealthPath).map(str::to_owned),
        worker_id: 0,
    };
    Plan {
        python: python(layout),
        env,
        bind,
        backlog: i32::try_from(settings.count(Id::ListenBacklog)).unwrap_or(i32::MAX),
        processes,
        startup_timeout: settings.seconds(Id::StartupTimeout),
        watch: settings.flag(Id::ReloadOnChanges).then(|| layout.src.clone()),
        credentials: checked.credentials,
        // Absolute, as the folder warp was started in names it.
        port_file: settings.path(Id::PortFile).map(|file| std::path::absolute(file).unwrap_or_else(|_| file.to_owned())),
        worker,
    }
}

/// Every setting of this start as the variable that reproduces it, resolved: the folders
/// absolute, the app as found, the process count as counted. Then the variables outside
/// the table that decide which venv and module it uses.
pub fn variables(settings: &Settings, plan: &Plan, src: &Path) -> Result<Vec<(&'static str, String)>> {
    let w = &plan.worker;
    if let Some(alias) = w.url_aliases.iter().find(|a| a.url.contains(char::is_whitespace) || a.path.contains(char::is_whitespace)) {
        bail!(
            "--url-alias {} {} holds a space, which {} (space-separated URL=PATH pairs) cannot hold: rename the folder, or use --document-root",
            alias.url,
            alias.path,
            settings::var(Id::UrlAlias)
        );
    }
    let mut out = Vec::new();
    for entry in settings.entries().filter(|e| e.row.in_scope(Scope::Start)) {
        let Some(name) = entry.row.var else { continue };
        let resolved = match entry.row.id {
            Id::Src => Some(src.to_string_lossy().into_owned()),
            // A program that is its own server is found again at each start.
            Id::App => (!w.app.is_empty()).then(|| w.app.clone()),
            Id::Processes => Some(plan.processes.to_string()),
            Id::UrlAlias => (!w.url_aliases.is_empty())
                .then(|| Value::Pairs(w.url_aliases.iter().map(|a| (a.url.clone(), a.path.clone())).collect()).render()),
            Id::DocumentRoot => w.document_root.clone(),
            // Where --setup-only writes, not how the server runs.
            Id::ServerRoot => None,
            _ => entry.value.as_ref().map(Value::render),
        };
        out.extend(resolved.map(|value| (name, value)));
    }
    for name in [env_vars::VIRTUAL_ENV, env_vars::APP_ROOT, settings::var(Id::ServerModule)] {
        out.extend(env_vars::get(name).map(|value| (name, value)));
    }
    Ok(out)
}

/// CPUs this process may use: the cgroup v2 quota when one is set, else the affinity mask.
fn allowed_cpus() -> usize {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let quota = std::fs::read_to_string("/sys/fs/cgroup/cpu.max").ok().and_then(|text| cpu_quota(&text));
    quota.map_or(available, |q| q.min(available))
}

/// The CPUs a cgroup v2 `cpu.max` allows (`max 100000` is no limit).
fn cpu_quota(text: &str) -> Option<usize> {
    let mut parts = text.split_whitespace();
    let quota: f64 = parts.next()?.parse().ok()?;
    let period: f64 = parts.next()?.parse().ok()?;
    Some((quota / period).ceil().max(1.0) as usize)
}

/// The venv's interpreter, as the plan names it.
pub fn python(layout: &Layout) -> PathBuf {
    layout.venv.join("bin").join("python")
}

#[cfg(test)]
mod tests {
    #[test]
    fn cgroup_quotas_round_up_to_whole_cpus() {
        assert_eq!(super::cpu_quota("150000 100000\n"), Some(2));
        assert_eq!(super::cpu_quota("50000 100000\n"), Some(1));
        assert_eq!(super::cpu_quota("max 100000\n"), None);
    }
}
