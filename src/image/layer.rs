//! A folder on disk to a reproducible, gzip-compressed tar layer.
//!
//! The bytes depend only on what a container would see: names, contents, modes, symlink
//! targets and which files are hard links of each other. Entries are sorted by path,
//! component by component (so a folder comes right before what it holds), every entry is
//! owned by 1001:0 with no user or group names and group permissions equal to the owner's
//! (as `warp fixup` leaves them, so any UID in group 0 can use the files) — or by root, for
//! warp's own files — every mtime is the [`Epoch`], and compression is pinned (one
//! deflate implementation and level, a gzip header with no time and a fixed OS byte).
//!
//! Both digests are computed while the layer streams out; it is never held in memory.
//!
//! Not written: device files, FIFOs and sockets (an app's source has no use for them and a
//! rootless unpack cannot make them); they are listed in [`Written::skipped`] instead.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, Metadata};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use tar::{EntryType, Header};
use walkdir::WalkDir;

use super::digest::HashingWriter;
use super::exclude::Excludes;
use super::{Digest, Epoch, Error, Result, GID, UID};

/// The OCI media type of the layers written here.
pub const MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// deflate level 6 (zlib's default): pinned, because another level gives other bytes.
const GZIP_LEVEL: u32 = 6;
/// "Unknown" in gzip's OS byte, instead of the compressing machine's.
const GZIP_OS_UNKNOWN: u8 = 255;

/// What to put in a layer.
pub struct Spec<'a> {
    /// The folder on disk whose content becomes the layer.
    pub folder: &'a Path,
    /// Where that folder is in the image, e.g. `/opt/app-root/src`. The folder itself is
    /// the layer's first entry (unless this is `/`); the folders above it are not written,
    /// so a lower layer's owner and mode for them stay.
    pub destination: &'a str,
    /// What stays out.
    pub excludes: &'a Excludes,
    /// Every entry's mtime.
    pub epoch: Epoch,
    /// Who owns the entries.
    pub owner: Owner,
    /// The folders above the destination, top first, with their owners: written before it,
    /// because an engine unpacking a layer makes a folder the layer lacks anew (root's, mode
    /// 0755), and that folder then hides the lower layer's owner and mode.
    pub parents: &'a [(&'a str, Owner)],
}

/// Who owns a layer's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The app's files: 1001:0 with group permissions equal to the owner's, so any UID in
    /// group 0 can use them.
    App,
    /// Files the app must not change (warp itself): root's, writable by root alone.
    Root,
}

/// An entry left out of a layer, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Relative to the layer's folder.
    pub path: PathBuf,
    /// Why, for the user.
    pub reason: &'static str,
}

/// What [`write`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// sha256 of the compressed bytes: the blob's name.
    pub digest: Digest,
    /// sha256 of the uncompressed tar: the image config's `rootfs.diff_ids`.
    pub diff_id: Digest,
    /// Size of the compressed bytes.
    pub size: u64,
    /// Entries left out.
    pub skipped: Vec<Skipped>,
}

/// A layer blob stored in a file, ready to go into an image (one of warp's, or a base
/// image's taken as it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The blob's media type, e.g. [`MEDIA_TYPE`].
    pub media_type: String,
    /// sha256 of the blob.
    pub digest: Digest,
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// The blob's size.
    pub size: u64,
    /// Where the blob is.
    pub path: PathBuf,
}

