//! What an app depends on: which file declares it, and a digest of every input to the install.
//!
//! First match wins: `uv.lock` (with `pyproject.toml`), `Pipfile.lock`, `requirements.txt`,
//! then the `[project].dependencies` of a `pyproject.toml` that is not a package. Afterwards
//! the app itself is installed, editable, when it is a package (`setup.py`, or a
//! `pyproject.toml` with a `[build-system]`), as s2i does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::build::python::Interpreter;

/// Where the dependency list comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `uv.lock`: exported to pinned, hashed requirements by uv.
    UvLock,
    /// `Pipfile.lock`: converted to requirements by warp.
    PipfileLock,
    /// A requirements file given to the installer as it is.
    Requirements(PathBuf),
    /// `[project].dependencies` of a `pyproject.toml` that is not a package.
    ProjectTable(Vec<String>),
    /// Nothing to install besides the app itself.
    Nothing,
}

impl Source {
    /// How progress lines name the source.
    pub fn describe(&self) -> String {
        match self {
            Source::UvLock => "uv.lock".to_owned(),
            Source::PipfileLock => "Pipfile.lock".to_owned(),
            Source::Requirements(path) => path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            Source::ProjectTable(_) => "pyproject.toml [project].dependencies".to_owned(),
            Source::Nothing => "no dependency file".to_owned(),
        }
    }
}

/// The app itself, when it is a package: installed editable after its dependencies.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// The file that makes it a package: `pyproject.toml` (with `[build-system]`) or `setup.py`.
    pub file: &'static str,
    /// The dependencies `pyproject.toml` lists for it; `None` when they are not written
    /// there (setup.py, or dynamic dependencies).
    pub dependencies: Option<Vec<String>>,
}

/// What `warp build` will install for an app.
#[derive(Debug)]
pub struct Plan {
    pub source: Source,
    pub app: Option<App>,
    /// Every file whose content decides what gets installed.
    inputs: Vec<PathBuf>,
}

/// Said when an app has nothing to install: every file warp would install from.
pub const NO_DEPENDENCY_FILE: &str =
    "no dependency file (uv.lock, Pipfile.lock, requirements.txt, pyproject.toml, setup.py): nothing to install";

impl Plan {
    /// Look at the app at `src` and decide what to install.
    pub fn for_app(src: &Path) -> Result<Plan> {
        let pyproject = read_pyproject(src)?;
        let app = if pyproject.as_ref().is_some_and(|t| t.contains_key("build-system")) {
            Some(App { file: "pyproject.toml", dependencies: pyproject.as_ref().and_then(project_dependencies) })
        } else if src.join("setup.py").is_file() {
            Some(App { file: "setup.py", dependencies: None })
        } else {
            None
        };
        let is_package = app.is_some();
        let (source, mut inputs) = if src.join("uv.lock").is_file() && pyproject.is_some() {
            (Source::UvLock, vec![src.join("uv.lock"), src.join("pyproject.toml")])
        } else if src.join("Pipfile.lock").is_file() {
            (Source::PipfileLock, vec![src.join("Pipfile.lock")])
        } else if src.join("requirements.txt").is_file() {
            let file = src.join("requirements.txt");
            (Source::Requirements(file.clone()), requirement_files(&file)?)
        } else if let Some(deps) = pyproject.as_ref().filter(|_| !is_package).and_then(project_dependencies) {
            (Source::ProjectTable(deps), vec![src.join("pyproject.toml")])
        } else {
            (Source::Nothing, Vec::new())
        };
        if is_package {
            inputs.extend(["setup.py", "setup.cfg", "pyproject.toml"].iter().map(|f| src.join(f)).filter(|p| p.is_file()));
        }
        inputs.sort();
        inputs.dedup();
        Ok(Plan { source, app, inputs })
    }

    /// Every file whose content decides what gets installed.
    pub fn inputs(&self) -> &[PathBuf] {
        &self.inputs
    }

    /// Whether there is anything to install at all.
    pub fn installs_anything(&self) -> bool {
        self.source != Source::Nothing || self.app.is_some()
    }

    /// What will be installed and from where, as the build's progress line says it.
    pub fn describe(&self) -> String {
        let app = self.app.as_ref().map(|app| {
            let dependencies = match app.dependencies.as_deref() {
                None => "the dependencies it declares".to_owned(),
                Some([]) => "no dependencies".to_owned(),
                Some(deps) => format!("its {} from [project].dependencies", count(deps.len(), "dependency", "dependencies")),
            };
            format!("the app itself from {} (editable) with {dependencies}", app.file)
        });
        match (&self.source, app) {
            (Source::Nothing, None) => NO_DEPENDENCY_FILE.to_owned(),
            (Source::Nothing, Some(app)) => app,
            (source, None) => format!("dependencies from {}", source.describe()),
            (source, Some(app)) => format!("dependencies from {}, then {app}", source.describe()),
        }
    }

