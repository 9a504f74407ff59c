use std::time::Instant;

use anyhow::Result;
use warp::layout::Layout;

use crate::cli::BuildArgs;
use crate::ui;

pub fn run(args: BuildArgs) -> Result<()> {
    let started = Instant::now();
    let layout = Layout::discover(args.src.as_deref())?;
    let reporter = ui::reporter();
    let outcome = warp::build::build(&layout, reporter.as_ref())?;
    let what = outcome.summary();
    reporter.info(&format!(
        "built {} in {} ({what}); venv: {}",
        layout.src.display(),
        ui::seconds(started.elapsed()),
        layout.venv.display()
    ));
    Ok(())
}
