//! The OCI image layout target: a folder any OCI tool reads without a daemon (`skopeo copy
//! oci:DIR:TAG ...`, `umoci unpack --image DIR:TAG`).
//!
//! The layout is made in a temporary folder beside the destination and renamed into place,
//! so a failure leaves no half-written layout. An existing layout at the destination is
//! replaced whole; any other non-empty folder there is refused, never deleted.

use std::fs;
use std::io;
use std::path::Path;

use super::{blobs, index_json, Content, OCI_LAYOUT};
use crate::image::{Error, Image, Reference, Result};

/// An error writing `path`, for `map_err`.
fn write_error(path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Write { path, source }
}

/// Whether an image layout may be written at `dest`: nothing there, an empty folder, or a
/// layout to replace. For checking before a long build.
pub fn check_destination(dest: &Path) -> Result<()> {
    existing(dest).map(drop)
}

/// Write `image` as an OCI image layout at `dest`, tagged with `reference`'s tag.
pub fn write(image: &Image, reference: &Reference, dest: &Path) -> Result<()> {
    let existing = existing(dest)?;
    // Beside the destination, so the final rename stays on one file system.
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(write_error(parent))?;
    let temp = tempfile::Builder::new().prefix(".oci-layout-").tempdir_in(parent).map_err(write_error(parent))?;

    let dir = temp.path();
    fs::write(dir.join("oci-layout"), OCI_LAYOUT).map_err(write_error(dest))?;
    fs::write(dir.join("index.json"), index_json(image, reference)).map_err(write_error(dest))?;
    let blob_dir = dir.join("blobs/sha256");
    fs::create_dir_all(&blob_dir).map_err(write_error(dest))?;
    for blob in blobs(image) {
        let path = blob_dir.join(blob.digest.hex());
        match blob.content {
            Content::Bytes(bytes) => fs::write(&path, bytes).map_err(write_error(&path))?,
            Content::File(from) => {
                let copied = fs::copy(from, &path).map_err(|source| Error::Read { path: from.to_path_buf(), source })?;
                if copied != blob.size {
                    return Err(Error::BlobSize { path: from.to_path_buf(), expected: blob.size, actual: copied });
                }
            }
        }
    }

    match existing {
        Existing::Nothing => fs::rename(dir, dest).map_err(write_error(dest))?,
        Existing::Layout => {
            // Move the old layout aside first: there is no atomic swap of two folders.
            let old = tempfile::Builder::new().prefix(".oci-layout-old-").tempdir_in(parent).map_err(write_error(parent))?;
            let aside = old.path().join("layout");
            fs::rename(dest, &aside).map_err(write_error(dest))?;
            if let Err(source) = fs::rename(dir, dest) {
                // Put the old layout back; the new one goes with `temp`.
                let _ = fs::rename(&aside, dest);
                return Err(Error::Write { path: dest.to_path_buf(), source });
            }
        }
    }
    // Its content is in place now; only the emptied temporary folder would be removed.
    let _ = temp.keep();
    Ok(())
}

enum Existing {
    /// Nothing, or an empty folder (which a rename replaces).
    Nothing,
    /// An OCI layout, to be replaced.
    Layout,
}

fn existing(dest: &Path) -> Result<Existing> {
    let mut entries = match fs::read_dir(dest) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Err(Error::NotALayout(dest.to_path_buf())),
        Err(source) => return Err(Error::Read { path: dest.to_path_buf(), source }),
    };
    if entries.next().is_none() {
        Ok(Existing::Nothing)
    } else if dest.join("oci-layout").is_file() {
        Ok(Existing::Layout)
    } else {
        Err(Error::NotALayout(dest.to_path_buf()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{Config, Epoch};

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_layout_replaces_a_layout_and_refuses_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let image = Image::new(&Config::for_app(Epoch::parse(None).unwrap()), &[], &[]);
        let reference = Reference::parse("app:1").unwrap();
        let dest = dir.path().join("out");
        write(&image, &reference, &dest).unwrap();
        assert_eq!(names(&dest), ["blobs", "index.json", "oci-layout"]);
        assert_eq!(names(&dest.join("blobs/sha256")).len(), 2, "config and manifest");
        let index = fs::read_to_string(dest.join("index.json")).unwrap();
        assert!(index.contains(r#""org.opencontainers.image.ref.name":"1""#), "{index}");
        assert!(index.contains(r#""io.containerd.image.name":"docker.io/library/app:1""#), "{index}");

        write(&image, &Reference::parse("app:2").unwrap(), &dest).unwrap();
        assert!(fs::read_to_string(dest.join("index.json")).unwrap().contains(r#""org.opencontainers.image.ref.name":"2""#));
        assert_eq!(names(dir.path()), ["out"], "nothing temporary is left beside it");

        let other = dir.path().join("other");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("keep.txt"), "mine").unwrap();
        let err = write(&image, &reference, &other).unwrap_err();
        assert!(matches!(err, Error::NotALayout(_)), "{err}");
        assert_eq!(names(&other), ["keep.txt"]);
        assert_eq!(names(dir.path()), ["other", "out"]);
    }
}
