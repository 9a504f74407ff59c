//! What an app depends on: which file declares it, and a digest of every input to the install.
//!
//! First match wins: `uv.lock` (with `pyproject.toml`), `Pipfile.lock`, `requirements.txt`,
//! then the `[project].dependencies` of a `pyproject.toml` that is not a package. Afterwards
//! the app itself is installed, editable, when it is a package (`setup.py`, or a
//! `pyproject.toml` with a `[build-system]`), as s2i does, unless the build settings leave
//! it out (`WARP_INSTALL_APP`) or the dependencies already install it ([`app_line`]: a lock
//! or requirements file that lists the app's own folder).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::build::installer::Pip;
use crate::build::python::Interpreter;
use crate::settings::{var, Id};

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

/// Tools the build settings ask for in the venv besides what the app declares: installed
/// first, so that where they share a dependency with the app, the app's own pin wins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tools {
    /// pip, setuptools and wheel upgraded to their latest releases (`WARP_UPGRADE_PIP`).
    pub upgrade_pip: bool,
    /// This release of pipenv (`WARP_PIPENV_VERSION`).
    pub pipenv: Option<String>,
}

/// The packages that [`Tools::upgrade_pip`] upgrades, as the OpenShift Python builder does.
pub const PIP_TOOLS: [&str; 3] = ["pip", "setuptools", "wheel"];

impl Tools {
    /// How the build's progress line names them, when there are any.
    fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.upgrade_pip {
            parts.push(format!("the latest {}", PIP_TOOLS.join(", ")));
        }
        if let Some(version) = &self.pipenv {
            parts.push(format!("pipenv {version}"));
        }
        (!parts.is_empty()).then(|| parts.join(" and "))
    }
}

/// What `warp build` will install for an app.
#[derive(Debug)]
pub struct Plan {
    pub source: Source,
    pub app: Option<App>,
    /// Tools installed before the app's dependencies.
    pub tools: Tools,
    /// The file that makes the app a package, when the settings leave the app itself out.
    pub app_left_out: Option<&'static str>,
    /// Every file whose content decides what gets installed.
    inputs: Vec<PathBuf>,
}

/// Said when an app has nothing to install: every file warp would install from.
pub const NO_DEPENDENCY_FILE: &str =
    "no dependency file (uv.lock, Pipfile.lock, requirements.txt, pyproject.toml, setup.py): nothing to install";

impl Plan {
    /// Look at the app at `src` and decide what to install; `install_app` false leaves the
    /// app itself out when it is a package (its `[project].dependencies` are then installed
    /// as those of an app that is not one).
    pub fn for_app(src: &Path, install_app: bool) -> Result<Plan> {
        let pyproject = read_pyproject(src)?;
        let package = if pyproject.as_ref().is_some_and(|t| t.contains_key("build-system")) {
            Some(App { file: "pyproject.toml", dependencies: pyproject.as_ref().and_then(project_dependencies) })
        } else if src.join("setup.py").is_file() {
            Some(App { file: "setup.py", dependencies: None })
        } else {
            None
        };
        let app_left_out = package.as_ref().filter(|_| !install_app).map(|app| app.file);
        let app = package.filter(|_| install_app);
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
        Ok(Plan { source, app, tools: Tools::default(), app_left_out, inputs })
    }

    /// Every file whose content decides what gets installed.
    pub fn inputs(&self) -> &[PathBuf] {
        &self.inputs
    }

    /// The same plan with `tools` installed first.
    pub fn with_tools(self, tools: Tools) -> Plan {
        Plan { tools, ..self }
    }

    /// Whether there is anything to install at all.
    pub fn installs_anything(&self) -> bool {
        self.source != Source::Nothing || self.app.is_some() || self.tools != Tools::default()
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
        let dependencies = (self.source != Source::Nothing).then(|| format!("dependencies from {}", self.source.describe()));
        let parts: Vec<String> = [self.tools.describe(), dependencies, app].into_iter().flatten().collect();
        let installs = parts.join(", then ");
        match (self.app_left_out, parts.is_empty()) {
            (None, true) => NO_DEPENDENCY_FILE.to_owned(),
            (None, false) => installs,
            (Some(file), true) => format!("nothing: the app itself ({file}) is left out, as {} says", var(Id::InstallApp)),
            (Some(file), false) => format!("{installs} (the app itself, {file}, is left out, as {} says)", var(Id::InstallApp)),
        }
    }

