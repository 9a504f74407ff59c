//! The locale app processes run with: never an ASCII one, so Python's file names, stdio
//! and `open()` default to UTF-8 as on a developer's machine.
//!
//! An effective locale (LC_ALL, else LANG) that is unset, `C` or `POSIX` is replaced by
//! `en_US.UTF-8` where the system has it, else `C.UTF-8` (built into glibc); any other
//! choice is the user's and is kept. `PYTHONIOENCODING` is `UTF-8` unless the user set it,
//! as in the OpenShift Python builder's images: Python's stdin, stdout and stderr are then
//! UTF-8 whatever the locale, so a log line never fails on a character the locale lacks.

use std::process::Command;

/// Python's encoding for stdin, stdout and stderr.
pub const PYTHONIOENCODING: &str = "PYTHONIOENCODING";

/// The variables to set, given how a variable is currently set (an empty value is unset):
/// `LANG` and `LC_ALL` when the locale is ASCII or missing, `PYTHONIOENCODING` when unset.
pub fn defaults(current: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, &'static str)> {
    let current = |key: &str| current(key).filter(|v| !v.is_empty());
    let mut out = Vec::new();
    if let Some(locale) = utf8_default(current) {
        out.extend([("LANG", locale), ("LC_ALL", locale)]);
    }
    if current(PYTHONIOENCODING).is_none() {
        out.push((PYTHONIOENCODING, "UTF-8"));
    }
    out
}

/// The UTF-8 locale to set as `LANG` and `LC_ALL`, given how a variable is currently set;
/// `None` keeps them.
fn utf8_default(current: impl Fn(&str) -> Option<String>) -> Option<&'static str> {
    let effective = current("LC_ALL").or_else(|| current("LANG"));
    match effective.as_deref() {
        None | Some("C" | "POSIX") => Some(if has_en_us() { "en_US.UTF-8" } else { "C.UTF-8" }),
        Some(_) => None,
    }
}

fn has_en_us() -> bool {
    Command::new("locale")
        .arg("-a")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).lines().any(|l| l.eq_ignore_ascii_case("en_US.utf8") || l == "en_US.UTF-8"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn only_ascii_or_unset_locales_are_replaced() {
        assert!(utf8_default(with(&[])).is_some_and(|l| l.ends_with("UTF-8")));
        assert!(utf8_default(with(&[("LANG", "C")])).is_some());
        assert!(utf8_default(with(&[("LANG", "de_DE.UTF-8"), ("LC_ALL", "POSIX")])).is_some());
        assert_eq!(utf8_default(with(&[("LANG", "de_DE.UTF-8")])), None);
        assert_eq!(utf8_default(with(&[("LANG", "C"), ("LC_ALL", "fr_FR.UTF-8")])), None);
    }

    #[test]
    fn stdio_is_utf8_unless_the_user_chose_an_encoding() {
        let names = |pairs| defaults(with(pairs)).into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
        assert_eq!(names(&[("LANG", "de_DE.UTF-8")]), ["PYTHONIOENCODING=UTF-8"], "set beside a UTF-8 locale of the user's too");
        assert_eq!(names(&[("LANG", "de_DE.UTF-8"), ("PYTHONIOENCODING", "latin-1")]), Vec::<String>::new());
        assert!(names(&[("PYTHONIOENCODING", "")]).contains(&"PYTHONIOENCODING=UTF-8".to_owned()), "empty is unset");
        let all = names(&[("LANG", "C")]);
        assert_eq!(all.len(), 3, "{all:?}");
    }
}
