#!/usr/bin/env python3
"""Slow clients against warp, granian and gunicorn: do normal requests still get through?

Writes a small WSGI app of its own (target/bench/slowclients/app/wsgi.py: `GET /` answers
"ok", `POST /upload` reads the whole request body, `GET /large` returns 32 MiB as one bytes
object, as a framework's response holds it), builds it with warp and serves it with each
server as bench/servers.py starts it: one process, five threads (granian with its own
defaults), every timeout left at the server's default. Per attack and server, a fresh
server gets slowhttptest with --connections connections and, from 1 s later (the first
second opens them), a separate client that sends one normal `GET /` every second for
--duration seconds, each on a new connection and given up after 15 s. The attack goes on
until the last normal request is answered or given up, so that every one waits under it:

    slowloris   slowhttptest -H: request heads trickled, a header line every 5 s
    slow body   slowhttptest -B: `POST /upload` with Content-Length 8192, the body
                trickled a few bytes every 5 s
    slow read   slowhttptest -X: `GET /large` read 4 bytes every 3 s through a receive
                window of 1-4 bytes

One row per attack and server:

    sent        normal requests sent
    answered    ... that got an HTTP response (any status; the others were given up, or
                closed, reset or refused: "N closed unanswered" after the row)
    <= 1 s      ... answered 200 within 1 s
    worst s     the longest wait for an answer (+: that request got none: given up at
                15 s, reset or refused)
    replaced    workers started during the attack beyond the first, read from the
                server's log (warp "worker N (pid P) ready", granian "Spawning worker",
                gunicorn "Booting worker"), with the reasons the log gives (warp's
                "asks to be replaced (...)", gunicorn's "WORKER TIMEOUT", granian's
                "Unexpected exit")
    slow open   the attack's connections still open when it was stopped (slowhttptest's
                statistics); the server closed the others, or never accepted them
    RSS MiB     the peak memory of the serving process (VmHWM)

Then warp's ratio to each peer per attack (answered within 1 s: higher is better; worst
wait: lower is better), and the goal for warp beside its figures: under every attack each
normal request answered within 1 s, and no worker replaced. warp's request timeout (60 s)
is longer than an attack lasts at the default --duration (at most 46 s), so a replacement
it causes shows only with a --duration of 60 or more. Nothing here asserts a speed: the
exit status is 0 unless something failed to run.

    python3 bench/slowclients.py [--duration 30] [--connections 200]
                                 [--only warp,granian,gunicorn] [--no-build]

Needs slowhttptest (apt-get install slowhttptest). The peers are installed from PyPI into
target/bench/peers, as bench/servers.py does. Every server's log and slowhttptest's output
and statistics are kept in target/bench/slowclients/logs/. Every server and attack it
starts is stopped when it ends, also on Ctrl-C or SIGTERM.
"""

import argparse
import csv
import re
import shutil
import subprocess
import sys
import threading
import time

import benchlib
from benchlib import Failed

WORK = benchlib.BENCH / "slowclients"
APP = WORK / "app"
LOGS = WORK / "logs"
SPEC = "wsgi:application"
SERVERS = ("warp", "granian", "gunicorn")
# How long a normal request may wait in all before it counts as lost.
PROBE_TIMEOUT = 15.0

