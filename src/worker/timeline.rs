//! The atlas timeline on the worker: a build (from a finished run, or following one while it
//! trains, a frame per new checkpoint), loading a timeline file and exporting the animation, each
//! on a thread of its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{CancelToken, Event, JobError, JobKind, Reporter};
use crate::engine::atlas::animation::{AnimationOptions, Captions, export_animation};
use crate::engine::atlas::source::LayerGeometry;
use crate::engine::atlas::timeline::{
    Timeline, TimelineBuilder, TimelineEvent, TimelineFrame, TimelineParams, default_timeline_layer, load_timeline, run_checkpoints,
    save_timeline,
};
use crate::engine::model::default_device;
use crate::engine::network::import::load_network;

/// How often a timeline that follows a run looks for a new checkpoint.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Debug)]
pub enum TimelineJob {
    /// A frame per epoch checkpoint of `run_dir` over the photos the run trained on (else those
    /// of `data_dir`), saved to `out` after every frame. With `follow`, it keeps adding frames
    /// while the run trains.
    Build {
        run_dir: PathBuf,
        data_dir: Option<PathBuf>,
        params: TimelineParams,
        out: PathBuf,
        follow: bool,
    },
    Load {
        path: PathBuf,
    },
    /// The animation (GIF or APNG by the extension), with `names` in the legend.
    Export {
        timeline: Arc<Timeline>,
        names: Vec<String>,
        options: AnimationOptions,
        path: PathBuf,
    },
}

impl TimelineJob {
    pub fn kind(&self) -> JobKind {
        match self {
            TimelineJob::Build { .. } => JobKind::BuildTimeline,
            TimelineJob::Load { .. } => JobKind::LoadTimeline,
            TimelineJob::Export { .. } => JobKind::ExportTimeline,
        }
    }
}

#[derive(Clone, Debug)]
pub enum TimelineJobEvent {
    /// Working on frame `frame` (0-based) of the checkpoints found so far, `epoch`'s.
    Working {
        frame: usize,
        frames: usize,
        epoch: u32,
    },
    /// The timeline so far (after each new frame, and when a file is loaded), and its file.
    Timeline {
        timeline: Arc<Timeline>,
        path: PathBuf,
    },
    /// A build that follows a run is waiting for the next checkpoint.
    Waiting,
    Exported {
        path: PathBuf,
        pictures: usize,
    },
}

/// Runs a timeline job on its own thread. `training_active` is true while a training run of this
/// window is going on.
pub(super) fn run(job: TimelineJob, reporter: &Reporter, cancel: &CancelToken, training_active: &AtomicBool) {
    let result = match job {
        TimelineJob::Build { run_dir, data_dir, params, out, follow } => {
            build(run_dir, data_dir, params, out, follow.then_some(training_active), reporter, cancel)
        }
        TimelineJob::Load { path } => match load_timeline(&path) {
            Ok(timeline) => {
                reporter.send(Event::Timeline(TimelineJobEvent::Timeline { timeline: Arc::new(timeline), path }));
                Ok(())
            }
            Err(error) => Err(JobError::Atlas { message: error.to_string() }),
        },
        TimelineJob::Export { timeline, names, options, path } => {
            // Without a CJK font the animation is still written, only without captions.
            let font = crate::resources::label_font();
            let captions = font.as_ref().map(|font| Captions { font, names: &names });
            match export_animation(&timeline, &path, &options, captions.as_ref()) {
                Ok(pictures) => {
                    reporter.send(Event::Timeline(TimelineJobEvent::Exported { path, pictures }));
                    Ok(())
                }
                Err(message) => Err(JobError::Write { path, message }),
            }
        }
    };
    if let Err(error) = result {
        reporter.fail(error);
    }
}

/// The folder a run trained on, as its first checkpoint records it, if it is still there.
fn run_data_dir(run_dir: &std::path::Path) -> Option<PathBuf> {
    let (_, first, _) = run_checkpoints(run_dir).into_iter().next()?;
    let meta = crate::engine::checkpoint::read_checkpoint_meta(&first).ok()?;
    meta.training?.data_dir.filter(|dir| dir.is_dir())
}

