//! The window itself: how it starts (`AppOptions`, `run_app`), the `AtlasApp` that owns what the
//! panels share, and eframe's frame: drain job events, apply actions, draw the bars and the open
//! tab's panel.

use std::path::{Path, PathBuf};

use eframe::egui;

use super::atlas_panel::{AtlasPanel, AtlasView};
use super::classify_panel::{ClassifyPanel, user_data_dir};
use super::context::{AppAction, Messages, app_context};
use super::dialogs::{self, Dialogs, Picker};
use super::explain_panel::ExplainPanel;
use super::i18n::Lang;
use super::mistakes_panel::MistakesPanel;
use super::panels::Panels;
use super::state::{ModelStatus, Settings, Tab};
use super::train_panel::TrainPanel;
use super::{backend, fonts, settings_file};
use crate::descriptions::DescriptionSet;
use crate::resources;
use crate::worker::{Job, Jobs, ModelInfo};

/// Names the app's settings folder (kept from the first version, so settings carry over).
pub const APP_ID: &str = "activation-atlas";
/// The reverse-DNS id of the launcher, icons and metainfo; the window carries it so desktops
/// match the window to its launcher.
pub const DESKTOP_ID: &str = "io.github.activation_atlas.ActivationAtlas";

/// How the app starts: the real dialogs and saved settings, or test doubles.
pub struct AppOptions {
    pub picker: Picker,
    /// Model to load at start; None loads the last used one, else the shipped model.
    pub model: Option<PathBuf>,
    /// The settings file to read and write (None in tests, so they do not touch the user's).
    pub settings_file: Option<PathBuf>,
    /// A picture to open at start (from the command line or a file manager's "Open with").
    pub image: Option<PathBuf>,
    /// A data set folder to open in the training panel at start.
    pub data_dir: Option<PathBuf>,
    /// Where new training runs are written (default `~/.local/share/activation-atlas/runs`).
    pub run_root: Option<PathBuf>,
    /// Where the description editor writes (default `~/.local/share/activation-atlas/user-descriptions`).
    pub user_descriptions: Option<PathBuf>,
    /// An atlas to show at start instead of the last used (or shipped) one.
    pub atlas: Option<PathBuf>,
    /// Pictures to place on the atlas once it is loaded; the app starts on the 地图集 tab.
    pub place: Vec<PathBuf>,
    /// A timeline file to show at start (地图集 → 时间线).
    pub timeline: Option<PathBuf>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            picker: dialogs::native_picker(),
            model: None,
            settings_file: Some(settings_file::SettingsFile::default_path()),
            image: None,
            data_dir: None,
            run_root: None,
            user_descriptions: None,
            atlas: None,
            place: Vec::new(),
            timeline: None,
        }
    }
}

/// Where the window writes what the user makes.
pub(super) struct UserFolders {
    /// New training runs (new atlases and timelines go beside it).
    pub(super) run_root: PathBuf,
    /// Class descriptions written by the description editor.
    pub(super) user_descriptions: PathBuf,
}

/// What was asked for at start and waits for the model or an atlas.
#[derive(Default)]
pub(super) struct StartRequests {
    /// The atlas asked for at start, loaded once the model is ready.
    pub(super) atlas: Option<PathBuf>,
    /// Pictures to place once an atlas is loaded.
    pub(super) placements: Vec<PathBuf>,
}

/// The window: what the panels share, and the panels.
pub struct AtlasApp {
    pub settings: Settings,
    pub(super) settings_file: Option<settings_file::SettingsFile>,
    pub(super) jobs: Jobs,
    pub(super) dialogs: Dialogs,
    pub tab: Tab,
    pub model: ModelStatus,
    pub messages: Messages,
    pub descriptions: Option<DescriptionSet>,
    pub(super) panels: Panels,
    pub(super) folders: UserFolders,
    /// Sibling checkpoints of the current model (a training run's folder).
    pub(super) run_checkpoints: Vec<PathBuf>,
    pub cjk_font_found: bool,
    pub(super) start: StartRequests,
    /// The model in use while another loads: the worker keeps it if the new one is refused.
    pub(super) model_before_load: Option<ModelInfo>,
    /// Requests from panels, applied after the frame.
    pub(super) actions: Vec<AppAction>,
}

