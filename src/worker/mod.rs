//! The worker: one named thread that owns the model and does all tensor work, so the window never
//! waits. The app sends [`Job`]s and drains [`Event`]s; every event wakes the window through the
//! `wake` callback. A panic inside a job is caught, reported, and the model reloaded.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;

use image::{DynamicImage, RgbImage};

use crate::engine::checkpoint::{Checkpoint, CheckpointSummary, list_checkpoints, load_checkpoint};
use crate::engine::classify::classify_images;
use crate::engine::data::{Dataset, DatasetSummary, cache_dir, load_dataset};
use crate::engine::image_input::{ImageInputError, decode_image_file, to_network_image};
use crate::engine::model::{default_device, device_name};
use tch::Device;
use crate::engine::explain::{
    FeatureMaps, LayerSummary, MapNormalisation, VisConfig, VisObjective, all_feature_maps, filter_montage, grad_cam, model_summary,
    occlusion, paper_feature_map, saliency, smooth_grad, visualize,
};
use crate::engine::atlas::build::AtlasParams;
use crate::engine::atlas::export::{ExportOptions, Labels, draw_placements, render_atlas_labelled};
use crate::engine::atlas::{Atlas, BuildEvent, Placement, Stage, build_atlas, load_atlas, place_image, save_atlas};
use crate::engine::model::Layer;
use crate::engine::render::{grey_image, heat_layer};
use crate::engine::train::{TrainConfig, TrainEvent, TrainOutcome, train};

/// Longest side of the preview sent to the window; the network input is made from the full image.
pub const PREVIEW_MAX_SIDE: u32 = 1024;

/// Work for the worker thread.
#[derive(Debug)]
pub enum Job {
    /// Load a checkpoint and make it the current model.
    LoadModel { path: PathBuf },
    /// Decode an image file for display and classification.
    OpenImage { path: PathBuf },
    /// Classify a previously opened image with the current model.
    Classify { path: PathBuf },
    /// Read a data set folder and report its summary.
    ScanDataset { dir: PathBuf },
    /// Compute an explanation of the opened image `path` (or of the model alone).
    Explain { path: Option<PathBuf>, request: ExplainRequest },
    /// Load an atlas file (it must belong to the current model).
    LoadAtlas { path: PathBuf, quiet: bool },
    /// Build an atlas of the current model on a data set folder, then save it to `out`.
    BuildAtlas { data_dir: PathBuf, params: AtlasParams, out: PathBuf },
    /// Place image files on the current atlas.
    PlaceImages { paths: Vec<PathBuf> },
    /// Crops of the real images behind atlas vectors (up to `limit`), around their positions.
    CellPatches { members: Vec<u32>, limit: usize },
    /// Render the atlas (or the part `crop`: min x, min y, max x, max y in [0, 1]) as a PNG file,
    /// with `names` as class labels and legend when given, and `placements` marked.
    ExportAtlas { options: ExportOptions, names: Option<Vec<String>>, placements: Vec<Placement>, crop: Option<[f32; 4]>, path: PathBuf },
    /// Panics on the worker thread: tests use it to check that a crash is caught, reported and
    /// the model reloaded.
    #[doc(hidden)]
    SimulateCrash,
    /// List a run folder's checkpoints with their metrics.
    ListCheckpoints { dir: PathBuf },
    /// Train on a data set folder; progress arrives as `Event::Training`.
    Train { data_dir: PathBuf, config: TrainConfig, run_dir: PathBuf, resume: Option<PathBuf> },
}

/// What the current model is, in plain data for the window.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub name: String,
    pub class_names: Vec<String>,
    pub validation_accuracy: Option<f64>,
    pub epoch: u32,
    pub device: String,
    pub fingerprint: String,
}

/// Which explanation to compute. `class: None` means the predicted class.
#[derive(Clone, Debug, PartialEq)]
pub enum ExplainRequest {
    Summary,
    FeatureMaps { layer: Layer, normalisation: MapNormalisation },
    PaperMap,
    Filters { layer: Layer },
    Saliency { class: Option<usize>, smooth_samples: usize },
    GradCam { layer: Layer, class: Option<usize> },
    Occlusion { class: Option<usize>, patch: usize, stride: usize },
    Visualize { objective: VisObjective, config: VisConfig },
}

