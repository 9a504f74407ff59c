//! The image as a value: its config and manifest as OCI JSON, their digests, and its layers.
//!
//! The JSON is made from structs whose field order is fixed and from sorted maps, so the same
//! inputs give the same bytes, and so the same image ID (the config's digest).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::layer::Layer;
use super::{Digest, Epoch, APP_ROOT, APP_SRC, WARP_DIR};

/// Media type of the image config.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of the image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The label that holds the creation time.
pub const LABEL_CREATED: &str = "org.opencontainers.image.created";

/// What a container of the image runs as, and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// GOARCH's name for the CPU, e.g. `amd64`.
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// The user the container runs as.
    pub user: String,
    /// The working folder.
    pub working_dir: String,
    /// The command.
    pub cmd: Vec<String>,
    /// Ports the app listens on, e.g. `8080/tcp`.
    pub exposed_ports: Vec<String>,
    /// `KEY=VALUE` lines.
    pub env: Vec<String>,
    /// The signal that stops the container.
    pub stop_signal: String,
    /// Labels; [`Config::for_app`] adds [`LABEL_CREATED`] when the epoch was given.
    pub labels: BTreeMap<String, String>,
    /// The image's creation time.
    pub epoch: Epoch,
}

impl Config {
    /// The config of a warp app image: user 1001, the source as working folder, `warp start`
    /// on port 8080 with the venv first on PATH, stopped by SIGTERM.
    pub fn for_app(epoch: Epoch) -> Config {
        let mut labels = BTreeMap::new();
        // Only a time the user gave is stated as the creation time; the constant is not one.
        if epoch.given() {
            labels.insert(LABEL_CREATED.to_string(), epoch.rfc3339());
        }
        Config {
            architecture: go_arch(std::env::consts::ARCH).to_string(),
            os: "linux".to_string(),
            user: "1001".to_string(),
            working_dir: APP_SRC.to_string(),
            cmd: vec!["warp".to_string(), "start".to_string()],
            exposed_ports: vec!["8080/tcp".to_string()],
            env: vec![
                format!("PATH={APP_ROOT}/bin:{WARP_DIR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                format!("APP_ROOT={APP_ROOT}"),
                format!("HOME={APP_SRC}"),
                format!("{}={WARP_DIR}/lib/libwarp_server.so", crate::settings::var(crate::settings::Id::ServerModule)),
            ],
            stop_signal: "SIGTERM".to_string(),
            labels,
            epoch,
        }
    }
}

impl Config {
    /// Keep the variables of the base image's `base_env` that this config does not set
    /// (`LANG`, a `PYTHON_VERSION`), before its own.
    pub fn inherit_env(&mut self, base_env: &[String]) {
        let key = |line: &str| line.split('=').next().unwrap_or_default().to_string();
        let own: Vec<String> = self.env.iter().map(|line| key(line)).collect();
        let mut env: Vec<String> = base_env.iter().filter(|line| !own.contains(&key(line))).cloned().collect();
        env.append(&mut self.env);
        self.env = env;
    }
}

/// The name Go (and so OCI) gives a CPU architecture that Rust calls `arch`.
pub fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "arm" => "arm",
        other => other,
    }
}

/// One line of the image's history: what made a layer (or a config change).
///
/// The fields are in the order OCI lists them and Docker writes them, and empty ones are left
/// out, so a base image's lines read from its config are written back as they were (an
/// imported image's line has only `created` and `comment`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct History {
    /// RFC 3339 time.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// Who made the step, as the image's maker wrote it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// The step, e.g. `warp build`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    /// A note on the step, e.g. `Imported from -`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// True when the step made no layer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// A complete image, nowhere written yet: the bytes of its config and manifest, and where
/// its layers' blobs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    config: Vec<u8>,
    config_digest: Digest,
    manifest: Vec<u8>,
    manifest_digest: Digest,
    layers: Vec<Layer>,
}