    /// A digest of everything that decides the venv's contents: the dependency files, the
    /// interpreter, the installer settings in the environment, and warp's own version.
    pub fn digest(&self, python: &Interpreter, env: &BTreeMap<String, String>) -> Result<String> {
        let mut hash = Sha256::new();
        let mut field = |name: &str, value: &[u8]| {
            hash.update((name.len() as u64).to_le_bytes());
            hash.update(name.as_bytes());
            hash.update((value.len() as u64).to_le_bytes());
            hash.update(value);
        };
        field("warp", env!("CARGO_PKG_VERSION").as_bytes());
        field("python", python.executable.as_os_str().as_encoded_bytes());
        field("python-version", python.version_text().as_bytes());
        field("install-app", &[u8::from(self.app.is_some())]);
        for input in &self.inputs {
            let content = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
            field(&input.to_string_lossy(), &content);
        }
        // Where packages come from (an index, a mirror, its certificate) is not what is
        // installed: a build that moves to another mirror, or runs with the index out of reach
        // on a venv restored from a cache, keeps its venv.
        let installer_settings = env.iter().filter(|(k, _)| {
            (k.starts_with("PIP_") || k.starts_with("UV_"))
                && !crate::env_vars::INDEX_SETTINGS.contains(&k.as_str())
                && !k.ends_with("_CERT")
        });
        for (key, value) in installer_settings {
            field(key, value.as_bytes());
        }
        Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }
}

fn read_pyproject(src: &Path) -> Result<Option<toml::Table>> {
    let path = src.join("pyproject.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let table = text.parse::<toml::Table>().with_context(|| format!("{} is not valid TOML: fix it and build again", path.display()))?;
    Ok(Some(table))
}

fn project_dependencies(pyproject: &toml::Table) -> Option<Vec<String>> {
    let deps = pyproject.get("project")?.get("dependencies")?.as_array()?;
    Some(deps.iter().filter_map(|d| d.as_str().map(str::to_owned)).collect())
}

/// "1 package", "3 packages".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A requirements file and every file it pulls in with `-r`/`-c`, recursively.
fn requirement_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut seen = vec![root.to_path_buf()];
    let mut index = 0;
    while index < seen.len() {
        let file = seen[index].clone();
        index += 1;
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let dir = file.parent().unwrap_or(Path::new("."));
        for (include, _) in text.lines().filter_map(included_file) {
            let path = dir.join(include);
            if path.is_file() && !seen.contains(&path) {
                seen.push(path);
            }
        }
    }
    Ok(seen)
}

/// How a requirements file pulls in another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Include {
    /// `-r`: its requirements are installed.
    Requirements,
    /// `-c`: it only constrains versions.
    Constraints,
}

/// The file named by a `-r`, `-c`, `--requirement` or `--constraint` line, and which it is.
pub fn included_file(line: &str) -> Option<(&str, Include)> {
    let line = line.trim();
    let flags = [
        ("--requirement", Include::Requirements),
        ("--constraint", Include::Constraints),
        ("-r", Include::Requirements),
        ("-c", Include::Constraints),
    ];
    let (rest, kind) = flags.iter().find_map(|(flag, kind)| {
        let rest = line.strip_prefix(flag)?;
        // `-rfile` is a short flag with its value; `--requirementx` is not the long one.
        let long = flag.starts_with("--");
        (!long || rest.starts_with(['=', ' ', '\t'])).then_some((rest, *kind))
    })?;
    let name = rest.trim_start_matches('=').trim();
    (!name.is_empty()).then_some((name, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_lines_name_their_file() {
        assert_eq!(included_file("-r base.txt"), Some(("base.txt", Include::Requirements)));
        assert_eq!(included_file("-rbase.txt"), Some(("base.txt", Include::Requirements)));
        assert_eq!(included_file("--requirement=dev.txt"), Some(("dev.txt", Include::Requirements)));
        assert_eq!(included_file("  -c constraints.txt"), Some(("constraints.txt", Include::Constraints)));
        assert_eq!(included_file("--constraint c.txt"), Some(("c.txt", Include::Constraints)));
        assert_eq!(included_file("requests==2.0"), None);
        assert_eq!(included_file("--requirementx"), None);
    }

    #[test]
    fn where_packages_come_from_is_not_in_the_digest_but_how_they_install_is() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "six==1.16.0\n").unwrap();
        let plan = Plan::for_app(dir.path()).unwrap();
        let python = Interpreter {
            executable: "/usr/bin/python3".into(),
            version: (3, 11, 2),
            implementation: "CPython".into(),
            origin: "test".into(),
            substitute_for: None,
        };
        let digest = |vars: &[(&str, &str)]| {
            let env: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            plan.digest(&python, &env).unwrap()
        };
        let plain = digest(&[]);
        let elsewhere = [
            ("PIP_INDEX_URL", "http://127.0.0.1:9/simple"),
            ("UV_DEFAULT_INDEX", "http://127.0.0.1:9/simple"),
            ("PIP_CERT", "/tmp/ca.pem"),
        ];
        assert_eq!(digest(&elsewhere), plain, "another index or its certificate keeps the venv");
        assert_ne!(digest(&[("PIP_NO_BINARY", ":all:")]), plain, "how packages install is an input");
    }
}
