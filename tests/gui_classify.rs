//! The real app in a kittest harness, driven by the labels a user sees: 读取图片 (with the file
//! dialog replaced by a double), 验证, dropping a file, the language switch, a corrupt file.
//! Missing-glyph and accessibility checks stay on.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use activation_atlas::app::dialogs::{DialogRequest, Picker, picker_from};
use activation_atlas::app::{AppOptions, AtlasApp, ModelStatus, percent};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// A file dialog that answers with whatever path the test put in `answer`.
fn picker_returning(answer: Arc<Mutex<Option<PathBuf>>>) -> Picker {
    picker_from(move |_: DialogRequest| answer.lock().unwrap().clone())
}

fn harness(answer: Arc<Mutex<Option<PathBuf>>>) -> Harness<'static, AtlasApp> {
    let options = common::app_options(picker_returning(answer));
    let mut harness = Harness::builder().with_size([1100.0, 760.0]).build_eframe(move |cc| AtlasApp::new(cc, options));
    common::run_until(&mut harness, "the model loads", 60, |app| matches!(app.model, ModelStatus::Ready(_)));
    harness
}

fn open_with_button(harness: &mut Harness<'static, AtlasApp>, answer: &Arc<Mutex<Option<PathBuf>>>, file: &Path) {
    *answer.lock().unwrap() = Some(file.to_path_buf());
    harness.get_by_label("读取图片").click();
    harness.run_steps(2);
}

fn verify(harness: &mut Harness<'static, AtlasApp>) {
    harness.get_by_label("验证").click();
    common::run_until(harness, "a result is shown", 60, |app| app.classify().result().is_some());
}

#[test]
fn read_image_then_verify_shows_class_confidence_and_introduction() {
    let answer = Arc::new(Mutex::new(None));
    let mut harness = harness(answer.clone());
    harness.get_by_label_contains("flowers17"); // the status bar names the model
    // ... and quotes its cross-validated accuracy, not a validation score it does not have.
    let ModelStatus::Ready(info) = &harness.state().model else { unreachable!() };
    let cv = info.cross_validation.clone().expect("the shipped model records its recipe's cross-validation");
    assert_eq!(info.validation_accuracy, None, "the shipped model trained on every photo");
    // First as the window judges a photo (12 views), then photo by photo.
    let views = cv.views.as_ref().expect("the shipped model's cross-validation scored 12 views too");
    // Cross-validations with other seeds pooled read "2 × 5 折".
    let folds = if cv.repeats > 1 { format!("{} × {}", cv.repeats, cv.folds) } else { cv.folds.to_string() };
    harness.get_by_label_contains(&format!(
        "没见过的照片答对 {:.1}% ± {:.1}%（{folds} 折交叉验证，每张看 12 个视图；只看原图 {:.1}% ± {:.1}%）",
        views.mean_accuracy * 100.0,
        views.sd_accuracy * 100.0,
        cv.mean_accuracy * 100.0,
        cv.sd_accuracy * 100.0
    ));
    let photo = common::flowers17_photo("sunflower");
    open_with_button(&mut harness, &answer, &photo);
    common::run_until(&mut harness, "the picture is shown", 60, |app| app.classify().has_picture());
    verify(&mut harness);

    let result = harness.state().classify().result().cloned().unwrap();
    let ranked = result.ranked();
    let (best, confidence) = ranked[0];
    let ModelStatus::Ready(info) = &harness.state().model else { unreachable!() };
    assert_eq!(info.class_names[best], "sunflower", "this sunflower photo is recognised: {ranked:?}");
    // What a user reads: the Chinese and English names, the confidence, and the introduction.
    harness.get_by_label("向日葵");
    harness.get_by_label("Sunflower");
    harness.get_by_label(&format!("置信度 {}", percent(confidence)));
    harness.get_by_label_contains("Helianthus annuus");
    // Five bars, the first the predicted class.
    harness.get_by_label_contains(&format!("向日葵  {}", percent(confidence)));
    assert_eq!(percent(0.0001), "<0.1%");
    assert_eq!(percent(0.8734), "87.3%");
}

