//! `--enable-recorder DIR`: a JSON file per request the app serves, its secrets masked
//! unless `--recorder-keep-secrets`, its bodies cut at 64 KiB with their real size noted;
//! read back with `warp recorder list` and `warp recorder show`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use crate::rawhttp::{exchange, get, Client};
use crate::running::Server;
use crate::util::{eventually, Sandbox};

/// Bytes of each body a record keeps.
const CAP: usize = 64 * 1024;

/// The recorder fixture's app, built once for every test.
fn app() -> &'static Sandbox {
    static APP: OnceLock<Sandbox> = OnceLock::new();
    APP.get_or_init(|| Sandbox::built_from("recorder"))
}

/// A server recording into a new folder of its own; returns the folder too.
fn recording(name: &str, extra: &[&str]) -> (Server, PathBuf) {
    let folder = app().root().join(name);
    let mut args = vec!["start", "--enable-recorder", folder.to_str().unwrap()];
    args.extend_from_slice(extra);
    (Server::start(app(), &args), folder)
}

/// The `count` records in `folder`, oldest first, once they are all written (a record is
/// written once its response is handed over, so the client may have it first).
fn records(folder: &Path, count: usize) -> Vec<Value> {
    let files = || -> Vec<PathBuf> {
        let entries: Vec<PathBuf> = std::fs::read_dir(folder).map(|dir| dir.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
        entries.into_iter().filter(|path| path.extension().is_some_and(|e| e == "json")).collect()
    };
    eventually(Duration::from_secs(10), &format!("{count} record(s) are in {}", folder.display()), || files().len() >= count);
    let mut records: Vec<Value> =
        files().iter().map(|path| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()).collect();
    assert_eq!(records.len(), count, "{records:#?}");
    records.sort_by_key(|record| record["time"].as_str().unwrap().to_owned());
    records
}

fn post(port: u16, path: &str, headers: &str, body: &[u8]) -> crate::rawhttp::Response {
    let mut raw =
        format!("POST {path} HTTP/1.1\r\nHost: h\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
    raw.extend_from_slice(body);
    exchange(port, &raw).unwrap_or_else(|| panic!("no response to POST {path}"))
}

const SECRETS: &str = "Authorization: Bearer t0ken-in\r\nCookie: session=s3cr3t-in; theme=dark\r\n";

fn header<'a>(message: &'a Value, name: &str) -> &'a str {
    let headers = message["headers"].as_array().unwrap();
    let found = headers.iter().find(|pair| pair[0].as_str().unwrap().eq_ignore_ascii_case(name));
    found.unwrap_or_else(|| panic!("no {name} in {message}"))[1].as_str().unwrap()
}

fn warp_recorder(args: &[&str]) -> String {
    let mut all = vec!["recorder"];
    all.extend_from_slice(args);
    app().ok(&all)
}

#[test]
fn a_request_and_its_response_are_recorded_with_their_secrets_masked() {
    let (server, folder) = recording("masked", &[]);
    let answer = post(server.port, "/echo", SECRETS, b"hello");
    assert_eq!(answer.text(), "echo:hello", "a recorded app answers as before");
    assert!(server.stop().success());

    let record = &records(&folder, 1)[0];
    assert_eq!((&record["warp_record"], &record["secrets"]), (&json!(1), &json!("masked")));
    let request = &record["request"];
    assert_eq!((&request["method"], &request["target"], &request["version"]), (&json!("POST"), &json!("/echo"), &json!("HTTP/1.1")));
    assert_eq!(header(request, "authorization"), "Bearer ****");
    assert_eq!(header(request, "cookie"), "session=****; theme=****");
    assert_eq!(request["body"], json!({"size": 5, "text": "hello"}));
    let response = &record["response"];
    assert_eq!((&response["status"], &response["reason"]), (&json!(200), &json!("OK")));
    assert_eq!(header(response, "set-cookie"), "session=****; Path=/; HttpOnly");
    assert_eq!(header(response, "content-length"), "10", "the headers the server adds are recorded too");
    assert_eq!(response["body"], json!({"size": 10, "text": "echo:hello"}));
    assert!(record["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{record}");
    assert!(record["pid"].as_u64().unwrap() > 1 && record["duration_ms"].as_f64().unwrap() >= 0.0, "{record}");
    let path = folder.join(format!("{}.json", record["id"].as_str().unwrap()));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "only the workers' user reads it");
    let file = std::fs::read_to_string(&path).unwrap();
    for secret in ["t0ken-in", "s3cr3t-in", "dark", "s3cr3t-out"] {
        assert!(!file.contains(secret), "{secret} is in the record:\n{file}");
    }
}

