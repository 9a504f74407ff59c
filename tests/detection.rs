//! Which app `warp start` finds, rule by rule (`--explain`), and the apps that are their
//! own server: app.sh, an app.py script, a Procfile line, a Paste Deploy file.

use crate::rawhttp::get;
use crate::running::{reserve_port, Server};
use crate::util::Sandbox;

const APPLICATION: &str = "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'application']\n";
const FLASK_STYLE: &str = "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'app']\n";
/// A tiny server that is its own program: answers with its argv[0]'s name on $PORT.
const OWN_SERVER: &str = "import os, sys\nfrom wsgiref.simple_server import make_server\n\ndef hello(environ, start_response):\n    start_response('200 OK', [])\n    return [('own server in ' + os.environ['VIRTUAL_ENV']).encode()]\n\nmake_server('127.0.0.1', int(os.environ['PORT']), hello).serve_forever()\n";

fn explain(sandbox: &Sandbox, env: &[(&str, &str)]) -> String {
    let mut cmd = sandbox.warp(&["start", "--explain"]);
    cmd.envs(env.iter().copied());
    crate::util::run_ok(&mut cmd)
}

fn found(sandbox: &Sandbox, env: &[(&str, &str)]) -> String {
    let text = explain(sandbox, env);
    text.lines().find_map(|l| l.strip_prefix("found: ")).unwrap_or_else(|| panic!("no `found:` line in\n{text}")).to_owned()
}

#[test]
fn each_rule_in_order_with_its_reason() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["build"]);

    let err = sandbox.fails(&["start", "--explain"], 1);
    for looked_for in
        ["WARP_APP_SCRIPT", "app.sh", "WARP_APP_MODULE", "wsgi.py", "app.py", "application.py", "manage.py", "WARP_APP_CONFIG", "Procfile"]
    {
        assert!(err.contains(looked_for), "the error does not name {looked_for}: {err}");
    }
    assert_eq!(err.lines().count(), 1, "{err}");

    // The conventional files, in their order: application.py, then app.py over it.
    sandbox.write("application.py", APPLICATION);
    assert_eq!(found(&sandbox, &[]), "serve application:application");
    sandbox.write("app.py", FLASK_STYLE);
    assert_eq!(found(&sandbox, &[]), "serve app:app");
    // `application` is preferred to `app`; a wsgi.py defining neither is skipped.
    sandbox.write("app.py", &format!("{APPLICATION}{FLASK_STYLE}"));
    assert_eq!(found(&sandbox, &[]), "serve app:application");
    sandbox.write("wsgi.py", "x = 1\n");
    let text = explain(&sandbox, &[]);
    assert!(text.contains("wsgi.py") && text.contains("defines neither `application` nor `app`, so skipped"), "{text}");
    // Bindings under the main guard do not count: that code does not run on import.
    sandbox.write("app.py", &format!("import os\nif __name__ == '__main__':\n    app = 1\n{OWN_SERVER}"));
    assert_eq!(found(&sandbox, &[]), "run python app.py");
    // Imports, try blocks and annotated assignments bind names too.
    sandbox.write("wsgi.py", "try:\n    from application import application as application\nexcept ImportError:\n    raise\n");
    assert_eq!(found(&sandbox, &[]), "serve wsgi:application");

    // The variables come before the files.
    assert_eq!(found(&sandbox, &[("WARP_APP_FILE", "application.py")]), "serve application:application");
    assert_eq!(found(&sandbox, &[("WARP_APP_MODULE", "application:application")]), "serve application:application");
    sandbox.write(".warp/environment", "WARP_APP_MODULE=wsgi\n");
    assert_eq!(found(&sandbox, &[]), "serve wsgi:application", "a variable from .warp/environment counts");
    std::fs::remove_file(sandbox.app().join(".warp/environment")).unwrap();

    // app.sh only when executable; WARP_APP_SCRIPT names another script.
    sandbox.write("app.sh", "#!/bin/sh\nexec python app.py\n");
    let text = explain(&sandbox, &[]);
    assert!(text.contains("present but not executable, so skipped"), "{text}");
    sandbox.write_exec("app.sh", "#!/bin/sh\nexec python app.py\n");
    assert!(found(&sandbox, &[]).ends_with("/app.sh"), "{}", found(&sandbox, &[]));
    sandbox.write_exec("run.sh", "#!/bin/sh\nexec python app.py\n");
    assert!(found(&sandbox, &[("WARP_APP_SCRIPT", "run.sh")]).ends_with("/run.sh"));
    let err = crate::util::run_fails(sandbox.warp(&["start", "--explain"]).env("WARP_APP_SCRIPT", "missing.sh"), 1);
    assert!(err.contains("missing.sh") && err.contains("does not exist"), "{err}");

    // Without the Python files: Django, then a Paste file, then the Procfile.
    for file in ["app.sh", "run.sh", "app.py", "wsgi.py", "application.py"] {
        std::fs::remove_file(sandbox.app().join(file)).unwrap();
    }
    sandbox.write("Procfile", "release: true\nweb: python -m http.server $PORT\n");
    assert_eq!(found(&sandbox, &[]), "run python -m http.server $PORT");
    sandbox.write("site.ini", "[app:main]\nuse = call:hello:make_app\n");
    let err = crate::util::run_fails(sandbox.warp(&["start", "--explain"]).env("WARP_APP_CONFIG", "site.ini"), 1);
    assert!(err.contains("Paste Deploy is not installed") && err.contains("PasteDeploy"), "{err}");
    sandbox.write("manage.py", "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n");
    let err = sandbox.fails(&["start", "--explain"], 1);
    assert!(err.contains("manage.py found") && err.contains("Django is not installed"), "{err}");
}

