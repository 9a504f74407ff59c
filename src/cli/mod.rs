//! The command line as typed: clap structures whose doc comments are the help text.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod manifest;
mod settings_args;

pub use manifest::ManifestArgs;
pub use settings_args::{ImageRows, ProbeRows, SettingArgs, StartRows};

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
  warp fixup /opt/app-root      let any UID in group 0 use a folder
  warp image myapp:1.0          build the app into an image in the local Docker engine";

#[derive(Subcommand)]
pub enum Command {
    Build(BuildArgs),
    Start(Box<StartArgs>),
    Project(ProjectArgs),
    Exec(ExecArgs),
    Shell(ShellArgs),
    Env(EnvArgs),
    Fixup(FixupArgs),
    Config(ConfigArgs),
    Image(Box<ImageArgs>),
    S2i(S2iArgs),
    Manifest(Box<ManifestArgs>),
    Recorder(RecorderArgs),
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
    #[command(
        after_help = "Examples:\n  warp alive\n  warp alive --port 8080 --path /healthz --timeout 2\n\nKubernetes: livenessProbe: {exec: {command: [warp, alive]}}"
    )]
    Alive(ProbeArgs),
    /// Readiness probe: exit 0 when the server answers with a status below 500.
    ///
    /// The app's `ready` hook, if it has one, must succeed too. A failure is one line on
    /// stderr and exit 1; success prints nothing.
    #[command(
        after_help = "Examples:\n  warp ready\n  warp ready --path /healthz\n\nKubernetes: readinessProbe: {exec: {command: [warp, ready]}}"
    )]
    Ready(ProbeArgs),
}

/// Where the server to probe listens: the same settings and defaults as `warp start`.
#[derive(Args)]
pub struct ProbeArgs {
    /// The app's source folder, for its probe hooks [default: the current folder].
    pub src: Option<PathBuf>,
    /// The server's address, port and health path, as `warp start` resolves them.
    #[command(flatten)]
    pub settings: SettingArgs<ProbeRows>,
    /// The path to GET, query string allowed [default: the health path, else /].
    #[arg(long, value_parser = warp::settings::value::request_path)]
    pub path: Option<String>,
    /// How long the answer may take.
    #[arg(long, default_value = "1", value_name = "SECONDS", value_parser = warp::settings::value::seconds)]
    pub timeout: std::time::Duration,
}

/// Build the app into a container image, through the Docker Engine API.
///
/// `warp build` runs in a container of warp's builder image (made from the base image
/// when the engine lacks it) as user 1001 in group 0. The image is the base's layers, then
/// warp, the venv and the app's source, each a reproducible layer: the same source gives
/// the same image ID. The venv's layer is cached by the dependency files, so a change to the
/// code alone rebuilds in seconds. The image runs `warp start` on port 8080 as any UID in
/// group 0. It is loaded into the engine, unless --push or --oci says where it goes instead.
///
/// The build gets the host's package index settings (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL,
/// PIP_TRUSTED_HOST, UV_INDEX_URL, UV_DEFAULT_INDEX, UV_EXTRA_INDEX_URL) and CA bundle; none
/// of them is kept in the image. .dockerignore and .warpignore leave files out; .git and .venv never go in.
#[derive(Args)]
#[command(after_help = "Examples:
  warp image myapp                            myapp:latest from the current folder
  warp image myapp:1.0 examples/flask         build another folder
  warp image myapp:1.0 --base debian-python:bookworm
  warp image registry.example.com/team/myapp:1.0 --push
  warp image myapp:1.0 --oci out/myapp        an OCI image layout for skopeo, podman, crane
  warp image myapp:1.0 --no-cache             install the dependencies again

