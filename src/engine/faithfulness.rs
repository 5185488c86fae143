//! How far to believe an attribution map: deletion and insertion curves (Petsiuk et al. 2018)
//! and TorchCAM's average drop and increase in confidence, each beside the same numbers for a
//! random map and a Sobel-edge map of the same picture; and the sanity check of Adebayo et al.
//! 2018 (cascading randomisation of the weights, from the logits down).

use std::sync::atomic::AtomicBool;

use image::RgbImage;
use tch::{Kind, Tensor};

use super::attribution::{AttributionError, AttributionMethod, AttributionSettings, BLUR_SIGMA, attribute, attribute_at, gaussian_blur};
use super::explain::image_batch;
use super::model::{Layer, Net};
use super::network::Network;
use super::render::Map2d;
use super::rng::SeededRng;

/// Deletion and insertion move this many equal steps of pixels, from none to all.
pub const CURVE_STEPS: usize = 20;

/// The faithfulness numbers of one map.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Faithfulness {
    /// The class's probability with the first k/CURVE_STEPS of the pixels (most important first)
    /// replaced by the blurred picture, k = 0..=CURVE_STEPS. Lower area = more faithful.
    pub deletion: Vec<f32>,
    /// The class's probability of the blurred picture with the first k/CURVE_STEPS of the pixels
    /// restored. Higher area = more faithful.
    pub insertion: Vec<f32>,
    pub deletion_auc: f32,
    pub insertion_auc: f32,
    /// The class's probability of the picture multiplied by the map (TorchCAM's "explanation").
    pub masked_probability: f32,
    /// max(0, p − p_masked) / p: how much confidence the map alone loses (lower is better).
    pub average_drop: f32,
    /// Whether the map alone is more confident than the whole picture (TorchCAM counts these).
    pub increased: bool,
}

impl Faithfulness {
    /// The class's probability after deleting `fraction` of the pixels (nearest curve step).
    pub fn probability_after_deleting(&self, fraction: f32) -> f32 {
        let step = (fraction.clamp(0.0, 1.0) * CURVE_STEPS as f32).round() as usize;
        self.deletion[step]
    }
}

/// A map's faithfulness beside the two reference maps on the same picture.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FaithfulnessReport {
    pub class: usize,
    /// The class's probability for the whole picture.
    pub probability: f32,
    pub map: Faithfulness,
    pub random: Faithfulness,
    pub sobel: Faithfulness,
}

/// Area under a curve sampled at k/CURVE_STEPS, by the trapezoid rule.
fn area(curve: &[f32]) -> f32 {
    curve.windows(2).map(|pair| (pair[0] + pair[1]) / 2.0).sum::<f32>() / (curve.len() - 1) as f32
}

/// Pixel indices from the most to the least important. Ties (flat parts of a map) are broken by
/// a fixed random order, not by position, so a flat map does not delete the top rows first.
fn importance_order(heat: &Map2d) -> Vec<usize> {
    let mut rng = SeededRng::new(0x7e_0a1d);
    let tie_break: Vec<u64> = (0..heat.values.len()).map(|_| rng.next_u64()).collect();
    let mut order: Vec<usize> = (0..heat.values.len()).collect();
    order.sort_by(|&a, &b| heat.values[b].total_cmp(&heat.values[a]).then(tie_break[a].cmp(&tie_break[b])));
    order
}

/// The picture and its blurred copy, on the network's device.
pub struct FaithfulnessInput {
    picture: Tensor,
    blurred: Tensor,
    /// The class's probability for the whole picture.
    pub probability: f32,
    class: usize,
}

impl FaithfulnessInput {
    pub fn new(net: &dyn Network, image: &RgbImage, class: usize) -> FaithfulnessInput {
        let picture = image_batch(net, image);
        let blurred = gaussian_blur(&picture, BLUR_SIGMA);
        let probability = class_probabilities(net, &picture, class)[0];
        FaithfulnessInput { picture, blurred, probability, class }
    }
}

fn class_probabilities(net: &dyn Network, images: &Tensor, class: usize) -> Vec<f32> {
    let _mixed = super::precision::mixed(net.device());
    let probabilities =
        tch::no_grad(|| net.logits(&super::precision::fast_layout(images), false).softmax(1, Kind::Float).select(1, class as i64));
    Vec::<f32>::try_from(&probabilities.to_device(tch::Device::Cpu).to_kind(Kind::Float)).expect("a float tensor")
}

