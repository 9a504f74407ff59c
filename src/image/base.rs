//! What warp takes from a base image the engine has: an app image is the base's layers, then
//! the layers warp writes itself.
//!
//! [`Base::config`] gives what every build needs: the base's environment, labels, platform,
//! the diff IDs of its layers and its history, to carry into the app image's config. It is
//! read from the engine's export of the image (`docker save`) once per image ID and kept in
//! warp's cache, so later builds on the same base ask the engine only for the ID. The export
//! is read as it streams in, and its layers are passed over unread.
//!
//! [`Base::layers`] gives, only when a build writes a whole image itself (an OCI layout, a
//! push to a registry), the base's layers as compressed blobs in the same blob folder as
//! warp's own layers ([`super::blob_folder`]). An export holds them either as plain tars
//! (the classic image store) or as the compressed blobs they were pulled as (the containerd
//! store); plain tars are compressed as warp compresses its own layers, compressed blobs are
//! kept as they are. Each layer is checked against the diff ID the config gives it, and
//! recorded by diff ID, so a second call reads nothing from the engine.
//!
//! The cache, under warp's cache folder: `image/bases/<id>.json` holds a base's config as the
//! engine stored it, `image/layers/<diff id>.json` the descriptor of a layer's blob, and
//! `image/blobs/<digest>` the blobs. Every file there is written under a temporary name and
//! renamed, so an interrupted run leaves nothing half-written.
//!
//! What this module does not do: pull an image (the engine must have it), or read layers
//! compressed with zstd (refused with an error that says so).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use super::digest::{HashingWriter, ParseDigestError};
use super::engine::{self, Engine, ExportEntry};
use super::layer::{CacheFile, Compressed, Compressing, Layer, MEDIA_TYPE};
use super::{Digest, History};

/// The largest file of an export that is kept in memory to be read once the export's
/// `manifest.json` (which comes last) has said what it is: configs are a few kilobytes.
const MAX_KEPT: u64 = 16 << 20;
/// How much of each file of an export is read to tell a layer from the rest: a tar's first
/// header.
const HEAD: usize = 512;

