//! Who pushes, and how a registry is told so: credentials from `--registry-auth` or Docker's
//! `config.json` (its `auths` entries and its credential helpers), the `WWW-Authenticate`
//! challenges a registry answers with, and the `Authorization` headers that answer them.
//!
//! Everything here but [`Credentials::from_docker_config`] (which may run a helper) is pure:
//! the HTTP requests a challenge leads to are the push's work.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

use super::{Error, Result};

/// The key and the server URL `docker login` uses for Docker Hub.
const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";
/// The names Docker Hub is known by in a `config.json`.
const DOCKER_HUB_NAMES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];
/// What a credential helper prints when it holds nothing for the server.
const HELPER_NOT_FOUND: &str = "credentials not found";
/// The user name a credential helper gives with an identity token instead of a password.
const HELPER_TOKEN_USER: &str = "<token>";

/// Who pushes.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// Nobody in particular: only registries that let anyone push accept it.
    #[default]
    Anonymous,
    /// A user and a password (or an access token used as one).
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: String,
    },
    /// An OAuth2 refresh token that `docker login` stored for a registry with a token
    /// server: traded for an access token, never sent to the registry itself.
    IdentityToken(String),
}

// By hand, so that a secret never lands in a log or an error.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => f.debug_struct("Basic").field("username", username).finish_non_exhaustive(),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(..)"),
        }
    }
}

impl Credentials {
    /// The credentials of `--registry-auth USER:PASSWORD` (split at the first `:`, so the
    /// password may hold more).
    pub fn parse(text: &str) -> Result<Credentials> {
        match text.split_once(':') {
            Some((username, password)) if !username.is_empty() && !password.is_empty() => {
                Ok(Credentials::Basic { username: username.to_string(), password: password.to_string() })
            }
            _ => Err(Error::AuthSyntax),
        }
    }

    /// The credentials Docker's `config.json` in `dir` holds for `registry` (a host, or
    /// `docker.io`): its credential helper's (`credHelpers`, else `credsStore`) when it has
    /// one that knows the registry, else its `auths` entry, else none.
    pub fn from_docker_config(dir: &Path, registry: &str) -> Result<Credentials> {
        let path = dir.join("config.json");
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::Anonymous),
            Err(source) => return Err(Error::DockerConfig { path, source }),
        };
        let config: DockerConfig =
            serde_json::from_slice(&text).map_err(|source| Error::DockerConfigJson { path: path.clone(), source })?;
        let registry = canonical(registry);
        let helper = config.cred_helpers.iter().find(|(key, _)| canonical(key) == registry).map(|(_, helper)| helper);
        if let Some(helper) = helper.or(config.creds_store.as_ref()).filter(|h| !h.is_empty()) {
            let found = run_helper(helper, &registry)?;
            if found != Credentials::Anonymous {
                return Ok(found);
            }
        }
        let Some(entry) = config.auths.iter().find(|(key, _)| canonical(key) == registry).map(|(_, entry)| entry) else {
            return Ok(Credentials::Anonymous);
        };
        if let Some(token) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
            return Ok(Credentials::IdentityToken(token.clone()));
        }
        match entry.auth.as_deref().filter(|a| !a.is_empty()) {
            None => Ok(Credentials::Anonymous),
            Some(auth) => decode_auth(auth).ok_or(Error::DockerConfigAuth { path, registry }),
        }
    }

    /// Whether there is anything to authenticate with.
    pub fn is_anonymous(&self) -> bool {
        *self == Credentials::Anonymous
    }

    /// The `Authorization` value of HTTP basic authentication, for a user and password.
    pub(super) fn basic(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => Some(format!("Basic {}", STANDARD.encode(format!("{username}:{password}")))),
            _ => None,
        }
    }
}

/// Where Docker keeps its `config.json`: `DOCKER_CONFIG` when set, else `~/.docker`.
pub(super) fn docker_config_dir(docker_config: Option<String>, home: Option<PathBuf>) -> Option<PathBuf> {
    docker_config.map(PathBuf::from).or_else(|| home.map(|home| home.join(".docker")))
}

/// The parts of Docker's `config.json` that say who to log in as.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
    identitytoken: Option<String>,
}

/// A registry as `config.json` keys name it, reduced to what a push names it: `docker login`
/// writes `https://host/...` for some and the plain host for others, and Docker Hub has several
/// names.
fn canonical(key: &str) -> String {
    let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = key.split('/').next().unwrap_or_default().to_ascii_lowercase();
    if DOCKER_HUB_NAMES.contains(&host.as_str()) {
        DOCKER_HUB_NAMES[0].to_string()
    } else {
        host
    }
}

/// Whether `registry` is one of Docker Hub's names.
pub(super) fn is_docker_hub(registry: &str) -> bool {
    canonical(registry) == DOCKER_HUB_NAMES[0]
}