#[test]
fn with_recorder_keep_secrets_they_are_kept() {
    let (server, folder) = recording("kept", &["--recorder-keep-secrets"]);
    assert_eq!(post(server.port, "/echo", SECRETS, b"").status, 200);
    assert!(server.stop().success());

    let record = &records(&folder, 1)[0];
    assert_eq!(record["secrets"], "kept");
    assert_eq!(header(&record["request"], "authorization"), "Bearer t0ken-in");
    assert_eq!(header(&record["request"], "cookie"), "session=s3cr3t-in; theme=dark");
    assert_eq!(header(&record["response"], "set-cookie"), "session=s3cr3t-out; Path=/; HttpOnly");
    let shown = warp_recorder(&["show", folder.to_str().unwrap(), record["id"].as_str().unwrap()]);
    assert!(shown.contains("secrets kept") && shown.contains("Authorization: Bearer t0ken-in\n"), "{shown}");
}

#[test]
fn bodies_over_the_cap_are_cut_and_their_real_size_noted() {
    let (server, folder) = recording("cut", &[]);
    let big = vec![b'x'; 100_000];
    assert_eq!(post(server.port, "/echo", "", &big).body.len(), 100_005);
    assert!(server.stop().success());

    let record = &records(&folder, 1)[0];
    for (body, size) in [(&record["request"]["body"], 100_000), (&record["response"]["body"], 100_005)] {
        assert_eq!((&body["size"], &body["cut"]), (&json!(size), &json!(true)), "{body:.200}");
        assert_eq!(body["text"].as_str().unwrap().len(), CAP);
    }
    assert!(record["response"]["body"]["text"].as_str().unwrap().starts_with("echo:xxx"));
    let shown = warp_recorder(&["show", folder.to_str().unwrap(), record["id"].as_str().unwrap()]);
    assert!(shown.contains(&format!("[cut: only the first {CAP} of its 100000 bytes were recorded]")), "{shown:.500}");
    assert!(shown.contains(&format!("[cut: only the first {CAP} of its 100005 bytes were recorded]")));
}

#[test]
fn a_streamed_body_is_recorded_as_far_as_the_server_read_it_and_a_file_sent_with_sendfile_too() {
    let (server, folder) = recording("streamed", &["--buffer-request-body", "off"]);
    // Kept alive, the connection needs the body read to its end: the server reads what the
    // app left, and the record has it.
    let mut client = Client::connect(server.port);
    client.send(b"POST /no-read HTTP/1.1\r\nHost: h\r\nContent-Length: 27\r\n\r\nleft for the server to drop");
    assert_eq!(client.response(false).unwrap().text(), "did not read");
    records(&folder, 1);
    // Closed after the response, it does not: the server never reads the body.
    assert_eq!(post(server.port, "/no-read", "", b"never read").text(), "did not read");
    records(&folder, 2);
    let fixture = std::fs::read(app().app().join("wsgi.py")).unwrap();
    assert_eq!(get(server.port, "/file").body, fixture);
    assert!(server.stop().success());

    let records = records(&folder, 3);
    assert_eq!(records[0]["request"]["body"], json!({"size": 27, "text": "left for the server to drop"}));
    assert_eq!(records[1]["request"]["body"], json!({"size": 0, "text": "", "unfinished": true}));
    let sent = &records[2]["response"]["body"];
    assert_eq!(sent["size"].as_u64(), Some(fixture.len() as u64));
    assert_eq!((&sent["file"], sent["text"].as_str().map(str::as_bytes)), (&json!(true), Some(&fixture[..])));
}

