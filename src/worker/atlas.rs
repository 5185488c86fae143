//! The atlas slice on the worker: load, place, patches and export on the interactive worker;
//! builds on a thread of their own with their own copy of the model.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Sender;

use super::classify::decode;
use super::interactive::Interactive;
use super::{CancelToken, Event, InteractiveMessage, JobError, JobKind, Picture, Reporter};
use crate::engine::atlas::build::AtlasParams;
use crate::engine::atlas::export::{ExportOptions, Labels, PlacedPhoto, export_picture};
use crate::engine::atlas::patches::cell_patches;
use crate::engine::atlas::selection::{SelectedImage, copy_selection, save_selection, selected_images};
use crate::engine::atlas::{Atlas, BuildEvent, Placement, Stage, build_atlas, load_atlas, place_image, save_atlas};
use crate::engine::image_input::to_network_image_sized;
use crate::engine::model::default_device;
use crate::engine::network::import::load_network;

/// Neighbours used to place a picture's vectors on the map.
const PLACEMENT_NEIGHBOURS: usize = 5;
/// Side of the thumbnail pinned on the map.
const PLACED_THUMBNAIL_PX: u32 = 96;

#[derive(Debug)]
pub enum AtlasJob {
    /// Load an atlas file (it must belong to the model in use). `quiet`: an atlas offered at
    /// start; if it does not fit, nothing is said.
    Load { path: PathBuf, quiet: bool },
    /// Load the first of these atlas files that belongs to the model in use, saying nothing of
    /// the others (the last atlas used, then the shipped one, when a model is chosen).
    LoadFirstFitting { paths: Vec<PathBuf> },
    /// Build an atlas on a thread of its own, save it, then make it the atlas in use.
    Build(AtlasBuild),
    /// Place picture files on the atlas in use.
    Place { paths: Vec<PathBuf> },
    /// Crops of the real images behind atlas vectors (up to `limit`), around their positions.
    CellPatches { members: Vec<u32>, limit: usize },
    /// Every icon cell of grid `level` drawn from real pictures (mean and most typical patch).
    RealLevelPictures { level: u16 },
    /// Render the atlas (or the part `crop`) as a PNG file, with `names` as class labels and
    /// legend when given, and `placements` marked.
    /// Placed photos come with their thumbnails, drawn on their pins.
    Export {
        options: ExportOptions,
        names: Option<Vec<String>>,
        placements: Vec<(Placement, Option<image::RgbImage>)>,
        crop: Option<[f32; 4]>,
        path: PathBuf,
    },
    /// How many images a folder offers a build, and in which classes (nothing is decoded).
    CountImages { dir: PathBuf },
    /// Write a selection of images as CSV or JSON (by the file's extension).
    SaveSelection { selection: Selection, path: PathBuf },
    /// Copy a selection's files into class folders under `dest`, on a thread of its own.
    CopySelection { selection: Selection, dest: PathBuf },
}

impl AtlasJob {
    pub fn kind(&self) -> JobKind {
        match self {
            AtlasJob::Load { .. } | AtlasJob::LoadFirstFitting { .. } => JobKind::LoadAtlas,
            AtlasJob::Build(_) => JobKind::BuildAtlas,
            AtlasJob::Place { .. } => JobKind::PlaceImages,
            AtlasJob::CellPatches { .. } | AtlasJob::RealLevelPictures { .. } => JobKind::CellPatches,
            AtlasJob::Export { .. } => JobKind::ExportAtlas,
            AtlasJob::CountImages { .. } => JobKind::ScanFolder,
            AtlasJob::SaveSelection { .. } => JobKind::SaveSelection,
            AtlasJob::CopySelection { .. } => JobKind::CopyPhotos,
        }
    }
}

/// Side of a cell's real picture when the whole map is drawn from them.
const REAL_PICTURE_PX: u32 = 48;

#[derive(Debug)]
pub struct AtlasBuild {
    /// The model's weights: the build loads its own copy.
    pub weights: PathBuf,
    pub data_dir: PathBuf,
    pub params: AtlasParams,
    pub out: PathBuf,
}