/// `auths.<host>.auth`: base64 of `USER:PASSWORD`.
fn decode_auth(auth: &str) -> Option<Credentials> {
    let bytes = STANDARD.decode(auth.trim()).ok()?;
    Credentials::parse(&String::from_utf8(bytes).ok()?).ok()
}

/// What a credential helper's `get` prints.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// Ask `docker-credential-<helper> get` for `registry`'s credentials, as Docker does: the
/// server on stdin, JSON on stdout.
fn run_helper(helper: &str, registry: &str) -> Result<Credentials> {
    let program = format!("docker-credential-{helper}");
    let failed = |message: String| Error::Helper { program: program.clone(), registry: registry.to_string(), message };
    let server = if registry == DOCKER_HUB_NAMES[0] { DOCKER_HUB_SERVER } else { registry };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run it ({e}); install it or remove it from config.json")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input has its say in the exit status.
        let _ = stdin.write_all(server.as_bytes());
    }
    let output = child.wait_with_output().map_err(|e| failed(e.to_string()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        if stdout.contains(HELPER_NOT_FOUND) {
            return Ok(Credentials::Anonymous);
        }
        let said = format!("{} {}", stdout.trim(), String::from_utf8_lossy(&output.stderr).trim());
        return Err(failed(format!("{} ({})", output.status, one_line(said.trim()))));
    }
    let answer: HelperAnswer =
        serde_json::from_str(&stdout).map_err(|e| failed(format!("its answer is not the JSON it should be ({e})")))?;
    Ok(match answer.username.as_str() {
        HELPER_TOKEN_USER => Credentials::IdentityToken(answer.secret),
        _ => Credentials::Basic { username: answer.username, password: answer.secret },
    })
}

