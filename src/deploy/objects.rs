//! The Deployment, the Service and the Route, in the key order Kubernetes' own documents
//! use, so that the same input always gives the same bytes.

use super::quantity::{Quantity, Resource};
use super::yaml::{map, Yaml};
use super::{names, App, Error, Options};
use crate::settings::Processes;

/// The name of the container's port, which the Service, the Route and the probes target,
/// so that a change of port is made in one place.
pub const PORT_NAME: &str = "http";

/// Seconds Kubernetes waits beyond warp's shutdown timeout before it kills the container:
/// the master ending its workers, a program's extra second before it is killed, and the
/// kubelet's own delay in sending the signal.
pub const GRACE_MARGIN_SECS: u64 = 5;

/// Probe timings. An HTTP probe of the health path is answered by the server's event loop
/// without a free thread; an exec probe starts `warp` itself, sends its request (1 s at
/// most) and runs the app's hook, so it gets longer.
const HTTP_TIMEOUT_SECS: u32 = 2;
const EXEC_TIMEOUT_SECS: u32 = 5;
const READINESS_PERIOD_SECS: u32 = 5;
const LIVENESS_PERIOD_SECS: u32 = 10;
const STARTUP_PERIOD_SECS: u64 = 5;
/// Failures in a row before a pod leaves the Service or is restarted.
const FAILURES: u32 = 3;
/// Startup may take four startup timeouts (a retried app load, and the deploy hooks
/// before the first), and never less than a minute.
const STARTUP_TIMEOUTS: u64 = 4;
const MIN_STARTUP_SECS: u64 = 60;

/// What one worker process is given: a CPU request, and memory for the interpreter and
/// the app plus some for each thread's request in flight. One worker uses at most one CPU
/// of Python (the GIL), which is its CPU limit; its memory limit is twice its request.
const CPU_REQUEST_MILLIS: u64 = 250;
const CPU_LIMIT_MILLIS: u64 = 1000;
const MEMORY_PER_WORKER: u64 = 128 << 20;
const MEMORY_PER_THREAD: u64 = 16 << 20;
/// Above the workers' recycling size: the master, and what a worker grows by between two
/// checks of its size.
const MEMORY_ABOVE_RECYCLING: u64 = 128 << 20;

/// The objects that run the app: a Deployment, a Service and, for OpenShift, a Route.
pub fn objects(app: &App, options: &Options) -> Result<Vec<Yaml>, Error> {
    let mut docs = vec![deployment(app, options)?, service(app, options)];
    if options.openshift {
        docs.push(route(options));
    }
    Ok(docs)
}

fn deployment(app: &App, options: &Options) -> Result<Yaml, Error> {
    let mut own_labels = labels(options);
    if options.openshift {
        // The console's topology view shows the runtime's icon.
        own_labels.push("app.openshift.io/runtime", "python".into());
    }
    Ok(map([
        ("apiVersion", "apps/v1".into()),
        ("kind", "Deployment".into()),
        ("metadata", metadata(options, own_labels)),
        (
            "spec",
            map([
                ("replicas", options.replicas.into()),
                ("selector", map([("matchLabels", selector(options))])),
                ("template", map([("metadata", map([("labels", labels(options))])), ("spec", pod(app, options)?)])),
            ]),
        ),
    ]))
}

/// The pod: the restricted Pod Security Standard, with no fixed user, since OpenShift
/// assigns one and the image runs as any UID in group 0 (its own user, 1001, elsewhere).
fn pod(app: &App, options: &Options) -> Result<Yaml, Error> {
    Ok(map([
        // A web app has no business with the Kubernetes API unless someone says so.
        ("automountServiceAccountToken", false.into()),
        ("securityContext", map([("runAsNonRoot", true.into()), ("seccompProfile", map([("type", "RuntimeDefault".into())]))])),
        ("terminationGracePeriodSeconds", Yaml::Int(grace_period_secs(app))),
        ("containers", Yaml::Seq(vec![container(app, options)?])),
    ]))
}

