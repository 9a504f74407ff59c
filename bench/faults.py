#!/usr/bin/env python3
"""Reliability report: each failure the embedded server heals from, driven on loopback.

Builds warp in release mode and the misbehaving app of the tests
(tests/fixtures/robust/wsgi.py), then, per fault, starts a fresh `warp start` with settings
that make the fault quick, runs steady clients beside it (`/sleep?0.01`, one request per
connection), injects the fault, and prints one row:

  sent, answered     requests the clients sent (the steady ones; for SIGTERM, startup failure
                     and queue overload, the fault's own), and how many got any HTTP response,
  2xx, 503           split by status;
  lost               no response: reset, refused, or nothing within 15 s;
  faulting           what the request that caused the fault got (`lost 4.0s`: cut off after
                     4.0 s), kept out of the other columns;
  recover s          time to recover (below);
  gap s              the longest stretch in which no steady client got a response;
  master             `ok` when the master ran throughout and exited 0 on a final SIGTERM.

Time to recover, per fault, from the injection:
  worker crash       sending `/crash` -> first 200 from a worker other than the crashed one;
  stuck request      sending `/hang` -> first 200 from a worker other than the stuck one;
  graceful reload    each SIGHUP -> first 200 from a worker that reload started (the worst of 3);
  recycling          none (no single injection; see gap and the replacements in the notes);
  memory limit       sending `/grow?200` -> first 200 from a worker other than the grown one;
  SIGTERM            none (the notes give how long the master took to exit);
  startup failure    removing `fail-import` -> first 200;
  slowloris          opening the 200 slow connections -> first 200 to a normal client;
  queue overload     the last answer to the burst -> a 200 to the next request.

Goals, each printed with its figures in the verdict; the exit status is 1 when one is missed:
  - no accepted request lost in graceful reload, recycling and SIGTERM, nor by the clients
    beside a stuck request, a memory limit, a startup failure, slowloris and a queue
    overload (answered 200 or 503); beside a crash, none sent after the worker died (those
    the dying worker was running die with it and are counted apart);
  - beside a stuck request and slowloris, the steady clients keep being answered (gap <= 1 s);
  - a crashed worker replaced within 2 s, a stuck one within the request timeout + 2 s, a
    worker over the memory limit replaced at all;
  - no fault kills the master;
  - and what shows the fault happened: each reload and several recyclings served by new
    workers, every slow connection cut off within the socket timeout + 1 s, 503s during the
    overload and a 200 within 0.5 s after it.

    python3 bench/faults.py

The master's log of each fault is kept in target/bench/faults-logs/. Every server it starts
is stopped when it ends, also on Ctrl-C or SIGTERM.
"""

import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import benchlib
from benchlib import ROOT, default_interpreter, free_port, request
from servers import WORK, build_warp

FIXTURE = ROOT / "tests" / "fixtures" / "robust" / "wsgi.py"
LOGS = WORK / "faults-logs"
CLIENT_TIMEOUT = 15.0


def pid_of(body):
    for word in body.split():
        if word.startswith("pid="):
            return word[4:]
    return None


