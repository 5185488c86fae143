//! Any network: the state-dict reader, the imported architectures against PyTorch's outputs
//! (fixtures written once by scripts/make-reference-outputs.py), and explanations through the
//! general interface.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use activation_atlas::engine::attribution::{AttributionMethod, AttributionSettings, attribute_at, gradient_cam, integrated_gradients};
use activation_atlas::engine::network::import::load_network;
use activation_atlas::engine::network::import::{copy_state_dict, import_network};
use activation_atlas::engine::network::pickle::PickleError;
use activation_atlas::engine::network::torch_file::{StateDictError, read_state_dict};
use activation_atlas::engine::network::{Architecture, Network, build_network};
use tch::{Device, Kind, Tensor};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/networks").join(name)
}

fn shipped_lite0() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/efficientnet-lite0-imagenet.safetensors")
}

fn reference(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).expect("fixture")).expect("fixture JSON")
}

/// Every number of a JSON array of numbers or of arrays of numbers, in order.
fn floats(value: &serde_json::Value) -> Vec<f64> {
    match value {
        serde_json::Value::Array(items) => items.iter().flat_map(floats).collect(),
        other => vec![other.as_f64().expect("a number")],
    }
}

fn values(tensor: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(tensor.to_kind(Kind::Double).flatten(0, -1)).expect("numbers")
}

/// The fixed pictures of the fixtures: 0.5 + 0.5 sin(0.05 h + 0.07 w + c + 1.3 n).
fn fixed_inputs(side: i64, count: i64) -> Tensor {
    let options = (Kind::Double, Device::Cpu);
    let h = Tensor::arange(side, options).view([1, 1, side, 1]);
    let w = Tensor::arange(side, options).view([1, 1, 1, side]);
    let c = Tensor::arange(3, options).view([1, 3, 1, 1]);
    let n = Tensor::arange(count, options).view([count, 1, 1, 1]);
    ((h * 0.05 + w * 0.07 + c + n * 1.3).sin() * 0.5 + 0.5).to_kind(Kind::Float)
}

fn max_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn both_torch_save_formats_read_to_the_same_tensors_with_views_and_types_resolved() {
    let zip = read_state_dict(&fixture("small-zip.pth")).expect("zip format");
    let legacy = read_state_dict(&fixture("small-legacy.pth")).expect("legacy format");
    let wrapped = read_state_dict(&fixture("wrapped-zip.pth")).expect("a training checkpoint with a state_dict inside");
    for tensors in [&zip, &legacy, &wrapped] {
        let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["conv.weight", "conv.transposed", "norm.running_var", "norm.half", "norm.num_batches_tracked"]);
        let get = |name: &str| &tensors.iter().find(|(n, _)| n == name).expect("present").1;
        assert_eq!(values(get("conv.weight")), (0..24).map(f64::from).collect::<Vec<_>>());
        // The transposed view reads the storage by its strides: element [k, j, i] is weight[i, j, k].
        let transposed = get("conv.transposed");
        assert_eq!(transposed.size(), [4, 3, 2]);
        assert_eq!(transposed.double_value(&[3, 1, 0]), 7.0);
        assert_eq!(transposed.double_value(&[1, 2, 1]), 21.0);
        assert_eq!(get("norm.running_var").kind(), Kind::Float, "float64 becomes float32");
        assert_eq!(values(get("norm.half")), [1.5, -2.25]);
        assert_eq!(get("norm.num_batches_tracked").int64_value(&[]), 7);
    }
}

#[test]
fn a_pickle_that_would_run_a_command_is_refused_without_running_it() {
    let marker = Path::new("/tmp/activation-atlas-pickle-ran");
    let _ = std::fs::remove_file(marker);
    let error = read_state_dict(&fixture("hostile.pth")).expect_err("refused");
    match &error {
        StateDictError::Pickle { source: PickleError::ForbiddenGlobal(name), path } => {
            assert!(name.ends_with("system"), "{name}");
            assert!(path.ends_with("hostile.pth"));
        }
        other => panic!("unexpected error: {other}"),
    }
    assert!(error.to_string().contains("hostile.pth"), "{error}");
    assert!(!marker.exists(), "the pickle's command ran");
}

