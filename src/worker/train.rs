//! The train slice on the worker: read a data set (interactive), list a run's checkpoints
//! (interactive), and training runs, each on a thread of its own.

use std::path::{Path, PathBuf};

use super::interactive::Interactive;
use super::{CancelToken, Event, JobError, JobKind, Picture, Reporter};
use crate::engine::checkpoint::{CheckpointSummary, list_checkpoints};
use crate::engine::data::{Dataset, DatasetSummary, StoredDataset, cache_dir, load_dataset, open_dataset_sized};
use crate::engine::model::default_device;
use crate::engine::train::{TrainConfig, TrainEvent, TrainOutcome, train};

/// Thumbnails per class in a data set's overview.
pub const THUMBNAILS_PER_CLASS: usize = 8;

#[derive(Debug)]
pub enum TrainJob {
    /// Read a data set folder and report its summary.
    ScanDataset { dir: PathBuf },
    /// List a run folder's checkpoints with their metrics.
    ListCheckpoints { dir: PathBuf },
    /// Pictures of these photos as the network sees them (100x100), e.g. a confusion cell's.
    Pictures { paths: Vec<PathBuf> },
    /// Train (or, with `resume`, continue) on a data set folder, on a thread of its own.
    Run(Box<TrainRun>),
    /// Get the paper's flowers17 into `dir` (download, or unpack the archive `from`; check;
    /// sort), on a thread of its own.
    GetFlowers17 { dir: PathBuf, from: Option<PathBuf> },
}

impl TrainJob {
    pub fn kind(&self) -> JobKind {
        match self {
            TrainJob::ScanDataset { .. } => JobKind::ScanDataset,
            TrainJob::ListCheckpoints { .. } => JobKind::ListCheckpoints,
            TrainJob::Pictures { .. } => JobKind::ReadPictures,
            TrainJob::Run(_) => JobKind::Train,
            TrainJob::GetFlowers17 { .. } => JobKind::GetDataset,
        }
    }
}

#[derive(Debug)]
pub struct TrainRun {
    pub data_dir: PathBuf,
    pub config: TrainConfig,
    pub run_dir: PathBuf,
    pub resume: Option<PathBuf>,
    /// Panics in the training thread after this many steps: tests use it to check that a crash
    /// there is reported while the rest of the app goes on.
    #[doc(hidden)]
    pub panic_after_steps: Option<usize>,
}

#[derive(Clone, Debug)]
pub enum TrainingEvent {
    DatasetScanned(DatasetOverview),
    /// Training progress as the engine reports it (steps, epochs, checkpoints).
    Progress(TrainEvent),
    Ended(TrainOutcome),
    CheckpointsListed {
        dir: PathBuf,
        checkpoints: Vec<CheckpointSummary>,
    },
    /// The pictures asked for, in the same order; None for a file that can no longer be read.
    Pictures {
        paths: Vec<PathBuf>,
        pictures: Vec<Option<Picture>>,
    },
    /// flowers17 is ready in `dir` (downloaded now or before).
    DatasetReady {
        dir: PathBuf,
    },
}

/// A data set's summary with a few thumbnails per class, for the training panel.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetOverview {
    pub summary: DatasetSummary,
    /// Up to [`THUMBNAILS_PER_CLASS`] network-size pictures per class, in class order.
    pub thumbnails: Vec<Vec<Picture>>,
}

impl DatasetOverview {
    fn of(dataset: &Dataset) -> DatasetOverview {
        let mut thumbnails = vec![Vec::new(); dataset.class_names.len()];
        for (image, &label) in dataset.images.iter().zip(&dataset.labels) {
            if thumbnails[label].len() < THUMBNAILS_PER_CLASS {
                thumbnails[label].push(Picture::from_rgb(image));
            }
        }
        DatasetOverview { summary: dataset.summary(), thumbnails }
    }
}

/// Reads a data set with progress; a failure is reported as the job's.
pub(super) fn read_dataset(dir: &Path, reporter: &Reporter, cancel: &CancelToken) -> Option<Dataset> {
    reading(reporter, cancel, |progress| load_dataset(dir, Some(&cache_dir()), progress, cancel.flag()))
}

