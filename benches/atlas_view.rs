//! UI-thread CPU time per frame of the 地图集 map with the shipped atlas, zoomed in to the finest
//! icon level (the most cells and icons in one mesh), while the pointer pans the map and hovers
//! cells (so the tooltip is built every frame) and two dropped photos are shown. One frame is the
//! app's update plus egui's tessellation of everything it drew; GPU work is not included.
//! Prints p50 / p99 / max.
//!
//! cargo bench --bench atlas_view -- [--frames N]

use std::time::{Duration, Instant};

use activation_atlas::app::{AppOptions, AtlasApp, ModelStatus, Tab};
use activation_atlas::resources::{flowers17_dir, shipped_model};
use eframe::egui;
use egui_kittest::Harness;

fn wait_until(harness: &mut Harness<'static, AtlasApp>, what: &str, done: impl Fn(&AtlasApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() {
    activation_atlas::engine::memory::keep_freed_tensor_memory(); // as the app does at start-up
    let args: Vec<String> = std::env::args().collect();
    let frames: usize = args.iter().position(|a| a == "--frames").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(1500);
    let options = AppOptions {
        picker: activation_atlas::app::dialogs::picker_from(|_| None),
        model: shipped_model(),
        settings_file: None,
        user_descriptions: None,
        image: None,
        data_dir: None,
        run_root: None,
        atlas: None,
        place: Vec::new(),
        timeline: None,
    };
    let mut harness = Harness::builder().with_size([1280.0, 900.0]).build_eframe(move |cc| AtlasApp::new(cc, options));
    wait_until(&mut harness, "the model loads", |app| matches!(app.model, ModelStatus::Ready(_)));
    wait_until(&mut harness, "the shipped atlas loads", |app| app.atlas().atlas().is_some());
    harness.state_mut().tab = Tab::Atlas;
    harness.state_mut().atlas_mut().map_mut().class_colours = true;
    let photos = ["sunflower", "bluebell"].map(|class| {
        let dir = flowers17_dir().join(class);
        let mut files: Vec<_> = std::fs::read_dir(&dir).expect("flowers17 is readable").filter_map(|e| Some(e.ok()?.path())).collect();
        files.sort();
        files[0].clone()
    });
    harness.state_mut().place_on_atlas(photos.to_vec());
    wait_until(&mut harness, "the photos are placed", |app| app.atlas().map().dropped.len() == 2);

    // Zoom in until the finest level is drawn.
    let finest = harness.state().atlas().atlas().and_then(|a| a.icons.iter().map(|i| i.size).max()).expect("the atlas has icons");
    let centre = egui::pos2(480.0, 470.0);
    harness.event(egui::Event::PointerMoved(centre));
    for _ in 0..40 {
        if harness.state().atlas().map().current_level == finest {
            break;
        }
        harness.event(egui::Event::Zoom(1.2));
        harness.run_steps(1);
    }
    assert_eq!(harness.state().atlas().map().current_level, finest, "zoomed in to the finest level");

    // Pan with a held button in a slow circle, so each frame both pans and hovers a new cell.
    harness.event(egui::Event::PointerButton {
        pos: centre,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    let pixels_per_point = harness.ctx.pixels_per_point();
    let mut frame_ms = Vec::with_capacity(frames);
    let mut tessellate_ms = Vec::with_capacity(frames);
    for i in 0..frames {
        let angle = i as f32 * 0.02;
        harness.event(egui::Event::PointerMoved(centre + egui::vec2(angle.cos(), angle.sin()) * 120.0));
        let frame = Instant::now();
        harness.step();
        let shapes = harness.output().shapes.clone();
        let tessellation = Instant::now();
        let primitives = harness.ctx.tessellate(shapes, pixels_per_point);
        std::hint::black_box(primitives);
        tessellate_ms.push(tessellation.elapsed().as_secs_f64() * 1e3);
        frame_ms.push(frame.elapsed().as_secs_f64() * 1e3);
    }
    assert_eq!(harness.state().atlas().map().current_level, finest, "the finest level stayed on screen while panning");
    let percentile = |values: &mut Vec<f64>, p: f64| {
        values.sort_by(f64::total_cmp);
        values[((values.len() - 1) as f64 * p).round() as usize]
    };
    let cells = harness.state().atlas().atlas().and_then(|a| a.level(finest).map(|l| l.cells.len())).unwrap_or(0);
    println!(
        "atlas view at the finest level ({finest}x{finest}, {cells} cells, 2 placed photos), {frames} frames: \
         CPU per frame p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (of which tessellation p50 {:.2} ms)",
        percentile(&mut frame_ms, 0.5),
        percentile(&mut frame_ms, 0.99),
        frame_ms[frame_ms.len() - 1],
        percentile(&mut tessellate_ms, 0.5),
    );
}
