//! 2-D (or 3-D) layouts of activation vectors: UMAP, with the fuzzy graph from `umap-rs` and our
//! own seeded epoch loop (the crate's optimiser has a defect in its gradient and is not seedable),
//! and exact t-SNE for smaller sets. Plus normalisation and trustworthiness.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::Array2;
use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

use super::knn::Neighbours;
use crate::engine::rng::SeededRng;

/// UMAP settings.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UmapParams {
    pub n_neighbors: usize,
    pub min_dist: f32,
    pub epochs: usize,
    pub components: usize,
    pub seed: u64,
    pub negative_sample_rate: usize,
}

impl Default for UmapParams {
    fn default() -> Self {
        UmapParams { n_neighbors: 15, min_dist: 0.05, epochs: 200, components: 2, seed: 0, negative_sample_rate: 5 }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LayoutError {
    #[error("n_neighbors must be at least 2 and below the number of points ({points}); got {n_neighbors}")]
    BadNeighbours { n_neighbors: usize, points: usize },
    #[error("min_dist must be between 0 and 1; got {0}")]
    BadMinDist(f32),
    #[error("the layout needs 1, 2 or 3 components; got {0}")]
    BadComponents(usize),
    #[error("cancelled")]
    Cancelled,
}

/// Checks settings before they reach `umap-rs`, which panics on invalid ones.
pub fn validate(params: &UmapParams, points: usize) -> Result<(), LayoutError> {
    if params.n_neighbors < 2 || params.n_neighbors >= points {
        return Err(LayoutError::BadNeighbours { n_neighbors: params.n_neighbors, points });
    }
    if !(0.0..=1.0).contains(&params.min_dist) {
        return Err(LayoutError::BadMinDist(params.min_dist));
    }
    if !(1..=3).contains(&params.components) {
        return Err(LayoutError::BadComponents(params.components));
    }
    Ok(())
}

/// UMAP of `n` points given their kNN graph (with at least `n_neighbors` columns). Calls
/// `snapshot(epoch, layout)` every `snapshot_every` epochs (0: never); stops when `cancel` is set.
/// The result is `n x components`, row-major, deterministic for a seed.
pub fn umap(
    neighbours: &Neighbours,
    params: &UmapParams,
    snapshot_every: usize,
    snapshot: &mut dyn FnMut(usize, &[f32]),
    cancel: &AtomicBool,
) -> Result<Vec<f32>, LayoutError> {
    umap_from(neighbours, params, None, snapshot_every, snapshot, cancel)
}

/// [`umap`] starting from `start` (`n x components`, e.g. the layout of the same points under an
/// earlier model) instead of the graph's seeded spectral layout.
pub fn umap_from(
    neighbours: &Neighbours,
    params: &UmapParams,
    start: Option<&[f32]>,
    snapshot_every: usize,
    snapshot: &mut dyn FnMut(usize, &[f32]),
    cancel: &AtomicBool,
) -> Result<Vec<f32>, LayoutError> {
    let n = neighbours.indices.len() / neighbours.k.max(1);
    validate(params, n)?;
    let k = params.n_neighbors.min(neighbours.k);
    let mut knn_indices = Array2::<u32>::zeros((n, k));
    let mut knn_dists = Array2::<f32>::zeros((n, k));
    for row in 0..n {
        for col in 0..k {
            knn_indices[[row, col]] = neighbours.indices[row * neighbours.k + col];
            knn_dists[[row, col]] = neighbours.distances[row * neighbours.k + col];
        }
    }
    let config = umap_rs::UmapConfig {
        n_components: params.components,
        manifold: umap_rs::ManifoldParams { min_dist: params.min_dist, ..Default::default() },
        graph: umap_rs::GraphParams { n_neighbors: k, ..Default::default() },
        optimization: umap_rs::OptimizationParams::default(),
    };
    let manifold = fuzzy_graph(config, n, knn_indices, knn_dists, cancel)?;
    let (a, b) = manifold.curve_params();
    let graph = manifold.graph();

    // Edges weighted by membership; weak ones (sampled less than once) are dropped, as the
    // reference implementation does. Sorted by head, so each point's edges are contiguous.
    let mut edges: Vec<(u32, u32, f32)> = graph.iter().map(|(&w, (i, j))| (i, j, w)).collect();
    let max_weight = edges.iter().map(|e| e.2).fold(0.0f32, f32::max);
    edges.retain(|e| e.2 >= max_weight / params.epochs as f32);
    edges.sort_unstable_by_key(|e| (e.0, e.1));
    if cancel.load(Ordering::Relaxed) {
        return Err(LayoutError::Cancelled);
    }
    let mut first_edge = vec![0usize; n + 1];
    for e in &edges {
        first_edge[e.0 as usize + 1] += 1;
    }
    for i in 0..n {
        first_edge[i + 1] += first_edge[i];
    }
    let mut schedule: Vec<EdgeSchedule> = edges
        .iter()
        .map(|e| {
            let per_sample = max_weight / e.2;
            let per_negative = per_sample / params.negative_sample_rate.max(1) as f32;
            EdgeSchedule { tail: e.1, per_sample, per_negative, next_sample: per_sample, next_negative: per_negative }
        })
        .collect();

    let dim = params.components;
    let mut embedding: Vec<f32> = match start {
        Some(start) if start.len() == n * dim => start.to_vec(),
        _ => spectral_start(&edges, &first_edge, dim, params.seed),
    };
    drop(edges);
    for epoch in 0..params.epochs {
        if cancel.load(Ordering::Relaxed) {
            return Err(LayoutError::Cancelled);
        }
        let context = EpochContext {
            a,
            b,
            n,
            epoch,
            epochs: params.epochs,
            seed: params.seed,
            first_edge: &first_edge,
            previous: &embedding.clone(),
        };
        match dim {
            1 => context.run::<1>(&mut embedding, &mut schedule),
            2 => context.run::<2>(&mut embedding, &mut schedule),
            _ => context.run::<3>(&mut embedding, &mut schedule),
        }
        if snapshot_every > 0 && (epoch + 1) % snapshot_every == 0 {
            snapshot(epoch + 1, &embedding);
        }
    }
    Ok(embedding)
}

/// Subspace iterations of the spectral start: enough to settle the graph's large-scale shape
/// (the layout only starts there; the epochs do the rest) for well under a second.
const SPECTRAL_ITERATIONS: usize = 100;

/// The starting layout the reference implementation uses: the graph's Laplacian eigenmap, i.e.
/// the `dim` leading eigenvectors of D^-1/2 W D^-1/2 after the trivial one (D^1/2 1), found by
/// seeded subspace iteration; scaled to [0, 10] per axis with a little seeded noise so that no
/// two points start on top of each other. Points start near the points they are linked to,
/// which random positions cannot give in 200 epochs. `edges` sorted by head, `first_edge[i]`
/// the first of point i's.
fn spectral_start(edges: &[(u32, u32, f32)], first_edge: &[usize], dim: usize, seed: u64) -> Vec<f32> {
    let n = first_edge.len() - 1;
    let degree: Vec<f64> = (0..n).map(|i| edges[first_edge[i]..first_edge[i + 1]].iter().map(|e| e.2 as f64).sum()).collect();
    let inverse_root = |i: usize| if degree[i] > 0.0 { 1.0 / degree[i].sqrt() } else { 0.0 };
    let normalised: Vec<f64> = edges.iter().map(|e| e.2 as f64 * inverse_root(e.0 as usize) * inverse_root(e.1 as usize)).collect();
    let trivial = unit(degree.iter().map(|d| d.sqrt()).collect());
    let mut rng = SeededRng::derive(seed, 0x5bec_7a1e);
    let mut columns: Vec<Vec<f64>> = (0..dim).map(|_| (0..n).map(|_| rng.normal()).collect()).collect();
    for _ in 0..SPECTRAL_ITERATIONS {
        for c in 0..dim {
            // Each row is summed on its own, so the result is the same on any number of threads.
            let x = &columns[c];
            let mut y: Vec<f64> = (0..n)
                .into_par_iter()
                .map(|i| (first_edge[i]..first_edge[i + 1]).map(|e| normalised[e] * x[edges[e].1 as usize]).sum())
                .collect();
            // Gram-Schmidt against the trivial vector and the columns before.
            for other in std::iter::once(&trivial).chain(&columns[..c]) {
                let overlap: f64 = y.iter().zip(other).map(|(a, b)| a * b).sum();
                y.iter_mut().zip(other).for_each(|(a, b)| *a -= overlap * b);
            }
            columns[c] = unit(y);
        }
    }
    let mut layout = vec![0f32; n * dim];
    for (c, column) in columns.iter().enumerate() {
        let largest = column.iter().fold(0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
        let values: Vec<f64> = column.iter().map(|v| v * 10.0 / largest + 1e-4 * rng.normal()).collect();
        let (low, high) = values.iter().fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        let span = (high - low).max(f64::MIN_POSITIVE);
        for (i, v) in values.iter().enumerate() {
            layout[i * dim + c] = (10.0 * (v - low) / span) as f32;
        }
    }
    layout
}

/// `v` scaled to unit length (a zero vector stays zero).
fn unit(mut v: Vec<f64>) -> Vec<f64> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// umap-rs's fuzzy graph of the neighbour lists. The crate cannot be interrupted inside (up to
/// about 3 s at a million vectors), so it runs on a thread of its own: a cancel returns within
/// 50 ms and the abandoned graph is dropped when that thread ends.
fn fuzzy_graph(
    config: umap_rs::UmapConfig,
    n: usize,
    knn_indices: Array2<u32>,
    knn_dists: Array2<f32>,
    cancel: &AtomicBool,
) -> Result<umap_rs::LearnedManifold, LayoutError> {
    // The graph builder reads only the neighbour lists; the data array is a placeholder.
    let build = move || {
        let placeholder = Array2::<f32>::zeros((n, 1));
        umap_rs::Umap::new(config).learn_manifold(placeholder.view(), knn_indices.view(), knn_dists.view())
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("umap-graph".into())
        .spawn(move || {
            let _ = sender.send(build());
        })
        .expect("the OS can start a thread");
    loop {
        match receiver.recv_timeout(std::time::Duration::from_millis(50)) {
            Ok(manifold) => return Ok(manifold),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if cancel.load(Ordering::Relaxed) => return Err(LayoutError::Cancelled),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            // Its thread panicked (umap-rs panics on settings `validate` lets through): say so here,
            // where the job system catches it.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("umap-rs failed while building its fuzzy graph"),
        }
    }
}

/// Points per block of the parallel epoch.
const EPOCH_BLOCK: usize = 256;

/// When an edge is next sampled, and its negative samples.
#[derive(Clone)]
struct EdgeSchedule {
    tail: u32,
    per_sample: f32,
    per_negative: f32,
    next_sample: f32,
    next_negative: f32,
}

/// What every block of one epoch reads.
struct EpochContext<'a> {
    a: f32,
    b: f32,
    n: usize,
    epoch: usize,
    epochs: usize,
    seed: u64,
    first_edge: &'a [usize],
    /// The layout at the start of the epoch: other blocks' points are read from it.
    previous: &'a [f32],
}

impl EpochContext<'_> {
    /// One epoch over `D`-dimensional points (`D` fixed at compile time, so the per-point loops
    /// unroll). Fixed blocks of points (not one per thread), so the layout is the same on any
    /// number of threads; each block moves only its own points.
    fn run<const D: usize>(&self, embedding: &mut [f32], schedule: &mut [EdgeSchedule]) {
        let (points, _) = embedding.as_chunks_mut::<D>();
        let (previous, _) = self.previous.as_chunks::<D>();
        let mut blocks = Vec::with_capacity(points.len().div_ceil(EPOCH_BLOCK));
        let (mut rest_points, mut rest_edges) = (points, schedule);
        let mut start = 0;
        while !rest_points.is_empty() {
            let end = (start + EPOCH_BLOCK).min(self.n);
            let (block_points, others) = std::mem::take(&mut rest_points).split_at_mut(end - start);
            let (block_edges, other_edges) = std::mem::take(&mut rest_edges).split_at_mut(self.first_edge[end] - self.first_edge[start]);
            blocks.push((start, block_points, block_edges));
            (rest_points, rest_edges, start) = (others, other_edges, end);
        }
        blocks.into_par_iter().for_each(|(start, points, edges)| self.move_block_fastest(start, points, edges, previous));
    }

    /// [`Self::move_block`] compiled for AVX2 when the CPU has it: the groups of negative samples
    /// then run 8 lanes wide instead of 4. The arithmetic is the same operations in the same order
    /// (no fused multiply-add), so the layout does not depend on the CPU.
    fn move_block_fastest<const D: usize>(&self, start: usize, points: &mut [[f32; D]], edges: &mut [EdgeSchedule], previous: &[[f32; D]]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has just been checked for AVX2.
            unsafe { self.move_block_avx2(start, points, edges, previous) };
            return;
        }
        self.move_block(start, points, edges, previous);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn move_block_avx2<const D: usize>(&self, start: usize, points: &mut [[f32; D]], edges: &mut [EdgeSchedule], previous: &[[f32; D]]) {
        self.move_block(start, points, edges, previous);
    }

    /// One epoch of SGD for the points `start..start + points.len()`, which only this call
    /// moves: attraction along the edges due this epoch and repulsion from negative samples,
    /// drawn from a generator seeded by (seed, epoch, edge). Each point takes the pulls of its due
    /// edges first, then the pushes of all their negative samples. Points of the block are read
    /// as they move; others as they were when the epoch began.
    #[inline(always)]
    fn move_block<const D: usize>(&self, start: usize, points: &mut [[f32; D]], edges: &mut [EdgeSchedule], previous: &[[f32; D]]) {
        let (a, b) = (self.a, self.b);
        let alpha = 1.0 - self.epoch as f32 / self.epochs as f32;
        let epoch_f = self.epoch as f32;
        let edge_base = self.first_edge[start];
        let mut negatives: Vec<u32> = Vec::new();
        for head in start..start + points.len() {
            // The head moves in a local copy; no other point reads it while it moves.
            let mut current = points[head - start];
            let position =
                |points: &[[f32; D]], j: usize| if j.wrapping_sub(start) < points.len() { points[j - start] } else { previous[j] };
            negatives.clear();
            for e in self.first_edge[head]..self.first_edge[head + 1] {
                let edge = &mut edges[e - edge_base];
                if edge.next_sample > epoch_f {
                    continue;
                }
                let tail = position(points, edge.tail as usize);
                let dist2 = squared_distance(&current, &tail);
                if dist2 > 0.0 {
                    // Attraction: -2ab d^(2(b-1)) / (a d^(2b) + 1). Twice, because the reference
                    // moves both ends of an edge and the graph holds each edge both ways; here
                    // each end moves itself along its own copy.
                    let pow_b_minus_1 = fast_pow(dist2, b - 1.0);
                    let coefficient = -2.0 * a * b * pow_b_minus_1 / (a * pow_b_minus_1 * dist2 + 1.0);
                    for d in 0..D {
                        current[d] += 2.0 * clip_gradient(coefficient * (current[d] - tail[d])) * alpha;
                    }
                }
                edge.next_sample += edge.per_sample;
                let due = ((epoch_f - edge.next_negative) / edge.per_negative).max(0.0) as usize;
                let mut rng = SeededRng::derive(self.seed ^ (self.epoch as u64).wrapping_mul(0xa076_1d64_78bd_642f), e as u64);
                for _ in 0..due {
                    // Multiply-shift instead of a 64-bit modulo: the draw is in the inner loop.
                    let other = ((rng.next_u64() as u128 * self.n as u128) >> 64) as u32;
                    if other as usize != head {
                        negatives.push(other);
                    }
                }
                edge.next_negative += due as f32 * edge.per_negative;
            }
            // Repulsion from the negative samples, NEGATIVE_LANES at a time, each group's pushes
            // computed from the same position so that the compiler can run them side by side.
            for group in negatives.chunks(NEGATIVE_LANES) {
                // Unused lanes hold the point itself: zero distance, zero push.
                let mut far = [current; NEGATIVE_LANES];
                for (lane, &other) in group.iter().enumerate() {
                    far[lane] = position(points, other as usize);
                }
                let mut coefficient = [0f32; NEGATIVE_LANES];
                for lane in 0..NEGATIVE_LANES {
                    // Repulsion: 2b / ((0.001 + d^2)(a d^(2b) + 1)).
                    let dist2 = squared_distance(&current, &far[lane]);
                    coefficient[lane] = 2.0 * b / ((0.001 + dist2) * (a * fast_pow(dist2, b) + 1.0));
                }
                let mut push = [0f32; D];
                for lane in 0..NEGATIVE_LANES {
                    for d in 0..D {
                        push[d] += clip_gradient(coefficient[lane] * (current[d] - far[lane][d]));
                    }
                }
                for d in 0..D {
                    current[d] += push[d] * alpha;
                }
            }
            points[head - start] = current;
        }
    }
}

/// Negative samples whose pushes are computed together (one AVX register of f32).
const NEGATIVE_LANES: usize = 8;

#[inline(always)]
fn squared_distance<const D: usize>(p: &[f32; D], q: &[f32; D]) -> f32 {
    (0..D).map(|d| (p[d] - q[d]) * (p[d] - q[d])).sum()
}

/// The reference implementation's bound on one gradient component.
#[inline(always)]
fn clip_gradient(v: f32) -> f32 {
    v.clamp(-4.0, 4.0)
}

/// `x^p` for `x >= 0` as 2^(p log2 x) with short polynomials (relative error below 1e-4), branch
/// free so that groups of it vectorise: the library `powf` was a third of the epoch loop's time.
#[inline(always)]
fn fast_pow(x: f32, p: f32) -> f32 {
    fast_exp2(p * fast_log2(x))
}

/// log2 of a non-negative `x`: the exponent field plus a degree-5 fit of log2(1 + t) on [0, 1)
/// for the mantissa (absolute error 2e-5). Zero gives -127.
#[inline(always)]
fn fast_log2(x: f32) -> f32 {
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let t = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000) - 1.0;
    let mantissa = t * (1.441_879_7 + t * (-0.708_863_85 + t * (0.415_240_97 + t * (-0.193_510_4 + t * 0.045_265_503))));
    exponent as f32 + mantissa
}

/// 2^y: the nearest whole number straight into the exponent field, a degree-4 fit of 2^f on
/// [-0.5, 0.5] for the rest (relative error 3e-6). Clamped to the normal range. The rounding is
/// done by adding 1.5 * 2^23, which vectorises where a float-to-int cast does not.
#[inline(always)]
fn fast_exp2(y: f32) -> f32 {
    const ROUNDER: f32 = 12_582_912.0;
    let y = y.clamp(-126.0, 126.0);
    let shifted = y + ROUNDER;
    let whole = shifted.to_bits().wrapping_sub(ROUNDER.to_bits()) as i32;
    let f = y - (shifted - ROUNDER);
    let fraction = 1.0 + f * (0.693_122 + f * (0.240_237_19 + f * (0.055_916_935 + f * 0.009_600_403)));
    f32::from_bits((whole + 127).cast_unsigned() << 23) * fraction
}

/// Exact t-SNE (perplexity-calibrated Gaussian affinities, Student-t similarities, early
/// exaggeration, momentum), dense on libtorch: for up to a few thousand points.
pub fn tsne(
    vectors: &[f32],
    dim: usize,
    components: usize,
    perplexity: f64,
    iterations: usize,
    seed: u64,
    cancel: &AtomicBool,
) -> Result<Vec<f32>, LayoutError> {
    let p = tsne_affinities(vectors, dim, perplexity);
    tsne_from_affinities(&p, components, iterations, seed, cancel)
}

/// The symmetric t-SNE affinities P of `vectors` (`n x n`), reusable for several layouts.
pub fn tsne_affinities(vectors: &[f32], dim: usize, perplexity: f64) -> Tensor {
    let n = vectors.len() / dim.max(1);
    let device = Device::Cpu;
    let x = Tensor::from_slice(vectors).view([n as i64, dim as i64]).to_kind(Kind::Double).to_device(device);
    let squared = (&x * &x).sum_dim_intlist(&[1i64][..], true, Kind::Double);
    let distances = (&squared + squared.tr() - x.matmul(&x.tr()) * 2.0).clamp_min(0.0);
    let distances = Vec::<f64>::try_from(distances.flatten(0, -1)).expect("doubles");
    // Binary search of each row's precision for the target perplexity.
    let target_entropy = perplexity.max(1.0).ln();
    let mut p = vec![0f64; n * n];
    for i in 0..n {
        let row = &distances[i * n..(i + 1) * n];
        let others: Vec<f64> = row.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, d)| *d).collect();
        let probabilities = conditional_probabilities(&others, target_entropy);
        for (j, probability) in (0..n).filter(|&j| j != i).zip(probabilities) {
            p[i * n + j] = probability;
        }
    }
    let p = Tensor::from_slice(&p).view([n as i64, n as i64]);
    ((&p + p.tr()) / (2.0 * n as f64)).clamp_min(1e-12).to_kind(Kind::Float)
}

