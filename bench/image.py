#!/usr/bin/env python3
"""How long `warp image` takes beside `docker build` of a hand-written Dockerfile, and how
large and how reproducible its images are.

One app (examples/flask, or examples/django with --app django) is made into an image both
ways in one run, on the same base, `warp-test-base:bookworm` (Debian bookworm's python3 3.11
with venv; when the engine lacks it, it is made with mmdebstrap and `docker import` with the
changes tests/base_image.rs gives it):

    docker  `docker build` with BuildKit of the Dockerfile below, written into the work dir
    warp    `warp image NAME SRC --base warp-test-base:bookworm`: the release build
            (target/release/warp, with libwarp_server.so beside it)

The Dockerfile is a good one. requirements.txt is copied first and the venv made and filled
by `pip install -r` in one layer that only a change to it rebuilds; then the source; all of
it owned by 1001:0 with group permissions equal to the owner's, USER 1001, WORKDIR
/opt/app-root/src, CMD. pip runs with --no-cache-dir and --no-compile, since warp's image has
neither a cache nor .pyc files. For django, collectstatic runs after the copy, as `warp build`
runs it, with `warp_server` (which only warp installs) taken out of INSTALLED_APPS; the
images are built and measured, not run.

Containers reach the index only with the host's CA bundle (the file SSL_CERT_FILE or PIP_CERT
names, else /etc/ssl/certs/ca-certificates.crt), which must not land in a layer: the
Dockerfile mounts it as a BuildKit secret (`RUN --mount=type=secret,id=ca`, `docker build
--secret id=ca,src=...`). So the docker CLI used is the first on PATH that builds with
BuildKit (one with the buildx plugin, or one older than 23.0, which has BuildKit built in and
uses the engine's), and the Dockerfile has no `# syntax=` line, which would pull a frontend
image. A small build first checks that this works, and the cold image is checked to have no
/ca.pem. warp hands the same bundle to its build container by itself.

The situations, each timed on the wall clock:

    cold       docker: `docker build --no-cache`; warp: an empty WARP_CACHE_DIR, so warp
               also fetches uv, exports the base image's layers and writes its own layer,
               all once per cache (its builder image is made beforehand by an untimed
               warm-up run: the builder's tag follows the warp binary)
    cold deps  warp only: its cache kept but the dependency layers forgotten
               (WARP_CACHE_DIR/image/dependencies removed), so only the install is redone
    source     a new comment line appended to app.py (manage.py for django; never the
               same line twice, or BuildKit would find an earlier run's layer), then each
               tool rebuilds with its cache
    no change  each tool rebuilds with nothing changed

Source and no-change figures are the median of --runs runs, each source run with a new
change. Cold figures are one run each and measure the package index as much as the tools.
warp's steps in its cold runs and its last source-only rebuild are printed with their times.

Then: both images' sizes (`docker image inspect`, of the cold builds) and warp/docker (goal:
at most 1.1); whether warp gave one image ID for one source (across the no-change rebuilds;
and between the warm-up, the empty-cache cold run and a rebuild once the changes are undone);
docker/warp for a source change (goal: at least 5, and warp within 3 s) and warp/docker cold
(goal: at most 1). Nothing here asserts a speed; the exit status is 0 unless something
failed to run.

    python3 bench/image.py [--runs 3] [--app flask|django] [--no-build] [--keep]

Everything is made under target/bench/image. That folder, every image the bench tagged and
any build container of warp's it left are removed at the end, on Ctrl-C too (--keep leaves
them for a look). The base image, warp's builder image and BuildKit's build cache stay
(`docker builder prune` empties the last).
"""

import os
import re
import shutil
import statistics
import time
from pathlib import Path

import benchlib
from benchlib import APPS, BASE, ROOT, WARP, Failed, met, quiet, run

WORK = ROOT / "target" / "bench" / "image"
SITUATIONS = ("cold", "cold deps", "source", "no change")

