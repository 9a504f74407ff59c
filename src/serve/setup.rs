//! `warp start --setup-only --server-root DIR`: everything needed to run the server later
//! under a process manager, written down and nothing started.
//!
//! - `warp.env`: the resolved settings as `WARP_*=value` lines, readable both by `sh`
//!   (`set -a; . warp.env`) and by systemd's `EnvironmentFile=`; `warp start` with this
//!   environment alone serves the same app the same way.
//! - `warpctl`: start | stop | restart | graceful | status, with a pid file and the logs
//!   in DIR.
//! - `warp.service`: a systemd unit running the same.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::serve::supervisor::Plan;

/// What `--setup-only` needs beyond the master's plan.
pub struct Setup<'a> {
    pub dir: &'a Path,
    pub src: &'a Path,
    /// Settings as `(WARP_NAME, value)`, already resolved.
    pub settings: Vec<(&'static str, String)>,
    pub plan: &'a Plan,
}

/// Write the three files; returns what to tell the user.
pub fn write(setup: &Setup<'_>) -> Result<String> {
    let dir = setup.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the server root {}", dir.display()))?;
    let dir = std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let warp = std::env::current_exe().context("cannot find the warp executable")?;
    let mut env = String::from("# warp start's settings, resolved by `warp start --setup-only`; edit and restart to change them.\n");
    for (name, value) in &setup.settings {
        env.push_str(&format!("{name}={}\n", quote(name, value)?));
    }
    let w = &setup.plan.worker;
    let stop_wait = (w.shutdown_timeout.as_secs_f64() + 3.0).ceil() as u64;
    let startup_wait = (setup.plan.startup_timeout.as_secs_f64() + 5.0).ceil() as u64;
    let url = format!("http://{}/", setup.plan.bind);
    let vars = [
        ("@ROOT@", shell_word(&dir)?),
        ("@WARP@", shell_word(&warp)?),
        ("@STARTUP_WAIT@", startup_wait.to_string()),
        ("@STOP_WAIT@", stop_wait.to_string()),
        ("@URL@", url),
    ];
    let ctl = vars.iter().fold(WARPCTL.to_owned(), |text, (key, value)| text.replace(key, value));
    let unit = format!(
        "[Unit]\nDescription=warp serving {app} from {src}\nAfter=network.target\n\n[Service]\nType=simple\nEnvironmentFile={dir}/warp.env\nWorkingDirectory={src}\nExecStart={warp} start\nExecReload=/bin/kill -HUP $MAINPID\nKillSignal=SIGTERM\nTimeoutStopSec={stop_wait}\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n",
        app = w.app,
        src = setup.src.display(),
        dir = dir.display(),
        warp = warp.display(),
    );
    replace(&dir.join("warp.env"), &env, 0o644)?;
    replace(&dir.join("warpctl"), &ctl, 0o755)?;
    replace(&dir.join("warp.service"), &unit, 0o644)?;
    Ok(format!(
        "warp: wrote {d}/warp.env (settings), {d}/warpctl (control script) and {d}/warp.service (systemd unit)\n  start it with: {d}/warpctl start   (logs in {d}/access.log and {d}/error.log)",
        d = dir.display()
    ))
}

/// Write `text` to `path` through a temporary file in the same folder, so a reader never
/// sees half a file.
fn replace(path: &Path, text: &str, mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    file.write_all(text.as_bytes())?;
    file.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A value as both sh and systemd read it: bare when plain, else in single quotes.
fn quote(name: &str, value: &str) -> Result<String> {
    if value.contains(['\'', '\n', '\\']) {
        bail!("{name} would be {value:?}, which warp.env cannot hold (no quotes, backslashes or newlines): choose another value");
    }
    let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./:,@%+=-".contains(&b));
    Ok(if plain { value.to_owned() } else { format!("'{value}'") })
}

fn shell_word(path: &Path) -> Result<String> {
    quote("a path", &path.to_string_lossy())
}

const WARPCTL: &str = r#"#!/bin/sh
# Control script for warp, written by `warp start --setup-only`.
# Usage: warpctl start | stop | restart | graceful | status
set -u
ROOT=@ROOT@
WARP=@WARP@
PIDFILE="$ROOT/warp.pid"

running() {
    [ -f "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

start() {
    if running; then
        echo "warpctl: warp is already running (pid $pid)" >&2
        return 1
    fi
    rm -f "$PIDFILE"
    touch "$ROOT/error.log" "$ROOT/access.log"
    size=$(wc -c < "$ROOT/error.log")
    (
        set -a
        . "$ROOT/warp.env"
        set +a
        exec setsid "$WARP" start
    ) >>"$ROOT/access.log" 2>>"$ROOT/error.log" </dev/null &
    pid=$!
    echo "$pid" > "$PIDFILE.new" && mv "$PIDFILE.new" "$PIDFILE"
    tries=$((@STARTUP_WAIT@ * 10))
    while [ "$tries" -gt 0 ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            echo "warpctl: warp exited while starting; the end of $ROOT/error.log:" >&2
            tail -n 5 "$ROOT/error.log" >&2
            return 1
        fi
        if tail -c "+$((size + 1))" "$ROOT/error.log" | grep -q " ready in "; then
            echo "warpctl: warp is serving @URL@ (pid $pid)"
            return 0
        fi
        sleep 0.1
        tries=$((tries - 1))
    done
    echo "warpctl: warp (pid $pid) is not ready after @STARTUP_WAIT@s; see $ROOT/error.log" >&2
    return 1
}

stop() {
    if ! running; then
        rm -f "$PIDFILE"
        echo "warpctl: warp is not running"
        return 0
    fi
    kill -TERM "$pid"
    tries=$((@STOP_WAIT@ * 10))
    while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
        sleep 0.1
        tries=$((tries - 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "warpctl: warp (pid $pid) did not stop in @STOP_WAIT@s; killing it" >&2
        kill -KILL "$pid"
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
            kill -HUP "$pid" && echo "warpctl: replacing every worker (pid $pid)"
        else
            echo "warpctl: warp is not running" >&2
            exit 1
        fi
        ;;
    status)
        if running; then
            echo "warpctl: warp is running (pid $pid)"
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
"#;
