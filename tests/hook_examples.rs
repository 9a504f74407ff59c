//! The example action hooks in hooks/: each is installed into an app as a user would copy
//! it, run by the warp command that triggers it, and judged by what it did.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::probes::probe;
use crate::rawhttp::get;
use crate::running::{reserve_port, Server};
use crate::util::{run_fails, run_ok, Sandbox};

const HOOKS: [&str; 11] =
    ["pre-build", "build-env", "build", "deploy-cfg", "deploy-env", "deploy", "setup", "migrate", "verify", "alive", "ready"];

fn example_hook(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks").join(name)
}

/// Copy hooks/NAME into the app's `.warp/action_hooks/` (the copy keeps its mode).
fn install(app: &Sandbox, name: &str) {
    let to = app.app().join(".warp/action_hooks").join(name);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(example_hook(name), to).unwrap();
}

/// examples/flask, built.
fn flask() -> Sandbox {
    let app = Sandbox::example("flask");
    app.ok(&["build"]);
    app
}

/// `warp start` on the app, once a worker has loaded it and answered: a probe run before
/// that would time out on a busy machine.
fn serving(app: &Sandbox) -> Server {
    let server = Server::start(app, &["start"]);
    assert_eq!(get(server.port, "/").status, 200);
    server
}

/// A small Django project on sqlite with contrib's auth (users, groups) and one static
/// file. Written here rather than copied from examples/django, so these tests hold
/// whatever that example grows into. `extra_settings` is appended to settings.py.
fn django_project(extra_settings: &str) -> Sandbox {
    let app = Sandbox::new();
    app.write("requirements.txt", "Django>=4.2,<6\n");
    app.write(
        "manage.py",
        "import os, sys\n\
         if __name__ == \"__main__\":\n    \
             os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"shop.settings\")\n    \
             from django.core.management import execute_from_command_line\n    \
             execute_from_command_line(sys.argv)\n",
    );
    app.write("shop/__init__.py", "");
    app.write(
        "shop/settings.py",
        &format!(
            "import os\nfrom pathlib import Path\n\
             BASE_DIR = Path(__file__).resolve().parent.parent\n\
             SECRET_KEY = os.environ.get(\"DJANGO_SECRET_KEY\", \"a-test-key-that-is-long-enough-for-the-checks-0123456789-abcdef\")\n\
             DEBUG = False\n\
             ALLOWED_HOSTS = [\"*\"]\n\
             INSTALLED_APPS = [\"django.contrib.contenttypes\", \"django.contrib.auth\", \"django.contrib.staticfiles\"]\n\
             ROOT_URLCONF = \"shop.urls\"\n\
             WSGI_APPLICATION = \"shop.wsgi.application\"\n\
             DATABASES = {{\"default\": {{\"ENGINE\": \"django.db.backends.sqlite3\", \"NAME\": BASE_DIR / \"db.sqlite3\"}}}}\n\
             DEFAULT_AUTO_FIELD = \"django.db.models.BigAutoField\"\n\
             STATIC_URL = \"static/\"\n\
             STATICFILES_DIRS = [BASE_DIR / \"static\"]\n\
             STATIC_ROOT = BASE_DIR / \"staticfiles\"\n\
             USE_TZ = True\n\
             {extra_settings}"
        ),
    );
    app.write(
        "shop/urls.py",
        "from django.http import HttpResponse\nfrom django.urls import path\n\
         urlpatterns = [path(\"\", lambda request: HttpResponse(\"shop\"))]\n",
    );
    app.write(
        "shop/wsgi.py",
        "import os\nfrom django.core.wsgi import get_wsgi_application\n\
         os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"shop.settings\")\n\
         application = get_wsgi_application()\n",
    );
    app.write("static/site.css", "body { margin: 0 }\n");
    app
}

/// The rows `query` finds in the app's sqlite database `db`, as Python prints them.
fn sql(app: &Sandbox, db: &str, query: &str) -> String {
    let db = app.app().join(db);
    app.python(
        &app.venv(),
        &format!("import sqlite3; print(sqlite3.connect({:?}).execute({query:?}).fetchall())", db.display().to_string()),
    )
}

