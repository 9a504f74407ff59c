//! `warp project`: named, per-project venvs under `$WARP_HOME/projects/`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::appenv::AppEnv;
use crate::build::installer::{Installer, Job, Pip};
use crate::build::python::{self, Interpreter};
use crate::build::venv;
use crate::layout::warp_home;
use crate::report::Reporter;
use crate::settings::{self, ConfigFile, Flags, Inherited, Scope, Sources};

/// A project venv, created or found.
pub struct Project {
    pub name: String,
    pub venv: PathBuf,
    /// The venv was made by this call.
    pub created: bool,
}

/// Create the venv of project `name`, or reuse it. `python` is a path, command or version;
/// it only matters when the venv is created.
pub fn ensure(name: &str, python: Option<&str>, reporter: &dyn Reporter) -> Result<Project> {
    validate_name(name)?;
    let home = warp_home()?;
    let venv = home.join("projects").join(name);
    if venv::exists(&venv) {
        if let Some(asked) = python {
            reporter.warn(&format!(
                "project {name} already exists, so --python {asked} was not used: remove {} to recreate it",
                venv.display()
            ));
        }
        return Ok(Project { name: name.to_owned(), venv, created: false });
    }
    let interpreter = match python {
        Some(text) => python::resolve(text, "--python")?,
        None => python::resolve("python3", "the default")?,
    };
    create(&venv, &interpreter, &home, reporter)?;
    Ok(Project { name: name.to_owned(), venv, created: true })
}

fn create(venv: &std::path::Path, python: &Interpreter, home: &std::path::Path, reporter: &dyn Reporter) -> Result<()> {
    let parent = venv.parent().context("project folder has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let cache = home.join("cache");
    let env = AppEnv::default();
    let job = Job { cache: &cache, python, env: &env, src: parent, reporter };
    // A project has no app folder yet: its installer is whatever warp's own environment asks.
    let settings = settings::resolve(&Sources { flags: &Flags::new(), env: &Inherited, config: &ConfigFile::default() }, &[Scope::Build])?;
    let installer = Installer::choose(&job, &settings)?;
    reporter.step(&format!("creating venv {} with {} and {}", venv.display(), python, installer.name()));
    let started = Instant::now();
    // A project's venv is for installing by hand: it gets pip whichever installer made it.
    let made = installer.create_venv(venv, Pip::With, &job);
    if made.is_err() {
        // Leave no half-made project behind: the next call would take it for a finished one.
        let _ = std::fs::remove_dir_all(venv);
    }
    made?;
    reporter.step_done("created", started.elapsed());
    Ok(())
}

fn validate_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        bail!("project name {name:?} is not valid: use letters, digits, '.', '_' and '-', not starting with '.' or '-'");
    }
    Ok(())
}
