//! The atlas on any network: the general collection (autograd) gives the paper's fast path's
//! numbers on the paper's CNN, and an atlas of the shipped EfficientNet-Lite0 (ImageNet classes)
//! is built from a flowers17 folder read at 224, with its geometry, the ImageNet output each
//! folder class is attributed to, icons, patches, placing and a file that reads back.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use activation_atlas::engine::atlas::build::AtlasParams;
use activation_atlas::engine::atlas::collect::collect;
use activation_atlas::engine::atlas::icons::IconParams;
use activation_atlas::engine::atlas::layout::UmapParams;
use activation_atlas::engine::atlas::patches::{PATCH_DISPLAY_PX, cell_patches};
use activation_atlas::engine::atlas::source::{LayerGeometry, collect_any};
use activation_atlas::engine::atlas::{build_atlas, load_atlas, place_image, save_atlas};
use activation_atlas::engine::data::{Photos, open_dataset, open_dataset_sized};
use activation_atlas::engine::model::Layer;
use activation_atlas::engine::network::import::load_network;

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

#[test]
fn the_general_collection_gives_the_paper_fast_paths_vectors_and_attributions() {
    // Every class, as the paper's path requires the model's classes.
    let data = common::flowers17_every_class(1);
    let photos = open_dataset(data.path(), None, &|_, _| {}, &never()).unwrap();
    let path = activation_atlas::resources::shipped_model().expect("shipped model");
    let checkpoint = activation_atlas::engine::checkpoint::load_checkpoint(&path, tch::Device::Cpu).unwrap();
    assert_eq!(photos.class_names(), checkpoint.meta.class_names);
    let classes: Vec<usize> = (0..checkpoint.meta.class_names.len()).collect();
    for layer in [Layer::CONV1, Layer::CONV2, Layer::CONV4] {
        let fast = collect(&checkpoint.net, &photos, layer, 6, 7, None, &mut |_| {}, &mut |_, _| {}, &never()).unwrap();
        let geometry = LayerGeometry::paper(layer);
        let general =
            collect_any(&checkpoint.net, layer, &geometry, &classes, &photos, 6, 7, &mut |_| {}, &mut |_, _| {}, &never()).unwrap();
        assert_eq!((fast.len(), fast.dim, fast.classes), (general.len(), general.dim, general.classes), "{layer}");
        assert_eq!(fast.position, general.position, "{layer}: the same seeded positions");
        assert_eq!(fast.image, general.image);
        let largest = |values: &[f32]| values.iter().fold(0f32, |m, v| m.max(v.abs()));
        let (vector_scale, attribution_scale) = (largest(&fast.vectors), largest(&fast.attribution));
        for (a, b) in fast.vectors.iter().zip(general.vectors.iter()) {
            assert!((a - b).abs() <= 1e-5 * vector_scale, "{layer} vector {a} vs {b}");
        }
        for (a, b) in fast.attribution.iter().zip(general.attribution.iter()) {
            assert!((a - b).abs() <= 1e-4 * attribution_scale, "{layer} attribution {a} vs {b} (largest {attribution_scale})");
        }
    }
}

