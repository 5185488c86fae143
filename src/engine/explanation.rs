//! The explain slice's engine entry point: one plain request in, one explanation out. The
//! window's worker and the CLI both call [`explain`]; the attribution methods and their settings
//! live in [`super::attribution`], their faithfulness in [`super::faithfulness`].

use std::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;

use super::attribution::{AttributionError, AttributionMethod, AttributionSettings, RawMap, attribute_at};
use super::classify::classify_images;
use super::explain::{
    FeatureMaps, LayerSummary, MapNormalisation, VisConfig, VisObjective, all_feature_maps, feature_maps_at, filter_montage,
    kernel_montage, model_summary, network_summary, paper_feature_map, stage_kernels, visualize,
};
use super::faithfulness::{FaithfulnessReport, SanityReport, faithfulness_report, sanity_check, sanity_check_at};
use super::model::{Layer, Net, paper_net};
use super::network::Network;
use super::render::Map2d;
/// Feature visualisation sends a preview picture every this many steps.
pub const VISUALIZE_PREVIEW_EVERY: usize = 8;

/// Which explanation to compute. `class: None` means the predicted class.
#[derive(Clone, Debug, PartialEq)]
pub enum ExplainRequest {
    Summary,
    FeatureMaps {
        layer: Layer,
        normalisation: MapNormalisation,
    },
    PaperMap,
    Filters {
        layer: Layer,
    },
    /// An attribution map; with `faithfulness`, its deletion/insertion numbers beside a random
    /// and a Sobel map.
    Attribute {
        method: AttributionMethod,
        class: Option<usize>,
        settings: AttributionSettings,
        faithfulness: bool,
    },
    /// Cascading randomisation of the weights and how much `method`'s map changes.
    SanityCheck {
        method: AttributionMethod,
        class: Option<usize>,
        settings: AttributionSettings,
    },
    Visualize {
        objective: VisObjective,
        config: VisConfig,
    },
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
    /// `layer` for class activation maps; `base_probability` for occlusion (the class's
    /// unoccluded probability); `raw` as the method defines it.
    Heat {
        method: AttributionMethod,
        map: Map2d,
        raw: RawMap,
        class: usize,
        all_zero: bool,
        layer: Option<Layer>,
        base_probability: Option<f32>,
        faithfulness: Option<Box<FaithfulnessReport>>,
    },
    Sanity {
        class: usize,
        report: SanityReport,
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
    #[error("{method} needs a conv layer (conv1..conv4), not {layer}", method = .0.display_name(), layer = .1)]
    NotConvLayer(AttributionMethod, Layer),
    #[error("class {class} does not exist (the model has {classes} classes)")]
    NoSuchClass { class: usize, classes: usize },
    /// A method that cannot apply to this network or layer, and why.
    #[error("{0}")]
    NotApplicable(String),
    #[error("cancelled")]
    Cancelled,
}

impl From<AttributionError> for ExplainError {
    fn from(error: AttributionError) -> Self {
        match error {
            AttributionError::NotConvLayer(method, layer) => ExplainError::NotConvLayer(method, layer),
            AttributionError::Cancelled => ExplainError::Cancelled,
            other @ (AttributionError::NotSpatial(..) | AttributionError::NotForThisNetwork(_)) => {
                ExplainError::NotApplicable(other.to_string())
            }
        }
    }
}

/// Progress of the slow methods.
pub enum ExplainProgress {
    /// Occlusion, Score-CAM, Integrated Gradients, SmoothGrad, the sanity check: steps done.
    Steps { done: usize, total: usize },
    /// Feature visualisation: the objective after `step`, with a picture every few steps.
    Visualize { step: usize, steps: usize, value: f32, preview: Option<RgbImage> },
}

/// Computes `request` for `image` (the network's input; None for views of the model alone).
/// `classes` is the model's number of classes. The paper's network has every view; another
/// network has those that need no hand-carried form ([`explain_general`]).
pub fn explain(
    net: &dyn Network,
    classes: usize,
    image: Option<&RgbImage>,
    request: &ExplainRequest,
    progress: &mut dyn FnMut(ExplainProgress),
    cancel: &AtomicBool,
) -> Result<Explanation, ExplainError> {
    match paper_net(net) {
        Some(paper) => explain_paper(paper, classes, image, request, progress, cancel),
        None => explain_general(net, classes, image, request, progress, cancel),
    }
}

/// The views of any network: its layers, feature maps of any layer, and every attribution
/// method with a general form at any spatial layer.
fn explain_general(
    net: &dyn Network,
    classes: usize,
    image: Option<&RgbImage>,
    request: &ExplainRequest,
    progress: &mut dyn FnMut(ExplainProgress),
    cancel: &AtomicBool,
) -> Result<Explanation, ExplainError> {
    let picture = || image.ok_or(ExplainError::NeedsPicture);
    let spec = net.spec();
    let layer_of = |layer: Layer| spec.resolve_layer(layer.name()).map_err(ExplainError::NotApplicable);
    let not_here = |what: &str| {
        Err(ExplainError::NotApplicable(format!(
            "{what} is shown for the paper's network only; {} has no such view yet",
            spec.architecture.display_name()
        )))
    };
    match request {
        ExplainRequest::Summary => Ok(Explanation::Summary(network_summary(net))),
        ExplainRequest::FeatureMaps { layer, normalisation } => {
            let maps = feature_maps_at(net, picture()?, *layer, layer_of(*layer)?);
            let range = maps.range();
            Ok(Explanation::FeatureMaps { layer: *layer, channels: maps.channels, montage: maps.montage(*normalisation, range) })
        }
        ExplainRequest::PaperMap => not_here("The paper's feature-map figure"),
        ExplainRequest::Filters { layer } => {
            let kernels = stage_kernels(net, layer_of(*layer)?)
                .ok_or_else(|| ExplainError::NotApplicable(format!("{layer} has no kernels wider than 1 × 1 to show")))?;
            Ok(Explanation::Filters { layer: *layer, montage: kernel_montage(&kernels) })
        }
        ExplainRequest::SanityCheck { method, class, settings } => {
            let picture = picture()?;
            let layer = if method.uses_layer() { layer_of(settings.layer)? } else { 0 };
            let class = match class {
                Some(class) if *class >= classes => return Err(ExplainError::NoSuchClass { class: *class, classes }),
                Some(class) => *class,
                None => classify_images(net, std::slice::from_ref(picture))[0].best().0,
            };
            let mut report = |done, total| progress(ExplainProgress::Steps { done, total });
            let report = sanity_check_at(net, picture, *method, class, layer, settings, &mut report, cancel).map_err(ExplainError::from)?;
            Ok(Explanation::Sanity { class, report })
        }
        ExplainRequest::Visualize { objective, config } => {
            if let VisObjective::Channel { layer, channel } = objective {
                let shape = &spec.layers[layer_of(*layer)?].shape;
                if *channel as i64 >= shape[0] {
                    return Err(ExplainError::NotApplicable(format!("{layer} has {} channels", shape[0])));
                }
            }
            visualisation(net, objective, config, progress, cancel)
        }
        ExplainRequest::Attribute { method, class, settings, faithfulness } => {
            let layer = if method.uses_layer() { layer_of(settings.layer)? } else { 0 };
            let request = HeatRequest { method: *method, class: *class, layer, settings, faithfulness: *faithfulness };
            heat_map(net, classes, picture()?, &request, progress, cancel)
        }
    }
}

fn explain_paper(
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
            let (channel, map) = paper_feature_map(&maps[Layer::CONV2.index()]);
            Ok(Explanation::PaperMap { channel, map })
        }
        ExplainRequest::Filters { layer } => {
            let montage = filter_montage(net, *layer).ok_or(ExplainError::NothingToShow(*layer))?;
            Ok(Explanation::Filters { layer: *layer, montage })
        }
        ExplainRequest::Attribute { method, class, settings, faithfulness } => {
            if method.uses_layer() && !settings.layer.is_conv() {
                return Err(ExplainError::NotConvLayer(*method, settings.layer));
            }
            let request =
                HeatRequest { method: *method, class: *class, layer: settings.layer.index(), settings, faithfulness: *faithfulness };
            heat_map(net, classes, picture()?, &request, progress, cancel)
        }
        ExplainRequest::SanityCheck { method, class, settings } => {
            let picture = picture()?;
            let class = class_of(*class, picture)?;
            let mut report = |done, total| progress(ExplainProgress::Steps { done, total });
            let report = sanity_check(net, picture, *method, class, settings, &mut report, cancel).map_err(ExplainError::from)?;
            Ok(Explanation::Sanity { class, report })
        }
        ExplainRequest::Visualize { objective, config } => visualisation(net, objective, config, progress, cancel),
    }
}