#[test]
fn every_example_hook_is_documented_and_passes_sh_n_and_shellcheck() {
    let dir = example_hook("");
    let mut found: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    found.sort();
    let mut expected: Vec<String> = HOOKS.iter().map(|h| h.to_string()).chain(["README.md".to_owned()]).collect();
    expected.sort();
    assert_eq!(found, expected, "hooks/ holds one example per hook name and its README");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let mut scripts = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src/start/serve/warpctl.sh")];
    for name in HOOKS {
        let path = example_hook(name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!("#!/bin/sh\n# warp action hook: {name}. ")), "{name}: header");
        for field in ["# When:", "# Runs:", "# Output:", "# Exit:", &format!("# Use: copy to .warp/action_hooks/{name} ")] {
            assert!(text.contains(field), "{name} does not document {field:?}");
        }
        assert!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o111 == 0o111, "{name} is not executable");
        assert!(readme.contains(&format!("| [`{name}`]({name}) |")), "hooks/README.md has no row for {name}");
        scripts.push(path);
    }
    for script in &scripts {
        let out = Command::new("sh").arg("-n").arg(script).output().unwrap();
        assert!(out.status.success(), "sh -n {}:\n{}", script.display(), String::from_utf8_lossy(&out.stderr));
    }
    // .ci/run installs shellcheck; every warning counts.
    let out = Command::new("shellcheck").arg("--shell=sh").args(&scripts).output().expect("shellcheck runs (apt-get install shellcheck)");
    assert!(out.status.success(), "shellcheck:\n{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn pre_build_stops_the_build_before_any_install_when_a_tool_is_missing() {
    let app = Sandbox::example("flask");
    install(&app, "pre-build");
    app.write(".warp/environment", "REQUIRED_COMMANDS=sh no-such-tool-for-warp\n");
    let err = app.fails(&["build"], 1);
    assert!(err.contains("action hook pre-build") && err.contains("missing on this system: no-such-tool-for-warp"), "{err}");
    assert!(!app.imports(&app.venv(), "flask"), "the dependencies were installed after pre-build failed");
    app.write(".warp/environment", "REQUIRED_COMMANDS=sh\n");
    let out = app.ok(&["build"]);
    assert!(out.contains("pre-build: the system has what the build needs"), "{out}");
    assert!(app.imports(&app.venv(), "flask"));
}

#[test]
fn build_env_lets_collectstatic_load_settings_that_demand_a_secret_key() {
    let app = django_project("SECRET_KEY = os.environ[\"DJANGO_SECRET_KEY\"]\n");
    let err = app.fails(&["build"], 1);
    assert!(err.contains("DJANGO_SECRET_KEY"), "without the hook collectstatic cannot load the settings:\n{err}");
    install(&app, "build-env");
    app.ok(&["build"]);
    assert!(app.app().join("staticfiles/site.css").is_file(), "collectstatic did not run");
    // The build's key stays in the build.
    let env = app.ok(&["env"]);
    assert!(!env.contains("DJANGO_SECRET_KEY"), "{env}");
}

#[test]
fn build_compiles_babel_catalogs() {
    let app = Sandbox::example("flask");
    app.write("requirements.txt", "Flask>=3.0,<4\nBabel>=2.12\n");
    app.write(
        "translations/de/LC_MESSAGES/messages.po",
        "msgid \"\"\nmsgstr \"\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n\nmsgid \"Hello\"\nmsgstr \"Hallo\"\n",
    );
    install(&app, "build");
    let out = app.ok(&["build"]);
    assert!(out.contains("build: compiled the catalogs in translations/"), "{out}");
    let translated = app.python(
        &app.venv(),
        &format!(
            "import gettext; print(gettext.GNUTranslations(open({:?}, 'rb')).gettext('Hello'))",
            app.app().join("translations/de/LC_MESSAGES/messages.mo").display().to_string()
        ),
    );
    assert_eq!(translated, "Hallo");
}

#[test]
fn deploy_cfg_renders_templates_on_the_first_start_only() {
    let app = flask();
    install(&app, "deploy-cfg");
    app.write("config/shop.cfg.template", "name = ${SITE_NAME}\nprice = $$5\n");
    let rendered = app.app().join("config/shop.cfg");
    // A missing value stops the start, and the next start tries again.
    let err = app.fails(&["start", "--port", "0"], 1);
    assert!(err.contains("action hook deploy-cfg") && err.contains("uses ${SITE_NAME}, which is not set"), "{err}");
    assert!(!rendered.exists());
    for name in ["Example Shop", "Renamed Shop"] {
        app.write(".warp/environment", &format!("SITE_NAME={name}\n"));
        let server = Server::start(&app, &["start"]);
        assert_eq!(get(server.port, "/").status, 200);
        assert!(server.stop().success());
        assert_eq!(std::fs::read_to_string(&rendered).unwrap(), "name = Example Shop\nprice = $5\n", "after starting as {name}");
    }
}

