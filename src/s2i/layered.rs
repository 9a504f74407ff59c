//! s2i builds on a builder whose assemble leaves the whole app in one folder, [`APP_ROOT`],
//! as warp's own does; the builder says so with the label [`LAYERS_LABEL`].
//!
//! The protocol is the same up to the commit: the input on assemble's standard input, the
//! previous image's `save-artifacts` in `/tmp/artifacts`. Then, instead of committing the
//! container (which on some storage drivers diffs the whole file system, and puts the venv
//! and the source in one layer), warp cuts two layers from [`APP_ROOT`] as `warp image`
//! does: the dependencies (everything but `src` and the caches) and the app (`src`). The
//! image is the builder's layers and these two, with the builder's config, the `run` script
//! as its command and the variables of the build.
//!
//! An incremental build then has a cheaper way: when the previous image's dependency layer
//! was built from the same inputs (warp's cache records which layer each set of inputs
//! made) and assemble would do nothing to the source but put it in place (no package to
//! install from it, no `build` hook, no Django project, no `APP_HOME`), assemble's result is
//! known without running it: that dependency layer, and the source as the app layer.

use anyhow::Result;

use super::{build_labels, input, save_artifacts, with_last_assignments, Builder, Built, Request};
use crate::image::base::Base;
use crate::image::cache::{Cache, Kind};
use crate::image::engine::Engine;
use crate::image::layer::Layer;
use crate::image::make::{self, key, staging};
use crate::image::{target, Epoch, Image, APP_ROOT};
use crate::report::{step, Reporter};

/// The label of a builder whose assemble writes the app into this folder and nothing else
/// the image needs: the venv there, the source in its `src`.
pub const LAYERS_LABEL: &str = "dev.warp.s2i.layers";

/// Whether the build of `request` on `builder` is cut into layers: the builder says its app
/// is all in [`APP_ROOT`], the app brings none of its own scripts (which may write anywhere)
/// and it goes on no runtime image.
pub(super) fn applies(builder: &Builder, app_scripts: &[String], request: &Request) -> bool {
    builder.info.labels.get(LAYERS_LABEL).is_some_and(|folder| folder == APP_ROOT)
        && app_scripts.is_empty()
        && request.runtime_image.is_none()
}

/// Build `request` on `builder` with the variables `env`, into layers.
pub(super) fn build(engine: &Engine, request: &Request, builder: &Builder, env: &[String], reporter: &dyn Reporter) -> Result<Built> {
    let layout = request.layout;
    let cache = Cache::new(&layout.cache);
    let scratch = cache.scratch()?;
    let epoch = Epoch::from_env()?;
    let (base, base_layers) = step(reporter, "builder's layers", || {
        let base = Base::config(engine, &builder.info.id, &layout.cache)?;
        // The classic image store loads an image over layers it holds without reading
        // them; another store is given the layers themselves.
        let layers = if engine.has_classic_image_store()? {
            base.held_layers()
        } else {
            base.layers(engine, &layout.cache, crate::image::base::Compression::None)?
        };
        let what = format!("{} layers", layers.len());
        Ok(((base, layers), what))
    })?;

    // The build's own variables are only where packages come from, which the key leaves out.
    let dependency_key = key::dependencies(layout, &builder.info.id, env, epoch)?;
    let reusable = if request.incremental { previous_dependencies(engine, request, &base, &cache, &dependency_key)? } else { None };
    let (dependencies, app, incremental) = match reusable {
        Some(dependencies) if !assemble_works_on_source(request, env)? => {
            reporter.info(&format!(
                "assemble has nothing to do: {}'s dependency layer was built from the same inputs, and assemble would only put the source in place",
                request.tag
            ));
            let app = step(reporter, "the source as the app layer", || {
                let layer = make::app_layer(&layout.src, &input::excludes(&layout.src)?, epoch, scratch.path())?;
                let what = make::bytes(layer.size);
                Ok((layer, what))
            })?;
            (dependencies, app, true)
        }
        _ => {
            let artifacts = if request.incremental { save_artifacts(engine, request, builder, scratch.path(), reporter)? } else { None };
            let container = super::assemble(engine, request, builder, env, &[], artifacts.as_deref(), reporter)?;
            let (dependencies, app) = step(reporter, "layers", || {
                let root = staging::download(&container, APP_ROOT, scratch.path(), &scratch.path().join("out"))?;
                let dependencies = make::venv_layer(&root, &cache, epoch)?;
                cache.remember(Kind::S2iDependencies, &dependency_key, &dependencies)?;
                let app = make::app_layer(&root.join("src"), &crate::image::exclude::Excludes::new(), epoch, scratch.path())?;
                let what = format!("dependencies {}, app {}", make::bytes(dependencies.size), make::bytes(app.size));
                Ok(((dependencies, app), what))
            })?;
            (dependencies, app, artifacts.is_some())
        }
    };

    let image = s2i_image(request, builder, &base, base_layers, [dependencies, app], env, epoch);
    let image = step(reporter, &format!("load into the engine as {}", request.tag), || {
        let info = target::engine::load(engine, &image, &request.tag, &[builder.info.id.as_str()])?;
        let id = info.id.clone();
        Ok((info, id))
    })?;
    Ok(Built { image, incremental })
}

