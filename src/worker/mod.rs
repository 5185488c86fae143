//! The job system: every piece of tensor work runs off the window's thread, as a job.
//!
//! - Interactive jobs (open, classify, explain, place, patches, export, load) run one after
//!   another on the *interactive worker*, a named thread that owns the model in use, the open
//!   picture and the atlas. They are short, so they answer at once.
//! - Long jobs (training, atlas builds) each get a thread of their own with their own model loaded
//!   from its weights, so they never hold up the interactive worker. At most one of each kind runs.
//!
//! Every job has a [`JobId`] and its own [`CancelToken`]: cancelling one never touches another.
//! Results come back as [`Envelope`]s (the job's id and an [`Event`]); each job ends with
//! [`Event::Finished`]. A panic in any job is caught and reported as [`JobError::Panicked`]; the
//! other threads go on. Errors are typed values; the window words them in its own language.

mod atlas;
mod classify;
mod explain;
mod interactive;
mod mistakes;
mod model;
mod timeline;
mod train;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;

use image::{RgbImage, RgbaImage};

pub use atlas::{AtlasBuild, AtlasBuildProgress, AtlasEvent, AtlasJob, PatchPicture, Selection};
pub use classify::{ClassifyEvent, ClassifyJob, PREVIEW_MAX_SIDE};
pub use explain::{EXPLAIN_VIEW_SIZE, ExplainEvent, ExplainJob, ExplainView, PictureKind};
pub use mistakes::{MistakeView, MistakesEvent, MistakesJob, MistakesView, NearView};
pub use model::{ModelEvent, ModelInfo, ModelJob};
pub use timeline::{TimelineJob, TimelineJobEvent};
pub use train::{DatasetOverview, THUMBNAILS_PER_CLASS, TrainJob, TrainRun, TrainingEvent};

pub use crate::engine::explanation::ExplainRequest;

/// Identifies one job from submission to [`Event::Finished`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

/// A job's own stop flag. Long computations check it between batches.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The flag as the engine's functions take it.
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}

/// What a job does, for the status bar and for the one-at-a-time rule of long jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    LoadModel,
    OpenImage,
    Classify,
    Explain,
    ScanDataset,
    /// A quick look into a folder: its classes and image count, or a picture per class.
    ScanFolder,
    ListCheckpoints,
    LoadAtlas,
    PlaceImages,
    CellPatches,
    ExportAtlas,
    Train,
    BuildAtlas,
    GetDataset,
    BuildTimeline,
    LoadTimeline,
    /// Pictures of photos for a grid (a confusion cell's).
    ReadPictures,
    ExportTimeline,
    /// A selection of photos written as CSV or JSON.
    SaveSelection,
    /// A selection's files copied into a folder.
    CopyPhotos,
    /// A model's wrong answers on a folder, with maps and neighbours.
    FindMistakes,
    SimulateCrash,
}

/// Where a job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// The interactive worker, which owns the model in use, the open picture and the atlas:
    /// short jobs, one after another.
    Interactive,
    /// A named thread of its own. `one_at_a_time`: a second job of the same kind is refused
    /// while one runs.
    Own { thread: &'static str, one_at_a_time: bool },
}

/// Work for the job system, one sub-enum per feature slice.
#[derive(Debug)]
pub enum Job {
    Model(ModelJob),
    Classify(ClassifyJob),
    Explain(ExplainJob),
    Train(TrainJob),
    Atlas(AtlasJob),
    Timeline(TimelineJob),
    Mistakes(MistakesJob),
    /// Panics on the interactive worker: tests use it to check that a crash is caught, reported
    /// and the model reloaded.
    #[doc(hidden)]
    SimulateCrash,
}

