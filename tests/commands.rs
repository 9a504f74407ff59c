//! `warp project`, `exec`, `shell`, `env`, `fixup` and the help texts.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{run_fails, run_ok, Sandbox};

/// A sandbox with the hello example built (a venv with no packages).
fn built() -> Sandbox {
    let sandbox = Sandbox::example("hello");
    sandbox.ok(&["build"]);
    sandbox
}

/// Run `warp ARGS` with `input` on stdin; returns stdout + stderr.
fn with_stdin(cmd: &mut std::process::Command, input: &str) -> String {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn help_lists_every_command_with_examples() {
    let sandbox = Sandbox::new();
    let help = sandbox.ok(&["--help"]);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        commands,
        [
            "build", "start", "project", "exec", "shell", "env", "fixup", "config", "image", "s2i", "manifest", "recorder", "setup",
            "migrate", "verify", "alive", "ready", "help"
        ],
        "{help}"
    );
    for command in &commands[..commands.len() - 1] {
        let text = sandbox.ok(&[command, "--help"]);
        assert!(text.contains("Examples:"), "{command} --help has examples:\n{text}");
        // Each example, up to the first blank line, shows this command and no other.
        let examples = text.lines().skip_while(|l| !l.starts_with("Examples:")).skip(1).take_while(|l| !l.trim().is_empty());
        for example in examples {
            assert!(example.contains(&format!("warp {command}")), "{command} --help shows another command: {example}");
        }
    }
    sandbox.fails(&["no-such-command"], 2);
}

#[test]
fn project_print_env_creates_then_reuses_the_venv() {
    let sandbox = Sandbox::new();
    let out = run_ok(sandbox.warp(&["project", "blog", "--print-env"]).stderr(Stdio::null()));
    let venv = sandbox.home().join("projects/blog");
    assert!(out.contains(&format!("export VIRTUAL_ENV='{}'", venv.display())), "{out}");
    assert!(out.contains("export WARP_PROJECT='blog'"), "{out}");
    assert!(out.contains(&format!("export PATH='{}/bin:", venv.display())), "{out}");
    let cfg = venv.join("pyvenv.cfg");
    // Dated in the past, so a venv written again would show it whatever the clock's grain.
    let first = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    std::fs::File::options().write(true).open(&cfg).unwrap().set_modified(first).unwrap();
    sandbox.ok(&["project", "blog", "--print-env"]);
    assert_eq!(std::fs::metadata(&cfg).unwrap().modified().unwrap(), first, "the venv was reused");
}

#[test]
fn project_with_a_python_version() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["project", "py311", "--python", "3.11", "--print-env"]);
    let venv = sandbox.home().join("projects/py311");
    assert_eq!(sandbox.python(&venv, "import sys; print(sys.version_info[:2])"), "(3, 11)");
}

#[test]
fn project_names_are_checked() {
    let sandbox = Sandbox::new();
    for name in ["../x", ".hidden", "a b"] {
        let err = sandbox.fails(&["project", name, "--print-env"], 1);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&format!("project name {name:?} is not valid")), "{err}");
    }
    assert!(!sandbox.home().join("projects").exists());
}

#[test]
fn project_starts_a_shell_with_the_venv_active() {
    let sandbox = Sandbox::new();
    let out = with_stdin(
        sandbox.warp(&["project", "shop"]).env("SHELL", "/bin/sh"),
        "echo \"in:$WARP_PROJECT|$VIRTUAL_ENV|$(command -v python)\"\n",
    );
    let venv = sandbox.home().join("projects/shop");
    assert!(out.contains(&format!("in:shop|{}|{}/bin/python", venv.display(), venv.display())), "{out}");
}

#[test]
fn build_inside_a_project_installs_into_its_venv() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["project", "inproj", "--print-env"]);
    let venv = sandbox.home().join("projects/inproj");
    sandbox.write("requirements.txt", "six==1.16.0\n");
    run_ok(sandbox.warp(&["build"]).env("VIRTUAL_ENV", &venv));
    assert!(sandbox.imports(&venv, "six"));
    assert!(!sandbox.venv().exists(), "no .venv in the app");
}

#[test]
fn exec_passes_the_exit_code_through() {
    let sandbox = built();
    run_fails(&mut sandbox.warp(&["exec", "sh", "-c", "exit 7"]), 7);
    let err = sandbox.fails(&["exec", "no-such-command-zz"], 127);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: no-such-command-zz: command not found"), "{err}");
}

