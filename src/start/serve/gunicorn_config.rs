//! The app's own configuration of gunicorn, which warp's flags must not override.
//!
//! gunicorn takes its settings from, weakest first: a config file, `GUNICORN_CMD_ARGS`, and
//! its command line. The config file is the one `--config` (`-c`) names on the command line,
//! else in `GUNICORN_CMD_ARGS`, else `gunicorn.conf.py` in the folder it starts in (warp
//! starts it in the app's). warp maps its own settings onto command-line flags, which would
//! beat every one of these; so when the app configures gunicorn itself, warp passes only what
//! it must (see [`crate::start::serve::external`]). Whether the configuration binds is read
//! from the words of `GUNICORN_CMD_ARGS` and the server args, and from the config file's
//! syntax tree (a top-level `bind`), without running anything.
//!
//! This module reads words and names; finding the names a file binds is detection's
//! ([`crate::start::detect::top_level_names`]).

use std::fmt;
use std::path::{Path, PathBuf};

/// The variable gunicorn reads more command-line arguments from.
pub const GUNICORN_CMD_ARGS: &str = "GUNICORN_CMD_ARGS";
/// The config file gunicorn reads from the folder it starts in when none is named.
pub const DEFAULT_FILE: &str = "gunicorn.conf.py";

/// The app's own configuration of gunicorn.
#[derive(Debug, Clone, PartialEq)]
pub struct Own {
    /// `GUNICORN_CMD_ARGS` split into words as gunicorn splits it, when set.
    pub cmd_args: Option<Vec<String>>,
    /// The config file gunicorn reads, as named (relative to the app's folder, or absolute),
    /// and where it was named.
    pub file: Option<(PathBuf, Named)>,
}

/// Where the config file gunicorn reads was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    /// `--config FILE` in warp's server args (`WARP_SERVER_ARGS`, `server.args`).
    ServerArgs,
    /// `--config FILE` in `GUNICORN_CMD_ARGS`.
    CmdArgs,
    /// Nowhere: it is gunicorn's default, `gunicorn.conf.py` in the app's folder.
    Default,
}

/// `GUNICORN_CMD_ARGS` cannot be split into words, so gunicorn could not read it either.
#[derive(Debug, thiserror::Error)]
#[error("{GUNICORN_CMD_ARGS}={text:?} cannot be split into words ({reason}): balance its quotes")]
pub struct CmdArgsError {
    text: String,
    reason: String,
}

impl Own {
    /// The app's own gunicorn configuration in the app folder `src`, given warp's server args
    /// and the value of `GUNICORN_CMD_ARGS`; `None` when the app has none.
    pub fn find(server_args: &[String], cmd_args: Option<&str>, src: &Path) -> Result<Option<Own>, CmdArgsError> {
        let cmd_args = cmd_args
            .map(|text| shell_words::split(text).map_err(|e| CmdArgsError { text: text.to_owned(), reason: e.to_string() }))
            .transpose()?;
        let file = match (flag_value(server_args, "--config", "-c"), cmd_args.as_deref().and_then(|w| flag_value(w, "--config", "-c"))) {
            (Some(file), _) => Some((PathBuf::from(file), Named::ServerArgs)),
            (None, Some(file)) => Some((PathBuf::from(file), Named::CmdArgs)),
            (None, None) => src.join(DEFAULT_FILE).is_file().then(|| (PathBuf::from(DEFAULT_FILE), Named::Default)),
        };
        Ok((cmd_args.is_some() || file.is_some()).then_some(Own { cmd_args, file }))
    }

    /// The config file as a path under `src` (or absolute).
    pub fn file_in(&self, src: &Path) -> Option<PathBuf> {
        self.file.as_ref().map(|(file, _)| src.join(file))
    }
}

impl fmt::Display for Own {
    /// What configures gunicorn, as notes name it: `GUNICORN_CMD_ARGS and gunicorn.conf.py`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match (&self.cmd_args, &self.file) {
            (Some(_), Some((file, Named::CmdArgs))) => parts.push(format!("{GUNICORN_CMD_ARGS} (its --config {})", file.display())),
            (Some(_), _) => parts.push(GUNICORN_CMD_ARGS.to_owned()),
            (None, _) => {}
        }
        match &self.file {
            Some((file, Named::ServerArgs)) => parts.push(format!("--config {} (server args)", file.display())),
            Some((file, Named::Default)) => parts.push(format!("{} (gunicorn reads it by default)", file.display())),
            Some((_, Named::CmdArgs)) | None => {}
        }
        f.write_str(&parts.join(" and "))
    }
}