/// An explanation, ready to show.
#[derive(Clone, Debug, PartialEq)]
pub enum ExplainResult {
    Summary(Vec<LayerSummary>),
    /// A picture (feature-map grid, filters, the paper's map, a feature visualisation).
    Picture { picture: Picture, caption: String },
    /// A heat map (RGBA, alpha by strength) to lay over the picture as the network sees it.
    Heat { photo: Picture, heat: Picture, class: usize, caption: String, all_zero: bool },
}

/// Progress of an atlas build, in plain data.
#[derive(Clone, Debug)]
pub enum AtlasBuildProgress {
    Stage { stage: Stage, done: usize, total: usize },
    Layout { epoch: usize, layout: Vec<f32> },
    Icons { level: u16, positions: Vec<[u16; 2]>, icons: Vec<Picture> },
}

/// Side of the heat maps and photos sent for display.
pub const EXPLAIN_VIEW_SIZE: u32 = 400;

fn picture_of_rgb(image: &RgbImage) -> Picture {
    picture_of_rgba(image::DynamicImage::ImageRgb8(image.clone()).to_rgba8())
}

fn picture_of_rgba(image: image::RgbaImage) -> Picture {
    Picture { width: image.width() as usize, height: image.height() as usize, rgba: image.into_raw() }
}

/// A data set's summary with a few thumbnails per class, for the training panel.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetOverview {
    pub summary: DatasetSummary,
    /// Up to [`THUMBNAILS_PER_CLASS`] network-size pictures per class, in class order.
    pub thumbnails: Vec<Vec<Picture>>,
}

pub const THUMBNAILS_PER_CLASS: usize = 8;

fn overview(dataset: &Dataset) -> DatasetOverview {
    let mut thumbnails = vec![Vec::new(); dataset.class_names.len()];
    for (image, &label) in dataset.images.iter().zip(&dataset.labels) {
        if thumbnails[label].len() < THUMBNAILS_PER_CLASS {
            let rgba = image::DynamicImage::ImageRgb8(image.clone()).to_rgba8();
            thumbnails[label].push(Picture { width: rgba.width() as usize, height: rgba.height() as usize, rgba: rgba.into_raw() });
        }
    }
    DatasetOverview { summary: dataset.summary(), thumbnails }
}

/// An RGBA picture for display.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

