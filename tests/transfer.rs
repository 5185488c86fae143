//! Transfer learning from the shipped EfficientNet-Lite0: the backbone's features are computed
//! once and found again by file content, a new last layer trained on them gives a whole network
//! that loads and classifies like any other, and the CLI runs it.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use activation_atlas::engine::classify::classify_images;
use activation_atlas::engine::data::{Photos, open_dataset_sized};
use activation_atlas::engine::network::import::load_network;
use activation_atlas::engine::recipe::linear_head_recipe;
use activation_atlas::engine::train::TrainOutcome;
use activation_atlas::engine::transfer::{VIEWS, backbone_features, cross_validate_linear, load_backbone, train_linear};
use tch::{Device, Kind};

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

#[test]
fn features_are_the_backbones_pooled_output_and_are_found_again_by_file_content() {
    let data = common::flowers17_subset(&["daisy", "sunflower", "tulip"], 3, true);
    let cache = tempfile::tempdir().unwrap();
    let backbone = load_backbone("efficientnet-lite0", Device::Cpu).unwrap();
    let open = || open_dataset_sized(data.path(), None, 224, &|_, _| {}, &never()).unwrap();
    let photos = open();
    let first = backbone_features(&backbone, &photos, Some(cache.path()), &mut |_, _| {}, &never()).unwrap();
    assert_eq!((first.cached, first.dim, first.values.len()), (0, 1280, 9 * VIEWS * 1280));
    // View 0 is the photo's pooled features, view 1 its mirror image's.
    let photo = photos.read(4..5).unwrap()[0].clone();
    let input = activation_atlas::engine::image_input::images_to_tensor(std::iter::once(&photo));
    let pool = backbone.net.spec().layer_index("pool").unwrap();
    for (view, input) in [(0, input.shallow_clone()), (1, input.flip([3]))] {
        let direct = tch::no_grad(|| backbone.net.forward_to(&input, pool, false)).to_kind(Kind::Float).view([-1]);
        let direct = Vec::<f32>::try_from(&direct).unwrap();
        let largest = direct.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, b) in first.view(4, view).iter().zip(&direct) {
            assert!((a - b).abs() <= 1e-4 * largest, "view {view}: {a} vs {b}");
        }
    }
    let again = backbone_features(&backbone, &photos, Some(cache.path()), &mut |_, _| {}, &never()).unwrap();
    assert_eq!(again.cached, 9, "every photo from the cache");
    assert_eq!(again.values, first.values);
    // Another picture under the same name: its content is new, so it is computed again.
    let changed = photos.paths()[0].clone();
    std::fs::copy(common::flowers17_photo("iris"), &changed).unwrap();
    let photos = open();
    let third = backbone_features(&backbone, &photos, Some(cache.path()), &mut |_, _| {}, &never()).unwrap();
    assert_eq!(third.cached, 8);
    assert_ne!(third.view(0, 0), first.view(0, 0));
    assert_eq!(third.view(1, 0), first.view(1, 0));
}

