//! Getting uv: from PATH, else from warp's cache, else fetched from PyPI into the cache.
//!
//! The fetch installs one pinned release, [`VERSION`], with pip in hash-checking mode: the
//! requirements file names the sha256 of each Linux wheel PyPI published for it (x86_64 and
//! aarch64, glibc and musl), so a download that differs by one byte is refused. Only wheels
//! are accepted, so nothing is compiled and no build backend runs. The result lands in
//! `CACHE/tools/uv-VERSION/bin/uv` by a rename, under a lock, so concurrent builds fetch it
//! once and never see a half-installed copy.
//!
//! This module does not decide whether uv is wanted; [`crate::build::installer`] does.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::fcntl::{Flock, FlockArg};

use crate::appenv::AppEnv;
use crate::build::installer::{self, Job};
use crate::build::python;
use crate::layout::Layout;
use crate::report::Reporter;
use crate::{pathsearch, process};

/// The uv release warp fetches when none is on PATH.
pub const VERSION: &str = "0.13.9";

/// The Linux wheels of uv [`VERSION`] and their sha256 digests, as PyPI lists them.
const WHEELS: [(&str, &str); 4] = [
    (
        "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19",
    ),
    ("uv-0.13.9-py3-none-musllinux_1_1_x86_64.whl", "2c45530751517d6c3bbc69a19473f6effe47cce047bede01ffd8af7ea7b36b25"),
    (
        "uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
        "5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe",
    ),
    ("uv-0.13.9-py3-none-manylinux_2_28_aarch64.whl", "ecb6028d79dc96fbeafffe5c8af62a7099487ebc05a701e76714eebcffd06375"),
];

/// pip's words when a download does not match the hashes of the requirements file.
const PIP_HASH_MISMATCH: &str = "DO NOT MATCH THE HASHES";

/// Why uv could not be had.
#[derive(Debug, thiserror::Error)]
pub enum UvError {
    #[error("the download of uv {VERSION} did not match its pinned sha256, so it was refused")]
    HashMismatch,
    #[error("pip could not fetch uv {VERSION} from the package index: {0}")]
    Fetch(String),
    #[error("cannot run pip to fetch uv: {0}")]
    Spawn(std::io::Error),
    #[error("cannot prepare warp's cache for uv: {what} {}: {source}", path.display())]
    Cache { what: &'static str, path: PathBuf, source: std::io::Error },
}

/// uv from PATH, else from warp's cache, else fetched into the cache now.
pub fn find_or_fetch(cx: &Job) -> Result<PathBuf, UvError> {
    match on_path() {
        Some(uv) => Ok(uv),
        None => fetch(cx),
    }
}

/// uv [`VERSION`] in the cache of the app of `layout` (fetched with the Python its build
/// would use, and its index settings), whatever PATH holds: for images, which carry the
/// pinned release.
pub fn fetch_for(layout: &Layout, reporter: &dyn Reporter) -> anyhow::Result<PathBuf> {
    let python = python::find(&layout.src, None)?.interpreter;
    let env = AppEnv::from_files(layout)?;
    let job = Job { cache: &layout.cache, python: &python, env: &env, src: &layout.src, reporter };
    Ok(fetch(&job)?)
}

/// uv [`VERSION`] from warp's cache, fetched into it now when missing.
fn fetch(cx: &Job) -> Result<PathBuf, UvError> {
    let uv = cached(cx.cache);
    let home = cx.cache.join("tools").join(format!("uv-{VERSION}"));
    if pathsearch::is_executable(&uv) {
        return Ok(uv);
    }
    let tools = cx.cache.join("tools");
    std::fs::create_dir_all(&tools).map_err(|source| UvError::Cache { what: "create", path: tools.clone(), source })?;
    let lock_path = tools.join(format!("uv-{VERSION}.lock"));
    let lock_file = File::create(&lock_path).map_err(|source| UvError::Cache { what: "create", path: lock_path.clone(), source })?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive).map_err(|(_, errno)| UvError::Cache {
        what: "lock",
        path: lock_path.clone(),
        source: errno.into(),
    })?;
    // Another build may have fetched it while this one waited for the lock.
    if pathsearch::is_executable(&uv) {
        return Ok(uv);
    }
    cx.reporter.info(&format!("uv is not on PATH: fetching uv {VERSION} from PyPI into warp's cache (hash-checked)"));
    let staging = tempfile::Builder::new().prefix(".uv-").tempdir_in(&tools).map_err(|source| UvError::Cache {
        what: "create a folder in",
        path: tools.clone(),
        source,
    })?;
    let requirements = staging.path().join("requirements.txt");
    std::fs::write(&requirements, requirements_text()).map_err(|source| UvError::Cache {
        what: "write",
        path: requirements.clone(),
        source,
    })?;
    let target = staging.path().join("uv");
    pip_install(cx, &requirements, &target)?;
    std::fs::rename(&target, &home).map_err(|source| UvError::Cache { what: "move uv into", path: home.clone(), source })?;
    Ok(uv)
}

