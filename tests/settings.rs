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
        precision: activation_atlas::engine::precision::Precision::Fp32,
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

#[test]
fn the_settings_file_round_trips_a_non_utf8_folder_and_is_rewritten_only_on_change() {
    use activation_atlas::app::settings_file::SettingsFile;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config/activation-atlas/settings.ron");
    let settings = Settings {
        lang: Lang::En,
        last_image_dir: Some(PathBuf::from(OsString::from_vec(b"/home/user/Fotos/caf\xe9".to_vec()))),
        ..Settings::default()
    };
    let mut file = SettingsFile::at(path.clone());
    assert_eq!(file.save(&settings, Lang::En), None, "the save succeeds");
    let written = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(file.save(&settings, Lang::En), None);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), written, "unchanged settings are not rewritten");

    let (loaded, problem) = SettingsFile::at(path).load(None, Lang::En);
    assert_eq!(problem, None);
    assert_eq!(loaded, settings);
}

#[test]
fn without_a_settings_file_the_settings_of_earlier_versions_load_from_eframe_storage() {
    use activation_atlas::app::settings_file::SettingsFile;
    let dir = tempfile::tempdir().unwrap();
    let mut storage = MemoryStorage::default();
    storage.set_string(SETTINGS_KEY, r#"(lang: En, last_model: Some("/m/best.safetensors"))"#.to_string());
    let (loaded, problem) = SettingsFile::at(dir.path().join("settings.ron")).load(Some(&storage), Lang::Zh);
    assert_eq!(problem, None);
    assert_eq!(loaded.lang, Lang::En);
    assert_eq!(loaded.last_model, Some(PathBuf::from("/m/best.safetensors")));
}

#[test]
fn a_corrupt_settings_file_gives_defaults_and_a_message_naming_it() {
    use activation_atlas::app::settings_file::SettingsFile;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.ron");
    std::fs::write(&path, "(lang: Klingon").unwrap();
    let (loaded, problem) = SettingsFile::at(path.clone()).load(None, Lang::En);
    assert_eq!(loaded, Settings::default());
    let problem = problem.expect("the broken file is reported");
    assert!(problem.contains(&path.display().to_string()), "{problem}");
}

#[test]
fn an_unreadable_settings_file_is_kept_aside_not_replaced_by_the_next_save() {
    use activation_atlas::app::settings_file::SettingsFile;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.ron");
    let hand_edited = "(lang: En, last_model: Some(\"/m/best.safetensors\"), oops";
    std::fs::write(&path, hand_edited).unwrap();
    let mut file = SettingsFile::at(path.clone());
    let (_, problem) = file.load(None, Lang::En);
    let problem = problem.expect("the broken file is reported");
    file.save(&Settings { lang: Lang::Zh, ..Settings::default() }, Lang::En);
    // The user's text survives under another name beside it, and the message says which.
    let kept: Vec<PathBuf> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).filter(|p| *p != path).collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read_to_string(&kept[0]).unwrap(), hand_edited);
    assert!(problem.contains(&kept[0].display().to_string()), "{problem}");
    assert!(std::fs::read_to_string(&path).unwrap().contains("Zh"), "the new settings are saved in its place");
}

#[test]
fn a_failed_save_is_told_once_and_again_only_after_a_success() {
    use activation_atlas::app::settings_file::SettingsFile;
    let dir = tempfile::tempdir().unwrap();
    // The settings folder's place is taken by a regular file: every save fails.
    let blocker = dir.path().join("activation-atlas");
    std::fs::write(&blocker, "not a folder").unwrap();
    let mut file = SettingsFile::at(blocker.join("settings.ron"));
    let mut settings = Settings::default();
    let first = file.save(&settings, Lang::En).expect("the first failure is told");
    assert!(first.contains("settings.ron"), "{first}");
    settings.lang = Lang::En;
    assert_eq!(file.save(&settings, Lang::En), None, "the same failure is not told again");

    std::fs::remove_file(&blocker).unwrap();
    assert_eq!(file.save(&settings, Lang::En), None, "the save succeeds once the folder can be made");
    std::fs::remove_dir_all(&blocker).unwrap();
    std::fs::write(&blocker, "not a folder").unwrap();
    settings.lang = Lang::Zh;
    assert!(file.save(&settings, Lang::En).is_some(), "a new failure after a success is told again");
}
