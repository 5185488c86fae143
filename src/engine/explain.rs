//! Looking inside the network for one image: model summary, feature maps, filters, saliency
//! (and SmoothGrad), Grad-CAM, occlusion and feature visualisation (activation maximisation).
//! Everything returns plain data ([`Map2d`], `RgbImage`) for the window and the CLI.

use std::sync::atomic::{AtomicBool, Ordering};

use image::{Rgb, RgbImage};
use tch::{Device, Kind, Tensor};

use super::image_input::{images_to_tensor_any, tensor_to_rgb};
use super::model::{CONV_SPECS, INPUT_SIZE, Layer, Net, layer_output_shape, parameter_shapes};
use super::network::Network;
use super::render::{Map2d, montage};
use super::rng::SeededRng;

/// One row of the model summary.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSummary {
    pub layer: Layer,
    /// What the layer does, as numbers; the app words it in the UI language.
    pub kind: LayerKind,
    pub output_shape: Vec<i64>,
    pub parameters: i64,
    /// Side of the input square that can influence one output unit (the whole image for fc).
    pub receptive_field: i64,
}

/// The operation of a layer of the paper's network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// Convolution (kernel x kernel), ReLU, then 2x2 max-pooling.
    ConvReluPool { kernel: i64, in_channels: i64, out_channels: i64 },
    /// Fully connected, ReLU and dropout 0.5.
    DenseReluDropout { inputs: i64, outputs: i64 },
    /// Fully connected to one logit per class.
    Logits { inputs: i64 },
    /// A stage of another network (a block of convolutions); `stride` input pixels per output.
    Block { stride: i64 },
    /// Averages each channel over the grid.
    GlobalPool,
}

/// Layers, output shapes, parameter counts and receptive fields of the paper's network.
pub fn model_summary(num_classes: usize) -> Vec<LayerSummary> {
    let shapes = parameter_shapes(num_classes as i64);
    let parameters = |layer: Layer| -> i64 {
        shapes.iter().filter(|(name, _)| name.split('.').next() == Some(layer.name())).map(|(_, shape)| shape.iter().product::<i64>()).sum()
    };
    let (mut field, mut jump) = (1, 1);
    let mut rows = Vec::new();
    for spec in CONV_SPECS {
        field += (spec.kernel - 1) * jump; // the convolution
        field += jump; // 2x2 max-pool
        jump *= 2;
        rows.push(LayerSummary {
            layer: spec.layer,
            kind: LayerKind::ConvReluPool { kernel: spec.kernel, in_channels: spec.in_channels, out_channels: spec.out_channels },
            output_shape: layer_output_shape(spec.layer, num_classes as i64),
            parameters: parameters(spec.layer),
            receptive_field: field,
        });
    }
    for (layer, kind) in [
        (Layer::FC1, LayerKind::DenseReluDropout { inputs: 4608, outputs: 1024 }),
        (Layer::FC2, LayerKind::DenseReluDropout { inputs: 1024, outputs: 512 }),
        (Layer::FC3, LayerKind::Logits { inputs: 512 }),
    ] {
        rows.push(LayerSummary {
            layer,
            kind,
            output_shape: layer_output_shape(layer, num_classes as i64),
            parameters: parameters(layer),
            receptive_field: INPUT_SIZE,
        });
    }
    rows
}

/// A single image as a batch of one on the network's device.
pub fn image_batch(net: &dyn Network, image: &RgbImage) -> Tensor {
    images_to_tensor_any(std::iter::once(image)).to_device(net.device()).to_kind(crate::engine::network::network_kind(net))
}

fn to_vec(tensor: &Tensor) -> Vec<f32> {
    let flat = tensor.detach().to_device(Device::Cpu).to_kind(Kind::Float).contiguous().flatten(0, -1);
    Vec::<f32>::try_from(&flat).expect("a float tensor")
}

/// The outputs of one layer for one image: `channels` maps of `height` x `width` (fc layers: one
/// row of units, shown as 1 x 1 maps).
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMaps {
    pub layer: Layer,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

/// How feature maps are scaled to grey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapNormalisation {
    /// Each channel by its own range: shows the pattern of weak channels too.
    PerChannel,
    /// All channels of the layer by the layer's range: shows which channels are strong.
    PerLayer,
    /// All layers by one range (pass it in): compares layers.
    Global,
}

