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
    // pip's own venv module puts pip in; uv installs without it and leaves it out.
    assert_eq!(sandbox.imports(&sandbox.venv(), "pip"), installer == "pip");
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
    assert!(out.contains("(1 package installed)"), "{out}");
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
fn a_pipfile_lock_installs_from_the_index_it_names_whatever_index_the_environment_names() {
    // As pipenv and micropipenv install a lock: the OpenShift Python builder's
    // micropipenv-test-app sets PIP_INDEX_URL to a site with no packages at all.
    let sandbox = Sandbox::new();
    let (_port, index) = closed_index();
    sandbox.write(
        "Pipfile.lock",
        &format!(
            r#"{{"_meta": {{"sources": [{{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}}]}},
               "default": {{"six": {{"version": "==1.16.0", "hashes": ["{SIX_WHEEL_SHA256}"]}}}}}}"#
        ),
    );
    sandbox.write(".s2i/environment", &format!("PIP_INDEX_URL={index}\nUV_DEFAULT_INDEX={index}\n"));
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("from Pipfile.lock"), "{out}");
    assert!(sandbox.imports(&sandbox.venv(), "six"));
}

#[test]
fn pipfile_lock_with_a_wrong_hash_is_refused() {
    let sandbox = Sandbox::new();
    let wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    sandbox.write("Pipfile.lock", &format!(r#"{{"default": {{"six": {{"version": "==1.16.0", "hashes": ["{wrong}"]}}}}}}"#));
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
    sandbox.write("pyproject.toml", "[project]\nname = \"plainapp\"\nversion = \"1.0\"\ndependencies = [\"six==1.16.0\"]\n");
    sandbox.write("wsgi.py", "application = None\n");
    sandbox.ok(&["build"]);
    assert!(sandbox.imports(&sandbox.venv(), "six"));
    let listed =
        sandbox.python(&sandbox.venv(), "import importlib.metadata as m; print(sorted(d.metadata['Name'] for d in m.distributions()))");
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
    assert!(out.contains("installing the app itself from setup.py (editable) with the dependencies it declares with uv"), "{out}");
    assert!(out.contains("(2 packages installed)"), "myapp and six: {out}");
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

/// The distribution names installed in the sandbox's venv, lower-case.
fn installed(sandbox: &Sandbox) -> String {
    sandbox.python(&sandbox.venv(), "import importlib.metadata as m; print(sorted(d.metadata['Name'].lower() for d in m.distributions()))")
}

const SETUP_PY_WITH_SIX: &str =
    "from setuptools import setup\nsetup(name='myapp', version='1.0', py_modules=['myapp'], install_requires=['six==1.16.0'])\n";

/// WARP_INSTALL_APP=false (sclorg's DISABLE_SETUP_PY_PROCESSING and
/// DISABLE_PYPROJECT_TOML_PROCESSING): the dependencies, not the app itself.
#[test]
fn install_app_false_leaves_the_package_itself_out() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", "idna==3.7\n");
    sandbox.write("setup.py", SETUP_PY_WITH_SIX);
    sandbox.write("myapp.py", "VALUE = 1\n");
    let out = crate::util::run_ok(sandbox.warp(&["build"]).env("WARP_INSTALL_APP", "false"));
    assert!(out.contains("dependencies from requirements.txt (the app itself, setup.py, is left out, as WARP_INSTALL_APP says)"), "{out}");
    let names = installed(&sandbox);
    assert!(names.contains("'idna'") && !names.contains("myapp") && !names.contains("six"), "{names}");
    // The setting is an input of the install: back to the default, the app comes in.
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("then the app itself from setup.py"), "{out}");
    assert!(installed(&sandbox).contains("'myapp'"));

    // A pyproject.toml package: its [project].dependencies are still installed, from
    // .warp/config.yaml's key too.
    let sandbox = Sandbox::new();
    sandbox.write(
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"pkgapp\"\nversion = \"1.0\"\ndependencies = [\"six==1.16.0\"]\n",
    );
    sandbox.write(".warp/config.yaml", "build:\n  install_app: false\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("pyproject.toml [project].dependencies (the app itself, pyproject.toml, is left out"), "{out}");
    let names = installed(&sandbox);
    assert!(names.contains("'six'") && !names.contains("pkgapp"), "{names}");

    // A package with nothing else to install gets its venv and says why it is empty.
    let sandbox = Sandbox::new();
    sandbox.write("setup.py", SETUP_PY_WITH_SIX);
    let out = crate::util::run_ok(sandbox.warp(&["build"]).env("WARP_INSTALL_APP", "0"));
    assert!(out.contains("installing nothing: the app itself (setup.py) is left out, as WARP_INSTALL_APP says"), "{out}");
    assert!(!installed(&sandbox).contains("myapp"));
    let err = crate::util::run_fails(sandbox.warp(&["build"]).env("WARP_INSTALL_APP", "perhaps"), 2);
    assert!(err.contains("WARP_INSTALL_APP") && err.contains("true, false"), "{err}");
}

/// A lock or requirements file that lists the app's own folder installs it: the build does
/// not install it a second time, and says so.
#[test]
fn a_lock_that_lists_the_app_installs_it_once() {
    let sandbox = Sandbox::new();
    sandbox.write("setup.py", SETUP_PY_WITH_SIX);
    sandbox.write("myapp.py", "VALUE = 1\n");
    // As pipenv writes the app itself into Pipfile.lock (sclorg's pipenv-test-app).
    sandbox.write(
        "Pipfile.lock",
        r#"{"_meta": {"sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}]},
            "default": {"myapp": {"editable": true, "path": "."}, "six": {"version": "==1.16.0"}}}"#,
    );
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("the app itself is installed from Pipfile.lock (`-e .`), so it is not installed again from setup.py"), "{out}");
    let file = sandbox.python(&sandbox.venv(), "import myapp, six; print(myapp.__file__)");
    assert_eq!(Path::new(&file), sandbox.app().canonicalize().unwrap().join("myapp.py"), "installed editable, from the lock");

    // A requirements.txt that installs it, through an include (sclorg's setup-requirements-test-app).
    std::fs::remove_file(sandbox.app().join("Pipfile.lock")).unwrap();
    sandbox.write("requirements.txt", "-r base.txt\n");
    sandbox.write("base.txt", "-e .\nidna==3.7\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("the app itself is installed from requirements.txt (`-e .`), so it is not installed again"), "{out}");
    let names = installed(&sandbox);
    assert!(names.contains("'myapp'") && names.contains("'idna'") && names.contains("'six'"), "{names}");
}

/// WARP_PIPENV_VERSION (sclorg's PIN_PIPENV_VERSION): that pipenv, in the venv and on the
/// app's PATH; a change of version reinstalls, the same one does not.
#[test]
fn pipenv_version_puts_that_pipenv_on_the_apps_path() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", SIX);
    sandbox.write(".warp/environment", "WARP_PIPENV_VERSION=2026.0.3\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("installing pipenv 2026.0.3, then dependencies from requirements.txt with uv"), "{out}");
    let version = sandbox.ok(&["exec", "sh", "-c", "command -v pipenv && pipenv --version"]);
    let venv = sandbox.venv().canonicalize().unwrap();
    assert_eq!(version.lines().collect::<Vec<_>>(), [&format!("{}/bin/pipenv", venv.display()), "pipenv, version 2026.0.3"]);
    assert!(sandbox.imports(&sandbox.venv(), "six"));
    assert!(sandbox.ok(&["build"]).contains("nothing reinstalled"));

    sandbox.write(".warp/environment", "WARP_PIPENV_VERSION=2026.0.2\n");
    sandbox.ok(&["build"]);
    assert_eq!(sandbox.ok(&["exec", "pipenv", "--version"]).trim(), "pipenv, version 2026.0.2");

    // A version that is not one is refused before anything is touched.
    sandbox.write(".warp/environment", "WARP_PIPENV_VERSION=latest\n");
    let err = sandbox.fails(&["build"], 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("WARP_PIPENV_VERSION in .warp/environment:1: \"latest\" is not a version number"), "{err}");
    // A release PyPI does not have fails the install and keeps the venv as it was.
    sandbox.write(".warp/environment", "WARP_PIPENV_VERSION=1.99.99\n");
    let err = sandbox.fails(&["build"], 1);
    assert!(err.contains("installing pipenv 1.99.99 failed") && err.contains("the previous venv is unchanged"), "{err}");
    assert_eq!(sandbox.ok(&["exec", "pipenv", "--version"]).trim(), "pipenv, version 2026.0.2");
}

/// WARP_UPGRADE_PIP (sclorg's UPGRADE_PIP_TO_LATEST): pip, setuptools and wheel at their
/// latest releases. On Python 3.12 the venv is seeded with pip alone, so setuptools and wheel
/// are there only because of the setting.
#[test]
fn upgrade_pip_brings_pip_setuptools_and_wheel_to_their_latest() {
    crate::util::require(newest_python(|minor| minor == 12).is_some(), &format!("Python 3.12 ({INSTALL_PYTHON})"));
    let sandbox = Sandbox::new();
    sandbox.write(".python-version", "3.12\n");
    sandbox.ok(&["build"]);
    let names = installed(&sandbox);
    assert!(!names.contains("setuptools") && !names.contains("wheel"), "{names}");

    let out = crate::util::run_ok(sandbox.warp(&["build"]).env("WARP_UPGRADE_PIP", "true"));
    assert!(out.contains("installing the latest pip, setuptools, wheel with uv"), "{out}");
    let names = installed(&sandbox);
    assert!(names.contains("'setuptools'") && names.contains("'wheel'"), "{names}");
    // pip itself asks the index what is newer.
    let outdated = sandbox.ok(&["exec", "python", "-m", "pip", "list", "--outdated", "--format=json"]);
    for tool in ["pip", "setuptools", "wheel"] {
        assert!(!outdated.contains(&format!("\"name\": \"{tool}\"")), "{tool} is outdated: {outdated}");
    }
    let out = crate::util::run_ok(sandbox.warp(&["build"]).env("WARP_UPGRADE_PIP", "true"));
    assert!(out.contains("nothing reinstalled"), "{out}");
}

#[test]
fn a_lone_wsgi_py_still_gets_a_venv() {
    let sandbox = Sandbox::example("hello");
    let out = sandbox.ok(&["build"]);
    assert!(
        out.contains("no dependency file (uv.lock, Pipfile.lock, requirements.txt, pyproject.toml, setup.py): nothing to install"),
        "{out}"
    );
    assert!(out.contains("(no dependencies to install)"), "{out}");
    assert!(!out.contains("installed)"), "nothing was installed: {out}");
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
    assert!(out.contains("(2 packages installed)"), "{out}");
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
    let other = [12, 10, 13].into_iter().find(|minor| newest_python(|m| m == *minor).is_some()).map(|minor| format!("3.{minor}"));
    crate::util::require(other.is_some(), &format!("a second Python: 3.10, 3.12 or 3.13 ({INSTALL_PYTHON})"));
    let other = other.unwrap_or_default();
    let other = other.as_str();
    let sandbox = Sandbox::new();
    sandbox.ok(&["build"]);
    sandbox.write(".python-version", other);
    let out = sandbox.ok(&["build"]);
    assert!(out.contains(&format!("creating venv {}", sandbox.venv().canonicalize().unwrap().display())), "{out}");
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
    crate::util::require(old.is_some(), &format!("a Python older than 3.9, such as 3.8 ({INSTALL_PYTHON})"));
    let old = old.unwrap_or_default();
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
    sandbox.write_exec(".warp/action_hooks/build-env", &(record("build-env") + "echo FROM_HOOK=hooked\necho '# a comment'\n"));
    sandbox.write_exec(".warp/action_hooks/build", &record("build"));
    let out = crate::util::run_ok(sandbox.warp(&["build"]).env("INHERITED", "process"));

    let log = std::fs::read_to_string(sandbox.app().join("order.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let app = sandbox.app().canonicalize().unwrap();
    let venv = app.join(".venv");
    let common =
        format!("cwd={} venv={} py={}/bin/python s2i=s2i warp=warp over=warp inh=process", app.display(), venv.display(), venv.display());
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
    assert!(err.contains("error: action hook build failed: .warp/action_hooks/build exited with code 3; its last output:"), "{err}");
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

/// PATH with the system's tools but without any uv, so warp must fetch its own.
fn path_without_uv() -> std::ffi::OsString {
    let path: Vec<_> = std::env::split_paths(&std::env::var_os("PATH").unwrap()).filter(|dir| !dir.join("uv").exists()).collect();
    std::env::join_paths(path).unwrap()
}

/// `warp build` with the default installer (no WARP_INSTALLER), no uv on PATH, and its own
/// empty cache.
fn build_without_uv(sandbox: &Sandbox, cache: &Path) -> std::process::Command {
    let mut cmd = sandbox.warp(&["build"]);
    cmd.env_remove("WARP_INSTALLER").env("WARP_CACHE_DIR", cache).env("PATH", path_without_uv());
    cmd
}

fn fetched_uv(cache: &Path) -> std::path::PathBuf {
    cache.join(format!("tools/uv-{}/bin/uv", warp::build::uv::VERSION))
}

#[test]
fn the_default_installer_is_uv_fetched_into_the_cache() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", SIX);
    let cache = sandbox.root().join("own-cache");
    let out = crate::util::run_ok(&mut build_without_uv(&sandbox, &cache));
    let version = warp::build::uv::VERSION;
    assert!(out.contains(&format!("uv is not on PATH: fetching uv {version} from PyPI into warp's cache (hash-checked)")), "{out}");
    assert!(out.contains("installing dependencies from requirements.txt with uv"), "{out}");
    let reported = std::process::Command::new(fetched_uv(&cache)).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&reported.stdout).contains(version), "{reported:?}");
    assert!(sandbox.imports(&sandbox.venv(), "six"));

    // Another app on the same machine uses the cached copy.
    let other = Sandbox::new();
    other.write("requirements.txt", SIX);
    let out = crate::util::run_ok(&mut build_without_uv(&other, &cache));
    assert!(!out.contains("fetching uv"), "{out}");
    assert!(out.contains("installing dependencies from requirements.txt with uv"), "{out}");
}

/// An index URL on a loopback port where nothing listens, for as long as the port is held.
fn closed_index() -> (crate::running::Reserved, String) {
    let port = crate::running::reserve_port();
    let url = format!("http://127.0.0.1:{}/simple", port.port);
    (port, url)
}

#[test]
fn without_uv_and_without_an_index_the_build_falls_back_to_pip_and_says_why() {
    let sandbox = Sandbox::example("hello");
    let cache = sandbox.root().join("own-cache");
    let (_port, index) = closed_index();
    let out = crate::util::run_ok(build_without_uv(&sandbox, &cache).env("PIP_INDEX_URL", &index).env("PIP_RETRIES", "0"));
    let said: Vec<&str> = out.lines().filter(|l| l.contains("could not be fetched")).collect();
    assert_eq!(said.len(), 1, "one line says so: {out}");
    assert!(
        said[0].starts_with("warning: installing with pip: uv is not on PATH and could not be fetched (pip could not fetch uv"),
        "{out}"
    );
    assert!(out.contains("creating venv") && out.contains("with pip: created"), "{out}");
    assert!(sandbox.venv().join("pyvenv.cfg").is_file());
    assert!(!fetched_uv(&cache).exists());

    // Asked for by name, uv that cannot be had is an error, and no venv is left behind.
    let forced = Sandbox::example("hello");
    let err = crate::util::run_fails(
        build_without_uv(&forced, &cache).env("WARP_INSTALLER", "uv").env("PIP_INDEX_URL", &index).env("PIP_RETRIES", "0"),
        1,
    );
    assert!(err.contains("error: WARP_INSTALLER is uv, but uv is not on PATH and could not be fetched"), "{err}");
    assert!(err.contains("put uv on PATH, or set WARP_INSTALLER=pip"), "{err}");
    assert!(!forced.venv().exists(), "nothing was written");

    // WARP_INSTALLER=pip does not try.
    let pip = Sandbox::example("hello");
    let out = crate::util::run_ok(
        build_without_uv(&pip, &cache).env("WARP_INSTALLER", "pip").env("PIP_INDEX_URL", &index).env("PIP_RETRIES", "0"),
    );
    assert!(!out.contains("fetch"), "{out}");
    assert!(out.contains("with pip: created"), "{out}");
}

#[test]
fn a_uv_download_that_does_not_match_the_pinned_hash_is_refused() {
    // The genuine wheel for this machine, from PyPI, checked against warp's own pins.
    let dir = tempfile::tempdir().unwrap();
    let pins = dir.path().join("pins.txt");
    std::fs::write(&pins, warp::build::uv::requirements_text()).unwrap();
    let wheels = dir.path().join("wheels");
    let download = std::process::Command::new("python3")
        .args(["-m", "pip", "download", "--disable-pip-version-check", "--no-deps", "--only-binary", ":all:", "--require-hashes", "-r"])
        .arg(&pins)
        .arg("--dest")
        .arg(&wheels)
        .env("PIP_CACHE_DIR", crate::util::shared_cache().join("pip"))
        .output()
        .unwrap();
    assert!(download.status.success(), "{}", String::from_utf8_lossy(&download.stderr));
    let wheel = std::fs::read_dir(&wheels).unwrap().next().unwrap().unwrap().path();
    let genuine = std::fs::read(&wheel).unwrap();
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();

    // The same wheel, still a valid zip, with one file added.
    let mut tampered_file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut tampered_file, &genuine).unwrap();
    let added = std::process::Command::new("python3")
        .args(["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'a').writestr('uv/extra.py', 'print(1)')"])
        .arg(tampered_file.path())
        .status()
        .unwrap();
    assert!(added.success());
    let tampered = std::fs::read(tampered_file.path()).unwrap();
    assert_ne!(genuine, tampered);

    let build = |wheel: Vec<u8>| {
        let index = Index::serve(&name, wheel);
        let sandbox = Sandbox::example("hello");
        let cache = sandbox.root().join("own-cache");
        let out = build_without_uv(&sandbox, &cache).env("WARP_INSTALLER", "uv").env("PIP_INDEX_URL", index.url()).output().unwrap();
        (out, cache, sandbox)
    };
    // The index works: served as published, the wheel is taken.
    let (out, cache, _sandbox) = build(genuine);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(fetched_uv(&cache).is_file());

    // One file more, and it is refused.
    let (out, cache, sandbox) = build(tampered);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("the download of uv {} did not match its pinned sha256, so it was refused", warp::build::uv::VERSION)),
        "{err}"
    );
    assert!(!fetched_uv(&cache).exists(), "nothing was installed into the cache");
    assert!(!sandbox.venv().exists());
}

