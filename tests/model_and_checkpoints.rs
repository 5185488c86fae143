//! The paper's network: every layer's shape; checkpoints: bit-exact round trip and precise
//! refusals of wrong files.

mod common;

use std::path::Path;

use activation_atlas::engine::checkpoint::{CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint, sidecar_path};
use activation_atlas::engine::model::{Layer, Net, layer_output_shape, parameter_shapes};
use activation_atlas::engine::rng::SeededRng;
use tch::{Device, Kind, Tensor};

#[test]
fn every_layer_has_the_papers_shape() {
    let net = Net::new(17, Device::Cpu);
    let images = SeededRng::new(1).normal_tensor(&[2, 3, 100, 100], Device::Cpu).sigmoid();
    let activations = net.forward_all(&images, false);
    let expected: [(Layer, &[i64]); 7] = [
        (Layer::CONV1, &[2, 32, 50, 50]),
        (Layer::CONV2, &[2, 64, 25, 25]),
        (Layer::CONV3, &[2, 128, 12, 12]),
        (Layer::CONV4, &[2, 128, 6, 6]),
        (Layer::FC1, &[2, 1024]),
        (Layer::FC2, &[2, 512]),
        (Layer::FC3, &[2, 17]),
    ];
    for (layer, shape) in expected {
        assert_eq!(activations.get(layer).size(), shape, "{layer}");
        assert_eq!(layer_output_shape(layer, 17), shape[1..], "{layer} (declared)");
    }
    let parameters: i64 = net.vs.trainable_variables().iter().map(Tensor::numel).map(|n| n as i64).sum();
    // conv: 2432 + 51264 + 73856 + 147584; fc: 4719616 + 524800 + 8721.
    assert_eq!(parameters, 5_528_273);
}

#[test]
fn forward_from_an_intermediate_layer_matches_the_full_pass() {
    let net = Net::seeded(5, Device::Cpu, 3);
    let images = SeededRng::new(3).normal_tensor(&[3, 3, 100, 100], Device::Cpu).sigmoid();
    let all = net.forward_all(&images, false);
    for layer in [Layer::CONV1, Layer::CONV2, Layer::CONV4, Layer::FC1, Layer::FC2] {
        let logits = net.forward_from(layer, all.get(layer), false);
        let difference = (logits - all.logits()).abs().max().double_value(&[]);
        assert!(difference < 1e-5, "{layer}: {difference}");
    }
}

#[test]
fn a_seeded_network_depends_on_its_seed_alone() {
    let weights = |seed| Net::seeded(4, Device::Cpu, seed).vs.variables();
    let (a, b, c) = (weights(7), weights(7), weights(8));
    for (name, tensor) in &a {
        assert!(tensor.equal(&b[name]), "{name}: same seed, same values");
        assert!(!tensor.equal(&c[name]), "{name}: another seed, other values");
        // Uniform in ±1/sqrt(fan_in), fan_in from the layer's weight.
        let layer = name.rsplit_once('.').unwrap().0;
        let fan_in: i64 = a[&format!("{layer}.weight")].size()[1..].iter().product();
        let largest = tensor.abs().max().double_value(&[]);
        assert!(largest <= 1.0 / (fan_in as f64).sqrt() + 1e-7, "{name}: {largest}");
    }
}

fn saved_net(dir: &Path, classes: usize) -> (Net, std::path::PathBuf) {
    saved_net_with_seed(dir, classes, 11)
}

fn saved_net_with_seed(dir: &Path, classes: usize, seed: u64) -> (Net, std::path::PathBuf) {
    let net = Net::seeded(classes, Device::Cpu, seed);
    let names = (0..classes).map(|i| format!("class{i}")).collect();
    let mut meta = CheckpointMeta::new(names);
    meta.epoch = 4;
    let path = dir.join("model.safetensors");
    save_checkpoint(&net, &meta, &path).unwrap();
    (net, path)
}