impl FeatureMaps {
    pub fn channel(&self, channel: usize) -> Map2d {
        let size = self.height * self.width;
        Map2d { width: self.width, height: self.height, values: self.values[channel * size..(channel + 1) * size].to_vec() }
    }

    pub fn range(&self) -> (f32, f32) {
        let low = self.values.iter().copied().fold(f32::INFINITY, f32::min);
        let high = self.values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        (low, high)
    }

    /// Every channel as a grey tile, scaled as asked (`global` is the range used for `Global`).
    pub fn montage(&self, normalisation: MapNormalisation, global: (f32, f32)) -> RgbImage {
        let (low, high) = match normalisation {
            MapNormalisation::PerLayer => self.range(),
            MapNormalisation::Global => global,
            MapNormalisation::PerChannel => (0.0, 0.0),
        };
        // Small maps are enlarged so every tile is at least ~24 px.
        let scale = (24 / self.width.max(1)).max(1) as u32;
        let tiles: Vec<RgbImage> = (0..self.channels)
            .map(|c| {
                let map = self.channel(c);
                let map = if normalisation == MapNormalisation::PerChannel {
                    map.normalised()
                } else {
                    let span = (high - low).max(f32::EPSILON);
                    Map2d { values: map.values.iter().map(|v| (v - low) / span).collect(), ..map }
                };
                super::render::grey_image(&map, scale)
            })
            .collect();
        let columns = if self.height == 1 { 32 } else { (self.channels as f64).sqrt().ceil() as usize };
        montage(&tiles, columns)
    }
}

/// Every layer's outputs for `image`.
/// The layers of any network as summary rows: shapes, parameters, receptive fields.
pub fn network_summary(net: &dyn Network) -> Vec<LayerSummary> {
    let spec = net.spec();
    let side = spec.input_size;
    let mut inputs = 0;
    spec.layers
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            let kind = match layer.kind {
                crate::engine::network::LayerKind::Spatial => LayerKind::Block { stride: layer.stride },
                crate::engine::network::LayerKind::Vector => LayerKind::GlobalPool,
                crate::engine::network::LayerKind::Logits => LayerKind::Logits { inputs },
            };
            inputs = layer.channels();
            let receptive_field = if layer.is_spatial() { layer.receptive_field.min(side) } else { side };
            LayerSummary {
                layer: Layer::named(&layer.name),
                kind,
                output_shape: layer.shape.clone(),
                parameters: net.layer_parameters(index),
                receptive_field,
            }
        })
        .collect()
}

/// Every channel of layer `index` of any network (`layer` is its name) for `image`.
pub fn feature_maps_at(net: &dyn Network, image: &RgbImage, layer: Layer, index: usize) -> FeatureMaps {
    let batch = image_batch(net, image);
    let output = tch::no_grad(|| net.forward_to(&batch, index, false)).get(0);
    let size = output.size();
    let (channels, height, width) = match size.as_slice() {
        [c, h, w] => (*c as usize, *h as usize, *w as usize),
        [units] => (*units as usize, 1, 1),
        _ => (output.numel(), 1, 1),
    };
    FeatureMaps { layer, channels, height, width, values: to_vec(&output) }
}

pub fn all_feature_maps(net: &Net, image: &RgbImage) -> Vec<FeatureMaps> {
    let batch = image_batch(net, image);
    let activations = tch::no_grad(|| net.forward_all(&batch, false));
    Layer::ALL
        .iter()
        .map(|&layer| {
            let output = activations.get(layer).get(0);
            let size = output.size();
            let (channels, height, width) = match size.as_slice() {
                [c, h, w] => (*c as usize, *h as usize, *w as usize),
                [units] => (*units as usize, 1, 1),
                _ => unreachable!("layer outputs are 1-D or 3-D"),
            };
            FeatureMaps { layer, channels, height, width, values: to_vec(&output) }
        })
        .collect()
}