/// A package index on loopback that serves one wheel (PEP 503 simple pages).
struct Index {
    addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Index {
    fn serve(name: &str, wheel: Vec<u8>) -> Index {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let project = name.split('-').next().unwrap().to_owned();
        let name = name.to_owned();
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut head = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                while reader.read_line(&mut head).is_ok_and(|n| n > 2) && !head.ends_with("\r\n\r\n") {}
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let (status, kind, body) = if path.trim_end_matches('/') == format!("/simple/{project}") {
                    let page = format!("<html><body><a href=\"/files/{name}\">{name}</a></body></html>");
                    ("200 OK", "text/html", page.into_bytes())
                } else if path == format!("/files/{name}") {
                    ("200 OK", "application/octet-stream", wheel.clone())
                } else {
                    ("404 Not Found", "text/plain", b"not here".to_vec())
                };
                let head =
                    format!("HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
            }
        });
        Index { addr, stop, thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("http://{}/simple", self.addr)
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn an_unknown_installer_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let err = crate::util::run_fails(sandbox.warp(&["build"]).env("WARP_INSTALLER", "conda"), 2);
    assert_eq!(err, "error: WARP_INSTALLER: \"conda\" is not one of uv, pip\n");
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
    let out = crate::util::run_ok(sandbox.warp(&["build"]).env("WARP_SEED_PIP", "true"));
    assert!(out.contains("installed warp's server module"), "{out}");
    let pip = |args: &[&str]| {
        let out = std::process::Command::new(sandbox.venv().join("bin/python")).args(["-m", "pip"]).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(pip(&["list"]).contains("warp-server"));
    assert!(sandbox.imports(&sandbox.venv(), "warp_server"));
    let again = crate::util::run_ok(sandbox.warp(&["build"]).env("WARP_SEED_PIP", "true"));
    assert!(!again.contains("installed warp's server module"), "already current: {again}");
    pip(&["uninstall", "-y", "warp-server"]);
    assert!(!sandbox.imports(&sandbox.venv(), "warp_server"), "pip removed every file");
}

/// How to get the interpreters some tests need (CI has them).
const INSTALL_PYTHON: &str = "`pyenv install 3.X`, or `uv python install 3.X` with ~/.local/bin on PATH";

/// The newest interpreter whose minor version passes `minor`, as "3.13.0", among those
/// warp looks at: pyenv's versions and python3.N on PATH.
fn newest_python(minor: impl Fn(u32) -> bool) -> Option<String> {
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".pyenv")))?
        .join("versions");
    let mut candidates: Vec<std::path::PathBuf> =
        std::fs::read_dir(pyenv).into_iter().flatten().flatten().map(|e| e.path().join("bin/python3")).collect();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).filter(|d| !d.ends_with("shims")) {
        candidates.extend((9..=20).filter(|m| minor(*m)).map(|m| dir.join(format!("python3.{m}"))));
    }
    candidates
        .iter()
        .filter(|python| python.is_file())
        .filter_map(|python| {
            let out = std::process::Command::new(python).args(["-c", "import platform; print(platform.python_version())"]).output().ok()?;
            let version = String::from_utf8(out.stdout).ok()?.trim().to_owned();
            let parts: Vec<u32> = version.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
            (out.status.success() && parts.len() == 3 && parts[0] == 3 && minor(parts[1])).then_some((parts, version))
        })
        .max()
        .map(|(_, version)| version)
}

