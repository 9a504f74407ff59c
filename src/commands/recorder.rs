use std::io::Write;

use anyhow::Result;
use warp::start::recorder;

use crate::cli::{RecorderArgs, RecorderCommand};

pub fn run(args: RecorderArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match args.command {
        RecorderCommand::List(args) => {
            let listing = recorder::list(&args.dir)?;
            for unreadable in &listing.unreadable {
                eprintln!("warning: {unreadable}");
            }
            if listing.records.is_empty() {
                eprintln!("no records in {} yet", args.dir.display());
            }
            for record in &listing.records {
                writeln!(out, "{}", recorder::line(record))?;
            }
        }
        RecorderCommand::Show(args) => out.write_all(recorder::show(&recorder::find(&args.dir, &args.id)?).as_bytes())?,
    }
    Ok(())
}
