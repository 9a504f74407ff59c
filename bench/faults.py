#!/usr/bin/env python3
"""Reliability report: each failure the embedded server heals from, driven on loopback.

Builds warp in release mode and the misbehaving app of the tests
(tests/fixtures/robust/wsgi.py), then, per fault, starts `warp start` with settings that
make the fault quick, runs steady clients beside it, injects the fault and prints:
requests sent, answered (2xx, 503), lost (no response: reset, refused or timed out), the
time to recover, and whether the master survived (still running, then exit 0 on SIGTERM).

Time to recover, per fault: from the injection until a request is answered 200 by a
worker other than the one that failed (crash, stuck request, memory limit), by a worker
started after the last reload (reload), or at all (startup failure: from the moment the
import can succeed; queue overload: once the burst is over).

Goals: zero lost in graceful reload, recycling and SIGTERM; stuck and crashed workers
replaced within their timeout + 2 s; no fault kills the master. The exit status is 1 when
a goal is missed.

    python3 bench/faults.py
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from servers import ROOT, WORK, build_warp, default_interpreter, free_port

FIXTURE = ROOT / "tests" / "fixtures" / "robust" / "wsgi.py"


def request(port, path, timeout=15.0):
    """One GET on a fresh connection: (status, body); raises OSError when lost."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(b"GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1.1 "):
        raise ConnectionError("no response")
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def pid_of(body):
    for word in body.split():
        if word.startswith("pid="):
            return word[4:]
    return None


