//! One settings model: flags, variables (inherited, environment files, hook output),
//! `.warp/config.yaml`, warpdrive's files and defaults, each value with its origin.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::rawhttp::get;
use crate::running::{reserve_port, Server};
use crate::util::{run_fails, run_ok, Sandbox};

/// `warp config --json` as name -> (value, origin).
fn config(cmd: &mut std::process::Command) -> BTreeMap<String, (Value, Value)> {
    let out = cmd.output().expect("warp runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    rows.into_iter().map(|row| (row["name"].as_str().unwrap().to_owned(), (row["value"].clone(), row["origin"].clone()))).collect()
}

fn value<'a>(all: &'a BTreeMap<String, (Value, Value)>, name: &str) -> &'a str {
    all[name].0.as_str().unwrap_or_else(|| panic!("{name} is unset: {all:?}"))
}

fn source<'a>(all: &'a BTreeMap<String, (Value, Value)>, name: &str) -> &'a Value {
    &all[name].1
}

#[test]
fn each_source_gives_a_setting_and_the_stronger_one_wins() {
    let sandbox = Sandbox::new();
    sandbox.write(
        ".warp/config.yaml",
        "# the app's settings\nserver:\n  threads: 3\n  processes: 2\n  queue_timeout: 30\n  socket_timeout: 20\nstatic:\n  /assets: assets\nbuild:\n  installer: pip\n\
         image:\n  base: python:3.13-slim\n  labels:\n    team: web\n  excludes: ['*.log', docs/]\n",
    );
    sandbox.write(".s2i/environment", "PORT=8085\nWARP_QUEUE_TIMEOUT=25\n");
    sandbox.write(".warp/environment", "# ours\nWARP_PROCESSES=4\n");
    // (The harness sets WARP_INSTALLER, which would beat config.yaml.)
    let all = config(sandbox.warp(&["config", "--json"]).env("WARP_SOCKET_TIMEOUT", "9").env_remove("WARP_INSTALLER"));
    // config.yaml, with its line.
    assert_eq!(value(&all, "--threads"), "3");
    assert_eq!(source(&all, "--threads"), &serde_json::json!({"source": "config file", "file": ".warp/config.yaml", "line": 3}));
    assert_eq!(value(&all, "--url-alias"), "/assets=assets");
    assert_eq!(value(&all, "WARP_INSTALLER"), "pip");
    // The image section: builder and base, labels, excludes.
    assert_eq!(value(&all, "--base"), "python:3.13-slim");
    assert_eq!(source(&all, "--base")["line"], 12);
    assert_eq!(value(&all, "image.labels"), "team=web");
    assert_eq!(source(&all, "image.labels")["line"], 13);
    assert_eq!(value(&all, "image.excludes"), "*.log,docs/");
    // An environment file beats config.yaml, and names its line.
    assert_eq!(value(&all, "--processes"), "4");
    assert_eq!(source(&all, "--processes")["file"], ".warp/environment");
    assert_eq!(source(&all, "--processes")["line"], 2);
    assert_eq!(value(&all, "--queue-timeout"), "25");
    assert_eq!(source(&all, "--queue-timeout")["file"], ".s2i/environment");
    // The platform's PORT counts, from a file too.
    assert_eq!(value(&all, "--port"), "8085");
    assert_eq!(source(&all, "--port")["variable"], "PORT");
    // An inherited variable beats the files and config.yaml.
    assert_eq!(value(&all, "--socket-timeout"), "9");
    assert_eq!(source(&all, "--socket-timeout"), &serde_json::json!({"source": "variable", "variable": "WARP_SOCKET_TIMEOUT"}));
    // Defaults, and the container's.
    assert_eq!(value(&all, "--startup-timeout"), "15");
    assert_eq!(source(&all, "--startup-timeout")["source"], "default");
    assert_eq!(value(&all, "--host"), "127.0.0.1");
    let all = config(sandbox.warp(&["config", "--json"]).env("APP_ROOT", sandbox.root()));
    assert_eq!(value(&all, "--host"), "0.0.0.0");
    assert_eq!(source(&all, "--host"), &serde_json::json!({"source": "default", "container": true}));
    assert_eq!(value(&all, "--access-log"), "on");
    // The table form says the same.
    let text = sandbox.ok(&["config"]);
    let line = text.lines().find(|l| l.trim_start().starts_with("--threads")).unwrap();
    assert!(line.ends_with(".warp/config.yaml:3"), "{line}");
    let line = text.lines().find(|l| l.trim_start().starts_with("--port")).unwrap();
    assert!(line.contains("8085") && line.ends_with("PORT in .s2i/environment:1"), "{line}");
}

