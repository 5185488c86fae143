//! Explanations, feature visualisation and atlases in mixed bfloat16 precision, against float32
//! as the reference. The precision is the process's, so every test holds one lock while it
//! switches; each states its tolerance. On a CPU without bfloat16, "bf16" stays float32 and the
//! maps must be identical.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};

use activation_atlas::engine::attribution::{
    AttributionMethod, AttributionSettings, attribute, attribute_at, ig_baseline, integrated_gradients,
};
use activation_atlas::engine::explain::{VisConfig, VisObjective, image_batch, objective_of_picture, visualize};
use activation_atlas::engine::network::Network;
use activation_atlas::engine::precision::{Bf16Support, Precision, cpu_bf16_support, set_precision};
use tch::{Device, Kind};

static PRECISION: Mutex<()> = Mutex::new(());

/// Runs `work` in float32 and then in bfloat16, the lock held throughout.
fn both<R>(mut work: impl FnMut() -> R) -> (R, R) {
    let _guard: MutexGuard<()> = PRECISION.lock().unwrap_or_else(|e| e.into_inner());
    set_precision(Precision::Fp32);
    let float32 = work();
    set_precision(Precision::Bf16);
    let bfloat16 = work();
    set_precision(Precision::Fp32);
    (float32, bfloat16)
}

fn has_bf16() -> bool {
    cpu_bf16_support() != Bf16Support::None
}

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

/// Pearson correlation of two maps.
fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let mean = |x: &[f32]| x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(1e-30)
}

fn mean_abs_difference(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| f64::from((x - y).abs())).sum::<f64>() / a.len() as f64
}

/// Per method, on the paper's network: the least correlation of its 100 x 100 heat map with
/// float32's, and the largest mean absolute difference (heat maps are in [0, 1]). Measured on
/// three photos: the class activation maps, Score-CAM and occlusion correlate ≥ 0.9999 and move
/// ≤ 0.0023; SmoothGrad ≥ 0.999 / 0.007 (its noise averages rounding out); the input gradients
/// of a ReLU network are piecewise constant and bfloat16 moves some pixels across a kink, so
/// saliency, Integrated Gradients and guided backprop correlate 0.976–0.993 and move ≤ 0.022.
/// The bounds leave room for other photos.
fn tolerance(method: AttributionMethod) -> (f64, f64) {
    match method {
        AttributionMethod::GradCam
        | AttributionMethod::GradCamPlusPlus
        | AttributionMethod::LayerCam
        | AttributionMethod::HiResCam
        | AttributionMethod::ScoreCam
        | AttributionMethod::Occlusion => (0.995, 0.01),
        AttributionMethod::SmoothGrad => (0.99, 0.02),
        AttributionMethod::IntegratedGradients
        | AttributionMethod::Saliency
        | AttributionMethod::GuidedBackprop
        | AttributionMethod::GuidedGradCam => (0.95, 0.04),
        AttributionMethod::Random | AttributionMethod::Sobel => (1.0, 0.0),
    }
}

/// Whether `b` is within `(least correlation, most mean |difference|)` of `a`. A map with no
/// variation (occlusion finding no drop: all zero) has no correlation; it must equal the other
/// within the difference bound.
fn close(a: &[f32], b: &[f32], (least_correlation, most_difference): (f64, f64)) -> Result<(), String> {
    let (r, d) = (correlation(a, b), mean_abs_difference(a, b));
    let flat = |x: &[f32]| x.iter().all(|&v| v == x[0]);
    let correlated = if flat(a) || flat(b) { flat(a) && flat(b) } else { r >= least_correlation };
    if correlated && d <= most_difference { Ok(()) } else { Err(format!("correlation {r:.4}, mean |difference| {d:.4}")) }
}

