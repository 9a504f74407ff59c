//! Images pushed by the library to a registry of the test's own (Debian's docker-registry,
//! the CNCF distribution registry, on a free loopback port), then checked through the
//! registry's API and pulled back by this machine's Docker engine.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use warp::image::exclude::Excludes;
use warp::image::layer::{self, Layer, Owner, Spec};
use warp::image::target::registry::{self, Credentials, Options, Progress, Refusal};
use warp::image::{Config, Digest, Epoch, History, Image, Reference};

use crate::image::Tagged;
use crate::rawhttp;
use crate::util::{require, run_ok};

/// The user and password of the registries that ask for them.
pub const USER: &str = "pusher";
pub const PASSWORD: &str = "s3cret:with-colon";
/// Who the test token server says it is, and the registry it makes tokens for.
const TOKEN_ISSUER: &str = "warp-test-issuer";
const TOKEN_SERVICE: &str = "warp-test-registry";
/// The identity token (OAuth2 refresh token) the test token server trades for access.
const REFRESH_TOKEN: &str = "warp-test-refresh";
/// How long a registry has to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A docker-registry on a free loopback port, with its storage and config in a temporary
/// folder; stopped and removed when dropped.
pub struct Registry {
    child: Child,
    ip: String,
    port: u16,
    dir: tempfile::TempDir,
}

/// How a test registry is set up.
#[derive(Default)]
pub struct Setup {
    /// Ask for this user and password (htpasswd, bcrypt).
    pub htpasswd: bool,
    /// Serve HTTPS with this certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Ask for tokens from this realm, signed by this CA.
    pub token: Option<(String, PathBuf)>,
    /// Listen on this address [default: 127.0.0.1].
    pub ip: Option<String>,
}

impl Registry {
    pub fn start(setup: Setup) -> Registry {
        let have = Command::new("docker-registry").arg("--version").output().is_ok_and(|o| o.status.success());
        require(have, "docker-registry (apt-get install docker-registry)");
        let dir = tempfile::Builder::new().prefix("warp-test-registry-").tempdir().unwrap();
        // The port is free now; the registry takes it a moment later.
        let ip = setup.ip.clone().unwrap_or_else(|| "127.0.0.1".to_string());
        let port = std::net::TcpListener::bind((ip.as_str(), 0)).unwrap().local_addr().unwrap().port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {ip}:{port}\n",
            dir.path().join("storage").display()
        );
        if let Some((cert, key)) = &setup.tls {
            config += &format!("  tls:\n    certificate: {}\n    key: {}\n", cert.display(), key.display());
        }
        if setup.htpasswd {
            let htpasswd = dir.path().join("htpasswd");
            let have = Command::new("htpasswd").arg("-h").output().is_ok();
            require(have, "htpasswd (apt-get install apache2-utils)");
            run_ok(Command::new("htpasswd").args(["-Bbc"]).arg(&htpasswd).args([USER, PASSWORD]));
            config += &format!("auth:\n  htpasswd:\n    realm: warp-test\n    path: {}\n", htpasswd.display());
        }
        if let Some((realm, ca)) = &setup.token {
            config += &format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                ca.display()
            );
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
            .spawn()
            .expect("start docker-registry");
        let mut registry = Registry { child, ip, port, dir };
        registry.wait_until_listening();
        if setup.tls.is_none() {
            let status = registry.get("/v2/").status;
            assert!(status == 200 || status == 401, "docker-registry answers /v2/ with {status}:\n{}", registry.log());
        }
        registry
    }

    /// Wait until the port takes connections (the registry answers `/v2/` from then on).
    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect((self.ip.as_str(), self.port)).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("docker-registry exited ({status}) before listening:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "docker-registry did not listen on {} within {START_TIMEOUT:?}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `GET path` as the test user, over plain HTTP.
    fn get(&self, path: &str) -> rawhttp::Response {
        let auth = STANDARD.encode(format!("{USER}:{PASSWORD}"));
        // The registry serves an OCI manifest only to a client that says it accepts one.
        let accept = warp::image::oci::MANIFEST_MEDIA_TYPE;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {auth}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n",
            self.host()
        );
        rawhttp::exchange(self.port, request.as_bytes()).unwrap_or_else(|| panic!("no answer to GET {path}"))
    }

    /// The tags of `repository` (none when the registry does not know it).
    pub fn tags(&self, repository: &str) -> Vec<String> {
        let answer = self.get(&format!("/v2/{repository}/tags/list"));
        if answer.status == 404 {
            return Vec::new();
        }
        assert_eq!(answer.status, 200, "{}", answer.text());
        let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        json["tags"].as_array().map(|tags| tags.iter().map(|t| t.as_str().unwrap().to_string()).collect()).unwrap_or_default()
    }

    /// The digest of the manifest `repository:tag` names.
    fn manifest_digest(&self, repository: &str, tag: &str) -> String {
        let answer = self.get(&format!("/v2/{repository}/manifests/{tag}"));
        assert_eq!(answer.status, 200, "{}", answer.text());
        Digest::of(&answer.body).to_string()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A registry set up as `setup`, a temporary folder, and in it a one-layer image of
/// `content`.
fn start(setup: Setup, content: &str) -> (Registry, tempfile::TempDir, Image) {
    let registry = Registry::start(setup);
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path(), content);
    (registry, dir, image)
}

