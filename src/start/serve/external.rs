//! `warp start --server gunicorn|waitress|mod_wsgi|uwsgi`: the same resolved settings,
//! mapped onto another server's own flags.
//!
//! warp never installs these servers: one missing from the venv is an error that says how
//! to add it. Settings a server has no equivalent for are listed, not silently dropped.
//! Static folders go to the server's own static file support (mod_wsgi's `--url-alias`,
//! uWSGI's `--static-map`); gunicorn and waitress have none, so the app is wrapped in
//! WhiteNoise when the venv has it.
//!
//! gunicorn gives its command line precedence over `GUNICORN_CMD_ARGS` and its config file,
//! so warp's mapped flags would override the app's own configuration of it. When the app
//! has one ([`gunicorn_config::Own`]), warp passes only what it must: the app, `--bind` to
//! the address it resolved unless the app's settings bind, and `--user`/`--group` when
//! started as root; every other setting is the app's configuration's, and a note says which
//! of warp's were given and are not applied.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use warp_worker_config::{AccessLogFormat, UrlAlias};

use crate::settings::{table, Arg, Id, Processes, Scope, Settings, Value};
use crate::start::detect::{self, Target, Wsgi};
use crate::start::serve::gunicorn_config::{self, Own, GUNICORN_CMD_ARGS};
use crate::start::serve::supervisor::Plan;

/// A server other than the embedded one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Gunicorn,
    Waitress,
    ModWsgi,
    Uwsgi,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Gunicorn => "gunicorn",
            Server::Waitress => "waitress",
            Server::ModWsgi => "mod_wsgi",
            Server::Uwsgi => "uwsgi",
        }
    }

    /// Its executable in the venv's bin folder.
    fn executable(self) -> &'static str {
        match self {
            Server::Gunicorn => "gunicorn",
            Server::Waitress => "waitress-serve",
            Server::ModWsgi => "mod_wsgi-express",
            Server::Uwsgi => "uwsgi",
        }
    }

    /// The settings it has a flag (or a way) for; any other that is on gets a note.
    #[rustfmt::skip]
    fn applies(self) -> &'static [Id] {
        use Id::*;
        match self {
            Server::Gunicorn => &[
                Host, Port, ListenBacklog, Processes, Threads, RequestTimeout, ShutdownTimeout, MaximumRequests,
                UrlAlias, DocumentRoot, TrustProxyHeader, TrustProxy, ReloadOnChanges, User, Group, AccessLog, LogLevel,
            ],
            Server::Waitress => &[Host, Port, ListenBacklog, Threads, SocketTimeout, LimitRequestBody, UrlAlias, DocumentRoot, User, Group],
            Server::ModWsgi => &[
                Host, Port, ListenBacklog, Processes, Threads, StartupTimeout, QueueTimeout, RequestTimeout, SocketTimeout,
                ShutdownTimeout, GracefulTimeout, MaximumRequests, RestartInterval, InactivityTimeout, LimitRequestBody,
                UrlAlias, DocumentRoot, TrustProxyHeader, TrustProxy, ReloadOnChanges, User, Group, AccessLog, LogLevel,
            ],
            Server::Uwsgi => &[
                Host, Port, ListenBacklog, Processes, Threads, RequestTimeout, SocketTimeout, ShutdownTimeout, GracefulTimeout,
                MaximumRequests, RestartInterval, MemoryLimit, LimitRequestBody, UrlAlias, DocumentRoot, ReloadOnChanges,
                User, Group, AccessLog,
            ],
        }
    }

    /// How to get it into the venv.
    fn how_to_install(self) -> &'static str {
        match self {
            Server::Gunicorn => "add gunicorn to the requirements and run `warp build`",
            Server::Waitress => "add waitress to the requirements and run `warp build`",
            Server::ModWsgi => {
                "add mod_wsgi to the requirements (it compiles against Apache: install apache2-dev first) and run `warp build`"
            }
            Server::Uwsgi => {
                "add uwsgi to the requirements (it compiles: a C compiler and Python's headers are needed) and run `warp build`"
            }
        }
    }
}

/// The command that runs the app under another server, ready to start.
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Variables on top of the app's environment.
    pub env: Vec<(String, OsString)>,
    /// Settings that server cannot apply, one line each.
    pub notes: Vec<String>,
    /// The server binds as root and then switches to `--user` itself.
    pub switches_user: bool,
    /// The generated launch module (path and code), written by [`Launch::prepare`].
    module: Option<(PathBuf, String)>,
}

