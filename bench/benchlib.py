"""What the bench scripts share: their command line, and servers that never outlive them.

- `arguments(doc)` gives an argparse parser whose `--help` prints the script's docstring
  and exits before anything runs.
- `start(cmd)` runs a server in a process group of its own, so its workers go with it,
  and keeps it in a list; `stop(proc)` ends the group (SIGTERM, SIGKILL after a timeout)
  with stop signals held back meanwhile, so a second Ctrl-C cannot cut a stop short.
- `main(body)` runs the script: SIGINT (Ctrl-C), SIGTERM and SIGHUP end it alike, and however it
  ends (done, failed, interrupted) every server still in the list is killed with its group.
"""

import argparse
import os
import signal
import subprocess
import sys

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_running = []


def arguments(doc):
    """A parser for a script whose docstring is `doc`: `--help` prints it and exits."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def start(cmd, **popen):
    """Start `cmd` in a process group of its own, remembered until `stop`.

    A process group, not a session: with the kernel's autogroup scheduling a new session
    would be held to a fair share against the load generator's instead of being scheduled
    like any other process.
    """
    proc = subprocess.Popen([str(c) for c in cmd], process_group=0, **popen)
    _running.append(proc)
    return proc


def stop(proc, sig=signal.SIGTERM, timeout=15):
    """Send `sig` to the process group of `proc`, kill the group if it has not ended
    within `timeout` seconds, and return its exit code (None when it had to be killed)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        _signal_group(proc, sig)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        # Whatever the leader left in its group goes too.
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
        if proc in _running:
            _running.remove(proc)
        return code
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _stopped(signum, frame):
    raise KeyboardInterrupt


def main(body):
    """Run `body()`; on any ending, kill every server still running, with its group."""
    # SIGINT too: a shell starts background jobs with it ignored, and `kill -INT` should
    # still stop the run.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stopped)
    interrupted = False
    try:
        body()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        for proc in list(_running):
            stop(proc, signal.SIGKILL, timeout=5)
    if interrupted:
        print("bench: interrupted; every server it started is stopped", file=sys.stderr, flush=True)
        # Client threads still running would keep the interpreter from exiting.
        os._exit(130)
