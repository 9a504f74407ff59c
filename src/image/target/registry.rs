//! The registry target: an image pushed to a registry as the OCI distribution spec says,
//! over blocking HTTP.
//!
//! Each blob the manifest points at (the layers bottom first, then the config) is asked for
//! with `HEAD` and skipped when the registry has it; one it lacks is mounted from another
//! repository of the registry when [`Options::mount_from`] names one that has it, else
//! uploaded: `POST` opens an upload, and one `PUT` streams the whole blob from its file with
//! its digest, so a large layer is never held in memory. The manifest is `PUT` under the tag
//! last of all, so a push that fails midway leaves the tag where it was.
//!
//! The registry is the reference's ([`Reference::registry`]); Docker Hub's API is at
//! `registry-1.docker.io`. A loopback registry (`localhost`, `127.0.0.0/8`, `::1`) is spoken
//! to over plain HTTP, as Docker does; any other over HTTPS, trusting the system's CA bundle
//! and the PEM file [`Options::ca_file`] names (`SSL_CERT_FILE`). Authentication answers the
//! registry's challenge: HTTP basic, or a bearer token from its token server, for the
//! [`Credentials`] given.
//!
//! What it does not do: pull, push an index of several platforms, or retry a failed request
//! (a failed push is pushed again: what the registry already has is skipped).

mod auth;

use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ureq::http::{self, StatusCode};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, SendBody};

pub use auth::Credentials;
use auth::{one_line, Challenge, TokenAnswer};

use super::{manifest_blobs, Blob};
use crate::env_vars;
use crate::image::oci::MANIFEST_MEDIA_TYPE;
use crate::image::{Digest, Image, Reference};

