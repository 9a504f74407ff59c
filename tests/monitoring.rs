//! `--metrics-port`: a real Prometheus scrapes warp under a known load and must compute the
//! rate that was sent; the live status page, driven in headless Chromium through
//! chromedriver, must show it too, with a long request and a worker restart.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::rawhttp::{self, Client};
use crate::running::{reserve_port, Reserved, Server};
use crate::util::{eventually, have, require, Sandbox};

/// The load: requests per second, from this many clients, for this long.
const RATE: f64 = 200.0;
const CLIENTS: usize = 4;
const LOAD_FOR: Duration = Duration::from_secs(8);

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Send GET / at `RATE` requests a second over `CLIENTS` keep-alive connections for
/// `LOAD_FOR`; returns when each response came, in Unix seconds.
fn steady_load(port: u16) -> Vec<f64> {
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let interval = Duration::from_secs_f64(CLIENTS as f64 / RATE);
                let mut client = Client::connect(port);
                // Spread the clients over one interval, so the load is even.
                let start = Instant::now() + interval.mul_f64(i as f64 / CLIENTS as f64);
                let mut done = Vec::new();
                for n in 0.. {
                    let due = start + interval * n;
                    if due > start + LOAD_FOR {
                        break;
                    }
                    // Pacing the load, not waiting for the server.
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    client.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
                    let response = client.response(false).expect("a response under load");
                    assert_eq!(response.status, 200);
                    done.push(unix_now());
                }
                done
            })
        })
        .collect();
    let mut done: Vec<f64> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    done.sort_by(f64::total_cmp);
    done
}

/// The requests of `done` that completed in `(from, to]`, per second.
fn rate_between(done: &[f64], from: f64, to: f64) -> f64 {
    done.iter().filter(|&&t| t > from && t <= to).count() as f64 / (to - from)
}

fn start_warp(sandbox: &Sandbox, metrics: &Reserved, extra: &[&str]) -> Server {
    let port = metrics.port.to_string();
    let mut args = vec!["start", "--processes", "2", "--threads", "4", "--metrics-port", &port];
    args.extend_from_slice(extra);
    let server = Server::start(sandbox, &args);
    assert!(
        server.log().contains(&format!("metrics:    http://127.0.0.1:{port}/ (live status page), /metrics (Prometheus)")),
        "the banner names the metrics address:\n{}",
        server.log()
    );
    server
}

fn get_json(url: &str, query: &[(&str, &str)]) -> Value {
    let mut request = ureq::get(url);
    for (key, value) in query {
        request = request.query(*key, *value);
    }
    let text = request.call().unwrap_or_else(|e| panic!("GET {url}: {e}")).into_body().read_to_string().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url} gave no JSON ({e}): {text}"))
}

/// A PromQL query's single value at `time`, or `None` when it has no sample.
fn promql(port: u16, query: &str, time: f64) -> Option<f64> {
    let answer = get_json(&format!("http://127.0.0.1:{port}/api/v1/query"), &[("query", query), ("time", &format!("{time:.3}"))]);
    assert_eq!(answer["status"], "success", "{answer}");
    let value = &answer["data"]["result"][0]["value"][1];
    value.as_str().map(|v| v.parse().unwrap())
}

