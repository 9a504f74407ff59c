//! The engine target: the image loaded into a running container engine under its name, the
//! docker-archive streamed into `POST /images/load` as it is written.

use crate::image::engine::{Engine, Error, ImageInfo, Result};
use crate::image::{Image, Reference};

use super::docker_archive;

/// Load `image` into `engine` as `reference`; returns what the engine then says of it.
pub fn load(engine: &Engine, image: &Image, reference: &Reference) -> Result<ImageInfo> {
    let info = engine.load(reference, |out| docker_archive::write(image, reference, out).map(drop))?;
    // The classic image store names an image by its config's digest, the containerd store by
    // its manifest's: anything else under the name means another image holds it.
    let ids = [image.config_digest().to_string(), image.manifest_digest().to_string()];
    if !ids.contains(&info.id) {
        return Err(Error::Mismatch { image: reference.to_string(), expected: ids[0].clone(), actual: info.id });
    }
    Ok(info)
}