impl Image {
    /// Assemble an image from its config and its layers, bottom first (a base image's
    /// layers as they came, then warp's), with its history: the base's lines, then one per
    /// layer warp added.
    pub fn new(config: &Config, layers: &[Layer], history: &[History]) -> Image {
        let layers = layers.to_vec();
        let config = json(&ConfigJson {
            created: config.epoch.rfc3339(),
            architecture: &config.architecture,
            os: &config.os,
            config: ContainerConfig {
                user: &config.user,
                exposed_ports: config.exposed_ports.iter().map(|p| (p.as_str(), Empty {})).collect(),
                env: &config.env,
                cmd: &config.cmd,
                working_dir: &config.working_dir,
                labels: &config.labels,
                stop_signal: &config.stop_signal,
            },
            rootfs: RootFs { kind: "layers", diff_ids: layers.iter().map(|l| l.diff_id).collect() },
            history,
        });
        let config_digest = Digest::of(&config);
        let manifest = json(&ManifestJson {
            schema_version: 2,
            media_type: MANIFEST_MEDIA_TYPE,
            config: Descriptor { media_type: CONFIG_MEDIA_TYPE, digest: config_digest, size: config.len() as u64 },
            layers: layers.iter().map(|l| Descriptor { media_type: &l.media_type, digest: l.digest, size: l.size }).collect(),
        });
        let manifest_digest = Digest::of(&manifest);
        Image { config, config_digest, manifest, manifest_digest, layers }
    }

    /// The config JSON.
    pub fn config(&self) -> &[u8] {
        &self.config
    }

    /// The config's digest, which Docker shows as the image ID.
    pub fn config_digest(&self) -> Digest {
        self.config_digest
    }

    /// The manifest JSON.
    pub fn manifest(&self) -> &[u8] {
        &self.manifest
    }

    /// The manifest's digest, by which registries and layouts name the image.
    pub fn manifest_digest(&self) -> Digest {
        self.manifest_digest
    }

    /// The layers, bottom first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
}

/// Serialise a value made only of structs, strings, numbers and string-keyed maps, which
/// serde_json always can.
fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("structs with string-keyed maps always serialise")
}