/// The paper's single feature map (section 5): the channel of conv2 with the largest maximum,
/// minus its mean, divided by its standard deviation, x64, +128, clipped to 0..255. Returns the
/// channel and the map with values in [0, 1] (grey level / 255).
pub fn paper_feature_map(conv2: &FeatureMaps) -> (usize, Map2d) {
    let channel = (0..conv2.channels).max_by(|&a, &b| conv2.channel(a).max().total_cmp(&conv2.channel(b).max())).unwrap_or(0);
    let map = conv2.channel(channel);
    let n = map.values.len() as f32;
    let mean = map.values.iter().sum::<f32>() / n;
    let std = (map.values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
    let values = map
        .values
        .iter()
        .map(|v| {
            let grey = if std > 0.0 { (v - mean) / std * 64.0 + 128.0 } else { 128.0 };
            grey.clamp(0.0, 255.0).floor() / 255.0
        })
        .collect();
    (channel, Map2d { values, ..map })
}

/// The kernels of a conv layer: conv1 as colour tiles (one per filter), deeper layers as grey
/// tiles (one row of input-channel kernels per filter). Each filter is scaled by its own range.
pub fn filter_montage(net: &Net, layer: Layer) -> Option<RgbImage> {
    CONV_SPECS.iter().find(|spec| spec.layer == layer)?;
    let weights = net.vs.variables().get(&format!("{layer}.weight"))?.detach();
    Some(kernel_montage(&weights))
}

/// The kernels of layer `layer`'s stage in any network: its first convolution (by name) wider
/// than 1 x 1, `[out, in, k, k]`; None for a stage without one (pooling, a 1 x 1 head).
pub fn stage_kernels(net: &dyn Network, layer: usize) -> Option<Tensor> {
    let prefixes = net.layer_prefixes(layer);
    let mut candidates: Vec<(String, Tensor)> = net
        .var_store()
        .variables()
        .into_iter()
        .filter(|(name, weights)| {
            let size = weights.size();
            prefixes.iter().any(|p| name.starts_with(p.as_str())) && size.len() == 4 && size[2] > 1 && size[3] > 1
        })
        .collect();
    candidates.sort_by(|a, b| a.0.cmp(&b.0));
    candidates.into_iter().next().map(|(_, weights)| weights.detach())
}

/// Most kernels and input channels a montage shows (the paper's largest layer has 128 of each).
const MAX_KERNELS_SHOWN: i64 = 128;

/// Kernels `[out, in, k, k]` as tiles, each normalised on its own: in colour for a layer that
/// sees the picture (8 a row), grey otherwise, a row per kernel with a tile per input channel
/// (depthwise kernels, one input each, 16 a row); at most 128 kernels of 128 inputs.
pub fn kernel_montage(weights: &Tensor) -> RgbImage {
    let size = weights.size();
    let (outputs, inputs, k) = (size[0].min(MAX_KERNELS_SHOWN), size[1].min(MAX_KERNELS_SHOWN), size[2] as usize);
    let weights = weights.narrow(0, 0, outputs).narrow(1, 0, inputs).to_device(Device::Cpu).to_kind(Kind::Float);
    let colour = inputs == 3;
    let scale = if colour { 6u32 } else { 2 };
    let side = k as u32 * scale;
    let mut tiles = Vec::new();
    for out in 0..outputs {
        let filter = to_vec(&weights.get(out));
        let (low, high) = filter.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        let span = (high - low).max(f32::EPSILON);
        let level = |v: f32| (((v - low) / span) * 255.0).round() as u8;
        if colour {
            tiles.push(RgbImage::from_fn(side, side, |x, y| {
                let (xx, yy) = ((x / scale) as usize, (y / scale) as usize);
                Rgb(std::array::from_fn(|c| level(filter[c * k * k + yy * k + xx])))
            }));
        } else {
            for input in 0..inputs as usize {
                tiles.push(RgbImage::from_fn(side, side, |x, y| {
                    let v = level(filter[input * k * k + (y / scale) as usize * k + (x / scale) as usize]);
                    Rgb([v, v, v])
                }));
            }
        }
    }
    let columns = match inputs {
        3 => 8,
        1 => 16,
        n => n as usize,
    };
    montage(&tiles, columns)
}

/// Gradient of `class`'s logit with respect to the input pixels, as |gradient| maximised over
/// colour channels (100 x 100, not normalised).
pub fn saliency(net: &Net, image: &RgbImage, class: usize) -> Map2d {
    saliency_of_batch(net, &image_batch(net, image), class)
}

fn saliency_of_batch(net: &Net, batch: &Tensor, class: usize) -> Map2d {
    let input = batch.detach().set_requires_grad(true);
    let logit = net.forward(&input, false).narrow(1, class as i64, 1).sum(Kind::Float);
    let gradient = Tensor::run_backward(&[logit], &[&input], false, false).remove(0);
    let map = gradient.abs().amax([1], false).mean_dim(&[0i64][..], false, Kind::Float);
    Map2d { width: INPUT_SIZE as usize, height: INPUT_SIZE as usize, values: to_vec(&map) }
}

/// SmoothGrad: the saliency averaged over `samples` copies of the image with Gaussian noise of
/// standard deviation `noise` (in [0, 1] pixel units), seeded.
pub fn smooth_grad(net: &Net, image: &RgbImage, class: usize, samples: usize, noise: f64, seed: u64) -> Map2d {
    let batch = image_batch(net, image);
    let noisy = batch.repeat([samples.max(1) as i64, 1, 1, 1]);
    let noise = SeededRng::new(seed).normal_tensor(&noisy.size(), noisy.device()).to_kind(noisy.kind()) * noise;
    let noisy = &noisy + noise;
    saliency_of_batch(net, &noisy, class)
}

/// A Grad-CAM result.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCam {
    /// ReLU(sum_k w_k A_k) at the layer's resolution (not normalised).
    pub raw: Map2d,
    /// The raw map upsampled (bilinear) to 100 x 100 and scaled to [0, 1].
    pub upsampled: Map2d,
    /// True when no position has positive evidence for the class (the raw map is all zero).
    pub all_zero: bool,
}

