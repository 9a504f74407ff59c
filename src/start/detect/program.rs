//! A program that is the server itself, as the app provides it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The command line of an app's own server: an executable script, `python app.py`, a
/// Procfile line for the shell, or gunicorn run on the app's own config file.
#[derive(Debug, Clone)]
pub struct Program {
    pub argv: Vec<OsString>,
    shown: String,
    /// The server the program is, when it is one `--server` can name (gunicorn): asking for
    /// that server agrees with it.
    pub server: Option<&'static str>,
}

impl Program {
    pub fn executable(path: PathBuf) -> Program {
        let shown = path.display().to_string();
        Program { argv: vec![path.into_os_string()], shown, server: None }
    }

    pub fn python_script(python: &Path, script: &Path) -> Program {
        let name = script.file_name().unwrap_or_default().to_string_lossy();
        Program { argv: vec![python.as_os_str().to_owned(), script.as_os_str().to_owned()], shown: format!("python {name}"), server: None }
    }

    /// A shell command line, run by `/bin/sh -c` as a Procfile runner does.
    pub fn shell(command: &str) -> Program {
        Program { argv: vec!["/bin/sh".into(), "-c".into(), command.into()], shown: command.to_owned(), server: None }
    }

    /// The venv's gunicorn `executable` with `args`, shown by its name.
    pub fn gunicorn(executable: &Path, args: Vec<String>) -> Program {
        let shown = std::iter::once("gunicorn").chain(args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ");
        let argv = std::iter::once(executable.as_os_str().to_owned()).chain(args.into_iter().map(OsString::from)).collect();
        Program { argv, shown, server: Some("gunicorn") }
    }
}

impl std::fmt::Display for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}
