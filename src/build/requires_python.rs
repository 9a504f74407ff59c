//! The Python versions an app declares it runs on: `requires-python` in `pyproject.toml`
//! (PEP 440 specifiers), Poetry's `python = "^3.12"` under `[tool.poetry.dependencies]`, or
//! `[requires] python_version` in a `Pipfile`.
//!
//! Only release numbers are compared: interpreters are final releases such as 3.12.1, so a
//! pre-, post- or dev-release suffix in a specifier (`>=3.13.0rc1`) is read as its release.
//! This module reads and evaluates declarations; [`crate::build::python`] finds interpreters.

use std::cmp::Ordering;
use std::fmt;
use std::path::Path;

/// A declaration found in one of the app's files.
#[derive(Debug, Clone)]
pub struct Declared {
    /// The specifier as written, such as `^3.12` or `>=3.10,<3.13`.
    pub text: String,
    /// Where it was written, such as "requires-python in pyproject.toml".
    pub origin: &'static str,
    pub constraint: Constraint,
}

impl fmt::Display for Declared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.origin, self.text)
    }
}

/// A specifier that is not one: the file and the text, for the error.
#[derive(Debug, PartialEq)]
pub struct BadSpecifier {
    pub text: String,
    pub origin: &'static str,
}

/// Versions allowed: any of the alternatives (Poetry's `||`), each a list of clauses that
/// must all hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    alternatives: Vec<Vec<Clause>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    op: Op,
    release: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    /// `==3.12.*`: the release starts with these numbers.
    EqPrefix,
    Ne,
    NePrefix,
    Lt,
    Le,
    Gt,
    Ge,
}

const PYPROJECT_PEP621: &str = "requires-python in pyproject.toml";
const PYPROJECT_POETRY: &str = "python in pyproject.toml [tool.poetry.dependencies]";
const PIPFILE_FULL: &str = "python_full_version in Pipfile [requires]";
const PIPFILE: &str = "python_version in Pipfile [requires]";

/// The app's declaration, if any: `pyproject.toml` first, then `Pipfile`. A file that is
/// not valid TOML declares nothing here; reading its dependencies reports it.
pub fn declared(src: &Path) -> Result<Option<Declared>, BadSpecifier> {
    let read = |name: &str| -> Option<toml::Table> { std::fs::read_to_string(src.join(name)).ok()?.parse().ok() };
    let string_at = |table: &toml::Table, path: &[&str]| -> Option<String> {
        let (last, parents) = path.split_last()?;
        let mut here = table;
        for key in parents {
            here = here.get(*key)?.as_table()?;
        }
        here.get(*last)?.as_str().map(str::to_owned)
    };
    if let Some(pyproject) = read("pyproject.toml") {
        if let Some(text) = string_at(&pyproject, &["project", "requires-python"]) {
            return parse(&text, PYPROJECT_PEP621).map(Some);
        }
        if let Some(text) = string_at(&pyproject, &["tool", "poetry", "dependencies", "python"]) {
            return parse(&text, PYPROJECT_POETRY).map(Some);
        }
    }
    if let Some(pipfile) = read("Pipfile") {
        if let Some(text) = string_at(&pipfile, &["requires", "python_full_version"]) {
            let constraint = parse(&format!("=={text}"), PIPFILE_FULL)?.constraint;
            return Ok(Some(Declared { text, origin: PIPFILE_FULL, constraint }));
        }
        if let Some(text) = string_at(&pipfile, &["requires", "python_version"]) {
            let constraint = parse(&format!("=={}.*", text.trim_end_matches(".*")), PIPFILE)?.constraint;
            return Ok(Some(Declared { text, origin: PIPFILE, constraint }));
        }
    }
    Ok(None)
}

