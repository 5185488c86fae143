//! What the shell asks of every panel. The shell hands each panel every job event, failure and
//! finish and every change of model through this trait, so a panel added later cannot be left out
//! of one; each method is required, so a new panel says what it does with each.

use eframe::egui;

use super::context::AppContext;
use crate::worker::{Event, JobError, JobId, ModelInfo};

pub trait Panel {
    /// A job's event. A panel takes the events of its own slice (and of its own jobs) and gives
    /// every other event back, for the next panel.
    fn on_event(&mut self, ctx: &egui::Context, job: JobId, event: Event, cx: &mut AppContext) -> Option<Event>;
    /// A job failed; the message area words the error, the panel forgets the job.
    fn job_failed(&mut self, job: JobId, error: &JobError);
    /// A job ended (after its last event, and after a failure too).
    fn job_finished(&mut self, job: JobId);
    /// Another model is in use: results of the previous one are put away.
    fn model_changed(&mut self, info: &ModelInfo);
    /// The panel's page, when its tab is open.
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext);
}
