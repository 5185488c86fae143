//! Ctrl-C on a long command, as in a terminal: `train` gets SIGINT after it has saved a
//! checkpoint, stops at its next batch, says "cancelled", exits with 130, and every checkpoint it
//! wrote loads.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use activation_atlas::engine::checkpoint::load_checkpoint;

#[test]
fn ctrl_c_stops_training_cleanly_with_exit_code_130_and_keeps_its_checkpoints() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("shapes");
    common::write_shape_dataset(&data, 2, 8);
    let out = work.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_activation-atlas"))
        .args(["train", "--epochs", "100000", "--batch-size", "8", "--checkpoint-every", "1", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .env("ACTIVATION_ATLAS_CACHE", work.path().join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the second finished epoch: by then a checkpoint has been saved.
    let (epochs, epoch_lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("epoch") {
                let _ = epochs.send(line);
            }
        }
    });
    for _ in 0..2 {
        epoch_lines.recv_timeout(Duration::from_secs(120)).expect("training finishes epochs");
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let interrupted = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if interrupted.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("train did not stop within 30 s of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    assert!(stderr.contains("is kept"), "{stderr}");
    assert!(!stderr.contains('\r'), "no progress bar drawn when stderr is not a terminal: {stderr:?}");
    let checkpoints: Vec<_> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "safetensors")).collect();
    assert!(!checkpoints.is_empty(), "a checkpoint was saved before Ctrl-C");
    for checkpoint in &checkpoints {
        load_checkpoint(checkpoint, tch::Device::Cpu).unwrap_or_else(|e| panic!("{}: {e}", checkpoint.display()));
    }
    let stray: Vec<_> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).filter(|n| n.to_string_lossy().contains(".tmp-")).collect();
    assert!(stray.is_empty(), "no half-written files: {stray:?}");
}
