//! Fine-tuning the shipped EfficientNet-Lite0: only the chosen last stages and the new last
//! layer learn (the rest stays exactly as shipped, running statistics included), a run repeats
//! exactly from its seed, it resumes and cancels as the paper's training does, what it cannot do
//! is refused by name, and the CLI trains and cross-validates with it.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use activation_atlas::engine::data::{StoredDataset, open_dataset_sized};
use activation_atlas::engine::finetune::{train_finetune, trainable_stages};
use activation_atlas::engine::network::import::{LoadedNetwork, load_network};
use activation_atlas::engine::recipe::finetune_recipe;
use activation_atlas::engine::train::{TrainConfig, TrainEvent, TrainOutcome};
use activation_atlas::engine::transfer::{Features, backbone_features, load_backbone};
use tch::Device;

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

struct Setup {
    _data: tempfile::TempDir,
    backbone: LoadedNetwork,
    photos: StoredDataset,
    features: Features,
}

/// 4 classes x 6 flowers17 photos at 224, with the backbone's features.
fn setup() -> Setup {
    let data = common::flowers17_subset(&["daisy", "sunflower", "tulip", "iris"], 6, false);
    let backbone = load_backbone("efficientnet-lite0", Device::Cpu).unwrap();
    let photos = open_dataset_sized(data.path(), None, 224, &|_, _| {}, &never()).unwrap();
    let features = backbone_features(&backbone, &photos, None, &mut |_, _| {}, &never()).unwrap();
    Setup { _data: data, backbone, photos, features }
}

fn recipe(unfreeze: u32, epochs: u32) -> TrainConfig {
    TrainConfig { epochs, batch_size: 8, validation_fraction: 0.25, checkpoint_every: 1, ..finetune_recipe("efficientnet-lite0", unfreeze) }
}

#[test]
fn only_the_unfrozen_stages_and_the_last_layer_learn_and_a_run_repeats_from_its_seed() {
    let s = setup();
    let run = tempfile::tempdir().unwrap();
    let config = recipe(2, 2);
    let mut started = None;
    let mut steps = 0;
    let outcome =
        train_finetune(&s.backbone, &s.photos, Some(&s.features), &config, run.path(), None, &never(), &mut |event| match event {
            TrainEvent::Started { train_images, validation_images, steps_per_epoch, .. } => {
                started = Some((train_images, validation_images, steps_per_epoch))
            }
            TrainEvent::Step { .. } => steps += 1,
            _ => {}
        })
        .unwrap();
    assert_eq!(started, Some((16, 8, 2)), "a quarter of each class held out; batches of 8");
    assert_eq!(steps, 4);
    let TrainOutcome::Finished { last: Some(last), best: Some(_), history } = outcome else { panic!("finished with checkpoints") };
    assert_eq!(history.len(), 2);
    assert!(run.path().join("history.json").exists());

    let model = load_network(&last, Device::Cpu).unwrap();
    assert_eq!(model.meta.class_names, ["daisy", "iris", "sunflower", "tulip"]);
    assert_eq!(model.meta.epoch, 2);
    assert!(model.meta.training.as_ref().is_some_and(TrainConfig::fine_tunes), "the recipe is recorded");
    let spec = model.net.spec();
    assert_eq!(trainable_stages(model.net.as_ref(), 2).map(|i| spec.layers[i].name.clone()).collect::<Vec<_>>(), ["block15", "head"]);
    let (mine, shipped) = (model.net.var_store().variables(), s.backbone.net.var_store().variables());
    let same = |name: &str| mine[name].allclose(&shipped[name], 0.0, 0.0, false);
    // Fixed: weights and the batch norm's running statistics, bit for bit.
    for name in ["_conv_stem.weight", "_blocks.14._project_conv.weight", "_blocks.14._bn2.running_mean", "_blocks.14._bn2.weight"] {
        assert!(same(name), "{name} stays as shipped");
    }
    // Learning: the last block, the head convolution (and its batch statistics), the new layer.
    for name in ["_blocks.15._project_conv.weight", "_blocks.15._bn1.weight", "_conv_head.weight", "_bn1.running_mean"] {
        assert!(!same(name), "{name} was trained");
    }
    assert_eq!(mine["_fc.weight"].size(), [4, 1280]);

    // The same seed: the same pixels, dropout and order, so the same weights.
    let again = tempfile::tempdir().unwrap();
    let TrainOutcome::Finished { last: Some(last_again), .. } =
        train_finetune(&s.backbone, &s.photos, Some(&s.features), &config, again.path(), None, &never(), &mut |_| {}).unwrap()
    else {
        panic!("finished")
    };
    let repeated = load_network(&last_again, Device::Cpu).unwrap();
    let name = "_blocks.15._project_conv.weight";
    assert!(repeated.net.var_store().variables()[name].allclose(&mine[name], 1e-6, 1e-7, false), "a run repeats from its seed");
}

