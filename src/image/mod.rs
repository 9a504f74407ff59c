//! Images as values: reproducible layers, the image config and manifest, and the targets
//! that write them out.
//!
//! Building and publishing are kept apart. [`layer`] turns a folder into a compressed tar
//! blob whose bytes depend only on the folder's names, contents, modes and links, never on
//! mtimes, owners, the umask or the machine. [`base`] reads what the image is built on from
//! the engine: its config, and its layers as blobs when needed, both cached by digest. [`oci`] assembles blobs into an [`oci::Image`]:
//! the config and manifest as bytes and digests, nothing written anywhere yet. A
//! [`target`] then writes that value out: an OCI image layout folder, a docker-archive
//! tar that engines load, straight into a running engine through [`engine`], the one
//! part of warp that speaks the Engine API (and the only one that runs async code), or to a
//! registry ([`target::registry`], blocking HTTP).
//!
//! What this module does not do: pull from a registry or run a build; [`make`] builds an app
//! image from these parts.

pub mod base;
pub mod builder;
pub mod cache;
pub mod digest;
pub mod engine;
pub mod exclude;
pub mod layer;
pub mod make;
pub mod oci;
pub mod reference;
pub mod target;

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use warp_worker_config::utc::Utc;

pub use digest::Digest;
pub use oci::{Config, History, Image};
pub use reference::Reference;

/// Where an image keeps the app's venv (`APP_ROOT`); the source is in [`APP_SRC`].
pub const APP_ROOT: &str = "/opt/app-root";
/// Where an image keeps the app's source, its working folder and `HOME`.
pub const APP_SRC: &str = "/opt/app-root/src";
/// Where an image keeps warp's executable (`bin/warp`) and server module (`lib/`).
pub const WARP_DIR: &str = "/opt/warp";

/// The owner of every entry warp writes into a layer: the builder's user, in group 0, so
/// that any UID OpenShift picks (always in group 0) can use the files.
pub const UID: u64 = 1001;
/// See [`UID`].
pub const GID: u64 = 0;

/// The folder of warp's cache `cache` that holds layer blobs, each named by its digest's hex:
/// warp's own layers ([`layer::write_blob`]) and base images' ([`base::Base::layers`]) alike,
/// so a layer two images share is stored once.
pub fn blob_folder(cache: &Path) -> PathBuf {
    cache.join("image").join("blobs")
}

/// What can go wrong while making or writing an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder of the input could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// What was being read.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// An output could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// What was being written.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// An entry could not be added to a layer (its content could not be read, or the
    /// layer could not be written).
    #[error("cannot add {} to the layer", path.display())]
    Layer {
        /// The entry, as the layer names it.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// An entry could not be written into a docker-archive.
    #[error("cannot write {entry} into the image archive")]
    Archive {
        /// The entry's name in the archive.
        entry: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A stored blob is not what the image says it is.
    #[error("the blob {} has {actual} bytes where the image expects {expected}; remove it so it is made again", path.display())]
    BlobSize {
        /// The blob's file.
        path: PathBuf,
        /// What the manifest says.
        expected: u64,
        /// What the file has.
        actual: u64,
    },
    /// The folder an OCI layout was to be written to holds something else.
    #[error("{} exists and is not an OCI image layout; choose a new or empty folder", .0.display())]
    NotALayout(PathBuf),
    /// Where a layer's folder goes in the image is not an absolute, plain path.
    #[error("{0:?} is not an absolute path without `..`: a layer's destination must be one, e.g. /opt/app-root/src")]
    Destination(String),
    /// A line of an ignore file is not a valid pattern.
    #[error("{}:{line}: invalid pattern {pattern:?}; fix or remove the line", file.display())]
    Pattern {
        /// The ignore file.
        file: PathBuf,
        /// Its line number, from 1.
        line: usize,
        /// The pattern as written.
        pattern: String,
        /// Why it was refused.
        #[source]
        source: globset::Error,
    },
    /// `SOURCE_DATE_EPOCH` is set to something that is not a time.
    #[error("SOURCE_DATE_EPOCH={0:?} is not a whole number of seconds since 1970; set it to e.g. $(git log -1 --format=%ct)")]
    Epoch(String),
    /// A reference name or tag an image is written under is not valid.
    #[error("{0:?} is not a valid image name[:tag]; use lowercase letters, digits and . _ - / separators, and a tag of up to 128 letters, digits, . _ -")]
    Reference(String),
}

/// Results of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// The time written into layers and the config: `SOURCE_DATE_EPOCH` when given, so a
/// rebuild of the same commit gives the same bytes, else a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    seconds: u64,
    given: bool,
}

impl Epoch {
    /// 1980-01-01T00:00:00Z: a fixed time that tools which refuse earlier dates accept (a
    /// zip file cannot hold a time before 1980, and an app may zip its own files).
    pub const DEFAULT_SECONDS: u64 = 315_532_800;

    /// The epoch from the value of `SOURCE_DATE_EPOCH` (unset or empty: the constant).
    pub fn parse(value: Option<&str>) -> Result<Epoch> {
        match value.map(str::trim) {
            None | Some("") => Ok(Epoch { seconds: Self::DEFAULT_SECONDS, given: false }),
            Some(text) => text.parse().map(|seconds| Epoch { seconds, given: true }).map_err(|_| Error::Epoch(text.to_string())),
        }
    }

    /// The epoch from this process's `SOURCE_DATE_EPOCH`.
    pub fn from_env() -> Result<Epoch> {
        Self::parse(crate::env_vars::get(crate::env_vars::SOURCE_DATE_EPOCH).as_deref())
    }

    /// Seconds since 1970.
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    /// Whether it came from `SOURCE_DATE_EPOCH` rather than the constant.
    pub fn given(&self) -> bool {
        self.given
    }

    /// As RFC 3339 in UTC, the form OCI's `created` fields take.
    pub fn rfc3339(&self) -> String {
        let t = Utc::of(UNIX_EPOCH + Duration::from_secs(self.seconds));
        format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", t.year, t.month, t.day, t.hour, t.minute, t.second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_defaults_to_1980_and_formats_as_rfc3339() {
        let epoch = Epoch::parse(None).unwrap();
        assert!(!epoch.given());
        assert_eq!(epoch.rfc3339(), "1980-01-01T00:00:00Z");
        assert_eq!(Epoch::parse(Some("")).unwrap(), epoch);
    }

    #[test]
    fn epoch_from_source_date_epoch() {
        let epoch = Epoch::parse(Some("1700000000")).unwrap();
        assert!(epoch.given());
        assert_eq!(epoch.rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(Epoch::parse(Some("0")).unwrap().rfc3339(), "1970-01-01T00:00:00Z");
        // A leap day and the last second of a century year.
        assert_eq!(Epoch::parse(Some("951782400")).unwrap().rfc3339(), "2000-02-29T00:00:00Z");
        assert_eq!(Epoch::parse(Some("4102444799")).unwrap().rfc3339(), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn epoch_refuses_what_is_not_a_count_of_seconds() {
        for bad in ["yesterday", "-1", "1.5"] {
            let err = Epoch::parse(Some(bad)).unwrap_err();
            assert!(err.to_string().contains("SOURCE_DATE_EPOCH"), "{err}");
        }
    }
}
