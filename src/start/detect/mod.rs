//! Which app `warp start` serves, and how: the rules of DESIGN.md section 3, in order, or
//! with `WARP_DETECTION=s2i` the OpenShift Python builder's rules in its order ([`s2i`]).
//!
//! Each rule tried is recorded with its outcome, so `warp start --explain` can show why an
//! app was chosen, and an app folder where nothing matched gets one error naming every
//! place looked at. What a Python file defines is read from its syntax tree, not by
//! importing it; only a Django project's settings module is imported, to read its settings,
//! and a package's setup.py is run to give its name, as `python setup.py --name`.

mod program;
mod s2i;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::appenv::AppEnv;
use crate::pathsearch::is_executable;
use crate::settings::{var, Id, Settings};

pub use program::Program;

/// The files that hold a WSGI app by convention, in the order they are tried.
const WSGI_FILES: [&str; 3] = ["wsgi.py", "app.py", "application.py"];
/// The callables looked for in a WSGI file, preferred first.
const CALLABLES: [&str; 2] = ["application", "app"];

const INSPECT_PY: &str = include_str!("inspect.py");
/// The worker's own reader of `callable` and `factory(args)`, run here to check an app
/// factory's arguments exactly as a worker will read them, before anything starts.
const TARGET_PY: &str = include_str!("../../../crates/server/python/warp_server/target.py");

/// What was found.
#[derive(Debug, Clone)]
pub enum App {
    /// A program that is the server itself: app.sh, a Procfile `web:` line, or an app.py
    /// that defines no WSGI callable.
    Program(Program),
    /// A WSGI application, for the embedded server or another one.
    Wsgi(Wsgi),
}

#[derive(Debug, Clone)]
pub struct Wsgi {
    pub target: Target,
    /// Set when the app is a Django project.
    pub django: Option<Django>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `module:callable`, or `module:factory(args)` (gunicorn's syntax): `call` then holds
    /// the factory's literal arguments as written between the parentheses, and the app is
    /// what the factory returns. When the app was named by its file, `file` is that file:
    /// the module is its name, imported from its folder.
    Module { module: String, callable: String, call: Option<String>, file: Option<PathBuf> },
    /// A Paste Deploy configuration file, whose `main` app is served.
    Paste(PathBuf),
}

impl Target {
    /// How the embedded server's workers are told which app to load (a file under `src`
    /// by its relative path, so the setting survives the app folder moving).
    pub fn spec(&self, src: &Path) -> String {
        match self {
            Target::Module { file: Some(file), .. } => file.strip_prefix(src).unwrap_or(file).to_string_lossy().into_owned(),
            Target::Module { file: None, .. } => self.to_string(),
            Target::Paste(ini) => ini.to_string_lossy().into_owned(),
        }
    }

    /// The folder to put on the module search path besides SRC, for a file elsewhere.
    pub fn extra_path(&self, src: &Path) -> Option<&Path> {
        match self {
            Target::Module { file: Some(file), .. } => file.parent().filter(|dir| *dir != src),
            _ => None,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Module { module, callable, call: None, .. } => write!(f, "{module}:{callable}"),
            Target::Module { module, callable, call: Some(args), .. } => write!(f, "{module}:{callable}({args})"),
            Target::Paste(ini) => write!(f, "Paste Deploy app from {}", ini.display()),
        }
    }
}

/// What a Django project's settings say about serving it.
#[derive(Debug, Clone)]
pub struct Django {
    pub settings: String,
    /// STATIC_URL as a path (`/static/`), unless the files are served from another host.
    pub static_url: Option<String>,
    /// STATIC_ROOT, absolute: where collectstatic put the files.
    pub static_root: Option<PathBuf>,
    /// The project serves its static files itself through WhiteNoise's middleware.
    pub whitenoise_middleware: bool,
}

/// The outcome, with the reasoning that led to it.
#[derive(Debug)]
pub struct Detection {
    pub app: App,
    /// Each rule tried, with what it found: `(rule, outcome)`.
    pub steps: Vec<(String, String)>,
    /// What the user should hear on start too, not only from `--explain`: a file that
    /// looks meant to be the app but was passed over.
    pub warnings: Vec<String>,
}

/// Where the app's Python, variables and settings come from.
pub struct Input<'a> {
    pub src: &'a Path,
    pub python: &'a Path,
    pub env: &'a AppEnv,
    /// The resolved `warp start` settings, for the `WARP_APP_*` that name the app.
    pub settings: &'a Settings,
}

