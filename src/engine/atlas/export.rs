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

/// Twenty colours that stay apart from each other and from the dark map and plot backgrounds,
/// ordered so that the first n of them are as different as possible for any n (evenly spaced hues
/// put 17 classes' neighbours within 21° of each other, which the eye cannot tell apart).
const PALETTE: [[u8; 3]; 20] = [
    [230, 25, 75],   // red
    [60, 180, 75],   // green
    [255, 225, 25],  // yellow
    [67, 99, 216],   // blue
    [245, 130, 49],  // orange
    [66, 212, 244],  // cyan
    [240, 50, 230],  // magenta
    [191, 239, 69],  // lime
    [250, 190, 212], // pink
    [70, 153, 144],  // teal
    [220, 190, 255], // lavender
    [170, 110, 40],  // brown
    [255, 250, 200], // beige
    [170, 255, 195], // mint
    [128, 128, 0],   // olive
    [255, 216, 177], // apricot
    [160, 60, 220],  // purple
    [169, 169, 169], // grey
    [200, 60, 60],   // brick
    [120, 140, 255], // periwinkle
];

/// A distinct colour per class: the palette up to 20 classes, evenly spaced hues beyond.
pub fn class_colour(class: usize, classes: usize) -> Rgb<u8> {
    if classes <= PALETTE.len() {
        return Rgb(PALETTE[class % PALETTE.len()]);
    }
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

/// Class names drawn on the picture: one label per class where its cells are, and a legend.
pub struct Labels<'a> {
    pub font: &'a ab_glyph::FontVec,
    /// Display name of each class, in the model's order.
    pub names: &'a [String],
}

/// Renders `atlas` at `options.grid`; None when the atlas has no such level.
pub fn render_atlas(atlas: &Atlas, options: &ExportOptions) -> Option<RgbImage> {
    render_atlas_labelled(atlas, options, None)
}

/// Draws `text` with its top-left at (x, y), `px` high, with a dark outline so it reads on icons.
pub fn draw_text(image: &mut RgbImage, font: &ab_glyph::FontVec, text: &str, x: f32, y: f32, px: f32, colour: Rgb<u8>) {
    use ab_glyph::{Font, ScaleFont};
    let scaled = font.as_scaled(px);
    let outline = Rgb([10, 10, 14]);
    for (dx, dy, paint) in [(-1.0, 0.0, outline), (1.0, 0.0, outline), (0.0, -1.0, outline), (0.0, 1.0, outline), (0.0, 0.0, colour)] {
        let mut caret = x + dx;
        for ch in text.chars() {
            let id = scaled.glyph_id(ch);
            let glyph = id.with_scale_and_position(px, ab_glyph::point(caret, y + dy + scaled.ascent()));
            caret += scaled.h_advance(id);
            if let Some(outlined) = font.outline_glyph(glyph) {
                let bounds = outlined.px_bounds();
                outlined.draw(|gx, gy, coverage| {
                    let (px_x, px_y) = (bounds.min.x as i64 + gx as i64, bounds.min.y as i64 + gy as i64);
                    if px_x < 0 || px_y < 0 || px_x >= image.width() as i64 || px_y >= image.height() as i64 {
                        return;
                    }
                    let pixel = image.get_pixel_mut(px_x as u32, px_y as u32);
                    for c in 0..3 {
                        pixel[c] = (f32::from(pixel[c]) * (1.0 - coverage) + f32::from(paint[c]) * coverage).round() as u8;
                    }
                });
            }
        }
    }
}

/// Width of `text` at `px`.
pub fn text_width(font: &ab_glyph::FontVec, text: &str, px: f32) -> f32 {
    use ab_glyph::{Font, ScaleFont};
    let scaled = font.as_scaled(px);
    text.chars().map(|ch| scaled.h_advance(scaled.glyph_id(ch))).sum()
}