#[test]
fn save_and_load_round_trip_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (net, path) = saved_net(dir.path(), 6);
    assert!(sidecar_path(&path).exists());
    let loaded = load_checkpoint(&path, Device::Cpu).unwrap();
    assert_eq!(loaded.meta.epoch, 4);
    assert_eq!(loaded.meta.class_names.len(), 6);
    let original = net.vs.variables();
    let restored = loaded.net.vs.variables();
    assert_eq!(original.len(), restored.len());
    for (name, tensor) in &original {
        let other = &restored[name];
        assert!(tensor.equal(other), "{name} differs after the round trip");
    }
    // The fingerprint is the SHA-256 of the weights file's bytes: a copy elsewhere has the same
    // one, other weights another; and the sidecar is readable JSON for other tools.
    use sha2::Digest;
    let expected: String = sha2::Sha256::digest(std::fs::read(&path).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(loaded.fingerprint, expected);
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(&path, copy.join("model.safetensors")).unwrap();
    std::fs::copy(sidecar_path(&path), sidecar_path(&copy.join("model.safetensors"))).unwrap();
    assert_eq!(load_checkpoint(&copy.join("model.safetensors"), Device::Cpu).unwrap().fingerprint, loaded.fingerprint);
    let other_dir = dir.path().join("other");
    std::fs::create_dir(&other_dir).unwrap();
    let (_, other) = saved_net_with_seed(&other_dir, 6, 12);
    assert_ne!(load_checkpoint(&other, Device::Cpu).unwrap().fingerprint, loaded.fingerprint, "other weights, another fingerprint");
    let sidecar: serde_json::Value = serde_json::from_slice(&std::fs::read(sidecar_path(&path)).unwrap()).unwrap();
    assert_eq!(sidecar["class_names"][5], "class5");
    assert_eq!(sidecar["input"]["width"], 100);
}

/// Rewrites the safetensors file with one tensor changed (or removed with `None`).
fn rewrite_with(path: &Path, name: &str, replacement: Option<Tensor>) {
    let mut tensors = Tensor::read_safetensors(path).unwrap();
    tensors.retain(|(n, _)| n != name);
    if let Some(tensor) = replacement {
        tensors.push((name.to_string(), tensor));
    }
    Tensor::write_safetensors(&tensors, path).unwrap();
    // The sidecar's checksum would now reject the file as "interrupted"; drop it so the
    // loader checks the tensors against the header-less file's sidecar-free metadata path.
    let mut sidecar: serde_json::Value = serde_json::from_slice(&std::fs::read(sidecar_path(path)).unwrap()).unwrap();
    sidecar["weights_sha256"] = "".into();
    std::fs::write(sidecar_path(path), serde_json::to_vec(&sidecar).unwrap()).unwrap();
}

fn load_error(path: &Path) -> CheckpointError {
    match load_checkpoint(path, Device::Cpu) {
        Ok(_) => panic!("{} loaded but should have been refused", path.display()),
        Err(error) => {
            assert!(
                error.to_string().contains(&path.display().to_string()) || error.to_string().contains(".json"),
                "message names the file: {error}"
            );
            error
        }
    }
}

#[test]
fn a_tensor_of_the_wrong_shape_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved_net(dir.path(), 6);
    rewrite_with(&path, "conv2.weight", Some(Tensor::zeros([64, 32, 3, 3], (Kind::Float, Device::Cpu))));
    let error = load_error(&path);
    assert!(matches!(&error, CheckpointError::WrongShape { name, .. } if name == "conv2.weight"), "{error}");
    assert!(error.to_string().contains("[64, 32, 3, 3]") && error.to_string().contains("[64, 32, 5, 5]"), "{error}");
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved_net(dir.path(), 6);
    rewrite_with(&path, "fc2.bias", None);
    let error = load_error(&path);
    assert!(matches!(&error, CheckpointError::MissingTensor { name, .. } if name == "fc2.bias"), "{error}");
}

#[test]
fn an_unexpected_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved_net(dir.path(), 6);
    rewrite_with(&path, "conv5.weight", Some(Tensor::zeros([2], (Kind::Float, Device::Cpu))));
    let error = load_error(&path);
    assert!(matches!(&error, CheckpointError::UnexpectedTensor { name, .. } if name == "conv5.weight"), "{error}");
}

#[test]
fn a_wrong_class_count_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved_net(dir.path(), 6);
    let sidecar = sidecar_path(&path);
    let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&sidecar).unwrap()).unwrap();
    meta["class_names"].as_array_mut().unwrap().pop();
    std::fs::write(&sidecar, serde_json::to_vec(&meta).unwrap()).unwrap();
    let error = load_error(&path);
    assert!(matches!(error, CheckpointError::ClassCountMismatch { in_weights: 6, in_sidecar: 5, .. }), "{error}");
}

