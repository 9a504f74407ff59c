//! From the resolved settings of `warp start` to what runs: the values checked against the
//! machine (users, folders), the master's plan with every worker's configuration, and the
//! settings written back as the variables that reproduce them (`warp.env`).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use warp_worker_config::{AccessLogFormat, LogLevel, Recorder, UrlAlias, WorkerConfig};

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
    if settings.flag(Id::RecorderKeepSecrets) && settings.path(Id::EnableRecorder).is_none() {
        let message = "keeps secrets in the recorder's files, and the recorder is off: add --enable-recorder DIR, or leave it out";
        return Err(SettingError::new(place(settings, Id::RecorderKeepSecrets), message.to_owned()).into());
    }
    if settings.is_given(Id::Group) && !settings.is_given(Id::User) {
        return Err(SettingError::new("--group".to_owned(), "needs --user: name the user the workers run as too".to_owned()).into());
    }
    let server = server(settings);
    if settings.flag(Id::EnableDebugger) && server.is_none() {
        // pdb reads and writes the worker's standard streams, which are warp's.
        if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
            let message = "opens pdb on the terminal warp start runs in, and this one has none (its input or output is not a terminal): run warp start in the foreground in a terminal, or leave the debugger off";
            return Err(SettingError::new(place(settings, Id::EnableDebugger), message.to_owned()).into());
        }
    }
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
    let tools = [
        (Id::EnableDebugger, settings.flag(Id::EnableDebugger)),
        (Id::EnableProfiler, settings.path(Id::EnableProfiler).is_some()),
        (Id::EnableCoverage, settings.path(Id::EnableCoverage).is_some()),
        (Id::MetricsPort, settings.is_given(Id::MetricsPort)),
        (Id::EnableRecorder, settings.path(Id::EnableRecorder).is_some()),
    ];
    match tools.into_iter().find(|(_, on)| *on) {
        Some((id, _)) => Err(SettingError::new(
            place(settings, id),
            format!("needs warp's embedded server, which calls the app itself, and {what} serves on its own: leave it off"),
        )),
        None => Ok(()),
    }
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
    // One request at a time, which may sit in the debugger for as long as it takes.
    let debugger = settings.flag(Id::EnableDebugger);
    let processes = match settings.processes(Id::Processes) {
        _ if debugger => 1,
        Processes::Count(n) => n,
        Processes::Auto => auto_processes().count,
    };
    let worker = WorkerConfig {
        app,
        src: layout.src.to_string_lossy().into_owned(),
        listen_fd: -1,
        control_fd: -1,
        scoreboard_fd: -1,
        threads: if debugger { 1 } else { settings.count(Id::Threads) as usize },
        processes,
        server_name: bind.ip().to_string(),
        server_port: bind.port(),
        limit_request_body: settings.count(Id::LimitRequestBody),
        header_timeout: settings.seconds(Id::HeaderTimeout),
        buffer_request_body: settings.text(Id::BufferRequestBody) == Some("on"),
        body_timeout: settings.seconds(Id::BodyTimeout),
        body_min_rate: settings.count(Id::BodyMinRate),
        write_min_rate: settings.count(Id::WriteMinRate),
        queue_timeout: settings.seconds(Id::QueueTimeout),
        request_timeout: if debugger { Duration::ZERO } else { settings.seconds(Id::RequestTimeout) },
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
        debugger,
        profiler_dir: settings.path(Id::EnableProfiler).map(|dir| absolute(dir).to_string_lossy().into_owned()),
        coverage_dir: settings.path(Id::EnableCoverage).map(|dir| absolute(dir).to_string_lossy().into_owned()),
        recorder: settings.path(Id::EnableRecorder).map(|dir| Recorder {
            dir: absolute(dir).to_string_lossy().into_owned(),
            keep_secrets: settings.flag(Id::RecorderKeepSecrets),
        }),
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
        port_file: settings.path(Id::PortFile).map(absolute),
        metrics: settings.is_given(Id::MetricsPort).then(|| SocketAddr::new(settings.ip(Id::MetricsHost), settings.port(Id::MetricsPort))),
        worker,
    }
}

