//! Rendering cells as icons: one feature visualisation per cell, all cells of a batch optimised
//! together. Objective at the centre position of the layer: dot(h, v) * max(0.1, cos(h, v))^4.

use std::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;
use tch::{Kind, Tensor};

use super::source::network_kind;
use crate::engine::explain::{ColourModel, FourierImages, TensorAdam, VisConfig, random_transform};
use crate::engine::image_input::tensor_to_rgb;
use crate::engine::model::{Layer, paper_net};
use crate::engine::network::Network;
use crate::engine::precision::mixed;
use crate::engine::rng::SeededRng;

/// Side of an icon in pixels: about twice the layer's receptive field, so the pattern has room.
pub fn icon_size(layer: Layer) -> i64 {
    match layer {
        Layer::CONV1 => 16,
        Layer::CONV2 => 24,
        Layer::CONV3 => 40,
        _ => 64,
    }
}

/// Icon rendering settings.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IconParams {
    pub steps: usize,
    pub learning_rate: f64,
    pub batch: usize,
    pub seed: u64,
}

impl Default for IconParams {
    fn default() -> Self {
        IconParams { steps: 128, learning_rate: 0.05, batch: 256, seed: 0 }
    }
}

/// The objective per batch item: dot(h, v) * max(0.1, cos(h, v))^4 at the centre position.
/// With `pre_relu`, h is taken before the layer's last ReLU where the centre can be computed on
/// its own, so a channel the direction needs but the picture leaves off still gets a gradient.
/// Other networks than the paper's take h after the layer as it is.
fn direction_objective(net: &dyn Network, images: &Tensor, layer: Layer, directions: &Tensor, pre_relu: bool) -> Tensor {
    let paper = paper_net(net);
    let centre = paper.and_then(|paper| {
        let _mixed = mixed(net.device());
        let centre = if pre_relu { paper.centre_pre_relu(images, layer) } else { paper.centre_activation(images, layer) };
        centre.map(|h| h.to_kind(directions.kind()))
    });
    let h = centre.unwrap_or_else(|| centre_of_layer(net, images, layer).to_kind(directions.kind())); // [N, C]
    let dot = (&h * directions).sum_dim_intlist(&[1i64][..], false, Kind::Float);
    let norms = h.norm_scalaropt_dim(2.0, &[1i64][..], false) * directions.norm_scalaropt_dim(2.0, &[1i64][..], false);
    let cosine = &dot / norms.clamp_min(1e-8);
    dot * cosine.clamp_min(0.1).pow_tensor_scalar(4.0)
}

/// How well an icon shows its cell, measured on the finished 8-bit icon: the cosine between the
/// activation at its centre and the cell's direction, and the objective it reaches there.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IconFidelity {
    pub cosine: f32,
    pub objective: f32,
}

/// Layer `layer`'s activation at the centre of its grid, `[N, C]`, from a pass in the process's
/// precision (bfloat16 where it computes in mixed precision: convert before summing).
fn centre_of_layer(net: &dyn Network, images: &Tensor, layer: Layer) -> Tensor {
    let _mixed = mixed(net.device());
    let activation = match paper_net(net) {
        Some(paper) => paper.forward_until(images, layer, false).get(layer).shallow_clone(),
        None => net.forward_to(images, net.spec().layer_index(layer.name()).unwrap_or(0), false),
    };
    let (height, width) = (activation.size()[2], activation.size()[3]);
    activation.select(3, width / 2).select(2, height / 2)
}

/// The fidelity of each icon to its direction (`icons.len() x dim`), in one batch.
pub fn icon_fidelity(net: &dyn Network, layer: Layer, icons: &[RgbImage], directions: &[f32], dim: usize) -> Vec<IconFidelity> {
    if icons.is_empty() {
        return Vec::new();
    }
    tch::no_grad(|| {
        let kind = network_kind(net);
        let batch = crate::engine::image_input::images_to_tensor_any(icons.iter()).to_device(net.device()).to_kind(kind);
        let targets = Tensor::from_slice(&directions[..icons.len() * dim])
            .view([icons.len() as i64, dim as i64])
            .to_device(net.device())
            .to_kind(kind);
        let objective = direction_objective(net, &batch, layer, &targets, false);
        let h = centre_of_layer(net, &batch, layer).to_kind(kind);
        let cosine = (&h * &targets).sum_dim_intlist(&[1i64][..], false, Kind::Float)
            / (h.norm_scalaropt_dim(2.0, &[1i64][..], false) * targets.norm_scalaropt_dim(2.0, &[1i64][..], false)).clamp_min(1e-8);
        let floats = |t: Tensor| Vec::<f32>::try_from(t.to_kind(Kind::Float).to_device(tch::Device::Cpu)).expect("floats");
        floats(cosine).into_iter().zip(floats(objective)).map(|(cosine, objective)| IconFidelity { cosine, objective }).collect()
    })
}

