//! Building an atlas from a model and a data set, stage by stage, with progress, intermediate
//! layouts and icons streamed as they are ready, and cancellation between steps.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::cells::{GridLevel, bin};
use super::collect::{CollectStop, Collected, collect};
use super::embedded::{DatasetProvenance, EmbeddedImages};
use super::icons::{IconFidelity, IconParams, IconRenderer};
use super::knn::{KnnReport, neighbour_graph};
use super::layout::{LayoutError, UmapParams, normalise, tsne, umap, validate};
use super::source::{AtlasModel, LayerGeometry, attributed_outputs, collect_any};
use super::views::{ClassMosaic, Distribution, ImageSummaries, paper_views};
use crate::engine::data::Photos;
use crate::engine::explain::{ColourModel, ColourStatistics};
use crate::engine::fsutil::utc_timestamp_now;
use crate::engine::memory;
use crate::engine::model::Layer;

/// How the vectors are laid out in 2-D.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayoutMethod {
    #[default]
    Umap,
    /// Exact t-SNE on at most [`TSNE_MAX_POINTS`] vectors; the others are placed at the mean of
    /// their 3 nearest laid-out neighbours.
    Tsne,
}

/// Which activation vectors an atlas maps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AtlasFocus {
    /// Every sampled vector (the whole atlas).
    #[default]
    All,
    /// A class activation atlas (Distill's): the `vectors` with the strongest positive attribution
    /// to `class`, their own layout and icons.
    Class { class: usize, vectors: usize },
    /// Two classes side by side (Distill's "focusing on two classes"): the `vectors` that push
    /// hardest towards either; x is attribution to `first` minus attribution to `second`, y a 1-D
    /// UMAP of the vectors.
    Compare { first: usize, second: usize, vectors: usize },
}

/// Vectors a class or comparison atlas keeps by default (Distill used a few thousand).
pub const FOCUS_VECTORS: usize = 2500;

impl AtlasFocus {
    /// The class whose attribution shades the cells, for a class atlas.
    pub fn class(&self) -> Option<usize> {
        match self {
            AtlasFocus::Class { class, .. } => Some(*class),
            _ => None,
        }
    }

    /// The indices of the vectors of `collected` this focus keeps, strongest first.
    pub fn select(&self, collected: &Collected) -> Vec<usize> {
        let strength = |i: usize| -> f32 {
            let attribution = collected.attribution_of(i);
            match self {
                AtlasFocus::All => 0.0,
                AtlasFocus::Class { class, .. } => attribution[*class],
                AtlasFocus::Compare { first, second, .. } => attribution[*first].max(attribution[*second]),
            }
        };
        let (AtlasFocus::Class { vectors, .. } | AtlasFocus::Compare { vectors, .. }) = self else {
            return (0..collected.len()).collect();
        };
        let mut chosen: Vec<usize> = (0..collected.len()).filter(|&i| strength(i) > 0.0).collect();
        chosen.sort_by(|&a, &b| strength(b).total_cmp(&strength(a)).then(a.cmp(&b)));
        chosen.truncate(*vectors);
        chosen
    }
}

/// t-SNE here is exact (O(n²) memory and time), so larger sets are subsampled.
pub const TSNE_MAX_POINTS: usize = 4000;

/// Everything that decides an atlas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AtlasParams {
    pub layer: Layer,
    pub samples_per_image: usize,
    pub umap: UmapParams,
    /// Grid sizes (cells per side), coarse to fine.
    pub grid_levels: Vec<usize>,
    /// Cells with fewer vectors get no icon (and are drawn faintly).
    pub min_count: u32,
    /// Levels (sizes from `grid_levels`) whose dense cells get icons.
    pub icon_levels: Vec<usize>,
    pub icons: IconParams,
    pub seed: u64,
    #[serde(default)]
    pub layout_method: LayoutMethod,
    /// Also compute the paper's class mosaic and data distribution.
    #[serde(default)]
    pub paper_views: bool,
    #[serde(default)]
    pub focus: AtlasFocus,
}