/// Opens the window and runs until it is closed. `start` says what to show first (picture, data set, atlas, placed pictures).
pub fn run_app(start: AppOptions) -> anyhow::Result<()> {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("激活地图集 Activation Atlas")
        .with_app_id(DESKTOP_ID)
        .with_inner_size([1100.0, 760.0])
        .with_min_inner_size([720.0, 480.0]);
    if let Some(icon) = load_icon() {
        viewport = viewport.with_icon(icon);
    }
    let event_loop_builder = backend::backend_from_environment().map(backend::event_loop_hook);
    let options = eframe::NativeOptions { viewport, persist_window: true, event_loop_builder, ..Default::default() };
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
        let mut settings_file = options.settings_file.map(settings_file::SettingsFile::at);
        let (settings, settings_problem) = match &mut settings_file {
            Some(file) => file.load(cc.storage, Lang::default()),
            None => (Settings::default(), None),
        };
        let cjk_font_found = fonts::install_cjk_font(&cc.egui_ctx);
        let ctx = cc.egui_ctx.clone();
        let jobs = Jobs::spawn(move || ctx.request_repaint());
        let mut app = AtlasApp {
            settings,
            settings_file,
            jobs,
            dialogs: Dialogs::new(options.picker, dialogs::WindowParent::of(cc)),
            tab: Tab::Classify,
            model: ModelStatus::None,
            messages: Messages::default(),
            descriptions: None,
            panels: Panels::default(),
            folders: UserFolders {
                run_root: options.run_root.unwrap_or_else(|| user_data_dir().join("runs")),
                user_descriptions: options.user_descriptions.unwrap_or_else(crate::descriptions::user_descriptions_dir),
            },
            run_checkpoints: Vec::new(),
            cjk_font_found,
            start: StartRequests { atlas: options.atlas, placements: options.place },
            model_before_load: None,
            actions: Vec::new(),
        };
        app.messages.error = settings_problem;
        crate::engine::precision::set_precision(app.settings.precision);
        if !cjk_font_found {
            // Without a CJK font Chinese would be boxes: start in English and say why.
            app.settings.lang = Lang::En;
            app.messages.notice = Some(
                "No Chinese font found on this system; showing English. Run scripts/setup.sh or install fonts-wqy-microhei.".to_string(),
            );
        }
        let model =
            options.model.or_else(|| app.settings.last_model.clone().filter(|path| path.exists())).or_else(resources::shipped_model);
        match model {
            Some(path) => app.load_model(path),
            None => app.messages.error = Some("The shipped model weights/flowers17.safetensors is missing.".to_string()),
        }
        if let Some(image) = options.image {
            app.open_image(image);
        }
        if let Some(dir) = options.data_dir {
            app.tab = Tab::Train;
            app.choose_data_folder(dir);
        }
        if app.start.atlas.is_some() || !app.start.placements.is_empty() {
            app.tab = Tab::Atlas;
        }
        if let Some(path) = options.timeline {
            app.tab = Tab::Atlas;
            app.panels.atlas.view = AtlasView::Timeline;
            let _ = app.jobs.submit(Job::Timeline(crate::worker::TimelineJob::Load { path }));
        }
        app
    }

    /// Makes the interactive worker panic, to check that the app reports it and carries on.
    #[doc(hidden)]
    pub fn simulate_worker_crash(&mut self) {
        let _ = self.jobs.submit(Job::SimulateCrash);
    }

    /// Ends the interactive worker outside its guards, to check that it is started again.
    #[doc(hidden)]
    pub fn simulate_worker_death(&mut self) {
        self.jobs.simulate_worker_death();
    }

    /// The job system, for tests and benchmarks that watch what runs.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// Whether a file dialog (the desktop's or the built-in browser) is waiting for the user.
    pub fn dialogs_open(&self) -> bool {
        self.dialogs.is_open()
    }

    /// True while any job runs.
    pub fn worker_busy(&self) -> bool {
        !self.jobs.running().is_empty()
    }

    /// Where new training runs go; new atlases go beside it.
    pub fn run_root(&self) -> &Path {
        &self.folders.run_root
    }

    pub fn lang(&self) -> Lang {
        self.settings.lang
    }

    /// The 分类 panel.
    pub fn classify(&self) -> &ClassifyPanel {
        &self.panels.classify
    }

    /// The 训练 panel.
    pub fn train(&self) -> &TrainPanel {
        &self.panels.train
    }

    pub fn train_mut(&mut self) -> &mut TrainPanel {
        &mut self.panels.train
    }

    /// The 解释 panel.
    pub fn explain(&self) -> &ExplainPanel {
        &self.panels.explain
    }

    /// The 地图集 panel.
    pub fn atlas(&self) -> &AtlasPanel {
        &self.panels.atlas
    }

    pub fn atlas_mut(&mut self) -> &mut AtlasPanel {
        &mut self.panels.atlas
    }

    /// The 错误 panel.
    pub fn mistakes(&self) -> &MistakesPanel {
        &self.panels.mistakes
    }
}

impl eframe::App for AtlasApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain_job_events(ctx);
        self.handle_dialog_answers(ctx);
        self.handle_dropped_files(ctx);
        self.handle_shortcuts(ctx);
        self.apply_actions(ctx);
        self.messages.log_new();
        if self.worker_busy() || self.dialogs.is_open() {
            // Keep the spinners moving; job events also wake the window.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("top-bar").show(ui, |ui| self.top_bar_ui(ui));
        egui::Panel::bottom("status-bar").show(ui, |ui| self.status_bar_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            self.messages_ui(ui);
            let tab = self.tab;
            let mut cx = app_context!(self);
            self.panels.of_tab(tab).ui(ui, &mut cx);
        });
        let mut cx = app_context!(self);
        self.panels.classify.description_editor_ui(ui.ctx(), &mut cx);
        self.drop_overlay_ui(ui.ctx());
        self.dialogs.ui(ui.ctx(), self.settings.lang);
        // Actions from this frame's clicks are applied at once, so the next frame shows them.
        self.apply_actions(ui.ctx());
    }

    /// Called by eframe every 30 s and on closing; the settings go to their own file
    /// ([`settings_file`]), eframe's storage keeps only the window's size and place.
    fn save(&mut self, _storage: &mut dyn eframe::Storage) {
        let lang = self.settings.lang;
        if let Some(message) = self.settings_file.as_mut().and_then(|file| file.save(&self.settings, lang)) {
            self.messages.error = Some(message);
        }
    }
}