/// Where warp's cache `cache` keeps uv [`VERSION`] once fetched.
pub fn cached(cache: &Path) -> PathBuf {
    cache.join("tools").join(format!("uv-{VERSION}")).join("bin").join("uv")
}

/// The requirements file that pins uv [`VERSION`] to the published wheels.
pub fn requirements_text() -> String {
    let mut out = format!("uv=={VERSION}");
    for (_, sha256) in WHEELS {
        out.push_str(&format!(" \\\n    --hash=sha256:{sha256}"));
    }
    out.push('\n');
    out
}

/// `pip install` the pinned uv into `target`, with the base interpreter's pip.
fn pip_install(cx: &Job, requirements: &Path, target: &Path) -> Result<(), UvError> {
    let mut cmd = Command::new(&cx.python.executable);
    cmd.args(["-m", "pip", "install", "--require-hashes", "--only-binary", ":all:", "--no-deps", "--no-compile"])
        .arg("--target")
        .arg(target)
        .arg("--requirement")
        .arg(requirements);
    // The app's own index settings (a mirror in .warp/environment) apply to this download too.
    cx.env.apply(&mut cmd);
    installer::use_cache(&mut cmd, cx.cache);
    let finished = process::run(&mut cmd, false, &|line| cx.reporter.detail(line)).map_err(UvError::Spawn)?;
    if finished.status.success() {
        return Ok(());
    }
    if finished.tail.iter().any(|line| line.contains(PIP_HASH_MISMATCH)) {
        return Err(UvError::HashMismatch);
    }
    Err(UvError::Fetch(reason(&finished.tail, process::StatusText(finished.status))))
}

/// The line of pip's output that says why it failed: its first error, else its last line.
fn reason(tail: &[String], status: process::StatusText) -> String {
    tail.iter()
        .find_map(|line| line.trim().strip_prefix("ERROR: "))
        .or_else(|| tail.iter().rev().map(|l| l.trim()).find(|l| !l.is_empty()))
        .map_or_else(|| format!("pip {status}"), str::to_owned)
}

/// The real uv executable on PATH.
///
/// A pyenv shim is resolved to the file behind it: the shim chooses a Python version by the
/// current folder's `.python-version`, and uv may not be installed in that version.
pub fn on_path() -> Option<PathBuf> {
    let found = pathsearch::which("uv")?;
    if !found.parent().is_some_and(|dir| dir.ends_with("shims")) {
        return Some(found);
    }
    let out = Command::new("pyenv").args(["which", "uv"]).current_dir("/").output().ok()?;
    let real = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (out.status.success() && pathsearch::is_executable(&real)).then_some(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pinned_wheel_is_of_the_pinned_version_with_a_full_sha256() {
        for (file, sha256) in WHEELS {
            assert!(file.starts_with(&format!("uv-{VERSION}-py3-none-")), "{file}");
            assert!(file.ends_with(".whl"), "{file}");
            assert_eq!(sha256.len(), 64, "{file}");
            assert!(sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{file}");
        }
        let mut digests: Vec<&str> = WHEELS.iter().map(|(_, d)| *d).collect();
        digests.dedup();
        assert_eq!(digests.len(), WHEELS.len(), "each wheel has its own digest");
    }

    #[test]
    fn the_pins_cover_x86_64_and_aarch64_with_glibc_and_musl() {
        for arch in ["x86_64", "aarch64"] {
            for libc in ["manylinux", "musllinux"] {
                let tagged = |file: &str| file.split(['-', '.']).any(|tag| tag.starts_with(libc) && tag.ends_with(arch));
                assert!(WHEELS.iter().any(|(file, _)| tagged(file)), "no {libc} wheel for {arch}");
            }
        }
    }

    #[test]
    fn the_requirements_file_pins_the_version_and_lists_every_hash() {
        let text = requirements_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("uv=={VERSION} \\"));
        assert_eq!(lines.len(), 1 + WHEELS.len());
        for ((_, sha256), line) in WHEELS.iter().zip(&lines[1..]) {
            assert_eq!(line.trim().trim_end_matches(" \\"), format!("--hash=sha256:{sha256}"));
        }
        assert!(!lines.last().unwrap_or(&"").ends_with('\\'), "the last line does not continue");
    }

    #[test]
    fn a_pip_failure_is_told_by_its_first_error() {
        let status = std::os::unix::process::ExitStatusExt::from_raw(1 << 8);
        let tail = [
            "WARNING: Retrying after connection broken".to_owned(),
            "ERROR: Could not find a version that satisfies the requirement uv==0.13.9".to_owned(),
            "ERROR: No matching distribution found for uv==0.13.9".to_owned(),
        ];
        assert_eq!(reason(&tail, process::StatusText(status)), "Could not find a version that satisfies the requirement uv==0.13.9");
        assert_eq!(
            reason(&["/usr/bin/python3: No module named pip".to_owned()], process::StatusText(status)),
            "/usr/bin/python3: No module named pip"
        );
        assert_eq!(reason(&[], process::StatusText(status)), "pip exited with code 1");
    }
}
