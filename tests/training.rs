//! Data sets, training, checkpoint policy, cancel and resume, on small generated data sets.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use activation_atlas::engine::checkpoint::load_checkpoint;
use activation_atlas::engine::data::{DataError, load_dataset, stratified_split};
use activation_atlas::engine::train::{TrainConfig, TrainError, TrainEvent, TrainOutcome, train};
use tch::Device;

fn no_progress(_: usize, _: usize) {}

fn quick_config(epochs: u32) -> TrainConfig {
    TrainConfig { epochs, batch_size: 16, seed: 5, checkpoint_every: 1, ..TrainConfig::default() }
}

fn run(
    data: &Path,
    config: &TrainConfig,
    run_dir: &Path,
    resume: Option<&Path>,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<TrainOutcome, TrainError> {
    let dataset = load_dataset(data, None, &no_progress, &AtomicBool::new(false)).unwrap();
    train(&dataset, config, run_dir, resume, Device::Cpu, cancel, on_event)
}

#[test]
fn synthetic_shapes_train_to_95_percent() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 4, 30);
    let run_dir = tempfile::tempdir().unwrap();
    let mut steps = 0;
    let outcome = run(data.path(), &quick_config(12), run_dir.path(), None, &AtomicBool::new(false), &mut |event| {
        if let TrainEvent::Step { loss, .. } = event {
            assert!(loss.is_finite());
            steps += 1;
        }
    })
    .unwrap();
    let TrainOutcome::Finished { best: Some(best), history, .. } = outcome else { panic!("unexpected {outcome:?}") };
    assert_eq!(history.len(), 12);
    assert_eq!(steps, 12 * 96usize.div_ceil(16));
    let best_accuracy = history.iter().map(|r| r.validation_accuracy).fold(0.0, f64::max);
    assert!(best_accuracy >= 0.95, "best validation accuracy {best_accuracy}: {history:#?}");
    let checkpoint = load_checkpoint(&best, Device::Cpu).unwrap();
    assert_eq!(checkpoint.meta.validation_accuracy(), Some(best_accuracy));
    assert_eq!(checkpoint.meta.class_names, ["bar", "cross", "disc", "square"]);
    assert_eq!(checkpoint.meta.training.as_ref().map(|t| t.seed), Some(5));
}

#[test]
fn corrupt_files_are_skipped_and_reported() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, 8);
    std::fs::write(data.path().join("disc/broken.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    std::fs::write(data.path().join("bar/readme.txt"), b"not a picture").unwrap();
    std::fs::write(data.path().join("square/empty.jpg"), b"").unwrap();
    let dataset = load_dataset(data.path(), None, &no_progress, &AtomicBool::new(false)).unwrap();
    let summary = dataset.summary();
    assert_eq!(summary.counts, [8, 8, 8]);
    let mut skipped: Vec<String> = summary.skipped.iter().map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
    skipped.sort();
    assert_eq!(skipped, ["broken.png", "empty.jpg", "readme.txt"]);
    assert!(summary.skipped.iter().all(|s| s.reason.contains(&*s.path.to_string_lossy())));
    // ... and training on it works.
    let run_dir = tempfile::tempdir().unwrap();
    let outcome = train(&dataset, &quick_config(1), run_dir.path(), None, Device::Cpu, &AtomicBool::new(false), &mut |_| {});
    assert!(matches!(outcome, Ok(TrainOutcome::Finished { .. })));
}

#[test]
fn folders_that_are_not_data_sets_are_refused_clearly() {
    let empty = tempfile::tempdir().unwrap();
    let error = load_dataset(empty.path(), None, &no_progress, &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(error, DataError::NoClasses { .. }), "{error}");

    std::fs::create_dir_all(empty.path().join("a")).unwrap();
    std::fs::create_dir_all(empty.path().join("b")).unwrap();
    std::fs::write(empty.path().join("a/x.txt"), "text").unwrap();
    let error = load_dataset(empty.path(), None, &no_progress, &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(error, DataError::NoImages { skipped: 1, .. }), "{error}");

    let single = tempfile::tempdir().unwrap();
    common::write_shape_dataset(single.path(), 1, 3);
    let error = load_dataset(single.path(), None, &no_progress, &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(error, DataError::SingleClass { .. }), "{error}");
}

#[test]
fn the_decode_cache_is_used_and_invalidated_by_changes() {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 2, 5);
    let load = || load_dataset(data.path(), Some(cache.path()), &no_progress, &AtomicBool::new(false)).unwrap();
    let first = load();
    assert_eq!(first.cached, 0);
    let second = load();
    assert_eq!(second.cached, 10);
    assert_eq!(first.images, second.images);
    // Change one file (new content, new size): it alone is decoded again.
    common::shape_image(1, 999, 80).save(data.path().join("disc/000.png")).unwrap();
    let third = load();
    assert_eq!(third.cached, 9);
    // The same folder spelled differently (via `..`) still hits the cache.
    let name = data.path().file_name().unwrap();
    let detour = data.path().join("disc").join("..").join("..").join(name);
    let fourth = load_dataset(&detour, Some(cache.path()), &no_progress, &AtomicBool::new(false)).unwrap();
    assert_eq!(fourth.cached, 10);
    let index = third.paths.iter().position(|p| p.ends_with("disc/000.png")).unwrap();
    assert_ne!(third.images[index], first.images[index]);
}