/// t-SNE's conditional probabilities p_j|i of one point's `distances` (squared, to the others):
/// a Gaussian whose precision is found by binary search so that its entropy is `target_entropy`
/// (the log of the perplexity). Shared by exact and Barnes-Hut t-SNE.
pub(super) fn conditional_probabilities(distances: &[f64], target_entropy: f64) -> Vec<f64> {
    let nearest = distances.iter().copied().fold(f64::INFINITY, f64::min);
    let (mut beta, mut low, mut high) = (1.0f64, 0.0f64, f64::INFINITY);
    for _ in 0..64 {
        let (mut sum, mut weighted) = (0.0, 0.0);
        for &d in distances {
            let w = (-(d - nearest) * beta).exp();
            sum += w;
            weighted += w * (d - nearest);
        }
        let entropy = sum.max(1e-300).ln() + beta * weighted / sum.max(1e-300);
        if (entropy - target_entropy).abs() < 1e-5 {
            break;
        }
        if entropy > target_entropy {
            low = beta;
            beta = if high.is_finite() { (beta + high) / 2.0 } else { beta * 2.0 };
        } else {
            high = beta;
            beta = (beta + low) / 2.0;
        }
    }
    let weights: Vec<f64> = distances.iter().map(|&d| (-(d - nearest) * beta).exp()).collect();
    let sum = weights.iter().sum::<f64>().max(1e-300);
    weights.into_iter().map(|w| w / sum).collect()
}