impl Default for AtlasParams {
    fn default() -> Self {
        AtlasParams {
            layer: Layer::CONV2,
            samples_per_image: 16,
            umap: UmapParams::default(),
            grid_levels: vec![10, 20, 40, 80],
            min_count: 4,
            icon_levels: vec![10, 20, 40],
            icons: IconParams::default(),
            seed: 0,
            layout_method: LayoutMethod::Umap,
            paper_views: true,
            focus: AtlasFocus::All,
        }
    }
}

impl AtlasParams {
    /// The grid levels whose cells get icons by default: the paper's CNN draws an icon in well
    /// under a second for 256 at once; a network at 224 takes about a third of a second each,
    /// so the 40 grid's hundreds of icons are left to be asked for.
    pub fn default_icon_levels(paper_network: bool) -> Vec<usize> {
        if paper_network { AtlasParams::default().icon_levels } else { vec![10, 20] }
    }

    /// Optimisation steps per icon by default: 128 for the paper's CNN; 64 for a network at 224,
    /// where they halve the icons' time (0.44 to 0.23 s an icon at EfficientNet-Lite0's block8)
    /// for a median centre cosine of 0.921 instead of 0.929.
    pub fn default_icon_steps(paper_network: bool) -> usize {
        if paper_network { IconParams::default().steps } else { 64 }
    }
}

/// What an atlas knows about where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AtlasMeta {
    pub format_version: u32,
    pub model_fingerprint: String,
    #[serde(with = "crate::engine::fsutil::any_path")]
    pub model_path: PathBuf,
    pub class_names: Vec<String>,
    #[serde(with = "crate::engine::fsutil::any_path")]
    pub data_dir: PathBuf,
    /// Source files of the images, by image index (for showing real patches behind a cell).
    #[serde(with = "crate::engine::fsutil::any_path::many")]
    pub image_paths: Vec<PathBuf>,
    pub params: AtlasParams,
    pub created_at: String,
    /// The data set by name, class counts and a digest of its file list (no machine paths).
    #[serde(default)]
    pub dataset: Option<DatasetProvenance>,
    /// The training pictures' colour statistics, which the icons are drawn in (None in atlases
    /// made before: natural images' colours).
    #[serde(default)]
    pub colours: Option<ColourModel>,
    /// The network and layer's geometry (None: the paper's CNN, as in every atlas made before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geometry: Option<LayerGeometry>,
    /// Per class of the data set, the name of the network output its attribution was taken of,
    /// when the network was trained on other classes (an ImageNet network on a flower folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributed_to: Option<Vec<String>>,
}

impl AtlasMeta {
    /// Where the layer's grid lies in the network input, and the sizes the atlas draws at.
    pub fn geometry(&self) -> LayerGeometry {
        self.geometry.clone().unwrap_or_else(|| LayerGeometry::paper(self.params.layer))
    }

    /// Where image `index` was read from. From format 2 on, image paths are inside `data_dir`.
    pub fn image_file(&self, index: usize) -> Option<PathBuf> {
        let path = self.image_paths.get(index)?;
        Some(if self.format_version >= 2 { self.data_dir.join(path) } else { path.clone() })
    }

    /// Drops this machine's paths: the model by file name, the data set by folder name, images
    /// by their path inside it. For atlases that are shipped or shared.
    pub fn make_portable(&mut self) {
        let root = self.data_dir.clone();
        self.image_paths =
            (0..self.image_paths.len()).filter_map(|i| self.image_file(i)).map(|p| super::embedded::relative_to(&p, &root)).collect();
        self.format_version = self.format_version.max(2);
        self.model_path = self.model_path.file_name().map(PathBuf::from).unwrap_or_default();
        self.data_dir = root.file_name().map(PathBuf::from).unwrap_or_default();
    }
}

