//! k-fold cross-validation of a training recipe: k runs, each holding out one stratified fold and
//! scored on it at its last epoch (no choice of epoch on the held-out photos), then the mean and
//! standard deviation of the k accuracies. Each fold's run keeps its checkpoints, so an
//! interrupted cross-validation continues where it stopped.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use tch::Device;

use super::checkpoint::read_checkpoint_meta;
pub use super::cv_summary::{CrossValidationSummary, ViewsSummary, mean_and_sd, pooled};
use super::data::Dataset;
use super::fsutil::write_atomically;
use super::recipe::{Holdout, TrainConfig};
use super::train::{EpochRecord, TrainError, TrainEvent, TrainOutcome, train};

/// The file a cross-validation writes into its folder.
pub const REPORT_FILE: &str = "cross-validation.json";

/// One fold's result: the run's accuracy on the photos it never trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoldResult {
    /// 0-based.
    pub fold: u32,
    pub held_out_images: usize,
    pub accuracy: f64,
    pub loss: f64,
    /// The same photos judged by 12 views each (`classify::TestTimeViews::Crops`), as the
    /// classifier window judges a photo. None in reports written before it was measured.
    #[serde(default)]
    pub views_accuracy: Option<f64>,
    /// Seconds of training spent in this call (0 when the fold was already done).
    pub seconds: f64,
}

/// A whole cross-validation: the recipe and every fold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrossValidationReport {
    /// The recipe, without the settings that only place files or choose held-out photos.
    pub recipe: TrainConfig,
    pub summary: CrossValidationSummary,
    pub results: Vec<FoldResult>,
    pub created_at: String,
}

/// Progress of a cross-validation, from whichever fold is running (several may run at once).
#[derive(Clone, Debug)]
pub enum CrossValidationEvent {
    FoldStarted { fold: u32, resumed_at_epoch: u32 },
    Epoch { fold: u32, record: EpochRecord },
    FoldFinished(FoldResult),
}

#[derive(Debug, thiserror::Error)]
pub enum CrossValidationError {
    #[error("cross-validation needs at least 2 folds, not {0}")]
    TooFewFolds(u32),
    #[error("{folds} folds need at least {folds} photos of every class; '{class}' has {count}")]
    ClassTooSmall { folds: u32, class: String, count: usize },
    #[error("fold {fold}: {source}")]
    Fold { fold: u32, source: TrainError },
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("fold {fold}: cannot read its last checkpoint {path}: {message}")]
    Checkpoint { fold: u32, path: PathBuf, message: String },
}

/// The run folder of fold `fold` inside a cross-validation folder.
pub fn fold_dir(root: &Path, fold: u32) -> PathBuf {
    root.join(format!("fold-{}", fold + 1))
}

