//! k-nearest neighbours by cosine distance: exact, as batched matrix products on libtorch, while
//! that is cheap; NN-descent above [`EXACT_MAX_POINTS`], with its recall measured on a sample.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::nndescent::{nn_descent, squared_distance};
use crate::engine::rng::SeededRng;

/// Neighbour lists: for each point its `k` nearest (itself first, at distance 0), as indices and
/// cosine distances (1 - cosine similarity), row-major `n x k`.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbours {
    pub k: usize,
    pub indices: Vec<u32>,
    pub distances: Vec<f32>,
}

/// Exact kNN costs n² dot products: 19,040 vectors (the default flowers17 atlas) take about a
/// second, 40,000 about five; beyond that NN-descent is faster at a recall above 0.95.
pub const EXACT_MAX_POINTS: usize = 40_000;

/// Similarities held at once by exact kNN (64 MB), whatever the number of points.
const BLOCK_FLOATS: i64 = 16 << 20;

/// Points whose exact neighbours are compared with an approximate graph's.
const RECALL_SAMPLE: usize = 500;

/// How a neighbour graph was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KnnMethod {
    Exact,
    NnDescent,
}

impl std::fmt::Display for KnnMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KnnMethod::Exact => "exact",
            KnnMethod::NnDescent => "NN-descent",
        })
    }
}

/// The method chosen and the recall against exact neighbours (1 for exact; measured on a seeded
/// sample of [`RECALL_SAMPLE`] points for NN-descent).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KnnReport {
    pub method: KnnMethod,
    pub recall: f64,
    pub sampled: usize,
}

/// Rows of `vectors` (`n x dim`) scaled to unit length (zero rows stay zero).
pub fn unit_rows(vectors: &[f32], dim: usize, device: Device) -> Tensor {
    let n = (vectors.len() / dim.max(1)) as i64;
    let x = Tensor::from_slice(vectors).view([n, dim as i64]).to_device(device);
    let norms = x.norm_scalaropt_dim(2.0, &[1i64][..], true).clamp_min(1e-12);
    x / norms
}

/// The `k` nearest neighbours of every row of `points` among the rows of `reference` (both unit
/// rows), as indices and cosine distances. Query and reference are both taken in blocks, so at
/// most [`BLOCK_FLOATS`] similarities exist at a time.
pub fn nearest_among(points: &Tensor, reference: &Tensor, k: usize) -> (Vec<u32>, Vec<f32>) {
    nearest_among_until(points, reference, k, &AtomicBool::new(false)).expect("never cancelled")
}

/// [`nearest_among`], stopping between blocks (None) once `cancel` is set. libtorch computes each
/// block of similarities (into one reused buffer: a fresh 64 MB block costs as much in page faults
/// as the product itself); the running best k of each row are kept here, in a scan that rarely
/// does more than compare against the current k-th best.
fn nearest_among_until(points: &Tensor, reference: &Tensor, k: usize, cancel: &AtomicBool) -> Option<(Vec<u32>, Vec<f32>)> {
    let n = points.size()[0];
    let m = reference.size()[0];
    let k = k.min(m as usize);
    let queries_per_block = (BLOCK_FLOATS / m.max(1)).clamp(64, 4096).min(n.max(1));
    let references_per_block = (BLOCK_FLOATS / queries_per_block).max(k as i64).min(m.max(1));
    let mut indices = Vec::with_capacity(n as usize * k);
    let mut distances = Vec::with_capacity(n as usize * k);
    let buffer = Tensor::empty([queries_per_block, references_per_block], (Kind::Float, Device::Cpu));
    tch::no_grad(|| {
        let mut start = 0;
        while start < n {
            if cancel.load(Ordering::Relaxed) {
                return None;
            }
            let len = queries_per_block.min(n - start);
            let query = points.narrow(0, start, len);
            let mut best: Vec<Vec<(f32, u32)>> = vec![Vec::with_capacity(k + 1); len as usize];
            let mut offset = 0;
            while offset < m {
                let width = references_per_block.min(m - offset);
                let block = reference.narrow(0, offset, width).tr();
                let similarity = if query.device() == Device::Cpu && len == queries_per_block && width == references_per_block {
                    query.mm_out(&buffer, &block)
                } else {
                    query.mm(&block).to_device(Device::Cpu).contiguous()
                };
                let values = float_slice(&similarity);
                let width = width as usize;
                best.par_iter_mut().enumerate().for_each(|(row, best)| {
                    keep_best(&values[row * width..(row + 1) * width], offset as u32, k, best);
                });
                offset += width as i64;
            }
            for row in best {
                for (similarity, index) in row {
                    distances.push((1.0 - similarity).max(0.0));
                    indices.push(index);
                }
            }
            start += len;
        }
        Some(())
    })?;
    Some((indices, distances))
}

/// Merges `values` (similarities to the points `first..`) into `best`, the row's k most similar
/// so far, most similar first; on a tie the earlier point stays ahead.
fn keep_best(values: &[f32], first: u32, k: usize, best: &mut Vec<(f32, u32)>) {
    for (j, &value) in values.iter().enumerate() {
        let beats_last = best.last().is_some_and(|&(kept, _)| value > kept);
        if best.len() == k && !beats_last {
            continue;
        }
        let at = best.iter().position(|&(kept, _)| value > kept).unwrap_or(best.len());
        best.insert(at, (value, first + j as u32));
        best.truncate(k);
    }
}

