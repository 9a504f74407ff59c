//! `warp image`: an app's source made into an image on a container engine.
//!
//! The image is the base image's layers, then three layers warp writes itself:
//! 1. warp: its executable and server module in [`WARP_DIR`], as the builder has them;
//! 2. the dependencies: the venv at [`APP_ROOT`] as `warp build` left it in a container of
//!    the builder image, cached by [`key::dependencies`];
//! 3. the app: [`APP_SRC`], the source as the build left it (collected static files, say).
//!
//! The build runs only when it has something to do. When the dependency layer is cached and
//! nothing in the build works on the source after the install (no `build` hook, no
//! collectstatic, the app not installed as a package), the source is the app layer as it is,
//! and no container runs at all. When the layer is cached but the source needs the build,
//! the container starts from the cached venv, so `warp build` installs nothing.
//!
//! What the build container gets and nothing of it lands in a layer: the CA bundle and the
//! package index settings (warp cuts the layers from the container's [`APP_ROOT`] itself and
//! never commits the container), and the installers' caches, kept in the container's /tmp.

pub(crate) mod key;
pub(crate) mod staging;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::base::{Base, Compression};
use super::builder::{self, Inputs};
use super::cache::{self, Cache};
use super::engine::{self, Engine, ImageInfo};
use super::exclude::Excludes;
use super::layer::{self, Layer, Owner, Spec};
use super::{Config, Epoch, History, Image, Reference, APP_ROOT, APP_SRC, GID, UID, WARP_DIR};
use crate::layout::Layout;
use crate::report::{step, Reporter};

/// The label of a build container, whose value is the name of the image it builds.
pub const BUILD_LABEL: &str = "dev.warp.image.build";
/// The label of a build container whose value is the pid of the warp that made it.
pub const OWNER_LABEL: &str = "dev.warp.image.build.pid";
/// The folder above [`APP_ROOT`] and [`WARP_DIR`], as bases have it.
const OPT: &[(&str, Owner)] = &[("/opt", Owner::Root)];
/// Where the build container finds the CA bundle it is given: this file in /tmp.
const CA_FILE: &str = "warp-build-ca.pem";
/// Where the build container keeps installer caches: outside [`APP_ROOT`], so out of every
/// layer.
const CACHE_IN_CONTAINER: &str = "/tmp/warp-build-cache";

/// What to build.
pub struct Request<'a> {
    /// The app.
    pub layout: &'a Layout,
    /// The name the image is for: its build container's [`BUILD_LABEL`].
    pub name: String,
    /// The builder image, when one is named; else warp's own for `base`.
    pub builder: Option<String>,
    /// The image the app image starts from, and warp's builder is made from.
    pub base: String,
    /// `KEY=VALUE` lines for the build only: package index settings and `--env`.
    pub build_env: Vec<String>,
    /// A CA bundle for the build only.
    pub ca_cert: Option<PathBuf>,
    /// Build the dependency layer again even when it is cached.
    pub no_cache: bool,
    /// Labels added to the image's config.
    pub labels: BTreeMap<String, String>,
    /// Patterns of source files left out, besides the ignore files.
    pub excludes: Vec<String>,
    /// Whether `warp build` runs Django's collectstatic for this app.
    pub collectstatic: bool,
    /// Every layer's and the config's time.
    pub epoch: Epoch,
    /// How the base image's layers are kept: compressed only when they go over a network.
    pub base_compression: Compression,
}

/// What [`make`] made.
pub struct Made {
    /// The image, ready for a target.
    pub image: Image,
    /// Whether the dependency layer came from the cache.
    pub dependencies_cached: bool,
    /// Whether a build container ran.
    pub built_in_container: bool,
    /// The ID of the base image in the engine.
    pub base_id: String,
    /// Holds the app layer's blob until the image is written out.
    _scratch: tempfile::TempDir,
}

/// What the steps of making one image share.
struct Build<'a> {
    engine: &'a Engine,
    request: &'a Request<'a>,
    cache: Cache,
    /// This build's temporary files.
    scratch: tempfile::TempDir,
    /// What of the source stays out.
    excludes: Excludes,
    reporter: &'a dyn Reporter,
}