impl Launch {
    /// Write what the command needs on disk (the generated launch module), replacing any
    /// earlier one whole.
    pub fn prepare(&self) -> Result<()> {
        let Some((path, code)) = &self.module else { return Ok(()) };
        let dir = path.parent().context("the launch module has no folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let temp = dir.join(format!(".{WRAPPER_MODULE}.py.tmp"));
        std::fs::write(&temp, code).with_context(|| format!("cannot write {}", temp.display()))?;
        std::fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))
    }

    /// The command line, for the banner and `--explain`.
    pub fn shown(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Where the app's pieces are.
pub struct Paths<'a> {
    pub src: &'a Path,
    pub venv: &'a Path,
}

/// Map `plan` onto `server`'s flags for `wsgi`. Static folders are `plan.worker`'s; the
/// settings say which were given and what else to add (`server.args`).
pub fn launch(server: Server, plan: &Plan, settings: &Settings, wsgi: &Wsgi, paths: &Paths) -> Result<Launch> {
    let program = paths.venv.join("bin").join(server.executable());
    if !program.is_file() {
        bail!(
            "--server {} needs {} in the venv ({}), and warp does not install servers by itself: {}, or leave out --server to use the embedded server",
            server.name(),
            server.executable(),
            paths.venv.display(),
            server.how_to_install()
        );
    }
    if server == Server::ModWsgi && plan.credentials.is_none() && nix::unistd::Uid::effective().is_root() {
        bail!("mod_wsgi-express will not run the app as root: add --user NAME (and --group GROUP) for its worker processes");
    }
    let switches_user = server != Server::Waitress;
    let mut launch = Launch { program, args: Vec::new(), env: Vec::new(), notes: Vec::new(), switches_user, module: None };
    let mut python_path: Vec<&Path> = vec![paths.src];
    python_path.extend(wsgi.target.extra_path(paths.src));
    match server {
        Server::Gunicorn => {
            let theirs = Theirs::find(plan, settings, paths)?;
            gunicorn(&mut launch, plan, wsgi, paths, &theirs);
            match &theirs.own {
                Some(own) => configured_by_the_app(&mut launch, own, &theirs, plan, settings),
                None => unsupported(&mut launch, server, settings),
            }
        }
        Server::Waitress => waitress(&mut launch, plan, wsgi, paths),
        Server::ModWsgi => mod_wsgi(&mut launch, plan, wsgi, paths, &python_path),
        Server::Uwsgi => uwsgi(&mut launch, plan, wsgi, paths, &python_path),
    }
    if server != Server::Gunicorn {
        unsupported(&mut launch, server, settings);
    }
    if plan.worker.health_path.is_some() {
        launch.notes.push(format!("{} has no health path of its own: --health-path requests go to the app", server.name()));
    }
    // The app's own arguments for its server (server.args, warpdrive's server_args) last,
    // so they can refine what warp mapped.
    launch.args.extend(settings.list(Id::ServerArgs).iter().map(OsString::from));
    // The app's modules and warp's launch module come first; the app's own PYTHONPATH after.
    let launcher = wrapper_dir(paths);
    let mut entries: Vec<PathBuf> = python_path.iter().map(|p| p.to_path_buf()).collect();
    entries.push(launcher);
    entries.extend(plan.env.get("PYTHONPATH").iter().flat_map(std::env::split_paths));
    let joined = std::env::join_paths(entries).context("a module folder's name cannot be put on PYTHONPATH")?;
    launch.env.push(("PYTHONPATH".to_owned(), joined));
    Ok(launch)
}

fn arg(launch: &mut Launch, items: &[&str]) {
    launch.args.extend(items.iter().map(OsString::from));
}

fn secs(d: Duration) -> String {
    // Servers take whole seconds; a fraction rounds up so a limit is never tighter.
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).to_string()
}

fn host_port(plan: &Plan) -> String {
    plan.bind.to_string()
}

