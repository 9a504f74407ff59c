use anyhow::Result;
use warp::layout::Layout;

use crate::cli::EnvArgs;
use crate::ui;

pub fn run(args: EnvArgs) -> Result<()> {
    let layout = Layout::discover(args.src.as_deref())?;
    let env = warp::appenv::hooks::runtime_env(&layout, ui::reporter().as_ref())?;
    super::print_exports(&env)
}