/// Write the layer of `spec` to `out`, compressed. Returns `out` and what was written.
pub fn write<W: Write>(spec: &Spec, out: W) -> Result<(W, Written)> {
    let prefix = destination_prefix(spec.destination)?;
    let (entries, skipped) = collect(spec)?;

    let mut tar = tar::Builder::new(Compressing::new(out));
    for (parent, owner) in spec.parents {
        let name = destination_prefix(parent)?;
        append_parent(&mut tar, &name, *owner, spec.epoch).map_err(|source| Error::Layer { path: name.clone(), source })?;
    }
    let mut first_of_inode: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for (rel, meta) in &entries {
        let name = prefix.join(rel);
        if name.as_os_str().is_empty() {
            continue; // the image's root, which no layer writes
        }
        append(&mut tar, spec, rel, &name, meta, &mut first_of_inode).map_err(|source| Error::Layer { path: name.clone(), source })?;
    }
    let finished = tar.into_inner().and_then(Compressing::finish);
    let (out, Compressed { digest, diff_id, size }) =
        finished.map_err(|source| Error::Layer { path: PathBuf::from(spec.destination), source })?;
    Ok((out, Written { digest, diff_id, size, skipped }))
}

/// Write the layer of `spec` into the folder `blobs`, named by its digest, through a
/// temporary file there so a failure leaves no partial blob.
pub fn write_blob(spec: &Spec, blobs: &Path) -> Result<(Layer, Vec<Skipped>)> {
    let (blob, written) = write(spec, CacheFile::create(blobs)?)?;
    let path = blob.persist(&written.digest.hex())?;
    let layer = Layer { media_type: MEDIA_TYPE.to_string(), digest: written.digest, diff_id: written.diff_id, size: written.size, path };
    Ok((layer, written.skipped))
}

/// The digests and size of a layer compressed by [`Compressing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Compressed {
    /// sha256 of the compressed bytes.
    pub digest: Digest,
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Size of the compressed bytes.
    pub size: u64,
}

/// Takes a layer's tar and writes it to `W` gzip-compressed with the pinned settings,
/// hashing both sides on the way. Every layer warp writes or recompresses goes through here,
/// so the same tar always gives the same blob.
pub(crate) struct Compressing<W: Write>(HashingWriter<GzEncoder<HashingWriter<W>>>);

impl<W: Write> Compressing<W> {
    /// Compress into `out`.
    pub fn new(out: W) -> Self {
        let gzip = GzBuilder::new().mtime(0).operating_system(GZIP_OS_UNKNOWN).write(HashingWriter::new(out), Compression::new(GZIP_LEVEL));
        Compressing(HashingWriter::new(gzip))
    }

    /// End the gzip stream; returns `out` and what went through.
    pub fn finish(self) -> io::Result<(W, Compressed)> {
        let (gzip, diff_id, _) = self.0.finish();
        let (out, digest, size) = gzip.finish()?.finish();
        Ok((out, Compressed { digest, diff_id, size }))
    }
}

impl<W: Write> Write for Compressing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A file being written into a folder of warp's cache (a blob, a record of one): a temporary
/// file there until it is complete, then renamed, so an interrupted write never leaves a
/// file under its name, and a reader sees the old file or the new one, never half of one.
pub(crate) struct CacheFile {
    file: BufWriter<tempfile::NamedTempFile>,
    folder: PathBuf,
}

impl CacheFile {
    /// Start a file in `folder`, made when missing.
    pub fn create(folder: &Path) -> Result<CacheFile> {
        let write_error = |source| Error::Write { path: folder.to_path_buf(), source };
        std::fs::create_dir_all(folder).map_err(write_error)?;
        let temp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(folder).map_err(write_error)?;
        Ok(CacheFile { file: BufWriter::new(temp), folder: folder.to_path_buf() })
    }

    /// Name the complete file `name` (a blob: its digest's hex); returns its path.
    pub fn persist(self, name: &str) -> Result<PathBuf> {
        let temp = self.file.into_inner().map_err(|e| Error::Write { path: self.folder.clone(), source: e.into_error() })?;
        let path = self.folder.join(name);
        temp.persist(&path).map_err(|e| Error::Write { path: path.clone(), source: e.error })?;
        Ok(path)
    }
}

impl Write for CacheFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The destination as a relative path inside the image (`/opt/app-root` → `opt/app-root`).
fn destination_prefix(destination: &str) -> Result<PathBuf> {
    let path = Path::new(destination);
    let mut prefix = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir => {}
            Component::Normal(part) => prefix.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return Err(Error::Destination(destination.to_string())),
        }
    }
    if !path.is_absolute() {
        return Err(Error::Destination(destination.to_string()));
    }
    Ok(prefix)
}