/// Parse a PEP 440 specifier set, or a Poetry constraint (`^3.12`, `~3.11`, `3.12.*`,
/// `>=3.10 <3.13`, `^3.10 || ^4.0`).
pub fn parse(text: &str, origin: &'static str) -> Result<Declared, BadSpecifier> {
    let bad = || BadSpecifier { text: text.to_owned(), origin };
    let mut alternatives = Vec::new();
    for alternative in text.split("||") {
        let mut clauses = Vec::new();
        for piece in alternative.split(',') {
            let mut rest = piece.trim();
            if rest.is_empty() && alternative.contains(',') {
                return Err(bad());
            }
            while !rest.is_empty() {
                let op_len = rest.find(|c: char| !"<>=!~^".contains(c)).unwrap_or(rest.len());
                let (op, after) = rest.split_at(op_len);
                let after = after.trim_start();
                let version_len = after.find(|c: char| c.is_whitespace() || "<>=!~^".contains(c)).unwrap_or(after.len());
                let (version, next) = after.split_at(version_len);
                clauses.extend(clauses_for(op, version).ok_or_else(bad)?);
                rest = next.trim_start();
            }
        }
        alternatives.push(clauses);
    }
    Ok(Declared { text: text.to_owned(), origin, constraint: Constraint { alternatives } })
}

/// The clauses one operator and version stand for; `None` when either is malformed.
fn clauses_for(op: &str, version: &str) -> Option<Vec<Clause>> {
    if version == "*" && op.is_empty() {
        return Some(Vec::new());
    }
    let (release, wildcard) = release_of(version)?;
    let clause = |op: Op, release: &[u32]| Clause { op, release: release.to_vec() };
    let clauses = match (op, wildcard) {
        ("==" | "" | "===", false) => vec![clause(Op::Eq, &release)],
        ("==" | "", true) => vec![clause(Op::EqPrefix, &release)],
        ("!=", false) => vec![clause(Op::Ne, &release)],
        ("!=", true) => vec![clause(Op::NePrefix, &release)],
        ("<", false) => vec![clause(Op::Lt, &release)],
        ("<=", false) => vec![clause(Op::Le, &release)],
        (">", false) => vec![clause(Op::Gt, &release)],
        (">=", false) => vec![clause(Op::Ge, &release)],
        // PEP 440: ~=3.11.2 is >=3.11.2 and ==3.11.*.
        ("~=", false) if release.len() >= 2 => {
            vec![clause(Op::Ge, &release), clause(Op::EqPrefix, &release[..release.len() - 1])]
        }
        // Poetry: ^3.12 is >=3.12,<4 (the first non-zero number may not change).
        ("^", false) => {
            let bump = release.iter().position(|&n| n != 0).unwrap_or(release.len() - 1);
            vec![clause(Op::Ge, &release), clause(Op::Lt, &bumped(&release, bump))]
        }
        // Poetry: ~3.12 and ~3.12.1 are <3.13; ~3 is <4.
        ("~", false) => {
            let bump = usize::from(release.len() >= 2);
            vec![clause(Op::Ge, &release), clause(Op::Lt, &bumped(&release, bump))]
        }
        _ => return None,
    };
    Some(clauses)
}

/// `release` cut after `index`, with that number raised by one: `bumped([3, 12, 1], 1)` is 3.13.
fn bumped(release: &[u32], index: usize) -> Vec<u32> {
    let mut out = release[..=index].to_vec();
    out[index] += 1;
    out
}

/// The release numbers of a version, and whether it ends in `.*`.
fn release_of(version: &str) -> Option<(Vec<u32>, bool)> {
    let version = version.strip_prefix('v').unwrap_or(version);
    let (version, wildcard) = match version.strip_suffix(".*") {
        Some(head) => (head, true),
        None => (version, false),
    };
    let end = version.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(version.len());
    let (numbers, suffix) = version.split_at(end);
    let numbers = numbers.strip_suffix('.').unwrap_or(numbers);
    if numbers.is_empty() || (wildcard && !suffix.is_empty()) || !is_release_suffix(suffix) {
        return None;
    }
    let release = numbers.split('.').map(|n| n.parse().ok()).collect::<Option<Vec<u32>>>()?;
    Some((release, wildcard))
}

