//! The explain panel: open a picture, then produce every view from the panel by its labels.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use activation_atlas::app::dialogs::{DialogKind, DialogRequest, Picker, picker_from};
use activation_atlas::app::explain_panel::{Method, Shown};
use activation_atlas::app::{AppOptions, AtlasApp, ModelStatus};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn app_with_picture(export_to: Arc<Mutex<Option<PathBuf>>>) -> Harness<'static, AtlasApp> {
    let photo = common::flowers17_photo("sunflower");
    let picker: Picker = picker_from(move |request: DialogRequest| match request.kind {
        DialogKind::ExportPng => export_to.lock().unwrap().clone(),
        _ => None,
    });
    let options = AppOptions { image: Some(photo), ..common::app_options(picker) };
    let mut harness = Harness::builder().with_size([1280.0, 900.0]).build_eframe(move |cc| AtlasApp::new(cc, options));
    common::run_until(&mut harness, "model and picture are ready", 60, |app| {
        matches!(app.model, ModelStatus::Ready(_)) && app.classify().has_picture() && !app.worker_busy()
    });
    harness.get_by_label("解释").click();
    harness.run_steps(2);
    harness
}

fn produce(harness: &mut Harness<'static, AtlasApp>, tab: &str, method: Method, click_compute: bool) {
    harness.get_by_label(tab).click();
    harness.run_steps(2);
    if click_compute {
        harness.get_by_label("计算").click();
    }
    common::run_until(harness, &format!("{tab} is shown"), 60, |app| {
        app.explain().results().running.is_none() && app.explain().result_for(method).is_some()
    });
}

#[test]
fn every_view_is_produced_from_the_panel() {
    let export = Arc::new(Mutex::new(None));
    let mut harness = app_with_picture(export.clone());
    // Grad-CAM is the default view and computes by itself.
    common::run_until(&mut harness, "Grad-CAM is shown", 60, |app| app.explain().result_for(Method::GradCam).is_some());
    harness.get_by_label_contains("conv4 · 向日葵");

    produce(&mut harness, "模型结构", Method::Summary, false);
    harness.get_by_label("5528273");
    produce(&mut harness, "特征图", Method::FeatureMaps, false);
    harness.get_by_label("conv2：64 个通道"); // captions in the window's language
    produce(&mut harness, "论文特征图", Method::PaperMap, false);
    produce(&mut harness, "卷积核", Method::Filters, false);
    produce(&mut harness, "梯度归因", Method::Saliency, false);
    produce(&mut harness, "遮挡分析", Method::Occlusion, true);
    harness.get_by_label_contains("向日葵 · 未遮挡时概率 ");
    harness.get_by_label("特征可视化").click();
    harness.run_steps(2);
    harness.get_by_label("步数").set_value_accesskit(24.0);
    harness.run_steps(2);
    produce(&mut harness, "特征可视化", Method::Visualize, true);
    assert_eq!(harness.state().explain().results().objective_values.len(), 24, "the objective is plotted step by step");

    let sizes: Vec<(Method, usize, usize)> = harness
        .state()
        .explain()
        .results()
        .shown
        .iter()
        .filter_map(|(method, shown)| match shown {
            Shown::Picture { picture, .. } | Shown::Heat { heat_picture: picture, .. } => Some((*method, picture.width, picture.height)),
            Shown::Summary(_) => None,
        })
        .collect();
    assert!(sizes.contains(&(Method::GradCam, 400, 400)), "{sizes:?}");
    assert!(sizes.contains(&(Method::Visualize, 100, 100)), "{sizes:?}");

    // Export the feature visualisation as PNG.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("vis.png");
    *export.lock().unwrap() = Some(out.clone());
    harness.get_by_label("导出 PNG…").click();
    common::run_until(&mut harness, "the PNG is written", 30, |_| out.exists());
    let written = image::open(&out).unwrap();
    assert_eq!((written.width(), written.height()), (100, 100));
}

#[test]
fn a_map_comes_with_its_faithfulness_and_a_sanity_check() {
    let mut harness = app_with_picture(Arc::new(Mutex::new(None)));
    common::run_until(&mut harness, "Grad-CAM is shown", 60, |app| app.explain().result_for(Method::GradCam).is_some());
    // The faithfulness panel: one plain sentence, the curves and the table beside random and Sobel.
    harness.get_by_label_contains("删除最重要的 10% 像素，向日葵 的概率从");
    harness.get_by_label("删除 AUC ↓");
    // Each reference map is named in the table, in the colour of its curves.
    harness.get_by_label("随机图");
    harness.get_by_label("Sobel 边缘图");
    let Some(Shown::Heat { faithfulness: Some(report), .. }) = harness.state().explain().result_for(Method::GradCam) else {
        panic!("Grad-CAM has no faithfulness report")
    };
    assert_eq!(report.map.deletion.len(), 21);

    // Another CAM method from the method list; it replaces the Grad-CAM map.
    harness.get_by_label("方法").click();
    harness.run_steps(2);
    harness.get_by_label("LayerCAM").click();
    common::run_until(
        &mut harness,
        "LayerCAM is shown",
        60,
        |app| matches!(app.explain().result_for(Method::GradCam), Some(Shown::Heat { method, .. }) if method.cli_name() == "layercam"),
    );
    harness.get_by_label_contains("LayerCAM · conv4 · 向日葵");

    // The sanity check of the map on screen.
    harness.get_by_label("合理性检查…").click();
    common::run_until(&mut harness, "the sanity check is shown", 120, |app| {
        app.explain().results().sanity.is_some() && app.explain().results().running.is_none()
    });
    harness.run_steps(2);
    harness.get_by_label("随机化到");
    assert_eq!(harness.state().explain().results().sanity.as_ref().map(|s| s.report.stages.len()), Some(7));
}

#[test]
fn views_that_need_a_picture_say_so() {
    let mut harness = common::app_with_model(common::app_options(picker_from(|_: DialogRequest| None)), [1280.0, 900.0]);
    harness.get_by_label("解释").click();
    harness.run_steps(2);
    harness.get_by_label("请先在“分类”面板读取一张图片。");
    // The model summary and filters need no picture.
    produce(&mut harness, "卷积核", Method::Filters, false);
}