/// A one-layer image whose layer holds `content` (so each test's blobs are its own).
fn image(dir: &Path, content: &str) -> Image {
    let (layer, epoch) = app_layer(dir, content);
    let history = History { created: epoch.rfc3339(), created_by: "warp test".into(), ..Default::default() };
    Image::new(&Config::for_app(epoch), &[layer], &[history])
}

/// A layer at /opt/app-root/src holding one file with `content`.
fn app_layer(dir: &Path, content: &str) -> (Layer, Epoch) {
    let src = dir.join(format!("src-{}", Digest::of(content.as_bytes()).hex()));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("hello.txt"), content).unwrap();
    let excludes = Excludes::for_source(&src).unwrap();
    let epoch = Epoch::parse(Some("1700000000")).unwrap();
    let spec = Spec { folder: &src, destination: "/opt/app-root/src", excludes: &excludes, epoch, owner: Owner::App, parents: &[] };
    let (layer, _) = layer::write_blob(&spec, &dir.join("blobs")).unwrap();
    (layer, epoch)
}

/// Push and return the result with every progress report.
fn push(image: &Image, reference: &str, options: &Options) -> (registry::Result<Digest>, Vec<Progress>) {
    let mut reports = Vec::new();
    let result = registry::push(image, &Reference::parse(reference).unwrap(), options, &mut |p| reports.push(p));
    (result, reports)
}

/// Push, which must succeed with the image's manifest digest; returns the progress reports.
fn pushed(image: &Image, reference: &str, options: &Options) -> Vec<Progress> {
    let (digest, reports) = push(image, reference, options);
    assert_eq!(digest.unwrap(), image.manifest_digest(), "{reports:?}");
    reports
}

/// How many blobs the reports say were uploaded, found present, mounted.
fn counts(reports: &[Progress]) -> (usize, usize, usize) {
    let count = |f: fn(&Progress) -> bool| reports.iter().filter(|p| f(p)).count();
    (
        count(|p| matches!(p, Progress::Uploaded { .. })),
        count(|p| matches!(p, Progress::Present { .. })),
        count(|p| matches!(p, Progress::Mounted { .. })),
    )
}

fn with_password() -> Options {
    Options { credentials: Credentials::parse(&format!("{USER}:{PASSWORD}")).unwrap(), ..Options::default() }
}