/// What can go wrong reading a base image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine was not reached, or refused a request.
    #[error(transparent)]
    Engine(#[from] engine::Error),
    /// A file of warp's cache could not be read or written.
    #[error(transparent)]
    Cache(#[from] super::Error),
    /// The engine has no image by that name.
    #[error("the engine has no image {0}; pull or build it first (e.g. `docker pull {0}`)")]
    Missing(String),
    /// The engine names the image by something that is not a sha256 digest.
    #[error("the engine's ID of {image} is not a sha256 digest")]
    Id {
        /// The image asked for.
        image: String,
        /// Why the ID was refused.
        #[source]
        source: ParseDigestError,
    },
    /// A file in warp's cache is not what warp writes there.
    #[error("{} is not what warp keeps there; remove it so it is made again", path.display())]
    Cached {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: serde_json::Error,
    },
    /// The export lacks what `docker save` always writes, or holds something else.
    #[error("the engine's export of {image} is not as `docker save` writes it: {problem}; see the engine's log")]
    Export {
        /// The image exported.
        image: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The export's image config could not be read.
    #[error("the config of {image} in the engine's export is not an image config")]
    Config {
        /// The image exported.
        image: String,
        /// Why it could not be read.
        #[source]
        source: serde_json::Error,
    },
    /// A layer could not be read from the export, or its blob not written.
    #[error("cannot take the layer {} of {image} from the engine's export", entry.display())]
    Layer {
        /// The image exported.
        image: String,
        /// The layer's file in the export.
        entry: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// A layer is compressed with zstd, which warp does not read.
    #[error("the layer {} of {image} is compressed with zstd, which warp cannot read yet; use a base image whose layers are gzip-compressed", entry.display())]
    Zstd {
        /// The image exported.
        image: String,
        /// The layer's file in the export.
        entry: PathBuf,
    },
    /// A layer's content is not the one the image's config names.
    #[error("layer {index} of {image} has the diff ID {actual} where its config says {expected}; the engine's copy of the image is damaged: remove it and pull it again")]
    DiffId {
        /// The image exported.
        image: String,
        /// The layer's place, from 0 at the bottom.
        index: usize,
        /// What the config says.
        expected: Digest,
        /// What the layer's tar hashes to.
        actual: Digest,
    },
}

/// Results of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// A base image: its ID and the parts of its config warp uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// The engine's ID of the image, `sha256:...`.
    pub id: String,
    /// Its config.
    pub config: BaseConfig,
}

/// What a base image's config says that warp carries into the app image, or shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseConfig {
    /// `KEY=VALUE` lines.
    pub env: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The user its containers run as (empty: root).
    pub user: String,
    /// Its working folder.
    pub working_dir: String,
    /// Its entrypoint.
    pub entrypoint: Vec<String>,
    /// Its command.
    pub cmd: Vec<String>,
    /// GOARCH's name for the CPU, e.g. `amd64`.
    pub architecture: String,
    /// e.g. `linux`.
    pub os: String,
    /// The diff IDs of its layers, bottom first.
    pub diff_ids: Vec<Digest>,
    /// Its history, line by line as its config has it.
    pub history: Vec<History>,
}

impl Base {
    /// The base image `image` (a name or an ID) of the engine: its ID from the engine, its
    /// config from warp's cache `cache` when there, else from one export of the image, after
    /// which it is kept there.
    pub fn config(engine: &Engine, image: &str, cache: &Path) -> Result<Base> {
        let info = engine.inspect(image)?.ok_or_else(|| Error::Missing(image.to_string()))?;
        let id: Digest = info.id.parse().map_err(|source| Error::Id { image: image.to_string(), source })?;
        let folder = cache.join("image").join("bases");
        let name = format!("{}.json", id.hex());
        let path = folder.join(&name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let config = BaseConfig::parse(&bytes).map_err(|source| Error::Cached { path, source })?;
                return Ok(Base { id: info.id, config });
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(super::Error::Read { path, source }.into()),
        }
        // By ID, so the export is the image inspected even if the name moves meanwhile.
        let exported = export(engine, &info.id, None, None)?;
        store(&folder, &name, &exported.config_json)?;
        Ok(Base { id: info.id, config: exported.config })
    }

    /// The base's layers as blobs in the blob folder of warp's cache `cache`, bottom first:
    /// from the cache when every one is there, else from one export of the image. A layer
    /// the engine gives as a plain tar is kept as `compression` says.
    pub fn layers(&self, engine: &Engine, cache: &Path, compression: Compression) -> Result<Vec<Layer>> {
        let records = cache.join("image").join(match compression {
            Compression::Gzip => "layers",
            Compression::None => "layers-tar",
        });
        let blobs = super::blob_folder(cache);
        let cached =
            self.config.diff_ids.iter().map(|diff_id| cached_layer(&records, &blobs, diff_id)).collect::<Result<Option<Vec<_>>>>()?;
        if let Some(layers) = cached {
            return Ok(layers);
        }
        let exported = export(engine, &self.id, Some((&blobs, compression)), Some(&self.config.diff_ids))?;
        for layer in &exported.layers {
            let record = LayerRecord { media_type: layer.media_type.clone(), digest: layer.digest, size: layer.size };
            let json = serde_json::to_vec(&record).expect("a struct of strings and numbers always serialises");
            store(&records, &format!("{}.json", layer.diff_id.hex()), &json)?;
        }
        Ok(exported.layers)
    }

    /// The base's layers as records of what the engine holds, with no blob behind them:
    /// for loading into an engine with the classic image store, which finds layers it has by
    /// their diff IDs and reads no file for them.
    pub fn held_layers(&self) -> Vec<Layer> {
        let record = |diff_id: &Digest| Layer {
            media_type: TAR_MEDIA_TYPE.to_string(),
            digest: *diff_id,
            diff_id: *diff_id,
            size: 0,
            path: PathBuf::new(),
        };
        self.config.diff_ids.iter().map(record).collect()
    }
}

impl BaseConfig {
    /// Read an image config (the JSON `docker save` writes and OCI's config blob) for what
    /// warp uses of it; what a config leaves out or sets to null is empty.
    fn parse(json: &[u8]) -> serde_json::Result<BaseConfig> {
        let file: ConfigFile = serde_json::from_slice(json)?;
        let config = file.config.unwrap_or_default();
        Ok(BaseConfig {
            env: config.env.unwrap_or_default(),
            labels: config.labels.unwrap_or_default(),
            user: config.user.unwrap_or_default(),
            working_dir: config.working_dir.unwrap_or_default(),
            entrypoint: config.entrypoint.unwrap_or_default(),
            cmd: config.cmd.unwrap_or_default(),
            architecture: file.architecture.unwrap_or_default(),
            os: file.os.unwrap_or_default(),
            diff_ids: file.rootfs.diff_ids.unwrap_or_default(),
            history: file.history.unwrap_or_default(),
        })
    }
}

/// An image config as engines write it, for what warp reads of it.
#[derive(Deserialize)]
struct ConfigFile {
    architecture: Option<String>,
    os: Option<String>,
    config: Option<ContainerConfigFile>,
    rootfs: RootFsFile,
    history: Option<Vec<History>>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerConfigFile {
    env: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
    user: Option<String>,
    working_dir: Option<String>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RootFsFile {
    diff_ids: Option<Vec<Digest>>,
}

/// One image of an export's `manifest.json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    /// The config's file in the export.
    config: String,
    /// The layers' files, bottom first.
    layers: Vec<String>,
}

/// What the cache records of a layer's blob, under the layer's diff ID.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LayerRecord {
    media_type: String,
    digest: Digest,
    size: u64,
}

/// The layer of diff ID `diff_id` from the cache, when its record and its whole blob are there.
fn cached_layer(records: &Path, blobs: &Path, diff_id: &Digest) -> Result<Option<Layer>> {
    let path = records.join(format!("{}.json", diff_id.hex()));
    let json = match std::fs::read(&path) {
        Ok(json) => json,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(super::Error::Read { path, source }.into()),
    };
    let record: LayerRecord = serde_json::from_slice(&json).map_err(|source| Error::Cached { path, source })?;
    let blob = blobs.join(record.digest.hex());
    // A blob removed or cut short since is made again; its content is checked by digest
    // when an image that uses it is written.
    match blob.metadata() {
        Ok(meta) if meta.len() == record.size => {}
        _ => return Ok(None),
    }
    Ok(Some(Layer { media_type: record.media_type, digest: record.digest, diff_id: *diff_id, size: record.size, path: blob }))
}

/// Write `bytes` to `folder/name` through a temporary file.
fn store(folder: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let mut file = CacheFile::create(folder)?;
    file.write_all(bytes).map_err(|source| super::Error::Write { path: folder.join(name), source })?;
    file.persist(name)?;
    Ok(())
}

/// The media type of a layer kept as a plain tar.
pub const TAR_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// How a base layer that the engine gives as a plain tar (the classic image store does) is
/// kept. The image's ID is the same either way: its config names layers by their tar's digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// As it is: no time spent compressing, for the engine and for layouts on this machine.
    None,
    /// gzip with warp's pinned settings: for registries, where it is sent over the network.
    Gzip,
}