Then run it: docker run -p 8080:8080 myapp:1.0")]
pub struct ImageArgs {
    /// The image's name and tag: NAME[:TAG], e.g. myapp:1.0 or registry.example.com/team/myapp.
    #[arg(value_parser = reference)]
    pub name: warp::image::Reference,
    /// The app's source folder [default: the current folder].
    pub src: Option<PathBuf>,
    /// The builder and base images.
    #[command(flatten)]
    pub settings: SettingArgs<ImageRows>,
    /// Push the image to the registry its name starts with, instead of loading it into the
    /// engine.
    #[arg(long)]
    pub push: bool,
    /// Write the image as an OCI image layout into DIR (new, empty, or a layout to replace)
    /// instead of loading it into the engine.
    #[arg(long, value_name = "DIR")]
    pub oci: Option<PathBuf>,
    /// Install the dependencies again even when their layer is cached.
    #[arg(long)]
    pub no_cache: bool,
    /// A variable for the build only (never kept in the image); repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = key_value)]
    pub env: Vec<String>,
    /// A CA bundle for the build's downloads, never kept in the image [default: the file
    /// SSL_CERT_FILE, PIP_CERT or REQUESTS_CA_BUNDLE names].
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Credentials for --push [default: what `docker login` stored in ~/.docker/config.json].
    #[arg(long, value_name = "USER:PASSWORD", requires = "push")]
    pub registry_auth: Option<String>,
}

/// Source-to-image builds with an s2i builder image, through the Docker Engine API.
///
/// The s2i protocol as the s2i tool speaks it, without the tool: the source (and the
/// previous image's artifacts, for an incremental build) go into a container of the builder
/// on its standard input, its assemble script runs, and the container is committed with the
/// run script as its command. Works with warp's builder and with the OpenShift Python
/// builder alike.
#[derive(Args)]
#[command(after_help = "Examples:
  warp s2i build examples/flask warp-builder:0.1.0-3f2a9c1b7d4e flask-app:1
  warp s2i build . my-builder myapp:2 --incremental --env DISABLE_MIGRATE=1
  warp s2i usage warp-builder:0.1.0-3f2a9c1b7d4e")]
pub struct S2iArgs {
    #[command(subcommand)]
    pub command: S2iCommand,
}

#[derive(Subcommand)]
pub enum S2iCommand {
    /// Build SRC with BUILDER into the image TAG.
    ///
    /// The build gets the host's package index settings (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL,
    /// PIP_TRUSTED_HOST, UV_INDEX_URL, UV_DEFAULT_INDEX, UV_EXTRA_INDEX_URL) and CA bundle for
    /// its assemble script only; --env variables are in the build and in the image.
    #[command(after_help = "Examples:
  warp s2i build examples/flask warp-builder:0.1.0-3f2a9c1b7d4e flask-app:1
  warp s2i build . my-builder myapp:2 --incremental")]
    Build(S2iBuildArgs),
    /// Print what the builder's usage script says.
    #[command(after_help = "Examples:\n  warp s2i usage warp-builder:0.1.0-3f2a9c1b7d4e")]
    Usage(S2iUsageArgs),
}

#[derive(Args)]
pub struct S2iBuildArgs {
    /// The app's source folder.
    pub src: PathBuf,
    /// The s2i builder image (its scripts-url label says where its scripts are).
    pub builder: String,
    /// The image to make: NAME[:TAG].
    #[arg(value_parser = reference)]
    pub tag: warp::image::Reference,
    /// Restore the artifacts that the image TAG's save-artifacts gives before assembling.
    #[arg(long)]
    pub incremental: bool,
    /// A variable for the build and the image; repeatable.
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE", value_parser = key_value)]
    pub env: Vec<String>,
    /// A CA bundle for the build's downloads, never kept in the image [default: the file
    /// SSL_CERT_FILE, PIP_CERT or REQUESTS_CA_BUNDLE names].
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Put the built app (/opt/app-root: the venv and the source) with warp on this image
    /// instead of committing the builder's container: a smaller image without the build's
    /// tools. It needs the builder's Python at the same path (the builder's base image has).
    #[arg(long, value_name = "IMAGE")]
    pub runtime_image: Option<String>,
}

#[derive(Args)]
pub struct S2iUsageArgs {
    /// The s2i builder image.
    pub builder: String,
}

/// Read the requests and responses that `warp start --enable-recorder DIR` recorded.
///
/// A file per request the app served holds the request's and the response's headers and
/// the first 64 KiB of each body. Secrets in Authorization, Proxy-Authorization, Cookie
/// and Set-Cookie are masked as they are recorded, keeping the scheme and the cookies'
/// names (`Bearer ****`, `session=****`), unless the server ran with
/// --recorder-keep-secrets.
#[derive(Args)]
#[command(after_help = "Examples:
  warp recorder list records                            one line per request, oldest first
  warp recorder show records 20261206-061514-4242-17    one request and its response")]