DOCKERFILE = """\
FROM {base}
RUN mkdir -p /opt/app-root/src && chown -R 1001:0 /opt/app-root && chmod -R g=u /opt/app-root
USER 1001
WORKDIR /opt/app-root/src
ENV PATH=/opt/app-root/bin:$PATH
COPY --chown=1001:0 requirements.txt ./
RUN --mount=type=secret,id=ca,target=/ca.pem,uid=1001 \\
    python3 -m venv /opt/app-root \\
    && /opt/app-root/bin/pip install --no-cache-dir --no-compile --disable-pip-version-check --cert /ca.pem -r requirements.txt \\
    && chmod -R g=u /opt/app-root
COPY --chown=1001:0 . .
{after_copy}EXPOSE 8080
CMD {cmd}
"""
DOCKERFILE_APPS = {
    "flask": ("", '["flask", "--app", "app", "run", "--host", "0.0.0.0", "--port", "8080"]'),
    # The example lists warp_server (`manage.py runwarp`), which only warp installs, in
    # INSTALLED_APPS; a project built without warp would not, so collectstatic runs without it.
    "django": (
        'RUN python -B -c "import os; os.environ[\'DJANGO_SETTINGS_MODULE\'] = \'mysite.settings\'; import django;'
        " from django.conf import settings; settings.INSTALLED_APPS.remove('warp_server'); django.setup();"
        " from django.core.management import call_command; call_command('collectstatic', interactive=False, verbosity=0)\"\n",
        '["python", "manage.py", "runserver", "0.0.0.0:8080"]',
    ),
}
# The probe: a secret mounted for one RUN, readable by 1001, and then gone.
PROBE = "FROM {base}\nUSER 1001\nRUN --mount=type=secret,id=ca,target=/ca.pem,uid=1001 test -s /ca.pem\n"


def host_ca():
    for var in ("SSL_CERT_FILE", "PIP_CERT"):
        path = os.environ.get(var)
        if path and Path(path).is_file():
            return Path(path)
    return Path("/etc/ssl/certs/ca-certificates.crt")


def docker_client():
    """The first docker CLI on PATH that builds with BuildKit: one with the buildx plugin,
    or one older than 23.0 (those have BuildKit built in; newer ones need buildx for it)."""
    seen = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = Path(folder or ".") / "docker"
        if not (path.is_file() and os.access(path, os.X_OK)) or path.resolve() in seen:
            continue
        seen.append(path.resolve())
        if quiet([path, "buildx", "version"]) is not None:
            return path
        version = re.search(r"version (\d+)\.", quiet([path, "--version"]) or "")
        if version and int(version.group(1)) < 23:
            return path
    raise Failed("no docker CLI on PATH builds with BuildKit: install the buildx plugin (docker-buildx), "
                 "or put a docker CLI older than 23.0 first on PATH")