#[test]
fn prometheus_scrapes_the_rate_of_the_load_sent() {
    require(have("prometheus"), "prometheus (Debian's prometheus package)");
    let sandbox = Sandbox::robust();
    let metrics = reserve_port();
    let server = start_warp(&sandbox, &metrics, &[]);
    let text = rawhttp::get(metrics.port, "/metrics").text();
    for line in ["# TYPE warp_requests counter", "warp_capacity_threads 8", "warp_threads_per_worker 4", "# EOF"] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in /metrics:\n{text}");
    }

    let prometheus = reserve_port();
    let config = sandbox.write(
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: warp\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            metrics.port
        ),
    );
    let data = sandbox.root().join("prometheus-data");
    let mut cmd = std::process::Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{}", prometheus.port));
    let prometheus_port = prometheus.port;
    let _prometheus = Server::spawn(cmd, prometheus, sandbox.root());
    // Its API answers 503 until its storage has started.
    let ready = format!("http://127.0.0.1:{prometheus_port}/-/ready");
    eventually(Duration::from_secs(30), "Prometheus is ready", || ureq::get(&ready).call().is_ok());
    eventually(Duration::from_secs(30), "Prometheus has scraped warp", || {
        promql(prometheus_port, "up{job=\"warp\"}", unix_now()) == Some(1.0)
    });

    let done = steady_load(server.port);
    let sent = done.len() as f64;
    let total = "sum(warp_requests_total)";
    eventually(Duration::from_secs(30), "Prometheus has scraped every request sent", || {
        promql(prometheus_port, total, unix_now()) == Some(sent)
    });
    assert_eq!(promql(prometheus_port, "sum(warp_requests_total{status=\"2xx\"})", unix_now()), Some(sent));
    assert_eq!(promql(prometheus_port, "sum(warp_request_duration_seconds_count)", unix_now()), Some(sent));

    // The rate over the load's last seconds, as Prometheus computes it from its scrapes and
    // as the client saw its responses come.
    let at = done[done.len() - 1] - 1.0;
    let window = 4.0;
    let scraped = promql(prometheus_port, &format!("sum(rate(warp_requests_total[{window}s]))"), at).expect("a rate");
    let seen = rate_between(&done, at - window, at);
    assert!((scraped / seen - 1.0).abs() < 0.15, "Prometheus computed {scraped:.1} req/s where {seen:.1} req/s were sent");
    let capacity = promql(prometheus_port, "sum(rate(warp_worker_busy_seconds_total[4s])) / scalar(warp_capacity_threads)", at)
        .expect("the capacity in use");
    assert!(capacity > 0.0 && capacity < 0.5, "{RATE} quick requests a second use little of 8 threads: {capacity}");
    server.stop();
}

/// A WebDriver session of headless Chromium, ended when dropped.
struct Browser {
    url: String,
    _driver: Server,
}

impl Browser {
    fn open(logs: &std::path::Path) -> Browser {
        let port = reserve_port();
        let mut cmd = std::process::Command::new("chromedriver");
        cmd.arg(format!("--port={}", port.port));
        let base = format!("http://127.0.0.1:{}", port.port);
        let driver = Server::spawn(cmd, port, logs);
        let capabilities = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            // No sandbox: the suite runs as root, which Chromium's sandbox refuses.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1400"],
        }}}});
        let session = Browser::send(ureq::post(format!("{base}/session")), capabilities);
        let id = session["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {session}")).to_owned();
        Browser { url: format!("{base}/session/{id}"), _driver: driver }
    }

    fn send(request: ureq::RequestBuilder<ureq::typestate::WithBody>, body: Value) -> Value {
        let text = request
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("WebDriver: {e}"))
            .into_body()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn go(&self, url: &str) {
        Browser::send(ureq::post(format!("{}/url", self.url)), json!({"url": url}));
    }

    /// The text of the element `selector` selects ("" when there is none).
    fn text(&self, selector: &str) -> String {
        let script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';";
        let answer = Browser::send(ureq::post(format!("{}/execute/sync", self.url)), json!({"script": script, "args": [selector]}));
        answer["value"].as_str().unwrap_or_default().to_owned()
    }

    fn number(&self, selector: &str) -> Option<f64> {
        self.text(selector).trim().parse().ok()
    }

    fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let answer = get_json(&format!("{}/screenshot", self.url), &[]);
        base64::engine::general_purpose::STANDARD.decode(answer["value"].as_str().unwrap()).unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&self.url).call();
    }
}

