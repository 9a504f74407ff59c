//! `warp start --server gunicorn|waitress|mod_wsgi|uwsgi` serving the examples, and Django
//! under warp's own server and `manage.py runwarp`.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::rawhttp::get;
use crate::running::{reserve_port, Server};
use crate::util::Sandbox;

/// examples/NAME with `extra` lines added to its requirements, not built yet.
fn example_with(name: &str, extra: &str) -> Sandbox {
    let sandbox = Sandbox::example(name);
    let requirements = std::fs::read_to_string(sandbox.app().join("requirements.txt")).unwrap();
    sandbox.write("requirements.txt", &format!("{requirements}{extra}"));
    sandbox
}

/// `example_with(name, extra)`, built once for every test that shares `cell`.
fn built_once(cell: &'static OnceLock<Sandbox>, name: &str, extra: &str) -> &'static Sandbox {
    cell.get_or_init(|| {
        let sandbox = example_with(name, extra);
        sandbox.ok(&["build"]);
        sandbox
    })
}

/// examples/flask with every server that builds here (mod_wsgi has its own venv, below).
fn flask() -> &'static Sandbox {
    static APP: OnceLock<Sandbox> = OnceLock::new();
    built_once(&APP, "flask", "gunicorn\nwaitress\nuwsgi\n")
}

/// Serve `sandbox` with `--server NAME ARGS`, check the Flask example's JSON answer, stop.
/// Other servers are given their port in advance (port 0 is warp's own server's).
fn serves_flask(sandbox: &Sandbox, server: &str, args: &[&str]) -> std::process::ExitStatus {
    let reserved = reserve_port();
    let port = reserved.port;
    let port_text = port.to_string();
    let mut all = vec!["start", "--server", server, "--port", &port_text];
    all.extend_from_slice(args);
    let running = Server::spawn(sandbox.warp(&all), reserved, sandbox.root());
    let response = get(port, "/api/status");
    assert_eq!(response.status, 200, "{server}: {}\n{}", response.text(), running.log());
    assert!(response.text().contains("\"status\":\"ok\""), "{server}: {}", response.text());
    let page = get(port, "/");
    assert!(page.text().contains("Hello, Flask!"), "{server}: {}", page.text());
    // Apache reopens /dev/stderr, which for a file means writing over it from the start.
    if server != "mod_wsgi" {
        assert!(running.log().contains(&format!("with {server}:")), "the banner names the server:\n{}", running.log());
    }
    running.stop()
}

#[test]
fn gunicorn_serves_the_flask_example_and_stops_cleanly() {
    let status = serves_flask(flask(), "gunicorn", &["--processes", "2", "--threads", "2"]);
    assert!(status.success(), "{status}");
}

#[test]
fn waitress_serves_the_flask_example() {
    // waitress has no SIGTERM handler: the signal warp passes on ends it, and warp exits
    // with its status, 128 + SIGTERM.
    let status = serves_flask(flask(), "waitress", &[]);
    assert!(status.success() || status.code() == Some(128 + libc::SIGTERM), "{status}");
}

#[test]
fn uwsgi_serves_the_flask_example_and_stops_cleanly() {
    let status = serves_flask(flask(), "uwsgi", &["--maximum-requests", "100"]);
    assert!(status.success(), "{status}");
}

/// uWSGI cannot call an app factory: it loads warp's launch module, which does.
#[test]
fn uwsgi_serves_an_app_factory_through_the_launch_module() {
    let sandbox = flask();
    sandbox.write(
        "factory.py",
        "def make(greeting, *, status='200 OK'):\n    def application(environ, start_response):\n        start_response(status, [])\n        return [greeting.encode()]\n    return application\n",
    );
    let port = reserve_port();
    let app = r#"factory:make("made for uwsgi", status='201 Created')"#;
    let cmd = sandbox.warp(&["start", ".", app, "--server", "uwsgi", "--port", &port.port.to_string()]);
    let running = Server::spawn(cmd, port, sandbox.root());
    let response = get(running.port, "/");
    assert_eq!((response.status, response.text().as_str()), (201, "made for uwsgi"), "{}", running.log());
    assert!(running.log().contains("--wsgi-file"), "{}", running.log());
    let mut running = running;
    running.signal(nix::sys::signal::Signal::SIGTERM);
    let status = running.wait_within(Duration::from_secs(15));
    assert!(status.success(), "uwsgi ended with {status}:\n{}", running.log());
}

