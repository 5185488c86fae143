//! `classify`, `evaluate` and `mistakes`: the model's answers on photos and labelled folders.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;

use super::common::{
    BAR, ClassNamer, INTERRUPTED, NamesArgs, Output, PartlyDone, SplitArg, load_dataset_reporting_at, open_dataset_reporting, progress_bar,
    weights_or_shipped,
};
use crate::engine::classify::classify_images_with;
use crate::engine::data::Dataset;
use crate::engine::eval::EvalReport;
use crate::engine::image_input::{images_to_tensor, load_network_image_sized};
use crate::engine::model::default_device;
use crate::engine::network::import::load_network;

#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// Model weights (.safetensors with its .json sidecar); defaults to the shipped flower model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// How many classes to print per image.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    #[command(flatten)]
    pub views: ViewsArgs,
    /// Image files (JPEG, PNG, BMP, GIF, WebP, TIFF, ...).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub names: NamesArgs,
}

#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Model weights; defaults to the shipped flower model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Labelled folder: one sub-folder per class, named as the model's classes.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub names: NamesArgs,
    #[command(flatten)]
    pub views: ViewsArgs,
    /// Which images of the folder: `validation` scores only the photos the model's run held out
    /// (its validation split, or its cross-validation fold).
    #[arg(long, value_enum, default_value = "all")]
    pub split: SplitArg,
}

#[derive(Args, Debug)]
pub struct MistakesArgs {
    /// Model weights; defaults to the shipped flower model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Labelled folder the model was trained on: one sub-folder per class.
    #[arg(long)]
    pub data: PathBuf,
    /// Mistakes listed at most, the surest first (all are counted).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Nearest training photos listed per mistake.
    #[arg(long, default_value_t = 3)]
    pub neighbours: usize,
    #[command(flatten)]
    pub names: NamesArgs,
}

pub(super) fn classify(args: ClassifyArgs, out: Output) -> Result<serde_json::Value> {
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = load_network(&weights, default_device())?;
    let classes = &checkpoint.meta.class_names;
    let namer = ClassNamer::new(&args.names, classes)?;
    let side = checkpoint.net.spec().input_size;
    let mut results = Vec::new();
    let mut failures = 0;
    for path in &args.images {
        match load_network_image_sized(path, side) {
            Ok(image) => {
                let prediction = classify_images_with(checkpoint.net.as_ref(), &[image], args.views.tta.into()).remove(0);
                let top = prediction.top_k(args.top);
                if !out.json {
                    println!("{}", path.display());
                    for (class, probability) in &top {
                        println!("  {:>6.2}%  {}", probability * 100.0, namer.name(*class));
                    }
                }
                results.push(json!({
                    "image": path.display().to_string(),
                    "top": top.iter().map(|(c, p)| json!({"class": classes[*c], "name": namer.name(*c), "index": c, "probability": p})).collect::<Vec<_>>(),
                }));
            }
            Err(error) => {
                failures += 1;
                if !out.json {
                    eprintln!("error: {error}");
                }
                results.push(json!({"image": path.display().to_string(), "error": error.to_string()}));
            }
        }
    }
    let result = json!({"weights": weights.display().to_string(), "results": results});
    if failures > 0 {
        let message = format!("{failures} of {} images could not be read", args.images.len());
        return Err(PartlyDone { result, message }.into());
    }
    Ok(result)
}

pub(super) fn evaluate(args: EvaluateArgs, out: Output) -> Result<serde_json::Value> {
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = crate::engine::network::import::load_network(&weights, default_device())?;
    let side = checkpoint.net.spec().input_size;
    let dataset = load_dataset_reporting_at(&args.data, side)?;
    let chosen = chosen_split(args.split, &checkpoint.meta, &weights, &dataset)?;
    // Map the folder's classes onto the model's by name, so folder order does not matter.
    let model_classes = &checkpoint.meta.class_names;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for index in chosen {
        let (image, label) = (&dataset.images[index], dataset.labels[index]);
        let name = &dataset.class_names[label];
        let Some(model_label) = model_classes.iter().position(|c| c == name) else {
            bail!("the folder has class '{name}', which the model does not know (its classes: {})", model_classes.join(", "));
        };
        images.push(image);
        labels.push(model_label);
    }
    let tensor = images_to_tensor(images);
    let views = crate::engine::classify::TestTimeViews::from(args.views.tta);
    if views.count() > 1 {
        // A large folder takes a while with 12 views; say so, and how to go faster.
        eprintln!("judging {} photos by {} views each (--tta=off: the photo alone, faster)", labels.len(), views.count());
    }
    // Batches of about the same memory at any input size (256 photos at the paper's 100 x 100).
    let batch = (256 * 100 * 100 / (side * side)).max(16);
    let report = crate::engine::eval::evaluate_images(checkpoint.net.as_ref(), &tensor, &labels, model_classes, batch, views).0;
    if !out.json {
        print_report(&report, &ClassNamer::new(&args.names, model_classes)?);
    }
    Ok(serde_json::to_value(&report)?)
}