/// Make the image of `request` on `engine`, each step reported to `reporter`.
pub fn make(engine: &Engine, request: &Request, reporter: &dyn Reporter) -> Result<Made> {
    let layout = request.layout;
    let cache = Cache::new(&layout.cache);
    let excludes = source_excludes(layout, &request.excludes)?;
    let build = Build { engine, request, scratch: cache.scratch()?, cache, excludes, reporter };
    let (cache, scratch, excludes) = (&build.cache, &build.scratch, &build.excludes);

    let builder = step(reporter, "builder image", || {
        let info = ensure_builder(engine, request, cache, reporter)?;
        let name = info.tags.first().cloned().unwrap_or_else(|| info.id.clone());
        let what = format!("{name} ({})", short(&info.id));
        Ok((info, what))
    })?;
    let base = step(reporter, &format!("base image {}", request.base), || {
        pull_if_missing(engine, &request.base, reporter)?;
        let base = Base::config(engine, &request.base, &layout.cache)?;
        let layers = base.layers(engine, &layout.cache, request.base_compression)?;
        let what = format!("{} layers ({})", layers.len(), short(&base.id));
        Ok(((base, layers), what))
    })?;
    let (base, base_layers) = base;
    let warp_layer = step(reporter, "warp's layer", || {
        let (layer, cached) = warp_layer(cache, scratch, request.epoch)?;
        Ok((layer.clone(), describe(&layer, cached)))
    })?;

    let source = step(reporter, "source", || {
        let (layer, skipped) = layer::write_blob(&source_spec(&layout.src, excludes, request.epoch), scratch.path())?;
        for skipped in skipped {
            reporter.warn(&format!("{} is {} and stays out of the image", skipped.path.display(), skipped.reason));
        }
        Ok((layer.clone(), format!("{} compressed", bytes(layer.size))))
    })?;

    let dependency_key = key::dependencies(layout, &builder.id, &request.build_env, request.epoch)?;
    let cached = if request.no_cache { None } else { cache.layer(cache::Kind::Dependencies, &dependency_key) };
    let dependencies_cached = cached.is_some();
    let (dependencies, app, built_in_container) = match cached {
        Some(dependencies) if !works_on_source(layout, request.collectstatic)? => (dependencies, source, false),
        cached => {
            let built = build.in_container(&builder, &source, cached.as_ref())?;
            if cached.is_none() {
                cache.remember(cache::Kind::Dependencies, &dependency_key, &built.0)?;
            }
            (built.0, built.1, true)
        }
    };

    let mut labels = source_labels(&layout.src);
    labels.extend(request.labels.clone());
    let mut layers = base_layers;
    layers.extend([warp_layer, dependencies, app]);
    let steps = ["warp and its server module", "warp build: the dependencies", "the app"].map(|step| format!("warp image: {step}"));
    let image = app_image(&base, layers, labels, &steps, request.epoch);
    Ok(Made { image, dependencies_cached, built_in_container, base_id: base.id, _scratch: build.scratch })
}

/// The builder named, which must exist; else warp's own for the base, built now if the
/// engine lacks it.
fn ensure_builder(engine: &Engine, request: &Request, cache: &Cache, reporter: &dyn Reporter) -> Result<ImageInfo> {
    if let Some(name) = &request.builder {
        return engine.inspect(name)?.with_context(|| {
            format!("the builder image {name} is not in the engine: build or pull it first, or leave --builder out to use warp's own")
        });
    }
    let layout = request.layout;
    let mut inputs = Inputs::of_this_warp(&layout.cache)?;
    let tag = builder::default_tag(&request.base, &inputs, cache)?;
    if let Some(info) = engine.inspect(&tag)? {
        return Ok(info);
    }
    // A builder carries uv, so that no build fetches it again: get the pinned one first.
    if inputs.uv.is_none() {
        inputs.uv = Some(crate::build::uv::fetch_for(layout, reporter)?);
    }
    pull_if_missing(engine, &request.base, reporter)?;
    let tag = builder::default_tag(&request.base, &inputs, cache)?;
    let reference = Reference::parse(&tag)?;
    Ok(builder::ensure(engine, &reference, &request.base, &inputs, &mut |line| reporter.detail(line))?)
}

