//! The atlas timeline of a training run: one layout per checkpoint of the same activation
//! positions (same photos, same sampled positions), each UMAP started from the layout before it
//! and then fitted onto it by Procrustes (rotation, reflection, scale, shift), so what moves
//! between frames is what the network changed, not the layout's arbitrary orientation.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use safetensors::Dtype;
use serde::{Deserialize, Serialize};
use tch::Kind;

use super::build::AtlasError;
use super::collect::{interior_positions, sampled_positions};
use super::knn::neighbour_graph;
use super::layout::{UmapParams, umap_from};
use super::source::LayerGeometry;
use crate::engine::checkpoint::{CheckpointError, list_checkpoints};
use crate::engine::data::Photos;
use crate::engine::image_input::images_to_tensor;
use crate::engine::model::Layer;
use crate::engine::network::Network;
use crate::engine::network::import::load_network;

/// How a timeline is made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineParams {
    pub layer: Layer,
    /// Positions sampled per photo (fewer when the photos would give more than `max_points`).
    pub samples_per_image: usize,
    /// Points per frame at most: a frame is a full kNN and UMAP, made once per checkpoint.
    pub max_points: usize,
    pub umap: UmapParams,
    pub seed: u64,
}

impl Default for TimelineParams {
    fn default() -> Self {
        TimelineParams {
            layer: Layer::CONV2,
            samples_per_image: 8,
            max_points: 20_000,
            umap: UmapParams { epochs: 200, ..Default::default() },
            seed: 0,
        }
    }
}

/// One checkpoint's layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineFrame {
    pub epoch: u32,
    /// The checkpoint's file name in its run folder.
    pub checkpoint: String,
    pub validation_accuracy: Option<f64>,
    /// `n x 2`, aligned to the previous frame; see [`Timeline::display_layout`].
    #[serde(skip)]
    pub layout: Vec<f32>,
}

/// Every frame of a run over the same points.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    pub layer: Layer,
    /// Where the layer's grid lies in the network's input (the paper's network's for files
    /// written before timelines of other networks).
    pub geometry: LayerGeometry,
    pub class_names: Vec<String>,
    pub params: TimelineParams,
    /// Per point: the photo's index in the data set, its position in the layer's grid, its label.
    pub image: Vec<u32>,
    pub position: Vec<[u16; 2]>,
    pub label: Vec<u16>,
    pub frames: Vec<TimelineFrame>,
    /// The data set's folder name (no path: the file may travel).
    pub data_name: String,
    /// Per point, the patch of its photo that its activation sees (the receptive field,
    /// [`TIMELINE_PATCH_PX`] square, RGB, row-major), so every frame can be drawn as an atlas of
    /// real patches without the photos. Empty for a timeline saved without them.
    pub patches: Vec<u8>,
}

/// Side of the photo patch kept for each point of a timeline, in pixels.
pub const TIMELINE_PATCH_PX: u32 = 16;
const PATCH_BYTES: usize = (TIMELINE_PATCH_PX * TIMELINE_PATCH_PX * 3) as usize;

/// One cell of a frame drawn as an atlas: its place in the grid, how many points fall in it, and
/// the point that stands for it (the one nearest the cell's points' centroid).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameCell {
    pub column: usize,
    pub row: usize,
    pub count: usize,
    pub point: usize,
}

