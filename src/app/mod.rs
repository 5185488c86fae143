//! The window (egui). It only sees plain data from the worker (`Vec<f32>`, RGBA pictures,
//! numbers) and never touches tensors. Panels: 分类 (classify), 训练 (train), 解释 (explain),
//! 地图集 (atlas).

pub mod atlas_panel;
mod classify_panel;
pub mod explain_panel;
mod train_panel;
pub mod dialogs;
pub mod fonts;
pub mod i18n;

use std::path::{Path, PathBuf};

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::descriptions::{DescriptionSet, find_matching};
use crate::resources;
use crate::worker::{Event, Job, ModelInfo, Worker};
pub use classify_panel::percent;
use classify_panel::ClassifyPanel;
use atlas_panel::AtlasPanel;
use explain_panel::ExplainPanel;
use train_panel::TrainPanel;
use dialogs::{DialogKind, Dialogs, Picker};
use i18n::{Lang, T};

/// Identifies the app's settings folder and window.
pub const APP_ID: &str = "activation-atlas";

/// What persists between runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub lang: Lang,
    pub last_model: Option<PathBuf>,
    pub last_image_dir: Option<PathBuf>,
    pub last_data_dir: Option<PathBuf>,
    /// A description file the user chose (or saved edits to).
    pub description_file: Option<PathBuf>,
    pub last_atlas: Option<PathBuf>,
}

const SETTINGS_KEY: &str = "settings";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Classify,
    Train,
    Explain,
    Atlas,
}

/// The model as the window knows it.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelStatus {
    None,
    Loading(PathBuf),
    Ready(ModelInfo),
}

/// How the app starts: the real dialogs and saved settings, or test doubles.
pub struct AppOptions {
    pub picker: Picker,
    /// Model to load at start; None loads the last used one, else the shipped model.
    pub model: Option<PathBuf>,
    /// Read and write settings (off in tests so they do not touch the user's).
    pub persist: bool,
    /// A picture to open at start (from the command line or a file manager's "Open with").
    pub image: Option<PathBuf>,
    /// A data set folder to open in the training panel at start.
    pub data_dir: Option<PathBuf>,
    /// Where new training runs are written (default `~/.local/share/activation-atlas/runs`).
    pub run_root: Option<PathBuf>,
    /// An atlas to show at start instead of the last used (or shipped) one.
    pub atlas: Option<PathBuf>,
    /// Pictures to place on the atlas once it is loaded; the app starts on the 地图集 tab.
    pub place: Vec<PathBuf>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions { picker: dialogs::native_picker(), model: None, persist: true, image: None, data_dir: None, run_root: None, atlas: None, place: Vec::new() }
    }
}

pub struct AtlasApp {
    pub settings: Settings,
    persist: bool,
    worker: Worker,
    dialogs: Dialogs,
    pub tab: Tab,
    pub model: ModelStatus,
    /// Red message naming the file and the reason; stays until dismissed or replaced.
    pub error: Option<String>,
    /// Neutral message (e.g. "no file chosen").
    pub notice: Option<String>,
    pub descriptions: Option<DescriptionSet>,
    pub classify: ClassifyPanel,
    pub train: TrainPanel,
    pub explain: ExplainPanel,
    pub atlas: AtlasPanel,
    run_root: PathBuf,
    /// Sibling checkpoints of the current model (a training run's folder).
    run_checkpoints: Vec<PathBuf>,
    pub cjk_font_found: bool,
    /// The atlas asked for at start, loaded once the model is ready.
    start_atlas: Option<PathBuf>,
    /// Pictures to place once an atlas is loaded.
    pending_placements: Vec<PathBuf>,
    /// The model in use while another loads: the worker keeps it if the new one is refused.
    model_before_load: Option<ModelInfo>,
}

