//! Settings survive a save and a load through eframe's storage (RON) with every path kind a
//! Linux user can have, a folder whose name is not UTF-8 among them; before, such a path made
//! the whole settings blob fail to save, and every setting was lost.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use activation_atlas::app::i18n::Lang;
use activation_atlas::app::{SETTINGS_KEY, Settings};
use eframe::Storage;

#[derive(Default)]
struct MemoryStorage(HashMap<String, String>);

impl Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn settings_with_a_non_utf8_folder_round_trip_exactly() {
    let latin1 = PathBuf::from(OsString::from_vec(b"/home/user/Fotos/caf\xe9".to_vec()));
    let settings = Settings {
        lang: Lang::En,
        last_model: Some(PathBuf::from("/home/user/runs/best.safetensors")),
        last_image_dir: Some(latin1.clone()),
        last_data_dir: Some(PathBuf::from("/home/user/数据/花")),
        description_file: None,
        last_atlas: Some(latin1.join("a.atlas")),
    };
    let mut storage = MemoryStorage::default();
    eframe::set_value(&mut storage, SETTINGS_KEY, &settings);
    assert!(storage.0.contains_key(SETTINGS_KEY), "the settings were written");
    let loaded: Settings = eframe::get_value(&storage, SETTINGS_KEY).expect("the settings read back");
    assert_eq!(loaded, settings);
}

#[test]
fn settings_written_before_paths_could_be_bytes_still_load() {
    // The form older versions wrote: every path a plain string.
    let mut storage = MemoryStorage::default();
    storage.set_string(SETTINGS_KEY, r#"(lang: Zh, last_model: Some("/m/best.safetensors"), last_image_dir: None)"#.to_string());
    let loaded: Settings = eframe::get_value(&storage, SETTINGS_KEY).expect("old settings load");
    assert_eq!(loaded.last_model, Some(PathBuf::from("/m/best.safetensors")));
    assert_eq!(loaded.lang, Lang::Zh);
}