class Bench:
    def __init__(self, app_name, runs):
        self.app_name = app_name
        self.runs = runs
        self.docker = docker_client()
        self.ca = host_ca()
        self.app = WORK / "app"
        self.dockerfile = WORK / "Dockerfile"
        self.tags = []
        self.warp_env = benchlib.warp_env(WORK)
        self.cache = Path(self.warp_env["WARP_CACHE_DIR"])
        self.docker_env = dict(os.environ, DOCKER_BUILDKIT="1")

    def tag(self, tool, what):
        tag = f"warp-bench-{tool}-{self.app_name}:{what}"
        self.tags.append(tag)
        return tag

    def probe_buildkit(self):
        """One small build with the CA as a secret, so a missing piece fails here, clearly."""
        probe = WORK / "probe"
        probe.mkdir()
        (probe / "Dockerfile").write_text(PROBE.format(base=BASE))
        tag = self.tag("docker", "probe")
        try:
            run([self.docker, "build", "-q", "--secret", f"id=ca,src={self.ca}", "-t", tag, probe], env=self.docker_env)
        except Failed as e:
            raise Failed(f"docker build with BuildKit and a secret does not work here: {e}") from None
        self.remove([tag])

    def docker_build(self, what, no_cache=False):
        tag = self.tag("docker", what)
        cmd = [self.docker, "build", "--progress=plain", "--secret", f"id=ca,src={self.ca}", "-f", self.dockerfile, "-t", tag]
        seconds, _ = run(cmd + (["--no-cache"] if no_cache else []) + [self.app], env=self.docker_env)
        return seconds, tag

    def warp_image(self, what):
        """One `warp image`: (seconds, tag, image ID, warp's output)."""
        tag = self.tag("warp", what)
        seconds, output = run([WARP, "image", tag, self.app, "--base", BASE], env=self.warp_env)
        return seconds, tag, self.image_id(tag), output

    def image_id(self, tag):
        return benchlib.image_id(self.docker, tag)

    def size(self, tag):
        return int(quiet([self.docker, "image", "inspect", "--format", "{{.Size}}", tag]))

    def change_source(self, n):
        """Append a comment line never written before: BuildKit keys its cache by content, so
        a line an earlier run of the bench wrote would find that run's layer."""
        with open(self.app / self.entry, "a") as f:
            f.write(f"# bench change {n}, {time.time_ns()}\n")

    def measure(self):
        benchlib.copy_app(self.app_name, self.app)
        self.entry = "app.py" if (self.app / "app.py").exists() else "manage.py"
        self.original = (self.app / self.entry).read_text()
        after_copy, cmd = DOCKERFILE_APPS[self.app_name]
        self.dockerfile.write_text(DOCKERFILE.format(base=BASE, after_copy=after_copy, cmd=cmd))
        figures = {situation: {} for situation in SITUATIONS}
        ids = {}

        print("warm-up: warp image with a cache of its own, so the builder image is there (untimed)", flush=True)
        warmup_env = dict(self.warp_env, WARP_CACHE_DIR=str(WORK / "warp-warmup-cache"))
        tag = self.tag("warp", "warmup")
        run([WARP, "image", tag, self.app, "--base", BASE], env=warmup_env)
        ids["warm-up"] = self.image_id(tag)
        shutil.rmtree(WORK / "warp-warmup-cache")

        print("cold: docker", end="", flush=True)
        figures["cold"]["docker"], docker_cold = self.docker_build("cold", no_cache=True)
        check = ["test -e /ca.pem && echo yes"]
        leaked = quiet([self.docker, "run", "--rm", "--user", "0", "--entrypoint", "sh", docker_cold, "-c", *check])
        if leaked:
            raise Failed(f"the CA bundle is in {docker_cold} as /ca.pem: the secret mount did not keep it out")
        print(", warp (empty cache)", end="", flush=True)
        figures["cold"]["warp"], warp_cold, ids["cold"], self.cold_output = self.warp_image("cold")
        print(", warp (dependencies forgotten)", flush=True)
        shutil.rmtree(self.cache / "image" / "dependencies")
        figures["cold deps"]["warp"], _, ids["cold deps"], self.cold_deps_output = self.warp_image("cold-deps")

        docker_times, warp_times = [], []
        for n in range(1, self.runs + 1):
            print(f"source change {n}/{self.runs}: docker", end="", flush=True)
            self.change_source(n)
            docker_times.append(self.docker_build(f"source-{n}")[0])
            print(", warp", flush=True)
            seconds, _, last_change, self.source_output = self.warp_image(f"source-{n}")
            warp_times.append(seconds)
        figures["source"] = {"docker": statistics.median(docker_times), "warp": statistics.median(warp_times)}

        # The no-change rebuilds are of the last change's source: its ID comes first.
        docker_times, warp_times, unchanged_ids = [], [], [last_change]
        for n in range(1, self.runs + 1):
            print(f"no change {n}/{self.runs}: docker", end="", flush=True)
            docker_times.append(self.docker_build(f"same-{n}")[0])
            print(", warp", flush=True)
            seconds, _, image, _ = self.warp_image(f"same-{n}")
            warp_times.append(seconds)
            unchanged_ids.append(image)
        figures["no change"] = {"docker": statistics.median(docker_times), "warp": statistics.median(warp_times)}

        print("source restored: warp (untimed, for its image ID)", flush=True)
        (self.app / self.entry).write_text(self.original)
        ids["restored"] = self.warp_image("restored")[2]

        base_size = self.size(BASE)
        sizes = {"docker": self.size(docker_cold), "warp": self.size(warp_cold), "base": base_size}
        return figures, sizes, ids, unchanged_ids

    def remove(self, tags):
        """Remove these tags (and so their images) and any build container warp left for them."""
        benchlib.remove_images(self.docker, tags)
        for tag in tags:
            if tag in self.tags:
                self.tags.remove(tag)


def mib(size):
    return f"{size / 2**20:.0f} MiB"


