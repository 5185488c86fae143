//! The explanation commands for scripts: every method by its CLI name, raw maps as `.npy`, and
//! `explain-eval` over a labelled folder (its JSON, its errors, Ctrl-C).

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{run_cli, text};

/// The shape in a `.npy` header and the number of float32 values after it.
fn npy_shape_and_count(path: &Path) -> (String, usize) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "{}", path.display());
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f4'"), "{header}");
    let shape = header.split("'shape': ").nth(1).and_then(|rest| rest.split(')').next()).unwrap().trim_start_matches('(').to_string();
    (shape, (bytes.len() - 10 - header_len) / 4)
}

#[test]
fn every_method_explains_by_its_cli_name_and_saves_its_raw_map() {
    let dir = tempfile::tempdir().unwrap();
    let photo = common::flowers17_photo("sunflower");
    for (method, shape, count) in [
        ("gradcam", "6, 6", 36),
        ("gradcam++", "6, 6", 36),
        ("layercam", "6, 6", 36),
        ("hirescam", "6, 6", 36),
        ("scorecam", "6, 6", 36),
        ("integrated-gradients", "3, 100, 100", 30000),
        ("guided-backprop", "3, 100, 100", 30000),
        ("guided-gradcam", "3, 100, 100", 30000),
        ("saliency", "3, 100, 100", 30000),
        ("smoothgrad", "100, 100", 10000),
        ("random", "100, 100", 10000),
        ("sobel", "100, 100", 10000),
    ] {
        let map = dir.path().join(format!("{method}.npy"));
        let png = dir.path().join(format!("{method}.png"));
        let output = run_cli(&[
            "--json",
            "explain",
            photo.to_str().unwrap(),
            "--method",
            method,
            "--steps",
            "16",
            "--save-map",
            map.to_str().unwrap(),
            "--out",
            png.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{method}: {}", text(&output.stderr));
        let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(envelope["result"]["method"], method);
        assert_eq!(npy_shape_and_count(&map), (shape.to_string(), count), "{method}");
        assert!(image::open(&png).is_ok(), "{method}");
    }
    // A layer's resolution follows --layer.
    let map = dir.path().join("conv2.npy");
    let output =
        run_cli(&["explain", photo.to_str().unwrap(), "--method", "layercam", "--layer", "conv2", "--save-map", map.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(npy_shape_and_count(&map), ("25, 25".to_string(), 625));
    // The faithfulness and the sanity check, in the envelope.
    let output = run_cli(&[
        "--json",
        "explain",
        photo.to_str().unwrap(),
        "--method",
        "gradcam",
        "--faithfulness",
        "--sanity",
        "--save-map",
        map.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let result = &serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()["result"];
    for map in ["map", "random", "sobel"] {
        let deletion = result["faithfulness"][map]["deletion"].as_array().unwrap();
        assert_eq!(deletion.len(), 21, "{map}");
        assert!(result["faithfulness"][map]["deletion_auc"].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)));
    }
    assert_eq!(result["sanity"]["stages"].as_array().map(Vec::len), Some(7));
    // Feature maps have no raw attribution to save.
    let output = run_cli(&["explain", photo.to_str().unwrap(), "--method", "featuremaps", "--save-map", map.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("--save-map needs an attribution method"), "{}", text(&output.stderr));
}

/// A small labelled folder: the first `per_class` photos of three flowers17 classes.
fn small_folder(dir: &Path, per_class: usize) {
    for class in ["daisy", "sunflower", "tulip"] {
        let target = dir.join(class);
        std::fs::create_dir_all(&target).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(common::flowers17().join(class)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.into_iter().take(per_class) {
            std::fs::copy(&file, target.join(file.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn explain_eval_scores_each_method_over_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    small_folder(dir.path(), 2);
    let output = run_cli(&[
        "--json",
        "explain-eval",
        "--data",
        dir.path().to_str().unwrap(),
        "--methods",
        "gradcam,layercam,random,sobel",
        "--limit",
        "4",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(envelope["command"], "explain-eval");
    let methods = envelope["result"]["methods"].as_array().unwrap();
    let names: Vec<&str> = methods.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gradcam", "layercam", "random", "sobel"]);
    for method in methods {
        for field in ["deletion_auc", "insertion_auc", "average_drop", "increase_rate"] {
            let value = method[field].as_f64().unwrap_or(f64::NAN);
            assert!((0.0..=1.0).contains(&value), "{field} = {value} in {method}");
        }
        assert!(method["ms_per_image"].as_f64().is_some_and(|ms| ms > 0.0), "{method}");
        assert_eq!(method["images"], 4);
    }
    // The table for people.
    let output = run_cli(&["explain-eval", "--data", dir.path().to_str().unwrap(), "--methods", "sobel", "--limit", "1"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("deletion AUC"), "{}", text(&output.stdout));
    // Unknown methods are refused with the list.
    let output = run_cli(&["explain-eval", "--data", dir.path().to_str().unwrap(), "--methods", "gradcam,magic"]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("unknown method 'magic'") && stderr.contains("integrated-gradients"), "{stderr}");
}

#[test]
fn ctrl_c_stops_explain_eval_with_the_rows_so_far() {
    let dir = tempfile::tempdir().unwrap();
    small_folder(dir.path(), 6);
    let mut child = common::cli()
        .args(["--json", "explain-eval", "--methods", "scorecam,integrated-gradients", "--data"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it read the folder and start scoring, then interrupt.
    std::thread::sleep(Duration::from_secs(6));
    assert!(std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let interrupted = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if interrupted.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("explain-eval did not stop within 20 s of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{stderr}");
    assert!(!stderr.contains('\r'), "no progress bar drawn into a pipe: {stderr:?}");
    let envelope: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(envelope["ok"], false);
    assert_eq!(envelope["error"]["cancelled"], true, "{envelope}");
    let methods = envelope["result"]["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 2);
    let scored = envelope["result"]["images"].as_u64().unwrap();
    assert!(scored < 18, "stopped before the end: {scored}");
}
