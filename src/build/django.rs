//! Django's own commands warp runs: `collectstatic` at build, so static files are ready to
//! be served, and `migrate` for `warp migrate` when the app has no migrate hook.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::appenv::AppEnv;
use crate::layout::Layout;
use crate::process;
use crate::report::Reporter;
use crate::settings::{self, Id};

/// Run `collectstatic --noinput` for a Django app; a no-op for other apps.
pub fn collectstatic(layout: &Layout, env: &AppEnv, reporter: &dyn Reporter) -> Result<()> {
    let skip = settings::var(Id::DisableCollectstatic);
    manage(
        layout,
        env,
        reporter,
        &["collectstatic", "--noinput"],
        &format!("collectstatic (fix the settings it names, or set {skip}=1 to skip it)"),
    )
    .map(drop)
}

/// Run `migrate --noinput` for a Django app. Returns false when the app is not one.
pub fn migrate(layout: &Layout, env: &AppEnv, reporter: &dyn Reporter) -> Result<bool> {
    manage(layout, env, reporter, &["migrate", "--noinput"], "migrate (fix what it names)")
}

/// `python manage.py ARGS` in the app's environment, reporting its last line. Returns
/// false (and does nothing) when the app has no manage.py or Django is not installed.
fn manage(layout: &Layout, env: &AppEnv, reporter: &dyn Reporter, args: &[&str], what: &str) -> Result<bool> {
    if !layout.src.join("manage.py").is_file() {
        return Ok(false);
    }
    let python = layout.venv.join("bin").join("python");
    let mut probe = Command::new(&python);
    probe.args(["-c", "import django"]);
    env.apply(&mut probe);
    let has_django = probe.current_dir(&layout.src).output().map(|o| o.status.success()).unwrap_or(false);
    if !has_django {
        reporter.warn(&format!("manage.py found but Django is not installed in the venv: {} skipped", args[0]));
        return Ok(false);
    }
    reporter.step(&format!("django {}", args[0]));
    let started = Instant::now();
    let mut cmd = Command::new(&python);
    cmd.arg("manage.py").args(args).current_dir(&layout.src);
    env.apply(&mut cmd);
    let finished = process::run(&mut cmd, false, &|line| reporter.detail(line))
        .context("cannot run manage.py")?
        .check(what, &format!("manage.py {}", args[0]))?;
    let summary = finished.tail.iter().rev().find(|l| !l.trim().is_empty()).cloned();
    reporter.step_done(summary.as_deref().unwrap_or("done"), started.elapsed());
    Ok(true)
}
