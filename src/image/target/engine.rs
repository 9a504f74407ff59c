//! The engine target: the image loaded into a running container engine under its name, the
//! docker-archive streamed into `POST /images/load` as it is written.

use crate::image::engine::{Engine, Error, ImageInfo, Result};
use crate::image::{Image, Reference};

use super::docker_archive;

/// Load `image` into `engine` as `reference`; returns what the engine then says of it.
/// `related` names images the engine may hold that share the image's first layers (its
/// base); with the image that has the name now, they tell which layers need not be sent.
pub fn load(engine: &Engine, image: &Image, reference: &Reference, related: &[&str]) -> Result<ImageInfo> {
    let info = if engine.has_classic_image_store()? {
        let present = present_layers(engine, image, reference, related)?;
        engine.load(reference, |out| docker_archive::write_over_present(image, reference, present, out).map(drop))?
    } else {
        engine.load(reference, |out| docker_archive::write(image, reference, out).map(drop))?
    };
    // The classic image store names an image by its config's digest, the containerd store by
    // its manifest's: anything else under the name means another image holds it.
    let ids = [image.config_digest().to_string(), image.manifest_digest().to_string()];
    if !ids.contains(&info.id) {
        return Err(Error::Mismatch { image: reference.to_string(), expected: ids[0].clone(), actual: info.id });
    }
    Ok(info)
}

/// How many of `image`'s first layers the engine holds: the longest run of its diff IDs
/// that begins one of the engine's images (`related`, or the one named `reference` now).
fn present_layers(engine: &Engine, image: &Image, reference: &Reference, related: &[&str]) -> Result<usize> {
    let wanted: Vec<String> = image.layers().iter().map(|layer| layer.diff_id.to_string()).collect();
    let mut present = 0;
    for name in related.iter().copied().chain([reference.to_string().as_str()]) {
        if let Some(info) = engine.inspect(name)? {
            present = present.max(common_prefix(&wanted, &info.layers));
        }
    }
    Ok(present)
}

fn common_prefix(a: &[String], b: &[String]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
