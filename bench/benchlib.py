"""What the bench scripts share: their command line, and servers that never outlive them.

- `arguments(doc)` gives an argparse parser whose `--help` prints the script's docstring
  and exits before anything runs.
- `start(cmd)` runs a server in a process group of its own, so its workers go with it,
  and keeps it in a list; `stop(proc)` ends the group (SIGTERM, SIGKILL after a timeout)
  with stop signals held back meanwhile, so a second Ctrl-C cannot cut a stop short.
- `main(body)` runs the script: SIGINT (Ctrl-C), SIGTERM and SIGHUP end it alike, and however it
  ends (done, failed, interrupted) every server still in the list is killed with its group.

For the benches that serve an app (bench/servers.py, bench/faults.py, bench/slowclients.py):

- `ensure_peers(interpreter)` installs the peers from PyPI into their venv, `PEER_VENV`
  (granian, gunicorn, waitress, flask, and mod_wsgi-express when Apache's development files
  can be installed); `warp_build(warp, app, interpreter)` runs `warp build` on an app.
- `server_commands(warp, peer_python, app, spec, port)` is each server's command line with
  the settings every bench gives it (one process, five threads where threads are a setting);
  `start_server(cmd, cwd, log)` starts one with its output in `log`, and
  `wait_until_up(port, proc)` waits for its first answer.
- `default_interpreter()` is the python every server runs on, `free_port()` a port to
  listen on, `request(port, path)` one GET on a fresh connection, `peak_rss_kib(pid)` the
  peak memory of the processes under a server that serve requests.

For the benches that build images (bench/image.py, bench/s2i.py):

- `image_arguments(doc, work, runs_help)` is their parser: `--runs`, `--no-build`, `--keep`.
- `release_warp(build)` builds target/release/warp (`cargo build --release --locked`) and
  checks that it and libwarp_server.so are there; `warp_env(work)` is the environment warp
  runs in: no `WARP_*` of the caller's, a home and a cache of the bench's own under `work`.
- `run(cmd)` runs a command to its end in a process group of its own, killed with the group
  on any interruption, and gives its wall time and output; the pid of each command it started
  stays in `started`, for finding what a killed warp left (its s2i build containers carry its
  pid). `quiet(cmd)` runs a short one and gives its output or None.
- `ensure_base(docker, work)` makes the offline base image `warp-test-base:bookworm` when the
  engine lacks it, as tests/base_image.rs does and under its lock; `copy_app(name, target)`
  copies an example app without what a build left in it.
- `session(work, keep, body, cleanup)` runs the measurements in a new, empty `work` folder and
  cleans up however they end; `Failed` is what a step that could not run raises.
"""

import argparse
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_running = []

ROOT = Path(__file__).resolve().parent.parent
WARP = ROOT / "target" / "release" / "warp"
# Where the benches that serve an app keep their apps, logs and the peers' venv.
BENCH = ROOT / "target" / "bench"
PEER_VENV = BENCH / "peers"
PEERS = ["granian", "gunicorn", "waitress", "flask"]
APPS = {"flask": ROOT / "examples" / "flask", "django": ROOT / "examples" / "django"}
BASE = "warp-test-base:bookworm"
# As tests/base_image.rs makes it: the packages, and what `docker import` of a bare root lacks.
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
BASE_CHANGES = ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8", 'CMD ["python3"]']
# The lock tests/base_image.rs holds while it makes the base, so the two never make it at once.
BASE_LOCK = Path(tempfile.gettempdir()) / "warp-test-base-bookworm.lock"
# The label `warp image` puts on its build containers, whose value is the image's name.
IMAGE_BUILD_LABEL = "dev.warp.image.build"

# The pid of every command `run` started.
started = []


def arguments(doc):
    """A parser for a script whose docstring is `doc`: `--help` prints it and exits."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def image_arguments(doc, work, runs_help):
    """The parser of a bench that builds images: `--runs N` (at least 1, default 3),
    `--no-build` and `--keep` (leave `work` and the images)."""
    parser = arguments(doc)
    parser.add_argument("--runs", type=positive_int, default=3, help=runs_help)
    parser.add_argument("--no-build", action="store_true", help="use target/release/warp as it is")
    parser.add_argument("--keep", action="store_true", help=f"leave {work.relative_to(ROOT)} and the images for a look")
    return parser


def positive_int(text):
    """An argparse type: a whole number, at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, at least 1, not {text!r}")
    return int(text)


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