/// A frame's display layout (unit square, see [`Timeline::display_layout`]) cut into `grid` x
/// `grid` cells; the cells holding at least `min_points` points, each with its representative.
pub fn frame_cells(layout: &[f32], grid: usize, min_points: usize) -> Vec<FrameCell> {
    let grid = grid.max(1);
    let cell_of = |p: &[f32]| {
        let at = |v: f32| ((v.clamp(0.0, 1.0) * grid as f32) as usize).min(grid - 1);
        at(p[1]) * grid + at(p[0])
    };
    // Per cell: count and coordinate sums, then the member nearest the centroid.
    let mut sums = vec![(0usize, 0f64, 0f64); grid * grid];
    for p in layout.chunks_exact(2) {
        let cell = &mut sums[cell_of(p)];
        *cell = (cell.0 + 1, cell.1 + f64::from(p[0]), cell.2 + f64::from(p[1]));
    }
    let mut nearest = vec![(usize::MAX, f64::INFINITY); grid * grid];
    for (point, p) in layout.chunks_exact(2).enumerate() {
        let cell = cell_of(p);
        let (count, sx, sy) = sums[cell];
        let (mx, my) = (sx / count as f64, sy / count as f64);
        let distance = (f64::from(p[0]) - mx).powi(2) + (f64::from(p[1]) - my).powi(2);
        if distance < nearest[cell].1 {
            nearest[cell] = (point, distance);
        }
    }
    (0..grid * grid)
        .filter(|&cell| sums[cell].0 >= min_points.max(1))
        .map(|cell| FrameCell { column: cell % grid, row: cell / grid, count: sums[cell].0, point: nearest[cell].0 })
        .collect()
}

impl Timeline {
    pub fn len(&self) -> usize {
        self.image.len()
    }

    pub fn is_empty(&self) -> bool {
        self.image.is_empty()
    }

    /// The bounds of every frame together: `[min_x, min_y, max_x, max_y]` (1st and 99th
    /// percentiles, so a few far points do not shrink the rest).
    pub fn bounds(&self) -> [f32; 4] {
        let mut bounds = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
        for frame in &self.frames {
            for axis in 0..2 {
                let mut values: Vec<f32> = frame.layout.iter().skip(axis).step_by(2).copied().collect();
                if values.is_empty() {
                    continue;
                }
                values.sort_by(f32::total_cmp);
                let at = |q: f32| values[((values.len() - 1) as f32 * q).round() as usize];
                bounds[axis] = bounds[axis].min(at(0.01));
                bounds[axis + 2] = bounds[axis + 2].max(at(0.99));
            }
        }
        bounds
    }

    /// Frame `frame` in the unit square, every frame by the same map (so motion is real motion).
    pub fn display_layout(&self, frame: usize) -> Vec<f32> {
        self.display_layout_within(frame, self.bounds())
    }

    /// [`Timeline::display_layout`] with the bounds given (see [`Timeline::bounds`]), for a
    /// viewer that draws many frames of one timeline.
    pub fn display_layout_within(&self, frame: usize, [x0, y0, x1, y1]: [f32; 4]) -> Vec<f32> {
        let margin = 0.04;
        let span = (x1 - x0).max(y1 - y0).max(f32::EPSILON);
        let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let unit = |v: f32, c: f32| (0.5 + (v - c) / span * (1.0 - 2.0 * margin)).clamp(0.0, 1.0);
        self.frames[frame].layout.chunks_exact(2).flat_map(|p| [unit(p[0], cx), unit(p[1], cy)]).collect()
    }

    /// Frame `at` (fractional: between two frames, the points part way) in the unit square, by
    /// `bounds` (see [`Timeline::bounds`]).
    pub fn display_between_within(&self, at: f32, bounds: [f32; 4]) -> Vec<f32> {
        let last = self.frames.len().saturating_sub(1);
        let at = at.clamp(0.0, last as f32);
        let (before, t) = (at.floor() as usize, at.fract());
        let first = self.display_layout_within(before, bounds);
        if t == 0.0 || before >= last {
            return first;
        }
        let next = self.display_layout_within(before + 1, bounds);
        first.iter().zip(&next).map(|(a, b)| a + (b - a) * t).collect()
    }

    /// Mean distance a point moves from frame `frame - 1` to `frame`, in units of the display square.
    pub fn movement(&self, frame: usize) -> f32 {
        if frame == 0 || frame >= self.frames.len() {
            return 0.0;
        }
        let bounds = self.bounds();
        mean_displacement(&self.display_layout_within(frame - 1, bounds), &self.display_layout_within(frame, bounds))
    }