/// Icons of one grid level: one per dense cell, `icon_px` square RGB each.
#[derive(Clone, Debug, PartialEq)]
pub struct LevelIcons {
    pub size: u16,
    pub icon_px: u16,
    /// Index into the level's `cells` of each icon.
    pub cells: Vec<u32>,
    /// Icons one after another, `icon_px * icon_px * 3` bytes each.
    pub pixels: Vec<u8>,
    /// Per icon, how well it shows its cell (empty in atlases made before this was measured).
    pub fidelity: Vec<IconFidelity>,
}

impl LevelIcons {
    pub fn icon(&self, i: usize) -> RgbImage {
        let bytes = (self.icon_px as usize).pow(2) * 3;
        RgbImage::from_raw(self.icon_px.into(), self.icon_px.into(), self.pixels[i * bytes..(i + 1) * bytes].to_vec()).expect("sized")
    }

    pub fn icon_of_cell(&self, cell: usize) -> Option<RgbImage> {
        self.cells.iter().position(|&c| c as usize == cell).map(|i| self.icon(i))
    }
}

/// A built atlas.
#[derive(Clone, Debug, PartialEq)]
pub struct Atlas {
    pub meta: AtlasMeta,
    pub collected: Collected,
    /// Normalised layout, `n x 2` in [0, 1].
    pub layout: Vec<f32>,
    pub levels: Vec<GridLevel>,
    pub icons: Vec<LevelIcons>,
    pub mosaic: Option<ClassMosaic>,
    pub distribution: Option<Distribution>,
    /// Every image's network input, so patches need no files (None in atlases made before).
    pub images: Option<EmbeddedImages>,
}

impl Atlas {
    pub fn level(&self, size: u16) -> Option<&GridLevel> {
        self.levels.iter().find(|l| l.size == size)
    }

    pub fn icons_of(&self, size: u16) -> Option<&LevelIcons> {
        self.icons.iter().find(|l| l.size == size)
    }
}

/// The stages of a build, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Collect,
    Neighbours,
    Layout,
    Cells,
    PaperViews,
    Icons,
}

/// Progress of a build.
#[derive(Clone, Debug)]
pub enum BuildEvent {
    Stage {
        stage: Stage,
        done: usize,
        total: usize,
    },
    /// An intermediate layout (normalised), every few UMAP epochs.
    Layout {
        epoch: usize,
        layout: Vec<f32>,
    },
    /// How the neighbour graph was made (exact or approximate, and its recall).
    Neighbours(KnnReport),
    /// Icons finished for some dense cells of `level` (cell indices and grid positions).
    Icons {
        level: u16,
        cells: Vec<u32>,
        positions: Vec<[u16; 2]>,
        icons: Vec<RgbImage>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum AtlasError {
    #[error("the atlas needs a layer with a spatial grid: {0}")]
    NotSpatial(String),
    #[error("the data set's classes {data:?} are not the model's {model:?}")]
    ClassMismatch { data: Vec<String>, model: Vec<String> },
    #[error("invalid grid levels {0:?}: sizes must be between 2 and 256")]
    BadGrid(Vec<usize>),
    #[error("class {0} does not exist in this model")]
    NoSuchClass(usize),
    #[error("a comparison needs two different classes")]
    SameClass,
    #[error("only {0} activation vectors have a positive attribution to the chosen class(es); too few for an atlas")]
    TooFewFocusVectors(usize),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("cancelled")]
    Cancelled,
    #[error(
        "this atlas would need about {needed_mb} MB of memory and the machine has {available_mb} MB free; use fewer photos or fewer samples per photo"
    )]
    TooLarge { needed_mb: u64, available_mb: u64 },
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
}

fn collect_stop(stop: CollectStop) -> AtlasError {
    match stop {
        CollectStop::Cancelled => AtlasError::Cancelled,
        CollectStop::Unreadable(file) => AtlasError::File { path: file.path, reason: file.reason },
        CollectStop::Scratch(error) => scratch_error(error),
    }
}