/// t-SNE iterations from precomputed affinities (see [`tsne_affinities`]).
pub fn tsne_from_affinities(
    p: &Tensor,
    components: usize,
    iterations: usize,
    seed: u64,
    cancel: &AtomicBool,
) -> Result<Vec<f32>, LayoutError> {
    let n = p.size()[0] as usize;
    let device = p.device();
    let kind = Kind::Float;
    let mut y = crate::engine::rng::SeededRng::new(seed).normal_tensor(&[n as i64, components as i64], device) * 1e-4;
    let mut velocity = y.zeros_like();
    let learning_rate = (n as f64 / 12.0).max(50.0);
    for iteration in 0..iterations {
        if cancel.load(Ordering::Relaxed) {
            return Err(LayoutError::Cancelled);
        }
        let exaggeration = if iteration < iterations / 4 { 12.0 } else { 1.0 };
        let momentum = if iteration < iterations / 4 { 0.5 } else { 0.8 };
        let sq = (&y * &y).sum_dim_intlist(&[1i64][..], true, kind);
        let mut num = ((&sq + sq.tr() - y.matmul(&y.tr()) * 2.0).clamp_min(0.0) + 1.0).reciprocal();
        let num = num.fill_diagonal_(0.0, false);
        let q = (&num / num.sum(kind)).clamp_min(1e-12);
        let weights = (p * exaggeration - q) * &num;
        let gradient = (weights.sum_dim_intlist(&[1i64][..], true, kind) * &y - weights.matmul(&y)) * 4.0;
        velocity = &velocity * momentum - gradient * learning_rate;
        y = &y + &velocity;
    }
    Ok(Vec::<f32>::try_from(y.to_device(Device::Cpu).flatten(0, -1)).expect("floats"))
}