    /// Whether every point keeps its photo patch (timelines saved before patches were kept do not).
    pub fn has_patches(&self) -> bool {
        !self.is_empty() && self.patches.len() == self.len() * PATCH_BYTES
    }

    /// Point `point`'s photo patch ([`TIMELINE_PATCH_PX`] square, RGB), if the timeline keeps them.
    pub fn patch(&self, point: usize) -> Option<&[u8]> {
        self.patches.get(point * PATCH_BYTES..(point + 1) * PATCH_BYTES)
    }

    /// Frame `at` (fractional between frames, as [`Timeline::display_between_within`]) drawn as
    /// an atlas: `grid` x `grid` cells, each with the patch of the point that stands for it (see
    /// [`frame_cells`]), cells with fewer than `min_points` points left dark. None when the
    /// timeline keeps no patches.
    pub fn frame_atlas_picture(&self, at: f32, bounds: [f32; 4], grid: usize, min_points: usize) -> Option<image::RgbImage> {
        if !self.has_patches() {
            return None;
        }
        let px = TIMELINE_PATCH_PX;
        let layout = self.display_between_within(at, bounds);
        let mut picture = image::RgbImage::from_pixel(grid as u32 * px, grid as u32 * px, image::Rgb([18, 18, 22]));
        for cell in frame_cells(&layout, grid, min_points) {
            let patch = self.patch(cell.point)?;
            let (left, top) = (cell.column as u32 * px, cell.row as u32 * px);
            for (i, rgb) in patch.chunks_exact(3).enumerate() {
                let (x, y) = (i as u32 % px, i as u32 / px);
                picture.put_pixel(left + x, top + y, image::Rgb([rgb[0], rgb[1], rgb[2]]));
            }
        }
        Some(picture)
    }

    /// The order to draw the points in: shuffled (seeded), so no class is painted over all the
    /// others just because its folder comes last.
    pub fn draw_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        crate::engine::rng::SeededRng::new(self.params.seed ^ 0x7131_e11e).shuffle(&mut order);
        order
    }

    /// [`Timeline::movement`] of every frame (0 for the first).
    pub fn movements(&self) -> Vec<f32> {
        let bounds = self.bounds();
        let layouts: Vec<Vec<f32>> = (0..self.frames.len()).map(|f| self.display_layout_within(f, bounds)).collect();
        (0..layouts.len()).map(|f| if f == 0 { 0.0 } else { mean_displacement(&layouts[f - 1], &layouts[f]) }).collect()
    }
}

/// Mean Euclidean distance between the points of two `n x 2` layouts.
pub fn mean_displacement(a: &[f32], b: &[f32]) -> f32 {
    let n = (a.len() / 2).min(b.len() / 2);
    if n == 0 {
        return 0.0;
    }
    let total: f64 =
        a.chunks_exact(2).zip(b.chunks_exact(2)).map(|(p, q)| (((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)) as f64).sqrt()).sum();
    (total / n as f64) as f32
}

