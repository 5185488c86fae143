//! The mistakes explorer with the shipped model on flowers17 photos in grey (it fits every colour
//! photo of flowers17): the wrong answers on a validation split (and only there), the surest first, with Grad-CAM maps and the nearest training photos;
//! and the 错误 tab that lists them, explains one and places one on the atlas.

mod common;

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;

use activation_atlas::app::Tab;
use activation_atlas::app::dialogs::{DialogKind, picker_from};
use activation_atlas::app::i18n::{Lang, mistakes_summary};
use activation_atlas::engine::checkpoint::load_checkpoint;
use activation_atlas::engine::classify::classify_images;
use activation_atlas::engine::data::{Photos, open_dataset, stratified_split};
use activation_atlas::engine::mistakes::{MistakeParams, find_mistakes};
use egui_kittest::kittest::Queryable;

#[test]
fn the_mistakes_are_the_wrong_answers_on_the_validation_split_surest_first() {
    let model = load_checkpoint(&activation_atlas::resources::shipped_model().unwrap(), tch::Device::Cpu).unwrap();
    let cancel = AtomicBool::new(false);
    let grey = tempfile::tempdir().unwrap();
    common::grey_flowers17(grey.path(), 10);
    let photos = open_dataset(grey.path(), None, &|_, _| {}, &cancel).unwrap();
    // A seeded 80/20 split is imposed so that the held-out path is what is checked.
    let params = MistakeParams { validation_fraction: 0.2, seed: 17, neighbours: 4, max_mistakes: 1000, ..MistakeParams::default() };
    let mut steps: Vec<(usize, usize)> = Vec::new();
    let report =
        find_mistakes(&model.net, &model.meta.class_names, &photos, &params, &mut |done, total| steps.push((done, total)), &cancel)
            .unwrap();
    // The count never passes what there is to do: the photos, then the mistakes mapped.
    assert!(steps.iter().all(|&(done, total)| done <= total && total <= photos.len() + report.mistakes.len()), "{steps:?}");
    assert_eq!(steps.last(), Some(&(photos.len() + report.mistakes.len(), photos.len() + report.mistakes.len())));

    let (train, validation) = stratified_split(photos.labels(), params.validation_fraction, params.seed);
    assert!(report.held_out);
    assert_eq!(report.examined, validation.len());
    // Counted independently: classify each validation photo.
    let wrong: Vec<usize> = validation
        .iter()
        .copied()
        .filter(|&i| {
            let image = photos.read(i..i + 1).unwrap()[0].clone();
            classify_images(&model.net, &[image])[0].best().0 != photos.labels()[i]
        })
        .collect();
    assert_eq!(report.wrong, wrong.len());
    assert!(report.wrong > 0 && report.wrong < validation.len(), "some, not all, grey photos are misread: {}", report.wrong);
    let found: HashSet<usize> = report.mistakes.iter().map(|m| m.index).collect();
    assert_eq!(found, wrong.iter().copied().collect());

    let train: HashSet<usize> = train.into_iter().collect();
    for pair in report.mistakes.windows(2) {
        assert!(pair[0].confidence >= pair[1].confidence, "surest first");
    }
    for m in &report.mistakes {
        assert_ne!(m.predicted, m.truth);
        assert!(m.confidence >= m.truth_probability);
        assert_eq!((m.predicted_map.width, m.predicted_map.height), (100, 100));
        assert_ne!(m.predicted_map, m.truth_map, "the two classes' evidence differs");
        assert_eq!(m.near.len(), 4);
        assert!(m.near.iter().all(|n| train.contains(&n.index)), "neighbours come from the training split");
        assert!(m.near.windows(2).all(|w| w[0].similarity >= w[1].similarity), "nearest first");
    }
}

