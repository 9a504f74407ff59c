//! The builder image, built through the engine's API from this warp's own files on the
//! offline base image, and checked with the docker CLI: warp runs as any UID in group 0,
//! the default user is 1001:0, /opt/app-root is theirs, and OpenShift's labels are set.
//! Every test removes the images it built; only the cached base image stays.

use std::path::PathBuf;
use std::process::Command;

use warp::image::builder::{self, Inputs};
use warp::image::engine::Error;
use warp::image::Reference;

use crate::base_image::{base_image, engine, TAG as BASE};
use crate::util::{run_ok, shared_cache};

/// This build's warp, the server module beside it, and the pinned uv when the suite's cache
/// has it.
pub fn inputs() -> Inputs {
    let warp = PathBuf::from(env!("CARGO_BIN_EXE_warp"));
    let server_module = warp.parent().unwrap().join("libwarp_server.so");
    assert!(server_module.is_file(), "build the whole workspace first: {} is missing", server_module.display());
    let uv = Some(warp::build::uv::cached(&shared_cache())).filter(|uv| uv.is_file());
    Inputs { warp, server_module, uv }
}

/// A name no other test or run uses, removed when the test ends.
struct Built(String);

impl Built {
    fn new(name: &str) -> Built {
        Built(format!("warp-test-{name}:{}", std::process::id()))
    }
    fn reference(&self) -> Reference {
        Reference::parse(&self.0).unwrap()
    }
}

impl Drop for Built {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", &self.0]).output();
    }
}

fn docker(args: &[&str]) -> String {
    run_ok(Command::new("docker").args(args)).trim().to_string()
}

#[test]
fn the_builder_runs_warp_as_any_uid_in_group_0_with_openshifts_conventions() {
    let engine = engine();
    base_image(&engine);
    let built = Built::new("builder");
    let mut lines = Vec::new();
    let info =
        builder::ensure(&engine, &built.reference(), BASE, &inputs(), &mut |line| lines.push(line.to_string())).expect("build the builder");
    assert!(info.id.starts_with("sha256:"), "{info:?}");
    assert!(lines.iter().any(|l| l.contains("Step 1/")), "the build's output is streamed: {lines:?}");
    assert_eq!(info.user, "1001");
    assert_eq!(info.working_dir, "/opt/app-root/src");
    assert_eq!(info.cmd, ["warp", "start"]);
    for var in ["APP_ROOT=/opt/app-root", "HOME=/opt/app-root/src", "PATH=/opt/app-root/bin:"] {
        assert!(info.env.iter().any(|e| e.starts_with(var)), "{var} in {:?}", info.env);
    }

    // Present: reused, not built again.
    let mut again = Vec::new();
    let reused = builder::ensure(&engine, &built.reference(), BASE, &inputs(), &mut |line| again.push(line.to_string())).unwrap();
    assert_eq!(reused.id, info.id);
    assert!(again.is_empty(), "an existing builder is not rebuilt: {again:?}");

    let tag = built.0.as_str();
    let version = docker(&["run", "--rm", "-u", "123456:0", tag, "warp", "--version"]);
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    assert_eq!(docker(&["run", "--rm", tag, "id", "-u"]), "1001");
    assert_eq!(docker(&["run", "--rm", tag, "id", "-g"]), "0");
    let owners = docker(&["run", "--rm", tag, "stat", "-c", "%u:%g %A %n", "/opt/app-root", "/opt/app-root/src", "/usr/libexec/s2i"]);
    let owners: Vec<&str> = owners.lines().collect();
    for line in &owners[..2] {
        assert!(line.starts_with("1001:0 drwxrwx"), "owned 1001:0 and group-writable: {line}");
    }
    assert!(owners[2].ends_with("/usr/libexec/s2i"), "{owners:?}");
    let module = docker(&["run", "--rm", "-u", "123456:0", tag, "sh", "-c", "test -r \"$WARP_SERVER_MODULE\" && echo $WARP_SERVER_MODULE"]);
    assert_eq!(module, "/opt/warp/lib/libwarp_server.so");

    let labels = docker(&["inspect", "--format", "{{json .Config.Labels}}", tag]);
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(labels["io.openshift.s2i.scripts-url"], "image:///usr/libexec/s2i");
    assert_eq!(labels["io.openshift.expose-services"], "8080:http");
    assert_eq!(labels["io.openshift.tags"], "builder,python,warp");
    assert!(labels["io.k8s.description"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(labels["io.k8s.display-name"].as_str().is_some_and(|d| !d.is_empty()));
    let exposed = docker(&["inspect", "--format", "{{json .Config.ExposedPorts}}", tag]);
    assert!(exposed.contains("8080/tcp"), "{exposed}");
}

#[test]
fn a_failed_build_shows_its_last_lines_and_leaves_no_container_or_tag() {
    let engine = engine();
    base_image(&engine);
    let dir = tempfile::tempdir().unwrap();
    // Not an executable: the builder's setup runs `warp --version` and fails there.
    let fake = dir.path().join("warp");
    std::fs::write(&fake, "not warp").unwrap();
    let mut inputs = inputs();
    inputs.warp = fake;
    let built = Built::new("broken-builder");
    let mut lines = Vec::new();
    let err = builder::build(&engine, &built.reference(), BASE, &inputs, &mut |line| lines.push(line.to_string())).unwrap_err();
    // The steps before the failing one stay in the engine's build cache as untagged images;
    // the build names them in its output (` ---> ID`). The failing step ran in a container of
    // the last of them, which must be gone; then the test removes the images.
    // The first is the base image (FROM), which stays.
    let base_id = docker(&["image", "inspect", "--format", "{{.Id}}", BASE]);
    let steps: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("---> "))
        .filter(|id| id.chars().all(|c| c.is_ascii_hexdigit()) && !base_id.trim_start_matches("sha256:").starts_with(*id))
        .collect();
    assert!(!steps.is_empty(), "the build named its steps' images: {lines:?}");
    // Only the last is this build's own (it holds the broken warp); the earlier steps are the
    // engine's cache, shared with the builders other tests make and run.
    let last = steps.last().unwrap();
    let left = docker(&["ps", "-aq", "--filter", &format!("ancestor={last}")]);
    assert!(left.is_empty(), "the failed build left containers: {left}");
    for id in &steps {
        let _ = Command::new("docker").args(["rmi", id]).output();
    }
    match &err {
        builder::Error::Engine(Error::Build { tail, .. }) => {
            assert!(tail.iter().any(|l| l.contains("setup.sh")), "the failing step is among the last lines: {tail:?}")
        }
        other => panic!("expected a failed build, got {other:?}"),
    }
    assert!(err.to_string().contains("setup.sh"), "{err}");
    assert!(!engine.exists(&built.0).unwrap(), "a failed build names no image");
}
