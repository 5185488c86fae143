//! EfficientNet-Lite0 (the shipped ImageNet weights) on 2 cores: a forward pass of a batch of
//! flowers17 photos at 224 x 224, and Grad-CAM per photo, in the Rust engine; and the same
//! forward in PyTorch (the network written with torch.nn in scripts/reference_networks.py, the
//! same weights, photos and threads, warmed up the same way) in its default layout and in
//! channels-last and as frozen TorchScript, when a Python with torch is given. Run through
//! `scripts/bench-network.sh`.
//!
//! cargo bench --bench network_forward -- [--batch N] [--repeats N] [--threads N] [--python PATH]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use activation_atlas::engine::attribution::{AttributionMethod, gradient_cam};
use activation_atlas::engine::image_input::{images_to_tensor_any, load_network_image_sized};
use activation_atlas::engine::network::import::load_network;
use activation_atlas::resources::flowers17_dir;
use tch::Tensor;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let batch: usize = value("--batch").and_then(|v| v.parse().ok()).unwrap_or(64);
    let repeats: usize = value("--repeats").and_then(|v| v.parse().ok()).unwrap_or(7);
    let threads: i32 = value("--threads").and_then(|v| v.parse().ok()).unwrap_or(2);
    activation_atlas::engine::memory::keep_freed_tensor_memory();
    tch::set_num_threads(threads);
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/efficientnet-lite0-imagenet.safetensors");
    let loaded = load_network(&weights, tch::Device::Cpu).expect("the shipped EfficientNet-Lite0 loads");
    let net = loaded.net.as_ref();

    // The first photo of each class in turn, until the batch is full.
    let data = flowers17_dir();
    let mut classes: Vec<_> =
        std::fs::read_dir(&data).expect("flowers17").filter_map(|e| e.ok()).filter(|e| e.path().is_dir()).map(|e| e.path()).collect();
    classes.sort();
    let mut files: Vec<Vec<_>> = classes
        .iter()
        .map(|dir| {
            let mut f: Vec<_> = std::fs::read_dir(dir).expect("class folder").filter_map(|e| e.ok().map(|e| e.path())).collect();
            f.sort();
            f
        })
        .collect();
    let mut photos = Vec::with_capacity(batch);
    'fill: for round in 0.. {
        for class in files.iter_mut() {
            if photos.len() == batch {
                break 'fill;
            }
            photos.push(load_network_image_sized(&class[round], 224).expect("a flowers17 photo"));
        }
    }
    let images = images_to_tensor_any(&photos); // channels-last in memory, as the app makes it
    let contiguous = images.contiguous();
    println!("EfficientNet-Lite0, {batch} flowers17 photos at 224 x 224, {threads} threads, median of {repeats} after 2 warm-up passes");

    let time_forward = |input: &Tensor| {
        let run = || tch::no_grad(|| net.logits(input, false).sum(tch::Kind::Float).double_value(&[]));
        run();
        run();
        let mut times: Vec<f64> = (0..repeats)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        median(&mut times)
    };
    let ours_nchw = time_forward(&contiguous);
    let ours_nhwc = time_forward(&images);
    println!("rust    forward {ours_nchw:.1} ms (NCHW input), {ours_nhwc:.1} ms (channels-last input)");

    let layer = net.spec().layer_index("block10").expect("block10");
    let cam_photos = 8.min(batch);
    let mut cam_times = Vec::new();
    for (index, photo) in photos.iter().take(cam_photos + 1).enumerate() {
        let input = images_to_tensor_any(std::iter::once(photo));
        let start = Instant::now();
        let class = tch::no_grad(|| net.logits(&input, false).argmax(1, false).int64_value(&[0])) as usize;
        let cam = gradient_cam(net, &input, layer, class, AttributionMethod::GradCam);
        assert_eq!(cam.width, 14);
        if index > 0 {
            cam_times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let cam_ms = median(&mut cam_times);
    println!("rust    Grad-CAM at block10 {cam_ms:.1} ms per photo (its class found first; median of {cam_photos})");

    let ours = ours_nchw.min(ours_nhwc);
    architecture_costs(&photos, threads);
    let Some(python) = value("--python") else {
        println!(
            "RESULT efficientnet-lite0 forward of {batch} at 224: rust {ours:.1} ms; grad-cam {cam_ms:.1} ms per photo (no --python: no PyTorch peer)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let raw = dir.path().join("photos.u8");
    std::fs::write(&raw, photos.iter().flat_map(|p| p.as_raw().iter().copied()).collect::<Vec<u8>>()).expect("write photos");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/network_forward.py");
    let output = Command::new(python)
        .arg(&script)
        .args(["--photos", &raw.display().to_string(), "--weights", &weights.display().to_string()])
        .args(["--batch", &batch.to_string(), "--repeats", &repeats.to_string(), "--threads", &threads.to_string()])
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&output.stdout);
    print!("{text}");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let peer = |label: &str| -> f64 {
        text.lines().find_map(|l| l.strip_prefix(label)).and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("no {label} line"))
    };
    let (default, channels_last) = (peer("pytorch-default-ms"), peer("pytorch-channels-last-ms"));
    let frozen = peer("pytorch-torchscript-frozen-ms");
    println!(
        "RESULT efficientnet-lite0 forward of {batch} at 224, {threads} threads: rust {ours:.1} ms; pytorch default {default:.1} ms (rust/pytorch time ratio {:.3}); pytorch channels-last {channels_last:.1} ms (ratio {:.3}); pytorch torchscript frozen {frozen:.1} ms (ratio {:.3}); rust grad-cam {cam_ms:.1} ms per photo",
        ours / default,
        ours / channels_last,
        ours / frozen
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// What each importable architecture costs on this machine: parameters (the checkpoint is 4
/// bytes each), classifying a photo in a batch of 16, and a Grad-CAM at its last grid layer.
/// Timing does not depend on the weights' values, so ResNets are timed freshly initialised.
fn architecture_costs(photos: &[image::RgbImage], threads: i32) {
    use activation_atlas::engine::network::{Architecture, build_network};
    let batch = images_to_tensor_any(photos.iter().take(16));
    let count = batch.size()[0] as f64;
    for arch in Architecture::IMPORTABLE {
        let net = build_network(arch, 1000, tch::Device::Cpu).expect("importable");
        let parameters: i64 = net.var_store().variables().values().map(|t| t.numel() as i64).sum();
        let run = || tch::no_grad(|| net.logits(&batch, false).sum(tch::Kind::Float).double_value(&[]));
        run();
        let mut times: Vec<f64> = (0..3)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed().as_secs_f64() * 1000.0 / count
            })
            .collect();
        let per_photo = median(&mut times);
        let layer = net.spec().spatial_layers().len() - 1;
        let one = images_to_tensor_any(photos.iter().take(1));
        gradient_cam(net.as_ref(), &one, layer, 0, AttributionMethod::GradCam);
        let mut cams: Vec<f64> = (0..3)
            .map(|_| {
                let start = Instant::now();
                gradient_cam(net.as_ref(), &one, layer, 0, AttributionMethod::GradCam);
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        println!(
            "RESULT cost {}: {:.1} M parameters ({:.0} MB checkpoint); classify {per_photo:.1} ms per photo in batches of 16; grad-cam {:.1} ms ({threads} threads)",
            arch.name(),
            parameters as f64 / 1e6,
            parameters as f64 * 4.0 / 1e6,
            median(&mut cams)
        );
    }
}
