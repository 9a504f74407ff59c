//! The builder as an s2i builder, driven with plain `docker` the way openshift/source-to-image
//! drives one (its docs/builder_image.md): the source goes in as a tar on the stdin of
//! `/bin/sh -c "tar -C /tmp -xf - && <assemble>"`, its entries under `src/` (and `artifacts/`
//! from the previous image's save-artifacts, `scripts/` for the app's own `.s2i/bin`), the
//! container is committed with the run script as its command, and the image runs as an
//! arbitrary UID in group 0, as OpenShift runs it. Only the builder is made through warp's
//! code; nothing else here calls warp but the scripts in the containers.
//!
//! Every container and image a test makes carries the test's own name and is removed when
//! the test ends, whatever happens; the builder is kept under warp's default tag, as
//! `warp image` keeps it, and the offline base too.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use warp::image::builder;
use warp::image::cache::Cache;
use warp::image::Reference;

use crate::app_image::{docker_out, layers_contain, marked_ca_bundle, serves_the_django_example, Name, Running};
use crate::base_image::{base_image, engine, TAG as BASE};
use crate::rawhttp::get;
use crate::util::{run_ok, shared_cache, Sandbox};

/// The UID OpenShift would pick: in group 0, with no passwd entry in the image.
const ARBITRARY_USER: &str = "1000770000:0";
/// Where the build sees the host's CA bundle: a read-only bind mount, never in a layer.
const CA_IN_BUILD: &str = "/tmp/ca.pem";
/// What the s2i tool runs in the build container when the assemble script is the image's.
const ASSEMBLE: &str = "/usr/libexec/s2i/assemble";
/// The command s2i gives the committed image when the app has no run script of its own.
const RUN_CMD: &str = r#"CMD ["/usr/libexec/s2i/run"]"#;

/// The builder for this warp on the offline base, made once per test binary (the engine
/// keeps it under warp's default tag).
pub fn builder_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let engine = engine();
        base_image(&engine);
        let inputs = crate::builder::inputs();
        let tag = builder::default_tag(BASE, &inputs, &Cache::new(&shared_cache())).expect("the builder's tag");
        let reference = Reference::parse(&tag).unwrap();
        builder::ensure(&engine, &reference, BASE, &inputs, &mut |_| {}).expect("build the builder");
        tag
    })
}

/// A build container's name, unique to this test run.
fn container_name(what: &str) -> String {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    format!("warp-test-s2i-{what}-{}-{}", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed))
}

/// An app to build: its folder, the CA bundle its builds get, and the name its images go
/// under (removed with it).
struct App {
    sandbox: Sandbox,
    ca: PathBuf,
    /// A line of the CA bundle that no layer may hold.
    marker: String,
    name: Name,
}

impl App {
    fn new(sandbox: Sandbox, name: &str) -> App {
        let marker = format!("warp-test-s2i-ca-{}", std::process::id());
        let ca = marked_ca_bundle(sandbox.root(), &marker);
        App { sandbox, ca, marker, name: Name::new(name) }
    }

    /// examples/flask, with its app named as a user of the OpenShift Python builder names
    /// it: that builder's order of entry points would run app.py as a script.
    fn flask(name: &str) -> App {
        let sandbox = Sandbox::example("flask");
        sandbox.write(".s2i/environment", "APP_MODULE=app:app\n");
        App::new(sandbox, name)
    }