/// The dependency layer of the image `request.tag` names now, when it is the one warp's
/// cache records for `key` and that image is the builder's layers, it, and an app layer.
fn previous_dependencies(
    engine: &Engine,
    request: &Request,
    base: &Base,
    cache: &Cache,
    key: &crate::image::Digest,
) -> Result<Option<Layer>> {
    let Some(previous) = engine.inspect(&request.tag.to_string())? else { return Ok(None) };
    let Some(dependencies) = cache.layer(Kind::S2iDependencies, key) else { return Ok(None) };
    let builder_layers: Vec<String> = base.config.diff_ids.iter().map(ToString::to_string).collect();
    let n = builder_layers.len();
    let holds = previous.layers.len() == n + 2
        && previous.layers[..n] == builder_layers[..]
        && previous.layers[n] == dependencies.diff_id.to_string();
    Ok(holds.then_some(dependencies))
}

/// Whether assemble does more to the source than put it in place: the app installed as a
/// package, a `build` hook, Django's collectstatic, or an `APP_HOME` folder to look into.
fn assemble_works_on_source(request: &Request, env: &[String]) -> Result<bool> {
    let layout = request.layout;
    let app_home_in_env = env.iter().any(|line| line.strip_prefix("APP_HOME=").is_some_and(|value| !value.is_empty()));
    let app_home_in_files = crate::appenv::file_vars(layout)?.iter().any(|(key, value, _)| key == "APP_HOME" && !value.is_empty());
    Ok(app_home_in_env || app_home_in_files || make::works_on_source(layout, true)?)
}

/// The image: the builder's layers, then `app` (dependencies, source); the builder's config
/// with `run` as its command, the variables `env` and the s2i labels.
fn s2i_image(
    request: &Request,
    builder: &Builder,
    base: &Base,
    mut layers: Vec<Layer>,
    app: [Layer; 2],
    env: &[String],
    epoch: Epoch,
) -> Image {
    let mut labels = build_labels(request);
    labels.insert(LAYERS_LABEL.to_string(), APP_ROOT.to_string());
    let mut config = make::app_config(base, labels, epoch);
    config.cmd = vec![builder.script("run", &[])];
    config.env = with_last_assignments(std::mem::take(&mut config.env).into_iter().chain(env.iter().cloned()).collect());
    layers.extend(app);
    let steps = ["the dependencies (assemble)", "the app"].map(|step| format!("warp s2i build: {step}"));
    Image::new(&config, &layers, &make::app_history(base, &steps, epoch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_builder_that_says_so_and_an_app_without_scripts_is_cut_into_layers() {
        let info = |labels: &[(&str, &str)]| crate::image::engine::ImageInfo {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        };
        let builder = |labels: &[(&str, &str)]| Builder { info: info(labels), scripts: "/s".into(), destination: "/tmp".into() };
        let layout =
            crate::layout::Layout::discover(Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/flask").as_path()))
                .unwrap();
        let request = |runtime: Option<&str>| Request {
            layout: &layout,
            builder: "b".into(),
            tag: crate::image::Reference::parse("x:1").unwrap(),
            incremental: true,
            env: vec![],
            build_env: vec![],
            ca_cert: None,
            runtime_image: runtime.map(String::from),
        };
        let warps = builder(&[(LAYERS_LABEL, APP_ROOT)]);
        assert!(applies(&warps, &[], &request(None)));
        assert!(!applies(&warps, &["assemble".to_string()], &request(None)));
        assert!(!applies(&warps, &[], &request(Some("rt"))));
        assert!(!applies(&builder(&[]), &[], &request(None)));
        assert!(!applies(&builder(&[(LAYERS_LABEL, "/elsewhere")]), &[], &request(None)));
    }
}
