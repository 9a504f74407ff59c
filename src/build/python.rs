//! Choosing the Python interpreter an app is built with.
//!
//! The request comes from `WARP_PYTHON`, else `.python-version` (pyenv's file), else
//! `runtime.txt` (`python-3.11.7`). A version request is looked for in pyenv's versions, then
//! as `pythonX.Y` on PATH, then through `uv python find`.
//!
//! Without a request, the versions the app declares (`requires-python`, Poetry's `python`,
//! a Pipfile's `[requires]`; see [`crate::build::requires_python`]) choose: `python3` when it
//! satisfies them, so declaring a range never changes a working build, else the newest
//! installed interpreter that does. With neither, `python3`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

mod answers;

use crate::build::requires_python::{self, Declared};
use crate::settings::{self, Id};
use crate::{env_vars, pathsearch};

/// The oldest Python warp builds with.
pub const MINIMUM: (u32, u32) = (3, 9);

/// Prints what warp needs to know about an interpreter; must run on any Python 3. It runs
/// with `-S`: `site` (and whatever `.pth` files it runs) is not needed to answer.
const QUERY: &str = "import json, sys; name = sys.implementation.name; print(json.dumps({'executable': \
sys.executable, 'version': list(sys.version_info[:3]), \
'implementation': {'cpython': 'CPython', 'pypy': 'PyPy'}.get(name, name)}))";

/// An interpreter that answered the query.
#[derive(Debug, Clone)]
pub struct Interpreter {
    pub executable: PathBuf,
    pub version: (u32, u32, u32),
    pub implementation: String,
    /// Why this one was chosen ("WARP_PYTHON", ".python-version", ...).
    pub origin: String,
    /// Set when the request named a patch version that is not installed and a sibling was used.
    pub substitute_for: Option<String>,
}

impl Interpreter {
    pub fn version_text(&self) -> String {
        let (a, b, c) = self.version;
        format!("{a}.{b}.{c}")
    }
}

impl fmt::Display for Interpreter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} at {}", self.implementation, self.version_text(), self.executable.display())
    }
}

/// The interpreter chosen for an app, and what the build should say about the choice.
#[derive(Debug)]
pub struct Choice {
    pub interpreter: Interpreter,
    /// Why it was chosen, for the build's "python:" line.
    pub reason: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error("no Python found for {request:?} (from {origin}); looked for {}: install it, or set {} to an interpreter", looked.join(", "), settings::var(Id::Python))]
    NotFound { request: String, origin: String, looked: Vec<String> },
    #[error("{found} (from {origin}) is too old: warp needs Python {}.{} or newer; install one, or set {} to it", MINIMUM.0, MINIMUM.1, settings::var(Id::Python))]
    TooOld { found: String, origin: String },
    #[error("{origin} says {text:?}, which is not a Python version: write a version such as 3.12")]
    BadRequest { text: String, origin: String },
    #[error("{origin} is {text:?}, which is not a Python version specifier: write one such as \">=3.11\"")]
    BadSpecifier { text: String, origin: &'static str },
    #[error(
        "no installed Python satisfies {declared} (found: {found}): install one that does, or set {} to choose one",
        settings::var(Id::Python)
    )]
    NoneSatisfies { declared: String, found: String },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

/// What the user asked for, before looking.
#[derive(Debug, PartialEq)]
enum Request {
    /// A path or a command name.
    Program(String),
    /// Version components, such as `[3, 12]` or `[3, 12, 1]`.
    Version(Vec<u32>),
}

/// Choose the interpreter for the app at `src`: `asked` (the build's python setting, with
/// where it was set), else the app's files.
pub fn find(src: &Path, asked: Option<(String, String)>) -> Result<Choice, PythonError> {
    let asked = match asked {
        Some(asked) => Some(asked),
        None => requested(src)?,
    };
    let Some((text, origin)) = asked else {
        let declared = requires_python::declared(src).map_err(|bad| PythonError::BadSpecifier { text: bad.text, origin: bad.origin })?;
        return Ok(match declared {
            Some(declared) => Choice { interpreter: satisfying(&declared)?, reason: declared.to_string(), warnings: Vec::new() },
            None => Choice { interpreter: resolve("python3", "the default")?, reason: "the default".to_owned(), warnings: Vec::new() },
        });
    };
    let interpreter = resolve(&text, &origin)?;
    let mut warnings = Vec::new();
    if let Some(asked) = &interpreter.substitute_for {
        warnings.push(format!("{origin} asks for Python {asked}, which is not installed: using {}", interpreter.version_text()));
    }
    // The request wins; a declaration that excludes it is worth a word (a malformed one is
    // left to the installer, which reads it too).
    if let Ok(Some(declared)) = requires_python::declared(src) {
        if !declared.constraint.allows(interpreter.version) {
            warnings.push(format!(
                "Python {} (from {origin}) is outside {declared}: dependencies may fail to install or be left out by their markers",
                interpreter.version_text()
            ));
        }
    }
    Ok(Choice { interpreter, reason: origin, warnings })
}

