//! The test harness: a fresh folder per test, the real binary, a PyPI cache shared by all.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// One test's world: an app folder and a private WARP_HOME.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

/// Downloads are shared by every test (and kept between runs) so the suite stays fast.
pub fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("warp-test-cache")
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new().prefix("warp-test-").tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("app")).unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        Sandbox { dir }
    }

    /// A sandbox whose app is a copy of `examples/NAME`.
    pub fn example(name: &str) -> Sandbox {
        let sandbox = Sandbox::new();
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name);
        copy_tree(&from, &sandbox.app());
        sandbox
    }

    /// A built sandbox whose app is the misbehaving test app, tests/fixtures/robust.
    pub fn robust() -> Sandbox {
        Sandbox::built_from("robust")
    }

    /// A sandbox whose app is `tests/fixtures/NAME/wsgi.py`, built.
    pub fn built_from(name: &str) -> Sandbox {
        let sandbox = Sandbox::new();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).join("wsgi.py");
        std::fs::copy(fixture, sandbox.app().join("wsgi.py")).unwrap();
        sandbox.ok(&["build"]);
        sandbox
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn app(&self) -> PathBuf {
        self.dir.path().join("app")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn venv(&self) -> PathBuf {
        self.app().join(".venv")
    }

    /// Write `content` to `rel` under the app, creating folders.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.app().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Write an executable script (an action hook) under the app.
    pub fn write_exec(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.write(rel, content);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// `warp ARGS` in the app folder, with a clean warp environment.
    pub fn warp(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_warp"));
        cmd.args(args).current_dir(self.app());
        for (key, _) in std::env::vars() {
            if key.starts_with("WARP_") {
                cmd.env_remove(key);
            }
        }
        cmd.env_remove("VIRTUAL_ENV")
            .env_remove("APP_ROOT")
            .env_remove("PYTHONHOME")
            .env("WARP_HOME", self.home())
            .env("WARP_CACHE_DIR", shared_cache())
            .env("WARP_INSTALLER", "uv")
            // The tests run as root on CI machines; tests/setup_and_privileges.rs covers the refusal.
            .env("WARP_ALLOW_ROOT", "1");
        cmd
    }

    /// Run `warp ARGS` and require success; returns stdout + stderr for assertions.
    pub fn ok(&self, args: &[&str]) -> String {
        run_ok(&mut self.warp(args))
    }

    /// Run `warp ARGS` and require failure with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        run_fails(&mut self.warp(args), code)
    }

    /// Run the venv's python with `code`; returns trimmed stdout.
    pub fn python(&self, venv: &Path, code: &str) -> String {
        let out = Command::new(venv.join("bin/python")).args(["-c", code]).current_dir(self.root()).output().expect("venv python runs");
        assert!(out.status.success(), "python -c {code:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Whether the venv's python can import `module`.
    pub fn imports(&self, venv: &Path, module: &str) -> bool {
        Command::new(venv.join("bin/python"))
            .args(["-c", &format!("import {module}")])
            .current_dir(self.root())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("warp runs");
    let text = combined(&out);
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{text}", out.status);
    text
}

pub fn run_fails(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().expect("warp runs");
    assert_eq!(out.status.code(), Some(code), "{cmd:?}: unexpected status; output:\n{}", combined(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn combined(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if [".venv", "staticfiles", "__pycache__", "db.sqlite3"].iter().any(|skip| name == *skip) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Whether `program --version` runs and succeeds.
pub fn have(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// A test's prerequisite: missing, the test fails and says what to install (CI installs
/// it; see .ci/run), rather than passing without having tested anything.
pub fn require(present: bool, what: &str) {
    assert!(present, "this test needs {what}, which this machine lacks: install it, or skip the test by name");
}

/// A test that needs root (CI runs the suite as root).
pub fn require_root(why: &str) {
    require(nix::unistd::Uid::effective().is_root(), &format!("root ({why}): run the suite as root, as CI does"));
}

/// Wait until the robust fixture's app has been called for `path` (`count` times in all):
/// each call is a line of its `started.log`, written before the app does anything else.
pub fn wait_until_called(sandbox: &Sandbox, path: &str, count: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let calls = || {
        let text = std::fs::read_to_string(sandbox.app().join("started.log")).unwrap_or_default();
        text.lines().filter(|line| *line == path).count()
    };
    while calls() < count {
        assert!(std::time::Instant::now() < deadline, "the app was not called for {path} {count} time(s) within 10s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Poll `probe` until it holds, failing after `within`: for what the server shows only by
/// its state (a file written, a worker replaced), with no event to wait on.
pub fn eventually(within: Duration, what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !probe() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
