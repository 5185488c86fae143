//! The paper's own views (section 5): the class mosaic of conv2 max-activation feature maps with
//! similar classes side by side, and the data distribution (one vector per image) laid out by UMAP
//! and t-SNE in 2-D and 3-D.

use std::sync::atomic::AtomicBool;

use super::bhtsne::{barnes_hut_tsne, sparse_affinities};
use super::knn::neighbour_graph;
use super::layout::{LayoutError, UmapParams, normalise, tsne_affinities, tsne_from_affinities, umap};
use crate::engine::explain::{FeatureMaps, paper_feature_map};
use crate::engine::model::{Layer, Net};

/// Per image, the paper's single feature map (25 x 25 grey levels) and its max-activation vector
/// (the maximum of each conv2 channel); per class, the order that puts similar classes together.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassMosaic {
    /// Class indices in display order.
    pub order: Vec<usize>,
    /// `images x 625` grey levels (0..255), in data set order.
    pub maps: Vec<u8>,
    pub map_side: usize,
    pub labels: Vec<u16>,
}

/// UMAP of the data distribution: each photo's nearest neighbours in the graph (the paper's 5).
pub const UMAP_NEIGHBOURS: usize = 5;
/// UMAP of the data distribution: how close points may pack (the paper's 0.05).
pub const UMAP_MIN_DIST: f32 = 0.05;
/// UMAP of the data distribution: optimisation epochs.
pub const UMAP_EPOCHS: usize = 500;
/// t-SNE of the data distribution: gradient-descent iterations (the paper's 300).
pub const TSNE_ITERATIONS: usize = 300;

/// t-SNE's perplexity for `images` photos: 30, or less where there are too few photos for it.
pub fn tsne_perplexity(images: usize) -> f64 {
    30.0f64.min((images as f64 - 1.0) / 3.0)
}

/// A view's points framed for the eye, so a few far points do not squeeze the rest into clumps:
/// the frame is set by the points that are not pinned (see [`pinned_points`]), each axis limited
/// to their [`FRAME_QUANTILE`] quantiles widened by a twentieth (never past those points);
/// a pinned point or one beyond the frame is drawn on its edge and marked.
#[derive(Clone, Debug, PartialEq)]
pub struct FramedPoints {
    pub points: Vec<[f64; 2]>,
    /// Per point: it lies beyond the frame (or was clipped when laid out) and is drawn on its edge.
    pub outside: Vec<bool>,
}

/// Per point of a normalised layout (`components` values a point, see
/// [`super::layout::normalise`]): whether it sits on an axis' extreme, where that clipping puts
/// the points beyond its percentiles.
pub fn pinned_points(layout: &[f32], components: usize) -> Vec<bool> {
    let components = components.max(1);
    let n = layout.len() / components;
    let mut pinned = vec![false; n];
    for axis in 0..components {
        let values = || (0..n).map(|i| layout[i * components + axis]);
        let low = values().fold(f32::INFINITY, f32::min);
        let high = values().fold(f32::NEG_INFINITY, f32::max);
        for (i, v) in values().enumerate() {
            pinned[i] |= v == low || v == high;
        }
    }
    pinned
}

/// The share of points on each side of each axis that may fall beyond a framed view's edge.
pub const FRAME_QUANTILE: f64 = 0.02;

/// Frames `points` (see [`FramedPoints`]); `pinned` marks points that do not set the frame.
pub fn frame_robustly(points: &[[f64; 2]], pinned: &[bool]) -> FramedPoints {
    let free = |i: usize| !pinned.get(i).copied().unwrap_or(false);
    let limits = |axis: usize| -> (f64, f64) {
        let mut values: Vec<f64> =
            points.iter().enumerate().filter(|(i, _)| free(*i)).map(|(_, p)| p[axis]).filter(|v| v.is_finite()).collect();
        if values.len() < 4 {
            return (f64::NEG_INFINITY, f64::INFINITY);
        }
        values.sort_by(f64::total_cmp);
        let quantile = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        let (low, high) = (quantile(FRAME_QUANTILE), quantile(1.0 - FRAME_QUANTILE));
        let margin = 0.05 * (high - low);
        ((low - margin).max(values[0]), (high + margin).min(values[values.len() - 1]))
    };
    let (x, y) = (limits(0), limits(1));
    let mut outside = Vec::with_capacity(points.len());
    let framed = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let clamped = [p[0].clamp(x.0, x.1), p[1].clamp(y.0, y.1)];
            outside.push(clamped != *p || !free(i));
            clamped
        })
        .collect();
    FramedPoints { points: framed, outside }
}

