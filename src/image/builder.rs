//! The builder image: the image every app image is built in, made from the top-level
//! `Dockerfile` and `builders/` on a Python base. It is an s2i builder too: the scripts of
//! `s2i/bin/` are at `/usr/libexec/s2i`, where its labels point the s2i tool.
//!
//! warp builds it itself through the engine's API when the engine lacks it, from a context
//! that carries this warp's own prebuilt executable and server module (and the pinned uv
//! from warp's cache, when there), so the build needs no compiler and no network. The
//! Dockerfile and the files it uses are compiled into warp, so an installed warp needs no
//! checkout of its sources to do it.
//!
//! uv: the context carries uv only when warp's cache holds the release warp pins
//! ([`crate::build::uv::VERSION`], fetched hash-checked). A uv found on PATH is left out: its
//! version is unknown, and the image should not depend on what a host happened to have.
//! Without it, `warp build` in the builder fetches the pinned uv itself on first use, as it
//! does anywhere.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::cache::Cache;
use super::engine::{self, Engine, ImageInfo};
use super::{Digest, Reference};

/// The Dockerfile, as the build context's root holds it.
const DOCKERFILE: &str = include_str!("../../Dockerfile");
/// The files of `builders/` and `s2i/` the Dockerfile uses: their path in the context, their
/// text and their mode (the s2i scripts run as they are; `env.sh` is only sourced).
const BUILDER_FILES: [(&str, &str, u32); 6] = [
    ("builders/setup.sh", include_str!("../../builders/setup.sh"), EXECUTABLE),
    ("s2i/bin/assemble", include_str!("../../s2i/bin/assemble"), EXECUTABLE),
    ("s2i/bin/env.sh", include_str!("../../s2i/bin/env.sh"), READABLE),
    ("s2i/bin/run", include_str!("../../s2i/bin/run"), EXECUTABLE),
    ("s2i/bin/save-artifacts", include_str!("../../s2i/bin/save-artifacts"), EXECUTABLE),
    ("s2i/bin/usage", include_str!("../../s2i/bin/usage"), EXECUTABLE),
];
/// The modes of the context's files.
const EXECUTABLE: u32 = 0o755;
const READABLE: u32 = 0o644;

/// The base the builder is built on when none is named: an official Python image, which the
/// engine pulls as usual. Keep it equal to the Dockerfile's `BASE_IMAGE` default.
pub const DEFAULT_BASE: &str = "python:3.12-slim";
/// The builder's image name; its tag is warp's version.
pub const NAME: &str = "warp-builder";
/// Where the image keeps warp, its server module and uv; the Dockerfile copies `dist/` to `/`.
const WARP_IN_CONTEXT: &str = "dist/opt/warp/bin/warp";
const MODULE_IN_CONTEXT: &str = "dist/opt/warp/lib/libwarp_server.so";
const UV_IN_CONTEXT: &str = "dist/usr/local/bin/uv";
/// The mtime of every context entry: fixed, so the same inputs give the same context and the
/// engine's build cache holds across rebuilds.
const MTIME: u64 = 0;

/// What can go wrong making the builder image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// This warp's server module was not found (see `WARP_SERVER_MODULE`).
    #[error("cannot put warp's server module into the builder image: {0}")]
    Module(String),
    /// warp's own executable could not be found.
    #[error("cannot find warp's own executable for the builder image")]
    Executable(#[source] std::io::Error),
    /// The engine refused or failed the build.
    #[error(transparent)]
    Engine(#[from] engine::Error),
}

/// Results of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// The files from the host that go into the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// warp's executable.
    pub warp: PathBuf,
    /// Its server module, `libwarp_server.so`.
    pub server_module: PathBuf,
    /// uv, when one of the pinned version is at hand.
    pub uv: Option<PathBuf>,
}

impl Inputs {
    /// This warp: its own executable, the server module it uses, and the pinned uv when
    /// warp's cache `cache` holds it.
    pub fn of_this_warp(cache: &Path) -> Result<Inputs> {
        let (warp, server_module) = this_warp()?;
        let uv = Some(crate::build::uv::cached(cache)).filter(|uv| crate::pathsearch::is_executable(uv));
        Ok(Inputs { warp, server_module, uv })
    }
}

