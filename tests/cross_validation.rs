//! k-fold cross-validation of a recipe, the recipe's new regularisers (label smoothing, mixup,
//! CutMix, random erasing, weight averaging) and mirror-image test-time augmentation.

mod common;

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use activation_atlas::engine::checkpoint::load_checkpoint;
use activation_atlas::engine::classify::{TestTimeViews, classify_images, classify_images_with, view_averaged_probabilities};
use activation_atlas::engine::cross_validation::{CrossValidationEvent, REPORT_FILE, cross_validate, fold_dir, read_report};
use activation_atlas::engine::data::{holdout_split, load_dataset, stratified_folds};
use activation_atlas::engine::eval::{evaluate_images, evaluate_tensors};
use activation_atlas::engine::image_input::images_to_tensor;
use activation_atlas::engine::train::{Augmentation, Holdout, Mixing, TrainConfig, TrainEvent, TrainOutcome, train};
use tch::Device;

fn recipe(epochs: u32) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 16,
        seed: 3,
        label_smoothing: 0.1,
        mixing: Mixing { mixup_alpha: 0.4, cutmix_alpha: 1.0 },
        ema_decay: 0.9,
        augmentation: Augmentation { random_erasing: 0.5, ..Augmentation::STANDARD },
        ..TrainConfig::default()
    }
}

#[test]
fn folds_partition_every_class_evenly() {
    // 5 classes of 7, 9, 10, 11 and 23 photos, shuffled together.
    let mut labels: Vec<usize> = [7, 9, 10, 11, 23].iter().enumerate().flat_map(|(class, &n)| std::iter::repeat_n(class, n)).collect();
    labels.reverse();
    let fold_of = stratified_folds(&labels, 5, 11);
    assert_eq!(fold_of, stratified_folds(&labels, 5, 11), "the same seed gives the same folds");
    assert_ne!(fold_of, stratified_folds(&labels, 5, 12));
    for class in 0..5 {
        let mut per_fold = [0usize; 5];
        labels.iter().zip(&fold_of).filter(|(l, _)| **l == class).for_each(|(_, &f)| per_fold[f as usize] += 1);
        let (low, high) = (per_fold.iter().min().unwrap(), per_fold.iter().max().unwrap());
        assert!(high - low <= 1, "class {class} spread over the folds as {per_fold:?}");
    }
    let mut sizes = [0usize; 5];
    fold_of.iter().for_each(|&f| sizes[f as usize] += 1);
    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "fold sizes {sizes:?}");
    // Each fold's run trains on the other four and holds out exactly this one.
    let mut held_out_total = 0;
    for index in 0..5 {
        let config = TrainConfig { holdout: Holdout::Fold { folds: 5, index }, seed: 11, ..TrainConfig::default() };
        let (train, held_out) = holdout_split(&labels, &config);
        assert_eq!(train.len() + held_out.len(), labels.len());
        assert!(held_out.iter().all(|&i| fold_of[i] == index) && train.iter().all(|&i| fold_of[i] != index));
        held_out_total += held_out.len();
    }
    assert_eq!(held_out_total, labels.len());
}

