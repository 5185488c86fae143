//! The mistakes slice on the worker: a model's wrong answers on a folder, on a thread of its own
//! with its own copy of the model (a pass over every photo takes seconds, and the maps more).

use std::path::PathBuf;

use super::{CancelToken, Event, JobError, JobKind, Picture, Reporter};
use crate::engine::data::Photos;
use crate::engine::mistakes::{MistakeParams, MistakesError, find_mistakes};
use crate::engine::model::default_device;
use crate::engine::render::overlay;

/// Opacity of the Grad-CAM heat over the photo.
const MAP_OPACITY: f32 = 0.55;

#[derive(Debug)]
pub enum MistakesJob {
    /// The model `weights`'s mistakes on the photos of `data_dir` it was validated on.
    Find { weights: PathBuf, data_dir: PathBuf },
}

impl MistakesJob {
    pub fn kind(&self) -> JobKind {
        JobKind::FindMistakes
    }
}

#[derive(Clone, Debug)]
pub enum MistakesEvent {
    Found(MistakesView),
}

/// The mistakes found, with their pictures, for the window.
#[derive(Clone, Debug)]
pub struct MistakesView {
    pub weights: PathBuf,
    pub data_dir: PathBuf,
    pub examined: usize,
    pub wrong: usize,
    /// Whether the photos examined are the validation split the model never trained on.
    pub held_out: bool,
    pub mistakes: Vec<MistakeView>,
}

#[derive(Clone, Debug)]
pub struct MistakeView {
    pub path: PathBuf,
    pub truth: usize,
    pub predicted: usize,
    pub confidence: f32,
    pub truth_probability: f32,
    pub picture: Picture,
    /// Grad-CAM over the photo: for the predicted class, for the true class.
    pub predicted_map: Picture,
    pub truth_map: Picture,
    pub near: Vec<NearView>,
}

#[derive(Clone, Debug)]
pub struct NearView {
    pub path: PathBuf,
    pub class: usize,
    pub similarity: f32,
    pub picture: Option<Picture>,
}

pub(super) fn run(job: MistakesJob, reporter: &Reporter, cancel: &CancelToken) -> bool {
    let MistakesJob::Find { weights, data_dir } = job;
    let model = match crate::engine::network::import::load_network(&weights, default_device()) {
        Ok(model) => model,
        Err(error) => {
            reporter.fail(JobError::Checkpoint { path: weights, message: error.to_string() });
            return true;
        }
    };
    let Some(dataset) = super::train::open_stored_dataset(&data_dir, model.net.spec().input_size, reporter, cancel) else {
        return true;
    };
    let params = MistakeParams::for_recipe(model.meta.training.as_ref());
    let mut progress = |done, total| reporter.send(Event::Progress { done, total });
    let report = match find_mistakes(model.net.as_ref(), &model.meta.class_names, &dataset, &params, &mut progress, cancel.flag()) {
        Ok(report) => report,
        Err(MistakesError::Cancelled) => {
            reporter.fail(JobError::Cancelled);
            return true;
        }
        Err(error) => {
            reporter.fail(JobError::Dataset { message: error.to_string() });
            return true;
        }
    };
    let neighbour_picture = |index: usize| {
        let images = dataset.read(index..index + 1).ok()?;
        Some(Picture::from_rgb(images.first()?))
    };
    let mistakes = report
        .mistakes
        .into_iter()
        .map(|m| MistakeView {
            predicted_map: Picture::from_rgb(&overlay(&m.picture, &m.predicted_map, MAP_OPACITY)),
            truth_map: Picture::from_rgb(&overlay(&m.picture, &m.truth_map, MAP_OPACITY)),
            picture: Picture::from_rgb(&m.picture),
            near: m
                .near
                .into_iter()
                .map(|n| NearView { picture: neighbour_picture(n.index), path: n.path, class: n.class, similarity: n.similarity })
                .collect(),
            path: m.path,
            truth: m.truth,
            predicted: m.predicted,
            confidence: m.confidence,
            truth_probability: m.truth_probability,
        })
        .collect();
    let view = MistakesView { weights, data_dir, examined: report.examined, wrong: report.wrong, held_out: report.held_out, mistakes };
    reporter.send(Event::Mistakes(MistakesEvent::Found(view)));
    true
}