/// Find the interpreter that `text` names: a path, a command, or a version. `origin` says
/// where the text came from, for messages.
pub fn resolve(text: &str, origin: &str) -> Result<Interpreter, PythonError> {
    let text = text.to_owned();
    let request = parse_request(&text, origin)?;
    let (found, looked) = match &request {
        Request::Program(program) => {
            let found = pathsearch::which(program).and_then(|p| query(&p));
            (found, vec![program.clone()])
        }
        Request::Version(parts) => find_version(parts),
    };
    let mut interpreter = found.ok_or_else(|| PythonError::NotFound { request: text.clone(), origin: origin.to_owned(), looked })?;
    interpreter.origin = origin.to_owned();
    if let Request::Version(parts) = &request {
        if parts.len() == 3 && !matches_version(&interpreter, parts) {
            interpreter.substitute_for = Some(text.clone());
        }
    }
    if (interpreter.version.0, interpreter.version.1) < MINIMUM {
        return Err(PythonError::TooOld { found: interpreter.to_string(), origin: origin.to_owned() });
    }
    Ok(interpreter)
}

/// The raw request text and where it came from, if there is one.
fn requested(src: &Path) -> Result<Option<(String, String)>, PythonError> {
    for (file, origin) in [(".python-version", ".python-version"), ("runtime.txt", "runtime.txt")] {
        let path = src.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("").to_owned();
                return Ok(Some((first, origin.to_owned())));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(PythonError::Read { path, source }),
        }
    }
    Ok(None)
}

fn parse_request(text: &str, origin: &str) -> Result<Request, PythonError> {
    let bad = || PythonError::BadRequest { text: text.to_owned(), origin: origin.to_owned() };
    if text.contains('/') || (text.starts_with("python") && !text.starts_with("python-")) {
        return Ok(Request::Program(text.to_owned()));
    }
    if text == "system" || text == "python3" {
        return Ok(Request::Program("python3".to_owned()));
    }
    let version = text.strip_prefix("python-").unwrap_or(text);
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
    if parts.len() < 2 || parts.len() > 3 || parts[0] != 3 {
        return Err(bad());
    }
    Ok(Request::Version(parts))
}

fn matches_version(interpreter: &Interpreter, parts: &[u32]) -> bool {
    let have = [interpreter.version.0, interpreter.version.1, interpreter.version.2];
    parts.iter().zip(have).all(|(want, have)| *want == have)
}

/// Look for a version: an exact match first, then the same minor version.
fn find_version(parts: &[u32]) -> (Option<Interpreter>, Vec<String>) {
    let minor = format!("{}.{}", parts[0], parts[1]);
    let wanted: Vec<String> = parts.iter().map(u32::to_string).collect();
    let wanted = wanted.join(".");
    let mut looked = Vec::new();
    let mut candidates = Vec::new();

    if let Some(root) = pyenv_root() {
        let versions = root.join("versions");
        looked.push(format!("{}/{minor}*", versions.display()));
        let mut dirs: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(&versions)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let numbers = name.split('.').map(|p| p.parse().ok()).collect::<Option<Vec<u32>>>()?;
                numbers.starts_with(&parts[..2]).then(|| (numbers, entry.path()))
            })
            .collect();
        // Exact first, then the newest patch release of the same minor version.
        dirs.sort_by(|a, b| (b.0.as_slice() == parts).cmp(&(a.0.as_slice() == parts)).then(b.0.cmp(&a.0)));
        candidates.extend(dirs.into_iter().map(|(_, dir)| dir.join("bin").join("python3")));
    }
    looked.push(format!("python{minor} on PATH"));
    candidates.extend(pathsearch::which(&format!("python{minor}")));
    if let Some(uv) = pathsearch::which("uv") {
        looked.push("uv python find".to_owned());
        candidates.extend(uv_find(&uv, &wanted));
    }

    let found: Vec<Interpreter> = candidates.iter().filter_map(|c| query(c)).collect();
    let best = found.iter().find(|i| matches_version(i, parts)).or_else(|| found.iter().find(|i| matches_version(i, &parts[..2]))).cloned();
    (best, looked)
}

