//! What a new user met in their first hour, driven as a person drives the window: each test names
//! the place where someone got stuck and checks that they no longer do.

mod common;

use std::path::PathBuf;

use activation_atlas::app::ModelStatus;
use activation_atlas::app::dialogs::{DialogRequest, picker_from};
use activation_atlas::app::explain_panel::{Method, Shown};
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

    {
        use egui_kittest::kittest::Queryable;
        harness.get_by_label("模型").click();
        harness.run_steps(2);
        // Each shipped model is named with its cross-validated accuracy as its sidecar records it.
        harness.get_by_label_contains("使用随附的花卉模型（论文的网络）：交叉验证 80.").click();
        harness.run_steps(2);
    }

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

/// The app on 解释 with a sunflower open and its class activation map computed.
fn app_explaining_a_sunflower() -> egui_kittest::Harness<'static, activation_atlas::app::AtlasApp> {
    use egui_kittest::kittest::Queryable;
    let options = activation_atlas::app::AppOptions {
        image: Some(common::flowers17_photo("sunflower")),
        ..common::app_options(picker_from(|_: DialogRequest| None))
    };
    let mut harness = common::app_with_model(options, [1000.0, 700.0]);
    common::run_until(&mut harness, "the photo is open", 60, |app| app.classify().has_picture() && !app.worker_busy());
    harness.get_by_label("解释").click();
    common::run_until(&mut harness, "its class activation map is shown", 60, |app| {
        app.explain().results().running.is_none() && app.explain().result_for(Method::GradCam).is_some()
    });
    harness
}

/// The caption of the map on screen as the window should word it in `chinese` or English.
fn map_caption(app: &activation_atlas::app::AtlasApp, chinese: bool) -> String {
    let Some(Shown::Heat { class, .. }) = app.explain().result_for(Method::GradCam) else { panic!("no map shown") };
    let ModelStatus::Ready(info) = &app.model else { panic!("no model") };
    let name =
        activation_atlas::descriptions::DescriptionSet::display_names(app.descriptions.as_ref(), &info.class_names[*class], chinese).0;
    format!("Grad-CAM · conv4 · {name}")
}

#[test]
fn switching_the_language_rewords_the_results_on_screen() {
    use egui_kittest::kittest::Queryable;
    let mut harness = app_explaining_a_sunflower();
    let (zh, en) = (map_caption(harness.state(), true), map_caption(harness.state(), false));
    assert_ne!(zh, en, "the class has a Chinese and an English name");
    harness.get_by_label(&zh);
    harness.get_by_label("English").click();
    harness.run_steps(3);
    harness.get_by_label(&en);
    assert!(harness.query_by_label(&zh).is_none(), "no Chinese name is left in the English window");
    harness.get_by_label("中文").click();
    harness.run_steps(3);
    harness.get_by_label(&zh);
}

#[test]
fn a_slow_method_chosen_after_a_map_says_that_the_map_is_the_previous_ones() {
    use egui_kittest::kittest::Queryable;
    let mut harness = app_explaining_a_sunflower();
    assert!(harness.query_by_label_contains("按“计算”").is_none(), "the map on screen is the chosen method's");
    // Score-CAM is slow: it waits for 计算, and the Grad-CAM map stays on screen meanwhile.
    harness.get_by_label("方法").click();
    harness.run_steps(2);
    harness.get_by_label("Score-CAM").click();
    harness.run_steps(3);
    harness.get_by_label("下面是 Grad-CAM 的结果；按“计算”得到 Score-CAM 的结果");
    // Occlusion has no map yet: the window says how to get one.
    harness.get_by_label("遮挡分析").click();
    harness.run_steps(3);
    harness.get_by_label("这个方法较慢，按“计算”开始");
}

