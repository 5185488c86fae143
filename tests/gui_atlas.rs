//! The 地图集 panel in a kittest harness: the shipped atlas loads with the shipped model, zooming
//! changes the grid level, a dropped photo is placed with a marker and a list entry, a cell can
//! be inspected, the export dialog writes a PNG of the requested size, a broken atlas file is
//! refused with its name. The map's snapshot is in `gui_snapshot.rs`.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use activation_atlas::app::atlas_panel::WORLD;
use activation_atlas::app::dialogs::{DialogKind, DialogRequest, Picker, picker_from};
use activation_atlas::app::{AppOptions, AtlasApp, ModelStatus};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// Answers every file dialog with the path the test put in `answer`, and records which dialog asked.
fn picker(answer: Arc<Mutex<Option<PathBuf>>>, asked: Arc<Mutex<Vec<DialogKind>>>) -> Picker {
    picker_from(move |request: DialogRequest| {
        asked.lock().unwrap().push(request.kind);
        answer.lock().unwrap().clone()
    })
}

struct Fixture {
    harness: Harness<'static, AtlasApp>,
    answer: Arc<Mutex<Option<PathBuf>>>,
    asked: Arc<Mutex<Vec<DialogKind>>>,
}

/// The app with the shipped model, showing the 地图集 tab once the shipped atlas is loaded.
fn atlas_app() -> Fixture {
    let answer = Arc::new(Mutex::new(None));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let mut harness = common::app_with_model(common::app_options(picker(answer.clone(), asked.clone())), [1100.0, 760.0]);
    common::run_until(&mut harness, "the shipped atlas loads", 60, |app| app.atlas().atlas().is_some());
    harness.get_by_label("地图集").click();
    harness.run_steps(3);
    Fixture { harness, answer, asked }
}

fn shipped_atlas_path() -> PathBuf {
    activation_atlas::resources::find_resource(std::path::Path::new("assets/flowers17.atlas")).expect("the atlas is shipped")
}

#[test]
fn the_shipped_atlas_loads_and_the_map_starts_at_the_coarsest_level() {
    let Fixture { harness, .. } = atlas_app();
    let app = harness.state();
    assert_eq!(app.atlas().path(), Some(shipped_atlas_path().as_path()));
    let atlas = app.atlas().atlas().unwrap();
    let ModelStatus::Ready(info) = &app.model else { unreachable!() };
    assert_eq!(atlas.meta.model_fingerprint, info.fingerprint);
    let coarsest = atlas.icons.iter().map(|i| i.size).min().unwrap();
    assert_eq!(app.atlas().map().current_level, coarsest, "the whole map shows the coarsest icon level");
    harness.get_by_label(&format!("网格 {coarsest}×{coarsest}"));
    // At the coarsest level every class with a leading cell is named on the map (all 17 fit on
    // the shipped atlas), in the window's language.
    let descriptions = app.descriptions.as_ref().unwrap();
    for id in &info.class_names {
        let name = &descriptions.get(id).unwrap().name_zh;
        harness.get_by_label(name);
    }
}

#[test]
fn zooming_in_with_keys_and_wheel_moves_to_finer_grid_levels_and_zero_resets() {
    let Fixture { mut harness, .. } = atlas_app();
    let coarsest = harness.state().atlas().map().current_level;
    let whole = harness.state().atlas().map().scene_rect;
    assert!(whole.width() >= WORLD * 0.99, "the whole map is shown at first: {whole:?}");

    for _ in 0..3 {
        harness.key_press(egui::Key::Plus);
        harness.run_steps(2);
    }
    let after_keys = harness.state().atlas().map().current_level;
    assert!(after_keys > coarsest, "zooming in with + shows finer cells: {coarsest} -> {after_keys}");
    assert!(harness.state().atlas().map().scene_rect.width() < whole.width() / 3.0);

    harness.key_press(egui::Key::Num0);
    harness.run_steps(3);
    assert_eq!(harness.state().atlas().map().current_level, coarsest, "0 shows the whole map again");

    // A pinch or ctrl+wheel over the middle of the map zooms there.
    let centre = egui::pos2(380.0, 420.0);
    harness.event(egui::Event::PointerMoved(centre));
    harness.run_steps(1);
    for _ in 0..8 {
        harness.event(egui::Event::Zoom(1.4));
        harness.run_steps(1);
    }
    harness.run_steps(2);
    let finest = *harness.state().atlas().atlas().unwrap().icons.iter().map(|i| i.size).collect::<Vec<_>>().iter().max().unwrap();
    assert_eq!(harness.state().atlas().map().current_level, finest, "zoomed far in, the finest icon level is drawn");
    harness.get_by_label(&format!("网格 {finest}×{finest}"));
}

