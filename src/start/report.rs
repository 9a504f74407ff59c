//! What `warp start` tells: the banner before serving, and `--explain`.

use std::path::Path;

use warp_worker_config::AccessLogFormat;

use crate::settings::{table, Id, Origin, Processes, Settings, Value};
use crate::start::detect::{self, App, Detection};
use crate::start::serve::{external, supervisor};

/// `--explain`'s first part: each detection rule with its outcome.
pub fn rules(steps: &[(String, String)], src: &Path) -> String {
    let mut lines = vec![format!("app detection in {}:", src.display())];
    let width = steps.iter().map(|(rule, _)| rule.len()).max().unwrap_or(0);
    lines.extend(steps.iter().map(|(rule, outcome)| format!("  {rule:width$}  {outcome}")));
    lines.join("\n")
}

/// `--explain`: each detection rule with its outcome, then what would run.
pub fn explain(
    detection: &Detection,
    plan: &supervisor::Plan,
    settings: &Settings,
    src: &Path,
    launch: Option<&external::Launch>,
) -> String {
    let mut lines = vec![rules(&detection.steps, src)];
    lines.push(format!("found: {}", detect::describe(&detection.app)));
    match (&detection.app, launch) {
        (App::Program(program), _) => {
            lines.push(format!("would run: {program} (PORT={}), in {}", plan.bind.port(), src.display()));
        }
        (App::Wsgi(_), Some(launch)) => {
            lines.push(format!("would run: {}", launch.shown()));
            lines.extend(launch.notes.iter().map(|note| format!("note: {note}")));
        }
        (App::Wsgi(_), None) => lines.push(format!("would serve with warp's embedded server:\n{}", banner(plan, settings, src))),
    }
    lines.join("\n")
}

/// What is about to run, as mod_wsgi-express shows it: enough to debug a deployment from
/// its first lines of log.
pub fn banner(plan: &supervisor::Plan, settings: &Settings, src: &Path) -> String {
    let w = &plan.worker;
    let host = url_host(plan.bind.ip());
    let venv = plan.python.parent().and_then(Path::parent).unwrap_or(&plan.python);
    let mut lines = vec![
        format!("warp: serving {} from {}", w.app, src.display()),
        match plan.bind.port() {
            // Only --explain shows a plan not yet bound.
            0 => format!("  url:        any free port on {}, chosen when bound (backlog {})", plan.bind.ip(), plan.backlog),
            port => format!("  url:        http://{host}:{port}/ (listening on {}, backlog {})", plan.bind, plan.backlog),
        },
        format!("  python:     {}", plan.python.display()),
        format!("  venv:       {}", venv.display()),
        format!(
            "  capacity:   {} process(es) x {} thread(s) = {}{}",
            plan.processes,
            w.threads,
            plan.processes * w.threads,
            auto(settings)
        ),
        format!("  timeouts:   {}", group(settings, table::H_TIMEOUTS)),
        format!("  recycling:  {}", group(settings, table::H_RECYCLING)),
        format!(
            "  body limit: {} bytes, {}",
            w.limit_request_body,
            if w.buffer_request_body { "received whole before the app runs" } else { "streamed to the app" }
        ),
    ];
    let given = given(settings);
    if !given.is_empty() {
        lines.push(format!("  settings:   {given}"));
    }
    if !w.trust_proxy_headers.is_empty() {
        let peers = if w.trusted_proxies.is_empty() {
            "any peer".to_owned()
        } else {
            w.trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        };
        lines.push(format!("  proxies:    {} from {peers}", w.trust_proxy_headers.join(", ")));
    }
    for alias in &w.url_aliases {
        lines.push(format!("  static:     {} -> {}", alias.url, alias.path));
    }
    if let Some(root) = &w.document_root {
        lines.push(format!("  static:     files in {root} (document root), else the app"));
    }
    if let Some(creds) = &plan.credentials {
        lines.push(format!("  user:       workers run as {} (uid {}, gid {})", creds.name, creds.uid, creds.gid));
    }
    if let Some(addr) = plan.metrics {
        let host = url_host(addr.ip());
        lines.push(match addr.port() {
            0 => format!("  metrics:    any free port on {}, chosen when bound", addr.ip()),
            port => format!("  metrics:    http://{host}:{port}/ (live status page), /metrics (Prometheus), listening on {addr}"),
        });
    }
    if let Some(path) = &w.health_path {
        lines.push(format!("  health:     {path} answered by the server (200, or 503 while stopping)"));
    }
    if let Some(dir) = &plan.watch {
        lines.push(format!("  reload:     on changes under {}", dir.display()));
    }
    let access = match w.access_log {
        AccessLogFormat::Off => "off",
        AccessLogFormat::Combined => "stdout (combined format)",
        AccessLogFormat::Json => "stdout (JSON lines)",
    };
    lines.push(format!("  logs:       errors to stderr (level {}), access log {access}", w.log_level.as_str()));
    lines.join("\n")
}

/// The host of a URL that reaches `ip`: localhost for every address, an IPv6 one bracketed.
fn url_host(ip: std::net::IpAddr) -> String {
    match ip {
        _ if ip.is_unspecified() => "localhost".to_owned(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        std::net::IpAddr::V4(v4) => v4.to_string(),
    }
}

/// How `--processes auto` came to its count, when it was asked for.
fn auto(settings: &Settings) -> String {
    match settings.get(Id::Processes) {
        Some(Value::Processes(Processes::Auto)) => format!(" ({})", crate::start::plan::auto_processes()),
        _ => String::new(),
    }
}

/// The settings under `heading`, as `startup 15s, queue 45s`: each named by its flag
/// without the heading's own word, switches left out.
fn group(settings: &Settings, heading: &str) -> String {
    settings
        .entries()
        .filter(|e| e.row.heading == heading && !matches!(e.value, Some(Value::Bool(_))))
        .map(|e| {
            let name = e.row.name();
            let name = name.trim_start_matches("--").trim_end_matches("-timeout").replace('-', " ");
            let value = match &e.value {
                None => "off".to_owned(),
                Some(v) if v.is_off() => "off".to_owned(),
                Some(Value::Seconds(d)) => format!("{}s", d.as_secs_f64()),
                Some(Value::Bytes(n)) => format!("{} MiB", n >> 20),
                Some(v) => v.render(),
            };
            format!("{name} {value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The settings someone gave, with where: the first thing to check when a deployment does
/// not behave as configured.
fn given(settings: &Settings) -> String {
    settings
        .entries()
        .filter(|e| !e.origin.is_default() && !matches!(e.row.id, Id::Src | Id::App))
        .filter_map(|e| {
            let value = e.value.as_ref()?.render();
            Some(match &e.origin {
                // The flag's own name already says where it came from.
                Origin::Flag(_) => format!("{} {value}", e.row.name()),
                origin => format!("{} {value} ({origin})", e.row.name()),
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
}
