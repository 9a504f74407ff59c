//! Interpreters' answers to the query, remembered in warp's cache.
//!
//! Starting an interpreter only to ask its version costs more than the rest of a rebuild
//! that has nothing to do. An answer is kept for a real executable file (ELF, so no script
//! that could answer differently from one run to the next) and is recalled only while that
//! file is unchanged: same device, inode, size, modification and change times.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::QueryAnswer;
use crate::image::digest::Digest;

/// Where one interpreter's answer is kept, and the state of its file that the answer holds for.
pub struct Memo {
    path: PathBuf,
    stamp: String,
}

#[derive(Serialize, Deserialize)]
struct Record {
    stamp: String,
    answer: QueryAnswer,
}

impl Memo {
    /// The memo for `candidate`; `None` when its answer must not be kept: no cache folder,
    /// or not an executable file of machine code.
    pub fn for_candidate(candidate: &Path) -> Option<Memo> {
        let real = candidate.canonicalize().ok()?;
        let meta = std::fs::metadata(&real).ok()?;
        let mut magic = [0u8; 4];
        std::fs::File::open(&real).ok()?.read_exact(&mut magic).ok()?;
        if magic != *b"\x7fELF" {
            return None;
        }
        let stamp = format!(
            "{}:{}:{}:{}.{}:{}.{}",
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ctime(),
            meta.ctime_nsec()
        );
        let name = Digest::of(real.as_os_str().as_encoded_bytes()).hex();
        let path = crate::layout::cache_dir().ok()?.join("interpreters").join(format!("{name}.json"));
        Some(Memo { path, stamp })
    }

    /// The answer kept for this state of the file, if any.
    pub fn recalled(&self) -> Option<QueryAnswer> {
        let record: Record = serde_json::from_slice(&std::fs::read(&self.path).ok()?).ok()?;
        (record.stamp == self.stamp).then_some(record.answer)
    }

    /// Keep `answer`; a cache that cannot be written only costs the next run the query.
    pub fn remember(&self, answer: &QueryAnswer) {
        let Some(dir) = self.path.parent() else { return };
        let record = Record { stamp: self.stamp.clone(), answer: answer.clone() };
        let kept = std::fs::create_dir_all(dir).ok().and_then(|()| tempfile::NamedTempFile::new_in(dir).ok()).and_then(|mut file| {
            serde_json::to_writer(&mut file, &record).ok()?;
            file.persist(&self.path).ok()
        });
        drop(kept);
    }
}