/// Nothing was found: each rule with what it saw, for `--explain`.
#[derive(Debug, thiserror::Error)]
#[error("no app found in {}: looked for {looked_for}; add one, or pass the app as `warp start SRC module:callable`", src.display())]
pub struct NoAppFound {
    pub src: PathBuf,
    pub steps: Vec<(String, String)>,
    /// Every place the rules looked, in their order.
    looked_for: String,
}

/// What warp's own rules look for, in their order, as an error names it.
fn warp_rules_look_for() -> String {
    format!(
        "{}, an executable app.sh, {}, {}, wsgi.py, app.py or application.py defining `application` or `app`, \
         manage.py (Django), {} (a Paste .ini), a Procfile `web:` line and the module setup.py's package name names",
        var(Id::AppScript),
        var(Id::AppModule),
        var(Id::AppFile),
        var(Id::AppConfig)
    )
}

/// A setting that names the app: its text, and how to quote it (the variable, and where
/// it was set when that was not a variable).
fn named_by(ctx: &Input, id: Id) -> Option<(String, String)> {
    let text = ctx.settings.get(id)?.render();
    Some((text, ctx.settings.label(id)))
}

/// One detection rule: the app it found, if any, having recorded what it saw.
type Rule = fn(&Input, &mut Seen) -> Result<Option<App>>;

/// What the rules saw, for [`Detection`].
#[derive(Default)]
struct Seen {
    steps: Vec<(String, String)>,
    warnings: Vec<String>,
}

impl Seen {
    fn push(&mut self, step: (String, String)) {
        self.steps.push(step);
    }
}

/// What a non-executable app.sh says, in `--explain` and as a warning on start.
const APP_SH_SKIPPED: &str = "present but not executable, so skipped (`chmod +x app.sh` to run it)";

/// Find the app in `ctx.src`: `explicit` (the APP argument) when given, else by the rules.
pub fn detect(ctx: &Input, explicit: Option<&str>) -> Result<Detection> {
    if let Some(app) = explicit {
        let app = named(ctx, app, "the APP argument")?;
        let steps = vec![("APP argument".to_owned(), describe(&app))];
        return Ok(Detection { app, steps, warnings: Vec::new() });
    }
    let mut seen = Seen::default();
    let (rules, looked_for): (&[Rule], String) = if ctx.settings.text(Id::Detection) == Some(s2i::MODE) {
        seen.push((ctx.settings.label(Id::Detection), s2i::MODE_OUTCOME.to_owned()));
        (&s2i::RULES, s2i::looks_for())
    } else {
        (&WARP_RULES, warp_rules_look_for())
    };
    for rule in rules {
        if let Some(app) = rule(ctx, &mut seen)? {
            return Ok(Detection { app, steps: seen.steps, warnings: seen.warnings });
        }
    }
    Err(NoAppFound { src: ctx.src.to_path_buf(), steps: seen.steps, looked_for }.into())
}

/// warp's own rules, in their order.
const WARP_RULES: [Rule; 7] = [script, module, wsgi_file, django, paste_config, procfile, setup_py];

/// One line saying what will run.
pub fn describe(app: &App) -> String {
    match app {
        App::Program(program) => format!("run {program}"),
        App::Wsgi(Wsgi { target, django: Some(django) }) => format!("serve {target} (Django, settings {})", django.settings),
        App::Wsgi(Wsgi { target, django: None }) => format!("serve {target}"),
    }
}

/// An app named by the APP argument or a variable: `module[:callable]`, a `.py` file, a
/// Paste `.ini` file, or an executable.
fn named(ctx: &Input, text: &str, origin: &str) -> Result<App> {
    // A factory's arguments may hold anything, a path included.
    let head = text.split('(').next().unwrap_or(text);
    let looks_like_path = head.ends_with(".py") || head.ends_with(".ini") || head.contains('/');
    if !looks_like_path {
        return Ok(App::Wsgi(Wsgi { target: module_target(ctx, text, origin)?, django: None }));
    }
    let path = existing_file(ctx.src, text, origin)?;
    if text.ends_with(".ini") {
        return paste(ctx, path).map(App::Wsgi);
    }
    if text.ends_with(".py") {
        let found = defines(ctx, &[&path])?.remove(0);
        return match found.callable() {
            Some(callable) => Ok(file_app(&path, callable)),
            None => bail!(
                "{} ({origin}) defines neither `application` nor `app` at top level: name the callable as module:callable",
                path.display()
            ),
        };
    }
    if !is_executable(&path) {
        bail!("{} ({origin}) is not executable: run `chmod +x {}`, or name a .py file or module:callable", path.display(), path.display());
    }
    Ok(App::Program(Program::executable(path)))
}

