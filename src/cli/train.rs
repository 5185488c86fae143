//! `train` and `cross-validate`: the training recipe as flags, and the runs.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::json;

use super::checkpoint::cross_validation_of_recipe;
use super::common::{BAR, INTERRUPTED, Output, PartlyDone, load_dataset_reporting, open_dataset_reporting, progress_bar};
use crate::engine::checkpoint::save_network;
use crate::engine::data::{StoredDataset, cache_dir};
use crate::engine::model::default_device;
use crate::engine::network::import::{LoadedNetwork, load_network};
use crate::engine::recipe::{PretrainedStart, TransferMode};
use crate::engine::train::{Augmentation, LrSchedule, Mixing, TrainConfig, TrainEvent, TrainOutcome, train};
use crate::engine::transfer::{Features, backbone_features, load_backbone};

/// What transfer learning trains of a pretrained network.
#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum ModeArg {
    /// A new last layer only, on the network's features computed once (seconds).
    Linear,
    /// Also the network's last --unfreeze blocks, on augmented photos (minutes).
    Finetune,
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
    #[arg(long, default_value_t = TrainConfig::default().validation_fraction)]
    pub validation_fraction: f64,
    /// Save a checkpoint every this many epochs.
    #[arg(long, default_value_t = TrainConfig::default().checkpoint_every)]
    pub checkpoint_every: u32,
    /// How many epoch checkpoints to keep (best.safetensors is kept besides).
    #[arg(long, default_value_t = TrainConfig::default().keep_last)]
    pub keep_last: usize,
    /// Continue from this checkpoint of the run (its weights and epoch).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// A cross-validation report (from `cross-validate`) of this same recipe: its mean and spread
    /// are recorded in the final checkpoint.
    #[arg(long)]
    pub cross_validation: Option<PathBuf>,
}