class Tally:
    """Every request the clients sent: (start, end, status or None when lost, worker pid)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []

    def call(self, port, path, timeout=CLIENT_TIMEOUT):
        start = time.monotonic()
        try:
            status, body = request(port, path, timeout)
            record = (start, time.monotonic(), status, pid_of(body))
        except OSError:
            record = (start, time.monotonic(), None, None)
        with self.lock:
            self.records.append(record)
        return record

    def count(self, keep=lambda status: True):
        return sum(1 for _, _, status, _ in self.records if keep(status))

    @property
    def sent(self):
        return len(self.records)

    @property
    def answered(self):
        return self.count(lambda s: s is not None)

    @property
    def ok(self):
        return self.count(lambda s: s is not None and 200 <= s < 300)

    @property
    def unavailable(self):
        return self.count(lambda s: s == 503)

    @property
    def lost(self):
        return self.count(lambda s: s is None)

    def pids(self):
        return {pid for _, _, status, pid in self.records if status == 200}

    def first_ok_after(self, moment, unlike=()):
        times = [end for _, end, status, pid in self.records if status == 200 and end >= moment and pid not in unlike]
        return min(times) - moment if times else None

    def longest_gap(self, since, until):
        """The longest time within [since, until] in which no request got a response."""
        ends = sorted(end for _, end, status, _ in self.records if status is not None and since <= end <= until)
        marks = [since] + ends + [until]
        return max(b - a for a, b in zip(marks, marks[1:]))


def faulting(record, since):
    """How the request that caused the fault ended, and after how long."""
    start, end, status, _ = record
    return "%s %.1fs" % ("lost" if status is None else status, end - since)


class Load:
    """Clients sending `path` one after another until stopped."""

    def __init__(self, port, tally, clients=3, path="/sleep?0.01"):
        self.started = time.monotonic()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(port, tally, path)) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def run(self, port, tally, path):
        while not self.stopping.is_set():
            tally.call(port, path)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        self.stopped = time.monotonic()


class Warp:
    """`warp start` on a free port, its output in LOGS/<fault>.log; stopped on leaving."""

    def __init__(self, warp, app, name, *flags, serving=True):
        self.port = free_port()
        self.log_path = LOGS / (name.split()[0].lower() + ".log")
        self.log = open(self.log_path, "w")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WARP_") and k != "VIRTUAL_ENV"}
        env["WARP_ALLOW_ROOT"] = "1"
        cmd = [str(warp), "start", str(app), "--port", str(self.port), *flags]
        self.log.write("$ %s\n" % " ".join(cmd))
        self.log.flush()
        self.proc = benchlib.start(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.exit = None
        if not self.wait_until_up(serving):
            self.kill()
            raise RuntimeError("warp did not start; see %s" % self.log_path)

    def wait_until_up(self, serving):
        """Until the port accepts connections, and, when `serving`, a request gets a 200."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if serving:
                    if request(self.port, "/pid", timeout=5)[0] == 200:
                        return True
                else:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def terminate(self):
        """SIGTERM the master: (running until now, its exit code, seconds it took to exit)."""
        alive = self.proc.poll() is None
        sent = time.monotonic()
        if alive:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        return alive, self.exit, time.monotonic() - sent

    def survived(self):
        """Whether the master ran until now and exits 0 on SIGTERM."""
        alive, code, _ = self.terminate()
        return alive and code == 0

    def kill(self):
        """Kill the master's whole group: its workers too, even when it has exited."""
        benchlib.stop(self.proc, signal.SIGKILL)
        self.log.close()


class Result:
    def __init__(self, name, tally, master_ok, recover=None, gap=None, fault="-", notes=(), checks=()):
        self.name, self.tally, self.master_ok = name, tally, master_ok
        self.recover, self.gap, self.fault = recover, gap, fault
        self.notes = [n for n in notes if n]
        self.checks = list(checks)


def none_lost(tally, who="requests"):
    return tally.lost == 0, "%s lost: %d of %d" % (who, tally.lost, tally.sent)


def within(recover, limit, what):
    shown = "never" if recover is None else "%.2f s" % recover
    return recover is not None and recover <= limit, "%s: %s (goal <= %.1f s)" % (what, shown, limit)


def seconds(value):
    return "-" if value is None else "%.2f" % value


def settled_load(server):
    """Steady clients, given a second to settle: returns their tally, the load, the
    workers that served so far, and the moment the fault is injected (now)."""
    tally = Tally()
    load = Load(server.port, tally)
    time.sleep(1)
    return tally, load, tally.pids(), time.monotonic()


def crash(warp, app, name):
    with Warp(warp, app, name, "--threads", "4") as server:
        tally, load, before, fault = settled_load(server)
        record = Tally().call(server.port, "/crash", timeout=10)
        died = record[1]
        time.sleep(2.5)
        load.stop()
        master_ok = server.survived()
    recover = tally.first_ok_after(fault, unlike=before)
    lost = [start for start, _, status, _ in tally.records if status is None]
    with_it = sum(1 for start in lost if start < died)
    after = len(lost) - with_it
    return Result(name, tally, master_ok, recover, tally.longest_gap(fault, load.stopped), faulting(record, fault),
                  ["lost: %d in flight on the dying worker, %d sent after" % (with_it, after)],
                  [(after == 0, "requests sent after the crash lost: %d" % after),
                   within(recover, 2.0, "crashed worker replaced in")])


def stuck(warp, app, name):
    flags = ["--threads", "4", "--request-timeout", "2", "--graceful-timeout", "2"]
    with Warp(warp, app, name, *flags) as server:
        tally, load, before, fault = settled_load(server)
        hung = []
        hanging = threading.Thread(target=lambda: hung.append(Tally().call(server.port, "/hang", 10)))
        hanging.start()
        time.sleep(6)
        load.stop()
        hanging.join()
        master_ok = server.survived()
    recover = tally.first_ok_after(fault, unlike=before)
    return Result(name, tally, master_ok, recover, tally.longest_gap(fault, load.stopped), faulting(hung[0], fault), [],
                  [none_lost(tally, "requests beside the stuck one"),
                   within(tally.longest_gap(fault, load.stopped), 1.0, "longest wait for an answer beside it"),
                   within(recover, 2 + 2.0, "stuck worker replaced in")])