#[test]
fn the_mistakes_tab_lists_them_and_opens_one_in_explain_and_on_the_atlas() {
    let grey = tempfile::tempdir().unwrap();
    common::grey_flowers17(grey.path(), 6);
    let folder = grey.path().to_path_buf();
    let chosen = folder.clone();
    let options = common::app_options(picker_from(move |request| (request.kind == DialogKind::PickMistakesFolder).then(|| chosen.clone())));
    let mut harness = common::app_with_model(options, [1400.0, 1000.0]);
    common::run_until(&mut harness, "the shipped atlas loads", 60, |app| app.atlas().atlas().is_some());
    harness.get_by_label("错误").click();
    harness.run_steps(2);
    assert_eq!(harness.state().tab, Tab::Mistakes);
    harness.get_by_label("选择文件夹…").click();
    common::run_until(&mut harness, "the folder is chosen", 20, |app| app.mistakes().folder() == Some(&folder));
    harness.get_by_label("查找错误").click();
    common::run_until(&mut harness, "the mistakes are found", 240, |app| {
        app.mistakes().found().is_some() && app.mistakes().finding().is_none()
    });
    harness.run_steps(2);
    let found = harness.state().mistakes().found().cloned().unwrap();
    harness.get_by_label(&mistakes_summary(Lang::Zh, found.wrong, found.examined, found.held_out));
    let surest = &found.mistakes[0];
    assert!(surest.near.iter().all(|n| n.picture.is_some()), "neighbours come with their pictures");

    // The surest mistake is the first row: 在地图集上显示 places it on the atlas.
    harness.get_all_by_label("在地图集上显示").next().unwrap().click();
    common::run_until(&mut harness, "it is placed on the atlas", 60, |app| app.atlas().map().dropped.iter().any(|d| d.path == surest.path));
    assert_eq!(harness.state().tab, Tab::Atlas);

    harness.get_by_label("错误").click();
    harness.run_steps(2);
    let file = surest.path.file_name().unwrap().to_string_lossy().into_owned();
    harness.get_all_by_label(&file).next().unwrap().click();
    common::run_until(&mut harness, "it opens in 解释", 60, |app| app.classify().image_path() == Some(&surest.path));
    assert_eq!(harness.state().tab, Tab::Explain);
}

#[test]
fn the_cli_lists_the_surest_mistakes_and_refuses_a_folder_of_other_classes() {
    let grey = tempfile::tempdir().unwrap();
    common::grey_flowers17(grey.path(), 6);
    let flowers = grey.path().to_path_buf();
    let output = common::run_cli(&[
        "--json".as_ref(),
        "mistakes".as_ref(),
        "--data".as_ref(),
        flowers.as_os_str(),
        "--limit".as_ref(),
        "5".as_ref(),
    ]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let result = &envelope["result"];
    // The shipped model kept no photos back, so every photo is examined (and says so).
    assert_eq!(result["held_out"], false);
    assert_eq!(result["examined"], 17 * 6);
    let (examined, wrong) = (result["examined"].as_u64().unwrap(), result["wrong"].as_u64().unwrap());
    assert!(wrong > 5 && wrong < examined, "{result}");
    let mistakes = result["mistakes"].as_array().unwrap();
    assert_eq!(mistakes.len(), 5, "--limit 5");
    let confidences: Vec<f64> = mistakes.iter().map(|m| m["confidence"].as_f64().unwrap()).collect();
    assert!(confidences.windows(2).all(|w| w[0] >= w[1]), "surest first: {confidences:?}");
    for m in mistakes {
        assert_ne!(m["truth"], m["predicted"]);
        assert_eq!(m["near"].as_array().unwrap().len(), 3);
    }

    // A folder whose classes are not the model's is refused with both lists.
    let other = tempfile::tempdir().unwrap();
    common::write_shape_dataset(other.path(), 3, 4);
    let output = common::run_cli(&["mistakes".as_ref(), "--data".as_ref(), other.path().as_os_str()]);
    assert!(!output.status.success());
    let stderr = common::text(&output.stderr);
    assert!(stderr.contains("are not the model's") && stderr.contains("sunflower"), "{stderr}");
}

#[test]
fn at_1000_px_a_mistakes_nearest_training_photos_are_all_on_screen() {
    let grey = tempfile::tempdir().unwrap();
    common::grey_flowers17(grey.path(), 6);
    let folder = grey.path().to_path_buf();
    let chosen = folder.clone();
    let options = common::app_options(picker_from(move |request| (request.kind == DialogKind::PickMistakesFolder).then(|| chosen.clone())));
    let mut harness = common::app_with_model(options, [1000.0, 700.0]);
    harness.get_by_label("错误").click();
    harness.run_steps(2);
    harness.get_by_label("选择文件夹…").click();
    common::run_until(&mut harness, "the folder is chosen", 20, |app| app.mistakes().folder() == Some(&folder));
    harness.get_by_label("查找错误").click();
    common::run_until(&mut harness, "the mistakes are found", 240, |app| {
        app.mistakes().found().is_some() && app.mistakes().finding().is_none()
    });
    harness.run_steps(2);
    let surest = harness.state().mistakes().found().unwrap().mistakes[0].clone();
    assert!(!surest.near.is_empty());
    for near in &surest.near {
        let file = near.path.file_name().unwrap().to_string_lossy().into_owned();
        let shown = harness.get_all_by_label(&file).map(|n| n.rect()).min_by(|a, b| a.top().total_cmp(&b.top())).unwrap();
        assert!(shown.right() <= 1000.0, "the neighbour {file} ends at {} px", shown.right());
    }
}
