//! Turning explanation maps into pictures (shared by the window and the CLI's PNG export).

use image::{Rgb, RgbImage, imageops::FilterType};

/// A 2-D map of values (row-major), e.g. a heat map or one feature map.
#[derive(Clone, Debug, PartialEq)]
pub struct Map2d {
    pub width: usize,
    pub height: usize,
    pub values: Vec<f32>,
}

impl Map2d {
    pub fn max(&self) -> f32 {
        self.values.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    }

    pub fn min(&self) -> f32 {
        self.values.iter().copied().fold(f32::INFINITY, f32::min)
    }

    /// Values divided by their `quantile` (e.g. 0.99) and clipped to [0, 1]: for sparse maps such
    /// as saliency, where a few pixels would otherwise make everything else black.
    pub fn scaled_to_quantile(&self, quantile: f32) -> Map2d {
        let mut sorted = self.values.clone();
        sorted.sort_by(f32::total_cmp);
        let at = ((sorted.len().saturating_sub(1)) as f32 * quantile.clamp(0.0, 1.0)).round() as usize;
        let top = sorted.get(at).copied().unwrap_or(0.0).max(f32::EPSILON);
        let values = self.values.iter().map(|v| (v / top).clamp(0.0, 1.0)).collect();
        Map2d { width: self.width, height: self.height, values }
    }

    /// Values scaled to [0, 1] by the map's own range (a constant map becomes all zero).
    pub fn normalised(&self) -> Map2d {
        let (low, high) = (self.min(), self.max());
        let span = high - low;
        let values = self.values.iter().map(|v| if span > 0.0 { (v - low) / span } else { 0.0 }).collect();
        Map2d { width: self.width, height: self.height, values }
    }
}

/// The usual heat-map ramp, blue → cyan → green → yellow → red (values in [0, 1]); red stands
/// out on any photo, including yellow flowers.
pub fn heat_colour(value: f32) -> Rgb<u8> {
    const STOPS: [(f32, [f32; 3]); 5] =
        [(0.0, [0.0, 0.0, 0.55]), (0.25, [0.0, 0.6, 1.0]), (0.5, [0.1, 0.85, 0.3]), (0.75, [1.0, 0.85, 0.0]), (1.0, [0.9, 0.05, 0.05])];
    let v = value.clamp(0.0, 1.0);
    let upper = STOPS.iter().position(|(at, _)| *at >= v).unwrap_or(STOPS.len() - 1).max(1);
    let (a, ca) = STOPS[upper - 1];
    let (b, cb) = STOPS[upper];
    let t = if b > a { (v - a) / (b - a) } else { 0.0 };
    Rgb(std::array::from_fn(|c| ((ca[c] + (cb[c] - ca[c]) * t) * 255.0).round() as u8))
}

/// A map (values in [0, 1]) as a heat-map picture of `width` x `height` (bilinear resize).
pub fn heat_image(map: &Map2d, width: u32, height: u32) -> RgbImage {
    let small = RgbImage::from_fn(map.width as u32, map.height as u32, |x, y| heat_colour(map.values[y as usize * map.width + x as usize]));
    if (map.width as u32, map.height as u32) == (width, height) {
        return small;
    }
    image::imageops::resize(&small, width, height, FilterType::Triangle)
}

/// A map (values in [0, 1]) as grey, nearest-neighbour scaled by `scale`.
pub fn grey_image(map: &Map2d, scale: u32) -> RgbImage {
    RgbImage::from_fn(map.width as u32 * scale, map.height as u32 * scale, |x, y| {
        let v = (map.values[(y / scale) as usize * map.width + (x / scale) as usize].clamp(0.0, 1.0) * 255.0).round() as u8;
        Rgb([v, v, v])
    })
}

/// A heat map as a transparent layer (`size` x `size`) to lay over a picture: colour by value,
/// more opaque where the value is higher.
pub fn heat_layer(map: &Map2d, size: u32) -> image::RgbaImage {
    let heat = heat_image(map, size, size);
    let weights = image::imageops::resize(&grey_image(map, 1), size, size, FilterType::Triangle);
    image::RgbaImage::from_fn(size, size, |x, y| {
        let h = heat.get_pixel(x, y);
        let alpha = 0.35 + 0.65 * f32::from(weights.get_pixel(x, y)[0]) / 255.0;
        image::Rgba([h[0], h[1], h[2], (alpha * 255.0).round() as u8])
    })
}

/// `picture` with `map` (values in [0, 1], any size) laid over it as a heat map; `opacity` 0..1
/// scales with the map value, so cold regions keep the photo visible.
pub fn overlay(picture: &RgbImage, map: &Map2d, opacity: f32) -> RgbImage {
    let (width, height) = picture.dimensions();
    let heat = heat_image(map, width, height);
    let values = Map2d { width: map.width, height: map.height, values: map.values.clone() };
    let weights = image::imageops::resize(&grey_image(&values, 1), width, height, FilterType::Triangle);
    RgbImage::from_fn(width, height, |x, y| {
        let alpha = opacity.clamp(0.0, 1.0) * (0.35 + 0.65 * f32::from(weights.get_pixel(x, y)[0]) / 255.0);
        let (p, h) = (picture.get_pixel(x, y), heat.get_pixel(x, y));
        Rgb(std::array::from_fn(|c| (f32::from(p[c]) * (1.0 - alpha) + f32::from(h[c]) * alpha).round() as u8))
    })
}

/// Tiles in a grid with a 1-pixel gap, `columns` wide, on a dark background.
pub fn montage(tiles: &[RgbImage], columns: usize) -> RgbImage {
    let Some(first) = tiles.first() else { return RgbImage::new(1, 1) };
    let (tile_w, tile_h) = first.dimensions();
    let columns = columns.max(1).min(tiles.len());
    let rows = tiles.len().div_ceil(columns);
    let gap = 1;
    let mut out = RgbImage::from_pixel(columns as u32 * (tile_w + gap) - gap, rows as u32 * (tile_h + gap) - gap, Rgb([30, 30, 34]));
    for (i, tile) in tiles.iter().enumerate() {
        let (col, row) = ((i % columns) as u32, (i / columns) as u32);
        image::imageops::overlay(&mut out, tile, i64::from(col * (tile_w + gap)), i64::from(row * (tile_h + gap)));
    }
    out
}