/// Cross-validates `recipe` on `dataset` with `folds` stratified folds, the runs in `root`
/// (`fold-1`, `fold-2`, ...), `parallel` folds at a time. Writes and returns the report; `None`
/// when cancelled (the folds' checkpoints stay, and a later call resumes them).
#[allow(clippy::too_many_arguments)]
pub fn cross_validate(
    dataset: &Dataset,
    recipe: &TrainConfig,
    folds: u32,
    root: &Path,
    parallel: usize,
    device: Device,
    cancel: &AtomicBool,
    on_event: &(dyn Fn(CrossValidationEvent) + Sync),
) -> Result<Option<CrossValidationReport>, CrossValidationError> {
    if folds < 2 {
        return Err(CrossValidationError::TooFewFolds(folds));
    }
    let mut counts = vec![0usize; dataset.class_names.len()];
    dataset.labels.iter().for_each(|&label| counts[label] += 1);
    if let Some((class, &count)) = counts.iter().enumerate().find(|(_, count)| **count < folds as usize) {
        return Err(CrossValidationError::ClassTooSmall { folds, class: dataset.class_names[class].clone(), count });
    }
    let next_fold = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<Option<FoldResult>, CrossValidationError>>> = Mutex::new(Vec::new());
    let workers = parallel.clamp(1, folds as usize);
    let thread_share = (workers > 1).then(|| ThreadShare::new(workers));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let fold = next_fold.fetch_add(1, Ordering::SeqCst) as u32;
                    if fold >= folds || cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let result = run_fold(dataset, recipe, folds, fold, root, device, thread_share.as_ref(), cancel, on_event);
                    let failed = result.is_err();
                    results.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(result);
                    if failed {
                        cancel.store(true, Ordering::Relaxed); // the other folds stop too
                        break;
                    }
                }
                if let Some(share) = &thread_share {
                    share.worker_done();
                }
            });
        }
    });
    let mut finished = Vec::new();
    for result in results.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()) {
        match result? {
            Some(fold) => finished.push(fold),
            None => return Ok(None),
        }
    }
    if finished.len() < folds as usize {
        return Ok(None);
    }
    finished.sort_by_key(|result| result.fold);
    let accuracies: Vec<f64> = finished.iter().map(|result| result.accuracy).collect();
    let (mean, sd) = mean_and_sd(&accuracies);
    let views = finished.iter().map(|result| result.views_accuracy).collect::<Option<Vec<f64>>>().map(|fold_accuracies| {
        let (mean_accuracy, sd_accuracy) = mean_and_sd(&fold_accuracies);
        Box::new(ViewsSummary { mean_accuracy, sd_accuracy, fold_accuracies })
    });
    let report = CrossValidationReport {
        recipe: recipe.recipe_only(),
        summary: CrossValidationSummary {
            folds,
            repeats: 1,
            images: dataset.len(),
            mean_accuracy: mean,
            sd_accuracy: sd,
            fold_accuracies: accuracies,
            views,
        },
        results: finished,
        created_at: super::fsutil::utc_timestamp_now(),
    };
    let path = root.join(REPORT_FILE);
    let json = serde_json::to_vec_pretty(&report).expect("a report serialises");
    write_atomically(&path, &json).map_err(|source| CrossValidationError::Io { path, source })?;
    Ok(Some(report))
}

/// libtorch threads for folds trained side by side: each running fold gets its share of the CPU
/// threads. A worker that runs out of folds gives its share to the folds still training (taken up
/// at their next epoch), so a lone last fold does not train on one thread while the others idle.
struct ThreadShare {
    cpu_threads: usize,
    workers: AtomicUsize,
}

impl ThreadShare {
    fn new(workers: usize) -> Self {
        let cpu_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { cpu_threads, workers: AtomicUsize::new(workers) }
    }

