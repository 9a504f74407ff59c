#!/usr/bin/env python3
"""How long `warp s2i build` takes with warp's own builder image: a first (clean) build, and
an incremental rebuild after a source change, which reinstalls nothing.

The app is examples/flask, copied into the work dir with `APP_MODULE=app:app` written into
its `.s2i/environment`, as an app built by the OpenShift Python builder would say how to
serve it. The builder is warp's, on the offline base `warp-test-base:bookworm` (Debian
bookworm's python3 3.11 with venv; when the engine lacks it, it is made with mmdebstrap and
`docker import` as tests/base_image.rs makes it). Its tag follows the warp binary, so an
untimed warm-up `warp image` of the app with the release warp (target/release/warp, with
libwarp_server.so beside it) makes the builder when the engine lacks it, and the tag is read
from what that run prints (`builder image: warp-builder:<version>-<digest> ...`).

Each run, timed on the wall clock, under an image name of its own:

    first        `warp s2i build APP BUILDER NAME` with no image NAME yet: a clean build,
                 which installs the dependencies from the package index
    clean        a new comment line appended to app.py, then the same without
                 --incremental: a clean build again, for reference
    incremental  another new line, then `warp s2i build ... --incremental`: the previous
                 image's dependency layer was built from the same inputs (warp's cache says
                 so) and assemble would only put the source in place, so the image is that
                 layer and the new source, and no container runs (when either does not
                 hold, the previous image's `save-artifacts` hands its venv to assemble)

A change is never the same line twice. Each figure is the median of --runs runs; the ratio
is first/incremental (goal: at least 4, stated, not asserted). warp's steps in the last
first build and the last incremental rebuild are printed with their times. Then the image
of the last rebuild is run once (`docker run -d -p 127.0.0.1::8080`) and must answer GET /
with 200 within 60 s; the container is removed after. Nothing here asserts a speed; the exit
status is 0 unless something failed to run or the image did not serve.

    python3 bench/s2i.py [--runs 3] [--no-build] [--keep]

warp runs with a home and a cache of the bench's own and GIT_CEILING_DIRECTORIES set to the
work dir, target/bench/s2i. That folder, every image the bench made (also those a rebuild
took the name from) and any build container of warp's it left are removed at the end, on
Ctrl-C too (--keep leaves them for a look). The base image and warp's builder image stay.
"""

import re
import shutil
import statistics
import time
import urllib.error
import urllib.request

import benchlib
from benchlib import BASE, ROOT, WARP, Failed, met, quiet, run

WORK = ROOT / "target" / "bench" / "s2i"
# The label warp puts on the containers of an s2i build, whose value is warp's pid.
S2I_OWNER_LABEL = "dev.warp.s2i.build.pid"
GOAL = 4
SERVE_SECONDS = 60
BUILDS = ("first", "clean", "incremental")
LABELS = {
    "first": "first build (clean, no image yet)",
    "clean": "rebuild after a source change, not incremental",
    "incremental": "rebuild after a source change, `--incremental`",
}


