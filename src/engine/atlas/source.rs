//! What an atlas needs of the network it maps, for any architecture: the network itself, where
//! its layer's positions lie in the picture (kept in the atlas, so patches need no network), and
//! the network output each of the data set's classes is attributed to. The paper's CNN has a
//! faster collection of its own (`collect`); every other network goes through autograd here.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::collect::{CollectStop, Collected, interior_positions, sampled_positions, sampling_margin};
use super::table::{FloatTableWriter, scratch_folder};
use crate::engine::checkpoint::Checkpoint;
use crate::engine::data::Photos;
use crate::engine::image_input::images_to_tensor;
use crate::engine::model::{INPUT_SIZE, Layer, layer_output_shape, paper_spec};
use crate::engine::network::import::LoadedNetwork;
pub use crate::engine::network::network_kind;
use crate::engine::network::{Architecture, Network};

/// The network an atlas is built of, with what the atlas records about it.
#[derive(Clone, Copy)]
pub struct AtlasModel<'a> {
    pub net: &'a dyn Network,
    pub class_names: &'a [String],
    pub path: &'a Path,
    /// SHA-256 of the weights file: an atlas belongs to exactly these weights.
    pub fingerprint: &'a str,
}

impl<'a> From<&'a Checkpoint> for AtlasModel<'a> {
    fn from(checkpoint: &'a Checkpoint) -> Self {
        AtlasModel {
            net: &checkpoint.net,
            class_names: &checkpoint.meta.class_names,
            path: &checkpoint.path,
            fingerprint: &checkpoint.fingerprint,
        }
    }
}

impl<'a> From<&'a LoadedNetwork> for AtlasModel<'a> {
    fn from(loaded: &'a LoadedNetwork) -> Self {
        AtlasModel { net: loaded.net.as_ref(), class_names: &loaded.meta.class_names, path: &loaded.path, fingerprint: &loaded.fingerprint }
    }
}

/// Where a layer's grid lies in the network's input, and the sizes an atlas draws at. Recorded in
/// an atlas of any network but the paper's (whose atlases predate it and use [`Self::paper`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerGeometry {
    /// The architecture's name (`efficientnet-lite0`, ...).
    pub architecture: String,
    /// Side of the network's square input.
    pub input_size: u32,
    /// Side of the layer's grid.
    pub grid: u32,
    /// Input pixels between neighbouring grid positions.
    pub stride: u32,
    /// Side of the input square one position sees.
    pub receptive_field: u32,
    /// Side of an icon, and of the real patch cut around a position (input pixels).
    pub icon_px: u32,
    /// Side the photos are embedded at in the atlas file (at most the input size).
    pub embedded_side: u32,
}

/// Photos of a larger network input are embedded at most this big, so an atlas of 1,000 photos
/// stays near 10 MB; patches are cut from them scaled.
pub const MAX_EMBEDDED_SIDE: u32 = 160;

impl LayerGeometry {
    /// The paper's CNN at one of its conv layers.
    pub fn paper(layer: Layer) -> LayerGeometry {
        let grid = layer_output_shape(layer, 1).get(1).copied().unwrap_or(1) as u32;
        let input = INPUT_SIZE as u32;
        let spec = paper_spec(1);
        let (stride, field) = spec.layer_index(layer.name()).map_or((1, 1), |i| (spec.layers[i].stride, spec.layers[i].receptive_field));
        LayerGeometry {
            architecture: Architecture::PaperCnn.name().to_string(),
            input_size: input,
            grid,
            stride: stride as u32,
            receptive_field: field as u32,
            icon_px: super::icons::icon_size(layer) as u32,
            embedded_side: input,
        }
    }