/// A package whose module is its name (sclorg's setup-test-app): found after every other
/// rule, by `python setup.py --name`, else by reading the name setup.py writes literally.
#[test]
fn a_setup_py_package_is_served_by_its_name() {
    let sandbox = Sandbox::new();
    sandbox.write("setup.py", "from setuptools import setup\nsetup(name='hello-pkg', version='0.1', py_modules=['hello_pkg'])\n");
    sandbox.write("hello_pkg.py", APPLICATION);
    sandbox.ok(&["build"]);
    let text = explain(&sandbox, &[]);
    let rule = text.lines().find(|l| l.trim_start().starts_with("setup.py (package name)")).unwrap_or_default();
    assert!(rule.ends_with("  package hello-pkg: serve hello_pkg:application"), "{text}");
    assert!(text.contains("found: serve hello_pkg:application"), "{text}");
    let server = crate::running::Server::start(&sandbox, &["start"]);
    assert_eq!(get(server.port, "/").text(), "application");
    assert!(server.stop().success());

    // setup.py cannot run (here it needs a module the venv lacks), but names the package
    // literally; a module binding neither callable is passed over with the reason.
    sandbox.write(
        "setup.py",
        "import build_helpers_not_installed\nfrom setuptools import setup\nsetup(name='hello-pkg', version='0.1', py_modules=['hello_pkg'])\n",
    );
    assert_eq!(found(&sandbox, &[]), "serve hello_pkg:application");
    sandbox.write("hello_pkg.py", "x = 1\n");
    let err = sandbox.fails(&["start", "--explain"], 1);
    assert!(err.contains("the module setup.py's package name names"), "{err}");
    sandbox.write("setup.py", "from setuptools import setup\nsetup(name='other', version='0.1')\n");
    let text = crate::util::run_fails(&mut sandbox.warp(&["start", "--explain"]), 1);
    assert!(text.contains("no app found"), "{text}");
    let out = sandbox.warp(&["start", "--explain"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("package other: no module other in the app's folder or the venv, so skipped"), "{text}");
}

#[test]
fn the_app_argument_is_checked() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["build"]);
    sandbox.write("hello.py", FLASK_STYLE);
    let text = sandbox.ok(&["start", ".", "hello.py", "--explain"]);
    assert!(text.contains("found: serve hello:app"), "{text}");
    let text = sandbox.ok(&["start", ".", "pkg.mod:factory.app", "--explain"]);
    assert!(text.contains("found: serve pkg.mod:factory.app"), "{text}");
    let err = sandbox.fails(&["start", ".", "my-site:app", "--explain"], 1);
    assert!(err.contains("is not module:callable"), "{err}");
    let err = sandbox.fails(&["start", ".", "missing.py", "--explain"], 1);
    assert!(err.contains("missing.py") && err.contains("does not exist"), "{err}");
    sandbox.write("empty.py", "x = 1\n");
    let err = sandbox.fails(&["start", ".", "empty.py", "--explain"], 1);
    assert!(err.contains("defines neither"), "{err}");
    let err = sandbox.fails(&["start", ".", "hello.py", "--server", "nginx"], 2);
    assert!(err.contains("nginx"), "{err}");
}