/// The base image from the engine, pulled first when the engine lacks it.
fn pull_if_missing(engine: &Engine, base: &str, reporter: &dyn Reporter) -> Result<()> {
    if engine.exists(base)? {
        return Ok(());
    }
    engine.pull(base, &mut |line| reporter.detail(line)).map_err(|err| {
        let cause = std::error::Error::source(&err).map(|cause| cause.to_string()).unwrap_or_else(|| err.to_string());
        anyhow::anyhow!(
            "the base image {base} is not in the engine and cannot be pulled ({cause}): pull or import it, or name another with --base"
        )
    })?;
    Ok(())
}

/// An image of the app a finished build `container` holds in [`APP_ROOT`] (its venv and
/// source), on the engine's image `runtime`: the runtime's layers, warp's layer, then
/// [`APP_ROOT`] as one layer (without its caches), with an app image's config and `labels`.
/// For builds whose builder is not the image to run (s2i's runtime images).
pub fn on_runtime(
    engine: &Engine,
    container: &engine::Container,
    runtime: &str,
    cache_dir: &Path,
    labels: BTreeMap<String, String>,
    reporter: &dyn Reporter,
) -> Result<Made> {
    let cache = Cache::new(cache_dir);
    let scratch = cache.scratch()?;
    let epoch = Epoch::from_env()?;
    let (base, mut layers) = step(reporter, &format!("runtime image {runtime}"), || {
        pull_if_missing(engine, runtime, reporter)?;
        let base = Base::config(engine, runtime, cache_dir)?;
        let layers = base.layers(engine, cache_dir, Compression::None)?;
        let what = format!("{} layers ({})", layers.len(), short(&base.id));
        Ok(((base, layers), what))
    })?;
    let app = step(reporter, "layers", || {
        let (warp, cached) = warp_layer(&cache, &scratch, epoch)?;
        let root = staging::download(container, APP_ROOT, scratch.path(), &scratch.path().join("out"))?;
        let mut excludes = Excludes::new();
        excludes.add_patterns(Path::new("warp"), ".cache\n")?;
        let spec = Spec { folder: &root, destination: APP_ROOT, excludes: &excludes, epoch, owner: Owner::App, parents: OPT };
        let (app, _) = layer::write_blob(&spec, &scratch.path().join("app"))?;
        let what = format!("warp {}, app {}", describe(&warp, cached), bytes(app.size));
        Ok(([warp, app], what))
    })?;
    layers.extend(app);
    let steps = ["warp and its server module", "the app and its venv"].map(|step| format!("warp s2i build: {step}"));
    let image = app_image(&base, layers, labels, &steps, epoch);
    Ok(Made { image, dependencies_cached: false, built_in_container: true, base_id: base.id, _scratch: scratch })
}

/// The app image of `layers` on `base`: [`app_config`] and [`app_history`].
fn app_image(base: &Base, layers: Vec<Layer>, labels: BTreeMap<String, String>, steps: &[String], epoch: Epoch) -> Image {
    Image::new(&app_config(base, labels, epoch), &layers, &app_history(base, steps, epoch))
}

/// An app's config on `base`: the base's environment and labels, then `labels`.
pub(crate) fn app_config(base: &Base, labels: BTreeMap<String, String>, epoch: Epoch) -> Config {
    let mut config = Config::for_app(epoch);
    config.inherit_env(&base.config.env);
    let mut all_labels = base.config.labels.clone();
    all_labels.extend(labels);
    all_labels.extend(std::mem::take(&mut config.labels));
    config.labels = all_labels;
    config
}

/// The base's history, then one line per step warp added.
pub(crate) fn app_history(base: &Base, steps: &[String], epoch: Epoch) -> Vec<History> {
    let mut history = base.config.history.clone();
    history.extend(steps.iter().map(|step| History { created: epoch.rfc3339(), created_by: step.clone(), ..Default::default() }));
    history
}

