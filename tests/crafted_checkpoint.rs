//! A checkpoint whose sidecar names a million classes and whose weights lack the last layer: the
//! missing tensor is reported before a network that large is built (it would take gigabytes).
//! Its own test binary, so the process's peak memory is this test's alone.

use activation_atlas::engine::checkpoint::{CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint, sidecar_path};
use activation_atlas::engine::model::Net;

/// The process's peak resident memory so far, in bytes (Linux).
fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
fn a_sidecar_naming_a_million_classes_without_their_weights_builds_nothing_large() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crafted.safetensors");
    let names: Vec<String> = (0..3).map(|i| format!("c{i}")).collect();
    save_checkpoint(&Net::seeded(3, tch::Device::Cpu, 1), &CheckpointMeta::new(names), &path).unwrap();
    // The weights without the last layer, and a sidecar with a million class names.
    let bytes = std::fs::read(&path).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView)> =
        tensors.tensors().into_iter().filter(|(name, _)| !name.starts_with("fc3.")).collect();
    let weights = safetensors::serialize(kept, &None).unwrap();
    std::fs::write(&path, &weights).unwrap();
    let sidecar = sidecar_path(&path);
    let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&sidecar).unwrap()).unwrap();
    meta["weights_sha256"] = activation_atlas::engine::fsutil::sha256_hex(&weights).into();
    meta["class_names"] = serde_json::Value::from((0..1_000_000).map(|i| format!("c{i}")).collect::<Vec<_>>());
    std::fs::write(&sidecar, serde_json::to_string(&meta).unwrap()).unwrap();

    let before = peak_memory();
    let error = load_checkpoint(&path, tch::Device::Cpu).err().expect("refused");
    assert!(matches!(error, CheckpointError::MissingTensor { .. }), "{error}");
    let grown = peak_memory().saturating_sub(before);
    assert!(grown < 300 << 20, "loading grew the peak memory by {} MB", grown >> 20);
}
