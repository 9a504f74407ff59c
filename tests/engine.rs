//! warp's engine client on this machine's Docker engine: the offline base image, an app
//! image loaded through the API and run, and the errors a missing engine or a broken archive
//! give. Every test removes what it made; only the cached base image stays.

use std::process::Command;

use warp::image::engine::{Engine, Error};
use warp::image::layer::{self, Layer, Owner, Spec};
use warp::image::target;
use warp::image::{Config, Digest, Epoch, History, Image, Reference};

use crate::base_image::{base_image, engine, TAG};
use crate::util::run_ok;

/// Removes a name from the engine when the test ends, passed or failed.
struct Named<'a>(&'a Engine, String);

impl Drop for Named<'_> {
    fn drop(&mut self) {
        let _ = self.0.remove(&self.1);
    }
}

/// A name no other test or run uses.
fn unique(name: &str) -> String {
    format!("warp-test-{name}:{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], "").to_lowercase()
}

/// `docker run --rm` as a UID OpenShift might pick, in group 0; returns stdout.
fn docker_run(image: &str, args: &[&str]) -> String {
    let name = unique("run").replace(':', "-");
    let out = run_ok(Command::new("docker").args(["run", "--rm", "--name", &name, "-u", "123456:0", image]).args(args));
    let left = run_ok(Command::new("docker").args(["ps", "-aq", "--filter", &format!("name={name}")]));
    assert!(left.trim().is_empty(), "the container {name} was left behind");
    out
}

#[test]
fn the_api_version_is_agreed_with_the_engine() {
    let engine = engine();
    let server = run_ok(Command::new("docker").args(["version", "--format", "{{.Server.APIVersion}}"]));
    let parse = |v: &str| v.trim().split_once('.').map(|(a, b)| (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap())).unwrap();
    assert!(parse(&engine.api_version()) <= parse(&server), "client {} > engine {}", engine.api_version(), server.trim());
}

#[test]
fn the_base_image_is_made_once_and_runs_python_as_any_uid() {
    let engine = engine();
    let info = base_image(&engine);
    assert!(info.tags.iter().any(|t| t == TAG), "{info:?}");
    assert_eq!(info.layers.len(), 1, "an imported root is one layer");
    // Asked again, the same image comes back, not a new one.
    assert_eq!(base_image(&engine).id, info.id);
    let code = "import os, ssl, venv; print(os.getuid(), os.getgid(), os.path.exists(ssl.get_default_verify_paths().cafile))";
    assert_eq!(docker_run(TAG, &["python3", "-c", code]).trim(), "123456 0 True");
}

/// The base image's one layer, read back from the engine as the uncompressed tar it keeps.
fn base_layer(dir: &std::path::Path) -> Layer {
    let saved = dir.join("base.tar");
    run_ok(Command::new("docker").args(["save", "-o"]).arg(&saved).arg(TAG));
    let mut manifest = String::new();
    let mut layer_name = None;
    // manifest.json may come after the layer it names, so the archive is read twice.
    for pass in 0..2 {
        let mut archive = tar::Archive::new(std::fs::File::open(&saved).unwrap());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            if pass == 0 && name == "manifest.json" {
                std::io::Read::read_to_string(&mut entry, &mut manifest).unwrap();
                let json: serde_json::Value = serde_json::from_str(&manifest).unwrap();
                layer_name = Some(json[0]["Layers"][0].as_str().unwrap().to_string());
            } else if pass == 1 && Some(&name) == layer_name.as_ref() {
                let path = dir.join("base-layer.tar");
                let mut hashing = warp::image::digest::HashingWriter::new(std::fs::File::create(&path).unwrap());
                std::io::copy(&mut entry, &mut hashing).unwrap();
                let (_, digest, size): (_, Digest, u64) = hashing.finish();
                return Layer { media_type: "application/vnd.oci.image.layer.v1.tar".into(), digest, diff_id: digest, size, path };
            }
        }
    }
    panic!("no layer in `docker save {TAG}`: {manifest}");
}