/// warp's own layer: its executable and server module in [`WARP_DIR`], owned by root,
/// cached by their digests.
fn warp_layer(cache: &Cache, scratch: &tempfile::TempDir, epoch: Epoch) -> Result<(Layer, bool)> {
    let (warp, module) = builder::this_warp()?;
    // Bumped, like the dependency key's, when the layer is cut differently.
    let parts =
        ["warp-image-warp/2".to_string(), cache.file_digest(&warp)?.to_string(), cache.file_digest(&module)?.to_string(), epoch.rfc3339()];
    let key = super::Digest::of(parts.join("\0").as_bytes());
    if let Some(layer) = cache.layer(cache::Kind::Warp, &key) {
        return Ok((layer, true));
    }
    let folder = scratch.path().join("warp");
    staging::link_or_copy(&warp, &folder.join("bin").join("warp"))?;
    staging::link_or_copy(&module, &folder.join("lib").join("libwarp_server.so"))?;
    let excludes = Excludes::new();
    let spec = Spec { folder: &folder, destination: WARP_DIR, excludes: &excludes, epoch, owner: Owner::Root, parents: OPT };
    let (layer, _) = layer::write_blob(&spec, &cache.blobs())?;
    cache.remember(cache::Kind::Warp, &key, &layer)?;
    Ok((layer, false))
}

/// The source's ignore files and the `image.excludes` patterns.
fn source_excludes(layout: &Layout, patterns: &[String]) -> Result<Excludes> {
    let mut excludes = Excludes::for_source(&layout.src)?;
    if !patterns.is_empty() {
        excludes.add_patterns(&layout.config_dir.join("config.yaml"), &patterns.join("\n"))?;
    }
    Ok(excludes)
}

/// The dependency layer of a built [`APP_ROOT`] unpacked at `root`: all of it but the
/// source and the caches, written into the cache's blobs.
pub(crate) fn venv_layer(root: &Path, cache: &Cache, epoch: Epoch) -> Result<Layer> {
    let mut excludes = Excludes::new();
    excludes.add_patterns(Path::new("warp"), "src\n.cache\n")?;
    let spec = Spec { folder: root, destination: APP_ROOT, excludes: &excludes, epoch, owner: Owner::App, parents: OPT };
    Ok(layer::write_blob(&spec, &cache.blobs())?.0)
}

/// The app layer: the source `tree` at [`APP_SRC`] without what `excludes` names, written
/// into `scratch`.
pub(crate) fn app_layer(tree: &Path, excludes: &Excludes, epoch: Epoch, scratch: &Path) -> Result<Layer> {
    Ok(layer::write_blob(&source_spec(tree, excludes, epoch), &scratch.join("app"))?.0)
}

fn source_spec<'a>(folder: &'a Path, excludes: &'a Excludes, epoch: Epoch) -> Spec<'a> {
    Spec { folder, destination: APP_SRC, excludes, epoch, owner: Owner::App, parents: &[("/opt", Owner::Root), (APP_ROOT, Owner::App)] }
}

/// Whether `warp build` changes the source after installing the dependencies: a `build`
/// hook, Django's collectstatic, or the app installed as a package.
pub(crate) fn works_on_source(layout: &Layout, collectstatic: bool) -> Result<bool> {
    // As if the app itself were installed: a package the settings leave out may still come
    // in editable through a lock that lists it.
    let plan = crate::build::deps::Plan::for_app(&layout.src, true)?;
    Ok(plan.app.is_some() || layout.hook(crate::appenv::hooks::BUILD).exists() || collectstatic && layout.src.join("manage.py").is_file())
}

