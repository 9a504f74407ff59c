use std::time::Instant;

use anyhow::Result;
use warp::layout::Layout;
use warp::settings::ConfigFile;

use crate::cli::BuildArgs;
use crate::ui;

pub fn run(args: BuildArgs) -> Result<()> {
    let started = Instant::now();
    let layout = Layout::discover(args.src.as_deref())?;
    let config = ConfigFile::load(&layout.src, layout.legacy_dir())?;
    let reporter = ui::reporter();
    let outcome = warp::build::build(&layout, &config, reporter.as_ref())?;
    let what = outcome.summary();
    reporter.info(&format!(
        "built {} in {} ({what}); venv: {}",
        layout.src.display(),
        ui::seconds(started.elapsed()),
        layout.venv.display()
    ));
    Ok(())
}