/// Every entry that goes in, keyed by its path relative to the folder (the folder itself
/// is the empty path). A map ordered by path, component by component, puts each folder
/// right before what it holds, whatever order the file system lists them in.
fn collect(spec: &Spec) -> Result<(BTreeMap<PathBuf, Metadata>, Vec<Skipped>)> {
    let root = spec.folder;
    let read_error = |path: &Path, source| Error::Read { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(root).map_err(|e| read_error(root, e))?;
    if !meta.is_dir() {
        return Err(read_error(root, io::Error::new(io::ErrorKind::InvalidInput, "not a folder")));
    }

    let mut entries = BTreeMap::new();
    let mut skipped = Vec::new();
    let relative = |path: &Path| path.strip_prefix(root).map(Path::to_path_buf).unwrap_or_default();
    // An excluded folder is still walked when a `!` pattern may re-include something in it.
    let walk = WalkDir::new(root).follow_links(false).into_iter().filter_entry(|entry| {
        let rel = relative(entry.path());
        !(entry.file_type().is_dir() && spec.excludes.is_excluded(&rel) && !spec.excludes.may_reinclude(&rel))
    });
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            read_error(&path, e.into_io_error().unwrap_or_else(|| io::Error::other("a symlink loop")))
        })?;
        let rel = relative(entry.path());
        if !rel.as_os_str().is_empty() && spec.excludes.is_excluded(&rel) {
            continue;
        }
        let meta = entry.path().symlink_metadata().map_err(|e| read_error(entry.path(), e))?;
        let kind = meta.file_type();
        if !(kind.is_dir() || kind.is_file() || kind.is_symlink()) {
            let reason = if kind.is_socket() {
                "a socket"
            } else if kind.is_fifo() {
                "a FIFO"
            } else {
                "a device file"
            };
            skipped.push(Skipped { path: rel, reason });
            continue;
        }
        entries.insert(rel, meta);
    }

    // A file re-included below an excluded folder still needs its folders.
    let mut missing = Vec::new();
    for rel in entries.keys() {
        for parent in rel.ancestors().skip(1) {
            if !entries.contains_key(parent) {
                missing.push(parent.to_path_buf());
            }
        }
    }
    for rel in missing {
        let path = root.join(&rel);
        let meta = path.symlink_metadata().map_err(|e| read_error(&path, e))?;
        entries.insert(rel, meta);
    }
    Ok((entries, skipped))
}

/// A folder above the destination, as `owner` has its folders.
fn append_parent<W: Write>(tar: &mut tar::Builder<W>, name: &Path, owner: Owner, epoch: Epoch) -> io::Result<()> {
    let mut header = Header::new_gnu();
    let (uid, gid, mode) = match owner {
        Owner::App => (UID, GID, 0o775),
        Owner::Root => (0, 0, 0o755),
    };
    header.set_entry_type(EntryType::Directory);
    header.set_uid(uid);
    header.set_gid(gid);
    header.set_mode(mode);
    header.set_mtime(epoch.seconds());
    header.set_size(0);
    let mut dir_name = name.as_os_str().to_os_string();
    dir_name.push("/");
    tar.append_data(&mut header, Path::new(&dir_name), io::empty())
}