def report(bench, figures, sizes, ids, unchanged_ids):
    app = bench.app_name
    lines = (APPS[app] / "requirements.txt").read_text().splitlines()
    requirements = sum(1 for line in lines if line.strip() and not line.startswith("#"))
    print(f"\n{app} (requirements.txt: {requirements} lines; source and no change: median of {bench.runs})")
    print(f"  {'':44}{'docker build':>14}{'warp image':>12}{'warp/docker':>13}")
    labels = {
        "cold": "cold (docker --no-cache, warp empty cache)",
        "cold deps": "cold, warp's cache kept but no dependencies",
        "source": "source-only change",
        "no change": "no change",
    }
    docker_cold = figures["cold"]["docker"]
    for situation in SITUATIONS:
        docker = figures[situation].get("docker")
        warp = figures[situation]["warp"]
        versus = docker if docker is not None else docker_cold
        cell = f"{docker:>13.2f}s" if docker is not None else f"{'(cold)':>14}"
        print(f"  {labels[situation]:44}{cell}{warp:>11.2f}s{warp / versus:>12.2f}x")
    print(f"  {'image size':44}{mib(sizes['docker']):>14}{mib(sizes['warp']):>12}{sizes['warp'] / sizes['docker']:>12.2f}x")
    above = {tool: sizes[tool] - sizes["base"] for tool in ("docker", "warp")}
    print(f"  {'  above the base (' + mib(sizes['base']) + ')':44}{mib(above['docker']):>14}{mib(above['warp']):>12}"
          f"{above['warp'] / above['docker']:>12.2f}x")

    print("\nwarp's steps, cold with an empty cache (it also fetches uv and exports the base's layers, once per cache):")
    for line in benchlib.warp_steps(bench.cold_output):
        print(f"  {line}")
    print("warp's steps, cold with the dependencies forgotten:")
    for line in benchlib.warp_steps(bench.cold_deps_output):
        print(f"  {line}")
    print("warp's steps, the last source-only change:")
    for line in benchlib.warp_steps(bench.source_output):
        print(f"  {line}")

    print("\nwarp's image IDs for one source:")
    same = len(set(unchanged_ids)) == 1
    print(f"  the last source change and {len(unchanged_ids) - 1} no-change rebuilds: {'one ID' if same else 'differ'} "
          f"({', '.join(short(i) for i in unchanged_ids)})")
    firsts = [ids["warm-up"], ids["cold"], ids["cold deps"], ids["restored"]]
    same_first = len(set(firsts)) == 1
    print(f"  warm-up, empty-cache cold, cold without dependencies, rebuild after the changes were undone: "
          f"{'one ID' if same_first else 'differ'} ({', '.join(short(i) for i in firsts)})")

    source = figures["source"]
    speedup = source["docker"] / source["warp"]
    cold = figures["cold"]["warp"] / docker_cold
    size_ratio = sizes["warp"] / sizes["docker"]
    print("\ngoals (stated, not asserted):")
    print(f"  source-only change: docker/warp {speedup:.1f}x (goal >= 5: {met(speedup >= 5)}), "
          f"warp {source['warp']:.2f}s (goal <= 3 s: {met(source['warp'] <= 3)})")
    print(f"  cold: warp/docker {cold:.2f}x (goal <= 1: {met(cold <= 1)}); "
          f"with warp's cache kept but no dependencies {figures['cold deps']['warp'] / docker_cold:.2f}x")
    print(f"  image size: warp/docker {size_ratio:.2f}x (goal <= 1.1: {met(size_ratio <= 1.1)})")
    print(f"  reproducible: {met(same and same_first)}")


def short(image_id):
    return (image_id or "none").removeprefix("sha256:")[:12]


def main():
    parser = benchlib.image_arguments(__doc__, WORK, "runs per source and no-change figure (median; default 3)")
    parser.add_argument("--app", choices=sorted(APPS), default="flask", help="the example app (default flask)")
    args = parser.parse_args()
    benchlib.main(lambda: bench(args))


def bench(args):
    made = []

    def body():
        benchlib.release_warp(not args.no_build)
        made.append(Bench(args.app, args.runs))
        bench = made[0]
        print(f"docker: {bench.docker} ({quiet([bench.docker, '--version'])}), BuildKit; CA bundle: {bench.ca}", flush=True)
        print(f"base image {BASE}: {benchlib.ensure_base(bench.docker, WORK)}", flush=True)
        bench.probe_buildkit()
        print("docker build with BuildKit and the CA as a secret: works", flush=True)
        results = bench.measure()
        report(bench, *results)

    def cleanup():
        for bench in made:
            bench.remove(list(bench.tags))

    benchlib.session(WORK, args.keep, body, cleanup)


if __name__ == "__main__":
    main()