fn venv_version(sandbox: &Sandbox) -> String {
    sandbox.python(&sandbox.venv(), "import platform; print(platform.python_version())")
}

#[test]
fn poetry_python_constraint_picks_an_installed_interpreter_that_satisfies_it() {
    // The issue's case: python3 is 3.11, the project says ^3.12, and a newer one is installed.
    let newest = newest_python(|minor| minor >= 12);
    crate::util::require(newest.is_some(), &format!("Python 3.12 or newer ({INSTALL_PYTHON})"));
    let newest = newest.unwrap_or_default();
    let sandbox = Sandbox::new();
    sandbox.write("pyproject.toml", "[tool.poetry.dependencies]\npython = \"^3.12\"\n");
    sandbox.write("requirements.txt", SIX);
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("(from python in pyproject.toml [tool.poetry.dependencies] \"^3.12\")"), "{out}");
    assert_eq!(venv_version(&sandbox), newest, "the newest that satisfies ^3.12: {out}");
    assert!(sandbox.imports(&sandbox.venv(), "six"));
}

#[test]
fn requires_python_keeps_python3_when_it_satisfies() {
    let sandbox = Sandbox::new();
    sandbox.write("pyproject.toml", "[project]\nname = \"app\"\nversion = \"1\"\nrequires-python = \">=3.9\"\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("(from requires-python in pyproject.toml \">=3.9\")"), "{out}");
    let python3 = std::process::Command::new("python3")
        .args(["-c", "import platform; print(platform.python_version())"])
        .current_dir(sandbox.root())
        .output()
        .unwrap();
    assert_eq!(venv_version(&sandbox), String::from_utf8_lossy(&python3.stdout).trim());
}