/// `moving` (n x 2) fitted onto `target` (n x 2): the rotation or reflection that minimises the
/// squared distances (orthogonal Procrustes, in closed form for two dimensions), the shift of
/// the centroids, and the scale that gives both the same spread.
pub fn procrustes_onto(moving: &[f32], target: &[f32]) -> Vec<f32> {
    let n = moving.len() / 2;
    if n == 0 || target.len() != moving.len() {
        return moving.to_vec();
    }
    let mean = |l: &[f32], axis: usize| l.iter().skip(axis).step_by(2).map(|&v| v as f64).sum::<f64>() / n as f64;
    let (mx, my, tx, ty) = (mean(moving, 0), mean(moving, 1), mean(target, 0), mean(target, 1));
    // Cross-covariance of the centred point sets, and the moving set's spread.
    let (mut sxx, mut sxy, mut syx, mut syy, mut spread) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for (p, q) in moving.chunks_exact(2).zip(target.chunks_exact(2)) {
        let (ax, ay, bx, by) = (p[0] as f64 - mx, p[1] as f64 - my, q[0] as f64 - tx, q[1] as f64 - ty);
        sxx += ax * bx;
        sxy += ax * by;
        syx += ay * bx;
        syy += ay * by;
        spread += ax * ax + ay * ay;
    }
    if spread <= f64::EPSILON {
        return moving.to_vec();
    }
    // Rotation by theta: the best theta has tan = (sxy - syx) / (sxx + syy), and the fit it gives
    // is the hypotenuse; a reflection (y flipped first) is tried the same way and kept if better.
    let rotation_fit = (sxx + syy).hypot(sxy - syx);
    let reflection_fit = (sxx - syy).hypot(sxy + syx);
    let reflect = reflection_fit > rotation_fit;
    let theta = if reflect { (sxy + syx).atan2(sxx - syy) } else { (sxy - syx).atan2(sxx + syy) };
    let (c, s) = (theta.cos(), theta.sin());
    // The least-squares scale (fit / spread) shrinks a layout by how poorly it matches, and
    // frame after frame the timeline would shrink to a dot; the spreads are matched instead.
    let target_spread: f64 = target.chunks_exact(2).map(|q| (q[0] as f64 - tx).powi(2) + (q[1] as f64 - ty).powi(2)).sum();
    let scale = (target_spread / spread).sqrt();
    moving
        .chunks_exact(2)
        .flat_map(|p| {
            let (ax, mut ay) = (p[0] as f64 - mx, p[1] as f64 - my);
            if reflect {
                ay = -ay;
            }
            let (rx, ry) = (c * ax - s * ay, s * ax + c * ay);
            [(scale * rx + tx) as f32, (scale * ry + ty) as f32]
        })
        .collect()
}

/// What a timeline build tells as it goes.
#[derive(Clone, Debug, PartialEq)]
pub enum TimelineEvent {
    /// Frame `frame` of `frames` started (0-based); `epoch` is its checkpoint's.
    Frame { frame: usize, frames: usize, epoch: u32 },
    /// Within the current frame: photos run through the network.
    Photos { done: usize, total: usize },
    /// A frame finished, with how far its points moved from the one before.
    FrameDone { frame: usize, movement: f32 },
}

/// Adds frames one checkpoint at a time, so a timeline can grow while a run trains.
pub struct TimelineBuilder {
    timeline: Timeline,
    per_image: usize,
    /// The previous frame's layout as UMAP left it, where the next starts from.
    last_raw: Option<Vec<f32>>,
}

impl TimelineBuilder {
    /// A timeline of `params.layer` of networks shaped as `net` (the run's first checkpoint;
    /// its geometry decides the grid positions sampled), over `photos` read at its input size.
    pub fn new(photos: &dyn Photos, params: TimelineParams, net: &dyn Network) -> Result<Self, AtlasError> {
        let geometry = LayerGeometry::of(net, params.layer).map_err(AtlasError::NotSpatial)?;
        let side = geometry.grid as usize;
        let candidates = interior_positions(side, geometry.sampling_margin(params.layer));
        let per_image = params.samples_per_image.clamp(1, candidates.len().max(1)).min((params.max_points / photos.len().max(1)).max(1));
        let (mut image, mut position, mut label) = (Vec::new(), Vec::new(), Vec::new());
        for (index, &class) in photos.labels().iter().enumerate() {
            for p in sampled_positions(&candidates, params.seed, index, per_image) {
                image.push(index as u32);
                position.push(p);
                label.push(class as u16);
            }
        }
        super::layout::validate(&params.umap, image.len())?;
        let data_name = photos.root().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let timeline = Timeline {
            layer: params.layer,
            geometry,
            class_names: photos.class_names().to_vec(),
            params,
            image,
            position,
            label,
            frames: Vec::new(),
            data_name,
            patches: Vec::new(),
        };
        Ok(TimelineBuilder { timeline, per_image, last_raw: None })
    }

    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    pub fn into_timeline(self) -> Timeline {
        self.timeline
    }

