#!/bin/sh
# Control script for warp, written by `warp start --setup-only`.
# Usage: warpctl start | stop | restart | graceful | status
# Settings: warp.env beside this script. Exit codes as LSB init scripts: status 3 when
# not running, graceful 7 when not running, 2 for a wrong usage.
set -u
ROOT=@ROOT@
WARP=@WARP@
PYTHON=@PYTHON@
# Seconds beyond the startup timeout that start waits for an answer, and beyond the
# shutdown timeout that stop waits before it kills.
START_MARGIN=@START_MARGIN@
STOP_MARGIN=@STOP_MARGIN@
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
# Written by warp beside this script; there is nothing to check in it ahead of time.
# shellcheck source=/dev/null
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
    wait_s=$(($(seconds "${WARP_STARTUP_TIMEOUT:-15}") + START_MARGIN))
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
    tries=$((($(seconds "${WARP_SHUTDOWN_TIMEOUT:-5}") + STOP_MARGIN) * 10))
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
