//! Attribution maps: how much each place of the picture matters for one class, by every method
//! the explain slice offers (gradients, class activation maps, occlusion) and the two reference
//! maps faithfulness is compared with (random and Sobel edges). Each method gives its raw map (as
//! the method defines it, for `--save-map`) and a 100 x 100 heat map in [0, 1] for display and
//! for the faithfulness metrics.

use std::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;
use tch::{Kind, Tensor};

use super::explain::{image_batch, occlusion};
use super::model::{Layer, Net};
use super::network::Network;
use super::network::guided::guided_backprop;
use super::precision::{fast_layout, mixed};
use super::render::Map2d;
use super::rng::SeededRng;

/// Saliency-type maps are scaled by this quantile: a few extreme pixels would otherwise make the
/// rest black.
pub const GRADIENT_QUANTILE: f32 = 0.99;
/// The random reference map is drawn on a grid this coarse (conv3's resolution), then upsampled.
pub const RANDOM_GRID: usize = 12;
/// Images per forward pass for the methods that run many (Score-CAM, SmoothGrad).
const BATCH: usize = 32;
/// Points of the path per pass of Integrated Gradients: its default 64 steps in one.
const IG_BATCH: usize = 64;

/// An attribution method. CLI names are [`AttributionMethod::cli_name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AttributionMethod {
    Saliency,
    SmoothGrad,
    IntegratedGradients,
    GuidedBackprop,
    GradCam,
    GradCamPlusPlus,
    LayerCam,
    HiResCam,
    ScoreCam,
    GuidedGradCam,
    Occlusion,
    /// Smooth random noise: what any real method must beat.
    Random,
    /// Edge strength of the picture, ignoring the network: a method that only finds edges looks
    /// like this.
    Sobel,
}

/// Where the baseline of Integrated Gradients comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum IgBaseline {
    Black,
    /// The picture under a strong Gaussian blur: removes detail but keeps colour.
    Blurred,
    /// Uniform noise (seeded).
    Noise,
}

impl IgBaseline {
    pub const ALL: [IgBaseline; 3] = [IgBaseline::Black, IgBaseline::Blurred, IgBaseline::Noise];

    pub fn cli_name(self) -> &'static str {
        match self {
            IgBaseline::Black => "black",
            IgBaseline::Blurred => "blurred",
            IgBaseline::Noise => "noise",
        }
    }
}

impl AttributionMethod {
    pub const ALL: [AttributionMethod; 13] = [
        AttributionMethod::Saliency,
        AttributionMethod::SmoothGrad,
        AttributionMethod::IntegratedGradients,
        AttributionMethod::GuidedBackprop,
        AttributionMethod::GradCam,
        AttributionMethod::GradCamPlusPlus,
        AttributionMethod::LayerCam,
        AttributionMethod::HiResCam,
        AttributionMethod::ScoreCam,
        AttributionMethod::GuidedGradCam,
        AttributionMethod::Occlusion,
        AttributionMethod::Random,
        AttributionMethod::Sobel,
    ];
    /// The methods computed from input gradients.
    pub const GRADIENT: [AttributionMethod; 4] = [
        AttributionMethod::Saliency,
        AttributionMethod::SmoothGrad,
        AttributionMethod::IntegratedGradients,
        AttributionMethod::GuidedBackprop,
    ];
    /// The class activation maps, computed at a conv layer.
    pub const CAM: [AttributionMethod; 6] = [
        AttributionMethod::GradCam,
        AttributionMethod::GradCamPlusPlus,
        AttributionMethod::LayerCam,
        AttributionMethod::HiResCam,
        AttributionMethod::ScoreCam,
        AttributionMethod::GuidedGradCam,
    ];

