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
        match setup.settings.iter().find(|(name, _)| *name == "WARP_USER") {
            Some((_, user)) => format!(
                "# The master starts as root to bind {}; the workers run as {user} (WARP_USER in warp.env).\n",
                plan.bind
            ),
            None => "# Root, as when it was set up (WARP_ALLOW_ROOT in warp.env).\n".to_owned(),
        }
    } else {
        let user = User::from_uid(Uid::effective())
            .ok()
            .flatten()
            .map_or_else(|| Uid::effective().to_string(), |u| u.name);
        let group = Group::from_gid(Gid::effective())
            .ok()
            .flatten()
            .map_or_else(|| Gid::effective().to_string(), |g| g.name);
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

/// The control script. `start` waits for an HTTP answer (any status: a worker has loaded
/// the app and answers), asked by the venv's Python since POSIX sh cannot open a socket.
const WARPCTL: &str = r##"#!/bin/sh
# Control script for warp, written by `warp start --setup-only`.
# Usage: warpctl start | stop | restart | graceful | status
# Settings: warp.env beside this script. Exit codes as LSB init scripts: status 3 when
# not running, graceful 7 when not running, 2 for a wrong usage.
set -u
ROOT=@ROOT@
WARP=@WARP@
PYTHON=@PYTHON@
PIDFILE="$ROOT/warp.pid"

# warp start sees warp.env and nothing else of the caller's warp settings, as under systemd.
for name in $(env | sed -n 's/^\(WARP_[A-Za-z0-9_]*\)=.*/\1/p') VIRTUAL_ENV APP_ROOT PORT; do
    unset "$name"
done
if [ ! -r "$ROOT/warp.env" ]; then
    echo "warpctl: cannot read $ROOT/warp.env: run warp start --setup-only --server-root $ROOT again" >&2
    exit 1
fi
set -a
. "$ROOT/warp.env"
set +a

# Whole seconds, rounded up, of a setting such as 5 or 0.5.
seconds() {
    case "$1" in
        *.*) echo $((${1%%.*} + 1)) ;;
        *) echo "$1" ;;
    esac
}

case "${WARP_HOST:-127.0.0.1}" in
    0.0.0.0) HOST=127.0.0.1 ;;
    ::) HOST=::1 ;;
    *) HOST=${WARP_HOST:-127.0.0.1} ;;
esac
case "$HOST" in
    *:*) URL="http://[$HOST]:${WARP_PORT:-8000}/" ;;
    *) URL="http://$HOST:${WARP_PORT:-8000}/" ;;
esac

# Sets pid; true when the pid file names a running warp (not a stale file, and not
# another program that got the same pid since).
running() {
    pid=
    [ -f "$PIDFILE" ] || return 1
    read -r pid 2>/dev/null < "$PIDFILE"
    case "$pid" in
        '' | *[!0-9]*) return 1 ;;
    esac
    if [ -d /proc/1 ]; then
        [ -r "/proc/$pid/cmdline" ] || return 1
        # Empty for a zombie; another program's name for a reused pid.
        [ "$(tr '\000' '\n' < "/proc/$pid/cmdline" | head -n 1)" = "$WARP" ]
    else
        kill -0 "$pid" 2>/dev/null
    fi
}

# Exit 0 when $URL answers, 2 when process $1 is gone, 1 after $2 seconds.
PROBE='
import os, socket, sys, time
host, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + float(sys.argv[4])
def alive():
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
name = "[%s]" % host if ":" in host else host
request = ("GET / HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: warpctl\r\n\r\n" % (name, port)).encode()
while time.monotonic() < deadline:
    if not alive():
        sys.exit(2)
    try:
        conn = socket.create_connection((host, port), timeout=0.5)
    except OSError:
        time.sleep(0.1)
        continue
    with conn:
        try:
            conn.sendall(request)
            conn.settimeout(0.2)
            while time.monotonic() < deadline:
                try:
                    if conn.recv(1):
                        sys.exit(0)
                    break
                except socket.timeout:
                    if not alive():
                        sys.exit(2)
        except OSError:
            pass
    time.sleep(0.1)
sys.exit(1)
'

start() {
    if running; then
        echo "warpctl: warp is already running (pid $pid)" >&2
        return 1
    fi
    rm -f "$PIDFILE"
    if [ ! -x "$PYTHON" ]; then
        echo "warpctl: the app's Python $PYTHON is missing: run warp build in ${WARP_SRC:-the app folder}" >&2
        return 1
    fi
    # In its own session, so the terminal's signals and hangup do not reach it; the process
    # group it leads then holds the workers too.
    detach=
    if command -v setsid >/dev/null 2>&1; then
        detach=setsid
    fi
    $detach "$WARP" start >>"$ROOT/access.log" 2>>"$ROOT/error.log" </dev/null &
    pid=$!
    echo "$pid" > "$PIDFILE.new" && mv -f "$PIDFILE.new" "$PIDFILE"
    wait_s=$(($(seconds "${WARP_STARTUP_TIMEOUT:-15}") + @START_MARGIN@))
    "$PYTHON" -I -c "$PROBE" "$HOST" "${WARP_PORT:-8000}" "$pid" "$wait_s"
    case $? in
        0)
            echo "warpctl: warp is serving $URL (pid $pid)"
            return 0
            ;;
        2)
            wait "$pid"
            status=$?
            rm -f "$PIDFILE"
            echo "warpctl: warp exited while starting (status $status); the end of $ROOT/error.log:" >&2
            tail -n 5 "$ROOT/error.log" >&2
            return 1
            ;;
        *)
            echo "warpctl: warp is running (pid $pid) but $URL did not answer within ${wait_s}s: see $ROOT/error.log" >&2
            return 1
            ;;
    esac
}

stop() {
    if ! running; then
        rm -f "$PIDFILE"
        echo "warpctl: warp is not running"
        return 0
    fi
    kill -TERM "$pid"
    tries=$((($(seconds "${WARP_SHUTDOWN_TIMEOUT:-5}") + @STOP_MARGIN@) * 10))
    while running && [ "$tries" -gt 0 ]; do
        sleep 0.1
        tries=$((tries - 1))
    done
    if running; then
        echo "warpctl: warp (pid $pid) did not stop in time; killing it and its workers" >&2
        # The group it leads when setsid started it; with no such group this does nothing.
        kill -KILL "-$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$PIDFILE"
    echo "warpctl: warp stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) stop && start ;;
    graceful)
        if running; then
            kill -HUP "$pid" && echo "warpctl: replacing every worker, none of their requests dropped (pid $pid)"
        else
            echo "warpctl: warp is not running" >&2
            exit 7
        fi
        ;;
    status)
        if running; then
            echo "warpctl: warp is running (pid $pid), serving $URL"
        elif [ -f "$PIDFILE" ]; then
            echo "warpctl: warp is not running (stale pid file $PIDFILE)"
            exit 3
        else
            echo "warpctl: warp is not running"
            exit 3
        fi
        ;;
    *)
        echo "usage: warpctl start | stop | restart | graceful | status" >&2
        exit 2
        ;;
esac
"##;

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
    fn systemd_words_escape_specifiers_and_spaces() {
        assert_eq!(systemd_word(Path::new("/usr/bin/warp")), "/usr/bin/warp");
        assert_eq!(systemd_word(Path::new("/opt/my tools/warp")), "\"/opt/my tools/warp\"");
        assert_eq!(systemd_word(Path::new("/opt/50%/$x")), "/opt/50%%/$$x");
    }
}