#[test]
fn the_server_listens_where_the_app_s_files_say() {
    let sandbox = Sandbox::robust();
    // The port is what the file says, so it is chosen before the server runs: reserved.
    let reserved = reserve_port();
    let port = reserved.port;
    sandbox.write(".s2i/environment", &format!("PORT={port}\n"));
    sandbox.write(".warp/config.yaml", "server:\n  threads: 2\n  health_path: /healthz\n");
    // A deploy-env hook's output beats the files.
    sandbox.write_exec(".warp/action_hooks/deploy-env", "#!/bin/sh\necho WARP_QUEUE_TIMEOUT=12\n");
    let server = Server::spawn(sandbox.warp(&["start"]), reserved, sandbox.root());
    // An answer means a worker runs, so the banner (printed before any worker starts) is out.
    assert_eq!(get(port, "/hello").status, 200);
    let log = server.log();
    assert!(log.contains("capacity:   1 process(es) x 2 thread(s)"), "{log}");
    assert!(log.contains("queue 12s"), "{log}");
    assert!(log.contains(&format!("--port {port} (PORT in .s2i/environment:1)")), "{log}");
    assert!(log.contains("--threads 2 (.warp/config.yaml:2)"), "{log}");
    // The probes read the same settings: this port, and the health path from config.yaml.
    run_ok(&mut sandbox.warp(&["ready"]));
    assert_eq!(std::fs::read_to_string(sandbox.app().join("calls.log")).unwrap(), "/hello\n", "the probe reached the app");
    // A flag still beats them all.
    let nobody = reserve_port();
    let err = run_fails(&mut sandbox.warp(&["ready", "--port", &nobody.port.to_string()]), 1);
    assert!(err.contains("nothing answers on 127.0.0.1:"), "{err}");
    assert!(server.stop().success());
}

#[test]
fn config_yaml_round_trips_through_setup_only() {
    let sandbox = Sandbox::robust();
    std::fs::create_dir(sandbox.app().join("static")).unwrap();
    sandbox.write(
        ".warp/config.yaml",
        "server:\n  host: 127.0.0.2\n  port: 9123\n  processes: 3\n  threads: 4\n  listen_backlog: 77\n  startup_timeout: 21\n  queue_timeout: 22\n  request_timeout: 23\n\
         \x20 socket_timeout: 24\n  shutdown_timeout: 2.5\n  graceful_timeout: 26\n  maximum_requests: 1000\n  restart_interval: 3600\n  inactivity_timeout: 600\n\
         \x20 memory_limit: 512M\n  limit_request_body: 1M\n  reload_on_changes: true\n  access_log: json\n  log_level: warning\n  health_path: /healthz\n\
         \x20 trust_proxy_headers: [X-Forwarded-For, X-Forwarded-Proto]\n  trust_proxies: [127.0.0.1/32, 10.0.0.0/8]\n  app: wsgi:application\n\
         static:\n  /static: static\n",
    );
    let from_yaml = config(&mut sandbox.warp(&["config", "--json"]));
    let dir = sandbox.root().join("server-root");
    sandbox.ok(&["start", "--setup-only", "--server-root", dir.to_str().unwrap()]);
    let env = std::fs::read_to_string(dir.join("warp.env")).unwrap();
    std::fs::remove_file(sandbox.app().join(".warp/config.yaml")).unwrap();
    let mut cmd = sandbox.warp(&["config", "--json"]);
    for line in env.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.split_once('=').unwrap();
        cmd.env(name, value.trim_matches('\''));
    }
    let from_env = config(&mut cmd);
    let static_dir = std::fs::canonicalize(sandbox.app().join("static")).unwrap();
    for (name, (yaml_value, origin)) in &from_yaml {
        let expected = match name.as_str() {
            // warp.env holds the folder resolved.
            "--url-alias" => Value::String(format!("/static={}", static_dir.display())),
            _ if origin["source"] != "config file" => continue,
            _ => yaml_value.clone(),
        };
        assert_eq!(from_env[name].0, expected, "{name} did not survive warp.env:\n{env}");
        assert_eq!(from_env[name].1["source"], "variable", "{name}");
    }
    assert_eq!(value(&from_yaml, "--trust-proxy"), "127.0.0.1/32,10.0.0.0/8");
    assert_eq!(value(&from_yaml, "--limit-request-body"), "1048576");
}

