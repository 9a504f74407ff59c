//! Where things live: the app source, its venv, its `.warp/` settings, warp's home and caches.
//!
//! The rules are those of DESIGN.md section 2. This module only computes paths; it creates
//! nothing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::env_vars;
use crate::settings::{self, Id};

/// The folder of the app's warp settings, and the older name read in its place.
const CONFIG_DIR: &str = ".warp";
const LEGACY_CONFIG_DIR: &str = ".warpdrive";

/// The places one app's commands work with.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The app source (SRC), absolute.
    pub src: PathBuf,
    /// The virtualenv the app runs in.
    pub venv: PathBuf,
    /// `SRC/.warp`, or `SRC/.warpdrive` for a project that has only that.
    pub config_dir: PathBuf,
    /// Installer caches.
    pub cache: PathBuf,
}

impl Layout {
    /// Resolve the layout for the app at `src` (the current directory when `None`).
    pub fn discover(src: Option<&Path>) -> Result<Layout> {
        let src = match src {
            Some(path) => path.to_path_buf(),
            None => std::env::current_dir().context("cannot read the current directory")?,
        };
        if !src.is_dir() {
            bail!("source directory {} does not exist: pass the app's folder", src.display());
        }
        let src = src.canonicalize().with_context(|| format!("cannot resolve source directory {}", src.display()))?;
        let venv = match (env_vars::get(env_vars::VIRTUAL_ENV), env_vars::get(env_vars::APP_ROOT)) {
            (Some(active), _) => PathBuf::from(active),
            (None, Some(app_root)) => PathBuf::from(app_root),
            (None, None) => src.join(".venv"),
        };
        let config_dir = config_dir_of(&src);
        Ok(Layout { src, venv, config_dir, cache: cache_dir()? })
    }

    /// The executable of the app's action hook `name`, whether or not it exists.
    pub fn hook(&self, name: &str) -> PathBuf {
        self.config_dir.join("action_hooks").join(name)
    }

    /// The folder of a warpdrive project read as `.warp/`, whose `server_type` and
    /// `server_args` files configure the server too.
    pub fn legacy_dir(&self) -> Option<&Path> {
        self.config_dir.ends_with(LEGACY_CONFIG_DIR).then_some(self.config_dir.as_path())
    }

    /// The `KEY=VALUE` files applied to the app's environment, lowest precedence first.
    pub fn environment_files(&self) -> [PathBuf; 2] {
        [self.src.join(".s2i").join("environment"), self.config_dir.join("environment")]
    }
}

/// `SRC/.warp`, unless only a `.warpdrive/` exists: warpdrive projects move over unchanged.
fn config_dir_of(src: &Path) -> PathBuf {
    let current = src.join(CONFIG_DIR);
    let legacy = src.join(LEGACY_CONFIG_DIR);
    if !current.exists() && legacy.is_dir() {
        legacy
    } else {
        current
    }
}

/// `$WARP_HOME`, else `~/.warp`.
pub fn warp_home() -> Result<PathBuf> {
    let var = settings::table::WARP_HOME;
    if let Some(home) = env_vars::get(var) {
        return Ok(PathBuf::from(home));
    }
    let home =
        std::env::home_dir().filter(|h| !h.as_os_str().is_empty()).with_context(|| format!("cannot find the home directory: set {var}"))?;
    Ok(home.join(".warp"))
}

/// `$WARP_CACHE_DIR`, else `$APP_ROOT/.cache` in a container, else `$WARP_HOME/cache`.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = env_vars::get(settings::var(Id::CacheDir)) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(app_root) = env_vars::get(env_vars::APP_ROOT) {
        return Ok(PathBuf::from(app_root).join(".cache"));
    }
    Ok(warp_home()?.join("cache"))
}
