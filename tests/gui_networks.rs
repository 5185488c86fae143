//! Any network in the window: 模型 → 导入网络… reads a PyTorch state dict (here the shipped
//! EfficientNet-Lite0 ImageNet weights, as a user's .safetensors), recognises its architecture,
//! makes it the model in use; 验证 names the photo with ImageNet's classes and 解释 shows
//! Grad-CAM at two of its layers, chosen from the network's own layer list, a feature
//! visualisation, and 地图集 builds a small atlas of it from a flower folder.

mod common;

use std::path::Path;

use activation_atlas::app::dialogs::{DialogKind, DialogRequest, Picker, picker_from};
use activation_atlas::app::explain_panel::{Method, Shown};
use activation_atlas::app::{AppOptions, AtlasApp, ModelStatus};
use activation_atlas::engine::network::Architecture;
use egui_kittest::kittest::{NodeT, Queryable};

#[test]
fn an_imported_efficientnet_classifies_and_explains_at_its_own_layers() {
    let data_home = tempfile::tempdir().expect("temp dir");
    // The only test of this binary, so no other thread reads the variable meanwhile.
    unsafe { std::env::set_var("XDG_DATA_HOME", data_home.path()) };
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/efficientnet-lite0-imagenet.safetensors");
    let picker: Picker = picker_from(move |request: DialogRequest| match request.kind {
        DialogKind::ImportNetwork => Some(weights.clone()),
        _ => None,
    });
    let folder = common::flowers17_subset(&["daisy", "sunflower", "tulip"], 4, false);
    let options = AppOptions {
        image: Some(common::flowers17_photo("daisy")),
        data_dir: Some(folder.path().to_path_buf()),
        run_root: Some(data_home.path().join("runs")),
        ..common::app_options(picker)
    };
    let mut harness = common::app_with_model(options, [1280.0, 900.0]);
    common::run_until(&mut harness, "the photo is open", 60, |app| app.classify().has_picture() && !app.worker_busy());

    common::menu_item(&mut harness, "模型", "导入网络…");
    common::run_until(
        &mut harness,
        "the imported network is in use",
        120,
        |app| matches!(&app.model, ModelStatus::Ready(info) if info.architecture == Architecture::EfficientNetLite0),
    );
    let imported = data_home.path().join("activation-atlas/networks/efficientnet-lite0-imagenet-efficientnet-lite0.safetensors");
    assert!(imported.exists(), "the import is kept in the user's data folder");
    harness.run_steps(2);
    harness.get_by_label_contains("(EfficientNet-Lite0) · 1000 类别 · 导入的权重");

    // 验证 on the daisy photo: ImageNet's own name for it.
    harness.get_by_label("分类").click();
    harness.run_steps(2);
    harness.get_by_label("验证").click();
    common::run_until(&mut harness, "a result is shown", 60, |app| app.classify().result().is_some());
    harness.run_steps(2);
    // The answer line (name, two spaces, probability): ImageNet's "daisy" is a class the shipped
    // descriptions know, so it is named and introduced as the flower model's daisy is.
    harness.get_by_label_contains("雏菊  ");

    // 解释: Grad-CAM at the network's last grid layer, then at a middle block from its list.
    harness.get_by_label("解释").click();
    common::run_until(&mut harness, "Grad-CAM at head", 120, |app| {
        app.explain().results().running.is_none() && grad_cam_caption_of(app).is_some_and(|c| c.contains("head"))
    });
    harness.get_by_label("层").click();
    harness.run_steps(2);
    harness.get_by_label("block5").click();
    harness.run_steps(2);
    // The paper's figure is there, disabled; the kernels are any network's.
    assert!(harness.get_by_label("论文特征图").accesskit_node().is_disabled());
    assert!(!harness.get_by_label("特征图").accesskit_node().is_disabled());
    assert!(!harness.get_by_label("卷积核").accesskit_node().is_disabled());
    // Choosing another layer recomputes the map by itself, as choosing another method does.
    common::run_until(&mut harness, "Grad-CAM at block5", 120, |app| {
        app.explain().results().running.is_none() && grad_cam_caption_of(app).is_some_and(|c| c.contains("block5"))
    });
    harness.run_steps(2);
    harness.get_by_label_contains("block5 · 雏菊");

    // Feature visualisation of a class, at the network's own input size.
    harness.get_by_label("特征可视化").click();
    harness.run_steps(2);
    harness.get_by_label("步数").set_value_accesskit(8.0);
    harness.run_steps(2);
    harness.get_by_label("计算").click();
    common::run_until(&mut harness, "the visualisation is shown", 120, |app| {
        app.explain().results().running.is_none() && app.explain().result_for(Method::Visualize).is_some()
    });
    let Some(Shown::Picture { picture, .. }) = harness.state().explain().result_for(Method::Visualize) else { panic!("no picture") };
    assert_eq!((picture.width, picture.height), (224, 224));

    let Some(Shown::Heat { all_zero, heat_picture, .. }) = harness.state().explain().result_for(Method::GradCam) else { panic!("no map") };
    assert!(!all_zero && heat_picture.width > 0);

    // 卷积核 starts at the stem, whose kernels see the picture: 32 colour tiles, 8 a row.
    harness.get_by_label("卷积核").click();
    common::run_until(&mut harness, "the stem's kernels are shown", 120, |app| {
        app.explain().results().running.is_none() && app.explain().result_for(Method::Filters).is_some()
    });
    let Some(Shown::Picture { picture, .. }) = harness.state().explain().result_for(Method::Filters) else { panic!("no kernels") };
    assert!(picture.width > picture.height && picture.height > 0, "{} x {}", picture.width, picture.height);

    // 地图集: a small atlas of the network from the flower folder, at its middle block.
    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    harness.get_by_label("构建新的地图集").click();
    common::run_until(&mut harness, "the folder is counted", 60, |app| app.atlas().builder().folder_count.is_some());
    harness.run_steps(2);
    // The folder's classes are not ImageNet's: the form says how they are attributed.
    harness.get_by_label_contains("这个网络学的是别的类别");
    assert_eq!(harness.state().atlas().builder().form.layer.name(), "block8", "the middle of its grid layers");
    assert_eq!(harness.state().atlas().builder().form.icon_levels, "10 20", "fewer icon levels for a network at 224");
    assert_eq!(harness.state().atlas().builder().form.icon_steps, 64, "and fewer steps an icon");
    harness.get_by_label("网格层级").set_text_value_accesskit("3 6");
    harness.get_by_label("图标层级").set_text_value_accesskit("3");
    harness.get_by_label("图标优化步数").set_value_accesskit(6.0);
    harness.run_steps(2);
    harness.get_by_label("构建").click();
    common::run_until(&mut harness, "the atlas is built", 300, |app| {
        app.atlas().builder().building.is_none() && app.atlas().path().is_some_and(|p| p.starts_with(data_home.path()))
    });
    assert!(harness.state().messages.error.is_none(), "{:?}", harness.state().messages.error);
    let atlas = harness.state().atlas().atlas().cloned().expect("the new atlas is in use");
    let geometry = atlas.meta.geometry.clone().expect("its network's geometry");
    assert_eq!((geometry.architecture.as_str(), geometry.grid), ("efficientnet-lite0", 14));
    assert_eq!(atlas.collected.len(), 12 * 16);
    assert!(!atlas.icons[0].cells.is_empty(), "its cells have icons");
    harness.run_steps(3);
    // The legend names the folder's classes, not ImageNet's first ones.
    harness.get_by_label("按类别着色").click();
    harness.run_steps(3);
    harness.get_by_label("向日葵");
}

fn grad_cam_caption_of(app: &AtlasApp) -> Option<String> {
    match app.explain().result_for(Method::GradCam) {
        Some(Shown::Heat { caption, .. }) => Some(format!("{caption:?}")),
        _ => None,
    }
}
