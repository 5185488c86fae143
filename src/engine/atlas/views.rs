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
            let feature_maps = FeatureMaps { layer: Layer::Conv2, channels, height: h, width: w, values: image.to_vec() };
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
    let (neighbours, _) = neighbour_graph(vectors, dim, 6, seed, net.device(), &mut |_, _| {}, cancel).ok_or_else(cancelled)?;
    let params = UmapParams { n_neighbors: 5, min_dist: 0.05, epochs: 500, seed, ..UmapParams::default() };
    let umap2 = umap(&neighbours, &UmapParams { components: 2, ..params }, 0, &mut |_, _| {}, cancel)?;
    let umap3 = umap(&neighbours, &UmapParams { components: 3, ..params }, 0, &mut |_, _| {}, cancel)?;
    let perplexity = 30.0f64.min((labels.len() as f64 - 1.0) / 3.0);
    let (tsne2, tsne3) = if labels.len() <= EXACT_TSNE_MAX_IMAGES {
        let affinities = tsne_affinities(vectors, dim, perplexity);
        (tsne_from_affinities(&affinities, 2, 300, seed, cancel)?, tsne_from_affinities(&affinities, 3, 300, seed, cancel)?)
    } else {
        let k = (3.0 * perplexity).ceil() as usize + 1;
        let (neighbours, _) = neighbour_graph(vectors, dim, k, seed, net.device(), &mut |_, _| {}, cancel).ok_or_else(cancelled)?;
        let affinities = sparse_affinities(vectors, dim, &neighbours, perplexity);
        (barnes_hut_tsne::<2>(&affinities, 300, seed, cancel)?, barnes_hut_tsne::<3>(&affinities, 300, seed, cancel)?)
    };
    Ok(Distribution {
        labels: labels.iter().map(|&l| l as u16).collect(),
        umap2: normalise(&umap2, 2, 0.02),
        umap3: normalise(&umap3, 3, 0.02),
        tsne2: normalise(&tsne2, 2, 0.02),
        tsne3: normalise(&tsne3, 3, 0.02),
    })
}