#[test]
fn deploy_env_derives_database_url_for_the_app() {
    let app = flask();
    install(&app, "deploy-env");
    app.write(
        ".warp/environment",
        "DATABASE_HOST=db.internal\nDATABASE_PORT=5433\nDATABASE_NAME=shop\nDATABASE_USER=app\nDATABASE_PASSWORD=p@ss/w:rd%\n",
    );
    let url = "postgresql://app:p%40ss%2Fw%3Ard%25@db.internal:5433/shop";
    let env = app.ok(&["env"]);
    assert!(env.contains(&format!("export DATABASE_URL='{url}'\n")), "{env}");
    let print_url = ["exec", "python", "-c", "import os; print('url=' + os.environ['DATABASE_URL'])"];
    let seen = app.ok(&print_url);
    assert!(seen.contains(&format!("url={url}\n")), "{seen}");
    // A DATABASE_URL given outright is left alone.
    let seen = run_ok(app.warp(&print_url).env("DATABASE_URL", "sqlite:///shop.db"));
    assert!(seen.contains("url=sqlite:///shop.db\n"), "{seen}");
}

#[test]
fn deploy_waits_for_the_database_and_fails_when_it_never_comes() {
    let app = flask();
    install(&app, "deploy");
    // The database's port is known before it listens, and nothing else takes it meanwhile.
    let reserved = reserve_port();
    let db_port = reserved.port;
    let database = format!("DATABASE_URL=postgresql://app:secret@127.0.0.1:{db_port}/shop\n");
    app.write(".warp/environment", &format!("{database}DATABASE_WAIT_TIMEOUT=60\n"));
    // The database comes up only once the hook says it is waiting for it (in the log of
    // the one server this test starts).
    let logs = app.root().to_owned();
    let database_up = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let said = || {
            std::fs::read_dir(&logs).unwrap().flatten().any(|e| {
                e.file_name().to_string_lossy().ends_with(".err")
                    && std::fs::read_to_string(e.path()).unwrap_or_default().contains("deploy: waiting for the postgresql database")
            })
        };
        while !said() {
            assert!(Instant::now() < deadline, "the deploy hook never said it was waiting");
            std::thread::sleep(Duration::from_millis(50));
        }
        TcpListener::bind(("127.0.0.1", db_port)).unwrap()
    });
    let server = Server::start(&app, &["start"]);
    let listener = database_up.join().unwrap();
    assert_eq!(get(server.port, "/").status, 200);
    assert!(server.log().contains(&format!("the postgresql database at 127.0.0.1:{db_port} accepts connections")), "{}", server.log());
    assert!(server.stop().success());
    drop(listener);

    app.write(".warp/environment", &format!("{database}DATABASE_WAIT_TIMEOUT=1\n"));
    // Still reserved: nothing listens there now.
    let err = app.fails(&["start", "--port", "0"], 1);
    assert!(err.contains(&format!("the postgresql database at 127.0.0.1:{db_port} did not accept connections within 1s")), "{err}");
}

#[test]
fn migrate_runs_djangos_migrations_on_demand_and_through_deploy_at_start() {
    let app = django_project("");
    app.ok(&["build"]);
    install(&app, "migrate");
    let out = app.ok(&["migrate"]);
    assert!(out.contains("migrate: Django: manage.py migrate"), "{out}");
    assert_eq!(sql(&app, "db.sqlite3", "select name from sqlite_master where name = 'auth_user'"), "[('auth_user',)]");

    // The deploy hook with MIGRATE_ON_START runs it before serving.
    std::fs::remove_file(app.app().join("db.sqlite3")).unwrap();
    install(&app, "deploy");
    app.write(".warp/environment", "MIGRATE_ON_START=1\n");
    let server = Server::start(&app, &["start"]);
    assert_eq!(get(server.port, "/").text(), "shop");
    assert!(server.stop().success());
    assert_eq!(sql(&app, "db.sqlite3", "select name from sqlite_master where name = 'auth_user'"), "[('auth_user',)]");
}

#[test]
fn migrate_runs_alembic_upgrade_head() {
    let app = Sandbox::example("flask");
    app.write("requirements.txt", "Flask>=3.0,<4\nalembic>=1.13\n");
    app.write("alembic.ini", "[alembic]\nscript_location = migrations\nsqlalchemy.url = sqlite:///shop.db\n");
    app.write(
        "migrations/env.py",
        "from alembic import context\n\
         from sqlalchemy import engine_from_config, pool\n\
         config = context.config\n\
         engine = engine_from_config(config.get_section(config.config_ini_section), prefix=\"sqlalchemy.\", poolclass=pool.NullPool)\n\
         with engine.connect() as connection:\n    \
             context.configure(connection=connection)\n    \
             with context.begin_transaction():\n        \
                 context.run_migrations()\n",
    );
    app.write(
        "migrations/versions/0001_items.py",
        "import sqlalchemy as sa\nfrom alembic import op\n\
         revision = \"0001\"\ndown_revision = None\n\
         def upgrade():\n    op.create_table(\"items\", sa.Column(\"id\", sa.Integer, primary_key=True))\n\
         def downgrade():\n    op.drop_table(\"items\")\n",
    );
    app.ok(&["build"]);
    install(&app, "migrate");
    let out = app.ok(&["migrate"]);
    assert!(out.contains("migrate: Alembic: alembic upgrade head"), "{out}");
    assert_eq!(sql(&app, "shop.db", "select version_num from alembic_version"), "[('0001',)]");
    assert_eq!(sql(&app, "shop.db", "select name from sqlite_master where name = 'items'"), "[('items',)]");
}