/// An icon whose centre activation points less along its cell's direction than this (cosine) is
/// rendered again, from another random start and with the first half of its steps taken before
/// the last ReLU: a direction made mostly of a channel that the start leaves off gives that
/// channel no gradient through the ReLU, and the icon would show neighbouring channels instead.
pub const RETRY_BELOW_COSINE: f32 = 0.9;
/// Fresh starts tried for such an icon; the one whose centre matches best is kept.
pub const RETRIES: u64 = 2;

/// What one level's icons are rendered with: the network and layer the directions (each `dim`
/// floats) live in, the optimiser settings and the data set's colours.
pub struct IconRenderer<'a> {
    pub net: &'a dyn Network,
    pub layer: Layer,
    /// Side of the icons (the layer's geometry says it).
    pub icon_px: i64,
    pub dim: usize,
    pub params: IconParams,
    pub colours: &'a ColourModel,
}

impl IconRenderer<'_> {
    /// Renders one icon per direction (`count x dim`), calling `done(first_index, icons, their
    /// fidelity)` after each batch. Returns false when cancelled.
    pub fn render(&self, directions: &[f32], done: &mut dyn FnMut(usize, Vec<RgbImage>, Vec<IconFidelity>), cancel: &AtomicBool) -> bool {
        let (net, layer, dim, params) = (self.net, self.layer, self.dim, &self.params);
        let count = directions.len() / dim.max(1);
        let mut start = 0;
        while start < count {
            let len = params.batch.max(1).min(count - start);
            let batch_directions = &directions[start * dim..(start + len) * dim];
            let mut rng = SeededRng::derive(params.seed, start as u64);
            let Some(mut pictures) = self.optimise(batch_directions, &mut rng, false, cancel) else {
                return false;
            };
            let mut fidelity = icon_fidelity(net, layer, &pictures, batch_directions, dim);
            for attempt in 1..=RETRIES {
                let weak: Vec<usize> = (0..len).filter(|&i| fidelity[i].cosine < RETRY_BELOW_COSINE).collect();
                if weak.is_empty() {
                    break;
                }
                let weak_directions: Vec<f32> =
                    weak.iter().flat_map(|&i| batch_directions[i * dim..(i + 1) * dim].iter().copied()).collect();
                // Its own stream per batch and attempt, so a build repeats exactly.
                let mut retry_rng = SeededRng::derive(params.seed ^ attempt.wrapping_mul(0x5851_f42d_4c95_7f2d), start as u64);
                let Some(again) = self.optimise(&weak_directions, &mut retry_rng, true, cancel) else {
                    return false;
                };
                let again_fidelity = icon_fidelity(net, layer, &again, &weak_directions, dim);
                for ((&i, picture), better) in weak.iter().zip(again).zip(again_fidelity) {
                    if better.cosine > fidelity[i].cosine {
                        fidelity[i] = better;
                        pictures[i] = picture;
                    }
                }
            }
            done(start, pictures, fidelity);
            start += len;
        }
        true
    }

    /// Optimises one icon per direction (`len x dim`) together from random Fourier starts drawn
    /// from `rng`; with `wake_dead_channels` the first half of the steps use the pre-ReLU
    /// objective. None when cancelled.
    fn optimise(&self, directions: &[f32], rng: &mut SeededRng, wake_dead_channels: bool, cancel: &AtomicBool) -> Option<Vec<RgbImage>> {
        let (net, layer, params) = (self.net, self.layer, &self.params);
        let len = directions.len() / self.dim.max(1);
        // Small transforms: this layer sees only a few pixels.
        let transforms = VisConfig { jitter: 1.0, scale: 0.05, rotate_degrees: 5.0, ..VisConfig::default() };
        let kind = network_kind(net);
        let targets = Tensor::from_slice(directions).view([len as i64, self.dim as i64]).to_device(net.device()).to_kind(kind);
        let images = FourierImages::new(len as i64, self.icon_px, net.device(), rng, self.colours);
        let mut adam = TensorAdam::new(&images.spectrum, params.learning_rate);
        for step in 0..params.steps {
            if cancel.load(Ordering::Relaxed) {
                return None;
            }
            let transformed = random_transform(&images.images(), &transforms, rng).to_kind(kind);
            let pre_relu = wake_dead_channels && step < params.steps / 2;
            let objective = direction_objective(net, &transformed, layer, &targets, pre_relu).sum(Kind::Float);
            let gradient = Tensor::run_backward(&[&objective], &[&images.spectrum], false, false).remove(0);
            adam.ascend(&images.spectrum, &gradient);
        }
        Some(tch::no_grad(|| {
            let final_images = images.images();
            (0..len as i64).map(|i| tensor_to_rgb(&final_images.get(i))).collect()
        }))
    }
}

/// The activation at the centre of `icon` for `layer` (used to check an icon against its cell).
pub fn centre_activation(net: &dyn Network, layer: Layer, icon: &RgbImage) -> Vec<f32> {
    tch::no_grad(|| {
        let batch =
            crate::engine::image_input::images_to_tensor_any(std::iter::once(icon)).to_device(net.device()).to_kind(network_kind(net));
        let h = centre_of_layer(net, &batch, layer).get(0);
        Vec::<f32>::try_from(h.to_kind(Kind::Float).to_device(tch::Device::Cpu)).expect("floats")
    })
}
