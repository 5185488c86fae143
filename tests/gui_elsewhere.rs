//! The window as a user starts it from the desktop: another working directory, a fresh HOME, and
//! no data set beside it. The shipped atlas opens and a clicked cell shows its real patches from
//! the images embedded in the atlas file. Its own test binary, because it changes the process's
//! working directory and environment.

mod common;

use activation_atlas::app::dialogs::{DialogRequest, picker_from};
use eframe::egui;
use egui_kittest::kittest::Queryable;

#[test]
fn the_shipped_atlas_shows_real_patches_from_any_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    // SAFETY: this binary's only test changes these before any other thread starts.
    unsafe {
        std::env::set_var("HOME", elsewhere.path());
        std::env::remove_var("XDG_DATA_HOME");
        std::env::remove_var("XDG_CACHE_HOME");
    }
    std::env::set_current_dir(elsewhere.path()).unwrap();
    assert!(!std::path::Path::new("../shared").exists(), "no data set beside the working directory");
    let mut harness = common::app_with_model(common::app_options(picker_from(|_: DialogRequest| None)), [1100.0, 760.0]);
    common::run_until(&mut harness, "the shipped atlas loads", 60, |app| app.atlas().atlas().is_some());
    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    // Click the middle of the map.
    let centre = egui::pos2(380.0, 420.0);
    harness.event(egui::Event::PointerMoved(centre));
    harness.run_steps(1);
    for pressed in [true, false] {
        harness.event(egui::Event::PointerButton {
            pos: centre,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        harness.run_steps(1);
    }
    let (level, index) = harness.state().atlas().inspector().selected.expect("a click on the map selects a cell");
    let members = harness.state().atlas().atlas().unwrap().level(level).unwrap().cells[index].members.len();
    common::run_until(&mut harness, "the patches arrive", 60, |app| {
        app.atlas().patch_count() > 0 || !app.atlas().inspector().missing_patches.is_empty()
    });
    assert!(harness.state().atlas().inspector().missing_patches.is_empty(), "{:?}", harness.state().atlas().inspector().missing_patches);
    assert_eq!(harness.state().atlas().patch_count(), members.min(24));
    harness.get_by_label_contains("真实图片");
}
