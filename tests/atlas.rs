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

/// The `k` nearest other points of `i` by squared Euclidean distance, by brute force.
fn nearest(points: &[f32], dim: usize, i: usize, k: usize) -> Vec<usize> {
    let n = points.len() / dim;
    let d = |j: usize| (0..dim).map(|c| (points[i * dim + c] - points[j * dim + c]).powi(2)).sum::<f32>();
    let mut others: Vec<usize> = (0..n).filter(|&j| j != i).collect();
    others.sort_by(|&a, &b| d(a).total_cmp(&d(b)));
    others.truncate(k);
    others
}

#[test]
fn tsne_separates_clusters_too() {
    let (vectors, labels) = clusters(4, 60, 12, 2);
    let layout = tsne(&vectors, 12, 2, 30.0, 300, 1, &AtomicBool::new(false)).unwrap();
    // Checked without the crate's own measure: each point's 5 nearest in the layout, found by
    // brute force, belong to its cluster (and the clusters are what the original space says).
    let n = labels.len();
    let mut wrong = 0;
    for i in 0..n {
        let in_original = nearest(&vectors, 12, i, 5);
        assert!(in_original.iter().all(|&j| labels[j] == labels[i]), "the clusters are separated in the original space");
        wrong += nearest(&layout, 2, i, 5).iter().filter(|&&j| labels[j] != labels[i]).count();
    }
    assert!(wrong <= n * 5 / 100, "{wrong} of {} layout neighbours are in another cluster", n * 5);
}

#[test]
fn trustworthiness_is_one_for_a_faithful_layout_and_about_half_for_a_shuffled_one() {
    // 200 points in the plane: the layout *is* the data (Euclidean), so every neighbour is kept.
    let mut rng = SeededRng::new(9);
    let points: Vec<f32> = (0..400).map(|_| rng.uniform(0.0, 1.0) as f32).collect();
    let identity = trustworthiness(&points, 2, &points, 2, 5, false);
    assert!((identity - 1.0).abs() < 1e-9, "identity layout: {identity}");
    // A layout that scales and moves the points keeps every neighbourhood too.
    let moved: Vec<f32> = points.iter().map(|v| 3.0 * v + 1.0).collect();
    assert!((trustworthiness(&points, 2, &moved, 2, 5, false) - 1.0).abs() < 1e-9);
    // A random layout: a layout neighbour's original rank is uniform over 1..n-1, so the
    // expected value is 1 - (n-k)^2 / ((n-1)(2n-3k-1)), about 0.50 here.
    let (n, k) = (200.0f64, 5.0f64);
    let expected = 1.0 - (n - k).powi(2) / ((n - 1.0) * (2.0 * n - 3.0 * k - 1.0));
    let mut shuffled_means = Vec::new();
    for seed in 0..5 {
        let mut order: Vec<usize> = (0..200).collect();
        SeededRng::new(100 + seed).shuffle(&mut order);
        let shuffled: Vec<f32> = order.iter().flat_map(|&i| [points[2 * i], points[2 * i + 1]]).collect();
        shuffled_means.push(trustworthiness(&points, 2, &shuffled, 2, 5, false));
    }
    let mean = shuffled_means.iter().sum::<f64>() / 5.0;
    assert!((mean - expected).abs() < 0.03, "shuffled layouts: {shuffled_means:?}, expected about {expected:.3}");
}