#[test]
fn a_pipfile_python_version_chooses_the_interpreter() {
    let v310 = newest_python(|minor| minor == 10);
    crate::util::require(v310.is_some(), &format!("Python 3.10 ({INSTALL_PYTHON})"));
    let v310 = v310.unwrap_or_default();
    let sandbox = Sandbox::new();
    sandbox.write("Pipfile", "[packages]\nsix = \"*\"\n\n[requires]\npython_version = \"3.10\"\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("(from python_version in Pipfile [requires] \"3.10\")"), "{out}");
    assert_eq!(venv_version(&sandbox), v310);
    assert!(out.contains("warning: a Pipfile but no Pipfile.lock"), "{out}");
}

#[test]
fn no_installed_python_satisfying_the_declaration_is_one_line() {
    let sandbox = Sandbox::new();
    sandbox.write("pyproject.toml", "[project]\nname = \"app\"\nversion = \"1\"\nrequires-python = \">=3.99\"\n");
    let err = sandbox.fails(&["build"], 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: no installed Python satisfies requires-python in pyproject.toml \">=3.99\" (found: 3."), "{err}");
    assert!(err.contains("): install one that does, or set WARP_PYTHON to choose one"), "{err}");
    assert!(!sandbox.venv().exists(), "nothing was written");

    sandbox.write("pyproject.toml", "[project]\nname = \"app\"\nversion = \"1\"\nrequires-python = \">=banana\"\n");
    let err = sandbox.fails(&["build"], 1);
    assert!(err.contains("requires-python in pyproject.toml is \">=banana\", which is not a Python version specifier"), "{err}");
}

