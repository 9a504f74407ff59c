//! The docker-archive target: one tar stream that both kinds of Docker engine load
//! (`docker load`, `POST /images/load`).
//!
//! It is an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`), which Docker
//! 25+ with the containerd image store reads, plus the `manifest.json` that the classic
//! image store of older engines reads, whose `Config` and `Layers` point at the same blobs.
//! The engine then names the image by the config's digest, so its ID is the one
//! [`Image::config_digest`] gives. The stream itself is reproducible: sorted entries, fixed
//! times, owners and modes.

use std::fs::File;
use std::io::{self, Read, Write};

use serde::Serialize;
use tar::{EntryType, Header};

use super::{blobs, index_json, Content, OCI_LAYOUT};
use crate::image::{Epoch, Error, Image, Reference, Result};

/// Write `image`, tagged `reference`, as a docker-archive to `out`; returns `out`.
pub fn write<W: Write>(image: &Image, reference: &Reference, out: W) -> Result<W> {
    let mut tar = tar::Builder::new(out);
    for dir in ["blobs/", "blobs/sha256/"] {
        tar.append_data(&mut header(EntryType::Directory, 0o755, 0), dir, io::empty()).map_err(entry_error(dir))?;
    }
    for blob in blobs(image) {
        let name = blob_name(&blob.digest.hex());
        let mut header = header(EntryType::Regular, 0o644, blob.size);
        let written = match blob.content {
            Content::Bytes(bytes) => tar.append_data(&mut header, &name, bytes),
            Content::File(path) => {
                let file = File::open(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
                let actual = file.metadata().map_err(|source| Error::Read { path: path.to_path_buf(), source })?.len();
                if actual != blob.size {
                    return Err(Error::BlobSize { path: path.to_path_buf(), expected: blob.size, actual });
                }
                tar.append_data(&mut header, &name, file.take(blob.size))
            }
        };
        written.map_err(entry_error(&name))?;
    }
    let files = [
        ("index.json", index_json(image, reference)),
        ("manifest.json", manifest_json(image, reference)),
        ("oci-layout", OCI_LAYOUT.to_vec()),
    ];
    for (name, bytes) in files {
        tar.append_data(&mut header(EntryType::Regular, 0o644, bytes.len() as u64), name, bytes.as_slice()).map_err(entry_error(name))?;
    }
    tar.into_inner().map_err(entry_error("the end of the archive"))
}

/// An error writing `entry`, for `map_err`.
fn entry_error(entry: &str) -> impl FnOnce(io::Error) -> Error {
    let entry = entry.to_string();
    move |source| Error::Archive { entry, source }
}

fn blob_name(hex: &str) -> String {
    format!("blobs/sha256/{hex}")
}

fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(Epoch::DEFAULT_SECONDS);
    header
}

/// The classic store's `manifest.json`: one image, its config, tags and layers.
fn manifest_json(image: &Image, reference: &Reference) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        config: String,
        repo_tags: [String; 1],
        layers: Vec<String>,
    }
    let entry = Entry {
        config: blob_name(&image.config_digest().hex()),
        repo_tags: [reference.to_string()],
        layers: image.layers().iter().map(|l| blob_name(&l.digest.hex())).collect(),
    };
    serde_json::to_vec(&[entry]).expect("structs of strings always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{Config, Epoch, History};

    #[test]
    fn the_archive_is_a_layout_plus_manifest_json_and_reproducible() {
        let blobs = tempfile::tempdir().unwrap();
        let layer_path = blobs.path().join("layer");
        std::fs::write(&layer_path, b"not really gzip").unwrap();
        let layer = crate::image::layer::Layer {
            media_type: crate::image::layer::MEDIA_TYPE.into(),
            digest: crate::image::Digest::of(b"not really gzip"),
            diff_id: crate::image::Digest::of(b"tar"),
            size: 15,
            path: layer_path.clone(),
        };
        let history = History { created: "1980-01-01T00:00:00Z".into(), created_by: "test".into(), ..Default::default() };
        let image = Image::new(&Config::for_app(Epoch::parse(None).unwrap()), std::slice::from_ref(&layer), &[history]);
        let reference = Reference::parse("app").unwrap();
        let first = write(&image, &reference, Vec::new()).unwrap();
        assert_eq!(first, write(&image, &reference, Vec::new()).unwrap());

        let mut archive = tar::Archive::new(first.as_slice());
        let mut names = Vec::new();
        let mut manifest = String::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            if name == "manifest.json" {
                entry.read_to_string(&mut manifest).unwrap();
            }
            names.push(name);
        }
        let mut blob_names: Vec<String> =
            [image.config_digest(), image.manifest_digest(), layer.digest].iter().map(|d| format!("blobs/sha256/{}", d.hex())).collect();
        blob_names.sort();
        let mut expected = vec!["blobs/".to_string(), "blobs/sha256/".to_string()];
        expected.extend(blob_names);
        expected.extend(["index.json", "manifest.json", "oci-layout"].map(String::from));
        assert_eq!(names, expected);
        let config = image.config_digest().hex();
        let layer_hex = layer.digest.hex();
        assert_eq!(
            manifest,
            format!(r#"[{{"Config":"blobs/sha256/{config}","RepoTags":["app:latest"],"Layers":["blobs/sha256/{layer_hex}"]}}]"#)
        );

        // A blob whose file changed size since it was made is refused, not archived.
        std::fs::write(&layer_path, b"short").unwrap();
        let err = write(&image, &reference, Vec::new()).unwrap_err();
        assert!(matches!(err, Error::BlobSize { expected: 15, actual: 5, .. }), "{err}");
    }
}
