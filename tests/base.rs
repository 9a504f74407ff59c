//! A base image read from this machine's Docker engine: its config and its layers as blobs,
//! checked against what the docker CLI says and what skopeo accepts, and read from warp's
//! cache the second time.
//!
//! That the second time does no export is proven, not assumed: the engine is spoken to
//! through a proxy that logs every request and can be told to refuse exports.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use flate2::read::GzDecoder;
use warp::image::base::{Base, Compression, Error, TAR_MEDIA_TYPE};
use warp::image::digest::HashingWriter;
use warp::image::engine::{self, Engine};
use warp::image::target::layout;
use warp::image::{blob_folder, layer, Config, Digest, Epoch, Image, Reference};

use crate::base_image::{base_image, engine, TAG};
use crate::util::{have, require, run_ok};

/// A Unix socket in front of the engine's. Each connection carries one request (the proxy
/// asks the engine to close it after answering, so the client opens a new one for the next),
/// whose first line is logged; exports are answered by the proxy itself with a 403 while it
/// is told to refuse them, and everything else is passed on as it is.
struct Proxy {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
    refuse_exports: Arc<AtomicBool>,
}

impl Proxy {
    fn start(engine: &Engine) -> Proxy {
        let upstream = PathBuf::from(engine.host().strip_prefix("unix://").expect("the engine is reached through a unix:// socket"));
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let proxy = Proxy { _dir: dir, socket, requests: Arc::default(), refuse_exports: Arc::default() };
        let (requests, refuse) = (proxy.requests.clone(), proxy.refuse_exports.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let (upstream, requests, refuse) = (upstream.clone(), requests.clone(), refuse.clone());
                std::thread::spawn(move || pass_on(client.unwrap(), &upstream, &requests, &refuse));
            }
        });
        proxy
    }

    /// A client of the engine that goes through the proxy.
    fn engine(&self) -> Engine {
        Engine::connect_to(&format!("unix://{}", self.socket.display())).unwrap()
    }

    fn refuse_exports(&self) {
        self.refuse_exports.store(true, Ordering::SeqCst);
    }

    /// How many requests so far asked for `path` (without the `/v1.xx` prefix).
    fn asked(&self, path: &str) -> usize {
        self.requests.lock().unwrap().iter().filter(|line| request_path(line) == Some(path)).count()
    }

    /// How many exports were asked for, answered or refused.
    fn exports(&self) -> usize {
        let requests = self.requests.lock().unwrap();
        requests.iter().filter(|line| request_path(line).is_some_and(|path| path.starts_with("/images/") && path.ends_with("/get"))).count()
    }
}

/// The path of a request line `GET /v1.41/images/x/get HTTP/1.1`, without the version
/// prefix and the query.
fn request_path(line: &str) -> Option<&str> {
    let target = line.split(' ').nth(1)?;
    let path = target.split('?').next()?;
    Some(path.strip_prefix("/v").and_then(|rest| rest.find('/').map(|slash| &rest[slash..])).unwrap_or(path))
}

/// Carry one request from `client` to the engine at `upstream`, and the answer back.
fn pass_on(mut client: UnixStream, upstream: &Path, requests: &Mutex<Vec<String>>, refuse: &AtomicBool) {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let line = head.lines().next().unwrap_or_default().to_string();
    requests.lock().unwrap().push(line.clone());
    let path = request_path(&line).unwrap_or_default();
    if refuse.load(Ordering::SeqCst) && path.starts_with("/images/") && path.ends_with("/get") {
        let body = r#"{"message":"this test's proxy refuses exports"}"#;
        let answer = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.write_all(answer.as_bytes());
        return;
    }
    let mut engine = UnixStream::connect(upstream).unwrap();
    let head = head.strip_suffix("\r\n").unwrap();
    engine.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes()).unwrap();
    // The request's body, if any, then the answer; each side ends when its sender closes.
    let (mut client_reader, mut engine_writer) = (client.try_clone().unwrap(), engine.try_clone().unwrap());
    std::thread::spawn(move || std::io::copy(&mut client_reader, &mut engine_writer));
    let _ = std::io::copy(&mut engine, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Both);
}

/// What `docker image inspect` says of the image at the Go template `format`, as JSON.
fn docker_inspect(image: &str, format: &str) -> serde_json::Value {
    serde_json::from_str(&run_ok(Command::new("docker").args(["image", "inspect", "--format", format, image]))).unwrap()
}

/// The sha256 of what `reader` reads.
fn sha256(mut reader: impl Read) -> Digest {
    let mut hashing = HashingWriter::new(std::io::sink());
    std::io::copy(&mut reader, &mut hashing).unwrap();
    hashing.finish().1
}