/// Scales each axis to [0, 1] after clipping to its 1st-99th percentile, with a margin of
/// `margin` (fraction of the range) on each side; points outside the percentiles are clamped.
pub fn normalise(layout: &[f32], components: usize, margin: f32) -> Vec<f32> {
    let n = layout.len() / components.max(1);
    let mut out = layout.to_vec();
    for axis in 0..components {
        let mut values: Vec<f32> = (0..n).map(|i| layout[i * components + axis]).collect();
        values.sort_by(f32::total_cmp);
        let at = |q: f32| values[((n.saturating_sub(1)) as f32 * q).round() as usize];
        let (low, high) = (at(0.01), at(0.99));
        let span = (high - low).max(f32::EPSILON);
        for i in 0..n {
            let v = (layout[i * components + axis] - low) / span;
            out[i * components + axis] = (margin + v.clamp(0.0, 1.0) * (1.0 - 2.0 * margin)).clamp(0.0, 1.0);
        }
    }
    out
}

/// Trustworthiness (Venna and Kaski; scikit-learn's definition) of a layout with `k` neighbours:
/// 1 means every point's k nearest in the layout are among its nearest in the original space.
/// `original_rank(i, j)` is j's rank among i's neighbours in the original space (1 = nearest).
pub fn trustworthiness(vectors: &[f32], dim: usize, layout: &[f32], components: usize, k: usize, cosine: bool) -> f64 {
    let n = vectors.len() / dim;
    let device = Device::Cpu;
    let prepare = |values: &[f32], d: usize, unit: bool| {
        let t = Tensor::from_slice(values).view([n as i64, d as i64]).to_kind(Kind::Double).to_device(device);
        if unit { &t / t.norm_scalaropt_dim(2.0, &[1i64][..], true).clamp_min(1e-12) } else { t }
    };
    let x = prepare(vectors, dim, cosine);
    let y = prepare(layout, components, false);
    let distance = |t: &Tensor| {
        let sq = (t * t).sum_dim_intlist(&[1i64][..], true, Kind::Double);
        &sq + sq.tr() - t.matmul(&t.tr()) * 2.0
    };
    let dx = distance(&x) + Tensor::eye(n as i64, (Kind::Double, device)) * -1e9; // self first
    let dy = distance(&y) + Tensor::eye(n as i64, (Kind::Double, device)) * -1e9;
    // Rank of every j in i's original ordering.
    let order = dx.argsort(1, false);
    let ranks = order.argsort(1, false); // ranks[i][j] = position of j in i's order (0 = self)
    let layout_neighbours = dy.argsort(1, false).narrow(1, 1, k as i64);
    let neighbour_ranks = ranks.gather(1, &layout_neighbours, false).to_kind(Kind::Double);
    let penalty = (neighbour_ranks - k as f64).clamp_min(0.0).sum(Kind::Double).double_value(&[]);
    let (n, k) = (n as f64, k as f64);
    1.0 - 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)) * penalty
}

