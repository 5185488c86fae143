//! Attribution methods on a network small enough to compute by hand: two "feature maps" that
//! are the picture's red and green channels, and a logit that is twice the mean of the picture.
//! Score-CAM's map and the faithfulness numbers are worked out here with plain arithmetic.

use std::sync::atomic::AtomicBool;

use activation_atlas::engine::attribution::{AttributionMethod, AttributionSettings, attribute_at};
use activation_atlas::engine::faithfulness::{FaithfulnessInput, faithfulness};
use activation_atlas::engine::network::{Architecture, LayerKind, LayerSpec, Network, NetworkSpec, Normalisation};
use activation_atlas::engine::render::Map2d;
use image::{Rgb, RgbImage};
use tch::{Kind, Tensor, nn};

// Wider than the 15-pixel reach of the faithfulness blur, whose padding reflects inside the picture.
const SIDE: u32 = 32;

/// Layer 0: the red and green channels as a 2-channel grid. Layer 1: logits [2 * mean of the
/// whole picture's pixels, 0] (the mean over the picture, not the grid, so masking by a channel
/// changes it as hand arithmetic says).
struct Tiny {
    vs: nn::VarStore,
    spec: NetworkSpec,
}

impl Tiny {
    fn new() -> Tiny {
        let layers = vec![
            LayerSpec {
                name: "grid".into(),
                kind: LayerKind::Spatial,
                shape: vec![2, SIDE as i64, SIDE as i64],
                stride: 1,
                receptive_field: 1,
            },
            LayerSpec { name: "logits".into(), kind: LayerKind::Logits, shape: vec![2], stride: 0, receptive_field: 0 },
        ];
        let spec = NetworkSpec {
            architecture: Architecture::ResNet18, // any: only the layers are read
            input_size: SIDE as i64,
            normalisation: Normalisation::IDENTITY,
            layers,
        };
        Tiny { vs: nn::VarStore::new(tch::Device::Cpu), spec }
    }
}

impl Network for Tiny {
    fn spec(&self) -> &NetworkSpec {
        &self.spec
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn layer_parameters(&self, _layer: usize) -> i64 {
        0
    }
    fn stage(&self, index: usize, input: &Tensor, _train: bool) -> Tensor {
        match index {
            // Keeps the whole picture along: channels 0-1 are the grid, all three feed the logit.
            0 => input.shallow_clone(),
            _ => {
                let mean = input.mean_dim(&[1i64, 2, 3][..], false, Kind::Float) * 2.0;
                Tensor::stack(&[mean.shallow_clone(), mean.zeros_like()], 1)
            }
        }
    }
}

fn picture() -> RgbImage {
    RgbImage::from_fn(SIDE, SIDE, |x, y| Rgb([(x * 7 + 10) as u8, (y * 6 + 20) as u8, ((x + y) * 4) as u8]))
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

#[test]
fn score_cam_equals_the_hand_computed_map() {
    let net = Tiny::new();
    let photo = picture();
    let never = AtomicBool::new(false);
    // The grid layer is the picture itself with three channels; Score-CAM weighs each.
    let map = attribute_at(&net, &photo, AttributionMethod::ScoreCam, 0, 0, &AttributionSettings::default(), &mut |_, _| {}, &never)
        .expect("a map");
    let pixel = |x: u32, y: u32, c: usize| f64::from(photo.get_pixel(x, y)[c]) / 255.0;
    let n = f64::from(SIDE * SIDE * 3);
    // p(masked by channel k) - p(black); p = softmax([2 mean, 0])[0] = sigmoid(2 mean).
    let baseline = sigmoid(0.0);
    let weights: Vec<f64> = (0..3)
        .map(|k| {
            let values: Vec<f64> = (0..SIDE).flat_map(|y| (0..SIDE).map(move |x| (x, y))).map(|(x, y)| pixel(x, y, k)).collect();
            let (low, high) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
            let mut total = 0.0;
            for y in 0..SIDE {
                for x in 0..SIDE {
                    let mask = (pixel(x, y, k) - low) / (high - low);
                    total += (0..3).map(|c| pixel(x, y, c) * mask).sum::<f64>();
                }
            }
            sigmoid(2.0 * total / n) - baseline
        })
        .collect();
    for y in 0..SIDE {
        for x in 0..SIDE {
            let expected = (0..3).map(|k| weights[k] * pixel(x, y, k)).sum::<f64>().max(0.0);
            let got = f64::from(map.raw.values[(y * SIDE + x) as usize]);
            assert!((got - expected).abs() < 1e-5, "({x}, {y}): {got} vs {expected}");
        }
    }
}

#[test]
fn average_drop_and_increase_follow_their_definitions() {
    let net = Tiny::new();
    let photo = picture();
    let input = FaithfulnessInput::new(&net, &photo, 0);
    let pixel = |x: u32, y: u32, c: usize| f64::from(photo.get_pixel(x, y)[c]) / 255.0;
    let n = f64::from(SIDE * SIDE * 3);
    let mean: f64 =
        (0..SIDE).flat_map(|y| (0..SIDE).map(move |x| (x, y))).map(|(x, y)| (0..3).map(|c| pixel(x, y, c)).sum::<f64>()).sum::<f64>() / n;
    assert!((f64::from(input.probability) - sigmoid(2.0 * mean)).abs() < 1e-6);
    // A map of 1 on the left half, 0.5 on the right: the picture times it has a smaller mean.
    let heat = Map2d {
        width: SIDE as usize,
        height: SIDE as usize,
        values: (0..SIDE * SIDE).map(|i| if i % SIDE < SIDE / 2 { 1.0 } else { 0.5 }).collect(),
    };
    let result = faithfulness(&net, &input, &heat);
    let masked_mean: f64 = (0..SIDE)
        .flat_map(|y| (0..SIDE).map(move |x| (x, y)))
        .map(|(x, y)| (0..3).map(|c| pixel(x, y, c)).sum::<f64>() * if x < SIDE / 2 { 1.0 } else { 0.5 })
        .sum::<f64>()
        / n;
    let p = sigmoid(2.0 * mean);
    let masked = sigmoid(2.0 * masked_mean);
    assert!((f64::from(result.masked_probability) - masked).abs() < 1e-6);
    assert!((f64::from(result.average_drop) - (p - masked).max(0.0) / p).abs() < 1e-5);
    assert_eq!(result.increased, masked > p);
    // The curves start at the whole picture (deletion) and at the blurred one (insertion), and
    // their areas are the trapezoid rule over 21 points.
    assert!((f64::from(result.deletion[0]) - p).abs() < 1e-6);
    assert!((f64::from(result.insertion[20]) - p).abs() < 1e-6);
    let area = |curve: &[f32]| curve.windows(2).map(|w| f64::from(w[0] + w[1]) / 2.0).sum::<f64>() / (curve.len() - 1) as f64;
    assert!((f64::from(result.deletion_auc) - area(&result.deletion)).abs() < 1e-6);
    assert!((f64::from(result.insertion_auc) - area(&result.insertion)).abs() < 1e-6);
}
