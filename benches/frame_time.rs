//! UI-thread time per frame while the worker trains on flowers17: the real app in an
//! egui_kittest harness, stepped continuously; each step is one frame (draining worker events,
//! building every widget of the training panel with its live charts). GPU rendering is not
//! included. Prints p50 / p99 / max over the measured seconds.
//!
//! With `--atlas`, the frames are measured while the 地图集 panel builds an atlas of flowers17
//! (the default build: icons at 10/20/40) until it is done, and the process's peak memory
//! (VmHWM: the app and the build together) is printed. With `--both`, training and the atlas
//! build run at the same time (each on its own thread) until the build is done.
//!
//! cargo bench --bench frame_time -- [--seconds N] [--atlas | --both]

use std::time::{Duration, Instant};

use activation_atlas::app::{AppOptions, AtlasApp, Tab};
use activation_atlas::resources::{flowers17_dir, shipped_model};
use egui_kittest::Harness;

fn main() {
    activation_atlas::engine::memory::keep_freed_tensor_memory(); // as the app does at start-up
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.iter().position(|a| a == "--seconds").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(60);
    // Runs go to scratch/runs and atlases beside them, to scratch/atlases.
    let scratch = std::env::temp_dir().join(format!("aa-frame-bench-{}", std::process::id()));
    let runs = scratch.join("runs");
    let options = AppOptions {
        picker: activation_atlas::app::dialogs::picker_from(|_| None),
        model: shipped_model(),
        settings_file: None,
        user_descriptions: None,
        image: None,
        data_dir: Some(flowers17_dir()),
        run_root: Some(runs.clone()),
        atlas: None,
        place: Vec::new(),
        timeline: None,
    };
    let mut harness = Harness::builder().with_size([1280.0, 900.0]).build_eframe(move |cc| AtlasApp::new(cc, options));
    let deadline = Instant::now() + Duration::from_secs(120);
    // flowers17 read and the shipped atlas shown (a build started before it arrives would be
    // replaced by it): nothing runs any more.
    while harness.state().train().dataset().overview.is_none() || harness.state().atlas().atlas().is_none() || harness.state().worker_busy()
    {
        assert!(Instant::now() < deadline, "flowers17 or the shipped atlas did not load");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    let both = args.iter().any(|a| a == "--both");
    let atlas_build = both || args.iter().any(|a| a == "--atlas");
    if both {
        harness.state_mut().train_mut().form_mut().recipe.epochs = 100;
        harness.state_mut().start_training();
    }
    if atlas_build {
        harness.state_mut().tab = Tab::Atlas;
        harness.state_mut().build_atlas();
        assert!(harness.state().atlas().builder().building.is_some(), "the build started");
    } else {
        assert_eq!(harness.state().tab, Tab::Train);
        harness.state_mut().train_mut().form_mut().recipe.epochs = 100;
        harness.state_mut().start_training();
    }

    let mut frame_ms = Vec::new();
    let started = Instant::now();
    loop {
        let done = if atlas_build {
            harness.state().atlas().builder().building.is_none()
        } else {
            started.elapsed() >= Duration::from_secs(seconds)
        };
        if done {
            break;
        }
        let frame = Instant::now();
        harness.step();
        frame_ms.push(frame.elapsed().as_secs_f64() * 1e3);
        // About 60 frames a second, as a window would ask for while something moves.
        std::thread::sleep(Duration::from_millis(16));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let steps = harness.state().train().history().step_losses.len();
    let still_training = harness.state().train().run().running.is_some();
    harness.state().cancel_all_jobs();
    frame_ms.sort_by(f64::total_cmp);
    let at = |p: f64| frame_ms[((frame_ms.len() - 1) as f64 * p).round() as usize];
    let what = match (both, atlas_build) {
        (true, _) => format!("while training ({steps} optimiser steps) and building an atlas ({elapsed:.0} s)"),
        (false, true) => format!("while building an atlas ({elapsed:.0} s)"),
        (false, false) => format!("while training ({steps} optimiser steps in {seconds} s)"),
    };
    if both {
        assert!(still_training && steps > 0, "training went on during the whole build");
    }
    println!(
        "frames {what}: n={} p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        frame_ms.len(),
        at(0.5),
        at(0.99),
        frame_ms[frame_ms.len() - 1],
    );
    let mode = if both {
        "training+atlas"
    } else if atlas_build {
        "atlas"
    } else {
        "training"
    };
    println!(
        "RESULT frame-time-{mode} p50 {:.2} ms p99 {:.2} ms max {:.2} ms n {}",
        at(0.5),
        at(0.99),
        frame_ms[frame_ms.len() - 1],
        frame_ms.len()
    );
    if atlas_build {
        assert!(harness.state().messages.error.is_none(), "the build failed: {:?}", harness.state().messages.error);
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let peak = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: unknown");
        println!("peak memory of the app process during the build: {}", peak.trim_start_matches("VmHWM:").trim());
    }
    drop(harness);
    let _ = std::fs::remove_dir_all(scratch);
}
