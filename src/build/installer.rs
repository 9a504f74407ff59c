//! The package installers warp drives: uv when it is available, pip otherwise.
//!
//! Both install into a given venv from requirements files and share warp's cache folder.
//! uv is also needed to read `uv.lock`; when it is not on PATH, warp installs it once from
//! PyPI into its cache (`WARP_INSTALLER=uv` does the same).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::appenv::AppEnv;
use crate::build::python::Interpreter;
use crate::report::Reporter;
use crate::settings::{self, Id};
use crate::{env_vars, pathsearch, process};

/// Which program installs packages.
#[derive(Debug, Clone)]
pub enum Installer {
    Uv(PathBuf),
    Pip,
}

/// The environment every installer command runs with.
pub struct Job<'a> {
    pub cache: &'a Path,
    pub python: &'a Interpreter,
    pub env: &'a AppEnv,
    pub src: &'a Path,
    pub reporter: &'a dyn Reporter,
}

impl Installer {
    /// `WARP_INSTALLER` if set, else uv when it is on PATH, else pip.
    pub fn choose(cx: &Job) -> Result<Installer> {
        match env_vars::get(settings::var(Id::Installer)).as_deref() {
            Some("uv") => Ok(Installer::Uv(uv_binary(cx)?)),
            Some("pip") => Ok(Installer::Pip),
            Some(other) => bail!("{} is {other:?}: set it to uv or pip, or unset it", settings::var(Id::Installer)),
            None => Ok(uv_on_path().map_or(Installer::Pip, Installer::Uv)),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Installer::Uv(_) => "uv",
            Installer::Pip => "pip",
        }
    }

    /// Create a venv at `venv` with `cx.python`, keeping whatever else is in that folder.
    pub fn create_venv(&self, venv: &Path, cx: &Job) -> Result<()> {
        let mut cmd = match self {
            Installer::Uv(uv) => {
                let mut cmd = Command::new(uv);
                cmd.args(["venv", "--allow-existing", "--seed", "--no-config", "--python"])
                    .arg(&cx.python.executable)
                    .arg(venv);
                cmd
            }
            Installer::Pip => {
                let mut cmd = Command::new(&cx.python.executable);
                cmd.args(["-m", "venv"]).arg(venv);
                cmd
            }
        };
        // The venv must not inherit itself as the active one while it is being made.
        cmd.env_remove(env_vars::VIRTUAL_ENV);
        quiet(cmd.current_dir(cx.src), cx, "creating the virtualenv", self.name())
    }

    /// Install `args` (requirement specifiers and installer options) into `venv`.
    pub fn install(&self, venv: &Path, args: &[OsString], cx: &Job, what: &str) -> Result<()> {
        let python = venv.join("bin").join("python");
        let mut cmd = match self {
            Installer::Uv(uv) => {
                let mut cmd = Command::new(uv);
                cmd.args(["pip", "install", "--python"]).arg(&python);
                cmd
            }
            Installer::Pip => {
                let mut cmd = Command::new(&python);
                cmd.args(["-m", "pip", "install"]);
                cmd
            }
        };
        cmd.args(args);
        cx.env.apply(&mut cmd);
        quiet(cmd.current_dir(cx.src), cx, what, self.name())
    }
}

/// Write `uv.lock`'s production dependencies (no dev groups, not the app itself) as a
/// hashed requirements file at `out`.
pub fn export_uv_lock(out: &Path, cx: &Job) -> Result<()> {
    let uv = uv_binary(cx)?;
    let mut cmd = Command::new(uv);
    cmd.args(["export", "--locked", "--no-dev", "--no-emit-project", "--no-header", "--output-file"])
        .arg(out);
    cx.env.apply(&mut cmd);
    quiet(cmd.current_dir(cx.src), cx, "reading uv.lock (it must match pyproject.toml: run `uv lock`)", "uv")
}

/// The real uv executable on PATH.
///
/// A pyenv shim is resolved to the file behind it: the shim chooses a Python version by the
/// current folder's `.python-version`, and uv may not be installed in that version.
fn uv_on_path() -> Option<PathBuf> {
    let found = pathsearch::which("uv")?;
    if !found.parent().is_some_and(|dir| dir.ends_with("shims")) {
        return Some(found);
    }
    let out = Command::new("pyenv").args(["which", "uv"]).current_dir("/").output().ok()?;
    let real = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (out.status.success() && pathsearch::is_executable(&real)).then_some(real)
}

/// uv from PATH, else the copy in warp's cache, else installed there from PyPI now.
fn uv_binary(cx: &Job) -> Result<PathBuf> {
    if let Some(uv) = uv_on_path() {
        return Ok(uv);
    }
    let home = cx.cache.join("tools").join("uv");
    let uv = home.join("bin").join("uv");
    if pathsearch::is_executable(&uv) {
        return Ok(uv);
    }
    cx.reporter.info("uv is not on PATH: installing it into warp's cache");
    std::fs::create_dir_all(cx.cache.join("tools"))
        .with_context(|| format!("cannot create {}", cx.cache.display()))?;
    // Install into a private folder and rename it into place, so concurrent builds never
    // see a half-installed uv.
    let staging = tempfile::Builder::new()
        .prefix("uv-")
        .tempdir_in(cx.cache.join("tools"))
        .context("cannot create a folder in warp's cache")?;
    let mut cmd = Command::new(&cx.python.executable);
    cmd.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--target"])
        .arg(staging.path())
        .arg("uv");
    quiet(&mut cmd, cx, "installing uv from PyPI", "pip")?;
    match std::fs::rename(staging.path(), &home) {
        Ok(()) => {}
        Err(_) if pathsearch::is_executable(&uv) => {} // another build won the race
        Err(e) => return Err(e).with_context(|| format!("cannot move uv into {}", home.display())),
    }
    Ok(uv)
}

/// Run an installer command with warp's cache; its output becomes progress detail, and its
/// last lines are quoted if it fails.
fn quiet(cmd: &mut Command, cx: &Job, what: &str, program: &str) -> Result<()> {
    cmd.env("UV_CACHE_DIR", cx.cache.join("uv"))
        .env("PIP_CACHE_DIR", cx.cache.join("pip"))
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env("PIP_PROGRESS_BAR", "off")
        .env("UV_NO_PROGRESS", "1");
    process::run(cmd, false, &|line| cx.reporter.detail(line))
        .with_context(|| format!("cannot run {program}"))?
        .check(what, program)?;
    Ok(())
}
