//! An atlas of the shipped EfficientNet-Lite0 (ImageNet) on flowers17 at its middle grid layer,
//! at the default settings of the window and `atlas build`: seconds per stage, total, and peak
//! memory; then the same build on every second photo, so memory can be seen to grow with the
//! photos (the peak of a build is the photos' tables plus a fixed part for the network and
//! icon batches).
//!
//! cargo bench --bench network_atlas [-- --layer block5]

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use activation_atlas::engine::atlas::{AtlasParams, BuildEvent, Stage, build_atlas};
use activation_atlas::engine::data::{Photos, SkippedFile, cache_dir, open_dataset_sized};
use activation_atlas::engine::memory::{megabytes, peak_resident_bytes};
use activation_atlas::engine::model::{Layer, usual_layer};
use activation_atlas::engine::network::import::load_network;
use activation_atlas::resources::flowers17_dir;
use image::RgbImage;

/// Every second photo of a data set.
struct EverySecond<'a> {
    photos: &'a dyn Photos,
    labels: Vec<usize>,
    paths: Vec<PathBuf>,
}

impl Photos for EverySecond<'_> {
    fn root(&self) -> &Path {
        self.photos.root()
    }
    fn class_names(&self) -> &[String] {
        self.photos.class_names()
    }
    fn labels(&self) -> &[usize] {
        &self.labels
    }
    fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
    fn read(&self, range: Range<usize>) -> Result<std::borrow::Cow<'_, [RgbImage]>, SkippedFile> {
        let mut images = Vec::with_capacity(range.len());
        for i in range {
            images.extend(self.photos.read(2 * i..2 * i + 1)?.iter().cloned());
        }
        Ok(std::borrow::Cow::Owned(images))
    }
    fn resident_photo_bytes(&self) -> u64 {
        0
    }
}

fn main() {
    activation_atlas::engine::memory::keep_freed_tensor_memory();
    tch::set_num_threads(2);
    let args: Vec<String> = std::env::args().collect();
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/efficientnet-lite0-imagenet.safetensors");
    let model = load_network(&weights, tch::Device::Cpu).expect("the shipped EfficientNet-Lite0");
    let spec = model.net.spec();
    let layer = match args.iter().position(|a| a == "--layer").and_then(|i| args.get(i + 1)) {
        Some(name) => Layer::named(name),
        None => usual_layer(spec, Layer::CONV2, true),
    };
    let photos =
        open_dataset_sized(&flowers17_dir(), Some(&cache_dir()), spec.input_size, &|_, _| {}, &AtomicBool::new(false)).expect("flowers17");
    let mut params = AtlasParams { layer, icon_levels: AtlasParams::default_icon_levels(false), ..AtlasParams::default() };
    params.icons.steps = AtlasParams::default_icon_steps(false);

    let half = EverySecond {
        photos: &photos,
        labels: photos.labels().iter().step_by(2).copied().collect(),
        paths: photos.paths().iter().step_by(2).cloned().collect(),
    };
    // The smaller build first, so its peak is its own.
    let (half_seconds, half_peak, _) = timed_build(&model, &half, &params, false);
    let (seconds, peak, summary) = timed_build(&model, &photos, &params, true);
    println!(
        "RESULT efficientnet-lite0 atlas at {layer}, flowers17 ({} photos), default settings: {seconds:.1} s ({summary}); peak memory {peak} MB; on {} photos {half_seconds:.1} s, peak {half_peak} MB",
        photos.len(),
        half.len()
    );
}

/// Builds an atlas; its seconds, the process's peak memory in MB, and what it holds.
fn timed_build(
    model: &activation_atlas::engine::network::import::LoadedNetwork,
    photos: &dyn Photos,
    params: &AtlasParams,
    say_stages: bool,
) -> (f64, u64, String) {
    let started = Instant::now();
    let mut stage_started = Instant::now();
    let mut current: Option<Stage> = None;
    let mut times = Vec::new();
    let mut on_event = |event: BuildEvent| {
        if let BuildEvent::Stage { stage, .. } = event
            && current != Some(stage)
        {
            if let Some(previous) = current {
                times.push((previous, stage_started.elapsed().as_secs_f64()));
            }
            current = Some(stage);
            stage_started = Instant::now();
        }
    };
    let atlas = build_atlas(model, photos, params, &mut on_event, &AtomicBool::new(false)).expect("the atlas builds");
    if let Some(stage) = current {
        times.push((stage, stage_started.elapsed().as_secs_f64()));
    }
    let seconds = started.elapsed().as_secs_f64();
    if say_stages {
        for (stage, secs) in &times {
            println!("stage {stage:?}: {secs:.1} s");
        }
    }
    let icons: usize = atlas.icons.iter().map(|l| l.cells.len()).sum();
    let levels: Vec<u16> = atlas.icons.iter().map(|l| l.size).collect();
    let summary = format!("{} vectors of {}, {icons} icons at grids {levels:?}", atlas.collected.len(), atlas.collected.dim);
    (seconds, peak_resident_bytes().map(megabytes).unwrap_or(0), summary)
}