#[test]
fn cross_validation_scores_each_fold_on_photos_it_never_saw_and_resumes() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, 10);
    let dataset = load_dataset(data.path(), None, &|_, _| {}, &AtomicBool::new(false)).unwrap();
    let root = tempfile::tempdir().unwrap();
    let config = recipe(3);
    let events = Mutex::new(Vec::new());
    let on_event = |event: CrossValidationEvent| events.lock().unwrap().push(event);
    let report = cross_validate(&dataset, &config, 3, root.path(), 2, Device::Cpu, &AtomicBool::new(false), &on_event).unwrap().unwrap();

    assert_eq!(report.results.len(), 3);
    assert_eq!(report.summary.folds, 3);
    assert_eq!(report.recipe, config.recipe_only());
    let accuracies = &report.summary.fold_accuracies;
    let mean = accuracies.iter().sum::<f64>() / 3.0;
    let sd = (accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!((report.summary.mean_accuracy - mean).abs() < 1e-12 && (report.summary.sd_accuracy - sd).abs() < 1e-12);
    for result in &report.results {
        // The fold's last checkpoint, evaluated independently on the photos of its fold.
        let checkpoint = load_checkpoint(&fold_dir(root.path(), result.fold).join("epoch-003.safetensors"), Device::Cpu).unwrap();
        let trained_with = checkpoint.meta.training.clone().unwrap();
        assert_eq!(trained_with.holdout, Holdout::Fold { folds: 3, index: result.fold });
        let (train_indices, held_out) = holdout_split(&dataset.labels, &trained_with);
        assert_eq!(held_out.len(), result.held_out_images);
        assert_eq!(train_indices.len() + held_out.len(), 30);
        let images = images_to_tensor(held_out.iter().map(|&i| &dataset.images[i]));
        let labels: Vec<usize> = held_out.iter().map(|&i| dataset.labels[i]).collect();
        let evaluated = evaluate_tensors(&checkpoint.net, &images, &labels, &dataset.class_names, 64);
        assert!((evaluated.accuracy - result.accuracy).abs() < 1e-9, "fold {}: {} vs {}", result.fold, evaluated.accuracy, result.accuracy);
        // And judged by 12 views of each photo, as the classifier window judges one.
        let by_views = evaluate_images(&checkpoint.net, &images, &labels, &dataset.class_names, 64, TestTimeViews::Crops).0.accuracy;
        assert_eq!(result.views_accuracy, Some(by_views), "fold {}", result.fold);
    }
    let views = report.summary.views.as_ref().expect("every fold was judged by 12 views");
    let view_accuracies: Vec<f64> = report.results.iter().map(|r| r.views_accuracy.unwrap()).collect();
    assert_eq!(views.fold_accuracies, view_accuracies);
    let view_mean = view_accuracies.iter().sum::<f64>() / 3.0;
    assert!((views.mean_accuracy - view_mean).abs() < 1e-12);
    let trained_epochs = events.lock().unwrap().iter().filter(|e| matches!(e, CrossValidationEvent::Epoch { .. })).count();
    assert_eq!(trained_epochs, 9);
    let written = read_report(&root.path().join(REPORT_FILE)).unwrap();
    assert_eq!(written.summary, report.summary);

    // Again with the same recipe: every fold is already done, nothing is trained.
    events.lock().unwrap().clear();
    let again = cross_validate(&dataset, &config, 3, root.path(), 1, Device::Cpu, &AtomicBool::new(false), &on_event).unwrap().unwrap();
    assert_eq!(again.summary, report.summary);
    assert!(!events.lock().unwrap().iter().any(|e| matches!(e, CrossValidationEvent::Epoch { .. })));
    // Another recipe in the same folder starts afresh instead of resuming the first one's runs.
    events.lock().unwrap().clear();
    let other = TrainConfig { label_smoothing: 0.0, ..recipe(2) };
    cross_validate(&dataset, &other, 3, root.path(), 1, Device::Cpu, &AtomicBool::new(false), &on_event).unwrap().unwrap();
    let epochs = events.lock().unwrap().iter().filter(|e| matches!(e, CrossValidationEvent::Epoch { .. })).count();
    assert_eq!(epochs, 6);
}

#[test]
fn cross_validation_refuses_classes_smaller_than_the_folds() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 2, 4);
    let dataset = load_dataset(data.path(), None, &|_, _| {}, &AtomicBool::new(false)).unwrap();
    let root = tempfile::tempdir().unwrap();
    let error = cross_validate(&dataset, &recipe(1), 5, root.path(), 1, Device::Cpu, &AtomicBool::new(false), &|_| {}).unwrap_err();
    assert!(error.to_string().contains("has 4"), "{error}");
}

#[test]
fn regularised_recipe_trains_repeatably_and_learns() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 4, 30);
    let dataset = load_dataset(data.path(), None, &|_, _| {}, &AtomicBool::new(false)).unwrap();
    let config = TrainConfig { checkpoint_every: 1, ..recipe(12) };
    let run = |dir: &std::path::Path| {
        let mut losses = Vec::new();
        let outcome = train(&dataset, &config, dir, None, Device::Cpu, &AtomicBool::new(false), &mut |event| {
            if let TrainEvent::Step { loss, .. } = event {
                losses.push(loss);
            }
        })
        .unwrap();
        let TrainOutcome::Finished { history, .. } = outcome else { panic!("not finished") };
        (losses, history)
    };
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (losses, history) = run(first_dir.path());
    let (again, _) = run(second_dir.path());
    assert_eq!(losses, again, "mixing, erasing and smoothing draw from the run's seed alone");
    assert!(losses.iter().all(|l| l.is_finite()));
    let last = history.last().unwrap();
    // Four classes: chance is 0.25. So much regularisation learns more slowly than the plain
    // recipe (which reaches 0.95 here), but it learns.
    assert!(last.validation_accuracy >= 0.6, "held-out accuracy of the averaged weights: {history:#?}");
    // Soft targets keep the loss above zero: with ε = 0.1 over 4 classes the least possible
    // cross-entropy is the targets' own entropy, about 0.39.
    assert!(losses.iter().all(|&l| l > 0.3), "smallest loss {}", losses.iter().cloned().fold(f64::INFINITY, f64::min));
}