/// This warp's executable and the server module it uses: what app images carry too.
pub fn this_warp() -> Result<(PathBuf, PathBuf)> {
    let warp = std::env::current_exe().map_err(Error::Executable)?;
    let server_module = crate::start::serve::install::module_path().map_err(|err| Error::Module(format!("{err:#}")))?;
    Ok((warp, server_module))
}

/// The builder's name for this warp version on `base` from `inputs`, e.g.
/// `warp-builder:0.1.0-3f2a9c1b7d4e`: the suffix is a digest of everything the build uses,
/// so a rebuilt warp, another base or another uv gets a builder of its own, and an existing
/// one is never stale. Large files are hashed through `cache`, once per version of them.
pub fn default_tag(base: &str, inputs: &Inputs, cache: &Cache) -> super::Result<String> {
    let mut parts = vec![base.as_bytes().to_vec(), DOCKERFILE.as_bytes().to_vec()];
    parts.extend(BUILDER_FILES.iter().map(|(path, text, mode)| format!("{path}\0{mode:o}\0{text}").into_bytes()));
    for file in [Some(&inputs.warp), Some(&inputs.server_module), inputs.uv.as_ref()].into_iter().flatten() {
        parts.push(cache.file_digest(file)?.to_string().into_bytes());
    }
    let digest = Digest::of(&parts.join(&0u8));
    Ok(format!("{NAME}:{}-{}", env!("CARGO_PKG_VERSION"), &digest.hex()[..12]))
}

/// The builder `reference`: the engine's image when it has one under that name, else built
/// now on `base` from `inputs`, its output lines going to `on_line`.
pub fn ensure(engine: &Engine, reference: &Reference, base: &str, inputs: &Inputs, on_line: &mut dyn FnMut(&str)) -> Result<ImageInfo> {
    if let Some(info) = engine.inspect(&reference.to_string())? {
        return Ok(info);
    }
    build(engine, reference, base, inputs, on_line)
}

/// Build the builder on `base` from `inputs` and name it `reference`, whether or not the
/// engine has one already.
pub fn build(engine: &Engine, reference: &Reference, base: &str, inputs: &Inputs, on_line: &mut dyn FnMut(&str)) -> Result<ImageInfo> {
    let info = engine.build(reference, &[("BASE_IMAGE", base)], |out| write_context(inputs, out), on_line)?;
    Ok(info)
}

/// Write the build context as a tar to `out`: the Dockerfile, `builders/`, `s2i/bin/` and the
/// host's files under `dist/`, in sorted order, owned by root, with a fixed mtime.
pub fn write_context(inputs: &Inputs, out: &mut dyn Write) -> super::Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut entries: Vec<(&str, Content)> = vec![("Dockerfile", Content::Embedded(DOCKERFILE, READABLE))];
    entries.extend(BUILDER_FILES.iter().map(|(path, text, mode)| (*path, Content::Embedded(text, *mode))));
    entries.push((WARP_IN_CONTEXT, Content::File(&inputs.warp)));
    entries.push((MODULE_IN_CONTEXT, Content::File(&inputs.server_module)));
    if let Some(uv) = &inputs.uv {
        entries.push((UV_IN_CONTEXT, Content::File(uv)));
    }
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (path, content) in entries {
        let archive_error = |source| super::Error::Archive { entry: path.to_string(), source };
        match content {
            Content::Embedded(text, mode) => append(&mut tar, path, mode, text.len() as u64, text.as_bytes()).map_err(archive_error)?,
            Content::File(file) => {
                let read_error = |source| super::Error::Read { path: file.to_path_buf(), source };
                let opened = std::fs::File::open(file).map_err(read_error)?;
                let size = opened.metadata().map_err(read_error)?.len();
                // Executables and the module alike: the module is loaded, and 0755 is what an
                // install gives both.
                append(&mut tar, path, EXECUTABLE, size, opened).map_err(archive_error)?;
            }
        }
    }
    tar.into_inner().map_err(|source| super::Error::Archive { entry: "the end of the context".to_string(), source })?;
    Ok(())
}

