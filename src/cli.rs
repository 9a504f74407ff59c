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
  warp exec python manage.py migrate
  warp project blog             a shell with the venv of project 'blog' active
  warp fixup /opt/app-root      let any UID in group 0 use a folder";

#[derive(Subcommand)]
pub enum Command {
    Build(BuildArgs),
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
