"""A warp worker process: import the app named in the settings, then serve it.

The master (``warp start``) passes the settings as JSON in WARP_WORKER_CONFIG and the
listening socket as an inherited file descriptor.
"""

import importlib
import json
import os
import runpy
import signal
import sys

from warp_server import _native, target


def load(spec, src):
    """Return the WSGI callable that ``spec`` names: ``module:callable``, an app factory's
    call ``module:factory(literal arguments)``, a file path, or a Paste Deploy ``.ini``
    file (its ``main`` app)."""
    if spec.endswith(".ini"):
        from paste.deploy import loadapp

        return loadapp("config:" + os.path.abspath(os.path.join(src, spec)))
    if spec.endswith(".py") or os.sep in spec:
        path = os.path.abspath(os.path.join(src, spec))
        if not os.path.isfile(path):
            raise SystemExit("warp: app file %s does not exist" % path)
        name = os.path.splitext(os.path.basename(path))[0]
        if os.path.dirname(path) == os.path.abspath(src) and name.isidentifier():
            # Imported as a module, so pickling and `from wsgi import x` keep working.
            namespace = vars(importlib.import_module(name))
        else:
            namespace = runpy.run_path(path, run_name="__warp_app__")
        for attr in ("application", "app"):
            if callable(namespace.get(attr)):
                return namespace[attr]
        raise SystemExit("warp: %s defines neither `application` nor `app`" % path)
    module_name, _, attr = spec.partition(":")
    try:
        names, call = target.parse(attr or "application")
    except ValueError as e:
        raise SystemExit("warp: %s: %s" % (spec, e))
    app = importlib.import_module(module_name)
    for name in names:
        app = getattr(app, name)
    if call is not None:
        # An app factory, called once in each worker process.
        args, kwargs = call
        app = app(*args, **kwargs)
    if not callable(app):
        raise SystemExit("warp: %s is not callable" % spec)
    return app


def measure_coverage(folder):
    """``--enable-coverage DIR``: coverage.py measures this worker from before the app is
    imported, in every thread, into a data file of its own in ``folder``."""
    if not folder:
        return None
    try:
        import coverage
    except ImportError:
        raise SystemExit("warp: --enable-coverage needs coverage.py in the app's venv: add `coverage` to its requirements")
    os.makedirs(folder, exist_ok=True)
    measured = coverage.Coverage(data_file=os.path.join(folder, ".coverage"), data_suffix=True)
    measured.start()
    return measured


def main():
    config = json.loads(os.environ.pop("WARP_WORKER_CONFIG"))
    src = config["src"]
    os.chdir(src)
    sys.path.insert(0, src)
    # Monitoring code written for mod_wsgi imports it by that name (see events.py).
    from warp_server import mod_wsgi

    mod_wsgi.maximum_processes = config["processes"]
    mod_wsgi.threads_per_process = config["threads"]
    sys.modules["mod_wsgi"] = mod_wsgi
    coverage = measure_coverage(config.get("coverage_dir"))
    app = load(config["app"], src)
    if config.get("profiler_dir"):
        from warp_server.profiling import profiled

        app = profiled(app, config["profiler_dir"])
    # The server handles these itself: a graceful stop, not KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        clean = _native.serve(app, json.dumps(config))
    except _native.SettingsError as e:
        # Not a bug in the app or the server: say what is wrong, without a traceback.
        raise SystemExit("warp: worker %s cannot start: %s" % (config.get("worker_id", 0), e))
    if coverage is not None:
        coverage.stop()
        coverage.save()
    sys.stdout.flush()
    sys.stderr.flush()
    if not clean:
        # Requests still running past the shutdown timeout: do not wait for them.
        os._exit(1)


if __name__ == "__main__":
    main()