#[test]
fn every_attribution_method_of_the_paper_network_keeps_its_map_in_bfloat16() {
    let net = common::shipped_net(false);
    let photos: Vec<_> = ["sunflower", "daisy", "tulip"].iter().map(|class| common::flowers17_input(class)).collect();
    let settings = AttributionSettings::default();
    for method in AttributionMethod::ALL {
        let (float32, bfloat16) = both(|| {
            photos
                .iter()
                .map(|photo| attribute(&net, photo, method, 13, &settings, &mut |_, _| {}, &never()).unwrap().heat.values)
                .collect::<Vec<_>>()
        });
        for (index, (a, b)) in float32.iter().zip(&bfloat16).enumerate() {
            println!("{method:?} photo {index}: correlation {:.4}, mean |difference| {:.4}", correlation(a, b), mean_abs_difference(a, b));
            if !has_bf16() || matches!(method, AttributionMethod::Random | AttributionMethod::Sobel) {
                // Maps that never touch the network, and every map on a CPU without bfloat16.
                assert_eq!(a, b, "{method:?} changed where nothing computes in bfloat16");
                continue;
            }
            if let Err(how) = close(a, b, tolerance(method)) {
                panic!("{method:?}, photo {index}: {how} against float32's map");
            }
        }
        if has_bf16() && method == AttributionMethod::GradCam {
            // It did compute in bfloat16: the maps are close, not equal.
            assert_ne!(float32, bfloat16, "Grad-CAM gave bit-identical maps: bfloat16 was not used");
        }
    }
}

#[test]
fn integrated_gradients_stay_complete_in_bfloat16() {
    // Completeness, Σ attributions = y_c(x) − y_c(x′), the gradients summed in float32 over 512
    // steps (so the Riemann sum's own error stays well under 1%). The logit difference is
    // float32's in both cases: a bfloat16 logit is rounded to 1/64 at these sizes, too coarse to
    // be the reference.
    let net = common::shipped_net(false);
    let results = both(|| {
        let mut errors = Vec::new();
        for (name, class) in [("sunflower", 13usize), ("daisy", 6), ("tulip", 15)] {
            let batch = image_batch(&net, &common::flowers17_input(name));
            let baseline = ig_baseline(&batch, activation_atlas::engine::attribution::IgBaseline::Black, 0);
            let attribution = integrated_gradients(&net, &batch, &baseline, class, 512, &mut |_, _| {}, &never()).unwrap();
            assert_eq!(attribution.kind(), Kind::Float, "attributions are accumulated in float32");
            let total = attribution.sum(Kind::Double).double_value(&[]);
            let logit = |x: &tch::Tensor| tch::no_grad(|| net.forward(x, false).double_value(&[0, class as i64]));
            let expected = logit(&batch) - logit(&baseline);
            errors.push((name, total, expected, (total - expected).abs() / expected.abs()));
        }
        errors
    });
    for (precision, errors) in [("float32", results.0), ("bfloat16", results.1)] {
        for (name, total, expected, relative) in errors {
            println!("{precision} {name}: Σ attributions {total:.4}, logit difference {expected:.4}, relative error {relative:.5}");
            assert!(relative <= 0.01, "{precision}, {name}: attributions sum to {total}, the logit difference is {expected}");
        }
    }
}

