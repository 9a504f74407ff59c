//! `--reload-on-changes`: notice when the app's source changes.
//!
//! A thread looks at the modification times and sizes of the source files once a second,
//! as mod_wsgi's monitor does: no inotify watch per folder to run out of, and the same
//! behaviour on every filesystem, bind mounts and network shares included. A change is
//! reported once the tree has stopped changing (an editor saving several files, a
//! `git checkout`), so one edit gives one reload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use walkdir::{DirEntry, WalkDir};

const INTERVAL: Duration = Duration::from_secs(1);
/// How long the tree must stay unchanged before the change is reported.
const SETTLE: Duration = Duration::from_millis(300);

/// Files whose change means the app should be reloaded.
const WATCHED_EXTENSIONS: &[&str] = &["py", "ini", "cfg", "toml", "yaml", "yml", "json", "env", "txt"];

/// Folders never looked into: caches, version control, installed packages.
const SKIPPED_DIRS: &[&str] = &["__pycache__", ".git", ".hg", ".svn", "node_modules", ".mypy_cache", ".pytest_cache", ".tox", ".nox"];

type Snapshot = BTreeMap<PathBuf, (SystemTime, u64)>;

/// Watch `root` in a background thread and call `changed` after each settled change.
/// The folders in `ignored` are where the server writes as it serves (the recorder's
/// records are JSON): watched, each request would reload the app.
pub fn spawn(root: PathBuf, ignored: Vec<PathBuf>, changed: impl Fn() + Send + 'static) -> Result<()> {
    // `root` is canonical: so must the folders be, to be found under it.
    let ignored: Vec<PathBuf> = ignored.into_iter().map(|dir| dir.canonicalize().unwrap_or(dir)).collect();
    std::thread::Builder::new()
        .name("warp-watch".into())
        .spawn(move || {
            let mut known = snapshot(&root, &ignored);
            loop {
                std::thread::sleep(INTERVAL);
                let mut now = snapshot(&root, &ignored);
                if now == known {
                    continue;
                }
                loop {
                    std::thread::sleep(SETTLE);
                    let later = snapshot(&root, &ignored);
                    if later == now {
                        break;
                    }
                    now = later;
                }
                known = now;
                changed();
            }
        })
        .context("cannot start the source watcher")?;
    Ok(())
}

/// The watched files under `root`, outside the `ignored` folders, with their modification
/// times and sizes. Links are not followed, and what cannot be read is left out: it may be
/// gone by the next look.
fn snapshot(root: &Path, ignored: &[PathBuf]) -> Snapshot {
    let mut files = Snapshot::new();
    let walk = WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| !skipped(entry) && !ignored.iter().any(|dir| entry.path() == dir));
    for entry in walk.flatten() {
        let path = entry.path();
        if !entry.file_type().is_file() || !path.parent().is_some_and(|dir| watched(path, dir)) {
            continue;
        }
        if let Ok(meta) = entry.metadata() {
            files.insert(path.to_path_buf(), (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len()));
        }
    }
    files
}

/// Whether a folder below the root is left out of the watch.
fn skipped(entry: &DirEntry) -> bool {
    if entry.depth() == 0 || !entry.file_type().is_dir() {
        return false;
    }
    let name = entry.file_name().to_string_lossy();
    SKIPPED_DIRS.contains(&name.as_ref())
        // A virtualenv (the app's own .venv among them) is installed, not edited.
        || entry.path().join("pyvenv.cfg").exists()
        // Hidden folders are tools' state, except warp's own configuration.
        || (name.starts_with('.') && !(entry.depth() == 1 && (name == ".warp" || name == ".warpdrive" || name == ".s2i")))
}

/// Source files by extension; everything in the configuration folders.
fn watched(path: &Path, dir: &Path) -> bool {
    let in_config = dir.components().any(|c| matches!(c.as_os_str().to_str(), Some(".warp" | ".warpdrive" | ".s2i")));
    in_config || path.extension().and_then(|e| e.to_str()).is_some_and(|e| WATCHED_EXTENSIONS.contains(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_sources_and_config_but_not_venvs_or_caches() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        };
        write("app.py");
        write("pkg/views.py");
        write("settings.toml");
        write(".warp/environment");
        write(".warp/action_hooks/deploy");
        write("static/logo.png");
        write("pkg/__pycache__/views.cpython-311.pyc");
        write(".venv/pyvenv.cfg");
        write(".venv/lib/site.py");
        write(".git/HEAD.py");
        write("node_modules/x/index.py");
        write("pkg/.warp/hidden.py");
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("elsewhere.py"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("linked_dir")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("elsewhere.py"), root.join("linked.py")).unwrap();
        write("records/20261206-061514-4242-17.json");
        let ignored = [root.join("records")];
        let seen: Vec<String> =
            snapshot(root, &ignored).keys().map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(seen, [".warp/action_hooks/deploy", ".warp/environment", "app.py", "pkg/views.py", "settings.toml"]);
    }
}