/// Opens the window and runs until it is closed. `start` says what to show first (picture, data set, atlas, placed pictures).
pub fn run_app(start: AppOptions) -> anyhow::Result<()> {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("激活地图集 Activation Atlas")
        .with_app_id(APP_ID)
        .with_inner_size([1100.0, 760.0])
        .with_min_inner_size([720.0, 480.0]);
    if let Some(icon) = load_icon() {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions { viewport, persist_window: true, ..Default::default() };
    eframe::run_native(APP_ID, options, Box::new(|cc| Ok(Box::new(AtlasApp::new(cc, start)))))
        .map_err(|error| anyhow::anyhow!("cannot open the window: {error}"))
}

fn load_icon() -> Option<egui::IconData> {
    let path = resources::find_resource(Path::new("assets/icon.png"))?;
    let image = image::open(path).ok()?.to_rgba8();
    Some(egui::IconData { width: image.width(), height: image.height(), rgba: image.into_raw() })
}

impl AtlasApp {
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> AtlasApp {
        let settings: Settings = if options.persist {
            cc.storage.and_then(|storage| eframe::get_value(storage, SETTINGS_KEY)).unwrap_or_default()
        } else {
            Settings::default()
        };
        let cjk_font_found = fonts::install_cjk_font(&cc.egui_ctx);
        let ctx = cc.egui_ctx.clone();
        let worker = Worker::spawn(move || ctx.request_repaint());
        let mut app = AtlasApp {
            settings,
            persist: options.persist,
            worker,
            dialogs: Dialogs::new(options.picker),
            tab: Tab::Classify,
            model: ModelStatus::None,
            error: None,
            notice: None,
            descriptions: None,
            classify: ClassifyPanel::default(),
            train: TrainPanel::default(),
            explain: ExplainPanel::default(),
            atlas: AtlasPanel::default(),
            run_root: options.run_root.unwrap_or_else(|| classify_panel::user_data_dir().join("runs")),
            run_checkpoints: Vec::new(),
            cjk_font_found,
            start_atlas: options.atlas,
            pending_placements: options.place,
            model_before_load: None,
        };
        if !cjk_font_found {
            // Without a CJK font Chinese would be boxes: start in English and say why.
            app.settings.lang = Lang::En;
            app.notice = Some("No Chinese font found on this system; showing English. Run scripts/setup.sh or install fonts-wqy-microhei.".to_string());
        }
        let model = options
            .model
            .or_else(|| app.settings.last_model.clone().filter(|path| path.exists()))
            .or_else(resources::shipped_model);
        match model {
            Some(path) => app.load_model(path),
            None => app.error = Some("The shipped model weights/flowers17.safetensors is missing.".to_string()),
        }
        if let Some(image) = options.image {
            app.open_image(image);
        }
        if let Some(dir) = options.data_dir {
            app.tab = Tab::Train;
            app.choose_data_folder(dir);
        }
        if app.start_atlas.is_some() || !app.pending_placements.is_empty() {
            app.tab = Tab::Atlas;
        }
        app
    }

    /// Makes the worker panic, to check that the app reports it and carries on.
    #[doc(hidden)]
    pub fn simulate_worker_crash(&self) {
        self.worker.send(Job::SimulateCrash);
    }

    /// Where new training runs go; new atlases go beside it.
    pub fn run_root(&self) -> &Path {
        &self.run_root
    }

    pub fn lang(&self) -> Lang {
        self.settings.lang
    }

    pub fn t(&self, text: T) -> &'static str {
        text.get(self.settings.lang)
    }

    pub fn load_model(&mut self, path: PathBuf) {
        let path = std::path::absolute(&path).unwrap_or(path);
        if let ModelStatus::Ready(info) = &self.model {
            self.model_before_load = Some(info.clone());
        }
        self.model = ModelStatus::Loading(path.clone());
        self.worker.send(Job::LoadModel { path });
    }

    /// Opens an image file in the classify panel (from the dialog, a drop, or a test).
    pub fn open_image(&mut self, path: PathBuf) {
        // Remembered between runs, so keep it valid from any working directory.
        let path = std::path::absolute(&path).unwrap_or(path);
        self.tab = Tab::Classify;
        self.error = None;
        self.notice = None;
        if let Some(dir) = path.parent() {
            self.settings.last_image_dir = Some(dir.to_path_buf());
        }
        self.classify.begin_open(path.clone());
        self.worker.send(Job::OpenImage { path });
    }

    /// Runs the classifier on the open image.
    pub fn verify(&mut self) {
        let Some(path) = self.classify.image_path.clone() else { return };
        if !matches!(self.model, ModelStatus::Ready(_)) {
            self.notice = Some(self.t(T::ModelNotReady).to_string());
            return;
        }
        self.classify.begin_verify();
        self.worker.send(Job::Classify { path });
    }

    pub fn worker_busy(&self) -> bool {
        self.worker.is_busy()
    }

    /// Asks the running job to stop (training stops before its next batch).
    pub fn cancel_job(&self) {
        self.worker.cancel();
    }

    /// Handles everything the worker has sent, within a small time budget per frame.
    fn drain_worker_events(&mut self, ctx: &egui::Context) {
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_millis(8) {
            let Some(event) = self.worker.try_recv() else { break };
            self.handle_event(ctx, event);
        }
    }

    fn handle_event(&mut self, ctx: &egui::Context, event: Event) {
        let lang = self.lang();
        match event {
            Event::ModelLoaded(info) => {
                self.model_before_load = None;
                self.settings.last_model = Some(info.path.clone());
                self.run_checkpoints = list_run_checkpoints(&info.path);
                self.pick_descriptions(&info.class_names);
                self.classify.model_changed();
                self.explain.clear();
                self.offer_atlas(&info.fingerprint);
                self.model = ModelStatus::Ready(info);
            }
            Event::ModelFailed { message, .. } => {
                self.error = Some(i18n::model_failed(lang, &message));
                // The worker still has the previous model, if there was one: keep using it.
                self.model = self.model_before_load.take().map_or(ModelStatus::None, ModelStatus::Ready);
            }
            Event::ImageOpened { path, picture, original_size } => {
                self.explain.clear();
                self.classify.opened(ctx, path, picture, original_size);
            }
            Event::ImageFailed { path, message } => {
                self.classify.failed(&path);
                self.error = Some(i18n::image_failed(lang, &message));
            }
            Event::Classified { path, probabilities, model_fingerprint } => {
                // Feature visualisation starts from the class the picture was given.
                if let Some((best, _)) = probabilities.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) {
                    self.explain.vis_class = best;
                }
                self.classify.classified(path, probabilities, model_fingerprint);
            }
            Event::JobFailed { message, .. } => {
                self.atlas.building = None;
                self.train.running = false;
                self.explain.running = None;
                self.train.scanning = None;
                self.error = Some(i18n::job_failed(lang, &message));
            }
            Event::WorkerRecovered { message } => {
                self.atlas.building = None;
                self.train.scanning = None;
                self.classify.verifying = false;
                self.train.running = false;
                self.explain.running = None;
                self.error = Some(i18n::worker_recovered(lang, &message));
            }
            Event::DatasetScanned(overview) => self.train.overview_received(ctx, overview),
            Event::DatasetProgress { done, total } => self.train.scanning = Some((done, total)),
            Event::Training(event) => self.train.training_event(event),
            Event::TrainingEnded { outcome } => {
                self.train.ended(lang, &outcome);
                self.list_run_checkpoints();
            }
            Event::CheckpointsListed { dir, checkpoints } => {
                if self.train.run_dir.as_ref() == Some(&dir) {
                    self.train.checkpoints = checkpoints;
                }
            }
            Event::Explained { request, result } => {
                let names = match &self.model {
                    ModelStatus::Ready(info) => info.class_names.iter().map(|id| self.class_display_names(id).0).collect(),
                    _ => Vec::new(),
                };
                self.explain.received(ctx, &request, result, |class| names.get(class).cloned().unwrap_or_default());
            }
            Event::ExplainProgress { done, total } => self.explain.progress = Some((done, total)),
            Event::VisualizeStep { step, steps, value, preview } => self.explain.visualize_step(ctx, step, steps, value, preview),
            Event::AtlasLoaded { atlas, path } => {
                self.settings.last_atlas = Some(path.clone());
                self.atlas.loaded(ctx, atlas, path);
                if !self.pending_placements.is_empty() {
                    let paths = std::mem::take(&mut self.pending_placements);
                    self.place_on_atlas(paths);
                }
            }
            Event::AtlasBuild(progress) => self.atlas.build_progress(ctx, progress),
            Event::Placed { path, placement, thumbnail } => self.atlas.placed(ctx, path, placement, thumbnail),
            Event::Patches { patches, .. } => self.atlas.patches_received(ctx, patches),
            Event::Exported { path } => self.notice = Some(format!("{} {}", T::Saved.get(lang), path.display())),
            Event::Idle => {}
        }
    }

    /// When a model is ready: an atlas of another model is put away (the worker drops it too),
    /// and if none is shown the last atlas, else the shipped one, is loaded quietly (skipped if it
    /// belongs to another model).
    fn offer_atlas(&mut self, model_fingerprint: &str) {
        if let Some(atlas) = &self.atlas.atlas {
            if atlas.meta.model_fingerprint == model_fingerprint {
                return;
            }
            let form = std::mem::take(&mut self.atlas.form);
            self.atlas = AtlasPanel::default();
            self.atlas.form = form;
        }
        if let Some(path) = self.start_atlas.take() {
            self.worker.send(Job::LoadAtlas { path, quiet: false });
            return;
        }
        let candidate = self
            .settings
            .last_atlas
            .clone()
            .filter(|p| p.exists())
            .or_else(|| resources::find_resource(Path::new("assets/flowers17.atlas")));
        if let Some(path) = candidate {
            self.worker.send(Job::LoadAtlas { path, quiet: true });
        }
    }

    /// Chooses the description file matching the model: the user's own if it fits, else the
    /// shipped one describing the most classes.
    fn pick_descriptions(&mut self, class_names: &[String]) {
        if let Some(path) = self.settings.description_file.clone() {
            match DescriptionSet::load(&path) {
                Ok(set) if set.coverage(class_names) > 0 => {
                    self.descriptions = Some(set);
                    return;
                }
                Ok(_) => {}
                Err(error) => self.error = Some(i18n::descriptions_failed(self.lang(), &error.to_string())),
            }
        }
        self.descriptions = None;
        if let Some(dir) = resources::descriptions_dir() {
            let (found, errors) = find_matching(&dir, class_names);
            self.descriptions = found;
            if let Some(error) = errors.first() {
                self.error = Some(i18n::descriptions_failed(self.lang(), &error.to_string()));
            }
        }
    }

    fn handle_dialog_answers(&mut self) {
        let Some((kind, answer)) = self.dialogs.poll() else { return };
        let Some(path) = answer else {
            self.notice = Some(self.t(T::DialogUnavailable).to_string());
            return;
        };
        match kind {
            DialogKind::OpenImage => self.open_image(path),
            DialogKind::OpenCheckpoint => self.load_model(path),
            DialogKind::OpenDescriptions => match DescriptionSet::load(&path) {
                Ok(set) => {
                    self.settings.description_file = Some(path);
                    self.descriptions = Some(set);
                }
                Err(error) => self.error = Some(i18n::descriptions_failed(self.lang(), &error.to_string())),
            },
            DialogKind::SaveDescriptions => self.save_descriptions(path),
            DialogKind::PickDataFolder => self.choose_data_folder(path),
            DialogKind::ResumeCheckpoint => self.start_training(Some(path)),
            DialogKind::ExportPng => self.export_explanation(path),
            DialogKind::OpenAtlas => self.worker.send(Job::LoadAtlas { path, quiet: false }),
            DialogKind::PlaceImage => self.place_on_atlas(vec![path]),
            DialogKind::ExportAtlasView => self.export_atlas(path, false),
            DialogKind::ExportAtlasWhole => self.export_atlas(path, true),
        }
    }

    pub fn request_dialog(&mut self, ctx: &egui::Context, kind: DialogKind) {
        let start_dir = match kind {
            DialogKind::OpenImage => self.settings.last_image_dir.clone(),
            DialogKind::OpenCheckpoint => self.settings.last_model.as_ref().and_then(|p| p.parent().map(Path::to_path_buf)),
            DialogKind::PickDataFolder => self.settings.last_data_dir.clone(),
            DialogKind::ResumeCheckpoint => self.train.run_dir.clone().or_else(|| Some(self.run_root.clone())),
            _ => None,
        };
        self.dialogs.request(ctx, kind, start_dir);
    }

    /// A picture dropped anywhere on the window opens in the classifier; a folder becomes the
    /// training data set.
    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|input| input.raw.dropped_files.clone());
        // One picture is shown at a time: the first dropped file.
        if let Some(file) = dropped.first() {
            let path = file.path().to_path_buf();
            if self.tab == Tab::Atlas && self.atlas.atlas.is_some() && !path.is_dir() {
                // On the atlas, every dropped picture is placed on the map.
                let paths = dropped.iter().map(|f| f.path().to_path_buf()).filter(|p| !p.is_dir()).collect();
                self.place_on_atlas(paths);
            } else if path.is_dir() {
                if !self.train.running {
                    self.tab = Tab::Train;
                    self.choose_data_folder(path);
                }
            } else {
                self.open_image(path);
            }
        }
    }

    fn handle_shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let (open, verify) = ctx.input(|input| {
            (input.modifiers.command && input.key_pressed(egui::Key::O), input.key_pressed(egui::Key::Enter))
        });
        if open {
            self.request_dialog(ctx, DialogKind::OpenImage);
        }
        if verify && self.tab == Tab::Classify {
            self.verify();
        }
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading(self.t(T::AppTitle));
            ui.separator();
            for (tab, label) in [
                (Tab::Classify, T::TabClassify),
                (Tab::Train, T::TabTrain),
                (Tab::Explain, T::TabExplain),
                (Tab::Atlas, T::TabAtlas),
            ] {
                let text = label.get(self.lang());
                ui.selectable_value(&mut self.tab, tab, egui::RichText::new(text).size(16.0));
            }
            ui.separator();
            self.model_menu_ui(ui);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button(self.t(T::LanguageSwitch)).clicked() {
                    self.settings.lang = match self.settings.lang {
                        Lang::Zh => Lang::En,
                        Lang::En => Lang::Zh,
                    };
                }
            });
        });
    }

    fn model_menu_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ui.menu_button(self.t(T::ModelMenu), |ui| {
            if ui.button(self.t(T::LoadCheckpoint)).clicked() {
                self.request_dialog(&ctx, DialogKind::OpenCheckpoint);
                ui.close();
            }
            if ui.button(self.t(T::LoadDescriptions)).clicked() {
                self.request_dialog(&ctx, DialogKind::OpenDescriptions);
                ui.close();
            }
            if self.run_checkpoints.len() > 1 {
                ui.separator();
                ui.label(self.t(T::RunCheckpoints));
                let current = match &self.model {
                    ModelStatus::Ready(info) => Some(info.path.clone()),
                    _ => None,
                };
                for path in self.run_checkpoints.clone() {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    if ui.selectable_label(current.as_ref() == Some(&path), name).clicked() {
                        self.load_model(path);
                        ui.close();
                    }
                }
            }
        });
    }

    fn status_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let lang = self.lang();
            match &self.model {
                ModelStatus::None => {
                    ui.label(T::NoModel.get(lang));
                }
                ModelStatus::Loading(path) => {
                    ui.spinner();
                    ui.label(format!("{} {}", T::LoadingModel.get(lang), path.display()));
                }
                ModelStatus::Ready(info) => {
                    let accuracy = info
                        .validation_accuracy
                        .map(|a| format!(" · {} {:.1}%", T::ValidationAccuracy.get(lang), a * 100.0))
                        .unwrap_or_default();
                    ui.label(format!(
                        "{}: {} · {} {}{} · {} {} · {} {}",
                        T::ModelMenu.get(lang),
                        info.name,
                        info.class_names.len(),
                        T::Classes.get(lang),
                        accuracy,
                        T::Epoch.get(lang),
                        info.epoch,
                        T::Device.get(lang),
                        info.device
                    ))
                    .on_hover_text(info.path.display().to_string());
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if self.worker.is_busy() {
                    if ui.button(T::Cancel.get(lang)).clicked() {
                        self.cancel_job();
                    }
                    ui.label(T::Working.get(lang));
                    ui.spinner();
                } else {
                    ui.label(T::Idle.get(lang));
                }
            });
        });
    }

    fn messages_ui(&mut self, ui: &mut egui::Ui) {
        let lang = self.lang();
        if let Some(error) = self.error.clone() {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(ui.visuals().error_fg_color, error);
                if ui.small_button(T::Dismiss.get(lang)).clicked() {
                    self.error = None;
                }
            });
        }
        if let Some(notice) = self.notice.clone() {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(ui.visuals().warn_fg_color, notice);
                if ui.small_button(T::Dismiss.get(lang)).clicked() {
                    self.notice = None;
                }
            });
        }
    }

    fn drop_overlay_ui(&self, ctx: &egui::Context) {
        if ctx.input(|input| input.raw.hovered_files.is_empty()) {
            return;
        }
        let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::unique("drop-overlay")));
        let rect = ctx.content_rect();
        painter.rect_filled(rect, 0.0, egui::Color32::from_black_alpha(160));
        painter.text(rect.center(), egui::Align2::CENTER_CENTER, self.t(T::DropToOpen), egui::FontId::proportional(28.0), egui::Color32::WHITE);
    }

}

