//! Barnes-Hut t-SNE (van der Maaten, 2014) for sets too large for exact t-SNE, whose n x n
//! matrices grow with the square of the number of points: affinities only between each point and
//! its 3 x perplexity nearest neighbours (sparse), and the repulsion between all pairs
//! approximated by a 2^d-tree over the layout (a far group of points acts as one, at its centre
//! of mass). Memory is linear in n; each iteration costs about n log n.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::knn::Neighbours;
use super::layout::{LayoutError, conditional_probabilities};
use super::nndescent::squared_distance;
use crate::engine::rng::SeededRng;

/// A far node acts as one point when its width is below THETA times its distance.
const THETA: f32 = 0.5;

/// Symmetric affinities P in compressed rows (`offsets` has n + 1 entries); they sum to 1.
#[derive(Clone, Debug)]
pub struct SparseAffinities {
    pub offsets: Vec<usize>,
    pub columns: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseAffinities {
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Affinities of `vectors` (`n x dim`) from their neighbour lists: each point's Gaussian over the
/// squared Euclidean distances to its listed neighbours, with the precision set by binary search
/// for `perplexity`, then symmetrised (p_ij + p_ji) / 2n.
pub fn sparse_affinities(vectors: &[f32], dim: usize, neighbours: &Neighbours, perplexity: f64) -> SparseAffinities {
    let n = vectors.len() / dim.max(1);
    let k = neighbours.k;
    let target_entropy = perplexity.max(1.0).ln();
    let row = |i: usize| &vectors[i * dim..(i + 1) * dim];
    // Conditional p_j|i for every listed neighbour j (the point itself excluded).
    let conditional: Vec<Vec<(u32, f64)>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let listed: Vec<(u32, f64)> = neighbours.indices[i * k..(i + 1) * k]
                .iter()
                .filter(|&&j| j as usize != i)
                .map(|&j| (j, squared_distance(row(i), row(j as usize)) as f64))
                .collect();
            let distances: Vec<f64> = listed.iter().map(|e| e.1).collect();
            listed.iter().map(|e| e.0).zip(conditional_probabilities(&distances, target_entropy)).collect()
        })
        .collect();
    // Symmetrise: every (i, j, p) also as (j, i, p), then sum duplicates.
    let mut entries: Vec<(u32, u32, f64)> = Vec::with_capacity(n * k * 2);
    for (i, row) in conditional.iter().enumerate() {
        for &(j, p) in row {
            entries.push((i as u32, j, p));
            entries.push((j, i as u32, p));
        }
    }
    entries.par_sort_unstable_by_key(|e| (e.0, e.1));
    let mut offsets = vec![0usize; n + 1];
    let mut columns = Vec::with_capacity(entries.len());
    let mut values = Vec::with_capacity(entries.len());
    let scale = 1.0 / (2.0 * n.max(1) as f64);
    let mut at = 0;
    while at < entries.len() {
        let (i, j, mut p) = entries[at];
        at += 1;
        while at < entries.len() && entries[at].0 == i && entries[at].1 == j {
            p += entries[at].2;
            at += 1;
        }
        columns.push(j);
        values.push((p * scale) as f32);
        offsets[i as usize + 1] = columns.len();
    }
    for i in 1..=n {
        offsets[i] = offsets[i].max(offsets[i - 1]);
    }
    SparseAffinities { offsets, columns, values }
}

/// A node of the space-partitioning tree over the layout: a cube with the centre of mass and the
/// number of the points inside; leaves keep their points.
struct Node<const D: usize> {
    centre_of_mass: [f32; D],
    count: u32,
    width: f32,
    children: Vec<usize>,
    points: Vec<u32>,
}

struct Tree<const D: usize> {
    nodes: Vec<Node<D>>,
}

impl<const D: usize> Tree<D> {
    fn build(layout: &[[f32; D]]) -> Tree<D> {
        let mut low = [f32::INFINITY; D];
        let mut high = [f32::NEG_INFINITY; D];
        for p in layout {
            for d in 0..D {
                low[d] = low[d].min(p[d]);
                high[d] = high[d].max(p[d]);
            }
        }
        let width = (0..D).map(|d| high[d] - low[d]).fold(0.0f32, f32::max).max(1e-6) * 1.0001;
        let centre: [f32; D] = std::array::from_fn(|d| (low[d] + high[d]) / 2.0);
        let mut tree = Tree { nodes: Vec::with_capacity(layout.len() * 2) };
        let members: Vec<u32> = (0..layout.len() as u32).collect();
        tree.split(layout, members, centre, width, 0);
        tree
    }