/// What one export gave.
struct Exported {
    /// The config as the engine stored it.
    config_json: Vec<u8>,
    /// What warp uses of it.
    config: BaseConfig,
    /// The layers, bottom first, when they were asked for.
    layers: Vec<Layer>,
}

/// Export `image` from the engine and read it: its config, and its layers into the folder
/// `blobs` when one is given, each checked against `diff_ids` (else the export's config's).
fn export(engine: &Engine, image: &str, blobs: Option<(&Path, Compression)>, diff_ids: Option<&[Digest]>) -> Result<Exported> {
    let mut reading = Reading::new(image, blobs);
    engine.export(image, |entry| reading.entry(entry))?;
    reading.finish(diff_ids)
}

/// What a file of an export is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A gzip-compressed layer.
    Gzip,
    /// A zstd-compressed layer.
    Zstd,
    /// A layer as a plain tar: a first header with the ustar magic, or the zero block an
    /// empty tar begins with.
    Tar,
    /// Anything else: a config, a manifest, an index.
    Other,
}

impl Kind {
    fn of(head: &[u8]) -> Kind {
        if head.starts_with(&[0x1f, 0x8b]) {
            Kind::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Kind::Zstd
        } else if head.len() == HEAD && (&head[257..262] == b"ustar" || head.iter().all(|&b| b == 0)) {
            Kind::Tar
        } else {
            Kind::Other
        }
    }
}

/// An export being read entry by entry. Its `manifest.json`, which says which file is the
/// config and which are the layers, comes last, so every layer is taken as it comes (when
/// layers are wanted) and small files are kept until then.
struct Reading<'a> {
    image: &'a str,
    /// Where layers go and how a plain tar is kept; `None`: they are passed over.
    blobs: Option<(&'a Path, Compression)>,
    /// Small files that are not layers, by path.
    kept: HashMap<PathBuf, Vec<u8>>,
    /// The layers taken, by path.
    layers: HashMap<PathBuf, Layer>,
    /// Links, by path, to the path they point at.
    links: HashMap<PathBuf, PathBuf>,
}

