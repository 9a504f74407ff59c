//! `warp config`: every setting, its value, and where the value came from.

use std::io::Write;

use anyhow::Result;
use warp::appenv::AppEnv;
use warp::layout::Layout;
use warp::settings::{self, ConfigFile, Flags, Scope, Sources};

use crate::cli::ConfigArgs;
use crate::ui;

pub fn run(args: ConfigArgs) -> Result<()> {
    let layout = Layout::discover(args.src.as_deref())?;
    let config = ConfigFile::load(&layout.src, layout.legacy_dir())?;
    // The environment `warp start` would see: with the deploy-env hook's output once the
    // venv exists to run it in.
    let env = if warp::build::venv::exists(&layout.venv) {
        warp::appenv::hooks::runtime_env(&layout, ui::warnings_only().as_ref())?
    } else {
        AppEnv::from_files(&layout)?
    };
    let scopes = [Scope::Start, Scope::Build, Scope::Image, Scope::Tool];
    let resolved = settings::resolve(&Sources { flags: &Flags::new(), env: &env, config: &config }, &scopes)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let rows: Vec<serde_json::Value> = resolved
            .entries()
            .map(|e| {
                serde_json::json!({
                    "name": e.row.name(),
                    "variable": e.row.var,
                    "key": e.row.key,
                    "value": e.value.as_ref().map(|v| v.render()),
                    "origin": e.origin.to_json(),
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(());
    }
    let rows: Vec<[String; 3]> = resolved
        .entries()
        .map(|e| [e.row.name(), e.value.as_ref().map_or_else(|| "(unset)".to_owned(), |v| v.render()), e.origin.to_string()])
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (name_w, value_w) = (width(0), width(1).min(40));
    writeln!(out, "settings for {} (strongest source first: flag, variable, config.yaml, default)", layout.src.display())?;
    for [name, value, origin] in rows {
        writeln!(out, "  {name:name_w$}  {value:value_w$}  {origin}")?;
    }
    Ok(())
}
