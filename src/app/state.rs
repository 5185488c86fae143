//! The plain state the shell and the panels share: the settings that persist, the open tab, the
//! model as the window knows it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::i18n::Lang;
use crate::worker::ModelInfo;

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
    /// Convolutions in bfloat16 where the CPU has it (auto), always float32, or bfloat16.
    pub precision: crate::engine::precision::Precision,
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
