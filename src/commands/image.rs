use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
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
    let ca_cert = ca_cert(args.ca_cert)?;
    let mut build_env: Vec<String> =
        env_vars::INDEX_SETTINGS.iter().filter_map(|var| env_vars::get(var).map(|value| format!("{var}={value}"))).collect();
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
    let interrupt = Interrupt::install()?;
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

/// SIGINT and SIGTERM while an image is built: the engine runs the build's containers, not
/// warp, so they would outlive it. A thread removes them, then ends warp as the signal ends
/// a process; meanwhile the build itself may fail (its container gone), and that failure is
/// not reported: [`Interrupt::settle`] waits for the thread instead.
struct Interrupt {
    /// Held by the thread from the signal to the end of the process.
    handling: Arc<Mutex<()>>,
}

impl Interrupt {
    fn install() -> Result<Interrupt> {
        let mut signals = Signals::new([SIGINT, SIGTERM]).context("cannot install signal handlers")?;
        let handling = Arc::new(Mutex::new(()));
        let shared = handling.clone();
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let _handling = shared.lock().unwrap_or_else(|e| e.into_inner());
                let pid = std::process::id().to_string();
                let removed = Engine::connect().and_then(|engine| engine.remove_containers_labelled(make::OWNER_LABEL, &pid));
                match removed {
                    Ok(0) => eprintln!("warp: interrupted"),
                    Ok(_) => eprintln!("warp: interrupted: the build container was removed"),
                    Err(err) => eprintln!("warp: interrupted, and the build container could not be removed: {err}"),
                }
                std::process::exit(128 + signal);
            }
        });
        Ok(Interrupt { handling })
    }

    /// The build's result, unless a signal came: then the thread holds the lock until it
    /// ends the process, and this never returns.
    fn settle(self, result: Result<()>) -> Result<()> {
        let _handling = self.handling.lock().unwrap_or_else(|e| e.into_inner());
        result
    }
}

/// The CA bundle for the build: the one given, else the first file a CA variable names.
fn ca_cert(given: Option<PathBuf>) -> Result<Option<PathBuf>> {
    if let Some(path) = given {
        std::fs::File::open(&path)
            .with_context(|| format!("cannot read the CA bundle {}: pass a readable PEM file to --ca-cert", path.display()))?;
        return Ok(Some(path));
    }
    Ok(env_vars::CA_BUNDLES.iter().filter_map(|var| env_vars::get(var)).map(PathBuf::from).find(|path| path.is_file()))
}