/// A path as the folder warp was started in names it, made absolute: the workers run in
/// the app's folder.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
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
            Id::EnableProfiler => w.profiler_dir.clone(),
            Id::EnableCoverage => w.coverage_dir.clone(),
            Id::EnableRecorder => w.recorder.as_ref().map(|recorder| recorder.dir.clone()),
            // Where --setup-only writes, not how the server runs; and the debugger, which
            // needs a terminal and is never set up for later.
            Id::ServerRoot | Id::EnableDebugger => None,
            _ => entry.value.as_ref().map(Value::render),
        };
        out.extend(resolved.map(|value| (name, value)));
    }
    for name in [env_vars::VIRTUAL_ENV, env_vars::APP_ROOT, settings::var(Id::ServerModule)] {
        out.extend(env_vars::get(name).map(|value| (name, value)));
    }
    Ok(out)
}

/// What `--processes auto` comes to: the CPUs this process may use, and at most as many
/// workers as its cgroup's memory limit holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auto {
    pub cpus: usize,
    /// The cgroup's memory limit in bytes, when there is one.
    pub memory_limit: Option<u64>,
    /// The workers started: the CPUs, or fewer when the memory limit holds fewer.
    pub count: usize,
}

/// Memory set aside for the master, which holds no app (about 16 MiB resident).
const MASTER_MIB: u64 = 32;
/// Memory counted for each worker: a worker of examples/flask holds 38 MiB once it has
/// served, one of examples/django 55 MiB; the rest is room for requests in flight.
const WORKER_MIB: u64 = 64;

impl Auto {
    fn new(cpus: usize, memory_limit: Option<u64>) -> Auto {
        let fits = memory_limit.map(|bytes| ((bytes >> 20).saturating_sub(MASTER_MIB) / WORKER_MIB).max(1));
        let count = fits.map_or(cpus, |fits| cpus.min(usize::try_from(fits).unwrap_or(usize::MAX))).max(1);
        Auto { cpus, memory_limit, count }
    }
}

impl std::fmt::Display for Auto {
    /// How the banner explains the count: `auto: 8 CPUs, 3 within the 256 MiB memory limit`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cpus = if self.cpus == 1 { "1 CPU".to_owned() } else { format!("{} CPUs", self.cpus) };
        match self.memory_limit {
            Some(bytes) if self.count < self.cpus => write!(f, "auto: {cpus}, {} within the {} MiB memory limit", self.count, bytes >> 20),
            _ => write!(f, "auto: {cpus}"),
        }
    }
}

/// `--processes auto` on this machine, in this cgroup.
pub fn auto_processes() -> Auto {
    Auto::new(allowed_cpus(), memory_limit())
}

/// Where a cgroup's own files are for this process: under the mount, at the path
/// /proc/self/cgroup gives for `controller` (v1) or for the unified hierarchy (v2, `None`),
/// or at the mount's top where that path is not there (a container sees its own cgroup there).
fn cgroup_file(mount: &str, controller: Option<&str>, file: &str) -> Option<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok().and_then(|text| cgroup_path(&text, controller));
    let candidates = own.iter().map(|path| format!("{mount}{path}/{file}")).chain([format!("{mount}/{file}")]);
    candidates.into_iter().find_map(|path| std::fs::read_to_string(path).ok())
}

/// This process's cgroup path in /proc/self/cgroup's text: for a v1 `controller`, or the v2
/// hierarchy's (`0::/path`).
fn cgroup_path(text: &str, controller: Option<&str>) -> Option<String> {
    text.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let matches = match controller {
            Some(name) => controllers.split(',').any(|c| c == name),
            None => controllers.is_empty(),
        };
        matches.then(|| path.trim_end_matches('/').to_owned())
    })
}

