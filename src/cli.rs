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
  warp exec python manage.py migrate
  warp project blog             a shell with the venv of project 'blog' active
  warp fixup /opt/app-root      let any UID in group 0 use a folder";

#[derive(Subcommand)]
pub enum Command {
    Build(BuildArgs),
    Start(StartArgs),
    Project(ProjectArgs),
    Exec(ExecArgs),
    Shell(ShellArgs),
    Env(EnvArgs),
    Fixup(FixupArgs),
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
  warp exec python manage.py migrate
  warp exec --src examples/flask flask --app app routes")]
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

/// Serve the app with warp's embedded server: a master process and its workers.
///
/// The master binds the socket and keeps N worker processes running; each worker runs the
/// app in the venv's own Python with T threads. SIGTERM or SIGINT stops gracefully (in-flight
/// requests finish within the shutdown timeout); SIGHUP replaces every worker.
#[derive(Args)]
#[command(after_help = "Examples:
  warp start                              wsgi.py's `application`
  warp start . app:app --port 9000        a Flask app
  warp start --processes auto --threads 8")]
pub struct StartArgs {
    /// The app's source folder [default: the current folder].
    pub src: Option<PathBuf>,
    /// The app: `module:callable`, or a Python file defining `application` (or `app`)
    /// [default: wsgi.py].
    pub app: Option<String>,
    /// Address to listen on [default: 0.0.0.0 in a container (APP_ROOT set), else 127.0.0.1].
    #[arg(long, env = "WARP_HOST")]
    pub host: Option<std::net::IpAddr>,
    /// Port to listen on [default: $PORT, else 8080 in a container, else 8000].
    #[arg(long, env = "WARP_PORT")]
    pub port: Option<u16>,
    /// Worker processes, or `auto` for the CPUs the container may use.
    #[arg(long, env = "WARP_PROCESSES", default_value = "1")]
    pub processes: Processes,
    /// Python threads per worker.
    #[arg(long, env = "WARP_THREADS", default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,
    /// Seconds a stopping worker gives requests in flight.
    #[arg(long, env = "WARP_SHUTDOWN_TIMEOUT", default_value_t = 5.0, value_name = "SECONDS")]
    pub shutdown_timeout: f64,
    /// Seconds a read from or write to a client may wait.
    #[arg(long, env = "WARP_SOCKET_TIMEOUT", default_value_t = 60.0, value_name = "SECONDS")]
    pub socket_timeout: f64,
    /// Largest request body accepted, in bytes (413 beyond it).
    #[arg(long, env = "WARP_LIMIT_REQUEST_BODY", default_value_t = 10 * 1024 * 1024, value_name = "BYTES")]
    pub limit_request_body: u64,
    /// Length of the kernel's queue of connections not yet accepted.
    #[arg(long, env = "WARP_LISTEN_BACKLOG", default_value_t = 500)]
    pub listen_backlog: i32,
    /// Log every request to stdout in combined format [default: on in a container].
    #[arg(long, env = "WARP_ACCESS_LOG", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub access_log: Option<bool>,
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
