//! Training speed on flowers17: seconds per epoch (training pass + validation pass) of the Rust
//! engine in float32 and in mixed bfloat16 (where the CPU has it), and of a PyTorch twin (same
//! network, recipe, data and thread count) when a Python with torch is given: its default, its
//! channels-last, and its bfloat16 autocast with and without channels-last. Run through
//! `scripts/bench-train.sh`, which prepares that Python.
//!
//! cargo bench --bench train_epoch -- [--epochs N] [--threads N] [--python PATH]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use activation_atlas::engine::data::{cache_dir, load_dataset, stratified_split};
use activation_atlas::engine::model::INPUT_SIZE;
use activation_atlas::engine::precision::{Bf16Support, Precision, cpu_bf16_support, describe, set_precision};
use activation_atlas::engine::train::{TrainConfig, TrainEvent, train};
use activation_atlas::resources::flowers17_dir;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let epochs: u32 = value("--epochs").and_then(|v| v.parse().ok()).unwrap_or(3);
    let threads: i32 = value("--threads").and_then(|v| v.parse().ok()).unwrap_or(2);
    let python = value("--python");
    // As the app and CLI do at start-up.
    activation_atlas::engine::memory::keep_freed_tensor_memory();
    tch::set_num_threads(threads);

    let data = flowers17_dir();
    let dataset = load_dataset(&data, Some(&cache_dir()), &|_, _| {}, &AtomicBool::new(false)).expect("flowers17 loads");
    let config = TrainConfig { epochs, seed: 1, ..TrainConfig::default() }; // the paper's recipe
    println!(
        "flowers17: {} images, {} classes; {threads} threads; recipe: Adam lr 0.001, batch 64, no augmentation",
        dataset.len(),
        dataset.class_names.len()
    );

    // Same split for the twin: write the decoded training and validation images as raw bytes.
    let (train_idx, val_idx) = stratified_split(&dataset.labels, config.validation_fraction, config.seed);
    let dump_dir = tempfile_dir();
    for (name, indices) in [("train", &train_idx), ("val", &val_idx)] {
        let mut pixels = Vec::with_capacity(indices.len() * (INPUT_SIZE * INPUT_SIZE * 3) as usize);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            pixels.extend_from_slice(dataset.images[i].as_raw());
            labels.push(dataset.labels[i] as u8);
        }
        std::fs::write(dump_dir.join(format!("{name}_images.u8")), pixels).unwrap();
        std::fs::write(dump_dir.join(format!("{name}_labels.u8")), labels).unwrap();
    }

    let rust_run = |precision: Precision| -> f64 {
        set_precision(precision);
        println!("rust {}:", describe());
        let run_dir = dump_dir.join(format!("run-{}", precision.name()));
        let mut epoch_secs = Vec::new();
        let started = Instant::now();
        train(&dataset, &config, &run_dir, None, tch::Device::Cpu, &AtomicBool::new(false), &mut |event| {
            if let TrainEvent::Epoch { record, .. } = event {
                println!("rust    epoch {} {:.2} s  (val acc {:.3})", record.epoch, record.duration_secs, record.validation_accuracy);
                epoch_secs.push(record.duration_secs);
            }
        })
        .expect("training runs");
        let median = median_after_first(&epoch_secs);
        println!("rust    median epoch (excluding the first): {median:.2} s; total {:.1} s", started.elapsed().as_secs_f64());
        median
    };
    let rust = rust_run(Precision::Fp32);
    let mixed = (cpu_bf16_support() != Bf16Support::None).then(|| rust_run(Precision::Bf16));
    let mixed_text = mixed.map_or_else(|| "rust bf16 n/a (no bfloat16 on this CPU)".to_string(), |s| format!("rust bf16 {s:.2} s/epoch"));

    let Some(python) = python else {
        println!("(no --python given: PyTorch twin skipped)");
        println!("RESULT rust fp32 {rust:.2} s/epoch; {mixed_text}");
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/train_epoch.py");
    let twin = |extra: &[&str], environment: &[(&str, &str)]| -> f64 {
        let output = Command::new(&python)
            .arg(&script)
            .args([
                "--data",
                &dump_dir.to_string_lossy(),
                "--epochs",
                &epochs.to_string(),
                "--threads",
                &threads.to_string(),
                "--classes",
                &dataset.class_names.len().to_string(),
            ])
            .args(extra)
            .envs(environment.iter().copied())
            .output()
            .expect("python runs");
        print!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|line| line.strip_prefix("pytorch median epoch: "))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .expect("the twin prints its median epoch")
    };
    println!("PyTorch as written (its defaults):");
    let default = twin(&[], &[]);
    // Its best configuration here: channels-last, and glibc's malloc set as ours sets it
    // (engine::memory::keep_freed_tensor_memory) through the environment.
    println!("PyTorch with channels-last and the same malloc settings:");
    let malloc = [(
        "GLIBC_TUNABLES",
        "glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=67108864",
    )];
    let tuned = twin(&["--channels-last"], &malloc);
    // Its bfloat16: torch.autocast("cpu", dtype=torch.bfloat16) around forward and loss, as
    // PyTorch documents for CPU training; plain and with channels-last.
    println!("PyTorch with bfloat16 autocast:");
    let autocast = twin(&["--bf16"], &malloc);
    println!("PyTorch with bfloat16 autocast, channels-last and the same malloc settings:");
    let autocast_tuned = twin(&["--bf16", "--channels-last"], &malloc);
    let ours = mixed.unwrap_or(rust);
    println!(
        "RESULT rust fp32 {rust:.2} s/epoch; {mixed_text}; pytorch default {default:.2} (rust fp32/pytorch {:.3}); pytorch channels-last + malloc {tuned:.2} (rust fp32 ratio {:.3}, rust bf16 ratio {:.3}); pytorch bf16 autocast {autocast:.2} (rust bf16 ratio {:.3}); pytorch bf16 autocast + channels-last + malloc {autocast_tuned:.2} (rust bf16 ratio {:.3})",
        rust / default,
        rust / tuned,
        ours / tuned,
        ours / autocast,
        ours / autocast_tuned
    );
    let _ = std::fs::remove_dir_all(&dump_dir);
}

fn median_after_first(values: &[f64]) -> f64 {
    let mut rest: Vec<f64> = values.iter().skip(usize::from(values.len() > 1)).copied().collect();
    rest.sort_by(f64::total_cmp);
    rest[rest.len() / 2]
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aa-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
