//! Kubernetes and OpenShift objects that run an app's image: `warp manifest`.
//!
//! [`App`] is what the image's `warp start` will make of the app: its settings resolved
//! as in the container ([`ContainerEnv`]), where the port, the health path, the shutdown
//! timeout and the capacity come from. [`objects`] turns it and the [`Options`] a platform
//! engineer gives into a Deployment (probes on the app's port and health path or the probe
//! commands, a grace period above the shutdown timeout, the restricted security context,
//! requests and limits), a Service and, for OpenShift, a Route with edge TLS. [`yaml`]
//! writes them as one multi-document stream, the same bytes for the same input.
//!
//! What this module does not do: talk to a cluster, build or push the image, or run the
//! app's hooks (a `deploy-env` hook's output is not seen: settings it would change must be
//! given in the app's files or as `env`).

pub mod app;
pub mod names;
pub mod objects;
pub mod quantity;
pub mod yaml;

use std::net::IpAddr;

pub use app::{App, ContainerEnv};
pub use objects::objects;
pub use quantity::{Amounts, Quantity};

use crate::image::Reference;

/// What the platform engineer decides, as opposed to what the app's settings say.
#[derive(Clone, Debug)]
pub struct Options {
    /// The name of every object, and of the container ([`names::object_name`]).
    pub name: String,
    pub image: Reference,
    pub namespace: Option<String>,
    pub replicas: u32,
    /// The Service's port [default: the container's].
    pub service_port: Option<u16>,
    /// Add a Route.
    pub openshift: bool,
    /// The Route's host [default: one OpenShift makes up].
    pub hostname: Option<String>,
    /// The container's variables, in order.
    pub env: Vec<(String, String)>,
    pub requests: Amounts,
    pub limits: Amounts,
}

/// Input that cannot make valid objects: each a usage error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{text:?} is not a valid {what}: {rule}")]
    Name { what: &'static str, text: String, rule: &'static str },
    #[error("{0:?} is not a Kubernetes quantity: give a number and an optional suffix, such as 250m, 1.5 or 512Mi")]
    Quantity(String),
    #[error("{0:?} is not a list of resources: give cpu=QUANTITY, memory=QUANTITY or both, such as cpu=500m,memory=512Mi")]
    Amounts(String),
    #[error(
        "the {resource} request {request} is above its limit {limit}: lower --requests {resource}=... or raise --limits {resource}=..."
    )]
    RequestAboveLimit { resource: &'static str, request: String, limit: String },
    #[error("{place}: the server would listen on {host} only, where neither the Service nor the probes reach it: listen on 0.0.0.0, the default in a container")]
    Unreachable { place: String, host: IpAddr },
    #[error("{place}: 0 picks any free port, which a Service cannot target: give a port number, such as 8080")]
    AnyPort { place: String },
    #[error("--env {0} is given twice: give each variable once")]
    EnvTwice(String),
}

/// The container's variables from `KEY=VALUE` texts, each name once.
pub fn env_pairs(texts: &[String]) -> Result<Vec<(String, String)>, Error> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for text in texts {
        let (key, value) = text.split_once('=').unwrap_or((text, ""));
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(Error::EnvTwice(key.to_owned()));
        }
        pairs.push((key.to_owned(), value.to_owned()));
    }
    Ok(pairs)
}
