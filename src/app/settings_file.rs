//! The window's settings in a file of their own (`$XDG_CONFIG_HOME/activation-atlas/settings.ron`),
//! written atomically when they change. eframe's storage saves on a thread of its own and only
//! logs a failure; here a failed save is known, logged, and told to the user once. Settings of
//! earlier versions, kept in eframe's storage, are read from there until the first save.

use std::path::{Path, PathBuf};

use super::i18n::Lang;
use super::state::{SETTINGS_KEY, Settings};
use crate::engine::fsutil::{read_user_text, write_atomically};

/// A settings file is a few hundred bytes; anything near this is not one.
const MAX_SETTINGS_BYTES: u64 = 1 << 20;

/// Where the settings live and what was last written there.
pub struct SettingsFile {
    path: PathBuf,
    /// What the file holds now, so unchanged settings are not rewritten every auto-save.
    written: Option<Settings>,
    /// The current run of failed saves has been told to the user (told again after a success).
    failure_told: bool,
}

impl SettingsFile {
    pub fn at(path: PathBuf) -> SettingsFile {
        SettingsFile { path, written: None, failure_told: false }
    }

    /// `$XDG_CONFIG_HOME/activation-atlas/settings.ron`, else `~/.config/activation-atlas/settings.ron`.
    pub fn default_path() -> PathBuf {
        crate::resources::xdg_app_dir("XDG_CONFIG_HOME", ".config").join("settings.ron")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved settings: from the file; where there is none yet, from eframe's storage (where
    /// earlier versions kept them); else the defaults. A file that cannot be read or parsed gives
    /// the defaults and a message naming it; the file is kept aside under another name.
    pub fn load(&mut self, earlier: Option<&dyn eframe::Storage>, lang: Lang) -> (Settings, Option<String>) {
        if !self.path.exists() {
            let settings = earlier.and_then(|storage| eframe::get_value(storage, SETTINGS_KEY)).unwrap_or_default();
            return (settings, None);
        }
        let parsed = read_user_text(&self.path, MAX_SETTINGS_BYTES)
            .map_err(|error| error.to_string())
            .and_then(|text| ron::from_str::<Settings>(&text).map_err(|error| error.to_string()));
        match parsed {
            Ok(settings) => {
                self.written = Some(settings.clone());
                (settings, None)
            }
            Err(reason) => {
                // Kept aside, not overwritten by the next save: the user may want what was in it.
                let aside = self.keep_aside();
                let path = self.path.display();
                let message = match (lang, aside) {
                    (Lang::Zh, Some(aside)) => {
                        format!("无法读取设置文件 {path}：{reason}。已使用默认设置；原文件已改名保留为 {}。", aside.display())
                    }
                    (Lang::Zh, None) => format!("无法读取设置文件 {path}：{reason}。已使用默认设置。"),
                    (Lang::En, Some(aside)) => format!(
                        "Cannot read the settings file {path}: {reason}. Using the default settings; the file was kept as {}.",
                        aside.display()
                    ),
                    (Lang::En, None) => format!("Cannot read the settings file {path}: {reason}. Using the default settings."),
                };
                (Settings::default(), Some(message))
            }
        }
    }

    /// Renames an unreadable settings file to `settings.ron.unreadable-<UTC time>` beside it; its
    /// new path, or None when it could not be moved (it is then replaced at the next save).
    fn keep_aside(&self) -> Option<PathBuf> {
        let stamp = crate::engine::fsutil::utc_timestamp_now().replace([':', '-'], "");
        let name = format!("{}.unreadable-{stamp}", self.path.file_name()?.to_string_lossy());
        let aside = self.path.with_file_name(name);
        match std::fs::rename(&self.path, &aside) {
            Ok(()) => Some(aside),
            Err(error) => {
                tracing::warn!("could not keep the unreadable settings file {} aside: {error}", self.path.display());
                None
            }
        }
    }

    /// Writes the settings if they changed. The first failure of a run of them is logged and
    /// returned as a message to show; the ones after it stay quiet until a save succeeds.
    pub fn save(&mut self, settings: &Settings, lang: Lang) -> Option<String> {
        if self.written.as_ref() == Some(settings) {
            return None;
        }
        match self.write(settings) {
            Ok(()) => {
                self.written = Some(settings.clone());
                self.failure_told = false;
                None
            }
            Err(reason) => {
                if self.failure_told {
                    return None;
                }
                self.failure_told = true;
                tracing::error!("cannot save the settings to {}: {reason}", self.path.display());
                Some(match lang {
                    Lang::Zh => format!("无法保存设置到 {}：{reason}。本次的更改在关闭后不会保留。", self.path.display()),
                    Lang::En => format!(
                        "Cannot save the settings to {}: {reason}. Changes made now will not be kept after closing.",
                        self.path.display()
                    ),
                })
            }
        }
    }

    fn write(&self, settings: &Settings) -> Result<(), String> {
        let text = ron::ser::to_string_pretty(settings, ron::ser::PrettyConfig::default()).map_err(|error| error.to_string())?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|error| error.to_string())?;
        }
        write_atomically(&self.path, text.as_bytes()).map_err(|error| error.to_string())
    }
}