#[test]
fn a_requested_python_outside_the_declaration_is_a_warning() {
    let sandbox = Sandbox::new();
    sandbox.write(".python-version", "3.11\n");
    sandbox.write("pyproject.toml", "[project]\nname = \"app\"\nversion = \"1\"\nrequires-python = \">=3.12\"\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("(from .python-version) is outside requires-python in pyproject.toml \">=3.12\""), "{out}");
    assert!(venv_version(&sandbox).starts_with("3.11."));
}

#[test]
fn markers_that_exclude_every_requirement_are_a_warning() {
    let sandbox = Sandbox::new();
    sandbox.write(".python-version", "3.11\n");
    sandbox
        .write("requirements.txt", "six==1.16.0 ; python_version >= \"3.12\"\nidna==3.7 ; python_version >= \"3.12\"  # new code only\n");
    let out = sandbox.ok(&["build"]);
    assert!(out.contains("warning: requirements.txt: every requirement's environment marker excludes Python 3.11."), "{out}");
    assert!(out.contains("(2 requirements, such as \"six==1.16.0 ; python_version >= \\\"3.12\\\"\")"), "{out}");
    assert!(out.contains("(no package installed)"), "{out}");
    assert!(!sandbox.imports(&sandbox.venv(), "six"));

    // One requirement that applies, and nothing is said.
    sandbox.write("requirements.txt", "six==1.16.0 ; python_version >= \"3.12\"\nidna==3.7\n");
    let out = sandbox.ok(&["build"]);
    assert!(!out.contains("environment marker"), "{out}");
    assert!(out.contains("(1 package installed)"), "{out}");
}