/// [`read_dataset`] for a data set whose photos stay on disk (an atlas build reads them a batch at
/// a time), its photos at `side` (the network's input).
pub(super) fn open_stored_dataset(dir: &Path, side: i64, reporter: &Reporter, cancel: &CancelToken) -> Option<StoredDataset> {
    reading(reporter, cancel, |progress| open_dataset_sized(dir, Some(&cache_dir()), side, progress, cancel.flag()))
}

fn reading<T>(
    reporter: &Reporter,
    cancel: &CancelToken,
    read: impl FnOnce(&(dyn Fn(usize, usize) + Sync)) -> Result<T, crate::engine::data::DataError>,
) -> Option<T> {
    let progress = |done, total| {
        if done % 25 == 0 || done == total {
            reporter.send(Event::Progress { done, total });
        }
    };
    match read(&progress) {
        Ok(dataset) => Some(dataset),
        Err(_) if cancel.is_cancelled() => {
            reporter.fail(JobError::Cancelled);
            None
        }
        Err(error) => {
            reporter.fail(JobError::Dataset { message: error.to_string() });
            None
        }
    }
}

impl Interactive {
    pub(super) fn train_job(&mut self, job: TrainJob, reporter: &Reporter, cancel: &CancelToken) {
        match job {
            TrainJob::ScanDataset { dir } => {
                if let Some(dataset) = read_dataset(&dir, reporter, cancel) {
                    reporter.send(Event::Train(TrainingEvent::DatasetScanned(DatasetOverview::of(&dataset))));
                }
            }
            TrainJob::ListCheckpoints { dir } => {
                let checkpoints = list_checkpoints(&dir);
                reporter.send(Event::Train(TrainingEvent::CheckpointsListed { dir, checkpoints }));
            }
            TrainJob::Pictures { paths } => {
                use rayon::prelude::*;
                let pictures = paths
                    .par_iter()
                    .map(|path| crate::engine::image_input::load_network_image(path).ok().map(|image| Picture::from_rgb(&image)))
                    .collect();
                reporter.send(Event::Train(TrainingEvent::Pictures { paths, pictures }));
            }
            // Runs and downloads never come here (the job system gives them a thread).
            TrainJob::Run(_) | TrainJob::GetFlowers17 { .. } => {
                reporter.fail(JobError::Training { message: "a long job was sent to the interactive worker".to_string() })
            }
        }
    }
}

/// A training run on its own thread, with its own network. Returns true: the job ends here.
pub(super) fn run_training(run: TrainRun, reporter: &Reporter, cancel: &CancelToken) -> bool {
    if run.config.pretrained.is_some() {
        return run_transfer(run, reporter, cancel);
    }
    let Some(dataset) = read_dataset(&run.data_dir, reporter, cancel) else { return true };
    reporter.send(Event::Train(TrainingEvent::DatasetScanned(DatasetOverview::of(&dataset))));
    let mut on_event = progress_reporter(&run, reporter);
    match train(&dataset, &run.config, &run.run_dir, run.resume.as_deref(), default_device(), cancel.flag(), &mut on_event) {
        Ok(outcome) => reporter.send(Event::Train(TrainingEvent::Ended(outcome))),
        Err(error) => reporter.fail(JobError::Training { message: error.to_string() }),
    }
    true
}

/// A run that starts from a pretrained network: its features of every photo (from the cache
/// where they are), then a new last layer trained on them, or a fine-tuning that starts from
/// one; reported as any run is.
fn run_transfer(run: TrainRun, reporter: &Reporter, cancel: &CancelToken) -> bool {
    use crate::engine::transfer::{backbone_features, load_backbone, train_linear};
    let Some(pretrained) = run.config.pretrained.clone() else { return true };
    let fail = |message: String| reporter.fail(JobError::Training { message });
    if let Err(error) = crate::engine::transfer::check_supported(&pretrained) {
        fail(error.to_string());
        return true;
    }
    if run.resume.is_some() && !run.config.fine_tunes() {
        fail("a run that trains only a last layer takes seconds: start it again instead of continuing it".to_string());
        return true;
    }
    let backbone = match load_backbone(&pretrained.backbone, default_device()) {
        Ok(backbone) => backbone,
        Err(error) => {
            fail(error.to_string());
            return true;
        }
    };
    let side = backbone.net.spec().input_size;
    let Some(photos) = open_stored_dataset(&run.data_dir, side, reporter, cancel) else { return true };
    // Resuming a fine-tuning takes its last layer from the checkpoint, not from the features.
    let features = if run.resume.is_none() {
        let mut progress = |done, total| reporter.send(Event::Progress { done, total });
        match backbone_features(&backbone, &photos, Some(&cache_dir()), &mut progress, cancel.flag()) {
            Ok(features) => Some(features),
            Err(_) if cancel.is_cancelled() => {
                reporter.fail(JobError::Cancelled);
                return true;
            }
            Err(error) => {
                fail(error.to_string());
                return true;
            }
        }
    } else {
        None
    };
    let mut on_event = progress_reporter(&run, reporter);
    let outcome = match &features {
        Some(features) if !run.config.fine_tunes() => {
            train_linear(&backbone, &photos, features, &run.config, &run.run_dir, cancel.flag(), &mut on_event)
        }
        features => crate::engine::finetune::train_finetune(
            &backbone,
            &photos,
            features.as_ref(),
            &run.config,
            &run.run_dir,
            run.resume.as_deref(),
            cancel.flag(),
            &mut on_event,
        ),
    };
    match outcome {
        Ok(outcome) => reporter.send(Event::Train(TrainingEvent::Ended(outcome))),
        Err(error) => fail(error.to_string()),
    }
    true
}

