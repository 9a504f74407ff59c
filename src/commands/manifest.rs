use std::io::Write;

use anyhow::Result;
use warp::deploy::{self, App, ContainerEnv, Options};
use warp::layout::Layout;
use warp::settings::{self, ConfigFile, Flags, Scope, Sources};

use super::ExitWith;
use crate::cli::ManifestArgs;

/// Resolve the app's settings as its image's `warp start` will, then print the objects.
/// Nothing is printed unless every object could be made.
pub fn run(args: ManifestArgs) -> Result<()> {
    let usage = |err: deploy::Error| -> anyhow::Error { ExitWith { code: 2, message: err.to_string() }.into() };
    if args.hostname.is_some() && !args.openshift {
        let message = "--hostname is the Route's host, and only --openshift adds a Route: add --openshift".to_owned();
        return Err(ExitWith { code: 2, message }.into());
    }
    let env = deploy::env_pairs(&args.env).map_err(usage)?;
    let layout = Layout::discover(args.src.as_deref())?;
    let config = ConfigFile::load(&layout.src, layout.legacy_dir())?;
    let container = ContainerEnv::new(warp::appenv::file_vars(&layout)?, &env);
    let settings = settings::resolve(&Sources { flags: &Flags::new(), env: &container, config: &config }, &[Scope::Start])?;
    let app = App::from_settings(&settings, &layout).map_err(usage)?;
    let options = Options {
        name: args.name,
        image: args.image,
        namespace: args.namespace,
        replicas: args.replicas,
        service_port: args.service_port,
        openshift: args.openshift,
        hostname: args.hostname,
        env,
        requests: args.requests.unwrap_or_default(),
        limits: args.limits.unwrap_or_default(),
    };
    let objects = deploy::objects(&app, &options).map_err(usage)?;
    std::io::stdout().lock().write_all(deploy::yaml::documents(&objects).as_bytes())?;
    Ok(())
}