/// Start `warp start` for an app that is its own server; it must answer on its PORT, which
/// is given in advance.
fn serve_program(sandbox: &Sandbox) -> Server {
    let port = reserve_port();
    let mut cmd = sandbox.warp(&["start"]);
    cmd.env("PORT", port.port.to_string());
    Server::spawn(cmd, port, sandbox.root())
}

#[test]
fn programs_that_are_their_own_server_run_in_the_apps_environment() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["build"]);
    let venv = sandbox.venv().canonicalize().unwrap();
    let expected = format!("own server in {}", venv.display());

    // An app.py with no WSGI callable is run as a script.
    sandbox.write("app.py", OWN_SERVER);
    let server = serve_program(&sandbox);
    assert_eq!(get(server.port, "/").text(), expected);
    assert!(server.log().contains("running python app.py"), "{}", server.log());
    server.stop();

    // app.sh beats it, and gets the venv on PATH.
    sandbox.write_exec("app.sh", "#!/bin/sh\nexec python app.py\n");
    let server = serve_program(&sandbox);
    assert_eq!(get(server.port, "/").text(), expected);
    server.stop();
    std::fs::remove_file(sandbox.app().join("app.sh")).unwrap();

    // A Procfile's web line, through the shell.
    std::fs::rename(sandbox.app().join("app.py"), sandbox.app().join("own.py")).unwrap();
    sandbox.write("Procfile", "web: python own.py --port $PORT\n");
    let server = serve_program(&sandbox);
    assert_eq!(get(server.port, "/").text(), expected);
    server.stop();

    // The program's exit status is warp's.
    sandbox.write_exec("app.sh", "#!/bin/sh\necho failing >&2\nexit 3\n");
    let err = sandbox.fails(&["start"], 3);
    assert!(err.contains("failing"), "{err}");
    // It is its own server: another one cannot be asked for.
    let err = sandbox.fails(&["start", "--server", "gunicorn"], 1);
    assert!(err.contains("starts its own server") && err.contains("--server gunicorn"), "{err}");
}

#[test]
fn a_paste_deploy_file_is_served() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", "PasteDeploy\n");
    sandbox.write("hello.py", "def make_app(global_conf, **settings):\n    def app(environ, start_response):\n        start_response('200 OK', [])\n        return [settings['greeting'].encode()]\n    return app\n");
    sandbox.write("site.ini", "[app:main]\nuse = call:hello:make_app\ngreeting = hello from paste\n");
    sandbox.ok(&["build"]);
    let mut cmd = sandbox.warp(&["start"]);
    cmd.env("WARP_APP_CONFIG", "site.ini");
    let server = Server::launch(cmd, sandbox.root());
    assert_eq!(get(server.port, "/").text(), "hello from paste");
    server.stop();
    sandbox.write("broken.ini", "[server:main]\nport = 1\n");
    let err = sandbox.fails(&["start", ".", "broken.ini"], 1);
    assert!(err.contains("no [app:main]"), "{err}");
}

/// A non-executable app.sh looks meant to run: passing it over is said on start, not only
/// by `--explain`.
#[test]
fn a_skipped_app_sh_is_a_warning_on_start() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["build"]);
    sandbox.write("wsgi.py", APPLICATION);
    sandbox.write("app.sh", "#!/bin/sh\nexec python own.py\n");
    let server = Server::start(&sandbox, &["start"]);
    assert_eq!(get(server.port, "/").text(), "application");
    let warning = "warning: app.sh is present but not executable, so skipped (`chmod +x app.sh` to run it)";
    assert_eq!(server.log().lines().filter(|l| *l == warning).count(), 1, "{}", server.log());
    server.stop();
}

