//! Django's build step: `manage.py collectstatic`, so static files are ready to be served.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::appenv::AppEnv;
use crate::layout::Layout;
use crate::process;
use crate::report::Reporter;

/// Run `collectstatic --noinput` for a Django app; a no-op for other apps.
pub fn collectstatic(layout: &Layout, env: &AppEnv, reporter: &dyn Reporter) -> Result<()> {
    if !layout.src.join("manage.py").is_file() {
        return Ok(());
    }
    let python = layout.venv.join("bin").join("python");
    let mut probe = Command::new(&python);
    probe.args(["-c", "import django"]);
    env.apply(&mut probe);
    let has_django = probe.current_dir(&layout.src).output().map(|o| o.status.success()).unwrap_or(false);
    if !has_django {
        reporter.warn("manage.py found but Django is not installed in the venv: collectstatic skipped");
        return Ok(());
    }
    reporter.step("django collectstatic");
    let started = Instant::now();
    let mut cmd = Command::new(&python);
    cmd.args(["manage.py", "collectstatic", "--noinput"]).current_dir(&layout.src);
    env.apply(&mut cmd);
    let finished = process::run(&mut cmd, false, &|line| reporter.detail(line))
        .context("cannot run manage.py")?
        .check(
            "collectstatic (fix the settings it names, or set WARP_DISABLE_COLLECTSTATIC=1 to skip it)",
            "manage.py collectstatic",
        )?;
    let summary = finished.tail.iter().rev().find(|l| !l.trim().is_empty()).cloned();
    reporter.step_done(summary.as_deref().unwrap_or("done"), started.elapsed());
    Ok(())
}