#[cfg(test)]
mod tests {
    use super::{EdgeSchedule, EpochContext, fast_pow};
    use crate::engine::rng::SeededRng;

    #[test]
    fn an_epoch_moves_the_points_identically_with_and_without_avx2() {
        // A ring: every point linked to its three neighbours on each side, at varied weights.
        let n = 700;
        let mut first_edge = vec![0];
        let mut schedule = Vec::new();
        for i in 0..n {
            for offset in 1..=3 {
                for tail in [(i + offset) % n, (i + n - offset) % n] {
                    let per_sample = 1.0 + offset as f32 * 0.7;
                    let per_negative = per_sample / 5.0;
                    schedule.push(EdgeSchedule { tail: tail as u32, per_sample, per_negative, next_sample: 0.0, next_negative: 0.0 });
                }
            }
            first_edge.push(schedule.len());
        }
        let mut rng = SeededRng::new(3);
        let start: Vec<f32> = (0..n * 2).map(|_| rng.normal() as f32 * 5.0).collect();
        let context = EpochContext { a: 1.58, b: 0.9, n, epoch: 2, epochs: 10, seed: 11, first_edge: &first_edge, previous: &start };
        let (previous, _) = start.as_chunks::<2>();

        let (mut portable, mut portable_schedule) = (previous.to_vec(), schedule.clone());
        context.move_block::<2>(0, &mut portable, &mut portable_schedule, previous);
        let (mut fastest, mut fastest_schedule) = (previous.to_vec(), schedule);
        context.move_block_fastest::<2>(0, &mut fastest, &mut fastest_schedule, previous);

        assert!(portable.iter().zip(previous).filter(|(p, q)| p != q).count() > n / 2, "the epoch moves most points");
        let bits = |points: &[[f32; 2]]| points.iter().flatten().map(|v| v.to_bits()).collect::<Vec<u32>>();
        assert_eq!(bits(&portable), bits(&fastest), "the same bits whatever the instruction set");
    }

    #[test]
    fn fast_pow_is_within_1e4_of_powf_over_the_distances_seen() {
        for p in [0.5f32, 0.79, 0.895, 1.0, 1.5, -0.105, -0.21] {
            let mut x = 1e-6f32;
            while x < 1e6 {
                let (fast, exact) = (fast_pow(x, p), x.powf(p));
                assert!(((fast - exact) / exact).abs() < 1e-4, "{x}^{p}: {fast} vs {exact}");
                x *= 1.013;
            }
        }
        assert!(fast_pow(0.0, 0.9) < 1e-30, "zero stays (near) zero");
    }
}