impl<'a> Reading<'a> {
    fn new(image: &'a str, blobs: Option<(&'a Path, Compression)>) -> Self {
        Reading { image, blobs, kept: HashMap::new(), layers: HashMap::new(), links: HashMap::new() }
    }

    /// Take one file of the export.
    fn entry(&mut self, entry: ExportEntry<'_>) -> Result<()> {
        if let Some(link) = entry.link {
            self.links.insert(entry.path.to_path_buf(), link.to_path_buf());
            return Ok(());
        }
        let layer_error = |source| Error::Layer { image: self.image.to_string(), entry: entry.path.to_path_buf(), source };
        let mut head = Vec::with_capacity(HEAD);
        entry.content.take(HEAD as u64).read_to_end(&mut head).map_err(layer_error)?;
        let kind = Kind::of(&head);
        match (kind, self.blobs) {
            (Kind::Other, _) => {
                let mut content = head;
                entry.content.take(MAX_KEPT + 1 - content.len() as u64).read_to_end(&mut content).map_err(layer_error)?;
                // A larger file is none that warp reads; what is left of it is passed over.
                if content.len() as u64 <= MAX_KEPT {
                    self.kept.insert(entry.path.to_path_buf(), content);
                }
            }
            (Kind::Zstd, Some(_)) => return Err(Error::Zstd { image: self.image.to_string(), entry: entry.path.to_path_buf() }),
            (Kind::Gzip | Kind::Tar, Some((blobs, compression))) => {
                let blob = CacheFile::create(blobs)?;
                let mut content = head.as_slice().chain(entry.content);
                let (taken, media_type) = match (kind, compression) {
                    (Kind::Gzip, _) => (keep_gzip(&mut content, blob), MEDIA_TYPE),
                    (_, Compression::Gzip) => (compress_tar(&mut content, blob), MEDIA_TYPE),
                    (_, Compression::None) => (keep_tar(&mut content, blob), TAR_MEDIA_TYPE),
                };
                let (blob, compressed) = taken.map_err(layer_error)?;
                let path = blob.persist(&compressed.digest.hex())?;
                let layer = Layer {
                    media_type: media_type.to_string(),
                    digest: compressed.digest,
                    diff_id: compressed.diff_id,
                    size: compressed.size,
                    path,
                };
                self.layers.insert(entry.path.to_path_buf(), layer);
            }
            // Layers are not wanted: the export reader passes over the rest.
            (Kind::Gzip | Kind::Zstd | Kind::Tar, None) => {}
        }
        Ok(())
    }

    /// The config, and the layers in `manifest.json`'s order, each checked against
    /// `diff_ids` (else the config's).
    fn finish(mut self, diff_ids: Option<&[Digest]>) -> Result<Exported> {
        let image = self.image;
        let problem = |problem: String| Error::Export { image: image.to_string(), problem };
        let manifest = self.kept.remove(Path::new("manifest.json")).ok_or_else(|| problem("it has no manifest.json".into()))?;
        let entries: Vec<ManifestEntry> =
            serde_json::from_slice(&manifest).map_err(|err| problem(format!("its manifest.json cannot be read ({err})")))?;
        let entry = entries.into_iter().next().ok_or_else(|| problem("its manifest.json lists no image".into()))?;
        let config_json =
            self.kept.remove(Path::new(&entry.config)).ok_or_else(|| problem(format!("it has no config {}", entry.config)))?;
        let config = BaseConfig::parse(&config_json).map_err(|source| Error::Config { image: image.to_string(), source })?;
        let mut layers = Vec::new();
        if self.blobs.is_some() {
            let expected = diff_ids.unwrap_or(&config.diff_ids);
            if entry.layers.len() != expected.len() {
                return Err(problem(format!("it has {} layers where the config has {}", entry.layers.len(), expected.len())));
            }
            for (index, (name, expected)) in entry.layers.iter().zip(expected).enumerate() {
                let layer =
                    self.layer(Path::new(name)).ok_or_else(|| problem(format!("its layer {name} is not a tar, gzip or zstd file")))?;
                if layer.diff_id != *expected {
                    return Err(Error::DiffId { image: image.to_string(), index, expected: *expected, actual: layer.diff_id });
                }
                layers.push(layer.clone());
            }
        }
        Ok(Exported { config_json, config, layers })
    }

    /// The layer taken from `path`, or from the file a link there points at.
    fn layer(&self, path: &Path) -> Option<&Layer> {
        let mut path = path;
        // A few links deep at most: `docker save` links to the first copy only.
        for _ in 0..8 {
            match self.links.get(path) {
                Some(target) => path = target,
                None => return self.layers.get(path),
            }
        }
        None
    }
}