#[test]
fn setup_creates_the_superuser_and_loads_fixtures_and_can_run_again() {
    let app = django_project("");
    app.ok(&["build"]);
    install(&app, "setup");
    app.write(
        ".warp/environment",
        "DJANGO_SUPERUSER_USERNAME=admin\nDJANGO_SUPERUSER_EMAIL=admin@example.com\nDJANGO_SUPERUSER_PASSWORD=correct-horse-battery\n",
    );
    app.write("fixtures/initial_data.json", r#"[{"model": "auth.group", "pk": 1, "fields": {"name": "editors", "permissions": []}}]"#);
    app.ok(&["setup"]);
    let again = app.ok(&["setup"]);
    assert!(again.contains("setup: the superuser admin exists already"), "{again}");
    assert_eq!(sql(&app, "db.sqlite3", "select username, email, is_superuser from auth_user"), "[('admin', 'admin@example.com', 1)]");
    assert_eq!(sql(&app, "db.sqlite3", "select id, name from auth_group"), "[(1, 'editors')]");
}

#[test]
fn verify_imports_the_app_and_fails_when_it_cannot() {
    let app = flask();
    install(&app, "verify");
    let out = app.ok(&["verify"]);
    assert!(out.contains("verify: app:app imports and is callable"), "{out}");
    let source = std::fs::read_to_string(app.app().join("app.py")).unwrap();
    app.write("app.py", &format!("import flask_shop_extension_not_installed\n{source}"));
    let err = app.fails(&["verify"], 1);
    assert!(err.contains("action hook verify") && err.contains("No module named 'flask_shop_extension_not_installed'"), "{err}");
}

#[test]
fn verify_runs_djangos_checks() {
    let app = django_project("");
    app.ok(&["build"]);
    install(&app, "verify");
    let out = app.ok(&["verify"]);
    assert!(out.contains("verify: Django's checks pass"), "{out}");
    let settings = app.app().join("shop/settings.py");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, format!("{text}STATICFILES_DIRS = [STATIC_ROOT]\n")).unwrap();
    let err = app.fails(&["verify"], 1);
    assert!(err.contains("staticfiles.E002"), "{err}");
}

#[test]
fn alive_fails_when_the_apps_heartbeat_goes_stale() {
    let app = flask();
    install(&app, "alive");
    app.write(".warp/environment", "ALIVE_HEARTBEAT_FILE=run/heartbeat\nALIVE_MAX_AGE=30\n");
    let server = serving(&app);
    let err = run_fails(&mut probe(&app, "alive", server.port, &[]), 1);
    assert!(err.contains("alive: no heartbeat yet: run/heartbeat does not exist"), "{err}");
    let heartbeat = app.write("run/heartbeat", "");
    assert_eq!(run_ok(&mut probe(&app, "alive", server.port, &[])), "");
    let file = std::fs::File::options().write(true).open(&heartbeat).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(600)).unwrap();
    let err = run_fails(&mut probe(&app, "alive", server.port, &[]), 1);
    assert!(err.contains("alive: the heartbeat run/heartbeat is 6") && err.contains("s old, more than 30s"), "{err}");
    assert!(server.stop().success());
}

#[test]
fn ready_fails_while_the_database_refuses_connections() {
    let app = flask();
    install(&app, "ready");
    // A reserved port, so that once the database is gone nothing else listens there.
    let reserved = reserve_port();
    let db_port = reserved.port;
    let database = TcpListener::bind(("127.0.0.1", db_port)).unwrap();
    app.write(".warp/environment", &format!("DATABASE_URL=postgresql://app@127.0.0.1:{db_port}/shop\nREADY_TIMEOUT=1\n"));
    let server = serving(&app);
    assert_eq!(run_ok(&mut probe(&app, "ready", server.port, &[])), "");
    drop(database);
    let err = run_fails(&mut probe(&app, "ready", server.port, &[]), 1);
    assert!(err.contains(&format!("ready: DATABASE_URL names 127.0.0.1:{db_port}, which did not accept a connection within 1s")), "{err}");
    assert!(server.stop().success());
}