/// The shutdown timeout rounded up, plus [`GRACE_MARGIN_SECS`].
pub fn grace_period_secs(app: &App) -> i64 {
    let timeout = app.shutdown_timeout;
    let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0) + GRACE_MARGIN_SECS;
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn container(app: &App, options: &Options) -> Result<Yaml, Error> {
    let mut container = map([
        ("name", options.name.clone().into()),
        ("image", options.image.to_string().into()),
        ("ports", Yaml::Seq(vec![map([("name", PORT_NAME.into()), ("containerPort", app.port.into()), ("protocol", "TCP".into())])])),
    ]);
    if !options.env.is_empty() {
        let env = options.env.iter().map(|(key, value)| map([("name", key.clone().into()), ("value", value.clone().into())])).collect();
        container.push("env", Yaml::Seq(env));
    }
    container.push("resources", resources(app, options)?);
    let alive = check(app.alive_hook, app, "alive");
    let ready = check(app.ready_hook, app, "ready");
    let startup_failures = (STARTUP_TIMEOUTS * app.startup_timeout.as_secs()).max(MIN_STARTUP_SECS).div_ceil(STARTUP_PERIOD_SECS);
    container.push("startupProbe", probe(&alive, STARTUP_PERIOD_SECS as u32, u32::try_from(startup_failures).unwrap_or(u32::MAX)));
    container.push("readinessProbe", probe(&ready, READINESS_PERIOD_SECS, FAILURES));
    container.push("livenessProbe", probe(&alive, LIVENESS_PERIOD_SECS, FAILURES));
    container
        .push("securityContext", map([("allowPrivilegeEscalation", false.into()), ("capabilities", map([("drop", vec!["ALL"].into())]))]));
    Ok(container)
}

