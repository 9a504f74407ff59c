//! `warp s2i build` against a small s2i builder of the test's own, so that the protocol is
//! checked apart from warp's builder and its scripts: the input on standard input, the
//! artifacts of an incremental build, the app's own scripts, the commit and its labels, and
//! the build's CA bundle kept out of the image.

use std::process::Command;

use warp::image::Reference;

use crate::app_image::{docker_out, get, serve, serves_the_django_example, Name};
use crate::base_image::{base_image, engine, TAG as BASE};
use crate::util::{run_fails, run_ok, Sandbox};

const DOCKERFILE: &str = "FROM warp-test-base:bookworm
LABEL io.openshift.s2i.scripts-url=image:///usr/libexec/s2i
COPY s2i/ /usr/libexec/s2i/
RUN mkdir -p /opt/app-root/src && chown -R 1001:0 /opt/app-root && chmod -R 775 /opt/app-root
USER 1001
";

/// assemble: restores the artifacts, copies the source, counts the builds, and says whether
/// the CA bundle it was given is readable.
const SCRIPTS: [(&str, &str); 4] = [
    (
        "assemble",
        "#!/bin/sh\nset -e\nif [ -d /tmp/artifacts ]; then cp -a /tmp/artifacts/. /opt/app-root/src/; echo restored artifacts; fi\n\
         cp -a /tmp/src/. /opt/app-root/src/\n[ -f /opt/app-root/src/count ] || echo 0 > /opt/app-root/src/count\n\
         echo $(( $(cat /opt/app-root/src/count) + 1 )) > /opt/app-root/src/count\n\
         if [ -r \"${SSL_CERT_FILE:-}\" ]; then echo CA bundle readable; fi\n\
         echo \"assemble sees FROM_FILE=${FROM_FILE:-}\"\n\
         if [ -n \"${FAIL:-}\" ]; then echo failing as asked >&2; exit 3; fi\n",
    ),
    ("run", "#!/bin/sh\nexec python3 -m http.server 8080 -d /opt/app-root/src\n"),
    ("save-artifacts", "#!/bin/sh\ncd /opt/app-root/src && tar -cf - count\n"),
    ("usage", "#!/bin/sh\necho 'usage: the test builder'\n"),
];

/// The test builder, built once per run under a name of its own, removed at the end.
fn builder(name: &Name) -> String {
    let engine = engine();
    base_image(&engine);
    let tag = name.tag("builder");
    let reference = Reference::parse(&tag).unwrap();
    engine
        .build(
            &reference,
            &[],
            |out| {
                let mut tar = tar::Builder::new(out);
                let mut add = |path: &str, text: &str, mode: u32| {
                    let mut header = tar::Header::new_gnu();
                    header.set_size(text.len() as u64);
                    header.set_mode(mode);
                    tar.append_data(&mut header, path, text.as_bytes())
                };
                let mut files = vec![("Dockerfile".to_string(), DOCKERFILE, 0o644)];
                files.extend(SCRIPTS.iter().map(|(script, text)| (format!("s2i/{script}"), *text, 0o755)));
                for (path, text, mode) in files {
                    add(&path, text, mode).map_err(|source| warp::image::Error::Archive { entry: path.clone(), source })?;
                }
                tar.into_inner().map(drop).map_err(|source| warp::image::Error::Archive { entry: "end".into(), source })
            },
            &mut |_| {},
        )
        .expect("build the test's s2i builder");
    tag
}

fn s2i(sandbox: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = sandbox.warp(&["s2i"]);
    cmd.args(args);
    cmd
}

fn run_in(image: &str, script: &str) -> String {
    docker_out(&["run", "--rm", "--entrypoint", "/bin/sh", image, "-c", script])
}