    pub fn cli_name(self) -> &'static str {
        match self {
            AttributionMethod::Saliency => "saliency",
            AttributionMethod::SmoothGrad => "smoothgrad",
            AttributionMethod::IntegratedGradients => "integrated-gradients",
            AttributionMethod::GuidedBackprop => "guided-backprop",
            AttributionMethod::GradCam => "gradcam",
            AttributionMethod::GradCamPlusPlus => "gradcam++",
            AttributionMethod::LayerCam => "layercam",
            AttributionMethod::HiResCam => "hirescam",
            AttributionMethod::ScoreCam => "scorecam",
            AttributionMethod::GuidedGradCam => "guided-gradcam",
            AttributionMethod::Occlusion => "occlusion",
            AttributionMethod::Random => "random",
            AttributionMethod::Sobel => "sobel",
        }
    }

    pub fn from_cli_name(name: &str) -> Option<AttributionMethod> {
        AttributionMethod::ALL.into_iter().find(|method| method.cli_name() == name)
    }

    /// A name for people (the same in every language: these are the methods' published names).
    pub fn display_name(self) -> &'static str {
        match self {
            AttributionMethod::Saliency => "Saliency",
            AttributionMethod::SmoothGrad => "SmoothGrad",
            AttributionMethod::IntegratedGradients => "Integrated Gradients",
            AttributionMethod::GuidedBackprop => "Guided Backprop",
            AttributionMethod::GradCam => "Grad-CAM",
            AttributionMethod::GradCamPlusPlus => "Grad-CAM++",
            AttributionMethod::LayerCam => "LayerCAM",
            AttributionMethod::HiResCam => "HiResCAM",
            AttributionMethod::ScoreCam => "Score-CAM",
            AttributionMethod::GuidedGradCam => "Guided Grad-CAM",
            AttributionMethod::Occlusion => "Occlusion",
            AttributionMethod::Random => "Random",
            AttributionMethod::Sobel => "Sobel",
        }
    }

    /// Class activation maps need a conv layer.
    pub fn uses_layer(self) -> bool {
        AttributionMethod::CAM.contains(&self)
    }

    /// Methods that run many forward passes report progress and can be cancelled part-way.
    pub fn is_slow(self) -> bool {
        matches!(
            self,
            AttributionMethod::SmoothGrad
                | AttributionMethod::IntegratedGradients
                | AttributionMethod::ScoreCam
                | AttributionMethod::Occlusion
        )
    }
}

/// Settings of the methods that have any.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AttributionSettings {
    /// The conv layer of the class activation maps.
    pub layer: Layer,
    pub smooth_samples: usize,
    /// Standard deviation of SmoothGrad's noise, in [0, 1] pixel units.
    pub smooth_noise: f64,
    pub ig_steps: usize,
    pub ig_baseline: IgBaseline,
    pub occlusion_patch: usize,
    pub occlusion_stride: usize,
    /// Seeds SmoothGrad's noise, the noise baseline and the random map: the same picture gives the
    /// same map.
    pub seed: u64,
}

impl Default for AttributionSettings {
    fn default() -> Self {
        AttributionSettings {
            layer: Layer::CONV4,
            smooth_samples: 16,
            smooth_noise: 0.15,
            ig_steps: 64,
            ig_baseline: IgBaseline::Black,
            occlusion_patch: 20,
            occlusion_stride: 5,
            seed: 0,
        }
    }
}

/// A method's map as the method defines it, before upsampling or normalisation: `[h, w]` for
/// class activation maps (at the layer's resolution), `[3, 100, 100]` for input attributions,
/// `[100, 100]` for the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct RawMap {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// One attribution.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribution {
    pub method: AttributionMethod,
    pub class: usize,
    pub raw: RawMap,
    /// 100 x 100, in [0, 1], larger = more important.
    pub heat: Map2d,
    /// True when the method found no positive evidence for the class (an all-zero map).
    pub all_zero: bool,
}

/// Why an attribution could not be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AttributionError {
    #[error("{method} needs a conv layer (conv1..conv4), not {layer}", method = .0.display_name(), layer = .1)]
    NotConvLayer(AttributionMethod, Layer),
    #[error("{method} needs a layer with a spatial grid, not {layer}", method = .0.display_name(), layer = .1)]
    NotSpatial(AttributionMethod, String),
    #[error("{method} is carried back by hand through the paper's network and has no general form for this one", method = .0.display_name())]
    NotForThisNetwork(AttributionMethod),
    #[error("cancelled")]
    Cancelled,
}

