//! A picture of the atlas map (the shipped atlas, coloured by class, every class named), compared
//! with `tests/snapshots/atlas_map.png`.
//!
//! Made to hold on any machine that runs the suite: the CJK font is pinned to WenQuanYi Micro Hei
//! (`scripts/setup.sh` installs it), only the map is compared (not the status bar, which names the
//! device), and software renderers may differ slightly, so a small share of pixels may differ.
//! After an intended change of the map's look, rewrite the picture with
//! `UPDATE_SNAPSHOTS=1 cargo test --release --test gui_snapshot` and look at it before committing.
//! Its own test binary, so setting the font variable cannot race another test.

mod common;

use activation_atlas::app::dialogs::{DialogRequest, picker_from};
use egui_kittest::kittest::Queryable;
use egui_kittest::{SnapshotOptions, image_snapshot_options};

const PINNED_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

/// Where the map is in the 1100 x 760 window: left of the side panel, below the two tool bar rows, above
/// the status bar.
const MAP_AREA: (u32, u32, u32, u32) = (8, 96, 752, 634);

#[test]
fn atlas_map_snapshot() {
    assert!(std::path::Path::new(PINNED_FONT).exists(), "{PINNED_FONT} is missing: run scripts/setup.sh");
    // SAFETY: this binary's only test sets the variable before any thread reads it.
    unsafe { std::env::set_var("ACTIVATION_ATLAS_CJK_FONT", PINNED_FONT) };
    let mut harness = common::app_with_model(common::app_options(picker_from(|_: DialogRequest| None)), [1100.0, 760.0]);
    common::run_until(&mut harness, "the shipped atlas loads", 60, |app| app.atlas().atlas().is_some());
    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    harness.get_by_label("按类别着色").click();
    harness.run_steps(3);
    assert!(harness.state().atlas().map().class_colours, "the checkbox colours the map");
    let picture = harness.render().expect("the window renders");
    let (x, y, width, height) = MAP_AREA;
    let map = image::imageops::crop_imm(&picture, x, y, width, height).to_image();
    // At most 0.5% of the map's pixels may differ noticeably between software renderers.
    let options = SnapshotOptions::new().threshold(1.0).max_failed_pixels((width * height / 200) as usize);
    image_snapshot_options(&map, "atlas_map", &options);
}
