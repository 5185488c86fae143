//! The atlas engine: layouts of synthetic clusters, kNN, grid binning, icons, placement, files.

mod common;

use std::sync::atomic::AtomicBool;

use activation_atlas::engine::atlas::knn::knn_graph;
use activation_atlas::engine::atlas::layout::{LayoutError, UmapParams, normalise, trustworthiness, tsne, umap, validate};
use activation_atlas::engine::rng::SeededRng;
use tch::Device;

/// `clusters` well-separated Gaussian clusters of `per` points in `dim` dimensions (positive
/// values, like ReLU activations), with their cluster labels.
fn clusters(clusters: usize, per: usize, dim: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = SeededRng::new(seed);
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| (0..dim).map(|_| rng.uniform(0.0, 4.0) as f32).collect()).collect();
    let mut vectors = Vec::new();
    let mut labels = Vec::new();
    for (c, centre) in centres.iter().enumerate() {
        for _ in 0..per {
            for &value in centre {
                // Box-Muller for Gaussian noise.
                let (u, v) = (rng.next_f64().max(1e-12), rng.next_f64());
                let noise = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                vectors.push((value + 0.15 * noise as f32).max(0.0));
            }
            labels.push(c);
        }
    }
    (vectors, labels)
}

#[test]
fn separated_clusters_stay_separated_after_umap() {
    let (vectors, labels) = clusters(5, 150, 16, 1);
    let neighbours = knn_graph(&vectors, 16, 15, Device::Cpu);
    let params = UmapParams { seed: 4, ..UmapParams::default() };
    let mut snapshots = 0;
    let layout = umap(&neighbours, &params, 50, &mut |_, _| snapshots += 1, &AtomicBool::new(false)).unwrap();
    assert_eq!(snapshots, 4, "a snapshot every 50 of 200 epochs");
    let t = trustworthiness(&vectors, 16, &layout, 2, 15, true);
    assert!(t >= 0.9, "trustworthiness {t}");
    // Every point's nearest layout neighbour is in its own cluster.
    let n = labels.len();
    let mut wrong = 0;
    for i in 0..n {
        let nearest = (0..n)
            .filter(|&j| j != i)
            .min_by(|&a, &b| {
                let d = |j: usize| (layout[2 * i] - layout[2 * j]).powi(2) + (layout[2 * i + 1] - layout[2 * j + 1]).powi(2);
                d(a).total_cmp(&d(b))
            })
            .unwrap();
        wrong += usize::from(labels[nearest] != labels[i]);
    }
    assert_eq!(wrong, 0, "{wrong} points sit next to another cluster");
    // Same seed, same layout; another seed, another layout.
    let again = umap(&neighbours, &params, 0, &mut |_, _| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(layout, again);
    let other = umap(&neighbours, &UmapParams { seed: 5, ..params }, 0, &mut |_, _| {}, &AtomicBool::new(false)).unwrap();
    assert_ne!(layout, other);
    // Normalised into [0, 1].
    let unit = normalise(&layout, 2, 0.05);
    assert!(unit.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn tsne_separates_clusters_too() {
    let (vectors, _) = clusters(4, 60, 12, 2);
    let layout = tsne(&vectors, 12, 2, 30.0, 300, 1, &AtomicBool::new(false)).unwrap();
    let t = trustworthiness(&vectors, 12, &layout, 2, 10, true);
    assert!(t >= 0.9, "trustworthiness {t}");
}

#[test]
fn knn_puts_each_point_first_and_sorts_by_cosine_distance() {
    let (vectors, _) = clusters(3, 40, 8, 3);
    let graph = knn_graph(&vectors, 8, 6, Device::Cpu);
    for row in 0..120 {
        assert_eq!(graph.indices[row * 6], row as u32);
        let d = &graph.distances[row * 6..row * 6 + 6];
        assert!(d.windows(2).all(|w| w[0] <= w[1] + 1e-6), "{d:?}");
    }
    // Brute force check of one row.
    let row = 17;
    let cos = |a: usize, b: usize| {
        let (x, y) = (&vectors[a * 8..a * 8 + 8], &vectors[b * 8..b * 8 + 8]);
        let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
        dot / (x.iter().map(|v| v * v).sum::<f32>().sqrt() * y.iter().map(|v| v * v).sum::<f32>().sqrt())
    };
    let mut expected: Vec<usize> = (0..120).filter(|&j| j != row).collect();
    expected.sort_by(|&a, &b| cos(row, b).total_cmp(&cos(row, a)));
    let got: Vec<usize> = graph.indices[row * 6 + 1..row * 6 + 6].iter().map(|&i| i as usize).collect();
    assert_eq!(got, expected[..5]);
}

#[test]
fn bad_layout_settings_are_refused_not_panicked_on() {
    assert!(matches!(validate(&UmapParams { n_neighbors: 1, ..UmapParams::default() }, 100), Err(LayoutError::BadNeighbours { .. })));
    assert!(matches!(validate(&UmapParams { n_neighbors: 100, ..UmapParams::default() }, 100), Err(LayoutError::BadNeighbours { .. })));
    assert!(matches!(validate(&UmapParams { min_dist: 2.0, ..UmapParams::default() }, 100), Err(LayoutError::BadMinDist(_))));
    assert!(matches!(validate(&UmapParams { components: 4, ..UmapParams::default() }, 100), Err(LayoutError::BadComponents(4))));
}
