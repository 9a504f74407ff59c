//! The locale app processes run with: never an ASCII one, so Python's file names, stdio
//! and `open()` default to UTF-8 as on a developer's machine.
//!
//! An effective locale (LC_ALL, else LANG) that is unset, `C` or `POSIX` is replaced by
//! `en_US.UTF-8` where the system has it, else `C.UTF-8` (built into glibc); any other
//! choice is the user's and is kept.

use std::process::Command;

/// `LANG` and `LC_ALL` to set, given how a variable is currently set; `None` keeps them.
pub fn utf8_default(current: impl Fn(&str) -> Option<String>) -> Option<&'static str> {
    let effective = current("LC_ALL").filter(|v| !v.is_empty()).or_else(|| current("LANG").filter(|v| !v.is_empty()));
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

    #[test]
    fn only_ascii_or_unset_locales_are_replaced() {
        let with = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned())
        };
        assert!(utf8_default(with(&[])).is_some_and(|l| l.ends_with("UTF-8")));
        assert!(utf8_default(with(&[("LANG", "C")])).is_some());
        assert!(utf8_default(with(&[("LANG", "de_DE.UTF-8"), ("LC_ALL", "POSIX")])).is_some());
        assert_eq!(utf8_default(with(&[("LANG", "de_DE.UTF-8")])), None);
        assert_eq!(utf8_default(with(&[("LANG", "C"), ("LC_ALL", "fr_FR.UTF-8")])), None);
    }
}