/// The values of a contiguous CPU float tensor, borrowed without copying them (similarity blocks
/// are tens of megabytes each).
fn float_slice(tensor: &Tensor) -> &[f32] {
    assert!(tensor.device() == Device::Cpu && tensor.kind() == Kind::Float && tensor.is_contiguous(), "a contiguous CPU float tensor");
    let len = tensor.numel();
    // SAFETY: checked above: `tensor` holds `len` contiguous f32 values in CPU memory, which the
    // borrow of `tensor` keeps alive and which nothing writes while the slice exists.
    unsafe { std::slice::from_raw_parts(tensor.data_ptr().cast::<f32>(), len) }
}

/// Ties can put an identical twin before the point itself: make every row start with itself.
fn self_first(indices: &mut [u32], distances: &mut [f32], k: usize) {
    for row in 0..indices.len() / k.max(1) {
        let slice = &mut indices[row * k..(row + 1) * k];
        if let Some(at) = slice.iter().position(|&i| i as usize == row) {
            slice.swap(0, at);
            distances.swap(row * k, row * k + at);
        } else {
            slice[0] = row as u32;
        }
        distances[row * k] = 0.0;
    }
}

/// Exact kNN graph of `vectors` (`n x dim`) under cosine distance, `k` including the point itself.
pub fn knn_graph(vectors: &[f32], dim: usize, k: usize, device: Device) -> Neighbours {
    exact_graph(vectors, dim, k, device, &AtomicBool::new(false)).expect("never cancelled")
}

/// [`knn_graph`], None once `cancel` is set (checked between blocks).
fn exact_graph(vectors: &[f32], dim: usize, k: usize, device: Device, cancel: &AtomicBool) -> Option<Neighbours> {
    let unit = unit_rows(vectors, dim, device);
    let (mut indices, mut distances) = nearest_among_until(&unit, &unit, k, cancel)?;
    let k = k.min(unit.size()[0] as usize);
    self_first(&mut indices, &mut distances, k);
    Some(Neighbours { k, indices, distances })
}

/// The kNN graph by the method the size calls for: exact up to [`EXACT_MAX_POINTS`] points,
/// NN-descent (seeded, recall measured) above. `progress(done, total)`; None when cancelled.
pub fn neighbour_graph(
    vectors: &[f32],
    dim: usize,
    k: usize,
    seed: u64,
    device: Device,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Option<(Neighbours, KnnReport)> {
    let n = vectors.len() / dim.max(1);
    if n <= EXACT_MAX_POINTS {
        let graph = exact_graph(vectors, dim, k, device, cancel)?;
        progress(1, 1);
        return Some((graph, KnnReport { method: KnnMethod::Exact, recall: 1.0, sampled: 0 }));
    }
    let unit = unit_rows(vectors, dim, Device::Cpu);
    let rows = Vec::<f32>::try_from(unit.flatten(0, -1)).expect("floats");
    let (indices, squared) = nn_descent(&rows, dim, k, seed, progress, cancel)?;
    let k = k.min(n);
    // On unit rows |a - b|² = 2 (1 - cos): back to cosine distances.
    let distances = squared.iter().map(|d| (d / 2.0).max(0.0)).collect();
    let graph = Neighbours { k, indices, distances };
    let (recall, sampled) = sampled_recall(&rows, dim, &graph, seed);
    Some((graph, KnnReport { method: KnnMethod::NnDescent, recall, sampled }))
}

/// The share of true k nearest others (exact, by brute force) that `graph` lists, over a seeded
/// sample of points. A listed point as close as the k-th true neighbour counts (ties).
pub fn sampled_recall(rows: &[f32], dim: usize, graph: &Neighbours, seed: u64) -> (f64, usize) {
    let n = rows.len() / dim.max(1);
    let others = graph.k.saturating_sub(1);
    if n == 0 || others == 0 {
        return (1.0, 0);
    }
    let mut sample: Vec<usize> = (0..n).collect();
    SeededRng::derive(seed, 0x7ec4).shuffle(&mut sample);
    sample.truncate(RECALL_SAMPLE.min(n));
    let queries: Vec<f32> = sample.iter().flat_map(|&i| rows[i * dim..(i + 1) * dim].iter().copied()).collect();
    let reference = Tensor::from_slice(rows).view([n as i64, dim as i64]);
    let query = Tensor::from_slice(&queries).view([sample.len() as i64, dim as i64]);
    // k + 1: the point itself and a twin at distance 0 may both come first.
    let (exact, exact_distances) = nearest_among(&query, &reference, graph.k + 1);
    let width = (graph.k + 1).min(n);
    let mut found = 0usize;
    let mut wanted = 0usize;
    for (s, &i) in sample.iter().enumerate() {
        let truth: Vec<(u32, f32)> = exact[s * width..(s + 1) * width]
            .iter()
            .zip(&exact_distances[s * width..(s + 1) * width])
            .filter(|(j, _)| **j as usize != i)
            .map(|(&j, &d)| (j, d))
            .take(others)
            .collect();
        let Some(&(_, kth)) = truth.last() else { continue };
        let listed = &graph.indices[i * graph.k + 1..(i + 1) * graph.k];
        let here = &rows[i * dim..(i + 1) * dim];
        let mut unique: Vec<u32> = listed.iter().copied().filter(|&j| j as usize != i).collect();
        unique.sort_unstable();
        unique.dedup();
        let close =
            unique.iter().filter(|&&j| squared_distance(here, &rows[j as usize * dim..(j as usize + 1) * dim]) / 2.0 <= kth + 1e-5).count();
        found += close.min(truth.len());
        wanted += truth.len();
    }
    (if wanted == 0 { 1.0 } else { found as f64 / wanted as f64 }, sample.len())
}