#[test]
fn a_pushed_image_pulls_back_into_the_engine_with_the_image_id_of_the_config() {
    let (registry, _dir, image) = start(Setup::default(), "pushed and pulled\n");
    let name = format!("{}/warp-test/app:1", registry.host());

    let reports = pushed(&image, &name, &Options::default());
    assert_eq!(counts(&reports), (2, 0, 0), "the layer and the config are sent: {reports:?}");
    let layer = &image.layers()[0];
    let sending: Vec<u64> = reports
        .iter()
        .filter_map(|p| match p {
            Progress::Sending { digest, sent, .. } if *digest == layer.digest => Some(*sent),
            _ => None,
        })
        .collect();
    assert_eq!(sending.first(), Some(&0));
    assert_eq!(sending.last(), Some(&layer.size));
    assert_eq!(reports.last(), Some(&Progress::Tagged { digest: image.manifest_digest() }));
    assert_eq!(registry.tags("warp-test/app"), ["1"]);
    assert_eq!(registry.manifest_digest("warp-test/app", "1"), image.manifest_digest().to_string());

    // Docker speaks plain HTTP to a loopback registry, so the engine pulls it as it is.
    let _pulled = Tagged(name.clone());
    run_ok(Command::new("docker").args(["pull", "-q", &name]));
    let inspect: serde_json::Value = serde_json::from_str(&run_ok(Command::new("docker").args(["image", "inspect", &name]))).unwrap();
    assert_eq!(inspect[0]["Id"], image.config_digest().to_string());
    assert_eq!(inspect[0]["RootFS"]["Layers"][0], layer.diff_id.to_string());
    assert_eq!(inspect[0]["Config"]["User"], "1001");
}

#[test]
fn a_second_push_sends_no_blob_and_a_mount_sends_none_either() {
    let (registry, _dir, image) = start(Setup::default(), "pushed twice\n");
    let first = format!("{}/one/app:1", registry.host());
    let reports = pushed(&image, &first, &Options::default());
    assert_eq!(counts(&reports), (2, 0, 0), "{reports:?}");

    let reports = pushed(&image, &first, &Options::default());
    assert_eq!(counts(&reports), (0, 2, 0), "the registry has every blob: {reports:?}");
    assert!(!reports.iter().any(|p| matches!(p, Progress::Sending { .. })), "{reports:?}");

    // Another repository of the same registry, mounting from the first.
    let options = Options { mount_from: Some(Reference::parse(&first).unwrap()), ..Options::default() };
    let reports = pushed(&image, &format!("{}/two/app:2", registry.host()), &options);
    assert_eq!(counts(&reports), (0, 0, 2), "every blob is mounted: {reports:?}");
    assert_eq!(registry.tags("two/app"), ["2"]);
}

