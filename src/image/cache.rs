//! warp's image cache, a folder in warp's cache: layer blobs named by their digest, records
//! that name the layer made for a key (the dependency layer for a set of dependency inputs,
//! warp's own layer for a warp executable), and digests of large files by their metadata.
//!
//! A record is written only after its blob is complete, each through a temporary file and a
//! rename, so an interrupted build leaves the cache as it was or with a complete entry more.
//! A record whose blob is gone or has another size is a miss, not an error.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::layer::{CacheFile, Layer};
use super::{Digest, Error, Result};

/// The start of a scratch folder's name; the pid of the process that made it follows.
const SCRATCH: &str = ".build-";

/// The image cache inside warp's cache folder.
pub struct Cache {
    root: PathBuf,
}

/// A record's content: the layer without where its blob is, which follows from its digest.
#[derive(Serialize, Deserialize)]
struct Record {
    media_type: String,
    digest: Digest,
    diff_id: Digest,
    size: u64,
}

/// The kinds of record, each a folder of its own.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// The dependency layer, by the digest of the dependency inputs.
    Dependencies,
    /// warp's own layer, by the digest of its files.
    Warp,
    /// The dependency layer of `warp s2i build` on warp's builder, by the same digest.
    S2iDependencies,
}

impl Kind {
    fn folder(self) -> &'static str {
        match self {
            Kind::Dependencies => "dependencies",
            Kind::Warp => "warp",
            Kind::S2iDependencies => "s2i-dependencies",
        }
    }
}

impl Cache {
    /// The image cache of warp's cache folder `warp_cache`.
    pub fn new(warp_cache: &Path) -> Cache {
        Cache { root: warp_cache.join("image") }
    }

    /// Where blobs are kept, named by the hex of their digest.
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// A folder for one build's temporary files, removed when dropped. It is inside the
    /// cache so that what is moved from it into the cache is a rename on one file system.
    /// Its name holds this process's pid, so that the folders of builds that were killed
    /// (and so never dropped theirs) are found and removed here.
    pub fn scratch(&self) -> Result<tempfile::TempDir> {
        let write_error = |source| Error::Write { path: self.root.clone(), source };
        std::fs::create_dir_all(&self.root).map_err(write_error)?;
        self.remove_abandoned_scratch();
        tempfile::Builder::new().prefix(&format!("{SCRATCH}{}-", std::process::id())).tempdir_in(&self.root).map_err(write_error)
    }

    /// Remove the scratch folders of processes that are gone.
    fn remove_abandoned_scratch(&self) {
        let Ok(entries) = std::fs::read_dir(&self.root) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix(SCRATCH).and_then(|rest| rest.split('-').next()).and_then(|pid| pid.parse::<i32>().ok());
            let gone =
                pid.is_some_and(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH));
            if gone {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// The layer recorded for `key`, when its blob is still there.
    pub fn layer(&self, kind: Kind, key: &Digest) -> Option<Layer> {
        let text = std::fs::read(self.record_path(kind, key)).ok()?;
        let record: Record = serde_json::from_slice(&text).ok()?;
        let path = self.blobs().join(record.digest.hex());
        let size = std::fs::metadata(&path).ok()?.len();
        (size == record.size).then_some(Layer {
            media_type: record.media_type,
            digest: record.digest,
            diff_id: record.diff_id,
            size: record.size,
            path,
        })
    }

    /// Record `layer`, whose blob is in [`Cache::blobs`], as the one for `key`.
    pub fn remember(&self, kind: Kind, key: &Digest, layer: &Layer) -> Result<()> {
        let record = Record { media_type: layer.media_type.clone(), digest: layer.digest, diff_id: layer.diff_id, size: layer.size };
        let bytes = serde_json::to_vec(&record).expect("a record always serialises");
        write_atomically(&self.record_path(kind, key), &bytes)
    }

    fn record_path(&self, kind: Kind, key: &Digest) -> PathBuf {
        self.root.join(kind.folder()).join(format!("{}.json", key.hex()))
    }

    /// The sha256 of the file at `path`, read again only when its size, mtime, inode or
    /// device changed since it was last read: warp's own executable is large, and hashed
    /// on every image build.
    pub fn file_digest(&self, path: &Path) -> Result<Digest> {
        let read_error = |source| Error::Read { path: path.to_path_buf(), source };
        let meta = std::fs::metadata(path).map_err(read_error)?;
        let stat = format!("{}\0{}\0{}\0{}\0{}\0{}", path.display(), meta.len(), meta.mtime(), meta.mtime_nsec(), meta.ino(), meta.dev());
        let record = self.root.join("files").join(Digest::of(stat.as_bytes()).hex());
        if let Some(digest) = std::fs::read_to_string(&record).ok().and_then(|text| text.trim().parse().ok()) {
            return Ok(digest);
        }
        let mut file = std::fs::File::open(path).map_err(read_error)?;
        let mut hashing = super::digest::HashingWriter::new(io::sink());
        io::copy(&mut file, &mut hashing).map_err(read_error)?;
        let (_, digest, _) = hashing.finish();
        write_atomically(&record, digest.to_string().as_bytes())?;
        Ok(digest)
    }
}

/// Write `bytes` to `path` through a temporary file beside it.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut file = CacheFile::create(dir)?;
    io::Write::write_all(&mut file, bytes).map_err(|source| Error::Write { path: path.to_path_buf(), source })?;
    file.persist(&name)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(cache: &Cache, content: &[u8]) -> Layer {
        let blobs = cache.blobs();
        std::fs::create_dir_all(&blobs).unwrap();
        let digest = Digest::of(content);
        let path = blobs.join(digest.hex());
        std::fs::write(&path, content).unwrap();
        Layer { media_type: "m".into(), digest, diff_id: Digest::of(b"diff"), size: content.len() as u64, path }
    }

    #[test]
    fn a_remembered_layer_is_found_while_its_blob_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let key = Digest::of(b"key");
        assert!(cache.layer(Kind::Dependencies, &key).is_none());
        let stored = layer(&cache, b"blob");
        cache.remember(Kind::Dependencies, &key, &stored).unwrap();
        assert_eq!(cache.layer(Kind::Dependencies, &key), Some(stored.clone()));
        assert!(cache.layer(Kind::Warp, &key).is_none(), "kinds are apart");
        std::fs::write(&stored.path, b"cut").unwrap();
        assert!(cache.layer(Kind::Dependencies, &key).is_none(), "a blob of another size is a miss");
    }

    #[test]
    fn a_file_digest_follows_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(&dir.path().join("cache"));
        let file = dir.path().join("warp");
        std::fs::write(&file, b"one").unwrap();
        assert_eq!(cache.file_digest(&file).unwrap(), Digest::of(b"one"));
        assert_eq!(cache.file_digest(&file).unwrap(), Digest::of(b"one"));
        std::fs::write(&file, b"three").unwrap();
        assert_eq!(cache.file_digest(&file).unwrap(), Digest::of(b"three"));
    }

    #[test]
    fn scratch_folders_of_processes_that_are_gone_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        let abandoned = dir.path().join("image").join(format!("{SCRATCH}{}-x", gone.id()));
        std::fs::create_dir_all(abandoned.join("out")).unwrap();
        let mine = cache.scratch().unwrap();
        assert!(!abandoned.exists(), "a gone process's scratch folder is removed");
        let again = cache.scratch().unwrap();
        assert!(mine.path().is_dir() && again.path().is_dir(), "a live process's are kept");
    }
}