#[test]
fn a_dropped_photo_is_placed_with_a_marker_and_listed_and_can_be_removed() {
    let Fixture { mut harness, .. } = atlas_app();
    let sunflower = common::flowers17_photo("sunflower");
    let bluebell = common::flowers17_photo("bluebell");
    harness.input_mut().dropped_files.push(Arc::new(common::DroppedPath(sunflower.clone())));
    harness.input_mut().dropped_files.push(Arc::new(common::DroppedPath(bluebell.clone())));
    common::run_until(&mut harness, "both photos are placed", 60, |app| app.atlas().map().dropped.len() == 2);

    let app = harness.state();
    let ModelStatus::Ready(info) = &app.model else { unreachable!() };
    let placed = app.atlas().map().dropped.iter().find(|d| d.path == sunflower).expect("the sunflower is in the list");
    assert_eq!(info.class_names[placed.placement.predicted_class], "sunflower");
    assert!(!placed.placement.points.is_empty(), "each of the photo's vectors gets a marker");
    assert!(placed.placement.points.iter().all(|p| (0.0..=1.0).contains(&p[0]) && (0.0..=1.0).contains(&p[1])));
    assert!(matches!(app.tab, activation_atlas::app::Tab::Atlas), "dropping on the atlas does not switch to the classifier");
    let name = sunflower.file_name().unwrap().to_string_lossy().into_owned();
    harness.get_by_label(&name);

    // 定位 centres the view on the photo.
    harness.get_all_by_label("定位").next().unwrap().click();
    harness.run_steps(3);
    let view = harness.state().atlas().map().scene_rect;
    let centre = harness.state().atlas().map().dropped[0].placement.centre;
    assert!(view.contains(egui::pos2(centre[0] * WORLD, centre[1] * WORLD)) && view.width() < WORLD / 2.0, "{view:?}");

    // Hide, then clear.
    harness.get_by_label("全部清除").click();
    harness.run_steps(2);
    assert!(harness.state().atlas().map().dropped.is_empty());
    assert!(harness.query_by_label(&name).is_none());
}