APP_SOURCE = '''\
"""The app bench/slowclients.py serves: a normal page, an upload and a large response."""

LARGE = b"x" * (32 << 20)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/large":
        body = LARGE
    elif path == "/upload":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = b"%d bytes\\n" % len(environ["wsgi.input"].read(length))
    else:
        body = b"ok\\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''

# name, what slowhttptest is told beyond the connections, the duration and the URL.
ATTACKS = [
    ("slowloris", "/", ["-H", "-i", "5"]),
    ("slow body", "/upload", ["-B", "-i", "5", "-s", "8192"]),
    ("slow read", "/large", ["-X", "-n", "3", "-w", "1", "-y", "4", "-z", "4", "-k", "1"]),
]

# Per server: a worker starting (its pid in the group), and what a replacement's cause looks like.
STARTED = {
    "warp": re.compile(r"worker \d+ \(pid (\d+)\) ready in"),
    "granian": re.compile(r"Spawning worker-\d+ with \w+: (\d+)"),
    "gunicorn": re.compile(r"Booting worker with pid: (\d+)"),
}
CAUSES = {
    "warp": re.compile(r"asks to be replaced \((\w+)\)|\(pid \d+\) (was killed by (?:signal )?\w+|exited with code \d+)"),
    "granian": re.compile(r"(Unexpected exit) from worker"),
    "gunicorn": re.compile(r"(WORKER TIMEOUT)|(was sent SIG\w+)"),
}


def server_names(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError("servers are %s, not %r" % (", ".join(SERVERS), text))
    return [name for name in SERVERS if name in names]


class Probe:
    """The separate client: one normal `GET /` a second, each on a thread of its own, so
    that a slow answer does not delay the next request."""

    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.records = []  # (seconds waited, status, or "given up" or "closed" when none came)
        self.threads = []

    def run(self, seconds):
        began = time.monotonic()
        for tick in range(seconds):
            time.sleep(max(0.0, began + tick - time.monotonic()))
            thread = threading.Thread(target=self.one, daemon=True)
            thread.start()
            self.threads.append(thread)
        for thread in self.threads:
            thread.join()

    def one(self):
        start = time.monotonic()
        try:
            status = benchlib.request(self.port, "/", timeout=PROBE_TIMEOUT)[0]
        except TimeoutError:
            status = "given up"
        except OSError:
            status = "closed"
        with self.lock:
            self.records.append((time.monotonic() - start, status))

    def figures(self):
        worst = max(self.records, key=lambda record: record[0], default=(0.0, 200))
        answered = [status for _, status in self.records if isinstance(status, int)]
        return {
            "sent": len(self.records),
            "answered": len(answered),
            "fast": sum(1 for wait, status in self.records if status == 200 and wait <= 1.0),
            "worst": worst[0],
            "worst_lost": not isinstance(worst[1], int),
            "closed": sum(1 for _, status in self.records if status == "closed"),
            "statuses": sorted({status for status in answered if status != 200}),
        }


def replacements(name, log_text):
    """Workers started beyond the first, and the causes the log gives, counted."""
    pids = []
    for match in STARTED[name].finditer(log_text):
        if match.group(1) not in pids:
            pids.append(match.group(1))
    causes = {}
    for match in CAUSES[name].finditer(log_text):
        cause = next(group for group in match.groups() if group)
        causes[cause] = causes.get(cause, 0) + 1
    return max(0, len(pids) - 1), causes


def slow_open(stats):
    """The attack's connections open when it was stopped, from its CSV statistics."""
    try:
        with open(stats) as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return None
    return int(rows[-1]["Connected"]) if rows else None


def attack(name, peer_python, attack_name, path, flags, args):
    """A fresh server under one attack, with the separate client beside it: its row."""
    tag = "%s-%s" % (attack_name.replace(" ", "-"), name)
    port = benchlib.free_port()
    cmd = benchlib.server_commands(benchlib.WARP, peer_python, APP, SPEC, port)[name]
    log_path, stats = LOGS / (tag + ".log"), LOGS / tag
    # Longer than it will run: it is stopped once the last normal request has its answer.
    length = 1 + args.duration + int(PROBE_TIMEOUT) + 10
    slow = ["slowhttptest", *flags, "-c", args.connections, "-r", args.connections, "-l", length,
            "-u", "http://127.0.0.1:%d%s" % (port, path), "-p", "3", "-g", "-o", stats]
    probe = Probe(port)
    with open(log_path, "wb") as log:
        server = benchlib.start_server(cmd, APP, log)
        try:
            if not benchlib.wait_until_up(port, server):
                raise Failed("%s did not start; see %s" % (name, log_path.relative_to(benchlib.ROOT)))
            with open(LOGS / (tag + ".slowhttptest.log"), "wb") as out:
                attacker = benchlib.start(slow, stdout=out, stderr=subprocess.STDOUT)
                try:
                    # The first second opens the slow connections.
                    time.sleep(1)
                    probe.run(args.duration)
                finally:
                    # On SIGTERM it still writes its statistics.
                    benchlib.stop(attacker)
            rss = benchlib.peak_rss_kib(server.pid) / 1024
        finally:
            benchlib.stop(server)
    row = probe.figures()
    row["replaced"], row["causes"] = replacements(name, log_path.read_text(errors="replace"))
    row["slow_open"] = slow_open(LOGS / (tag + ".csv"))
    row["rss"] = rss
    return row


def replaced_text(row):
    if not row["replaced"]:
        return "no"
    causes = ", ".join("%s x%d" % (cause, n) if n > 1 else cause for cause, n in row["causes"].items())
    return "yes (%d%s)" % (row["replaced"], ": " + causes if causes else "")


def ratio(ours, theirs):
    """ours/theirs, as "20 vs 0" when theirs is 0, with one significant digit below 0.01."""
    if theirs == 0:
        return "%g vs 0" % ours
    value = ours / theirs
    return "%.2fx" % value if value >= 0.01 or value == 0 else "%.1gx" % value


def report(results, args):
    print("\n%d slow connections per attack, %d normal requests (one a second) beside each\n" % (
        args.connections, args.duration))
    line = "%-10s %-9s %5s %8s %6s %8s %9s %7s  %s"
    print(line % ("attack", "server", "sent", "answered", "<= 1 s", "worst s", "slow open", "RSS MiB", "replaced"))
    for (attack_name, name), row in results.items():
        worst = "%.2f%s" % (row["worst"], "+" if row["worst_lost"] else "")
        other = "; statuses " + ", ".join(str(status) for status in row["statuses"]) if row["statuses"] else ""
        if row["closed"]:
            other += "; %d closed unanswered" % row["closed"]
        open_text = "-" if row["slow_open"] is None else "%d/%d" % (row["slow_open"], args.connections)
        print(line % (attack_name, name, row["sent"], row["answered"], row["fast"], worst, open_text,
                      "%.0f" % row["rss"], replaced_text(row) + other))

    peers = [name for name in args.only if name != "warp"]
    if "warp" in args.only and peers:
        print("\nwarp / peer (answered within 1 s: higher is better; worst wait, 0.01 s at least: lower is better)")
        for attack_name, _, _ in ATTACKS:
            ours = results.get((attack_name, "warp"))
            for name in peers:
                theirs = results.get((attack_name, name))
                if ours and theirs:
                    worst = ratio(max(ours["worst"], 0.01), max(theirs["worst"], 0.01))
                    print("%-10s vs %-9s within 1 s %8s   worst %8s" % (
                        attack_name, name, ratio(ours["fast"], theirs["fast"]), worst))

    if "warp" in args.only:
        print("\ngoal: under every attack, each normal request answered within 1 s and no worker replaced")
        for attack_name, _, _ in ATTACKS:
            row = results.get((attack_name, "warp"))
            if row:
                ok = row["fast"] == row["sent"] and not row["replaced"]
                print("  %-7s %-10s %d of %d within 1 s; worker replaced: %s" % (
                    benchlib.met(ok), attack_name, row["fast"], row["sent"], replaced_text(row)))
    print("\nlogs: %s" % LOGS.relative_to(benchlib.ROOT))


def prepare(args):
    """The app written and, when warp is among the servers, built; the peers' python."""
    if APP.exists():
        shutil.rmtree(APP)
    APP.mkdir(parents=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    (APP / "wsgi.py").write_text(APP_SOURCE)
    interpreter = benchlib.default_interpreter()
    if "warp" in args.only:
        benchlib.release_warp(not args.no_build)
        benchlib.warp_build(benchlib.WARP, APP, interpreter)
    if args.only == ["warp"]:
        return benchlib.PEER_VENV / "bin" / "python"  # for the command lines; not run
    return benchlib.ensure_peers(interpreter, mod_wsgi=False)


def bench(args):
    try:
        peer_python = prepare(args)
        results = {}
        for attack_name, path, flags in ATTACKS:
            for name in args.only:
                print("== %s / %s" % (attack_name, name), flush=True)
                results[(attack_name, name)] = attack(name, peer_python, attack_name, path, flags, args)
    except Failed as e:
        raise SystemExit("bench: %s" % e)
    report(results, args)


def main():
    parser = benchlib.arguments(__doc__)
    parser.add_argument("--duration", type=benchlib.positive_int, default=30,
                        help="seconds of normal requests under each attack (default 30)")
    parser.add_argument("--connections", type=benchlib.positive_int, default=200,
                        help="slow connections per attack (default 200)")
    parser.add_argument("--only", type=server_names, default=list(SERVERS),
                        help="servers to attack, comma-separated (default warp,granian,gunicorn)")
    parser.add_argument("--no-build", action="store_true", help="use target/release/warp as it is")
    args = parser.parse_args()
    if not shutil.which("slowhttptest"):
        sys.exit("bench: slowhttptest is needed (apt-get install slowhttptest)")
    benchlib.main(lambda: bench(args))


if __name__ == "__main__":
    main()