fn scratch_error(error: super::table::ScratchError) -> AtlasError {
    AtlasError::File { path: error.folder, reason: format!("could not write the build's scratch file: {}", error.source) }
}

/// Builds an atlas of a model (a checkpoint of the paper's CNN or any loaded network) on
/// `photos`, which must be read at the network's input size. A network trained on other classes
/// than the photos' (an imported ImageNet network) attributes each class of the photos to the
/// output it most often gives them; the paper's CNN must have been trained on these classes.
pub fn build_atlas<'a>(
    model: impl Into<AtlasModel<'a>>,
    photos: &dyn Photos,
    params: &AtlasParams,
    on_event: &mut dyn FnMut(BuildEvent),
    cancel: &AtomicBool,
) -> Result<Atlas, AtlasError> {
    let model: AtlasModel = model.into();
    let net = model.net;
    let paper = crate::engine::model::paper_net(net);
    let geometry = LayerGeometry::of(net, params.layer).map_err(AtlasError::NotSpatial)?;
    if paper.is_some() && model.class_names != photos.class_names() {
        return Err(AtlasError::ClassMismatch { data: photos.class_names().to_vec(), model: model.class_names.to_vec() });
    }
    if params.grid_levels.is_empty() || params.grid_levels.iter().any(|&s| !(2..=256).contains(&s)) {
        return Err(AtlasError::BadGrid(params.grid_levels.clone()));
    }
    let classes = photos.class_names().len();
    match params.focus {
        AtlasFocus::Class { class, .. } if class >= classes => return Err(AtlasError::NoSuchClass(class)),
        AtlasFocus::Compare { first, second, .. } if first >= classes || second >= classes => {
            return Err(AtlasError::NoSuchClass(first.max(second)));
        }
        AtlasFocus::Compare { first, second, .. } if first == second => return Err(AtlasError::SameClass),
        _ => {}
    }
    let dim = net.spec().layer_index(params.layer.name()).map_or(0, |i| net.spec().layers[i].channels() as usize);
    let positions = super::collect::interior_positions(geometry.grid as usize, geometry.sampling_margin(params.layer)).len();
    let vectors = photos.len() * params.samples_per_image.clamp(1, positions.max(1));
    let needed = photos.resident_photo_bytes() + estimate_build_bytes(photos.len(), vectors, dim.max(1), classes, params.umap.n_neighbors);
    if let (Some(available), Some(resident)) = (memory::available_bytes(), memory::resident_bytes()) {
        // What the process already holds (photos kept in memory, libtorch) is part of the estimate.
        if needed > available + resident {
            return Err(AtlasError::TooLarge { needed_mb: memory::megabytes(needed), available_mb: memory::megabytes(available) });
        }
    }
    // Each stage is announced as it begins, so timings and progress bars start at the right time.
    on_event(BuildEvent::Stage { stage: Stage::Collect, done: 0, total: photos.len() });
    let outputs = attributed_outputs(&model, photos, &mut |_, _| {}, cancel).map_err(collect_stop)?;
    // The paper's views are of its conv2; other networks have no such views.
    let wants_paper_views = params.paper_views && params.focus == AtlasFocus::All && paper.is_some();
    // Everything a build keeps of the photos is taken from them in the one pass that collects:
    // the paper views' conv2 summaries, the colour statistics and the embedded copies.
    let mut summaries = wants_paper_views.then(ImageSummaries::default);
    let mut colour_statistics = ColourStatistics::default();
    let mut embedded = EmbeddedImages::default();
    let embedded_side = geometry.embedded_side;
    let mut keep_photos = |batch: &[RgbImage]| {
        use rayon::prelude::*;
        let statistics = batch.par_iter().fold(ColourStatistics::default, |mut s, image| {
            s.add(image);
            s
        });
        colour_statistics = statistics.reduce(ColourStatistics::default, |a, b| a.merge(&b)).merge(&colour_statistics);
        if batch.first().is_some_and(|image| image.width() != embedded_side) {
            let side = embedded_side;
            let smaller: Vec<RgbImage> =
                batch.par_iter().map(|image| image::imageops::resize(image, side, side, image::imageops::FilterType::Triangle)).collect();
            embedded.extend(&smaller);
        } else {
            embedded.extend(batch);
        }
    };
    let mut progress = |done, total| on_event(BuildEvent::Stage { stage: Stage::Collect, done, total });
    let (layer, per_image, seed) = (params.layer, params.samples_per_image, params.seed);
    let collected = match paper {
        Some(paper) => collect(paper, photos, layer, per_image, seed, summaries.as_mut(), &mut keep_photos, &mut progress, cancel),
        None => collect_any(net, layer, &geometry, &outputs, photos, per_image, seed, &mut keep_photos, &mut progress, cancel),
    }
    .map_err(collect_stop)?;
    let collected = match params.focus {
        AtlasFocus::All => collected,
        focus => {
            let keep = focus.select(&collected);
            if keep.len() <= params.umap.n_neighbors {
                return Err(AtlasError::TooFewFocusVectors(keep.len()));
            }
            collected.subset(&keep).map_err(scratch_error)?
        }
    };
    validate(&params.umap, collected.len())?;

    on_event(BuildEvent::Stage { stage: Stage::Neighbours, done: 0, total: 1 });
    let (neighbours, report) = neighbour_graph(
        &collected.vectors,
        collected.dim,
        params.umap.n_neighbors,
        params.seed,
        net.device(),
        &mut |done, total| on_event(BuildEvent::Stage { stage: Stage::Neighbours, done, total }),
        cancel,
    )
    .ok_or(AtlasError::Cancelled)?;
    on_event(BuildEvent::Neighbours(report));
    on_event(BuildEvent::Stage { stage: Stage::Neighbours, done: 1, total: 1 });

    let epochs = params.umap.epochs;
    on_event(BuildEvent::Stage { stage: Stage::Layout, done: 0, total: epochs });
    let raw = match (params.focus, params.layout_method) {
        (AtlasFocus::Compare { first, second, .. }, _) => {
            // x: which of the two classes the vector pushes towards; y: a 1-D UMAP, so vectors
            // that look alike sit together along the other axis.
            let mut on_snapshot =
                |epoch: usize, _: &[f32]| on_event(BuildEvent::Stage { stage: Stage::Layout, done: epoch, total: epochs });
            let y = umap(&neighbours, &UmapParams { components: 1, ..params.umap }, 10, &mut on_snapshot, cancel)?;
            let difference: Vec<f32> = (0..collected.len())
                .map(|i| {
                    let a = collected.attribution_of(i);
                    a[first] - a[second]
                })
                .collect();
            // Attribution differences are heavy-tailed: asinh(d / typical |d|) keeps their order
            // and sign but spreads the many small ones across the map instead of one column.
            let mut magnitudes: Vec<f32> = difference.iter().map(|d| d.abs()).collect();
            magnitudes.sort_by(f32::total_cmp);
            let typical = magnitudes[magnitudes.len() / 2].max(f32::MIN_POSITIVE);
            difference.iter().zip(&y).flat_map(|(d, y)| [(d / typical).asinh(), *y]).collect()
        }
        (_, LayoutMethod::Umap) => {
            let mut on_snapshot = |epoch: usize, raw: &[f32]| {
                on_event(BuildEvent::Layout { epoch, layout: normalise(raw, 2, 0.02) });
                on_event(BuildEvent::Stage { stage: Stage::Layout, done: epoch, total: epochs });
            };
            umap(&neighbours, &UmapParams { components: 2, ..params.umap }, 10, &mut on_snapshot, cancel)?
        }
        (_, LayoutMethod::Tsne) => tsne_layout(&collected, params.seed, net.device(), cancel)?,
    };
    let layout = normalise(&raw, 2, 0.02);

    let levels: Vec<GridLevel> = params.grid_levels.iter().map(|&size| bin(&layout, &collected, size)).collect();
    on_event(BuildEvent::Stage { stage: Stage::Cells, done: 1, total: 1 });

    // The paper's views are about whole images; a focused atlas keeps only some of their vectors.
    let (mosaic, distribution) = match (wants_paper_views, paper) {
        (true, Some(paper)) => {
            on_event(BuildEvent::Stage { stage: Stage::PaperViews, done: 0, total: 1 });
            let summaries = summaries.take().unwrap_or_default();
            let (mosaic, distribution) = paper_views(paper, photos.labels(), classes, summaries, params.seed, cancel)?;
            on_event(BuildEvent::Stage { stage: Stage::PaperViews, done: 1, total: 1 });
            (Some(mosaic), Some(distribution))
        }
        _ => (None, None),
    };

    let colours = colour_statistics.model();
    let mut icons = Vec::new();
    let icon_px = geometry.icon_px as u16;
    let total_icons: usize =
        levels.iter().filter(|l| params.icon_levels.contains(&(l.size as usize))).map(|l| l.dense_cells(params.min_count).count()).sum();
    let mut done_icons = 0;
    on_event(BuildEvent::Stage { stage: Stage::Icons, done: 0, total: total_icons });
    for level in levels.iter().filter(|l| params.icon_levels.contains(&(l.size as usize))) {
        let dense: Vec<(usize, &super::cells::Cell)> = level.dense_cells(params.min_count).collect();
        let directions: Vec<f32> = dense.iter().flat_map(|(_, c)| c.direction.iter().copied()).collect();
        let cell_indices: Vec<u32> = dense.iter().map(|(i, _)| *i as u32).collect();
        let mut pixels = Vec::with_capacity(dense.len() * (icon_px as usize).pow(2) * 3);
        let mut fidelity = Vec::with_capacity(dense.len());
        let renderer = IconRenderer {
            net,
            layer: params.layer,
            icon_px: i64::from(icon_px),
            dim: collected.dim,
            params: IconParams { seed: params.icons.seed ^ u64::from(level.size), ..params.icons },
            colours: &colours,
        };
        let finished = renderer.render(
            &directions,
            &mut |first, batch, batch_fidelity| {
                for icon in &batch {
                    pixels.extend_from_slice(icon.as_raw());
                }
                fidelity.extend(batch_fidelity);
                done_icons += batch.len();
                let cells = cell_indices[first..first + batch.len()].to_vec();
                let positions = cells.iter().map(|&c| [level.cells[c as usize].x, level.cells[c as usize].y]).collect();
                on_event(BuildEvent::Icons { level: level.size, cells, positions, icons: batch });
                on_event(BuildEvent::Stage { stage: Stage::Icons, done: done_icons, total: total_icons });
            },
            cancel,
        );
        if !finished {
            return Err(AtlasError::Cancelled);
        }
        icons.push(LevelIcons { size: level.size, icon_px, cells: cell_indices, pixels, fidelity });
    }

    let attributed_to = (model.class_names != photos.class_names())
        .then(|| outputs.iter().map(|&o| model.class_names.get(o).cloned().unwrap_or_else(|| format!("class {o}"))).collect());
    let meta = AtlasMeta {
        format_version: 2,
        model_fingerprint: model.fingerprint.to_string(),
        model_path: model.path.to_path_buf(),
        class_names: photos.class_names().to_vec(),
        data_dir: photos.root().to_path_buf(),
        // Inside the data set folder; `data_dir` says where that was.
        image_paths: photos.paths().iter().map(|p| super::embedded::relative_to(p, photos.root())).collect(),
        params: params.clone(),
        created_at: utc_timestamp_now(),
        dataset: Some(DatasetProvenance::of(photos.root(), photos.paths(), photos.labels(), classes)),
        colours: Some(colours),
        geometry: paper.is_none().then_some(geometry),
        attributed_to,
    };
    let images = Some(embedded);
    Ok(Atlas { meta, collected, layout, levels, icons, mosaic, distribution, images })
}

