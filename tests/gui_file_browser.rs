//! File dialogs on a desktop without a dialog service: the picker answers "unavailable" (as the
//! desktop picker does where there is no XDG portal file chooser and no zenity), and the built-in
//! browser opens instead. Driven through what a person sees: a typed path, folders listed with
//! the kind's filter in any letter case, 上一级, 打开, Ctrl-click for several pictures, 选择此文件夹,
//! 保存 with a file name, 取消. And the desktop's own multi-select placing several photos at once.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use activation_atlas::app::AtlasApp;
use activation_atlas::app::dialogs::{DialogAnswer, DialogKind, DialogRequest, Picker};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn unavailable() -> Picker {
    Arc::new(|_: DialogRequest| DialogAnswer::Unavailable)
}

fn app(picker: Picker) -> Harness<'static, AtlasApp> {
    common::app_with_model(common::app_options(picker), [1280.0, 900.0])
}

/// Types `path` into the browser's 位置 field and presses 前往.
fn type_path(harness: &mut Harness<'static, AtlasApp>, path: &Path) {
    let field = harness.get_by_label("位置");
    field.focus();
    field.set_text_value_accesskit(&path.display().to_string());
    harness.run_steps(2);
    harness.get_by_label("前往").click();
    harness.run_steps(3);
}

/// A folder with pictures in both letter cases, a text file, and a sub-folder.
fn picture_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(common::flowers17_photo("sunflower"), dir.path().join("SUN.JPG")).unwrap();
    std::fs::copy(common::flowers17_photo("daisy"), dir.path().join("daisy.png")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a picture").unwrap();
    std::fs::create_dir(dir.path().join("more")).unwrap();
    std::fs::copy(common::flowers17_photo("tulip"), dir.path().join("more/tulip.jpg")).unwrap();
    dir
}

/// Waits until `entry` is on screen (a folder's entry, a browser's title): listings and the
/// dialog thread's answer arrive from other threads.
/// Bound by time, not by a number of frames: on a loaded machine those threads may take longer.
fn wait_for_label(harness: &mut Harness<'static, AtlasApp>, entry: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        harness.run_steps(1);
        if harness.query_by_label(entry).is_some() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{entry} was never listed within 60 s");
}

#[test]
fn with_no_dialog_service_the_built_in_browser_opens_a_typed_path() {
    let mut harness = app(unavailable());
    harness.get_by_label("读取图片").click();
    wait_for_label(&mut harness, "打开图片"); // the browser's title
    let photo = common::flowers17_photo("sunflower");
    type_path(&mut harness, &photo);
    common::run_until(&mut harness, "the picture is shown", 60, |app| app.classify().shown_photo() == Some(photo.as_path()));
    assert!(harness.query_by_label("打开图片").is_none(), "the browser closes once a file is chosen");
    assert!(!harness.state().dialogs_open());
}

#[test]
fn the_browser_lists_folders_and_pictures_in_any_case_and_navigates() {
    let folder = picture_folder();
    let mut harness = app(unavailable());
    harness.get_by_label("读取图片").click();
    wait_for_label(&mut harness, "打开图片");
    type_path(&mut harness, folder.path());
    wait_for_label(&mut harness, "SUN.JPG");
    harness.get_by_label("daisy.png");
    harness.get_by_label("more/");
    assert!(harness.query_by_label("notes.txt").is_none(), "the picture filter leaves out text files");

    // A selected folder opens with 打开; 上一级 goes back.
    harness.get_by_label("more/").click();
    harness.run_steps(2);
    harness.get_by_label("打开").click();
    wait_for_label(&mut harness, "tulip.jpg");
    assert!(harness.query_by_label("SUN.JPG").is_none());
    harness.get_by_label("上一级").click();
    wait_for_label(&mut harness, "SUN.JPG");

    harness.get_by_label("SUN.JPG").click();
    harness.run_steps(2);
    harness.get_by_label("打开").click();
    let expected = folder.path().join("SUN.JPG");
    common::run_until(&mut harness, "the picture is shown", 60, |app| app.classify().shown_photo() == Some(expected.as_path()));
    // The folder is now among the recent places of the next browser.
    harness.get_by_label("读取图片").click();
    wait_for_label(&mut harness, "最近");
    harness.get_by_label("取消").click();
    harness.run_steps(3);
    assert!(!harness.state().dialogs_open(), "取消 closes the browser");
}

#[test]
fn several_pictures_are_placed_on_the_atlas_from_the_browser_with_ctrl_click() {
    let folder = picture_folder();
    let mut harness = app(unavailable());
    common::run_until(&mut harness, "the shipped atlas loads", 60, |app| app.atlas().atlas().is_some());
    harness.get_by_label("地图集").click();
    harness.run_steps(3);
    harness.get_by_label("放置图片…").click();
    wait_for_label(&mut harness, "选择要放到地图集上的图片");
    type_path(&mut harness, folder.path());
    wait_for_label(&mut harness, "SUN.JPG");
    harness.get_by_label("SUN.JPG").click();
    harness.run_steps(2);
    harness.get_by_label("daisy.png").click_modifiers(egui::Modifiers::COMMAND);
    harness.run_steps(2);
    harness.get_by_label("打开").click();
    common::run_until(&mut harness, "both pictures are placed", 60, |app| app.atlas().map().dropped.len() == 2);
    let placed: Vec<PathBuf> = harness.state().atlas().map().dropped.iter().map(|d| d.path.clone()).collect();
    assert!(placed.contains(&folder.path().join("SUN.JPG")) && placed.contains(&folder.path().join("daisy.png")), "{placed:?}");
}