#[test]
fn a_registry_that_wants_a_login_refuses_in_one_line_and_accepts_the_credentials() {
    let (registry, dir, image) = start(Setup { htpasswd: true, ..Setup::default() }, "behind a login\n");
    let name = format!("{}/app:1", registry.host());

    let (result, reports) = push(&image, &name, &Options::default());
    let err = result.unwrap_err();
    assert!(matches!(&err, registry::Error::Refused { refusal: Refusal::AuthenticationRequired, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the registry {0} refused the push of app:1: authentication required; \
             log in with docker login {0} or pass --registry-auth USER:PASSWORD",
            registry.host()
        )
    );
    assert!(reports.is_empty(), "nothing was sent: {reports:?}");
    assert!(registry.tags("app").is_empty(), "a refused push leaves no tag");

    let wrong = Options { credentials: Credentials::parse(&format!("{USER}:wrong")).unwrap(), ..Options::default() };
    let err = push(&image, &name, &wrong).0.unwrap_err();
    assert!(matches!(&err, registry::Error::Refused { refusal: Refusal::CredentialsRejected, .. }), "{err:?}");
    assert!(!err.to_string().contains('\n') && err.to_string().contains("--registry-auth USER:PASSWORD"), "{err}");
    assert!(registry.tags("app").is_empty());

    // The text of --registry-auth.
    let reports = pushed(&image, &name, &with_password());
    assert_eq!(counts(&reports), (2, 0, 0), "{reports:?}");
    assert_eq!(registry.tags("app"), ["1"]);

    // A Docker config folder, as `docker login` leaves it.
    let docker_config = dir.path().join("docker");
    std::fs::create_dir(&docker_config).unwrap();
    let auth = STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let config = serde_json::json!({ "auths": { format!("http://{}", registry.host()): { "auth": auth } } });
    std::fs::write(docker_config.join("config.json"), config.to_string()).unwrap();
    let credentials = Credentials::from_docker_config(&docker_config, &registry.host()).unwrap();
    let reports = pushed(&image, &format!("{}/app:2", registry.host()), &Options { credentials, ..Options::default() });
    assert_eq!(counts(&reports), (0, 2, 0), "{reports:?}");
    let mut tags = registry.tags("app");
    tags.sort();
    assert_eq!(tags, ["1", "2"]);
}

#[test]
fn a_push_that_fails_midway_leaves_the_tag_where_it_was() {
    let (registry, dir, first) = start(Setup { htpasswd: true, ..Setup::default() }, "the first image\n");
    let name = format!("{}/app:1", registry.host());
    push(&first, &name, &with_password()).0.unwrap();

    // A second image whose top layer's file changes after the image was made: its first
    // layer goes up, then the push stops at the second.
    let (bottom, epoch) = app_layer(dir.path(), "the second image's bottom\n");
    let (top, _) = app_layer(dir.path(), "the second image's top\n");
    let history = History { created: epoch.rfc3339(), created_by: "warp test".into(), ..Default::default() };
    let second = Image::new(&Config::for_app(epoch), &[bottom, top.clone()], &[history.clone(), history]);
    std::fs::write(&top.path, b"changed").unwrap();
    let (result, reports) = push(&second, &name, &with_password());
    let err = result.unwrap_err();
    assert!(matches!(&err, registry::Error::Blob(warp::image::Error::BlobSize { .. })), "{err:?}");
    assert_eq!(counts(&reports), (1, 0, 0), "{reports:?}");
    assert_eq!(registry.tags("app"), ["1"]);
    assert_eq!(registry.manifest_digest("app", "1"), first.manifest_digest().to_string());
}

/// `openssl ARGS` in `dir` (the arguments split at spaces); returns its output.
fn openssl(dir: &Path, args: &str) -> String {
    run_ok(Command::new("openssl").args(args.split(' ')).current_dir(dir))
}

/// A CA made with openssl in `dir`: its certificate and key (`ca.pem`, `ca.key`).
fn ca(dir: &Path) -> (PathBuf, PathBuf) {
    let have = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    require(have, "openssl (apt-get install openssl)");
    openssl(dir, "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=warp-test-CA -keyout ca.key -out ca.pem");
    (dir.join("ca.pem"), dir.join("ca.key"))
}

/// A CA and a certificate it signed for the address `ip`: (CA, certificate, key).
fn certificates(dir: &Path, ip: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, _) = ca(dir);
    openssl(dir, &format!("req -newkey rsa:2048 -nodes -subj /CN={ip} -keyout server.key -out server.csr"));
    std::fs::write(dir.join("san.ext"), format!("subjectAltName=IP:{ip}\n")).unwrap();
    openssl(dir, "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.pem");
    (ca, dir.join("server.pem"), dir.join("server.key"))
}

/// An IPv4 address of this machine that is not loopback (a machine running Docker has at
/// least its bridge's): a registry there is spoken to over HTTPS, and still on this machine.
fn outside_address() -> Option<String> {
    let out = Command::new("hostname").arg("-I").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|text| text.parse::<std::net::Ipv4Addr>().ok())
        .find(|ip| !ip.is_loopback())
        .map(|ip| ip.to_string())
}