class Bench:
    def __init__(self, runs):
        self.runs = runs
        self.docker = shutil.which("docker")
        if not self.docker:
            raise Failed("no docker CLI on PATH")
        self.app = WORK / "app"
        self.env = benchlib.warp_env(WORK)
        self.tags = []
        self.ids = []
        self.containers = []
        self.changes = 0

    def tag(self, what):
        tag = f"warp-bench-s2i-flask:{what}"
        self.tags.append(tag)
        return tag

    def builder(self):
        """warp's builder: made by a warm-up `warp image` if missing, its tag read from its output."""
        tag = self.tag("warmup")
        _, output = run([WARP, "image", tag, self.app, "--base", BASE], env=self.env)
        benchlib.remove_images(self.docker, [tag])
        self.tags.remove(tag)
        found = re.search(r"^builder image: (\S+) ", output, re.MULTILINE)
        if not found:
            raise Failed("`warp image` did not say which builder image it used:\n  " + "\n  ".join(output.splitlines()[-20:]))
        return found.group(1)

    def change_source(self):
        """Append a comment line never written before to app.py."""
        self.changes += 1
        with open(self.app / "app.py", "a") as f:
            f.write(f"# bench change {self.changes}, {time.time_ns()}\n")

    def s2i_build(self, builder, tag, incremental=False):
        """One `warp s2i build`: (seconds, warp's output); the image it made is remembered."""
        cmd = [WARP, "s2i", "build", self.app, builder, tag] + (["--incremental"] if incremental else [])
        seconds, output = run(cmd, env=self.env)
        how = "incremental" if incremental else "clean"
        if f"({how} build)" not in output:
            raise Failed(f"`warp s2i build` did not say it made a {how} build:\n  " + "\n  ".join(output.splitlines()[-20:]))
        self.ids.append(benchlib.image_id(self.docker, tag))
        return seconds, output

    def measure(self):
        benchlib.copy_app("flask", self.app)
        (self.app / ".s2i").mkdir(exist_ok=True)
        (self.app / ".s2i" / "environment").write_text("APP_MODULE=app:app\n")

        print("warm-up: warp image, so that warp's builder image is there (untimed)", flush=True)
        builder = self.builder()
        print(f"builder image: {builder}", flush=True)

        times = {build: [] for build in BUILDS}
        self.outputs = {}
        for n in range(1, self.runs + 1):
            tag = self.tag(f"run-{n}")
            print(f"run {n}/{self.runs}: first build", end="", flush=True)
            seconds, self.outputs["first"] = self.s2i_build(builder, tag)
            times["first"].append(seconds)
            print(", change + clean rebuild", end="", flush=True)
            self.change_source()
            times["clean"].append(self.s2i_build(builder, tag)[0])
            print(", change + incremental rebuild", flush=True)
            self.change_source()
            seconds, self.outputs["incremental"] = self.s2i_build(builder, tag, incremental=True)
            times["incremental"].append(seconds)
        return builder, times, self.serves(tag)

    def serves(self, tag):
        """Run `tag` once and GET / until it answers; (status or None, seconds, the logs if not 200)."""
        container = quiet([self.docker, "run", "-d", "-p", "127.0.0.1::8080", tag])
        if not container:
            raise Failed(f"docker run {tag} did not start a container")
        self.containers.append(container)
        started = time.monotonic()
        address = (quiet([self.docker, "port", container, "8080/tcp"]) or "").splitlines()
        status = None
        while address and status is None and time.monotonic() - started < SERVE_SECONDS:
            try:
                with urllib.request.urlopen(f"http://{address[0]}/", timeout=5) as response:
                    status = response.status
            except urllib.error.HTTPError as e:
                status = e.code
            except OSError:
                time.sleep(0.2)
        seconds = time.monotonic() - started
        logs = None if status == 200 else run([self.docker, "logs", container])[1]
        self.remove_containers()
        return status, seconds, logs

    def remove_containers(self):
        for container in self.containers:
            quiet([self.docker, "rm", "-f", container])
        self.containers.clear()

    def remove(self):
        """Remove the images made, by name and by ID, and what a killed warp left: only the
        last command run can have been killed, and a warp that ended removed its own."""
        self.remove_containers()
        for pid in benchlib.started[-1:]:
            benchlib.remove_containers(self.docker, f"{S2I_OWNER_LABEL}={pid}")
        benchlib.remove_images(self.docker, self.tags + [i for i in self.ids if i])
        self.tags.clear()
        self.ids.clear()


def report(bench, builder, times, served):
    figures = {build: statistics.median(seconds) for build, seconds in times.items()}
    first = figures["first"]
    print(f"\nflask, warp s2i build with {builder}, seconds (median of {bench.runs} runs, and each run):")
    print(f"\n| flask, `--runs {bench.runs}` | warp s2i build | first/this | each run |")
    print("| --- | --- | --- | --- |")
    for build in BUILDS:
        ratio = "" if build == "first" else f"{first / figures[build]:.2f}x"
        if build == "incremental":
            ratio += f" (goal >= {GOAL}: {met(first / figures[build] >= GOAL)})"
        each = ", ".join(f"{s:.2f}" for s in times[build])
        print(f"| {LABELS[build]} | {figures[build]:.2f} s | {ratio} | {each} |")

    for build, what in (("first", "the last first build"), ("incremental", "the last incremental rebuild")):
        print(f"\nwarp's steps, {what}:")
        for line in benchlib.warp_steps(bench.outputs[build]):
            print(f"  {line}")

    status, seconds, logs = served
    print(f"\nthe last rebuild's image, run once: GET / gave {status or 'no answer'} after {seconds:.1f}s")
    ratio = first / figures["incremental"]
    print("\ngoal (stated, not asserted):")
    print(f"  first/incremental: {ratio:.2f}x (goal >= {GOAL}: {met(ratio >= GOAL)})")
    if status != 200:
        raise Failed(f"the image of the last rebuild did not answer GET / with 200 within {SERVE_SECONDS} s; "
                     "its logs:\n  " + "\n  ".join(logs.splitlines()[-20:]))


def main():
    args = benchlib.image_arguments(__doc__, WORK, "runs per figure (median; default 3)").parse_args()
    benchlib.main(lambda: bench(args))


def bench(args):
    made = []

    def body():
        benchlib.release_warp(not args.no_build)
        made.append(Bench(args.runs))
        print(f"docker: {made[0].docker}; base image {BASE}: {benchlib.ensure_base(made[0].docker, WORK)}", flush=True)
        report(made[0], *made[0].measure())

    def cleanup():
        for bench in made:
            bench.remove()

    benchlib.session(WORK, args.keep, body, cleanup)


if __name__ == "__main__":
    main()