/// Renders `atlas` with class labels and a legend when `labels` is given.
pub fn render_atlas_labelled(atlas: &Atlas, options: &ExportOptions, labels: Option<&Labels>) -> Option<RgbImage> {
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
        // Colour marks only where cells are big enough for them to read.
        if options.class_colours
            && cell_px >= 24.0
            && let Some(&(class, _)) = cell.top_by_attribution.first()
        {
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
    if options.grid_lines {
        for i in 0..=options.grid as u32 {
            let at = ((i as f32 * cell_px) as u32).min(size - 1);
            for t in 0..size {
                out.put_pixel(at, t, Rgb([60, 60, 70]));
                out.put_pixel(t, at, Rgb([60, 60, 70]));
            }
        }
    }
    if let Some(labels) = labels {
        draw_labels(&mut out, level, labels, WHOLE);
    }
    Some(out)
}

/// The whole map as a crop: (min x, min y, max x, max y) in [0, 1].
const WHOLE: [f32; 4] = [0.0, 0.0, 1.0, 1.0];

/// One name per class on the densest cell it leads (centroids of scattered classes would all
/// land in the middle), and a legend box.
///
/// `out` shows the part `crop` of the map (see [`export_picture`]); names fall where their cell
/// is in that part, whole inside the picture, and classes whose cell is outside it are not
/// named on the map but stay in the legend, which is drawn whole in the bottom-right corner.
fn draw_labels(out: &mut RgbImage, level: &super::cells::GridLevel, labels: &Labels, crop: [f32; 4]) {
    let classes = labels.names.len();
    let (width, height) = (out.width() as f32, out.height() as f32);
    // Per class: (x, y, count) of its densest cell, in map units.
    let mut best: Vec<Option<(f32, f32, u32)>> = vec![None; classes];
    for cell in &level.cells {
        if let Some(slot) = cell.top_by_attribution.first().and_then(|&(class, _)| best.get_mut(class as usize))
            && slot.is_none_or(|(_, _, count)| cell.count > count)
        {
            let centre = |v: u16| (f32::from(v) + 0.5) / f32::from(level.size.max(1));
            *slot = Some((centre(cell.x), centre(cell.y), cell.count));
        }
    }
    let [x0, y0, x1, y1] = crop;
    let px = (width.min(height) / 40.0).clamp(10.0, 64.0);
    for (class, place) in best.iter().enumerate() {
        let Some((mx, my, _)) = *place else { continue };
        if mx < x0 || mx > x1 || my < y0 || my > y1 {
            continue;
        }
        let name = labels.names.get(class).map(String::as_str).unwrap_or("");
        let text = text_width(labels.font, name, px);
        let at_x = (mx - x0) / (x1 - x0).max(1e-6) * width - text / 2.0;
        let at_y = (my - y0) / (y1 - y0).max(1e-6) * height - px / 2.0;
        let x = at_x.min(width - text - 2.0).max(2.0);
        let y = at_y.min(height - px * 1.3 - 2.0).max(2.0);
        draw_text(out, labels.font, name, x, y, px, Rgb([255, 255, 255]));
    }
    draw_legend(out, labels, px);
}

/// A colour swatch and the name of every class, bottom-right, on a darkened box.
fn draw_legend(out: &mut RgbImage, labels: &Labels, px: f32) {
    let classes = labels.names.len();
    let (width, height) = (out.width(), out.height());
    let line = px * 1.1;
    let widest = labels.names.iter().map(|n| text_width(labels.font, n, px * 0.8)).fold(0.0f32, f32::max);
    let (box_w, box_h) = ((widest + px * 1.6) as u32, (line * classes as f32 + px * 0.6) as u32);
    let (left, top) = (width.saturating_sub(box_w + 4), height.saturating_sub(box_h + 4));
    for y in top..(top + box_h).min(height) {
        for x in left..(left + box_w).min(width) {
            let p = out.get_pixel_mut(x, y);
            *p = Rgb([p[0] / 4, p[1] / 4, p[2] / 4]);
        }
    }
    for class in 0..classes {
        let y = top as f32 + px * 0.2 + class as f32 * line;
        let colour = class_colour(class, classes);
        for sy in 0..(px * 0.7) as u32 {
            for sx in 0..(px * 0.7) as u32 {
                let (x, yy) = (left + (px * 0.3) as u32 + sx, y as u32 + (px * 0.15) as u32 + sy);
                if x < width && yy < height {
                    out.put_pixel(x, yy, colour);
                }
            }
        }
        let name = labels.names.get(class).map(String::as_str).unwrap_or("");
        draw_text(out, labels.font, name, left as f32 + px * 1.2, y, px * 0.8, Rgb([235, 235, 235]));
    }
}

/// A photo placed on the map, as an export draws it.
pub struct PlacedPhoto<'a> {
    pub placement: &'a super::place::Placement,
    /// The photo's thumbnail, drawn on a pin as the window shows it; without one, a ring.
    pub thumbnail: Option<&'a RgbImage>,
}

