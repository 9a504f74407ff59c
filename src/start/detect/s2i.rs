//! `WARP_DETECTION=s2i`: the rules of the OpenShift Python builder (sclorg's
//! s2i-python-container, its `run` script), in its order, for apps that move over from it:
//!
//! 1. a `gunicorn.conf.py` that binds `wsgi_app`, with gunicorn 20.1 or newer in the venv
//!    (older ones do not read `wsgi_app`): gunicorn runs on that file, as the builder's
//!    `exec gunicorn` does;
//! 2. `WARP_APP_SCRIPT`, else `app.sh` when none of `WARP_APP_SCRIPT`, `WARP_APP_FILE` and
//!    `WARP_APP_MODULE` is set: run it;
//! 3. `WARP_APP_FILE`, else `app.py` (on the same condition): run as a script,
//!    `python app.py`, even when it defines an application;
//! 4. `WARP_APP_MODULE`;
//! 5. `wsgi.py`, the module `wsgi`: its `application` (else `app`);
//! 6. a package's `setup.py`: the module its name names;
//! 7. Django: `manage.py` and its settings' `WSGI_APPLICATION`.
//!
//! Where the builder serves a module with gunicorn (rules 4 to 6) or runs Django's
//! development server (7), warp serves the WSGI app with the server the settings choose, its
//! own by default. There is no Paste Deploy or Procfile rule: the builder has neither.

use anyhow::Result;
use serde::Deserialize;

use super::{django, module, script_or_app_sh, serve_files, setup_py, top_level_names, App};
use super::{inspect, named_by, program::Program, Input, Rule, Seen};
use crate::settings::{var, Id};
use crate::start::plan;
use crate::start::serve::gunicorn_config::{self, Own, DEFAULT_FILE, GUNICORN_CMD_ARGS};

/// The value of `WARP_DETECTION` that chooses these rules.
pub const MODE: &str = "s2i";
/// What `--explain` says of the setting that chose them.
pub const MODE_OUTCOME: &str = "s2i: the OpenShift Python builder's rules, in its order";

/// The rules, in the builder's order.
pub const RULES: [Rule; 7] = [gunicorn_conf, script, app_file, module, wsgi, setup_py, django];

/// The oldest gunicorn that reads `wsgi_app` from its config file.
const GUNICORN_WITH_WSGI_APP: (u32, u32) = (20, 1);

/// What these rules look for, in their order, as an error names it.
pub fn looks_for() -> String {
    format!(
        "{DEFAULT_FILE} naming wsgi_app (with gunicorn 20.1 or newer in the venv), {} or app.sh, {} or app.py, {}, wsgi.py, \
         the module setup.py's package name names, and manage.py (Django), in the OpenShift Python builder's order ({}={MODE})",
        var(Id::AppScript),
        var(Id::AppFile),
        var(Id::AppModule),
        var(Id::Detection)
    )
}

/// Rule 1: a gunicorn.conf.py that binds `wsgi_app`, run by the venv's gunicorn with that
/// file, bound where warp resolved unless the app's gunicorn settings bind.
fn gunicorn_conf(ctx: &Input, steps: &mut Seen) -> Result<Option<App>> {
    let rule = DEFAULT_FILE.to_owned();
    let path = ctx.src.join(DEFAULT_FILE);
    if !path.is_file() {
        steps.push((rule, "not found".to_owned()));
        return Ok(None);
    }
    let server = ctx.settings.text(Id::ServerType).unwrap_or("warp");
    if ctx.settings.is_given(Id::ServerType) && server != "gunicorn" {
        steps.push((
            rule,
            format!("present, but {} asks for {server}, so gunicorn does not run it", plan::place(ctx.settings, Id::ServerType)),
        ));
        return Ok(None);
    }
    let names = top_level_names(ctx, &path)?;
    if !names.iter().any(|name| name == "wsgi_app") {
        steps.push((rule, "binds no wsgi_app, so it does not name the app".to_owned()));
        return Ok(None);
    }
    let executable = ctx.python.with_file_name("gunicorn");
    #[derive(Deserialize)]
    struct Found {
        version: Option<String>,
    }
    let found: Found = inspect(ctx, &["version", "gunicorn"])?;
    let version = match found.version.filter(|_| executable.is_file()) {
        None => {
            steps.push((rule, "names wsgi_app, but gunicorn is not in the venv, so skipped".to_owned()));
            return Ok(None);
        }
        Some(version) if release(&version) < Some(GUNICORN_WITH_WSGI_APP) => {
            steps.push((rule, format!("names wsgi_app, but gunicorn {version} reads it only from 20.1 on, so skipped")));
            return Ok(None);
        }
        Some(version) => version,
    };
    // Server args are gunicorn's only when gunicorn is the server asked for; else they
    // were read as warp's own flags.
    let server_args = if server == "gunicorn" { ctx.settings.list(Id::ServerArgs) } else { &[] };
    let own = Own::find(server_args, ctx.env.get(GUNICORN_CMD_ARGS).as_deref(), ctx.src)?;
    let cmd_args = own.and_then(|own| own.cmd_args).unwrap_or_default();
    let mut args = vec!["--config".to_owned(), DEFAULT_FILE.to_owned()];
    if !gunicorn_config::binds(&[server_args, &cmd_args], &names) {
        args.extend(["--bind".to_owned(), plan::bind(ctx.settings).to_string()]);
    }
    args.extend(server_args.iter().cloned());
    let program = Program::gunicorn(&executable, args);
    steps.push((rule, format!("names wsgi_app, and gunicorn {version} is in the venv: run {program}")));
    Ok(Some(App::Program(program)))
}

