//! Every environment variable warp reads, in one place.
//!
//! Settings resolve as: command-line flag > `WARP_*` variable > `.warp/config.yaml` >
//! detected default. The constants below are the only spelling of each name in the code.

/// Root of warp's own state: project venvs and caches. Default `~/.warp`.
pub const WARP_HOME: &str = "WARP_HOME";
/// Where installer caches live. Default `$WARP_HOME/cache`, or `$APP_ROOT/.cache` in a container.
pub const WARP_CACHE_DIR: &str = "WARP_CACHE_DIR";
/// The Python interpreter to build with: a path, a command name, or a version such as `3.12`.
pub const WARP_PYTHON: &str = "WARP_PYTHON";
/// Force the installer: `uv` or `pip`. Default: uv when it is on PATH, pip otherwise.
pub const WARP_INSTALLER: &str = "WARP_INSTALLER";
/// When set (to anything but empty), `warp build` skips Django's `collectstatic`.
pub const WARP_DISABLE_COLLECTSTATIC: &str = "WARP_DISABLE_COLLECTSTATIC";
/// When set, progress is printed as plain lines even on a terminal.
pub const WARP_NO_PROGRESS: &str = "WARP_NO_PROGRESS";
/// The compiled server module to install into venvs, instead of the one beside `warp`.
pub const WARP_SERVER_MODULE: &str = "WARP_SERVER_MODULE";
/// `warp start`'s static folders when no `--url-alias` is given: `URL=PATH` pairs.
pub const WARP_URL_ALIAS: &str = "WARP_URL_ALIAS";
/// The port to listen on when neither `--port` nor `WARP_PORT` says (as platforms set it).
pub const PORT: &str = "PORT";
/// Name of the active `warp project`; set in the shell that `warp project` starts.
pub const WARP_PROJECT: &str = "WARP_PROJECT";

/// The container application root (`/opt/app-root`): the venv lives here when it is set.
pub const APP_ROOT: &str = "APP_ROOT";
/// An active virtualenv: `warp build` installs into it.
pub const VIRTUAL_ENV: &str = "VIRTUAL_ENV";
/// Honoured when choosing the interactive shell for `warp shell` and `warp project`.
pub const SHELL: &str = "SHELL";
/// pyenv's root, searched for interpreters named by `.python-version`.
pub const PYENV_ROOT: &str = "PYENV_ROOT";

/// Read a variable, treating an empty value as unset.
pub fn get(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
