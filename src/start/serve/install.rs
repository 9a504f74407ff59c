//! Installing warp's server module into an app's venv as the `warp-server` distribution.
//!
//! The files are the compiled extension (found beside the `warp` executable, or at
//! `WARP_SERVER_MODULE`) and the Python glue compiled into warp. A dist-info folder with a
//! RECORD makes it a real distribution: `pip list` shows it and `pip uninstall` removes it.
//! Installing the same files again is a no-op, so builds and starts can always call it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::env_vars;
use crate::settings::{self, Id};

const NAME: &str = "warp_server";
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The file name the compiled module has in a cargo target folder.
const BUILT_NAME: &str = "libwarp_server.so";

/// The Python glue, by its path inside the package folder.
const PYTHON_FILES: [(&str, &str); 10] = [
    ("__init__.py", include_str!("../../../crates/server/python/warp_server/__init__.py")),
    ("__main__.py", include_str!("../../../crates/server/python/warp_server/__main__.py")),
    ("events.py", include_str!("../../../crates/server/python/warp_server/events.py")),
    ("mod_wsgi.py", include_str!("../../../crates/server/python/warp_server/mod_wsgi.py")),
    ("hooks.py", include_str!("../../../crates/server/python/warp_server/hooks.py")),
    ("profiling.py", include_str!("../../../crates/server/python/warp_server/profiling.py")),
    ("target.py", include_str!("../../../crates/server/python/warp_server/target.py")),
    ("management/__init__.py", include_str!("../../../crates/server/python/warp_server/management/__init__.py")),
    ("management/commands/__init__.py", include_str!("../../../crates/server/python/warp_server/management/commands/__init__.py")),
    ("management/commands/runwarp.py", include_str!("../../../crates/server/python/warp_server/management/commands/runwarp.py")),
];

/// What an install did.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    Fresh,
    AlreadyCurrent,
}

/// The compiled server module this warp uses.
pub fn module_path() -> Result<PathBuf> {
    let var = settings::var(Id::ServerModule);
    if let Some(path) = env_vars::get(var) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("{var} is {}, which does not exist: point it at libwarp_server.so or unset it", path.display());
        }
        return Ok(path);
    }
    let exe = std::env::current_exe().context("cannot find warp's own executable")?;
    let dir = exe.parent().context("warp's executable has no folder")?;
    // Cargo puts test binaries one level down, in deps/.
    for candidate in [dir.join(BUILT_NAME), dir.join("..").join(BUILT_NAME)] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("warp's server module ({BUILT_NAME}) is not beside {}: build the whole workspace (`cargo build`), or set {var}", exe.display())
}

/// Install (or update) the server module into the venv whose interpreter is `python`.
pub fn install(python: &Path) -> Result<Installed> {
    let module = std::fs::read(module_path()?).context("cannot read warp's server module")?;
    let site = site_packages(python)?;
    let dist_info = site.join(format!("{NAME}-{VERSION}.dist-info"));
    // `manage.py runwarp` starts the warp that installed the module.
    let exe = std::env::current_exe().context("cannot find warp's own executable")?;
    let mut files: Vec<(String, Vec<u8>)> =
        PYTHON_FILES.iter().map(|(rel, text)| (format!("{NAME}/{rel}"), text.as_bytes().to_vec())).collect();
    files.extend([
        (format!("{NAME}/_warp_path.txt"), format!("{}\n", exe.display()).into_bytes()),
        (format!("{NAME}/_native.abi3.so"), module),
        (format!("{NAME}-{VERSION}.dist-info/METADATA"), metadata().into_bytes()),
        (
            format!("{NAME}-{VERSION}.dist-info/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: warp\nRoot-Is-Purelib: false\nTag: cp39-abi3-linux_x86_64\n".to_vec(),
        ),
        (format!("{NAME}-{VERSION}.dist-info/INSTALLER"), b"warp\n".to_vec()),
        (format!("{NAME}-{VERSION}.dist-info/top_level.txt"), format!("{NAME}\n").into_bytes()),
    ]);
    let record = record(&files, &format!("{NAME}-{VERSION}.dist-info/RECORD"));
    if std::fs::read(dist_info.join("RECORD")).is_ok_and(|existing| existing == record.as_bytes()) {
        return Ok(Installed::AlreadyCurrent);
    }
    remove_other_versions(&site)?;
    for (rel, content) in files.iter().chain(std::iter::once(&(format!("{NAME}-{VERSION}.dist-info/RECORD"), record.into_bytes()))) {
        write_atomically(&site.join(rel), content)?;
    }
    Ok(Installed::Fresh)
}

fn metadata() -> String {
    format!(
        "Metadata-Version: 2.1\nName: warp-server\nVersion: {VERSION}\nSummary: warp's embedded WSGI server\nLicense: Apache-2.0\nRequires-Python: >=3.9\n"
    )
}

/// RECORD lines: path, `sha256=` urlsafe base64 digest without padding, size.
fn record(files: &[(String, Vec<u8>)], record_path: &str) -> String {
    let mut out = String::new();
    for (path, content) in files {
        let digest = Sha256::digest(content);
        out.push_str(&format!("{path},sha256={},{}\n", URL_SAFE_NO_PAD.encode(digest), content.len()));
    }
    out.push_str(&format!("{record_path},,\n"));
    out
}

/// The venv's site-packages. A venv made by `venv` or uv has exactly one
/// `lib/pythonX.Y/site-packages`, read without starting Python (a build and every start call
/// this); anything else is asked of its interpreter.
fn site_packages(python: &Path) -> Result<PathBuf> {
    let lib = python.parent().and_then(Path::parent).map(|venv| venv.join("lib"));
    let mut found = lib
        .and_then(|lib| std::fs::read_dir(lib).ok())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3."))
        .map(|e| e.path().join("site-packages"))
        .filter(|dir| dir.is_dir());
    if let (Some(only), None) = (found.next(), found.next()) {
        return Ok(only);
    }
    ask_site_packages(python)
}

fn ask_site_packages(python: &Path) -> Result<PathBuf> {
    let out = Command::new(python)
        .args(["-I", "-c", "import sysconfig; print(sysconfig.get_path('platlib'))"])
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!("{} cannot report its site-packages: rebuild the venv with `warp build`", python.display());
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn remove_other_versions(site: &Path) -> Result<()> {
    for entry in std::fs::read_dir(site).with_context(|| format!("cannot read {}", site.display()))? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&format!("{NAME}-")) && name.ends_with(".dist-info") {
            std::fs::remove_dir_all(site.join(&*name)).with_context(|| format!("cannot remove an old {name}"))?;
        }
    }
    Ok(())
}

/// Write to a temporary name beside `path`, then rename: a running worker that has the old
/// module mapped keeps its file, and nobody sees a half-written one.
fn write_atomically(path: &Path, content: &[u8]) -> Result<()> {
    let dir = path.parent().context("a module file has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let temp = dir.join(format!(".{}.warp-tmp", path.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::write(&temp, content).with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn record_digests_are_urlsafe_base64_without_padding() {
        let files = [("warp_server.abi3.so".to_owned(), Vec::new()), ("warp_server/__init__.py".to_owned(), b"abc".to_vec())];
        // The sha256 digests of b"" and b"abc" as pip writes them: `-` and `_`, no `=`.
        assert_eq!(
            super::record(&files, "warp_server-0.1.dist-info/RECORD"),
            "warp_server.abi3.so,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n\
             warp_server/__init__.py,sha256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0,3\n\
             warp_server-0.1.dist-info/RECORD,,\n"
        );
    }
}
