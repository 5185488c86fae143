//! Atlases that teach: icons in the data's own colours, stored icon fidelity, class atlases and
//! two-class comparisons.

mod common;

use std::sync::atomic::AtomicBool;

use activation_atlas::engine::atlas::build::{AtlasFocus, AtlasParams};
use activation_atlas::engine::atlas::fidelity::{level_fidelity, mean_saturation};
use activation_atlas::engine::atlas::icons::icon_fidelity;
use activation_atlas::engine::atlas::{BuildEvent, build_atlas, load_atlas, save_atlas};
use activation_atlas::engine::checkpoint::load_checkpoint;
use activation_atlas::engine::data::load_dataset;
use activation_atlas::engine::explain::ColourModel;
use activation_atlas::engine::train::{TrainConfig, TrainOutcome, train};
use image::{Rgb, RgbImage};
use tch::Device;

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

fn small_params() -> AtlasParams {
    AtlasParams {
        samples_per_image: 8,
        grid_levels: vec![4, 8],
        icon_levels: vec![4, 8],
        min_count: 3,
        paper_views: false,
        ..AtlasParams::default()
    }
}

#[test]
fn the_colour_model_of_grey_pictures_is_grey_and_of_natural_ones_is_not() {
    let grey: Vec<RgbImage> = (0..4)
        .map(|i| {
            RgbImage::from_fn(20, 20, |x, y| {
                let v = ((x * 7 + y * 13 + i * 31) % 256) as u8;
                Rgb([v, v, v])
            })
        })
        .collect();
    let model = ColourModel::of_images(&grey);
    // Every output channel mixes the decorrelated channels alike: the colour matrix has equal rows.
    for row in &model.sqrt_covariance[1..] {
        for (a, b) in row.iter().zip(&model.sqrt_covariance[0]) {
            assert!((a - b).abs() < 1e-6, "{:?}", model.sqrt_covariance);
        }
    }
    assert!(model.mean[0] == model.mean[1] && model.mean[1] == model.mean[2]);
    // The square root squares back to the covariance.
    let photo = activation_atlas::engine::image_input::load_network_image(&common::flowers17_photo("tulip")).unwrap();
    let model = ColourModel::of_images(std::iter::once(&photo));
    let s = model.sqrt_covariance;
    let (mut mean, mut products, n) = ([0f64; 3], [[0f64; 3]; 3], (photo.width() * photo.height()) as f64);
    for p in photo.pixels() {
        let v = p.0.map(|c| f64::from(c) / 255.0);
        for a in 0..3 {
            mean[a] += v[a] / n;
            for b in 0..3 {
                products[a][b] += v[a] * v[b] / n;
            }
        }
    }
    for a in 0..3 {
        for b in 0..3 {
            let squared: f64 = (0..3).map(|k| f64::from(s[a][k]) * f64::from(s[k][b])).sum();
            let covariance = products[a][b] - mean[a] * mean[b];
            assert!((squared - covariance).abs() < 1e-6, "({a},{b}): {squared} vs {covariance}");
        }
    }
}

/// Grey shapes on a grey background: every pixel of the data set has saturation 0.
fn grey_shapes(root: &std::path::Path) {
    common::write_shape_dataset(root, 3, 24);
    for class in std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()) {
        for file in std::fs::read_dir(&class).unwrap().map(|e| e.unwrap().path()) {
            let image = image::open(&file).unwrap().to_luma8();
            image::DynamicImage::ImageLuma8(image).to_rgb8().save(&file).unwrap();
        }
    }
}

#[test]
fn a_greyscale_data_set_gives_grey_icons_that_still_match_their_cells() {
    let data = tempfile::tempdir().unwrap();
    grey_shapes(data.path());
    let dataset = load_dataset(data.path(), None, &|_, _| {}, &never()).unwrap();
    let run_dir = tempfile::tempdir().unwrap();
    let config = TrainConfig { epochs: 6, batch_size: 16, seed: 2, checkpoint_every: 1, ..TrainConfig::default() };
    let TrainOutcome::Finished { best: Some(best), .. } =
        train(&dataset, &config, run_dir.path(), None, Device::Cpu, &never(), &mut |_| {}).unwrap()
    else {
        panic!("training did not finish")
    };
    let checkpoint = load_checkpoint(&best, Device::Cpu).unwrap();
    let atlas = build_atlas(&checkpoint, &dataset, &small_params(), &mut |_| {}, &never()).unwrap();
    let colours = atlas.meta.colours.expect("the atlas records its data's colours");
    assert!(colours.mean.iter().all(|&m| m == colours.mean[0]));
    for icons in &atlas.icons {
        assert!(!icons.cells.is_empty());
        let saturation = mean_saturation(&icons.pixels);
        assert!(saturation <= 0.05, "grid {}: icon saturation {saturation}", icons.size);
        let mut cosines: Vec<f32> = icons.fidelity.iter().map(|f| f.cosine).collect();
        assert_eq!(cosines.len(), icons.cells.len());
        cosines.sort_by(f32::total_cmp);
        let median = cosines[cosines.len() / 2];
        assert!(median >= 0.9, "grid {}: centre cosine median {median}", icons.size);
    }
    let summary = level_fidelity(&atlas);
    assert!(summary.iter().all(|level| level.patch_saturation_mean.is_some_and(|s| s < 0.01)), "{summary:?}");
    for (level, icons) in summary.iter().zip(&atlas.icons) {
        let lowest = icons.fidelity.iter().map(|f| f.cosine).fold(f32::INFINITY, f32::min);
        assert_eq!(level.icon_cosine_min, Some(lowest));
    }
}