def reload(warp, app, name):
    with Warp(warp, app, name, "--processes", "2", "--threads", "2") as server:
        tally = Tally()
        load = Load(server.port, tally, clients=4)
        time.sleep(1)
        start, recovers = time.monotonic(), []
        for _ in range(3):
            before, fault = tally.pids(), time.monotonic()
            server.signal(signal.SIGHUP)
            time.sleep(2)
            recovers.append(tally.first_ok_after(fault, unlike=before))
        load.stop()
        master_ok = server.survived()
    served = all(r is not None for r in recovers)
    recover = max(recovers) if served else None
    return Result(name, tally, master_ok, recover, tally.longest_gap(start, load.stopped), "-",
                  ["%d workers served" % len(tally.pids())],
                  [none_lost(tally), (served, "reloads answered by new workers: %d of 3" % sum(r is not None for r in recovers))])


def recycling(warp, app, name):
    with Warp(warp, app, name, "--maximum-requests", "50", "--threads", "2") as server:
        tally = Tally()
        load = Load(server.port, tally, clients=4, path="/sleep?0.005")
        time.sleep(5)
        load.stop()
        master_ok = server.survived()
    replacements = len(tally.pids()) - 1
    return Result(name, tally, master_ok, None, tally.longest_gap(load.started, load.stopped), "-",
                  ["%d replacements" % replacements],
                  [none_lost(tally), (replacements >= 3, "workers replaced: %d (goal >= 3)" % replacements)])


def memory(warp, app, name):
    with Warp(warp, app, name, "--memory-limit", "150M") as server:
        tally, load, before, fault = settled_load(server)
        record = Tally().call(server.port, "/grow?200")
        time.sleep(3)
        load.stop()
        master_ok = server.survived()
    recover = tally.first_ok_after(fault, unlike=before)
    return Result(name, tally, master_ok, recover, tally.longest_gap(fault, load.stopped), faulting(record, fault), [],
                  [none_lost(tally), (recover is not None, "worker over the limit replaced: %s" % ("yes" if recover else "no"))])


def sigterm(warp, app, name):
    with Warp(warp, app, name) as server:
        tally = Tally()
        clients = [threading.Thread(target=tally.call, args=(server.port, "/sleep?1")) for _ in range(10)]
        for client in clients:
            client.start()
        time.sleep(0.3)
        term = time.monotonic()
        alive, code, took = server.terminate()
        for client in clients:
            client.join()
    master_ok = alive and code == 0
    ends = [end - term for _, end, status, _ in tally.records if status is not None]
    answered = "answered %.1f-%.1f s after it" % (min(ends), max(ends)) if ends else "none answered"
    return Result(name, tally, master_ok, None, None, "-",
                  ["10 in flight on 5 threads, %s; master exited %s in %.1f s" % (answered, code, took)],
                  [none_lost(tally, "requests in flight")])


def startup_failure(warp, app, name):
    marker = app / "fail-import"
    marker.write_text("")
    try:
        with Warp(warp, app, name, serving=False) as server:
            tally, clients = Tally(), []
            started = time.monotonic()
            while time.monotonic() - started < 2:
                client = threading.Thread(target=tally.call, args=(server.port, "/pid", 30))
                client.start()
                clients.append(client)
                time.sleep(0.25)
            marker.unlink()
            fixed = time.monotonic()
            for client in clients:
                client.join()
            master_ok = server.survived()
    finally:
        marker.unlink(missing_ok=True)
    return Result(name, tally, master_ok, tally.first_ok_after(fixed), None, "-",
                  ["%d sent while the import failed" % len(clients)],
                  [none_lost(tally, "requests queued while the app could not load")])