#[test]
fn the_shipped_efficientnet_explains_alike_in_bfloat16() {
    let Some(path) = activation_atlas::resources::shipped_transfer_model() else { panic!("the shipped EfficientNet-Lite0") };
    let model = activation_atlas::engine::network::import::load_network(&path, Device::Cpu).expect("loads");
    let net: &dyn Network = model.net.as_ref();
    let layer = net.spec().layer_index("block10").expect("Lite0 has block10");
    let side = net.spec().input_size as u32;
    let photo = image::imageops::resize(
        &image::open(common::flowers17_photo("sunflower")).unwrap().to_rgb8(),
        side,
        side,
        image::imageops::FilterType::Triangle,
    );
    let settings = AttributionSettings { ig_steps: 32, ..AttributionSettings::default() };
    // Sixteen blocks with batch norm round more than four convolutions: Grad-CAM measured 0.980
    // / 0.033 here, guided backprop 0.986 / 0.012. Integrated Gradients stays float32 on deep
    // networks (their bfloat16 gradients' errors add up along the path): the same map.
    let deep = |method| match method {
        AttributionMethod::IntegratedGradients => (1.0, 0.0),
        _ => (0.95, 0.06),
    };
    let mut failures = Vec::new();
    for method in [AttributionMethod::GradCam, AttributionMethod::IntegratedGradients, AttributionMethod::GuidedBackprop] {
        let (a, b) = both(|| attribute_at(net, &photo, method, 13, layer, &settings, &mut |_, _| {}, &never()).unwrap().heat.values);
        println!("Lite0 {method:?}: correlation {:.4}, mean |difference| {:.4}", correlation(&a, &b), mean_abs_difference(&a, &b));
        if !has_bf16() {
            assert_eq!(a, b);
            continue;
        }
        if let Err(how) = close(&a, &b, deep(method)) {
            failures.push(format!("Lite0 {method:?}: {how}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn feature_visualisation_reaches_as_high_an_objective_in_bfloat16() {
    let net = common::shipped_net(false);
    let config = VisConfig { steps: 96, ..VisConfig::default() };
    let objective = VisObjective::Class(13);
    let (float32, bfloat16) = both(|| {
        let (picture, history) = visualize(&net, objective, &config, 0, &mut |_, _, _| true);
        // Scored in float32 in both cases, so the two pictures are compared on one scale.
        set_precision(Precision::Fp32);
        (objective_of_picture(&net, &picture, objective), history)
    });
    println!("sunflower logit of the visualisation: float32 {:.3}, bfloat16 {:.3}", float32.0, bfloat16.0);
    let start = bfloat16.1[0];
    assert!(bfloat16.0 > start + 1.0, "bfloat16 ascent did not climb: {start} -> {}", bfloat16.0);
    assert!(bfloat16.0 >= 0.8 * float32.0, "bfloat16 reached {} against float32's {}", bfloat16.0, float32.0);
}

#[test]
fn an_atlas_built_in_bfloat16_collects_the_same_vectors_and_its_icons_show_their_cells() {
    use activation_atlas::engine::atlas::{AtlasParams, build_atlas};
    let subset = common::flowers17_every_class(2);
    let dataset = activation_atlas::engine::data::load_dataset(subset.path(), None, &|_, _| {}, &never()).unwrap();
    let checkpoint = activation_atlas::engine::checkpoint::load_checkpoint(
        &activation_atlas::resources::shipped_model().expect("the shipped model"),
        Device::Cpu,
    )
    .unwrap();
    let params = AtlasParams { grid_levels: vec![5, 10], icon_levels: vec![5], min_count: 4, ..AtlasParams::default() };
    let (float32, bfloat16) = both(|| build_atlas(&checkpoint, &dataset, &params, &mut |_| {}, &never()).unwrap());
    let (a, b) = (&float32.collected, &bfloat16.collected);
    assert_eq!((a.image.clone(), a.position.clone()), (b.image.clone(), b.position.clone()), "the same positions are sampled");
    // Vectors: relative L2 error over the whole table; attributions: correlation.
    let norm = |x: &[f32]| x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
    let difference: Vec<f32> = a.vectors.iter().zip(b.vectors.iter()).map(|(x, y)| x - y).collect();
    let relative = norm(&difference) / norm(&a.vectors);
    let attribution_r = correlation(&a.attribution, &b.attribution);
    println!("atlas vectors: relative L2 error {relative:.5}; attribution correlation {attribution_r:.5}");
    if !has_bf16() {
        assert_eq!(&a.vectors[..], &b.vectors[..]);
        return;
    }
    assert!(relative > 0.0 && relative <= 0.02, "vectors moved by {relative} of their norm");
    assert!(attribution_r >= 0.99, "attributions correlate {attribution_r} with float32's");
    // Icons rendered in bfloat16 show their cells as float32's do (tests/atlas.rs: cosine ≥ 0.7).
    let icons = bfloat16.icons_of(5).expect("icons at 5");
    let worst = icons.fidelity.iter().map(|f| f.cosine).fold(f32::INFINITY, f32::min);
    let mean = |icons: &activation_atlas::engine::atlas::build::LevelIcons| {
        icons.fidelity.iter().map(|f| f.cosine).sum::<f32>() / icons.fidelity.len().max(1) as f32
    };
    println!("icons: bfloat16 worst cosine {worst:.3}, mean {:.3}; float32 mean {:.3}", mean(icons), mean(float32.icons_of(5).unwrap()));
    assert!(!icons.fidelity.is_empty() && worst >= 0.7, "bfloat16 icon/direction cosines: {:?}", icons.fidelity);
}