/// Copy a gzip blob as it is, hashing it and the tar it holds.
fn keep_gzip(content: &mut dyn Read, blob: CacheFile) -> io::Result<(CacheFile, Compressed)> {
    let mut tee = Tee { reader: content, writer: HashingWriter::new(blob) };
    let mut tar = HashingWriter::new(io::sink());
    io::copy(&mut MultiGzDecoder::new(&mut tee), &mut tar)?;
    // Whatever follows the gzip stream is part of the blob all the same.
    io::copy(&mut tee, &mut io::sink())?;
    let (_, diff_id, _) = tar.finish();
    let (blob, digest, size) = tee.writer.finish();
    Ok((blob, Compressed { digest, diff_id, size }))
}

/// Copy a plain tar as it is: its digest is its diff ID.
fn keep_tar(content: &mut dyn Read, blob: CacheFile) -> io::Result<(CacheFile, Compressed)> {
    let mut hashing = HashingWriter::new(blob);
    io::copy(content, &mut hashing)?;
    let (blob, digest, size) = hashing.finish();
    Ok((blob, Compressed { digest, diff_id: digest, size }))
}

/// Compress a plain tar with warp's pinned settings.
fn compress_tar(content: &mut dyn Read, blob: CacheFile) -> io::Result<(CacheFile, Compressed)> {
    let mut compressing = Compressing::new(blob);
    io::copy(content, &mut compressing)?;
    compressing.finish()
}

/// Reads from `reader`, writing what it reads to `writer` too.
struct Tee<'a, W> {
    reader: &'a mut dyn Read,
    writer: W,
}

