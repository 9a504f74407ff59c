use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use warp::appenv::AppEnv;
use warp::env_vars;
use warp::layout::Layout;
use warp::settings::{self, ConfigFile, Id, Scope, Sources};
use warp::start::detect::{self, App};
use warp::start::serve::external::{self, Server};
use warp::start::serve::{foreground, install, pid1, privileges, setup, supervisor};
use warp::start::{output_dirs, plan, report, static_dirs};

use super::ExitWith;
use crate::cli::StartArgs;
use crate::ui;

pub fn run(args: StartArgs) -> Result<()> {
    // As PID 1, a stop signal must not be lost while the deploy hooks and detection run.
    pid1::exit_on_stop()?;
    let flags = &args.settings.flags;
    let src =
        flags.get(&Id::Src).and_then(|v| v.first()).map(PathBuf::from).or_else(|| env_vars::get(settings::var(Id::Src)).map(PathBuf::from));
    let layout = Layout::discover(src.as_deref())?;
    let config = ConfigFile::load(&layout.src, layout.legacy_dir())?;
    // Settings are checked before anything is looked at or run: from the environment files,
    // then again once the deploy-env hook has had its say.
    let files = AppEnv::from_files(&layout)?;
    let early = settings::resolve(&Sources { flags, env: &files, config: &config }, &[Scope::Start])?;
    if args.setup_only && early.path(Id::ServerRoot).is_none() {
        return Err(ExitWith {
            code: 2,
            message: "--setup-only needs --server-root DIR: the folder to write warp.env, warpctl and warp.service to".to_owned(),
        }
        .into());
    }
    if args.setup_only && early.flag(Id::EnableDebugger) {
        return Err(ExitWith {
            code: 2,
            message: "--enable-debugger cannot be set up for later: warpctl and the systemd unit run the server in the background, with no terminal for pdb; leave it off".to_owned(),
        }
        .into());
    }
    plan::check(&early, &layout.src)?;
    let reporter = ui::reporter();
    // --setup-only and --explain start nothing, so the deploy hooks wait for the real start.
    let env = if args.setup_only || args.explain {
        warp::appenv::hooks::runtime_env(&layout, reporter.as_ref())?
    } else {
        warp::appenv::hooks::deploy(&layout, reporter.as_ref())?
    };
    let settings = settings::resolve(&Sources { flags, env: &env, config: &config }, &[Scope::Start])?;
    let mut checked = plan::check(&settings, &layout.src)?;
    let python = plan::python(&layout);
    let input = detect::Input { src: &layout.src, python: &python, env: &env, settings: &settings };
    let detection = match detect::detect(&input, settings.text(Id::App)) {
        Ok(detection) => detection,
        Err(err) => {
            if let (true, Some(none)) = (args.explain, err.downcast_ref::<detect::NoAppFound>()) {
                drop(reporter);
                println!("{}\nfound: nothing", report::rules(&none.steps, &layout.src));
            }
            return Err(err);
        }
    };
    let wsgi = match &detection.app {
        App::Wsgi(wsgi) => Some(wsgi),
        App::Program(program) if checked.server.is_some_and(|server| program.server != Some(server.name())) => bail!(
            "{program} starts its own server, so --server {} does not apply: leave out --server (and {}), or name a WSGI app as `warp start SRC module:callable`",
            plan::server_name(checked.server),
            settings::var(Id::ServerType)
        ),
        App::Program(program) => {
            plan::own_server_only(&settings, &format!("{program} (the app's own server)"))?;
            None
        }
    };
    if let Some(django) = wsgi.and_then(|w| w.django.as_ref()) {
        // A project serving its files through WhiteNoise's middleware keeps doing so under
        // servers that need WhiteNoise for it anyway.
        let wrapped_anyway = django.whitenoise_middleware && matches!(checked.server, Some(Server::Gunicorn | Server::Waitress));
        if !wrapped_anyway {
            static_dirs::django_static(django, &mut checked.url_aliases, reporter.as_ref())?;
        }
    }
    let server = checked.server;
    let app = wsgi.map(|w| w.target.spec(&layout.src)).unwrap_or_default();
    let mut plan = plan::plan(&settings, &layout, env, app, checked);
    if plan.worker.coverage_dir.is_some() {
        coverage_in_venv(&plan.python, &layout.venv)?;
    }
    if let (true, Some(dir)) = (args.setup_only, settings.path(Id::ServerRoot)) {
        if plan.bind.port() == 0 {
            let message = "0 (any free port) cannot be written down for later: warpctl and the systemd unit need the port to probe; give a port number, such as 8000";
            return Err(settings::SettingError::new(plan::place(&settings, Id::Port), message.to_owned()).into());
        }
        let variables = plan::variables(&settings, &plan, &layout.src)?;
        reporter.info(&setup::write(&setup::Setup { dir, src: &layout.src, settings: variables, plan: &plan })?);
        return Ok(());
    }
    let paths = external::Paths { src: &layout.src, venv: &layout.venv };
    let launch = match (&detection.app, server) {
        (App::Wsgi(wsgi), Some(server)) => Some(external::launch(server, &plan, &settings, wsgi, &paths)?),
        _ => None,
    };
    if args.explain {
        drop(reporter);
        println!("{}", report::explain(&detection, &plan, &settings, &layout.src, launch.as_ref()));
        return Ok(());
    }
    for warning in &detection.warnings {
        reporter.warn(warning);
    }
    let port = plan.bind.port();
    match (&detection.app, launch) {
        (App::Program(program), _) => {
            reporter.info(&format!("warp: running {program} in {} (the app's own server; PORT={port})", layout.src.display()));
            drop(reporter);
            let mut cmd = Command::new(&program.argv[0]);
            cmd.args(&program.argv[1..]);
            let port = vec![(env_vars::PORT.to_owned(), port.to_string().into())];
            foreground(cmd, &port, &plan, plan.credentials.as_ref(), &layout.src, &program.to_string())
        }
        (App::Wsgi(wsgi), Some(launch)) => {
            reporter.info(&format!("warp: serving {} with {}: {}", wsgi.target, plan::server_name(server), launch.shown()));
            for note in &launch.notes {
                reporter.warn(note);
            }
            drop(reporter);
            launch.prepare()?;
            let mut cmd = Command::new(&launch.program);
            cmd.args(&launch.args);
            // Servers that switch user themselves bind first, so they get to keep port 80.
            let credentials = if launch.switches_user { None } else { plan.credentials.as_ref() };
            foreground(cmd, &launch.env, &plan, credentials, &layout.src, plan::server_name(server))
        }
        (App::Wsgi(_), None) => {
            output_dirs::prepare(&settings, &plan)?;
            install::install(&plan.python).context("cannot install warp's server module into the venv")?;
            // Bound before the banner, which shows the port the kernel chose for port 0.
            let listener = supervisor::listen(&mut plan)?;
            reporter.info(&report::banner(&plan, &settings, &layout.src));
            drop(reporter);
            supervisor::run(plan, listener)
        }
    }
}

