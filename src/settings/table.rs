//! The table: one row per setting, and the only place a `WARP_*` name is spelled.
//!
//! A row says how each source names the setting (flag, variable, `.warp/config.yaml` key),
//! what it means when no source gives it, the shape of its value, and its help text. The
//! command line, the resolution, `warp config`, `warp.env`, the banner and the mapping onto
//! other servers all read this table, so a new setting is one new row.

use super::value::{Choice, Item, Kind};

/// Where warp keeps its own state (project venvs, caches). Default `~/.warp`.
pub const WARP_HOME: &str = "WARP_HOME";
/// Set by `warp project` in the shell it starts: the project's name.
pub const WARP_PROJECT: &str = "WARP_PROJECT";

/// Which commands read a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `warp start`.
    Start,
    /// `warp alive` and `warp ready`, which must find the server `warp start` runs.
    Probe,
    /// `warp build`.
    Build,
    /// Image settings, read from `.warp/config.yaml` for the image build.
    Image,
    /// warp's own machinery: read from warp's environment only, never from the app's files.
    Tool,
}

/// How the command line gives a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// `--NAME VALUE`.
    Long(&'static str),
    /// A positional argument, named in help as given.
    Positional(&'static str),
    /// Only a variable or `.warp/config.yaml` gives it.
    None,
}

/// The value when no source gives one.
#[derive(Clone, Copy, Debug)]
pub enum Fallback {
    /// Unset: the feature is off, or something else decides (said in the help).
    Unset,
    Fixed(&'static str),
    /// One value on a laptop, another in a container (`APP_ROOT` set).
    Container {
        local: &'static str,
        container: &'static str,
    },
}

/// Every setting, named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Id {
    Src,
    App,
    ServerType,
    ServerArgs,
    HealthPath,
    Host,
    Port,
    PortFile,
    MetricsPort,
    MetricsHost,
    ListenBacklog,
    Processes,
    Threads,
    StartupTimeout,
    QueueTimeout,
    RequestTimeout,
    SocketTimeout,
    ShutdownTimeout,
    GracefulTimeout,
    MaximumRequests,
    RestartInterval,
    InactivityTimeout,
    MemoryLimit,
    ReloadOnChanges,
    EnableDebugger,
    EnableProfiler,
    EnableCoverage,
    EnableRecorder,
    RecorderKeepSecrets,
    LimitRequestBody,
    BufferRequestBody,
    HeaderTimeout,
    BodyTimeout,
    BodyMinRate,
    WriteMinRate,
    UrlAlias,
    DocumentRoot,
    TrustProxyHeader,
    TrustProxy,
    User,
    Group,
    AllowRoot,
    ServerRoot,
    AccessLog,
    LogLevel,
    AppScript,
    AppModule,
    AppFile,
    AppConfig,
    Detection,
    Python,
    Installer,
    DisableCollectstatic,
    InstallApp,
    PipenvVersion,
    UpgradePip,
    SeedPip,
    BuilderImage,
    BaseImage,
    ImageLabels,
    ImageExcludes,
    Home,
    CacheDir,
    ServerModule,
    NoProgress,
}

/// One setting.
#[derive(Debug)]
pub struct Setting {
    pub id: Id,
    pub arg: Arg,
    /// Its `WARP_*` variable.
    pub var: Option<&'static str>,
    /// Other variables that give it when `var` does not, as platforms set them (`PORT`).
    pub aliases: &'static [&'static str],
    /// Its key in `.warp/config.yaml`: `section.name`, or a whole section.
    pub key: Option<&'static str>,
    pub default: Fallback,
    pub kind: Kind,
    /// One or two sentences for `--help`; what the default means when it is not a value.
    pub help: &'static str,
    /// The group it is listed under in `--help`.
    pub heading: &'static str,
    pub scopes: &'static [Scope],
}

impl Setting {
    /// The name a person knows it by: its flag, else its variable, else its key.
    pub fn name(&self) -> String {
        match (self.arg, self.var, self.key) {
            (Arg::Long(flag), _, _) => format!("--{flag}"),
            (_, Some(var), _) => var.to_owned(),
            (_, None, Some(key)) => key.to_owned(),
            (_, None, None) => format!("{:?}", self.id),
        }
    }