#[test]
fn every_mistake_is_one_line_naming_where_it_is() {
    let sandbox = Sandbox::new();
    let cases: [(&str, &str); 13] = [
        (
            "server:\n  threads: 8\n  thred: 3\n",
            "error: .warp/config.yaml:3: server.thred: is not a setting warp knows: did you mean `server.threads`?",
        ),
        ("server:\n  threads: [1, 2]\n", "error: .warp/config.yaml:2: server.threads: expected a single value, found a list"),
        ("server:\n  threads: 0\n", "error: .warp/config.yaml:2: server.threads: \"0\" is not a whole number from 1 to 65535"),
        (
            "server:\n  queue_timeout: soon\n",
            "error: .warp/config.yaml:2: server.queue_timeout: \"soon\" is not a number of seconds: give one such as 30 or 0.5",
        ),
        ("sevrer:\n  threads: 2\n", "error: .warp/config.yaml:1: sevrer: is not a setting warp knows: did you mean `server`?"),
        ("threads: 2\n", "error: .warp/config.yaml:1: threads: settings go in their section: write it as `server.threads`"),
        ("server: [\n", "error: .warp/config.yaml:2: not valid YAML"),
        ("static:\n  assets: assets\n", "error: .warp/config.yaml:2: static: URL \"assets\" must start with '/', as in /static=static"),
        (
            "server:\n  type: apache\n",
            "error: .warp/config.yaml:2: server.type: \"apache\" is not one of warp, gunicorn, waitress, mod_wsgi, uwsgi",
        ),
        ("server:\n  detection: heroku\n", "error: .warp/config.yaml:2: server.detection: \"heroku\" is not one of warp, s2i"),
        ("image:\n  labels: [team]\n", "error: .warp/config.yaml:2: image.labels: expected a mapping, such as `team: web`"),
        ("image:\n  bsae: python:3.13-slim\n", "error: .warp/config.yaml:2: image.bsae: is not a setting warp knows: did you mean `image.base`?"),
        (
            "build:\n  pipenv_version: '>=2026'\n",
            "error: .warp/config.yaml:2: build.pipenv_version: \">=2026\" is not a version number: give the release alone, such as 2026.0.3",
        ),
    ];
    for (yaml, expected) in cases {
        sandbox.write(".warp/config.yaml", yaml);
        let err = sandbox.fails(&["config"], 2);
        assert!(err.starts_with(expected) && err.lines().count() == 1, "{yaml:?}:\n{err}");
    }
    std::fs::remove_file(sandbox.app().join(".warp/config.yaml")).unwrap();
    sandbox.write(".warp/config.yml", "server: {}\n");
    assert_eq!(sandbox.fails(&["config"], 2), "error: .warp/config.yml: warp reads config.yaml, not config.yml: rename it\n");
    std::fs::remove_file(sandbox.app().join(".warp/config.yml")).unwrap();
    sandbox.write(".warp/environment", "\nWARP_THREADS=many\n");
    assert_eq!(
        sandbox.fails(&["config"], 2),
        "error: WARP_THREADS in .warp/environment:2: \"many\" is not a whole number from 1 to 65535\n"
    );
    std::fs::remove_file(sandbox.app().join(".warp/environment")).unwrap();
    let err = run_fails(sandbox.warp(&["config"]).env("WARP_ACCESS_LOG", "loud"), 2);
    assert_eq!(err, "error: WARP_ACCESS_LOG: \"loud\" is not one of off, on, json\n");
    let err = sandbox.fails(&["start", "--threads", "x"], 2);
    assert!(err.starts_with("error: invalid value 'x' for '--threads <N>'"), "{err}");
    let err = sandbox.fails(&["start", "--setup-only"], 2);
    assert!(err.starts_with("error: --setup-only needs --server-root DIR"), "{err}");
}