    fn split(&mut self, layout: &[[f32; D]], members: Vec<u32>, centre: [f32; D], width: f32, depth: usize) -> usize {
        let mut centre_of_mass = [0f32; D];
        for &i in &members {
            for d in 0..D {
                centre_of_mass[d] += layout[i as usize][d];
            }
        }
        let count = members.len() as u32;
        centre_of_mass.iter_mut().for_each(|c| *c /= count.max(1) as f32);
        let at = self.nodes.len();
        self.nodes.push(Node { centre_of_mass, count, width, children: Vec::new(), points: Vec::new() });
        // Small groups (or coincident points, which no split can separate) stay one leaf.
        if members.len() <= 4 || depth >= 32 {
            self.nodes[at].points = members;
            return at;
        }
        let mut parts: Vec<Vec<u32>> = vec![Vec::new(); 1 << D];
        for &i in &members {
            let p = &layout[i as usize];
            let part = (0..D).fold(0usize, |acc, d| acc | (usize::from(p[d] >= centre[d]) << d));
            parts[part].push(i);
        }
        let mut children = Vec::new();
        for (part, part_members) in parts.into_iter().enumerate() {
            if part_members.is_empty() {
                continue;
            }
            let child_centre: [f32; D] = std::array::from_fn(|d| centre[d] + if part >> d & 1 == 1 { width / 4.0 } else { -width / 4.0 });
            children.push(self.split(layout, part_members, child_centre, width / 2.0, depth + 1));
        }
        self.nodes[at].children = children;
        at
    }

    /// The repulsive force on `point` (unnormalised) and its share of the normaliser Z.
    fn repulsion(&self, layout: &[[f32; D]], point: usize) -> ([f32; D], f32) {
        let y = layout[point];
        let mut force = [0f32; D];
        let mut z = 0f32;
        let mut stack = vec![0usize];
        while let Some(at) = stack.pop() {
            let node = &self.nodes[at];
            let diff: [f32; D] = std::array::from_fn(|d| y[d] - node.centre_of_mass[d]);
            let dist2: f32 = diff.iter().map(|v| v * v).sum();
            if node.children.is_empty() {
                for &j in &node.points {
                    if j as usize == point {
                        continue;
                    }
                    let diff: [f32; D] = std::array::from_fn(|d| y[d] - layout[j as usize][d]);
                    let q = 1.0 / (1.0 + diff.iter().map(|v| v * v).sum::<f32>());
                    z += q;
                    for d in 0..D {
                        force[d] += q * q * diff[d];
                    }
                }
            } else if node.width * node.width < THETA * THETA * dist2 {
                let q = 1.0 / (1.0 + dist2);
                let mass = node.count as f32;
                z += mass * q;
                for d in 0..D {
                    force[d] += mass * q * q * diff[d];
                }
            } else {
                stack.extend_from_slice(&node.children);
            }
        }
        (force, z)
    }
}

/// Barnes-Hut t-SNE in `D` dimensions from sparse affinities: early exaggeration (12) for the
/// first quarter of the iterations, momentum 0.5 then 0.8, per-coordinate gains, learning rate
/// n / 12. The result is `n x D`, row-major, the same for the same seed on any number of threads.
pub fn barnes_hut_tsne<const D: usize>(
    p: &SparseAffinities,
    iterations: usize,
    seed: u64,
    cancel: &AtomicBool,
) -> Result<Vec<f32>, LayoutError> {
    let n = p.len();
    let mut rng = SeededRng::new(seed);
    let mut y: Vec<[f32; D]> = (0..n).map(|_| std::array::from_fn(|_| rng.normal() as f32 * 1e-4)).collect();
    let mut velocity = vec![[0f32; D]; n];
    let mut gains = vec![[1f32; D]; n];
    let learning_rate = (n as f32 / 12.0).max(50.0);
    for iteration in 0..iterations {
        if cancel.load(Ordering::Relaxed) {
            return Err(LayoutError::Cancelled);
        }
        let early = iteration < iterations / 4;
        let exaggeration = if early { 12.0 } else { 1.0 };
        let momentum = if early { 0.5 } else { 0.8 };
        let tree = Tree::<D>::build(&y);
        let repulsion: Vec<([f32; D], f32)> = (0..n).into_par_iter().map(|i| tree.repulsion(&y, i)).collect();
        // Summed in order, so the result does not depend on how rayon split the work.
        let z: f32 = repulsion.iter().map(|r| r.1).sum::<f32>().max(f32::MIN_POSITIVE);
        let gradient: Vec<[f32; D]> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut attraction = [0f32; D];
                for e in p.offsets[i]..p.offsets[i + 1] {
                    let j = p.columns[e] as usize;
                    let diff: [f32; D] = std::array::from_fn(|d| y[i][d] - y[j][d]);
                    let q = 1.0 / (1.0 + diff.iter().map(|v| v * v).sum::<f32>());
                    for d in 0..D {
                        attraction[d] += p.values[e] * q * diff[d];
                    }
                }
                std::array::from_fn(|d| 4.0 * (exaggeration * attraction[d] - repulsion[i].0[d] / z))
            })
            .collect();
        for i in 0..n {
            for d in 0..D {
                let g = gradient[i][d];
                // Gains grow where the step keeps its direction and shrink where it flips.
                gains[i][d] = if (g > 0.0) != (velocity[i][d] > 0.0) { gains[i][d] + 0.2 } else { (gains[i][d] * 0.8).max(0.01) };
                velocity[i][d] = momentum * velocity[i][d] - learning_rate * gains[i][d] * g;
                y[i][d] += velocity[i][d];
            }
        }
        // Keep the layout centred, as the reference implementation does.
        let mean: [f32; D] = std::array::from_fn(|d| y.iter().map(|p| p[d]).sum::<f32>() / n.max(1) as f32);
        for p in &mut y {
            for d in 0..D {
                p[d] -= mean[d];
            }
        }
    }
    Ok(y.into_iter().flat_map(|p| p.into_iter()).collect())
}
