//! The key of the dependency layer: a digest of everything that decides what `warp build`
//! installs into the venv, and nothing that does not, so a change to the app's code alone
//! finds the layer again.

use std::path::Path;

use anyhow::{Context, Result};

use crate::appenv::hooks;
use crate::build::deps::Plan;
use crate::image::{Digest, Epoch};
use crate::layout::Layout;

/// Bumped when the layer's content changes for the same inputs (what the build container
/// is given, how the layer is cut).
const FORMAT: &str = "warp-image-dependencies/3";

/// The key for the app of `layout` built in the builder `builder_id` with the build
/// variables `build_env`, its entries dated `epoch`.
///
/// The inputs: the builder (its Python and installers), the files the dependency plan reads
/// (requirements and the files they include, locks, pyproject.toml, setup.py), the files
/// and hooks that set the build's environment before the install (`.s2i/environment`,
/// `.warp/environment`, `.warp/config.yaml`, the `pre-build` and `build-env` hooks), and
/// the build variables given to the container but those that only say where packages come
/// from.
pub fn dependencies(layout: &Layout, builder_id: &str, build_env: &[String], epoch: Epoch) -> Result<Digest> {
    let mut fields: Vec<(String, Vec<u8>)> = vec![
        ("format".into(), FORMAT.into()),
        ("builder".into(), builder_id.into()),
        ("epoch".into(), epoch.seconds().to_string().into_bytes()),
    ];
    // With the app itself in: its package files are inputs then, and WARP_INSTALL_APP,
    // which may leave it out, is in the environment files or the build variables.
    let plan = Plan::for_app(&layout.src, true)?;
    let mut files: Vec<_> = plan.inputs().to_vec();
    files.extend(layout.environment_files());
    files.push(layout.config_dir.join("config.yaml"));
    files.extend([hooks::PRE_BUILD, hooks::BUILD_ENV].map(|hook| layout.hook(hook)));
    for file in files {
        let name = file.strip_prefix(&layout.src).unwrap_or(&file).to_string_lossy().into_owned();
        fields.push((format!("file {name}"), content(&file)?));
    }
    // As in `warp build`'s own digest, where packages come from is not what is installed.
    let mut env: Vec<String> = build_env
        .iter()
        .filter(|line| !crate::env_vars::INDEX_SETTINGS.iter().any(|var| line.split('=').next() == Some(var)))
        .cloned()
        .collect();
    env.sort();
    fields.extend(env.into_iter().map(|line| ("env".to_string(), line.into_bytes())));
    let mut bytes = Vec::new();
    for (name, value) in fields {
        for part in [name.as_bytes(), &value] {
            bytes.extend((part.len() as u64).to_le_bytes());
            bytes.extend(part);
        }
    }
    Ok(Digest::of(&bytes))
}

/// A file's content, or a marker that it is absent (distinct from any content).
fn content(path: &Path) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(mut bytes) => {
            bytes.insert(0, b'+');
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(b"-".to_vec()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(src: &Path) -> Layout {
        Layout { src: src.to_path_buf(), venv: src.join(".venv"), config_dir: src.join(".warp"), cache: src.join("cache") }
    }

    #[test]
    fn the_key_follows_the_dependency_inputs_and_not_the_code() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path();
        let write = |rel: &str, text: &str| {
            std::fs::create_dir_all(src.join(rel).parent().unwrap()).unwrap();
            std::fs::write(src.join(rel), text).unwrap();
        };
        write("requirements.txt", "flask==3.0.0\n-r more.txt\n");
        write("more.txt", "gunicorn\n");
        write("app.py", "app = 1\n");
        let layout = layout(src);
        let epoch = Epoch::parse(None).unwrap();
        let key = || dependencies(&layout, "sha256:b", &["PIP_NO_BINARY=x".into()], epoch).unwrap();
        let first = key();
        write("app.py", "app = 2\n");
        write("static/site.css", "body {}\n");
        assert_eq!(key(), first, "the app's code is not an input");

        let changes: [(&str, &str); 5] = [
            ("more.txt", "gunicorn==23\n"),
            (".warp/environment", "PIP_INDEX_URL=y\n"),
            (".s2i/environment", "A=1\n"),
            (".warp/action_hooks/build-env", "#!/bin/sh\n"),
            (".warp/config.yaml", "build: {}\n"),
        ];
        let mut seen = vec![first];
        for (rel, text) in changes {
            write(rel, text);
            let now = key();
            assert!(!seen.contains(&now), "{rel} is an input");
            seen.push(now);
        }
        let last = *seen.last().unwrap();
        assert_ne!(dependencies(&layout, "sha256:c", &["PIP_NO_BINARY=x".into()], epoch).unwrap(), last, "the builder is an input");
        assert_ne!(dependencies(&layout, "sha256:b", &[], epoch).unwrap(), last, "the build variables are inputs");
        let mirror = ["PIP_NO_BINARY=x".to_string(), "PIP_INDEX_URL=http://mirror/simple".to_string()];
        assert_eq!(dependencies(&layout, "sha256:b", &mirror, epoch).unwrap(), last, "where packages come from is not");
        assert_ne!(dependencies(&layout, "sha256:b", &["PIP_NO_BINARY=x".into()], Epoch::parse(Some("1")).unwrap()).unwrap(), last);
    }
}
