//! The offline base image the engine tests build on: no registry can be pulled from on the
//! machines the suite runs on, so a Debian bookworm root with python3, python3-venv and
//! ca-certificates is made with mmdebstrap (from Debian's mirror, about 40 s) and imported
//! through warp's own engine client. It is kept under [`TAG`] and reused while present, so a
//! machine pays for it once; a lock file keeps concurrent tests (and concurrent suites) from
//! making it twice.

use std::path::Path;
use std::process::Command;

use nix::fcntl::{Flock, FlockArg};
use warp::image::engine::{Engine, ImageInfo};
use warp::image::Reference;

use crate::util::{require, run_ok};

/// The base image's name in the engine.
pub const TAG: &str = "warp-test-base:bookworm";

/// What `docker import` of a bare root lacks that images usually have.
const CHANGES: [&str; 3] =
    ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8", r#"CMD ["python3"]"#];

/// The engine, required: the engine tests fail and say so when none answers.
pub fn engine() -> Engine {
    Engine::connect().unwrap_or_else(|err| panic!("these tests need a running Docker engine: {err}"))
}

/// The base image, made and imported when the engine lacks it.
pub fn base_image(engine: &Engine) -> ImageInfo {
    // The engine is shared by every suite on the machine, so the lock is too.
    let lock_path = std::env::temp_dir().join("warp-test-base-bookworm.lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).expect("lock file");
    let _lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| errno).expect("lock the base image's lock file");
    if let Some(info) = engine.inspect(TAG).expect("inspect the base image") {
        return info;
    }
    // Said on stderr because this one test is slow where the others are not.
    eprintln!("making the offline base image {TAG} (once per machine)");
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs.tar");
    make_rootfs(&rootfs);
    let made = started.elapsed();
    let changes: Vec<String> = CHANGES.iter().map(|c| c.to_string()).collect();
    let info = engine.import(&rootfs, &Reference::parse(TAG).unwrap(), &changes).expect("import the base image");
    eprintln!(
        "made {TAG} in {:.1} s (mmdebstrap {:.1} s, import {:.1} s)",
        started.elapsed().as_secs_f64(),
        made.as_secs_f64(),
        (started.elapsed() - made).as_secs_f64()
    );
    info
}

/// Debian bookworm, minimal, with Python, as one tar.
fn make_rootfs(out: &Path) {
    let have = Command::new("mmdebstrap").arg("--version").output().is_ok_and(|o| o.status.success());
    require(have, "mmdebstrap (apt-get install mmdebstrap) to make the offline base image");
    run_ok(
        Command::new("mmdebstrap")
            .args(["--quiet", "--variant=minbase", "--include=python3,python3-venv,ca-certificates", "bookworm"])
            .arg(out),
    );
}
