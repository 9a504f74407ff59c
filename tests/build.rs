//! `warp build`: every dependency format, both installers, hooks, the no-op rebuild, and
//! failures that must leave the previous venv working.

use std::path::Path;

use crate::util::Sandbox;

const SIX: &str = "six==1.16.0\n";
/// The sha256 of six-1.16.0-py2.py3-none-any.whl, as a Pipfile.lock records it.
const SIX_WHEEL_SHA256: &str = "sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254";

fn build_with(installer: &str, sandbox: &Sandbox) -> String {
    crate::util::run_ok(sandbox.warp(&["build"]).env("WARP_INSTALLER", installer))
}

fn requirements_install_with(installer: &str) {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", SIX);
    let out = build_with(installer, &sandbox);
    assert!(out.contains(&format!("installing dependencies from requirements.txt with {installer}")), "{out}");
    assert_eq!(sandbox.python(&sandbox.venv(), "import six; print(six.__version__)"), "1.16.0");
    // Both installers leave pip in the venv, so `pip list` works for the user.
    assert!(sandbox.imports(&sandbox.venv(), "pip"));
}

#[test]
fn requirements_txt_with_pip() {
    requirements_install_with("pip");
}

#[test]
fn requirements_txt_with_uv() {
    requirements_install_with("uv");
}

#[test]
fn requirements_follow_includes_into_the_digest() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", "-r base.txt\n");
    sandbox.write("base.txt", SIX);
    sandbox.ok(&["build"]);
    assert!(sandbox.imports(&sandbox.venv(), "six"));
    sandbox.write("base.txt", "idna==3.7\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("dependencies installed"), "{out}");
    assert!(sandbox.imports(&sandbox.venv(), "idna"));
    assert!(!sandbox.imports(&sandbox.venv(), "six"), "a rebuild starts from a fresh venv");
}

#[test]
fn pipfile_lock_installs_the_default_section_with_hashes() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "Pipfile.lock",
        &format!(
            r#"{{"_meta": {{"sources": [{{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}}]}},
               "default": {{"six": {{"version": "==1.16.0", "hashes": ["{SIX_WHEEL_SHA256}"]}}}},
               "develop": {{"idna": {{"version": "==3.7", "hashes": []}}}}}}"#
        ),
    );
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("from Pipfile.lock"), "{out}");
    assert!(sandbox.imports(&sandbox.venv(), "six"));
    assert!(!sandbox.imports(&sandbox.venv(), "idna"), "develop packages are not installed");
}

#[test]
fn pipfile_lock_with_a_wrong_hash_is_refused() {
    let sandbox = Sandbox::new();
    let wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    sandbox.write(
        "Pipfile.lock",
        &format!(r#"{{"default": {{"six": {{"version": "==1.16.0", "hashes": ["{wrong}"]}}}}}}"#),
    );
    let err = crate::util::run_fails(sandbox.warp(&["build"]).env("WARP_INSTALLER", "pip"), 1);
    assert!(err.contains("installing from Pipfile.lock failed"), "{err}");
    assert!(err.to_lowercase().contains("hash"), "the installer's own words are shown: {err}");
}

#[test]
fn uv_lock_installs_production_dependencies_only() {
    let sandbox = Sandbox::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/uvlock");
    for file in ["pyproject.toml", "uv.lock"] {
        std::fs::copy(fixture.join(file), sandbox.app().join(file)).unwrap();
    }
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("from uv.lock"), "{out}");
    assert!(sandbox.imports(&sandbox.venv(), "six"));
    assert!(!sandbox.imports(&sandbox.venv(), "idna"), "dev dependencies are not installed");
}

#[test]
fn uv_lock_that_disagrees_with_pyproject_is_an_error() {
    let sandbox = Sandbox::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/uvlock");
    std::fs::copy(fixture.join("uv.lock"), sandbox.app().join("uv.lock")).unwrap();
    let pyproject = std::fs::read_to_string(fixture.join("pyproject.toml")).unwrap();
    sandbox.write("pyproject.toml", &pyproject.replace("six==1.16.0", "six==1.17.0"));
    let err = sandbox.fails(&["build"], 1);
    assert!(err.contains("reading uv.lock"), "{err}");
    assert!(err.contains("uv lock"), "says how to fix it: {err}");
}

