//! `warp setup`, `warp migrate`, `warp verify`: the action hooks run when asked.

use std::path::Path;

use anyhow::Result;
use warp::appenv::hooks;
use warp::layout::Layout;

use crate::ui;

pub fn run(hook: &str, src: Option<&Path>) -> Result<()> {
    let layout = Layout::discover(src)?;
    let reporter = ui::reporter();
    let env = hooks::runtime_env(&layout, reporter.as_ref())?;
    if hooks::run(&layout, hook, &env, reporter.as_ref())? {
        return Ok(());
    }
    if hook == hooks::MIGRATE && warp::build::django::migrate(&layout, &env, reporter.as_ref())? {
        return Ok(());
    }
    reporter.info(&format!("no {hook} hook in .warp/action_hooks/ (or .warpdrive/): nothing to do"));
    Ok(())
}
