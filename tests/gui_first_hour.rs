//! What a new user met in their first hour, driven as a person drives the window: each test names
//! the place where someone got stuck and checks that they no longer do.

mod common;

use std::path::PathBuf;

use activation_atlas::app::ModelStatus;
use activation_atlas::app::dialogs::{DialogRequest, picker_from};
use activation_atlas::engine::checkpoint::{CheckpointMeta, save_checkpoint};
use activation_atlas::engine::model::Net;

fn shipped_atlas_path() -> PathBuf {
    activation_atlas::resources::find_resource(std::path::Path::new("assets/flowers17.atlas")).expect("the atlas is shipped")
}

/// An untrained network with 17 classes: another model than the shipped one.
fn other_model(dir: &std::path::Path) -> PathBuf {
    let net = Net::seeded(17, tch::Device::Cpu, 5);
    let path = dir.join("other.safetensors");
    save_checkpoint(&net, &CheckpointMeta::new((0..17).map(|i| format!("class{i}")).collect()), &path).expect("the model is saved");
    path
}

#[test]
fn the_model_menu_brings_back_the_shipped_model_and_its_atlas() {
    let dir = tempfile::tempdir().unwrap();
    let options = activation_atlas::app::AppOptions {
        model: Some(other_model(dir.path())),
        ..common::app_options(picker_from(|_: DialogRequest| None))
    };
    let mut harness = common::app_with_model(options, [1000.0, 700.0]);
    common::run_until(&mut harness, "the atlas offered at start is looked at", 60, |app| !app.worker_busy());
    assert!(harness.state().atlas().atlas().is_none(), "the shipped atlas is of another model");
    // The user built an atlas of their own before (here a file that no longer loads): the last
    // atlas used is tried first, and the shipped model's own atlas is still found after it.
    let mine = dir.path().join("mine.atlas");
    std::fs::write(&mine, b"not an atlas").unwrap();
    harness.state_mut().settings.last_atlas = Some(mine);

    common::menu_item(&mut harness, "模型", "使用随附的花卉模型");

    let shipped = std::path::absolute(activation_atlas::resources::shipped_model().expect("the model is shipped")).unwrap();
    common::run_until(&mut harness, "the shipped model and its atlas are in use", 60, |app| {
        matches!(&app.model, ModelStatus::Ready(info) if info.path == shipped) && app.atlas().path() == Some(shipped_atlas_path().as_path())
    });
    assert!(harness.state().messages.error.is_none(), "{:?}", harness.state().messages.error);
}

#[test]
fn the_timeline_of_a_run_without_its_folder_says_in_the_window_language_where_to_choose_it() {
    let mut harness = common::app_with_model(common::app_options(picker_from(|_: DialogRequest| None)), [1000.0, 700.0]);
    use egui_kittest::kittest::Queryable;
    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    harness.get_by_label("时间线").click();
    harness.run_steps(2);
    // The shipped model's folder holds no record of the photos it trained on.
    harness.get_by_label("本模型所在运行的时间线").click();
    common::run_until(&mut harness, "the timeline job ends", 60, |app| app.messages.error.is_some() && !app.worker_busy());
    let error = harness.state().messages.error.clone().unwrap();
    assert!(error.contains("选择文件夹…") && error.contains("构建新的地图集"), "it names where to choose the folder: {error}");
    assert!(!error.contains('/') && !error.is_ascii(), "Chinese words, no path of this machine: {error}");
}