    /// The build's input as s2i streams it: the app's folder under `src/`, the previous
    /// image's artifacts (a save-artifacts tar) under `artifacts/`, and the app's own scripts
    /// (s2i moves `.s2i/bin/*` out of the source into `scripts/`).
    fn input(&self, artifacts: Option<&[u8]>, scripts: &[(&str, &str)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        // The venv's bin/python is a link: kept as one, as s2i's tar keeps it.
        tar.follow_symlinks(false);
        tar.append_dir_all("src", self.sandbox.app()).unwrap();
        let unpacked = tempfile::tempdir().unwrap();
        if let Some(artifacts) = artifacts {
            // s2i unpacks the previous image's artifacts on the host, then tars them again.
            tar::Archive::new(artifacts).unpack(unpacked.path()).unwrap();
            tar.append_dir_all("artifacts", unpacked.path()).unwrap();
        }
        for (name, text) in scripts {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o755);
            header.set_size(text.len() as u64);
            tar.append_data(&mut header, format!("scripts/{name}"), text.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap()
    }

    /// One build container: `input` on the stdin of `tar -C /tmp -xf - && script`, as the
    /// builder's user, with the CA bundle mounted read-only for the build alone and
    /// `docker_args` added (`-e`, `--network`). The container stays until the guard is dropped.
    fn assemble(&self, input: &[u8], script: &str, docker_args: &[&str]) -> (Running, Output) {
        let name = container_name("build");
        let mount = format!("{}:{CA_IN_BUILD}:ro", self.ca.display());
        let ca_vars = [format!("SSL_CERT_FILE={CA_IN_BUILD}"), format!("PIP_CERT={CA_IN_BUILD}")];
        let mut cmd = Command::new("docker");
        cmd.args(["run", "-i", "--name", &name, "-v", &mount, "-e", &ca_vars[0], "-e", &ca_vars[1]]).args(docker_args);
        cmd.args([builder_image(), "/bin/sh", "-c", &format!("tar -C /tmp -xf - && {script}")]);
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("docker runs");
        let container = Running(name);
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        // Written beside the wait, so a build that talks a lot cannot block the tar.
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap().expect("the source tar goes in");
        (container, output)
    }

    /// A successful build of `input` by `script`, committed as `name:tag` with the run
    /// script as its command. Returns the build's output.
    fn build_with(&self, tag: &str, input: &[u8], script: &str, docker_args: &[&str]) -> String {
        let (container, output) = self.assemble(input, script, docker_args);
        let out = text(&output);
        assert!(output.status.success(), "assemble failed ({}):\n{out}", output.status);
        docker_out(&["commit", "--change", RUN_CMD, &container.0, &self.name.tag(tag)]);
        out
    }

    /// The plain build of the app's source, as `name:tag`: the tag and the build's output.
    fn build(&self, tag: &str) -> (String, String) {
        let out = self.build_with(tag, &self.input(None, &[]), ASSEMBLE, &[]);
        (self.name.tag(tag), out)
    }
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `docker logs -f`, ended when dropped.
struct Following(Child);

impl Drop for Following {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `image` as the arbitrary UID with port 8080 published on loopback, with `env`, and
/// wait until its log says a worker is ready (or the container ends, which fails the test
/// with its log). Returns the container and the port on the host.
fn serve(image: &str, env: &[&str]) -> (Running, u16, String) {
    let mut args = vec!["run", "-d", "-u", ARBITRARY_USER, "-p", "127.0.0.1::8080"];
    for var in env {
        args.extend(["-e", var]);
    }
    args.push(image);
    let running = Running(docker_out(&args));
    let port = docker_out(&["port", &running.0, "8080/tcp"]).lines().next().unwrap().rsplit(':').next().unwrap().parse().unwrap();
    let mut follow = Command::new("docker").args(["logs", "-f", &running.0]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (lines, receive) = mpsc::channel();
    for stream in [Box::new(follow.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>, Box::new(follow.stderr.take().unwrap())] {
        let lines = lines.clone();
        std::thread::spawn(move || BufReader::new(stream).lines().map_while(Result::ok).try_for_each(|line| lines.send(line)));
    }
    drop(lines);
    let _follow = Following(follow);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut log = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match receive.recv_timeout(left) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if line.contains(") ready in ") {
                    return (running, port, log);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{image} ended before it served:\n{log}"),
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("{image} was not ready within 2 minutes:\n{log}"),
        }
    }
}

#[test]
fn an_s2i_build_with_plain_docker_serves_the_flask_example_as_any_uid() {
    let app = App::flask("s2i-flask");
    let (tag, out) = app.build("1");
    assert!(out.contains("installing dependencies from requirements.txt"), "{out}");
    assert_eq!(docker_out(&["image", "inspect", "--format", "{{json .Config.Cmd}}", &tag]), r#"["/usr/libexec/s2i/run"]"#);
    // The CA bundle reached the build from a mount: its text is in no layer (the mount's
    // empty placeholder is all the commit keeps).
    let left = docker_out(&["run", "--rm", &tag, "sh", "-c", &format!("test -s {CA_IN_BUILD} && echo content || echo none")]);
    assert_eq!(left, "none");
    assert!(!layers_contain(&tag, app.marker.as_bytes()), "the CA bundle given to the build is in a layer");

    let (running, port, log) = serve(&tag, &["WEB_CONCURRENCY=2"]);
    assert!(log.contains("2 process(es)"), "WEB_CONCURRENCY sets the processes:\n{log}");
    let page = get(port, "/");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Hello, Flask!"), "the app's .warp/environment applies:\n{}", page.text());
    assert!(get(port, "/api/status").text().contains("\"ok\""));
    assert_eq!(docker_out(&["exec", &running.0, "id", "-u"]), "1000770000");
    drop(running);

    // ENABLE_INIT_WRAPPER asks that builder for an init process: warp is one (PID 1, reaping
    // orphans and passing signals on), so the image serves as it does without it.
    let (running, port, _) = serve(&tag, &["ENABLE_INIT_WRAPPER=true"]);
    assert_eq!(get(port, "/").status, 200);
    assert_eq!(docker_out(&["exec", &running.0, "cat", "/proc/1/comm"]), "warp");
}

#[test]
fn an_s2i_build_of_the_django_example_migrates_at_start_and_serves_its_static_files() {
    let app = App::new(Sandbox::example("django"), "s2i-django");
    let (tag, out) = app.build("1");
    assert!(out.contains("django collectstatic"), "{out}");
    let (_running, port, log) = serve(&tag, &[]);
    assert!(log.contains("django migrate"), "run migrates before it serves:\n{log}");
    serves_the_django_example(port);

    // DISABLE_MIGRATE leaves the database alone: the app's own tables are missing.
    let (_running, port, log) = serve(&tag, &["DISABLE_MIGRATE=1"]);
    assert!(!log.contains("django migrate"), "{log}");
    assert_eq!(get(port, "/").status, 500);
}

#[test]
fn an_incremental_build_restores_the_saved_dependencies_and_needs_no_network() {
    let app = App::flask("s2i-incremental");
    let (first, _) = app.build("1");
    let saved = Command::new("docker").args(["run", "--rm", &first, "/usr/libexec/s2i/save-artifacts"]).output().unwrap();
    assert!(saved.status.success(), "{}", text(&saved));
    let artifacts = saved.stdout;
    let mut names = Vec::new();
    for entry in tar::Archive::new(artifacts.as_slice()).entries().expect("stdout is a tar") {
        names.push(entry.expect("and nothing but a tar").path().unwrap().to_string_lossy().into_owned());
    }
    assert!(names.iter().any(|n| n == "pyvenv.cfg") && names.iter().any(|n| n.starts_with("lib/")), "the venv is saved: {names:?}");
    assert!(names.iter().any(|n| n.starts_with(".cache/")), "warp's cache is saved: {names:?}");
    assert!(!names.iter().any(|n| n == "src" || n.starts_with("src/")), "the source is not an artifact");

    // A code change, and a build with no network at all: it can only succeed from the artifacts.
    let code = std::fs::read_to_string(app.sandbox.app().join("app.py")).unwrap().replace("status=\"ok\"", "status=\"changed\"");
    app.sandbox.write("app.py", &code);
    let out = app.build_with("2", &app.input(Some(&artifacts), &[]), ASSEMBLE, &["--network", "none"]);
    assert!(out.contains("restoring the dependency cache"), "{out}");
    assert!(out.contains("nothing reinstalled"), "{out}");
    let (_running, port, _) = serve(&app.name.tag("2"), &[]);
    assert!(get(port, "/api/status").text().contains("\"changed\""));
}

#[test]
fn an_apps_own_assemble_calls_the_builders_and_its_work_is_in_the_image() {
    let app = App::new(Sandbox::example("hello"), "s2i-own-assemble");
    let own = "#!/bin/sh\nset -e\n/usr/libexec/s2i/assemble\necho \"assembled by the app\" > \"$HOME/assembled-by-app\"\n";
    app.build_with("1", &app.input(None, &[("assemble", own)]), "/tmp/scripts/assemble", &[]);
    let tag = app.name.tag("1");
    assert_eq!(
        docker_out(&["run", "--rm", "-u", ARBITRARY_USER, &tag, "cat", "/opt/app-root/src/assembled-by-app"]),
        "assembled by the app"
    );
    let (_running, port, _) = serve(&tag, &[]);
    assert_eq!(get(port, "/").text(), "Hello from warp!\n");
}

#[test]
fn an_arbitrary_uid_with_no_passwd_entry_is_a_user_with_a_home() {
    // The app in a folder of its own, as APP_HOME says.
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.app().join("project")).unwrap();
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello/wsgi.py"), sandbox.app().join("project/wsgi.py")).unwrap();
    sandbox.write(".s2i/environment", "APP_HOME=project\n");
    let app = App::new(sandbox, "s2i-uid");
    let (tag, _) = app.build("1");
    let unknown = Command::new("docker").args(["run", "--rm", "-u", ARBITRARY_USER, &tag, "id", "-un"]).output().unwrap();
    assert!(!unknown.status.success(), "the UID has no entry until the run script runs: {}", text(&unknown));

    let (running, port, _) = serve(&tag, &[]);
    assert_eq!(get(port, "/").text(), "Hello from warp!\n", "served from APP_HOME");
    // Later processes in the container (docker exec, oc rsh) are that user too.
    let probe =
        "import getpass, os, pwd; entry = pwd.getpwuid(os.getuid()); print(getpass.getuser(), entry.pw_dir, os.path.expanduser('~'))";
    let who = docker_out(&["exec", &running.0, "python", "-c", probe]);
    assert_eq!(who, "user-1000770000 /opt/app-root/src /opt/app-root/src");
    // Caches under the home (pip's, XDG's) can be written.
    let cache = "import pathlib; p = pathlib.Path.home() / '.cache' / 'probe'; p.parent.mkdir(parents=True, exist_ok=True); p.write_text('x'); print(p)";
    assert_eq!(docker_out(&["exec", &running.0, "python", "-c", cache]), "/opt/app-root/src/.cache/probe");
    // The writable /etc/passwd leads nowhere: no program keeps a setuid bit.
    assert_eq!(docker_out(&["run", "--rm", "-u", "0", builder_image(), "find", "/", "-xdev", "-type", "f", "-perm", "-4000"]), "");
}

#[test]
fn pipenv_and_micropipenv_together_are_refused_in_one_line() {
    let app = App::new(Sandbox::example("hello"), "s2i-pipenvs");
    app.sandbox.write(".s2i/environment", "ENABLE_PIPENV=1\n");
    let (container, output) = app.assemble(&app.input(None, &[]), ASSEMBLE, &["-e", "ENABLE_MICROPIPENV=1"]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert_eq!(out.lines().count(), 1, "one line:\n{out}");
    assert!(out.starts_with("error: ENABLE_PIPENV and ENABLE_MICROPIPENV"), "{out}");
    // Refused before anything moved: the source is still where the tar put it.
    let left = run_ok(Command::new("docker").args(["diff", &container.0]));
    assert!(left.contains("/tmp/src/wsgi.py") && !left.contains("/opt/app-root/src/wsgi.py"), "{left}");
}

#[test]
fn the_builder_says_how_to_use_it_and_carries_the_s2i_scripts() {
    let builder = builder_image();
    let usage = Command::new("docker").args(["run", "--rm", builder, "/usr/libexec/s2i/usage"]).output().unwrap();
    assert!(usage.status.success());
    let shown = String::from_utf8_lossy(&usage.stdout);
    for needle in ["s2i build", "docker run", "/usr/libexec/s2i/assemble", "APP_MODULE", "WEB_CONCURRENCY", "DISABLE_MIGRATE"] {
        assert!(shown.contains(needle), "usage names {needle}:\n{shown}");
    }
    assert!(usage.stderr.is_empty(), "{}", String::from_utf8_lossy(&usage.stderr));

    let labels: serde_json::Value =
        serde_json::from_str(&docker_out(&["image", "inspect", "--format", "{{json .Config.Labels}}", builder])).unwrap();
    assert_eq!(labels["io.openshift.s2i.scripts-url"], "image:///usr/libexec/s2i");
    assert_eq!(labels["io.openshift.s2i.destination"], "/tmp");
    assert!(docker_out(&["image", "inspect", "--format", "{{json .Config.Env}}", builder]).contains("STI_SCRIPTS_PATH=/usr/libexec/s2i"));
    let scripts = docker_out(&[
        "run",
        "--rm",
        builder,
        "stat",
        "-c",
        "%a %n",
        "/usr/libexec/s2i/assemble",
        "/usr/libexec/s2i/run",
        "/usr/libexec/s2i/save-artifacts",
        "/usr/libexec/s2i/usage",
        "/usr/libexec/s2i/env.sh",
    ]);
    assert_eq!(
        scripts.lines().collect::<Vec<_>>(),
        [
            "755 /usr/libexec/s2i/assemble",
            "755 /usr/libexec/s2i/run",
            "755 /usr/libexec/s2i/save-artifacts",
            "755 /usr/libexec/s2i/usage",
            "644 /usr/libexec/s2i/env.sh"
        ]
    );
}