#[test]
fn pyproject_without_build_system_installs_its_dependencies_only() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "pyproject.toml",
        "[project]\nname = \"plainapp\"\nversion = \"1.0\"\ndependencies = [\"six==1.16.0\"]\n",
    );
    sandbox.write("wsgi.py", "application = None\n");
    sandbox.ok(&["build"]);
    assert!(sandbox.imports(&sandbox.venv(), "six"));
    let listed = sandbox.python(&sandbox.venv(), "import importlib.metadata as m; print(sorted(d.metadata['Name'] for d in m.distributions()))");
    assert!(!listed.contains("plainapp"), "the app itself is not installed: {listed}");
}

#[test]
fn setup_py_app_is_installed_editable_with_its_requirements() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "setup.py",
        "from setuptools import setup\nsetup(name='myapp', version='1.0', py_modules=['myapp'], install_requires=['six==1.16.0'])\n",
    );
    sandbox.write("myapp.py", "VALUE = 1\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("dependencies installed"), "{out}");
    // Imported from elsewhere, the module comes from the source folder (editable).
    let file = sandbox.python(&sandbox.venv(), "import myapp, six; print(myapp.__file__)");
    assert_eq!(Path::new(&file), sandbox.app().canonicalize().unwrap().join("myapp.py"));
}

#[test]
fn requirements_and_setup_py_install_both() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", "idna==3.7\n");
    sandbox.write("setup.py", "from setuptools import setup\nsetup(name='both', version='1.0', py_modules=['both'])\n");
    sandbox.write("both.py", "");
    sandbox.ok(&["build"]);
    assert!(sandbox.imports(&sandbox.venv(), "idna"));
    assert!(sandbox.imports(&sandbox.venv(), "both"));
}

#[test]
fn a_lone_wsgi_py_still_gets_a_venv() {
    let sandbox = Sandbox::example("hello");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("nothing to install"), "{out}");
    assert!(sandbox.venv().join("pyvenv.cfg").is_file());
    assert_eq!(sandbox.python(&sandbox.venv(), "import sys; print(sys.prefix != sys.base_prefix)"), "True");
}

#[test]
fn unchanged_rebuild_installs_nothing_and_a_change_reinstalls() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", SIX);
    sandbox.ok(&["build"]);
    let marker = sandbox.venv().join("lib").join("marker-left-by-test");
    std::fs::write(&marker, "").unwrap();

    let out = sandbox.ok(&["build"]);
    assert!(out.contains("nothing reinstalled"), "{out}");
    assert!(!out.contains("installing dependencies"), "{out}");
    assert!(marker.exists(), "the venv was left alone");

    sandbox.write("requirements.txt", "six==1.16.0\nidna==3.7\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("dependencies installed"), "{out}");
    assert!(!marker.exists(), "a changed input gives a fresh venv");
    assert!(sandbox.imports(&sandbox.venv(), "idna"));
}

#[test]
fn the_same_python_named_another_way_reinstalls_nothing() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["build"]);
    let before = std::fs::read_to_string(sandbox.venv().join("pyvenv.cfg")).unwrap();
    // The same interpreter by another name (python3.11, not python3): nothing to do.
    let python = sandbox.python(&sandbox.venv(), "import sys; print(sys._base_executable)");
    let out = crate::util::run_ok(sandbox.warp(&["build"]).env("WARP_PYTHON", &python));
    assert!(out.contains("nothing reinstalled"), "{out}");
    assert_eq!(before, std::fs::read_to_string(sandbox.venv().join("pyvenv.cfg")).unwrap());
}