/// Add one entry; `name` is its path in the image.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    spec: &Spec,
    rel: &Path,
    name: &Path,
    meta: &Metadata,
    first_of_inode: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    let mut header = Header::new_gnu();
    let (uid, gid, mode) = match spec.owner {
        Owner::App => (UID, GID, normalised_mode(meta.mode())),
        Owner::Root => (0, 0, meta.mode() & 0o7755),
    };
    header.set_uid(uid);
    header.set_gid(gid);
    header.set_mtime(spec.epoch.seconds());
    header.set_mode(mode);
    header.set_size(0);
    let kind = meta.file_type();
    if kind.is_dir() {
        header.set_entry_type(EntryType::Directory);
        // A trailing slash marks a folder for tools that look only at names.
        let mut dir_name = name.as_os_str().to_os_string();
        dir_name.push("/");
        return tar.append_data(&mut header, Path::new(&dir_name), io::empty());
    }
    if kind.is_symlink() {
        header.set_entry_type(EntryType::Symlink);
        // Symlinks have no mode of their own on Linux; 0777 is what tar and Docker write.
        header.set_mode(0o777);
        let target = std::fs::read_link(spec.folder.join(rel))?;
        return tar.append_link(&mut header, name, target);
    }
    // A file with other names in this layer: the first one in order carries the content,
    // the others are hard links to it, as the file system had them.
    if meta.nlink() > 1 {
        let inode = (meta.dev(), meta.ino());
        if let Some(first) = first_of_inode.get(&inode) {
            header.set_entry_type(EntryType::Link);
            return tar.append_link(&mut header, name, first);
        }
        first_of_inode.insert(inode, name.to_path_buf());
    }
    header.set_entry_type(EntryType::Regular);
    header.set_size(meta.len());
    let file = File::open(spec.folder.join(rel))?;
    let mut content = Counted { inner: file.take(meta.len()), count: 0 };
    tar.append_data(&mut header, name, &mut content)?;
    if content.count != meta.len() {
        // The header already promised the old size: the layer is unusable.
        return Err(io::Error::other(format!("it changed size while being read ({} bytes, then {})", meta.len(), content.count)));
    }
    Ok(())
}

/// The mode as written: permission and special bits only, group bits equal to the owner's
/// (`chmod g=u`), others' bits as they were but for writing: group 0 is how any UID gets to
/// write, and a file restored by a build's unprivileged tar (which honours the umask) gets
/// the same mode as the file it was saved from.
fn normalised_mode(mode: u32) -> u32 {
    let mode = mode & 0o7777;
    (mode & !0o072) | ((mode & 0o700) >> 3)
}

