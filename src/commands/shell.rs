use anyhow::Result;
use warp::layout::Layout;

use crate::cli::ShellArgs;
use crate::ui;

pub fn run(args: ShellArgs) -> Result<()> {
    let layout = Layout::discover(args.src.as_deref())?;
    let env = warp::appenv::hooks::runtime_env(&layout, ui::reporter().as_ref())?;
    std::env::set_current_dir(&layout.src)?;
    Err(super::exec_in(&env, &super::user_shell(), &[]))
}