#[test]
fn a_fine_tuning_resumes_from_its_checkpoint_and_stops_when_cancelled() {
    let s = setup();
    let run = tempfile::tempdir().unwrap();
    let TrainOutcome::Finished { last: Some(first), .. } =
        train_finetune(&s.backbone, &s.photos, Some(&s.features), &recipe(1, 1), run.path(), None, &never(), &mut |_| {}).unwrap()
    else {
        panic!("finished")
    };
    let mut first_epoch = 0;
    let outcome = train_finetune(&s.backbone, &s.photos, None, &recipe(1, 2), run.path(), Some(&first), &never(), &mut |event| {
        if let TrainEvent::Started { first_epoch: epoch, .. } = event {
            first_epoch = epoch;
        }
    })
    .unwrap();
    assert_eq!(first_epoch, 2, "continues after the checkpoint's epoch");
    let TrainOutcome::Finished { history, .. } = outcome else { panic!("finished") };
    assert_eq!(history.iter().map(|r| r.epoch).collect::<Vec<_>>(), [1, 2], "the history carries on");

    let cancelled = AtomicBool::new(true);
    let outcome =
        train_finetune(&s.backbone, &s.photos, Some(&s.features), &recipe(1, 3), &run.path().join("again"), None, &cancelled, &mut |_| {})
            .unwrap();
    assert!(matches!(outcome, TrainOutcome::Cancelled { .. }));
}

#[test]
fn what_fine_tuning_cannot_do_is_refused_by_name() {
    let s = setup();
    let run = tempfile::tempdir().unwrap();
    let error = train_finetune(&s.backbone, &s.photos, Some(&s.features), &recipe(40, 1), run.path(), None, &never(), &mut |_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("--unfreeze 40") && error.contains("18 stages"), "{error}");
    let mixing = TrainConfig { mixing: activation_atlas::engine::recipe::Mixing { mixup_alpha: 0.2, cutmix_alpha: 0.0 }, ..recipe(1, 1) };
    let error = train_finetune(&s.backbone, &s.photos, Some(&s.features), &mixing, run.path(), None, &never(), &mut |_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("mixup"), "{error}");
    // A checkpoint of other classes cannot be continued on this folder.
    let other = common::flowers17_subset(&["daisy", "sunflower", "tulip"], 6, false);
    let other_photos = open_dataset_sized(other.path(), None, 224, &|_, _| {}, &never()).unwrap();
    let other_features = backbone_features(&s.backbone, &other_photos, None, &mut |_, _| {}, &never()).unwrap();
    let TrainOutcome::Finished { last: Some(three), .. } =
        train_finetune(&s.backbone, &other_photos, Some(&other_features), &recipe(1, 1), run.path(), None, &never(), &mut |_| {}).unwrap()
    else {
        panic!("finished")
    };
    let error = train_finetune(&s.backbone, &s.photos, None, &recipe(1, 2), run.path(), Some(&three), &never(), &mut |_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("trained on classes"), "{error}");
}

