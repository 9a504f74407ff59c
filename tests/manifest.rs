//! `warp manifest`: its objects validated offline against Kubernetes' JSON schemas (the
//! kubernetes-validate package's strict ones) and a schema of the Route's fields, and held
//! to the app's settings: the probes ask the app's port and health path, and the grace
//! period outlasts its shutdown timeout.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::util::{have, require, run_fails, shared_cache, Sandbox};

/// The validator, pinned: its schemas are those of Kubernetes 1.25 to 1.37.
const KUBERNETES_VALIDATE: &str = "kubernetes-validate==1.37.0";
/// What the validator exits with when a document is not valid.
const INVALID: i32 = 3;

/// A venv's python that has kubernetes-validate, made once in the shared cache (a marker
/// file says the install finished; without it the venv is made again).
fn validator() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = shared_cache().join("kubernetes-validate-1.37.0");
        let done = venv.join("installed");
        if !done.exists() {
            require(have("python3"), "python3 with its venv module (python3-venv), to install kubernetes-validate from PyPI");
            let _ = std::fs::remove_dir_all(&venv);
            let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).output().expect("python3 runs");
            assert!(made.status.success(), "python3 -m venv: {}", String::from_utf8_lossy(&made.stderr));
            let installed = Command::new(venv.join("bin/python"))
                .args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet", KUBERNETES_VALIDATE])
                .env("PIP_CACHE_DIR", shared_cache().join("pip"))
                .output()
                .expect("the venv's python runs");
            assert!(installed.status.success(), "pip install {KUBERNETES_VALIDATE}: {}", String::from_utf8_lossy(&installed.stderr));
            std::fs::write(&done, KUBERNETES_VALIDATE).unwrap();
        }
        venv.join("bin/python")
    })
}

/// The documents of `yaml` as JSON when every one is valid, else the validator's complaints.
fn validate(yaml: &str) -> Result<Vec<Value>, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.yaml");
    std::fs::write(&file, yaml).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifest/validate.py");
    let out = Command::new(validator()).arg(script).arg(&file).output().expect("the validator runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Ok(serde_json::from_slice(&out.stdout).expect("the validator prints JSON")),
        Some(INVALID) => Err(stderr),
        _ => panic!("the validator itself failed ({}):\n{stderr}", out.status),
    }
}

fn valid(yaml: &str) -> Vec<Value> {
    validate(yaml).unwrap_or_else(|problems| panic!("not valid:\n{problems}\n{yaml}"))
}

/// `warp manifest ARGS`'s stdout, which must be all it printed.
fn manifest(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = sandbox.warp(&[&["manifest"], args].concat());
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("warp runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{cmd:?} ({}):\n{stderr}", out.status);
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn kinds(docs: &[Value]) -> Vec<&str> {
    docs.iter().map(|doc| doc["kind"].as_str().unwrap_or("?")).collect()
}

fn container(docs: &[Value]) -> &Value {
    &docs[0]["spec"]["template"]["spec"]["containers"][0]
}

/// The port the container's port named `name` is, as a probe or Service resolves it.
fn named_port(container: &Value, name: &Value) -> u64 {
    match name {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(name) => {
            let ports = container["ports"].as_array().unwrap();
            let port = ports.iter().find(|p| p["name"] == *name.as_str()).unwrap_or_else(|| panic!("no port named {name}: {ports:?}"));
            port["containerPort"].as_u64().unwrap()
        }
        other => panic!("a port of {other}"),
    }
}

fn grace_period(docs: &[Value]) -> u64 {
    docs[0]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].as_u64().unwrap()
}

#[test]
fn the_flask_example_s_objects_validate_with_a_route_and_strings_that_need_quotes() {
    let sandbox = Sandbox::example("flask");
    let args = [
        "flask",
        "registry.example.com/team/flask:1.0",
        ".",
        "--openshift",
        "--hostname",
        "flask.apps.example.com",
        "--namespace",
        "web",
        "--env",
        "FEATURE=yes",
        "--env",
        "RATIO=1.0",
        "--env",
        "NOTE=a: b # c",
        "--env",
        "PADDED=  leading",
        "--env",
        "EMPTY=",
    ];
    let yaml = manifest(&sandbox, &args, &[]);
    assert_eq!(manifest(&sandbox, &args, &[]), yaml, "the same input gives the same bytes");
    let docs = valid(&yaml);
    assert_eq!(kinds(&docs), ["Deployment", "Service", "Route"]);
    let container = container(&docs);
    let env: Vec<(&str, &str)> =
        container["env"].as_array().unwrap().iter().map(|v| (v["name"].as_str().unwrap(), v["value"].as_str().unwrap())).collect();
    assert_eq!(env, [("FEATURE", "yes"), ("RATIO", "1.0"), ("NOTE", "a: b # c"), ("PADDED", "  leading"), ("EMPTY", "")]);
    assert_eq!(container["image"], "registry.example.com/team/flask:1.0");
    // The example has no health path and no probe hooks: the probe commands ask the server.
    assert_eq!(container["readinessProbe"]["exec"]["command"], serde_json::json!(["warp", "ready"]));
    assert_eq!(container["livenessProbe"]["exec"]["command"], serde_json::json!(["warp", "alive"]));
    assert_eq!(named_port(container, &Value::from("http")), 8080, "the image's port");
    assert!(grace_period(&docs) > 5, "above the default shutdown timeout");
    let route = &docs[2];
    assert_eq!((route["spec"]["host"].as_str(), route["spec"]["to"]["name"].as_str()), (Some("flask.apps.example.com"), Some("flask")));
    assert_eq!(route["spec"]["tls"]["termination"], "edge");
    for doc in &docs {
        assert_eq!(doc["metadata"]["namespace"], "web");
        assert_eq!(doc["metadata"]["labels"]["app.kubernetes.io/name"], "flask");
    }
}