#[test]
fn s2i_build_speaks_the_protocol_incrementally_and_keeps_the_bundle_out() {
    let name = Name::new("s2i-protocol");
    let builder = builder(&name);
    let sandbox = Sandbox::new();
    sandbox.write("hello.txt", "hello from the source\n");
    // As the s2i tool: the file's variables in the build and the image, --env winning.
    sandbox.write(".s2i/environment", "GREETING=from-file\nFROM_FILE=\"yes\"\n");
    let ca = sandbox.write("../ca.pem", "-----BEGIN CERTIFICATE-----\nwarp-test-s2i-marker\n-----END CERTIFICATE-----\n");
    let tag = name.tag("1");

    let out = run_ok(&mut s2i(&sandbox, &["build", ".", &builder, &tag, "--ca-cert", ca.to_str().unwrap(), "--env", "GREETING=hi"]));
    assert!(out.contains("CA bundle readable"), "assemble got the bundle:\n{out}");
    assert!(out.contains("assemble sees FROM_FILE=yes"), "{out}");
    assert!(out.contains("clean build"), "{out}");
    assert_eq!(run_in(&tag, "cat /opt/app-root/src/hello.txt /opt/app-root/src/count"), "hello from the source\n1");
    // This builder's assemble copies the source, so it stays; the bundle does not.
    assert_eq!(run_in(&tag, "ls -A /tmp"), "src", "the bundle is gone from /tmp");
    let config = docker_out(&["image", "inspect", "--format", "{{json .Config}}", &tag]);
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["Cmd"], serde_json::json!(["/usr/libexec/s2i/run"]));
    assert_eq!(config["Labels"]["io.openshift.s2i.build.image"], builder.as_str());
    assert!(config["Labels"]["io.openshift.s2i.build.source-location"].as_str().is_some());
    let env = config["Env"].to_string();
    assert!(env.contains("\"GREETING=hi\"") && !env.contains("from-file"), "--env reaches the image: {env}");
    assert!(env.contains("\"FROM_FILE=yes\""), ".s2i/environment reaches the image: {env}");
    assert!(!env.contains("SSL_CERT_FILE") && !env.contains("PIP_CERT"), "the build's variables stay out of the image: {env}");

    // Incremental: the count the previous image saved is restored, then counted on.
    let again = run_ok(&mut s2i(&sandbox, &["build", ".", &builder, &tag, "--incremental"]));
    assert!(again.contains("restored artifacts") && again.contains("incremental build"), "{again}");
    assert_eq!(run_in(&tag, "cat /opt/app-root/src/count"), "2");

    // The app's own assemble wins, and may call the builder's.
    sandbox.write_exec(".s2i/bin/assemble", "#!/bin/sh\necho app assemble > /opt/app-root/src/marker\nexec /usr/libexec/s2i/assemble\n");
    run_ok(&mut s2i(&sandbox, &["build", ".", &builder, &tag]));
    assert_eq!(run_in(&tag, "cat /opt/app-root/src/marker /opt/app-root/src/count"), "app assemble\n1");

    let usage = run_ok(&mut s2i(&sandbox, &["usage", &builder]));
    assert_eq!(usage.trim(), "usage: the test builder");

    // On a runtime image: the built app and warp on it, without the builder's scripts.
    let runtime = name.tag("runtime");
    run_ok(&mut s2i(&sandbox, &["build", ".", &builder, &runtime, "--runtime-image", BASE]));
    assert_eq!(
        run_in(&runtime, "cat /opt/app-root/src/hello.txt; test -e /usr/libexec/s2i || echo no scripts"),
        "hello from the source\nno scripts"
    );
    assert_eq!(run_in(&runtime, "warp --version").split_whitespace().next(), Some("warp"));
    let config = docker_out(&["image", "inspect", "--format", "{{json .Config}}", &runtime]);
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!((config["User"].as_str(), config["Cmd"].clone()), (Some("1001"), serde_json::json!(["warp", "start"])));
    assert_eq!(config["Labels"]["io.openshift.s2i.build.image"], builder.as_str());
}