#[test]
fn an_imagenet_efficientnet_maps_a_flower_folder_at_a_middle_block() {
    let data = common::flowers17_subset(&["daisy", "sunflower", "tulip", "dandelion"], 5, false);
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/efficientnet-lite0-imagenet.safetensors");
    let model = load_network(&weights, tch::Device::Cpu).unwrap();
    let photos = open_dataset_sized(data.path(), None, 224, &|_, _| {}, &never()).unwrap();
    assert_eq!(photos.read(0..1).unwrap()[0].dimensions(), (224, 224), "photos are read at the network's input size");
    let params = AtlasParams {
        layer: Layer::named("block5"),
        samples_per_image: 6,
        umap: UmapParams { n_neighbors: 5, epochs: 50, ..UmapParams::default() },
        grid_levels: vec![3, 6],
        min_count: 2,
        icon_levels: vec![3],
        icons: IconParams { steps: 6, batch: 16, ..IconParams::default() },
        ..AtlasParams::default()
    };
    let atlas = build_atlas(&model, &photos, &params, &mut |_| {}, &never()).unwrap();

    let geometry = atlas.meta.geometry.clone().expect("the geometry of a network other than the paper's is recorded");
    assert_eq!((geometry.architecture.as_str(), geometry.input_size, geometry.grid, geometry.stride), ("efficientnet-lite0", 224, 14, 16));
    assert_eq!((atlas.collected.len(), atlas.collected.dim, atlas.collected.classes), (20 * 6, 80, 4));
    // Each folder class is attributed to an ImageNet output; ImageNet has a daisy.
    let attributed = atlas.meta.attributed_to.clone().expect("the network's classes are not the folder's");
    assert_eq!(attributed.len(), 4);
    assert_eq!(attributed[0], "daisy", "{attributed:?}");
    assert_eq!(atlas.meta.class_names, ["daisy", "dandelion", "sunflower", "tulip"], "the atlas names the folder's classes");
    assert!(atlas.mosaic.is_none() && atlas.distribution.is_none(), "the paper's views are of its own network");
    let attributions: Vec<f32> = atlas.collected.attribution.to_vec();
    assert!(attributions.iter().all(|a| a.is_finite()) && attributions.iter().any(|a| *a > 0.0) && attributions.iter().any(|a| *a < 0.0));

    let icons = &atlas.icons[0];
    assert!(!icons.cells.is_empty());
    assert_eq!(u32::from(icons.icon_px), geometry.icon_px);
    assert_eq!(icons.pixels.len(), icons.cells.len() * (icons.icon_px as usize).pow(2) * 3);
    assert!(icons.fidelity.iter().all(|f| f.cosine.is_finite()));
    // Embedded smaller than the input, so the file stays small; patches still cut from them.
    let embedded = atlas.images.as_ref().unwrap();
    assert_eq!(embedded.image(0).unwrap().dimensions(), (160, 160));
    let members: Vec<u32> = (0..4).collect();
    let patches = cell_patches(&atlas, &members, 4);
    assert_eq!(patches.patches.len(), 4);
    assert!(patches.patches.iter().all(|p| p.image.dimensions() == (PATCH_DISPLAY_PX, PATCH_DISPLAY_PX)));

    // A photo of the folder lands where its own vectors lie, nearer than the map's centre on average.
    let photo = photos.read(0..1).unwrap()[0].clone();
    let placement = place_image(model.net.as_ref(), &atlas, &photo, 5);
    assert_eq!(placement.points.len(), 12 * 12, "every interior position of block5's 14 x 14 grid");
    assert_eq!(model.meta.class_names[placement.predicted_class], "daisy");
    let own: Vec<[f32; 2]> = (0..atlas.collected.len())
        .filter(|&i| atlas.collected.image[i] == 0)
        .map(|i| [atlas.layout[2 * i], atlas.layout[2 * i + 1]])
        .collect();
    let distance = |a: [f32; 2], b: [f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
    let to_own = placement.points.iter().map(|p| own.iter().map(|o| distance(*p, *o)).fold(f32::MAX, f32::min)).sum::<f32>();
    let everything: Vec<[f32; 2]> = (0..atlas.collected.len()).map(|i| [atlas.layout[2 * i], atlas.layout[2 * i + 1]]).collect();
    let typical = everything.iter().map(|p| own.iter().map(|o| distance(*p, *o)).fold(f32::MAX, f32::min)).sum::<f32>()
        / everything.len() as f32
        * placement.points.len() as f32;
    assert!(to_own <= typical, "placed nearer its own vectors ({to_own}) than the map's points are on average ({typical})");

    let file = tempfile::tempdir().unwrap();
    let path = file.path().join("lite0.atlas");
    save_atlas(&atlas, &path).unwrap();
    let again = load_atlas(&path).unwrap();
    assert_eq!(again.meta.geometry, atlas.meta.geometry);
    assert_eq!(again.meta.attributed_to, atlas.meta.attributed_to);
    assert_eq!(again.collected.len(), atlas.collected.len());
}
