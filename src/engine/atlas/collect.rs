//! Collecting activation vectors: run a data set through the network to a conv layer and keep,
//! for several interior positions of each image, the activation vector there, with its image,
//! position, label, and its attribution to every class (activation x gradient of the class logit).

use std::sync::atomic::{AtomicBool, Ordering};

use tch::{Kind, Tensor};

use crate::engine::data::Dataset;
use crate::engine::image_input::images_to_tensor;
use crate::engine::model::{Layer, Net, layer_output_shape};
use crate::engine::rng::SeededRng;

/// Activation vectors and what each came from. Row `i` of every table belongs to vector `i`.
#[derive(Clone, Debug, PartialEq)]
pub struct Collected {
    pub layer: Layer,
    /// Length of one vector (the layer's channels).
    pub dim: usize,
    pub classes: usize,
    /// `n x dim`, row-major.
    pub vectors: Vec<f32>,
    /// Index of the image in the data set.
    pub image: Vec<u32>,
    /// (x, y) in the layer's grid.
    pub position: Vec<[u16; 2]>,
    pub label: Vec<u16>,
    /// `n x classes`: activation . d logit_c / d activation at the vector's position.
    pub attribution: Vec<f32>,
}

impl Collected {
    pub fn len(&self) -> usize {
        self.image.len()
    }

    pub fn is_empty(&self) -> bool {
        self.image.is_empty()
    }

    pub fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    pub fn attribution_of(&self, i: usize) -> &[f32] {
        &self.attribution[i * self.classes..(i + 1) * self.classes]
    }

    /// Only the vectors `keep` (indices, in the order given), every table alike.
    pub fn subset(&self, keep: &[usize]) -> Collected {
        Collected {
            layer: self.layer,
            dim: self.dim,
            classes: self.classes,
            vectors: keep.iter().flat_map(|&i| self.vector(i).iter().copied()).collect(),
            image: keep.iter().map(|&i| self.image[i]).collect(),
            position: keep.iter().map(|&i| self.position[i]).collect(),
            label: keep.iter().map(|&i| self.label[i]).collect(),
            attribution: keep.iter().flat_map(|&i| self.attribution_of(i).iter().copied()).collect(),
        }
    }
}

/// Positions a vector may be sampled from: the layer's grid without a border of `margin`
/// (edge positions see padding, not picture).
pub fn interior_positions(side: usize, margin: usize) -> Vec<[u16; 2]> {
    let (start, end) = (margin.min(side / 2), side.saturating_sub(margin).max(margin.min(side / 2) + 1));
    (start..end).flat_map(|y| (start..end).map(move |x| [x as u16, y as u16])).collect()
}

/// The border left out of sampling for a layer (one position, two for conv1's larger grid).
pub fn sampling_margin(layer: Layer) -> usize {
    if layer == Layer::Conv1 { 2 } else { 1 }
}

/// Collects `samples_per_image` vectors (distinct interior positions, seeded) from every image of
/// `dataset` at conv `layer`. `progress(done, total)` counts images; None when cancelled.
pub fn collect(
    net: &Net,
    dataset: &Dataset,
    layer: Layer,
    samples_per_image: usize,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Option<Collected> {
    let classes = dataset.class_names.len();
    let shape = layer_output_shape(layer, classes as i64);
    let (dim, side) = (shape[0] as usize, shape[1] as usize);
    let candidates = interior_positions(side, sampling_margin(layer));
    let per_image = samples_per_image.clamp(1, candidates.len());
    let mut out = Collected {
        layer,
        dim,
        classes,
        vectors: Vec::with_capacity(dataset.len() * per_image * dim),
        image: Vec::new(),
        position: Vec::new(),
        label: Vec::new(),
        attribution: Vec::new(),
    };
    let batch_size = 32;
    for start in (0..dataset.len()).step_by(batch_size) {
        if cancel.load(Ordering::Relaxed) {
            return None;
        }
        let end = (start + batch_size).min(dataset.len());
        let batch = images_to_tensor(&dataset.images[start..end]).to_device(net.device()).to_kind(net.kind());
        let activation =
            tch::no_grad(|| net.forward_until(&batch, layer, false).get(layer).shallow_clone()).detach().set_requires_grad(true);
        let logits = net.forward_from(layer, &activation, false);
        // One backward pass per class: the attribution map of class c is sum_channels(A * dA).
        let mut attribution_maps = Vec::with_capacity(classes);
        for class in 0..classes {
            let target = logits.select(1, class as i64).sum(Kind::Float);
            let gradient = Tensor::run_backward(&[target], &[&activation], class + 1 < classes, false).remove(0);
            attribution_maps.push((&activation * gradient).sum_dim_intlist(&[1i64][..], false, Kind::Float).detach());
        }
        // [batch, classes, H, W] on the CPU.
        let attribution = Tensor::stack(&attribution_maps, 1).to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous();
        let activation = activation.detach().to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous();
        let attribution_values = Vec::<f32>::try_from(attribution.flatten(0, -1)).expect("floats");
        let activation_values = Vec::<f32>::try_from(activation.flatten(0, -1)).expect("floats");
        for (offset, index) in (start..end).enumerate() {
            let mut rng = SeededRng::derive(seed, index as u64);
            let mut positions = candidates.clone();
            rng.shuffle(&mut positions);
            for &[x, y] in &positions[..per_image] {
                let (x, y) = (x as usize, y as usize);
                for channel in 0..dim {
                    out.vectors.push(activation_values[((offset * dim + channel) * side + y) * side + x]);
                }
                for class in 0..classes {
                    out.attribution.push(attribution_values[((offset * classes + class) * side + y) * side + x]);
                }
                out.image.push(index as u32);
                out.position.push([x as u16, y as u16]);
                out.label.push(dataset.labels[index] as u16);
            }
        }
        progress(end, dataset.len());
    }
    Some(out)
}
