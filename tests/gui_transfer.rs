//! Transfer learning in the window: 训练 on a flower folder with the pretrained start chosen in
//! the form, the charts and the confusion matrix as for any run, then the best checkpoint in use
//! naming a daisy.

mod common;

use activation_atlas::app::dialogs::{DialogKind, DialogRequest, Picker, picker_from};
use activation_atlas::app::{AppOptions, AtlasApp, ModelStatus};
use activation_atlas::engine::network::Architecture;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

#[test]
fn a_pretrained_start_trains_a_last_layer_in_the_window_and_its_model_names_flowers() {
    let data = common::flowers17_subset(&["daisy", "sunflower", "tulip"], 10, false);
    let runs = tempfile::tempdir().unwrap();
    let folder = data.path().to_path_buf();
    let picker: Picker = picker_from(move |request: DialogRequest| match request.kind {
        DialogKind::PickDataFolder => Some(folder.clone()),
        _ => None,
    });
    let options = AppOptions {
        run_root: Some(runs.path().to_path_buf()),
        image: Some(common::flowers17_photo("daisy")),
        ..common::app_options(picker)
    };
    let mut harness: Harness<'static, AtlasApp> = common::app_on_training_folder(options, [1280.0, 900.0]);

    harness.get_by_label("预训练的网络（只训练最后一层）").click();
    harness.run_steps(2);
    // The choice says what it means, and the form holds that start's recipe.
    harness.get_by_label_contains("这个网络已经在一百多万张照片上学会了看边缘、纹理和形状");
    let recipe = harness.state().train().form().recipe.clone();
    assert!(recipe.pretrained.is_some());
    assert_eq!((recipe.epochs, recipe.label_smoothing), (40, 0.1));
    harness.get_by_label("轮数").set_value_accesskit(12.0);
    harness.run_steps(2);
    harness.get_by_label("开始训练").click();
    common::run_until(&mut harness, "training ends", 240, |app| {
        app.train().run().running.is_none() && !app.worker_busy() && !app.train().history().checkpoints.is_empty()
    });
    assert!(harness.state().messages.error.is_none(), "{:?}", harness.state().messages.error);
    assert_eq!(harness.state().train().history().epochs.len(), 12, "a chart point per epoch");
    harness.get_by_label("训练完成");
    harness.get_by_label("混淆矩阵（验证集）");
    let names: Vec<String> =
        harness.state().train().history().checkpoints.iter().map(|c| c.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["best.safetensors", "epoch-012.safetensors"]);

    harness.get_by_label("用最佳检查点分类").click();
    common::run_until(
        &mut harness,
        "the new model is in use",
        120,
        |app| matches!(&app.model, ModelStatus::Ready(info) if info.architecture == Architecture::EfficientNetLite0),
    );
    let ModelStatus::Ready(info) = &harness.state().model else { unreachable!() };
    assert_eq!(info.class_names, ["daisy", "sunflower", "tulip"]);
    harness.run_steps(2);
    harness.get_by_label_contains("(EfficientNet-Lite0) · 3 类别");
    harness.get_by_label("分类").click();
    harness.run_steps(2);
    harness.get_by_label("验证").click();
    common::run_until(&mut harness, "a result is shown", 60, |app| app.classify().result().is_some());
    harness.run_steps(2);
    harness.get_by_label_contains("雏菊  ");

    // The transfer-learned flowers model that ships, named in 模型 with its cross-validated
    // accuracy, comes with its own atlas of the backbone.
    harness.get_by_label("模型").click();
    harness.run_steps(2);
    harness.get_by_label_contains("使用随附的花卉模型（EfficientNet-Lite0 迁移学习）：交叉验证 96.").click();
    common::run_until(&mut harness, "the shipped transfer model and its atlas are in use", 120, |app| {
        matches!(&app.model, ModelStatus::Ready(info) if info.class_names.len() == 17 && info.architecture == Architecture::EfficientNetLite0)
            && app.atlas().atlas().is_some_and(|atlas| atlas.meta.geometry.as_ref().is_some_and(|g| g.architecture == "efficientnet-lite0"))
    });
}

