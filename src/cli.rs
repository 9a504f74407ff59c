//! The command line as typed: clap structures whose doc comments are the help text.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Take a Python web application from source to a running, production-grade service.
#[derive(Parser)]
#[command(name = "warp", version, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "Examples:
  warp build                    create .venv and install the app's dependencies
  warp start                    serve wsgi.py's application on http://127.0.0.1:8000/
  warp migrate                  the app's migrate hook, or Django's migrate
  warp project blog             a shell with the venv of project 'blog' active
  warp fixup /opt/app-root      let any UID in group 0 use a folder";

#[derive(Subcommand)]
pub enum Command {
    Build(BuildArgs),
    Start(Box<StartArgs>),
    Project(ProjectArgs),
    Exec(ExecArgs),
    Shell(ShellArgs),
    Env(EnvArgs),
    Fixup(FixupArgs),
    /// Run the app's `setup` action hook (one-off preparation: create a database, load data).
    #[command(after_help = "Examples:\n  warp setup\n  warp setup examples/django")]
    Setup(HookArgs),
    /// Run the app's `migrate` action hook; a Django app without one gets `manage.py migrate`.
    #[command(after_help = "Examples:\n  warp migrate\n  warp migrate examples/django")]
    Migrate(HookArgs),
    /// Run the app's `verify` action hook (checks before traffic: a failing one exits non-zero).
    #[command(after_help = "Examples:\n  warp verify && echo ready for traffic")]
    Verify(HookArgs),
    /// Liveness probe: exit 0 when the server gives any HTTP answer.
    ///
    /// The app's `alive` hook, if it has one, must succeed too. A failure is one line on
    /// stderr and exit 1; success prints nothing.
    #[command(after_help = "Examples:\n  warp alive\n  warp alive --port 8080 --path /healthz --timeout 2\n\nKubernetes: livenessProbe: {exec: {command: [warp, alive]}}")]
    Alive(ProbeArgs),
    /// Readiness probe: exit 0 when the server answers with a status below 500.
    ///
    /// The app's `ready` hook, if it has one, must succeed too. A failure is one line on
    /// stderr and exit 1; success prints nothing.
    #[command(after_help = "Examples:\n  warp ready\n  WARP_HEALTH_PATH=/healthz warp ready\n\nKubernetes: readinessProbe: {exec: {command: [warp, ready]}}")]
    Ready(ProbeArgs),
}

/// Where the server to probe listens: the same settings and defaults as `warp start`.
#[derive(Args)]
pub struct ProbeArgs {
    /// The app's source folder, for its probe hooks [default: the current folder].
    pub src: Option<PathBuf>,
    /// The server's address; 0.0.0.0 and :: are probed on loopback [default: 127.0.0.1].
    #[arg(long, env = "WARP_HOST")]
    pub host: Option<std::net::IpAddr>,
    /// The server's port [default: $PORT, else 8080 in a container, else 8000].
    #[arg(long, env = "WARP_PORT")]
    pub port: Option<u16>,
    /// The path to GET, query string allowed [default: the health path, else /].
    #[arg(long, env = "WARP_HEALTH_PATH", value_parser = request_path)]
    pub path: Option<String>,
    /// How long the answer may take.
    #[arg(long, default_value = "1", value_name = "SECONDS")]
    pub timeout: Seconds,
}

/// Create the app's virtualenv and install its dependencies.
///
/// The Python comes from WARP_PYTHON, .python-version, runtime.txt, else python3.
/// Dependencies come from the first of uv.lock, Pipfile.lock, requirements.txt and
/// pyproject.toml; a package (setup.py, or pyproject.toml with [build-system]) is then
/// installed itself, editable. Action hooks pre-build, build-env and build run from
/// .warp/action_hooks/; Django apps get collectstatic. Nothing is reinstalled when no
/// dependency input changed, and a failed install leaves the previous venv as it was.
#[derive(Args)]
#[command(after_help = "Examples:
  warp build                          build the app in the current folder
  warp build examples/flask           build another folder
  WARP_INSTALLER=pip warp build       use pip even when uv is installed
  WARP_PYTHON=3.12 warp build         build with Python 3.12")]
