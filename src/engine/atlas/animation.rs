//! A timeline as pictures: one frame drawn as a scatter of its points in class colours, with the
//! epoch and accuracy written on it, and the frames as an animated GIF or APNG.

use std::path::Path;

use image::{Rgb, RgbImage};

use super::export::{class_colour, draw_text, fill_disc, text_width};
use super::timeline::Timeline;

/// How an animation is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnimationOptions {
    /// Width and height of the plot in pixels (a legend, when drawn, adds to the width).
    pub size_px: u32,
    /// Pictures drawn between two checkpoints (points part way), for smooth motion.
    pub tween: usize,
    /// How long each picture shows, in milliseconds.
    pub frame_ms: u32,
    /// How long the last checkpoint's picture stays before the loop restarts.
    pub hold_ms: u32,
    /// Draw each picture as an atlas of real patches in a grid of this many cells per side
    /// (see [`Timeline::frame_atlas_picture`]) instead of points; a timeline without patches is
    /// drawn as points.
    pub atlas_grid: Option<usize>,
}

impl Default for AnimationOptions {
    fn default() -> Self {
        AnimationOptions { size_px: 640, tween: 4, frame_ms: 80, hold_ms: 1500, atlas_grid: None }
    }
}

/// Text drawn on the frames; without it, the frames carry points only.
pub struct Captions<'a> {
    pub font: &'a ab_glyph::FontVec,
    /// Display name of each class, in the timeline's order.
    pub names: &'a [String],
}

const BACKGROUND: Rgb<u8> = Rgb([24, 26, 32]);
const LEGEND_WIDTH: u32 = 190;

/// The timeline at `at` (a frame index; fractional between frames) as a picture.
pub fn render_timeline_frame(timeline: &Timeline, at: f32, size_px: u32, captions: Option<&Captions>) -> RgbImage {
    render_frame_within(timeline, at, timeline.bounds(), size_px, None, captions)
}

/// Minimum points in a cell for it to be drawn in an atlas picture.
const ATLAS_MIN_POINTS: usize = 3;

fn render_frame_within(
    timeline: &Timeline,
    at: f32,
    bounds: [f32; 4],
    size_px: u32,
    atlas_grid: Option<usize>,
    captions: Option<&Captions>,
) -> RgbImage {
    let atlas = atlas_grid.and_then(|grid| timeline.frame_atlas_picture(at, bounds, grid, ATLAS_MIN_POINTS));
    // An atlas of patches needs no class legend.
    let legend = if captions.is_some() && atlas.is_none() { LEGEND_WIDTH } else { 0 };
    let mut out = RgbImage::from_pixel(size_px + legend, size_px, BACKGROUND);
    let classes = timeline.class_names.len();
    let size = size_px as f32;
    if let Some(atlas) = atlas {
        let scaled = image::imageops::resize(&atlas, size_px, size_px, image::imageops::FilterType::Nearest);
        image::imageops::replace(&mut out, &scaled, 0, 0);
    } else {
        let layout = timeline.display_between_within(at, bounds);
        let dot = (size / 320.0).max(1.2);
        for i in timeline.draw_order() {
            let colour = class_colour(timeline.label[i] as usize, classes);
            fill_disc(&mut out, layout[2 * i] * size, layout[2 * i + 1] * size, dot, |_| colour);
        }
    }
    if let Some(captions) = captions {
        let frame = &timeline.frames[(at.round() as usize).min(timeline.frames.len() - 1)];
        let accuracy = frame.validation_accuracy.map(|a| format!("  ·  val {:.1}%", a * 100.0)).unwrap_or_default();
        let title = format!("epoch {}{accuracy}", frame.epoch);
        let px = (size / 28.0).clamp(12.0, 28.0);
        if legend == 0 {
            // Over patches the title needs a dark band behind it to be read.
            let band = RgbImage::from_pixel(size_px, (px * 1.6) as u32 + 8, BACKGROUND);
            image::imageops::replace(&mut out, &band, 0, 0);
        }
        draw_text(&mut out, captions.font, &title, 10.0, 8.0, px, Rgb([240, 240, 240]));
        let row = ((size - 20.0) / classes.max(1) as f32).min(20.0);
        for (class, name) in captions.names.iter().enumerate().take(if legend > 0 { classes } else { 0 }) {
            let y = 10.0 + class as f32 * row;
            let x = size + 8.0;
            fill_disc(&mut out, x + 6.0, y + row / 2.0, (row / 3.0).max(2.0), |_| class_colour(class, classes));
            let mut shown = name.clone();
            while text_width(captions.font, &shown, row * 0.75) > (LEGEND_WIDTH as f32 - 26.0) && shown.chars().count() > 2 {
                shown.pop();
            }
            draw_text(&mut out, captions.font, &shown, x + 16.0, y + row * 0.1, row * 0.75, Rgb([230, 230, 230]));
        }
    }
    out
}

