//! What panels share, and how they ask the app for things. A panel owns its own state and draws
//! itself with `ui(&mut self, ui, cx)`; it never writes another panel's fields. When it needs
//! something beyond itself ("open this photo in 分类", "use this checkpoint") it pushes an
//! [`AppAction`], which the app applies after the frame.

use std::path::{Path, PathBuf};

use super::dialogs::DialogKind;
use super::i18n::{self, Lang, T};
use super::state::{ModelStatus, Settings, Tab};
use crate::descriptions::{DescriptionFile, DescriptionSet};
use crate::worker::{Job, JobId, Jobs, ModelInfo};

/// A request from a panel to the app, applied after the frame.
#[derive(Clone, Debug, PartialEq)]
pub enum AppAction {
    /// Open this picture in 分类 (and show that tab).
    OpenPhoto(PathBuf),
    /// Make this checkpoint the model in use, staying on the current tab.
    LoadModel(PathBuf),
    /// Make this checkpoint the model in use and show 分类.
    UseCheckpoint(PathBuf),
    /// A training run ended: offer its best checkpoint in the message area.
    OfferCheckpoint(PathBuf),
    ShowTab(Tab),
    OpenDialog(DialogKind),
    /// Place these pictures on the atlas in use.
    PlaceOnAtlas(Vec<PathBuf>),
    /// Open this picture (in 分类) and show its explanation in 解释.
    ExplainPhoto(PathBuf),
    /// Make the atlas timeline of the training tab's run, following it while it trains.
    TimelineOfTrainingRun,
    /// Save the description editor's file to `path` (the user's own, never a shipped file)
    /// and use it.
    SaveDescriptions {
        file: DescriptionFile,
        path: PathBuf,
    },
}

/// The message area above the panels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Messages {
    /// Red message naming the file and the reason; stays until dismissed or replaced.
    pub error: Option<String>,
    /// Neutral message (e.g. "no file chosen").
    pub notice: Option<String>,
    /// A finished training run's best checkpoint, offered for classification.
    pub offer: Option<PathBuf>,
    /// The last error and notice written to the log, so each is logged once.
    logged: (Option<String>, Option<String>),
}

impl Messages {
    /// Every error and notice the window shows also goes to the log file, once.
    pub fn log_new(&mut self) {
        if self.error.is_some() && self.error != self.logged.0 {
            tracing::error!("{}", self.error.as_deref().unwrap_or_default());
        }
        if self.notice.is_some() && self.notice != self.logged.1 {
            tracing::info!("{}", self.notice.as_deref().unwrap_or_default());
        }
        self.logged = (self.error.clone(), self.notice.clone());
    }
}

/// Everything a panel may use besides its own state.
pub struct AppContext<'a> {
    pub jobs: &'a mut Jobs,
    pub lang: Lang,
    pub model: &'a ModelStatus,
    pub descriptions: Option<&'a DescriptionSet>,
    pub messages: &'a mut Messages,
    pub actions: &'a mut Vec<AppAction>,
    pub settings: &'a mut Settings,
    /// Where new training runs go; new atlases go beside it.
    pub run_root: &'a Path,
    /// The user's own description files (shipped ones are never written).
    pub user_descriptions: &'a Path,
    /// The picture open in 分类, once it has been decoded.
    pub photo: Option<PathBuf>,
}

impl AppContext<'_> {
    pub fn t(&self, text: T) -> &'static str {
        text.get(self.lang)
    }

    /// Starts a job; a refusal (a second training run, say) is shown in the message area.
    pub fn submit(&mut self, job: Job) -> Option<JobId> {
        match self.jobs.submit(job) {
            Ok(id) => Some(id),
            Err(error) => {
                self.messages.error = Some(i18n::job_error(self.lang, &error));
                None
            }
        }
    }

    pub fn model_info(&self) -> Option<&ModelInfo> {
        match self.model {
            ModelStatus::Ready(info) => Some(info),
            _ => None,
        }
    }

    /// The names of a class in the current language: (main, secondary).
    pub fn class_names_of(&self, class_id: &str) -> (String, String) {
        DescriptionSet::display_names(self.descriptions, class_id, self.lang == Lang::Zh)
    }

    /// The display name of the model's class `index`.
    pub fn class_label(&self, index: usize) -> String {
        match self.model_info() {
            Some(info) => self.label_of(&info.class_names, index),
            None => index.to_string(),
        }
    }

    /// The display name of class `index` of `class_names` (an atlas's classes are its data set's,
    /// which are not the model's when it was trained on others, such as an ImageNet network).
    pub fn label_of(&self, class_names: &[String], index: usize) -> String {
        class_names.get(index).map_or_else(|| index.to_string(), |id| self.class_names_of(id).0)
    }

    /// The display names of every class of `class_names`.
    pub fn labels_of(&self, class_names: &[String]) -> Vec<String> {
        (0..class_names.len()).map(|i| self.label_of(class_names, i)).collect()
    }

    /// Display names of all the model's classes, in its order.
    pub fn class_labels(&self) -> Vec<String> {
        let count = self.model_info().map_or(0, |info| info.class_names.len());
        (0..count).map(|i| self.class_label(i)).collect()
    }
}

/// Builds the [`AppContext`] from the shell's fields, leaving the panels free to borrow.
macro_rules! app_context {
    ($app:expr) => {
        $crate::app::context::AppContext {
            jobs: &mut $app.jobs,
            lang: $app.settings.lang,
            model: &$app.model,
            descriptions: $app.descriptions.as_ref(),
            messages: &mut $app.messages,
            actions: &mut $app.actions,
            settings: &mut $app.settings,
            run_root: &$app.folders.run_root,
            user_descriptions: &$app.folders.user_descriptions,
            photo: $app.panels.classify.shown_photo().map(std::path::Path::to_path_buf),
        }
    };
}
pub(crate) use app_context;