pub struct BuildArgs {
    /// The app's source folder [default: the current folder].
    pub src: Option<PathBuf>,
}

/// Create or reuse a named project venv and start a shell with it active.
///
/// The venv lives in $WARP_HOME/projects/NAME. In its shell WARP_PROJECT is set, and
/// `warp build` installs into that venv.
#[derive(Args)]
#[command(after_help = "Examples:
  warp project blog                   a shell with project blog's venv active
  warp project blog --python 3.12     create it with Python 3.12
  eval \"$(warp project blog --print-env)\"")]
pub struct ProjectArgs {
    /// The project's name: letters, digits, '.', '_' and '-'.
    pub name: String,
    /// The Python to create the venv with: a version, a command or a path.
    #[arg(long, value_name = "PY")]
    pub python: Option<String>,
    /// Print `export` lines for `eval` instead of starting a shell.
    #[arg(long)]
    pub print_env: bool,
}

/// Run a command in the app's environment.
///
/// The venv is active (its bin first on PATH, VIRTUAL_ENV set), .s2i/environment and
/// .warp/environment are applied, and the deploy-env hook's output is added. The command
/// replaces warp, so its exit code and the signals it receives are its own.
#[derive(Args)]
#[command(after_help = "Examples:
  warp exec python manage.py createsuperuser
  warp exec --src examples/flask flask --app app routes
  warp exec pip list --outdated")]
pub struct ExecArgs {
    /// The app's source folder [default: the current folder].
    #[arg(long, value_name = "DIR")]
    pub src: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Start $SHELL (else /bin/sh) in the app's environment.
#[derive(Args)]
#[command(after_help = "Examples:
  warp shell
  warp shell examples/django")]
pub struct ShellArgs {
    /// The app's source folder [default: the current folder].
    pub src: Option<PathBuf>,
}

/// Print the app's environment as `export` lines.
///
/// Only what warp adds is printed: the venv's VIRTUAL_ENV and PATH, the environment files'
/// variables and the deploy-env hook's output.
#[derive(Args)]
#[command(after_help = "Examples:
  warp env
  eval \"$(warp env)\"")]
pub struct EnvArgs {
    /// The app's source folder [default: the current folder].
    pub src: Option<PathBuf>,
}

/// The app whose action hook `warp setup`, `warp migrate` or `warp verify` runs.
#[derive(Args)]
pub struct HookArgs {
    /// The app's source folder [default: the current folder].
    pub src: Option<PathBuf>,
}

/// Give a folder to group 0 with group permissions equal to the owner's.
///
/// OpenShift runs containers as an arbitrary UID in group 0; after a fixup that UID can read,
/// run and write everything the owner could. Symlinks are not followed.
#[derive(Args)]
#[command(after_help = "Examples:
  warp fixup /opt/app-root")]
pub struct FixupArgs {
    /// The folder to fix up, recursively.
    pub dir: PathBuf,
}

/// Find the app, run its deploy hooks and serve it (embedded server, or --server).
///
/// The embedded server is a master process and its workers. The master binds the socket and keeps N worker processes running; each worker runs the
/// app in the venv's own Python with T threads. A worker that crashes, hangs, leaks or
/// reaches a recycling limit is replaced, the new one ready before the old one stops
/// accepting. SIGTERM or SIGINT stops gracefully (in-flight requests finish within the
/// shutdown timeout); SIGHUP replaces every worker (new code, no request dropped).
/// Every setting is also a WARP_* variable: --queue-timeout is WARP_QUEUE_TIMEOUT.
#[derive(Args)]
#[command(after_help = "Examples:
  warp start                              wsgi.py's `application`
  warp start . app:app --port 9000        a Flask app
  warp start --processes auto --threads 8
  warp start --reload-on-changes
  warp start --url-alias /static ./static --url-alias /media ./uploads
  warp start --document-root ./public     public/robots.txt at /robots.txt, the rest to the app
  sudo warp start --port 80 --user www-data
  warp start --setup-only --server-root /srv/blog && /srv/blog/warpctl start
  warp start --trust-proxy 10.0.0.0/8 --trust-proxy-header X-Forwarded-For
  warp start --server gunicorn            the same settings, served by the venv's gunicorn
  warp start --explain                    which app would be served, and why")]