def slowloris(warp, app, name, count=200, socket_timeout=2):
    with Warp(warp, app, name, "--socket-timeout", str(socket_timeout), "--threads", "4") as server:
        selector, began = selectors.DefaultSelector(), {}
        for _ in range(count):
            conn = socket.create_connection(("127.0.0.1", server.port))
            conn.sendall(b"GET / HTTP/1.1\r\nHost: slow\r\n")
            began[conn] = time.monotonic()
            conn.setblocking(False)
            selector.register(conn, selectors.EVENT_READ)
        fault = time.monotonic()
        tally = Tally()
        load = Load(server.port, tally)
        cut = {}
        next_trickle = fault
        while len(cut) < count and time.monotonic() - fault < 3 * socket_timeout:
            now = time.monotonic()
            if now >= next_trickle:
                for conn in began:
                    if conn in cut:
                        continue
                    try:
                        conn.send(b"X-Slow: 1\r\n")
                    except OSError:
                        cut[conn] = now - began[conn]
                        selector.unregister(conn)
                next_trickle = now + 0.25
            for key, _ in selector.select(timeout=max(0.0, next_trickle - time.monotonic())):
                # A response (408) or the end of the connection: the server cut it off.
                cut[key.fileobj] = time.monotonic() - began[key.fileobj]
                selector.unregister(key.fileobj)
        load.stop()
        for conn in began:
            conn.close()
        selector.close()
        master_ok = server.survived()
    slowest = max(cut.values()) if cut else None
    limit = socket_timeout + 1.0
    in_time = sum(1 for t in cut.values() if t <= limit)
    note = "%d of %d slow cut off after %s-%s s" % (len(cut), count, seconds(min(cut.values()) if cut else None), seconds(slowest))
    return Result(name, tally, master_ok, tally.first_ok_after(fault), tally.longest_gap(fault, load.stopped), "-", [note],
                  [none_lost(tally, "normal requests"),
                   within(tally.longest_gap(fault, load.stopped), 1.0, "longest wait for an answer to a normal client"),
                   (in_time == count, "slow connections cut off within %.0f s: %d of %d (slowest %s s)" % (limit, in_time, count, seconds(slowest)))])


def overload(warp, app, name):
    with Warp(warp, app, name, "--threads", "2", "--queue-timeout", "1") as server:
        tally = Tally()
        burst = [threading.Thread(target=tally.call, args=(server.port, "/sleep?0.5")) for _ in range(20)]
        for client in burst:
            client.start()
        for client in burst:
            client.join()
        over = max(end for _, end, _, _ in tally.records)
        probe = Tally()
        probe.call(server.port, "/pid")
        master_ok = server.survived()
    recover = probe.first_ok_after(over)
    return Result(name, tally, master_ok, recover, None, "-", ["20 clients on 2 threads"],
                  [none_lost(tally, "burst requests (200 or 503 expected)"),
                   (tally.unavailable > 0, "queue timeout answered 503: %d" % tally.unavailable),
                   within(recover, 0.5, "served again after the burst in")])


FAULTS = [
    ("worker crash", crash),
    ("stuck request", stuck),
    ("graceful reload x3", reload),
    ("recycling (max requests)", recycling),
    ("memory limit", memory),
    ("SIGTERM in flight", sigterm),
    ("startup failure", startup_failure),
    ("slowloris x200", slowloris),
    ("queue overload", overload),
]


def prepare(warp):
    app = WORK / "faults-app"
    if app.exists():
        shutil.rmtree(app)
    app.mkdir(parents=True)
    shutil.copy(FIXTURE, app / "wsgi.py")
    benchlib.warp_build(warp, app, default_interpreter(), stdout=subprocess.DEVNULL)
    LOGS.mkdir(parents=True, exist_ok=True)
    return app


def run(warp, app, name, fault):
    try:
        return fault(warp, app, name)
    except Exception as e:  # a broken run is a row and a missed goal, not a traceback
        return Result(name, Tally(), None, notes=["error: %s" % e], checks=[(False, "the fault ran: %s" % e)])


def main():
    benchlib.arguments(__doc__).parse_args()
    benchlib.main(report)


def report():
    warp = build_warp()
    app = prepare(warp)
    header = "%-24s %5s %8s %5s %5s %5s %10s %9s %6s %6s  %s" % (
        "fault", "sent", "answered", "2xx", "503", "lost", "faulting", "recover s", "gap s", "master", "notes")
    print("\n" + header, flush=True)
    results = []
    for name, fault in FAULTS:
        r = run(warp, app, name, fault)
        results.append(r)
        t = r.tally
        print("%-24s %5d %8d %5d %5d %5d %10s %9s %6s %6s  %s" % (
            name, t.sent, t.answered, t.ok, t.unavailable, t.lost, r.fault, seconds(r.recover), seconds(r.gap),
            {True: "ok", False: "DIED", None: "?"}[r.master_ok], "; ".join(r.notes)), flush=True)

    print("\nverdict")
    missed = 0
    for r in results:
        for ok, text in r.checks:
            missed += not ok
            print("  %-6s %-24s %s" % ("met" if ok else "MISSED", r.name, text))
    died = [r.name for r in results if r.master_ok is False]
    ran = sum(r.master_ok is not None for r in results)
    missed += bool(died)
    print("  %-6s %-24s master survived (ran throughout, exit 0 on SIGTERM): %d of %d%s" % (
        "MISSED" if died else "met", "every fault", ran - len(died), ran, "; not after " + ", ".join(died) if died else ""))
    print("\nmaster logs: %s" % LOGS.relative_to(ROOT))
    if missed:
        print("%d goal(s) missed" % missed)
        sys.exit(1)
    print("every goal met")


if __name__ == "__main__":
    main()
