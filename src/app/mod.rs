//! The window (egui). It only sees plain data from the job system (`Vec<f32>`, RGBA pictures,
//! numbers) and never touches tensors. The shell (`window.rs`, `shell.rs`) owns what panels share
//! (jobs, model, settings, messages, descriptions) and five panels that own their own state, each
//! made of parts: 分类 (classify), 训练 (train), 解释 (explain), 地图集 (atlas), 错误 (mistakes).
//! The shell reaches every panel through the [`panel::Panel`] trait; panels ask for things beyond
//! themselves through [`AppAction`]s, applied after each frame.

pub mod atlas_panel;
pub mod backend;
pub mod classify_panel;
mod confusion_matrix;
pub mod confusion_photos;
pub mod context;
pub mod description_editor;
mod dialog_kind;
pub mod dialogs;
pub mod explain_panel;
mod file_browser;
pub mod fonts;
pub mod i18n;
pub mod mistakes_panel;
pub mod panel;
mod panels;
mod path_label;
mod photo_button;
pub mod settings_file;
mod shell;
pub mod state;
mod train_form;
pub mod train_panel;
mod window;

pub use classify_panel::percent;
pub use context::{AppAction, AppContext, Messages};
pub use state::{ModelStatus, SETTINGS_KEY, Settings, Tab};
pub use window::{APP_ID, AppOptions, AtlasApp, DESKTOP_ID, run_app};
