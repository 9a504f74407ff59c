use anyhow::Result;
use warp::image::engine::Engine;

use super::interrupt::Interrupt;
use crate::cli::{S2iArgs, S2iCommand};
use crate::ui;

pub fn run(args: S2iArgs) -> Result<()> {
    match args.command {
        S2iCommand::Build(args) => {
            let started = std::time::Instant::now();
            // The layout checks and resolves the folder, and names warp's cache.
            let layout = warp::layout::Layout::discover(Some(&args.src))?;
            let request = warp::s2i::Request {
                layout: &layout,
                builder: args.builder,
                tag: args.tag,
                incremental: args.incremental,
                env: args.env,
                build_env: warp::env_vars::index_settings(),
                ca_cert: super::build_ca_cert(args.ca_cert)?,
                runtime_image: args.runtime_image,
            };
            let engine = Engine::connect()?;
            let interrupt = Interrupt::install(warp::s2i::OWNER_LABEL)?;
            let reporter = ui::reporter();
            let built = interrupt.settle(warp::s2i::build(&engine, &request, reporter.as_ref()))?;
            let how = if built.incremental { "incremental" } else { "clean" };
            reporter.info(&format!(
                "built {} in {} ({how} build): image ID {}",
                request.tag,
                ui::seconds(started.elapsed()),
                built.image.id
            ));
            Ok(())
        }
        S2iCommand::Usage(args) => {
            let engine = Engine::connect()?;
            print!("{}", warp::s2i::usage(&engine, &args.builder)?);
            Ok(())
        }
    }
}
