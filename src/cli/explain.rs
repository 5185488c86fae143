//! `explain`, `explain-eval` and `visualize`: one photo's explanation, the methods' faithfulness
//! over a folder, and feature visualisation.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::classify::chosen_split;
use super::common::{
    BAR, ClassNamer, INTERRUPTED, LayerArg, NamesArgs, Output, PartlyDone, SplitArg, interrupted, load_dataset_reporting_at, parse_class,
    progress_bar, resolve_layer, save_png, usual_layer, weights_or_shipped,
};
use crate::engine::attribution::{AttributionMethod, AttributionSettings, IgBaseline};
use crate::engine::classify::classify_images;
use crate::engine::image_input::load_network_image_sized;
use crate::engine::model::{Layer, default_device};
use crate::engine::network::Network;
use crate::engine::network::import::load_network;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExplainMethod {
    /// Every channel of --layer as a grey tile (default layer conv2).
    Featuremaps,
    /// The paper's single map: conv2's channel with the largest maximum, normalised as the paper does.
    Papermap,
    /// The kernels of --layer (default the first grid layer, in colour; deeper layers in grey).
    Filters,
    /// Gradient of the class logit with respect to the pixels, over the picture.
    Saliency,
    /// Saliency averaged over --samples noisy copies (default 16 here).
    Smoothgrad,
    /// Integrated Gradients: --steps points from a --baseline (black, blurred or noise).
    IntegratedGradients,
    /// Guided Backprop: gradients passed back only through positive ReLUs.
    GuidedBackprop,
    /// Grad-CAM at --layer (default conv4), over the picture.
    Gradcam,
    /// Grad-CAM++ at --layer.
    #[value(name = "gradcam++")]
    GradcamPlusPlus,
    /// LayerCAM at --layer (sharp at conv1/conv2).
    Layercam,
    /// HiResCAM at --layer.
    Hirescam,
    /// Score-CAM at --layer: one masked forward pass per channel.
    Scorecam,
    /// Guided Backprop times Grad-CAM at --layer.
    GuidedGradcam,
    /// Drop in class probability when a grey patch covers each place, over the picture.
    Occlusion,
    /// A random map (a reference: any real method should beat it).
    Random,
    /// Sobel edges of the picture (a reference that ignores the network).
    Sobel,
}

