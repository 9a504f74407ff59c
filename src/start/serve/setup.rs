//! `warp start --setup-only --server-root DIR`: everything needed to run the server later
//! under a process manager, written down and nothing started.
//!
//! - `warp.env`: the resolved settings as `WARP_*=value` lines, readable both by `sh`
//!   (`set -a; . warp.env`) and by systemd's `EnvironmentFile=`; `warp start` with this
//!   environment alone serves the same app the same way.
//! - `warpctl`: start | stop | restart | graceful | status, with a pid file and the logs
//!   in DIR. It reads warp.env each time it runs, so an edited setting takes effect at
//!   the next start.
//! - `warp.service`: a systemd unit running the same.
//!
//! Each file is written beside its final name and renamed into place, so a reader never
//! sees half of one. Nothing is started, installed into systemd or given to another owner.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::unistd::{Gid, Group, Uid, User};

use crate::settings::{self, Id};
use crate::start::serve::supervisor::Plan;

/// How much longer than the shutdown timeout a stop may take before it becomes a kill:
/// the master's own exit and the workers' after their requests finished.
const STOP_MARGIN: Duration = Duration::from_secs(5);
/// How much longer than the startup timeout `warpctl start` waits for an answer: the
/// master's own start and the probe's.
const START_MARGIN: Duration = Duration::from_secs(5);

/// What `--setup-only` needs beyond the master's plan.
pub struct Setup<'a> {
    pub dir: &'a Path,
    pub src: &'a Path,
    /// Settings as `(NAME, value)`, already resolved: every `WARP_*` variable of `warp
    /// start`, and the few others its outcome depends on (`VIRTUAL_ENV`, `APP_ROOT`).
    pub settings: Vec<(&'static str, String)>,
    pub plan: &'a Plan,
}

/// Write the three files; returns what to tell the user.
pub fn write(setup: &Setup<'_>) -> Result<String> {
    // Checked before anything is written, so a refused value leaves DIR as it was.
    let env = env_file(&setup.settings)?;
    let warp = std::env::current_exe().context("cannot find the warp executable")?;
    let dir = setup.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the server root {}", dir.display()))?;
    let dir = std::fs::canonicalize(dir).with_context(|| format!("cannot resolve the server root {}", dir.display()))?;
    let ctl = warpctl(&dir, &warp, &setup.plan.python)?;
    let unit = unit(setup, &dir, &warp)?;
    replace(&dir.join("warp.env"), &env, 0o644)?;
    replace(&dir.join("warpctl"), &ctl, 0o755)?;
    replace(&dir.join("warp.service"), &unit, 0o644)?;
    let shown = |name: &str| sh_word(&dir.join(name));
    Ok(format!(
        "warp: wrote {d}/warp.env (settings), {d}/warpctl (control script) and {d}/warp.service (systemd unit); nothing started\n  start it with:   {ctl} start   (then stop, restart, graceful or status; logs in {d}/access.log and {d}/error.log)\n  or with systemd: systemctl link {unit} && systemctl start warp",
        d = dir.display(),
        ctl = shown("warpctl")?,
        unit = shown("warp.service")?,
    ))
}

