//! The real image patches behind an atlas cell: for each sampled vector, the part of its image
//! around the vector's position, cropped from the network input and enlarged.

use std::collections::HashMap;
use std::path::PathBuf;

use image::RgbImage;

use super::build::Atlas;
use super::source::LayerGeometry;
use crate::engine::image_input::{decode_image_file, to_network_image_sized};

/// Side of a patch as sent for display.
pub const PATCH_DISPLAY_PX: u32 = 72;

/// One patch: the picture, the image's label and the file it came from.
pub struct Patch {
    pub image: RgbImage,
    pub label: u16,
    pub path: PathBuf,
    /// The image's index in the atlas (to find its file on another machine).
    pub image_index: u32,
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
    cell_patches_cached(atlas, members, limit, &mut HashMap::new())
}

/// [`cell_patches`] with a cache of decoded images shared between calls (image index → picture),
/// for work over many cells.
pub fn cell_patches_cached(atlas: &Atlas, members: &[u32], limit: usize, decoded: &mut HashMap<u32, Option<RgbImage>>) -> CellPatches {
    let mut result = CellPatches { patches: Vec::new(), missing: Vec::new() };
    let geometry = atlas.meta.geometry();
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
            None => decode_image_file(&path).ok().map(|i| to_network_image_sized(&i, geometry.embedded_side.into())),
        });
        let Some(image) = image else {
            if atlas.images.is_none() && !result.missing.contains(&path) {
                result.missing.push(path);
            }
            continue;
        };
        let crop = receptive_patch(image, &geometry, [x, y]);
        let crop = image::imageops::resize(&crop, PATCH_DISPLAY_PX, PATCH_DISPLAY_PX, image::imageops::FilterType::Nearest);
        result.patches.push(Patch { image: crop, label, path, image_index });
    }
    result
}

/// The part of a photo as embedded (`geometry.embedded_side` square) that position `[x, y]` of
/// the layer's grid sees: a square of the layer's icon size (scaled as the photo is) around the
/// position's receptive-field centre, kept inside the picture.
pub fn receptive_patch(image: &RgbImage, geometry: &LayerGeometry, [x, y]: [u16; 2]) -> RgbImage {
    let side = geometry.grid.max(1) as f32;
    let input = image.width().min(image.height()).max(1);
    let shrink = input as f32 / geometry.input_size.max(1) as f32;
    let patch = ((geometry.icon_px as f32 * shrink).round() as u32).clamp(16.min(input), input);
    let scale = input as f32 / side;
    let (cx, cy) = ((f32::from(x) + 0.5) * scale, (f32::from(y) + 0.5) * scale);
    let limit = (input - patch) as f32;
    let left = (cx - patch as f32 / 2.0).clamp(0.0, limit) as u32;
    let top = (cy - patch as f32 / 2.0).clamp(0.0, limit) as u32;
    image::imageops::crop_imm(image, left, top, patch, patch).to_image()
}

/// Real patches averaged into a cell's "mean patch": at most this many members.
pub const MEAN_PATCH_MEMBERS: usize = 256;

/// A cell drawn from real pictures instead of feature visualisation: the mean of its members'
/// patches, and the patch of its most typical member (the one whose vector is closest in angle
/// to the cell's direction, the mean of its members' vectors). None when no patch can be read.
pub struct RealCellPictures {
    pub mean: Option<RgbImage>,
    pub typical: Option<RgbImage>,
}

pub fn real_cell_pictures(atlas: &Atlas, members: &[u32]) -> RealCellPictures {
    real_cell_pictures_cached(atlas, members, &mut HashMap::new())
}

/// [`real_cell_pictures`] with a shared cache of decoded images.
pub fn real_cell_pictures_cached(atlas: &Atlas, members: &[u32], decoded: &mut HashMap<u32, Option<RgbImage>>) -> RealCellPictures {
    let collected = &atlas.collected;
    let members: Vec<u32> = members.iter().copied().filter(|&m| (m as usize) < collected.len()).collect();
    if members.is_empty() {
        return RealCellPictures { mean: None, typical: None };
    }
    let dim = collected.dim;
    let mut direction = vec![0f32; dim];
    for &m in &members {
        direction.iter_mut().zip(collected.vector(m as usize)).for_each(|(d, v)| *d += v);
    }
    let cosine = |m: u32| -> f32 {
        let v = collected.vector(m as usize);
        let dot: f32 = v.iter().zip(&direction).map(|(a, b)| a * b).sum();
        let norms = v.iter().map(|a| a * a).sum::<f32>().sqrt() * direction.iter().map(|a| a * a).sum::<f32>().sqrt();
        if norms > 0.0 { dot / norms } else { 0.0 }
    };
    let typical_member = members.iter().copied().max_by(|&a, &b| cosine(a).total_cmp(&cosine(b)));
    let typical = typical_member.and_then(|m| cell_patches_cached(atlas, &[m], 1, decoded).patches.into_iter().next()).map(|p| p.image);
    let patches = cell_patches_cached(atlas, &members, MEAN_PATCH_MEMBERS, decoded).patches;
    let mean = patches.first().map(|first| {
        let (width, height) = first.image.dimensions();
        let mut sum = vec![0f32; (width * height * 3) as usize];
        for patch in &patches {
            sum.iter_mut().zip(patch.image.as_raw()).for_each(|(s, &v)| *s += f32::from(v));
        }
        let count = patches.len() as f32;
        RgbImage::from_raw(width, height, sum.into_iter().map(|s| (s / count).round() as u8).collect()).expect("sized as the patches")
    });
    RealCellPictures { mean, typical }
}

/// Every icon cell of grid `size` in real pictures, in the order of the level's icons: (cell
/// index, mean patch, most typical patch), each `px` square. Cells whose patches cannot be read
/// are left out. `progress(done, total)` counts cells; None when cancelled.
pub fn real_level_pictures(
    atlas: &Atlas,
    size: u16,
    px: u32,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &std::sync::atomic::AtomicBool,
) -> Option<Vec<(u32, RgbImage, RgbImage)>> {
    let (Some(level), Some(icons)) = (atlas.level(size), atlas.icons_of(size)) else { return Some(Vec::new()) };
    let mut decoded = HashMap::new();
    let mut pictures = Vec::with_capacity(icons.cells.len());
    for (done, &cell) in icons.cells.iter().enumerate() {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        if let Some(members) = level.cells.get(cell as usize).map(|c| &c.members) {
            let real = real_cell_pictures_cached(atlas, members, &mut decoded);
            if let (Some(mean), Some(typical)) = (real.mean, real.typical) {
                let shrink = |image: &RgbImage| image::imageops::resize(image, px, px, image::imageops::FilterType::Triangle);
                pictures.push((cell, shrink(&mean), shrink(&typical)));
            }
        }
        progress(done + 1, icons.cells.len());
    }
    Some(pictures)
}
