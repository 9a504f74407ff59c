//! Reading `Pipfile.lock` as a requirements list, so pip or uv can install it without pipenv.
//!
//! Only the `default` section is installed (as `pipenv install --deploy` does); `develop` is
//! for development machines. Hashes are kept, and pip then checks every download, unless some
//! entry has none (a VCS or path entry), since pip's hash mode is all or nothing.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum PipfileError {
    #[error("Pipfile.lock is not valid JSON ({0}): regenerate it with `pipenv lock`")]
    Json(#[from] serde_json::Error),
    #[error("Pipfile.lock entry {0:?} names no version, VCS URL, path or file: regenerate it with `pipenv lock`")]
    Entry(String),
}

#[derive(Deserialize)]
struct Lock {
    #[serde(rename = "_meta", default)]
    meta: Meta,
    #[serde(default)]
    default: BTreeMap<String, Entry>,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    sources: Vec<Source>,
}

#[derive(Deserialize)]
struct Source {
    url: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Entry {
    version: Option<String>,
    hashes: Vec<String>,
    markers: Option<String>,
    extras: Vec<String>,
    git: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    path: Option<String>,
    file: Option<String>,
    editable: bool,
}

/// A `Pipfile.lock` as a requirements file.
pub struct Converted {
    /// The requirements file's text.
    pub requirements: String,
    /// Whether the lock names the indexes its packages come from (`_meta.sources`): they
    /// are then the ones to install from, as pipenv and micropipenv install it, whatever
    /// index the environment names.
    pub own_indexes: bool,
}

/// Turn the text of a `Pipfile.lock` into a requirements file.
pub fn to_requirements(lock_json: &str) -> Result<Converted, PipfileError> {
    let lock: Lock = serde_json::from_str(lock_json)?;
    let hashed = lock.default.values().all(|e| !e.hashes.is_empty());
    let mut out = String::new();
    for (index, source) in lock.meta.sources.iter().enumerate() {
        let flag = if index == 0 { "--index-url" } else { "--extra-index-url" };
        out.push_str(&format!("{flag} {}\n", source.url));
    }
    for (name, entry) in &lock.default {
        let extras = if entry.extras.is_empty() { String::new() } else { format!("[{}]", entry.extras.join(",")) };
        let mut line = match (&entry.version, &entry.git, &entry.path, &entry.file) {
            (Some(version), _, _, _) => format!("{name}{extras}{version}"),
            (None, Some(git), _, _) => {
                let at = entry.git_ref.as_deref().map(|r| format!("@{r}")).unwrap_or_default();
                format!("{name}{extras} @ git+{git}{at}")
            }
            (None, None, Some(path), _) if entry.editable => format!("-e {path}"),
            (None, None, Some(path), _) => path.clone(),
            (None, None, None, Some(file)) => format!("{name}{extras} @ {file}"),
            (None, None, None, None) => return Err(PipfileError::Entry(name.clone())),
        };
        if let Some(markers) = &entry.markers {
            line.push_str(&format!("; {markers}"));
        }
        if hashed {
            for hash in &entry.hashes {
                line.push_str(&format!(" --hash={hash}"));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    Ok(Converted { requirements: out, own_indexes: !lock.meta.sources.is_empty() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_markers_and_hashes_become_requirement_lines() {
        let lock = r#"{"_meta": {"sources": [{"url": "https://pypi.org/simple", "name": "pypi"}]},
            "default": {"six": {"version": "==1.16.0", "hashes": ["sha256:aa", "sha256:bb"],
                                "markers": "python_version >= '3.9'"}},
            "develop": {"pytest": {"version": "==8.0.0", "hashes": ["sha256:cc"]}}}"#;
        assert_eq!(
            to_requirements(lock).unwrap().requirements,
            "--index-url https://pypi.org/simple\n\
             six==1.16.0; python_version >= '3.9' --hash=sha256:aa --hash=sha256:bb\n"
        );
    }

    #[test]
    fn hashes_are_dropped_when_any_entry_has_none() {
        let lock = r#"{"default": {"a": {"version": "==1", "hashes": ["sha256:aa"]},
            "b": {"git": "https://example.invalid/b.git", "ref": "abc"}}}"#;
        assert_eq!(to_requirements(lock).unwrap().requirements, "a==1\nb @ git+https://example.invalid/b.git@abc\n");
    }

    #[test]
    fn malformed_locks_are_reported() {
        assert!(matches!(to_requirements("{"), Err(PipfileError::Json(_))));
        assert!(matches!(to_requirements(r#"{"default": {"x": {}}}"#), Err(PipfileError::Entry(_))));
    }
}