/// One entry's content.
enum Content<'a> {
    /// A file compiled into warp, with its mode.
    Embedded(&'static str, u32),
    /// A file of the host, read as it is written.
    File(&'a Path),
}

fn append(tar: &mut tar::Builder<&mut dyn Write>, path: &str, mode: u32, size: u64, data: impl std::io::Read) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(MTIME);
    header.set_uid(0);
    header.set_gid(0);
    // A file that changes size while it is read would give a broken tar; `take` keeps the
    // entry exactly as long as its header says, and a short read fails the append.
    tar.append_data(&mut header, path, data.take(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(tar: &[u8]) -> Vec<(String, u32, u64)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (e.path().unwrap().to_string_lossy().into_owned(), h.mode().unwrap(), h.mtime().unwrap())
            })
            .collect()
    }

    #[test]
    fn the_context_is_sorted_fixed_and_carries_warps_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, content: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            path
        };
        let inputs = Inputs { warp: file("warp", "exe"), server_module: file("libwarp_server.so", "so"), uv: Some(file("uv", "uv")) };
        let mut first = Vec::new();
        write_context(&inputs, &mut first).unwrap();
        let mut second = Vec::new();
        write_context(&inputs, &mut second).unwrap();
        assert_eq!(first, second, "the same inputs must give the same context");
        let names: Vec<String> = entries(&first).into_iter().map(|(name, _, _)| name).collect();
        assert_eq!(
            names,
            [
                "Dockerfile",
                "builders/setup.sh",
                "dist/opt/warp/bin/warp",
                "dist/opt/warp/lib/libwarp_server.so",
                "dist/usr/local/bin/uv",
                "s2i/bin/assemble",
                "s2i/bin/env.sh",
                "s2i/bin/run",
                "s2i/bin/save-artifacts",
                "s2i/bin/usage",
            ]
        );
        assert!(entries(&first).iter().all(|(_, _, mtime)| *mtime == MTIME));
        let mode = |name: &str| entries(&first).into_iter().find(|(n, _, _)| n == name).unwrap().1;
        assert_eq!(mode("Dockerfile"), 0o644);
        assert_eq!(mode("s2i/bin/assemble"), 0o755, "the s2i scripts run as they are");
        assert_eq!(mode("s2i/bin/env.sh"), 0o644, "env.sh is only sourced");
    }

    #[test]
    fn without_uv_the_context_leaves_it_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), "x").unwrap();
        let inputs = Inputs { warp: dir.path().join("f"), server_module: dir.path().join("f"), uv: None };
        let mut tar = Vec::new();
        write_context(&inputs, &mut tar).unwrap();
        assert!(entries(&tar).iter().all(|(name, _, _)| !name.ends_with("/uv")));
    }

    #[test]
    fn a_missing_input_names_the_file() {
        let inputs = Inputs { warp: "/nonexistent/warp".into(), server_module: "/nonexistent/so".into(), uv: None };
        let err = write_context(&inputs, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/warp"), "{err}");
    }

    #[test]
    fn the_default_base_is_the_dockerfiles() {
        assert!(DOCKERFILE.contains(&format!("ARG BASE_IMAGE={DEFAULT_BASE}\n")));
    }

    #[test]
    fn the_default_tag_changes_with_every_input() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(&dir.path().join("cache"));
        let file = |name: &str, content: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            path
        };
        let inputs = Inputs { warp: file("warp", "exe"), server_module: file("so", "so"), uv: None };
        let tag = default_tag(DEFAULT_BASE, &inputs, &cache).unwrap();
        assert!(tag.starts_with(&format!("warp-builder:{}-", env!("CARGO_PKG_VERSION"))), "{tag}");
        assert_eq!(default_tag(DEFAULT_BASE, &inputs, &cache).unwrap(), tag);
        assert_ne!(default_tag("debian:bookworm", &inputs, &cache).unwrap(), tag);
        let with_uv = Inputs { uv: Some(file("uv", "uv")), ..inputs.clone() };
        assert_ne!(default_tag(DEFAULT_BASE, &with_uv, &cache).unwrap(), tag);
        file("warp", "a new warp");
        assert_ne!(default_tag(DEFAULT_BASE, &inputs, &cache).unwrap(), tag);
    }
}