#[test]
fn an_app_image_over_the_base_loads_through_the_api_and_runs() {
    let engine = engine();
    let base = base_image(&engine);
    let dir = tempfile::tempdir().unwrap();
    let base_layer = base_layer(dir.path());
    assert_eq!(base.layers, [base_layer.diff_id.to_string()]);

    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("hello.txt"), "hello from the app layer\n").unwrap();
    let excludes = warp::image::exclude::Excludes::for_source(&src).unwrap();
    let epoch = Epoch::parse(Some("1700000000")).unwrap();
    let spec = Spec { folder: &src, destination: "/opt/app-root/src", excludes: &excludes, epoch, owner: Owner::App, parents: &[] };
    let (app_layer, _) = layer::write_blob(&spec, &dir.path().join("blobs")).unwrap();
    let history = |by: &str| History { created: epoch.rfc3339(), created_by: by.into(), ..Default::default() };
    let image = Image::new(&Config::for_app(epoch), &[base_layer, app_layer], &[history("the base"), history("the app")]);

    let tag = unique("app");
    let reference = Reference::parse(&tag).unwrap();
    assert!(!engine.exists(&tag).unwrap());
    let _named = Named(&engine, tag.clone());
    // The base's layer is the engine's already: it is left out of what is sent.
    let info = target::engine::load(&engine, &image, &reference, &[TAG]).unwrap();
    assert_eq!(info.id, image.config_digest().to_string());
    assert_eq!((info.user.as_str(), info.working_dir.as_str()), ("1001", "/opt/app-root/src"));
    assert_eq!(info.layers.len(), 2);
    assert_eq!(engine.inspect(&tag).unwrap().as_ref(), Some(&info));
    assert_eq!(docker_run(&tag, &["cat", "/opt/app-root/src/hello.txt"]), "hello from the app layer\n");

    // A second name for it, then both removed; the base stays.
    let other = unique("other");
    let _other_named = Named(&engine, other.clone());
    engine.tag(&info.id, &Reference::parse(&other).unwrap()).unwrap();
    assert_eq!(engine.inspect(&other).unwrap().map(|i| i.id), Some(info.id.clone()));
    assert!(engine.remove(&other).unwrap());
    assert!(engine.remove(&tag).unwrap());
    assert!(!engine.exists(&tag).unwrap());
    assert!(!engine.exists(&info.id).unwrap(), "the image outlived its names");
    assert!(!engine.remove(&tag).unwrap(), "removing what is gone says so");
    assert!(engine.exists(TAG).unwrap());
}

#[test]
fn a_broken_archive_leaves_nothing_behind() {
    let engine = engine();
    let tag = unique("broken");
    let reference = Reference::parse(&tag).unwrap();
    let _named = Named(&engine, tag.clone());

    // The archive cannot be written: that is the error, and the engine gets a broken request.
    let err = engine
        .load(&reference, |out| {
            out.write_all(&[0; 4096]).map_err(|source| warp::image::Error::Archive { entry: "start".into(), source })?;
            Err(warp::image::Error::Archive { entry: "layer".into(), source: std::io::Error::other("disk gone") })
        })
        .unwrap_err();
    assert!(matches!(err, Error::Archive { .. }), "{err:?}");

    // The archive is written but is not one, and larger than what waits in the pipe: the
    // engine refuses it (perhaps before reading all of it), and that is the error.
    let garbage = b"not a tar ".repeat(1 << 20);
    let err = engine
        .load(&reference, |out| out.write_all(&garbage).map_err(|source| warp::image::Error::Archive { entry: "all".into(), source }))
        .unwrap_err();
    assert!(matches!(err, Error::Request { action: "load", .. }), "{err:?}");
    assert!(!engine.exists(&tag).unwrap());
}

#[test]
fn a_missing_engine_is_one_line_that_says_what_to_do() {
    let err = Engine::connect_to("unix:///nonexistent.sock").err().expect("no engine listens there");
    let text = err.to_string();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("unix:///nonexistent.sock") && text.contains("start Docker"), "{text}");
}