#[test]
fn the_config_is_the_engines_and_the_second_time_comes_from_the_cache_without_an_export() {
    let engine = engine();
    let info = base_image(&engine);
    let cache = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(&engine);
    let through = proxy.engine();

    let base = Base::config(&through, TAG, cache.path()).unwrap();
    assert_eq!(proxy.exports(), 1);
    assert_eq!(base.id, info.id);
    let diff_ids: Vec<String> = base.config.diff_ids.iter().map(Digest::to_string).collect();
    assert_eq!(serde_json::json!(diff_ids), docker_inspect(TAG, "{{json .RootFS.Layers}}"));
    assert_eq!(serde_json::json!(base.config.env), docker_inspect(TAG, "{{json .Config.Env}}"));
    assert_eq!(base.config.cmd, ["python3"]);
    assert_eq!(
        (base.config.architecture.as_str(), base.config.os.as_str()),
        (docker_inspect(TAG, "{{json .Architecture}}").as_str().unwrap(), "linux")
    );
    // `docker import` writes one history line, with only a time and a comment.
    let history = run_ok(Command::new("docker").args(["history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", TAG]));
    assert_eq!(history.trim(), "|Imported from -");
    assert_eq!(base.config.history.len(), 1);
    assert_eq!((base.config.history[0].created_by.as_str(), base.config.history[0].comment.as_str()), ("", "Imported from -"));

    // The cache holds the config as the engine stored it: the classic image store names an
    // image by its config's digest. No layer was kept.
    let id: Digest = base.id.parse().unwrap();
    let cached = cache.path().join("image/bases").join(format!("{}.json", id.hex()));
    assert_eq!(sha256(std::fs::File::open(&cached).unwrap()), id);
    assert!(!blob_folder(cache.path()).exists(), "reading the config kept layers");

    // From now on the engine refuses exports: without a cache, that is an error...
    proxy.refuse_exports();
    let empty = tempfile::tempdir().unwrap();
    let err = Base::config(&through, TAG, empty.path()).unwrap_err();
    assert!(matches!(err, Error::Engine(engine::Error::Request { action: "export", .. })), "{err:?}");
    // ...and with it, the same base, its ID asked of the engine and nothing exported.
    let inspected = proxy.asked(&format!("/images/{TAG}/json"));
    assert_eq!(Base::config(&through, TAG, cache.path()).unwrap(), base);
    assert_eq!(proxy.asked(&format!("/images/{TAG}/json")), inspected + 1);
    assert_eq!(proxy.exports(), 2, "only the refused export was asked for since the first");
}

#[test]
fn a_missing_image_is_an_error_that_says_so() {
    let engine = engine();
    let cache = tempfile::tempdir().unwrap();
    let err = Base::config(&engine, "warp-test-no-such-image:never", cache.path()).unwrap_err();
    assert!(matches!(err, Error::Missing(_)), "{err:?}");
    assert!(err.to_string().contains("warp-test-no-such-image:never"), "{err}");
}

#[test]
fn layers_are_gzip_blobs_of_their_diff_ids_then_come_from_the_cache_and_make_a_valid_layout() {
    require(have("skopeo"), "skopeo (apt-get install skopeo)");
    let engine = engine();
    base_image(&engine);
    let cache = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(&engine);
    let through = proxy.engine();
    let base = Base::config(&through, TAG, cache.path()).unwrap();

    let started = std::time::Instant::now();
    let layers = base.layers(&through, cache.path(), Compression::Gzip).unwrap();
    eprintln!("the base's layers taken in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(proxy.exports(), 2, "one export for the config, one for the layers");
    assert_eq!(layers.iter().map(|l| l.diff_id).collect::<Vec<_>>(), base.config.diff_ids);
    for layer in &layers {
        assert_eq!(layer.path, blob_folder(cache.path()).join(layer.digest.hex()));
        assert_eq!(layer.media_type, layer::MEDIA_TYPE);
        assert_eq!(std::fs::metadata(&layer.path).unwrap().len(), layer.size);
        assert_eq!(sha256(std::fs::File::open(&layer.path).unwrap()), layer.digest, "the blob is not named by its digest");
        let tar = GzDecoder::new(std::fs::File::open(&layer.path).unwrap());
        assert_eq!(sha256(tar), layer.diff_id, "the blob's tar is not the layer");
    }
    let leftovers: Vec<_> = std::fs::read_dir(blob_folder(cache.path()))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left among the blobs: {leftovers:?}");

    // Kept as plain tars instead (for the engine and layouts): named by their diff IDs.
    let plain = base.layers(&through, cache.path(), Compression::None).unwrap();
    assert_eq!(proxy.exports(), 3);
    for layer in &plain {
        assert_eq!((layer.digest, layer.media_type.as_str()), (layer.diff_id, TAR_MEDIA_TYPE));
        assert_eq!(sha256(std::fs::File::open(&layer.path).unwrap()), layer.diff_id);
    }

    // Asked again while the engine refuses exports: the same layers, from the cache.
    proxy.refuse_exports();
    assert_eq!(base.layers(&through, cache.path(), Compression::Gzip).unwrap(), layers);
    assert_eq!(base.layers(&through, cache.path(), Compression::None).unwrap(), plain);
    assert_eq!(proxy.exports(), 3);

    // An image of the base's layers and history, written as an OCI layout, is one skopeo
    // reads and copies (which checks every blob against its digest).
    let epoch = Epoch::parse(Some("1700000000")).unwrap();
    let config = Config { architecture: base.config.architecture.clone(), env: base.config.env.clone(), ..Config::for_app(epoch) };
    let image = Image::new(&config, &layers, &base.config.history);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layout");
    layout::write(&image, &Reference::parse("base:1").unwrap(), &dest).unwrap();
    let image_ref = format!("oci:{}:1", dest.display());
    let inspect: serde_json::Value = serde_json::from_str(&run_ok(Command::new("skopeo").args(["inspect", &image_ref]))).unwrap();
    assert_eq!(inspect["Digest"], image.manifest_digest().to_string());
    let digests: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    assert_eq!(inspect["Layers"], serde_json::json!(digests));
    let config: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new("skopeo").args(["inspect", "--config", &image_ref]))).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], docker_inspect(TAG, "{{json .RootFS.Layers}}"));
    assert_eq!(config["history"], serde_json::to_value(&base.config.history).unwrap());
    run_ok(Command::new("skopeo").args(["copy", &image_ref]).arg(format!("dir:{}", dir.path().join("copy").display())));
}