    fn worker_done(&self) {
        self.workers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Sets the calling fold's threads to its current share. libtorch's OpenMP thread count is
    /// per calling thread, so each fold applies its own.
    fn apply(&self) {
        let share = (self.cpu_threads / self.workers.load(Ordering::SeqCst).max(1)).max(1) as i32;
        if tch::get_num_threads() != share {
            tch::set_num_threads(share);
        }
    }
}

/// Trains (or finishes) one fold's run and scores its last epoch. `None` when cancelled.
#[allow(clippy::too_many_arguments)]
fn run_fold(
    dataset: &Dataset,
    recipe: &TrainConfig,
    folds: u32,
    fold: u32,
    root: &Path,
    device: Device,
    thread_share: Option<&ThreadShare>,
    cancel: &AtomicBool,
    on_event: &(dyn Fn(CrossValidationEvent) + Sync),
) -> Result<Option<FoldResult>, CrossValidationError> {
    let config = TrainConfig {
        holdout: Holdout::Fold { folds, index: fold },
        // Only the last epoch counts; a checkpoint every few epochs is for resuming.
        checkpoint_every: recipe.checkpoint_every.clamp(1, 5),
        keep_last: 1,
        ..recipe.clone()
    };
    let dir = fold_dir(root, fold);
    let resume = latest_matching_checkpoint(&dir, &config);
    let resumed_at_epoch = resume.as_ref().map_or(0, |(_, epoch)| *epoch);
    on_event(CrossValidationEvent::FoldStarted { fold, resumed_at_epoch });
    let started = std::time::Instant::now();
    let mut last_record = None;
    if let Some(share) = thread_share {
        share.apply();
    }
    let outcome = train(dataset, &config, &dir, resume.as_ref().map(|(path, _)| path.as_path()), device, cancel, &mut |event| {
        if let TrainEvent::Epoch { record, .. } = event {
            if let Some(share) = thread_share {
                share.apply(); // a worker may have run out of folds since the last epoch
            }
            last_record = Some(record.clone());
            on_event(CrossValidationEvent::Epoch { fold, record });
        }
    })
    .map_err(|source| CrossValidationError::Fold { fold, source })?;
    let history = match outcome {
        TrainOutcome::Cancelled { .. } => return Ok(None),
        TrainOutcome::Finished { history, .. } => history,
    };
    // A fold finished in an earlier call reports the last epoch of its history.
    let Some(last) = last_record.or_else(|| history.last().filter(|record| record.epoch == config.epochs).cloned()) else {
        return Ok(None);
    };
    let held_out = super::data::holdout_split(&dataset.labels, &config).1;
    let views_accuracy = views_accuracy(dataset, &held_out, &dir, &config, device)
        .map_err(|(path, message)| CrossValidationError::Checkpoint { fold, path, message })?;
    let result = FoldResult {
        fold,
        held_out_images: held_out.len(),
        accuracy: last.validation_accuracy,
        loss: last.validation_loss,
        views_accuracy: Some(views_accuracy),
        seconds: started.elapsed().as_secs_f64(),
    };
    on_event(CrossValidationEvent::FoldFinished(result.clone()));
    Ok(Some(result))
}

/// The accuracy on the `held_out` photos of the fold's last checkpoint in `dir`, each photo judged
/// by 12 views. A few seconds per fold: only forward passes.
fn views_accuracy(
    dataset: &Dataset,
    held_out: &[usize],
    dir: &Path,
    config: &TrainConfig,
    device: Device,
) -> Result<f64, (PathBuf, String)> {
    let Some((path, _)) = latest_matching_checkpoint(dir, config).filter(|(_, epoch)| *epoch == config.epochs) else {
        return Err((dir.to_path_buf(), format!("no checkpoint of epoch {}", config.epochs)));
    };
    let checkpoint = super::checkpoint::load_checkpoint(&path, device).map_err(|error| (path.clone(), error.to_string()))?;
    let images = super::image_input::images_to_tensor(held_out.iter().map(|&i| &dataset.images[i]));
    let labels: Vec<usize> = held_out.iter().map(|&i| dataset.labels[i]).collect();
    let views = super::classify::TestTimeViews::Crops;
    Ok(super::eval::evaluate_images(&checkpoint.net, &images, &labels, &dataset.class_names, 256, views).0.accuracy)
}

/// The newest `epoch-NNN` checkpoint in `dir` trained with exactly `config`'s recipe and fold, with
/// its epoch; checkpoints of another recipe (an earlier cross-validation in the same folder) are
/// not resumed from.
fn latest_matching_checkpoint(dir: &Path, config: &TrainConfig) -> Option<(PathBuf, u32)> {
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let epoch: u32 = name.strip_prefix("epoch-")?.strip_suffix(".safetensors")?.parse().ok()?;
            Some((epoch, entry.path()))
        })
        .filter(|(epoch, _)| *epoch <= config.epochs)
        .collect();
    candidates.sort_by_key(|candidate| std::cmp::Reverse(candidate.0));
    candidates.into_iter().find_map(|(epoch, path)| {
        let meta = read_checkpoint_meta(&path).ok()?;
        let trained = meta.training?;
        let same = trained.recipe_only() == config.recipe_only() && trained.holdout == config.holdout && meta.epoch == epoch;
        same.then_some((path, epoch))
    })
}

/// Reads a report written by [`cross_validate`].
pub fn read_report(path: &Path) -> Result<CrossValidationReport, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|error| format!("{} is not a cross-validation report: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fold_left_alone_takes_the_threads_of_a_worker_that_ran_out() {
        let share = ThreadShare { cpu_threads: 4, workers: AtomicUsize::new(2) };
        // A thread of its own, as a fold has: the count is per calling thread.
        std::thread::scope(|scope| {
            scope.spawn(|| {
                share.apply();
                assert_eq!(tch::get_num_threads(), 2);
                share.worker_done();
                share.apply();
                assert_eq!(tch::get_num_threads(), 4);
            });
        });
    }
}