/// Results and progress from the worker.
#[derive(Clone, Debug)]
pub enum Event {
    ModelLoaded(ModelInfo),
    ModelFailed { path: PathBuf, message: String },
    ImageOpened { path: PathBuf, picture: Picture, original_size: (u32, u32) },
    ImageFailed { path: PathBuf, message: String },
    /// Class probabilities for an opened image, in the model's class order.
    Classified { path: PathBuf, probabilities: Vec<f32>, model_fingerprint: String },
    DatasetScanned(DatasetOverview),
    CheckpointsListed { dir: PathBuf, checkpoints: Vec<CheckpointSummary> },
    Explained { request: ExplainRequest, result: ExplainResult },
    AtlasLoaded { atlas: Arc<Atlas>, path: PathBuf },
    AtlasBuild(AtlasBuildProgress),
    Placed { path: PathBuf, placement: Placement, thumbnail: Picture },
    /// Patches behind a cell: (picture, label, source file) each.
    Patches { members: Vec<u32>, patches: Vec<(Picture, u16, PathBuf)> },
    Exported { path: PathBuf },
    /// Occlusion progress: patches done of total.
    ExplainProgress { done: usize, total: usize },
    /// Feature visualisation progress; `preview` every few steps.
    VisualizeStep { step: usize, steps: usize, value: f32, preview: Option<Picture> },
    /// Reading a data set: files decoded so far.
    DatasetProgress { done: usize, total: usize },
    Training(TrainEvent),
    TrainingEnded { outcome: TrainOutcome },
    /// A job that failed; `job` says which kind, `message` why.
    JobFailed { job: &'static str, message: String },
    /// A job panicked; the worker recovered and reloaded the model.
    WorkerRecovered { message: String },
    /// Nothing to do now.
    Idle,
}

/// The window's handle on the worker thread.
pub struct Worker {
    jobs: Option<Sender<Job>>,
    events: Receiver<Event>,
    cancel: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker thread. `wake` is called after every event (the app passes
    /// `ctx.request_repaint`).
    pub fn spawn(wake: impl Fn() + Send + 'static) -> Worker {
        let (job_sender, job_receiver) = mpsc::channel::<Job>();
        let (event_sender, event_receiver) = mpsc::channel::<Event>();
        let cancel = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(AtomicBool::new(false));
        let state = WorkerState {
            events: event_sender,
            wake: Box::new(wake),
            cancel: cancel.clone(),
            busy: busy.clone(),
            device: default_device(),
            model: None,
            opened: HashMap::new(),
            atlas: None,
        };
        let thread = std::thread::Builder::new()
            .name("activation-atlas-worker".to_string())
            .spawn(move || state.run(job_receiver))
            .expect("the OS can start a thread");
        Worker { jobs: Some(job_sender), events: event_receiver, cancel, busy, thread: Some(thread) }
    }

    /// Queues a job. A new job clears an earlier cancel request.
    pub fn send(&self, job: Job) {
        self.cancel.store(false, Ordering::Relaxed);
        if let Some(jobs) = &self.jobs {
            // The worker outlives the window's use of it, so a closed channel only happens on exit.
            let _ = jobs.send(job);
        }
    }

    /// Asks the running job to stop at its next check (training: before the next batch).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// True while a job runs.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    /// The next event, if any.
    pub fn try_recv(&self) -> Option<Event> {
        match self.events.try_recv() {
            Ok(event) => Some(event),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => None,
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel();
        self.jobs = None; // closes the channel: the thread ends after its current job
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An opened image: the network's input, kept so "classify" needs no second decode.
struct OpenedImage {
    network_input: RgbImage,
}

struct WorkerState {
    events: Sender<Event>,
    wake: Box<dyn Fn() + Send>,
    cancel: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    device: Device,
    model: Option<Checkpoint>,
    opened: HashMap<PathBuf, OpenedImage>,
    atlas: Option<Arc<Atlas>>,
}

impl WorkerState {
    fn run(mut self, jobs: Receiver<Job>) {
        while let Ok(job) = jobs.recv() {
            self.busy.store(true, Ordering::Relaxed);
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| self.handle(job)));
            if let Err(panic) = result {
                let message = panic_message(&panic);
                self.recover_after_panic(message);
            }
            self.busy.store(false, Ordering::Relaxed);
            self.emit(Event::Idle);
        }
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
        (self.wake)();
    }

    fn recover_after_panic(&mut self, message: String) {
        // The model may be half-updated; reload it from its file.
        let reload = self.model.take().map(|model| model.path);
        self.emit(Event::WorkerRecovered { message });
        if let Some(path) = reload {
            self.load_model(&path);
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::LoadModel { path } => self.load_model(&path),
            Job::OpenImage { path } => {
                let decoded = decode_image_file(&path);
                self.open_image(path, decoded);
            }
            Job::Classify { path } => self.classify(path),
            Job::ScanDataset { dir } => {
                let events = self.events.clone();
                let progress = move |done, total| {
                    if done % 25 == 0 || done == total {
                        let _ = events.send(Event::DatasetProgress { done, total });
                    }
                };
                match load_dataset(&dir, Some(&cache_dir()), &progress, &self.cancel) {
                    Ok(dataset) => self.emit(Event::DatasetScanned(overview(&dataset))),
                    Err(error) => self.emit(Event::JobFailed { job: "dataset", message: error.to_string() }),
                }
            }
            Job::Explain { path, request } => self.explain(path, request),
            Job::SimulateCrash => panic!("simulated crash in the worker"),
            Job::LoadAtlas { path, quiet } => self.load_atlas(&path, quiet),
            Job::BuildAtlas { data_dir, params, out } => self.build_atlas(data_dir, params, out),
            Job::PlaceImages { paths } => self.place_images(paths),
            Job::CellPatches { members, limit } => self.cell_patches(members, limit),
            Job::ExportAtlas { options, names, placements, crop, path } => self.export_atlas(options, names, &placements, crop, path),
            Job::ListCheckpoints { dir } => {
                let checkpoints = list_checkpoints(&dir);
                self.emit(Event::CheckpointsListed { dir, checkpoints });
            }
            Job::Train { data_dir, config, run_dir, resume } => self.train(data_dir, config, run_dir, resume),
        }
    }

    fn load_model(&mut self, path: &Path) {
        match load_checkpoint(path, self.device) {
            Ok(checkpoint) => {
                let info = model_info(&checkpoint, self.device);
                // An atlas is only meaningful for the model it was built from.
                if self.atlas.as_ref().is_some_and(|a| a.meta.model_fingerprint != checkpoint.fingerprint) {
                    self.atlas = None;
                }
                self.model = Some(checkpoint);
                self.emit(Event::ModelLoaded(info));
            }
            Err(error) => self.emit(Event::ModelFailed { path: path.to_path_buf(), message: error.to_string() }),
        }
    }

    fn open_image(&mut self, path: PathBuf, decoded: Result<DynamicImage, ImageInputError>) {
        match decoded {
            Ok(image) => {
                let original_size = (image.width(), image.height());
                let network_input = to_network_image(&image);
                let preview = image.thumbnail(PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE).to_rgba8();
                let picture = Picture {
                    width: preview.width() as usize,
                    height: preview.height() as usize,
                    rgba: preview.into_raw(),
                };
                self.opened.clear(); // keep memory flat: only the current picture is needed
                self.opened.insert(path.clone(), OpenedImage { network_input });
                self.emit(Event::ImageOpened { path, picture, original_size });
            }
            Err(error) => self.emit(Event::ImageFailed { path, message: error.to_string() }),
        }
    }

    fn classify(&mut self, path: PathBuf) {
        let Some(model) = &self.model else {
            self.emit(Event::JobFailed { job: "classify", message: "no model is loaded".to_string() });
            return;
        };
        if !self.opened.contains_key(&path) {
            match decode_image_file(&path) {
                Ok(image) => {
                    self.opened.insert(path.clone(), OpenedImage { network_input: to_network_image(&image) });
                }
                Err(error) => {
                    self.emit(Event::ImageFailed { path, message: error.to_string() });
                    return;
                }
            }
        }
        let input = &self.opened[&path].network_input;
        let prediction = classify_images(&model.net, std::slice::from_ref(input)).remove(0);
        let model_fingerprint = model.fingerprint.clone();
        self.emit(Event::Classified { path, probabilities: prediction.probabilities, model_fingerprint });
    }

    /// Loads a data set for `job`, with progress events; a failure is reported as that job's.
    fn load_dataset_for(&self, job: &'static str, data_dir: &Path) -> Option<Dataset> {
        let events = self.events.clone();
        let progress = move |done, total| {
            if done % 25 == 0 || done == total {
                let _ = events.send(Event::DatasetProgress { done, total });
            }
        };
        match load_dataset(data_dir, Some(&cache_dir()), &progress, &self.cancel) {
            Ok(dataset) => Some(dataset),
            Err(error) => {
                self.emit(Event::JobFailed { job, message: error.to_string() });
                None
            }
        }
    }

    fn train(&mut self, data_dir: PathBuf, config: TrainConfig, run_dir: PathBuf, resume: Option<PathBuf>) {
        let Some(dataset) = self.load_dataset_for("train", &data_dir) else { return };
        self.emit(Event::DatasetScanned(overview(&dataset)));
        let events = self.events.clone();
        let wake = &self.wake;
        let mut on_event = |event: TrainEvent| {
            let _ = events.send(Event::Training(event));
            wake();
        };
        let result = train(&dataset, &config, &run_dir, resume.as_deref(), self.device, &self.cancel, &mut on_event);
        match result {
            Ok(outcome) => self.emit(Event::TrainingEnded { outcome }),
            Err(error) => self.emit(Event::JobFailed { job: "train", message: error.to_string() }),
        }
    }
}

impl WorkerState {
    /// `quiet`: a default atlas offered at start; if it does not fit, say nothing.
    fn load_atlas(&mut self, path: &Path, quiet: bool) {
        let fingerprint = self.model.as_ref().map(|m| m.fingerprint.clone());
        match load_atlas(path) {
            Ok(atlas) if Some(&atlas.meta.model_fingerprint) != fingerprint.as_ref() && quiet => {}
            Err(_) if quiet => {}
            Ok(atlas) if Some(&atlas.meta.model_fingerprint) != fingerprint.as_ref() => self.emit(Event::JobFailed {
                job: "atlas",
                message: format!("{} was built from another model ({}); load that model first", path.display(), atlas.meta.model_path.display()),
            }),
            Ok(atlas) => {
                let atlas = Arc::new(atlas);
                self.atlas = Some(atlas.clone());
                self.emit(Event::AtlasLoaded { atlas, path: path.to_path_buf() });
            }
            Err(error) => self.emit(Event::JobFailed { job: "atlas", message: error.to_string() }),
        }
    }

    fn build_atlas(&mut self, data_dir: PathBuf, params: AtlasParams, out: PathBuf) {
        let Some(model) = &self.model else {
            self.emit(Event::JobFailed { job: "atlas", message: "no model is loaded".to_string() });
            return;
        };
        let Some(dataset) = self.load_dataset_for("atlas", &data_dir) else { return };
        let events = self.events.clone();
        let wake = &self.wake;
        let mut on_event = |event: BuildEvent| {
            let progress = match event {
                BuildEvent::Stage { stage, done, total } => AtlasBuildProgress::Stage { stage, done, total },
                BuildEvent::Layout { epoch, layout } => AtlasBuildProgress::Layout { epoch, layout },
                BuildEvent::Icons { level, positions, icons, .. } => {
                    AtlasBuildProgress::Icons { level, positions, icons: icons.iter().map(picture_of_rgb).collect() }
                }
            };
            let _ = events.send(Event::AtlasBuild(progress));
            wake();
        };
        match build_atlas(model, &dataset, &params, &mut on_event, &self.cancel) {
            Ok(atlas) => {
                if let Some(dir) = out.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                if let Err(error) = save_atlas(&atlas, &out) {
                    self.emit(Event::JobFailed { job: "atlas", message: error.to_string() });
                }
                let atlas = Arc::new(atlas);
                self.atlas = Some(atlas.clone());
                self.emit(Event::AtlasLoaded { atlas, path: out });
            }
            Err(error) => self.emit(Event::JobFailed { job: "atlas", message: error.to_string() }),
        }
    }

    fn place_images(&mut self, paths: Vec<PathBuf>) {
        let (Some(model), Some(atlas)) = (&self.model, &self.atlas) else {
            self.emit(Event::JobFailed { job: "atlas", message: "load an atlas first".to_string() });
            return;
        };
        for path in paths {
            match decode_image_file(&path) {
                Ok(image) => {
                    let input = to_network_image(&image);
                    let placement = place_image(&model.net, atlas, &input, 5);
                    let thumbnail = picture_of_rgba(image.thumbnail(96, 96).to_rgba8());
                    self.emit(Event::Placed { path, placement, thumbnail });
                }
                Err(error) => self.emit(Event::ImageFailed { path, message: error.to_string() }),
            }
        }
    }

    fn cell_patches(&mut self, members: Vec<u32>, limit: usize) {
        let Some(atlas) = &self.atlas else { return };
        let side = crate::engine::model::layer_output_shape(atlas.collected.layer, 1)[1] as f32;
        let patch = (crate::engine::atlas::icons::icon_size(atlas.collected.layer) as u32).max(16);
        let mut patches = Vec::new();
        let mut decoded: HashMap<u32, Option<RgbImage>> = HashMap::new();
        for &member in members.iter().take(limit) {
            let m = member as usize;
            let image_index = atlas.collected.image[m];
            let Some(path) = atlas.meta.image_paths.get(image_index as usize) else { continue };
            let image = decoded.entry(image_index).or_insert_with(|| decode_image_file(path).ok().map(|i| to_network_image(&i)));
            let Some(image) = image else { continue };
            // The vector's receptive field centre in the 100 x 100 input, cropped and enlarged.
            let [x, y] = atlas.collected.position[m];
            let scale = 100.0 / side;
            let (cx, cy) = ((f32::from(x) + 0.5) * scale, (f32::from(y) + 0.5) * scale);
            let left = (cx - patch as f32 / 2.0).clamp(0.0, (100 - patch) as f32) as u32;
            let top = (cy - patch as f32 / 2.0).clamp(0.0, (100 - patch) as f32) as u32;
            let crop = image::imageops::crop_imm(image, left, top, patch, patch).to_image();
            let crop = image::imageops::resize(&crop, 72, 72, image::imageops::FilterType::Nearest);
            patches.push((picture_of_rgb(&crop), atlas.collected.label[m], path.clone()));
        }
        self.emit(Event::Patches { members, patches });
    }

    /// `crop` (min x, min y, max x, max y in [0, 1]): export only that part, at `options.size_px`.
    fn export_atlas(&mut self, options: ExportOptions, names: Option<Vec<String>>, placements: &[Placement], crop: Option<[f32; 4]>, path: PathBuf) {
        let Some(atlas) = &self.atlas else { return };
        // Without a CJK font the picture is still written, only without names.
        let font = names
            .as_ref()
            .and_then(|_| crate::resources::find_cjk_font())
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| ab_glyph::FontVec::try_from_vec_and_index(bytes, 0).ok());
        let labels = font.as_ref().zip(names.as_deref()).map(|(font, names)| Labels { font, names });
        // For a part, render the whole at the resolution the part needs (at most 8192 px), then cut.
        let whole_size = match crop {
            Some([x0, y0, x1, y1]) => ((options.size_px as f32 / (x1 - x0).max(y1 - y0).max(1e-3)) as u32).clamp(options.size_px, 8192),
            None => options.size_px,
        };
        let Some(mut picture) = render_atlas_labelled(atlas, &ExportOptions { size_px: whole_size, ..options }, labels.as_ref()) else {
            self.emit(Event::JobFailed { job: "atlas", message: format!("the atlas has no {} grid", options.grid) });
            return;
        };
        let placements: Vec<&Placement> = placements.iter().collect();
        draw_placements(&mut picture, &placements, atlas.meta.class_names.len());
        if let Some([x0, y0, x1, y1]) = crop {
            let side = whole_size as f32;
            let (left, top) = ((x0.clamp(0.0, 1.0) * side) as u32, (y0.clamp(0.0, 1.0) * side) as u32);
            let (w, h) = (((x1 - x0).clamp(0.0, 1.0) * side).max(1.0) as u32, ((y1 - y0).clamp(0.0, 1.0) * side).max(1.0) as u32);
            let part = image::imageops::crop_imm(&picture, left, top, w.min(whole_size - left), h.min(whole_size - top)).to_image();
            let scale = options.size_px as f32 / part.width().max(part.height()) as f32;
            picture = image::imageops::resize(&part, ((part.width() as f32 * scale) as u32).max(1), ((part.height() as f32 * scale) as u32).max(1), image::imageops::FilterType::Triangle);
        }
        let mut bytes = Vec::new();
        let written = picture
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .map_err(|e| e.to_string())
            .and_then(|()| crate::engine::fsutil::write_atomically(&path, &bytes).map_err(|e| e.to_string()));
        match written {
            Ok(()) => self.emit(Event::Exported { path }),
            Err(message) => self.emit(Event::JobFailed { job: "atlas", message: format!("{}: {message}", path.display()) }),
        }
    }

    fn explain(&mut self, path: Option<PathBuf>, request: ExplainRequest) {
        let Some(model) = &self.model else {
            self.emit(Event::JobFailed { job: "explain", message: "no model is loaded".to_string() });
            return;
        };
        let net = &model.net;
        let image = path.as_ref().and_then(|p| self.opened.get(p)).map(|opened| opened.network_input.clone());
        let needs_image = !matches!(request, ExplainRequest::Summary | ExplainRequest::Filters { .. } | ExplainRequest::Visualize { .. });
        let Some(image) = image.or_else(|| (!needs_image).then(|| RgbImage::new(1, 1))) else {
            self.emit(Event::JobFailed { job: "explain", message: "open a picture first".to_string() });
            return;
        };
        let predicted = || classify_images(net, std::slice::from_ref(&image))[0].best().0;
        let size = EXPLAIN_VIEW_SIZE;
        let photo = || picture_of_rgb(&image::imageops::resize(&image, size, size, image::imageops::FilterType::Triangle));
        let class_name = |class: usize| model.meta.class_names.get(class).cloned().unwrap_or_default();
        let result = match &request {
            ExplainRequest::Summary => Some(ExplainResult::Summary(model_summary(model.meta.class_names.len()))),
            ExplainRequest::FeatureMaps { layer, normalisation } => {
                let maps = all_feature_maps(net, &image);
                let global = maps.iter().map(FeatureMaps::range).fold((f32::INFINITY, f32::NEG_INFINITY), |a, b| (a.0.min(b.0), a.1.max(b.1)));
                let montage = maps[layer.index()].montage(*normalisation, global);
                Some(ExplainResult::Picture { picture: picture_of_rgb(&montage), caption: format!("{layer}: {} channels", maps[layer.index()].channels) })
            }
            ExplainRequest::PaperMap => {
                let maps = all_feature_maps(net, &image);
                let (channel, map) = paper_feature_map(&maps[Layer::Conv2.index()]);
                Some(ExplainResult::Picture { picture: picture_of_rgb(&grey_image(&map, 16)), caption: format!("conv2 channel {channel}") })
            }
            ExplainRequest::Filters { layer } => filter_montage(net, *layer)
                .map(|montage| ExplainResult::Picture { picture: picture_of_rgb(&montage), caption: format!("{layer}") }),
            ExplainRequest::Saliency { class, smooth_samples } => {
                let class = class.unwrap_or_else(predicted);
                let map = if *smooth_samples > 1 { smooth_grad(net, &image, class, *smooth_samples, 0.15, 0) } else { saliency(net, &image, class) };
                let heat = picture_of_rgba(heat_layer(&map.scaled_to_quantile(0.99), size));
                Some(ExplainResult::Heat { photo: photo(), heat, class, caption: class_name(class), all_zero: map.max() <= 0.0 })
            }
            ExplainRequest::GradCam { layer, class } => {
                let class = class.unwrap_or_else(predicted);
                let cam = grad_cam(net, &image, *layer, class);
                let heat = picture_of_rgba(heat_layer(&cam.upsampled, size));
                Some(ExplainResult::Heat { photo: photo(), heat, class, caption: format!("{layer} · {}", class_name(class)), all_zero: cam.all_zero })
            }
            ExplainRequest::Occlusion { class, patch, stride } => {
                let class = class.unwrap_or_else(predicted);
                let events = self.events.clone();
                let wake = &self.wake;
                let mut progress = |done, total| {
                    let _ = events.send(Event::ExplainProgress { done, total });
                    wake();
                };
                occlusion(net, &image, class, *patch, *stride, &mut progress, &self.cancel).map(|result| {
                    let largest = result.per_pixel.max().max(f32::EPSILON);
                    let mut map = result.per_pixel.clone();
                    map.values.iter_mut().for_each(|v| *v = (*v / largest).max(0.0));
                    let caption = format!("{} · p = {:.3}", class_name(class), result.base_probability);
                    ExplainResult::Heat { photo: photo(), heat: picture_of_rgba(heat_layer(&map, size)), class, caption, all_zero: result.per_pixel.max() <= 0.0 }
                })
            }
            ExplainRequest::Visualize { objective, config } => {
                let events = self.events.clone();
                let wake = &self.wake;
                let cancel = &self.cancel;
                let steps = config.steps;
                let mut on_step = |step, value, preview: Option<RgbImage>| {
                    let preview = preview.map(|p| picture_of_rgb(&p));
                    let _ = events.send(Event::VisualizeStep { step, steps, value, preview });
                    wake();
                    !cancel.load(Ordering::Relaxed)
                };
                let (picture, _) = visualize(net, *objective, config, 8, &mut on_step);
                (!self.cancel.load(Ordering::Relaxed)).then(|| ExplainResult::Picture { picture: picture_of_rgb(&picture), caption: String::new() })
            }
        };
        match result {
            Some(result) => self.emit(Event::Explained { request, result }),
            None if self.cancel.load(Ordering::Relaxed) => self.emit(Event::JobFailed { job: "explain", message: "cancelled".to_string() }),
            None => self.emit(Event::JobFailed { job: "explain", message: "this layer has nothing to show for that view".to_string() }),
        }
    }
}

fn model_info(checkpoint: &Checkpoint, device: Device) -> ModelInfo {
    let name = checkpoint
        .path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".to_string());
    ModelInfo {
        path: checkpoint.path.clone(),
        name,
        class_names: checkpoint.meta.class_names.clone(),
        validation_accuracy: checkpoint.meta.validation_accuracy(),
        epoch: checkpoint.meta.epoch,
        device: device_name(device),
        fingerprint: checkpoint.fingerprint.clone(),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