#[test]
fn clicking_a_cell_shows_its_icon_classes_and_real_patches() {
    let Fixture { mut harness, .. } = atlas_app();
    // Zoom once so the cells are large, then click the middle of the map.
    let centre = egui::pos2(380.0, 420.0);
    harness.event(egui::Event::PointerMoved(centre));
    harness.run_steps(1);
    harness.event(egui::Event::PointerButton {
        pos: centre,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    harness.run_steps(1);
    harness.event(egui::Event::PointerButton {
        pos: centre,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    harness.run_steps(2);
    let Some((level, index)) = harness.state().atlas().inspector().selected else {
        panic!("a click on the map selects a cell");
    };
    common::run_until(&mut harness, "the patches arrive", 60, |app| app.atlas().patch_count() > 0);
    let app = harness.state();
    let cell = &app.atlas().atlas().unwrap().level(level).unwrap().cells[index];
    assert_eq!(app.atlas().patch_count(), cell.members.len().min(24), "one patch per sampled vector, up to 24");
    harness.get_by_label_contains(&format!("({}, {})", cell.x, cell.y));
    harness.get_by_label_contains("真实图片");
    // The cell three ways, synthetic beside real.
    common::run_until(&mut harness, "the real pictures of the cell arrive", 60, |app| app.atlas().has_real_cell_pictures());
    for caption in ["特征可视化", "真实图块的平均", "最典型的真实图块"] {
        assert!(harness.query_all_by_label(caption).count() >= 1, "{caption}");
    }

    // A patch opens its photo in 分类 and 解释: the shipped atlas names its photos inside
    // flowers17, found in the folder the build form reads.
    harness.state_mut().atlas_mut().builder_mut().folder = Some(common::flowers17());
    harness.run_steps(2);
    let atlas = harness.state().atlas().atlas().cloned().unwrap();
    let first = atlas.level(level).unwrap().cells[index].members[0] as usize;
    let class_id = &atlas.meta.class_names[atlas.collected.label[first] as usize];
    let class = activation_atlas::descriptions::DescriptionSet::display_names(harness.state().descriptions.as_ref(), class_id, true).0;
    let expected = common::flowers17().join(&atlas.meta.image_paths[atlas.collected.image[first] as usize]);
    harness
        .get_all_by(|node| node.role() == egui::accesskit::Role::Image && node.label().as_deref() == Some(class.as_str()))
        .next()
        .expect("the patches are drawn")
        .click();
    common::run_until(&mut harness, "the patch's photo opens", 60, |app| app.classify().image_path() == Some(&expected));
    assert_eq!(harness.state().tab, activation_atlas::app::Tab::Explain);
}

#[test]
fn the_map_can_draw_its_cells_from_real_patches() {
    let Fixture { mut harness, .. } = atlas_app();
    harness.get_by_label("格子显示").click();
    harness.run_steps(2);
    harness.get_by_label("真实图块的平均").click();
    common::run_until(&mut harness, "the level is drawn from mean patches", 120, |app| {
        app.atlas().map().current_level > 0 && app.atlas().shows_real_pictures(app.atlas().map().current_level)
    });
    harness.get_by_label("格子显示").click();
    harness.run_steps(2);
    harness.get_by_label("最典型的真实图块").click();
    common::run_until(&mut harness, "the level is drawn from typical patches", 60, |app| {
        app.atlas().map().cell_picture == activation_atlas::app::atlas_panel::CellPicture::Typical
            && app.atlas().shows_real_pictures(app.atlas().map().current_level)
    });
}

#[test]
fn the_map_can_be_tinted_by_attribution_to_a_class() {
    let Fixture { mut harness, .. } = atlas_app();
    harness.get_by_label("按归因着色").click();
    harness.run_steps(2);
    // The class names also label the map (as text); the list's entry is the button. It may be
    // scrolled out of the list's view, so it is clicked through accessibility.
    harness.get_all_by_label("向日葵").next().unwrap().click_accesskit();
    harness.run_steps(2);
    let sunflower = harness.state().atlas().atlas().unwrap().meta.class_names.iter().position(|c| c == "sunflower");
    assert_eq!(harness.state().atlas().map().tint_class, sunflower);
}

#[test]
fn export_writes_pngs_of_the_requested_size() {
    let Fixture { mut harness, answer, asked } = atlas_app();
    let dir = tempfile::tempdir().unwrap();
    harness.get_by_label("尺寸（像素）").set_value_accesskit(640.0);
    harness.run_steps(2);
    assert_eq!(harness.state().atlas().export_settings().size, 640, "the size field took the value");

    let whole = dir.path().join("whole atlas.png");
    *answer.lock().unwrap() = Some(whole.clone());
    harness.get_by_label("导出整个地图集…").click();
    common::run_until(&mut harness, "the whole atlas is written", 120, |_| whole.exists());
    let picture = image::open(&whole).expect("a readable PNG");
    assert_eq!((picture.width(), picture.height()), (640, 640));

    // The view as seen: zoomed in, so a part of the map, at the requested size on its long side.
    harness.key_press(egui::Key::Plus);
    harness.run_steps(3);
    let view = dir.path().join("view.png");
    *answer.lock().unwrap() = Some(view.clone());
    harness.get_by_label("导出当前视图…").click();
    common::run_until(&mut harness, "the view is written", 120, |_| view.exists());
    let part = image::open(&view).expect("a readable PNG");
    assert_eq!(part.width().max(part.height()), 640);
    assert_ne!(
        part.to_rgb8().as_raw(),
        &image::imageops::resize(&picture.to_rgb8(), part.width(), part.height(), image::imageops::FilterType::Triangle).into_raw(),
        "the view is a part, not the whole"
    );
    assert_eq!(asked.lock().unwrap().as_slice(), &[DialogKind::ExportAtlasWhole, DialogKind::ExportAtlasView]);
    harness.get_by_label_contains("已保存");
    // 类别名称和图例 is ticked: both pictures have the legend, a swatch of every class in the
    // bottom-right corner (the part too, although it is cut from the middle of the map).
    let classes = harness.state().atlas().atlas().unwrap().meta.class_names.len();
    for picture in [picture.to_rgb8(), part.to_rgb8()] {
        let (w, h) = picture.dimensions();
        for class in 0..classes {
            let colour = activation_atlas::engine::atlas::export::class_colour(class, classes);
            let swatch = (w - 200..w).flat_map(|x| (h - 340..h).map(move |y| (x, y))).filter(|&(x, y)| *picture.get_pixel(x, y) == colour);
            assert!(swatch.count() >= 50, "class {class} is in the legend");
        }
    }
}

#[test]
fn a_broken_atlas_file_is_refused_with_its_name_and_the_old_atlas_stays() {
    let Fixture { mut harness, answer, .. } = atlas_app();
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("half-written.atlas");
    let bytes = std::fs::read(shipped_atlas_path()).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    *answer.lock().unwrap() = Some(broken.clone());
    harness.get_by_label("加载地图集…").click();
    common::run_until(&mut harness, "the error is shown", 60, |app| app.messages.error.is_some());
    let message = harness.state().messages.error.clone().unwrap();
    assert!(message.contains("half-written.atlas"), "{message}");
    assert_eq!(harness.state().atlas().path(), Some(shipped_atlas_path().as_path()), "the shown atlas is kept");
}

/// flowers17 with 3 photos per class (symlinks), for quick builds.
fn small_flowers17() -> tempfile::TempDir {
    let subset = tempfile::tempdir().unwrap();
    for class in std::fs::read_dir(common::flowers17()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        let target = subset.path().join(class.file_name().unwrap());
        std::fs::create_dir_all(&target).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(&class).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.iter().take(3) {
            std::os::unix::fs::symlink(file, target.join(file.file_name().unwrap())).unwrap();
        }
    }
    subset
}

#[test]
fn building_from_the_panel_shows_stages_layout_and_icons_then_the_new_atlas_and_cancel_keeps_it() {
    let data = small_flowers17();
    let home = tempfile::tempdir().unwrap();
    let options = AppOptions {
        data_dir: Some(data.path().to_path_buf()),
        run_root: Some(home.path().join("runs")),
        ..common::app_options(picker_from(|_: DialogRequest| None))
    };
    let mut harness = common::app_with_model(options, [1100.0, 760.0]);
    common::run_until(&mut harness, "the model, data set and shipped atlas are ready", 120, |app| {
        matches!(app.model, ModelStatus::Ready(_))
            && app.train().dataset().overview.is_some()
            && app.atlas().atlas().is_some()
            && !app.worker_busy()
    });
    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    harness.get_by_label("构建新的地图集").click();
    harness.run_steps(2);
    // The form filled in through its fields.
    harness.get_by_label("网格层级").set_text_value_accesskit("5 10");
    harness.get_by_label("图标层级").set_text_value_accesskit("5");
    harness.get_by_label("图标优化步数").set_value_accesskit(8.0);
    harness.run_steps(2);
    let form = &harness.state().atlas().builder().form;
    assert_eq!((form.grid_levels.as_str(), form.icon_levels.as_str(), form.icon_steps), ("5 10", "5", 8), "the fields took the values");
    harness.get_by_label("构建").click();

    // Watch the build: every stage is announced, the layout moves, icons arrive before the end.
    let (mut stages, mut layouts, mut icons_seen) = (Vec::new(), 0usize, 0usize);
    let mut last_layout: Vec<f32> = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        harness.step();
        let app = harness.state();
        if let Some(building) = &app.atlas().builder().building {
            if stages.last() != Some(&building.stage) {
                stages.push(building.stage);
            }
            if !building.layout.is_empty() && building.layout != last_layout {
                layouts += 1;
                last_layout = building.layout.clone();
            }
            icons_seen = icons_seen.max(building.icons.len());
        } else if app.atlas().path().is_some_and(|p| p.starts_with(home.path())) {
            break;
        }
        assert!(app.messages.error.is_none(), "{:?}", app.messages.error);
        assert!(std::time::Instant::now() < deadline, "the build did not finish; stages {stages:?}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    use activation_atlas::engine::atlas::Stage;
    // Quick stages may pass between two frames; those seen come in build order.
    let order = [Stage::Collect, Stage::Neighbours, Stage::Layout, Stage::Cells, Stage::PaperViews, Stage::Icons];
    let positions: Vec<usize> = stages.iter().map(|s| order.iter().position(|o| o == s).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "stages in order: {stages:?}");
    for stage in [Stage::Collect, Stage::Layout, Stage::Icons] {
        assert!(stages.contains(&stage), "{stage:?} is shown: {stages:?}");
    }
    assert!(layouts >= 3, "the layout is shown as it optimises ({layouts} different layouts seen)");
    let built = harness.state().atlas().path().map(std::path::Path::to_path_buf).unwrap();
    let atlas = harness.state().atlas().atlas().cloned().unwrap();
    assert!(built.exists() && built.starts_with(home.path().join("atlases")), "{}", built.display());
    assert_eq!(atlas.levels.iter().map(|l| l.size).collect::<Vec<_>>(), vec![5, 10]);
    // Icons arrive in batches (this small build has one) and are drawn before the finished atlas
    // replaces the build's view.
    assert!(icons_seen > 0, "icons were shown while the build ran");
    assert!(icons_seen <= atlas.icons[0].cells.len());
    assert_eq!(atlas.collected.len(), 51 * 16);

    // A class activation atlas from the same form.
    harness.get_by_label("地图集内容").click();
    harness.run_steps(2);
    harness.get_by_label("一个类别（类别激活地图集）").click();
    harness.run_steps(2);
    assert_eq!(harness.state().atlas().builder().form.focus, activation_atlas::app::atlas_panel::FocusKind::Class);
    harness.get_by_label("构建").click();
    common::run_until(&mut harness, "the class atlas is built", 180, |app| {
        app.atlas().builder().building.is_none() && app.atlas().atlas().is_some_and(|a| a.meta.params.focus.class().is_some())
    });
    let class_atlas = harness.state().atlas().atlas().cloned().unwrap();
    let built = harness.state().atlas().path().map(std::path::Path::to_path_buf).unwrap();
    let class = class_atlas.meta.params.focus.class().unwrap();
    assert!((0..class_atlas.collected.len()).all(|i| class_atlas.collected.attribution_of(i)[class] > 0.0));
    assert_eq!(harness.state().atlas().map().tint_class, Some(class), "a class atlas is shaded by its class");
    harness.get_by_label("地图集内容").click();
    harness.run_steps(2);
    harness.get_by_label("全部激活").click();
    harness.run_steps(2);

    // A second build, cancelled: the first one stays shown and no new file is written.
    harness.get_by_label("构建").click();
    common::run_until(&mut harness, "the second build starts", 60, |app| app.atlas().builder().building.is_some());
    harness.get_all_by_label("取消").next().unwrap().click();
    common::run_until(&mut harness, "the build stops", 60, |app| app.atlas().builder().building.is_none() && !app.worker_busy());
    assert_eq!(harness.state().atlas().path(), Some(built.as_path()));
    assert_eq!(std::fs::read_dir(home.path().join("atlases")).unwrap().count(), 2, "the two finished builds, not the cancelled one");
}

#[test]
fn the_photo_open_in_the_classifier_shows_on_the_map_and_follows_the_next_one() {
    let daisy = common::flowers17_photo("daisy");
    let options = activation_atlas::app::AppOptions { image: Some(daisy.clone()), ..common::app_options(picker_from(|_| None)) };
    let mut harness = common::app_with_model(options, [1100.0, 760.0]);
    common::run_until(&mut harness, "the atlas loads and the photo opens", 60, |app| {
        app.atlas().atlas().is_some() && app.classify().opening().is_none() && app.classify().image_path().is_some()
    });
    harness.get_by_label("地图集").click();
    common::run_until(&mut harness, "the open photo is placed on the map", 60, |app| {
        app.atlas().map().dropped.iter().any(|d| d.path == daisy)
    });
    assert_eq!(harness.state().atlas().map().dropped.len(), 1);
    assert!(!harness.state().atlas().map().dropped[0].placement.points.is_empty(), "its activations are marked");

    // Another photo opened in 分类 takes its place.
    let bluebell = common::flowers17_photo("bluebell");
    harness.state_mut().open_image(bluebell.clone());
    common::run_until(&mut harness, "the next photo opens", 60, |app| app.classify().opening().is_none());
    harness.get_by_label("地图集").click();
    common::run_until(&mut harness, "it replaces the first on the map", 60, |app| {
        app.atlas().map().dropped.iter().any(|d| d.path == bluebell)
    });
    assert!(harness.state().atlas().map().dropped.iter().all(|d| d.path != daisy));
}