#[test]
fn mistakes_on_photos_the_model_trained_on_say_so_and_offer_an_unseen_folder() {
    use egui_kittest::kittest::Queryable;
    // Two photos of each class of flowers17: photos the shipped model trained on.
    let folder = tempfile::tempdir().unwrap();
    for class in std::fs::read_dir(common::flowers17()).unwrap().flatten().filter(|entry| entry.path().is_dir()) {
        let dest = folder.path().join(class.file_name());
        std::fs::create_dir(&dest).unwrap();
        let mut photos: Vec<_> = std::fs::read_dir(class.path()).unwrap().flatten().map(|e| e.path()).collect();
        photos.sort();
        for photo in photos.iter().take(2) {
            std::fs::copy(photo, dest.join(photo.file_name().unwrap())).unwrap();
        }
    }
    let chosen = folder.path().to_path_buf();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    let picker = picker_from(move |request: DialogRequest| {
        seen.lock().unwrap().push(request.kind);
        (request.kind == activation_atlas::app::dialogs::DialogKind::PickMistakesFolder).then(|| chosen.clone())
    });
    let mut harness = common::app_with_model(common::app_options(picker), [1000.0, 700.0]);
    harness.get_by_label("错误").click();
    harness.run_steps(2);
    harness.get_by_label("选择文件夹…").click();
    common::run_until(&mut harness, "the folder is chosen", 20, |app| app.mistakes().folder() == Some(&folder.path().to_path_buf()));
    harness.get_by_label("查找错误").click();
    common::run_until(&mut harness, "the mistakes are found", 240, |app| {
        app.mistakes().found().is_some() && app.mistakes().finding().is_none()
    });
    assert!(!harness.state().mistakes().found().unwrap().held_out, "the shipped model kept no photos aside");
    // It says why, and quotes the estimate that does tell how the model does on unseen photos.
    harness.get_by(|node| {
        node.value()
            .is_some_and(|text| text.contains("很可能用这些照片训练过") && text.contains("没见过的照片答对") && text.contains("折交叉验证"))
    });
    let before = asked.lock().unwrap().len();
    harness.get_by_label("选择它没见过的照片文件夹…").click();
    common::run_until(&mut harness, "a folder is asked for", 20, |_| asked.lock().unwrap().len() > before);
    assert_eq!(asked.lock().unwrap().last(), Some(&activation_atlas::app::dialogs::DialogKind::PickMistakesFolder));
}

#[test]
fn the_timeline_page_says_its_paragraph_once_and_the_class_mosaic_has_no_inspector() {
    use egui_kittest::kittest::Queryable;
    let mut harness = common::app_with_model(common::app_options(picker_from(|_: DialogRequest| None)), [1000.0, 700.0]);
    common::run_until(&mut harness, "the shipped atlas loads", 60, |app| app.atlas().atlas().is_some());
    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    assert!(harness.query_by_label("构建新的地图集").is_some(), "the map's side panel has the build form");
    harness.get_by_label("类别拼图").click();
    harness.run_steps(3);
    assert!(harness.query_by_label("构建新的地图集").is_none(), "the mosaic keeps none of the map's side panel");
    assert!(harness.query_by_label_contains("导出").is_none(), "nor its export");
    harness.get_by_label("时间线").click();
    harness.run_steps(3);
    assert_eq!(harness.query_all_by_label_contains("时间线显示同一批激活位置").count(), 1, "the explanation once, not twice");
}