/// `text` on one line, so an error that quotes it stays one line.
pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a registry asks for in `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Challenge {
    /// HTTP basic authentication.
    Basic,
    /// A bearer token from the token server at `realm`.
    Bearer {
        /// The token server's URL.
        realm: String,
        /// The `service` to ask the token for.
        service: Option<String>,
        /// The access the failed request needed, e.g. `repository:app:pull,push`.
        scope: Option<String>,
    },
}

/// The first challenge of a `WWW-Authenticate` value that warp can answer: `Basic`, or
/// `Bearer` with a realm. Parameter values may be quoted (a scope's `pull,push` is) and hold
/// `\`-escaped characters.
pub(super) fn parse_challenge(header: &str) -> Option<Challenge> {
    let mut rest = header.trim();
    while !rest.is_empty() {
        let (scheme, after) = rest.split_once(' ').unwrap_or((rest, ""));
        let (params, after) = parse_params(after);
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            if let Some(realm) = params.get("realm") {
                return Some(Challenge::Bearer {
                    realm: realm.clone(),
                    service: params.get("service").cloned(),
                    scope: params.get("scope").cloned(),
                });
            }
        }
        rest = after.trim_start_matches([',', ' ']);
    }
    None
}

/// `key=value` pairs separated by commas, up to the next challenge's scheme (a word with no
/// `=` after it); returns them and what follows.
fn parse_params(mut text: &str) -> (BTreeMap<String, String>, &str) {
    let mut params = BTreeMap::new();
    loop {
        text = text.trim_start_matches([',', ' ']);
        let Some(eq) = text.find('=') else { return (params, text) };
        let key = &text[..eq];
        if key.is_empty() || key.contains([' ', ',']) {
            return (params, text);
        }
        let (value, rest) = parse_value(&text[eq + 1..]);
        params.insert(key.to_ascii_lowercase(), value);
        text = rest;
    }
}

/// A quoted string (with its `\` escapes undone) or a bare token; and what follows.
fn parse_value(text: &str) -> (String, &str) {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find([',', ' ']).unwrap_or(text.len());
        return (text[..end].to_string(), &text[end..]);
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &quoted[i + 1..]),
            '\\' => value.extend(chars.next().map(|(_, escaped)| escaped)),
            c => value.push(c),
        }
    }
    // No closing quote: the rest is the value.
    (value, "")
}

/// The token a token server answers with (`token`, or OAuth2's `access_token`).
#[derive(Deserialize)]
pub(super) struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
}

impl TokenAnswer {
    /// The token, when the answer has one.
    pub(super) fn into_token(self) -> Option<String> {
        self.token.or(self.access_token).filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(username: &str, password: &str) -> Credentials {
        Credentials::Basic { username: username.into(), password: password.into() }
    }

    #[test]
    fn registry_auth_is_user_colon_password() {
        assert_eq!(Credentials::parse("me:s3cr:et").unwrap(), basic("me", "s3cr:et"));
        for bad in ["me", "me:", ":pw", ""] {
            let err = Credentials::parse(bad).unwrap_err();
            assert!(matches!(err, Error::AuthSyntax), "{bad}: {err}");
            assert!(!err.to_string().contains("pw"), "the error does not echo the secret: {err}");
        }
        assert_eq!(format!("{:?}", basic("me", "hunter2")), r#"Basic { username: "me", .. }"#);
        assert_eq!(basic("Aladdin", "open sesame").basic().unwrap(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }

    #[test]
    fn docker_config_is_docker_config_else_home() {
        let home = Some(PathBuf::from("/home/me"));
        assert_eq!(docker_config_dir(Some("/etc/dc".into()), home.clone()), Some(PathBuf::from("/etc/dc")));
        assert_eq!(docker_config_dir(None, home), Some(PathBuf::from("/home/me/.docker")));
        assert_eq!(docker_config_dir(None, None), None);
    }

    fn config(json: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), json).unwrap();
        dir
    }

    #[test]
    fn auths_entries_are_found_by_host_however_docker_login_wrote_the_key() {
        let dir = config(
            r#"{"auths": {
                "https://index.docker.io/v1/": {"auth": "aHViOnB3"},
                "http://127.0.0.1:5000": {"auth": "bG9jYWw6cHc="},
                "quay.io": {"identitytoken": "refresh-me"},
                "broken.example": {"auth": "not base64!"},
                "empty.example": {}
            }}"#,
        );
        let found = |registry| Credentials::from_docker_config(dir.path(), registry);
        assert_eq!(found("docker.io").unwrap(), basic("hub", "pw"));
        assert_eq!(found("127.0.0.1:5000").unwrap(), basic("local", "pw"));
        assert_eq!(found("quay.io").unwrap(), Credentials::IdentityToken("refresh-me".into()));
        assert_eq!(found("empty.example").unwrap(), Credentials::Anonymous);
        assert_eq!(found("other.example").unwrap(), Credentials::Anonymous);
        let err = found("broken.example").unwrap_err();
        assert!(matches!(err, Error::DockerConfigAuth { .. }) && err.to_string().contains("docker login broken.example"), "{err}");

        let none = tempfile::tempdir().unwrap();
        assert_eq!(Credentials::from_docker_config(none.path(), "quay.io").unwrap(), Credentials::Anonymous);
        let err = Credentials::from_docker_config(config("{not json").path(), "quay.io").unwrap_err();
        assert!(matches!(err, Error::DockerConfigJson { .. }), "{err}");
    }

    #[test]
    fn a_missing_credential_helper_says_which() {
        let dir = config(r#"{"credHelpers": {"ghcr.io": "warp-test-absent"}, "auths": {"quay.io": {"auth": "cTpw"}}}"#);
        let err = Credentials::from_docker_config(dir.path(), "ghcr.io").unwrap_err();
        assert!(err.to_string().contains("docker-credential-warp-test-absent"), "{err}");
        // Another registry does not ask that helper.
        assert_eq!(Credentials::from_docker_config(dir.path(), "quay.io").unwrap(), basic("q", "p"));
    }

    #[test]
    fn challenges_are_parsed_as_registries_send_them() {
        let hub = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:me/app:pull,push""#;
        assert_eq!(
            parse_challenge(hub),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:me/app:pull,push".into()),
            })
        );
        let bare = "bearer realm=https://r.example/t, error=insufficient_scope";
        assert_eq!(parse_challenge(bare), Some(Challenge::Bearer { realm: "https://r.example/t".into(), service: None, scope: None }));
        assert_eq!(parse_challenge(r#"Basic realm="basic-realm""#), Some(Challenge::Basic));
        // An unknown scheme first, then one warp answers; escapes inside quotes.
        assert_eq!(parse_challenge(r#"Negotiate, Basic realm="a \"quoted\", realm""#), Some(Challenge::Basic));
        let escaped = r#"Bearer realm="https://r.example/t?x=\"1\"",service="s""#;
        assert!(matches!(parse_challenge(escaped), Some(Challenge::Bearer { realm, .. }) if realm == r#"https://r.example/t?x="1""#));
        for none in ["", "Negotiate", "Bearer service=\"s\"", "Bearer realm=\"unterminated"] {
            let parsed = parse_challenge(none);
            assert!(parsed.is_none() || none.contains("unterminated"), "{none}: {parsed:?}");
        }
        assert!(matches!(parse_challenge("Bearer realm=\"unterminated"), Some(Challenge::Bearer { realm, .. }) if realm == "unterminated"));
    }

    #[test]
    fn token_answers_have_token_or_access_token() {
        let token = |json: &str| serde_json::from_str::<TokenAnswer>(json).unwrap().into_token();
        assert_eq!(token(r#"{"token":"a","access_token":"b"}"#).as_deref(), Some("a"));
        assert_eq!(token(r#"{"access_token":"b","expires_in":300}"#).as_deref(), Some("b"));
        assert_eq!(token(r#"{"token":""}"#), None);
    }
}