/// WARP_DETECTION=s2i: the OpenShift Python builder's rules in its order, where app.py is a
/// script even when it defines an application, app.sh and app.py are looked for only when no
/// WARP_APP_* is set, and a gunicorn.conf.py that names wsgi_app comes first.
#[test]
fn s2i_detection_follows_the_openshift_builders_order() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", "gunicorn>=20.1\n");
    sandbox.ok(&["build"]);
    let s2i = [("WARP_DETECTION", "s2i")];
    let err = crate::util::run_fails(sandbox.warp(&["start", "--explain"]).envs(s2i), 1);
    assert!(
        err.contains("gunicorn.conf.py naming wsgi_app") && err.contains("OpenShift Python builder's order (WARP_DETECTION=s2i)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    sandbox.write("wsgi.py", APPLICATION);
    assert_eq!(found(&sandbox, &s2i), "serve wsgi:application");
    sandbox.write("app.py", APPLICATION);
    assert_eq!(found(&sandbox, &[]), "serve wsgi:application", "warp's rules serve wsgi.py first");
    assert_eq!(found(&sandbox, &s2i), "run python app.py", "the builder runs app.py, whatever it defines");
    assert_eq!(found(&sandbox, &[("WARP_DETECTION", "s2i"), ("WARP_APP_MODULE", "app")]), "serve app:application");
    sandbox.write_exec("app.sh", "#!/bin/sh\nexec python app.py\n");
    assert!(found(&sandbox, &s2i).ends_with("/app.sh"));
    let text = explain(&sandbox, &[("WARP_DETECTION", "s2i"), ("WARP_APP_MODULE", "wsgi")]);
    assert!(text.contains("not set; app.sh not looked for, as WARP_APP_MODULE is set"), "{text}");
    assert!(text.contains("found: serve wsgi:application"), "{text}");
    // From .warp/config.yaml too, with the setting's line in --explain.
    sandbox.write(".warp/config.yaml", "server:\n  detection: s2i\n");
    let text = explain(&sandbox, &[]);
    let first = text.lines().nth(1).unwrap_or_default();
    assert!(
        first.contains("server.detection (.warp/config.yaml:2)")
            && first.ends_with("s2i: the OpenShift Python builder's rules, in its order"),
        "{text}"
    );
    std::fs::remove_file(sandbox.app().join(".warp/config.yaml")).unwrap();

    // A gunicorn.conf.py that names the app comes before everything, and is gunicorn's.
    sandbox.write("gunicorn.conf.py", "workers = 2\n");
    let text = explain(&sandbox, &s2i);
    assert!(text.contains("binds no wsgi_app, so it does not name the app") && text.contains("/app.sh"), "{text}");
    for file in ["app.sh", "app.py"] {
        std::fs::remove_file(sandbox.app().join(file)).unwrap();
    }
    sandbox.write("gunicorn.conf.py", "workers = 2\nwsgi_app = 'wsgi:application'\n");
    assert_eq!(found(&sandbox, &s2i), "run gunicorn --config gunicorn.conf.py --bind 127.0.0.1:8000");
    let mut cmd = sandbox.warp(&["start", "--server", "gunicorn", "--explain"]);
    assert!(crate::util::run_ok(cmd.envs(s2i)).contains("found: run gunicorn --config gunicorn.conf.py"), "--server gunicorn agrees");
    let mut cmd = sandbox.warp(&["start", "--server", "warp", "--explain"]);
    let text = crate::util::run_ok(cmd.envs(s2i));
    assert!(text.contains("present, but --server asks for warp, so gunicorn does not run it"), "{text}");
    assert!(text.contains("found: serve wsgi:application"), "{text}");
    assert_eq!(found(&sandbox, &[]), "serve wsgi:application", "warp's rules do not read gunicorn.conf.py");

    // It serves, on warp's port; with a bind of its own, on that one.
    let port = reserve_port();
    let mut cmd = sandbox.warp(&["start", "--port", &port.port.to_string()]);
    cmd.envs(s2i);
    let server = Server::spawn(cmd, port, sandbox.root());
    assert_eq!(get(server.port, "/").text(), "application");
    assert!(server.log().contains("running gunicorn --config gunicorn.conf.py --bind 127.0.0.1:"), "{}", server.log());
    assert!(server.stop().success());
    let port = reserve_port();
    sandbox.write("gunicorn.conf.py", &format!("bind = '127.0.0.1:{}'\nwsgi_app = 'wsgi:application'\n", port.port));
    let mut cmd = sandbox.warp(&["start"]);
    cmd.envs(s2i).env("GUNICORN_CMD_ARGS", "--workers 2");
    let server = Server::spawn(cmd, port, sandbox.root());
    assert_eq!(get(server.port, "/").text(), "application");
    assert!(server.log().contains("running gunicorn --config gunicorn.conf.py in"), "{}", server.log());
    server.wait_for_log_count("Booting worker with pid", 2, std::time::Duration::from_secs(20));
    assert!(server.stop().success());
}
