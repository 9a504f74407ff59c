//! `warp image` end to end on the real engine: the examples built into images on the offline
//! base, run as an arbitrary UID in group 0, rebuilt from the cache, written as OCI layouts,
//! and every kind of bad input refused without leaving anything behind.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::base_image::{base_image, engine, TAG as BASE};
use crate::rawhttp::{exchange, Response};
use crate::registry::{Registry, Setup, PASSWORD, USER};
use crate::util::{require, run_ok, Sandbox};

/// A name no other test or run uses; the images under it are removed when the test ends.
pub struct Name(String);

impl Name {
    pub fn new(name: &str) -> Name {
        Name(format!("warp-test-{name}-{}", std::process::id()))
    }

    pub fn tag(&self, tag: &str) -> String {
        format!("{}:{tag}", self.0)
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let tags = docker_out(&["images", "--format", "{{.Repository}}:{{.Tag}}", &self.0]);
        for tag in tags.lines() {
            let _ = Command::new("docker").args(["rmi", tag]).output();
        }
    }
}

/// A running container, removed when dropped.
pub struct Running(pub String);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

pub fn docker_out(args: &[&str]) -> String {
    run_ok(Command::new("docker").args(args)).trim().to_string()
}

/// `warp image ARGS` on the offline base, in the sandbox.
pub fn image(sandbox: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = sandbox.warp(&["image"]);
    cmd.args(args).args(["--base", BASE]);
    cmd
}

/// The engine and its base image, made when missing.
pub fn prepared() {
    base_image(&engine());
}

fn inspect(image: &str, format: &str) -> String {
    docker_out(&["image", "inspect", "--format", format, image])
}

fn layers(image: &str) -> Vec<String> {
    inspect(image, "{{json .RootFS.Layers}}").trim_matches(['[', ']']).split(',').map(|l| l.trim_matches('"').to_string()).collect()
}

/// The image ID `warp image` reported on its last line.
fn reported_id(output: &str) -> String {
    let line = output.lines().rev().find(|l| l.contains("image ID ")).unwrap_or_else(|| panic!("no image ID in:\n{output}"));
    line.split("image ID ").nth(1).unwrap().split(',').next().unwrap().to_string()
}