#[test]
fn the_django_example_s_objects_validate() {
    let sandbox = Sandbox::example("django");
    let docs = valid(&manifest(&sandbox, &["blog", "quay.io/me/blog:2024.1", "--replicas", "3"], &[]));
    assert_eq!(kinds(&docs), ["Deployment", "Service"]);
    assert_eq!(docs[0]["spec"]["replicas"], 3);
    let service = &docs[1]["spec"];
    assert_eq!(service["selector"], docs[0]["spec"]["selector"]["matchLabels"]);
    assert_eq!(named_port(container(&docs), &service["ports"][0]["targetPort"]), 8080);
}

#[test]
fn probes_ask_the_app_s_port_and_health_path_and_the_grace_period_outlasts_its_shutdown_timeout() {
    let sandbox = Sandbox::new();
    sandbox.write(".warp/config.yaml", "server:\n  health_path: /healthz\n  shutdown_timeout: 20\n  processes: 2\n  threads: 4\n");
    sandbox.write(".s2i/environment", "PORT=8085\n");
    // This shell's variables are not the container's.
    let laptop = [("PORT", "3000"), ("WARP_SHUTDOWN_TIMEOUT", "1"), ("APP_ROOT", "/elsewhere")];
    let docs = valid(&manifest(&sandbox, &["api", "api:1", "--service-port", "80"], &laptop));
    let container = container(&docs);
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], "/healthz", "{probe}: {container}");
        assert_eq!(named_port(container, &get["port"]), 8085, "{probe}");
    }
    let service_port = &docs[1]["spec"]["ports"][0];
    assert_eq!((service_port["port"].as_u64(), named_port(container, &service_port["targetPort"])), (Some(80), 8085));
    assert!(grace_period(&docs) > 20, "{}", grace_period(&docs));
    assert_eq!(container["resources"]["requests"]["memory"], "384Mi", "two workers of four threads");
    assert_eq!(container["resources"]["limits"]["cpu"], "2", "a CPU for each worker");

    // The Deployment's variables are the container's: they move the probes too, and an
    // app's ready hook makes the readiness probe run it.
    sandbox.write_exec(".warp/action_hooks/ready", "#!/bin/sh\nexit 0\n");
    let docs = valid(&manifest(&sandbox, &["api", "api:1", "--env", "WARP_HEALTH_PATH=/up", "--env", "WARP_PORT=9000"], &[]));
    let container = crate::manifest::container(&docs);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/up");
    assert_eq!(named_port(container, &container["livenessProbe"]["httpGet"]["port"]), 9000);
    assert_eq!(container["readinessProbe"]["exec"]["command"], serde_json::json!(["warp", "ready"]));
}

#[test]
fn objects_that_break_the_schemas_are_refused_by_the_validator() {
    let sandbox = Sandbox::example("hello");
    let yaml = manifest(&sandbox, &["hello", "hello:1", "--openshift", "--env", "FEATURE=yes"], &[]);
    valid(&yaml);
    let breakages = [
        ("replicas: 1\n", "replicas: one\n", "spec.replicas"),
        ("terminationGracePeriodSeconds:", "terminationGracePeriod:", "'terminationGracePeriod' was unexpected"),
        // Unquoted, YAML 1.1 (and so Kubernetes) reads a boolean.
        ("value: \"yes\"", "value: yes", "env.0.value"),
        ("containerPort: 8080", "containerPort: \"8080\"", "containerPort"),
        ("termination: edge", "termination: sideways", "Route/hello: spec.tls.termination"),
        ("    weight: 100\n", "    weight: 100\n    extra: 1\n", "Route/hello: spec.to"),
    ];
    for (from, to, problem) in breakages {
        assert!(yaml.contains(from), "{from:?} is not in:\n{yaml}");
        let broken = yaml.replacen(from, to, 1);
        let problems = validate(&broken).expect_err(&format!("{to:?} passed validation"));
        assert!(problems.contains(problem), "{to:?}: expected {problem:?} among:\n{problems}");
    }
}

#[test]
fn bad_input_is_one_line_exit_2_and_no_yaml() {
    let sandbox = Sandbox::example("hello");
    let cases: [(&[&str], &str); 7] = [
        (&["My_App", "img"], "\"My_App\" is not a valid name: use at most 63 lowercase letters"),
        (&["app", "Bad Name"], "\"Bad Name\" is not a valid image name"),
        (&["app", "img", "--namespace", "Web"], "\"Web\" is not a valid namespace"),
        (&["app", "img", "--requests", "cpu=lots"], "\"lots\" is not a Kubernetes quantity"),
        (&["app", "img", "--requests", "memory=2Gi", "--limits", "memory=1Gi"], "the memory request 2Gi is above its limit 1Gi"),
        (&["app", "img", "--hostname", "app.example.com"], "only --openshift adds a Route: add --openshift"),
        (&["app", "img", "--env", "A=1", "--env", "A=2"], "--env A is given twice"),
    ];
    for (args, message) in cases {
        let out = sandbox.warp(&[&["manifest"], args].concat()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed YAML");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with("error: ") && first.contains(message), "{args:?}: {stderr}");
    }
    sandbox.write(".warp/config.yaml", "server:\n  host: 127.0.0.1\n");
    let err = run_fails(&mut sandbox.warp(&["manifest", "app", "img"]), 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("server.host (.warp/config.yaml:2): the server would listen on 127.0.0.1 only"), "{err}");
}