    /// `layer` of `net`; an error names the layer when it has no grid.
    pub fn of(net: &dyn Network, layer: Layer) -> Result<LayerGeometry, String> {
        let spec = net.spec();
        if spec.architecture == Architecture::PaperCnn {
            return if layer.is_conv() { Ok(LayerGeometry::paper(layer)) } else { Err(format!("{layer} is not a conv layer")) };
        }
        let index = spec.resolve_layer(layer.name())?;
        let layer_spec = &spec.layers[index];
        if !layer_spec.is_spatial() {
            let names: Vec<&str> = spec.spatial_layers().iter().map(|l| l.name.as_str()).collect();
            return Err(format!("{layer} has no spatial grid; the layers that have one: {}", names.join(", ")));
        }
        let input = spec.input_size as u32;
        let (stride, field) = (layer_spec.stride as u32, layer_spec.receptive_field as u32);
        Ok(LayerGeometry {
            architecture: spec.architecture.name().to_string(),
            input_size: input,
            grid: layer_spec.shape.get(1).copied().unwrap_or(1) as u32,
            stride,
            receptive_field: field,
            icon_px: icon_side(stride, field, input),
            embedded_side: input.min(MAX_EMBEDDED_SIDE),
        })
    }

    /// The border of the grid left out of sampling.
    pub fn sampling_margin(&self, layer: Layer) -> usize {
        if self.architecture == Architecture::PaperCnn.name() { sampling_margin(layer) } else { 1 }
    }
}

/// An icon's side for a layer of `stride` and receptive field `field`: what a position mostly
/// looks at (its theoretical field is far larger than what it uses: a stride or two either
/// side), a multiple of the stride so the centre position sits on the picture's centre, 32
/// pixels at least and half the input at most. Rendering cost grows with its square.
fn icon_side(stride: u32, field: u32, input: u32) -> u32 {
    let wanted = field.min(4 * stride.max(1));
    let rounded = wanted.div_ceil(stride.max(1)) * stride.max(1);
    rounded.clamp(32.min(input), (input / 2).max(32.min(input)))
}

/// For each of the data set's classes, the network output its attribution is taken of: the
/// same class where the network was trained on these classes; else (a network of other classes,
/// such as ImageNet's) the output the network gives most probability to over that class's photos
/// (up to [`MAPPING_PHOTOS_PER_CLASS`] of them, spread over the class).
pub fn attributed_outputs(
    model: &AtlasModel,
    photos: &dyn Photos,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Vec<usize>, CollectStop> {
    let classes = photos.class_names().len();
    if model.class_names == photos.class_names() {
        return Ok((0..classes).collect());
    }
    let labels = photos.labels();
    let mut chosen = Vec::new();
    for class in 0..classes {
        let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        let step = members.len().div_ceil(MAPPING_PHOTOS_PER_CLASS).max(1);
        chosen.extend(members.into_iter().step_by(step));
    }
    let net = model.net;
    let outputs = net.num_classes() as i64;
    let mut probability = vec![0f64; classes * outputs as usize];
    for (done, batch) in chosen.chunks(16).enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(CollectStop::Cancelled);
        }
        let mut images = Vec::with_capacity(batch.len());
        for &i in batch {
            images.extend(photos.read(i..i + 1).map_err(CollectStop::Unreadable)?.iter().cloned());
        }
        let values = tch::no_grad(|| {
            let _mixed = crate::engine::precision::mixed(net.device());
            let input = images_to_tensor(images.iter()).to_device(net.device()).to_kind(network_kind(net));
            net.logits(&input, false).to_kind(Kind::Float).softmax(1, Kind::Float).to_device(tch::Device::Cpu).contiguous()
        });
        let values = Vec::<f32>::try_from(values.flatten(0, -1)).unwrap_or_default();
        for (row, &i) in batch.iter().enumerate() {
            let class = labels[i];
            for output in 0..outputs as usize {
                probability[class * outputs as usize + output] +=
                    f64::from(values.get(row * outputs as usize + output).copied().unwrap_or(0.0));
            }
        }
        progress((done + 1) * 16, chosen.len());
    }
    Ok((0..classes)
        .map(|class| {
            let row = &probability[class * outputs as usize..(class + 1) * outputs as usize];
            (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a))).unwrap_or(0)
        })
        .collect())
}

/// Photos per class that decide which network output a class is attributed to.
pub const MAPPING_PHOTOS_PER_CLASS: usize = 24;

/// Photos run through a large network at once while collecting.
const COLLECT_BATCH: usize = 16;