/// `NAME=value` lines, a value quoted only when it needs to be.
fn env_file(settings: &[(&'static str, String)]) -> Result<String> {
    let mut env = String::from(
        "# The settings of `warp start`, resolved by `warp start --setup-only`.\n# Read by warpctl (sh: set -a; . warp.env) and by systemd (EnvironmentFile=); edit, then restart.\n",
    );
    for (name, value) in settings {
        env.push_str(&format!("{name}={}\n", env_value(name, value)?));
    }
    Ok(env)
}

/// A value as both sh and systemd read it alike: bare when plain, else in single quotes,
/// inside which neither expands anything.
fn env_value(name: &str, value: &str) -> Result<String> {
    if value.contains(['\'', '\n', '\r', '\\']) {
        bail!("{name} would be {value:?}, which warp.env cannot hold (no single quotes, backslashes or line breaks): choose another value");
    }
    // No `~` (sh expands it after `=` and `:`), `$`, quotes, spaces or globs.
    let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./:,@%+=-".contains(&b));
    Ok(if plain { value.to_owned() } else { format!("'{value}'") })
}

/// `path` as one sh word.
fn sh_word(path: &Path) -> Result<String> {
    env_value("a path", &path.to_string_lossy())
}

/// `text` where systemd expands specifiers (`%`) and, in command lines, variables (`$`).
fn systemd_text(text: &str) -> String {
    text.replace('%', "%%")
}

/// `path` as one word of a systemd command line.
fn systemd_word(path: &Path) -> String {
    let text = systemd_text(&path.to_string_lossy()).replace('$', "$$");
    if text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./:,@%+=-$".contains(&b)) {
        text
    } else {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs_f64().ceil() as u64
}

/// The unit: warp runs as whoever ran `--setup-only`. When that is root, the master binds
/// as root and the workers drop to `WARP_USER` (or run as root with `WARP_ALLOW_ROOT`),
/// as `warp start` does by hand; otherwise `User=`/`Group=` name that account, since warp
/// started by systemd as root without `--user` would refuse to run.
fn unit(setup: &Setup<'_>, dir: &Path, warp: &Path) -> Result<String> {
    let plan = setup.plan;
    let w = &plan.worker;
    let identity = if Uid::effective().is_root() {
        match setup.settings.iter().find(|(name, _)| *name == settings::var(Id::User)) {
            Some((_, user)) => format!(
                "# The master starts as root to bind {}; the workers run as {user} ({} in warp.env).\n",
                plan.bind,
                settings::var(Id::User)
            ),
            None => format!("# Root, as when it was set up ({} in warp.env).\n", settings::var(Id::AllowRoot)),
        }
    } else {
        let user = User::from_uid(Uid::effective()).ok().flatten().map_or_else(|| Uid::effective().to_string(), |u| u.name);
        let group = Group::from_gid(Gid::effective()).ok().flatten().map_or_else(|| Gid::effective().to_string(), |g| g.name);
        format!("User={}\nGroup={}\n", systemd_text(&user), systemd_text(&group))
    };
    Ok(format!(
        "# systemd unit for warp, written by `warp start --setup-only`.\n\
         # Install: systemctl link {unit_path}, then systemctl start warp (or enable --now warp).\n\
         [Unit]\n\
         Description=warp serving {app} from {src}\n\
         After=network.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         EnvironmentFile={env}\n\
         WorkingDirectory={src}\n\
         ExecStart={warp} start\n\
         ExecReload=/bin/kill -HUP $MAINPID\n\
         KillSignal=SIGTERM\n\
         # SIGTERM to the master only: it gives the workers' requests the shutdown timeout.\n\
         KillMode=mixed\n\
         TimeoutStopSec={stop}\n\
         Restart=on-failure\n\
         {identity}\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        unit_path = sh_word(&dir.join("warp.service"))?,
        app = systemd_text(&w.app),
        src = systemd_text(&setup.src.to_string_lossy()),
        env = systemd_text(&dir.join("warp.env").to_string_lossy()),
        warp = systemd_word(warp),
        stop = whole_seconds(w.shutdown_timeout + STOP_MARGIN),
    ))
}

fn warpctl(dir: &Path, warp: &Path, python: &Path) -> Result<String> {
    let vars = [
        ("@ROOT@", sh_word(dir)?),
        ("@WARP@", sh_word(warp)?),
        ("@PYTHON@", sh_word(python)?),
        ("@START_MARGIN@", START_MARGIN.as_secs().to_string()),
        ("@STOP_MARGIN@", STOP_MARGIN.as_secs().to_string()),
    ];
    Ok(vars.iter().fold(WARPCTL.to_owned(), |text, (key, value)| text.replace(key, value)))
}

/// Write `text` to `path` through a temporary file in the same folder, so a reader never
/// sees half a file.
fn replace(path: &Path, text: &str, mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    file.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.as_file().sync_all().with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The control script, with `@NAME@` placeholders `warpctl()` fills in. `start` waits for
/// an HTTP answer (any status: a worker has loaded the app and answers), asked by the
/// venv's Python since POSIX sh cannot open a socket.
const WARPCTL: &str = include_str!("warpctl.sh");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_stay_bare_and_others_are_quoted() {
        assert_eq!(env_value("X", "8000").unwrap(), "8000");
        assert_eq!(env_value("X", "/srv/app:x").unwrap(), "/srv/app:x");
        assert_eq!(env_value("X", "/static=/srv/static").unwrap(), "/static=/srv/static");
        assert_eq!(env_value("X", "/srv/my app").unwrap(), "'/srv/my app'");
        assert_eq!(env_value("X", "").unwrap(), "''");
        assert_eq!(env_value("X", "~/app").unwrap(), "'~/app'");
        assert_eq!(env_value("X", "$HOME").unwrap(), "'$HOME'");
        assert_eq!(env_value("X", "a#b").unwrap(), "'a#b'");
    }

    #[test]
    fn values_neither_reader_agrees_on_are_refused() {
        for bad in ["it's", "a\nb", "a\rb", "a\\b"] {
            let message = env_value("WARP_APP", bad).unwrap_err().to_string();
            assert!(message.starts_with("WARP_APP would be"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn sh_reads_back_what_was_written() {
        let settings = vec![("WARP_A", "/srv/my app".to_owned()), ("WARP_B", "$HOME `x` *".to_owned()), ("WARP_C", "x=y,z".to_owned())];
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), env_file(&settings).unwrap()).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("set -a; . \"$1\"; printf '%s|%s|%s' \"$WARP_A\" \"$WARP_B\" \"$WARP_C\"")
            .arg("sh")
            .arg(file.path())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "/srv/my app|$HOME `x` *|x=y,z");
    }

    #[test]
    fn warpctl_gets_every_placeholder_filled_and_parses() {
        let ctl = warpctl(Path::new("/srv/my root"), Path::new("/usr/bin/warp"), Path::new("/srv/app/.venv/bin/python")).unwrap();
        // A placeholder is `@NAME@`: an `@`, capitals or `_`, and an `@`.
        let left = ctl.match_indices('@').any(|(at, _)| {
            let name: String = ctl[at + 1..].chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
            !name.is_empty() && ctl[at + 1 + name.len()..].starts_with('@')
        });
        assert!(!left, "a placeholder was left in:\n{ctl}");
        assert!(ctl.contains("ROOT='/srv/my root'\n") && ctl.contains("STOP_MARGIN=5\n"), "{ctl}");
        let out = std::process::Command::new("sh").arg("-n").arg("-c").arg(&ctl).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn systemd_words_escape_specifiers_and_spaces() {
        assert_eq!(systemd_word(Path::new("/usr/bin/warp")), "/usr/bin/warp");
        assert_eq!(systemd_word(Path::new("/opt/my tools/warp")), "\"/opt/my tools/warp\"");
        assert_eq!(systemd_word(Path::new("/opt/50%/$x")), "/opt/50%%/$$x");
    }
}