    /// Adds the frame of `net` (the checkpoint of `epoch`, file `checkpoint`).
    pub fn add_frame(
        &mut self,
        net: &dyn Network,
        frame: TimelineFrame,
        photos: &dyn Photos,
        on_event: &mut dyn FnMut(TimelineEvent),
        cancel: &AtomicBool,
    ) -> Result<(), AtlasError> {
        let params = self.timeline.params.clone();
        let geometry = LayerGeometry::of(net, params.layer).map_err(AtlasError::NotSpatial)?;
        if geometry != self.timeline.geometry {
            return Err(AtlasError::NotSpatial(format!("this checkpoint's {} is not shaped as the timeline's", params.layer)));
        }
        let layer = net.spec().resolve_layer(params.layer.name()).map_err(AtlasError::NotSpatial)?;
        let dim = net.spec().layers[layer].channels() as usize;
        let keep_patches = self.timeline.patches.is_empty();
        let (vectors, patches) = self.activations(net, layer, photos, dim, keep_patches, on_event, cancel)?;
        if keep_patches {
            self.timeline.patches = patches;
        }
        let (neighbours, _) = neighbour_graph(&vectors, dim, params.umap.n_neighbors, params.seed, net.device(), &mut |_, _| {}, cancel)
            .ok_or(AtlasError::Cancelled)?;
        let raw = umap_from(&neighbours, &params.umap, self.last_raw.as_deref(), 0, &mut |_, _| {}, cancel)?;
        let aligned = match self.timeline.frames.last() {
            Some(previous) => procrustes_onto(&raw, &previous.layout),
            None => raw.clone(),
        };
        self.last_raw = Some(raw);
        self.timeline.frames.push(TimelineFrame { layout: aligned, ..frame });
        let index = self.timeline.frames.len() - 1;
        on_event(TimelineEvent::FrameDone { frame: index, movement: self.timeline.movement(index) });
        Ok(())
    }

    /// Each point's activation vector under `net`, `n x dim`: forward passes only (a timeline
    /// needs no attributions), a batch of photos at a time; with `keep_patches`, also each
    /// point's photo patch (the same for every frame, so taken once).
    #[allow(clippy::too_many_arguments)]
    fn activations(
        &self,
        net: &dyn Network,
        layer: usize,
        photos: &dyn Photos,
        dim: usize,
        keep_patches: bool,
        on_event: &mut dyn FnMut(TimelineEvent),
        cancel: &AtomicBool,
    ) -> Result<(Vec<f32>, Vec<u8>), AtlasError> {
        let kind = crate::engine::network::network_kind(net);
        let mut vectors = Vec::with_capacity(self.timeline.len() * dim);
        let mut patches = Vec::with_capacity(if keep_patches { self.timeline.len() * PATCH_BYTES } else { 0 });
        let mut point = 0;
        let batch_size = 64;
        for start in (0..photos.len()).step_by(batch_size) {
            if cancel.load(Ordering::Relaxed) {
                return Err(AtlasError::Cancelled);
            }
            let end = (start + batch_size).min(photos.len());
            let images = photos.read(start..end).map_err(|file| AtlasError::File { path: file.path, reason: file.reason })?;
            let batch = images_to_tensor(images.iter()).to_device(net.device()).to_kind(kind);
            if keep_patches {
                let first = point;
                for (offset, image) in images.iter().enumerate() {
                    for k in 0..self.per_image {
                        let at = self.timeline.position[first + offset * self.per_image + k];
                        let crop = super::patches::receptive_patch(image, &self.timeline.geometry, at);
                        let small =
                            image::imageops::resize(&crop, TIMELINE_PATCH_PX, TIMELINE_PATCH_PX, image::imageops::FilterType::Triangle);
                        patches.extend_from_slice(small.as_raw());
                    }
                }
            }
            drop(images);
            let activation = tch::no_grad(|| {
                let _mixed = crate::engine::precision::mixed(net.device());
                net.forward_to(&batch, layer, false).to_kind(Kind::Float).to_device(tch::Device::Cpu).contiguous()
            });
            let side = activation.size()[2] as usize;
            let values = Vec::<f32>::try_from(activation.flatten(0, -1)).expect("floats");
            for offset in 0..end - start {
                for _ in 0..self.per_image {
                    let [x, y] = self.timeline.position[point];
                    let (x, y) = (x as usize, y as usize);
                    vectors.extend((0..dim).map(|channel| values[((offset * dim + channel) * side + y) * side + x]));
                    point += 1;
                }
            }
            on_event(TimelineEvent::Photos { done: end, total: photos.len() });
        }
        Ok((vectors, patches))
    }
}