/// [`super::collect::collect`] for any network: the activation of `layer` at sampled interior
/// positions and, for each data set class, its attribution there (activation x gradient of the
/// network output `outputs[class]`), one backward pass per distinct output and batch.
#[allow(clippy::too_many_arguments)]
pub fn collect_any(
    net: &dyn Network,
    layer: Layer,
    geometry: &LayerGeometry,
    outputs: &[usize],
    photos: &dyn Photos,
    samples_per_image: usize,
    seed: u64,
    on_photos: &mut dyn FnMut(&[RgbImage]),
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Collected, CollectStop> {
    let index = net.spec().layer_index(layer.name()).unwrap_or(0);
    let classes = outputs.len();
    let labels = photos.labels();
    let side = geometry.grid as usize;
    let dim = net.spec().layers[index].channels() as usize;
    let candidates = interior_positions(side, geometry.sampling_margin(layer));
    let per_image = samples_per_image.clamp(1, candidates.len().max(1));
    let expected = photos.len() * per_image;
    let folder = scratch_folder();
    let mut vectors = FloatTableWriter::new(expected * dim, &folder)?;
    let mut attributions = FloatTableWriter::new(expected * classes, &folder)?;
    let (mut image, mut position, mut label) = (Vec::with_capacity(expected), Vec::with_capacity(expected), Vec::with_capacity(expected));
    let mut distinct: Vec<usize> = outputs.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    for start in (0..photos.len()).step_by(COLLECT_BATCH) {
        if cancel.load(Ordering::Relaxed) {
            return Err(CollectStop::Cancelled);
        }
        let end = (start + COLLECT_BATCH).min(photos.len());
        let chosen: Vec<Vec<[u16; 2]>> = (start..end).map(|index| sampled_positions(&candidates, seed, index, per_image)).collect();
        let images = photos.read(start..end).map_err(CollectStop::Unreadable)?;
        on_photos(&images);
        let batch = images_to_tensor(images.iter()).to_device(net.device()).to_kind(network_kind(net));
        drop(images);
        let (activation, maps) = {
            let _mixed = crate::engine::precision::mixed(net.device());
            attribution_maps_any(net, index, &batch, &distinct)
        };
        let activation_values = Vec::<f32>::try_from(activation.flatten(0, -1)).unwrap_or_default();
        let map_values = Vec::<f32>::try_from(maps.flatten(0, -1)).unwrap_or_default();
        let plane = side * side;
        let rows = (end - start) * per_image;
        let (mut batch_vectors, mut batch_attributions) = (Vec::with_capacity(rows * dim), Vec::with_capacity(rows * classes));
        for (offset, (index, positions)) in (start..end).zip(&chosen).enumerate() {
            for &[x, y] in positions {
                let at = y as usize * side + x as usize;
                batch_vectors.extend((0..dim).map(|channel| activation_values[(offset * dim + channel) * plane + at]));
                for &output in outputs {
                    let slot = distinct.binary_search(&output).unwrap_or(0);
                    batch_attributions.push(map_values[(offset * distinct.len() + slot) * plane + at]);
                }
                image.push(index as u32);
                position.push([x, y]);
                label.push(labels[index] as u16);
            }
        }
        vectors.extend_from_slice(&batch_vectors)?;
        attributions.extend_from_slice(&batch_attributions)?;
        progress(end, photos.len());
    }
    Ok(Collected { layer, dim, classes, vectors: vectors.finish()?, image, position, label, attribution: attributions.finish()? })
}

/// Layer `index`'s activation `[batch, C, H, W]` and, per output of `outputs`, its attribution
/// map `[batch, outputs, H, W]` (activation x gradient, summed over channels), float on the CPU.
pub fn attribution_maps_any(net: &dyn Network, index: usize, images: &Tensor, outputs: &[usize]) -> (Tensor, Tensor) {
    let activation = tch::no_grad(|| net.forward_to(images, index, false)).detach().set_requires_grad(true);
    let logits = net.forward_from(index, &activation, false);
    let maps: Vec<Tensor> = outputs
        .iter()
        .enumerate()
        .map(|(n, &output)| {
            let target = logits.select(1, output as i64).sum(Kind::Float);
            let gradient = Tensor::run_backward(&[target], &[&activation], n + 1 < outputs.len(), false).remove(0);
            (&activation * gradient).sum_dim_intlist(&[1i64][..], false, Kind::Float).detach()
        })
        .collect();
    let cpu = |t: Tensor| t.to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous();
    (cpu(activation.detach()), cpu(Tensor::stack(&maps, 1)))
}
