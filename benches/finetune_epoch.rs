//! A fine-tuning epoch of the shipped EfficientNet-Lite0 on 2 cores, side by side with the same
//! fine-tuning in PyTorch 2.13 (benches/finetune_epoch.py): the same photos (the first
//! `--per-class` of each flowers17 class at 224 x 224), batch, learning stages, dropout, label
//! smoothing and AdamW, and the very pixels: the Rust run's augmented batches of its timed epoch
//! are written out and PyTorch trains on them (so PyTorch's time has no augmentation in it, ours
//! has: ours runs on a producer thread beside the optimiser). Ours is the median epoch after the
//! first; PyTorch's the median after a warm-up epoch, in its default layout, channels-last, and
//! channels-last under bfloat16 autocast. Run through `scripts/bench-finetune.sh`.
//!
//! cargo bench --bench finetune_epoch -- [--per-class N] [--unfreeze N] [--epochs N] [--python PATH]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use activation_atlas::engine::data::{Dataset, load_dataset_sized};
use activation_atlas::engine::finetune::{epoch_batches, train_finetune, training_batch};
use activation_atlas::engine::recipe::{DEFAULT_UNFREEZE, finetune_recipe};
use activation_atlas::engine::train::{TrainEvent, TrainOutcome};
use activation_atlas::engine::transfer::{backbone_features, load_backbone};
use activation_atlas::resources::flowers17_dir;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let per_class: usize = value("--per-class").and_then(|v| v.parse().ok()).unwrap_or(16);
    let unfreeze: u32 = value("--unfreeze").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_UNFREEZE);
    let epochs: u32 = value("--epochs").and_then(|v| v.parse().ok()).unwrap_or(3).max(2);
    let threads = 2;
    activation_atlas::engine::memory::keep_freed_tensor_memory();
    tch::set_num_threads(threads);
    let backbone_name = "efficientnet-lite0";
    let backbone = load_backbone(backbone_name, tch::Device::Cpu).expect("the shipped EfficientNet-Lite0 loads");
    let never = AtomicBool::new(false);
    let full = load_dataset_sized(&flowers17_dir(), None, 224, &|_, _| {}, &never).expect("flowers17 reads");
    let photos = first_of_each_class(full, per_class);
    let features = backbone_features(&backbone, &photos, None, &mut |_, _| {}, &never).expect("features");

    let config = activation_atlas::engine::train::TrainConfig {
        epochs,
        validation_fraction: 0.0,
        checkpoint_every: epochs,
        ..finetune_recipe(backbone_name, unfreeze)
    };
    let run_dir = tempfile::tempdir().expect("temp dir");
    let outcome = train_finetune(&backbone, &photos, Some(&features), &config, run_dir.path(), None, &never, &mut |_: TrainEvent| {})
        .expect("fine-tuning runs");
    let TrainOutcome::Finished { history, .. } = outcome else { panic!("not cancelled") };
    let mut later: Vec<f64> = history.iter().skip(1).map(|r| r.duration_secs * 1000.0).collect();
    let ours = median(&mut later);
    println!(
        "EfficientNet-Lite0 fine-tuning, {} flowers17 photos at 224, batch {}, unfreeze {unfreeze}, {threads} threads: epochs {:?} ms",
        photos.images.len(),
        config.batch_size,
        history.iter().map(|r| (r.duration_secs * 1000.0).round()).collect::<Vec<_>>()
    );
    let Some(python) = value("--python") else {
        println!(
            "RESULT efficientnet-lite0 fine-tune epoch of {} photos: rust {ours:.0} ms (no --python: no PyTorch peer)",
            photos.images.len()
        );
        return;
    };

    // Epoch 2's batches exactly as our run trained on them.
    let train: Vec<usize> = (0..photos.images.len()).collect();
    let (mut pixels, mut labels, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    for (number, batch) in epoch_batches(&train, &config, 2).iter().enumerate() {
        let (p, l) = training_batch(&photos, batch, &config, 2, number).expect("batch");
        pixels.extend(p);
        sizes.push(l.len().to_string());
        labels.extend(l);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (pixel_file, label_file) = (dir.path().join("pixels.f32"), dir.path().join("labels.i64"));
    std::fs::write(&pixel_file, pixels.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).expect("write pixels");
    std::fs::write(&label_file, labels.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).expect("write labels");
    drop(pixels);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/finetune_epoch.py");
    let output = Command::new(python)
        .arg(&script)
        .args(["--batches", &pixel_file.display().to_string(), "--labels", &label_file.display().to_string()])
        .args(["--sizes", &sizes.join(","), "--weights", &backbone.path.display().to_string()])
        .args(["--classes", &photos.class_names.len().to_string(), "--unfreeze", &unfreeze.to_string()])
        .args(["--repeats", &(epochs - 1).to_string(), "--threads", &threads.to_string()])
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&output.stdout);
    print!("{text}");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let peer = |label: &str| -> f64 {
        text.lines().find_map(|l| l.strip_prefix(label)).and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("no {label} line"))
    };
    let (default, channels_last) = (peer("pytorch-default-ms "), peer("pytorch-channels-last-ms "));
    let bf16 = peer("pytorch-channels-last-bf16-ms ");
    println!(
        "RESULT efficientnet-lite0 fine-tune epoch of {} photos (batch {}, unfreeze {unfreeze}, {threads} threads): rust {ours:.0} ms; pytorch default {default:.0} ms (rust/pytorch time ratio {:.3}); pytorch channels-last {channels_last:.0} ms (ratio {:.3}); pytorch channels-last bf16 autocast {bf16:.0} ms (ratio {:.3})",
        photos.images.len(),
        config.batch_size,
        ours / default,
        ours / channels_last,
        ours / bf16
    );
}

/// The first `per_class` photos of each class of `full`.
fn first_of_each_class(full: Dataset, per_class: usize) -> Dataset {
    let mut taken = vec![0usize; full.class_names.len()];
    let keep: Vec<usize> = (0..full.labels.len())
        .filter(|&i| {
            taken[full.labels[i]] += 1;
            taken[full.labels[i]] <= per_class
        })
        .collect();
    Dataset {
        images: keep.iter().map(|&i| full.images[i].clone()).collect(),
        labels: keep.iter().map(|&i| full.labels[i]).collect(),
        paths: keep.iter().map(|&i| full.paths[i].clone()).collect(),
        ..full
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