#[test]
fn explain_shows_each_servers_flags_and_what_it_cannot_do() {
    let text = flask().ok(&["start", "--server", "gunicorn", "--explain", "--request-timeout", "30", "--memory-limit", "200M"]);
    assert!(text.contains("gunicorn --bind 127.0.0.1:8000") && text.contains("--timeout 30") && text.contains("app:app"), "{text}");
    assert!(text.contains("note: gunicorn has no equivalent of warp's") && text.contains("--memory-limit"), "{text}");
    let text = flask().ok(&["start", "--server", "uwsgi", "--explain", "--memory-limit", "200M", "--url-alias", "/static", "templates"]);
    assert!(text.contains("--reload-on-rss 200") && text.contains("--die-on-term") && text.contains("--static-map /static="), "{text}");
}

#[test]
fn a_server_missing_from_the_venv_is_not_installed_but_explained() {
    let sandbox = Sandbox::new();
    sandbox.write("wsgi.py", "def application(e, s):\n    s('200 OK', [])\n    return [b'']\n");
    sandbox.ok(&["build"]);
    let err = sandbox.fails(&["start", "--server", "gunicorn"], 1);
    assert!(err.contains("add gunicorn to the requirements") && err.contains("does not install"), "{err}");
    assert!(!sandbox.venv().join("bin/gunicorn").exists());
    let err = crate::util::run_fails(sandbox.warp(&["start"]).env("WARP_SERVER_TYPE", "mod_wsgi"), 1);
    assert!(err.contains("mod_wsgi-express") && err.contains("apache2-dev"), "{err}");
}

/// mod_wsgi's daemon processes refuse to run as root, and the user they run as must read
/// the Python they were built for: Debian's, not one under /root.
#[test]
fn mod_wsgi_serves_the_flask_example_as_another_user() {
    let debian_python = std::path::Path::new("/usr/bin/python3");
    crate::util::require_root("mod_wsgi's daemons run as nobody");
    crate::util::require(
        debian_python.exists(),
        "Debian's own Python, /usr/bin/python3 (apt-get install python3 python3-venv python3-dev)",
    );
    let sandbox = example_with("flask", "mod_wsgi\n");
    std::fs::set_permissions(sandbox.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A cache of its own: a mod_wsgi wheel compiled for another Python of the same version
    // would load that Python's library.
    let cache = sandbox.root().join("cache");
    crate::util::run_ok(sandbox.warp(&["build"]).env("WARP_PYTHON", debian_python).env("WARP_CACHE_DIR", &cache));
    let err = sandbox.fails(&["start", "--server", "mod_wsgi"], 1);
    assert!(err.contains("--user"), "{err}");
    let status = serves_flask(&sandbox, "mod_wsgi", &["--user", "nobody"]);
    assert!(status.success(), "{status}");
}

/// examples/django, plus gunicorn and WhiteNoise, with its database migrated.
fn django() -> &'static Sandbox {
    static APP: OnceLock<Sandbox> = OnceLock::new();
    APP.get_or_init(|| {
        let sandbox = example_with("django", "gunicorn\nwhitenoise\n");
        sandbox.ok(&["build"]);
        sandbox.ok(&["migrate"]);
        sandbox
    })
}

/// The page and its stylesheet, with DEBUG off: Django itself would not serve the file.
fn serves_django(port: u16, log: &str) {
    let page = get(port, "/");
    assert_eq!(page.status, 200, "{}\n{log}", page.text());
    assert!(page.text().contains("Hello from Django"), "{}", page.text());
    let css = get(port, "/static/css/site.css");
    assert_eq!(css.status, 200, "{}\n{log}", css.text());
    assert!(css.header("content-type").is_some_and(|t| t.starts_with("text/css")), "{:?}", css.header("content-type"));
}

#[test]
fn django_is_served_with_its_static_files_by_warp() {
    let sandbox = django();
    let text = sandbox.ok(&["start", "--explain"]);
    assert!(text.contains("WSGI_APPLICATION mysite.wsgi.application") && text.contains("static:     /static ->"), "{text}");
    let server = Server::start(sandbox, &["start"]);
    serves_django(server.port, &server.log());
    assert!(server.stop().success());
}

#[test]
fn django_under_gunicorn_gets_its_static_files_through_whitenoise() {
    let sandbox = django();
    let port = reserve_port();
    let server = Server::spawn(sandbox.warp(&["start", "--server", "gunicorn", "--port", &port.port.to_string()]), port, sandbox.root());
    serves_django(server.port, &server.log());
    assert!(server.log().contains("warp_launch_app:application"), "{}", server.log());
    assert!(server.stop().success());
}

