//! Whether a dependency file's environment markers leave anything to install in a venv.
//!
//! `six==1.16.0; python_version >= "3.12"` is skipped without a word by pip and uv on
//! Python 3.11. When every requirement of a file is skipped that way, the build installs
//! nothing from it, and should say so. The markers are evaluated by the venv's own Python
//! with `packaging`: the venv's, else the copy its pip vendors, else the one inside the pip
//! wheel that Python carries for `ensurepip` (a venv made by uv has no pip). So the answer is
//! the one the installers reach. When that cannot be done, nothing is said: a warning that may
//! be wrong is worse than none.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::build::deps::{included_file, Include};

/// Reads requirement strings (a JSON list) on stdin and prints, for each, whether its marker
/// holds (`null` when it is not a PEP 508 requirement); prints `null` without `packaging`.
const EVALUATE: &str = r#"
import glob, json, os, sys, sysconfig

def pip_wheels():
    try:
        import ensurepip
    except ImportError:
        return []
    dirs = [os.path.join(os.path.dirname(ensurepip.__file__), "_bundled"),
            sysconfig.get_config_var("WHEEL_PKG_DIR") or "", "/usr/share/python-wheels"]
    return [w for d in dirs if d for w in sorted(glob.glob(os.path.join(d, "pip-*.whl")))]

try:
    from packaging.requirements import Requirement
except ImportError:
    try:
        from pip._vendor.packaging.requirements import Requirement
    except ImportError:
        sys.path[:0] = pip_wheels()[-1:]
        try:
            from pip._vendor.packaging.requirements import Requirement
        except ImportError:
            print("null")
            raise SystemExit
results = []
for line in json.load(sys.stdin):
    try:
        marker = Requirement(line).marker
    except Exception:
        results.append(None)
    else:
        results.append(marker is None or marker.evaluate())
print(json.dumps(results))
"#;

/// The requirements a file asks to install: its own lines and those of the files it pulls in
/// with `-r`, without options, hashes and comments.
pub fn requirements_in(file: &Path) -> Result<Vec<String>> {
    let mut files: Vec<PathBuf> = vec![file.to_path_buf()];
    let mut out = Vec::new();
    let mut index = 0;
    while index < files.len() {
        let path = files[index].clone();
        index += 1;
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for line in logical_lines(&text) {
            match included_file(&line) {
                Some((name, Include::Requirements)) => {
                    let included = dir.join(name);
                    if included.is_file() && !files.contains(&included) {
                        files.push(included);
                    }
                }
                Some((_, Include::Constraints)) => {}
                None => out.extend(requirement_of(&line)),
            }
        }
    }
    Ok(out)
}

/// Lines with `\` continuations joined and comments removed.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        // pip: a comment starts at a `#` at the line's start or after whitespace.
        let line = match raw.find(" #").or_else(|| raw.find("\t#")) {
            Some(at) => &raw[..at],
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        };
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out.push(current);
    out.retain(|l| !l.trim().is_empty());
    out
}

/// The PEP 508 part of a requirement line: options such as `-e` skip it, and per-requirement
/// options (`--hash=...`) are cut off.
fn requirement_of(line: &str) -> Option<String> {
    let line = line.trim();
    if line.starts_with('-') {
        return None;
    }
    let requirement = line.find(" --").map_or(line, |at| &line[..at]).trim();
    (!requirement.is_empty()).then(|| requirement.to_owned())
}

/// Whether `requirements` is not empty and every one of them carries a marker that is false
/// for the interpreter `python`. Without markers this runs nothing.
pub fn none_apply(python: &Path, requirements: &[String]) -> bool {
    if requirements.is_empty() || !requirements.iter().all(|r| r.contains(';')) {
        return false;
    }
    evaluate(python, requirements).is_some_and(|results| results.iter().all(|r| *r == Some(false)))
}

/// Each requirement's marker as `python` evaluates it; `None` when that cannot be done.
fn evaluate(python: &Path, requirements: &[String]) -> Option<Vec<Option<bool>>> {
    let input = serde_json::to_vec(requirements).ok()?;
    // duct feeds stdin from a thread of its own while it reads the output, so neither side
    // waits on the other whatever the script does first.
    let out = duct::cmd(python, ["-I", "-c", EVALUATE]).stdin_bytes(input).stdout_capture().stderr_null().unchecked().run().ok()?;
    if !out.status.success() {
        return None;
    }
    let results: Option<Vec<Option<bool>>> = serde_json::from_slice(&out.stdout).ok()?;
    results.filter(|r| r.len() == requirements.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_lines_lose_options_hashes_and_comments() {
        let text = "# pinned\n--index-url https://example.invalid/simple\n\
                    six==1.16.0 ; python_full_version >= '3.12' \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n\
                    idna==3.7  # for requests\n-e .\n\n";
        let lines: Vec<String> = logical_lines(text).iter().filter_map(|l| requirement_of(l)).collect();
        assert_eq!(lines, ["six==1.16.0 ; python_full_version >= '3.12'", "idna==3.7"]);
    }

    #[test]
    fn included_requirement_files_are_followed_but_constraints_are_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "-r base.txt\n-c pins.txt\nflask\n").unwrap();
        std::fs::write(dir.path().join("base.txt"), "six; python_version >= '3.12'\n").unwrap();
        std::fs::write(dir.path().join("pins.txt"), "idna==3.7\n").unwrap();
        let found = requirements_in(&dir.path().join("requirements.txt")).unwrap();
        assert_eq!(found, ["flask", "six; python_version >= '3.12'"]);
    }

    #[test]
    fn a_requirement_without_a_marker_always_applies() {
        // No interpreter is run when some requirement has no marker.
        let nowhere = Path::new("/nonexistent/python");
        assert!(!none_apply(nowhere, &["six".to_owned(), "idna; python_version < '3'".to_owned()]));
        assert!(!none_apply(nowhere, &[]));
        // And an interpreter that cannot be run gives no verdict, so no warning.
        assert!(!none_apply(nowhere, &["idna; python_version < '3'".to_owned()]));
    }
}
