//! `warp manifest` as typed.

use std::path::PathBuf;

use clap::Args;
use warp::deploy::{self, names, Amounts};

/// Print the Kubernetes objects that run the app's image: Deployment, Service, Route.
///
/// The Route comes with --openshift.
///
/// The objects follow the app's settings as the image's `warp start` will read them (its
/// .warp/config.yaml, its environment files and the variables given with --env, never this
/// shell's): the container's port, probes that GET the health path when the app has one
/// and else run `warp alive` and `warp ready` (always, for an app with an alive or ready
/// hook), a termination grace period above the shutdown timeout, and requests and limits
/// sized by the worker processes and threads. The pod meets the restricted Pod Security Standard and
/// fixes no user, so OpenShift can assign one. The YAML goes to stdout, the same bytes for
/// the same input, for `kubectl apply -f -` or `oc apply -f -`.
#[derive(Args)]
#[command(after_help = "Examples:
  warp manifest myapp registry.example.com/team/myapp:1.0 | kubectl apply -f -
  warp manifest blog quay.io/me/blog:1.0 examples/django --openshift
  warp manifest blog quay.io/me/blog:1.0 --openshift --hostname blog.apps.example.com
  warp manifest myapp myapp:1.0 -n web --replicas 3 --env WARP_HEALTH_PATH=/healthz
  warp manifest myapp myapp:1.0 --requests cpu=500m,memory=512Mi --limits memory=1Gi")]
pub struct ManifestArgs {
    /// The name of the Deployment, the Service, the Route and the container: at most 63
    /// lowercase letters, digits and '-', starting with a letter.
    #[arg(value_parser = checked(names::object_name))]
    pub name: String,
    /// The image to run, NAME[:TAG], such as `warp image` builds: e.g. registry.example.com/team/myapp:1.0.
    #[arg(value_parser = super::reference)]
    pub image: warp::image::Reference,
    /// The app's source folder, whose settings the image holds [default: the current folder].
    pub src: Option<PathBuf>,
    /// Add an OpenShift Route: TLS ends at the router, and plain HTTP is redirected to HTTPS.
    #[arg(long)]
    pub openshift: bool,
    /// The Route's host name (with --openshift) [default: one OpenShift makes up].
    #[arg(long, value_name = "HOST", value_parser = checked(names::hostname))]
    pub hostname: Option<String>,
    /// The namespace of every object [default: the one kubectl or oc applies to].
    #[arg(long, short = 'n', value_parser = checked(names::namespace))]
    pub namespace: Option<String>,
    /// How many pods run the app.
    #[arg(long, default_value = "1", value_name = "N", value_parser = clap::value_parser!(u32).range(0..=i64::from(i32::MAX)))]
    pub replicas: u32,
    /// The Service's port [default: the container's].
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub service_port: Option<u16>,
    /// A variable of the container, which the app's settings read too, e.g.
    /// WARP_HEALTH_PATH=/healthz (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = super::key_value)]
    pub env: Vec<String>,
    /// The container's requests, as `kubectl set resources` takes them [default: 250m CPU
    /// per worker process, and 128Mi of memory per worker plus 16Mi per thread].
    #[arg(long, value_name = "cpu=Q,memory=Q", value_parser = amounts)]
    pub requests: Option<Amounts>,
    /// The container's limits [default: one CPU per worker process; twice the memory
    /// request, or more when the workers' --memory-limit needs it]. With `processes auto`
    /// a worker runs per CPU of the limit.
    #[arg(long, value_name = "cpu=Q,memory=Q", value_parser = amounts)]
    pub limits: Option<Amounts>,
}

/// A text the library's `check` accepts.
fn checked(check: fn(&str) -> Result<(), deploy::Error>) -> impl Fn(&str) -> Result<String, String> + Clone + Send + Sync + 'static {
    move |text: &str| check(text).map(|()| text.to_owned()).map_err(|err| err.to_string())
}

/// `cpu=Q,memory=Q`.
fn amounts(text: &str) -> Result<Amounts, String> {
    Amounts::parse(text).map_err(|err| err.to_string())
}
