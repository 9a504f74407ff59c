use std::ffi::OsString;

use anyhow::{bail, Result};
use warp::layout::Layout;
use warp::settings;

use crate::cli::ExecArgs;
use crate::ui;

pub fn run(args: ExecArgs) -> Result<()> {
    let layout = Layout::discover(args.src.as_deref())?;
    let env = warp::appenv::hooks::runtime_env(&layout, ui::reporter().as_ref())?;
    std::env::set_current_dir(&layout.src)?;
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    refuse_missing_pip(&layout, program)?;
    let rest: Vec<_> = rest.iter().map(|a| a.as_os_str()).collect();
    Err(super::exec_in(&env, program, &rest))
}

/// A venv that uv made has no pip, and `pip` on PATH would then be some other Python's,
/// installing where the app never looks.
fn refuse_missing_pip(layout: &Layout, program: &OsString) -> Result<()> {
    let name = program.to_string_lossy();
    let is_pip = name == "pip" || name.strip_prefix("pip3").is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
    let bin = layout.venv.join("bin");
    if is_pip && bin.join("python").exists() && !bin.join(&*name).exists() {
        bail!(
            "{} has no {name}: warp installs with uv and leaves pip out; build again with {}=true (or build.seed_pip: true in .warp/config.yaml) to put it in",
            layout.venv.display(),
            settings::var(settings::Id::SeedPip)
        );
    }
    Ok(())
}