/// Where Docker Hub's registry API is (`docker.io` is its name, not its API's host).
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The system CA bundles of the common distributions (Debian, Fedora and RHEL, openSUSE,
/// Alpine): the first one present is trusted, as Go's TLS (and so Docker) does.
const SYSTEM_CA_BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
/// How long a registry has to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a registry may take to answer once a request is sent: after a large blob, it
/// checks the digest of all of it first.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How much of an error answer is read for its message.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// How much of a token server's answer is read.
const TOKEN_BODY_LIMIT: u64 = 1024 * 1024;
/// How many bytes of a blob go out between two [`Progress::Sending`] reports.
const PROGRESS_STEP: u64 = 1 << 20;
/// The client id given to token servers.
const CLIENT_ID: &str = "warp";

/// What can go wrong pushing an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--registry-auth` is not `USER:PASSWORD` (the text is not repeated: it holds a secret).
    #[error("--registry-auth takes USER:PASSWORD: a user name, a colon, then the password or access token")]
    AuthSyntax,
    /// Docker's `config.json` could not be read.
    #[error("cannot read {}", path.display())]
    DockerConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Docker's `config.json` is not JSON of the shape Docker writes.
    #[error("{} is not a Docker config file; fix it, or move it away and log in again with docker login", path.display())]
    DockerConfigJson {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: serde_json::Error,
    },
    /// An `auths` entry's `auth` is not base64 of `USER:PASSWORD`.
    #[error("the auth of {registry} in {} is not base64 of USER:PASSWORD; log in again with docker login {registry}", path.display())]
    DockerConfigAuth {
        /// The file.
        path: PathBuf,
        /// The registry whose entry it is.
        registry: String,
    },
    /// A credential helper that `config.json` names failed.
    #[error("{program}, the credential helper for {registry} in Docker's config.json, failed: {message}")]
    Helper {
        /// `docker-credential-<name>`.
        program: String,
        /// The registry asked about.
        registry: String,
        /// What went wrong.
        message: String,
    },
    /// A CA bundle could not be read.
    #[error("cannot read the CA certificates in {}; fix or unset SSL_CERT_FILE", path.display())]
    Certificates {
        /// The PEM file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// There is no CA certificate to check a registry's certificate with.
    #[error("no CA certificates to check {registry}'s certificate with: install the ca-certificates package, or set SSL_CERT_FILE to a PEM bundle")]
    NoCertificates {
        /// The registry.
        registry: String,
    },
    /// The registry (or its token server) could not be spoken to.
    #[error("cannot reach the registry {registry} at {url}; check the name and the network (a registry whose certificate a private CA signed needs SSL_CERT_FILE set to that CA)")]
    Unreachable {
        /// The registry.
        registry: String,
        /// The URL asked.
        url: String,
        /// Why. Boxed: ureq's error is large, and every result of this module would carry it.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The registry answered a request with a refusal.
    #[error("the registry {registry} refused the push of {image}: {refusal}; {}", refusal.hint(registry, repository))]
    Refused {
        /// The registry.
        registry: String,
        /// The repository pushed to.
        repository: String,
        /// `repository:tag`.
        image: String,
        /// What it refused and why.
        refusal: Refusal,
    },
    /// The registry stored the manifest under another digest than the one sent.
    #[error("the registry {registry} stored the manifest of {image} as {actual}, not as {expected}; it changed the manifest, so the image it serves is not the one built")]
    Digest {
        /// The registry.
        registry: String,
        /// `repository:tag`.
        image: String,
        /// The digest of the manifest sent.
        expected: Digest,
        /// What the registry said (`Docker-Content-Digest`).
        actual: String,
    },
    /// A blob of the image could not be read.
    #[error(transparent)]
    Blob(#[from] crate::image::Error),
}

/// Results of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Why a registry refused a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It wants credentials, and none were given.
    AuthenticationRequired,
    /// It did not accept the credentials given.
    CredentialsRejected,
    /// The credentials are accepted but may not push there; the registry's words.
    Denied(String),
    /// The repository does not exist and the registry does not make it on a push.
    NameUnknown(String),
    /// Any other refusal: the answer's status and the registry's words.
    Status {
        /// The HTTP status.
        status: u16,
        /// What was asked, e.g. `PUT manifest`.
        request: &'static str,
        /// The registry's words, or empty.
        message: String,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::AuthenticationRequired => f.write_str("authentication required"),
            Refusal::CredentialsRejected => f.write_str("the credentials were not accepted"),
            Refusal::Denied(message) if message.is_empty() => f.write_str("the credentials do not allow a push there"),
            Refusal::Denied(message) => write!(f, "the credentials do not allow a push there (the registry said: {message})"),
            Refusal::NameUnknown(message) => write!(f, "no such repository ({message})"),
            Refusal::Status { status, request, message } if message.is_empty() => write!(f, "HTTP {status} to {request}"),
            Refusal::Status { status, request, message } => write!(f, "HTTP {status} to {request} ({message})"),
        }
    }
}

impl Refusal {
    /// What the user can do about it.
    fn hint(&self, registry: &str, repository: &str) -> String {
        let log_in = format!("docker login {registry} or pass --registry-auth USER:PASSWORD");
        match self {
            Refusal::AuthenticationRequired => format!("log in with {log_in}"),
            Refusal::CredentialsRejected => format!("check the user and password: log in again with {log_in}"),
            Refusal::Denied(_) => format!("make sure the user may push to {repository}, or push under a name it may write"),
            Refusal::NameUnknown(_) => format!("create the repository {repository} on the registry first, or push under a name it has"),
            Refusal::Status { status, .. } if *status >= 500 => "the registry failed; see its log, and push again".to_string(),
            Refusal::Status { .. } => "see the registry's log for why".to_string(),
        }
    }
}

/// How to push.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Who pushes.
    pub credentials: Credentials,
    /// An image in the same registry that shares blobs with the one pushed (its base): a
    /// blob the target repository lacks is mounted from this one's repository, not sent,
    /// when the registry has it there. Ignored when it is in another registry.
    pub mount_from: Option<Reference>,
    /// A PEM file of CA certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
}