impl Build<'_> {
    /// Run `warp build` in a container of the builder on the source layer `source`: on the
    /// cached venv `cached` when given, else from nothing. Returns the dependency layer (the
    /// cached one, or the new venv's) and the app layer.
    fn in_container(&self, builder: &ImageInfo, source: &Layer, cached: Option<&Layer>) -> Result<(Layer, Layer)> {
        let Build { engine, request, cache, scratch, excludes, .. } = self;
        let reporter = self.reporter;
        let env = container_env(request);
        let cmd = ["warp".to_string(), "build".to_string()];
        let pid = std::process::id().to_string();
        let labels = [(BUILD_LABEL, request.name.as_str()), (OWNER_LABEL, pid.as_str())];
        let spec = engine::Spec {
            image: &builder.id,
            user: &format!("{UID}:{GID}"),
            cmd: &cmd,
            env: &env,
            working_dir: APP_SRC,
            labels: &labels,
            stdin: false,
        };
        let what = if cached.is_some() { "build (dependencies cached)" } else { "build" };
        let (container, code) = step(reporter, what, || {
            let container = engine.create_container(&spec)?;
            if let Some(ca) = &request.ca_cert {
                container.upload("/tmp", |out| staging::write_file_tar(ca, CA_FILE, out))?;
            }
            for layer in cached.into_iter().chain([source]) {
                // The engine unpacks a compressed tar as it is: a layer goes in as the blob.
                container.upload("/", |out| std::io::copy(&mut std::fs::File::open(&layer.path)?, out).map(drop))?;
            }
            let code = container.run(&mut |line| reporter.output(line))?;
            let outcome = if code == 0 { "done".to_string() } else { format!("failed with exit code {code}") };
            Ok(((container, code), outcome))
        })?;
        if code != 0 {
            bail!("warp build failed in the build container (exit code {code}): its output is above; fix what it names and build again");
        }
        step(reporter, "layers", || {
            let out = scratch.path().join("out");
            let (dependencies, tree) = match cached {
                Some(layer) => (layer.clone(), staging::download(&container, APP_SRC, scratch.path(), &out)?),
                None => {
                    let root = staging::download(&container, APP_ROOT, scratch.path(), &out)?;
                    (venv_layer(&root, cache, request.epoch)?, root.join("src"))
                }
            };
            let app = app_layer(&tree, excludes, request.epoch, scratch.path())?;
            let what = format!("dependencies {}, app {}", bytes(dependencies.size), bytes(app.size));
            Ok(((dependencies, app), what))
        })
    }
}

/// The build container's environment: what keeps the build's results reproducible and its
/// caches out of the layers, the CA bundle's place, then the user's build settings.
fn container_env(request: &Request) -> Vec<String> {
    let mut env = vec![
        // No .pyc is written while building: they would record the build's clock.
        "PYTHONDONTWRITEBYTECODE=1".to_string(),
        format!("XDG_CACHE_HOME={CACHE_IN_CONTAINER}"),
        format!("{}={CACHE_IN_CONTAINER}/warp", crate::settings::var(crate::settings::Id::CacheDir)),
        // Files are copied out of uv's cache, never hard-linked into it.
        "UV_LINK_MODE=copy".to_string(),
    ];
    if request.ca_cert.is_some() {
        env.extend(crate::env_vars::CA_BUNDLES.map(|var| format!("{var}=/tmp/{CA_FILE}")));
    }
    env.extend(request.build_env.iter().cloned());
    env
}

/// `org.opencontainers.image.source` and `.revision` from git, when the source is a
/// repository with a commit.
fn source_labels(src: &Path) -> BTreeMap<String, String> {
    let git = |args: &[&str]| crate::process::git_text(src, args);
    let mut labels = BTreeMap::new();
    if let Some(revision) = git(&["rev-parse", "--verify", "-q", "HEAD"]) {
        labels.insert("org.opencontainers.image.revision".to_string(), revision);
        if let Some(url) = git(&["config", "--get", "remote.origin.url"]) {
            labels.insert("org.opencontainers.image.source".to_string(), url);
        }
    }
    labels
}

fn describe(layer: &Layer, cached: bool) -> String {
    format!("{} {}", bytes(layer.size), if cached { "cached" } else { "written" })
}

/// An image ID as `docker images` shows it.
fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// A size for people: `12.3 MB`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / (1u64 << 10) as f64),
        n => format!("{n} B"),
    }
}
