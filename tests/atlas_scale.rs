//! The atlas at scale: approximate neighbours with measured recall, Barnes-Hut t-SNE, the
//! parallel UMAP epochs, and a memory estimate that grows linearly.

use std::sync::atomic::AtomicBool;

use activation_atlas::engine::atlas::bhtsne::{barnes_hut_tsne, sparse_affinities};
use activation_atlas::engine::atlas::build::estimate_build_bytes;
use activation_atlas::engine::atlas::knn::{KnnMethod, Neighbours, knn_graph, neighbour_graph, sampled_recall, unit_rows};
use activation_atlas::engine::atlas::layout::{UmapParams, trustworthiness, umap};
use activation_atlas::engine::atlas::nndescent::nn_descent;
use activation_atlas::engine::rng::SeededRng;
use tch::Device;

/// `clusters` Gaussian clusters of `per` points in `dim` dimensions, and their labels.
fn clusters(clusters: usize, per: usize, dim: usize, spread: f32, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = SeededRng::new(seed);
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| (0..dim).map(|_| rng.uniform(0.0, 4.0) as f32).collect()).collect();
    let mut vectors = Vec::with_capacity(clusters * per * dim);
    let mut labels = Vec::with_capacity(clusters * per);
    for (c, centre) in centres.iter().enumerate() {
        for _ in 0..per {
            vectors.extend(centre.iter().map(|&v| (v + spread * rng.normal() as f32).max(0.0)));
            labels.push(c);
        }
    }
    (vectors, labels)
}

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

fn unit(vectors: &[f32], dim: usize) -> Vec<f32> {
    Vec::<f32>::try_from(unit_rows(vectors, dim, Device::Cpu).flatten(0, -1)).unwrap()
}

#[test]
fn nn_descent_finds_nearly_all_true_neighbours_and_ignores_the_thread_count() {
    // Wide clusters (much overlap inside each) so that neighbours are not trivial to find.
    let (vectors, _) = clusters(12, 500, 32, 1.2, 3);
    let rows = unit(&vectors, 32);
    let run = || nn_descent(&rows, 32, 15, 9, &mut |_, _| {}, &never()).unwrap();
    let (indices, squared) = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(run);
    let graph = Neighbours { k: 15, indices: indices.clone(), distances: squared.iter().map(|d| d / 2.0).collect() };
    // Against brute force on every point, not only a sample.
    let exact = knn_graph(&vectors, 32, 15, Device::Cpu);
    let n = 6000;
    let mut found = 0;
    for i in 0..n {
        let kth = exact.distances[(i + 1) * 15 - 1];
        let listed = &graph.indices[i * 15 + 1..(i + 1) * 15];
        assert_eq!(graph.indices[i * 15], i as u32, "every list starts with the point itself");
        let mut unique: Vec<u32> = listed.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 14, "point {i} lists a neighbour twice");
        found += listed.iter().enumerate().filter(|(c, _)| graph.distances[i * 15 + 1 + c] <= kth + 1e-5).count();
    }
    let recall = found as f64 / (n * 14) as f64;
    assert!(recall >= 0.95, "recall {recall}");
    // The same lists on one thread: rounds read only the previous round.
    let (single, _) = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(run);
    assert_eq!(single, indices);
    // The sampled estimate agrees with the full count.
    let (sampled, points) = sampled_recall(&rows, 32, &graph, 1);
    assert_eq!(points, 500);
    assert!((sampled - recall).abs() < 0.03, "sampled {sampled} vs full {recall}");
}

#[test]
fn measured_recall_is_one_for_exact_lists_and_falls_for_scrambled_ones() {
    let (vectors, _) = clusters(6, 300, 16, 0.5, 4);
    let rows = unit(&vectors, 16);
    let exact = knn_graph(&vectors, 16, 10, Device::Cpu);
    let (recall, _) = sampled_recall(&rows, 16, &exact, 2);
    assert!(recall > 0.999, "exact lists: {recall}");
    // Replace the second half of every list with random far points.
    let mut scrambled = exact.clone();
    let mut rng = SeededRng::new(5);
    for i in 0..1800 {
        for c in 6..10 {
            scrambled.indices[i * 10 + c] = ((i + 900 + rng.below(300)) % 1800) as u32;
        }
    }
    let (recall, _) = sampled_recall(&rows, 16, &scrambled, 2);
    assert!((0.4..0.75).contains(&recall), "scrambled lists: {recall}");
    // Small sets take the exact path and say so.
    let (graph, report) = neighbour_graph(&vectors, 16, 10, 0, Device::Cpu, &mut |_, _| {}, &never()).unwrap();
    assert_eq!(report.method, KnnMethod::Exact);
    assert_eq!(graph, exact);
}