/// Peak memory of a build, in bytes, from its sizes (photos kept in memory not included: the
/// build itself reads them a batch at a time): every term is linear in the number of
/// photos or vectors (no stage holds an n x n matrix). The constants are per-item costs of the
/// stages' largest structures, with room for allocator slack; a fixed part covers libtorch, the
/// network and the icon batches.
pub fn estimate_build_bytes(images: usize, vectors: usize, dim: usize, classes: usize, neighbours: usize) -> u64 {
    let (images, vectors, dim, classes, k) = (images as u64, vectors as u64, dim as u64, classes as u64, neighbours.max(1) as u64);
    // Vectors and attributions, plus one copy while a focus or the file is made; tables over
    // the spill size are mapped from a scratch file, pages the kernel can drop, so not counted.
    let heap_table = |width: u64| {
        let bytes = vectors * width * 4;
        if bytes as usize <= super::table::SPILL_BYTES { bytes } else { 0 }
    };
    let collected = (heap_table(dim) + heap_table(classes) + vectors * 10) * 2;
    // Unit rows, lists and candidates (NN-descent), or lists and a 64 MB block (exact).
    let graph = vectors * dim * 4 + vectors * k * 48 + (64 << 20);
    // The fuzzy graph, its edges both ways and their schedules.
    let layout = vectors * k * 2 * 64;
    // Per image: its max-activation vector, neighbour lists for t-SNE and four layouts; exact
    // t-SNE's n x n matrices only up to 1,500 images.
    let exact_tsne_images = images.min(super::views::EXACT_TSNE_MAX_IMAGES as u64);
    let paper_views = images * (dim * 4 + 100 * 24 + 64) + exact_tsne_images * exact_tsne_images * 4 * 8;
    let embedded = images * 12_000;
    let fixed = 600 << 20;
    fixed + collected + graph.max(layout) + paper_views + embedded
}