/// Every picture of the animation and how long each shows (ms): each checkpoint, with `tween`
/// pictures between it and the next, the last one held.
pub fn animation_frames(timeline: &Timeline, options: &AnimationOptions, captions: Option<&Captions>) -> Vec<(RgbImage, u32)> {
    let frames = timeline.frames.len();
    let bounds = timeline.bounds();
    let steps = options.tween + 1;
    let mut out = Vec::new();
    for frame in 0..frames {
        let last = frame + 1 == frames;
        let pictures = if last { 1 } else { steps };
        for step in 0..pictures {
            let at = frame as f32 + step as f32 / steps as f32;
            let delay = if last { options.hold_ms } else { options.frame_ms };
            out.push((render_frame_within(timeline, at, bounds, options.size_px, options.atlas_grid, captions), delay));
        }
    }
    out
}

/// Which animation format a file name asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnimationFormat {
    Gif,
    Apng,
}

impl AnimationFormat {
    /// From the extension: `.gif`, or `.png` / `.apng`.
    pub fn of(path: &Path) -> Option<AnimationFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "gif" => Some(AnimationFormat::Gif),
            "png" | "apng" => Some(AnimationFormat::Apng),
            _ => None,
        }
    }
}

/// Encodes `frames` (pictures with their delays in ms) as an endlessly looping animation.
pub fn encode_animation(frames: &[(RgbImage, u32)], format: AnimationFormat) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    match format {
        AnimationFormat::Gif => {
            use image::codecs::gif::{GifEncoder, Repeat};
            // Speed 10 of 30: the frames have a few dozen colours, so the quantiser's quality
            // setting barely shows and the faster setting halves the time.
            let mut encoder = GifEncoder::new_with_speed(&mut bytes, 10);
            encoder.set_repeat(Repeat::Infinite).map_err(|e| e.to_string())?;
            for (picture, delay) in frames {
                let rgba = image::DynamicImage::ImageRgb8(picture.clone()).into_rgba8();
                let frame = image::Frame::from_parts(rgba, 0, 0, image::Delay::from_numer_denom_ms(*delay, 1));
                encoder.encode_frame(frame).map_err(|e| e.to_string())?;
            }
        }
        AnimationFormat::Apng => {
            let Some((first, _)) = frames.first() else { return Err("no frames".into()) };
            let mut encoder = png::Encoder::new(&mut bytes, first.width(), first.height());
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder.set_animated(frames.len() as u32, 0).map_err(|e| e.to_string())?;
            let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
            for (picture, delay) in frames {
                writer.set_frame_delay((*delay).min(u16::MAX as u32) as u16, 1000).map_err(|e| e.to_string())?;
                writer.write_image_data(picture.as_raw()).map_err(|e| e.to_string())?;
            }
            writer.finish().map_err(|e| e.to_string())?;
        }
    }
    Ok(bytes)
}

/// Renders and writes the animation of `timeline` to `path` (GIF or APNG by its extension),
/// atomically. Returns the number of pictures.
pub fn export_animation(
    timeline: &Timeline,
    path: &Path,
    options: &AnimationOptions,
    captions: Option<&Captions>,
) -> Result<usize, String> {
    let format = AnimationFormat::of(path).ok_or_else(|| format!("{}: the animation is written as .gif or .png (APNG)", path.display()))?;
    let frames = animation_frames(timeline, options, captions);
    let bytes = encode_animation(&frames, format)?;
    crate::engine::fsutil::write_atomically(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(frames.len())
}