#[test]
fn the_desktop_dialog_can_choose_several_pictures_to_place() {
    let photos = vec![common::flowers17_photo("sunflower"), common::flowers17_photo("daisy"), common::flowers17_photo("iris")];
    let answer = photos.clone();
    let picker: Picker = Arc::new(move |request: DialogRequest| match request.kind {
        DialogKind::PlaceImage => DialogAnswer::Chosen(answer.clone()),
        _ => DialogAnswer::Cancelled,
    });
    let mut harness = app(picker);
    common::run_until(&mut harness, "the shipped atlas loads", 60, |app| app.atlas().atlas().is_some());
    harness.get_by_label("地图集").click();
    harness.run_steps(3);
    harness.get_by_label("放置图片…").click();
    common::run_until(&mut harness, "three pictures are placed", 60, |app| app.atlas().map().dropped.len() == 3);
}

#[test]
fn a_data_folder_and_a_save_name_are_chosen_in_the_browser() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 2, 4);
    let mut harness = app(unavailable());
    harness.get_by_label("训练").click();
    harness.run_steps(2);
    harness.get_by_label("选择数据集文件夹…").click();
    wait_for_label(&mut harness, "选择数据集文件夹"); // the browser's title
    type_path(&mut harness, data.path());
    wait_for_label(&mut harness, "disc/");
    harness.get_by_label("选择此文件夹").click();
    common::run_until(&mut harness, "the data set is read", 60, |app| app.train().dataset().overview.is_some());
    assert_eq!(harness.state().train().dataset().data_dir.as_deref(), Some(data.path()));

    // Export a Grad-CAM picture through the browser's save form.
    let out = tempfile::tempdir().unwrap();
    harness.get_by_label("分类").click();
    harness.run_steps(2);
    harness.input_mut().dropped_files.push(Arc::new(common::DroppedPath(common::flowers17_photo("sunflower"))));
    common::run_until(&mut harness, "the picture is shown", 60, |app| app.classify().has_picture());
    harness.get_by_label("解释").click();
    common::run_until(&mut harness, "Grad-CAM is shown", 60, |app| {
        app.explain().result_for(activation_atlas::app::explain_panel::Method::GradCam).is_some()
    });
    harness.get_by_label("导出 PNG…").click();
    wait_for_label(&mut harness, "保存 PNG");
    type_path(&mut harness, out.path());
    let name = harness.get_by_label("文件名");
    name.focus();
    name.set_text_value_accesskit("sunflower-gradcam.png");
    harness.run_steps(2);
    harness.get_by_label("保存").click();
    let written = out.path().join("sunflower-gradcam.png");
    common::run_until(&mut harness, "the PNG is written", 60, |_| written.is_file());
    assert!(image::open(&written).is_ok(), "a readable PNG");
}

#[test]
fn saving_over_an_existing_file_asks_first_and_keeps_it_unless_told() {
    let out = tempfile::tempdir().unwrap();
    let existing = out.path().join("keep-me.png");
    std::fs::write(&existing, b"the user's own picture").unwrap();
    let mut harness = app(unavailable());
    harness.input_mut().dropped_files.push(Arc::new(common::DroppedPath(common::flowers17_photo("sunflower"))));
    common::run_until(&mut harness, "the picture is shown", 60, |app| app.classify().has_picture());
    harness.get_by_label("解释").click();
    common::run_until(&mut harness, "Grad-CAM is shown", 60, |app| {
        app.explain().result_for(activation_atlas::app::explain_panel::Method::GradCam).is_some()
    });
    let save_as = |harness: &mut Harness<'static, AtlasApp>| {
        harness.get_by_label("导出 PNG…").click();
        wait_for_label(harness, "保存 PNG");
        type_path(harness, out.path());
        let name = harness.get_by_label("文件名");
        name.focus();
        name.set_text_value_accesskit("keep-me.png");
        harness.run_steps(2);
        harness.get_by_label("保存").click();
        wait_for_label(harness, "“keep-me.png”已经存在。要用新文件替换它吗？");
        harness.run_steps(2);
    };
    // Asked, and told no: the file stays as it was.
    save_as(&mut harness);
    harness.get_by_label("不替换，换个名字").click();
    harness.run_steps(3);
    assert!(harness.query_by_label("“keep-me.png”已经存在。要用新文件替换它吗？").is_none(), "the question is answered");
    assert!(harness.state().dialogs_open(), "the browser stays open for another name");
    assert_eq!(std::fs::read(&existing).unwrap(), b"the user's own picture");
    harness.get_by_label("取消").click();
    harness.run_steps(3);
    // Asked, and told yes: the export replaces it.
    save_as(&mut harness);
    harness.get_by_label("替换").click();
    common::run_until(&mut harness, "the PNG replaces the file", 60, |_| image::open(&existing).is_ok());
}