impl Options {
    /// The options for pushing `reference` from this process's environment: the
    /// credentials of `registry_auth` (the text of `--registry-auth USER:PASSWORD`) when
    /// given, else those Docker's `config.json` holds for the registry (`$DOCKER_CONFIG`,
    /// else `~/.docker`), else none; `SSL_CERT_FILE` as the extra CA file.
    pub fn from_env(registry_auth: Option<&str>, reference: &Reference) -> Result<Options> {
        let credentials = match registry_auth {
            Some(text) => Credentials::parse(text)?,
            None => match auth::docker_config_dir(env_vars::get(env_vars::DOCKER_CONFIG), std::env::home_dir()) {
                Some(dir) => Credentials::from_docker_config(&dir, reference.registry())?,
                None => Credentials::Anonymous,
            },
        };
        Ok(Options { credentials, mount_from: None, ca_file: env_vars::get(env_vars::SSL_CERT_FILE).map(PathBuf::from) })
    }
}

/// What a push reports as it goes, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The registry has the blob already: it is not sent.
    Present {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// The registry took the blob from [`Options::mount_from`]'s repository: it is not sent.
    Mounted {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// `sent` of the blob's `size` bytes are sent: first with 0, then about every MiB, last
    /// with `size`. Starts again from 0 when the blob is sent again after a new login.
    Sending {
        /// The blob.
        digest: Digest,
        /// Bytes sent so far.
        sent: u64,
        /// Its size.
        size: u64,
    },
    /// The registry has stored the blob that was sent.
    Uploaded {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// The manifest is stored under the tag: the push is done.
    Tagged {
        /// The manifest's digest.
        digest: Digest,
    },
}

/// Push `image` to the registry of `reference`, under its repository and tag, reporting
/// each blob's fate to `on_progress`. Returns the manifest's digest (by which
/// `name@sha256:...` pulls exactly this image). Blobs go first and the manifest last, so a
/// push that fails leaves the tag where it was.
pub fn push(image: &Image, reference: &Reference, options: &Options, on_progress: &mut dyn FnMut(Progress)) -> Result<Digest> {
    let mut session = Session::open(reference, options)?;
    // Asked first, so a refusal of the credentials comes before any blob is read.
    let url = session.url("/v2/");
    let ping = session.send(&url, &mut |agent, auth| Ok(authorized(agent.get(&url), auth).call()?))?;
    if ping.status() != StatusCode::OK {
        return Err(session.refused(ping, "GET /v2/"));
    }
    for blob in manifest_blobs(image) {
        session.push_blob(&blob, on_progress)?;
    }
    let digest = session.put_manifest(image)?;
    on_progress(Progress::Tagged { digest });
    Ok(digest)
}

/// A request builder with the `Authorization` header when there is one.
fn authorized<B>(request: ureq::RequestBuilder<B>, auth: Option<&str>) -> ureq::RequestBuilder<B> {
    match auth {
        Some(value) => request.header("authorization", value),
        None => request,
    }
}

type Response = http::Response<ureq::Body>;

/// Makes one request, given the agent and the `Authorization` value to send (none before
/// a challenge asked for one); a request made again after a login is made by it again.
type Request<'a> = dyn FnMut(&Agent, Option<&str>) -> std::result::Result<Response, Failure> + 'a;

/// Why a request got no answer.
enum Failure {
    /// The HTTP exchange failed.
    Http(ureq::Error),
    /// The blob to send could not be read.
    Blob(crate::image::Error),
}

impl From<ureq::Error> for Failure {
    fn from(error: ureq::Error) -> Failure {
        Failure::Http(error)
    }
}

impl From<crate::image::Error> for Failure {
    fn from(error: crate::image::Error) -> Failure {
        Failure::Blob(error)
    }
}

/// One push's connection to one registry repository and what it has authenticated with.
struct Session<'a> {
    agent: Agent,
    /// `https://host[:port]`.
    base: String,
    registry: String,
    repository: String,
    tag: String,
    /// The repository to mount blobs from, in the same registry.
    mount_from: Option<String>,
    credentials: &'a Credentials,
    /// The `Authorization` value sent with each request, once a challenge asked for one.
    authorization: Option<String>,
    /// Whether a token server granted a token for the credentials.
    granted: bool,
}

/// How far the credentials got when a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Login {
    /// There are none.
    Anonymous,
    /// They were sent, and nothing has accepted them yet.
    Offered,
    /// A token server accepted them: a refusal now is about what they may do.
    Accepted,
}