/// t-SNE of the vectors (subsampled to [`TSNE_MAX_POINTS`], seeded); the rest placed by kNN.
fn tsne_layout(collected: &Collected, seed: u64, device: tch::Device, cancel: &AtomicBool) -> Result<Vec<f32>, LayoutError> {
    let n = collected.len();
    let dim = collected.dim;
    let mut chosen: Vec<usize> = (0..n).collect();
    crate::engine::rng::SeededRng::new(seed).shuffle(&mut chosen);
    chosen.truncate(TSNE_MAX_POINTS.min(n));
    let sample: Vec<f32> = chosen.iter().flat_map(|&i| collected.vector(i).iter().copied()).collect();
    let sample_layout = tsne(&sample, dim, 2, 50.0f64.min((chosen.len() as f64 - 1.0) / 3.0), 500, seed, cancel)?;
    let mut out = vec![0f32; n * 2];
    for (s, &i) in chosen.iter().enumerate() {
        out[2 * i] = sample_layout[2 * s];
        out[2 * i + 1] = sample_layout[2 * s + 1];
    }
    let reference = super::knn::unit_rows(&sample, dim, device);
    let everything = super::knn::unit_rows(&collected.vectors, dim, device);
    let (indices, _) = super::knn::nearest_among(&everything, &reference, 3);
    let placed: std::collections::HashSet<usize> = chosen.iter().copied().collect();
    for i in (0..n).filter(|i| !placed.contains(i)) {
        let row = &indices[i * 3..i * 3 + 3];
        for axis in 0..2 {
            out[2 * i + axis] = row.iter().map(|&s| sample_layout[2 * s as usize + axis]).sum::<f32>() / 3.0;
        }
    }
    Ok(out)
}