impl<W: Write> Read for Tee<'_, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.writer.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use flate2::write::GzEncoder;

    use super::*;
    use crate::image::engine::{read_entries, ReadEnd};

    /// One file of a made-up export.
    enum Item<'a> {
        File(&'a str, Vec<u8>),
        Symlink(&'a str, &'a str),
    }

    /// A layer's tar holding `files`.
    fn layer_tar(files: &[(&str, &str)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, content) in files {
            let mut header = tar::Header::new_ustar();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, name, content.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap()
    }

    fn export_tar(items: &[Item]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for item in items {
            let mut header = tar::Header::new_gnu();
            match item {
                Item::File(name, content) => {
                    header.set_size(content.len() as u64);
                    tar.append_data(&mut header, name, content.as_slice()).unwrap();
                }
                Item::Symlink(name, target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    tar.append_link(&mut header, name, target).unwrap();
                }
            }
        }
        tar.into_inner().unwrap()
    }

    /// An image config with these diff IDs, as Docker writes one for `docker import`.
    fn config_json(diff_ids: &[Digest]) -> Vec<u8> {
        let ids: Vec<String> = diff_ids.iter().map(|d| format!("\"{d}\"")).collect();
        format!(
            concat!(
                r#"{{"architecture":"amd64","comment":"Imported from -","config":{{"Hostname":"","User":"","Env":["PATH=/usr/bin:/bin","LANG=C.UTF-8"],"#,
                r#""Cmd":["python3"],"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}},"#,
                r#""created":"2024-05-01T10:00:00.5Z","docker_version":"20.10.24","history":[{{"created":"2024-05-01T10:00:00.5Z","comment":"Imported from -"}}],"#,
                r#""os":"linux","rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#
            ),
            ids.join(",")
        )
        .into_bytes()
    }

    fn manifest(config: &str, layers: &[&str]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!([{"Config": config, "RepoTags": null, "Layers": layers}])).unwrap()
    }

    /// Read `export` as [`Base`] reads the engine's.
    fn read(export: &[u8], blobs: Option<&Path>, diff_ids: Option<&[Digest]>) -> Result<Exported> {
        let mut reading = Reading::new("base:1", blobs.map(|dir| (dir, Compression::Gzip)));
        match read_entries(export, &mut |entry| reading.entry(entry)) {
            Ok(()) => {}
            Err(ReadEnd::Entry(err)) => return Err(err),
            Err(ReadEnd::Archive(err)) => panic!("{err}"),
        }
        reading.finish(diff_ids)
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut tar = Vec::new();
        MultiGzDecoder::new(bytes).read_to_end(&mut tar).unwrap();
        tar
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_files_kind_is_told_by_its_first_bytes() {
        let tar = layer_tar(&[("etc/hostname", "base\n")]);
        assert_eq!(Kind::of(&tar[..HEAD]), Kind::Tar);
        assert_eq!(Kind::of(&[0; HEAD]), Kind::Tar, "an empty layer is a tar of zero blocks");
        let mut gzip = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&tar).unwrap();
        assert_eq!(Kind::of(&gzip.finish().unwrap()[..10]), Kind::Gzip);
        assert_eq!(Kind::of(&[0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58]), Kind::Zstd);
        assert_eq!(Kind::of(&config_json(&[])), Kind::Other);
        assert_eq!(Kind::of(b"1.0"), Kind::Other);
        assert_eq!(Kind::of(&[0; 100]), Kind::Other, "too short to be a tar");
    }

    #[test]
    fn a_config_gives_what_warp_uses_with_nulls_as_empty_and_its_history_as_it_was() {
        let diff_id = Digest::of(b"layer");
        let config = BaseConfig::parse(&config_json(&[diff_id])).unwrap();
        assert_eq!(config.env, ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"]);
        assert_eq!(config.cmd, ["python3"]);
        assert!(config.entrypoint.is_empty() && config.labels.is_empty() && config.user.is_empty());
        assert_eq!((config.architecture.as_str(), config.os.as_str()), ("amd64", "linux"));
        assert_eq!(config.diff_ids, [diff_id]);
        let history = serde_json::to_string(&config.history).unwrap();
        assert_eq!(history, r#"[{"created":"2024-05-01T10:00:00.5Z","comment":"Imported from -"}]"#);

        let built = br#"{"architecture":"arm64","os":"linux","config":{"User":"1001","WorkingDir":"/opt/app-root/src",
            "Entrypoint":["/usr/bin/tini","--"],"Labels":{"b":"2","a":"1"}},"rootfs":{"type":"layers","diff_ids":[]},
            "history":[{"created":"2024-01-01T00:00:00Z","author":"me","created_by":"RUN x","comment":"buildkit.dockerfile.v0"},
            {"created":"2024-01-01T00:00:00Z","created_by":"ENV A=1","empty_layer":true}]}"#;
        let config = BaseConfig::parse(built).unwrap();
        assert_eq!((config.user.as_str(), config.working_dir.as_str()), ("1001", "/opt/app-root/src"));
        assert_eq!(config.entrypoint, ["/usr/bin/tini", "--"]);
        assert_eq!(config.labels.into_iter().collect::<Vec<_>>(), [("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert!(config.env.is_empty() && config.cmd.is_empty() && config.diff_ids.is_empty());
        let history = serde_json::to_string(&config.history).unwrap();
        assert_eq!(
            history,
            concat!(
                r#"[{"created":"2024-01-01T00:00:00Z","author":"me","created_by":"RUN x","comment":"buildkit.dockerfile.v0"},"#,
                r#"{"created":"2024-01-01T00:00:00Z","created_by":"ENV A=1","empty_layer":true}]"#
            )
        );
        assert!(BaseConfig::parse(br#"{"architecture":"amd64"}"#).is_err(), "a config without rootfs is none");
    }

    #[test]
    fn a_classic_export_gives_its_config_and_its_tars_compressed_as_warp_compresses() {
        let tar = layer_tar(&[("etc/hostname", "base\n"), ("usr/bin/tool", "#!/bin/sh\n")]);
        let diff_id = Digest::of(&tar);
        let config = config_json(&[diff_id, diff_id]);
        // As Docker 20.10 saves an image that holds one layer twice: the second is a link.
        let export = export_tar(&[
            Item::File("aaa/VERSION", b"1.0".to_vec()),
            Item::File("aaa/json", b"{}".to_vec()),
            Item::File("aaa/layer.tar", tar.clone()),
            Item::Symlink("bbb/layer.tar", "../aaa/layer.tar"),
            Item::File("ccc.json", config.clone()),
            Item::File("manifest.json", manifest("ccc.json", &["aaa/layer.tar", "bbb/layer.tar"])),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs");
        let exported = read(&export, Some(&blobs), None).unwrap();
        assert_eq!(exported.config_json, config);
        assert_eq!(exported.config.diff_ids, [diff_id, diff_id]);
        assert_eq!(exported.layers.len(), 2);
        assert_eq!(exported.layers[0], exported.layers[1]);

        let layer = &exported.layers[0];
        let blob = std::fs::read(&layer.path).unwrap();
        let mut expected = Compressing::new(Vec::new());
        expected.write_all(&tar).unwrap();
        let (expected, compressed) = expected.finish().unwrap();
        assert!(blob == expected, "not compressed with warp's pinned settings");
        assert_eq!((layer.digest, layer.diff_id, layer.size), (compressed.digest, diff_id, blob.len() as u64));
        assert_eq!(layer.path, blobs.join(Digest::of(&blob).hex()));
        assert_eq!(layer.media_type, MEDIA_TYPE);
        assert_eq!(gunzip(&blob), tar);
        assert_eq!(names(&blobs), [layer.digest.hex()], "one blob, nothing temporary left");
    }

    #[test]
    fn a_containerd_export_keeps_its_gzip_blobs_as_they_are() {
        let tar = layer_tar(&[("app.py", "print('hi')\n")]);
        // Compressed otherwise than warp does, as a registry's blob may be.
        let mut gzip = GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(&tar).unwrap();
        let gzip = gzip.finish().unwrap();
        let config = config_json(&[Digest::of(&tar)]);
        let layer_name = format!("blobs/sha256/{}", Digest::of(&gzip).hex());
        let config_name = format!("blobs/sha256/{}", Digest::of(&config).hex());
        let export = export_tar(&[
            Item::File(&config_name, config.clone()),
            Item::File(&layer_name, gzip.clone()),
            Item::File("index.json", br#"{"schemaVersion":2,"manifests":[]}"#.to_vec()),
            Item::File("manifest.json", manifest(&config_name, &[&layer_name])),
            Item::File("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let exported = read(&export, Some(dir.path()), None).unwrap();
        assert_eq!(exported.config_json, config);
        let layer = &exported.layers[0];
        assert_eq!((layer.digest, layer.diff_id, layer.size), (Digest::of(&gzip), Digest::of(&tar), gzip.len() as u64));
        assert!(std::fs::read(&layer.path).unwrap() == gzip, "the blob was not kept as it was");
    }

    #[test]
    fn without_blobs_only_the_config_is_read_and_layers_are_passed_over() {
        let tar = layer_tar(&[("etc/hostname", "base\n")]);
        let zstd = vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0];
        let config = config_json(&[Digest::of(&tar), Digest::of(&zstd)]);
        let export = export_tar(&[
            Item::File("aaa/layer.tar", tar),
            Item::File("bbb/layer.tar", zstd),
            Item::File("ccc.json", config.clone()),
            Item::File("manifest.json", manifest("ccc.json", &["aaa/layer.tar", "bbb/layer.tar"])),
        ]);
        let exported = read(&export, None, None).unwrap();
        assert_eq!(exported.config_json, config);
        assert!(exported.layers.is_empty());

        // The zstd layer is refused once layers are wanted, and says which it is.
        let dir = tempfile::tempdir().unwrap();
        let err = read(&export, Some(dir.path()), None).err().unwrap();
        assert!(matches!(&err, Error::Zstd { entry, .. } if entry == Path::new("bbb/layer.tar")), "{err:?}");
        assert!(err.to_string().contains("zstd") && err.to_string().contains("gzip"), "{err}");
    }

    #[test]
    fn a_layer_that_is_not_the_configs_is_refused() {
        let tar = layer_tar(&[("etc/hostname", "base\n")]);
        let config = config_json(&[Digest::of(b"another layer")]);
        let export = export_tar(&[
            Item::File("aaa/layer.tar", tar.clone()),
            Item::File("ccc.json", config),
            Item::File("manifest.json", manifest("ccc.json", &["aaa/layer.tar"])),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let err = read(&export, Some(dir.path()), None).err().unwrap();
        assert!(
            matches!(err, Error::DiffId { index: 0, expected, actual, .. } if expected == Digest::of(b"another layer") && actual == Digest::of(&tar)),
            "{err:?}"
        );
        // Checked against the diff IDs given, when given.
        let given = [Digest::of(&tar)];
        assert_eq!(read(&export, Some(dir.path()), Some(&given)).unwrap().layers[0].diff_id, given[0]);
        let err = read(&export, Some(dir.path()), Some(&[given[0], given[0]])).err().unwrap();
        assert!(err.to_string().contains("1 layers where the config has 2"), "{err}");
    }

    #[test]
    fn an_export_without_its_manifest_or_config_is_refused() {
        let config = config_json(&[]);
        let cases = [
            (vec![Item::File("ccc.json", config.clone())], "no manifest.json"),
            (vec![Item::File("manifest.json", manifest("ccc.json", &[]))], "no config ccc.json"),
            (vec![Item::File("manifest.json", b"[]".to_vec())], "lists no image"),
            (vec![Item::File("manifest.json", b"{".to_vec())], "cannot be read"),
        ];
        for (items, problem) in cases {
            let err = read(&export_tar(&items), None, None).err().unwrap();
            assert!(matches!(err, Error::Export { .. }) && err.to_string().contains(problem), "{err}");
        }
        let items = [Item::File("ccc.json", b"{}".to_vec()), Item::File("manifest.json", manifest("ccc.json", &[]))];
        let err = read(&export_tar(&items), None, None).err().unwrap();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
    }

    #[test]
    fn a_cached_layer_is_used_only_while_its_whole_blob_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let (records, blobs) = (dir.path().join("layers"), dir.path().join("blobs"));
        let diff_id = Digest::of(b"tar");
        assert_eq!(cached_layer(&records, &blobs, &diff_id).unwrap(), None);

        let blob = b"gzip bytes";
        let record = LayerRecord { media_type: MEDIA_TYPE.into(), digest: Digest::of(blob), size: blob.len() as u64 };
        let json = serde_json::to_vec(&record).unwrap();
        assert_eq!(
            String::from_utf8(json.clone()).unwrap(),
            format!(r#"{{"mediaType":"{MEDIA_TYPE}","digest":"{}","size":10}}"#, Digest::of(blob))
        );
        store(&records, &format!("{}.json", diff_id.hex()), &json).unwrap();
        assert_eq!(cached_layer(&records, &blobs, &diff_id).unwrap(), None, "the blob is missing");
        store(&blobs, &Digest::of(blob).hex(), b"gzip").unwrap();
        assert_eq!(cached_layer(&records, &blobs, &diff_id).unwrap(), None, "the blob is short");
        store(&blobs, &Digest::of(blob).hex(), blob).unwrap();
        let layer = cached_layer(&records, &blobs, &diff_id).unwrap().unwrap();
        assert_eq!((layer.digest, layer.diff_id, layer.size), (Digest::of(blob), diff_id, 10));
        assert_eq!(layer.path, blobs.join(Digest::of(blob).hex()));
        assert_eq!(names(&records), [format!("{}.json", diff_id.hex())], "nothing temporary left");

        std::fs::write(records.join(format!("{}.json", diff_id.hex())), "{").unwrap();
        let err = cached_layer(&records, &blobs, &diff_id).unwrap_err();
        assert!(matches!(err, Error::Cached { .. }) && err.to_string().contains("remove it"), "{err}");
    }

    #[test]
    fn a_plain_tar_kept_as_it_is_is_named_by_its_diff_id() {
        let dir = tempfile::tempdir().unwrap();
        let layer = layer_tar(&[("hello.txt", "hello\n")]);
        let export = export_tar(&[
            Item::File("layer.tar", layer.clone()),
            Item::File("config.json", config_json(&[Digest::of(&layer)])),
            Item::File("manifest.json", manifest("config.json", &["layer.tar"])),
        ]);
        let mut reading = Reading::new("base:1", Some((dir.path(), Compression::None)));
        assert!(read_entries(export.as_slice(), &mut |entry| reading.entry(entry)).is_ok());
        let exported = reading.finish(None).unwrap();
        let kept = &exported.layers[0];
        assert_eq!((kept.digest, kept.diff_id, kept.size), (Digest::of(&layer), Digest::of(&layer), layer.len() as u64));
        assert_eq!(kept.media_type, TAR_MEDIA_TYPE);
        assert_eq!(std::fs::read(&kept.path).unwrap(), layer);
    }
}
