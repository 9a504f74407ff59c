use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use warp::appenv::AppEnv;
use warp::env_vars;
use warp::image::base::Compression;
use warp::image::engine::Engine;
use warp::image::make::{self, Request};
use warp::image::target::registry::{self, Progress};
use warp::image::target::{engine as engine_target, layout as oci_layout};
use warp::image::Epoch;
use warp::layout::Layout;
use warp::report::step;
use warp::settings::{self, ConfigFile, Id, Scope, Sources};

use super::interrupt::Interrupt;
use crate::cli::ImageArgs;
use crate::ui;

pub fn run(args: ImageArgs) -> Result<()> {
    let started = Instant::now();
    // Everything the user typed is checked before anything is built.
    let reference = args.name;
    let epoch = Epoch::from_env()?;
    let layout = Layout::discover(args.src.as_deref())?;
    let config = ConfigFile::load(&layout.src, layout.legacy_dir())?;
    let env = AppEnv::from_files(&layout)?;
    let settings = settings::resolve(&Sources { flags: &args.settings.flags, env: &env, config: &config }, &[Scope::Image, Scope::Build])?;
    if let Some(dir) = &args.oci {
        oci_layout::check_destination(dir)?;
    }
    let push = match args.push {
        true => Some(registry::Options::from_env(args.registry_auth.as_deref(), &reference)?),
        false => None,
    };
    let ca_cert = super::build_ca_cert(args.ca_cert)?;
    let mut build_env = env_vars::index_settings();
    build_env.extend(args.env);
    let request = Request {
        layout: &layout,
        name: reference.to_string(),
        builder: settings.text(Id::BuilderImage).map(str::to_owned),
        base: settings.text(Id::BaseImage).unwrap_or(warp::image::builder::DEFAULT_BASE).to_owned(),
        build_env,
        ca_cert,
        no_cache: args.no_cache,
        labels: settings.map(Id::ImageLabels),
        excludes: settings.list(Id::ImageExcludes).to_vec(),
        collectstatic: !settings.flag(Id::DisableCollectstatic),
        epoch,
        base_compression: if args.push { Compression::Gzip } else { Compression::None },
    };

    let engine = Engine::connect()?;
    let interrupt = Interrupt::install(make::OWNER_LABEL)?;
    let built = build_and_write(&engine, &request, &reference, args.oci.as_deref(), push.as_ref(), started);
    interrupt.settle(built)
}

/// Make the image and write it where it goes: the engine, a layout, a registry.
fn build_and_write(
    engine: &Engine,
    request: &Request,
    reference: &warp::image::Reference,
    oci: Option<&Path>,
    push: Option<&registry::Options>,
    started: Instant,
) -> Result<()> {
    let reporter = ui::reporter();
    let made = make::make(engine, request, reporter.as_ref())?;
    let image = &made.image;
    if oci.is_none() && push.is_none() {
        step(reporter.as_ref(), &format!("load into the engine as {reference}"), || {
            engine_target::load(engine, image, reference, &[made.base_id.as_str()])?;
            Ok(((), "loaded".to_string()))
        })?;
    }
    if let Some(dir) = oci {
        step(reporter.as_ref(), &format!("OCI image layout {}", dir.display()), || {
            oci_layout::write(image, reference, dir)?;
            Ok(((), "written".to_string()))
        })?;
    }
    if let Some(options) = push {
        step(reporter.as_ref(), &format!("push to {}", reference.registry()), || {
            let (mut sent, mut there) = (0, 0);
            let digest = registry::push(image, reference, options, &mut |event| match event {
                Progress::Uploaded { .. } => sent += 1,
                Progress::Present { .. } | Progress::Mounted { .. } => there += 1,
                Progress::Sending { digest, sent, size } => {
                    reporter.detail(&format!("{digest}: {} of {}", make::bytes(sent), make::bytes(size)))
                }
                Progress::Tagged { .. } => {}
            })?;
            Ok(((), format!("{sent} blobs sent, {there} already there; manifest {digest}")))
        })?;
    }
    let size: u64 = image.layers().iter().map(|layer| layer.size).sum();
    let dependencies = if made.dependencies_cached { "dependencies cached" } else { "dependencies installed" };
    reporter.info(&format!(
        "built {reference} in {} ({dependencies}): image ID {}, {} layers, {}",
        ui::seconds(started.elapsed()),
        image.config_digest(),
        image.layers().len(),
        make::bytes(size)
    ));
    Ok(())
}