#[test]
fn fine_tuning_is_a_third_start_in_the_window_with_its_own_recipe() {
    let data = common::flowers17_subset(&["daisy", "sunflower", "tulip"], 10, false);
    let runs = tempfile::tempdir().unwrap();
    let folder = data.path().to_path_buf();
    let picker: Picker = picker_from(move |request: DialogRequest| match request.kind {
        DialogKind::PickDataFolder => Some(folder.clone()),
        _ => None,
    });
    let options = AppOptions { run_root: Some(runs.path().to_path_buf()), ..common::app_options(picker) };
    let mut harness: Harness<'static, AtlasApp> = common::app_on_training_folder(options, [1280.0, 1000.0]);

    harness.get_by_label("预训练的网络（微调最后几层）").click();
    harness.run_steps(2);
    harness.get_by_label_contains("再用随机裁剪、翻转过的照片一起调整它最后几层");
    let recipe = harness.state().train().form().recipe.clone();
    assert!(recipe.fine_tunes());
    assert!(recipe.augmentation.horizontal_flip && recipe.augmentation.crop_min_area < 1.0, "augmentation is on: {recipe:?}");
    // Its own rows: how many blocks learn, and the augmentation a last layer alone does not have.
    harness.get_by_label("微调的层数").set_value_accesskit(2.0);
    assert!(harness.query_all_by_label("随机水平翻转").next().is_some(), "the augmentation rows are shown");
    harness.get_by_label("轮数").set_value_accesskit(1.0);
    harness.run_steps(2);
    let recipe = harness.state().train().form().recipe.clone();
    assert_eq!(recipe.pretrained.map(|start| start.mode), Some(activation_atlas::engine::recipe::TransferMode::Finetune { unfreeze: 2 }));
    harness.get_by_label("开始训练").click();
    common::run_until(&mut harness, "fine-tuning ends", 300, |app| {
        app.train().run().running.is_none() && !app.worker_busy() && !app.train().history().checkpoints.is_empty()
    });
    assert!(harness.state().messages.error.is_none(), "{:?}", harness.state().messages.error);
    assert_eq!(harness.state().train().history().epochs.len(), 1);
    harness.get_by_label("训练完成");
    harness.get_by_label("用最佳检查点分类").click();
    common::run_until(
        &mut harness,
        "the fine-tuned model is in use",
        120,
        |app| matches!(&app.model, ModelStatus::Ready(info) if info.architecture == Architecture::EfficientNetLite0 && info.class_names.len() == 3),
    );
    // Back to the paper's network: its own recipe again, without the fine-tuning rows.
    harness.get_by_label("训练").click();
    harness.run_steps(2);
    harness.get_by_label("论文的网络，从头训练").click();
    harness.run_steps(2);
    assert!(harness.state().train().form().recipe.pretrained.is_none());
    assert!(harness.query_all_by_label("微调的层数").next().is_none());
}

#[test]
fn the_open_imported_network_is_a_pretrained_start_in_the_window() {
    use activation_atlas::engine::checkpoint::save_network;
    use activation_atlas::engine::network::build_network;
    use activation_atlas::engine::network::import::{imagenet_class_names, load_network, network_meta};
    let data = common::flowers17_subset(&["daisy", "sunflower"], 6, false);
    let runs = tempfile::tempdir().unwrap();
    // A ResNet-18 as 模型 → 导入网络… leaves one, open in the window.
    let resnet = build_network(Architecture::ResNet18, 1000, tch::Device::Cpu).unwrap();
    let imported = runs.path().join("my-resnet18.safetensors");
    save_network(resnet.var_store(), &network_meta(resnet.as_ref(), imagenet_class_names()), &imported).unwrap();
    let folder = data.path().to_path_buf();
    let picker: Picker = picker_from(move |request: DialogRequest| match request.kind {
        DialogKind::PickDataFolder => Some(folder.clone()),
        _ => None,
    });
    let options = AppOptions { run_root: Some(runs.path().to_path_buf()), model: Some(imported.clone()), ..common::app_options(picker) };
    let mut harness: Harness<'static, AtlasApp> = common::app_on_training_folder(options, [1280.0, 900.0]);

    harness.get_by_label("预训练的网络（只训练最后一层）").click();
    harness.run_steps(2);
    // The shipped network is the start until the open one is chosen.
    assert_eq!(harness.state().train().form().recipe.pretrained.as_ref().unwrap().backbone, "efficientnet-lite0");
    harness.get_by_label_contains("打开的网络：my-resnet18").click();
    harness.run_steps(2);
    assert_eq!(harness.state().train().form().recipe.pretrained.as_ref().unwrap().backbone, imported.display().to_string());
    harness.get_by_label("轮数").set_value_accesskit(2.0);
    harness.run_steps(2);
    harness.get_by_label("开始训练").click();
    common::run_until(&mut harness, "training ends", 240, |app| {
        app.train().run().running.is_none() && !app.worker_busy() && !app.train().history().checkpoints.is_empty()
    });
    assert!(harness.state().messages.error.is_none(), "{:?}", harness.state().messages.error);
    let best = harness.state().train().history().checkpoints.iter().find(|c| c.path.ends_with("best.safetensors")).unwrap().path.clone();
    let trained = load_network(&best, tch::Device::Cpu).expect("a whole network");
    assert_eq!(trained.meta.architecture, "resnet18");
    assert_eq!(trained.meta.class_names, ["daisy", "sunflower"]);
}
