//! The command line: the same engine as the window, for scripts, tests and benchmarks.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::engine::attribution::{AttributionMethod, AttributionSettings, IgBaseline};
use crate::engine::checkpoint::{load_checkpoint, save_checkpoint};
use crate::engine::classify::{classify_images, classify_images_with};
use crate::engine::data::{Dataset, Photos, StoredDataset, cache_dir, load_dataset, open_dataset};
use crate::engine::eval::EvalReport;
use crate::engine::image_input::{images_to_tensor, load_network_image};
use crate::engine::model::{Layer, default_device, device_name};
use crate::engine::train::{Augmentation, LrSchedule, Mixing, TrainConfig, TrainEvent, TrainOutcome, train};
use crate::resources;

/// Activation Atlas: train a small CNN on a folder of images, classify with it, and look inside.
///
/// Run without a command to open the window.
#[derive(Parser, Debug)]
#[command(name = "activation-atlas", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Print the result as JSON on stdout, one envelope: {"command", "ok", "result"} or {"command",
    /// "ok": false, "error": {"message", "cancelled"}}; `train` first prints one JSON line per epoch.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Where a command's words go. With `--json` stdout carries only JSON, so what is said for
/// people goes to stderr.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub json: bool,
}

/// `println!` for people, moved to stderr under `--json`.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        if $out.json { eprintln!($($arg)*) } else { println!($($arg)*) }
    };
}

/// A command that did part of its work: the result so far goes into the envelope beside the error.
#[derive(Debug)]
struct PartlyDone {
    result: serde_json::Value,
    message: String,
}

impl std::fmt::Display for PartlyDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PartlyDone {}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the desktop app (the default), optionally with a picture to classify.
    Gui {
        /// An image to open in the classifier.
        image: Option<PathBuf>,
        /// A data set folder to open in the training panel.
        #[arg(long)]
        data: Option<PathBuf>,
        /// An atlas file to show (instead of the last used or the shipped one).
        #[arg(long)]
        atlas: Option<PathBuf>,
        /// Pictures to place on the atlas at start (the window opens on the atlas).
        #[arg(long, num_args = 1..)]
        place: Vec<PathBuf>,
        /// An atlas timeline (.timeline) to show (地图集 → 时间线).
        #[arg(long)]
        timeline: Option<PathBuf>,
    },
    /// Print the most probable classes of each image.
    Classify(ClassifyArgs),
    /// Train the network on a folder with one sub-folder of images per class.
    Train(TrainArgs),
    /// k-fold cross-validation of a training recipe: the mean and spread of the accuracy on photos
    /// each run never saw, to choose a recipe before training the final model on every photo.
    CrossValidate(CrossValidateArgs),
    /// Accuracy, per-class precision / recall / F1 and the confusion matrix on a labelled folder.
    Evaluate(EvaluateArgs),
    /// The model's wrong answers on the photos of a labelled folder it was validated on (its
    /// recorded split), surest first, each with the training photos nearest to it in fc2.
    Mistakes(MistakesArgs),
    /// Explain one image: feature maps, filters, saliency, Grad-CAM or occlusion, as a PNG.
    Explain(ExplainArgs),
    /// Faithfulness of the attribution methods over a labelled folder: deletion and insertion
    /// AUC, average drop, increase rate and time per image, one row per method.
    ExplainEval(ExplainEvalArgs),
    /// Feature visualisation: the picture that most excites a channel or a class, as a PNG.
    Visualize(VisualizeArgs),
    /// Activation atlases: build one from a model and a data set, export it, place images on it.
    #[command(subcommand)]
    Atlas(AtlasCommand),
    /// Data sets: get the paper's flowers17 in one step.
    #[command(subcommand)]
    Data(DataCommand),
    /// Checkpoints: prepare one for sharing.
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Class descriptions (names and introductions): a template for a model, and a check.
    #[command(subcommand)]
    Descriptions(DescriptionsCommand),
    /// Print a completion script for a shell (e.g. `activation-atlas completions bash >
    /// ~/.local/share/bash-completion/completions/activation-atlas`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `activation-atlas man | man -l -`.
    Man,
}

#[derive(Subcommand, Debug)]
pub enum DescriptionsCommand {
    /// Write a description file with an empty entry for every class of a model, to fill in.
    Init(DescriptionsInitArgs),
    /// Report the model's classes a description file misses, its entries the model does not
    /// have, and entries without both names (exit 1 when any class is missing or unknown).
    Check(DescriptionsCheckArgs),
}

#[derive(Args, Debug)]
pub struct DescriptionsInitArgs {
    /// The model whose classes the file describes.
    #[arg(long)]
    pub weights: PathBuf,
    /// Where to write it (default: print it). An existing file is not replaced.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DescriptionsCheckArgs {
    /// The description file (TOML).
    pub file: PathBuf,
    /// The model it should describe.
    #[arg(long)]
    pub weights: PathBuf,
}