/// The faithfulness of `heat` (the input's size, [0, 1], larger = more important) for `input`.
/// Forward passes of 2 · (CURVE_STEPS + 1) + 1 pictures, in batches of at most 64.
pub fn faithfulness(net: &dyn Network, input: &FaithfulnessInput, heat: &Map2d) -> Faithfulness {
    let side = input.picture.size()[3];
    let plane = (side * side) as usize;
    let order = importance_order(heat);
    // masks[k] is 1 at the first k/CURVE_STEPS of the pixels in importance order.
    let mut masks = vec![0f32; (CURVE_STEPS + 1) * plane];
    for k in 1..=CURVE_STEPS {
        let count = plane * k / CURVE_STEPS;
        for &pixel in &order[..count] {
            masks[k * plane + pixel] = 1.0;
        }
    }
    let device = input.picture.device();
    let kind = input.picture.kind();
    let masks = Tensor::from_slice(&masks).view([(CURVE_STEPS + 1) as i64, 1, side, side]).to_device(device).to_kind(kind);
    let heat_tensor = Tensor::from_slice(&heat.values).view([1, 1, side, side]).to_device(device).to_kind(kind);
    let keep = masks.ones_like() - &masks;
    let deleted = &input.picture * &keep + &input.blurred * &masks;
    let inserted = &input.blurred * &keep + &input.picture * &masks;
    let explained = &input.picture * heat_tensor;
    let all = Tensor::cat(&[deleted, inserted, explained], 0);
    // A large network at 224 x 224 would hold every activation of 43 pictures at once.
    let probabilities: Vec<f32> = (0..all.size()[0])
        .step_by(FAITHFULNESS_BATCH)
        .flat_map(|start| {
            class_probabilities(net, &all.narrow(0, start, FAITHFULNESS_BATCH.min((all.size()[0] - start) as usize) as i64), input.class)
        })
        .collect();
    let steps = CURVE_STEPS + 1;
    let deletion = probabilities[..steps].to_vec();
    let insertion = probabilities[steps..2 * steps].to_vec();
    let masked_probability = probabilities[2 * steps];
    let base = input.probability.max(f32::EPSILON);
    Faithfulness {
        deletion_auc: area(&deletion),
        insertion_auc: area(&insertion),
        deletion,
        insertion,
        masked_probability,
        average_drop: (input.probability - masked_probability).max(0.0) / base,
        increased: masked_probability > input.probability,
    }
}

/// Pictures per forward pass of the faithfulness curves.
const FAITHFULNESS_BATCH: usize = 64;

/// `heat`'s faithfulness beside a random and a Sobel-edge map of the same picture.
pub fn faithfulness_report(
    net: &dyn Network,
    image: &RgbImage,
    class: usize,
    heat: &Map2d,
    settings: &AttributionSettings,
) -> FaithfulnessReport {
    let input = FaithfulnessInput::new(net, image, class);
    let reference = |method| {
        let never = AtomicBool::new(false);
        attribute_at(net, image, method, class, 0, settings, &mut |_, _| {}, &never)
            .expect("reference maps need no layer and cannot be cancelled")
    };
    FaithfulnessReport {
        class,
        probability: input.probability,
        map: faithfulness(net, &input, heat),
        random: faithfulness(net, &input, &reference(AttributionMethod::Random).heat),
        sobel: faithfulness(net, &input, &reference(AttributionMethod::Sobel).heat),
    }
}

/// The order in which the sanity check randomises the weights: from the logits down.
pub const RANDOMISATION_ORDER: [Layer; 7] = [Layer::FC3, Layer::FC2, Layer::FC1, Layer::CONV4, Layer::CONV3, Layer::CONV2, Layer::CONV1];
/// A map whose rank correlation with the trained network's map is still this high once every
/// layer is random does not depend on what the network learned. Signed: a map that has turned
/// into its reverse (large where it was small) has changed with the weights.
pub const INSENSITIVE_CORRELATION: f32 = 0.5;

/// The map after randomising every layer from the last down to `randomised_down_to`, compared with the trained map.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SanityStage {
    pub randomised_down_to: Layer,
    /// Spearman rank correlation of the two heat maps.
    pub spearman: f32,
    /// Structural similarity of the two heat maps (7 x 7 windows, as scikit-image's default).
    pub ssim: f32,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SanityReport {
    pub method: AttributionMethod,
    pub stages: Vec<SanityStage>,
    /// The map barely changes when the weights are random: it does not explain the network.
    pub insensitive: bool,
}

