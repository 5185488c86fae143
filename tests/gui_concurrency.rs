//! Exploring while long jobs run: the real app and its job system in a kittest harness, driven by
//! the labels a user sees. Training runs on a small flowers17 subset (three classes, linked into a
//! temporary folder) while photos are opened, classified and explained; Cancel followed at once
//! by other jobs still stops the run; an atlas build and a classification run side by side; a
//! panic in the training thread is reported and the rest of the app keeps answering.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use activation_atlas::app::dialogs::{DialogKind, DialogRequest, Picker, picker_from};
use activation_atlas::app::explain_panel::Method;
use activation_atlas::app::{AppOptions, AtlasApp, Tab};
use activation_atlas::worker::JobKind;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

const CLASSES: [&str; 3] = ["sunflower", "daisy", "tulip"];

struct Fixture {
    harness: Harness<'static, AtlasApp>,
    /// What the picture dialog answers next.
    picture: Arc<Mutex<Option<PathBuf>>>,
    _data: tempfile::TempDir,
    _runs: tempfile::TempDir,
}

/// The app with the shipped model, a training subset of [`CLASSES`] behind the folder dialog, on
/// the 训练 tab with the data set read.
fn fixture() -> Fixture {
    let fixture = fixture_with(common::flowers17_subset(&CLASSES, 20, false));
    fixture.harness.get_by_label_contains("3 个类别，60 张图片");
    fixture
}

fn fixture_with(data: tempfile::TempDir) -> Fixture {
    let runs = tempfile::tempdir().unwrap();
    let folder = data.path().to_path_buf();
    let picture = Arc::new(Mutex::new(None));
    let answer = picture.clone();
    let picker: Picker = picker_from(move |request: DialogRequest| match request.kind {
        DialogKind::PickDataFolder => Some(folder.clone()),
        _ => answer.lock().unwrap().clone(),
    });
    let options = AppOptions { run_root: Some(runs.path().to_path_buf()), ..common::app_options(picker) };
    let mut harness = common::app_with_model(options, [1280.0, 900.0]);
    harness.get_by_label("训练").click();
    harness.run_steps(2);
    harness.get_by_label("选择数据集文件夹…").click();
    common::run_until(&mut harness, "the data set summary is shown", 120, |app| app.train().dataset().overview.is_some());
    Fixture { harness, picture, _data: data, _runs: runs }
}

/// Starts a long run from the panel and waits until it is taking steps.
fn start_long_run(harness: &mut Harness<'static, AtlasApp>) {
    harness.get_by_label("训练").click();
    harness.run_steps(2);
    harness.get_by_label("轮数").set_value_accesskit(500.0);
    harness.get_by_label("批大小").set_value_accesskit(8.0);
    harness.run_steps(2);
    assert_eq!(harness.state().train().form().recipe.epochs, 500);
    harness.get_by_label("开始训练").click();
    common::run_until(harness, "training is under way", 120, |app| !app.train().history().step_losses.is_empty());
}

/// Opens `photo` with 读取图片 on the 分类 tab, presses 验证 and waits for the result.
fn classify_with_buttons(harness: &mut Harness<'static, AtlasApp>, picture: &Mutex<Option<PathBuf>>, photo: &Path) {
    harness.get_by_label("分类").click();
    harness.run_steps(2);
    *picture.lock().unwrap() = Some(photo.to_path_buf());
    harness.get_by_label("读取图片").click();
    common::run_until(harness, "the picture is shown", 60, |app| app.classify().shown_photo() == Some(photo));
    harness.get_by_label("验证").click();
    common::run_until(harness, "the class is shown", 60, |app| app.classify().result().is_some());
}

/// The class name shown after 验证, as a user reads it.
fn shown_class(harness: &Harness<'static, AtlasApp>) -> String {
    let app = harness.state();
    let result = app.classify().result().unwrap();
    let best = result.ranked()[0].0;
    let activation_atlas::app::ModelStatus::Ready(info) = &app.model else { panic!("no model") };
    let id = &info.class_names[best];
    let name = app.descriptions.as_ref().and_then(|d| d.get(id)).map(|d| d.name_zh.clone()).unwrap();
    harness.get_by_label(&name); // on screen, in large type
    name
}