def sh(*cmd, **kw):
    """Run a command, echoed first, and fail when it fails."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def default_interpreter():
    """The system's python3, else this one: the python every server runs on."""
    system = Path("/usr/bin/python3")
    return str(system) if system.exists() else sys.executable


def ensure_peers(interpreter, mod_wsgi=True):
    """The python of PEER_VENV, made on `interpreter` when missing, with the peers installed;
    with `mod_wsgi`, mod_wsgi too when apxs is there or, as root, Apache's development files
    install."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        sh(interpreter, "-m", "venv", PEER_VENV)
    sh(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEERS)
    have_mod_wsgi = subprocess.run([python, "-c", "import mod_wsgi"], capture_output=True).returncode == 0
    if mod_wsgi and not have_mod_wsgi:
        if not shutil.which("apxs") and os.geteuid() == 0:
            subprocess.run(["apt-get", "install", "-y", "-q", "apache2", "apache2-dev"], check=False)
        if shutil.which("apxs"):
            subprocess.run([python, "-m", "pip", "install", "-q", "mod_wsgi"], check=False)
    return python


def warp_build(warp, app, interpreter, **kw):
    """`warp build` of `app` on `interpreter`, with no venv or progress bars of the caller's."""
    env = dict(os.environ, WARP_NO_PROGRESS="1", WARP_PYTHON=str(interpreter))
    env.pop("VIRTUAL_ENV", None)
    return sh(warp, "build", app, env=env, **kw)


def server_commands(warp, peer_python, app, spec, port):
    """Each server's command line serving `spec` (`module:callable`) from `app` on
    127.0.0.1:`port`, one process each, five threads where threads are a setting."""
    bin_dir = peer_python.parent
    module_file = spec.split(":")[0] + ".py"
    found = {
        "warp": [warp, "start", app, spec, "--port", port, "--processes", "1", "--threads", "5", "--access-log", "false",
                 "--allow-root"],
        "granian": [bin_dir / "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", port, "--workers", "1", spec],
        "granian-bt1": [bin_dir / "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", port, "--workers", "1", "--blocking-threads", "1", spec],
        "gunicorn": [bin_dir / "gunicorn", "--workers", "1", "--threads", "5", "--bind", "127.0.0.1:%s" % port, spec],
        "waitress": [bin_dir / "waitress-serve", "--listen=127.0.0.1:%s" % port, "--threads=5", spec],
    }
    if (bin_dir / "mod_wsgi-express").exists():
        found["mod_wsgi"] = [bin_dir / "mod_wsgi-express", "start-server", module_file, "--port", port,
                             "--processes", "1", "--threads", "5", "--callable-object", spec.split(":")[1],
                             "--server-root", BENCH / ("mod_wsgi-%s" % port)]
        if os.geteuid() == 0:
            # mod_wsgi-express refuses to run its daemons as root.
            found["mod_wsgi"] += ["--user", "www-data", "--group", "www-data"]
    return {name: [str(c) for c in cmd] for name, cmd in found.items()}


def start_server(cmd, cwd, log):
    """Start a server (see `start`) in `cwd` with its output in the file `log`, in the
    caller's environment without its venv or `WARP_*` settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARP_") and k != "VIRTUAL_ENV"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return start(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(port, proc, timeout=30):
    """Whether `GET /` on `port` got an answer within `timeout` seconds, `proc` still running."""
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


def cpu_seconds(pid):
    """User and system CPU time of `pid` and every process under it, in seconds."""
    total = 0
    for p in [pid] + descendants(pid):
        try:
            fields = Path("/proc/%d/stat" % p).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime and stime, the 14th and 15th fields of stat (11th and 12th after the name).
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


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


def request(port, path, timeout=15.0):
    """One GET on a fresh connection: (status, body); raises OSError when lost (reset,
    refused, or no whole answer within `timeout` seconds in all)."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(b"GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no whole answer within %.0f s" % timeout)
            conn.settimeout(left)
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1.1 "):
        raise ConnectionError("no response")
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


class Failed(Exception):
    """A step could not run: the bench ends with this message and exit status 1."""