/// Note every server setting that is on and `server` has no way to apply.
fn unsupported(launch: &mut Launch, server: Server, settings: &Settings) {
    let missing: Vec<String> = settings
        .entries()
        .filter(|e| e.row.in_scope(Scope::Start) && matches!(e.row.arg, Arg::Long(_)) && SERVING.contains(&e.row.heading))
        .filter(|e| !server.applies().contains(&e.row.id) && e.row.id != Id::HealthPath)
        .filter(|e| match &e.value {
            // One process is what a server that has no processes runs anyway.
            Some(Value::Processes(Processes::Count(1))) | None => false,
            Some(value) => !value.is_off(),
        })
        .map(|e| e.row.name())
        .collect();
    if !missing.is_empty() {
        launch.notes.push(format!("{} has no equivalent of warp's {}: not applied", server.name(), missing.join(", ")));
    }
}

/// The note for gunicorn configured by the app itself: what configures it, what warp still
/// passes, and which of warp's settings were given but are left to that configuration.
fn configured_by_the_app(launch: &mut Launch, own: &Own, theirs: &Theirs, plan: &Plan, settings: &Settings) {
    let passed = if theirs.binds { "the app (its settings bind)".to_owned() } else { format!("--bind {} and the app", host_port(plan)) };
    let given: Vec<String> = settings
        .entries()
        .filter(|e| e.row.in_scope(Scope::Start) && matches!(e.row.arg, Arg::Long(_)) && SERVING.contains(&e.row.heading))
        .filter(|e| !matches!(e.row.id, Id::Host | Id::Port) || theirs.binds)
        .filter(|e| settings.is_given(e.row.id))
        .map(|e| e.row.name())
        .collect();
    let not_applied = if given.is_empty() { String::new() } else { format!("; warp's {} not applied", given.join(", ")) };
    launch
        .notes
        .push(format!("gunicorn is configured by {own}, which warp's flags would override: warp passes only {passed}{not_applied}"));
}

/// The help headings of the settings that say how the app is served.
const SERVING: [&str; 8] = [
    table::H_LISTEN,
    table::H_CAPACITY,
    table::H_TIMEOUTS,
    table::H_RECYCLING,
    table::H_LIMITS,
    table::H_STATIC,
    table::H_PROXIES,
    table::H_LOGGING,
];

/// What the app's own settings say to gunicorn: its configuration, if it has one, and
/// whether they bind (server args included, where a second `--bind` would add an address).
struct Theirs {
    own: Option<Own>,
    binds: bool,
}

impl Theirs {
    fn find(plan: &Plan, settings: &Settings, paths: &Paths) -> Result<Theirs> {
        let server_args = settings.list(Id::ServerArgs);
        let own = Own::find(server_args, plan.env.get(GUNICORN_CMD_ARGS).as_deref(), paths.src)?;
        let file_names = match own.as_ref().and_then(|own| Some((own, own.file_in(paths.src)?))) {
            Some((own, file)) if !file.is_file() => {
                bail!("gunicorn's config file {} does not exist (named by {own}): create it, or name another", file.display())
            }
            Some((_, file)) => {
                let ctx = detect::Input { src: paths.src, python: &plan.python, env: &plan.env, settings };
                detect::top_level_names(&ctx, &file).context("gunicorn's config file is read to see whether it binds")?
            }
            None => Vec::new(),
        };
        let cmd_args = own.as_ref().and_then(|own| own.cmd_args.clone()).unwrap_or_default();
        let binds = gunicorn_config::binds(&[server_args, &cmd_args], &file_names);
        Ok(Theirs { own, binds })
    }
}

