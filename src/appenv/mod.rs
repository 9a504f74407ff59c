//! The environment an app's processes run in: its venv, its environment files, and what its
//! `build-env` / `deploy-env` hooks printed.
//!
//! Precedence, lowest first: `.s2i/environment`, `.warp/environment`, the inherited
//! environment (so `docker run -e` and a Kubernetes `env:` win over the files, as in s2i),
//! then hook output, then the venv's own `VIRTUAL_ENV` and `PATH`.

pub mod hooks;
pub mod locale;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::env_vars;
use crate::layout::Layout;
use crate::settings::Environment;

/// A malformed `KEY=VALUE` line.
#[derive(Debug, thiserror::Error)]
#[error("{origin}:{line}: expected KEY=VALUE, found {text:?}: fix or remove that line")]
pub struct AssignmentError {
    pub origin: String,
    pub line: usize,
    pub text: String,
}

/// Parse `KEY=VALUE` lines; blank lines and `#` comments are skipped. A value is taken as
/// written, with no expansion, except that one pair of matching quotes around the whole of
/// it is removed (`APP_MODULE="app:app"`), as OpenShift builds read `.s2i/environment`.
pub fn parse_assignments(text: &str, origin: &str) -> Result<Vec<(usize, String, String)>, AssignmentError> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let valid = line.split_once('=').filter(|(key, _)| is_identifier(key));
        match valid {
            Some((key, value)) => out.push((index + 1, key.to_owned(), unquote(value).to_owned())),
            None => return Err(AssignmentError { origin: origin.to_owned(), line: index + 1, text: raw.to_owned() }),
        }
    }
    Ok(out)
}

/// `value` without one pair of matching quotes (`"` or `'`) around the whole of it.
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote).and_then(|rest| rest.strip_suffix(quote)) {
            return inner;
        }
    }
    value
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic()) && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// What the app's environment files assign, each with its file (relative to the app's
/// folder) and line, lowest precedence first: a later assignment of a name wins.
pub fn file_vars(layout: &Layout) -> anyhow::Result<Vec<(String, String, VarSource)>> {
    let mut vars = Vec::new();
    for file in &layout.environment_files() {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot read {}", file.display()))),
        };
        let shown = file.strip_prefix(&layout.src).unwrap_or(file).display().to_string();
        for (line, key, value) in parse_assignments(&text, &shown)? {
            vars.push((key, value, VarSource::File { path: shown.clone(), line }));
        }
    }
    Ok(vars)
}

/// Where a variable of the app's environment got its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VarSource {
    /// warp's own environment (`docker run -e`, a Kubernetes `env:`, the shell).
    Inherited,
    /// An environment file, shown relative to the app's folder, at this line.
    File { path: String, line: usize },
    /// The output of this action hook.
    Hook(String),
    /// warp itself: the UTF-8 locale and stdio encoding, `WARP_PROJECT`.
    Warp,
}

/// Variables to set on top of the inherited environment.
#[derive(Debug, Clone, Default)]
pub struct AppEnv {
    vars: BTreeMap<String, (String, VarSource)>,
    venv: Option<PathBuf>,
}

impl AppEnv {
    /// Start from the app's environment files (shown relative to its folder); inherited
    /// variables keep their values. A missing or ASCII locale becomes a UTF-8 one, and
    /// Python's stdio is UTF-8 unless the user chose otherwise (see [`locale`]).
    pub fn from_files(layout: &Layout) -> anyhow::Result<AppEnv> {
        let mut env = AppEnv::default();
        for (key, value, source) in file_vars(layout)? {
            if std::env::var_os(&key).is_none() {
                env.vars.insert(key, (value, source));
            }
        }
        let defaults = locale::defaults(|key| env.get(key));
        env.extend(VarSource::Warp, defaults.into_iter().map(|(key, value)| (key.to_owned(), value.to_owned())));
        Ok(env)
    }

    /// Add variables that override everything but the venv (hook output), from `source`.
    pub fn extend(&mut self, source: VarSource, vars: impl IntoIterator<Item = (String, String)>) {
        self.vars.extend(vars.into_iter().map(|(key, value)| (key, (value, source.clone()))));
    }