#[test]
fn another_python_version_rebuilds_the_venv() {
    let other = ["3.12", "3.10", "3.13"].into_iter().find(|v| {
        std::process::Command::new("sh")
            .args(["-c", &format!("ls -d \"$HOME\"/.pyenv/versions/{v}.*/bin/python3")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(other) = other else {
        eprintln!("skipped: only one supported Python on this machine");
        return;
    };
    let sandbox = Sandbox::new();
    sandbox.ok(&["build"]);
    sandbox.write(".python-version", other);
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("dependencies installed"), "{out}");
    let version = sandbox.python(&sandbox.venv(), "import sys; print('%d.%d' % sys.version_info[:2])");
    assert_eq!(version, other);
}

#[test]
fn a_bad_requirement_keeps_the_previous_venv_working() {
    for installer in ["pip", "uv"] {
        let sandbox = Sandbox::new();
        sandbox.write("requirements.txt", SIX);
        build_with(installer, &sandbox);
        sandbox.write("requirements.txt", "six==1.16.0\nno-such-package-warp-test-zz==9.9\n");
        let err = crate::util::run_fails(sandbox.warp(&["build"]).env("WARP_INSTALLER", installer), 1);
        assert!(err.contains("error: dependencies were not installed; the previous venv is unchanged"), "{err}");
        assert!(err.contains("no-such-package-warp-test-zz"), "the installer's own lines are shown: {err}");
        assert!(sandbox.imports(&sandbox.venv(), "six"), "{installer}: the old venv still works");
        assert!(!sandbox.venv().join(".warp-previous").exists());
        // Back to the old file: the restored venv is known to match it.
        sandbox.write("requirements.txt", SIX);
        let out = build_with(installer, &sandbox);
        assert!(out.contains("nothing reinstalled"), "{out}");
    }
}

#[test]
fn a_malformed_requirement_line_is_reported() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", "six===\n");
    let err = crate::util::run_fails(sandbox.warp(&["build"]).env("WARP_INSTALLER", "pip"), 1);
    assert!(err.contains("installing from requirements.txt failed: pip exited with code"), "{err}");
}

#[test]
fn missing_python_is_one_clear_error() {
    let sandbox = Sandbox::new();
    let err = crate::util::run_fails(sandbox.warp(&["build"]).env("WARP_PYTHON", "/nonexistent/python3"), 1);
    assert!(err.starts_with("error: no Python found for \"/nonexistent/python3\" (from WARP_PYTHON)"), "{err}");
    assert!(err.contains("set WARP_PYTHON"), "{err}");
    assert!(!sandbox.venv().exists(), "nothing was written");

    sandbox.write(".python-version", "3.99\n");
    let err = sandbox.fails(&["build"], 1);
    assert!(err.contains("no Python found for \"3.99\" (from .python-version); looked for"), "{err}");
    assert!(err.contains("python3.99 on PATH"), "{err}");

    sandbox.write(".python-version", "banana\n");
    let err = sandbox.fails(&["build"], 1);
    assert!(err.contains(".python-version says \"banana\", which is not a Python version"), "{err}");
}

#[test]
fn too_old_python_is_refused() {
    // Any interpreter older than 3.9 that this machine has (pyenv keeps several).
    let old = ["3.8", "3.7", "3.6"]
        .iter()
        .map(|v| format!("python{v}"))
        .chain(std::fs::read_dir(std::env::var("HOME").unwrap() + "/.pyenv/versions").into_iter().flatten().flatten().filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            (name.starts_with("3.8") || name.starts_with("3.7") || name.starts_with("2.7"))
                .then(|| e.path().join("bin/python").to_string_lossy().into_owned())
        }))
        .find(|p| std::process::Command::new(p).arg("-V").output().is_ok_and(|o| o.status.success()));
    let Some(old) = old else {
        eprintln!("skipped: no Python older than 3.9 on this machine");
        return;
    };
    let sandbox = Sandbox::new();
    let err = crate::util::run_fails(sandbox.warp(&["build"]).env("WARP_PYTHON", &old), 1);
    assert!(err.contains("is too old: warp needs Python 3.9 or newer"), "{err}");
    assert!(!sandbox.venv().exists());
}

