//! The package installers warp drives: uv by default, pip when asked or when uv cannot be had.
//!
//! Both install into a given venv from requirements files and share warp's cache folder.
//! uv is also needed to read `uv.lock`. When it is not on PATH, [`crate::build::uv`] fetches
//! a pinned, hash-checked release into the cache.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use crate::appenv::AppEnv;
use crate::build::python::Interpreter;
use crate::build::uv;
use crate::report::Reporter;
use crate::settings::{self, Id, Settings};
use crate::{env_vars, process};

/// Which program installs packages.
#[derive(Debug, Clone)]
pub enum Installer {
    Uv(PathBuf),
    Pip,
}

/// Whether a new venv gets pip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pip {
    With,
    Without,
}

/// Where uv may take pip from when it seeds a venv.
#[derive(Clone, Copy)]
enum Network {
    Offline,
    Online,
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
    /// The installer the build settings ask for; else uv (from PATH, warp's cache, or
    /// fetched now), falling back to pip with a warning when uv cannot be had.
    pub fn choose(cx: &Job, settings: &Settings) -> Result<Installer> {
        let var = settings::var(Id::Installer);
        let origin = settings.label(Id::Installer);
        let wanted = settings.text(Id::Installer).filter(|_| settings.is_given(Id::Installer));
        match wanted {
            Some("uv") => match uv::find_or_fetch(cx) {
                Ok(path) => Ok(Installer::Uv(path)),
                Err(e) => bail!("{origin} is uv, but uv is not on PATH and could not be fetched: {e}; put uv on PATH, or set {var}=pip"),
            },
            Some(_) => Ok(Installer::Pip),
            None => match uv::find_or_fetch(cx) {
                Ok(path) => Ok(Installer::Uv(path)),
                Err(e) => {
                    cx.reporter.warn(&format!(
                        "installing with pip: uv is not on PATH and could not be fetched ({e}); put uv on PATH, or set {var}=pip to skip the attempt"
                    ));
                    Ok(Installer::Pip)
                }
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Installer::Uv(_) => "uv",
            Installer::Pip => "pip",
        }
    }

    /// Create a venv at `venv` with `cx.python`, keeping whatever else is in that folder.
    /// With uv, pip is put in only when `pip` says so: uv installs without it, and linking
    /// its thousand files costs a new venv more than the rest of making it. Seeding takes
    /// the pip in uv's cache when there is one, else the index's; when that fails too (an
    /// index that lacks pip, or none reachable), the venv is made by Python's own `venv`,
    /// whose pip comes with Python.
    pub fn create_venv(&self, venv: &Path, pip: Pip, cx: &Job) -> Result<()> {
        const WHAT: &str = "creating the virtualenv";
        if let Installer::Uv(uv) = self {
            let uv_venv = |seed: Option<Network>| {
                let mut cmd = Command::new(uv);
                cmd.args(["venv", "--allow-existing", "--no-config", "--python"]).arg(&cx.python.executable).arg(venv);
                match seed {
                    None => {}
                    Some(Network::Offline) => _ = cmd.args(["--seed", "--offline"]),
                    Some(Network::Online) => _ = cmd.arg("--seed"),
                }
                without_active_venv(&mut cmd).current_dir(cx.src);
                cmd
            };
            if pip == Pip::Without {
                return quiet(&mut uv_venv(None), cx, WHAT, self.name());
            }
            // Asking the index for the newest pip is a round trip on every new venv, longer
            // than the rest of making it: the pip in uv's cache is taken when there is one.
            let mut offline = uv_venv(Some(Network::Offline));
            use_cache(&mut offline, cx.cache);
            if process::run(&mut offline, false, &|_| {}).is_ok_and(|finished| finished.status.success()) {
                return Ok(());
            }
            match quiet(&mut uv_venv(Some(Network::Online)), cx, WHAT, self.name()) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    // One line: the output was shown as it came; its last line is the reason.
                    let why = match e.downcast_ref::<process::ChildFailed>() {
                        Some(failed) => format!("uv {}: {}", failed.status, failed.tail.last().map(|l| l.trim()).unwrap_or("no output")),
                        None => format!("{e:#}"),
                    };
                    cx.reporter.warn(&format!(
                        "uv could not seed pip into the virtualenv ({why}): making it with python -m venv instead, with the pip Python carries"
                    ));
                }
            }
        }
        let mut cmd = Command::new(&cx.python.executable);
        cmd.args(["-m", "venv"]).arg(venv);
        quiet(without_active_venv(&mut cmd).current_dir(cx.src), cx, WHAT, "python -m venv")
    }

    /// Install `args` (requirement specifiers and installer options) into `venv`.
    pub fn install(&self, venv: &Path, args: &[OsString], cx: &Job, what: &str) -> Result<()> {
        self.run_install(venv, args, cx, what, true)
    }

    /// [`Installer::install`] from a requirements file that names its own indexes: the
    /// package index settings of the environment (`PIP_INDEX_URL`, `UV_DEFAULT_INDEX`, ...),
    /// which would win over the file's, are left out.
    pub fn install_from_file_indexes(&self, venv: &Path, args: &[OsString], cx: &Job, what: &str) -> Result<()> {
        self.run_install(venv, args, cx, what, false)
    }

    fn run_install(&self, venv: &Path, args: &[OsString], cx: &Job, what: &str, index_settings: bool) -> Result<()> {
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
        if !index_settings {
            for var in env_vars::INDEX_SETTINGS {
                cmd.env_remove(var);
            }
        }
        quiet(cmd.current_dir(cx.src), cx, what, self.name())
    }
}

/// `cmd` without the active venv: a venv must not inherit itself while it is being made.
fn without_active_venv(cmd: &mut Command) -> &mut Command {
    cmd.env_remove(env_vars::VIRTUAL_ENV)
}

/// Write `uv.lock`'s production dependencies (no dev groups, not the app itself) as a
/// hashed requirements file at `out`. Only uv reads `uv.lock`, so it is needed even when pip
/// installs.
pub fn export_uv_lock(installer: &Installer, out: &Path, cx: &Job) -> Result<()> {
    let uv = match installer {
        Installer::Uv(path) => path.clone(),
        Installer::Pip => uv::find_or_fetch(cx)
            .map_err(|e| anyhow!("uv.lock is read with uv, but uv is not on PATH and could not be fetched: {e}; put uv on PATH"))?,
    };
    let mut cmd = Command::new(uv);
    cmd.args(["export", "--locked", "--no-dev", "--no-emit-project", "--no-header", "--output-file"]).arg(out);
    cx.env.apply(&mut cmd);
    quiet(cmd.current_dir(cx.src), cx, "reading uv.lock (it must match pyproject.toml: run `uv lock`)", "uv")
}

/// Point pip's and uv's caches into warp's cache folder, and keep them quiet and
/// non-interactive.
pub fn use_cache(cmd: &mut Command, cache: &Path) {
    cmd.env("UV_CACHE_DIR", cache.join("uv"))
        .env("PIP_CACHE_DIR", cache.join("pip"))
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env("PIP_PROGRESS_BAR", "off")
        .env("UV_NO_PROGRESS", "1");
}

/// Run an installer command with warp's cache; its output becomes progress detail, and its
/// last lines are quoted if it fails.
fn quiet(cmd: &mut Command, cx: &Job, what: &str, program: &str) -> Result<()> {
    use_cache(cmd, cx.cache);
    process::run(cmd, false, &|line| cx.reporter.detail(line)).with_context(|| format!("cannot run {program}"))?.check(what, program)?;
    Ok(())
}
