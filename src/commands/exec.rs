use anyhow::Result;
use warp::layout::Layout;

use crate::cli::ExecArgs;
use crate::ui;

pub fn run(args: ExecArgs) -> Result<()> {
    let layout = Layout::discover(args.src.as_deref())?;
    let env = warp::appenv::hooks::runtime_env(&layout, ui::reporter().as_ref())?;
    std::env::set_current_dir(&layout.src)?;
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let rest: Vec<_> = rest.iter().map(|a| a.as_os_str()).collect();
    Err(super::exec_in(&env, program, &rest))
}
