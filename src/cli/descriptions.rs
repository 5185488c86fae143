//! `descriptions …`: a template of class names and introductions for a model, and its check.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;

use super::common::{Output, PartlyDone};
use crate::engine::checkpoint::load_checkpoint;
use crate::engine::model::default_device;

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

pub(super) fn descriptions_init(args: DescriptionsInitArgs, out: Output) -> Result<serde_json::Value> {
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

pub(super) fn descriptions_check(args: DescriptionsCheckArgs, out: Output) -> Result<serde_json::Value> {
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