/// The tags PEP 440 allows after a release: `rc1`, `.post2`, `-dev0`, `+local`.
fn is_release_suffix(mut rest: &str) -> bool {
    const TAGS: [&str; 12] = ["a", "b", "c", "rc", "alpha", "beta", "pre", "preview", "post", "rev", "r", "dev"];
    while !rest.is_empty() {
        if let Some(local) = rest.strip_prefix('+') {
            return !local.is_empty() && local.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
        }
        rest = rest.strip_prefix(['.', '-', '_']).unwrap_or(rest);
        let word_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_len);
        if !TAGS.contains(&word.to_ascii_lowercase().as_str()) {
            return false;
        }
        let after = after.strip_prefix(['.', '-', '_']).unwrap_or(after);
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    true
}

impl Constraint {
    /// Whether an interpreter of this version is allowed.
    pub fn allows(&self, version: (u32, u32, u32)) -> bool {
        let have = [version.0, version.1, version.2];
        self.alternatives.iter().any(|clauses| clauses.iter().all(|c| c.allows(&have)))
    }

    /// Whether some patch release of `major.minor` is allowed.
    pub fn allows_some_of(&self, major: u32, minor: u32) -> bool {
        // Patch numbers of CPython stay well below this.
        (0..100).any(|patch| self.allows((major, minor, patch)))
    }
}

impl Constraint {
    /// The constraint as one PEP 440 specifier set (for `uv python find`); `None` when it
    /// has alternatives, which PEP 440 cannot say, or allows everything.
    pub fn pep440(&self) -> Option<String> {
        let [clauses] = self.alternatives.as_slice() else {
            return None;
        };
        let text: Vec<String> = clauses.iter().map(Clause::to_string).collect();
        (!text.is_empty()).then(|| text.join(","))
    }
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let release: Vec<String> = self.release.iter().map(u32::to_string).collect();
        let release = release.join(".");
        match self.op {
            Op::Eq => write!(f, "=={release}"),
            Op::EqPrefix => write!(f, "=={release}.*"),
            Op::Ne => write!(f, "!={release}"),
            Op::NePrefix => write!(f, "!={release}.*"),
            Op::Lt => write!(f, "<{release}"),
            Op::Le => write!(f, "<={release}"),
            Op::Gt => write!(f, ">{release}"),
            Op::Ge => write!(f, ">={release}"),
        }
    }
}

impl Clause {
    fn allows(&self, have: &[u32]) -> bool {
        let order = compare(have, &self.release);
        let prefix = || self.release.iter().enumerate().all(|(i, n)| have.get(i).copied().unwrap_or(0) == *n);
        match self.op {
            Op::Eq => order == Ordering::Equal,
            Op::EqPrefix => prefix(),
            Op::Ne => order != Ordering::Equal,
            Op::NePrefix => !prefix(),
            Op::Lt => order == Ordering::Less,
            Op::Le => order != Ordering::Greater,
            Op::Gt => order == Ordering::Greater,
            Op::Ge => order != Ordering::Less,
        }
    }
}