#[test]
fn a_linear_head_makes_a_whole_network_that_names_the_folders_classes() {
    let data = common::flowers17_subset(&["daisy", "sunflower", "tulip", "iris"], 8, true);
    let run = tempfile::tempdir().unwrap();
    let backbone = load_backbone("efficientnet-lite0", Device::Cpu).unwrap();
    let photos = open_dataset_sized(data.path(), None, 224, &|_, _| {}, &never()).unwrap();
    let features = backbone_features(&backbone, &photos, None, &mut |_, _| {}, &never()).unwrap();
    let config = linear_head_recipe("efficientnet-lite0");
    let mut epochs = 0;
    let outcome = train_linear(&backbone, &photos, &features, &config, run.path(), &never(), &mut |event| {
        if let activation_atlas::engine::train::TrainEvent::Epoch { .. } = event {
            epochs += 1;
        }
    })
    .unwrap();
    assert_eq!(epochs, config.epochs);
    let TrainOutcome::Finished { last: Some(last), history, .. } = outcome else { panic!("finished with a checkpoint") };
    assert!(run.path().join("history.json").exists());
    let final_record = history.last().unwrap();
    assert!(final_record.train_accuracy > 0.95, "{final_record:?}");
    assert!(final_record.validation_accuracy >= 0.75, "{final_record:?}");

    let model = load_network(&last, Device::Cpu).unwrap();
    assert_eq!(model.meta.architecture, "efficientnet-lite0");
    assert_eq!(model.meta.class_names, ["daisy", "iris", "sunflower", "tulip"]);
    assert_eq!(model.net.num_classes(), 4);
    assert!(model.meta.training.as_ref().is_some_and(|t| t.pretrained.is_some()), "the recipe is recorded");
    // The backbone is the shipped one, unchanged; only the last layer is new.
    let (mine, shipped) = (model.net.var_store().variables(), backbone.net.var_store().variables());
    let name = "_blocks.15._project_conv.weight";
    assert!(mine[name].allclose(&shipped[name], 0.0, 0.0, false), "{name} is the backbone's");
    // It names the training photos' classes as the head learnt them.
    let sample: Vec<usize> = (0..photos.len()).step_by(3).collect();
    let images: Vec<_> = sample.iter().map(|&i| photos.read(i..i + 1).unwrap()[0].clone()).collect();
    let predictions = classify_images(model.net.as_ref(), &images);
    let right = sample.iter().zip(&predictions).filter(|(i, p)| p.best().0 == photos.labels()[**i]).count();
    assert!(right * 10 >= sample.len() * 9, "{right} of {} right", sample.len());

    // 错误 on it: the validation photos of its recorded split, Grad-CAM at its last grid layer,
    // neighbours by its pooled features among the training photos.
    use activation_atlas::engine::mistakes::{MistakeParams, find_mistakes};
    let params = MistakeParams { max_mistakes: 3, ..MistakeParams::for_recipe(model.meta.training.as_ref()) };
    let report = find_mistakes(model.net.as_ref(), &model.meta.class_names, &photos, &params, &mut |_, _| {}, &never()).unwrap();
    assert!(report.held_out);
    assert_eq!(report.examined, 8, "a fifth of 32 photos, as the run held out");
    assert_eq!(report.wrong, (report.examined as f64 * (1.0 - final_record.validation_accuracy)).round() as usize);
    for mistake in &report.mistakes {
        assert_eq!(mistake.picture.dimensions(), (224, 224));
        assert!(mistake.near.iter().all(|near| near.similarity <= 1.0 + 1e-5 && near.index != mistake.index));
    }

    // A cross-validation of the recipe takes the same features, fold by fold.
    let folds = cross_validate_linear(&features, photos.labels(), photos.class_names(), &config, 4, &never()).unwrap();
    assert_eq!(folds.len(), 4);
    assert!(folds.iter().all(|a| (0.5..=1.0).contains(a)), "{folds:?}");
}

#[test]
fn train_from_pretrained_on_the_command_line_and_what_it_refuses() {
    let data = common::flowers17_subset(&["daisy", "sunflower"], 5, true);
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let args = ["train", "--from-pretrained", "efficientnet-lite0", "--data", &path(data.path()), "--out", &path(&run), "--epochs", "5"];
    let output = common::run_cli(&args);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let stderr = common::text(&output.stderr);
    assert!(stderr.contains("features of 10 photos from EfficientNet-Lite0"), "{stderr}");
    assert!(stderr.contains("10272 bytes a photo"), "{stderr}");
    assert!(run.join("epoch-005.safetensors").exists());
    // The same photos again: their features come from the cache.
    let output = common::run_cli(&args);
    assert!(common::text(&output.stderr).contains("(10 from the cache"), "{}", common::text(&output.stderr));

    let output = common::run_cli(&[
        "train",
        "--from-pretrained",
        "efficientnet-lite0",
        "--mode",
        "finetune",
        "--unfreeze",
        "99",
        "--data",
        &path(data.path()),
        "--out",
        &path(&run),
    ]);
    assert!(!output.status.success());
    let stderr = common::text(&output.stderr);
    assert!(stderr.contains("--unfreeze 99 is more than EfficientNet-Lite0 has") && !stderr.contains("features of"), "{stderr}");
    let output = common::run_cli(&["train", "--from-pretrained", "vgg16", "--data", &path(data.path()), "--out", &path(&run)]);
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains("no pretrained network 'vgg16'"), "{}", common::text(&output.stderr));
}

