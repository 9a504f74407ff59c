//! `warp build`: from source to a venv with everything the app needs.
//!
//! Order: environment files, `pre-build` hook, `build-env` hook, dependencies (skipped when
//! their digest is unchanged), warp's server module, `build` hook, Django's collectstatic. The venv is replaced
//! only when the new one is complete; see [`crate::build::venv`].

pub mod deps;
pub mod django;
pub mod fixup;
pub mod installer;
pub mod markers;
pub mod pipfile;
pub mod project;
pub mod python;
pub mod requires_python;
pub mod uv;
pub mod venv;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::appenv::hooks;
use crate::appenv::{AppEnv, VarSource};
use crate::layout::Layout;
use crate::report::Reporter;
use crate::settings::{self, ConfigFile, Flags, Id, Scope, Settings, Sources};
use crate::start::serve;
use deps::{Plan, Source, Tools};
use installer::{Installer, Job, Pip};

/// What a build did, for the closing line.
pub struct Outcome {
    pub dependencies: Dependencies,
}

/// What happened to the app's dependencies.
#[derive(Debug, PartialEq)]
pub enum Dependencies {
    /// Their digest matched the last build's: the venv was left as it was.
    Unchanged,
    /// The app has no dependency file and is not a package.
    NoneDeclared,
    /// A fresh venv got these distributions (none when markers excluded every requirement).
    Installed(Vec<String>),
}

impl Outcome {
    /// How the closing line says what happened: "3 packages installed".
    pub fn summary(&self) -> String {
        match &self.dependencies {
            Dependencies::Unchanged => "nothing reinstalled".to_owned(),
            Dependencies::NoneDeclared => "no dependencies to install".to_owned(),
            Dependencies::Installed(names) if names.is_empty() => "no package installed".to_owned(),
            Dependencies::Installed(names) => format!("{} installed", deps::count(names.len(), "package", "packages")),
        }
    }
}

/// Build the app described by `layout`, with its build settings from its environment and
/// `config` (`.warp/config.yaml`).
pub fn build(layout: &Layout, config: &ConfigFile, reporter: &dyn Reporter) -> Result<Outcome> {
    let mut env = AppEnv::from_files(layout)?.with_venv(&layout.venv);
    let no_flags = Flags::new();
    let resolve = |env: &AppEnv| settings::resolve(&Sources { flags: &no_flags, env, config }, &[Scope::Build]);
    let mut settings = resolve(&env)?;
    let asked = settings.text(Id::Python).map(|text| (text.to_owned(), settings.label(Id::Python)));
    let choice = python::find(&layout.src, asked)?;
    for warning in &choice.warnings {
        reporter.warn(warning);
    }
    let python = choice.interpreter;
    reporter.info(&format!("python: {python} (from {})", choice.reason));
    let keep = vec![layout.src.clone(), layout.cache.clone()];
    if venv::recover(&layout.venv, &keep)? {
        reporter.warn("the previous build was interrupted: its venv was restored");
    }

    // Chosen when first needed: a rebuild with nothing to do never looks for uv.
    let mut installer: Option<Installer> = None;
    let fresh = !venv::exists(&layout.venv);
    if fresh {
        let job = job(layout, &python, &env, reporter);
        create_venv(chosen(&mut installer, &job, &settings)?, layout, pip(&settings), &job)?;
    }

    hooks::run(layout, hooks::PRE_BUILD, &env, reporter)?;
    let extra = hooks::run_for_env(layout, hooks::BUILD_ENV, &env, reporter)?;
    env.extend(VarSource::Hook(hooks::BUILD_ENV.to_owned()), extra);
    settings = resolve(&env)?;

    let tools = Tools { upgrade_pip: settings.flag(Id::UpgradePip), pipenv: settings.text(Id::PipenvVersion).map(str::to_owned) };
    let plan = Plan::for_app(&layout.src, settings.flag(Id::InstallApp))?.with_tools(tools);
    let digest = plan.digest(&python, pip(&settings), &effective_installer_env(&env))?;
    let dependencies = if !fresh && venv::recorded_digest(&layout.venv).as_deref() == Some(digest.as_str()) {
        reporter.info(&format!("dependencies unchanged ({}): nothing reinstalled", plan.source.describe()));
        Dependencies::Unchanged
    } else {
        let job = job(layout, &python, &env, reporter);
        let installer = chosen(&mut installer, &job, &settings)?;
        let replacement = if fresh { None } else { Some(venv::replace(&layout.venv, &keep)?) };
        let result = (|| {
            if replacement.is_some() {
                create_venv(installer, layout, pip(&settings), &job)?;
            }
            let dependencies = install(installer, &plan, layout, &job)?;
            venv::record_digest(&layout.venv, &digest)?;
            Ok::<_, anyhow::Error>(dependencies)
        })();
        match (result, replacement) {
            (Ok(dependencies), Some(replacement)) => {
                replacement.commit()?;
                dependencies
            }
            (Ok(dependencies), None) => dependencies,
            (Err(e), Some(replacement)) => {
                replacement.roll_back().context("the previous venv could not be restored")?;
                return Err(e.context("dependencies were not installed; the previous venv is unchanged"));
            }
            (Err(e), None) => return Err(e.context("dependencies were not installed")),
        }
    };

    let python = layout.venv.join("bin").join("python");
    if serve::install::install(&python)? == serve::install::Installed::Fresh {
        reporter.info("installed warp's server module (warp-server) into the venv");
    }

    hooks::run(layout, hooks::BUILD, &env, reporter)?;
    if !settings.flag(Id::DisableCollectstatic) {
        django::collectstatic(layout, &env, reporter)?;
    }
    Ok(Outcome { dependencies })
}

