"""What warp's app detection needs to know from Python, answered as one JSON object.

Run by the app venv's python with the app folder as the working directory:

    inspect.py names FILE...   the names each file binds at top level (nothing is imported)
    inspect.py django          manage.py's settings: WSGI application, static files, WhiteNoise
    inspect.py paste INI       whether Paste Deploy can load INI
    inspect.py setup           setup.py's package name, the module it names, and what that binds
    inspect.py version DIST    the version of the installed distribution DIST, or null
"""

import ast
import configparser
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys


BLOCKS = (ast.If, ast.For, ast.While, ast.With, ast.Try) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())


def is_main_guard(test):
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def bound_names(body):
    """Names a block binds, looking into if/try/with but not into functions or classes."""
    names = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        names.add(sub.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
        if isinstance(node, ast.If) and is_main_guard(node.test):
            # Code under `if __name__ == "__main__":` does not run when a server imports the file.
            names |= bound_names(node.orelse)
        elif isinstance(node, BLOCKS):
            for field in ("body", "orelse", "finalbody"):
                names |= bound_names(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                names |= bound_names(handler.body)
    return names


def names(files):
    out = {}
    for path in files:
        try:
            with open(path, "rb") as f:
                tree = ast.parse(f.read(), filename=path)
        except SyntaxError as e:
            out[path] = {"error": "line %s: %s" % (e.lineno, e.msg)}
            continue
        except OSError as e:
            out[path] = {"error": str(e)}
            continue
        out[path] = {"names": sorted(bound_names(tree.body))}
    return out


def settings_module_of(manage_py):
    """The DJANGO_SETTINGS_MODULE that manage.py sets by default, if it sets one."""
    with open(manage_py, "rb") as f:
        tree = ast.parse(f.read(), filename=manage_py)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and len(node.args) == 2:
            key, value = node.args
            if (
                isinstance(key, ast.Constant)
                and key.value == "DJANGO_SETTINGS_MODULE"
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                return value.value
    return None


def django():
    module = os.environ.get("DJANGO_SETTINGS_MODULE") or settings_module_of("manage.py")
    if not module:
        return {"error": "manage.py does not name a settings module: set DJANGO_SETTINGS_MODULE"}
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    if importlib.util.find_spec("django") is None:
        return {"error": "Django is not installed in the venv: add it to the requirements and run `warp build`"}
    sys.path.insert(0, os.getcwd())
    try:
        from django.conf import settings

        wsgi = getattr(settings, "WSGI_APPLICATION", None)
        static_url = getattr(settings, "STATIC_URL", None)
        static_root = getattr(settings, "STATIC_ROOT", None)
        middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    except Exception as e:  # the settings module's own error, reported as the reason
        return {"error": "settings %s cannot be loaded: %s: %s" % (module, type(e).__name__, e)}
    return {
        "settings": module,
        "wsgi": wsgi,
        "static_url": str(static_url) if static_url else None,
        "static_root": os.fspath(static_root) if static_root else None,
        "whitenoise_middleware": any("whitenoise" in m.lower() for m in middleware),
    }


def paste(ini):
    try:
        found = importlib.util.find_spec("paste.deploy") is not None
    except ImportError:
        found = False
    if not found:
        return {"error": "Paste Deploy is not installed in the venv: add PasteDeploy to the requirements and run `warp build`"}
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read(ini)
    except configparser.Error as e:
        return {"error": "%s is not a valid ini file: %s" % (ini, e)}
    kinds = ("app", "pipeline", "composite", "filter-app")
    mains = [s for s in parser.sections() if [p.strip() for p in s.split(":", 1)] in ([k, "main"] for k in kinds)]
    if not mains:
        return {"error": "%s has no [app:main], [pipeline:main] or [composite:main] section" % ini}
    return {"ok": True}


def setup_py_name():
    """The name setup.py gives its package, as `python setup.py --name` prints it (the way the
    OpenShift Python builder asks); when that cannot run (no setuptools in the venv, say), a
    literal `setup(name=...)` in setup.py, else setup.cfg's [metadata] name."""
    try:
        run = subprocess.run([sys.executable, "setup.py", "--name"], capture_output=True, text=True, timeout=60)
        lines = [line.strip() for line in run.stdout.splitlines() if line.strip()]
        if run.returncode == 0 and lines:
            return lines[-1], None
        errors = [line.strip() for line in run.stderr.splitlines() if line.strip()]
        reason = errors[-1] if errors else "exit status %d" % run.returncode
    except (OSError, subprocess.SubprocessError) as e:
        reason = str(e)
    try:
        with open("setup.py", "rb") as f:
            tree = ast.parse(f.read(), filename="setup.py")
    except SyntaxError as e:
        return None, "setup.py line %s: %s" % (e.lineno, e.msg)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "setup":
            for keyword in node.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
                    return keyword.value.value, None
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read("setup.cfg")
        if parser.has_option("metadata", "name"):
            return parser.get("metadata", "name").strip(), None
    except configparser.Error:
        pass
    return None, "`setup.py --name` failed (%s), and neither setup.py nor setup.cfg names the package literally" % reason


def setup():
    """The module a setup.py package's name names (with - as _, then lower-case), from the app
    folder or the venv, and the names it binds: found, not imported."""
    name, error = setup_py_name()
    if error:
        return {"name_error": error}
    sys.path.insert(0, os.getcwd())
    tried = []
    for candidate in (name, name.replace("-", "_"), name.replace("-", "_").lower()):
        if candidate in tried or not all(part.isidentifier() for part in candidate.split(".")):
            continue
        tried.append(candidate)
        try:
            spec = importlib.util.find_spec(candidate)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            return {"name": name, "module": candidate, "file": spec.origin, **names([spec.origin])[spec.origin]}
    return {"name": name, "tried": tried}


def version(dist):
    try:
        return {"version": importlib.metadata.version(dist)}
    except importlib.metadata.PackageNotFoundError:
        return {"version": None}


def main():
    what, args = sys.argv[1], sys.argv[2:]
    if what == "names":
        result = names(args)
    elif what == "django":
        result = django()
    elif what == "setup":
        result = setup()
    elif what == "version":
        result = version(args[0])
    else:
        result = paste(args[0])
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