#[test]
fn the_command_line_fine_tunes_and_cross_validates() {
    let data = common::flowers17_subset(&["daisy", "sunflower", "tulip"], 4, false);
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let output = common::run_cli(&[
        "train",
        "--from-pretrained",
        "efficientnet-lite0",
        "--mode",
        "finetune",
        "--unfreeze",
        "2",
        "--epochs",
        "2",
        "--data",
        &path(data.path()),
        "--out",
        &path(&run),
    ]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let history: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("history.json")).unwrap()).unwrap();
    assert_eq!(history.as_array().map(Vec::len), Some(2));
    let model = load_network(&run.join("epoch-002.safetensors"), Device::Cpu).unwrap();
    let recipe = model.meta.training.unwrap();
    assert_eq!(
        recipe.pretrained.map(|p| p.mode),
        Some(activation_atlas::engine::recipe::TransferMode::Finetune { unfreeze: 2 }),
        "the flags are recorded"
    );
    assert_eq!((recipe.batch_size, recipe.learning_rate), (32, 3e-4), "fine-tuning's own defaults where no flag is given");

    // Resumed from its checkpoint on the command line.
    let output = common::run_cli(&[
        "train",
        "--from-pretrained",
        "efficientnet-lite0",
        "--mode",
        "finetune",
        "--unfreeze",
        "2",
        "--epochs",
        "3",
        "--data",
        &path(data.path()),
        "--out",
        &path(&run),
        "--resume",
        &path(&run.join("epoch-002.safetensors")),
    ]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert!(common::text(&output.stderr).contains("epochs 3..=3"), "{}", common::text(&output.stderr));

    // Its timeline: a frame per epoch checkpoint, at the first block the run trains (those
    // before it do not change); a layer the network does not have is refused with its list.
    let timeline = out.path().join("run.timeline");
    let args = ["atlas", "timeline", "--run", &path(&run), "--data", &path(data.path()), "--out", &path(&timeline)];
    let output = common::run_cli(&args);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let loaded = activation_atlas::engine::atlas::timeline::load_timeline(&timeline).unwrap();
    let epochs: Vec<u32> = loaded.frames.iter().map(|frame| frame.epoch).collect();
    assert_eq!(epochs, [2, 3], "the run's epoch checkpoints");
    assert_eq!((loaded.layer.name(), loaded.geometry.architecture.as_str(), loaded.geometry.grid), ("block15", "efficientnet-lite0", 7));
    assert!(loaded.has_patches());
    assert!(loaded.movement(1) > 0.0, "the trained block changed between the frames");
    let output = common::run_cli(&[&args[..], &["--layer", "conv2"]].concat());
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains("block8"), "{}", common::text(&output.stderr));

    // evaluate on the run's own held-out photos, 12 views each.
    let output = common::run_cli(&[
        "evaluate",
        "--weights",
        &path(&run.join("epoch-003.safetensors")),
        "--data",
        &path(data.path()),
        "--split",
        "validation",
        "--json",
    ]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["result"]["images"], 3, "a fifth of each class of 4 photos held out, at least one each");

    let cv = out.path().join("cv");
    let output = common::run_cli(&[
        "cross-validate",
        "--from-pretrained",
        "efficientnet-lite0",
        "--mode",
        "finetune",
        "--epochs",
        "1",
        "--folds",
        "2",
        "--data",
        &path(data.path()),
        "--out",
        &path(&cv),
    ]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let stdout = common::text(&output.stdout);
    assert!(stdout.contains("RESULT 2-fold cross-validation accuracy"), "{stdout}");
    assert!(cv.join("fold-2").join("epoch-001.safetensors").exists());
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(cv.join("cross-validation.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["fold_accuracies"].as_array().map(Vec::len), Some(2));
}