impl Job {
    /// Where this job runs: the one place that decides it.
    pub fn lane(&self) -> Lane {
        let own = |thread, one_at_a_time| Lane::Own { thread, one_at_a_time };
        match self {
            Job::Train(TrainJob::Run(_)) => own("training", true),
            Job::Train(TrainJob::GetFlowers17 { .. }) => own("data-get", true),
            Job::Atlas(AtlasJob::Build(_)) => own("atlas-build", true),
            Job::Atlas(AtlasJob::CopySelection { .. }) => own("copy-photos", true),
            Job::Mistakes(_) => own("mistakes", true),
            // Loading a timeline file may take a while but never conflicts with another.
            Job::Timeline(TimelineJob::Load { .. }) => own("timeline", false),
            Job::Timeline(_) => own("timeline", true),
            Job::Model(_) | Job::Classify(_) | Job::Explain(_) | Job::Train(_) | Job::Atlas(_) | Job::SimulateCrash => Lane::Interactive,
        }
    }

    pub fn kind(&self) -> JobKind {
        match self {
            Job::Model(job) => job.kind(),
            Job::Classify(job) => job.kind(),
            Job::Explain(_) => JobKind::Explain,
            Job::Train(job) => job.kind(),
            Job::Atlas(job) => job.kind(),
            Job::Timeline(job) => job.kind(),
            Job::Mistakes(job) => job.kind(),
            Job::SimulateCrash => JobKind::SimulateCrash,
        }
    }
}

/// An RGBA picture for display.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

impl Picture {
    pub fn from_rgb(image: &RgbImage) -> Picture {
        Picture::from_rgba(image::DynamicImage::ImageRgb8(image.clone()).to_rgba8())
    }

    pub fn from_rgba(image: RgbaImage) -> Picture {
        Picture { width: image.width() as usize, height: image.height() as usize, rgba: image.into_raw() }
    }

    /// The picture without its alpha; None if its size does not match its pixels.
    pub fn to_rgb(&self) -> Option<RgbImage> {
        let rgba = RgbaImage::from_raw(self.width as u32, self.height as u32, self.rgba.clone())?;
        Some(image::DynamicImage::ImageRgba8(rgba).to_rgb8())
    }
}

/// Why a job failed, as data; the window words it in its own language.
#[derive(Clone, Debug, PartialEq)]
pub enum JobError {
    /// The job needs a model and none is loaded.
    NoModel,
    /// The job needs the picture open in 分类 and there is none.
    NoPicture,
    /// The job needs an atlas and none is loaded.
    NoAtlas,
    /// An atlas file belongs to another model than the one in use.
    AtlasOfOtherModel { path: PathBuf, model_path: PathBuf },
    /// The atlas has no grid of this size.
    NoGrid(u16),
    /// The view has nothing to show for this layer (e.g. filters of a fully connected layer).
    NothingToShow,
    /// The job was cancelled before it produced a result.
    Cancelled,
    /// A picture could not be read: the engine's message names the file and the reason.
    Image { path: PathBuf, message: String },
    /// A checkpoint could not be loaded.
    Checkpoint { path: PathBuf, message: String },
    /// A data set could not be read.
    Dataset { message: String },
    /// A run's timeline needs its photos, and neither the run nor the window says which folder
    /// holds them (the shipped model's folder, for one, records none).
    RunWithoutDataFolder,
    /// The paper's data set could not be downloaded or unpacked.
    GetDataset { message: String },
    /// Training stopped with an error.
    Training { message: String },
    /// An atlas could not be built, read or written.
    Atlas { message: String },
    /// A file could not be written.
    Write { path: PathBuf, message: String },
    /// A second long job of a kind that is already running.
    AlreadyRunning(JobKind),
    /// The view or method cannot apply to the model in use (the engine's words say why).
    NotApplicable { message: String },
    /// The job panicked; its thread caught it (the interactive worker reloads its model).
    Panicked { message: String },
}

/// What a job reports, one sub-enum per feature slice, plus the events every job shares.
#[derive(Clone, Debug)]
pub enum Event {
    Model(ModelEvent),
    Classify(ClassifyEvent),
    Explain(ExplainEvent),
    Train(TrainingEvent),
    Atlas(AtlasEvent),
    Timeline(TimelineJobEvent),
    Mistakes(MistakesEvent),
    /// How far the job is (`done` of `total`), for the status bar.
    Progress {
        done: usize,
        total: usize,
    },
    Failed(JobError),
    /// The job is over; nothing more comes with its id.
    Finished,
}

