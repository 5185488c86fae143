//! The attribution methods, their faithfulness and the sanity check, each against a computation
//! made independently of the engine's code: Integrated Gradients' completeness, Grad-CAM++ and
//! LayerCAM from a gradient worked out by hand, an oracle map on a task whose evidence is known,
//! and randomised weights.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use activation_atlas::engine::attribution::{
    AttributionMethod, AttributionSettings, IgBaseline, attribute, ig_baseline, integrated_gradients,
};
use activation_atlas::engine::checkpoint::load_checkpoint;
use activation_atlas::engine::data::load_dataset;
use activation_atlas::engine::explain::image_batch;
use activation_atlas::engine::faithfulness::{
    FaithfulnessInput, RANDOMISATION_ORDER, faithfulness, faithfulness_report, sanity_check, spearman, ssim,
};
use activation_atlas::engine::model::{Layer, Net};
use activation_atlas::engine::render::Map2d;
use activation_atlas::engine::train::{TrainConfig, TrainOutcome, train};
use image::RgbImage;
use tch::{Device, Kind, Tensor};

fn shipped(double: bool) -> Net {
    common::shipped_net(double)
}

fn photo(class: &str) -> RgbImage {
    common::flowers17_input(class)
}

fn values(tensor: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(tensor.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

fn run(net: &Net, image: &RgbImage, method: AttributionMethod, class: usize, settings: &AttributionSettings) -> Vec<f32> {
    attribute(net, image, method, class, settings, &mut |_, _| {}, &never()).unwrap().raw.values
}

#[test]
fn integrated_gradients_are_complete() {
    // Completeness: the attributions sum to y_c(x) − y_c(x′).
    let net = shipped(true);
    for (name, class) in [("sunflower", 13usize), ("daisy", 6)] {
        let image = photo(name);
        let batch = image_batch(&net, &image);
        for kind in [IgBaseline::Black, IgBaseline::Blurred] {
            let baseline = ig_baseline(&batch, kind, 0);
            let attribution = integrated_gradients(&net, &batch, &baseline, class, 256, &mut |_, _| {}, &never()).unwrap();
            let total: f64 = values(&attribution).iter().sum();
            let logit = |x: &Tensor| tch::no_grad(|| net.forward(x, false).double_value(&[0, class as i64]));
            let expected = logit(&batch) - logit(&baseline);
            assert!(
                (total - expected).abs() <= 0.01 * expected.abs(),
                "{name}, {kind:?}: attributions sum to {total}, the logit difference is {expected}"
            );
        }
    }
    // The engine entry with its default 64 steps gives the [3, 100, 100] attribution.
    let attribution = attribute(
        &shipped(false),
        &photo("sunflower"),
        AttributionMethod::IntegratedGradients,
        13,
        &AttributionSettings::default(),
        &mut |_, _| {},
        &never(),
    )
    .unwrap();
    assert_eq!(attribution.raw.shape, [3, 100, 100]);
}

/// ∂ logit_class / ∂ conv4 by hand: the fc part is piecewise linear, so the gradient is
/// W1ᵀ(m1 ⊙ W2ᵀ(m2 ⊙ W3[class])) with m1, m2 the active-unit masks. Returns (A, G), 128 x 36 each.
fn conv4_activation_and_gradient_by_hand(net: &Net, image: &RgbImage, class: usize) -> (Vec<f64>, Vec<f64>) {
    let vars = net.vs.variables();
    let w = |name: &str| values(&vars[name].detach());
    let batch = image_batch(net, image);
    let acts = tch::no_grad(|| net.forward_all(&batch, false));
    let a4 = values(&acts.get(Layer::CONV4).get(0));
    let mask = |layer| -> Vec<f64> { values(&acts.get(layer).get(0)).iter().map(|&v| f64::from(u8::from(v > 0.0))).collect() };
    let (m1, m2) = (mask(Layer::FC1), mask(Layer::FC2));
    let (w1, w2, w3) = (w("fc1.weight"), w("fc2.weight"), w("fc3.weight"));
    let g3: Vec<f64> = (0..512).map(|j| w3[class * 512 + j] * m2[j]).collect();
    let g2: Vec<f64> = (0..1024).map(|i| (0..512).map(|j| w2[j * 1024 + i] * g3[j]).sum::<f64>() * m1[i]).collect();
    let g1: Vec<f64> = (0..4608).map(|k| (0..1024).map(|i| w1[i * 4608 + k] * g2[i]).sum::<f64>()).collect();
    (a4, g1)
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-9);
    for (p, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((f64::from(g) - w).abs() <= 1e-6 * scale, "{what} at {p}: {g} vs {w}");
    }
    assert!(want.iter().any(|&w| w > 0.0), "{what}: the hand-computed map is empty, the test shows nothing");
}

#[test]
fn grad_cam_plus_plus_and_layer_cam_match_their_formulas() {
    let net = shipped(true);
    let settings = AttributionSettings { layer: Layer::CONV4, ..AttributionSettings::default() };
    for (name, class) in [("daisy", 6usize), ("sunflower", 13)] {
        let image = photo(name);
        let (a, g) = conv4_activation_and_gradient_by_hand(&net, &image, class);
        // LayerCAM: ReLU(Σ_k ReLU(G_k) A_k), position by position.
        let layer_cam: Vec<f64> = (0..36).map(|p| (0..128).map(|k| g[k * 36 + p].max(0.0) * a[k * 36 + p]).sum::<f64>().max(0.0)).collect();
        assert_close(&run(&net, &image, AttributionMethod::LayerCam, class, &settings), &layer_cam, "LayerCAM");
        // Grad-CAM++ (exponential score): a_ij = G² / (2G² + Σ_ab A_ab G³), α_k = Σ_ij a_ij ReLU(G_ij).
        let mut plus_plus = vec![0.0f64; 36];
        for k in 0..128 {
            let sum_a: f64 = a[k * 36..(k + 1) * 36].iter().sum();
            let alpha: f64 = (0..36)
                .map(|p| {
                    let gp = g[k * 36 + p];
                    let denominator = 2.0 * gp * gp + sum_a * gp * gp * gp;
                    if denominator == 0.0 { 0.0 } else { gp * gp / denominator * gp.max(0.0) }
                })
                .sum();
            for p in 0..36 {
                plus_plus[p] += alpha * a[k * 36 + p];
            }
        }
        let plus_plus: Vec<f64> = plus_plus.into_iter().map(|v| v.max(0.0)).collect();
        assert_close(&run(&net, &image, AttributionMethod::GradCamPlusPlus, class, &settings), &plus_plus, "Grad-CAM++");
        // HiResCAM: ReLU(Σ_k G_k ⊙ A_k).
        let hires: Vec<f64> = (0..36).map(|p| (0..128).map(|k| g[k * 36 + p] * a[k * 36 + p]).sum::<f64>().max(0.0)).collect();
        assert_close(&run(&net, &image, AttributionMethod::HiResCam, class, &settings), &hires, "HiResCAM");
    }
}

#[test]
fn every_method_gives_a_map_of_its_documented_shape() {
    let net = shipped(false);
    let image = photo("tulip");
    let settings = AttributionSettings { smooth_samples: 4, ig_steps: 8, occlusion_stride: 20, ..AttributionSettings::default() };
    for method in AttributionMethod::ALL {
        let attribution = attribute(&net, &image, method, 3, &settings, &mut |_, _| {}, &never()).unwrap();
        let expected: Vec<usize> = match method {
            m if m.uses_layer() && m != AttributionMethod::GuidedGradCam => vec![6, 6],
            AttributionMethod::Saliency
            | AttributionMethod::IntegratedGradients
            | AttributionMethod::GuidedBackprop
            | AttributionMethod::GuidedGradCam => vec![3, 100, 100],
            _ => vec![100, 100],
        };
        assert_eq!(attribution.raw.shape, expected, "{method:?}");
        assert_eq!(attribution.raw.values.len(), expected.iter().product::<usize>(), "{method:?}");
        assert_eq!((attribution.heat.width, attribution.heat.height), (100, 100), "{method:?}");
        assert!(attribution.heat.values.iter().all(|v| (0.0..=1.0).contains(v)), "{method:?}");
        assert!(attribution.raw.values.iter().all(|v| v.is_finite()), "{method:?}");
        assert_eq!(AttributionMethod::from_cli_name(method.cli_name()), Some(method));
    }
    // A class activation map at a shallower layer has that layer's resolution.
    let conv2 = AttributionSettings { layer: Layer::CONV2, ..settings };
    let attribution = attribute(&net, &image, AttributionMethod::LayerCam, 3, &conv2, &mut |_, _| {}, &never()).unwrap();
    assert_eq!(attribution.raw.shape, [25, 25]);
    // …and fc layers are refused.
    let fc = AttributionSettings { layer: Layer::FC1, ..settings };
    assert!(attribute(&net, &image, AttributionMethod::GradCam, 3, &fc, &mut |_, _| {}, &never()).is_err());
}

#[test]
fn score_cam_reports_progress_and_stops_when_cancelled() {
    let net = shipped(false);
    let image = photo("daisy");
    let settings = AttributionSettings::default();
    let mut reports = Vec::new();
    let attribution =
        attribute(&net, &image, AttributionMethod::ScoreCam, 6, &settings, &mut |done, total| reports.push((done, total)), &never())
            .unwrap();
    assert_eq!(reports.last(), Some(&(128, 128)));
    // Batched over the channels that are not constant (a constant one masks everything out and
    // weighs 0 without a pass): progress climbs, counting skipped channels as done.
    assert!(reports.len() >= 2, "batched: {reports:?}");
    assert!(reports.windows(2).all(|w| w[0].0 < w[1].0), "climbing: {reports:?}");
    assert!(!attribution.all_zero);
    let cancel = AtomicBool::new(false);
    let mut calls = 0;
    let result = attribute(
        &net,
        &image,
        AttributionMethod::ScoreCam,
        6,
        &settings,
        &mut |_, _| {
            calls += 1;
            cancel.store(true, Ordering::Relaxed);
        },
        &cancel,
    );
    assert!(result.is_err());
    assert_eq!(calls, 1, "stops at the next batch");
}

/// A striped square (horizontal, vertical or diagonal stripes, 2 px on, 2 px off) somewhere on a
/// flat grey picture, and the square's mask: the only evidence of the class, and one that a blur
/// removes.
fn stripes(class: usize, variant: u64) -> (RgbImage, Map2d) {
    let mut rng = activation_atlas::engine::rng::SeededRng::derive(variant, class as u64);
    let side = 36;
    let (x0, y0) = (rng.below(100 - side), rng.below(100 - side));
    let mut mask = vec![0f32; 100 * 100];
    let image = RgbImage::from_fn(100, 100, |x, y| {
        let (x, y) = (x as usize, y as usize);
        if (x0..x0 + side).contains(&x) && (y0..y0 + side).contains(&y) {
            mask[y * 100 + x] = 1.0;
            let phase = match class {
                0 => y,
                1 => x,
                _ => x + y,
            };
            if phase % 4 < 2 { image::Rgb([230, 230, 230]) } else { image::Rgb([30, 30, 30]) }
        } else {
            image::Rgb([128, 128, 128])
        }
    });
    (image, Map2d { width: 100, height: 100, values: mask })
}

/// A network trained on the stripes task.
fn stripes_model() -> (Net, Vec<(RgbImage, usize, Map2d)>) {
    let data = tempfile::tempdir().unwrap();
    for (class, name) in ["horizontal", "vertical", "diagonal"].iter().enumerate() {
        let dir = data.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for variant in 0..30 {
            stripes(class, variant).0.save(dir.join(format!("{variant:03}.png"))).unwrap();
        }
    }
    let dataset = load_dataset(data.path(), None, &|_, _| {}, &never()).unwrap();
    let run_dir = tempfile::tempdir().unwrap();
    let config = TrainConfig { epochs: 10, batch_size: 16, seed: 3, checkpoint_every: 1, ..TrainConfig::default() };
    let outcome = train(&dataset, &config, run_dir.path(), None, Device::Cpu, &never(), &mut |_| {}).unwrap();
    let TrainOutcome::Finished { best: Some(best), .. } = outcome else { panic!("training did not finish") };
    let net = load_checkpoint(&best, Device::Cpu).unwrap().net;
    // Pictures it has not seen; class indices follow the sorted folder names.
    let names = dataset.class_names.clone();
    let samples = ["horizontal", "vertical", "diagonal"]
        .iter()
        .enumerate()
        .flat_map(|(generator, name)| {
            let class = names.iter().position(|n| n == name).unwrap();
            (1000..1004u64).map(move |variant| (generator, class, variant))
        })
        .map(|(generator, class, variant)| {
            let (image, mask) = stripes(generator, variant);
            (image, class, mask)
        })
        .collect();
    (net, samples)
}

#[test]
fn an_oracle_map_beats_random_on_deletion_and_grad_cam_beats_random_too() {
    let (net, samples) = stripes_model();
    let settings = AttributionSettings::default();
    let (mut oracle, mut random, mut gradcam) = (0.0, 0.0, 0.0);
    for (image, class, truth) in &samples {
        let input = FaithfulnessInput::new(&net, image, *class);
        assert!(input.probability > 0.5, "the network must know the task for the test to mean anything: p = {}", input.probability);
        oracle += faithfulness(&net, &input, truth).deletion_auc;
        let report = faithfulness_report(&net, image, *class, truth, &settings);
        random += report.random.deletion_auc;
        assert_eq!(report.map.deletion.len(), 21);
        assert!((report.map.deletion[0] - report.probability).abs() < 1e-5, "nothing deleted = the picture");
        let cam = attribute(&net, image, AttributionMethod::GradCam, *class, &settings, &mut |_, _| {}, &never()).unwrap();
        gradcam += faithfulness(&net, &input, &cam.heat).deletion_auc;
    }
    let n = samples.len() as f32;
    let (oracle, random, gradcam) = (oracle / n, random / n, gradcam / n);
    assert!(oracle < 0.8 * random, "oracle deletion AUC {oracle}, random {random}");
    assert!(gradcam < random, "Grad-CAM deletion AUC {gradcam}, random {random}");
}

#[test]
fn randomising_the_weights_changes_grad_cam_but_not_the_edge_map() {
    let net = shipped(false);
    let image = photo("sunflower");
    let settings = AttributionSettings::default();
    let mut stages = 0;
    let report = sanity_check(&net, &image, AttributionMethod::GradCam, 13, &settings, &mut |done, _| stages = done, &never()).unwrap();
    assert_eq!(stages, RANDOMISATION_ORDER.len());
    assert_eq!(report.stages.len(), 7);
    assert_eq!(report.stages[0].randomised_down_to, Layer::FC3);
    let last = report.stages.last().unwrap();
    assert!(last.spearman < 0.5, "Grad-CAM still correlates {} with random weights", last.spearman);
    assert!(!report.insensitive);
    let edges = sanity_check(&net, &image, AttributionMethod::Sobel, 13, &settings, &mut |_, _| {}, &never()).unwrap();
    assert!(edges.insensitive, "an edge map does not depend on the weights");
    assert!(edges.stages.iter().all(|s| (s.spearman - 1.0).abs() < 1e-6 && (s.ssim - 1.0).abs() < 1e-6));
    // The trained network's weights are untouched by the check.
    let again = attribute(&net, &image, AttributionMethod::GradCam, 13, &settings, &mut |_, _| {}, &never()).unwrap();
    let before = attribute(&shipped(false), &image, AttributionMethod::GradCam, 13, &settings, &mut |_, _| {}, &never()).unwrap();
    assert_eq!(again.raw, before.raw);
}

#[test]
fn spearman_and_ssim_behave_as_defined() {
    let a: Vec<f32> = (0..100).map(|i| i as f32).collect();
    let squared: Vec<f32> = a.iter().map(|v| v * v).collect();
    let reversed: Vec<f32> = a.iter().rev().copied().collect();
    assert!((spearman(&a, &squared) - 1.0).abs() < 1e-6, "monotone = rank correlation 1");
    assert!((spearman(&a, &reversed) + 1.0).abs() < 1e-6);
    // Ties share their average rank: [1, 1, 2] against [1, 2, 3] gives √3/2.
    assert!((spearman(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]) - 0.75f32.sqrt()).abs() < 1e-6);
    let map = |f: &dyn Fn(usize, usize) -> f32| Map2d { width: 20, height: 20, values: (0..400).map(|i| f(i % 20, i / 20)).collect() };
    let gradient = map(&|x, _| x as f32 / 19.0);
    assert!((ssim(&gradient, &gradient) - 1.0).abs() < 1e-6);
    let inverted = map(&|x, _| 1.0 - x as f32 / 19.0);
    assert!(ssim(&gradient, &inverted) < 0.0, "anti-correlated windows");
}