/// `major.minor` of a version such as `23.0.0`.
fn release(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.').map(|part| part.parse::<u32>().ok());
    Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// The variable among WARP_APP_SCRIPT, WARP_APP_FILE and WARP_APP_MODULE that is set, if
/// any: the builder looks for app.sh and app.py only when none is.
fn app_named(ctx: &Input) -> Option<String> {
    [Id::AppScript, Id::AppFile, Id::AppModule].into_iter().find(|id| ctx.settings.get(*id).is_some()).map(|id| ctx.settings.label(id))
}

/// Rule 2: WARP_APP_SCRIPT, else app.sh when no WARP_APP_* is set.
fn script(ctx: &Input, steps: &mut Seen) -> Result<Option<App>> {
    let named = app_named(ctx);
    if let (Some(label), None) = (&named, named_by(ctx, Id::AppScript)) {
        steps.push((format!("{}, app.sh", var(Id::AppScript)), format!("not set; app.sh not looked for, as {label} is set")));
        return Ok(None);
    }
    script_or_app_sh(ctx, steps, true)
}

/// Rule 3: WARP_APP_FILE, else app.py when no WARP_APP_* is set: run as a script.
fn app_file(ctx: &Input, steps: &mut Seen) -> Result<Option<App>> {
    if let Some((text, label)) = named_by(ctx, Id::AppFile) {
        let path = super::existing_file(ctx.src, &text, &label)?;
        steps.push((label, format!("{text}: run it as a script")));
        return Ok(Some(App::Program(Program::python_script(ctx.python, &path))));
    }
    let rule = format!("{}, app.py", var(Id::AppFile));
    let path = ctx.src.join("app.py");
    let outcome = match app_named(ctx) {
        Some(label) => format!("not set; app.py not looked for, as {label} is set"),
        None if path.is_file() => {
            steps.push(("app.py".to_owned(), "present: run it as a script, whatever it defines (as the builder does)".to_owned()));
            return Ok(Some(App::Program(Program::python_script(ctx.python, &path))));
        }
        None => "not set; app.py not found".to_owned(),
    };
    steps.push((rule, outcome));
    Ok(None)
}

/// Rule 5: wsgi.py, the module `wsgi`.
fn wsgi(ctx: &Input, steps: &mut Seen) -> Result<Option<App>> {
    let path = ctx.src.join("wsgi.py");
    if !path.is_file() {
        steps.push(("wsgi.py".to_owned(), "not found".to_owned()));
        return Ok(None);
    }
    serve_files(ctx, steps, &[path], false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunicorn_releases_compare_by_major_and_minor() {
        assert_eq!(release("20.1.0"), Some((20, 1)));
        assert_eq!(release("23"), Some((23, 0)));
        assert!(release("20.0.4") < Some(GUNICORN_WITH_WSGI_APP));
        assert!(release("19.10.0") < Some(GUNICORN_WITH_WSGI_APP));
        assert!(release("21.2.0") >= Some(GUNICORN_WITH_WSGI_APP));
        assert_eq!(release("dev"), None);
    }
}
