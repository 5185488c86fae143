//! The interactive worker: one thread that owns the model in use, the open picture and the
//! atlas, and answers short jobs in the order they come. Long jobs never run here.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use image::RgbImage;
use tch::Device;

use super::{CancelToken, Event, InteractiveMessage, Job, JobError, Reporter, panic_message};
use crate::engine::atlas::Atlas;
use crate::engine::model::default_device;
use crate::engine::network::import::LoadedNetwork;

/// What the interactive jobs share.
pub(super) struct Interactive {
    pub device: Device,
    pub model: Option<LoadedNetwork>,
    /// The open picture's network input (at the input size of the model in use when it was
    /// opened), kept so "classify" and "explain" need no second decode.
    pub opened: Option<(PathBuf, RgbImage)>,
    pub atlas: Option<Arc<Atlas>>,
}

/// Runs the worker until its channel closes. `in_use` is kept up to date with the file of the
/// model in use, so that a worker started again after this one died can load it back.
pub(super) fn run(messages: Receiver<InteractiveMessage>, in_use: Arc<Mutex<Option<PathBuf>>>) {
    let mut state = Interactive { device: default_device(), model: None, opened: None, atlas: None };
    while let Ok(message) = messages.recv() {
        match message {
            InteractiveMessage::Run { reporter, cancel, job } => {
                // A job cancelled while it waited in the queue is not started.
                if !cancel.is_cancelled() {
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| state.handle(*job, &reporter, &cancel)));
                    if let Err(panic) = result {
                        // The recovery reloads a model, which may panic too: then no model is in
                        // use rather than a dead worker.
                        let message = panic_message(&panic);
                        let recovered = std::panic::catch_unwind(AssertUnwindSafe(|| state.recover_after_panic(&reporter, message)));
                        if let Err(again) = recovered {
                            state.model = None;
                            reporter
                                .fail(JobError::Panicked { message: format!("reloading the model failed too: {}", panic_message(&again)) });
                        }
                    }
                }
                reporter.send(Event::Finished);
            }
            InteractiveMessage::AdoptAtlas { reporter, atlas, path } => {
                let adopted = std::panic::catch_unwind(AssertUnwindSafe(|| state.adopt_atlas(atlas, path, &reporter)));
                if let Err(panic) = adopted {
                    reporter.fail(JobError::Panicked { message: panic_message(&panic) });
                }
                reporter.send(Event::Finished);
            }
            InteractiveMessage::Die => panic!("the interactive worker was told to die (a test)"),
        }
        if let Ok(mut slot) = in_use.lock() {
            *slot = state.model.as_ref().map(|model| model.path.clone());
        }
    }
}

impl Interactive {
    fn handle(&mut self, job: Job, reporter: &Reporter, cancel: &CancelToken) {
        match job {
            Job::Model(job) => self.model_job(job, reporter),
            Job::Classify(job) => self.classify_job(job, reporter),
            Job::Explain(job) => self.explain_job(job, reporter, cancel),
            Job::Train(job) => self.train_job(job, reporter, cancel),
            Job::Atlas(job) => self.atlas_job(job, reporter, cancel),
            // `Job::lane` gives these threads of their own; none is ever queued here.
            Job::Timeline(_) => reporter.fail(JobError::Atlas { message: "a timeline job was sent to the interactive worker".into() }),
            Job::Mistakes(_) => reporter.fail(JobError::Dataset { message: "a mistakes job was sent to the interactive worker".into() }),
            Job::SimulateCrash => panic!("simulated crash in the interactive worker"),
        }
    }

    /// The model may be half-updated after a panic: reload it from its file.
    fn recover_after_panic(&mut self, reporter: &Reporter, message: String) {
        let reload = self.model.take().map(|model| model.path);
        reporter.fail(JobError::Panicked { message });
        if let Some(path) = reload {
            self.load_model(&path, reporter);
        }
    }

    /// The model in use, or the error a job reports without one.
    pub fn model(&self) -> Result<&LoadedNetwork, JobError> {
        self.model.as_ref().ok_or(JobError::NoModel)
    }

    /// Side of the model in use's input (the paper's 100 without a model).
    pub fn input_size(&self) -> i64 {
        self.model.as_ref().map_or(crate::engine::model::INPUT_SIZE, |model| model.net.spec().input_size)
    }

    /// The network input of `path` for the model in use: the open picture's when it is that
    /// file at that size, else decoded afresh.
    pub fn network_input(&self, path: &std::path::Path) -> Result<RgbImage, JobError> {
        let side = self.input_size();
        match &self.opened {
            Some((open, input)) if open == path && i64::from(input.width()) == side => Ok(input.clone()),
            _ => Ok(crate::engine::image_input::to_network_image_sized(&super::classify::decode(path)?, side)),
        }
    }
}
