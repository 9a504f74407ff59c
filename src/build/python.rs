//! Choosing the Python interpreter an app is built with.
//!
//! The request comes from `WARP_PYTHON`, else `.python-version` (pyenv's file), else
//! `runtime.txt` (`python-3.11.7`), else `python3`. A version request is looked for in
//! pyenv's versions, then as `pythonX.Y` on PATH, then through `uv python find`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::settings::{self, Id};
use crate::{env_vars, pathsearch};

/// The oldest Python warp builds with.
pub const MINIMUM: (u32, u32) = (3, 9);

/// Prints what warp needs to know about an interpreter; must run on any Python 3.
const QUERY: &str = "import json, platform, sys; print(json.dumps({'executable': sys.executable, \
'version': list(sys.version_info[:3]), 'implementation': platform.python_implementation()}))";

/// An interpreter that answered the query.
#[derive(Debug, Clone)]
pub struct Interpreter {
    pub executable: PathBuf,
    pub version: (u32, u32, u32),
    pub implementation: String,
    /// Why this one was chosen ("WARP_PYTHON", ".python-version", ...).
    pub origin: &'static str,
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

#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error("no Python found for {request:?} (from {origin}); looked for {}: install it, or set WARP_PYTHON to an interpreter", looked.join(", "))]
    NotFound { request: String, origin: &'static str, looked: Vec<String> },
    #[error("{found} (from {origin}) is too old: warp needs Python {}.{} or newer; install one, or set WARP_PYTHON to it", MINIMUM.0, MINIMUM.1)]
    TooOld { found: String, origin: &'static str },
    #[error("{origin} says {text:?}, which is not a Python version: write a version such as 3.12")]
    BadRequest { text: String, origin: &'static str },
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

/// Find the interpreter the app at `src` asks for.
pub fn find(src: &Path) -> Result<Interpreter, PythonError> {
    let (text, origin) = requested(src)?;
    resolve(&text, origin)
}

/// Find the interpreter that `text` names: a path, a command, or a version. `origin` says
/// where the text came from, for messages.
pub fn resolve(text: &str, origin: &'static str) -> Result<Interpreter, PythonError> {
    let text = text.to_owned();
    let request = parse_request(&text, origin)?;
    let (found, looked) = match &request {
        Request::Program(program) => {
            let found = pathsearch::which(program).and_then(|p| query(&p));
            (found, vec![program.clone()])
        }
        Request::Version(parts) => find_version(parts),
    };
    let mut interpreter = found.ok_or_else(|| PythonError::NotFound {
        request: text.clone(),
        origin,
        looked,
    })?;
    interpreter.origin = origin;
    if let Request::Version(parts) = &request {
        if parts.len() == 3 && !matches_version(&interpreter, parts) {
            interpreter.substitute_for = Some(text.clone());
        }
    }
    if (interpreter.version.0, interpreter.version.1) < MINIMUM {
        return Err(PythonError::TooOld { found: interpreter.to_string(), origin });
    }
    Ok(interpreter)
}

/// The raw request text and where it came from.
fn requested(src: &Path) -> Result<(String, &'static str), PythonError> {
    if let Some(value) = env_vars::get(settings::var(Id::Python)) {
        return Ok((value, settings::var(Id::Python)));
    }
    for (file, origin) in [(".python-version", ".python-version"), ("runtime.txt", "runtime.txt")] {
        let path = src.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let first = text
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with('#'))
                    .unwrap_or("")
                    .to_owned();
                return Ok((first, origin));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(PythonError::Read { path, source }),
        }
    }
    Ok(("python3".to_owned(), "the default"))
}

fn parse_request(text: &str, origin: &'static str) -> Result<Request, PythonError> {
    let bad = || PythonError::BadRequest { text: text.to_owned(), origin };
    if text.contains('/') || (text.starts_with("python") && !text.starts_with("python-")) {
        return Ok(Request::Program(text.to_owned()));
    }
    if text == "system" || text == "python3" {
        return Ok(Request::Program("python3".to_owned()));
    }
    let version = text.strip_prefix("python-").unwrap_or(text);
    let parts: Vec<u32> = version
        .split('.')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
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

    let pyenv_root = env_vars::get(env_vars::PYENV_ROOT)
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|h| h.join(".pyenv")));
    if let Some(root) = pyenv_root {
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
    let best = found
        .iter()
        .find(|i| matches_version(i, parts))
        .or_else(|| found.iter().find(|i| matches_version(i, &parts[..2])))
        .cloned();
    (best, looked)
}

fn uv_find(uv: &Path, version: &str) -> Option<PathBuf> {
    let out = Command::new(uv)
        .args(["python", "find", "--no-python-downloads", version])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !path.trim().is_empty()).then(|| PathBuf::from(path.trim()))
}

#[derive(Deserialize)]
struct QueryAnswer {
    executable: PathBuf,
    version: (u32, u32, u32),
    implementation: String,
}

/// Ask a candidate about itself; `None` when it does not run or is not Python 3.
pub fn query(candidate: &Path) -> Option<Interpreter> {
    let out = Command::new(candidate)
        .args(["-I", "-c", QUERY])
        .env_remove("PYTHONHOME")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let answer: QueryAnswer = serde_json::from_slice(&out.stdout).ok()?;
    // The real file, so one interpreter reached by several names (python3, python3.11) is
    // recognised as the same one.
    let executable = answer.executable.canonicalize().unwrap_or(answer.executable);
    Some(Interpreter {
        executable,
        version: answer.version,
        implementation: answer.implementation,
        origin: "the default",
        substitute_for: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_from_each_source() {
        assert_eq!(parse_request("3.12", ".python-version").unwrap(), Request::Version(vec![3, 12]));
        assert_eq!(
            parse_request("python-3.11.7", "runtime.txt").unwrap(),
            Request::Version(vec![3, 11, 7])
        );
        assert_eq!(
            parse_request("/usr/bin/python3", "WARP_PYTHON").unwrap(),
            Request::Program("/usr/bin/python3".into())
        );
        assert_eq!(parse_request("system", ".python-version").unwrap(), Request::Program("python3".into()));
        assert!(parse_request("2.7", ".python-version").is_err());
        assert!(parse_request("pypy3.10", ".python-version").is_err());
        assert!(parse_request("3", "runtime.txt").is_err());
    }
}
