//! One module per subcommand: each turns parsed arguments into a call into the library.

mod build;
mod config;
mod env;
mod exec;
mod fixup;
mod image;
mod interrupt;
mod manifest;
mod on_demand;
mod probe;
mod project;
mod recorder;
mod s2i;
mod shell;
mod start;

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Command as Process;

use anyhow::Result;
use warp::appenv::AppEnv;

use crate::cli::Command;

/// An error that must end the process with a particular exit code (as a shell would:
/// 127 for a command that is not found, 126 for one that cannot run).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitWith {
    pub code: u8,
    pub message: String,
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Build(args) => build::run(args),
        Command::Start(args) => start::run(*args),
        Command::Project(args) => project::run(args),
        Command::Exec(args) => exec::run(args),
        Command::Shell(args) => shell::run(args),
        Command::Env(args) => env::run(args),
        Command::Fixup(args) => fixup::run(args),
        Command::Config(args) => config::run(args),
        Command::Image(args) => image::run(*args),
        Command::S2i(args) => s2i::run(args),
        Command::Manifest(args) => manifest::run(*args),
        Command::Recorder(args) => recorder::run(args),
        Command::Setup(args) => on_demand::run(warp::appenv::hooks::SETUP, args.src.as_deref()),
        Command::Migrate(args) => on_demand::run(warp::appenv::hooks::MIGRATE, args.src.as_deref()),
        Command::Verify(args) => on_demand::run(warp::appenv::hooks::VERIFY, args.src.as_deref()),
        Command::Alive(args) => probe::run(probe::Probe::Alive, args),
        Command::Ready(args) => probe::run(probe::Probe::Ready, args),
    }
}

/// Replace this process with `program` in `env`; returns only if that fails.
fn exec_in(env: &AppEnv, program: &OsStr, args: &[&OsStr]) -> anyhow::Error {
    let mut cmd = Process::new(program);
    cmd.args(args);
    env.apply(&mut cmd);
    let err = cmd.exec();
    let name = program.to_string_lossy();
    let (code, what) = match err.kind() {
        std::io::ErrorKind::NotFound => (127, "command not found: check its name or install it into the venv"),
        std::io::ErrorKind::PermissionDenied => (126, "permission denied: make it executable"),
        _ => (126, "cannot run it"),
    };
    ExitWith { code, message: format!("{name}: {what} ({err})") }.into()
}

/// Print `export` lines that recreate `env` in a POSIX shell.
fn print_exports(env: &AppEnv) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for (key, value) in env.vars() {
        writeln!(out, "export {key}={}", shell_quote(&value.to_string_lossy()))?;
    }
    if env.has_venv() {
        writeln!(out, "unset PYTHONHOME")?;
    }
    Ok(())
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The user's shell: `$SHELL`, else `/bin/sh`.
fn user_shell() -> std::ffi::OsString {
    warp::env_vars::get(warp::env_vars::SHELL).unwrap_or_else(|| "/bin/sh".to_owned()).into()
}

/// The CA bundle a build in a container gets: the one given (which must be readable), else
/// the first file a CA variable of the host names.
fn build_ca_cert(given: Option<std::path::PathBuf>) -> Result<Option<std::path::PathBuf>> {
    use anyhow::Context;
    if let Some(path) = given {
        std::fs::File::open(&path)
            .with_context(|| format!("cannot read the CA bundle {}: pass a readable PEM file to --ca-cert", path.display()))?;
        return Ok(Some(path));
    }
    Ok(warp::env_vars::ca_bundle())
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_survive_shell_quoting() {
        assert_eq!(super::shell_quote("it's"), r"'it'\''s'");
        assert_eq!(super::shell_quote("$HOME"), "'$HOME'");
    }
}