/// The checkpoints of a run folder in epoch order, one per epoch (`best` is a copy of one).
pub fn run_checkpoints(run_dir: &Path) -> Vec<(u32, PathBuf, Option<f64>)> {
    let mut found: Vec<(u32, PathBuf, Option<f64>)> = list_checkpoints(run_dir)
        .into_iter()
        .filter(|c| c.path.file_name().is_some_and(|n| n != crate::engine::train::BEST_CHECKPOINT))
        .map(|c| (c.epoch, c.path, c.validation_accuracy))
        .collect();
    found.sort_by_key(|c| c.0);
    found.dedup_by_key(|c| c.0);
    found
}

/// Why a timeline could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error("{0} holds no checkpoints with their sidecar files (epoch-NNN.safetensors and .json)")]
    NoCheckpoints(PathBuf),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{path} is for classes {model:?}, the data set has {data:?}")]
    ClassMismatch { path: PathBuf, model: Vec<String>, data: Vec<String> },
    #[error(transparent)]
    Atlas(#[from] AtlasError),
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// A timeline of every epoch checkpoint in `run_dir` (every `every`-th, and always the last),
/// of any network; `photos` are read at the run's input size ([`run_input_size`]). A layer the
/// run's network does not have as a grid is refused with the list of those it has.
pub fn build_timeline(
    run_dir: &Path,
    photos: &dyn Photos,
    params: TimelineParams,
    every: usize,
    on_event: &mut dyn FnMut(TimelineEvent),
    cancel: &AtomicBool,
) -> Result<Timeline, TimelineError> {
    let all = run_checkpoints(run_dir);
    let every = every.max(1);
    let chosen: Vec<_> = all.iter().enumerate().filter(|(i, _)| i % every == 0 || *i + 1 == all.len()).map(|(_, c)| c.clone()).collect();
    if chosen.is_empty() {
        return Err(TimelineError::NoCheckpoints(run_dir.to_path_buf()));
    }
    let mut builder: Option<TimelineBuilder> = None;
    let device = crate::engine::model::default_device();
    for (frame, (epoch, path, accuracy)) in chosen.iter().enumerate() {
        on_event(TimelineEvent::Frame { frame, frames: chosen.len(), epoch: *epoch });
        let checkpoint = load_network(path, device)?;
        if checkpoint.meta.class_names != photos.class_names() {
            return Err(TimelineError::ClassMismatch {
                path: path.clone(),
                model: checkpoint.meta.class_names.clone(),
                data: photos.class_names().to_vec(),
            });
        }
        let builder = match &mut builder {
            Some(builder) => builder,
            None => builder.insert(TimelineBuilder::new(photos, params.clone(), checkpoint.net.as_ref())?),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let frame = TimelineFrame { epoch: *epoch, checkpoint: name, validation_accuracy: *accuracy, layout: Vec::new() };
        builder.add_frame(checkpoint.net.as_ref(), frame, photos, on_event, cancel)?;
    }
    Ok(builder.map(TimelineBuilder::into_timeline).expect("at least one checkpoint was chosen"))
}

/// The input side of the network a run trains (from its first checkpoint's sidecar), which its
/// timeline's photos are read at; None for a folder without checkpoints.
pub fn run_input_size(run_dir: &Path) -> Option<i64> {
    let (_, first, _) = run_checkpoints(run_dir).into_iter().next()?;
    let meta = crate::engine::checkpoint::read_checkpoint_meta(&first).ok()?;
    Some(meta.input.width)
}

/// The layer a timeline of a run shows when none is asked for, or the one asked for is not a
/// grid layer of the run's network: the paper's conv2; for a fine-tuning, the first block it
/// trains (the blocks before it do not change); else the network's usual layer.
pub fn default_timeline_layer(net: &dyn Network, recipe: Option<&crate::engine::recipe::TrainConfig>) -> Layer {
    if crate::engine::model::paper_net(net).is_some() {
        return Layer::CONV2;
    }
    if let Some(crate::engine::recipe::TransferMode::Finetune { unfreeze }) = recipe.and_then(|r| r.pretrained.as_ref()).map(|s| s.mode) {
        let first = crate::engine::finetune::trainable_stages(net, unfreeze).start;
        if net.spec().layers.get(first).is_some_and(|layer| layer.is_spatial()) {
            return Layer::named(&net.spec().layers[first].name);
        }
    }
    crate::engine::model::usual_layer(net.spec(), Layer::CONV2, true)
}

const HEADER_KEY: &str = "activation_atlas_timeline";

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    layer: Layer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    geometry: Option<LayerGeometry>,
    class_names: Vec<String>,
    params: TimelineParams,
    frames: Vec<TimelineFrame>,
    data_name: String,
}

/// Writes a timeline (safetensors: the point tables and one layout table per frame, with a JSON
/// header), atomically.
pub fn save_timeline(timeline: &Timeline, path: &Path) -> Result<(), TimelineError> {
    let n = timeline.len();
    let header = Header {
        version: 1,
        layer: timeline.layer,
        // Written for networks other than the paper's; its own is implied, as before.
        geometry: (timeline.geometry != LayerGeometry::paper(timeline.layer)).then(|| timeline.geometry.clone()),
        class_names: timeline.class_names.clone(),
        params: timeline.params.clone(),
        frames: timeline.frames.clone(),
        data_name: timeline.data_name.clone(),
    };
    let f32_bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut tables: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![
        ("image".into(), Dtype::U32, vec![n], timeline.image.iter().flat_map(|x| x.to_le_bytes()).collect()),
        (
            "position".into(),
            Dtype::U16,
            vec![n, 2],
            timeline.position.iter().flat_map(|p| [p[0].to_le_bytes(), p[1].to_le_bytes()].concat()).collect(),
        ),
        ("label".into(), Dtype::U16, vec![n], timeline.label.iter().flat_map(|x| x.to_le_bytes()).collect()),
    ];
    if timeline.patches.len() == n * PATCH_BYTES && n > 0 {
        let px = TIMELINE_PATCH_PX as usize;
        tables.push(("patches".into(), Dtype::U8, vec![n, px, px, 3], timeline.patches.clone()));
    }
    for (i, frame) in timeline.frames.iter().enumerate() {
        tables.push((format!("frame_{i:04}"), Dtype::F32, vec![n, 2], f32_bytes(&frame.layout)));
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = tables
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            (name.clone(), safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes).expect("consistent table"))
        })
        .collect();
    let header_json = serde_json::to_string(&header).expect("header serialises");
    let metadata = std::collections::HashMap::from([(HEADER_KEY.to_string(), header_json)]);
    let bytes = safetensors::serialize(views, &Some(metadata))
        .map_err(|e| TimelineError::File { path: path.to_path_buf(), reason: e.to_string() })?;
    crate::engine::fsutil::write_atomically(path, &bytes)
        .map_err(|e| TimelineError::File { path: path.to_path_buf(), reason: e.to_string() })
}