#[derive(Serialize)]
struct ConfigJson<'a> {
    created: String,
    architecture: &'a str,
    os: &'a str,
    config: ContainerConfig<'a>,
    rootfs: RootFs,
    history: &'a [History],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerConfig<'a> {
    user: &'a str,
    exposed_ports: BTreeMap<&'a str, Empty>,
    env: &'a [String],
    cmd: &'a [String],
    working_dir: &'a str,
    labels: &'a BTreeMap<String, String>,
    stop_signal: &'a str,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<Digest>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestJson<'a> {
    schema_version: u32,
    media_type: &'static str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
}

/// An OCI content descriptor.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor<'a> {
    pub media_type: &'a str,
    pub digest: Digest,
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn layer(n: u8) -> Layer {
        Layer {
            media_type: crate::image::layer::MEDIA_TYPE.to_string(),
            digest: Digest::of(&[n]),
            diff_id: Digest::of(&[n, n]),
            size: u64::from(n) * 10,
            path: PathBuf::from(format!("/blobs/{n}")),
        }
    }

    fn history(step: &str, empty_layer: bool) -> History {
        History { created: "1980-01-01T00:00:00Z".into(), created_by: step.into(), empty_layer, ..Default::default() }
    }

    #[test]
    fn a_base_images_history_line_is_written_back_as_it_was_read() {
        let lines = [
            r#"{"created":"2024-01-01T00:00:00Z","comment":"Imported from -"}"#,
            r#"{"created":"2024-01-01T00:00:00Z","author":"someone","created_by":"/bin/sh -c #(nop)  CMD [\"python3\"]","comment":"buildkit.dockerfile.v0","empty_layer":true}"#,
            r#"{"created_by":"COPY . /"}"#,
        ];
        for line in lines {
            let history: History = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_string(&history).unwrap(), line);
        }
    }

    #[test]
    fn config_json_has_the_app_settings_in_a_fixed_order() {
        let epoch = Epoch::parse(Some("1700000000")).unwrap();
        let mut config = Config::for_app(epoch);
        config.architecture = "amd64".into();
        let image = Image::new(&config, &[layer(1), layer(2)], &[history("step 1", false), history("step 2", false)]);
        let text = String::from_utf8(image.config().to_vec()).unwrap();
        let expected = concat!(
            r#"{"created":"2023-11-14T22:13:20Z","architecture":"amd64","os":"linux","config":{"User":"1001","#,
            r#""ExposedPorts":{"8080/tcp":{}},"Env":["PATH=/opt/app-root/bin:/opt/warp/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","#,
            r#""APP_ROOT=/opt/app-root","HOME=/opt/app-root/src","WARP_SERVER_MODULE=/opt/warp/lib/libwarp_server.so"],"#,
            r#""Cmd":["warp","start"],"WorkingDir":"/opt/app-root/src","#,
            r#""Labels":{"org.opencontainers.image.created":"2023-11-14T22:13:20Z"},"StopSignal":"SIGTERM"},"#,
            r#""rootfs":{"type":"layers","diff_ids":["#
        );
        assert!(text.starts_with(expected), "{text}");
        assert!(text.contains(&format!(r#""diff_ids":["{}","{}"]"#, Digest::of(&[1, 1]), Digest::of(&[2, 2]))), "{text}");
        assert!(text.ends_with(r#""history":[{"created":"1980-01-01T00:00:00Z","created_by":"step 1"},{"created":"1980-01-01T00:00:00Z","created_by":"step 2"}]}"#), "{text}");
        assert_eq!(image.config_digest(), Digest::of(image.config()));
    }

    #[test]
    fn the_base_env_is_kept_where_the_app_does_not_set_it() {
        let mut config = Config::for_app(Epoch::parse(None).unwrap());
        config.inherit_env(&["PATH=/usr/bin".into(), "LANG=C.UTF-8".into(), "HOME=/root".into(), "PYTHON_VERSION=3.12.1".into()]);
        let keys: Vec<&str> = config.env.iter().map(|l| l.split('=').next().unwrap()).collect();
        assert_eq!(keys, ["LANG", "PYTHON_VERSION", "PATH", "APP_ROOT", "HOME", "WARP_SERVER_MODULE"]);
        assert!(config.env.contains(&"HOME=/opt/app-root/src".to_string()));
    }

    #[test]
    fn created_label_only_from_source_date_epoch() {
        let config = Config::for_app(Epoch::parse(None).unwrap());
        assert!(config.labels.is_empty());
        let image = Image::new(&config, &[], &[]);
        let text = String::from_utf8(image.config().to_vec()).unwrap();
        assert!(text.starts_with(r#"{"created":"1980-01-01T00:00:00Z""#), "{text}");
        assert!(!text.contains(LABEL_CREATED), "{text}");
    }

    #[test]
    fn manifest_points_at_the_config_and_layers() {
        let lines = [history("ENV X=1", true), history("warp build", false)];
        let image = Image::new(&Config::for_app(Epoch::parse(None).unwrap()), &[layer(3)], &lines);
        let manifest: serde_json::Value = serde_json::from_slice(image.manifest()).unwrap();
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(manifest["config"]["digest"], image.config_digest().to_string());
        assert_eq!(manifest["config"]["size"], image.config().len());
        assert_eq!(manifest["layers"][0]["digest"], Digest::of(&[3]).to_string());
        assert_eq!(manifest["layers"][0]["size"], 30);
        assert_eq!(image.manifest_digest(), Digest::of(image.manifest()));
        let config: serde_json::Value = serde_json::from_slice(image.config()).unwrap();
        assert_eq!(config["history"][0]["empty_layer"], true);
        assert_eq!(config["history"][1].get("empty_layer"), None);
        // The same inputs give the same bytes.
        let again = Image::new(&Config::for_app(Epoch::parse(None).unwrap()), &[layer(3)], &lines);
        assert_eq!(again, image);
    }
}