#[test]
fn a_pyproject_package_says_what_it_installs_and_from_where() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "pyproject.toml",
        "[project]\nname = \"pkgapp\"\nversion = \"1.0\"\ndependencies = [\"six==1.16.0\"]\n\n\
         [build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [tool.setuptools]\npy-modules = [\"pkgapp\"]\n",
    );
    sandbox.write("pkgapp.py", "VALUE = 1\n");
    let out = sandbox.ok(&["build"]);
    assert!(
        out.contains("installing the app itself from pyproject.toml (editable) with its 1 dependency from [project].dependencies with uv"),
        "{out}"
    );
    assert!(!out.contains("no dependency file"), "{out}");
    assert!(out.contains("(2 packages installed)"), "pkgapp and six: {out}");
    assert!(sandbox.imports(&sandbox.venv(), "pkgapp") && sandbox.imports(&sandbox.venv(), "six"));
}

/// `warp build` in `sandbox` with a cache of its own, and uv as the shared cache has it (a
/// first build fetches it) on PATH, so the build need not fetch uv into the new cache.
fn build_with_own_cache(sandbox: &Sandbox) -> std::process::Command {
    crate::util::run_ok(&mut Sandbox::example("hello").warp(&["build"]));
    let uv_bin = fetched_uv(&crate::util::shared_cache()).parent().unwrap().to_path_buf();
    let path = std::env::join_paths(std::iter::once(uv_bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap()))).unwrap();
    let mut cmd = sandbox.warp(&["build"]);
    cmd.env("WARP_CACHE_DIR", sandbox.root().join("own-cache")).env("PATH", path);
    cmd
}

