//! The explain slice's engine entry point: one plain request in, one explanation out. The
//! window's worker and the CLI both call [`explain`], so each method's settings (SmoothGrad noise,
//! saliency quantile, occlusion scaling) live here once.

use std::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;

use super::classify::classify_images;
use super::explain::{
    FeatureMaps, LayerSummary, MapNormalisation, VisConfig, VisObjective, all_feature_maps, filter_montage, grad_cam, model_summary,
    occlusion, paper_feature_map, saliency, smooth_grad, visualize,
};
use super::model::{Layer, Net};
use super::render::Map2d;

/// Standard deviation of SmoothGrad's noise, in [0, 1] pixel units.
pub const SMOOTHGRAD_NOISE: f64 = 0.15;
/// SmoothGrad's noise is seeded so the same picture gives the same map.
pub const SMOOTHGRAD_SEED: u64 = 0;
/// Saliency maps are scaled by this quantile: a few extreme pixels would otherwise make the rest
/// black.
pub const SALIENCY_QUANTILE: f32 = 0.99;
/// Feature visualisation sends a preview picture every this many steps.
pub const VISUALIZE_PREVIEW_EVERY: usize = 8;

/// Which explanation to compute. `class: None` means the predicted class.
#[derive(Clone, Debug, PartialEq)]
pub enum ExplainRequest {
    Summary,
    FeatureMaps { layer: Layer, normalisation: MapNormalisation },
    PaperMap,
    Filters { layer: Layer },
    Saliency { class: Option<usize>, smooth_samples: usize },
    GradCam { layer: Layer, class: Option<usize> },
    Occlusion { class: Option<usize>, patch: usize, stride: usize },
    Visualize { objective: VisObjective, config: VisConfig },
}

impl ExplainRequest {
    /// Views of the model alone (summary, filters, feature visualisation) need no picture.
    pub fn needs_picture(&self) -> bool {
        !matches!(self, ExplainRequest::Summary | ExplainRequest::Filters { .. } | ExplainRequest::Visualize { .. })
    }
}

/// An explanation as data: no captions, no colours chosen for a screen.
#[derive(Clone, Debug, PartialEq)]
pub enum Explanation {
    Summary(Vec<LayerSummary>),
    /// Every channel of `layer` in one montage.
    FeatureMaps {
        layer: Layer,
        channels: usize,
        montage: RgbImage,
    },
    /// The paper's figure: the conv2 channel with the largest activation.
    PaperMap {
        channel: usize,
        map: Map2d,
    },
    Filters {
        layer: Layer,
        montage: RgbImage,
    },
    /// A map in [0, 1] at the input's resolution: how much each pixel matters for `class`.
    /// `layer` for Grad-CAM; `base_probability` for occlusion (the class's unoccluded probability).
    Heat {
        map: Map2d,
        class: usize,
        all_zero: bool,
        layer: Option<Layer>,
        base_probability: Option<f32>,
    },
    Visualization {
        picture: RgbImage,
    },
}

/// Why an explanation could not be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ExplainError {
    #[error("this view needs a picture; open one first")]
    NeedsPicture,
    #[error("{0} has nothing to show for this view")]
    NothingToShow(Layer),
    #[error("Grad-CAM needs a conv layer (conv1..conv4), not {0}")]
    NotConvLayer(Layer),
    #[error("class {class} does not exist (the model has {classes} classes)")]
    NoSuchClass { class: usize, classes: usize },
    #[error("cancelled")]
    Cancelled,
}

/// Progress of the slow methods.
pub enum ExplainProgress {
    /// Occlusion: patches done of total.
    Steps { done: usize, total: usize },
    /// Feature visualisation: the objective after `step`, with a picture every few steps.
    Visualize { step: usize, steps: usize, value: f32, preview: Option<RgbImage> },
}