#[test]
fn truncated_and_foreign_files_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let legacy = std::fs::read(fixture("small-legacy.pth")).expect("fixture");
    let zip = std::fs::read(fixture("small-zip.pth")).expect("fixture");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("cut-legacy.pth", legacy[..legacy.len() - 10].to_vec()),
        ("cut-pickle.pth", legacy[..60].to_vec()),
        ("cut-zip.pth", zip[..zip.len() / 2].to_vec()),
        ("text.pth", b"hello, not a network".to_vec()),
        ("empty.pth", Vec::new()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let error = read_state_dict(&path).expect_err(name);
        assert!(error.to_string().contains(name), "{name}: {error}");
    }
}

#[test]
fn efficientnet_lite0_gives_pytorchs_logits_on_fixed_pictures() {
    let expected = reference("efficientnet-lite0.json");
    let loaded = load_network(&shipped_lite0(), Device::Cpu).expect("the shipped Lite0 loads");
    assert_eq!(loaded.net.spec().architecture, Architecture::EfficientNetLite0);
    let logits = tch::no_grad(|| loaded.net.logits(&fixed_inputs(224, 2), false));
    assert_eq!(logits.size(), [2, 1000]);
    let difference = max_difference(&values(&logits), &floats(&expected["logits"]));
    assert!(difference < 2e-3, "largest difference from PyTorch {difference}");
}

#[test]
fn grad_cam_and_integrated_gradients_on_lite0_equal_a_float64_computation() {
    let expected = reference("efficientnet-lite0.json");
    let mut loaded = load_network(&shipped_lite0(), Device::Cpu).expect("loads");
    loaded.net.var_store_mut().set_kind(Kind::Double);
    let net = loaded.net.as_ref();
    let picture = fixed_inputs(224, 1).to_kind(Kind::Double);
    let class = expected["class"].as_u64().expect("class") as usize;
    for block in ["5", "10"] {
        let layer = net.spec().layer_index(&format!("block{block}")).expect("a block");
        let cam = gradient_cam(net, &picture, layer, class, AttributionMethod::GradCam);
        let reference = floats(&expected["grad_cam"][block]);
        let scale = reference.iter().cloned().fold(0.0, f64::max);
        let ours: Vec<f64> = cam.values.iter().map(|&v| f64::from(v)).collect();
        let difference = max_difference(&ours, &reference);
        assert!(scale > 0.0 && difference <= 1e-4 * scale, "block{block}: difference {difference} of {scale}");
    }
    let steps = expected["integrated_gradients_steps"].as_u64().expect("steps") as usize;
    let never = AtomicBool::new(false);
    let ig = integrated_gradients(net, &picture, &picture.zeros_like(), class, steps, &mut |_, _| {}, &never).expect("not cancelled");
    let per_pixel = ig.sum_dim_intlist(&[0i64][..], false, Kind::Double);
    let pooled = values(&per_pixel.view([28, 8, 28, 8]).sum_dim_intlist(&[1i64, 3][..], false, Kind::Double));
    let reference = floats(&expected["integrated_gradients_8x8"]);
    let scale = reference.iter().map(|v| v.abs()).fold(0.0, f64::max);
    let difference = max_difference(&pooled, &reference);
    assert!(difference <= 1e-6 * scale.max(1.0), "IG difference {difference} of {scale}");
}

/// The formula weights of the fixtures (see `formula_tensor` in the script).
fn formula_tensor(name: &str, shape: &[i64], index: usize) -> Tensor {
    let numel: i64 = shape.iter().product();
    let t = (Tensor::arange(numel, (Kind::Double, Device::Cpu)) * 0.37 + index as f64 * 0.91).sin().view(shape);
    let last = name.rsplit('.').next().unwrap_or(name);
    let t = match last {
        "running_var" => (t + 1.0) * 0.25 + 1.0,
        "running_mean" | "bias" => t * 0.1,
        _ if shape.len() == 1 => t * 0.1 + 1.0,
        _ => t * (3.0 / shape[1..].iter().product::<i64>() as f64).sqrt(),
    };
    t.to_kind(Kind::Float)
}