#[test]
fn a_failed_assemble_is_one_line_and_moves_no_tag() {
    let name = Name::new("s2i-fails");
    let builder = builder(&name);
    let sandbox = Sandbox::new();
    sandbox.write("hello.txt", "hello\n");
    let tag = name.tag("1");
    run_ok(&mut s2i(&sandbox, &["build", ".", &builder, &tag]));
    let id = docker_out(&["image", "inspect", "--format", "{{.Id}}", &tag]);

    let err = run_fails(&mut s2i(&sandbox, &["build", ".", &builder, &tag, "--env", "FAIL=1"]), 1);
    assert!(err.contains("failing as asked"), "the assemble output is shown:\n{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
    assert!(err.contains("assemble failed in the build container (exit code 3)"), "{err}");
    assert_eq!(docker_out(&["image", "inspect", "--format", "{{.Id}}", &tag]), id, "the tag did not move");
    let label = format!("label={}={tag}", warp::s2i::BUILD_LABEL);
    assert_eq!(docker_out(&["ps", "-aq", "--filter", &label]), "", "the failed build's container is removed");

    let err = run_fails(&mut s2i(&sandbox, &["build", ".", "warp-test-no-such-builder:1", &tag]), 1);
    assert!(err.contains("the builder image warp-test-no-such-builder:1 is not in the engine"), "{err}");
    let err = run_fails(&mut s2i(&sandbox, &["build", ".", BASE, &tag]), 1);
    assert!(err.contains("is not an s2i builder"), "{err}");
}

#[test]
fn warps_builder_serves_flask_and_rebuilds_incrementally_with_the_index_out_of_reach() {
    let builder = crate::s2i_protocol::builder_image();
    let sandbox = Sandbox::example("flask");
    // Quoted, as OpenShift users write it: the image's environment has it without quotes.
    sandbox.write(".s2i/environment", "APP_MODULE=\"app:app\"\n");
    let name = Name::new("s2i-flask");
    let tag = name.tag("1");
    let first = run_ok(&mut s2i(&sandbox, &["build", ".", builder, &tag]));
    assert!(first.contains("clean build") && first.contains("layers: dependencies"), "{first}");
    let env = docker_out(&["image", "inspect", "--format", "{{json .Config.Env}}", &tag]);
    assert!(env.contains("\"APP_MODULE=app:app\""), "{env}");
    let (_running, port) = serve(&tag, "/");
    assert!(get(port, "/").text().contains("Hello, Flask!"));

    // A change to the code only: the previous image's dependency layer and the new source,
    // with no container (and so no index) at all.
    sandbox.write("app.py", &(std::fs::read_to_string(sandbox.app().join("app.py")).unwrap() + "# a change\n"));
    let again = run_ok(&mut s2i(&sandbox, &["build", ".", builder, &tag, "--incremental"]));
    assert!(again.contains("incremental build") && again.contains("assemble has nothing to do"), "{again}");
    assert!(!again.contains("save-artifacts"), "{again}");
    let fast = docker_out(&["image", "inspect", "--format", "{{.Id}}", &tag]);
    let (_running, port) = serve(&tag, "/api/status");
    assert!(get(port, "/api/status").text().contains("\"ok\""));

    // Without warp's record of that layer (another cache), the protocol runs: save-artifacts,
    // and assemble on the restored venv, with every index the build could ask a closed port.
    // Its image is the one assemble was skipped for, layer for layer.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let index = format!("http://127.0.0.1:{closed}/simple");
    let own_cache = tempfile::tempdir().unwrap();
    let mut rebuild = s2i(&sandbox, &["build", ".", builder, &tag, "--incremental"]);
    rebuild.env("WARP_CACHE_DIR", own_cache.path());
    rebuild.env("PIP_INDEX_URL", &index).env("UV_DEFAULT_INDEX", &index).env("UV_INDEX_URL", &index);
    let restored = run_ok(&mut rebuild);
    assert!(restored.contains("save-artifacts of") && restored.contains("nothing reinstalled"), "{restored}");
    assert_eq!(docker_out(&["image", "inspect", "--format", "{{.Id}}", &tag]), fast, "{restored}");

    // A dependency input changed: assemble builds the venv anew over the restored one, whose
    // folders the build container holds in a lower layer of the overlay.
    sandbox.write("requirements.txt", &(std::fs::read_to_string(sandbox.app().join("requirements.txt")).unwrap() + "# pinned\n"));
    let changed = run_ok(&mut s2i(&sandbox, &["build", ".", builder, &tag, "--incremental"]));
    assert!(changed.contains("save-artifacts of") && changed.contains("installed"), "{changed}");
    let (_running, port) = serve(&tag, "/");
    assert!(get(port, "/").text().contains("Hello, Flask!"));
}

#[test]
fn warps_builder_serves_django_which_migrates_at_start() {
    let builder = crate::s2i_protocol::builder_image();
    let sandbox = Sandbox::example("django");
    let name = Name::new("s2i-django");
    let tag = name.tag("1");
    run_ok(&mut s2i(&sandbox, &["build", ".", builder, &tag]));
    // The run script migrates (DISABLE_MIGRATE unset) before serving, as the arbitrary UID.
    let (_running, port) = serve(&tag, "/");
    serves_the_django_example(port);
}
