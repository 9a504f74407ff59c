//! Which files of a folder stay out of a layer: `.dockerignore` and `.warpignore` patterns,
//! read as Docker reads `.dockerignore`, plus `.git` and `.venv`, which never go in.
//!
//! Docker's rules, kept so a project's existing `.dockerignore` means what it meant: a
//! pattern is matched against the whole path from the folder's root (`*.pyc` is only the
//! root's, `**/*.pyc` is any), `*` and `?` stop at `/`, a pattern that matches a folder
//! matches everything in it, `!` re-includes, and the last pattern that matches wins.
//! `.warpignore` is read after `.dockerignore`, so it can re-include what Docker leaves out.

use std::path::{Component, Path};

use globset::{GlobBuilder, GlobMatcher};

use super::{Error, Result};

/// Names that are never put in a layer, at any depth: a repository's history and a local
/// venv built for another machine.
pub const ALWAYS_EXCLUDED: [&str; 2] = [".git", ".venv"];

/// The ignore files read from a source folder, in this order.
pub const IGNORE_FILES: [&str; 2] = [".dockerignore", ".warpignore"];

struct Rule {
    matcher: GlobMatcher,
    negated: bool,
}

/// An exclude filter over paths relative to a layer's folder.
#[derive(Default)]
pub struct Excludes {
    rules: Vec<Rule>,
}

impl Excludes {
    /// Only [`ALWAYS_EXCLUDED`].
    pub fn new() -> Excludes {
        Excludes::default()
    }

    /// The filter of a source folder: its [`IGNORE_FILES`] that exist, in order.
    pub fn for_source(src: &Path) -> Result<Excludes> {
        let mut excludes = Excludes::new();
        for name in IGNORE_FILES {
            let file = src.join(name);
            match std::fs::read_to_string(&file) {
                Ok(text) => excludes.add_patterns(&file, &text)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(Error::Read { path: file, source }),
            }
        }
        Ok(excludes)
    }

    /// Add the patterns of an ignore file's `text`; `file` names it in errors.
    pub fn add_patterns(&mut self, file: &Path, text: &str) -> Result<()> {
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let cleaned = clean(pattern);
            if cleaned.is_empty() {
                continue;
            }
            let glob = GlobBuilder::new(&cleaned)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|source| Error::Pattern { file: file.to_path_buf(), line: index + 1, pattern: line.to_string(), source })?;
            self.rules.push(Rule { matcher: glob.compile_matcher(), negated });
        }
        Ok(())
    }

    /// Whether `rel` (relative to the layer's folder) stays out of the layer.
    pub fn is_excluded(&self, rel: &Path) -> bool {
        if rel.components().any(|c| ALWAYS_EXCLUDED.iter().any(|name| c.as_os_str() == *name)) {
            return true;
        }
        let mut excluded = false;
        for rule in &self.rules {
            // A pattern that matches a folder holds for everything below it.
            if rel.ancestors().filter(|p| !p.as_os_str().is_empty()).any(|p| rule.matcher.is_match(p)) {
                excluded = !rule.negated;
            }
        }
        excluded
    }

    /// Whether something below an excluded folder may be re-included by a `!` pattern, so
    /// the folder must still be walked. [`ALWAYS_EXCLUDED`] folders never are.
    pub fn may_reinclude(&self, rel: &Path) -> bool {
        let always = rel.components().any(|c| ALWAYS_EXCLUDED.iter().any(|name| c.as_os_str() == *name));
        !always && self.rules.iter().any(|rule| rule.negated)
    }
}

/// A pattern as Docker cleans it: no leading `/` or `./`, no trailing `/`, no empty or `.`
/// components.
fn clean(pattern: &str) -> String {
    let parts: Vec<&str> = Path::new(pattern)
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => part.to_str(),
            Component::ParentDir => Some(".."),
            _ => None,
        })
        .collect();
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excludes(text: &str) -> Excludes {
        let mut excludes = Excludes::new();
        excludes.add_patterns(Path::new(".dockerignore"), text).unwrap();
        excludes
    }

    fn out(excludes: &Excludes, path: &str) -> bool {
        excludes.is_excluded(Path::new(path))
    }

    #[test]
    fn git_and_venv_are_always_excluded_and_cannot_be_reincluded() {
        let excludes = excludes("!.git\n!.venv/bin/python\n");
        for path in [".git", ".git/config", ".venv", ".venv/bin/python", "pkg/.git/HEAD"] {
            assert!(out(&excludes, path), "{path}");
            assert!(!excludes.may_reinclude(Path::new(path)), "{path}");
        }
        assert!(!out(&excludes, ".gitignore"));
        assert!(!out(&excludes, "venv/x"));
    }

    #[test]
    fn patterns_are_anchored_at_the_root_as_docker_reads_them() {
        let excludes = excludes("# a comment\n\n*.pyc\n/build/\n./docs\n");
        assert!(out(&excludes, "a.pyc"));
        assert!(!out(&excludes, "pkg/a.pyc"), "`*` stops at `/`, and patterns are anchored");
        assert!(out(&excludes, "build"));
        assert!(out(&excludes, "build/lib/x.py"), "a matched folder holds everything below it");
        assert!(out(&excludes, "docs/index.md"));
        assert!(!out(&excludes, "src/build/x"));
        assert!(!out(&excludes, "# a comment"));
    }

    #[test]
    fn double_star_matches_any_depth() {
        let excludes = excludes("**/__pycache__\n**/*.log\n");
        assert!(out(&excludes, "__pycache__/a.pyc"));
        assert!(out(&excludes, "pkg/sub/__pycache__/a.pyc"));
        assert!(out(&excludes, "a/b/c.log"));
        assert!(!out(&excludes, "a/b/c.txt"));
    }

    #[test]
    fn negation_reincludes_and_the_last_match_wins() {
        let excludes = excludes("*.md\n!README.md\nlogs\n!logs/keep\n");
        assert!(out(&excludes, "CHANGES.md"));
        assert!(!out(&excludes, "README.md"));
        assert!(out(&excludes, "logs/today"));
        assert!(!out(&excludes, "logs/keep"));
        assert!(excludes.may_reinclude(Path::new("logs")));
        let later = self::excludes("!README.md\n*.md\n");
        assert!(out(&later, "README.md"), "a later pattern overrides an earlier negation");
    }

    #[test]
    fn warpignore_is_read_after_dockerignore() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "*.txt\n").unwrap();
        std::fs::write(dir.path().join(".warpignore"), "!keep.txt\n").unwrap();
        let excludes = Excludes::for_source(dir.path()).unwrap();
        assert!(out(&excludes, "drop.txt"));
        assert!(!out(&excludes, "keep.txt"));
        assert!(!Excludes::for_source(&dir.path().join("none")).unwrap().may_reinclude(Path::new("x")));
    }

    #[test]
    fn an_invalid_pattern_names_its_file_and_line() {
        let err = Excludes::new().add_patterns(Path::new("src/.warpignore"), "ok\n[z-a\n").unwrap_err();
        assert!(err.to_string().starts_with("src/.warpignore:2: invalid pattern \"[z-a\""), "{err}");
    }
}