/// The settings that decide how the network learns (shared by `train` and `cross-validate`);
/// their defaults are `TrainConfig::default()`'s, as the window's form starts from.
#[derive(Args, Debug, Clone)]
pub struct RecipeArgs {
    /// Start from a pretrained network instead of the paper's network from scratch: one that
    /// ships with the app (efficientnet-lite0, trained on ImageNet), or the checkpoint of a
    /// network imported with `model import` (an EfficientNet-Lite0 or ResNet).
    #[arg(long)]
    pub from_pretrained: Option<String>,
    /// With --from-pretrained: what is trained of it.
    #[arg(long, value_enum, default_value_t = ModeArg::Linear)]
    pub mode: ModeArg,
    /// With --mode finetune: how many of the network's last blocks are trained (its head
    /// convolution counts as one).
    #[arg(long, default_value_t = crate::engine::recipe::DEFAULT_UNFREEZE)]
    pub unfreeze: u32,
    /// Epochs to train (in total, when resuming) [default: 10; 40 passes over the features for
    /// a linear head; 8 to fine-tune].
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Images per optimiser step [default: 64; 32 to fine-tune].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adam learning rate [default: 0.001; 0.0003 to fine-tune].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning-rate schedule [default: constant; cosine to fine-tune].
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleArg>,
    /// Warm-up epochs for the cosine schedule.
    #[arg(long, default_value_t = 0)]
    pub warmup_epochs: u32,
    /// Epochs between learning-rate drops for the step schedule.
    #[arg(long, default_value_t = 10)]
    pub step_epochs: u32,
    /// Factor of each learning-rate drop for the step schedule.
    #[arg(long, default_value_t = 0.1)]
    pub step_gamma: f64,
    /// Decoupled weight decay (AdamW); 0 is plain Adam [default: 0; 0.01 for a linear head].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Turn on the standard augmentation (flip, crop to >= 50% area, colour jitter 0.2);
    /// fine-tuning has it on, with crops down to 25%.
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
    #[arg(long, default_value_t = TrainConfig::default().augmentation.random_erasing)]
    pub random_erasing: f64,
    /// Label smoothing ε (0 = off) [default: 0; 0.1 for a linear head].
    #[arg(long)]
    pub label_smoothing: Option<f64>,
    /// Mixup α: blend pairs of images and labels (0 = off).
    #[arg(long, default_value_t = TrainConfig::default().mixing.mixup_alpha)]
    pub mixup: f64,
    /// CutMix α: paste a box of one image into another (0 = off; with --mixup, half the batches).
    #[arg(long, default_value_t = TrainConfig::default().mixing.cutmix_alpha)]
    pub cutmix: f64,
    /// Evaluate and save a moving average of the weights with this decay per step (0 = off).
    #[arg(long, default_value_t = TrainConfig::default().ema_decay)]
    pub ema: f64,
    /// Seed for initialisation, split, shuffling and augmentation.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
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

pub(super) fn recipe_config(recipe: &RecipeArgs, data: &Path) -> TrainConfig {
    // A pretrained start has defaults of its own where a flag is not given.
    let base = match (&recipe.from_pretrained, recipe.mode) {
        (Some(backbone), ModeArg::Linear) => crate::engine::recipe::linear_head_recipe(backbone),
        (Some(backbone), ModeArg::Finetune) => crate::engine::recipe::finetune_recipe(backbone, recipe.unfreeze),
        (None, _) => TrainConfig::default(),
    };
    let mut augmentation = if recipe.augment { Augmentation::STANDARD } else { base.augmentation };
    augmentation.horizontal_flip |= recipe.flip;
    if let Some(area) = recipe.crop_min_area {
        augmentation.crop_min_area = area;
    }
    if let Some(jitter) = recipe.colour_jitter {
        augmentation.colour_jitter = jitter;
    }
    augmentation.random_erasing = recipe.random_erasing;
    TrainConfig {
        epochs: recipe.epochs.unwrap_or(base.epochs),
        batch_size: recipe.batch_size.unwrap_or(base.batch_size),
        learning_rate: recipe.lr.unwrap_or(base.learning_rate),
        lr_schedule: match recipe.schedule {
            None => base.lr_schedule,
            Some(ScheduleArg::Constant) => LrSchedule::Constant,
            Some(ScheduleArg::Cosine) => LrSchedule::Cosine { warmup_epochs: recipe.warmup_epochs },
            Some(ScheduleArg::Step) => LrSchedule::Step { every_epochs: recipe.step_epochs, gamma: recipe.step_gamma },
        },
        weight_decay: recipe.weight_decay.unwrap_or(base.weight_decay),
        augmentation,
        label_smoothing: recipe.label_smoothing.unwrap_or(base.label_smoothing),
        mixing: Mixing { mixup_alpha: recipe.mixup, cutmix_alpha: recipe.cutmix },
        ema_decay: recipe.ema,
        seed: recipe.seed,
        // Absolute, so the window finds the folder again from any working directory.
        data_dir: Some(std::path::absolute(data).unwrap_or_else(|_| data.to_path_buf())),
        checkpoint_every: base.checkpoint_every,
        ..base
    }
}

pub(super) fn train_config(args: &TrainArgs) -> TrainConfig {
    TrainConfig {
        validation_fraction: args.validation_fraction,
        checkpoint_every: args.checkpoint_every,
        keep_last: args.keep_last,
        ..recipe_config(&args.recipe, &args.data)
    }
}

type Transfer = (LoadedNetwork, StoredDataset, Option<Features>);

/// A pretrained start: its network, the photos read at its input size and their features
/// (from the cache where they are there; not needed to resume a fine-tuning), with progress.
fn prepare_transfer(args: &TrainArgs, pretrained: &PretrainedStart, device: tch::Device) -> Result<Transfer> {
    crate::engine::transfer::check_supported(pretrained)?;
    if args.resume.is_some() && pretrained.mode == TransferMode::Linear {
        anyhow::bail!("--resume continues a run that trains the network; a linear head trains in seconds, so run it again instead");
    }
    let backbone = load_backbone(&pretrained.backbone, device)?;
    let photos = open_dataset_reporting(&args.data, backbone.net.spec().input_size)?;
    let features = if args.resume.is_none() { Some(features_reporting(&backbone, &photos)?) } else { None };
    Ok((backbone, photos, features))
}

/// The backbone's features of `photos`, with a progress bar and a line on what they cost.
fn features_reporting(backbone: &LoadedNetwork, photos: &StoredDataset) -> Result<Features> {
    let started = std::time::Instant::now();
    let bar = progress_bar(BAR);
    bar.set_message("features");
    let features = backbone_features(
        backbone,
        photos,
        Some(&cache_dir()),
        &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
        &INTERRUPTED,
    )?;
    bar.finish_and_clear();
    eprintln!(
        "features of {} photos from {} in {:.1} s ({} from the cache, which keeps {} bytes a photo)",
        photos.labels.len(),
        backbone.net.spec().architecture.display_name(),
        started.elapsed().as_secs_f64(),
        features.cached,
        features.cache_bytes_per_photo()
    );
    Ok(features)
}

pub(super) fn train_command(args: TrainArgs, out: Output) -> Result<serde_json::Value> {
    let config = train_config(&args);
    // Checked before any photo is read: a report of another recipe says nothing of this one.
    let cross_validation = match &args.cross_validation {
        Some(path) => Some(cross_validation_of_recipe(path, &config.recipe_only(), "this run")?),
        None => None,
    };
    let device = default_device();
    let started = std::time::Instant::now();
    // A pretrained start reads the photos at its network's size and trains on its features.
    let transfer = match &config.pretrained {
        Some(pretrained) => Some(prepare_transfer(&args, pretrained, device)?),
        None => None,
    };
    let dataset = if transfer.is_none() { Some(load_dataset_reporting(&args.data)?) } else { None };
    let bar = progress_bar(BAR);
    let mut on_event = |event: TrainEvent| match event {
        TrainEvent::Started { train_images, validation_images, first_epoch, epochs, .. } => eprintln!(
            "training on {} ({train_images} train / {validation_images} validation images), epochs {first_epoch}..={epochs}",
            crate::engine::precision::device_and_precision(device)
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
    let outcome = match (&transfer, &dataset) {
        (Some((backbone, photos, Some(features))), _) if !config.fine_tunes() => {
            crate::engine::transfer::train_linear(backbone, photos, features, &config, &args.out, &INTERRUPTED, &mut on_event)
        }
        (Some((backbone, photos, features)), _) => crate::engine::finetune::train_finetune(
            backbone,
            photos,
            features.as_ref(),
            &config,
            &args.out,
            args.resume.as_deref(),
            &INTERRUPTED,
            &mut on_event,
        ),
        (None, Some(dataset)) => train(dataset, &config, &args.out, args.resume.as_deref(), device, &INTERRUPTED, &mut on_event),
        (None, None) => unreachable!("one of the two is read above"),
    };
    bar.finish_and_clear();
    match outcome? {
        TrainOutcome::Finished { best, last, history } => {
            if let (Some(summary), Some(last)) = (cross_validation, &last) {
                let mut model = load_network(last, device)?;
                model.meta.cross_validation = Some(summary);
                save_network(model.net.var_store(), &model.meta, last)?;
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

/// `cross-validate --from-pretrained`: the features once, then per fold a head trained on the
/// others' features (linear) or a fine-tuning run on the others' photos (in `out/fold-N`); the report is written as the paper network's is, so `train --cross-validation`
/// records it in the final model.
fn cross_validate_transfer(
    args: &CrossValidateArgs,
    recipe: &TrainConfig,
    pretrained: &PretrainedStart,
    out: Output,
) -> Result<serde_json::Value> {
    use crate::engine::cross_validation::{CrossValidationReport, FoldResult, REPORT_FILE};
    use crate::engine::cv_summary::{CrossValidationSummary, mean_and_sd};
    crate::engine::transfer::check_supported(pretrained)?;
    let started = std::time::Instant::now();
    let backbone = load_backbone(&pretrained.backbone, default_device())?;
    let photos = open_dataset_reporting(&args.data, backbone.net.spec().input_size)?;
    let features = features_reporting(&backbone, &photos)?;
    let labels = photos.labels.clone();
    let accuracies = if recipe.fine_tunes() {
        let mut on_epoch = |fold: u32, record: &crate::engine::train::EpochRecord| print_fold_epoch(fold, record);
        crate::engine::finetune::cross_validate_finetune(
            &backbone,
            &photos,
            &features,
            recipe,
            args.folds,
            &args.out,
            &INTERRUPTED,
            &mut on_epoch,
        )?
    } else {
        crate::engine::transfer::cross_validate_linear(&features, &labels, &photos.class_names, recipe, args.folds, &INTERRUPTED)?
    };
    let (mean_accuracy, sd_accuracy) = mean_and_sd(&accuracies);
    let fold_of = crate::engine::data::stratified_folds(&labels, args.folds, recipe.seed);
    let results = accuracies
        .iter()
        .enumerate()
        .map(|(fold, &accuracy)| FoldResult {
            fold: fold as u32,
            held_out_images: fold_of.iter().filter(|&&f| f == fold as u32).count(),
            accuracy,
            loss: 0.0,
            views_accuracy: None,
            seconds: 0.0,
        })
        .collect();
    let summary = CrossValidationSummary {
        folds: args.folds,
        repeats: 1,
        images: labels.len(),
        mean_accuracy,
        sd_accuracy,
        fold_accuracies: accuracies.clone(),
        views: None,
    };
    let report =
        CrossValidationReport { recipe: recipe.recipe_only(), summary, results, created_at: crate::engine::fsutil::utc_timestamp_now() };
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join(REPORT_FILE);
    crate::engine::fsutil::write_atomically(&path, &serde_json::to_vec_pretty(&report)?)?;
    let seconds = started.elapsed().as_secs_f64();
    say!(
        out,
        "RESULT {}-fold cross-validation accuracy {:.4} ± {:.4} (folds: {}) in {seconds:.0} s, features included; report {}",
        args.folds,
        mean_accuracy,
        sd_accuracy,
        accuracies.iter().map(|a| format!("{a:.4}")).collect::<Vec<_>>().join(", "),
        path.display()
    );
    Ok(serde_json::to_value(&report)?)
}

/// One line on stderr per epoch of a fold, for the paper's network and a fine-tuning alike.
fn print_fold_epoch(fold: u32, record: &crate::engine::train::EpochRecord) {
    eprintln!(
        "fold {} epoch {:>3}  train loss {:.4} acc {:.3}  held-out acc {:.3}  {:.1}s",
        fold + 1,
        record.epoch,
        record.train_loss,
        record.train_accuracy,
        record.validation_accuracy,
        record.duration_secs
    );
}

pub(super) fn cross_validate_command(args: CrossValidateArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::cross_validation::{CrossValidationEvent, cross_validate};
    let recipe = recipe_config(&args.recipe, &args.data);
    if let Some(pretrained) = &recipe.pretrained {
        return cross_validate_transfer(&args, &recipe, pretrained, out);
    }
    let dataset = load_dataset_reporting(&args.data)?;
    let device = default_device();
    // Each fold running at once trains on its share of the CPU threads (see cross_validate).
    let parallel = args.parallel.clamp(1, args.folds.max(1) as usize);
    eprintln!(
        "{}-fold cross-validation of {} photos on {}, {parallel} fold(s) at a time",
        args.folds,
        dataset.len(),
        crate::engine::precision::device_and_precision(device)
    );
    let started = std::time::Instant::now();
    let on_event = |event: CrossValidationEvent| match event {
        CrossValidationEvent::FoldStarted { fold, resumed_at_epoch: 0 } => eprintln!("fold {} started", fold + 1),
        CrossValidationEvent::FoldStarted { fold, resumed_at_epoch } => {
            eprintln!("fold {} continues after epoch {resumed_at_epoch}", fold + 1)
        }
        CrossValidationEvent::Epoch { fold, record } if !out.json => print_fold_epoch(fold, &record),
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