    /// Activate `venv` for every process started with this environment.
    pub fn with_venv(mut self, venv: &Path) -> AppEnv {
        self.venv = Some(venv.to_path_buf());
        self
    }

    /// Whether a venv is activated by this environment.
    pub fn has_venv(&self) -> bool {
        self.venv.is_some()
    }

    /// Every variable this environment sets, with the venv's `VIRTUAL_ENV` and `PATH` last.
    pub fn vars(&self) -> Vec<(String, OsString)> {
        let mut out: Vec<(String, OsString)> = self.vars.iter().map(|(k, (v, _))| (k.clone(), OsString::from(v))).collect();
        if let Some(venv) = &self.venv {
            out.retain(|(k, _)| k != env_vars::VIRTUAL_ENV && k != "PATH");
            out.push((env_vars::VIRTUAL_ENV.to_owned(), venv.as_os_str().to_owned()));
            out.push(("PATH".to_owned(), self.path_with_venv(venv)));
        }
        out
    }

    /// A variable as the app's processes see it: assigned here, else inherited (empty is unset).
    pub fn get(&self, key: &str) -> Option<String> {
        self.lookup(key).map(|(value, _)| value)
    }

    /// The variables the environment files and hooks assigned (not the venv's).
    pub fn assigned(&self) -> impl Iterator<Item = (&String, &String)> {
        self.vars.iter().map(|(k, (v, _))| (k, v))
    }

    /// Configure `cmd` to run in this environment.
    pub fn apply(&self, cmd: &mut Command) {
        if self.venv.is_some() {
            // A PYTHONHOME inherited from elsewhere would point the venv's python at the
            // wrong standard library.
            cmd.env_remove("PYTHONHOME");
        }
        cmd.envs(self.vars());
    }

    fn path_with_venv(&self, venv: &Path) -> OsString {
        let base = self.vars.get("PATH").map(|(path, _)| OsString::from(path)).or_else(|| std::env::var_os("PATH")).unwrap_or_default();
        let bin = venv.join("bin");
        let rest = std::env::split_paths(&base).filter(|p| p != &bin);
        std::env::join_paths(std::iter::once(bin.clone()).chain(rest)).unwrap_or(base)
    }
}

impl crate::settings::Environment for AppEnv {
    /// Assigned here, else inherited; an empty value is unset.
    fn lookup(&self, key: &str) -> Option<(String, VarSource)> {
        match self.vars.get(key) {
            Some((value, source)) => Some((value.clone(), source.clone())),
            None => std::env::var(key).ok().map(|value| (value, VarSource::Inherited)),
        }
        .filter(|(value, _)| !value.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_skip_comments_and_keep_values_literally() {
        let parsed = parse_assignments("# c\n\nA=1\n  B= x=y \nC=\n", "f").unwrap();
        assert_eq!(parsed, vec![(3, "A".into(), "1".into()), (4, "B".into(), " x=y ".into()), (5, "C".into(), "".into())]);
    }

    #[test]
    fn one_pair_of_matching_quotes_around_a_value_is_removed() {
        let text = "A=\"app:app\"\nB='x y'\nC=\"\"\nD=\"\nE=\"a'\nF=\"\"x\"\"\nG=a\"b\"\nH=\"$X\"\n";
        let values: Vec<String> = parse_assignments(text, "f").unwrap().into_iter().map(|(_, _, value)| value).collect();
        assert_eq!(values, ["app:app", "x y", "", "\"", "\"a'", "\"x\"", "a\"b\"", "$X"]);
    }

    #[test]
    fn malformed_assignment_names_file_and_line() {
        let err = parse_assignments("A=1\nexport B=2\n", "env").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().starts_with("env:2: expected KEY=VALUE"));
        assert!(parse_assignments("1A=2", "env").is_err());
        assert!(parse_assignments("no equals", "env").is_err());
    }

    #[test]
    fn venv_bin_comes_first_on_path_once() {
        let env = AppEnv::default().with_venv(Path::new("/v"));
        let vars = env.vars();
        let path = &vars.iter().find(|(k, _)| k == "PATH").unwrap().1;
        let parts: Vec<_> = std::env::split_paths(path).collect();
        assert_eq!(parts[0], Path::new("/v/bin"));
        assert_eq!(parts.iter().filter(|p| *p == Path::new("/v/bin")).count(), 1);
    }
}