/// Compare release numbers, the shorter padded with zeros (3.12 == 3.12.0).
fn compare(a: &[u32], b: &[u32]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len).map(|i| a.get(i).copied().unwrap_or(0).cmp(&b.get(i).copied().unwrap_or(0))).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(spec: &str, version: (u32, u32, u32)) -> bool {
        parse(spec, PYPROJECT_PEP621).unwrap().constraint.allows(version)
    }

    #[test]
    fn pep440_comparisons() {
        assert!(allows(">=3.12", (3, 12, 0)));
        assert!(!allows(">=3.12", (3, 11, 7)));
        assert!(allows(">=3.10,<3.13", (3, 12, 1)));
        assert!(!allows(">=3.10,<3.13", (3, 13, 0)));
        assert!(allows(">= 3.10 , < 3.13", (3, 10, 0)));
        assert!(allows("==3.11.*", (3, 11, 7)));
        assert!(!allows("==3.11.*", (3, 12, 0)));
        assert!(allows("==3.11", (3, 11, 0)));
        assert!(!allows("==3.11", (3, 11, 7)), "==3.11 means 3.11.0");
        assert!(!allows("!=3.11.*", (3, 11, 2)));
        assert!(allows("!=3.11.1", (3, 11, 2)));
        assert!(allows(">3.11", (3, 11, 1)));
        assert!(allows("<=3.11", (3, 11, 0)));
        assert!(!allows("<=3.11", (3, 11, 1)));
        assert!(allows("~=3.11", (3, 13, 0)));
        assert!(!allows("~=3.11.2", (3, 12, 0)));
        assert!(allows("~=3.11.2", (3, 11, 9)));
        assert!(allows(">=3.13.0rc1", (3, 13, 0)), "suffixes are read as their release");
        assert!(allows("===3.12.1", (3, 12, 1)));
    }

    #[test]
    fn poetry_caret_tilde_and_bare_forms() {
        assert!(allows("^3.12", (3, 13, 0)));
        assert!(!allows("^3.12", (3, 11, 7)));
        assert!(!allows("^3.12", (4, 0, 0)));
        assert!(allows("~3.11", (3, 11, 9)));
        assert!(!allows("~3.11", (3, 12, 0)));
        assert!(!allows("~3", (4, 0, 0)));
        assert!(allows("~3", (3, 13, 0)));
        assert!(allows("3.12.*", (3, 12, 4)));
        assert!(allows(">=3.10 <3.12", (3, 11, 0)));
        assert!(!allows(">=3.10 <3.12", (3, 12, 0)));
        assert!(allows("^3.9 || ^4.0", (4, 1, 0)));
        assert!(allows("*", (3, 9, 0)));
        assert!(allows("^0.2", (0, 2, 5)) && !allows("^0.2", (0, 3, 0)));
    }

    #[test]
    fn malformed_specifiers_are_refused() {
        for bad in ["banana", ">=", ">=3.x", "~=3", "<3.*", ">=3.12,", "3.12.*rc1"] {
            assert_eq!(
                parse(bad, PYPROJECT_PEP621).map(|_| ()),
                Err(BadSpecifier { text: bad.to_owned(), origin: PYPROJECT_PEP621 }),
                "{bad}"
            );
        }
    }

    #[test]
    fn poetry_forms_are_rendered_as_pep440_for_uv() {
        let render = |spec: &str| parse(spec, PYPROJECT_POETRY).unwrap().constraint.pep440();
        assert_eq!(render("^3.12").as_deref(), Some(">=3.12,<4"));
        assert_eq!(render("~=3.11.2").as_deref(), Some(">=3.11.2,==3.11.*"));
        assert_eq!(render("^3.9 || ^4.0"), None);
        assert_eq!(render("*"), None);
    }

    #[test]
    fn some_patch_of_a_minor_version() {
        let c = parse(">=3.12.2", PYPROJECT_PEP621).unwrap().constraint;
        assert!(c.allows_some_of(3, 12));
        assert!(!c.allows_some_of(3, 11));
    }

    #[test]
    fn declarations_are_read_from_pyproject_then_pipfile() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path();
        assert!(declared(src).unwrap().is_none());
        std::fs::write(src.join("Pipfile"), "[requires]\npython_version = \"3.12\"\n").unwrap();
        let d = declared(src).unwrap().unwrap();
        assert_eq!((d.origin, d.text.as_str()), (PIPFILE, "3.12"));
        assert!(d.constraint.allows((3, 12, 1)) && !d.constraint.allows((3, 13, 0)));
        std::fs::write(src.join("pyproject.toml"), "[tool.poetry.dependencies]\npython = \"^3.12\"\n").unwrap();
        assert_eq!(declared(src).unwrap().unwrap().origin, PYPROJECT_POETRY);
        std::fs::write(
            src.join("pyproject.toml"),
            "[project]\nname = \"x\"\nrequires-python = \">=3.11\"\n[tool.poetry.dependencies]\npython = \"^3.12\"\n",
        )
        .unwrap();
        let d = declared(src).unwrap().unwrap();
        assert_eq!((d.origin, d.text.as_str()), (PYPROJECT_PEP621, ">=3.11"));
        std::fs::write(src.join("pyproject.toml"), "[project]\nrequires-python = \"3.x\"\n").unwrap();
        assert!(declared(src).is_err());
    }
}
