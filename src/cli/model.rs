//! `model import`: a PyTorch state dict of a known architecture becomes a checkpoint of ours.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::common::{Output, weights_or_shipped};
use crate::engine::network::Architecture;
use crate::engine::network::import::import_network;

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Import a PyTorch state dict (`torch.save` zip or legacy file, or .safetensors) of a known
    /// architecture as a checkpoint (.safetensors + .json sidecar) every command and the window
    /// read. The file is only read for its tensors; nothing in it runs.
    Import(ModelImportArgs),
    /// The layers of a model: name, kind, output shape, stride and receptive field, the names
    /// `--layer` takes.
    Layers(ModelLayersArgs),
}

#[derive(Args, Debug)]
pub struct ModelLayersArgs {
    /// Model weights (.safetensors with its sidecar); defaults to the shipped flower model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
}

/// The architectures a state dict can be imported as.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ArchArg {
    #[value(name = "efficientnet-lite0")]
    EfficientNetLite0,
    Resnet18,
    Resnet50,
}

impl From<ArchArg> for Architecture {
    fn from(arch: ArchArg) -> Architecture {
        match arch {
            ArchArg::EfficientNetLite0 => Architecture::EfficientNetLite0,
            ArchArg::Resnet18 => Architecture::ResNet18,
            ArchArg::Resnet50 => Architecture::ResNet50,
        }
    }
}

#[derive(Args, Debug)]
pub struct ModelImportArgs {
    /// The state dict (.pth, .pt, .bin or .safetensors).
    pub file: PathBuf,
    /// Its architecture (EfficientNet-Lite0 in the efficientnet_pytorch naming; ResNet in
    /// torchvision's).
    #[arg(long, value_enum)]
    pub arch: ArchArg,
    /// Class names, one per line, in the order of the network's outputs (default: the ImageNet
    /// names for a 1000-class network, else "class N").
    #[arg(long)]
    pub classes: Option<PathBuf>,
    /// The checkpoint to write (.safetensors; the sidecar goes beside it).
    #[arg(long)]
    pub out: PathBuf,
}

pub(super) fn model_layers(args: ModelLayersArgs, out: Output) -> Result<serde_json::Value> {
    let weights = weights_or_shipped(args.weights)?;
    let loaded = crate::engine::network::import::load_network(&weights, crate::engine::model::default_device())?;
    let spec = loaded.net.spec();
    say!(out, "{} at {} x {}", spec.architecture.display_name(), spec.input_size, spec.input_size);
    say!(out, "  {:<10} {:<8} {:>16} {:>7} {:>16}", "layer", "kind", "output", "stride", "receptive field");
    for layer in &spec.layers {
        let shape = layer.shape.iter().map(i64::to_string).collect::<Vec<_>>().join(" x ");
        let kind = format!("{:?}", layer.kind).to_lowercase();
        let (stride, field) =
            if layer.is_spatial() { (layer.stride.to_string(), layer.receptive_field.to_string()) } else { ("-".into(), "-".into()) };
        say!(out, "  {:<10} {:<8} {:>16} {:>7} {:>16}", layer.name, kind, shape, stride, field);
    }
    Ok(json!({"architecture": spec.architecture.name(), "input_size": spec.input_size, "layers": spec.layers}))
}

pub(super) fn model_import(args: ModelImportArgs, out: Output) -> Result<serde_json::Value> {
    if args.out.extension().is_none_or(|ext| ext != "safetensors") {
        return Err(anyhow!("--out must end in .safetensors (the sidecar is written beside it as .json): {}", args.out.display()));
    }
    let architecture = Architecture::from(args.arch);
    let summary = import_network(&args.file, architecture, args.classes.as_deref(), &args.out)?;
    say!(
        out,
        "imported {} as {} ({} classes, {} tensors) into {}",
        args.file.display(),
        architecture.display_name(),
        summary.classes,
        summary.tensors,
        summary.out.display()
    );
    Ok(json!(summary))
}
