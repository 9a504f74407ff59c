//! The docker-archive target: one tar stream that both kinds of Docker engine load
//! (`docker load`, `POST /images/load`).
//!
//! It is an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`), which Docker
//! 25+ with the containerd image store reads, plus the `manifest.json` that the classic
//! image store of older engines reads, whose `Config` and `Layers` point at the same blobs.
//! The engine then names the image by the config's digest, so its ID is the one
//! [`Image::config_digest`] gives. The stream itself is reproducible: sorted entries, fixed
//! times, owners and modes.

use std::io::{self, Write};

use serde::Serialize;
use tar::{EntryType, Header};

use std::collections::BTreeSet;

use super::{blobs, index_json, manifest_blobs, OCI_LAYOUT};
use crate::image::{Digest, Epoch, Error, Image, Reference, Result};

/// Write `image`, tagged `reference`, as a docker-archive to `out`; returns `out`.
pub fn write<W: Write>(image: &Image, reference: &Reference, out: W) -> Result<W> {
    let mut tar = tar::Builder::new(out);
    for dir in ["blobs/", "blobs/sha256/"] {
        tar.append_data(&mut header(EntryType::Directory, 0o755, 0), dir, io::empty()).map_err(entry_error(dir))?;
    }
    for blob in blobs(image) {
        let name = blob_name(&blob.digest.hex());
        let mut header = header(EntryType::Regular, 0o644, blob.size);
        let written = tar.append_data(&mut header, &name, blob.reader()?);
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

/// Write `image`, tagged `reference`, as a docker-archive for an engine with the classic
/// image store that holds the first `present` layers already (as the layers of an image it
/// has): only `manifest.json`, the config and the other layers' blobs go in. Such an engine
/// reads the manifest, finds those layers by their chain of diff IDs and opens no file for
/// them, so a build on a large base sends only what is new. The archive is of no use to any
/// other reader.
pub fn write_over_present<W: Write>(image: &Image, reference: &Reference, present: usize, out: W) -> Result<W> {
    let mut tar = tar::Builder::new(out);
    for dir in ["blobs/", "blobs/sha256/"] {
        tar.append_data(&mut header(EntryType::Directory, 0o755, 0), dir, io::empty()).map_err(entry_error(dir))?;
    }
    let held: BTreeSet<Digest> = image.layers()[..present.min(image.layers().len())].iter().map(|layer| layer.digest).collect();
    for blob in manifest_blobs(image).into_iter().filter(|blob| !held.contains(&blob.digest)) {
        let name = blob_name(&blob.digest.hex());
        let mut header = header(EntryType::Regular, 0o644, blob.size);
        let written = tar.append_data(&mut header, &name, blob.reader()?);
        written.map_err(entry_error(&name))?;
    }
    let manifest = manifest_json(image, reference);
    tar.append_data(&mut header(EntryType::Regular, 0o644, manifest.len() as u64), "manifest.json", manifest.as_slice())
        .map_err(entry_error("manifest.json"))?;
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
    use std::io::Read;

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

    #[test]
    fn over_present_layers_only_the_new_blobs_and_manifest_json_go_in() {
        let blobs = tempfile::tempdir().unwrap();
        let layer = |content: &[u8]| {
            let path = blobs.path().join(crate::image::Digest::of(content).hex());
            std::fs::write(&path, content).unwrap();
            crate::image::layer::Layer {
                media_type: crate::image::layer::MEDIA_TYPE.into(),
                digest: crate::image::Digest::of(content),
                diff_id: crate::image::Digest::of(&[content, b"tar"].concat()),
                size: content.len() as u64,
                path,
            }
        };
        let (base, app) = (layer(b"base"), layer(b"app"));
        let image = Image::new(&Config::for_app(Epoch::parse(None).unwrap()), &[base.clone(), app.clone()], &[]);
        let out = write_over_present(&image, &Reference::parse("app").unwrap(), 1, Vec::new()).unwrap();
        let names: Vec<String> = tar::Archive::new(out.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        let blob = |digest: crate::image::Digest| format!("blobs/sha256/{}", digest.hex());
        assert_eq!(names, ["blobs/", "blobs/sha256/", &blob(app.digest), &blob(image.config_digest()), "manifest.json"]);
        let manifest = manifest_json(&image, &Reference::parse("app").unwrap());
        assert!(String::from_utf8(manifest).unwrap().contains(&blob(base.digest)), "the manifest still names every layer");
    }
}