#[test]
fn a_truncated_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved_net(dir.path(), 6);
    let bytes = std::fs::read(&path).unwrap();
    for cut in [4, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let error = load_error(&path);
        assert!(matches!(error, CheckpointError::NotSafetensors { .. }), "cut at {cut}: {error}");
    }
}

#[test]
fn a_malformed_sidecar_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved_net(dir.path(), 6);
    std::fs::write(sidecar_path(&path), "{ \"class_names\": [").unwrap();
    let error = load_error(&path);
    assert!(matches!(error, CheckpointError::BadSidecar { .. }), "{error}");
}

#[test]
fn an_interrupted_save_falls_back_to_the_metadata_in_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved_net(dir.path(), 6);
    let old_sidecar = std::fs::read(sidecar_path(&path)).unwrap();
    // A second save with new metadata, then the old sidecar put back: as if the process died
    // between the weights' rename and the sidecar's.
    let mut meta = CheckpointMeta::new((0..6).map(|i| format!("renamed{i}")).collect());
    meta.epoch = 9;
    let net = Net::new(6, Device::Cpu);
    save_checkpoint(&net, &meta, &path).unwrap();
    std::fs::write(sidecar_path(&path), old_sidecar).unwrap();
    let loaded = load_checkpoint(&path, Device::Cpu).unwrap();
    assert_eq!(loaded.meta.epoch, 9);
    assert_eq!(loaded.meta.class_names[0], "renamed0");
}

#[test]
fn weights_without_a_sidecar_still_load_from_their_header() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved_net(dir.path(), 3);
    std::fs::remove_file(sidecar_path(&path)).unwrap();
    let loaded = load_checkpoint(&path, Device::Cpu).unwrap();
    assert_eq!(loaded.meta.class_names, ["class0", "class1", "class2"]);
    assert_eq!(parameter_shapes(3).len(), loaded.net.vs.variables().len());
}

#[test]
fn the_centre_activation_from_its_receptive_field_equals_the_full_forward_pass() {
    let net = common::shipped_net(true);
    tch::manual_seed(11);
    // The icon sizes of conv1, conv2 and conv3, odd sizes, and the network's own input size.
    for (layer, side) in
        [(Layer::CONV1, 16), (Layer::CONV1, 23), (Layer::CONV2, 24), (Layer::CONV2, 31), (Layer::CONV3, 40), (Layer::CONV2, 100)]
    {
        let images = tch::Tensor::rand([3, 3, side, side], (tch::Kind::Double, tch::Device::Cpu));
        let full = net.forward_until(&images, layer, false).get(layer).shallow_clone();
        let grid = full.size()[2];
        let expected = full.select(3, grid / 2).select(2, grid / 2);
        let centre = net.centre_activation(&images, layer).unwrap_or_else(|| panic!("{layer:?} at {side} px"));
        assert_eq!(centre.size(), expected.size());
        let difference = f64::try_from((&centre - &expected).abs().max()).unwrap();
        let scale = f64::try_from(expected.abs().max()).unwrap();
        assert!(scale > 0.0 && difference <= 1e-9 * scale, "{layer:?} at {side} px: {difference} of {scale}");
        // Before the last ReLU: the same where a channel is on, negative somewhere where it is off.
        let pre_relu = net.centre_pre_relu(&images, layer).unwrap_or_else(|| panic!("{layer:?} at {side} px"));
        let difference = f64::try_from((pre_relu.relu() - &expected).abs().max()).unwrap();
        assert!(difference <= 1e-9 * scale, "{layer:?} at {side} px before the ReLU: {difference} of {scale}");
        assert!(f64::try_from(pre_relu.min()).unwrap() < 0.0, "{layer:?} at {side} px: no channel off");
    }
    // Too small for the receptive field to fit: the full pass is needed.
    let small = tch::Tensor::rand([1, 3, 12, 12], (tch::Kind::Double, tch::Device::Cpu));
    assert!(net.centre_activation(&small, Layer::CONV2).is_none());
    assert!(net.centre_activation(&small, Layer::FC1).is_none());
    assert!(net.centre_pre_relu(&small, Layer::CONV2).is_none());
}