impl ExplainMethod {
    /// The engine's attribution method, for the methods that are one.
    fn attribution(self) -> Option<AttributionMethod> {
        Some(match self {
            ExplainMethod::Featuremaps | ExplainMethod::Papermap | ExplainMethod::Filters => return None,
            ExplainMethod::Saliency => AttributionMethod::Saliency,
            ExplainMethod::Smoothgrad => AttributionMethod::SmoothGrad,
            ExplainMethod::IntegratedGradients => AttributionMethod::IntegratedGradients,
            ExplainMethod::GuidedBackprop => AttributionMethod::GuidedBackprop,
            ExplainMethod::Gradcam => AttributionMethod::GradCam,
            ExplainMethod::GradcamPlusPlus => AttributionMethod::GradCamPlusPlus,
            ExplainMethod::Layercam => AttributionMethod::LayerCam,
            ExplainMethod::Hirescam => AttributionMethod::HiResCam,
            ExplainMethod::Scorecam => AttributionMethod::ScoreCam,
            ExplainMethod::GuidedGradcam => AttributionMethod::GuidedGradCam,
            ExplainMethod::Occlusion => AttributionMethod::Occlusion,
            ExplainMethod::Random => AttributionMethod::Random,
            ExplainMethod::Sobel => AttributionMethod::Sobel,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BaselineArg {
    Black,
    Blurred,
    Noise,
}

impl From<BaselineArg> for IgBaseline {
    fn from(arg: BaselineArg) -> IgBaseline {
        match arg {
            BaselineArg::Black => IgBaseline::Black,
            BaselineArg::Blurred => IgBaseline::Blurred,
            BaselineArg::Noise => IgBaseline::Noise,
        }
    }
}

/// Settings of the attribution methods, shared by `explain` and `explain-eval`.
#[derive(Args, Clone, Debug)]
pub struct AttributionArgs {
    /// Layer of the class activation maps (one with a grid; default: the paper's conv4, another
    /// network's last grid layer); of feature maps (default conv2, or a middle grid layer) and
    /// filters too. `activation-atlas model layers` lists a network's layers.
    #[arg(long)]
    pub layer: Option<LayerArg>,
    /// SmoothGrad samples (`--method saliency` with more than 1 is SmoothGrad).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Integrated Gradients: points on the path from the baseline.
    #[arg(long, default_value_t = 64)]
    pub steps: usize,
    /// Integrated Gradients: the picture the path starts from.
    #[arg(long, value_enum, default_value = "black")]
    pub baseline: BaselineArg,
    /// Occlusion patch size in pixels.
    #[arg(long, default_value_t = 20)]
    pub patch: usize,
    /// Occlusion stride in pixels.
    #[arg(long, default_value_t = 5)]
    pub stride: usize,
}

impl AttributionArgs {
    /// The settings, with the class activation maps' layer resolved against `net`.
    fn settings(&self, net: &dyn Network) -> Result<AttributionSettings> {
        let defaults = AttributionSettings::default();
        let layer = resolve_layer(self.layer.as_ref(), |spec| usual_layer(spec, defaults.layer, false), net, true)?;
        Ok(AttributionSettings {
            layer,
            smooth_samples: self.samples.unwrap_or(defaults.smooth_samples).max(1),
            ig_steps: self.steps.max(1),
            ig_baseline: self.baseline.into(),
            occlusion_patch: self.patch,
            occlusion_stride: self.stride.max(1),
            ..defaults
        })
    }
}

#[derive(Args, Debug)]
pub struct ExplainEvalArgs {
    /// Labelled folder: one sub-folder per class.
    #[arg(long)]
    pub data: PathBuf,
    /// Model weights; defaults to the shipped flower model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Methods to score, comma-separated CLI names (as `explain --method`, plus `random` and
    /// `sobel`); default every attribution method.
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<String>,
    /// Score at most this many images, taken in turn from each class.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Which images of the folder.
    #[arg(long, value_enum, default_value = "all")]
    pub split: SplitArg,
    #[command(flatten)]
    pub attribution: AttributionArgs,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The image to explain.
    pub image: PathBuf,
    #[arg(long, value_enum)]
    pub method: ExplainMethod,
    /// Output PNG.
    #[arg(long, required_unless_present = "save_map")]
    pub out: Option<PathBuf>,
    /// The raw map as float32 .npy: CAM methods at the layer's resolution after ReLU, before
    /// upsampling or normalisation; gradient methods the [3, 100, 100] attribution.
    #[arg(long)]
    pub save_map: Option<PathBuf>,
    /// Print the map's faithfulness (deletion/insertion AUC, average drop) beside a random and a
    /// Sobel map.
    #[arg(long)]
    pub faithfulness: bool,
    /// Print the sanity check: how much the map changes as the weights are randomised.
    #[arg(long)]
    pub sanity: bool,
    /// Model weights; defaults to the shipped flower model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Class to explain (name or index); defaults to the predicted class.
    #[arg(long)]
    pub class: Option<String>,
    #[command(flatten)]
    pub attribution: AttributionArgs,
    /// Heat-map opacity over the picture (saliency, Grad-CAM, occlusion).
    #[arg(long, default_value_t = 0.6)]
    pub opacity: f32,
    /// Output size in pixels of the picture-shaped views.
    #[arg(long, default_value_t = 400)]
    pub size: u32,
    #[command(flatten)]
    pub names: NamesArgs,
}

#[derive(Args, Debug)]
pub struct VisualizeArgs {
    /// Layer of the channel (conv1..conv4, fc1, fc2).
    #[arg(long)]
    pub layer: Option<LayerArg>,
    /// Channel (or unit) of --layer to maximise.
    #[arg(long)]
    pub channel: Option<usize>,
    /// Class (name or index) whose logit to maximise; give two, comma-separated, for both at once.
    #[arg(long)]
    pub class: Option<String>,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Model weights; defaults to the shipped flower model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[arg(long, default_value_t = 256)]
    pub steps: usize,
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output size in pixels.
    #[arg(long, default_value_t = 400)]
    pub size: u32,
}

pub(super) fn explain(args: ExplainArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::explain::MapNormalisation;
    use crate::engine::explanation::{ExplainRequest, Explanation, explain};
    use crate::engine::render::{grey_image, overlay};
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = load_network(&weights, default_device())?;
    let net = checkpoint.net.as_ref();
    let classes = &checkpoint.meta.class_names;
    let namer = ClassNamer::new(&args.names, classes)?;
    // `--method saliency --samples N` was SmoothGrad before it had a name of its own.
    let method = match (args.method, args.attribution.samples) {
        (ExplainMethod::Saliency, Some(samples)) if samples > 1 => Some(AttributionMethod::SmoothGrad),
        (method, _) => method.attribution(),
    };
    let settings = if method.is_some_and(AttributionMethod::uses_layer) {
        args.attribution
            .settings(net)
            .with_context(|| format!("{} needs a layer with a grid", method.map_or("", AttributionMethod::display_name)))?
    } else {
        // The layer is not used: any valid default will do, whatever --layer says.
        AttributionArgs { layer: None, ..args.attribution.clone() }.settings(net)?
    };
    // The layer is checked before the picture is read: a wrong name is the likelier mistake.
    let picture = load_network_image_sized(&args.image, net.spec().input_size)?;
    let class = match &args.class {
        Some(given) => parse_class(given, classes)?,
        None => classify_images(net, std::slice::from_ref(&picture))[0].best().0,
    };
    if args.save_map.is_some() && method.is_none() {
        bail!("--save-map needs an attribution method (saliency, gradcam, …), not {:?}", args.method);
    }
    if (args.faithfulness || args.sanity) && method.is_none() {
        bail!("--faithfulness and --sanity need an attribution method (saliency, gradcam, …)");
    }
    let request = match (args.method, method) {
        (_, Some(method)) => ExplainRequest::Attribute { method, class: Some(class), settings, faithfulness: args.faithfulness },
        (ExplainMethod::Featuremaps, None) => ExplainRequest::FeatureMaps {
            layer: resolve_layer(args.attribution.layer.as_ref(), |spec| usual_layer(spec, Layer::CONV2, true), net, false)?,
            normalisation: MapNormalisation::PerChannel,
        },
        (ExplainMethod::Filters, None) => {
            // The first grid layer: the kernels that see the picture.
            let first = |spec: &crate::engine::network::NetworkSpec| {
                spec.spatial_layers().first().map_or(Layer::CONV1, |layer| Layer::named(&layer.name))
            };
            ExplainRequest::Filters { layer: resolve_layer(args.attribution.layer.as_ref(), first, net, true)? }
        }
        (_, None) => ExplainRequest::PaperMap,
    };
    let bar = progress_bar(BAR);
    bar.set_message("explaining");
    let mut on_progress = |step: crate::engine::explanation::ExplainProgress| {
        if let crate::engine::explanation::ExplainProgress::Steps { done, total } = step {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let explained = explain(net, classes.len(), Some(&picture), &request, &mut on_progress, &INTERRUPTED);
    bar.finish_and_clear();
    let explanation = explained?;
    let large = image::imageops::resize(&picture, args.size, args.size, image::imageops::FilterType::Triangle);
    let method_name =
        method.map_or_else(|| args.method.to_possible_value().map(|v| v.get_name().to_string()), |m| Some(m.cli_name().to_string()));
    let mut result =
        json!({"image": args.image.display().to_string(), "method": method_name, "class": classes[class], "class_index": class});
    let name = namer.name(class).to_string();
    let output = match explanation {
        Explanation::FeatureMaps { montage, .. } | Explanation::Filters { montage, .. } => montage,
        Explanation::PaperMap { channel, map } => {
            say!(out, "conv2 channel {channel} has the largest maximum");
            result["channel"] = json!(channel);
            grey_image(&map, (args.size / 25).max(1))
        }
        Explanation::Heat { method, map, raw, all_zero, layer, base_probability, faithfulness, .. } => {
            if all_zero {
                eprintln!("note: {} finds no positive evidence for '{name}'; the map is empty", method.display_name());
            }
            if let Some(probability) = base_probability {
                say!(out, "probability of '{name}' without occlusion: {probability:.3}");
            }
            result["layer"] = json!(layer.map(|l| l.name()));
            result["map_empty"] = json!(all_zero);
            result["probability_without_occlusion"] = json!(base_probability);
            if let Some(path) = &args.save_map {
                crate::engine::npy::write_npy(path, &raw.shape, &raw.values).with_context(|| format!("cannot write {}", path.display()))?;
                say!(out, "wrote {} (float32 {:?})", path.display(), raw.shape);
                result["map_file"] = json!(path.display().to_string());
                result["map_shape"] = json!(raw.shape);
            }
            if let Some(report) = faithfulness {
                if !out.json {
                    print_faithfulness(&report, &name);
                }
                result["faithfulness"] = serde_json::to_value(&report)?;
            }
            if args.sanity {
                let mut report = |_, _| {};
                let at = match layer {
                    Some(layer) => net.spec().resolve_layer(layer.name()).map_err(anyhow::Error::msg)?,
                    None => 0,
                };
                let sanity =
                    crate::engine::faithfulness::sanity_check_at(net, &picture, method, class, at, &settings, &mut report, &INTERRUPTED)
                        .map_err(|error| anyhow::anyhow!("{error}"))?;
                if !out.json {
                    print_sanity(&sanity);
                }
                result["sanity"] = serde_json::to_value(&sanity)?;
            }
            overlay(&large, &map, args.opacity)
        }
        Explanation::Summary(_) | Explanation::Visualization { .. } | Explanation::Sanity { .. } => bail!("this method has no picture"),
    };
    say!(out, "class: {name} ({class})");
    result["name"] = json!(name);
    if let Some(path) = &args.out {
        save_png(&output, path, out)?;
        result["out"] = json!(path.display().to_string());
    }
    Ok(result)
}

pub(super) fn print_faithfulness(report: &crate::engine::faithfulness::FaithfulnessReport, name: &str) {
    println!("faithfulness for '{name}' (probability {:.1}%):", report.probability * 100.0);
    println!("  {:<8} {:>13} {:>14} {:>13} {:>9}", "map", "deletion AUC↓", "insertion AUC↑", "average drop↓", "increase");
    for (label, f) in [("this", &report.map), ("random", &report.random), ("sobel", &report.sobel)] {
        println!(
            "  {:<8} {:>13.3} {:>14.3} {:>12.1}% {:>9}",
            label,
            f.deletion_auc,
            f.insertion_auc,
            f.average_drop * 100.0,
            if f.increased { "yes" } else { "no" }
        );
    }
    println!(
        "  removing the 10% most important pixels drops '{name}' from {:.0}% to {:.0}%; a random 10% drops it to {:.0}%",
        report.probability * 100.0,
        report.map.probability_after_deleting(0.1) * 100.0,
        report.random.probability_after_deleting(0.1) * 100.0
    );
}

pub(super) fn print_sanity(report: &crate::engine::faithfulness::SanityReport) {
    println!("sanity check (weights randomised from the last layer down, stage by stage):");
    println!("  {:<16} {:>9} {:>7}", "random down to", "Spearman", "SSIM");
    for stage in &report.stages {
        println!("  {:<16} {:>9.3} {:>7.3}", stage.randomised_down_to.name(), stage.spearman, stage.ssim);
    }
    if report.insensitive {
        println!("  warning: the map barely changes with random weights; it does not show what the network learned");
    }
}

pub(super) fn explain_eval(args: ExplainEvalArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::faithfulness::score_methods;
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = load_network(&weights, default_device())?;
    let net = checkpoint.net.as_ref();
    let settings = args.attribution.settings(net)?;
    let methods: Vec<AttributionMethod> = if args.methods.is_empty() {
        AttributionMethod::ALL.to_vec()
    } else {
        args.methods
            .iter()
            .map(|name| {
                AttributionMethod::from_cli_name(name.trim()).with_context(|| {
                    let known: Vec<&str> = AttributionMethod::ALL.iter().map(|m| m.cli_name()).collect();
                    format!("unknown method '{name}'; the methods: {}", known.join(", "))
                })
            })
            .collect::<Result<_>>()?
    };
    let dataset = load_dataset_reporting_at(&args.data, net.spec().input_size)?;
    let mut chosen = chosen_split(args.split, &checkpoint.meta, &weights, &dataset)?;
    // Taken in turn from each class, so a limit keeps every class.
    let classes = dataset.class_names.len();
    let mut by_class: Vec<std::collections::VecDeque<usize>> = vec![Default::default(); classes];
    chosen.sort_unstable();
    for index in chosen {
        by_class[dataset.labels[index]].push_back(index);
    }
    let limit = args.limit.unwrap_or(usize::MAX);
    let mut order = Vec::new();
    while order.len() < limit && by_class.iter().any(|queue| !queue.is_empty()) {
        for queue in &mut by_class {
            if order.len() < limit
                && let Some(index) = queue.pop_front()
            {
                order.push(index);
            }
        }
    }
    if order.is_empty() {
        bail!("{} has no images to score", args.data.display());
    }
    let images: Vec<image::RgbImage> = order.iter().map(|&i| dataset.images[i].clone()).collect();
    let bar = progress_bar(BAR);
    bar.set_message("scoring maps");
    bar.set_length(images.len() as u64);
    let mut on_progress = |done: usize, _total: usize| bar.set_position(done as u64);
    let scores = score_methods(net, &images, &methods, &settings, &mut on_progress, &INTERRUPTED);
    bar.finish_and_clear();
    let scored = scores.first().map_or(0, |s| s.images);
    if !out.json {
        println!(
            "{scored} images of {}, CAM layer {}, Integrated Gradients {} steps from {}",
            args.data.display(),
            settings.layer,
            settings.ig_steps,
            settings.ig_baseline.cli_name()
        );
        println!(
            "{:<22} {:>13} {:>14} {:>13} {:>14} {:>10}",
            "method", "deletion AUC↓", "insertion AUC↑", "average drop↓", "increase rate↑", "ms/image"
        );
        for score in &scores {
            println!(
                "{:<22} {:>13.4} {:>14.4} {:>12.2}% {:>13.2}% {:>10.1}",
                score.name,
                score.deletion_auc,
                score.insertion_auc,
                score.average_drop * 100.0,
                score.increase_rate * 100.0,
                score.ms_per_image
            );
        }
    }
    let result = json!({
        "data": args.data.display().to_string(),
        "weights": weights.display().to_string(),
        "images": scored,
        "layer": settings.layer.name(),
        "methods": scores,
    });
    if interrupted() {
        return Err(PartlyDone { result, message: format!("cancelled after {scored} of {} images", images.len()) }.into());
    }
    Ok(result)
}

pub(super) fn visualize_command(args: VisualizeArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::explain::{VisConfig, VisObjective, objective_of_picture, visualize};
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = load_network(&weights, default_device())?;
    let net = checkpoint.net.as_ref();
    let classes = &checkpoint.meta.class_names;
    let objective = match (&args.class, args.channel) {
        (Some(given), None) => {
            let parts: Vec<&str> = given.split(',').map(str::trim).collect();
            match parts.as_slice() {
                [one] => VisObjective::Class(parse_class(one, classes)?),
                [a, b] => VisObjective::TwoClasses(parse_class(a, classes)?, parse_class(b, classes)?),
                _ => bail!("--class takes one class or two separated by a comma"),
            }
        }
        (None, Some(channel)) => {
            let layer = resolve_layer(args.layer.as_ref(), |spec| usual_layer(spec, Layer::CONV2, true), net, false)?;
            let spec = net.spec();
            let channels = spec.layer_index(layer.name()).map_or(0, |index| spec.layers[index].channels()) as usize;
            if channel >= channels {
                bail!("{layer} has {channels} channels; --channel must be below that");
            }
            VisObjective::Channel { layer, channel }
        }
        _ => bail!("give either --channel (with --layer) or --class"),
    };
    let config = VisConfig { steps: args.steps, learning_rate: args.lr, seed: args.seed, ..VisConfig::default() };
    let (picture, history) = visualize(net, objective, &config, 0, &mut |_, _, _| true);
    let end = objective_of_picture(net, &picture, objective);
    let start = history.first().copied().unwrap_or(0.0);
    say!(out, "objective: {start:.4} at the first step, {end:.4} at the end");
    let large = image::imageops::resize(&picture, args.size, args.size, image::imageops::FilterType::Triangle);
    save_png(&large, &args.out, out)?;
    Ok(json!({"out": args.out.display().to_string(), "objective_first_step": start, "objective_end": end, "steps": config.steps}))
}