#[test]
fn resnets_in_torchvisions_layout_give_torchvisions_logits() {
    for arch in [Architecture::ResNet18, Architecture::ResNet50] {
        let expected = reference(&format!("{}.json", arch.name()));
        // A state dict written with torchvision's names and shapes, as a user's file would be.
        let template = build_network(arch, 10, Device::Cpu).expect("importable");
        let mut names: Vec<(String, Vec<i64>)> = template.var_store().variables().into_iter().map(|(n, t)| (n, t.size())).collect();
        names.sort();
        let tensors: Vec<(String, Tensor)> =
            names.iter().enumerate().map(|(i, (name, shape))| (name.clone(), formula_tensor(name, shape, i))).collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("user.safetensors");
        Tensor::write_safetensors(&tensors, &file).expect("write");
        let out = dir.path().join("imported.safetensors");
        import_network(&file, arch, None, &out).expect("imports");
        let loaded = load_network(&out, Device::Cpu).expect("loads");
        assert_eq!(loaded.meta.architecture, arch.name());
        assert_eq!(loaded.meta.class_names[3], "class 3");
        let logits = tch::no_grad(|| loaded.net.logits(&fixed_inputs(224, 2), false));
        let reference = floats(&expected["logits"]);
        let scale = reference.iter().map(|v| v.abs()).fold(0.0, f64::max);
        let difference = max_difference(&values(&logits), &reference);
        assert!(difference <= 1e-4 * scale.max(1.0), "{}: difference {difference} of {scale}", arch.name());
    }
}

#[test]
fn a_wrong_architecture_or_a_misshapen_tensor_is_refused_naming_the_tensor() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.safetensors");
    // Lite0's weights offered as a ResNet-18: no `fc.weight`.
    let error = import_network(&shipped_lite0(), Architecture::ResNet18, None, &out).expect_err("refused");
    assert!(error.to_string().contains("fc.weight") && error.to_string().contains("--arch efficientnet-lite0"), "{error}");
    // One tensor of the right name and the wrong shape.
    let net = build_network(Architecture::ResNet18, 10, Device::Cpu).expect("importable");
    let mut tensors: Vec<(String, Tensor)> = net.var_store().variables().into_iter().collect();
    let bad = tensors.iter_mut().find(|(n, _)| n == "layer2.0.conv1.weight").expect("present");
    bad.1 = Tensor::zeros([128, 64, 3, 1], (Kind::Float, Device::Cpu));
    let error = copy_state_dict(net.as_ref(), tensors, Path::new("user.pth")).expect_err("refused");
    assert!(error.to_string().contains("layer2.0.conv1.weight") && error.to_string().contains("user.pth"), "{error}");
    // A missing tensor.
    let mut tensors: Vec<(String, Tensor)> = net.var_store().variables().into_iter().collect();
    tensors.retain(|(n, _)| n != "bn1.running_var");
    let error = copy_state_dict(net.as_ref(), tensors, Path::new("user.pth")).expect_err("refused");
    assert!(error.to_string().contains("bn1.running_var"), "{error}");
    assert!(!out.exists(), "nothing written for a refused import");
}

#[test]
fn the_paper_network_answers_the_same_through_the_general_interface() {
    let net = common::shipped_net(false);
    let picture = activation_atlas::engine::image_input::images_to_tensor([&common::flowers17_input("daisy")]);
    let fast = tch::no_grad(|| net.forward(&picture, false));
    let general = tch::no_grad(|| Network::logits(&net, &picture, false));
    assert_eq!(values(&fast), values(&general));
    let spec = Network::spec(&net);
    assert_eq!(spec.layer_names(), ["conv1", "conv2", "conv3", "conv4", "fc1", "fc2", "fc3"]);
    assert_eq!(spec.layers[1].shape, [64, 25, 25]);
    assert_eq!((spec.layers[1].stride, spec.layers[1].receptive_field), (4, 16));
    // Grad-CAM through the spec's layer index equals the paper's own Grad-CAM.
    let class = 5;
    let own = activation_atlas::engine::explain::grad_cam(
        &net,
        &common::flowers17_input("daisy"),
        activation_atlas::engine::model::Layer::CONV2,
        class,
    );
    let general = gradient_cam(&net, &picture, 1, class, AttributionMethod::GradCam);
    assert_eq!(own.raw.values, general.values);
}