#[derive(Clone, Debug)]
pub enum AtlasEvent {
    Loaded {
        atlas: Arc<Atlas>,
        path: PathBuf,
    },
    Build(AtlasBuildProgress),
    Placed {
        path: PathBuf,
        placement: Placement,
        thumbnail: Picture,
    },
    /// `missing`: image files the atlas refers to that could not be read (atlases without
    /// embedded images).
    Patches {
        members: Vec<u32>,
        patches: Vec<PatchPicture>,
        missing: Vec<PathBuf>,
        /// The cell in real pictures: the mean of its patches and its most typical patch.
        mean: Option<Picture>,
        typical: Option<Picture>,
    },
    /// A level's icon cells in real pictures: cell indices, their mean and most typical patches.
    RealLevelPictures {
        level: u16,
        cells: Vec<u32>,
        mean: Vec<Picture>,
        typical: Vec<Picture>,
    },
    Exported {
        path: PathBuf,
    },
    ImagesCounted {
        dir: PathBuf,
        classes: Vec<String>,
        images: usize,
    },
    SelectionSaved {
        path: PathBuf,
        count: usize,
    },
    /// `failed`: files not copied, each with the reason.
    SelectionCopied {
        dest: PathBuf,
        copied: usize,
        failed: Vec<(PathBuf, String)>,
    },
}

/// Images of an atlas chosen by the user. Their rows (class, file on this machine) are worked out
/// by the job, not the window: finding each file is a file-system call per image.
#[derive(Debug)]
pub struct Selection {
    pub atlas: Arc<Atlas>,
    /// Atlas image indices.
    pub images: Vec<usize>,
    /// Where to look for an image the atlas records elsewhere (the build form's folder).
    pub fallback_dirs: Vec<PathBuf>,
}

impl Selection {
    fn rows(&self) -> Vec<SelectedImage> {
        selected_images(&self.atlas, &self.images, &self.fallback_dirs)
    }
}

/// Progress of an atlas build, in plain data.
#[derive(Clone, Debug)]
pub enum AtlasBuildProgress {
    Stage { stage: Stage, done: usize, total: usize },
    Layout { epoch: usize, layout: Vec<f32> },
    Icons { level: u16, positions: Vec<[u16; 2]>, icons: Vec<Picture> },
}

/// A real patch behind a cell: picture, the image's label, its file.
#[derive(Clone, Debug)]
pub struct PatchPicture {
    pub picture: Picture,
    pub label: u16,
    pub path: PathBuf,
    /// The image's index in the atlas.
    pub image_index: u32,
}

impl Interactive {
    pub(super) fn atlas_job(&mut self, job: AtlasJob, reporter: &Reporter, cancel: &CancelToken) {
        let result = match job {
            AtlasJob::Load { path, quiet } => self.load_atlas(path, quiet, reporter),
            AtlasJob::LoadFirstFitting { paths } => self.load_first_fitting(paths, reporter),
            AtlasJob::Place { paths } => self.place_images(paths, reporter, cancel),
            AtlasJob::CellPatches { members, limit } => self.atlas().map(|atlas| {
                let found = cell_patches(atlas, &members, limit);
                let patches = found
                    .patches
                    .into_iter()
                    .map(|p| PatchPicture {
                        picture: Picture::from_rgb(&p.image),
                        label: p.label,
                        path: p.path,
                        image_index: p.image_index,
                    })
                    .collect();
                let real = crate::engine::atlas::patches::real_cell_pictures(atlas, &members);
                let (mean, typical) = (real.mean.as_ref().map(Picture::from_rgb), real.typical.as_ref().map(Picture::from_rgb));
                reporter.send(Event::Atlas(AtlasEvent::Patches { members, patches, missing: found.missing, mean, typical }));
            }),
            AtlasJob::RealLevelPictures { level } => self.atlas().and_then(|atlas| {
                let mut progress = |done, total| reporter.send(Event::Progress { done, total });
                let pictures =
                    crate::engine::atlas::patches::real_level_pictures(atlas, level, REAL_PICTURE_PX, &mut progress, cancel.flag())
                        .ok_or(JobError::Cancelled)?;
                let cells = pictures.iter().map(|(cell, _, _)| *cell).collect();
                let mean = pictures.iter().map(|(_, mean, _)| Picture::from_rgb(mean)).collect();
                let typical = pictures.iter().map(|(_, _, typical)| Picture::from_rgb(typical)).collect();
                reporter.send(Event::Atlas(AtlasEvent::RealLevelPictures { level, cells, mean, typical }));
                Ok(())
            }),
            AtlasJob::Export { options, names, placements, crop, path } => {
                self.export_atlas(&options, names, &placements, crop, path, reporter)
            }
            AtlasJob::CountImages { dir } => match crate::engine::data::count_images(&dir) {
                Ok((classes, images)) => {
                    reporter.send(Event::Atlas(AtlasEvent::ImagesCounted { dir, classes, images }));
                    Ok(())
                }
                Err(error) => Err(JobError::Dataset { message: error.to_string() }),
            },
            AtlasJob::SaveSelection { selection, path } => match save_selection(&path, &selection.rows()) {
                Ok(()) => {
                    reporter.send(Event::Atlas(AtlasEvent::SelectionSaved { path, count: selection.images.len() }));
                    Ok(())
                }
                Err(error) => Err(JobError::Write { path, message: error.to_string() }),
            },
            AtlasJob::Build(_) | AtlasJob::CopySelection { .. } => {
                Err(JobError::Atlas { message: "a long job was sent to the interactive worker".to_string() })
            }
        };
        if let Err(error) = result {
            reporter.fail(error);
        }
    }

