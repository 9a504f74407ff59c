//! Files moved between the host and a build container, through a scratch folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::image::engine::Container;
use crate::image::{GID, UID};

/// Put the file `from` at `to` (making its folders): a hard link when the file system
/// allows one, else a copy.
pub fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// A tar holding the file `path` as `name`, readable by the build's user.
pub fn write_file_tar(path: &Path, name: &str, out: &mut dyn Write) -> std::io::Result<()> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(size);
    header.set_uid(UID);
    header.set_gid(GID);
    header.set_mtime(0);
    let mut tar = tar::Builder::new(out);
    tar.append_data(&mut header, Path::new(name), std::io::Read::take(file, size))?;
    tar.into_inner().map(drop)
}

/// Copy the folder `path` out of `container` into the folder `into` (through a tar in
/// `scratch`); returns where it is now, `into` joined with the folder's name.
pub fn download(container: &Container, path: &str, scratch: &Path, into: &Path) -> Result<PathBuf> {
    let tar = scratch.join("download.tar");
    container.download(path, &tar)?;
    let file = std::fs::File::open(&tar).with_context(|| format!("cannot read {}", tar.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    std::fs::create_dir_all(into).with_context(|| format!("cannot create {}", into.display()))?;
    archive.unpack(into).with_context(|| format!("cannot unpack {path} from the build container into {}", into.display()))?;
    std::fs::remove_file(&tar).with_context(|| format!("cannot remove {}", tar.display()))?;
    let name = Path::new(path).file_name().with_context(|| format!("{path} names no folder"))?;
    Ok(into.join(name))
}
