//! The folders `warp start` serves files from: `--url-alias`, `--document-root`, and a
//! Django project's STATIC_ROOT.

use std::path::Path;

use anyhow::{bail, Context, Result};
use warp_worker_config::UrlAlias;

use crate::report::Reporter;
use crate::settings::{Id, Settings};
use crate::start::detect::Django;

/// `--url-alias` pairs and `--document-root`, as absolute folders.
pub fn static_folders(settings: &Settings, src: &Path) -> Result<(Vec<UrlAlias>, Option<String>)> {
    let pairs = settings.pairs(Id::UrlAlias);
    let real_src = std::fs::canonicalize(src).with_context(|| format!("cannot resolve the app's folder {}", src.display()))?;
    let folder = |path: &Path, what: &str| -> Result<String> {
        let full = src.join(path);
        if !full.is_dir() {
            bail!("{what} {} is not a folder: give an existing folder (relative paths start at {})", full.display(), src.display());
        }
        let real = std::fs::canonicalize(&full).with_context(|| format!("cannot resolve {what} {}", full.display()))?;
        if real_src.starts_with(&real) {
            bail!(
                "{what} {} holds the app's source, which would then be served to anyone: give a folder of static files only, such as ./static",
                real.display()
            );
        }
        Ok(real.to_string_lossy().into_owned())
    };
    let aliases = pairs
        .iter()
        .map(|(url, path)| Ok(UrlAlias { path: folder(Path::new(path), &format!("--url-alias {url}"))?, url: url.clone() }))
        .collect::<Result<Vec<_>>>()?;
    let document_root = settings.path(Id::DocumentRoot).map(|dir| folder(dir, "--document-root")).transpose()?;
    Ok((aliases, document_root))
}

/// Serve a Django project's STATIC_URL from STATIC_ROOT, unless `--url-alias` already maps
/// that URL. Without STATIC_ROOT on disk the URL is left to Django, with a warning.
pub fn django_static(django: &Django, aliases: &mut Vec<UrlAlias>, reporter: &dyn Reporter) -> Result<()> {
    let (Some(url), Some(root)) = (&django.static_url, &django.static_root) else { return Ok(()) };
    let url = url.trim_end_matches('/');
    if aliases.iter().any(|a| a.url.trim_end_matches('/') == url) {
        return Ok(());
    }
    if !root.is_dir() {
        reporter.warn(&format!(
            "Django's STATIC_ROOT {} does not exist, so {url}/ is not served: run `warp build`, which runs collectstatic",
            root.display()
        ));
        return Ok(());
    }
    let real = std::fs::canonicalize(root).with_context(|| format!("cannot resolve STATIC_ROOT {}", root.display()))?;
    aliases.push(UrlAlias { url: url.to_owned(), path: real.to_string_lossy().into_owned() });
    Ok(())
}