/// The interpreter for an app that declares the versions it runs on: `python3` when it
/// satisfies them, else the newest installed one that does.
fn satisfying(declared: &Declared) -> Result<Interpreter, PythonError> {
    let allowed = |i: &Interpreter| declared.constraint.allows(i.version) && (i.version.0, i.version.1) >= MINIMUM;
    let default = pathsearch::which("python3").and_then(|p| query(&p));
    let mut found: Vec<Interpreter> = Vec::new();
    if let Some(default) = default {
        if allowed(&default) {
            return Ok(Interpreter { origin: declared.origin.to_owned(), ..default });
        }
        found.push(default);
    }
    for candidate in candidates_for(declared) {
        match query(&candidate) {
            Some(i) if !found.iter().any(|f| f.executable == i.executable) => found.push(i),
            _ => {}
        }
    }
    // The newest; among equals, the first found (pyenv's before PATH's).
    let best = found.iter().filter(|i| allowed(i)).fold(None::<&Interpreter>, |best, i| match best {
        Some(b) if b.version >= i.version => Some(b),
        _ => Some(i),
    });
    if let Some(best) = best {
        return Ok(Interpreter { origin: declared.origin.to_owned(), ..best.clone() });
    }
    let mut versions: Vec<(u32, u32, u32)> = found.iter().map(|i| i.version).collect();
    versions.sort_unstable();
    versions.dedup();
    let found = if versions.is_empty() {
        "none".to_owned()
    } else {
        versions.iter().map(|(a, b, c)| format!("{a}.{b}.{c}")).collect::<Vec<_>>().join(", ")
    };
    Err(PythonError::NoneSatisfies { declared: declared.to_string(), found })
}

/// Interpreters that may satisfy `declared`: pyenv's versions it allows, every
/// `python3`/`python3.N` on PATH whose minor version it could allow, and uv's answer.
fn candidates_for(declared: &Declared) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(versions) = pyenv_root().map(|root| root.join("versions")) {
        for entry in std::fs::read_dir(&versions).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let numbers: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            if let Some([major, minor, patch]) = numbers.as_deref() {
                if declared.constraint.allows((*major, *minor, *patch)) {
                    out.push(entry.path().join("bin").join("python3"));
                }
            }
        }
    }
    let minors: Vec<u32> = (MINIMUM.1..=40).filter(|m| declared.constraint.allows_some_of(3, *m)).collect();
    let path = std::env::var_os("PATH").unwrap_or_default();
    // pyenv's shims stand for the versions already listed, and run whichever is global.
    for dir in std::env::split_paths(&path).filter(|d| !d.ends_with("shims")) {
        let names = std::iter::once("python3".to_owned()).chain(minors.iter().map(|m| format!("python3.{m}")));
        out.extend(names.map(|name| dir.join(name)).filter(|p| pathsearch::is_executable(p)));
    }
    if let (Some(uv), Some(spec)) = (pathsearch::which("uv"), declared.constraint.pep440()) {
        out.extend(uv_find(&uv, &spec));
    }
    out
}

fn pyenv_root() -> Option<PathBuf> {
    env_vars::get(env_vars::PYENV_ROOT).map(PathBuf::from).or_else(|| std::env::home_dir().map(|h| h.join(".pyenv")))
}

fn uv_find(uv: &Path, version: &str) -> Option<PathBuf> {
    let out = Command::new(uv).args(["python", "find", "--no-python-downloads", version]).output().ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !path.trim().is_empty()).then(|| PathBuf::from(path.trim()))
}

/// Run the query in `candidate`.
fn ask(candidate: &Path) -> Option<QueryAnswer> {
    let out = Command::new(candidate).args(["-I", "-S", "-c", QUERY]).env_remove("PYTHONHOME").output().ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

#[derive(Clone, Deserialize, Serialize)]
struct QueryAnswer {
    executable: PathBuf,
    version: (u32, u32, u32),
    implementation: String,
}

/// Ask a candidate about itself; `None` when it does not run or is not Python 3.
pub fn query(candidate: &Path) -> Option<Interpreter> {
    let answer = match answers::Memo::for_candidate(candidate) {
        Some(memo) => memo.recalled().or_else(|| ask(candidate).inspect(|answer| memo.remember(answer)))?,
        None => ask(candidate)?,
    };
    // The real file, so one interpreter reached by several names (python3, python3.11) is
    // recognised as the same one.
    let executable = answer.executable.canonicalize().unwrap_or(answer.executable);
    Some(Interpreter {
        executable,
        version: answer.version,
        implementation: answer.implementation,
        origin: "the default".to_owned(),
        substitute_for: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_from_each_source() {
        assert_eq!(parse_request("3.12", ".python-version").unwrap(), Request::Version(vec![3, 12]));
        assert_eq!(parse_request("python-3.11.7", "runtime.txt").unwrap(), Request::Version(vec![3, 11, 7]));
        assert_eq!(parse_request("/usr/bin/python3", "WARP_PYTHON").unwrap(), Request::Program("/usr/bin/python3".into()));
        assert_eq!(parse_request("system", ".python-version").unwrap(), Request::Program("python3".into()));
        assert!(parse_request("2.7", ".python-version").is_err());
        assert!(parse_request("pypy3.10", ".python-version").is_err());
        assert!(parse_request("3", "runtime.txt").is_err());
    }
}
