//! A program that is the server itself, as the app provides it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The command line of an app's own server: an executable script, `python app.py`, or a
/// Procfile line for the shell.
#[derive(Debug, Clone)]
pub struct Program {
    pub argv: Vec<OsString>,
    shown: String,
}

impl Program {
    pub fn executable(path: PathBuf) -> Program {
        let shown = path.display().to_string();
        Program { argv: vec![path.into_os_string()], shown }
    }

    pub fn python_script(python: &Path, script: &Path) -> Program {
        let name = script.file_name().unwrap_or_default().to_string_lossy();
        Program { argv: vec![python.as_os_str().to_owned(), script.as_os_str().to_owned()], shown: format!("python {name}") }
    }

    /// A shell command line, run by `/bin/sh -c` as a Procfile runner does.
    pub fn shell(command: &str) -> Program {
        Program { argv: vec!["/bin/sh".into(), "-c".into(), command.into()], shown: command.to_owned() }
    }
}

impl std::fmt::Display for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}
