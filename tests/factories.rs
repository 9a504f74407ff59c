//! App factories named as gunicorn names them, `module:create_app(literal arguments)`: the
//! APP argument and WARP_APP_MODULE, warp's workers and the other servers, and the errors.

use std::time::{Duration, Instant};

use crate::rawhttp::get;
use crate::running::{reserve_port, Server};
use crate::util::{run_fails, Sandbox};

/// A Flask app built by a factory, as Flask's tutorial does; each call of the factory is
/// recorded by the pid that made it.
const FLASKR: &str = r#""""An app factory, as in Flask's tutorial."""
import os

from flask import Flask


def create_app(greeting="hello from the factory", config=None):
    with open("factory-calls", "a") as calls:
        calls.write("%d\n" % os.getpid())
    app = Flask(__name__)
    app.config.update(config or {})

    @app.route("/")
    def index():
        return "%s (testing=%s)" % (greeting, app.config.get("TESTING", False))

    return app
"#;

/// The factory app with Flask, gunicorn and waitress from PyPI, built.
fn flaskr() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write("flaskr/__init__.py", FLASKR);
    sandbox.write("requirements.txt", "Flask>=3.0,<4\ngunicorn\nwaitress\n");
    sandbox.ok(&["build"]);
    sandbox
}

/// The pids that called the factory, once `count` calls were made (within a deadline).
fn factory_calls(sandbox: &Sandbox, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(sandbox.app().join("factory-calls")).unwrap_or_default();
        let calls: Vec<String> = text.lines().map(str::to_owned).collect();
        if calls.len() >= count {
            return calls;
        }
        assert!(Instant::now() < deadline, "the factory was called {} times, not {count}", calls.len());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_app_argument_names_a_factory_called_once_per_worker() {
    let sandbox = flaskr();
    let text = sandbox.ok(&["start", ".", "flaskr:create_app()", "--explain"]);
    assert!(text.contains("found: serve flaskr:create_app()"), "{text}");
    let server = Server::start(&sandbox, &["start", ".", "flaskr:create_app()", "--processes", "2"]);
    let port = server.port;
    assert!(server.log().contains("warp: serving flaskr:create_app() from"), "{}", server.log());
    let calls = factory_calls(&sandbox, 2);
    for _ in 0..10 {
        assert_eq!(get(port, "/").text(), "hello from the factory (testing=False)");
    }
    // Once in each worker process, not per request.
    assert_eq!(factory_calls(&sandbox, 2), calls);
    assert_eq!(calls.len(), 2);
    assert_ne!(calls[0], calls[1], "two workers, two calls: {calls:?}");
    assert!(server.stop().success());
}

#[test]
fn warp_app_module_passes_literal_arguments_to_the_factory() {
    let sandbox = flaskr();
    let module = r#"flaskr:create_app("hello from the variable", config={"TESTING": True})"#;
    let mut cmd = sandbox.warp(&["start"]);
    cmd.env("WARP_APP_MODULE", module);
    let server = Server::launch(cmd, sandbox.root());
    assert_eq!(get(server.port, "/").text(), "hello from the variable (testing=True)");
    assert_eq!(factory_calls(&sandbox, 1).len(), 1);
    assert!(server.stop().success());
}

#[test]
fn a_factory_call_that_is_not_literal_is_a_one_line_error() {
    let sandbox = flaskr();
    let fails = |app: &str, expected: &[&str]| {
        let err = run_fails(&mut sandbox.warp(&["start", ".", app]), 1);
        assert_eq!(err.lines().count(), 1, "{err}");
        for text in expected {
            assert!(err.contains(text), "{app}: {err}");
        }
    };
    fails("flaskr:create_app(", &["is not module:callable or module:factory(arguments)", "flaskr:create_app()"]);
    fails("flaskr:create_app(1,,2)", &["(the APP argument)", "is not a name or a call of one"]);
    fails("flaskr:create_app(os.environ)", &["the argument os.environ is not a literal", "strings, bytes, numbers"]);
    fails("flaskr:create_app(**{'a': 1})", &["the argument **{'a': 1} is not a literal"]);
    fails(r#"flaskr:create_app(__import__("os").getcwd())"#, &["is not a literal"]);
    let err = run_fails(sandbox.warp(&["start"]).env("WARP_APP_MODULE", "flaskr:create_app(open('x'))"), 1);
    assert!(err.contains("(WARP_APP_MODULE)") && err.contains("the argument open('x') is not a literal"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!sandbox.app().join("factory-calls").exists(), "nothing was started");
}

#[test]
fn gunicorn_and_waitress_serve_a_factory() {
    let sandbox = flaskr();
    let app = r#"flaskr:create_app("hello from a factory", config={"TESTING": True})"#;
    // gunicorn reads the call itself; waitress gets warp's launch module, which makes it.
    for (server, shown) in [("gunicorn", app), ("waitress", "warp_launch_app:application")] {
        let text = sandbox.ok(&["start", ".", app, "--server", server, "--explain"]);
        let command = text.lines().find(|l| l.starts_with("would run: ")).unwrap_or_else(|| panic!("{text}"));
        assert!(command.ends_with(shown), "{command}");
        // Other servers are given a port in advance.
        let port = reserve_port();
        let cmd = sandbox.warp(&["start", ".", app, "--server", server, "--port", &port.port.to_string()]);
        let running = Server::spawn(cmd, port, sandbox.root());
        let response = get(running.port, "/");
        assert_eq!(response.text(), "hello from a factory (testing=True)", "{server}:\n{}", running.log());
        running.stop();
    }
}