#[test]
fn manage_py_runwarp_takes_warp_starts_options() {
    let sandbox = django();
    let mut cmd = Command::new(sandbox.venv().join("bin/python"));
    cmd.args(["manage.py", "runwarp", "--threads", "3", "--reload-on-changes"]);
    // The venv is taken from the python that runs manage.py, not from the environment.
    cmd.envs(sandbox.warp(&[]).get_envs().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned())))).current_dir(sandbox.app());
    let server = Server::launch(cmd, sandbox.root());
    serves_django(server.port, &server.log());
    let log = server.log();
    assert!(log.contains("1 process(es) x 3 thread(s)") && log.contains("reload:     on changes"), "{log}");
    assert!(server.stop().success());
    let mut help = Command::new(sandbox.venv().join("bin/python"));
    help.args(["manage.py", "runwarp", "--help"]).current_dir(sandbox.app());
    let text = crate::util::run_ok(&mut help);
    assert!(text.contains("--reload-on-changes") && text.contains("--server"), "{text}");
}

/// A tiny app with gunicorn in its venv, built once: it answers with its worker's pid.
fn gunicorn_app() -> &'static Sandbox {
    static APP: OnceLock<Sandbox> = OnceLock::new();
    APP.get_or_init(|| {
        let sandbox = Sandbox::new();
        sandbox.write("requirements.txt", "gunicorn\n");
        sandbox.write(
            "hello.py",
            "import os\n\ndef application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'hello from %d' % os.getpid()]\n",
        );
        sandbox.ok(&["build"]);
        sandbox
    })
}

/// gunicorn ranks its command line over GUNICORN_CMD_ARGS and its config file, so warp's
/// mapped flags would override the app's own configuration: with one, warp passes only
/// `--bind` (unless the configuration binds) and the app.
#[test]
fn gunicorn_keeps_the_apps_own_configuration() {
    let sandbox = gunicorn_app();
    // GUNICORN_CMD_ARGS: its worker count stands (warp's would be 1), and warp binds its port.
    let port = reserve_port();
    let mut cmd = sandbox.warp(&["start", ".", "hello:application", "--server", "gunicorn", "--port", &port.port.to_string()]);
    cmd.env("GUNICORN_CMD_ARGS", "--workers 2 --log-level info");
    let server = Server::spawn(cmd, port, sandbox.root());
    server.wait_for_log_count("Booting worker with pid", 2, std::time::Duration::from_secs(20));
    assert!(get(server.port, "/").text().starts_with("hello from "), "{}", server.log());
    let log = server.log();
    assert!(log.contains(&format!("gunicorn --bind 127.0.0.1:{} hello:application", server.port)), "{log}");
    assert!(!log.contains("--workers"), "warp passed its own worker count: {log}");
    assert!(
        log.contains("gunicorn is configured by GUNICORN_CMD_ARGS, which warp's flags would override: warp passes only --bind"),
        "{log}"
    );
    assert!(server.stop().success());

    // A --config file in the server args that binds: its address, not warp's port.
    let port = reserve_port();
    sandbox.write("conf/gunicorn-site.py", &format!("bind = '127.0.0.1:{}'\nworkers = 1\n", port.port));
    let mut cmd = sandbox.warp(&["start", ".", "hello:application", "--request-timeout", "7"]);
    cmd.env("WARP_SERVER_TYPE", "gunicorn").env("WARP_SERVER_ARGS", "--config conf/gunicorn-site.py");
    let server = Server::spawn(cmd, port, sandbox.root());
    assert_eq!(get(server.port, "/").status, 200, "{}", server.log());
    let log = server.log();
    assert!(log.contains("gunicorn hello:application --config conf/gunicorn-site.py"), "{log}");
    assert!(log.contains("warp passes only the app (its settings bind); warp's --request-timeout not applied"), "{log}");
    assert!(server.stop().success());

    // gunicorn.conf.py in the app's folder is read by gunicorn itself, so it counts too.
    sandbox.write("gunicorn.conf.py", "workers = 3\n");
    let text = sandbox.ok(&["start", ".", "hello:application", "--server", "gunicorn", "--explain"]);
    assert!(text.contains("gunicorn --bind 127.0.0.1:8000 hello:application\n"), "{text}");
    assert!(text.contains("note: gunicorn is configured by gunicorn.conf.py (gunicorn reads it by default)"), "{text}");
    std::fs::remove_file(sandbox.app().join("gunicorn.conf.py")).unwrap();
    // Without any, warp's settings are gunicorn's flags, as before.
    let text = sandbox.ok(&["start", ".", "hello:application", "--server", "gunicorn", "--explain"]);
    assert!(text.contains("--workers 1 --threads 5"), "{text}");

    // A config file that is not there is one line before anything starts.
    let mut cmd = sandbox.warp(&["start", ".", "hello:application", "--server", "gunicorn"]);
    cmd.env("GUNICORN_CMD_ARGS", "-c missing.py");
    let err = crate::util::run_fails(&mut cmd, 1);
    assert!(err.contains("missing.py does not exist (named by GUNICORN_CMD_ARGS (its --config missing.py))"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