fn gunicorn(launch: &mut Launch, plan: &Plan, wsgi: &Wsgi, paths: &Paths, theirs: &Theirs) {
    let w = &plan.worker;
    if !theirs.binds {
        arg(launch, &["--bind", &host_port(plan)]);
    }
    if theirs.own.is_none() {
        let (workers, threads, backlog) = (plan.processes.to_string(), w.threads.to_string(), plan.backlog.to_string());
        arg(launch, &["--backlog", &backlog, "--workers", &workers, "--threads", &threads]);
        arg(launch, &["--timeout", &secs(w.request_timeout), "--graceful-timeout", &secs(w.shutdown_timeout)]);
        arg(launch, &["--chdir", &paths.src.to_string_lossy(), "--error-logfile", "-", "--log-level", w.log_level.as_str()]);
        if w.maximum_requests > 0 {
            arg(launch, &["--max-requests", &w.maximum_requests.to_string()]);
        }
        if w.access_log != AccessLogFormat::Off {
            arg(launch, &["--access-logfile", "-"]);
        }
        if !w.trust_proxy_headers.is_empty() {
            let peers = if w.trusted_proxies.is_empty() {
                "*".to_owned()
            } else {
                w.trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
            };
            arg(launch, &["--forwarded-allow-ips", &peers]);
        }
        if plan.watch.is_some() {
            arg(launch, &["--reload"]);
        }
    }
    // The app must not run as root, whatever its configuration says.
    if let Some(creds) = &plan.credentials {
        arg(launch, &["--user", &creds.uid.to_string(), "--group", &creds.gid.to_string()]);
    }
    match wrapped(launch, Server::Gunicorn, plan, wsgi, paths) {
        Some(spec) => arg(launch, &[&spec]),
        None => match &wsgi.target {
            Target::Paste(ini) => arg(launch, &["--paste", &ini.to_string_lossy()]),
            // gunicorn reads a plain name or a call of one after the colon, not a dotted path.
            Target::Module { callable, .. } if callable.contains('.') => {
                let spec = launch_module(launch, paths, wsgi, None);
                arg(launch, &[&spec]);
            }
            target => arg(launch, &[&target.to_string()]),
        },
    }
}

fn waitress(launch: &mut Launch, plan: &Plan, wsgi: &Wsgi, paths: &Paths) {
    let w = &plan.worker;
    let listen = format!("--listen={}", host_port(plan));
    arg(launch, &[&listen, &format!("--threads={}", w.threads), &format!("--backlog={}", plan.backlog)]);
    arg(launch, &[&format!("--channel-timeout={}", secs(w.socket_timeout)), &format!("--max-request-body-size={}", w.limit_request_body)]);
    let spec = match wrapped(launch, Server::Waitress, plan, wsgi, paths) {
        Some(spec) => spec,
        // waitress-serve cannot read a Paste file or call a factory with arguments itself:
        // the wrapper module does it.
        None if matches!(wsgi.target, Target::Paste(_)) || is_factory(wsgi) => launch_module(launch, paths, wsgi, None),
        None => wsgi.target.to_string(),
    };
    arg(launch, &[&spec]);
    if plan.processes > 1 {
        launch.notes.push("waitress is one process: its capacity is its threads, so --processes is not applied".to_owned());
    }
    if plan.credentials.is_some() {
        // It cannot drop privileges itself, so it starts as the user: ports below 1024 fail.
        launch.notes.push("waitress cannot drop privileges after binding: it runs as --user from the start".to_owned());
    }
}

