//! The command line: the same engine as the window, for scripts, tests and benchmarks. One file
//! per command family, each holding its arguments beside the code that runs them; this file only
//! declares the commands and dispatches.

/// `println!` for people, moved to stderr under `--json`.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        if $out.json { eprintln!($($arg)*) } else { println!($($arg)*) }
    };
}

mod atlas;
mod checkpoint;
mod classify;
mod common;
mod data;
mod descriptions;
mod explain;
mod model;
mod train;

use anyhow::Result;
use atlas::{
    AtlasCommand, atlas_build, atlas_cell, atlas_embed, atlas_export, atlas_info, atlas_place, atlas_timeline, atlas_timeline_export,
};
use checkpoint::{CheckpointCommand, checkpoint_portable, checkpoint_record_cross_validation};
use clap::{Parser, Subcommand};
use classify::{ClassifyArgs, EvaluateArgs, MistakesArgs, classify, evaluate, mistakes_command};
pub use common::{INTERRUPTED_EXIT_CODE, Output, interrupted};
use common::{PartlyDone, stop_on_ctrl_c};
use data::{DataCommand, data_get};
use descriptions::{DescriptionsCommand, descriptions_check, descriptions_init};
use explain::{ExplainArgs, ExplainEvalArgs, VisualizeArgs, explain, explain_eval, visualize_command};
use model::{ModelCommand, model_import, model_layers};
use serde_json::json;
use std::path::PathBuf;
use train::{CrossValidateArgs, TrainArgs, cross_validate_command, train_command};

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
    /// Arithmetic of convolutions and matrix products: bf16 (bfloat16, float32 everywhere else)
    /// where the CPU has native bfloat16 (AMX or AVX512-BF16), fp32 always, or auto (bf16 where
    /// the CPU has it). Commands only; the window has its own setting.
    #[arg(long, global = true, default_value = "auto", value_parser = parse_precision)]
    pub precision: crate::engine::precision::Precision,
}

fn parse_precision(text: &str) -> Result<crate::engine::precision::Precision, String> {
    crate::engine::precision::Precision::from_name(text).ok_or_else(|| format!("'{text}' is not fp32, bf16 or auto"))
}

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
    /// Networks of other architectures: import a PyTorch state dict.
    #[command(subcommand)]
    Model(ModelCommand),
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
        Command::Model(ModelCommand::Import(_)) => "model import",
        Command::Model(ModelCommand::Layers(_)) => "model layers",
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
        Command::Model(ModelCommand::Import(args)) => model_import(args, out),
        Command::Model(ModelCommand::Layers(args)) => model_layers(args, out),
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
        Ok(result) => json!({"command": command, "ok": true, "result": result, "precision": crate::engine::precision::describe()}),
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