def run(cmd, env=None, cwd=None):
    """Run cmd in a process group of its own and return (wall seconds, output). On any
    interruption the group is killed: warp with what it started, or the docker client, whose
    going away cancels its build in the engine."""
    started_at = time.perf_counter()
    child = subprocess.Popen(
        [str(c) for c in cmd], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, process_group=0
    )
    started.append(child.pid)
    try:
        output, _ = child.communicate()
    except BaseException:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        raise
    elapsed = time.perf_counter() - started_at
    text = output.decode(errors="replace")
    if child.returncode != 0:
        tail = text.strip().splitlines()[-20:]
        raise Failed(f"{' '.join(str(c) for c in cmd)} exited with {child.returncode}:\n  " + "\n  ".join(tail))
    return elapsed, text


def quiet(cmd):
    """Run a short command and return its stripped output, or None when it fails."""
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def release_warp(build):
    """Build the release warp (unless `build` is false) and check that it is there."""
    if build:
        print("building warp (cargo build --release --locked)", flush=True)
        run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT)
    if not (WARP.is_file() and (WARP.parent / "libwarp_server.so").is_file()):
        raise Failed(f"{WARP.relative_to(ROOT)} and libwarp_server.so beside it are needed: run without --no-build")


def warp_env(work):
    """The environment warp runs in: the caller's without its `WARP_*` settings and venv,
    with a home and a cache of the bench's own under `work` and no progress bars."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARP_") and k != "VIRTUAL_ENV"}
    env.update(
        WARP_HOME=str(work / "warp-home"),
        WARP_CACHE_DIR=str(work / "warp-cache"),
        WARP_NO_PROGRESS="1",
        # The app copies sit inside this repository: without this their HEAD would become a
        # label, and a commit made meanwhile would change the image.
        GIT_CEILING_DIRECTORIES=str(work),
    )
    return env


def ensure_base(docker, work):
    """Make the base image unless the engine has it; say which it was."""
    with open(BASE_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_id(docker, BASE):
            return "present"
        if not shutil.which("mmdebstrap"):
            raise Failed(f"{BASE} is not in the engine, and mmdebstrap, which makes it, is missing "
                         "(apt-get install mmdebstrap)")
        print(f"making {BASE} with mmdebstrap (once per machine, about 40 s)", flush=True)
        rootfs = work / "rootfs.tar"
        seconds, _ = run(["mmdebstrap", "--quiet", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", rootfs])
        changes = [arg for change in BASE_CHANGES for arg in ("--change", change)]
        seconds += run([docker, "import", *changes, rootfs, BASE])[0]
        rootfs.unlink()
        return f"made in {seconds:.1f}s"


def copy_app(name, target):
    """Copy the example app `name` to `target`, leaving out what a build or a run left in it."""
    ignore = shutil.ignore_patterns(".venv", "__pycache__", "*.pyc", "staticfiles", "db.sqlite3")
    shutil.copytree(APPS[name], target, ignore=ignore)
    return target


def image_id(docker, ref):
    """The ID of the image `ref` (a name or an ID), or None when the engine has none."""
    return quiet([docker, "image", "inspect", "--format", "{{.Id}}", ref])


def remove_containers(docker, label):
    """Remove every container, running or not, with this label (`KEY=VALUE`)."""
    found = quiet([docker, "ps", "-aq", "--filter", f"label={label}"])
    if found:
        subprocess.run([str(docker), "rm", "-f", *found.split()], capture_output=True)


def remove_images(docker, refs):
    """Remove these images (names, then IDs) and any build container `warp image` left for them."""
    for ref in refs:
        remove_containers(docker, f"{IMAGE_BUILD_LABEL}={ref}")
    present = [ref for ref in refs if image_id(docker, ref)]
    if present:
        subprocess.run([str(docker), "rmi", *present], capture_output=True)


def warp_steps(output):
    """warp's step lines: each step with its time, as warp printed them."""
    return [line.rstrip() for line in output.splitlines() if re.search(r"\d(\.\d+)?\s*m?s\b", line)]


def met(ok):
    return "met" if ok else "not met"


def session(work, keep, body, cleanup):
    """Run `body()` in a new, empty `work` folder. However it ends, `cleanup()` runs and the
    folder goes (neither with `keep`), with stop signals held back so that a second Ctrl-C
    cannot leave images behind. A `Failed` ends the script with its message (exit status 1)."""
    failed = None
    try:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        body()
    except Failed as e:
        failed = e
    except KeyboardInterrupt:
        print(flush=True)  # ends a progress line cut short
        raise
    finally:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            if not keep:
                cleanup()
                shutil.rmtree(work, ignore_errors=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    if failed:
        raise SystemExit(f"bench: {failed}")
