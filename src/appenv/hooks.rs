//! The app's action hooks: executables in `.warp/action_hooks/` run at fixed moments.
//!
//! Each hook runs with SRC as its working directory and the app's environment (venv active,
//! environment files applied). A hook that exists but is not executable is skipped with a
//! warning; a hook that fails stops the command, quoting its last lines.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::appenv::{parse_assignments, AppEnv, VarSource};
use crate::layout::Layout;
use crate::pathsearch::is_executable;
use crate::process;
use crate::report::Reporter;

/// The build hooks, in the order `warp build` runs them.
pub const PRE_BUILD: &str = "pre-build";
pub const BUILD_ENV: &str = "build-env";
pub const BUILD: &str = "build";
/// The start hooks, in the order `warp start` runs them: `deploy-cfg` once per app root,
/// `deploy-env` (its output joins the environment) and `deploy` on every start.
pub const DEPLOY_CFG: &str = "deploy-cfg";
pub const DEPLOY_ENV: &str = "deploy-env";
pub const DEPLOY: &str = "deploy";

/// The hooks run on demand by `warp setup`, `warp migrate` and `warp verify`.
pub const SETUP: &str = "setup";
pub const MIGRATE: &str = "migrate";
pub const VERIFY: &str = "verify";
/// The probe hooks, run by `warp alive` and `warp ready` after the server answered.
pub const ALIVE: &str = "alive";
pub const READY: &str = "ready";

/// Where a venv remembers that `deploy-cfg` ran for it: a rebuilt app root runs it again.
const DEPLOY_CFG_MARKER: &str = ".warp-deploy-cfg-done";

/// Run hook `name` if the app has it. Returns whether it ran.
pub fn run(layout: &Layout, name: &str, env: &AppEnv, reporter: &dyn Reporter) -> Result<bool> {
    Ok(execute(layout, name, env, false, reporter)?.is_some())
}

/// Run an environment hook (`build-env`, `deploy-env`) and return the `KEY=VALUE` pairs it
/// printed on standard output; nothing when the app has no such hook.
pub fn run_for_env(layout: &Layout, name: &str, env: &AppEnv, reporter: &dyn Reporter) -> Result<Vec<(String, String)>> {
    let Some(stdout) = execute(layout, name, env, true, reporter)? else {
        return Ok(Vec::new());
    };
    let origin = format!("output of action hook {name}");
    Ok(parse_assignments(&stdout, &origin)?.into_iter().map(|(_, key, value)| (key, value)).collect())
}

fn execute(layout: &Layout, name: &str, env: &AppEnv, capture_stdout: bool, reporter: &dyn Reporter) -> Result<Option<String>> {
    let path = layout.hook(name);
    if !path.exists() {
        return Ok(None);
    }
    let shown = path.strip_prefix(&layout.src).unwrap_or(&path).display().to_string();
    if !is_executable(&path) {
        reporter.warn(&format!("action hook {shown} is not executable, so it was skipped: run `chmod +x {shown}`"));
        return Ok(None);
    }
    reporter.step(&format!("action hook {name}"));
    let started = Instant::now();
    let mut cmd = Command::new(&path);
    cmd.current_dir(&layout.src);
    env.apply(&mut cmd);
    let finished = process::run(&mut cmd, capture_stdout, &|line| reporter.output(line))
        .with_context(|| format!("cannot run action hook {name} ({shown})"))?
        .check(&format!("action hook {name}"), &shown)?;
    reporter.step_done("done", started.elapsed());
    Ok(Some(finished.stdout))
}

/// The environment the app's processes run in: environment files, the venv, and what the
/// `deploy-env` hook printed. Fails when the venv has not been built.
pub fn runtime_env(layout: &Layout, reporter: &dyn Reporter) -> Result<AppEnv> {
    let mut env = base_env(layout)?;
    let extra = run_for_env(layout, DEPLOY_ENV, &env, reporter)?;
    env.extend(VarSource::Hook(DEPLOY_ENV.to_owned()), extra);
    Ok(env)
}

/// The environment files and the venv, before any hook ran.
fn base_env(layout: &Layout) -> Result<AppEnv> {
    if !crate::build::venv::exists(&layout.venv) {
        anyhow::bail!("no virtualenv at {}: run `warp build` first", layout.venv.display());
    }
    Ok(AppEnv::from_files(layout)?.with_venv(&layout.venv))
}

/// What `warp start` runs before the server: `deploy-cfg` the first time for this app root,
/// then `deploy-env` and `deploy`. Returns the runtime environment.
pub fn deploy(layout: &Layout, reporter: &dyn Reporter) -> Result<AppEnv> {
    let base = base_env(layout)?;
    let marker = layout.venv.join(DEPLOY_CFG_MARKER);
    if !marker.exists() && run(layout, DEPLOY_CFG, &base, reporter)? {
        std::fs::write(&marker, "").with_context(|| format!("cannot write {}", marker.display()))?;
    }
    let env = runtime_env(layout, reporter)?;
    run(layout, DEPLOY, &env, reporter)?;
    Ok(env)
}