#[test]
fn exec_before_build_says_to_build() {
    let sandbox = Sandbox::example("hello");
    let err = sandbox.fails(&["exec", "true"], 1);
    assert!(err.contains("run `warp build` first"), "{err}");
}

#[test]
fn exec_runs_in_the_app_environment() {
    let sandbox = built();
    sandbox.write(".s2i/environment", "FROM_S2I=s2i\nBOTH=s2i\nSET_OUTSIDE=file\n");
    sandbox.write(".warp/environment", "FROM_WARP=warp\nBOTH=warp\n");
    sandbox.write_exec(".warp/action_hooks/deploy-env", "#!/bin/sh\necho FROM_DEPLOY=deployed\n");
    let out = run_ok(
        sandbox
            .warp(&[
                "exec",
                "sh",
                "-c",
                "echo \"$VIRTUAL_ENV|$(command -v python)|$FROM_S2I|$FROM_WARP|$BOTH|$SET_OUTSIDE|$FROM_DEPLOY|$(pwd)\"",
            ])
            .env("SET_OUTSIDE", "process"),
    );
    let app = sandbox.app().canonicalize().unwrap();
    let venv = app.join(".venv");
    let expected = format!("{}|{}/bin/python|s2i|warp|warp|process|deployed|{}", venv.display(), venv.display(), app.display());
    assert!(out.lines().any(|l| l == expected), "expected {expected}\n{out}");
}

#[test]
fn exec_reads_a_warpdrive_folder_and_honours_src() {
    let sandbox = built();
    sandbox.write(".warpdrive/environment", "LEGACY=1\n");
    let elsewhere = sandbox.root().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let app = sandbox.app().canonicalize().unwrap();
    let out = run_ok(
        sandbox.warp(&["exec", "--src", app.to_str().unwrap(), "sh", "-c", "echo \"legacy=$LEGACY pwd=$(pwd)\""]).current_dir(&elsewhere),
    );
    assert!(out.contains(&format!("legacy=1 pwd={}", app.display())), "{out}");
}

#[test]
fn exec_leaves_signals_to_the_command() {
    let sandbox = built();
    let ready = sandbox.root().join("ready");
    let got = sandbox.root().join("got-term");
    let script = format!(
        "import signal, sys, time, pathlib\n\
         def on_term(*_):\n    pathlib.Path({got:?}).write_text('term')\n    sys.exit(42)\n\
         signal.signal(signal.SIGTERM, on_term)\n\
         pathlib.Path({ready:?}).write_text('')\n\
         time.sleep(30)\n",
        got = got.to_str().unwrap(),
        ready = ready.to_str().unwrap()
    );
    let mut child = sandbox.warp(&["exec", "python", "-c", &script]).spawn().unwrap();
    let start = Instant::now();
    while !ready.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "term");
}

#[test]
fn env_prints_exports_that_a_shell_can_eval() {
    let sandbox = built();
    sandbox.write(".warp/environment", "TRICKY=it's $HOME \"quoted\"\n");
    let out = sandbox.ok(&["env"]);
    assert!(out.contains("export VIRTUAL_ENV="), "{out}");
    let exports: String = out.lines().filter(|l| l.starts_with("export ") || l.starts_with("unset ")).map(|l| format!("{l}\n")).collect();
    let check = std::process::Command::new("sh").args(["-c", &format!("{exports}printf %s \"$TRICKY\"")]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&check.stdout), "it's $HOME \"quoted\"");
}

#[test]
fn shell_runs_in_the_app_folder_with_the_venv() {
    let sandbox = built();
    let out = with_stdin(sandbox.warp(&["shell"]).env("SHELL", "/bin/sh"), "echo \"venv=$VIRTUAL_ENV\"; echo \"pwd=$(pwd)\"\n");
    let app = sandbox.app().canonicalize().unwrap();
    assert!(out.contains(&format!("venv={}", app.join(".venv").display())), "{out}");
    assert!(out.contains(&format!("pwd={}", app.display())), "{out}");
}