#[test]
fn warp_recorder_lists_the_records_oldest_first_and_shows_each_as_its_exchange() {
    let (server, folder) = recording("listed", &[]);
    assert_eq!(post(server.port, "/echo", SECRETS, b"hello").status, 200);
    // One at a time, so the order is known.
    records(&folder, 1);
    assert_eq!(get(server.port, "/binary").body.len(), 256);
    assert!(server.stop().success());
    let records = records(&folder, 2);
    let ids: Vec<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let dir = folder.to_str().unwrap();

    let listed = warp_recorder(&["list", dir]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    for (line, (id, what)) in lines.iter().zip(ids.iter().zip(["POST /echo  200", "GET /binary  200"])) {
        assert!(line.ends_with(&format!("  {id}")) && line.contains(what), "{line}");
        assert!(line.starts_with(records.iter().find(|r| r["id"] == *id).unwrap()["time"].as_str().unwrap()), "{line}");
    }
    assert!(lines[0].contains(" ms  5 B in, 10 B out  "), "{}", lines[0]);
    assert!(lines[1].contains(" ms  0 B in, 256 B out  "), "{}", lines[1]);

    let echo = warp_recorder(&["show", dir, ids[0]]);
    let exchange = "POST /echo HTTP/1.1\nHost: h\nAuthorization: Bearer ****\nCookie: session=****; theme=****\nContent-Length: 5\nConnection: close\n\nhello\n\nHTTP/1.1 200 OK\n";
    assert!(echo.contains(exchange), "{echo}");
    assert!(echo.contains("Set-Cookie: session=****; Path=/; HttpOnly\n") && echo.ends_with("\n\necho:hello\n"), "{echo}");
    assert!(echo.starts_with(&format!("record {}: ", ids[0])) && echo.contains("secrets masked"), "{echo}");
    let binary = warp_recorder(&["show", dir, ids[1]]);
    assert!(binary.ends_with("\n\n[binary body, 256 bytes]\n"), "not the raw bytes, a note: {binary}");
}

#[test]
fn warp_recorder_says_in_one_line_what_to_do_about_a_missing_folder_or_record() {
    let sandbox = Sandbox::new();
    let one_line = |out: String| {
        assert_eq!(out.trim_end().lines().count(), 1, "not one line:\n{out}");
        out.trim_end().to_owned()
    };
    let missing = sandbox.root().join("no-such-folder");
    let missing = missing.to_str().unwrap();
    for args in [["list", missing, ""], ["show", missing, "20261206-061514-1-1"]] {
        let args: Vec<&str> = ["recorder"].into_iter().chain(args.into_iter().filter(|a| !a.is_empty())).collect();
        let out = one_line(sandbox.fails(&args, 1));
        assert_eq!(out, format!("error: {missing} does not exist: name the folder given to warp start --enable-recorder"));
    }
    let dir = sandbox.root().to_str().unwrap();
    for id in ["20261206-061514-1-1", "../app/wsgi"] {
        let out = one_line(sandbox.fails(&["recorder", "show", dir, id], 1));
        assert_eq!(out, format!("error: no record {id} in {dir}: `warp recorder list {dir}` shows the ids"));
    }
}

#[test]
fn a_recorder_folder_that_is_a_file_or_cannot_be_made_or_no_recorder_is_refused_at_start() {
    let file = app().root().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let out = app().fails(&["start", "--enable-recorder", file.to_str().unwrap()], 2);
    assert_eq!(out.trim_end().lines().count(), 1, "{out}");
    assert!(out.starts_with(&format!("error: --enable-recorder: {} is not a folder: ", file.display())), "{out}");

    let inside = file.join("records");
    let out = app().fails(&["start", "--enable-recorder", inside.to_str().unwrap()], 2);
    assert_eq!(out.trim_end().lines().count(), 1, "{out}");
    assert!(out.starts_with(&format!("error: --enable-recorder: cannot create {} (", inside.display())), "{out}");

    let other = app().fails(&["start", "--enable-recorder", "records", "--server", "waitress", "--port", "8000"], 2);
    assert!(other.contains("--enable-recorder") && other.contains("needs warp's embedded server"), "{other}");

    let alone = app().fails(&["start", "--recorder-keep-secrets"], 2);
    assert_eq!(
        alone.trim_end(),
        "error: --recorder-keep-secrets: keeps secrets in the recorder's files, and the recorder is off: add --enable-recorder DIR, or leave it out"
    );
}