fn mod_wsgi(launch: &mut Launch, plan: &Plan, wsgi: &Wsgi, paths: &Paths, python_path: &[&Path]) {
    let w = &plan.worker;
    arg(launch, &["start-server"]);
    match &wsgi.target {
        // mod_wsgi cannot call a factory: it loads the generated module's `application`.
        _ if is_factory(wsgi) => {
            launch_module(launch, paths, wsgi, None);
            let file = launch_module_path(paths);
            arg(launch, &[&file.to_string_lossy(), "--application-type", "script", "--callable-object", "application"]);
        }
        Target::Module { callable, file: Some(file), .. } => {
            arg(launch, &[&file.to_string_lossy(), "--application-type", "script", "--callable-object", callable]);
        }
        Target::Module { module, callable, file: None, .. } => {
            arg(launch, &[module, "--application-type", "module", "--callable-object", callable]);
        }
        Target::Paste(ini) => arg(launch, &[&ini.to_string_lossy(), "--application-type", "paste"]),
    }
    let (host, port) = (plan.bind.ip().to_string(), plan.bind.port().to_string());
    arg(launch, &["--host", &host, "--port", &port, "--server-backlog", &plan.backlog.to_string()]);
    arg(launch, &["--processes", &plan.processes.to_string(), "--threads", &w.threads.to_string()]);
    for (flag, value) in [
        ("--startup-timeout", plan.startup_timeout),
        ("--queue-timeout", w.queue_timeout),
        ("--request-timeout", w.request_timeout),
        ("--socket-timeout", w.socket_timeout),
        ("--shutdown-timeout", w.shutdown_timeout),
        ("--graceful-timeout", w.graceful_timeout),
        ("--restart-interval", w.restart_interval),
        ("--inactivity-timeout", w.inactivity_timeout),
    ] {
        arg(launch, &[flag, &secs(value)]);
    }
    arg(launch, &["--maximum-requests", &w.maximum_requests.to_string(), "--limit-request-body", &w.limit_request_body.to_string()]);
    for UrlAlias { url, path } in &w.url_aliases {
        arg(launch, &["--url-alias", url.trim_end_matches('/'), path]);
    }
    if let Some(root) = &w.document_root {
        arg(launch, &["--document-root", root]);
    }
    for header in &w.trust_proxy_headers {
        arg(launch, &["--trust-proxy-header", header]);
    }
    for proxy in &w.trusted_proxies {
        arg(launch, &["--trust-proxy", &proxy.to_string()]);
    }
    if plan.watch.is_some() {
        arg(launch, &["--reload-on-changes"]);
    }
    arg(launch, &["--log-to-terminal", "--log-level", mod_wsgi_level(w.log_level.as_str())]);
    // Its own locale guess may name one the machine lacks; warp's choice is checked.
    if let Some(locale) = plan.env.get("LC_ALL").or_else(|| plan.env.get("LANG")) {
        arg(launch, &["--locale", &locale]);
    }
    if w.access_log != AccessLogFormat::Off {
        arg(launch, &["--access-log"]);
    }
    for dir in python_path {
        arg(launch, &["--python-path", &dir.to_string_lossy()]);
    }
    arg(launch, &["--working-directory", &python_path[0].to_string_lossy()]);
    if let Some(creds) = &plan.credentials {
        arg(launch, &["--user", &creds.name]);
        if let Ok(Some(group)) = nix::unistd::Group::from_gid(creds.gid) {
            arg(launch, &["--group", &group.name]);
        }
    }
}

/// Apache's names for the levels warp shares with it.
fn mod_wsgi_level(level: &str) -> &str {
    match level {
        "warning" => "warn",
        other => other,
    }
}

fn uwsgi(launch: &mut Launch, plan: &Plan, wsgi: &Wsgi, paths: &Paths, python_path: &[&Path]) {
    let w = &plan.worker;
    arg(launch, &["--http-socket", &host_port(plan), "--listen", &plan.backlog.to_string()]);
    // A master that stops on SIGTERM (uWSGI 2.0 reloads on it otherwise), each worker
    // loading the app itself after the fork, as warp's own workers do.
    arg(launch, &["--master", "--die-on-term", "--need-app", "--lazy-apps", "--enable-threads", "--single-interpreter", "--strict"]);
    arg(launch, &["--processes", &plan.processes.to_string(), "--threads", &w.threads.to_string()]);
    arg(launch, &["--home", &paths.venv.to_string_lossy(), "--chdir", &paths.src.to_string_lossy()]);
    for dir in python_path {
        arg(launch, &["--pythonpath", &dir.to_string_lossy()]);
    }
    match &wsgi.target {
        Target::Paste(ini) => arg(launch, &["--paste", &format!("config:{}", ini.display())]),
        // uWSGI cannot call a factory: it loads the generated module's `application`.
        _ if is_factory(wsgi) => {
            launch_module(launch, paths, wsgi, None);
            arg(launch, &["--wsgi-file", &launch_module_path(paths).to_string_lossy()]);
        }
        target => arg(launch, &["--module", &target.to_string()]),
    }
    arg(
        launch,
        &["--socket-timeout", &secs(w.socket_timeout), "--limit-post", &w.limit_request_body.to_string(), "--buffer-size", "65535"],
    );
    if !w.request_timeout.is_zero() {
        arg(launch, &["--harakiri", &secs(w.request_timeout)]);
    }
    arg(launch, &["--worker-reload-mercy", &secs(w.graceful_timeout), "--reload-mercy", &secs(w.shutdown_timeout)]);
    if w.maximum_requests > 0 {
        arg(launch, &["--max-requests", &w.maximum_requests.to_string()]);
    }
    if !w.restart_interval.is_zero() {
        arg(launch, &["--max-worker-lifetime", &secs(w.restart_interval)]);
    }
    if w.memory_limit > 0 {
        arg(launch, &["--reload-on-rss", &(w.memory_limit >> 20).max(1).to_string()]);
    }
    for UrlAlias { url, path } in &w.url_aliases {
        arg(launch, &["--static-map", &format!("{}={path}", url.trim_end_matches('/'))]);
    }
    if let Some(root) = &w.document_root {
        arg(launch, &["--check-static", root]);
    }
    if w.access_log == AccessLogFormat::Off {
        arg(launch, &["--disable-logging"]);
    }
    if plan.watch.is_some() {
        arg(launch, &["--py-autoreload", "1"]);
    }
    if let Some(creds) = &plan.credentials {
        arg(launch, &["--uid", &creds.uid.to_string(), "--gid", &creds.gid.to_string()]);
    }
}