impl<'a> Session<'a> {
    fn open(reference: &Reference, options: &'a Options) -> Result<Session<'a>> {
        let registry = reference.registry().to_string();
        let repository = reference.repository();
        let loopback = is_loopback(&registry);
        let api_host = if auth::is_docker_hub(&registry) { DOCKER_HUB_API } else { registry.as_str() };
        let base = format!("{}://{api_host}", if loopback { "http" } else { "https" });
        // A loopback registry needs no CA; its token server might, so the roots are loaded
        // for it too, but their absence only matters for HTTPS.
        let roots = roots(options.ca_file.as_deref())?;
        if roots.is_empty() && !loopback {
            return Err(Error::NoCertificates { registry });
        }
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(TlsConfig::builder().root_certs(RootCerts::new_with_certs(&roots)).build())
            // A proxy is for leaving the machine; Docker never sends loopback through one.
            .proxy(if loopback { None } else { ureq::Proxy::try_from_env() })
            .user_agent(format!("warp/{}", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(ANSWER_TIMEOUT))
            .build();
        let mount_from = options
            .mount_from
            .as_ref()
            .filter(|from| from.registry() == registry)
            .map(Reference::repository)
            .filter(|from| *from != repository);
        Ok(Session {
            agent: config.new_agent(),
            base,
            registry,
            repository,
            tag: reference.tag().to_string(),
            mount_from,
            credentials: &options.credentials,
            authorization: None,
            granted: false,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Make a request with `request` (given the agent and the `Authorization` value); when
    /// the registry answers 401 with a challenge warp can answer, authenticate and make it
    /// once more. Any other answer is returned as it is.
    fn send(&mut self, url: &str, request: &mut Request<'_>) -> Result<Response> {
        let response = self.attempt(url, request)?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = response.headers().get_all("www-authenticate").iter().find_map(|v| auth::parse_challenge(v.to_str().ok()?));
        let authorization = match challenge {
            Some(Challenge::Basic) => self.credentials.basic(),
            Some(Challenge::Bearer { realm, service, scope }) => {
                let token = self.token(&realm, service, scope)?;
                // A token server grants a token for credentials only when it accepts them.
                self.granted = !self.credentials.is_anonymous();
                Some(format!("Bearer {token}"))
            }
            None => None,
        };
        match authorization {
            // Nothing new to offer: the refusal stands.
            None => Ok(response),
            Some(value) if self.authorization.as_ref() == Some(&value) => Ok(response),
            Some(value) => {
                self.authorization = Some(value);
                self.attempt(url, request)
            }
        }
    }

    /// Make the request to `url`. The `Authorization` value goes only to the registry
    /// itself, not to storage elsewhere that an upload's `Location` may point at.
    fn attempt(&self, url: &str, request: &mut Request<'_>) -> Result<Response> {
        let to_registry = url.strip_prefix(&self.base).is_some_and(|path| path.starts_with('/'));
        let authorization = self.authorization.as_deref().filter(|_| to_registry);
        request(&self.agent, authorization).map_err(|failure| match failure {
            Failure::Http(source) => self.unreachable(url, source),
            Failure::Blob(error) => Error::Blob(error),
        })
    }

    fn unreachable(&self, url: &str, source: ureq::Error) -> Error {
        Error::Unreachable { registry: self.registry.clone(), url: url.to_string(), source: Box::new(source) }
    }

    /// A bearer token from the token server at `realm` for this push's access (and what the
    /// challenge asked for): traded for the identity token when there is one, else asked for
    /// with the user and password when there are some, else anonymously.
    fn token(&self, realm: &str, service: Option<String>, scope: Option<String>) -> Result<String> {
        let mut scopes = vec![format!("repository:{}:pull,push", self.repository)];
        if let Some(from) = &self.mount_from {
            scopes.push(format!("repository:{from}:pull"));
        }
        scopes.extend(scope.filter(|s| !scopes.contains(s)));
        let service = service.unwrap_or_default();
        let answer = match self.credentials {
            Credentials::IdentityToken(refresh) => {
                let scope = scopes.join(" ");
                let form = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                    ("service", service.as_str()),
                    ("scope", scope.as_str()),
                    ("client_id", CLIENT_ID),
                ];
                self.agent.post(realm).send_form(form)
            }
            credentials => {
                let mut request = self.agent.get(realm).query("service", &service);
                for scope in &scopes {
                    request = request.query("scope", scope);
                }
                if let Credentials::Basic { username, .. } = credentials {
                    request = request.query("account", username);
                }
                authorized(request, credentials.basic().as_deref()).call()
            }
        };
        let mut answer = answer.map_err(|source| self.unreachable(realm, source))?;
        if answer.status() != StatusCode::OK {
            // The token server judges the credentials themselves, whatever it granted before.
            let login = if self.credentials.is_anonymous() { Login::Anonymous } else { Login::Offered };
            return Err(self.refused_as(answer, "GET token", login));
        }
        let body = answer.body_mut().with_config().limit(TOKEN_BODY_LIMIT).read_to_vec();
        let token = body.ok().and_then(|body| serde_json::from_slice::<TokenAnswer>(&body).ok()).and_then(TokenAnswer::into_token);
        token.ok_or_else(|| self.refusal(Refusal::Status { status: 200, request: "GET token", message: "no token in the answer".into() }))
    }

    /// Make sure the registry has `blob` in the repository.
    fn push_blob(&mut self, blob: &Blob, on_progress: &mut dyn FnMut(Progress)) -> Result<()> {
        let (digest, size) = (blob.digest, blob.size);
        let blob_url = self.url(&format!("/v2/{}/blobs/{digest}", self.repository));
        let head = self.send(&blob_url, &mut |agent, auth| Ok(authorized(agent.head(&blob_url), auth).call()?))?;
        match head.status() {
            StatusCode::OK => {
                on_progress(Progress::Present { digest, size });
                return Ok(());
            }
            StatusCode::NOT_FOUND => {}
            _ => return Err(self.refused(head, "HEAD blob")),
        }

        let mut start = self.start_upload(digest, self.mount_from.clone())?;
        if self.mount_from.is_some() && matches!(start.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            // The repository to mount from is not readable with these credentials: send it.
            start = self.start_upload(digest, None)?;
        }
        match start.status() {
            StatusCode::CREATED if self.mount_from.is_some() => {
                on_progress(Progress::Mounted { digest, size });
                return Ok(());
            }
            StatusCode::ACCEPTED => {}
            _ => return Err(self.refused(start, "POST blob upload")),
        }
        let Some(location) = start.headers().get("location").and_then(|v| v.to_str().ok()) else {
            let missing = Refusal::Status { status: 202, request: "POST blob upload", message: "no Location in the answer".into() };
            return Err(self.refusal(missing));
        };
        let upload_url = with_digest(&resolve(&self.base, location), digest);

        let put = self.send(&upload_url, &mut |agent, auth| {
            let inner = blob.reader()?;
            on_progress(Progress::Sending { digest, sent: 0, size });
            let mut reader = Reporting { inner, digest, size, sent: 0, reported: 0, on_progress: &mut *on_progress };
            let request = authorized(agent.put(&upload_url), auth).header("content-type", "application/octet-stream");
            Ok(request.header("content-length", size).send(SendBody::from_reader(&mut reader))?)
        })?;
        if put.status() != StatusCode::CREATED {
            return Err(self.refused(put, "PUT blob"));
        }
        on_progress(Progress::Uploaded { digest, size });
        Ok(())
    }

    /// `POST` a blob upload, asking to mount `digest` from the repository `from` when given.
    fn start_upload(&mut self, digest: Digest, from: Option<String>) -> Result<Response> {
        let url = self.url(&format!("/v2/{}/blobs/uploads/", self.repository));
        self.send(&url, &mut |agent, auth| {
            let mut request = authorized(agent.post(&url), auth);
            if let Some(from) = &from {
                request = request.query("mount", digest.to_string()).query("from", from);
            }
            Ok(request.send_empty()?)
        })
    }

    /// `PUT` the manifest under the tag; returns its digest.
    fn put_manifest(&mut self, image: &Image) -> Result<Digest> {
        let url = self.url(&format!("/v2/{}/manifests/{}", self.repository, self.tag));
        let put = self.send(&url, &mut |agent, auth| {
            Ok(authorized(agent.put(&url), auth).header("content-type", MANIFEST_MEDIA_TYPE).send(image.manifest())?)
        })?;
        if put.status() != StatusCode::CREATED {
            return Err(self.refused(put, "PUT manifest"));
        }
        let expected = image.manifest_digest();
        match put.headers().get("docker-content-digest").map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string()) {
            Some(actual) if actual != expected.to_string() => {
                Err(Error::Digest { registry: self.registry.clone(), image: self.image(), expected, actual })
            }
            _ => Ok(expected),
        }
    }

    /// `repository:tag`, as errors name what was pushed.
    fn image(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    fn refusal(&self, refusal: Refusal) -> Error {
        Error::Refused { registry: self.registry.clone(), repository: self.repository.clone(), image: self.image(), refusal }
    }

    /// The error for an answer to `request` that is not the one a push needs.
    fn refused(&self, response: Response, request: &'static str) -> Error {
        let login = match (self.credentials.is_anonymous(), self.granted) {
            (true, _) => Login::Anonymous,
            (false, false) => Login::Offered,
            (false, true) => Login::Accepted,
        };
        self.refused_as(response, request, login)
    }

    fn refused_as(&self, mut response: Response, request: &'static str, login: Login) -> Error {
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(ERROR_BODY_LIMIT).read_to_vec().unwrap_or_default();
        self.refusal(refusal(status, &body, request, login))
    }
}

/// What a refusal means, from its status and the registry's error body
/// (`{"errors":[{"code":..,"message":..}]}`).
fn refusal(status: u16, body: &[u8], request: &'static str, login: Login) -> Refusal {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let errors = serde_json::from_slice::<Errors>(body).map(|e| e.errors).unwrap_or_default();
    let code = errors.first().map(|e| e.code.as_str()).unwrap_or_default();
    let message = errors.iter().map(|e| one_line(&e.message)).filter(|m| !m.is_empty()).collect::<Vec<_>>().join("; ");
    match (status, login) {
        (401 | 403, Login::Anonymous) => Refusal::AuthenticationRequired,
        (401, Login::Offered) => Refusal::CredentialsRejected,
        (401 | 403, _) => Refusal::Denied(message),
        (404, _) if code == "NAME_UNKNOWN" => Refusal::NameUnknown(message),
        _ => Refusal::Status { status, request, message },
    }
}

/// Passes a blob's bytes on, reporting [`Progress::Sending`] about every [`PROGRESS_STEP`].
struct Reporting<'a, R> {
    inner: R,
    digest: Digest,
    size: u64,
    sent: u64,
    reported: u64,
    on_progress: &'a mut dyn FnMut(Progress),
}

impl<R: Read> Read for Reporting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sent += n as u64;
        if self.sent - self.reported >= PROGRESS_STEP || (self.sent == self.size && self.reported != self.size) {
            self.reported = self.sent;
            (self.on_progress)(Progress::Sending { digest: self.digest, sent: self.sent, size: self.size });
        }
        Ok(n)
    }
}

/// Whether `registry` (a host with an optional port) is this machine's loopback.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        // `[::1]:5000`
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None if registry.matches(':').count() > 1 => registry,
        None => registry.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The URL a `Location` header names: absolute, or a path on the registry.
fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        format!("{base}/{location}")
    }
}