#[test]
fn a_job_waiting_its_turn_says_what_it_waits_for_and_the_status_bar_never_overlaps() {
    use egui_kittest::kittest::Queryable;
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, 5);
    let folder = data.path().to_path_buf();
    let picker = picker_from(move |request: DialogRequest| {
        (request.kind == activation_atlas::app::dialogs::DialogKind::PickDataFolder).then(|| folder.clone())
    });
    let options = activation_atlas::app::AppOptions { image: Some(common::flowers17_photo("sunflower")), ..common::app_options(picker) };
    let mut harness = common::app_with_model(options, [1000.0, 700.0]);
    common::run_until(&mut harness, "the photo is open", 60, |app| app.classify().has_picture() && !app.worker_busy());
    // A long feature visualisation occupies the interactive worker...
    harness.get_by_label("解释").click();
    harness.run_steps(2);
    harness.get_by_label("特征可视化").click();
    harness.run_steps(2);
    harness.get_by_label("步数").set_value_accesskit(1000.0);
    harness.run_steps(2);
    harness.get_by_label("计算").click();
    common::run_until(&mut harness, "the visualisation runs", 20, |app| app.explain().results().running.is_some());
    // ...while a data set is read, which waits its turn.
    harness.get_by_label("训练").click();
    harness.run_steps(2);
    harness.get_by_label("选择数据集文件夹…").click();
    // The dialog answers on a thread of its own; then the reading is asked for.
    common::run_until(&mut harness, "the data set is asked to be read", 20, |app| app.train().dataset().scanning.is_some());
    assert!(harness.state().explain().results().running.is_some(), "the visualisation still runs");
    assert!(harness.query_all_by_label_contains("排队中：等“解释”做完").count() >= 1, "the waiting job says what it waits for");
    assert!(harness.query_by_label_contains("0/0").is_none(), "no count of nothing");
    // The status bar: the model's line is cut short before the jobs, not drawn under them.
    let model_line = harness.get_by_label_contains("模型: flowers17").rect();
    for job in ["取消解释", "取消读取数据集"] {
        assert!(!model_line.intersects(harness.get_by_label(job).rect()), "{job} is drawn over the model's line");
    }
    let (job, _) = harness.state().explain().results().running.unwrap();
    harness.state().jobs().cancel(job);
    common::run_until(&mut harness, "the data set is read once its turn comes", 60, |app| app.train().dataset().overview.is_some());
}

#[test]
fn the_classifier_names_its_description_file_without_the_folders_around_it() {
    use egui_kittest::kittest::Queryable;
    let options = activation_atlas::app::AppOptions {
        image: Some(common::flowers17_photo("daisy")),
        ..common::app_options(picker_from(|_: DialogRequest| None))
    };
    let mut harness = common::app_with_model(options, [1000.0, 700.0]);
    common::run_until(&mut harness, "the photo is open", 60, |app| app.classify().has_picture() && !app.worker_busy());
    harness.get_by_label("验证").click();
    common::run_until(&mut harness, "the class is shown", 60, |app| app.classify().result().is_some());
    harness.run_steps(2);
    harness.get_by_label("介绍来自: flowers17.toml");
    assert!(harness.query_by_label_contains("/descriptions/").is_none(), "no folder of this machine is shown");
}