#[test]
fn python_version_file_picks_the_interpreter() {
    let sandbox = Sandbox::new();
    sandbox.write(".python-version", "3.11\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("from .python-version"), "{out}");
    assert_eq!(sandbox.python(&sandbox.venv(), "import sys; print(sys.version_info[:2])"), "(3, 11)");
}

#[test]
fn build_hooks_run_in_order_with_the_build_environment() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", SIX);
    sandbox.write(".s2i/environment", "FROM_S2I=s2i\nOVERRIDDEN=s2i\nINHERITED=file\n");
    sandbox.write(".warp/environment", "# settings\nFROM_WARP=warp\nOVERRIDDEN=warp\n");
    let record = |name: &str| {
        format!(
            "#!/bin/sh\nset -e\necho \"{name} cwd=$(pwd) venv=$VIRTUAL_ENV py=$(command -v python) s2i=$FROM_S2I warp=$FROM_WARP over=$OVERRIDDEN inh=$INHERITED hook=$FROM_HOOK six=$(python -c 'import six' 2>/dev/null && echo yes || echo no)\" >> order.log\n"
        )
    };
    sandbox.write_exec(".warp/action_hooks/pre-build", &record("pre-build"));
    sandbox.write_exec(
        ".warp/action_hooks/build-env",
        &(record("build-env") + "echo FROM_HOOK=hooked\necho '# a comment'\n"),
    );
    sandbox.write_exec(".warp/action_hooks/build", &record("build"));
    let out = crate::util::run_ok(sandbox.warp(&["build"]).env("INHERITED", "process"));

    let log = std::fs::read_to_string(sandbox.app().join("order.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let app = sandbox.app().canonicalize().unwrap();
    let venv = app.join(".venv");
    let common = format!(
        "cwd={} venv={} py={}/bin/python s2i=s2i warp=warp over=warp inh=process",
        app.display(),
        venv.display(),
        venv.display()
    );
    assert_eq!(
        lines,
        [
            format!("pre-build {common} hook= six=no"),
            format!("build-env {common} hook= six=no"),
            format!("build {common} hook=hooked six=yes"),
        ],
        "{out}"
    );
}

#[test]
fn a_failing_hook_stops_the_build_with_its_name_code_and_output() {
    let sandbox = Sandbox::new();
    sandbox.write_exec(".warp/action_hooks/build", "#!/bin/sh\necho preparing\necho 'boom: no config' >&2\nexit 3\n");
    let err = sandbox.fails(&["build"], 1);
    assert!(
        err.contains("error: action hook build failed: .warp/action_hooks/build exited with code 3; its last output:"),
        "{err}"
    );
    assert!(err.contains("boom: no config"), "{err}");
}

#[test]
fn build_env_output_must_be_assignments() {
    let sandbox = Sandbox::new();
    sandbox.write_exec(".warp/action_hooks/build-env", "#!/bin/sh\necho 'not an assignment'\n");
    let err = sandbox.fails(&["build"], 1);
    assert!(err.contains("output of action hook build-env:1: expected KEY=VALUE"), "{err}");
}

#[test]
fn a_hook_that_is_not_executable_is_a_warning() {
    let sandbox = Sandbox::new();
    sandbox.write(".warp/action_hooks/build", "#!/bin/sh\ntouch ran\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("warning: action hook .warp/action_hooks/build is not executable"), "{out}");
    assert!(out.contains("chmod +x"), "{out}");
    assert!(!sandbox.app().join("ran").exists());
}

#[test]
fn a_warpdrive_folder_is_read_as_warp() {
    let sandbox = Sandbox::new();
    sandbox.write(".warpdrive/environment", "LEGACY=yes\n");
    sandbox.write_exec(".warpdrive/action_hooks/build", "#!/bin/sh\necho \"legacy=$LEGACY\" > built\n");
    sandbox.ok(&["build"]);
    assert_eq!(std::fs::read_to_string(sandbox.app().join("built")).unwrap(), "legacy=yes\n");
}

#[test]
fn a_malformed_environment_file_names_the_line() {
    let sandbox = Sandbox::new();
    sandbox.write(".warp/environment", "GOOD=1\nexport BAD=2\n");
    let err = sandbox.fails(&["build"], 1);
    assert!(err.contains(".warp/environment:2: expected KEY=VALUE, found \"export BAD=2\""), "{err}");
}

#[test]
fn django_collectstatic_runs_unless_disabled() {
    let sandbox = Sandbox::example("django");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("django collectstatic: ") && out.contains(" static files copied"), "{out}");
    assert!(sandbox.app().join("staticfiles/css/site.css").is_file());
    assert!(sandbox.app().join("staticfiles/admin/css/base.css").is_file(), "the admin's files too");

    let skipped = Sandbox::example("django");
    crate::util::run_ok(skipped.warp(&["build"]).env("WARP_DISABLE_COLLECTSTATIC", "1"));
    assert!(!skipped.app().join("staticfiles").exists());
}

#[test]
fn django_collectstatic_failure_says_how_to_skip_it() {
    let sandbox = Sandbox::example("django");
    let settings = sandbox.app().join("mysite/settings.py");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, text.replace("STATIC_ROOT = BASE_DIR / \"staticfiles\"", "")).unwrap();
    let err = sandbox.fails(&["build"], 1);
    assert!(err.contains("WARP_DISABLE_COLLECTSTATIC=1"), "{err}");
    assert!(err.contains("STATIC_ROOT"), "Django's own words are shown: {err}");
}

#[test]
fn the_flask_example_builds_and_imports_as_the_readme_says() {
    let sandbox = Sandbox::example("flask");
    sandbox.ok(&["build"]);
    let out = sandbox.ok(&["exec", "python", "-c", "import flask, os; print('flask ok', os.environ['GREETING_NAME'])"]);
    assert!(out.contains("flask ok Flask"), "{out}");
}

#[test]
fn uv_is_fetched_into_the_cache_when_missing_from_path() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", SIX);
    let cache = sandbox.root().join("own-cache");
    // A PATH with the system's tools but no uv.
    let path: Vec<_> = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .filter(|dir| !dir.join("uv").exists())
        .collect();
    let out = crate::util::run_ok(
        sandbox
            .warp(&["build"])
            .env("WARP_CACHE_DIR", &cache)
            .env("PATH", std::env::join_paths(path).unwrap()),
    );
    assert!(out.contains("uv is not on PATH: installing it into warp's cache"), "{out}");
    assert!(cache.join("tools/uv/bin/uv").is_file());
    assert!(sandbox.imports(&sandbox.venv(), "six"));
}

#[test]
fn an_unknown_installer_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let err = crate::util::run_fails(sandbox.warp(&["build"]).env("WARP_INSTALLER", "conda"), 1);
    assert!(err.contains("WARP_INSTALLER is \"conda\": set it to uv or pip"), "{err}");
}

#[test]
fn a_missing_source_folder_is_one_line() {
    let sandbox = Sandbox::new();
    let err = sandbox.fails(&["build", "no-such-dir"], 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("source directory no-such-dir does not exist"), "{err}");
}

#[test]
fn the_server_module_is_a_real_distribution() {
    let sandbox = Sandbox::example("hello");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("installed warp's server module"), "{out}");
    let pip = |args: &[&str]| {
        let out = std::process::Command::new(sandbox.venv().join("bin/python"))
            .args(["-m", "pip"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(pip(&["list"]).contains("warp-server"));
    assert!(sandbox.imports(&sandbox.venv(), "warp_server"));
    let again = sandbox.ok(&["build"]);
    assert!(!again.contains("installed warp's server module"), "already current: {again}");
    pip(&["uninstall", "-y", "warp-server"]);
    assert!(!sandbox.imports(&sandbox.venv(), "warp_server"), "pip removed every file");
}