/// Seconds since 1970, as `docker events` takes them.
fn now() -> String {
    format!("{:.3}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64())
}

/// The build containers made for `tag` since `since` (created, whether or not still there).
fn build_containers_since(tag: &str, since: &str) -> usize {
    let label = format!("label=dev.warp.image.build={tag}");
    let until = now();
    let args =
        ["events", "--since", since, "--until", &until, "--filter", "type=container", "--filter", "event=create", "--filter", &label];
    docker_out(&args).lines().count()
}

/// The build containers for `tag` that exist now.
fn build_containers_left(tag: &str) -> String {
    docker_out(&["ps", "-aq", "--filter", &format!("label=dev.warp.image.build={tag}")])
}

/// The images under `name`, by tag: what a failed build must not change.
fn images_of(name: &Name) -> BTreeSet<String> {
    docker_out(&["images", "--no-trunc", "--format", "{{.Tag}} {{.ID}}", &name.0]).lines().map(str::to_string).collect()
}

/// Run `image` as UID 123456 in group 0 with port 8080 published on loopback, and wait
/// until it answers `path`.
pub fn serve(image: &str, path: &str) -> (Running, u16) {
    let id = docker_out(&["run", "-d", "-u", "123456:0", "-p", "127.0.0.1::8080", image]);
    let running = Running(id.clone());
    let port: u16 = docker_out(&["port", &id, "8080/tcp"]).lines().next().unwrap().rsplit(':').next().unwrap().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if try_get(port, path).is_some() {
            return (running, port);
        }
        let state = docker_out(&["inspect", "--format", "{{.State.Status}}", &id]);
        assert_eq!(state, "running", "the container stopped:\n{}", docker_out(&["logs", &id]));
        assert!(Instant::now() < deadline, "{image} did not answer {path} within a minute:\n{}", docker_out(&["logs", &id]));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A GET that may find nobody listening yet (Docker's proxy accepts, then closes).
fn try_get(port: u16, path: &str) -> Option<Response> {
    TcpStream::connect(("127.0.0.1", port)).ok()?;
    exchange(port, format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
}

pub fn get(port: u16, path: &str) -> Response {
    try_get(port, path).unwrap_or_else(|| panic!("no response to GET {path}"))
}

/// `docker stop` ends the container by SIGTERM within the shutdown timeout (5 s) and its
/// margin, with a clean exit.
fn stops_on_sigterm(running: &Running) {
    let started = Instant::now();
    docker_out(&["stop", "-t", "30", &running.0]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "docker stop took {took:?}");
    let code = docker_out(&["inspect", "--format", "{{.State.ExitCode}}", &running.0]);
    assert_eq!(code, "0", "a graceful stop exits 0:\n{}", docker_out(&["logs", &running.0]));
}

/// Whether any layer of `image` holds `needle`.
pub fn layers_contain(image: &str, needle: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("image.tar");
    run_ok(Command::new("docker").args(["save", "-o"]).arg(&tar).arg(image));
    let mut archive = tar::Archive::new(std::fs::File::open(&tar).unwrap());
    archive.entries().unwrap().any(|entry| {
        let mut entry = entry.unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        bytes.windows(needle.len()).any(|w| w == needle)
    })
}

/// A CA bundle that works (the host's) with a marker line no layer may hold.
pub fn marked_ca_bundle(dir: &Path, marker: &str) -> std::path::PathBuf {
    let host = ["SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .chain(["/etc/ssl/certs/ca-certificates.crt".to_string()])
        .find(|path| Path::new(path).is_file())
        .expect("a CA bundle on the host");
    let mut text = std::fs::read_to_string(host).unwrap();
    text.push_str(&format!("\n# {marker}\n"));
    let path = dir.join("ca.pem");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_flask_example_is_an_image_that_runs_as_any_uid_and_rebuilds_from_its_cache() {
    prepared();
    let sandbox = Sandbox::example("flask");
    let name = Name::new("flask");
    let tag = name.tag("1");
    let marker = format!("warp-test-ca-marker-{}", std::process::id());
    let ca = marked_ca_bundle(sandbox.root(), &marker);
    let ca = ca.to_str().unwrap();

    let first = run_ok(&mut image(&sandbox, &[&tag, "--ca-cert", ca]));
    let id = reported_id(&first);
    assert_eq!(inspect(&tag, "{{.Id}}"), id, "{first}");
    assert_eq!(inspect(&tag, "{{.Config.User}}"), "1001");
    assert_eq!(inspect(&tag, "{{.Config.WorkingDir}}"), "/opt/app-root/src");
    assert_eq!(inspect(&tag, "{{json .Config.Cmd}}"), r#"["warp","start"]"#);
    assert!(inspect(&tag, "{{json .Config.ExposedPorts}}").contains("8080/tcp"));
    let env = inspect(&tag, "{{json .Config.Env}}");
    assert!(env.contains("PATH=/opt/app-root/bin:/opt/warp/bin:") && env.contains("LANG=C.UTF-8"), "{env}");
    assert!(!layers_contain(&tag, marker.as_bytes()), "the CA bundle given to the build is in a layer");

    let (running, port) = serve(&tag, "/");
    let page = get(port, "/");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Hello, Flask!"), "{}", page.text());
    assert!(get(port, "/api/status").text().contains("\"ok\""));
    let user = docker_out(&["exec", &running.0, "id", "-u"]);
    assert_eq!(user, "123456");
    // Every layer carries the folders above its own, so none hides another's owner.
    let owners =
        docker_out(&["exec", &running.0, "stat", "-c", "%u:%g %A %n", "/opt", "/opt/app-root", "/opt/app-root/src", "/opt/warp/bin/warp"]);
    let expected = [
        "0:0 drwxr-xr-x /opt",
        "1001:0 drwxrwxr-x /opt/app-root",
        "1001:0 drwxrwxr-x /opt/app-root/src",
        "0:0 -rwxr-xr-x /opt/warp/bin/warp",
    ];
    assert_eq!(owners.lines().collect::<Vec<_>>(), expected);
    stops_on_sigterm(&running);

    // The same source again: the same image, and no container ran.
    let since = now();
    let again = run_ok(&mut image(&sandbox, &[&tag, "--ca-cert", ca]));
    assert_eq!(reported_id(&again), id, "{again}");
    assert!(again.contains("dependencies cached"), "{again}");
    assert_eq!(build_containers_since(&tag, &since), 0, "no container runs:\n{again}");

    // A change to the code only: the dependency layer is reused as it was, no install runs.
    let code = std::fs::read_to_string(sandbox.app().join("app.py")).unwrap().replace("status=\"ok\"", "status=\"changed\"");
    sandbox.write("app.py", &code);
    let changed = name.tag("2");
    let rebuilt = run_ok(&mut image(&sandbox, &[&changed, "--ca-cert", ca]));
    assert_ne!(reported_id(&rebuilt), id);
    let (old, new) = (layers(&tag), layers(&changed));
    assert_eq!(old.len(), new.len());
    assert_eq!(old[..old.len() - 1], new[..new.len() - 1], "only the app layer differs");
    assert!(!rebuilt.contains("Installed") && !rebuilt.contains("installing"), "no install ran:\n{rebuilt}");
    let (_running, port) = serve(&changed, "/api/status");
    assert!(get(port, "/api/status").text().contains("\"changed\""));
}

#[test]
fn the_same_source_gives_the_same_image_id_with_an_empty_cache() {
    prepared();
    let sandbox = Sandbox::example("flask");
    let name = Name::new("reproducible");
    let first = run_ok(&mut image(&sandbox, &[&name.tag("1")]));
    let cache = tempfile::tempdir().unwrap();
    let second = run_ok(image(&sandbox, &[&name.tag("2")]).env("WARP_CACHE_DIR", cache.path()));
    assert!(second.contains("dependencies installed"), "the empty cache built everything again:\n{second}");
    assert_eq!(reported_id(&second), reported_id(&first), "{first}\n{second}");
}

/// examples/django, migrated and served on `port`: its page reads the database, and
/// Django's static files are served.
pub fn serves_the_django_example(port: u16) {
    let page = get(port, "/");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Hello from the database"), "{}", page.text());
    let css = get(port, "/static/admin/css/base.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").is_some_and(|t| t.starts_with("text/css")), "{:?}", css.headers);
}

#[test]
fn the_django_example_serves_its_static_files_from_the_image() {
    prepared();
    let sandbox = Sandbox::example("django");
    let name = Name::new("django");
    let tag = name.tag("1");
    run_ok(&mut image(&sandbox, &[&tag]));
    let (running, port) = serve(&tag, "/admin/login/");
    // The arbitrary UID writes the app's database into the source folder, as group 0 may.
    let migrated = docker_out(&["exec", &running.0, "warp", "migrate"]);
    assert!(migrated.contains("OK"), "{migrated}");
    serves_the_django_example(port);
    stops_on_sigterm(&running);

    // collectstatic runs again on a code change, on the cached dependencies.
    sandbox.write("static/css/extra.css", "body { color: red }\n");
    let since = now();
    let rebuilt = run_ok(&mut image(&sandbox, &[&name.tag("2")]));
    assert!(rebuilt.contains("build (dependencies cached)"), "{rebuilt}");
    assert_eq!(build_containers_since(&name.tag("2"), &since), 1, "one container ran collectstatic:\n{rebuilt}");
    assert_eq!(build_containers_left(&name.tag("2")), "", "and was removed");
    let (_running, port) = serve(&name.tag("2"), "/static/css/extra.css");
    assert_eq!(get(port, "/static/css/extra.css").text(), "body { color: red }\n");
}

#[test]
fn an_oci_layout_validates_and_skopeo_copies_it_into_the_engine() {
    prepared();
    let have = |p: &str| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success());
    require(have("skopeo"), "skopeo (apt-get install skopeo)");
    let sandbox = Sandbox::example("flask");
    let name = Name::new("oci");
    let dir = sandbox.root().join("layout");
    let out = run_ok(&mut image(&sandbox, &[&name.tag("1"), "--oci", dir.to_str().unwrap()]));
    assert!(out.contains("OCI image layout"), "{out}");
    assert_eq!(docker_out(&["images", "-q", &name.0]), "", "--oci loads nothing into the engine");
    let layout = format!("oci:{}:1", dir.display());
    let inspected = run_ok(Command::new("skopeo").args(["inspect", &layout]));
    assert!(inspected.contains("\"Architecture\""), "{inspected}");
    let copied = name.tag("copied");
    run_ok(Command::new("skopeo").args(["copy", &layout, &format!("docker-daemon:{copied}")]));
    assert_eq!(inspect(&copied, "{{.Id}}"), reported_id(&out));
    let (_running, port) = serve(&copied, "/");
    assert_eq!(get(port, "/").status, 200);
}

#[test]
fn bad_input_is_one_line_and_leaves_nothing_behind() {
    prepared();
    let sandbox = Sandbox::example("flask");
    let name = Name::new("bad");
    let tag = name.tag("1");
    let good = run_ok(&mut image(&sandbox, &[&tag]));
    let good_id = reported_id(&good);
    let one_line = |err: &str, expected: &str| {
        assert!(err.contains(expected), "{err}");
        assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
    };

    let before = images_of(&name);
    let err = sandbox.fails(&["image", "Not A Name", "--base", BASE], 2);
    one_line(&err, "is not a valid image name");
    let err = run_fails_with(image(&sandbox, &[&tag]).env("DOCKER_HOST", "unix:///nonexistent/docker.sock"));
    one_line(&err, "start Docker");
    let mut missing_base = sandbox.warp(&["image", &tag, "--base", "warp-test-no-such-base:1"]);
    one_line(&run_fails_with(&mut missing_base), "the base image warp-test-no-such-base:1 is not in the engine and cannot be pulled");
    let file = sandbox.write("not-a-layout/keep.txt", "mine");
    let err = run_fails_with(&mut image(&sandbox, &[&tag, "--oci", file.parent().unwrap().to_str().unwrap()]));
    one_line(&err, "is not an OCI image layout");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");

    // A build that fails in its container: its output is shown, the tag stays where it was.
    sandbox.write("requirements.txt", "warp-test-no-such-package-anywhere==1.0\n");
    let since = now();
    let err = run_fails_with(&mut image(&sandbox, &[&tag]));
    one_line(&err, "warp build failed in the build container");
    assert!(err.contains("warp-test-no-such-package-anywhere"), "the build's output is shown:\n{err}");
    assert_eq!(build_containers_since(&tag, &since), 1, "the build ran in a container");
    assert_eq!(build_containers_left(&tag), "", "the build container is removed");
    assert_eq!(images_of(&name), before, "no image is added or moved");
    assert_eq!(inspect(&tag, "{{.Id}}"), good_id, "the tag did not move");
}

/// Run and require exit code 1; returns stderr.
fn run_fails_with(cmd: &mut Command) -> String {
    crate::util::run_fails(cmd, 1)
}

#[test]
fn an_interrupted_build_leaves_no_container_or_scratch_behind() {
    prepared();
    let sandbox = Sandbox::example("flask");
    // A build that waits in its pre-build hook until it is interrupted.
    let hook = sandbox.write_exec(".warp/action_hooks/pre-build", "#!/bin/sh\nsleep 120\n");
    let name = Name::new("interrupted");
    let tag = name.tag("1");
    let mut child = image(&sandbox, &[&tag]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while build_containers_left(&tag).is_empty() {
        assert!(child.try_wait().unwrap().is_none(), "warp image ended before its build started");
        assert!(Instant::now() < deadline, "no build container appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id();
    kill(Pid::from_raw(pid as i32), Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("the build container was removed"), "{err}");
    assert_eq!(build_containers_left(&tag), "", "no build container is left");

    // Its scratch folder is gone too, by the build itself or, when the signal ended it
    // first, by the next one.
    std::fs::remove_file(hook).unwrap();
    run_ok(&mut image(&sandbox, &[&tag]));
    let cache = crate::util::shared_cache().join("image");
    let left = std::fs::read_dir(cache).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with(&format!(".build-{pid}-")));
    assert!(!left, "the interrupted build's scratch folder is left");
}

#[test]
fn push_sends_the_image_to_its_registry_and_it_pulls_back() {
    prepared();
    let sandbox = Sandbox::example("flask");
    let open = Registry::start(Setup::default());
    let name = format!("{}/warp-test-pushed-{}", open.host(), std::process::id());
    let tag = format!("{name}:1");
    let pulled = Name(name.clone());
    let out = run_ok(&mut image(&sandbox, &[&tag, "--push"]));
    assert!(out.contains(&format!("push to {}", open.host())), "{out}");
    assert_eq!(docker_out(&["images", "-q", &name]), "", "--push loads nothing into the engine");
    docker_out(&["pull", &tag]);
    assert_eq!(inspect(&tag, "{{.Id}}"), reported_id(&out));
    {
        let (_running, port) = serve(&tag, "/");
        assert_eq!(get(port, "/").status, 200);
    }
    let again = run_ok(&mut image(&sandbox, &[&tag, "--push"]));
    assert!(again.contains("0 blobs sent"), "{again}");
    // The container is gone, so the pulled image can go too.
    drop(pulled);
    assert_eq!(docker_out(&["images", "-q", &name]), "", "the pulled image is removed");

    // A registry that wants a login: refused in one line without one, the tag not made;
    // accepted with --registry-auth.
    let guarded = Registry::start(Setup { htpasswd: true, ..Setup::default() });
    let tag = format!("{}/app:1", guarded.host());
    let err = run_fails_with(&mut image(&sandbox, &[&tag, "--push"]));
    assert!(err.contains("authentication required") && err.contains("--registry-auth"), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
    assert!(guarded.tags("app").is_empty());
    let auth = format!("{USER}:{PASSWORD}");
    run_ok(&mut image(&sandbox, &[&tag, "--push", "--registry-auth", &auth]));
    assert_eq!(guarded.tags("app"), ["1"]);
}

/// `--processes auto` in a container: its CPUs (a `--cpus` quota included), and no more
/// workers than its memory limit holds at 64 MiB each after 32 MiB for the master.
#[test]
fn auto_processes_fit_the_containers_cpus_and_memory_limit() {
    prepared();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    require(cpus >= 2, "two CPUs or more, so that a memory limit can hold fewer workers than there are CPUs");
    let sandbox = Sandbox::example("hello");
    let name = Name::new("auto");
    let tag = name.tag("1");
    run_ok(&mut image(&sandbox, &[&tag]));
    let capacity = |limits: &[&str]| {
        let mut args = vec!["run", "--rm", "-u", "123456:0"];
        args.extend_from_slice(limits);
        args.extend_from_slice(&[&tag, "warp", "start", "--processes", "auto", "--explain"]);
        let out = docker_out(&args);
        out.lines().find_map(|l| l.trim_start().strip_prefix("capacity:").map(|c| c.trim().to_owned())).unwrap_or_else(|| panic!("{out}"))
    };
    assert_eq!(capacity(&[]), format!("{cpus} process(es) x 5 thread(s) = {} (auto: {cpus} CPUs)", cpus * 5));
    assert_eq!(
        capacity(&["--memory", "100m"]),
        format!("1 process(es) x 5 thread(s) = 5 (auto: {cpus} CPUs, 1 within the 100 MiB memory limit)")
    );
    assert_eq!(capacity(&["--cpus", "1"]), "1 process(es) x 5 thread(s) = 5 (auto: 1 CPU)");
}