/// Biggest timeline file read (a million points over a hundred frames is under 1 GB).
const MAX_TIMELINE_BYTES: u64 = 2 << 30;

/// Reads a timeline file written by [`save_timeline`], checking every table against the header.
pub fn load_timeline(path: &Path) -> Result<Timeline, TimelineError> {
    let bytes = crate::engine::fsutil::read_user_file(path, MAX_TIMELINE_BYTES)
        .map_err(|e| TimelineError::File { path: path.to_path_buf(), reason: e.to_string() })?;
    parse_timeline(&bytes, path)
}

/// A timeline from the bytes of a file (`path` names it in errors), every table checked against
/// the header before it is used.
pub fn parse_timeline(bytes: &[u8], path: &Path) -> Result<Timeline, TimelineError> {
    let error = |reason: String| TimelineError::File { path: path.to_path_buf(), reason };
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| error(format!("not a timeline file ({e})")))?;
    let tensors = safetensors::SafeTensors::deserialize(bytes).map_err(|e| error(format!("not a timeline file ({e})")))?;
    let header_json = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(HEADER_KEY))
        .ok_or_else(|| error("not a timeline file (no timeline header)".into()))?;
    let header: Header = serde_json::from_str(header_json).map_err(|e| error(format!("malformed timeline header: {e}")))?;
    if header.version != 1 {
        return Err(error(format!("timeline format version {} is newer than this app's", header.version)));
    }
    let n = tensors.tensor("image").map_err(|_| error("missing table 'image'".into()))?.shape().first().copied().unwrap_or(0);
    let table = |name: &str, dtype: Dtype, shape: &[usize]| super::file::checked_table(&tensors, name, dtype, shape).map_err(error);
    let u16s = |b: Vec<u8>| b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<u16>>();
    let image: Vec<u32> = table("image", Dtype::U32, &[n])?.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let position: Vec<[u16; 2]> = u16s(table("position", Dtype::U16, &[n, 2])?).chunks_exact(2).map(|p| [p[0], p[1]]).collect();
    let label = u16s(table("label", Dtype::U16, &[n])?);
    if label.iter().any(|&l| l as usize >= header.class_names.len()) {
        return Err(error("a label points outside the class list".into()));
    }
    let mut frames = header.frames;
    for (i, frame) in frames.iter_mut().enumerate() {
        let layout: Vec<f32> = table(&format!("frame_{i:04}"), Dtype::F32, &[n, 2])?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if layout.iter().any(|v| !v.is_finite()) {
            return Err(error(format!("frame {i} has a position that is not a number")));
        }
        frame.layout = layout;
    }
    if frames.is_empty() {
        return Err(error("the timeline has no frames".into()));
    }
    // Patches are optional (a timeline saved without them still opens); when present, checked.
    let px = TIMELINE_PATCH_PX as usize;
    let patches =
        if tensors.names().iter().any(|name| *name == "patches") { table("patches", Dtype::U8, &[n, px, px, 3])? } else { Vec::new() };
    let geometry = match header.geometry {
        Some(geometry) => geometry,
        None if header.layer.is_conv() => LayerGeometry::paper(header.layer),
        None => return Err(error(format!("{} is not a layer of the paper's network and the file says no other", header.layer))),
    };
    if geometry.grid == 0 || geometry.grid > 4096 || geometry.input_size == 0 {
        return Err(error("the layer's geometry is out of range".into()));
    }
    if position.iter().any(|p| u32::from(p[0].max(p[1])) >= geometry.grid) {
        return Err(error("a point lies outside the layer's grid".into()));
    }
    Ok(Timeline {
        layer: header.layer,
        geometry,
        class_names: header.class_names,
        params: header.params,
        image,
        position,
        label,
        frames,
        data_name: header.data_name,
        patches,
    })
}