/// Marks placed pictures' vectors on an exported atlas as the window shows them: a dot in the
/// predicted class's colour for each.
pub fn draw_placements(out: &mut RgbImage, placements: &[&super::place::Placement], classes: usize) {
    let size = out.width().min(out.height()) as f32;
    let dot = (size / 400.0).max(1.5);
    for placement in placements {
        let colour = class_colour(placement.predicted_class, classes);
        for p in &placement.points {
            fill_disc(out, p[0] * size, p[1] * size, dot, |_| colour);
        }
    }
}

/// Each placed photo where it sits as a whole, on the picture `out` of the part `crop` of the map:
/// its thumbnail in a white frame on a stem (the window's pin), in its class's colour where it has
/// none. The pin keeps its size whatever the crop, a tenth of the picture.
pub fn draw_pins(out: &mut RgbImage, photos: &[PlacedPhoto], classes: usize, crop: [f32; 4]) {
    let (width, height) = (out.width() as f32, out.height() as f32);
    let side = (width.min(height) / 10.0).clamp(24.0, 256.0);
    let [x0, y0, x1, y1] = crop;
    for photo in photos {
        let [mx, my] = photo.placement.centre;
        if mx < x0 || mx > x1 || my < y0 || my > y1 {
            continue;
        }
        let (cx, cy) = ((mx - x0) / (x1 - x0).max(1e-6) * width, (my - y0) / (y1 - y0).max(1e-6) * height);
        let colour = class_colour(photo.placement.predicted_class, classes);
        let border = (side / 20.0).max(2.0);
        // The pin stands above its point; near the top edge it hangs below instead.
        let above = cy - side * 0.8 - side / 2.0 >= 0.0;
        let pin_cy = if above { cy - side * 0.8 } else { cy + side * 0.8 };
        let left = (cx - side / 2.0).clamp(border, (width - side - border).max(border));
        let top = pin_cy - side / 2.0;
        let stem_end = if above { top + side } else { top };
        let (from, to) = if above { (stem_end, cy) } else { (cy, stem_end) };
        for y in from as i64..=to as i64 {
            for dx in -(border as i64 / 2)..=(border as i64 / 2) {
                let x = cx as i64 + dx;
                if x >= 0 && y >= 0 && (x as u32) < out.width() && (y as u32) < out.height() {
                    out.put_pixel(x as u32, y as u32, Rgb([255, 255, 255]));
                }
            }
        }
        fill_disc(out, cx, cy, border * 1.5, |_| colour);
        let frame = [(left - border) as i64, (top - border) as i64, (left + side + border) as i64, (top + side + border) as i64];
        for y in frame[1].max(0)..frame[3].min(out.height() as i64) {
            for x in frame[0].max(0)..frame[2].min(out.width() as i64) {
                out.put_pixel(x as u32, y as u32, Rgb([255, 255, 255]));
            }
        }
        match photo.thumbnail {
            Some(thumbnail) => {
                let resized = image::imageops::resize(thumbnail, side as u32, side as u32, FilterType::Triangle);
                image::imageops::overlay(out, &resized, left as i64, top as i64);
            }
            None => {
                for y in (top as i64).max(0)..((top + side) as i64).min(out.height() as i64) {
                    for x in (left as i64).max(0)..((left + side) as i64).min(out.width() as i64) {
                        out.put_pixel(x as u32, y as u32, colour);
                    }
                }
            }
        }
    }
}

