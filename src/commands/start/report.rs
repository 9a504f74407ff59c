//! What `warp start` tells: the banner before serving, and `--explain`.

use std::path::Path;

use warp::start::detect::{self, App, Detection};
use warp::start::serve::{external, supervisor};
use warp_worker_config::AccessLogFormat;

/// `--explain`: each detection rule with its outcome, then what would run.
pub(super) fn explain(detection: &Detection, plan: &supervisor::Plan, src: &Path, launch: Option<&external::Launch>) -> String {
    let mut lines = vec![format!("app detection in {}:", src.display())];
    let width = detection.steps.iter().map(|(rule, _)| rule.len()).max().unwrap_or(0);
    lines.extend(detection.steps.iter().map(|(rule, outcome)| format!("  {rule:width$}  {outcome}")));
    lines.push(format!("found: {}", detect::describe(&detection.app)));
    match (&detection.app, launch) {
        (App::Program(program), _) => {
            lines.push(format!("would run: {program} (PORT={}), in {}", plan.bind.port(), src.display()));
        }
        (App::Wsgi(_), Some(launch)) => {
            lines.push(format!("would run: {}", launch.shown()));
            lines.extend(launch.notes.iter().map(|note| format!("note: {note}")));
        }
        (App::Wsgi(_), None) => lines.push(format!("would serve with warp's embedded server:\n{}", banner(plan, src))),
    }
    lines.join("\n")
}

/// What is about to run, as mod_wsgi-express shows it: enough to debug a deployment from
/// its first lines of log.
pub(super) fn banner(plan: &supervisor::Plan, src: &Path) -> String {
    let w = &plan.worker;
    let host = if plan.bind.ip().is_unspecified() { "localhost".to_owned() } else { plan.bind.ip().to_string() };
    let venv = plan.python.parent().and_then(Path::parent).unwrap_or(&plan.python);
    let off_or = |d: std::time::Duration| if d.is_zero() { "off".to_owned() } else { format!("{}s", d.as_secs_f64()) };
    let mut lines = vec![
        format!("warp: serving {} from {}", w.app, src.display()),
        format!("  url:        http://{host}:{}/ (listening on {}, backlog {})", plan.bind.port(), plan.bind, plan.backlog),
        format!("  python:     {}", plan.python.display()),
        format!("  venv:       {}", venv.display()),
        format!("  capacity:   {} process(es) x {} thread(s) = {}", plan.processes, w.threads, plan.processes * w.threads),
        format!(
            "  timeouts:   startup {}s, queue {}s, request {}s, socket {}s, shutdown {}s, graceful {}s",
            plan.startup_timeout.as_secs_f64(),
            w.queue_timeout.as_secs_f64(),
            w.request_timeout.as_secs_f64(),
            w.socket_timeout.as_secs_f64(),
            w.shutdown_timeout.as_secs_f64(),
            w.graceful_timeout.as_secs_f64()
        ),
        format!(
            "  recycling:  maximum requests {}, restart interval {}, inactivity {}, memory limit {}",
            if w.maximum_requests == 0 { "off".to_owned() } else { w.maximum_requests.to_string() },
            off_or(w.restart_interval),
            off_or(w.inactivity_timeout),
            if w.memory_limit == 0 { "off".to_owned() } else { format!("{} MiB", w.memory_limit >> 20) },
        ),
        format!("  body limit: {} bytes", w.limit_request_body),
    ];
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
