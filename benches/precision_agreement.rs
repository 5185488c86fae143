//! Mixed bfloat16 against float32 on every flowers17 photo: for each shipped model, the top-1
//! answers of both precisions (how many agree), the largest difference of any class probability,
//! the accuracy of each, and the time of each pass (one view a photo, batches of 64, 2 threads).
//!
//! cargo bench --bench precision_agreement

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use activation_atlas::engine::classify::classify_images;
use activation_atlas::engine::data::{cache_dir, load_dataset_sized};
use activation_atlas::engine::network::import::load_network;
use activation_atlas::engine::precision::{Bf16Support, Precision, cpu_bf16_support, set_precision};
use activation_atlas::resources::{flowers17_dir, shipped_model, shipped_transfer_model};

fn main() {
    activation_atlas::engine::memory::keep_freed_tensor_memory();
    tch::set_num_threads(2);
    if cpu_bf16_support() == Bf16Support::None {
        println!("RESULT precision agreement: n/a (this CPU has no bfloat16 instructions)");
        return;
    }
    for path in [shipped_model(), shipped_transfer_model()].into_iter().flatten() {
        let loaded = load_network(&path, tch::Device::Cpu).expect("the shipped model loads");
        let net = loaded.net.as_ref();
        let side = net.spec().input_size;
        let data = load_dataset_sized(&flowers17_dir(), Some(&cache_dir()), side, &|_, _| {}, &AtomicBool::new(false)).expect("flowers17");
        let mut runs = Vec::new();
        for precision in [Precision::Fp32, Precision::Bf16] {
            set_precision(precision);
            // Warm: the first batch pays for oneDNN's kernel selection.
            let _ = classify_images(net, &data.images[..64]);
            let started = Instant::now();
            let predictions = classify_images(net, &data.images);
            runs.push((predictions, started.elapsed().as_secs_f64()));
        }
        let (float32, bfloat16) = (&runs[0].0, &runs[1].0);
        let agree = float32.iter().zip(bfloat16).filter(|(a, b)| a.best().0 == b.best().0).count();
        let largest = float32
            .iter()
            .zip(bfloat16)
            .flat_map(|(a, b)| a.probabilities.iter().zip(&b.probabilities).map(|(x, y)| (x - y).abs()))
            .fold(0.0f32, f32::max);
        let accuracy = |predictions: &[activation_atlas::engine::classify::Prediction]| {
            predictions.iter().zip(&data.labels).filter(|(p, label)| p.best().0 == **label).count() as f64 / data.len() as f64
        };
        println!(
            "RESULT precision {} ({}): {} photos, top-1 agreement {agree}/{} ({:.2}%), max probability difference {largest:.4}; accuracy fp32 {:.4} bf16 {:.4}; classify time fp32 {:.2} s bf16 {:.2} s",
            loaded.meta.architecture,
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            data.len(),
            data.len(),
            100.0 * agree as f64 / data.len() as f64,
            accuracy(float32),
            accuracy(bfloat16),
            runs[0].1,
            runs[1].1
        );
    }
}