/// Grad-CAM for `class` at conv `layer`: channel weights are the spatial mean of the gradient of
/// the class logit with respect to the layer's output.
pub fn grad_cam(net: &Net, image: &RgbImage, layer: Layer, class: usize) -> GradCam {
    let batch = image_batch(net, image);
    let activation = tch::no_grad(|| net.forward_until(&batch, layer, false).get(layer).shallow_clone()).detach().set_requires_grad(true);
    let logit = net.forward_from(layer, &activation, false).narrow(1, class as i64, 1).sum(Kind::Float);
    let gradient = Tensor::run_backward(&[logit], &[&activation], false, false).remove(0);
    let weights = gradient.mean_dim(&[2i64, 3][..], true, Kind::Float);
    let cam = (weights * activation.detach()).sum_dim_intlist(&[1i64][..], true, Kind::Float).relu();
    let size = cam.size();
    let raw = Map2d { width: size[3] as usize, height: size[2] as usize, values: to_vec(&cam) };
    let all_zero = raw.max() <= 0.0;
    let up = cam.upsample_bilinear2d([INPUT_SIZE, INPUT_SIZE], false, None, None);
    let upsampled = Map2d { width: INPUT_SIZE as usize, height: INPUT_SIZE as usize, values: to_vec(&up) }.normalised();
    GradCam { raw, upsampled, all_zero }
}

/// An occlusion result.
#[derive(Clone, Debug, PartialEq)]
pub struct Occlusion {
    /// The class probability of the unoccluded image.
    pub base_probability: f32,
    /// Drop in probability for each patch position (rows of `stride` steps).
    pub per_patch: Map2d,
    /// Per pixel, the mean drop over the patches covering it (100 x 100).
    pub per_pixel: Map2d,
}

/// Top-left corners of the patches: every `stride` pixels, the last flush with the edge.
pub fn occlusion_positions(side: usize, patch: usize, stride: usize) -> Vec<usize> {
    let last = side.saturating_sub(patch);
    let mut positions: Vec<usize> = (0..=last).step_by(stride.max(1)).collect();
    if positions.last() != Some(&last) {
        positions.push(last);
    }
    positions
}