/// For gunicorn and waitress, which serve no files: when there are static folders, the
/// app wrapped in WhiteNoise (if the venv has it), as a generated module's `application`.
fn wrapped(launch: &mut Launch, server: Server, plan: &Plan, wsgi: &Wsgi, paths: &Paths) -> Option<String> {
    let w = &plan.worker;
    let mut folders: Vec<(String, String)> = w.url_aliases.iter().map(|a| (a.url.clone(), a.path.clone())).collect();
    folders.extend(w.document_root.iter().map(|root| ("/".to_owned(), root.clone())));
    if folders.is_empty() {
        return None;
    }
    if !has_package(paths.venv, "whitenoise") {
        let urls: Vec<&str> = folders.iter().map(|(url, _)| url.as_str()).collect();
        launch.notes.push(format!(
            "{} serves no static files, so {} will not be served: add whitenoise to the requirements and run `warp build`, or use the embedded server",
            server.name(),
            urls.join(", ")
        ));
        return None;
    }
    Some(launch_module(launch, paths, wsgi, Some(&folders)))
}

/// The folder of the generated wrapper module: inside the venv, which belongs to the app's
/// build and is on every server's path through PYTHONPATH.
fn wrapper_dir(paths: &Paths) -> PathBuf {
    paths.venv.join("warp-launch")
}

const WRAPPER_MODULE: &str = "warp_launch_app";

/// The generated module's file.
fn launch_module_path(paths: &Paths) -> PathBuf {
    wrapper_dir(paths).join(format!("{WRAPPER_MODULE}.py"))
}

/// Whether the app is what an app factory returns (`module:create_app(...)`).
fn is_factory(wsgi: &Wsgi) -> bool {
    matches!(wsgi.target, Target::Module { call: Some(_), .. })
}

/// Have `launch` generate the module that loads the app (and wraps it in WhiteNoise for
/// `folders`); returns its `module:callable`.
fn launch_module(launch: &mut Launch, paths: &Paths, wsgi: &Wsgi, folders: Option<&[(String, String)]>) -> String {
    let quote = |s: &str| serde_json::to_string(s).expect("a string always encodes");
    let mut code = String::from("# Written by `warp start`: the app as warp hands it to the server. Rewritten at every start.\n");
    match &wsgi.target {
        Target::Paste(ini) => {
            code.push_str("from paste.deploy import loadapp\n\n");
            code.push_str(&format!("application = loadapp({})\n", quote(&format!("config:{}", ini.display()))));
        }
        Target::Module { module, callable, call, .. } => {
            code.push_str("import importlib\n\n");
            code.push_str(&format!("application = importlib.import_module({})\n", quote(module)));
            code.push_str(&format!("for _name in {}.split('.'):\n    application = getattr(application, _name)\n", quote(callable)));
            if let Some(args) = call {
                // Written as given: detection checked, with the worker's own reader, that
                // the arguments are literals and nothing else.
                code.push_str(&format!("application = application({args})\n"));
            }
        }
    }
    if let Some(folders) = folders {
        code.push_str("\nfrom whitenoise import WhiteNoise\n\napplication = WhiteNoise(application)\n");
        for (url, path) in folders {
            code.push_str(&format!("application.add_files({}, prefix={})\n", quote(path), quote(url)));
        }
    }
    launch.module = Some((launch_module_path(paths), code));
    format!("{WRAPPER_MODULE}:application")
}

/// Whether the venv has a top-level package `name` installed (in any of its site folders).
fn has_package(venv: &Path, name: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(venv.join("lib")) else { return false };
    entries.flatten().any(|entry| entry.path().join("site-packages").join(name).join("__init__.py").is_file())
}
