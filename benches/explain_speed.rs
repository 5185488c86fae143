//! Time per photo of the attribution methods and of the faithfulness panel, with the shipped
//! model on CPU, over the first 3 photos of each flowers17 class (51 photos), after one warm-up
//! photo, in float32 and then in mixed bfloat16 (where the CPU has it). Prints one RESULT line
//! per method and precision (median and 90th percentile, milliseconds).
//!
//! cargo bench --bench explain_speed [-- fp32|bf16]

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use activation_atlas::engine::attribution::{AttributionMethod, AttributionSettings, attribute};
use activation_atlas::engine::checkpoint::load_checkpoint;
use activation_atlas::engine::faithfulness::faithfulness_report;
use activation_atlas::engine::image_input::load_network_image;
use activation_atlas::engine::precision::{Computation, Precision, set_precision};
use activation_atlas::resources::{flowers17_dir, shipped_model};

fn photos() -> Vec<image::RgbImage> {
    let mut classes: Vec<_> = std::fs::read_dir(flowers17_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    classes.sort();
    let mut photos = Vec::new();
    for class in classes {
        let mut files: Vec<_> = std::fs::read_dir(class).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        photos.extend(files.into_iter().take(3).map(|path| load_network_image(&path).unwrap()));
    }
    photos
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    activation_atlas::engine::memory::keep_freed_tensor_memory(); // as the app does at start-up
    let checkpoint = load_checkpoint(&shipped_model().expect("the shipped model"), tch::Device::Cpu).unwrap();
    let net = &checkpoint.net;
    let photos = photos();
    let settings = AttributionSettings::default();
    let never = AtomicBool::new(false);
    println!("{} photos, libtorch threads {}", photos.len(), tch::get_num_threads());
    let only = std::env::args().skip(1).find_map(|a| Precision::from_name(&a));
    for precision in [Precision::Fp32, Precision::Bf16] {
        if only.is_some_and(|o| o != precision) {
            continue;
        }
        if precision == Precision::Bf16 && set_precision(precision) != Computation::Mixed {
            println!("this CPU has no bfloat16 instructions: float32 only");
            continue;
        }
        set_precision(precision);
        run_methods(net, &photos, &settings, &never, precision.name());
    }
}

fn run_methods(
    net: &activation_atlas::engine::model::Net,
    photos: &[image::RgbImage],
    settings: &AttributionSettings,
    never: &AtomicBool,
    precision: &str,
) {
    let methods = [
        AttributionMethod::GradCam,
        AttributionMethod::GradCamPlusPlus,
        AttributionMethod::LayerCam,
        AttributionMethod::HiResCam,
        AttributionMethod::ScoreCam,
        AttributionMethod::Saliency,
        AttributionMethod::IntegratedGradients,
        AttributionMethod::GuidedBackprop,
        AttributionMethod::GuidedGradCam,
    ];
    let settings = *settings;
    let time = |name: &str, run: &mut dyn FnMut(&image::RgbImage)| {
        run(&photos[0]); // warm-up: libtorch's first calls allocate and pick kernels
        let mut times: Vec<f64> = photos
            .iter()
            .map(|photo| {
                let started = Instant::now();
                run(photo);
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("RESULT explain-speed {precision} {name} median_ms {:.1} p90_ms {:.1}", percentile(&times, 0.5), percentile(&times, 0.9));
    };
    for method in methods {
        let layers: &[_] = if method == AttributionMethod::LayerCam {
            &[activation_atlas::engine::model::Layer::CONV4, activation_atlas::engine::model::Layer::CONV2]
        } else {
            &[settings.layer]
        };
        for &layer in layers {
            let settings = activation_atlas::engine::attribution::AttributionSettings { layer, ..settings };
            let name = if method.uses_layer() { format!("{}@{layer}", method.cli_name()) } else { method.cli_name().to_string() };
            time(&name, &mut |photo| {
                attribute(net, photo, method, 0, &settings, &mut |_, _| {}, never).unwrap();
            });
        }
    }
    // The panel: a Grad-CAM map, then its faithfulness beside the random and Sobel maps.
    time("faithfulness-panel", &mut |photo| {
        let cam = attribute(net, photo, AttributionMethod::GradCam, 0, &settings, &mut |_, _| {}, never).unwrap();
        faithfulness_report(net, photo, 0, &cam.heat, &settings);
    });
}