/// Slides a grey (0.5) `patch` x `patch` square over the image every `stride` pixels and records
/// how much `class`'s probability drops. Batched (64 occluded images per forward pass); reports
/// `progress(done, total)`; returns None when cancelled.
pub fn occlusion(
    net: &dyn Network,
    image: &RgbImage,
    class: usize,
    patch: usize,
    stride: usize,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Option<Occlusion> {
    let side = image.width() as usize;
    let patch = patch.clamp(1, side);
    let batch = image_batch(net, image);
    let positions = occlusion_positions(side, patch, stride);
    let corners: Vec<(usize, usize)> = positions.iter().flat_map(|&y| positions.iter().map(move |&x| (x, y))).collect();
    // The network's passes in the process's precision; probabilities and drops in float32.
    let _mixed = super::precision::mixed(net.device());
    let base_probability = tch::no_grad(|| net.logits(&batch, false).softmax(1, Kind::Float).double_value(&[0, class as i64])) as f32;
    let mut drops = Vec::with_capacity(corners.len());
    for chunk in corners.chunks(64) {
        if cancel.load(Ordering::Relaxed) {
            return None;
        }
        let occluded = batch.repeat([chunk.len() as i64, 1, 1, 1]);
        for (i, &(x, y)) in chunk.iter().enumerate() {
            let _ = occluded.get(i as i64).narrow(1, y as i64, patch as i64).narrow(2, x as i64, patch as i64).fill_(0.5);
        }
        let probabilities =
            tch::no_grad(|| net.logits(&super::precision::fast_layout(&occluded), false).softmax(1, Kind::Float).select(1, class as i64));
        drops.extend(to_vec(&probabilities).into_iter().map(|p| base_probability - p));
        progress(drops.len(), corners.len());
    }
    let mut sum = vec![0f32; side * side];
    let mut count = vec![0f32; side * side];
    for (&(x0, y0), &drop) in corners.iter().zip(&drops) {
        for y in y0..y0 + patch {
            for x in x0..x0 + patch {
                sum[y * side + x] += drop;
                count[y * side + x] += 1.0;
            }
        }
    }
    let per_pixel = sum.iter().zip(&count).map(|(s, c)| if *c > 0.0 { s / c } else { 0.0 }).collect();
    Some(Occlusion {
        base_probability,
        per_patch: Map2d { width: positions.len(), height: positions.len(), values: drops },
        per_pixel: Map2d { width: side, height: side, values: per_pixel },
    })
}

/// What feature visualisation maximises.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VisObjective {
    /// The mean activation of one channel (conv) or unit (fc) of a layer.
    Channel { layer: Layer, channel: usize },
    /// One class's logit.
    Class(usize),
    /// The sum of two classes' logits ("what would be both").
    TwoClasses(usize, usize),
}

/// Settings of feature visualisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VisConfig {
    pub steps: usize,
    pub learning_rate: f64,
    pub seed: u64,
    /// Random translation each step, in pixels (applied twice, before and after scale/rotate).
    pub jitter: f64,
    /// Random scale in [1 - scale, 1 + scale].
    pub scale: f64,
    /// Random rotation in [-rotate, rotate] degrees.
    pub rotate_degrees: f64,
}

impl Default for VisConfig {
    fn default() -> Self {
        VisConfig { steps: 256, learning_rate: 0.05, seed: 0, jitter: 2.0, scale: 0.05, rotate_degrees: 8.0 }
    }
}

/// The colour correlation of natural images (its square root), used by feature visualisation so
/// that optimising in a decorrelated space gives natural colours.
const COLOUR_CORRELATION: [[f64; 3]; 3] = [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]];

/// How feature visualisation turns its decorrelated colour channels into RGB: a square root of a
/// colour covariance (rows are output channels) and the colour a blank picture has. Natural
/// images' by default; an atlas measures its own data's, so a network trained on grey pictures
/// gets grey icons instead of colours it never saw.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColourModel {
    // f32: stored in atlas headers as JSON, where f32 values round-trip exactly.
    pub sqrt_covariance: [[f32; 3]; 3],
    pub mean: [f32; 3],
}

/// Running sums of pixel colours, for a [`ColourModel`] of pictures seen one at a time. Integer
/// sums: exact, so pictures may be added in any order or in parallel with the same result (255²
/// per pixel fits a u64 for over 10¹⁴ pixels).
#[derive(Clone, Debug, Default)]
pub struct ColourStatistics {
    pixels: u64,
    sum: [u64; 3],
    products: [[u64; 3]; 3],
}