/// Whether the user's gunicorn settings bind: `--bind`/`-b` in any of `words` (server args,
/// `GUNICORN_CMD_ARGS`), or a top-level `bind` among the config file's `file_names`.
pub fn binds(words: &[&[String]], file_names: &[String]) -> bool {
    words.iter().any(|w| flag_value(w, "--bind", "-b").is_some()) || file_names.iter().any(|name| name == "bind")
}

/// The value of the last `--long VALUE`, `--long=VALUE`, `-s VALUE` or `-sVALUE` in `words`.
fn flag_value<'a>(words: &'a [String], long: &str, short: &str) -> Option<&'a str> {
    let mut found = None;
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        if word == long || word == short {
            found = rest.next().map(String::as_str).or(found);
        } else if let Some(value) = word.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
            found = Some(value);
        } else if let Some(value) = word.strip_prefix(short).filter(|v| !v.is_empty() && !short.starts_with("--")) {
            // `-cfile`; `-c=file` is not gunicorn's syntax but reads the same to argparse.
            found = Some(value.strip_prefix('=').unwrap_or(value));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        shell_words::split(text).unwrap()
    }

    #[test]
    fn flags_are_read_in_every_spelling_argparse_takes() {
        for (text, value) in [
            ("--config a.py", Some("a.py")),
            ("--config=a.py", Some("a.py")),
            ("-c a.py", Some("a.py")),
            ("-ca.py", Some("a.py")),
            ("--workers 3 -c a.py --config b.py", Some("b.py")),
            ("--configure x", None),
            ("--workers 3", None),
            ("-c", None),
        ] {
            assert_eq!(flag_value(&words(text), "--config", "-c"), value, "{text}");
        }
    }

    #[test]
    fn the_config_file_is_the_one_gunicorn_reads() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path();
        assert_eq!(Own::find(&[], None, src).unwrap(), None, "no configuration of the app's own");
        let own = Own::find(&[], Some("--workers=3 --access-logfile -"), src).unwrap().unwrap();
        assert_eq!((own.file, own.cmd_args.map(|w| w.len())), (None, Some(3)));

        std::fs::write(src.join(DEFAULT_FILE), "bind = '0.0.0.0:8085'\n").unwrap();
        let own = Own::find(&[], None, src).unwrap().unwrap();
        assert_eq!(own.file, Some((PathBuf::from(DEFAULT_FILE), Named::Default)));
        assert_eq!(own.to_string(), "gunicorn.conf.py (gunicorn reads it by default)");
        let own = Own::find(&[], Some("-c env.py"), src).unwrap().unwrap();
        assert_eq!(own.file, Some((PathBuf::from("env.py"), Named::CmdArgs)));
        let own = Own::find(&words("--config conf/g.py"), Some("-c env.py"), src).unwrap().unwrap();
        assert_eq!(own.file, Some((PathBuf::from("conf/g.py"), Named::ServerArgs)), "the command line's --config wins");
        assert_eq!(own.to_string(), "GUNICORN_CMD_ARGS and --config conf/g.py (server args)");
        let own = Own::find(&[], Some("-c env.py"), src).unwrap().unwrap();
        assert_eq!(own.to_string(), "GUNICORN_CMD_ARGS (its --config env.py)");
        let err = Own::find(&[], Some("--bind 'x"), src).unwrap_err();
        assert!(err.to_string().starts_with("GUNICORN_CMD_ARGS=\"--bind 'x\" cannot be split"), "{err}");
    }

    #[test]
    fn the_users_settings_bind_by_flag_or_by_file() {
        let none: Vec<String> = Vec::new();
        assert!(binds(&[&words("--workers 2 -b :9000")], &none));
        assert!(binds(&[&none, &words("--bind=unix:/tmp/s")], &none));
        assert!(binds(&[&none], &["workers".to_owned(), "bind".to_owned()]));
        assert!(!binds(&[&words("--backlog 10 --workers 2")], &["wsgi_app".to_owned()]));
    }
}
