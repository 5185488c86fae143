//! Atlas build on flowers17: seconds per stage (collect, kNN, UMAP, cells, paper views, icons)
//! for a build with 20x20 icons, in float32 and then in mixed bfloat16 where the CPU has it, then our kNN + UMAP against Python's umap-learn on the same
//! vectors (time, and trustworthiness with k = 15 computed by scikit-learn for both on the same
//! 8,000-point subsample). Run through `scripts/bench-atlas.sh`, which prepares that Python.
//!
//! cargo bench --bench atlas_build -- [--python PATH]

use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use activation_atlas::engine::atlas::knn::knn_graph;
use activation_atlas::engine::atlas::layout::{UmapParams, umap};
use activation_atlas::engine::atlas::{AtlasParams, BuildEvent, Stage, build_atlas};
use activation_atlas::engine::checkpoint::load_checkpoint;
use activation_atlas::engine::data::{cache_dir, load_dataset};
use activation_atlas::engine::precision::{Computation, Precision, set_precision};
use activation_atlas::resources::{flowers17_dir, shipped_model};

/// One build, its stages' seconds and a RESULT line naming the precision.
fn timed_build(
    checkpoint: &activation_atlas::engine::checkpoint::Checkpoint,
    dataset: &activation_atlas::engine::data::Dataset,
    params: &AtlasParams,
    precision: &str,
) -> activation_atlas::engine::atlas::Atlas {
    let started = Instant::now();
    let mut stage_started = Instant::now();
    let mut current: Option<Stage> = None;
    let mut times = Vec::new();
    let mut on_event = |event: BuildEvent| {
        if let BuildEvent::Stage { stage, .. } = event
            && current != Some(stage)
        {
            if let Some(previous) = current {
                times.push((previous, stage_started.elapsed().as_secs_f64()));
            }
            current = Some(stage);
            stage_started = Instant::now();
        }
    };
    let atlas = build_atlas(checkpoint, dataset, params, &mut on_event, &AtomicBool::new(false)).expect("atlas builds");
    if let Some(stage) = current {
        times.push((stage, stage_started.elapsed().as_secs_f64()));
    }
    let total = started.elapsed().as_secs_f64();
    for (stage, secs) in &times {
        println!("{precision} stage {stage:?}: {secs:.1} s");
    }
    let icons: usize = atlas.icons.iter().map(|l| l.cells.len()).sum();
    println!(
        "RESULT full build {precision}: {total:.1} s ({} vectors, {icons} icons at 20x20, grids {:?})",
        atlas.collected.len(),
        params.grid_levels
    );
    atlas
}

fn main() {
    activation_atlas::engine::memory::keep_freed_tensor_memory(); // as the app does at start-up
    let args: Vec<String> = std::env::args().collect();
    let python = args.iter().position(|a| a == "--python").and_then(|i| args.get(i + 1)).cloned();
    tch::set_num_threads(2);
    let dataset = load_dataset(&flowers17_dir(), Some(&cache_dir()), &|_, _| {}, &AtomicBool::new(false)).expect("flowers17");
    let checkpoint = load_checkpoint(&shipped_model().expect("shipped model"), tch::Device::Cpu).expect("model");
    let params = AtlasParams { icon_levels: vec![20], ..AtlasParams::default() };
    let atlas = timed_build(&checkpoint, &dataset, &params, "fp32");
    if set_precision(Precision::Bf16) == Computation::Mixed {
        timed_build(&checkpoint, &dataset, &params, "bf16");
        set_precision(Precision::Fp32);
    } else {
        println!("this CPU has no bfloat16 instructions: float32 only");
    }

    // Our layout alone, timed from the vectors: kNN + UMAP.
    let c = &atlas.collected;
    let t = Instant::now();
    let neighbours = knn_graph(&c.vectors, c.dim, 15, tch::Device::Cpu);
    let knn_secs = t.elapsed().as_secs_f64();
    let layout = umap(&neighbours, &UmapParams::default(), 0, &mut |_, _| {}, &AtomicBool::new(false)).unwrap();
    let ours = t.elapsed().as_secs_f64();
    println!("ours: kNN {knn_secs:.2} s + UMAP {:.2} s = {ours:.2} s", ours - knn_secs);
    let Some(python) = python else {
        println!("(no --python: umap-learn comparison skipped)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("aa-atlas-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let floats = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(dir.join("vectors.f32"), floats(&c.vectors)).unwrap();
    std::fs::write(dir.join("ours.f32"), floats(&layout)).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/umap_compare.py");
    let output = Command::new(python)
        .arg(script)
        .args(["--dir", &dir.to_string_lossy(), "--dim", &c.dim.to_string(), "--ours-seconds", &format!("{ours:.3}")])
        .output()
        .expect("python runs");
    print!("{}", String::from_utf8_lossy(&output.stdout));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr.lines().filter(|l| !l.contains("Warning") && !l.trim().is_empty() && !l.starts_with("  ")) {
        eprintln!("{line}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