#[test]
fn warpdrive_projects_keep_their_server_type_and_args() {
    let sandbox = Sandbox::new();
    sandbox.write(".warpdrive/server_type", "gunicorn\n");
    sandbox.write(".warpdrive/server_args", "--max-requests 100 --log-level debug\n");
    let all = config(&mut sandbox.warp(&["config", "--json"]));
    assert_eq!(value(&all, "--server"), "gunicorn");
    assert_eq!(source(&all, "--server"), &serde_json::json!({"source": "warpdrive file", "file": ".warpdrive/server_type"}));
    // For another server they are its own arguments, passed on as they are.
    assert_eq!(value(&all, "WARP_SERVER_ARGS"), "--max-requests 100 --log-level debug");
    assert_eq!(value(&all, "--log-level"), "info");

    // For the embedded server, they are warp start flags (mod_wsgi-express's names), below
    // the variables.
    sandbox.write(".warpdrive/server_type", "auto\n");
    sandbox.write(".warpdrive/server_args", "--processes 3 --url-alias /static/ static/ --reload-on-changes\n");
    let all = config(sandbox.warp(&["config", "--json"]).env("WARP_PROCESSES", "2"));
    assert_eq!(value(&all, "--server"), "warp");
    assert_eq!(value(&all, "--processes"), "2");
    assert_eq!(value(&all, "--url-alias"), "/static/=static/");
    assert_eq!(source(&all, "--url-alias")["source"], "server args");
    assert_eq!(value(&all, "--reload-on-changes"), "true");
    sandbox.write(".warpdrive/server_args", "--processes 3 --working-directory /tmp\n");
    let err = sandbox.fails(&["config"], 2);
    assert_eq!(
        err,
        "error: server args (.warpdrive/server_args): --working-directory is not a warp start setting: see `warp start --help`\n"
    );
    sandbox.write(".warpdrive/server_type", "tomcat\n");
    let err = sandbox.fails(&["config"], 2);
    assert!(err.starts_with("error: .warpdrive/server_type: \"tomcat\" is not one of warp,"), "{err}");
}

#[test]
fn explain_shows_every_rule_when_nothing_is_found() {
    let sandbox = Sandbox::new();
    sandbox.write("README.md", "no app here\n");
    sandbox.ok(&["build"]);
    let out = sandbox.warp(&["start", "--explain"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("app detection in "), "{stdout}");
    for rule in [
        "WARP_APP_SCRIPT, app.sh",
        "WARP_APP_MODULE",
        "WARP_APP_FILE, wsgi.py, app.py, application.py",
        "WARP_APP_CONFIG",
        "found: nothing",
    ] {
        assert!(stdout.contains(rule), "{rule} missing:\n{stdout}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().last().unwrap_or("").starts_with("error: no app found in"), "{stderr}");
}

#[test]
fn config_yaml_names_the_app_for_detection() {
    let sandbox = Sandbox::robust();
    std::fs::rename(sandbox.app().join("wsgi.py"), sandbox.app().join("service.py")).unwrap();
    sandbox.write(".warp/config.yaml", "server:\n  app_module: service:application\n");
    let out = sandbox.ok(&["start", "--explain"]);
    assert!(out.contains("server.app_module (.warp/config.yaml:2)  service:application: serve service:application"), "{out}");
    assert!(Path::new(&sandbox.app()).join("service.py").exists());
}

#[test]
fn build_settings_come_from_the_app_s_files_too() {
    let sandbox = Sandbox::new();
    sandbox.write("requirements.txt", "six==1.16.0\n");
    sandbox.write(".warp/config.yaml", "build:\n  python: /usr/bin/python3\n  installer: uv\n");
    // The environment file beats config.yaml, as a variable does.
    sandbox.write(".warp/environment", "WARP_INSTALLER=pip\n");
    let out = run_ok(sandbox.warp(&["build"]).env_remove("WARP_INSTALLER"));
    assert!(out.contains("(from build.python (.warp/config.yaml:2))"), "{out}");
    assert!(out.contains("with pip"), "{out}");
    assert!(!out.contains("with uv"), "{out}");
    assert!(sandbox.imports(&sandbox.venv(), "six"));
}