/// The `.safetensors` files in the same folder as `model` (a run's checkpoints), sorted.
fn list_run_checkpoints(model: &Path) -> Vec<PathBuf> {
    let Some(dir) = model.parent() else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "safetensors"))
        .collect();
    paths.sort();
    paths
}

impl eframe::App for AtlasApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain_worker_events(ctx);
        self.handle_dialog_answers();
        self.handle_dropped_files(ctx);
        self.handle_shortcuts(ctx);
        if self.worker.is_busy() || self.dialogs.is_open() {
            // Keep the spinner moving; worker events also wake the window.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("top-bar").show(ui, |ui| self.top_bar_ui(ui));
        egui::Panel::bottom("status-bar").show(ui, |ui| self.status_bar_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            self.messages_ui(ui);
            match self.tab {
                Tab::Classify => classify_panel::classify_panel_ui(self, ui),
                Tab::Train => train_panel::train_panel_ui(self, ui),
                Tab::Explain => explain_panel::explain_panel_ui(self, ui),
                Tab::Atlas => atlas_panel::atlas_panel_ui(self, ui),
            }
        });
        classify_panel::description_editor_ui(self, ui.ctx());
        self.drop_overlay_ui(ui.ctx());
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.persist {
            eframe::set_value(storage, SETTINGS_KEY, &self.settings);
        }
    }
}
