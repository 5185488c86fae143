//! The real image patches behind an atlas cell: for each sampled vector, the part of its image
//! around the vector's position, cropped from the network input and enlarged.

use std::collections::HashMap;
use std::path::PathBuf;

use image::RgbImage;

use super::build::Atlas;
use crate::engine::image_input::{decode_image_file, to_network_image};
use crate::engine::model::{INPUT_SIZE, layer_output_shape};

/// Side of a patch as sent for display.
pub const PATCH_DISPLAY_PX: u32 = 72;

/// One patch: the picture, the image's label and the file it came from.
pub struct Patch {
    pub image: RgbImage,
    pub label: u16,
    pub path: PathBuf,
}

/// The patches behind a cell, and the image files that were needed but could not be read.
pub struct CellPatches {
    pub patches: Vec<Patch>,
    /// Files an atlas without embedded images refers to that are missing or unreadable.
    pub missing: Vec<PathBuf>,
}

/// Patches for up to `limit` of `members` (vector indices), in order: from the images embedded
/// in the atlas, else from the files it was built from.
pub fn cell_patches(atlas: &Atlas, members: &[u32], limit: usize) -> CellPatches {
    let side = layer_output_shape(atlas.collected.layer, 1)[1] as f32;
    let input = INPUT_SIZE as u32;
    let patch = (super::icons::icon_size(atlas.collected.layer) as u32).clamp(16, input);
    let mut decoded: HashMap<u32, Option<RgbImage>> = HashMap::new();
    let mut result = CellPatches { patches: Vec::new(), missing: Vec::new() };
    for &member in members.iter().take(limit) {
        let m = member as usize;
        let (Some(&image_index), Some(&[x, y]), Some(&label)) =
            (atlas.collected.image.get(m), atlas.collected.position.get(m), atlas.collected.label.get(m))
        else {
            continue;
        };
        let path = atlas.meta.image_file(image_index as usize).unwrap_or_default();
        let image = decoded.entry(image_index).or_insert_with(|| match &atlas.images {
            Some(images) => images.image(image_index as usize),
            None => decode_image_file(&path).ok().map(|i| to_network_image(&i)),
        });
        let Some(image) = image else {
            if atlas.images.is_none() && !result.missing.contains(&path) {
                result.missing.push(path);
            }
            continue;
        };
        // The vector's receptive field centre in the input, cropped and enlarged.
        let scale = input as f32 / side;
        let (cx, cy) = ((f32::from(x) + 0.5) * scale, (f32::from(y) + 0.5) * scale);
        let limit = (input - patch) as f32;
        let left = (cx - patch as f32 / 2.0).clamp(0.0, limit) as u32;
        let top = (cy - patch as f32 / 2.0).clamp(0.0, limit) as u32;
        let crop = image::imageops::crop_imm(image, left, top, patch, patch).to_image();
        let crop = image::imageops::resize(&crop, PATCH_DISPLAY_PX, PATCH_DISPLAY_PX, image::imageops::FilterType::Nearest);
        result.patches.push(Patch { image: crop, label, path });
    }
    result
}