pub struct RecorderArgs {
    #[command(subcommand)]
    pub command: RecorderCommand,
}

#[derive(Subcommand)]
pub enum RecorderCommand {
    /// One line per recorded request, oldest first: time (UTC), method and target, status,
    /// duration, the request's and the response's body sizes, and the record's id.
    #[command(after_help = "Examples:\n  warp recorder list records\n  warp recorder list records | grep ' 500 '")]
    List(RecorderListArgs),
    /// One recorded request as the HTTP exchange it was: the request line, headers, a blank
    /// line and the body; then the response likewise.
    ///
    /// A body that is not text is shown as a note with its size, and a body longer than
    /// what was recorded says how long it really was.
    #[command(
        after_help = "Examples:\n  warp recorder show records 20261206-061514-4242-17\n  warp recorder show records \"$(warp recorder list records | tail -n 1 | awk '{print $NF}')\""
    )]
    Show(RecorderShowArgs),
}

#[derive(Args)]
pub struct RecorderListArgs {
    /// The folder given to --enable-recorder.
    pub dir: PathBuf,
}

#[derive(Args)]
pub struct RecorderShowArgs {
    /// The folder given to --enable-recorder.
    pub dir: PathBuf,
    /// The record's id, as `warp recorder list` shows it (its file name without .json).
    pub id: String,
}

/// An image's `NAME[:TAG]`.
fn reference(text: &str) -> Result<warp::image::Reference, String> {
    warp::image::Reference::parse(text).map_err(|err| err.to_string())
}

/// `KEY=VALUE` with a variable's name for KEY.
fn key_value(text: &str) -> Result<String, String> {
    let (key, _) = text.split_once('=').ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    let valid =
        !key.is_empty() && !key.starts_with(|c: char| c.is_ascii_digit()) && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!("{key:?} is not a variable name: use letters, digits and _"));
    }
    Ok(text.to_string())
}

/// Create the app's virtualenv and install its dependencies.
///
/// The Python comes from WARP_PYTHON, .python-version, runtime.txt, else python3.
/// Dependencies come from the first of uv.lock, Pipfile.lock, requirements.txt and
/// pyproject.toml; a package (setup.py, or pyproject.toml with [build-system]) is then
/// installed itself, editable (unless WARP_INSTALL_APP=false, or a lock already installs
/// it). Action hooks pre-build, build-env and build run from
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
/// The embedded server is a master process and its workers. The master binds the socket and
/// keeps N worker processes running; each worker runs the app in the venv's own Python with
/// T threads. A worker that crashes, hangs, leaks or reaches a recycling limit is replaced,
/// the new one ready before the old one stops accepting. SIGTERM or SIGINT stops gracefully
/// (in-flight requests finish within the shutdown timeout); SIGHUP replaces every worker
/// (new code, no request dropped).
///
/// Every setting is also a WARP_* variable (--queue-timeout is WARP_QUEUE_TIMEOUT), which
/// may come from the app's .warp/environment or .s2i/environment, and a key of
/// .warp/config.yaml; a flag beats a variable, which beats config.yaml. `warp config` shows
/// each value and where it came from.
#[derive(Args)]
#[command(after_help = "Examples:
  warp start                              wsgi.py's `application`
  warp start . app:app --port 9000        a Flask app
  warp start . 'flaskr:create_app()'      an app factory
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
    #[command(flatten)]
    pub settings: SettingArgs<StartRows>,
    /// Print which app was found and why, and how it would be served; start nothing.
    #[arg(long)]
    pub explain: bool,
    /// Write the settings, a control script and a systemd unit to --server-root; start nothing.
    #[arg(long, help_heading = "Setup")]
    pub setup_only: bool,
}

/// Print every setting warp would use for the app, its value and where it came from.
///
/// Sources, strongest first: a flag, a WARP_* variable (inherited, from .s2i/environment or
/// .warp/environment, or printed by the deploy-env hook), .warp/config.yaml, the default.
#[derive(Args)]
#[command(after_help = "Examples:
  warp config
  warp config examples/flask --json")]
pub struct ConfigArgs {
    /// The app's source folder [default: the current folder].
    pub src: Option<PathBuf>,
    /// Print JSON: a list of objects with name, variable, key, value and origin.
    #[arg(long)]
    pub json: bool,
}
