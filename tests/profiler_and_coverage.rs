//! `--enable-profiler` and `--enable-coverage`, read back with the tools their output is
//! for: pstats, and coverage.py's own data API.

use crate::rawhttp::{exchange, get};
use crate::running::Server;
use crate::util::Sandbox;

#[test]
fn each_request_gets_a_profile_that_pstats_reads() {
    let app = Sandbox::built_from("events");
    let folder = app.root().join("profiles");
    let server = Server::start(&app, &["start", "--enable-profiler", folder.to_str().unwrap()]);
    let post = exchange(server.port, b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi").unwrap();
    assert_eq!(post.text(), "echo:hi", "a profiled app answers as before");
    assert_eq!(get(server.port, "/sleep?0.01").status, 200);
    assert!(server.stop().success());

    let mut files: Vec<_> = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort_by_key(|name| name.split('-').nth(3).and_then(|n| n.parse::<u32>().ok()));
    assert_eq!(files.len(), 2, "one file per request: {files:?}");
    assert!(files[0].ends_with("-POST_echo.prof") && files[1].ends_with("-GET_sleep.prof"), "{files:?}");
    let functions = |file: &str| {
        let code = format!("import pstats; print(sorted({{f[2] for f in pstats.Stats({:?}).stats}}))", folder.join(file).to_str().unwrap());
        app.python(&app.venv(), &code)
    };
    let echo = functions(&files[0]);
    assert!(echo.contains("'application'") && echo.contains("'read' of 'warp_server.Input'"), "the app and what it called: {echo}");
    let sleep = functions(&files[1]);
    assert!(sleep.contains("time.sleep"), "what the app called: {sleep}");
}

#[test]
fn coverage_measures_the_code_the_request_threads_ran() {
    let app = Sandbox::new();
    let fixture = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/events/wsgi.py")).unwrap();
    app.write("wsgi.py", &fixture);
    app.write("requirements.txt", "coverage\n");
    app.ok(&["build"]);
    let folder = app.root().join("coverage");
    let server = Server::start(&app, &["start", "--enable-coverage", folder.to_str().unwrap()]);
    assert_eq!(get(server.port, "/echo").text(), "echo:");
    assert!(server.stop().success());

    // Lines only a request runs, on a thread the server started, and one no request ran.
    let line_of = |text: &str| fixture.lines().position(|l| l.contains(text)).unwrap() + 1;
    let (echo, fail) = (line_of("body = b\"echo:\""), line_of("raise ValueError(\"the app failed\")"));
    let code = format!(
        "import coverage\nc = coverage.Coverage(data_file={data:?})\nc.combine([{folder:?}])\ndata = c.get_data()\n\
         print(sorted(next(data.lines(f) for f in data.measured_files() if f.endswith('/wsgi.py'))))",
        data = folder.join(".coverage").to_str().unwrap(),
        folder = folder.to_str().unwrap(),
    );
    let lines: Vec<usize> = serde_json::from_str(&app.python(&app.venv(), &code)).unwrap();
    assert!(lines.contains(&echo), "line {echo} ran in a request thread: {lines:?}");
    assert!(!lines.contains(&fail), "line {fail} never ran: {lines:?}");
}

#[test]
fn coverage_without_coverage_py_the_tools_with_another_server_and_a_file_for_a_folder_are_refused() {
    let app = Sandbox::built_from("events");
    let missing = app.fails(&["start", "--enable-coverage", "cov"], 1);
    assert!(missing.contains("needs coverage.py in the app's venv"), "{missing}");
    for flag in ["--enable-profiler", "--enable-coverage"] {
        let other = app.fails(&["start", flag, "out", "--server", "waitress", "--port", "8000"], 2);
        assert!(other.contains(flag) && other.contains("needs warp's embedded server"), "{other}");
    }
    // The folder is checked by warp start, before any worker runs.
    let file = app.write("a-file", "not a folder");
    let out = app.fails(&["start", "--enable-profiler", file.to_str().unwrap()], 2);
    assert_eq!(
        out.trim_end(),
        format!("error: --enable-profiler: {} is not a folder: name a folder, which is created when missing", file.display())
    );
}