/// An upload URL with the `digest` query parameter that completes it added to the ones the
/// registry put there (its upload state).
fn with_digest(url: &str, digest: Digest) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}digest=sha256%3A{}", digest.hex())
}

/// The system's CA certificates and those of `extra`.
fn roots(extra: Option<&std::path::Path>) -> Result<Vec<Certificate<'static>>> {
    let mut roots = Vec::new();
    if let Some(system) = SYSTEM_CA_BUNDLES.iter().find_map(|path| std::fs::read(path).ok()) {
        roots.extend(certificates(&system));
    }
    if let Some(path) = extra {
        let pem = std::fs::read(path).map_err(|source| Error::Certificates { path: path.to_path_buf(), source })?;
        let found = certificates(&pem);
        if found.is_empty() {
            let source = std::io::Error::new(std::io::ErrorKind::InvalidData, "no PEM certificate in it");
            return Err(Error::Certificates { path: path.to_path_buf(), source });
        }
        roots.extend(found);
    }
    Ok(roots)
}

/// The certificates of a PEM file; anything else in it (keys, text) is passed over.
fn certificates(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_spoken_to_over_http() {
        for host in ["localhost", "localhost:5000", "LOCALHOST:1", "127.0.0.1", "127.0.0.1:5000", "127.1.2.3:80", "[::1]:5000", "::1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["docker.io", "quay.io:443", "10.0.0.1:5000", "localhost.example.com", "128.0.0.1", "[::2]:5000", "vm:5000"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn upload_locations_are_resolved_and_completed_with_the_digest() {
        let base = "http://127.0.0.1:5000";
        let digest = Digest::of(b"");
        let hex = digest.hex();
        assert_eq!(
            with_digest(&resolve(base, "/v2/app/blobs/uploads/u1?_state=abc"), digest),
            format!("http://127.0.0.1:5000/v2/app/blobs/uploads/u1?_state=abc&digest=sha256%3A{hex}")
        );
        assert_eq!(
            with_digest(&resolve(base, "https://storage.example/up/u2"), digest),
            format!("https://storage.example/up/u2?digest=sha256%3A{hex}")
        );
        assert_eq!(resolve(base, "v2/x"), "http://127.0.0.1:5000/v2/x");
    }

    #[test]
    fn refusals_say_what_was_wrong_and_what_to_do() {
        let body = br#"{"errors":[{"code":"DENIED","message":"requested access\nto the resource is denied"}]}"#;
        let denied = Refusal::Denied("requested access to the resource is denied".into());
        assert_eq!(refusal(401, b"", "GET /v2/", Login::Anonymous), Refusal::AuthenticationRequired);
        assert_eq!(refusal(403, body, "PUT blob", Login::Anonymous), Refusal::AuthenticationRequired);
        assert_eq!(refusal(401, body, "GET /v2/", Login::Offered), Refusal::CredentialsRejected);
        assert_eq!(refusal(403, body, "PUT blob", Login::Offered), denied);
        // A token granted for the credentials that does not let them push.
        assert_eq!(refusal(401, body, "PUT blob", Login::Accepted), denied);
        let unknown = br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#;
        assert_eq!(
            refusal(404, unknown, "POST blob upload", Login::Offered),
            Refusal::NameUnknown("repository name not known to registry".into())
        );
        assert_eq!(
            refusal(500, b"<html>oops</html>", "PUT manifest", Login::Anonymous),
            Refusal::Status { status: 500, request: "PUT manifest", message: String::new() }
        );

        let error = Error::Refused {
            registry: "127.0.0.1:5000".into(),
            repository: "app".into(),
            image: "app:1".into(),
            refusal: Refusal::AuthenticationRequired,
        };
        assert_eq!(
            error.to_string(),
            "the registry 127.0.0.1:5000 refused the push of app:1: authentication required; \
             log in with docker login 127.0.0.1:5000 or pass --registry-auth USER:PASSWORD"
        );
    }

    #[test]
    fn roots_are_the_system_bundle_and_the_extra_file() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let err = roots(Some(&not_pem)).unwrap_err();
        assert!(matches!(err, Error::Certificates { .. }) && err.to_string().contains("SSL_CERT_FILE"), "{err}");
        let err = roots(Some(&dir.path().join("absent.pem"))).unwrap_err();
        assert!(matches!(err, Error::Certificates { .. }), "{err}");
        let Some(system) = SYSTEM_CA_BUNDLES.iter().find(|p| std::path::Path::new(p).exists()) else { return };
        let count = roots(None).unwrap().len();
        assert!(count > 0, "{system} holds no certificate");
        // The system bundle given again as the extra file doubles the count.
        assert_eq!(roots(Some(std::path::Path::new(system))).unwrap().len(), 2 * count);
    }
}