#[test]
fn a_registry_whose_certificate_a_private_ca_signed_is_trusted_through_the_ca_file() {
    let ip = outside_address();
    require(ip.is_some(), "an IPv4 address besides loopback (`hostname -I`)");
    let ip = ip.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path(), &ip);
    let registry = Registry::start(Setup { tls: Some((cert, key)), ip: Some(ip.clone()), ..Setup::default() });
    let image = image(dir.path(), "over TLS\n");
    let name = format!("{ip}:{}/app:1", registry.port);

    let err = push(&image, &name, &Options::default()).0.unwrap_err();
    assert!(matches!(&err, registry::Error::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("SSL_CERT_FILE"), "{err}");

    let options = Options { ca_file: Some(ca), ..Options::default() };
    let reports = pushed(&image, &name, &options);
    assert_eq!(counts(&reports), (2, 0, 0), "{reports:?}");
}

/// A token server for a registry's `auth: token`: it grants the test user (by password or
/// by identity token) a JWT that the
/// CA's key signs (the CA's certificate in its `x5c`), with the access asked for, except push
/// to repositories under `readonly/`; anyone else gets a 401. Stopped when dropped.
struct TokenServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The scopes each grant was asked for.
    scopes: Arc<Mutex<Vec<String>>>,
}

impl TokenServer {
    fn start(dir: &Path, ca_key: &Path) -> TokenServer {
        openssl(dir, "x509 -in ca.pem -outform DER -out ca.der");
        let x5c = STANDARD.encode(std::fs::read(dir.join("ca.der")).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let scopes = Arc::new(Mutex::new(Vec::new()));
        let (key, dir) = (ca_key.to_path_buf(), dir.to_path_buf());
        let thread = {
            let (stop, scopes) = (stop.clone(), scopes.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        answer_token_request(stream, &dir, &key, &x5c, &scopes);
                    }
                }
            })
        };
        TokenServer { port, stop, thread: Some(thread), scopes }
    }

    fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    fn scopes(&self) -> Vec<String> {
        self.scopes.lock().unwrap().clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The server waits in accept: one more connection lets it see the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answer one token request as [`TokenServer`] says: `GET /token?service=..&scope=..` with
/// the user's password, or an OAuth2 `POST /token` that trades [`REFRESH_TOKEN`].
fn answer_token_request(stream: TcpStream, dir: &Path, key: &Path, x5c: &str, scopes: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(&stream);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim_end().is_empty() {
            break;
        }
        lines.push(line.trim_end().to_string());
    }
    let Some(target) = lines.first().and_then(|line| line.split(' ').nth(1)) else { return };
    let form = match lines.iter().find_map(|line| line.to_lowercase().strip_prefix("content-length: ")?.parse::<usize>().ok()) {
        Some(length) => {
            let mut body = vec![0; length];
            std::io::Read::read_exact(&mut reader, &mut body).unwrap();
            String::from_utf8(body).unwrap()
        }
        None => String::new(),
    };
    let query = target.split_once('?').map_or("", |(_, query)| query);
    let field = |name: &str| -> Vec<String> {
        let prefix = format!("{name}=");
        query
            .split('&')
            .chain(form.split('&'))
            .filter_map(|pair| pair.strip_prefix(&prefix))
            .map(|v| percent_decode(&v.replace('+', " ")))
            .collect()
    };
    let password = format!("authorization: basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}"))).to_lowercase();
    let known = lines.iter().any(|line| line.to_lowercase() == password) || field("refresh_token") == [REFRESH_TOKEN];
    // A form's scopes are one field separated by spaces; a query's, one field each.
    let asked: Vec<String> = field("scope").iter().flat_map(|scope| scope.split(' ')).map(str::to_string).collect();
    let (status, body) = if known {
        scopes.lock().unwrap().extend(asked.iter().cloned());
        ("200 OK", serde_json::json!({ "access_token": jwt(dir, key, x5c, &asked) }).to_string())
    } else {
        ("401 Unauthorized", r#"{"errors":[{"code":"UNAUTHORIZED","message":"who are you?"}]}"#.to_string())
    };
    let answer =
        format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    let _ = (&stream).write_all(answer.as_bytes());
}