#[test]
fn trustworthiness_matches_a_hand_count() {
    // Five points on a line at 0, 1, 3, 7, 15 (no ties); the layout swaps the last two.
    // With k = 1 the layout's nearest neighbours are 0→1, 1→0, 2→1 (original rank 1 each: no
    // penalty), 3→4 (4 is 3's 4th nearest originally: penalty 3) and 4→2 (2nd nearest: 1).
    // T = 1 - 2 / (n k (2n - 3k - 1)) * 4 = 1 - 2 / 30 * 4.
    let original = [0.0f32, 1.0, 3.0, 7.0, 15.0];
    let layout = [0.0f32, 1.0, 3.0, 15.0, 7.0];
    let t = trustworthiness(&original, 1, &layout, 1, 1, false);
    assert!((t - (1.0 - 8.0 / 30.0)).abs() < 1e-9, "{t}");
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

mod built {
    //! Tests on a real atlas: the shipped model on 3 flowers17 photos per class.

    use std::sync::OnceLock;
    use std::sync::atomic::AtomicBool;

    use activation_atlas::engine::atlas::cells::{bin, cell_coordinate};
    use activation_atlas::engine::atlas::icons::centre_activation;
    use activation_atlas::engine::atlas::{Atlas, AtlasParams, BuildEvent, build_atlas, load_atlas, place_image, save_atlas};
    use activation_atlas::engine::checkpoint::{Checkpoint, load_checkpoint};
    use activation_atlas::engine::data::{Dataset, load_dataset};
    use tch::Device;

    pub struct Fixture {
        pub checkpoint: Checkpoint,
        pub dataset: Dataset,
        pub atlas: Atlas,
        pub layouts_streamed: usize,
        pub icons_streamed: usize,
    }

    // Tensors are not Sync; the fixture is built and used on one test thread at a time.
    struct Shared(std::sync::Mutex<Fixture>);
    unsafe impl Sync for Shared {}
    unsafe impl Send for Shared {}

    pub fn params() -> AtlasParams {
        AtlasParams { grid_levels: vec![5, 10], icon_levels: vec![5], min_count: 4, ..AtlasParams::default() }
    }

    fn fixture() -> &'static std::sync::Mutex<Fixture> {
        static FIXTURE: OnceLock<Shared> = OnceLock::new();
        &FIXTURE
            .get_or_init(|| {
                let subset = tempfile::tempdir().unwrap().keep();
                for class in std::fs::read_dir(super::common::flowers17()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
                    let target = subset.join(class.file_name().unwrap());
                    std::fs::create_dir_all(&target).unwrap();
                    let mut files: Vec<_> = std::fs::read_dir(&class).unwrap().map(|e| e.unwrap().path()).collect();
                    files.sort();
                    for file in files.iter().take(3) {
                        std::os::unix::fs::symlink(file, target.join(file.file_name().unwrap())).unwrap();
                    }
                }
                let dataset = load_dataset(&subset, None, &|_, _| {}, &AtomicBool::new(false)).unwrap();
                let checkpoint = load_checkpoint(&activation_atlas::resources::shipped_model().unwrap(), Device::Cpu).unwrap();
                let (mut layouts_streamed, mut icons_streamed) = (0, 0);
                let atlas = build_atlas(
                    &checkpoint,
                    &dataset,
                    &params(),
                    &mut |event| match event {
                        BuildEvent::Layout { .. } => layouts_streamed += 1,
                        BuildEvent::Icons { icons, .. } => icons_streamed += icons.len(),
                        BuildEvent::Stage { .. } | BuildEvent::Neighbours(_) => {}
                    },
                    &AtomicBool::new(false),
                )
                .unwrap();
                Shared(std::sync::Mutex::new(Fixture { checkpoint, dataset, atlas, layouts_streamed, icons_streamed }))
            })
            .0
    }

    pub fn with<R>(f: impl FnOnce(&Fixture) -> R) -> R {
        let guard = fixture().lock().unwrap_or_else(|e| e.into_inner());
        f(&guard)
    }

    #[test]
    fn a_build_from_photos_kept_on_disk_equals_one_from_photos_in_memory() {
        with(|f| {
            let cache = tempfile::tempdir().unwrap();
            let stored =
                activation_atlas::engine::data::open_dataset(&f.dataset.root, Some(cache.path()), &|_, _| {}, &AtomicBool::new(false))
                    .unwrap();
            let atlas = build_atlas(&f.checkpoint, &stored, &params(), &mut |_| {}, &AtomicBool::new(false)).unwrap();
            assert_eq!(atlas.collected, f.atlas.collected);
            assert_eq!(atlas.layout, f.atlas.layout);
            assert_eq!(atlas.images, f.atlas.images);
            assert_eq!(atlas.meta.colours, f.atlas.meta.colours);
            assert_eq!(atlas.mosaic, f.atlas.mosaic);
            assert_eq!(atlas.distribution, f.atlas.distribution);
        });
    }

    #[test]
    fn collection_samples_enough_vectors_with_attributions() {
        with(|f| {
            let c = &f.atlas.collected;
            assert_eq!(c.len(), 51 * 16);
            assert_eq!((c.dim, c.classes), (64, 17));
            // Interior positions only (conv2 is 25 x 25; the border is left out).
            assert!(c.position.iter().all(|p| (1..24).contains(&p[0]) && (1..24).contains(&p[1])));
            // 16 distinct positions per image.
            let first: std::collections::HashSet<_> = c.position[..16].iter().collect();
            assert_eq!(first.len(), 16);
            assert_eq!(f.layouts_streamed, 20, "a layout every 10 of 200 epochs");
        });
    }

    /// A vector's attribution to `class`, computed independently in float64: the derivative of
    /// the class logit along the vector itself, t -> logit(A + t * A at that position only), by
    /// central differences. That derivative is sum_channels A * d logit / d A at the position.
    fn attribution_by_differences(
        net: &activation_atlas::engine::model::Net,
        image: &image::RgbImage,
        layer: activation_atlas::engine::model::Layer,
        x: usize,
        y: usize,
        class: usize,
    ) -> f64 {
        use tch::Kind;
        let batch = activation_atlas::engine::image_input::images_to_tensor(std::slice::from_ref(image)).to_kind(Kind::Double);
        let activation = tch::no_grad(|| net.forward_until(&batch, layer, false).get(layer).shallow_clone());
        let mask = activation.zeros_like();
        let _ = mask.narrow(2, y as i64, 1).narrow(3, x as i64, 1).fill_(1.0);
        let along = &activation * &mask;
        let logit = |t: f64| tch::no_grad(|| net.forward_from(layer, &(&activation + &along * t), false).double_value(&[0, class as i64]));
        let step = 1e-5;
        (logit(step) - logit(-step)) / (2.0 * step)
    }

    #[test]
    fn attribution_matches_an_independent_float64_computation() {
        with(|f| {
            let c = &f.atlas.collected;
            assert_eq!(c.attribution.len(), c.len() * c.classes, "one value per vector and class");
            // The same network in float64.
            let mut double = load_checkpoint(&activation_atlas::resources::shipped_model().unwrap(), Device::Cpu).unwrap();
            double.net.vs.double();
            let mut largest = 0f64;
            for m in [0usize, 17, 300, c.len() - 1] {
                let image = &f.dataset.images[c.image[m] as usize];
                let [x, y] = c.position[m];
                for class in [0usize, 5, c.label[m] as usize, c.classes - 1] {
                    let expected = attribution_by_differences(&double.net, image, c.layer, x as usize, y as usize, class);
                    let got = f64::from(c.attribution_of(m)[class]);
                    largest = largest.max(expected.abs());
                    assert!(
                        (got - expected).abs() <= 1e-3 * expected.abs() + 1e-4,
                        "vector {m}, class {class}: stored {got}, independent {expected}"
                    );
                }
            }
            assert!(largest > 1e-3, "the checked values are not all zero ({largest})");
        });
    }

    #[test]
    fn a_cells_top_classes_by_attribution_are_the_means_of_its_members() {
        with(|f| {
            let c = &f.atlas.collected;
            let level = f.atlas.levels.iter().max_by_key(|l| l.size).unwrap();
            // The densest cell, summed by hand in float64.
            let cell = level.cells.iter().max_by_key(|cell| cell.count).unwrap();
            let mut mean = vec![0f64; c.classes];
            for &m in &cell.members {
                for (class, value) in c.attribution_of(m as usize).iter().enumerate() {
                    mean[class] += f64::from(*value) / cell.members.len() as f64;
                }
            }
            let mut ranked: Vec<usize> = (0..c.classes).collect();
            ranked.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]));
            assert_eq!(cell.top_by_attribution.len(), 3);
            for (&(class, value), &expected_class) in cell.top_by_attribution.iter().zip(&ranked) {
                assert_eq!(class as usize, expected_class);
                assert!(
                    (f64::from(value) - mean[expected_class]).abs() <= 1e-5 * mean[expected_class].abs().max(1.0),
                    "{value} vs {}",
                    mean[expected_class]
                );
            }
        });
    }

    #[test]
    fn grid_binning_matches_hand_counts() {
        with(|f| {
            let atlas = &f.atlas;
            for level in &atlas.levels {
                let size = level.size as usize;
                let mut counts = vec![0u32; size * size];
                for i in 0..atlas.collected.len() {
                    let (x, y) = ((atlas.layout[2 * i] * size as f32) as usize, (atlas.layout[2 * i + 1] * size as f32) as usize);
                    counts[y.min(size - 1) * size + x.min(size - 1)] += 1;
                }
                for cell in &level.cells {
                    assert_eq!(cell.count, counts[cell.y as usize * size + cell.x as usize], "level {size} cell ({}, {})", cell.x, cell.y);
                    assert_eq!(cell.members.len() as u32, cell.count);
                    // The label tally is a hand count of the members' labels.
                    let (top, n) = cell.top_by_label[0];
                    let hand = cell.members.iter().filter(|&&m| atlas.collected.label[m as usize] == top).count() as u32;
                    assert_eq!(n, hand);
                }
                assert_eq!(level.cells.iter().map(|c| c.count).sum::<u32>() as usize, atlas.collected.len());
                assert_eq!(counts.iter().filter(|&&c| c > 0).count(), level.cells.len());
            }
            // Density threshold: exactly the cells with >= min_count get icons.
            let level = atlas.level(5).unwrap();
            let dense = level.cells.iter().filter(|c| c.count >= 4).count();
            assert_eq!(atlas.icons_of(5).unwrap().cells.len(), dense);
            assert_eq!(f.icons_streamed, dense);
            assert!(atlas.icons_of(10).is_none(), "icons only where asked");
            // Re-binning gives the same cells; edge positions go to the last cell.
            assert_eq!(&bin(&atlas.layout, &atlas.collected, 10), atlas.level(10).unwrap());
            assert_eq!(cell_coordinate(1.0, 10), 9);
            assert_eq!(cell_coordinate(0.0, 10), 0);
        });
    }

    #[test]
    fn icons_match_their_cells_direction() {
        with(|f| {
            let atlas = &f.atlas;
            let level = atlas.level(5).unwrap();
            let icons = atlas.icons_of(5).unwrap();
            let mut cosines = Vec::new();
            for (i, &cell) in icons.cells.iter().enumerate() {
                let h = centre_activation(&f.checkpoint.net, atlas.collected.layer, &icons.icon(i));
                let v = &level.cells[cell as usize].direction;
                let dot: f32 = h.iter().zip(v).map(|(a, b)| a * b).sum();
                let norm = |x: &[f32]| x.iter().map(|a| a * a).sum::<f32>().sqrt();
                cosines.push(dot / (norm(&h) * norm(v)).max(1e-12));
            }
            let worst = cosines.iter().copied().fold(f32::INFINITY, f32::min);
            assert!(worst >= 0.7, "icon/direction cosines: {cosines:?}");
        });
    }

    #[test]
    fn a_training_image_lands_next_to_its_own_vectors() {
        with(|f| {
            let atlas = &f.atlas;
            // Several photos, so that one vector in an odd spot of one layout decides nothing.
            let (mut near, mut total) = (0, 0);
            for index in [5usize, 20, 35, 50] {
                let placement = place_image(&f.checkpoint.net, atlas, &f.dataset.images[index], 5);
                assert_eq!(placement.points.len(), 23 * 23);
                // Its own sampled vectors are in the atlas: where do they sit?
                let own: Vec<usize> = (0..atlas.collected.len()).filter(|&i| atlas.collected.image[i] == index as u32).collect();
                let own_centre = own.iter().fold([0.0f32; 2], |a, &i| {
                    [a[0] + atlas.layout[2 * i] / own.len() as f32, a[1] + atlas.layout[2 * i + 1] / own.len() as f32]
                });
                let distance = ((placement.centre[0] - own_centre[0]).powi(2) + (placement.centre[1] - own_centre[1]).powi(2)).sqrt();
                assert!(distance < 0.1, "image {index}: placed {:?}, own vectors around {own_centre:?}", placement.centre);
                // Each of the sampled positions, placed on its own, lands within 0.1 of its own vector.
                let side = 23;
                for &i in &own {
                    let [x, y] = atlas.collected.position[i];
                    let point = placement.points[(y as usize - 1) * side + (x as usize - 1)];
                    let d = ((point[0] - atlas.layout[2 * i]).powi(2) + (point[1] - atlas.layout[2 * i + 1]).powi(2)).sqrt();
                    near += usize::from(d < 0.1);
                }
                total += own.len();
                if index == 20 {
                    assert_eq!(placement.predicted_class, f.dataset.labels[index]);
                }
            }
            assert!(near * 10 >= total * 8, "{near} of {total} own vectors placed nearby");
        });
    }

    #[test]
    fn save_and_load_round_trip_and_damaged_files_are_refused() {
        with(|f| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("flowers.atlas");
            save_atlas(&f.atlas, &path).unwrap();
            let loaded = load_atlas(&path).unwrap();
            assert_eq!(loaded, f.atlas);
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
            let error = load_atlas(&path).unwrap_err().to_string();
            assert!(error.contains("flowers.atlas") && error.contains("truncated"), "{error}");
            std::fs::write(&path, b"not an atlas").unwrap();
            assert!(load_atlas(&path).is_err());
        });
    }

    #[test]
    fn embedded_images_round_trip_and_show_patches_without_the_files() {
        use activation_atlas::engine::atlas::patches::cell_patches;
        with(|f| {
            let images = f.atlas.images.as_ref().expect("a build embeds its images");
            assert_eq!(images.len(), f.dataset.len());
            // JPEG at quality 90: close to the network input it came from.
            for i in [0, f.dataset.len() / 2, f.dataset.len() - 1] {
                let decoded = images.image(i).unwrap();
                let original = &f.dataset.images[i];
                assert_eq!(decoded.dimensions(), original.dimensions());
                let mean = decoded.as_raw().iter().zip(original.as_raw()).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>()
                    / decoded.as_raw().len() as f64;
                assert!(mean < 4.0, "image {i}: mean difference {mean}");
            }
            // The file holds them; with the data set folder gone, the patches still come.
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("portable.atlas");
            let mut portable = f.atlas.clone();
            portable.meta.make_portable();
            portable.meta.data_dir = dir.path().join("gone");
            save_atlas(&portable, &path).unwrap();
            let loaded = load_atlas(&path).unwrap();
            assert_eq!(loaded.images, f.atlas.images);
            let cell = loaded.levels[0].cells.iter().max_by_key(|c| c.count).unwrap();
            let found = cell_patches(&loaded, &cell.members, 24);
            assert_eq!(found.patches.len(), cell.members.len().min(24));
            assert!(found.missing.is_empty());
            // Without embedded images, the missing files are named, not silently skipped.
            let mut bare = loaded.clone();
            bare.images = None;
            let found = cell_patches(&bare, &cell.members, 24);
            assert!(found.patches.is_empty());
            assert!(
                !found.missing.is_empty() && found.missing.iter().all(|p| p.starts_with(dir.path().join("gone"))),
                "{:?}",
                found.missing
            );
        });
    }

    #[test]
    fn damaged_embedded_images_are_refused() {
        with(|f| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("damaged.atlas");
            let mut damaged = f.atlas.clone();
            let images = damaged.images.as_mut().unwrap();
            // The last image's end points past the table (as if the table were cut short).
            *images.offsets.last_mut().unwrap() += 100;
            save_atlas(&damaged, &path).unwrap();
            let error = load_atlas(&path).unwrap_err().to_string();
            assert!(error.contains("damaged.atlas") && error.contains("embedded images"), "{error}");
            // Fewer images than the vectors refer to.
            let mut short = f.atlas.clone();
            let images = short.images.as_mut().unwrap();
            let keep = images.offsets[2] as usize;
            images.offsets.truncate(3);
            images.jpeg.truncate(keep);
            save_atlas(&short, &path).unwrap();
            assert!(load_atlas(&path).unwrap_err().to_string().contains("embedded images"));
        });
    }

    #[test]
    fn same_seed_same_layout() {
        with(|f| {
            let again = build_atlas(
                &f.checkpoint,
                &f.dataset,
                &AtlasParams { icon_levels: vec![], ..params() },
                &mut |_| {},
                &AtomicBool::new(false),
            )
            .unwrap();
            assert_eq!(again.layout, f.atlas.layout);
            assert_eq!(again.collected, f.atlas.collected);
        });
    }
}

