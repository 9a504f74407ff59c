//! The OpenShift Python builder's variables as the builder's scripts map them onto warp's
//! settings: s2i/bin/env.sh, sourced by a real POSIX shell, one variable at a time. What
//! each warp setting then does is tested where warp does it (detection, build, servers).

use std::path::Path;
use std::process::Command;

use crate::util::run_ok;

/// The WARP_* (and uv) variables the build's and the start's mappings export, for the app
/// folder `app` and the variables `vars`, sorted.
fn mapped(app: &Path, vars: &[(&str, &str)]) -> Vec<String> {
    let env_sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("s2i/bin/env.sh");
    let script = format!(
        ". {}; s2i_root={dir}; s2i_app={dir}; s2i_map_build; s2i_map_run; env | grep -E '^(WARP_|UV_DEFAULT_INDEX)' | sort",
        env_sh.display(),
        dir = app.display()
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]).env_clear().env("PATH", std::env::var("PATH").unwrap()).env("APP_ROOT", app.parent().unwrap());
    for (key, value) in vars {
        cmd.env(key, value);
    }
    run_ok(&mut cmd).lines().map(str::to_string).collect()
}

/// Variables given, and lines the mapping must export for them.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

#[test]
fn each_of_the_openshift_python_builders_variables_sets_warps() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("src");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("gunicorn.py"), "bind = '0.0.0.0:8080'\n").unwrap();
    std::fs::write(app.join("setup.py"), "from setuptools import setup\nsetup()\n").unwrap();
    let config = app.join("gunicorn.py").canonicalize().unwrap();
    let cases: [Case; 12] = [
        (&[], &["WARP_DETECTION=s2i"]),
        (&[("APP_SCRIPT", "start.sh")], &["WARP_APP_SCRIPT=start.sh"]),
        (&[("APP_FILE", "main.py")], &["WARP_APP_FILE=main.py"]),
        (&[("APP_MODULE", "app:app")], &["WARP_APP_MODULE=app:app"]),
        (&[("APP_CONFIG", "gunicorn.py")], &["WARP_SERVER_TYPE=gunicorn", &format!("WARP_SERVER_ARGS=--config '{}'", config.display())]),
        (&[("GUNICORN_CMD_ARGS", "--workers 3")], &["WARP_SERVER_TYPE=gunicorn"]),
        (&[("WEB_CONCURRENCY", "4")], &["WARP_PROCESSES=4"]),
        (&[("DISABLE_COLLECTSTATIC", "1")], &["WARP_DISABLE_COLLECTSTATIC=true"]),
        (&[("UPGRADE_PIP_TO_LATEST", "1")], &["WARP_UPGRADE_PIP=true"]),
        (&[("ENABLE_PIPENV", "1"), ("PIN_PIPENV_VERSION", "2023.12.1")], &["WARP_PIPENV_VERSION=2023.12.1"]),
        (&[("DISABLE_SETUP_PY_PROCESSING", "1")], &["WARP_INSTALL_APP=false"]),
        (&[("PIP_INDEX_URL", "http://mirror/simple")], &["UV_DEFAULT_INDEX=http://mirror/simple"]),
    ];
    for (vars, expected) in cases {
        let got = mapped(&app, vars);
        for line in expected {
            assert!(got.iter().any(|g| g == line), "{vars:?} should set {line}: {got:?}");
        }
    }
    // Without a pipenv in use the pin means nothing, as there; a WARP_* the app sets wins.
    assert!(!mapped(&app, &[("PIN_PIPENV_VERSION", "2023.12.1")]).iter().any(|g| g.starts_with("WARP_PIPENV_VERSION")));
    let own = mapped(&app, &[("WEB_CONCURRENCY", "4"), ("WARP_PROCESSES", "2")]);
    assert!(own.contains(&"WARP_PROCESSES=2".to_string()), "{own:?}");
}

#[test]
fn bad_values_are_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("src");
    std::fs::create_dir(&app).unwrap();
    for (var, value) in [("WEB_CONCURRENCY", "many"), ("APP_CONFIG", "missing.py")] {
        let env_sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("s2i/bin/env.sh");
        let script = format!(". {}; s2i_root={dir}; s2i_app={dir}; s2i_map_run", env_sh.display(), dir = app.display());
        let out = Command::new("sh").args(["-c", &script]).env(var, value).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{var}={value}: {err}");
        assert!(err.starts_with(&format!("error: {var}={value}")) && err.lines().count() == 1, "{err}");
    }
}

#[test]
fn quoted_values_in_the_apps_environment_file_are_read_without_their_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("src");
    std::fs::create_dir_all(app.join(".s2i")).unwrap();
    std::fs::write(app.join(".s2i/environment"), "APP_MODULE=\"pkg.web:application\"\nWEB_CONCURRENCY='3'\nAPP_FILE=\"a'\n").unwrap();
    let got = mapped(&app, &[]);
    for line in ["WARP_APP_MODULE=pkg.web:application", "WARP_PROCESSES=3", "WARP_APP_FILE=\"a'"] {
        assert!(got.iter().any(|g| g == line), "{line} expected: {got:?}");
    }

    // An app in a folder of the source (APP_HOME) gets the root's file exported, unquoted.
    let env_sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("s2i/bin/env.sh");
    let script = format!(
        ". {}; s2i_root={}; s2i_app=$s2i_root/site; s2i_enter_app; printf '%s\\n' \"$APP_MODULE\"",
        env_sh.display(),
        app.display()
    );
    let out = run_ok(Command::new("sh").args(["-c", &script]).env_remove("APP_MODULE"));
    assert_eq!(out.trim_end(), "pkg.web:application");
}

#[test]
fn the_locale_is_en_us_utf8_as_in_that_builders_images_where_the_base_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("src");
    std::fs::create_dir_all(app.join(".s2i")).unwrap();
    // A `locale` that lists what the base has.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let locale = |listed: &str| {
        let path = bin.join("locale");
        std::fs::write(&path, format!("#!/bin/sh\nprintf '{listed}'\n")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    };
    let env_sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("s2i/bin/env.sh");
    let run = |vars: &[(&str, &str)]| {
        let script =
            format!(". {}; s2i_root={dir}; s2i_app={dir}; s2i_map_run; echo \"$LC_ALL $LANG\"", env_sh.display(), dir = app.display());
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script]).env_clear().env("PATH", path);
        for (key, value) in vars {
            cmd.env(key, value);
        }
        run_ok(&mut cmd).trim_end().to_string()
    };
    locale("C\nC.utf8\nen_US.utf8\nPOSIX\n");
    assert_eq!(run(&[("LANG", "C.UTF-8")]), "en_US.UTF-8 en_US.UTF-8");
    assert_eq!(run(&[("LC_ALL", "fr_FR.UTF-8"), ("LANG", "de_DE.UTF-8")]), "fr_FR.UTF-8 de_DE.UTF-8", "the environment's choice");
    std::fs::write(app.join(".s2i/environment"), "LC_ALL=fr_FR.UTF-8\n").unwrap();
    assert_eq!(run(&[]), " en_US.UTF-8", "the app's file chooses LC_ALL, which warp then applies");
    std::fs::remove_file(app.join(".s2i/environment")).unwrap();
    locale("C\nC.utf8\nPOSIX\n");
    assert_eq!(run(&[("LANG", "C.UTF-8")]), " C.UTF-8", "a base without en_US keeps its own");
}