/// Counts what is read through it, to notice a file that shrank while it was read.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, PermissionsExt};

    use flate2::read::GzDecoder;

    use super::*;

    /// One entry read back from a layer.
    #[derive(Debug, PartialEq, Eq)]
    struct Entry {
        path: String,
        kind: EntryType,
        mode: u32,
        link: Option<String>,
        content: Vec<u8>,
    }

    fn spec<'a>(folder: &'a Path, excludes: &'a Excludes) -> Spec<'a> {
        Spec { folder, destination: "/opt/app-root/src", excludes, epoch: Epoch::parse(None).unwrap(), owner: Owner::App, parents: &[] }
    }

    fn layer_bytes(spec: &Spec) -> (Vec<u8>, Written) {
        write(spec, Vec::new()).unwrap()
    }

    /// Read a layer back, checking what every entry must have in common.
    fn entries(gzipped: &[u8], epoch: u64) -> Vec<Entry> {
        let mut archive = tar::Archive::new(GzDecoder::new(gzipped));
        let mut out = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let path = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
            assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (UID, GID), "{path}");
            assert_eq!((header.username_bytes(), header.groupname_bytes()), (Some(&b""[..]), Some(&b""[..])), "{path}");
            assert_eq!(header.mtime().unwrap(), epoch, "{path}");
            let link = entry.link_name_bytes().map(|l| String::from_utf8(l.into_owned()).unwrap());
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            out.push(Entry { path, kind: header.entry_type(), mode: header.mode().unwrap(), link, content });
        }
        out
    }

    fn paths(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.path.as_str()).collect()
    }

    fn write_file(root: &Path, rel: &str, content: &str, mode: u32) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A small app folder with files in a few folders, a symlink and a hard link.
    fn app_folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_file(root, "wsgi.py", "def application(e, s): pass\n", 0o644);
        write_file(root, "pkg/__init__.py", "", 0o600);
        write_file(root, "pkg/z.py", "Z = 1\n", 0o640);
        write_file(root, "pkg-data/a.txt", "a\n", 0o644);
        write_file(root, "bin/run", "#!/bin/sh\n", 0o755);
        symlink("../wsgi.py", root.join("bin/link")).unwrap();
        std::fs::hard_link(root.join("pkg/z.py"), root.join("pkg/y.py")).unwrap();
        dir
    }

    /// Copy a tree as `cp -r` would, without keeping mtimes: every entry gets a new one.
    fn copy_tree(from: &Path, to: &Path) {
        for entry in WalkDir::new(from) {
            let entry = entry.unwrap();
            let target = to.join(entry.path().strip_prefix(from).unwrap());
            let kind = entry.file_type();
            if kind.is_dir() {
                std::fs::create_dir_all(&target).unwrap();
            } else if kind.is_symlink() {
                symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
            let mode = entry.path().symlink_metadata().unwrap().mode();
            if !kind.is_symlink() {
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        // The hard link is a hard link in the copy too.
        std::fs::remove_file(to.join("pkg/y.py")).unwrap();
        std::fs::hard_link(to.join("pkg/z.py"), to.join("pkg/y.py")).unwrap();
    }

    #[test]
    fn the_same_folder_gives_the_same_bytes_twice_and_on_a_copy_with_other_times_and_owners() {
        let dir = app_folder();
        let excludes = Excludes::new();
        let (first, written) = layer_bytes(&spec(dir.path(), &excludes));
        let (second, _) = layer_bytes(&spec(dir.path(), &excludes));
        assert!(first == second, "two runs over one folder differ");

        let copy = tempfile::tempdir().unwrap();
        copy_tree(dir.path(), copy.path());
        let old = nix::sys::time::TimeSpec::new(1_000_000_000, 0);
        for entry in WalkDir::new(copy.path()) {
            let entry = entry.unwrap();
            nix::sys::stat::utimensat(None, entry.path(), &old, &old, nix::sys::stat::UtimensatFlags::NoFollowSymlink).unwrap();
            // As root, the copy also gets another owner and group.
            if nix::unistd::geteuid().is_root() {
                let (uid, gid) = (Some(nix::unistd::Uid::from_raw(4321)), Some(nix::unistd::Gid::from_raw(4321)));
                nix::unistd::fchownat(None, entry.path(), uid, gid, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).unwrap();
            }
        }
        let (third, written_copy) = layer_bytes(&spec(copy.path(), &excludes));
        assert!(first == third, "a copy with other mtimes and owners gives other bytes");
        assert_eq!(written, written_copy);
    }

    #[test]
    fn digests_are_of_the_compressed_and_uncompressed_bytes() {
        let dir = app_folder();
        let excludes = Excludes::new();
        let (gzipped, written) = layer_bytes(&spec(dir.path(), &excludes));
        assert_eq!(written.digest, Digest::of(&gzipped));
        assert_eq!(written.size, gzipped.len() as u64);
        let mut tar = Vec::new();
        GzDecoder::new(gzipped.as_slice()).read_to_end(&mut tar).unwrap();
        assert_eq!(written.diff_id, Digest::of(&tar));
        // The gzip header: no time, "unknown" OS, so no trace of when or where.
        assert_eq!(&gzipped[4..8], &[0, 0, 0, 0]);
        assert_eq!(gzipped[9], 255);
    }

    #[test]
    fn entries_are_sorted_with_folders_first_and_normalised() {
        let dir = app_folder();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(dir.path().join("pkg-data/a.txt"), std::fs::Permissions::from_mode(0o666)).unwrap();
        let excludes = Excludes::new();
        let (gzipped, written) = layer_bytes(&spec(dir.path(), &excludes));
        assert!(written.skipped.is_empty());
        let entries = entries(&gzipped, Epoch::DEFAULT_SECONDS);
        let base = "opt/app-root/src";
        let expected: Vec<String> = [
            "/",
            "/bin/",
            "/bin/link",
            "/bin/run",
            "/pkg/",
            "/pkg/__init__.py",
            "/pkg/y.py",
            "/pkg/z.py",
            "/pkg-data/",
            "/pkg-data/a.txt",
            "/wsgi.py",
        ]
        .iter()
        .map(|p| format!("{base}{p}"))
        .collect();
        assert_eq!(paths(&entries), expected);
        let mode = |path: &str| entries.iter().find(|e| e.path == format!("{base}{path}")).unwrap().mode;
        // g=u; others' bits as they were, but for writing.
        assert_eq!(mode("/"), 0o770);
        assert_eq!(mode("/pkg-data/a.txt"), 0o664);
        assert_eq!(mode("/wsgi.py"), 0o664);
        assert_eq!(mode("/pkg/__init__.py"), 0o660);
        assert_eq!(mode("/pkg/z.py"), 0o660);
        assert_eq!(mode("/bin/run"), 0o775);
        assert_eq!(entries[0].kind, EntryType::Directory);
    }

    #[test]
    fn symlinks_stay_symlinks_and_hard_links_become_tar_links() {
        let dir = app_folder();
        let excludes = Excludes::new();
        let (gzipped, _) = layer_bytes(&spec(dir.path(), &excludes));
        let entries = entries(&gzipped, Epoch::DEFAULT_SECONDS);
        let find = |path: &str| entries.iter().find(|e| e.path == path).unwrap();
        let link = find("opt/app-root/src/bin/link");
        assert_eq!((link.kind, link.link.as_deref()), (EntryType::Symlink, Some("../wsgi.py")));
        // y.py sorts first, so it carries the content and z.py links to it.
        let first = find("opt/app-root/src/pkg/y.py");
        assert_eq!((first.kind, first.content.as_slice()), (EntryType::Regular, &b"Z = 1\n"[..]));
        let second = find("opt/app-root/src/pkg/z.py");
        assert_eq!((second.kind, second.link.as_deref()), (EntryType::Link, Some("opt/app-root/src/pkg/y.py")));
        assert!(second.content.is_empty());
    }

    #[test]
    fn excluded_entries_stay_out_and_reincluded_ones_keep_their_folders() {
        let dir = app_folder();
        let root = dir.path();
        write_file(root, ".git/config", "[core]\n", 0o644);
        write_file(root, ".venv/bin/python", "", 0o755);
        write_file(root, "pkg/.git", "gitdir: ../.git/modules/pkg\n", 0o644);
        write_file(root, "notes.md", "", 0o644);
        write_file(root, "README.md", "", 0o644);
        write_file(root, "logs/a.log", "", 0o644);
        write_file(root, "logs/keep/.keep", "", 0o644);
        let mut excludes = Excludes::new();
        excludes.add_patterns(Path::new(".dockerignore"), "*.md\n!README.md\nlogs\n!logs/keep/.keep\nbin/\n").unwrap();
        let (gzipped, _) = layer_bytes(&Spec { destination: "/", ..spec(root, &excludes) });
        let entries = entries(&gzipped, Epoch::DEFAULT_SECONDS);
        assert_eq!(
            paths(&entries),
            [
                "README.md",
                "logs/",
                "logs/keep/",
                "logs/keep/.keep",
                "pkg/",
                "pkg/__init__.py",
                "pkg/y.py",
                "pkg/z.py",
                "pkg-data/",
                "pkg-data/a.txt",
                "wsgi.py"
            ]
        );
    }

    #[test]
    fn long_names_and_link_targets_survive() {
        let dir = tempfile::tempdir().unwrap();
        let long_dir = "d".repeat(90);
        let long_file = format!("{long_dir}/{}.py", "f".repeat(120));
        write_file(dir.path(), &long_file, "long\n", 0o644);
        let target = format!("../{}", long_file);
        symlink(&target, dir.path().join(format!("{long_dir}/{}", "l".repeat(110)))).unwrap();
        std::fs::hard_link(dir.path().join(&long_file), dir.path().join(format!("{long_dir}/{}", "h".repeat(110)))).unwrap();
        let excludes = Excludes::new();
        let (gzipped, _) = layer_bytes(&spec(dir.path(), &excludes));
        let entries = entries(&gzipped, Epoch::DEFAULT_SECONDS);
        let base = "opt/app-root/src";
        let file = entries.iter().find(|e| e.path == format!("{base}/{long_file}")).unwrap();
        assert_eq!(file.content, b"long\n");
        let symlink = entries.iter().find(|e| e.kind == EntryType::Symlink).unwrap();
        assert_eq!(symlink.link.as_deref(), Some(target.as_str()));
        let hard = entries.iter().find(|e| e.kind == EntryType::Link).unwrap();
        assert_eq!(hard.link.as_deref(), Some(format!("{base}/{long_file}").as_str()));
    }

    #[test]
    fn source_date_epoch_sets_every_mtime() {
        let dir = app_folder();
        let excludes = Excludes::new();
        let epoch = Epoch::parse(Some("1700000000")).unwrap();
        let (gzipped, _) = layer_bytes(&Spec { epoch, ..spec(dir.path(), &excludes) });
        assert_eq!(entries(&gzipped, 1_700_000_000).len(), 11);
    }

    #[test]
    fn sockets_and_fifos_are_skipped_with_a_reason() {
        let dir = app_folder();
        nix::unistd::mkfifo(&dir.path().join("pipe"), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
        let excludes = Excludes::new();
        let (gzipped, written) = layer_bytes(&spec(dir.path(), &excludes));
        assert_eq!(
            written.skipped,
            [Skipped { path: PathBuf::from("pipe"), reason: "a FIFO" }, Skipped { path: PathBuf::from("sock"), reason: "a socket" }]
        );
        assert_eq!(entries(&gzipped, Epoch::DEFAULT_SECONDS).len(), 11);
    }

    #[test]
    fn a_blob_is_named_by_its_digest_and_nothing_else_is_left() {
        let dir = app_folder();
        let blobs = tempfile::tempdir().unwrap();
        let excludes = Excludes::new();
        let (layer, _) = write_blob(&spec(dir.path(), &excludes), blobs.path()).unwrap();
        assert_eq!(layer.path, blobs.path().join(layer.digest.hex()));
        assert_eq!(Digest::of(&std::fs::read(&layer.path).unwrap()), layer.digest);
        assert_eq!(std::fs::read_dir(blobs.path()).unwrap().count(), 1);
    }

    #[test]
    fn bad_destinations_and_folders_are_refused() {
        let dir = app_folder();
        let excludes = Excludes::new();
        for destination in ["opt/app", "/opt/../etc"] {
            let err = write(&Spec { destination, ..spec(dir.path(), &excludes) }, Vec::new()).unwrap_err();
            assert!(matches!(err, Error::Destination(_)), "{err}");
        }
        let missing = dir.path().join("missing");
        let err = write(&spec(&missing, &excludes), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn parents_come_first_with_their_owners() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), "x").unwrap();
        let excludes = Excludes::new();
        let parents = [("/opt", Owner::Root), ("/opt/app-root", Owner::App)];
        let (gzipped, _) = layer_bytes(&Spec { parents: &parents, ..spec(dir.path(), &excludes) });
        let mut tar = tar::Archive::new(GzDecoder::new(gzipped.as_slice()));
        let heads: Vec<(String, u64, u32)> = tar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().to_string_lossy().into_owned(), e.header().uid().unwrap(), e.header().mode().unwrap())
            })
            .collect();
        assert_eq!(heads[0], ("opt/".to_string(), 0, 0o755));
        assert_eq!(heads[1], ("opt/app-root/".to_string(), UID, 0o775));
        assert_eq!(heads[2].0, "opt/app-root/src/");
    }
}
