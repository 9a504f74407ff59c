#!/usr/bin/env python3
"""Throughput, latency and memory of warp's embedded server beside its peers.

Installs the peers from PyPI into their own venv (granian, gunicorn, waitress, and
mod_wsgi-express when Apache's development files can be installed), builds warp in release
mode, then drives each server with wrk over loopback on two apps: a hello-world WSGI app
and examples/flask. Every server runs one process. Prints requests/s, p50 and p99 latency,
the server's CPU time per request (all its processes and threads) and the peak RSS of the
worker, also less the app's own (what importing it alone takes), then warp's ratio to each
peer. The servers take turns, round after round (`--rounds`), and each figure is the median
of a server's rounds: on a machine whose speed drifts by 10% and more from one minute to the
next, a server measured once at a slow moment would otherwise lose to one measured at a fast
one. When the server's CPU is not saturated (wrk has a
core to itself and drives the server only as fast as it can), requests/s is wrk's limit as
much as the server's, and CPU per request is the figure that tells the servers apart.

    python3 bench/servers.py [--duration 10] [--rounds 3] [--connections 64] [--only hello]
                             [--wrk-threads 1] [--servers warp,granian-bt1]

`--servers warp,warp-monitored` measures what watching costs: warp-monitored is warp with
`--metrics-port`, its /metrics scraped and its status page's /status.json fetched once a
second throughout the load, as Prometheus and an open page would.

Nothing here asserts a speed: the figures are for reading side by side. Every server it
starts is stopped when it ends, also on Ctrl-C or SIGTERM.
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.request

import benchlib
from benchlib import ROOT, default_interpreter, free_port, sh, wait_until_up

WORK = benchlib.BENCH


def ensure_tools():
    missing = [tool for tool in ("wrk",) if not shutil.which(tool)]
    if missing and os.geteuid() == 0:
        sh("apt-get", "update", "-q")
        sh("apt-get", "install", "-y", "-q", *missing)
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is needed (apt-get install wrk)")


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
        benchlib.warp_build(warp, target, interpreter)
        apps[name] = (target, spec)
    return apps


def app_own_rss_mib(app_dir, spec):
    """The peak RSS of the app's interpreter once it imported the app, serving nothing: what
    every server's worker holds before its own memory."""
    module, attribute = spec.split(":")
    # VmHWM, not ru_maxrss, which a child starts with its parent's from the fork.
    code = ("import importlib, sys; sys.path.insert(0, '.'); getattr(importlib.import_module(%r), %r); "
            "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])" % (module, attribute))
    out = subprocess.run([str(app_dir / ".venv" / "bin" / "python"), "-c", code], cwd=app_dir, capture_output=True,
                         text=True, check=True).stdout
    return int(out) / 1024


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