impl ColourStatistics {
    pub fn add(&mut self, image: &RgbImage) {
        for pixel in image.pixels() {
            let v = pixel.0.map(u64::from);
            for a in 0..3 {
                self.sum[a] += v[a];
                for b in a..3 {
                    self.products[a][b] += v[a] * v[b];
                }
            }
        }
        self.pixels += u64::from(image.width()) * u64::from(image.height());
    }

    /// Both sets of sums together.
    pub fn merge(mut self, other: &ColourStatistics) -> ColourStatistics {
        self.pixels += other.pixels;
        for a in 0..3 {
            self.sum[a] += other.sum[a];
            for b in 0..3 {
                self.products[a][b] += other.products[a][b];
            }
        }
        self
    }

    /// The model of every pixel added (values in [0, 1]): natural images' when there were none.
    pub fn model(&self) -> ColourModel {
        if self.pixels == 0 {
            return ColourModel::natural();
        }
        let count = self.pixels as f64;
        let mean = self.sum.map(|s| s as f64 / 255.0 / count);
        let covariance: [[f64; 3]; 3] = std::array::from_fn(|a| {
            std::array::from_fn(|b| self.products[a.min(b)][a.max(b)] as f64 / (255.0 * 255.0) / count - mean[a] * mean[b])
        });
        ColourModel { sqrt_covariance: symmetric_sqrt(covariance).map(|row| row.map(|v| v as f32)), mean: mean.map(|m| m as f32) }
    }
}

impl ColourModel {
    /// Natural images' colour correlation (ImageNet's, as published with Lucid), centred on grey.
    pub fn natural() -> ColourModel {
        ColourModel { sqrt_covariance: COLOUR_CORRELATION.map(|row| row.map(|v| v as f32)), mean: [0.5; 3] }
    }

    /// The colour statistics of `images`' pixels (values in [0, 1]): their mean and the symmetric
    /// square root of their covariance. One pass; memory does not grow with the images.
    pub fn of_images<'a>(images: impl IntoIterator<Item = &'a RgbImage>) -> ColourModel {
        let mut statistics = ColourStatistics::default();
        images.into_iter().for_each(|image| statistics.add(image));
        statistics.model()
    }

    fn matrix(&self, device: Device) -> Tensor {
        // Scaled so the largest column has unit norm: the optimiser's step means the same
        // whatever the data's contrast.
        let m = &self.sqrt_covariance;
        let max_norm = (0..3).map(|c| m.iter().map(|row| row[c] * row[c]).sum::<f32>().sqrt()).fold(0.0, f32::max).max(1e-12);
        let flat: Vec<f32> = m.iter().flatten().map(|v| v / max_norm).collect();
        Tensor::from_slice(&flat).view([3, 3]).to_device(device)
    }

    /// Per channel, the value before the sigmoid that gives the mean colour.
    fn bias(&self, device: Device) -> Tensor {
        let logits: Vec<f32> = self.mean.iter().map(|m| m.clamp(0.02, 0.98)).map(|m| (m / (1.0 - m)).ln()).collect();
        Tensor::from_slice(&logits).view([1, 3, 1, 1]).to_device(device)
    }
}

/// The symmetric positive semi-definite square root of a symmetric 3 x 3 matrix, by Jacobi
/// rotations (eigenvalues below zero, from rounding, count as zero).
#[allow(clippy::needless_range_loop)] // index arithmetic on 3 x 3 matrices reads as the maths does
fn symmetric_sqrt(matrix: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut a = matrix;
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _ in 0..64 {
        let (mut p, mut q, mut largest) = (0, 1, 0.0);
        for i in 0..3 {
            for j in i + 1..3 {
                if a[i][j].abs() > largest {
                    (p, q, largest) = (i, j, a[i][j].abs());
                }
            }
        }
        if largest < 1e-15 {
            break;
        }
        let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
        let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
        let t = if theta == 0.0 { 1.0 } else { t };
        let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
        // a ← Jᵀ a J, v ← v J for the rotation J in the (p, q) plane.
        for k in 0..3 {
            let (akp, akq) = (a[k][p], a[k][q]);
            a[k][p] = c * akp - s * akq;
            a[k][q] = s * akp + c * akq;
        }
        for k in 0..3 {
            let (apk, aqk) = (a[p][k], a[q][k]);
            a[p][k] = c * apk - s * aqk;
            a[q][k] = s * apk + c * aqk;
        }
        for row in &mut v {
            let (vkp, vkq) = (row[p], row[q]);
            row[p] = c * vkp - s * vkq;
            row[q] = s * vkp + c * vkq;
        }
    }
    let roots = [a[0][0].max(0.0).sqrt(), a[1][1].max(0.0).sqrt(), a[2][2].max(0.0).sqrt()];
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| v[i][k] * roots[k] * v[j][k]).sum()))
}

