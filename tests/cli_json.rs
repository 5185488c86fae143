//! `--json` on every command: stdout is one envelope (`command`, `ok`, `result` or `error`),
//! whatever the command and whether it worked; `train --json` first prints one JSON line per
//! epoch as it ends.

mod common;

use std::process::Output;

use common::{run_cli as app, text};

/// Every stdout line parsed as JSON (the test fails on any line that is not), the envelope last.
fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    let stdout = text(&output.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not a JSON line ({error}): {line:?}\n{stdout}")))
        .collect();
    assert!(!lines.is_empty(), "no output; stderr: {}", text(&output.stderr));
    lines
}

fn envelope(output: &Output, command: &str) -> serde_json::Value {
    let lines = json_lines(output);
    assert_eq!(lines.len(), 1, "one envelope and nothing else: {lines:?}");
    let envelope = lines.into_iter().next().unwrap();
    assert_eq!(envelope["command"], command);
    assert_eq!(envelope["ok"].as_bool(), Some(output.status.success()), "ok matches the exit status: {envelope}");
    envelope
}

#[test]
fn train_json_prints_a_line_per_epoch_then_the_envelope() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, 8);
    let run = tempfile::tempdir().unwrap();
    let output = app(&[
        "train",
        "--json",
        "--data",
        data.path().to_str().unwrap(),
        "--out",
        run.path().to_str().unwrap(),
        "--epochs",
        "3",
        "--batch-size",
        "8",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (i, line) in lines[..3].iter().enumerate() {
        assert_eq!(line["event"], "epoch");
        assert_eq!(line["epoch"].as_u64(), Some(i as u64 + 1));
        assert!(line["validation_accuracy"].as_f64().is_some_and(|a| (0.0..=1.0).contains(&a)), "{line}");
    }
    let envelope = &lines[3];
    assert_eq!(envelope["command"], "train");
    assert_eq!(envelope["ok"], true);
    let result = &envelope["result"];
    assert_eq!(result["epochs"].as_array().unwrap().len(), 3);
    let best = result["best_checkpoint"].as_str().expect("the best checkpoint is named");
    assert!(std::path::Path::new(best).is_file(), "{best}");
    // The epochs in the envelope are the ones streamed.
    assert_eq!(result["epochs"][2]["train_loss"], lines[2]["train_loss"]);
}

#[test]
fn a_failing_command_still_prints_its_envelope_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such.atlas");
    let output = app(&["atlas", "info", missing.to_str().unwrap(), "--json"]);
    assert!(!output.status.success());
    let envelope = envelope(&output, "atlas info");
    let message = envelope["error"]["message"].as_str().unwrap();
    assert!(message.contains("no-such.atlas"), "{message}");
    assert_eq!(envelope["error"]["cancelled"], false);
    assert!(envelope.get("result").is_none());
}

#[test]
fn a_command_that_partly_worked_carries_its_results_beside_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.jpg");
    std::fs::write(&broken, b"\xff\xd8 not really a jpeg").unwrap();
    let photo = common::flowers17_photo("daisy");
    let output = app(&["--json", "classify", photo.to_str().unwrap(), broken.to_str().unwrap()]);
    assert!(!output.status.success(), "one picture could not be read");
    let envelope = envelope(&output, "classify");
    assert!(envelope["error"]["message"].as_str().unwrap().contains("1 of 2"), "{envelope}");
    let results = envelope["result"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(results[0]["top"].is_array());
    assert!(results[1]["error"].as_str().unwrap().contains("broken.jpg"), "{}", results[1]);
}

#[test]
fn commands_that_write_files_or_text_report_them_in_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let photo = common::flowers17_photo("sunflower");
    let out = dir.path().join("cam.png");
    let output = app(&["explain", photo.to_str().unwrap(), "--method", "gradcam", "--out", out.to_str().unwrap(), "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let explained = envelope(&output, "explain");
    assert_eq!(explained["result"]["out"], out.display().to_string());
    assert_eq!(explained["result"]["class"], "sunflower");
    assert_eq!(explained["result"]["layer"], "conv4");
    assert!(out.is_file());

    let output = app(&["completions", "bash", "--json"]);
    let completions = envelope(&output, "completions");
    assert!(completions["result"]["script"].as_str().unwrap().contains("activation-atlas"), "{completions}");
    let output = app(&["man", "--json"]);
    let man = envelope(&output, "man");
    assert!(man["result"]["roff"].as_str().unwrap().contains(".TH"), "{man}");
}
