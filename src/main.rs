//! The `warp` command line: parse, run one command, render errors.

mod cli;
mod commands;
mod ui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            // One line: what failed, then why, each cause after a colon. Only a quoted
            // child's output adds lines below it.
            let causes: Vec<String> = err.chain().map(|cause| cause.to_string()).collect();
            eprintln!("error: {}", causes.join(": "));
            match err.downcast_ref::<commands::ExitWith>() {
                Some(exit) => ExitCode::from(exit.code),
                // A value the user gave (a flag, a variable, .warp/config.yaml) was refused.
                None if err.downcast_ref::<warp::settings::SettingError>().is_some() => ExitCode::from(2),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// A reader of our output went away (`warp env | head`): not a failure.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}
