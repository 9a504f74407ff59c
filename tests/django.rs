//! examples/django as its README runs it, from the folder above: `warp build` (collectstatic,
//! the admin's files included), `warp migrate` (SQLite, the notes app's migrations), and
//! `warp start` serving a page read from the database and the admin's stylesheet.

use std::process::Command;

use crate::rawhttp::get;
use crate::running::Server;
use crate::util::{run_ok, Sandbox};

/// `warp ARGS` run from the sandbox's root, where the app is the folder `app`.
fn from_above(sandbox: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = sandbox.warp(args);
    cmd.current_dir(sandbox.root());
    cmd
}

/// How many notes the database at `path` holds.
fn notes_in(sandbox: &Sandbox, path: &std::path::Path) -> String {
    let query = format!(
        "import sqlite3; print(sqlite3.connect({:?}).execute('select count(*) from notes_note').fetchone()[0])",
        path.display().to_string()
    );
    sandbox.python(&sandbox.venv(), &query)
}

#[test]
fn the_django_example_builds_migrates_and_serves_from_its_database() {
    let sandbox = Sandbox::example("django");
    run_ok(&mut from_above(&sandbox, &["build", "app"]));
    assert!(sandbox.app().join("staticfiles/admin/css/base.css").is_file(), "collectstatic gathered the admin's files");
    assert!(!sandbox.app().join("db.sqlite3").exists());

    let out = run_ok(&mut from_above(&sandbox, &["migrate", "app"]));
    assert!(out.contains("django migrate") && out.contains("OK"), "{out}");
    assert_eq!(notes_in(&sandbox, &sandbox.app().join("db.sqlite3")), "1", "the data migration added the first note");

    let server = Server::launch(from_above(&sandbox, &["start", "app"]), sandbox.root());
    let port = server.port;
    let page = get(port, "/");
    assert_eq!(page.status, 200, "{}\n{}", page.text(), server.log());
    assert!(page.text().contains("<li>Hello from the database: this note was added by a migration.</li>"), "{}", page.text());
    let css = get(port, "/static/admin/css/base.css");
    assert_eq!(css.status, 200, "{}", server.log());
    assert!(css.header("content-type").is_some_and(|t| t.starts_with("text/css")), "{:?}", css.header("content-type"));
    let login = get(port, "/admin/login/");
    assert_eq!(login.status, 200, "{}\n{}", login.text(), server.log());
    assert!(login.text().contains("/static/admin/css/base.css"), "{}", login.text());
    assert!(server.stop().success());

    // Where the source is read-only, DATABASE_PATH puts the database elsewhere.
    let elsewhere = sandbox.root().join("data.sqlite3");
    run_ok(from_above(&sandbox, &["migrate", "app"]).env("DATABASE_PATH", &elsewhere));
    assert_eq!(notes_in(&sandbox, &elsewhere), "1");
}
