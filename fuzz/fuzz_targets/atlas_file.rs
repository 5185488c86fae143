//! Arbitrary bytes as an atlas file: refused with a reason, or an atlas every consumer can use
//! (rendering each grid level, reading each icon).
#![no_main]

use std::path::Path;

use activation_atlas::engine::atlas::export::{ExportOptions, render_atlas};
use activation_atlas::engine::atlas::parse_atlas;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(atlas) = parse_atlas(data, Path::new("fuzz.atlas")) else { return };
    for level in &atlas.levels {
        let options = ExportOptions { size_px: 64, grid: level.size, grid_lines: true, class_colours: true };
        let _ = render_atlas(&atlas, &options);
    }
    for icons in &atlas.icons {
        for i in 0..icons.cells.len() {
            let _ = icons.icon(i);
        }
    }
});