    fn atlas(&self) -> Result<&Arc<Atlas>, JobError> {
        self.atlas.as_ref().ok_or(JobError::NoAtlas)
    }

    fn load_atlas(&mut self, path: PathBuf, quiet: bool, reporter: &Reporter) -> Result<(), JobError> {
        let fingerprint = self.model.as_ref().map(|m| m.fingerprint.clone());
        let atlas = match load_atlas(&path) {
            Ok(atlas) => atlas,
            Err(_) if quiet => return Ok(()),
            Err(error) => return Err(JobError::Atlas { message: error.to_string() }),
        };
        if Some(&atlas.meta.model_fingerprint) != fingerprint.as_ref() {
            return if quiet { Ok(()) } else { Err(JobError::AtlasOfOtherModel { path, model_path: atlas.meta.model_path.clone() }) };
        }
        let atlas = Arc::new(atlas);
        self.atlas = Some(atlas.clone());
        reporter.send(Event::Atlas(AtlasEvent::Loaded { atlas, path }));
        Ok(())
    }

    /// The first of `paths` that loads and belongs to the model in use becomes the atlas in use;
    /// the others are passed over in silence.
    fn load_first_fitting(&mut self, paths: Vec<PathBuf>, reporter: &Reporter) -> Result<(), JobError> {
        let Some(fingerprint) = self.model.as_ref().map(|m| m.fingerprint.clone()) else { return Ok(()) };
        for path in paths {
            if let Ok(atlas) = load_atlas(&path)
                && atlas.meta.model_fingerprint == fingerprint
            {
                let atlas = Arc::new(atlas);
                self.atlas = Some(atlas.clone());
                reporter.send(Event::Atlas(AtlasEvent::Loaded { atlas, path }));
                break;
            }
        }
        Ok(())
    }

    /// A built atlas becomes the one in use, if it still belongs to the model in use.
    pub(super) fn adopt_atlas(&mut self, atlas: Arc<Atlas>, path: PathBuf, reporter: &Reporter) {
        if self.model.as_ref().map(|m| &m.fingerprint) != Some(&atlas.meta.model_fingerprint) {
            reporter.fail(JobError::AtlasOfOtherModel { path, model_path: atlas.meta.model_path.clone() });
            return;
        }
        self.atlas = Some(atlas.clone());
        reporter.send(Event::Atlas(AtlasEvent::Loaded { atlas, path }));
    }

