//! The explain slice on the worker: runs the engine's [`explain`] on the open picture and turns
//! the result into pictures for display (no captions: the window writes those).

use std::path::PathBuf;

use image::imageops::FilterType;

use super::interactive::Interactive;
use super::{CancelToken, Event, JobError, Picture, Reporter};
use crate::engine::attribution::AttributionMethod;
use crate::engine::explain::LayerSummary;
use crate::engine::explanation::{ExplainError, ExplainProgress, ExplainRequest, Explanation, explain};
use crate::engine::faithfulness::{FaithfulnessReport, SanityReport};
use crate::engine::model::Layer;
use crate::engine::render::{grey_image, heat_layer};

/// Side of the heat maps and photos sent for display.
pub const EXPLAIN_VIEW_SIZE: u32 = 400;
/// The paper's feature map is 25 x 25; shown 16 times larger.
const PAPER_MAP_SCALE: u32 = 16;

#[derive(Debug)]
pub enum ExplainJob {
    /// Explain the open picture `path` (None: a view of the model alone).
    Run { path: Option<PathBuf>, request: ExplainRequest },
}

#[derive(Clone, Debug)]
pub enum ExplainEvent {
    /// Feature visualisation: the objective after `step`; a picture every few steps.
    VisualizeStep {
        step: usize,
        steps: usize,
        value: f32,
        preview: Option<Picture>,
    },
    Explained {
        request: ExplainRequest,
        view: ExplainView,
    },
}

/// What a picture shows, so the window can caption it in its language.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PictureKind {
    FeatureMaps { layer: Layer, channels: usize },
    PaperMap { channel: usize },
    Filters { layer: Layer },
    Visualization,
}

/// An explanation ready to show.
#[derive(Clone, Debug, PartialEq)]
pub enum ExplainView {
    Summary(Vec<LayerSummary>),
    Picture {
        picture: Picture,
        kind: PictureKind,
    },
    /// A heat layer (RGBA, alpha by strength) to lay over the picture as the network sees it.
    Heat {
        method: AttributionMethod,
        photo: Picture,
        heat: Picture,
        class: usize,
        all_zero: bool,
        layer: Option<Layer>,
        base_probability: Option<f32>,
        faithfulness: Option<Box<FaithfulnessReport>>,
    },
    /// How much a method's map changes as the weights are randomised.
    Sanity {
        class: usize,
        report: SanityReport,
    },
}

impl Interactive {
    pub(super) fn explain_job(&mut self, job: ExplainJob, reporter: &Reporter, cancel: &CancelToken) {
        let ExplainJob::Run { path, request } = job;
        match self.explain(path, &request, reporter, cancel) {
            Ok(view) => reporter.send(Event::Explain(ExplainEvent::Explained { request, view })),
            Err(error) => reporter.fail(error),
        }
    }

    fn explain(
        &self,
        path: Option<PathBuf>,
        request: &ExplainRequest,
        reporter: &Reporter,
        cancel: &CancelToken,
    ) -> Result<ExplainView, JobError> {
        let model = self.model()?;
        let side = model.net.spec().input_size as u32;
        // The open picture, at this model's input size (another model may have been in use when
        // it was opened).
        let resized;
        let image = match (&self.opened, path) {
            (Some((open, input)), Some(path)) if *open == path && input.width() == side => Some(input),
            (Some((open, _)), Some(path)) if *open == path => {
                resized = self.network_input(&path)?;
                Some(&resized)
            }
            _ => None,
        };
        let mut progress = |step: ExplainProgress| match step {
            ExplainProgress::Steps { done, total } => reporter.send(Event::Progress { done, total }),
            ExplainProgress::Visualize { step, steps, value, preview } => {
                reporter.send(Event::Progress { done: step, total: steps });
                let preview = preview.map(|p| Picture::from_rgb(&p));
                reporter.send(Event::Explain(ExplainEvent::VisualizeStep { step, steps, value, preview }));
            }
        };
        let classes = model.meta.class_names.len();
        let explanation =
            explain(model.net.as_ref(), classes, image, request, &mut progress, cancel.flag()).map_err(|error| match error {
                ExplainError::NeedsPicture => JobError::NoPicture,
                ExplainError::Cancelled => JobError::Cancelled,
                ExplainError::NothingToShow(_) | ExplainError::NotConvLayer(..) | ExplainError::NoSuchClass { .. } => {
                    JobError::NothingToShow
                }
                ExplainError::NotApplicable(message) => JobError::NotApplicable { message },
            })?;
        let size = EXPLAIN_VIEW_SIZE;
        Ok(match explanation {
            Explanation::Summary(rows) => ExplainView::Summary(rows),
            Explanation::FeatureMaps { layer, channels, montage } => {
                ExplainView::Picture { picture: Picture::from_rgb(&montage), kind: PictureKind::FeatureMaps { layer, channels } }
            }
            Explanation::PaperMap { channel, map } => ExplainView::Picture {
                picture: Picture::from_rgb(&grey_image(&map, PAPER_MAP_SCALE)),
                kind: PictureKind::PaperMap { channel },
            },
            Explanation::Filters { layer, montage } => {
                ExplainView::Picture { picture: Picture::from_rgb(&montage), kind: PictureKind::Filters { layer } }
            }
            Explanation::Visualization { picture } => {
                ExplainView::Picture { picture: Picture::from_rgb(&picture), kind: PictureKind::Visualization }
            }
            Explanation::Heat { method, map, class, all_zero, layer, base_probability, faithfulness, .. } => {
                let input = image.ok_or(JobError::NoPicture)?;
                let photo = Picture::from_rgb(&image::imageops::resize(input, size, size, FilterType::Triangle));
                let heat = Picture::from_rgba(heat_layer(&map, size));
                ExplainView::Heat { method, photo, heat, class, all_zero, layer, base_probability, faithfulness }
            }
            Explanation::Sanity { class, report } => ExplainView::Sanity { class, report },
        })
    }
}
