//! Collecting activation vectors: run a data set through the network to a conv layer and keep,
//! for several interior positions of each image, the activation vector there, with its image,
//! position, label, and its attribution to every class (activation x gradient of the class logit).

use std::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;
use tch::{Kind, Tensor};

use super::table::{FloatTable, FloatTableWriter, ScratchError, scratch_folder};
use super::views::ImageSummaries;
use crate::engine::data::{Photos, SkippedFile};
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
    /// `n x dim`, row-major; in a mapped scratch file when large.
    pub vectors: FloatTable,
    /// Index of the image in the data set.
    pub image: Vec<u32>,
    /// (x, y) in the layer's grid.
    pub position: Vec<[u16; 2]>,
    pub label: Vec<u16>,
    /// `n x classes`: activation . d logit_c / d activation at the vector's position.
    pub attribution: FloatTable,
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
    pub fn subset(&self, keep: &[usize]) -> Result<Collected, ScratchError> {
        let folder = scratch_folder();
        let mut vectors = FloatTableWriter::new(keep.len() * self.dim, &folder)?;
        let mut attribution = FloatTableWriter::new(keep.len() * self.classes, &folder)?;
        for &i in keep {
            vectors.extend_from_slice(self.vector(i))?;
            attribution.extend_from_slice(self.attribution_of(i))?;
        }
        Ok(Collected {
            layer: self.layer,
            dim: self.dim,
            classes: self.classes,
            vectors: vectors.finish()?,
            image: keep.iter().map(|&i| self.image[i]).collect(),
            position: keep.iter().map(|&i| self.position[i]).collect(),
            label: keep.iter().map(|&i| self.label[i]).collect(),
            attribution: attribution.finish()?,
        })
    }
}

/// Positions a vector may be sampled from: the layer's grid without a border of `margin`
/// (edge positions see padding, not picture).
pub fn interior_positions(side: usize, margin: usize) -> Vec<[u16; 2]> {
    let (start, end) = (margin.min(side / 2), side.saturating_sub(margin).max(margin.min(side / 2) + 1));
    (start..end).flat_map(|y| (start..end).map(move |x| [x as u16, y as u16])).collect()
}

/// The `per_image` positions sampled from image `index`: from its own seeded stream, so the
/// same seed picks the same positions under any model (the timeline relies on it).
pub fn sampled_positions(candidates: &[[u16; 2]], seed: u64, index: usize, per_image: usize) -> Vec<[u16; 2]> {
    let mut positions = candidates.to_vec();
    SeededRng::derive(seed, index as u64).shuffle(&mut positions);
    positions.truncate(per_image);
    positions
}

/// The border left out of sampling for a layer (one position, two for conv1's larger grid).
pub fn sampling_margin(layer: Layer) -> usize {
    if layer == Layer::CONV1 { 2 } else { 1 }
}

/// Why collecting stopped early.
#[derive(Debug)]
pub enum CollectStop {
    Cancelled,
    /// A photo could no longer be read.
    Unreadable(SkippedFile),
    /// The tables, too large for the heap, could not be written to their scratch file.
    Scratch(ScratchError),
}

impl From<ScratchError> for CollectStop {
    fn from(error: ScratchError) -> Self {
        CollectStop::Scratch(error)
    }
}