#[test]
fn when_uv_cannot_seed_pip_the_venv_gets_the_pip_python_carries() {
    // A cache of the test's own, so no index page uv saw before can stand in for the closed index.
    let sandbox = Sandbox::example("hello");
    let (_port, index) = closed_index();
    let out = crate::util::run_ok(
        build_with_own_cache(&sandbox).env("UV_DEFAULT_INDEX", &index).env("PIP_INDEX_URL", &index).env("WARP_SEED_PIP", "true"),
    );
    let said: Vec<&str> = out.lines().filter(|l| l.contains("python -m venv instead")).collect();
    assert_eq!(said.len(), 1, "one line says so: {out}");
    assert!(said[0].starts_with("warning: uv could not seed pip into the virtualenv (uv exited with code 2: "), "{out}");
    let pip = std::process::Command::new(sandbox.venv().join("bin/python")).args(["-m", "pip", "--version"]).output().unwrap();
    assert!(pip.status.success(), "{pip:?}");
}

/// WARP_SEED_PIP: pip in a venv that uv makes, for hooks and people that run it; without
/// it, `warp exec pip` says how to get it rather than run some other Python's pip.
#[test]
fn seed_pip_puts_pip_into_a_uv_venv_and_a_change_rebuilds() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", SIX);
    sandbox.ok(&["build"]);
    assert!(!sandbox.imports(&sandbox.venv(), "pip"));
    for pip in ["pip", "pip3", "pip3.11"] {
        let err = sandbox.fails(&["exec", pip, "--version"], 1);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("has no {pip}: warp installs with uv and leaves pip out; build again with WARP_SEED_PIP=true")),
            "{err}"
        );
    }

    let out = crate::util::run_ok(sandbox.warp(&["build"]).env("WARP_SEED_PIP", "true"));
    assert!(out.contains("(1 package installed)"), "a venv with pip is another venv: {out}");
    assert!(sandbox.imports(&sandbox.venv(), "pip") && sandbox.imports(&sandbox.venv(), "six"));
    let version = sandbox.ok(&["exec", "pip", "--version"]);
    assert!(version.starts_with("pip ") && version.contains(&sandbox.venv().display().to_string()), "the venv's own pip: {version}");
    let out = crate::util::run_ok(sandbox.warp(&["build"]).env("WARP_SEED_PIP", "true"));
    assert!(out.contains("nothing reinstalled"), "{out}");
}