pub struct StartArgs {
    /// The app's source folder [default: the current folder].
    #[arg(env = "WARP_SRC")]
    pub src: Option<PathBuf>,
    /// The app: `module:callable`, an app factory's call `module:create_app(literals)`, a
    /// Python file defining `application` (or `app`), a Paste Deploy .ini file, or an
    /// executable that is the server itself [default: found
    /// by the rules `--explain` shows: app.sh, WARP_APP_MODULE, WARP_APP_FILE, wsgi.py,
    /// app.py, application.py, Django's manage.py, WARP_APP_CONFIG, a Procfile's web line].
    #[arg(env = "WARP_APP")]
    pub app: Option<String>,
    /// The server: warp's embedded one, or gunicorn, waitress, mod_wsgi or uwsgi from the
    /// venv, given the same settings as its own flags (warp never installs them).
    #[arg(long, env = "WARP_SERVER_TYPE", value_enum, default_value = "warp")]
    pub server: ServerType,
    /// A path the embedded server answers itself with 200 OK (503 while stopping), without
    /// calling the app or needing a free thread: for load balancers and probes [default: off].
    #[arg(long, env = "WARP_HEALTH_PATH", value_name = "PATH", value_parser = health_path)]
    pub health_path: Option<String>,
    /// Print which app was found and why, and how it would be served; start nothing.
    #[arg(long)]
    pub explain: bool,
    /// Address to listen on [default: 0.0.0.0 in a container (APP_ROOT set), else 127.0.0.1].
    #[arg(long, env = "WARP_HOST", help_heading = "Listening")]
    pub host: Option<std::net::IpAddr>,
    /// Port to listen on [default: $PORT, else 8080 in a container, else 8000].
    #[arg(long, env = "WARP_PORT", help_heading = "Listening")]
    pub port: Option<u16>,
    /// Length of the kernel's queue of connections not yet accepted.
    #[arg(long, env = "WARP_LISTEN_BACKLOG", default_value_t = 500, help_heading = "Listening")]
    pub listen_backlog: i32,
    /// Worker processes, or `auto` for the CPUs the container may use.
    #[arg(long, env = "WARP_PROCESSES", default_value = "1", help_heading = "Capacity")]
    pub processes: Processes,
    /// Python threads per worker.
    #[arg(long, env = "WARP_THREADS", default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..), help_heading = "Capacity")]
    pub threads: u16,
    #[command(flatten)]
    pub timeouts: Timeouts,
    #[command(flatten)]
    pub recycling: Recycling,
    /// Largest request body accepted (413 beyond it): bytes, or with a K, M or G suffix.
    #[arg(long, env = "WARP_LIMIT_REQUEST_BODY", default_value = "10M", value_name = "SIZE", help_heading = "Limits")]
    pub limit_request_body: ByteSize,
    /// Replace workers when a source file (or .warp/) changes: for development.
    #[arg(long, env = "WARP_RELOAD_ON_CHANGES", value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Recycling")]
    pub reload_on_changes: bool,
    /// Serve the files under PATH at URL, from Rust (repeatable; PATH relative to the app's
    /// folder). Without it, WARP_URL_ALIAS is read: space-separated URL=PATH pairs.
    #[arg(long, num_args = 2, value_names = ["URL", "PATH"], action = clap::ArgAction::Append, help_heading = "Static files")]
    pub url_alias: Vec<String>,
    /// Serve a file from DIR when the URL names one there; other URLs go to the app.
    #[arg(long, env = "WARP_DOCUMENT_ROOT", value_name = "DIR", help_heading = "Static files")]
    pub document_root: Option<PathBuf>,
    /// A header a trusted proxy sets: X-Forwarded-For, -Proto, -Host, -Port, or X-Real-IP
    /// (repeatable; the variable takes a comma-separated list).
    #[arg(long, env = "WARP_TRUST_PROXY_HEADER", value_delimiter = ',', value_name = "HEADER", help_heading = "Proxies")]
    pub trust_proxy_header: Vec<String>,
    /// Peers whose proxy headers are believed: an address or CIDR block (repeatable)
    /// [default with --trust-proxy-header: any peer].
    #[arg(long, env = "WARP_TRUST_PROXY", value_delimiter = ',', value_name = "CIDR", help_heading = "Proxies")]
    pub trust_proxy: Vec<warp_worker_config::Cidr>,
    /// Started as root: the user the workers run as, after the master has bound the port.
    #[arg(long, env = "WARP_USER", help_heading = "Privileges")]
    pub user: Option<String>,
    /// Started as root: the workers' group [default: the user's own group].
    #[arg(long, env = "WARP_GROUP", requires = "user", help_heading = "Privileges")]
    pub group: Option<String>,
    /// Run the app as root when started as root without --user (containers that insist).
    #[arg(long, env = "WARP_ALLOW_ROOT", value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Privileges")]
    pub allow_root: bool,
    /// Write the settings, a control script and a systemd unit to --server-root; start nothing.
    #[arg(long, requires = "server_root", help_heading = "Setup")]
    pub setup_only: bool,
    /// Where --setup-only writes warp.env, warpctl and warp.service (and warpctl its pid
    /// file and logs).
    #[arg(long, env = "WARP_SERVER_ROOT", value_name = "DIR", help_heading = "Setup")]
    pub server_root: Option<PathBuf>,
    /// Access log to stdout: off, on (combined format) or json [default: on in a container].
    #[arg(long, env = "WARP_ACCESS_LOG", num_args = 0..=1, default_missing_value = "on", value_name = "FORMAT", help_heading = "Logging")]
    pub access_log: Option<AccessLog>,
    /// Least severity written to the error log (stderr): debug, info, warning or error.
    #[arg(long, env = "WARP_LOG_LEVEL", default_value = "info", value_name = "LEVEL", help_heading = "Logging")]
    pub log_level: LogLevel,
}