#[test]
fn every_general_method_runs_on_lite0_and_says_why_where_it_cannot() {
    let loaded = load_network(&shipped_lite0(), Device::Cpu).expect("loads");
    let net = loaded.net.as_ref();
    let photo = activation_atlas::engine::image_input::load_network_image_sized(&common::flowers17_photo("daisy"), 224).expect("photo");
    let settings = AttributionSettings { ig_steps: 8, smooth_samples: 4, occlusion_patch: 56, occlusion_stride: 56, ..Default::default() };
    let never = AtomicBool::new(false);
    let layer = net.spec().layer_index("block10").expect("block10");
    for method in
        [AttributionMethod::Saliency, AttributionMethod::GradCam, AttributionMethod::IntegratedGradients, AttributionMethod::Occlusion]
    {
        let map = attribute_at(net, &photo, method, 985, layer, &settings, &mut |_, _| {}, &never).expect("a map");
        assert_eq!((map.heat.width, map.heat.height), (224, 224), "{method:?}");
        assert!(!map.all_zero, "{method:?}");
    }
    let pool = net.spec().layer_index("pool").expect("pool");
    let error = attribute_at(net, &photo, AttributionMethod::GradCam, 985, pool, &settings, &mut |_, _| {}, &never).expect_err("no grid");
    assert!(error.to_string().contains("pool"), "{error}");
    // Guided backprop by autograd cut at each ReLU6: a map, and another one than the plain gradient's.
    let guided = attribute_at(net, &photo, AttributionMethod::GuidedBackprop, 985, layer, &settings, &mut |_, _| {}, &never)
        .expect("guided backprop on any network");
    let plain = attribute_at(net, &photo, AttributionMethod::Saliency, 985, layer, &settings, &mut |_, _| {}, &never).expect("saliency");
    assert!(!guided.all_zero);
    assert_ne!(guided.raw.values, plain.raw.values);
    let guided_cam = attribute_at(net, &photo, AttributionMethod::GuidedGradCam, 985, layer, &settings, &mut |_, _| {}, &never)
        .expect("guided Grad-CAM on any network");
    assert!(!guided_cam.all_zero);
}

#[test]
fn guided_backprop_by_autograd_equals_the_paper_networks_hand_carried_one() {
    use activation_atlas::engine::network::guided::guided_backprop_by_autograd;
    let net = common::shipped_net(false);
    let pictures =
        activation_atlas::engine::image_input::images_to_tensor([&common::flowers17_input("daisy"), &common::flowers17_input("sunflower")]);
    for class in [0, 5, 16] {
        let hand = values(&net.guided_backprop(&pictures, class));
        let general = values(&guided_backprop_by_autograd(&net, &pictures, class));
        let largest = hand.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(largest > 0.0, "class {class}: a blank map");
        assert!(max_difference(&hand, &general) <= 1e-5 * largest, "class {class}: {}", max_difference(&hand, &general));
    }
}

#[test]
fn the_sanity_check_randomises_any_network_from_its_last_layer_down_and_leaves_it_as_it_was() {
    use activation_atlas::engine::faithfulness::{INSENSITIVE_CORRELATION, sanity_check_at};
    let loaded = load_network(&shipped_lite0(), Device::Cpu).expect("loads");
    let net = loaded.net.as_ref();
    let photo = activation_atlas::engine::image_input::load_network_image_sized(&common::flowers17_photo("daisy"), 224).expect("photo");
    let never = AtomicBool::new(false);
    let head = net.spec().layer_index("head").expect("head");
    let before = net.var_store().variables()["_conv_head.weight"].copy();
    let mut steps = Vec::new();
    let report = sanity_check_at(
        net,
        &photo,
        AttributionMethod::GradCam,
        985,
        head,
        &AttributionSettings::default(),
        &mut |done, total| steps.push((done, total)),
        &never,
    )
    .expect("a report");
    // Every stage with weights, from the last layer down to the stem (the pooling has none).
    let names: Vec<&str> = report.stages.iter().map(|stage| stage.randomised_down_to.name()).collect();
    assert_eq!(names.len(), 19);
    assert_eq!((names[0], names[1], names[2], names[18]), ("logits", "head", "block15", "stem"));
    assert_eq!(steps.last(), Some(&(19, 19)));
    // Grad-CAM depends on what the network learnt: with every weight random its map is another.
    let last = report.stages.last().expect("stages");
    assert!(last.spearman < INSENSITIVE_CORRELATION && !report.insensitive, "{report:?}");
    // Random weights give maps, not blanks: some stage's map still ranks pixels like the trained one.
    assert!(report.stages.iter().any(|stage| stage.spearman.abs() > 0.05), "{report:?}");
    assert!(report.stages.iter().all(|stage| (-1.0..=1.0).contains(&stage.spearman) && (-1.0..=1.0).contains(&stage.ssim)));
    // The network itself is untouched: the copy was randomised.
    assert!(net.var_store().variables()["_conv_head.weight"].equal(&before));
    // The paper's network goes through its own check, layer for layer.
    let paper = common::shipped_net(false);
    let picture = common::flowers17_input("daisy");
    let conv4 = paper.spec().layer_index("conv4").expect("conv4");
    let report =
        sanity_check_at(&paper, &picture, AttributionMethod::GradCam, 0, conv4, &AttributionSettings::default(), &mut |_, _| {}, &never)
            .expect("a report");
    assert_eq!(
        report.stages.iter().map(|stage| stage.randomised_down_to.name()).collect::<Vec<_>>(),
        ["fc3", "fc2", "fc1", "conv4", "conv3", "conv2", "conv1"]
    );
}

