"""``manage.py runwarp``: serve this Django project with ``warp start``.

The options are exactly those of ``warp start`` (``manage.py runwarp --help`` lists them),
so development and production share one server: ``--reload-on-changes`` while coding,
production defaults otherwise. Static files are served from STATIC_ROOT by warp itself.
"""

import os
import shutil
import sys

from django.core.management.base import BaseCommand, CommandError

# Options manage.py applies itself before a command runs.
DJANGO_OPTIONS = ("--settings", "--pythonpath")


def warp_executable():
    """The warp that installed this module, else the first on PATH."""
    recorded = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "_warp_path.txt")
    try:
        with open(recorded, encoding="utf-8") as f:
            path = f.read().strip()
        if os.access(path, os.X_OK):
            return path
    except OSError:
        pass
    path = shutil.which("warp")
    if path is None:
        raise CommandError("warp is not on PATH: install warp, or run the project with `warp start`")
    return path


def warp_arguments(argv):
    """The arguments after ``manage.py runwarp``, without the options manage.py took."""
    out = []
    skip_value = False
    for arg in argv:
        if skip_value:
            skip_value = False
        elif arg in DJANGO_OPTIONS:
            skip_value = True
        elif not arg.startswith(tuple(o + "=" for o in DJANGO_OPTIONS)):
            out.append(arg)
    return out


class Command(BaseCommand):
    help = "Serve this project with warp's server; takes the options of `warp start`."

    def run_from_argv(self, argv):
        self.exec_warp(warp_arguments(argv[2:]), os.path.dirname(os.path.abspath(argv[0])))

    def print_help(self, prog_name, subcommand):
        self.exec_warp(["--help"], os.getcwd())

    def exec_warp(self, args, project):
        warp = warp_executable()
        env = dict(os.environ)
        if sys.prefix != sys.base_prefix:
            # The venv this manage.py runs in is the one to serve from.
            env["VIRTUAL_ENV"] = sys.prefix
        # manage.py put the project on sys.path; the server's workers need the same.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (project, env.get("PYTHONPATH")) if p)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(warp, [warp, "start", project] + args, env)
