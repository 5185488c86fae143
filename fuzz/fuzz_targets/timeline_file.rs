//! Arbitrary bytes as a timeline file: refused with a reason, or a timeline every consumer can
//! use (each frame's layout for display, its cells, each point's patch).
#![no_main]

use std::path::Path;

use activation_atlas::engine::atlas::timeline::{frame_cells, parse_timeline};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(timeline) = parse_timeline(data, Path::new("fuzz.timeline")) else { return };
    for frame in 0..timeline.frames.len() {
        let layout = timeline.display_layout(frame);
        let _ = frame_cells(&layout, 10, 1);
        let _ = timeline.movement(frame);
    }
    for point in 0..timeline.len().min(64) {
        let _ = timeline.patch(point);
    }
});
