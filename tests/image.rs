//! Images written by the library, checked by other tools: the OCI layout by skopeo and
//! umoci, the docker-archive by this machine's Docker engine.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use warp::image::exclude::Excludes;
use warp::image::layer::{self, Owner, Spec};
use warp::image::target::{docker_archive, layout};
use warp::image::{Config, Epoch, History, Image, Reference};

use crate::util::{have, require, require_root, run_ok};

/// A small app folder: a module, a package, an executable, a symlink, a hard link, and
/// what must stay out (`.git`, `.venv`, a `.dockerignore` pattern).
fn app(root: &Path) {
    let write = |rel: &str, content: &str, mode: u32| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write("wsgi.py", "def application(environ, start_response): pass\n", 0o644);
    write("pkg/__init__.py", "", 0o600);
    write("bin/run", "#!/bin/sh\necho run\n", 0o755);
    write(".dockerignore", "*.log\n", 0o644);
    write("debug.log", "secret\n", 0o644);
    write(".git/config", "[core]\n", 0o644);
    write(".venv/bin/python", "", 0o755);
    std::os::unix::fs::symlink("../wsgi.py", root.join("bin/wsgi")).unwrap();
    std::fs::hard_link(root.join("wsgi.py"), root.join("app.py")).unwrap();
}

/// The image of `app` on top of nothing: one layer at /opt/app-root/src.
fn image(src: &Path, blobs: &Path) -> Image {
    let excludes = Excludes::for_source(src).unwrap();
    let epoch = Epoch::parse(Some("1700000000")).unwrap();
    let spec = Spec { folder: src, destination: "/opt/app-root/src", excludes: &excludes, epoch, owner: Owner::App, parents: &[] };
    let (layer, skipped) = layer::write_blob(&spec, blobs).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let history = History { created: epoch.rfc3339(), created_by: "warp image: the app's source".into(), ..Default::default() };
    Image::new(&Config::for_app(epoch), &[layer], &[history])
}

#[test]
fn oci_layout_validates_with_skopeo_and_unpacks_with_umoci() {
    require(have("skopeo") && have("umoci"), "skopeo and umoci (apt-get install skopeo umoci)");
    require_root("umoci unpacks with the layer's owners only as root");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    app(&src);
    let image = image(&src, &dir.path().join("blobs"));
    let dest = dir.path().join("layout");
    layout::write(&image, &Reference::parse("app:1.0").unwrap(), &dest).unwrap();
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).filter(|n| n.to_string_lossy().starts_with('.')).collect();
    assert!(leftovers.is_empty(), "temporary folders left beside the layout: {leftovers:?}");

    let image_ref = format!("oci:{}:1.0", dest.display());
    let inspect: serde_json::Value = serde_json::from_str(&run_ok(Command::new("skopeo").args(["inspect", &image_ref]))).unwrap();
    assert_eq!(inspect["Digest"], image.manifest_digest().to_string());
    assert_eq!(inspect["Layers"][0], image.layers()[0].digest.to_string());
    assert_eq!(inspect["Labels"]["org.opencontainers.image.created"], "2023-11-14T22:13:20Z");
    let config: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new("skopeo").args(["inspect", "--config", &image_ref]))).unwrap();
    assert_eq!(config["config"]["User"], "1001");
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["warp", "start"]));

    let bundle = dir.path().join("bundle");
    run_ok(Command::new("umoci").args(["unpack", "--image", &format!("{}:1.0", dest.display())]).arg(&bundle));
    let root = bundle.join("rootfs/opt/app-root/src");
    let meta = |rel: &str| root.join(rel).symlink_metadata().unwrap_or_else(|e| panic!("{rel}: {e}"));
    for (rel, mode) in [("", 0o775), ("wsgi.py", 0o664), ("pkg/__init__.py", 0o660), ("bin/run", 0o775)] {
        let meta = meta(rel);
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (1001, 0, mode), "{rel}");
    }
    assert_eq!(std::fs::read_link(root.join("bin/wsgi")).unwrap(), Path::new("../wsgi.py"));
    assert_eq!(meta("app.py").ino(), meta("wsgi.py").ino(), "app.py is a hard link of wsgi.py");
    for gone in [".git", ".venv", "debug.log"] {
        assert!(!root.join(gone).exists(), "{gone} is in the image");
    }
    assert!(root.join(".dockerignore").exists());
}

/// Removes a tag from the engine when the test ends, passed or failed.
pub struct Tagged(pub String);

impl Drop for Tagged {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", &self.0]).output();
    }
}

#[test]
fn docker_archive_loads_into_the_engine_with_the_image_id_of_the_config() {
    require(Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success()), "a running Docker engine");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    app(&src);
    let image = image(&src, &dir.path().join("blobs"));
    let tag = format!("warp-test-image:{}", std::process::id());
    let archive = dir.path().join("image.tar");
    let out = std::fs::File::create(&archive).unwrap();
    docker_archive::write(&image, &Reference::parse(&tag).unwrap(), std::io::BufWriter::new(out)).unwrap();

    let guard = Tagged(tag.clone());
    run_ok(Command::new("docker").args(["load", "-i"]).arg(&archive));
    let inspect: serde_json::Value = serde_json::from_str(&run_ok(Command::new("docker").args(["image", "inspect", &tag]))).unwrap();
    let inspect = &inspect[0];
    assert_eq!(inspect["Id"], image.config_digest().to_string());
    assert_eq!(inspect["Config"]["User"], "1001");
    assert_eq!(inspect["Config"]["Cmd"], serde_json::json!(["warp", "start"]));
    assert_eq!(inspect["Config"]["WorkingDir"], "/opt/app-root/src");
    assert!(inspect["Config"]["Env"].as_array().unwrap().iter().any(|v| v == "APP_ROOT=/opt/app-root"), "{inspect}");
    assert_eq!(inspect["RootFS"]["Layers"][0], image.layers()[0].diff_id.to_string());

    drop(guard);
    let left = run_ok(Command::new("docker").args(["images", "-q", "--no-trunc"]));
    assert!(!left.contains(&image.config_digest().to_string()), "the test's image is still in the engine");
}