#[test]
fn fixup_gives_the_tree_to_group_zero_without_following_links() {
    let sandbox = Sandbox::new();
    let tree = sandbox.root().join("tree");
    let outside = sandbox.root().join("outside.txt");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("run.sh"), "").unwrap();
    std::fs::write(tree.join("sub/data"), "").unwrap();
    std::fs::write(&outside, "").unwrap();
    std::os::unix::fs::symlink(&outside, tree.join("link")).unwrap();
    let set_mode = |p: &Path, mode| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    set_mode(&tree.join("run.sh"), 0o700);
    set_mode(&tree.join("sub"), 0o750);
    set_mode(&tree.join("sub/data"), 0o640);
    set_mode(&outside, 0o600);
    for path in [tree.clone(), tree.join("run.sh"), tree.join("sub"), tree.join("sub/data"), tree.join("link"), outside.clone()] {
        std::os::unix::fs::lchown(&path, None, Some(1234)).unwrap();
    }

    let out = sandbox.ok(&["fixup", tree.to_str().unwrap()]);
    assert!(out.contains("5 entries, 5 given group 0"), "{out}");

    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&tree.join("run.sh")), 0o770);
    assert_eq!(mode(&tree.join("sub")), 0o770);
    assert_eq!(mode(&tree.join("sub/data")), 0o660);
    for path in [tree.clone(), tree.join("run.sh"), tree.join("sub"), tree.join("sub/data"), tree.join("link")] {
        assert_eq!(std::fs::symlink_metadata(&path).unwrap().gid(), 0, "{}", path.display());
    }
    assert_eq!(mode(&outside), 0o600, "the link's target is outside the tree and untouched");
    assert_eq!(std::fs::metadata(&outside).unwrap().gid(), 1234);

    let again = sandbox.ok(&["fixup", tree.to_str().unwrap()]);
    assert!(again.contains("5 entries, 0 given group 0, 0 given group permissions"), "{again}");
}

#[test]
fn fixup_refuses_what_is_not_a_folder() {
    let sandbox = Sandbox::new();
    let err = sandbox.fails(&["fixup", "/nonexistent/dir"], 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    let file = sandbox.write("file.txt", "");
    let err = sandbox.fails(&["fixup", file.to_str().unwrap()], 1);
    assert!(err.contains("is not a directory"), "{err}");
}

#[test]
fn apps_never_run_with_an_ascii_locale() {
    let sandbox = Sandbox::new();
    sandbox.write("wsgi.py", "application = None\n");
    sandbox.ok(&["build"]);
    let probe = "import locale, os; print(os.environ['LANG'], os.environ['LC_ALL'], locale.getpreferredencoding())";
    for lang in [None, Some("C"), Some("POSIX")] {
        let mut cmd = sandbox.warp(&["exec", "python", "-c", probe]);
        cmd.env_remove("LC_ALL").env_remove("LC_CTYPE");
        match lang {
            Some(lang) => cmd.env("LANG", lang),
            None => cmd.env_remove("LANG"),
        };
        let out = crate::util::run_ok(&mut cmd);
        let words: Vec<&str> = out.split_whitespace().collect();
        assert!(matches!(words.as_slice(), [l, a, "UTF-8"] if l == a && l.ends_with(".UTF-8")), "{lang:?}: {out}");
    }
    // A UTF-8 locale of the user's own is kept.
    let mut cmd = sandbox.warp(&["exec", "python", "-c", "import os; print(os.environ['LANG'], os.environ.get('LC_ALL'))"]);
    cmd.env("LANG", "C.UTF-8").env_remove("LC_ALL");
    assert_eq!(crate::util::run_ok(&mut cmd).trim(), "C.UTF-8 None");
}

/// Python's stdio is UTF-8, as in the OpenShift Python builder's images, unless the user
/// chose an encoding (inherited or in an environment file).
#[test]
fn stdio_is_utf8_unless_the_user_chose_an_encoding() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["build"]);
    let probe = "import os, sys; print(os.environ.get('PYTHONIOENCODING'), sys.stdout.encoding)";
    let run = |cmd: &mut std::process::Command| crate::util::run_ok(cmd.env_remove("PYTHONIOENCODING")).trim().to_owned();
    // Even beside a locale that is not ASCII (which warp keeps), and where it would differ.
    let mut cmd = sandbox.warp(&["exec", "python", "-c", probe]);
    assert_eq!(run(cmd.env("LANG", "C.UTF-8").env("LC_ALL", "C.UTF-8")), "UTF-8 utf-8");
    let mut cmd = sandbox.warp(&["exec", "python", "-c", probe]);
    assert_eq!(run(cmd.env("LC_ALL", "en_US.ISO-8859-1")), "UTF-8 utf-8");
    let mut cmd = sandbox.warp(&["exec", "python", "-c", probe]);
    assert_eq!(crate::util::run_ok(cmd.env("PYTHONIOENCODING", "latin-1")).trim(), "latin-1 iso8859-1");
    sandbox.write(".s2i/environment", "PYTHONIOENCODING=ascii\n");
    let mut cmd = sandbox.warp(&["exec", "python", "-c", probe]);
    assert_eq!(run(&mut cmd), "ascii ascii");
}