#[test]
fn the_paper_networks_hand_carried_atlas_attribution_equals_autograd_through_the_general_interface() {
    use activation_atlas::engine::atlas::collect::attribution_at;
    use activation_atlas::engine::model::Layer;
    let net = common::shipped_net(true);
    let photos = [common::flowers17_input("daisy"), common::flowers17_input("tulip")];
    let images = activation_atlas::engine::image_input::images_to_tensor(photos.iter()).to_kind(Kind::Double);
    let positions = vec![vec![[3u16, 4], [10, 11], [6, 7]], vec![[1, 1], [11, 11], [5, 9]]];
    for (layer, index) in [(Layer::CONV1, 0usize), (Layer::CONV2, 1), (Layer::CONV3, 2)] {
        let (_, fast) = attribution_at(&net, layer, &images, &positions);
        // The general path: the layer's output by the spec's index, every class's gradient by autograd.
        let activation = tch::no_grad(|| Network::forward_to(&net, &images, index, false)).detach().set_requires_grad(true);
        let logits = Network::forward_from(&net, index, &activation, false);
        let classes = Network::num_classes(&net);
        for class in 0..classes {
            let target = logits.select(1, class as i64).sum(Kind::Double);
            let gradient = Tensor::run_backward(&[target], &[&activation], true, false).remove(0);
            let map = (&activation * gradient).sum_dim_intlist(&[1i64][..], false, Kind::Double);
            for (b, image) in positions.iter().enumerate() {
                for (p, &[x, y]) in image.iter().enumerate() {
                    let general = map.double_value(&[b as i64, i64::from(y), i64::from(x)]);
                    let hand = fast.double_value(&[b as i64, class as i64, p as i64]);
                    assert!((general - hand).abs() <= 1e-5 * general.abs().max(1e-2), "{layer} class {class}: {hand} vs {general}");
                }
            }
        }
    }
}

#[test]
fn every_network_shows_the_kernels_of_its_layers_where_they_are_wider_than_one_pixel() {
    use activation_atlas::engine::explain::{kernel_montage, stage_kernels};
    let lite0 = build_network(Architecture::EfficientNetLite0, 10, Device::Cpu).unwrap();
    let resnet = build_network(Architecture::ResNet18, 10, Device::Cpu).unwrap();
    let kernels = |net: &dyn Network, layer: &str| stage_kernels(net, net.spec().layer_index(layer).unwrap()).map(|t| t.size());
    assert_eq!(kernels(lite0.as_ref(), "stem"), Some(vec![32, 3, 3, 3]));
    assert_eq!(kernels(lite0.as_ref(), "block3"), Some(vec![144, 1, 5, 5]), "the depthwise kernels");
    assert_eq!(kernels(lite0.as_ref(), "head"), None, "1 x 1 only");
    assert_eq!(kernels(resnet.as_ref(), "conv1"), Some(vec![64, 3, 7, 7]));
    assert_eq!(kernels(resnet.as_ref(), "layer1.0"), Some(vec![64, 64, 3, 3]));
    assert_eq!(kernels(resnet.as_ref(), "maxpool"), None);
    // ResNet's 7 x 7 colour kernels: 8 a row, 6 pixels a weight; depthwise ones 16 a row.
    let stem = kernel_montage(&stage_kernels(resnet.as_ref(), 0).unwrap());
    let depthwise = kernel_montage(&stage_kernels(lite0.as_ref(), lite0.spec().layer_index("block3").unwrap()).unwrap());
    let wide = kernel_montage(&stage_kernels(resnet.as_ref(), resnet.spec().layer_index("layer4.1").unwrap()).unwrap());
    assert!(stem.width() >= 8 * 42 && stem.height() >= 8 * 42 && stem.height() < 9 * 42, "{:?}", stem.dimensions());
    // Of block3's 144 depthwise kernels the first 128 are shown: 8 rows of 16.
    assert_eq!(depthwise.dimensions(), (16 * 11 - 1, 8 * 11 - 1));
    // 512 kernels of 512 inputs are cut to the first 128 of each.
    assert!(wide.width() >= 128 * 6 && wide.width() < 129 * 6 + 128 * 2, "{:?}", wide.dimensions());
}
