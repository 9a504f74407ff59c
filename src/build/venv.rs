//! Replacing an app's venv without ever leaving it half-built.
//!
//! A rebuild moves the old venv's entries into `VENV/.warp-previous/` (a rename, so it is
//! cheap), builds the new venv in place (venvs are not relocatable: their scripts name their
//! own path), then drops the old one on success or puts it back on failure. A build that was
//! interrupted leaves `.warp-previous/` behind, and the next build restores it first.
//!
//! The venv folder may hold things that are not the venv: in a container it is
//! `/opt/app-root`, which also holds the source and the cache. Those are never moved.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

const PREVIOUS: &str = ".warp-previous";
/// Where a build records the digest of what it installed.
const DIGEST_FILE: &str = ".warp-dependencies";

/// The venv being replaced, until the new one is committed or rolled back.
pub struct Replacement {
    venv: PathBuf,
    keep: Vec<PathBuf>,
}

/// Whether `venv` holds a working venv.
pub fn exists(venv: &Path) -> bool {
    venv.join("pyvenv.cfg").is_file() && venv.join("bin").join("python").exists()
}

/// The digest recorded by the last successful build, if any.
pub fn recorded_digest(venv: &Path) -> Option<String> {
    std::fs::read_to_string(venv.join(DIGEST_FILE)).ok().map(|s| s.trim().to_owned())
}

/// Record `digest` as what the venv now holds (written to a temporary file, then renamed).
pub fn record_digest(venv: &Path, digest: &str) -> Result<()> {
    let target = venv.join(DIGEST_FILE);
    let temp = venv.join(format!("{DIGEST_FILE}.tmp"));
    std::fs::write(&temp, format!("{digest}\n")).with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, &target).with_context(|| format!("cannot write {}", target.display()))
}

/// The names of the distributions installed in `venv` (its `*.dist-info` folders).
pub fn distributions(venv: &Path) -> BTreeSet<String> {
    let lib = venv.join("lib");
    let site_packages = std::fs::read_dir(&lib).into_iter().flatten().flatten().map(|entry| entry.path().join("site-packages"));
    site_packages
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let (project, _version) = name.strip_suffix(".dist-info")?.split_once('-')?;
            Some(project.to_owned())
        })
        .collect()
}

/// Restore the venv of a build that was interrupted. Returns whether one was restored.
pub fn recover(venv: &Path, keep: &[PathBuf]) -> Result<bool> {
    if !venv.join(PREVIOUS).is_dir() {
        return Ok(false);
    }
    Replacement { venv: venv.to_path_buf(), keep: keep.to_vec() }.roll_back()?;
    Ok(true)
}

/// Move the current venv aside so a new one can be built at the same path. `keep` lists
/// paths inside the venv folder that are not part of the venv (the source, the cache).
pub fn replace(venv: &Path, keep: &[PathBuf]) -> Result<Replacement> {
    let replacement = Replacement { venv: venv.to_path_buf(), keep: keep.to_vec() };
    let previous = venv.join(PREVIOUS);
    std::fs::create_dir(&previous).with_context(|| format!("cannot create {}", previous.display()))?;
    for entry in replacement.entries()? {
        let name = entry.file_name().unwrap_or_default();
        move_aside(&entry, &previous.join(name))?;
    }
    Ok(replacement)
}

/// Rename `from` to `to`. An overlay file system (a container's) refuses to rename a folder
/// that a lower layer holds, such as the `bin` an image's `/opt/app-root` comes with: such a
/// folder's entries are moved one by one into a new `to`, and the emptied folder removed.
fn move_aside(from: &Path, to: &Path) -> Result<()> {
    let error = || format!("cannot move {} aside", from.display());
    match std::fs::rename(from, to) {
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices && from.is_dir() && !from.is_symlink() => {
            std::fs::create_dir(to).with_context(error)?;
            for entry in std::fs::read_dir(from).with_context(error)? {
                let entry = entry.with_context(error)?;
                move_aside(&entry.path(), &to.join(entry.file_name()))?;
            }
            std::fs::remove_dir(from).with_context(error)
        }
        result => result.with_context(error),
    }
}

impl Replacement {
    /// The new venv works: delete the old one.
    pub fn commit(self) -> Result<()> {
        let previous = self.venv.join(PREVIOUS);
        std::fs::remove_dir_all(&previous).with_context(|| format!("cannot remove {}", previous.display()))
    }

    /// The new venv failed: delete it and put the old one back.
    pub fn roll_back(self) -> Result<()> {
        for entry in self.entries()? {
            remove(&entry)?;
        }
        let previous = self.venv.join(PREVIOUS);
        for entry in std::fs::read_dir(&previous).with_context(|| format!("cannot read {}", previous.display()))? {
            let entry = entry?;
            let target = self.venv.join(entry.file_name());
            std::fs::rename(entry.path(), &target).with_context(|| format!("cannot restore {}", target.display()))?;
        }
        std::fs::remove_dir(&previous).with_context(|| format!("cannot remove {}", previous.display()))
    }

    /// The venv folder's entries that belong to the venv.
    fn entries(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let listing = match std::fs::read_dir(&self.venv) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.venv.display())),
        };
        for entry in listing {
            let path = entry?.path();
            let holds_kept = self.keep.iter().any(|k| k.starts_with(&path));
            if path.file_name() != Some(PREVIOUS.as_ref()) && !holds_kept {
                out.push(path);
            }
        }
        Ok(out)
    }
}

fn remove(path: &Path) -> Result<()> {
    let result = if path.is_dir() && !path.is_symlink() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    result.with_context(|| format!("cannot remove {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, path.to_string_lossy().as_bytes()).unwrap();
    }

    #[test]
    fn roll_back_restores_the_old_venv_and_keeps_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path();
        touch(&venv.join("bin/python"));
        touch(&venv.join("src/app.py"));
        let keep = vec![venv.join("src")];
        let replacement = replace(venv, &keep).unwrap();
        assert!(!venv.join("bin").exists());
        assert!(venv.join("src/app.py").exists());
        touch(&venv.join("bin/half-built"));
        replacement.roll_back().unwrap();
        assert!(venv.join("bin/python").exists());
        assert!(!venv.join("bin/half-built").exists());
        assert!(!venv.join(PREVIOUS).exists());
        assert!(venv.join("src/app.py").exists());
    }

    #[test]
    fn commit_drops_the_old_venv_and_recover_undoes_an_interrupted_build() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path();
        touch(&venv.join("lib/old"));
        replace(venv, &[]).unwrap().commit().unwrap();
        assert!(!venv.join("lib").exists() && !venv.join(PREVIOUS).exists());

        touch(&venv.join("lib/old"));
        let interrupted = replace(venv, &[]).unwrap();
        std::mem::forget(interrupted);
        touch(&venv.join("lib/new"));
        assert!(recover(venv, &[]).unwrap());
        assert!(venv.join("lib/old").exists() && !venv.join("lib/new").exists());
    }
}