#[test]
fn classify_and_explain_while_training_then_cancel_stops_the_run() {
    let Fixture { mut harness, picture, _data, _runs } = fixture();
    start_long_run(&mut harness);
    let steps_before = harness.state().train().history().step_losses.len();

    classify_with_buttons(&mut harness, &picture, &common::flowers17_photo("sunflower"));
    assert_eq!(shown_class(&harness), "向日葵");
    assert!(harness.state().train().run().running.is_some(), "the result came while the run goes on");

    // Grad-CAM (a quick view) computes on its own when 解释 opens.
    harness.get_by_label("解释").click();
    common::run_until(&mut harness, "Grad-CAM is shown", 60, |app| app.explain().result_for(Method::GradCam).is_some());
    assert!(harness.state().train().run().running.is_some(), "the explanation came while the run goes on");
    assert!(harness.state().train().history().step_losses.len() > steps_before, "training kept taking steps meanwhile");
    harness.get_by_label("取消训练"); // the status bar lists the run with its own Cancel

    // Cancel, and in the same frame a dropped photo starts another job: the run still stops.
    harness.get_by_label("取消训练").click();
    harness.input_mut().dropped_files.push(std::sync::Arc::new(common::DroppedPath(common::flowers17_photo("daisy"))));
    harness.step();
    common::run_until(&mut harness, "the run stops", 120, |app| app.train().run().running.is_none());
    harness.get_by_label("训练").click();
    harness.run_steps(2);
    harness.get_by_label("训练已取消，已保存的检查点保持不变");
    assert!(harness.state().train().history().epochs.len() < 500);
    common::run_until(&mut harness, "the daisy is shown", 60, |app| app.classify().has_picture());
}

#[test]
fn an_atlas_build_and_a_classification_at_the_same_time() {
    // An atlas needs the model's classes: every flowers17 class, 5 photos each.
    let Fixture { mut harness, picture, _data, _runs } = fixture_with(common::flowers17_every_class(5));
    common::run_until(&mut harness, "the shipped atlas is shown", 60, |app| app.atlas().atlas().is_some());
    let shipped = harness.state().atlas().path().map(std::path::Path::to_path_buf);
    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    harness.get_by_label("构建新的地图集").click();
    harness.run_steps(2);
    harness.get_by_label("构建").click();
    common::run_until(&mut harness, "the build is under way", 60, |app| app.jobs().is_running(JobKind::BuildAtlas));

    classify_with_buttons(&mut harness, &picture, &common::flowers17_photo("tulip"));
    shown_class(&harness);
    assert!(
        harness.state().jobs().is_running(JobKind::BuildAtlas),
        "classified while the build goes on ({:?})",
        harness.state().messages.error
    );

    common::run_until(&mut harness, "the new atlas is shown", 300, |app| {
        app.atlas().builder().building.is_none() && app.atlas().path() != shipped.as_deref()
    });
    assert!(harness.state().messages.error.is_none(), "{:?}", harness.state().messages.error);
    let atlas = harness.state().atlas().atlas().cloned().unwrap();
    assert_eq!(atlas.meta.image_paths.len(), 5 * 17, "built from the subset");
}

#[test]
fn a_panic_in_the_training_thread_is_reported_and_the_app_goes_on() {
    let Fixture { mut harness, picture, _data, _runs } = fixture();
    harness.state_mut().train_mut().run_mut().panic_after_steps = Some(2);
    harness.get_by_label("开始训练").click();
    common::run_until(&mut harness, "the crash is reported", 120, |app| app.messages.error.is_some());
    let message = harness.state().messages.error.clone().unwrap();
    assert!(message.contains("simulated crash in the training thread"), "{message}");
    harness.get_by_label_contains("simulated crash in the training thread");
    common::run_until(&mut harness, "the run is over", 60, |app| app.train().run().running.is_none());
    assert_eq!(harness.state().tab, Tab::Train);

    classify_with_buttons(&mut harness, &picture, &common::flowers17_photo("daisy"));
    assert_eq!(shown_class(&harness), "雏菊");
    // And a new run can start.
    start_long_run(&mut harness);
    harness.state().cancel_all_jobs();
    common::run_until(&mut harness, "the second run stops", 120, |app| app.train().run().running.is_none());
}

#[test]
fn a_second_run_is_refused_with_the_reason() {
    let Fixture { mut harness, _data, _runs, .. } = fixture();
    start_long_run(&mut harness);
    let first = harness.state().train().run().running;
    // 开始训练 is disabled and says why; a second start (e.g. from resume) is refused in words.
    harness.get_by_label("训练进行中：同时只能训练一个模型；分类、解释和地图集照常可用。");
    harness.state_mut().start_training();
    harness.run_steps(2);
    let message = harness.state().messages.error.clone().expect("a message");
    assert!(message.contains("只能有一个"), "{message}");
    assert_eq!(harness.state().train().run().running, first, "the first run goes on");
    harness.state().cancel_all_jobs();
    common::run_until(&mut harness, "the run stops", 120, |app| app.train().run().running.is_none());
}