/// How a probe asks.
#[derive(Clone, Debug, PartialEq)]
enum Check {
    /// GET of the health path on the container's port.
    Http(String),
    /// `warp alive` or `warp ready` in the container.
    Exec(&'static str),
}

/// An app's hook runs only under `warp alive`/`warp ready`, so a hook makes the probe
/// exec; else the health path, when the app has one; else the probe command, which asks
/// the server for `/`.
fn check(hook: bool, app: &App, command: &'static str) -> Check {
    match &app.health_path {
        Some(path) if !hook => Check::Http(path.clone()),
        _ => Check::Exec(command),
    }
}

fn probe(check: &Check, period: u32, failures: u32) -> Yaml {
    let (mut probe, timeout) = match check {
        Check::Http(path) => (map([("httpGet", map([("path", path.clone().into()), ("port", PORT_NAME.into())]))]), HTTP_TIMEOUT_SECS),
        Check::Exec(command) => (map([("exec", map([("command", vec!["warp", command].into())]))]), EXEC_TIMEOUT_SECS),
    };
    probe.push("periodSeconds", period.into());
    probe.push("timeoutSeconds", timeout.into());
    probe.push("failureThreshold", failures.into());
    probe
}

/// Requests and limits: what was given, the rest derived from the workers and threads and
/// never in conflict with what was given. `processes auto` runs a worker per CPU of the
/// limit, so its workers are counted from the CPU limit given (else one).
fn resources(app: &App, options: &Options) -> Result<Yaml, Error> {
    let workers = match app.processes {
        Processes::Count(n) => n as u64,
        Processes::Auto => options.limits.cpu.as_ref().map_or(1, |cpu| u64::try_from(cpu.units_ceil()).unwrap_or(u64::MAX)).max(1),
    };
    let memory = workers.saturating_mul(MEMORY_PER_WORKER.saturating_add(app.threads.saturating_mul(MEMORY_PER_THREAD)));
    let recycled = app.worker_memory_limit.map_or(0, |bytes| workers.saturating_mul(bytes).saturating_add(MEMORY_ABOVE_RECYCLING));
    let cpu = amounts(
        options,
        Resource::Cpu,
        Quantity::cpu_millis(workers.saturating_mul(CPU_REQUEST_MILLIS)),
        Quantity::cpu_millis(workers.saturating_mul(CPU_LIMIT_MILLIS)),
    )?;
    let memory =
        amounts(options, Resource::Memory, Quantity::memory_bytes(memory), Quantity::memory_bytes(memory.saturating_mul(2).max(recycled)))?;
    Ok(map([
        ("requests", map([("cpu", cpu.0.to_string().into()), ("memory", memory.0.to_string().into())])),
        ("limits", map([("cpu", cpu.1.to_string().into()), ("memory", memory.1.to_string().into())])),
    ]))
}

/// One resource's request and limit: a given one wins; a derived limit is raised to a given
/// request, and a derived request lowered to the limit.
fn amounts(options: &Options, resource: Resource, request: Quantity, limit: Quantity) -> Result<(Quantity, Quantity), Error> {
    let given_request = options.requests.get(resource);
    let limit = match (options.limits.get(resource), given_request) {
        (Some(given), _) => given.clone(),
        (None, Some(request)) if request.milli() > limit.milli() => request.clone(),
        (None, _) => limit,
    };
    let request = match given_request {
        Some(given) => given.clone(),
        None if request.milli() > limit.milli() => limit.clone(),
        None => request,
    };
    if request.milli() > limit.milli() {
        return Err(Error::RequestAboveLimit { resource: resource.name(), request: request.to_string(), limit: limit.to_string() });
    }
    Ok((request, limit))
}

fn service(app: &App, options: &Options) -> Yaml {
    let port = map([
        ("name", PORT_NAME.into()),
        ("port", options.service_port.unwrap_or(app.port).into()),
        ("targetPort", PORT_NAME.into()),
        ("protocol", "TCP".into()),
    ]);
    map([
        ("apiVersion", "v1".into()),
        ("kind", "Service".into()),
        ("metadata", metadata(options, labels(options))),
        ("spec", map([("type", "ClusterIP".into()), ("selector", selector(options)), ("ports", Yaml::Seq(vec![port]))])),
    ])
}

/// The Route: TLS ends at the router (edge), plain HTTP is redirected to HTTPS, and the
/// host is the one given or, without one, the one OpenShift makes up.
fn route(options: &Options) -> Yaml {
    let mut spec = map([]);
    if let Some(host) = &options.hostname {
        spec.push("host", host.clone().into());
    }
    spec.push("to", map([("kind", "Service".into()), ("name", options.name.clone().into()), ("weight", 100u32.into())]));
    spec.push("port", map([("targetPort", PORT_NAME.into())]));
    spec.push("tls", map([("termination", "edge".into()), ("insecureEdgeTerminationPolicy", "Redirect".into())]));
    map([
        ("apiVersion", "route.openshift.io/v1".into()),
        ("kind", "Route".into()),
        ("metadata", metadata(options, labels(options))),
        ("spec", spec),
    ])
}

fn metadata(options: &Options, labels: Yaml) -> Yaml {
    let mut metadata = map([("name", options.name.clone().into())]);
    if let Some(namespace) = &options.namespace {
        metadata.push("namespace", namespace.clone().into());
    }
    metadata.push("labels", labels);
    metadata
}

/// The labels that pick the app's pods: they never change for a Deployment, so the
/// version is not among them.
fn selector(options: &Options) -> Yaml {
    map([("app.kubernetes.io/name", options.name.clone().into()), ("app.kubernetes.io/instance", options.name.clone().into())])
}

/// Kubernetes' recommended labels: the selector's, the image's tag as the version when it
/// names one and fits a label, and warp as the tool that wrote them.
fn labels(options: &Options) -> Yaml {
    let mut labels = selector(options);
    let tag = options.image.tag();
    if tag != "latest" && names::label_value(tag) {
        labels.push("app.kubernetes.io/version", tag.into());
    }
    labels.push("app.kubernetes.io/managed-by", "warp".into());
    labels
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::deploy::yaml::documents;
    use crate::deploy::Amounts;
    use crate::image::Reference;

    fn app() -> App {
        App {
            port: 8080,
            health_path: None,
            shutdown_timeout: Duration::from_secs(5),
            startup_timeout: Duration::from_secs(15),
            processes: Processes::Count(1),
            threads: 5,
            worker_memory_limit: None,
            alive_hook: false,
            ready_hook: false,
        }
    }

    fn options() -> Options {
        Options {
            name: "shop".into(),
            image: Reference::parse("registry.example.com/team/shop:2.1").unwrap(),
            namespace: None,
            replicas: 2,
            service_port: None,
            openshift: false,
            hostname: None,
            env: vec![],
            requests: Amounts::default(),
            limits: Amounts::default(),
        }
    }

    fn the_container(docs: &[Yaml]) -> &Yaml {
        let spec = docs[0].get("spec").and_then(|s| s.get("template")).and_then(|t| t.get("spec")).unwrap();
        match spec.get("containers") {
            Some(Yaml::Seq(containers)) => &containers[0],
            other => panic!("no containers: {other:?}"),
        }
    }

    fn text(value: &str) -> Yaml {
        value.into()
    }

    fn resources(app: &App, options: &Options) -> Result<[String; 4], Error> {
        let docs = objects(app, options)?;
        let resources = the_container(&docs).get("resources").unwrap();
        let at = |kind: &str, name: &str| match resources.get(kind).and_then(|k| k.get(name)) {
            Some(Yaml::Str(text)) => text.clone(),
            other => panic!("{kind}.{name}: {other:?}"),
        };
        Ok([at("requests", "cpu"), at("requests", "memory"), at("limits", "cpu"), at("limits", "memory")])
    }

    #[test]
    fn probes_get_the_health_path_on_the_app_s_port_unless_a_hook_needs_the_command() {
        let app = App { port: 8085, health_path: Some("/healthz".into()), ..app() };
        let docs = objects(&app, &options()).unwrap();
        let container = the_container(&docs);
        let port = container.get("ports").unwrap();
        assert_eq!(port, &Yaml::Seq(vec![map([("name", text("http")), ("containerPort", 8085u16.into()), ("protocol", text("TCP"))])]));
        let http = map([("path", text("/healthz")), ("port", text(PORT_NAME))]);
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            assert_eq!(container.get(probe).and_then(|p| p.get("httpGet")), Some(&http), "{probe}");
        }

        let hooked = objects(&App { ready_hook: true, ..app.clone() }, &options()).unwrap();
        let ready = the_container(&hooked).get("readinessProbe").unwrap();
        assert_eq!(ready.get("exec"), Some(&map([("command", vec!["warp", "ready"].into())])));
        assert_eq!(ready.get("timeoutSeconds"), Some(&Yaml::Int(EXEC_TIMEOUT_SECS.into())));
        assert_eq!(the_container(&hooked).get("livenessProbe").and_then(|p| p.get("httpGet")), Some(&http));

        let plain = objects(&App { health_path: None, ..app }, &options()).unwrap();
        let alive = the_container(&plain).get("livenessProbe").unwrap();
        assert_eq!(alive.get("exec"), Some(&map([("command", vec!["warp", "alive"].into())])));
    }

