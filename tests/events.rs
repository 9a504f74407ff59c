//! Request events for monitoring (mod_wsgi's API): a module written as mod_wsgi's
//! documentation shows runs unchanged, importing `mod_wsgi`, and sees each request's
//! events in order with their facts.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::rawhttp::{exchange, get};
use crate::running::Server;
use crate::util::{eventually, Sandbox};

/// The events the fixture recorded, each with its name and facts, grouped by request in
/// the order each request's events came.
fn events_by_request(app: &Sandbox) -> Vec<Vec<Value>> {
    let text = std::fs::read_to_string(app.app().join("events.log")).expect("the handler recorded events");
    let mut requests: Vec<(String, Vec<Value>)> = Vec::new();
    for line in text.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        let id = event["request_id"].as_str().expect("every event names its request").to_owned();
        match requests.iter_mut().find(|(known, _)| *known == id) {
            Some((_, events)) => events.push(event),
            None => requests.push((id, vec![event])),
        }
    }
    requests.into_iter().map(|(_, events)| events).collect()
}

fn names(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["name"].as_str().unwrap()).collect()
}

#[test]
fn a_mod_wsgi_monitoring_module_sees_each_request_s_events_in_order() {
    let app = Sandbox::built_from("events");
    let server = Server::start(&app, &["start"]);
    let post = exchange(server.port, b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello").unwrap();
    assert_eq!(post.text(), "echo:hello", "the handler's wrapper ran the app");
    assert_eq!(get(server.port, "/fail").status, 500);
    assert_eq!(get(server.port, "/broken-handler").status, 200, "a failing handler breaks no request");
    server.wait_for_log("the request_started handler", Duration::from_secs(10));

    let requests = events_by_request(&app);
    assert_eq!(requests.len(), 3, "{requests:?}");
    let (echo, fail, broken) = (&requests[0], &requests[1], &requests[2]);
    assert_eq!(names(echo), ["request_started", "response_started", "request_finished"]);
    assert_eq!(names(fail), ["request_started", "request_exception", "request_finished"]);
    assert_eq!(names(broken), ["request_started", "response_started", "request_finished"]);

    let (started, response, finished) = (&echo[0], &echo[1], &echo[2]);
    assert_eq!(started["path"], "/echo");
    assert!((1..=5).contains(&started["thread_id"].as_u64().unwrap()), "{started}");
    let id = started["request_id"].as_str().unwrap();
    assert_eq!(started["active"], serde_json::json!([id]), "the request is active while it runs");
    let (request_start, application_start) = (started["request_start"].as_f64().unwrap(), started["application_start"].as_f64().unwrap());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!(request_start <= application_start && application_start <= now && now - request_start < 60.0, "{started}");
    assert_eq!(started["queue_start"], started["request_start"]);
    assert_eq!(response["status"], "200 OK");
    assert_eq!(response["headers"], serde_json::json!([["Content-Type", "text/plain"], ["Content-Length", "10"]]));
    assert_eq!(finished["status"], 200);
    assert_eq!(finished["wrapped"], true, "request_data carries what the wrapper kept");
    assert_eq!((finished["input_length"].as_u64(), finished["output_length"].as_u64()), (Some(5), Some(10)));
    let application_time = finished["application_time"].as_f64().unwrap();
    assert!((0.0..10.0).contains(&application_time), "{finished}");
    for cpu in ["cpu_user_time", "cpu_system_time"] {
        let seconds = finished[cpu].as_f64().unwrap();
        assert!((0.0..10.0).contains(&seconds), "{cpu}: {finished}");
    }

    assert!(fail[1]["error"].as_str().unwrap().contains("the app failed"), "{:?}", fail[1]);
    assert_eq!(fail[2]["status"], 500);
    assert_eq!(fail[2]["active"], serde_json::json!([fail[0]["request_id"]]), "active until its request_finished is over");
    let ids: std::collections::HashSet<_> = requests.iter().map(|r| r[0]["request_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "each request has its own id");
    assert!(server.stop().success());
}

#[test]
fn process_stopping_says_why_for_each_reason_a_worker_stops() {
    let app = Sandbox::built_from("events");
    let stopped = |reason: &str| {
        let log = std::fs::read_to_string(app.app().join("stopping.log")).unwrap_or_default();
        log.lines().any(|line| line.starts_with(&format!("process_stopping {reason} ")))
    };
    // Recycling: the worker asks to be replaced, and says why as it stops.
    for (flags, nudge, reason) in [
        (&["--maximum-requests", "2"][..], &["/", "/"][..], "maximum_requests"),
        (&["--restart-interval", "1"][..], &[][..], "restart_interval"),
        // Only a worker that served is replaced for sitting idle.
        (&["--inactivity-timeout", "1"][..], &["/"][..], "inactivity_timeout"),
        (&["--memory-limit", "200M"][..], &["/grow?300"][..], "memory_limit"),
    ] {
        let mut args = vec!["start"];
        args.extend_from_slice(flags);
        let server = Server::start(&app, &args);
        for path in nudge {
            assert_eq!(get(server.port, path).status, 200);
        }
        eventually(Duration::from_secs(10), &format!("process_stopping says {reason}"), || stopped(reason));
        assert!(server.stop().success());
    }
    // A request past its timeout: its worker is replaced.
    let server = Server::start(&app, &["start", "--request-timeout", "1"]);
    let port = server.port;
    let stuck = std::thread::spawn(move || exchange(port, b"GET /sleep?3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
    eventually(Duration::from_secs(10), "process_stopping says request_timeout", || stopped("request_timeout"));
    assert_eq!(stuck.join().unwrap().map(|r| r.status), Some(504));
    // A reload, and the server's own stop.
    server.signal(Signal::SIGHUP);
    eventually(Duration::from_secs(10), "process_stopping says graceful_signal", || stopped("graceful_signal"));
    assert!(server.stop().success());
    assert!(stopped("shutdown_signal"), "{}", std::fs::read_to_string(app.app().join("stopping.log")).unwrap());
}

#[test]
fn process_and_request_metrics_add_up_to_the_requests_served() {
    let app = Sandbox::built_from("events");
    let server = Server::start(&app, &["start", "--threads", "5"]);
    let port = server.port;
    let metrics = |path: &str| -> Value { serde_json::from_str(&get(port, path).text()).unwrap() };
    // Closes the window the worker opened when it started.
    metrics("/request-metrics");
    let clients: Vec<_> =
        (0..2).map(|_| std::thread::spawn(move || (0..10).for_each(|_| assert_eq!(get(port, "/sleep?0.05").status, 200)))).collect();
    clients.into_iter().for_each(|c| c.join().unwrap());
    for _ in 0..3 {
        assert_eq!(get(port, "/fail").status, 500);
    }

    // This window: the first metrics request (it ended after the window opened), 20 sleeps
    // and 3 failures.
    let window = metrics("/request-metrics");
    let count = |key: &str| window[key].as_u64().unwrap_or_else(|| panic!("{key}: {window}"));
    assert_eq!(count("request_count"), 24, "{window}");
    assert_eq!((count("status_2xx"), count("status_5xx"), count("status_4xx")), (21, 3, 0));
    let buckets: Vec<u64> = serde_json::from_value(window["application_time_buckets"].clone()).unwrap();
    assert_eq!(buckets.len(), 65);
    assert_eq!(buckets.iter().sum::<u64>(), 24);
    assert!(buckets[20..28].iter().sum::<u64>() >= 20, "the 50 ms sleeps land from 32 ms on: {buckets:?}");
    let (application, period) = (window["application_time"].as_f64().unwrap(), window["sample_period"].as_f64().unwrap());
    assert!((0.05 * 20.0 / 24.0..1.0).contains(&application), "{window}");
    let throughput = window["request_throughput"].as_f64().unwrap();
    assert!((throughput - 24.0 / period).abs() < 1e-6 * throughput.max(1.0), "{window}");
    let capacity = window["capacity_utilization"].as_f64().unwrap();
    // Two of the five threads busy for most of the window at most.
    assert!(capacity > 0.0 && capacity <= 0.5, "{window}");
    assert!(count("request_threads_active") >= 2 && count("request_threads_maximum") == 5, "{window}");

    let process = metrics("/process-metrics");
    let served = process["request_count"].as_u64().unwrap();
    assert_eq!(served, 25, "two metrics requests, 20 sleeps and 3 failures ended: {process}");
    let threads = process["threads"].as_array().unwrap();
    assert_eq!(threads.iter().map(|t| t["thread_id"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(threads.iter().map(|t| t["request_count"].as_u64().unwrap()).sum::<u64>(), served);
    assert_eq!(process["active_requests"], 1, "this one: {process}");
    let (rss, peak) = (process["memory_rss"].as_u64().unwrap(), process["memory_max_rss"].as_u64().unwrap());
    assert!(rss > 1 << 20 && peak >= rss && peak < 200 << 20, "{process}");
    assert!(process["request_busy_time"].as_f64().unwrap() >= 1.0, "{process}");
    assert!(server.stop().success());
}