mod flowers {
    use super::*;

    fn subset() -> std::path::PathBuf {
        let subset = tempfile::tempdir().unwrap().keep();
        for class in std::fs::read_dir(common::flowers17()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
            let target = subset.join(class.file_name().unwrap());
            std::fs::create_dir_all(&target).unwrap();
            let mut files: Vec<_> = std::fs::read_dir(&class).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            for file in files.iter().take(4) {
                std::os::unix::fs::symlink(file, target.join(file.file_name().unwrap())).unwrap();
            }
        }
        subset
    }

    #[test]
    fn class_and_comparison_atlases_keep_the_right_vectors_and_the_stored_fidelity_is_true() {
        let data = subset();
        let dataset = load_dataset(&data, None, &|_, _| {}, &never()).unwrap();
        let checkpoint = load_checkpoint(&activation_atlas::resources::shipped_model().unwrap(), Device::Cpu).unwrap();
        let sunflower = checkpoint.meta.class_names.iter().position(|c| c == "sunflower").unwrap();
        let (daisy, windflower) = (
            checkpoint.meta.class_names.iter().position(|c| c == "daisy").unwrap(),
            checkpoint.meta.class_names.iter().position(|c| c == "windflower").unwrap(),
        );

        // A class atlas: only vectors with positive attribution to the class, the strongest.
        let params = AtlasParams { focus: AtlasFocus::Class { class: sunflower, vectors: 300 }, ..small_params() };
        let mut layouts = 0;
        let atlas =
            build_atlas(&checkpoint, &dataset, &params, &mut |e| layouts += usize::from(matches!(e, BuildEvent::Layout { .. })), &never())
                .unwrap();
        let collected = &atlas.collected;
        assert!(collected.len() <= 300 && collected.len() > 100, "{}", collected.len());
        assert!((0..collected.len()).all(|i| collected.attribution_of(i)[sunflower] > 0.0));
        assert!(layouts > 0);
        assert_eq!(atlas.meta.params.focus.class(), Some(sunflower));
        assert!(atlas.mosaic.is_none(), "the paper's whole-image views are not made for a focused atlas");

        // The fidelity stored with each icon is what the icon gives when measured again, after a
        // round trip through the file.
        let file = tempfile::NamedTempFile::new().unwrap();
        save_atlas(&atlas, file.path()).unwrap();
        let loaded = load_atlas(file.path()).unwrap();
        for icons in &loaded.icons {
            let level = loaded.level(icons.size).unwrap();
            let pictures: Vec<RgbImage> = (0..icons.cells.len()).map(|i| icons.icon(i)).collect();
            let directions: Vec<f32> = icons.cells.iter().flat_map(|&c| level.cells[c as usize].direction.clone()).collect();
            let again = icon_fidelity(&checkpoint.net, loaded.collected.layer, &pictures, &directions, loaded.collected.dim);
            assert_eq!(again.len(), icons.fidelity.len());
            for (a, b) in again.iter().zip(&icons.fidelity) {
                assert!(
                    (a.cosine - b.cosine).abs() < 1e-4 && (a.objective - b.objective).abs() <= 1e-4 * b.objective.abs().max(1.0),
                    "{a:?} vs {b:?}"
                );
            }
        }

        // A comparison: x follows attribution to daisy minus attribution to windflower.
        let params = AtlasParams { focus: AtlasFocus::Compare { first: daisy, second: windflower, vectors: 400 }, ..small_params() };
        let atlas = build_atlas(&checkpoint, &dataset, &params, &mut |_| {}, &never()).unwrap();
        let c = &atlas.collected;
        assert!(c.len() <= 400 && c.len() > 100);
        assert!((0..c.len()).all(|i| c.attribution_of(i)[daisy] > 0.0 || c.attribution_of(i)[windflower] > 0.0));
        let mut by_difference: Vec<(f32, f32)> =
            (0..c.len()).map(|i| (c.attribution_of(i)[daisy] - c.attribution_of(i)[windflower], atlas.layout[2 * i])).collect();
        by_difference.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(by_difference.windows(2).all(|w| w[0].1 <= w[1].1), "x is monotone in the attribution difference");
        assert!(by_difference.last().unwrap().1 > by_difference[0].1 + 0.5, "and spreads across the map");

        // Asking for the same class twice is refused.
        let same = AtlasParams { focus: AtlasFocus::Compare { first: daisy, second: daisy, vectors: 400 }, ..small_params() };
        assert!(build_atlas(&checkpoint, &dataset, &same, &mut |_| {}, &never()).is_err());
    }
}