fn build(
    run_dir: PathBuf,
    data_dir: Option<PathBuf>,
    params: TimelineParams,
    out: PathBuf,
    follow: Option<&AtomicBool>,
    reporter: &Reporter,
    cancel: &CancelToken,
) -> Result<(), JobError> {
    // A run followed from its start may have no checkpoint yet to say its folder.
    while follow.is_some_and(|flag| flag.load(Ordering::Relaxed)) && run_checkpoints(&run_dir).is_empty() {
        if cancel.is_cancelled() {
            return Err(JobError::Cancelled);
        }
        reporter.send(Event::Timeline(TimelineJobEvent::Waiting));
        std::thread::sleep(FOLLOW_POLL);
    }
    let data_dir = run_data_dir(&run_dir).or(data_dir).ok_or(JobError::RunWithoutDataFolder)?;
    let side = crate::engine::atlas::timeline::run_input_size(&run_dir).unwrap_or(crate::engine::model::INPUT_SIZE);
    let Some(photos) = super::train::open_stored_dataset(&data_dir, side, reporter, cancel) else {
        // Already reported.
        return Ok(());
    };
    // Made with the first checkpoint, whose network decides the layer's grid.
    let mut builder: Option<TimelineBuilder> = None;
    let mut done_epochs: Vec<u32> = Vec::new();
    loop {
        if cancel.is_cancelled() {
            return Err(JobError::Cancelled);
        }
        // Read whether the run still trains before listing, so its last checkpoint is never missed.
        let still_training = follow.is_some_and(|flag| flag.load(Ordering::Relaxed));
        let checkpoints = run_checkpoints(&run_dir);
        let new: Vec<_> = checkpoints.iter().filter(|c| !done_epochs.contains(&c.0)).cloned().collect();
        if new.is_empty() {
            if still_training {
                reporter.send(Event::Timeline(TimelineJobEvent::Waiting));
                std::thread::sleep(FOLLOW_POLL);
                continue;
            }
            if done_epochs.is_empty() {
                return Err(JobError::Atlas { message: format!("{} holds no epoch checkpoints", run_dir.display()) });
            }
            return Ok(());
        }
        for (epoch, path, accuracy) in new {
            let frames = done_epochs.len() + 1;
            reporter.send(Event::Timeline(TimelineJobEvent::Working { frame: done_epochs.len(), frames, epoch }));
            let checkpoint =
                load_network(&path, default_device()).map_err(|e| JobError::Checkpoint { path: path.clone(), message: e.to_string() })?;
            if checkpoint.meta.class_names != photos.class_names {
                return Err(JobError::Atlas { message: format!("{}: its classes are not the data set's", path.display()) });
            }
            let net = checkpoint.net.as_ref();
            let builder = match &mut builder {
                Some(builder) => builder,
                None => {
                    // The layer asked for (the atlas form's) where this network has it as a grid.
                    let layer = match LayerGeometry::of(net, params.layer) {
                        Ok(_) => params.layer,
                        Err(_) => default_timeline_layer(net, checkpoint.meta.training.as_ref()),
                    };
                    let params = TimelineParams { layer, ..params.clone() };
                    builder.insert(TimelineBuilder::new(&photos, params, net).map_err(|e| JobError::Atlas { message: e.to_string() })?)
                }
            };
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let frame = TimelineFrame { epoch, checkpoint: name, validation_accuracy: accuracy, layout: Vec::new() };
            let mut on_event = |event: TimelineEvent| {
                if let TimelineEvent::Photos { done, total } = event {
                    reporter.send(Event::Progress { done, total });
                }
            };
            builder.add_frame(net, frame, &photos, &mut on_event, cancel.flag()).map_err(|e| match e {
                crate::engine::atlas::AtlasError::Cancelled => JobError::Cancelled,
                e => JobError::Atlas { message: e.to_string() },
            })?;
            done_epochs.push(epoch);
            let timeline = Arc::new(builder.timeline().clone());
            if let Some(dir) = out.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            // Saved after every frame: a build stopped half way keeps what it made.
            save_timeline(&timeline, &out).map_err(|e| JobError::Write { path: out.clone(), message: e.to_string() })?;
            reporter.send(Event::Timeline(TimelineJobEvent::Timeline { timeline, path: out.clone() }));
        }
    }
}