    #[test]
    fn the_grace_period_outlasts_the_shutdown_timeout() {
        for (timeout, grace) in
            [(Duration::from_secs(5), 10), (Duration::from_millis(2500), 8), (Duration::ZERO, 5), (Duration::from_secs(120), 125)]
        {
            let app = App { shutdown_timeout: timeout, ..app() };
            assert_eq!(grace_period_secs(&app), grace);
            let docs = objects(&app, &options()).unwrap();
            let pod = docs[0].get("spec").and_then(|s| s.get("template")).and_then(|t| t.get("spec")).unwrap();
            assert_eq!(pod.get("terminationGracePeriodSeconds"), Some(&Yaml::Int(grace)));
        }
    }

    #[test]
    fn startup_allows_four_startup_timeouts_and_at_least_a_minute() {
        let failures = |secs| {
            let docs = objects(&App { startup_timeout: Duration::from_secs(secs), ..app() }, &options()).unwrap();
            the_container(&docs).get("startupProbe").and_then(|p| p.get("failureThreshold")).cloned()
        };
        assert_eq!(failures(15), Some(Yaml::Int(12)));
        assert_eq!(failures(1), Some(Yaml::Int(12)));
        assert_eq!(failures(60), Some(Yaml::Int(48)));
    }

    #[test]
    fn resources_follow_workers_and_threads_and_never_contradict_what_was_given() {
        assert_eq!(resources(&app(), &options()).unwrap(), ["250m", "208Mi", "1", "416Mi"]);
        let busy = App { processes: Processes::Count(4), threads: 8, ..app() };
        assert_eq!(resources(&busy, &options()).unwrap(), ["1", "1Gi", "4", "2Gi"]);
        // `auto` runs a worker per CPU of the limit.
        let auto = App { processes: Processes::Auto, ..app() };
        let limits = Amounts::parse("cpu=2500m").unwrap();
        assert_eq!(resources(&auto, &Options { limits, ..options() }).unwrap(), ["750m", "624Mi", "2500m", "1248Mi"]);
        assert_eq!(resources(&auto, &options()).unwrap(), ["250m", "208Mi", "1", "416Mi"]);
        // A worker recycled at 1G needs room for that much.
        let recycled = App { processes: Processes::Count(2), worker_memory_limit: Some(1 << 30), ..app() };
        assert_eq!(resources(&recycled, &options()).unwrap()[3], "2176Mi");
        // A limit given below the derived request lowers the request to it; a request given
        // above the derived limit raises the limit to it.
        let small = Options { limits: Amounts::parse("cpu=100m,memory=128Mi").unwrap(), ..options() };
        assert_eq!(resources(&app(), &small).unwrap(), ["100m", "128Mi", "100m", "128Mi"]);
        let big = Options { requests: Amounts::parse("cpu=3,memory=1.5Gi").unwrap(), ..options() };
        assert_eq!(resources(&app(), &big).unwrap(), ["3", "1.5Gi", "3", "1.5Gi"]);
        let contradictory =
            Options { requests: Amounts::parse("memory=1Gi").unwrap(), limits: Amounts::parse("memory=1G").unwrap(), ..options() };
        let err = resources(&app(), &contradictory).unwrap_err().to_string();
        assert_eq!(err, "the memory request 1Gi is above its limit 1G: lower --requests memory=... or raise --limits memory=...");
    }