#[test]
fn a_far_point_does_not_set_a_views_frame_and_is_marked_on_its_edge() {
    use activation_atlas::engine::atlas::views::{frame_robustly, pinned_points};
    // 200 points in a unit square, one far away, and one the layout clipped (on an extreme).
    let mut points: Vec<[f64; 2]> = (0..200).map(|i| [f64::from(i % 20) / 19.0, f64::from(i / 20) / 9.0]).collect();
    points.push([100.0, 0.5]);
    let framed = frame_robustly(&points, &[]);
    assert!(framed.outside[200], "the far point is marked");
    let right = framed.points.iter().map(|p| p[0]).fold(f64::MIN, f64::max);
    assert!(right <= 1.1, "the frame ends by the square (and a twentieth of it), not at the far point: {right}");
    assert_eq!(framed.points[200][0], right, "the far point is drawn on the edge");
    assert!(framed.outside[..200].iter().filter(|&&o| o).count() <= 16, "the square stays inside");

    let layout = [0.02f32, 0.3, 0.4, 0.5, 0.98, 0.7, 0.5, 0.5];
    assert_eq!(pinned_points(&layout, 2), vec![true, false, true, false], "points on an axis' extreme are pinned");
    let as_points: Vec<[f64; 2]> = layout.chunks(2).map(|p| [f64::from(p[0]), f64::from(p[1])]).collect();
    assert!(frame_robustly(&as_points, &pinned_points(&layout, 2)).outside[0], "a pinned point is marked");
}

