//! Where an image value goes. Every target takes the same [`Image`] and [`Reference`] and
//! writes all of it or nothing: an OCI image layout folder ([`layout`]), a docker-archive
//! stream ([`docker_archive`]), a running engine ([`engine`]), or a registry ([`registry`],
//! where "nothing" means the tag does not move).

pub mod docker_archive;
pub mod engine;
pub mod layout;
pub mod registry;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use super::oci::{Descriptor, MANIFEST_MEDIA_TYPE};
use super::{Digest, Error, Image, Reference, Result};

/// The `oci-layout` file of a layout.
const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// The annotation skopeo and umoci look a layout's image up by (the tag).
const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation containerd (and so Docker 25+) names a loaded image by (the full name).
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Where a blob's bytes are.
enum Content<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}

/// One blob of the image.
struct Blob<'a> {
    digest: Digest,
    size: u64,
    content: Content<'a>,
}

/// Every blob of `image` once, ordered by digest: a layer used twice is stored once.
fn blobs(image: &Image) -> Vec<Blob<'_>> {
    let mut blobs: BTreeMap<Digest, Blob> = manifest_blobs(image).into_iter().map(|blob| (blob.digest, blob)).collect();
    blobs.insert(
        image.manifest_digest(),
        Blob { digest: image.manifest_digest(), size: image.manifest().len() as u64, content: Content::Bytes(image.manifest()) },
    );
    blobs.into_values().collect()
}

/// The blobs the manifest points at, once each: the layers bottom first, then the config.
fn manifest_blobs(image: &Image) -> Vec<Blob<'_>> {
    let mut seen = BTreeSet::new();
    let layers = image.layers().iter().filter(|layer| seen.insert(layer.digest));
    let mut blobs: Vec<Blob> =
        layers.map(|layer| Blob { digest: layer.digest, size: layer.size, content: Content::File(&layer.path) }).collect();
    blobs.push(Blob { digest: image.config_digest(), size: image.config().len() as u64, content: Content::Bytes(image.config()) });
    blobs
}

impl Blob<'_> {
    /// The blob's bytes. A file is checked against the size the image gives first: one that
    /// changed since the image was made would make a blob whose digest is not its name.
    fn reader(&self) -> Result<Box<dyn Read + Send + '_>> {
        match self.content {
            Content::Bytes(bytes) => Ok(Box::new(bytes)),
            Content::File(path) => {
                let read_error = |source| Error::Read { path: path.to_path_buf(), source };
                let file = File::open(path).map_err(read_error)?;
                let actual = file.metadata().map_err(read_error)?.len();
                if actual != self.size {
                    return Err(Error::BlobSize { path: path.to_path_buf(), expected: self.size, actual });
                }
                Ok(Box::new(file.take(self.size)))
            }
        }
    }
}

/// The layout's `index.json`: one manifest, named by its tag and its full name.
fn index_json(image: &Image, reference: &Reference) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Index<'a> {
        schema_version: u32,
        media_type: &'static str,
        manifests: [Entry<'a>; 1],
    }
    #[derive(Serialize)]
    struct Entry<'a> {
        #[serde(flatten)]
        descriptor: Descriptor<'a>,
        annotations: BTreeMap<&'static str, String>,
    }
    let annotations = BTreeMap::from([
        (CONTAINERD_NAME, format!("{}:{}", reference.full_name(), reference.tag())),
        (REF_NAME, reference.tag().to_string()),
    ]);
    let descriptor = Descriptor { media_type: MANIFEST_MEDIA_TYPE, digest: image.manifest_digest(), size: image.manifest().len() as u64 };
    let index =
        Index { schema_version: 2, media_type: "application/vnd.oci.image.index.v1+json", manifests: [Entry { descriptor, annotations }] };
    serde_json::to_vec(&index).expect("structs with string-keyed maps always serialise")
}