#[test]
fn flip_averaging_is_the_mean_of_the_image_and_its_mirror() {
    let net = common::shipped_net(false);
    let photo = common::flowers17_input("sunflower");
    let mirrored = image::imageops::flip_horizontal(&photo);
    let plain = classify_images(&net, &[photo.clone(), mirrored]);
    let averaged = classify_images_with(&net, &[photo], TestTimeViews::Mirror).remove(0);
    for (class, probability) in averaged.probabilities.iter().enumerate() {
        let expected = (plain[0].probabilities[class] + plain[1].probabilities[class]) / 2.0;
        assert!((probability - expected).abs() < 1e-5, "class {class}: {probability} vs {expected}");
    }
    assert_ne!(plain[0].probabilities, averaged.probabilities);
}

#[test]
fn crop_averaging_is_the_mean_of_twelve_views_half_of_them_mirrored() {
    let net = common::shipped_net(false);
    let photo = common::flowers17_input("sunflower");
    let batch = activation_atlas::engine::image_input::images_to_tensor(std::slice::from_ref(&photo));
    let views = TestTimeViews::Crops.views(&batch);
    assert_eq!(views.len(), TestTimeViews::Crops.count());
    for (view, mirror) in views[..6].iter().zip(&views[6..]) {
        assert_eq!(view.size(), batch.size());
        assert!(view.flip([3]).allclose(mirror, 0.0, 0.0, false));
    }
    // The crops are other pictures than the photo, and than each other.
    for (i, a) in views[..6].iter().enumerate() {
        for b in &views[i + 1..6] {
            assert!(!a.allclose(b, 1e-3, 1e-3, false));
        }
    }
    let averaged = classify_images_with(&net, std::slice::from_ref(&photo), TestTimeViews::Crops).remove(0);
    let one_by_one: Vec<Vec<f32>> =
        views.iter().map(|view| Vec::<f32>::try_from(net.forward(view, false).softmax(1, tch::Kind::Float).get(0)).unwrap()).collect();
    for (class, probability) in averaged.probabilities.iter().enumerate() {
        let expected = one_by_one.iter().map(|p| p[class]).sum::<f32>() / 12.0;
        assert!((probability - expected).abs() < 1e-5, "class {class}: {probability} vs {expected}");
    }
    // A picture of one colour looks the same in every view.
    let flat = image::RgbImage::from_pixel(100, 100, image::Rgb([40, 160, 90]));
    let flat_batch = activation_atlas::engine::image_input::images_to_tensor(std::slice::from_ref(&flat));
    let single = view_averaged_probabilities(&net, &flat_batch, TestTimeViews::Single);
    let crops = view_averaged_probabilities(&net, &flat_batch, TestTimeViews::Crops);
    assert!(single.allclose(&crops, 1e-5, 1e-6, false));
}

