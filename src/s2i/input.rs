//! The tar an s2i build's container reads on its standard input: the source under `src/`,
//! the app's own scripts under `scripts/`, the previous image's artifacts under
//! `artifacts/`, and the CA bundle for the build.

use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use tar::{EntryType, Header};
use walkdir::WalkDir;

use crate::image::exclude::Excludes;

/// The ignore file the s2i tool reads from the source's root.
const IGNORE_FILE: &str = ".s2iignore";
/// The scripts an app may give in `.s2i/bin` instead of the builder's.
const SCRIPTS: [&str; 4] = ["assemble", "run", "save-artifacts", "usage"];

/// What goes into the tar.
pub struct Parts<'a> {
    pub src: &'a Path,
    /// A tar of the artifacts, as `save-artifacts` wrote it.
    pub artifacts: Option<&'a Path>,
    /// The names of the scripts the app gives in `.s2i/bin`.
    pub app_scripts: &'a [String],
    pub ca_cert: Option<&'a Path>,
    /// The CA bundle's name in the tar.
    pub ca_name: &'a str,
}

/// The scripts the app gives in `SRC/.s2i/bin`, of those s2i knows.
pub fn app_scripts(src: &Path) -> Vec<String> {
    let bin = src.join(".s2i").join("bin");
    SCRIPTS.iter().filter(|name| bin.join(name).is_file()).map(|name| name.to_string()).collect()
}

/// Write the tar of `parts` to `out`.
pub fn write(parts: &Parts, out: &mut dyn Write) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    append_dir(&mut tar, "src")?;
    let excludes = excludes(parts.src).map_err(|err| io::Error::other(format!("{err:#}")))?;
    for entry in WalkDir::new(parts.src).min_depth(1).sort_by_file_name().into_iter().filter_entry(|e| {
        let rel = e.path().strip_prefix(parts.src).unwrap_or(e.path());
        !excludes.is_excluded(rel)
    }) {
        let entry = entry.map_err(io::Error::other)?;
        let rel = entry.path().strip_prefix(parts.src).unwrap_or(entry.path());
        tar.append_path_with_name(entry.path(), Path::new("src").join(rel))?;
    }
    if !parts.app_scripts.is_empty() {
        append_dir(&mut tar, "scripts")?;
        for name in parts.app_scripts {
            let path = parts.src.join(".s2i").join("bin").join(name);
            tar.append_path_with_name(&path, Path::new("scripts").join(name))?;
        }
    }
    if let Some(artifacts) = parts.artifacts {
        append_dir(&mut tar, "artifacts")?;
        let mut archive = tar::Archive::new(io::BufReader::new(std::fs::File::open(artifacts)?));
        for entry in archive.entries()? {
            let mut entry = entry?;
            let mut header = entry.header().clone();
            let name = Path::new("artifacts").join(entry.path()?);
            match header.entry_type() {
                EntryType::Symlink | EntryType::Link => {
                    let target = entry.link_name()?.map(|t| t.into_owned()).unwrap_or_default();
                    let target = if header.entry_type() == EntryType::Link { Path::new("artifacts").join(target) } else { target };
                    tar.append_link(&mut header, &name, &target)?;
                }
                _ => tar.append_data(&mut header, &name, &mut entry as &mut dyn Read)?,
            }
        }
    }
    if let Some(ca) = parts.ca_cert {
        let file = std::fs::File::open(ca)?;
        let size = file.metadata()?.len();
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(size);
        tar.append_data(&mut header, parts.ca_name, file.take(size))?;
    }
    tar.into_inner().map(drop)
}

/// `.git` and `.venv`, and what `.s2iignore` names.
pub(super) fn excludes(src: &Path) -> Result<Excludes> {
    let mut excludes = Excludes::new();
    let file = src.join(IGNORE_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) => excludes.add_patterns(&file, &text)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
    Ok(excludes)
}

fn append_dir(tar: &mut tar::Builder<&mut dyn Write>, name: &str) -> io::Result<()> {
    let mut header = Header::new_gnu();
    header.set_entry_type(EntryType::Directory);
    header.set_mode(0o775);
    header.set_size(0);
    tar.append_data(&mut header, format!("{name}/"), io::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar: &[u8]) -> Vec<String> {
        tar::Archive::new(tar).entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn the_input_holds_the_source_scripts_artifacts_and_bundle_in_their_places() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("app");
        let write = |rel: &str, text: &str| {
            let path = src.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("app.py", "app = 1\n");
        write(".s2i/bin/assemble", "#!/bin/sh\n");
        write(".git/HEAD", "ref\n");
        write("notes/secret.txt", "x\n");
        write(".s2iignore", "notes\n");
        let artifacts = dir.path().join("artifacts.tar");
        let mut saved = tar::Builder::new(Vec::new());
        let mut header = Header::new_gnu();
        header.set_size(3);
        saved.append_data(&mut header, "lib/x", &b"abc"[..]).unwrap();
        std::fs::write(&artifacts, saved.into_inner().unwrap()).unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "PEM\n").unwrap();

        let scripts = app_scripts(&src);
        assert_eq!(scripts, ["assemble"]);
        let parts = Parts { src: &src, artifacts: Some(&artifacts), app_scripts: &scripts, ca_cert: Some(&ca), ca_name: "ca.pem" };
        let mut out = Vec::new();
        super::write(&parts, &mut out).unwrap();
        let names = names(&out);
        for expected in ["src/", "src/app.py", "src/.s2i/bin/assemble", "scripts/assemble", "artifacts/lib/x", "ca.pem"] {
            assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
        }
        assert!(!names.iter().any(|n| n.starts_with("src/.git") || n.starts_with("src/notes")), "{names:?}");
    }
}