    pub fn in_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

const SERVERS: &[Choice] = &[
    Choice { name: "warp", aliases: &["embedded"] },
    Choice { name: "gunicorn", aliases: &[] },
    Choice { name: "waitress", aliases: &[] },
    Choice { name: "mod_wsgi", aliases: &["mod-wsgi", "modwsgi"] },
    Choice { name: "uwsgi", aliases: &[] },
];
const ACCESS_LOG: &[Choice] = &[
    Choice { name: "off", aliases: &["false", "0", "no"] },
    Choice { name: "on", aliases: &["true", "1", "yes", "combined"] },
    Choice { name: "json", aliases: &[] },
];
const LOG_LEVELS: &[Choice] = &[
    Choice { name: "debug", aliases: &[] },
    Choice { name: "info", aliases: &[] },
    Choice { name: "warning", aliases: &["warn"] },
    Choice { name: "error", aliases: &[] },
];
const SWITCH: &[Choice] = &[Choice { name: "on", aliases: &["true", "1", "yes"] }, Choice { name: "off", aliases: &["false", "0", "no"] }];
const DETECTIONS: &[Choice] = &[Choice { name: "warp", aliases: &[] }, Choice { name: "s2i", aliases: &["sclorg", "openshift"] }];
const INSTALLERS: &[Choice] = &[Choice { name: "uv", aliases: &[] }, Choice { name: "pip", aliases: &[] }];

const START: &[Scope] = &[Scope::Start];
const SERVE_AND_PROBE: &[Scope] = &[Scope::Start, Scope::Probe];
const BUILD: &[Scope] = &[Scope::Build];
const IMAGE: &[Scope] = &[Scope::Image];
const TOOL: &[Scope] = &[Scope::Tool];

const SECONDS: Kind = Kind::Seconds;
const COUNT: Kind = Kind::Count { min: 0, max: u64::MAX };

pub const H_SERVER: &str = "Server";
pub const H_LISTEN: &str = "Listening";
pub const H_CAPACITY: &str = "Capacity";
/// The heading of the timeouts, which the banner lists on one line.
pub const H_TIMEOUTS: &str = "Timeouts (seconds)";
/// The heading of the recycling limits, which the banner lists on one line.
pub const H_RECYCLING: &str = "Recycling";
pub const H_LIMITS: &str = "Limits";
pub const H_STATIC: &str = "Static files";
pub const H_PROXIES: &str = "Proxies";
pub const H_PRIVILEGES: &str = "Privileges";
pub const H_SETUP: &str = "Setup";
pub const H_LOGGING: &str = "Logging";
pub const H_DETECTION: &str = "App detection";
pub const H_BUILD: &str = "Build";
pub const H_IMAGE: &str = "Image";
pub const H_TOOL: &str = "warp itself";

/// A row of `warp start` named `(--flag, WARP_FLAG, server.flag)`.
const fn server(
    id: Id,
    (flag, var, key): (&'static str, &'static str, &'static str),
    kind: Kind,
    default: Fallback,
    heading: &'static str,
    help: &'static str,
) -> Setting {
    Setting { id, arg: Arg::Long(flag), var: Some(var), aliases: &[], key: Some(key), default, kind, help, heading, scopes: START }
}

/// Every setting, in the order help and `warp config` list them.
pub const TABLE: &[Setting] = &[
    Setting {
        id: Id::Src,
        arg: Arg::Positional("SRC"),
        var: Some("WARP_SRC"),
        aliases: &[],
        key: None,
        default: Fallback::Unset,
        kind: Kind::Path,
        help: "The app's source folder [default: the current folder].",
        heading: H_SERVER,
        scopes: START,
    },
    Setting {
        id: Id::App,
        arg: Arg::Positional("APP"),
        var: Some("WARP_APP"),
        aliases: &[],
        key: Some("server.app"),
        default: Fallback::Unset,
        kind: Kind::Text,
        help: "The app: `module:callable` (or `module:factory(args)`), a Python file defining `application` (or `app`), a Paste Deploy .ini file, or an executable that is the server itself [default: found by the rules `--explain` shows].",
        heading: H_SERVER,
        scopes: START,
    },
    server(Id::ServerType, ("server", "WARP_SERVER_TYPE", "server.type"), Kind::Choice(SERVERS), Fallback::Fixed("warp"), H_SERVER,
        "The server: warp's embedded one, or gunicorn, waitress, mod_wsgi or uwsgi from the venv, given the same settings as its own flags (warp never installs them)."),
    Setting {
        id: Id::ServerArgs,
        arg: Arg::None,
        var: Some("WARP_SERVER_ARGS"),
        aliases: &[],
        key: Some("server.args"),
        default: Fallback::Unset,
        kind: Kind::Words,
        help: "More arguments: for another server, added to its command line; for the embedded server, read as `warp start` flags below the command line and variables (as .warpdrive/server_args is).",
        heading: H_SERVER,
        scopes: START,
    },
    Setting {
        id: Id::HealthPath,
        arg: Arg::Long("health-path"),
        var: Some("WARP_HEALTH_PATH"),
        aliases: &[],
        key: Some("server.health_path"),
        default: Fallback::Unset,
        kind: Kind::UrlPath,
        help: "A path the embedded server answers itself with 200 OK (503 while stopping), without calling the app or needing a free thread: for load balancers and probes [default: off].",
        heading: H_SERVER,
        scopes: SERVE_AND_PROBE,
    },
    Setting {
        id: Id::Host,
        arg: Arg::Long("host"),
        var: Some("WARP_HOST"),
        aliases: &[],
        key: Some("server.host"),
        default: Fallback::Container { local: "127.0.0.1", container: "0.0.0.0" },
        kind: Kind::Ip,
        help: "Address to listen on (probes ask loopback when it is 0.0.0.0 or ::).",
        heading: H_LISTEN,
        scopes: SERVE_AND_PROBE,
    },
    Setting {
        id: Id::Port,
        arg: Arg::Long("port"),
        var: Some("WARP_PORT"),
        aliases: &["PORT"],
        key: Some("server.port"),
        default: Fallback::Container { local: "8000", container: "8080" },
        kind: Kind::Port,
        help: "Port to listen on; 0 picks any free port, shown in the banner and written to --port-file (embedded server only). PORT is read when WARP_PORT is not set.",
        heading: H_LISTEN,
        scopes: SERVE_AND_PROBE,
    },
    server(Id::PortFile, ("port-file", "WARP_PORT_FILE", "server.port_file"), Kind::File, Fallback::Unset, H_LISTEN,
        "Write the port listened on to FILE once the first worker is ready to serve (one line, replaced atomically; removed at start and on stop), so a script can wait for the file and connect at once: with --port 0, how it learns the port. Embedded server only [default: off]."),
    server(Id::MetricsPort, ("metrics-port", "WARP_METRICS_PORT", "server.metrics_port"), Kind::Port, Fallback::Unset, H_LISTEN,
        "Serve metrics on PORT, apart from the app: /metrics for Prometheus (totals over every worker) and / for a live status page (0: any free port, shown in the banner). Embedded server only [default: off]."),
    server(Id::MetricsHost, ("metrics-host", "WARP_METRICS_HOST", "server.metrics_host"), Kind::Ip, Fallback::Fixed("127.0.0.1"), H_LISTEN,
        "Address the --metrics-port listener binds: loopback unless the metrics are to be scraped from elsewhere (0.0.0.0)."),
    server(Id::ListenBacklog, ("listen-backlog", "WARP_LISTEN_BACKLOG", "server.listen_backlog"), Kind::Count { min: 1, max: i32::MAX as u64 }, Fallback::Fixed("500"), H_LISTEN,
        "Length of the kernel's queue of connections not yet accepted."),
    server(Id::Processes, ("processes", "WARP_PROCESSES", "server.processes"), Kind::Processes, Fallback::Fixed("1"), H_CAPACITY,
        "Worker processes, or `auto`: the CPUs the container may use, at most one per 64 MiB of its memory limit (after 32 MiB for the master)."),
    server(Id::Threads, ("threads", "WARP_THREADS", "server.threads"), Kind::Count { min: 1, max: u16::MAX as u64 }, Fallback::Fixed("5"), H_CAPACITY,
        "Python threads per worker."),
    server(Id::StartupTimeout, ("startup-timeout", "WARP_STARTUP_TIMEOUT", "server.startup_timeout"), SECONDS, Fallback::Fixed("15"), H_TIMEOUTS,
        "A new worker must have loaded the app by then, else it is restarted and tried again."),
    server(Id::QueueTimeout, ("queue-timeout", "WARP_QUEUE_TIMEOUT", "server.queue_timeout"), SECONDS, Fallback::Fixed("45"), H_TIMEOUTS,
        "A request that waited this long for a thread gets 503 without calling the app."),
    server(Id::RequestTimeout, ("request-timeout", "WARP_REQUEST_TIMEOUT", "server.request_timeout"), SECONDS, Fallback::Fixed("60"), H_TIMEOUTS,
        "A request running this long: every thread's stack is logged and the worker replaced."),
    server(Id::SocketTimeout, ("socket-timeout", "WARP_SOCKET_TIMEOUT", "server.socket_timeout"), SECONDS, Fallback::Fixed("60"), H_TIMEOUTS,
        "Each read from or write to a client, and a request head's arrival, may take this long."),
    server(Id::ShutdownTimeout, ("shutdown-timeout", "WARP_SHUTDOWN_TIMEOUT", "server.shutdown_timeout"), SECONDS, Fallback::Fixed("5"), H_TIMEOUTS,
        "On stop (SIGTERM, SIGINT), requests in flight get this long."),
    server(Id::GracefulTimeout, ("graceful-timeout", "WARP_GRACEFUL_TIMEOUT", "server.graceful_timeout"), SECONDS, Fallback::Fixed("15"), H_TIMEOUTS,
        "On reload or recycling, the old worker's requests in flight get this long."),
    server(Id::MaximumRequests, ("maximum-requests", "WARP_MAXIMUM_REQUESTS", "server.maximum_requests"), COUNT, Fallback::Fixed("0"), H_RECYCLING,
        "Replace a worker after it served this many requests (0: never)."),
    server(Id::RestartInterval, ("restart-interval", "WARP_RESTART_INTERVAL", "server.restart_interval"), SECONDS, Fallback::Fixed("0"), H_RECYCLING,
        "Replace a worker after it has run this many seconds (0: never)."),
    server(Id::InactivityTimeout, ("inactivity-timeout", "WARP_INACTIVITY_TIMEOUT", "server.inactivity_timeout"), SECONDS, Fallback::Fixed("0"), H_RECYCLING,
        "Replace a worker that served nothing for this many seconds, freeing its memory (0: never)."),
    server(Id::MemoryLimit, ("memory-limit", "WARP_MEMORY_LIMIT", "server.memory_limit"), Kind::Bytes, Fallback::Unset, H_RECYCLING,
        "Replace a worker whose resident memory exceeds SIZE (bytes, or K, M, G) [default: off]."),
    server(Id::ReloadOnChanges, ("reload-on-changes", "WARP_RELOAD_ON_CHANGES", "server.reload_on_changes"), Kind::Bool, Fallback::Fixed("false"), H_RECYCLING,
        "Replace workers when a source file (or .warp/) changes: for development."),
    server(Id::EnableDebugger, ("enable-debugger", "WARP_ENABLE_DEBUGGER", "server.enable_debugger"), Kind::Bool, Fallback::Fixed("false"), H_SERVER,
        "On an exception in the app, open pdb post-mortem on the terminal warp runs in, then answer 500: for development. One process, one thread, no request timeout; needs `warp start` in the foreground on a terminal and the embedded server."),
    server(Id::EnableProfiler, ("enable-profiler", "WARP_ENABLE_PROFILER", "server.enable_profiler"), Kind::Path, Fallback::Unset, H_SERVER,
        "Profile each request with cProfile, the app's call and its response's iteration, into one .prof file per request in DIR (read with pstats or snakeviz). Embedded server only [default: off]."),
    server(Id::EnableCoverage, ("enable-coverage", "WARP_ENABLE_COVERAGE", "server.enable_coverage"), Kind::Path, Fallback::Unset, H_SERVER,
        "Measure the code coverage of every worker with coverage.py (which the app's venv must have) into DIR, one data file per worker, saved as it stops: `coverage combine DIR/.coverage.*`, then `coverage report`. Embedded server only [default: off]."),
    server(Id::EnableRecorder, ("enable-recorder", "WARP_ENABLE_RECORDER", "server.enable_recorder"), Kind::Path, Fallback::Unset, H_SERVER,
        "Record each request the app serves and its response, headers and the first 64 KiB of each body, into one JSON file per request in DIR (created when missing), with the secrets of Authorization, Cookie and Set-Cookie masked: read them with `warp recorder list DIR` and `warp recorder show DIR ID`. Embedded server only [default: off]."),
    server(Id::RecorderKeepSecrets, ("recorder-keep-secrets", "WARP_RECORDER_KEEP_SECRETS", "server.recorder_keep_secrets"), Kind::Bool, Fallback::Fixed("false"), H_SERVER,
        "Keep the values of Authorization, Proxy-Authorization, Cookie and Set-Cookie in the recorder's files as they were, instead of masking them."),
    server(Id::LimitRequestBody, ("limit-request-body", "WARP_LIMIT_REQUEST_BODY", "server.limit_request_body"), Kind::Bytes, Fallback::Fixed("10M"), H_LIMITS,
        "Largest request body accepted (413 beyond it): bytes, or with a K, M or G suffix."),
    server(Id::BufferRequestBody, ("buffer-request-body", "WARP_BUFFER_REQUEST_BODY", "server.buffer_request_body"), Kind::Choice(SWITCH), Fallback::Fixed("on"), H_LIMITS,
        "Receive a request body whole before the app is called (beyond 1 MiB into an unlinked temporary file), so a slow client never holds a Python thread; `off` streams it to wsgi.input as it arrives, for apps that process large uploads as they come."),
    server(Id::HeaderTimeout, ("header-timeout", "WARP_HEADER_TIMEOUT", "server.header_timeout"), SECONDS, Fallback::Fixed("20"), H_TIMEOUTS,
        "A request head must arrive whole within this once it began, and within --socket-timeout if that is shorter (slowloris gets 408; 0: the socket timeout alone)."),
    server(Id::BodyTimeout, ("body-timeout", "WARP_BODY_TIMEOUT", "server.body_timeout"), SECONDS, Fallback::Fixed("20"), H_TIMEOUTS,
        "A request body gets this long to arrive, plus a second for every --body-min-rate bytes received; a slower client gets 408 (a streamed body's read fails in the app; 0: no limit)."),
    server(Id::BodyMinRate, ("body-min-rate", "WARP_BODY_MIN_RATE", "server.body_min_rate"), Kind::Bytes, Fallback::Fixed("500"), H_LIMITS,
        "The rate, in bytes per second, that a request body must keep after its --body-timeout (0: the timeout is the whole allowance)."),
    server(Id::WriteMinRate, ("write-min-rate", "WARP_WRITE_MIN_RATE", "server.write_min_rate"), Kind::Bytes, Fallback::Fixed("500"), H_LIMITS,
        "The rate, in bytes per second, at which a client must take a response that waits for it, after --socket-timeout; a slower client is cut off (0: the socket timeout is the whole allowance)."),
    Setting {
        id: Id::UrlAlias,
        arg: Arg::Long("url-alias"),
        var: Some("WARP_URL_ALIAS"),
        aliases: &[],
        key: Some("static"),
        default: Fallback::Unset,
        kind: Kind::UrlAliases,
        help: "Serve the files under PATH at URL, from Rust (repeatable; PATH relative to the app's folder). The variable takes space-separated URL=PATH pairs; .warp/config.yaml a `static:` mapping of URL: PATH.",
        heading: H_STATIC,
        scopes: START,
    },
    server(Id::DocumentRoot, ("document-root", "WARP_DOCUMENT_ROOT", "server.document_root"), Kind::Path, Fallback::Unset, H_STATIC,
        "Serve a file from DIR when the URL names one there; other URLs go to the app."),
    server(Id::TrustProxyHeader, ("trust-proxy-header", "WARP_TRUST_PROXY_HEADER", "server.trust_proxy_headers"), Kind::List(Item::ProxyHeader), Fallback::Unset, H_PROXIES,
        "A header a trusted proxy sets: X-Forwarded-For, -Proto, -Host, -Port, or X-Real-IP (repeatable; the variable takes a comma-separated list)."),
    server(Id::TrustProxy, ("trust-proxy", "WARP_TRUST_PROXY", "server.trust_proxies"), Kind::List(Item::Cidr), Fallback::Unset, H_PROXIES,
        "Peers whose proxy headers are believed: an address or CIDR block (repeatable) [default with --trust-proxy-header: any peer]."),
    server(Id::User, ("user", "WARP_USER", "server.user"), Kind::Text, Fallback::Unset, H_PRIVILEGES,
        "Started as root: the user the workers run as, after the master has bound the port."),
    server(Id::Group, ("group", "WARP_GROUP", "server.group"), Kind::Text, Fallback::Unset, H_PRIVILEGES,
        "Started as root: the workers' group [default: the user's own group]."),
    server(Id::AllowRoot, ("allow-root", "WARP_ALLOW_ROOT", "server.allow_root"), Kind::Bool, Fallback::Fixed("false"), H_PRIVILEGES,
        "Run the app as root when started as root without --user (containers that insist)."),
    Setting {
        id: Id::ServerRoot,
        arg: Arg::Long("server-root"),
        var: Some("WARP_SERVER_ROOT"),
        aliases: &[],
        key: None,
        default: Fallback::Unset,
        kind: Kind::Path,
        help: "Where --setup-only writes warp.env, warpctl and warp.service (and warpctl its pid file and logs).",
        heading: H_SETUP,
        scopes: START,
    },
    server(Id::AccessLog, ("access-log", "WARP_ACCESS_LOG", "server.access_log"), Kind::Choice(ACCESS_LOG), Fallback::Container { local: "off", container: "on" }, H_LOGGING,
        "Access log to stdout: off, on (combined format) or json."),
    server(Id::LogLevel, ("log-level", "WARP_LOG_LEVEL", "server.log_level"), Kind::Choice(LOG_LEVELS), Fallback::Fixed("info"), H_LOGGING,
        "Least severity written to the error log (stderr): debug, info, warning or error."),
    detection(Id::AppScript, "WARP_APP_SCRIPT", "server.app_script", Kind::Path, "A program that is the server itself, run with PORT set (detection rule 1)."),
    detection(Id::AppModule, "WARP_APP_MODULE", "server.app_module", Kind::Text, "The app as module:callable or module:factory(args) (detection rule 2)."),
    detection(Id::AppFile, "WARP_APP_FILE", "server.app_file", Kind::Path, "A Python file defining `application` or `app`, else run as a script (detection rule 3)."),
    detection(Id::AppConfig, "WARP_APP_CONFIG", "server.app_config", Kind::Path, "A Paste Deploy .ini file whose main app is served (detection rule 5)."),
    Setting {
        id: Id::Detection,
        arg: Arg::None,
        var: Some("WARP_DETECTION"),
        aliases: &[],
        key: Some("server.detection"),
        default: Fallback::Fixed("warp"),
        kind: Kind::Choice(DETECTIONS),
        help: "The rules that find the app: warp's, or s2i, the OpenShift Python builder's in its order (gunicorn.conf.py naming wsgi_app, app.sh, app.py run as a script, WARP_APP_MODULE, wsgi.py, setup.py's package, Django); `warp start --explain` shows them.",
        heading: H_DETECTION,
        scopes: START,
    },
    Setting {
        id: Id::Python,
        arg: Arg::None,
        var: Some("WARP_PYTHON"),
        aliases: &[],
        key: Some("build.python"),
        default: Fallback::Unset,
        kind: Kind::Text,
        help: "The Python to build with: a path, a command, or a version such as 3.12 [default: .python-version, runtime.txt, the project's requires-python, else python3].",
        heading: H_BUILD,
        scopes: BUILD,
    },
    Setting {
        id: Id::Installer,
        arg: Arg::None,
        var: Some("WARP_INSTALLER"),
        aliases: &[],
        key: Some("build.installer"),
        default: Fallback::Fixed("uv"),
        kind: Kind::Choice(INSTALLERS),
        help: "The installer: uv (fetched into warp's cache when missing; pip when it cannot be had) or pip.",
        heading: H_BUILD,
        scopes: BUILD,
    },
    Setting {
        id: Id::DisableCollectstatic,
        arg: Arg::None,
        var: Some("WARP_DISABLE_COLLECTSTATIC"),
        aliases: &[],
        key: Some("build.disable_collectstatic"),
        default: Fallback::Fixed("false"),
        kind: Kind::Bool,
        help: "Skip Django's collectstatic in warp build.",
        heading: H_BUILD,
        scopes: BUILD,
    },
    Setting {
        id: Id::InstallApp,
        arg: Arg::None,
        var: Some("WARP_INSTALL_APP"),
        aliases: &[],
        key: Some("build.install_app"),
        default: Fallback::Fixed("true"),
        kind: Kind::Bool,
        help: "Install the app itself when it is a package (setup.py, or pyproject.toml with [build-system]), editable; false installs only its dependencies (a pyproject.toml's [project].dependencies still are).",
        heading: H_BUILD,
        scopes: BUILD,
    },
    Setting {
        id: Id::PipenvVersion,
        arg: Arg::None,
        var: Some("WARP_PIPENV_VERSION"),
        aliases: &[],
        key: Some("build.pipenv_version"),
        default: Fallback::Unset,
        kind: Kind::Version,
        help: "Install this release of pipenv into the venv (so `pipenv` is on the app's PATH), before the app's dependencies [default: none].",
        heading: H_BUILD,
        scopes: BUILD,
    },
    Setting {
        id: Id::UpgradePip,
        arg: Arg::None,
        var: Some("WARP_UPGRADE_PIP"),
        aliases: &[],
        key: Some("build.upgrade_pip"),
        default: Fallback::Fixed("false"),
        kind: Kind::Bool,
        help: "Upgrade pip, setuptools and wheel in the venv to their latest releases, before the app's dependencies are installed.",
        heading: H_BUILD,
        scopes: BUILD,
    },
    Setting {
        id: Id::SeedPip,
        arg: Arg::None,
        var: Some("WARP_SEED_PIP"),
        aliases: &[],
        key: Some("build.seed_pip"),
        default: Fallback::Fixed("false"),
        kind: Kind::Bool,
        help: "Put pip into a venv that uv makes, for hooks and people that run pip (a venv that pip makes always has it).",
        heading: H_BUILD,
        scopes: BUILD,
    },
    image(Id::BuilderImage, Arg::Long("builder"), Some("WARP_BUILDER_IMAGE"), "image.builder", Kind::Text, Fallback::Unset,
        "The builder image the app is built in; it must be made from the base image [default: warp's own builder, made from the base when missing]."),
    image(Id::BaseImage, Arg::Long("base"), Some("WARP_BASE_IMAGE"), "image.base", Kind::Text, Fallback::Fixed("python:3.12-slim"),
        "The image the app image starts from, and warp's builder is made from."),
    image(Id::ImageLabels, Arg::None, None, "image.labels", Kind::Map, Fallback::Unset, "Labels added to the image's config (a mapping)."),
    image(Id::ImageExcludes, Arg::None, None, "image.excludes", Kind::List(Item::Text), Fallback::Unset,
        "Patterns of files left out of the image, besides .dockerignore and .warpignore."),
    tool(Id::Home, WARP_HOME, Kind::Path, "Where warp keeps project venvs and caches [default: ~/.warp]."),
    tool(Id::CacheDir, "WARP_CACHE_DIR", Kind::Path, "Installer caches [default: $APP_ROOT/.cache in a container, else $WARP_HOME/cache]."),
    tool(Id::ServerModule, "WARP_SERVER_MODULE", Kind::Path, "The compiled server module to install into venvs [default: the one beside warp]."),
    Setting {
        id: Id::NoProgress,
        arg: Arg::None,
        var: Some("WARP_NO_PROGRESS"),
        aliases: &[],
        key: None,
        default: Fallback::Fixed("false"),
        kind: Kind::Bool,
        help: "Plain progress lines even on a terminal.",
        heading: H_TOOL,
        scopes: TOOL,
    },
];

const fn detection(id: Id, var: &'static str, key: &'static str, kind: Kind, help: &'static str) -> Setting {
    Setting {
        id,
        arg: Arg::None,
        var: Some(var),
        aliases: &[],
        key: Some(key),
        default: Fallback::Unset,
        kind,
        help,
        heading: H_DETECTION,
        scopes: START,
    }
}

const fn image(
    id: Id,
    arg: Arg,
    var: Option<&'static str>,
    key: &'static str,
    kind: Kind,
    default: Fallback,
    help: &'static str,
) -> Setting {
    Setting { id, arg, var, aliases: &[], key: Some(key), default, kind, help, heading: H_IMAGE, scopes: IMAGE }
}

const fn tool(id: Id, var: &'static str, kind: Kind, help: &'static str) -> Setting {
    Setting {
        id,
        arg: Arg::None,
        var: Some(var),
        aliases: &[],
        key: None,
        default: Fallback::Unset,
        kind,
        help,
        heading: H_TOOL,
        scopes: TOOL,
    }
}

/// The row of `id`.
pub fn row(id: Id) -> &'static Setting {
    TABLE.iter().find(|s| s.id == id).unwrap_or_else(|| unreachable!("every Id has a row (checked by a test): {id:?}"))
}

/// The variable of `id`: for messages and for the variables warp sets itself.
pub fn var(id: Id) -> &'static str {
    row(id).var.unwrap_or_else(|| unreachable!("{id:?} has no variable"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_unique_and_every_default_parses() {
        let mut seen = std::collections::HashSet::new();
        for row in TABLE {
            assert!(seen.insert(format!("{:?}", row.id)), "{:?} twice", row.id);
            for name in [row.var, row.key, if let Arg::Long(f) = row.arg { Some(f) } else { None }].into_iter().flatten() {
                assert!(seen.insert(name.to_owned()), "{name} twice");
            }
            let defaults = match row.default {
                Fallback::Unset => vec![],
                Fallback::Fixed(text) => vec![text],
                Fallback::Container { local, container } => vec![local, container],
            };
            for text in defaults {
                row.kind.parse(text).unwrap_or_else(|e| panic!("{:?}: default {text}: {e}", row.id));
            }
            if let Some(var) = row.var {
                assert!(var.starts_with("WARP_"), "{var}");
            }
            assert!(row.key.is_some() || row.var.is_some(), "{:?} cannot be set", row.id);
            assert!(!row.in_scope(Scope::Tool) || row.key.is_none(), "{:?}: warp's own settings are not the app's", row.id);
        }
    }

    #[test]
    fn every_id_has_a_row() {
        // The last Id; a new one added after it must be listed here too.
        let ids = TABLE.iter().map(|row| row.id).collect::<Vec<_>>();
        assert_eq!(ids.len(), Id::NoProgress as usize + 1);
        for (index, id) in ids.iter().enumerate() {
            assert_eq!(*id as usize, index, "rows follow the order of Id");
        }
    }
}