    /// Each picture is placed or reported on its own: one bad file does not stop the others.
    fn place_images(&mut self, paths: Vec<PathBuf>, reporter: &Reporter, cancel: &CancelToken) -> Result<(), JobError> {
        let model = self.model()?;
        let net = model.net.as_ref();
        let input_size = net.spec().input_size;
        let atlas = self.atlas()?;
        let total = paths.len();
        for (done, path) in paths.into_iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(JobError::Cancelled);
            }
            reporter.send(Event::Progress { done, total });
            match decode(&path) {
                Ok(image) => {
                    let placement = place_image(net, atlas, &to_network_image_sized(&image, input_size), PLACEMENT_NEIGHBOURS);
                    let thumbnail = Picture::from_rgba(image.thumbnail(PLACED_THUMBNAIL_PX, PLACED_THUMBNAIL_PX).to_rgba8());
                    reporter.send(Event::Atlas(AtlasEvent::Placed { path, placement, thumbnail }));
                }
                Err(error) => reporter.fail(error),
            }
        }
        Ok(())
    }

    fn export_atlas(
        &self,
        options: &ExportOptions,
        names: Option<Vec<String>>,
        placements: &[(Placement, Option<image::RgbImage>)],
        crop: Option<[f32; 4]>,
        path: PathBuf,
        reporter: &Reporter,
    ) -> Result<(), JobError> {
        let atlas = self.atlas()?;
        // Without a CJK font the picture is still written, only without names.
        let font = names.as_ref().and_then(|_| crate::resources::label_font());
        let labels = font.as_ref().zip(names.as_deref()).map(|(font, names)| Labels { font, names });
        let photos: Vec<PlacedPhoto> =
            placements.iter().map(|(placement, thumbnail)| PlacedPhoto { placement, thumbnail: thumbnail.as_ref() }).collect();
        let picture = export_picture(atlas, options, labels.as_ref(), &photos, crop).ok_or(JobError::NoGrid(options.grid))?;
        crate::engine::fsutil::write_png(&image::DynamicImage::ImageRgb8(picture), &path)
            .map_err(|error| JobError::Write { path: path.clone(), message: error.to_string() })?;
        reporter.send(Event::Atlas(AtlasEvent::Exported { path }));
        Ok(())
    }
}

/// An atlas build on its own thread. Returns false when the atlas was handed to the interactive
/// worker (which finishes the job), true when the job ended here.
pub(super) fn run_build(build: AtlasBuild, reporter: &Reporter, cancel: &CancelToken, interactive: &Sender<InteractiveMessage>) -> bool {
    let model = match load_network(&build.weights, default_device()) {
        Ok(model) => model,
        Err(error) => {
            reporter.fail(JobError::Checkpoint { path: build.weights, message: error.to_string() });
            return true;
        }
    };
    let side = model.net.spec().input_size;
    let Some(dataset) = super::train::open_stored_dataset(&build.data_dir, side, reporter, cancel) else { return true };
    let mut on_event = |event: BuildEvent| {
        let progress = match event {
            BuildEvent::Stage { stage, done, total } => {
                reporter.send(Event::Progress { done, total });
                AtlasBuildProgress::Stage { stage, done, total }
            }
            BuildEvent::Layout { epoch, layout } => AtlasBuildProgress::Layout { epoch, layout },
            BuildEvent::Neighbours(report) => {
                tracing::info!(method = %report.method, recall = report.recall, sampled = report.sampled, "atlas neighbour graph");
                return;
            }
            BuildEvent::Icons { level, positions, icons, .. } => {
                AtlasBuildProgress::Icons { level, positions, icons: icons.iter().map(Picture::from_rgb).collect() }
            }
        };
        reporter.send(Event::Atlas(AtlasEvent::Build(progress)));
    };
    let atlas = match build_atlas(&model, &dataset, &build.params, &mut on_event, cancel.flag()) {
        Ok(atlas) => atlas,
        Err(_) if cancel.is_cancelled() => {
            reporter.fail(JobError::Cancelled);
            return true;
        }
        Err(error) => {
            reporter.fail(JobError::Atlas { message: error.to_string() });
            return true;
        }
    };
    if let Some(dir) = build.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(error) = save_atlas(&atlas, &build.out) {
        // The atlas is still shown; only the file is missing.
        reporter.fail(JobError::Write { path: build.out.clone(), message: error.to_string() });
    }
    let message = InteractiveMessage::AdoptAtlas { reporter: reporter.clone(), atlas: Arc::new(atlas), path: build.out };
    // A closed channel means the window is closing: then the job ends here.
    interactive.send(message).is_err()
}

/// Copies a selection's files on a thread of its own (thousands of photos take a while).
pub(super) fn run_copy_selection(selection: Selection, dest: PathBuf, reporter: &Reporter, cancel: &CancelToken) -> bool {
    let rows = selection.rows();
    let progress = |done, total| reporter.send(Event::Progress { done, total });
    match copy_selection(&rows, &dest, progress, cancel.flag()) {
        Ok(_) if cancel.is_cancelled() => reporter.fail(JobError::Cancelled),
        Ok(report) => {
            let copied = report.copied.len();
            reporter.send(Event::Atlas(AtlasEvent::SelectionCopied { dest, copied, failed: report.failed }));
        }
        Err(error) => reporter.fail(JobError::Write { path: dest, message: error.to_string() }),
    }
    true
}
