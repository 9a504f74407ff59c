use anyhow::Result;
use warp::appenv::{AppEnv, VarSource};
use warp::settings::table::WARP_PROJECT;

use crate::cli::ProjectArgs;
use crate::ui;

pub fn run(args: ProjectArgs) -> Result<()> {
    let reporter = ui::reporter();
    let project = warp::build::project::ensure(&args.name, args.python.as_deref(), reporter.as_ref())?;
    let mut env = AppEnv::default().with_venv(&project.venv);
    env.extend(VarSource::Warp, [(WARP_PROJECT.to_owned(), project.name.clone())]);
    if args.print_env {
        return super::print_exports(&env);
    }
    if !project.created {
        reporter.info(&format!("project {}: {}", project.name, project.venv.display()));
    }
    reporter.info("starting a shell with the project's venv active; `exit` leaves it");
    drop(reporter);
    Err(super::exec_in(&env, &super::user_shell(), &[]))
}