/// Computes `request` for `image` (the 100 x 100 network input; None for views of the model
/// alone). `classes` is the model's number of classes.
pub fn explain(
    net: &Net,
    classes: usize,
    image: Option<&RgbImage>,
    request: &ExplainRequest,
    progress: &mut dyn FnMut(ExplainProgress),
    cancel: &AtomicBool,
) -> Result<Explanation, ExplainError> {
    let picture = || image.ok_or(ExplainError::NeedsPicture);
    let class_of = |class: Option<usize>, picture: &RgbImage| -> Result<usize, ExplainError> {
        match class {
            Some(class) if class >= classes => Err(ExplainError::NoSuchClass { class, classes }),
            Some(class) => Ok(class),
            None => Ok(classify_images(net, std::slice::from_ref(picture))[0].best().0),
        }
    };
    match request {
        ExplainRequest::Summary => Ok(Explanation::Summary(model_summary(classes))),
        ExplainRequest::FeatureMaps { layer, normalisation } => {
            let maps = all_feature_maps(net, picture()?);
            // "Global" normalisation compares every layer on one scale.
            let global = maps.iter().map(FeatureMaps::range).fold((f32::INFINITY, f32::NEG_INFINITY), |a, b| (a.0.min(b.0), a.1.max(b.1)));
            let maps = &maps[layer.index()];
            Ok(Explanation::FeatureMaps { layer: *layer, channels: maps.channels, montage: maps.montage(*normalisation, global) })
        }
        ExplainRequest::PaperMap => {
            let maps = all_feature_maps(net, picture()?);
            let (channel, map) = paper_feature_map(&maps[Layer::Conv2.index()]);
            Ok(Explanation::PaperMap { channel, map })
        }
        ExplainRequest::Filters { layer } => {
            let montage = filter_montage(net, *layer).ok_or(ExplainError::NothingToShow(*layer))?;
            Ok(Explanation::Filters { layer: *layer, montage })
        }
        ExplainRequest::Saliency { class, smooth_samples } => {
            let picture = picture()?;
            let class = class_of(*class, picture)?;
            let map = if *smooth_samples > 1 {
                smooth_grad(net, picture, class, *smooth_samples, SMOOTHGRAD_NOISE, SMOOTHGRAD_SEED)
            } else {
                saliency(net, picture, class)
            };
            let all_zero = map.max() <= 0.0;
            Ok(Explanation::Heat { map: map.scaled_to_quantile(SALIENCY_QUANTILE), class, all_zero, layer: None, base_probability: None })
        }
        ExplainRequest::GradCam { layer, class } => {
            if !layer.is_conv() {
                return Err(ExplainError::NotConvLayer(*layer));
            }
            let picture = picture()?;
            let class = class_of(*class, picture)?;
            let cam = grad_cam(net, picture, *layer, class);
            Ok(Explanation::Heat { map: cam.upsampled, class, all_zero: cam.all_zero, layer: Some(*layer), base_probability: None })
        }
        ExplainRequest::Occlusion { class, patch, stride } => {
            let picture = picture()?;
            let class = class_of(*class, picture)?;
            let mut report = |done, total| progress(ExplainProgress::Steps { done, total });
            let result = occlusion(net, picture, class, *patch, *stride, &mut report, cancel).ok_or(ExplainError::Cancelled)?;
            // Only drops in probability are evidence; scale by the largest drop.
            let largest = result.per_pixel.max().max(f32::EPSILON);
            let mut map = result.per_pixel.clone();
            map.values.iter_mut().for_each(|v| *v = (*v / largest).max(0.0));
            let all_zero = result.per_pixel.max() <= 0.0;
            Ok(Explanation::Heat { map, class, all_zero, layer: None, base_probability: Some(result.base_probability) })
        }
        ExplainRequest::Visualize { objective, config } => {
            let steps = config.steps;
            let mut on_step = |step, value, preview| {
                progress(ExplainProgress::Visualize { step, steps, value, preview });
                !cancel.load(Ordering::Relaxed)
            };
            let (picture, _) = visualize(net, *objective, config, VISUALIZE_PREVIEW_EVERY, &mut on_step);
            if cancel.load(Ordering::Relaxed) {
                return Err(ExplainError::Cancelled);
            }
            Ok(Explanation::Visualization { picture })
        }
    }
}