/// The images of `dataset` that `split` asks for: all, or those the checkpoint's run held out.
pub(super) fn chosen_split(
    split: SplitArg,
    meta: &crate::engine::checkpoint::CheckpointMeta,
    weights: &Path,
    dataset: &Dataset,
) -> Result<Vec<usize>> {
    match split {
        SplitArg::All => Ok((0..dataset.len()).collect()),
        SplitArg::Validation => {
            let Some(training) = &meta.training else {
                bail!("{} has no record of its training split; use --split all", weights.display());
            };
            let held_out = crate::engine::data::holdout_split(&dataset.labels, training).1;
            if held_out.is_empty() {
                bail!("{} was trained on every photo (no validation split); use --split all", weights.display());
            }
            Ok(held_out)
        }
    }
}

pub(super) fn mistakes_command(args: MistakesArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::mistakes::{MistakeParams, find_mistakes};
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = crate::engine::network::import::load_network(&weights, default_device())?;
    let classes = &checkpoint.meta.class_names;
    let namer = ClassNamer::new(&args.names, classes)?;
    let dataset = open_dataset_reporting(&args.data, checkpoint.net.spec().input_size)?;
    let params = MistakeParams {
        max_mistakes: args.limit,
        neighbours: args.neighbours,
        ..MistakeParams::for_recipe(checkpoint.meta.training.as_ref())
    };
    let started = std::time::Instant::now();
    let bar = progress_bar(BAR);
    bar.set_message("finding mistakes");
    let found = find_mistakes(
        checkpoint.net.as_ref(),
        classes,
        &dataset,
        &params,
        &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
        &INTERRUPTED,
    );
    bar.finish_and_clear();
    let report = found?;
    let seconds = started.elapsed().as_secs_f64();
    let accuracy = 1.0 - report.wrong as f64 / report.examined.max(1) as f64;
    let which =
        if report.held_out { "validation photos" } else { "photos (none held out, or not recorded: the model may have trained on them)" };
    say!(out, "{} wrong of {} {which}, accuracy {:.1}% ({seconds:.1} s)", report.wrong, report.examined, accuracy * 100.0);
    let file_name = |path: &Path| path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for m in &report.mistakes {
        say!(
            out,
            "{:>6.1}%  {}  true {}  predicted {}  (true class {:.1}%)",
            m.confidence * 100.0,
            m.path.display(),
            namer.name(m.truth),
            namer.name(m.predicted),
            m.truth_probability * 100.0
        );
        for near in &m.near {
            say!(out, "          near {} {} (similarity {:.3})", namer.name(near.class), file_name(&near.path), near.similarity);
        }
    }
    Ok(json!({
        "weights": weights.display().to_string(),
        "examined": report.examined,
        "wrong": report.wrong,
        "held_out": report.held_out,
        "accuracy": accuracy,
        "seconds": seconds,
        "mistakes": report.mistakes.iter().map(|m| json!({
            "path": m.path.display().to_string(),
            "truth": classes[m.truth],
            "predicted": classes[m.predicted],
            "confidence": m.confidence,
            "truth_probability": m.truth_probability,
            "near": m.near.iter().map(|n| json!({
                "path": n.path.display().to_string(),
                "class": classes[n.class],
                "similarity": n.similarity,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    }))
}

pub(super) fn print_report(report: &EvalReport, namer: &ClassNamer) {
    println!("images {}  accuracy {:.4}  loss {:.4}  macro F1 {:.4}", report.images, report.accuracy, report.loss, report.macro_f1());
    println!("{:<20} {:>9} {:>9} {:>9} {:>8}", "class", "precision", "recall", "f1", "support");
    for (index, class) in report.per_class.iter().enumerate() {
        println!("{:<20} {:>9.3} {:>9.3} {:>9.3} {:>8}", namer.name(index), class.precision, class.recall, class.f1, class.support);
    }
    println!("confusion matrix (rows: true class, columns: predicted):");
    for row in &report.confusion {
        println!("  {}", row.iter().map(|n| format!("{n:>3}")).collect::<Vec<_>>().join(""));
    }
}

/// `--tta` of `classify` and `evaluate`, which judge photos alike.
#[derive(Args, Debug)]
pub struct ViewsArgs {
    /// Test-time augmentation: the answers for several views of each image, averaged. By default
    /// (and `--tta` alone) `crops`: the image, its centre and four corners at 7/8 size, all
    /// mirrored too, 12 views, as the classifier window answers; `--tta=mirror` uses the image and
    /// its mirror image; `--tta=off` the image alone.
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_value = "crops", default_missing_value = "crops")]
    pub tta: TtaArg,
}

/// `--tta`: which views of each image are averaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TtaArg {
    Off,
    Mirror,
    Crops,
}

impl From<TtaArg> for crate::engine::classify::TestTimeViews {
    fn from(arg: TtaArg) -> Self {
        match arg {
            TtaArg::Off => Self::Single,
            TtaArg::Mirror => Self::Mirror,
            TtaArg::Crops => Self::Crops,
        }
    }
}
