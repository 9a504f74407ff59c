//! Folders the workers write into (`--enable-recorder`, `--enable-profiler`,
//! `--enable-coverage`), made ready by the master before any worker starts, so that a
//! folder they cannot use is one line at start rather than an error in every worker.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::settings::{Id, SettingError, Settings};
use crate::start::plan;
use crate::start::serve::privileges::Credentials;
use crate::start::serve::supervisor::Plan;

/// Make the folders ready before a worker starts: each created when missing (and given to
/// the workers' user, when they run as another), and writable by the workers. Refused with
/// one line, naming its setting, when one is not a folder or they cannot write to it.
pub fn prepare(settings: &Settings, plan: &Plan) -> Result<(), SettingError> {
    let w = &plan.worker;
    let folders = [
        (Id::EnableRecorder, w.recorder.as_ref().map(|recorder| recorder.dir.as_str())),
        (Id::EnableProfiler, w.profiler_dir.as_deref()),
        (Id::EnableCoverage, w.coverage_dir.as_deref()),
    ];
    for (id, dir) in folders {
        if let Some(dir) = dir {
            prepare_one(settings, id, Path::new(dir), plan.credentials.as_ref())?;
        }
    }
    Ok(())
}

fn prepare_one(settings: &Settings, id: Id, dir: &Path, workers: Option<&Credentials>) -> Result<(), SettingError> {
    let refuse = |message: String| SettingError::new(plan::place(settings, id), message);
    if dir.exists() && !dir.is_dir() {
        return Err(refuse(format!("{} is not a folder: name a folder, which is created when missing", dir.display())));
    }
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(|err| {
            refuse(format!("cannot create {} ({err}): create it yourself, or name a folder warp can create", dir.display()))
        })?;
        if let Some(workers) = workers {
            nix::unistd::chown(dir, Some(workers.uid), Some(workers.gid))
                .map_err(|err| refuse(format!("cannot give {} to {} ({err}): give it to them yourself", dir.display(), workers.name)))?;
        }
    }
    // Creating a file is what tells a read-only file system, or an ACL, from a folder the
    // mode bits allow.
    tempfile::NamedTempFile::new_in(dir)
        .map_err(|err| refuse(format!("cannot write to {} ({err}): make it writable, or name another folder", dir.display())))?;
    match workers {
        Some(workers) if !writable_by(dir, workers) => Err(refuse(format!(
            "the workers run as {name}, who cannot write to {dir}: give them the folder (chown {name} {dir}), or name another",
            name = workers.name,
            dir = dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Whether `workers` may create files in `dir`, as its mode bits say (write and search)
/// for its owner, its group or others.
fn writable_by(dir: &Path, workers: &Credentials) -> bool {
    let Ok(meta) = fs::metadata(dir) else { return false };
    if workers.uid.is_root() {
        return true;
    }
    let bits = if meta.uid() == workers.uid.as_raw() {
        meta.mode() >> 6
    } else if workers.groups.iter().any(|group| group.as_raw() == meta.gid()) {
        meta.mode() >> 3
    } else {
        meta.mode()
    };
    bits & 0o3 == 0o3
}
