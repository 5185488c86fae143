//! The window (egui). It only sees plain data from the job system (`Vec<f32>`, RGBA pictures,
//! numbers) and never touches tensors. The shell here owns what panels share (jobs, model,
//! settings, messages, descriptions) and four panels that own their own state: 分类 (classify),
//! 训练 (train), 解释 (explain), 地图集 (atlas). Panels ask for things beyond themselves through
//! [`AppAction`]s, applied after each frame.

pub mod atlas_panel;
pub mod backend;
mod classify_panel;
pub mod confusion_photos;
pub mod context;
pub mod description_editor;
pub mod dialogs;
pub mod explain_panel;
mod file_browser;
pub mod fonts;
pub mod i18n;
pub mod mistakes_panel;
mod photo_button;
pub mod settings_file;
mod shell;
mod train_panel;

use std::path::{Path, PathBuf};

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::descriptions::DescriptionSet;
use crate::resources;
use crate::worker::{Job, Jobs, ModelInfo};
use atlas_panel::AtlasPanel;
use classify_panel::ClassifyPanel;
pub use classify_panel::percent;
pub use context::{AppAction, AppContext, Messages};
use dialogs::{Dialogs, Picker};
use explain_panel::ExplainPanel;
use i18n::Lang;
use mistakes_panel::MistakesPanel;
use train_panel::TrainPanel;

/// Names the app's settings folder (kept from the first version, so settings carry over).
pub const APP_ID: &str = "activation-atlas";
/// The reverse-DNS id of the launcher, icons and metainfo; the window carries it so desktops
/// match the window to its launcher.
pub const DESKTOP_ID: &str = "io.github.activation_atlas.ActivationAtlas";

/// What persists between runs.
/// Paths go through `any_path`, so a folder whose name is not UTF-8 is remembered like any other
/// (a plain `PathBuf` would make the whole settings blob fail to save).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub lang: Lang,
    #[serde(with = "crate::engine::fsutil::any_path::option")]
    pub last_model: Option<PathBuf>,
    #[serde(with = "crate::engine::fsutil::any_path::option")]
    pub last_image_dir: Option<PathBuf>,
    #[serde(with = "crate::engine::fsutil::any_path::option")]
    pub last_data_dir: Option<PathBuf>,
    /// A description file the user chose (or saved edits to).
    #[serde(with = "crate::engine::fsutil::any_path::option")]
    pub description_file: Option<PathBuf>,
    #[serde(with = "crate::engine::fsutil::any_path::option")]
    pub last_atlas: Option<PathBuf>,
}

/// The key settings are stored under in eframe's storage.
pub const SETTINGS_KEY: &str = "settings";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Classify,
    Train,
    Explain,
    Atlas,
    Mistakes,
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

pub struct AtlasApp {
    pub settings: Settings,
    settings_file: Option<settings_file::SettingsFile>,
    jobs: Jobs,
    dialogs: Dialogs,
    pub tab: Tab,
    pub model: ModelStatus,
    pub messages: Messages,
    pub descriptions: Option<DescriptionSet>,
    pub classify: ClassifyPanel,
    pub train: TrainPanel,
    pub explain: ExplainPanel,
    pub atlas: AtlasPanel,
    pub mistakes: MistakesPanel,
    run_root: PathBuf,
    user_descriptions: PathBuf,
    /// Sibling checkpoints of the current model (a training run's folder).
    run_checkpoints: Vec<PathBuf>,
    pub cjk_font_found: bool,
    /// The atlas asked for at start, loaded once the model is ready.
    start_atlas: Option<PathBuf>,
    /// Pictures to place once an atlas is loaded.
    pending_placements: Vec<PathBuf>,
    /// The model in use while another loads: the worker keeps it if the new one is refused.
    model_before_load: Option<ModelInfo>,
    /// Requests from panels, applied after the frame.
    actions: Vec<AppAction>,
    /// The last error and notice written to the log, so each is logged once.
    logged_messages: (Option<String>, Option<String>),
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
            classify: ClassifyPanel::default(),
            train: TrainPanel::default(),
            explain: ExplainPanel::default(),
            atlas: AtlasPanel::default(),
            mistakes: MistakesPanel::default(),
            run_root: options.run_root.unwrap_or_else(|| classify_panel::user_data_dir().join("runs")),
            user_descriptions: options.user_descriptions.unwrap_or_else(crate::descriptions::user_descriptions_dir),
            run_checkpoints: Vec::new(),
            logged_messages: (None, None),
            cjk_font_found,
            start_atlas: options.atlas,
            pending_placements: options.place,
            model_before_load: None,
            actions: Vec::new(),
        };
        app.messages.error = settings_problem;
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
        if app.start_atlas.is_some() || !app.pending_placements.is_empty() {
            app.tab = Tab::Atlas;
        }
        if let Some(path) = options.timeline {
            app.tab = Tab::Atlas;
            app.atlas.view = atlas_panel::AtlasView::Timeline;
            let _ = app.jobs.submit(Job::Timeline(crate::worker::TimelineJob::Load { path }));
        }
        app
    }

    /// Makes the interactive worker panic, to check that the app reports it and carries on.
    #[doc(hidden)]
    pub fn simulate_worker_crash(&mut self) {
        let _ = self.jobs.submit(Job::SimulateCrash);
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
        &self.run_root
    }

    pub fn lang(&self) -> Lang {
        self.settings.lang
    }
}

/// Builds the [`AppContext`] from the shell's fields, leaving the panels free to borrow.
macro_rules! app_context {
    ($app:expr) => {
        $crate::app::AppContext {
            jobs: &mut $app.jobs,
            lang: $app.settings.lang,
            model: &$app.model,
            descriptions: $app.descriptions.as_ref(),
            messages: &mut $app.messages,
            actions: &mut $app.actions,
            settings: &mut $app.settings,
            run_root: &$app.run_root,
            user_descriptions: &$app.user_descriptions,
            photo: $app.classify.shown_photo().map(std::path::Path::to_path_buf),
        }
    };
}
pub(crate) use app_context;

impl eframe::App for AtlasApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain_job_events(ctx);
        self.handle_dialog_answers(ctx);
        self.handle_dropped_files(ctx);
        self.handle_shortcuts(ctx);
        self.apply_actions(ctx);
        self.log_new_messages();
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
            match tab {
                Tab::Classify => self.classify.ui(ui, &mut cx),
                Tab::Train => self.train.ui(ui, &mut cx),
                Tab::Explain => self.explain.ui(ui, &mut cx),
                Tab::Atlas => self.atlas.ui(ui, &mut cx),
                Tab::Mistakes => self.mistakes.ui(ui, &mut cx),
            }
        });
        let mut cx = app_context!(self);
        self.classify.description_editor_ui(ui.ctx(), &mut cx);
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