#[test]
fn the_status_page_shows_the_load_a_long_request_and_a_restart() {
    require(have("chromedriver"), "chromedriver (Debian's chromium-driver package)");
    require(std::path::Path::new("/usr/bin/chromium").exists(), "chromium (Debian's chromium package)");
    let sandbox = Sandbox::robust();
    let metrics = reserve_port();
    let server = start_warp(&sandbox, &metrics, &[]);
    let browser = Browser::open(sandbox.root());
    browser.go(&format!("http://127.0.0.1:{}/", metrics.port));

    // A worker crashes (the master restarts it), and a request runs long.
    let _ = rawhttp::exchange(server.port, b"GET /crash HTTP/1.1\r\nHost: localhost\r\n\r\n");
    server.wait_for_log("starting another", Duration::from_secs(10));
    let mut long = Client::connect(server.port);
    long.send(b"GET /sleep?30 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    crate::util::wait_until_called(&sandbox, "/sleep", 1);

    let load = std::thread::spawn({
        let port = server.port;
        move || steady_load(port)
    });
    // The page samples once a second and shows the rate over its last three seconds.
    eventually(LOAD_FOR, "the page shows the load's rate, the long request and the restart", || {
        let rps = browser.number("#rps");
        rps.is_some_and(|rps| (rps / RATE - 1.0).abs() < 0.2)
            && browser.text("#long tbody").contains("GET /sleep?30")
            && browser.text("#restarts tbody").contains("crashed")
    });
    let in_flight = browser.number("#in-flight").unwrap();
    assert!(in_flight >= 1.0, "the long request is in flight: {in_flight}");
    let p50 = browser.number("#p50").expect("a median");
    assert!(p50 > 0.0 && p50 < 100.0, "a quick app's median response time, in ms: {p50}");
    let capacity = browser.number("#capacity").expect("the capacity in use");
    assert!((10.0..60.0).contains(&capacity), "one of 8 threads sleeping, the rest nearly idle: {capacity}%");

    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "a screenshot of the page");
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let saved = artifacts.join("status-page.png");
    std::fs::write(&saved, &png).unwrap();
    eprintln!("the status page under load: {}", saved.display());

    let done = load.join().unwrap();
    let seen = rate_between(&done, done[0], done[done.len() - 1]);
    assert!((seen / RATE - 1.0).abs() < 0.2, "the load was sent at its rate: {seen:.1} req/s");
    drop(long);
    server.stop();
}

#[test]
fn the_metrics_listener_takes_any_free_port_and_is_refused_where_it_cannot_be() {
    let sandbox = Sandbox::robust();
    let server = Server::start(&sandbox, &["start", "--metrics-port", "0"]);
    let banner = server.log();
    let port: u16 = banner
        .lines()
        .find_map(|line| line.strip_prefix("  metrics:    http://127.0.0.1:"))
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("the banner names the port chosen:\n{banner}"));
    assert_ne!(port, 0);
    let page = rawhttp::get(port, "/");
    assert_eq!(page.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert!(!page.text().contains("src=\"http") && !page.text().contains("href=\"http"), "nothing fetched from elsewhere");
    assert_eq!(rawhttp::get(port, "/nowhere").status, 404);
    let post = rawhttp::exchange(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert_eq!((post.status, post.header("allow").as_deref()), (405, Some("GET, HEAD")));
    server.stop();

    let taken = reserve_port();
    let _holder = std::net::TcpListener::bind(("127.0.0.1", taken.port)).unwrap();
    let out = sandbox.fails(&["start", "--port", "0", "--metrics-port", &taken.port.to_string()], 1);
    assert!(
        out.contains(&format!(
            "cannot listen for metrics on 127.0.0.1:{}: is another program using that port? pick one with --metrics-port",
            taken.port
        )),
        "{out}"
    );
    let out = sandbox.fails(&["start", "--server", "gunicorn", "--port", "8000", "--metrics-port", "9100"], 2);
    assert!(out.contains("--metrics-port: needs warp's embedded server"), "{out}");
}

#[test]
fn the_totals_keep_counting_across_the_workers_that_replace_each_other() {
    let sandbox = Sandbox::robust();
    let metrics = reserve_port();
    let server = start_warp(&sandbox, &metrics, &["--maximum-requests", "20"]);
    let value = |name: &str| {
        let text = rawhttp::get(metrics.port, "/metrics").text();
        text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
    };
    let restarts = "warp_worker_restarts_total{reason=\"maximum_requests\"}";
    // Each worker asks to be replaced after its 20th request; requests go on until three
    // have been, some of them gone by now, their counts folded into their slots'.
    let mut sent = 0.0;
    while value(restarts).unwrap_or(0.0) < 3.0 {
        assert!(sent < 1000.0, "no three workers replaced after {sent} requests:\n{}", server.log());
        for _ in 0..10 {
            assert_eq!(rawhttp::get(server.port, "/").status, 200);
            sent += 1.0;
        }
    }
    // Once every replaced worker has exited, only what they left behind holds their counts.
    eventually(Duration::from_secs(20), "the replaced workers have exited", || {
        let status: Value = serde_json::from_str(&rawhttp::get(metrics.port, "/status.json").text()).unwrap();
        status["workers"].as_array().unwrap().iter().all(|w| w["pids"].as_array().unwrap().len() == 1)
    });
    assert_eq!(value("warp_requests_total{status=\"2xx\"}"), Some(sent), "what replaced workers counted is kept");
    assert_eq!(value("warp_request_duration_seconds_count"), Some(sent));
    server.stop();
}