/// Feature visualisation of `objective` on any network, its steps reported as they go.
fn visualisation(
    net: &dyn Network,
    objective: &VisObjective,
    config: &VisConfig,
    progress: &mut dyn FnMut(ExplainProgress),
    cancel: &AtomicBool,
) -> Result<Explanation, ExplainError> {
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

/// An attribution request with its layer resolved to an index of the network's spec.
struct HeatRequest<'a> {
    method: AttributionMethod,
    class: Option<usize>,
    layer: usize,
    settings: &'a AttributionSettings,
    faithfulness: bool,
}

/// A heat map of any network (with its faithfulness when asked), the same for every architecture.
fn heat_map(
    net: &dyn Network,
    classes: usize,
    picture: &RgbImage,
    request: &HeatRequest,
    progress: &mut dyn FnMut(ExplainProgress),
    cancel: &AtomicBool,
) -> Result<Explanation, ExplainError> {
    let HeatRequest { method, settings, .. } = *request;
    let class = match request.class {
        Some(class) if class >= classes => return Err(ExplainError::NoSuchClass { class, classes }),
        Some(class) => class,
        None => classify_images(net, std::slice::from_ref(picture))[0].best().0,
    };
    let mut report = |done, total| progress(ExplainProgress::Steps { done, total });
    let attribution =
        attribute_at(net, picture, method, class, request.layer, settings, &mut report, cancel).map_err(ExplainError::from)?;
    let faithfulness = request.faithfulness.then(|| Box::new(faithfulness_report(net, picture, class, &attribution.heat, settings)));
    let base_probability =
        (method == AttributionMethod::Occlusion).then(|| classify_images(net, std::slice::from_ref(picture))[0].probabilities[class]);
    Ok(Explanation::Heat {
        method,
        layer: method.uses_layer().then_some(settings.layer),
        map: attribution.heat,
        raw: attribution.raw,
        class,
        all_zero: attribution.all_zero,
        base_probability,
        faithfulness,
    })
}
