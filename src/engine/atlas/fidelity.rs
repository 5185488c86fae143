//! How well an atlas's icons show their cells: their centre cosine (stored with each icon), their
//! colour (mean HSV saturation) and how close their hue/saturation distribution is to the real
//! patches behind the same cells.

use super::build::Atlas;
use super::patches::cell_patches;

/// Real patches per cell that the colour comparison looks at.
const PATCHES_PER_CELL: usize = 8;

/// HSV saturation and hue (degrees) of an RGB pixel.
fn saturation_and_hue(pixel: [u8; 3]) -> (f32, f32) {
    let [r, g, b] = pixel.map(|c| f32::from(c) / 255.0);
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let saturation = if max > 0.0 { (max - min) / max } else { 0.0 };
    let span = max - min;
    let hue = if span <= 0.0 {
        0.0
    } else if max == r {
        60.0 * ((g - b) / span).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / span + 2.0)
    } else {
        60.0 * ((r - g) / span + 4.0)
    };
    (saturation, hue)
}

/// Mean HSV saturation of RGB bytes (3 per pixel).
pub fn mean_saturation(rgb: &[u8]) -> f32 {
    let pixels = rgb.chunks_exact(3);
    let count = pixels.len().max(1) as f32;
    pixels.map(|p| saturation_and_hue([p[0], p[1], p[2]]).0).sum::<f32>() / count
}

/// Hue (12 bins of 30°) by saturation (0.1–0.4, 0.4–0.7, 0.7–1) histogram, plus one bin for
/// nearly grey pixels (saturation below 0.1), normalised to sum 1.
pub fn hue_saturation_histogram(rgb: &[u8]) -> Vec<f64> {
    let mut bins = vec![0f64; 12 * 3 + 1];
    let mut total = 0.0;
    for p in rgb.chunks_exact(3) {
        let (saturation, hue) = saturation_and_hue([p[0], p[1], p[2]]);
        let bin = if saturation < 0.1 {
            36
        } else {
            let s = if saturation < 0.4 {
                0
            } else if saturation < 0.7 {
                1
            } else {
                2
            };
            ((hue / 30.0) as usize).min(11) * 3 + s
        };
        bins[bin] += 1.0;
        total += 1.0;
    }
    if total > 0.0 {
        bins.iter_mut().for_each(|b| *b /= total);
    }
    bins
}

/// Total variation distance between two normalised histograms: 0 the same, 1 disjoint.
pub fn histogram_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / 2.0
}

/// The colour and fidelity summary of one icon level.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LevelFidelity {
    pub grid: u16,
    pub icons: usize,
    /// Median centre cosine of the icons (None when the atlas predates stored fidelity).
    pub icon_cosine_median: Option<f32>,
    /// The worst icon's centre cosine: one icon showing the wrong thing misleads as much as many.
    pub icon_cosine_min: Option<f32>,
    pub icon_saturation_mean: f32,
    /// The same for the real patches behind the icons' cells.
    pub patch_saturation_mean: Option<f32>,
    /// Hue/saturation histogram distance between the icons and those patches.
    pub icon_patch_colour_distance: Option<f64>,
}

/// The summary of every icon level of `atlas`. Patches come from the embedded images (or the
/// files); without either the patch numbers are None.
pub fn level_fidelity(atlas: &Atlas) -> Vec<LevelFidelity> {
    atlas
        .icons
        .iter()
        .map(|icons| {
            let mut cosines: Vec<f32> = icons.fidelity.iter().map(|f| f.cosine).collect();
            cosines.sort_by(f32::total_cmp);
            let icon_cosine_median = (!cosines.is_empty()).then(|| cosines[cosines.len() / 2]);
            let icon_cosine_min = cosines.first().copied();
            let mut patch_pixels = Vec::new();
            if let Some(level) = atlas.level(icons.size) {
                for &cell in &icons.cells {
                    if let Some(cell) = level.cells.get(cell as usize) {
                        for patch in cell_patches(atlas, &cell.members, PATCHES_PER_CELL).patches {
                            patch_pixels.extend_from_slice(patch.image.as_raw());
                        }
                    }
                }
            }
            let has_patches = !patch_pixels.is_empty();
            LevelFidelity {
                grid: icons.size,
                icons: icons.cells.len(),
                icon_cosine_median,
                icon_cosine_min,
                icon_saturation_mean: mean_saturation(&icons.pixels),
                patch_saturation_mean: has_patches.then(|| mean_saturation(&patch_pixels)),
                icon_patch_colour_distance: has_patches
                    .then(|| histogram_distance(&hue_saturation_histogram(&icons.pixels), &hue_saturation_histogram(&patch_pixels))),
            }
        })
        .collect()
}
