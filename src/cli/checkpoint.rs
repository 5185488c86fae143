//! `checkpoint …`: make a checkpoint portable, record the cross-validation of its recipe.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::json;

use super::common::Output;
use crate::engine::checkpoint::save_network;
use crate::engine::model::default_device;
use crate::engine::network::import::{LoadedNetwork, load_network};
use crate::engine::train::TrainConfig;

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

pub(super) fn checkpoint_portable(args: CheckpointPortableArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::embedded::DatasetProvenance;
    let mut checkpoint = load_network(&args.weights, default_device())?;
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
    let after = save_network(checkpoint.net.var_store(), &checkpoint.meta, &args.weights)?;
    let updated = restamp_atlases(atlases, &after, out)?;
    say!(out, "wrote {} (fingerprint {after})", args.weights.display());
    Ok(json!({"weights": args.weights.display().to_string(), "fingerprint": after, "updated_atlases": updated}))
}

/// The atlases at `paths`, loaded, refused unless every one was built from `checkpoint`.
pub(super) fn atlases_built_from<'p>(
    checkpoint: &LoadedNetwork,
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
pub(super) fn restamp_atlases(
    atlases: Vec<(&PathBuf, crate::engine::atlas::Atlas)>,
    fingerprint: &str,
    out: Output,
) -> Result<Vec<String>> {
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
pub(super) fn report_of_recipe(
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
pub(super) fn cross_validation_of_recipe(
    path: &Path,
    recipe: &TrainConfig,
    whose: &str,
) -> Result<crate::engine::cross_validation::CrossValidationSummary> {
    Ok(report_of_recipe(path, recipe, whose, false)?.summary)
}

/// The reports at `paths` pooled: the first must cross-validate `recipe` itself, the others the
/// same recipe with other seeds (other folds and starts), each seed once. With `recorded` (the
/// estimate of `recipe` itself, from its own seed) every report must have another seed.
pub(super) fn pooled_cross_validations_of_recipe(
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

pub(super) fn checkpoint_record_cross_validation(args: CheckpointRecordArgs, out: Output) -> Result<serde_json::Value> {
    let mut checkpoint = load_network(&args.weights, default_device())?;
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
    let fingerprint = save_network(checkpoint.net.var_store(), &checkpoint.meta, &args.weights)?;
    let updated = restamp_atlases(atlases, &fingerprint, out)?;
    say!(out, "recorded the {line} in {} (fingerprint {fingerprint})", args.weights.display());
    Ok(json!({"weights": args.weights.display().to_string(), "fingerprint": fingerprint, "updated_atlases": updated}))
}
