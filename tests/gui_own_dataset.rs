//! A user's own data set, first class, in the real app: train a three-class folder from the 训练
//! panel, use the result, 验证 a photo, describe all three classes in the description editor,
//! see the Chinese and then the English name and introduction, the names in the confusion
//! matrix, and an atlas built from the 地图集 tab's own folder chooser with the names on the map.

mod common;

use std::path::PathBuf;

use activation_atlas::app::dialogs::{DialogKind, DialogRequest, Picker, picker_from};
use activation_atlas::app::{AppOptions, AtlasApp, ModelStatus, Tab};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// (class id, Chinese name, English name, Chinese introduction, English introduction).
const DESCRIPTIONS: [(&str, &str, &str, &str, &str); 3] = [
    ("bar", "横条", "Bar", "一条蓝色的横条。", "A blue horizontal bar."),
    ("disc", "圆盘", "Disc", "一个红色的圆盘。", "A red disc."),
    ("square", "方块", "Square", "一个绿色的方块。", "A green square."),
];

fn set_text(harness: &mut Harness<'static, AtlasApp>, label: &str, text: &str) {
    let field = harness.get_by_label(label);
    field.focus();
    field.set_text_value_accesskit(text);
    harness.run_steps(2);
}

#[test]
fn own_classes_get_names_and_introductions_and_an_atlas_from_the_atlas_tab() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, 10);
    let runs = tempfile::tempdir().unwrap();
    let user_descriptions = tempfile::tempdir().unwrap();
    let photo = data.path().join("disc/004.png");
    let (folder, picture) = (data.path().to_path_buf(), photo.clone());
    let atlas_folders_asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let asked = atlas_folders_asked.clone();
    let picker: Picker = picker_from(move |request: DialogRequest| match request.kind {
        DialogKind::PickDataFolder => Some(folder.clone()),
        DialogKind::PickAtlasFolder => {
            asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Some(folder.clone())
        }
        DialogKind::OpenImage => Some(picture.clone()),
        _ => None,
    });
    let options = AppOptions {
        run_root: Some(runs.path().to_path_buf()),
        user_descriptions: Some(user_descriptions.path().to_path_buf()),
        ..common::app_options(picker)
    };
    let mut harness = common::app_with_model(options, [1400.0, 950.0]);

    // Train from the panel and use the result.
    harness.get_by_label("训练").click();
    harness.run_steps(2);
    harness.get_by_label("选择数据集文件夹…").click();
    common::run_until(&mut harness, "the data set summary is shown", 120, |app| app.train().dataset().overview.is_some());
    harness.get_by_label("轮数").set_value_accesskit(3.0);
    harness.get_by_label("批大小").set_value_accesskit(8.0);
    harness.run_steps(2);
    harness.get_by_label("开始训练").click();
    common::run_until(&mut harness, "training ends", 180, |app| {
        app.train().run().running.is_none() && !app.worker_busy() && app.messages.offer.is_some()
    });
    harness.get_by_label("用最佳检查点分类").click();
    common::run_until(
        &mut harness,
        "the trained model is in use",
        120,
        |app| matches!(&app.model, ModelStatus::Ready(info) if info.class_names == ["bar", "disc", "square"]),
    );
    assert_eq!(harness.state().tab, Tab::Classify);

    // 验证 a photo: no description yet, so the window offers to add one.
    harness.get_by_label("读取图片").click();
    common::run_until(&mut harness, "the photo opens", 60, |app| app.classify().has_picture());
    harness.get_by_label("验证").click();
    common::run_until(&mut harness, "a result is shown", 60, |app| app.classify().result().is_some());
    harness.get_by_label_contains("此类别暂无介绍");
    harness.get_by_label("添加介绍").click();
    harness.run_steps(2);
    common::run_until(&mut harness, "the editor shows a picture of every class", 60, |app| {
        app.classify().editor().is_some_and(|editor| editor.class_pictures() == 3)
    });
    assert_eq!(harness.state().classify().editor().unwrap().class_ids, ["bar", "disc", "square"]);

    // Describe every class, one after the other, from the editor's class list.
    for (id, zh, en, intro_zh, intro_en) in DESCRIPTIONS {
        // The class list's entry (a button; the result area may name the same class).
        harness.get_by_role_and_label(eframe::egui::accesskit::Role::Button, id).click();
        harness.run_steps(2);
        set_text(&mut harness, "中文名", zh);
        set_text(&mut harness, "英文名", en);
        set_text(&mut harness, "中文简介", intro_zh);
        set_text(&mut harness, "英文简介", intro_en);
    }
    harness.get_by_label_contains("已填写的类别 3/3");
    harness.get_by_label("保存").click();
    common::run_until(&mut harness, "the descriptions are saved", 30, |app| app.classify().editor().is_none());
    let saved: Vec<PathBuf> = std::fs::read_dir(user_descriptions.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(saved.len(), 1, "one new description file in the user's folder: {saved:?}");
    let set = activation_atlas::descriptions::DescriptionSet::load(&saved[0]).unwrap();
    assert_eq!(set.get("square").unwrap().intro_en, "A green square.");

    // 验证 again: the Chinese name and introduction of the predicted class.
    harness.get_by_label("验证").click();
    common::run_until(&mut harness, "a result is shown", 60, |app| {
        app.classify().result().is_some() && app.classify().verifying().is_none()
    });
    let predicted = {
        let ModelStatus::Ready(info) = &harness.state().model else { unreachable!() };
        let result = harness.state().classify().result().unwrap();
        info.class_names[result.ranked()[0].0].clone()
    };
    let (_, zh, en, intro_zh, intro_en) = DESCRIPTIONS.iter().find(|d| d.0 == predicted).copied().unwrap();
    harness.get_by_label(zh);
    harness.get_by_label(intro_zh);
    harness.get_by_label("编辑介绍"); // described classes are edited, not added

    // Switch to English: the English name and introduction.
    harness.get_by_label("English").click();
    harness.run_steps(3);
    harness.get_by_label(en);
    harness.get_by_label(intro_en);
    harness.get_by_label("中文").click();
    harness.run_steps(3);

    // The names in the training panel's confusion matrix and per-class table.
    harness.get_by_label("训练").click();
    harness.run_steps(3);
    harness.get_by_label_contains("混淆矩阵（验证集）: 横条, 圆盘, 方块");
    harness.get_by_label("2 圆盘");

    // Build an atlas from the 地图集 tab, with its own folder chooser (a small one: one icon level).
    harness.get_by_label("地图集").click();
    harness.run_steps(3);
    harness.get_by_label("构建新的地图集").click();
    harness.run_steps(3);
    harness.get_by_label("选择文件夹…").click();
    // The dialog answers on its own thread; the folder it gives is then counted.
    let chooser_answered = atlas_folders_asked.clone();
    common::run_until(&mut harness, "the chosen folder is counted", 30, move |app| {
        chooser_answered.load(std::sync::atomic::Ordering::SeqCst) == 1 && app.atlas().builder().folder_count.is_some()
    });
    assert_eq!(atlas_folders_asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The count arrived during the last step: draw once more so the form shows it.
    harness.run_steps(2);
    harness.get_by_label_contains("3 个类别，30 张图片");
    set_text(&mut harness, "网格层级", "6");
    set_text(&mut harness, "图标层级", "6");
    harness.get_by_label("图标优化步数").set_value_accesskit(8.0);
    harness.run_steps(2);
    harness.get_by_label("构建").click();
    common::run_until(&mut harness, "the atlas is built and shown", 300, |app| {
        app.atlas().builder().building.is_none() && app.atlas().atlas().is_some_and(|a| a.meta.class_names.len() == 3)
    });
    let built_from = harness.state().atlas().atlas().unwrap().meta.data_dir.clone();
    assert_eq!(built_from, data.path().to_path_buf());
    harness.get_by_label("按类别着色").click();
    harness.run_steps(3);
    for (_, zh, ..) in DESCRIPTIONS {
        assert!(harness.query_all_by_label(zh).count() >= 1, "{zh} is named on the atlas");
    }
}