#[test]
fn barnes_hut_tsne_keeps_clusters_apart_in_2d_and_3d_and_repeats_for_a_seed() {
    let (vectors, labels) = clusters(8, 300, 16, 0.3, 6);
    let neighbours = knn_graph(&vectors, 16, 91, Device::Cpu);
    let p = sparse_affinities(&vectors, 16, &neighbours, 30.0);
    let total: f64 = p.values.iter().map(|&v| v as f64).sum();
    assert!((total - 1.0).abs() < 1e-3, "affinities sum to {total}");
    let layout2 = barnes_hut_tsne::<2>(&p, 300, 7, &never()).unwrap();
    let layout3 = barnes_hut_tsne::<3>(&p, 300, 7, &never()).unwrap();
    for (layout, d) in [(&layout2, 2), (&layout3, 3)] {
        let n = labels.len();
        // Nearest layout neighbour in the same cluster, for nearly every point.
        let mut wrong = 0;
        for i in 0..n {
            let distance = |j: usize| (0..d).map(|a| (layout[i * d + a] - layout[j * d + a]).powi(2)).sum::<f32>();
            let nearest = (0..n).filter(|&j| j != i).min_by(|&a, &b| distance(a).total_cmp(&distance(b))).unwrap();
            wrong += usize::from(labels[nearest] != labels[i]);
        }
        assert!(wrong * 100 <= n, "{d}-D: {wrong} of {n} points next to another cluster");
        let t = trustworthiness(&vectors, 16, layout, d, 10, false);
        assert!(t > 0.9, "{d}-D trustworthiness {t}");
    }
    assert_eq!(barnes_hut_tsne::<2>(&p, 300, 7, &never()).unwrap(), layout2);
}

#[test]
fn umap_epochs_in_parallel_give_the_same_layout_on_any_number_of_threads() {
    let (vectors, _) = clusters(5, 400, 16, 0.3, 8);
    let neighbours = knn_graph(&vectors, 16, 15, Device::Cpu);
    let params = UmapParams { seed: 3, ..UmapParams::default() };
    let run = || umap(&neighbours, &params, 0, &mut |_, _| {}, &never()).unwrap();
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(run);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(run);
    assert_eq!(one, two);
    let t = trustworthiness(&vectors, 16, &two, 2, 15, true);
    assert!(t >= 0.9, "trustworthiness {t}");
}

#[test]
fn the_memory_estimate_grows_linearly_and_fits_the_goals() {
    let per = |images: usize, per_image: usize| estimate_build_bytes(images, images * per_image, 64, 17, 15);
    let (at_2k, at_20k, at_200k) = (per(2_000, 16), per(20_000, 16), per(200_000, 16));
    // Ten times the photos, at most ten times the memory (a fixed part is shared).
    assert!(at_20k < at_2k * 10 && at_200k < at_20k * 10);
    // Linear: the step from 20k to 200k is ten times the step from 2k to 20k (no n² term).
    let (small_step, large_step) = ((at_20k - at_2k) as f64, (at_200k - at_20k) as f64);
    assert!((large_step / small_step - 10.0).abs() < 0.5, "steps {small_step} and {large_step}");
    assert!(at_20k < 3_000_000_000, "20,000 photos: {at_20k} bytes");
    assert!(per(20_000, 50) < 8_000_000_000, "a million vectors: {} bytes", per(20_000, 50));
}

#[test]
fn attribution_at_chosen_positions_equals_the_full_backward_passes() {
    use activation_atlas::engine::atlas::collect::{attribution_at, attribution_maps};
    use activation_atlas::engine::model::{Layer, Net};
    let net = Net::seeded(5, Device::Cpu, 11);
    let images = SeededRng::new(2).normal_tensor(&[3, 3, 100, 100], Device::Cpu).abs();
    for layer in Layer::CONV {
        let (_, maps) = attribution_maps(&net, layer, &images);
        assert!(maps.abs().max().double_value(&[]) > 0.0, "{layer}: a network whose attributions are all zero tests nothing");
        let side = maps.size()[3] as u16;
        let positions: Vec<Vec<[u16; 2]>> =
            (0..3u16).map(|i| vec![[0, 0], [side - 1, side - 1], [(i * 7 + 3) % side, (i * 5 + 1) % side], [side / 2, 1]]).collect();
        let (_, at) = attribution_at(&net, layer, &images, &positions);
        assert_eq!(at.size(), vec![3, 5, 4]);
        for (b, image) in positions.iter().enumerate() {
            for (p, &[x, y]) in image.iter().enumerate() {
                for class in 0..5 {
                    let full = maps.double_value(&[b as i64, class, y as i64, x as i64]);
                    let fast = at.double_value(&[b as i64, class, p as i64]);
                    let scale = maps.abs().max().double_value(&[]).max(1e-9);
                    assert!((full - fast).abs() <= 1e-4 * scale, "{layer} image {b} ({x}, {y}) class {class}: {full} vs {fast}");
                }
            }
        }
    }
}