#[test]
fn an_imported_network_is_a_pretrained_start_too() {
    use activation_atlas::engine::checkpoint::{read_checkpoint_meta, save_network};
    use activation_atlas::engine::network::import::{imagenet_class_names, network_meta};
    use activation_atlas::engine::network::{Architecture, build_network};
    let data = common::flowers17_subset(&["daisy", "sunflower"], 4, true);
    let out = tempfile::tempdir().unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_string();
    // A ResNet-18 as `model import` leaves one: weights and a sidecar naming its architecture.
    let resnet = build_network(Architecture::ResNet18, 1000, Device::Cpu).unwrap();
    let imported = out.path().join("resnet18.safetensors");
    save_network(resnet.var_store(), &network_meta(resnet.as_ref(), imagenet_class_names()), &imported).unwrap();
    for (mode, extra) in [("linear", vec![]), ("finetune", vec!["--unfreeze", "2", "--batch-size", "4"])] {
        let run = out.path().join(mode);
        let mut args = vec!["train", "--from-pretrained", imported.to_str().unwrap(), "--mode", mode, "--epochs", "1"];
        args.extend(extra);
        let (data_arg, run_arg) = (path(data.path()), path(&run));
        args.extend(["--data", &data_arg, "--out", &run_arg]);
        let output = common::run_cli(&args);
        assert!(output.status.success(), "{mode}: {}", common::text(&output.stderr));
        let trained = load_network(&run.join("epoch-001.safetensors"), Device::Cpu).expect("a whole network");
        assert_eq!(trained.meta.architecture, "resnet18", "{mode}");
        assert_eq!(trained.meta.class_names, ["daisy", "sunflower"], "{mode}");
    }
    // Fine-tuning the imported ResNet-18 trained only its last two blocks (and the new layer).
    let before = load_network(&imported, Device::Cpu).unwrap();
    let after = load_network(&out.path().join("finetune/epoch-001.safetensors"), Device::Cpu).unwrap();
    let weight = |net: &activation_atlas::engine::network::import::LoadedNetwork, name: &str| net.net.var_store().variables()[name].copy();
    assert!(weight(&before, "layer3.0.conv1.weight").equal(&weight(&after, "layer3.0.conv1.weight")));
    assert!(!weight(&before, "layer4.1.conv1.weight").equal(&weight(&after, "layer4.1.conv1.weight")));

    // The paper's network is no pretrained start; a missing file is named.
    let paper = activation_atlas::resources::shipped_model().unwrap();
    assert_eq!(read_checkpoint_meta(&paper).unwrap().architecture, activation_atlas::engine::checkpoint::ARCHITECTURE);
    let run = path(&out.path().join("refused"));
    let output = common::run_cli(&["train", "--from-pretrained", paper.to_str().unwrap(), "--data", &path(data.path()), "--out", &run]);
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains("cannot be a pretrained start"), "{}", common::text(&output.stderr));
    let output = common::run_cli(&["train", "--from-pretrained", "/nowhere/net.safetensors", "--data", &path(data.path()), "--out", &run]);
    assert!(common::text(&output.stderr).contains("no pretrained network '/nowhere/net.safetensors'"), "{}", common::text(&output.stderr));
}