fn to_vec(tensor: &Tensor) -> Vec<f32> {
    let flat = tensor.detach().to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous().flatten(0, -1);
    Vec::<f32>::try_from(&flat).expect("a float tensor")
}

/// Computes `method`'s map of `image` (the 100 x 100 network input) for `class` on the paper's
/// network, at `settings.layer`. The slow methods report `progress(done, total)` and stop when
/// `cancel` is set.
pub fn attribute(
    net: &Net,
    image: &RgbImage,
    method: AttributionMethod,
    class: usize,
    settings: &AttributionSettings,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Attribution, AttributionError> {
    if method.uses_layer() && !settings.layer.is_conv() {
        return Err(AttributionError::NotConvLayer(method, settings.layer));
    }
    attribute_at(net, image, method, class, settings.layer.index(), settings, progress, cancel)
}

/// [`attribute`] for any network, at layer `layer` of its spec (`settings.layer` is not used);
/// `image` is at the network's input size.
#[allow(clippy::too_many_arguments)]
pub fn attribute_at(
    net: &dyn Network,
    image: &RgbImage,
    method: AttributionMethod,
    class: usize,
    layer: usize,
    settings: &AttributionSettings,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Attribution, AttributionError> {
    let layer_spec = &net.spec().layers[layer.min(net.spec().layers.len() - 1)];
    if method.uses_layer() && !layer_spec.is_spatial() {
        return Err(AttributionError::NotSpatial(method, layer_spec.name.clone()));
    }
    let batch = image_batch(net, image);
    let n = image.width() as usize;
    let finish = |raw: RawMap, heat: Map2d| {
        let all_zero = heat.max() <= 0.0;
        Attribution { method, class, raw, heat, all_zero }
    };
    let input_shaped = |values: Vec<f32>| RawMap { shape: vec![3, n, n], values };
    let picture_shaped = |values: Vec<f32>| RawMap { shape: vec![n, n], values };
    Ok(match method {
        AttributionMethod::Saliency => {
            let gradient = input_gradient(net, &batch, class);
            let values = to_vec(&gradient);
            finish(input_shaped(values.clone()), channel_max_abs(&values, n).scaled_to_quantile(GRADIENT_QUANTILE))
        }
        AttributionMethod::SmoothGrad => {
            let map = smooth_grad(net, &batch, class, settings, progress, cancel)?;
            finish(picture_shaped(map.values.clone()), map.scaled_to_quantile(GRADIENT_QUANTILE))
        }
        AttributionMethod::IntegratedGradients => {
            let baseline = ig_baseline(&batch, settings.ig_baseline, settings.seed);
            let values = to_vec(&integrated_gradients(net, &batch, &baseline, class, settings.ig_steps, progress, cancel)?);
            finish(input_shaped(values.clone()), channel_sum_abs(&values, n).scaled_to_quantile(GRADIENT_QUANTILE))
        }
        AttributionMethod::GuidedBackprop => {
            let guided = guided_in_precision(net, &batch, class);
            let values = to_vec(&guided);
            finish(input_shaped(values.clone()), channel_max_abs(&values, n).scaled_to_quantile(GRADIENT_QUANTILE))
        }
        AttributionMethod::GradCam
        | AttributionMethod::GradCamPlusPlus
        | AttributionMethod::LayerCam
        | AttributionMethod::HiResCam
        | AttributionMethod::ScoreCam => {
            let cam = match method {
                AttributionMethod::ScoreCam => score_cam(net, &batch, layer, class, progress, cancel)?,
                _ => gradient_cam(net, &batch, layer, class, method),
            };
            let raw = RawMap { shape: vec![cam.height, cam.width], values: cam.values.clone() };
            finish(raw, upsample(&cam, n).normalised())
        }
        AttributionMethod::GuidedGradCam => {
            let guided = guided_in_precision(net, &batch, class);
            let cam = upsample(&gradient_cam(net, &batch, layer, class, AttributionMethod::GradCam), n).normalised();
            let plane = n * n;
            let values: Vec<f32> = to_vec(&guided).iter().enumerate().map(|(i, g)| g * cam.values[i % plane]).collect();
            finish(input_shaped(values.clone()), channel_max_abs(&values, n).scaled_to_quantile(GRADIENT_QUANTILE))
        }
        AttributionMethod::Occlusion => {
            let result = occlusion(net, image, class, settings.occlusion_patch, settings.occlusion_stride, progress, cancel)
                .ok_or(AttributionError::Cancelled)?;
            // Only drops in probability are evidence; scaled by the largest drop.
            let largest = result.per_pixel.max().max(f32::EPSILON);
            let heat =
                Map2d { values: result.per_pixel.values.iter().map(|v| (v / largest).max(0.0)).collect(), ..result.per_pixel.clone() };
            finish(picture_shaped(result.per_pixel.values), heat)
        }
        AttributionMethod::Random => {
            // Uniform noise on a coarse grid, upsampled: as smooth as a class activation map, so
            // deleting "random" pixels removes regions, not a sprinkle the network sees through.
            let mut rng = SeededRng::derive(settings.seed, 0x0a11_7a9d);
            let coarse = Map2d {
                width: RANDOM_GRID,
                height: RANDOM_GRID,
                values: (0..RANDOM_GRID * RANDOM_GRID).map(|_| rng.next_f64() as f32).collect(),
            };
            let map = upsample(&coarse, n);
            finish(picture_shaped(map.values.clone()), map.normalised())
        }
        AttributionMethod::Sobel => {
            let map = sobel_edges(&batch);
            finish(picture_shaped(map.values.clone()), map.normalised())
        }
    })
}

/// Guided backprop with the network's passes in the process's precision; the pixels' gradient
/// comes back in float32 (the pixels are float32).
fn guided_in_precision(net: &dyn Network, batch: &Tensor, class: usize) -> Tensor {
    let _mixed = mixed(net.device());
    guided_backprop(net, batch, class).to_kind(Kind::Float)
}

/// Gradient of `class`'s logit with respect to the pixels, [3, 100, 100] for a batch of one
/// (summed over a larger batch), in float32 whatever the network computes in: the pixels are
/// float32, so their gradient is.
fn input_gradient(net: &dyn Network, batch: &Tensor, class: usize) -> Tensor {
    let _mixed = mixed(net.device());
    input_gradient_here(net, batch, class)
}

/// [`input_gradient`] in the precision this thread computes in now.
fn input_gradient_here(net: &dyn Network, batch: &Tensor, class: usize) -> Tensor {
    let input = batch.detach().set_requires_grad(true);
    let logit = net.logits(&fast_layout(&input), false).select(1, class as i64).sum(Kind::Float);
    Tensor::run_backward(&[logit], &[&input], false, false).remove(0).sum_dim_intlist(&[0i64][..], false, Kind::Float)
}

/// Per pixel, the largest |value| over the colour channels of a [3, n, n] attribution.
fn channel_max_abs(values: &[f32], n: usize) -> Map2d {
    let plane = n * n;
    let values = (0..plane).map(|i| (0..3).map(|c| values[c * plane + i].abs()).fold(0.0, f32::max)).collect();
    Map2d { width: n, height: n, values }
}

/// Per pixel, |sum over the colour channels| of a [3, n, n] attribution (signed attributions
/// such as Integrated Gradients cancel across channels otherwise counted twice).
fn channel_sum_abs(values: &[f32], n: usize) -> Map2d {
    let plane = n * n;
    let values = (0..plane).map(|i| (0..3).map(|c| values[c * plane + i]).sum::<f32>().abs()).collect();
    Map2d { width: n, height: n, values }
}

fn smooth_grad(
    net: &dyn Network,
    batch: &Tensor,
    class: usize,
    settings: &AttributionSettings,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Map2d, AttributionError> {
    let samples = settings.smooth_samples.max(1);
    let mut rng = SeededRng::new(settings.seed);
    let n = batch.size()[3] as usize;
    let mut sum = vec![0f32; n * n];
    let mut done = 0;
    while done < samples {
        if cancel.load(Ordering::Relaxed) {
            return Err(AttributionError::Cancelled);
        }
        let count = BATCH.min(samples - done);
        let noisy = batch.repeat([count as i64, 1, 1, 1]);
        let noise = rng.normal_tensor(&noisy.size(), noisy.device()).to_kind(noisy.kind()) * settings.smooth_noise;
        let input = (noisy + noise).detach().set_requires_grad(true);
        let gradient = {
            let _mixed = mixed(net.device());
            let logit = net.logits(&fast_layout(&input), false).select(1, class as i64).sum(Kind::Float);
            Tensor::run_backward(&[logit], &[&input], false, false).remove(0)
        };
        let maps = to_vec(&gradient.abs().amax([1], false).sum_dim_intlist(&[0i64][..], false, Kind::Float));
        sum.iter_mut().zip(maps).for_each(|(s, m)| *s += m);
        done += count;
        progress(done, samples);
    }
    Ok(Map2d { width: n, height: n, values: sum.into_iter().map(|v| v / samples as f32).collect() })
}

/// The baseline x′ of Integrated Gradients for `batch` (one picture).
pub fn ig_baseline(batch: &Tensor, baseline: IgBaseline, seed: u64) -> Tensor {
    match baseline {
        IgBaseline::Black => batch.zeros_like(),
        IgBaseline::Blurred => gaussian_blur(batch, BLUR_SIGMA),
        IgBaseline::Noise => {
            let mut rng = SeededRng::derive(seed, 0x1b_0a5e);
            let values: Vec<f32> = (0..batch.numel()).map(|_| rng.next_f64() as f32).collect();
            Tensor::from_slice(&values).view(batch.size().as_slice()).to_device(batch.device()).to_kind(batch.kind())
        }
    }
}

/// Integrated Gradients (Sundararajan et al. 2017) by the right Riemann sum over `steps` points:
/// (x − x′) · (1/m) Σ_{k=1..m} ∇y_c(x′ + (k/m)(x − x′)), [3, n, n].
pub fn integrated_gradients(
    net: &dyn Network,
    batch: &Tensor,
    baseline: &Tensor,
    class: usize,
    steps: usize,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Tensor, AttributionError> {
    let steps = steps.max(1);
    let difference = batch - baseline;
    // On the paper's network, one mixed region for every pass (the weights are cast to bfloat16
    // once, not per batch). Deeper networks stay float32: on EfficientNet-Lite0 the bfloat16
    // gradients' errors do not average out along the path (its map correlated 0.81 with
    // float32's at 64 steps, and 0.84 at 128, while float32's own 64- and 128-step maps
    // correlate 0.985).
    let affine_start = super::model::paper_net(net).is_some();
    let _mixed = affine_start.then(|| mixed(net.device()));
    let mut affine = AffineStart::of(net, batch, baseline);
    let mut gradient_sum = batch.get(0).zeros_like();
    let mut done = 0;
    while done < steps {
        if cancel.load(Ordering::Relaxed) {
            return Err(AttributionError::Cancelled);
        }
        let count = IG_BATCH.min(steps - done);
        let alphas: Vec<f32> = (done + 1..=done + count).map(|k| k as f32 / steps as f32).collect();
        let alphas = Tensor::from_slice(&alphas).to_device(batch.device()).to_kind(batch.kind()).view([count as i64, 1, 1, 1]);
        match &mut affine {
            Some(affine) => affine.add_gradients(&alphas, class),
            None => gradient_sum += input_gradient_here(net, &(baseline + &difference * alphas), class),
        }
        done += count;
        progress(done, steps);
    }
    if let Some(affine) = affine {
        gradient_sum = affine.input_gradient();
    }
    Ok(difference.get(0) * gradient_sum / steps as f64)
}

/// Integrated Gradients through the paper's network, which starts with an affine map (identity
/// normalisation, then conv1). So conv1 at a point x′ + α(x − x′) of the path is z′ + α(z − z′),
/// two convolutions for all the points, and the input gradient is conv1's transpose of the
/// gradient at conv1's output at every point: the gradients there are summed over the path (in
/// float32) and taken through the transpose once, in float32. IG needs only their sum.
struct AffineStart<'a> {
    net: &'a super::model::Net,
    /// conv1 of the baseline and of the picture.
    at_baseline: Tensor,
    at_picture: Tensor,
    /// Σ of the gradients at conv1's output so far, float32, [1, C, h, w].
    sum: Option<Tensor>,
    picture: Tensor,
}

impl<'a> AffineStart<'a> {
    fn of(net: &'a dyn Network, picture: &Tensor, baseline: &Tensor) -> Option<AffineStart<'a>> {
        let paper = super::model::paper_net(net).filter(|_| net.spec().normalisation == super::network::Normalisation::IDENTITY)?;
        let (at_baseline, at_picture) = tch::no_grad(|| {
            let z = paper.conv_pre_activation(Layer::CONV1, &fast_layout(&Tensor::cat(&[baseline, picture], 0)));
            (z.narrow(0, 0, 1), z.narrow(0, 1, 1))
        });
        Some(AffineStart { net: paper, at_baseline, at_picture, sum: None, picture: picture.shallow_clone() })
    }

    /// Adds the gradients of `class`'s logit at conv1's output for the points at `alphas`.
    fn add_gradients(&mut self, alphas: &Tensor, class: usize) {
        // One pass in conv1's output kind (lerp computes in float32 and rounds once).
        let weights = alphas.to_kind(self.at_picture.kind());
        let z = tch::no_grad(|| self.at_baseline.lerp_tensor(&self.at_picture, &weights)).detach().set_requires_grad(true);
        let logit = self.net.forward_from_pre_activation(Layer::CONV1, &z).select(1, class as i64).sum(Kind::Float);
        let gradient = Tensor::run_backward(&[logit], &[&z], false, false).remove(0);
        // Summed over the points as rows of [points, h * w * channels]: libtorch's reduction over
        // the first dimension of a channels-last bfloat16 tensor is ten times slower.
        let size = gradient.size();
        let rows = gradient.permute([0, 2, 3, 1]).reshape([size[0], -1]);
        let summed = rows.sum_dim_intlist(&[0i64][..], false, Kind::Float).view([1, size[2], size[3], size[1]]).permute([0, 3, 1, 2]);
        self.sum = Some(match self.sum.take() {
            Some(previous) => previous + summed,
            None => summed,
        });
    }

    /// conv1's transpose of the summed gradient: the input gradient of Σ conv1(x) · G, the same
    /// at any x (here the picture), [3, n, n].
    fn input_gradient(self) -> Tensor {
        let _float32 = super::precision::float32_here();
        let x = self.picture.detach().set_requires_grad(true);
        let Some(sum) = self.sum else { return x.get(0).zeros_like() };
        let through = (self.net.conv_pre_activation(Layer::CONV1, &x) * sum).sum(Kind::Float);
        Tensor::run_backward(&[through], &[&x], false, false).remove(0).get(0)
    }
}

/// A class activation map at the layer's resolution, not normalised.
fn cam_map(cam: &Tensor) -> Map2d {
    let size = cam.size();
    Map2d { width: size[size.len() - 1] as usize, height: size[size.len() - 2] as usize, values: to_vec(cam) }
}

/// The output A [1, K, h, w] of layer `layer` for `batch`, and the gradient of `class`'s logit
/// with respect to it; both float32 (the channels are weighed and summed in float32 whatever
/// precision the passes ran in).
fn activation_and_gradient(net: &dyn Network, batch: &Tensor, layer: usize, class: usize) -> (Tensor, Tensor) {
    let _mixed = mixed(net.device());
    let activation = tch::no_grad(|| net.forward_to(batch, layer, false)).detach().set_requires_grad(true);
    let logit = Network::forward_from(net, layer, &activation, false).select(1, class as i64).sum(Kind::Float);
    let gradient = Tensor::run_backward(&[logit], &[&activation], false, false).remove(0);
    (activation.detach().to_kind(Kind::Float), gradient.to_kind(Kind::Float))
}

/// Grad-CAM, Grad-CAM++, LayerCAM and HiResCAM: each weighs the layer's channels A_k by the
/// gradient G_k = ∂y_c/∂A_k differently, then takes ReLU of the sum over channels.
pub fn gradient_cam(net: &dyn Network, batch: &Tensor, layer: usize, class: usize, method: AttributionMethod) -> Map2d {
    let (activation, gradient) = activation_and_gradient(net, batch, layer, class);
    let spatial = [2i64, 3];
    let weighted = match method {
        // α_k = mean over positions of G_k.
        AttributionMethod::GradCam => gradient.mean_dim(&spatial[..], true, Kind::Float) * &activation,
        // Chattopadhay et al. 2018 with an exponential score, so that higher derivatives are
        // powers of G: a_ij = G² / (2G² + Σ_ab A_ab · G³) (0 where G = 0), α_k = Σ_ij a_ij ReLU(G).
        AttributionMethod::GradCamPlusPlus => {
            let g2 = gradient.pow_tensor_scalar(2);
            let g3 = gradient.pow_tensor_scalar(3);
            let activation_sum = activation.sum_dim_intlist(&spatial[..], true, Kind::Float);
            let denominator = &g2 * 2.0 + activation_sum * g3;
            let nonzero = denominator.ne(0.0);
            let safe = denominator.where_self(&nonzero, &denominator.ones_like());
            let a = (g2 / safe) * nonzero.to_kind(gradient.kind());
            let alpha = (a * gradient.relu()).sum_dim_intlist(&spatial[..], true, Kind::Float);
            alpha * &activation
        }
        // Jiang et al. 2021: each position weighted by its own positive gradient.
        AttributionMethod::LayerCam => gradient.relu() * &activation,
        // Draelos & Carin 2020: the element-wise product of gradient and activation.
        AttributionMethod::HiResCam => &gradient * &activation,
        _ => unreachable!("gradient_cam is called for gradient-weighted CAM methods"),
    };
    cam_map(&weighted.sum_dim_intlist(&[1i64][..], false, Kind::Float).relu().get(0))
}

/// Score-CAM (Wang et al. 2020): each channel, upsampled and scaled to [0, 1], masks the picture;
/// its weight is the class probability of the masked picture minus that of a black picture.
fn score_cam(
    net: &dyn Network,
    batch: &Tensor,
    layer: usize,
    class: usize,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Map2d, AttributionError> {
    // One region for every pass (the network's weights are cast to bfloat16 once, not per
    // batch); the masks and the weighted sum in float32.
    let _mixed = mixed(net.device());
    let activation = tch::no_grad(|| net.forward_to(batch, layer, false).to_kind(Kind::Float));
    let channels = activation.size()[1] as usize;
    let side = batch.size()[3];
    let probability =
        |images: &Tensor| tch::no_grad(|| net.logits(&fast_layout(images), false).softmax(1, Kind::Float).select(1, class as i64));
    let baseline = probability(&batch.zeros_like()).double_value(&[0]) as f32;
    // A constant channel carries no spatial information: its mask is all zero, the masked picture
    // black, and its weight p(black) - p(black) = 0. Only the others are run through the network.
    let maps = activation.get(0);
    let spans = to_vec(&(maps.amax(&[1i64, 2][..], false) - maps.amin(&[1i64, 2][..], false)));
    let informative: Vec<i64> = (0..channels as i64).filter(|&c| spans[c as usize] > 0.0).collect();
    let mut weights = vec![0f32; channels];
    for chunk in informative.chunks(BATCH) {
        if cancel.load(Ordering::Relaxed) {
            return Err(AttributionError::Cancelled);
        }
        let masks = tch::no_grad(|| {
            let chosen = Tensor::from_slice(chunk).to_device(maps.device());
            let maps = maps.index_select(0, &chosen).unsqueeze(1).upsample_bilinear2d([side, side], false, None, None);
            let low = maps.amin(&[2i64, 3][..], true);
            let high = maps.amax(&[2i64, 3][..], true);
            let span = &high - &low;
            let valid = span.gt(0.0).to_kind(maps.kind());
            (maps - low) / span.clamp_min(f64::from(f32::EPSILON)) * valid
        });
        let masked = batch * masks;
        for (&channel, p) in chunk.iter().zip(to_vec(&probability(&masked))) {
            weights[channel as usize] = p - baseline;
        }
        // Progress in channels: those skipped count as done.
        let last = chunk.last().map_or(0, |&c| c as usize + 1);
        let done = if last == informative.last().map_or(0, |&c| c as usize + 1) { channels } else { last };
        progress(done, channels);
    }
    if informative.is_empty() {
        progress(channels, channels);
    }
    let weights = Tensor::from_slice(&weights).to_device(batch.device()).to_kind(activation.kind()).view([1, channels as i64, 1, 1]);
    let cam = tch::no_grad(|| (weights * &activation).sum_dim_intlist(&[1i64][..], false, Kind::Float).relu().get(0));
    Ok(cam_map(&cam))
}

/// A layer-resolution map upsampled (bilinear) to the input's n x n.
fn upsample(map: &Map2d, n: usize) -> Map2d {
    let tensor = Tensor::from_slice(&map.values).view([1, 1, map.height as i64, map.width as i64]);
    let up = tensor.upsample_bilinear2d([n as i64, n as i64], false, None, None);
    Map2d { width: n, height: n, values: to_vec(&up) }
}

/// Standard deviation, in pixels, of the blur that faithfulness metrics and the blurred baseline
/// use (as RISE's insertion metric does).
pub const BLUR_SIGMA: f64 = 5.0;

/// A Gaussian blur of a batch [N, 3, H, W] (separable, reflected at the border).
pub fn gaussian_blur(batch: &Tensor, sigma: f64) -> Tensor {
    let radius = (3.0 * sigma).ceil() as i64;
    let taps: Vec<f32> = (-radius..=radius).map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp() as f32).collect();
    let total: f32 = taps.iter().sum();
    let taps: Vec<f32> = taps.iter().map(|t| t / total).collect();
    let length = taps.len() as i64;
    let kernel = Tensor::from_slice(&taps).to_device(batch.device()).to_kind(batch.kind());
    let horizontal = kernel.view([1, 1, 1, length]).repeat([3, 1, 1, 1]);
    let vertical = kernel.view([1, 1, length, 1]).repeat([3, 1, 1, 1]);
    tch::no_grad(|| {
        let padded = batch.reflection_pad2d([radius, radius, 0, 0]);
        let x = padded.conv2d(&horizontal, None::<&Tensor>, [1, 1], [0, 0], [1, 1], 3);
        let padded = x.reflection_pad2d([0, 0, radius, radius]);
        padded.conv2d(&vertical, None::<&Tensor>, [1, 1], [0, 0], [1, 1], 3)
    })
}

/// Edge strength (Sobel gradient magnitude of the grey picture), 100 x 100, not normalised.
fn sobel_edges(batch: &Tensor) -> Map2d {
    let device = batch.device();
    let grey = tch::no_grad(|| {
        let weights = Tensor::from_slice(&[0.299f32, 0.587, 0.114]).to_device(device).to_kind(batch.kind()).view([1, 3, 1, 1]);
        (batch * weights).sum_dim_intlist(&[1i64][..], true, Kind::Float)
    });
    let kernel = |values: [f32; 9]| Tensor::from_slice(&values).view([1, 1, 3, 3]).to_device(device);
    let gx = kernel([-1.0, 0.0, 1.0, -2.0, 0.0, 2.0, -1.0, 0.0, 1.0]);
    let gy = kernel([-1.0, -2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 1.0]);
    let magnitude = tch::no_grad(|| {
        let padded = grey.replication_pad2d([1, 1, 1, 1]);
        let x = padded.conv2d(&gx, None::<&Tensor>, [1, 1], [0, 0], [1, 1], 1);
        let y = padded.conv2d(&gy, None::<&Tensor>, [1, 1], [0, 0], [1, 1], 1);
        (&x * &x + &y * &y).sqrt()
    });
    let n = batch.size()[3] as usize;
    Map2d { width: n, height: n, values: to_vec(&magnitude) }
}