/// One vector per image (the max of each channel of `layer`), laid out four ways.
#[derive(Clone, Debug, PartialEq)]
pub struct Distribution {
    pub labels: Vec<u16>,
    pub umap2: Vec<f32>,
    pub umap3: Vec<f32>,
    pub tsne2: Vec<f32>,
    pub tsne3: Vec<f32>,
}

/// Orders classes so that neighbours are similar: start with the class most unlike the others,
/// then repeatedly append the most similar (cosine) class not yet placed.
pub fn similarity_order(class_means: &[Vec<f32>]) -> Vec<usize> {
    let cos = |a: &[f32], b: &[f32]| {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        dot / (norm(a) * norm(b))
    };
    let n = class_means.len();
    if n == 0 {
        return Vec::new();
    }
    let start = (0..n)
        .min_by(|&a, &b| {
            let total = |i: usize| (0..n).filter(|&j| j != i).map(|j| cos(&class_means[i], &class_means[j])).sum::<f32>();
            total(a).total_cmp(&total(b))
        })
        .unwrap_or(0);
    let mut order = vec![start];
    while order.len() < n {
        let last = *order.last().expect("not empty");
        let next = (0..n)
            .filter(|c| !order.contains(c))
            .max_by(|&a, &b| cos(&class_means[last], &class_means[a]).total_cmp(&cos(&class_means[last], &class_means[b])))
            .expect("a class is left");
        order.push(next);
    }
    order
}

/// Both paper views, from the images' conv2 `summaries` (gathered while collecting) and their
/// `labels` among `classes`.
pub fn paper_views(
    net: &Net,
    labels: &[usize],
    classes: usize,
    summaries: ImageSummaries,
    seed: u64,
    cancel: &AtomicBool,
) -> Result<(ClassMosaic, Distribution), LayoutError> {
    let distribution = distribution_of(net, labels, &summaries.vectors, summaries.dim, seed, cancel)?;
    Ok((mosaic_of(labels, classes, &summaries.vectors, summaries.dim, summaries.maps, summaries.side), distribution))
}

/// Per image: conv2's max-activation vector and the paper's feature map, batch by batch.
#[derive(Clone, Debug, Default)]
pub struct ImageSummaries {
    /// `images x channels`
    vectors: Vec<f32>,
    dim: usize,
    /// `images x side²` grey levels
    maps: Vec<u8>,
    side: usize,
    images: usize,
}