class Tally:
    """What the clients saw, with each 200's time and worker pid."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = self.ok = self.unavailable = self.other = self.lost = 0
        self.answers = []

    def record(self, outcome):
        with self.lock:
            self.sent += 1
            if outcome is None:
                self.lost += 1
                return
            status, body = outcome
            if status == 200:
                self.ok += 1
                self.answers.append((time.monotonic(), pid_of(body)))
            elif status == 503:
                self.unavailable += 1
            else:
                self.other += 1

    def call(self, port, path, timeout=15.0):
        try:
            outcome = request(port, path, timeout)
        except OSError:
            outcome = None
        self.record(outcome)
        return outcome

    def first_ok_after(self, moment, unlike=()):
        times = [t for t, pid in self.answers if t >= moment and pid not in unlike]
        return min(times) - moment if times else None


class Load:
    """Clients sending `path` one after another until stopped."""

    def __init__(self, port, tally, clients=4, path="/sleep?0.01"):
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


class Warp:
    def __init__(self, warp, app, *flags):
        self.port = free_port()
        self.log = open(app / ("warp-%d.log" % self.port), "w+")
        env = dict(os.environ, WARP_ALLOW_ROOT="1")
        env.pop("VIRTUAL_ENV", None)
        cmd = [str(warp), "start", str(app), "--port", str(self.port), *flags]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=self.log, process_group=0)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("faults: warp did not start")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def finish(self):
        """Whether the master was alive until now and exits 0 on SIGTERM."""
        alive = self.proc.poll() is None
        if alive:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait()
        self.log.close()
        return alive and code == 0


def prepare(warp):
    app = WORK / "faults-app"
    if app.exists():
        shutil.rmtree(app)
    app.mkdir(parents=True)
    shutil.copy(FIXTURE, app / "wsgi.py")
    env = dict(os.environ, WARP_NO_PROGRESS="1", WARP_PYTHON=default_interpreter())
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([str(warp), "build", str(app)], env=env, check=True, stdout=subprocess.DEVNULL)
    return app


def under_load(server, tally):
    """Start steady clients, let them settle; returns the load, the serving worker's pid
    and the moment the fault is injected (now)."""
    load = Load(server.port, tally, clients=3)
    time.sleep(1)
    old = pid_of(request(server.port, "/pid")[1])
    return load, old, time.monotonic()


def crash(warp, app):
    server, tally = Warp(warp, app, "--threads", "4"), Tally()
    load, old, fault = under_load(server, tally)
    Tally().call(server.port, "/crash")
    time.sleep(2)
    load.stop()
    recover = tally.first_ok_after(fault, unlike=(old,))
    # Requests running on the worker as it died die with it: they are counted, not a goal.
    return tally, recover, server.finish(), {"recover_within": 2.0, "note": "lost: in flight on the crashed worker"}


def stuck(warp, app):
    server, tally = Warp(warp, app, "--threads", "4", "--request-timeout", "2", "--graceful-timeout", "2"), Tally()
    load, old, fault = under_load(server, tally)
    hanging = threading.Thread(target=Tally().call, args=(server.port, "/hang", 10))
    hanging.start()
    time.sleep(6)
    load.stop()
    hanging.join()
    return tally, tally.first_ok_after(fault, unlike=(old,)), server.finish(), {"recover_within": 4.0}


def reload(warp, app):
    server, tally = Warp(warp, app, "--processes", "2", "--threads", "2"), Tally()
    load = Load(server.port, tally)
    time.sleep(1)
    seen = {pid for _, pid in tally.answers}
    for _ in range(3):
        fault = time.monotonic()
        server.signal(signal.SIGHUP)
        time.sleep(1.5)
    load.stop()
    return tally, tally.first_ok_after(fault, unlike=seen), server.finish(), {"lossless": True}


def recycling(warp, app):
    server, tally = Warp(warp, app, "--maximum-requests", "50", "--threads", "2"), Tally()
    fault = time.monotonic()
    load = Load(server.port, tally, path="/sleep?0.005")
    time.sleep(5)
    load.stop()
    workers = len({pid for _, pid in tally.answers})
    return tally, None, server.finish(), {"lossless": True, "note": "%d workers served" % workers}


def memory(warp, app):
    server, tally = Warp(warp, app, "--memory-limit", "150M"), Tally()
    load, old, fault = under_load(server, tally)
    tally.call(server.port, "/grow?200")
    time.sleep(3)
    load.stop()
    return tally, tally.first_ok_after(fault, unlike=(old,)), server.finish(), {"lossless": True}


def sigterm(warp, app):
    server, tally = Warp(warp, app), Tally()
    clients = [threading.Thread(target=tally.call, args=(server.port, "/sleep?1")) for _ in range(10)]
    for client in clients:
        client.start()
    time.sleep(0.3)
    alive = server.proc.poll() is None
    server.signal(signal.SIGTERM)
    for client in clients:
        client.join()
    code = server.proc.wait(timeout=20)
    server.log.close()
    return tally, None, alive and code == 0, {"lossless": True}


def startup_failure(warp, app):
    (app / "fail-import").write_text("")
    try:
        server, tally = Warp(warp, app), Tally()
        clients = [threading.Thread(target=tally.call, args=(server.port, "/pid", 30)) for _ in range(5)]
        for client in clients:
            client.start()
        time.sleep(2)
    finally:
        (app / "fail-import").unlink()
    fault = time.monotonic()
    for client in clients:
        client.join()
    return tally, tally.first_ok_after(fault), server.finish(), {"lossless": True}


def slowloris(warp, app):
    server, tally = Warp(warp, app, "--socket-timeout", "2", "--threads", "4"), Tally()
    slow = []
    for _ in range(200):
        conn = socket.create_connection(("127.0.0.1", server.port))
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        slow.append(conn)
    fault = time.monotonic()
    load = Load(server.port, tally, clients=2)
    cut = set()
    while time.monotonic() - fault < 5:
        for i, conn in enumerate(slow):
            if i in cut:
                continue
            try:
                conn.sendall(b"X: y\r\n")
            except OSError:
                cut.add(i)
        time.sleep(0.25)
    load.stop()
    for conn in slow:
        conn.close()
    note = "%d of 200 slow clients cut off" % len(cut)
    return tally, tally.first_ok_after(fault), server.finish(), {"note": note, "all_cut": len(cut) == 200}


def overload(warp, app):
    server, tally = Warp(warp, app, "--threads", "2", "--queue-timeout", "1"), Tally()
    burst = [threading.Thread(target=tally.call, args=(server.port, "/sleep?0.5")) for _ in range(20)]
    for client in burst:
        client.start()
    for client in burst:
        client.join()
    fault = time.monotonic()
    after = Tally()
    after.call(server.port, "/pid")
    tally.answers += after.answers
    return tally, tally.first_ok_after(fault), server.finish(), {"lossless": True}


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


def main():
    warp = build_warp()
    app = prepare(warp)
    missed = []
    print("%-26s %6s %6s %6s %6s %10s %7s  %s" % ("fault", "sent", "2xx", "503", "lost", "recover s", "master", "notes"))
    for name, run in FAULTS:
        tally, recover, master_ok, goals = run(warp, app)
        notes = [goals.get("note", "")]
        if goals.get("lossless") and tally.lost:
            missed.append("%s: %d lost" % (name, tally.lost))
        limit = goals.get("recover_within")
        if limit is not None and (recover is None or recover > limit):
            missed.append("%s: recovered in %s s, goal %s s" % (name, recover, limit))
        if goals.get("all_cut") is False:
            missed.append("%s: %s" % (name, goals["note"]))
        if not master_ok:
            missed.append("%s: the master did not survive" % name)
        shown = "-" if recover is None else "%.2f" % recover
        print("%-26s %6d %6d %6d %6d %10s %7s  %s" % (name, tally.sent, tally.ok, tally.unavailable, tally.lost, shown,
                                                     "ok" if master_ok else "DIED", "; ".join(n for n in notes if n)),
              flush=True)
    print()
    if missed:
        print("goals missed:\n  " + "\n  ".join(missed))
        sys.exit(1)
    print("every goal met: no request lost in reload, recycling and SIGTERM; stuck and crashed workers "
          "replaced within timeout + 2 s; the master survived every fault")


if __name__ == "__main__":
    main()
