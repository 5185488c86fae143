//! Drawing an atlas as one picture: each dense cell's icon at its place in the grid, sized by
//! density; sparse cells as faint dots; optional grid lines and a class-colour strip per cell.

use image::{Rgb, RgbImage, imageops::FilterType};

use super::build::Atlas;

/// Options of an exported picture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExportOptions {
    pub size_px: u32,
    /// Grid level (cells per side) to draw; must be one of the atlas's levels.
    pub grid: u16,
    pub grid_lines: bool,
    /// A small bar under each icon in its top class's colour.
    pub class_colours: bool,
}

/// A distinct colour per class (evenly spaced hues).
pub fn class_colour(class: usize, classes: usize) -> Rgb<u8> {
    let hue = class as f32 / classes.max(1) as f32 * 360.0;
    let (s, v) = (0.65f32, 0.95f32);
    let c = v * s;
    let x = c * (1.0 - ((hue / 60.0) % 2.0 - 1.0).abs());
    let (r, g, b) = match (hue / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    Rgb([((r + m) * 255.0) as u8, ((g + m) * 255.0) as u8, ((b + m) * 255.0) as u8])
}

/// Renders `atlas` at `options.grid`; None when the atlas has no such level.
pub fn render_atlas(atlas: &Atlas, options: &ExportOptions) -> Option<RgbImage> {
    let level = atlas.level(options.grid)?;
    let icons = atlas.icons_of(options.grid);
    let size = options.size_px.max(options.grid as u32);
    let mut out = RgbImage::from_pixel(size, size, Rgb([18, 18, 22]));
    let cell_px = size as f32 / f32::from(options.grid);
    let mean_count = level.cells.iter().map(|c| c.count as f32).sum::<f32>() / level.cells.len().max(1) as f32;
    let classes = atlas.meta.class_names.len();
    for (index, cell) in level.cells.iter().enumerate() {
        let (x0, y0) = (cell.x as f32 * cell_px, cell.y as f32 * cell_px);
        // Icon size by density: sqrt(n / mean n), clamped.
        let scale = (cell.count as f32 / mean_count).sqrt().clamp(0.35, 1.0);
        let side = (cell_px * scale).max(1.0) as u32;
        let (left, top) = ((x0 + (cell_px - side as f32) / 2.0) as i64, (y0 + (cell_px - side as f32) / 2.0) as i64);
        match icons.and_then(|i| i.icon_of_cell(index)) {
            Some(icon) => {
                let resized = image::imageops::resize(&icon, side, side, FilterType::Triangle);
                image::imageops::overlay(&mut out, &resized, left, top);
            }
            None => {
                let dot = (side / 4).max(1);
                let (cx, cy) = ((x0 + cell_px / 2.0) as u32, (y0 + cell_px / 2.0) as u32);
                for y in cy.saturating_sub(dot / 2)..(cy + dot / 2 + 1).min(size) {
                    for x in cx.saturating_sub(dot / 2)..(cx + dot / 2 + 1).min(size) {
                        out.put_pixel(x, y, Rgb([90, 90, 100]));
                    }
                }
            }
        }
        if options.class_colours {
            if let Some(&(class, _)) = cell.top_by_attribution.first() {
                let colour = class_colour(class as usize, classes);
                let bar = (cell_px / 10.0).max(1.0) as u32;
                let y_start = (y0 + cell_px) as u32 - bar;
                for y in y_start..(y_start + bar).min(size) {
                    for x in x0 as u32..((x0 + cell_px) as u32).min(size) {
                        out.put_pixel(x, y, colour);
                    }
                }
            }
        }
    }
    if options.grid_lines {
        for i in 0..=options.grid as u32 {
            let at = ((i as f32 * cell_px) as u32).min(size - 1);
            for t in 0..size {
                out.put_pixel(at, t, Rgb([60, 60, 70]));
                out.put_pixel(t, at, Rgb([60, 60, 70]));
            }
        }
    }
    Some(out)
}
