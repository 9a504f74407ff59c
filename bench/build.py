#!/usr/bin/env python3
"""How long `warp build` takes beside the two ways people build a venv by hand.

For each app (examples/flask, and a larger app with bench/requirements-large.txt: 51
pinned packages of a typical web service), three ways to get a venv with its dependencies
are timed, all on the same interpreter:

    warp    `warp build` (release build; uv is its installer, fetched into its cache)
    pip     `python -m venv` + `pip install -r requirements.txt`
    uv      `uv venv` + `uv pip install -r requirements.txt` (the uv warp uses)
    uv-seed the same with `uv venv --seed`, for reference: the same installing work as
            warp's with WARP_SEED_PIP=true, which puts pip into the venv

in three situations:

    cold     no venv, empty package caches (packages come from the index)
    warm     no venv, caches filled by an earlier run (what a CI job with a cache sees)
    rebuild  the venv from the last run is there and nothing changed: warp build again;
             for pip and uv, `pip install -r` / `uv pip install -r` into that venv

Each tool has its own cache folder. Warm and rebuild figures are the median of --runs
runs; cold is one run (it measures the network as much as the tool). The uv fetch that a
machine without uv pays once is timed on its own and left out of warp's cold figure.

Then warp's ratios: warp/uv (goal: warm within 1.2x) and pip/warp (goal: at least 8x).
Nothing here asserts a speed; the exit status is 0 unless something failed to run.

    python3 bench/build.py [--runs 5] [--only flask|large] [--python PATH] [--no-build]

Everything is made under target/bench/build and removed at the end, on Ctrl-C too
(--keep leaves it for a look).
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
from pathlib import Path

import benchlib

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "bench" / "build"
WARP = ROOT / "target" / "release" / "warp"
APPS = {
    "flask": ROOT / "examples" / "flask",
    "large": ROOT / "bench" / "requirements-large.txt",
}
SITUATIONS = ("cold", "warm", "rebuild")
TOOLS = ("warp", "pip", "uv", "uv-seed")


Failed = benchlib.Failed


def run(cmd, env=None, cwd=None):
    """Run cmd in its own process group and return its wall time in seconds. On any
    interruption the whole group (warp, the installer it started, their pythons) is killed."""
    return benchlib.run(cmd, env=env, cwd=cwd)[0]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WARP_", "PIP_", "UV_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def real_interpreter(python):
    """The interpreter's own file, so no tool pays for a pyenv shim the others skip."""
    out = subprocess.run([python, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip()).resolve()


class Bench:
    def __init__(self, python, runs):
        self.python = python
        self.runs = runs
        self.caches = WORK / "caches"
        self.warp_env = clean_env(
            WARP_HOME=WORK / "warp-home",
            WARP_CACHE_DIR=self.caches / "warp",
            WARP_NO_PROGRESS="1",
            WARP_PYTHON=python,
        )
        self.uv = None

    def fetch_uv(self):
        """The one-time cost on a machine without uv: warp fetches it into its cache."""
        empty = WORK / "empty-app"
        empty.mkdir(parents=True)
        seconds = run([WARP, "build", empty], env=self.warp_env)
        on_path = shutil.which("uv")
        fetched = sorted((self.caches / "warp" / "tools").glob("uv-*/bin/uv"))
        self.uv = Path(on_path) if on_path else fetched[-1]
        return seconds, bool(on_path)

    def app(self, name, tool):
        """A fresh copy of app `name` for `tool`, with its requirements.txt."""
        target = WORK / "apps" / f"{name}-{tool}"
        if target.exists():
            shutil.rmtree(target)
        source = APPS[name]
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
        else:
            target.mkdir(parents=True)
            shutil.copy(source, target / "requirements.txt")
            (target / "wsgi.py").write_text("def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n")
        return target

    def forget_packages(self):
        """Empty every package cache; warp keeps the uv it fetched (timed on its own)."""
        for path in [self.caches / "pip", self.caches / "uv", self.caches / "warp" / "uv", self.caches / "warp" / "pip"]:
            shutil.rmtree(path, ignore_errors=True)

    def build(self, tool, app, venv, fresh):
        """One timed build of `app` into `venv` by `tool`; `fresh` removes the venv first."""
        if fresh and venv.exists():
            shutil.rmtree(venv)
        requirements = app / "requirements.txt"
        if tool == "warp":
            return run([WARP, "build", app], env=self.warp_env)
        if tool == "pip":
            env = clean_env(PIP_CACHE_DIR=self.caches / "pip", PIP_DISABLE_PIP_VERSION_CHECK="1")
            seconds = 0.0 if venv.exists() else run([self.python, "-m", "venv", venv], env=env)
            return seconds + run([venv / "bin" / "python", "-m", "pip", "install", "-q", "-r", requirements], env=env)
        env = clean_env(UV_CACHE_DIR=self.caches / "uv", UV_NO_PROGRESS="1")
        seed = ["--seed"] if tool == "uv-seed" else []
        seconds = 0.0 if venv.exists() else run([self.uv, "venv", "-q", *seed, "--python", self.python, venv], env=env)
        return seconds + run([self.uv, "pip", "install", "-q", "--python", venv / "bin" / "python", "-r", requirements], env=env)

    def measure(self, name):
        """{situation: {tool: seconds}} for one app."""
        figures = {s: {} for s in SITUATIONS}
        self.forget_packages()
        for tool in TOOLS:
            app = self.app(name, tool)
            venv = app / ".venv"
            print(f"  {tool}: cold", end="", flush=True)
            figures["cold"][tool] = self.build(tool, app, venv, fresh=True)
            print(", warm", end="", flush=True)
            figures["warm"][tool] = statistics.median(self.build(tool, app, venv, fresh=True) for _ in range(self.runs))
            print(", rebuild", flush=True)
            figures["rebuild"][tool] = statistics.median(self.build(tool, app, venv, fresh=False) for _ in range(self.runs))
        return figures


def packages_in(name):
    lines = (APPS[name] if APPS[name].is_file() else APPS[name] / "requirements.txt").read_text().splitlines()
    return sum(1 for l in lines if l.strip() and not l.startswith("#"))


def report(name, figures):
    print(f"\n{name} (requirements.txt: {packages_in(name)} lines)")
    print(f"  {'':34}" + "".join(f"{s:>10}" for s in SITUATIONS))
    labels = {
        "warp": "warp build",
        "pip": "python -m venv + pip install -r",
        "uv": "uv venv + uv pip install -r",
        "uv-seed": "  the same with --seed (reference)",
    }
    for tool in TOOLS:
        print(f"  {labels[tool]:34}" + "".join(f"{figures[s][tool]:>9.3f}s" for s in SITUATIONS))
    print(f"  {'warp / uv  (goal: warm <= 1.2)':34}" + "".join(f"{figures[s]['warp'] / figures[s]['uv']:>9.2f}x" for s in SITUATIONS))
    print(f"  {'pip / warp (goal: warm >= 8)':34}" + "".join(f"{figures[s]['pip'] / figures[s]['warp']:>9.1f}x" for s in SITUATIONS))


def verdict(results):
    print("\ngoals (warm builds):")
    for name, figures in results.items():
        warm = figures["warm"]
        near_uv = warm["warp"] / warm["uv"]
        over_pip = warm["pip"] / warm["warp"]
        print(f"  {name}: warp/uv {near_uv:.2f}x ({'met' if near_uv <= 1.2 else 'missed'}), "
              f"pip/warp {over_pip:.1f}x ({'met' if over_pip >= 8 else 'missed'})")


def stopped(signum, frame):
    """A stop from outside ends the run the way Ctrl-C does, cleanup included."""
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(
        description="Time `warp build` cold, warm and as a rebuild, beside pip and plain uv.",
        epilog="Example: python3 bench/build.py --runs 7 --only flask",
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per warm and rebuild figure (median; default 5)")
    parser.add_argument("--only", choices=sorted(APPS), help="one app instead of both")
    parser.add_argument("--python", default="python3", help="interpreter every tool builds with (default python3)")
    parser.add_argument("--no-build", action="store_true", help="use target/release/warp as it is")
    parser.add_argument("--keep", action="store_true", help=f"leave {WORK.relative_to(ROOT)} for a look")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    signal.signal(signal.SIGTERM, stopped)
    try:
        if not args.no_build:
            print("building warp (cargo build --release --workspace)", flush=True)
            run(["cargo", "build", "--release", "--workspace", "--quiet"], cwd=ROOT)
        if WORK.exists():
            shutil.rmtree(WORK)
        python = real_interpreter(args.python)
        bench = Bench(python, args.runs)
        print(f"python: {python}", flush=True)
        seconds, on_path = bench.fetch_uv()
        print(f"uv: {bench.uv}" + ("" if on_path else f" (warp fetched it in {seconds:.2f}s, once per machine)"))
        results = {}
        for name in [args.only] if args.only else list(APPS):
            print(f"{name}:", flush=True)
            results[name] = bench.measure(name)
        for name, figures in results.items():
            report(name, figures)
        verdict(results)
    except Failed as e:
        sys.exit(f"bench: {e}")
    except KeyboardInterrupt:
        sys.exit("bench: interrupted")
    finally:
        if not args.keep:
            shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
