//! The training panel, driven by its labels: choose a (generated) data set folder, train, see the
//! chart points arrive, cancel a run, and switch the classifier to a chosen checkpoint.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use activation_atlas::app::dialogs::{DialogKind, DialogRequest, Picker, picker_from};
use activation_atlas::app::{AppOptions, AtlasApp, ModelStatus, Tab};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

struct Fixture {
    harness: Harness<'static, AtlasApp>,
    _data: tempfile::TempDir,
    _runs: tempfile::TempDir,
}

/// The app with a generated 3-class data set behind the folder dialog.
fn fixture(per_class: usize) -> Fixture {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, per_class);
    let runs = tempfile::tempdir().unwrap();
    let folder = data.path().to_path_buf();
    let picker: Picker = picker_from(move |request: DialogRequest| match request.kind {
        DialogKind::PickDataFolder => Some(folder.clone()),
        _ => None,
    });
    let options = AppOptions { run_root: Some(runs.path().to_path_buf()), ..common::app_options(picker) };
    let mut harness = Harness::builder().with_size([1280.0, 900.0]).build_eframe(move |cc| AtlasApp::new(cc, options));
    common::run_until(&mut harness, "the model loads", 120, |app| matches!(app.model, ModelStatus::Ready(_)));
    harness.get_by_label("训练").click();
    harness.run_steps(2);
    harness.get_by_label("选择数据集文件夹…").click();
    common::run_until(&mut harness, "the data set summary is shown", 120, |app| app.train().dataset().overview.is_some());
    Fixture { harness, _data: data, _runs: runs }
}

/// Sets the recipe's epochs and batch size through their fields (as a screen reader does).
fn set_epochs_and_batch(harness: &mut Harness<'static, AtlasApp>, epochs: u32, batch: usize) {
    harness.get_by_label("轮数").set_value_accesskit(f64::from(epochs));
    harness.get_by_label("批大小").set_value_accesskit(batch as f64);
    harness.run_steps(2);
    let form = &harness.state().train().form();
    assert_eq!((form.recipe.epochs, form.recipe.batch_size), (epochs, batch), "the fields took the values");
}

#[test]
fn train_from_the_panel_and_use_a_checkpoint_for_classification() {
    let Fixture { mut harness, _data, _runs } = fixture(12);
    harness.get_by_label_contains("3 个类别，36 张图片");
    set_epochs_and_batch(&mut harness, 4, 8);
    harness.get_by_label("开始训练").click();
    common::run_until(&mut harness, "the first chart points arrive", 120, |app| !app.train().history().step_losses.is_empty());
    harness.get_by_label("损失"); // the loss chart is on screen
    common::run_until(&mut harness, "training ends", 120, |app| {
        app.train().run().running.is_none() && !app.worker_busy() && app.train().history().checkpoints.len() >= 3
    });
    assert_eq!(harness.state().train().history().epochs.len(), 4);
    assert_eq!(harness.state().train().history().step_losses.len(), 4 * 27usize.div_ceil(8));
    harness.get_by_label("训练完成");
    // The window offers the run's best checkpoint.
    harness.get_by_label("训练已结束。要用这次训练的最佳检查点来分类吗？");
    harness.get_by_label("用最佳检查点分类");
    harness.get_by_label("混淆矩阵（验证集）");
    // Checkpoints listed from the run folder: best, epoch-002, epoch-004.
    let names: Vec<String> =
        harness.state().train().history().checkpoints.iter().map(|c| c.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["best.safetensors", "epoch-002.safetensors", "epoch-004.safetensors"]);
    let chosen: PathBuf = harness.state().train().history().checkpoints[1].path.clone();

    harness.get_all_by_label("用于分类").nth(1).expect("a button per checkpoint").click();
    common::run_until(
        &mut harness,
        "the chosen checkpoint is in use",
        120,
        |app| matches!(&app.model, ModelStatus::Ready(info) if info.path == chosen),
    );
    assert_eq!(harness.state().tab, Tab::Classify);
    let ModelStatus::Ready(info) = &harness.state().model else { unreachable!() };
    assert_eq!(info.class_names, ["bar", "disc", "square"]);
    assert_eq!(info.epoch, 2);
}

#[test]
fn following_a_run_classifies_with_its_best_checkpoint() {
    let Fixture { mut harness, _data, _runs } = fixture(12);
    set_epochs_and_batch(&mut harness, 3, 8);
    harness.get_by_label("跟随这次训练").click();
    harness.run_steps(2);
    assert!(harness.state().train().run().follow, "the checkbox is ticked");
    harness.get_by_label("开始训练").click();
    common::run_until(
        &mut harness,
        "the run's best checkpoint is in use",
        120,
        |app| matches!(&app.model, ModelStatus::Ready(info) if info.path.file_name() == Some("best.safetensors".as_ref())),
    );
    common::run_until(&mut harness, "training ends", 120, |app| app.train().run().running.is_none() && !app.worker_busy());
    let ModelStatus::Ready(info) = &harness.state().model else { panic!("a model is in use") };
    assert_eq!(info.class_names, ["bar", "disc", "square"]);
    assert!(info.path.starts_with(harness.state().train().run().run_dir.as_ref().unwrap()), "{}", info.path.display());
    assert!(harness.state().messages.offer.is_none(), "nothing to offer: the run's best is in use");
}

#[test]
fn cancel_stops_a_run_from_the_panel() {
    let Fixture { mut harness, _data, _runs } = fixture(30);
    set_epochs_and_batch(&mut harness, 50, 64);
    harness.get_by_label("开始训练").click();
    common::run_until(&mut harness, "training is under way", 120, |app| !app.train().history().step_losses.is_empty());
    harness.get_all_by_label("取消").next().expect("a cancel button").click();
    common::run_until(&mut harness, "the run stops", 120, |app| app.train().run().running.is_none() && !app.worker_busy());
    harness.get_by_label("训练已取消，已保存的检查点保持不变");
    let epochs_done = harness.state().train().history().epochs.len();
    assert!(epochs_done < 50, "stopped early, after {epochs_done} epochs");
}

#[test]
fn dropping_a_folder_makes_it_the_training_data_set() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 2, 4);
    let options = AppOptions { model: None, ..common::app_options(picker_from(|_: DialogRequest| None)) };
    let mut harness = Harness::builder().with_size([1280.0, 900.0]).build_eframe(move |cc| AtlasApp::new(cc, options));
    harness.input_mut().dropped_files.push(Arc::new(common::DroppedPath(data.path().to_path_buf())));
    common::run_until(&mut harness, "the data set summary is shown", 120, |app| app.train().dataset().overview.is_some());
    assert_eq!(harness.state().tab, Tab::Train);
    harness.get_by_label_contains("2 个类别，8 张图片");
}