/// Collects `samples_per_image` vectors (distinct interior positions, seeded) from every photo of
/// `photos` at conv `layer`, reading the photos a batch at a time; `on_photos` sees each batch
/// once (for whatever else a build keeps of them). `progress(done, total)` counts images. With
/// `summaries`, each image's conv2 summary for the paper views is kept on the way.
#[allow(clippy::too_many_arguments)]
pub fn collect(
    net: &Net,
    photos: &dyn Photos,
    layer: Layer,
    samples_per_image: usize,
    seed: u64,
    mut summaries: Option<&mut ImageSummaries>,
    on_photos: &mut dyn FnMut(&[RgbImage]),
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Collected, CollectStop> {
    let classes = photos.class_names().len();
    let labels = photos.labels();
    let shape = layer_output_shape(layer, classes as i64);
    let (dim, side) = (shape[0] as usize, shape[1] as usize);
    let candidates = interior_positions(side, sampling_margin(layer));
    let per_image = samples_per_image.clamp(1, candidates.len());
    let expected = photos.len() * per_image;
    let folder = scratch_folder();
    let mut vectors = FloatTableWriter::new(expected * dim, &folder)?;
    let mut attributions = FloatTableWriter::new(expected * classes, &folder)?;
    let (mut image, mut position, mut label) = (Vec::with_capacity(expected), Vec::with_capacity(expected), Vec::with_capacity(expected));
    let batch_size = 32;
    for start in (0..photos.len()).step_by(batch_size) {
        if cancel.load(Ordering::Relaxed) {
            return Err(CollectStop::Cancelled);
        }
        let end = (start + batch_size).min(photos.len());
        // This image's positions, from its own seeded stream.
        let chosen: Vec<Vec<[u16; 2]>> = (start..end).map(|index| sampled_positions(&candidates, seed, index, per_image)).collect();
        let images = photos.read(start..end).map_err(CollectStop::Unreadable)?;
        on_photos(&images);
        let batch = images_to_tensor(images.iter()).to_device(net.device()).to_kind(net.kind());
        drop(images);
        // The passes in the process's precision; what is kept is float32.
        let region = crate::engine::precision::mixed(net.device());
        let (activation, attribution) = attribution_at(net, layer, &batch, &chosen);
        let (activation, attribution) = (activation.to_kind(Kind::Float), attribution.to_kind(Kind::Float));
        if let Some(summaries) = summaries.as_deref_mut() {
            if layer == Layer::CONV2 {
                summaries.add(&activation);
            } else {
                let conv2 = tch::no_grad(|| net.forward_until(&batch, Layer::CONV2, false).get(Layer::CONV2).shallow_clone());
                summaries.add(&conv2);
            }
        }
        drop(region);
        let activation_values = Vec::<f32>::try_from(activation.flatten(0, -1)).expect("floats");
        let attribution_values = Vec::<f32>::try_from(attribution.flatten(0, -1)).expect("floats");
        let rows = (end - start) * per_image;
        let (mut batch_vectors, mut batch_attributions) = (Vec::with_capacity(rows * dim), Vec::with_capacity(rows * classes));
        for (offset, (index, positions)) in (start..end).zip(&chosen).enumerate() {
            for (p, &[x, y]) in positions.iter().enumerate() {
                let (x, y) = (x as usize, y as usize);
                for channel in 0..dim {
                    batch_vectors.push(activation_values[((offset * dim + channel) * side + y) * side + x]);
                }
                for class in 0..classes {
                    batch_attributions.push(attribution_values[(offset * classes + class) * per_image + p]);
                }
                image.push(index as u32);
                position.push([x as u16, y as u16]);
                label.push(labels[index] as u16);
            }
        }
        vectors.extend_from_slice(&batch_vectors)?;
        attributions.extend_from_slice(&batch_attributions)?;
        progress(end, photos.len());
    }
    Ok(Collected { layer, dim, classes, vectors: vectors.finish()?, image, position, label, attribution: attributions.finish()? })
}

/// Attribution maps of every class for a batch at conv `layer`, by one backward pass per class
/// through everything after it: activation `[batch, C, H, W]` and maps `[batch, classes, H, W]`
/// (activation x gradient of the class logit, summed over channels), both float on the CPU.
pub fn attribution_maps(net: &Net, layer: Layer, images: &Tensor) -> (Tensor, Tensor) {
    let classes = net.num_classes();
    let activation = tch::no_grad(|| net.forward_until(images, layer, false).get(layer).shallow_clone()).detach().set_requires_grad(true);
    let logits = net.forward_from(layer, &activation, false);
    let mut maps = Vec::with_capacity(classes);
    for class in 0..classes {
        let target = logits.select(1, class as i64).sum(Kind::Float);
        let gradient = Tensor::run_backward(&[target], &[&activation], class + 1 < classes, false).remove(0);
        maps.push((&activation * gradient).sum_dim_intlist(&[1i64][..], false, Kind::Float).detach());
    }
    let maps = Tensor::stack(&maps, 1).to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous();
    (activation.detach().to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous(), maps)
}

/// The activation of conv `layer` for a batch (`[batch, C, H, W]`) and the attribution of every
/// class at the given positions of each image (`[batch, classes, positions]`), float on the CPU.
///
/// The same numbers as [`attribution_maps`] at those positions, for a fraction of the cost: most
/// of a backward pass is the next convolution's input gradient over the whole grid, and only a
/// few positions are kept. So the backward passes stop at the next convolution's output, and its
/// input gradient is computed only at the chosen positions, as the flipped kernel applied to the
/// output gradient's window around each.
pub fn attribution_at(net: &Net, layer: Layer, images: &Tensor, positions: &[Vec<[u16; 2]>]) -> (Tensor, Tensor) {
    let classes = net.num_classes() as i64;
    let per_image = positions.first().map_or(0, Vec::len) as i64;
    let batch = positions.len() as i64;
    let Some(&next) = Layer::CONV.get(layer.index() + 1) else {
        // The last conv block: its gradient comes straight from the small fully connected part.
        let (activation, maps) = attribution_maps(net, layer, images);
        let side = maps.size()[3];
        let flat: Vec<i64> = positions.iter().flat_map(|p| p.iter().map(|&[x, y]| i64::from(y) * side + i64::from(x))).collect();
        let index = Tensor::from_slice(&flat).reshape([batch, 1, per_image]).expand([batch, classes, per_image], false);
        return (activation, maps.flatten(2, 3).gather(2, &index, false));
    };
    if let Some(&after) = Layer::CONV.get(layer.index() + 2) {
        return attribution_through_two_convs(net, layer, next, after, images, positions);
    }
    let device = images.device();
    let activation = tch::no_grad(|| net.forward_until(images, layer, false).get(layer).shallow_clone());
    let size = activation.size();
    let (height, width) = (size[2], size[3]);
    let pre_activation = tch::no_grad(|| net.conv_pre_activation(next, &activation)).detach().set_requires_grad(true);
    let logits = net.forward_from_pre_activation(next, &pre_activation);
    let gradients = gradient_per_class(&logits, &pre_activation);
    tch::no_grad(|| {
        let weight = net.conv_weight(next);
        let (out_channels, kernel) = (weight.size()[0], weight.size()[2]);
        let centres: Vec<(i64, i64, i64)> = positions
            .iter()
            .enumerate()
            .flat_map(|(b, image)| image.iter().map(move |&[x, y]| (b as i64, i64::from(y), i64::from(x))))
            .collect();
        let (rows, inside) = window_rows(&centres, kernel, height, width);
        let rows = Tensor::from_slice(&rows).to_device(device);
        let inside = Tensor::from_slice(&inside).to_device(device).unsqueeze(1);
        let flipped = flipped_kernel(weight);
        let per_class: Vec<Tensor> = gradients
            .iter()
            .map(|gradient| {
                let channels_last = gradient.to_kind(Kind::Float).permute([0, 2, 3, 1]).contiguous().view([-1, out_channels]);
                let windows = channels_last.index_select(0, &rows) * &inside;
                // [batch * positions, C]
                windows.view([batch * per_image, kernel * kernel * out_channels]).matmul(&flipped)
            })
            .collect();
        attribution_from_gradients(&per_class, &activation.to_kind(Kind::Float), positions)
    })
}

/// The flipped kernel of a convolution as a matrix `[k² * out, in]`: row `(ky * k + kx) * out + o`
/// holds W[o, :, k-1-ky, k-1-kx], so a window of output gradients (offset-major, then channel)
/// times it is the input gradient at the window's centre.
fn flipped_kernel(weight: &Tensor) -> Tensor {
    let size = weight.size();
    let (out_channels, in_channels, kernel) = (size[0], size[1], size[2]);
    weight.to_kind(Kind::Float).flip([2, 3]).permute([2, 3, 0, 1]).reshape([kernel * kernel * out_channels, in_channels])
}

/// For positions `(image, y, x)` of a `height x width` grid, the rows of their `kernel x kernel`
/// windows in a channels-last `[images * height * width, channels]` matrix (position-major, then
/// offset), and whether each lies inside the grid (outside is padding: 0).
fn window_rows(positions: &[(i64, i64, i64)], kernel: i64, height: i64, width: i64) -> (Vec<i64>, Vec<f32>) {
    let pad = kernel / 2;
    let mut rows = Vec::with_capacity(positions.len() * (kernel * kernel) as usize);
    let mut inside = Vec::with_capacity(rows.capacity());
    for &(b, y, x) in positions {
        for offset in 0..kernel * kernel {
            let (yy, xx) = (y + offset / kernel - pad, x + offset % kernel - pad);
            let valid = (0..height).contains(&yy) && (0..width).contains(&xx);
            rows.push(b * height * width + if valid { yy * width + xx } else { 0 });
            inside.push(if valid { 1.0 } else { 0.0 });
        }
    }
    (rows, inside)
}

/// [`attribution_at`] when two conv blocks follow `layer`: the backward passes stop at the second
/// one's convolution output (only the small fully connected part is run per class), and the
/// gradient is carried back by hand through the second convolution, the first block's pooling and
/// ReLU, and the first convolution, each only where the chosen positions need it.
fn attribution_through_two_convs(
    net: &Net,
    layer: Layer,
    first: Layer,
    second: Layer,
    images: &Tensor,
    positions: &[Vec<[u16; 2]>],
) -> (Tensor, Tensor) {
    let per_image = positions.first().map_or(0, Vec::len) as i64;
    let batch = positions.len() as i64;
    let device = images.device();
    let (activation, first_out, pooled_index, pooled) = tch::no_grad(|| {
        let activation = net.forward_until(images, layer, false).get(layer).to_kind(Kind::Float);
        let first_out = net.conv_pre_activation(first, &activation.to_kind(net.kind()));
        let (pooled, index) = first_out.relu().max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false);
        (activation, first_out.to_kind(Kind::Float), index, pooled)
    });
    let size = activation.size();
    let (height, width) = (size[2], size[3]);
    let (first_channels, pooled_height, pooled_width) = (first_out.size()[1], pooled.size()[2], pooled.size()[3]);
    let second_out = tch::no_grad(|| net.conv_pre_activation(second, &pooled)).detach().set_requires_grad(true);
    let logits = net.forward_from_pre_activation(second, &second_out);
    let gradients = gradient_per_class(&logits, &second_out);
    tch::no_grad(|| {
        let first_kernel = net.conv_weight(first).size()[2];
        let second_weight = net.conv_weight(second);
        let (second_channels, second_kernel) = (second_weight.size()[0], second_weight.size()[2]);
        // Where the first convolution's output passes gradient on: the pooling's chosen element
        // of each window, where the ReLU was open. Channels-last rows of [batch * H * W, channels].
        let chosen =
            first_out.zeros_like().view([batch, first_channels, -1]).scatter_value(2, &pooled_index.view([batch, first_channels, -1]), 1.0);
        let open = chosen.view_as(&first_out) * first_out.gt(0.0).to_kind(Kind::Float);
        let open = open.permute([0, 2, 3, 1]).contiguous().view([-1, first_channels]);
        // The first convolution's output positions in each chosen position's window, and the pooled
        // positions they feed (each once per image).
        let mut pooled_slots: std::collections::HashMap<(i64, i64, i64), i64> = std::collections::HashMap::new();
        let mut pooled_positions = Vec::new();
        let mut slot_of_window = Vec::with_capacity((batch * per_image * first_kernel * first_kernel) as usize);
        let mut open_rows = Vec::with_capacity(slot_of_window.capacity());
        let mut window_valid = Vec::with_capacity(slot_of_window.capacity());
        let pad = first_kernel / 2;
        for (b, image) in positions.iter().enumerate() {
            let b = b as i64;
            for &[x, y] in image {
                for offset in 0..first_kernel * first_kernel {
                    let (qy, qx) = (i64::from(y) + offset / first_kernel - pad, i64::from(x) + offset % first_kernel - pad);
                    // Outside the grid (padding) or in the row or column the pooling drops: no gradient.
                    let feeds = (0..pooled_height * 2).contains(&qy) && (0..pooled_width * 2).contains(&qx);
                    if feeds {
                        let key = (b, qy / 2, qx / 2);
                        let next_slot = pooled_positions.len() as i64;
                        let slot = *pooled_slots.entry(key).or_insert_with(|| {
                            pooled_positions.push(key);
                            next_slot
                        });
                        slot_of_window.push(slot);
                        open_rows.push(b * height * width + qy * width + qx);
                    } else {
                        slot_of_window.push(0);
                        open_rows.push(0);
                    }
                    window_valid.push(if feeds { 1f32 } else { 0.0 });
                }
            }
        }
        let (second_rows, second_inside) = window_rows(&pooled_positions, second_kernel, pooled_height, pooled_width);
        let second_rows = Tensor::from_slice(&second_rows).to_device(device);
        let second_inside = Tensor::from_slice(&second_inside).to_device(device).unsqueeze(1);
        let slot_of_window = Tensor::from_slice(&slot_of_window).to_device(device);
        let open_there = open.index_select(0, &Tensor::from_slice(&open_rows).to_device(device))
            * Tensor::from_slice(&window_valid).to_device(device).unsqueeze(1);
        let second_flipped = flipped_kernel(second_weight);
        let first_flipped = flipped_kernel(net.conv_weight(first));
        let per_class: Vec<Tensor> = gradients
            .iter()
            .map(|gradient| {
                let rows = gradient.to_kind(Kind::Float).permute([0, 2, 3, 1]).contiguous().view([-1, second_channels]);
                // Gradient at the pooled positions needed, then at the first convolution's output
                // in every chosen position's window, then at the chosen positions.
                let windows = rows.index_select(0, &second_rows) * &second_inside;
                let at_pooled = windows.view([pooled_positions.len() as i64, -1]).matmul(&second_flipped);
                let at_first = at_pooled.index_select(0, &slot_of_window) * &open_there;
                at_first.view([batch * per_image, -1]).matmul(&first_flipped)
            })
            .collect();
        attribution_from_gradients(&per_class, &activation, positions)
    })
}

