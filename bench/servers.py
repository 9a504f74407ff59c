#!/usr/bin/env python3
"""Throughput, latency and memory of warp's embedded server beside its peers.

Installs the peers from PyPI into their own venv (granian, gunicorn, waitress, and
mod_wsgi-express when Apache's development files can be installed), builds warp in release
mode, then drives each server with wrk over loopback on two apps: a hello-world WSGI app
and examples/flask. Every server runs one process. Prints requests/s, p50 and p99 latency
and the peak RSS of the worker, then warp's ratio to each peer.

    python3 bench/servers.py [--duration 10] [--connections 64] [--only hello]

Nothing here asserts a speed: the figures are for reading side by side. Every server it
starts is stopped when it ends, also on Ctrl-C or SIGTERM.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import benchlib

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "bench"
PEER_VENV = WORK / "peers"
PEERS = ["granian", "gunicorn", "waitress", "flask"]


def sh(*cmd, **kw):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def ensure_tools():
    missing = [tool for tool in ("wrk",) if not shutil.which(tool)]
    if missing and os.geteuid() == 0:
        sh("apt-get", "update", "-q")
        sh("apt-get", "install", "-y", "-q", *missing)
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is needed (apt-get install wrk)")


def ensure_peers(interpreter):
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        sh(interpreter, "-m", "venv", PEER_VENV)
    sh(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEERS)
    have_mod_wsgi = subprocess.run([python, "-c", "import mod_wsgi"], capture_output=True).returncode == 0
    if not have_mod_wsgi:
        if not shutil.which("apxs") and os.geteuid() == 0:
            subprocess.run(["apt-get", "install", "-y", "-q", "apache2", "apache2-dev"], check=False)
        if shutil.which("apxs"):
            subprocess.run([python, "-m", "pip", "install", "-q", "mod_wsgi"], check=False)
    return python


def build_warp():
    sh("cargo", "build", "--release", "--quiet", cwd=ROOT)
    return ROOT / "target" / "release" / "warp"


def prepare_apps(warp, interpreter):
    """Copies of the apps, built by warp (each with its own venv, on the same interpreter
    as the peers)."""
    apps = {}
    for name, example, spec in [("hello", "hello", "wsgi:application"), ("flask", "flask", "app:app")]:
        target = WORK / "apps" / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(ROOT / "examples" / example, target, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
        env = dict(os.environ, WARP_NO_PROGRESS="1", WARP_PYTHON=str(interpreter))
        env.pop("VIRTUAL_ENV", None)
        sh(warp, "build", target, env=env)
        apps[name] = (target, spec)
    return apps


def default_interpreter():
    system = Path("/usr/bin/python3")
    return str(system) if system.exists() else sys.executable


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def servers(warp, peer_python, app_dir, spec, port):
    bin_dir = peer_python.parent
    module_file = spec.split(":")[0] + ".py"
    found = {
        "warp": [warp, "start", app_dir, spec, "--port", port, "--processes", "1", "--threads", "5", "--access-log", "false",
                 "--allow-root"],
        "granian": [bin_dir / "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", port, "--workers", "1", spec],
        "granian-bt1": [bin_dir / "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", port, "--workers", "1", "--blocking-threads", "1", spec],
        "gunicorn": [bin_dir / "gunicorn", "--workers", "1", "--threads", "5", "--bind", "127.0.0.1:%s" % port, spec],
        "waitress": [bin_dir / "waitress-serve", "--listen=127.0.0.1:%s" % port, "--threads=5", spec],
    }
    if (bin_dir / "mod_wsgi-express").exists():
        found["mod_wsgi"] = [bin_dir / "mod_wsgi-express", "start-server", module_file, "--port", port,
                             "--processes", "1", "--threads", "5", "--callable-object", spec.split(":")[1],
                             "--server-root", WORK / ("mod_wsgi-%s" % port)]
        if os.geteuid() == 0:
            # mod_wsgi-express refuses to run its daemons as root.
            found["mod_wsgi"] += ["--user", "www-data", "--group", "www-data"]
    return {name: [str(c) for c in cmd] for name, cmd in found.items()}


def wait_until_up(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=1).read()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def descendants(pid):
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children + [grandchild for child in children for grandchild in descendants(child)]


def peak_rss_kib(pid):
    """The largest VmHWM among the processes that serve requests (leaves of the tree)."""
    tree = [pid] + descendants(pid)
    leaves = [p for p in tree if not descendants(p)] or tree
    peak = 0
    for p in leaves:
        try:
            for line in Path("/proc/%d/status" % p).read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
    return peak


def parse_wrk(text):
    def duration_ms(value):
        number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = duration_ms(re.search(r"\s50%\s+(\S+)", text).group(1))
    p99 = duration_ms(re.search(r"\s99%\s+(\S+)", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    return {"rps": rps, "p50": p50, "p99": p99,
            "errors": (int(errors.group(1)) if errors else 0), "socket_errors": socket_errors.group(1) if socket_errors else ""}


def measure(name, cmd, cwd, port, args):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("VIRTUAL_ENV", None)
    with tempfile.TemporaryFile() as log:
        # A process group of its own, stopped with its workers (see benchlib.start).
        proc = benchlib.start(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not wait_until_up(port, proc):
                log.seek(0)
                print("  %s did not start:\n%s" % (name, log.read().decode(errors="replace")[-2000:]))
                return None
            url = "http://127.0.0.1:%d/" % port
            subprocess.run(["wrk", "-t1", "-c%d" % args.connections, "-d2s", url], capture_output=True)
            out = subprocess.run(["wrk", "-t1", "-c%d" % args.connections, "-d%ds" % args.duration, "--latency", url],
                                 capture_output=True, text=True, check=True).stdout
            result = parse_wrk(out)
            result["rss"] = peak_rss_kib(proc.pid) / 1024
            return result
        finally:
            benchlib.stop(proc)


def main():
    parser = benchlib.arguments(__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds of measured load per server")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", choices=["hello", "flask"], help="one app only")
    parser.add_argument("--python", default=default_interpreter(),
                        help="the interpreter every server runs on (default: the system's python3, "
                             "whose files mod_wsgi's unprivileged daemons can read)")
    args = parser.parse_args()
    benchlib.main(lambda: run(args))


def run(args):
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_tools()
    peer_python = ensure_peers(args.python)
    warp = build_warp()
    apps = prepare_apps(warp, args.python)
    results = {}
    for app_name, (app_dir, spec) in apps.items():
        if args.only and app_name != args.only:
            continue
        port = free_port()
        for name, cmd in servers(warp, peer_python, app_dir, spec, port).items():
            print("== %s / %s" % (app_name, name), flush=True)
            results[(app_name, name)] = measure(name, cmd, app_dir, port, args)

    print("\n%-6s %-12s %10s %9s %9s %9s %s" % ("app", "server", "req/s", "p50 ms", "p99 ms", "RSS MiB", "errors"))
    for (app_name, name), r in results.items():
        if r is None:
            print("%-6s %-12s %10s" % (app_name, name, "failed"))
            continue
        print("%-6s %-12s %10.0f %9.2f %9.2f %9.1f %s %s" % (app_name, name, r["rps"], r["p50"], r["p99"], r["rss"],
                                                         r["errors"] or "", r["socket_errors"]))
    print("\nwarp / peer (throughput: higher is better; p99 and RSS: lower is better)")
    for app_name in apps:
        ours = results.get((app_name, "warp"))
        if not ours:
            continue
        for (other_app, name), r in results.items():
            if other_app != app_name or name == "warp" or not r:
                continue
            print("%-6s vs %-12s throughput %.2fx   p99 %.2fx   RSS %.2fx" % (
                app_name, name, ours["rps"] / r["rps"], ours["p99"] / r["p99"], ours["rss"] / r["rss"]))


if __name__ == "__main__":
    main()
