use anyhow::Result;

use crate::cli::FixupArgs;

pub fn run(args: FixupArgs) -> Result<()> {
    let report = warp::build::fixup::fixup(&args.dir)?;
    eprintln!(
        "fixup {}: {} entries, {} given group 0, {} given group permissions = owner's{}",
        args.dir.display(),
        report.entries,
        report.regrouped,
        report.remoded,
        if report.not_permitted > 0 {
            format!("; {} not changed (owned by another user: run as root or as the owner)", report.not_permitted)
        } else {
            String::new()
        }
    );
    Ok(())
}