#[test]
fn final_training_records_a_cross_validation_of_the_same_recipe_only() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, 6);
    let data_arg = data.path().to_str().unwrap();
    let cv_dir = tempfile::tempdir().unwrap();
    let recipe_args = ["--epochs", "2", "--batch-size", "8", "--label-smoothing", "0.1", "--ema", "0.9", "--seed", "4"];
    let mut args = vec!["cross-validate", "--data", data_arg, "--out", cv_dir.path().to_str().unwrap(), "--folds", "3"];
    args.extend(recipe_args);
    let output = common::run_cli(&args);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let stdout = common::text(&output.stdout);
    assert!(stdout.contains("RESULT 3-fold cross-validation accuracy"), "{stdout}");
    let report_path = cv_dir.path().join(REPORT_FILE);
    let report = read_report(&report_path).unwrap();

    // The final model: every photo, the same recipe, the report attached.
    let run_dir = tempfile::tempdir().unwrap();
    let report_arg = report_path.to_str().unwrap();
    let mut args = vec!["train", "--data", data_arg, "--out", run_dir.path().to_str().unwrap(), "--validation-fraction", "0"];
    args.extend(recipe_args);
    args.extend(["--cross-validation", report_arg]);
    let output = common::run_cli(&args);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let last = load_checkpoint(&run_dir.path().join("epoch-002.safetensors"), Device::Cpu).unwrap();
    assert_eq!(last.meta.cross_validation.as_ref(), Some(&report.summary));
    assert!(!run_dir.path().join("best.safetensors").exists(), "no held-out photos, so no choice of a best epoch");
    assert!(common::text(&output.stdout).contains("no held-out photos, so no validation accuracy"), "{}", common::text(&output.stdout));

    // `evaluate --split validation` scores a fold's model on the photos its fold held out: the
    // report's figures, with 12 views (the default) and photo by photo. The final model held
    // none out, and says so.
    let fold = &report.results[0];
    let fold_weights = fold_dir(cv_dir.path(), fold.fold).join("epoch-002.safetensors");
    let views_accuracy = fold.views_accuracy.expect("12 views scored");
    for (tta, expected) in [(None, views_accuracy), (Some("--tta=crops"), views_accuracy), (Some("--tta=off"), fold.accuracy)] {
        let mut args = vec!["--json", "evaluate", "--data", data_arg, "--weights", fold_weights.to_str().unwrap(), "--split", "validation"];
        args.extend(tta);
        let output = common::run_cli(&args);
        assert!(output.status.success(), "{}", common::text(&output.stderr));
        let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(envelope["result"]["images"].as_u64(), Some(fold.held_out_images as u64));
        assert!((envelope["result"]["accuracy"].as_f64().unwrap() - expected).abs() < 1e-9, "{tta:?}: {envelope} vs {expected}");
    }
    let final_weights = run_dir.path().join("epoch-002.safetensors");
    let output = common::run_cli(&["evaluate", "--data", data_arg, "--weights", final_weights.to_str().unwrap(), "--split", "validation"]);
    assert!(!output.status.success());
    let stderr = common::text(&output.stderr);
    assert!(stderr.contains("trained on every photo") && stderr.contains("epoch-002.safetensors"), "{stderr}");

    // Another recipe (a different seed) is refused before training starts.
    let other_dir = tempfile::tempdir().unwrap();
    let mut args = vec!["train", "--data", data_arg, "--out", other_dir.path().to_str().unwrap(), "--validation-fraction", "0"];
    args.extend(["--epochs", "2", "--batch-size", "8", "--label-smoothing", "0.1", "--ema", "0.9", "--seed", "5"]);
    args.extend(["--cross-validation", report_arg]);
    let output = common::run_cli(&args);
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains("cross-validated another recipe"), "{}", common::text(&output.stderr));
    assert!(!other_dir.path().join("epoch-002.safetensors").exists());

    // A final model trained while its cross-validation ran gets the report afterwards, and only
    // a report of its own recipe.
    let later_dir = tempfile::tempdir().unwrap();
    let mut args = vec!["train", "--data", data_arg, "--out", later_dir.path().to_str().unwrap(), "--validation-fraction", "0"];
    args.extend(recipe_args);
    assert!(common::run_cli(&args).status.success());
    let later = later_dir.path().join("epoch-002.safetensors");
    let later_arg = later.to_str().unwrap();
    assert_eq!(load_checkpoint(&later, Device::Cpu).unwrap().meta.cross_validation, None);
    // An atlas built before the recording is carried along: the metadata is part of the
    // fingerprint it records.
    let atlas = later_dir.path().join("later.atlas");
    let atlas_arg = atlas.to_str().unwrap();
    let mut args = vec!["atlas", "build", "--weights", later_arg, "--data", data_arg, "--out", atlas_arg, "--grids", "4"];
    args.extend(["--icon-grids", "4", "--icon-steps", "4", "--samples", "4", "--neighbors", "5", "--no-paper-views"]);
    let output = common::run_cli(&args);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let output = common::run_cli(&["checkpoint", "record-cross-validation", later_arg, "--report", report_arg, "--atlas", atlas_arg]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert!(common::text(&output.stdout).contains("3-fold estimate"), "{}", common::text(&output.stdout));
    let recorded = load_checkpoint(&later, Device::Cpu).unwrap();
    assert_eq!(recorded.meta.cross_validation.as_ref(), Some(&report.summary));
    let atlas_model = activation_atlas::engine::atlas::load_atlas(&atlas).unwrap().meta.model_fingerprint;
    assert_eq!(atlas_model, recorded.fingerprint, "the atlas follows the new fingerprint");

    // A repeat of the recipe with another seed (other folds, other starts) is pooled with it:
    // every fold of both counts once. The same seed twice is no repeat.
    let repeat_dir = tempfile::tempdir().unwrap();
    let repeat_out = repeat_dir.path().to_str().unwrap();
    let mut args = vec!["cross-validate", "--data", data_arg, "--out", repeat_out, "--folds", "3"];
    args.extend(["--epochs", "2", "--batch-size", "8", "--label-smoothing", "0.1", "--ema", "0.9", "--seed", "6"]);
    assert!(common::run_cli(&args).status.success());
    let repeat_path = repeat_dir.path().join(REPORT_FILE);
    let repeat = read_report(&repeat_path).unwrap();
    let repeat_arg = repeat_path.to_str().unwrap();
    let output = common::run_cli(&[
        "checkpoint",
        "record-cross-validation",
        later_arg,
        "--report",
        report_arg,
        "--report",
        repeat_arg,
        "--atlas",
        atlas_arg,
    ]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert!(common::text(&output.stdout).contains("2 x 3-fold estimate"), "{}", common::text(&output.stdout));
    let pooled = load_checkpoint(&later, Device::Cpu).unwrap().meta.cross_validation.unwrap();
    let all_folds: Vec<f64> = report.summary.fold_accuracies.iter().chain(&repeat.summary.fold_accuracies).copied().collect();
    assert_eq!((pooled.repeats, pooled.folds), (2, 3));
    assert_eq!(pooled.fold_accuracies, all_folds);
    assert!((pooled.mean_accuracy - all_folds.iter().sum::<f64>() / 6.0).abs() < 1e-12);
    let all_views: Vec<f64> =
        report.results.iter().chain(&repeat.results).map(|fold| fold.views_accuracy.expect("12 views scored")).collect();
    assert_eq!(pooled.views.as_ref().unwrap().fold_accuracies, all_views);
    assert_eq!(
        activation_atlas::engine::atlas::load_atlas(&atlas).unwrap().meta.model_fingerprint,
        load_checkpoint(&later, Device::Cpu).unwrap().fingerprint
    );
    let output = common::run_cli(&["checkpoint", "record-cross-validation", later_arg, "--report", report_arg, "--report", report_arg]);
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains("repeats seed 4"), "{}", common::text(&output.stderr));
    assert_eq!(load_checkpoint(&later, Device::Cpu).unwrap().meta.cross_validation.unwrap(), pooled, "nothing written");
    // An estimate already pooled cannot be kept: its repeats' seeds are not recorded.
    let record_keeping = |report: &str| {
        common::run_cli(&["checkpoint", "record-cross-validation", later_arg, "--keep-recorded", "--report", report, "--atlas", atlas_arg])
    };
    let output = record_keeping(repeat_arg);
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains("already records 2 pooled"), "{}", common::text(&output.stderr));
    // With its own seed's report gone, the recorded estimate is pooled with a repeat: the same
    // figures as pooling both reports. Its own seed again is refused.
    let output = common::run_cli(&["checkpoint", "record-cross-validation", later_arg, "--report", report_arg, "--atlas", atlas_arg]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let output = record_keeping(report_arg);
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains("repeats seed 4"), "{}", common::text(&output.stderr));
    let output = record_keeping(repeat_arg);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert!(common::text(&output.stdout).contains("2 x 3-fold estimate"), "{}", common::text(&output.stdout));
    assert_eq!(load_checkpoint(&later, Device::Cpu).unwrap().meta.cross_validation.unwrap(), pooled);
    assert_eq!(
        activation_atlas::engine::atlas::load_atlas(&atlas).unwrap().meta.model_fingerprint,
        load_checkpoint(&later, Device::Cpu).unwrap().fingerprint
    );
    let mut args = vec!["train", "--data", data_arg, "--out", other_dir.path().to_str().unwrap(), "--validation-fraction", "0"];
    args.extend(["--epochs", "2", "--batch-size", "8", "--label-smoothing", "0.1", "--ema", "0.9", "--seed", "5"]);
    assert!(common::run_cli(&args).status.success());
    let other = other_dir.path().join("epoch-002.safetensors");
    let output = common::run_cli(&["checkpoint", "record-cross-validation", other.to_str().unwrap(), "--report", report_arg]);
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains("cross-validated another recipe"), "{}", common::text(&output.stderr));
    // An atlas of another model of the recipe is refused before anything is written.
    let final_before = std::fs::read(&final_weights).unwrap();
    let output = common::run_cli(&[
        "checkpoint",
        "record-cross-validation",
        final_weights.to_str().unwrap(),
        "--report",
        report_arg,
        "--atlas",
        atlas_arg,
    ]);
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains("was not built from"), "{}", common::text(&output.stderr));
    assert_eq!(std::fs::read(&final_weights).unwrap(), final_before);
    assert_eq!(load_checkpoint(&other, Device::Cpu).unwrap().meta.cross_validation, None);
}