/// An event and the job it belongs to.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub job: JobId,
    pub event: Event,
}

/// A job the window has submitted and not yet seen finish.
#[derive(Clone, Debug)]
pub struct RunningJob {
    pub id: JobId,
    pub kind: JobKind,
    /// Where it runs (the status bar lists jobs on threads of their own first).
    pub lane: Lane,
    /// The last reported progress (done, total).
    pub progress: Option<(usize, usize)>,
    /// When the first progress report came and what it said was done: the pace since then
    /// gives the time left (a job waiting its turn reports nothing, so the wait is not counted).
    first_report: Option<(std::time::Instant, usize)>,
    cancel: CancelToken,
}

impl RunningJob {
    /// Time left at the pace since the first progress report; None until there is a pace (a
    /// second's work and some steps done).
    pub fn time_left(&self) -> Option<std::time::Duration> {
        let ((done, total), (since, first_done)) = (self.progress?, self.first_report?);
        let elapsed = since.elapsed().as_secs_f64();
        let steps = done.checked_sub(first_done).filter(|&s| s > 0)?;
        (elapsed >= 1.0).then(|| std::time::Duration::from_secs_f64(elapsed * total.saturating_sub(done) as f64 / steps as f64))
    }
}

/// Sends a job's events and wakes the window after each.
#[derive(Clone)]
pub(crate) struct Reporter {
    job: JobId,
    events: Sender<Envelope>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Reporter {
    pub(crate) fn send(&self, event: Event) {
        // The window may have closed; then nobody needs the event.
        let _ = self.events.send(Envelope { job: self.job, event });
        (self.wake)();
    }

    pub(crate) fn fail(&self, error: JobError) {
        match &error {
            JobError::Cancelled => tracing::info!(job = ?self.job, "cancelled"),
            JobError::Panicked { .. } => tracing::error!(job = ?self.job, "{error:?}"),
            _ => tracing::warn!(job = ?self.job, "{error:?}"),
        }
        self.send(Event::Failed(error));
    }
}

/// What goes to the interactive worker.
pub(crate) enum InteractiveMessage {
    Run {
        reporter: Reporter,
        cancel: CancelToken,
        // Boxed: jobs vary a lot in size and the channel holds them by value.
        job: Box<Job>,
    },
    /// A finished atlas build hands its atlas over, so placing and patches use it; the build job
    /// finishes once the worker has it.
    AdoptAtlas { reporter: Reporter, atlas: Arc<crate::engine::atlas::Atlas>, path: PathBuf },
    /// Ends the worker with a panic outside its guards, as a bug would: tests check that the
    /// job system notices and starts it again.
    #[doc(hidden)]
    Die,
}

/// The window's handle on the job system. Dropping it cancels every job and joins the threads.
pub struct Jobs {
    interactive: Option<Sender<InteractiveMessage>>,
    interactive_thread: Option<JoinHandle<()>>,
    /// The file of the model the interactive worker has in use (it keeps this up to date).
    model_in_use: Arc<std::sync::Mutex<Option<PathBuf>>>,
    events_sender: Sender<Envelope>,
    events: Receiver<Envelope>,
    wake: Arc<dyn Fn() + Send + Sync>,
    next_id: u64,
    running: Vec<RunningJob>,
    threads: Vec<JoinHandle<()>>,
    /// True while a training run of this window goes on: a timeline that follows a run waits
    /// for new checkpoints until it goes false.
    training_active: Arc<std::sync::atomic::AtomicBool>,
}

impl Jobs {
    /// Starts the interactive worker. `wake` is called after every event (the app passes
    /// `ctx.request_repaint`).
    pub fn spawn(wake: impl Fn() + Send + Sync + 'static) -> Jobs {
        let (events_sender, events) = mpsc::channel();
        let model_in_use = Arc::new(std::sync::Mutex::new(None));
        let (interactive, thread) = start_interactive(model_in_use.clone());
        Jobs {
            interactive: Some(interactive),
            interactive_thread: Some(thread),
            model_in_use,
            events_sender,
            events,
            wake: Arc::new(wake),
            next_id: 1,
            running: Vec::new(),
            threads: Vec::new(),
            training_active: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// If the interactive worker has died (a panic outside its guards), its queued and running
    /// jobs are reported failed and finished, a new worker is started, and the model that was in
    /// use is loaded on it again. Called on every submit and every poll.
    fn restart_interactive_if_dead(&mut self) {
        if !self.interactive_thread.as_ref().is_some_and(|t| t.is_finished()) || self.interactive.is_none() {
            return;
        }
        let reason = match self.interactive_thread.take().map(JoinHandle::join) {
            Some(Err(panic)) => panic_message(&panic),
            _ => "it stopped".to_string(),
        };
        tracing::error!("the interactive worker died ({reason}); starting it again");
        for job in self.running.iter().filter(|j| j.lane == Lane::Interactive) {
            let reporter = Reporter { job: job.id, events: self.events_sender.clone(), wake: self.wake.clone() };
            reporter.fail(JobError::Panicked { message: format!("the worker running it stopped ({reason}) and was started again") });
            reporter.send(Event::Finished);
        }
        let (interactive, thread) = start_interactive(self.model_in_use.clone());
        self.interactive = Some(interactive);
        self.interactive_thread = Some(thread);
        let reload = self.model_in_use.lock().ok().and_then(|slot| slot.clone());
        if let Some(path) = reload {
            let _ = self.submit(Job::Model(ModelJob::Load { path }));
        }
    }

    /// Ends the interactive worker as a bug would (a test of the restart).
    #[doc(hidden)]
    pub fn simulate_worker_death(&mut self) {
        if let Some(interactive) = &self.interactive {
            let _ = interactive.send(InteractiveMessage::Die);
        }
    }

    /// Starts `job`: interactive jobs queue on the interactive worker, long jobs get a thread.
    /// A second training run or atlas build while one runs is refused.
    pub fn submit(&mut self, job: Job) -> Result<JobId, JobError> {
        self.restart_interactive_if_dead();
        let kind = job.kind();
        let lane = job.lane();
        if let Lane::Own { one_at_a_time: true, .. } = lane
            && self.is_running(kind)
        {
            return Err(JobError::AlreadyRunning(kind));
        }
        // Only None while the handle is being dropped.
        let Some(interactive) = self.interactive.clone() else { return Err(JobError::Cancelled) };
        let id = JobId(self.next_id);
        self.next_id += 1;
        let cancel = CancelToken::default();
        let reporter = Reporter { job: id, events: self.events_sender.clone(), wake: self.wake.clone() };
        self.running.push(RunningJob { id, kind, lane, progress: None, first_report: None, cancel: cancel.clone() });
        match lane {
            Lane::Interactive => {
                let _ = interactive.send(InteractiveMessage::Run { reporter, cancel, job: Box::new(job) });
            }
            Lane::Own { thread, .. } => {
                if matches!(job, Job::Train(TrainJob::Run(_))) {
                    self.training_active.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                let training_active = self.training_active.clone();
                let on_thread = reporter.clone();
                self.spawn_long(thread, reporter, move || run_on_own_thread(job, &on_thread, &cancel, &interactive, &training_active));
            }
        }
        Ok(id)
    }

    /// A named thread for a long job. `work` returns true when the job ended on this thread
    /// (false: it was handed to the interactive worker, which finishes it). A panic is caught
    /// and reported, and the job finishes.
    fn spawn_long(&mut self, name: &str, reporter: Reporter, work: impl FnOnce() -> bool + Send + 'static) {
        let on_thread = reporter.clone();
        let spawned = std::thread::Builder::new().name(name.to_string()).spawn(move || {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
                Ok(true) => on_thread.send(Event::Finished),
                Ok(false) => {}
                Err(panic) => {
                    on_thread.fail(JobError::Panicked { message: panic_message(&panic) });
                    on_thread.send(Event::Finished);
                }
            }
        });
        match spawned {
            Ok(thread) => {
                self.threads.retain(|t| !t.is_finished());
                self.threads.push(thread);
            }
            Err(error) => {
                reporter.fail(JobError::Panicked { message: error.to_string() });
                reporter.send(Event::Finished);
            }
        }
    }

    /// Asks one job to stop; no other job is touched.
    pub fn cancel(&self, id: JobId) {
        if let Some(job) = self.running.iter().find(|j| j.id == id) {
            job.cancel.cancel();
        }
    }

    /// Jobs submitted and not yet finished, oldest first.
    pub fn running(&self) -> &[RunningJob] {
        &self.running
    }

    pub fn is_running(&self, kind: JobKind) -> bool {
        self.running.iter().any(|j| j.kind == kind)
    }

    /// What an interactive job waits for: the interactive worker runs its jobs one after
    /// another, so one with an older interactive job still running has not started yet.
    pub fn waiting_behind(&self, id: JobId) -> Option<JobKind> {
        let job = self.running.iter().find(|j| j.id == id && j.lane == Lane::Interactive)?;
        self.running.iter().find(|j| j.lane == Lane::Interactive && j.id < job.id).map(|j| j.kind)
    }

    pub fn kind_of(&self, id: JobId) -> Option<JobKind> {
        self.running.iter().find(|j| j.id == id).map(|j| j.kind)
    }

    /// The next event, if any; keeps the list of running jobs up to date.
    pub fn try_recv(&mut self) -> Option<Envelope> {
        self.restart_interactive_if_dead();
        let envelope = match self.events.try_recv() {
            Ok(envelope) => envelope,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => return None,
        };
        match envelope.event {
            Event::Progress { done, total } => {
                if let Some(job) = self.running.iter_mut().find(|j| j.id == envelope.job) {
                    job.progress = Some((done, total));
                    job.first_report.get_or_insert((std::time::Instant::now(), done));
                }
            }
            Event::Finished => {
                if self.kind_of(envelope.job) == Some(JobKind::Train) {
                    self.training_active.store(false, std::sync::atomic::Ordering::Relaxed);
                }
                self.running.retain(|j| j.id != envelope.job)
            }
            _ => {}
        }
        Some(envelope)
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for job in &self.running {
            job.cancel.cancel();
        }
        self.interactive = None; // closes the channel: the worker ends after its current job
        for thread in self.threads.drain(..).chain(self.interactive_thread.take()) {
            let _ = thread.join();
        }
    }
}

/// A new interactive worker thread and the channel to it.
fn start_interactive(model_in_use: Arc<std::sync::Mutex<Option<PathBuf>>>) -> (Sender<InteractiveMessage>, JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("interactive-worker".to_string())
        .spawn(move || interactive::run(receiver, model_in_use))
        .expect("the OS can start a thread");
    (sender, thread)
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs a job whose lane is a thread of its own, on that thread. Returns true when the job ended
/// there (false: it was handed to the interactive worker, which finishes it).
fn run_on_own_thread(
    job: Job,
    reporter: &Reporter,
    cancel: &CancelToken,
    interactive: &Sender<InteractiveMessage>,
    training_active: &std::sync::atomic::AtomicBool,
) -> bool {
    match job {
        Job::Train(TrainJob::Run(run)) => train::run_training(*run, reporter, cancel),
        Job::Train(TrainJob::GetFlowers17 { dir, from }) => train::get_flowers17(dir, from, reporter, cancel),
        Job::Atlas(AtlasJob::Build(build)) => atlas::run_build(build, reporter, cancel, interactive),
        Job::Atlas(AtlasJob::CopySelection { selection, dest }) => atlas::run_copy_selection(selection, dest, reporter, cancel),
        Job::Mistakes(job) => mistakes::run(job, reporter, cancel),
        Job::Timeline(job) => {
            timeline::run(job, reporter, cancel, training_active);
            true
        }
        // Nothing else is given a thread of its own by `Job::lane`; were it, the interactive
        // worker would still do it.
        job => {
            let _ = interactive.send(InteractiveMessage::Run { reporter: reporter.clone(), cancel: cancel.clone(), job: Box::new(job) });
            false
        }
    }
}