/// Paints the disc of radius `r` around (cx, cy); `paint` gets each pixel's distance from the centre.
pub(crate) fn fill_disc(out: &mut RgbImage, cx: f32, cy: f32, r: f32, paint: impl Fn(f32) -> Rgb<u8>) {
    let (w, h) = (out.width() as i64, out.height() as i64);
    for y in (cy - r).floor() as i64..=(cy + r).ceil() as i64 {
        for x in (cx - r).floor() as i64..=(cx + r).ceil() as i64 {
            let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
            if d <= r && x >= 0 && y >= 0 && x < w && y < h {
                out.put_pixel(x as u32, y as u32, paint(d));
            }
        }
    }
}

/// The picture an export writes: the whole atlas at `options.size_px`, or only the part `crop`
/// (min x, min y, max x, max y in [0, 1]) at that size, with `photos` marked. Names and the legend
/// are drawn on the picture as written, so a part keeps them whole. None when the atlas has no
/// `options.grid` level.
pub fn export_picture(
    atlas: &Atlas,
    options: &ExportOptions,
    labels: Option<&Labels>,
    photos: &[PlacedPhoto],
    crop: Option<[f32; 4]>,
) -> Option<RgbImage> {
    let level = atlas.level(options.grid)?;
    // For a part, render the whole at the resolution the part needs (at most 8192 px), then cut.
    let whole_size = match crop {
        Some([x0, y0, x1, y1]) => ((options.size_px as f32 / (x1 - x0).max(y1 - y0).max(1e-3)) as u32).clamp(options.size_px, 8192),
        None => options.size_px,
    };
    let mut picture = render_atlas_labelled(atlas, &ExportOptions { size_px: whole_size, ..*options }, None)?;
    let classes = atlas.meta.class_names.len();
    let placements: Vec<&super::place::Placement> = photos.iter().map(|p| p.placement).collect();
    draw_placements(&mut picture, &placements, classes);
    let [x0, y0, x1, y1] =
        crop.map_or(WHOLE, |[x0, y0, x1, y1]| [x0.clamp(0.0, 1.0), y0.clamp(0.0, 1.0), x1.clamp(0.0, 1.0), y1.clamp(0.0, 1.0)]);
    let mut out = if crop.is_some() {
        let side = whole_size as f32;
        let (left, top) = (((x0 * side) as u32).min(whole_size - 1), ((y0 * side) as u32).min(whole_size - 1));
        let (width, height) = (((x1 - x0) * side).max(1.0) as u32, ((y1 - y0) * side).max(1.0) as u32);
        let part = image::imageops::crop_imm(&picture, left, top, width.min(whole_size - left), height.min(whole_size - top)).to_image();
        let scale = options.size_px as f32 / part.width().max(part.height()) as f32;
        let (out_w, out_h) = (((part.width() as f32 * scale) as u32).max(1), ((part.height() as f32 * scale) as u32).max(1));
        image::imageops::resize(&part, out_w, out_h, FilterType::Triangle)
    } else {
        picture
    };
    let shown = [x0, y0, x0.max(x1), y0.max(y1)];
    draw_pins(&mut out, photos, classes, shown);
    if let Some(labels) = labels {
        draw_labels(&mut out, level, labels, shown);
    }
    Some(out)
}
