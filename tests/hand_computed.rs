//! Attribution methods on a network small enough to compute by hand: two "feature maps" that
//! are the picture's red and green channels, and a logit that is twice the mean of the picture.
//! Score-CAM's map and the faithfulness numbers are worked out here with plain arithmetic, and
//! guided backprop through a small residual network against a backward pass masked by hand.

use std::sync::atomic::AtomicBool;

use activation_atlas::engine::attribution::{AttributionMethod, AttributionSettings, attribute_at};
use activation_atlas::engine::faithfulness::{FaithfulnessInput, faithfulness};
use activation_atlas::engine::network::guided::{guided_backprop_by_autograd, relu, relu6};
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

/// A residual network acting on each pixel alone, so its guided backward pass can be written out
/// by hand: a = ReLU(W1 x), b = ReLU6(W2 a + a), logit_c = mean over pixels of (V b)_c.
struct PixelResidual {
    vs: nn::VarStore,
    spec: NetworkSpec,
    w1: [[f64; 3]; 2],
    w2: [[f64; 2]; 2],
    v: [[f64; 2]; 2],
}

const GUIDED_SIDE: i64 = 5;

impl PixelResidual {
    fn new() -> PixelResidual {
        let grid = |name: &str| LayerSpec {
            name: name.into(),
            kind: LayerKind::Spatial,
            shape: vec![2, GUIDED_SIDE, GUIDED_SIDE],
            stride: 1,
            receptive_field: 1,
        };
        let layers = vec![
            grid("a"),
            grid("b"),
            LayerSpec { name: "logits".into(), kind: LayerKind::Logits, shape: vec![2], stride: 0, receptive_field: 0 },
        ];
        let spec =
            NetworkSpec { architecture: Architecture::ResNet18, input_size: GUIDED_SIDE, normalisation: Normalisation::IDENTITY, layers };
        // Mixed signs and sizes, so some gradients are negative and some of b passes 6.
        PixelResidual {
            vs: nn::VarStore::new(tch::Device::Cpu),
            spec,
            w1: [[3.0, -2.0, 1.5], [-1.0, 4.0, 2.5]],
            w2: [[2.0, -3.0], [1.5, 2.5]],
            v: [[1.0, -2.0], [-0.5, 1.5]],
        }
    }

    fn conv(x: &Tensor, weights: &[f64], outputs: i64, inputs: i64) -> Tensor {
        let w = Tensor::from_slice(weights).to_kind(x.kind()).view([outputs, inputs, 1, 1]);
        x.conv2d(&w, None::<&Tensor>, [1, 1], [0, 0], [1, 1], 1)
    }
}

impl Network for PixelResidual {
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
    fn stage(&self, index: usize, input: &Tensor, _train: bool) -> Tensor {
        match index {
            0 => relu(&Self::conv(input, self.w1.as_flattened(), 2, 3)),
            1 => relu6(&(Self::conv(input, self.w2.as_flattened(), 2, 2) + input)),
            _ => Self::conv(input, self.v.as_flattened(), 2, 2).mean_dim(&[2i64, 3][..], false, input.kind()),
        }
    }
}

#[test]
fn guided_backprop_equals_a_backward_pass_masked_by_hand() {
    let net = PixelResidual::new();
    let side = GUIDED_SIDE as usize;
    let pixels = side * side;
    let x: Vec<f64> = (0..3 * pixels).map(|i| (i * 37 % 29) as f64 / 28.0).collect();
    let images = Tensor::from_slice(&x).view([1, 3, GUIDED_SIDE, GUIDED_SIDE]).to_kind(Kind::Double);
    let mut masked_somewhere = [false; 3];
    for class in 0..2 {
        let guided = guided_backprop_by_autograd(&net, &images, class);
        let got = Vec::<f64>::try_from(guided.flatten(0, -1)).expect("numbers");
        for p in 0..pixels {
            let xp = [x[p], x[pixels + p], x[2 * pixels + p]];
            let pre_a: Vec<f64> = (0..2).map(|o| (0..3).map(|i| net.w1[o][i] * xp[i]).sum()).collect();
            let a: Vec<f64> = pre_a.iter().map(|v| v.max(0.0)).collect();
            let pre_b: Vec<f64> = (0..2).map(|o| (0..2).map(|i| net.w2[o][i] * a[i]).sum::<f64>() + a[o]).collect();
            // Backward, guided at each activation: positive gradient only, where it was linear.
            let g_b: Vec<f64> = (0..2).map(|k| net.v[class][k] / pixels as f64).collect();
            let g_pre_b: Vec<f64> = (0..2).map(|k| if pre_b[k] > 0.0 && pre_b[k] < 6.0 { g_b[k].max(0.0) } else { 0.0 }).collect();
            let g_a: Vec<f64> = (0..2).map(|i| (0..2).map(|o| net.w2[o][i] * g_pre_b[o]).sum::<f64>() + g_pre_b[i]).collect();
            let g_pre_a: Vec<f64> = (0..2).map(|k| if pre_a[k] > 0.0 { g_a[k].max(0.0) } else { 0.0 }).collect();
            masked_somewhere[0] |= pre_b.iter().any(|&v| v >= 6.0);
            masked_somewhere[1] |= g_a.iter().any(|&g| g < 0.0);
            masked_somewhere[2] |= pre_a.iter().any(|&v| v <= 0.0);
            for c in 0..3 {
                let expected: f64 = (0..2).map(|o| net.w1[o][c] * g_pre_a[o]).sum();
                let value = got[c * pixels + p];
                assert!((value - expected).abs() <= 1e-5, "class {class}, pixel {p}, channel {c}: {value} vs {expected}");
            }
        }
    }
    // The picture exercises every mask: ReLU6's top, a negative gradient, a closed ReLU.
    assert_eq!(masked_somewhere, [true; 3]);
}