/// CPUs this process may use: the cgroup's quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us`) when
/// one is set, else the affinity mask.
fn allowed_cpus() -> usize {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let v2 = cgroup_file("/sys/fs/cgroup", None, "cpu.max").and_then(|text| cpu_quota(&text));
    let v1 = || {
        let quota = cgroup_file("/sys/fs/cgroup/cpu", Some("cpu"), "cpu.cfs_quota_us")?;
        let period = cgroup_file("/sys/fs/cgroup/cpu", Some("cpu"), "cpu.cfs_period_us")?;
        cpu_quota(&format!("{} {}", quota.trim(), period.trim()))
    };
    v2.or_else(v1).map_or(available, |q| q.min(available))
}

/// The CPUs a cgroup quota allows, written as v2's `cpu.max` (`max 100000` and v1's `-1`
/// are no limit).
fn cpu_quota(text: &str) -> Option<usize> {
    let mut parts = text.split_whitespace();
    let quota: f64 = parts.next()?.parse().ok().filter(|q: &f64| *q > 0.0)?;
    let period: f64 = parts.next()?.parse().ok()?;
    Some((quota / period).ceil().max(1.0) as usize)
}

/// The memory limit of this process's cgroup (v2 `memory.max`, v1
/// `memory.limit_in_bytes`), when there is one.
fn memory_limit() -> Option<u64> {
    cgroup_file("/sys/fs/cgroup", None, "memory.max")
        .or_else(|| cgroup_file("/sys/fs/cgroup/memory", Some("memory"), "memory.limit_in_bytes"))
        .and_then(|text| memory_bytes(&text))
}

/// A memory limit's bytes: `max` (v2) and v1's page-rounded 2^63 are no limit.
fn memory_bytes(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|bytes| *bytes < 1 << 62)
}

/// The venv's interpreter, as the plan names it.
pub fn python(layout: &Layout) -> PathBuf {
    layout.venv.join("bin").join("python")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_quotas_round_up_to_whole_cpus() {
        assert_eq!(cpu_quota("150000 100000\n"), Some(2));
        assert_eq!(cpu_quota("50000 100000\n"), Some(1));
        assert_eq!(cpu_quota("max 100000\n"), None);
        assert_eq!(cpu_quota("-1 100000"), None, "v1's no limit");
    }

    #[test]
    fn memory_limits_bound_the_automatic_count() {
        assert_eq!(memory_bytes("268435456\n"), Some(256 << 20));
        assert_eq!(memory_bytes("max\n"), None);
        assert_eq!(memory_bytes("9223372036854771712\n"), None, "v1's no limit");
        let mib = |n: u64| Some(n << 20);
        assert_eq!(Auto::new(8, None).count, 8);
        assert_eq!(Auto::new(8, mib(256)).count, 3, "(256 - 32) / 64");
        assert_eq!(Auto::new(2, mib(1024)).count, 2, "the CPUs bound it");
        assert_eq!(Auto::new(4, mib(64)).count, 1, "at least one");
        assert_eq!(Auto::new(8, mib(256)).to_string(), "auto: 8 CPUs, 3 within the 256 MiB memory limit");
        assert_eq!(Auto::new(1, mib(4096)).to_string(), "auto: 1 CPU");
    }

    #[test]
    fn the_cgroup_path_is_read_per_hierarchy() {
        let v1 = "4:memory:/process_api/c85\n2:cpuacct,cpu:/kube/pod1\n0::/\n";
        assert_eq!(cgroup_path(v1, Some("memory")).as_deref(), Some("/process_api/c85"));
        assert_eq!(cgroup_path(v1, Some("cpu")).as_deref(), Some("/kube/pod1"));
        assert_eq!(cgroup_path(v1, None).as_deref(), Some(""), "the root is the mount's top");
        assert_eq!(cgroup_path("0::/user.slice/app.scope\n", None).as_deref(), Some("/user.slice/app.scope"));
        assert_eq!(cgroup_path("", Some("memory")), None);
    }
}
