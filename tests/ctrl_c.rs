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

/// Starts `atlas build` on flowers17 and returns it once it has read the data set (its build has
/// begun), with its stderr lines arriving on the receiver.
fn atlas_build_started(out: &std::path::Path, cache: &std::path::Path) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_activation-atlas"))
        .args(["atlas", "build", "--data"])
        .arg(common::flowers17())
        .arg("--out")
        .arg(out)
        .env("ACTIVATION_ATLAS_CACHE", cache)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (sender, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let started = Instant::now();
    loop {
        let line = lines.recv_timeout(Duration::from_secs(300)).expect("atlas build reads its data set");
        if line.contains("images in 17 classes") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "no data set line");
    }
    (child, lines)
}

fn wait_for_exit(child: &mut std::process::Child, within: Duration, what: &str) -> std::process::ExitStatus {
    let since = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if since.elapsed() > within {
            let _ = child.kill();
            panic!("{what} did not stop within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_once_cancels_an_atlas_build_and_twice_quits_at_once_both_leaving_no_file() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    for presses in [1, 2] {
        let folder = work.path().join(format!("presses-{presses}"));
        std::fs::create_dir_all(&folder).unwrap();
        let out = folder.join("f.atlas");
        let (mut child, lines) = atlas_build_started(&out, &cache);
        std::thread::sleep(Duration::from_millis(500));
        for _ in 0..presses {
            assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
            std::thread::sleep(Duration::from_millis(100));
        }
        // Once: the build stops at its next check; twice: the process ends at once.
        let within = if presses == 1 { Duration::from_secs(30) } else { Duration::from_secs(2) };
        let status = wait_for_exit(&mut child, within, &format!("atlas build after {presses} Ctrl-C"));
        assert_eq!(status.code(), Some(130), "{presses} Ctrl-C: {status:?}");
        let said: Vec<String> = lines.try_iter().collect();
        assert!(said.iter().any(|l| l.contains("stopping (Ctrl-C again to quit at once)")), "{said:?}");
        if presses == 1 {
            assert!(said.iter().any(|l| l.contains("cancelled")), "{said:?}");
        }
        let left: Vec<_> = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "{presses} Ctrl-C left {left:?}");
    }
}