#[test]
fn an_exported_part_keeps_whole_names_its_legend_and_placed_photos_on_pins() {
    use activation_atlas::engine::atlas::export::{ExportOptions, Labels, PlacedPhoto, export_picture};
    use activation_atlas::engine::atlas::place::Placement;
    let path = activation_atlas::resources::find_resource(std::path::Path::new("assets/flowers17.atlas")).expect("the atlas is shipped");
    let atlas = activation_atlas::engine::atlas::load_atlas(&path).unwrap();
    let font = activation_atlas::resources::label_font().expect("a font with Chinese glyphs (the app needs one too)");
    let names: Vec<String> = atlas.meta.class_names.iter().map(|n| format!("{n} 花")).collect();
    let labels = Labels { font: &font, names: &names };
    let options = ExportOptions { size_px: 600, grid: 10, grid_lines: false, class_colours: true };
    // A photo placed in the part exported, with a thumbnail of one colour no icon has.
    let placement = Placement { points: vec![[0.55, 0.6]], centre: [0.55, 0.6], predicted_class: 0, confidence: 0.9 };
    let thumbnail = image::RgbImage::from_pixel(32, 32, image::Rgb([255, 0, 255]));
    let photos = [PlacedPhoto { placement: &placement, thumbnail: Some(&thumbnail) }];
    // A part away from the map's edges, as a zoomed-in view is.
    let part = Some([0.3, 0.3, 0.8, 0.8]);
    let named = export_picture(&atlas, &options, Some(&labels), &photos, part).unwrap();
    let plain = export_picture(&atlas, &options, None, &photos, part).unwrap();
    assert_eq!(named.dimensions(), plain.dimensions());
    let (w, h) = named.dimensions();
    let differs = |x: u32, y: u32| named.get_pixel(x, y) != plain.get_pixel(x, y);
    // The legend: a darkened box with a row per class in the bottom-right corner of the part.
    let corner: Vec<(u32, u32)> = (w - 60..w - 10).flat_map(|x| (h - 200..h - 10).map(move |y| (x, y))).collect();
    let legend = corner.iter().filter(|&&(x, y)| differs(x, y)).count();
    assert!(legend * 10 > corner.len() * 8, "the part keeps its legend ({legend} of {} px)", corner.len());
    // Names whole: nothing drawn for them touches the picture's edge.
    let edge = (0..w).flat_map(|x| [(x, 0), (x, h - 1)]).chain((0..h).flat_map(|y| [(0, y), (w - 1, y)]));
    assert!(edge.filter(|&(x, y)| differs(x, y)).count() == 0, "a name runs off the picture's edge");
    // The placed photo is on a pin: its thumbnail is drawn, not a dot.
    let magenta = named.pixels().filter(|p| p.0 == [255, 0, 255]).count();
    assert!(magenta >= 50 * 50, "the photo's thumbnail is drawn on its pin ({magenta} px)");
}
