//! `train` and `cross-validate`: the training recipe as flags, and the runs.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::json;

use super::checkpoint::cross_validation_of_recipe;
use super::common::{BAR, INTERRUPTED, Output, PartlyDone, load_dataset_reporting, progress_bar};
use crate::engine::checkpoint::{load_checkpoint, save_checkpoint};
use crate::engine::model::{default_device, device_name};
use crate::engine::train::{Augmentation, LrSchedule, Mixing, TrainConfig, TrainEvent, TrainOutcome, train};

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
    /// Epochs to train (in total, when resuming).
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub epochs: u32,
    /// Images per optimiser step.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
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
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
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
    #[arg(long, default_value_t = TrainConfig::default().augmentation.random_erasing)]
    pub random_erasing: f64,
    /// Label smoothing ε (0 = off).
    #[arg(long, default_value_t = TrainConfig::default().label_smoothing)]
    pub label_smoothing: f64,
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

pub(super) fn train_config(args: &TrainArgs) -> TrainConfig {
    TrainConfig {
        validation_fraction: args.validation_fraction,
        checkpoint_every: args.checkpoint_every,
        keep_last: args.keep_last,
        ..recipe_config(&args.recipe, &args.data)
    }
}

pub(super) fn train_command(args: TrainArgs, out: Output) -> Result<serde_json::Value> {
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

pub(super) fn cross_validate_command(args: CrossValidateArgs, out: Output) -> Result<serde_json::Value> {
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