#[test]
fn the_split_is_stratified_and_seeded() {
    let labels: Vec<usize> = (0..100).map(|i| i % 4).collect();
    let (train, validation) = stratified_split(&labels, 0.2, 7);
    assert_eq!(validation.len(), 20);
    for class in 0..4 {
        assert_eq!(validation.iter().filter(|&&i| labels[i] == class).count(), 5);
    }
    assert_eq!((train.clone(), validation.clone()), stratified_split(&labels, 0.2, 7));
    assert_ne!(validation, stratified_split(&labels, 0.2, 8).1);
    let mut all: Vec<usize> = train.into_iter().chain(validation).collect();
    all.sort();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
}

#[test]
fn checkpoint_policy_keeps_the_last_n_and_the_best() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 2, 6);
    let run_dir = tempfile::tempdir().unwrap();
    let config = TrainConfig { checkpoint_every: 2, keep_last: 2, ..quick_config(7) };
    let mut saved = Vec::new();
    run(data.path(), &config, run_dir.path(), None, &AtomicBool::new(false), &mut |event| {
        if let TrainEvent::CheckpointSaved { epoch, is_best: false, .. } = event {
            saved.push(epoch);
        }
    })
    .unwrap();
    assert_eq!(saved, [2, 4, 6, 7], "every 2 epochs and the last");
    let mut files: Vec<String> =
        std::fs::read_dir(run_dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(
        files,
        [
            "best.json",
            "best.safetensors",
            "epoch-006.json",
            "epoch-006.safetensors",
            "epoch-007.json",
            "epoch-007.safetensors",
            "history.json"
        ]
    );
}

#[test]
fn cancel_stops_within_a_batch_and_resume_continues() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 2, 20);
    let run_dir = tempfile::tempdir().unwrap();
    // Two full epochs.
    run(data.path(), &quick_config(2), run_dir.path(), None, &AtomicBool::new(false), &mut |_| {}).unwrap();
    let checkpoint = run_dir.path().join("epoch-002.safetensors");
    let before = std::fs::read(&checkpoint).unwrap();

    // Resume towards 5 epochs, cancelling during the third epoch's first step.
    let cancel = AtomicBool::new(false);
    let mut steps_after_cancel = 0;
    let mut first_epoch = 0;
    let outcome = run(data.path(), &quick_config(5), run_dir.path(), Some(&checkpoint), &cancel, &mut |event| match event {
        TrainEvent::Started { first_epoch: first, .. } => first_epoch = first,
        TrainEvent::Step { .. } => {
            if cancel.load(Ordering::Relaxed) {
                steps_after_cancel += 1;
            }
            cancel.store(true, Ordering::Relaxed);
        }
        _ => {}
    })
    .unwrap();
    assert_eq!(first_epoch, 3);
    assert!(matches!(outcome, TrainOutcome::Cancelled { .. }), "{outcome:?}");
    assert_eq!(steps_after_cancel, 0, "no batch runs after cancel");
    assert_eq!(std::fs::read(&checkpoint).unwrap(), before, "the last good checkpoint is intact");
    assert!(!run_dir.path().join("epoch-003.safetensors").exists());

    // Resume again and finish.
    let outcome = run(data.path(), &quick_config(5), run_dir.path(), Some(&checkpoint), &AtomicBool::new(false), &mut |_| {}).unwrap();
    let TrainOutcome::Finished { history, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(history.iter().map(|r| r.epoch).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(load_checkpoint(&run_dir.path().join("epoch-005.safetensors"), Device::Cpu).unwrap().meta.epoch, 5);
}

#[test]
fn resuming_with_other_classes_is_refused() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 2, 6);
    let run_dir = tempfile::tempdir().unwrap();
    run(data.path(), &quick_config(1), run_dir.path(), None, &AtomicBool::new(false), &mut |_| {}).unwrap();
    let other = tempfile::tempdir().unwrap();
    common::write_shape_dataset(other.path(), 3, 6);
    let checkpoint = run_dir.path().join("epoch-001.safetensors");
    let error = run(other.path(), &quick_config(2), run_dir.path(), Some(&checkpoint), &AtomicBool::new(false), &mut |_| {}).unwrap_err();
    assert!(matches!(error, TrainError::ResumeMismatch(_)), "{error}");
}

#[test]
fn a_diverging_run_stops_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 2, 10);
    let run_dir = tempfile::tempdir().unwrap();
    let config = TrainConfig { learning_rate: 1e30, ..quick_config(3) };
    let error = run(data.path(), &config, run_dir.path(), None, &AtomicBool::new(false), &mut |_| {}).unwrap_err();
    assert!(matches!(error, TrainError::NonFiniteLoss { .. }), "{error}");
    assert!(error.to_string().contains("learning rate"));
}

#[test]
fn a_seeded_run_repeats_while_other_work_uses_the_global_generator() {
    // Other jobs in the app (noise baselines, random maps) draw from libtorch's global generator
    // and may reseed it; a training run must not depend on them.
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, 10);
    let losses = |disturb: bool| -> Vec<f64> {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            if disturb {
                scope.spawn(|| {
                    let mut seed = 0;
                    while !stop.load(Ordering::Relaxed) {
                        seed += 1;
                        tch::manual_seed(seed);
                        let _ = tch::Tensor::rand([64], (tch::Kind::Float, Device::Cpu));
                    }
                });
            }
            let run_dir = tempfile::tempdir().unwrap();
            let outcome = run(data.path(), &quick_config(2), run_dir.path(), None, &AtomicBool::new(false), &mut |_| {});
            stop.store(true, Ordering::Relaxed);
            let TrainOutcome::Finished { history, .. } = outcome.unwrap() else { panic!("the run did not finish") };
            history.iter().map(|record| record.train_loss).collect()
        })
    };
    let quiet = losses(false);
    assert_eq!(quiet.len(), 2);
    assert_eq!(losses(true), quiet);
}