/// Cascading randomisation (Adebayo et al. 2018): randomises fc3, then fc2 as well, … down to
/// conv1, recomputing `method`'s map each time. Reports `progress(stages done, 7)`.
pub fn sanity_check(
    net: &Net,
    image: &RgbImage,
    method: AttributionMethod,
    class: usize,
    settings: &AttributionSettings,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<SanityReport, AttributionError> {
    let trained = attribute(net, image, method, class, settings, &mut |_, _| {}, cancel)?.heat;
    let randomised = net.duplicate();
    let mut stages = Vec::with_capacity(RANDOMISATION_ORDER.len());
    for (index, &layer) in RANDOMISATION_ORDER.iter().enumerate() {
        randomised.randomise_layer(layer, 0x5a_017e + index as u64);
        let heat = attribute(&randomised, image, method, class, settings, &mut |_, _| {}, cancel)?.heat;
        stages.push(SanityStage {
            randomised_down_to: layer,
            spearman: spearman(&trained.values, &heat.values),
            ssim: ssim(&trained, &heat),
        });
        progress(index + 1, RANDOMISATION_ORDER.len());
    }
    let insensitive = stages.last().is_some_and(|stage| stage.spearman >= INSENSITIVE_CORRELATION);
    Ok(SanityReport { method, stages, insensitive })
}

/// The sanity check on any network, of `method`'s map at `layer` (an index into its spec): the
/// paper's network through [`sanity_check`]; another network's stages with parameters are made
/// random from its last layer down to its first, each stage started afresh as re-creating it
/// would (weights seeded noise of the trained weights' spread, biases 0, batch norms new). Reports `progress(done, stages)`.
#[allow(clippy::too_many_arguments)]
pub fn sanity_check_at(
    net: &dyn Network,
    image: &RgbImage,
    method: AttributionMethod,
    class: usize,
    layer: usize,
    settings: &AttributionSettings,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<SanityReport, AttributionError> {
    if let Some(paper) = super::model::paper_net(net) {
        let settings = AttributionSettings { layer: Layer::named(&net.spec().layers[layer].name), ..*settings };
        return sanity_check(paper, image, method, class, &settings, progress, cancel);
    }
    let trained = attribute_at(net, image, method, class, layer, settings, &mut |_, _| {}, cancel)?.heat;
    let Some(randomised) = duplicate_network(net) else {
        return Err(AttributionError::NotForThisNetwork(method));
    };
    let spec = net.spec();
    let order: Vec<usize> = (0..spec.layers.len()).rev().filter(|&stage| !net.layer_prefixes(stage).is_empty()).collect();
    let mut stages = Vec::with_capacity(order.len());
    for (index, &stage) in order.iter().enumerate() {
        randomise_stage(randomised.as_ref(), stage, 0x5a_017e + index as u64);
        let heat = attribute_at(randomised.as_ref(), image, method, class, layer, settings, &mut |_, _| {}, cancel)?.heat;
        stages.push(SanityStage {
            randomised_down_to: Layer::named(&spec.layers[stage].name),
            spearman: spearman(&trained.values, &heat.values),
            ssim: ssim(&trained, &heat),
        });
        progress(index + 1, order.len());
    }
    let insensitive = stages.last().is_some_and(|stage| stage.spearman >= INSENSITIVE_CORRELATION);
    Ok(SanityReport { method, stages, insensitive })
}

/// A copy of `net` with its own weights (the sanity check randomises the copy); None for a
/// network this app cannot build.
fn duplicate_network(net: &dyn Network) -> Option<Box<dyn Network>> {
    if let Some(paper) = super::model::paper_net(net) {
        return Some(Box::new(paper.duplicate()));
    }
    let mut copy = super::network::build_network(net.spec().architecture, net.spec().num_classes(), net.device())?;
    copy.var_store_mut().copy(net.var_store()).ok()?;
    Some(copy)
}

/// Gives `net`'s stage `stage` a fresh start, as re-creating its layers would: weights seeded
/// normal values of the trained weights' spread around zero, biases 0, batch-norm scales 1 and
/// running statistics those of a new batch norm (mean 0, variance 1).
fn randomise_stage(net: &dyn Network, stage: usize, seed: u64) {
    let prefixes = net.layer_prefixes(stage);
    let mut rng = SeededRng::new(seed);
    let mut variables: Vec<(String, Tensor)> = net.var_store().variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (name, mut tensor) in variables {
            if !prefixes.iter().any(|prefix| name.starts_with(prefix.as_str())) || !tensor.is_floating_point() {
                continue;
            }
            if tensor.dim() >= 2 {
                let spread = tensor.to_kind(Kind::Float).std(false);
                let noise = rng.normal_tensor(&tensor.size(), tensor.device()) * spread;
                tensor.copy_(&noise.to_kind(tensor.kind()));
            } else if name.ends_with("running_var") || name.ends_with(".weight") {
                let _ = tensor.fill_(1.0);
            } else {
                // Biases, batch-norm shifts and running means.
                let _ = tensor.fill_(0.0);
            }
        }
    });
}

/// Ranks from 1, ties sharing their average rank.
fn ranks(values: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end + 1) as f64 / 2.0; // ranks start+1 ..= end
        for &i in &order[start..end] {
            ranks[i] = average;
        }
        start = end;
    }
    ranks
}