    /// A digest of everything that decides the venv's contents: the dependency files, the
    /// interpreter, whether it holds pip, the installer settings in the environment, the
    /// tools asked for, and warp's own version.
    pub fn digest(&self, python: &Interpreter, pip: Pip, env: &BTreeMap<String, String>) -> Result<String> {
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
        // Only when asked for, so that venvs built before these settings existed stay valid.
        if pip == Pip::With {
            field("seed-pip", &[1]);
        }
        if self.tools.upgrade_pip {
            field("upgrade-pip", &[1]);
        }
        if let Some(version) = &self.tools.pipenv {
            field("pipenv", version.as_bytes());
        }
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

/// The line of the requirement files `files` that installs the app itself: `-e .`, `.`, or
/// another path or `file:` URL that names the app's folder `src` (as pip and uv read a
/// relative path: from the folder they run in, `src`). A Pipfile.lock that lists the app
/// (`{path = ".", editable = true}`) becomes such a line, and so does a requirements.txt that
/// installs it; installing it again would only repeat the work.
pub fn app_line(files: &[PathBuf], src: &Path) -> Result<Option<String>> {
    let Ok(folder) = src.canonicalize() else { return Ok(None) };
    for file in files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let found = text
            .lines()
            .map(str::trim)
            .find(|line| requirement_path(line).is_some_and(|path| src.join(path).canonicalize().is_ok_and(|p| p == folder)));
        if let Some(line) = found {
            return Ok(Some(line.split(" --hash").next().unwrap_or(line).trim().to_owned()));
        }
    }
    Ok(None)
}

/// The local path a requirement line installs from (`-e PATH`, `PATH`, `name @ file://PATH`),
/// without extras, markers and options; `None` for a line that names no local path.
fn requirement_path(line: &str) -> Option<&str> {
    // A comment starts the line or follows whitespace.
    let line = match line.find(" #") {
        Some(at) => &line[..at],
        None if line.starts_with('#') => return None,
        None => line,
    };
    let requirement = match line.strip_prefix("--editable") {
        Some(rest) if rest.starts_with(['=', ' ', '\t']) => rest.trim_start_matches(['=', ' ', '\t']),
        Some(_) => return None,
        None => line.strip_prefix("-e").map(str::trim_start).unwrap_or(line),
    };
    // Options after the requirement (`--hash=...`), then environment markers.
    let requirement = requirement.split(" --").next().unwrap_or(requirement);
    let requirement = requirement.split(';').next().unwrap_or(requirement).trim();
    let location = requirement.split_once(" @ ").map_or(requirement, |(_, url)| url.trim());
    let path = location.strip_prefix("file://").unwrap_or(location);
    let path = path.split('[').next().unwrap_or(path);
    (path.starts_with('.') || path.starts_with('/')).then_some(path)
}

/// "1 package", "3 packages".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A requirements file and every file it pulls in with `-r`/`-c`, recursively.
pub fn requirement_files(root: &Path) -> Result<Vec<PathBuf>> {
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
    fn requirement_lines_name_their_local_path() {
        for (line, path) in [
            ("-e .", Some(".")),
            ("-e.", Some(".")),
            ("--editable=./", Some("./")),
            ("--editable .[dev]", Some(".")),
            (". ; python_version >= '3.9'  # the app", Some(".")),
            ("./pkg --hash=sha256:aa", Some("./pkg")),
            ("app @ file:///srv/app", Some("/srv/app")),
            ("six==1.16.0", None),
            ("-r base.txt", None),
            ("--index-url https://pypi.org/simple", None),
            ("-e git+https://example.invalid/app.git#egg=app", None),
            ("# -e .", None),
            ("--editablex .", None),
        ] {
            assert_eq!(requirement_path(line), path, "{line}");
        }
    }

    #[test]
    fn a_requirements_file_that_lists_the_app_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("app");
        std::fs::create_dir_all(src.join("lib")).unwrap();
        let write = |name: &str, text: &str| {
            let file = dir.path().join(name);
            std::fs::write(&file, text).unwrap();
            file
        };
        let lock = write("lock.txt", "six==1.16.0 --hash=sha256:aa\n-e . --hash=sha256:bb\n");
        assert_eq!(app_line(&[lock], &src).unwrap().as_deref(), Some("-e ."));
        let other = write("other.txt", "-e ./lib\n../app/lib\n");
        assert_eq!(app_line(&[other], &src).unwrap(), None, "another folder is not the app");
        let absolute = write("abs.txt", &format!("myapp @ file://{}\n", src.display()));
        assert!(app_line(&[absolute], &src).unwrap().is_some());
    }

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
        let plan = Plan::for_app(dir.path(), true).unwrap();
        let python = Interpreter {
            executable: "/usr/bin/python3".into(),
            version: (3, 11, 2),
            implementation: "CPython".into(),
            origin: "test".into(),
            substitute_for: None,
        };
        let digest = |vars: &[(&str, &str)]| {
            let env: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            plan.digest(&python, Pip::Without, &env).unwrap()
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