impl ImageSummaries {
    /// Adds a batch of conv2 block outputs, `[batch, C, H, W]`.
    pub fn add(&mut self, conv2: &tch::Tensor) {
        let conv2 = conv2.to_kind(tch::Kind::Float).to_device(tch::Device::Cpu).contiguous();
        let max = conv2.amax(&[2i64, 3][..], false);
        self.dim = max.size()[1] as usize;
        self.vectors.extend(Vec::<f32>::try_from(max.flatten(0, -1)).expect("floats"));
        let size = conv2.size();
        let (channels, h, w) = (size[1] as usize, size[2] as usize, size[3] as usize);
        let values = Vec::<f32>::try_from(conv2.flatten(0, -1)).expect("floats");
        for image in values.chunks(channels * h * w) {
            let feature_maps = FeatureMaps { layer: Layer::CONV2, channels, height: h, width: w, values: image.to_vec() };
            let (_, map) = paper_feature_map(&feature_maps);
            self.side = map.width;
            self.maps.extend(map.values.iter().map(|v| (v * 255.0).round() as u8));
            self.images += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.images
    }

    pub fn is_empty(&self) -> bool {
        self.images == 0
    }
}

fn mosaic_of(labels: &[usize], classes: usize, vectors: &[f32], dim: usize, maps: Vec<u8>, side: usize) -> ClassMosaic {
    let mut means = vec![vec![0f32; dim]; classes];
    let mut counts = vec![0f32; classes];
    for (i, &label) in labels.iter().enumerate() {
        counts[label] += 1.0;
        for (m, v) in means[label].iter_mut().zip(&vectors[i * dim..(i + 1) * dim]) {
            *m += v;
        }
    }
    for (mean, count) in means.iter_mut().zip(&counts) {
        mean.iter_mut().for_each(|m| *m /= count.max(1.0));
    }
    ClassMosaic { order: similarity_order(&means), maps, map_side: side, labels: labels.iter().map(|&l| l as u16).collect() }
}

/// Exact t-SNE holds n x n matrices (9 MB at 1,500 images, 1.6 GB at 20,000) and its time grows
/// with n²: above this many images the distribution uses Barnes-Hut t-SNE, whose memory is
/// linear. Measured here, the paper views took 13.2 s at 2,000 images exact and 6.4 s at 5,000
/// with Barnes-Hut; flowers17's 1,190 images stay exact (2.8 s).
pub const EXACT_TSNE_MAX_IMAGES: usize = 1500;

/// The paper's data distribution of the images' conv2 max-activation `vectors`: UMAP
/// (n_neighbors 5, min_dist 0.05) and t-SNE (300 iterations), each in 2-D and 3-D; t-SNE exact up
/// to [`EXACT_TSNE_MAX_IMAGES`] images, Barnes-Hut above.
fn distribution_of(
    net: &Net,
    labels: &[usize],
    vectors: &[f32],
    dim: usize,
    seed: u64,
    cancel: &AtomicBool,
) -> Result<Distribution, LayoutError> {
    let cancelled = || LayoutError::Cancelled;
    let (neighbours, _) =
        neighbour_graph(vectors, dim, UMAP_NEIGHBOURS + 1, seed, net.device(), &mut |_, _| {}, cancel).ok_or_else(cancelled)?;
    let params = UmapParams { n_neighbors: UMAP_NEIGHBOURS, min_dist: UMAP_MIN_DIST, epochs: UMAP_EPOCHS, seed, ..UmapParams::default() };
    let umap2 = umap(&neighbours, &UmapParams { components: 2, ..params }, 0, &mut |_, _| {}, cancel)?;
    let umap3 = umap(&neighbours, &UmapParams { components: 3, ..params }, 0, &mut |_, _| {}, cancel)?;
    let perplexity = tsne_perplexity(labels.len());
    let (tsne2, tsne3) = if labels.len() <= EXACT_TSNE_MAX_IMAGES {
        let affinities = tsne_affinities(vectors, dim, perplexity);
        let iterations = TSNE_ITERATIONS;
        (tsne_from_affinities(&affinities, 2, iterations, seed, cancel)?, tsne_from_affinities(&affinities, 3, iterations, seed, cancel)?)
    } else {
        let k = (3.0 * perplexity).ceil() as usize + 1;
        let (neighbours, _) = neighbour_graph(vectors, dim, k, seed, net.device(), &mut |_, _| {}, cancel).ok_or_else(cancelled)?;
        let affinities = sparse_affinities(vectors, dim, &neighbours, perplexity);
        (
            barnes_hut_tsne::<2>(&affinities, TSNE_ITERATIONS, seed, cancel)?,
            barnes_hut_tsne::<3>(&affinities, TSNE_ITERATIONS, seed, cancel)?,
        )
    };
    Ok(Distribution {
        labels: labels.iter().map(|&l| l as u16).collect(),
        umap2: normalise(&umap2, 2, 0.02),
        umap3: normalise(&umap3, 3, 0.02),
        tsne2: normalise(&tsne2, 2, 0.02),
        tsne3: normalise(&tsne3, 3, 0.02),
    })
}