/// `module:callable` or `module:factory(args)`, its arguments checked by the worker's reader.
fn module_target(ctx: &Input, text: &str, origin: &str) -> Result<Target> {
    let target = parse_module_target(text, origin)?;
    if let Target::Module { callable, call: Some(args), .. } = &target {
        if !args.trim().is_empty() {
            #[derive(Deserialize)]
            struct Checked {
                error: Option<String>,
            }
            let checked: Checked = run_python(ctx, TARGET_PY, &[&format!("{callable}({args})")])?;
            if let Some(error) = checked.error {
                bail!("{text:?} ({origin}): {error}");
            }
        }
    }
    Ok(target)
}

/// The shape of `module:callable` or `module:factory(args)`; the arguments are left as written.
fn parse_module_target(text: &str, origin: &str) -> Result<Target> {
    let (module, object) = text.split_once(':').unwrap_or((text, "application"));
    let (callable, call) = match object.trim().split_once('(') {
        Some((name, rest)) => (name.trim_end(), rest.strip_suffix(')')),
        None => (object, None),
    };
    let unclosed = object.contains('(') && call.is_none();
    let dotted = |s: &str| !s.is_empty() && s.split('.').all(is_identifier);
    if unclosed || !dotted(module) || !dotted(callable) {
        bail!(
            "{text:?} ({origin}) is not module:callable or module:factory(arguments): write it as package.module:callable, \
             e.g. mysite.wsgi:application, or call an app factory as flaskr:create_app() (literal arguments only)"
        );
    }
    Ok(Target::Module { module: module.to_owned(), callable: callable.to_owned(), call: call.map(str::to_owned), file: None })
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

fn existing_file(src: &Path, text: &str, origin: &str) -> Result<PathBuf> {
    let path = src.join(text);
    if !path.is_file() {
        bail!("{} ({origin}) does not exist: give a path relative to {} or an absolute one", path.display(), src.display());
    }
    Ok(path)
}

fn file_app(path: &Path, callable: &str) -> App {
    let module = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    App::Wsgi(Wsgi {
        target: Target::Module { module, callable: callable.to_owned(), call: None, file: Some(path.to_path_buf()) },
        django: None,
    })
}

/// Rule 1: WARP_APP_SCRIPT, or an executable app.sh: the script is the server.
fn script(ctx: &Input, steps: &mut Seen) -> Result<Option<App>> {
    script_or_app_sh(ctx, steps, true)
}

/// WARP_APP_SCRIPT, or, when `app_sh` says to look for it, an executable app.sh.
fn script_or_app_sh(ctx: &Input, steps: &mut Seen, app_sh: bool) -> Result<Option<App>> {
    if let Some((text, label)) = named_by(ctx, Id::AppScript) {
        let path = existing_file(ctx.src, &text, &label)?;
        if !is_executable(&path) {
            bail!("{} ({label}) is not executable: run `chmod +x {}`", path.display(), path.display());
        }
        steps.push((label, format!("{text}: run it")));
        return Ok(Some(App::Program(Program::executable(path))));
    }
    if !app_sh {
        return Ok(None);
    }
    let path = ctx.src.join("app.sh");
    let outcome = if !path.is_file() {
        "not found"
    } else if is_executable(&path) {
        steps.push(("app.sh".to_owned(), "executable: run it".to_owned()));
        return Ok(Some(App::Program(Program::executable(path))));
    } else {
        // Likely meant to run: said on start too, where a quiet skip would puzzle.
        steps.warnings.push(format!("app.sh is {APP_SH_SKIPPED}"));
        APP_SH_SKIPPED
    };
    steps.push((format!("{}, app.sh", var(Id::AppScript)), format!("not set; app.sh {outcome}")));
    Ok(None)
}

/// Rule 2: WARP_APP_MODULE.
fn module(ctx: &Input, steps: &mut Seen) -> Result<Option<App>> {
    let Some((text, label)) = named_by(ctx, Id::AppModule) else {
        steps.push((var(Id::AppModule).to_owned(), "not set".to_owned()));
        return Ok(None);
    };
    let target = module_target(ctx, &text, &label)?;
    steps.push((label, format!("{text}: serve {target}")));
    Ok(Some(App::Wsgi(Wsgi { target, django: None })))
}

/// Rule 3: WARP_APP_FILE, else wsgi.py, app.py, application.py: served when they define
/// `application` or `app`. An app.py (or WARP_APP_FILE) with neither is run as a script.
fn wsgi_file(ctx: &Input, steps: &mut Seen) -> Result<Option<App>> {
    let (candidates, chosen): (Vec<PathBuf>, bool) = match named_by(ctx, Id::AppFile) {
        Some((text, label)) => (vec![existing_file(ctx.src, &text, &label)?], true),
        None => (WSGI_FILES.iter().map(|name| ctx.src.join(name)).filter(|p| p.is_file()).collect(), false),
    };
    if candidates.is_empty() {
        steps.push((format!("{}, {}", var(Id::AppFile), WSGI_FILES.join(", ")), "not set; none of the files exists".to_owned()));
        return Ok(None);
    }
    serve_files(ctx, steps, &candidates, chosen)
}

/// The first of `candidates` that binds `application` or `app`, served; one that binds
/// neither is run as a script when `chosen` (named by WARP_APP_FILE) or it is app.py, else
/// passed over.
fn serve_files(ctx: &Input, steps: &mut Seen, candidates: &[PathBuf], chosen: bool) -> Result<Option<App>> {
    let refs: Vec<&Path> = candidates.iter().map(PathBuf::as_path).collect();
    for (path, found) in candidates.iter().zip(defines(ctx, &refs)?) {
        let shown = path.strip_prefix(ctx.src).unwrap_or(path).display().to_string();
        let rule = if chosen { format!("{} {shown}", var(Id::AppFile)) } else { shown.clone() };
        if let Some(error) = &found.error {
            // A file by one of these names that does not even parse is most likely the
            // app: serving it shows the full error where a guess would hide it.
            steps.push((rule, format!("does not parse ({error}); served anyway so its error shows in full")));
            return Ok(Some(file_app(path, CALLABLES[0])));
        }
        if let Some(callable) = found.callable() {
            steps.push((rule, format!("defines `{callable}`: serve it")));
            return Ok(Some(file_app(path, callable)));
        }
        if chosen || shown == "app.py" {
            steps.push((rule, "defines neither `application` nor `app`: run it as a script".to_owned()));
            return Ok(Some(App::Program(Program::python_script(ctx.python, path))));
        }
        steps.push((rule, "defines neither `application` nor `app`, so skipped".to_owned()));
    }
    Ok(None)
}

/// Rule 4: a Django project: manage.py, and its settings' WSGI_APPLICATION.
fn django(ctx: &Input, steps: &mut Seen) -> Result<Option<App>> {
    if !ctx.src.join("manage.py").is_file() {
        steps.push(("manage.py (Django)".to_owned(), "not found".to_owned()));
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct Found {
        error: Option<String>,
        settings: Option<String>,
        wsgi: Option<String>,
        static_url: Option<String>,
        static_root: Option<String>,
        #[serde(default)]
        whitenoise_middleware: bool,
    }
    let found: Found = inspect(ctx, &["django"])?;
    if let Some(error) = found.error {
        bail!("manage.py found, but {error}");
    }
    let settings = found.settings.unwrap_or_default();
    let Some(wsgi) = found.wsgi else {
        bail!("Django settings {settings} have no WSGI_APPLICATION: set it, as in WSGI_APPLICATION = \"mysite.wsgi.application\"");
    };
    let Some((module, callable)) = wsgi.rsplit_once('.') else {
        bail!("WSGI_APPLICATION {wsgi:?} in {settings} is not module.callable: write it as \"mysite.wsgi.application\"");
    };
    let target = module_target(ctx, &format!("{module}:{callable}"), "WSGI_APPLICATION")?;
    let django = Django {
        settings,
        static_url: found.static_url.as_deref().and_then(static_path),
        static_root: found.static_root.map(|root| ctx.src.join(root)),
        whitenoise_middleware: found.whitenoise_middleware,
    };
    steps.push(("manage.py (Django)".to_owned(), format!("settings {}, WSGI_APPLICATION {wsgi}: serve {target}", django.settings)));
    Ok(Some(App::Wsgi(Wsgi { target, django: Some(django) })))
}

/// STATIC_URL as a path on this server (`static/` → `/static/`); `None` when the files
/// live on another host.
fn static_path(url: &str) -> Option<String> {
    if url.contains("://") || url.starts_with("//") {
        return None;
    }
    let trimmed = url.trim_matches('/');
    (!trimmed.is_empty()).then(|| format!("/{trimmed}/"))
}

/// Rule 5: a Paste Deploy .ini named by WARP_APP_CONFIG.
fn paste_config(ctx: &Input, steps: &mut Seen) -> Result<Option<App>> {
    let Some((text, label)) = named_by(ctx, Id::AppConfig) else {
        steps.push((var(Id::AppConfig).to_owned(), "not set".to_owned()));
        return Ok(None);
    };
    let path = existing_file(ctx.src, &text, &label)?;
    let wsgi = paste(ctx, path)?;
    steps.push((label, format!("{text}: serve {}", wsgi.target)));
    Ok(Some(App::Wsgi(wsgi)))
}

fn paste(ctx: &Input, ini: PathBuf) -> Result<Wsgi> {
    #[derive(Deserialize)]
    struct Found {
        error: Option<String>,
    }
    let found: Found = inspect(ctx, &["paste", &ini.to_string_lossy()])?;
    if let Some(error) = found.error {
        bail!("{error}");
    }
    Ok(Wsgi { target: Target::Paste(ini), django: None })
}

/// Rule 6: a Procfile's `web:` line, run by the shell.
fn procfile(ctx: &Input, steps: &mut Seen) -> Result<Option<App>> {
    let path = ctx.src.join("Procfile");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            steps.push(("Procfile".to_owned(), "not found".to_owned()));
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let web = text.lines().find_map(|line| line.trim_start().strip_prefix("web:")).map(str::trim).filter(|cmd| !cmd.is_empty());
    let Some(command) = web else {
        steps.push(("Procfile".to_owned(), "has no `web:` line".to_owned()));
        return Ok(None);
    };
    steps.push(("Procfile".to_owned(), format!("web: {command}")));
    Ok(Some(App::Program(Program::shell(command))))
}

/// Last rule: a package's setup.py, whose name (`python setup.py --name`, as the OpenShift
/// Python builder asks it) names the module to serve, from the app's folder or the venv:
/// its `application`, else `app`. `-` in the name reads as `_`, as packaging writes modules.
fn setup_py(ctx: &Input, steps: &mut Seen) -> Result<Option<App>> {
    const RULE: &str = "setup.py (package name)";
    if !ctx.src.join("setup.py").is_file() {
        steps.push((RULE.to_owned(), "not found".to_owned()));
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct Found {
        name_error: Option<String>,
        name: Option<String>,
        module: Option<String>,
        #[serde(default)]
        names: Vec<String>,
        error: Option<String>,
        #[serde(default)]
        tried: Vec<String>,
    }
    let found: Found = inspect(ctx, &["setup"])?;
    let name = found.name.unwrap_or_default();
    let (outcome, app) = match (found.name_error, found.module) {
        (Some(error), _) => (format!("its package's name cannot be read ({error}), so skipped"), None),
        (None, None) => {
            (format!("package {name}: no module {} in the app's folder or the venv, so skipped", found.tried.join(" or ")), None)
        }
        (None, Some(module)) => {
            let defines = Defines { names: found.names, error: found.error };
            match (&defines.error, defines.callable()) {
                (Some(error), _) => (
                    format!("package {name}: module {module} does not parse ({error}); served anyway so its error shows in full"),
                    Some((module, CALLABLES[0])),
                ),
                (None, Some(callable)) => (format!("package {name}: serve {module}:{callable}"), Some((module, callable))),
                (None, None) => (format!("package {name}: module {module} defines neither `application` nor `app`, so skipped"), None),
            }
        }
    };
    steps.push((RULE.to_owned(), outcome));
    Ok(app.map(|(module, callable)| {
        App::Wsgi(Wsgi { target: Target::Module { module, callable: callable.to_owned(), call: None, file: None }, django: None })
    }))
}

/// What one Python file binds at top level.
#[derive(Deserialize)]
struct Defines {
    #[serde(default)]
    names: Vec<String>,
    error: Option<String>,
}

impl Defines {
    /// The WSGI callable the file defines, preferred first. A `from x import *` may bring
    /// one in unseen, so it counts as `application`.
    fn callable(&self) -> Option<&'static str> {
        CALLABLES
            .into_iter()
            .find(|c| self.names.iter().any(|n| n == c))
            .or_else(|| self.names.iter().any(|n| n == "*").then_some(CALLABLES[0]))
    }
}

/// The names `file` binds at top level, read from its syntax tree without running it: how
/// warp reads which settings a gunicorn config file sets. A file that does not parse is an
/// error that names it and the line.
pub fn top_level_names(ctx: &Input, file: &Path) -> Result<Vec<String>> {
    let found = defines(ctx, &[file])?.remove(0);
    match found.error {
        Some(error) => bail!("{} does not parse ({error}): fix it", file.display()),
        None => Ok(found.names),
    }
}

fn defines(ctx: &Input, files: &[&Path]) -> Result<Vec<Defines>> {
    let mut args = vec!["names".to_owned()];
    args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut found: std::collections::HashMap<String, Defines> = inspect(ctx, &refs)?;
    Ok(args[1..]
        .iter()
        .map(|f| found.remove(f).unwrap_or(Defines { names: Vec::new(), error: Some("not inspected".to_owned()) }))
        .collect())
}

/// Run inspect.py with `args` in the app's folder and environment, and read its answer.
fn inspect<T: serde::de::DeserializeOwned>(ctx: &Input, args: &[&str]) -> Result<T> {
    run_python(ctx, INSPECT_PY, args)
}

/// Run the Python `code` with `args` as inspect.py is run, and read its JSON answer.
fn run_python<T: serde::de::DeserializeOwned>(ctx: &Input, code: &str, args: &[&str]) -> Result<T> {
    let mut cmd = Command::new(ctx.python);
    cmd.arg("-c").arg(code).args(args).current_dir(ctx.src);
    ctx.env.apply(&mut cmd);
    let out = cmd.output().with_context(|| format!("cannot run {} to inspect the app", ctx.python.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
        bail!("{} failed while inspecting the app ({}): {last}", ctx.python.display(), args[0]);
    }
    serde_json::from_slice(&out.stdout).context("the app inspection gave an unreadable answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_url_becomes_a_local_path_or_none() {
        assert_eq!(static_path("static/").as_deref(), Some("/static/"));
        assert_eq!(static_path("/assets").as_deref(), Some("/assets/"));
        assert_eq!(static_path("https://cdn.example.com/static/"), None);
        assert_eq!(static_path("//cdn.example.com/static/"), None);
        assert_eq!(static_path("/"), None);
    }

    #[test]
    fn module_specs_are_checked() {
        assert_eq!(
            parse_module_target("mysite.wsgi:application", "test").unwrap(),
            Target::Module { module: "mysite.wsgi".into(), callable: "application".into(), call: None, file: None }
        );
        assert_eq!(parse_module_target("wsgi", "test").unwrap().to_string(), "wsgi:application");
        assert_eq!(parse_module_target("app:create_app.app", "test").unwrap().to_string(), "app:create_app.app");
        for bad in ["", ":app", "my-site:app", "a:", "a:b:c", "1x:app", "a:f(", "a:f(1", "a:(1)", "a:f)(", "f()", "a:f(1) x"] {
            let err = parse_module_target(bad, "test").expect_err(bad).to_string();
            assert!(err.contains("is not module:callable or module:factory(arguments)"), "{err}");
        }
    }

    #[test]
    fn factory_calls_keep_their_arguments_as_written() {
        assert_eq!(
            parse_module_target("flaskr:create_app()", "test").unwrap(),
            Target::Module { module: "flaskr".into(), callable: "create_app".into(), call: Some(String::new()), file: None }
        );
        let target = parse_module_target("app:make.app( 'a:b/c', debug=True ) ", "test").unwrap();
        assert_eq!(target.to_string(), "app:make.app( 'a:b/c', debug=True )");
        assert_eq!(target.spec(Path::new("/src")), target.to_string());
    }
}
