//! The atlas at scale: default `atlas build` (icons at 10, 20 and 40) on folders of n photos made
//! from flowers17 repeated through symbolic links, for n = 2,000, 5,000, 10,000 and 20,000. Per
//! n: seconds per stage, the whole command's seconds and its peak resident memory, then the slope
//! of log(seconds) against log(n) (1 = cost per photo flat).
//!
//! The decode cache is warmed first for every folder, so the timings are those of a user's
//! second build of the same folder; the first also decodes every photo (about 1 ms each here).
//!
//! cargo bench --bench atlas_scale -- [--sizes 2000,5000] [--samples N]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use activation_atlas::engine::data::load_dataset;
use activation_atlas::resources::{flowers17_dir, shipped_model};

/// A folder of `n` photos in flowers17's classes: its photos in turn, as links, round after round.
fn linked_folder(source: &Path, n: usize, into: &Path) -> PathBuf {
    let root = into.join(format!("flowers-{n}"));
    let mut classes: Vec<(String, Vec<PathBuf>)> = std::fs::read_dir(source)
        .expect("flowers17")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let mut files: Vec<PathBuf> = std::fs::read_dir(e.path()).unwrap().filter_map(|f| f.ok()).map(|f| f.path()).collect();
            files.sort();
            (e.file_name().to_string_lossy().into_owned(), files)
        })
        .collect();
    classes.sort();
    let per_class = n.div_ceil(classes.len());
    let mut made = 0;
    for (class, files) in &classes {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class.min(n - made) {
            let file = &files[i % files.len()];
            let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("jpg");
            std::os::unix::fs::symlink(file, dir.join(format!("{i:05}.{extension}"))).unwrap();
            made += 1;
        }
    }
    root
}

fn main() {
    activation_atlas::engine::memory::keep_freed_tensor_memory(); // as the app does at start-up
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let sizes: Vec<usize> = value("--sizes")
        .unwrap_or_else(|| "2000,5000,10000,20000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("--sizes takes numbers separated by commas"))
        .collect();
    let samples = value("--samples");
    let work = tempfile::tempdir().expect("temporary folder");
    let cache = work.path().join("cache");
    let model = shipped_model().expect("the shipped model");
    let binary = env!("CARGO_BIN_EXE_activation-atlas");
    let mut points = Vec::new();
    for &n in &sizes {
        let folder = linked_folder(&flowers17_dir(), n, work.path());
        load_dataset(&folder, Some(&cache), &|_, _| {}, &AtomicBool::new(false)).expect("the linked folder");
        let out = work.path().join(format!("flowers-{n}.atlas"));
        let mut command = Command::new(binary);
        command.env("ACTIVATION_ATLAS_CACHE", &cache).arg("--json").arg("atlas").arg("build");
        command.arg("--weights").arg(&model).arg("--data").arg(&folder).arg("--out").arg(&out);
        if let Some(samples) = &samples {
            command.arg("--samples").arg(samples);
        }
        let started = Instant::now();
        let output = command.output().expect("activation-atlas runs");
        let seconds = started.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let envelope: serde_json::Value = stdout
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line).ok())
            .unwrap_or_else(|| panic!("no JSON from atlas build: {stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
        assert!(envelope["ok"].as_bool() == Some(true), "atlas build failed: {envelope}");
        let result = &envelope["result"];
        let peak = result["peak_rss_mb"].as_u64().unwrap_or(0);
        let stages: Vec<String> = result["stages"]
            .as_array()
            .map(|stages| {
                stages
                    .iter()
                    .map(|s| format!("{} {:.1} s", s["stage"].as_str().unwrap_or("?"), s["seconds"].as_f64().unwrap_or(0.0)))
                    .collect()
            })
            .unwrap_or_default();
        let recall = result["neighbours"]["recall"].as_f64().unwrap_or(f64::NAN);
        println!(
            "n = {n}: {} vectors, neighbours {} (recall {recall:.3}); {}",
            result["vectors"],
            result["neighbours"]["method"].as_str().unwrap_or("?"),
            stages.join(", ")
        );
        println!("RESULT atlas-scale images {n} seconds {seconds:.1} peak_rss_mb {peak}");
        points.push((n as f64, seconds));
        std::fs::remove_file(&out).ok();
    }
    if points.len() >= 2 {
        // Least-squares slope of log(seconds) on log(n).
        let logs: Vec<(f64, f64)> = points.iter().map(|(n, s)| (n.ln(), s.ln())).collect();
        let mean_x = logs.iter().map(|p| p.0).sum::<f64>() / logs.len() as f64;
        let mean_y = logs.iter().map(|p| p.1).sum::<f64>() / logs.len() as f64;
        let covariance: f64 = logs.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
        let variance: f64 = logs.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
        println!("RESULT atlas-scale log-log slope {:.3} over {} sizes", covariance / variance, points.len());
    }
}