/// How long each stage may take, in seconds.
#[derive(Args, Clone)]
#[command(next_help_heading = "Timeouts (seconds)")]
pub struct Timeouts {
    /// A new worker must have loaded the app by then, else it is restarted and tried again.
    #[arg(long, env = "WARP_STARTUP_TIMEOUT", default_value = "15", value_name = "SECONDS")]
    pub startup_timeout: Seconds,
    /// A request that waited this long for a thread gets 503 without calling the app.
    #[arg(long, env = "WARP_QUEUE_TIMEOUT", default_value = "45", value_name = "SECONDS")]
    pub queue_timeout: Seconds,
    /// A request running this long: every thread's stack is logged and the worker replaced.
    #[arg(long, env = "WARP_REQUEST_TIMEOUT", default_value = "60", value_name = "SECONDS")]
    pub request_timeout: Seconds,
    /// Each read from or write to a client, and a request head's arrival, may take this long.
    #[arg(long, env = "WARP_SOCKET_TIMEOUT", default_value = "60", value_name = "SECONDS")]
    pub socket_timeout: Seconds,
    /// On stop (SIGTERM, SIGINT), requests in flight get this long.
    #[arg(long, env = "WARP_SHUTDOWN_TIMEOUT", default_value = "5", value_name = "SECONDS")]
    pub shutdown_timeout: Seconds,
    /// On reload or recycling, the old worker's requests in flight get this long.
    #[arg(long, env = "WARP_GRACEFUL_TIMEOUT", default_value = "15", value_name = "SECONDS")]
    pub graceful_timeout: Seconds,
}