/// A batch of images parameterised by Fourier coefficients (scaled by 1/frequency) in a
/// colour-decorrelated space, mapped to [0, 1] by a sigmoid.
pub struct FourierImages {
    pub spectrum: Tensor,
    scale: Tensor,
    colour: Tensor,
    bias: Tensor,
    size: i64,
}

impl FourierImages {
    pub fn new(count: i64, size: i64, device: Device, rng: &mut SeededRng, colours: &ColourModel) -> FourierImages {
        let width_freqs = size / 2 + 1;
        let fy = Tensor::fft_fftfreq(size, 1.0, (Kind::Float, device)).unsqueeze(1);
        let fx = Tensor::fft_rfftfreq(size, 1.0, (Kind::Float, device)).unsqueeze(0);
        let frequencies = (&fy * &fy + &fx * &fx).sqrt();
        let scale = frequencies.clamp_min(1.0 / size as f64).reciprocal() * (size as f64);
        let spectrum = (rng.normal_tensor(&[count, 3, size, width_freqs, 2], device) * 0.01).set_requires_grad(true);
        FourierImages { spectrum, scale: scale.unsqueeze(-1), colour: colours.matrix(device), bias: colours.bias(device), size }
    }

    /// The images [N, 3, size, size] in [0, 1], differentiable with respect to the spectrum.
    pub fn images(&self) -> Tensor {
        let complex = (&self.spectrum * &self.scale).view_as_complex();
        let decorrelated = complex.fft_irfft2(&[self.size, self.size][..], [-2, -1], "backward") / 4.0;
        let coloured = decorrelated.permute([0, 2, 3, 1]).matmul(&self.colour.tr()).permute([0, 3, 1, 2]);
        (coloured + &self.bias).sigmoid()
    }
}

/// Random jitter, scale and rotation of a batch (each image its own), for transformation
/// robustness: without it the optimum is high-frequency noise.
pub fn random_transform(images: &Tensor, config: &VisConfig, rng: &mut SeededRng) -> Tensor {
    let size = images.size();
    let count = size[0];
    let side = size[3] as f64;
    let mut theta = Vec::with_capacity(count as usize * 6);
    for _ in 0..count {
        let scale = rng.uniform(1.0 - config.scale, 1.0 + config.scale);
        let angle = rng.uniform(-config.rotate_degrees, config.rotate_degrees).to_radians();
        // Two jitters (before and after) combine into one translation; normalised coordinates.
        let shift = |rng: &mut SeededRng| {
            2.0 * (rng.uniform(-config.jitter, config.jitter) + rng.uniform(-config.jitter, config.jitter) * 0.5) / side
        };
        let (tx, ty) = (shift(rng), shift(rng));
        let (cos, sin) = (angle.cos() / scale, angle.sin() / scale);
        theta.extend_from_slice(&[cos as f32, -sin as f32, tx as f32, sin as f32, cos as f32, ty as f32]);
    }
    let theta = Tensor::from_slice(&theta).view([count, 2, 3]).to_device(images.device());
    let grid = Tensor::affine_grid_generator(&theta, size.as_slice(), false);
    images.grid_sampler(&grid, 0, 2, false) // bilinear, reflection padding
}

