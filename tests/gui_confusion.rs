//! 训练's confusion matrix as a way into the photos: a click on a cell lists exactly the
//! validation photos of that true and predicted class, and a click on one opens it in 分类 and
//! shows 解释.

mod common;

use activation_atlas::app::dialogs::{DialogKind, DialogRequest, Picker, picker_from};
use activation_atlas::app::explain_panel::{Method, Shown};
use activation_atlas::app::{AppOptions, AtlasApp, Tab};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// Clicks cell (row, column) of the painted matrix: its widget is the row names (as wide as the
/// longest) then one square per class, under a 16-point header of column numbers, so the squares'
/// size comes from the height and they end at the widget's right edge.
fn click_cell(harness: &Harness<'static, AtlasApp>, classes: usize, row: usize, column: usize) {
    let rect = harness.get_by_label_contains("混淆矩阵（验证集）: ").rect();
    let cell = (rect.height() - 16.0) / classes as f32;
    let left = rect.max.x - cell * classes as f32;
    let at = egui::pos2(left + (column as f32 + 0.5) * cell, rect.min.y + 16.0 + (row as f32 + 0.5) * cell);
    harness.event(egui::Event::PointerMoved(at));
    for pressed in [true, false] {
        harness.event(egui::Event::PointerButton { pos: at, button: egui::PointerButton::Primary, pressed, modifiers: Default::default() });
    }
}

#[test]
fn a_confusion_cell_opens_exactly_its_validation_photos_and_one_opens_in_explain() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, 15);
    let runs = tempfile::tempdir().unwrap();
    let folder = data.path().to_path_buf();
    let picker: Picker = picker_from(move |request: DialogRequest| (request.kind == DialogKind::PickDataFolder).then(|| folder.clone()));
    let options = AppOptions { run_root: Some(runs.path().to_path_buf()), ..common::app_options(picker) };
    // Tall enough that the photo grid under the matrix is on screen, to be clicked.
    let mut harness = common::app_on_training_folder(options, [1280.0, 2000.0]);
    harness.get_by_label("轮数").set_value_accesskit(2.0);
    harness.run_steps(2);
    harness.get_by_label("开始训练").click();
    common::run_until(&mut harness, "training ends", 120, |app| {
        app.train().run().running.is_none() && !app.train().history().epochs.is_empty()
    });
    harness.get_by_label("点击混淆矩阵的一个格子，查看其中的验证集照片");

    let photos = harness.state().train().confusion_photos().photos.clone();
    assert_eq!(photos.len(), 9, "three validation photos per class (20% of 15)");
    let report = harness.state().train().history().last_validation.clone().unwrap();
    // Every cell: the grid holds exactly the photos of that true and predicted class.
    for row in 0..3 {
        for column in 0..3 {
            click_cell(&harness, 3, row, column);
            harness.run_steps(3);
            let panel = &harness.state().train().confusion_photos();
            assert_eq!(panel.cell, Some((row, column)));
            let mut shown: Vec<_> = panel.shown.iter().map(|(p, _)| p.path.clone()).collect();
            let mut expected: Vec<_> = photos.iter().filter(|p| p.truth == row && p.predicted == column).map(|p| p.path.clone()).collect();
            assert_eq!(shown.len(), report.confusion[row][column] as usize, "as many as the matrix counts");
            shown.sort();
            expected.sort();
            assert_eq!(shown, expected, "cell ({row}, {column})");
        }
    }

    // The biggest cell, its pictures read, and its first photo opened.
    let (row, column) = (0..9).map(|i| (i / 3, i % 3)).max_by_key(|&(r, c)| report.confusion[r][c]).unwrap();
    click_cell(&harness, 3, row, column);
    // The click first (this cell may also be the one open), then its own pictures: an empty or
    // earlier grid would satisfy "every picture has arrived" at once.
    harness.run_steps(2);
    assert_eq!(harness.state().train().confusion_photos().cell, Some((row, column)));
    common::run_until(&mut harness, "the cell's pictures arrive", 60, |app| {
        let shown = &app.train().confusion_photos().shown;
        !shown.is_empty() && shown.iter().all(|(_, texture)| texture.is_some())
    });
    // The user had been looking at feature visualisation, which explains no photo.
    harness.get_by_label("解释").click();
    harness.run_steps(2);
    harness.get_by_label("特征可视化").click();
    harness.run_steps(2);
    harness.get_by_label("训练").click();
    harness.run_steps(3);
    let first = harness.state().train().confusion_photos().shown[0].0.clone();
    let name = first.path.file_name().unwrap().to_string_lossy().into_owned();
    // Click only once the photo has stayed put for a few frames: nothing above it may still be
    // settling (a busy machine may need more than two).
    wait_until_laid_out(&mut harness, &name);
    harness.get_by_label(&name).click();
    // A click completes over a frame or two, and the action it asks for runs in the frame after.
    common::run_until(&mut harness, "the click on the photo switches to 解释", 10, |app| app.tab == Tab::Explain);
    assert_eq!(harness.state().classify().image_path(), Some(&first.path), "and opens that photo");
    common::run_until(&mut harness, "the photo is read", 120, |app| app.classify().opening().is_none());
    assert_eq!(harness.state().classify().shown_photo(), Some(first.path.as_path()), "the photo is shown");
    // Its explanation, not an empty page: a class activation map of this photo, and its class in 分类.
    common::run_until(&mut harness, "its map and its class are shown", 120, |app| {
        matches!(app.explain().result_for(Method::GradCam), Some(Shown::Heat { .. })) && app.classify().result().is_some()
    });
    assert_eq!(harness.state().explain().settings().method, Method::GradCam, "the page shown is the map's");
}

/// Steps until the widget named `label` has had the same place for three frames in a row.
fn wait_until_laid_out(harness: &mut Harness<'static, AtlasApp>, label: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (mut last, mut same) = (harness.get_by_label(label).rect(), 0);
    while same < 3 {
        assert!(std::time::Instant::now() < deadline, "the grid never settled");
        harness.step();
        let now = harness.get_by_label(label).rect();
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
}