class Watcher(threading.Thread):
    """Fetches the metrics and the status page's data once a second until stopped, as a
    Prometheus scraping every second and an open status page would."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stopped, self.fetched = port, threading.Event(), 0

    def run(self):
        while not self.stopped.wait(1.0):
            for path in ("/metrics", "/status.json"):
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=5) as response:
                    response.read()
                self.fetched += 1


def measure(name, cmd, cwd, port, args, metrics_port=None):
    with tempfile.TemporaryFile() as log:
        # A process group of its own, stopped with its workers (see benchlib.start).
        proc = benchlib.start_server(cmd, cwd, log)
        try:
            if not wait_until_up(port, proc):
                log.seek(0)
                print("  %s did not start:\n%s" % (name, log.read().decode(errors="replace")[-2000:]))
                return None
            url = "http://127.0.0.1:%d/" % port
            threads = "-t%d" % args.wrk_threads
            subprocess.run(["wrk", threads, "-c%d" % args.connections, "-d2s", url], capture_output=True)
            watcher = Watcher(metrics_port) if metrics_port else None
            if watcher:
                watcher.start()
            before = benchlib.cpu_seconds(proc.pid)
            out = subprocess.run(["wrk", threads, "-c%d" % args.connections, "-d%ds" % args.duration, "--latency", url],
                                 capture_output=True, text=True, check=True).stdout
            cpu = benchlib.cpu_seconds(proc.pid) - before
            if watcher:
                watcher.stopped.set()
                watcher.join()
                if watcher.fetched < args.duration:
                    sys.exit("bench: the metrics were fetched %d times in %d s" % (watcher.fetched, args.duration))
            result = parse_wrk(out)
            result["cpu_us"] = cpu / (result["rps"] * args.duration) * 1e6
            result["rss"] = benchlib.peak_rss_kib(proc.pid) / 1024
            return result
        finally:
            benchlib.stop(proc)


def median_of(rounds):
    """Each figure's median over a server's rounds (None when none ran); errors are summed."""
    if not rounds:
        return None
    median = {key: statistics.median(r[key] for r in rounds)
              for key in ("rps", "p50", "p99", "cpu_us", "rss", "rss_server")}
    median["errors"] = sum(r["errors"] for r in rounds)
    median["socket_errors"] = "; ".join(r["socket_errors"] for r in rounds if r["socket_errors"])
    return median


def main():
    parser = benchlib.arguments(__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds of measured load per server and round")
    parser.add_argument("--rounds", type=benchlib.positive_int, default=3,
                        help="turns each server takes; every figure is the median of its rounds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", choices=["hello", "flask"], help="one app only")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk's threads (-t), 1 or 2 on a 2-core machine")
    parser.add_argument("--servers", help="comma-separated servers to run (default: all found), such as warp,granian-bt1")
    parser.add_argument("--python", default=default_interpreter(),
                        help="the interpreter every server runs on (default: the system's python3, "
                             "whose files mod_wsgi's unprivileged daemons can read)")
    args = parser.parse_args()
    benchlib.main(lambda: run(args))


def run(args):
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_tools()
    peer_python = benchlib.ensure_peers(args.python)
    warp = build_warp()
    apps = prepare_apps(warp, args.python)
    results = {}
    own = {}
    for app_name, (app_dir, spec) in apps.items():
        if args.only and app_name != args.only:
            continue
        own[app_name] = app_own_rss_mib(app_dir, spec)
        port, metrics_port = free_port(), free_port()
        commands = benchlib.server_commands(warp, peer_python, app_dir, spec, port)
        commands["warp-monitored"] = commands["warp"] + ["--metrics-port", str(metrics_port)]
        chosen = args.servers.split(",") if args.servers else [name for name in commands if name != "warp-monitored"]
        commands = {name: cmd for name, cmd in commands.items() if name in chosen}
        rounds = {name: [] for name in commands}
        for round_number in range(1, args.rounds + 1):
            for name, cmd in commands.items():
                print("== %s / %s (round %d of %d)" % (app_name, name, round_number, args.rounds), flush=True)
                result = measure(name, cmd, app_dir, port, args, metrics_port if name == "warp-monitored" else None)
                if result:
                    result["rss_server"] = result["rss"] - own[app_name]
                    rounds[name].append(result)
        for name, measured in rounds.items():
            results[(app_name, name)] = median_of(measured)

    print("\nThe apps' own RSS (imported, serving nothing): %s" % ", ".join("%s %.1f MiB" % item for item in own.items()))
    print("\n%-6s %-12s %10s %9s %9s %9s %9s %12s %s" % ("app", "server", "req/s", "p50 ms", "p99 ms", "CPU us/req", "RSS MiB",
                                                       "over app MiB", "errors"))
    for (app_name, name), r in results.items():
        if r is None:
            print("%-6s %-12s %10s" % (app_name, name, "failed"))
            continue
        print("%-6s %-12s %10.0f %9.2f %9.2f %10.1f %9.1f %12.1f %s %s" % (
            app_name, name, r["rps"], r["p50"], r["p99"], r["cpu_us"], r["rss"], r["rss_server"], r["errors"] or "",
            r["socket_errors"]))
    print("\nwarp / peer (throughput: higher is better; p99, CPU per request and RSS: lower is better)")
    for app_name in apps:
        ours = results.get((app_name, "warp"))
        if not ours:
            continue
        for (other_app, name), r in results.items():
            if other_app != app_name or name == "warp" or not r:
                continue
            print("%-6s vs %-12s throughput %.2fx   p99 %.2fx   CPU/request %.2fx   RSS %.2fx (over the app's own %.2fx)" % (
                app_name, name, ours["rps"] / r["rps"], ours["p99"] / r["p99"], ours["cpu_us"] / r["cpu_us"],
                ours["rss"] / r["rss"], ours["rss_server"] / r["rss_server"]))


if __name__ == "__main__":
    main()