/// Passes a run's events on, with the job's progress counted in steps.
fn progress_reporter<'a>(run: &'a TrainRun, reporter: &'a Reporter) -> impl FnMut(TrainEvent) + 'a {
    let mut steps_per_epoch = 0;
    let mut first_epoch = 1;
    let mut total_steps = 0;
    let mut steps_done = 0;
    move |event: TrainEvent| {
        match &event {
            TrainEvent::Started { steps_per_epoch: per_epoch, first_epoch: first, epochs, .. } => {
                (steps_per_epoch, first_epoch) = (*per_epoch, *first);
                total_steps = (*epochs + 1).saturating_sub(first_epoch) as usize * steps_per_epoch;
            }
            TrainEvent::Step { epoch, step, .. } => {
                steps_done += 1;
                if run.panic_after_steps.is_some_and(|limit| steps_done >= limit) {
                    panic!("simulated crash in the training thread");
                }
                let done = epoch.saturating_sub(first_epoch) as usize * steps_per_epoch + step;
                reporter.send(Event::Progress { done, total: total_steps });
            }
            _ => {}
        }
        reporter.send(Event::Train(TrainingEvent::Progress(event)));
    }
}

/// Gets flowers17 on its own thread: from the archive `from` the user chose, else from
/// `ACTIVATION_ATLAS_FLOWERS17_URL` if set (another mirror, or a local copy), else the official
/// address. A folder that already holds it is used as it is. Returns true: the job ends here.
pub(super) fn get_flowers17(dir: PathBuf, from: Option<PathBuf>, reporter: &Reporter, cancel: &CancelToken) -> bool {
    use crate::engine::dataset_get::{FLOWERS17_URL, GetError, GetProgress, Source};
    let already = std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some());
    if !already {
        let source = match from {
            Some(archive) => Source::File(archive),
            None => Source::parse(&std::env::var("ACTIVATION_ATLAS_FLOWERS17_URL").unwrap_or_else(|_| FLOWERS17_URL.to_string())),
        };
        let mut last = None;
        let mut progress = |step: GetProgress| {
            // Percent, so the status bar shows small numbers whatever the sizes.
            let percent = match step {
                GetProgress::Downloading { done, total } => total.map(|t| (done * 100 / t.max(1)) as usize),
                GetProgress::Checking { done, total } => Some((done * 100 / total.max(1)) as usize),
                GetProgress::Unpacking { done, total } => Some(done * 100 / total.max(1)),
            };
            if let Some(percent) = percent.filter(|p| last != Some(*p)) {
                last = Some(percent);
                reporter.send(Event::Progress { done: percent, total: 100 });
            }
        };
        let downloads = cache_dir().join("downloads");
        match crate::engine::dataset_get::get_flowers17(
            &source,
            &dir,
            &downloads,
            &crate::engine::dataset_get::expected_sha256(),
            &mut progress,
            cancel.flag(),
        ) {
            Ok(_) => {}
            Err(GetError::Cancelled) => {
                reporter.fail(JobError::Cancelled);
                return true;
            }
            Err(error) => {
                reporter.fail(JobError::GetDataset { message: error.to_string() });
                return true;
            }
        }
    }
    reporter.send(Event::Train(TrainingEvent::DatasetReady { dir }));
    true
}