/// A JWT for the test user with the access of `scopes`, as the distribution registry checks
/// it: RS256, the signing certificate in `x5c`, its issuer and service as audience.
fn jwt(dir: &Path, key: &Path, x5c: &str, scopes: &[String]) -> String {
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|scope| {
            let mut parts = scope.split(':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            let actions: Vec<&str> = actions.split(',').filter(|a| !(name.starts_with("readonly/") && *a == "push")).collect();
            Some(serde_json::json!({ "type": kind, "name": name, "actions": actions }))
        })
        .collect();
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "x5c": [x5c] });
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER, "sub": USER, "aud": TOKEN_SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": format!("{now}-{}", scopes.len()), "access": access,
    });
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let input = dir.join("jwt-input");
    std::fs::write(&input, &signing_input).unwrap();
    let signature = Command::new("openssl").args(["dgst", "-sha256", "-sign"]).arg(key).arg(&input).output().unwrap();
    assert!(signature.status.success(), "{}", String::from_utf8_lossy(&signature.stderr));
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.stdout))
}

/// `%XX` escapes undone.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn a_registry_with_a_token_server_takes_a_token_for_the_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_key) = ca(dir.path());
    let tokens = TokenServer::start(dir.path(), &ca_key);
    let registry = Registry::start(Setup { token: Some((tokens.realm(), ca)), ..Setup::default() });
    let image = image(dir.path(), "pushed with a token\n");
    let name = format!("{}/team/app:1", registry.host());

    let err = push(&image, &name, &Options::default()).0.unwrap_err();
    assert!(matches!(&err, registry::Error::Refused { refusal: Refusal::AuthenticationRequired, .. }), "{err:?}");
    let wrong = Options { credentials: Credentials::parse(&format!("{USER}:wrong")).unwrap(), ..Options::default() };
    let err = push(&image, &name, &wrong).0.unwrap_err();
    assert!(matches!(&err, registry::Error::Refused { refusal: Refusal::CredentialsRejected, .. }), "{err:?}");
    assert!(tokens.scopes().is_empty());

    let reports = pushed(&image, &name, &with_password());
    assert_eq!(counts(&reports), (2, 0, 0), "{reports:?}");
    assert!(tokens.scopes().contains(&"repository:team/app:pull,push".to_string()), "{:?}", tokens.scopes());

    // The identity token `docker login` stores for such registries, from a Docker config.
    let docker_config = dir.path().join("docker");
    std::fs::create_dir(&docker_config).unwrap();
    let config = serde_json::json!({ "auths": { registry.host(): { "auth": "", "identitytoken": REFRESH_TOKEN } } });
    std::fs::write(docker_config.join("config.json"), config.to_string()).unwrap();
    let credentials = Credentials::from_docker_config(&docker_config, &registry.host()).unwrap();
    assert_eq!(credentials, Credentials::IdentityToken(REFRESH_TOKEN.into()));
    let reports = pushed(&image, &format!("{}/team/app:2", registry.host()), &Options { credentials, ..Options::default() });
    assert_eq!(counts(&reports), (0, 2, 0), "{reports:?}");

    // A token that lets the user pull but not push: the credentials are fine, the access is not.
    let err = push(&image, &format!("{}/readonly/app:1", registry.host()), &with_password()).0.unwrap_err();
    assert!(matches!(&err, registry::Error::Refused { refusal: Refusal::Denied(_), .. }), "{err:?}");
    assert!(err.to_string().contains("make sure the user may push to readonly/app"), "{err}");
}