/// The objective per batch item for `images` [N, 3, 100, 100], in float32; the network's pass in
/// the process's precision (the picture's parameterisation and the optimiser stay float32).
pub fn objective_values(net: &dyn Network, images: &Tensor, objective: VisObjective) -> Tensor {
    let _mixed = super::precision::mixed(net.device());
    let values = match objective {
        VisObjective::Channel { layer, channel } => {
            // A layer the network does not have was refused when the objective was made; the
            // logits stand in rather than a panic on a worker.
            let index = net.spec().layer_index(layer.name()).unwrap_or(net.spec().layers.len() - 1);
            let output = net.forward_to(images, index, false).select(1, channel as i64);
            if output.dim() > 1 { output.mean_dim(&[1i64, 2][..], false, Kind::Float) } else { output }
        }
        VisObjective::Class(class) => net.logits(images, false).select(1, class as i64),
        VisObjective::TwoClasses(a, b) => {
            let logits = net.logits(images, false);
            logits.select(1, a as i64) + logits.select(1, b as i64)
        }
    };
    values.to_kind(Kind::Float)
}

/// Minimal Adam for one tensor of parameters (the image spectrum); the network stays untouched.
pub struct TensorAdam {
    m: Tensor,
    v: Tensor,
    step: i32,
    pub learning_rate: f64,
}

impl TensorAdam {
    pub fn new(parameters: &Tensor, learning_rate: f64) -> TensorAdam {
        TensorAdam { m: parameters.zeros_like(), v: parameters.zeros_like(), step: 0, learning_rate }
    }

    /// One ascent step along `gradient` (maximising).
    pub fn ascend(&mut self, parameters: &Tensor, gradient: &Tensor) {
        let (beta1, beta2, epsilon) = (0.9, 0.999, 1e-8);
        self.step += 1;
        tch::no_grad(|| {
            self.m = &self.m * beta1 + gradient * (1.0 - beta1);
            self.v = &self.v * beta2 + gradient * gradient * (1.0 - beta2);
            let m_hat = &self.m / (1.0 - beta1.powi(self.step));
            let v_hat = &self.v / (1.0 - beta2.powi(self.step));
            let update = m_hat / (v_hat.sqrt() + epsilon) * self.learning_rate;
            let mut parameters = parameters.shallow_clone();
            let _ = parameters.g_add_(&update);
        });
    }
}

/// Feature visualisation: gradient ascent on a Fourier-parameterised image so that `objective`
/// is as large as possible, under random transformations each step. `on_step(step, value,
/// image)` is called every step (with a picture every `preview_every` steps) and returns false to
/// stop early. Returns the final picture and the objective after each step (on the untransformed
/// image every `preview_every` steps, on the transformed batch otherwise).
pub fn visualize(
    net: &dyn Network,
    objective: VisObjective,
    config: &VisConfig,
    preview_every: usize,
    on_step: &mut dyn FnMut(usize, f32, Option<RgbImage>) -> bool,
) -> (RgbImage, Vec<f32>) {
    let mut rng = SeededRng::new(config.seed);
    let images = FourierImages::new(1, net.spec().input_size, net.device(), &mut rng, &ColourModel::natural());
    let mut adam = TensorAdam::new(&images.spectrum, config.learning_rate);
    let mut history = Vec::with_capacity(config.steps);
    for step in 1..=config.steps {
        let transformed = random_transform(&images.images(), config, &mut rng);
        let value = objective_values(net, &transformed, objective).sum(Kind::Float);
        let gradient = Tensor::run_backward(&[&value], &[&images.spectrum], false, false).remove(0);
        adam.ascend(&images.spectrum, &gradient);
        let value = value.double_value(&[]) as f32;
        history.push(value);
        let preview = (preview_every > 0 && (step % preview_every == 0 || step == config.steps))
            .then(|| tch::no_grad(|| tensor_to_rgb(&images.images().get(0))));
        if !on_step(step, value, preview) {
            break;
        }
    }
    let picture = tch::no_grad(|| tensor_to_rgb(&images.images().get(0)));
    (picture, history)
}

/// The objective of the untransformed current image (for reporting and tests).
pub fn objective_of_picture(net: &dyn Network, picture: &RgbImage, objective: VisObjective) -> f32 {
    tch::no_grad(|| objective_values(net, &image_batch(net, picture), objective).double_value(&[0])) as f32
}
