//! `warp build`: from source to a venv with everything the app needs.
//!
//! Order: environment files, `pre-build` hook, `build-env` hook, dependencies (skipped when
//! their digest is unchanged), warp's server module, `build` hook, Django's collectstatic. The venv is replaced
//! only when the new one is complete; see [`crate::build::venv`].

pub mod deps;
pub mod django;
pub mod fixup;
pub mod installer;
pub mod pipfile;
pub mod project;
pub mod python;
pub mod venv;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::appenv::{AppEnv, VarSource};
use deps::{Plan, Source};
use installer::{Installer, Job};
use crate::appenv::hooks;
use crate::env_vars;
use crate::settings::{self, Id};
use crate::layout::Layout;
use crate::report::Reporter;
use crate::start::serve;

/// What a build did, for the closing line.
pub struct Outcome {
    /// Dependencies were installed (false when the digest matched and nothing was done).
    pub installed: bool,
}

/// Build the app described by `layout`.
pub fn build(layout: &Layout, reporter: &dyn Reporter) -> Result<Outcome> {
    let python = python::find(&layout.src)?;
    if let Some(asked) = &python.substitute_for {
        reporter.warn(&format!("{} asks for Python {asked}, which is not installed: using {}", python.origin, python.version_text()));
    }
    reporter.info(&format!("python: {python} (from {})", python.origin));
    let mut env = AppEnv::from_files(&layout.src, &layout.environment_files())?.with_venv(&layout.venv);
    let keep = vec![layout.src.clone(), layout.cache.clone()];
    if venv::recover(&layout.venv, &keep)? {
        reporter.warn("the previous build was interrupted: its venv was restored");
    }

    let (installer, fresh) = {
        let job = Job { cache: &layout.cache, python: &python, env: &env, src: &layout.src, reporter };
        let installer = Installer::choose(&job)?;
        let fresh = !venv::exists(&layout.venv);
        if fresh {
            create_venv(&installer, layout, &job)?;
        }
        (installer, fresh)
    };

    hooks::run(layout, hooks::PRE_BUILD, &env, reporter)?;
    let extra = hooks::run_for_env(layout, hooks::BUILD_ENV, &env, reporter)?;
    env.extend(VarSource::Hook(hooks::BUILD_ENV.to_owned()), extra);

    let plan = Plan::for_app(&layout.src)?;
    let digest = plan.digest(&python, &effective_installer_env(&env))?;
    let installed = if !fresh && venv::recorded_digest(&layout.venv).as_deref() == Some(digest.as_str()) {
        reporter.info(&format!("dependencies unchanged ({}): nothing reinstalled", plan.source.describe()));
        false
    } else {
        let job = Job { cache: &layout.cache, python: &python, env: &env, src: &layout.src, reporter };
        let replacement = if fresh { None } else { Some(venv::replace(&layout.venv, &keep)?) };
        let result = (|| {
            if replacement.is_some() {
                create_venv(&installer, layout, &job)?;
            }
            install(&installer, &plan, layout, &job)?;
            venv::record_digest(&layout.venv, &digest)
        })();
        match (result, replacement) {
            (Ok(()), Some(replacement)) => replacement.commit()?,
            (Ok(()), None) => {}
            (Err(e), Some(replacement)) => {
                replacement.roll_back().context("the previous venv could not be restored")?;
                return Err(e.context("dependencies were not installed; the previous venv is unchanged"));
            }
            (Err(e), None) => return Err(e.context("dependencies were not installed")),
        }
        true
    };

    let python = layout.venv.join("bin").join("python");
    if serve::install::install(&python)? == serve::install::Installed::Fresh {
        reporter.info("installed warp's server module (warp-server) into the venv");
    }

    hooks::run(layout, hooks::BUILD, &env, reporter)?;
    if env_vars::get(settings::var(Id::DisableCollectstatic)).is_none() {
        django::collectstatic(layout, &env, reporter)?;
    }
    Ok(Outcome { installed })
}

fn create_venv(installer: &Installer, layout: &Layout, job: &Job) -> Result<()> {
    let started = Instant::now();
    job.reporter.step(&format!("creating venv {} with {}", layout.venv.display(), installer.name()));
    installer.create_venv(&layout.venv, job)?;
    job.reporter.step_done("created", started.elapsed());
    Ok(())
}

/// The installer settings the build will run with: inherited `PIP_*`/`UV_*` variables, then
/// those the app's files and hooks set.
fn effective_installer_env(env: &AppEnv) -> std::collections::BTreeMap<String, String> {
    let mut all: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    all.extend(env.assigned().map(|(k, v)| (k.clone(), v.clone())));
    all
}

fn install(installer: &Installer, plan: &Plan, layout: &Layout, job: &Job) -> Result<()> {
    if plan.source == Source::Nothing && !plan.install_app {
        job.reporter.info("no dependency file (requirements.txt, Pipfile.lock, pyproject.toml, setup.py): nothing to install");
        return Ok(());
    }
    let started = Instant::now();
    let source = plan.source.describe();
    job.reporter.step(&format!("installing dependencies from {source} with {}", installer.name()));
    let scratch = tempfile::tempdir().context("cannot create a temporary folder")?;
    let requirements: Option<PathBuf> = match &plan.source {
        Source::UvLock => {
            let file = scratch.path().join("uv-lock-requirements.txt");
            installer::export_uv_lock(&file, job)?;
            Some(file)
        }
        Source::PipfileLock => {
            let lock = std::fs::read_to_string(layout.src.join("Pipfile.lock")).context("cannot read Pipfile.lock")?;
            let file = scratch.path().join("pipfile-requirements.txt");
            std::fs::write(&file, pipfile::to_requirements(&lock)?).context("cannot write the converted Pipfile.lock")?;
            Some(file)
        }
        Source::Requirements(file) => Some(file.clone()),
        Source::ProjectTable(deps) if deps.is_empty() => None,
        Source::ProjectTable(deps) => {
            let file = scratch.path().join("pyproject-requirements.txt");
            std::fs::write(&file, deps.join("\n") + "\n").context("cannot write the pyproject dependencies")?;
            Some(file)
        }
        Source::Nothing => None,
    };
    if let Some(file) = requirements {
        let args = [OsString::from("-r"), file.into_os_string()];
        installer.install(&layout.venv, &args, job, &format!("installing from {source}"))?;
    }
    if plan.install_app {
        let args = [OsString::from("-e"), OsString::from(".")];
        installer.install(&layout.venv, &args, job, "installing the app itself (pip install -e .)")?;
    }
    job.reporter.step_done("installed", started.elapsed());
    Ok(())
}