#[test]
fn dropping_a_file_opens_it_and_enter_classifies() {
    let answer = Arc::new(Mutex::new(None));
    let mut harness = harness(answer);
    let photo = common::flowers17_photo("daisy");
    harness.input_mut().dropped_files.push(Arc::new(common::DroppedPath(photo.clone())));
    common::run_until(&mut harness, "the dropped picture is shown", 60, |app| app.classify().has_picture());
    // The file's name and size are on screen.
    harness.get_by_label_contains(&format!("{}  (", photo.display()));
    harness.key_press(egui::Key::Enter);
    common::run_until(&mut harness, "a result is shown", 60, |app| app.classify().result().is_some());
    // What a user reads: the daisy's Chinese and English names, large.
    harness.get_by_label("雏菊");
    harness.get_by_label("Daisy");
}

#[test]
fn the_language_switch_changes_every_label() {
    let answer = Arc::new(Mutex::new(None));
    let mut harness = harness(answer.clone());
    open_with_button(&mut harness, &answer, &common::flowers17_photo("tulip"));
    common::run_until(&mut harness, "the picture is shown", 60, |app| app.classify().has_picture());
    verify(&mut harness);
    harness.get_by_label("English").click();
    harness.run_steps(2);
    harness.get_by_label("Read image");
    harness.get_by_label("Verify");
    harness.get_by_label("Classify");
    harness.get_by_label_contains("Confidence");
    assert!(harness.query_by_label("读取图片").is_none());
    harness.get_by_label("中文").click();
    harness.run_steps(2);
    harness.get_by_label("读取图片");
}

#[test]
fn a_corrupt_file_gets_a_red_message_naming_it_and_the_app_carries_on() {
    let answer = Arc::new(Mutex::new(None));
    let mut harness = harness(answer.clone());
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken-photo.jpg");
    std::fs::write(&broken, b"\xFF\xD8\xFF\xE0 this JPEG stops here").unwrap();
    open_with_button(&mut harness, &answer, &broken);
    common::run_until(&mut harness, "the error is shown", 60, |app| app.messages.error.is_some());
    let message = harness.state().messages.error.clone().unwrap();
    assert!(message.starts_with("无法读取图片") && message.contains("broken-photo.jpg"), "{message}");
    harness.get_by_label_contains("broken-photo.jpg");
    // The app carries on: a good picture still classifies.
    open_with_button(&mut harness, &answer, &common::flowers17_photo("iris"));
    common::run_until(&mut harness, "the picture is shown", 60, |app| app.classify().has_picture());
    assert!(harness.state().messages.error.is_none(), "opening a new picture clears the old error");
    verify(&mut harness);
}

#[test]
fn a_cancelled_dialog_changes_nothing() {
    let answer = Arc::new(Mutex::new(None));
    let mut harness = harness(answer);
    harness.get_by_label("读取图片").click();
    common::run_until(&mut harness, "the dialog has answered", 60, |app| !app.dialogs_open());
    assert!(!harness.state().classify().has_picture());
    assert!(harness.state().messages.notice.is_none() && harness.state().messages.error.is_none());
    assert!(harness.query_by_label("打开图片").is_none(), "no built-in browser after a cancel");
}

#[test]
fn a_settings_save_that_fails_is_shown_in_the_window_once() {
    struct NoStorage;
    impl eframe::Storage for NoStorage {
        fn get_string(&self, _: &str) -> Option<String> {
            None
        }
        fn set_string(&mut self, _: &str, _: String) {}
        fn remove_string(&mut self, _: &str) {}
        fn flush(&mut self) {}
    }
    let dir = tempfile::tempdir().unwrap();
    // The settings folder's place is taken by a regular file.
    let blocker = dir.path().join("activation-atlas");
    std::fs::write(&blocker, "not a folder").unwrap();
    let options = AppOptions { settings_file: Some(blocker.join("settings.ron")), ..common::app_options(picker_from(|_| None)) };
    let mut harness = common::app_with_model(options, [1100.0, 760.0]);
    harness.state_mut().messages.error = None;

    eframe::App::save(harness.state_mut(), &mut NoStorage);
    harness.run_steps(2);
    let message = harness.state().messages.error.clone().expect("the failed save is shown");
    assert!(message.contains("settings.ron"), "{message}");
    harness.get_by_label_contains("settings.ron");

    // The user dismisses it and changes a setting; the next auto-save fails the same way.
    harness.state_mut().messages.error = None;
    harness.state_mut().settings.last_image_dir = Some(dir.path().to_path_buf());
    eframe::App::save(harness.state_mut(), &mut NoStorage);
    harness.run_steps(2);
    assert_eq!(harness.state().messages.error, None, "the same failure is not shown a second time");
}