/// Spearman's rank correlation (the Pearson correlation of the ranks); 0 when either is constant.
pub fn spearman(a: &[f32], b: &[f32]) -> f32 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        cov += (x - ma) * (y - mb);
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    if va <= 0.0 || vb <= 0.0 {
        // A constant map against a constant map is the same map; otherwise nothing is shared.
        return if va <= 0.0 && vb <= 0.0 { 1.0 } else { 0.0 };
    }
    (cov / (va * vb).sqrt()) as f32
}

/// Mean structural similarity of two maps in [0, 1] over every 7 x 7 window (uniform weights,
/// K1 = 0.01, K2 = 0.03, sample covariances), as scikit-image computes it by default.
pub fn ssim(a: &Map2d, b: &Map2d) -> f32 {
    const WINDOW: usize = 7;
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let (width, height) = (a.width, a.height);
    if width < WINDOW || height < WINDOW {
        return if a.values == b.values { 1.0 } else { 0.0 };
    }
    let n = (WINDOW * WINDOW) as f64;
    let mut total = 0.0;
    let mut windows = 0usize;
    for y0 in 0..=height - WINDOW {
        for x0 in 0..=width - WINDOW {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for y in y0..y0 + WINDOW {
                for x in x0..x0 + WINDOW {
                    let (va, vb) = (f64::from(a.values[y * width + x]), f64::from(b.values[y * width + x]));
                    sa += va;
                    sb += vb;
                    saa += va * va;
                    sbb += vb * vb;
                    sab += va * vb;
                }
            }
            let (ma, mb) = (sa / n, sb / n);
            let unbiased = n / (n - 1.0);
            let var_a = (saa / n - ma * ma) * unbiased;
            let var_b = (sbb / n - mb * mb) * unbiased;
            let cov = (sab / n - ma * mb) * unbiased;
            total += ((2.0 * ma * mb + c1) * (2.0 * cov + c2)) / ((ma * ma + mb * mb + c1) * (var_a + var_b + c2));
            windows += 1;
        }
    }
    (total / windows as f64) as f32
}

/// One method's faithfulness over a set of pictures (explain-eval's row).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MethodScore {
    /// The CLI name.
    pub name: String,
    pub deletion_auc: f64,
    pub insertion_auc: f64,
    pub average_drop: f64,
    /// The fraction of pictures whose map alone is more confident than the whole picture.
    pub increase_rate: f64,
    /// Time to compute the map (not its faithfulness), per picture.
    pub ms_per_image: f64,
    pub images: usize,
}

/// Scores every method in `methods` on every picture, each for the class the network predicts
/// (as TorchCAM does). Pictures go one at a time through all methods, so a cancelled run still
/// scores every method on the same pictures. Reports `progress(pictures done, total)`.
pub fn score_methods(
    net: &dyn Network,
    images: &[RgbImage],
    methods: &[AttributionMethod],
    settings: &AttributionSettings,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Vec<MethodScore> {
    let mut sums = vec![[0f64; 5]; methods.len()];
    let mut done = 0;
    let layer = net.spec().layer_index(settings.layer.name()).unwrap_or(0);
    'pictures: for image in images {
        let class = super::classify::classify_images(net, std::slice::from_ref(image))[0].best().0;
        let input = FaithfulnessInput::new(net, image, class);
        let mut scores = Vec::with_capacity(methods.len());
        for &method in methods {
            let started = std::time::Instant::now();
            let attribution = match attribute_at(net, image, method, class, layer, settings, &mut |_, _| {}, cancel) {
                Ok(attribution) => attribution,
                Err(_) => break 'pictures, // cancelled (the layer was checked by the caller)
            };
            let milliseconds = started.elapsed().as_secs_f64() * 1000.0;
            let faithfulness = faithfulness(net, &input, &attribution.heat);
            scores.push([
                f64::from(faithfulness.deletion_auc),
                f64::from(faithfulness.insertion_auc),
                f64::from(faithfulness.average_drop),
                f64::from(u8::from(faithfulness.increased)),
                milliseconds,
            ]);
        }
        for (sum, score) in sums.iter_mut().zip(scores) {
            sum.iter_mut().zip(score).for_each(|(s, v)| *s += v);
        }
        done += 1;
        progress(done, images.len());
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
    }
    let n = done.max(1) as f64;
    methods
        .iter()
        .zip(sums)
        .map(|(method, sum)| MethodScore {
            name: method.cli_name().to_string(),
            deletion_auc: sum[0] / n,
            insertion_auc: sum[1] / n,
            average_drop: sum[2] / n,
            increase_rate: sum[3] / n,
            ms_per_image: sum[4] / n,
            images: done,
        })
        .collect()
}