/// What the installer needs for this app, with `env` as it stands.
fn job<'a>(layout: &'a Layout, python: &'a python::Interpreter, env: &'a AppEnv, reporter: &'a dyn Reporter) -> Job<'a> {
    Job { cache: &layout.cache, python, env, src: &layout.src, reporter }
}

/// The installer in `slot`, chosen now (as the settings ask) if it has not been yet.
fn chosen<'a>(slot: &'a mut Option<Installer>, job: &Job, settings: &Settings) -> Result<&'a Installer> {
    let installer = match slot.take() {
        Some(installer) => installer,
        None => Installer::choose(job, settings)?,
    };
    Ok(slot.insert(installer))
}

/// Whether the settings put pip into a venv.
fn pip(settings: &Settings) -> Pip {
    if settings.flag(Id::SeedPip) {
        Pip::With
    } else {
        Pip::Without
    }
}

fn create_venv(installer: &Installer, layout: &Layout, pip: Pip, job: &Job) -> Result<()> {
    let started = Instant::now();
    job.reporter.step(&format!("creating venv {} with {}", layout.venv.display(), installer.name()));
    installer.create_venv(&layout.venv, pip, job)?;
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

fn install(installer: &Installer, plan: &Plan, layout: &Layout, job: &Job) -> Result<Dependencies> {
    if !plan.installs_anything() {
        if layout.src.join("Pipfile").is_file() {
            job.reporter.warn("a Pipfile but no Pipfile.lock: warp installs from the lock; run `pipenv lock` and build again");
        }
        job.reporter.info(&match plan.app_left_out {
            Some(_) => format!("installing {}", plan.describe()),
            None => deps::NO_DEPENDENCY_FILE.to_owned(),
        });
        return Ok(Dependencies::NoneDeclared);
    }
    let started = Instant::now();
    let source = plan.source.describe();
    job.reporter.step(&format!("installing {} with {}", plan.describe(), installer.name()));
    let before = venv::distributions(&layout.venv);
    // The tools first: the app's dependencies, installed after them, keep their own pins.
    if plan.tools.upgrade_pip {
        let args: Vec<OsString> = std::iter::once("--upgrade").chain(deps::PIP_TOOLS).map(OsString::from).collect();
        installer.install(&layout.venv, &args, job, &format!("upgrading {}", deps::PIP_TOOLS.join(", ")))?;
    }
    if let Some(version) = &plan.tools.pipenv {
        let args = [OsString::from(format!("pipenv=={version}"))];
        installer.install(&layout.venv, &args, job, &format!("installing pipenv {version}"))?;
    }
    let scratch = tempfile::tempdir().context("cannot create a temporary folder")?;
    // Whether the installer takes its indexes from the requirements file alone.
    let mut own_indexes = false;
    let requirements: Option<PathBuf> = match &plan.source {
        Source::UvLock => {
            let file = scratch.path().join("uv-lock-requirements.txt");
            installer::export_uv_lock(installer, &file, job)?;
            Some(file)
        }
        Source::PipfileLock => {
            let lock = std::fs::read_to_string(layout.src.join("Pipfile.lock")).context("cannot read Pipfile.lock")?;
            let file = scratch.path().join("pipfile-requirements.txt");
            let converted = pipfile::to_requirements(&lock)?;
            own_indexes = converted.own_indexes;
            std::fs::write(&file, converted.requirements).context("cannot write the converted Pipfile.lock")?;
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
    let mut app_listed = None;
    if let Some(file) = requirements {
        warn_when_markers_exclude_all(&file, &source, layout, job)?;
        let files = match &plan.source {
            Source::Requirements(_) => deps::requirement_files(&file)?,
            _ => vec![file.clone()],
        };
        app_listed = deps::app_line(&files, &layout.src)?;
        let args = [OsString::from("-r"), file.into_os_string()];
        let what = format!("installing from {source}");
        if own_indexes {
            installer.install_from_file_indexes(&layout.venv, &args, job, &what)?;
        } else {
            installer.install(&layout.venv, &args, job, &what)?;
        }
    }
    match (&plan.app, app_listed) {
        (Some(app), Some(line)) => job
            .reporter
            .info(&format!("the app itself is installed from {source} (`{line}`), so it is not installed again from {}", app.file)),
        (Some(app), None) => {
            let args = [OsString::from("-e"), OsString::from(".")];
            installer.install(&layout.venv, &args, job, &format!("installing the app itself from {} (pip install -e .)", app.file))?;
        }
        (None, _) => {}
    }
    let added: Vec<String> = venv::distributions(&layout.venv).difference(&before).cloned().collect();
    job.reporter.step_done(&format!("installed {}", deps::count(added.len(), "package", "packages")), started.elapsed());
    Ok(Dependencies::Installed(added))
}

/// Warn when the environment markers of every requirement in `file` exclude the venv's Python:
/// the installers then skip them all without a word.
fn warn_when_markers_exclude_all(file: &Path, source: &str, layout: &Layout, job: &Job) -> Result<()> {
    let requirements = markers::requirements_in(file)?;
    if markers::none_apply(&layout.venv.join("bin").join("python"), &requirements) {
        job.reporter.warn(&format!(
            "{source}: every requirement's environment marker excludes Python {} ({}, such as {:?}), so nothing is installed from it; build with a Python they accept ({}, .python-version)",
            job.python.version_text(),
            deps::count(requirements.len(), "requirement", "requirements"),
            requirements[0],
            settings::var(Id::Python),
        ));
    }
    Ok(())
}