    #[test]
    fn the_pod_is_restricted_without_a_fixed_user() {
        let docs = objects(&app(), &options()).unwrap();
        let pod = docs[0].get("spec").and_then(|s| s.get("template")).and_then(|t| t.get("spec")).unwrap();
        let security = pod.get("securityContext").unwrap();
        assert_eq!(security.get("runAsNonRoot"), Some(&Yaml::Bool(true)));
        assert_eq!(security.get("seccompProfile"), Some(&map([("type", text("RuntimeDefault"))])));
        let container = the_container(&docs).get("securityContext").unwrap();
        assert_eq!(container.get("allowPrivilegeEscalation"), Some(&Yaml::Bool(false)));
        assert_eq!(container.get("capabilities"), Some(&map([("drop", vec!["ALL"].into())])));
        let all = documents(&docs);
        assert!(!all.contains("runAsUser") && !all.contains("fsGroup"), "{all}");
    }

    #[test]
    fn the_service_and_route_target_the_named_port() {
        let options = Options { namespace: Some("web".into()), service_port: Some(80), ..options() };
        let docs = objects(&app(), &options).unwrap();
        assert_eq!(docs.len(), 2, "a Route only for OpenShift");
        let expected = "\
---
apiVersion: v1
kind: Service
metadata:
  name: shop
  namespace: web
  labels:
    app.kubernetes.io/name: shop
    app.kubernetes.io/instance: shop
    app.kubernetes.io/version: \"2.1\"
    app.kubernetes.io/managed-by: warp
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: shop
    app.kubernetes.io/instance: shop
  ports:
  - name: http
    port: 80
    targetPort: http
    protocol: TCP
";
        assert_eq!(documents(&docs[1..]), expected);

        let openshift = Options { openshift: true, hostname: Some("shop.apps.example.com".into()), ..options.clone() };
        let docs = objects(&app(), &openshift).unwrap();
        let route = documents(&docs[2..]);
        assert!(route.contains("kind: Route\n"), "{route}");
        assert!(route.contains("spec:\n  host: shop.apps.example.com\n  to:\n    kind: Service\n    name: shop\n    weight: 100\n  port:\n    targetPort: http\n  tls:\n    termination: edge\n    insecureEdgeTerminationPolicy: Redirect\n"), "{route}");
        assert!(documents(&docs[..1]).contains("app.openshift.io/runtime: python"));
        let no_host = objects(&app(), &Options { openshift: true, ..options }).unwrap();
        assert!(!documents(&no_host).contains("host:"));
    }

    #[test]
    fn only_a_tag_that_names_a_version_labels_it() {
        let labels = |image: &str| {
            let docs = objects(&app(), &Options { image: Reference::parse(image).unwrap(), ..options() }).unwrap();
            docs[1].get("metadata").and_then(|m| m.get("labels")).and_then(|l| l.get("app.kubernetes.io/version")).cloned()
        };
        assert_eq!(labels("shop:v1.2"), Some(text("v1.2")));
        assert_eq!(labels("shop"), None);
        assert_eq!(labels("shop:_private"), None);
    }

    #[test]
    fn the_deployment_sets_the_container_s_variables_in_order() {
        let env = vec![("WARP_HEALTH_PATH".to_owned(), "/healthz".to_owned()), ("FEATURE".to_owned(), "yes".to_owned())];
        let docs = objects(&app(), &Options { env, ..options() }).unwrap();
        let expected = Yaml::Seq(vec![
            map([("name", text("WARP_HEALTH_PATH")), ("value", text("/healthz"))]),
            map([("name", text("FEATURE")), ("value", text("yes"))]),
        ]);
        assert_eq!(the_container(&docs).get("env"), Some(&expected));
        assert!(documents(&docs).contains("value: \"yes\"\n"));
        assert_eq!(the_container(&objects(&app(), &options()).unwrap()).get("env"), None);
    }
}
