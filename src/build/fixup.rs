//! `warp fixup`: make a tree usable by any UID in group 0, as OpenShift runs containers.
//!
//! Every entry gets group 0 (where the caller may change it) and group permissions equal to
//! the owner's (`chmod g=u`). Symlinks are never followed: a link's own group is changed,
//! its target is left alone, so a link cannot carry the change out of the tree.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::unistd::{fchownat, Gid};
use walkdir::WalkDir;

/// What a fixup changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Entries visited (the root included).
    pub entries: u64,
    /// Entries whose group became 0.
    pub regrouped: u64,
    /// Entries whose group permissions became the owner's.
    pub remoded: u64,
    /// Entries the caller may not change (owned by someone else).
    pub not_permitted: u64,
}

/// Fix up `root` and everything below it.
pub fn fixup(root: &Path) -> Result<Report> {
    let meta = root.metadata().with_context(|| format!("cannot read {}", root.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a directory: pass the folder to fix up", root.display());
    }
    let mut report = Report::default();
    // Not even a root given as a link is followed: the link is fixed, its target is not.
    for entry in WalkDir::new(root).follow_links(false).follow_root_links(false) {
        let entry = entry.with_context(|| format!("cannot fix up {}", root.display()))?;
        let meta = entry.metadata().with_context(|| format!("cannot read {}", entry.path().display()))?;
        report.entries += 1;
        fix_entry(entry.path(), &meta, &mut report)?;
    }
    Ok(report)
}

fn fix_entry(path: &Path, meta: &std::fs::Metadata, report: &mut Report) -> Result<()> {
    let mut denied = false;
    if meta.gid() != 0 {
        match fchownat(None, path, None, Some(Gid::from_raw(0)), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(()) => report.regrouped += 1,
            Err(Errno::EPERM) => denied = true,
            Err(e) => return Err(e).with_context(|| format!("cannot change the group of {}", path.display())),
        }
    }
    if !meta.file_type().is_symlink() {
        let mode = meta.permissions().mode() & 0o7777;
        let wanted = (mode & !0o070) | ((mode & 0o700) >> 3);
        if wanted != mode {
            match std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted)) {
                Ok(()) => report.remoded += 1,
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => denied = true,
                Err(e) => return Err(e).with_context(|| format!("cannot change the mode of {}", path.display())),
            }
        }
    }
    report.not_permitted += u64::from(denied);
    Ok(())
}