#[test]
fn a_seventeen_class_confusion_matrix_stays_readable_at_1000_px() {
    use egui_kittest::kittest::Queryable;
    let data = tempfile::tempdir().unwrap();
    for class in 0..17 {
        let dir = data.path().join(format!("flower_{class:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..10 {
            common::shape_image(class, i * 7 + 3, 64).save(dir.join(format!("{i:03}.png"))).unwrap();
        }
    }
    let runs = tempfile::tempdir().unwrap();
    let folder = data.path().to_path_buf();
    let picker = picker_from(move |request: DialogRequest| {
        (request.kind == activation_atlas::app::dialogs::DialogKind::PickDataFolder).then(|| folder.clone())
    });
    let options = activation_atlas::app::AppOptions { run_root: Some(runs.path().to_path_buf()), ..common::app_options(picker) };
    let mut harness = common::app_on_training_folder(options, [1000.0, 700.0]);
    harness.get_by_label("轮数").set_value_accesskit(1.0);
    harness.run_steps(2);
    harness.get_by_label("开始训练").click();
    common::run_until(&mut harness, "training ends with its confusion matrix", 180, |app| {
        app.train().run().running.is_none() && app.train().history().last_validation.is_some()
    });
    harness.run_steps(3);
    // The charts' legends sit on a line of their own under each title, never over the curves.
    for (title, entry) in [("损失", "验证损失"), ("准确率", "验证准确率")] {
        let title = harness.get_by_label(title).rect();
        let under_title = harness
            .query_all_by_label(entry)
            .map(|n| n.rect())
            .any(|r| r.top() >= title.bottom() - 1.0 && r.top() < title.bottom() + 24.0 && r.left() < title.left() + 160.0);
        assert!(under_title, "the legend entry {entry} is on the line under its chart's title");
    }
    let matrix = harness.get_by_label_contains("混淆矩阵（验证集）: flower_00").rect();
    assert!(matrix.height() >= 17.0 * 20.0, "every row at least 20 px high, its name and counts readable: {matrix:?}");
    let f1 = harness.get_by_label("F1").rect();
    assert!(f1.right() <= 1000.0, "the per-class table's F1 column is on screen: {f1:?}");
}

#[test]
fn the_training_form_hints_read_at_the_size_of_their_fields_on_one_line() {
    use egui_kittest::kittest::Queryable;
    let mut harness = common::app_with_model(common::app_options(picker_from(|_: DialogRequest| None)), [1000.0, 700.0]);
    harness.get_by_label("训练").click();
    harness.run_steps(3);
    let field = harness.get_by_label("轮数").rect();
    let hint = harness.get_by_label("遍历训练集的次数（论文：10）").rect();
    // One line of the page's own text size, as high as the form's heading line.
    let line = harness.get_by_label("训练参数").rect().height();
    assert!(hint.height() <= line * 1.3, "the hint is one line: {hint:?} vs {line}");
    assert!(hint.height() >= line * 0.9, "and not smaller than the text around it: {hint:?} vs {line}");
    assert!(hint.left() > field.right(), "beside its field");
}

/// Clicks the middle of the atlas map at 1000 x 700 and waits for the cell's photos.
fn inspect_a_cell(harness: &mut egui_kittest::Harness<'static, activation_atlas::app::AtlasApp>) {
    use eframe::egui;
    let centre = egui::pos2(330.0, 380.0);
    harness.event(egui::Event::PointerMoved(centre));
    harness.run_steps(1);
    for pressed in [true, false] {
        harness.event(egui::Event::PointerButton {
            pos: centre,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: Default::default(),
        });
        harness.run_steps(1);
    }
    assert!(harness.state().atlas().inspector().selected.is_some(), "a click on the map selects a cell");
    common::run_until(harness, "the cell's photos arrive", 60, |app| app.atlas().patch_count() > 0);
}

#[test]
fn an_atlas_photo_in_the_training_data_set_opens_and_its_numbers_are_said_in_words() {
    use egui_kittest::kittest::Queryable;
    // The data set is on this machine, chosen in 训练 (the atlas form was never opened).
    let options = activation_atlas::app::AppOptions { data_dir: Some(common::flowers17()), ..common::app_options(picker_from(|_| None)) };
    let mut harness = common::app_with_model(options, [1000.0, 700.0]);
    common::run_until(&mut harness, "the shipped atlas loads", 60, |app| app.atlas().atlas().is_some());
    // The status line says what the cross-validated figure means before the number.
    let status_line = |text: &str| text.contains("没见过的照片答对") && text.contains("折交叉验证");
    assert!(harness.query_all_by(|node| node.value().is_some_and(|text| status_line(&text))).count() > 0);
    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    inspect_a_cell(&mut harness);
    // What each class's attribution means, in words beside its number.
    let phrases = harness.query_all_by(|node| node.value().is_some_and(|text| text.contains("支持“") && text.contains("（归因 "))).count();
    assert!(phrases > 0, "the cell's classes are said with how strongly they are supported");
    let fit = harness.query_all_by(|node| node.value().is_some_and(|text| text.contains("贴合这个格子（方向余弦 "))).count();
    assert!(fit > 0, "the icon's fidelity is said in words before its cosine");
    assert!(harness.query_by(|node| node.value().is_some_and(|text| text.contains("贡献"))).is_none(), "no bare number");

    // A photo of the cell opens from the training data set: the patch is a photo here, not only
    // the network input kept in the atlas.
    // (The cell's photos are its 64-pixel pictures.)
    let patch = harness
        .get_all_by(|node| {
            node.role() == eframe::egui::accesskit::Role::Image && node.bounding_box().is_some_and(|b| (b.width() - 64.0).abs() < 1.0)
        })
        .next();
    patch.expect("a patch of the cell is shown").click();
    common::run_until(&mut harness, "the photo opens in 分类", 60, |app| {
        app.classify().image_path().is_some_and(|p| p.starts_with(common::flowers17())) && app.classify().opening().is_none()
    });
}

#[test]
fn a_long_feature_visualisation_says_how_long_it_has_left() {
    use egui_kittest::kittest::Queryable;
    let mut harness = common::app_with_model(common::app_options(picker_from(|_: DialogRequest| None)), [1000.0, 700.0]);
    harness.get_by_label("解释").click();
    harness.run_steps(2);
    harness.get_by_label("特征可视化").click();
    harness.run_steps(2);
    harness.get_by_label("步数").set_value_accesskit(4000.0);
    harness.run_steps(2);
    harness.get_by_label("计算").click();
    // Once it has a pace to go by (a second in), the bar says the time left beside the steps.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let says_time_left = |harness: &egui_kittest::Harness<'static, activation_atlas::app::AtlasApp>| {
        harness.query_by(|node| node.value().or(node.label()).is_some_and(|text| text.contains("/4000 · 剩余约 "))).is_some()
    };
    while !says_time_left(&harness) {
        assert!(std::time::Instant::now() < deadline, "no time left shown while the visualisation runs");
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    harness.get_by_label("取消").click();
    common::run_until(&mut harness, "the visualisation is cancelled", 30, |app| !app.worker_busy());
}

#[test]
fn the_faithfulness_of_a_map_fits_a_1000_px_window_in_both_languages() {
    use egui_kittest::kittest::Queryable;
    let mut harness = app_explaining_a_sunflower();
    common::run_until(&mut harness, "the map's faithfulness is measured", 120, |app| {
        matches!(app.explain().result_for(Method::GradCam), Some(Shown::Heat { faithfulness: Some(_), .. }))
    });
    for (last_column, curve) in [("置信度上升", "插入"), ("Confidence up", "Insertion")] {
        if last_column == "Confidence up" {
            harness.get_by_label("English").click();
            harness.run_steps(3);
        }
        // The table's last column and the second curve end inside the window, not past its edge.
        let column = harness.get_by_label(last_column).rect();
        assert!(column.right() <= 1000.0, "{last_column} ends at {}", column.right());
        let title = harness.get_by_label(curve).rect();
        assert!(title.left() + 230.0 <= 1000.0, "the {curve} curve starts at {}", title.left());
    }
}

#[test]
fn choosing_a_class_atlas_leaves_the_map_where_it_was_and_the_grid_level_on_one_line() {
    use egui_kittest::kittest::Queryable;
    let mut harness = common::app_with_model(common::app_options(picker_from(|_: DialogRequest| None)), [1000.0, 700.0]);
    common::run_until(&mut harness, "the shipped atlas loads", 60, |app| app.atlas().atlas().is_some());
    harness.get_by_label("地图集").click();
    harness.run_steps(3);
    // The grid level shown is said on one line, in the map's toolbar (not over the map).
    let levels = harness.get_all_by(|node| node.value().is_some_and(|l| l.starts_with("网格 ") && l.contains('×')));
    let level = levels.map(|node| node.rect()).min_by(|a, b| a.area().total_cmp(&b.area())).unwrap();
    assert!(level.height() < 22.0 && level.bottom() < 100.0, "the grid level: {level:?}");
    // The side panel's left edge is the map's right edge.
    let side_panel =
        |harness: &egui_kittest::Harness<'static, activation_atlas::app::AtlasApp>| harness.get_by_label("导出 PNG…").rect().left();
    let before = side_panel(&harness);
    harness.get_by_label("构建新的地图集").click();
    harness.run_steps(3);
    harness.get_by_label("地图集内容").click();
    harness.run_steps(2);
    harness.get_by_label("一个类别（类别激活地图集）").click();
    harness.run_steps(4);
    let after = side_panel(&harness);
    assert!((after - before).abs() < 1.0, "the map's right edge moved from {before} to {after}");
}