/// An interpreter's answers are kept in the cache, keyed by its file's state: a rebuild
/// need not start Python to learn its version, and a changed file is asked again.
#[test]
fn an_interpreters_answers_are_remembered_while_its_file_is_unchanged() {
    let out =
        std::process::Command::new("python3").args(["-c", "import os, sys; print(os.path.realpath(sys.executable))"]).output().unwrap();
    let python = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let sandbox = Sandbox::example("hello");
    let build = || crate::util::run_ok(build_with_own_cache(&sandbox).env("WARP_PYTHON", &python));
    let first = build();
    let memos: Vec<_> = std::fs::read_dir(sandbox.root().join("own-cache/interpreters")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(memos.len(), 1, "{memos:?}");
    let memo = &memos[0];
    let mut record: serde_json::Value = serde_json::from_slice(&std::fs::read(memo).unwrap()).unwrap();
    let [major, minor, micro] = [0, 1, 2].map(|i| record["answer"]["version"][i].as_u64().unwrap());
    assert!(first.contains(&format!("python: CPython {major}.{minor}.{micro} at ")), "{first}");

    // An answer that only the memo could give is believed while the stamp matches...
    record["answer"]["version"][2] = 99.into();
    std::fs::write(memo, record.to_string()).unwrap();
    assert!(build().contains(&format!("python: CPython {major}.{minor}.99 at ")), "recalled");
    // ...and asked again, and kept anew, once the file it was given for is not the same.
    record["stamp"] = "another file".into();
    std::fs::write(memo, record.to_string()).unwrap();
    assert!(build().contains(&format!("python: CPython {major}.{minor}.{micro} at ")), "asked again");
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(memo).unwrap()).unwrap();
    assert_ne!(kept["stamp"], "another file");
    assert_eq!(kept["answer"]["version"][2], micro);
}
