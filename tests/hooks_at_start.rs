//! The hooks around serving: `deploy-cfg` once per app root, `deploy-env` and `deploy` on
//! every start, and `warp setup`, `warp migrate`, `warp verify` on demand.

use crate::rawhttp::get;
use crate::running::Server;
use crate::util::Sandbox;

/// A hook that appends its name (and `$FROM_DEPLOY_ENV`, when set) to hooks.log.
fn logging_hook(app: &Sandbox, name: &str) {
    app.write_exec(&format!(".warp/action_hooks/{name}"), &format!("#!/bin/sh\necho \"{name} ${{FROM_DEPLOY_ENV:-}}\" >> hooks.log\n"));
}

fn hooks_log(app: &Sandbox) -> String {
    std::fs::read_to_string(app.app().join("hooks.log")).unwrap_or_default()
}

#[test]
fn start_runs_deploy_cfg_once_then_deploy_env_and_deploy_every_time() {
    let app = Sandbox::robust();
    logging_hook(&app, "deploy-cfg");
    logging_hook(&app, "deploy");
    app.write_exec(".warp/action_hooks/deploy-env", "#!/bin/sh\necho deploy-env >> hooks.log\necho FROM_DEPLOY_ENV=yes\n");
    for _ in 0..2 {
        let server = Server::start(&app, &["start"]);
        assert_eq!(get(server.port, "/").status, 200);
        assert!(server.stop().success());
    }
    assert_eq!(hooks_log(&app), "deploy-cfg \ndeploy-env\ndeploy yes\ndeploy-env\ndeploy yes\n");
}

#[test]
fn a_failing_deploy_hook_stops_the_start() {
    let app = Sandbox::robust();
    app.write_exec(".warp/action_hooks/deploy", "#!/bin/sh\necho 'database unreachable'\nexit 4\n");
    let out = app.fails(&["start"], 1);
    assert!(out.contains("action hook deploy") && out.contains("4") && out.contains("database unreachable"), "{out}");
}

#[test]
fn setup_migrate_and_verify_run_their_hooks_on_demand() {
    let app = Sandbox::robust();
    for hook in ["setup", "migrate"] {
        logging_hook(&app, hook);
        app.ok(&[hook]);
    }
    assert_eq!(hooks_log(&app), "setup \nmigrate \n");
    let out = app.ok(&["verify"]);
    assert!(out.contains("no verify hook"), "{out}");
    app.write_exec(".warp/action_hooks/verify", "#!/bin/sh\necho 'cache is cold'\nexit 3\n");
    let out = app.fails(&["verify"], 1);
    assert!(out.contains("action hook verify") && out.contains("cache is cold"), "{out}");
}

#[test]
fn migrate_without_a_hook_runs_djangos_migrate() {
    let app = Sandbox::example("django");
    app.ok(&["build"]);
    app.ok(&["migrate"]);
    let tables = app.python(
        &app.venv(),
        &format!(
        "import sqlite3; print(sqlite3.connect({:?}).execute(\"select count(*) from sqlite_master where name='auth_user'\").fetchone()[0])",
        app.app().join("db.sqlite3").display().to_string()
    ),
    );
    assert_eq!(tables, "1");
}