/// `--names`: classes named as their description file names them.
#[derive(Args, Debug, Clone, Default)]
pub struct NamesArgs {
    /// Name classes by their description (Chinese where LANG is zh_*, else English) instead of
    /// their folder names.
    #[arg(long)]
    pub names: bool,
    /// The description file for --names (default: the one that matches the model, the user's
    /// own before the shipped ones).
    #[arg(long, value_name = "FILE", requires = "names")]
    pub descriptions: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum CheckpointCommand {
    /// Rewrite a checkpoint without this machine's paths: the data set by name, class counts
    /// and a digest of its file list (from --data). The weights stay the same; atlases given
    /// with --atlas that were built from it are updated to its new fingerprint.
    Portable(CheckpointPortableArgs),
    /// Record a cross-validation report (cross-validation.json) in a checkpoint's sidecar, for a
    /// final model whose training started before its recipe's cross-validation ended. The report
    /// must be of the recipe the checkpoint was trained with.
    RecordCrossValidation(CheckpointRecordArgs),
}

#[derive(Args, Debug)]
pub struct CheckpointRecordArgs {
    /// The checkpoint (.safetensors; its sidecar is rewritten, the weights stay the same).
    pub weights: PathBuf,
    /// The report `cross-validate` wrote. Repeat it for cross-validations of the same recipe with
    /// other seeds (one must have the model's own seed, unless --keep-recorded): their folds are
    /// pooled into one estimate.
    #[arg(long, required = true)]
    pub report: Vec<PathBuf>,
    /// Pool the reports with the estimate the checkpoint already records (its own seed's), for
    /// when that report is gone: every report must then have another seed.
    #[arg(long)]
    pub keep_recorded: bool,
    /// Atlas files built from this checkpoint, to keep them matched to it (the metadata is part
    /// of the fingerprint they record).
    #[arg(long)]
    pub atlas: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CheckpointPortableArgs {
    /// The checkpoint (.safetensors; its sidecar is rewritten too).
    pub weights: PathBuf,
    /// The data set folder it was trained on, recorded by name, counts and digest.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Atlas files built from this checkpoint, to keep them matched to it.
    #[arg(long)]
    pub atlas: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Download the Oxford 17 Category Flower Dataset (resuming an interrupted download), check
    /// it, and sort it into the class folders training reads.
    Get(DataGetArgs),
}

#[derive(Args, Debug)]
pub struct DataGetArgs {
    /// Which data set (only "flowers17").
    pub name: String,
    /// Where the class folders go (default ~/.local/share/activation-atlas/datasets/flowers17).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Another address of 17flowers.tgz, or a copy of it on disk.
    #[arg(long)]
    pub from: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum AtlasCommand {
    /// Build an atlas (collect activations, kNN, UMAP, cells, icons) and save it.
    Build(AtlasBuildArgs),
    /// Render an atlas file as a PNG.
    Export(AtlasExportArgs),
    /// Place images on an atlas: where their activations land and the predicted class.
    Place(AtlasPlaceArgs),
    /// What an atlas holds: layer, parameters, grid levels, cells, icons, images, provenance.
    Info(AtlasInfoArgs),
    /// One cell: its count, top classes by attribution and by label, members, and its real
    /// patches written as PNGs.
    Cell(AtlasCellArgs),
    /// Make an atlas self-contained: embed every image's network input (read from --data) so
    /// its real patches show anywhere; with --portable, also drop this machine's paths.
    Embed(AtlasEmbedArgs),
    /// The atlas timeline of a training run: the same activations laid out under each epoch's
    /// checkpoint, every layout started from and aligned to the one before, saved as a
    /// .timeline file (and, with --animation, as a GIF or APNG).
    Timeline(AtlasTimelineArgs),
    /// Write a .timeline file as an animated GIF (.gif) or APNG (.png).
    TimelineExport(AtlasTimelineExportArgs),
}

#[derive(Args, Debug)]
pub struct AtlasTimelineArgs {
    /// The run folder: the epoch-NNN.safetensors checkpoints (with their .json) of one training run.
    #[arg(long)]
    pub run: PathBuf,
    /// The labelled data set folder the run trained on (classes must match).
    #[arg(long)]
    pub data: PathBuf,
    /// Output .timeline file.
    #[arg(long)]
    pub out: PathBuf,
    /// Conv layer to map.
    #[arg(long, value_enum, default_value_t = ConvLayerArg(Layer::Conv2))]
    pub layer: ConvLayerArg,
    /// Interior positions sampled per photo (fewer when the frame would exceed --max-points).
    #[arg(long, default_value_t = 8)]
    pub samples: usize,
    /// Points per frame at most.
    #[arg(long, default_value_t = 20_000)]
    pub max_points: usize,
    /// Use every N-th checkpoint (the last is always used).
    #[arg(long, default_value_t = 1)]
    pub every: usize,
    /// UMAP neighbours.
    #[arg(long, default_value_t = 15)]
    pub neighbors: usize,
    /// UMAP epochs per frame.
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the animation (.gif or .png/APNG).
    #[arg(long)]
    pub animation: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AtlasTimelineExportArgs {
    /// A .timeline file (from `atlas timeline` or the window).
    pub timeline: PathBuf,
    /// Output animation: .gif or .png (APNG).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub animation: AnimationArgs,
}

#[derive(Args, Debug)]
pub struct AnimationArgs {
    /// Plot size in pixels (16-2048; the legend adds 190).
    #[arg(long, default_value_t = 640)]
    pub size: u32,
    /// Pictures between two checkpoints, for smooth motion.
    #[arg(long, default_value_t = 4)]
    pub tween: usize,
    /// Milliseconds per picture.
    #[arg(long, default_value_t = 80)]
    pub frame_ms: u32,
    /// Draw each picture as an atlas of real photo patches in a grid of N x N cells (2-100)
    /// instead of points in class colours.
    #[arg(long, value_name = "N")]
    pub atlas_grid: Option<usize>,
}

#[derive(Args, Debug)]
pub struct AtlasInfoArgs {
    /// Atlas file.
    pub atlas: PathBuf,
}

#[derive(Args, Debug)]
pub struct AtlasCellArgs {
    /// Atlas file.
    pub atlas: PathBuf,
    /// Grid level (cells per side), one of the atlas's.
    #[arg(long)]
    pub grid: u16,
    /// The cell by grid coordinates, "X,Y".
    #[arg(long, conflicts_with = "rank", required_unless_present = "rank")]
    pub cell: Option<String>,
    /// The K-th most populated cell (1 = the densest).
    #[arg(long)]
    pub rank: Option<usize>,
    /// Write the cell's real patches (up to 24) as PNG files into this folder.
    #[arg(long)]
    pub patches: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AtlasEmbedArgs {
    /// Atlas file.
    pub atlas: PathBuf,
    /// The data set folder the atlas was built from (needed when it has no embedded images).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output file; defaults to rewriting the atlas in place (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Record the model and data set by name only, and image paths inside the data set.
    #[arg(long)]
    pub portable: bool,
}

#[derive(Args, Debug)]
pub struct AtlasBuildArgs {
    /// Model weights; defaults to the shipped flower model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Labelled data set folder (classes must match the model's).
    #[arg(long)]
    pub data: PathBuf,
    /// Conv layer to map (the paper uses conv2).
    #[arg(long, value_enum, default_value_t = ConvLayerArg(Layer::Conv2))]
    pub layer: ConvLayerArg,
    /// Output atlas file.
    #[arg(long)]
    pub out: PathBuf,
    /// Interior positions sampled per image.
    #[arg(long, default_value_t = 16)]
    pub samples: usize,
    /// UMAP neighbours (the paper: 5; the published atlases: 15-50).
    #[arg(long, default_value_t = 15)]
    pub neighbors: usize,
    /// UMAP minimum distance (the paper: 0.05).
    #[arg(long, default_value_t = 0.05)]
    pub min_dist: f32,
    /// UMAP epochs.
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    /// Grid sizes, comma-separated, coarse to fine.
    #[arg(long, default_value = "10,20,40,80", value_delimiter = ',')]
    pub grids: Vec<usize>,
    /// Grid sizes whose cells get icons.
    #[arg(long, default_value = "10,20,40", value_delimiter = ',')]
    pub icon_grids: Vec<usize>,
    /// Optimisation steps per icon.
    #[arg(long, default_value_t = 128)]
    pub icon_steps: usize,
    /// Cells with fewer vectors get no icon.
    #[arg(long, default_value_t = 4)]
    pub min_count: u32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Lay out with t-SNE instead of UMAP (exact; subsamples above 4000 vectors).
    #[arg(long)]
    pub tsne: bool,
    /// Skip the paper's class mosaic and data distribution views.
    #[arg(long)]
    pub no_paper_views: bool,
    /// A class activation atlas: only the vectors with the strongest attribution to this class
    /// (name or index), their own layout and icons.
    #[arg(long, conflicts_with = "compare")]
    pub class: Option<String>,
    /// Compare two classes (names or indices, e.g. daisy,windflower): x is attribution to the
    /// first minus attribution to the second, y a 1-D UMAP of the vectors.
    #[arg(long, value_delimiter = ',', value_name = "C1,C2")]
    pub compare: Vec<String>,
    /// Vectors a --class or --compare atlas keeps (the strongest).
    #[arg(long, default_value_t = crate::engine::atlas::build::FOCUS_VECTORS)]
    pub focus_vectors: usize,
}

#[derive(Args, Debug)]
pub struct AtlasExportArgs {
    /// Atlas file.
    pub atlas: PathBuf,
    /// Output PNG.
    #[arg(long)]
    pub png: PathBuf,
    /// Picture size in pixels (up to 8192).
    #[arg(long, default_value_t = 2048)]
    pub size: u32,
    /// Grid level to draw (one of the atlas's).
    #[arg(long, default_value_t = 20)]
    pub grid: u16,
    /// Draw grid lines.
    #[arg(long)]
    pub grid_lines: bool,
    /// Mark each cell with its top class's colour.
    #[arg(long)]
    pub labels: bool,
}

#[derive(Args, Debug)]
pub struct AtlasPlaceArgs {
    /// Atlas file.
    pub atlas: PathBuf,
    /// Images to place.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Model weights (must be the atlas's model); defaults to the one recorded in the atlas.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[command(flatten)]
    pub names: NamesArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExplainMethod {
    /// Every channel of --layer as a grey tile (default layer conv2).
    Featuremaps,
    /// The paper's single map: conv2's channel with the largest maximum, normalised as the paper does.
    Papermap,
    /// The kernels of --layer (conv1 in colour, deeper layers in grey).
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
#[derive(Args, Debug)]
pub struct AttributionArgs {
    /// Layer of the class activation maps (conv1..conv4; default conv4); of feature maps and
    /// filters too.
    #[arg(long, value_enum)]
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
    fn settings(&self) -> AttributionSettings {
        let defaults = AttributionSettings::default();
        let layer = parse_layer(self.layer, defaults.layer);
        AttributionSettings {
            layer,
            smooth_samples: self.samples.unwrap_or(defaults.smooth_samples).max(1),
            ig_steps: self.steps.max(1),
            ig_baseline: self.baseline.into(),
            occlusion_patch: self.patch,
            occlusion_stride: self.stride.max(1),
            ..defaults
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// Every image of the folder.
    All,
    /// The validation part of the split the model was trained with (its seed and fraction), for a
    /// model trained on this folder.
    Validation,
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
    #[arg(long, value_enum)]
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

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScheduleArg {
    /// The same learning rate throughout (the paper).
    Constant,
    /// Linear warm-up for --warmup-epochs, then cosine decay to zero.
    Cosine,
    /// Multiply by --step-gamma every --step-epochs.
    Step,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Data set folder: one sub-folder of images per class.
    #[arg(long)]
    pub data: PathBuf,
    /// Run folder for checkpoints (epoch-NNN.safetensors, best.safetensors) and history.json.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Fraction of each class held out for validation (0: train on every photo).
    #[arg(long, default_value_t = 0.2)]
    pub validation_fraction: f64,
    /// Save a checkpoint every this many epochs.
    #[arg(long, default_value_t = 2)]
    pub checkpoint_every: u32,
    /// How many epoch checkpoints to keep (best.safetensors is kept besides).
    #[arg(long, default_value_t = 5)]
    pub keep_last: usize,
    /// Continue from this checkpoint of the run (its weights and epoch).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// A cross-validation report (from `cross-validate`) of this same recipe: its mean and spread
    /// are recorded in the final checkpoint.
    #[arg(long)]
    pub cross_validation: Option<PathBuf>,
}

/// The settings that decide how the network learns (shared by `train` and `cross-validate`).
#[derive(Args, Debug, Clone)]
pub struct RecipeArgs {
    /// Epochs to train (in total, when resuming).
    #[arg(long, default_value_t = 10)]
    pub epochs: u32,
    /// Images per optimiser step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.001)]
    pub lr: f64,
    /// Learning-rate schedule.
    #[arg(long, value_enum, default_value_t = ScheduleArg::Constant)]
    pub schedule: ScheduleArg,
    /// Warm-up epochs for the cosine schedule.
    #[arg(long, default_value_t = 0)]
    pub warmup_epochs: u32,
    /// Epochs between learning-rate drops for the step schedule.
    #[arg(long, default_value_t = 10)]
    pub step_epochs: u32,
    /// Factor of each learning-rate drop for the step schedule.
    #[arg(long, default_value_t = 0.1)]
    pub step_gamma: f64,
    /// Decoupled weight decay (AdamW); 0 is plain Adam.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Turn on the standard augmentation (flip, crop to >= 50% area, colour jitter 0.2).
    #[arg(long)]
    pub augment: bool,
    /// Mirror training images left-right at random.
    #[arg(long)]
    pub flip: bool,
    /// Random resized crop: smallest kept fraction of the image area (1 = off).
    #[arg(long)]
    pub crop_min_area: Option<f64>,
    /// Colour jitter strength (0 = off).
    #[arg(long)]
    pub colour_jitter: Option<f64>,
    /// Probability of blanking a random rectangle of each training image with noise (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub random_erasing: f64,
    /// Label smoothing ε (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f64,
    /// Mixup α: blend pairs of images and labels (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub mixup: f64,
    /// CutMix α: paste a box of one image into another (0 = off; with --mixup, half the batches).
    #[arg(long, default_value_t = 0.0)]
    pub cutmix: f64,
    /// Evaluate and save a moving average of the weights with this decay per step (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub ema: f64,
    /// Seed for initialisation, split, shuffling and augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct CrossValidateArgs {
    /// Data set folder: one sub-folder of images per class.
    #[arg(long)]
    pub data: PathBuf,
    /// Folder for the folds' runs (fold-1, fold-2, ...) and cross-validation.json; running again
    /// with the same recipe continues unfinished folds.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of folds.
    #[arg(long, default_value_t = 5)]
    pub folds: u32,
    /// Folds trained at the same time, each with its share of the CPU threads (small networks
    /// use one thread each better than two threads on one).
    #[arg(long, default_value_t = 1)]
    pub parallel: usize,
    #[command(flatten)]
    pub recipe: RecipeArgs,
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

/// Set by Ctrl-C (SIGINT) while a command runs: long commands (loading a data set, training,
/// atlas builds, downloads, explanations) stop at their next check and say "cancelled".
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells expect.
pub const INTERRUPTED_EXIT_CODE: u8 = 130;

/// Whether Ctrl-C stopped the command.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The first Ctrl-C asks the running command to stop cleanly (saved checkpoints stay, no half
/// files); a second one ends the process at once.
fn stop_on_ctrl_c() {
    let installed = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            std::process::exit(i32::from(INTERRUPTED_EXIT_CODE));
        }
        eprintln!("\nstopping (Ctrl-C again to quit at once)");
    });
    // Without a handler Ctrl-C still ends the process, as before; nothing to stop for.
    let _ = installed;
}

/// The name a command's JSON envelope carries, as typed ("atlas build").
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Gui { .. } => "gui",
        Command::Classify(_) => "classify",
        Command::Train(_) => "train",
        Command::CrossValidate(_) => "cross-validate",
        Command::Evaluate(_) => "evaluate",
        Command::Mistakes(_) => "mistakes",
        Command::Explain(_) => "explain",
        Command::ExplainEval(_) => "explain-eval",
        Command::Visualize(_) => "visualize",
        Command::Atlas(AtlasCommand::Build(_)) => "atlas build",
        Command::Atlas(AtlasCommand::Export(_)) => "atlas export",
        Command::Atlas(AtlasCommand::Place(_)) => "atlas place",
        Command::Atlas(AtlasCommand::Info(_)) => "atlas info",
        Command::Atlas(AtlasCommand::Cell(_)) => "atlas cell",
        Command::Atlas(AtlasCommand::Embed(_)) => "atlas embed",
        Command::Atlas(AtlasCommand::Timeline(_)) => "atlas timeline",
        Command::Atlas(AtlasCommand::TimelineExport(_)) => "atlas timeline-export",
        Command::Data(DataCommand::Get(_)) => "data get",
        Command::Checkpoint(CheckpointCommand::Portable(_)) => "checkpoint portable",
        Command::Checkpoint(CheckpointCommand::RecordCrossValidation(_)) => "checkpoint record-cross-validation",
        Command::Descriptions(DescriptionsCommand::Init(_)) => "descriptions init",
        Command::Descriptions(DescriptionsCommand::Check(_)) => "descriptions check",
        Command::Completions { .. } => "completions",
        Command::Man => "man",
    }
}

/// Runs a command-line command (everything but the window). With `json`, stdout gets one JSON
/// envelope whether the command succeeds or fails.
pub fn run(command: Command, json: bool) -> Result<()> {
    stop_on_ctrl_c();
    let out = Output { json };
    let name = command_name(&command);
    let result = match command {
        Command::Gui { .. } => unreachable!("the window is opened by main"),
        Command::Classify(args) => classify(args, out),
        Command::Train(args) => train_command(args, out),
        Command::CrossValidate(args) => cross_validate_command(args, out),
        Command::Evaluate(args) => evaluate(args, out),
        Command::Mistakes(args) => mistakes_command(args, out),
        Command::Explain(args) => explain(args, out),
        Command::ExplainEval(args) => explain_eval(args, out),
        Command::Visualize(args) => visualize_command(args, out),
        Command::Atlas(AtlasCommand::Build(args)) => atlas_build(args, out),
        Command::Atlas(AtlasCommand::Export(args)) => atlas_export(args, out),
        Command::Atlas(AtlasCommand::Place(args)) => atlas_place(args, out),
        Command::Atlas(AtlasCommand::Info(args)) => atlas_info(args, out),
        Command::Data(DataCommand::Get(args)) => data_get(args, out),
        Command::Checkpoint(CheckpointCommand::Portable(args)) => checkpoint_portable(args, out),
        Command::Checkpoint(CheckpointCommand::RecordCrossValidation(args)) => checkpoint_record_cross_validation(args, out),
        Command::Descriptions(DescriptionsCommand::Init(args)) => descriptions_init(args, out),
        Command::Descriptions(DescriptionsCommand::Check(args)) => descriptions_check(args, out),
        Command::Atlas(AtlasCommand::Cell(args)) => atlas_cell(args, out),
        Command::Atlas(AtlasCommand::Embed(args)) => atlas_embed(args, out),
        Command::Atlas(AtlasCommand::Timeline(args)) => atlas_timeline(args, out),
        Command::Atlas(AtlasCommand::TimelineExport(args)) => atlas_timeline_export(args, out),
        Command::Completions { shell } => generated_text(out, |sink| {
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "activation-atlas", sink);
            Ok(())
        })
        .map(|script| json!({"shell": shell.to_string(), "script": script})),
        Command::Man => generated_text(out, |sink| Ok(clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(sink)?))
            .map(|roff| json!({"roff": roff})),
    };
    if json {
        println!("{}", envelope(name, &result));
    }
    result.map(|_| ())
}

/// The one JSON object a command prints under `--json`.
fn envelope(command: &str, result: &Result<serde_json::Value>) -> serde_json::Value {
    match result {
        Ok(result) => json!({"command": command, "ok": true, "result": result}),
        Err(error) => {
            let mut envelope = json!({
                "command": command,
                "ok": false,
                "error": {"message": format!("{error:#}"), "cancelled": interrupted()},
            });
            if let Some(partly) = error.downcast_ref::<PartlyDone>() {
                envelope["result"] = partly.result.clone();
            }
            envelope
        }
    }
}

/// A completion script or man page: written straight to stdout for people, kept as text for
/// the JSON envelope.
fn generated_text(out: Output, write: impl FnOnce(&mut dyn std::io::Write) -> Result<()>) -> Result<serde_json::Value> {
    if !out.json {
        write(&mut std::io::stdout())?;
        return Ok(serde_json::Value::Null);
    }
    let mut text = Vec::new();
    write(&mut text)?;
    Ok(serde_json::Value::String(String::from_utf8_lossy(&text).into_owned()))
}

fn weights_or_shipped(weights: Option<PathBuf>) -> Result<PathBuf> {
    match weights {
        Some(path) => Ok(path),
        None => resources::shipped_model().context("no --weights given and the shipped model (weights/flowers17.safetensors) is missing"),
    }
}

fn classify(args: ClassifyArgs, out: Output) -> Result<serde_json::Value> {
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = load_checkpoint(&weights, default_device())?;
    let classes = &checkpoint.meta.class_names;
    let namer = ClassNamer::new(&args.names, classes)?;
    let mut results = Vec::new();
    let mut failures = 0;
    for path in &args.images {
        match load_network_image(path) {
            Ok(image) => {
                let prediction = classify_images_with(&checkpoint.net, &[image], args.views.tta.into()).remove(0);
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

/// Loads a data set with a progress line on a terminal, and reports skipped files.
/// A progress bar on stderr with an estimate of the time left. indicatif draws it only on a
/// terminal, so piped or logged output stays plain lines.
fn progress_bar(template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("#>."));
    }
    bar
}

/// What most bars show: a message, the bar, the count and the time left.
const BAR: &str = "{msg:>16} [{bar:30}] {pos}/{len} (ETA {eta})";

fn load_dataset_reporting(dir: &Path) -> Result<Dataset> {
    let dataset = reading_images(|progress| load_dataset(dir, Some(&cache_dir()), progress, &INTERRUPTED))?;
    report_dataset(dir, dataset.len(), &dataset.summary(), dataset.cached);
    Ok(dataset)
}

/// [`load_dataset_reporting`] for a data set that stays on disk (an atlas build reads its photos a
/// batch at a time).
fn open_dataset_reporting(dir: &Path) -> Result<StoredDataset> {
    let dataset = reading_images(|progress| open_dataset(dir, Some(&cache_dir()), progress, &INTERRUPTED))?;
    report_dataset(dir, dataset.len(), &dataset.summary(), dataset.cached);
    Ok(dataset)
}

/// Runs `read` with a progress bar for the files it reads.
fn reading_images<T>(read: impl FnOnce(&(dyn Fn(usize, usize) + Sync)) -> Result<T, crate::engine::data::DataError>) -> Result<T> {
    let bar = progress_bar(BAR);
    bar.set_message("reading images");
    // Called from the decoding threads; the bar is shared and cheap to update.
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let loaded = read(&progress);
    bar.finish_and_clear();
    Ok(loaded?)
}

fn report_dataset(dir: &Path, images: usize, summary: &crate::engine::data::DatasetSummary, cached: usize) {
    eprintln!(
        "{}: {} images in {} classes ({} from cache), {} skipped",
        dir.display(),
        images,
        summary.class_names.len(),
        cached,
        summary.skipped.len()
    );
    for skipped in &summary.skipped {
        eprintln!("  skipped {}", skipped.reason);
    }
    for class in summary.classes_too_small_to_split() {
        eprintln!("  warning: class '{class}' has fewer than 2 images and is not validated");
    }
}

fn recipe_config(recipe: &RecipeArgs, data: &Path) -> TrainConfig {
    let mut augmentation = if recipe.augment { Augmentation::STANDARD } else { Augmentation::NONE };
    augmentation.horizontal_flip |= recipe.flip;
    if let Some(area) = recipe.crop_min_area {
        augmentation.crop_min_area = area;
    }
    if let Some(jitter) = recipe.colour_jitter {
        augmentation.colour_jitter = jitter;
    }
    augmentation.random_erasing = recipe.random_erasing;
    TrainConfig {
        epochs: recipe.epochs,
        batch_size: recipe.batch_size,
        learning_rate: recipe.lr,
        lr_schedule: match recipe.schedule {
            ScheduleArg::Constant => LrSchedule::Constant,
            ScheduleArg::Cosine => LrSchedule::Cosine { warmup_epochs: recipe.warmup_epochs },
            ScheduleArg::Step => LrSchedule::Step { every_epochs: recipe.step_epochs, gamma: recipe.step_gamma },
        },
        weight_decay: recipe.weight_decay,
        augmentation,
        label_smoothing: recipe.label_smoothing,
        mixing: Mixing { mixup_alpha: recipe.mixup, cutmix_alpha: recipe.cutmix },
        ema_decay: recipe.ema,
        seed: recipe.seed,
        // Absolute, so the window finds the folder again from any working directory.
        data_dir: Some(std::path::absolute(data).unwrap_or_else(|_| data.to_path_buf())),
        ..TrainConfig::default()
    }
}

fn train_config(args: &TrainArgs) -> TrainConfig {
    TrainConfig {
        validation_fraction: args.validation_fraction,
        checkpoint_every: args.checkpoint_every,
        keep_last: args.keep_last,
        ..recipe_config(&args.recipe, &args.data)
    }
}

fn train_command(args: TrainArgs, out: Output) -> Result<serde_json::Value> {
    let config = train_config(&args);
    // Checked before any photo is read: a report of another recipe says nothing of this one.
    let cross_validation = match &args.cross_validation {
        Some(path) => Some(cross_validation_of_recipe(path, &config.recipe_only(), "this run")?),
        None => None,
    };
    let dataset = load_dataset_reporting(&args.data)?;
    let device = default_device();
    let bar = progress_bar(BAR);
    let started = std::time::Instant::now();
    let mut on_event = |event: TrainEvent| match event {
        TrainEvent::Started { train_images, validation_images, first_epoch, epochs, .. } => eprintln!(
            "training on {} ({train_images} train / {validation_images} validation images), epochs {first_epoch}..={epochs}",
            device_name(device)
        ),
        TrainEvent::Step { epoch, step, steps_per_epoch, loss } => {
            bar.set_length(steps_per_epoch as u64);
            bar.set_position(step as u64);
            bar.set_message(format!("epoch {epoch} loss {loss:.4}"));
        }
        // Under --json each epoch is one JSON line as it ends, for scripts that follow a run.
        TrainEvent::Epoch { record, .. } if out.json => bar.suspend(|| {
            let mut line = serde_json::to_value(&record).unwrap_or_default();
            line["event"] = json!("epoch");
            println!("{line}");
        }),
        TrainEvent::Epoch { record, validation, .. } if validation.images == 0 => bar.suspend(|| {
            println!(
                "epoch {:>3}  train loss {:.4} acc {:.3}  (no held-out photos)  lr {:.2e}  {:.1}s",
                record.epoch, record.train_loss, record.train_accuracy, record.learning_rate, record.duration_secs
            );
        }),
        TrainEvent::Epoch { record, .. } => bar.suspend(|| {
            println!(
                "epoch {:>3}  train loss {:.4} acc {:.3}  val loss {:.4} acc {:.3}  lr {:.2e}  {:.1}s",
                record.epoch,
                record.train_loss,
                record.train_accuracy,
                record.validation_loss,
                record.validation_accuracy,
                record.learning_rate,
                record.duration_secs
            );
        }),
        TrainEvent::CheckpointSaved { path, .. } => bar.suspend(|| eprintln!("  saved {}", path.display())),
    };
    let outcome = train(&dataset, &config, &args.out, args.resume.as_deref(), device, &INTERRUPTED, &mut on_event);
    bar.finish_and_clear();
    match outcome? {
        TrainOutcome::Finished { best, last, history } => {
            if let (Some(summary), Some(last)) = (cross_validation, &last) {
                let mut checkpoint = load_checkpoint(last, device)?;
                checkpoint.meta.cross_validation = Some(summary);
                save_checkpoint(&checkpoint.net, &checkpoint.meta, last)?;
                eprintln!("  recorded the cross-validation in {}", last.display());
            }
            let best_accuracy = history.iter().map(|r| r.validation_accuracy).fold(0.0, f64::max);
            let seconds = started.elapsed().as_secs_f64();
            if config.validation_fraction > 0.0 || best.is_some() {
                say!(
                    out,
                    "finished in {seconds:.1}s; best validation accuracy {best_accuracy:.4}{}",
                    best.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default()
                );
            } else {
                // No held-out photos: there is no best epoch, only the last.
                say!(
                    out,
                    "finished in {seconds:.1}s; no held-out photos, so no validation accuracy; the model is the last epoch{}",
                    last.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default()
                );
            }
            Ok(json!({
                "run_dir": args.out.display().to_string(),
                "best_checkpoint": best.map(|p| p.display().to_string()),
                "best_validation_accuracy": best_accuracy,
                "last_checkpoint": last.map(|p| p.display().to_string()),
                "epochs": history,
                "seconds": seconds,
            }))
        }
        TrainOutcome::Cancelled { last, history } => {
            let epochs = history.last().map_or(0, |r| r.epoch);
            let kept = last.as_ref().map(|p| format!("; the last checkpoint, {}, is kept", p.display())).unwrap_or_default();
            eprintln!("stopped after {epochs} finished epochs{kept} (resume with --resume)");
            let result = json!({
                "run_dir": args.out.display().to_string(),
                "last_checkpoint": last.map(|p| p.display().to_string()),
                "epochs": history,
            });
            Err(PartlyDone { result, message: "cancelled".to_string() }.into())
        }
    }
}

fn cross_validate_command(args: CrossValidateArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::cross_validation::{CrossValidationEvent, cross_validate};
    let recipe = recipe_config(&args.recipe, &args.data);
    let dataset = load_dataset_reporting(&args.data)?;
    let device = default_device();
    // Each fold running at once trains on its share of the CPU threads (see cross_validate).
    let parallel = args.parallel.clamp(1, args.folds.max(1) as usize);
    eprintln!("{}-fold cross-validation of {} photos on {}, {parallel} fold(s) at a time", args.folds, dataset.len(), device_name(device));
    let started = std::time::Instant::now();
    let on_event = |event: CrossValidationEvent| match event {
        CrossValidationEvent::FoldStarted { fold, resumed_at_epoch: 0 } => eprintln!("fold {} started", fold + 1),
        CrossValidationEvent::FoldStarted { fold, resumed_at_epoch } => {
            eprintln!("fold {} continues after epoch {resumed_at_epoch}", fold + 1)
        }
        CrossValidationEvent::Epoch { fold, record } if !out.json => eprintln!(
            "fold {} epoch {:>3}  train loss {:.4} acc {:.3}  held-out acc {:.3}  {:.1}s",
            fold + 1,
            record.epoch,
            record.train_loss,
            record.train_accuracy,
            record.validation_accuracy,
            record.duration_secs
        ),
        CrossValidationEvent::Epoch { .. } => {}
        CrossValidationEvent::FoldFinished(result) => {
            eprintln!("fold {} done: accuracy {:.4} on {} held-out photos", result.fold + 1, result.accuracy, result.held_out_images)
        }
    };
    let report = cross_validate(&dataset, &recipe, args.folds, &args.out, parallel, device, &INTERRUPTED, &on_event)?;
    let Some(report) = report else {
        let result = json!({"out": args.out.display().to_string()});
        eprintln!("stopped; the folds' checkpoints are kept: the same command continues them");
        return Err(PartlyDone { result, message: "cancelled".to_string() }.into());
    };
    let summary = &report.summary;
    let seconds = started.elapsed().as_secs_f64();
    say!(
        out,
        "RESULT {}-fold cross-validation accuracy {:.4} ± {:.4} (folds: {}) in {seconds:.0} s; report {}",
        summary.folds,
        summary.mean_accuracy,
        summary.sd_accuracy,
        summary.fold_accuracies.iter().map(|a| format!("{a:.4}")).collect::<Vec<_>>().join(", "),
        args.out.join(crate::engine::cross_validation::REPORT_FILE).display()
    );
    if let Some(views) = &summary.views {
        say!(
            out,
            "RESULT {}-fold cross-validation accuracy with 12 views per photo (--tta) {:.4} ± {:.4} (folds: {})",
            summary.folds,
            views.mean_accuracy,
            views.sd_accuracy,
            views.fold_accuracies.iter().map(|a| format!("{a:.4}")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(serde_json::to_value(&report)?)
}

fn evaluate(args: EvaluateArgs, out: Output) -> Result<serde_json::Value> {
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = load_checkpoint(&weights, default_device())?;
    let dataset = load_dataset_reporting(&args.data)?;
    let chosen = chosen_split(args.split, &checkpoint, &weights, &dataset)?;
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
    let report = crate::engine::eval::evaluate_images(&checkpoint.net, &tensor, &labels, model_classes, 256, views).0;
    if !out.json {
        print_report(&report, &ClassNamer::new(&args.names, model_classes)?);
    }
    Ok(serde_json::to_value(&report)?)
}

/// The images of `dataset` that `split` asks for: all, or those the checkpoint's run held out.
fn chosen_split(
    split: SplitArg,
    checkpoint: &crate::engine::checkpoint::Checkpoint,
    weights: &Path,
    dataset: &Dataset,
) -> Result<Vec<usize>> {
    match split {
        SplitArg::All => Ok((0..dataset.len()).collect()),
        SplitArg::Validation => {
            let Some(training) = &checkpoint.meta.training else {
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

fn mistakes_command(args: MistakesArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::mistakes::{MistakeParams, find_mistakes};
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = load_checkpoint(&weights, default_device())?;
    let classes = &checkpoint.meta.class_names;
    let namer = ClassNamer::new(&args.names, classes)?;
    let dataset = open_dataset_reporting(&args.data)?;
    let params = MistakeParams {
        max_mistakes: args.limit,
        neighbours: args.neighbours,
        ..MistakeParams::for_recipe(checkpoint.meta.training.as_ref())
    };
    let started = std::time::Instant::now();
    let bar = progress_bar(BAR);
    bar.set_message("finding mistakes");
    let found = find_mistakes(
        &checkpoint.net,
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

fn print_report(report: &EvalReport, namer: &ClassNamer) {
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

/// A layer of the paper's network as `--layer` takes it, by the engine's own names
/// (`Layer::name`): clap lists them in `--help` and refuses others before any work starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerArg(pub Layer);

/// A conv layer, for what only conv layers have (atlases map their spatial positions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvLayerArg(pub Layer);

static LAYER_ARGS: [LayerArg; Layer::ALL.len()] = {
    let mut args = [LayerArg(Layer::Conv1); Layer::ALL.len()];
    let mut i = 0;
    while i < args.len() {
        args[i] = LayerArg(Layer::ALL[i]);
        i += 1;
    }
    args
};

static CONV_LAYER_ARGS: [ConvLayerArg; Layer::CONV.len()] = {
    let mut args = [ConvLayerArg(Layer::Conv1); Layer::CONV.len()];
    let mut i = 0;
    while i < args.len() {
        args[i] = ConvLayerArg(Layer::CONV[i]);
        i += 1;
    }
    args
};

impl ValueEnum for LayerArg {
    fn value_variants<'a>() -> &'a [Self] {
        &LAYER_ARGS
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.name()))
    }
}

impl ValueEnum for ConvLayerArg {
    fn value_variants<'a>() -> &'a [Self] {
        &CONV_LAYER_ARGS
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.name()))
    }
}

fn parse_layer(given: Option<LayerArg>, default: Layer) -> Layer {
    given.map_or(default, |arg| arg.0)
}

/// A class given by name or index.
fn parse_class(given: &str, classes: &[String]) -> Result<usize> {
    if let Some(index) = classes.iter().position(|c| c == given) {
        return Ok(index);
    }
    match given.parse::<usize>() {
        Ok(index) if index < classes.len() => Ok(index),
        _ => bail!("unknown class '{given}'; the model's classes: {}", classes.join(", ")),
    }
}

fn save_png(image: &image::RgbImage, path: &Path, out: Output) -> Result<()> {
    crate::engine::fsutil::write_png(&image::DynamicImage::ImageRgb8(image.clone()), path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    say!(out, "wrote {}", path.display());
    Ok(())
}

fn explain(args: ExplainArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::explain::MapNormalisation;
    use crate::engine::explanation::{ExplainRequest, Explanation, explain};
    use crate::engine::render::{grey_image, overlay};
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = load_checkpoint(&weights, default_device())?;
    let net = &checkpoint.net;
    let classes = &checkpoint.meta.class_names;
    let picture = load_network_image(&args.image)?;
    let class = match &args.class {
        Some(given) => parse_class(given, classes)?,
        None => classify_images(net, std::slice::from_ref(&picture))[0].best().0,
    };
    let namer = ClassNamer::new(&args.names, classes)?;
    let settings = args.attribution.settings();
    // `--method saliency --samples N` was SmoothGrad before it had a name of its own.
    let method = match (args.method, args.attribution.samples) {
        (ExplainMethod::Saliency, Some(samples)) if samples > 1 => Some(AttributionMethod::SmoothGrad),
        (method, _) => method.attribution(),
    };
    if method.is_some_and(AttributionMethod::uses_layer) && !settings.layer.is_conv() {
        bail!("{} needs a conv layer (conv1..conv4), not {}", method.map_or("", AttributionMethod::display_name), settings.layer);
    }
    if args.save_map.is_some() && method.is_none() {
        bail!("--save-map needs an attribution method (saliency, gradcam, …), not {:?}", args.method);
    }
    if (args.faithfulness || args.sanity) && method.is_none() {
        bail!("--faithfulness and --sanity need an attribution method (saliency, gradcam, …)");
    }
    let request = match (args.method, method) {
        (_, Some(method)) => ExplainRequest::Attribute { method, class: Some(class), settings, faithfulness: args.faithfulness },
        (ExplainMethod::Featuremaps, None) => ExplainRequest::FeatureMaps {
            layer: parse_layer(args.attribution.layer, Layer::Conv2),
            normalisation: MapNormalisation::PerChannel,
        },
        (ExplainMethod::Filters, None) => ExplainRequest::Filters { layer: parse_layer(args.attribution.layer, Layer::Conv1) },
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
                let sanity = crate::engine::faithfulness::sanity_check(net, &picture, method, class, &settings, &mut report, &INTERRUPTED)
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

fn print_faithfulness(report: &crate::engine::faithfulness::FaithfulnessReport, name: &str) {
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

fn print_sanity(report: &crate::engine::faithfulness::SanityReport) {
    println!("sanity check (weights randomised from fc3 down):");
    println!("  {:<16} {:>9} {:>7}", "random down to", "Spearman", "SSIM");
    for stage in &report.stages {
        println!("  {:<16} {:>9.3} {:>7.3}", stage.randomised_down_to.name(), stage.spearman, stage.ssim);
    }
    if report.insensitive {
        println!("  warning: the map barely changes with random weights; it does not show what the network learned");
    }
}

fn explain_eval(args: ExplainEvalArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::faithfulness::score_methods;
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = load_checkpoint(&weights, default_device())?;
    let settings = args.attribution.settings();
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
    if methods.iter().any(|m| m.uses_layer()) && !settings.layer.is_conv() {
        bail!("the class activation maps need a conv layer (conv1..conv4), not {}", settings.layer);
    }
    let dataset = load_dataset_reporting(&args.data)?;
    let mut chosen = chosen_split(args.split, &checkpoint, &weights, &dataset)?;
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
    let scores = score_methods(&checkpoint.net, &images, &methods, &settings, &mut on_progress, &INTERRUPTED);
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

fn visualize_command(args: VisualizeArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::explain::{VisConfig, VisObjective, objective_of_picture, visualize};
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = load_checkpoint(&weights, default_device())?;
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
            let layer = parse_layer(args.layer, Layer::Conv2);
            let channels = crate::engine::model::layer_output_shape(layer, classes.len() as i64)[0] as usize;
            if channel >= channels {
                bail!("{layer} has {channels} channels; --channel must be below that");
            }
            VisObjective::Channel { layer, channel }
        }
        _ => bail!("give either --channel (with --layer) or --class"),
    };
    let config = VisConfig { steps: args.steps, learning_rate: args.lr, seed: args.seed, ..VisConfig::default() };
    let (picture, history) = visualize(&checkpoint.net, objective, &config, 0, &mut |_, _, _| true);
    let end = objective_of_picture(&checkpoint.net, &picture, objective);
    let start = history.first().copied().unwrap_or(0.0);
    say!(out, "objective: {start:.4} at the first step, {end:.4} at the end");
    let large = image::imageops::resize(&picture, args.size, args.size, image::imageops::FilterType::Triangle);
    save_png(&large, &args.out, out)?;
    Ok(json!({"out": args.out.display().to_string(), "objective_first_step": start, "objective_end": end, "steps": config.steps}))
}

fn atlas_build(args: AtlasBuildArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::build::AtlasFocus;
    use crate::engine::atlas::{AtlasParams, BuildEvent, Stage, build_atlas, save_atlas};
    let weights = weights_or_shipped(args.weights)?;
    let checkpoint = load_checkpoint(&weights, default_device())?;
    let dataset = open_dataset_reporting(&args.data)?;
    let layer = args.layer.0;
    let classes = &checkpoint.meta.class_names;
    let focus = match (&args.class, args.compare.as_slice()) {
        (Some(class), _) => AtlasFocus::Class { class: parse_class(class, classes)?, vectors: args.focus_vectors },
        (None, [first, second]) => {
            AtlasFocus::Compare { first: parse_class(first, classes)?, second: parse_class(second, classes)?, vectors: args.focus_vectors }
        }
        (None, []) => AtlasFocus::All,
        (None, _) => bail!("--compare takes two classes, e.g. --compare daisy,windflower"),
    };
    let params = AtlasParams {
        layer,
        samples_per_image: args.samples,
        umap: crate::engine::atlas::layout::UmapParams {
            n_neighbors: args.neighbors,
            min_dist: args.min_dist,
            epochs: args.epochs,
            seed: args.seed,
            ..Default::default()
        },
        grid_levels: args.grids.clone(),
        min_count: args.min_count,
        icon_levels: args.icon_grids.clone(),
        icons: crate::engine::atlas::icons::IconParams { steps: args.icon_steps, seed: args.seed, ..Default::default() },
        seed: args.seed,
        layout_method: if args.tsne {
            crate::engine::atlas::build::LayoutMethod::Tsne
        } else {
            crate::engine::atlas::build::LayoutMethod::Umap
        },
        paper_views: !args.no_paper_views,
        focus,
    };
    let started = std::time::Instant::now();
    let mut stage_started = std::time::Instant::now();
    let mut current: Option<Stage> = None;
    // Per stage: seconds, and the process's peak resident memory when it ended.
    let mut stage_seconds: Vec<(Stage, f64, u64)> = Vec::new();
    let mut neighbours = None;
    let bar = progress_bar(BAR);
    let peak_mb = || crate::engine::memory::peak_resident_bytes().map(crate::engine::memory::megabytes).unwrap_or(0);
    let mut on_event = |event: BuildEvent| {
        if let BuildEvent::Neighbours(report) = event {
            neighbours = Some(report);
            let recall =
                if report.sampled > 0 { format!(", recall {:.3} on {} points", report.recall, report.sampled) } else { String::new() };
            bar.suspend(|| say!(out, "  neighbours: {}{recall}", report.method));
        }
        if let BuildEvent::Stage { stage, done, total } = event {
            if current != Some(stage) {
                if let Some(previous) = current {
                    let seconds = stage_started.elapsed().as_secs_f64();
                    let peak = peak_mb();
                    stage_seconds.push((previous, seconds, peak));
                    bar.suspend(|| say!(out, "  {previous:?}: {seconds:.1} s, peak memory {peak} MB"));
                }
                current = Some(stage);
                stage_started = std::time::Instant::now();
                // A new stage: its own count and time left.
                bar.reset();
                bar.set_message(format!("{stage:?}"));
            }
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let built = build_atlas(&checkpoint, &dataset, &params, &mut on_event, &INTERRUPTED);
    bar.finish_and_clear();
    let atlas = built?;
    if let Some(stage) = current {
        let seconds = stage_started.elapsed().as_secs_f64();
        let peak = peak_mb();
        stage_seconds.push((stage, seconds, peak));
        say!(out, "  {stage:?}: {seconds:.1} s, peak memory {peak} MB");
    }
    save_atlas(&atlas, &args.out)?;
    let icons: usize = atlas.icons.iter().map(|l| l.cells.len()).sum();
    let seconds = started.elapsed().as_secs_f64();
    say!(
        out,
        "built {} vectors at {layer}, grids {:?}, {icons} icons in {seconds:.1} s; saved {}",
        atlas.collected.len(),
        args.grids,
        args.out.display()
    );
    Ok(json!({
        "out": args.out.display().to_string(),
        "layer": layer.name(),
        "vectors": atlas.collected.len(),
        "grids": args.grids,
        "icons": icons,
        "seconds": seconds,
        "peak_rss_mb": peak_mb(),
        "neighbours": neighbours,
        "stages": stage_seconds
            .iter()
            .map(|(stage, seconds, peak)| json!({"stage": format!("{stage:?}"), "seconds": seconds, "peak_rss_mb": peak}))
            .collect::<Vec<_>>(),
    }))
}

fn atlas_timeline(args: AtlasTimelineArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::timeline::{TimelineEvent, TimelineParams, build_timeline, save_timeline};
    if let Some(path) = &args.animation {
        animation_format(path)?;
    }
    let dataset = open_dataset_reporting(&args.data)?;
    let params = TimelineParams {
        layer: args.layer.0,
        samples_per_image: args.samples,
        max_points: args.max_points,
        umap: crate::engine::atlas::layout::UmapParams {
            n_neighbors: args.neighbors,
            epochs: args.epochs,
            seed: args.seed,
            ..Default::default()
        },
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let bar = progress_bar(BAR);
    let mut on_event = |event: TimelineEvent| match event {
        TimelineEvent::Frame { frame, frames, epoch } => {
            bar.reset();
            bar.set_message(format!("epoch {epoch} ({}/{frames})", frame + 1));
        }
        TimelineEvent::Photos { done, total } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        TimelineEvent::FrameDone { frame, movement } => {
            bar.suspend(|| say!(out, "  frame {}: points moved {movement:.3} of the plot on average", frame + 1));
        }
    };
    let built = build_timeline(&args.run, &dataset, params, args.every, &mut on_event, &INTERRUPTED);
    bar.finish_and_clear();
    let timeline = built?;
    save_timeline(&timeline, &args.out)?;
    let seconds = started.elapsed().as_secs_f64();
    say!(out, "{} frames of {} points in {seconds:.1} s; saved {}", timeline.frames.len(), timeline.len(), args.out.display());
    let animation = match &args.animation {
        Some(path) => Some(write_animation(&timeline, path, &AnimationArgs { size: 640, tween: 4, frame_ms: 80, atlas_grid: None }, out)?),
        None => None,
    };
    let movements = timeline.movements();
    Ok(json!({
        "out": args.out.display().to_string(),
        "frames": timeline.frames.iter().zip(&movements).map(|(f, movement)| json!({
            "epoch": f.epoch, "checkpoint": f.checkpoint, "validation_accuracy": f.validation_accuracy, "movement": movement,
        })).collect::<Vec<_>>(),
        "points": timeline.len(),
        "seconds": seconds,
        "animation": animation,
    }))
}

fn atlas_timeline_export(args: AtlasTimelineExportArgs, out: Output) -> Result<serde_json::Value> {
    animation_format(&args.out)?;
    let timeline = crate::engine::atlas::timeline::load_timeline(&args.timeline)?;
    write_animation(&timeline, &args.out, &args.animation, out)
}

fn animation_format(path: &Path) -> Result<crate::engine::atlas::animation::AnimationFormat> {
    crate::engine::atlas::animation::AnimationFormat::of(path)
        .ok_or_else(|| anyhow::anyhow!("{}: an animation is written as .gif or .png (APNG)", path.display()))
}

fn write_animation(
    timeline: &crate::engine::atlas::timeline::Timeline,
    path: &Path,
    args: &AnimationArgs,
    out: Output,
) -> Result<serde_json::Value> {
    use crate::engine::atlas::animation::{AnimationOptions, Captions, export_animation};
    if !(16..=2048).contains(&args.size) {
        bail!("--size must be between 16 and 2048 pixels");
    }
    if args.atlas_grid.is_some_and(|grid| !(2..=100).contains(&grid)) {
        bail!("--atlas-grid must be between 2 and 100 cells");
    }
    if args.atlas_grid.is_some() && !timeline.has_patches() {
        bail!("this timeline keeps no photo patches (it was made by an older version); make it again to draw it as an atlas");
    }
    let options = AnimationOptions {
        size_px: args.size,
        tween: args.tween.min(30),
        frame_ms: args.frame_ms.clamp(10, 10_000),
        atlas_grid: args.atlas_grid,
        ..Default::default()
    };
    let font = crate::resources::label_font();
    let names = display_names(&timeline.class_names);
    let captions = font.as_ref().map(|font| Captions { font, names: &names });
    let pictures = export_animation(timeline, path, &options, captions.as_ref()).map_err(|e| anyhow::anyhow!(e))?;
    say!(out, "wrote {} ({pictures} pictures, {} checkpoints)", path.display(), timeline.frames.len());
    Ok(json!({"animation": path.display().to_string(), "pictures": pictures, "frames": timeline.frames.len()}))
}

fn atlas_export(args: AtlasExportArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::export::ExportOptions;
    let atlas = crate::engine::atlas::load_atlas(&args.atlas)?;
    if !(16..=8192).contains(&args.size) {
        bail!("--size must be between 16 and 8192 pixels");
    }
    let options = ExportOptions { size_px: args.size, grid: args.grid, grid_lines: args.grid_lines, class_colours: args.labels };
    let levels: Vec<u16> = atlas.levels.iter().map(|l| l.size).collect();
    let font = args.labels.then(crate::resources::label_font).flatten();
    if args.labels && font.is_none() {
        eprintln!("note: no font with Chinese glyphs found; drawing colour marks without names");
    }
    let names = display_names(&atlas.meta.class_names);
    let labels = font.as_ref().map(|font| crate::engine::atlas::export::Labels { font, names: &names });
    let picture = crate::engine::atlas::export::render_atlas_labelled(&atlas, &options, labels.as_ref())
        .with_context(|| format!("the atlas has no {} grid (it has {levels:?})", args.grid))?;
    save_png(&picture, &args.png, out)?;
    Ok(json!({"out": args.png.display().to_string(), "size": args.size, "grid": args.grid, "labels": labels.is_some()}))
}

/// "向日葵 sunflower" where a description file names the class, else the class name.
fn display_names(class_names: &[String]) -> Vec<String> {
    // The user's own descriptions first, as the window picks them.
    let descriptions = crate::descriptions::find_for_classes(&crate::descriptions::description_dirs(), class_names).0;
    class_names
        .iter()
        .map(|id| match descriptions.as_ref().and_then(|d| d.get(id)).map(|d| d.name_zh.clone()).filter(|n| !n.is_empty()) {
            Some(zh) => format!("{zh} {id}"),
            None => id.clone(),
        })
        .collect()
}

fn atlas_place(args: AtlasPlaceArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::place_image;
    let atlas = crate::engine::atlas::load_atlas(&args.atlas)?;
    // The recorded model, else (a portable atlas records only its file name) a shipped model of
    // that name.
    let recorded = atlas.meta.model_path.clone();
    let weights = args.weights.unwrap_or_else(|| {
        let shipped = recorded.file_name().and_then(|name| resources::find_resource(&Path::new("weights").join(name)));
        if recorded.is_file() { recorded.clone() } else { shipped.unwrap_or(recorded.clone()) }
    });
    let checkpoint = load_checkpoint(&weights, default_device())?;
    if checkpoint.fingerprint != atlas.meta.model_fingerprint {
        bail!("{} is not the model this atlas was built from", weights.display());
    }
    let namer = ClassNamer::new(&args.names, &atlas.meta.class_names)?;
    let mut results = Vec::new();
    let mut failures = 0;
    for path in &args.images {
        // One unreadable picture is reported and the others are still placed.
        let image = match load_network_image(path) {
            Ok(image) => image,
            Err(error) => {
                failures += 1;
                eprintln!("error: {error}");
                results.push(json!({"image": path.display().to_string(), "error": error.to_string()}));
                continue;
            }
        };
        let placement = place_image(&checkpoint.net, &atlas, &image, 5);
        let class = &atlas.meta.class_names[placement.predicted_class];
        let name = namer.name(placement.predicted_class);
        if !out.json {
            println!(
                "{}: at ({:.3}, {:.3}), predicted {name} ({:.1}%), {} vectors",
                path.display(),
                placement.centre[0],
                placement.centre[1],
                placement.confidence * 100.0,
                placement.points.len()
            );
        }
        results.push(json!({"image": path.display().to_string(), "centre": placement.centre, "points": placement.points, "class": class, "name": name, "confidence": placement.confidence}));
    }
    let result = json!({"atlas": args.atlas.display().to_string(), "results": results});
    if failures > 0 {
        let message = format!("{failures} of {} pictures could not be read", args.images.len());
        return Err(PartlyDone { result, message }.into());
    }
    Ok(result)
}

fn atlas_info(args: AtlasInfoArgs, out: Output) -> Result<serde_json::Value> {
    let atlas = crate::engine::atlas::load_atlas(&args.atlas)?;
    let meta = &atlas.meta;
    let fidelity = crate::engine::atlas::fidelity::level_fidelity(&atlas);
    let levels: Vec<serde_json::Value> = atlas
        .levels
        .iter()
        .map(|level| {
            let icons = atlas.icons_of(level.size).map_or(0, |i| i.cells.len());
            let mut entry = json!({"grid": level.size, "cells": level.cells.len(), "icons": icons});
            if let Some(f) = fidelity.iter().find(|f| f.grid == level.size) {
                entry["icon_cosine_median"] = json!(f.icon_cosine_median);
                entry["icon_cosine_min"] = json!(f.icon_cosine_min);
                entry["icon_saturation_mean"] = json!(f.icon_saturation_mean);
                entry["patch_saturation_mean"] = json!(f.patch_saturation_mean);
                entry["icon_patch_colour_distance"] = json!(f.icon_patch_colour_distance);
            }
            entry
        })
        .collect();
    let images = atlas.images.as_ref().map(|i| json!({"count": i.len(), "bytes": i.jpeg.len()}));
    let info = json!({
        "layer": atlas.collected.layer.name(),
        "vectors": atlas.collected.len(),
        "dim": atlas.collected.dim,
        "classes": meta.class_names,
        "levels": levels,
        "params": meta.params,
        "model": {"file": meta.model_path.display().to_string(), "fingerprint": meta.model_fingerprint},
        "dataset": meta.dataset,
        "embedded_images": images,
        "paper_views": atlas.mosaic.is_some() && atlas.distribution.is_some(),
        "created_at": meta.created_at,
        "format_version": meta.format_version,
        "focus": meta.params.focus,
        "colours": meta.colours,
    });
    if out.json {
        return Ok(info);
    }
    println!(
        "{}: {} vectors of {} at {} ({} classes)",
        args.atlas.display(),
        atlas.collected.len(),
        atlas.collected.dim,
        atlas.collected.layer,
        meta.class_names.len()
    );
    for level in &levels {
        print!("  grid {}x{}: {} cells, {} icons", level["grid"], level["grid"], level["cells"], level["icons"]);
        if let Some(cosine) = level["icon_cosine_median"].as_f64() {
            print!(", centre cosine median {cosine:.3}");
        }
        if let Some(cosine) = level["icon_cosine_min"].as_f64() {
            print!(" (lowest {cosine:.3})");
        }
        if let Some(saturation) = level["icon_saturation_mean"].as_f64() {
            print!(", icon saturation {saturation:.3}");
        }
        if let (Some(patches), Some(distance)) = (level["patch_saturation_mean"].as_f64(), level["icon_patch_colour_distance"].as_f64()) {
            print!(" (real patches {patches:.3}; hue/saturation distance {distance:.3})");
        }
        println!();
    }
    match &atlas.images {
        Some(images) => {
            println!("  embedded images: {} ({:.1} MB): patches show without the data set", images.len(), images.jpeg.len() as f64 / 1e6)
        }
        None => println!("  no embedded images: patches are read from {}", meta.data_dir.display()),
    }
    if let Some(dataset) = &meta.dataset {
        let total: usize = dataset.class_counts.iter().sum();
        println!("  data set: {} ({total} images, file list sha256 {})", dataset.name, dataset.files_sha256);
    }
    println!("  model: {} (fingerprint {})", meta.model_path.display(), meta.model_fingerprint);
    println!("  built {}", meta.created_at);
    Ok(info)
}

fn atlas_embed(args: AtlasEmbedArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::embedded::{DatasetProvenance, EmbeddedImages};
    let mut atlas = crate::engine::atlas::load_atlas(&args.atlas)?;
    if let Some(data) = &args.data {
        // Image paths as recorded, found again under the folder given.
        let count = atlas.meta.image_paths.len();
        let old_root = atlas.meta.data_dir.clone();
        let files: Vec<PathBuf> = (0..count)
            .map(|i| {
                let recorded = atlas.meta.image_file(i).unwrap_or_default();
                data.join(crate::engine::atlas::embedded::relative_to(&recorded, &old_root))
            })
            .collect();
        let mut images = Vec::with_capacity(count);
        for file in &files {
            images.push(load_network_image(file).with_context(|| format!("{} is one of the atlas's images", file.display()))?);
        }
        atlas.images = Some(EmbeddedImages::encode(&images));
        let labels: Vec<usize> = {
            // Each image's label, from any of its vectors.
            let mut labels = vec![0; count];
            for (image, label) in atlas.collected.image.iter().zip(&atlas.collected.label) {
                labels[*image as usize] = *label as usize;
            }
            labels
        };
        atlas.meta.dataset = Some(DatasetProvenance::of(data, &files, &labels, atlas.meta.class_names.len()));
        atlas.meta.data_dir = std::path::absolute(data).unwrap_or(data.clone());
        atlas.meta.image_paths = files.iter().map(|f| crate::engine::atlas::embedded::relative_to(f, data)).collect();
        atlas.meta.format_version = atlas.meta.format_version.max(2);
    } else if atlas.images.is_none() {
        bail!("{} has no embedded images: give --data with the folder it was built from", args.atlas.display());
    }
    if args.portable {
        atlas.meta.make_portable();
    }
    let written = args.out.unwrap_or(args.atlas);
    crate::engine::atlas::save_atlas(&atlas, &written)?;
    let images = atlas.images.as_ref().map_or(0, |i| i.len());
    say!(out, "wrote {} with {images} embedded images", written.display());
    Ok(json!({"out": written.display().to_string(), "embedded_images": images, "portable": args.portable}))
}

/// Patches written by `atlas cell`, as the window shows them.
const CELL_PATCHES: usize = 24;

fn atlas_cell(args: AtlasCellArgs, out: Output) -> Result<serde_json::Value> {
    let atlas = crate::engine::atlas::load_atlas(&args.atlas)?;
    let grids: Vec<u16> = atlas.levels.iter().map(|l| l.size).collect();
    let level = atlas.level(args.grid).with_context(|| format!("the atlas has no {} grid (it has {grids:?})", args.grid))?;
    let cell = match (&args.cell, args.rank) {
        (Some(at), _) => {
            let parts: Vec<u16> = at
                .split(',')
                .map(|p| p.trim().parse::<u16>())
                .collect::<Result<_, _>>()
                .with_context(|| format!("--cell takes X,Y, not '{at}'"))?;
            let [x, y] = parts[..] else { bail!("--cell takes X,Y, not '{at}'") };
            level.cell_at(x, y).with_context(|| format!("cell ({x}, {y}) of the {} grid is empty or outside it", args.grid))?
        }
        (None, Some(rank)) => {
            let mut by_count: Vec<&crate::engine::atlas::cells::Cell> = level.cells.iter().collect();
            by_count.sort_by(|a, b| b.count.cmp(&a.count).then((a.y, a.x).cmp(&(b.y, b.x))));
            let count = by_count.len();
            *by_count.get(rank.wrapping_sub(1)).with_context(|| format!("--rank must be from 1 to {count}"))?
        }
        (None, None) => bail!("give --cell X,Y or --rank K"),
    };
    let names = &atlas.meta.class_names;
    let name = |class: u16| names.get(class as usize).cloned().unwrap_or_default();
    let found = crate::engine::atlas::patches::cell_patches(&atlas, &cell.members, CELL_PATCHES);
    let mut written = Vec::new();
    if let Some(dir) = &args.patches {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (i, patch) in found.patches.iter().enumerate() {
            let file = dir.join(format!("patch-{i:02}-{}.png", name(patch.label)));
            crate::engine::fsutil::write_png(&image::DynamicImage::ImageRgb8(patch.image.clone()), &file)
                .with_context(|| format!("cannot write {}", file.display()))?;
            written.push(file);
        }
    }
    let members: Vec<serde_json::Value> = cell
        .members
        .iter()
        .map(|&m| {
            let m = m as usize;
            let image = atlas.collected.image[m] as usize;
            json!({"vector": m, "image": atlas.meta.image_paths.get(image).map(|p| p.display().to_string()), "label": name(atlas.collected.label[m]), "position": atlas.collected.position[m]})
        })
        .collect();
    let top_attribution: Vec<_> = cell.top_by_attribution.iter().map(|&(c, a)| json!({"class": name(c), "attribution": a})).collect();
    let top_label: Vec<_> = cell.top_by_label.iter().map(|&(c, n)| json!({"class": name(c), "count": n})).collect();
    let info = json!({
        "grid": args.grid, "x": cell.x, "y": cell.y, "count": cell.count,
        "top_by_attribution": top_attribution, "top_by_label": top_label, "members": members,
        "patches": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "missing_images": found.missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    });
    if !out.json {
        println!("cell ({}, {}) of the {}x{} grid: {} vectors", cell.x, cell.y, args.grid, args.grid, cell.count);
        for &(class, attribution) in &cell.top_by_attribution {
            println!("  by attribution: {} {attribution:.4}", name(class));
        }
        for &(class, count) in &cell.top_by_label {
            println!("  by label: {} ({count})", name(class));
        }
        if !written.is_empty() {
            println!("  wrote {} patches to {}", written.len(), args.patches.as_deref().unwrap_or(Path::new("")).display());
        }
    }
    if !found.missing.is_empty() {
        // Say what is missing and where it was expected.
        eprintln!(
            "note: {} of the cell's images were not found, e.g. {} (the atlas has no embedded images)",
            found.missing.len(),
            found.missing[0].display()
        );
    }
    Ok(info)
}

fn data_get(args: DataGetArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::dataset_get::{FLOWERS17_URL, GetProgress, Source, get_flowers17};
    if args.name != "flowers17" {
        bail!("unknown data set '{}': the one available is flowers17", args.name);
    }
    let dir = args.dir.unwrap_or_else(|| resources::user_data_dir().join("datasets").join("flowers17"));
    let source = Source::parse(args.from.as_deref().unwrap_or(FLOWERS17_URL));
    let downloads = cache_dir().join("downloads");
    let bar = progress_bar("{msg:>12} [{bar:30}] {bytes}/{total_bytes} (ETA {eta})");
    let mut unpacking = false;
    let mut progress = |step: GetProgress| match step {
        GetProgress::Downloading { done, total } => {
            bar.set_message("downloading");
            bar.set_length(total.unwrap_or(done));
            bar.set_position(done);
        }
        GetProgress::Unpacking { done, total } => {
            if !unpacking {
                unpacking = true;
                if let Ok(style) = indicatif::ProgressStyle::with_template(BAR) {
                    bar.set_style(style.progress_chars("#>."));
                }
                bar.reset();
                bar.set_message("sorting images");
            }
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let got = get_flowers17(&source, &dir, &downloads, &mut progress, &INTERRUPTED);
    bar.finish_and_clear();
    let images = got?;
    say!(out, "flowers17: {images} images in 17 class folders under {}", dir.display());
    Ok(json!({"name": "flowers17", "dir": dir.display().to_string(), "images": images}))
}

fn checkpoint_portable(args: CheckpointPortableArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::embedded::DatasetProvenance;
    let mut checkpoint = load_checkpoint(&args.weights, default_device())?;
    // Atlases are checked before anything is written.
    let atlases = atlases_built_from(&checkpoint, &args.atlas)?;
    if let Some(data) = &args.data {
        let classes = crate::engine::data::scan_folder(data)?;
        let names: Vec<String> = classes.iter().map(|(name, _)| name.clone()).collect();
        if names != checkpoint.meta.class_names {
            bail!("{} has the classes {names:?}, not the model's {:?}", data.display(), checkpoint.meta.class_names);
        }
        let (paths, labels): (Vec<PathBuf>, Vec<usize>) =
            classes.iter().enumerate().flat_map(|(label, (_, files))| files.iter().map(move |f| (f.clone(), label))).unzip();
        checkpoint.meta.dataset = Some(DatasetProvenance::of(data, &paths, &labels, names.len()));
    }
    checkpoint.meta.make_portable();
    // The same tensors, new metadata: a new fingerprint for the same weights.
    let after = crate::engine::checkpoint::save_checkpoint(&checkpoint.net, &checkpoint.meta, &args.weights)?;
    let updated = restamp_atlases(atlases, &after, out)?;
    say!(out, "wrote {} (fingerprint {after})", args.weights.display());
    Ok(json!({"weights": args.weights.display().to_string(), "fingerprint": after, "updated_atlases": updated}))
}

/// The atlases at `paths`, loaded, refused unless every one was built from `checkpoint`.
fn atlases_built_from<'p>(
    checkpoint: &crate::engine::checkpoint::Checkpoint,
    paths: &'p [PathBuf],
) -> Result<Vec<(&'p PathBuf, crate::engine::atlas::Atlas)>> {
    paths
        .iter()
        .map(|path| {
            let atlas = crate::engine::atlas::load_atlas(path)?;
            if atlas.meta.model_fingerprint != checkpoint.fingerprint {
                bail!("{} was not built from {}", path.display(), checkpoint.path.display());
            }
            Ok((path, atlas))
        })
        .collect()
}

/// Records the checkpoint's new `fingerprint` (same tensors, new metadata) in `atlases` and saves
/// them; returns their paths.
fn restamp_atlases(atlases: Vec<(&PathBuf, crate::engine::atlas::Atlas)>, fingerprint: &str, out: Output) -> Result<Vec<String>> {
    let mut updated = Vec::new();
    for (path, mut atlas) in atlases {
        atlas.meta.model_fingerprint = fingerprint.to_string();
        crate::engine::atlas::save_atlas(&atlas, path)?;
        say!(out, "updated {}", path.display());
        updated.push(path.display().to_string());
    }
    Ok(updated)
}

/// The report at `path`, refused unless it cross-validated `recipe` (the recipe of `whose`), or
/// with `any_seed` the same recipe with any seed: a report of another recipe says nothing of this one.
fn report_of_recipe(
    path: &Path,
    recipe: &TrainConfig,
    whose: &str,
    any_seed: bool,
) -> Result<crate::engine::cross_validation::CrossValidationReport> {
    let report = crate::engine::cross_validation::read_report(path).map_err(|message| anyhow!(message))?;
    let expected = TrainConfig { seed: if any_seed { report.recipe.seed } else { recipe.seed }, ..recipe.clone() };
    if report.recipe != expected {
        bail!(
            "{} cross-validated another recipe:\n  it: {}\n  {whose}: {}",
            path.display(),
            serde_json::to_string(&report.recipe)?,
            serde_json::to_string(recipe)?
        );
    }
    Ok(report)
}

/// The summary of the cross-validation report at `path`, which must be of `recipe` itself.
fn cross_validation_of_recipe(
    path: &Path,
    recipe: &TrainConfig,
    whose: &str,
) -> Result<crate::engine::cross_validation::CrossValidationSummary> {
    Ok(report_of_recipe(path, recipe, whose, false)?.summary)
}

/// The reports at `paths` pooled: the first must cross-validate `recipe` itself, the others the
/// same recipe with other seeds (other folds and starts), each seed once. With `recorded` (the
/// estimate of `recipe` itself, from its own seed) every report must have another seed.
fn pooled_cross_validations_of_recipe(
    paths: &[PathBuf],
    recipe: &TrainConfig,
    whose: &str,
    recorded: Option<crate::engine::cross_validation::CrossValidationSummary>,
) -> Result<crate::engine::cross_validation::CrossValidationSummary> {
    let mut summaries = Vec::with_capacity(paths.len() + 1);
    let mut seeds = Vec::with_capacity(paths.len() + 1);
    if let Some(recorded) = recorded {
        summaries.push(recorded);
        seeds.push(recipe.seed);
    }
    for path in paths {
        // The first of the recipe's estimates must have its own seed; the rest any other.
        let report = report_of_recipe(path, recipe, whose, !summaries.is_empty())?;
        if seeds.contains(&report.recipe.seed) {
            bail!("{} repeats seed {}: a repeat needs its own seed, so its folds and starts differ", path.display(), report.recipe.seed);
        }
        seeds.push(report.recipe.seed);
        summaries.push(report.summary);
    }
    // One report pools to its own summary; none is refused by `pooled`.
    crate::engine::cross_validation::pooled(&summaries).map_err(|message| anyhow!(message))
}

fn checkpoint_record_cross_validation(args: CheckpointRecordArgs, out: Output) -> Result<serde_json::Value> {
    let mut checkpoint = load_checkpoint(&args.weights, default_device())?;
    let Some(trained_with) = checkpoint.meta.training.as_ref().map(TrainConfig::recipe_only) else {
        bail!("{} does not record how it was trained, so no report can be matched to it", args.weights.display());
    };
    let whose = args.weights.display().to_string();
    let recorded = match (&checkpoint.meta.cross_validation, args.keep_recorded) {
        (_, false) => None,
        (None, true) => bail!("{whose} records no cross-validation to keep"),
        // Its repeats' seeds are not recorded, so a report could be counted twice.
        (Some(recorded), true) if recorded.repeats > 1 => {
            bail!("{whose} already records {} pooled cross-validations; pool their reports instead", recorded.repeats)
        }
        (Some(recorded), true) => Some(recorded.clone()),
    };
    let summary = pooled_cross_validations_of_recipe(&args.report, &trained_with, &whose, recorded)?;
    let atlases = atlases_built_from(&checkpoint, &args.atlas)?;
    let line =
        format!("{}-fold estimate {:.1}% ± {:.1}%", summary.folds_label("x"), summary.mean_accuracy * 100.0, summary.sd_accuracy * 100.0);
    checkpoint.meta.cross_validation = Some(summary);
    let fingerprint = crate::engine::checkpoint::save_checkpoint(&checkpoint.net, &checkpoint.meta, &args.weights)?;
    let updated = restamp_atlases(atlases, &fingerprint, out)?;
    say!(out, "recorded the {line} in {} (fingerprint {fingerprint})", args.weights.display());
    Ok(json!({"weights": args.weights.display().to_string(), "fingerprint": fingerprint, "updated_atlases": updated}))
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

/// Display names for a model's classes under `--names`; the class ids otherwise.
struct ClassNamer {
    names: Vec<String>,
}

impl ClassNamer {
    fn new(args: &NamesArgs, class_ids: &[String]) -> Result<ClassNamer> {
        if !args.names {
            return Ok(ClassNamer { names: class_ids.to_vec() });
        }
        let set = match &args.descriptions {
            Some(file) => Some(crate::descriptions::DescriptionSet::load(file)?),
            None => crate::descriptions::find_for_classes(&crate::descriptions::description_dirs(), class_ids).0,
        };
        let chinese = locale_is_chinese();
        let names = class_ids
            .iter()
            .map(|id| set.as_ref().and_then(|set| set.name_of(id, chinese).or_else(|| set.name_of(id, !chinese))).unwrap_or(id).to_string())
            .collect();
        Ok(ClassNamer { names })
    }

    fn name(&self, index: usize) -> &str {
        self.names.get(index).map_or("?", String::as_str)
    }
}

/// Whether the user's locale asks for Chinese (LC_ALL, else LC_MESSAGES, else LANG).
fn locale_is_chinese() -> bool {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
        .is_some_and(|value| value.starts_with("zh"))
}

fn descriptions_init(args: DescriptionsInitArgs, out: Output) -> Result<serde_json::Value> {
    use crate::descriptions::DescriptionFile;
    let checkpoint = load_checkpoint(&args.weights, default_device())?;
    let name = checkpoint
        .meta
        .dataset
        .as_ref()
        .map(|d| d.name.clone())
        .or_else(|| args.weights.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let classes = &checkpoint.meta.class_names;
    let template = DescriptionFile::template(&name, classes);
    let text = toml::to_string_pretty(&template)?;
    match &args.out {
        Some(path) => {
            if path.exists() {
                bail!("{} already exists; it is not replaced (check it with `descriptions check`)", path.display());
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            crate::engine::fsutil::write_atomically(path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
            say!(out, "wrote {} with {} classes to fill in", path.display(), classes.len());
        }
        None if !out.json => print!("{text}"),
        None => {}
    }
    Ok(json!({"out": args.out.map(|p| p.display().to_string()), "classes": classes, "toml": text}))
}

fn descriptions_check(args: DescriptionsCheckArgs, out: Output) -> Result<serde_json::Value> {
    let checkpoint = load_checkpoint(&args.weights, default_device())?;
    let set = crate::descriptions::DescriptionSet::load(&args.file)?;
    let classes = &checkpoint.meta.class_names;
    let check = set.check(classes);
    say!(out, "{}: {} of the model's {} classes described", args.file.display(), classes.len() - check.missing.len(), classes.len());
    for (what, ids) in [("missing", &check.missing), ("unknown to the model", &check.unknown), ("without both names", &check.incomplete)] {
        if !ids.is_empty() {
            say!(out, "  {what}: {}", ids.join(", "));
        }
    }
    let result = json!({"file": args.file.display().to_string(), "classes": classes.len(), "missing": check.missing, "unknown": check.unknown, "incomplete": check.incomplete});
    if !check.missing.is_empty() || !check.unknown.is_empty() {
        let message = format!("{} classes missing, {} unknown", check.missing.len(), check.unknown.len());
        return Err(PartlyDone { result, message }.into());
    }
    Ok(result)
}