/// When a healthy worker is replaced anyway (0: never).
#[derive(Args, Clone)]
#[command(next_help_heading = "Recycling")]
pub struct Recycling {
    /// Replace a worker after it served this many requests.
    #[arg(long, env = "WARP_MAXIMUM_REQUESTS", default_value_t = 0, value_name = "COUNT")]
    pub maximum_requests: u64,
    /// Replace a worker after it has run this many seconds.
    #[arg(long, env = "WARP_RESTART_INTERVAL", default_value = "0", value_name = "SECONDS")]
    pub restart_interval: Seconds,
    /// Replace a worker that served nothing for this many seconds (frees its memory).
    #[arg(long, env = "WARP_INACTIVITY_TIMEOUT", default_value = "0", value_name = "SECONDS")]
    pub inactivity_timeout: Seconds,
    /// Replace a worker whose resident memory exceeds SIZE (bytes, or K, M, G) [default: off].
    #[arg(long, env = "WARP_MEMORY_LIMIT", value_name = "SIZE")]
    pub memory_limit: Option<ByteSize>,
}

/// A duration given in (possibly fractional) seconds.
#[derive(Clone, Copy, Debug)]
pub struct Seconds(pub std::time::Duration);

impl std::str::FromStr for Seconds {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<f64>()
            .ok()
            .and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok())
            .map(Seconds)
            .ok_or_else(|| format!("{s:?} is not a number of seconds: give one such as 30 or 0.5"))
    }
}

/// A size in bytes, written as a number with an optional K, M or G suffix (powers of 1024).
#[derive(Clone, Copy, Debug)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            Some((at, _)) => text.split_at(at),
            None => (text, ""),
        };
        let shift = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
            "" => 0,
            "K" => 10,
            "M" => 20,
            "G" => 30,
            _ => return Err(format!("{s:?} is not a size: give bytes, or a number with K, M or G")),
        };
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(1 << shift))
            .map(ByteSize)
            .ok_or_else(|| format!("{s:?} is not a size: give bytes, or a number with K, M or G"))
    }
}

/// A path and query to request: it goes into a request line as it is.
fn request_path(text: &str) -> Result<String, String> {
    if !text.starts_with('/') || text.contains(|c: char| c == '#' || c.is_whitespace() || c.is_control()) {
        return Err(format!("{text:?} is not a URL path: give one such as /healthz"));
    }
    Ok(text.to_owned())
}

/// The health path: a path alone, as requests are matched on their path.
fn health_path(text: &str) -> Result<String, String> {
    let path = request_path(text)?;
    if path.contains('?') {
        return Err(format!("{text:?} has a query string, which the health path ignores: give the path alone, such as /healthz"));
    }
    Ok(path)
}

/// The server `warp start` runs the app with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ServerType {
    Warp,
    Gunicorn,
    Waitress,
    #[value(name = "mod_wsgi", alias = "mod-wsgi", alias = "modwsgi")]
    ModWsgi,
    Uwsgi,
}

/// The access log's format.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum AccessLog {
    #[value(alias = "false", alias = "0")]
    Off,
    #[value(alias = "true", alias = "1", alias = "combined")]
    On,
    Json,
}

/// Error log severities, least to most severe.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    #[value(alias = "warn")]
    Warning,
    Error,
}

/// A process count: a number, or `auto`.
#[derive(Clone, Copy, Debug)]
pub enum Processes {
    Auto,
    Count(usize),
}

impl std::str::FromStr for Processes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Processes::Auto),
            _ => match s.parse::<usize>() {
                Ok(n) if n > 0 => Ok(Processes::Count(n)),
                _ => Err(format!("{s:?} is not a process count: give a number above 0, or auto")),
            },
        }
    }
}
