//! The environment variables warp reads that are not its own settings: those of the
//! platform, the shell and Python. warp's `WARP_*` variables are rows of
//! [`crate::settings::table`].

/// The port to listen on when neither `--port` nor `WARP_PORT` says (as platforms set it).
pub const PORT: &str = "PORT";

/// The container application root (`/opt/app-root`): the venv lives here when it is set.
pub const APP_ROOT: &str = "APP_ROOT";
/// An active virtualenv: `warp build` installs into it.
pub const VIRTUAL_ENV: &str = "VIRTUAL_ENV";
/// Honoured when choosing the interactive shell for `warp shell` and `warp project`.
pub const SHELL: &str = "SHELL";
/// Reproducible builds' time (seconds since 1970): the mtime of every layer entry and the
/// image's creation time.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
/// Where the container engine listens (`unix:///path` or `tcp://host:port`); Docker's own
/// socket when unset.
pub const DOCKER_HOST: &str = "DOCKER_HOST";
/// Where Docker's `config.json` is (its folder); `~/.docker` when unset. A push reads the
/// registry credentials `docker login` left there.
pub const DOCKER_CONFIG: &str = "DOCKER_CONFIG";
/// A PEM file of CA certificates that a push to a registry over HTTPS trusts besides the
/// system's, e.g. a company CA.
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
/// pyenv's root, searched for interpreters named by `.python-version`.
pub const PYENV_ROOT: &str = "PYENV_ROOT";

/// Package index settings of pip and uv: `warp image` passes those the host has to its
/// build, never into the image.
pub const INDEX_SETTINGS: [&str; 7] =
    ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX"];
/// Variables that name a CA bundle, in the order `warp image` looks for one to give its build.
pub const CA_BUNDLES: [&str; 3] = ["SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"];

/// The host's package index settings, as `KEY=VALUE` lines for a build in a container.
pub fn index_settings() -> Vec<String> {
    INDEX_SETTINGS.iter().filter_map(|var| get(var).map(|value| format!("{var}={value}"))).collect()
}

/// The CA bundle the host's variables name: the first of [`CA_BUNDLES`] that names a file.
pub fn ca_bundle() -> Option<std::path::PathBuf> {
    CA_BUNDLES.iter().filter_map(|var| get(var)).map(std::path::PathBuf::from).find(|path| path.is_file())
}

/// Read a variable, treating an empty value as unset.
pub fn get(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