/// Run a program that is the server in the app's environment (plus `extra`) and folder, as
/// `credentials` when given; its exit status becomes warp's.
fn foreground(
    mut cmd: Command,
    extra: &[(String, std::ffi::OsString)],
    plan: &supervisor::Plan,
    credentials: Option<&privileges::Credentials>,
    src: &Path,
    what: &str,
) -> Result<()> {
    cmd.current_dir(src);
    plan.env.apply(&mut cmd);
    cmd.envs(extra.iter().map(|(k, v)| (k, v)));
    if let Some(creds) = credentials {
        privileges::apply(&mut cmd, creds);
    }
    match foreground::run(cmd, plan.worker.shutdown_timeout)? {
        0 => Ok(()),
        code => Err(ExitWith { code: u8::try_from(code).unwrap_or(1), message: format!("{what} exited with status {code}") }.into()),
    }
}

/// `--enable-coverage` measures with the venv's own coverage.py: say so at once when it has
/// none, rather than let every worker fail to start.
fn coverage_in_venv(python: &Path, venv: &Path) -> Result<()> {
    let found = Command::new(python).args(["-c", "import coverage"]).output().is_ok_and(|out| out.status.success());
    if !found {
        bail!(
            "--enable-coverage needs coverage.py in the app's venv ({}): add `coverage` to its requirements and run warp build",
            venv.display()
        );
    }
    Ok(())
}