/// Activation x gradient summed over channels at each chosen position, from per-class input
/// gradients `[batch * positions, C]`: activation `[batch, C, H, W]` and attribution
/// `[batch, classes, positions]`, on the CPU.
fn attribution_from_gradients(per_class: &[Tensor], activation: &Tensor, positions: &[Vec<[u16; 2]>]) -> (Tensor, Tensor) {
    let size = activation.size();
    let (batch, channels, height, width) = (size[0], size[1], size[2], size[3]);
    let per_image = positions.first().map_or(0, Vec::len) as i64;
    let classes = per_class.len() as i64;
    // [batch, classes, positions, C]
    let input_gradient = Tensor::stack(per_class, 0).view([classes, batch, per_image, channels]).permute([1, 0, 2, 3]);
    let flat: Vec<i64> = positions.iter().flat_map(|p| p.iter().map(|&[x, y]| i64::from(y) * width + i64::from(x))).collect();
    let at =
        Tensor::from_slice(&flat).to_device(activation.device()).reshape([batch, 1, per_image]).expand([batch, channels, per_image], false);
    // [batch, positions, C]
    let activation_there = activation.reshape([batch, channels, height * width]).gather(2, &at, false).permute([0, 2, 1]);
    let attribution = (input_gradient * activation_there.unsqueeze(1)).sum_dim_intlist(&[3i64][..], false, Kind::Float);
    (activation.to_device(tch::Device::Cpu).contiguous(), attribution.to_device(tch::Device::Cpu).contiguous())
}

/// The gradient of each class logit (summed over the batch) with respect to `input`: one backward
/// pass per class, the graph kept until the last.
fn gradient_per_class(logits: &Tensor, input: &Tensor) -> Vec<Tensor> {
    let classes = logits.size()[1];
    (0..classes)
        .map(|class| {
            let target = logits.select(1, class).sum(Kind::Float);
            Tensor::run_backward(&[target], &[input], class + 1 < classes, false).remove(0)
        })
        .collect()
}
